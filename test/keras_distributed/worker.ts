// One rank of test/keras_distributed.test.ts: `tsx worker.ts <scenario>` with RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT set (NT_PATH: native | autograd, NT_DIR: where callbacks write).
// Prints one line `RESULT <json>` (or `ERROR <message>`) and exits.
import * as path from 'path';
import * as nt from '../../lib';
import { runScenario } from '../distributed/ranks';
import { data, EPOCHS, Identity, makeModel, PER_RANK_BATCH, weightsOf } from './model';

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

const scenarios: Record<string, () => Promise<unknown>> = { fit, early, nonfinite, nanData };

if (require.main === module) runScenario(scenarios, scenario);
