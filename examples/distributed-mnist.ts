// Data-parallel training of the seed MLP on MNIST across processes: every rank trains on its
// DistributedSampler share of each epoch, nn.DistributedDataParallel averages the gradients during
// backward, and rank 0 reports. The PyTorch DDP tutorial's program, line for line.
//
//   npx nodetorch run --nproc-per-node 2 examples/distributed-mnist.ts        (QUICK=1: a subset)
//   python3 -m torch.distributed.run --nproc_per_node 2 --no_python npx tsx examples/distributed-mnist.ts
//
// Run alone (no RANK in the environment) it is a group of one.
import * as nt from '../lib';

const { nn, optim, F, distributed: dist } = nt;

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  await dist.init(process.env.RANK === undefined ? { worldSize: 1, rank: 0 } : { backend: 'gloo' });
  const rank = dist.getRank();
  const worldSize = dist.getWorldSize();

  const [[xTrainU8, yTrainAll], [xTestU8, yTest]] = await nt.datasets.mnist.loadData();
  const n = quick ? 12000 : xTrainU8.shape[0];
  const xTrain = xTrainU8.slice(0, 0, n).to('float32').div(255);
  const yTrain = yTrainAll.slice(0, 0, n);
  const xTest = xTestU8.to('float32').div(255);

  nt.manualSeed(rank); // DDP starts every rank from rank 0's weights whatever the seeds
  const model = new nn.DistributedDataParallel(
    new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10)));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const sampler = new nt.utils.data.DistributedSampler(xTrain.shape[0], { shuffle: true, seed: 0 });
  const batchSize = 32;
  const epochs = quick ? 1 : 3;

  for (let epoch = 0; epoch < epochs; epoch++) {
    sampler.setEpoch(epoch); // a new order each epoch, the same on every rank
    const indices = sampler.indices();
    const lossSum = nt.zeros([1]);
    model.train();
    for (let i = 0; i < indices.length; i += batchSize) {
      nt.tidy(() => {
        const idx = nt.tensor(indices.slice(i, i + batchSize), { dtype: 'int64' });
        const loss = F.crossEntropy(model.forward(xTrain.indexSelect(0, idx)) as nt.Tensor, yTrain.indexSelect(0, idx));
        opt.zeroGrad();
        loss.backward(); // gradients are averaged across ranks before this returns
        opt.step();
        lossSum.add_(loss.detach().mul(idx.shape[0]));
      });
    }
    // every rank's loss, summed on all of them
    await dist.allReduce(lossSum);
    if (rank === 0) {
      console.log(`epoch ${epoch + 1}/${epochs}: loss ${(lossSum.item() as number / (indices.length * worldSize)).toFixed(4)} ` +
        `(${worldSize} rank${worldSize > 1 ? 's' : ''}, ${indices.length} samples each)`);
    }
  }

  if (rank === 0) {
    model.eval();
    const acc = nt.noGrad(() => (model.module.forward(xTest) as nt.Tensor).argmax(1).eq(yTest).to('float32').mean().item() as number);
    console.log(`Test accuracy: ${acc.toFixed(4)}`);
  }
  await dist.barrier();
  await dist.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
