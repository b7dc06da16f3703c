// Keras' data adapters: turn what users pass to fit/evaluate/predict (tensors, typed arrays, nested
// arrays, several inputs as arrays or objects keyed by input name, data.Dataset, async iterables,
// ImageDataGenerator flows) into the batches the trainer loops over. Several inputs (or targets) are
// packed side by side into one row-aligned tensor, so that shuffling, validationSplit and batching are
// one code path for any number of them; the model unpacks them per batch.
import { native } from '../../native';
import { keep } from '../../memory';
import { cat } from '../../ops';
import { Tensor, typeOfValue, NestedArray, wrap } from '../../tensor';
import * as creation from '../../creation';
import { DType } from '../../dtype';
import { isObjectLike } from '../../callable';
import { carryShard, Dataset } from '../../data/dataset';

/** Training data: a Tensor, nested number arrays, or { data, shape, dtype? }. */
export type Data = Tensor | NestedArray | { data: ArrayLike<number> | ArrayBufferView; shape: number[]; dtype?: DType };

/** Data as a Tensor (a Tensor as is, else a new one), or a TypeError naming what. */
export function toTensor(v: unknown, what: string): Tensor {
  if (v instanceof Tensor) return v;
  if (Array.isArray(v)) return creation.tensor(v as NestedArray);
  if (v !== null && typeof v === 'object' && 'data' in v && 'shape' in v) {
    const o = v as { data: ArrayLike<number>; shape: number[]; dtype?: DType };
    return creation.tensor(o.data as never, { shape: o.shape, dtype: o.dtype });
  }
  throw new TypeError(`${what}: expected a Tensor, nested arrays or { data, shape } but received ${typeOfValue(v)}`);
}

/** Concatenates batch outputs along dim 0 and disposes them (an empty tensor for none). */
export function catAndFree(outs: Tensor[]): Tensor {
  if (outs.length === 0) return creation.zeros([0]);
  const r = cat(outs, 0);
  for (const t of outs) t.dispose();
  return r;
}

/** A Dataset (or any async iterable / iterable that is not an array or tensor) of batches. */
export function isBatchSource(v: unknown): v is AsyncIterable<unknown> {
  if (v === null || typeof v !== 'object' || v instanceof Tensor || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  return typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
    typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function';
}

/** A dataset's number of batches from cardinality() or length, Infinity when unknown. */
export function batchCount(ds: unknown): number {
  const d = ds as { cardinality?: () => number; length?: number };
  const n = typeof d.cardinality === 'function' ? d.cardinality() : d.length;
  if (typeof n === 'number' && Number.isFinite(n) && n > 0) return n;
  return Infinity;
}

/**
 * Keras' steps_per_epoch / validation_steps over a dataset or an ImageDataGenerator iterator:
 * each iteration yields `steps` batches from one iterator kept across epochs (so its prefetched
 * batches are used, not dropped), opening a new pass whenever one ends, as Keras' generators loop
 * indefinitely. A source that yields nothing on a new pass ends the epoch early.
 */
export class StepCursor implements AsyncIterable<unknown> {
  private it: AsyncIterator<unknown> | Iterator<unknown> | null = null;
  constructor(private readonly source: AsyncIterable<unknown> | Iterable<unknown>, private readonly steps: number) {}
  private open(): AsyncIterator<unknown> | Iterator<unknown> {
    const s = this.source;
    return Symbol.asyncIterator in s ? s[Symbol.asyncIterator]() : s[Symbol.iterator]();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    for (let b = 0; b < this.steps; b++) {
      let r = this.it ? await this.it.next() : { done: true, value: undefined };
      if (r.done) {
        this.it = this.open();
        r = await this.it.next();
        if (r.done) {
          this.it = null;
          return;
        }
      }
      yield r.value;
    }
  }
  /** Ends the pass in progress, so an iterator that prefetches frees what it holds. */
  async close(): Promise<void> {
    const it = this.it;
    this.it = null;
    await it?.return?.();
  }
}

/**
 * Rank `rank` of `size`'s share of a batch source (a distributed fit's auto-sharding): batch i
 * goes to rank i % size. With `equal`, the batches run in rounds of `size` and a round the
 * source ends inside is dropped on every rank, so each rank trains on the same number of batches
 * (floor(n / size)) and none waits in a gradient allreduce the others never start; without it
 * (validation, whose states are summed once at the end) every batch is used. The other ranks'
 * batches are made and disposed: every rank must see the same batches in the same order (seed
 * any shuffle). A data.Dataset keeps its index plan (Dataset.shard), so those batches are never
 * gathered.
 */
export function shardBatches(src: AsyncIterable<unknown> | Iterable<unknown>, rank: number, size: number, equal: boolean): AsyncIterable<unknown> {
  const card = batchCount(src);
  if (src instanceof Dataset && Number.isFinite(card)) {
    const mine = src.shard(size, rank);
    return equal ? mine.take(Math.floor(card / size)) : mine;
  }
  return {
    cardinality: () => (!Number.isFinite(card) ? -1 : equal ? Math.floor(card / size) : Math.floor(card / size) + (rank < card % size ? 1 : 0)),
    async *[Symbol.asyncIterator]() {
      const it = Symbol.asyncIterator in src ? (src as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (src as Iterable<unknown>)[Symbol.iterator]();
      let ended = false;
      try {
        for (;;) {
          let mine: { el: unknown } | null = null;
          for (let k = 0; k < size; k++) {
            const r = await it.next();
            if (r.done) {
              ended = true;
              break;
            }
            if (k === rank) mine = { el: r.value };
            else disposeBatch(r.value);
          }
          if (mine && (!ended || !equal)) yield mine.el;
          else if (mine) disposeBatch(mine.el);
          if (ended) return;
        }
      } finally {
        if (!ended) await it.return?.();
      }
    },
  } as AsyncIterable<unknown>;
}

/** [x, y] or [x, y, sampleWeight], or { x, y }. */
export function asBatch(el: unknown, where: string): [Tensor, Tensor, Tensor | undefined] {
  if (Array.isArray(el) && el.length >= 2 && el[0] instanceof Tensor && el[1] instanceof Tensor) {
    return [el[0], el[1], el[2] instanceof Tensor ? el[2] : undefined];
  }
  if (el !== null && typeof el === 'object' && (el as { x?: unknown }).x instanceof Tensor && (el as { y?: unknown }).y instanceof Tensor) {
    const o = el as { x: Tensor; y: Tensor };
    return [o.x, o.y, undefined];
  }
  throw new TypeError(`${where}: expected the dataset to yield [x, y] batches of tensors but it yielded ${typeOfValue(el)}`);
}

/** Disposes the tensors of one dataset element (a Tensor, an array or an object of them). */
export function disposeBatch(el: unknown): void {
  if (el instanceof Tensor) el.dispose();
  else if (Array.isArray(el)) for (const t of el) if (t instanceof Tensor) t.dispose();
  else if (el !== null && typeof el === 'object') for (const t of Object.values(el)) if (t instanceof Tensor) t.dispose();
}

/** Batches of (x, y[, w]) sliced from tensors, shuffled each epoch, for the batch-by-batch path. */
export function* tensorBatches(x: Tensor, y: Tensor, w: Tensor | undefined, batchSize: number, shuffle: boolean): Generator<Tensor[]> {
  const n = x.shape[0];
  // the native loop's order (one randperm per epoch), so a seed gives one batch order on both paths
  const order = shuffle ? keep(wrap(native.model_batch_order(n))) : null;
  try {
    for (let i = 0; i < n; i += batchSize) {
      if (order) {
        const idx = order.slice(0, i, i + batchSize);
        const b = [x.indexSelect(0, idx), y.indexSelect(0, idx), ...(w ? [w.indexSelect(0, idx)] : [])];
        idx.dispose();
        yield b;
      } else {
        yield [x.slice(0, i, i + batchSize), y.slice(0, i, i + batchSize), ...(w ? [w.slice(0, i, i + batchSize)] : [])];
      }
    }
  } finally {
    order?.dispose();
  }
}

/** A native result handle as a Tensor, an empty tensor when there is none. */
export function wrapResult(h: number | undefined): Tensor {
  if (h === undefined) return creation.zeros([0]);
  return wrap(h);
}

/** Where several tensors sit in a packed one: their per-sample shapes and dtypes, in order. */
export interface Packing {
  /** the packed tensors' names (output or input names), in order */
  names: string[];
  /** each one's per-sample shape */
  shapes: number[][];
  /** each one's dtype */
  dtypes: DType[];
  /** the packed tensor's dtype: theirs when they agree, float64 otherwise (exact for int32 and float32) */
  dtype: DType;
}

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function isDataObject(v: unknown): boolean {
  return isObjectLike(v) && 'data' in v && 'shape' in v;
}

/**
 * The tensors of a value given for several inputs (or outputs): an array of them, or an object keyed
 * by name. `names` are the model's input (output) names; null when the model does not declare them
 * (a subclassed model), where an array of Tensors means several. Returns null for a single value.
 */
export function structured(v: unknown, names: string[] | null, what: string): Tensor[] | null {
  if (v instanceof Tensor || isDataObject(v) || v === undefined || v === null) return null;
  if (Array.isArray(v)) {
    if (names === null) return v.length > 1 && v.every((e) => e instanceof Tensor) ? v.map((e, i) => toTensor(e, `${what}[${i}]`)) : null;
    if (names.length <= 1) return null;
    if (v.length !== names.length) {
      throw new RangeError(`${what}: the model has ${names.length} (${names.join(', ')}) but ${v.length} were given; pass one per name, ` +
        'as an array in that order or an object keyed by name');
    }
    return v.map((e, i) => toTensor(e, `${what}[${i}] (${names[i]})`));
  }
  if (isObjectLike(v) && Object.getPrototypeOf(v) === Object.prototype) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (names === null) throw new TypeError(`${what}: an object keyed by name needs a model with named inputs/outputs; pass an array`);
    const missing = names.filter((n) => !(n in o));
    const extra = keys.filter((k) => !names.includes(k));
    if (missing.length || extra.length) {
      throw new RangeError(`${what}: expected keys ${names.join(', ')}` + (missing.length ? `; missing ${missing.join(', ')}` : '') +
        (extra.length ? `; unknown ${extra.join(', ')}` : ''));
    }
    return names.map((n) => toTensor(o[n], `${what}.${n}`));
  }
  return null;
}

/** Packs tensors with the same number of samples into one [samples, sum of their sizes] tensor. */
export function pack(ts: Tensor[], names: string[], what: string): { packed: Tensor; packing: Packing } {
  const n = ts[0].ndim ? ts[0].shape[0] : -1;
  ts.forEach((t, i) => {
    if (t.ndim === 0 || t.shape[0] !== n) {
      throw new RangeError(`${what}: every array must have the same number of samples, but ${names[0]} has ${n} and ${names[i]} has ${t.ndim ? t.shape[0] : 'none'}`);
    }
  });
  const dtypes = ts.map((t) => t.dtype);
  const dtype = dtypes.every((d) => d === dtypes[0]) ? dtypes[0] : 'float64';
  const packed = cat(ts.map((t) => t.reshape([n, -1]).to(dtype)), 1);
  return { packed, packing: { names, shapes: ts.map((t) => t.shape.slice(1)), dtypes, dtype } };
}

/** The tensors a packed batch holds, in their own shapes and dtypes. */
export function unpack(t: Tensor, p: Packing): Tensor[] {
  const out: Tensor[] = [];
  let at = 0;
  const rows = t.shape[0];
  for (const [i, s] of p.shapes.entries()) {
    const w = numel(s);
    const part = t.slice(1, at, at + w).reshape([rows, ...s]);
    out.push(part.dtype === p.dtypes[i] ? part : part.to(p.dtypes[i]));
    at += w;
  }
  return out;
}

/** A dataset whose batches hold several inputs/targets, seen as one of packed [x, y(, w)] batches. */
export function packedSource(src: AsyncIterable<unknown> | Iterable<unknown>, packBatch: (el: unknown) => unknown): AsyncIterable<unknown> {
  const card = batchCount(src);
  return carryShard({
    cardinality: () => (Number.isFinite(card) ? card : -1),
    async *[Symbol.asyncIterator]() {
      const it = Symbol.asyncIterator in src ? (src as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (src as Iterable<unknown>)[Symbol.iterator]();
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield packBatch(r.value);
        }
      } finally {
        await it.return?.();
      }
    },
  } as AsyncIterable<unknown>, src);
}
