// A bounded reader and a stored-only writer for the zip archives torch.save writes (PyTorch's
// zip format: uncompressed entries, 64-byte aligned data, zip64 for big files). Every offset and
// size is checked against the file before use, and every entry's CRC-32 is verified on read.
// The one zip reader of the project: .pt and .keras files in memory, and (checkZipFile) the
// TorchScript archives jit.load checks on disk before libtorch reads them.
import type { FileHandle } from 'fs/promises';
import * as zlib from 'zlib';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localOffset: number;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (zip's), continuing from `prev` (the CRC of the bytes before), with zlib's native one where Node has it. */
export function crc32(data: Uint8Array, prev = 0): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, prev) >>> 0;
  let c = ~prev;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** The bytes the zip reader looks at: a Buffer, or parts of a file (ZipFileView). */
export interface ZipBytes {
  readonly byteLength: number;
  readUInt16LE(at: number): number;
  readUInt32LE(at: number): number;
  readBigUInt64LE(at: number): bigint;
  toString(encoding: 'utf8', start: number, end: number): string;
  subarray(start: number, end: number): Buffer;
}

/** A read past the file's end, or a request too large, in a ZipFileView: the caller's bad(...) reports it. */
class ViewError extends Error {}

/** Thrown by a ZipFileView asked for bytes it has not read yet. */
class NeedBytes {
  constructor(readonly at: number, readonly length: number) {}
}

/**
 * Parts of a file read so far, addressed by file offset, so the in-memory reader below runs
 * unchanged on a file too large to read whole: a read outside them asks for those bytes
 * (NeedBytes) and the caller fetches them and runs the reader again.
 */
class ZipFileView implements ZipBytes {
  private readonly parts: { at: number; buf: Buffer }[] = [];
  constructor(readonly byteLength: number) {}
  add(at: number, buf: Buffer): void {
    this.parts.push({ at, buf });
  }
  private find(at: number, length: number): { buf: Buffer; off: number } {
    if (at < 0 || at + length > this.byteLength) throw new ViewError(`a zip structure at offset ${at} (${length} bytes) lies outside the file (${this.byteLength} bytes)`);
    for (const p of this.parts) {
      if (at >= p.at && at + length <= p.at + p.buf.byteLength) return { buf: p.buf, off: at - p.at };
    }
    throw new NeedBytes(at, length);
  }
  readUInt16LE(at: number): number { const { buf, off } = this.find(at, 2); return buf.readUInt16LE(off); }
  readUInt32LE(at: number): number { const { buf, off } = this.find(at, 4); return buf.readUInt32LE(off); }
  readBigUInt64LE(at: number): bigint { const { buf, off } = this.find(at, 8); return buf.readBigUInt64LE(off); }
  toString(encoding: 'utf8', start: number, end: number): string {
    const { buf, off } = this.find(start, end - start);
    return buf.toString(encoding, off, off + end - start);
  }
  subarray(start: number, end: number): Buffer {
    const { buf, off } = this.find(start, end - start);
    return buf.subarray(off, off + end - start);
  }
}

/** Runs fn over the view, reading from fh whatever it asks for (at least 64 KiB at a time) until it completes. */
async function withBytes<T>(fh: FileHandle, view: ZipFileView, fn: () => T, limit: number): Promise<T> {
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof NeedBytes)) throw e;
      const length = Math.min(view.byteLength - e.at, Math.max(e.length, 65536));
      if (length > limit) throw new ViewError(`the zip reader asked for ${length} bytes at once, over ${limit}`);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, e.at);
      if (bytesRead < e.length) throw new ViewError(`the file ended at ${e.at + bytesRead} while reading it (it changed size?)`);
      view.add(e.at, buf.subarray(0, bytesRead));
    }
  }
}

/**
 * Checks a zip archive on disk without reading it whole: the directory (readZipDirectory's
 * checks) and every entry (readZipEntry's: bounds, sizes, CRC-32, streamed for stored entries).
 * Throws bad(...) on the first fault; returns the entries.
 */
export async function checkZipFile(fh: FileHandle, size: number, bad: (m: string) => Error): Promise<Map<string, ZipEntry>> {
  const view = new ZipFileView(size);
  const asBad = (e: unknown): never => {
    if (e instanceof ViewError) throw bad(e.message);
    throw e;
  };
  // the end record lies within the last 22 + 65535 bytes
  const tail = Math.min(size, 22 + 65535);
  await withBytes(fh, view, () => view.readUInt32LE(size - tail), 1 << 20).catch(asBad);
  const entries = await withBytes(fh, view, () => readZipDirectory(view, bad), 1 << 30).catch(asBad);
  const chunk = Buffer.alloc(1 << 20);
  for (const e of entries.values()) {
    const lo = e.localOffset;
    if (lo + 30 > size) throw bad(`zip entry '${e.name}' has no local header at ${lo}`);
    await withBytes(fh, view, () => view.readUInt32LE(lo) + view.readUInt16LE(lo + 28), 1 << 20).catch(asBad);
    const start = lo + 30 + view.readUInt16LE(lo + 26) + view.readUInt16LE(lo + 28);
    if (e.method !== 0) {
      // compressed (rare in PyTorch's archives): inflated in memory by the one entry reader
      if (start + e.compressedSize <= size) await withBytes(fh, view, () => view.subarray(lo, start + e.compressedSize), 1 << 30).catch(asBad);
      readZipEntry(view, e, bad);
      continue;
    }
    if (view.readUInt32LE(lo) !== 0x04034b50) throw bad(`zip entry '${e.name}' has no local header at ${lo}`);
    if (start + e.compressedSize > size) {
      throw bad(`zip entry '${e.name}' (${e.compressedSize} bytes at ${start}) runs past the end of the file (${size} bytes): truncated`);
    }
    if (e.size !== e.compressedSize) throw bad(`stored zip entry '${e.name}' has size ${e.size} but ${e.compressedSize} stored bytes`);
    let crc = 0;
    for (let done = 0; done < e.size;) {
      const n = Math.min(chunk.byteLength, e.size - done);
      const { bytesRead } = await fh.read(chunk, 0, n, start + done);
      if (bytesRead !== n) throw bad(`zip entry '${e.name}' cannot be read to its end (the file changed?)`);
      crc = crc32(chunk.subarray(0, n), crc);
      done += n;
    }
    if (crc !== e.crc) throw bad(`zip entry '${e.name}' fails its CRC-32 check (corrupt file)`);
  }
  return entries;
}

/** One entry of an archive on disk (from checkZipFile's entries), read and checked as readZipEntry does. */
export async function readZipFileEntry(fh: FileHandle, e: ZipEntry, bad: (m: string) => Error): Promise<Buffer> {
  const head = Buffer.alloc(30);
  if ((await fh.read(head, 0, 30, e.localOffset)).bytesRead !== 30) throw bad(`zip entry '${e.name}' has no local header at ${e.localOffset}`);
  const buf = Buffer.alloc(30 + head.readUInt16LE(26) + head.readUInt16LE(28) + e.compressedSize);
  if ((await fh.read(buf, 0, buf.byteLength, e.localOffset)).bytesRead !== buf.byteLength) {
    throw bad(`zip entry '${e.name}' cannot be read to its end (the file changed?)`);
  }
  return readZipEntry(buf, { ...e, localOffset: 0 }, bad);
}

function u64(buf: ZipBytes, at: number, bad: (m: string) => Error): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`a zip64 field holds ${v}, beyond any real file`);
  return Number(v);
}

/** The entries of a zip archive held in buf, by name; throws bad(...) on anything malformed. */
export function readZipDirectory(buf: ZipBytes, bad: (m: string) => Error): Map<string, ZipEntry> {
  const size = buf.byteLength;
  if (size < 22) throw bad(`${size} bytes is too short for a zip archive`);
  let eocd = -1;
  for (let i = size - 22; i >= Math.max(0, size - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('no zip end-of-central-directory record (truncated or not a zip archive)');
  let count = buf.readUInt16LE(eocd + 10);
  let cdSize = buf.readUInt32LE(eocd + 12);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) throw bad('a zip64 archive without its zip64 locator');
    const z = u64(buf, loc + 8, bad);
    if (z + 56 > size || buf.readUInt32LE(z) !== 0x06064b50) throw bad('the zip64 end-of-central-directory record is missing or out of bounds');
    count = u64(buf, z + 32, bad);
    cdSize = u64(buf, z + 40, bad);
    cdOffset = u64(buf, z + 48, bad);
  }
  if (cdOffset + cdSize > size) throw bad(`the zip central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the file (${size} bytes)`);
  if (count * 46 > cdSize) throw bad(`the zip central directory claims ${count} entries but has room for ${Math.floor(cdSize / 46)}`);
  const entries = new Map<string, ZipEntry>();
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdOffset + cdSize || buf.readUInt32LE(at) !== 0x02014b50) throw bad(`zip central directory entry ${i} is corrupt`);
    const method = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    let compressedSize = buf.readUInt32LE(at + 20);
    let usize = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    let localOffset = buf.readUInt32LE(at + 42);
    const end = at + 46 + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) throw bad(`zip central directory entry ${i} runs past the directory`);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    // zip64 extra field: the 64-bit values of the fields that hold 0xffffffff, in this order
    let x = at + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = buf.readUInt16LE(x);
      const len = buf.readUInt16LE(x + 2);
      if (x + 4 + len > xEnd) break;
      if (id === 1) {
        let p = x + 4;
        const take = (): number => {
          if (p + 8 > x + 4 + len) throw bad(`zip entry '${name}' has a short zip64 field`);
          const v = u64(buf, p, bad);
          p += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      x += 4 + len;
    }
    if (entries.has(name)) throw bad(`zip entry '${name}' appears twice`);
    entries.set(name, { name, method, compressedSize, size: usize, crc, localOffset });
    at = end;
  }
  return entries;
}

/** One entry's bytes, bounds- and CRC-checked. Stored entries are views into buf. */
export function readZipEntry(buf: ZipBytes, e: ZipEntry, bad: (m: string) => Error): Buffer {
  const lo = e.localOffset;
  if (lo + 30 > buf.byteLength || buf.readUInt32LE(lo) !== 0x04034b50) throw bad(`zip entry '${e.name}' has no local header at ${lo}`);
  const start = lo + 30 + buf.readUInt16LE(lo + 26) + buf.readUInt16LE(lo + 28);
  if (start + e.compressedSize > buf.byteLength) {
    throw bad(`zip entry '${e.name}' (${e.compressedSize} bytes at ${start}) runs past the end of the file (${buf.byteLength} bytes): truncated`);
  }
  const raw = buf.subarray(start, start + e.compressedSize);
  let data: Buffer;
  if (e.method === 0) {
    if (e.size !== e.compressedSize) throw bad(`stored zip entry '${e.name}' has size ${e.size} but ${e.compressedSize} stored bytes`);
    data = raw;
  } else if (e.method === 8) {
    // deflate expands at most ~1032:1; a larger claim is a zip bomb or corruption
    if (e.size > e.compressedSize * 1032 + 64) throw bad(`zip entry '${e.name}' claims ${e.size} bytes from ${e.compressedSize} compressed`);
    try {
      data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      throw bad(`zip entry '${e.name}' does not inflate (${(err as Error).message})`);
    }
    if (data.byteLength !== e.size) throw bad(`zip entry '${e.name}' inflates to ${data.byteLength} bytes, not the ${e.size} it declares`);
  } else {
    throw bad(`zip entry '${e.name}' uses compression method ${e.method}; only stored (0) and deflate (8) are supported`);
  }
  if (crc32(data) !== e.crc) throw bad(`zip entry '${e.name}' fails its CRC-32 check (corrupt file)`);
  return data;
}

/**
 * A zip archive of stored entries, laid out like PyTorch's writer: each entry's data 64-byte
 * aligned (padding in an extra field), so torch.load(mmap=True) can map it. Returns the chunks.
 */
export function writeZip(files: { name: string; data: Uint8Array }[]): Buffer[] {
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const crc = crc32(f.data);
    if (f.data.byteLength >= 0xffffffff || offset >= 0xffffffff) {
      throw new RangeError(`cannot write '${f.name}': .pt files of 4 GiB or more are not supported; save as .safetensors instead`);
    }
    const headerEnd = offset + 30 + name.byteLength + 4;
    const pad = (64 - (headerEnd % 64)) % 64;
    const local = Buffer.alloc(30 + name.byteLength + 4 + pad);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(f.data.byteLength, 18);
    local.writeUInt32LE(f.data.byteLength, 22);
    local.writeUInt16LE(name.byteLength, 26);
    local.writeUInt16LE(4 + pad, 28);
    name.copy(local, 30);
    local.writeUInt16LE(0x4246, 30 + name.byteLength); // 'FB': PyTorch's padding field
    local.writeUInt16LE(pad, 32 + name.byteLength);
    const cd = Buffer.alloc(46 + name.byteLength);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(f.data.byteLength, 20);
    cd.writeUInt32LE(f.data.byteLength, 24);
    cd.writeUInt16LE(name.byteLength, 28);
    cd.writeUInt32LE(offset, 42);
    name.copy(cd, 46);
    central.push(cd);
    out.push(local, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
    offset += local.byteLength + f.data.byteLength;
  }
  const cdSize = central.reduce((a, b) => a + b.byteLength, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(offset, 16);
  return [...out, ...central, eocd];
}
