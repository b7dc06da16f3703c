// Shared by the TypeScript benchmarks: command-line flags, the timing loop (calibrate, then the
// median of several timed repetitions) and the one JSON line each benchmark prints for scripts/bench.js.
// bench/ops.py mirrors timeLoop() so both languages are measured the same way.
import * as net from 'net';

/** A TCP port free on 127.0.0.1 right now (the serve and distributed benchmarks, the distributed tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Reads `--name value` from argv; undefined when absent. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

export function intFlag(name: string): number | undefined {
  const v = flag(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`--${name}: expected a positive integer but got '${v}'`);
  return n;
}

export interface TimingOptions {
  /** Wall time of one timed repetition; long enough to cover several GC/yield cycles. */
  targetMs: number;
  /** Repetitions; the median is reported, so one noisy repetition does not move it. */
  reps: number;
}

export const DEFAULT_TIMING: TimingOptions = {
  targetMs: Number(process.env.BENCH_TARGET_MS ?? 200),
  reps: Number(process.env.BENCH_REPS ?? 7),
};

export interface Timing {
  /** median microseconds per iteration */
  us: number;
  /** every repetition, microseconds per iteration */
  samples: number[];
  iters: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times body(n), which runs n iterations of the case. Doubling n until a run takes 20 ms both
 * warms up (JIT, allocator caches) and calibrates n so each repetition lasts about targetMs.
 * bench/ops.py's time_loop() is the same algorithm.
 */
export async function timeLoop(body: (n: number) => void | Promise<void>, opts: TimingOptions = DEFAULT_TIMING): Promise<Timing> {
  let n = 1;
  let ms = 0;
  for (;;) {
    const t0 = process.hrtime.bigint();
    await body(n);
    ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= 20 || n >= 1 << 24) break;
    n *= 2;
  }
  let iters = Math.max(1, Math.round((n * opts.targetMs) / Math.max(ms, 1e-3)));
  // The first runs include JIT and cache warm-up; one full-length run refines the count.
  const t1 = process.hrtime.bigint();
  await body(iters);
  ms = Number(process.hrtime.bigint() - t1) / 1e6;
  iters = Math.max(1, Math.round((iters * opts.targetMs) / Math.max(ms, 1e-3)));
  const samples: number[] = [];
  for (let r = 0; r < opts.reps; r++) {
    const t0 = process.hrtime.bigint();
    await body(iters);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3 / iters);
  }
  return { us: median(samples), samples, iters };
}

/** Yields to the event loop so FinalizationRegistry callbacks (and other tasks) can run. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A case's result: a timing, or why it could not be measured. */
export type CaseResult = Timing | { error: string };

export async function measure(body: (n: number) => void | Promise<void>): Promise<CaseResult> {
  try {
    return await timeLoop(body);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The single line scripts/bench.js parses. Written with process.stdout.write because some
 * libraries (tfjs) print banners through console.*, which the benchmarks silence.
 */
export function emit(result: object): void {
  process.stdout.write(JSON.stringify({ ...result, timing: DEFAULT_TIMING }) + '\n');
}

/** The per-op cases, in table order; ops.ts, ops_tfjs.ts and ops.py use these keys. */
export const OPS_CASES = ['add', 'matmul', 'sum', 'autograd'] as const;
export type OpsCase = (typeof OPS_CASES)[number];

/** Ops per nt.tidy()/tf.tidy() scope in the single-op cases: a scope per op would time the scope, not the op. */
export const TIDY_BATCH = 100;
/** Tensors created between yields in the no-dispose loops, so finalizers keep memory bounded. */
export const YIELD_EVERY_TENSORS = 10_000;
/** Elements of the autograd chain's input. */
export const AUTOGRAD_SIZE = 16;

/** Batch size of every fit benchmark, as in the seed programs. */
export const FIT_BATCH = 32;

/**
 * The seed models bench/fit.ts, fit_tfjs.ts and fit.py train (`--model`), with the size of one
 * epoch, the batches of the warm-up run and the batches timed by default (0: the whole epoch).
 * The CNN and LSTM time their epoch's first batches and extrapolate: whole epochs take 0.5-3
 * minutes on 2 cores. 500 CNN batches keep the native loop's thread tuning (fits of >= 450 batches)
 * inside the timed part. tfjsSteps: what each tfjs backend times, sized for runs under a minute
 * (tfjs-cpu takes seconds per CNN batch; tfjs-wasm 4.22 lacks the kernels to train the CNN and LSTM,
 * so those runs report the missing kernel). fit.py has the same table.
 */
export const FIT_MODELS = {
  mlp: { samples: 60_000, warmup: 50, steps: 0, tfjsSteps: { cpu: 200, wasm: 200 } },
  cnn: { samples: 60_000, warmup: 20, steps: 500, tfjsSteps: { cpu: 4, wasm: 50 } },
  lstm: { samples: 25_000, warmup: 5, steps: 200, tfjsSteps: { cpu: 1, wasm: 20 } },
  gru: { samples: 25_000, warmup: 5, steps: 200, tfjsSteps: { cpu: 1, wasm: 20 } },
} as const;
export type FitModel = keyof typeof FIT_MODELS;

/** `--model mlp|cnn|lstm|gru`, default mlp. */
export function fitModelFlag(): FitModel {
  const m = flag('model') ?? 'mlp';
  if (!(m in FIT_MODELS)) throw new TypeError(`--model: expected one of ${Object.keys(FIT_MODELS).join(', ')} but got '${m}'`);
  return m as FitModel;
}

/** Batches one epoch of the model takes, and the batches to time: --steps, else the model's default. */
export function fitSteps(model: FitModel, samples: number, steps: number | undefined): { epochSteps: number; steps: number } {
  const epochSteps = Math.ceil(samples / FIT_BATCH);
  const want = steps ?? FIT_MODELS[model].steps;
  return { epochSteps, steps: want === 0 ? epochSteps : Math.min(want, epochSteps) };
}
