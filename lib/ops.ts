// The functional forms: nt.add(a, b), nt.cat([...], dim)… Each delegates to the Tensor method,
// so the two spellings cannot drift apart.
import { native } from './native';
import { checkTensor, Operand, Scalar, Tensor, ValuesIndices, wrap } from './tensor';
import { call } from './aten/call';

type Method<K extends keyof Tensor> = Tensor[K] extends (...a: infer A) => infer R ? (input: Tensor, ...a: A) => R : never;

function fn<K extends keyof Tensor>(name: K): Method<K> {
  return ((input: Tensor, ...args: unknown[]) =>
    (checkTensor(input, name, 'input')[name] as (...a: unknown[]) => unknown)(...args)) as Method<K>;
}

/** Elementwise negation, -input (torch.neg). */
export const neg = fn('neg');
/** Elementwise absolute value (torch.abs). */
export const abs = fn('abs');
/** Elementwise e^x (torch.exp). */
export const exp = fn('exp');
/** Elementwise natural logarithm (torch.log). */
export const log = fn('log');
/** Elementwise log(1 + x), accurate for small x (torch.log1p). */
export const log1p = fn('log1p');
/** Elementwise e^x - 1, accurate for small x (torch.expm1). */
export const expm1 = fn('expm1');
/** Elementwise square root (torch.sqrt). */
export const sqrt = fn('sqrt');
/** Elementwise reciprocal square root, 1 / sqrt(x) (torch.rsqrt). */
export const rsqrt = fn('rsqrt');
/** Elementwise reciprocal, 1 / x (torch.reciprocal). */
export const reciprocal = fn('reciprocal');
/** Elementwise square, x * x (torch.square). */
export const square = fn('square');
/** Elementwise sine (torch.sin). */
export const sin = fn('sin');
/** Elementwise cosine (torch.cos). */
export const cos = fn('cos');
/** Elementwise floor (torch.floor). */
export const floor = fn('floor');
/** Elementwise ceiling (torch.ceil). */
export const ceil = fn('ceil');
/** Elementwise round half to even (torch.round). */
export const round = fn('round');
/** Elementwise sign: -1, 0 or 1 (torch.sign). */
export const sign = fn('sign');
/** Elementwise Gauss error function (torch.erf). */
export const erf = fn('erf');
/** Elementwise max(x, 0) (torch.relu). */
export const relu = fn('relu');
/** Elementwise logistic sigmoid, 1 / (1 + e^-x) (torch.sigmoid). */
export const sigmoid = fn('sigmoid');
/** Elementwise hyperbolic tangent (torch.tanh). */
export const tanh = fn('tanh');
/** Elementwise GELU activation (torch.nn.functional.gelu). */
export const gelu = fn('gelu');
/** Elementwise SiLU / swish, x * sigmoid(x) (torch.nn.functional.silu). */
export const silu = fn('silu');
/** Elementwise logical NOT, a bool tensor (torch.logical_not). */
export const logicalNot = fn('logicalNot');
/** Elementwise NaN test, a bool tensor (torch.isnan). */
export const isnan = fn('isnan');
/** Whether all elements are true, a 0-d bool tensor (torch.all). */
export const all = fn('all');
/** Whether any element is true, a 0-d bool tensor (torch.any). */
export const any = fn('any');

/** Elementwise product with broadcasting; other may be a number (torch.mul). */
export const mul = fn('mul');
/** Elementwise power input^exponent; exponent may be a number (torch.pow). */
export const pow = fn('pow');
/** Elementwise remainder with the sign of the divisor, like Python % (torch.remainder). */
export const remainder = fn('remainder');
/** Elementwise ==, a bool tensor (torch.eq). */
export const eq = fn('eq');
/** Elementwise !=, a bool tensor (torch.ne). */
export const ne = fn('ne');
/** Elementwise <, a bool tensor (torch.lt). */
export const lt = fn('lt');
/** Elementwise <=, a bool tensor (torch.le). */
export const le = fn('le');
/** Elementwise >, a bool tensor (torch.gt). */
export const gt = fn('gt');
/** Elementwise >=, a bool tensor (torch.ge). */
export const ge = fn('ge');
/** Elementwise maximum of two tensors (torch.maximum). */
export const maximum = fn('maximum');
/** Elementwise minimum of two tensors (torch.minimum). */
export const minimum = fn('minimum');
/** Elementwise arctangent of input / other with quadrant (torch.atan2). */
export const atan2 = fn('atan2');
/** Elementwise logical AND, a bool tensor (torch.logical_and). */
export const logicalAnd = fn('logicalAnd');
/** Elementwise logical OR, a bool tensor (torch.logical_or). */
export const logicalOr = fn('logicalOr');
/** Matrix product with broadcasting over batch dims (torch.matmul). */
export const matmul = fn('matmul');
/** Product of two 2-D matrices (torch.mm). */
export const mm = fn('mm');
/** Batched product of two 3-D tensors (torch.bmm). */
export const bmm = fn('bmm');
/** Inner product of two 1-D tensors (torch.dot). */
export const dot = fn('dot');

/** nt.add(a, b): either side may be a number. */
export function add(a: Operand, b: Operand): Tensor {
  return a instanceof Tensor ? a.add(b) : checkTensor(b, 'add', 'other').add(a);
}
/** nt.sub(a, b): a may be a number (rsub). */
export function sub(a: Operand, b: Operand): Tensor {
  return a instanceof Tensor ? a.sub(b) : checkTensor(b, 'sub', 'other').rsub(a);
}
/** nt.div(a, b): a may be a number. */
export function div(a: Operand, b: Operand): Tensor {
  return a instanceof Tensor ? a.div(b) : checkTensor(b, 'div', 'other').rdiv(a);
}

/** Sum of all elements or along dims (torch.sum). */
export const sum = fn('sum');
/** Mean of all elements or along dims (torch.mean). */
export const mean = fn('mean');
/** Product of all elements or along a dim (torch.prod). */
export const prod = fn('prod');
/** Standard deviation of all elements or along dims (torch.std). */
export const std = fn('std');
/** Variance of all elements or along dims (torch.var; `var` is a reserved word in JS). */
export const variance = fn('var');
/** Index of the maximum, flattened or along a dim (torch.argmax). */
export const argmax = fn('argmax');
/** Index of the minimum, flattened or along a dim (torch.argmin). */
export const argmin = fn('argmin');
/** Softmax along a dim (torch.softmax). */
export const softmax = fn('softmax');
/** Log of the softmax along a dim, numerically stable (torch.log_softmax). */
export const logSoftmax = fn('logSoftmax');

/** The maximum of all elements, a 0-d tensor (torch.max). */
export function max(input: Tensor): Tensor;
/** The maximum along dim: `{ values, indices }` (torch.max(input, dim, keepdim)). */
export function max(input: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
/** The maximum along dim with `{ keepdim }` options: `{ values, indices }`. */
export function max(input: Tensor, dim: number, options: { keepdim?: boolean }): ValuesIndices;
/** The maximum along `options.dim`: `{ values, indices }`. */
export function max(input: Tensor, options: { dim: number; keepdim?: boolean }): ValuesIndices;
/** Elementwise maximum of two tensors, like nt.maximum (torch.max(input, other)). */
export function max(input: Tensor, other: Tensor): Tensor;
export function max(input: Tensor, ...args: unknown[]): Tensor | ValuesIndices {
  return (checkTensor(input, 'max', 'input').max as (...a: unknown[]) => Tensor | ValuesIndices)(...args);
}
/** The minimum of all elements, a 0-d tensor (torch.min). */
export function min(input: Tensor): Tensor;
/** The minimum along dim: `{ values, indices }` (torch.min(input, dim, keepdim)). */
export function min(input: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
/** The minimum along dim with `{ keepdim }` options: `{ values, indices }`. */
export function min(input: Tensor, dim: number, options: { keepdim?: boolean }): ValuesIndices;
/** The minimum along `options.dim`: `{ values, indices }`. */
export function min(input: Tensor, options: { dim: number; keepdim?: boolean }): ValuesIndices;
/** Elementwise minimum of two tensors, like nt.minimum (torch.min(input, other)). */
export function min(input: Tensor, other: Tensor): Tensor;
export function min(input: Tensor, ...args: unknown[]): Tensor | ValuesIndices {
  return (checkTensor(input, 'min', 'input').min as (...a: unknown[]) => Tensor | ValuesIndices)(...args);
}

/** The same elements in a new shape; one dim may be -1 (torch.reshape). */
export const reshape = fn('reshape');
/** A view with a new shape sharing storage; needs compatible strides (Tensor.view). */
export const view = fn('view');
/** Flattens dims startDim..endDim into one (torch.flatten). */
export const flatten = fn('flatten');
/** Removes dims of size 1, all or the one given (torch.squeeze). */
export const squeeze = fn('squeeze');
/** Inserts a dim of size 1 at the given position (torch.unsqueeze). */
export const unsqueeze = fn('unsqueeze');
/** Reorders the dims (torch.permute). */
export const permute = fn('permute');
/** Swaps two dims (torch.transpose). */
export const transpose = fn('transpose');
/** A tensor with contiguous memory, copying only if needed (Tensor.contiguous). */
export const contiguous = fn('contiguous');
/** Splits into chunks of a given size, or of given sizes, along a dim (torch.split). */
export const split = fn('split');
/** Splits into a given number of chunks along a dim (torch.chunk). */
export const chunk = fn('chunk');
/** Gathers values along a dim at the given indices (torch.gather). */
export const gather = fn('gather');
/** Selects entries along a dim at the given 1-D indices (torch.index_select). */
export const indexSelect = fn('indexSelect');
/** Copy with value written where the bool mask is true (Tensor.masked_fill). */
export const maskedFill = fn('maskedFill');
/** Clamps every element into [min, max] (torch.clamp). */
export const clamp = fn('clamp');
/** A view of length entries along a dim starting at start (torch.narrow). */
export const narrow = fn('narrow');
/** Reverses the order along the given dims (torch.flip). */
export const flip = fn('flip');
/** Lower triangle of a matrix (or batch), the rest zeroed (torch.tril). */
export const tril = fn('tril');
/** Upper triangle of a matrix (or batch), the rest zeroed (torch.triu). */
export const triu = fn('triu');
/** A copy with its own storage, recorded by autograd (torch.clone). */
export const clone = fn('clone');
/** A tensor sharing storage, cut from the autograd graph (Tensor.detach). */
export const detach = fn('detach');

function handles(tensors: Tensor[], op: string): number[] {
  if (!Array.isArray(tensors)) throw new TypeError(`${op}: expected an array of Tensors`);
  return tensors.map((t, i) => checkTensor(t, op, `tensors[${i}]`)._h);
}
/** nt.cat(tensors, dim) or nt.cat(tensors, { dim }). */
export function cat(tensors: Tensor[], dim: number | { dim?: number } = 0): Tensor {
  if (dim !== null && typeof dim === 'object') return call('cat', tensors, dim) as Tensor;
  return wrap(native.cat(handles(tensors, 'cat'), dim));
}
/** nt.stack(tensors, dim) or nt.stack(tensors, { dim }). */
export function stack(tensors: Tensor[], dim: number | { dim?: number } = 0): Tensor {
  if (dim !== null && typeof dim === 'object') return call('stack', tensors, dim) as Tensor;
  return wrap(native.stack(handles(tensors, 'stack'), dim));
}
/** where(condition, x, y): x where condition holds, else y. */
export function where(condition: Tensor, x: Tensor | Scalar, y: Tensor | Scalar): Tensor {
  checkTensor(condition, 'where', 'condition');
  if (x instanceof Tensor) return x.where(condition, y);
  if (y instanceof Tensor) return y.where(condition.logicalNot(), x);
  throw new TypeError('where: at least one of x and y must be a Tensor');
}
