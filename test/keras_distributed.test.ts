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
      expect(r1.weights).toEqual(r0.weights);
      expectClose(r0.weights, ref.weights, 1e-5);
      expect(Object.keys(r0.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
      for (const k of Object.keys(ref.history)) {
        expect(r1.history[k]).toEqual(r0.history[k]);
        expectClose([r0.history[k]], [ref.history[k]], 1e-5);
      }
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
