// The Tensor class: a thin handle over a native libtorch tensor. Every op is one native
// call; results are wrapped with wrap(), which hands them to tidy() scopes or the finalizer.
import { native, Handle } from './native';
import { DType, DTYPES, dtypeCode, isDtypeName, parseDtype, TypedArray, viewAs } from './dtype';
import { TensorHandle, track } from './memory';
import { formatTensor } from './format';
import { callMethod } from './aten/call';

export type Scalar = number | bigint | boolean;
export type Operand = Tensor | Scalar;
export type DeviceLike = string | { toString(): string };
export interface ToOptions { dtype?: DType; device?: DeviceLike; copy?: boolean }
export interface ReduceOptions { dim?: number | number[]; keepdim?: boolean; dtype?: DType }
export interface BackwardOptions { retainGraph?: boolean; createGraph?: boolean }
/** max/min along a dim: { values, indices }, which also destructures as [values, indices] like PyTorch. */
export interface ValuesIndices extends Iterable<Tensor> { values: Tensor; indices: Tensor }
/** var/std keyword arguments (PyTorch's unbiased or correction). */
export interface VarOptions { dim?: number | number[] | null; unbiased?: boolean; correction?: number; keepdim?: boolean }
export interface FlattenOptions { startDim?: number; endDim?: number }
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

export class Tensor extends TensorHandle {
  private meta(): [number, string, ...number[]] {
    return (this._meta ??= native.tensor_meta(this._h));
  }

  // ---- metadata ----
  get shape(): readonly number[] {
    return (this._shape ??= Object.freeze(this.meta().slice(2) as number[]));
  }
  get dtype(): DType {
    return DTYPES[this.meta()[0]];
  }
  get device(): string {
    return this.meta()[1];
  }
  get ndim(): number {
    return this.meta().length - 2;
  }
  get numel(): number {
    let n = 1;
    for (const s of this.shape) n *= s;
    return n;
  }
  size(dim?: number): number | readonly number[] {
    if (dim === undefined) return this.shape;
    const n = this.ndim;
    const d = checkInt(dim, 'size', 'dim');
    if (d < -n || d >= n) throw new RangeError(`size: dim ${d} is out of range for shape [${this.shape.join(', ')}]`);
    return this.shape[d < 0 ? d + n : d];
  }
  get isContiguous(): boolean {
    return native.tensor_is_contiguous(this._h);
  }

  // ---- data ----
  /** A typed-array copy of the values (float16/bfloat16 as Float32Array, bool as Uint8Array, int64 as BigInt64Array). */
  dataSync(): TypedArray {
    return viewAs(this.dtype, native.tensor_data(this._h));
  }
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
  toString(): string {
    return formatTensor(this);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.isDisposed ? 'Tensor(disposed)' : this.toString();
  }

  // ---- conversion ----
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
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(index = 0): Tensor {
    return this.to(`cuda:${checkInt(index, 'cuda', 'index')}`);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  clone(): Tensor {
    return wrap(native.tensor_clone(this._h));
  }
  detach(): Tensor {
    return wrap(native.tensor_detach(this._h));
  }
  contiguous(): Tensor {
    return wrap(native.tensor_contiguous(this._h));
  }

  // ---- elementwise ----
  neg(): Tensor { return wrap(native.tensor_neg(this._h)); }
  abs(): Tensor { return wrap(native.tensor_abs(this._h)); }
  exp(): Tensor { return wrap(native.tensor_exp(this._h)); }
  log(): Tensor { return wrap(native.tensor_log(this._h)); }
  log1p(): Tensor { return wrap(native.tensor_log1p(this._h)); }
  expm1(): Tensor { return wrap(native.tensor_expm1(this._h)); }
  sqrt(): Tensor { return wrap(native.tensor_sqrt(this._h)); }
  rsqrt(): Tensor { return wrap(native.tensor_rsqrt(this._h)); }
  reciprocal(): Tensor { return wrap(native.tensor_reciprocal(this._h)); }
  square(): Tensor { return wrap(native.tensor_square(this._h)); }
  sin(): Tensor { return wrap(native.tensor_sin(this._h)); }
  cos(): Tensor { return wrap(native.tensor_cos(this._h)); }
  floor(): Tensor { return wrap(native.tensor_floor(this._h)); }
  ceil(): Tensor { return wrap(native.tensor_ceil(this._h)); }
  round(): Tensor { return wrap(native.tensor_round(this._h)); }
  sign(): Tensor { return wrap(native.tensor_sign(this._h)); }
  erf(): Tensor { return wrap(native.tensor_erf(this._h)); }
  relu(): Tensor { return wrap(native.tensor_relu(this._h)); }
  sigmoid(): Tensor { return wrap(native.tensor_sigmoid(this._h)); }
  tanh(): Tensor { return wrap(native.tensor_tanh(this._h)); }
  gelu(): Tensor { return wrap(native.tensor_gelu(this._h)); }
  silu(): Tensor { return wrap(native.tensor_silu(this._h)); }
  logicalNot(): Tensor { return wrap(native.tensor_logical_not(this._h)); }
  isnan(): Tensor { return wrap(native.tensor_isnan(this._h)); }
  all(): Tensor { return wrap(native.tensor_all(this._h)); }
  any(): Tensor { return wrap(native.tensor_any(this._h)); }

  add(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_add_scalar(this._h, other))
      : this.binary(other, 'add', native.tensor_add, native.tensor_add_scalar);
  }
  sub(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_sub_scalar(this._h, other))
      : this.binary(other, 'sub', native.tensor_sub, native.tensor_sub_scalar);
  }
  mul(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_mul_scalar(this._h, other))
      : this.binary(other, 'mul', native.tensor_mul, native.tensor_mul_scalar);
  }
  div(other: Operand): Tensor {
    return typeof other === 'number' ? wrap(native.tensor_div_scalar(this._h, other))
      : this.binary(other, 'div', native.tensor_div, native.tensor_div_scalar);
  }
  pow(exponent: Operand): Tensor { return this.binary(exponent, 'pow', native.tensor_pow, native.tensor_pow_scalar); }
  remainder(other: Operand): Tensor {
    return this.binary(other, 'remainder', native.tensor_remainder, native.tensor_remainder_scalar);
  }
  eq(other: Operand): Tensor { return this.binary(other, 'eq', native.tensor_eq, native.tensor_eq_scalar); }
  ne(other: Operand): Tensor { return this.binary(other, 'ne', native.tensor_ne, native.tensor_ne_scalar); }
  lt(other: Operand): Tensor { return this.binary(other, 'lt', native.tensor_lt, native.tensor_lt_scalar); }
  le(other: Operand): Tensor { return this.binary(other, 'le', native.tensor_le, native.tensor_le_scalar); }
  gt(other: Operand): Tensor { return this.binary(other, 'gt', native.tensor_gt, native.tensor_gt_scalar); }
  ge(other: Operand): Tensor { return this.binary(other, 'ge', native.tensor_ge, native.tensor_ge_scalar); }
  maximum(other: Operand): Tensor { return this.binary(other, 'maximum', native.tensor_maximum); }
  minimum(other: Operand): Tensor { return this.binary(other, 'minimum', native.tensor_minimum); }
  atan2(other: Operand): Tensor { return this.binary(other, 'atan2', native.tensor_atan2); }
  logicalAnd(other: Operand): Tensor { return this.binary(other, 'logicalAnd', native.tensor_logical_and); }
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

  matmul(other: Tensor): Tensor { return wrap(native.tensor_matmul(this._h, checkTensor(other, 'matmul', 'other')._h)); }
  mm(other: Tensor): Tensor { return wrap(native.tensor_mm(this._h, checkTensor(other, 'mm', 'other')._h)); }
  bmm(other: Tensor): Tensor { return wrap(native.tensor_bmm(this._h, checkTensor(other, 'bmm', 'other')._h)); }
  dot(other: Tensor): Tensor { return wrap(native.tensor_dot(this._h, checkTensor(other, 'dot', 'other')._h)); }

  // ---- in-place (return this) ----
  add_(other: Operand): this { return this.inplace(other, 'add_', native.tensor_add_, native.tensor_add_scalar_); }
  sub_(other: Operand): this { return this.inplace(other, 'sub_', native.tensor_sub_, native.tensor_sub_scalar_); }
  mul_(other: Operand): this { return this.inplace(other, 'mul_', native.tensor_mul_, native.tensor_mul_scalar_); }
  div_(other: Operand): this { return this.inplace(other, 'div_', native.tensor_div_, native.tensor_div_scalar_); }
  zero_(): this { native.tensor_zero_(this._h); return this; }
  fill_(value: Scalar): this {
    if (!isScalar(value)) throw new TypeError(`fill_: expected a number for value but received ${typeOfValue(value)}`);
    native.tensor_fill_(this._h, value);
    return this;
  }
  copy_(src: Tensor): this { native.tensor_copy_(this._h, checkTensor(src, 'copy_', 'src')._h); return this; }
  clamp_(min?: number | null, max?: number | null): this { native.tensor_clamp_(this._h, min, max); return this; }

  private inplace(other: Operand, op: string, tt: (a: Handle, b: Handle) => void, ts: (a: Handle, s: Scalar) => void): this {
    if (other instanceof Tensor) tt(this._h, other._h);
    else if (isScalar(other)) ts(this._h, other);
    else throw new TypeError(`${op}: expected a Tensor or a number for other but received ${typeOfValue(other)}`);
    return this;
  }

  // ---- reductions ----
  sum(dim?: number | number[] | null | ReduceOptions, keepdim?: boolean | ReduceOptions): Tensor {
    if (isOptions(keepdim)) return callMethod('sum', this, [dim, keepdim]) as Tensor;
    const [d, k, dt] = reduceArgs('sum', dim, keepdim as boolean | undefined);
    return wrap(native.tensor_sum(this._h, d, k, dt));
  }
  mean(dim?: number | number[] | null | ReduceOptions, keepdim?: boolean | ReduceOptions): Tensor {
    if (isOptions(keepdim)) return callMethod('mean', this, [dim, keepdim]) as Tensor;
    const [d, k, dt] = reduceArgs('mean', dim, keepdim as boolean | undefined);
    return wrap(native.tensor_mean(this._h, d, k, dt));
  }
  prod(dim?: number | DimOptions, keepdim?: boolean | DimOptions, dtype?: DType): Tensor {
    const kw = keywordCall(dim, keepdim, dtype);
    if (kw || dtype !== undefined) return callMethod('prod', this, kw ?? [dim, keepdim, dtype]) as Tensor;
    return wrap(native.tensor_prod(this._h, dim as number | undefined, (keepdim as boolean | undefined) ?? false));
  }
  var(dim?: number | number[] | null | VarOptions, unbiased?: boolean | VarOptions, keepdim?: boolean | VarOptions): Tensor {
    const kw = keywordCall(dim, unbiased, keepdim);
    if (kw) return callMethod('var', this, kw) as Tensor;
    return wrap(native.tensor_var(this._h, dim as number | number[] | null | undefined, (unbiased ?? true) as boolean,
      (keepdim ?? false) as boolean));
  }
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
  argmax(dim?: number | null | DimOptions, keepdim?: boolean | DimOptions): Tensor {
    const kw = keywordCall(dim, keepdim);
    if (kw) return callMethod('argmax', this, kw) as Tensor;
    return wrap(native.tensor_argmax(this._h, dim as number | undefined, (keepdim ?? false) as boolean));
  }
  argmin(dim?: number | null | DimOptions, keepdim?: boolean | DimOptions): Tensor {
    const kw = keywordCall(dim, keepdim);
    if (kw) return callMethod('argmin', this, kw) as Tensor;
    return wrap(native.tensor_argmin(this._h, dim as number | undefined, (keepdim ?? false) as boolean));
  }
  softmax(dim: number | DimOptions, dtype?: DType | DimOptions): Tensor {
    const kw = keywordCall(dim, dtype);
    if (kw) return callMethod('softmax', this, kw) as Tensor;
    return wrap(native.tensor_softmax(this._h, checkInt(dim, 'softmax', 'dim'), dtypeCode(dtype as DType | undefined, 'softmax')));
  }
  logSoftmax(dim: number | DimOptions, dtype?: DType | DimOptions): Tensor {
    const kw = keywordCall(dim, dtype);
    if (kw) return callMethod('log_softmax', this, kw) as Tensor;
    return wrap(native.tensor_log_softmax(this._h, checkInt(dim, 'logSoftmax', 'dim'),
      dtypeCode(dtype as DType | undefined, 'logSoftmax')));
  }

  // ---- shape ----
  reshape(...shape: (number | number[])[]): Tensor {
    return wrap(native.tensor_reshape(this._h, sizesArg(shape, 'reshape', 'shape')));
  }
  view(...shape: (number | number[])[]): Tensor {
    return wrap(native.tensor_view(this._h, sizesArg(shape, 'view', 'shape')));
  }
  expand(...shape: (number | number[])[]): Tensor {
    return wrap(native.tensor_expand(this._h, sizesArg(shape, 'expand', 'shape')));
  }
  repeat(...repeats: (number | number[])[]): Tensor {
    return wrap(native.tensor_repeat(this._h, sizesArg(repeats, 'repeat', 'repeats')));
  }
  flatten(startDim?: number | FlattenOptions, endDim?: number | FlattenOptions): Tensor {
    const kw = keywordCall(startDim, endDim);
    if (kw) return callMethod('flatten', this, kw) as Tensor;
    return wrap(native.tensor_flatten(this._h, (startDim ?? 0) as number, (endDim ?? -1) as number));
  }
  squeeze(dim?: number | DimOptions): Tensor {
    const kw = keywordCall(dim);
    if (kw) return callMethod('squeeze', this, kw) as Tensor;
    return wrap(native.tensor_squeeze(this._h, dim as number | undefined));
  }
  unsqueeze(dim: number | DimOptions): Tensor {
    const kw = keywordCall(dim);
    if (kw) return callMethod('unsqueeze', this, kw) as Tensor;
    return wrap(native.tensor_unsqueeze(this._h, dim as number));
  }
  permute(...dims: (number | number[])[]): Tensor {
    return wrap(native.tensor_permute(this._h, sizesArg(dims, 'permute', 'dims')));
  }
  transpose(dim0: number | { dim0?: number; dim1?: number }, dim1?: number | { dim1?: number }): Tensor {
    const kw = keywordCall(dim0, dim1);
    if (kw) return callMethod('transpose', this, kw) as Tensor;
    return wrap(native.tensor_transpose(this._h, dim0 as number, dim1 as number));
  }
  /** 2-D transpose */
  t(): Tensor { return wrap(native.tensor_t(this._h)); }
  flip(...dims: (number | number[])[]): Tensor { return wrap(native.tensor_flip(this._h, sizesArg(dims, 'flip', 'dims'))); }
  tril(diagonal = 0): Tensor { return wrap(native.tensor_tril(this._h, diagonal)); }
  triu(diagonal = 0): Tensor { return wrap(native.tensor_triu(this._h, diagonal)); }
  split(splitSize: number | number[], dim?: number | DimOptions): Tensor[] {
    const kw = keywordCall(splitSize, dim);
    if (kw) {
      return callMethod(Array.isArray(splitSize) ? 'split_with_sizes' : 'split', this, kw) as Tensor[];
    }
    return wrapList(native.tensor_split(this._h, splitSize, (dim ?? 0) as number));
  }
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
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(native.tensor_narrow(this._h, dim, start, length));
  }
  select(dim: number, index: number): Tensor { return wrap(native.tensor_select(this._h, dim, index)); }
  gather(dim: number, index: Tensor): Tensor;
  gather(options: { dim: number; index: Tensor; sparseGrad?: boolean }): Tensor;
  gather(dim: number, index: Tensor, options: { sparseGrad?: boolean }): Tensor;
  gather(dim: number | { dim: number; index: Tensor }, index?: Tensor, _options?: { sparseGrad?: boolean }): Tensor {
    const kw = keywordCall(dim, index, _options);
    if (kw) return callMethod('gather', this, kw) as Tensor;
    return wrap(native.tensor_gather(this._h, dim as number, checkTensor(index, 'gather', 'index')._h));
  }
  indexSelect(dim: number, index: Tensor): Tensor;
  indexSelect(options: { dim: number; index: Tensor }): Tensor;
  indexSelect(dim: number | { dim: number; index: Tensor }, index?: Tensor): Tensor {
    const kw = keywordCall(dim, index);
    if (kw) return callMethod('index_select', this, kw) as Tensor;
    return wrap(native.tensor_index_select(this._h, dim as number, checkTensor(index, 'indexSelect', 'index')._h));
  }
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
  clamp(min?: number | null | { min?: number; max?: number }, max?: number | null): Tensor {
    if (min !== null && typeof min === 'object') return wrap(native.tensor_clamp(this._h, min.min, min.max));
    return wrap(native.tensor_clamp(this._h, min, max));
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return native.tensor_requires_grad(this._h);
  }
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
  get gradFn(): string | null {
    return native.tensor_grad_fn(this._h);
  }
  get isLeaf(): boolean {
    return native.tensor_is_leaf(this._h);
  }
  backward(gradient?: Tensor | null, opts?: BackwardOptions | null): void {
    const g = gradient == null ? null : checkTensor(gradient, 'backward', 'gradient')._h;
    native.tensor_backward(this._h, g, opts?.retainGraph, opts?.createGraph ?? false);
  }
  /** Zeroes the accumulated gradient in place (if any). */
  zeroGrad_(): this {
    native.tensor_zero_grad_(this._h);
    return this;
  }
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
