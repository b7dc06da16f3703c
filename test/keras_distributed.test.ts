// Keras fit across processes (nt.distribution, fit({ distributed: true })): 2 ranks on 127.0.0.1
// with Gloo, each a child process killed at its deadline. Two ranks with batch size B must train
// exactly as one process with batch size 2B on DistributedSampler's order: the same weights, the
// same history (metrics and validation reduced across ranks), callbacks only on rank 0, and
// rank 0's EarlyStopping ending every rank.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { DistributedSampler } from '../lib/utils/distributed_sampler';
import { isSharded } from '../lib/data/dataset';
import { batchCount, shardBatches } from '../lib/keras/training/data_adapter';
import { data, EPOCHS, makeModel, PER_RANK_BATCH, weightsOf } from './keras_distributed/model';
import { freePort, Json, killLiveRanks, ok, RankResult, runRank } from './distributed/ranks';

const worker = path.join(__dirname, 'keras_distributed', 'worker.ts');
const tsx = require.resolve('tsx/cjs');

afterEach(killLiveRanks);

function rank(scenario: string, r: number, port: number, env: NodeJS.ProcessEnv, deadlineMs = 100_000): Promise<RankResult> {
  return runRank(process.execPath, ['--require', tsx, worker, scenario], {
    RANK: String(r), WORLD_SIZE: '2', LOCAL_RANK: String(r), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...env,
  }, deadlineMs);
}

async function job(scenario: string, env: NodeJS.ProcessEnv): Promise<Json[]> {
  const port = await freePort();
  const rs = await Promise.all([0, 1].map((r) => rank(scenario, r, port, env)));
  return rs.map(ok);
}

/** One process, batch size 2B, each epoch on DistributedSampler's order (seed 0 + epoch) for one replica. */
async function reference(kind: 'native' | 'autograd', optimizer: 'adam' | 'sgd' = 'adam'): Promise<{ history: Record<string, number[]>; weights: number[][] }> {
  const m = makeModel(kind, 7, optimizer);
  const { x, y, xv, yv } = data();
  const history: Record<string, number[]> = {};
  for (let e = 0; e < EPOCHS; e++) {
    const s = new DistributedSampler(x.shape[0], { numReplicas: 1, rank: 0, seed: 0 });
    s.setEpoch(e);
    const idx = nt.tensor(s.indices(), { dtype: 'int64' });
    const h = await m.fit(x.indexSelect(0, idx), y.indexSelect(0, idx), {
      epochs: 1, batchSize: 2 * PER_RANK_BATCH, shuffle: false, verbose: 0, validationData: [xv, yv],
    });
    for (const [k, v] of Object.entries(h.history)) (history[k] ??= []).push(...v);
  }
  return { history, weights: weightsOf(m) };
}

function expectClose(a: number[][], b: number[][], tol: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((row, i) => {
    expect(row.length).toBe(b[i].length);
    row.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThanOrEqual(tol));
  });
}

const describeGloo = nt.distributed.isGlooAvailable() ? describe : describe.skip;

/** Both ranks end with the same weights and history, equal (1e-5) to one process at twice the batch size. */
function expectRanksMatch(r0: Json, r1: Json, ref: { weights: number[][]; history: Record<string, number[]> }): void {
  expect(r1.weights).toEqual(r0.weights);
  expectClose(r0.weights, ref.weights, 1e-5);
  expect(Object.keys(r0.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
  for (const k of Object.keys(ref.history)) {
    expect(r1.history[k]).toEqual(r0.history[k]);
    expectClose([r0.history[k]], [ref.history[k]], 1e-5);
  }
}

describeGloo('Keras fit on 2 ranks (Gloo on 127.0.0.1)', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-kdist-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [kind, keras3] of [['native', false], ['autograd', true]] as const) {
    test(`${kind} step${keras3 ? ' under setDistribution(new DataParallel())' : ' with { distributed: true }'}: ` +
      'equals one process with twice the batch size; callbacks write on rank 0 only', async () => {
      const [r0, r1] = await job('fit', { NT_PATH: kind, NT_DIR: dir, NT_KERAS3: keras3 ? '1' : '0' });
      const ref = await reference(kind);
      // identical on both ranks (rank 1 began from other weights: fit broadcast rank 0's)
      expectRanksMatch(r0, r1, ref);
      expect(r0.distribution).toBe(keras3 ? 'DataParallel(devices [cpu:0])' : 'null');
      const csv = fs.readFileSync(path.join(dir, 'log-rank0.csv'), 'utf8').trim().split('\n');
      expect(csv).toHaveLength(EPOCHS + 1);
      expect(csv[0]).toBe('epoch,accuracy,loss,val_accuracy,val_loss');
      expect(fs.existsSync(path.join(dir, 'log-rank1.csv'))).toBe(false);
    }, 200_000);
  }

  test("rank 0's EarlyStopping stops both ranks after the same epoch", async () => {
    const [r0, r1] = await job('early', { NT_PATH: 'native', NT_DIR: dir });
    expect(r0.epochs).toEqual([0, 1]);
    expect(r1.epochs).toEqual([0, 1]);
    expect(r1.losses).toEqual(r0.losses);
    expect(fs.readFileSync(path.join(dir, 'log-rank0.csv'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(fs.existsSync(path.join(dir, 'log-rank1.csv'))).toBe(false);
  }, 120_000);

  test('NaN in x fails the fit on every rank with the same Error', async () => {
    const rs = await job('nanData', { NT_DIR: dir, NT_TEST_TIMEOUT_MS: '15000' });
    for (const r of rs) expect(r.error).toBe('fit: x contains NaN or infinity (first in sample 5); clean or impute the data first');
  }, 120_000);

  for (const kind of ['native', 'autograd'] as const) {
    test(`${kind} step: an infinite loss on one rank stops both after the epoch, neither left waiting`, async () => {
      const [r0, r1] = await job('nonfinite', { NT_PATH: kind, NT_DIR: dir, NT_TEST_TIMEOUT_MS: '15000' });
      expect(r0).toEqual({ rank: 0, epochs: [0], loss: ['NaN'] });
      expect(r1).toEqual({ rank: 1, epochs: [0], loss: ['NaN'] });
    }, 120_000);
  }
});

describeGloo('Keras fit from datasets on 2 ranks: auto-sharding', () => {
  // Batch i of the source goes to rank i % 2, so step k trains batches 2k and 2k + 1: one process with
  // batch size 8 on the same order (the dataset's own, no DistributedSampler), all 5 validation samples.
  async function sequentialReference(kind: 'native' | 'autograd'): Promise<{ history: Record<string, number[]>; weights: number[][] }> {
    const m = makeModel(kind, 7);
    const { x, y, xv, yv } = data();
    const h = await m.fit(x, y, { epochs: EPOCHS, batchSize: 2 * PER_RANK_BATCH, shuffle: false, verbose: 0, validationData: [xv, yv] });
    return { history: h.history, weights: weightsOf(m) };
  }

  for (const [source, kind, what] of [
    ['dataset', 'native', 'a data.Dataset is auto-sharded'],
    ['dataset', 'autograd', 'a data.Dataset is auto-sharded'],
    ['generator', 'native', 'an iterable of unknown length is auto-sharded and its uneven last round dropped on every rank'],
    ['sharded', 'autograd', 'a Dataset.shard(2, rank) source is not sharded again; the ranks stop at the shorter shard'],
    ['optout', 'native', 'DataParallel({ auto_shard_dataset: false }): unequal generators stop together, batch by batch'],
  ] as const) {
    test(`${kind} step, ${source}: ${what}; equals one process with twice the batch size`, async () => {
      const [r0, r1] = await job('datasetFit', { NT_PATH: kind, NT_SOURCE: source });
      const ref = await sequentialReference(kind);
      expectRanksMatch(r0, r1, ref);
      // the user's shards as they are: rank 0 pulls its 3 batches (the third only to find the others done), rank 1 its 2
      if (source === 'sharded') expect([r0.pulled, r1.pulled]).toEqual([3 * EPOCHS, 2 * EPOCHS]);
    }, 200_000);
  }
});

describeGloo('Keras fit under nodetorch run', () => {
  test('--max-restarts restarts the group and BackupAndRestore resumes the fit on every rank', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-kdist-run-'));
    try {
      const port = await freePort();
      const main = "require('./lib/cli').main(process.argv.slice(1)).then((c) => process.exit(c))";
      const r = await runRank(process.execPath, ['--require', tsx, '-e', main, 'run', '--nproc-per-node', '2', '--master-port', String(port),
        '--max-restarts', '1', path.join(__dirname, 'keras_distributed', 'launched.ts')], { NT_DIR: dir }, 200_000);
      const { code, stdout: out, stderr: err } = r;
      expect({ code, err }).toEqual({ code: 0, err: expect.stringContaining('nodetorch run: restarting the group (restart 1 of 1)') });
      // the first attempt finished epoch 0; the restarted group ran epochs 1 and 2 on both ranks
      expect(out).toContain('[rank0]: epochs [1,2] restart 1');
      expect(out).toContain('[rank1]: epochs [1,2] restart 1');
      const weights = (r: number) => JSON.parse(out.split('\n').find((l) => l.startsWith(`[rank${r}]: weights `))!.slice(`[rank${r}]: weights `.length));
      expect(weights(1)).toEqual(weights(0));
      expectClose(weights(0), (await reference('native', 'sgd')).weights, 1e-5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('nt.distribution (Keras 3 names)', () => {
  afterEach(() => nt.distribution.setDistribution(null));

  test('setDistribution / distribution / listDevices', () => {
    expect(nt.distribution.distribution()).toBeNull();
    const d = new nt.distribution.DataParallel();
    expect(d.devices).toEqual(nt.distribution.listDevices());
    expect(nt.distribution.listDevices('cpu')).toEqual(['cpu:0']);
    nt.distribution.setDistribution(d);
    expect(nt.distribution.distribution()).toBe(d);
    expect(new nt.distribution.DataParallel({ devices: ['cpu:0'] }).devices).toEqual(['cpu:0']);
  });

  test('DataParallel autoShardDataset: true by default, false by option (camelCase or snake_case), a boolean', () => {
    expect(new nt.distribution.DataParallel().autoShardDataset).toBe(true);
    expect(new nt.distribution.DataParallel({ autoShardDataset: false }).autoShardDataset).toBe(false);
    expect(new nt.distribution.DataParallel({ auto_shard_dataset: false }).autoShardDataset).toBe(false);
    const d = new nt.distribution.DataParallel(['cpu:0'], { autoShardDataset: false });
    expect([d.devices, d.autoShardDataset]).toEqual([['cpu:0'], false]);
    expect(() => new nt.distribution.DataParallel({ autoShardDataset: 'no' as never }))
      .toThrow("DataParallel: expected a boolean for autoShardDataset but received string 'no'");
    expect(() => new nt.distribution.DataParallel({ autoShard: false } as never)).toThrow("DataParallel: unknown option 'autoShard'");
  });

  test('Dataset.shard marks its result and everything derived from it; other datasets are unmarked', () => {
    const ds = nt.data.Dataset.range(10);
    expect(isSharded(ds)).toBe(false);
    expect(isSharded(ds.batch(2).map((b) => b).prefetch())).toBe(false);
    const sh = ds.shard(2, 1);
    expect(isSharded(sh)).toBe(true);
    for (const d of [sh.batch(2), sh.map((e) => e), sh.filter(() => true), sh.shuffle(4, { seed: 1 }), sh.take(3), sh.skip(1),
      sh.repeat(2), sh.prefetch(), sh.cache(), sh.batch(2).unbatch(), ds.concatenate(sh), nt.data.Dataset.zip([ds, sh])]) {
      expect(isSharded(d)).toBe(true);
    }
  });

  test('shardBatches: batch i to rank i % size; equal counts drop the last uneven round, validation keeps it', async () => {
    const items = (n: number): Iterable<nt.Tensor> => ({ *[Symbol.iterator]() { for (let i = 0; i < n; i++) yield nt.tensor([i]); } });
    const read = async (src: AsyncIterable<unknown>): Promise<number[]> => {
      const out: number[] = [];
      for await (const t of src) { out.push(Number((t as nt.Tensor).item())); (t as nt.Tensor).dispose(); }
      return out;
    };
    expect(await read(shardBatches(items(7), 0, 3, true))).toEqual([0, 3]);
    expect(await read(shardBatches(items(7), 2, 3, true))).toEqual([2, 5]);
    expect(await read(shardBatches(items(7), 0, 3, false))).toEqual([0, 3, 6]);
    expect(await read(shardBatches(items(7), 1, 3, false))).toEqual([1, 4]);
    expect(batchCount(shardBatches(items(7), 0, 3, true))).toBe(Infinity); // unknown length stays unknown
    // a Dataset of known size keeps its plan: shard + take, floor(7 / 3) = 2 batches on every rank
    const ds = nt.data.Dataset.range(7);
    for (const [r, equal, want] of [[0, true, [0, 3]], [1, true, [1, 4]], [0, false, [0, 3, 6]], [2, false, [2, 5]]] as const) {
      const s = shardBatches(ds, r, 3, equal);
      expect(await read(s)).toEqual(want);
      expect(batchCount(s)).toBe(want.length);
    }
  });

  test('bad input is a clear Error', async () => {
    expect(() => nt.distribution.setDistribution({} as never)).toThrow('setDistribution: expected a distribution.DataParallel or null but received');
    expect(() => nt.distribution.listDevices('tpu' as never)).toThrow("listDevices: expected deviceType 'cpu', 'gpu' or 'cuda'");
    expect(() => new nt.distribution.DataParallel([1] as never)).toThrow('DataParallel: expected devices to be an array of device names');
    const m = makeModel('native', 7);
    const { x, y } = data();
    await expect(m.fit(x, y, { distributed: 'yes' as never, verbose: 0 })).rejects.toThrow('fit: expected distributed to be a boolean');
    const saved = process.env.WORLD_SIZE;
    delete process.env.WORLD_SIZE;
    try {
      await expect(m.fit(x, y, { distributed: true, verbose: 0 })).rejects.toThrow('fit: distributed training needs a process group');
    } finally {
      if (saved !== undefined) process.env.WORLD_SIZE = saved;
    }
  });
});
