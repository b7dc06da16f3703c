// Keras-style fit of the seed MLP (Flatten, Dense(128, relu), Dense(10, softmax), Adam, sparse CE,
// accuracy) for one epoch of 60,000 MNIST-shaped samples, batch 32, through the native loop.
// bench/fit.py is the same training in Python, bench/fit_tfjs.ts in TensorFlow.js. Also reports
// peak RSS and the event loop's worst lag (a 10 ms interval timer) during fit. One JSON line.
import * as nt from '../lib';
import { emit, intFlag } from './common';

const { Sequential, layers } = nt;

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined && threads !== nt.getNumThreads()) nt.setNumThreads(threads);
  const samples = intFlag('samples') ?? 60_000;
  nt.manualSeed(0);
  const x = nt.rand([samples, 28, 28]);
  const y = nt.randint(0, 10, [samples]);
  const model = new Sequential([
    new layers.Flatten({ inputShape: [28, 28] }),
    new layers.Dense(128, { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  // warm-up: a short epoch (allocator caches, the worker thread's OpenMP team)
  await model.fit(x.slice(0, 0, 1600), y.slice(0, 0, 1600), { epochs: 1, batchSize: 32, verbose: 0 });
  let lag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    last = now;
  }, 10);
  const t0 = process.hrtime.bigint();
  const h = await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  const steps = Math.ceil(samples / 32);
  emit({
    bench: 'fit', impl: 'nodetorch', threads: nt.getNumThreads(), samples, loss: h.history.loss[0],
    peakRssMiB: process.resourceUsage().maxRSS / 1024, maxLagMs: lag,
    variants: { native: { epoch: { us: (seconds * 1e6) / steps, seconds, steps } } },
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
