// The seed CNN: Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(64, relu) ->
// Dense(10, softmax), Adam, 5 epochs on MNIST. Run with `npx tsx examples/mnist-cnn.ts`;
// QUICK=1 trains on a subset.
import * as nt from '../lib';

const { Sequential, layers, datasets } = nt;

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  let [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
  // channels-last images in [0, 1], as the Keras tutorial feeds them
  xTrain = xTrain.to('float32').div(255).reshape(-1, 28, 28, 1);
  xTest = xTest.to('float32').div(255).reshape(-1, 28, 28, 1);
  if (quick) {
    [xTrain, yTrain, xTest, yTest] = [xTrain.slice(0, 0, 4000), yTrain.slice(0, 0, 4000), xTest.slice(0, 0, 1000), yTest.slice(0, 0, 1000)];
  }
  const model = new Sequential([
    new layers.Conv2D(32, [3, 3], { activation: 'relu', inputShape: [28, 28, 1] }),
    new layers.MaxPooling2D([2, 2]),
    new layers.Flatten(),
    new layers.Dense(64, { activation: 'relu' }),
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
