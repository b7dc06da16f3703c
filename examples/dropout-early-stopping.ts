// The seed's regularised MLP: Dense(128, relu) + Dropout(0.5) on MNIST, validationSplit 0.2 and
// EarlyStopping on val_loss (patience 3) for up to 20 epochs. Run with
// `npx tsx examples/dropout-early-stopping.ts`; QUICK=1 trains on a subset.
import * as nt from '../lib';

const { Sequential, layers, callbacks, datasets } = nt;

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  const [[xTrainRaw, yTrainAll], [xTestRaw, yTest]] = await datasets.mnist.loadData();
  let xTrain = xTrainRaw.to('float32').div(255);
  let yTrain = yTrainAll;
  const xTest = xTestRaw.to('float32').div(255);
  if (quick) [xTrain, yTrain] = [xTrain.slice(0, 0, 5000), yTrain.slice(0, 0, 5000)];
  const model = new Sequential([
    new layers.Flatten({ inputShape: [28, 28] }),
    new layers.Dense(128, { activation: 'relu' }),
    new layers.Dropout(0.5),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const earlyStopping = new callbacks.EarlyStopping({ monitor: 'val_loss', patience: 3, restoreBestWeights: true, verbose: 1 });
  const history = await model.fit(xTrain, yTrain, {
    epochs: quick ? 6 : 20, batchSize: 32, validationSplit: 0.2, callbacks: [earlyStopping], verbose: quick ? 2 : 1,
  });
  console.log(`Trained ${history.epoch.length} epochs; best val_loss ${Math.min(...history.history.val_loss).toFixed(4)}`);
  const [loss, acc] = await model.evaluate(xTest, yTest, { verbose: 0 });
  console.log(`Test loss: ${loss.toFixed(4)}`);
  console.log(`Test accuracy: ${acc.toFixed(4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
