// dtype names, their native codes and the typed arrays that hold their values.
/** A tensor's element type, by PyTorch's name. */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int16' | 'int32' | 'int64' | 'bool';

/** Order matches the native dtype codes (native/errors.cc). */
export const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int16', 'int32',
  'int64', 'bool'];

const ALIASES: Record<string, DType> = {
  float: 'float32', double: 'float64', half: 'float16', long: 'int64', int: 'int32', short: 'int16', char: 'int8',
  byte: 'uint8', boolean: 'bool',
};

/** The JS typed arrays tensor data is read into. */
export type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array |
  BigInt64Array;

export function isDtypeName(s: string): boolean {
  return (DTYPES as readonly string[]).includes(s) || s in ALIASES;
}

export function parseDtype(d: unknown, where: string): DType {
  if (typeof d === 'string') {
    if ((DTYPES as readonly string[]).includes(d)) return d as DType;
    if (d in ALIASES) return ALIASES[d];
  }
  throw new TypeError(`${where}: unknown dtype ${typeof d === 'string' ? `'${d}'` : String(d)}: expected one of ` +
    DTYPES.join(', '));
}

export function dtypeCode(d: DType | undefined, where: string): number {
  return d === undefined ? -1 : DTYPES.indexOf(parseDtype(d, where));
}

/** Whether d is a floating-point dtype. */
export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** The typed array that dataSync() returns for a dtype. */
export function viewAs(d: DType, buf: ArrayBuffer): TypedArray {
  switch (d) {
    case 'float64': return new Float64Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int64': return new BigInt64Array(buf);
    default: return new Float32Array(buf); // float32, and float16/bfloat16 widened natively
  }
}

/** The dtype a typed array's values naturally have. */
/** A typed array's kind by its tag, so arrays from another realm (a vm context, a worker's message in jest) count too. */
export function arrayKind(a: ArrayBufferView): string {
  return Object.prototype.toString.call(a).slice(8, -1);
}

const ARRAY_DTYPES: Record<string, DType> = {
  Float32Array: 'float32', Float64Array: 'float64', Int8Array: 'int8', Uint8Array: 'uint8', Uint8ClampedArray: 'uint8',
  Int16Array: 'int16', Int32Array: 'int32', BigInt64Array: 'int64',
};

export function dtypeOfArray(a: ArrayBufferView): DType | null {
  return ARRAY_DTYPES[arrayKind(a)] ?? null;
}
