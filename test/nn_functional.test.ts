// F.ctcLoss, F.pad, F.interpolate and F.normalize against PyTorch: test/golden/functional.json is
// written by test/golden/functional.py (Debian's python3-torch 1.13, float64), keyword names as
// PyTorch spells them (read as the camelCase options).
import * as fs from 'fs';
import * as path from 'path';
import * as nt from '../lib';
import { expectTensor } from './helpers';

const { nn, F } = nt;

interface Case { fn: string; args: unknown[]; kwargs: Record<string, unknown>; out: unknown }
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'functional.json'), 'utf8')) as {
  inputs: Record<string, { dtype: string; data: unknown }>; cases: Case[]; ctcGrad: { logits: number[][][]; grad: number[][][] };
};
const input = (k: string): nt.Tensor => nt.tensor(golden.inputs[k].data as number[], { dtype: golden.inputs[k].dtype as nt.DType });
const arg = (a: unknown): unknown => (typeof a === 'string' && a.startsWith('$') ? input(a.slice(1)) : a === 'inf' ? Infinity : a);
const NONFINITE: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };   // Python's str() of them
const numbers = (v: unknown): unknown => (Array.isArray(v) ? v.map(numbers) : typeof v === 'string' ? NONFINITE[v] : v);
const camel = (s: string): string => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

jest.setTimeout(60_000);

test.each(golden.cases.map((c) => [`${c.fn}(${JSON.stringify(c.args)}, ${JSON.stringify(c.kwargs)})`, c] as const))(
  'F.%s matches PyTorch', (_label, c) => {
    const f = (F as unknown as Record<string, (...a: unknown[]) => nt.Tensor>)[camel(c.fn)];
    const kwargs = Object.fromEntries(Object.entries(c.kwargs).map(([k, v]) => [k, arg(v)]));
    const args = c.args.map(arg);
    const out = Object.keys(kwargs).length ? f(...args, kwargs) : f(...args);
    expectTensor(out, numbers(c.out), 1e-10);
  });

describe('ctcLoss', () => {
  const lp = (): nt.Tensor => input('lp');
  test('nn.CTCLoss runs F.ctcLoss with positional, options and snake_case arguments', () => {
    const f = F.ctcLoss(lp(), input('tg'), [6, 5], [3, 2], { reduction: 'sum' }).item() as number;
    expect(new nn.CTCLoss(0, 'sum')(lp(), input('tg'), [6, 5], [3, 2]).item()).toBe(f);
    expect(new nn.CTCLoss({ reduction: 'sum' })(lp(), input('tg'), input('il'), input('tl')).item()).toBe(f);
    expect(F.ctcLoss(lp(), input('tg'), [6, 5], [3, 2], 0, 'sum').item()).toBe(f);
    // one length list and one tensor: read as two lists
    expect(F.ctcLoss(lp(), input('tg'), [6, 5], input('tl'), 0, 'sum').item()).toBe(f);
    const zi = new nn.CTCLoss({ reduction: 'none', zero_infinity: true } as never);
    expect(zi.zeroInfinity).toBe(true);
    expect((zi(lp(), input('tg'), [2, 5], [3, 2]).toArray() as number[])[0]).toBe(0);
    expect(String(new nn.CTCLoss())).toBe('CTCLoss()');
  });

  test('the gradient through logSoftmax matches PyTorch and finite differences', () => {
    const logits = nt.tensor(golden.ctcGrad.logits, { dtype: 'float64' }).requiresGrad_();
    const loss = (z: nt.Tensor): number => F.ctcLoss(z.logSoftmax(2), nt.tensor([[1, 2]], { dtype: 'int64' }), [4], [2]).item() as number;
    const l = F.ctcLoss(logits.logSoftmax(2), nt.tensor([[1, 2]], { dtype: 'int64' }), [4], [2]);
    l.backward();
    const grad = logits.grad as nt.Tensor;
    expectTensor(grad, golden.ctcGrad.grad, 1e-10);
    // central differences on every logit
    const base = golden.ctcGrad.logits.flat(2);
    const g = grad.toArray({ asNumber: true }) as number[][][];
    const h = 1e-6;
    base.forEach((_v, i) => {
      const at = (d: number): number => loss(nt.tensor(base.map((x, j) => (j === i ? x + d : x)), { dtype: 'float64' }).reshape([4, 1, 3]));
      const fd = (at(h) - at(-h)) / (2 * h);
      expect(Math.abs(fd - g.flat(2)[i])).toBeLessThan(1e-6);
    });
  });

  test('bad arguments name the argument and what was expected', () => {
    expect(() => F.ctcLoss(lp(), input('tg').double(), [6, 5], [3, 2])).toThrow('ctcLoss: expected targets to hold class indices as integers but got float64; convert with targets.long()');
    expect(() => F.ctcLoss(lp(), input('tg'), [6], [3, 2])).toThrow('ctcLoss: expected 2 non-negative integers (one per batch element) or a 1-D integer Tensor for inputLengths but received array [6]');
    expect(() => F.ctcLoss(lp(), input('tg'), [6, 5], input('tl').double())).toThrow('ctcLoss: expected targetLengths as a 1-D integer Tensor of 2 lengths');
    expect(() => F.ctcLoss(lp(), input('tg'), [6, 5], [3, 2], 4)).toThrow("ctcLoss: blank 4 is not a class index of logProbs' 4 classes");
    expect(() => F.ctcLoss(lp().reshape([48]), input('tg'), [6, 5], [3, 2])).toThrow('ctcLoss: expected logProbs of shape [T, N, C] (or [T, C] unbatched) but got [48]');
    expect(() => F.ctcLoss(lp(), nt.tensor([[1, 200000], [3, 1]], { dtype: 'int64' }), [6, 5], [2, 2]))
      .toThrow('ctcLoss: targets hold class indices in [1, 200000] but logProbs has 4 classes (expected indices in [0, 3])');
    expect(() => F.ctcLoss(lp(), nt.tensor([[1, -5], [3, 1]], { dtype: 'int64' }), [6, 5], [2, 2])).toThrow('ctcLoss: targets hold class indices in [-5, 3]');
    expect(() => F.ctcLoss(lp(), input('tg'), nt.tensor([6, -1], { dtype: 'int64' }), input('tl'))).toThrow('ctcLoss: inputLengths holds a negative length');
    expect(() => new nn.CTCLoss({ reduction: 'avg' } as never)).toThrow("CTCLoss: expected one of 'none', 'mean', 'sum' for reduction but received string 'avg'");
    expect(() => new nn.CTCLoss({ zeroInf: true } as never)).toThrow("CTCLoss: unknown option 'zeroInf'; known options: blank, reduction, zeroInfinity");
  });
});

describe('pad, interpolate, normalize', () => {
  test('exact values on tiny inputs', () => {
    const x = nt.tensor([[[1, 2, 3]]]);
    expectTensor(F.pad(x, [1, 2]), [[[0, 1, 2, 3, 0, 0]]]);
    expectTensor(F.pad(x, [1, 1], 'constant', 9), [[[9, 1, 2, 3, 9]]]);
    expectTensor(F.pad(x, [2, 1], { mode: 'reflect' }), [[[3, 2, 1, 2, 3, 2]]]);
    expectTensor(F.pad(x, [2, 1], 'replicate'), [[[1, 1, 1, 2, 3, 3]]]);
    expectTensor(F.pad(x, [1, 2], 'circular'), [[[3, 1, 2, 3, 1, 2]]]);
    expectTensor(F.interpolate(x, 6), [[[1, 1, 2, 2, 3, 3]]]);
    const img = F.interpolate(nt.tensor([[[[7, 9]]]], { dtype: 'uint8' }), { scaleFactor: 2 });
    expect(img.dtype).toBe('uint8');
    expectTensor(img, [[[[7, 7, 9, 9], [7, 7, 9, 9]]]]);
    expectTensor(F.interpolate(x, { size: 5, mode: 'linear', alignCorners: true }), [[[1, 1.5, 2, 2.5, 3]]]);
    expectTensor(F.interpolate(nt.tensor([[[1, 3, 5, 7]]]), { scaleFactor: 0.5, mode: 'area' }), [[[2, 6]]]);
    expectTensor(F.normalize(nt.tensor([[3, 4], [0, 0]])), [[0.6, 0.8], [0, 0]]);
    expectTensor(F.normalize(nt.tensor([[3, 4]]), 1, 1), [[3 / 7, 4 / 7]]);
    expectTensor(F.oneHot(nt.tensor([0, 2], { dtype: 'int64' }), 3), [[1, 0, 0], [0, 0, 1]]);
  });

  test('gradients flow through pad, interpolate and normalize', () => {
    const x = nt.tensor([[[1, 2, 3]]], { dtype: 'float64' }).requiresGrad_();
    F.pad(x, [1, 1], 'reflect').sum().backward();
    expectTensor(x.grad as nt.Tensor, [[[1, 3, 1]]]);
    const y = nt.tensor([[[1, 2]]], { dtype: 'float64' }).requiresGrad_();
    F.interpolate(y, { scaleFactor: 2 }).sum().backward();
    expectTensor(y.grad as nt.Tensor, [[[2, 2]]]);
  });

  test('bad arguments name the call, the argument and what was expected', () => {
    const x = nt.randn([1, 2, 3, 4]);
    expect(() => F.pad(x, [1, 2, 3])).toThrow('pad: expected an even-length list of integers');
    expect(() => F.pad(x, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1])).toThrow('pad: pad [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] pads 5 dims but input [1, 2, 3, 4] has 4');
    expect(() => F.pad(x, [1, 1], 'reflect')).toThrow("pad: mode 'reflect' pads the last 1, 2 or 3 dims");
    expect(() => F.pad(x, [4, 0, 0, 0], 'reflect')).toThrow("pad: mode 'reflect' pads dim 3 of size 4 by at most 3 per side but pad asks for (4, 0)");
    expect(() => F.pad(x, [1, 1, 1, 1], 'reflect', 2)).toThrow("pad: value is only read by mode 'constant', not 'reflect'");
    expect(() => F.pad(x, [1, 1], 'wrap' as never)).toThrow("pad: expected one of 'constant', 'reflect', 'replicate', 'circular' for mode but received string 'wrap'");
    expect(() => F.pad(x, [-10, 0])).toThrow('pad: pad (-10, 0) of dim 3 (size 4) would crop more than the dim holds');
    expect(() => F.pad(x, [0, 0, -2, -2], 'replicate')).toThrow('pad: pad (-2, -2) of dim 2 (size 3) would crop more than the dim holds');
    expect(() => F.interpolate(x, { scaleFactor: 0.1 })).toThrow('interpolate: resampling input [1, 2, 3, 4] to spatial size [0, 0] needs non-empty spatial dims on both sides');
    expect(() => F.interpolate(x)).toThrow('interpolate: give exactly one of size and scaleFactor (got neither)');
    expect(() => F.interpolate(x, { size: 4, scaleFactor: 2 })).toThrow('interpolate: give exactly one of size and scaleFactor (got both)');
    expect(() => F.interpolate(x, { size: [4, 4, 4] })).toThrow('interpolate: input [1, 2, 3, 4] has 2 spatial dims [3, 4] but size [4, 4, 4] has 3');
    expect(() => F.interpolate(x, { size: 4, mode: 'linear' })).toThrow("interpolate: mode 'linear' needs a 3-D input but got 4-D [1, 2, 3, 4]");
    expect(() => F.interpolate(x, { size: 4, alignCorners: true })).toThrow("interpolate: alignCorners only applies to the linear modes");
    expect(() => F.interpolate(x, { scaleFactor: -1 })).toThrow('interpolate: expected a positive number or 2 of them (one per spatial dim) for scaleFactor but received number -1');
    expect(() => F.interpolate(x, { scale: 2 } as never)).toThrow("interpolate: unknown option 'scale'");
    expect(() => F.interpolate(nt.randn([2, 3]), 4)).toThrow('interpolate: expected input of shape [N, C, W], [N, C, H, W] or [N, C, D, H, W] but got [2, 3]');
    expect(() => F.interpolate(nt.ones([1, 1, 2], { dtype: 'int64' }), { size: 4, mode: 'linear' })).toThrow('interpolate: expected a floating-point input but got int64');
    expect(() => F.normalize(x, { dim: 4 })).toThrow('normalize: dim 4 is out of range for input [1, 2, 3, 4]');
    expect(() => F.normalize(nt.tensor([1, 2], { dtype: 'int64' }))).toThrow('normalize: expected a floating-point input but got int64');
  });
});
