// Optimizers, schedulers and gradient clipping: exact values on tiny inputs, and parity with
// PyTorch 1.13 through test/golden/optim.json (written by test/golden/optim.py).
import * as fs from 'fs';
import * as path from 'path';
import * as nt from '../lib';
import { optim } from '../lib';
import { native } from '../lib/native';
import { expectTensor, flat } from './helpers';

const { lrScheduler } = optim;

interface GoldenOptimizer {
  kind: 'SGD' | 'Adam' | 'AdamW' | 'RMSprop' | 'Adagrad';
  options: Record<string, unknown>;
  groups: ({ params: number[] } & Record<string, unknown>)[] | null;
  steps: number[][][];
  state: Record<string, Record<string, number | number[]>>;
}
interface GoldenScheduler {
  name: 'StepLR' | 'ExponentialLR' | 'CosineAnnealingLR' | 'ReduceLROnPlateau' | 'OneCycleLR';
  kind: 'SGD' | 'Adam';
  options: Record<string, unknown>;
  lrs: number[][];
  momenta: number[][];
}
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'optim.json'), 'utf8')) as {
  shapes: number[][];
  optimizers: GoldenOptimizer[];
  schedulers: GoldenScheduler[];
  plateauMetrics: number[];
  clip: { total: number; grads: number[][]; totalInf: number; gradsInf: number[][] };
};

// ---- the same parameters and loss as test/golden/optim.py ----

function makeParams(): nt.Tensor[] {
  return golden.shapes.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const vals = Array.from({ length: n }, (_, i) => 0.5 * Math.sin(0.37 * i + k));
    return nt.tensor(vals).reshape(shape).detach().requiresGrad_();
  });
}

function lossOf(params: nt.Tensor[]): nt.Tensor {
  let total: nt.Tensor | null = null;
  params.forEach((p, k) => {
    const n = p.numel;
    const target = nt.tensor(Array.from({ length: n }, (_, i) => 0.3 * Math.cos(0.11 * i + k))).reshape([...p.shape]);
    const c = nt.tensor(Array.from({ length: n }, (_, i) => 1 + 0.1 * (i % 3))).reshape([...p.shape]);
    const term = p.sub(target).pow(2).mul(c).sum().add(p.pow(3).sum().mul(0.1));
    total = total === null ? term : total.add(term);
  });
  return total!;
}

function trainStep(opt: optim.Optimizer, params: nt.Tensor[]): void {
  nt.tidy(() => {
    opt.zeroGrad();
    lossOf(params).backward();
    opt.step();
  });
}

function expectClose(got: number[], expected: number[], tol = 1e-5): void {
  expect(got.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(got[i] - expected[i]) > tol * Math.max(1, Math.abs(expected[i]))) {
      throw new Error(`index ${i}: got ${got[i]}, expected ${expected[i]} (tolerance ${tol})\n got ${got}\n expected ${expected}`);
    }
  }
}

function makeOptimizer(g: GoldenOptimizer, params: nt.Tensor[]): optim.Optimizer {
  const Cls = optim[g.kind] as unknown as new (p: unknown, o: unknown) => optim.Optimizer;
  const input = g.groups === null ? params : g.groups.map(({ params: idx, ...rest }) => ({ params: idx.map((i) => params[i]), ...rest }));
  return new Cls(input, g.options);
}

function label(g: { kind: string; options: unknown; groups?: unknown }): string {
  return `${g.kind} ${JSON.stringify(g.options)}${g.groups ? ` groups ${JSON.stringify(g.groups)}` : ''}`;
}

describe('optimizers match PyTorch 1.13 (golden values)', () => {
  test.each(golden.optimizers.map((g) => [label(g), g] as const))('%s', (_, g) => {
    const params = makeParams();
    const opt = makeOptimizer(g, params);
    for (let s = 0; s < g.steps.length; s++) {
      trainStep(opt, params);
      params.forEach((p, k) => expectClose(Array.from(p.dataSync() as Float32Array), g.steps[s][k]));
    }
    // the state under PyTorch's key names, with PyTorch's values
    const sd = opt.stateDict();
    expect(Object.keys(sd.state).sort()).toEqual(Object.keys(g.state).sort());
    for (const [idx, st] of Object.entries(g.state)) {
      const mine = sd.state[Number(idx)];
      expect(Object.keys(mine).sort()).toEqual(Object.keys(st).sort());
      for (const [k, v] of Object.entries(st)) {
        if (k === 'step') expect(mine.step).toBe(v);
        else expectClose(flat((mine[k] as nt.Tensor).toArray()), v as number[]);
      }
    }
  });
});

describe('schedulers match PyTorch 1.13 (golden values)', () => {
  test.each(golden.schedulers.map((g) => [`${g.name} on ${g.kind} ${JSON.stringify(g.options)}`, g] as const))('%s', (_, g) => {
    const params = makeParams();
    const groups = [{ params: [params[0]], lr: 0.1 }, { params: [params[1]], lr: 0.01 }];
    const opt: optim.Optimizer = g.kind === 'SGD' ? new optim.SGD(groups, { lr: 0.1, momentum: 0.9 }) : new optim.Adam(groups);
    const momenta = () => opt.paramGroups.map((pg) => (pg.betas ? (pg.betas as number[])[0] : (pg.momentum as number)));
    const lrs = () => opt.paramGroups.map((pg) => pg.lr);
    const Cls = lrScheduler[g.name] as unknown as new (o: optim.Optimizer, opts: unknown) => { step(m?: number): void; getLastLr(): number[] };
    const sched = new Cls(opt, g.options);
    expectClose(lrs(), g.lrs[0], 1e-9);
    expectClose(momenta(), g.momenta[0], 1e-9);
    for (let i = 1; i < g.lrs.length; i++) {
      opt.step();
      sched.step(g.name === 'ReduceLROnPlateau' ? golden.plateauMetrics[i - 1] : undefined);
      expectClose(lrs(), g.lrs[i], 1e-9);
      expectClose(sched.getLastLr(), g.lrs[i], 1e-9);
      expectClose(momenta(), g.momenta[i], 1e-9);
    }
    // and the native optimizer got the same values
    const sd = opt.stateDict();
    expectClose(sd.param_groups.map((pg) => pg.lr as number), g.lrs[g.lrs.length - 1], 1e-9);
  });
});

describe('optimizer behaviour', () => {
  test('SGD step on a tiny input: p - lr * grad, exactly', () => {
    const p = nt.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.5 });
    p.mul(p).sum().backward(); // grad 2p
    opt.step();
    expectTensor(p, [0, 0]);
    expect(opt.defaults).toEqual({ lr: 0.5, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false });
  });

  test('Adam first step moves every coordinate by lr (bias-corrected)', () => {
    const p = nt.tensor([1, -2, 3], { requiresGrad: true });
    const opt = new optim.Adam([p], { lr: 0.1 });
    p.mul(p).sum().backward();
    opt.step();
    expectTensor(p, [0.9, -1.9, 2.9], 1e-6);
  });

  test('PyTorch 2.x defaults', () => {
    const p = () => [nt.ones([1], { requiresGrad: true })];
    expect(new optim.SGD(p()).defaults.lr).toBe(1e-3);
    expect(new optim.Adam(p()).defaults).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false });
    expect(new optim.AdamW(p()).defaults.weightDecay).toBe(1e-2);
    expect(new optim.RMSprop(p()).defaults).toEqual({ lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false });
    expect(new optim.Adagrad(p()).defaults).toEqual({ lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 });
  });

  test('zeroGrad sets gradients to null by default, or zeroes them in place', () => {
    const p = nt.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1 });
    p.sum().backward();
    const g = p.grad!;
    opt.zeroGrad(false);
    expectTensor(p.grad!, [0, 0]);
    expectTensor(g, [0, 0]); // the same memory
    p.sum().backward();
    expectTensor(p.grad!, [1, 1]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    opt.step(); // no gradient: nothing moves
    expectTensor(p, [1, 2]);
  });

  test('a parameter group lr change takes effect on the next step', () => {
    const a = nt.tensor([1], { requiresGrad: true });
    const b = nt.tensor([1], { requiresGrad: true });
    const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.2 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.2]);
    expect(opt.paramGroups[0].params[0]).toBe(a);
    opt.paramGroups[1].lr = 0.5;
    a.sum().add(b.sum()).backward();
    opt.step();
    expectTensor(a, [0.9]);
    expectTensor(b, [0.5]);
    expect(opt.stateDict().param_groups[1].lr).toBe(0.5);
    // other options too
    opt.paramGroups[0].momentum = 0.9;
    expect(opt.stateDict().param_groups[0].momentum).toBe(0.9);
    expect(() => { opt.paramGroups[0].lr = -1; }).toThrow(/SGD: expected lr to be a non-negative number but received -1/);
    expect(opt.paramGroups[0].lr).toBe(0.1);
  });

  test('betas can be set on a group and reach the optimizer', () => {
    const p = nt.ones([2], { requiresGrad: true });
    const opt = new optim.Adam([p]);
    opt.paramGroups[0].betas = [0.5, 0.6];
    expect(opt.stateDict().param_groups[0].betas).toEqual([0.5, 0.6]);
    expect(() => { opt.paramGroups[0].betas = [1, 0.5]; }).toThrow(/betas.*\[0, 1\)/);
  });

  test('addParamGroup adds parameters with their own options', () => {
    const a = nt.tensor([1], { requiresGrad: true });
    const b = nt.tensor([1], { requiresGrad: true });
    const opt = new optim.Adagrad([a], { lr: 0.1 });
    opt.addParamGroup({ params: [b], lr: 0.2, initialAccumulatorValue: 1 });
    expect(opt.paramGroups.length).toBe(2);
    expect(opt.paramGroups[1].lrDecay).toBe(0);
    a.sum().add(b.sum()).backward();
    opt.step();
    // Adagrad: p -= lr * g / (sqrt(acc + g^2) + eps)
    expectTensor(a, [1 - 0.1], 1e-6);
    expectTensor(b, [1 - 0.2 / Math.sqrt(2)], 1e-6);
    expect(() => opt.addParamGroup({ params: [a] })).toThrow(/more than one parameter group/);
  });

  test('stateDict round trip: a resumed optimizer takes identical next steps', () => {
    for (const make of [
      (p: nt.Tensor[]) => new optim.Adam(p, { lr: 0.1, amsgrad: true }),
      (p: nt.Tensor[]) => new optim.SGD(p, { lr: 0.1, momentum: 0.9 }),
      (p: nt.Tensor[]) => new optim.RMSprop(p, { lr: 0.01, centered: true, momentum: 0.5 }),
      (p: nt.Tensor[]) => new optim.Adagrad(p, { lr: 0.1, lrDecay: 0.1 }),
      (p: nt.Tensor[]) => new optim.AdamW(p, { lr: 0.1 }),
    ]) {
      const a = makeParams();
      const optA = make(a);
      for (let i = 0; i < 3; i++) trainStep(optA, a);
      const sd = optA.stateDict();
      // a second copy of the parameters, resumed from the state dict
      const b = a.map((p) => p.detach().clone().requiresGrad_());
      const optB = make(b);
      optB.paramGroups[0].lr = 123; // overwritten by the load
      optB.loadStateDict(sd);
      expect(optB.paramGroups[0].lr).toBe(optA.paramGroups[0].lr);
      for (let i = 0; i < 2; i++) {
        trainStep(optA, a);
        trainStep(optB, b);
      }
      a.forEach((p, k) => expect(Array.from(b[k].dataSync() as Float32Array)).toEqual(Array.from(p.dataSync() as Float32Array)));
    }
  });

  test('stateDict tensors are copies and the state dict survives JSON-like inspection', () => {
    const p = nt.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    p.sum().backward();
    opt.step();
    const sd = opt.stateDict();
    const buf = sd.state[0].momentum_buffer as nt.Tensor;
    expectTensor(buf, [1, 1]);
    opt.step();
    expectTensor(buf, [1, 1]);
    expect(sd.param_groups).toEqual([{ lr: 0.1, momentum: 0.9, dampening: 0, weight_decay: 0, nesterov: false, params: [0] }]);
  });

  test('loadStateDict rejects a different number of groups or parameters', () => {
    const a = nt.ones([2], { requiresGrad: true });
    const b = nt.ones([2], { requiresGrad: true });
    const one = new optim.Adam([a, b]);
    a.sum().add(b.sum()).backward();
    one.step();
    const sd = one.stateDict();
    const two = new optim.Adam([{ params: [nt.ones([2], { requiresGrad: true })] }, { params: [nt.ones([2], { requiresGrad: true })] }]);
    expect(() => two.loadStateDict(sd)).toThrow(/1 parameter group\(s\) but the optimizer has 2/);
    const fewer = new optim.Adam([nt.ones([2], { requiresGrad: true })]);
    expect(() => fewer.loadStateDict(sd)).toThrow(/2 parameter\(s\) but the optimizer's group has 1/);
    const otherShape = new optim.Adam([nt.ones([3], { requiresGrad: true }), nt.ones([2], { requiresGrad: true })]);
    expect(() => otherShape.loadStateDict(sd)).toThrow(/shape \[2\] but the parameter has shape \[3\]/);
    expect(() => fewer.loadStateDict(null as unknown as optim.OptimizerStateDict)).toThrow(/state, param_groups/);
  });

  test('schedulers save and restore their state', () => {
    const p = nt.ones([1], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 1 });
    const s = new lrScheduler.StepLR(opt, { stepSize: 2 });
    for (let i = 0; i < 3; i++) s.step();
    const sd = s.stateDict();
    expect(sd).toMatchObject({ step_size: 2, gamma: 0.1, last_epoch: 3, base_lrs: [1] });
    const opt2 = new optim.SGD([nt.ones([1], { requiresGrad: true })], { lr: opt.paramGroups[0].lr });
    const s2 = new lrScheduler.StepLR(opt2, { stepSize: 2 });
    s2.loadStateDict(sd);
    expect(s2.lastEpoch).toBe(3);
    s.step();
    s2.step();
    expect(s2.getLastLr()).toEqual(s.getLastLr());
    const r = new lrScheduler.ReduceLROnPlateau(opt, { patience: 0 });
    r.step(1);
    r.step(nt.tensor(2));
    expect(r.getLastLr()[0]).toBeCloseTo(opt.paramGroups[0].lr, 12);
    const r2 = new lrScheduler.ReduceLROnPlateau(opt2);
    r2.loadStateDict(r.stateDict());
    expect(r2.best).toBe(1);
    expect(r2.patience).toBe(0);
  });

  test('OneCycleLR needs a momentum to cycle and refuses steps past totalSteps', () => {
    const p = () => [nt.ones([1], { requiresGrad: true })];
    expect(() => new lrScheduler.OneCycleLR(new optim.Adagrad(p()), { maxLr: 1, totalSteps: 3 })).toThrow(/momentum/);
    const s = new lrScheduler.OneCycleLR(new optim.Adagrad(p()), { maxLr: 1, totalSteps: 3, cycleMomentum: false });
    s.step();
    s.step();
    s.step();
    expect(() => s.step()).toThrow(/tried to step 5 times.*total steps is 3/);
    expect(() => new lrScheduler.OneCycleLR(new optim.SGD(p()), { maxLr: 1 })).toThrow(/totalSteps or \(epochs and stepsPerEpoch\)/);
  });

  test('clipGradNorm_ against a hand computation, and PyTorch', () => {
    const a = nt.tensor([3, 0], { requiresGrad: true });
    const b = nt.tensor([4], { requiresGrad: true });
    a.grad = nt.tensor([3, 0]);
    b.grad = nt.tensor([4]);
    const total = optim.clipGradNorm_([a, b], 1);
    expect(total).toBeCloseTo(5, 6); // sqrt(9 + 16)
    const coef = 1 / (5 + 1e-6);
    expectTensor(a.grad!, [3 * coef, 0], 1e-6);
    expectTensor(b.grad!, [4 * coef], 1e-6);
    // a norm below maxNorm leaves gradients as they are
    expect(optim.clipGradNorm_([a, b], 10)).toBeCloseTo(1, 5);
    expectTensor(b.grad!, [4 * coef], 1e-6);
    // max norm
    a.grad = nt.tensor([-3, 1]);
    expect(optim.clipGradNorm_(a, 100, { normType: 'inf' })).toBe(3);
    // the golden: the same loss as above, clipped as torch.nn.utils.clip_grad_norm_ does
    for (const [maxNorm, normType, total, grads] of [
      [1, 2, golden.clip.total, golden.clip.grads],
      [0.5, Infinity, golden.clip.totalInf, golden.clip.gradsInf],
    ] as [number, number, number, number[][]][]) {
      const params = makeParams();
      lossOf(params).backward();
      expect(Math.abs(optim.clipGradNorm_(params, maxNorm, { normType }) - total)).toBeLessThan(1e-5 * total);
      params.forEach((p, k) => expectClose(flat(p.grad!.toArray()), grads[k]));
    }
  });

  test('clipGradValue_ clamps each gradient', () => {
    const a = nt.tensor([1, 2, 3], { requiresGrad: true });
    a.grad = nt.tensor([-5, 0.5, 5]);
    optim.clipGradValue_([a], 1);
    expectTensor(a.grad!, [-1, 0.5, 1]);
  });

  test('options set after steps create the state they need (amsgrad, momentum, centered)', () => {
    const p = nt.tensor([1, 2], { requiresGrad: true });
    for (const [opt, key, value] of [
      [new optim.Adam([p], { lr: 0.1 }), 'amsgrad', true],
      [new optim.AdamW([p], { lr: 0.1 }), 'amsgrad', true],
      [new optim.RMSprop([p]), 'momentum', 0.9],
      [new optim.RMSprop([p]), 'centered', true],
      [new optim.SGD([p], { lr: 0.1 }), 'momentum', 0.9],
    ] as [optim.Optimizer, string, unknown][]) {
      p.grad = nt.tensor([1, 1]);
      opt.step();
      (opt.paramGroups[0] as Record<string, unknown>)[key] = value;
      opt.step();
      opt.step();
      expect(flat(p.toArray()).every(Number.isFinite)).toBe(true);
    }
  });

  test('a parameter moved with set_data (Module.to) keeps its optimizer state', () => {
    const p = nt.tensor([1, 2], { requiresGrad: true });
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = nt.tensor([1, 1]);
    opt.step();
    native.tensor_set_data(p._h, nt.tensor([5, 5])._h);
    opt.step();
    // momentum buffer 1 -> 0.9 * 1 + 1 = 1.9
    expectTensor(p, [5 - 0.19, 5 - 0.19], 1e-6);
  });
});

describe('bad input gives clear errors', () => {
  const p = () => nt.ones([2], { requiresGrad: true });
  const cases: [string, () => unknown, RegExp][] = [
    ['negative lr', () => new optim.Adam([p()], { lr: -1 }), /^Adam: expected lr to be a non-negative number but received -1$/],
    ['NaN lr', () => new optim.SGD([p()], { lr: NaN }), /SGD: expected lr to be a non-negative number but received NaN/],
    ['string lr', () => new optim.SGD([p()], { lr: '0.1' as unknown as number }), /SGD: expected lr.*string '0.1'/],
    ['betas out of range', () => new optim.Adam([p()], { betas: [0.9, 1] }), /Adam: expected betas to be \[beta1, beta2\] with each in \[0, 1\)/],
    ['betas of length 3', () => new optim.AdamW([p()], { betas: [0.1, 0.2, 0.3] }), /AdamW: expected betas/],
    ['unknown option', () => new optim.RMSprop([p()], { lr: 0.1, momentun: 0.9 } as object), /RMSprop: unknown option 'momentun'.*known options: lr, alpha, eps, weightDecay, momentum, centered/],
    ['unknown group option', () => new optim.SGD([{ params: [p()], foo: 1 }] as unknown as nt.Tensor[]), /SGD: unknown option 'foo' in parameter group 0/],
    ['not a tensor', () => new optim.SGD([p(), 5 as unknown as nt.Tensor]), /SGD: expected params\[1\] to be a Tensor but received number/],
    ['an integer tensor', () => new optim.SGD([nt.tensor([1n, 2n])]), /SGD: can only optimize floating-point tensors but params\[0\] is int64/],
    ['a non-leaf tensor', () => new optim.SGD([p().mul(2)]), /non-leaf/],
    ['a disposed tensor', () => { const t = p(); t.dispose(); return new optim.SGD([t]); }, /disposed/],
    ['a parameter in two groups', () => { const t = p(); return new optim.Adam([{ params: [t] }, { params: [t], lr: 1 }]); }, /some parameters appear in more than one parameter group/],
    ['an empty parameter list', () => new optim.Adam([]), /Adam: optimizer got an empty parameter list/],
    ['an empty group', () => new optim.Adam([{ params: [] }]), /optimizer got an empty parameter list/],
    ['a single tensor', () => new optim.SGD(p() as unknown as nt.Tensor[]), /iterable of Tensors.*single Tensor/],
    ['params not iterable', () => new optim.SGD(5 as unknown as nt.Tensor[]), /expected params to be an array/],
    ['options not an object (a positional lr must be a number)', () => new optim.SGD([p()], 'fast' as never), /SGD: expected lr to be a non-negative number but received/],
    ['nesterov without momentum', () => new optim.SGD([p()], { nesterov: true }), /nesterov momentum requires a momentum and zero dampening/],
    ['zeroGrad(non-boolean)', () => new optim.SGD([p()]).zeroGrad('yes' as unknown as boolean), /zeroGrad: expected setToNone to be a boolean/],
    ['scheduler without optimizer', () => new lrScheduler.StepLR({} as optim.Optimizer, { stepSize: 1 }), /StepLR: expected an optimizer/],
    ['StepLR without stepSize', () => new lrScheduler.StepLR(new optim.SGD([p()]), {} as { stepSize: number }), /StepLR: expected stepSize to be a positive integer but received undefined/],
    ['scheduler unknown option', () => new lrScheduler.ExponentialLR(new optim.SGD([p()]), { gamma: 0.5, gama: 1 } as { gamma: number }), /unknown option 'gama'; known options: gamma, lastEpoch/],
    ['plateau factor >= 1', () => new lrScheduler.ReduceLROnPlateau(new optim.SGD([p()]), { factor: 1 }), /factor to be a number in \[0, 1\)/],
    ['plateau bad metric', () => new lrScheduler.ReduceLROnPlateau(new optim.SGD([p()])).step('x' as unknown as number), /metric to be a number/],
    ['OneCycleLR maxLr per group count', () => new lrScheduler.OneCycleLR(new optim.SGD([p()]), { maxLr: [1, 2], totalSteps: 3 }), /2 values for maxLr|expected 1 values/],
    ['clipGradNorm_ negative maxNorm', () => optim.clipGradNorm_([p()], -1), /clipGradNorm_: expected maxNorm to be a non-negative number but received -1/],
    ['clipGradNorm_ bad params', () => optim.clipGradNorm_([1 as unknown as nt.Tensor], 1), /clipGradNorm_: expected parameters\[0\] to be a Tensor/],
    ['clipGradValue_ bad value', () => optim.clipGradValue_([p()], 'a' as unknown as number), /clipGradValue_: expected clipValue to be a number/],
  ];
  test.each(cases)('%s', (_, f, re) => {
    let err: unknown = null;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(re);
  });
});
