// Keras callbacks: the hooks fit() calls (camelCase Keras names), History, the progress bar and
// EarlyStopping / TerminateOnNaN / LearningRateScheduler / ReduceLROnPlateau / CSVLogger.
import * as fs from 'fs';
import * as path from 'path';
import { typeOfValue } from '../tensor';
import * as check from '../util/check';

/** The values fit reports to callbacks: loss, metrics and their val_ forms by name. */
export type Logs = Record<string, number>;

/** What a callback sees of the model (Sequential implements it). */
export interface CallbackModel {
  stopTraining: boolean;
  /** The optimizer's current learning rate. */
  getLearningRate(): number;
  /** Sets the optimizer's learning rate. */
  setLearningRate(lr: number): void;
  /** The model's weights, as Keras' get_weights. */
  getWeights(): unknown[];
  /** Replaces the model's weights, as Keras' set_weights. */
  setWeights(ws: never[]): void;
}

/** initialEpoch: where fit starts; a callback may move it in onTrainBegin (BackupAndRestore resuming). */
export interface TrainParams { epochs: number; steps: number; verbose: number; samples: number; initialEpoch?: number }

/** A callback may be a Callback subclass or a plain object with any of these methods. */
export interface CallbackLike {
  /** Called by fit with the model being trained. */
  setModel?(model: CallbackModel): void;
  /** Called by fit with its parameters (epochs, steps, verbose, samples). */
  setParams?(params: TrainParams): void;
  /** Called once before the first epoch. */
  onTrainBegin?(logs?: Logs): void | Promise<void>;
  /** Called once after the last epoch. */
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  /** Called at the start of each epoch. */
  onEpochBegin?(epoch: number, logs?: Logs): void | Promise<void>;
  /** Called at the end of each epoch with its logs (loss, metrics, val_ values). */
  onEpochEnd?(epoch: number, logs?: Logs): void | Promise<void>;
  /** Called before each training batch. */
  onBatchBegin?(batch: number, logs?: Logs): void | Promise<void>;
  /** Called after each training batch with its logs. */
  onBatchEnd?(batch: number, logs?: Logs): void | Promise<void>;
}

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'];
/** Keras' other names for the hooks nodetorch calls (on_train_batch_end is on_batch_end). */
const HOOK_ALIASES: Record<string, string> = { onTrainBatchBegin: 'onBatchBegin', onTrainBatchEnd: 'onBatchEnd' };

/**
 * A user callback as fit() calls it: Keras' snake_case hook names (on_epoch_end) and aliases
 * (on_train_batch_end) work like the camelCase ones; a hook name nodetorch never calls
 * (on_test_begin, on_predict_batch_end, or a misspelling) is an error rather than silently ignored.
 */
export function normalizeCallback(cb: unknown, where = 'fit'): CallbackLike {
  if (cb === null || typeof cb !== 'object') throw check.invalidParameterError('a callback', 'a Callback or an object with hooks', cb, where);
  if (cb instanceof Callback) return cb;
  const out: Record<string, unknown> = {};
  let renamed = false;
  for (const key of Object.keys(cb)) {
    const v = (cb as Record<string, unknown>)[key];
    if (typeof v !== 'function' || !/^on[_A-Z]/.test(key)) {
      out[key] = v;
      continue;
    }
    const camel = check.snakeToCamel(key);
    const hook = HOOK_ALIASES[camel] ?? camel;
    if (!HOOKS.includes(hook)) {
      throw new TypeError(`${where}: callback hook '${key}' is never called by nodetorch; the hooks are ` +
        `${HOOKS.join(', ')} (or their snake_case names: on_epoch_end, ...)`);
    }
    if (hook in out && out[hook] !== v) throw new TypeError(`${where}: callback hook '${hook}' is given twice (as '${key}' too)`);
    out[hook] = v;
    renamed ||= hook !== key;
  }
  if (!renamed) return cb as CallbackLike;
  // Methods keep `this` as the user's object, so state kept on it still works.
  const bound: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(out)) bound[k] = typeof v === 'function' && HOOKS.includes(k) ? (v as (...a: unknown[]) => unknown).bind(cb) : v;
  return new Proxy(cb as Record<string, unknown>, {
    get: (target, prop) => (typeof prop === 'string' && HOOKS.includes(prop) ? bound[prop] : Reflect.get(target, prop)),
  }) as CallbackLike;
}

export class Callback implements CallbackLike {
  model!: CallbackModel;
  params!: TrainParams;
  /** Called by fit with the model being trained. */
  setModel(model: CallbackModel): void {
    this.model = model;
  }
  /** Called by fit with its parameters (epochs, steps, verbose, samples). */
  setParams(params: TrainParams): void {
    this.params = params;
  }
}

/** Records every epoch's logs: history.history.loss, history.epoch. */
export class History extends Callback {
  epoch: number[] = [];
  history: Record<string, number[]> = {};
  /** Called once before the first epoch. */
  onTrainBegin(): void {
    this.epoch = [];
    this.history = {};
  }
  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(4);
}

function fmtLogs(logs: Logs): string {
  return Object.entries(logs).map(([k, v]) => ` - ${k}: ${fmtNum(v)}`).join('');
}

function fmtTime(sec: number): string {
  return sec >= 1 ? `${Math.round(sec)}s` : `${Math.round(sec * 1000)}ms`;
}

function perStep(sec: number, steps: number): string {
  const s = sec / Math.max(steps, 1);
  return s >= 1 ? `${s.toFixed(0)}s/step` : s >= 1e-3 ? `${Math.round(s * 1e3)}ms/step` : `${Math.round(s * 1e6)}us/step`;
}

/**
 * Keras' progress bar: `1875/1875 [==============================] - 3s 2ms/step - loss: 0.2 - accuracy: 0.94`,
 * redrawn in place on a TTY (verbose 1); one line per epoch otherwise (verbose 2, or stdout not a TTY).
 */
export class ProgbarLogger extends Callback {
  private start = 0;
  private lastDraw = 0;
  private seen = 0;
  private epochs = 0;
  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    super();
  }
  private get live(): boolean {
    return this.params.verbose === 1 && !!this.out.isTTY;
  }
  /** Called once before the first epoch. */
  onTrainBegin(): void {
    this.epochs = this.params.epochs;
  }
  /** Called at the start of each epoch. */
  onEpochBegin(epoch: number): void {
    this.start = performance.now();
    this.lastDraw = 0;
    this.seen = 0;
    if (this.params.verbose > 0) this.out.write(`Epoch ${epoch + 1}/${this.epochs}\n`);
  }
  /** Called after each training batch with its logs. */
  onBatchEnd(batch: number, logs: Logs = {}): void {
    this.seen = batch + 1;
    if (!this.live) return;
    const now = performance.now();
    if (now - this.lastDraw < 50 && batch + 1 < this.params.steps) return;
    this.lastDraw = now;
    const steps = this.params.steps;
    const done = batch + 1;
    if (!Number.isFinite(steps)) { // a generator of unknown length: Keras' "12/Unknown"
      const sec = (now - this.start) / 1000;
      this.out.write(`\r${done}/Unknown - ${fmtTime(sec)} ${perStep(sec, done)}${fmtLogs(logs)}\x1b[K`);
      return;
    }
    const width = 30;
    const filled = Math.min(width, Math.floor((width * done) / steps));
    const bar = filled >= width ? '='.repeat(width) : '='.repeat(Math.max(filled - 1, 0)) + '>' + '.'.repeat(width - filled - (filled > 0 ? 0 : 1));
    const elapsed = (now - this.start) / 1000;
    const eta = (elapsed / done) * (steps - done);
    const w = String(steps).length;
    this.out.write(`\r${String(done).padStart(w)}/${steps} [${bar}] - ETA: ${fmtTime(eta)}${fmtLogs(logs)}\x1b[K`);
  }
  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    if (this.params.verbose === 0) return;
    const sec = (performance.now() - this.start) / 1000;
    const steps = Number.isFinite(this.params.steps) ? this.params.steps : this.seen;
    const line = `${steps}/${steps} [${'='.repeat(30)}] - ${fmtTime(sec)} ${perStep(sec, steps)}${fmtLogs(logs)}`;
    this.out.write(this.live ? `\r${line}\x1b[K\n` : `${line}\n`);
  }
}

type Mode = 'min' | 'max' | 'auto';

function resolveMode(where: string, mode: unknown, monitor: string): 'min' | 'max' {
  if (mode === undefined || mode === 'auto') return /acc|auc|precision|recall/.test(monitor) && !/loss/.test(monitor) ? 'max' : 'min';
  if (mode === 'min' || mode === 'max') return mode;
  throw new TypeError(`${where}: expected mode 'min', 'max' or 'auto' but received ${typeOfValue(mode)}`);
}

const checkArgs = (where: string, args: readonly unknown[], positional: string[]): Record<string, unknown> =>
  check.args(where, args, positional);

function monitored(where: string, logs: Logs, monitor: string): number | undefined {
  const v = logs[monitor];
  if (v === undefined) {
    process.emitWarning(`${where}: metric '${monitor}' is not in the logs (available: ${Object.keys(logs).join(', ') || 'none'}); ` +
      'the callback does nothing this epoch');
  }
  return v;
}

/** EarlyStopping's options (Keras' names, camelCased). */
export interface EarlyStoppingOptions {
  monitor?: string; minDelta?: number; patience?: number; verbose?: number; mode?: Mode; baseline?: number;
  restoreBestWeights?: boolean; startFromEpoch?: number;
}

/** Stops training when the monitored value stops improving (Keras' EarlyStopping). */
export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly mode: 'min' | 'max';
  readonly baseline: number | undefined;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  readonly verbose: number;
  wait = 0;
  stoppedEpoch = 0;
  best = Infinity;
  bestEpoch = 0;
  private bestWeights: unknown[] | null = null;
  /** EarlyStopping(monitor?, minDelta?, patience?, ...) in Keras' positional order, or an options object. */
  constructor(...args: [options?: EarlyStoppingOptions] | [monitor: string, ...rest: (number | string | boolean | EarlyStoppingOptions | undefined)[]]) {
    const o = checkArgs('EarlyStopping', args, ['monitor', 'minDelta', 'patience', 'verbose', 'mode', 'baseline',
      'restoreBestWeights', 'startFromEpoch']);
    super();
    this.monitor = (o.monitor as string | undefined) ?? 'val_loss';
    this.minDelta = Math.abs((o.minDelta as number | undefined) ?? 0);
    this.patience = (o.patience as number | undefined) ?? 0;
    if (!Number.isSafeInteger(this.patience) || this.patience < 0) throw new TypeError(`EarlyStopping: expected patience to be a non-negative integer but received ${String(o.patience)}`);
    this.mode = resolveMode('EarlyStopping', o.mode, this.monitor);
    this.baseline = o.baseline as number | undefined;
    this.restoreBestWeights = !!o.restoreBestWeights;
    this.startFromEpoch = (o.startFromEpoch as number | undefined) ?? 0;
    this.verbose = (o.verbose as number | undefined) ?? 0;
  }
  private improved(v: number, ref: number): boolean {
    return this.mode === 'min' ? v < ref - this.minDelta : v > ref + this.minDelta;
  }
  /** Called once before the first epoch. */
  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.bestWeights = null;
    this.bestEpoch = 0;
  }
  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    const v = monitored('EarlyStopping', logs, this.monitor);
    if (v === undefined || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === null) this.bestWeights = this.model.getWeights();
    this.wait++;
    if (this.improved(v, this.best)) {
      this.best = v;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.model.getWeights();
      if (this.baseline === undefined || this.improved(v, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
      if (this.restoreBestWeights && this.bestWeights) {
        if (this.verbose > 0) console.log(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
        this.model.setWeights(this.bestWeights as never[]);
      }
    }
  }
  /** Called once after the last epoch. */
  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0) console.log(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
  }
}

/** Stops training when the loss becomes NaN or infinite. */
export class TerminateOnNaN extends Callback {
  /** Called after each training batch with its logs. */
  onBatchEnd(batch: number, logs: Logs = {}): void {
    const loss = logs.loss;
    if (loss !== undefined && !Number.isFinite(loss)) {
      console.log(`Batch ${batch}: Invalid loss, terminating training`);
      this.model.stopTraining = true;
    }
  }
}

/** Sets the learning rate at the start of each epoch from schedule(epoch, lr). */
export class LearningRateScheduler extends Callback {
  constructor(private readonly schedule: (epoch: number, lr: number) => number, private readonly verbose = 0) {
    super();
    if (typeof schedule !== 'function') throw new TypeError(`LearningRateScheduler: expected a schedule function but received ${typeOfValue(schedule)}`);
  }
  /** Called at the start of each epoch. */
  onEpochBegin(epoch: number): void {
    const lr = this.schedule(epoch, this.model.getLearningRate());
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new TypeError(`LearningRateScheduler: the schedule returned ${String(lr)} for epoch ${epoch}; expected a non-negative number`);
    }
    this.model.setLearningRate(lr);
    if (this.verbose > 0) console.log(`\nEpoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${lr}.`);
  }
  /** Called at the end of each epoch with its logs. */
  onEpochEnd(_epoch: number, logs: Logs = {}): void {
    logs.learning_rate = this.model.getLearningRate();
  }
}

/** ReduceLROnPlateau's options (Keras' names, camelCased). */
export interface ReduceLROnPlateauOptions {
  monitor?: string; factor?: number; patience?: number; verbose?: number; mode?: Mode; minDelta?: number; cooldown?: number; minLr?: number;
}

/** Multiplies the learning rate by factor when the monitored value stops improving. */
export class ReduceLROnPlateau extends Callback {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly verbose: number;
  private wait = 0;
  private cooldownCounter = 0;
  private best = Infinity;
  /** ReduceLROnPlateau(monitor?, factor?, patience?, ...) in Keras' positional order, or an options object. */
  constructor(...args: [options?: ReduceLROnPlateauOptions] | [monitor: string, ...rest: (number | string | ReduceLROnPlateauOptions | undefined)[]]) {
    const o = checkArgs('ReduceLROnPlateau', args, ['monitor', 'factor', 'patience', 'verbose', 'mode', 'minDelta', 'cooldown', 'minLr']);
    super();
    this.monitor = (o.monitor as string | undefined) ?? 'val_loss';
    this.factor = (o.factor as number | undefined) ?? 0.1;
    if (!(this.factor < 1 && this.factor >= 0)) throw new TypeError(`ReduceLROnPlateau: expected factor in [0, 1) but received ${String(o.factor)}`);
    this.patience = (o.patience as number | undefined) ?? 10;
    this.mode = resolveMode('ReduceLROnPlateau', o.mode, this.monitor);
    this.minDelta = (o.minDelta as number | undefined) ?? 1e-4;
    this.cooldown = (o.cooldown as number | undefined) ?? 0;
    this.minLr = (o.minLr as number | undefined) ?? 0;
    this.verbose = (o.verbose as number | undefined) ?? 0;
  }
  /** Called once before the first epoch. */
  onTrainBegin(): void {
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }
  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    logs.learning_rate = this.model.getLearningRate();
    const v = monitored('ReduceLROnPlateau', logs, this.monitor);
    if (v === undefined) return;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    const better = this.mode === 'min' ? v < this.best - this.minDelta : v > this.best + this.minDelta;
    if (better) {
      this.best = v;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = this.model.getLearningRate();
        if (old > this.minLr) {
          const lr = Math.max(old * this.factor, this.minLr);
          this.model.setLearningRate(lr);
          if (this.verbose > 0) console.log(`\nEpoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${lr}.`);
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}

/** Appends each epoch's logs to a CSV file (epoch first, then the logs' keys sorted, as Keras). */
export class CSVLogger extends Callback {
  private keys: string[] | null = null;
  private readonly opts: { separator?: string; append?: boolean };
  /** CSVLogger(filename, separator?, append?) as in Keras, or CSVLogger(filename, { separator, append }). */
  constructor(private readonly filename: string, ...args: [options?: { separator?: string; append?: boolean }] | [separator?: string, append?: boolean]) {
    super();
    this.opts = checkArgs('CSVLogger', args, ['separator', 'append']);
    if (typeof filename !== 'string' || !filename) throw new TypeError(`CSVLogger: expected a filename but received ${typeOfValue(filename)}`);
  }
  /** Called once before the first epoch. */
  onTrainBegin(): void {
    this.keys = null;
    fs.mkdirSync(path.dirname(path.resolve(this.filename)), { recursive: true });
    if (!this.opts.append) fs.writeFileSync(this.filename, '');
    else if (fs.existsSync(this.filename) && fs.statSync(this.filename).size > 0) {
      this.keys = fs.readFileSync(this.filename, 'utf8').split('\n')[0].split(this.opts.separator ?? ',').slice(1);
    }
  }
  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    const sep = this.opts.separator ?? ',';
    if (!this.keys) {
      this.keys = Object.keys(logs).sort();
      fs.appendFileSync(this.filename, ['epoch', ...this.keys].join(sep) + '\n');
    }
    fs.appendFileSync(this.filename, [epoch, ...this.keys.map((k) => (logs[k] === undefined ? 'NA' : String(logs[k])))].join(sep) + '\n');
  }
}
