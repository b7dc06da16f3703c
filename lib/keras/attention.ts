// Keras' MultiHeadAttention: query/key/value projections into numHeads heads, scaled dot-product
// attention over the sequence axis, and an output projection. The computation is one native module
// (native/keras_attention.cc) over the layer's weights, which eager calls, Functional graphs and a
// Sequential's self-attention in the native loop all run; weights are kept in Keras' layouts, so
// get/setWeights convert nothing.
import { noGrad } from '../autograd';
import { tidy } from '../memory';
import { Tensor, typeOfValue, checkTensor, wrap } from '../tensor';
import { native, NativeObject } from '../native';
import * as nt from '../creation';
import * as nn from '../nn';
import {
  Layer, LayerOptions, LayerWeight, NativeStep, Regularizer, Initializer, checkLayerOptions, checkInitializer, initialize, registerBuiltinCall,
  positiveInt, shapeStr,
} from './layers';

/** Options of MultiHeadAttention (Keras' kwargs in camelCase): numHeads and keyDim required. */
export interface MultiHeadAttentionOptions extends LayerOptions {
  /** the number of attention heads */
  numHeads: number;
  /** the per-head size of the queries and keys */
  keyDim: number;
  /** per-head size of the values (default keyDim) */
  valueDim?: number | null;
  /** dropout rate on the attention probabilities, while training */
  dropout?: number;
  /** whether the projections add a bias (default true) */
  useBias?: boolean;
  /** the output's feature shape (default: the query's features) */
  outputShape?: number | number[] | null;
  /** only null (attention over the sequence axis) is supported */
  attentionAxes?: null;
  /** initializer of the projection kernels (default 'glorot_uniform') */
  kernelInitializer?: Initializer;
  /** initializer of the projection biases (default 'zeros') */
  biasInitializer?: Initializer;
  /** penalty on the projection kernels, added to the loss */
  kernelRegularizer?: Regularizer | null;
  /** penalty on the projection biases, added to the loss */
  biasRegularizer?: Regularizer | null;
}

/** Options of a MultiHeadAttention call: attentionMask, returnAttentionScores, training, useCausalMask. */
export interface MultiHeadAttentionCallOptions {
  /** [batch, T, S] (or [T, S]): 1/true where query position t may attend to key position s */
  attentionMask?: Tensor | null;
  /** also return the attention probabilities [batch, numHeads, T, S] */
  returnAttentionScores?: boolean;
  /** dropout on the attention probabilities (default false) */
  training?: boolean;
  /** each query position attends only to key positions up to its own */
  useCausalMask?: boolean;
}
type Scores = { returnAttentionScores: true };
type NoScores = { returnAttentionScores?: false };

const CALL_KEYS = ['attentionMask', 'returnAttentionScores', 'training', 'useCausalMask'];
const WEIGHT_NAMES = ['query', 'key', 'value', 'attention_output'] as const;

function regularizer(where: string, name: string, v: unknown): Regularizer | undefined {
  if (v === undefined || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const ok = (x: unknown) => x === undefined || (typeof x === 'number' && Number.isFinite(x) && x >= 0);
  if (typeof v === 'object' && !Array.isArray(v) && ok(r.l1) && ok(r.l2)) return { l1: (r.l1 as number) ?? 0, l2: (r.l2 as number) ?? 0 };
  throw new TypeError(`${where}: expected ${name} to be a regularizer such as regularizers.l2(1e-4) but received ${typeOfValue(v)}`);
}

/** Keras' output_shape: an int or a list of ints (the output's trailing feature dims). */
function outputDims(where: string, v: unknown): number[] | null {
  if (v === undefined || v === null) return null;
  const dims = typeof v === 'number' ? [v] : v;
  if (Array.isArray(dims) && dims.length > 0 && dims.every((d) => Number.isSafeInteger(d) && d > 0)) return [...dims] as number[];
  throw new TypeError(`MultiHeadAttention: expected outputShape to be a positive integer or an array of them but received ${JSON.stringify(v) ?? typeOfValue(v)}`);
}

/** Fills a weight kept in Keras' layout with Keras' fans (fan_in = shape[-2] * receptive field, as Keras' compute_fans). */
function initKeras(t: Tensor, init: Initializer): void {
  noGrad(() => {
    if (t.ndim === 1) initialize(t, init);
    // Keras' Orthogonal flattens the kernel to [prod(shape[:-1]), shape[-1]].
    else if (init === 'orthogonal') initialize(t.view([-1, t.shape[t.ndim - 1]]).t(), init);
    // initialize() reads PyTorch's [out, in, ...receptive] layout: the reversed Keras shape has the same fans.
    else initialize(t.permute([...Array(t.ndim).keys()].reverse()), init);
  });
}

/** Keras' MultiHeadAttention: scaled dot-product attention over numHeads heads (like torch.nn.MultiheadAttention). */
export class MultiHeadAttention extends Layer {
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  /** the output's feature shape, or null for the query's feature size */
  readonly outputShape: number[] | null;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  /** Keras-layout weights: query, key, value, attention_output kernels (and biases) */
  private params: { kernel: nn.Parameter; bias: nn.Parameter | null }[] = [];
  /** feature sizes of query, value and key once built */
  private dims: { query: number; value: number; key: number } | null = null;
  /** the native module over params (native/keras_attention.cc) */
  private native?: NativeObject;

  constructor(opts: MultiHeadAttentionOptions) {
    const w = 'MultiHeadAttention';
    if (opts === undefined || opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
      throw new TypeError(`${w}: expected an options object with numHeads and keyDim but received ${typeOfValue(opts)}`);
    }
    const o = checkLayerOptions(w, opts, ['numHeads', 'keyDim', 'valueDim', 'dropout', 'useBias', 'outputShape', 'attentionAxes',
      'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer']);
    super(o);
    this.numHeads = positiveInt(w, 'numHeads', o.numHeads);
    this.keyDim = positiveInt(w, 'keyDim', o.keyDim);
    this.valueDim = o.valueDim === undefined || o.valueDim === null ? this.keyDim : positiveInt(w, 'valueDim', o.valueDim);
    const rate = o.dropout ?? 0;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
      throw new TypeError(`${w}: expected dropout in [0, 1) but received ${typeOfValue(rate)}${typeof rate === 'number' ? ` ${rate}` : ''}`);
    }
    this.dropout = rate;
    if (o.useBias !== undefined && typeof o.useBias !== 'boolean') throw new TypeError(`${w}: expected useBias to be a boolean but received ${typeOfValue(o.useBias)}`);
    this.useBias = (o.useBias as boolean | undefined) ?? true;
    this.outputShape = outputDims(w, o.outputShape);
    if (o.attentionAxes !== undefined && o.attentionAxes !== null) {
      throw new TypeError(`${w}: only attentionAxes null (attention over the sequence axis of (batch, seq, features) inputs) is supported ` +
        `but received ${JSON.stringify(o.attentionAxes) ?? typeOfValue(o.attentionAxes)}`);
    }
    this.kernelInitializer = checkInitializer(w, 'kernelInitializer', o.kernelInitializer, 'glorot_uniform');
    this.biasInitializer = checkInitializer(w, 'biasInitializer', o.biasInitializer, 'zeros');
    this.kernelRegularizer = regularizer(w, 'kernelRegularizer', o.kernelRegularizer);
    this.biasRegularizer = regularizer(w, 'biasRegularizer', o.biasRegularizer);
  }

  /** Rebuilds a layer from getConfig() (loadModel). */
  static override fromConfig(config: Record<string, unknown>): MultiHeadAttention {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) if (v !== null && v !== undefined) o[k] = v;
    return new MultiHeadAttention(o as unknown as MultiHeadAttentionOptions);
  }

  private get where(): string {
    return `${this.name} (MultiHeadAttention)`;
  }

  /** Per-sample shapes [seq, features]; value and key default to the query (self-attention, as in a Sequential). */
  override build(queryShape: number[], valueShape?: number[], keyShape?: number[]): void {
    const q = this.checkSample('query', queryShape);
    const v = valueShape === undefined ? q : this.checkSample('value', valueShape);
    const k = keyShape === undefined ? v : this.checkSample('key', keyShape);
    if (v[0] !== k[0] && v[0] !== null && k[0] !== null) {
      throw new RangeError(`${this.where}: value and key must have the same sequence length but value has shape ${shapeStr(v)} and key ${shapeStr(k)}`);
    }
    const N = this.numHeads;
    const out = this.outputShape ?? [q[1]];
    const shapes: [number[], number[]][] = [
      [[q[1], N, this.keyDim], [N, this.keyDim]],
      [[k[1], N, this.keyDim], [N, this.keyDim]],
      [[v[1], N, this.valueDim], [N, this.valueDim]],
      [[N, this.valueDim, ...out], out],
    ];
    this.params = shapes.map(([ks, bs]) => {
      const kernel = new nn.Parameter(nt.zeros(ks));
      initKeras(kernel, this.kernelInitializer);
      let bias: nn.Parameter | null = null;
      if (this.useBias) {
        bias = new nn.Parameter(nt.zeros(bs));
        initKeras(bias, this.biasInitializer);
      }
      return { kernel, bias };
    });
    this.dims = { query: q[1], value: v[1], key: k[1] };
    this.native = undefined;
    this.built = true;
  }

  private checkSample(what: string, s: unknown): number[] {
    if (!Array.isArray(s) || s.length !== 2 || !(Number.isSafeInteger(s[1]) && s[1] > 0) ||
        !(s[0] === null || (Number.isSafeInteger(s[0]) && s[0] > 0))) {
      throw new RangeError(`${this.where}: expected ${what} inputs of shape (batch, seq, features) but got ` +
        `${Array.isArray(s) ? shapeStr(s as number[]) : typeOfValue(s)}`);
    }
    return s as number[];
  }

  /** The per-sample output shape for a per-sample input shape (Keras' compute_output_shape). */
  override computeOutputShape(s: number[]): number[] {
    const q = this.checkSample('query', s);
    if (this.dims && q[1] !== this.dims.query) {
      throw new RangeError(`${this.where}: the layer was built for ${this.dims.query} query features but got inputs of shape ${shapeStr(q)}`);
    }
    return [q[0], ...(this.outputShape ?? [q[1]])];
  }

  /** The weights in Keras order, stored in PyTorch layout with their Keras conversions. */
  override weightsInternal(): LayerWeight[] {
    const ws: LayerWeight[] = [];
    this.params.forEach((p, i) => {
      ws.push({ name: `${WEIGHT_NAMES[i]}/kernel`, tensor: p.kernel, trainable: true });
      if (p.bias) ws.push({ name: `${WEIGHT_NAMES[i]}/bias`, tensor: p.bias, trainable: true });
    });
    return ws;
  }

  /**
   * Self-attention call(x, { training }) (how a Sequential calls it), or call(query, value, key?, options)
   * like Keras' layer(query, value, key, attention_mask=..., return_attention_scores=...). With
   * returnAttentionScores it returns [output, scores].
   */
  call(query: Tensor, opts?: MultiHeadAttentionCallOptions & NoScores): Tensor;
  call(query: Tensor, opts: MultiHeadAttentionCallOptions & Scores): [Tensor, Tensor];
  call(query: Tensor, value: Tensor, opts?: MultiHeadAttentionCallOptions & NoScores): Tensor;
  call(query: Tensor, value: Tensor, opts: MultiHeadAttentionCallOptions & Scores): [Tensor, Tensor];
  call(query: Tensor, value: Tensor, key: Tensor | null | undefined, opts?: MultiHeadAttentionCallOptions & NoScores): Tensor;
  call(query: Tensor, value: Tensor, key: Tensor | null | undefined, opts: MultiHeadAttentionCallOptions & Scores): [Tensor, Tensor];
  call(query: Tensor, a?: unknown, b?: unknown, c?: unknown): Tensor | [Tensor, Tensor] {
    // The trailing plain object (if any) is the options; the tensors before it are value and key.
    const args = [a, b, c];
    let last = args.length;
    while (last > 0 && args[last - 1] === undefined) last--;
    const tail = last > 0 ? args[last - 1] : undefined;
    const isOpts = tail !== null && typeof tail === 'object' && !(tail instanceof Tensor);
    const tensors = isOpts ? args.slice(0, last - 1) : args.slice(0, last);
    if (tensors.length > 2) throw new TypeError(`${this.where}: expected call(query, value?, key?, options?) but received ${last + 1} arguments`);
    const o = this.callOptions(isOpts ? tail : undefined);
    const q = this.checkInput('query', query);
    const v = tensors[0] === undefined || tensors[0] === null ? q : this.checkInput('value', tensors[0]);
    const k = tensors[1] === undefined || tensors[1] === null ? v : this.checkInput('key', tensors[1]);
    this.checkShapes(q, v, k);
    if (!this.built) this.build(q.shape.slice(1), v.shape.slice(1), k.shape.slice(1));
    this.checkFeatures(q, v, k);
    const mask = o.attentionMask === undefined || o.attentionMask === null ? null : this.checkMask(o.attentionMask, q, v);
    const [out, scores] = tidy(() => this.attend(q, v, k, mask, o));
    if (o.returnAttentionScores) return [out, scores];
    scores.dispose();
    return out;
  }

  private callOptions(v: unknown): Required<Omit<MultiHeadAttentionCallOptions, 'attentionMask'>> & { attentionMask?: unknown } {
    const o = (v ?? {}) as Record<string, unknown>;
    if (Array.isArray(v)) throw new TypeError(`${this.where}: expected call options as an object but received ${typeOfValue(v)}`);
    for (const k of Object.keys(o)) {
      if (!CALL_KEYS.includes(k)) throw new TypeError(`${this.where}: unknown call option '${k}'; known options: ${CALL_KEYS.join(', ')}`);
    }
    const bool = (k: string) => {
      if (o[k] === undefined || o[k] === null) return false;
      if (typeof o[k] !== 'boolean') throw new TypeError(`${this.where}: expected ${k} to be a boolean but received ${typeOfValue(o[k])}`);
      return o[k] as boolean;
    };
    return { attentionMask: o.attentionMask, returnAttentionScores: bool('returnAttentionScores'), training: bool('training'),
      useCausalMask: bool('useCausalMask') };
  }

  private checkInput(what: string, x: unknown): Tensor {
    const t = checkTensor(x, `${this.where}.call`, what);
    if (t.ndim !== 3) {
      throw new RangeError(`${this.where}: expected ${what} of shape (batch, seq, features) but got a tensor of shape [${t.shape.join(', ')}]`);
    }
    if (t.dtype === 'bool' || t.dtype.startsWith('complex')) {
      throw new TypeError(`${this.where}: expected ${what} to be a float (or integer) tensor but it is ${t.dtype}`);
    }
    return t;
  }

  private checkShapes(q: Tensor, v: Tensor, k: Tensor): void {
    if (v.shape[0] !== q.shape[0] || k.shape[0] !== q.shape[0]) {
      throw new RangeError(`${this.where}: query, value and key must have the same batch size but have shapes ` +
        `[${q.shape.join(', ')}], [${v.shape.join(', ')}] and [${k.shape.join(', ')}]`);
    }
    if (v.shape[1] !== k.shape[1]) {
      throw new RangeError(`${this.where}: value and key must have the same sequence length but have shapes [${v.shape.join(', ')}] and [${k.shape.join(', ')}]`);
    }
  }

  private checkFeatures(q: Tensor, v: Tensor, k: Tensor): void {
    const d = this.dims!;
    for (const [what, t, want] of [['query', q, d.query], ['value', v, d.value], ['key', k, d.key]] as const) {
      if (t.shape[2] !== want) {
        throw new RangeError(`${this.where}: the layer was built for ${what} inputs of shape (batch, seq, ${want}) but got ${what} of shape [${t.shape.join(', ')}]`);
      }
    }
  }

  /** [B, T, S] or [T, S], each dim equal or 1 (broadcast), as a float 1 (attend) / 0 (masked) tensor. */
  private checkMask(m: unknown, q: Tensor, v: Tensor): Tensor {
    const t = checkTensor(m, `${this.where}.call`, 'attentionMask');
    const want = [q.shape[0], q.shape[1], v.shape[1]];
    const s = t.shape;
    const fits = (s.length === 3 || s.length === 2) && s.every((d, i) => d === 1 || d === want[i + 3 - s.length]);
    if (!fits) {
      throw new RangeError(`${this.where}: expected attentionMask of shape [batch, T, S] = [${want.join(', ')}] (or broadcastable to it) ` +
        `but got [${s.join(', ')}]`);
    }
    return t;
  }

  /** The native module (native/keras_attention.cc) over this layer's weights, made once it is built. */
  private module(): NativeObject {
    if (!this.native) {
      const w: Record<string, unknown> = { numHeads: this.numHeads, keyDim: this.keyDim, valueDim: this.valueDim, dropout: this.dropout };
      this.params.forEach((p, i) => {
        const name = WEIGHT_NAMES[i] === 'attention_output' ? 'output' : WEIGHT_NAMES[i];
        w[`${name}_kernel`] = p.kernel._h;
        if (p.bias) w[`${name}_bias`] = p.bias._h;
      });
      this.native = native.nn_module_create('KerasMultiHeadAttention', w);
    }
    return this.native;
  }

  /** Self-attention as a native step (a Sequential's, and the native loop's), once the layer is built. */
  override nativeStep(): NativeStep | null {
    return this.built ? { module: this.module() } : null;
  }

  private attend(q: Tensor, v: Tensor, k: Tensor, mask: Tensor | null, o: { training: boolean; useCausalMask: boolean }): [Tensor, Tensor] {
    const m = this.module();
    native.nn_module_train(m, o.training);
    const ex: Record<string, unknown> = { isCausal: o.useCausalMask, needWeights: true };
    if (mask) ex.attnMask = mask._h;
    const [out, scores] = native.nn_module_forward(m, [q._h, v._h, k._h], ex);
    return [wrap(out!), wrap(scores!)];
  }

  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), numHeads: this.numHeads, keyDim: this.keyDim, valueDim: this.valueDim, dropout: this.dropout,
      useBias: this.useBias, outputShape: this.outputShape, kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer,
      kernelRegularizer: this.kernelRegularizer ?? null, biasRegularizer: this.biasRegularizer ?? null };
  }
}
// its call() checks the inputs and runs the native module: a built-in call (isNativeLayer)
registerBuiltinCall(MultiHeadAttention.prototype.call);
