// Mixed precision on CPU: one fit epoch of the seed MLP and the seed CNN (examples/mnist-mlp.ts,
// examples/mnist-cnn.ts models) under the 'float32' and 'mixed_bfloat16' policies, interleaved
// round by round in this one process so both see the same machine load. MNIST-shaped random data
// (the time of an epoch does not depend on the pixels). Prints one JSON line for scripts/bench.js.
import * as os from 'os';
import * as nt from '../lib';
import { emit, intFlag } from './common';

const { layers } = nt;
type PolicyName = 'float32' | 'mixed_bfloat16';
const POLICIES: PolicyName[] = ['float32', 'mixed_bfloat16'];

function model(kind: 'mlp' | 'cnn'): nt.Sequential {
  const m = kind === 'mlp'
    ? new nt.Sequential([
      new layers.Flatten({ inputShape: [28, 28] }),
      new layers.Dense(128, { activation: 'relu' }),
      new layers.Dense(10, { activation: 'softmax' }),
    ])
    : new nt.Sequential([
      new layers.Conv2D(32, [3, 3], { activation: 'relu', inputShape: [28, 28, 1] }),
      new layers.MaxPooling2D([2, 2]),
      new layers.Flatten(),
      new layers.Dense(64, { activation: 'relu' }),
      new layers.Dense(10, { activation: 'softmax' }),
    ]);
  m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined) nt.setNumThreads(threads);
  const rounds = intFlag('rounds') ?? 3;
  const samples = { mlp: intFlag('mlp-samples') ?? 12000, cnn: intFlag('cnn-samples') ?? 3000 };
  const variants: Record<string, Record<string, { ms: number[]; samples: number }>> = {};
  for (const kind of ['mlp', 'cnn'] as const) {
    nt.manualSeed(0);
    const n = samples[kind];
    const x = kind === 'mlp' ? nt.rand([n, 28, 28]) : nt.rand([n, 28, 28, 1]);
    const y = nt.randint(0, 10, [n]);
    const models = Object.fromEntries(POLICIES.map((p) => {
      nt.mixedPrecision.setGlobalPolicy(p);
      return [p, model(kind)];
    })) as Record<PolicyName, nt.Sequential>;
    nt.mixedPrecision.setGlobalPolicy('float32');
    // warm-up epoch on a slice (thread pools, allocator)
    for (const p of POLICIES) await models[p].fit(x.slice(0, 0, 256), y.slice(0, 0, 256), { epochs: 1, batchSize: 32, verbose: 0 });
    variants[kind] = Object.fromEntries(POLICIES.map((p) => [p, { ms: [] as number[], samples: n }]));
    for (let r = 0; r < rounds; r++) {
      for (const p of r % 2 ? [...POLICIES].reverse() : POLICIES) {
        const t0 = process.hrtime.bigint();
        await models[p].fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
        variants[kind][p].ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  emit({ bench: 'mixed_precision', impl: 'nodetorch', threads: nt.getNumThreads(), loadAverage: os.loadavg(), variants });
}

main().catch((e) => {
  emit({ error: e instanceof Error ? e.message : String(e) });
  process.exitCode = 1;
});
