// F: PyTorch's torch.nn.functional: activations, layers as functions, and every loss with its
// reduction/weight/ignoreIndex/labelSmoothing options. Each is one native call.
import { native } from '../native';
import { DType, isFloating } from '../dtype';
import { checkTensor, Tensor, wrap } from '../tensor';
import { where as select } from '../ops';
import * as check from '../util/check';
import { call } from '../aten/call';

/** How a loss combines per-element values: their mean, their sum, or none (the values themselves). */
export type Reduction = 'none' | 'mean' | 'sum';

function reduction(where: string, r: unknown, extra: string[] = []): string {
  return check.oneOf(where, 'reduction', r, ['none', 'mean', 'sum', ...extra], 'mean');
}

function optTensor(where: string, v: unknown, name: string): number | null {
  return v === undefined || v === null ? null : checkTensor(v, where, name)._h;
}

function num(where: string, v: unknown, name: string, dflt: number, ok: (x: number) => boolean, expected: string): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && ok(v)) return v;
  throw check.invalidParameterError(name, expected, v, where);
}

const intList = (where: string, name: string, v: unknown, n: number, min: number): number[] => check.intTuple(where, name, v, n, min);

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

/** max(x, 0). */
export const relu = (x: Tensor): Tensor => checkTensor(x, 'relu', 'input').relu();
/** The Gaussian error linear unit (exact erf form). */
export const gelu = (x: Tensor): Tensor => checkTensor(x, 'gelu', 'input').gelu();
/** 1 / (1 + exp(-x)). */
export const sigmoid = (x: Tensor): Tensor => checkTensor(x, 'sigmoid', 'input').sigmoid();
/** The hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => checkTensor(x, 'tanh', 'input').tanh();
/** x * sigmoid(x) (swish). */
export const silu = (x: Tensor): Tensor => checkTensor(x, 'silu', 'input').silu();

/** The dim (and dtype) of softmax-like functions: softmax(x, 1), softmax(x, 1, 'float64') or softmax(x, { dim: 1 }). */
/** The keyword form of softmax's arguments. */
export interface SoftmaxOptions { dim: number; dtype?: DType }
function softmaxArgs(where: string, rest: unknown[]): [number, DType | undefined] {
  const o = check.args(where, rest, ['dim', 'dtype']);
  check.required(where, o, 'dim');
  return [check.integer(where, 'dim', o.dim), o.dtype as DType | undefined];
}
/** softmax(x, dim, dtype?) or softmax(x, { dim, dtype }). */
export function softmax(x: Tensor, ...rest: [dim: number, dtype?: DType] | [options: SoftmaxOptions]): Tensor {
  return checkTensor(x, 'softmax', 'input').softmax(...softmaxArgs('softmax', rest));
}
/** logSoftmax(x, dim, dtype?) or logSoftmax(x, { dim, dtype }). */
export function logSoftmax(x: Tensor, ...rest: [dim: number, dtype?: DType] | [options: SoftmaxOptions]): Tensor {
  return checkTensor(x, 'logSoftmax', 'input').logSoftmax(...softmaxArgs('logSoftmax', rest));
}

/** Zeroes elements with probability p while training, scaling the rest by 1/(1-p): dropout(x, p, training) or dropout(x, { p, training }). */
export function dropout(x: Tensor, ...rest: [p?: number, training?: boolean] | [options: { p?: number; training?: boolean }]): Tensor {
  const t = checkTensor(x, 'dropout', 'input');
  const o = check.args('dropout', rest, ['p', 'training']);
  const prob = check.probability('dropout', 'p', o.p, 0.5);
  const training = check.boolean('dropout', 'training', o.training, true);
  return wrap(native.nn_dropout(t._h, prob, training));
}

// ---- layers as functions ----

/** x @ weight.T + bias, as nn.Linear computes it. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const x = checkTensor(input, 'linear', 'input');
  const w = checkTensor(weight, 'linear', 'weight');
  return wrap(native.nn_linear(x._h, w._h, optTensor('linear', bias, 'bias')));
}

/** conv1d/conv2d keyword arguments (each an int or one per spatial dim). */
export interface ConvFnOptions { stride?: number | number[]; padding?: number | number[] | 'same' | 'valid'; dilation?: number | number[]; groups?: number }
type ConvRest = [bias?: Tensor | null, options?: ConvFnOptions]
  | [bias: Tensor | null, stride?: number | number[], padding?: number | number[] | 'same' | 'valid', dilation?: number | number[], groups?: number]
  | [options: ConvFnOptions & { bias?: Tensor | null }];

function conv(d: 1 | 2, input: Tensor, weight: Tensor, rest: unknown[]): Tensor {
  const where = `conv${d}d`;
  const x = checkTensor(input, where, 'input');
  const w = checkTensor(weight, where, 'weight');
  const c = check.args(where, rest, ['bias', 'stride', 'padding', 'dilation', 'groups']);
  const stride = intList(where, 'stride', c.stride ?? 1, d, 1);
  const dilation = intList(where, 'dilation', c.dilation ?? 1, d, 1);
  const padding = c.padding === 'same' || c.padding === 'valid' ? c.padding : intList(where, 'padding', c.padding ?? 0, d, 0);
  const groups = check.positiveInt(where, 'groups', c.groups, 1);
  const f = d === 1 ? native.nn_conv1d : native.nn_conv2d;
  return wrap(f(x._h, w._h, optTensor(where, c.bias, 'bias'), stride, padding, dilation, groups));
}
/** conv1d(input, weight, bias?, stride?, padding?, dilation?, groups?), keyword arguments in a trailing options object. */
export const conv1d = (input: Tensor, weight: Tensor, ...rest: ConvRest): Tensor => conv(1, input, weight, rest);
/** conv2d(input, weight, bias?, stride?, padding?, dilation?, groups?), keyword arguments in a trailing options object. */
export const conv2d = (input: Tensor, weight: Tensor, ...rest: ConvRest): Tensor => conv(2, input, weight, rest);

/** maxPool2d/avgPool2d keyword arguments. */
export interface PoolFnOptions { stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; ceilMode?: boolean }

/** maxPool2d(input, kernelSize, stride?, padding?, dilation?, ceilMode?) or with an options object. */
export function maxPool2d(input: Tensor, kernelSize: number | number[],
  ...rest: [options?: PoolFnOptions] | [stride?: number | number[] | null, padding?: number | number[], dilation?: number | number[], ceilMode?: boolean]): Tensor {
  const x = checkTensor(input, 'maxPool2d', 'input');
  const o = check.args('maxPool2d', rest, ['stride', 'padding', 'dilation', 'ceilMode']);
  const k = intList('maxPool2d', 'kernelSize', kernelSize, 2, 1);
  return wrap(native.nn_max_pool2d(x._h, k, intList('maxPool2d', 'stride', o.stride ?? k, 2, 1),
    intList('maxPool2d', 'padding', o.padding ?? 0, 2, 0), intList('maxPool2d', 'dilation', o.dilation ?? 1, 2, 1),
    check.boolean('maxPool2d', 'ceilMode', o.ceilMode, false)));
}

/** avgPool2d(input, kernelSize, stride?, padding?, ceilMode?, countIncludePad?) or with an options object. */
export function avgPool2d(input: Tensor, kernelSize: number | number[],
  ...rest: [options?: Omit<PoolFnOptions, 'dilation'> & { countIncludePad?: boolean }]
    | [stride?: number | number[] | null, padding?: number | number[], ceilMode?: boolean, countIncludePad?: boolean]): Tensor {
  const x = checkTensor(input, 'avgPool2d', 'input');
  const o = check.args('avgPool2d', rest, ['stride', 'padding', 'ceilMode', 'countIncludePad']);
  const k = intList('avgPool2d', 'kernelSize', kernelSize, 2, 1);
  return wrap(native.nn_avg_pool2d(x._h, k, intList('avgPool2d', 'stride', o.stride ?? k, 2, 1),
    intList('avgPool2d', 'padding', o.padding ?? 0, 2, 0), check.boolean('avgPool2d', 'ceilMode', o.ceilMode, false),
    check.boolean('avgPool2d', 'countIncludePad', o.countIncludePad, true)));
}

/** Average pooling to a fixed output size [H, W]. */
export function adaptiveAvgPool2d(input: Tensor, outputSize: number | number[]): Tensor {
  const x = checkTensor(input, 'adaptiveAvgPool2d', 'input');
  return wrap(native.nn_adaptive_avg_pool2d(x._h, intList('adaptiveAvgPool2d', 'outputSize', outputSize, 2, 1)));
}

/** layerNorm(input, normalizedShape, weight?, bias?, eps?) or with an options object. */
export function layerNorm(input: Tensor, normalizedShape: number | number[],
  ...rest: [options?: { weight?: Tensor | null; bias?: Tensor | null; eps?: number }]
    | [weight?: Tensor | null, bias?: Tensor | null, eps?: number]): Tensor {
  const x = checkTensor(input, 'layerNorm', 'input');
  const o = check.args('layerNorm', rest, ['weight', 'bias', 'eps']);
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(shape) || !shape.every((v) => check.is.positiveInteger(v))) {
    throw check.invalidParameterError('normalizedShape', 'a positive integer or a list of them', normalizedShape, 'layerNorm');
  }
  const eps = check.positiveNumber('layerNorm', 'eps', o.eps, 1e-5);
  return wrap(native.nn_layer_norm(x._h, shape, optTensor('layerNorm', o.weight, 'weight'), optTensor('layerNorm', o.bias, 'bias'), eps));
}

/** batchNorm keyword arguments. */
export interface BatchNormFnOptions { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number }
/** batchNorm(input, runningMean, runningVar, weight?, bias?, training?, momentum?, eps?) or with an options object. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  ...rest: [options?: BatchNormFnOptions]
    | [weight?: Tensor | null, bias?: Tensor | null, training?: boolean, momentum?: number, eps?: number]): Tensor {
  const x = checkTensor(input, 'batchNorm', 'input');
  const o = check.args('batchNorm', rest, ['weight', 'bias', 'training', 'momentum', 'eps']);
  const momentum = num('batchNorm', o.momentum, 'momentum', 0.1, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const eps = check.positiveNumber('batchNorm', 'eps', o.eps, 1e-5);
  return wrap(native.nn_batch_norm(x._h, optTensor('batchNorm', runningMean, 'runningMean'), optTensor('batchNorm', runningVar, 'runningVar'),
    optTensor('batchNorm', o.weight, 'weight'), optTensor('batchNorm', o.bias, 'bias'),
    check.boolean('batchNorm', 'training', o.training, false), momentum, eps));
}

/** embedding(input, weight, paddingIdx?) or embedding(input, weight, { paddingIdx }). */
export function embedding(input: Tensor, weight: Tensor, ...rest: [options?: { paddingIdx?: number }] | [paddingIdx?: number | null]): Tensor {
  const x = checkTensor(input, 'embedding', 'input');
  const w = checkTensor(weight, 'embedding', 'weight');
  const o = check.args('embedding', rest, ['paddingIdx']);
  if (x.dtype !== 'int64' && x.dtype !== 'int32') throw new TypeError(`embedding: expected integer indices (int64 or int32) but got ${x.dtype}`);
  return wrap(native.nn_embedding(w._h, x._h, o.paddingIdx === null ? -1 : check.integer('embedding', 'paddingIdx', o.paddingIdx, -1)));
}

// ---- losses ----
// Each loss takes PyTorch's positional arguments after (input, target) where PyTorch has useful
// ones (weight, margin, ...), and its keyword arguments as a trailing options object; the loss
// modules of nn (lib/nn/loss.ts) call these functions.

/** crossEntropy keyword arguments (PyTorch's names, camelCased). */
export interface CrossEntropyOptions { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number }
type WeightedRest<O> = [options?: O] | [weight: Tensor | null, options?: Omit<O, 'weight'>];

/** Log-softmax + negative log likelihood over dim 1; target holds class indices (int64) or class probabilities. */
export function crossEntropy(input: Tensor, target: Tensor, ...rest: WeightedRest<CrossEntropyOptions>): Tensor {
  const x = floatInput('crossEntropy', input);
  const t = checkTensor(target, 'crossEntropy', 'target');
  const o = check.args('crossEntropy', rest, ['weight'], ['ignoreIndex', 'reduction', 'labelSmoothing']);
  classTarget('crossEntropy', x, t, true);
  const ls = num('crossEntropy', o.labelSmoothing, 'labelSmoothing', 0, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const ignore = check.integer('crossEntropy', 'ignoreIndex', o.ignoreIndex, -100);
  return wrap(native.nn_cross_entropy(x._h, t._h, optTensor('crossEntropy', o.weight, 'weight'),
    reduction('crossEntropy', o.reduction), ignore, ls));
}

/** Class-index targets are [N] (or [N, d1, ...]) integers for input [N, C, ...]; probabilities match input's shape. */
function classTarget(where: string, x: Tensor, t: Tensor, probsAllowed: boolean): void {
  const want = x.ndim === 1 ? [] : [x.shape[0], ...x.shape.slice(2)];
  const indexShaped = t.shape.join() === want.join();
  if (probsAllowed && isFloating(t.dtype) && !indexShaped) {
    sameShape(where, x, t);
    return;
  }
  if (t.dtype !== 'int64') {
    const asIndices = isFloating(t.dtype) && indexShaped
      ? ` (a ${t.dtype} target of shape [${t.shape.join(', ')}] reads as class indices; floating-point targets must be ` +
        `class probabilities of input's shape [${x.shape.join(', ')}])`
      : '';
    throw new TypeError(`${where}: expected target to hold class indices as int64${probsAllowed ? ' (or probabilities as floats)' : ''} ` +
      `but got ${t.dtype}${asIndices}; convert with target.long()`);
  }
  if (!indexShaped) {
    throw new RangeError(`${where}: input [${x.shape.join(', ')}] (batch, classes, ...) expects a target of shape ` +
      `[${want.join(', ')}] but got [${t.shape.join(', ')}]`);
  }
}

/** nllLoss keyword arguments. */
export interface NLLLossOptions { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction }
/** Negative log likelihood of log-probabilities input [N, C, ...] at int64 class indices target [N, ...]. */
export function nllLoss(input: Tensor, target: Tensor, ...rest: WeightedRest<NLLLossOptions>): Tensor {
  const x = floatInput('nllLoss', input);
  const t = checkTensor(target, 'nllLoss', 'target');
  const o = check.args('nllLoss', rest, ['weight'], ['ignoreIndex', 'reduction']);
  classTarget('nllLoss', x, t, false);
  const ignore = check.integer('nllLoss', 'ignoreIndex', o.ignoreIndex, -100);
  return wrap(native.nn_nll_loss(x._h, t._h, optTensor('nllLoss', o.weight, 'weight'), reduction('nllLoss', o.reduction), ignore));
}

function elementwise(where: string, input: Tensor, target: Tensor, rest: unknown[], positional: string[], known: string[]):
  [Tensor, Tensor, Record<string, unknown>] {
  const x = floatInput(where, input);
  const t = floatInput(where, target, 'target');
  sameShape(where, x, t);
  return [x, t, check.args(where, rest, positional, ['reduction', ...known])];
}

/** The reduction keyword of element-wise losses. */
export interface ReductionOptions { reduction?: Reduction }

/** Mean squared error between input and target of one shape. */
export function mseLoss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  const [x, t, o] = elementwise('mseLoss', input, target, [options], [], []);
  return wrap(native.nn_mse_loss(x._h, t._h, reduction('mseLoss', o.reduction)));
}

/** Mean absolute error between input and target of one shape. */
export function l1Loss(input: Tensor, target: Tensor, options?: ReductionOptions): Tensor {
  const [x, t, o] = elementwise('l1Loss', input, target, [options], [], []);
  return wrap(native.nn_l1_loss(x._h, t._h, reduction('l1Loss', o.reduction)));
}

/** L1 loss that is quadratic below beta (PyTorch's smooth_l1_loss). */
export function smoothL1Loss(input: Tensor, target: Tensor, options?: { reduction?: Reduction; beta?: number }): Tensor {
  const [x, t, o] = elementwise('smoothL1Loss', input, target, [options], [], ['beta']);
  const beta = check.nonNegativeNumber('smoothL1Loss', 'beta', o.beta, 1);
  return wrap(native.nn_smooth_l1_loss(x._h, t._h, reduction('smoothL1Loss', o.reduction), beta));
}

/** huberLoss(input, target, reduction?, delta?) or with { reduction, delta }. */
export function huberLoss(input: Tensor, target: Tensor,
  ...rest: [options?: { reduction?: Reduction; delta?: number }] | [reduction?: Reduction, delta?: number]): Tensor {
  const [x, t, o] = elementwise('huberLoss', input, target, rest, ['reduction'], ['delta']);
  const delta = check.positiveNumber('huberLoss', 'delta', o.delta, 1);
  return wrap(native.nn_huber_loss(x._h, t._h, reduction('huberLoss', o.reduction), delta));
}

/** input holds probabilities in [0, 1] (after a sigmoid); prefer binaryCrossEntropyWithLogits for stability. */
export function binaryCrossEntropy(input: Tensor, target: Tensor,
  ...rest: WeightedRest<{ weight?: Tensor | null; reduction?: Reduction }>): Tensor {
  const [x, t, o] = elementwise('binaryCrossEntropy', input, target, rest, ['weight'], []);
  return wrap(native.nn_binary_cross_entropy(x._h, t._h, optTensor('binaryCrossEntropy', o.weight, 'weight'),
    reduction('binaryCrossEntropy', o.reduction)));
}

/** binaryCrossEntropyWithLogits keyword arguments. */
export interface BCEWithLogitsOptions { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction }
/** Sigmoid + binary cross entropy in one numerically stable step; posWeight weighs positives. */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, ...rest: WeightedRest<BCEWithLogitsOptions>): Tensor {
  const [x, t, o] = elementwise('binaryCrossEntropyWithLogits', input, target, rest, ['weight'], ['posWeight']);
  return wrap(native.nn_binary_cross_entropy_with_logits(x._h, t._h, optTensor('binaryCrossEntropyWithLogits', o.weight, 'weight'),
    optTensor('binaryCrossEntropyWithLogits', o.posWeight, 'posWeight'), reduction('binaryCrossEntropyWithLogits', o.reduction)));
}

/** KL divergence with input as log-probabilities; 'batchmean' divides the sum by the batch size (PyTorch's advice). */
export function klDiv(input: Tensor, target: Tensor, options?: { reduction?: Reduction | 'batchmean'; logTarget?: boolean }): Tensor {
  const [x, t, o] = elementwise('klDiv', input, target, [options], [], ['logTarget']);
  const r = reduction('klDiv', o.reduction, ['batchmean']);
  const logTarget = check.boolean('klDiv', 'logTarget', o.logTarget, false);
  if (r === 'batchmean') {
    const s = wrap(native.nn_kl_div(x._h, t._h, 'sum', logTarget));
    return x.ndim === 0 ? s : s.div(x.shape[0]);
  }
  return wrap(native.nn_kl_div(x._h, t._h, r, logTarget));
}

/** mean / sum / none of per-sample losses, as PyTorch's apply_loss_reduction. */
function reduce(loss: Tensor, r: string): Tensor {
  return r === 'mean' ? loss.mean() : r === 'sum' ? loss.sum() : loss;
}

/** A target of 1 / -1 (any dtype) of the given per-sample shape. */
function signTarget(where: string, target: unknown, shape: readonly number[]): Tensor {
  const y = checkTensor(target, where, 'target');
  if (y.shape.join() !== shape.join()) {
    throw new RangeError(`${where}: expected target of shape [${shape.join(', ')}] (1 or -1 per sample) but got [${y.shape.join(', ')}]`);
  }
  return y;
}

/** max(0, -target * (input1 - input2) + margin): marginRankingLoss(input1, input2, target, margin?) or { margin, reduction }. */
export function marginRankingLoss(input1: Tensor, input2: Tensor, target: Tensor,
  ...rest: [options?: { margin?: number; reduction?: Reduction }] | [margin?: number, options?: { reduction?: Reduction }]): Tensor {
  const where = 'marginRankingLoss';
  const a = floatInput(where, input1, 'input1');
  const b = floatInput(where, input2, 'input2');
  sameShape(where, a, b);
  const y = signTarget(where, target, a.shape);
  const o = check.args(where, rest, ['margin'], ['reduction']);
  const margin = check.finiteNumber(where, 'margin', o.margin, 0);
  return reduce(y.neg().mul(a.sub(b)).add(margin).clamp(0, null), reduction(where, o.reduction));
}

/** 1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1 (cosine over the last dim). */
export function cosineEmbeddingLoss(input1: Tensor, input2: Tensor, target: Tensor,
  ...rest: [options?: { margin?: number; reduction?: Reduction }] | [margin?: number, options?: { reduction?: Reduction }]): Tensor {
  const where = 'cosineEmbeddingLoss';
  const a = floatInput(where, input1, 'input1');
  const b = floatInput(where, input2, 'input2');
  sameShape(where, a, b);
  if (a.ndim !== 1 && a.ndim !== 2) throw new RangeError(`${where}: expected inputs of shape [N, D] or [D] but got [${a.shape.join(', ')}]`);
  const y = signTarget(where, target, a.ndim === 2 ? [a.shape[0]] : []);
  const o = check.args(where, rest, ['margin'], ['reduction']);
  const margin = num(where, o.margin, 'margin', 0, (v) => v >= -1 && v <= 1, 'a number in [-1, 1]');
  const dim = a.ndim - 1;
  const eps = 1e-12;   // ATen's EPSILON for this loss
  const cos = a.mul(b).sum(dim).div(a.mul(a).sum(dim).add(eps).mul(b.mul(b).sum(dim).add(eps)).sqrt());
  const zeros = cos.mul(0);
  const loss = select(y.eq(1), cos.rsub(1), zeros).add(select(y.eq(-1), cos.sub(margin).clamp(0, null), zeros));
  return reduce(loss, reduction(where, o.reduction));
}

/** PyTorch's pairwise_distance: the p-norm of x1 - x2 + eps over the last dim. */
export function pairwiseDistance(x1: Tensor, x2: Tensor,
  ...rest: [options?: { p?: number; eps?: number; keepdim?: boolean }] | [p?: number, eps?: number, keepdim?: boolean]): Tensor {
  const where = 'pairwiseDistance';
  const a = floatInput(where, x1, 'x1');
  const b = floatInput(where, x2, 'x2');
  const o = check.args(where, rest, ['p', 'eps', 'keepdim']);
  const p = check.positiveNumber(where, 'p', o.p, 2);
  const eps = check.nonNegativeNumber(where, 'eps', o.eps, 1e-6);
  const keepdim = check.boolean(where, 'keepdim', o.keepdim, false);
  const d = a.sub(b).add(eps);
  const dim = Math.max(a.ndim, b.ndim) - 1;
  if (p === 2) return d.square().sum(dim, keepdim).sqrt();
  if (p === 1) return d.abs().sum(dim, keepdim);
  return d.abs().pow(p).sum(dim, keepdim).pow(1 / p);
}

/** tripletMarginLoss keyword arguments. */
export interface TripletMarginOptions { margin?: number; p?: number; eps?: number; swap?: boolean; reduction?: Reduction }
/** max(d(a, p) - d(a, n) + margin, 0) with d the pairwise p-norm distance; swap uses min(d(a, n), d(p, n)). */
export function tripletMarginLoss(anchor: Tensor, positive: Tensor, negative: Tensor,
  ...rest: [options?: TripletMarginOptions]
    | [margin?: number, p?: number, eps?: number, swap?: boolean, options?: { reduction?: Reduction }]): Tensor {
  const where = 'tripletMarginLoss';
  const a = floatInput(where, anchor, 'anchor');
  const pos = floatInput(where, positive, 'positive');
  const neg = floatInput(where, negative, 'negative');
  if (!(a.ndim === pos.ndim && a.ndim === neg.ndim && (a.ndim === 1 || a.ndim === 2))) {
    throw new RangeError(`${where}: expected anchor, positive and negative of one rank, [N, D] or [D], but got ` +
      `[${a.shape.join(', ')}], [${pos.shape.join(', ')}] and [${neg.shape.join(', ')}]`);
  }
  const o = check.args(where, rest, ['margin', 'p', 'eps', 'swap'], ['reduction']);
  const margin = check.finiteNumber(where, 'margin', o.margin, 1);
  const d = { p: check.positiveNumber(where, 'p', o.p, 2), eps: check.nonNegativeNumber(where, 'eps', o.eps, 1e-6) };
  const dPos = pairwiseDistance(a, pos, d);
  let dNeg = pairwiseDistance(a, neg, d);
  if (check.boolean(where, 'swap', o.swap, false)) dNeg = dNeg.minimum(pairwiseDistance(pos, neg, d));
  return reduce(dPos.sub(dNeg).add(margin).clamp(0, null), reduction(where, o.reduction));
}

// ---- CTC, padding, resampling, normalization: PyTorch's composites over ATen operators ----

const REDUCTION_ENUM: Record<string, number> = { none: 0, mean: 1, sum: 2 };   // at::Reduction

/** An input or target length list: non-negative integers as an array, or a 1-D integer Tensor. */
function lengths(where: string, name: string, v: unknown, n: number): number[] | Tensor {
  if (v instanceof Tensor) {
    if (isFloating(v.dtype) || v.dtype === 'bool' || v.ndim !== 1 || v.shape[0] !== n) {
      throw new TypeError(`${where}: expected ${name} as a 1-D integer Tensor of ${n} lengths (one per batch element) but ` +
        `got ${v.dtype} [${v.shape.join(', ')}]`);
    }
    if (n > 0 && Number(v.min().item()) < 0) throw new RangeError(`${where}: ${name} holds a negative length`);
    return v;
  }
  if (Array.isArray(v) && v.length === n && v.every((x) => check.is.nonNegativeInteger(x))) return v as number[];
  throw check.invalidParameterError(name, `${n} non-negative integer${n === 1 ? '' : 's'} (one per batch element) or a 1-D integer Tensor`, v, where);
}

/** ctcLoss keyword arguments. */
export interface CTCLossOptions { blank?: number; reduction?: Reduction; zeroInfinity?: boolean }
/**
 * The connectionist temporal classification loss: ctcLoss(logProbs, targets, inputLengths, targetLengths, blank?,
 * reduction?, zeroInfinity?) or with { blank, reduction, zeroInfinity }. logProbs [T, N, C] (or [T, C]) are
 * log-softmax outputs; targets are class indices, [N, S] padded or all targets concatenated; 'mean' divides each
 * loss by its target length, then averages over the batch (PyTorch's rule).
 */
export function ctcLoss(logProbs: Tensor, targets: Tensor, inputLengths: number[] | Tensor, targetLengths: number[] | Tensor,
  ...rest: [options?: CTCLossOptions] | [blank?: number, reduction?: Reduction, zeroInfinity?: boolean]): Tensor {
  const where = 'ctcLoss';
  const lp = floatInput(where, logProbs, 'logProbs');
  const t = checkTensor(targets, where, 'targets');
  if (lp.ndim !== 3 && lp.ndim !== 2) {
    throw new RangeError(`${where}: expected logProbs of shape [T, N, C] (or [T, C] unbatched) but got [${lp.shape.join(', ')}]`);
  }
  if (isFloating(t.dtype) || t.dtype === 'bool') {
    throw new TypeError(`${where}: expected targets to hold class indices as integers but got ${t.dtype}; convert with targets.long()`);
  }
  const n = lp.ndim === 3 ? lp.shape[1] : 1;
  const o = check.args(where, rest, ['blank', 'reduction', 'zeroInfinity']);
  const classes = lp.shape[lp.ndim - 1];
  const blank = check.nonNegativeInt(where, 'blank', o.blank, 0);
  if (blank >= classes) throw new RangeError(`${where}: blank ${blank} is not a class index of logProbs' ${classes} classes`);
  const r = reduction(where, o.reduction);
  const zeroInfinity = check.boolean(where, 'zeroInfinity', o.zeroInfinity, false);
  // the CPU kernel reads logProbs at each target index unchecked: an index outside [0, C) gives garbage
  if (t.shape.every((d) => d > 0) && t.ndim > 0) {
    const [lo, hi] = [Number(t.min().item()), Number(t.max().item())];
    if (lo < 0 || hi >= classes) {
      throw new RangeError(`${where}: targets hold class indices in [${lo}, ${hi}] but logProbs has ${classes} classes ` +
        `(expected indices in [0, ${classes - 1}])`);
    }
  }
  // unbatched [T, C]: one length each, as a number or a one-element list
  const one = (v: unknown): unknown => (lp.ndim === 2 && typeof v === 'number' ? [v] : v);
  let il = lengths(where, 'inputLengths', one(inputLengths), n);
  let tl = lengths(where, 'targetLengths', one(targetLengths), n);
  // aten::ctc_loss takes both lengths as lists or both as tensors
  if (il instanceof Tensor !== tl instanceof Tensor) {
    if (il instanceof Tensor) il = il.toArray({ asNumber: true }) as number[];
    if (tl instanceof Tensor) tl = tl.toArray({ asNumber: true }) as number[];
  }
  if (lp.ndim === 2) {
    // run as a batch of one, as PyTorch does
    const out = call('ctc_loss', lp.unsqueeze(1), t.ndim === 1 ? t.unsqueeze(0) : t, il, tl, blank, REDUCTION_ENUM[r],
      zeroInfinity) as Tensor;
    return r === 'none' ? out.squeeze(0) : out;
  }
  return call('ctc_loss', lp, t, il, tl, blank, REDUCTION_ENUM[r], zeroInfinity) as Tensor;
}

/** How pad fills the border: a constant, the mirror image without the edge, the edge repeated, or wrapping around. */
export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';
/**
 * pad(input, pad, mode?, value?) or pad(input, pad, { mode, value }): pad lists (before, after) pairs starting from
 * the LAST dim, as PyTorch's F.pad: [1, 2] pads the last dim by 1 before and 2 after, [1, 1, 2, 2] also the one before it.
 */
export function pad(input: Tensor, pad: number[], ...rest: [options?: { mode?: PadMode; value?: number }]
  | [mode?: PadMode, value?: number | null]): Tensor {
  const where = 'pad';
  const x = checkTensor(input, where, 'input');
  if (!Array.isArray(pad) || pad.length % 2 !== 0 || pad.length === 0 || !pad.every((v) => check.is.integer(v))) {
    throw check.invalidParameterError('pad', 'an even-length list of integers ((before, after) per dim, last dim first)', pad, where);
  }
  if (pad.length / 2 > x.ndim) {
    throw new RangeError(`${where}: pad [${pad.join(', ')}] pads ${pad.length / 2} dims but input [${x.shape.join(', ')}] has ${x.ndim}`);
  }
  for (let i = 0; i < pad.length / 2; i++) {
    const size = x.shape[x.ndim - 1 - i];
    const [a, b] = [pad[2 * i], pad[2 * i + 1]];
    if (-a > size || -b > size || size + a + b < 0) {
      throw new RangeError(`${where}: pad (${a}, ${b}) of dim ${x.ndim - 1 - i} (size ${size}) would crop more than the dim holds`);
    }
  }
  const o = check.args(where, rest, ['mode', 'value']);
  const mode = check.oneOf(where, 'mode', o.mode, ['constant', 'reflect', 'replicate', 'circular'], 'constant');
  if (o.value !== undefined && o.value !== null) {
    check.finiteNumber(where, 'value', o.value);
    if (mode !== 'constant') throw new TypeError(`${where}: value is only read by mode 'constant', not '${mode}'`);
  }
  if (mode !== 'constant') {
    // ATen's reflect/replicate/circular kernels pad the last 1-3 dims of a batched input
    const dims = pad.length / 2;
    if (dims > 3 || x.ndim < dims + 1 || x.ndim > dims + 2) {
      throw new RangeError(`${where}: mode '${mode}' pads the last 1, 2 or 3 dims of an input with one or two more dims ` +
        `([C, W]/[N, C, W] for 2 pad values, [C, H, W]/[N, C, H, W] for 4, [C, D, H, W]/[N, C, D, H, W] for 6) but got pad ` +
        `[${pad.join(', ')}] for input [${x.shape.join(', ')}]`);
    }
    if (mode === 'reflect' || mode === 'circular') {
      for (let i = 0; i < dims; i++) {
        const size = x.shape[x.ndim - 1 - i];
        const [a, b] = [pad[2 * i], pad[2 * i + 1]];
        const limit = mode === 'reflect' ? size - 1 : size;
        if (a > limit || b > limit) {
          throw new RangeError(`${where}: mode '${mode}' pads dim ${x.ndim - 1 - i} of size ${size} by at most ${limit} ` +
            `per side but pad asks for (${a}, ${b})`);
        }
      }
    }
  }
  return call('pad', x, pad, mode, o.value ?? null) as Tensor;
}

/** How interpolate resamples: PyTorch's modes (linear is 3-D input, bilinear/bicubic 4-D, trilinear 5-D). */
export type InterpolateMode = 'nearest' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear' | 'area' | 'nearest-exact';
/** interpolate keyword arguments. */
export interface InterpolateOptions {
  size?: number | number[] | null; scaleFactor?: number | number[] | null; mode?: InterpolateMode;
  alignCorners?: boolean | null; recomputeScaleFactor?: boolean | null; antialias?: boolean;
}
const INTERPOLATE_MODES: readonly InterpolateMode[] = ['nearest', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area', 'nearest-exact'];
const MODE_RANK: Partial<Record<InterpolateMode, number>> = { linear: 3, bilinear: 4, bicubic: 4, trilinear: 5 };

/**
 * Resamples [N, C, W], [N, C, H, W] or [N, C, D, H, W] to a size or by a scale factor: interpolate(input, size?,
 * scaleFactor?, mode?, alignCorners?, recomputeScaleFactor?, antialias?) or with an options object (PyTorch's F.interpolate).
 */
export function interpolate(input: Tensor, ...rest: [options?: InterpolateOptions]
  | [size?: number | number[] | null, scaleFactor?: number | number[] | null, mode?: InterpolateMode,
    alignCorners?: boolean | null, recomputeScaleFactor?: boolean | null, antialias?: boolean]): Tensor {
  const where = 'interpolate';
  const o = check.args(where, rest, ['size', 'scaleFactor', 'mode', 'alignCorners', 'recomputeScaleFactor', 'antialias']);
  const mode = check.oneOf(where, 'mode', o.mode, INTERPOLATE_MODES, 'nearest');
  // nearest copies values, so it also resizes integer images (uint8) as in PyTorch; the others average
  const x = mode === 'nearest' || mode === 'nearest-exact' ? checkTensor(input, where, 'input') : floatInput(where, input);
  if (x.ndim < 3 || x.ndim > 5) {
    throw new RangeError(`${where}: expected input of shape [N, C, W], [N, C, H, W] or [N, C, D, H, W] but got [${x.shape.join(', ')}]`);
  }
  const want = MODE_RANK[mode];
  if (want !== undefined && want !== x.ndim) {
    throw new RangeError(`${where}: mode '${mode}' needs a ${want}-D input but got ${x.ndim}-D [${x.shape.join(', ')}]`);
  }
  const dim = x.ndim - 2;
  const spatial = x.shape.slice(2);
  const size = o.size ?? null;
  const scale = o.scaleFactor ?? null;
  if ((size === null) === (scale === null)) {
    throw new TypeError(`${where}: give exactly one of size and scaleFactor (got ${size === null ? 'neither' : 'both'})`);
  }
  let outputSize: number[] | null = null;
  let scales: number[] | null = null;
  if (size !== null) {
    if (Array.isArray(size) && size.length !== dim) {
      throw new RangeError(`${where}: input [${x.shape.join(', ')}] has ${dim} spatial dims [${spatial.join(', ')}] but size ` +
        `[${size.join(', ')}] has ${size.length}`);
    }
    outputSize = check.intTuple(where, 'size', size, dim, 1);
  } else {
    const list = typeof scale === 'number' ? Array<number>(dim).fill(scale) : scale;
    if (!Array.isArray(list) || list.length !== dim || !list.every((v) => check.is.finite(v) && v > 0)) {
      throw check.invalidParameterError('scaleFactor', `a positive number or ${dim} of them (one per spatial dim)`, scale, where);
    }
    scales = list as number[];
  }
  const nearestLike = mode === 'nearest' || mode === 'area' || mode === 'nearest-exact';
  if (nearestLike && o.alignCorners !== undefined && o.alignCorners !== null) {
    throw new TypeError(`${where}: alignCorners only applies to the linear modes (linear, bilinear, bicubic, trilinear), not '${mode}'`);
  }
  const alignCorners = check.boolean(where, 'alignCorners', o.alignCorners ?? undefined, false);
  let recompute = o.recomputeScaleFactor === null || o.recomputeScaleFactor === undefined ? null
    : check.boolean(where, 'recomputeScaleFactor', o.recomputeScaleFactor);
  if (recompute && size !== null) throw new TypeError(`${where}: recomputeScaleFactor is not meaningful with an explicit size`);
  const antialias = check.boolean(where, 'antialias', o.antialias, false);
  if (antialias && !((mode === 'bilinear' || mode === 'bicubic') && x.ndim === 4)) {
    throw new TypeError(`${where}: antialias is only supported for modes 'bilinear' and 'bicubic' on 4-D input`);
  }
  if (mode === 'area' && outputSize === null) recompute = true;
  if (recompute && scales) {
    const s = scales;
    outputSize = spatial.map((v, i) => Math.floor(v * s[i]));
    scales = null;
  }
  const out = outputSize ?? spatial.map((v, i) => Math.floor(v * (scales as number[])[i]));
  if (spatial.some((v) => v < 1) || out.some((v) => v < 1)) {
    throw new RangeError(`${where}: resampling input [${x.shape.join(', ')}] to spatial size [${out.join(', ')}] needs ` +
      'non-empty spatial dims on both sides');
  }
  const d = `${dim}d`;
  switch (mode) {
    case 'nearest': return call(`upsample_nearest${d}`, x, outputSize, scales) as Tensor;
    case 'nearest-exact': return call(`_upsample_nearest_exact${d}`, x, outputSize, scales) as Tensor;
    case 'area': return call(`adaptive_avg_pool${d}`, x, outputSize) as Tensor;
    case 'linear': return call('upsample_linear1d', x, outputSize, alignCorners, scales) as Tensor;
    case 'trilinear': return call('upsample_trilinear3d', x, outputSize, alignCorners, scales) as Tensor;
    default: return call(`${antialias ? '_' : ''}upsample_${mode}2d${antialias ? '_aa' : ''}`, x, outputSize, alignCorners, scales) as Tensor;
  }
}

/** normalize(input, p?, dim?, eps?) or with { p, dim, eps }: input / max(||input||_p over dim, eps), as PyTorch's F.normalize. */
export function normalize(input: Tensor, ...rest: [options?: { p?: number; dim?: number; eps?: number }]
  | [p?: number, dim?: number, eps?: number]): Tensor {
  const where = 'normalize';
  const x = floatInput(where, input);
  const o = check.args(where, rest, ['p', 'dim', 'eps']);
  const p = o.p === Infinity || o.p === -Infinity ? o.p : num(where, o.p, 'p', 2, (v) => Number.isFinite(v), 'a number (or Infinity)');
  const dim = check.integer(where, 'dim', o.dim, 1);
  const nd = Math.max(x.ndim, 1);
  if (dim < -nd || dim >= nd) throw new RangeError(`${where}: dim ${dim} is out of range for input [${x.shape.join(', ')}]`);
  const eps = check.nonNegativeNumber(where, 'eps', o.eps, 1e-12);
  const norm = call('norm', x, p, [dim], true) as Tensor;
  return x.div((call('clamp_min', norm, eps) as Tensor).expandAs(x));
}

/** oneHot(tensor, numClasses?) or oneHot(tensor, { numClasses }): int64 one-hot vectors in a new last dim (-1: max + 1 classes). */
export function oneHot(tensor: Tensor, ...rest: [options?: { numClasses?: number }] | [numClasses?: number]): Tensor {
  const x = checkTensor(tensor, 'oneHot', 'tensor');
  if (x.dtype !== 'int64') throw new TypeError(`oneHot: expected class indices as int64 but got ${x.dtype}; convert with tensor.long()`);
  const o = check.args('oneHot', rest, ['numClasses']);
  return call('one_hot', x, check.integer('oneHot', 'numClasses', o.numClasses, -1)) as Tensor;
}
