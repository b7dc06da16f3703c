// The seed program of nt.nn: a SimpleNet printed and run as in PyTorch, then a PyTorch-style
// training loop (Adam, cross-entropy, batches of 32) on synthetic MNIST-shaped data.
// Run with `npx tsx examples/simple-net.ts`.
import * as nt from '../lib';

const { nn, F, optim } = nt;

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
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
const batchSize = 32;

function accuracy(x: nt.Tensor, y: nt.Tensor): number {
  return nt.tidy(() => nt.noGrad(() => model(x).argmax(1).eq(y).to('float32').mean().item() as number));
}

for (let epoch = 1; epoch <= 2; epoch++) {
  model.train();
  // A fresh order each epoch, as a shuffling DataLoader gives.
  const order = Array.from({ length: xTrain.shape[0] }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const perm = nt.tensor(BigInt64Array.from(order, (v) => BigInt(v)));
  let lossSum = 0;
  let batches = 0;
  for (let start = 0; start < order.length; start += batchSize) {
    lossSum += nt.tidy(() => {
      const idx = perm.slice(0, start, start + batchSize);
      const xb = xTrain.indexSelect(0, idx);
      const yb = yTrain.indexSelect(0, idx);
      opt.zeroGrad();
      const loss = F.crossEntropy(model(xb), yb);
      loss.backward();
      opt.step();
      return loss.item() as number;
    });
    batches++;
  }
  perm.dispose();
  model.eval();
  console.log(`epoch ${epoch}: loss ${(lossSum / batches).toFixed(4)}, ` +
    `train accuracy ${accuracy(xTrain, yTrain).toFixed(3)}, test accuracy ${accuracy(xTest, yTest).toFixed(3)}`);
}
