// Keras-style fit of a seed model (`--model mlp|cnn|lstm|gru`, see FIT_MODELS) through the native loop,
// batch 32: the MLP for one epoch of 60,000 MNIST-shaped samples, the CNN, LSTM and GRU for a fixed
// number of batches of their epoch (`--steps`), extrapolated to the epoch. bench/fit.py is the same
// training in Python, bench/fit_tfjs.ts in TensorFlow.js. Also reports peak RSS and the event loop's
// worst lag (a 10 ms interval timer) during fit. One JSON line.
import * as nt from '../lib';
import { emit, flag, FIT_BATCH, FIT_MODELS, fitModelFlag, fitSteps, intFlag, type FitModel } from './common';

const { Sequential, layers } = nt;

interface Spec {
  /** inputs and targets of n samples, from libtorch's generator (fit.py draws the same numbers) */
  data(n: number): [nt.Tensor, nt.Tensor];
  layers(): nt.layers.Layer[];
  loss: string;
}

/** IMDB-shaped: word indices below 10,000, 200 per review, 0/1 labels. */
const imdb = (n: number): [nt.Tensor, nt.Tensor] => [nt.randint(0, 10_000, [n, 200]), nt.randint(0, 2, [n, 1]).float()];

const SPECS: Record<FitModel, Spec> = {
  mlp: {
    data: (n) => [nt.rand([n, 28, 28]), nt.randint(0, 10, [n])],
    layers: () => [
      new layers.Flatten({ inputShape: [28, 28] }),
      new layers.Dense(128, { activation: 'relu' }),
      new layers.Dense(10, { activation: 'softmax' }),
    ],
    loss: 'sparse_categorical_crossentropy',
  },
  cnn: {
    // channels-last, as Keras feeds images; with one channel the memory is fit.py's NCHW tensor.
    data: (n) => [nt.rand([n, 28, 28, 1]), nt.randint(0, 10, [n])],
    layers: () => [
      new layers.Conv2D(32, [3, 3], { activation: 'relu', inputShape: [28, 28, 1] }),
      new layers.MaxPooling2D([2, 2]),
      new layers.Flatten(),
      new layers.Dense(64, { activation: 'relu' }),
      new layers.Dense(10, { activation: 'softmax' }),
    ],
    loss: 'sparse_categorical_crossentropy',
  },
  lstm: {
    data: imdb,
    layers: () => [
      new layers.Embedding(10_000, 128, { inputShape: [200] }),
      new layers.LSTM(128),
      new layers.Dense(1, { activation: 'sigmoid' }),
    ],
    loss: 'binary_crossentropy',
  },
  gru: {
    // the LSTM's data and shape with a GRU (Keras' resetAfter, libtorch's formula: two biases)
    data: imdb,
    layers: () => [
      new layers.Embedding(10_000, 128, { inputShape: [200] }),
      new layers.GRU(128),
      new layers.Dense(1, { activation: 'sigmoid' }),
    ],
    loss: 'binary_crossentropy',
  },
};

/**
 * `--compare functional`: the seed MLP as a Sequential and as the same Functional graph
 * (Input -> Flatten -> Dense -> Dense), each timed over the same batches, alternating runs, in one
 * process. A Functional chain of built-in layers runs the same native epoch, so they should match.
 */
async function compareFunctional(): Promise<void> {
  const samples = intFlag('samples') ?? 20_000;
  const steps = Math.ceil(samples / FIT_BATCH);
  const rounds = intFlag('rounds') ?? 3;
  nt.manualSeed(0);
  const [x, y] = SPECS.mlp.data(samples);
  const functional = (): nt.Model => {
    const inp = nt.Input({ shape: [28, 28] });
    const h = new layers.Dense(128, { activation: 'relu' })(new layers.Flatten()(inp));
    return new nt.Model({ inputs: inp, outputs: new layers.Dense(10, { activation: 'softmax' })(h) });
  };
  const models: Record<string, nt.Model> = { sequential: new Sequential(SPECS.mlp.layers()), functional: functional() };
  const best: Record<string, number> = {};
  for (const m of Object.values(models)) {
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    await m.fit(x, y, { epochs: 1, batchSize: FIT_BATCH, verbose: 0, stepsPerEpoch: FIT_MODELS.mlp.warmup });
  }
  for (let r = 0; r < rounds; r++) {
    for (const [k, m] of Object.entries(models)) {
      const t0 = process.hrtime.bigint();
      await m.fit(x, y, { epochs: 1, batchSize: FIT_BATCH, verbose: 0 });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      best[k] = Math.min(best[k] ?? Infinity, s);
    }
  }
  emit({
    bench: 'fit', model: 'mlp', compare: 'functional', impl: 'nodetorch', threads: nt.getNumThreads(), samples, steps, rounds,
    variants: Object.fromEntries(Object.entries(best).map(([k, s]) => [k, { epoch: { us: (s * 1e6) / steps, seconds: s } }])),
    functionalOverSequential: best.functional / best.sequential,
  });
}

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined && threads !== nt.getNumThreads()) nt.setNumThreads(threads);
  if (flag('compare') === 'functional') return compareFunctional();
  const name = fitModelFlag();
  const spec = SPECS[name];
  // `--adaptive off`: every batch on all threads (no timing of one thread against all), for A/B runs
  if (flag('adaptive') === 'off') nt.setAdaptiveThreads(false);
  const samples = intFlag('samples') ?? FIT_MODELS[name].samples;
  const { epochSteps, steps } = fitSteps(name, samples, intFlag('steps'));
  const warmup = intFlag('warmup') ?? FIT_MODELS[name].warmup;
  nt.manualSeed(0);
  const [x, y] = spec.data(samples);
  const model = new Sequential(spec.layers());
  model.compile({ optimizer: 'adam', loss: spec.loss, metrics: ['accuracy'] });
  // warm-up: a short epoch (allocator caches, the worker thread's OpenMP team)
  await model.fit(x, y, { epochs: 1, batchSize: FIT_BATCH, verbose: 0, stepsPerEpoch: warmup });
  let lag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    last = now;
  }, 10);
  // A whole epoch, or its first `steps` batches: same shuffle over all samples, fewer batches.
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const h = await model.fit(x, y, { epochs: 1, batchSize: FIT_BATCH, verbose: 0, stepsPerEpoch: steps });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  const us = (seconds * 1e6) / steps;
  // CPU time of the whole process per step (all threads): on a loaded machine wall time measures the
  // other processes too, while CPU time at 1 thread is close to the work itself.
  const cpuUs = (cpu.user + cpu.system) / steps;
  emit({
    bench: 'fit', model: name, impl: 'nodetorch', threads: nt.getNumThreads(), samples, warmup, loss: h.history.loss[0],
    peakRssMiB: process.resourceUsage().maxRSS / 1024, maxLagMs: lag,
    variants: { native: { epoch: { us, cpuUs, seconds: (us * epochSteps) / 1e6, steps, epochSteps, timedSeconds: seconds } } },
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
