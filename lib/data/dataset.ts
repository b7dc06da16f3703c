// data.Dataset: tf.data's input pipeline as an immutable, re-iterable async iterable. Sources,
// transformations, batching (one indexSelect per component for sliced sources) and pull-ahead prefetch.
import * as check from '../util/check';
import * as os from 'os';
import { Tensor, typeOfValue } from '../tensor';
import { tensor } from '../creation';
import { stack } from '../ops';
import { tidy } from '../memory';

/**
 * Ownership: an element belongs to whoever holds it. Each stage owns what it pulls and disposes
 * what it does not pass on (map's unused inputs, filter's rejects, batch's unstacked elements,
 * shuffle/prefetch buffers of an abandoned pass), so the consumer owns what it receives. Tensors
 * handed to fromTensors/fromTensorSlices/fromArray stay the caller's: the pipeline yields new
 * handles to them. Tensors a generator yields or a map fn returns are handed to the pipeline.
 */

/** prefetch(AUTOTUNE) and map(fn, { numParallelCalls: AUTOTUNE }) pick a size for this machine. */
export const AUTOTUNE = -1;
/** cardinality() of a dataset whose size is not known without iterating it. */
export const UNKNOWN = -1;
/** cardinality() of an endless dataset. */
export const INFINITE = Infinity;

type TensorNest = Tensor | readonly TensorNest[] | { readonly [key: string]: TensorNest };
/** The element type of a sliced structure: the same nest, mutable. */
export type Sliced<T> = T extends Tensor ? Tensor
  : T extends readonly unknown[] ? { -readonly [K in keyof T]: Sliced<T[K]> }
    : T extends object ? { -readonly [K in keyof T]: Sliced<T[K]> } : T;
/** The element type after batch(): tensors and JS numbers become stacked tensors, strings arrays. */
export type Batched<T> = T extends Tensor ? Tensor
  : T extends number | bigint | boolean ? Tensor
    : T extends string ? string[]
      : T extends readonly unknown[] ? { -readonly [K in keyof T]: Batched<T[K]> }
        : T extends object ? { -readonly [K in keyof T]: Batched<T[K]> } : T;
/** The element type of a dataset after unbatch. */
export type Unbatched<T> = T;
type ElementOf<D> = D extends Dataset<infer E> ? E : never;

/** Dataset.shuffle's options. */
export interface ShuffleOptions {
  /** Makes the orders reproducible; without it each dataset draws a random seed. */
  seed?: number;
  /** A new order on every pass (default true); false replays the first pass's order. */
  reshuffleEachIteration?: boolean;
}
/** Dataset.batch's options. */
export interface BatchOptions { dropRemainder?: boolean }
/** Dataset.map's options. */
export interface MapOptions {
  /** How many calls of an async fn run at once (default 1); results keep their order. */
  numParallelCalls?: number;
}
/** What Dataset.fromGenerator reads: sync or async iterators and iterables. */
export type GeneratorSource<T> = Iterator<T> | AsyncIterator<T> | Iterable<T> | AsyncIterable<T>;

// ---- element structure ----

const isPlainObject = check.is.plainObject;

function forEachTensor(el: unknown, f: (t: Tensor) => void): void {
  if (el instanceof Tensor) f(el);
  else if (Array.isArray(el)) for (const e of el) forEachTensor(e, f);
  else if (isPlainObject(el)) for (const k of Object.keys(el)) forEachTensor(el[k], f);
}

/** Rebuilds the nest with f applied to each leaf (anything not an array or plain object). */
function mapLeaves(el: unknown, f: (leaf: unknown, path: string) => unknown, path = ''): unknown {
  if (el instanceof Tensor) return f(el, path);
  if (Array.isArray(el)) return el.map((e, i) => mapLeaves(e, f, `${path}[${i}]`));
  if (isPlainObject(el)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(el)) out[k] = mapLeaves(el[k], f, `${path}.${k}`);
    return out;
  }
  return f(el, path);
}

function leavesOf(el: unknown): { path: string; leaf: unknown }[] {
  const out: { path: string; leaf: unknown }[] = [];
  mapLeaves(el, (leaf, path) => out.push({ path, leaf }));
  return out;
}

/** Frees every tensor of an element (idempotent: disposed tensors are skipped). */
export function disposeElement(el: unknown): void {
  forEachTensor(el, (t) => t.dispose());
}

/** A new handle to the same storage, so the consumer may dispose it without touching the original. */
function alias(t: Tensor): Tensor {
  return t.ndim === 0 ? t.reshape([]) : t.narrow(0, 0, t.shape[0]);
}

function aliasElement<T>(el: T): T {
  return mapLeaves(el, (leaf) => (leaf instanceof Tensor ? alias(leaf) : leaf)) as T;
}

function where(path: string): string {
  return path === '' ? 'the element' : path.startsWith('.') ? path.slice(1) : path;
}

function describeLeaf(v: unknown): string {
  return v instanceof Tensor ? `a Tensor of shape [${v.shape.join(', ')}]` : typeOfValue(v);
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** Stacks elements of one structure leaf-wise, then frees the elements. */
function stackElements(els: unknown[], op: string): unknown {
  try {
    const first = leavesOf(els[0]);
    const columns = first.map(() => [] as unknown[]);
    for (let e = 0; e < els.length; e++) {
      const leaves = e === 0 ? first : leavesOf(els[e]);
      if (leaves.length !== first.length || leaves.some((l, i) => l.path !== first[i].path)) {
        throw new TypeError(`${op}: element ${e} of the batch has a different structure from element 0 ` +
          `(leaves ${leaves.map((l) => where(l.path)).join(', ')} vs ${first.map((l) => where(l.path)).join(', ')})`);
      }
      for (let i = 0; i < leaves.length; i++) columns[i].push(leaves[i].leaf);
    }
    const stacked = first.map(({ path, leaf }, i) => {
      const col = columns[i];
      if (leaf instanceof Tensor) {
        for (let e = 1; e < col.length; e++) {
          const t = col[e];
          if (!(t instanceof Tensor) || t.shape.length !== leaf.shape.length || t.shape.some((s, d) => s !== leaf.shape[d])) {
            throw new TypeError(`${op}: cannot stack ${where(path)}: element 0 has shape ${shapeStr(leaf.shape)} but element ${e} ` +
              `has ${t instanceof Tensor ? `shape ${shapeStr(t.shape)}` : typeOfValue(t)}; map the elements to one shape first`);
          }
        }
        return stack(col as Tensor[]);
      }
      const kind = typeof leaf;
      if (kind === 'number' || kind === 'bigint' || kind === 'boolean') {
        const bad = col.findIndex((v) => typeof v !== kind);
        if (bad >= 0) throw new TypeError(`${op}: cannot batch ${where(path)}: element 0 is a ${kind} but element ${bad} is ${describeLeaf(col[bad])}`);
        return tensor(col as number[]);
      }
      return col;
    });
    let k = 0;
    return mapLeaves(els[0], () => stacked[k++]);
  } finally {
    for (const el of els) disposeElement(el);
  }
}

// ---- argument checks ----

function describeNumber(v: unknown): string {
  return typeof v === 'number' ? String(v) : typeOfValue(v);
}

function positiveInt(v: unknown, op: string, name: string, allowInfinite = false): number {
  if (typeof v === 'number' && ((Number.isSafeInteger(v) && v > 0) || (allowInfinite && v === Infinity))) return v;
  throw new TypeError(`${op}: expected ${name} to be a positive integer${allowInfinite ? ' or Infinity' : ''} but received ${describeNumber(v)}`);
}

/** A count where -1 and Infinity mean "all" (tf.data's take(-1), repeat(-1)). */
function countArg(v: unknown, op: string, name: string): number {
  if (v === undefined || v === -1 || v === Infinity) return Infinity;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  throw new TypeError(`${op}: expected ${name} to be a non-negative integer (-1 or Infinity for all) but received ${describeNumber(v)}`);
}

function checkFn(fn: unknown, op: string): void {
  if (typeof fn !== 'function') throw new TypeError(`${op}: expected a function but received ${typeOfValue(fn)}`);
}

function checkDataset(d: unknown, op: string, name: string): Dataset<unknown> {
  if (d instanceof Dataset) return d;
  throw new TypeError(`${op}: expected a Dataset for ${name} but received ${typeOfValue(d)}`);
}

function checkOptions(o: unknown, op: string): void {
  if (o !== undefined && !isPlainObject(o)) throw new TypeError(`${op}: expected an options object but received ${typeOfValue(o)}`);
}

// ---- randomness: a small seeded PRNG so orders reproduce across runs and platforms ----

/** mulberry32: 32-bit state, uniform in [0, 1). Internal (also the fuzzers' case generator). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of pass `epoch` of a shuffle seeded with `seed`. */
function passSeed(seed: number, epoch: number): number {
  let h = (Math.trunc(seed) % 4294967296) ^ Math.imul(epoch + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * tf.data's buffer shuffle: fill a buffer of `size`, then emit a random slot and refill it from
 * upstream; drain at the end. Written once for indices and once for elements with the same draws,
 * so a sliced source shuffles to the same order on the fast path and the element path.
 */
function* shuffleIndices(src: Iterator<number>, size: number, rand: () => number): Generator<number> {
  const buf: number[] = [];
  for (let r = src.next(); !r.done; r = src.next()) {
    if (buf.length < size) { buf.push(r.value); continue; }
    const j = Math.floor(rand() * size);
    const out = buf[j];
    buf[j] = r.value;
    yield out;
  }
  while (buf.length > 0) {
    const j = Math.floor(rand() * buf.length);
    const out = buf[j];
    buf[j] = buf[buf.length - 1];
    buf.pop();
    yield out;
  }
}

async function* shuffleElements<T>(up: AsyncIterable<T>, size: number, rand: () => number): AsyncGenerator<T> {
  const buf: T[] = [];
  try {
    for await (const el of up) {
      if (buf.length < size) { buf.push(el); continue; }
      const j = Math.floor(rand() * size);
      const out = buf[j];
      buf[j] = el;
      yield out;
    }
    while (buf.length > 0) {
      const j = Math.floor(rand() * buf.length);
      const out = buf[j];
      buf[j] = buf[buf.length - 1];
      buf.pop();
      yield out;
    }
  } finally {
    for (const el of buf) disposeElement(el);
  }
}

// ---- index plans: sliced sources and the ops that only reorder them ----

/**
 * A dataset whose elements are rows of source tensors, in an order computed on indices alone
 * (fromTensorSlices, range, and shuffle/take/skip/repeat/prefetch over them). batch() over a plan
 * gathers a whole batch with one indexSelect per component instead of stacking rows.
 */
interface Plan {
  /** The nest of source tensors (made on first use for range). */
  source(): unknown;
  /** Row count of one pass: Infinity for endless, never unknown. */
  size: number;
  /** The rows of one pass; each call starts a pass (a reshuffling shuffle draws its next order). */
  order(): Iterator<number>;
}

function* rangeOrder(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function* planElements(plan: Plan): AsyncGenerator<unknown> {
  yield* planElementsSync(plan);
}

function* planElementsSync(plan: Plan): Generator<unknown> {
  const order = plan.order();
  const src = plan.source();
  for (let r = order.next(); !r.done; r = order.next()) {
    const i = r.value;
    yield mapLeaves(src, (t) => (t as Tensor).index(i));
  }
}

/** Rows `ids` of every component: a copy, so in-place ops on a batch never reach the source. */
function gatherRows(src: unknown, ids: number[]): unknown {
  const first = ids[0];
  let consecutive = true;
  for (let k = 1; k < ids.length && consecutive; k++) consecutive = ids[k] === first + k;
  if (consecutive) {
    return mapLeaves(src, (t) => {
      const view = (t as Tensor).narrow(0, first, ids.length);
      try {
        return view.clone();
      } finally {
        view.dispose();
      }
    });
  }
  const index = tensor(Int32Array.from(ids));
  try {
    return mapLeaves(src, (t) => (t as Tensor).indexSelect(0, index));
  } finally {
    index.dispose();
  }
}

async function* planBatches(plan: Plan, n: number, dropRemainder: boolean): AsyncGenerator<unknown> {
  yield* planBatchesSync(plan, n, dropRemainder);
}

function* planBatchesSync(plan: Plan, n: number, dropRemainder: boolean): Generator<unknown> {
  const order = plan.order();
  const src = plan.source();
  for (;;) {
    const ids: number[] = [];
    for (let r = ids.length < n ? order.next() : undefined; r && !r.done; r = ids.length < n ? order.next() : undefined) {
      ids.push(r.value);
    }
    if (ids.length === 0 || (ids.length < n && dropRemainder)) return;
    yield gatherRows(src, ids);
    if (ids.length < n) return;
  }
}

function checkSlices(tensors: unknown, op: string): number {
  const leaves = leavesOf(tensors);
  if (leaves.length === 0) throw new TypeError(`${op}: expected a Tensor, or an array or object of Tensors, but received an empty ${typeOfValue(tensors)}`);
  let n = -1;
  let firstPath = '';
  let firstShape: readonly number[] = [];
  for (const { path, leaf } of leaves) {
    if (!(leaf instanceof Tensor)) {
      throw new TypeError(`${op}: expected Tensors but ${where(path)} is ${typeOfValue(leaf)}; wrap JS data with nt.tensor()`);
    }
    if (leaf.isDisposed) throw new Error(`${op}: ${where(path)} is a disposed Tensor`);
    if (leaf.ndim === 0) throw new TypeError(`${op}: cannot slice a 0-d Tensor (${where(path)}); use Dataset.fromTensors for a single element`);
    if (n < 0) {
      n = leaf.shape[0];
      firstPath = path;
      firstShape = leaf.shape;
    } else if (leaf.shape[0] !== n) {
      throw new RangeError(`${op}: all components must have the same size in dim 0, but ${where(firstPath)} has shape ` +
        `${shapeStr(firstShape)} and ${where(path)} has shape ${shapeStr(leaf.shape)}`);
    }
  }
  return n;
}

// ---- the pull-ahead and parallel-map loops ----

const noop = (): void => undefined;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function isAsyncFunction(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } }).constructor?.name;
  return name === 'AsyncFunction' || name === 'AsyncGeneratorFunction';
}

/**
 * Calls a user function on an element. A plain (non-async) function runs inside tidy(), so its
 * intermediate tensors are freed as soon as it returns; an async one cannot be scoped (tidy is
 * synchronous) and should free its own intermediates.
 */
function callUser<R>(fn: (x: never) => R | Promise<R>, arg: unknown): R | Promise<R> {
  if (isAsyncFunction(fn)) return fn(arg as never);
  let pending: Promise<R> | undefined;
  const out = tidy(() => {
    const r = fn(arg as never);
    if (isThenable(r)) {
      pending = Promise.resolve(r);
      return undefined;
    }
    return r;
  });
  return pending ?? (out as R);
}

async function* mapElements<T, U>(up: AsyncIterable<T>, fn: (el: T) => U | Promise<U>, parallel: number): AsyncGenerator<U> {
  const it = up[Symbol.asyncIterator]();
  const pending: Promise<U>[] = [];
  let ended = false;
  const apply = async (el: T): Promise<U> => {
    let out: U;
    try {
      out = await callUser(fn, el);
    } catch (e) {
      disposeElement(el);
      throw e;
    }
    const kept = new Set<Tensor>();
    forEachTensor(out, (t) => kept.add(t));
    forEachTensor(el, (t) => { if (!kept.has(t)) t.dispose(); });
    return out;
  };
  try {
    for (;;) {
      while (!ended && pending.length < parallel) {
        const r = await it.next();
        if (r.done) { ended = true; break; }
        const p = apply(r.value);
        p.catch(noop); // awaited in order below; this only keeps a later failure from counting as unhandled
        pending.push(p);
      }
      const next = pending.shift();
      if (next === undefined) return;
      yield await next;
    }
  } finally {
    for (const p of pending) p.then(disposeElement, noop);
    if (!ended) await it.return?.();
  }
}

async function* prefetchElements<T>(up: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  // Async generators queue next() calls, so n outstanding requests keep the upstream working
  // while the consumer holds the current element.
  const it = up[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  let ended = false;
  const request = (): void => {
    const p = it.next();
    p.catch(noop);
    queue.push(p);
  };
  try {
    for (;;) {
      while (queue.length < n) request();
      const r = await queue.shift()!;
      if (r.done) { ended = true; return; }
      while (queue.length < n) request();
      yield r.value;
    }
  } finally {
    for (const p of queue) p.then((r) => { if (!r.done) disposeElement(r.value); }, noop);
    if (!ended) await it.return?.();
  }
}

async function* iterateSource<T>(factory: () => GeneratorSource<T>, op: string): AsyncGenerator<T> {
  const src = factory();
  let it: Iterator<T> | AsyncIterator<T>;
  if (src !== null && typeof src === 'object' && typeof (src as AsyncIterable<T>)[Symbol.asyncIterator] === 'function') {
    it = (src as AsyncIterable<T>)[Symbol.asyncIterator]();
  } else if (src !== null && typeof src === 'object' && typeof (src as Iterable<T>)[Symbol.iterator] === 'function') {
    it = (src as Iterable<T>)[Symbol.iterator]();
  } else if (src !== null && typeof src === 'object' && typeof (src as Iterator<T>).next === 'function') {
    it = src as Iterator<T>;
  } else {
    throw new TypeError(`${op}: expected the function to return an iterator or iterable but it returned ${typeOfValue(src)}`);
  }
  let ended = false;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) { ended = true; return; }
      yield r.value;
    }
  } finally {
    if (!ended) await it.return?.();
  }
}

// Dataset.shard's mark, carried by every dataset derived from a sharded one (and by the packed
// sources over it): a distributed fit leaves such a source as the user sharded it.
const shardedSources = new WeakSet<object>();

/** @internal whether a batch source is Dataset.shard's result or derived from one */
export function isSharded(source: unknown): boolean {
  return typeof source === 'object' && source !== null && shardedSources.has(source);
}

/** @internal `to`, marked sharded when any of `from` is */
export function carryShard<T extends object>(to: T, ...from: unknown[]): T {
  if (from.some(isSharded)) shardedSources.add(to);
  return to;
}

function mergeCardinality(sizes: number[], how: 'min' | 'sum'): number {
  if (sizes.some((s) => s === UNKNOWN)) return UNKNOWN;
  return how === 'min' ? Math.min(...sizes) : sizes.reduce((a, b) => a + b, 0);
}

// ---- Dataset ----

/** A tf.data-style input pipeline: from arrays, tensors, files or generators, with map, shuffle, batch, prefetch. */
export class Dataset<T = unknown> implements AsyncIterable<T>, Iterable<T> {
  private readonly iterate: () => AsyncIterator<T>;
  private readonly size: () => number;
  /** @internal set when the elements are rows of source tensors */
  readonly _plan: Plan | undefined;

  /**
   * @internal for sources that are Datasets with more to say (imageDatasetFromDirectory's and
   * textDatasetFromDirectory's classNames): `iterate` starts a pass, `size` is the cardinality.
   */
  protected constructor(iterate: () => AsyncIterator<T>, size: () => number, plan?: Plan, syncIterate?: () => Iterator<T>) {
    this.iterate = iterate;
    this.size = size;
    this._plan = plan;
    this.syncIterate = syncIterate;
  }

  /** @internal a synchronous pass, for datasets whose elements need no waiting (tensor rows, arrays) */
  private readonly syncIterate: (() => Iterator<T>) | undefined;

  private static fromPlan<T>(plan: Plan): Dataset<T> {
    return new Dataset<T>(() => planElements(plan) as AsyncGenerator<T>, () => plan.size, plan,
      () => planElementsSync(plan) as Generator<T>);
  }

  /** Each call starts a new pass over the data. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterate();
  }

  /**
   * for...of, where the source is synchronous: fromTensorSlices, fromTensors, fromArray, range, and
   * shuffle/batch/take/skip/repeat over them. Other pipelines (map, filter, generators, files)
   * may wait on I/O or async functions: iterate them with for await.
   */
  [Symbol.iterator](): Iterator<T> {
    if (!this.syncIterate) {
      throw new TypeError('Dataset: this pipeline has asynchronous steps (map, filter, a generator, files, prefetch over them...); ' +
        'iterate it with `for await (const el of dataset)`');
    }
    return this.syncIterate();
  }

  // ---- sources ----

  /** One element: the given tensor or nest of tensors (new handles each pass; the inputs stay yours). */
  static fromTensors<T>(tensors: T): Dataset<T> {
    return new Dataset<T>(async function* () { yield aliasElement(tensors); }, () => 1, undefined,
      function* () { yield aliasElement(tensors); });
  }

  /**
   * The rows of a tensor, or of each tensor in an array or object, along dim 0: fromTensorSlices([x, y])
   * yields [x[i], y[i]]. Rows are views; batch() copies. Keep the inputs alive while the dataset is used.
   */
  static fromTensorSlices<const T extends TensorNest>(tensors: T): Dataset<Sliced<T>> {
    const n = checkSlices(tensors, 'Dataset.fromTensorSlices');
    return Dataset.fromPlan({ source: () => tensors, size: n, order: () => rangeOrder(n) });
  }

  /** The elements of an array as they are (tensor leaves as new handles each pass). */
  static fromArray<T>(array: readonly T[]): Dataset<T> {
    if (!Array.isArray(array)) throw new TypeError(`Dataset.fromArray: expected an array but received ${typeOfValue(array)}`);
    return new Dataset<T>(async function* () { for (const el of array) yield aliasElement(el); }, () => array.length, undefined,
      function* () { for (const el of array) yield aliasElement(el); });
  }

  /**
   * Elements of a sync or async iterator; `factory` is called again for every pass. The tensors it
   * yields are handed to the pipeline (yield fresh ones, not tensors you keep using).
   */
  static fromGenerator<T>(factory: () => GeneratorSource<T>): Dataset<T> {
    const op = 'Dataset.fromGenerator';
    if (typeof factory !== 'function') {
      throw new TypeError(`${op}: expected a function that returns an iterator (called again for every pass) but received ${typeOfValue(factory)}`);
    }
    return new Dataset<T>(() => iterateSource(factory, op), () => UNKNOWN);
  }

  /** int64 scalars start, start + step, … below stop (Python's range): range(n) or range(start, stop, step). */
  static range(start: number, stop?: number, step = 1): Dataset<Tensor> {
    const op = 'Dataset.range';
    if (stop === undefined) { stop = start; start = 0; }
    for (const [name, v] of [['start', start], ['stop', stop], ['step', step]] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`${op}: expected ${name} to be an integer but received ${describeNumber(v)}`);
    }
    if (step === 0) throw new RangeError(`${op}: step must not be 0`);
    const n = Math.max(0, Math.ceil((stop - start) / step));
    const first = start;
    let values: Tensor | undefined;
    return Dataset.fromPlan({
      source: () => {
        if (values === undefined || values.isDisposed) {
          const v = new BigInt64Array(n);
          for (let i = 0; i < n; i++) v[i] = BigInt(first + i * step);
          values = tensor(v);
        }
        return values;
      },
      size: n,
      order: () => rangeOrder(n),
    });
  }

  /** Elements of several datasets side by side: zip([a, b]) yields [ea, eb]; zip({ a, b }) yields { a: ea, b: eb }. Ends with the shortest. */
  static zip<const D extends readonly Dataset<unknown>[] | { readonly [key: string]: Dataset<unknown> }>(
    datasets: D): Dataset<{ -readonly [K in keyof D]: ElementOf<D[K]> }> {
    const op = 'Dataset.zip';
    if (!Array.isArray(datasets) && !isPlainObject(datasets)) {
      throw new TypeError(`${op}: expected an array or object of Datasets but received ${typeOfValue(datasets)}`);
    }
    const keys = Object.keys(datasets);
    const list = keys.map((k) => checkDataset((datasets as Record<string, unknown>)[k], op, Array.isArray(datasets) ? `[${k}]` : k));
    const isArray = Array.isArray(datasets);
    type E = { -readonly [K in keyof D]: ElementOf<D[K]> };
    return carryShard(new Dataset<E>(async function* () {
      const its = list.map((d) => d[Symbol.asyncIterator]());
      try {
        for (;;) {
          const settled = await Promise.allSettled(its.map((it) => it.next()));
          const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          const rs = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
          if (failed || rs.some((r) => r.done)) {
            for (const r of rs) if (!r.done) disposeElement(r.value);
            if (failed) throw failed.reason;
            return;
          }
          if (isArray) yield rs.map((r) => r.value) as unknown as E;
          else {
            const out: Record<string, unknown> = {};
            keys.forEach((k, i) => { out[k] = rs[i].value; });
            yield out as E;
          }
        }
      } finally {
        await Promise.all(its.map((it) => it.return?.()));
      }
    }, () => mergeCardinality(list.map((d) => d.cardinality()), 'min')), ...list);
  }

  // ---- transformations ----

  /**
   * fn applied to each element; fn may be async. A plain function runs inside nt.tidy(), so
   * intermediates are freed; tensors of the input it does not return are disposed after it.
   * numParallelCalls > 1 runs several async calls at once (e.g. image decoding), in order.
   * A plain function that returns a Promise loses the tensors it made before returning: declare it async.
   */
  map<U>(fn: (element: T) => U | Promise<U>, options: MapOptions = {}): Dataset<U> {
    const op = 'Dataset.map';
    checkFn(fn, op);
    checkOptions(options, op);
    const n = options.numParallelCalls === undefined ? 1
      : options.numParallelCalls === AUTOTUNE ? os.cpus().length : positiveInt(options.numParallelCalls, op, 'numParallelCalls');
    return carryShard(new Dataset<U>(() => mapElements(this, fn, n), () => this.cardinality()), this);
  }

  /** Keeps the elements for which predicate returns true (or a true scalar Tensor); disposes the others. */
  filter(predicate: (element: T) => boolean | Tensor | Promise<boolean | Tensor>): Dataset<T> {
    const op = 'Dataset.filter';
    checkFn(predicate, op);
    return carryShard(new Dataset<T>(async function* (this: Dataset<T>) {
      for await (const el of this) {
        let keep: boolean;
        try {
          const r = await callUser(predicate, el);
          if (r instanceof Tensor) {
            try {
              keep = Boolean(r.item());
            } finally {
              if (!leavesOf(el).some((l) => l.leaf === r)) r.dispose();
            }
          } else if (typeof r === 'boolean') {
            keep = r;
          } else {
            throw new TypeError(`${op}: expected the predicate to return a boolean or a scalar Tensor but it returned ${typeOfValue(r)}`);
          }
        } catch (e) {
          disposeElement(el);
          throw e;
        }
        if (keep) yield el;
        else disposeElement(el);
      }
    }.bind(this), () => (this.cardinality() === 0 ? 0 : this.cardinality() === INFINITE ? INFINITE : UNKNOWN)), this);
  }

  /**
   * tf.data's buffer shuffle: bufferSize 1 keeps the order, bufferSize >= the dataset size is a
   * uniform permutation. Each pass draws a new order unless reshuffleEachIteration is false.
   */
  shuffle(bufferSize: number, options: ShuffleOptions = {}): Dataset<T> {
    const op = 'Dataset.shuffle';
    const size = positiveInt(bufferSize, op, 'bufferSize', true);
    checkOptions(options, op);
    if (options.seed !== undefined && (typeof options.seed !== 'number' || !Number.isSafeInteger(options.seed))) {
      throw new TypeError(`${op}: expected seed to be an integer but received ${describeNumber(options.seed)}`);
    }
    const seed = options.seed ?? Math.floor(Math.random() * 4294967296);
    const reshuffle = options.reshuffleEachIteration ?? true;
    let epoch = 0;
    const nextRand = (): (() => number) => mulberry32(passSeed(seed, reshuffle ? epoch++ : 0));
    const up = this._plan;
    if (up) {
      return carryShard(Dataset.fromPlan({ source: up.source, size: up.size, order: () => shuffleIndices(up.order(), size, nextRand()) }), this);
    }
    return carryShard(new Dataset<T>(() => shuffleElements(this, size, nextRand()), () => this.cardinality()), this);
  }

  /**
   * Stacks n consecutive elements leaf-wise (tensors with nt.stack, JS numbers into a tensor).
   * The last batch is smaller unless dropRemainder. Over fromTensorSlices (shuffled or not) each
   * batch is one indexSelect per component.
   */
  batch(batchSize: number, options: BatchOptions = {}): Dataset<Batched<T>> {
    const op = 'Dataset.batch';
    const n = positiveInt(batchSize, op, 'batchSize');
    checkOptions(options, op);
    const drop = !!options.dropRemainder;
    const size = (): number => {
      const c = this.cardinality();
      if (c === UNKNOWN || c === INFINITE) return c;
      return drop ? Math.floor(c / n) : Math.ceil(c / n);
    };
    const plan = this._plan;
    if (plan) {
      return carryShard(new Dataset<Batched<T>>(() => planBatches(plan, n, drop) as AsyncGenerator<Batched<T>>, size, undefined,
        () => planBatchesSync(plan, n, drop) as Generator<Batched<T>>), this);
    }
    return carryShard(new Dataset<Batched<T>>(async function* (this: Dataset<T>) {
      let buf: T[] = [];
      try {
        for await (const el of this) {
          buf.push(el);
          if (buf.length === n) {
            const full = buf;
            buf = [];
            yield stackElements(full, op) as Batched<T>;
          }
        }
        if (buf.length > 0 && !drop) {
          const rest = buf;
          buf = [];
          yield stackElements(rest, op) as Batched<T>;
        }
      } finally {
        for (const el of buf) disposeElement(el);
      }
    }.bind(this), size), this);
  }

  /** Splits each element along dim 0 into rows (the inverse of batch); all leaves must agree in dim 0. */
  unbatch(): Dataset<Unbatched<T>> {
    const op = 'Dataset.unbatch';
    return carryShard(new Dataset<Unbatched<T>>(async function* (this: Dataset<T>) {
      for await (const el of this) {
        let rows: unknown[];
        try {
          const n = checkSlices(el, op);
          rows = [];
          for (let i = 0; i < n; i++) rows.push(mapLeaves(el, (t) => (t as Tensor).index(i)));
        } finally {
          disposeElement(el);
        }
        let i = 0;
        try {
          for (; i < rows.length; i++) yield rows[i] as Unbatched<T>;
        } finally {
          for (let k = i + 1; k < rows.length; k++) disposeElement(rows[k]); // rows of an abandoned pass
        }
      }
    }.bind(this), () => (this.cardinality() === INFINITE ? INFINITE : UNKNOWN)), this);
  }

  /** The whole dataset `count` times (endless when omitted or -1); each pass restarts upstream (and reshuffles). */
  repeat(count?: number): Dataset<T> {
    const times = countArg(count, 'Dataset.repeat', 'count');
    const size = (c: number): number => (times === 0 || c === 0 ? 0 : times === INFINITE ? INFINITE : c === UNKNOWN ? UNKNOWN : c * times);
    const up = this._plan;
    if (up) {
      return carryShard(Dataset.fromPlan({
        source: up.source,
        size: size(up.size),
        order: function* () {
          for (let pass = 0; pass < times; pass++) {
            let any = false;
            const order = up.order();
            for (let r = order.next(); !r.done; r = order.next()) { any = true; yield r.value; }
            if (!any) return;
          }
        },
      }), this);
    }
    return carryShard(new Dataset<T>(async function* (this: Dataset<T>) {
      for (let pass = 0; pass < times; pass++) {
        let any = false;
        for await (const el of this) { any = true; yield el; }
        if (!any) return; // an empty pass would repeat forever
      }
    }.bind(this), () => size(this.cardinality())), this);
  }

  /** The first `count` elements (all for -1); stops pulling from upstream after them. */
  take(count: number): Dataset<T> {
    const n = countArg(count, 'Dataset.take', 'count');
    const size = (c: number): number => (c === UNKNOWN ? UNKNOWN : Math.min(c, n));
    const up = this._plan;
    if (up) {
      return carryShard(Dataset.fromPlan({
        source: up.source,
        size: Math.min(up.size, n),
        order: function* () {
          if (n === 0) return;
          let k = 0;
          const order = up.order();
          for (let r = order.next(); !r.done; r = order.next()) {
            yield r.value;
            if (++k >= n) return;
          }
        },
      }), this);
    }
    return carryShard(new Dataset<T>(async function* (this: Dataset<T>) {
      if (n === 0) return;
      let k = 0;
      for await (const el of this) {
        yield el;
        if (++k >= n) return;
      }
    }.bind(this), () => size(this.cardinality())), this);
  }

  /**
   * Every numShards-th element starting at index (tf.data's shard): rank r of n takes
   * `ds.shard(n, r)`, so the ranks of a distributed job split the data without overlap.
   */
  shard(numShards: number, index: number): Dataset<T> {
    if (typeof numShards !== 'number' || !Number.isSafeInteger(numShards) || numShards < 1) {
      throw new TypeError(`Dataset.shard: expected numShards to be a positive integer but received ${describeNumber(numShards)}`);
    }
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0 || index >= numShards) {
      throw new TypeError(`Dataset.shard: expected index to be an integer from 0 to ${numShards - 1} but received ${describeNumber(index)}`);
    }
    const size = (c: number): number => (c === UNKNOWN || c === INFINITE ? c
      : Math.floor(c / numShards) + (index < c % numShards ? 1 : 0));
    const out = this.keepWhere((k) => k % numShards === index, size);
    shardedSources.add(out);
    return out;
  }

  /** All but the first `count` elements (which are disposed). */
  skip(count: number): Dataset<T> {
    const n = countArg(count, 'Dataset.skip', 'count');
    const size = (c: number): number => (c === UNKNOWN ? UNKNOWN : c === INFINITE ? (n === INFINITE ? 0 : INFINITE) : Math.max(0, c - n));
    return this.keepWhere((k) => k >= n, size);
  }

  /**
   * The elements whose position k (from 0) passes keep, the others disposed; size maps the
   * upstream cardinality to this one's. Over an index plan it stays a plan (no element is made).
   */
  private keepWhere(keep: (k: number) => boolean, size: (c: number) => number): Dataset<T> {
    const up = this._plan;
    if (up) {
      return carryShard(Dataset.fromPlan({
        source: up.source,
        size: size(up.size),
        order: function* () {
          let k = 0;
          const order = up.order();
          for (let r = order.next(); !r.done; r = order.next()) {
            if (keep(k++)) yield r.value;
          }
        },
      }), this);
    }
    return carryShard(new Dataset<T>(async function* (this: Dataset<T>) {
      let k = 0;
      for await (const el of this) {
        if (keep(k++)) yield el;
        else disposeElement(el);
      }
    }.bind(this), () => size(this.cardinality())), this);
  }

  /**
   * Runs the upstream up to bufferSize elements ahead of the consumer, so loading and async
   * transforms (decoding, augmentation) overlap with training on the current element.
   */
  prefetch(bufferSize: number = AUTOTUNE): Dataset<T> {
    const n = bufferSize === AUTOTUNE ? 2 : positiveInt(bufferSize, 'Dataset.prefetch', 'bufferSize');
    // Over an index plan rows are instant to make: keep the plan so batch() stays one gather.
    return carryShard(new Dataset<T>(() => prefetchElements(this, n), () => this.cardinality(), this._plan), this);
  }

  /**
   * The first complete pass is kept in memory and later passes replay it (new handles each time),
   * so upstream work (and shuffling before cache) happens once. An abandoned first pass is dropped.
   */
  cache(): Dataset<T> {
    let cached: T[] | undefined;
    return carryShard(new Dataset<T>(async function* (this: Dataset<T>) {
      if (cached) {
        for (const el of cached) yield aliasElement(el);
        return;
      }
      const store: T[] = [];
      let complete = false;
      try {
        for await (const el of this) {
          store.push(el);
          yield aliasElement(el);
        }
        complete = true;
      } finally {
        if (complete && cached === undefined) cached = store;
        else for (const el of store) disposeElement(el);
      }
    }.bind(this), () => this.cardinality()), this);
  }

  /** This dataset's elements followed by other's. */
  concatenate<U>(other: Dataset<U>): Dataset<T | U> {
    checkDataset(other, 'Dataset.concatenate', 'other');
    return carryShard(new Dataset<T | U>(async function* (this: Dataset<T>) {
      yield* this;
      yield* other;
    }.bind(this), () => {
      const sizes = [this.cardinality(), other.cardinality()];
      return sizes.includes(INFINITE) && !sizes.includes(UNKNOWN) ? INFINITE : mergeCardinality(sizes, 'sum');
    }), this, other);
  }

  // ---- size and consumption ----

  /** Number of elements if known without iterating: UNKNOWN (-1) when not (filter, generators), INFINITE for endless. */
  cardinality(): number {
    return this.size();
  }

  /** cardinality(): steps per epoch for a progress bar. */
  get length(): number {
    return this.size();
  }

  /** All elements of one pass, owned by the caller. Never ends on an endless dataset. */
  async toArray(): Promise<T[]> {
    if (this.cardinality() === INFINITE) throw new RangeError('Dataset.toArray: the dataset is endless; take(n) first');
    const out: T[] = [];
    for await (const el of this) out.push(el);
    return out;
  }

  /** Calls fn on each element of one pass and awaits it; the element's tensors are disposed after fn (clone what you keep). */
  async forEachAsync(fn: (element: T) => unknown): Promise<void> {
    checkFn(fn, 'Dataset.forEachAsync');
    for await (const el of this) {
      try {
        await fn(el);
      } finally {
        disposeElement(el);
      }
    }
  }
}
