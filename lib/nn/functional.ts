// F: PyTorch's torch.nn.functional: activations, layers as functions, and every loss with its
// reduction/weight/ignoreIndex/labelSmoothing options. Each is one native call.
import { native } from '../native';
import { DType, isFloating } from '../dtype';
import { checkTensor, Tensor, wrap } from '../tensor';
import { where as select } from '../ops';
import * as check from '../util/check';

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
