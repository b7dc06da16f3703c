// TensorFlow.js comparison for bench/ops.ts: the same per-op cases on one backend per process
// (`--backend cpu|wasm`), so a backend that fails to load cannot take the other down.
// Prints one JSON line for scripts/bench.js; `--threads N` is passed to the wasm backend.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AUTOGRAD_SIZE, CaseResult, emit, flag, intFlag, measure, OpsCase, OPS_CASES, TIDY_BATCH } from './common';

// tfjs prints a "use tfjs-node" banner through console.warn on its first tensor; results go
// out through process.stdout.write (emit) and failures through console.error, so mute the rest.
console.log = console.warn = console.info = (): void => undefined;

/** Loads the backend or says why it could not. */
async function start(backend: string, threads: number | undefined): Promise<string | null> {
  if (backend === 'wasm') {
    // Registers the backend; the .wasm binaries come from the installed package, never the network.
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.join(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'), '..', 'dist') + '/');
    if (threads !== undefined) wasm.setThreadsCount(threads);
  } else if (backend !== 'cpu') {
    return `unknown backend '${backend}'`;
  }
  const ok = await tf.setBackend(backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend) return `tf.setBackend('${backend}') failed (backend is ${tf.getBackend()})`;
  return null;
}

/** The autograd chain of bench/ops.ts: 10 ops ending in a scalar. */
function chain(x: tf.Tensor): tf.Scalar {
  return tf.mean(tf.square(tf.relu(tf.sub(tf.sigmoid(tf.mul(tf.exp(tf.tanh(tf.add(tf.mul(x, 2), 1))), x)), 0.5))));
}

async function main(): Promise<void> {
  const backend = flag('backend') ?? 'cpu';
  const threads = intFlag('threads');
  const base = { bench: 'ops', impl: `tfjs-${backend}`, versions: { tfjs: tf.version.tfjs } };
  let failure: string | null;
  try {
    failure = await start(backend, threads);
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  }
  if (failure !== null) {
    emit({ ...base, error: failure });
    return;
  }

  const a1 = tf.randomNormal([1]);
  const b1 = tf.randomNormal([1]);
  const m1 = tf.randomNormal([64, 64]);
  const m2 = tf.randomNormal([64, 64]);
  const big = tf.randomNormal([1_000_000]);
  const x = tf.randomNormal([AUTOGRAD_SIZE]);
  const grad = tf.grad(chain);

  const steps: Record<OpsCase, () => void> = {
    add: () => tf.add(a1, b1),
    matmul: () => tf.matMul(m1, m2),
    sum: () => tf.sum(big),
    autograd: () => grad(x),
  };
  const results: Partial<Record<OpsCase, CaseResult>> = {};
  for (const c of OPS_CASES) {
    // Same scoping as nodetorch's tidy variant: a scope per training step, per 100 single ops.
    const batch = c === 'autograd' ? 1 : TIDY_BATCH;
    const step = steps[c];
    results[c] = await measure((n) => {
      for (let i = 0; i < n; i += batch) {
        const m = Math.min(batch, n - i);
        tf.tidy(() => {
          for (let j = 0; j < m; j++) step();
        });
      }
    });
  }

  const env = tf.env();
  emit({
    ...base,
    // cpu is single-threaded JavaScript; wasm threads need worker support that Node lacks here.
    threads: backend === 'wasm' && (await env.getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) ? threads ?? null : 1,
    simd: backend === 'wasm' ? await env.getAsync('WASM_HAS_SIMD_SUPPORT') : null,
    variants: { tidy: results },
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
