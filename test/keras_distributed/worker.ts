// One rank of test/keras_distributed.test.ts: `tsx worker.ts <scenario>` with RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT set (NT_PATH: native | autograd, NT_DIR: where callbacks write).
// Prints one line `RESULT <json>` (or `ERROR <message>`) and exits.
import * as path from 'path';
import * as nt from '../../lib';
import { runScenario } from '../distributed/ranks';
import { data, dataTail, EPOCHS, Identity, makeModel, PER_RANK_BATCH, weightsOf } from './model';

const scenario = process.argv[2];
const timeoutMs = Number(process.env.NT_TEST_TIMEOUT_MS ?? 20000);
const kind = (process.env.NT_PATH ?? 'native') as 'native' | 'autograd';
const dir = process.env.NT_DIR ?? '.';

// fit on 2 ranks: rank 1 starts from other weights; fit({ distributed: true }) or Keras 3's setDistribution
async function fit(): Promise<unknown> {
  await nt.distributed.init({ timeoutMs });
  const rank = nt.distributed.getRank();
  const m = makeModel(kind, 7 + rank);
  const { x, y, xv, yv } = data();
  const keras3 = process.env.NT_KERAS3 === '1';
  if (keras3) nt.distribution.setDistribution(new nt.distribution.DataParallel(nt.distribution.listDevices()));
  const h = await m.fit(x, y, {
    epochs: EPOCHS, batchSize: PER_RANK_BATCH, verbose: 0, validationData: [xv, yv], ...(keras3 ? {} : { distributed: true }),
    callbacks: [new nt.callbacks.CSVLogger(path.join(dir, `log-rank${rank}.csv`))],
  });
  const distribution = String(nt.distribution.distribution());
  await nt.distributed.destroy();
  return { rank, history: h.history, weights: weightsOf(m), distribution };
}

// EarlyStopping on rank 0 ends every rank's fit: mode 'max' on a falling loss stops after epoch 1
async function early(): Promise<unknown> {
  await nt.distributed.init({ timeoutMs });
  const rank = nt.distributed.getRank();
  const m = makeModel(kind, 7);
  const { x, y } = data();
  const h = await m.fit(x, y, {
    epochs: 10, batchSize: PER_RANK_BATCH, verbose: 0, distributed: true,
    callbacks: [new nt.callbacks.EarlyStopping({ monitor: 'loss', mode: 'max', patience: 1 }),
      new nt.callbacks.CSVLogger(path.join(dir, `log-rank${rank}.csv`))],
  });
  await nt.distributed.destroy();
  return { rank, epochs: h.epoch, losses: h.history.loss };
}

// One huge sample makes the loss infinite on the rank that draws it: both ranks finish the epoch
// (no rank left waiting in an allreduce) and both stop, with a NaN loss as TerminateOnNaN has it.
async function nonfinite(): Promise<unknown> {
  await nt.distributed.init({ timeoutMs });
  const rank = nt.distributed.getRank();
  const { x, y } = data();
  const rows = x.toArray() as number[][];
  rows[5] = [1e20, 1e20, 1e20];
  const m = new nt.Sequential([new nt.layers.Dense(1, { inputShape: [3] }), ...(kind === 'autograd' ? [new Identity()] : [])]);
  m.compile({ optimizer: 'sgd', loss: 'mse' });
  const h = await m.fit(nt.tensor(rows), y, { epochs: 3, batchSize: PER_RANK_BATCH, verbose: 0, distributed: true });
  await nt.distributed.destroy();
  return { rank, epochs: h.epoch, loss: h.history.loss.map(String) };
}

// NaN in x fails every rank's fit at once (not only the rank whose share holds it)
async function nanData(): Promise<unknown> {
  await nt.distributed.init({ timeoutMs });
  const { x, y } = data();
  const rows = x.toArray() as number[][];
  rows[5] = [NaN, 0, 0];
  const m = makeModel('native', 7);
  let error = '';
  try {
    await m.fit(nt.tensor(rows), y, { epochs: 1, batchSize: PER_RANK_BATCH, verbose: 0, distributed: true });
  } catch (e) {
    error = (e as Error).message;
  }
  await nt.distributed.destroy();
  return { error };
}

// fit from a dataset source on 2 ranks (NT_SOURCE): 'dataset' (a data.Dataset, auto-sharded), 'generator' (an iterable of
// unknown length, auto-sharded, its 5th batch dropped), 'sharded' (Dataset.shard(2, rank): left as it is, the ranks stop at
// the shorter shard) or 'optout' (DataParallel({ autoShardDataset: false }) over each rank's own unequal generator).
// Every variant trains on batches 0-3 of 4 samples, two per step, and validates on all 5 validation samples.
async function datasetFit(): Promise<unknown> {
  await nt.distributed.init({ timeoutMs });
  const rank = nt.distributed.getRank();
  const source = process.env.NT_SOURCE;
  const m = makeModel(kind, 7 + rank);
  const { x, y, xv, yv } = data();
  const extra = dataTail();
  const x20 = nt.cat([x, extra.x]);
  const y20 = nt.cat([y, extra.y]);
  const batches = (bx: nt.Tensor, by: nt.Tensor, b: number): nt.Tensor[][] =>
    Array.from({ length: Math.ceil(bx.shape[0] / b) }, (_, i) => [bx.slice(0, i * b, (i + 1) * b), by.slice(0, i * b, (i + 1) * b)]);
  const generator = (list: nt.Tensor[][], keep: (i: number) => boolean): Iterable<nt.Tensor[]> => ({
    *[Symbol.iterator]() { for (let i = 0; i < list.length; i++) if (keep(i)) yield list[i].map((t) => t.clone()); },
  });
  let pulled = 0;
  let train: unknown;
  let val: unknown;
  if (source === 'dataset') {
    train = nt.data.Dataset.fromTensorSlices([x, y]).batch(PER_RANK_BATCH);
    val = nt.data.Dataset.fromTensorSlices([xv, yv]).batch(2);
  } else if (source === 'generator') {
    nt.distribution.setDistribution(new nt.distribution.DataParallel());
    train = generator(batches(x20, y20, PER_RANK_BATCH), () => true);
    val = generator(batches(xv, yv, 2), () => true);
  } else if (source === 'sharded') {
    train = nt.data.Dataset.fromTensorSlices([x20, y20]).batch(PER_RANK_BATCH).shard(2, rank).map((el) => { pulled++; return el; });
    val = nt.data.Dataset.fromTensorSlices([xv, yv]).batch(2).shard(2, rank);
  } else {
    nt.distribution.setDistribution(new nt.distribution.DataParallel({ auto_shard_dataset: false }));
    train = generator(batches(x20, y20, PER_RANK_BATCH), (i) => i % 2 === rank);
    val = generator(batches(xv, yv, 2), (i) => i % 2 === rank);
  }
  const h = await m.fit(train as AsyncIterable<unknown>, { epochs: EPOCHS, verbose: 0, validationData: val as never,
    ...(source === 'dataset' || source === 'sharded' ? { distributed: true } : {}) });
  nt.distribution.setDistribution(null);
  await nt.distributed.destroy();
  return { rank, history: h.history, weights: weightsOf(m), pulled };
}

const scenarios: Record<string, () => Promise<unknown>> = { fit, early, nonfinite, nanData, datasetFit };

if (require.main === module) runScenario(scenarios, scenario);
