// PyTorch parity for nt.nn, nt.F and nt.optim: the numbers in test/golden/modules.json (written by
// test/golden/modules.py from PyTorch), then every module's gradients against float64 finite differences.
//
// Weights are seed-independent, the same formula on both sides: parameter k (0-based, in PyTorch's
// named_parameters() order), flat element i, gets 0.5 * sin(0.37 * i + 1.3 * k + 0.1) / sqrt(fan),
// fan = numel / shape[0] (1 for a 1-D parameter). Inputs and targets are read from the JSON
// (modules.py documents their formulas).
import * as fs from 'fs';
import * as path from 'path';
import * as nt from '../lib';

const { nn, F, optim } = nt;

interface G { shape: number[]; data: number[] }
interface ModelCase {
  paramNames: string[];
  stateDictKeys: string[];
  input: G;
  target: number[];
  output: G;
  loss: number;
  grads: Record<string, G>;
}
interface FunctionalCase {
  fn: string;
  options: Record<string, unknown>;
  input: G;
  target: number[] | G | null;
  output: G;
  inputGrad: G;
}
interface ModuleCase {
  name: string;
  paramNames: string[];
  stateDictKeys: string[];
  inputs: G[];
  inputDtypes: string[];
  output: G;
  inputGrads: (G | null)[];
  grads: Record<string, G>;
}

const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'modules.json'), 'utf8')) as {
  mlp: ModelCase & { repr?: string };
  conv: ModelCase & { buffers: Record<string, G | number>; evalOutput: G };
  lstm: ModelCase & { rnnOutput: G; h: G; c: G };
  gru: ModelCase & { rnnOutput: G; h: G };
  simple: { paramNames: string[]; stateDictKeys: string[]; output: G; repr: string };
  train: { optimizer: string; options: Record<string, unknown>; losses: number[]; params: Record<string, G> }[];
  functional: FunctionalCase[];
  modules: ModuleCase[];
};

const TOL = 1e-5;

// The tensors here are tiny: handing each op to a second intra-op thread costs milliseconds on a
// busy 2-core machine (thousands of forwards in the finite differences), and modules.py ran on one.
let threadsBefore = 0;
beforeAll(() => {
  threadsBefore = nt.getNumThreads();
  nt.setNumThreads(1);
});
afterAll(() => nt.setNumThreads(threadsBefore));

// ---- helpers ----

function formulaParam(k: number, shape: readonly number[]): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const fan = shape.length > 1 ? n / shape[0] : 1;
  return Float64Array.from({ length: n }, (_, i) => (0.5 * Math.sin(0.37 * i + 1.3 * k + 0.1)) / Math.sqrt(fan));
}

/** Sets every parameter from the formula, k being the parameter's index in PyTorch's order. */
function initParams(m: nt.nn.Module, pytorchNames: string[]): void {
  nt.noGrad(() => {
    for (const [name, p] of m.namedParameters()) {
      const k = pytorchNames.indexOf(name);
      if (k < 0) throw new Error(`parameter ${name} is not among PyTorch's: ${pytorchNames.join(', ')}`);
      nt.tidy(() => {
        p.copy_(nt.tensor(formulaParam(k, p.shape), { shape: [...p.shape] }).to(p.dtype));
      });
    }
  });
}

function fromG(g: G, dtype: nt.DType = 'float32'): nt.Tensor {
  if (dtype === 'int64') return nt.tensor(BigInt64Array.from(g.data, (v) => BigInt(v)), { shape: g.shape });
  const t = nt.tensor(Float64Array.from(g.data), { shape: g.shape });
  return dtype === 'float64' ? t : t.to(dtype);
}

function classes(target: number[]): nt.Tensor {
  return nt.tensor(BigInt64Array.from(target, (v) => BigInt(v)), { shape: [target.length] });
}

function close(got: number, want: number, tol = TOL): boolean {
  return Math.abs(got - want) <= tol * (1 + Math.abs(want));
}

/** Asserts shape and every value within tol (absolute + relative); reports the first few misses. */
function expectClose(t: nt.Tensor, want: G, label: string, tol = TOL): void {
  expect({ label, shape: [...t.shape] }).toEqual({ label, shape: want.shape });
  const got = Array.from(t.detach().to('float64').dataSync() as Float64Array);
  const misses: string[] = [];
  want.data.forEach((w, i) => {
    if (!close(got[i], w, tol)) misses.push(`${label}[${i}]: got ${got[i]}, PyTorch ${w}`);
  });
  expect(misses.slice(0, 5)).toEqual([]);
}

function expectScalar(got: number, want: number, label: string, tol = TOL): void {
  expect({ label, ok: close(got, want, tol), got, want }).toEqual({ label, ok: true, got, want: want });
}

function expectGrads(m: nt.nn.Module, want: Record<string, G>): void {
  const named = m.namedParameters();
  expect(named.map(([n]) => n).sort()).toEqual(Object.keys(want).sort());
  for (const [name, p] of named) {
    expect({ name, hasGrad: p.grad !== null }).toEqual({ name, hasGrad: true });
    expectClose(p.grad!, want[name], `grad ${name}`);
  }
}

// ---- the models of modules.py ----

/** Sequential.forward is typed unknown -> unknown (any module may sit last); these end in a tensor. */
function run(m: nt.nn.Sequential, x: nt.Tensor): nt.Tensor {
  const out = m.forward(x);
  if (!(out instanceof nt.Tensor)) throw new Error('expected the Sequential to return a tensor');
  return out;
}

function mlp(): nt.nn.Sequential {
  return new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 3));
}

function convNet(): nt.nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(4 * 4 * 4, 3));
}

class LSTMNet extends nn.Module {
  rnn = new nn.LSTM(3, 5, { numLayers: 2, batchFirst: true });
  fc = new nn.Linear(5, 2);
  forward(x: nt.Tensor): nt.Tensor {
    return this.parts(x).logits;
  }
  parts(x: nt.Tensor): { out: nt.Tensor; h: nt.Tensor; c: nt.Tensor; logits: nt.Tensor } {
    const [out, [h, c]] = this.rnn.forward(x);
    return { out, h, c, logits: this.fc.forward(out.select(1, out.shape[1] - 1)) };
  }
}

class GRUNet extends nn.Module {
  rnn = new nn.GRU(3, 5, { numLayers: 2, batchFirst: true });
  fc = new nn.Linear(5, 2);
  forward(x: nt.Tensor): nt.Tensor {
    return this.parts(x).logits;
  }
  parts(x: nt.Tensor): { out: nt.Tensor; h: nt.Tensor; logits: nt.Tensor } {
    const [out, h] = this.rnn.forward(x);
    return { out, h, logits: this.fc.forward(out.select(1, out.shape[1] - 1)) };
  }
}

class SimpleNet extends nn.Module {
  fc1 = new nn.Linear(3, 5);
  fc2 = new nn.Linear(5, 2);
  forward(x: nt.Tensor): nt.Tensor {
    return this.fc2.forward(F.relu(this.fc1.forward(x)));
  }
}

function expectNames(m: nt.nn.Module, c: { paramNames: string[]; stateDictKeys: string[] }): void {
  expect(m.namedParameters().map(([n]) => n)).toEqual(c.paramNames);
  expect(Object.keys(m.stateDict())).toEqual(c.stateDictKeys);
}

// ---- (a)-(d): models against PyTorch ----

describe('models match PyTorch', () => {
  test('MLP: names, output, cross-entropy loss, gradients', () => {
    const c = golden.mlp;
    const m = mlp();
    expectNames(m, c);
    initParams(m, c.paramNames);
    const out = run(m, fromG(c.input));
    expectClose(out, c.output, 'output');
    const loss = F.crossEntropy(out, classes(c.target));
    expectScalar(loss.item() as number, c.loss, 'loss');
    loss.backward();
    expectGrads(m, c.grads);
  });

  test('conv net with BatchNorm2d in train mode: output, loss, gradients, running statistics', () => {
    const c = golden.conv;
    const m = convNet();
    expectNames(m, c);
    initParams(m, c.paramNames);
    m.train();
    const out = run(m, fromG(c.input));
    expectClose(out, c.output, 'output');
    const loss = F.crossEntropy(out, classes(c.target));
    expectScalar(loss.item() as number, c.loss, 'loss');
    loss.backward();
    expectGrads(m, c.grads);
    const sd = m.stateDict();
    expectClose(sd['1.running_mean'], c.buffers['1.running_mean'] as G, 'running_mean');
    expectClose(sd['1.running_var'], c.buffers['1.running_var'] as G, 'running_var');
    expect(Number(sd['1.num_batches_tracked'].item())).toBe(c.buffers['1.num_batches_tracked']);
    m.eval();
    expectClose(nt.noGrad(() => run(m, fromG(c.input))), c.evalOutput, 'eval output');
  });

  test('LSTM (2 layers, batchFirst) + Linear on the last step: output, h, c, loss, gradients', () => {
    const c = golden.lstm;
    const m = new LSTMNet();
    expectNames(m, c);
    initParams(m, c.paramNames);
    const { out, h, c: cell, logits } = m.parts(fromG(c.input));
    expectClose(out, c.rnnOutput, 'lstm output');
    expectClose(h, c.h, 'h');
    expectClose(cell, c.c, 'c');
    expectClose(logits, c.output, 'logits');
    const loss = F.crossEntropy(logits, classes(c.target));
    expectScalar(loss.item() as number, c.loss, 'loss');
    loss.backward();
    expectGrads(m, c.grads);
  });

  test('GRU (2 layers, batchFirst) + Linear on the last step: output, h, loss, gradients', () => {
    const c = golden.gru;
    const m = new GRUNet();
    expectNames(m, c);
    initParams(m, c.paramNames);
    const { out, h, logits } = m.parts(fromG(c.input));
    expectClose(out, c.rnnOutput, 'gru output');
    expectClose(h, c.h, 'h');
    expectClose(logits, c.output, 'logits');
    const loss = F.crossEntropy(logits, classes(c.target));
    expectScalar(loss.item() as number, c.loss, 'loss');
    loss.backward();
    expectGrads(m, c.grads);
  });

  test('the seed SimpleNet: names, printout, output on [0.1, 0.2, 0.3]', () => {
    const c = golden.simple;
    const m = new SimpleNet();
    expectNames(m, c);
    expect(m.toString()).toBe(c.repr);
    initParams(m, c.paramNames);
    expectClose(m.forward(nt.tensor([0.1, 0.2, 0.3])), c.output, 'output');
  });

  test('loadStateDict of the formula weights gives the same output as copying them in', () => {
    const c = golden.mlp;
    const src = mlp();
    initParams(src, c.paramNames);
    const dst = mlp();
    dst.loadStateDict(src.stateDict(), { strict: true });
    expectClose(run(dst, fromG(c.input)), c.output, 'output after loadStateDict');
  });
});

// ---- (e): five optimizer steps on the MLP ----

describe('optimizers match PyTorch over 5 steps of the MLP', () => {
  const optimizers = optim as unknown as Record<string, new (params: nt.Tensor[], opts: Record<string, unknown>) => {
    zeroGrad(): void; step(): void;
  }>;
  test.each(golden.train.map((c) => [`${c.optimizer} ${JSON.stringify(c.options)}`, c] as const))('%s', (_label, c) => {
    const m = mlp();
    initParams(m, golden.mlp.paramNames);
    const x = fromG(golden.mlp.input);
    const y = classes(golden.mlp.target);
    const opt = new optimizers[c.optimizer](m.parameters(), c.options);
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      losses.push(nt.tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(run(m, x), y);
        loss.backward();
        opt.step();
        return loss.item() as number;
      }));
    }
    losses.forEach((l, i) => expectScalar(l, c.losses[i], `loss at step ${i}`));
    for (const [name, p] of m.namedParameters()) expectClose(p, c.params[name], name);
  });
});

// ---- (f): functional losses and ops ----

type Fn = (x: nt.Tensor, c: FunctionalCase) => nt.Tensor;

/** Options as nodetorch takes them: tensors for weight / posWeight, everything else as is. */
function lossOptions(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  for (const k of ['weight', 'posWeight']) {
    const v = o[k];
    if (Array.isArray(v)) out[k] = nt.tensor(v as number[]);
    else if (v && typeof v === 'object') out[k] = fromG(v as G);
  }
  return out;
}

const FUNCTIONAL: Record<string, Fn> = {
  crossEntropy: (x, c) => F.crossEntropy(x, classes(c.target as number[]), lossOptions(c.options)),
  nllLoss: (x, c) => F.nllLoss(x, classes(c.target as number[]), lossOptions(c.options)),
  mseLoss: (x, c) => F.mseLoss(x, fromG(c.target as G), lossOptions(c.options)),
  l1Loss: (x, c) => F.l1Loss(x, fromG(c.target as G), lossOptions(c.options)),
  smoothL1Loss: (x, c) => F.smoothL1Loss(x, fromG(c.target as G), lossOptions(c.options)),
  binaryCrossEntropy: (x, c) => F.binaryCrossEntropy(x, fromG(c.target as G), lossOptions(c.options)),
  binaryCrossEntropyWithLogits: (x, c) => F.binaryCrossEntropyWithLogits(x, fromG(c.target as G), lossOptions(c.options)),
  relu: (x) => F.relu(x),
  gelu: (x) => F.gelu(x),
  sigmoid: (x) => F.sigmoid(x),
  tanh: (x) => F.tanh(x),
  softmax: (x, c) => F.softmax(x, c.options.dim as number).mul(fromG(c.target as G)),
  logSoftmax: (x, c) => F.logSoftmax(x, c.options.dim as number).mul(fromG(c.target as G)),
  dropout: (x, c) => F.dropout(x, c.options as { p: number; training: boolean }),
  linear: (x, c) => F.linear(x, fromG(c.options.weight as G), fromG(c.options.bias as G)),
  conv2d: (x, c) => F.conv2d(x, fromG(c.options.weight as G), fromG(c.options.bias as G),
    { stride: c.options.stride as number, padding: c.options.padding as number }),
  maxPool2d: (x, c) => F.maxPool2d(x, c.options.kernelSize as number, { stride: c.options.stride as number }),
};

describe('F matches PyTorch (value and input gradient)', () => {
  test.each(golden.functional.map((c) => [`${c.fn} ${JSON.stringify(c.options, (k, v) => (k === 'data' ? '…' : v))}`, c] as const))(
    '%s', (_label, c) => {
      const x = fromG(c.input).requiresGrad_(true);
      const out = FUNCTIONAL[c.fn](x, c);
      expectClose(out, c.output, 'output');
      out.sum().backward();
      expectClose(x.grad!, c.inputGrad, 'input grad');
    });
});

// ---- (g) and finite differences: every module ----

interface ModuleSpec {
  build: () => nt.nn.Module;
  /** The inputs (float64 for gradcheck); ignored when a golden case supplies them. */
  inputs: () => nt.Tensor[];
  /** What is compared: one tensor out of the module's forward. */
  run: (m: nt.nn.Module, ...xs: nt.Tensor[]) => nt.Tensor;
  /** Integer inputs (Embedding indices) are not differentiated. */
  intInputs?: boolean;
  eval?: boolean;
}

function cosInput(shape: number[], scale = 1): nt.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return nt.tensor(Float64Array.from({ length: n }, (_, i) => scale * Math.cos(0.23 * i + 0.5)), { shape });
}
function sinInput(shape: number[], scale = 1): nt.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return nt.tensor(Float64Array.from({ length: n }, (_, i) => scale * Math.sin(0.31 * i + 0.7)), { shape });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModule = any;
const fwd = (m: nt.nn.Module, ...xs: nt.Tensor[]): nt.Tensor => (m as AnyModule).forward(...xs);
/** MultiheadAttention returns [output, weights] like PyTorch; accept a bare output too. */
const first = (r: nt.Tensor | [nt.Tensor, unknown]): nt.Tensor => (Array.isArray(r) ? r[0] : r);

function lstmWithState(m: nt.nn.Module, x: nt.Tensor, h0: nt.Tensor, c0: nt.Tensor): nt.Tensor {
  const [out, [h, c]] = (m as AnyModule).forward(x, [h0, c0]);
  return nt.cat([out.reshape(-1), h.reshape(-1), c.reshape(-1)]);
}

const MODULES: Record<string, ModuleSpec> = {
  // the golden cases of modules.py (same names)
  Conv1d: { build: () => new nn.Conv1d(2, 3, 3, { stride: 2, padding: 1 }), inputs: () => [cosInput([2, 2, 7])], run: fwd },
  Conv2dGroups: { build: () => new nn.Conv2d(4, 2, 2, { dilation: 2, groups: 2 }), inputs: () => [cosInput([1, 4, 5, 5])], run: fwd },
  BatchNorm1d: { build: () => new nn.BatchNorm1d(3), inputs: () => [cosInput([4, 3])], run: fwd },
  LayerNorm: { build: () => new nn.LayerNorm([2, 3]), inputs: () => [cosInput([2, 2, 3])], run: fwd },
  Embedding: {
    build: () => new nn.Embedding(5, 3),
    inputs: () => [nt.tensor(BigInt64Array.from([1n, 4n, 0n, 3n, 3n, 2n]), { shape: [2, 3] })],
    run: fwd, intInputs: true,
  },
  RNN: { build: () => new nn.RNN(3, 4, { batchFirst: true }), inputs: () => [cosInput([2, 3, 3])], run: (m, x) => (m as AnyModule).forward(x)[0] },
  GRUBidirectional: {
    build: () => new nn.GRU(3, 2, { bidirectional: true }), inputs: () => [cosInput([3, 2, 3])],
    run: (m, x) => (m as AnyModule).forward(x)[0],
  },
  LSTMWithState: {
    build: () => new nn.LSTM(2, 3), inputs: () => [cosInput([2, 1, 2]), sinInput([1, 1, 3]), cosInput([1, 1, 3], 0.5)],
    run: (m, x, h0, c0) => lstmWithState(m, x, h0, c0),
  },
  AvgPool2d: { build: () => new nn.AvgPool2d(2, { stride: 1, padding: 1 }), inputs: () => [cosInput([1, 2, 4, 4])], run: fwd },
  AdaptiveAvgPool2d: { build: () => new nn.AdaptiveAvgPool2d(3), inputs: () => [cosInput([1, 2, 5, 7])], run: fwd },
  MultiheadAttention: {
    build: () => new nn.MultiheadAttention(4, 2),
    inputs: () => [cosInput([3, 2, 4]), sinInput([3, 2, 4]), sinInput([3, 2, 4], 0.5)],
    run: (m, q, k, v) => first((m as AnyModule).forward(q, k, v)),
  },
  TransformerEncoderLayer: {
    build: () => new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0 }), inputs: () => [cosInput([3, 2, 4])], run: fwd,
  },
  // finite differences only
  Linear: { build: () => new nn.Linear(3, 2), inputs: () => [cosInput([4, 3])], run: fwd },
  Conv2d: { build: () => new nn.Conv2d(2, 3, 3, { stride: 2, padding: 1 }), inputs: () => [cosInput([1, 2, 5, 5])], run: fwd },
  BatchNorm2d: { build: () => new nn.BatchNorm2d(2), inputs: () => [cosInput([2, 2, 2, 3])], run: fwd },
  BatchNorm2dEval: { build: () => new nn.BatchNorm2d(2), inputs: () => [cosInput([2, 2, 2, 3])], run: fwd, eval: true },
  LSTM: {
    build: () => new nn.LSTM(2, 3, { numLayers: 2, batchFirst: true }), inputs: () => [cosInput([2, 3, 2])],
    run: (m, x) => {
      const [out, [h, c]] = (m as AnyModule).forward(x);
      return nt.cat([out.reshape(-1), h.reshape(-1), c.reshape(-1)]);
    },
  },
  GRU: {
    build: () => new nn.GRU(2, 3, { numLayers: 2 }), inputs: () => [cosInput([3, 2, 2])],
    run: (m, x) => {
      const [out, h] = (m as AnyModule).forward(x);
      return nt.cat([out.reshape(-1), h.reshape(-1)]);
    },
  },
  MaxPool2d: { build: () => new nn.MaxPool2d(2, { stride: 2 }), inputs: () => [cosInput([1, 2, 4, 6])], run: fwd },
};

describe('modules match PyTorch (output, input and parameter gradients)', () => {
  test.each(golden.modules.map((c) => [c.name, c] as const))('%s', (name, c) => {
    const spec = MODULES[name];
    const m = spec.build();
    expectNames(m, c);
    initParams(m, c.paramNames);
    const xs = c.inputs.map((g, i) => {
      const x = fromG(g, c.inputDtypes[i] as nt.DType);
      return c.inputDtypes[i] === 'int64' ? x : x.requiresGrad_(true);
    });
    const out = spec.run(m, ...xs);
    expectClose(out, c.output, 'output');
    out.mul(fromSin(out.shape)).sum().backward();
    xs.forEach((x, i) => {
      const want = c.inputGrads[i];
      if (want) expectClose(x.grad!, want, `input ${i} grad`);
    });
    expectGrads(m, c.grads);
  });
});

/** modules.py weights each output by sin(0.31 i + 0.7) before summing, so gradients are not all ones. */
function fromSin(shape: readonly number[]): nt.Tensor {
  return sinInput([...shape]).to('float32');
}

// ---- finite differences ----

const EPS = 1e-6;

/**
 * Checks d sum(run(m, xs) * W) / d(every parameter and float input element) against central
 * differences in float64 (W fixed, so every output element matters). The house pattern of
 * test/autograd.test.ts's gradcheck(), extended to parameters, which are perturbed in place.
 */
function moduleGradcheck(spec: ModuleSpec): void {
  const m = spec.build();
  m.to('float64');
  if (spec.eval) m.eval();
  // Formula weights (as for the golden cases) keep gates and activations away from saturation.
  initParams(m, m.namedParameters().map(([n]) => n));
  const xs = spec.inputs().map((x) => (spec.intInputs ? x : x.to('float64').requiresGrad_(true)));
  const params = m.namedParameters();
  for (const [, p] of params) expect(p.dtype).toBe('float64');

  const out = spec.run(m, ...xs);
  expect(out.dtype).toBe('float64');
  const W = sinInput([...out.shape], 1).mul(1.3).add(0.2);
  m.zeroGrad();
  out.mul(W).sum().backward();

  const targets: [string, nt.Tensor][] = [
    ...(spec.intInputs ? [] : xs.map((x, i) => [`input ${i}`, x] as [string, nt.Tensor])),
    ...params,
  ];
  const value = (): number => nt.tidy(() => nt.noGrad(() => spec.run(m, ...xs).mul(W).sum().item() as number));
  const problems: string[] = [];
  for (const [name, t] of targets) {
    if (t.grad === null) {
      problems.push(`${name}: no gradient`);
      continue;
    }
    const analytic = t.grad.dataSync() as Float64Array;
    const orig = t.detach().clone();
    const flatView = t.detach().view(-1);
    for (let j = 0; j < t.numel; j++) {
      const at = (delta: number): number => {
        nt.noGrad(() => nt.tidy(() => { flatView.narrow(0, j, 1).add_(delta); }));
        const v = value();
        nt.noGrad(() => { t.detach().copy_(orig); });
        return v;
      };
      const numeric = (at(EPS) - at(-EPS)) / (2 * EPS);
      if (!(Math.abs(analytic[j] - numeric) <= 1e-5 * Math.max(1, Math.abs(numeric)))) {
        problems.push(`${name}[${j}]: analytic ${analytic[j]} vs numeric ${numeric}`);
      }
    }
  }
  expect(problems.slice(0, 10)).toEqual([]);
}

describe('module gradients match float64 finite differences', () => {
  test.each(Object.keys(MODULES))('%s', (name) => moduleGradcheck(MODULES[name]));
});
