// TensorFlow.js baseline for bench/fit.ts: the same seed model (`--model mlp|cnn|lstm|gru`) as a
// tf.sequential and model.fit, on the cpu or wasm backend (`--backend`). Both are far slower per
// step than libtorch, so they train on a subset of `--steps` batches (default FIT_MODELS' tfjsSteps)
// and the time is scaled to the model's epoch. One JSON line.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as path from 'path';
import { emit, FIT_BATCH, FIT_MODELS, fitModelFlag, fitSteps, flag, intFlag, type FitModel } from './common';

interface Spec {
  data(n: number): [tf.Tensor, tf.Tensor];
  layers(): tf.layers.Layer[];
  loss: string;
}

/** The IMDB-shaped recurrent model around one recurrent layer: Embedding(10000, 128), it, Dense(1, sigmoid). */
function imdb(recurrent: () => tf.layers.Layer): Spec {
  return {
    data: (n) => [tf.randomUniform([n, 200], 0, 10_000, 'int32'), tf.randomUniform([n, 1], 0, 2, 'int32').cast('float32')],
    layers: () => [
      tf.layers.embedding({ inputDim: 10_000, outputDim: 128, inputLength: 200 }),
      recurrent(),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
    loss: 'binaryCrossentropy',
  };
}

const SPECS: Record<FitModel, Spec> = {
  mlp: {
    data: (n) => [tf.randomUniform([n, 28, 28]), tf.randomUniform([n], 0, 10, 'int32').cast('float32')],
    layers: () => [
      tf.layers.flatten({ inputShape: [28, 28] }),
      tf.layers.dense({ units: 128, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
    loss: 'sparseCategoricalCrossentropy',
  },
  cnn: {
    data: (n) => [tf.randomUniform([n, 28, 28, 1]), tf.randomUniform([n], 0, 10, 'int32').cast('float32')],
    layers: () => [
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
    loss: 'sparseCategoricalCrossentropy',
  },
  lstm: {
    ...imdb(() => tf.layers.lstm({ units: 128 })),
  },
  gru: {
    ...imdb(() => tf.layers.gru({ units: 128 })),
  },
};

async function main(): Promise<void> {
  const name = fitModelFlag();
  const spec = SPECS[name];
  const backend = flag('backend') ?? 'cpu';
  if (backend !== 'cpu' && backend !== 'wasm') throw new TypeError(`--backend: expected cpu or wasm but got '${backend}'`);
  if (backend === 'wasm') {
    setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
  }
  await tf.setBackend(backend);
  await tf.ready();
  const { epochSteps, steps } = fitSteps(name, FIT_MODELS[name].samples, intFlag('steps') ?? FIT_MODELS[name].tfjsSteps[backend]);
  // a tenth of the timed batches, at least one: kernels compile and allocate on first use
  const warmup = intFlag('warmup') ?? Math.max(1, Math.round(steps / 10));
  const [x, y] = spec.data((steps + warmup) * FIT_BATCH);
  const model = tf.sequential({ layers: spec.layers() });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: spec.loss, metrics: ['accuracy'] });
  const n = steps * FIT_BATCH;
  await model.fit(x.slice(n), y.slice(n), { epochs: 1, batchSize: FIT_BATCH, verbose: 0 });
  const t0 = process.hrtime.bigint();
  await model.fit(x.slice(0, n), y.slice(0, n), { epochs: 1, batchSize: FIT_BATCH, verbose: 0, shuffle: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const us = (seconds * 1e6) / steps;
  emit({
    bench: 'fit', model: name, impl: `tfjs-${backend}`, samples: n, warmup, peakRssMiB: process.resourceUsage().maxRSS / 1024,
    variants: { [backend]: { epoch: { us, seconds: (us * epochSteps) / 1e6, steps, epochSteps, timedSeconds: seconds } } },
  });
}

main().catch((e) => {
  // The reason scripts/bench.js shows for the cell (e.g. a kernel a backend lacks), not the stack's last line.
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }) + '\n');
  console.error(e);
  process.exit(1);
});
