// The measurements behind nodetorch's threading policy (README "Threads and load"): every path
// (per-op, predict, per-batch fit through a Dataset, epoch fit, TorchScript forward) timed at 1
// thread, at all threads (adaptive choice off) and with the adaptive choice ('auto'), under each
// OpenMP wait policy, on a quiet machine and beside one competing busy process. Quiet and loaded runs, and the policies, alternate
// round by round in one parent process, so a machine whose other load drifts hurts every variant alike.
//
//   npx tsx bench/load_policy.ts [--rounds 2] [--blocks 5] [--policies default,libgomp,active]
//
// Prints a table per policy (median us per call: quiet, loaded, loaded/quiet) and one JSON line.
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { emit, flag, intFlag } from './common';

/**
 * The OpenMP settings compared. default: nodetorch's (lib/native.ts sets GOMP_SPINCOUNT=10000: spin
 * 10,000 times, then sleep); libgomp: libgomp's own default when nothing is set (spin 300,000 times,
 * then sleep); active: spin; passive: sleep at once.
 */
const POLICIES: Record<string, Record<string, string>> = {
  default: {},
  libgomp: { GOMP_SPINCOUNT: '300000' },
  active: { OMP_WAIT_POLICY: 'ACTIVE' },
  passive: { OMP_WAIT_POLICY: 'PASSIVE' },
};

interface CaseTimes { [variant: string]: number }
type ChildResult = Record<string, CaseTimes>;

/** A busy loop in its own process: the competing load. */
export function startBusy(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function child(): Promise<void> {
  const nt = await import('../lib');
  const all = os.availableParallelism();
  const blocks = intFlag('blocks') ?? 5;
  const { Sequential, layers } = nt;
  const mlp = (): InstanceType<typeof Sequential> => new Sequential([
    new layers.Dense(512, { activation: 'relu', inputShape: [784] }),
    new layers.Dense(512, { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  const infer = mlp();
  const train = mlp();
  train.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
  const xs = nt.rand([256, 784]);
  const ys = nt.randint(0, 10, [256]);
  // 120 batches: fit tunes its threads in epochs of at least 100 (native/model.cc)
  const xe = nt.rand([64 * 120, 784]);
  const ye = nt.randint(0, 10, [64 * 120]);
  const big = nt.rand([1_000_000]);
  const a = nt.rand([256, 256]);
  const script = nt.jit.compile('def forward(self, x, w):\n    return torch.relu(torch.matmul(x, w)).sum(1)\n');
  const jx = nt.rand([64, 512]);
  const jw = nt.rand([512, 512]);
  // name -> [calls per block, one call]
  const cases: Record<string, [number, () => Promise<void>]> = {
    'op sum 1e6': [20, async () => nt.tidy(() => void big.sum())],
    'op matmul 256': [20, async () => nt.tidy(() => void nt.matmul(a, a))],
    'predict mlp b256': [10, async () => (await infer.predict(xs, { batchSize: 256 })).dispose()],
    // a Dataset: the data pipeline and the per-batch path (one native run per batch)
    'fit per-batch 4x64': [2, async () => void (await train.fit(nt.data.Dataset.fromTensorSlices([xs, ys]).batch(64), { epochs: 1, verbose: 0 }))],
    'fit epoch 120x64': [1, async () => void (await train.fit(xe, ye, { batchSize: 64, epochs: 1, verbose: 0 }))],
    'jit forward 64x512': [10, async () => (await script.forward(jx, jw) as InstanceType<typeof nt.Tensor>).dispose()],
  };
  // '1' and 'N': fixed counts (adaptive off); 'auto': nt.getNumThreads() = all with the adaptive choice on
  const variants = [...new Set(['1', String(all)]), 'auto'];
  const out: ChildResult = {};
  for (const [name, [calls, call]] of Object.entries(cases)) {
    const samples: Record<string, number[]> = {};
    for (let w = 0; w < 3; w++) await call();
    // the adaptive choice settles first (5 warm-up and 2 x 10 timed calls), so 'auto' times what it chose
    nt.setAdaptiveThreads(true);
    nt.setNumThreads(all);
    for (let w = 0; w < (name.startsWith('fit epoch') ? 1 : 30); w++) await call();
    for (let b = 0; b < blocks; b++) {
      for (const t of variants) {
        nt.setAdaptiveThreads(t === 'auto');
        const was = nt.getNumThreads();
        nt.setNumThreads(t === 'auto' ? all : Number(t));
        // a changed count replaces libtorch's pthreadpool (at::set_num_threads), whose new thread
        // spins ~60 ms: let it settle, as a program that sets its count once would see it
        if (nt.getNumThreads() !== was) await new Promise((r) => setTimeout(r, 150));
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < calls; i++) await call();
        (samples[`${t}`] ??= []).push(Number(process.hrtime.bigint() - t0) / 1e3 / calls);
      }
    }
    out[name] = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  }
  nt.setNumThreads(all);
  nt.setAdaptiveThreads(true);
  process.stdout.write(JSON.stringify(out) + '\n');
}

function runChild(policy: string): ChildResult {
  const env = { ...process.env, ...POLICIES[policy] };
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', '--blocks', String(intFlag('blocks') ?? 5)],
    { env, encoding: 'utf8', timeout: 300_000, cwd: path.resolve(__dirname, '..') });
  const line = String(r.stdout).trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`policy ${policy}: child failed: ${r.stderr || r.stdout}`);
  return JSON.parse(line) as ChildResult;
}

async function parent(): Promise<void> {
  const rounds = intFlag('rounds') ?? 2;
  const policies = (flag('policies') ?? 'default,libgomp').split(',');
  for (const p of policies) if (!(p in POLICIES)) throw new Error(`--policies: no policy '${p}'; have ${Object.keys(POLICIES).join(', ')}`);
  const load0 = os.loadavg()[0];
  const res: Record<string, Record<'quiet' | 'loaded', ChildResult[]>> = {};
  for (let r = 0; r < rounds; r++) {
    for (const state of ['quiet', 'loaded'] as const) {
      for (const p of policies) {
        const busy = state === 'loaded' ? startBusy() : null;
        try {
          ((res[p] ??= { quiet: [], loaded: [] })[state]).push(runChild(p));
        } finally {
          busy?.kill('SIGKILL');
        }
        process.stderr.write(`round ${r + 1}/${rounds} ${state} ${p} done (load ${os.loadavg()[0].toFixed(2)})\n`);
      }
    }
  }
  // best round per cell: other load only adds time
  const summary: Record<string, Record<string, Record<string, { quiet: number; loaded: number }>>> = {};
  for (const p of policies) {
    const lines = [`policy ${p} ${JSON.stringify(POLICIES[p])}`, 'case | threads | quiet us | loaded us | loaded/quiet'];
    for (const c of Object.keys(res[p].quiet[0])) {
      for (const v of Object.keys(res[p].quiet[0][c])) {
        const q = Math.min(...res[p].quiet.map((x) => x[c][v]));
        const l = Math.min(...res[p].loaded.map((x) => x[c][v]));
        ((summary[p] ??= {})[c] ??= {})[v] = { quiet: q, loaded: l };
        lines.push(`${c} | ${v} | ${q.toFixed(0)} | ${l.toFixed(0)} | ${(l / q).toFixed(2)}`);
      }
    }
    process.stderr.write(lines.join('\n') + '\n\n');
  }
  emit({ bench: 'load_policy', loadAverage: [load0, os.loadavg()[0]], rounds, summary });
}

(process.argv.includes('--child') ? child() : parent()).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
