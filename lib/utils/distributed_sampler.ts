// utils.data.DistributedSampler: torch.utils.data.distributed.DistributedSampler. Every rank draws
// the same per-epoch permutation (seed + epoch, through libtorch's randperm, so the order equals
// PyTorch's) and keeps every numReplicas-th index starting at its rank.
import { distributedNative as dist } from '../native';
import { typeOfValue, wrap } from '../tensor';
import { getRank, getWorldSize, isInitialized } from '../distributed';

/** DistributedSampler's keyword arguments. */
export interface DistributedSamplerOptions {
  /** default: the default group's world size */
  numReplicas?: number;
  /** default: this process's rank */
  rank?: number;
  /** default true */
  shuffle?: boolean;
  /** default 0; must be the same on every rank */
  seed?: number;
  /** drop the tail that does not divide evenly instead of padding with repeated indices (default false) */
  dropLast?: boolean;
}

function intArg(v: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
  throw new TypeError(`DistributedSampler: expected ${name} to be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` :
    `from ${min} to ${max}`} but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}

/** Something with a length: a dataset, an array, or the length itself. */
export type Sized = number | { readonly length: number } | { len(): number };

function sizeOf(d: unknown): number {
  if (typeof d === 'number') return intArg(d, 'dataset (a length)', 0);
  if (d !== null && typeof d === 'object') {
    const o = d as { length?: unknown; len?: unknown };
    if (typeof o.len === 'function') return intArg((o.len as () => unknown).call(d), 'dataset.len()', 0);
    if (typeof o.length === 'number') return intArg(o.length, 'dataset.length', 0);
  }
  throw new TypeError(`DistributedSampler: expected a dataset with a length (or the length itself) but received ${typeOfValue(d)}`);
}

/** torch.utils.data.DistributedSampler: each rank's share of every epoch's (shuffled) indices. */
export class DistributedSampler implements Iterable<number> {
  readonly numReplicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** indices this rank yields per epoch */
  readonly numSamples: number;
  readonly totalSize: number;
  private readonly size: number;
  private epoch = 0;

  constructor(dataset: Sized, options?: DistributedSamplerOptions) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`DistributedSampler: expected an options object but received ${typeOfValue(options)}`);
    }
    const o = options ?? {};
    this.size = sizeOf(dataset);
    if ((o.numReplicas === undefined || o.rank === undefined) && !isInitialized()) {
      throw new Error('DistributedSampler: pass { numReplicas, rank } or await nt.distributed.init() first');
    }
    this.numReplicas = intArg(o.numReplicas ?? getWorldSize(), 'numReplicas', 1);
    this.rank = intArg(o.rank ?? getRank(), 'rank', 0, this.numReplicas - 1);
    this.shuffle = o.shuffle ?? true;
    this.seed = intArg(o.seed ?? 0, 'seed', 0);
    this.dropLast = o.dropLast ?? false;
    this.numSamples = this.dropLast && this.size % this.numReplicas !== 0
      ? Math.ceil((this.size - this.numReplicas) / this.numReplicas)
      : Math.ceil(this.size / this.numReplicas);
    this.totalSize = this.numSamples * this.numReplicas;
  }

  /** Call at the start of every epoch so each epoch gets a new order (the same on every rank). */
  setEpoch(epoch: number): void {
    this.epoch = intArg(epoch, 'epoch', 0);
  }

  /** This rank's indices for the current epoch. */
  indices(): number[] {
    let all: number[];
    if (this.shuffle) {
      const h = dist.dist_randperm(this.size, this.seed + this.epoch);
      const t = wrap(h);
      all = Array.from(t.dataSync() as BigInt64Array, Number);
      t.dispose();
    } else {
      all = Array.from({ length: this.size }, (_, i) => i);
    }
    if (!this.dropLast) {
      const pad = this.totalSize - all.length;
      for (let i = 0; i < pad; i++) all.push(all[i % all.length]);
    } else {
      all = all.slice(0, this.totalSize);
    }
    const mine: number[] = [];
    for (let i = this.rank; i < this.totalSize; i += this.numReplicas) mine.push(all[i]);
    return mine;
  }

  /** This rank's indices of the current epoch. */
  [Symbol.iterator](): Iterator<number> {
    return this.indices()[Symbol.iterator]();
  }

  get length(): number {
    return this.numSamples;
  }
}
