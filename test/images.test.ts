// Image folders (imageDatasetFromDirectory, flowFromDirectory) and ImageDataGenerator's maths on tiny images.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as nt from '../lib';
import { native } from '../lib/native';

const { imageDatasetFromDirectory, ImageDataGenerator } = nt.data;
type Batch = nt.Tensor[];

let root: string;

/** RGB pixels of a w x h image whose values depend on `seed`. */
function pixels(w: number, h: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + seed * 11) % 256));
}

/** A 24-bit bottom-up BMP, written by hand (sharp writes none). */
function bmp(w: number, h: number, rgb: Buffer): Buffer {
  const stride = Math.ceil((w * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + stride * h);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(w, 18);
  buf.writeInt32LE(h, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 54 + (h - 1 - y) * stride + x * 3, i = (y * w + x) * 3;
      buf[o] = rgb[i + 2];
      buf[o + 1] = rgb[i + 1];
      buf[o + 2] = rgb[i];
    }
  }
  return buf;
}

async function png(file: string, w: number, h: number, rgb: Buffer): Promise<void> {
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

async function collect(it: AsyncIterable<Batch>): Promise<number[][][]> {
  const out: number[][][] = [];
  for await (const b of it) {
    out.push(b.map((t) => Array.from(t.dataSync() as ArrayLike<number>)));
    b.forEach((t) => t.dispose());
  }
  return out;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-images-'));
  // three classes, created out of alphabetical order; 4x4 PNGs with known pixels
  const classes = { zebra: 2, ant: 3, moth: 1 };
  for (const [c, n] of Object.entries(classes)) {
    fs.mkdirSync(path.join(root, 'png', c), { recursive: true });
    for (let i = 0; i < n; i++) await png(path.join(root, 'png', c, `${i}.png`), 4, 4, pixels(4, 4, c.length * 10 + i));
  }
  // two classes in every format
  for (const c of ['a', 'b']) {
    const d = path.join(root, 'formats', c);
    fs.mkdirSync(d, { recursive: true });
    const rgb = pixels(6, 5, c === 'a' ? 1 : 2);
    await png(path.join(d, '1.png'), 6, 5, rgb);
    await sharp(rgb, { raw: { width: 6, height: 5, channels: 3 } }).jpeg({ quality: 95 }).toFile(path.join(d, '2.jpg'));
    await sharp(Buffer.alloc(6 * 5 * 3, 200), { raw: { width: 6, height: 5, channels: 3 } }).gif().toFile(path.join(d, '3.gif'));
    fs.writeFileSync(path.join(d, '4.bmp'), bmp(6, 5, rgb));
    fs.writeFileSync(path.join(d, 'notes.txt'), 'not an image');
  }
  // ten files for the split
  for (const c of ['x', 'y']) {
    fs.mkdirSync(path.join(root, 'split', c), { recursive: true });
    for (let i = 0; i < 5; i++) await png(path.join(root, 'split', c, `${i}.png`), 2, 2, pixels(2, 2, i));
  }
  // JPEGs for the native decoder: the kinds it decodes, and the kinds it leaves to sharp
  fs.mkdirSync(path.join(root, 'jpeg', 'a'), { recursive: true });
  const jraw = { raw: { width: 9, height: 7, channels: 3 as const } };
  const jpx = pixels(9, 7, 5);
  const jdir = path.join(root, 'jpeg', 'a');
  await sharp(jpx, jraw).jpeg().toFile(path.join(jdir, 'baseline.jpg'));
  await sharp(jpx, jraw).jpeg({ quality: 70, chromaSubsampling: '4:4:4', progressive: true }).toFile(path.join(jdir, 'progressive.jpeg'));
  await sharp(jpx, jraw).toColourspace('b-w').jpeg().toFile(path.join(jdir, 'grey.jpg'));
  await sharp(jpx, jraw).withIccProfile('srgb').jpeg().toFile(path.join(jdir, 'icc.jpg'));
  await sharp(pixels(8, 7, 5), { raw: { width: 8, height: 7, channels: 3 } }).jpeg().toFile(path.join(jdir, 'narrow.jpg'));
  fs.mkdirSync(path.join(root, 'broken', 'a'), { recursive: true });
  await png(path.join(root, 'broken', 'a', 'ok.png'), 2, 2, pixels(2, 2, 0));
  fs.writeFileSync(path.join(root, 'broken', 'a', 'bad.jpg'), 'this is not a jpeg');
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('imageDatasetFromDirectory', () => {
  test('classes are the subfolders in alphabetical order, labels follow them', async () => {
    const ds = await imageDatasetFromDirectory(path.join(root, 'png'), { imageSize: [4, 4], shuffle: false, batchSize: 4 });
    expect(ds.classNames).toEqual(['ant', 'moth', 'zebra']);
    expect(ds.fileCount).toBe(6);
    expect(ds.length).toBe(2);
    const batches = await collect(ds);
    expect(batches.map((b) => b[1])).toEqual([[0, 0, 0, 1], [2, 2]]);
  });

  test('labelMode categorical and binary, and classNames choose the order', async () => {
    const cat = await imageDatasetFromDirectory(path.join(root, 'png'), { imageSize: [4, 4], shuffle: false, labelMode: 'categorical', batchSize: 6 });
    for await (const [x, y] of cat) {
      expect(x.shape).toEqual([6, 4, 4, 3]);
      expect(x.dtype).toBe('float32');
      expect(y.shape).toEqual([6, 3]);
      expect(y.toArray()).toEqual([[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]);
    }
    const ordered = await imageDatasetFromDirectory(path.join(root, 'png'), { imageSize: [4, 4], shuffle: false, classNames: ['zebra', 'moth', 'ant'] });
    expect(ordered.labels).toEqual([0, 0, 1, 2, 2, 2]);
    const bin = await imageDatasetFromDirectory(path.join(root, 'split'), { imageSize: [2, 2], shuffle: false, labelMode: 'binary' });
    for await (const [, y] of bin) {
      expect(y.dtype).toBe('float32');
      expect(y.toArray()).toEqual([[0], [0], [0], [0], [0], [1], [1], [1], [1], [1]]);
    }
    await expect(imageDatasetFromDirectory(path.join(root, 'png'), { labelMode: 'binary' })).rejects.toThrow(/exactly 2 classes/);
  });

  test('PNG pixels come back exactly, channels-last, 0..255', async () => {
    const ds = await imageDatasetFromDirectory(path.join(root, 'png'), { imageSize: [4, 4], shuffle: false, batchSize: 1 });
    for await (const [x] of ds) {
      expect(Array.from(x.dataSync() as Float32Array)).toEqual(Array.from(pixels(4, 4, 'ant'.length * 10)));
      break;
    }
  });

  test('JPEG, PNG, BMP and GIF decode; other files are skipped', async () => {
    const ds = await imageDatasetFromDirectory(path.join(root, 'formats'), { imageSize: [5, 6], shuffle: false, batchSize: 8 });
    expect(ds.fileCount).toBe(8);
    const [[x]] = await collect(ds);
    const img = (i: number) => x.slice(i * 90, (i + 1) * 90);
    const rgb = Array.from(pixels(6, 5, 1));
    expect(img(0)).toEqual(rgb); // PNG
    expect(img(3)).toEqual(rgb); // BMP
    expect(img(2).every((v) => Math.abs(v - 200) <= 2)).toBe(true); // GIF
    const jpegErr = img(1).reduce((s, v, i) => s + Math.abs(v - rgb[i]), 0) / 90;
    expect(jpegErr).toBeLessThan(40); // lossy, but the same picture
  });

  test('JPEGs that sharp wrote decode natively; an ICC profile is ignored (the same pixels as without it)', async () => {
    // baseline.jpg and icc.jpg hold the same picture, encoded alike; icc.jpg adds an sRGB profile
    const dir = path.join(root, 'jpeg', 'a');
    const names = ['baseline.jpg', 'grey.jpg', 'icc.jpg', 'narrow.jpg', 'progressive.jpeg'];
    const out = Buffer.alloc(names.length * 7 * 9 * 3);
    const done = await native.data_decode_jpeg(names.map((n) => path.join(dir, n)), out, 7, 9, 3);
    expect(done).toEqual([true, true, true, true, true]);
    const img = (i: number) => Array.from(out.subarray(i * 189, (i + 1) * 189));
    expect(img(2)).toEqual(img(0));
    const ds = await imageDatasetFromDirectory(path.join(root, 'jpeg'), { imageSize: [7, 9], shuffle: false, batchSize: 8 });
    const [[x]] = await collect(ds);
    expect(x).toEqual(Array.from(out));
  });

  test('a truncated JPEG is an error naming the file and what libjpeg found', async () => {
    const d = path.join(root, 'truncated', 'a');
    fs.mkdirSync(d, { recursive: true });
    const full = fs.readFileSync(path.join(root, 'jpeg', 'a', 'baseline.jpg'));
    fs.writeFileSync(path.join(d, 'cut.jpg'), full.subarray(0, full.length - 40));
    const ds = await imageDatasetFromDirectory(path.join(root, 'truncated'), { imageSize: [7, 9] });
    await expect(collect(ds)).rejects.toThrow(`could not read image '${path.join(d, 'cut.jpg')}': libjpeg: Premature end of JPEG file`);
  });

  test('resizing, grayscale and rgba', async () => {
    const gray = await imageDatasetFromDirectory(path.join(root, 'formats'), { imageSize: [3, 2], colorMode: 'grayscale', interpolation: 'nearest' });
    const rgba = await imageDatasetFromDirectory(path.join(root, 'formats'), { imageSize: [7, 9], colorMode: 'rgba' });
    for await (const [x] of gray) expect(x.shape).toEqual([8, 3, 2, 1]);
    for await (const [x] of rgba) {
      expect(x.shape).toEqual([8, 7, 9, 4]);
      expect(x.index(0).slice(2, 3, 4).min().item()).toBe(255);
    }
  });

  test('is a data.Dataset: cardinality, map, take, and classNames stay on the source', async () => {
    const ds = await imageDatasetFromDirectory(path.join(root, 'png'), { imageSize: [4, 4], shuffle: false, batchSize: 4 });
    expect(ds).toBeInstanceOf(nt.data.Dataset);
    expect([ds.cardinality(), ds.classNames]).toEqual([2, ['ant', 'moth', 'zebra']]);
    const scaled = ds.map(([x, y]) => [x.div(255), y] as [nt.Tensor, nt.Tensor]).take(1);
    expect(scaled.cardinality()).toBe(1);
    const [[x, y]] = await collect(scaled);
    expect(x.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(y).toEqual([0, 0, 0, 1]);
  });

  test('the validation split is disjoint, complete and the same under a seed', async () => {
    const dir = path.join(root, 'split');
    const o = { imageSize: [2, 2] as [number, number], validationSplit: 0.3, seed: 5 };
    const train = await imageDatasetFromDirectory(dir, { ...o, subset: 'training' });
    const val = await imageDatasetFromDirectory(dir, { ...o, subset: 'validation' });
    expect(train.fileCount).toBe(7);
    expect(val.fileCount).toBe(3);
    expect(new Set([...train.filePaths, ...val.filePaths]).size).toBe(10);
    const [t2, v2] = await imageDatasetFromDirectory(dir, { ...o, subset: 'both' });
    expect(t2.filePaths).toEqual(train.filePaths);
    expect(v2.filePaths).toEqual(val.filePaths);
    const other = await imageDatasetFromDirectory(dir, { ...o, seed: 6, subset: 'training' });
    expect(other.filePaths).not.toEqual(train.filePaths);
    // batches follow filePaths; the same seed gives the same batches
    expect(await collect(train)).toEqual(await collect(t2));
  });

  test('an unreadable image is reported by path; a missing folder by its path', async () => {
    const ds = await imageDatasetFromDirectory(path.join(root, 'broken'), { imageSize: [2, 2], shuffle: false });
    const bad = path.join(root, 'broken', 'a', 'bad.jpg');
    await expect(collect(ds)).rejects.toThrow(`could not read image '${bad}'`);
    const missing = path.join(root, 'nope');
    await expect(imageDatasetFromDirectory(missing)).rejects.toThrow(`imageDatasetFromDirectory: directory '${missing}' does not exist`);
  });

  test('bad options name the option and what was expected', async () => {
    const dir = path.join(root, 'png');
    await expect(imageDatasetFromDirectory(dir, { imageSize: [0, 4] })).rejects.toThrow(
      'imageDatasetFromDirectory: expected imageSize to be [height, width] of positive integers but received [0, 4]');
    await expect(imageDatasetFromDirectory(dir, { labelMode: 'sparse' as 'int' })).rejects.toThrow(
      "expected labelMode to be one of 'int', 'categorical', 'binary' but received 'sparse'");
    await expect(imageDatasetFromDirectory(dir, { validationSplit: 0.2, subset: 'training' })).rejects.toThrow(/needs a seed/);
    await expect(imageDatasetFromDirectory(dir, { classNames: ['ant'] })).rejects.toThrow(/classNames must name the subfolders/);
  });
});

describe('ImageDataGenerator', () => {
  const row = (x: nt.Tensor) => Array.from(x.dataSync() as Float32Array);
  /** [1, h, w, 1] with values 0..h*w-1 */
  const grid = (h: number, w: number) => nt.arange(0, h * w, 1, { dtype: 'float32' }).reshape([1, h, w, 1]);
  const params = (p: Partial<nt.data.TransformParameters>): nt.data.TransformParameters => ({
    theta: 0, tx: 0, ty: 0, shear: 0, zx: 1, zy: 1, flipHorizontal: false, flipVertical: false,
    channelShiftIntensity: null, brightness: null, ...p,
  });

  test('horizontalFlip and verticalFlip are exact', () => {
    const g = new ImageDataGenerator({ horizontalFlip: true });
    const x = grid(2, 3);
    expect(row(g.applyTransforms(x, [params({ flipHorizontal: true })]))).toEqual([2, 1, 0, 5, 4, 3]);
    expect(row(g.applyTransforms(x, [params({ flipVertical: true })]))).toEqual([3, 4, 5, 0, 1, 2]);
    // folded into the affine matrix when the image is also resampled
    expect(row(g.applyTransforms(x, [params({ flipHorizontal: true, zx: 1 + 1e-7 })])).map(Math.round)).toEqual([2, 1, 0, 5, 4, 3]);
  });

  test('a shift by whole pixels is exact, and each fillMode fills the border its way', () => {
    const x = grid(1, 4); // [0, 1, 2, 3]
    const shift = (fillMode: nt.data.FillMode, ty: number, cval = 0) =>
      row(new ImageDataGenerator({ fillMode, cval }).applyTransforms(x, [params({ ty })])).map((v) => Math.round(v * 1e4) / 1e4);
    expect(shift('nearest', 1)).toEqual([1, 2, 3, 3]);
    expect(shift('nearest', 2)).toEqual([2, 3, 3, 3]);
    expect(shift('constant', 2, 9)).toEqual([2, 3, 9, 9]);
    expect(shift('constant', -1)).toEqual([0, 0, 1, 2]);
    expect(shift('reflect', 2)).toEqual([2, 3, 3, 2]);
    expect(shift('reflect', -3)).toEqual([2, 1, 0, 0]);
    expect(shift('wrap', 2)).toEqual([2, 3, 0, 1]);
    expect(shift('wrap', -1)).toEqual([3, 0, 1, 2]);
    // tx moves rows
    const g = new ImageDataGenerator({ fillMode: 'constant', interpolationOrder: 0 });
    expect(row(g.applyTransforms(grid(3, 1), [params({ tx: 1 })]))).toEqual([1, 2, 0]);
  });

  test('rotation by 90 degrees is exact with nearest interpolation', () => {
    const g = new ImageDataGenerator({ interpolationOrder: 0 });
    expect(row(g.applyTransforms(grid(3, 3), [params({ theta: 90 })]))).toEqual([2, 5, 8, 1, 4, 7, 0, 3, 6]);
    expect(row(g.applyTransforms(grid(4, 4), [params({ theta: -90 })]))).toEqual([12, 8, 4, 0, 13, 9, 5, 1, 14, 10, 6, 2, 15, 11, 7, 3]);
  });

  test('one matrix per image in a batch; channels move together', () => {
    const g = new ImageDataGenerator({ interpolationOrder: 0 });
    const x = nt.stack([grid(3, 3).index(0), grid(3, 3).index(0).add(10)]).repeat([1, 1, 1, 2]);
    const y = g.applyTransforms(x, [params({ theta: 90 }), params({ theta: 180 })]);
    expect(y.shape).toEqual([2, 3, 3, 2]);
    expect(row(y.index(0).slice(2, 1, 2))).toEqual([2, 5, 8, 1, 4, 7, 0, 3, 6]);
    expect(row(y.index(1).slice(2, 0, 1))).toEqual([18, 17, 16, 15, 14, 13, 12, 11, 10]);
  });

  test('the CPU sampler (uint8 or float in) matches grid_sample in every fill mode and interpolation', () => {
    const x = nt.rand([3, 7, 9, 2]).mul(255).floor();
    const ps = [params({ theta: 33, tx: 1.3, ty: -2.2, zx: 0.8, zy: 1.15 }), params({ shear: 25, ty: 4.5, flipHorizontal: true }),
      params({ theta: -71, tx: -6, zx: 1.4, zy: 0.7, flipVertical: true })];
    for (const fillMode of ['nearest', 'constant', 'reflect', 'wrap'] as const) {
      for (const interpolationOrder of [0, 1] as const) {
        const g = new ImageDataGenerator({ fillMode, cval: 7, interpolationOrder });
        // an input that needs a gradient goes through grid_sample
        const ref = g.applyTransforms(x.clone().requiresGrad_(true), ps).detach();
        for (const input of [x, x.to('uint8')]) {
          const y = g.applyTransforms(input, ps);
          expect([fillMode, interpolationOrder, y.dtype, Number(y.sub(ref).abs().max().item()) < 1e-3]).toEqual([fillMode, interpolationOrder, 'float32', true]);
        }
      }
    }
  });

  test('rescale, samplewise normalization, brightness and channel shift', () => {
    const x = grid(2, 2);
    expect(row(new ImageDataGenerator({ rescale: 0.5 }).standardize(x))).toEqual([0, 0.5, 1, 1.5]);
    const c = row(new ImageDataGenerator({ samplewiseCenter: true, samplewiseStdNormalization: true }).standardize(x));
    const s = Math.sqrt(1.25) + 1e-6;
    c.forEach((v, i) => expect(v).toBeCloseTo((i - 1.5) / s, 5));
    const g = new ImageDataGenerator();
    expect(row(g.applyTransforms(x.mul(100), [params({ brightness: 1.5 })]))).toEqual([0, 150, 255, 255]);
    expect(row(g.applyTransforms(x, [params({ channelShiftIntensity: 2 })]))).toEqual([2, 3, 3, 3]);
  });

  test('featurewise centering and std normalization come from fit()', async () => {
    const x = nt.tensor([[[[1, 10]], [[3, 30]]]]); // [1, 2, 1, 2]: channel means 2 and 20
    const g = new ImageDataGenerator({ featurewiseCenter: true, featurewiseStdNormalization: true });
    expect(() => g.standardize(x)).toThrow(/fit\(x\)/);
    g.fit(x);
    expect(row(g.mean!)).toEqual([2, 20]);
    expect(row(g.std!)).toEqual([1, 10]);
    const [[xb]] = await collect(g.flow(x, null, { shuffle: false }));
    xb.forEach((v, i) => expect(v).toBeCloseTo([-1, -1, 1, 1][i], 5));
  });

  test('flow is reproducible under a seed and has length', async () => {
    const x = nt.rand([10, 8, 8, 3]).mul(255);
    const y = nt.arange(0, 10, 1, { dtype: 'float32' });
    const g = new ImageDataGenerator({ rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 0.2,
      zoomRange: 0.2, horizontalFlip: true, fillMode: 'nearest', rescale: 1 / 255 });
    const it = g.flow(x, y, { batchSize: 4, seed: 3 });
    expect(it.length).toBe(3);
    const a = await collect(it);
    expect(a.map((b) => b[1].length)).toEqual([4, 4, 2]);
    expect(await collect(g.flow(x, y, { batchSize: 4, seed: 3 }))).toEqual(a);
    expect(await collect(g.flow(x, y, { batchSize: 4, seed: 4 }))).not.toEqual(a);
    // a second epoch reshuffles
    expect(await collect(it)).not.toEqual(a);
    expect(a.flatMap((b) => b[1]).sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    a.flatMap((b) => b[0]).forEach((v) => expect(v >= 0 && v <= 1.0001).toBe(true));
  });

  test('flowFromDirectory: class modes, shapes, per-class validation split', async () => {
    const g = new ImageDataGenerator({ rescale: 1 / 255, validationSplit: 0.4 });
    const dir = path.join(root, 'split');
    const it = g.flowFromDirectory(dir, { targetSize: [2, 2], batchSize: 3, classMode: 'binary', shuffle: false });
    expect(it.length).toBe(4);
    expect(it.classIndices).toEqual({ x: 0, y: 1 });
    const b = await collect(it);
    expect(b.flatMap((p) => p[1])).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(b[0][0].every((v) => v >= 0 && v <= 1)).toBe(true);
    const val = g.flowFromDirectory(dir, { targetSize: [2, 2], subset: 'validation', classMode: 'sparse' });
    const train = g.flowFromDirectory(dir, { targetSize: [2, 2], subset: 'training' });
    expect(val.filenames.map((f) => path.basename(f))).toEqual(['0.png', '1.png', '0.png', '1.png']);
    expect(train.samples).toBe(6);
    for await (const [x, y] of train) {
      expect(x.shape).toEqual([6, 2, 2, 3]);
      expect(y.shape).toEqual([6, 2]);
    }
    for await (const batch of g.flowFromDirectory(dir, { targetSize: [2, 2], classMode: null })) expect(batch.length).toBe(1);
  });

  test('bad options name the option and what was expected', () => {
    expect(() => new ImageDataGenerator({ zoomRange: -1 })).toThrow(
      'ImageDataGenerator: expected zoomRange to be a number >= 0 or [lower, upper] but received -1');
    expect(() => new ImageDataGenerator({ fillMode: 'mirror' as 'wrap' })).toThrow(
      "ImageDataGenerator: expected fillMode to be one of 'nearest', 'constant', 'reflect', 'wrap' but received 'mirror'");
    expect(() => new ImageDataGenerator({ rotationRange: NaN })).toThrow('expected rotationRange to be a number >= 0 but received NaN');
    expect(() => new ImageDataGenerator({ brightnessRange: [2, 1] })).toThrow(/brightnessRange/);
    const g = new ImageDataGenerator();
    expect(() => g.flow(nt.zeros([2, 3]))).toThrow('ImageDataGenerator.flow: expected x to be a [N, height, width, channels] Tensor');
    expect(() => g.flowFromDirectory(path.join(root, 'missing'))).toThrow(/directory '.*missing' does not exist/);
    expect(() => g.flowFromDirectory(path.join(root, 'png'), { targetSize: [1.5, 2] as [number, number] })).toThrow(/targetSize/);
  });
});
