// Every ATen operator through the generic dispatcher caller: the conformance suite against
// python3-torch goldens (test/golden/aten.py -> aten.json), and the calling conventions.
import * as fs from 'fs';
import * as path from 'path';
import * as nt from '../lib';
import * as generated from '../lib/aten/functions';
import { expectTensor } from './helpers';

interface Encoded { $t: nt.DType; shape: number[]; data: (number | boolean | string)[] }
interface Case { op: string; overload: string; args: unknown[]; kwargs: Record<string, unknown>; out: unknown; note: string }
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'aten.json'), 'utf8')) as
  { torch: string; python: string; cases: Case[] };

const isEncodedTensor = (v: unknown): v is Encoded => v !== null && typeof v === 'object' && '$t' in v;

function num(v: number | boolean | string): number | boolean {
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  return v as number | boolean;
}

function decode(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decode);
  if (v === null || typeof v !== 'object') return v;
  if (isEncodedTensor(v)) return nt.tensor(v.data.map(num) as number[], { dtype: v.$t }).reshape(v.shape);
  const o = v as Record<string, string>;
  return o.$dtype ?? o.$layout ?? o.$memory_format ?? o.$device;
}

const INTEGRAL = new Set(['int8', 'uint8', 'int16', 'int32', 'int64', 'bool']);
// The goldens come from libtorch 1.13 (python3-torch). On another line (CI's libtorch 2.x lane) an
// operator may be absent or have changed its signature, and float kernels may round differently.
const majorMinor = (v: string): string => v.split('.').slice(0, 2).join('.');
const sameLine = majorMinor(nt.version.libtorch) === majorMinor(golden.torch);
const TOL = sameLine ? 1e-6 : 1e-4;
const changedOnThisLine: string[] = [];

/** Compares a result with its golden: exact for integer and bool tensors and for ints, 1e-6 otherwise. */
function check(got: unknown, want: unknown, where: string): void {
  if (isEncodedTensor(want)) {
    if (!(got instanceof nt.Tensor)) throw new Error(`${where}: expected a Tensor but got ${String(got)}`);
    expect({ where, dtype: got.dtype, shape: [...got.shape] }).toEqual({ where, dtype: want.$t, shape: want.shape });
    const g = Array.from(got.dataSync() as ArrayLike<number | bigint>, Number);
    const w = want.data.map((x) => Number(num(x)));
    const exact = INTEGRAL.has(want.$t);
    for (let i = 0; i < w.length; i++) {
      const ok = Number.isNaN(w[i]) ? Number.isNaN(g[i])
        : exact || !Number.isFinite(w[i]) ? g[i] === w[i]
          : Math.abs(g[i] - w[i]) <= TOL * Math.max(1, Math.abs(w[i]));
      if (!ok) throw new Error(`${where}: element ${i} is ${g[i]} but python3-torch gives ${w[i]}`);
    }
    return;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) throw new Error(`${where}: expected ${want.length} results but got ${String(got)}`);
    expect(got.length).toBe(want.length);
    want.forEach((w, i) => check(got[i], w, `${where}[${i}]`));
    return;
  }
  if (typeof want === 'number' || typeof want === 'string') {
    const w = Number(num(want));
    const g = typeof got === 'bigint' ? Number(got) : got;
    if (Number.isNaN(w)) expect(g).toBeNaN();
    else if (Number.isInteger(w)) expect(g).toBe(w);
    else expect(Math.abs((g as number) - w)).toBeLessThanOrEqual(TOL * Math.max(1, Math.abs(w)));
    return;
  }
  expect(got).toEqual(want);
}

function runCase(c: Case, via: (...args: unknown[]) => unknown): unknown {
  const args = decode(c.args) as unknown[];
  const kwargs = Object.fromEntries(Object.entries(c.kwargs).map(([k, v]) => [nt.aten.camel(k), decode(v)]));
  return Object.keys(kwargs).length ? via(...args, kwargs) : via(...args);
}

const present = golden.cases.filter((c) => nt.aten.has(c.op));
const absent = golden.cases.filter((c) => !nt.aten.has(c.op));

describe(`ATen conformance: ${golden.cases.length} calls over ${new Set(golden.cases.map((c) => c.op)).size} ` +
  `operators vs torch ${golden.torch} (goldens by ${golden.python}; libtorch here ${nt.version.libtorch})`, () => {
  test('covers at least 300 operators present in this libtorch', () => {
    expect(new Set(present.map((c) => c.op)).size).toBeGreaterThanOrEqual(300);
    // An operator absent from the running libtorch (another libtorch line) is reported, not failed.
    if (absent.length) console.log(`aten: not in this libtorch: ${[...new Set(absent.map((c) => c.op))].join(', ')}`);
  });

  test.each(present.map((c, i) => [`${c.op}${c.overload ? `.${c.overload}` : ''} #${i}`, c] as const))(
    'nt.aten.call: %s', (_name, c) => {
      nt.tidy(() => {
        let got: unknown;
        try {
          got = runCase(c, (...a) => nt.aten.call(c.op, ...a));
        } catch (e) {
          // another libtorch line may have changed this operator's signature: reported, not failed
          if (!sameLine && /no overload fits|not callable|missing|has no option|expected/.test((e as Error).message)) {
            changedOnThisLine.push(c.op);
            return;
          }
          throw e;
        }
        check(got, c.out, c.op);
      });
    });

  afterAll(() => {
    if (changedOnThisLine.length) console.log(`aten: signature changed on this libtorch: ${changedOnThisLine.join(', ')}`);
  });

  const gen = generated as unknown as Record<string, (...a: unknown[]) => unknown>;
  const viaGenerated = present.filter((c) => typeof gen[nt.aten.camel(c.op)] === 'function');
  test(`the generated nt.<op> functions agree (${viaGenerated.length} calls)`, () => {
    expect(viaGenerated.length).toBeGreaterThan(200);
    for (const c of viaGenerated) {
      if (changedOnThisLine.includes(c.op)) continue;
      nt.tidy(() => check(runCase(c, gen[nt.aten.camel(c.op)]), c.out, `nt.${nt.aten.camel(c.op)}`));
    }
  });
});

describe('calling conventions', () => {
  const x = () => nt.tensor([[0.3, 0.1, 0.2], [0.5, 0.9, 0.4]]);

  test('methods and functions, positional and keyword (options object) arguments', () => {
    const [v, i] = x().topk(2, { dim: 1, largest: false });
    expectTensor(v, [[0.1, 0.2], [0.4, 0.5]]);
    expect(i.toArray({ asNumber: true })).toEqual([[1, 2], [2, 0]]);
    const r = nt.topk(x(), 1, 0);
    expectTensor(r.values, [[0.5, 0.9, 0.4]]);
    expect(r.indices.toArray({ asNumber: true })).toEqual([[1, 1, 1]]);
    expectTensor(x().cumsum(1), [[0.3, 0.4, 0.6], [0.5, 1.4, 1.8]]);
    expectTensor(nt.cumsum(x(), { dim: 0 }), [[0.3, 0.1, 0.2], [0.8, 1.0, 0.6]]);
    const { values, indices } = x().sort({ descending: true });
    expectTensor(values, [[0.3, 0.2, 0.1], [0.9, 0.5, 0.4]]);
    expect(indices.toArray({ asNumber: true })).toEqual([[0, 2, 1], [1, 0, 2]]);
  });

  test('Python varargs: einsum operands, int lists', () => {
    const a = nt.tensor([[1, 2], [3, 4]]);
    expectTensor(nt.einsum('ij,jk->ik', a, a), [[7, 10], [15, 22]]);
    expectTensor(nt.einsum('ij,jk->ik', [a, a]), [[7, 10], [15, 22]]);
    expect(a.tile(2, 1).shape).toEqual([4, 2]);
    expect(a.tile([1, 3]).shape).toEqual([2, 6]);
    expect(nt.roll(nt.arange(4), 1).toArray({ asNumber: true })).toEqual([3, 0, 1, 2]);
  });

  test('.T, dim(), and options objects on the hand-bound dim ops', () => {
    const t = nt.arange(6).reshape(2, 3);
    expect(t.T.shape).toEqual([3, 2]);
    expect(t.T.toArray({ asNumber: true })).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(nt.zeros([2, 3, 4]).T.shape).toEqual([4, 3, 2]);
    expect(nt.arange(3).T.shape).toEqual([3]);
    expect(t.dim()).toBe(2);
    expect(nt.tensor(1).dim()).toBe(0);
    const f = x();
    expect(f.argmax({ dim: 1 }).toArray({ asNumber: true })).toEqual([0, 1]);
    expect(f.argmin({ dim: 1, keepdim: true }).shape).toEqual([2, 1]);
    expect(nt.argmax(f, { dim: 0 }).toArray({ asNumber: true })).toEqual([1, 1, 1]);
    const m = f.max({ dim: 1 });
    expectTensor(m.values, [0.3, 0.9]);
    expect(m.indices.toArray({ asNumber: true })).toEqual([0, 1]);
    const [mv] = nt.min(f, 1, { keepdim: true });
    expectTensor(mv, [[0.1], [0.4]]);
    expectTensor(f.softmax({ dim: 1 }).sum(1), [1, 1]);
    expectTensor(f.logSoftmax({ dim: 0 }).exp().sum(0), [1, 1, 1]);
    expectTensor(f.sum(1, { keepdim: true }), [[0.6], [1.8]]);
    expectTensor(f.mean({ dim: 0 }), [0.4, 0.5, 0.3]);
    expectTensor(f.prod({ dim: 1 }), [0.3 * 0.1 * 0.2, 0.5 * 0.9 * 0.4]);
    expectTensor(nt.tensor([1, 2, 3, 4]).var({ unbiased: false }), 1.25);
    expectTensor(nt.tensor([1, 2, 3, 4]).std({ dim: 0, correction: 0 }), Math.sqrt(1.25));
    expect(nt.zeros([2, 1, 3]).squeeze({ dim: 1 }).shape).toEqual([2, 3]);
    expect(nt.zeros([2, 3]).unsqueeze({ dim: 0 }).shape).toEqual([1, 2, 3]);
    expect(nt.zeros([2, 3, 4]).flatten({ startDim: 1 }).shape).toEqual([2, 12]);
    expect(nt.zeros([2, 3]).transpose({ dim0: 0, dim1: 1 }).shape).toEqual([3, 2]);
    expect(nt.zeros([2, 4]).split(2, { dim: 1 }).map((p) => p.shape)).toEqual([[2, 2], [2, 2]]);
    expect(nt.zeros([2, 4]).split([1, 3], { dim: 1 }).map((p) => p.shape)).toEqual([[2, 1], [2, 3]]);
    expect(nt.zeros([2, 4]).chunk(2, { dim: 1 }).length).toBe(2);
    expect(nt.cat([nt.zeros([2]), nt.ones([2])], { dim: 0 }).shape).toEqual([4]);
    expect(nt.stack([nt.zeros([2]), nt.ones([2])], { dim: 1 }).shape).toEqual([2, 2]);
    const idx = nt.tensor([[0], [2]], { dtype: 'int64' });
    expectTensor(f.gather({ dim: 1, index: idx }), [[0.3], [0.4]]);
    expectTensor(f.indexSelect({ dim: 1, index: nt.tensor([2], { dtype: 'int64' }) }), [[0.2], [0.4]]);
  });

  test('in-place variants return the tensor they changed', () => {
    const t = nt.tensor([-1, 2]);
    expect(t.abs_()).toBe(t);
    expect(t.toArray()).toEqual([1, 2]);
    const u = nt.tensor([0.5, 2]);
    expect(nt.reciprocal_(u)).toBe(u);
    expectTensor(u, [2, 0.5]);
  });

  test('numbers stand in for tensors where no scalar overload exists, as in Python', () => {
    expectTensor(nt.aten.call('where', nt.tensor([true, false]), nt.tensor([1, 2]), 0) as nt.Tensor, [1, 0]);
    expectTensor(nt.maximum(nt.tensor([1, 5]), nt.tensor(3)), [3, 5]);
    expectTensor(nt.aten.call('maximum', nt.tensor([1, 5]), 3) as nt.Tensor, [3, 5]);
  });

  test('results: ints, bools, dtypes and lists come back as JS values', () => {
    expect(nt.aten.call('is_floating_point', nt.zeros([2]))).toBe(true);
    expect(nt.aten.call('result_type', nt.zeros([2]), nt.zeros([2], { dtype: 'float64' }))).toBe('float64');
    expect(nt.aten.call('size', nt.zeros([2, 3]), 1)).toBe(3);
    expect(nt.unbind(nt.zeros([3, 2])).length).toBe(3);
  });

  test('gradients flow through the generic path', () => {
    const w = nt.tensor([1, 2, 3], { requiresGrad: true });
    nt.cumsum(w, 0).sum().backward();
    expectTensor(w.grad!, [3, 2, 1]);
    const v = nt.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    nt.einsum('ij->', v).backward();
    expectTensor(v.grad!, [[1, 1], [1, 1]]);
  });
});

describe('errors name the op and the argument in the user\'s terms', () => {
  const errorOf = (f: () => unknown): Error => {
    try {
      f();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected an error');
  };

  test('a wrong type names the parameter, its position and what was received', () => {
    const e = errorOf(() => (nt.ones([3]).topk as (...a: unknown[]) => unknown)('a'));
    expect(e.name).toBe('TypeError');
    expect(e.message).toMatch(/^topk: expected an integer for k \(argument 1\) but received 'a'/);
    expect(e.message).toContain('topk(k: int, dim: int = -1, largest: bool = True, sorted: bool = True)');
  });

  test('an unknown option lists the valid ones', () => {
    const e = errorOf(() => nt.cumsum(nt.ones([3]), { dims: 0 } as unknown as { dim: number }));
    expect(e.message).toMatch(/cumsum.*no option 'dims'.*dim/s);
    expect(errorOf(() => nt.ones([2, 2]).argmax({ dims: 1 } as unknown as { dim: number })).message).toMatch(/argmax.*'dims'/);
  });

  test('no fitting overload lists the overloads and why each did not fit', () => {
    const e = errorOf(() => nt.aten.call('max', nt.ones([2]), 'x'));
    expect(e.message).toMatch(/^max: no overload fits these arguments:/);
    expect(e.message).toMatch(/max\(self: Tensor, dim: int, keepdim: bool = False\): expected an integer for dim/);
  });

  test('libtorch errors carry the op and the arguments', () => {
    const e = errorOf(() => nt.ones([3]).topk(5));
    expect(e.message).toMatch(/^topk\(Tensor\[3\] float32, 5\): .*range/);
    expect((e as Error & { op: string }).op).toBe('topk');
  });

  test('disposed tensors, missing arguments and absent operators', () => {
    const t = nt.ones([2]);
    t.dispose();
    expect(errorOf(() => nt.cumsum(t, 0)).message).toMatch(/cumsum: argument 1 is a disposed Tensor/);
    expect(errorOf(() => (nt.cumsum as (...a: unknown[]) => unknown)(nt.ones([2]))).message).toMatch(/cumsum.*missing dim/);
    expect(errorOf(() => nt.aten.call('no_such_op', nt.ones([2]))).message)
      .toMatch(/noSuchOp: the running libtorch \(.*\) has no operator aten::no_such_op/);
    expect(nt.aten.has('topk')).toBe(true);
    expect(nt.aten.has('no_such_op')).toBe(false);
  });

  test('deeply nested and throwing arrays are refused without recursing', () => {
    let deep: unknown = [1];
    for (let i = 0; i < 100000; i++) deep = [deep];
    expect(errorOf(() => nt.aten.call('flip', nt.ones([2]), deep)).message).toMatch(/flip/);
    const bad = [0];
    Object.defineProperty(bad, 0, { get() { throw new Error('getter threw'); } });
    expect(errorOf(() => nt.aten.call('flip', nt.ones([2]), bad)).message).toMatch(/getter threw/);
  });
});

describe('schemas', () => {
  test('nt.aten.schemas() lists every operator with how each argument is passed', () => {
    const all = nt.aten.schemas();
    expect(all.length).toBeGreaterThan(1000);
    const topk = all.find((o) => o.name === 'topk')!;
    expect(topk.overloads[0].params.map((p) => [p.name, p.kind])).toEqual(
      [['self', 'Tensor'], ['k', 'int'], ['dim', 'int'], ['largest', 'bool'], ['sorted', 'bool']]);
    expect(topk.overloads[0].returns.map((r) => r.name)).toEqual(['values', 'indices']);
  });
});
