// NumPy .npz archives (a zip of .npy files) as Keras ships imdb.npz and boston_housing.npz:
// numeric arrays through npyjs, object arrays (lists of ints, pickled by NumPy) through the one
// restricted unpickler (lib/io/unpickler.ts); the archive through the one zip reader (lib/io/zip.ts).
import { parse as parseNpy } from 'npyjs';
import { readZipDirectory, readZipEntry } from '../io/zip';
import { unpickle, PyGlobal, PyTuple } from '../io/unpickler';

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
  const bad = (m: string): Error => new Error(`${op}: ${file} is not a readable .npz (zip) archive (truncated or corrupt: ${m})`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, Uint8Array>();
  for (const e of readZipDirectory(buf, bad).values()) out.set(e.name.replace(/\.npy$/, ''), readZipEntry(buf, e, bad));
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
  const own = new Uint8Array(bytes.byteLength); // a fresh, aligned ArrayBuffer for npyjs' typed-array views
  own.set(bytes);
  const arr = parseNpy(own.buffer);
  return { data: arr.data as NumericArray['data'], shape: h.shape };
}

/** numpy.core.multiarray._reconstruct(...) then BUILD: the array's state tuple (version, shape, dtype, fortran, data). */
class PickledArray {
  state?: unknown[];
}
/** numpy.dtype(descr, ...): its arguments; its BUILD state (byte order etc.) is not needed for ints read below. */
class PickledDtype {
  constructor(readonly args: unknown[]) {}
}
const MULTIARRAY = ['numpy.core.multiarray', 'numpy._core.multiarray'];

/** The globals a NumPy object array's pickle needs, and nothing else. */
function unpickleNumpy(pkl: Buffer, where: string): unknown {
  const bad = (m: string): Error => new Error(`${where} is truncated or corrupt: its pickled object array could not be read (${m})`);
  return unpickle(pkl, {
    what: 'the pickled object array',
    bad,
    refuse: (what) => new Error(`${where}: ${what}; only NumPy object arrays of integer sequences are read (no other Python objects)`),
    call: (fn: PyGlobal, args: PyTuple) => {
      if (MULTIARRAY.includes(fn.module) && fn.name === '_reconstruct') return new PickledArray();
      if (MULTIARRAY.includes(fn.module) && fn.name === 'scalar') {
        const [dtype, raw] = args.items;
        if (!(dtype instanceof PickledDtype) || !(raw instanceof Uint8Array)) throw bad('a malformed numpy scalar');
        return decodeRaw(String(dtype.args[0]), raw)[0];
      }
      if (fn.full === 'numpy.dtype') return new PickledDtype(args.items);
      // protocol 2's bytes (NumPy 1): _codecs.encode(text, 'latin1'), data only
      if (fn.full === '_codecs.encode' && typeof args.items[0] === 'string' && /^latin-?1$/.test(String(args.items[1]))) {
        return Buffer.from(args.items[0], 'latin1');
      }
      throw new Error(`${where}: it needs the Python global '${fn.full}'; only NumPy object arrays of integer sequences are read`);
    },
    build: (obj, state) => {
      if (obj instanceof PickledArray && state instanceof PyTuple) obj.state = state.items;
      else if (!(obj instanceof PickledDtype)) throw bad('it sets the state of something that is not a NumPy array or dtype');
    },
  });
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
  const root = unpickleNumpy(Buffer.from(bytes.buffer, bytes.byteOffset + h.dataOffset, bytes.byteLength - h.dataOffset), where);
  const items = root instanceof PickledArray ? root.state?.[4] : undefined;
  const count = h.shape.reduce((a, b) => a * b, 1);
  if (!Array.isArray(items) || items.length !== count) {
    throw new Error(`${where} is corrupt: expected ${count} pickled sequences but found ` +
      `${Array.isArray(items) ? items.length : 'none'}`);
  }
  return items.map((s: unknown, i: number) => {
    let seq: unknown = s;
    if (seq instanceof PickledArray) {
      const st = seq.state ?? [];
      const dt = st[2];
      seq = st[4] instanceof Uint8Array && dt instanceof PickledDtype ? decodeRaw(String(dt.args[0]), st[4]) : st[4];
    }
    if (!Array.isArray(seq) || !seq.every((v) => typeof v === 'number' && Number.isInteger(v))) {
      throw new Error(`${where} is corrupt: element ${i} is not a sequence of integers`);
    }
    return seq as number[];
  });
}
