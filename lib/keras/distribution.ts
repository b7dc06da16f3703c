// nt.distribution: Keras 3's keras.distribution (DataParallel, setDistribution, listDevices) over
// nt.distributed's c10d process group, and what fit() needs to train one model across processes:
// per-epoch shards in DistributedSampler's order, gradients averaged by the DDP reducer (it hangs
// on the weights' gradient accumulators, so the native loop's backward and autograd's both reach
// it), metric states all-reduced, and rank 0's callbacks' decisions (stop, learning rate, resumed
// epoch) broadcast to every rank.
/**
 * Keras 3's keras.distribution: DataParallel, setDistribution, listDevices over nt.distributed's process group.
 * @module
 */
import { distributedNative as dist, native, NativeObject } from '../native';
import { Tensor, typeOfValue, wrap } from '../tensor';
import * as creation from '../creation';
import * as distributed from '../distributed';
import { DistributedSampler } from '../utils/distributed_sampler';
import { availableDevices } from '../device';
import * as check from '../util/check';
import { isSharded } from '../data/dataset';
import { batchCount, disposeBatch, shardBatches } from './training/data_adapter';

/** Keras 3's DataParallel: every process holds the whole model and trains on its share of each batch. */
export class DataParallel {
  /** the devices this process trains on (Keras' devices; one per process here) */
  readonly devices: string[];
  /**
   * Keras 3's auto_shard_dataset (default true): fit() gives each rank every world-size-th batch of a
   * dataset or generator (and of validation data), unless the dataset came from Dataset.shard().
   * false: each rank trains on all its source yields (shard it yourself).
   */
  readonly autoShardDataset: boolean;
  /** DataParallel(devices?, { autoShardDataset }) or DataParallel({ devices, autoShardDataset }) as Keras 3 (auto_shard_dataset too). */
  constructor(devices?: string[] | { devices?: string[]; autoShardDataset?: boolean; auto_shard_dataset?: boolean },
    options?: { autoShardDataset?: boolean; auto_shard_dataset?: boolean }) {
    if (devices !== undefined && !Array.isArray(devices) && !check.is.plainObject(devices)) {
      throw new TypeError(`DataParallel: expected a list of devices or { devices } but received ${typeOfValue(devices)}`);
    }
    const o = check.args('DataParallel', [devices, options], ['devices'], ['autoShardDataset']);
    const list = o.devices;
    if (list !== undefined && (!Array.isArray(list) || list.some((d) => typeof d !== 'string'))) {
      throw new TypeError(`DataParallel: expected devices to be an array of device names like 'cpu:0' but received ${typeOfValue(list)}`);
    }
    this.devices = list ? [...(list as string[])] : listDevices();
    this.autoShardDataset = check.boolean('DataParallel', 'autoShardDataset', o.autoShardDataset, true);
  }
  /** `DataParallel(devices [...])`, as Keras prints it. */
  toString(): string {
    return `DataParallel(devices [${this.devices.join(', ')}])`;
  }
}

let current: DataParallel | null = null;

/** Keras 3's set_distribution: every later fit() trains across the process group (null turns it off). */
export function setDistribution(d: DataParallel | null): void {
  if (d !== null && !(d instanceof DataParallel)) {
    throw new TypeError(`setDistribution: expected a distribution.DataParallel or null but received ${typeOfValue(d)}`);
  }
  current = d;
}

/** Keras 3's distribution(): the one setDistribution set, or null. */
export function distribution(): DataParallel | null {
  return current;
}

/** Keras 3's list_devices(deviceType?): this process's devices as 'cpu:0', 'cuda:0'...; CUDA devices first when any. */
export function listDevices(deviceType?: 'cpu' | 'gpu' | 'cuda'): string[] {
  if (deviceType !== undefined && deviceType !== 'cpu' && deviceType !== 'gpu' && deviceType !== 'cuda') {
    throw new TypeError(`listDevices: expected deviceType 'cpu', 'gpu' or 'cuda' but received ${typeOfValue(deviceType)}`);
  }
  const cuda = availableDevices().filter((d) => d.startsWith('cuda'));
  if (deviceType === 'cpu' || (deviceType === undefined && cuda.length === 0)) return ['cpu:0'];
  return cuda;
}

/** Keras 3's distribution.initialize(): joins the process group from torchrun's variables (nt.distributed.init). */
export async function initialize(options?: distributed.InitOptions): Promise<void> {
  if (!distributed.isInitialized()) await distributed.init(options);
}

interface ReducerEntry { reducer: NativeObject; weights: Tensor[]; group: distributed.ProcessGroup }
// One reducer per model: its hooks stay on the weights' gradient accumulators, so it is reused
// (switched off between distributed fits) rather than stacked up.
const reducers = new WeakMap<object, ReducerEntry>();

/**
 * fit()'s link to the other ranks for one call. Every method is a collective: all ranks call it,
 * in the same order.
 */
export class FitSync {
  private readonly shards: Tensor[] = [];
  private readonly held: Tensor[] = [];
  private constructor(readonly group: distributed.ProcessGroup, readonly rank: number, readonly size: number,
    private readonly entry: ReducerEntry | null, private readonly autoShard: boolean) {}

  /**
   * The sync for a fit() call, or null when it trains alone: `distributed` is fit's option
   * (undefined: follow setDistribution). Joins the group from torchrun's variables when needed.
   */
  static async start(model: object, flag: unknown, trainable: Tensor[]): Promise<FitSync | null> {
    if (flag !== undefined && typeof flag !== 'boolean') {
      throw new TypeError(`fit: expected distributed to be a boolean but received ${typeOfValue(flag)}`);
    }
    if (!(flag ?? current !== null)) return null;
    if (!distributed.isInitialized()) {
      if (!process.env.WORLD_SIZE) {
        throw new Error('fit: distributed training needs a process group: await nt.distributed.init() first, or launch the ' +
          'script with `npx nodetorch run --nproc-per-node N` (or torchrun), which sets WORLD_SIZE and RANK');
      }
      await distributed.init();
    }
    const group = distributed.defaultGroup();
    const size = group.size();
    const rank = group.rank();
    let entry: ReducerEntry | null = null;
    if (size > 1) {
      if (trainable.length === 0) throw new Error('fit: the model has no trainable weights (yet: a model fed from a dataset must be built first); there is nothing to average across processes');
      entry = reducers.get(model) ?? null;
      if (!entry || entry.group !== group || entry.weights.length !== trainable.length || entry.weights.some((w, i) => w !== trainable[i])) {
        if (entry) dist.ddp_set_sync(entry.reducer, false);
        // PyTorch's 25 MiB buckets with a 1 MiB first one; every trainable weight gets a gradient
        const reducer = dist.ddp_create(group._native, trainable.map((w) => w._h), 25 * 1024 * 1024, 1024 * 1024, false);
        entry = { reducer, weights: [...trainable], group };
        reducers.set(model, entry);
      }
      dist.ddp_set_sync(entry.reducer, true);
    }
    return new FitSync(group, rank, size, entry, current?.autoShardDataset ?? true);
  }

  /** Rank 0 runs the callbacks, the progress bar and every file writer. */
  get chief(): boolean {
    return this.rank === 0;
  }

  /** Gradient averaging off again (the model may later train alone). */
  end(): void {
    if (this.entry) dist.ddp_set_sync(this.entry.reducer, false);
    this.disposeShards();
    for (const t of this.held.splice(0)) t.dispose();
  }

  /** Overwrites every weight with rank 0's (the start of training, a restored backup, restored best weights). */
  broadcastWeights(weights: Tensor[]): void {
    if (this.size > 1 && weights.length) dist.ddp_broadcast_(this.group._native, weights.map((w) => w._h), 0);
  }

  /** Rank 0's numbers on every rank. */
  async broadcastNumbers(values: number[]): Promise<number[]> {
    if (this.size === 1) return values;
    const t = creation.tensor(values, { dtype: 'float64' });
    try {
      await distributed.broadcast(t, { group: this.group, src: this.group.ranks[0] });
      return Array.from(t.dataSync() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /** Each rank's numbers summed over the ranks. */
  async sumNumbers(values: number[]): Promise<number[]> {
    return this.reduceNumbers(values, 'sum');
  }

  private async reduceNumbers(values: number[], op: 'sum' | 'min'): Promise<number[]> {
    if (this.size === 1) return values;
    const t = creation.tensor(values, { dtype: 'float64' });
    try {
      await distributed.allReduce(t, { group: this.group, op });
      return Array.from(t.dataSync() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /**
   * This rank's training batches from a dataset or generator, and the steps per epoch every rank
   * runs (stepsPerEpoch when given). Auto-sharded (Keras 3's auto_shard_dataset, tf.distribute's
   * default): batch i goes to rank i % size and a last round of fewer than size batches is
   * dropped, so all ranks run floor(n / size) steps. A source the user sharded (Dataset.shard),
   * or any source with autoShardDataset off, is used as it is; without stepsPerEpoch the ranks
   * then agree to stop with the first rank that runs out: at the smallest batch count when every
   * rank knows its own, else batch by batch. Either way no rank is left in a gradient allreduce
   * that the others never start.
   */
  async trainSource(src: AsyncIterable<unknown>, stepsPerEpoch: number | undefined): Promise<{ source: AsyncIterable<unknown>; steps: number }> {
    if (this.size === 1) return { source: src, steps: stepsPerEpoch ?? batchCount(src) };
    if (this.autoShard && !isSharded(src)) {
      const n = batchCount(src);
      if (Number.isFinite(n) && n < this.size) {
        throw new RangeError(`fit: the dataset has ${n} batch${n === 1 ? '' : 'es'}, fewer than the ${this.size} processes that ` +
          `share them (each trains on every ${this.size}th batch): use a smaller batch size or more data`);
      }
      const source = shardBatches(src, this.rank, this.size, true);
      return { source, steps: stepsPerEpoch ?? batchCount(source) };
    }
    if (stepsPerEpoch !== undefined) return { source: src, steps: stepsPerEpoch };
    const own = batchCount(src);
    const [least] = await this.reduceNumbers([Number.isFinite(own) ? own : -1], 'min');
    if (least >= 0) return { source: src, steps: least };
    return { source: this.agreedBatches(src), steps: Infinity };
  }

  /** This rank's validation batches: every size-th one when auto-sharding (all of them: the states are summed), else src. */
  valSource(src: AsyncIterable<unknown>): AsyncIterable<unknown> {
    return this.size > 1 && this.autoShard && !isSharded(src) ? shardBatches(src, this.rank, this.size, false) : src;
  }

  /** src's batches while every rank still has one (a min-allreduce before each): the ranks stop together. */
  private agreedBatches(src: AsyncIterable<unknown>): AsyncIterable<unknown> {
    return {
      [Symbol.asyncIterator]: async function* (this: FitSync) {
        const s = src as AsyncIterable<unknown> | Iterable<unknown>;
        const it = Symbol.asyncIterator in s ? s[Symbol.asyncIterator]() : s[Symbol.iterator]();
        let ended = false;
        try {
          for (;;) {
            const r = await it.next();
            ended = !!r.done;
            const [all] = await this.reduceNumbers([r.done ? 0 : 1], 'min');
            if (all === 0) {
              if (!r.done) disposeBatch(r.value);
              return;
            }
            yield r.value;
          }
        } finally {
          if (!ended) await it.return?.();
        }
      }.bind(this),
    };
  }

  /** Sums the native metric states over the ranks, in place: their result() is then every rank's batches'. */
  async reduceStates(states: NativeObject[], extra: number[] = []): Promise<number[]> {
    const parts = states.map((s) => wrap(native.model_metrics_state(s)));
    const lens = parts.map((p) => p.shape[0]);
    const flat = [...parts.flatMap((p) => Array.from(p.dataSync() as Float64Array)), ...extra];
    for (const p of parts) p.dispose();
    const sum = await this.sumNumbers(flat);
    let off = 0;
    states.forEach((s, i) => {
      const t = creation.tensor(sum.slice(off, off + lens[i]), { dtype: 'float64' });
      native.model_metrics_set_state(s, t._h);
      t.dispose();
      off += lens[i];
    });
    return sum.slice(off);
  }

  /** How many samples each rank trains on per epoch (DistributedSampler: n rounded up to a multiple of the ranks). */
  shardSize(n: number): number {
    return Math.ceil(n / this.size);
  }

  /**
   * This rank's samples for an epoch, in DistributedSampler's order (seed 0 + epoch, the same
   * permutation on every rank; padded by repeating the first samples): batch k of rank r holds
   * samples kBW + r, kBW + r + W, ... of the epoch's order, so the ranks' batch k together is
   * the batch one process with batch size B*W would draw from that order.
   */
  trainShard(x: Tensor, y: Tensor, w: Tensor | undefined, epoch: number, shuffle: boolean): [Tensor, Tensor, Tensor | undefined] {
    this.disposeShards();
    const sampler = new DistributedSampler(x.shape[0], { numReplicas: this.size, rank: this.rank, shuffle, seed: 0 });
    sampler.setEpoch(epoch);
    return this.take(sampler.indices(), x, y, w, this.shards);
  }

  /** This rank's share of the validation samples (every size-th from its rank, unpadded: the states sum to the whole). */
  valShard(x: Tensor, y: Tensor): [Tensor, Tensor] {
    const idx: number[] = [];
    for (let i = this.rank; i < x.shape[0]; i += this.size) idx.push(i);
    const [xs, ys] = this.take(idx, x, y, undefined, this.held);
    return [xs, ys];
  }

  private take(indices: number[], x: Tensor, y: Tensor, w: Tensor | undefined, keep: Tensor[]): [Tensor, Tensor, Tensor | undefined] {
    const idx = creation.tensor(indices, { dtype: 'int64' });
    const moved: Tensor[] = [];
    const dev = (t: Tensor) => {
      if (t.device === idx.device) return idx;
      const m = idx.to({ device: t.device });
      moved.push(m);
      return m;
    };
    try {
      const out: [Tensor, Tensor, Tensor | undefined] = [x.indexSelect(0, dev(x)), y.indexSelect(0, dev(y)), w ? w.indexSelect(0, dev(w)) : undefined];
      for (const t of out) if (t) keep.push(t);
      return out;
    } finally {
      idx.dispose();
      for (const m of moved) m.dispose();
    }
  }

  private disposeShards(): void {
    for (const t of this.shards.splice(0)) t.dispose();
  }
}
