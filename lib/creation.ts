// Tensor creation: nt.tensor from scalars, nested arrays, typed arrays and Buffers, and the
// factories (zeros, ones, full, eye, rand, randn, randint, arange, linspace, *Like).
import { describe } from './util/check';
import { native, Handle } from './native';
import { arrayKind, DType, DTYPES, dtypeCode, dtypeOfArray, isFloating, parseDtype } from './dtype';
import { checkShape, checkTensor, deviceString, DeviceLike, NestedArray, Scalar, Tensor, wrap } from './tensor';

/** dtype, device and requiresGrad of a new tensor. */
export interface CreateOptions { dtype?: DType; device?: DeviceLike; requiresGrad?: boolean }
/** CreateOptions plus the shape to read flat data as. */
export interface TensorOptions extends CreateOptions { shape?: number[] }
/** What nt.tensor accepts: nested arrays, typed arrays, ArrayBuffers or a Tensor (copied). */
export type TensorData = NestedArray | ArrayBufferView | ArrayBuffer | Tensor;

// Small inputs are always copied (cheaper than keeping a reference); large ones are borrowed only
// over a SharedArrayBuffer (native/tensor.cc decides).
const BORROW_BYTES = 64 * 1024;

function opts(o: CreateOptions | undefined, op: string): [number, string | null, boolean] {
  if (o !== undefined && (o === null || typeof o !== 'object' || Array.isArray(o))) {
    throw new TypeError(`${op}: expected an options object { dtype, device, requiresGrad } after the shape but received ` +
      `${describe(o)}${typeof o === 'number' ? ` (give the shape as one array: ${op}([2, 3]))` : ''}`);
  }
  return [dtypeCode(o?.dtype, op), o?.device === undefined ? null : deviceString(o.device, op), !!o?.requiresGrad];
}

/** Applies dtype/device/requiresGrad to a fresh handle, freeing intermediates. */
function finish(h: Handle, natural: DType, o: CreateOptions | undefined, op: string): Tensor {
  try {
    const [dt, dev, rg] = opts(o, op);
    if ((dt !== -1 && DTYPES[dt] !== natural) || dev !== null) {
      const next = native.tensor_to(h, dt, dev, false);
      native.tensor_dispose(h);
      h = next;
    }
    if (rg) native.tensor_requires_grad_(h, true);
  } catch (e) {
    native.tensor_dispose(h); // bad options must not leak the tensor made so far
    throw e;
  }
  return wrap(h);
}

function inferShape(data: NestedArray[]): number[] {
  const shape: number[] = [data.length];
  let cur: unknown = data[0];
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

type Kind = 'number' | 'boolean' | 'bigint';

function flatten(data: NestedArray[], shape: number[], op: string): { values: Scalar[]; kind: Kind } {
  const values: Scalar[] = [];
  let kind: Kind | null = null;
  const visit = (v: unknown, d: number, path: string): void => {
    if (d < shape.length) {
      if (!Array.isArray(v) || v.length !== shape[d]) {
        throw new TypeError(`${op}: nested array is not rectangular: expected ${Array.isArray(v) ? `${shape[d]} elements` : 'an array'} ` +
          `at ${path || 'the top level'} but found ${Array.isArray(v) ? `${v.length} elements` : typeof v}`);
      }
      for (let i = 0; i < v.length; i++) visit(v[i], d + 1, `${path}[${i}]`);
      return;
    }
    const t = typeof v;
    if (t !== 'number' && t !== 'boolean' && t !== 'bigint') {
      throw new TypeError(`${op}: expected numbers, booleans or bigints in the nested array but found ` +
        `${Array.isArray(v) ? 'an array (not rectangular)' : t === 'string' ? `string '${v}'` : String(v)} at ${path}`);
    }
    if (kind === null) kind = t as Kind;
    else if (kind !== t && !(kind === 'number' && t === 'boolean')) {
      throw new TypeError(`${op}: mixed ${kind} and ${t} values in the nested array (at ${path})`);
    }
    values.push(v as Scalar);
  };
  visit(data, 0, '');
  return { values, kind: kind ?? 'number' };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function toInt64(v: Scalar, op: string): bigint {
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`${op}: ${v}n is outside the int64 range`);
    return v;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`${op}: cannot store ${n} in an int64 tensor`);
  return BigInt(Math.trunc(n));
}

function fromValues(values: Scalar[], shape: number[], dtype: DType, op: string): Handle {
  let arr: ArrayBufferView;
  let natural: DType = dtype;
  switch (dtype) {
    case 'float64': arr = Float64Array.from(values, Number); break;
    case 'int8': arr = Int8Array.from(values, Number); break;
    case 'uint8': arr = Uint8Array.from(values, Number); break;
    case 'int16': arr = Int16Array.from(values, Number); break;
    case 'int32': arr = Int32Array.from(values, Number); break;
    case 'int64': arr = BigInt64Array.from(values, (v) => toInt64(v, op)); break;
    case 'bool': arr = Uint8Array.from(values, (v) => (v ? 1 : 0)); break;
    default: arr = Float32Array.from(values, Number); natural = 'float32';
  }
  const h = native.tensor_from_buffer(arr, shape, DTYPES.indexOf(natural), arr.byteLength < BORROW_BYTES);
  if (natural === dtype) return h;
  const conv = native.tensor_to(h, DTYPES.indexOf(dtype), null, false);
  native.tensor_dispose(h);
  return conv;
}

/**
 * nt.tensor(data, { dtype, device, requiresGrad, shape }). Nested arrays default to float32
 * (bigint values to int64, booleans to bool). A typed array keeps its own dtype; its values are
 * copied (an ArrayBuffer can be transferred away and freed under the tensor), except over a
 * SharedArrayBuffer, which is shared without a copy: later writes to it show in the tensor. A
 * Buffer or ArrayBuffer is read as raw bytes of `dtype` (default uint8).
 */
export function tensor(data: TensorData, options: TensorOptions = {}): Tensor {
  const op = 'tensor';
  if (options === null || typeof options !== 'object') throw new TypeError(`${op}: expected an options object`);
  const wanted = options.dtype === undefined ? undefined : parseDtype(options.dtype, op);
  if (data instanceof Tensor) {
    const c = native.tensor_clone(data._h);
    return finish(c, data.dtype, options, op);
  }
  if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') {
    const natural: DType = typeof data === 'bigint' ? 'int64' : typeof data === 'boolean' ? 'bool' : 'float32';
    const dt = wanted ?? natural;
    const h = native.scalar_tensor(data, DTYPES.indexOf(dt), null, false);
    return finish(h, dt, options, op);
  }
  if (Array.isArray(data)) {
    const shape = data.length === 0 ? [0] : inferShape(data);
    const { values, kind } = flatten(data, shape, op);
    const natural: DType = kind === 'bigint' ? 'int64' : kind === 'boolean' ? 'bool' : 'float32';
    const dt = wanted ?? natural;
    const h = fromValues(values, options.shape ? checkShape(options.shape, op) : shape, dt, op);
    return finish(h, dt, options, op);
  }
  if (Buffer.isBuffer(data) || data instanceof ArrayBuffer) {
    const dt = wanted ?? 'uint8';
    const itemBytes = [4, 8, 2, 2, 1, 1, 2, 4, 8, 1][DTYPES.indexOf(dt)];
    const shape = options.shape ? checkShape(options.shape, op) : [data.byteLength / itemBytes];
    if (!Number.isInteger(shape[0])) {
      throw new RangeError(`${op}: ${data.byteLength} bytes is not a whole number of ${dt} values (${itemBytes} bytes each)`);
    }
    const h = native.tensor_from_buffer(data, shape, DTYPES.indexOf(dt), false);
    return finish(h, dt, options, op);
  }
  if (ArrayBuffer.isView(data)) {
    let arr: ArrayBufferView = data;
    let natural = dtypeOfArray(data);
    if (natural === null) {
      // No uint16/uint32/uint64 dtypes in libtorch 1.13: widen into int32/int64 values.
      const kind = arrayKind(data);
      if (kind === 'Uint16Array') { arr = Int32Array.from(data as Uint16Array); natural = 'int32'; }
      else if (kind === 'Uint32Array') { arr = BigInt64Array.from(data as Uint32Array, (v) => BigInt(v)); natural = 'int64'; }
      else if (kind === 'BigUint64Array') { arr = BigInt64Array.from(data as BigUint64Array, (v) => BigInt.asIntN(64, v)); natural = 'int64'; }
      else throw new TypeError(`${op}: unsupported array view ${kind}`);
    }
    const length = (arr as unknown as { length: number }).length;
    const shape = options.shape ? checkShape(options.shape, op) : [length];
    const h = native.tensor_from_buffer(arr, shape, DTYPES.indexOf(natural), false);
    return finish(h, natural, options, op);
  }
  throw new TypeError(`${op}: expected a number, nested array, typed array, Buffer or Tensor for data but received ` +
    `${data === null ? 'null' : typeof data}`);
}

/** A tensor of zeros of the given shape. */
export function zeros(shape: number[] | number, o?: CreateOptions): Tensor {
  return wrap(native.zeros(checkShape(shape, 'zeros'), ...opts(o, 'zeros')));
}
/** A tensor of ones of the given shape. */
export function ones(shape: number[] | number, o?: CreateOptions): Tensor {
  return wrap(native.ones(checkShape(shape, 'ones'), ...opts(o, 'ones')));
}
/** An uninitialized tensor of the given shape. */
export function empty(shape: number[] | number, o?: CreateOptions): Tensor {
  return wrap(native.empty(checkShape(shape, 'empty'), ...opts(o, 'empty')));
}
/** A tensor of the given shape filled with value. */
export function full(shape: number[] | number, value: Scalar, o?: CreateOptions): Tensor {
  if (typeof value !== 'number' && typeof value !== 'bigint' && typeof value !== 'boolean') {
    throw new TypeError(`full: expected a number for fillValue but received ${typeof value}`);
  }
  return wrap(native.full(checkShape(shape, 'full'), value, ...opts(o, 'full')));
}
/** Uniform random values in [0, 1). */
export function rand(shape: number[] | number, o?: CreateOptions): Tensor {
  return wrap(native.rand(checkShape(shape, 'rand'), ...opts(o, 'rand')));
}
/** Standard normal random values. */
export function randn(shape: number[] | number, o?: CreateOptions): Tensor {
  return wrap(native.randn(checkShape(shape, 'randn'), ...opts(o, 'randn')));
}
/** Integers uniformly in [low, high), int64 unless dtype says otherwise. */
export function randint(low: number, high: number, shape: number[] | number, o?: CreateOptions): Tensor {
  return wrap(native.randint(low, high, checkShape(shape, 'randint'), ...opts(o, 'randint')));
}
/** The n x m (default n x n) identity matrix. */
export function eye(n: number, m?: number | CreateOptions, o?: CreateOptions): Tensor {
  if (typeof m === 'object') return wrap(native.eye(n, n, ...opts(m, 'eye')));
  return wrap(native.eye(n, m ?? n, ...opts(o, 'eye')));
}
/** arange(end) or arange(start, end, step); int64 when every argument is an integer, like PyTorch. */
export function arange(start: number, end?: number | CreateOptions, step: number | CreateOptions = 1,
  o?: CreateOptions): Tensor {
  if (typeof end === 'object') { o = end; end = undefined; }
  if (typeof step === 'object') { o = step; step = 1; }
  if (end === undefined) { end = start; start = 0; }
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`arange: expected a finite number for ${name} but received ${typeof v === 'number' ? v : typeof v}`);
  }
  const allInt = [start, end, step].every(Number.isInteger);
  const [dt, dev, rg] = opts(o, 'arange');
  return wrap(native.arange(start, end, step, dt === -1 ? DTYPES.indexOf(allInt ? 'int64' : 'float32') : dt, dev, rg));
}
/** steps values evenly spaced from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, o?: CreateOptions): Tensor {
  return wrap(native.linspace(start, end, steps, ...opts(o, 'linspace')));
}
/** Zeros of t's shape (and dtype/device unless given). */
export function zerosLike(t: Tensor, o?: CreateOptions): Tensor {
  return wrap(native.zeros_like(checkTensor(t, 'zerosLike', 'input')._h, ...opts(o, 'zerosLike')));
}
/** Ones of t's shape (and dtype/device unless given). */
export function onesLike(t: Tensor, o?: CreateOptions): Tensor {
  return wrap(native.ones_like(checkTensor(t, 'onesLike', 'input')._h, ...opts(o, 'onesLike')));
}
/** Uniform [0, 1) values of t's shape. */
export function randLike(t: Tensor, o?: CreateOptions): Tensor {
  return wrap(native.rand_like(checkTensor(t, 'randLike', 'input')._h, ...opts(o, 'randLike')));
}
/** Standard normal values of t's shape. */
export function randnLike(t: Tensor, o?: CreateOptions): Tensor {
  return wrap(native.randn_like(checkTensor(t, 'randnLike', 'input')._h, ...opts(o, 'randnLike')));
}
/** Seeds libtorch's random number generator (torch.manual_seed). */
export function manualSeed(seed: number | bigint): void {
  native.manual_seed(seed);
}
export { isFloating };
