// TensorFlow.js baseline for bench/fit.ts: the same seed MLP and model.fit, on the cpu or wasm
// backend (`--backend`). Both are far slower per step than libtorch, so they train on a subset
// (`--samples`, default 6,400) and the epoch time is scaled to 60,000 samples. One JSON line.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as path from 'path';
import { emit, flag, intFlag } from './common';

async function main(): Promise<void> {
  const backend = flag('backend') ?? 'cpu';
  if (backend === 'wasm') {
    setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
  }
  await tf.setBackend(backend);
  await tf.ready();
  const samples = intFlag('samples') ?? 6400;
  const x = tf.randomUniform([samples, 28, 28]);
  const y = tf.randomUniform([samples], 0, 10, 'int32').cast('float32');
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28] }),
      tf.layers.dense({ units: 128, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(x.slice(0, 320), y.slice(0, 320), { epochs: 1, batchSize: 32, verbose: 0 });
  const t0 = process.hrtime.bigint();
  await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0, shuffle: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const steps = Math.ceil(samples / 32);
  const us = (seconds * 1e6) / steps;
  emit({
    bench: 'fit', impl: `tfjs-${backend}`, samples, peakRssMiB: process.resourceUsage().maxRSS / 1024,
    variants: { [backend]: { epoch: { us, seconds: (us * 1875) / 1e6, steps } } },
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
