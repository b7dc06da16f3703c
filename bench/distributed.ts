// Distributed data-parallel cost in nodetorch, beside bench/distributed.py (torch.distributed on the
// same libtorch): Gloo allReduce throughput on 127.0.0.1 from 1 KB to 64 MB of float32, and the step
// time of the seed MLP under DistributedDataParallel against the same step in one process. Starts 2
// ranks of itself (NT_BENCH_RANK set) with one intra-op thread each; rank 0 prints the JSON line.
import { spawn } from 'child_process';
import * as nt from '../lib';
import { emit, freePort } from './common';

// SIZES, ITERS, STEPS and the model: the same in bench/distributed.py.
const SIZES: [string, number][] = [['1 KB', 1 << 10], ['16 KB', 1 << 14], ['256 KB', 1 << 18], ['4 MB', 1 << 22], ['64 MB', 1 << 26]];
const iters = (bytes: number): number => Math.min(1000, Math.max(5, Math.round(2 ** 28 / bytes)));
const REPS = 3;
// a step is ~2 ms: more loops of it, so each side meets the machine's quiet moments as often
const STEP_REPS = 15;
const BATCH = 64;
const STEPS = 20;

async function rank(): Promise<void> {
  nt.setNumThreads(1);
  const dist = nt.distributed;
  await dist.init({ timeoutMs: 120000 });
  const me = dist.getRank();
  const variants: Record<string, Record<string, { us: number }>> = { allreduce: {}, step: {} };
  for (const [name, bytes] of SIZES) {
    const t = nt.ones([bytes / 4]);
    const n = iters(bytes);
    for (let i = 0; i < 3; i++) await dist.allReduce(t);
    let best = Infinity;
    for (let r = 0; r < REPS; r++) {
      await dist.barrier();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await dist.allReduce(t);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / n);
    }
    variants.allreduce[name] = { us: best };
    t.dispose();
  }
  // The seed MLP on MNIST-shaped random data, batch 64 per rank, SGD.
  nt.manualSeed(0);
  const x = nt.randn([BATCH, 1, 28, 28]);
  const y = nt.randint(0, 10, [BATCH]);
  const makeNet = (): nt.nn.Module => new nt.nn.Sequential(new nt.nn.Flatten(), new nt.nn.Linear(784, 128), new nt.nn.ReLU(),
    new nt.nn.Linear(128, 10));
  const timeSteps = async (model: nt.nn.Module, sync: boolean): Promise<number> => {
    const opt = new nt.optim.SGD(model.parameters(), { lr: 0.01 });
    const step = (): void => nt.tidy(() => {
      opt.zeroGrad();
      nt.F.crossEntropy((model as nt.nn.Sequential).forward(x) as nt.Tensor, y).backward();
      opt.step();
    });
    for (let i = 0; i < 5; i++) step();
    let best = Infinity;
    for (let r = 0; r < STEP_REPS; r++) {
      if (sync) await dist.barrier();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < STEPS; i++) step();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / STEPS);
    }
    return best;
  };
  variants.step.ddp = { us: await timeSteps(new nt.nn.DistributedDataParallel(makeNet()), true) };
  await dist.barrier();
  variants.step.local = { us: await timeSteps(makeNet(), false) };
  await dist.barrier();
  await dist.destroy();
  if (me === 0) emit({ variants, worldSize: 2, threadsPerRank: 1 });
}

async function main(): Promise<void> {
  const port = await freePort();
  const codes = await Promise.all([0, 1].map((r) => new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [__filename], {
      env: { ...process.env, NT_BENCH_RANK: '1', RANK: String(r), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port), GLOO_SOCKET_IFNAME: 'lo' },
      stdio: ['ignore', r === 0 ? 'inherit' : 'ignore', 'inherit'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('close', (code) => { clearTimeout(timer); resolve(code ?? 1); });
  })));
  if (codes.some((c) => c !== 0)) emit({ error: `a rank exited with status ${codes.join(', ')}` });
}

(process.env.NT_BENCH_RANK ? rank() : main()).catch((e: Error) => {
  emit({ error: e.message });
  process.exit(1);
});
