// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON
// header { name: { dtype, shape, data_offsets } , __metadata__? }, then the raw little-endian,
// row-major bytes. Written atomically; reading validates the header before trusting any offset.
import * as fs from 'fs';
import * as os from 'os';
import { Tensor, typeOfValue } from '../tensor';
import * as creation from '../creation';
import { DType } from '../dtype';
import { writeFileAtomicSync } from './atomic';
import { borrowableBuffer, checkBudget, maxBytesFor, MaxBytesOptions, openRegularSync, setOwn } from './files';

/** safetensors dtype names <-> nodetorch dtypes, with the size of one element. */
const FORMAT: Record<string, { dtype: DType; size: number }> = {
  F64: { dtype: 'float64', size: 8 }, F32: { dtype: 'float32', size: 4 }, F16: { dtype: 'float16', size: 2 },
  BF16: { dtype: 'bfloat16', size: 2 }, I64: { dtype: 'int64', size: 8 }, I32: { dtype: 'int32', size: 4 },
  I16: { dtype: 'int16', size: 2 }, I8: { dtype: 'int8', size: 1 }, U8: { dtype: 'uint8', size: 1 },
  BOOL: { dtype: 'bool', size: 1 },
};
const CODE: Record<DType, string> = Object.fromEntries(Object.entries(FORMAT).map(([k, v]) => [v.dtype, k])) as Record<DType, string>;

/** Headers larger than this are refused (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits, rounding to nearest even. */
function halfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** float32 -> bfloat16 bits, rounding to nearest even. */
function bf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The raw little-endian bytes of a tensor's values, in its own dtype. */
export function tensorBytes(t: Tensor): Uint8Array {
  const d = t.dataSync();
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const conv = t.dtype === 'float16' ? halfBits : bf16Bits;
    const out = new Uint16Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = conv(d[i] as number);
    return new Uint8Array(out.buffer);
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function checkHost(where: string): void {
  if (os.endianness() !== 'LE') throw new Error(`${where}: safetensors files are little-endian; big-endian hosts are not supported`);
}

/** Writes tensors (and optional string metadata) to a .safetensors file, atomically. */
export function saveSafetensors(file: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  if (typeof file !== 'string' || !file) throw new TypeError(`saveSafetensors: expected a file path but received ${typeOfValue(file)}`);
  writeFileAtomicSync(file, encodeSafetensors(tensors, metadata));
}

/** A .safetensors file's bytes (as chunks), for writing into another container (a .keras zip). */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Buffer[] {
  const where = 'saveSafetensors';
  checkHost(where);
  if (tensors === null || typeof tensors !== 'object' || Array.isArray(tensors)) {
    throw new TypeError(`${where}: expected an object of named tensors but received ${typeOfValue(tensors)}`);
  }
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || !Object.values(metadata).every((v) => typeof v === 'string')) {
      throw new TypeError(`${where}: expected metadata to be an object of strings`);
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new TypeError(`${where}: '__metadata__' is reserved and cannot name a tensor`);
    if (!(t instanceof Tensor)) throw new TypeError(`${where}: expected '${name}' to be a Tensor but received ${typeOfValue(t)}`);
    const bytes = tensorBytes(t);
    header[name] = { dtype: CODE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad with spaces (allowed by the format) so the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.byteLength));
  return [len, head, ...chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))];
}

interface Entry { name: string; format: { dtype: DType; size: number }; shape: number[]; begin: number; end: number }

function readExactly(fd: number, buf: Buffer, position: number): number {
  let got = 0;
  while (got < buf.byteLength) {
    const n = fs.readSync(fd, buf, got, buf.byteLength - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Reads a .safetensors file; throws, naming the file, on anything malformed. */
export function loadSafetensors(file: string, opts: MaxBytesOptions = {}): Record<string, Tensor> {
  return readSafetensors(file, opts).tensors;
}

/** The tensors and the __metadata__ of a .safetensors file. */
export function readSafetensors(file: string, opts: MaxBytesOptions = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  checkHost('loadSafetensors');
  if (typeof file !== 'string' || !file) throw new TypeError(`loadSafetensors: expected a file path but received ${typeOfValue(file)}`);
  const bad = (msg: string) => new Error(`loadSafetensors: ${file}: ${msg}`);
  const { fd, size } = openRegularSync(file, 'loadSafetensors', ', not a safetensors file');
  try {
    const budget = maxBytesFor(opts, size, 'loadSafetensors');
    if (size < 8) throw bad(`the file has ${size} bytes; a safetensors file starts with an 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readExactly(fd, lenBuf, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
    const headerLen = Number(n);
    if (8 + headerLen > size) throw bad(`header length ${headerLen} runs past the end of the file (${size} bytes)`);
    const headBuf = Buffer.alloc(headerLen);
    readExactly(fd, headBuf, 8);
    let header: unknown;
    try {
      header = JSON.parse(headBuf.toString('utf8'));
    } catch (e) {
      throw bad(`the header is not valid JSON (${(e as Error).message})`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('the header is not a JSON object');
    const dataStart = 8 + headerLen;
    const dataLen = size - dataStart;
    const metadata: Record<string, string> = {};
    const entries: Entry[] = [];
    for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((s) => typeof s === 'string')) {
          throw bad('__metadata__ must be an object of strings');
        }
        for (const [k, x] of Object.entries(v)) setOwn(metadata, k, x as string);
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (e === null || typeof e !== 'object') throw bad(`tensor '${name}' is not an object with dtype, shape and data_offsets`);
      if (typeof e.dtype !== 'string' || !(e.dtype in FORMAT)) {
        throw bad(`tensor '${name}' has unknown or unsupported dtype ${JSON.stringify(e.dtype)}; supported: ${Object.keys(FORMAT).join(', ')}`);
      }
      const format = FORMAT[e.dtype];
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw bad(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
      }
      const shape = e.shape as number[];
      if (shape.length > 64) throw bad(`tensor '${name}' has ${shape.length} dimensions; at most 64 are supported`);
      const o = e.data_offsets;
      if (!Array.isArray(o) || o.length !== 2 || !o.every((d) => Number.isSafeInteger(d) && d >= 0) || o[1] < o[0]) {
        throw bad(`tensor '${name}' has invalid data_offsets ${JSON.stringify(o)}; expected [begin, end] with 0 <= begin <= end`);
      }
      const [begin, end] = o as [number, number];
      if (end > dataLen) {
        throw bad(`tensor '${name}' ends at data byte ${end} but the file holds only ${dataLen} bytes of data (truncated or corrupt)`);
      }
      const bytes = shape.reduce((a, b) => a * b, 1) * format.size;
      if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
        throw bad(`tensor '${name}' of shape [${shape.join(', ')}] and dtype ${e.dtype} needs ${bytes} bytes but its data_offsets ` +
          `[${begin}, ${end}] span ${end - begin}`);
      }
      entries.push({ name, format, shape, begin, end });
    }
    const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
    let at = 0;
    for (const e of sorted) {
      if (e.begin < at) throw bad(`tensor '${e.name}' (data bytes ${e.begin}..${e.end}) overlaps another tensor`);
      if (e.begin > at) throw bad(`data bytes ${at}..${e.begin} belong to no tensor (the data must be fully indexed)`);
      at = e.end;
    }
    if (at !== dataLen) throw bad(`${dataLen - at} bytes after the last tensor belong to no tensor`);
    checkBudget(dataLen, budget, 'its tensors', 'loadSafetensors', file);
    const tensors: Record<string, Tensor> = {};
    for (const e of entries) {
      // A buffer per tensor: aligned, owned by that tensor alone and borrowed by it without a copy.
      const buf = borrowableBuffer(e.end - e.begin);
      if (readExactly(fd, buf, dataStart + e.begin) !== buf.byteLength) throw bad(`the file ended while reading tensor '${e.name}'`);
      // 0-d tensors go through [1]: nt.tensor wants a non-empty shape with raw bytes.
      const shape = e.shape.length ? e.shape : [1];
      let t = creation.tensor(buf, { shape, dtype: e.format.dtype === 'bool' ? 'uint8' : e.format.dtype });
      if (e.format.dtype === 'bool') {
        const b = t.ne(0);
        t.dispose();
        t = b;
      }
      if (!e.shape.length) {
        const s = t.reshape([]);
        t.dispose();
        t = s;
      }
      setOwn(tensors, e.name, t);
    }
    return { tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}
