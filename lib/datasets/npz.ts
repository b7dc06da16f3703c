// NumPy .npz archives (a zip of .npy files) as Keras ships imdb.npz and boston_housing.npz:
// numeric arrays through npyjs, object arrays (lists of ints, pickled by NumPy) through pickleparser.
import { unzipSync } from 'fflate';
import { parse as parseNpy } from 'npyjs';
import { NameRegistry, Parser } from 'pickleparser';

export interface NpyHeader { descr: string; shape: number[]; dataOffset: number }

/** The .npy header: enough to check byte order and dtype before handing the bytes to npyjs or the unpickler. */
export function npyHeader(bytes: Uint8Array, where: string): NpyHeader {
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== '\x93NUMPY' || bytes.length < 10) throw new Error(`${where} is not a .npy array (bad magic)`);
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [start, len] = major <= 1 ? [10, dv.getUint16(8, true)] : [12, dv.getUint32(8, true)];
  if (start + len > bytes.length) throw new Error(`${where} is truncated: its .npy header runs past the end`);
  const text = Buffer.from(bytes.subarray(start, start + len)).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || shapeText === undefined) throw new Error(`${where} has a malformed .npy header: ${text.trim()}`);
  if (/'fortran_order'\s*:\s*True/.test(text)) throw new Error(`${where} is in Fortran order; expected a C-order array`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { descr, shape, dataOffset: start + len };
}

/** The members of a .npz, by array name (without .npy). */
export function readNpz(bytes: Uint8Array, file: string, op: string): Map<string, Uint8Array> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new Error(`${op}: ${file} is not a readable .npz (zip) archive (truncated or corrupt: ${(e as Error).message})`);
  }
  const out = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(files)) out.set(name.replace(/\.npy$/, ''), data);
  return out;
}

export interface NumericArray { data: Float64Array | Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array; shape: number[] }

const SUPPORTED = ['f8', 'f4', 'i8', 'i4', 'i2', 'i1', 'u1'];

/** A numeric little-endian array, checked to hold exactly the elements its shape says. */
export function numericArray(bytes: Uint8Array, where: string): NumericArray {
  const h = npyHeader(bytes, where);
  const code = h.descr.slice(1);
  if (h.descr[0] === '>' || !SUPPORTED.includes(code)) {
    throw new Error(`${where} has dtype '${h.descr}'; expected a little-endian array of ${SUPPORTED.join(', ')}`);
  }
  const itemBytes = Number(code.slice(1));
  const count = h.shape.reduce((a, b) => a * b, 1);
  const got = bytes.length - h.dataOffset;
  if (got !== count * itemBytes) {
    throw new Error(`${where} is ${got < count * itemBytes ? 'truncated' : 'corrupt'}: shape (${h.shape.join(', ')}) of ` +
      `'${h.descr}' needs ${count * itemBytes} data bytes but it holds ${got}`);
  }
  const own = bytes.slice(); // a fresh, aligned ArrayBuffer for npyjs' typed-array views
  const arr = parseNpy(own.buffer);
  return { data: arr.data as NumericArray['data'], shape: h.shape };
}

interface PickledArray { __setstate__(state: unknown[]): void; state?: unknown[] }

function registry(): NameRegistry {
  const reg = new NameRegistry();
  for (const mod of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
    reg.register(mod, '_reconstruct', () => {
      const a: PickledArray = { __setstate__(state) { a.state = state; } };
      return a;
    });
    reg.register(mod, 'scalar', (dtype: { args?: unknown[] }, raw: Uint8Array) => decodeRaw(String(dtype?.args?.[0]), raw)[0]);
  }
  reg.register('numpy', 'dtype', (...args: unknown[]) => ({ args, __setstate__() { /* byte order etc.: ints are read below */ } }));
  return reg;
}

function decodeRaw(descr: string, raw: Uint8Array): number[] {
  const code = descr.replace(/^[<|=]/, '');
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  if (code === 'i8') for (let i = 0; i + 8 <= raw.length; i += 8) out.push(Number(dv.getBigInt64(i, true)));
  else if (code === 'i4') for (let i = 0; i + 4 <= raw.length; i += 4) out.push(dv.getInt32(i, true));
  else throw new Error(`unsupported element dtype '${descr}'`);
  return out;
}

/** An object array of integer sequences (np.array(list_of_lists, dtype=object)), as number[][]. */
export function sequenceArray(bytes: Uint8Array, where: string): number[][] {
  const h = npyHeader(bytes, where);
  if (h.descr !== '|O') {
    throw new Error(`${where} has dtype '${h.descr}'; expected an object array ('|O') of integer sequences`);
  }
  let root: PickledArray;
  try {
    root = new Parser({ nameResolver: registry() }).parse<PickledArray>(bytes.subarray(h.dataOffset));
  } catch (e) {
    throw new Error(`${where} is truncated or corrupt: its pickled object array could not be read (${(e as Error).message})`);
  }
  const items = root?.state?.[4];
  const count = h.shape.reduce((a, b) => a * b, 1);
  if (!Array.isArray(items) || items.length !== count) {
    throw new Error(`${where} is corrupt: expected ${count} pickled sequences but found ` +
      `${Array.isArray(items) ? items.length : 'none'}`);
  }
  return items.map((s: unknown, i: number) => {
    let seq: unknown = s;
    if (seq && typeof seq === 'object' && 'state' in seq) {
      const st = (seq as PickledArray).state as unknown[];
      const dt = st[2] as { args?: unknown[] };
      seq = st[4] instanceof Uint8Array ? decodeRaw(String(dt?.args?.[0]), st[4]) : st[4];
    }
    if (!Array.isArray(seq) || !seq.every((v) => typeof v === 'number' && Number.isInteger(v))) {
      throw new Error(`${where} is corrupt: element ${i} is not a sequence of integers`);
    }
    return seq as number[];
  });
}
