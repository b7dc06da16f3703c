// torch.utils.data for nodetorch: Dataset (getItem + length), TensorDataset, samplers and the
// DataLoader that batches them (shuffle, dropLast, collateFn, sampler), iterable with for...of and
// for await. numWorkers > 0 loads batches in worker threads (lib/utils/data_worker.ts), which
// rebuild the dataset from its class (required from the module that exports it, or evaluated from
// its source when the main script defines it) and its fields, as PyTorch's workers unpickle it.
import * as path from 'path';
import { Worker } from 'worker_threads';
import { Tensor } from '../tensor';
import { tensor } from '../creation';
import { stack } from '../ops';
import { tidy } from '../memory';
import { DType } from '../dtype';
import { Random, randomSeed } from '../data/random';
import * as check from '../util/check';

// ---- datasets ----

/**
 * A map-style dataset, as torch.utils.data.Dataset: subclasses define `getItem(index)`
 * (Python's __getitem__) and `length` (__len__). Iterable with for...of.
 */
export abstract class Dataset<T = unknown> implements Iterable<T> {
  /** The element at index (0 <= index < length). */
  abstract getItem(index: number): T;
  /** The number of elements. */
  abstract get length(): number;

  /** The elements in index order. */
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) yield this.getItem(i);
  }
}

type TensorRows<T extends readonly Tensor[]> = { -readonly [K in keyof T]: Tensor };

/** Rows of tensors of one length: item i is [t0[i], t1[i], ...], as torch.utils.data.TensorDataset. */
export class TensorDataset<const T extends readonly Tensor[] = Tensor[]> extends Dataset<TensorRows<T>> {
  readonly tensors: T;
  constructor(...tensors: T) {
    super();
    if (tensors.length === 0) throw new TypeError('TensorDataset: expected at least one Tensor');
    tensors.forEach((t, i) => {
      if (!(t instanceof Tensor)) throw check.invalidParameterError(`tensors[${i}]`, 'a Tensor', t, 'TensorDataset');
      if (t.ndim === 0) throw new RangeError(`TensorDataset: tensors[${i}] is 0-d; every tensor needs a first (sample) dimension`);
      if (t.shape[0] !== tensors[0].shape[0]) {
        throw new RangeError(`TensorDataset: size mismatch between tensors: tensors[0] has ${tensors[0].shape[0]} rows but ` +
          `tensors[${i}] has ${t.shape[0]}`);
      }
    });
    this.tensors = tensors;
  }
  getItem(index: number): TensorRows<T> {
    checkIndex('TensorDataset', index, this.length);
    return this.tensors.map((t) => t.index(index)) as unknown as TensorRows<T>;
  }
  get length(): number {
    return this.tensors[0].shape[0];
  }
  /** @internal a batch of rows with one indexSelect per tensor (what the default collate would give) */
  _rows(ids: number[]): TensorRows<T> {
    const index = tensor(Int32Array.from(ids));
    try {
      return this.tensors.map((t) => t.indexSelect(0, index)) as unknown as TensorRows<T>;
    } finally {
      index.dispose();
    }
  }
}

function checkIndex(where: string, i: unknown, n: number): void {
  if (!check.is.integer(i) || i < 0 || i >= n) {
    throw new RangeError(`${where}: index ${String(i)} is out of range for a dataset of length ${n}`);
  }
}

// ---- samplers ----

/** An iterable of dataset indices with a length (torch.utils.data.Sampler). */
export interface Sampler extends Iterable<number> { readonly length: number }

/** 0, 1, ..., n - 1. */
export class SequentialSampler implements Sampler {
  constructor(private readonly dataSource: { readonly length: number }) {}
  get length(): number {
    return this.dataSource.length;
  }
  /** The indices of one pass. */
  *[Symbol.iterator](): Iterator<number> {
    for (let i = 0; i < this.length; i++) yield i;
  }
}

/** A new random permutation of 0..n-1 for every pass; a seed makes the sequence of permutations repeatable. */
export class RandomSampler implements Sampler {
  private readonly seed: number;
  private epoch = 0;
  constructor(private readonly dataSource: { readonly length: number }, options?: { seed?: number }) {
    const o = check.options('RandomSampler', options, ['seed']);
    this.seed = o.seed === undefined ? randomSeed() : check.nonNegativeInt('RandomSampler', 'seed', o.seed);
  }
  get length(): number {
    return this.dataSource.length;
  }
  /** The indices of one pass. */
  *[Symbol.iterator](): Iterator<number> {
    const order = Array.from({ length: this.length }, (_, i) => i);
    yield* new Random(this.seed, this.epoch++).shuffle(order);
  }
}

// ---- collation ----

/** The batch defaultCollate makes of samples of type T (numbers, tensors, tuples, objects). */
export type Collate<T> = T extends Tensor | number | bigint | boolean | ArrayBufferView ? Tensor
  : T extends string ? string[]
  : T extends readonly unknown[] ? { -readonly [K in keyof T]: Collate<T[K]> }
  : T extends object ? { [K in keyof T]: Collate<T[K]> } : unknown;
type Collated = unknown;

/**
 * PyTorch's default_collate: tensors are stacked on a new first dim; numbers become a tensor
 * (int64 when all are integers, else float32), bigints int64, booleans bool; arrays (tuples) and
 * objects are collated position by position / key by key; strings stay a list.
 */
export function defaultCollate(batch: readonly unknown[]): Collated {
  if (!Array.isArray(batch) || batch.length === 0) throw new TypeError('defaultCollate: expected a non-empty array of samples');
  const first = batch[0];
  const same = (pred: (v: unknown) => boolean, what: string): void => {
    const bad = batch.findIndex((v) => !pred(v));
    if (bad >= 0) throw new TypeError(`defaultCollate: sample 0 is ${what} but sample ${bad} is ${check.describe(batch[bad])}`);
  };
  if (first instanceof Tensor) {
    same((v) => v instanceof Tensor, 'a Tensor');
    const shapes = new Set(batch.map((t) => (t as Tensor).shape.join()));
    if (shapes.size > 1) {
      throw new RangeError(`defaultCollate: cannot stack tensors of different shapes (${[...shapes].map((s) => `[${s}]`).join(', ')}); ` +
        'pad them in the dataset or pass a collateFn');
    }
    return stack(batch as Tensor[]);
  }
  if (typeof first === 'number') {
    same((v) => typeof v === 'number', 'a number');
    const ints = (batch as number[]).every(Number.isSafeInteger);
    return ints ? tensor(BigInt64Array.from(batch as number[], BigInt)) : tensor(Float32Array.from(batch as number[]));
  }
  if (typeof first === 'bigint') {
    same((v) => typeof v === 'bigint', 'a bigint');
    return tensor(BigInt64Array.from(batch as bigint[]));
  }
  if (typeof first === 'boolean') {
    same((v) => typeof v === 'boolean', 'a boolean');
    return tensor(batch as boolean[]);
  }
  if (typeof first === 'string') return [...batch];
  if (ArrayBuffer.isView(first)) {
    return stack(batch.map((v) => tensor(v as Float32Array)));
  }
  if (Array.isArray(first)) {
    same((v) => Array.isArray(v) && v.length === first.length, `an array of ${first.length}`);
    return first.map((_, i) => defaultCollate(batch.map((v) => (v as unknown[])[i])));
  }
  if (check.is.plainObject(first)) {
    const keys = Object.keys(first);
    same((v) => check.is.plainObject(v) && Object.keys(v).join() === keys.join(), `an object with keys ${keys.join(', ')}`);
    return Object.fromEntries(keys.map((k) => [k, defaultCollate(batch.map((v) => (v as Record<string, unknown>)[k]))]));
  }
  throw new TypeError(`defaultCollate: cannot collate samples of type ${check.describe(first)}; pass a collateFn`);
}

// ---- the loader ----

/** DataLoader's keyword arguments (PyTorch's names, camelCased). */
export interface DataLoaderOptions<T, B> {
  /** samples per batch (default 1); null yields samples one by one, uncollated */
  batchSize?: number | null;
  /** a new random order every pass (default false) */
  shuffle?: boolean;
  /** the order of indices (exclusive with shuffle) */
  sampler?: Sampler | Iterable<number>;
  /** load batches in this many worker threads (default 0: on the calling thread); iterate with for await */
  numWorkers?: number;
  /** turns a list of samples into a batch (default defaultCollate) */
  collateFn?: (samples: T[]) => B;
  /** drop the last batch when it is smaller than batchSize (default false) */
  dropLast?: boolean;
  /** seeds the shuffle: the same seed gives the same sequence of epoch orders */
  seed?: number;
  /** batches each worker loads ahead (default 2) */
  prefetchFactor?: number;
}

const LOADER_POSITIONAL = ['batchSize', 'shuffle', 'sampler', 'batchSampler', 'numWorkers', 'collateFn', 'pinMemory', 'dropLast'];
const LOADER_KEYWORDS = ['seed', 'prefetchFactor'];

/**
 * Batches of a Dataset, as torch.utils.data.DataLoader:
 * `new DataLoader(ds, { batchSize: 64, shuffle: true })` or `new DataLoader(ds, 64, true)`, then
 * `for (const [x, y] of loader)`. With numWorkers > 0, `for await` it: worker threads load batches.
 */
export class DataLoader<T = unknown, B = Collate<T>> implements Iterable<B>, AsyncIterable<B> {
  readonly dataset: Dataset<T>;
  readonly batchSize: number | null;
  readonly dropLast: boolean;
  readonly numWorkers: number;
  readonly prefetchFactor: number;
  readonly sampler: Sampler | Iterable<number>;
  private readonly collateFn: ((samples: T[]) => B) | undefined;

  constructor(dataset: Dataset<T>, ...args: [options?: DataLoaderOptions<T, B>]
    | [batchSize?: number | null, shuffle?: boolean, sampler?: Sampler | Iterable<number> | null, batchSampler?: null,
      numWorkers?: number, collateFn?: ((samples: T[]) => B) | null, pinMemory?: boolean, dropLast?: boolean,
      options?: { seed?: number; prefetchFactor?: number }]) {
    const where = 'DataLoader';
    if (!isDatasetLike(dataset)) {
      throw check.invalidParameterError('dataset', 'a Dataset (getItem(index) and length)', dataset, where);
    }
    const o = check.args(where, args, LOADER_POSITIONAL, LOADER_KEYWORDS);
    if (o.batchSampler != null) throw new TypeError(`${where}: batchSampler is not supported; use sampler with batchSize`);
    if (o.pinMemory) throw new TypeError(`${where}: pinMemory is not supported (CUDA pinned memory); move batches with .to('cuda')`);
    this.dataset = dataset;
    this.batchSize = o.batchSize === null ? null : check.positiveInt(where, 'batchSize', o.batchSize, 1);
    this.dropLast = check.boolean(where, 'dropLast', o.dropLast, false);
    this.numWorkers = check.nonNegativeInt(where, 'numWorkers', o.numWorkers, 0);
    this.prefetchFactor = check.positiveInt(where, 'prefetchFactor', o.prefetchFactor, 2);
    const shuffle = check.boolean(where, 'shuffle', o.shuffle, false);
    if (o.collateFn != null && typeof o.collateFn !== 'function') throw check.invalidParameterError('collateFn', 'a function', o.collateFn, where);
    this.collateFn = (o.collateFn ?? undefined) as ((samples: T[]) => B) | undefined;
    if (o.sampler != null) {
      if (shuffle) throw new TypeError(`${where}: sampler option is mutually exclusive with shuffle`);
      if (typeof (o.sampler as Iterable<number>)[Symbol.iterator] !== 'function') {
        throw check.invalidParameterError('sampler', 'an iterable of indices', o.sampler, where);
      }
      this.sampler = o.sampler as Iterable<number>;
    } else {
      this.sampler = shuffle ? new RandomSampler(dataset, { seed: o.seed as number | undefined }) : new SequentialSampler(dataset);
      if (!shuffle && o.seed !== undefined) throw new TypeError(`${where}: seed only applies with shuffle: true`);
    }
  }

  /** The number of batches in one pass (len(loader)). */
  get length(): number {
    const n = (this.sampler as { length?: number }).length ?? this.dataset.length;
    if (this.batchSize === null) return n;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Index lists of one pass, one per batch. */
  private *indexBatches(): Generator<number[]> {
    const size = this.batchSize ?? 1;
    const n = this.dataset.length;
    let ids: number[] = [];
    for (const i of this.sampler) {
      checkIndex('DataLoader', i, n);
      ids.push(i);
      if (ids.length === size) {
        yield ids;
        ids = [];
      }
    }
    if (ids.length > 0 && !(this.dropLast && this.batchSize !== null)) yield ids;
  }

  /** @internal one batch on this thread */
  _load(ids: number[]): B {
    const ds = this.dataset;
    if (this.batchSize === null) return ds.getItem(ids[0]) as unknown as B;
    if (!this.collateFn && ds instanceof TensorDataset) return ds._rows(ids) as B;
    return tidy(() => (this.collateFn ?? (defaultCollate as (s: T[]) => B))(ids.map((i) => ds.getItem(i))));
  }

  /** Batches on this thread; with numWorkers > 0 use for await. */
  *[Symbol.iterator](): Iterator<B> {
    if (this.numWorkers > 0) {
      throw new Error('DataLoader: with numWorkers > 0 batches arrive from worker threads; iterate with `for await (const batch of loader)`');
    }
    for (const ids of this.indexBatches()) yield this._load(ids);
  }

  /** Batches of one pass; with numWorkers > 0 they are loaded in worker threads. */
  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    if (this.numWorkers === 0) {
      for (const ids of this.indexBatches()) yield this._load(ids);
      return;
    }
    yield* loadInWorkers(this, this.indexBatches());
  }

  /** @internal what a worker needs: the dataset's module, export name and fields, and whether it collates */
  _workerInit(): WorkerInit {
    return { dataset: describeDataset(this.dataset), collate: !this.collateFn && this.batchSize !== null, unbatched: this.batchSize === null };
  }

  /** @internal */
  _collate(samples: T[]): B {
    return tidy(() => (this.collateFn as (s: T[]) => B)(samples));
  }
}

function isDatasetLike(d: unknown): d is Dataset<unknown> {
  return check.is.defined(d) && typeof (d as Dataset).getItem === 'function' && typeof (d as Dataset).length === 'number';
}

// ---- worker threads ----

/** @internal a tensor as it crosses threads: its bytes, shape and dtype */
export interface EncodedTensor { __tensor: true; bytes: ArrayBuffer; shape: number[]; dtype: DType }
/**
 * @internal how a worker rebuilds a dataset's class: require it from the module that exports it, or (a class
 * of the main script, or one not exported) evaluate its source over its rebuilt base class
 */
export type ClassRef = { module: string; exportName: string } | { source: string; name: string; base: ClassRef };
/** @internal */
export interface WorkerInit {
  dataset: { cls: ClassRef; fields: unknown };
  collate: boolean;
  unbatched: boolean;
}

/** Tensor leaves of a nest of arrays and plain objects as EncodedTensors (a copy of their bytes). */
export function encode(v: unknown, where: string, transfer?: ArrayBuffer[]): unknown {
  if (v instanceof Tensor) {
    const data = v.dataSync();
    const bytes = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    transfer?.push(bytes);
    return { __tensor: true, bytes, shape: [...v.shape], dtype: v.dtype } satisfies EncodedTensor;
  }
  if (Array.isArray(v)) return v.map((e, i) => encode(e, `${where}[${i}]`, transfer));
  if (check.is.plainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, encode(e, `${where}.${k}`, transfer)]));
  if (v === null || ['undefined', 'number', 'string', 'boolean', 'bigint'].includes(typeof v) || ArrayBuffer.isView(v)) return v;
  throw new TypeError(`DataLoader: ${where} is ${check.describe(v)}, which cannot be sent to a worker thread ` +
    '(fields may hold tensors, numbers, strings, typed arrays, and arrays or plain objects of them)');
}

/** EncodedTensors back to Tensors. */
export function decode(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decode);
  if (check.is.plainObject(v)) {
    if (v.__tensor === true) {
      const e = v as unknown as EncodedTensor;
      return tensor(Buffer.from(e.bytes), { shape: e.shape, dtype: e.dtype });
    }
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, decode(e)]));
  }
  return v;
}

/** The module (other than the main script, which a worker must not re-run) that exports cls, if one is loaded. */
function exportedFrom(cls: unknown): { module: string; exportName: string } | undefined {
  if (cls === TensorDataset) return { module: __filename, exportName: 'TensorDataset' };
  if (cls === Dataset) return { module: __filename, exportName: 'Dataset' };
  for (const m of Object.values(require.cache)) {
    const ex = m?.exports as Record<string, unknown> | undefined;
    if (!m || m === require.main || !ex || (typeof ex !== 'object' && typeof ex !== 'function')) continue;
    for (const k of Object.keys(ex)) {
      if (ex[k] === cls) return { module: m.filename, exportName: k };
    }
  }
  return undefined;
}

/** How a worker finds the class: its exporting module, else its source over its base class (Dataset at the root). */
function classRef(cls: new (...a: never[]) => unknown, datasetName: string): ClassRef {
  const found = exportedFrom(cls);
  if (found) return found;
  const source = Function.prototype.toString.call(cls);
  const base = Object.getPrototypeOf(cls) as new (...a: never[]) => unknown;
  if (!/^class\b/.test(source) || typeof base !== 'function' || base === Function.prototype) {
    throw new Error(`DataLoader: numWorkers > 0 rebuilds ${datasetName} in worker threads but it is not an instance of a ` +
      'class extending nt.utils.data.Dataset: subclass Dataset, or use numWorkers: 0');
  }
  return { source, name: cls.name, base: classRef(base, datasetName) };
}

/** What a worker needs to rebuild ds (as PyTorch's workers unpickle it): its class and its own fields. */
function describeDataset(ds: Dataset<unknown>): WorkerInit['dataset'] {
  const ctor = ds.constructor as new (...a: never[]) => unknown;
  const name = ctor === Object || !ctor?.name ? 'the dataset' : ctor.name;
  const cls = classRef(ctor, name);
  let fields: unknown;
  try {
    fields = encode({ ...ds }, `${name}'s field`);
  } catch (e) {
    throw new TypeError(`${(e as Error).message}; a worker rebuilds ${name} from its fields: keep the data in such fields ` +
      '(load files or build objects lazily in getItem), or use numWorkers: 0');
  }
  return { cls, fields };
}

/** The worker script; under ts-node/tsx/jest the .ts sources need tsx's loader in the worker too. */
function startWorker(): Worker {
  const file = path.join(__dirname, `data_worker${path.extname(__filename)}`);
  if (file.endsWith('.ts')) {
    return new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true });
  }
  return new Worker(file);
}

interface Reply { id: number; batch?: unknown; error?: { message: string; stack?: string } }

/** Batches from numWorkers threads, in the sampler's order, each worker prefetchFactor batches ahead. */
async function* loadInWorkers<T, B>(loader: DataLoader<T, B>, batches: Iterator<number[]>): AsyncGenerator<B> {
  const init = loader._workerInit();
  const workers = Array.from({ length: loader.numWorkers }, startWorker);
  const pending = new Map<number, { resolve: (r: Reply) => void; promise: Promise<Reply> }>();
  const expect = (id: number): { resolve: (r: Reply) => void; promise: Promise<Reply> } => {
    let resolve!: (r: Reply) => void;
    const promise = new Promise<Reply>((r) => { resolve = r; });
    const p = { resolve, promise };
    pending.set(id, p);
    return p;
  };
  let failure: Error | undefined;
  for (const w of workers) {
    w.on('message', (r: Reply) => pending.get(r.id)?.resolve(r));
    w.on('error', (e) => {
      failure = e;
      for (const p of pending.values()) p.resolve({ id: -1, error: { message: e.message, stack: e.stack } });
    });
    w.postMessage({ type: 'init', init });
  }
  let sent = 0;
  const queue: number[] = [];
  const send = (): boolean => {
    const r = batches.next();
    if (r.done) return false;
    const id = sent++;
    expect(id);
    queue.push(id);
    workers[id % workers.length].postMessage({ type: 'load', id, ids: r.value });
    return true;
  };
  try {
    for (let i = 0; i < loader.numWorkers * loader.prefetchFactor && send(); i++);
    while (queue.length > 0) {
      const id = queue.shift() as number;
      const r = await (pending.get(id) as { promise: Promise<Reply> }).promise;
      pending.delete(id);
      if (r.error || failure) {
        const e = new Error(`DataLoader worker: ${r.error?.message ?? failure?.message}`);
        if (r.error?.stack) e.stack = `${e.message}\n(in worker) ${r.error.stack}`;
        throw e;
      }
      send();
      const got = decode(r.batch);
      yield (init.collate || init.unbatched ? got : loader._collate(got as T[])) as B;
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// distributed: torch.utils.data.DistributedSampler (each rank's share of every epoch)
export { DistributedSampler } from './distributed_sampler';
export type { DistributedSamplerOptions } from './distributed_sampler';
