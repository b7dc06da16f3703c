// Opening files a loader is about to trust: regular files only (a FIFO, device or socket would
// block a thread forever or stream without end), opened without blocking, and the byte budget a
// loader may allocate for what a file declares (maxBytes), checked before anything is allocated.
import * as fs from 'fs';
import { typeOfValue } from '../tensor';

/** Options of every loader that reads a file into memory. */
export interface MaxBytesOptions {
  /**
   * The most bytes the loader may allocate for what the file declares (tensors, weights). Default:
   * 8 x the file's size or 1 GiB, whichever is larger; a file declaring more is refused before
   * anything is allocated.
   */
  maxBytes?: number;
}

const GIB = 1024 ** 3;

/** The byte budget of opts.maxBytes for a file of `fileSize` bytes; validates maxBytes in the caller's terms. */
export function maxBytesFor(opts: MaxBytesOptions | undefined, fileSize: number, where: string): number {
  const m = opts?.maxBytes;
  if (m === undefined) return Math.max(8 * fileSize, GIB);
  if (typeof m !== 'number' || !(m > 0) || !Number.isFinite(m)) {
    throw new RangeError(`${where}: expected maxBytes to be a positive number of bytes but received ${typeof m === 'number' ? String(m) : typeOfValue(m)}`);
  }
  return m;
}

/** Refuses a size over the budget, naming the file and the option that raises it. */
export function checkBudget(bytes: number, budget: number, what: string, where: string, file: string): void {
  if (bytes > budget) {
    throw new RangeError(`${where}: ${file}: ${what} needs ${bytes} bytes, over maxBytes (${budget}); ` +
      'pass a larger { maxBytes } if the file is trusted');
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function openError(e: unknown, file: string, where: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
  return Object.assign(new Error(`${where}: cannot open ${file}: ${why}`), { code });
}

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; it changes
// nothing for a regular file. Not on Windows, which has neither flag nor FIFOs.
const OPEN_FLAGS = process.platform === 'win32' ? 'r' : fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/**
 * Opens a regular file for reading, or throws naming what it is instead (hint: how to read a
 * directory, say). Returns the descriptor and the size; the caller closes the descriptor.
 */
export function openRegularSync(file: string, where: string, dirHint = ''): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw new Error(`${where}: ${file} is a directory${dirHint}`);
    throw openError(e, file, where);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new Error(st.isDirectory() ? `${where}: ${file} is a directory${dirHint}` : `${where}: ${file} is ${kindOf(st)}, not a regular file`);
    }
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** openRegularSync's async twin: a FileHandle of a regular file and its size. */
export async function openRegular(file: string, where: string, dirHint = ''): Promise<{ fh: fs.promises.FileHandle; size: number }> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, OPEN_FLAGS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw new Error(`${where}: ${file} is a directory${dirHint}`);
    throw openError(e, file, where);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new Error(st.isDirectory() ? `${where}: ${file} is a directory${dirHint}` : `${where}: ${file} is ${kindOf(st)}, not a regular file`);
    }
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** The whole of a regular file, read through one descriptor (so it cannot be swapped for a FIFO midway). */
export function readRegularFileSync(file: string, where: string, maxSize = Infinity): Buffer {
  const { fd, size } = openRegularSync(file, where);
  try {
    if (size > maxSize) throw new RangeError(`${where}: ${file} is ${size} bytes, over the ${maxSize}-byte limit for this file`);
    const buf = Buffer.allocUnsafeSlow(size);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A zeroed Buffer that nt.tensor shares without a copy: its memory is a SharedArrayBuffer, which
 * cannot be detached, so a tensor may borrow it safely (an ArrayBuffer's memory is always copied).
 */
export function borrowableBuffer(bytes: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(bytes));
}

/**
 * obj[key] = value as an own, enumerable property whatever the key: a name read from a file such as
 * '__proto__' must be an entry, never the object's prototype.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
