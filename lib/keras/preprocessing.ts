// Keras' image preprocessing layers: RandomFlip, RandomRotation, RandomZoom and RandomTranslation
// (active only while training), Rescaling and Resizing (always). Channels-last images. All are
// native steps (native/keras_preprocessing.cc: flips with a per-image mask, one affine resampling
// per batch through the code ImageDataGenerator uses, resizing as two matmuls), so eager calls,
// predict and every training loop run one definition.
import { Tensor, checkTensor } from '../tensor';
import { isFloating } from '../dtype';
import { tidy } from '../memory';
import { native, NativeObject } from '../native';
import { received, seedOf } from '../data/images';
import {
  Layer, LayerOptions, NativeStep, checkLayerOptions, positiveInt, shapeStr, configBase, configPick, registerBuiltinCall, runStep,
} from './layers';

type Config = Record<string, unknown>;

/** Which flips RandomFlip draws (Keras' mode). */
export type FlipMode = 'horizontal' | 'vertical' | 'horizontal_and_vertical';
/** How points outside the input are filled by the random affine layers (Keras' fill_mode). */
export type FillMode = 'reflect' | 'wrap' | 'constant' | 'nearest';
/** Pixel interpolation of the random affine layers (Keras' interpolation). */
export type TransformInterpolation = 'bilinear' | 'nearest';
/** Resizing's interpolation method (Keras' interpolation). */
export type ResizeInterpolation = 'bilinear' | 'nearest' | 'bicubic' | 'area';
/** A fraction f (drawn in [-f, f]) or [lower, upper]. */
export type Factor = number | [number, number];

/** Options of RandomFlip: the layer options plus seed. */
export interface RandomFlipOptions extends LayerOptions { seed?: number | null }
/** Options of RandomRotation, RandomZoom, RandomTranslation: fillMode, interpolation, seed, fillValue. */
export interface RandomTransformOptions extends LayerOptions {
  /** how points outside the image are filled (Keras' default 'reflect') */
  fillMode?: FillMode;
  interpolation?: TransformInterpolation;
  seed?: number | null;
  /** the value for fillMode 'constant' */
  fillValue?: number;
}
/** Options of Resizing: interpolation and cropToAspectRatio. */
export interface ResizingOptions extends LayerOptions {
  interpolation?: ResizeInterpolation;
  /** crop the largest centred window of the target aspect ratio first, so images are not distorted */
  cropToAspectRatio?: boolean;
}

const FLIP_MODES: readonly FlipMode[] = ['horizontal', 'vertical', 'horizontal_and_vertical'];
const FILL_MODES: readonly FillMode[] = ['reflect', 'wrap', 'constant', 'nearest'];
const RESIZE_METHODS: readonly ResizeInterpolation[] = ['bilinear', 'nearest', 'bicubic', 'area'];
const TRANSFORM_KEYS = ['fillMode', 'interpolation', 'seed', 'fillValue', 'dataFormat'];

function fail(where: string, name: string, expected: string, v: unknown): never {
  throw new TypeError(`${where}: expected ${name} to be ${expected} but received ${received(v)}`);
}

function oneOf<T extends string>(where: string, name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T)) fail(where, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  return v as T;
}

/** Keras' factor: f >= 0 means [-f, f]; a pair is [lower, upper]; every bound within [-1, 1]. */
function factorRange(where: string, name: string, v: unknown): [number, number] {
  const inRange = (f: unknown) => typeof f === 'number' && Number.isFinite(f) && f >= -1 && f <= 1;
  if (typeof v === 'number' && inRange(v) && v >= 0) return [-v, v];
  if (Array.isArray(v) && v.length === 2 && v.every(inRange) && v[0] <= v[1]) return [v[0], v[1]];
  return fail(where, name, 'a number in [0, 1] or [lower, upper] with -1 <= lower <= upper <= 1', v);
}

function finiteNumber(where: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, name, 'a finite number', v);
  return v;
}

function checkDataFormat(where: string, v: unknown): void {
  if (v !== undefined && v !== 'channels_last') fail(where, 'dataFormat', "'channels_last' (Keras' default; channels-first is not supported)", v);
}

/** A layer over channels-last images: [batch, h, w, c] in a model, or one [h, w, c] image called directly. */
abstract class ImageLayer extends Layer {
  protected get where(): string {
    return `${this.name} (${this.constructor.name})`;
  }
  protected checkShape(s: number[]): void {
    if (s.length !== 3) throw new RangeError(`${this.where}: expected inputs of shape (batch, height, width, channels) but got ${shapeStr(s)}`);
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    this.checkShape(s);
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    this.checkShape(s);
    return s;
  }
  /** Whether a direct call (no training option) counts as training: Keras' random layers augment then. */
  protected get trainingByDefault(): boolean {
    return false;
  }
  /** Runs the layer's native step on a batch, or on one [h, w, c] image (Keras' call). */
  override call(x: Tensor, opts?: { training?: boolean }): Tensor {
    const training = opts?.training ?? this.trainingByDefault;
    return tidy(() => {
      const { batch, single } = this.batchOf(x);
      const out = runStep(this.runnableStep()!, batch, training)[0];
      return single ? out.squeeze(0) : out;
    });
  }
  /** x as a floating [N, h, w, c] batch; single when x was one [h, w, c] image. Call inside tidy(). */
  protected batchOf(x: unknown): { batch: Tensor; single: boolean } {
    const t = checkTensor(x, this.where, 'images');
    if (t.ndim !== 3 && t.ndim !== 4) {
      throw new RangeError(`${this.where}: expected images of shape (batch, height, width, channels) or (height, width, channels) ` +
        `but got a tensor of shape [${t.shape.join(', ')}]`);
    }
    const channels = (this.builtInputShape ?? this.inputShape)?.[2];
    const c = t.shape[t.ndim - 1];
    if (channels !== undefined && c !== channels) {
      throw new RangeError(`${this.where}: expected images with ${channels} channels (the last dimension) but got a tensor of shape [${t.shape.join(', ')}]`);
    }
    const f = isFloating(t.dtype) ? t : t.to('float32');
    return { batch: t.ndim === 3 ? f.unsqueeze(0) : f, single: t.ndim === 3 };
  }
}

registerBuiltinCall(ImageLayer.prototype.call);

/**
 * The random layers: identity unless training. Their native step (native/keras_preprocessing.cc) draws
 * one transform per image, from the layer's own generator under a seed, else libtorch's, and is
 * what eager calls, predict and every training loop run.
 */
abstract class RandomImageLayer extends ImageLayer {
  readonly seed: number | null;
  private native?: NativeObject;
  constructor(where: string, o: Record<string, unknown>) {
    super(o);
    this.seed = seedOf(o.seed, where) ?? null;
    checkDataFormat(where, o.dataFormat);
  }
  /** The native module's options: which transform and its ranges (native/keras_preprocessing.cc). */
  protected abstract transformOptions(): Record<string, unknown>;
  /** The native step that runs this layer in eager calls and the training loop (integer images become float32). */
  override nativeStep(): NativeStep {
    this.native ??= native.nn_module_create('KerasRandomImage', {
      layer: this.constructor.name, ...this.transformOptions(), ...(this.seed === null ? {} : { seed: this.seed }),
    });
    return { module: this.native, castFloat: true };
  }
  /** A direct call augments (Keras' default); fit and predict say whether they train. */
  protected override get trainingByDefault(): boolean {
    return true;
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), seed: this.seed };
  }
}

/** The affine random layers: one transform per image, resampled in one native call per batch. */
abstract class RandomAffineLayer extends RandomImageLayer {
  readonly fillMode: FillMode;
  readonly interpolation: TransformInterpolation;
  readonly fillValue: number;
  constructor(where: string, o: Record<string, unknown>) {
    super(where, o);
    this.fillMode = oneOf(where, 'fillMode', o.fillMode, FILL_MODES, 'reflect');
    this.interpolation = oneOf(where, 'interpolation', o.interpolation, ['bilinear', 'nearest'] as const, 'bilinear');
    this.fillValue = finiteNumber(where, 'fillValue', o.fillValue, 0);
  }
  /** The transform and its factor ranges, as the native module reads them. */
  protected abstract ranges(): Record<string, unknown>;
  protected transformOptions(): Record<string, unknown> {
    return { ...this.ranges(), fillMode: this.fillMode, interpolation: this.interpolation, fillValue: this.fillValue };
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), fillMode: this.fillMode, interpolation: this.interpolation, fillValue: this.fillValue };
  }
}

/** Flips each image left-right and/or up-down with probability 1/2 while training. */
export class RandomFlip extends RandomImageLayer {
  readonly mode: FlipMode;
  constructor(mode: FlipMode = 'horizontal_and_vertical', opts?: RandomFlipOptions) {
    const o = checkLayerOptions('RandomFlip', opts, ['seed', 'dataFormat']);
    super('RandomFlip', o);
    this.mode = oneOf('RandomFlip', 'mode', mode, FLIP_MODES, 'horizontal_and_vertical');
  }
  protected transformOptions(): Record<string, unknown> {
    return { transform: 'flip', mode: this.mode };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): RandomFlip {
    return new RandomFlip(c.mode as FlipMode, { ...configBase(c), ...configPick(c, ['seed']) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), mode: this.mode };
  }
}

/** Rotates each image by factor * 2π radians drawn per image (positive: counter-clockwise) while training. */
export class RandomRotation extends RandomAffineLayer {
  readonly factor: Factor;
  private readonly range: [number, number];
  constructor(factor: Factor, opts?: RandomTransformOptions) {
    const o = checkLayerOptions('RandomRotation', opts, TRANSFORM_KEYS);
    super('RandomRotation', o);
    this.range = factorRange('RandomRotation', 'factor', factor);
    this.factor = Array.isArray(factor) ? [factor[0], factor[1]] : factor;
  }
  protected ranges(): Record<string, unknown> {
    return { transform: 'rotation', height: this.range };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): RandomRotation {
    return new RandomRotation(c.factor as Factor, { ...configBase(c), ...configPick(c, TRANSFORM_KEYS) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), factor: this.factor };
  }
}

/** Zooms each image by 1 + a factor drawn per image (positive zooms out, negative in) while training. */
export class RandomZoom extends RandomAffineLayer {
  readonly heightFactor: Factor;
  /** null keeps the aspect ratio: the width zooms by the height's factor */
  readonly widthFactor: Factor | null;
  private readonly heightRange: [number, number];
  private readonly widthRange: [number, number] | null;
  constructor(heightFactor: Factor, widthFactor?: Factor | null, opts?: RandomTransformOptions) {
    const o = checkLayerOptions('RandomZoom', opts, TRANSFORM_KEYS);
    super('RandomZoom', o);
    this.heightRange = factorRange('RandomZoom', 'heightFactor', heightFactor);
    this.widthRange = widthFactor === undefined || widthFactor === null ? null : factorRange('RandomZoom', 'widthFactor', widthFactor);
    this.heightFactor = Array.isArray(heightFactor) ? [heightFactor[0], heightFactor[1]] : heightFactor;
    this.widthFactor = widthFactor === undefined || widthFactor === null ? null
      : Array.isArray(widthFactor) ? [widthFactor[0], widthFactor[1]] : widthFactor;
  }
  protected ranges(): Record<string, unknown> {
    return { transform: 'zoom', height: this.heightRange, width: this.widthRange ?? [] };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): RandomZoom {
    return new RandomZoom(c.heightFactor as Factor, c.widthFactor as Factor | null, { ...configBase(c), ...configPick(c, TRANSFORM_KEYS) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), heightFactor: this.heightFactor, widthFactor: this.widthFactor };
  }
}

/** Shifts each image by fractions of its height and width drawn per image (positive: down, right) while training. */
export class RandomTranslation extends RandomAffineLayer {
  readonly heightFactor: Factor;
  readonly widthFactor: Factor;
  private readonly heightRange: [number, number];
  private readonly widthRange: [number, number];
  constructor(heightFactor: Factor, widthFactor: Factor, opts?: RandomTransformOptions) {
    const o = checkLayerOptions('RandomTranslation', opts, TRANSFORM_KEYS);
    super('RandomTranslation', o);
    this.heightRange = factorRange('RandomTranslation', 'heightFactor', heightFactor);
    this.widthRange = factorRange('RandomTranslation', 'widthFactor', widthFactor);
    this.heightFactor = Array.isArray(heightFactor) ? [heightFactor[0], heightFactor[1]] : heightFactor;
    this.widthFactor = Array.isArray(widthFactor) ? [widthFactor[0], widthFactor[1]] : widthFactor;
  }
  protected ranges(): Record<string, unknown> {
    return { transform: 'translation', height: this.heightRange, width: this.widthRange };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): RandomTranslation {
    return new RandomTranslation(c.heightFactor as Factor, c.widthFactor as Factor, { ...configBase(c), ...configPick(c, TRANSFORM_KEYS) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), heightFactor: this.heightFactor, widthFactor: this.widthFactor };
  }
}

function numbers(where: string, name: string, v: unknown, dflt: number): number | number[] {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (Array.isArray(v) && v.length > 0 && v.every((f) => typeof f === 'number' && Number.isFinite(f))) return [...v];
  return fail(where, name, 'a finite number or a non-empty array of them (one per channel)', v);
}

/** x * scale + offset, always (training or not); scale and offset may be per channel (the last dimension). */
export class Rescaling extends Layer {
  readonly scale: number | number[];
  readonly offset: number | number[];
  constructor(scale: number | number[], offset: number | number[] = 0, opts?: LayerOptions) {
    const o = checkLayerOptions('Rescaling', opts, []);
    super(o);
    this.scale = numbers('Rescaling', 'scale', scale, 1);
    this.offset = numbers('Rescaling', 'offset', offset, 0);
  }
  private checkChannels(c: number | undefined): void {
    for (const [name, v] of [['scale', this.scale], ['offset', this.offset]] as const) {
      if (Array.isArray(v) && v.length !== 1 && v.length !== c) {
        throw new RangeError(`${this.name} (Rescaling): ${name} has ${v.length} values but the inputs have ${c ?? 'no'} channels (the last dimension)`);
      }
    }
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    this.checkChannels(s[s.length - 1]);
    this.built = true;
  }
  /** The native step that runs this layer in eager calls and the training loop (integer inputs become float32). */
  override nativeStep(): NativeStep {
    const list = (v: number | number[]): number[] => (typeof v === 'number' ? [v] : v);
    return { castFloat: true, scale: list(this.scale), offset: list(this.offset) };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Rescaling {
    return new Rescaling(c.scale as number | number[], c.offset as number | number[], configBase(c));
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}

/** Resizes images to [height, width] always (training or not), like Keras' Resizing. */
export class Resizing extends ImageLayer {
  readonly height: number;
  readonly width: number;
  readonly interpolation: ResizeInterpolation;
  readonly cropToAspectRatio: boolean;
  private native?: NativeObject;
  constructor(height: number, width: number, opts?: ResizingOptions) {
    const o = checkLayerOptions('Resizing', opts, ['interpolation', 'cropToAspectRatio', 'dataFormat']);
    super(o);
    this.height = positiveInt('Resizing', 'height', height);
    this.width = positiveInt('Resizing', 'width', width);
    this.interpolation = oneOf('Resizing', 'interpolation', o.interpolation, RESIZE_METHODS, 'bilinear');
    if (o.cropToAspectRatio !== undefined && typeof o.cropToAspectRatio !== 'boolean') fail('Resizing', 'cropToAspectRatio', 'a boolean', o.cropToAspectRatio);
    this.cropToAspectRatio = (o.cropToAspectRatio as boolean | undefined) ?? false;
    checkDataFormat('Resizing', o.dataFormat);
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    this.checkShape(s);
    return [this.height, this.width, s[2]];
  }
  /** The native step that runs this layer in eager calls, predict and the training loop (native/keras_preprocessing.cc). */
  override nativeStep(): NativeStep {
    this.native ??= native.nn_module_create('KerasResizing', {
      height: this.height, width: this.width, interpolation: this.interpolation, cropToAspectRatio: this.cropToAspectRatio,
    });
    return { module: this.native, castFloat: true };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Resizing {
    return new Resizing(c.height as number, c.width as number, { ...configBase(c), ...configPick(c, ['interpolation', 'cropToAspectRatio']) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), height: this.height, width: this.width, interpolation: this.interpolation, cropToAspectRatio: this.cropToAspectRatio };
  }
}
