// The model served when none is given: the seed MLP of examples/mnist-mlp.ts (Flatten [28, 28] ->
// Dense 128 relu -> Dense 10 softmax), trained briefly on MNIST when asked, saved with model.save().
import * as nt from '../../lib';

export function seedMlp(): nt.Sequential {
  const { Sequential, layers } = nt;
  return new Sequential([
    new layers.Flatten({ inputShape: [28, 28] }),
    new layers.Dense(128, { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
}

/**
 * Builds the seed MLP (seeded, so every run has the same initial weights), trains it for one epoch
 * on `trainSamples` MNIST images when that is > 0, saves it into dir and returns it.
 */
export async function createSeedModel(dir: string, opts: { trainSamples?: number; log?: (msg: string) => void } = {}): Promise<nt.Sequential> {
  const log = opts.log ?? (() => undefined);
  nt.manualSeed(0);
  const model = seedMlp();
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const n = opts.trainSamples ?? 0;
  if (n > 0) {
    const [[xTrain, yTrain], [xTest, yTest]] = await nt.datasets.mnist.loadData();
    const x = xTrain.slice(0, 0, n).to('float32').div(255);
    const y = yTrain.slice(0, 0, n);
    await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
    const [, acc] = (await model.evaluate(xTest.to('float32').div(255), yTest, { verbose: 0 })) as number[];
    log(`trained the seed MLP for one epoch on ${n} MNIST images (test accuracy ${acc.toFixed(4)})`);
  } else {
    model.build();
  }
  await model.save(dir, { includeOptimizer: false });
  log(`saved the seed MLP to ${dir}`);
  return model;
}
