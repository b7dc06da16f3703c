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

export const neg = fn('neg'), abs = fn('abs'), exp = fn('exp'), log = fn('log'), log1p = fn('log1p'),
  expm1 = fn('expm1'), sqrt = fn('sqrt'), rsqrt = fn('rsqrt'), reciprocal = fn('reciprocal'), square = fn('square'),
  sin = fn('sin'), cos = fn('cos'), floor = fn('floor'), ceil = fn('ceil'), round = fn('round'), sign = fn('sign'),
  erf = fn('erf'), relu = fn('relu'), sigmoid = fn('sigmoid'), tanh = fn('tanh'), gelu = fn('gelu'), silu = fn('silu'),
  logicalNot = fn('logicalNot'), isnan = fn('isnan'), all = fn('all'), any = fn('any');

export const mul = fn('mul'), pow = fn('pow'), remainder = fn('remainder'), eq = fn('eq'),
  ne = fn('ne'), lt = fn('lt'), le = fn('le'), gt = fn('gt'), ge = fn('ge'), maximum = fn('maximum'),
  minimum = fn('minimum'), atan2 = fn('atan2'), logicalAnd = fn('logicalAnd'), logicalOr = fn('logicalOr'),
  matmul = fn('matmul'), mm = fn('mm'), bmm = fn('bmm'), dot = fn('dot');

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

export const sum = fn('sum'), mean = fn('mean'), prod = fn('prod'), std = fn('std'), variance = fn('var'),
  argmax = fn('argmax'), argmin = fn('argmin'), softmax = fn('softmax'), logSoftmax = fn('logSoftmax');

export function max(input: Tensor): Tensor;
export function max(input: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function max(input: Tensor, dim: number, options: { keepdim?: boolean }): ValuesIndices;
export function max(input: Tensor, options: { dim: number; keepdim?: boolean }): ValuesIndices;
export function max(input: Tensor, other: Tensor): Tensor;
export function max(input: Tensor, ...args: unknown[]): Tensor | ValuesIndices {
  return (checkTensor(input, 'max', 'input').max as (...a: unknown[]) => Tensor | ValuesIndices)(...args);
}
export function min(input: Tensor): Tensor;
export function min(input: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function min(input: Tensor, dim: number, options: { keepdim?: boolean }): ValuesIndices;
export function min(input: Tensor, options: { dim: number; keepdim?: boolean }): ValuesIndices;
export function min(input: Tensor, other: Tensor): Tensor;
export function min(input: Tensor, ...args: unknown[]): Tensor | ValuesIndices {
  return (checkTensor(input, 'min', 'input').min as (...a: unknown[]) => Tensor | ValuesIndices)(...args);
}

export const reshape = fn('reshape'), view = fn('view'), flatten = fn('flatten'), squeeze = fn('squeeze'),
  unsqueeze = fn('unsqueeze'), permute = fn('permute'), transpose = fn('transpose'), contiguous = fn('contiguous'),
  split = fn('split'), chunk = fn('chunk'), gather = fn('gather'), indexSelect = fn('indexSelect'),
  maskedFill = fn('maskedFill'), clamp = fn('clamp'), narrow = fn('narrow'), flip = fn('flip'), tril = fn('tril'),
  triu = fn('triu'), clone = fn('clone'), detach = fn('detach');

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
