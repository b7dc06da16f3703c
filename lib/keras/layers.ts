// Keras layers. A built-in layer owns nt.nn modules (libtorch's torch::nn underneath) in PyTorch's
// layouts, and describes itself as native steps so a model of built-in layers trains entirely in
// native code. Inputs are channels-last as in Keras; convolutions see channels-first views.
import { native, NativeObject } from '../native';
import { noGrad } from '../autograd';
import { Tensor, typeOfValue, checkTensor, wrap } from '../tensor';
import * as nt from '../creation';
import { where } from '../ops';
import * as nn from '../nn';
import { Callable, CALL } from '../callable';
import { callLayer } from './engine/layer';
import type { KerasTensor } from './engine/layer';
import { DType } from '../dtype';
import * as check from '../util/check';
import { tidy } from '../memory';
import { autocast } from '../amp';
import { globalPolicy, Policy, PolicyName, toPolicy } from './mixed_precision';

/** How the native loop runs one layer (native/model.cc Step). */
export interface NativeStep {
  module?: NativeObject;
  pre?: number;
  post?: number;
  activation?: string;
  reshape?: number[];
  lastStep?: boolean;
  castFloat?: boolean;
  activityL1?: number;
  activityL2?: number;
  /** Rescaling: x * scale + offset, each one number or one per channel (the last dimension) */
  scale?: number[];
  offset?: number[];
  /** mixed precision: the dtype the layer computes in (native/amp.cc autocast) */
  computeDtype?: string;
}

/** A weight as Keras shows it (getWeights/setWeights), stored in PyTorch's layout. */
export interface LayerWeight {
  name: string;
  tensor: Tensor;
  trainable: boolean;
  /** PyTorch layout -> Keras layout (e.g. a Dense kernel [out, in] -> [in, out]) */
  toKeras?: (t: Tensor) => Tensor;
  fromKeras?: (t: Tensor) => Tensor;
}

/** An L1/L2 weight or activity penalty: l1 * sum|w| + l2 * sum w^2 (Keras' regularizers.L1L2). */
export interface Regularizer { l1: number; l2: number }

/** The activation names the Keras layers accept (Keras' activations module). */
export const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'gelu', 'elu', 'selu', 'swish', 'silu',
  'leaky_relu', 'softplus'] as const;
/** One of ACTIVATIONS: a Keras activation name ('relu', 'softmax', 'linear'...). */
export type ActivationName = typeof ACTIVATIONS[number];

/** Validates an activation option: the name, 'linear' when absent, else a TypeError naming where and the choices. */
export function checkActivation(where: string, a: unknown): ActivationName {
  if (a === undefined || a === null) return 'linear';
  if (typeof a === 'string' && (ACTIVATIONS as readonly string[]).includes(a)) return a as ActivationName;
  throw new TypeError(`${where}: unknown activation ${typeof a === 'string' ? `'${a}'` : typeOfValue(a)}; expected one of ` +
    ACTIVATIONS.join(', '));
}

/**
 * Runs one native step (native/model.cc Forward, the loop's own code for a built-in layer) on x:
 * the output and, when the step has an activity regularizer, its penalty.
 */
export function runStep(step: NativeStep, x: Tensor, training: boolean): [Tensor, Tensor | undefined] {
  const [out, penalty] = native.keras_step_forward(step, x._h, training).map(wrap);
  return [out, penalty];
}

/** An activation by its Keras name: libtorch's kernels (softplus, elu, selu... stable at +-100), as the native loop runs them. */
export function applyActivation(a: ActivationName, x: Tensor): Tensor {
  return a === 'linear' ? x : runStep({ activation: a }, x, false)[0];
}

/** Options every Keras layer takes: name, inputShape, trainable, dtype (Keras' base Layer kwargs). */
export interface LayerOptions {
  /** the layer's name (default: the class name in snake_case, numbered) */
  name?: string;
  /** per-sample input shape, without the batch (Keras' input_shape) */
  inputShape?: number[];
  /** whether fit updates the layer's weights (default true) */
  trainable?: boolean;
  /** the layer's dtype policy ('float32', 'mixed_bfloat16', 'mixed_float16' or a mixedPrecision.Policy); the global policy by default */
  dtype?: PolicyName | Policy;
}

const counters = new Map<string, number>();
function autoName(cls: string): string {
  // Keras' to_snake_case: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d
  const base = cls.replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  const n = counters.get(base) ?? 0;
  counters.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

const LAYER_KEYS = ['name', 'inputShape', 'trainable', 'dtype'];

/** A built layer's module, or the error that says to build it first (`new layers.Dense(4).call(x)` before build). */
export function builtModule<T>(layer: { name: string; constructor: { name: string } }, m: T | undefined, x: Tensor): T {
  if (m !== undefined) return m;
  throw new Error(`${layer.name} (${layer.constructor.name}) is not built yet, so it has no weights: call ` +
    `layer.build([${x.shape.slice(1).join(', ')}]) with the per-sample input shape first, or use the layer in a model ` +
    '(fit, predict and evaluate build it)');
}

/** A layer's options object: Keras' snake_case names read as camelCase, unknown names refused, inputShape checked. */
export function checkLayerOptions(where: string, opts: unknown, known: readonly string[]): Record<string, unknown> {
  return checkInputShape(where, check.options(where, opts, [...LAYER_KEYS, ...known]));
}

/**
 * Keras' calling convention for a layer constructor: the arguments Keras takes by position, in its
 * order (`new Conv2D(32, 3, { activation })`, `new MaxPooling2D(2, 2)`), or by name in the options
 * object (`new Embedding({ inputDim, outputDim })`), snake_case or camelCase.
 */
export function layerArgs(where: string, args: readonly unknown[], positional: readonly string[], known: readonly string[]):
  Record<string, unknown> {
  return checkInputShape(where, check.args(where, args, positional, [...LAYER_KEYS, ...known]));
}

function checkInputShape(where: string, o: Record<string, unknown>): Record<string, unknown> {
  if (o.inputShape !== undefined && (!Array.isArray(o.inputShape) ||
      !o.inputShape.every((d) => d === null || (Number.isSafeInteger(d) && (d as number) > 0)))) {
    throw new TypeError(`${where}: expected inputShape to be an array of positive integers (per sample, without the batch) ` +
      `but received ${JSON.stringify(o.inputShape)}`);
  }
  return o;
}

/** Validates a positive integer argument: the value, else a TypeError naming where and name. */
export function positiveInt(where: string, name: string, v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  throw new TypeError(`${where}: expected ${name} to be a positive integer but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}

function pair(where: string, name: string, v: unknown): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => Number.isSafeInteger(x) && x > 0)) {
    throw new TypeError(`${where}: expected ${name} to be a positive integer or [h, w] but received ${JSON.stringify(v)}`);
  }
  return p as [number, number];
}

/** The options every layer takes, from a config (fromConfig). */
export function configBase(c: Record<string, unknown>): LayerOptions {
  const o: LayerOptions = {};
  if (c.name !== undefined) o.name = c.name as string;
  if (c.trainable !== undefined) o.trainable = c.trainable as boolean;
  if (c.inputShape !== undefined && c.inputShape !== null) o.inputShape = c.inputShape as number[];
  if (c.dtype !== undefined && c.dtype !== null) o.dtype = c.dtype as PolicyName;
  return o;
}
/** The given keys of a config that are set (fromConfig). */
export function configPick(c: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of keys) if (c[k] !== undefined && c[k] !== null) o[k] = c[k];
  return o;
}
/** The options Dense shares with the convolution and recurrent layers (weights, initializers, regularizers). */
export const DENSE_KEYS = ['activation', 'useBias', 'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer',
  'activityRegularizer'] as const;
type Config = Record<string, unknown>;

/** A per-sample shape as Keras prints it with the batch dim: [3, null] -> '(None, 3, None)'. */
export const shapeStr = (s: readonly (number | null)[]): string => `(${['None', ...s.map((d) => (d === null ? 'None' : d))].join(', ')}${s.length === 0 ? ',' : ''})`;

/** A Keras initializer name (keras.initializers: 'glorot_uniform', 'he_normal', 'orthogonal'...). */
export type Initializer = 'glorot_uniform' | 'glorot_normal' | 'he_uniform' | 'he_normal' | 'lecun_uniform' |
  'lecun_normal' | 'zeros' | 'ones' | 'random_uniform' | 'random_normal' | 'uniform' | 'orthogonal';
const INITIALIZERS: readonly string[] = ['glorot_uniform', 'glorot_normal', 'he_uniform', 'he_normal', 'lecun_uniform',
  'lecun_normal', 'zeros', 'ones', 'random_uniform', 'random_normal', 'uniform', 'orthogonal'];

/** Validates an initializer option: the name, dflt when absent, else a TypeError listing the choices. */
export function checkInitializer(where: string, name: string, v: unknown, dflt: Initializer): Initializer {
  if (v === undefined) return dflt;
  if (typeof v === 'string' && INITIALIZERS.includes(v)) return v as Initializer;
  throw new TypeError(`${where}: unknown ${name} ${typeof v === 'string' ? `'${v}'` : typeOfValue(v)}; expected one of ${INITIALIZERS.join(', ')}`);
}

/** Keras' Orthogonal: Q of a normal matrix's QR (diag(R) > 0), by Gram-Schmidt in float64. */
function orthogonal(rows: number, cols: number): Tensor {
  const m = Math.max(rows, cols);
  const n = Math.min(rows, cols);
  const a = nt.randn([m, n], { dtype: 'float64' }).dataSync() as Float64Array;
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let d = 0;
      for (let i = 0; i < m; i++) d += a[i * n + k] * a[i * n + j];
      for (let i = 0; i < m; i++) a[i * n + j] -= d * a[i * n + k];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += a[i * n + j] * a[i * n + j];
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) a[i * n + j] /= norm;
  }
  const q = nt.tensor(a, { shape: [m, n] });
  return rows >= cols ? q : q.t();
}

/** The standard deviation of a standard normal truncated to [-2, 2]. */
const TRUNCATED_STD = 0.8796256610342398;

/** Keras' truncated normal: standard normal draws beyond 2 (stddev) are redrawn, not clamped. */
function truncatedNormal(shape: readonly number[], dtype: DType): Tensor {
  let x = nt.randn([...shape], { dtype });
  for (;;) {
    const out = x.abs().gt(2);
    if (!out.any().item()) return x;
    x = where(out, nt.randn([...shape], { dtype }), x);
  }
}

/** Fills a weight in PyTorch layout ([out, in, ...kernel]) with a Keras initializer (same fans as Keras). */
export function initialize(t: Tensor, init: Initializer): void {
  const shape = t.shape;
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  const fanIn = shape.length >= 2 ? shape[1] * receptive : shape[0];
  const fanOut = shape.length >= 2 ? shape[0] * receptive : shape[0];
  noGrad(() => {
    const uniform = (limit: number) => t.copy_(nt.rand([...shape], { dtype: t.dtype }).mul(2 * limit).sub(limit));
    // Keras' VarianceScaling normals: a normal truncated at 2 stddev, rescaled to the wanted std.
    const normal = (std: number) => tidy(() => t.copy_(truncatedNormal(shape, t.dtype).mul(std / TRUNCATED_STD)));
    switch (init) {
      case 'glorot_uniform': uniform(Math.sqrt(6 / (fanIn + fanOut))); break;
      case 'glorot_normal': normal(Math.sqrt(2 / (fanIn + fanOut))); break;
      case 'he_uniform': uniform(Math.sqrt(6 / fanIn)); break;
      case 'he_normal': normal(Math.sqrt(2 / fanIn)); break;
      case 'lecun_uniform': uniform(Math.sqrt(3 / fanIn)); break;
      case 'lecun_normal': normal(Math.sqrt(1 / fanIn)); break;
      case 'zeros': t.zero_(); break;
      case 'ones': t.fill_(1); break;
      case 'uniform': case 'random_uniform': uniform(0.05); break;
      case 'random_normal': t.copy_(nt.randn([...shape], { dtype: t.dtype }).mul(0.05)); break;
      case 'orthogonal': {
        const q = shape.length === 2 ? orthogonal(shape[0], shape[1]) : orthogonal(shape[0], 1).reshape([...shape]);
        t.copy_(q.to(t.dtype));
        break;
      }
    }
  });
}

/**
 * Keras' base Layer: subclass with build(inputShape) and call(x) to write your own in TypeScript.
 * Layers are callable (lib/callable.ts): `layer(x)` on Tensors runs eagerly, on nt.Input tensors it
 * builds a graph (lib/keras/engine/layer.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the call signatures below are what Callable implements
export abstract class Layer extends Callable {
  /** the layer's name (default: the class name in snake_case, numbered) */
  name: string;
  /** whether fit updates the layer's weights (default true) */
  trainable: boolean;
  /** per-sample input shape given by the user (Keras' input_shape) */
  readonly inputShape: number[] | undefined;
  built = false;
  /** per-sample shapes once built */
  builtInputShape: number[] | undefined;
  /** penalty on the kernel, added to the loss (regularizers.l2(...)) */
  kernelRegularizer: Regularizer | undefined;
  /** penalty on the bias, added to the loss */
  biasRegularizer: Regularizer | undefined;
  /** a penalty on the layer's output, added to the loss (divided by the batch size, as Keras) */
  activityRegularizer: Regularizer | undefined;
  /** weights made by addWeight() in a user layer's build() */
  private ownWeights: LayerWeight[] = [];

  constructor(opts: LayerOptions = {}) {
    super();
    this.name = opts.name ?? autoName(this.constructor.name);
    this.trainable = opts.trainable ?? true;
    this.inputShape = opts.inputShape ? [...opts.inputShape] : undefined;
    this.explicitPolicy = opts.dtype !== undefined && opts.dtype !== null;
    this.dtypePolicy = this.explicitPolicy ? toPolicy(`${this.constructor.name}: dtype`, opts.dtype) : globalPolicy();
    // build() as a user calls it records the per-sample shape it was built for (buildFor's width check reads it)
    const build = this.build;
    Object.defineProperty(this, 'build', {
      configurable: true, writable: true, enumerable: false,
      value: (...a: unknown[]) => {
        const r = (build as (...b: unknown[]) => unknown).apply(this, a);
        const s = a[0];
        if (!this.builtInputShape && Array.isArray(s) && s.length > 0 && s.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) this.builtInputShape = [...s as number[]];
        return r;
      },
    });
  }

  /** Keras' dtype_policy: set by the dtype option, else the global policy when the layer was made. */
  readonly dtypePolicy: Policy;
  private readonly explicitPolicy: boolean;
  /** Keras' compute_dtype: the dtype the layer computes in ('bfloat16' under 'mixed_bfloat16'). */
  get computeDtype(): string {
    return this.dtypePolicy.computeDtype;
  }
  /** Keras' variable_dtype: the dtype of the layer's weights (float32). */
  get variableDtype(): string {
    return this.dtypePolicy.variableDtype;
  }
  /** nativeStep() under the layer's dtype policy: the step that eager calls and every loop run. */
  runnableStep(): NativeStep | null {
    const s = this.nativeStep();
    return s && (this.explicitPolicy || this.dtypePolicy.isMixed) ? { ...s, computeDtype: this.dtypePolicy.computeDtype } : s;
  }

  /** Creates the weights for a per-sample input shape. */
  build(inputShape: number[]): void {
    void inputShape;
  }
  /** The per-sample output shape for a per-sample input shape. */
  computeOutputShape(inputShape: number[]): number[] {
    return inputShape;
  }
  /**
   * Runs the layer eagerly. A built-in layer runs its native step, the same code that predict and
   * every training path run; a user layer overrides this (merge layers take a list).
   */
  call(x: Tensor, opts?: { training?: boolean }): Tensor;
  call(x: Tensor | Tensor[], opts?: { training?: boolean }): Tensor | Tensor[];
  call(x: Tensor | Tensor[], opts?: { training?: boolean }): Tensor | Tensor[] {
    if (Array.isArray(x)) throw new TypeError(`${this.name} (${this.constructor.name}): expected one Tensor but received an array; only merge layers take a list`);
    this.buildFor(x);
    const step = this.runnableStep();
    if (!step) throw new Error(`${this.name} (${this.constructor.name}): a custom layer must implement call(x)`);
    return runStep(step, x, opts?.training ?? false)[0];
  }

  /** `layer(x)`, `layer(x, { training })`, `layer([a, b])`: eager on Tensors, symbolic on nt.Input tensors. */
  protected [CALL](...args: unknown[]): unknown {
    return callLayer(this, args);
  }
  /** Keras' layer.apply(x): the same as calling the layer. */
  apply(...args: unknown[]): unknown {
    return callLayer(this, args);
  }

  /** The output and the activity regularizer's penalty on it (when the layer has one). */
  forwardWithPenalty(x: Tensor, training: boolean): [Tensor, Tensor | undefined] {
    this.buildFor(x);
    if (isNativeLayer(this)) return runStep(this.runnableStep()!, x, training);
    const run = () => this.call(x, { training }) as Tensor;
    // a user layer under a mixed policy computes in autocast, as Keras casts its inputs
    const out = this.dtypePolicy.isMixed ? autocast<Tensor>({ deviceType: x.device.startsWith('cuda') ? 'cuda' : 'cpu', dtype: this.computeDtype as 'bfloat16' }, run) : run();
    const r = this.activityRegularizer;
    return [out, r && (r.l1 || r.l2) ? runStep({ activityL1: r.l1 ?? 0, activityL2: r.l2 ?? 0 }, out, training)[1] : undefined];
  }

  /** Keras builds a layer on its first call, from the input's per-sample shape. */
  private buildFor(x: Tensor): void {
    checkTensor(x, `${this.name}.call`, 'x');
    if (!this.built) {
      this.build(x.shape.slice(1));
      this.built = true;
      this.builtInputShape = x.shape.slice(1);
      return;
    }
    if (x.ndim >= 2) this.checkInputWidth(x.shape.slice(1));
  }

  /**
   * The one input-width check of a built layer (eager call, symbolic call, and predict/fit through a
   * model's JS path): the per-sample shape must match the built one on widthAxis().
   */
  checkInputWidth(sample: readonly (number | null)[]): void {
    const built = this.builtInputShape ?? this.inputShape;
    const axis = built && this.built ? this.widthAxis() : null;
    if (!built || axis === null || sample.length === 0) return;
    const want = built[built.length + axis];
    const got = sample[sample.length + axis];
    if (want !== undefined && want !== null && got !== null && got !== want) {
      throw new RangeError(`${this.name} (${this.constructor.name}): the layer was built for inputs of shape ${shapeStr(built)} ` +
        `(last dimension ${want}) but received inputs of shape ${shapeStr(sample)}`);
    }
  }

  /** The input axis whose size a built layer's weights fix, checked on every call: the last, for a built-in layer with weights; null for none. */
  protected widthAxis(): number | null {
    return isNativeLayer(this) && this.countParams() > 0 ? -1 : null;
  }

  /** The native description, or null for a layer that must run from JS. */
  nativeStep(): NativeStep | null {
    return null;
  }

  /** For user layers: a trainable weight, initialized like Keras. */
  addWeight(name: string, shape: number[], opts: { initializer?: Initializer; trainable?: boolean } = {}): Tensor {
    const p = new nn.Parameter(nt.zeros(shape), opts.trainable ?? true);
    initialize(p, checkInitializer(`${this.constructor.name}.addWeight`, 'initializer', opts.initializer, 'glorot_uniform'));
    this.ownWeights.push({ name, tensor: p, trainable: opts.trainable ?? true });
    return p;
  }

  /** Weights in Keras order (kernel, bias, ...), in PyTorch layout. */
  weightsInternal(): LayerWeight[] {
    return this.ownWeights;
  }
  /** Keras' layer.weights: all weights in Keras order and layout. */
  get weights(): Tensor[] {
    return this.weightsInternal().map((w) => (w.toKeras ? w.toKeras(w.tensor) : w.tensor));
  }
  /** Keras' trainable_weights: the trainable weights (in PyTorch layout), none when the layer is frozen. */
  get trainableWeights(): Tensor[] {
    return this.trainable ? this.weightsInternal().filter((w) => w.trainable).map((w) => w.tensor) : [];
  }
  /** torch::nn modules whose train/eval mode follows fit/evaluate (Dropout, BatchNorm). */
  modules(): nn.Module[] {
    return [];
  }
  /** Keras' count_params(): the number of scalars in the layer's weights. */
  countParams(): number {
    return this.weightsInternal().reduce((n, w) => n + w.tensor.numel, 0);
  }
  /** Keras' get_weights(): copies of the weights in Keras order and layout (a Dense kernel is [in, out]). */
  getWeights(): Tensor[] {
    return this.weightsInternal().map((w) => noGrad(() => (w.toKeras ? w.toKeras(w.tensor) : w.tensor).clone()));
  }
  /** Keras' set_weights(): copies ws (Keras order and layout, the shapes of getWeights()) into the weights. */
  setWeights(ws: Tensor[]): void {
    const own = this.weightsInternal();
    if (!Array.isArray(ws) || ws.length !== own.length) {
      throw new RangeError(`${this.name}.setWeights: expected ${own.length} weights but received ${Array.isArray(ws) ? ws.length : typeOfValue(ws)}`);
    }
    const converted = own.map((w, i) => {
      const t = checkTensor(ws[i], `${this.name}.setWeights`, `weights[${i}]`);
      const v = w.fromKeras ? w.fromKeras(t) : t;
      if (v.shape.join() !== w.tensor.shape.join()) {
        const want = w.toKeras ? w.toKeras(w.tensor).shape : w.tensor.shape;
        throw new RangeError(`${this.name}.setWeights: weight ${i} (${w.name}) must have shape [${want.join(', ')}] but has [${t.shape.join(', ')}]`);
      }
      return v;
    });
    noGrad(() => own.forEach((w, i) => w.tensor.copy_(converted[i])));
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  getConfig(): Record<string, unknown> {
    // regularizers change training, so a restored layer keeps them
    const reg = (k: 'kernelRegularizer' | 'biasRegularizer' | 'activityRegularizer') => (this[k] ? { [k]: { ...this[k] } } : {});
    return { name: this.name, trainable: this.trainable, ...(this.inputShape ? { inputShape: this.inputShape } : {}),
      ...(this.explicitPolicy || this.dtypePolicy.isMixed ? { dtype: this.dtypePolicy.name } : {}),
      ...reg('kernelRegularizer'), ...reg('biasRegularizer'), ...reg('activityRegularizer') };
  }
  /** Keras' from_config: a layer from getConfig()'s output (layers with positional arguments override it). */
  static fromConfig(config: Record<string, unknown>): Layer {
    return new (this as unknown as new (c: Record<string, unknown>) => Layer)(config);
  }
  /** Keras' summary name for the output shape column. */
  describeShape(s: readonly (number | null)[]): string {
    return shapeStr(s);
  }
}

/** Layers are callable: on symbolic tensors they return symbolic tensors, on Tensors they return Tensors. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the class
export interface Layer {
  /** On nt.Input tensors (one, or a list for merge layers): adds the layer to the functional graph and returns its symbolic output. */
  (x: KerasTensor | KerasTensor[], opts?: Record<string, unknown>): KerasTensor;
  /** On Tensors: runs the layer eagerly (building it on first use), like Keras' `layer(x, training=...)`. */
  (x: Tensor | Tensor[], opts?: { training?: boolean; [option: string]: unknown }): Tensor;
  /** Attention layers on nt.Input tensors: `layer(query, value, key?)` in the functional graph. */
  (query: KerasTensor, value: KerasTensor, key?: KerasTensor | Record<string, unknown>, opts?: Record<string, unknown>): KerasTensor;
  /** Attention layers on Tensors: `layer(query, value, key?)` run eagerly. */
  (query: Tensor, value: Tensor, key?: Tensor | null | Record<string, unknown>, opts?: Record<string, unknown>): Tensor;
}

/** Options of Dense (Keras' Dense kwargs in camelCase; snake_case accepted). */
export interface DenseOptions extends LayerOptions {
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
  /** penalty on the layer's output, added to the loss */
  activityRegularizer?: Regularizer;
}

/** Keras' Dense: activation(x W + b) on the last axis (PyTorch's nn.Linear plus an activation). */
export class Dense extends Layer {
  /** the output size */
  readonly units: number;
  /** activation applied to the output (default 'linear', none) */
  readonly activation: ActivationName;
  /** whether the layer adds a bias (default true) */
  readonly useBias: boolean;
  /** initializer of the kernel (default 'glorot_uniform') */
  readonly kernelInitializer: Initializer;
  /** initializer of the bias (default 'zeros') */
  readonly biasInitializer: Initializer;
  linear: nn.Linear | undefined;
  /** Dense(units, activation?, useBias?, options?) as in Keras, or Dense({ units, ... }). */
  constructor(...args: [units: number, options?: DenseOptions] | [units: number, activation: ActivationName | null, options?: DenseOptions]
    | [options: DenseOptions & { units: number }]) {
    const o = layerArgs('Dense', args, ['units', 'activation', 'useBias'], ['kernelInitializer', 'biasInitializer',
      'kernelRegularizer', 'biasRegularizer', 'activityRegularizer']);
    super(o);
    this.units = positiveInt('Dense', 'units', o.units);
    this.activation = checkActivation('Dense', o.activation);
    this.useBias = (o.useBias as boolean | undefined) ?? true;
    this.kernelInitializer = checkInitializer('Dense', 'kernelInitializer', o.kernelInitializer, 'glorot_uniform');
    this.biasInitializer = checkInitializer('Dense', 'biasInitializer', o.biasInitializer, 'zeros');
    this.kernelRegularizer = o.kernelRegularizer as Regularizer | undefined;
    this.biasRegularizer = o.biasRegularizer as Regularizer | undefined;
    this.activityRegularizer = o.activityRegularizer as Regularizer | undefined;
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(inputShape: number[]): void {
    const inF = inputShape[inputShape.length - 1];
    if (!Number.isSafeInteger(inF) || inF <= 0) {
      throw new RangeError(`${this.name} (Dense): expected inputs with a known last dimension but got shape ${shapeStr(inputShape)}`);
    }
    this.linear = new nn.Linear(inF, this.units, { bias: this.useBias });
    initialize(this.linear.weight, this.kernelInitializer);
    if (this.linear.bias) initialize(this.linear.bias, this.biasInitializer);
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    return [...s.slice(0, -1), this.units];
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { module: this.linear!._native, activation: this.activation, castFloat: true, ...activity(this.activityRegularizer) };
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    if (!this.linear) return [];
    const t = (w: Tensor) => w.t();
    const ws: LayerWeight[] = [{ name: 'kernel', tensor: this.linear.weight, trainable: true, toKeras: t, fromKeras: t }];
    if (this.linear.bias) ws.push({ name: 'bias', tensor: this.linear.bias, trainable: true });
    return ws;
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Dense {
    return new Dense(c.units as number, { ...configBase(c), ...configPick(c, DENSE_KEYS) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), units: this.units, activation: this.activation, useBias: this.useBias,
      kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer };
  }
}

/** Keras' Flatten: each sample to one dim, keeping the batch (nn.Flatten). */
export class Flatten extends Layer {
  constructor(opts?: LayerOptions) {
    super(checkLayerOptions('Flatten', opts, []));
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    return [s.reduce((a, b) => a * b, 1)];
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(): void {
    this.built = true;
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { reshape: [-1] };
  }
}

/** Keras' Reshape: each sample to targetShape (one dim may be -1), keeping the batch. */
export class Reshape extends Layer {
  /** the per-sample output shape (one dim may be -1) */
  readonly targetShape: number[];
  constructor(...args: [targetShape: number[], options?: LayerOptions] | [options: LayerOptions & { targetShape: number[] }]) {
    const o = layerArgs('Reshape', args, ['targetShape'], []);
    super(o);
    const targetShape = o.targetShape as number[];
    if (!Array.isArray(targetShape) || !targetShape.every((d) => Number.isSafeInteger(d) && (d > 0 || d === -1))) {
      throw new TypeError(`Reshape: expected targetShape as positive integers (one may be -1) but received ${JSON.stringify(targetShape)}`);
    }
    this.targetShape = [...targetShape];
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    const total = s.reduce((a, b) => a * b, 1);
    const known = this.targetShape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = this.targetShape.map((d) => (d === -1 ? total / known : d));
    if (out.reduce((a, b) => a * b, 1) !== total || !out.every(Number.isInteger)) {
      throw new RangeError(`${this.name} (Reshape): cannot reshape inputs ${shapeStr(s)} to ${shapeStr(this.targetShape)}`);
    }
    return out;
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    this.computeOutputShape(s);
    this.built = true;
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { reshape: this.targetShape };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Reshape {
    return new Reshape(c.targetShape as number[], configBase(c));
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), targetShape: this.targetShape };
  }
}

/** Keras' Dropout: zeroes inputs with probability rate in training, scaling the rest by 1/(1-rate) (nn.Dropout). */
export class Dropout extends Layer {
  /** the fraction of inputs dropped while training */
  readonly rate: number;
  dropout: nn.Dropout;
  constructor(...args: [rate: number, options?: LayerOptions & { seed?: number }] | [options: LayerOptions & { rate: number; seed?: number }]) {
    const o = layerArgs('Dropout', args, ['rate', 'noiseShape', 'seed'], []);
    if (o.noiseShape != null) throw new TypeError('Dropout: noiseShape is not supported; leave it null');
    super(o);
    const rate = o.rate;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
      throw new TypeError(`Dropout: expected rate in [0, 1) but received ${typeOfValue(rate)}${typeof rate === 'number' ? ` ${rate}` : ''}`);
    }
    this.rate = rate;
    this.dropout = new nn.Dropout(rate);
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(): void {
    this.built = true;
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { module: this.dropout._native };
  }
  /** The torch::nn modules whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return [this.dropout];
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Dropout {
    return new Dropout(c.rate as number, configBase(c));
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate };
  }
}

/** Keras' Activation: applies a named activation elementwise ('softmax' over the last axis). */
export class Activation extends Layer {
  /** activation applied to the output (default 'linear', none) */
  readonly activation: ActivationName;
  constructor(...args: [activation: ActivationName, options?: LayerOptions] | [options: LayerOptions & { activation: ActivationName }]) {
    const o = layerArgs('Activation', args, ['activation'], []);
    super(o);
    this.activation = checkActivation('Activation', o.activation);
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(): void {
    this.built = true;
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { activation: this.activation };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Activation {
    return new Activation(c.activation as ActivationName, configBase(c));
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation };
  }
}

/** Options of Conv2D: Dense's plus strides, padding, dilationRate; channels_last only. */
export interface Conv2DOptions extends DenseOptions {
  /** step of the window along each spatial dim */
  strides?: number | [number, number];
  /** 'valid' (no padding) or 'same' (zero padding that keeps the input's size at stride 1) */
  padding?: 'valid' | 'same';
  /** spacing between kernel taps (default 1) */
  dilationRate?: number | [number, number];
  /** only 'channels_last' (Keras' default) is supported */
  dataFormat?: 'channels_last';
}

/** Keras' Conv2D on channels-last (batch, h, w, c) inputs (PyTorch's nn.Conv2d plus an activation). */
export class Conv2D extends Layer {
  /** the number of output channels */
  readonly filters: number;
  /** the convolution window's size */
  readonly kernelSize: [number, number];
  /** step of the window along each spatial dim */
  readonly strides: [number, number];
  /** 'valid' (no padding) or 'same' (zero padding that keeps the input's size at stride 1) */
  readonly padding: 'valid' | 'same';
  /** spacing between kernel taps (default 1) */
  readonly dilationRate: [number, number];
  /** activation applied to the output (default 'linear', none) */
  readonly activation: ActivationName;
  /** whether the layer adds a bias (default true) */
  readonly useBias: boolean;
  /** initializer of the kernel (default 'glorot_uniform') */
  readonly kernelInitializer: Initializer;
  /** initializer of the bias (default 'zeros') */
  readonly biasInitializer: Initializer;
  conv: nn.Conv2d | undefined;
  /** Conv2D(filters, kernelSize, strides?, padding?, options?) as in Keras, or Conv2D({ filters, kernelSize, ... }). */
  constructor(...args: [filters: number, kernelSize: number | [number, number], options?: Conv2DOptions]
    | [filters: number, kernelSize: number | [number, number], strides: number | [number, number], padding?: 'valid' | 'same', options?: Conv2DOptions]
    | [options: Conv2DOptions & { filters: number; kernelSize: number | [number, number] }]) {
    const o = layerArgs('Conv2D', args, ['filters', 'kernelSize', 'strides', 'padding'], ['dilationRate', 'activation', 'useBias',
      'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'dataFormat']);
    super(o);
    this.filters = positiveInt('Conv2D', 'filters', o.filters);
    this.kernelSize = pair('Conv2D', 'kernelSize', o.kernelSize);
    this.strides = pair('Conv2D', 'strides', o.strides ?? 1);
    this.dilationRate = pair('Conv2D', 'dilationRate', o.dilationRate ?? 1);
    const padding = o.padding ?? 'valid';
    if (padding !== 'valid' && padding !== 'same') throw new TypeError(`Conv2D: expected padding 'valid' or 'same' but received ${JSON.stringify(padding)}`);
    if (padding === 'same' && this.strides.some((s) => s !== 1)) {
      throw new TypeError("Conv2D: padding 'same' with strides other than 1 is not supported yet; use padding 'valid' or strides 1");
    }
    if (o.dataFormat !== undefined && o.dataFormat !== 'channels_last') {
      throw new TypeError("Conv2D: only dataFormat 'channels_last' (Keras' default) is supported");
    }
    this.padding = padding;
    this.activation = checkActivation('Conv2D', o.activation);
    this.useBias = (o.useBias as boolean | undefined) ?? true;
    this.kernelInitializer = checkInitializer('Conv2D', 'kernelInitializer', o.kernelInitializer, 'glorot_uniform');
    this.biasInitializer = checkInitializer('Conv2D', 'biasInitializer', o.biasInitializer, 'zeros');
    this.kernelRegularizer = o.kernelRegularizer as Regularizer | undefined;
    this.biasRegularizer = o.biasRegularizer as Regularizer | undefined;
    this.activityRegularizer = o.activityRegularizer as Regularizer | undefined;
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    if (s.length !== 3) {
      throw new RangeError(`${this.name} (Conv2D): expected inputs of shape (batch, height, width, channels) but got ${shapeStr(s)}`);
    }
    this.computeOutputShape(s);
    this.conv = new nn.Conv2d(s[2], this.filters, this.kernelSize, {
      stride: this.strides, padding: this.padding === 'same' ? 'same' : 0, dilation: this.dilationRate, bias: this.useBias,
    });
    initialize(this.conv.weight, this.kernelInitializer);
    if (this.conv.bias) initialize(this.conv.bias, this.biasInitializer);
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    const out = [0, 1].map((i) => {
      if (this.padding === 'same') return Math.ceil(s[i] / this.strides[i]);
      const span = this.dilationRate[i] * (this.kernelSize[i] - 1) + 1;
      return Math.floor((s[i] - span) / this.strides[i]) + 1;
    });
    if (out.some((d) => d <= 0)) {
      throw new RangeError(`${this.name} (Conv2D): kernel ${this.kernelSize.join('x')} does not fit inputs ${shapeStr(s)}`);
    }
    return [out[0], out[1], this.filters];
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { module: this.conv!._native, pre: 1, post: 2, activation: this.activation, castFloat: true, ...activity(this.activityRegularizer) };
  }
  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    if (!this.conv) return [];
    // Keras' kernel is [kh, kw, in, out]; PyTorch's [out, in, kh, kw].
    const ws: LayerWeight[] = [{
      name: 'kernel', tensor: this.conv.weight, trainable: true,
      toKeras: (t) => t.permute(2, 3, 1, 0), fromKeras: (t) => t.permute(3, 2, 0, 1),
    }];
    if (this.conv.bias) ws.push({ name: 'bias', tensor: this.conv.bias, trainable: true });
    return ws;
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): Conv2D {
    return new Conv2D(c.filters as number, c.kernelSize as [number, number], { ...configBase(c), ...configPick(c, [...DENSE_KEYS, 'strides', 'padding', 'dilationRate']) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), filters: this.filters, kernelSize: this.kernelSize, strides: this.strides,
      padding: this.padding, dilationRate: this.dilationRate, activation: this.activation, useBias: this.useBias,
      kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer };
  }
}

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  pool: nn.MaxPool2d | nn.AvgPool2d;
  constructor(kind: 'max' | 'avg', args: readonly unknown[]) {
    const where = kind === 'max' ? 'MaxPooling2D' : 'AveragePooling2D';
    const o = layerArgs(where, args, ['poolSize', 'strides', 'padding'], ['dataFormat']);
    super(o);
    this.poolSize = pair(where, 'poolSize', o.poolSize ?? 2);
    this.strides = pair(where, 'strides', o.strides ?? this.poolSize);
    if (o.padding !== undefined && o.padding !== 'valid') throw new TypeError(`${where}: only padding 'valid' is supported`);
    this.pool = kind === 'max' ? new nn.MaxPool2d(this.poolSize, { stride: this.strides }) : new nn.AvgPool2d(this.poolSize, { stride: this.strides });
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    this.computeOutputShape(s);
    this.built = true;
  }
  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    if (s.length !== 3) throw new RangeError(`${this.name}: expected inputs of shape (batch, height, width, channels) but got ${shapeStr(s)}`);
    const out = [0, 1].map((i) => Math.floor((s[i] - this.poolSize[i]) / this.strides[i]) + 1);
    if (out.some((d) => d <= 0)) throw new RangeError(`${this.name}: pool ${this.poolSize.join('x')} does not fit inputs ${shapeStr(s)}`);
    return [out[0], out[1], s[2]];
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return { module: this.pool._native, pre: 1, post: 2, castFloat: true };
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides };
  }
}

/** Options of MaxPooling2D / AveragePooling2D: poolSize, strides (poolSize when null), padding 'valid'. */
export interface Pooling2DOptions extends LayerOptions {
  /** the pooling window's size */
  poolSize?: number | [number, number];
  /** step of the window along each spatial dim */
  strides?: number | [number, number] | null;
  /** only 'valid' (no padding) is supported */
  padding?: 'valid';
}
type Pooling2DArgs = [options?: Pooling2DOptions]
  | [poolSize: number | [number, number], options?: Pooling2DOptions]
  | [poolSize: number | [number, number], strides: number | [number, number] | null, padding?: 'valid', options?: Pooling2DOptions];

/** MaxPooling2D(poolSize?, strides?, padding?, options?) as in Keras. */
export class MaxPooling2D extends Pooling2D {
  constructor(...args: Pooling2DArgs) {
    super('max', args);
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): MaxPooling2D {
    return new MaxPooling2D(c.poolSize as [number, number], { ...configBase(c), ...configPick(c, ['strides']) });
  }
}
/** AveragePooling2D(poolSize?, strides?, padding?, options?) as in Keras. */
export class AveragePooling2D extends Pooling2D {
  constructor(...args: Pooling2DArgs) {
    super('avg', args);
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): AveragePooling2D {
    return new AveragePooling2D(c.poolSize as [number, number], { ...configBase(c), ...configPick(c, ['strides']) });
  }
}

/** Keras' InputLayer: the per-sample shape (and dtype) of a model's input; nt.Input() makes one. */
export class InputLayer extends Layer {
  readonly dtype: DType;
  constructor(opts: { shape: number[]; name?: string; dtype?: DType }) {
    super(checkLayerOptions('Input', { inputShape: opts?.shape, name: opts?.name ?? autoName('InputLayer') }, []));
    this.dtype = opts?.dtype ?? 'float32';
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(): void {
    this.built = true;
  }
  /** The native step that runs this layer in eager calls and the training loop. */
  override nativeStep(): NativeStep {
    return {};
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Config): InputLayer {
    return new InputLayer({ shape: (c.inputShape ?? c.shape) as number[], ...(c.name ? { name: c.name as string } : {}), ...(c.dtype ? { dtype: c.dtype as DType } : {}) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), dtype: this.dtype };
  }
}
export { Input } from './engine/layer';

function activity(r: Regularizer | undefined): Pick<NativeStep, 'activityL1' | 'activityL2'> {
  return r ? { activityL1: r.l1 ?? 0, activityL2: r.l2 ?? 0 } : {};
}

/** The call() methods of built-in layers: each runs the layer's native step (the base one, and the random image layers'). */
const builtinCalls = new Set<unknown>([Layer.prototype.call]);
/** @internal A built-in layer class whose call() only prepares its inputs and runs its native step. */
export function registerBuiltinCall(call: unknown): void {
  builtinCalls.add(call);
}

/** Used by the model to tell native and JS layers apart. */
export function isNativeLayer(l: Layer): boolean {
  // a subclass of a built-in layer that overrides call() runs its own call, from JS
  return builtinCalls.has(l.call) && l.nativeStep() !== null;
}

