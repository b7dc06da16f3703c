// More Keras layers over torch::nn: Conv1D, global pooling, BatchNormalization, LayerNormalization,
// Embedding, SimpleRNN/LSTM/GRU and Bidirectional. Weights live in PyTorch's layouts and convert to
// Keras' layouts (and gate orders) in getWeights/setWeights; each layer runs as a native step.
import { noGrad } from '../autograd';
import { Tensor, typeOfValue, checkTensor } from '../tensor';
import { cat, stack } from '../ops';
import * as nn from '../nn';
import {
  Layer, LayerOptions, LayerWeight, NativeStep, Regularizer, ActivationName, Initializer, checkActivation,
  checkLayerOptions, checkInitializer, initialize, positiveInt, shapeStr, configBase, configPick, DENSE_KEYS,
  layerArgs,
} from './layers';
import { deserializeLayer } from './engine/layer';

type Config = Record<string, unknown>;
const NORM_KEYS = ['axis', 'epsilon', 'center', 'scale', 'betaInitializer', 'gammaInitializer'];
const RNN_KEYS = ['activation', 'useBias', 'returnSequences', 'goBackwards', 'kernelInitializer', 'recurrentInitializer',
  'biasInitializer', 'kernelRegularizer', 'biasRegularizer'];

/** The native/model.cc Step fields these layers use besides NativeStep's. */
export interface NativeStepMore extends NativeStep {
  castLong?: boolean;
  flipTime?: boolean;
  finalHidden?: boolean;
  merge?: MergeMode;
  reduceDims?: number[];
  reduce?: 'mean' | 'max';
  keepDims?: boolean;
  indexLimit?: number;
}

/** An int or a 1-element list (Keras' Conv1D kernel_size=(3,)). */
function single(where: string, name: string, v: unknown): number {
  const x = Array.isArray(v) && v.length === 1 ? v[0] : v;
  if (typeof x === 'number' && Number.isSafeInteger(x) && x > 0) return x;
  throw new TypeError(`${where}: expected ${name} to be a positive integer but received ${JSON.stringify(v) ?? typeOfValue(v)}`);
}

function bool(where: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  throw new TypeError(`${where}: expected ${name} to be a boolean but received ${typeOfValue(v)}`);
}

function fraction(where: string, name: string, v: unknown, dflt: number, lo: number, hi: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && v >= lo && v <= hi) return v;
  throw new TypeError(`${where}: expected ${name} in [${lo}, ${hi}] but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}

function positiveNumber(where: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  throw new TypeError(`${where}: expected ${name} to be a positive number but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}

/** Every initializer name is in layers.ts (Initializer); the alias stays for this file's option types. */
export type MoreInitializer = Initializer;

function channelsLastOnly(where: string, v: unknown): void {
  if (v !== undefined && v !== 'channels_last') throw new TypeError(`${where}: only dataFormat 'channels_last' (Keras' default) is supported`);
}

/** Options of Conv1D (Keras' Conv1D kwargs in camelCase): strides, padding, dilationRate, activation, weights. */
export interface Conv1DOptions extends LayerOptions {
  /** step of the window along each spatial dim */
  strides?: number | [number];
  /** 'valid' (no padding) or 'same' (zero padding that keeps the input's size at stride 1) */
  padding?: 'valid' | 'same';
  /** spacing between kernel taps (default 1) */
  dilationRate?: number | [number];
  /** activation applied to the output (default 'linear', none) */
  activation?: ActivationName;
  /** whether the layer adds a bias (default true) */
  useBias?: boolean;
  /** initializer of the kernel (default 'glorot_uniform') */
  kernelInitializer?: Initializer;
  /** initializer of the bias (default 'zeros') */
  biasInitializer?: Initializer;
  /** penalty on the kernel, added to the loss (regularizers.l2(...)) */
  kernelRegularizer?: Regularizer;
  /** penalty on the bias, added to the loss */
  biasRegularizer?: Regularizer;
  /** only 'channels_last' (Keras' default) is supported */
  dataFormat?: 'channels_last';
}

/** Keras' Conv1D over [batch, steps, channels]; a Conv1d on the [N, C, L] view. */
export class Conv1D extends Layer {
  /** the number of output channels */
  readonly filters: number;
  /** the convolution window's size */
  readonly kernelSize: number;
  /** step of the window along each spatial dim */
  readonly strides: number;
  /** 'valid' (no padding) or 'same' (zero padding that keeps the input's size at stride 1) */
  readonly padding: 'valid' | 'same';
  /** spacing between kernel taps (default 1) */
  readonly dilationRate: number;
  /** activation applied to the output (default 'linear', none) */
  readonly activation: ActivationName;
  /** whether the layer adds a bias (default true) */
  readonly useBias: boolean;
  /** initializer of the kernel (default 'glorot_uniform') */
  readonly kernelInitializer: MoreInitializer;
  /** initializer of the bias (default 'zeros') */
  readonly biasInitializer: MoreInitializer;
  conv: nn.Conv1d | undefined;
  /** Conv1D(filters, kernelSize, strides?, padding?, options?) as in Keras, or Conv1D({ filters, kernelSize, ... }). */
  constructor(...args: [filters: number, kernelSize: number | [number], options?: Conv1DOptions]
    | [filters: number, kernelSize: number | [number], strides: number | [number], padding?: 'valid' | 'same', options?: Conv1DOptions]
    | [options: Conv1DOptions & { filters: number; kernelSize: number | [number] }]) {
    const o = layerArgs('Conv1D', args, ['filters', 'kernelSize', 'strides', 'padding'], ['dilationRate', 'activation', 'useBias',
      'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer', 'dataFormat']);
    super(o);
    this.filters = positiveInt('Conv1D', 'filters', o.filters);
    this.kernelSize = single('Conv1D', 'kernelSize', o.kernelSize);
    this.strides = single('Conv1D', 'strides', o.strides ?? 1);
    this.dilationRate = single('Conv1D', 'dilationRate', o.dilationRate ?? 1);
    const padding = o.padding ?? 'valid';
    if (padding === 'causal') throw new TypeError("Conv1D: padding 'causal' is not supported yet; use 'valid' or 'same'");
    if (padding !== 'valid' && padding !== 'same') throw new TypeError(`Conv1D: expected padding 'valid' or 'same' but received ${JSON.stringify(padding)}`);
    if (padding === 'same' && this.strides !== 1) {
      throw new TypeError("Conv1D: padding 'same' with strides other than 1 is not supported yet; use padding 'valid' or strides 1");
    }
    channelsLastOnly('Conv1D', o.dataFormat);
    this.padding = padding;
    this.activation = checkActivation('Conv1D', o.activation);
    this.useBias = bool('Conv1D', 'useBias', o.useBias, true);
    this.kernelInitializer = checkInitializer('Conv1D', 'kernelInitializer', o.kernelInitializer, 'glorot_uniform');
    this.biasInitializer = checkInitializer('Conv1D', 'biasInitializer', o.biasInitializer, 'zeros');
    this.kernelRegularizer = o.kernelRegularizer as Regularizer | undefined;
    this.biasRegularizer = o.biasRegularizer as Regularizer | undefined;
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    if (s.length !== 2) throw new RangeError(`${this.name} (Conv1D): expected inputs of shape (batch, steps, channels) but got ${shapeStr(s)}`);
    this.computeOutputShape(s);
    this.conv = new nn.Conv1d(s[1], this.filters, this.kernelSize, {
      stride: this.strides, padding: this.padding === 'same' ? 'same' : 0, dilation: this.dilationRate, bias: this.useBias,
    });
    initialize(this.conv.weight, this.kernelInitializer);
    if (this.conv.bias) initialize(this.conv.bias, this.biasInitializer);
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    const span = this.dilationRate * (this.kernelSize - 1) + 1;
    const steps = this.padding === 'same' ? Math.ceil(s[0] / this.strides) : Math.floor((s[0] - span) / this.strides) + 1;
    if (!(steps > 0)) throw new RangeError(`${this.name} (Conv1D): kernel ${this.kernelSize} does not fit inputs ${shapeStr(s)}`);
    return [steps, this.filters];
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { module: this.conv!._native, pre: 1, post: 2, activation: this.activation, castFloat: true };
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    if (!this.conv) return [];
    // Keras' kernel is [k, in, out]; PyTorch's [out, in, k].
    const p = (t: Tensor) => t.permute(2, 1, 0);
    const ws: LayerWeight[] = [{ name: 'kernel', tensor: this.conv.weight, trainable: true, toKeras: p, fromKeras: p }];
    if (this.conv.bias) ws.push({ name: 'bias', tensor: this.conv.bias, trainable: true });
    return ws;
  }
  /** The torch::nn modules whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return this.conv ? [this.conv] : [];
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Conv1D {
    return new Conv1D(c.filters as number, c.kernelSize as [number], { ...configBase(c), ...configPick(c, [...DENSE_KEYS, 'strides', 'padding', 'dilationRate']) } as Conv1DOptions);
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), filters: this.filters, kernelSize: this.kernelSize, strides: this.strides,
      padding: this.padding, dilationRate: this.dilationRate, activation: this.activation, useBias: this.useBias,
      kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer };
  }
}

/** Global pooling: a mean or max over the spatial dims of channels-last inputs. */
abstract class GlobalPooling extends Layer {
  readonly keepdims: boolean;
  constructor(private readonly kind: 'mean' | 'max', private readonly rank: 1 | 2, opts: unknown) {
    const where = `Global${kind === 'mean' ? 'Average' : 'Max'}Pooling${rank}D`;
    const o = checkLayerOptions(where, opts, ['keepdims', 'dataFormat']);
    super(o);
    channelsLastOnly(where, o.dataFormat);
    this.keepdims = bool(where, 'keepdims', o.keepdims, false);
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    this.computeOutputShape(s);
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    if (s.length !== this.rank + 1) {
      const want = this.rank === 1 ? '(batch, steps, channels)' : '(batch, height, width, channels)';
      throw new RangeError(`${this.name} (${this.constructor.name}): expected inputs of shape ${want} but got ${shapeStr(s)}`);
    }
    const c = s[s.length - 1];
    return this.keepdims ? [...Array(this.rank).fill(1), c] : [c];
  }
  private dims(): number[] {
    return this.rank === 1 ? [1] : [1, 2];
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStepMore {
    return { reduceDims: this.dims(), reduce: this.kind, keepDims: this.keepdims, castFloat: true };
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), keepdims: this.keepdims };
  }
}

type PoolOpts = LayerOptions & { keepdims?: boolean; dataFormat?: 'channels_last' };
/** Keras' GlobalAveragePooling2D: the mean over height and width of (batch, h, w, c) -> (batch, c). */
export class GlobalAveragePooling2D extends GlobalPooling {
  constructor(opts?: PoolOpts) {
    super('mean', 2, opts);
  }
}
/** Keras' GlobalMaxPooling2D: the max over height and width of (batch, h, w, c) -> (batch, c). */
export class GlobalMaxPooling2D extends GlobalPooling {
  constructor(opts?: PoolOpts) {
    super('max', 2, opts);
  }
}
/** Keras' GlobalAveragePooling1D: the mean over steps of (batch, steps, c) -> (batch, c). */
export class GlobalAveragePooling1D extends GlobalPooling {
  constructor(opts?: PoolOpts) {
    super('mean', 1, opts);
  }
}
/** Keras' GlobalMaxPooling1D: the max over steps of (batch, steps, c) -> (batch, c). */
export class GlobalMaxPooling1D extends GlobalPooling {
  constructor(opts?: PoolOpts) {
    super('max', 1, opts);
  }
}

/** Only the last (channels) axis: axis -1, or its positive index counting the batch. */
function lastAxis(where: string, axis: unknown, rank: number): void {
  const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
  if (a === -1 || a === rank) return;
  throw new RangeError(`${where}: only axis -1 (the last, channels-last features axis) is supported but received axis ` +
    `${JSON.stringify(axis)} for inputs of rank ${rank + 1}`);
}

function checkAxisOption(where: string, axis: unknown): unknown {
  if (axis === undefined) return -1;
  const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
  if (typeof a !== 'number' || !Number.isSafeInteger(a)) throw new TypeError(`${where}: expected axis to be an integer but received ${JSON.stringify(axis)}`);
  return axis;
}

/** Options of BatchNormalization (Keras' kwargs in camelCase): axis (last only), momentum, epsilon, center, scale, initializers. */
export interface BatchNormalizationOptions extends LayerOptions {
  /** the features axis: only -1, the last (the default), is supported */
  axis?: number;
  /** Keras' momentum of the moving statistics (default 0.99; PyTorch's momentum is 1 - this) */
  momentum?: number;
  /** added to the variance for stability (default 1e-3) */
  epsilon?: number;
  /** learn an offset beta (default true) */
  center?: boolean;
  /** learn a scale gamma (default true) */
  scale?: boolean;
  /** initializer of beta (default 'zeros') */
  betaInitializer?: Initializer;
  /** initializer of gamma (default 'ones') */
  gammaInitializer?: Initializer;
  /** initializer of the moving mean (default 'zeros') */
  movingMeanInitializer?: Initializer;
  /** initializer of the moving variance (default 'ones') */
  movingVarianceInitializer?: Initializer;
}

/**
 * Keras' BatchNormalization over the last axis: BatchNorm1d for [N, C] and [N, L, C] (as [N, C, L]),
 * BatchNorm2d for [N, H, W, C] (as NCHW). Keras' momentum m is PyTorch's 1 - m. The moving variance
 * is updated with the unbiased batch variance (PyTorch) where Keras uses the biased one.
 */
export class BatchNormalization extends Layer {
  readonly axis: unknown;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private readonly inits: [MoreInitializer, MoreInitializer, MoreInitializer, MoreInitializer];
  bn: nn.BatchNorm1d | nn.BatchNorm2d | undefined;
  private rank = 0;
  constructor(opts?: BatchNormalizationOptions) {
    const w = 'BatchNormalization';
    const o = checkLayerOptions(w, opts, ['axis', 'momentum', 'epsilon', 'center', 'scale', 'betaInitializer',
      'gammaInitializer', 'movingMeanInitializer', 'movingVarianceInitializer']);
    super(o);
    this.axis = checkAxisOption(w, o.axis);
    this.momentum = fraction(w, 'momentum', o.momentum, 0.99, 0, 1);
    this.epsilon = positiveNumber(w, 'epsilon', o.epsilon, 1e-3);
    this.center = bool(w, 'center', o.center, true);
    this.scale = bool(w, 'scale', o.scale, true);
    this.inits = [checkInitializer(w, 'gammaInitializer', o.gammaInitializer, 'ones'), checkInitializer(w, 'betaInitializer', o.betaInitializer, 'zeros'),
      checkInitializer(w, 'movingMeanInitializer', o.movingMeanInitializer, 'zeros'),
      checkInitializer(w, 'movingVarianceInitializer', o.movingVarianceInitializer, 'ones')];
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    if (s.length < 1 || s.length > 3) {
      throw new RangeError(`${this.name} (BatchNormalization): expected inputs of rank 2 to 4 (batch included) but got ${shapeStr(s)}`);
    }
    lastAxis(`${this.name} (BatchNormalization)`, this.axis, s.length);
    this.rank = s.length;
    const c = s[s.length - 1];
    const opts = { eps: this.epsilon, momentum: 1 - this.momentum, affine: this.center || this.scale };
    this.bn = s.length === 3 ? new nn.BatchNorm2d(c, opts) : new nn.BatchNorm1d(c, opts);
    const bn = this.bn;
    if (bn.weight) initialize(bn.weight, this.scale ? this.inits[0] : 'ones');
    if (bn.bias) initialize(bn.bias, this.center ? this.inits[1] : 'zeros');
    initialize(bn.running_mean!, this.inits[2]);
    initialize(bn.running_var!, this.inits[3]);
    // An affine module without scale (or center) keeps that half fixed at 1 (or 0), as Keras.
    if (bn.weight && !this.scale) bn.weight.requiresGrad_(false);
    if (bn.bias && !this.center) bn.bias.requiresGrad_(false);
    this.built = true;
  }
  private permuted(): boolean {
    return this.rank >= 2;
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return this.permuted() ? { module: this.bn!._native, pre: 1, post: 2, castFloat: true } : { module: this.bn!._native, castFloat: true };
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    const bn = this.bn;
    if (!bn) return [];
    const ws: LayerWeight[] = [];
    if (this.scale) ws.push({ name: 'gamma', tensor: bn.weight!, trainable: true });
    if (this.center) ws.push({ name: 'beta', tensor: bn.bias!, trainable: true });
    ws.push({ name: 'moving_mean', tensor: bn.running_mean!, trainable: false },
      { name: 'moving_variance', tensor: bn.running_var!, trainable: false });
    return ws;
  }
  /** The torch::nn modules whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return this.bn ? [this.bn] : [];
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): BatchNormalization {
    return new BatchNormalization({ ...configBase(c), ...configPick(c, [...NORM_KEYS, 'momentum', 'movingMeanInitializer', 'movingVarianceInitializer']) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis, momentum: this.momentum, epsilon: this.epsilon, center: this.center, scale: this.scale,
      gammaInitializer: this.inits[0], betaInitializer: this.inits[1], movingMeanInitializer: this.inits[2], movingVarianceInitializer: this.inits[3] };
  }
}

/** Options of LayerNormalization (Keras' kwargs in camelCase): axis (last only), epsilon, center, scale, initializers. */
export interface LayerNormalizationOptions extends LayerOptions {
  /** the normalized axis: only -1, the last (the default), is supported */
  axis?: number;
  /** added to the variance for stability (default 1e-3) */
  epsilon?: number;
  /** learn an offset beta (default true) */
  center?: boolean;
  /** learn a scale gamma (default true) */
  scale?: boolean;
  /** initializer of beta (default 'zeros') */
  betaInitializer?: Initializer;
  /** initializer of gamma (default 'ones') */
  gammaInitializer?: Initializer;
}

/** Keras' LayerNormalization over the last axis (torch::nn::LayerNorm on the last dim). */
export class LayerNormalization extends Layer {
  readonly axis: unknown;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private readonly inits: [MoreInitializer, MoreInitializer];
  ln: nn.LayerNorm | undefined;
  constructor(opts?: LayerNormalizationOptions) {
    const w = 'LayerNormalization';
    const o = checkLayerOptions(w, opts, ['axis', 'epsilon', 'center', 'scale', 'betaInitializer', 'gammaInitializer']);
    super(o);
    this.axis = checkAxisOption(w, o.axis);
    this.epsilon = positiveNumber(w, 'epsilon', o.epsilon, 1e-3);
    this.center = bool(w, 'center', o.center, true);
    this.scale = bool(w, 'scale', o.scale, true);
    this.inits = [checkInitializer(w, 'gammaInitializer', o.gammaInitializer, 'ones'), checkInitializer(w, 'betaInitializer', o.betaInitializer, 'zeros')];
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    if (s.length < 1) throw new RangeError(`${this.name} (LayerNormalization): expected inputs with a features axis but got ${shapeStr(s)}`);
    lastAxis(`${this.name} (LayerNormalization)`, this.axis, s.length);
    this.ln = new nn.LayerNorm([s[s.length - 1]], { eps: this.epsilon, elementwiseAffine: this.center || this.scale });
    const ln = this.ln;
    if (ln.weight) initialize(ln.weight, this.scale ? this.inits[0] : 'ones');
    if (ln.bias) initialize(ln.bias, this.center ? this.inits[1] : 'zeros');
    if (ln.weight && !this.scale) ln.weight.requiresGrad_(false);
    if (ln.bias && !this.center) ln.bias.requiresGrad_(false);
    this.built = true;
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { module: this.ln!._native, castFloat: true };
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    const ln = this.ln;
    if (!ln) return [];
    const ws: LayerWeight[] = [];
    if (this.scale) ws.push({ name: 'gamma', tensor: ln.weight!, trainable: true });
    if (this.center) ws.push({ name: 'beta', tensor: ln.bias!, trainable: true });
    return ws;
  }
  /** The torch::nn modules whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return this.ln ? [this.ln] : [];
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): LayerNormalization {
    return new LayerNormalization({ ...configBase(c), ...configPick(c, NORM_KEYS) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis, epsilon: this.epsilon, center: this.center, scale: this.scale,
      gammaInitializer: this.inits[0], betaInitializer: this.inits[1] };
  }
}

/** Options of Embedding (Keras' kwargs in camelCase): embeddingsInitializer, maskZero, inputLength. */
export interface EmbeddingOptions extends LayerOptions {
  /** initializer of the embedding matrix (default 'uniform') */
  embeddingsInitializer?: MoreInitializer;
  /** only false is supported (masks do not reach later layers) */
  maskZero?: boolean;
  /** the sequence length: the same as inputShape [inputLength] (Keras 2's input_length) */
  inputLength?: number;
}

/** Keras' Embedding: integer indices (any integer or float dtype, cast to int64) -> vectors. */
export class Embedding extends Layer {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly embeddingsInitializer: MoreInitializer;
  embedding: nn.Embedding | undefined;
  /** Embedding(inputDim, outputDim, options?) as in Keras, or Embedding({ inputDim, outputDim, ... }). */
  constructor(...args: [inputDim: number, outputDim: number, options?: EmbeddingOptions]
    | [options: EmbeddingOptions & { inputDim: number; outputDim: number }]) {
    const o = layerArgs('Embedding', args, ['inputDim', 'outputDim'], ['embeddingsInitializer', 'maskZero', 'inputLength']);
    if (o.inputLength !== undefined) {
      const n = positiveInt('Embedding', 'inputLength', o.inputLength);
      if (o.inputShape !== undefined && (o.inputShape as number[]).join() !== String(n)) {
        throw new TypeError(`Embedding: inputLength ${n} disagrees with inputShape ${JSON.stringify(o.inputShape)}`);
      }
      super({ ...o, inputShape: [n] });
    } else {
      super(o);
    }
    this.inputDim = positiveInt('Embedding', 'inputDim', o.inputDim);
    this.outputDim = positiveInt('Embedding', 'outputDim', o.outputDim);
    this.embeddingsInitializer = checkInitializer('Embedding', 'embeddingsInitializer', o.embeddingsInitializer, 'uniform');
    if (bool('Embedding', 'maskZero', o.maskZero, false)) {
      throw new TypeError('Embedding: maskZero is not supported yet (masks do not reach later layers); leave it false, ' +
        'and pad sequences with a value the model can learn to ignore');
    }
  }
  /** Token ids: the sequence length is free, so no input width is checked. */
  protected override widthAxis(): null {
    return null;
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(): void {
    this.embedding = new nn.Embedding(this.inputDim, this.outputDim);
    initialize(this.embedding.weight, this.embeddingsInitializer);
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    return [...s, this.outputDim];
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStepMore {
    return { module: this.embedding!._native, castLong: true, indexLimit: this.inputDim };
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    return this.embedding ? [{ name: 'embeddings', tensor: this.embedding.weight, trainable: true }] : [];
  }
  /** The torch::nn modules whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return this.embedding ? [this.embedding] : [];
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Embedding {
    return new Embedding(c.inputDim as number, c.outputDim as number, { ...configBase(c), ...configPick(c, ['embeddingsInitializer']) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), inputDim: this.inputDim, outputDim: this.outputDim, embeddingsInitializer: this.embeddingsInitializer };
  }
}

/** How Bidirectional combines the forward and backward outputs (Keras' merge_mode). */
export type MergeMode = 'concat' | 'sum' | 'mul' | 'ave';

/** Options of SimpleRNN, LSTM and GRU (Keras' recurrent kwargs in camelCase). */
export interface RNNLayerOptions extends LayerOptions {
  /** activation of the candidate state / output (default 'tanh') */
  activation?: ActivationName;
  /** LSTM/GRU gate activation: only 'sigmoid' (the default) is supported */
  recurrentActivation?: ActivationName;
  /** whether the layer adds a bias (default true) */
  useBias?: boolean;
  /** return the output at every step, (batch, steps, units), instead of the last (default false) */
  returnSequences?: boolean;
  /** only false is supported */
  returnState?: boolean;
  /** run over the steps in reverse order (default false) */
  goBackwards?: boolean;
  /** only false is supported */
  stateful?: boolean;
  /** accepted for Keras compatibility; has no effect */
  unroll?: boolean;
  /** only 0 is supported (add a Dropout layer instead) */
  dropout?: number;
  /** only 0 is supported */
  recurrentDropout?: number;
  /** initializer of the kernel (default 'glorot_uniform') */
  kernelInitializer?: MoreInitializer;
  /** initializer of the recurrent kernel (default 'orthogonal') */
  recurrentInitializer?: MoreInitializer;
  /** initializer of the bias (default 'zeros') */
  biasInitializer?: MoreInitializer;
  /** penalty on the kernel, added to the loss (regularizers.l2(...)) */
  kernelRegularizer?: Regularizer;
  /** penalty on the bias, added to the loss */
  biasRegularizer?: Regularizer;
}

type RnnKind = 'SimpleRNN' | 'LSTM' | 'GRU';

/**
 * SimpleRNN, LSTM and GRU over torch::nn's RNN/LSTM/GRU (batchFirst). Keras has one bias where
 * torch has b_ih and b_hh: Keras' bias is b_ih and b_hh stays 0 and frozen, except for GRU
 * (resetAfter), whose [2, 3 * units] bias is exactly [b_ih, b_hh]. GRU gates are z, r, h in Keras
 * and r, z, n in torch: the conversions swap the first two blocks.
 */
abstract class Recurrent extends Layer {
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly returnSequences: boolean;
  readonly goBackwards: boolean;
  readonly kernelInitializer: MoreInitializer;
  readonly recurrentInitializer: MoreInitializer;
  readonly biasInitializer: MoreInitializer;
  rnn: nn.RNN | nn.LSTM | nn.GRU | undefined;
  /** @internal set by Bidirectional before build */
  _merge: MergeMode | null = null;
  /** @internal the constructor's arguments by name (subclasses read their own options from it) */
  protected readonly _args: Record<string, unknown>;

  constructor(private readonly kind: RnnKind, args: readonly unknown[], extra: string[]) {
    const o = layerArgs(kind, args, ['units', 'activation'], ['useBias', 'returnSequences', 'returnState', 'goBackwards',
      'stateful', 'unroll', 'dropout', 'recurrentDropout', 'kernelInitializer', 'recurrentInitializer', 'biasInitializer',
      'kernelRegularizer', 'biasRegularizer', ...extra]);
    super(o);
    this._args = o;
    this.units = positiveInt(kind, 'units', o.units);
    const act = checkActivation(kind, o.activation ?? 'tanh');
    if (act !== 'tanh' && !(kind === 'SimpleRNN' && act === 'relu')) {
      throw new TypeError(`${kind}: activation '${act}' is not supported (libtorch's ${kind === 'SimpleRNN' ? 'RNN takes tanh or relu' : `${kind} uses tanh`}); ` +
        `use ${kind === 'SimpleRNN' ? "'tanh' or 'relu'" : "'tanh'"}`);
    }
    this.activation = act;
    if (kind !== 'SimpleRNN') {
      const ra = checkActivation(kind, o.recurrentActivation ?? 'sigmoid');
      if (ra !== 'sigmoid') throw new TypeError(`${kind}: recurrentActivation '${ra}' is not supported (libtorch's ${kind} uses sigmoid); use 'sigmoid'`);
    }
    this.useBias = bool(kind, 'useBias', o.useBias, true);
    this.returnSequences = bool(kind, 'returnSequences', o.returnSequences, false);
    this.goBackwards = bool(kind, 'goBackwards', o.goBackwards, false);
    if (bool(kind, 'returnState', o.returnState, false)) {
      throw new TypeError(`${kind}: returnState is not supported (a Sequential layer has one output); leave it false`);
    }
    if (bool(kind, 'stateful', o.stateful, false)) throw new TypeError(`${kind}: stateful is not supported; leave it false`);
    bool(kind, 'unroll', o.unroll, false);
    for (const k of ['dropout', 'recurrentDropout']) {
      if (fraction(kind, k, o[k], 0, 0, 1) !== 0) {
        throw new TypeError(`${kind}: ${k} other than 0 is not supported yet; add a Dropout layer before or after the ${kind} instead`);
      }
    }
    this.kernelInitializer = checkInitializer(kind, 'kernelInitializer', o.kernelInitializer, 'glorot_uniform');
    this.recurrentInitializer = checkInitializer(kind, 'recurrentInitializer', o.recurrentInitializer, 'orthogonal');
    this.biasInitializer = checkInitializer(kind, 'biasInitializer', o.biasInitializer, 'zeros');
    this.kernelRegularizer = o.kernelRegularizer as Regularizer | undefined;
    this.biasRegularizer = o.biasRegularizer as Regularizer | undefined;
  }

  protected get gates(): number {
    return this.kind === 'LSTM' ? 4 : this.kind === 'GRU' ? 3 : 1;
  }
  private get directions(): string[] {
    return this._merge ? ['_l0', '_l0_reverse'] : ['_l0'];
  }
  private param(name: string): nn.Parameter {
    const p = this.rnn!.namedParameters().find(([k]) => k === name);
    if (!p) throw new Error(`${this.name}: the ${this.kind} module has no parameter ${name}`);
    return p[1];
  }
  /** Additional bias initialization (LSTM's unit forget bias). */
  protected initBias(b: Tensor): void {
    void b;
  }

  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    const where = `${this.name} (${this._merge ? `Bidirectional ${this.kind}` : this.kind})`;
    if (s.length !== 2) throw new RangeError(`${where}: expected inputs of shape (batch, timesteps, features) but got ${shapeStr(s)}`);
    const opts = { batchFirst: true, bias: this.useBias, bidirectional: this._merge !== null };
    const inF = s[1];
    this.rnn = this.kind === 'LSTM' ? new nn.LSTM(inF, this.units, opts) : this.kind === 'GRU' ? new nn.GRU(inF, this.units, opts)
      : new nn.RNN(inF, this.units, { ...opts, nonlinearity: this.activation === 'relu' ? 'relu' : 'tanh' });
    for (const d of this.directions) {
      initialize(this.param(`weight_ih${d}`), this.kernelInitializer);
      initialize(this.param(`weight_hh${d}`), this.recurrentInitializer);
      if (this.useBias) {
        const bih = this.param(`bias_ih${d}`);
        const bhh = this.param(`bias_hh${d}`);
        initialize(bih, this.biasInitializer);
        this.initBias(bih);
        if (this.kind === 'GRU') initialize(bhh, this.biasInitializer);
        else {
          noGrad(() => bhh.zero_());
          bhh.requiresGrad_(false);
        }
      }
    }
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    const width = this._merge === 'concat' ? 2 * this.units : this.units;
    return this.returnSequences ? [s[0], width] : [width];
  }

  /** torch gate blocks (dim 0) <-> Keras gate blocks: GRU swaps r and z. */
  private reorder(t: Tensor): Tensor {
    if (this.kind !== 'GRU') return t;
    const h = this.units;
    return cat([t.narrow(0, h, h), t.narrow(0, 0, h), t.narrow(0, 2 * h, h)], 0);
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    if (!this.rnn) return [];
    const ws: LayerWeight[] = [];
    const toK = (t: Tensor) => this.reorder(t).t();
    const fromK = (t: Tensor) => this.reorder(t.t());
    for (const d of this.directions) {
      // inside Bidirectional, Keras' paths: forward_lstm/kernel, backward_lstm/kernel, ...
      const at = this._merge ? `${d.endsWith('reverse') ? 'backward' : 'forward'}_${this.name}/` : '';
      ws.push({ name: `${at}kernel`, tensor: this.param(`weight_ih${d}`), trainable: true, toKeras: toK, fromKeras: fromK },
        { name: `${at}recurrent_kernel`, tensor: this.param(`weight_hh${d}`), trainable: true, toKeras: toK, fromKeras: fromK });
      if (!this.useBias) continue;
      if (this.kind === 'GRU') {
        const bhh = this.param(`bias_hh${d}`);
        ws.push({ name: `${at}bias`, tensor: this.param(`bias_ih${d}`), trainable: true,
          toKeras: (t) => stack([this.reorder(t), this.reorder(bhh)]), fromKeras: (t) => this.reorder(t.select(0, 0)) });
      } else {
        ws.push({ name: `${at}bias`, tensor: this.param(`bias_ih${d}`), trainable: true });
      }
    }
    return ws;
  }
  override get trainableWeights(): Tensor[] {
    if (!this.trainable || !this.rnn) return [];
    const extra = this.kind === 'GRU' && this.useBias ? this.directions.map((d) => this.param(`bias_hh${d}`)) : [];
    return [...super.trainableWeights, ...extra];
  }
  /** Keras' count_params(), with the GRU's recurrent bias. */
  override countParams(): number {
    const extra = this.kind === 'GRU' && this.useBias ? this.directions.length * 3 * this.units : 0;
    return super.countParams() + extra;
  }
  /** Keras' set_weights() in Keras' layout and gate order, shapes checked first. */
  override setWeights(ws: Tensor[]): void {
    const own = this.weightsInternal();
    if (Array.isArray(ws) && ws.length === own.length) {
      // Check Keras shapes first: the GRU bias conversion selects rows before the base class compares shapes.
      own.forEach((w, i) => {
        const t = checkTensor(ws[i], `${this.name}.setWeights`, `weights[${i}]`);
        const want = noGrad(() => (w.toKeras ? w.toKeras(w.tensor) : w.tensor).shape);
        if (t.shape.join() !== want.join()) {
          throw new RangeError(`${this.name}.setWeights: weight ${i} (${w.name}) must have shape [${want.join(', ')}] but has [${t.shape.join(', ')}]`);
        }
      });
    }
    super.setWeights(ws);
    if (this.kind === 'GRU' && this.useBias) {
      own.filter((w) => /(^|\/)bias$/.test(w.name)).forEach((w, k) => {
        const bhh = this.param(`bias_hh${this.directions[k]}`);
        const src = ws[own.indexOf(w)];
        noGrad(() => bhh.copy_(this.reorder(src.select(0, 1))));
      });
    }
  }
  /** The torch::nn modules whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return this.rnn ? [this.rnn] : [];
  }

  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStepMore {
    const bi = this._merge !== null;
    return { module: this.rnn!._native, castFloat: true, flipTime: this.goBackwards,
      lastStep: !this.returnSequences && !bi, finalHidden: !this.returnSequences && bi, merge: this._merge ?? 'concat' };
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), units: this.units, activation: this.activation, useBias: this.useBias,
      returnSequences: this.returnSequences, goBackwards: this.goBackwards, kernelInitializer: this.kernelInitializer,
      recurrentInitializer: this.recurrentInitializer, biasInitializer: this.biasInitializer,
      ...(this.kind === 'LSTM' ? { unitForgetBias: (this as unknown as LSTM).unitForgetBias } : {}),
      ...(this.kernelRegularizer ? { kernelRegularizer: { ...this.kernelRegularizer } } : {}),
      ...(this.biasRegularizer ? { biasRegularizer: { ...this.biasRegularizer } } : {}) };
  }
}

/** One argument list for the three recurrent layers, so `new layers[kind](units, options)` type-checks for a kind chosen at run time. */
type RnnArgs = [units: number, options?: RecurrentOptions] | [units: number, activation: ActivationName, options?: RecurrentOptions]
  | [options: RecurrentOptions & { units: number }];
/** RNNLayerOptions plus the options of one kind: unitForgetBias (LSTM only), resetAfter (GRU only). */
export type RecurrentOptions = RNNLayerOptions & { unitForgetBias?: boolean; resetAfter?: boolean };

/** SimpleRNN(units, activation?, options?) as in Keras. */
export class SimpleRNN extends Recurrent {
  constructor(...args: RnnArgs) {
    super('SimpleRNN', args, []);
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): SimpleRNN {
    return new SimpleRNN(c.units as number, { ...configBase(c), ...configPick(c, RNN_KEYS) } as RNNLayerOptions);
  }
}

/** Keras' LSTM over (batch, steps, features), on torch::nn::LSTM; weights in Keras' layout. */
export class LSTM extends Recurrent {
  readonly unitForgetBias: boolean;
  /** LSTM(units, activation?, options?) as in Keras. */
  constructor(...args: RnnArgs) {
    super('LSTM', args, ['recurrentActivation', 'unitForgetBias']);
    this.unitForgetBias = bool('LSTM', 'unitForgetBias', this._args.unitForgetBias, true);
  }
  protected override initBias(b: Tensor): void {
    if (this.unitForgetBias) noGrad(() => b.narrow(0, this.units, this.units).fill_(1));
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): LSTM {
    return new LSTM(c.units as number, { ...configBase(c), ...configPick(c, [...RNN_KEYS, 'unitForgetBias']) } as RNNLayerOptions);
  }
}

/** Keras' GRU (resetAfter true, Keras 2's default) over (batch, steps, features), on torch::nn::GRU. */
export class GRU extends Recurrent {
  /** GRU(units, activation?, options?) as in Keras. */
  constructor(...args: RnnArgs) {
    super('GRU', args, ['recurrentActivation', 'resetAfter']);
    if (!bool('GRU', 'resetAfter', this._args.resetAfter, true)) {
      throw new TypeError("GRU: resetAfter false is not supported (libtorch's GRU applies the reset gate after the recurrent matmul); leave it true");
    }
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): GRU {
    return new GRU(c.units as number, { ...configBase(c), ...configPick(c, RNN_KEYS) } as RNNLayerOptions);
  }
}

/** Keras' Bidirectional over SimpleRNN/LSTM/GRU: torch's bidirectional module; weights forward then backward. */
export class Bidirectional extends Layer {
  readonly layer: Recurrent;
  readonly mergeMode: MergeMode;
  constructor(layer: SimpleRNN | LSTM | GRU, opts?: LayerOptions & { mergeMode?: MergeMode }) {
    const o = checkLayerOptions('Bidirectional', opts, ['mergeMode', 'backwardLayer']);
    if (!((layer as unknown) instanceof Recurrent)) {
      const l = layer as unknown;
      throw new TypeError(`Bidirectional: expected a SimpleRNN, LSTM or GRU layer but received ${l instanceof Layer ? l.constructor.name : typeOfValue(l)}`);
    }
    super({ ...o, inputShape: (o.inputShape as number[] | undefined) ?? layer.inputShape });
    if (o.backwardLayer !== undefined) throw new TypeError('Bidirectional: backwardLayer is not supported; the backward direction mirrors the layer');
    if (layer.built || layer._merge) throw new TypeError(`Bidirectional: layer '${layer.name}' is already built or wrapped; pass a new layer`);
    if (layer.goBackwards) throw new TypeError('Bidirectional: the wrapped layer must have goBackwards false');
    const m = o.mergeMode === undefined ? 'concat' : o.mergeMode;
    if (m === null) throw new TypeError('Bidirectional: mergeMode null (a list of outputs) is not supported; use concat, sum, mul or ave');
    if (!['concat', 'sum', 'mul', 'ave'].includes(m as string)) {
      throw new TypeError(`Bidirectional: expected mergeMode 'concat', 'sum', 'mul' or 'ave' but received ${JSON.stringify(m)}`);
    }
    this.mergeMode = m as MergeMode;
    this.layer = layer;
    layer._merge = this.mergeMode;
    // the wrapped layer's penalties apply to both directions, as in Keras
    this.kernelRegularizer = layer.kernelRegularizer;
    this.biasRegularizer = layer.biasRegularizer;
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    this.layer.build(s);
    this.layer.built = true;
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    return this.layer.computeOutputShape(s);
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return this.layer.nativeStep();
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    return this.layer.weightsInternal();
  }
  override get trainableWeights(): Tensor[] {
    return this.trainable ? this.layer.trainableWeights : [];
  }
  /** Keras' count_params() of the wrapped (bidirectional) layer. */
  override countParams(): number {
    return this.layer.countParams();
  }
  /** Keras' set_weights(): forward weights then backward. */
  override setWeights(ws: Tensor[]): void {
    this.layer.setWeights(ws);
  }
  /** The torch::nn modules whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return this.layer.modules();
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Bidirectional {
    const inner = c.layer as { className?: unknown } | undefined;
    if (!['SimpleRNN', 'LSTM', 'GRU'].includes(inner?.className as string)) {
      throw new Error(`expected the wrapped layer to be a SimpleRNN, LSTM or GRU config but found ${JSON.stringify(inner?.className)}`);
    }
    return new Bidirectional(deserializeLayer(inner, 'the wrapped layer') as SimpleRNN, { ...configBase(c), ...configPick(c, ['mergeMode']) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), mergeMode: this.mergeMode, layer: { className: this.layer.constructor.name, config: this.layer.getConfig() } };
  }
}
