// The seed program of nt.nn: a SimpleNet printed and run as in PyTorch, then a PyTorch-style
// training loop as the PyTorch tutorials write it (TensorDataset, a shuffling DataLoader of batches
// of 32, CrossEntropyLoss, Adam) on synthetic MNIST-shaped data.
// Run with `npx tsx examples/simple-net.ts`.
import * as nt from '../lib';

const { nn, F, optim } = nt;
const { TensorDataset, DataLoader } = nt.utils.data;

class SimpleNet extends nn.Module {
  fc1 = new nn.Linear(3, 5);
  fc2 = new nn.Linear(5, 2);
  forward(x: nt.Tensor): nt.Tensor {
    return this.fc2(F.relu(this.fc1(x)));
  }
}

nt.manualSeed(0);
const net = new SimpleNet();
console.log(net);
console.log('output:', net(nt.tensor([0.1, 0.2, 0.3])).toString());

// ---- training on MNIST-shaped data ----

/**
 * n images of 28x28 pixels: noise in [0, 0.5), plus 0.3 on a band of rows whose
 * position is the label (band k covers rows 2.8k..2.8(k+1)), so a small MLP can learn it.
 */
function syntheticMnist(n: number): [nt.Tensor, nt.Tensor] {
  return nt.tidy(() => {
    const labels = nt.randint(0, 10, [n]);
    const band = nt.arange(0, 28).div(2.8).floor();                         // [28]: the label each row belongs to
    const rows = band.unsqueeze(0).eq(labels.to('float32').unsqueeze(1));   // [n, 28]
    const images = nt.rand([n, 28, 28]).mul(0.5).add(rows.to('float32').unsqueeze(2).mul(0.3));
    return [images, labels];
  });
}

const [xTrain, yTrain] = syntheticMnist(2000);
const [xTest, yTest] = syntheticMnist(500);

const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10));
const criterion = new nn.CrossEntropyLoss();
const optimizer = new optim.Adam(model.parameters(), 1e-3);
const trainLoader = new DataLoader(new TensorDataset(xTrain, yTrain), { batchSize: 32, shuffle: true });

function accuracy(x: nt.Tensor, y: nt.Tensor): number {
  return nt.tidy(() => nt.noGrad(() => model(x).argmax(1).eq(y).float().mean().itemNumber()));
}

for (let epoch = 1; epoch <= 2; epoch++) {
  model.train();
  let runningLoss = 0;
  for (const [inputs, labels] of trainLoader) {
    runningLoss += nt.tidy(() => {
      optimizer.zeroGrad();
      const loss = criterion(model(inputs), labels);
      loss.backward();
      optimizer.step();
      return loss.itemNumber();
    });
    inputs.dispose();
    labels.dispose();
  }
  model.eval();
  console.log(`epoch ${epoch}: loss ${(runningLoss / trainLoader.length).toFixed(4)}, ` +
    `train accuracy ${accuracy(xTrain, yTrain).toFixed(3)}, test accuracy ${accuracy(xTest, yTest).toFixed(3)}`);
}
