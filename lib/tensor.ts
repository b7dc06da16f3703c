// The Tensor class: a thin handle over a native libtorch tensor. Every op is one native
// call; results are wrapped with wrap(), which hands them to tidy() scopes or the finalizer.
import { native, Handle } from './native';
import { DType, DTYPES, dtypeCode, isDtypeName, parseDtype, TypedArray, viewAs } from './dtype';
import { TensorHandle, track } from './memory';
import { formatTensor } from './format';
import { callMethod } from './aten/call';

/** A single value: a number, a bigint (int64) or a boolean. */
export type Scalar = number | bigint | boolean;
/** The other side of an elementwise op: a Tensor (broadcast against this one) or a Scalar. */
export type Operand = Tensor | Scalar;
/** A device: 'cpu', 'cuda' or 'cuda:N', or any object whose toString() gives one (torch.device). */
export type DeviceLike = string | {
  /** The device's name, e.g. 'cuda:0'. */
  toString(): string;
};
/** Options of Tensor.to (torch.Tensor.to keyword arguments): target dtype and device, and whether to copy. */
export interface ToOptions { dtype?: DType; device?: DeviceLike; copy?: boolean }
/** Options of sum/mean (torch.sum keyword arguments): dims to reduce, keepdim and the result dtype. */
export interface ReduceOptions { dim?: number | number[]; keepdim?: boolean; dtype?: DType }
/** Options of Tensor.backward (torch.Tensor.backward retain_graph and create_graph). */
export interface BackwardOptions { retainGraph?: boolean; createGraph?: boolean }
/** max/min along a dim: { values, indices }, which also destructures as [values, indices] like PyTorch. */
export interface ValuesIndices extends Iterable<Tensor> { values: Tensor; indices: Tensor }
/** var/std keyword arguments (PyTorch's unbiased or correction). */
export interface VarOptions { dim?: number | number[] | null; unbiased?: boolean; correction?: number; keepdim?: boolean }
/** Options of Tensor.flatten (torch.flatten start_dim and end_dim). */
export interface FlattenOptions { startDim?: number; endDim?: number }
/** A Scalar or nested JS arrays of Scalars, as returned by Tensor.toArray (torch.Tensor.tolist). */
export type NestedArray = Scalar | NestedArray[];

/** @internal wraps a fresh native handle */
export function wrap(h: Handle): Tensor {
  const t = new Tensor(h);
  track(t);
  return t;
}

function wrapList(hs: Handle[]): Tensor[] {
  return hs.map(wrap);
}

/** Names a value's kind for error messages: 'null', 'array', "string 'x'", 'Module instance', typeof otherwise. */
export function typeOfValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'symbol') return 'symbol';
  if (Array.isArray(v)) return 'array';
  // a callable instance (nn.Module, Keras layer or model) is a function whose prototype chain is its class's
  if (typeof v === 'function' && v.prototype === undefined && Object.getPrototypeOf(v) !== Function.prototype) {
    return `${(v as { constructor?: { name?: string } }).constructor?.name ?? 'callable'} instance`;
  }
  return typeof v === 'string' ? `string '${v}'` : typeof v;
}

/** Returns v if it is a Tensor, else throws a TypeError naming op and the argument name. */
export function checkTensor(v: unknown, op: string, name: string): Tensor {
  if (v instanceof Tensor) return v;
  throw new TypeError(`${op}: expected a Tensor for ${name} but received ${typeOfValue(v)}`);
}

function isScalar(v: unknown): v is Scalar {
  const t = typeof v;
  return t === 'number' || t === 'bigint' || t === 'boolean';
}

function checkInt(v: unknown, op: string, name: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw new TypeError(`${op}: expected an integer for ${name} but received ${typeOfValue(v)}` +
    (typeof v === 'number' ? ` ${v}` : ''));
}

/** Returns v (a number becomes [v]) as a shape of non-negative integers, else throws a TypeError naming op. */
export function checkShape(v: unknown, op: string, name = 'shape'): number[] {
  if (typeof v === 'number') v = [v];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s >= 0)) {
    throw new TypeError(`${op}: expected ${name} to be an array of non-negative integers but received ` +
      (Array.isArray(v) ? `[${v.map((e) => (typeof e === 'string' ? `'${e}'` : String(e))).join(', ')}]` : typeOfValue(v)));
  }
  return v as number[];
}

/** Reads `...sizes` or `[sizes]` (PyTorch accepts both for reshape/permute/view). */
function sizesArg(args: (number | number[])[], op: string, name: string): number[] {
  const list = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'number' && Number.isSafeInteger(s))) {
    throw new TypeError(`${op}: expected ${name} as integers but received ${JSON.stringify(args)}`);
  }
  return list as number[];
}

/** Returns the device as a string ('cpu', 'cuda' or 'cuda:N'), else throws a TypeError naming op. */
export function deviceString(d: DeviceLike, op: string): string {
  const s = typeof d === 'string' ? d : d != null && typeof d === 'object' ? String(d) : undefined;
  if (s === undefined || !/^(cpu|cuda(:\d+)?)$/.test(s)) {
    throw new TypeError(`${op}: unknown device ${typeof d === 'string' ? `'${d}'` : typeOfValue(d)}: expected 'cpu', ` +
      "'cuda' or 'cuda:N'");
  }
  return s;
}

function reduceArgs(op: string, a?: number | number[] | null | ReduceOptions, keepdim?: boolean): [number | number[] | null, boolean, number] {
  if (a !== null && typeof a === 'object' && !Array.isArray(a)) {
    return [a.dim ?? null, a.keepdim ?? false, dtypeCode(a.dtype, op)];
  }
  return [a ?? null, keepdim ?? false, -1];
}

/** A trailing options object: Python's keyword arguments (not a Tensor, not an array). */
function isOptions(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tensor);
}

/**
 * The hand-bound ops take their plain positional forms on the direct binding; a call with an options
 * object (keyword arguments) goes through the generic ATen caller, which reads it by the op's schema,
 * as Python does: t.argmax({ dim: 1 }), t.max(1, { keepdim: true }), t.softmax({ dim: 1 }).
 * Returns the arguments as given (trailing undefined dropped), or null for the direct binding.
 */
function keywordCall(...args: unknown[]): unknown[] | null {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  if (n === 0 || !isOptions(args[n - 1])) return null;
  args.length = n;
  return args;
}

/** Options of the ops that take a dim (Python's keyword arguments). */
export interface DimOptions { dim?: number | null; keepdim?: boolean; dtype?: DType }

/** An n-dimensional array on a device, a handle over a libtorch tensor (torch.Tensor); free it with dispose() or tidy(). */
export class Tensor extends TensorHandle {
  private meta(): [number, string, ...number[]] {
    return (this._meta ??= native.tensor_meta(this._h));
  }

  // ---- metadata ----
  /** The size of each dimension, frozen (torch.Tensor.shape). */
  get shape(): readonly number[] {
    return (this._shape ??= Object.freeze(this.meta().slice(2) as number[]));
  }
  /** The element type, e.g. 'float32' (torch.Tensor.dtype). */
  get dtype(): DType {
    return DTYPES[this.meta()[0]];
  }
  /** The device the data lives on: 'cpu' or 'cuda:N' (torch.Tensor.device). */
  get device(): string {
    return this.meta()[1];
  }
  /** The number of dimensions (torch.Tensor.ndim). */
  get ndim(): number {
    return this.meta().length - 2;
  }
  /** The number of elements, the product of the shape (torch.Tensor.numel()). */
  get numel(): number {
    let n = 1;
    for (const s of this.shape) n *= s;
    return n;
  }
  /** The shape, or the size of dimension dim (negative counts from the end) (torch.Tensor.size). */
  size(dim?: number): number | readonly number[] {
    if (dim === undefined) return this.shape;
    const n = this.ndim;
    const d = checkInt(dim, 'size', 'dim');
    if (d < -n || d >= n) throw new RangeError(`size: dim ${d} is out of range for shape [${this.shape.join(', ')}]`);
    return this.shape[d < 0 ? d + n : d];
  }
  /** Whether the elements are laid out contiguously in row-major order (torch.Tensor.is_contiguous()). */
  get isContiguous(): boolean {
    return native.tensor_is_contiguous(this._h);
  }

  // ---- data ----
  /** A typed-array copy of the values (float16/bfloat16 as Float32Array, bool as Uint8Array, int64 as BigInt64Array). */
  dataSync(): TypedArray {
    return viewAs(this.dtype, native.tensor_data(this._h));
  }
  /** A typed-array copy of the values, as a Promise (the async form of dataSync()). */
  async data(): Promise<TypedArray> {
    return this.dataSync();
  }
  /** Nested JS arrays; int64 as bigint unless { asNumber: true }, bool as booleans. */
  toArray(opts: { asNumber?: boolean } = {}): NestedArray {
    const flat = this.dataSync();
    const dtype = this.dtype;
    const shape = this.shape;
    let get: (i: number) => Scalar;
    if (dtype === 'bool') get = (i) => flat[i] !== 0;
    else if (dtype === 'int64' && opts.asNumber) get = (i) => Number(flat[i]);
    else get = (i) => flat[i];
    if (shape.length === 0) return get(0);
    let pos = 0;
    const build = (d: number): NestedArray[] => {
      const out: NestedArray[] = new Array(shape[d]);
      for (let i = 0; i < shape[d]; i++) out[i] = d === shape.length - 1 ? get(pos++) : build(d + 1);
      return out;
    };
    return build(0);
  }
  /** The number of dimensions, as PyTorch's t.dim(). */
  dim(): number {
    return this.ndim;
  }
  /** PyTorch's t.T: the dimensions reversed (the transpose of a matrix; 0-D and 1-D tensors as they are). */
  get T(): Tensor {
    const n = this.ndim;
    if (n <= 2) return wrap(native.tensor_t(this._h));
    const dims: number[] = [];
    for (let d = n - 1; d >= 0; d--) dims.push(d);
    return wrap(native.tensor_permute(this._h, dims));
  }
  /** The value of a one-element tensor: number, bigint for int64, boolean for bool. */
  item(): Scalar {
    return native.tensor_item(this._h);
  }
  /**
   * The value of a one-element tensor as a number, whatever its dtype (int64 must fit a safe
   * integer; bool gives 0 or 1): `const loss = t.itemNumber()` needs no cast where item() is a Scalar.
   */
  itemNumber(): number {
    const v = native.tensor_item(this._h);
    if (typeof v === 'bigint') {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new RangeError(`itemNumber: the int64 value ${v} is not a safe integer; use item() for a bigint`);
      }
      return Number(v);
    }
    return Number(v);
  }
  /** The values printed like PyTorch prints a tensor (str(t)). */
  toString(): string {
    return formatTensor(this);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.isDisposed ? 'Tensor(disposed)' : this.toString();
  }

  // ---- conversion ----
  /** Converts to a dtype and/or moves to a device; shares the data when nothing changes, unless copy (torch.Tensor.to). */
  to(target: DType | DeviceLike | ToOptions): Tensor {
    let dtype = -1;
    let device: string | null = null;
    let copy = false;
    if (typeof target === 'string' && isDtypeName(target)) {
      dtype = dtypeCode(parseDtype(target, 'to'), 'to');
    } else if (target !== null && typeof target === 'object' &&
      ('dtype' in target || 'device' in target || 'copy' in target)) {
      const o = target as ToOptions;
      if (o.dtype !== undefined) dtype = dtypeCode(o.dtype, 'to');
      if (o.device !== undefined) device = deviceString(o.device, 'to');
      copy = !!o.copy;
    } else {
      device = deviceString(target as DeviceLike, 'to');
    }
    return wrap(native.tensor_to(this._h, dtype, device, copy));
  }
  /** A copy on the CPU, or the same data if already there (torch.Tensor.cpu). */
  cpu(): Tensor {
    return this.to('cpu');
  }
  /** A copy on CUDA device index, or the same data if already there (torch.Tensor.cuda). */
  cuda(index = 0): Tensor {
    return this.to(`cuda:${checkInt(index, 'cuda', 'index')}`);
  }
  /** Converts to float32 (torch.Tensor.float). */
  float(): Tensor {
    return this.to('float32');
  }
  /** Converts to float64 (torch.Tensor.double). */
  double(): Tensor {
    return this.to('float64');
  }
  /** Converts to int64 (torch.Tensor.long). */
  long(): Tensor {
    return this.to('int64');
  }
  /** Converts to int32 (torch.Tensor.int). */
  int(): Tensor {
    return this.to('int32');
  }
  /** Converts to bool (torch.Tensor.bool). */
  bool(): Tensor {
    return this.to('bool');
  }
  /** A copy with its own memory, still part of the autograd graph (torch.Tensor.clone). */
  clone(): Tensor {
    return wrap(native.tensor_clone(this._h));
  }
  /** A view of the same data cut off from the autograd graph (torch.Tensor.detach). */
  detach(): Tensor {
    return wrap(native.tensor_detach(this._h));
  }
  /** The values laid out contiguously: the same data if already so, else a copy (torch.Tensor.contiguous). */
  contiguous(): Tensor {
    return wrap(native.tensor_contiguous(this._h));
  }

  // ---- elementwise ----
  /** Elementwise negation, -x (torch.Tensor.neg). */
  neg(): Tensor { return wrap(native.tensor_neg(this._h)); }
  /** Elementwise absolute value (torch.Tensor.abs). */
  abs(): Tensor { return wrap(native.tensor_abs(this._h)); }
  /** Elementwise e^x (torch.Tensor.exp). */
  exp(): Tensor { return wrap(native.tensor_exp(this._h)); }
  /** Elementwise natural logarithm (torch.Tensor.log). */
  log(): Tensor { return wrap(native.tensor_log(this._h)); }
  /** Elementwise log(1 + x), accurate for small x (torch.Tensor.log1p). */
  log1p(): Tensor { return wrap(native.tensor_log1p(this._h)); }
  /** Elementwise e^x - 1, accurate for small x (torch.Tensor.expm1). */
  expm1(): Tensor { return wrap(native.tensor_expm1(this._h)); }
  /** Elementwise square root (torch.Tensor.sqrt). */
  sqrt(): Tensor { return wrap(native.tensor_sqrt(this._h)); }
  /** Elementwise reciprocal square root, 1 / sqrt(x) (torch.Tensor.rsqrt). */
  rsqrt(): Tensor { return wrap(native.tensor_rsqrt(this._h)); }
  /** Elementwise 1 / x (torch.Tensor.reciprocal). */
  reciprocal(): Tensor { return wrap(native.tensor_reciprocal(this._h)); }
  /** Elementwise x * x (torch.Tensor.square). */
  square(): Tensor { return wrap(native.tensor_square(this._h)); }
  /** Elementwise sine (torch.Tensor.sin). */
  sin(): Tensor { return wrap(native.tensor_sin(this._h)); }
  /** Elementwise cosine (torch.Tensor.cos). */
  cos(): Tensor { return wrap(native.tensor_cos(this._h)); }
  /** Elementwise round down (torch.Tensor.floor). */
  floor(): Tensor { return wrap(native.tensor_floor(this._h)); }
  /** Elementwise round up (torch.Tensor.ceil). */
  ceil(): Tensor { return wrap(native.tensor_ceil(this._h)); }
  /** Elementwise round to nearest, halves to even (torch.Tensor.round). */
  round(): Tensor { return wrap(native.tensor_round(this._h)); }
  /** Elementwise sign: -1, 0 or 1 (torch.Tensor.sign). */
  sign(): Tensor { return wrap(native.tensor_sign(this._h)); }
  /** Elementwise error function (torch.Tensor.erf). */
  erf(): Tensor { return wrap(native.tensor_erf(this._h)); }
  /** Elementwise max(x, 0) (torch.Tensor.relu). */
  relu(): Tensor { return wrap(native.tensor_relu(this._h)); }
  /** Elementwise logistic sigmoid, 1 / (1 + e^-x) (torch.Tensor.sigmoid). */
  sigmoid(): Tensor { return wrap(native.tensor_sigmoid(this._h)); }
  /** Elementwise hyperbolic tangent (torch.Tensor.tanh). */
  tanh(): Tensor { return wrap(native.tensor_tanh(this._h)); }
  /** Elementwise GELU, the exact erf form (torch.nn.functional.gelu). */
  gelu(): Tensor { return wrap(native.tensor_gelu(this._h)); }
  /** Elementwise SiLU (swish), x * sigmoid(x) (torch.nn.functional.silu). */
  silu(): Tensor { return wrap(native.tensor_silu(this._h)); }
  /** Elementwise logical NOT as a bool tensor (torch.Tensor.logical_not). */
  logicalNot(): Tensor { return wrap(native.tensor_logical_not(this._h)); }
  /** Elementwise test for NaN as a bool tensor (torch.Tensor.isnan). */
  isnan(): Tensor { return wrap(native.tensor_isnan(this._h)); }
  /** A 0-d bool tensor: whether every element is true (non-zero) (torch.Tensor.all). */
  all(): Tensor { return wrap(native.tensor_all(this._h)); }
  /** A 0-d bool tensor: whether any element is true (non-zero) (torch.Tensor.any). */
  any(): Tensor { return wrap(native.tensor_any(this._h)); }

  /** Elementwise sum with broadcasting (torch.Tensor.add). */
  add(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_add_scalar(this._h, other))
      : this.binary(other, 'add', native.tensor_add, native.tensor_add_scalar);
  }
  /** Elementwise difference with broadcasting (torch.Tensor.sub). */
  sub(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_sub_scalar(this._h, other))
      : this.binary(other, 'sub', native.tensor_sub, native.tensor_sub_scalar);
  }
  /** Elementwise product with broadcasting (torch.Tensor.mul). */
  mul(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_mul_scalar(this._h, other))
      : this.binary(other, 'mul', native.tensor_mul, native.tensor_mul_scalar);
  }
  /** Elementwise true division with broadcasting; integers give floats (torch.Tensor.div). */
  div(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_div_scalar(this._h, other))
      : this.binary(other, 'div', native.tensor_div, native.tensor_div_scalar);
  }
  /** Elementwise power with broadcasting (torch.Tensor.pow). */
  pow(exponent: Operand): Tensor { return this.binary(exponent, 'pow', native.tensor_pow, native.tensor_pow_scalar); }
  /** Elementwise remainder with the sign of the divisor, like Python % (torch.Tensor.remainder). */
  remainder(other: Operand): Tensor {
    return this.binary(other, 'remainder', native.tensor_remainder, native.tensor_remainder_scalar);
  }
  /** Elementwise == as a bool tensor, with broadcasting (torch.Tensor.eq). */
  eq(other: Operand): Tensor { return this.binary(other, 'eq', native.tensor_eq, native.tensor_eq_scalar); }
  /** Elementwise != as a bool tensor, with broadcasting (torch.Tensor.ne). */
  ne(other: Operand): Tensor { return this.binary(other, 'ne', native.tensor_ne, native.tensor_ne_scalar); }
  /** Elementwise < as a bool tensor, with broadcasting (torch.Tensor.lt). */
  lt(other: Operand): Tensor { return this.binary(other, 'lt', native.tensor_lt, native.tensor_lt_scalar); }
  /** Elementwise <= as a bool tensor, with broadcasting (torch.Tensor.le). */
  le(other: Operand): Tensor { return this.binary(other, 'le', native.tensor_le, native.tensor_le_scalar); }
  /** Elementwise > as a bool tensor, with broadcasting (torch.Tensor.gt). */
  gt(other: Operand): Tensor { return this.binary(other, 'gt', native.tensor_gt, native.tensor_gt_scalar); }
  /** Elementwise >= as a bool tensor, with broadcasting (torch.Tensor.ge). */
  ge(other: Operand): Tensor { return this.binary(other, 'ge', native.tensor_ge, native.tensor_ge_scalar); }
  /** Elementwise maximum with broadcasting (torch.maximum). */
  maximum(other: Operand): Tensor { return this.binary(other, 'maximum', native.tensor_maximum); }
  /** Elementwise minimum with broadcasting (torch.minimum). */
  minimum(other: Operand): Tensor { return this.binary(other, 'minimum', native.tensor_minimum); }
  /** Elementwise arctangent of this / other, in the right quadrant (torch.Tensor.atan2). */
  atan2(other: Operand): Tensor { return this.binary(other, 'atan2', native.tensor_atan2); }
  /** Elementwise logical AND as a bool tensor, with broadcasting (torch.Tensor.logical_and). */
  logicalAnd(other: Operand): Tensor { return this.binary(other, 'logicalAnd', native.tensor_logical_and); }
  /** Elementwise logical OR as a bool tensor, with broadcasting (torch.Tensor.logical_or). */
  logicalOr(other: Operand): Tensor { return this.binary(other, 'logicalOr', native.tensor_logical_or); }
  /** scalar - this, for nt.sub(2, t) */
  rsub(s: Scalar): Tensor { return wrap(native.tensor_rsub_scalar(this._h, s)); }
  /** scalar / this */
  rdiv(s: Scalar): Tensor { return wrap(native.tensor_rdiv_scalar(this._h, s)); }
  /** scalar ** this */
  rpow(s: Scalar): Tensor { return wrap(native.tensor_rpow_scalar(this._h, s)); }

  private binary(other: Operand, op: string, tt: (a: Handle, b: Handle) => Handle,
    ts?: (a: Handle, s: Scalar) => Handle): Tensor {
    if (other instanceof Tensor) return wrap(tt(this._h, other._h));
    if (!isScalar(other)) throw new TypeError(`${op}: expected a Tensor or a number for other but received ${typeOfValue(other)}`);
    if (ts) return wrap(ts(this._h, other));
    return this.withScalar(other, (s) => tt(this._h, s));
  }

  /** Runs op with value as a temporary 0-d tensor of this tensor's dtype and device. */
  private withScalar(value: Scalar, op: (s: Handle) => Handle): Tensor {
    const s = native.scalar_tensor(value, DTYPES.indexOf(this.dtype), this.device, false);
    try {
      return wrap(op(s));
    } finally {
      native.tensor_dispose(s);
    }
  }

  /** Matrix product with broadcasting over batch dims; 1-D sides as vectors (torch.Tensor.matmul). */
  matmul(other: Tensor): Tensor { return wrap(native.tensor_matmul(this._h, checkTensor(other, 'matmul', 'other')._h)); }
  /** Product of two 2-D matrices, no broadcasting (torch.Tensor.mm). */
  mm(other: Tensor): Tensor { return wrap(native.tensor_mm(this._h, checkTensor(other, 'mm', 'other')._h)); }
  /** Batched product of two 3-D tensors [b, n, m] x [b, m, p] (torch.Tensor.bmm). */
  bmm(other: Tensor): Tensor { return wrap(native.tensor_bmm(this._h, checkTensor(other, 'bmm', 'other')._h)); }
  /** Dot product of two 1-D tensors, as a 0-d tensor (torch.Tensor.dot). */
  dot(other: Tensor): Tensor { return wrap(native.tensor_dot(this._h, checkTensor(other, 'dot', 'other')._h)); }

  // ---- in-place (return this) ----
  /** In-place elementwise sum; returns this (torch.Tensor.add_). */
  add_(other: Operand): this { return this.inplace(other, 'add_', native.tensor_add_, native.tensor_add_scalar_); }
  /** In-place elementwise difference; returns this (torch.Tensor.sub_). */
  sub_(other: Operand): this { return this.inplace(other, 'sub_', native.tensor_sub_, native.tensor_sub_scalar_); }
  /** In-place elementwise product; returns this (torch.Tensor.mul_). */
  mul_(other: Operand): this { return this.inplace(other, 'mul_', native.tensor_mul_, native.tensor_mul_scalar_); }
  /** In-place elementwise division; returns this (torch.Tensor.div_). */
  div_(other: Operand): this { return this.inplace(other, 'div_', native.tensor_div_, native.tensor_div_scalar_); }
  /** Sets every element to 0 in place; returns this (torch.Tensor.zero_). */
  zero_(): this { native.tensor_zero_(this._h); return this; }
  /** Sets every element to value in place; returns this (torch.Tensor.fill_). */
  fill_(value: Scalar): this {
    if (!isScalar(value)) throw new TypeError(`fill_: expected a number for value but received ${typeOfValue(value)}`);
    native.tensor_fill_(this._h, value);
    return this;
  }
  /** Copies src's values (broadcast, converted) into this tensor in place; returns this (torch.Tensor.copy_). */
  copy_(src: Tensor): this { native.tensor_copy_(this._h, checkTensor(src, 'copy_', 'src')._h); return this; }
  /** Limits the values to [min, max] in place (null: no bound); returns this (torch.Tensor.clamp_). */
  clamp_(min?: number | null, max?: number | null): this { native.tensor_clamp_(this._h, min, max); return this; }

  private inplace(other: Operand, op: string, tt: (a: Handle, b: Handle) => void, ts: (a: Handle, s: Scalar) => void): this {
    if (other instanceof Tensor) tt(this._h, other._h);
    else if (isScalar(other)) ts(this._h, other);
    else throw new TypeError(`${op}: expected a Tensor or a number for other but received ${typeOfValue(other)}`);
    return this;
  }

  // ---- reductions ----
  /** Sum of all elements, or over dim(s), optionally keeping them (torch.Tensor.sum). */
  sum(dim?: number | number[] | null | ReduceOptions, keepdim?: boolean | ReduceOptions): Tensor {
    if (isOptions(keepdim)) return callMethod('sum', this, [dim, keepdim]) as Tensor;
    const [d, k, dt] = reduceArgs('sum', dim, keepdim as boolean | undefined);
    return wrap(native.tensor_sum(this._h, d, k, dt));
  }
  /** Mean of all elements, or over dim(s), optionally keeping them (torch.Tensor.mean). */
  mean(dim?: number | number[] | null | ReduceOptions, keepdim?: boolean | ReduceOptions): Tensor {
    if (isOptions(keepdim)) return callMethod('mean', this, [dim, keepdim]) as Tensor;
    const [d, k, dt] = reduceArgs('mean', dim, keepdim as boolean | undefined);
    return wrap(native.tensor_mean(this._h, d, k, dt));
  }
  /** Product of all elements, or along dim, optionally keeping it (torch.Tensor.prod). */
  prod(dim?: number | DimOptions, keepdim?: boolean | DimOptions, dtype?: DType): Tensor {
    const kw = keywordCall(dim, keepdim, dtype);
    if (kw || dtype !== undefined) return callMethod('prod', this, kw ?? [dim, keepdim, dtype]) as Tensor;
    return wrap(native.tensor_prod(this._h, dim as number | undefined, (keepdim as boolean | undefined) ?? false));
  }
  /** Variance of all elements or over dim(s), unbiased (n - 1) by default (torch.Tensor.var). */
  var(dim?: number | number[] | null | VarOptions, unbiased?: boolean | VarOptions, keepdim?: boolean | VarOptions): Tensor {
    const kw = keywordCall(dim, unbiased, keepdim);
    if (kw) return callMethod('var', this, kw) as Tensor;
    return wrap(native.tensor_var(this._h, dim as number | number[] | null | undefined, (unbiased ?? true) as boolean,
      (keepdim ?? false) as boolean));
  }
  /** Standard deviation of all elements or over dim(s), unbiased (n - 1) by default (torch.Tensor.std). */
  std(dim?: number | number[] | null | VarOptions, unbiased?: boolean | VarOptions, keepdim?: boolean | VarOptions): Tensor {
    const kw = keywordCall(dim, unbiased, keepdim);
    if (kw) return callMethod('std', this, kw) as Tensor;
    return wrap(native.tensor_std(this._h, dim as number | number[] | null | undefined, (unbiased ?? true) as boolean,
      (keepdim ?? false) as boolean));
  }
  /** max() of all values; max(dim, keepdim) -> [values, indices]; max(other) elementwise. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim: number, options: { keepdim?: boolean }): ValuesIndices;
  max(options: { dim: number; keepdim?: boolean }): ValuesIndices;
  max(other: Tensor): Tensor;
  max(dim?: number | Tensor | DimOptions, keepdim?: boolean | DimOptions): Tensor | ValuesIndices {
    const kw = keywordCall(dim, keepdim);
    if (kw) return callMethod('max', this, kw) as ValuesIndices;
    if (dim === undefined) return wrap(native.tensor_max(this._h));
    if (dim instanceof Tensor) return this.maximum(dim);
    return valuesIndices(native.tensor_max_dim(this._h, dim as number, (keepdim ?? false) as boolean));
  }
  /** min() of all values; min(dim, keepdim) -> [values, indices]; min(other) elementwise (torch.Tensor.min). */
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim: number, options: { keepdim?: boolean }): ValuesIndices;
  min(options: { dim: number; keepdim?: boolean }): ValuesIndices;
  min(other: Tensor): Tensor;
  min(dim?: number | Tensor | DimOptions, keepdim?: boolean | DimOptions): Tensor | ValuesIndices {
    const kw = keywordCall(dim, keepdim);
    if (kw) return callMethod('min', this, kw) as ValuesIndices;
    if (dim === undefined) return wrap(native.tensor_min(this._h));
    if (dim instanceof Tensor) return this.minimum(dim);
    return valuesIndices(native.tensor_min_dim(this._h, dim as number, (keepdim ?? false) as boolean));
  }
  /** Index of the largest value, in the flattened tensor or along dim (torch.Tensor.argmax). */
  argmax(dim?: number | null | DimOptions, keepdim?: boolean | DimOptions): Tensor {
    const kw = keywordCall(dim, keepdim);
    if (kw) return callMethod('argmax', this, kw) as Tensor;
    return wrap(native.tensor_argmax(this._h, dim as number | undefined, (keepdim ?? false) as boolean));
  }
  /** Index of the smallest value, in the flattened tensor or along dim (torch.Tensor.argmin). */
  argmin(dim?: number | null | DimOptions, keepdim?: boolean | DimOptions): Tensor {
    const kw = keywordCall(dim, keepdim);
    if (kw) return callMethod('argmin', this, kw) as Tensor;
    return wrap(native.tensor_argmin(this._h, dim as number | undefined, (keepdim ?? false) as boolean));
  }
  /** Softmax along dim, optionally computed in dtype (torch.Tensor.softmax). */
  softmax(dim: number | DimOptions, dtype?: DType | DimOptions): Tensor {
    const kw = keywordCall(dim, dtype);
    if (kw) return callMethod('softmax', this, kw) as Tensor;
    return wrap(native.tensor_softmax(this._h, checkInt(dim, 'softmax', 'dim'), dtypeCode(dtype as DType | undefined, 'softmax')));
  }
  /** Log of the softmax along dim, computed stably (torch.Tensor.log_softmax). */
  logSoftmax(dim: number | DimOptions, dtype?: DType | DimOptions): Tensor {
    const kw = keywordCall(dim, dtype);
    if (kw) return callMethod('log_softmax', this, kw) as Tensor;
    return wrap(native.tensor_log_softmax(this._h, checkInt(dim, 'logSoftmax', 'dim'),
      dtypeCode(dtype as DType | undefined, 'logSoftmax')));
  }

  // ---- shape ----
  /** The same values in a new shape (one size may be -1), a view when possible (torch.Tensor.reshape). */
  reshape(...shape: (number | number[])[]): Tensor {
    return wrap(native.tensor_reshape(this._h, sizesArg(shape, 'reshape', 'shape')));
  }
  /** A view with a new shape over the same memory; fails if the strides do not allow it (torch.Tensor.view). */
  view(...shape: (number | number[])[]): Tensor {
    return wrap(native.tensor_view(this._h, sizesArg(shape, 'view', 'shape')));
  }
  /** A broadcast view with size-1 dims repeated to the given shape (-1 keeps a size) (torch.Tensor.expand). */
  expand(...shape: (number | number[])[]): Tensor {
    return wrap(native.tensor_expand(this._h, sizesArg(shape, 'expand', 'shape')));
  }
  /** A copy tiled the given number of times along each dim (torch.Tensor.repeat). */
  repeat(...repeats: (number | number[])[]): Tensor {
    return wrap(native.tensor_repeat(this._h, sizesArg(repeats, 'repeat', 'repeats')));
  }
  /** Dims startDim..endDim (default all) merged into one (torch.Tensor.flatten). */
  flatten(startDim?: number | FlattenOptions, endDim?: number | FlattenOptions): Tensor {
    const kw = keywordCall(startDim, endDim);
    if (kw) return callMethod('flatten', this, kw) as Tensor;
    return wrap(native.tensor_flatten(this._h, (startDim ?? 0) as number, (endDim ?? -1) as number));
  }
  /** Removes size-1 dims, or only dim if it has size 1 (torch.Tensor.squeeze). */
  squeeze(dim?: number | DimOptions): Tensor {
    const kw = keywordCall(dim);
    if (kw) return callMethod('squeeze', this, kw) as Tensor;
    return wrap(native.tensor_squeeze(this._h, dim as number | undefined));
  }
  /** Inserts a size-1 dim at dim (torch.Tensor.unsqueeze). */
  unsqueeze(dim: number | DimOptions): Tensor {
    const kw = keywordCall(dim);
    if (kw) return callMethod('unsqueeze', this, kw) as Tensor;
    return wrap(native.tensor_unsqueeze(this._h, dim as number));
  }
  /** A view with the dims reordered (torch.Tensor.permute). */
  permute(...dims: (number | number[])[]): Tensor {
    return wrap(native.tensor_permute(this._h, sizesArg(dims, 'permute', 'dims')));
  }
  /** A view with dims dim0 and dim1 swapped (torch.Tensor.transpose). */
  transpose(dim0: number | { dim0?: number; dim1?: number }, dim1?: number | { dim1?: number }): Tensor {
    const kw = keywordCall(dim0, dim1);
    if (kw) return callMethod('transpose', this, kw) as Tensor;
    return wrap(native.tensor_transpose(this._h, dim0 as number, dim1 as number));
  }
  /** 2-D transpose */
  t(): Tensor { return wrap(native.tensor_t(this._h)); }
  /** A copy with the order of elements reversed along the given dims (torch.Tensor.flip). */
  flip(...dims: (number | number[])[]): Tensor { return wrap(native.tensor_flip(this._h, sizesArg(dims, 'flip', 'dims'))); }
  /** The lower triangle of the last two dims (on and below diagonal), the rest zeroed (torch.Tensor.tril). */
  tril(diagonal = 0): Tensor { return wrap(native.tensor_tril(this._h, diagonal)); }
  /** The upper triangle of the last two dims (on and above diagonal), the rest zeroed (torch.Tensor.triu). */
  triu(diagonal = 0): Tensor { return wrap(native.tensor_triu(this._h, diagonal)); }
  /** Views of pieces of splitSize along dim (the last may be smaller), or of the listed sizes (torch.Tensor.split). */
  split(splitSize: number | number[], dim?: number | DimOptions): Tensor[] {
    const kw = keywordCall(splitSize, dim);
    if (kw) {
      return callMethod(Array.isArray(splitSize) ? 'split_with_sizes' : 'split', this, kw) as Tensor[];
    }
    return wrapList(native.tensor_split(this._h, splitSize, (dim ?? 0) as number));
  }
  /** Up to chunks views of equal size along dim (the last may be smaller) (torch.Tensor.chunk). */
  chunk(chunks: number, dim?: number | DimOptions): Tensor[] {
    const kw = keywordCall(chunks, dim);
    if (kw) return callMethod('chunk', this, kw) as Tensor[];
    return wrapList(native.tensor_chunk(this._h, chunks, (dim ?? 0) as number));
  }
  /** t.index(i, j) is PyTorch's t[i, j]: selects along the leading dims (negative counts from the end). */
  index(...indices: number[]): Tensor {
    if (indices.length === 0) throw new TypeError('index: expected at least one index');
    let h = this._h;
    try {
      for (let k = 0; k < indices.length; k++) {
        const next = native.tensor_select(h, 0, checkInt(indices[k], 'index', `index ${k}`));
        if (h !== this._h) native.tensor_dispose(h);
        h = next;
      }
    } catch (e) {
      if (h !== this._h) native.tensor_dispose(h); // the intermediate of a failed multi-index
      throw e;
    }
    return wrap(h);
  }
  /** Python's t[start:end:step] along dim. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return wrap(native.tensor_slice(this._h, dim, start, end, step));
  }
  /** A view of length elements along dim starting at start (torch.Tensor.narrow). */
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native.tensor_narrow(this._h, dim, start, length));
  }
  /** A view of the slice at index along dim, with that dim removed (torch.Tensor.select). */
  select(dim: number, index: number): Tensor { return wrap(native.tensor_select(this._h, dim, index)); }
  /** Values picked along dim by the int64 index tensor: out[i][j] = this[index[i][j]][j] for dim 0 (torch.Tensor.gather). */
  gather(dim: number, index: Tensor): Tensor;
  gather(options: { dim: number; index: Tensor; sparseGrad?: boolean }): Tensor;
  gather(dim: number, index: Tensor, options: { sparseGrad?: boolean }): Tensor;
  gather(dim: number | { dim: number; index: Tensor }, index?: Tensor, _options?: { sparseGrad?: boolean }): Tensor {
    const kw = keywordCall(dim, index, _options);
    if (kw) return callMethod('gather', this, kw) as Tensor;
    return wrap(native.tensor_gather(this._h, dim as number, checkTensor(index, 'gather', 'index')._h));
  }
  /** The entries along dim at the positions in the 1-D int64 index tensor (torch.Tensor.index_select). */
  indexSelect(dim: number, index: Tensor): Tensor;
  indexSelect(options: { dim: number; index: Tensor }): Tensor;
  indexSelect(dim: number | { dim: number; index: Tensor }, index?: Tensor): Tensor {
    const kw = keywordCall(dim, index);
    if (kw) return callMethod('index_select', this, kw) as Tensor;
    return wrap(native.tensor_index_select(this._h, dim as number, checkTensor(index, 'indexSelect', 'index')._h));
  }
  /** A copy with value where the bool mask (broadcast) is true (torch.Tensor.masked_fill). */
  maskedFill(mask: Tensor, value: Scalar | Tensor): Tensor {
    checkTensor(mask, 'maskedFill', 'mask');
    if (value instanceof Tensor) return wrap(native.tensor_masked_fill_tensor(this._h, mask._h, value._h));
    if (!isScalar(value)) throw new TypeError(`maskedFill: expected a number or Tensor for value but received ${typeOfValue(value)}`);
    return wrap(native.tensor_masked_fill(this._h, mask._h, value));
  }
  /** PyTorch's x.where(condition, y): x where condition is true, else y. */
  where(condition: Tensor, other: Operand): Tensor {
    checkTensor(condition, 'where', 'condition');
    if (other instanceof Tensor) return wrap(native.where(condition._h, this._h, other._h));
    if (!isScalar(other)) throw new TypeError(`where: expected a Tensor or a number for other but received ${typeOfValue(other)}`);
    return this.withScalar(other, (s) => native.where(condition._h, this._h, s));
  }
  /** Values limited to [min, max] (null or omitted: no bound) (torch.Tensor.clamp). */
  clamp(min?: number | null | { min?: number; max?: number }, max?: number | null): Tensor {
    if (min !== null && typeof min === 'object') return wrap(native.tensor_clamp(this._h, min.min, min.max));
    return wrap(native.tensor_clamp(this._h, min, max));
  }

  // ---- autograd ----
  /** Whether autograd records operations on this tensor (torch.Tensor.requires_grad). */
  get requiresGrad(): boolean {
    return native.tensor_requires_grad(this._h);
  }
  /** Sets whether autograd records operations on this tensor, in place; returns this (torch.Tensor.requires_grad_). */
  requiresGrad_(flag = true): this {
    native.tensor_requires_grad_(this._h, flag);
    return this;
  }
  /** The accumulated gradient, or null. Each read returns a new handle to the same memory. */
  get grad(): Tensor | null {
    const h = native.tensor_grad(this._h);
    return h === null ? null : wrap(h);
  }
  set grad(g: Tensor | null) {
    native.tensor_set_grad(this._h, g === null ? null : checkTensor(g, 'grad', 'grad')._h);
  }
  /** The name of the autograd node that made this tensor, e.g. 'AddBackward0', or null for a leaf (torch.Tensor.grad_fn). */
  get gradFn(): string | null {
    return native.tensor_grad_fn(this._h);
  }
  /** Whether this tensor is a leaf of the autograd graph (made by the user, not by a recorded op) (torch.Tensor.is_leaf). */
  get isLeaf(): boolean {
    return native.tensor_is_leaf(this._h);
  }
  /** Computes the gradients of this tensor and accumulates them into the leaves' .grad (torch.Tensor.backward). */
  backward(gradient?: Tensor | null, opts?: BackwardOptions | null): void {
    const g = gradient == null ? null : checkTensor(gradient, 'backward', 'gradient')._h;
    native.tensor_backward(this._h, g, opts?.retainGraph, opts?.createGraph ?? false);
  }
  /** Zeroes the accumulated gradient in place (if any). */
  zeroGrad_(): this {
    native.tensor_zero_grad_(this._h);
    return this;
  }
  /** Keeps .grad for this non-leaf tensor after backward(); returns this (torch.Tensor.retain_grad). */
  retainGrad(): this {
    native.tensor_retain_grad(this._h);
    return this;
  }
}

function valuesIndices(hs: [Handle, Handle]): ValuesIndices {
  const values = wrap(hs[0]);
  const indices = wrap(hs[1]);
  return {
    values,
    indices,
    *[Symbol.iterator]() {
      yield values;
      yield indices;
    },
  };
}
