// F: PyTorch's torch.nn.functional: activations, layers as functions, and every loss with its
// reduction/weight/ignoreIndex/labelSmoothing options. Each is one native call.
import { native } from '../native';
import { DType, isFloating } from '../dtype';
import { checkTensor, Tensor, typeOfValue, wrap } from '../tensor';

export type Reduction = 'none' | 'mean' | 'sum';

function opts(where: string, o: unknown, known: readonly string[]): Record<string, unknown> {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError(`${where}: expected an options object but received ${typeOfValue(o)}`);
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new TypeError(`${where}: unknown option '${k}'; known options: ${known.join(', ')}`);
  }
  return o as Record<string, unknown>;
}

function reduction(where: string, r: unknown, extra: string[] = []): string {
  if (r === undefined) return 'mean';
  if (typeof r === 'string' && ['none', 'mean', 'sum', ...extra].includes(r)) return r;
  throw new TypeError(`${where}: expected reduction to be one of ${['none', 'mean', 'sum', ...extra].map((s) => `'${s}'`).join(', ')} ` +
    `but received ${typeOfValue(r)}`);
}

function optTensor(where: string, v: unknown, name: string): number | null {
  return v === undefined || v === null ? null : checkTensor(v, where, name)._h;
}

function num(where: string, v: unknown, name: string, dflt: number, ok: (x: number) => boolean, expected: string): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && ok(v)) return v;
  throw new TypeError(`${where}: expected ${name} to be ${expected} but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}

function intList(where: string, name: string, v: unknown, n: number, min: number): number[] {
  const list = typeof v === 'number' ? Array(n).fill(v) : v;
  if (!Array.isArray(list) || list.length !== n || !list.every((x) => Number.isSafeInteger(x) && x >= min)) {
    throw new TypeError(`${where}: expected ${name} to be an integer >= ${min} or ${n} of them but received ${typeOfValue(v)}` +
      (typeof v === 'number' ? ` ${v}` : ''));
  }
  return list as number[];
}

/** Element-wise losses need input and target of one shape: broadcasting them silently gives wrong numbers. */
function sameShape(where: string, input: Tensor, target: Tensor): void {
  if (input.shape.join() !== target.shape.join()) {
    throw new RangeError(`${where}: input [${input.shape.join(', ')}] and target [${target.shape.join(', ')}] must have ` +
      'the same shape');
  }
}

function floatInput(where: string, x: unknown, name = 'input'): Tensor {
  const t = checkTensor(x, where, name);
  if (!isFloating(t.dtype)) throw new TypeError(`${where}: expected a floating-point ${name} but got ${t.dtype}`);
  return t;
}

// ---- activations ----

export const relu = (x: Tensor): Tensor => checkTensor(x, 'relu', 'input').relu();
export const gelu = (x: Tensor): Tensor => checkTensor(x, 'gelu', 'input').gelu();
export const sigmoid = (x: Tensor): Tensor => checkTensor(x, 'sigmoid', 'input').sigmoid();
export const tanh = (x: Tensor): Tensor => checkTensor(x, 'tanh', 'input').tanh();
export const silu = (x: Tensor): Tensor => checkTensor(x, 'silu', 'input').silu();
export const softmax = (x: Tensor, dim: number, dtype?: DType): Tensor => checkTensor(x, 'softmax', 'input').softmax(dim, dtype);
export const logSoftmax = (x: Tensor, dim: number, dtype?: DType): Tensor =>
  checkTensor(x, 'logSoftmax', 'input').logSoftmax(dim, dtype);

/** Zeroes elements with probability p while training, scaling the rest by 1/(1-p). dropout(x, p) or dropout(x, { p, training }). */
export function dropout(x: Tensor, p: number | { p?: number; training?: boolean } = 0.5, training = true): Tensor {
  const t = checkTensor(x, 'dropout', 'input');
  let prob = p as number;
  if (typeof p === 'object' && p !== null) {
    const o = opts('dropout', p, ['p', 'training']);
    prob = o.p === undefined ? 0.5 : (o.p as number);
    training = o.training === undefined ? true : (o.training as boolean);
  }
  num('dropout', prob, 'p', 0.5, (v) => v >= 0 && v <= 1, 'a probability in [0, 1]');
  if (typeof training !== 'boolean') throw new TypeError(`dropout: expected training to be a boolean but received ${typeOfValue(training)}`);
  return wrap(native.nn_dropout(t._h, prob, training));
}

// ---- layers as functions ----

export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const x = checkTensor(input, 'linear', 'input');
  const w = checkTensor(weight, 'linear', 'weight');
  return wrap(native.nn_linear(x._h, w._h, optTensor('linear', bias, 'bias')));
}

export interface ConvFnOptions { stride?: number | number[]; padding?: number | number[] | 'same' | 'valid'; dilation?: number | number[]; groups?: number }

function conv(d: 1 | 2, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, o: unknown): Tensor {
  const where = `conv${d}d`;
  const x = checkTensor(input, where, 'input');
  const w = checkTensor(weight, where, 'weight');
  const c = opts(where, o, ['stride', 'padding', 'dilation', 'groups']);
  const stride = intList(where, 'stride', c.stride ?? 1, d, 1);
  const dilation = intList(where, 'dilation', c.dilation ?? 1, d, 1);
  const padding = c.padding === 'same' || c.padding === 'valid' ? c.padding : intList(where, 'padding', c.padding ?? 0, d, 0);
  const groups = num(where, c.groups, 'groups', 1, (v) => Number.isSafeInteger(v) && v > 0, 'a positive integer');
  const f = d === 1 ? native.nn_conv1d : native.nn_conv2d;
  return wrap(f(x._h, w._h, optTensor(where, bias, 'bias'), stride, padding, dilation, groups));
}
export const conv1d = (input: Tensor, weight: Tensor, bias?: Tensor | null, options?: ConvFnOptions): Tensor =>
  conv(1, input, weight, bias, options);
export const conv2d = (input: Tensor, weight: Tensor, bias?: Tensor | null, options?: ConvFnOptions): Tensor =>
  conv(2, input, weight, bias, options);

export interface PoolFnOptions { stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; ceilMode?: boolean }

export function maxPool2d(input: Tensor, kernelSize: number | number[], options?: PoolFnOptions): Tensor {
  const x = checkTensor(input, 'maxPool2d', 'input');
  const o = opts('maxPool2d', options, ['stride', 'padding', 'dilation', 'ceilMode']);
  const k = intList('maxPool2d', 'kernelSize', kernelSize, 2, 1);
  return wrap(native.nn_max_pool2d(x._h, k, intList('maxPool2d', 'stride', o.stride ?? k, 2, 1),
    intList('maxPool2d', 'padding', o.padding ?? 0, 2, 0), intList('maxPool2d', 'dilation', o.dilation ?? 1, 2, 1), !!o.ceilMode));
}

export function avgPool2d(input: Tensor, kernelSize: number | number[], options?: PoolFnOptions & { countIncludePad?: boolean }): Tensor {
  const x = checkTensor(input, 'avgPool2d', 'input');
  const o = opts('avgPool2d', options, ['stride', 'padding', 'ceilMode', 'countIncludePad']);
  const k = intList('avgPool2d', 'kernelSize', kernelSize, 2, 1);
  return wrap(native.nn_avg_pool2d(x._h, k, intList('avgPool2d', 'stride', o.stride ?? k, 2, 1),
    intList('avgPool2d', 'padding', o.padding ?? 0, 2, 0), !!o.ceilMode, o.countIncludePad === undefined ? true : !!o.countIncludePad));
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: number | number[]): Tensor {
  const x = checkTensor(input, 'adaptiveAvgPool2d', 'input');
  return wrap(native.nn_adaptive_avg_pool2d(x._h, intList('adaptiveAvgPool2d', 'outputSize', outputSize, 2, 1)));
}

export function layerNorm(input: Tensor, normalizedShape: number | number[],
  options?: { weight?: Tensor | null; bias?: Tensor | null; eps?: number }): Tensor {
  const x = checkTensor(input, 'layerNorm', 'input');
  const o = opts('layerNorm', options, ['weight', 'bias', 'eps']);
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s > 0)) {
    throw new TypeError(`layerNorm: expected normalizedShape as positive integers but received ${typeOfValue(normalizedShape)}`);
  }
  const eps = num('layerNorm', o.eps, 'eps', 1e-5, (v) => v > 0, 'a positive number');
  return wrap(native.nn_layer_norm(x._h, shape, optTensor('layerNorm', o.weight, 'weight'), optTensor('layerNorm', o.bias, 'bias'), eps));
}

export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  options?: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number }): Tensor {
  const x = checkTensor(input, 'batchNorm', 'input');
  const o = opts('batchNorm', options, ['weight', 'bias', 'training', 'momentum', 'eps']);
  const momentum = num('batchNorm', o.momentum, 'momentum', 0.1, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const eps = num('batchNorm', o.eps, 'eps', 1e-5, (v) => v > 0, 'a positive number');
  return wrap(native.nn_batch_norm(x._h, optTensor('batchNorm', runningMean, 'runningMean'), optTensor('batchNorm', runningVar, 'runningVar'),
    optTensor('batchNorm', o.weight, 'weight'), optTensor('batchNorm', o.bias, 'bias'), !!o.training, momentum, eps));
}

export function embedding(input: Tensor, weight: Tensor, options?: { paddingIdx?: number }): Tensor {
  const x = checkTensor(input, 'embedding', 'input');
  const w = checkTensor(weight, 'embedding', 'weight');
  const o = opts('embedding', options, ['paddingIdx']);
  if (x.dtype !== 'int64' && x.dtype !== 'int32') throw new TypeError(`embedding: expected integer indices (int64 or int32) but got ${x.dtype}`);
  return wrap(native.nn_embedding(w._h, x._h, (o.paddingIdx as number | undefined) ?? -1));
}

// ---- losses ----

export interface CrossEntropyOptions { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number }

/** Log-softmax + negative log likelihood over dim 1; target holds class indices (int64) or class probabilities. */
export function crossEntropy(input: Tensor, target: Tensor, options?: CrossEntropyOptions): Tensor {
  const x = floatInput('crossEntropy', input);
  const t = checkTensor(target, 'crossEntropy', 'target');
  const o = opts('crossEntropy', options, ['weight', 'ignoreIndex', 'reduction', 'labelSmoothing']);
  classTarget('crossEntropy', x, t, true);
  const ls = num('crossEntropy', o.labelSmoothing, 'labelSmoothing', 0, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const ignore = num('crossEntropy', o.ignoreIndex, 'ignoreIndex', -100, Number.isSafeInteger, 'an integer');
  return wrap(native.nn_cross_entropy(x._h, t._h, optTensor('crossEntropy', o.weight, 'weight'),
    reduction('crossEntropy', o.reduction), ignore, ls));
}

/** Class-index targets are [N] (or [N, d1, ...]) integers for input [N, C, ...]; probabilities match input's shape. */
function classTarget(where: string, x: Tensor, t: Tensor, probsAllowed: boolean): void {
  if (probsAllowed && isFloating(t.dtype)) {
    sameShape(where, x, t);
    return;
  }
  if (t.dtype !== 'int64') {
    throw new TypeError(`${where}: expected target to hold class indices as int64${probsAllowed ? ' (or probabilities as floats)' : ''} ` +
      `but got ${t.dtype}; convert with target.long()`);
  }
  const want = x.ndim === 1 ? [] : [x.shape[0], ...x.shape.slice(2)];
  if (t.shape.join() !== want.join()) {
    throw new RangeError(`${where}: input [${x.shape.join(', ')}] (batch, classes, ...) expects a target of shape ` +
      `[${want.join(', ')}] but got [${t.shape.join(', ')}]`);
  }
}

export function nllLoss(input: Tensor, target: Tensor, options?: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction }): Tensor {
  const x = floatInput('nllLoss', input);
  const t = checkTensor(target, 'nllLoss', 'target');
  const o = opts('nllLoss', options, ['weight', 'ignoreIndex', 'reduction']);
  classTarget('nllLoss', x, t, false);
  const ignore = num('nllLoss', o.ignoreIndex, 'ignoreIndex', -100, Number.isSafeInteger, 'an integer');
  return wrap(native.nn_nll_loss(x._h, t._h, optTensor('nllLoss', o.weight, 'weight'), reduction('nllLoss', o.reduction), ignore));
}

function elementwise(where: string, input: Tensor, target: Tensor, options: unknown, known: string[]): [Tensor, Tensor, Record<string, unknown>] {
  const x = floatInput(where, input);
  const t = floatInput(where, target, 'target');
  sameShape(where, x, t);
  return [x, t, opts(where, options, ['reduction', ...known])];
}

export function mseLoss(input: Tensor, target: Tensor, options?: { reduction?: Reduction }): Tensor {
  const [x, t, o] = elementwise('mseLoss', input, target, options, []);
  return wrap(native.nn_mse_loss(x._h, t._h, reduction('mseLoss', o.reduction)));
}

export function l1Loss(input: Tensor, target: Tensor, options?: { reduction?: Reduction }): Tensor {
  const [x, t, o] = elementwise('l1Loss', input, target, options, []);
  return wrap(native.nn_l1_loss(x._h, t._h, reduction('l1Loss', o.reduction)));
}

export function smoothL1Loss(input: Tensor, target: Tensor, options?: { reduction?: Reduction; beta?: number }): Tensor {
  const [x, t, o] = elementwise('smoothL1Loss', input, target, options, ['beta']);
  const beta = num('smoothL1Loss', o.beta, 'beta', 1, (v) => v >= 0, 'a non-negative number');
  return wrap(native.nn_smooth_l1_loss(x._h, t._h, reduction('smoothL1Loss', o.reduction), beta));
}

export function huberLoss(input: Tensor, target: Tensor, options?: { reduction?: Reduction; delta?: number }): Tensor {
  const [x, t, o] = elementwise('huberLoss', input, target, options, ['delta']);
  const delta = num('huberLoss', o.delta, 'delta', 1, (v) => v > 0, 'a positive number');
  return wrap(native.nn_huber_loss(x._h, t._h, reduction('huberLoss', o.reduction), delta));
}

/** input holds probabilities in [0, 1] (after a sigmoid); prefer binaryCrossEntropyWithLogits for stability. */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options?: { weight?: Tensor | null; reduction?: Reduction }): Tensor {
  const [x, t, o] = elementwise('binaryCrossEntropy', input, target, options, ['weight']);
  return wrap(native.nn_binary_cross_entropy(x._h, t._h, optTensor('binaryCrossEntropy', o.weight, 'weight'),
    reduction('binaryCrossEntropy', o.reduction)));
}

export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor,
  options?: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction }): Tensor {
  const [x, t, o] = elementwise('binaryCrossEntropyWithLogits', input, target, options, ['weight', 'posWeight']);
  return wrap(native.nn_binary_cross_entropy_with_logits(x._h, t._h, optTensor('binaryCrossEntropyWithLogits', o.weight, 'weight'),
    optTensor('binaryCrossEntropyWithLogits', o.posWeight, 'posWeight'), reduction('binaryCrossEntropyWithLogits', o.reduction)));
}

/** KL divergence with input as log-probabilities; 'batchmean' divides the sum by the batch size (PyTorch's advice). */
export function klDiv(input: Tensor, target: Tensor, options?: { reduction?: Reduction | 'batchmean'; logTarget?: boolean }): Tensor {
  const [x, t, o] = elementwise('klDiv', input, target, options, ['logTarget']);
  const r = reduction('klDiv', o.reduction, ['batchmean']);
  const logTarget = !!o.logTarget;
  if (r === 'batchmean') {
    const s = wrap(native.nn_kl_div(x._h, t._h, 'sum', logTarget));
    return x.ndim === 0 ? s : s.div(x.shape[0]);
  }
  return wrap(native.nn_kl_div(x._h, t._h, r, logTarget));
}
