// IDX files (MNIST, Fashion-MNIST): a big-endian header of dimensions, then unsigned bytes.
import { readMaybeGzip } from './files';

export interface IdxArray { data: Uint8Array; dims: number[] }

/** Reads an IDX file of unsigned bytes with `ndim` dimensions, plain or gzipped, checking its length exactly. */
export async function readIdx(file: string, ndim: number, op: string): Promise<IdxArray> {
  const buf = await readMaybeGzip(file, op);
  const expectedMagic = `0x0000080${ndim}`;
  if (buf.length < 4) {
    throw new Error(`${op}: ${file} is truncated: ${buf.length} bytes, expected an IDX header starting with magic ${expectedMagic}`);
  }
  const magic = buf.readUInt32BE(0);
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08 || buf[3] !== ndim) {
    throw new Error(`${op}: ${file} is not an IDX file of unsigned bytes with ${ndim} dimension${ndim > 1 ? 's' : ''}: ` +
      `magic 0x${magic.toString(16).padStart(8, '0')}, expected ${expectedMagic}`);
  }
  const header = 4 + 4 * ndim;
  if (buf.length < header) {
    throw new Error(`${op}: ${file} is truncated: ${buf.length} bytes, expected at least the ${header}-byte IDX header`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    dims.push(buf.readUInt32BE(4 + 4 * i));
    count *= dims[i];
  }
  const got = buf.length - header;
  if (got !== count) {
    throw new Error(`${op}: ${file} is ${got < count ? 'truncated' : 'corrupt'}: its header promises ${dims.join('x')} = ` +
      `${count} bytes of data but it holds ${got}`);
  }
  return { data: new Uint8Array(buf.buffer, buf.byteOffset + header, count), dims };
}
