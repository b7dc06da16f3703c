// The built-in modules, each backed by libtorch's own torch::nn module (native/nn.cc), so that a
// network of them can run natively. TS checks inputs first so a mistake names the module.
import { native, NativeObject } from '../native';
import { DType, isFloating } from '../dtype';
import { DeviceLike, Tensor, checkTensor, typeOfValue, wrap } from '../tensor';
import { Module, Parameter, persistentTensor, pyBool, pyFloat, pyTuple } from './module';
import * as check from '../util/check';

interface FactoryOptions { dtype?: DType; device?: DeviceLike }

function checkOptions(where: string, opts: unknown, known: readonly string[]): Record<string, unknown> {
  return check.options(where, opts, [...known, 'dtype', 'device']);
}

/**
 * PyTorch's call for the options after a module's required arguments: by position in `known`'s
 * order (`nn.Conv2d(1, 32, 3, 1, 1)`: stride, padding) or by name in a trailing options object.
 */
function moduleArgs(where: string, args: readonly unknown[], known: readonly string[]): Record<string, unknown> {
  return check.args(where, args, known, ['dtype', 'device']);
}

const positiveInt = (where: string, name: string, v: unknown): number => check.positiveInt(where, name, v);

/** An int-or-tuple option as a list of n (PyTorch's _pair). */
function tuple(where: string, name: string, v: unknown, n: number, min = 1): number[] {
  const list = typeof v === 'number' ? Array(n).fill(v) : v;
  if (!Array.isArray(list) || list.length !== n || !list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= min)) {
    throw new TypeError(`${where}: expected ${name} to be an integer >= ${min} or ${n} of them but received ` +
      (Array.isArray(v) ? `[${v.join(', ')}]` : typeOfValue(v) + (typeof v === 'number' ? ` ${v}` : '')));
  }
  return list as number[];
}

const shapeStr = (t: Tensor): string => `[${t.shape.join(', ')}]`;

/** A module whose forward runs a native torch::nn module. */
export abstract class NativeModule extends Module {
  /** @internal */ declare readonly _native: NativeObject;
  /** @internal the parameter whose device/dtype inputs must match */ declare _first: Parameter | undefined;

  constructor(kind: string, options: Record<string, unknown>, factory: FactoryOptions = {}) {
    super();
    const nativeOpts: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) if (v !== undefined) nativeOpts[k] = v;
    Object.defineProperty(this, '_native', { value: native.nn_module_create(kind, nativeOpts), enumerable: false });
    this._first = undefined;
    const ps = native.nn_module_parameters(this._native);
    for (let i = 0; i < ps.length; i += 2) {
      const name = ps[i] as string;
      const p = Parameter.fromHandle(ps[i + 1] as number);
      this._parameters.set(name, p);
      this._first ??= p;
      if (!name.includes('.')) (this as Record<string, unknown>)[name] = p;
    }
    const bs = native.nn_module_buffers(this._native);
    for (let i = 0; i < bs.length; i += 2) {
      const name = bs[i] as string;
      const b = persistentTensor(bs[i + 1] as number);
      this._buffers.set(name, b);
      if (!name.includes('.')) (this as Record<string, unknown>)[name] = b;
    }
    if (factory.dtype !== undefined || factory.device !== undefined) this.to({ dtype: factory.dtype, device: factory.device });
  }

  protected override onTrainChanged(mode: boolean): void {
    native.nn_module_train(this._native, mode);
  }

  protected override onParameterReplaced(name: string): void {
    throw new Error(`${this.constructor.name}: parameter '${name}' was replaced by a new nn.Parameter, but a built-in ` +
      "module computes with its own parameter tensors: copy new values in instead, with loadStateDict() or " +
      `${name}.copy_(values) inside nt.noGrad()`);
  }

  /** The one-line printout, used in error messages. */
  describe(): string {
    return `${this.constructor.name}(${this.extraRepr()})`;
  }

  /** Inputs must be on the parameters' device and of their dtype. */
  protected checkInput(x: unknown, name = 'input'): Tensor {
    const t = checkTensor(x, `${this.constructor.name}.forward`, name);
    const p = this._first;
    if (p) {
      if (t.device !== p.device) {
        throw new Error(`${this.describe()} has its parameters on ${p.device} but the ${name} is on ${t.device}: move ` +
          `the module with .to('${t.device}') or the ${name} with .to('${p.device}')`);
      }
      if (t.dtype !== p.dtype && isFloating(t.dtype)) {
        throw new TypeError(`${this.describe()} has ${p.dtype} parameters but the ${name} is ${t.dtype}: convert the ` +
          `${name} with .to('${p.dtype}') or the module with .to('${t.dtype}')`);
      }
      if (!isFloating(t.dtype) && this.constructor.name !== 'Embedding') {
        throw new TypeError(`${this.describe()} expected a floating-point ${name} (${p.dtype}) but got ${t.dtype}: ` +
          `convert it with .to('${p.dtype}')`);
      }
    }
    return t;
  }

  protected expect(ok: boolean, expected: string, x: Tensor): void {
    if (!ok) throw new RangeError(`${this.describe()} expected input ${expected} but got ${shapeStr(x)}`);
  }

  /** @internal runs the native forward on tensors, returning handles (null where the module computed nothing) */
  protected run(inputs: Tensor[], extras?: Record<string, Tensor | boolean | undefined>): (number | null)[] {
    const ex: Record<string, number | boolean> = {};
    if (extras) {
      for (const [k, v] of Object.entries(extras)) {
        if (v instanceof Tensor) ex[k] = v._h;
        else if (typeof v === 'boolean') ex[k] = v;
      }
    }
    return native.nn_module_forward(this._native, inputs.map((t) => t._h), ex);
  }

  protected run1(x: Tensor): Tensor {
    return wrap(this.run([x])[0] as number);
  }
}

export class Linear extends NativeModule {
  declare weight: Parameter;
  declare bias: Parameter | undefined;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Linear(inFeatures, outFeatures, bias?) as in PyTorch, or with { bias, dtype, device }. */
  constructor(inFeatures: number, outFeatures: number, ...args: [options?: { bias?: boolean } & FactoryOptions] | [bias: boolean, options?: FactoryOptions]) {
    const o = moduleArgs('Linear', args, ['bias']);
    positiveInt('Linear', 'inFeatures', inFeatures);
    positiveInt('Linear', 'outFeatures', outFeatures);
    super('Linear', { inFeatures, outFeatures, bias: o.bias }, o);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    const x = this.checkInput(input);
    const s = x.shape;
    this.expect(s.length >= 1 && s[s.length - 1] === this.inFeatures, `[..., ${this.inFeatures}]`, x);
    return this.run1(x);
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this._parameters.has('bias'))}`;
  }
}

/** Conv1d/Conv2d keyword arguments. */
export interface ConvOptions extends FactoryOptions {
  stride?: number | number[];
  padding?: number | number[] | 'same' | 'valid';
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
  paddingMode?: 'zeros' | 'reflect' | 'replicate' | 'circular';
}

abstract class ConvNd extends NativeModule {
  declare weight: Parameter;
  declare bias: Parameter | undefined;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | 'same' | 'valid';
  readonly dilation: number[];
  readonly groups: number;
  readonly paddingMode: string;
  constructor(kind: string, d: number, inChannels: number, outChannels: number, kernelSize: number | number[], args: readonly unknown[]) {
    const o = moduleArgs(kind, args, ['stride', 'padding', 'dilation', 'groups', 'bias', 'paddingMode']);
    positiveInt(kind, 'inChannels', inChannels);
    positiveInt(kind, 'outChannels', outChannels);
    const k = tuple(kind, 'kernelSize', kernelSize, d);
    const stride = tuple(kind, 'stride', o.stride ?? 1, d);
    const dilation = tuple(kind, 'dilation', o.dilation ?? 1, d);
    const padding = typeof o.padding === 'string' ? o.padding : tuple(kind, 'padding', o.padding ?? 0, d, 0);
    if (padding === 'same' && stride.some((s) => s !== 1)) {
      throw new TypeError(`${kind}: padding 'same' is not supported for strided convolutions (stride ${pyTuple(stride)})`);
    }
    super(kind, {
      inChannels, outChannels, kernelSize: k, stride, dilation, groups: o.groups, bias: o.bias, paddingMode: o.paddingMode,
      ...(typeof padding === 'string' ? { paddingString: padding } : { padding }),
    }, o);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = k;
    this.stride = stride;
    this.padding = padding as number[] | 'same' | 'valid';
    this.dilation = dilation;
    this.groups = (o.groups as number | undefined) ?? 1;
    this.paddingMode = (o.paddingMode as string | undefined) ?? 'zeros';
  }
  protected checkConv(input: Tensor, d: number): Tensor {
    const x = this.checkInput(input);
    const n = x.ndim;
    const spatial = d === 1 ? 'L' : 'H, W';
    this.expect((n === d + 1 || n === d + 2) && x.shape[n - d - 1] === this.inChannels,
      `[N, ${this.inChannels}, ${spatial}] or [${this.inChannels}, ${spatial}]`, x);
    return x;
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}`;
    if (typeof this.padding === 'string') s += `, padding=${this.padding}`;
    else if (this.padding.some((p) => p !== 0)) s += `, padding=${pyTuple(this.padding)}`;
    if (this.dilation.some((x) => x !== 1)) s += `, dilation=${pyTuple(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this._parameters.has('bias')) s += ', bias=False';
    if (this.paddingMode !== 'zeros') s += `, padding_mode=${this.paddingMode}`;
    return s;
  }
}

type ConvArgs = [options?: ConvOptions] | [stride: number | number[], padding?: number | number[] | 'same' | 'valid',
  dilation?: number | number[], groups?: number, bias?: boolean, paddingMode?: ConvOptions['paddingMode'], options?: FactoryOptions];

/** Conv1d(inChannels, outChannels, kernelSize, stride?, padding?, dilation?, groups?, bias?, paddingMode?) or with options. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], ...args: ConvArgs) {
    super('Conv1d', 1, inChannels, outChannels, kernelSize, args);
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    return this.run1(this.checkConv(input, 1));
  }
}

/** Conv2d(inChannels, outChannels, kernelSize, stride?, padding?, dilation?, groups?, bias?, paddingMode?) or with options. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], ...args: ConvArgs) {
    super('Conv2d', 2, inChannels, outChannels, kernelSize, args);
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    return this.run1(this.checkConv(input, 2));
  }
}

/** MaxPool2d/AvgPool2d keyword arguments. */
export interface Pool2dOptions { stride?: number | number[]; padding?: number | number[]; ceilMode?: boolean }

abstract class Pool2d extends NativeModule {
  readonly kernelSize: number | number[];
  readonly stride: number | number[];
  readonly padding: number | number[];
  readonly ceilMode: boolean;
  constructor(kind: string, kernelSize: number | number[], o: Record<string, unknown>, extra: Record<string, unknown>) {
    const k = tuple(kind, 'kernelSize', kernelSize, 2);
    const stride = tuple(kind, 'stride', o.stride ?? kernelSize, 2);
    const padding = tuple(kind, 'padding', o.padding ?? 0, 2, 0);
    super(kind, { kernelSize: k, stride, padding, ceilMode: o.ceilMode, ...extra });
    this.kernelSize = kernelSize;
    this.stride = (o.stride as number | number[] | undefined) ?? kernelSize;
    this.padding = (o.padding as number | number[] | undefined) ?? 0;
    this.ceilMode = (o.ceilMode as boolean | undefined) ?? false;
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    const x = checkTensor(input, `${this.constructor.name}.forward`, 'input');
    this.expect(x.ndim === 3 || x.ndim === 4, '[N, C, H, W] or [C, H, W]', x);
    return this.run1(x);
  }
}

const pyIntOrTuple = (v: number | number[]): string => (typeof v === 'number' ? String(v) : pyTuple(v));

/** nn.MaxPool2d(kernelSize, stride?, padding?, dilation?, ceilMode?): 2-D max pooling. */
export class MaxPool2d extends Pool2d {
  readonly dilation: number | number[];
  /** MaxPool2d(kernelSize, stride?, padding?, dilation?, returnIndices?, ceilMode?) as in PyTorch, or with options. */
  constructor(kernelSize: number | number[], ...args: [options?: Pool2dOptions & { dilation?: number | number[] }]
    | [stride: number | number[] | null, padding?: number | number[], dilation?: number | number[], returnIndices?: false, ceilMode?: boolean]) {
    const o = moduleArgs('MaxPool2d', args, ['stride', 'padding', 'dilation', 'returnIndices', 'ceilMode']);
    if (o.returnIndices) throw new TypeError('MaxPool2d: returnIndices is not supported');
    super('MaxPool2d', kernelSize, o, { dilation: tuple('MaxPool2d', 'dilation', o.dilation ?? 1, 2) });
    this.dilation = (o.dilation as number | number[] | undefined) ?? 1;
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `kernel_size=${pyIntOrTuple(this.kernelSize)}, stride=${pyIntOrTuple(this.stride)}, padding=${pyIntOrTuple(this.padding)}, ` +
      `dilation=${pyIntOrTuple(this.dilation)}, ceil_mode=${pyBool(this.ceilMode)}`;
  }
}

/** nn.AvgPool2d(kernelSize, stride?, padding?, ceilMode?, countIncludePad?): 2-D average pooling. */
export class AvgPool2d extends Pool2d {
  readonly countIncludePad: boolean;
  /** AvgPool2d(kernelSize, stride?, padding?, ceilMode?, countIncludePad?) as in PyTorch, or with options. */
  constructor(kernelSize: number | number[], ...args: [options?: Pool2dOptions & { countIncludePad?: boolean }]
    | [stride: number | number[] | null, padding?: number | number[], ceilMode?: boolean, countIncludePad?: boolean]) {
    const o = moduleArgs('AvgPool2d', args, ['stride', 'padding', 'ceilMode', 'countIncludePad']);
    super('AvgPool2d', kernelSize, o, { countIncludePad: o.countIncludePad });
    this.countIncludePad = (o.countIncludePad as boolean | undefined) ?? true;
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `kernel_size=${pyIntOrTuple(this.kernelSize)}, stride=${pyIntOrTuple(this.stride)}, padding=${pyIntOrTuple(this.padding)}`;
  }
}

export class AdaptiveAvgPool2d extends NativeModule {
  readonly outputSize: number | number[];
  constructor(outputSize: number | number[]) {
    super('AdaptiveAvgPool2d', { outputSize: tuple('AdaptiveAvgPool2d', 'outputSize', outputSize, 2) });
    this.outputSize = outputSize;
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    const x = checkTensor(input, 'AdaptiveAvgPool2d.forward', 'input');
    this.expect(x.ndim === 3 || x.ndim === 4, '[N, C, H, W] or [C, H, W]', x);
    return this.run1(x);
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `output_size=${pyIntOrTuple(this.outputSize)}`;
  }
}

/** BatchNorm1d/BatchNorm2d keyword arguments. */
export interface BatchNormOptions extends FactoryOptions { eps?: number; momentum?: number; affine?: boolean; trackRunningStats?: boolean }
type BatchNormArgs = [options?: BatchNormOptions] | [eps: number, momentum?: number, affine?: boolean, trackRunningStats?: boolean, options?: FactoryOptions];

abstract class BatchNorm extends NativeModule {
  declare weight: Parameter | undefined;
  declare bias: Parameter | undefined;
  declare running_mean: Tensor | undefined;
  declare running_var: Tensor | undefined;
  declare num_batches_tracked: Tensor | undefined;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  constructor(kind: string, numFeatures: number, args: readonly unknown[]) {
    const o = moduleArgs(kind, args, ['eps', 'momentum', 'affine', 'trackRunningStats']);
    positiveInt(kind, 'numFeatures', numFeatures);
    if (o.eps !== undefined && !(typeof o.eps === 'number' && o.eps > 0)) {
      throw new TypeError(`${kind}: expected a positive number for eps but received ${typeOfValue(o.eps)} ${String(o.eps)}`);
    }
    super(kind, { numFeatures, eps: o.eps, momentum: o.momentum, affine: o.affine, trackRunningStats: o.trackRunningStats }, o);
    this.numFeatures = numFeatures;
    this.eps = (o.eps as number | undefined) ?? 1e-5;
    this.momentum = (o.momentum as number | undefined) ?? 0.1;
    this.affine = (o.affine as boolean | undefined) ?? true;
    this.trackRunningStats = (o.trackRunningStats as boolean | undefined) ?? true;
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${pyFloat(this.momentum)}, affine=${pyBool(this.affine)}, ` +
      `track_running_stats=${pyBool(this.trackRunningStats)}`;
  }
  protected checkBatch(x: Tensor): void {
    if (this.training && x.ndim >= 2) {
      const perChannel = x.numel / x.shape[1];
      if (perChannel <= 1) {
        throw new RangeError(`${this.describe()} expected more than 1 value per channel when training but got input ` +
          `${shapeStr(x)}; use a batch of 2 or more, or call .eval()`);
      }
    }
  }
}

/** nn.BatchNorm1d(numFeatures, eps?, momentum?, affine?, trackRunningStats?): batch normalization of [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNorm {
  /** BatchNorm1d(numFeatures, eps?, momentum?, affine?, trackRunningStats?) or with options. */
  constructor(numFeatures: number, ...args: BatchNormArgs) {
    super('BatchNorm1d', numFeatures, args);
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    const x = this.checkInput(input);
    this.expect((x.ndim === 2 || x.ndim === 3) && x.shape[1] === this.numFeatures,
      `[N, ${this.numFeatures}] or [N, ${this.numFeatures}, L]`, x);
    this.checkBatch(x);
    return this.run1(x);
  }
}

/** nn.BatchNorm2d(numFeatures, eps?, momentum?, affine?, trackRunningStats?): batch normalization of [N, C, H, W]. */
export class BatchNorm2d extends BatchNorm {
  /** BatchNorm2d(numFeatures, eps?, momentum?, affine?, trackRunningStats?) or with options. */
  constructor(numFeatures: number, ...args: BatchNormArgs) {
    super('BatchNorm2d', numFeatures, args);
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    const x = this.checkInput(input);
    this.expect(x.ndim === 4 && x.shape[1] === this.numFeatures, `[N, ${this.numFeatures}, H, W]`, x);
    this.checkBatch(x);
    return this.run1(x);
  }
}

export class LayerNorm extends NativeModule {
  declare weight: Parameter | undefined;
  declare bias: Parameter | undefined;
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  /** LayerNorm(normalizedShape, eps?, elementwiseAffine?) as in PyTorch, or with options. */
  constructor(normalizedShape: number | number[], ...args: [options?: { eps?: number; elementwiseAffine?: boolean } & FactoryOptions]
    | [eps: number, elementwiseAffine?: boolean, options?: FactoryOptions]) {
    const o = moduleArgs('LayerNorm', args, ['eps', 'elementwiseAffine']);
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape) || shape.length === 0) {
      throw new TypeError(`LayerNorm: expected normalizedShape as a positive integer or a list of them but received ${typeOfValue(normalizedShape)}`);
    }
    shape.forEach((s, i) => positiveInt('LayerNorm', `normalizedShape[${i}]`, s));
    super('LayerNorm', { normalizedShape: shape, eps: o.eps, elementwiseAffine: o.elementwiseAffine }, o);
    this.normalizedShape = [...shape];
    this.eps = (o.eps as number | undefined) ?? 1e-5;
    this.elementwiseAffine = (o.elementwiseAffine as boolean | undefined) ?? true;
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    const x = this.checkInput(input);
    const n = this.normalizedShape.length;
    this.expect(x.ndim >= n && x.shape.slice(x.ndim - n).join() === this.normalizedShape.join(),
      `[..., ${this.normalizedShape.join(', ')}]`, x);
    return this.run1(x);
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `${pyTuple(this.normalizedShape)}, eps=${pyFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}

export class Dropout extends NativeModule {
  readonly p: number;
  constructor(p = 0.5) {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new TypeError(`Dropout: expected a probability p in [0, 1] but received ${typeOfValue(p)} ${String(p)}`);
    }
    super('Dropout', { p });
    this.p = p;
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    return this.run1(checkTensor(input, 'Dropout.forward', 'input'));
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}

export class Embedding extends NativeModule {
  declare weight: Parameter;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | undefined;
  /** Embedding(numEmbeddings, embeddingDim, paddingIdx?) as in PyTorch, or with { paddingIdx }. */
  constructor(numEmbeddings: number, embeddingDim: number, ...args: [options?: { paddingIdx?: number } & FactoryOptions]
    | [paddingIdx: number | null, options?: FactoryOptions]) {
    const o = moduleArgs('Embedding', args, ['paddingIdx']);
    if (o.paddingIdx === null) delete o.paddingIdx;
    positiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    positiveInt('Embedding', 'embeddingDim', embeddingDim);
    super('Embedding', { numEmbeddings, embeddingDim, paddingIdx: o.paddingIdx }, o);
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    const p = o.paddingIdx as number | undefined;
    this.paddingIdx = p === undefined ? undefined : p < 0 ? p + numEmbeddings : p;
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    const x = this.checkInput(input);
    if (x.dtype !== 'int64' && x.dtype !== 'int32') {
      throw new TypeError(`${this.describe()} expected integer indices (int64 or int32) but got a ${x.dtype} input ${shapeStr(x)}`);
    }
    return this.run1(x);
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === undefined ? '' : `, padding_idx=${this.paddingIdx}`}`;
  }
}

/** RNN/GRU/LSTM keyword arguments. */
export interface RNNOptions extends FactoryOptions {
  numLayers?: number; bias?: boolean; batchFirst?: boolean; dropout?: number; bidirectional?: boolean;
}
type RNNArgs<O> = [options?: O] | [numLayers: number, options?: O];

abstract class RNNBase extends NativeModule {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  /** @internal the constructor's options by name */
  protected declare readonly _args: Record<string, unknown>;
  constructor(kind: string, inputSize: number, hiddenSize: number, args: readonly unknown[], extra: string[] = []) {
    // PyTorch's positional order: RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional)
    const o = moduleArgs(kind, args, [...(kind === 'RNN' ? ['numLayers', ...extra] : ['numLayers']), 'bias', 'batchFirst', 'dropout', 'bidirectional']);
    positiveInt(kind, 'inputSize', inputSize);
    positiveInt(kind, 'hiddenSize', hiddenSize);
    const nativeOpts: Record<string, unknown> = { inputSize, hiddenSize };
    for (const k of ['numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional', ...extra]) nativeOpts[k] = o[k];
    super(kind, nativeOpts, o);
    this._args = o;
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = (o.numLayers as number | undefined) ?? 1;
    this.bias = (o.bias as boolean | undefined) ?? true;
    this.batchFirst = (o.batchFirst as boolean | undefined) ?? false;
    this.dropout = (o.dropout as number | undefined) ?? 0;
    this.bidirectional = (o.bidirectional as boolean | undefined) ?? false;
  }
  /** Unbatched [L, H_in] inputs get a batch dim of 1, as PyTorch does. */
  protected prepare(input: Tensor, hidden: (Tensor | undefined)[]): { x: Tensor; hs: Tensor[]; batched: boolean } {
    const x = this.checkInput(input);
    this.expect((x.ndim === 2 || x.ndim === 3) && x.shape[x.ndim - 1] === this.inputSize,
      this.batchFirst ? `[N, L, ${this.inputSize}] or [L, ${this.inputSize}]` : `[L, N, ${this.inputSize}] or [L, ${this.inputSize}]`, x);
    const batched = x.ndim === 3;
    const hs: Tensor[] = [];
    const layers = this.numLayers * (this.bidirectional ? 2 : 1);
    const batch = batched ? x.shape[this.batchFirst ? 0 : 1] : 1;
    for (const [i, h] of hidden.entries()) {
      if (h === undefined || h === null) continue;
      const t = this.checkInput(h, i === 0 ? 'h0' : 'c0');
      const want = [layers, batch, this.hiddenSize];
      const shape = batched ? t.shape : [t.shape[0], 1, ...t.shape.slice(1)];
      if ((batched ? t.ndim !== 3 : t.ndim !== 2) || shape.join() !== want.join()) {
        throw new RangeError(`${this.describe()} expected ${i === 0 ? 'h0' : 'c0'} of shape [${batched ? want.join(', ') : [layers, this.hiddenSize].join(', ')}] ` +
          `but got ${shapeStr(t)}`);
      }
      hs.push(batched ? t : t.unsqueeze(1));
    }
    return { x: batched ? x : x.unsqueeze(this.batchFirst ? 0 : 1), hs, batched };
  }
  protected finish(h: number, batched: boolean, dim: number): Tensor {
    const t = wrap(h);
    return batched ? t : t.squeeze(dim);
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (!this.bias) s += ', bias=False';
    if (this.batchFirst) s += ', batch_first=True';
    if (this.dropout !== 0) s += `, dropout=${pyFloat(this.dropout)}`;
    if (this.bidirectional) s += ', bidirectional=True';
    return s;
  }
}

/** nn.RNN(inputSize, hiddenSize, numLayers?, ...): an Elman RNN with tanh or relu. */
export class RNN extends RNNBase {
  readonly nonlinearity: 'tanh' | 'relu';
  /** RNN(inputSize, hiddenSize, numLayers?, nonlinearity?, ...) as in PyTorch, or with options. */
  constructor(inputSize: number, hiddenSize: number, ...args: RNNArgs<RNNOptions & { nonlinearity?: 'tanh' | 'relu' }>
    | [numLayers: number, nonlinearity: 'tanh' | 'relu', options?: RNNOptions]) {
    super('RNN', inputSize, hiddenSize, args, ['nonlinearity']);
    this.nonlinearity = (this._args.nonlinearity as 'tanh' | 'relu' | undefined) ?? 'tanh';
  }
  /** [output, h_n] */
  forward(input: Tensor, h0?: Tensor | null): [Tensor, Tensor] {
    const { x, hs, batched } = this.prepare(input, [h0 ?? undefined]);
    const [o, h] = this.run([x, ...hs]) as number[];
    return [this.finish(o, batched, this.batchFirst ? 0 : 1), this.finish(h, batched, 1)];
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return super.extraRepr() + (this.nonlinearity === 'relu' ? ", nonlinearity='relu'" : '');
  }
}

/** nn.GRU(inputSize, hiddenSize, numLayers?, ...): a gated recurrent unit layer. */
export class GRU extends RNNBase {
  /** GRU(inputSize, hiddenSize, numLayers?, options?) as in PyTorch. */
  constructor(inputSize: number, hiddenSize: number, ...args: RNNArgs<RNNOptions>) {
    super('GRU', inputSize, hiddenSize, args);
  }
  /** [output, h_n] */
  forward(input: Tensor, h0?: Tensor | null): [Tensor, Tensor] {
    const { x, hs, batched } = this.prepare(input, [h0 ?? undefined]);
    const [o, h] = this.run([x, ...hs]) as number[];
    return [this.finish(o, batched, this.batchFirst ? 0 : 1), this.finish(h, batched, 1)];
  }
}

/** nn.LSTM(inputSize, hiddenSize, numLayers?, ...): a long short-term memory layer. */
export class LSTM extends RNNBase {
  /** LSTM(inputSize, hiddenSize, numLayers?, options?) as in PyTorch. */
  constructor(inputSize: number, hiddenSize: number, ...args: RNNArgs<RNNOptions>) {
    super('LSTM', inputSize, hiddenSize, args);
  }
  /** [output, [h_n, c_n]]; hx is [h0, c0] or nothing (zeros). */
  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]] {
    if (hx != null && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new TypeError(`${this.describe()} expected hx as [h0, c0] but received ${typeOfValue(hx)}`);
    }
    const { x, hs, batched } = this.prepare(input, hx ? [hx[0], hx[1]] : []);
    if (hx && hs.length !== 2) throw new TypeError(`${this.describe()} expected hx as [h0, c0] with both tensors`);
    const [o, h, c] = this.run([x, ...hs]) as number[];
    return [this.finish(o, batched, this.batchFirst ? 0 : 1), [this.finish(h, batched, 1), this.finish(c, batched, 1)]];
  }
}

/** MultiheadAttention keyword arguments. */
export interface MultiheadAttentionOptions extends FactoryOptions {
  dropout?: number; bias?: boolean; addBiasKv?: boolean; addZeroAttn?: boolean; kdim?: number; vdim?: number; batchFirst?: boolean;
}

export class MultiheadAttention extends NativeModule {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly batchFirst: boolean;
  constructor(embedDim: number, numHeads: number, options?: MultiheadAttentionOptions) {
    const o = checkOptions('MultiheadAttention', options, ['dropout', 'bias', 'addBiasKv', 'addZeroAttn', 'kdim', 'vdim', 'batchFirst']);
    positiveInt('MultiheadAttention', 'embedDim', embedDim);
    positiveInt('MultiheadAttention', 'numHeads', numHeads);
    if (o.kdim !== undefined && o.kdim !== embedDim || o.vdim !== undefined && o.vdim !== embedDim) {
      // libtorch's separate q/k/v projection weights are named differently from PyTorch's; keep state dicts compatible.
      throw new TypeError('MultiheadAttention: kdim and vdim other than embedDim are not supported');
    }
    super('MultiheadAttention', { embedDim, numHeads, dropout: o.dropout, bias: o.bias, addBiasKv: o.addBiasKv, addZeroAttn: o.addZeroAttn }, o);
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.batchFirst = (o.batchFirst as boolean | undefined) ?? false;
  }
  /** [attnOutput, attnWeights (averaged over heads) | null] */
  forward(query: Tensor, key: Tensor, value: Tensor,
    opts: { keyPaddingMask?: Tensor; needWeights?: boolean; attnMask?: Tensor } = {}): [Tensor, Tensor | null] {
    const o = checkOptions('MultiheadAttention.forward', opts, ['keyPaddingMask', 'needWeights', 'attnMask']);
    const qkv = [this.checkInput(query, 'query'), this.checkInput(key, 'key'), this.checkInput(value, 'value')];
    const batched = qkv[0].ndim === 3;
    for (const t of qkv) {
      this.expect(t.ndim === qkv[0].ndim && (t.ndim === 2 || t.ndim === 3) && t.shape[t.ndim - 1] === this.embedDim,
        this.batchFirst ? `[N, L, ${this.embedDim}] or [L, ${this.embedDim}]` : `[L, N, ${this.embedDim}] or [L, ${this.embedDim}]`, t);
    }
    // libtorch's module takes [L, N, E]: batch-first and unbatched inputs are rearranged around it.
    const prep = (t: Tensor): Tensor => (!batched ? t.unsqueeze(1) : this.batchFirst ? t.transpose(0, 1) : t);
    const [out, w] = this.run(qkv.map(prep), {
      keyPaddingMask: o.keyPaddingMask as Tensor | undefined,
      attnMask: o.attnMask as Tensor | undefined,
      needWeights: (o.needWeights as boolean | undefined) ?? true,
    });
    let y = wrap(out as number);
    y = !batched ? y.squeeze(1) : this.batchFirst ? y.transpose(0, 1) : y;
    let weights = w === null ? null : wrap(w);
    if (weights && !batched) weights = weights.squeeze(0);
    return [y, weights];
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `embed_dim=${this.embedDim}, num_heads=${this.numHeads}${this.batchFirst ? ', batch_first=True' : ''}`;
  }
}

export class TransformerEncoderLayer extends NativeModule {
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;
  readonly dimFeedforward: number;
  readonly dropout: number;
  readonly activation: string;
  constructor(dModel: number, nhead: number, options?: {
    dimFeedforward?: number; dropout?: number; activation?: 'relu' | 'gelu'; batchFirst?: boolean;
  } & FactoryOptions) {
    const o = checkOptions('TransformerEncoderLayer', options, ['dimFeedforward', 'dropout', 'activation', 'batchFirst']);
    positiveInt('TransformerEncoderLayer', 'dModel', dModel);
    positiveInt('TransformerEncoderLayer', 'nhead', nhead);
    super('TransformerEncoderLayer', { dModel, nhead, dimFeedforward: o.dimFeedforward, dropout: o.dropout, activation: o.activation }, o);
    this.dModel = dModel;
    this.nhead = nhead;
    this.batchFirst = (o.batchFirst as boolean | undefined) ?? false;
    this.dimFeedforward = (o.dimFeedforward as number | undefined) ?? 2048;
    this.dropout = (o.dropout as number | undefined) ?? 0.1;
    this.activation = (o.activation as string | undefined) ?? 'relu';
  }
  /** Runs the encoder layer on src, with optional attention masks. */
  forward(src: Tensor, opts: { srcMask?: Tensor; srcKeyPaddingMask?: Tensor } = {}): Tensor {
    const o = checkOptions('TransformerEncoderLayer.forward', opts, ['srcMask', 'srcKeyPaddingMask']);
    const x = this.checkInput(src, 'src');
    this.expect((x.ndim === 2 || x.ndim === 3) && x.shape[x.ndim - 1] === this.dModel,
      this.batchFirst ? `[N, L, ${this.dModel}] or [L, ${this.dModel}]` : `[L, N, ${this.dModel}] or [L, ${this.dModel}]`, x);
    const batched = x.ndim === 3;
    const inp = !batched ? x.unsqueeze(1) : this.batchFirst ? x.transpose(0, 1) : x;
    const y = wrap(this.run([inp], {
      attnMask: o.srcMask as Tensor | undefined,
      keyPaddingMask: o.srcKeyPaddingMask as Tensor | undefined,
    })[0] as number);
    return !batched ? y.squeeze(1) : this.batchFirst ? y.transpose(0, 1) : y;
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `d_model=${this.dModel}, nhead=${this.nhead}, dim_feedforward=${this.dimFeedforward}, dropout=${pyFloat(this.dropout)}, ` +
      `activation=${this.activation}${this.batchFirst ? ', batch_first=True' : ''}`;
  }
}

export class Flatten extends NativeModule {
  readonly startDim: number;
  readonly endDim: number;
  constructor(startDim = 1, endDim = -1) {
    for (const [n, v] of [['startDim', startDim], ['endDim', endDim]] as const) {
      if (!Number.isSafeInteger(v)) throw new TypeError(`Flatten: expected an integer for ${n} but received ${typeOfValue(v)}`);
    }
    super('Flatten', { startDim, endDim });
    this.startDim = startDim;
    this.endDim = endDim;
  }
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    return this.run1(checkTensor(input, 'Flatten.forward', 'input'));
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

abstract class Activation extends NativeModule {
  /** Runs the layer on input. */
  forward(input: Tensor): Tensor {
    return this.run1(checkTensor(input, `${this.constructor.name}.forward`, 'input'));
  }
}

/** nn.ReLU(): max(x, 0). */
export class ReLU extends Activation {
  constructor() {
    super('ReLU', {});
  }
}
/** nn.Sigmoid(): 1 / (1 + exp(-x)). */
export class Sigmoid extends Activation {
  constructor() {
    super('Sigmoid', {});
  }
}
/** nn.Tanh(): the hyperbolic tangent. */
export class Tanh extends Activation {
  constructor() {
    super('Tanh', {});
  }
}
/** nn.GELU(approximate?): the Gaussian error linear unit. */
export class GELU extends Activation {
  readonly approximate: 'none' | 'tanh';
  constructor(options?: { approximate?: 'none' | 'tanh' }) {
    const o = checkOptions('GELU', options, ['approximate']);
    super('GELU', { approximate: o.approximate });
    this.approximate = (o.approximate as 'none' | 'tanh' | undefined) ?? 'none';
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}
/** nn.Softmax(dim): softmax over dim. */
export class Softmax extends Activation {
  readonly dim: number;
  constructor(dim = -1) {
    if (!Number.isSafeInteger(dim)) throw new TypeError(`Softmax: expected an integer dim but received ${typeOfValue(dim)}`);
    super('Softmax', { dim });
    this.dim = dim;
  }
  /** The arguments PyTorch's printout shows for this module. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
