// A PyTorch-style training loop in TypeScript: the seed MLP (Flatten, Linear(784, 128), ReLU,
// Dropout(0.2), Linear(128, 10)), cross-entropy, Adam, batch 32, one epoch of 60,000 MNIST-shaped
// samples; bench/train.py is the same loop in Python. Prints one JSON line for scripts/bench.js;
// `--threads N` sets libtorch's intra-op threads, `--samples N` shortens the epoch for a quick look.
import * as nt from '../lib';
import { emit, intFlag } from './common';

const { nn, F, optim } = nt;

/** Shared with bench/train.py. */
const SAMPLES = intFlag('samples') ?? 60_000;
const BATCH = 32;
const WARMUP_STEPS = 50;

function main(): void {
  const threads = intFlag('threads');
  if (threads !== undefined && threads !== nt.getNumThreads()) nt.setNumThreads(threads);
  // Both sides draw from libtorch's default generator with the same seed, so the data are identical
  // (the checksum in the output shows it).
  nt.manualSeed(0);
  const x = nt.rand([SAMPLES, 28, 28]);
  const y = nt.randint(0, 10, [SAMPLES]);
  const checksum = x.sum().item() as number;

  const model = new nn.Sequential(
    new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(128, 10));
  model.train();
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const steps = Math.floor(SAMPLES / BATCH);

  const step = (i: number): void => {
    nt.tidy(() => {
      const xb = x.slice(0, i * BATCH, (i + 1) * BATCH);
      const yb = y.slice(0, i * BATCH, (i + 1) * BATCH);
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(xb), yb);
      loss.backward();
      opt.step();
    });
  };

  // Warm-up (allocator caches, JIT), on the first batches, as the Python side does.
  for (let i = 0; i < WARMUP_STEPS; i++) step(i % steps);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) step(i);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const finalLoss = nt.tidy(() => nt.noGrad(() => F.crossEntropy(model.forward(x.slice(0, 0, 1024)), y.slice(0, 0, 1024)).item() as number));

  emit({
    bench: 'train',
    impl: 'nodetorch',
    threads: nt.getNumThreads(),
    versions: { nodetorch: nt.version.nodetorch, libtorch: nt.version.libtorch },
    samples: SAMPLES,
    batch: BATCH,
    checksum,
    finalLoss,
    variants: { tidy: { epoch: { us: (seconds * 1e6) / steps, seconds, steps } } },
  });
}

try {
  main();
} catch (e) {
  console.error(e);
  process.exit(1);
}
