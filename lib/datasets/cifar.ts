// CIFAR-10 and CIFAR-100 from their binary batches (a directory, or the .tar.gz as distributed):
// uint8 images [N, 32, 32, 3] channels-last and int64 labels [N, 1], as Keras returns them.
import * as path from 'path';
import * as tar from 'tar';
import { tensor } from '../creation';
import type { Tensor } from '../tensor';
import { Candidate, candidates, checkOptions, datasetsHome, exists, int64Labels, notFound, PathOptions, Splits } from './files';
import * as fs from 'fs';

const IMAGE_BYTES = 32 * 32 * 3;

interface Layout {
  op: string;
  name: string;
  dir: string; // the directory inside the archive, e.g. cifar-10-batches-bin
  archive: string; // e.g. cifar-10-binary.tar.gz
  train: string[];
  test: string[];
  labelBytes: number; // label bytes before each image
}

/** Reads the wanted members of a .tar.gz into memory; a truncated or corrupt archive is an error naming it. */
async function readTarMembers(file: string, wanted: string[], op: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const pending: Promise<void>[] = [];
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        const base = path.posix.basename(entry.path);
        if (entry.type !== 'File' || !wanted.includes(base)) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        pending.push(new Promise((resolve) => entry.on('end', () => {
          out.set(base, Buffer.concat(chunks));
          resolve();
        })));
      },
    });
    await Promise.all(pending);
  } catch (e) {
    throw new Error(`${op}: ${file} is not a readable .tar.gz archive (truncated or corrupt: ${(e as Error).message})`);
  }
  return out;
}

/** What a candidate holds: a directory of batches, or an archive of them. */
async function probe(p: string, l: Layout): Promise<{ dir?: string; archive?: string } | null> {
  const s = await exists(p);
  if (s?.isFile()) return { archive: p };
  if (!s?.isDirectory()) return null;
  for (const dir of [p, path.join(p, l.dir)]) {
    const batches = await Promise.all([...l.train, ...l.test].map((f) => exists(path.join(dir, f))));
    if (batches.every((b) => b?.isFile())) return { dir };
  }
  const a = await exists(path.join(p, l.archive));
  return a?.isFile() ? { archive: path.join(p, l.archive) } : null;
}

async function readBatches(l: Layout, tried: Candidate[]): Promise<{ get: (f: string) => Buffer; where: (f: string) => string }> {
  for (const c of tried) {
    const found = await probe(c.path, l);
    if (found?.dir) {
      const dir = found.dir;
      const files = [...l.train, ...l.test];
      const bufs = await Promise.all(files.map((f) => fs.promises.readFile(path.join(dir, f))));
      return { get: (f) => bufs[files.indexOf(f)], where: (f) => path.join(dir, f) };
    }
    if (found?.archive) {
      const archive = found.archive;
      const members = await readTarMembers(archive, [...l.train, ...l.test], l.op);
      const missing = [...l.train, ...l.test].filter((f) => !members.has(f));
      if (missing.length) {
        throw new Error(`${l.op}: ${archive} is incomplete or not a ${l.name} binary archive: ` +
          `it lacks ${missing.join(', ')} (expected ${l.dir}/ with ${[...l.train, ...l.test].join(', ')})`);
      }
      return { get: (f) => members.get(f) as Buffer, where: (f) => `${archive}:${l.dir}/${f}` };
    }
  }
  throw notFound(l.op, `the ${l.name} binary batches (${l.dir}/ with ${[...l.train, ...l.test].join(', ')}, or ${l.archive})`,
    tried, `Put ${l.archive} or the extracted ${l.dir}/ in ${datasetsHome()}, or pass { path } to either.`);
}

/** Concatenates batches of (labels, 3x32x32 planar image) records into [N, 32, 32, 3] and [N, 1]. */
function decode(l: Layout, src: { get: (f: string) => Buffer; where: (f: string) => string }, files: string[],
  labelIndex: number, numClasses: number): [Tensor, Tensor] {
  const rec = l.labelBytes + IMAGE_BYTES;
  let n = 0;
  for (const f of files) {
    const len = src.get(f).length;
    if (len === 0 || len % rec !== 0) {
      throw new Error(`${l.op}: ${src.where(f)} is truncated or corrupt: ${len} bytes is not a whole number of ${rec}-byte ` +
        `records (${l.labelBytes} label byte${l.labelBytes > 1 ? 's' : ''} + a 32x32x3 image)`);
    }
    n += len / rec;
  }
  const planar = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Uint8Array(n);
  let i = 0;
  for (const f of files) {
    const buf = src.get(f);
    for (let off = 0; off < buf.length; off += rec, i++) {
      labels[i] = buf[off + labelIndex];
      if (labels[i] >= numClasses) {
        throw new Error(`${l.op}: ${src.where(f)} is corrupt: label ${labels[i]} in record ${off / rec}, expected 0..${numClasses - 1}`);
      }
      planar.set(buf.subarray(off + l.labelBytes, off + rec), i * IMAGE_BYTES);
    }
  }
  const chw = tensor(planar, { shape: [n, 3, 32, 32], dtype: 'uint8' });
  const hwc = chw.permute(0, 2, 3, 1);
  const x = hwc.contiguous();
  hwc.dispose();
  chw.dispose();
  return [x, int64Labels(labels, numClasses, src.where(files[0]), l.op, [n, 1])];
}

function defaults(l: Layout): Candidate[] {
  return [{ path: datasetsHome(), why: `NODETORCH_HOME, default ~/.nodetorch/datasets: ${l.dir}/ or ${l.archive}` }];
}

const CIFAR10: Layout = {
  op: 'datasets.cifar10.loadData', name: 'CIFAR-10', dir: 'cifar-10-batches-bin', archive: 'cifar-10-binary.tar.gz',
  train: [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`), test: ['test_batch.bin'], labelBytes: 1,
};

const CIFAR100: Layout = {
  op: 'datasets.cifar100.loadData', name: 'CIFAR-100', dir: 'cifar-100-binary', archive: 'cifar-100-binary.tar.gz',
  train: ['train.bin'], test: ['test.bin'], labelBytes: 2,
};

/** Keras' CIFAR-10 data set (32x32 color images, 10 classes). */
export const cifar10 = {
  /**
   * CIFAR-10: [[xTrain uint8 [50000, 32, 32, 3], yTrain int64 [50000, 1]], [xTest, yTest]]. `path` may be the
   * cifar-10-batches-bin directory, a directory holding it, or cifar-10-binary.tar.gz.
   */
  async loadData(options?: PathOptions): Promise<Splits> {
    const o = checkOptions(options, CIFAR10.op, ['path']);
    const src = await readBatches(CIFAR10, candidates(o.path, defaults(CIFAR10)));
    return [decode(CIFAR10, src, CIFAR10.train, 0, 10), decode(CIFAR10, src, CIFAR10.test, 0, 10)];
  },
};

/** cifar100.loadData's options. */
export interface Cifar100Options extends PathOptions { labelMode?: 'fine' | 'coarse' }

/** Keras' CIFAR-100 data set (32x32 color images, 100 fine or 20 coarse classes). */
export const cifar100 = {
  /** CIFAR-100 with fine (100 classes, default) or coarse (20 superclasses) labels; shapes as cifar10. */
  async loadData(options?: Cifar100Options): Promise<Splits> {
    const o = checkOptions(options, CIFAR100.op, ['path', 'labelMode']);
    const mode = o.labelMode ?? 'fine';
    if (mode !== 'fine' && mode !== 'coarse') {
      throw new TypeError(`${CIFAR100.op}: expected labelMode to be 'fine' or 'coarse' but received ${JSON.stringify(mode)}`);
    }
    const src = await readBatches(CIFAR100, candidates(o.path, defaults(CIFAR100)));
    const [idx, classes] = mode === 'fine' ? [1, 100] : [0, 20];
    return [decode(CIFAR100, src, CIFAR100.train, idx, classes), decode(CIFAR100, src, CIFAR100.test, idx, classes)];
  },
};
