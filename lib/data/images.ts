// Image folders as batches of tensors: imageDatasetFromDirectory (Keras' image_dataset_from_directory)
// and the file listing, decoding and batching that ImageDataGenerator.flowFromDirectory shares.
// JPEGs are decoded by the native libjpeg path (native/data.cc) in a libuv thread; PNG and GIF by
// sharp, BMP here; every format's pixels are then converted and resized by the same native code.
// Batches are made a few ahead.
import * as fs from 'fs';
import * as path from 'path';
import type { Sharp } from 'sharp';
import { native } from '../native';
import { Tensor } from '../tensor';
import { tensor } from '../creation';
import { Dataset } from './dataset';
import { Random, randomSeed } from './random';

/** The channels images are decoded to. */
export type ColorMode = 'rgb' | 'grayscale' | 'rgba';
/** How images are resized. */
export type Interpolation = 'bilinear' | 'nearest' | 'bicubic' | 'lanczos3' | 'mitchellcubic';
/** How labels are encoded. */
export type LabelMode = 'int' | 'categorical' | 'binary';

/** Extensions Keras accepts in image folders. */
export const IMAGE_EXTENSIONS = ['.bmp', '.gif', '.jpeg', '.jpg', '.png'];

/** @internal the interpolations the image loaders resize with (native/data.cc's kernels) */
export const INTERPOLATIONS: readonly Interpolation[] = ['bilinear', 'nearest', 'bicubic', 'lanczos3', 'mitchellcubic'];
const CHANNELS: Record<ColorMode, number> = { grayscale: 1, rgb: 3, rgba: 4 };

// ---- option checks, shared with augment.ts ----

/** @internal how a bad value reads in an error message */
export function received(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(received).join(', ')}]`;
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? `${v}n` : String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return 'an object';
  }
}

/** @internal */
export function fail(where: string, name: string, expected: string, v: unknown): never {
  throw new TypeError(`${where}: expected ${name} to be ${expected} but received ${received(v)}`);
}

/** @internal */
export function checkOptions<T extends object>(o: T | undefined, where: string): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail(where, 'the options', 'an object', o);
  return o;
}

/** @internal */
export function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[], where: string, dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T)) fail(where, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  return v as T;
}

/** @internal */
export function positiveInt(v: unknown, name: string, where: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(where, name, 'a positive integer', v);
  return v;
}

/** @internal */
export function bool(v: unknown, name: string, where: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail(where, name, 'a boolean', v);
  return v;
}

/** @internal */
export function seedOf(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(where, 'seed', 'a non-negative integer', v);
  return v;
}

/** @internal */
export function sizeOf(v: unknown, name: string, where: string, dflt: [number, number]): [number, number] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s > 0 && s <= 65535)) {
    fail(where, name, '[height, width] of positive integers', v);
  }
  return [v[0], v[1]];
}

/** @internal */
export function fraction(v: unknown, name: string, where: string): number {
  if (v === undefined || v === null || v === 0) return 0;
  if (typeof v !== 'number' || !(v > 0 && v < 1)) fail(where, name, 'a number in (0, 1)', v);
  return v;
}

// ---- listing ----

/** @internal one folder of class subfolders, as Keras indexes it */
export interface ImageIndex {
  classNames: string[];
  /** per class, its image files (sorted, subfolders walked) */
  perClass: string[][];
}

function walk(dir: string, out: string[]): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(p);
  }
}

/** @internal */
export function indexDirectory(dir: unknown, classNames: string[] | undefined, where: string): ImageIndex {
  if (typeof dir !== 'string' || dir === '') fail(where, 'directory', 'a path string', dir);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new Error(`${where}: directory '${path.resolve(dir)}' does not exist`);
  }
  if (!st.isDirectory()) throw new Error(`${where}: '${path.resolve(dir)}' is not a directory`);
  const subdirs = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  let names = subdirs;
  if (classNames !== undefined) {
    if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string') || new Set(classNames).size !== classNames.length) {
      fail(where, 'classNames', 'an array of distinct subfolder names', classNames);
    }
    const missing = classNames.filter((c) => !subdirs.includes(c));
    if (missing.length || classNames.length !== subdirs.length) {
      throw new Error(`${where}: classNames must name the subfolders of '${path.resolve(dir)}': expected ` +
        `${received(subdirs)} in any order but received ${received(classNames)}`);
    }
    names = classNames;
  }
  const perClass = names.map((c) => {
    const files: string[] = [];
    walk(path.join(dir, c), files);
    return files;
  });
  if (perClass.every((f) => f.length === 0)) {
    throw new Error(`${where}: no images found in '${path.resolve(dir)}' (looked for ${IMAGE_EXTENSIONS.join(' ')} ` +
      'files inside one subfolder per class)');
  }
  return { classNames: names, perClass };
}

// ---- decoding ----

let sharpModule: ((input?: string | Buffer, options?: object) => Sharp) | undefined;
function sharp(): (input?: string | Buffer, options?: object) => Sharp {
  if (!sharpModule) {
    try {
      sharpModule = require('sharp');
    } catch (e) {
      throw new Error(`nodetorch.data: decoding images needs the npm package sharp (npm install sharp): ${(e as Error).message}`);
    }
  }
  return sharpModule!;
}

interface RawImage { data: Buffer; width: number; height: number; channels: 3 | 4 }

/** Uncompressed and bit-field BMPs (1/4/8-bit palettes, 16/24/32-bit): libvips as sharp ships it reads no BMP. */
export function decodeBmp(buf: Buffer): RawImage {
  const bad = (why: string): never => {
    throw new Error(`not a readable BMP file (${why})`);
  };
  if (buf.length < 26 || buf.toString('latin1', 0, 2) !== 'BM') bad('no BM signature');
  const dataOffset = buf.readUInt32LE(10);
  const dib = buf.readUInt32LE(14);
  let width: number, height: number, bpp: number, compression = 0, colors = 0;
  if (dib === 12) {
    width = buf.readUInt16LE(18);
    height = buf.readInt16LE(20);
    bpp = buf.readUInt16LE(24);
  } else {
    if (dib < 40 || buf.length < 54) bad('short header');
    width = buf.readInt32LE(18);
    height = buf.readInt32LE(22);
    bpp = buf.readUInt16LE(28);
    compression = buf.readUInt32LE(30);
    colors = buf.readUInt32LE(46);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0 || width > 65535 || height > 65535) bad(`size ${width}x${height}`);
  if (compression !== 0 && compression !== 3 && compression !== 6) bad(`compression ${compression} is not supported`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) bad(`${bpp} bits per pixel`);
  let masks: number[] = [];
  if (compression === 3 || compression === 6) {
    if (buf.length < 66) bad('short header');
    masks = [buf.readUInt32LE(54), buf.readUInt32LE(58), buf.readUInt32LE(62), dib >= 56 || compression === 6 ? buf.readUInt32LE(66) : 0];
  } else if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f, 0];
  else if (bpp === 32) masks = [0xff0000, 0xff00, 0xff, 0];
  const palette: number[][] = [];
  if (bpp <= 8) {
    const entry = dib === 12 ? 3 : 4;
    const n = colors || 1 << bpp;
    const start = 14 + dib;
    if (start + n * entry > buf.length) bad('truncated palette');
    for (let i = 0; i < n; i++) palette.push([buf[start + i * entry + 2], buf[start + i * entry + 1], buf[start + i * entry]]);
  }
  const alpha = masks[3] !== 0 && masks[3] !== undefined;
  const channels = alpha ? 4 : 3;
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * (height - 1) + Math.ceil((bpp * width) / 8) > buf.length) bad('truncated pixel data');
  const out = Buffer.alloc(width * height * channels);
  const field = (v: number, mask: number): number => {
    if (!mask) return 0;
    let shift = 0;
    while (!((mask >>> shift) & 1)) shift++;
    const max = mask >>> shift;
    return Math.round((((v & mask) >>> shift) * 255) / max);
  };
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      let rgb: number[];
      let a = 255;
      if (bpp <= 8) {
        const bit = x * bpp;
        const idx = (buf[row + (bit >> 3)] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        rgb = palette[idx] ?? bad(`palette index ${idx} out of range`);
      } else if (bpp === 24) {
        rgb = [buf[row + x * 3 + 2], buf[row + x * 3 + 1], buf[row + x * 3]];
      } else {
        const v = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4);
        rgb = [field(v, masks[0]), field(v, masks[1]), field(v, masks[2])];
        if (alpha) a = field(v, masks[3]);
      }
      out[o] = rgb[0];
      out[o + 1] = rgb[1];
      out[o + 2] = rgb[2];
      if (alpha) out[o + 3] = a;
    }
  }
  return { data: out, width, height, channels };
}

/**
 * @internal how images become [h, w, c] uint8 pixels. Resizing is Keras' image_dataset_from_directory
 * (tf.image.resize, antialias off): bilinear is PyTorch's interpolate with align_corners false,
 * nearest takes pixel floor((i + 0.5) * in / out), bicubic is Keys' cubic (a = -0.5); results are
 * rounded to integers and clamped to 0..255. Grey from colour is ITU-R 601-2 luma, as PIL's
 * convert('L') rounds it.
 */
export interface DecodeOptions { height: number; width: number; colorMode: ColorMode; interpolation: Interpolation }

/**
 * @internal decodes one PNG, GIF (its first frame) or BMP file at its own size (sharp; BMP here) and
 * converts and resizes it into out with the native code that JPEGs go through
 */
async function decodeOther(file: string, o: DecodeOptions, out: Buffer): Promise<void> {
  const buf = await fs.promises.readFile(file);
  let raw: RawImage;
  if (buf.length >= 2 && buf.toString('latin1', 0, 2) === 'BM') {
    raw = decodeBmp(buf);
  } else {
    const { data, info } = await sharp()(buf).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    raw = { data, width: info.width, height: info.height, channels: info.channels as 3 | 4 };
  }
  native.data_resize_image(raw.data, raw.height, raw.width, raw.channels, out, o.height, o.width, CHANNELS[o.colorMode], o.interpolation);
}

/**
 * @internal decodes files concurrently into one uint8 [N, h, w, c] tensor that borrows one batch
 * buffer (no copy). Every file goes to the native decoder first, which decodes the JPEGs (known by
 * their content, whatever their name; libjpeg-turbo in a libuv thread) straight into the batch and
 * refuses unreadable, special (FIFO) and corrupt files; sharp never sees a JPEG. The other formats
 * are decoded by decodeOther, each written into its slot as it arrives.
 */
export async function loadImageBytes(files: string[], o: DecodeOptions, where: string): Promise<Tensor> {
  const c = CHANNELS[o.colorMode];
  const size = o.height * o.width * c;
  const batch = Buffer.allocUnsafe(files.length * size);
  const cant = (f: string, why: string) => new Error(`${where}: could not read image '${f}': ${why}`);
  const done = files.length ? await native.data_decode_jpeg(files, batch, o.height, o.width, c, o.interpolation) : [];
  const failed = done.findIndex((d) => typeof d === 'string');
  if (failed >= 0) throw cant(files[failed], done[failed] as string);
  await Promise.all(files.map(async (f, i) => {
    if (done[i] === true) return;
    try {
      await decodeOther(f, o, batch.subarray(i * size, (i + 1) * size));
    } catch (e) {
      throw cant(f, (e as Error).message);
    }
  }));
  return tensor(batch, { dtype: 'uint8', shape: [files.length, o.height, o.width, c] });
}

/** @internal decodes files concurrently into one float32 [N, h, w, c] tensor of 0..255 values */
export async function loadImages(files: string[], o: DecodeOptions, where: string): Promise<Tensor> {
  const u8 = await loadImageBytes(files, o, where);
  const f = u8.to('float32');
  u8.dispose();
  return f;
}

/** @internal labels as Keras hands them out */
export function labelTensor(labels: number[], mode: LabelMode | 'sparse', numClasses: number, binaryShape: 'column' | 'vector'): Tensor {
  if (mode === 'int') return tensor(Int32Array.from(labels));
  if (mode === 'categorical') {
    const oh = new Float32Array(labels.length * numClasses);
    labels.forEach((l, i) => { oh[i * numClasses + l] = 1; });
    return tensor(oh, { shape: [labels.length, numClasses] });
  }
  const v = Float32Array.from(labels);
  return mode === 'binary' && binaryShape === 'column' ? tensor(v, { shape: [labels.length, 1] }) : tensor(v);
}

/**
 * @internal Runs makeBatch(i) for i in order with up to `ahead` batches in flight, so decoding
 * (in libuv's and sharp's threads) overlaps whatever the consumer does with the previous batch. Batches made
 * but never consumed (the loop was left early, or one failed) are disposed.
 */
export async function* prefetched<T extends Tensor[]>(count: number, ahead: number, makeBatch: (i: number) => Promise<T>): AsyncGenerator<T> {
  const pending: Promise<T>[] = [];
  let next = 0;
  const start = () => {
    const p = makeBatch(next++);
    p.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled
    pending.push(p);
  };
  try {
    while (next < count && pending.length < ahead) start();
    while (pending.length) {
      const batch = await pending.shift()!;
      if (next < count) start();
      yield batch;
    }
  } finally {
    for (const p of pending) p.then((b) => b.forEach((t) => t.dispose()), () => undefined);
  }
}

// ---- imageDatasetFromDirectory ----

/** imageDatasetFromDirectory's options. */
export interface ImageDatasetOptions {
  /** 'int' (int32 [N]), 'categorical' (float32 one-hot [N, classes]) or 'binary' (float32 [N, 1]); default 'int' */
  labelMode?: LabelMode;
  /** the class subfolders in label order; default: alphabetical */
  classNames?: string[];
  colorMode?: ColorMode;
  batchSize?: number;
  /** [height, width], default [256, 256] */
  imageSize?: [number, number];
  shuffle?: boolean;
  seed?: number;
  validationSplit?: number;
  subset?: 'training' | 'validation' | 'both';
  interpolation?: Interpolation;
}

/**
 * Batches of [images float32 [N, h, w, c] (0..255, channels-last), labels]: a data.Dataset (map,
 * shuffle, prefetch, take... apply) that also knows its classes and files, like the tf.data.Dataset
 * Keras returns with its class_names. Each pass is one epoch.
 */
export class ImageDataset extends Dataset<[Tensor, Tensor]> {
  /** @internal */
  constructor(
    /** the class of label i (Keras' class_names) */
    readonly classNames: string[],
    /** the files of this subset, in the order of the first epoch */
    readonly filePaths: string[],
    /** each file's class index */
    readonly labels: number[],
    readonly batchSize: number,
    labelMode: LabelMode,
    decode: DecodeOptions,
    shuffle: boolean,
    seed: number,
  ) {
    super(imagePasses(classNames.length, filePaths, labels, batchSize, labelMode, decode, shuffle, seed),
      () => Math.ceil(filePaths.length / batchSize));
  }
  get fileCount(): number {
    return this.filePaths.length;
  }
}

/** One epoch's batches per call: epoch 0 in the order of filePaths (already shuffled by the seed), later epochs reshuffled. */
function imagePasses(numClasses: number, filePaths: string[], labels: number[], batchSize: number, labelMode: LabelMode,
  decode: DecodeOptions, shuffle: boolean, seed: number): () => AsyncIterator<[Tensor, Tensor]> {
  let epoch = 0;
  return () => {
    const order = filePaths.map((_, i) => i);
    if (shuffle && epoch > 0) new Random(seed, epoch).shuffle(order);
    epoch++;
    return prefetched(Math.ceil(filePaths.length / batchSize), 3, async (b) => {
      const idx = order.slice(b * batchSize, (b + 1) * batchSize);
      const x = await loadImages(idx.map((i) => filePaths[i]), decode, 'imageDatasetFromDirectory');
      return [x, labelTensor(idx.map((i) => labels[i]), labelMode, numClasses, 'column')] as [Tensor, Tensor];
    });
  };
}

/**
 * Keras' image_dataset_from_directory: one subfolder per class (alphabetical unless classNames
 * says otherwise), JPEG/PNG/BMP/GIF files inside, resized to imageSize. With validationSplit the
 * files are shuffled by `seed` once and the last fraction is the validation subset, so the
 * same seed gives disjoint, matching subsets.
 */
export async function imageDatasetFromDirectory(directory: string, options: ImageDatasetOptions & { subset: 'both' }): Promise<[ImageDataset, ImageDataset]>;
export async function imageDatasetFromDirectory(directory: string, options?: ImageDatasetOptions): Promise<ImageDataset>;
export async function imageDatasetFromDirectory(directory: string, options?: ImageDatasetOptions): Promise<ImageDataset | [ImageDataset, ImageDataset]> {
  const where = 'imageDatasetFromDirectory';
  const o = checkOptions(options, where);
  const labelMode = oneOf(o.labelMode, 'labelMode', ['int', 'categorical', 'binary'] as const, where, 'int');
  const colorMode = oneOf(o.colorMode, 'colorMode', ['rgb', 'grayscale', 'rgba'] as const, where, 'rgb');
  const interpolation = oneOf(o.interpolation, 'interpolation', INTERPOLATIONS, where, 'bilinear');
  const batchSize = positiveInt(o.batchSize, 'batchSize', where, 32);
  const [height, width] = sizeOf(o.imageSize, 'imageSize', where, [256, 256]);
  const shuffle = bool(o.shuffle, 'shuffle', where, true);
  let seed = seedOf(o.seed, where);
  const split = fraction(o.validationSplit, 'validationSplit', where);
  const subset = o.subset === undefined || o.subset === null ? undefined
    : oneOf(o.subset, 'subset', ['training', 'validation', 'both'] as const, where, 'training');
  if (split && !subset) throw new TypeError(`${where}: validationSplit needs subset 'training', 'validation' or 'both'`);
  if (subset && !split) throw new TypeError(`${where}: subset '${subset}' needs a validationSplit in (0, 1)`);
  if (split && shuffle && seed === undefined) {
    throw new TypeError(`${where}: validationSplit with shuffle needs a seed, so that the training and validation subsets do not overlap`);
  }
  const index = indexDirectory(directory, o.classNames, where);
  if (labelMode === 'binary' && index.classNames.length !== 2) {
    throw new Error(`${where}: labelMode 'binary' needs exactly 2 classes but '${path.resolve(directory)}' has ` +
      `${index.classNames.length}: ${received(index.classNames)}`);
  }
  seed ??= randomSeed();
  let files: string[] = [];
  let labels: number[] = [];
  index.perClass.forEach((fs_, c) => {
    files.push(...fs_);
    labels.push(...fs_.map(() => c));
  });
  if (shuffle) {
    const order = new Random(seed).shuffle(files.map((_, i) => i));
    files = order.map((i) => files[i]);
    labels = order.map((i) => labels[i]);
  }
  const decode: DecodeOptions = { height, width, colorMode, interpolation };
  const make = (lo: number, hi: number) => new ImageDataset(index.classNames, files.slice(lo, hi), labels.slice(lo, hi),
    batchSize, labelMode, decode, shuffle, seed!);
  const nVal = Math.floor(split * files.length);
  const nTrain = files.length - nVal;
  if (subset === 'training') return make(0, nTrain);
  if (subset === 'validation') return make(nTrain, files.length);
  if (subset === 'both') return [make(0, nTrain), make(nTrain, files.length)];
  return make(0, files.length);
}
