// Keras' Sequential: layers built lazily from inputShape or the first batch, compile() resolving
// Keras names, and fit/evaluate/predict running whole epochs in native code (native/model.cc) on
// a worker thread, so the event loop keeps running during training.
import { native, NativeObject } from '../native';
import { noGrad } from '../autograd';
import { Tensor, typeOfValue, NestedArray, deviceString, DeviceLike } from '../tensor';
import * as creation from '../creation';
import { DType } from '../dtype';
import * as optim from '../optim';
import { Layer, NativeStep, InputLayer } from './layers';
import { Callback, CallbackLike, History, Logs, ProgbarLogger, TrainParams } from './callbacks';
import { Optimizer as KerasOptimizer, resolveOptimizer } from './optimizers';

export type Data = Tensor | NestedArray | { data: ArrayLike<number> | ArrayBufferView; shape: number[]; dtype?: DType };

const LOSSES = ['sparse_categorical_crossentropy', 'categorical_crossentropy', 'binary_crossentropy', 'mse', 'mae',
  'huber', 'mean_squared_error', 'mean_absolute_error'];

export interface LossObject { name: string; fromLogits?: boolean }
export interface CompileOptions {
  optimizer?: string | KerasOptimizer;
  loss: string | LossObject;
  metrics?: string[];
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  verbose?: 0 | 1 | 2;
  callbacks?: CallbackLike[];
  validationSplit?: number;
  validationData?: [Data, Data];
  shuffle?: boolean;
  classWeight?: Record<number, number>;
  sampleWeight?: Tensor;
  initialEpoch?: number;
  stepsPerEpoch?: number;
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
  build(inputShape?: number[]): void {
    const shape = inputShape ?? this.layerList[0]?.inputShape;
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
      if (l.trainable) trainable += n;
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

  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }
  getWeights(): Tensor[] {
    return this.layers.flatMap((l) => l.getWeights());
  }
  setWeights(ws: Tensor[]): void {
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

  to(device: DeviceLike): this {
    const d = deviceString(device, 'Sequential.to');
    for (const l of this.layers) for (const w of l.weightsInternal()) noGrad(() => moveTo(w.tensor, d));
    for (const l of this.layers) for (const m of l.modules()) m.to(d);
    return this;
  }

  compile(opts: CompileOptions): void {
    const o = checkOpts('compile', opts, ['optimizer', 'loss', 'metrics']);
    let loss: string;
    let fromLogits = false;
    if (typeof o.loss === 'string') loss = o.loss;
    else if (o.loss && typeof o.loss === 'object' && typeof (o.loss as LossObject).name === 'string') {
      loss = (o.loss as LossObject).name;
      fromLogits = !!(o.loss as LossObject).fromLogits;
    } else {
      throw new TypeError(`compile: expected loss to be one of ${LOSSES.join(', ')} but received ${typeOfValue(o.loss)}`);
    }
    if (!LOSSES.includes(loss)) throw new TypeError(`compile: unknown loss '${loss}'; expected one of ${LOSSES.join(', ')}`);
    const optimizer = resolveOptimizer(o.optimizer ?? 'rmsprop');
    const metrics = (o.metrics as unknown[] | undefined) ?? [];
    if (!Array.isArray(metrics)) throw new TypeError(`compile: expected metrics to be an array of names but received ${typeOfValue(metrics)}`);
    const metricNames: string[] = [];
    const metricKinds: string[] = [];
    for (const m of metrics) {
      if (typeof m !== 'string') throw new TypeError(`compile: expected metric names but received ${typeOfValue(m)}`);
      let kind: string;
      if (m === 'accuracy' || m === 'acc') {
        kind = loss === 'sparse_categorical_crossentropy' ? 'sparse_categorical_accuracy'
          : loss === 'categorical_crossentropy' ? 'categorical_accuracy' : 'binary_accuracy';
      } else if (['sparse_categorical_accuracy', 'categorical_accuracy', 'binary_accuracy', 'mae', 'mse'].includes(m)) {
        kind = m;
      } else if (m === 'mean_absolute_error' || m === 'mean_squared_error') {
        kind = m === 'mean_absolute_error' ? 'mae' : 'mse';
      } else {
        throw new TypeError(`compile: unknown metric '${m}'; expected accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy, mae or mse`);
      }
      metricNames.push(m === 'acc' ? 'accuracy' : m);
      metricKinds.push(kind);
    }
    this.compiled = { optimizer, loss, fromLogits, fused: false, metricNames, metricKinds };
    this.nativeOpt = null;
  }

  private steps(forTraining: boolean): NativeStep[] {
    const steps: NativeStep[] = [];
    for (const l of this.layerList) {
      const s = l.nativeStep();
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

  private optimizer(): optim.Optimizer {
    if (!this.nativeOpt) this.nativeOpt = this.compiled!.optimizer.create(this.trainableWeights);
    return this.nativeOpt;
  }
  getLearningRate(): number {
    return this.compiled ? (this.nativeOpt ? this.nativeOpt.paramGroups[0].lr : this.compiled.optimizer.learningRate) : NaN;
  }
  setLearningRate(lr: number): void {
    if (!this.compiled) throw new Error(`${this.name}: compile() the model before setting the learning rate`);
    this.compiled.optimizer.learningRate = lr;
    if (this.nativeOpt) for (const g of this.nativeOpt.paramGroups) g.lr = lr;
  }

  private runOptions(fused: boolean): Record<string, unknown> {
    const c = this.compiled!;
    const penalties: { weight: number; l1: number; l2: number }[] = [];
    for (const l of this.layers) {
      const ws = l.weightsInternal();
      for (const w of ws) {
        const r = w.name === 'kernel' ? l.kernelRegularizer : w.name === 'bias' ? l.biasRegularizer : undefined;
        if (r && (r.l1 || r.l2)) penalties.push({ weight: w.tensor._h, l1: r.l1 ?? 0, l2: r.l2 ?? 0 });
      }
    }
    return { loss: c.loss === 'mean_squared_error' ? 'mse' : c.loss === 'mean_absolute_error' ? 'mae' : c.loss,
      fromLogits: c.fromLogits || fused, metrics: c.metricKinds, penalties };
  }

  async fit(xIn: Data, yIn: Data, opts: FitOptions = {}): Promise<History> {
    const o = checkOpts('fit', opts, ['epochs', 'batchSize', 'verbose', 'callbacks', 'validationSplit', 'validationData',
      'shuffle', 'classWeight', 'sampleWeight', 'initialEpoch', 'stepsPerEpoch']);
    if (!this.compiled) throw new Error(`${this.name}: call compile({ optimizer, loss, metrics }) before fit()`);
    let x = toTensor(xIn, 'fit: x');
    let y = toTensor(yIn, 'fit: y');
    if (x.ndim === 0 || y.ndim === 0 || x.shape[0] !== y.shape[0]) {
      throw new RangeError(`fit: x and y must have the same number of samples but x has ${x.shape[0] ?? 'none'} and y has ${y.shape[0] ?? 'none'}`);
    }
    const epochs = posInt('fit', 'epochs', o.epochs, 1);
    const batchSize = posInt('fit', 'batchSize', o.batchSize, 32);
    const verbose = o.verbose ?? 1;
    if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new TypeError(`fit: expected verbose 0, 1 or 2 but received ${String(verbose)}`);
    const initialEpoch = o.initialEpoch === undefined ? 0 : (o.initialEpoch as number);
    const shuffle = o.shuffle === undefined ? true : !!o.shuffle;
    this.ensureBuilt(x.shape.slice(1));
    this.checkTargets(y);

    let val: [Tensor, Tensor] | null = null;
    if (o.validationData !== undefined) {
      const vd = o.validationData as unknown[];
      if (!Array.isArray(vd) || vd.length < 2) throw new TypeError('fit: expected validationData as [x, y]');
      val = [toTensor(vd[0], 'fit: validationData x'), toTensor(vd[1], 'fit: validationData y')];
    } else if (o.validationSplit !== undefined) {
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
    let sampleWeight: Tensor | undefined = o.sampleWeight as Tensor | undefined;
    if (o.classWeight !== undefined) {
      const cw = o.classWeight as Record<number, number>;
      const labels = (y.ndim > 1 && y.shape[y.ndim - 1] > 1 ? y.argmax(-1) : y.reshape(-1)).toArray({ asNumber: true }) as number[];
      sampleWeight = creation.tensor(labels.map((c) => cw[Math.round(c)] ?? 1));
    }

    const history = new History();
    const progbar = verbose > 0 ? [new ProgbarLogger()] : [];
    const cbs: CallbackLike[] = [history, ...progbar, ...((o.callbacks as CallbackLike[] | undefined) ?? [])];
    const steps = Math.ceil(x.shape[0] / batchSize);
    const stepsPerEpoch = o.stepsPerEpoch === undefined ? steps : posInt('fit', 'stepsPerEpoch', o.stepsPerEpoch, steps);
    const params: TrainParams = { epochs, steps: Math.min(steps, stepsPerEpoch), verbose, samples: x.shape[0] };
    for (const cb of cbs) {
      cb.setModel?.(this);
      cb.setParams?.(params);
    }
    const batchHooks = cbs.some((cb) => !(cb instanceof History) && !(cb instanceof ProgbarLogger) &&
      (typeof cb.onBatchEnd === 'function' || typeof cb.onBatchBegin === 'function'));
    const trainSteps = this.steps(true) as NativeStep[] & { fused?: boolean };
    const fused = !!trainSteps.fused;
    const opt = this.optimizer();
    this.token ??= native.model_token_create();
    const token = this.token;
    this.stopTraining = false;
    await call(cbs, 'onTrainBegin', {});
    for (let epoch = initialEpoch; epoch < epochs && !this.stopTraining; epoch++) {
      await call(cbs, 'onEpochBegin', epoch, {});
      native.model_token_reset(token);
      let pending: Promise<void> = Promise.resolve();
      const names = this.compiled.metricNames;
      const onProgress = (b: number, _samples: number, loss: number, metrics: number[]) => {
        const logs: Logs = { loss };
        names.forEach((n, i) => { logs[n] = metrics[i]; });
        pending = pending.then(async () => {
          try {
            for (const cb of cbs) await cb.onBatchEnd?.(b, logs);
            if (this.stopTraining) native.model_token_stop(token);
            else if (batchHooks && b + 1 < params.steps) for (const cb of cbs) await cb.onBatchBegin?.(b + 1, {});
          } catch (e) {
            native.model_token_stop(token);
            throw e;
          } finally {
            if (batchHooks) native.model_token_ack(token, b);
          }
        });
      };
      if (batchHooks) for (const cb of cbs) await cb.onBatchBegin?.(0, {});
      const res = await native.model_run('train', trainSteps, x._h, y._h, {
        ...this.runOptions(fused), optimizer: opt._native, batchSize, shuffle, token, waitEachBatch: batchHooks,
        maxBatches: params.steps, ...(sampleWeight ? { sampleWeight: sampleWeight._h } : {}),
      }, onProgress);
      await pending;
      const logs: Logs = { loss: res.loss };
      names.forEach((n, i) => { logs[n] = res.metrics[i]; });
      if (res.nonFinite) {
        logs.loss = NaN;
        this.stopTraining = true;
      }
      if (val && !this.stopTraining) {
        const v = await this.evaluateTensors(val[0], val[1], batchSize);
        logs.val_loss = v.loss;
        names.forEach((n, i) => { logs[`val_${n}`] = v.metrics[i]; });
      }
      await call(cbs, 'onEpochEnd', epoch, logs);
      if (res.nonFinite) console.log(`Epoch ${epoch + 1}: Invalid loss (NaN or infinite), terminating training`);
    }
    await call(cbs, 'onTrainEnd', {});
    return history;
  }

  private checkTargets(y: Tensor): void {
    const c = this.compiled!;
    const last = this.layers[this.layers.length - 1];
    const out = last && this.builtShape ? this.outputShape() : null;
    if (c.loss === 'sparse_categorical_crossentropy') {
      if (y.dtype.startsWith('float') && y.ndim > 1 && y.shape[y.ndim - 1] > 1) {
        throw new TypeError('fit: sparse_categorical_crossentropy expects integer class labels, but y looks one-hot ' +
          `(shape [${y.shape.join(', ')}]); use categorical_crossentropy or pass labels`);
      }
      if (out) {
        const classes = out[out.length - 1];
        const ints = y.to('int64');
        const lo = Number(ints.min().item());
        const hi = Number(ints.max().item());
        if (lo < 0 || hi >= classes) {
          throw new RangeError(`fit: labels must be in [0, ${classes}) for the model's ${classes} outputs with ` +
            `sparse_categorical_crossentropy, but range from ${lo} to ${hi}`);
        }
      }
    }
    if (y.dtype.startsWith('float') && Number(y.isnan().any().item())) throw new RangeError('fit: y contains NaN');
  }

  private outputShape(): number[] {
    let s = [...this.builtShape!];
    for (const l of this.layerList) s = l.computeOutputShape(s);
    return s;
  }

  private async evaluateTensors(x: Tensor, y: Tensor, batchSize: number): Promise<{ loss: number; metrics: number[] }> {
    const steps = this.steps(true) as NativeStep[] & { fused?: boolean };
    const r = await native.model_run('evaluate', steps, x._h, y._h, { ...this.runOptions(!!steps.fused), batchSize });
    return { loss: r.loss, metrics: r.metrics };
  }

  /** [loss, ...metrics] (or just the loss), or an object with { returnDict: true }. */
  async evaluate(xIn: Data, yIn: Data, opts: { batchSize?: number; verbose?: number; returnDict?: boolean } = {}):
    Promise<number | number[] | Record<string, number>> {
    const o = checkOpts('evaluate', opts, ['batchSize', 'verbose', 'returnDict']);
    if (!this.compiled) throw new Error(`${this.name}: call compile() before evaluate()`);
    const x = toTensor(xIn, 'evaluate: x');
    const y = toTensor(yIn, 'evaluate: y');
    this.ensureBuilt(x.shape.slice(1));
    this.checkTargets(y);
    const r = await this.evaluateTensors(x, y, posInt('evaluate', 'batchSize', o.batchSize, 32));
    const names = this.compiled.metricNames;
    if (o.returnDict) return Object.fromEntries([['loss', r.loss], ...names.map((n, i) => [n, r.metrics[i]])]);
    if ((o.verbose ?? 1) !== 0) {
      console.log(`loss: ${r.loss.toFixed(4)}${names.map((n, i) => ` - ${n}: ${r.metrics[i].toFixed(4)}`).join('')}`);
    }
    return names.length ? [r.loss, ...r.metrics] : r.loss;
  }

  /** The model's outputs for x, batched, computed off the main thread. */
  async predict(xIn: Data, opts: { batchSize?: number; verbose?: number } = {}): Promise<Tensor> {
    const o = checkOpts('predict', opts, ['batchSize', 'verbose']);
    const x = toTensor(xIn, 'predict: x');
    this.ensureBuilt(x.shape.slice(1));
    const r = await native.model_run('predict', this.steps(false), x._h, null, { batchSize: posInt('predict', 'batchSize', o.batchSize, 32) });
    return wrapResult(r.predictions);
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
