// data.Dataset: element order of every op on tiny data, shuffle semantics, cardinality, prefetch
// running ahead, memory returning to baseline, and argument errors.
import * as nt from '../lib';

const { Dataset } = nt.data;
type DS<T = unknown> = nt.data.Dataset<T>;

/** Element to plain JS: tensors as (number) arrays, nests kept. */
function js(el: unknown): unknown {
  if (el instanceof nt.Tensor) return el.toArray({ asNumber: true });
  if (Array.isArray(el)) return el.map(js);
  if (el !== null && typeof el === 'object') return Object.fromEntries(Object.entries(el).map(([k, v]) => [k, js(v)]));
  return el;
}

/** One pass as JS values; the consumer's tensors are disposed. */
async function values(ds: DS): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const el of ds) {
    out.push(js(el));
    nt.data.disposeElement(el);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('sources', () => {
  test('fromTensorSlices slices a tensor along dim 0', async () => {
    const x = nt.tensor([[1, 2], [3, 4], [5, 6]]);
    const ds = Dataset.fromTensorSlices(x);
    expect(await values(ds)).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(await values(ds)).toEqual([[1, 2], [3, 4], [5, 6]]); // re-iterable
    expect(x.isDisposed).toBe(false);
  });

  test('fromTensorSlices of a tuple and of an object keeps the structure', async () => {
    const x = nt.tensor([[1, 2], [3, 4]]);
    const y = nt.tensor([10, 20], { dtype: 'int64' });
    expect(await values(Dataset.fromTensorSlices([x, y]))).toEqual([[[1, 2], 10], [[3, 4], 20]]);
    expect(await values(Dataset.fromTensorSlices({ a: x, b: { c: y } }))).toEqual([
      { a: [1, 2], b: { c: 10 } }, { a: [3, 4], b: { c: 20 } }]);
  });

  test('fromTensors is one element; the consumer may dispose it without touching the input', async () => {
    const x = nt.tensor([1, 2, 3]);
    const ds = Dataset.fromTensors([x, x]);
    expect(await values(ds)).toEqual([[[1, 2, 3], [1, 2, 3]]]);
    expect(await values(ds)).toEqual([[[1, 2, 3], [1, 2, 3]]]);
    expect(x.toArray()).toEqual([1, 2, 3]);
  });

  test('fromArray yields the elements as given, JS values included', async () => {
    const ds = Dataset.fromArray([{ x: 1, s: 'a' }, { x: 2, s: 'b' }]);
    expect(await values(ds)).toEqual([{ x: 1, s: 'a' }, { x: 2, s: 'b' }]);
    expect(ds.cardinality()).toBe(2);
  });

  test('range works like Python range and yields int64 scalars', async () => {
    expect(await values(Dataset.range(4))).toEqual([0, 1, 2, 3]);
    expect(await values(Dataset.range(2, 9, 3))).toEqual([2, 5, 8]);
    expect(await values(Dataset.range(5, 0, -2))).toEqual([5, 3, 1]);
    expect(await values(Dataset.range(0))).toEqual([]);
    for await (const t of Dataset.range(1)) {
      expect(t.dtype).toBe('int64');
      expect(t.shape).toEqual([]);
    }
  });

  test('fromGenerator takes sync generators and calls the factory again for each pass', async () => {
    let calls = 0;
    const ds = Dataset.fromGenerator(function* () {
      calls++;
      for (let i = 0; i < 3; i++) yield nt.tensor([i, i * 10]);
    });
    expect(await values(ds)).toEqual([[0, 0], [1, 10], [2, 20]]);
    expect(await values(ds)).toEqual([[0, 0], [1, 10], [2, 20]]);
    expect(calls).toBe(2);
    expect(ds.cardinality()).toBe(nt.data.UNKNOWN);
  });

  test('fromGenerator takes async generators, iterables and bare iterators', async () => {
    const asyncGen = Dataset.fromGenerator(async function* () {
      for (let i = 0; i < 3; i++) {
        await sleep(1);
        yield { i };
      }
    });
    expect(await values(asyncGen)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(await values(Dataset.fromGenerator(() => [5, 6]))).toEqual([5, 6]);
    expect(await values(Dataset.fromGenerator(() => [7, 8][Symbol.iterator]()))).toEqual([7, 8]);
  });

  test('breaking out of a pass closes the generator', async () => {
    let closed = 0;
    const ds = Dataset.fromGenerator(function* () {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed++;
      }
    });
    expect(await values(ds.take(2))).toEqual([0, 1]);
    expect(closed).toBe(1);
  });
});

describe('transformations', () => {
  test('map: sync and async functions, in order', async () => {
    const ds = Dataset.range(4);
    expect(await values(ds.map((x) => x.mul(2)))).toEqual([0, 2, 4, 6]);
    expect(await values(ds.map(async (x) => {
      await sleep(Number(x.item()) === 0 ? 10 : 0);
      return [x, x.add(1)];
    }))).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
  });

  test('map with numParallelCalls runs async calls together and keeps the order', async () => {
    let running = 0;
    let most = 0;
    const ds = Dataset.fromArray(iota(8)).map(async (i) => {
      running++;
      most = Math.max(most, running);
      await sleep(i % 2 === 0 ? 15 : 1);
      running--;
      return i * i;
    }, { numParallelCalls: 4 });
    expect(await values(ds)).toEqual([0, 1, 4, 9, 16, 25, 36, 49]);
    expect(most).toBe(4);
  });

  test('filter keeps elements whose predicate is true or a true scalar tensor', async () => {
    const ds = Dataset.range(6);
    expect(await values(ds.filter((x) => Number(x.item()) % 2 === 0))).toEqual([0, 2, 4]);
    expect(await values(ds.filter((x) => x.gt(3)))).toEqual([4, 5]);
    expect(await values(ds.filter(async (x) => Number(x.item()) < 2))).toEqual([0, 1]);
  });

  test('batch stacks tensors and numbers structure-wise, with a smaller last batch', async () => {
    const x = nt.tensor([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    const y = nt.tensor([0, 1, 0, 1, 0], { dtype: 'int64' });
    expect(await values(Dataset.fromTensorSlices({ x, y }).batch(2))).toEqual([
      { x: [[1, 1], [2, 2]], y: [0, 1] }, { x: [[3, 3], [4, 4]], y: [0, 1] }, { x: [[5, 5]], y: [0] }]);
    expect(await values(Dataset.fromTensorSlices({ x, y }).batch(2, { dropRemainder: true }))).toEqual([
      { x: [[1, 1], [2, 2]], y: [0, 1] }, { x: [[3, 3], [4, 4]], y: [0, 1] }]);
    // the element path (map removes the slice plan) stacks to the same batches and dtypes
    const viaStack = Dataset.fromTensorSlices({ x, y }).map((e) => e).batch(2);
    expect(await values(viaStack)).toEqual(await values(Dataset.fromTensorSlices({ x, y }).batch(2)));
    for await (const b of viaStack.take(1)) expect([b.x.dtype, b.y.dtype]).toEqual(['float32', 'int64']);
    expect(await values(Dataset.fromArray([[1, 's'], [2, 't'], [3, 'u']]).batch(2))).toEqual([[[1, 2], ['s', 't']], [[3], ['u']]]);
  });

  test('batch of a shuffled slice source gathers the same batches as the element path', async () => {
    const x = nt.arange(20, { dtype: 'float32' }).reshape(10, 2);
    const fast = Dataset.fromTensorSlices(x).shuffle(4, { seed: 7 }).batch(3);
    const slow = Dataset.fromTensorSlices(x).map((e) => e).shuffle(4, { seed: 7 }).batch(3);
    const a = await values(fast);
    expect(a).toEqual(await values(slow));
    expect((a as number[][][]).flat().map((r) => r[0] / 2).sort((p, q) => p - q)).toEqual(iota(10));
  });

  test('a batch is a copy: in-place ops on it leave the source alone', async () => {
    const x = nt.tensor([1, 2, 3, 4]);
    for await (const b of Dataset.fromTensorSlices(x).batch(2)) b.mul_(0);
    expect(x.toArray()).toEqual([1, 2, 3, 4]);
  });

  test('unbatch splits batches back into rows', async () => {
    const ds = Dataset.fromTensorSlices(nt.tensor([1, 2, 3, 4, 5])).batch(2).map((b) => [b, b.mul(10)]).unbatch();
    expect(await values(ds)).toEqual([[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]]);
  });

  test('repeat, take and skip in combination', async () => {
    const ds = Dataset.range(3);
    expect(await values(ds.repeat(2))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(await values(ds.repeat().take(7))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(await values(ds.repeat(-1).skip(2).take(4))).toEqual([2, 0, 1, 2]);
    expect(await values(ds.take(2).repeat(2))).toEqual([0, 1, 0, 1]);
    expect(await values(ds.skip(1).repeat(2))).toEqual([1, 2, 1, 2]);
    expect(await values(ds.skip(5))).toEqual([]);
    expect(await values(ds.take(0))).toEqual([]);
    expect(await values(ds.take(-1))).toEqual([0, 1, 2]);
    expect(await values(ds.repeat(0))).toEqual([]);
    expect(await values(ds.repeat(2).batch(4))).toEqual([[0, 1, 2, 0], [1, 2]]);
    // the same on the element path (a generator source)
    const gen = Dataset.fromGenerator(() => [0, 1, 2]);
    expect(await values(gen.repeat().skip(2).take(4))).toEqual([2, 0, 1, 2]);
    expect(await values(gen.take(2).repeat(2))).toEqual([0, 1, 0, 1]);
    expect(await values(gen.repeat(2).batch(4))).toEqual([[0, 1, 2, 0], [1, 2]]);
  });

  test('repeat of an empty dataset ends instead of looping forever', async () => {
    expect(await values(Dataset.fromGenerator(() => []).repeat())).toEqual([]);
    expect(await values(Dataset.range(0).repeat())).toEqual([]);
  });

  test('concatenate and zip', async () => {
    const a = Dataset.range(3);
    const b = Dataset.fromArray([10, 11]);
    expect(await values(a.concatenate(b))).toEqual([0, 1, 2, 10, 11]);
    expect(await values(Dataset.zip([a, b]))).toEqual([[0, 10], [1, 11]]);
    expect(await values(Dataset.zip({ i: a, v: b.map((v) => v * 2) }))).toEqual([{ i: 0, v: 20 }, { i: 1, v: 22 }]);
    expect(Dataset.zip([a, b]).cardinality()).toBe(2);
    const failing = Dataset.fromGenerator(function* () {
      yield 1;
      throw new Error('zip source failed');
    });
    await expect(values(Dataset.zip([a, failing]))).rejects.toThrow('zip source failed');
    expect(a.concatenate(b).cardinality()).toBe(5);
  });

  test('cache replays the first pass without running upstream again', async () => {
    let calls = 0;
    const ds = Dataset.fromGenerator(function* () {
      calls++;
      yield* [nt.tensor([1]), nt.tensor([2])];
    }).cache();
    expect(await values(ds)).toEqual([[1], [2]]);
    expect(await values(ds)).toEqual([[1], [2]]);
    expect(calls).toBe(1);
    // a shuffle before cache is frozen by it; an abandoned first pass is not kept
    const frozen = Dataset.range(20).shuffle(20, { seed: 3 }).cache();
    const partial = await values(frozen.take(3));
    const first = await values(frozen);
    expect(first.slice(0, 3)).not.toEqual(partial); // the abandoned pass was a different shuffle
    expect(await values(frozen)).toEqual(first);
  });

  test('toArray and forEachAsync', async () => {
    const arr = await Dataset.range(3).map((x) => x.add(1)).toArray();
    expect(arr.map((t) => t.item())).toEqual([1n, 2n, 3n]);
    const seen: number[] = [];
    const kept: nt.Tensor[] = [];
    await Dataset.range(3).forEachAsync(async (x) => {
      await sleep(1);
      seen.push(Number(x.item()));
      kept.push(x);
    });
    expect(seen).toEqual([0, 1, 2]);
    expect(kept.every((t) => t.isDisposed)).toBe(true); // forEachAsync frees each element after fn
    await expect(Dataset.range(2).repeat().toArray()).rejects.toThrow('Dataset.toArray: the dataset is endless; take(n) first');
  });
});

describe('shuffle', () => {
  const order = async (ds: DS) => (await values(ds)) as number[];

  test('is a permutation, reproducible under a seed, new on each pass', async () => {
    const make = () => Dataset.range(50).shuffle(50, { seed: 42 });
    const a = make();
    const b = make();
    const a1 = await order(a);
    const a2 = await order(a);
    expect([...a1].sort((p, q) => p - q)).toEqual(iota(50));
    expect(a1).not.toEqual(iota(50));
    expect(a2).not.toEqual(a1);
    expect(await order(b)).toEqual(a1);
    expect(await order(b)).toEqual(a2);
    expect(await order(Dataset.range(50).shuffle(50, { seed: 43 }))).not.toEqual(a1);
  });

  test('reshuffleEachIteration: false replays the same order', async () => {
    const ds = Dataset.range(30).shuffle(30, { seed: 1, reshuffleEachIteration: false });
    const first = await order(ds);
    expect(await order(ds)).toEqual(first);
    const unseeded = Dataset.range(30).shuffle(30, { reshuffleEachIteration: false });
    expect(await order(unseeded)).toEqual(await order(unseeded));
  });

  test('reshuffles each repetition under repeat', async () => {
    const out = await order(Dataset.range(10).shuffle(10, { seed: 5 }).repeat(2));
    expect(out.slice(0, 10)).not.toEqual(out.slice(10));
    expect([...out.slice(10)].sort((p, q) => p - q)).toEqual(iota(10));
  });

  test('buffer semantics: size 1 keeps the order; element k comes from the first k + size', async () => {
    expect(await order(Dataset.range(10).shuffle(1, { seed: 9 }))).toEqual(iota(10));
    for (const seed of [1, 2, 3, 4, 5]) {
      const out = await order(Dataset.range(40).shuffle(3, { seed }));
      out.forEach((v, k) => expect(v).toBeLessThan(k + 3));
      expect([...out].sort((p, q) => p - q)).toEqual(iota(40));
    }
  });

  test('a sliced source and a generator shuffle to the same order under one seed', async () => {
    const sliced = Dataset.range(25).shuffle(6, { seed: 11 });
    const gen = Dataset.fromGenerator(() => iota(25)).shuffle(6, { seed: 11 });
    expect(await order(sliced)).toEqual(await order(gen));
  });
});

describe('cardinality', () => {
  test('is known through the index ops and batch, unknown after filter or a generator', () => {
    const ds = Dataset.fromTensorSlices(nt.zeros([10, 3]));
    expect(ds.cardinality()).toBe(10);
    expect(ds.length).toBe(10);
    expect(ds.batch(3).cardinality()).toBe(4);
    expect(ds.batch(3, { dropRemainder: true }).length).toBe(3);
    expect(ds.shuffle(4).batch(5).map((b) => b).prefetch(2).length).toBe(2);
    expect(ds.take(4).cardinality()).toBe(4);
    expect(ds.skip(4).cardinality()).toBe(6);
    expect(ds.skip(40).cardinality()).toBe(0);
    expect(ds.repeat(3).cardinality()).toBe(30);
    expect(ds.repeat().cardinality()).toBe(Infinity);
    expect(ds.repeat().take(25).cardinality()).toBe(25);
    expect(ds.repeat().batch(4).cardinality()).toBe(nt.data.INFINITE);
    expect(ds.filter(() => true).cardinality()).toBe(nt.data.UNKNOWN);
    expect(ds.filter(() => true).batch(2).cardinality()).toBe(-1);
    expect(Dataset.fromGenerator(() => [1]).repeat().cardinality()).toBe(Infinity);
    expect(Dataset.fromGenerator(() => [1]).repeat(2).cardinality()).toBe(-1);
    expect(Dataset.fromTensors(nt.zeros([2])).cardinality()).toBe(1);
    expect(ds.cache().concatenate(ds).cardinality()).toBe(20);
  });
});

describe('prefetch', () => {
  test('the producer starts element k + 1 before the consumer is done with element k', async () => {
    const run = async (prefetch: boolean) => {
      const log: string[] = [];
      let ds = Dataset.range(4).map(async (x) => {
        log.push(`start ${x.item()}`);
        await sleep(5);
        return x;
      });
      if (prefetch) ds = ds.prefetch(1);
      for await (const x of ds) {
        const k = Number(x.item());
        await sleep(20); // the consumer's work on element k
        log.push(`done ${k}`);
        x.dispose();
      }
      return log;
    };
    const ahead = await run(true);
    for (let k = 0; k < 3; k++) expect(ahead.indexOf(`start ${k + 1}`)).toBeLessThan(ahead.indexOf(`done ${k}`));
    const serial = await run(false);
    for (let k = 0; k < 3; k++) expect(serial.indexOf(`start ${k + 1}`)).toBeGreaterThan(serial.indexOf(`done ${k}`));
  });

  test('runs at most bufferSize elements ahead', async () => {
    let produced = 0;
    const ds = Dataset.fromGenerator(function* () {
      for (let i = 0; i < 100; i++) {
        produced++;
        yield i;
      }
    }).prefetch(3);
    const it = ds[Symbol.asyncIterator]();
    await it.next();
    await sleep(20);
    expect(produced).toBeLessThanOrEqual(1 + 3);
    await it.return?.();
  });

  test('errors from upstream reach the consumer in order', async () => {
    const ds = Dataset.fromGenerator(function* () {
      yield 1;
      throw new Error('boom');
    }).prefetch(2);
    const seen: unknown[] = [];
    await expect((async () => {
      for await (const v of ds) seen.push(v);
    })()).rejects.toThrow('boom');
    expect(seen).toEqual([1]);
  });
});

describe('memory', () => {
  const settle = () => new Promise((r) => setImmediate(r));
  // Tensors that earlier tests left to the GC are collected first, so no finalizer runs mid-measurement.
  beforeEach(async () => {
    let last = -1;
    for (let i = 0; i < 20 && nt.memory().tensors !== last; i++) {
      last = nt.memory().tensors;
      global.gc?.();
      await sleep(5);
    }
  });

  test('an epoch of shuffle/map/batch frees every intermediate tensor', async () => {
    const x = nt.rand([3000, 20]);
    const y = nt.randint(0, 10, [3000]);
    const start = nt.memory();
    const pipelines: DS<nt.Tensor[]>[] = [
      Dataset.fromTensorSlices([x, y]).shuffle(500, { seed: 1 }).batch(32).map(([a, b]) => [a.mul(2).add(1), b]),
      Dataset.fromTensorSlices([x, y]).map(([a, b]) => [a.mul(2), b]).shuffle(100).batch(32).prefetch(2),
      Dataset.fromTensorSlices([x, y]).map(async ([a, b]) => [a, b]).batch(16, { dropRemainder: true }).unbatch().batch(64),
    ];
    for (const ds of pipelines) {
      let rows = 0;
      for await (const [a, b] of ds) {
        rows += a.shape[0];
        a.dispose();
        b.dispose();
      }
      expect(rows).toBeGreaterThanOrEqual(2992);
      await settle();
      expect(nt.memory()).toEqual(start);
    }
  });

  test('an abandoned pass frees its shuffle, batch and prefetch buffers', async () => {
    const x = nt.rand([1000, 8]);
    const start = nt.memory();
    const ds = Dataset.fromTensorSlices(x).map((r) => r.add(0)).shuffle(200).batch(10).prefetch(4).repeat();
    let n = 0;
    for await (const b of ds) {
      b.dispose();
      if (++n === 5) break;
    }
    await sleep(10);
    expect(nt.memory()).toEqual(start);
    for (const el of await ds.take(3).toArray()) el.dispose();
    await sleep(10);
    expect(nt.memory()).toEqual(start);
  });

  test('the elements map and filter drop are disposed', async () => {
    const start = nt.memory().tensors;
    const inputs: nt.Tensor[] = [];
    const ds = Dataset.fromGenerator(function* () {
      for (let i = 0; i < 4; i++) {
        const t = nt.tensor([i]);
        inputs.push(t);
        yield t;
      }
    }).map((t) => t.mul(3)).filter((t) => t.item() !== 3);
    expect(await values(ds)).toEqual([[0], [6], [9]]);
    expect(inputs.every((t) => t.isDisposed)).toBe(true);
    expect(nt.memory().tensors).toBe(start);
  });

  test('MNIST-sized shuffle + batch(32) runs an epoch quickly', async () => {
    const x = nt.randint(0, 256, [60000, 784], { dtype: 'uint8' });
    const y = nt.randint(0, 10, [60000]);
    const start = nt.memory();
    const ds = Dataset.fromTensorSlices([x, y]).shuffle(60000, { seed: 0 }).batch(32);
    expect(ds.length).toBe(1875);
    const t0 = performance.now();
    let batches = 0;
    for await (const [a, b] of ds) {
      batches++;
      a.dispose();
      b.dispose();
    }
    const ms = performance.now() - t0;
    expect(batches).toBe(1875);
    expect(nt.memory()).toEqual(start);
    expect(ms).toBeLessThan(5000); // well under a second on an idle machine; loose for shared CI cores
  });
});

describe('errors', () => {
  test('bad arguments name the op, the argument and the value', () => {
    const ds = Dataset.range(3);
    expect(() => ds.batch(0)).toThrow('Dataset.batch: expected batchSize to be a positive integer but received 0');
    expect(() => ds.batch(2.5)).toThrow('Dataset.batch: expected batchSize to be a positive integer but received 2.5');
    expect(() => ds.shuffle(-1)).toThrow('Dataset.shuffle: expected bufferSize to be a positive integer or Infinity but received -1');
    expect(() => ds.shuffle(4, { seed: 'a' as unknown as number })).toThrow("Dataset.shuffle: expected seed to be an integer but received string 'a'");
    expect(() => ds.take(-2)).toThrow('Dataset.take: expected count to be a non-negative integer (-1 or Infinity for all) but received -2');
    expect(() => ds.skip(NaN)).toThrow('Dataset.skip: expected count to be a non-negative integer');
    expect(() => ds.repeat(1.5)).toThrow('Dataset.repeat: expected count');
    expect(() => ds.prefetch(0)).toThrow('Dataset.prefetch: expected bufferSize to be a positive integer but received 0');
    expect(() => ds.map(3 as unknown as () => 0)).toThrow('Dataset.map: expected a function but received number');
    expect(() => ds.map((v) => v, { numParallelCalls: 0 })).toThrow('Dataset.map: expected numParallelCalls to be a positive integer but received 0');
    expect(() => ds.concatenate([] as unknown as DS)).toThrow('Dataset.concatenate: expected a Dataset for other but received array');
    expect(() => Dataset.range(1.5)).toThrow('Dataset.range: expected stop to be an integer but received 1.5');
  });

  test('fromTensorSlices names mismatched first dims with both shapes', () => {
    const x = nt.zeros([3, 2]);
    const y = nt.zeros([4]);
    expect(() => Dataset.fromTensorSlices([x, y])).toThrow(
      'Dataset.fromTensorSlices: all components must have the same size in dim 0, but [0] has shape [3, 2] and [1] has shape [4]');
    expect(() => Dataset.fromTensorSlices({ a: x, b: y })).toThrow('but a has shape [3, 2] and b has shape [4]');
    expect(() => Dataset.fromTensorSlices(nt.tensor(1))).toThrow('cannot slice a 0-d Tensor');
    expect(() => Dataset.fromTensorSlices([x, [1, 2]] as unknown as nt.Tensor[])).toThrow(
      'Dataset.fromTensorSlices: expected Tensors but [1][0] is number; wrap JS data with nt.tensor()');
  });

  test('fromGenerator wants a factory', async () => {
    expect(() => Dataset.fromGenerator([1, 2] as unknown as () => number[])).toThrow(
      'Dataset.fromGenerator: expected a function that returns an iterator (called again for every pass) but received array');
    await expect(values(Dataset.fromGenerator(() => 5 as unknown as number[]))).rejects.toThrow(
      'Dataset.fromGenerator: expected the function to return an iterator or iterable but it returned number');
  });

  test('batch explains elements that cannot be stacked', async () => {
    const ds = Dataset.fromGenerator(function* () {
      yield nt.zeros([2]);
      yield nt.zeros([3]);
    });
    await expect(values(ds.batch(2))).rejects.toThrow(
      'Dataset.batch: cannot stack the element: element 0 has shape [2] but element 1 has shape [3]; map the elements to one shape first');
    await expect(values(Dataset.fromArray([[1, 2], [3]]).batch(2))).rejects.toThrow('Dataset.batch: element 1 of the batch has a different structure');
  });

  test('an error in map reaches the consumer', async () => {
    const ds = Dataset.range(3).map((x) => {
      if (x.item() === 1n) throw new Error('bad element 1');
      return x;
    });
    await expect(values(ds)).rejects.toThrow('bad element 1');
    await expect(values(Dataset.range(2).filter(() => 'yes' as unknown as boolean))).rejects.toThrow(
      "Dataset.filter: expected the predicate to return a boolean or a scalar Tensor but it returned string 'yes'");
  });
});
