// The types a strict TS port of the tutorials relies on, checked by tsc (this file is compiled
// strict, without casts) and at run time: evaluate() destructures, item numbers need no cast.
import * as nt from '../lib';

const { Sequential, layers } = nt;

test('evaluate: [loss, ...metrics] with metrics, the loss alone without, a record with returnDict', async () => {
  const x = nt.tensor([[0, 0], [1, 1], [0, 1], [1, 0]]);
  const y = nt.tensor([0n, 1n, 0n, 1n]);
  const withMetrics = new Sequential([new layers.Dense(2, { inputShape: [2] })]);
  withMetrics.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const [loss, acc] = await withMetrics.evaluate(x, y, { verbose: 0 });
  expect(loss).toBeGreaterThan(0);
  expect(acc).toBeGreaterThanOrEqual(0);
  const dict = await withMetrics.evaluate(x, y, { verbose: 0, returnDict: true });
  expect(Object.keys(dict)).toEqual(['loss', 'accuracy']);
  expect(dict.loss).toBeCloseTo(loss, 6);
  const plain = new Sequential([new layers.Dense(2, { inputShape: [2] })]);
  plain.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
  const only: number = await plain.evaluate(x, y, { verbose: 0 });
  expect(typeof only).toBe('number');
  expect(only.toFixed(2)).toMatch(/^\d+\.\d\d$/);
});

test('itemNumber() gives a number for every dtype', () => {
  const f: number = nt.tensor([2.5]).itemNumber();
  expect(f).toBe(2.5);
  expect(nt.tensor([7n]).itemNumber()).toBe(7);
  expect(nt.tensor([true]).itemNumber()).toBe(1);
  expect(() => nt.tensor([2n ** 62n]).itemNumber()).toThrow('is not a safe integer; use item() for a bigint');
  const net = new nt.nn.Linear(2, 1);
  const out: nt.Tensor = net(nt.ones([2]));     // a module's call is typed by its forward
  expect(out.shape).toEqual([1]);
});
