// Per-op overhead of nodetorch: add, matmul, sum and a 10-op autograd chain, each timed with
// results freed by nt.tidy() ("tidy") and left to the GC finalizer ("no-dispose").
// Prints one JSON line for scripts/bench.js; `--threads N` sets libtorch's intra-op threads.
import * as nt from '../lib';
import { AUTOGRAD_SIZE, CaseResult, emit, intFlag, measure, OpsCase, OPS_CASES, TIDY_BATCH, yieldToLoop, YIELD_EVERY_TENSORS } from './common';

type Variant = 'tidy' | 'no-dispose';

interface Inputs {
  a1: nt.Tensor; b1: nt.Tensor;
  m1: nt.Tensor; m2: nt.Tensor;
  big: nt.Tensor;
  x: nt.Tensor;
}

/** The autograd case: 10 ops forward, then backward. Same chain in ops.py and ops_tfjs.ts. */
function chain(x: nt.Tensor): nt.Tensor {
  return x.mul(2).add(1).tanh().exp().mul(x).sigmoid().sub(0.5).relu().square().mean();
}

function step(c: OpsCase, inp: Inputs): void {
  switch (c) {
    case 'add': inp.a1.add(inp.b1); break;
    case 'matmul': inp.m1.matmul(inp.m2); break;
    case 'sum': inp.big.sum(); break;
    case 'autograd': {
      // Dropping the old grad each step, as PyTorch's `x.grad = None`, keeps the steps identical.
      inp.x.grad = null;
      chain(inp.x).backward();
      break;
    }
  }
}

/** Tensors one step creates, to space the no-dispose loop's yields by allocations, not iterations. */
const TENSORS_PER_STEP: Record<OpsCase, number> = { add: 1, matmul: 1, sum: 1, autograd: 11 };

interface Peak { tensors: number; bytes: number }

function tidyBody(c: OpsCase, inp: Inputs): (n: number) => void {
  // A training step is one scope; a single op is batched so the scope's own cost is shared.
  const batch = c === 'autograd' ? 1 : TIDY_BATCH;
  return (n) => {
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      nt.tidy(() => {
        for (let j = 0; j < m; j++) step(c, inp);
      });
    }
  };
}

function noDisposeBody(c: OpsCase, inp: Inputs, peak: Peak): (n: number) => Promise<void> {
  const every = Math.max(1, Math.floor(YIELD_EVERY_TENSORS / TENSORS_PER_STEP[c]));
  // One native call per `every` steps; the peak shows whether finalizers keep memory bounded.
  const sample = (): void => {
    const m = nt.memory();
    if (m.tensors > peak.tensors) peak.tensors = m.tensors;
    if (m.bytes > peak.bytes) peak.bytes = m.bytes;
  };
  return async (n) => {
    for (let i = 1; i <= n; i++) {
      step(c, inp);
      if (i % every === 0) {
        sample();
        await yieldToLoop();
      }
    }
    sample();
  };
}

/**
 * Frees the previous case's garbage so each no-dispose case starts from the inputs alone and its
 * peak is its own. Needs node's --expose-gc (scripts/bench.js passes it); without it, only yields.
 */
async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let k = 0; k < 3; k++) {
    gc?.();
    await yieldToLoop(); // finalizers run after the GC, as tasks
  }
}

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined && threads !== nt.getNumThreads()) nt.setNumThreads(threads);
  nt.manualSeed(0);
  const inp: Inputs = {
    a1: nt.randn([1]), b1: nt.randn([1]),
    m1: nt.randn([64, 64]), m2: nt.randn([64, 64]),
    big: nt.randn([1_000_000]),
    x: nt.randn([AUTOGRAD_SIZE], { requiresGrad: true }),
  };
  const baseline = nt.memory();

  const variants: Record<Variant, Partial<Record<OpsCase, CaseResult>>> = { 'tidy': {}, 'no-dispose': {} };
  const peaks: Partial<Record<OpsCase, Peak>> = {};
  // tidy first: the no-dispose loops leave garbage behind that would slow later cases.
  for (const c of OPS_CASES) variants.tidy[c] = await measure(tidyBody(c, inp));
  for (const c of OPS_CASES) {
    await collectGarbage();
    const peak: Peak = { tensors: 0, bytes: 0 };
    variants['no-dispose'][c] = await measure(noDisposeBody(c, inp, peak));
    peaks[c] = { tensors: peak.tensors - baseline.tensors, bytes: peak.bytes - baseline.bytes };
  }
  await collectGarbage();

  emit({
    bench: 'ops',
    impl: 'nodetorch',
    leftAfterGc: nt.memory().tensors - baseline.tensors,
    threads: nt.getNumThreads(),
    versions: { nodetorch: nt.version.nodetorch, libtorch: nt.version.libtorch },
    variants,
    noDisposePeak: peaks,
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
