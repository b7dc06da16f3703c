// The Keras Tuner getting-started program: random search over the units of Dense(relu) and Adam's
// learning rate for the MNIST MLP, 5 trials of 3 executions, scored by val_accuracy.
// Run with `npx tsx examples/tuner-random-search.ts` (2 epochs per execution on all of MNIST).
// QUICK=1 searches on a 3,000-image subset for 1 epoch. The project goes to $TUNER_DIR, else the temp directory.
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';

const { Sequential, layers, optimizers, datasets, tuner } = nt;

function buildModel(hp: nt.tuner.HyperParameters): nt.Sequential {
  const model = new Sequential([
    new layers.Flatten({ inputShape: [28, 28] }),
    new layers.Dense(hp.Int('units', { minValue: 32, maxValue: 512, step: 32 }), { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.compile({
    optimizer: new optimizers.Adam(hp.Choice('learning_rate', { values: [1e-2, 1e-3, 1e-4] })),
    loss: 'sparse_categorical_crossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  let [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
  xTrain = xTrain.to('float32').div(255);
  xTest = xTest.to('float32').div(255);
  if (quick) {
    [xTrain, yTrain, xTest, yTest] = [xTrain.slice(0, 0, 3000), yTrain.slice(0, 0, 3000), xTest.slice(0, 0, 1000), yTest.slice(0, 0, 1000)];
  }

  const search = new tuner.RandomSearch(buildModel, {
    objective: 'val_accuracy',
    maxTrials: 5,
    executionsPerTrial: 3,
    seed: 4, // the same five draws every run (all three learning rates)
    overwrite: true,
    directory: process.env.TUNER_DIR ?? path.join(os.tmpdir(), 'nodetorch-tuner'),
    projectName: 'helloworld',
  });
  search.searchSpaceSummary();
  await search.search(xTrain, yTrain, { epochs: quick ? 1 : 2, validationSplit: 0.2, verbose: 2 });
  search.resultsSummary();

  const [best] = search.getBestHyperparameters();
  console.log(`Best hyperparameters: units ${best.get('units')}, learning_rate ${best.get('learning_rate')}`);
  const [model] = await search.getBestModels({ numModels: 1 });
  const [loss, acc] = await model.evaluate(xTest, yTest, { verbose: 0 });
  console.log(`Test loss: ${loss.toFixed(4)}`);
  console.log(`Test accuracy: ${acc.toFixed(4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
