// Autograd: every differentiable op checked against float64 finite differences, plus backward/grad/noGrad behaviour.
import * as nt from '../lib';
import { expectTensor } from './helpers';
import { native } from '../lib/native';

// ---- deterministic random numbers (independent of libtorch's generator) ----

let seed = 0x2545f491;
function random(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A float64 leaf tensor that requires grad, from values or from a generator. */
function leaf(shape: number[], values: number[] | (() => number)): nt.Tensor {
  const data = Array.isArray(values) ? Float64Array.from(values) : Float64Array.from({ length: numel(shape) }, values);
  expect(data.length).toBe(numel(shape));
  return nt.tensor(data, { dtype: 'float64', shape, requiresGrad: true });
}
/** Uniform in [lo, hi). */
const uniform = (lo: number, hi: number) => () => lo + (hi - lo) * random();
/** Uniform in [lo, hi) in magnitude with a random sign: keeps values away from 0. */
const awayFromZero = (lo: number, hi: number) => () => (random() < 0.5 ? -1 : 1) * (lo + (hi - lo) * random());
/** Distinct, well separated values (no ties for max/min/maximum): a shuffled ramp. */
function distinct(n: number, lo = -2, step = 0.37): () => number {
  const vals = Array.from({ length: n }, (_, i) => lo + i * step);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [vals[i], vals[j]] = [vals[j], vals[i]];
  }
  let k = 0;
  return () => vals[k++];
}

const EPS = 1e-6;
const TOL = 1e-5;

/**
 * Checks the analytic gradient of sum(f(...inputs) * W) (W a fixed random float64 tensor of the
 * output's shape) against central finite differences, for every element of every input.
 */
function gradcheck(f: (...xs: nt.Tensor[]) => nt.Tensor, inputs: nt.Tensor[]): void {
  for (const x of inputs) {
    expect(x.dtype).toBe('float64');
    expect(x.requiresGrad).toBe(true);
    x.grad = null;
  }
  const out = f(...inputs);
  expect(out.dtype).toBe('float64');
  expect(out.requiresGrad).toBe(true);
  const W = nt.tensor(Float64Array.from({ length: out.numel }, uniform(-1, 1)), { dtype: 'float64', shape: [...out.shape] });
  out.mul(W).sum().backward();

  const base = inputs.map((x) => Float64Array.from(x.detach().dataSync() as Float64Array));
  const shapes = inputs.map((x) => [...x.shape]);
  const loss = (i: number, j: number, delta: number): number =>
    nt.tidy(() =>
      nt.noGrad(() => {
        const xs = inputs.map((x, k) => {
          if (k !== i) return x.detach();
          const v = Float64Array.from(base[i]);
          v[j] += delta;
          return nt.tensor(v, { dtype: 'float64', shape: shapes[i] });
        });
        return f(...xs).mul(W).sum().item() as number;
      }),
    );

  const problems: string[] = [];
  inputs.forEach((x, i) => {
    const g = x.grad;
    if (g === null) {
      problems.push(`input ${i}: no gradient`);
      return;
    }
    expect([...g.shape]).toEqual(shapes[i]);
    expect(g.dtype).toBe('float64');
    const analytic = g.dataSync() as Float64Array;
    for (let j = 0; j < base[i].length; j++) {
      const numeric = (loss(i, j, EPS) - loss(i, j, -EPS)) / (2 * EPS);
      if (!(Math.abs(analytic[j] - numeric) <= TOL * Math.max(1, Math.abs(numeric)))) {
        problems.push(`input ${i}[${j}]: analytic ${analytic[j]} vs numeric ${numeric}`);
      }
    }
  });
  expect(problems).toEqual([]);
}

const S = [2, 3];
const r = (shape: number[] = S, lo = -1, hi = 1) => leaf(shape, uniform(lo, hi));
const pos = (shape: number[] = S) => leaf(shape, uniform(0.5, 2));
const nz = (shape: number[] = S) => leaf(shape, awayFromZero(0.3, 1.5));

describe('gradcheck: unary ops', () => {
  const cases: [string, (x: nt.Tensor) => nt.Tensor, () => nt.Tensor][] = [
    ['neg', (x) => x.neg(), () => r()],
    ['abs', (x) => x.abs(), () => nz()],
    ['exp', (x) => x.exp(), () => r()],
    ['log', (x) => x.log(), () => pos()],
    ['log1p', (x) => x.log1p(), () => r(S, -0.5, 2)],
    ['expm1', (x) => x.expm1(), () => r()],
    ['sqrt', (x) => x.sqrt(), () => pos()],
    ['rsqrt', (x) => x.rsqrt(), () => pos()],
    ['reciprocal', (x) => x.reciprocal(), () => nz()],
    ['square', (x) => x.square(), () => r()],
    ['sin', (x) => x.sin(), () => r(S, -3, 3)],
    ['cos', (x) => x.cos(), () => r(S, -3, 3)],
    ['erf', (x) => x.erf(), () => r(S, -2, 2)],
    ['relu', (x) => x.relu(), () => nz()],
    ['sigmoid', (x) => x.sigmoid(), () => r(S, -3, 3)],
    ['tanh', (x) => x.tanh(), () => r(S, -2, 2)],
    ['gelu', (x) => x.gelu(), () => r(S, -3, 3)],
    ['silu', (x) => x.silu(), () => r(S, -3, 3)],
    // functional spellings go through the same native ops
    ['nt.exp', (x) => nt.exp(x), () => r()],
    ['nt.sigmoid', (x) => nt.sigmoid(x), () => r()],
    ['nt.sqrt', (x) => nt.sqrt(x), () => pos()],
  ];
  test.each(cases)('%s', (_name, f, make) => gradcheck(f, [make()]));
});

describe('gradcheck: binary ops with broadcasting', () => {
  // shapes [2, 3] with [3], [2, 1] with [1, 3], and equal shapes
  const pairs: [string, number[], number[]][] = [['[2,3]x[3]', [2, 3], [3]], ['[2,1]x[1,3]', [2, 1], [1, 3]],
    ['[2,3]x[2,3]', [2, 3], [2, 3]], ['[]x[2,3]', [], [2, 3]]];
  const ops: [string, (a: nt.Tensor, b: nt.Tensor) => nt.Tensor, 'any' | 'nz' | 'pos'][] = [
    ['add', (a, b) => a.add(b), 'any'],
    ['sub', (a, b) => a.sub(b), 'any'],
    ['mul', (a, b) => a.mul(b), 'any'],
    ['div', (a, b) => a.div(b), 'nz'],
    ['pow', (a, b) => a.pow(b), 'pos'],
    ['atan2', (a, b) => a.atan2(b), 'nz'],
    ['nt.add', (a, b) => nt.add(a, b), 'any'],
    ['nt.sub', (a, b) => nt.sub(a, b), 'any'],
    ['nt.mul', (a, b) => nt.mul(a, b), 'any'],
    ['nt.div', (a, b) => nt.div(a, b), 'nz'],
  ];
  for (const [name, f, domain] of ops) {
    test.each(pairs)(`${name} %s`, (_p, sa, sb) => {
      const make = (s: number[]) => (domain === 'pos' ? pos(s) : domain === 'nz' ? nz(s) : r(s));
      gradcheck(f, [make(sa), make(sb)]);
    });
  }

  // maximum/minimum need no ties between the two sides: a on odd ramps, b on even ramps
  test.each([['maximum'], ['minimum'], ['max(other)'], ['min(other)']])('%s', (name) => {
    const a = leaf([2, 3], distinct(6, -2, 0.8));
    const b = leaf([3], distinct(3, -1.6, 0.8));
    const f = (x: nt.Tensor, y: nt.Tensor) => name === 'maximum' ? x.maximum(y) : name === 'minimum' ? x.minimum(y)
      : name === 'max(other)' ? x.max(y) : x.min(y);
    gradcheck(f, [a, b]);
    gradcheck((x, y) => (name.startsWith('max') ? nt.maximum(x, y) : nt.minimum(x, y)), [a, b]);
  });

  const scalarForms: [string, (x: nt.Tensor) => nt.Tensor, 'any' | 'nz' | 'pos'][] = [
    ['add(2.5)', (x) => x.add(2.5), 'any'],
    ['sub(2.5)', (x) => x.sub(2.5), 'any'],
    ['mul(-1.5)', (x) => x.mul(-1.5), 'any'],
    ['div(4)', (x) => x.div(4), 'any'],
    ['pow(3)', (x) => x.pow(3), 'any'],
    ['pow(0.5)', (x) => x.pow(0.5), 'pos'],
    ['pow(-2)', (x) => x.pow(-2), 'nz'],
    ['rsub(2)', (x) => x.rsub(2), 'any'],
    ['rdiv(2)', (x) => x.rdiv(2), 'nz'],
    ['rpow(2)', (x) => x.rpow(2), 'any'],
    ['nt.add(2, x)', (x) => nt.add(2, x), 'any'],
    ['nt.sub(2, x)', (x) => nt.sub(2, x), 'any'],
    ['nt.div(2, x)', (x) => nt.div(2, x), 'nz'],
    ['nt.pow(x, 2)', (x) => nt.pow(x, 2), 'any'],
    ['atan2(0.7)', (x) => x.atan2(0.7), 'any'],
    ['maximum(0.1)', (x) => x.maximum(0.1), 'nz'],
    ['minimum(0.1)', (x) => x.minimum(0.1), 'nz'],
  ];
  test.each(scalarForms)('scalar form %s', (_n, f, domain) => {
    gradcheck(f, [domain === 'pos' ? pos() : domain === 'nz' ? nz() : r()]);
  });
});

describe('gradcheck: matrix products', () => {
  test('matmul 2-D', () => gradcheck((a, b) => a.matmul(b), [r([2, 3]), r([3, 4])]));
  test('matmul batched with broadcasting', () => gradcheck((a, b) => a.matmul(b), [r([2, 2, 3]), r([3, 2])]));
  test('matmul vector @ matrix and matrix @ vector', () => {
    gradcheck((a, b) => a.matmul(b), [r([3]), r([3, 2])]);
    gradcheck((a, b) => nt.matmul(a, b), [r([2, 3]), r([3])]);
  });
  test('mm', () => gradcheck((a, b) => a.mm(b), [r([3, 2]), r([2, 4])]));
  test('bmm', () => gradcheck((a, b) => nt.bmm(a, b), [r([2, 2, 3]), r([2, 3, 2])]));
  test('dot', () => gradcheck((a, b) => a.dot(b), [r([4]), r([4])]));
});

describe('gradcheck: reductions', () => {
  const X = [2, 3, 2];
  const cases: [string, (x: nt.Tensor) => nt.Tensor, () => nt.Tensor][] = [
    ['sum()', (x) => x.sum(), () => r(X)],
    ['sum(1)', (x) => x.sum(1), () => r(X)],
    ['sum(-1, keepdim)', (x) => x.sum(-1, true), () => r(X)],
    ['sum([0, 2])', (x) => x.sum([0, 2]), () => r(X)],
    ['sum({ dim: 1, keepdim: true })', (x) => x.sum({ dim: 1, keepdim: true }), () => r(X)],
    ['nt.sum(x, 0)', (x) => nt.sum(x, 0), () => r(X)],
    ['mean()', (x) => x.mean(), () => r(X)],
    ['mean(2)', (x) => x.mean(2), () => r(X)],
    ['mean([0, 1], keepdim)', (x) => x.mean([0, 1], true), () => r(X)],
    ['prod()', (x) => x.prod(), () => nz(X)],
    ['prod(1)', (x) => x.prod(1), () => nz(X)],
    ['prod(1, keepdim)', (x) => x.prod(1, true), () => nz(X)],
    ['var()', (x) => x.var(), () => r(X)],
    ['var(1)', (x) => x.var(1), () => r(X)],
    ['var(1, biased, keepdim)', (x) => x.var(1, false, true), () => r(X)],
    ['var([0, 2])', (x) => x.var([0, 2]), () => r(X)],
    ['nt.variance(x, 0)', (x) => nt.variance(x, 0), () => r(X)],
    ['std()', (x) => x.std(), () => r(X)],
    ['std(0)', (x) => x.std(0), () => r(X)],
    ['std(2, biased, keepdim)', (x) => x.std(2, false, true), () => r(X)],
    ['max()', (x) => x.max(), () => leaf(X, distinct(12))],
    ['min()', (x) => x.min(), () => leaf(X, distinct(12))],
    ['max(1).values', (x) => x.max(1).values, () => leaf(X, distinct(12))],
    ['max(-1, keepdim)[0]', (x) => [...x.max(-1, true)][0], () => leaf(X, distinct(12))],
    ['min(0).values', (x) => x.min(0).values, () => leaf(X, distinct(12))],
    ['nt.min(x, 2, keepdim).values', (x) => nt.min(x, 2, true).values, () => leaf(X, distinct(12))],
    ['softmax(1)', (x) => x.softmax(1), () => r(X, -2, 2)],
    ['softmax(-1)', (x) => x.softmax(-1), () => r(X, -2, 2)],
    ['logSoftmax(0)', (x) => x.logSoftmax(0), () => r(X, -2, 2)],
    ['nt.logSoftmax(x, 2)', (x) => nt.logSoftmax(x, 2), () => r(X, -2, 2)],
  ];
  test.each(cases)('%s', (_name, f, make) => gradcheck(f, [make()]));

  test('max/min along a dim pick the gradient to the arg max/min exactly', () => {
    const x = leaf([2, 3], [1, 5, 2, 7, 3, 4]);
    x.max(1).values.sum().backward();
    expectTensor(x.grad!, [[0, 1, 0], [1, 0, 0]]);
    x.grad = null;
    x.min(0).values.sum().backward();
    expectTensor(x.grad!, [[1, 0, 1], [0, 1, 0]]);
  });
});

describe('gradcheck: shape ops', () => {
  const cases: [string, (x: nt.Tensor) => nt.Tensor, () => nt.Tensor][] = [
    ['reshape', (x) => x.reshape(3, 2), () => r()],
    ['reshape([-1])', (x) => x.reshape([-1]), () => r()],
    ['view', (x) => x.view([6, 1]), () => r()],
    ['flatten', (x) => x.flatten(), () => r([2, 3, 2])],
    ['flatten(1)', (x) => nt.flatten(x, 1), () => r([2, 3, 2])],
    ['squeeze()', (x) => x.squeeze(), () => r([2, 1, 3])],
    ['squeeze(1)', (x) => x.squeeze(1), () => r([2, 1, 3])],
    ['unsqueeze(0)', (x) => x.unsqueeze(0), () => r()],
    ['unsqueeze(-1)', (x) => nt.unsqueeze(x, -1), () => r()],
    ['permute', (x) => x.permute(2, 0, 1), () => r([2, 3, 2])],
    ['permute([1, 0, 2])', (x) => nt.permute(x, [1, 0, 2]), () => r([2, 3, 2])],
    ['transpose', (x) => x.transpose(0, 2), () => r([2, 3, 2])],
    ['t', (x) => x.t(), () => r()],
    ['expand', (x) => x.expand(4, 3), () => r([1, 3])],
    ['expand with a new dim', (x) => x.expand([2, 2, 3]), () => r([2, 3])],
    ['repeat', (x) => x.repeat(2, 1, 2), () => r()],
    ['flip', (x) => x.flip(0), () => r()],
    ['flip([0, 1])', (x) => x.flip([0, 1]), () => r()],
    ['narrow', (x) => x.narrow(1, 1, 2), () => r()],
    ['slice', (x) => x.slice(1, 0, 3, 2), () => r()],
    ['slice(-1, 1)', (x) => x.slice(-1, 1), () => r()],
    ['select', (x) => x.select(1, 2), () => r()],
    ['index(1)', (x) => x.index(1), () => r()],
    ['index(1, -1)', (x) => x.index(1, -1), () => r()],
    ['split(2, 1)', (x) => nt.cat(x.split(2, 1).map((p, i) => p.mul(i + 1)), 1), () => r([2, 5])],
    ['split([1, 3], 1)', (x) => nt.cat(x.split([1, 3], 1).map((p, i) => p.mul(i + 2)), 1), () => r([2, 4])],
    ['chunk(2, 0)', (x) => nt.stack(x.chunk(2, 0).map((p, i) => p.mul(i - 3)), 0), () => r([4, 3])],
    ['gather', (x) => x.gather(1, nt.tensor([[0, 0, 2], [1, 2, 1]], { dtype: 'int64' })), () => r()],
    ['indexSelect', (x) => x.indexSelect(1, nt.tensor([2, 0, 2], { dtype: 'int64' })), () => r()],
    ['maskedFill', (x) => x.maskedFill(nt.tensor([[true, false, false], [false, true, false]]), 0.5), () => r()],
    ['maskedFill (broadcast mask)', (x) => nt.maskedFill(x, nt.tensor([false, true, false]), -2), () => r()],
    ['where(cond, x, 0)', (x) => nt.where(nt.tensor([[true, false, true], [false, false, true]]), x, 0), () => r()],
    ['x.where(cond, 3)', (x) => x.where(nt.tensor([true, false, true]), 3), () => r()],
    ['clamp(-0.5, 0.5)', (x) => x.clamp(-0.5, 0.5), () => leaf(S, [-0.9, -0.2, 0.1, 0.3, 0.8, 1.2])],
    ['clamp({ min })', (x) => x.clamp({ min: 0 }), () => leaf(S, [-0.9, -0.2, 0.1, 0.3, 0.8, 1.2])],
    ['clamp(null, max)', (x) => nt.clamp(x, null, 0.2), () => leaf(S, [-0.9, -0.2, 0.1, 0.3, 0.8, 1.2])],
    ['tril', (x) => x.tril(), () => r([3, 3])],
    ['tril(-1)', (x) => nt.tril(x, -1), () => r([3, 4])],
    ['triu(1)', (x) => x.triu(1), () => r([3, 3])],
  ];
  test.each(cases)('%s', (_name, f, make) => gradcheck(f, [make()]));

  test('cat and stack of several inputs', () => {
    gradcheck((a, b) => nt.cat([a, b], 1), [r([2, 3]), r([2, 2])]);
    gradcheck((a, b) => nt.cat([a, b, a]), [r([1, 3]), r([2, 3])]);
    gradcheck((a, b) => nt.stack([a, b], 1), [r([2, 3]), r([2, 3])]);
  });

  test('where with two differentiable branches', () => {
    const cond = nt.tensor([[true, false, true], [false, true, false]]);
    gradcheck((a, b) => nt.where(cond, a, b), [r(), r([3])]);
  });

  test('maskedFill with a 0-d tensor value passes gradient to the value', () => {
    const mask = nt.tensor([[true, false, true], [false, false, true]]);
    gradcheck((x, v) => x.maskedFill(mask, v), [r(), leaf([], [0.25])]);
  });
});

describe('gradcheck: conversions', () => {
  test('clone', () => gradcheck((x) => x.clone(), [r()]));
  test('nt.clone', () => gradcheck((x) => nt.clone(x), [r()]));
  test('to float64 is a no-op that keeps the graph', () => {
    const x = r();
    const y = x.to('float64');
    expect(y.requiresGrad).toBe(true);
    gradcheck((a) => a.to('float64'), [x]);
    gradcheck((a) => a.to({ dtype: 'float64' }), [x]);
    gradcheck((a) => a.double(), [x]);
    gradcheck((a) => a.to({ dtype: 'float64', copy: true }), [x]);
    gradcheck((a) => a.to('cpu'), [x]);
  });
  test('contiguous of a transposed view', () => gradcheck((x) => x.t().contiguous(), [r()]));
  test('nt.contiguous', () => gradcheck((x) => nt.contiguous(x.permute(1, 0)), [r()]));
  test('float32 round trip passes exact unit gradients back as float64', () => {
    const x = r();
    x.to('float32').mul(3).sum().backward();
    expect(x.grad!.dtype).toBe('float64');
    expectTensor(x.grad!, [[3, 3, 3], [3, 3, 3]], 0);
  });
  test('a composite expression', () => {
    gradcheck((a, b) => a.matmul(b).tanh().softmax(1).mul(a.sum(1, true)).logSoftmax(0).add(b.pow(2).mean()),
      [r([2, 3]), r([3, 4])]);
  });
});

describe('exact gradients on tiny inputs', () => {
  test('d/dw sum(w * 2) = 2 everywhere', () => {
    const w = nt.randn([3, 3], { requiresGrad: true });
    w.mul(2).sum().backward();
    expectTensor(w.grad!, [[2, 2, 2], [2, 2, 2], [2, 2, 2]], 0);
    expect(w.grad!.dtype).toBe('float32');
  });
  test('d/dx sum(x^2) = 2x and d/dx mean(x) = 1/n', () => {
    const x = nt.tensor([1, -2, 3], { dtype: 'float64', requiresGrad: true });
    x.pow(2).sum().backward();
    expectTensor(x.grad!, [2, -4, 6], 0);
    x.grad = null;
    x.mean().backward();
    expectTensor(x.grad!, [1 / 3, 1 / 3, 1 / 3], 1e-15);
  });
  test('product rule through mul of two leaves', () => {
    const a = nt.tensor([2, 3], { dtype: 'float64', requiresGrad: true });
    const b = nt.tensor([5, 7], { dtype: 'float64', requiresGrad: true });
    a.mul(b).sum().backward();
    expectTensor(a.grad!, [5, 7], 0);
    expectTensor(b.grad!, [2, 3], 0);
  });
  test('broadcast gradients are summed over the broadcast dims', () => {
    const a = nt.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64', requiresGrad: true });
    const b = nt.tensor([10, 20, 30], { dtype: 'float64', requiresGrad: true });
    a.add(b).sum().backward();
    expectTensor(b.grad!, [2, 2, 2], 0);
    expectTensor(a.grad!, [[1, 1, 1], [1, 1, 1]], 0);
  });
  test('gradients flow through an in-place op on a non-leaf', () => {
    const x = nt.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(3);
    y.add_(1).mul_(2);
    y.sum().backward();
    expectTensor(x.grad!, [6, 6], 0);
  });
  test('an in-place op on a leaf that requires grad is an error', () => {
    const x = nt.tensor([1, 2], { requiresGrad: true });
    expect(() => x.add_(1)).toThrow(/leaf/);
    expect(() => x.mul_(x)).toThrow(/leaf/);
  });
});

describe('backward and gradient bookkeeping', () => {
  test('backward on a non-scalar without a gradient is an error naming the shape', () => {
    const x = nt.ones([2, 3], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(/backward.*(scalar|one-element).*\[2, 3\]/);
    expect(x.grad).toBeNull();
  });

  test('backward with a gradient argument computes a vector-Jacobian product', () => {
    const x = nt.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const y = x.pow(2);
    y.backward(nt.tensor([1, 10, 100], { dtype: 'float64' }));
    expectTensor(x.grad!, [2, 40, 600], 0);
  });

  test('backward with a gradient of the wrong shape is an error naming both shapes', () => {
    const x = nt.ones([3], { requiresGrad: true });
    expect(() => x.mul(2).backward(nt.ones([2]))).toThrow(/\[2\].*\[3\]/);
  });

  test('backward on a tensor that does not require grad is an error', () => {
    expect(() => nt.ones([1]).backward()).toThrow(/does not require grad/);
    expect(() => nt.noGrad(() => nt.ones([1], { requiresGrad: true }).mul(2)).backward()).toThrow(/require grad/);
  });

  test('gradients accumulate across two backward calls with retainGraph', () => {
    const x = nt.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward(null, { retainGraph: true });
    expectTensor(x.grad!, [2, 4], 0);
    y.backward();
    expectTensor(x.grad!, [4, 8], 0);
    // the graph's saved tensors were freed by the last backward
    expect(() => y.backward()).toThrow(/second time|freed/);
  });

  test('gradients accumulate across separate graphs until zeroed', () => {
    const x = nt.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(4).sum().backward();
    expectTensor(x.grad!, [7, 7], 0);
    x.zeroGrad_();
    expectTensor(x.grad!, [0, 0], 0);
    x.mul(5).sum().backward();
    expectTensor(x.grad!, [5, 5], 0);
  });

  test('zeroGrad_ zeroes in place, and is a no-op without a gradient', () => {
    const x = nt.ones([2], { requiresGrad: true });
    expect(x.zeroGrad_()).toBe(x);
    expect(x.grad).toBeNull();
    x.sum().backward();
    const g = x.grad!;
    x.zeroGrad_();
    expectTensor(g, [0, 0], 0); // same memory as x.grad
    expectTensor(x.grad!, [0, 0], 0);
  });

  test('grad can be set and cleared', () => {
    const x = nt.ones([2], { requiresGrad: true });
    x.grad = nt.tensor([3, 4]);
    expectTensor(x.grad, [3, 4], 0);
    x.sum().backward();
    expectTensor(x.grad, [4, 5], 0);
    x.grad = null;
    expect(x.grad).toBeNull();
    expect(() => { x.grad = nt.ones([3]); }).toThrow(/grad/);
    expect(() => { x.grad = nt.ones([2], { dtype: 'float64' }); }).toThrow(/grad/);
  });

  test('noGrad disables recording and restores the mode, even when fn throws', () => {
    const x = nt.ones([2], { requiresGrad: true });
    expect(nt.isGradEnabled()).toBe(true);
    const y = nt.noGrad(() => {
      expect(nt.isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(nt.isGradEnabled()).toBe(true);
    expect(() => nt.noGrad(() => { throw new Error('inside'); })).toThrow('inside');
    expect(nt.isGradEnabled()).toBe(true);
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  test('enableGrad inside noGrad records again', () => {
    const x = nt.ones([2], { requiresGrad: true });
    const [a, b] = nt.noGrad(() => {
      const inner = nt.enableGrad(() => {
        expect(nt.isGradEnabled()).toBe(true);
        return x.mul(2);
      });
      expect(nt.isGradEnabled()).toBe(false);
      return [inner, x.mul(2)];
    });
    expect(a.requiresGrad).toBe(true);
    expect(a.gradFn).toBe('MulBackward1');
    expect(b.requiresGrad).toBe(false);
    a.sum().backward();
    expectTensor(x.grad!, [2, 2], 0);
  });

  test('setGradEnabled toggles the mode', () => {
    try {
      nt.setGradEnabled(false);
      expect(nt.isGradEnabled()).toBe(false);
      expect(nt.ones([1], { requiresGrad: true }).mul(2).requiresGrad).toBe(false);
    } finally {
      nt.setGradEnabled(true);
    }
    expect(nt.isGradEnabled()).toBe(true);
  });

  test('detach stops gradients', () => {
    const x = nt.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.mul(2).requiresGrad).toBe(false);
    // d/dx sum(x * stop(x)) = stop(x)
    x.mul(nt.detach(x)).sum().backward();
    expectTensor(x.grad!, [1, 2, 3], 0);
  });

  test('requiresGrad_ toggles the flag on float tensors and errors clearly on int tensors', () => {
    const x = nt.zeros([2]);
    expect(x.requiresGrad).toBe(false);
    expect(x.requiresGrad_()).toBe(x);
    expect(x.requiresGrad).toBe(true);
    x.requiresGrad_(false);
    expect(x.requiresGrad).toBe(false);
    for (const dtype of ['int64', 'int32', 'int8', 'uint8', 'int16', 'bool'] as const) {
      const i = nt.zeros([2], { dtype });
      expect(() => i.requiresGrad_()).toThrow(new RegExp(`floating.*${dtype}`));
      expect(i.requiresGrad).toBe(false);
      expect(() => i.requiresGrad_(false)).not.toThrow();
    }
    expect(() => nt.zeros([2], { dtype: 'int64', requiresGrad: true })).toThrow(/floating point/);
    expect(() => nt.tensor([1, 2], { dtype: 'int32', requiresGrad: true })).toThrow(/floating/);
  });

  test('gradFn names match PyTorch', () => {
    const x = nt.ones([2, 2], { requiresGrad: true });
    const y = nt.ones([2, 2], { requiresGrad: true });
    expect(x.gradFn).toBeNull();
    expect(x.add(y).gradFn).toBe('AddBackward0');
    expect(x.add(1).gradFn).toBe('AddBackward1');
    expect(x.mul(y).gradFn).toBe('MulBackward0');
    expect(x.sub(y).gradFn).toBe('SubBackward0');
    expect(x.div(y).gradFn).toBe('DivBackward0');
    expect(x.mm(y).gradFn).toBe('MmBackward0');
    expect(x.sum().gradFn).toBe('SumBackward0');
    expect(x.mean().gradFn).toBe('MeanBackward0');
    expect(x.exp().gradFn).toBe('ExpBackward0');
    expect(x.relu().gradFn).toBe('ReluBackward0');
    expect(x.view(4).gradFn).toBe('ViewBackward0');
    expect(x.t().gradFn).toBe('TBackward0');
    expect(x.clone().gradFn).toBe('CloneBackward0');
    expect(x.to('float64').gradFn).toBe('ToCopyBackward0');
    expect(nt.noGrad(() => x.add(y)).gradFn).toBeNull();
  });

  test('isLeaf', () => {
    const x = nt.ones([2], { requiresGrad: true });
    expect(x.isLeaf).toBe(true);
    expect(nt.ones([2]).isLeaf).toBe(true);
    const y = x.mul(2);
    expect(y.isLeaf).toBe(false);
    expect(y.detach().isLeaf).toBe(true);
    expect(nt.noGrad(() => x.mul(2)).isLeaf).toBe(true);
  });

  test('retainGrad keeps the gradient of a non-leaf', () => {
    const x = nt.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(3);
    const z = x.mul(4);
    expect(y.retainGrad()).toBe(y);
    y.mul(z).sum().backward();
    expectTensor(y.grad!, [4, 8], 0); // dL/dy = z
    expect(z.grad).toBeNull();
    expectTensor(x.grad!, [24, 48], 0); // d(12 x^2)/dx = 24x
    expect(() => nt.ones([2]).retainGrad()).toThrow(/requires_grad|require/);
  });

  test('nt.autograd.grad returns gradients without touching .grad', () => {
    const x = nt.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const y = nt.tensor([4, 5, 6], { dtype: 'float64', requiresGrad: true });
    const out = x.pow(2).mul(y).sum();
    const [gx, gy] = nt.autograd.grad(out, [x, y]);
    expectTensor(gx!, [8, 20, 36], 0);
    expectTensor(gy!, [1, 4, 9], 0);
    expect(x.grad).toBeNull();
    expect(y.grad).toBeNull();
    expect(gx!.requiresGrad).toBe(false);
  });

  test('nt.autograd.grad with gradOutputs, several outputs and allowUnused', () => {
    const x = nt.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const unused = nt.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const a = x.mul(2);
    const b = x.mul(x);
    const [g] = nt.autograd.grad([a, b], x, {
      gradOutputs: [nt.tensor([1, 1], { dtype: 'float64' }), nt.tensor([10, 100], { dtype: 'float64' })],
    });
    expectTensor(g!, [2 + 20, 2 + 400], 0);
    expect(() => nt.autograd.grad(x.sum(), unused)).toThrow(/allow_unused|allowUnused|not have been used/);
    expect(nt.autograd.grad(x.sum(), [x, unused], { allowUnused: true })[1]).toBeNull();
  });

  test('createGraph enables a second derivative: d2/dx2 of x^3 = 6x', () => {
    const x = nt.tensor([2, -1, 0.5], { dtype: 'float64', requiresGrad: true });
    const [g] = nt.autograd.grad(x.pow(3).sum(), x, { createGraph: true });
    expectTensor(g!, [12, 3, 0.75], 1e-12); // 3x^2
    expect(g!.requiresGrad).toBe(true);
    const [g2] = nt.autograd.grad(g!.sum(), x);
    expectTensor(g2!, [12, -6, 3], 1e-12); // 6x
    expect(x.grad).toBeNull();

    // the same through backward({ createGraph: true })
    const s = nt.tensor(1.5, { dtype: 'float64', requiresGrad: true });
    s.pow(3).backward(null, { createGraph: true });
    const first = s.grad!;
    expect(first.item()).toBeCloseTo(3 * 1.5 ** 2, 12);
    expect(first.requiresGrad).toBe(true);
    const [second] = nt.autograd.grad(first, s);
    expect(second!.item()).toBeCloseTo(6 * 1.5, 12);
  });

  test('grad mode is per call: a graph built before noGrad still backpropagates inside it', () => {
    const x = nt.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(x).sum();
    nt.noGrad(() => y.backward());
    expectTensor(x.grad!, [2, 4], 0);
  });
});

// Debian 13's libtorch 2.6 got these wrong on its oneDNN path (input gradients of batched
// convolutions, transposed convolutions, recurrent forwards without autograd); the addon checks
// oneDNN at load and turns it off where it is wrong. float64 never takes that path, so float32
// results are held against float64's (whose gradients gradcheck verifies above).
describe('float32 kernels agree with float64 (whatever backend libtorch picks)', () => {
  const ramp = (shape: number[], scale: number) => nt.arange(shape.reduce((a, b) => a * b, 1)).mul(scale).sin().reshape(shape);
  const both = (f: (x: nt.Tensor, w: nt.Tensor) => nt.Tensor, xShape: number[], wShape: number[]) => {
    const run = (dtype: 'float32' | 'float64') => {
      const x = ramp(xShape, 0.7).to(dtype).requiresGrad_();
      const w = ramp(wShape, 0.3).to(dtype).requiresGrad_();
      const y = f(x, w);
      y.mul(ramp([...y.shape], 0.5).to(dtype)).sum().backward();
      return [y, x.grad!, w.grad!].map((t) => Array.from(t.detach().dataSync() as ArrayLike<number>, Number));
    };
    const [a, b] = [run('float32'), run('float64')];
    ['output', 'input gradient', 'weight gradient'].forEach((what, i) => {
      const worst = Math.max(...a[i].map((v, j) => (Number.isNaN(v) ? Infinity : Math.abs(v - b[i][j]))));
      expect({ what, worst: worst < 1e-4 }).toEqual({ what, worst: true });
    });
  };
  test('conv1d with a batch of 4, padded and not', () => {
    both((x, w) => nt.F.conv1d(x, w, undefined, { padding: 1 }), [4, 3, 7], [5, 3, 3]);
    both((x, w) => nt.F.conv1d(x, w), [4, 6, 7], [5, 6, 3]);
  });
  test('conv2d and conv3d with a batch of 4', () => {
    both((x, w) => nt.F.conv2d(x, w, undefined, { padding: 1 }), [4, 2, 5, 5], [3, 2, 3, 3]);
    both((x, w) => nt.F.conv2d(x, w, undefined, { dilation: 2 }), [4, 3, 9, 9], [6, 3, 3, 3]);
    both((x, w) => nt.conv3d(x, w, null, [1, 1, 1], [1, 1, 1]), [4, 2, 4, 4, 4], [3, 2, 3, 3, 3]);
  });
  test('conv_transpose2d with a batch of 4', () => {
    both((x, w) => nt.convTranspose2d(x, w, null, [1, 1], [1, 1]), [4, 3, 9, 9], [3, 2, 3, 3]);
  });
  test('an LSTM gives the same output with and without autograd', () => {
    nt.manualSeed(3);
    const lstm = new nt.nn.LSTM(4, 3, { batchFirst: true });
    const x = nt.randn([2, 5, 4]);
    const withGrad = lstm(x)[0];
    const noGrad = nt.noGrad(() => lstm(x)[0]);
    expect(withGrad.requiresGrad).toBe(true);
    expect(noGrad.sub(withGrad.detach()).abs().max().item()).toBeLessThan(1e-6);
  });
  test('what was decided about oneDNN and the TorchScript CPU fuser is reported', () => {
    expect(native.build_info().oneDnn).toMatch(/^(on|off|not in this libtorch)\b/);
    expect(native.build_info().jitCpuFusion).toMatch(/^off \(/); // on only when NODETORCH_JIT_CPU_FUSION=on
  });
});
