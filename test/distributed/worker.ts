// One rank of test/distributed.test.ts's jobs: `tsx worker.ts <scenario>` with RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT set. Prints one line `RESULT <json>` (or `ERROR <message>`) and exits.
import * as nt from '../../lib';
import { runScenario } from './ranks';

const { distributed: dist, nn, optim, F } = nt;
const scenario = process.argv[2];
const timeoutMs = Number(process.env.NT_TEST_TIMEOUT_MS ?? 20000);

// The tiny model the DDP scenario and the test's single-process reference both train.
export function makeNet(): nt.nn.Module {
  return new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
}
// Global batch `step`: 8 rows, rank r of 2 takes rows [4r, 4r + 4).
export function batch(step: number): [nt.Tensor, nt.Tensor] {
  const x = nt.tensor(Array.from({ length: 8 }, (_, i) => [Math.sin(i + step), Math.cos(2 * i - step), (i * step) % 3 - 1]));
  const y = nt.tensor(Array.from({ length: 8 }, (_, i) => [i % 2, (i + step) % 3 - 1]));
  return [x, y];
}

async function collectives(): Promise<unknown> {
  await dist.init({ timeoutMs });
  const rank = dist.getRank();
  const size = dist.getWorldSize();
  const out: Record<string, unknown> = { rank, size, initialized: dist.isInitialized() };
  const s = nt.tensor([rank + 1, 10 * (rank + 1)]);
  await dist.allReduce(s);
  out.sum = s.toArray();
  const m = nt.tensor([rank, -rank]);
  await dist.allReduce(m, { op: 'max' });
  out.max = m.toArray();
  const a = nt.tensor([rank + 1, 2 * rank]);
  await dist.allReduce(a, { op: 'avg' });
  out.avg = a.toArray();
  const p = nt.tensor([rank + 2]);
  await dist.allReduce(p, { op: 'product' });
  out.product = p.toArray();
  const b = nt.tensor([[rank, rank], [rank, rank]]);
  await dist.broadcast(b, { src: 1 });
  out.broadcast = b.toArray();
  out.allGather = (await dist.allGather(nt.tensor([rank, rank * rank + 1]))).map((t) => t.toArray());
  const rs = nt.zeros([2]);
  await dist.reduceScatter(rs, [nt.tensor([1, 2]).mul(rank + 1), nt.tensor([3, 4]).mul(rank + 1)]);
  out.reduceScatter = rs.toArray();
  if (rank === 0) {
    await dist.send(nt.tensor([7, 8, 9]), 1);
    const r = nt.zeros([2]);
    out.recvFrom = await dist.recv(r, { src: 1, tag: 3 });
    out.recv = r.toArray();
  } else {
    const r = nt.zeros([3]);
    out.recvFrom = await dist.recv(r);
    out.recv = r.toArray();
    await dist.send(nt.tensor([5, 6]), { dst: 0, tag: 3 });
  }
  const g = await dist.newGroup([1]);
  out.subgroup = g === null ? null : { rank: g.rank(), size: g.size(), ranks: g.ranks };
  if (g) {
    const t = nt.tensor([3]);
    await dist.allReduce(t, { group: g });
    out.subgroupSum = t.toArray();
  }
  await dist.barrier();
  await dist.destroy();
  out.initializedAfterDestroy = dist.isInitialized();
  return out;
}

// DDP: `steps` SGD steps; the last two steps accumulate two half batches under noSync first.
async function ddp(): Promise<unknown> {
  await dist.init({ timeoutMs });
  const rank = dist.getRank();
  nt.manualSeed(100 + rank); // different on each rank: DDP's broadcast must make them equal
  const net = makeNet();
  const model = new nn.DistributedDataParallel(net, { bucketCapMb: 16 / (1024 * 1024) });
  const initial = Object.fromEntries(Object.entries(model.module.stateDict()).map(([k, v]) => [k, v.toArray()]));
  const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
  const steps = Number(process.env.NT_DDP_STEPS ?? 4);
  for (let step = 0; step < steps; step++) {
    const [x, y] = batch(step);
    const xs = x.slice(0, 4 * rank, 4 * rank + 4);
    const ys = y.slice(0, 4 * rank, 4 * rank + 4);
    opt.zeroGrad();
    if (step >= steps - 2) {
      // gradient accumulation: two micro-batches of 2 rows; only the second backward averages
      model.noSync(() => F.mseLoss(model.forward(xs.slice(0, 0, 2)) as nt.Tensor, ys.slice(0, 0, 2)).div(2).backward());
      F.mseLoss(model.forward(xs.slice(0, 2, 4)) as nt.Tensor, ys.slice(0, 2, 4)).div(2).backward();
    } else {
      F.mseLoss(model.forward(xs) as nt.Tensor, ys).backward();
    }
    opt.step();
  }
  const final = Object.fromEntries(Object.entries(model.module.stateDict()).map(([k, v]) => [k, v.toArray()]));
  const info = model._reducerInfo();
  await dist.destroy();
  return { rank, initial, final, buckets: info.buckets, launchedInBackward: info.launchedInBackward, keys: Object.keys(model.stateDict()) };
}

// Rank 1 dies right after joining; rank 0's allReduce must reject within its timeout.
async function killed(): Promise<unknown> {
  await dist.init({ timeoutMs });
  if (dist.getRank() === 1) process.kill(process.pid, 'SIGKILL');
  const t = nt.tensor([1, 2, 3]);
  try {
    await dist.allReduce(t);
    return { rejected: false };
  } catch (e) {
    return { rejected: true, message: (e as Error).message };
  }
}

// Rank 1 dies after DDP's construction; rank 0's backward must throw within the timeout.
async function ddpKilled(): Promise<unknown> {
  await dist.init({ timeoutMs });
  const model = new nn.DistributedDataParallel(makeNet());
  if (dist.getRank() === 1) process.kill(process.pid, 'SIGKILL');
  const [x, y] = batch(0);
  try {
    F.mseLoss(model.forward(x) as nt.Tensor, y).backward();
    return { threw: false };
  } catch (e) {
    return { threw: true, message: (e as Error).message };
  }
}

// Only one of two ranks ever starts: init must reject within its timeout.
async function absent(): Promise<unknown> {
  try {
    await dist.init({ timeoutMs });
    return { rejected: false };
  } catch (e) {
    return { rejected: true, message: (e as Error).message };
  }
}

// Rank 0 in Node, rank 1 in Python (test/distributed/peer.py): the same calls on both sides.
async function interop(): Promise<unknown> {
  await dist.init({ timeoutMs });
  const t = nt.tensor([1, 2, 3]);
  await dist.allReduce(t);
  const b = nt.tensor([0, 0]);
  await dist.broadcast(b, { src: 1 });
  const gathered = (await dist.allGather(nt.tensor([dist.getRank() + 0.5]))).map((x) => x.toArray());
  await dist.barrier();
  await dist.destroy();
  return { allReduce: t.toArray(), broadcast: b.toArray(), allGather: gathered };
}

const scenarios: Record<string, () => Promise<unknown>> = { collectives, ddp, ddpKilled, killed, absent, interop };

if (require.main === module) runScenario(scenarios, scenario);
