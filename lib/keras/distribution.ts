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

/** Keras 3's DataParallel: every process holds the whole model and trains on its share of each batch. */
export class DataParallel {
  /** the devices this process trains on (Keras' devices; one per process here) */
  readonly devices: string[];
  /** DataParallel(devices?) or DataParallel({ devices }) as Keras 3. */
  constructor(devices?: string[] | { devices?: string[] }) {
    const list = Array.isArray(devices) ? devices : devices === undefined ? undefined : (devices as { devices?: string[] }).devices;
    if (devices !== undefined && !Array.isArray(devices) && (devices === null || typeof devices !== 'object')) {
      throw new TypeError(`DataParallel: expected a list of devices or { devices } but received ${typeOfValue(devices)}`);
    }
    if (list !== undefined && (!Array.isArray(list) || list.some((d) => typeof d !== 'string'))) {
      throw new TypeError(`DataParallel: expected devices to be an array of device names like 'cpu:0' but received ${typeOfValue(list)}`);
    }
    this.devices = list ? [...list] : listDevices();
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
    private readonly entry: ReducerEntry | null) {}

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
    return new FitSync(group, rank, size, entry);
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
    if (this.size === 1) return values;
    const t = creation.tensor(values, { dtype: 'float64' });
    try {
      await distributed.allReduce(t, { group: this.group });
      return Array.from(t.dataSync() as Float64Array);
    } finally {
      t.dispose();
    }
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
