// Keras' Sequential: layers built lazily from inputShape or the first batch, compile() resolving
// Keras names, and fit/evaluate/predict running whole epochs in native code (native/model.cc) on
// the runner thread the addon owns (not libuv's pool), so the event loop and fs keep running.
import { native, NativeObject } from '../native';
import { noGrad } from '../autograd';
import { tidy, keep } from '../memory';
import { cat } from '../ops';
import { availableDevices } from '../device';
import { Tensor, typeOfValue, NestedArray, deviceString, DeviceLike } from '../tensor';
import * as creation from '../creation';
import { DType } from '../dtype';
import * as optim from '../optim';
import { Layer, NativeStep, InputLayer, isNativeLayer } from './layers';
import { Callback, CallbackLike, History, Logs, ProgbarLogger, TrainParams } from './callbacks';
import { Optimizer as KerasOptimizer, resolveOptimizer } from './optimizers';
import { LOSS_NAMES, LossName, canonicalLoss } from './losses';
import { resolveMetric, Metric } from './metrics';
import { isObjectLike } from '../callable';

export type Data = Tensor | NestedArray | { data: ArrayLike<number> | ArrayBufferView; shape: number[]; dtype?: DType };


export interface LossObject { name: string; fromLogits?: boolean }
export interface CompileOptions {
  optimizer?: string | KerasOptimizer;
  /** a Keras name, a losses.* object or function, or { name, fromLogits } */
  loss: string | LossObject | ((yTrue: Tensor, yPred: Tensor) => Tensor);
  /** Keras names or metrics.* objects */
  metrics?: (string | Metric)[];
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  verbose?: 0 | 1 | 2;
  callbacks?: CallbackLike[];
  validationSplit?: number;
  /** [x, y], or a dataset / ImageDataGenerator iterator of [x, y] batches */
  validationData?: [Data, Data] | AsyncIterable<unknown>;
  shuffle?: boolean;
  classWeight?: Record<number, number>;
  sampleWeight?: Tensor;
  initialEpoch?: number;
  /** batches per epoch from a dataset/iterator; the source is read on across epochs and restarted when a pass ends */
  stepsPerEpoch?: number;
  /** batches per validation from a dataset/iterator validationData, read on across epochs like stepsPerEpoch */
  validationSteps?: number;
}

function toTensor(v: unknown, what: string): Tensor {
  if (v instanceof Tensor) return v;
  if (Array.isArray(v)) return creation.tensor(v as NestedArray);
  if (v !== null && typeof v === 'object' && 'data' in v && 'shape' in v) {
    const o = v as { data: ArrayLike<number>; shape: number[]; dtype?: DType };
    return creation.tensor(o.data as never, { shape: o.shape, dtype: o.dtype });
  }
  throw new TypeError(`${what}: expected a Tensor, nested arrays or { data, shape } but received ${typeOfValue(v)}`);
}

function checkOpts(where: string, o: unknown, known: string[]): Record<string, unknown> {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError(`${where}: expected an options object but received ${typeOfValue(o)}`);
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new TypeError(`${where}: unknown option '${k}'; known options: ${known.join(', ')}`);
  return o as Record<string, unknown>;
}

function posInt(where: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  throw new TypeError(`${where}: expected ${name} to be a positive integer but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}

interface Compiled {
  optimizer: KerasOptimizer;
  loss: string;
  fromLogits: boolean;
  /** the last layer's softmax/sigmoid is folded into the loss */
  fused: boolean;
  metricNames: string[];
  metricKinds: string[];
  /** native metric state, made on first use */
  state?: NativeObject;
}

export class Sequential implements CallbackModel {
  name: string;
  stopTraining = false;
  private layerList: Layer[] = [];
  private compiled: Compiled | null = null;
  private nativeOpt: optim.Optimizer | null = null;
  private token: NativeObject | null = null;
  /** per-sample input shape once built */
  private builtShape: number[] | null = null;

  constructor(layers: Layer[] = [], opts: { name?: string } = {}) {
    if (!Array.isArray(layers)) throw new TypeError(`Sequential: expected an array of layers but received ${typeOfValue(layers)}`);
    this.name = opts.name ?? 'sequential';
    for (const l of layers) this.add(l);
  }

  get layers(): Layer[] {
    return this.layerList.filter((l) => !(l instanceof InputLayer));
  }

  add(layer: Layer): void {
    if (!(layer instanceof Layer)) throw new TypeError(`Sequential.add: expected a layer but received ${typeOfValue(layer)}`);
    if (this.layerList.includes(layer)) throw new Error(`Sequential.add: layer '${layer.name}' is already in the model`);
    if (this.layerList.length > 0 && layer.inputShape && !(layer instanceof InputLayer)) {
      throw new Error(`Sequential.add: only the first layer may set inputShape ('${layer.name}' sets it)`);
    }
    this.layerList.push(layer);
    this.builtShape = null;
    this.nativeOpt = null;
  }
  pop(): Layer {
    const l = this.layerList.pop();
    if (!l) throw new Error('Sequential.pop: the model has no layers');
    this.builtShape = null;
    this.nativeOpt = null;
    return l;
  }

  /** Builds every layer for a per-sample input shape (Keras' input_shape). */
  build(inputShape?: (number | null)[]): void {
    const shape = inputShape ? perSampleShape(inputShape, this.layerList[0]?.inputShape) : this.layerList[0]?.inputShape;
    if (!shape) throw new Error(`${this.name}: the model is not built: give the first layer an inputShape, call build(inputShape), or call fit()/predict() first`);
    if (this.layerList.length === 0) throw new Error(`${this.name}: the model has no layers`);
    let s = [...shape];
    for (const l of this.layerList) {
      if (!l.built) {
        l.build(s);
        l.built = true;
      }
      l.builtInputShape = s;
      s = l.computeOutputShape(s);
    }
    this.builtShape = [...shape];
    if (this.device !== 'cpu') this.to(this.device);
  }
  get built(): boolean {
    return this.builtShape !== null;
  }
  private ensureBuilt(sample: readonly number[]): void {
    if (this.builtShape) {
      if (sample.join() !== this.builtShape.join()) {
        throw new RangeError(`${this.name}: expected inputs of shape ${fmtShape(this.builtShape)} but got ${fmtShape([...sample])} (per sample)`);
      }
      return;
    }
    const declared = this.layerList[0]?.inputShape;
    if (declared && declared.join() !== sample.join()) {
      throw new RangeError(`${this.name}: layer '${this.layerList[0].name}' has inputShape ${fmtShape(declared)} but the data has ` +
        `samples of shape ${fmtShape([...sample])}`);
    }
    this.build([...sample]);
  }

  /** Prints Keras' summary table and returns it. */
  summary(print = true): string {
    if (!this.builtShape && this.layerList[0]?.inputShape) this.build();
    const rows: [string, string, string][] = [];
    let s = this.builtShape ? [...this.builtShape] : null;
    let total = 0;
    let trainable = 0;
    for (const l of this.layers) {
      let out = '?';
      if (s) {
        s = l.computeOutputShape(s);
        out = l.describeShape(s);
      }
      const n = l.countParams();
      total += n;
      trainable += l.trainableWeights.reduce((k, w) => k + w.numel, 0);
      rows.push([`${l.name} (${l.constructor.name})`, out, n.toLocaleString('en-US')]);
    }
    const w = [Math.max(28, ...rows.map((r) => r[0].length + 2)), Math.max(26, ...rows.map((r) => r[1].length + 2)), 15];
    const line = (c: string) => c.repeat(w[0] + w[1] + w[2]);
    const row = (r: string[]) => r[0].padEnd(w[0]) + r[1].padEnd(w[1]) + r[2];
    const text = [
      `Model: "${this.name}"`,
      line('_'),
      row(['Layer (type)', 'Output Shape', 'Param #']),
      line('='),
      ...rows.flatMap((r, i) => [row(r), ...(i < rows.length - 1 ? [line('_')] : [])]),
      line('='),
      `Total params: ${total.toLocaleString('en-US')}`,
      `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
      line('_'),
    ].join('\n');
    if (print) console.log(text);
    return text;
  }

  /** Builds from the first layer's inputShape when it has one and the model is not built yet. */
  private buildIfDeclared(): void {
    if (!this.builtShape && this.layerList[0]?.inputShape) this.build();
  }
  countParams(): number {
    this.buildIfDeclared();
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }
  getWeights(): Tensor[] {
    this.buildIfDeclared();
    return this.layers.flatMap((l) => l.getWeights());
  }
  setWeights(ws: Tensor[]): void {
    this.buildIfDeclared();
    if (!Array.isArray(ws)) throw new TypeError(`${this.name}.setWeights: expected an array of tensors but received ${typeOfValue(ws)}`);
    let i = 0;
    for (const l of this.layers) {
      const n = l.weightsInternal().length;
      l.setWeights(ws.slice(i, i + n));
      i += n;
    }
    if (i !== ws.length) throw new RangeError(`${this.name}.setWeights: expected ${i} weights but received ${ws.length}`);
  }
  get trainableWeights(): Tensor[] {
    return this.layers.flatMap((l) => l.trainableWeights);
  }

  /**
   * Moves the weights to a device ('cpu', 'cuda', 'cuda:1'); fit/evaluate/predict then copy each batch
   * there, and predict returns outputs on the input's device. The optimizer starts afresh on the new
   * device (its moments stay behind), as when a PyTorch model is moved before making its optimizer.
   */
  to(device: DeviceLike): this {
    const d = deviceString(device, 'Sequential.to');
    checkDevicePresent(`${this.name}.to`, d);
    for (const l of this.layers) for (const w of l.weightsInternal()) noGrad(() => moveTo(w.tensor, d));
    for (const l of this.layers) for (const m of l.modules()) m.to(d);
    if (d !== this.device) this.nativeOpt = null;
    this.device = d;
    return this;
  }
  /** The device of the model's weights. */
  device = 'cpu';
  private onDevice(t: Tensor): Tensor {
    return t.device === this.device ? t : t.to({ device: this.device });
  }

  compile(opts: CompileOptions): void {
    const o = checkOpts('compile', opts, ['optimizer', 'loss', 'metrics']);
    let loss: string;
    let fromLogits = false;
    const lo = o.loss as unknown;
    if (typeof lo === 'string') loss = lo;
    else if (isObjectLike(lo) && typeof (lo as LossObject).name === 'string') {
      // { name, fromLogits }, a losses.* object, or a losses.* function (by its name)
      loss = (lo as LossObject).name;
      fromLogits = !!(lo as LossObject).fromLogits;
    } else {
      throw new TypeError(`compile: expected loss to be one of ${LOSS_NAMES.join(', ')} but received ${typeOfValue(lo)}`);
    }
    if (!(LOSS_NAMES as readonly string[]).includes(loss)) throw new TypeError(`compile: unknown loss '${loss}'; expected one of ${LOSS_NAMES.join(', ')}`);
    const optimizer = resolveOptimizer(o.optimizer ?? 'rmsprop');
    const metrics = (o.metrics as unknown[] | undefined) ?? [];
    if (!Array.isArray(metrics)) throw new TypeError(`compile: expected metrics to be an array of names but received ${typeOfValue(metrics)}`);
    const resolved = metrics.map((m) => resolveMetric(m, loss));
    const metricNames = resolved.map((m) => m.name);
    const metricKinds = resolved.map((m) => m.kind);
    this.compiled = { optimizer, loss, fromLogits, fused: false, metricNames, metricKinds };
    this.nativeOpt = null;
  }

  private steps(forTraining: boolean): NativeStep[] {
    const steps: NativeStep[] = [];
    for (const l of this.layerList) {
      const s = isNativeLayer(l) ? l.nativeStep() : null;
      if (s === null) throw new Error(`${this.name}: layer '${l.name}' (${l.constructor.name}) has no native implementation; models with custom layers train from JS (not available yet)`);
      steps.push({ ...s });
    }
    const c = this.compiled;
    if (forTraining && c && !c.fromLogits && steps.length) {
      const last = steps[steps.length - 1];
      // Keras computes softmax + crossentropy from the logits for stability; so does the native loss.
      if ((last.activation === 'softmax' && (c.loss === 'sparse_categorical_crossentropy' || c.loss === 'categorical_crossentropy')) ||
          (last.activation === 'sigmoid' && c.loss === 'binary_crossentropy')) {
        last.activation = 'linear';
        return Object.assign(steps, { fused: true });
      }
    }
    return steps;
  }

  /** The model's metric state (Keras' update/result/reset), kept natively for the compiled metrics. */
  private metricState(): NativeObject {
    const c = this.compiled!;
    return (c.state ??= native.model_metrics_create(c.metricKinds));
  }

  /** Per-batch learning rates for the next `count` steps when a schedule drives the rate, else undefined. */
  private scheduledRates(count: number): number[] | undefined {
    const o = this.compiled!.optimizer;
    return o.schedule ? Array.from({ length: count }, (_, i) => o.schedule!.call(o.iterations + i)) : undefined;
  }

  private optimizer(): optim.Optimizer {
    if (!this.nativeOpt) this.nativeOpt = this.compiled!.optimizer.create(this.trainableWeights);
    return this.nativeOpt;
  }
  /** The rate of the next step (with a schedule, its value at optimizer.iterations, as Keras' optimizer.learning_rate). */
  getLearningRate(): number {
    const o = this.compiled?.optimizer;
    if (!o) return NaN;
    if (o.schedule) return o.schedule.call(o.iterations);
    return this.nativeOpt ? this.nativeOpt.paramGroups[0].lr : o.learningRate;
  }
  setLearningRate(lr: number): void {
    if (!this.compiled) throw new Error(`${this.name}: compile() the model before setting the learning rate`);
    if (this.compiled.optimizer.schedule) {
      throw new Error(`${this.name}: the learning rate follows the optimizer's ${this.compiled.optimizer.schedule.constructor.name} schedule ` +
        'and cannot be set; use a number as learningRate to change it from a callback');
    }
    this.compiled.optimizer.learningRate = lr;
    if (this.nativeOpt) for (const g of this.nativeOpt.paramGroups) g.lr = lr;
  }

  private runOptions(fused: boolean): Record<string, unknown> {
    const c = this.compiled!;
    const penalties: { weight: number; l1: number; l2: number }[] = [];
    for (const l of this.layers) {
      const ws = l.weightsInternal();
      for (const w of ws) {
        const r = /(^|\/)kernel$/.test(w.name) ? l.kernelRegularizer : /(^|\/)bias$/.test(w.name) ? l.biasRegularizer : undefined;
        if (r && (r.l1 || r.l2)) penalties.push({ weight: w.tensor._h, l1: r.l1 ?? 0, l2: r.l2 ?? 0 });
      }
    }
    return { loss: canonicalLoss(c.loss as LossName),
      fromLogits: c.fromLogits || fused, metrics: c.metricKinds, penalties, device: this.device };
  }

  /** True when every layer runs in the native loop (the whole epoch is one native call). */
  private get allNative(): boolean {
    return this.layerList.every(isNativeLayer);
  }

  /** Runs the layers from JS (models with custom layers); built-in layers run their native step. */
  private forwardJS(x: Tensor, training: boolean, penalties?: Tensor[]): Tensor {
    let h = this.onDevice(x);
    if (!h.dtype.startsWith('float') && !(this.layers[0]?.constructor.name === 'Embedding')) h = h.to('float32');
    for (const l of this.layerList) {
      const [out, penalty] = l.forwardWithPenalty(h, training);
      h = out;
      if (penalties && penalty) penalties.push(penalty);
    }
    return h;
  }

  /** One batch trained from JS with autograd: the same loss/metric maths as the native loop. */
  private trainBatchJS(xb: Tensor, yb: Tensor, wb: Tensor | undefined, opt: optim.Optimizer, state: NativeObject): number {
    const c = this.compiled!;
    const lossName = this.runOptions(false).loss as string;
    return tidy(() => {
      opt.zeroGrad();
      const activity: Tensor[] = [];
      const out = this.forwardJS(xb, true, activity);
      const y = this.onDevice(yb);
      let loss = wrap(native.model_loss(lossName, c.fromLogits, out._h, y._h, wb ? this.onDevice(wb)._h : null));
      for (const p of activity) loss = loss.add(p);
      for (const l of this.layers) {
        for (const w of l.weightsInternal()) {
          const r = /(^|\/)kernel$/.test(w.name) ? l.kernelRegularizer : /(^|\/)bias$/.test(w.name) ? l.biasRegularizer : undefined;
          if (r?.l1) loss = loss.add(w.tensor.abs().sum().mul(r.l1));
          if (r?.l2) loss = loss.add(w.tensor.square().sum().mul(r.l2));
        }
      }
      loss.backward();
      opt.step();
      const value = loss.item() as number;
      native.model_metrics_update(state, lossName, c.fromLogits, out._h, y._h, value);
      return value;
    });
  }

  async fit(xIn: Data | AsyncIterable<unknown>, yIn?: Data | FitOptions, opts: FitOptions = {}): Promise<History> {
    const fromDataset = isBatchSource(xIn);
    if (fromDataset && yIn !== undefined && !(yIn instanceof Tensor) && !Array.isArray(yIn) && typeof yIn === 'object' &&
        !('data' in (yIn as object))) {
      opts = yIn as FitOptions;
    }
    const o = checkOpts('fit', opts, ['epochs', 'batchSize', 'verbose', 'callbacks', 'validationSplit', 'validationData',
      'shuffle', 'classWeight', 'sampleWeight', 'initialEpoch', 'stepsPerEpoch', 'validationSteps']);
    if (!this.compiled) throw new Error(`${this.name}: call compile({ optimizer, loss, metrics }) before fit()`);
    const epochs = posInt('fit', 'epochs', o.epochs, 1);
    const batchSize = posInt('fit', 'batchSize', o.batchSize, 32);
    const verbose = o.verbose ?? 1;
    if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new TypeError(`fit: expected verbose 0, 1 or 2 but received ${String(verbose)}`);
    const initialEpoch = o.initialEpoch === undefined ? 0 : (o.initialEpoch as number);
    const shuffle = o.shuffle === undefined ? true : !!o.shuffle;

    let x: Tensor | null = null;
    let y: Tensor | null = null;
    let val: [Tensor, Tensor] | AsyncIterable<unknown> | null = null;
    let sampleWeight: Tensor | undefined = o.sampleWeight as Tensor | undefined;
    let steps: number;
    if (fromDataset) {
      if (o.validationSplit !== undefined) throw new TypeError('fit: validationSplit needs tensors; with a dataset pass validationData');
      const card = batchCount(xIn);
      steps = o.stepsPerEpoch !== undefined ? posInt('fit', 'stepsPerEpoch', o.stepsPerEpoch, 1) : card;
    } else {
      x = toTensor(xIn, 'fit: x');
      y = toTensor(yIn, 'fit: y');
      if (x.ndim === 0 || y.ndim === 0 || x.shape[0] !== y.shape[0]) {
        throw new RangeError(`fit: x and y must have the same number of samples but x has ${x.shape[0] ?? 'none'} and y has ${y.shape[0] ?? 'none'}`);
      }
      this.ensureBuilt(x.shape.slice(1));
      this.checkData('fit', x, y);
      if (o.validationSplit !== undefined && o.validationData === undefined) {
        const f = o.validationSplit as number;
        if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new TypeError(`fit: expected validationSplit in (0, 1) but received ${String(f)}`);
        // Keras takes the last fraction of the samples, before any shuffling.
        const n = x.shape[0];
        const split = Math.floor(n * (1 - f));
        if (split === 0 || split === n) throw new RangeError(`fit: validationSplit ${f} leaves no training or no validation samples out of ${n}`);
        val = [x.slice(0, split, n), y.slice(0, split, n)];
        x = x.slice(0, 0, split);
        y = y.slice(0, 0, split);
      }
      if (o.classWeight !== undefined) {
        const cw = o.classWeight as Record<number, number>;
        const labels = (y.ndim > 1 && y.shape[y.ndim - 1] > 1 ? y.argmax(-1) : y.reshape(-1)).toArray({ asNumber: true }) as number[];
        sampleWeight = creation.tensor(labels.map((c) => cw[Math.round(c)] ?? 1));
      }
      const all = Math.ceil(x.shape[0] / batchSize);
      steps = o.stepsPerEpoch === undefined ? all : Math.min(all, posInt('fit', 'stepsPerEpoch', o.stepsPerEpoch, all));
    }
    if (o.validationData !== undefined) {
      const vd = o.validationData as unknown;
      if (isBatchSource(vd)) {
        val = o.validationSteps === undefined ? vd : new StepCursor(vd, posInt('fit', 'validationSteps', o.validationSteps, 1));
      } else if (Array.isArray(vd) && vd.length >= 2) val = [toTensor(vd[0], 'fit: validationData x'), toTensor(vd[1], 'fit: validationData y')];
      else throw new TypeError('fit: expected validationData as [x, y] or a dataset of [x, y] batches');
    }

    const history = new History();
    const progbar = verbose > 0 ? [new ProgbarLogger()] : [];
    // as Keras: the user's callbacks first, so what they add to an epoch's logs (learning_rate) reaches History
    const cbs: CallbackLike[] = [...((o.callbacks as CallbackLike[] | undefined) ?? []), history, ...progbar];
    const params: TrainParams = { epochs, steps, verbose, samples: x ? x.shape[0] : -1, initialEpoch };
    for (const cb of cbs) {
      cb.setModel?.(this);
      cb.setParams?.(params);
    }
    const batchHooks = cbs.some((cb) => !(cb instanceof History) && !(cb instanceof ProgbarLogger) &&
      (typeof cb.onBatchEnd === 'function' || typeof cb.onBatchBegin === 'function'));
    const names = this.compiled.metricNames;
    this.token ??= native.model_token_create();
    const token = this.token;
    this.stopTraining = false;
    let opt: optim.Optimizer | null = x ? this.optimizer() : null;
    const trainCursor = fromDataset && o.stepsPerEpoch !== undefined ? new StepCursor(xIn as AsyncIterable<unknown>, steps) : null;
    const planned = Number.isFinite(steps) ? steps * (epochs - initialEpoch) : 0;
    const startLr = this.getLearningRate();
    let lrChanged = false;
    await call(cbs, 'onTrainBegin', {});
    for (let epoch = params.initialEpoch ?? initialEpoch; epoch < epochs && !this.stopTraining; epoch++) {
      await call(cbs, 'onEpochBegin', epoch, {});
      let res: { loss: number; metrics: number[]; nonFinite: boolean };
      if (x && y && this.allNative) {
        res = await this.epochNative(x, y, sampleWeight, cbs, batchHooks, params.steps, batchSize, shuffle, token,
          epoch === (params.initialEpoch ?? initialEpoch), planned);
      } else {
        const source = x && y ? tensorBatches(x, y, sampleWeight, batchSize, shuffle) : (trainCursor ?? (xIn as AsyncIterable<unknown>));
        res = await this.epochBatches(source, cbs, params.steps, planned, () => (opt ??= this.optimizer()));
      }
      const logs: Logs = { loss: res.loss };
      names.forEach((n, i) => { logs[n] = res.metrics[i]; });
      // the rate in history once it moves (a schedule, or a callback that set it); callbacks that set it log it themselves
      lrChanged ||= this.compiled.optimizer.schedule !== undefined || this.getLearningRate() !== startLr;
      if (lrChanged) logs.learning_rate = this.getLearningRate();
      if (res.nonFinite) {
        logs.loss = NaN;
        this.stopTraining = true;
      }
      if (val && !this.stopTraining) {
        const v = await this.evaluateAny(val, batchSize);
        logs.val_loss = v.loss;
        names.forEach((n, i) => { logs[`val_${n}`] = v.metrics[i]; });
      }
      await call(cbs, 'onEpochEnd', epoch, logs);
      if (res.nonFinite) console.log(`Epoch ${epoch + 1}: Invalid loss (NaN or infinite), terminating training`);
    }
    await trainCursor?.close();
    if (val instanceof StepCursor) await val.close();
    await call(cbs, 'onTrainEnd', {});
    return history;
  }

  /** The fast path: one native call runs the whole epoch on the runner thread. */
  private async epochNative(x: Tensor, y: Tensor, sampleWeight: Tensor | undefined, cbs: CallbackLike[], batchHooks: boolean,
    steps: number, batchSize: number, shuffle: boolean, token: NativeObject, checkFinite: boolean, planned: number): Promise<{ loss: number; metrics: number[]; nonFinite: boolean }> {
    const names = this.compiled!.metricNames;
    const rates = this.scheduledRates(Math.min(steps, Math.ceil(x.shape[0] / batchSize)));
    const state = this.metricState();
    native.model_metrics_reset(state);
    const trainSteps = this.steps(true) as NativeStep[] & { fused?: boolean };
    native.model_token_reset(token);
    let pending: Promise<void> = Promise.resolve();
    let failure: unknown = null;
    const onProgress = (b: number, _samples: number, loss: number, metrics: number[]) => {
      const logs: Logs = { loss };
      names.forEach((n, i) => { logs[n] = metrics[i]; });
      pending = pending.then(async () => {
        try {
          for (const cb of cbs) await cb.onBatchEnd?.(b, logs);
          if (this.stopTraining) native.model_token_stop(token);
          else if (batchHooks && b + 1 < steps) for (const cb of cbs) await cb.onBatchBegin?.(b + 1, {});
        } catch (e) {
          failure ??= e;
          native.model_token_stop(token);
        } finally {
          if (batchHooks) native.model_token_ack(token, b);
        }
      });
    };
    if (batchHooks) for (const cb of cbs) await cb.onBatchBegin?.(0, {});
    const res = await native.model_run('train', trainSteps, x._h, y._h, {
      ...this.runOptions(!!trainSteps.fused), optimizer: this.optimizer()._native, batchSize, shuffle, token, checkFinite,
      waitEachBatch: batchHooks, maxBatches: steps, progressEveryMs: batchHooks ? 0 : 50, ...(sampleWeight ? { sampleWeight: sampleWeight._h } : {}),
      plannedBatches: planned, metricState: state, ...(rates ? { learningRates: rates } : {}),
    }, onProgress);
    this.compiled!.optimizer.iterations += res.batches;
    await pending;
    if (failure) throw failure;
    return res;
  }

  /** Batch by batch from JS: datasets, and models with custom layers. */
  private async epochBatches(source: AsyncIterable<unknown> | Iterable<unknown>, cbs: CallbackLike[], steps: number,
    planned: number, getOpt: () => optim.Optimizer): Promise<{ loss: number; metrics: number[]; nonFinite: boolean }> {
    const c = this.compiled!;
    const state = this.metricState();
    native.model_metrics_reset(state);
    const token = (this.token ??= native.model_token_create());
    native.model_token_reset(token);
    let nonFinite = false;
    let b = 0;
    for await (const el of source as AsyncIterable<unknown>) {
      if (this.stopTraining || b >= steps) {
        disposeBatch(el);
        break;
      }
      const [xb, yb, wb] = asBatch(el, 'fit');
      try {
        if (!this.built) this.ensureBuilt(xb.shape.slice(1));
        for (const cb of cbs) await cb.onBatchBegin?.(b, {});
        const n = xb.shape[0];
        const opt = getOpt();
        const rates = this.scheduledRates(1);
        if (this.allNative) {
          const trainSteps = this.steps(true) as NativeStep[] & { fused?: boolean };
          // the model's token carries its thread tuner across these one-batch runs
          const r = await native.model_run('train', trainSteps, xb._h, yb._h, {
            ...this.runOptions(!!trainSteps.fused), optimizer: opt._native, batchSize: n, shuffle: false, token,
            metricState: state, plannedBatches: planned, ...(rates ? { learningRates: rates } : {}),
            ...(wb ? { sampleWeight: wb._h } : {}),
          });
          nonFinite ||= r.nonFinite;
        } else {
          if (rates) for (const g of opt.paramGroups) g.lr = rates[0];
          nonFinite ||= !Number.isFinite(this.trainBatchJS(xb, yb, wb, opt, state));
        }
        c.optimizer.iterations++;
      } finally {
        disposeBatch(el);
      }
      const r = native.model_metrics_result(state);
      const logs: Logs = { loss: r.loss };
      c.metricNames.forEach((nm, i) => { logs[nm] = r.metrics[i]; });
      for (const cb of cbs) await cb.onBatchEnd?.(b, logs);
      b++;
      if (nonFinite) break;
    }
    const { loss, metrics, samples } = native.model_metrics_result(state);
    if (samples === 0) throw new Error('fit: the dataset yielded no batches');
    return { loss, metrics, nonFinite };
  }

  /** Labels the loss can use, and no NaN in x or y (named by sample). */
  private checkData(where: string, x: Tensor, y: Tensor): void {
    const c = this.compiled!;
    const out = this.builtShape ? this.outputShape() : null;
    if (c.loss === 'sparse_categorical_crossentropy') {
      if (y.dtype.startsWith('float') && y.ndim > 1 && y.shape[y.ndim - 1] > 1) {
        throw new TypeError(`${where}: sparse_categorical_crossentropy expects integer class labels, but y looks one-hot ` +
          `(shape [${y.shape.join(', ')}]); use categorical_crossentropy or pass labels`);
      }
      if (out) {
        const classes = out[out.length - 1];
        const ints = y.to('int64');
        const lo = Number(ints.min().item());
        const hi = Number(ints.max().item());
        if (lo < 0 || hi >= classes) {
          throw new RangeError(`${where}: labels must be in [0, ${classes}) for the model's ${classes} outputs with ` +
            `sparse_categorical_crossentropy, but range from ${lo} to ${hi}`);
        }
      }
    }
    // the native loop checks on its runner thread (checkFinite): a scan of a large x blocks for 100s of ms
    if (this.allNative) return;
    for (const [name, t] of [['x', x], ['y', y]] as const) {
      if (!t.dtype.startsWith('float')) continue;
      const bad = tidy(() => {
        const nan = t.isnan().logicalOr(t.abs().eq(Infinity));
        if (!Number(nan.any().item())) return -1;
        const perSample = t.ndim > 1 ? nan.flatten(1).to('int64').sum(1) : nan.to('int64');
        return Number(perSample.gt(0).to('int64').argmax().item()); // the first sample with a NaN
      });
      if (bad >= 0) throw new RangeError(`${where}: ${name} contains NaN or infinity (first in sample ${bad}); clean or impute the data first`);
    }
  }

  private outputShape(): number[] {
    let s = [...this.builtShape!];
    for (const l of this.layerList) s = l.computeOutputShape(s);
    return s;
  }

  private async evaluateAny(data: [Tensor, Tensor] | AsyncIterable<unknown>, batchSize: number): Promise<{ loss: number; metrics: number[] }> {
    const c = this.compiled!;
    if (Array.isArray(data) && this.allNative) {
      const steps = this.steps(true) as NativeStep[] & { fused?: boolean };
      const r = await native.model_run('evaluate', steps, data[0]._h, data[1]._h, { ...this.runOptions(!!steps.fused), batchSize, checkFinite: true });
      return { loss: r.loss, metrics: r.metrics };
    }
    const source = Array.isArray(data) ? tensorBatches(data[0], data[1], undefined, batchSize, false) : data;
    const state = this.metricState();
    native.model_metrics_reset(state);
    const lossName = this.runOptions(false).loss as string;
    for await (const el of source as AsyncIterable<unknown>) {
      const [xb, yb] = asBatch(el, 'evaluate');
      try {
        if (!this.built) this.ensureBuilt(xb.shape.slice(1));
        tidy(() => noGrad(() => {
          const out = this.forwardJS(xb, false);
          const y = this.onDevice(yb);
          const loss = wrap(native.model_loss(lossName, c.fromLogits, out._h, y._h, null)).item() as number;
          native.model_metrics_update(state, lossName, c.fromLogits, out._h, y._h, loss);
        }));
      } finally {
        disposeBatch(el);
      }
    }
    const r = native.model_metrics_result(state);
    if (r.samples === 0) throw new Error('evaluate: no samples');
    return { loss: r.loss, metrics: r.metrics };
  }

  /** [loss, ...metrics] (or just the loss), or an object with { returnDict: true }. */
  async evaluate(xIn: Data | AsyncIterable<unknown>, yIn?: Data | { batchSize?: number; verbose?: number; returnDict?: boolean },
    opts: { batchSize?: number; verbose?: number; returnDict?: boolean } = {}): Promise<number | number[] | Record<string, number>> {
    if (!this.compiled) throw new Error(`${this.name}: call compile() before evaluate()`);
    let data: [Tensor, Tensor] | AsyncIterable<unknown>;
    if (isBatchSource(xIn)) {
      if (yIn !== undefined && !(yIn instanceof Tensor)) opts = yIn as typeof opts;
      data = xIn;
    } else {
      const x = toTensor(xIn, 'evaluate: x');
      const y = toTensor(yIn, 'evaluate: y');
      if (x.ndim === 0 || y.ndim === 0 || x.shape[0] !== y.shape[0]) {
        throw new RangeError(`evaluate: x and y must have the same number of samples but x has ${x.shape[0] ?? 'none'} and y has ${y.shape[0] ?? 'none'}`);
      }
      this.ensureBuilt(x.shape.slice(1));
      this.checkData('evaluate', x, y);
      data = [x, y];
    }
    const o = checkOpts('evaluate', opts, ['batchSize', 'verbose', 'returnDict']);
    const r = await this.evaluateAny(data, posInt('evaluate', 'batchSize', o.batchSize, 32));
    const names = this.compiled.metricNames;
    if (o.returnDict) return Object.fromEntries([['loss', r.loss], ...names.map((n, i) => [n, r.metrics[i]])]);
    if ((o.verbose ?? 1) !== 0) {
      console.log(`loss: ${r.loss.toFixed(4)}${names.map((n, i) => ` - ${n}: ${r.metrics[i].toFixed(4)}`).join('')}`);
    }
    return names.length ? [r.loss, ...r.metrics] : r.loss;
  }

  /** The model's outputs for x, batched, computed off the main thread (built-in layers). */
  async predict(xIn: Data | AsyncIterable<unknown>, opts: { batchSize?: number; verbose?: number } = {}): Promise<Tensor> {
    const o = checkOpts('predict', opts, ['batchSize', 'verbose']);
    const batchSize = posInt('predict', 'batchSize', o.batchSize, 32);
    if (!isBatchSource(xIn)) {
      const x = toTensor(xIn, 'predict: x');
      this.ensureBuilt(x.shape.slice(1));
      if (this.allNative) {
        const r = await native.model_run('predict', this.steps(false), x._h, null, { batchSize, device: this.device });
        return wrapResult(r.predictions);
      }
      const outs: Tensor[] = [];
      for (let i = 0; i < x.shape[0]; i += batchSize) {
        outs.push(tidy(() => noGrad(() => this.forwardJS(x.slice(0, i, i + batchSize), false).to({ device: x.device }))));
      }
      return catAndFree(outs);
    }
    const outs: Tensor[] = [];
    for await (const el of xIn as AsyncIterable<unknown>) {
      const xb = el instanceof Tensor ? el : asBatch(el, 'predict')[0];
      try {
        if (!this.built) this.ensureBuilt(xb.shape.slice(1));
        if (this.allNative) outs.push(wrapResult((await native.model_run('predict', this.steps(false), xb._h, null, { batchSize, device: this.device })).predictions));
        else outs.push(tidy(() => noGrad(() => this.forwardJS(xb, false).to({ device: xb.device }))));
      } finally {
        disposeBatch(el);
      }
    }
    return catAndFree(outs);
  }

  /** Writes config.json and model.safetensors into dir, each atomically (lib/keras/saving.ts); nt.loadModel(dir) reads it. */
  async save(dir: string, opts?: SaveOptions): Promise<void> {
    saveModel(this, dir, opts);
  }
  /** The weights alone, as one safetensors file named '<layer>/<weight>' in Keras layout. */
  async saveWeights(file: string): Promise<void> {
    saveWeightsFile(this, file);
  }
  async loadWeights(file: string): Promise<void> {
    loadWeightsFile(this, file);
  }
}

function catAndFree(outs: Tensor[]): Tensor {
  if (outs.length === 0) return creation.zeros([0]);
  const r = cat(outs, 0);
  for (const t of outs) t.dispose();
  return r;
}

/** A Dataset (or any async iterable / iterable that is not an array or tensor) of batches. */
function isBatchSource(v: unknown): v is AsyncIterable<unknown> {
  if (v === null || typeof v !== 'object' || v instanceof Tensor || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  return typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
    typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function';
}

function batchCount(ds: unknown): number {
  const d = ds as { cardinality?: () => number; length?: number };
  const n = typeof d.cardinality === 'function' ? d.cardinality() : d.length;
  if (typeof n === 'number' && Number.isFinite(n) && n > 0) return n;
  return Infinity;
}

/**
 * Keras' steps_per_epoch / validation_steps over a dataset or an ImageDataGenerator iterator:
 * each iteration yields `steps` batches from one iterator kept across epochs (so its prefetched
 * batches are used, not dropped), opening a new pass whenever one ends, as Keras' generators loop
 * indefinitely. A source that yields nothing on a new pass ends the epoch early.
 */
class StepCursor implements AsyncIterable<unknown> {
  private it: AsyncIterator<unknown> | Iterator<unknown> | null = null;
  constructor(private readonly source: AsyncIterable<unknown> | Iterable<unknown>, private readonly steps: number) {}
  private open(): AsyncIterator<unknown> | Iterator<unknown> {
    const s = this.source;
    return Symbol.asyncIterator in s ? s[Symbol.asyncIterator]() : s[Symbol.iterator]();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    for (let b = 0; b < this.steps; b++) {
      let r = this.it ? await this.it.next() : { done: true, value: undefined };
      if (r.done) {
        this.it = this.open();
        r = await this.it.next();
        if (r.done) {
          this.it = null;
          return;
        }
      }
      yield r.value;
    }
  }
  /** Ends the pass in progress, so an iterator that prefetches frees what it holds. */
  async close(): Promise<void> {
    const it = this.it;
    this.it = null;
    await it?.return?.();
  }
}

/** [x, y] or [x, y, sampleWeight], or { x, y }. */
function asBatch(el: unknown, where: string): [Tensor, Tensor, Tensor | undefined] {
  if (Array.isArray(el) && el.length >= 2 && el[0] instanceof Tensor && el[1] instanceof Tensor) {
    return [el[0], el[1], el[2] instanceof Tensor ? el[2] : undefined];
  }
  if (el !== null && typeof el === 'object' && (el as { x?: unknown }).x instanceof Tensor && (el as { y?: unknown }).y instanceof Tensor) {
    const o = el as { x: Tensor; y: Tensor };
    return [o.x, o.y, undefined];
  }
  throw new TypeError(`${where}: expected the dataset to yield [x, y] batches of tensors but it yielded ${typeOfValue(el)}`);
}

function disposeBatch(el: unknown): void {
  if (el instanceof Tensor) el.dispose();
  else if (Array.isArray(el)) for (const t of el) if (t instanceof Tensor) t.dispose();
  else if (el !== null && typeof el === 'object') for (const t of Object.values(el)) if (t instanceof Tensor) t.dispose();
}

/** Batches of (x, y[, w]) sliced from tensors, shuffled each epoch, for the batch-by-batch path. */
function* tensorBatches(x: Tensor, y: Tensor, w: Tensor | undefined, batchSize: number, shuffle: boolean): Generator<Tensor[]> {
  const n = x.shape[0];
  // the native loop's order (one randperm per epoch), so a seed gives one batch order on both paths
  const order = shuffle ? keep(wrap(native.model_batch_order(n))) : null;
  try {
    for (let i = 0; i < n; i += batchSize) {
      if (order) {
        const idx = order.slice(0, i, i + batchSize);
        const b = [x.indexSelect(0, idx), y.indexSelect(0, idx), ...(w ? [w.indexSelect(0, idx)] : [])];
        idx.dispose();
        yield b;
      } else {
        yield [x.slice(0, i, i + batchSize), y.slice(0, i, i + batchSize), ...(w ? [w.slice(0, i, i + batchSize)] : [])];
      }
    }
  } finally {
    order?.dispose();
  }
}

import { wrap } from '../tensor';
function wrapResult(h: number | undefined): Tensor {
  if (h === undefined) return creation.zeros([0]);
  return wrap(h);
}

function moveTo(t: Tensor, device: string): void {
  if (t.device === device) return;
  const c = t.to({ device });
  native.tensor_set_data(t._h, c._h);
  c.dispose();
  t._meta = undefined;
  t._shape = undefined;
}

/** A CUDA device that is not there fails where the user names it, not later in fit. */
function checkDevicePresent(where: string, d: string): void {
  if (d === 'cpu') return;
  const n = availableDevices().length - 1;
  const index = d === 'cuda' ? 0 : Number(d.slice(5));
  if (index >= n) {
    throw new Error(`${where}('${d}'): ${n === 0 ? 'CUDA is not available here (no CUDA build of libtorch or no GPU)'
      : `there ${n === 1 ? 'is 1 CUDA device' : `are ${n} CUDA devices`} (cuda:0${n > 1 ? ` to cuda:${n - 1}` : ''})`}; use 'cpu'` +
      (n > 0 ? ' or an existing device' : ''));
  }
}

/**
 * Keras' build(inputShape) takes the batch dimension first ([null, 20]); a shape one longer than the
 * declared per-sample shape, or starting with null, loses its first entry.
 */
function perSampleShape(shape: readonly (number | null)[], declared: number[] | undefined): number[] {
  const s = shape[0] === null || (declared && shape.length === declared.length + 1) ? shape.slice(1) : [...shape];
  if (!s.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) {
    throw new TypeError(`build: expected inputShape as positive integers, the batch dimension first as null ([null, 20]) ` +
      `but received ${JSON.stringify(shape)}`);
  }
  return s as number[];
}

function fmtShape(s: number[]): string {
  return `[${s.join(', ')}]`;
}

async function call(cbs: CallbackLike[], hook: 'onTrainBegin' | 'onTrainEnd', logs: Logs): Promise<void>;
async function call(cbs: CallbackLike[], hook: 'onEpochBegin' | 'onEpochEnd', epoch: number, logs: Logs): Promise<void>;
async function call(cbs: CallbackLike[], hook: string, a: unknown, b?: unknown): Promise<void> {
  for (const cb of cbs) {
    const f = (cb as Record<string, unknown>)[hook];
    if (typeof f === 'function') await (f as (...x: unknown[]) => unknown).call(cb, a, b);
  }
}

import type { CallbackModel } from './callbacks';
import { saveModel, saveWeightsFile, loadWeightsFile, SaveOptions } from './saving';
export { Callback };
