// nt.distributed, nn.DistributedDataParallel, DistributedSampler and Dataset.shard. Multi-rank jobs
// run as child processes (test/distributed/worker.ts) on 127.0.0.1 with Gloo; each job is killed
// after a deadline, so no test can hang. Python peers run on /usr/bin/python3 with torch 1.13.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as nt from '../lib';
import { DistributedSampler } from '../lib/utils/distributed_sampler';
import { batch, makeNet } from './distributed/worker';
import { freePort, Json, killLiveRanks, ok, RankResult, runRank } from './distributed/ranks';

const root = path.resolve(__dirname, '..');
const worker = path.join(__dirname, 'distributed', 'worker.ts');
const tsx = require.resolve('tsx/cjs');
const PYTHON = '/usr/bin/python3';
// Debian's python3-torch 2.x is built without libuv, yet its env:// rendezvous asks for a libuv
// TCPStore unless USE_LIBUV=0 (the default became 1 in 2.4; 1.13 ignores the variable).
const PY_ENV = { USE_LIBUV: '0' };
const hasPythonTorch = fs.existsSync(PYTHON) &&
  spawnSync(PYTHON, ['-c', 'import torch.distributed as d; assert d.is_gloo_available()'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
const hasGloo = nt.distributed.isGlooAvailable();
// torchrun's own store cannot start where torch asks for libuv it was built without (Debian 13's
// python3-torch 2.6: its launcher fails for any script, Python's too); the launcher test needs one
// that starts.
const torchrunStore = hasPythonTorch ? spawnSync(PYTHON, ['-c',
  "from torch.distributed import TCPStore; from datetime import timedelta; TCPStore('127.0.0.1', 0, 1, True, timedelta(seconds=5))"],
{ encoding: 'utf8', timeout: 60_000 }) : null;
const hasTorchrun = torchrunStore?.status === 0;
if (hasPythonTorch && !hasTorchrun) {
  console.log(`${PYTHON} -m torch.distributed.run cannot start its store here (the launcher test skips): ` +
    `${String(torchrunStore?.stderr).trim().split('\n').pop()}`);
}

afterEach(killLiveRanks);

function nodeRank(scenario: string, rank: number, worldSize: number, port: number, extra: NodeJS.ProcessEnv = {},
  deadlineMs = 90_000): Promise<RankResult> {
  return runRank(process.execPath, ['--require', tsx, worker, scenario], {
    RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port), ...extra,
  }, deadlineMs);
}

async function job(scenario: string, worldSize = 2, extra: NodeJS.ProcessEnv = {}): Promise<RankResult[]> {
  const port = await freePort();
  return Promise.all(Array.from({ length: worldSize }, (_, r) => nodeRank(scenario, r, worldSize, port, extra)));
}


const describeGloo = hasGloo ? describe : describe.skip;

describeGloo('nt.distributed with 2 Node ranks (Gloo on 127.0.0.1)', () => {
  test('collectives give torch.distributed\'s values', async () => {
    const [r0, r1] = (await job('collectives')).map(ok);
    for (const [r, rank] of [[r0, 0], [r1, 1]] as const) {
      expect(r.rank).toBe(rank);
      expect(r.size).toBe(2);
      expect(r.initialized).toBe(true);
      expect(r.sum).toEqual([3, 30]);
      expect(r.max).toEqual([1, 0]);
      expect(r.avg).toEqual([1.5, 1]);
      expect(r.product).toEqual([6]);
      expect(r.broadcast).toEqual([[1, 1], [1, 1]]);
      expect(r.allGather).toEqual([[0, 1], [1, 2]]);
      expect(r.initializedAfterDestroy).toBe(false);
    }
    // inputs [1,2]*(r+1) and [3,4]*(r+1) summed over r = 0, 1: rank 0 gets 3*[1,2], rank 1 gets 3*[3,4]
    expect(r0.reduceScatter).toEqual([3, 6]);
    expect(r1.reduceScatter).toEqual([9, 12]);
    expect(r0.recv).toEqual([5, 6]);
    expect(r0.recvFrom).toBe(1);
    expect(r1.recv).toEqual([7, 8, 9]);
    expect(r1.recvFrom).toBe(0);
    expect(r0.subgroup).toBeNull();
    expect(r1.subgroup).toEqual({ rank: 0, size: 1, ranks: [1] });
    expect(r1.subgroupSum).toEqual([3]);
  });

  test('a killed rank makes the other rank\'s allReduce reject, naming the collective and the timeout', async () => {
    const [r0, r1] = await job('killed', 2, { NT_TEST_TIMEOUT_MS: '5000' });
    expect(r1.signal).toBe('SIGKILL');
    const res = ok(r0);
    expect(res.rejected).toBe(true);
    expect(res.message).toMatch(/^allReduce failed \(timeout 5000 ms; a rank died or never called allReduce\): /);
  });

  test('a rank that never arrives makes init reject within its timeout', async () => {
    const port = await freePort();
    const r0 = ok(await nodeRank('absent', 0, 2, port, { NT_TEST_TIMEOUT_MS: '2000' }));
    expect(r0.rejected).toBe(true);
    expect(r0.message).toMatch(/^init \(gloo, rank 0 of 2, store 127\.0\.0\.1:\d+, timeout 2000 ms\): /);
  });
});

describeGloo('nn.DistributedDataParallel', () => {
  test('2 ranks end with identical weights, equal to one process training on the concatenated batches', async () => {
    const [r0, r1] = (await job('ddp')).map(ok);
    expect(r0.keys[0]).toBe('module.0.weight');
    // both ranks start from rank 0's weights (they were seeded differently)
    expect(r1.initial).toEqual(r0.initial);
    expect(r1.final).toEqual(r0.final);
    // a 16-byte cap: reversed parameters in two buckets; allreduces started before backward finished
    expect(r0.buckets).toEqual([[3, 2], [1], [0]]);
    expect(r0.launchedInBackward).toBeGreaterThan(0);

    // The reference: one process, the whole batch of 8 rows, the same optimizer.
    const net = makeNet();
    net.loadStateDict(Object.fromEntries(Object.entries(r0.initial).map(([k, v]) => [k, nt.tensor(v as number[])])));
    const opt = new nt.optim.SGD(net.parameters(), { lr: 0.1 });
    const steps = 4;
    for (let step = 0; step < steps; step++) {
      const [x, y] = batch(step);
      opt.zeroGrad();
      nt.F.mseLoss((net as nt.nn.Sequential).forward(x) as nt.Tensor, y).backward();
      opt.step();
    }
    for (const [k, v] of Object.entries(net.stateDict())) {
      const got = nt.tensor(r0.final[k]);
      expect(got.sub(v).abs().max().item()).toBeLessThan(1e-5);
    }
  });

  test('a rank killed mid-training makes the other rank\'s backward throw, naming the allreduce and the timeout', async () => {
    const [r0, r1] = await job('ddpKilled', 2, { NT_TEST_TIMEOUT_MS: '5000' });
    expect(r1.signal).toBe('SIGKILL');
    const res = ok(r0);
    expect(res.threw).toBe(true);
    expect(res.message).toContain('DistributedDataParallel: gradient allReduce (bucket 0) failed (timeout 5000 ms; a rank died or never joined): ');
  });

  test('bad options are TypeErrors naming the option', () => {
    const net = makeNet();
    expect(() => new nt.nn.DistributedDataParallel(net, { bucketCapMb: -1 })).toThrow(
      'DistributedDataParallel: expected bucketCapMb to be a positive number but received number -1');
    expect(() => new nt.nn.DistributedDataParallel({} as never)).toThrow(
      'DistributedDataParallel: expected an nn.Module for module but received object');
    expect(() => new nt.nn.DistributedDataParallel(net)).toThrow(
      'defaultGroup: the default process group is not initialized: await nt.distributed.init() first');
  });
});

(hasGloo && hasPythonTorch ? describe : describe.skip)('a Node rank and a Python rank in one group', () => {
  test(`allReduce, broadcast and allGather with torch.distributed (${PYTHON})`, async () => {
    const port = await freePort();
    const env = { ...PY_ENV, RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
    const [node, py] = await Promise.all([
      nodeRank('interop', 0, 2, port),
      runRank(PYTHON, [path.join(__dirname, 'distributed', 'peer.py')], env, 90_000),
    ]);
    const n = ok(node);
    const p = ok(py);
    // the same libtorch line on both sides (1.13 here, 2.6 in the Debian 13 lane)
    expect(p.torch.split('.').slice(0, 2)).toEqual(nt.version.libtorch.split('.').slice(0, 2));
    expect(n.allReduce).toEqual([11, 22, 33]);
    expect(p.allReduce).toEqual([11, 22, 33]);
    expect(n.broadcast).toEqual([4, 5]);
    expect(p.broadcast).toEqual([4, 5]);
    expect(n.allGather).toEqual([[0.5], [1.5]]);
    expect(p.allGather).toEqual([[0.5], [1.5]]);
  });
});

const launched = path.join(__dirname, 'distributed', 'launched.ts');
function launcher(args: string[], env: NodeJS.ProcessEnv = {}, deadlineMs = 150_000): Promise<RankResult> {
  const main = "require('./lib/cli').main(process.argv.slice(1)).then((c) => process.exit(c))";
  return runRank(process.execPath, ['--require', tsx, '-e', main, 'run', ...args], env, deadlineMs);
}
const sumsLine = (out: string, rank: number): string | undefined =>
  out.split('\n').find((l) => l.startsWith(`[rank${rank}]: sums `));

describeGloo('nodetorch run', () => {
  test('starts 2 ranks with torchrun\'s variables and prefixes their output', async () => {
    const port = await freePort();
    const r = await launcher(['--nproc-per-node', '2', '--master-port', String(port), launched]);
    expect(r.code).toBe(0);
    expect(sumsLine(r.stdout, 0)).toBe('[rank0]: sums [2,4,6] restart 0 world 2 local 0');
    expect(sumsLine(r.stdout, 1)).toBe('[rank1]: sums [2,4,6] restart 0 world 2 local 1');
  });

  test('a failing rank stops the others and its status is the exit status', async () => {
    const port = await freePort();
    const r = await launcher(['--nproc_per_node=2', `--master_port=${port}`, launched], { NT_FAIL_AT: '1' });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('[rank1]: failing at epoch 1');
    expect(r.stderr).toContain('nodetorch run: rank 1 exited with status 3; stopping the other ranks');
    expect(sumsLine(r.stdout, 0)).toBeUndefined();
  });

  test('--max-restarts restarts the group, which resumes from its checkpoint', async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'nt-run-'));
    const ckpt = path.join(dir, 'ckpt.json');
    try {
      const r = await launcher(['--nproc-per-node', '2', '--master-port', String(port), '--max-restarts', '1', launched],
        { NT_FAIL_AT: '1', NT_CKPT: ckpt });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('nodetorch run: restarting the group (restart 1 of 1)');
      // epoch 0 ran before the failure; the restarted group did epochs 1 and 2
      expect(sumsLine(r.stdout, 0)).toBe('[rank0]: sums [4,6] restart 1 world 2 local 0');
      expect(sumsLine(r.stdout, 1)).toBe('[rank1]: sums [4,6] restart 1 world 2 local 1');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('examples/distributed-mnist.ts (quick mode) learns MNIST on 2 ranks', async () => {
    const port = await freePort();
    const r = await launcher(['--nproc-per-node', '2', '--master-port', String(port), path.join(root, 'examples', 'distributed-mnist.ts')],
      { QUICK: '1' }, 280_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[rank0]: epoch 1/1: loss ');
    expect(r.stdout).toContain('(2 ranks, 6000 samples each)');
    const acc = Number(r.stdout.match(/\[rank0\]: Test accuracy: ([\d.]+)/)![1]);
    expect(acc).toBeGreaterThan(0.85);
  }, 300_000);

  test('usage errors exit with status 2 and say what was wrong', async () => {
    const r = await launcher(['--nproc-per-node', 'zero', launched]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nodetorch run: expected --nproc-per-node to be an integer >= 1 but received 'zero'");
  });

  (hasTorchrun ? test : test.skip)(`the same script runs under PyTorch's launcher (${PYTHON} -m torch.distributed.run)`, async () => {
    const port = await freePort();
    // torchrun 1.13 on Python 3.11 cannot parse its default --redirects 0 (its Std flag enum no
    // longer iterates the zero member), so stdout goes through its log files and --tee.
    const r = await runRank(PYTHON, ['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', String(port),
      '--redirects', '1', '--tee', '1', '--no_python', process.execPath, '--require', tsx, launched], PY_ENV, 150_000);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => / sums /.test(l) || l.includes(']:sums '));
    expect(lines.sort()).toEqual(['[default0]:sums [2,4,6] restart 0 world 2 local 0', '[default1]:sums [2,4,6] restart 0 world 2 local 1']);
  });
});

describe('nt.distributed without a group', () => {
  test('calls before init say to init first', async () => {
    expect(nt.distributed.isInitialized()).toBe(false);
    expect(() => nt.distributed.getRank()).toThrow('getRank: the default process group is not initialized: await nt.distributed.init() first');
    await expect(nt.distributed.allReduce(nt.tensor([1]))).rejects.toThrow('allReduce: the default process group is not initialized');
  });

  test('init checks its options', async () => {
    await expect(nt.distributed.init({ worldSize: 2, rank: 2 })).rejects.toThrow(
      'init: expected rank to be an integer from 0 to 1 but received number 2');
    await expect(nt.distributed.init({ worldSize: 1, rank: 0, backend: 'mpi' as never })).rejects.toThrow(
      "init: expected backend to be 'gloo' or 'nccl' but received string 'mpi'");
    const saved = process.env.WORLD_SIZE;
    delete process.env.WORLD_SIZE;
    try {
      await expect(nt.distributed.init({ rank: 0 })).rejects.toThrow('init: worldSize is not set: pass { worldSize } or set WORLD_SIZE');
    } finally {
      if (saved !== undefined) process.env.WORLD_SIZE = saved;
    }
  });

  (hasGloo ? test : test.skip)('a group of one: collectives, a non-contiguous tensor, destroy and init again', async () => {
    const port = await freePort();
    process.env.GLOO_SOCKET_IFNAME = 'lo';
    await nt.distributed.init({ worldSize: 1, rank: 0, masterPort: port, timeoutMs: 10000 });
    try {
      const t = nt.tensor([1, 2]);
      expect(await nt.distributed.allReduce(t, { op: 'avg' })).toBe(t);
      expect(t.toArray()).toEqual([1, 2]);
      const nc = nt.tensor([[1, 2], [3, 4]]).t();
      await expect(nt.distributed.allReduce(nc)).rejects.toThrow('allReduce: expected a contiguous tensor for tensor');
      await expect(nt.distributed.allReduce(t, { op: 'mean' as never })).rejects.toThrow(
        "allReduce: expected op to be 'sum', 'avg', 'product', 'max' or 'min' but received string 'mean'");
      await expect(nt.distributed.broadcast(t, { src: 1 })).rejects.toThrow(
        'broadcast: expected src to be an integer from 0 to 0 but received number 1');
      await expect(nt.distributed.init({ worldSize: 1, rank: 0 })).rejects.toThrow('init: the default process group is already initialized');
      // a dtype Gloo lacks (bool on libtorch 1.13) is named as such, not blamed on the other ranks
      let rejected: Error | null = null;
      await nt.distributed.allReduce(nt.tensor([true, false])).catch((e: Error) => { rejected = e; });
      if (Number(nt.version.libtorch.split('.')[0]) < 2) expect(rejected).not.toBeNull();
      if (rejected) expect((rejected as Error).message).toBe("allReduce: the gloo backend cannot work on bool tensors (float32, float64, " +
        "float16, int8, uint8, int32 and int64 are supported): cast the tensor first, e.g. t.to('float32')");
    } finally {
      await nt.distributed.destroy();
    }
    await nt.distributed.init({ worldSize: 1, rank: 0, masterPort: await freePort(), timeoutMs: 10000 });
    expect(nt.distributed.getWorldSize()).toBe(1);
    await nt.distributed.destroy();
  });
});

describe('DistributedSampler', () => {
  const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'distributed_sampler.json'), 'utf8'));
  for (const c of golden.cases as Json[]) {
    test(`gives torch.utils.data.DistributedSampler's indices: n ${c.n}, ${c.numReplicas} replicas, shuffle ${c.shuffle}, ` +
      `dropLast ${c.dropLast}, seed ${c.seed}, epoch ${c.epoch}`, () => {
      for (let rank = 0; rank < c.numReplicas; rank++) {
        const s = new DistributedSampler(c.n, { numReplicas: c.numReplicas, rank, shuffle: c.shuffle, dropLast: c.dropLast, seed: c.seed });
        s.setEpoch(c.epoch);
        expect([...s]).toEqual(c.indices[rank]);
        expect(s.length).toBe(c.indices[rank].length);
      }
    });
  }

  test('checks its arguments', () => {
    expect(() => new DistributedSampler(10, { numReplicas: 2, rank: 2 })).toThrow(
      'DistributedSampler: expected rank to be an integer from 0 to 1 but received number 2');
    expect(() => new DistributedSampler('x' as never, { numReplicas: 2, rank: 0 })).toThrow(
      "DistributedSampler: expected a dataset with a length (or the length itself) but received string 'x'");
    expect(() => new DistributedSampler(10)).toThrow('DistributedSampler: pass { numReplicas, rank } or await nt.distributed.init() first');
  });
});

describe('Dataset.shard', () => {
  test('takes every n-th element from index, with the cardinality tf.data gives', async () => {
    const ds = nt.data.Dataset.range(10);
    const s = ds.shard(3, 1);
    expect(s.cardinality()).toBe(3);
    expect((await s.toArray()).map((t) => Number(t.item()))).toEqual([1, 4, 7]);
    expect(ds.shard(3, 0).cardinality()).toBe(4);
    const gen = nt.data.Dataset.fromGenerator(function* () { for (let i = 0; i < 5; i++) yield i; }).shard(2, 1);
    expect(await gen.toArray()).toEqual([1, 3]);
    expect(() => ds.shard(3, 3)).toThrow('Dataset.shard: expected index to be an integer from 0 to 2 but received 3');
    expect(() => ds.shard(0, 0)).toThrow('Dataset.shard: expected numShards to be a positive integer but received 0');
  });
});
