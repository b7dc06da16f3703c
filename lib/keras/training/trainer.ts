// Keras' trainer: compile/fit/evaluate/predict over batches from the data adapter, one loop for
// every model kind (lib/keras/engine). A step runs the whole epoch in native code (native/model.cc)
// when the model is a chain of built-in layers, and batch by batch with autograd otherwise. Native
// runs go to the runner thread the addon owns (not libuv's pool), so the event loop and fs keep running.
// Model extends Trainer extends Layer, as Keras 3's Model(Trainer, Layer).
import { native, NativeObject } from '../../native';
import { checkRate } from '../../optim/optimizer'; // reliability: the one learning-rate check
import { noGrad } from '../../autograd';
import { tidy } from '../../memory';
import { Tensor, typeOfValue, wrap } from '../../tensor';
import * as creation from '../../creation';
import * as optim from '../../optim';
import { Layer, NativeStep, isNativeLayer } from '../layers';
import { CallbackLike, History, Logs, ProgbarLogger, TrainParams, normalizeCallback } from '../callbacks';
import * as check from '../../util/check';
import { Optimizer as KerasOptimizer, resolveOptimizer } from '../optimizers';
import { LOSS_NAMES, LossName, canonicalLoss } from '../losses';
import { resolveMetric, Metric } from '../metrics';
import { isObjectLike } from '../../callable';
import { distribution, FitSync } from '../distribution';
import {
  Data, toTensor, catAndFree, isBatchSource, batchCount, StepCursor, asBatch, disposeBatch, tensorBatches, wrapResult,
} from './data_adapter';

export type { Data };

/** A loss by Keras name with its fromLogits flag (what losses.* objects are). */
export interface LossObject { name: string; fromLogits?: boolean }
/** a Keras name, a losses.* object or function, or { name, fromLogits } */
export type LossLike = string | LossObject | ((yTrue: Tensor, yPred: Tensor) => Tensor);
/** A metric: a Keras name ('accuracy', 'mae'...) or a metrics.* object. */
export type MetricLike = string | Metric;
/** Options of compile(): optimizer, loss, metrics, lossWeights (Keras' model.compile). */
export interface CompileOptions {
  /** a Keras name ('adam', 'sgd'...) or an optimizers.* object (default 'rmsprop') */
  optimizer?: string | KerasOptimizer;
  /** one loss, or one per output: an array, or an object keyed by output name */
  loss: LossLike | LossLike[] | Record<string, LossLike>;
  /** Keras names or metrics.* objects, or per output: an array of arrays, or an object keyed by output name */
  metrics?: MetricLike[] | MetricLike[][] | Record<string, MetricLike[]>;
  /** per output (array or object keyed by output name): the total loss is the weighted sum */
  lossWeights?: number[] | Record<string, number>;
}

/** What getCompileConfig() returns and a saved model records. */
export interface CompileConfig {
  /** the optimizer's class name and config */
  optimizer: { className: string; config: Record<string, unknown> };
  /** the loss as given to compile */
  loss: CompileOptions['loss'];
  /** the metrics as given to compile */
  metrics: CompileOptions['metrics'];
  /** per output name: the loss weights */
  lossWeights?: Record<string, number>;
}

/** Options of fit() (Keras' model.fit kwargs in camelCase; snake_case accepted). */
export interface FitOptions {
  /** passes over the data (default 1) */
  epochs?: number;
  /** samples per gradient step (default 32) */
  batchSize?: number;
  /** 0 silent, 1 progress bar, 2 one line per epoch */
  verbose?: 0 | 1 | 2;
  /** callbacks.* objects or objects with onEpochEnd etc., called during training */
  callbacks?: CallbackLike[];
  /** the fraction of the data (taken from the end, before shuffling) held out for validation */
  validationSplit?: number;
  /** [x, y], or a dataset / ImageDataGenerator iterator of [x, y] batches */
  validationData?: [Data, Data] | AsyncIterable<unknown>;
  /** shuffle the samples each epoch (default true) */
  shuffle?: boolean;
  /** per class index: a weight on its samples' loss */
  classWeight?: Record<number, number>;
  /** per sample: a weight on its loss */
  sampleWeight?: Tensor;
  /** the epoch to start at (for resuming a run) */
  initialEpoch?: number;
  /** batches per epoch from a dataset/iterator; the source is read on across epochs and restarted when a pass ends */
  stepsPerEpoch?: number;
  /** batches per validation from a dataset/iterator validationData, read on across epochs like stepsPerEpoch */
  validationSteps?: number;
  /**
   * train across the processes of nt.distributed's group (default: whether nt.distribution.setDistribution
   * set one): each rank takes its share of every batch, gradients and metrics are averaged, callbacks run on rank 0
   */
  distributed?: boolean;
}

/** Options of compile/fit/evaluate/predict: Keras' snake_case names (batch_size) read as camelCase, unknown names refused. */
function checkOpts(where: string, o: unknown, known: string[]): Record<string, unknown> {
  return check.options(where, o, known);
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
  /** models with several outputs: each output's loss, weight and metrics */
  outputs?: OutputLoss[];
  /** native metric state (single output), made on first use */
  state?: NativeObject;
}

interface OutputLoss { name: string; loss: string; fromLogits: boolean; weight: number; metricKinds: string[]; metrics: string[] }

/** Keras' short loss names the native loss takes. */
function nativeLossName(loss: string): string {
  return canonicalLoss(loss as LossName);
}

function parseLoss(v: unknown, what: string): { loss: string; fromLogits: boolean } {
  let loss: string;
  let fromLogits = false;
  if (typeof v === 'string') loss = v;
  else if (isObjectLike(v) && typeof (v as LossObject).name === 'string') {
    // { name, fromLogits }, a losses.* object, or a losses.* function (by its name)
    loss = (v as LossObject).name;
    fromLogits = !!(v as LossObject).fromLogits;
  } else {
    throw new TypeError(`compile: expected ${what} to be one of ${LOSS_NAMES.join(', ')} but received ${typeOfValue(v)}`);
  }
  if (!(LOSS_NAMES as readonly string[]).includes(loss)) throw new TypeError(`compile: unknown ${what} '${loss}'; expected one of ${LOSS_NAMES.join(', ')}`);
  return { loss, fromLogits };
}

/** A metric's Keras name and its kind in native/model.cc ('accuracy' picks by loss, as Keras). */
function metricKind(m: unknown, loss: string): { name: string; kind: string } {
  return resolveMetric(m, loss);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** A compile option given once, per output as an array, or per output as an object keyed by output name. */
function perOutput<T>(v: unknown, names: string[], what: string, single: (v: unknown) => boolean): (T | undefined)[] {
  if (v === undefined) return names.map(() => undefined);
  if (Array.isArray(v) && !single(v)) {
    if (v.length !== names.length) throw new RangeError(`compile: expected ${what} for each of the ${names.length} outputs (${names.join(', ')}) but received ${v.length}`);
    return v as T[];
  }
  if (isPlainObject(v) && !single(v)) {
    const extra = Object.keys(v).filter((k) => !names.includes(k));
    if (extra.length) throw new RangeError(`compile: ${what} names ${extra.join(', ')}, which ${extra.length > 1 ? 'are not outputs' : 'is not an output'}; the outputs are ${names.join(', ')}`);
    return names.map((n) => v[n] as T | undefined);
  }
  return names.map(() => v as T);
}

/**
 * Keras' metric trackers over an epoch for batches run from JS: the model's native metric state
 * (native.model_metrics_*) for one output, one native state per output for several, and means of
 * the logs for overridden trainStep/testStep.
 */
class EpochMetrics {
  private readonly states: NativeObject[];
  private lossSum = 0;
  private samples = 0;
  private means: number[] = [];
  constructor(private readonly c: Compiled, single: () => NativeObject, private readonly custom: boolean) {
    this.states = custom ? [] : c.outputs ? c.outputs.map((o) => native.model_metrics_create(o.metricKinds)) : [single()];
    for (const st of this.states) native.model_metrics_reset(st);
  }
  /** One batch's outputs and targets (one each per output), each output's loss and the total loss. */
  update(outs: Tensor[], ys: Tensor[], outputLosses: number[], total: number): void {
    const c = this.c;
    const n = outs[0].shape[0];
    // a NaN batch (after a non-finite one: a distributed fit runs on to the epoch's end) counts as infinite; fit logs NaN then
    const num = (v: number) => (Number.isNaN(v) ? Infinity : v);
    if (!c.outputs) native.model_metrics_update(this.states[0], nativeLossName(c.loss), c.fromLogits, outs[0]._h, ys[0]._h, num(total));
    else c.outputs.forEach((o, i) => native.model_metrics_update(this.states[i], nativeLossName(o.loss), o.fromLogits, outs[i]._h, ys[i]._h, num(outputLosses[i])));
    this.lossSum += total * n;
    this.samples += n;
  }
  /** One batch's logs from an overridden step: averaged over the epoch by samples. */
  addLogs(loss: number, values: number[], n: number): void {
    values.forEach((v, i) => { this.means[i] = (this.means[i] ?? 0) + v * n; });
    this.lossSum += loss * n;
    this.samples += n;
  }
  /** distributed fit: every rank's states summed (lib/keras/distribution.ts); returns extra, summed too */
  async allReduce(sync: FitSync, extra: number[]): Promise<number[]> {
    const n = this.c.metricNames.length;
    const mine = [this.lossSum, this.samples, ...Array.from({ length: n }, (_, i) => this.means[i] ?? 0), ...extra];
    const sums = await sync.reduceStates(this.states, mine);
    [this.lossSum, this.samples] = sums;
    this.means = sums.slice(2, 2 + n);
    return sums.slice(2 + n);
  }
  result(): { loss: number; metrics: number[]; samples: number } {
    const c = this.c;
    if (this.custom) {
      return { loss: this.lossSum / this.samples, metrics: c.metricNames.map((_, i) => (this.means[i] ?? NaN) / this.samples), samples: this.samples };
    }
    if (!c.outputs) return native.model_metrics_result(this.states[0]);
    const rs = this.states.map((st) => native.model_metrics_result(st));
    return { loss: this.lossSum / this.samples, metrics: [...rs.map((r) => r.loss), ...rs.flatMap((r) => r.metrics)], samples: this.samples };
  }
}

/**
 * What a model gives the trainer: its layers, a forward from JS, and (for the native fast path) the
 * chain of built-in layers it is, when it is one.
 */
export abstract class Trainer extends Layer {
  stopTraining = false;
  protected compiled: Compiled | null = null;
  protected nativeOpt: optim.Optimizer | null = null;
  private token: NativeObject | null = null;
  /** the other ranks during a distributed fit (lib/keras/distribution.ts), else null */
  private dist: FitSync | null = null;
  /** The device of the model's weights. */
  device = 'cpu';
  /** per-sample input shape once built (the packed one for several inputs) */
  protected builtShape: number[] | null = null;

  /** Every layer of the model, each once (shared layers too). */
  abstract get layers(): Layer[];
  /** The layers in order when the model is a chain with one input and one output (the native fast path), else null. */
  protected abstract nativeChain(): Layer[] | null;
  /** Builds the model for a per-sample input shape (of the packed inputs), or checks it matches. */
  protected abstract ensureBuilt(sample: readonly number[]): void;
  /** The per-sample shape of the (single) output. */
  protected abstract outputShape(): number[];
  /** The model's outputs from JS for a batch of (packed) inputs, packed when there are several. */
  protected abstract forwardJS(x: Tensor, training: boolean, penalties?: Tensor[]): Tensor;
  /** Output names when the model declares them (Functional), else null. */
  protected abstract outputNames(): string[] | null;
  /** A packed batch of outputs (or targets) as the model's outputs: one tensor each. */
  protected abstract splitOutputs(t: Tensor, targets: boolean): Tensor[];
  /** A packed batch as the user's structure (for trainStep/testStep): a Tensor, or one per input. */
  protected abstract userInputs(x: Tensor): Tensor | Tensor[];

  protected get layerList(): Layer[] {
    return this.nativeChain() ?? [];
  }
  protected onDevice(t: Tensor): Tensor {
    return t.device === this.device ? t : t.to({ device: this.device });
  }
  /** The optimizer given to compile (Keras' model.optimizer): its apply(grads, variables) serves hand-written steps. */
  get optimizer(): KerasOptimizer | undefined {
    return this.compiled?.optimizer;
  }
  /** True when trainStep or testStep is overridden: steps then run batch by batch through them. */
  private get customSteps(): boolean {
    return this.trainStep !== Trainer.prototype.trainStep || this.testStep !== Trainer.prototype.testStep;
  }

  /** Keras' compile(): sets the optimizer, loss(es) and metrics for fit and evaluate. */
  compile(opts: CompileOptions): void {
    const o = checkOpts('compile', opts, ['optimizer', 'loss', 'metrics', 'lossWeights']);
    const optimizer = resolveOptimizer(o.optimizer ?? 'rmsprop');
    const names = this.outputNames();
    const isLoss = (v: unknown) => typeof v === 'string' ||
      (isObjectLike(v) && typeof (v as LossObject).name === 'string' && (!isPlainObject(v) ||
        (Object.keys(v).every((k) => k === 'name' || k === 'fromLogits') && !names?.includes('name'))));
    const isMetricList = (v: unknown) => Array.isArray(v) && v.every((m) => typeof m === 'string' || m instanceof Metric);
    if (!names || names.length === 1) {
      const one = names ?? ['output'];
      const [lossV] = perOutput<unknown>(o.loss, one, 'loss', isLoss);
      const { loss, fromLogits } = parseLoss(lossV, 'loss');
      const [metricsV] = perOutput<unknown>(o.metrics, one, 'metrics', isMetricList);
      const metrics = (metricsV as unknown[] | undefined) ?? [];
      if (!Array.isArray(metrics)) throw new TypeError(`compile: expected metrics to be an array of names but received ${typeOfValue(metrics)}`);
      const ms = metrics.map((m) => metricKind(m, loss));
      this.compiled = { optimizer, loss, fromLogits, fused: false, metricNames: ms.map((m) => m.name), metricKinds: ms.map((m) => m.kind) };
    } else {
      const losses = perOutput<unknown>(o.loss, names, 'loss', isLoss);
      const weights = perOutput<unknown>(o.lossWeights, names, 'lossWeights', (v) => typeof v === 'number');
      const metrics = perOutput<unknown>(o.metrics, names, 'metrics', isMetricList);
      const outputs: OutputLoss[] = [];
      const outMetricNames: string[] = [];
      for (const [i, name] of names.entries()) {
        if (losses[i] === undefined) throw new TypeError(`compile: no loss for output '${name}'; give one loss, or one per output (${names.join(', ')})`);
        const { loss, fromLogits } = parseLoss(losses[i], `loss for output '${name}'`);
        const weight = weights[i] ?? 1;
        if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
          throw new TypeError(`compile: expected lossWeights for output '${name}' to be a non-negative number but received ${typeOfValue(weight)}`);
        }
        const ml = (metrics[i] as unknown[] | undefined) ?? [];
        if (!Array.isArray(ml)) throw new TypeError(`compile: expected the metrics of output '${name}' to be an array of names but received ${typeOfValue(ml)}`);
        const ms = ml.map((m) => metricKind(m, loss));
        outputs.push({ name, loss, fromLogits, weight, metricKinds: ms.map((m) => m.kind), metrics: ms.map((m) => m.name) });
        outMetricNames.push(...ms.map((m) => `${name}_${m.name}`));
      }
      this.compiled = {
        optimizer, loss: 'multiple', fromLogits: false, fused: false, outputs,
        metricNames: [...names.map((n) => `${n}_loss`), ...outMetricNames],
        metricKinds: [...names.map(() => 'loss'), ...outputs.flatMap((x) => x.metricKinds)],
      };
    }
    this.nativeOpt = null;
  }

  /** Keras' get_compile_config: what compile() was given (optimizer with its current learning rate), as JSON; null before compile. */
  getCompileConfig(): CompileConfig | null {
    const c = this.compiled;
    if (!c) return null;
    const loss = (l: string, fromLogits: boolean): LossLike => (fromLogits ? { name: l, fromLogits: true } : l);
    const optimizer = { className: c.optimizer.kind, config: { ...c.optimizer.options, learningRate: this.getLearningRate() } };
    if (!c.outputs) return { optimizer, loss: loss(c.loss, c.fromLogits), metrics: [...c.metricNames] };
    return {
      optimizer,
      loss: Object.fromEntries(c.outputs.map((o) => [o.name, loss(o.loss, o.fromLogits)])),
      metrics: Object.fromEntries(c.outputs.map((o) => [o.name, [...o.metrics]])),
      lossWeights: Object.fromEntries(c.outputs.map((o) => [o.name, o.weight])),
    };
  }
  /** Keras' compile_from_config. */
  compileFromConfig(cc: CompileConfig): void {
    let opt: KerasOptimizer;
    try {
      opt = new KerasOptimizer(cc?.optimizer?.className as never, cc?.optimizer?.config as never);
    } catch (e) {
      throw new Error(`optimizer: ${(e as Error).message}`);
    }
    this.compile({ optimizer: opt, loss: cc.loss, metrics: cc.metrics, ...(cc.lossWeights ? { lossWeights: cc.lossWeights } : {}) } as CompileOptions);
  }
  /** The native (torch::optim) optimizer training the weights: its state is what a saved model keeps. Made on first use when create is true. */
  trainingOptimizer(create = false): optim.Optimizer | null {
    return this.nativeOpt ?? (create && this.compiled ? this.nativeOptimizer() : null);
  }

  protected steps(forTraining: boolean): NativeStep[] {
    const steps: NativeStep[] = [];
    for (const l of this.layerList) {
      const s = isNativeLayer(l) ? l.runnableStep() : null;
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
  protected metricState(): NativeObject {
    const c = this.compiled!;
    return (c.state ??= native.model_metrics_create(c.metricKinds));
  }

  /** Per-batch learning rates for the next `count` steps when a schedule drives the rate, else undefined. */
  private scheduledRates(count: number): number[] | undefined {
    const o = this.compiled!.optimizer;
    return o.schedule ? Array.from({ length: count }, (_, i) => o.schedule!.call(o.iterations + i)) : undefined;
  }

  /** The native optimizer over the trainable weights, made on first use. */
  protected nativeOptimizer(): optim.Optimizer {
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
  /** Sets the optimizer's learning rate (not when it follows a schedule); compile first. */
  setLearningRate(lr: number): void {
    if (!this.compiled) throw new Error(`${this.name}: compile() the model before setting the learning rate`);
    if (this.compiled.optimizer.schedule) {
      throw new Error(`${this.name}: the learning rate follows the optimizer's ${this.compiled.optimizer.schedule.constructor.name} schedule ` +
        'and cannot be set; use a number as learningRate to change it from a callback');
    }
    this.compiled.optimizer.learningRate = checkRate('setLearningRate', 'lr', lr);
    if (this.nativeOpt) for (const g of this.nativeOpt.paramGroups) g.lr = lr;
  }

  /** The weights under a kernel or bias regularizer, with its factors: Keras adds their penalties to the loss in fit and evaluate. */
  private regularizedWeights(): { tensor: Tensor; l1: number; l2: number }[] {
    const out: { tensor: Tensor; l1: number; l2: number }[] = [];
    for (const l of this.layers) {
      for (const w of l.weightsInternal()) {
        const r = /(^|\/)kernel$/.test(w.name) ? l.kernelRegularizer : /(^|\/)bias$/.test(w.name) ? l.biasRegularizer : undefined;
        if (r && (r.l1 || r.l2)) out.push({ tensor: w.tensor, l1: r.l1 ?? 0, l2: r.l2 ?? 0 });
      }
    }
    return out;
  }

  /** loss plus the activity penalties and the regularized weights' penalties, as the native loop adds them. */
  private withPenalties(loss: Tensor, activity: Tensor[]): Tensor {
    for (const p of activity) loss = loss.add(p);
    for (const w of this.regularizedWeights()) {
      if (w.l1) loss = loss.add(w.tensor.abs().sum().mul(w.l1));
      if (w.l2) loss = loss.add(w.tensor.square().sum().mul(w.l2));
    }
    return loss;
  }

  protected runOptions(fused: boolean): Record<string, unknown> {
    const c = this.compiled!;
    const penalties = this.regularizedWeights().map((w) => ({ weight: w.tensor._h, l1: w.l1, l2: w.l2 }));
    return { loss: nativeLossName(c.loss),
      fromLogits: c.fromLogits || fused, metrics: c.metricKinds, penalties, device: this.device };
  }


  protected get allNative(): boolean {
    const chain = this.nativeChain();
    return chain !== null && !this.customSteps && chain.every(isNativeLayer);
  }


  /** The compiled loss (weighted over outputs) for one batch of outputs and targets, and each output's loss. */
  protected lossJS(out: Tensor, y: Tensor, w: Tensor | null): { loss: Tensor; outs: Tensor[]; ys: Tensor[]; outputLosses: number[] } {
    const c = this.compiled!;
    if (!c.outputs) {
      const loss = wrap(native.model_loss(nativeLossName(c.loss), c.fromLogits, out._h, y._h, w ? w._h : null));
      return { loss, outs: [out], ys: [y], outputLosses: [] };
    }
    const outs = this.splitOutputs(out, false);
    const ys = this.splitOutputs(y, true);
    return { ...this.lossOfOutputs(outs, ys, w), outs, ys };
  }

  private lossOfOutputs(outs: Tensor[], ys: Tensor[], w: Tensor | null): { loss: Tensor; outputLosses: number[] } {
    const c = this.compiled!;
    const outputs = c.outputs!;
    let total: Tensor | null = null;
    const outputLosses: number[] = [];
    outputs.forEach((o, i) => {
      const name = nativeLossName(o.loss);
      const l = wrap(native.model_loss(name, o.fromLogits, outs[i]._h, ys[i]._h, w ? w._h : null));
      outputLosses.push(l.item() as number);
      const part = l.mul(o.weight);
      total = total ? total.add(part) : part;
    });
    return { loss: total!, outputLosses };
  }

  /** Keras' compute_loss: the compiled loss of predictions against targets (a Tensor, or one per output). */
  computeLoss(x: unknown, y: Tensor | Tensor[], yPred: Tensor | Tensor[], sampleWeight?: Tensor): Tensor {
    void x;
    const c = this.compiled;
    if (!c) throw new Error(`${this.name}: call compile() before computeLoss()`);
    const preds = Array.isArray(yPred) ? yPred : [yPred];
    const ys = Array.isArray(y) ? y : [y];
    if (!c.outputs) {
      if (preds.length !== 1 || ys.length !== 1) throw new RangeError(`${this.name}.computeLoss: the model has one output but received ${preds.length} predictions and ${ys.length} targets`);
      return wrap(native.model_loss(nativeLossName(c.loss), c.fromLogits, preds[0]._h, this.onDevice(ys[0])._h, sampleWeight ? this.onDevice(sampleWeight)._h : null));
    }
    if (preds.length !== c.outputs.length || ys.length !== c.outputs.length) {
      throw new RangeError(`${this.name}.computeLoss: the model has ${c.outputs.length} outputs but received ${preds.length} predictions and ${ys.length} targets`);
    }
    return this.lossOfOutputs(preds, ys.map((t) => this.onDevice(t)), sampleWeight ? this.onDevice(sampleWeight) : null).loss;
  }

  /** One batch trained from JS with autograd: the same loss/metric maths as the native loop; returns the batch's loss. */
  protected trainBatchJS(xb: Tensor, yb: Tensor, wb: Tensor | undefined, opt: optim.Optimizer, metrics: EpochMetrics): number {
    if (this.customSteps) return this.customStep('trainStep', xb, yb, wb, metrics);
    return tidy(() => {
      opt.zeroGrad();
      const activity: Tensor[] = [];
      const out = this.forwardJS(xb, true, activity);
      const y = this.onDevice(yb);
      const r = this.lossJS(out, y, wb ? this.onDevice(wb) : null);
      const loss = this.withPenalties(r.loss, activity);
      wrap(native.optim_scale_loss(opt._native, loss._h)).backward(); // loss scaling (mixed_float16)
      opt.step();
      const value = loss.item() as number;
      noGrad(() => metrics.update(r.outs, r.ys, r.outputLosses, value));
      return value;
    });
  }

  /** One batch evaluated from JS; returns the batch's loss. */
  protected testBatchJS(xb: Tensor, yb: Tensor, metrics: EpochMetrics): number {
    if (this.customSteps) return this.customStep('testStep', xb, yb, undefined, metrics);
    return tidy(() => noGrad(() => {
      const activity: Tensor[] = [];
      const out = this.forwardJS(xb, false, activity);
      const r = this.lossJS(out, this.onDevice(yb), null);
      // Keras' evaluate reports the regularization losses too, as the native loop does
      const value = this.withPenalties(r.loss, activity).item() as number;
      metrics.update(r.outs, r.ys, r.outputLosses, value);
      return value;
    }));
  }

  /** A batch through an overridden trainStep/testStep: its logs are averaged over the epoch by samples. */
  private customStep(which: 'trainStep' | 'testStep', xb: Tensor, yb: Tensor, wb: Tensor | undefined, metrics: EpochMetrics): number {
    const c = this.compiled!;
    const data: unknown[] = [this.userInputs(this.onDevice(xb)), this.userTargets(this.onDevice(yb)), ...(wb ? [this.onDevice(wb)] : [])];
    const logs = tidy(() => (which === 'trainStep' ? this.trainStep(data) : noGrad(() => this.testStep(data))));
    if (!isPlainObject(logs) || typeof logs.loss !== 'number') {
      throw new TypeError(`${this.name}.${which}: expected it to return logs like { loss: number, ... } but it returned ${typeOfValue(logs)}`);
    }
    metrics.addLogs(logs.loss, c.metricNames.map((nm) => Number(logs[nm] ?? NaN)), xb.shape[0]);
    return logs.loss;
  }

  /** The metrics of one epoch (or evaluation) run batch by batch from JS. */
  private epochMetrics(): EpochMetrics {
    return new EpochMetrics(this.compiled!, () => this.metricState(), this.customSteps);
  }

  private userTargets(y: Tensor): Tensor | Tensor[] {
    const c = this.compiled!;
    return c.outputs ? this.splitOutputs(y, true) : y;
  }

  /**
   * Keras' train_step(data): data is [x, y] or [x, y, sampleWeight] as the model takes them; returns
   * the batch's logs. Override it for a custom step (use this.computeLoss and this.optimizer.apply).
   */
  trainStep(data: unknown[]): Logs {
    const [x, y, w] = data as [Tensor | Tensor[], Tensor | Tensor[], Tensor | undefined];
    const opt = this.nativeOptimizer();
    opt.zeroGrad();
    for (const l of this.layers) for (const m of l.modules()) m.train(true);
    const yPred = (this as unknown as (a: unknown, o: unknown) => Tensor | Tensor[])(x, { training: true });
    const loss = this.computeLoss(x, y, yPred, w);
    wrap(native.optim_scale_loss(opt._native, loss._h)).backward(); // loss scaling (mixed_float16)
    opt.step();
    return { loss: loss.item() as number, ...this.batchMetrics(y, yPred) };
  }

  /** Keras' test_step(data): the batch's logs without training. */
  testStep(data: unknown[]): Logs {
    const [x, y, w] = data as [Tensor | Tensor[], Tensor | Tensor[], Tensor | undefined];
    for (const l of this.layers) for (const m of l.modules()) m.train(false);
    const yPred = (this as unknown as (a: unknown, o: unknown) => Tensor | Tensor[])(x, { training: false });
    return { loss: this.computeLoss(x, y, yPred, w).item() as number, ...this.batchMetrics(y, yPred) };
  }

  /** The compiled metrics over one batch (Keras' compute_metrics), named as in the logs. */
  private batchMetrics(y: Tensor | Tensor[], yPred: Tensor | Tensor[]): Logs {
    const c = this.compiled!;
    const preds = Array.isArray(yPred) ? yPred : [yPred];
    const ys = (Array.isArray(y) ? y : [y]).map((t) => this.onDevice(t));
    const outs = c.outputs ?? [{ name: '', loss: c.loss, fromLogits: c.fromLogits, weight: 1, metricKinds: c.metricKinds, metrics: c.metricNames }];
    const kinds = outs.flatMap((o, i) => o.metricKinds.map((k) => ({ k, i, o })));
    const names = c.metricNames.slice(c.outputs ? c.outputs.length : 0);
    const logs: Logs = {};
    if (c.outputs) c.outputs.forEach((o, i) => { logs[`${o.name}_loss`] = wrap(native.model_loss(nativeLossName(o.loss), o.fromLogits, preds[i]._h, ys[i]._h, null)).item() as number; });
    kinds.forEach(({ k, i, o }, j) => {
      // one batch through a native metric state of its own: Keras' compute_metrics on fresh trackers
      const st = native.model_metrics_create([k]);
      native.model_metrics_update(st, nativeLossName(o.loss), o.fromLogits, preds[i]._h, ys[i]._h, 0);
      logs[names[j]] = native.model_metrics_result(st).metrics[0];
    });
    return logs;
  }

  /** Keras' fit over tensors or a dataset of batches (engine/model.ts adapts several inputs/targets first). */
  async fit(xIn: Data | AsyncIterable<unknown>, yIn?: Data | FitOptions, opts: FitOptions = {}): Promise<History> {
    const fromDataset = isBatchSource(xIn);
    if (fromDataset && yIn !== undefined && !(yIn instanceof Tensor) && !Array.isArray(yIn) && typeof yIn === 'object' &&
        !('data' in (yIn as object))) {
      opts = yIn as FitOptions;
    }
    const o = checkOpts('fit', opts, ['epochs', 'batchSize', 'verbose', 'callbacks', 'validationSplit', 'validationData',
      'shuffle', 'classWeight', 'sampleWeight', 'initialEpoch', 'stepsPerEpoch', 'validationSteps', 'distributed']);
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
    let valSteps: number | undefined;
    if (o.validationData !== undefined) {
      const vd = o.validationData as unknown;
      if (isBatchSource(vd)) {
        val = vd; // wrapped in a StepCursor below, once a distributed fit has taken this rank's share
        if (o.validationSteps !== undefined) valSteps = posInt('fit', 'validationSteps', o.validationSteps, 1);
      } else if (Array.isArray(vd) && vd.length >= 2) val = [toTensor(vd[0], 'fit: validationData x'), toTensor(vd[1], 'fit: validationData y')];
      else throw new TypeError('fit: expected validationData as [x, y] or a dataset of [x, y] batches');
    }

    // -- distributed fit (lib/keras/distribution.ts): this rank's shares; callbacks on rank 0 only --
    const declared = this.layers[0]?.inputShape;
    if (fromDataset && !this.built && declared && (o.distributed ?? distribution() !== null)) {
      // built from the first layer's inputShape now (as Keras at construction), not at the first batch: a
      // distributed fit broadcasts and averages the weights before any batch
      this.ensureBuilt(declared);
    }
    const sync = await FitSync.start(this, o.distributed, this.trainableWeights);
    if (sync && x) {
      const all = Math.ceil(sync.shardSize(x.shape[0]) / batchSize);
      steps = o.stepsPerEpoch === undefined ? all : Math.min(all, o.stepsPerEpoch as number);
    }
    if (sync && x && y && this.allNative) {
      // every rank holds all of x: each checks it here rather than only its shard on the runner thread,
      // so bad data fails every rank at once instead of leaving the others waiting in an allreduce
      this.checkFinite('fit', x, y);
      if (Array.isArray(val)) this.checkFinite('fit: validationData', val[0], val[1]);
    }
    if (sync && Array.isArray(val)) val = sync.valShard(val[0], val[1]);
    this.dist = sync;
    try {
      if (sync && fromDataset) {
        // this rank's share of a dataset source (auto-sharded unless the user sharded it), the same step count on every rank
        const share = await sync.trainSource(xIn as AsyncIterable<unknown>, o.stepsPerEpoch === undefined ? undefined : steps);
        xIn = share.source;
        steps = share.steps;
      }
      if (sync && val && !Array.isArray(val)) val = sync.valSource(val);
      if (valSteps !== undefined && val && !Array.isArray(val)) val = new StepCursor(val, valSteps);
      return await this.fitLoop(o, x, y, xIn, val, sampleWeight, steps, epochs, batchSize, verbose, initialEpoch, shuffle, fromDataset, sync);
    } finally {
      this.dist = null;
      sync?.end();
    }
  }

  private async fitLoop(o: Record<string, unknown>, x: Tensor | null, y: Tensor | null, xIn: unknown, val: [Tensor, Tensor] | AsyncIterable<unknown> | null,
    sampleWeight: Tensor | undefined, steps: number, epochs: number, batchSize: number, verbose: number, initialEpoch: number,
    shuffle: boolean, fromDataset: boolean, sync: FitSync | null): Promise<History> {
    if (!this.compiled) throw new Error(`${this.name}: call compile() before fit()`);
    const history = new History();
    const chief = !sync || sync.chief;
    const progbar = verbose > 0 && chief ? [new ProgbarLogger()] : [];
    // as Keras: the user's callbacks first, so what they add to an epoch's logs (learning_rate) reaches History
    const user = chief ? ((o.callbacks as CallbackLike[] | undefined) ?? []).map((cb) => normalizeCallback(cb)) : [];
    const cbs: CallbackLike[] = [...user, history, ...progbar];
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
    let opt: optim.Optimizer | null = x ? this.nativeOptimizer() : null;
    const trainCursor = fromDataset && o.stepsPerEpoch !== undefined ? new StepCursor(xIn as AsyncIterable<unknown>, steps) : null;
    const planned = Number.isFinite(steps) ? steps * (epochs - initialEpoch) : 0;
    const startLr = this.getLearningRate();
    let lrChanged = false;
    await call(cbs, 'onTrainBegin', {});
    if (sync) {
      // rank 0's start (a restored backup's epoch and weights) on every rank
      const [ie, it, lr] = await sync.broadcastNumbers([params.initialEpoch ?? initialEpoch, this.compiled.optimizer.iterations, this.getLearningRate()]);
      params.initialEpoch = ie;
      this.compiled.optimizer.iterations = it;
      this.followRate(lr);
      sync.broadcastWeights(this.syncedWeights());
    }
    for (let epoch = params.initialEpoch ?? initialEpoch; epoch < epochs && !this.stopTraining; epoch++) {
      await call(cbs, 'onEpochBegin', epoch, {});
      if (sync) this.followRate((await sync.broadcastNumbers([this.getLearningRate()]))[0]);
      let res: { loss: number; metrics: number[]; nonFinite: boolean };
      const [xe, ye, we] = sync && x && y ? sync.trainShard(x, y, sampleWeight, epoch, shuffle) : [x, y, sampleWeight];
      const shuffleHere = shuffle && !sync;
      if (xe && ye && this.allNative) {
        res = await this.epochNative(xe, ye, we, cbs, batchHooks, params.steps, batchSize, shuffleHere, token,
          epoch === (params.initialEpoch ?? initialEpoch), planned);
      } else {
        const source = xe && ye ? tensorBatches(xe, ye, we, batchSize, shuffleHere) : (trainCursor ?? (xIn as AsyncIterable<unknown>));
        res = await this.epochBatches(source, cbs, params.steps, planned, () => (opt ??= this.nativeOptimizer()));
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
      if (sync) {
        // rank 0's callbacks decide for every rank: EarlyStopping's stop, a new learning rate
        const [stop, lr] = await sync.broadcastNumbers([this.stopTraining ? 1 : 0, this.getLearningRate()]);
        this.stopTraining = stop > 0;
        this.followRate(lr);
      }
      if (res.nonFinite && chief) console.log(`Epoch ${epoch + 1}: Invalid loss (NaN or infinite), terminating training`);
    }
    await trainCursor?.close();
    if (val instanceof StepCursor) await val.close();
    this.compiled.optimizer.finalizeVariableValues(); // Keras: EMA weights (useEma) replace the weights
    await call(cbs, 'onTrainEnd', {});
    sync?.broadcastWeights(this.syncedWeights()); // EarlyStopping's restored best weights
    return history;
  }

  /** Every weight once (trainable or not): what a distributed fit keeps equal on every rank. */
  private syncedWeights(): Tensor[] {
    return [...new Set(this.layers.flatMap((l) => l.weightsInternal().map((w) => w.tensor)))];
  }

  /** Takes rank 0's learning rate (set by a callback there) unless a schedule drives it. */
  private followRate(lr: number): void {
    const o = this.compiled!.optimizer;
    if (!o.schedule && Number.isFinite(lr) && lr !== this.getLearningRate()) this.setLearningRate(lr);
  }


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
          if (this.stopTraining && !this.dist) native.model_token_stop(token); // distributed: stops at the epoch's end, on every rank
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
      ...this.runOptions(!!trainSteps.fused), optimizer: this.nativeOptimizer()._native, batchSize, shuffle, token, checkFinite: checkFinite && !this.dist,
      waitEachBatch: batchHooks, maxBatches: steps, progressEveryMs: batchHooks ? 0 : 50, ...(sampleWeight ? { sampleWeight: sampleWeight._h } : {}),
      ...(this.dist ? { endOnNonFinite: false } : {}), // distributed: every rank runs every batch; all stop after the epoch
      plannedBatches: planned, metricState: state, ...(rates ? { learningRates: rates } : {}),
    }, onProgress);
    this.compiled!.optimizer.iterations += res.batches;
    await pending;
    if (failure) throw failure;
    if (this.dist) {
      const [nonFinite] = await this.dist.reduceStates([state], [res.nonFinite ? 1 : 0]);
      const r = native.model_metrics_result(state);
      return { loss: r.loss, metrics: r.metrics, nonFinite: nonFinite > 0 };
    }
    return res;
  }


  /** Batch by batch from JS: datasets, and models with custom layers (one-batch native runs for built-in chains). */
  private async epochBatches(source: AsyncIterable<unknown> | Iterable<unknown>, cbs: CallbackLike[], steps: number,
    planned: number, getOpt: () => optim.Optimizer): Promise<{ loss: number; metrics: number[]; nonFinite: boolean }> {
    const c = this.compiled!;
    const metrics = this.epochMetrics();
    const token = (this.token ??= native.model_token_create());
    native.model_token_reset(token);
    let nonFinite = false;
    let b = 0;
    for await (const el of source as AsyncIterable<unknown>) {
      if ((this.stopTraining && !this.dist) || b >= steps) {
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
            metricState: this.metricState(), plannedBatches: planned, ...(rates ? { learningRates: rates } : {}),
            ...(wb ? { sampleWeight: wb._h } : {}),
          });
          nonFinite ||= r.nonFinite;
        } else {
          if (rates) for (const g of opt.paramGroups) g.lr = rates[0];
          const loss = this.trainBatchJS(xb, yb, wb, opt, metrics); // runs even after a non-finite batch (distributed: every rank steps)
          nonFinite ||= !Number.isFinite(loss);
        }
        c.optimizer.iterations++;
      } finally {
        disposeBatch(el);
      }
      const r = metrics.result();
      const logs: Logs = { loss: r.loss };
      c.metricNames.forEach((nm, i) => { logs[nm] = r.metrics[i]; });
      for (const cb of cbs) await cb.onBatchEnd?.(b, logs);
      b++;
      if (nonFinite && !this.dist) break; // distributed: every rank runs every batch; all stop after the epoch
    }
    if (this.dist) nonFinite = (await metrics.allReduce(this.dist, [nonFinite ? 1 : 0]))[0] > 0;
    const { loss, metrics: values, samples } = metrics.result();
    if (samples === 0) throw new Error('fit: the dataset yielded no batches');
    return { loss, metrics: values, nonFinite };
  }


  protected checkData(where: string, x: Tensor, y: Tensor): void {
    const c = this.compiled!;
    const out = this.builtShape ? this.outputShape() : null;
    const classes = out ? out[out.length - 1] : 0;
    if (c.loss === 'categorical_crossentropy' && classes > 1 && (!y.dtype.startsWith('float') || y.ndim === 1 ||
        (y.ndim === 2 && y.shape[1] === 1))) {
      throw new TypeError(`${where}: categorical_crossentropy expects one-hot targets of the output's shape [N, ${classes}] ` +
        `but y holds class labels (shape [${y.shape.join(', ')}], ${y.dtype}); compile with loss ` +
        "'sparse_categorical_crossentropy' for integer labels, or one-hot encode y");
    }
    if (x.shape[0] === 0) throw new RangeError(`${where}: x has no samples (shape [${x.shape.join(', ')}]); pass at least one`);
    if (c.loss === 'sparse_categorical_crossentropy') {
      if (y.dtype.startsWith('float') && y.ndim > 1 && y.shape[y.ndim - 1] > 1) {
        throw new TypeError(`${where}: sparse_categorical_crossentropy expects integer class labels, but y looks one-hot ` +
          `(shape [${y.shape.join(', ')}]); use categorical_crossentropy or pass labels`);
      }
      const notInt = y.dtype.startsWith('float') ? tidy(() => {
        const f = y.flatten();
        const bad = f.ne(f.round());
        return Number(bad.any().item()) ? Number(bad.to('int64').argmax().item()) : -1;
      }) : -1;
      if (notInt >= 0) {
        throw new TypeError(`${where}: sparse_categorical_crossentropy expects integer class labels, but label ${notInt} is ` +
          `${tidy(() => Number(y.flatten().index(notInt).item()))}`);
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
    this.checkFinite(where, x, y);
  }

  /** NaN or infinity in x or a float y is an Error naming the first sample that has one. */
  protected checkFinite(where: string, x: Tensor, y: Tensor): void {
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

  protected async evaluateAny(data: [Tensor, Tensor] | AsyncIterable<unknown>, batchSize: number): Promise<{ loss: number; metrics: number[] }> {
    if (Array.isArray(data) && this.allNative) {
      const steps = this.steps(true) as NativeStep[] & { fused?: boolean };
      // a distributed fit's validation: this rank's share into a state all ranks sum
      const st = this.dist ? native.model_metrics_create(this.compiled!.metricKinds) : null;
      const r = await native.model_run('evaluate', steps, data[0]._h, data[1]._h, {
        ...this.runOptions(!!steps.fused), batchSize, checkFinite: !st, ...(st ? { metricState: st } : {}),
      });
      if (!st || !this.dist) return { loss: r.loss, metrics: r.metrics };
      await this.dist.reduceStates([st]);
      const all = native.model_metrics_result(st);
      return { loss: all.loss, metrics: all.metrics };
    }
    const source = Array.isArray(data) ? tensorBatches(data[0], data[1], undefined, batchSize, false) : data;
    const metrics = this.epochMetrics();
    for await (const el of source as AsyncIterable<unknown>) {
      const [xb, yb] = asBatch(el, 'evaluate');
      try {
        if (!this.built) this.ensureBuilt(xb.shape.slice(1));
        this.testBatchJS(xb, yb, metrics);
      } finally {
        disposeBatch(el);
      }
    }
    if (this.dist) await metrics.allReduce(this.dist, []);
    const r = metrics.result();
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


  /** The model's outputs for x, batched, computed off the main thread (built-in layers); packed when there are several. */
  protected async predictTensors(xIn: Data | AsyncIterable<unknown>, opts: { batchSize?: number; verbose?: number } = {}): Promise<Tensor> {
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

}

async function call(cbs: CallbackLike[], hook: 'onTrainBegin' | 'onTrainEnd', logs: Logs): Promise<void>;
async function call(cbs: CallbackLike[], hook: 'onEpochBegin' | 'onEpochEnd', epoch: number, logs: Logs): Promise<void>;
async function call(cbs: CallbackLike[], hook: string, a: unknown, b?: unknown): Promise<void> {
  for (const cb of cbs) {
    const f = (cb as Record<string, unknown>)[hook];
    if (typeof f === 'function') await (f as (...x: unknown[]) => unknown).call(cb, a, b);
  }
}
