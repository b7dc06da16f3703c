// nt.utils.data: Dataset, TensorDataset, DataLoader order, shuffle, dropLast, collate, samplers,
// Python's positional arguments, and numWorkers loading in worker threads.
import { threadId } from 'worker_threads';
import * as nt from '../lib';
import { SquaresDataset } from './fixtures/squares_dataset';

const { TensorDataset, DataLoader, Dataset } = nt.utils.data;

const xy = (): [nt.Tensor, nt.Tensor] => [nt.arange(0, 10).float().reshape(5, 2), nt.tensor([0n, 1n, 2n, 3n, 4n])];

test('TensorDataset gives rows; for...of over a DataLoader gives batches in order', () => {
  const [x, y] = xy();
  const ds = new TensorDataset(x, y);
  expect(ds.length).toBe(5);
  const [x3, y3] = ds.getItem(3);
  expect(x3.toArray()).toEqual([6, 7]);
  expect(y3.item()).toBe(3n);
  expect([...ds].map(([, t]) => Number(t.item()))).toEqual([0, 1, 2, 3, 4]);
  const loader = new DataLoader(ds, { batchSize: 2 });
  expect(loader.length).toBe(3);
  const got: number[][] = [];
  for (const [xb, yb] of loader) {
    expect(xb.shape[1]).toBe(2);
    got.push((yb.toArray() as bigint[]).map(Number));
  }
  expect(got).toEqual([[0, 1], [2, 3], [4]]);
  expect(() => new TensorDataset(x, nt.zeros([4]))).toThrow('size mismatch between tensors: tensors[0] has 5 rows but tensors[1] has 4');
});

test('dropLast drops the short batch; batchSize null yields single samples', () => {
  const ds = new TensorDataset(...xy());
  const sizes = [...new DataLoader(ds, { batchSize: 2, dropLast: true })].map(([, yb]) => yb.shape[0]);
  expect(sizes).toEqual([2, 2]);
  expect(new DataLoader(ds, { batchSize: 2, dropLast: true }).length).toBe(2);
  expect([...new DataLoader(ds, { batchSize: null })].map(([, y]) => y.shape)).toEqual([[], [], [], [], []]);
});

test('shuffle draws a new permutation every pass; a seed repeats the sequence', () => {
  const ds = new TensorDataset(nt.arange(0, 50).float());
  const pass = (l: nt.utils.data.DataLoader<[nt.Tensor]>): number[] => [...l].flatMap(([b]) => (b.toArray() as number[]));
  const a = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 7 });
  const e1 = pass(a);
  const e2 = pass(a);
  expect([...e1].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(e1).not.toEqual(e2);
  expect(e1).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  const b = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 7 });
  expect(pass(b)).toEqual(e1);
  expect(pass(b)).toEqual(e2);
});

test("Python's positional order and snake_case keywords; a wrong name is refused with the valid ones", () => {
  const ds = new TensorDataset(...xy());
  // DataLoader(ds, 2, False, None, None, 0, None, False, True)
  expect(new DataLoader(ds, 2, false, null, null, 0, null, false, true).length).toBe(2);
  expect(new DataLoader(ds, 4).batchSize).toBe(4);
  expect(new DataLoader(ds, { batch_size: 2, drop_last: true } as never).length).toBe(2);
  expect(() => new DataLoader(ds, { batchsize: 2 } as never)).toThrow(
    "DataLoader: unknown option 'batchsize' (did you mean 'batchSize'?); known options: batchSize, shuffle, sampler, " +
    'batchSampler, numWorkers, collateFn, pinMemory, dropLast, seed, prefetchFactor');
  expect(() => new DataLoader(ds, 2, { batchSize: 3 } as never)).toThrow("got multiple values for argument 'batchSize'");
  expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow('DataLoader: expected a positive integer for batchSize but received number 0');
  expect(() => new DataLoader(ds, { sampler: [0, 1], shuffle: true })).toThrow('mutually exclusive');
  expect(() => new DataLoader({} as never)).toThrow('expected a Dataset (getItem(index) and length) for dataset');
});

test('a sampler chooses the indices; collateFn builds the batch; default collate stacks nests', () => {
  const ds = new TensorDataset(...xy());
  const order = [...new DataLoader(ds, { batchSize: 2, sampler: [4, 0, 2] })].map(([, y]) => (y.toArray() as bigint[]).map(Number));
  expect(order).toEqual([[4, 0], [2]]);
  const sums = [...new DataLoader(ds, { batchSize: 5, collateFn: (s) => s.length })];
  expect(sums).toEqual([5]);
  class Dicts extends Dataset<{ a: nt.Tensor; b: number; c: string }> {
    getItem(i: number): { a: nt.Tensor; b: number; c: string } { return { a: nt.ones([2]).mul(i), b: i / 2, c: `s${i}` }; }
    get length(): number { return 3; }
  }
  const [batch] = [...new DataLoader(new Dicts(), { batchSize: 3 })] as { a: nt.Tensor; b: nt.Tensor; c: string[] }[];
  expect(batch.a.toArray()).toEqual([[0, 0], [1, 1], [2, 2]]);
  expect(batch.b.dtype).toBe('float32');
  expect(batch.b.toArray()).toEqual([0, 0.5, 1]);
  expect(batch.c).toEqual(['s0', 's1', 's2']);
  expect(nt.utils.data.defaultCollate([1, 2]) as nt.Tensor).toMatchObject({ dtype: 'int64' });
});

test('for await works without workers too', async () => {
  const got: number[] = [];
  for await (const [, y] of new DataLoader(new TensorDataset(...xy()), { batchSize: 3 })) got.push(y.shape[0]);
  expect(got).toEqual([3, 2]);
});

describe('numWorkers', () => {
  test('worker threads run getItem and collate; batches arrive in sampler order', async () => {
    const ds = new SquaresDataset(10, nt.tensor([1, 10]));
    const loader = new DataLoader(ds, { batchSize: 4, numWorkers: 2 });
    const ids: number[][] = [];
    const threads = new Set<number>();
    for await (const [x, i, tid] of loader as unknown as AsyncIterable<[nt.Tensor, nt.Tensor, nt.Tensor]>) {
      ids.push((i.toArray() as bigint[]).map(Number));
      for (const t of tid.toArray() as bigint[]) threads.add(Number(t));
      expect(x.toArray()).toEqual((i.toArray() as bigint[]).map((v) => [Number(v), Number(v) ** 2 * 10]));
    }
    expect(ids).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(threads.size).toBe(2);
    expect(threads.has(threadId)).toBe(false);
    expect(() => [...loader]).toThrow('iterate with `for await (const batch of loader)`');
  }, 60_000);

  test('TensorDataset with workers and shuffle gives the same batches as on the main thread', async () => {
    const ds = new TensorDataset(nt.arange(0, 20).reshape(10, 2), nt.arange(0, 10));
    const main = [...new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 3 })].map(([a, b]) => [a.toArray(), b.toArray()]);
    const inWorkers: unknown[] = [];
    for await (const [a, b] of new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 3, numWorkers: 2 })) inWorkers.push([a.toArray(), b.toArray()]);
    expect(inWorkers).toEqual(main);
  }, 60_000);

  test("a worker's error reaches the loop", async () => {
    const iterate = async (): Promise<void> => {
      for await (const _ of new DataLoader(new SquaresDataset(14, nt.ones([2])), { batchSize: 7, numWorkers: 1 })) void _;
    };
    await expect(iterate()).rejects.toThrow('DataLoader worker: sample 13 is broken');
  });

  test("a Dataset subclass of the test's own script (not exported) is rebuilt in workers from its source", async () => {
    // a dataset over arrays and tensors, as a user writes it beside the training loop
    class Pairs extends Dataset<[nt.Tensor, number]> {
      constructor(readonly xs: number[][], readonly ys: Float64Array, readonly scale: nt.Tensor) {
        super();
      }
      getItem(i: number): [nt.Tensor, number] {
        return [nt.tensor(this.xs[i]).mul(this.scale), this.ys[i] * 2];
      }
      get length(): number {
        return this.xs.length;
      }
    }
    const ds = new Pairs([[1, 2], [3, 4], [5, 6]], Float64Array.from([0.5, 1.5, 2.5]), nt.tensor([10, 100]));
    const got: unknown[] = [];
    for await (const [x, y] of new DataLoader(ds, { batchSize: 2, numWorkers: 2 })) got.push([x.toArray(), y.toArray({ asNumber: true })]);
    expect(got).toEqual([[[[10, 200], [30, 400]], [1, 3]], [[[50, 600]], [5]]]);
    // a subclass of TensorDataset too
    class Doubled extends TensorDataset<[nt.Tensor]> {
      getItem(i: number): [nt.Tensor] {
        return [this.tensors[0].index(i).mul(2)];
      }
    }
    const rows: unknown[] = [];
    for await (const [x] of new DataLoader(new Doubled(nt.tensor([1, 2, 3])), { batchSize: 3, numWorkers: 1 })) rows.push(x.toArray());
    expect(rows).toEqual([[2, 4, 6]]);
  }, 60_000);

  test('a class that uses a variable of its script says which and how to fix it', async () => {
    const offset = (i: number): number => i + 1;
    class Shifted extends Dataset<number> {
      getItem(i: number): number { return offset(i); }
      get length(): number { return 2; }
    }
    expect([...new DataLoader(new Shifted(), { batchSize: null })]).toEqual([1, 2]);
    const it = new DataLoader(new Shifted(), { numWorkers: 1 })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow("DataLoader worker: Shifted uses 'offset', which a worker thread cannot see: the " +
      'worker rebuilt Shifted from its source, where only globals and nodetorch are in scope. Export Shifted from its own ' +
      'module (not the main script) and import it, or use numWorkers: 0');
    class WithMap extends Dataset<number> {
      readonly table = new Map([[0, 1]]);
      getItem(i: number): number { return this.table.get(i) ?? 0; }
      get length(): number { return 1; }
    }
    const it3 = new DataLoader(new WithMap(), { numWorkers: 1 })[Symbol.asyncIterator]();
    await expect(it3.next()).rejects.toThrow("DataLoader: WithMap's field.table is an instance of Map, which cannot be sent " +
      'to a worker thread (fields may hold tensors, numbers, strings, typed arrays, and arrays or plain objects of them); a ' +
      'worker rebuilds WithMap from its fields: keep the data in such fields (load files or build objects lazily in getItem), ' +
      'or use numWorkers: 0');
    const plain = { getItem: (i: number): number => i, length: 2 };
    const it2 = new DataLoader(plain as never, { numWorkers: 1 })[Symbol.asyncIterator]();
    await expect(it2.next()).rejects.toThrow('DataLoader: numWorkers > 0 rebuilds the dataset in worker threads but it is not ' +
      'an instance of a class extending nt.utils.data.Dataset: subclass Dataset, or use numWorkers: 0');
  }, 60_000);
});

test('data.Dataset is iterable with for...of where its source is synchronous', () => {
  const x = nt.arange(0, 6).float().reshape(3, 2);
  const y = nt.tensor([0n, 1n, 2n]);
  const rows = [...nt.data.Dataset.fromTensorSlices([x, y])].map(([a, b]) => [a.toArray(), Number(b.item())]);
  expect(rows).toEqual([[[0, 1], 0], [[2, 3], 1], [[4, 5], 2]]);
  const batches = [...nt.data.Dataset.fromTensorSlices([x, y]).shuffle(3, { seed: 1 }).batch(2)].map(([, b]) => b.shape[0]);
  expect(batches).toEqual([2, 1]);
  expect([...nt.data.Dataset.fromArray([1, 2, 3])]).toEqual([1, 2, 3]);
  expect([...nt.data.Dataset.range(3)].map((t) => Number(t.item()))).toEqual([0, 1, 2]);
  expect(() => [...nt.data.Dataset.fromArray([1]).map((v) => v + 1)]).toThrow('iterate it with `for await (const el of dataset)`');
});
