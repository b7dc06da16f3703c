// Threads and load: the adaptive intra-op thread choice of repeated native work (fit's batches,
// predict, TorchScript forwards; native/threads.h) and what OpenMP was started with (lib/native.ts
// sets OMP_WAIT_POLICY / GOMP_SPINCOUNT before the addon loads unless the user set them).
// README "Threads and load" has the measurements behind the policy.
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
  /**
   * the load watch (every 0.5 s, Linux): the cores other processes left free, which caps every
   * path's threads while the adaptive choice is on (all cores until measured)
   */
  freeCores: number;
  /** cores other processes used over the last half second */
  otherCores: number;
  /** how many samples the load watch has taken */
  loadSamples: number;
}

/**
 * Turns the adaptive thread choice on or off (default on, or NODETORCH_ADAPTIVE_THREADS=0 at start).
 * On, every path uses at most the cores other processes leave free (sampled every 0.5 s, so a loop
 * that never yields follows the load too), and fit's batches, predict and TorchScript forwards also
 * time a block of calls on all threads and then one on a single thread, keep the faster and measure
 * again every 30 s; off, they always use nt.getNumThreads().
 * Returns the previous setting.
 */
export function setAdaptiveThreads(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new TypeError(`setAdaptiveThreads(on): expected a boolean but received ${typeof on}`);
  return native.threads_adaptive(on);
}

/** Whether the adaptive thread choice is on (see setAdaptiveThreads). */
export function getAdaptiveThreads(): boolean {
  return native.threads_info().adaptive;
}

/** The threads and OpenMP settings in effect (for `nodetorch info`, logs and benchmarks). */
export function threadPolicy(): ThreadPolicy {
  return native.threads_info();
}
