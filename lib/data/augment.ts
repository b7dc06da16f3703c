// Keras' ImageDataGenerator over libtorch: per-image random affine matrices (rotation, shift,
// shear, zoom, flips) drawn from a seeded PRNG, applied to a whole batch in one native resampling
// call that reads uint8 pixels and folds in the rescale; the colour steps and the rest of
// standardization are batched tensor ops.
import * as path from 'path';
import { native } from '../native';
import { Tensor, wrap } from '../tensor';
import { tensor } from '../creation';
import { tidy } from '../memory';
import { Random, randomSeed } from './random';
import {
  bool, checkOptions, ColorMode, DecodeOptions, fail, fraction, indexDirectory, Interpolation, INTERPOLATIONS, labelTensor, loadImageBytes,
  oneOf, positiveInt, prefetched, received, seedOf, sizeOf,
} from './images';

/** How ImageDataGenerator fills pixels shifted in from outside the image. */
export type FillMode = 'nearest' | 'constant' | 'reflect' | 'wrap';
/** The labels flowFromDirectory yields: binary, categorical, sparse, the input itself, or none. */
export type ClassMode = 'binary' | 'categorical' | 'sparse' | 'input' | null;

/** ImageDataGenerator's augmentation and preprocessing options (Keras' names, camelCased). */
export interface ImageDataGeneratorOptions {
  featurewiseCenter?: boolean;
  samplewiseCenter?: boolean;
  featurewiseStdNormalization?: boolean;
  samplewiseStdNormalization?: boolean;
  /** degrees, drawn uniformly in [-r, r] */
  rotationRange?: number;
  /** a fraction of the width (< 1) or pixels (>= 1), drawn in [-r, r]; or a list of pixel shifts to pick from (random sign) */
  widthShiftRange?: number | number[];
  heightShiftRange?: number | number[];
  /** shear angle in degrees (Keras' unit), drawn in [-r, r] */
  shearRange?: number;
  /** z: zoom factors drawn in [1 - z, 1 + z], independently for x and y; or [lower, upper] */
  zoomRange?: number | [number, number];
  channelShiftRange?: number;
  /** brightness factors drawn in [lower, upper]; the result is clipped to 0..255 */
  brightnessRange?: [number, number] | null;
  horizontalFlip?: boolean;
  verticalFlip?: boolean;
  fillMode?: FillMode;
  cval?: number;
  rescale?: number | null;
  validationSplit?: number;
  /** 0 (nearest) or 1 (bilinear, the default) */
  interpolationOrder?: 0 | 1;
}

/** One image's random transform, as Keras' get_random_transform returns it (angles in degrees). */
export interface TransformParameters {
  theta: number; tx: number; ty: number; shear: number; zx: number; zy: number;
  flipHorizontal: boolean; flipVertical: boolean; channelShiftIntensity: number | null; brightness: number | null;
}

/** flow's options. */
export interface FlowOptions { batchSize?: number; shuffle?: boolean; seed?: number; subset?: 'training' | 'validation' }
/** flowFromDirectory's options. */
export interface FlowFromDirectoryOptions extends FlowOptions {
  /** [height, width], default [256, 256] */
  targetSize?: [number, number];
  colorMode?: ColorMode;
  classes?: string[];
  classMode?: ClassMode;
  /**
   * default 'nearest', like Keras' load_img; the kernels are imageDatasetFromDirectory's (tf.image.resize
   * without antialiasing), where load_img's PIL antialiases bilinear, bicubic and lanczos downscales
   */
  interpolation?: Interpolation;
}

const WHERE = 'ImageDataGenerator';

function nonNegative(v: unknown, name: string, dflt = 0): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) fail(WHERE, name, 'a number >= 0', v);
  return v;
}

function shiftRange(v: unknown, name: string): number | number[] {
  if (v === undefined || v === null) return 0;
  if (Array.isArray(v)) {
    if (!v.length || !v.every((s) => typeof s === 'number' && Number.isFinite(s))) fail(WHERE, name, 'a number >= 0 or a non-empty list of numbers', v);
    return v.slice();
  }
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) fail(WHERE, name, 'a number >= 0 or a non-empty list of numbers', v);
  return v;
}

function rangePair(v: unknown, name: string, expected: string, lowerMin: number): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((s) => typeof s === 'number' && Number.isFinite(s)) ||
    !(v[0] >= lowerMin && v[0] <= v[1])) fail(WHERE, name, expected, v);
  return [v[0], v[1]];
}

/** Keras' random shift: uniform in [-r, r] (times the size when r < 1), or a listed value with a random sign. */
function drawShift(rng: Random, r: number | number[], size: number): number {
  if (Array.isArray(r)) return r[rng.int(r.length)] * (rng.next() < 0.5 ? -1 : 1);
  const s = rng.uniform(-r, r);
  return r < 1 ? s * size : s;
}

/** Keras' ImageDataGenerator: random augmentation of image batches from arrays or directories. */
export class ImageDataGenerator {
  readonly featurewiseCenter: boolean;
  readonly samplewiseCenter: boolean;
  readonly featurewiseStdNormalization: boolean;
  readonly samplewiseStdNormalization: boolean;
  readonly rotationRange: number;
  readonly widthShiftRange: number | number[];
  readonly heightShiftRange: number | number[];
  readonly shearRange: number;
  readonly zoomRange: [number, number];
  readonly channelShiftRange: number;
  readonly brightnessRange: [number, number] | null;
  readonly horizontalFlip: boolean;
  readonly verticalFlip: boolean;
  readonly fillMode: FillMode;
  readonly cval: number;
  readonly rescale: number | null;
  readonly validationSplit: number;
  readonly interpolationOrder: 0 | 1;
  /** per-channel mean [1, 1, C] from fit() */
  mean: Tensor | null = null;
  /** per-channel std [1, 1, C] from fit() */
  std: Tensor | null = null;

  constructor(options?: ImageDataGeneratorOptions) {
    const o = checkOptions(options, WHERE);
    this.featurewiseCenter = bool(o.featurewiseCenter, 'featurewiseCenter', WHERE, false);
    this.samplewiseCenter = bool(o.samplewiseCenter, 'samplewiseCenter', WHERE, false);
    this.featurewiseStdNormalization = bool(o.featurewiseStdNormalization, 'featurewiseStdNormalization', WHERE, false);
    this.samplewiseStdNormalization = bool(o.samplewiseStdNormalization, 'samplewiseStdNormalization', WHERE, false);
    this.rotationRange = nonNegative(o.rotationRange, 'rotationRange');
    this.widthShiftRange = shiftRange(o.widthShiftRange, 'widthShiftRange');
    this.heightShiftRange = shiftRange(o.heightShiftRange, 'heightShiftRange');
    this.shearRange = nonNegative(o.shearRange, 'shearRange');
    const zoomExpected = 'a number >= 0 or [lower, upper]';
    if (typeof o.zoomRange === 'number' || o.zoomRange === undefined || o.zoomRange === null) {
      const z = o.zoomRange ?? 0;
      if (!(z >= 0) || !Number.isFinite(z)) fail(WHERE, 'zoomRange', zoomExpected, z);
      this.zoomRange = [1 - z, 1 + z];
    } else {
      this.zoomRange = rangePair(o.zoomRange, 'zoomRange', zoomExpected, -Infinity);
    }
    this.channelShiftRange = nonNegative(o.channelShiftRange, 'channelShiftRange');
    this.brightnessRange = o.brightnessRange === undefined || o.brightnessRange === null ? null
      : rangePair(o.brightnessRange, 'brightnessRange', '[lower, upper] with 0 <= lower <= upper', 0);
    this.horizontalFlip = bool(o.horizontalFlip, 'horizontalFlip', WHERE, false);
    this.verticalFlip = bool(o.verticalFlip, 'verticalFlip', WHERE, false);
    this.fillMode = oneOf(o.fillMode, 'fillMode', ['nearest', 'constant', 'reflect', 'wrap'] as const, WHERE, 'nearest');
    if (o.cval !== undefined && (typeof o.cval !== 'number' || !Number.isFinite(o.cval))) fail(WHERE, 'cval', 'a finite number', o.cval);
    this.cval = o.cval ?? 0;
    if (o.rescale !== undefined && o.rescale !== null && (typeof o.rescale !== 'number' || !Number.isFinite(o.rescale))) {
      fail(WHERE, 'rescale', 'a finite number or null', o.rescale);
    }
    this.rescale = o.rescale || null;
    this.validationSplit = fraction(o.validationSplit, 'validationSplit', WHERE);
    if (o.interpolationOrder !== undefined && o.interpolationOrder !== 0 && o.interpolationOrder !== 1) {
      fail(WHERE, 'interpolationOrder', '0 (nearest) or 1 (bilinear)', o.interpolationOrder);
    }
    this.interpolationOrder = o.interpolationOrder ?? 1;
  }

  /** Draws one image's transform from rng, in Keras' order. */
  getRandomTransform(rng: Random, height: number, width: number): TransformParameters {
    const theta = this.rotationRange ? rng.uniform(-this.rotationRange, this.rotationRange) : 0;
    const tx = drawShift(rng, this.heightShiftRange, height);
    const ty = drawShift(rng, this.widthShiftRange, width);
    const shear = this.shearRange ? rng.uniform(-this.shearRange, this.shearRange) : 0;
    let zx = 1, zy = 1;
    if (this.zoomRange[0] !== 1 || this.zoomRange[1] !== 1) {
      zx = rng.uniform(this.zoomRange[0], this.zoomRange[1]);
      zy = rng.uniform(this.zoomRange[0], this.zoomRange[1]);
    }
    const flipHorizontal = this.horizontalFlip && rng.next() < 0.5;
    const flipVertical = this.verticalFlip && rng.next() < 0.5;
    const channelShiftIntensity = this.channelShiftRange ? rng.uniform(-this.channelShiftRange, this.channelShiftRange) : null;
    const brightness = this.brightnessRange ? rng.uniform(this.brightnessRange[0], this.brightnessRange[1]) : null;
    return { theta, tx, ty, shear, zx, zy, flipHorizontal, flipVertical, channelShiftIntensity, brightness };
  }

  /**
   * The 2x3 matrix (x = column, y = row, about the image centre) mapping an output pixel to the
   * input point it samples: rotation . shift . shear . zoom, as Keras composes them, then the flips.
   * tx shifts rows (heightShiftRange) and ty columns (widthShiftRange), in pixels.
   */
  static transformMatrix(p: TransformParameters): number[] {
    return tidy(() => Array.from(matrices([p]).dataSync() as Float64Array));
  }

  /** Applies one transform per image to a batch x [N, h, w, c] (uint8 or float; the result is float). */
  applyTransforms(x: Tensor, params: TransformParameters[]): Tensor {
    checkImages(x, 'applyTransforms');
    if (params.length !== x.shape[0]) throw new TypeError(`${WHERE}.applyTransforms: expected ${x.shape[0]} transforms but received ${params.length}`);
    return this.transform(x, params, 1).out;
  }

  /**
   * The transforms of applyTransforms, with the result multiplied by `scale` inside the
   * resampling when no colour step comes after it (`scaled` says whether it was).
   */
  private transform(x: Tensor, params: TransformParameters[], scale: number): { out: Tensor; scaled: boolean } {
    let scaled = false;
    const out = tidy(() => {
      const colour = hasColour(params);
      const anyFlip = params.some((p) => p.flipHorizontal || p.flipVertical);
      let out: Tensor;
      if (isAffine(params)) {
        // the native side reads uint8 and float32/64 directly and turns other dtypes into float32
        scaled = !colour;
        out = wrap(native.data_affine_transform(x._h, matrices(params)._h, this.interpolationOrder ? 'bilinear' : 'nearest',
          this.fillMode, this.cval, scaled ? scale : 1));
      } else {
        out = x.dtype === 'float32' || x.dtype === 'float64' ? x : x.to('float32');
        if (anyFlip) {
          // no resampling needed: exact flips
          const flipWhere = (mask: boolean[], dim: number) => {
            const mk = tensor(mask.map((f) => (f ? 1 : 0)), { dtype: 'bool' }).reshape([mask.length, 1, 1, 1]);
            return out.flip([dim]).where(mk, out);
          };
          if (params.some((p) => p.flipHorizontal)) out = flipWhere(params.map((p) => p.flipHorizontal), 2);
          if (params.some((p) => p.flipVertical)) out = flipWhere(params.map((p) => p.flipVertical), 1);
        }
      }
      if (params.some((p) => p.channelShiftIntensity !== null)) {
        // Keras: x + intensity, clipped to the image's own min and max
        const n = params.length;
        const flat = out.reshape([n, -1]);
        const lo = flat.min(1, true).values.reshape([n, 1, 1, 1]);
        const hi = flat.max(1, true).values.reshape([n, 1, 1, 1]);
        const shift = tensor(params.map((p) => p.channelShiftIntensity ?? 0), { dtype: out.dtype }).reshape([n, 1, 1, 1]);
        out = out.add(shift).maximum(lo).minimum(hi);
      }
      if (params.some((p) => p.brightness !== null)) {
        const b = tensor(params.map((p) => p.brightness ?? 1), { dtype: out.dtype }).reshape([params.length, 1, 1, 1]);
        out = out.mul(b).clamp(0, 255);
      }
      return out === x ? x.clone() : out;
    });
    return { out, scaled };
  }

  /** Random transforms for a batch from rng. */
  randomTransform(x: Tensor, rng: Random): Tensor {
    checkImages(x, 'randomTransform');
    const [n, h, w] = x.shape;
    return this.applyTransforms(x, this.randomTransforms(rng, n, h, w));
  }

  /** @internal n images' transforms, drawn in order */
  randomTransforms(rng: Random, n: number, height: number, width: number): TransformParameters[] {
    return Array.from({ length: n }, () => this.getRandomTransform(rng, height, width));
  }

  /** rescale, samplewise and featurewise normalization, in Keras' order. */
  standardize(x: Tensor): Tensor {
    checkImages(x, 'standardize');
    return this.normalize(x, true);
  }

  private normalize(x: Tensor, rescale: boolean): Tensor {
    if ((this.featurewiseCenter && !this.mean) || (this.featurewiseStdNormalization && !this.std)) {
      throw new Error(`${WHERE}: featurewiseCenter and featurewiseStdNormalization need fit(x) to be called first`);
    }
    return tidy(() => {
      let out = x.dtype === 'float32' || x.dtype === 'float64' ? x : x.to('float32');
      if (this.rescale && rescale) out = out.mul(this.rescale);
      if (this.samplewiseCenter) out = out.sub(out.mean({ dim: [1, 2, 3], keepdim: true }));
      if (this.samplewiseStdNormalization) out = out.div(out.std([1, 2, 3], false, true).add(1e-6));
      if (this.featurewiseCenter) out = out.sub(this.mean!);
      if (this.featurewiseStdNormalization) out = out.div(this.std!.add(1e-6));
      return out === x ? x.clone() : out;
    });
  }

  /**
   * @internal A batch's random transforms and standardization: what the iterators yield. The
   * rescale happens inside the resampling when it can, saving a pass over the batch.
   */
  augment(x: Tensor, params: TransformParameters[]): Tensor {
    const { out, scaled } = this.transform(x, params, this.rescale ?? 1);
    return this.normalizeRest(out, scaled);
  }

  /** what standardize() still has to do to out (rescaled already when `scaled`); disposes out if it makes a new tensor */
  private normalizeRest(out: Tensor, scaled: boolean): Tensor {
    const more = (this.rescale && !scaled) || this.samplewiseCenter || this.samplewiseStdNormalization || this.featurewiseCenter ||
      this.featurewiseStdNormalization;
    if (!more) return out;
    try {
      return this.normalize(out, !scaled);
    } finally {
      out.dispose();
    }
  }

  /** Per-channel mean and std of x [N, h, w, c] (after rescale) for the featurewise options. */
  fit(x: Tensor): this {
    checkImages(x, 'fit');
    const c = x.shape[3];
    const [mean, std] = tidy(() => {
      let f = x.to('float32');
      if (this.rescale) f = f.mul(this.rescale);
      const mean = f.mean({ dim: [0, 1, 2] }).reshape([1, 1, c]);
      const std = f.sub(mean).std([0, 1, 2], false).reshape([1, 1, c]);
      return [mean, std];
    });
    this.mean?.dispose();
    this.std?.dispose();
    this.mean = mean;
    this.std = std;
    return this;
  }

  /** Batches of [augmented x, y] from tensors: x [N, h, w, c] channels-last, y [N, ...] or null. */
  flow(x: Tensor, y?: Tensor | null, options?: FlowOptions): ArrayIterator {
    checkImages(x, 'flow');
    if (y !== undefined && y !== null && (!(y instanceof Tensor) || y.shape[0] !== x.shape[0])) {
      fail(`${WHERE}.flow`, 'y', `a Tensor with ${x.shape[0]} rows (one per image) or null`, y instanceof Tensor ? `a Tensor of shape [${y.shape.join(', ')}]` : y);
    }
    const o = flowOptions(options, `${WHERE}.flow`);
    let idx = Array.from({ length: x.shape[0] }, (_, i) => i);
    if (o.subset) {
      if (!this.validationSplit) throw new TypeError(`${WHERE}.flow: subset '${o.subset}' needs the generator's validationSplit`);
      const nVal = Math.floor(this.validationSplit * idx.length);
      idx = o.subset === 'validation' ? idx.slice(0, nVal) : idx.slice(nVal);
    }
    return new ArrayIterator(this, x, y ?? null, idx, o.batchSize, o.shuffle, o.seed);
  }

  /** Batches of [augmented images, labels] from one subfolder per class, like Keras' flow_from_directory. */
  flowFromDirectory(directory: string, options: FlowFromDirectoryOptions & { classMode: null }): DirectoryIterator<[Tensor]>;
  flowFromDirectory(directory: string, options?: FlowFromDirectoryOptions): DirectoryIterator<[Tensor, Tensor]>;
  flowFromDirectory(directory: string, options?: FlowFromDirectoryOptions): DirectoryIterator<[Tensor] | [Tensor, Tensor]> {
    const where = `${WHERE}.flowFromDirectory`;
    const o = checkOptions(options, where);
    const f = flowOptions(o, where);
    const [height, width] = sizeOf(o.targetSize, 'targetSize', where, [256, 256]);
    const colorMode = oneOf(o.colorMode, 'colorMode', ['rgb', 'grayscale', 'rgba'] as const, where, 'rgb');
    const interpolation = oneOf(o.interpolation, 'interpolation', INTERPOLATIONS, where, 'nearest');
    const classMode = o.classMode === null ? null
      : oneOf(o.classMode, 'classMode', ['categorical', 'binary', 'sparse', 'input'] as const, where, 'categorical');
    const index = indexDirectory(directory, o.classes, where);
    if (classMode === 'binary' && index.classNames.length !== 2) {
      throw new Error(`${where}: classMode 'binary' needs exactly 2 classes but '${path.resolve(directory)}' has ` +
        `${index.classNames.length}: ${received(index.classNames)}`);
    }
    if (f.subset && !this.validationSplit) throw new TypeError(`${where}: subset '${f.subset}' needs the generator's validationSplit`);
    const files: string[] = [];
    const classes: number[] = [];
    index.perClass.forEach((list, c) => {
      // Keras splits each class: the first validationSplit of its files are the validation subset
      const cut = Math.floor(this.validationSplit * list.length);
      const part = f.subset === 'validation' ? list.slice(0, cut) : f.subset === 'training' ? list.slice(cut) : list;
      files.push(...part);
      classes.push(...part.map(() => c));
    });
    // Keras prints this line for every flow_from_directory call
    console.log(`Found ${files.length} images belonging to ${index.classNames.length} classes.`);
    return new DirectoryIterator(this, files, classes, index.classNames, classMode, { height, width, colorMode, interpolation },
      f.batchSize, f.shuffle, f.seed);
  }
}

function isAffine(params: TransformParameters[]): boolean {
  return params.some((p) => p.theta !== 0 || p.tx !== 0 || p.ty !== 0 || p.shear !== 0 || p.zx !== 1 || p.zy !== 1);
}

function hasColour(params: TransformParameters[]): boolean {
  return params.some((p) => p.channelShiftIntensity !== null || p.brightness !== null);
}

/** [N, 2, 3] float64, one transformMatrix per image (native/data.cc TransformMatrix, which the Keras random layers use too) */
function matrices(params: TransformParameters[]): Tensor {
  const p = new Float64Array(params.length * 8);
  params.forEach((q, i) => p.set([q.theta, q.tx, q.ty, q.shear, q.zx, q.zy, q.flipHorizontal ? 1 : 0, q.flipVertical ? 1 : 0], i * 8));
  return tidy(() => wrap(native.data_transform_matrices(tensor(p, { dtype: 'float64', shape: [params.length, 8] })._h)));
}

function checkImages(x: unknown, op: string): asserts x is Tensor {
  if (!(x instanceof Tensor) || x.ndim !== 4) {
    fail(`${WHERE}.${op}`, 'x', 'a [N, height, width, channels] Tensor', x instanceof Tensor ? `a Tensor of shape [${x.shape.join(', ')}]` : x);
  }
}

function flowOptions(options: FlowOptions | undefined, where: string): Required<Omit<FlowOptions, 'subset'>> & Pick<FlowOptions, 'subset'> {
  const o = checkOptions(options, where);
  return {
    batchSize: positiveInt(o.batchSize, 'batchSize', where, 32),
    shuffle: bool(o.shuffle, 'shuffle', where, true),
    seed: seedOf(o.seed, where) ?? randomSeed(),
    subset: o.subset === undefined || o.subset === null ? undefined : oneOf(o.subset, 'subset', ['training', 'validation'] as const, where, 'training'),
  };
}

/** Shared by flow and flowFromDirectory: epochs, seeded order, random transforms, standardization. */
abstract class BatchIterator<T extends Tensor[]> implements AsyncIterable<T> {
  private epoch = 0;
  constructor(protected readonly generator: ImageDataGenerator, readonly samples: number, readonly batchSize: number,
    private readonly shuffle: boolean, private readonly seed: number) {}
  /** batches per epoch */
  get length(): number {
    return Math.ceil(this.samples / this.batchSize);
  }
  /** [height, width] of the images load() returns */
  protected abstract imageSize(): [number, number];
  protected abstract load(positions: number[]): Promise<{ x: Tensor; extra: Tensor[] }>;
  protected abstract finish(x: Tensor, positions: number[], extra: Tensor[]): T;
  /** One epoch; epoch e of a seed always yields the same batches. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    const rng = new Random(this.seed, this.epoch++);
    const order = Array.from({ length: this.samples }, (_, i) => i);
    if (this.shuffle) rng.shuffle(order);
    const [h, w] = this.imageSize();
    // transforms are drawn when a batch is requested (in batch order) rather than when its images
    // arrive, which can be out of order: prefetching and decoding times never change them
    return prefetched(this.length, 3, async (b) => {
      const pos = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
      const params = this.generator.randomTransforms(rng, pos.length, h, w);
      const { x, extra } = await this.load(pos);
      // resampled on this thread: in a libuv thread it took more CPU (system time) and gained no
      // throughput on 2 cores, the decoding already keeping the other core busy
      return tidy(() => {
        const aug = this.generator.augment(x, params);
        x.dispose();
        return this.finish(aug, pos, extra);
      });
    });
  }
}

/** Augmented batches of in-memory images (ImageDataGenerator.flow). */
export class ArrayIterator extends BatchIterator<[Tensor, Tensor]> {
  /** @internal */
  constructor(generator: ImageDataGenerator, private readonly x: Tensor, private readonly y: Tensor | null,
    private readonly indices: number[], batchSize: number, shuffle: boolean, seed: number) {
    super(generator, indices.length, batchSize, shuffle, seed);
  }
  protected imageSize(): [number, number] {
    return [this.x.shape[1], this.x.shape[2]];
  }
  protected async load(pos: number[]): Promise<{ x: Tensor; extra: Tensor[] }> {
    const idx = tensor(BigInt64Array.from(pos, (p) => BigInt(this.indices[p])));
    const x = this.x.indexSelect(0, idx);
    const extra = this.y ? [this.y.indexSelect(0, idx)] : [];
    idx.dispose();
    return { x, extra };
  }
  /** with y null, the batch is [x, x] */
  protected finish(x: Tensor, _pos: number[], extra: Tensor[]): [Tensor, Tensor] {
    return [x, extra[0] ?? x.clone()];
  }
}

/** Augmented batches of image files (ImageDataGenerator.flowFromDirectory). */
export class DirectoryIterator<T extends [Tensor] | [Tensor, Tensor]> extends BatchIterator<T> {
  /** @internal */
  constructor(generator: ImageDataGenerator, readonly filenames: string[], readonly classes: number[], readonly classNames: string[],
    readonly classMode: ClassMode, private readonly decode: DecodeOptions, batchSize: number, shuffle: boolean, seed: number) {
    super(generator, filenames.length, batchSize, shuffle, seed);
  }
  /** class name -> label, like Keras' class_indices */
  get classIndices(): Record<string, number> {
    return Object.fromEntries(this.classNames.map((c, i) => [c, i]));
  }
  protected imageSize(): [number, number] {
    return [this.decode.height, this.decode.width];
  }
  protected async load(pos: number[]): Promise<{ x: Tensor; extra: Tensor[] }> {
    return { x: await loadImageBytes(pos.map((p) => this.filenames[p]), this.decode, `${WHERE}.flowFromDirectory`), extra: [] };
  }
  protected finish(x: Tensor, pos: number[]): T {
    if (this.classMode === null) return [x] as T;
    if (this.classMode === 'input') return [x, x.clone()] as T;
    const labels = pos.map((p) => this.classes[p]);
    return [x, labelTensor(labels, this.classMode, this.classNames.length, 'vector')] as T;
  }
}
