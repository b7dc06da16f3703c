// Threads and load: the adaptive intra-op thread choice of repeated native work (fit's batches,
// predict, TorchScript forwards; native/threads.h) and what OpenMP was started with (lib/native.ts
// sets OMP_WAIT_POLICY / GOMP_SPINCOUNT before the addon loads unless the user set them).
// README "Threads and load" has the measurements behind the policy.
import * as fs from 'fs';
import * as os from 'os';
import { native } from './native';

/** The thread policy in effect: see README "Threads and load". */
export interface ThreadPolicy {
  /** intra-op threads asked for (nt.getNumThreads()) */
  threads: number;
  /** intra-op threads this JS thread's own ops use now: fewer than threads while other processes hold the cores */
  current: number;
  /** OMP_WAIT_POLICY libgomp started with ('' when unset: libgomp's default spinning) */
  waitPolicy: string;
  /** GOMP_SPINCOUNT libgomp started with ('' when unset) */
  spinCount: string;
  /** whether fit, predict and TorchScript forwards may run on one thread where that measured faster */
  adaptive: boolean;
  /** how native memory is allocated: freed tensor-sized blocks are kept for reuse (README "Memory") unless the environment chose otherwise */
  allocator: string;
}

/**
 * Turns the adaptive thread choice on or off (default on, or NODETORCH_ADAPTIVE_THREADS=0 at start).
 * On, fit's batches, predict and TorchScript forwards time a block of calls on all threads and then
 * one on a single thread, keep the faster and measure again every 30 s; off, they always use
 * nt.getNumThreads().
 * Returns the previous setting.
 */
export function setAdaptiveThreads(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new TypeError(`setAdaptiveThreads(on): expected a boolean but received ${typeof on}`);
  const was = native.threads_adaptive(on);
  if (on) watchLoad();
  else unwatchLoad();
  return was;
}

/** Whether the adaptive thread choice is on (see setAdaptiveThreads). */
export function getAdaptiveThreads(): boolean {
  return native.threads_info().adaptive;
}

/** The threads and OpenMP settings in effect (for `nodetorch info`, logs and benchmarks). */
export function threadPolicy(): ThreadPolicy {
  return native.threads_info();
}

// ---- the load watch: this JS thread's per-op threads ----
// Ops called from JS run on this thread, each too short to time at two thread counts, so their
// count follows the machine instead: every WATCH_MS, the cores other processes used (all CPU time
// in /proc/stat less this process's own) leave the rest to us, between 1 and nt.getNumThreads().
// Measured (bench/load_policy.ts): beside one busy process on 2 cores, a 2-thread sum of 1e6
// elements took 3-20x its 1-thread time even with sleeping OpenMP workers. Linux only; the timer
// never keeps the process alive, and a thread that never yields keeps the count it had.
const WATCH_MS = 500;
let watch: NodeJS.Timeout | null = null;
let last: { busy: number; total: number; own: number; at: number } | null = null;

function cpuJiffies(): { busy: number; total: number } | null {
  try {
    const f = fs.readFileSync('/proc/stat', 'latin1');
    const v = f.slice(0, f.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - v[3] - (v[4] || 0), total };
  } catch {
    return null;
  }
}

/** Cores other processes use now, from the last WATCH_MS; null until two samples exist or where unknown. */
function sample(): number | null {
  const j = cpuJiffies();
  if (!j) return null;
  const u = process.cpuUsage();
  const now = { ...j, own: (u.user + u.system) / 1e6, at: performance.now() / 1e3 };
  const prev = last;
  last = now;
  if (!prev || now.total <= prev.total || now.at <= prev.at) return null;
  const cores = os.availableParallelism();
  const busyCores = ((now.busy - prev.busy) / (now.total - prev.total)) * cores;
  return Math.max(0, busyCores - (now.own - prev.own) / (now.at - prev.at));
}

/** The per-op threads for this JS thread when others use `others` cores: what is left, 1 to wanted. */
export function threadsBeside(others: number, wanted: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(wanted, Math.floor(cores - others + 0.5)));
}

function tick(): void {
  const others = sample();
  if (others === null) return;
  const info = native.threads_info();
  const want = threadsBeside(others, info.threads);
  if (want !== info.current) native.threads_set_current(want);
}

function watchLoad(): void {
  if (watch || process.platform !== 'linux' || !cpuJiffies()) return;
  last = null;
  sample();
  watch = setInterval(tick, WATCH_MS);
  watch.unref();
}

function unwatchLoad(): void {
  if (watch) clearInterval(watch);
  watch = null;
  const info = native.threads_info();
  if (info.current !== info.threads) native.threads_set_current(info.threads);
}

if (native.threads_info().adaptive) watchLoad();
