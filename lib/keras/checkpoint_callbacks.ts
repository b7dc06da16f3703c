// ModelCheckpoint and BackupAndRestore: callbacks that write models or weights during fit(), through
// lib/keras/saving.ts, every file atomically so a crash never leaves a torn checkpoint behind.
import * as fs from 'fs';
import * as path from 'path';
import { typeOfValue } from '../tensor';
import * as check from '../util/check';
import { Callback, Logs, TrainParams } from './callbacks';
import { Model } from './engine/model';
import { loadWeightsFile, saveModel, saveWeightsFile } from './saving';
import { readSafetensors } from '../io/safetensors';

/** Keras' positional order after the path, then options (snake_case or camelCase). */
const checkArgs = (where: string, args: readonly unknown[], positional: string[]): Record<string, unknown> =>
  check.args(where, args, positional);

function sequential(where: string, m: unknown): Model {
  if (!(m instanceof Model)) throw new TypeError(`${where}: works with Keras models (Sequential, Functional, subclassed), but the model is ${typeOfValue(m)}`);
  return m;
}

/** One Python format spec ('02d', '.2f', '>8.3e', ...) applied to a value. */
function formatValue(v: unknown, spec: string, key: string, template: string): string {
  const m = /^(?:(.)?([<>=^]))?([+\- ])?(0)?(\d+)?(?:\.(\d+))?([dfFeEgGs%])?$/.exec(spec);
  if (!m) throw new Error(`ModelCheckpoint: unsupported format spec '{${key}:${spec}}' in '${template}'`);
  const [, fill0, align0, sign, zero, width0, prec0, type] = m;
  const prec = prec0 === undefined ? undefined : Number(prec0);
  let s: string;
  if (typeof v !== 'number') {
    s = String(v);
  } else {
    const neg = v < 0 || Object.is(v, -0);
    const a = Math.abs(v);
    switch (type) {
      case 'd': s = Number.isInteger(a) ? a.toFixed(0) : String(a); break;
      case 'f': case 'F': s = a.toFixed(prec ?? 6); break;
      case 'e': case 'E': s = a.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2'); break;
      case 'g': case 'G': s = String(Number(a.toPrecision(prec ?? 6))); break;
      case '%': s = `${(a * 100).toFixed(prec ?? 6)}%`; break;
      default: s = prec === undefined ? String(a) : String(Number(a.toPrecision(prec)));
    }
    if (type === 'E' || type === 'G' || type === 'F') s = s.toUpperCase();
    s = (neg && a !== 0 ? '-' : sign === '+' ? '+' : sign === ' ' ? ' ' : '') + s;
  }
  const width = width0 === undefined ? 0 : Number(width0);
  if (s.length >= width) return s;
  if (zero && !align0 && typeof v === 'number') {
    const signed = /^[+\- ]/.test(s) ? 1 : 0;
    return s.slice(0, signed) + '0'.repeat(width - s.length) + s.slice(signed);
  }
  const fill = fill0 ?? ' ';
  const align = align0 ?? (typeof v === 'number' ? '>' : '<');
  const pad = width - s.length;
  if (align === '<') return s + fill.repeat(pad);
  if (align === '^') return fill.repeat(Math.floor(pad / 2)) + s + fill.repeat(Math.ceil(pad / 2));
  return fill.repeat(pad) + s;
}

/** Keras' filepath templates: '{epoch:02d}-{val_loss:.2f}' over the epoch (1-based), batch and logs. */
export function formatFilepath(template: string, values: Record<string, unknown>): string {
  return template.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}/g, (whole, key: string | undefined, spec: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    const k = key as string;
    if (!(k in values)) {
      throw new Error(`ModelCheckpoint: the filepath '${template}' uses '{${k}}', which is not available; available: ${Object.keys(values).join(', ')}`);
    }
    return formatValue(values[k], spec ?? '', k, template);
  });
}

type Mode = 'min' | 'max' | 'auto';
function resolveMode(where: string, mode: unknown, monitor: string): 'min' | 'max' {
  if (mode === undefined || mode === 'auto') return /acc|auc|precision|recall|fmeasure/.test(monitor) && !/loss/.test(monitor) ? 'max' : 'min';
  if (mode === 'min' || mode === 'max') return mode;
  throw new TypeError(`${where}: expected mode 'min', 'max' or 'auto' but received ${typeOfValue(mode)}`);
}

function fmt5(v: number): string {
  return Number.isFinite(v) ? v.toFixed(5) : String(v);
}

/** ModelCheckpoint's options (Keras' names, camelCased). */
export interface ModelCheckpointOptions {
  monitor?: string;
  verbose?: number;
  saveBestOnly?: boolean;
  saveWeightsOnly?: boolean;
  mode?: Mode;
  /** 'epoch' (default) or a number of batches */
  saveFreq?: 'epoch' | number;
  initialValueThreshold?: number;
}

/**
 * Saves the model (a model.save directory) or its weights (one safetensors file, saveWeightsOnly)
 * at the end of every epoch or every saveFreq batches, optionally only when `monitor` improves.
 */
export class ModelCheckpoint extends Callback {
  readonly filepath: string;
  readonly monitor: string;
  readonly verbose: number;
  readonly saveBestOnly: boolean;
  readonly saveWeightsOnly: boolean;
  readonly mode: 'min' | 'max';
  readonly saveFreq: 'epoch' | number;
  best: number;
  private currentEpoch = 0;
  private batchesSinceSave = 0;
  /** Defined only for a batch saveFreq, so epoch checkpoints keep fit on its fast path (no per-batch hooks). */
  onBatchEnd?: (batch: number, logs?: Logs) => void;

  /** ModelCheckpoint(filepath, monitor?, verbose?, saveBestOnly?, ...) in Keras' positional order, or filepath and options. */
  constructor(filepath: string, ...args: [options?: ModelCheckpointOptions] | (string | number | boolean | ModelCheckpointOptions | undefined)[]) {
    const o = checkArgs('ModelCheckpoint', args, ['monitor', 'verbose', 'saveBestOnly', 'saveWeightsOnly', 'mode', 'saveFreq',
      'initialValueThreshold']);
    super();
    if (typeof filepath !== 'string' || !filepath) throw new TypeError(`ModelCheckpoint: expected a filepath but received ${typeOfValue(filepath)}`);
    this.filepath = filepath;
    this.monitor = (o.monitor as string | undefined) ?? 'val_loss';
    this.verbose = (o.verbose as number | undefined) ?? 0;
    this.saveBestOnly = !!o.saveBestOnly;
    this.saveWeightsOnly = !!o.saveWeightsOnly;
    this.mode = resolveMode('ModelCheckpoint', o.mode, this.monitor);
    const freq = o.saveFreq ?? 'epoch';
    if (freq !== 'epoch' && !(typeof freq === 'number' && Number.isSafeInteger(freq) && freq > 0)) {
      throw new TypeError(`ModelCheckpoint: expected saveFreq 'epoch' or a positive integer number of batches but received ${typeOfValue(freq)}`);
    }
    this.saveFreq = freq as 'epoch' | number;
    const init = o.initialValueThreshold as number | undefined;
    this.best = init ?? (this.mode === 'min' ? Infinity : -Infinity);
    if (typeof this.saveFreq === 'number') {
      const every = this.saveFreq;
      this.onBatchEnd = (batch: number, logs: Logs = {}) => {
        if (++this.batchesSinceSave < every) return;
        this.batchesSinceSave = 0;
        this.save(this.currentEpoch, batch, logs);
      };
    }
  }

  /** Called at the start of each epoch. */
  onEpochBegin(epoch: number): void {
    this.currentEpoch = epoch;
  }

  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    if (this.saveFreq === 'epoch') this.save(epoch, undefined, logs);
  }

  private save(epoch: number, batch: number | undefined, logs: Logs): void {
    const file = formatFilepath(this.filepath, { epoch: epoch + 1, ...(batch === undefined ? {} : { batch: batch + 1 }), ...logs });
    const at = `Epoch ${epoch + 1}${batch === undefined ? '' : `, batch ${batch + 1}`}`;
    if (this.saveBestOnly) {
      const v = logs[this.monitor];
      if (v === undefined || !Number.isFinite(v)) {
        process.emitWarning(`ModelCheckpoint: can save the best model only with ${this.monitor} available in the logs ` +
          `(available: ${Object.keys(logs).join(', ') || 'none'}); skipping`);
        return;
      }
      const better = this.mode === 'min' ? v < this.best : v > this.best;
      if (!better) {
        if (this.verbose > 0) console.log(`\n${at}: ${this.monitor} did not improve from ${fmt5(this.best)}`);
        return;
      }
      if (this.verbose > 0) console.log(`\n${at}: ${this.monitor} improved from ${fmt5(this.best)} to ${fmt5(v)}, saving model to ${file}`);
      this.best = v;
    } else if (this.verbose > 0) {
      console.log(`\n${at}: saving model to ${file}`);
    }
    const model = sequential('ModelCheckpoint', this.model);
    if (this.saveWeightsOnly) saveWeightsFile(model, file);
    else saveModel(model, file);
  }
}

export const BACKUP_FILE = 'backup.safetensors';

/** BackupAndRestore's options (Keras' names, camelCased). */
export interface BackupAndRestoreOptions {
  /** remove the backup when fit() finishes normally (default true) */
  deleteCheckpoint?: boolean;
  /** only 'epoch': fit() resumes at epoch boundaries */
  saveFreq?: 'epoch';
}

/**
 * Keras' BackupAndRestore: at every epoch end, writes the weights and the number of finished epochs
 * to one safetensors file (atomically, so both change together). When fit() starts and a backup
 * exists, restores the weights and training continues at the next epoch. The optimizer's state is
 * not kept: optimizers with state (momentum, Adam) restart it on resume.
 *
 * fit() skips the finished epochs when it reads params.initialEpoch after onTrainBegin; otherwise pass
 * `initialEpoch: backup.resumeEpoch()` to fit() yourself.
 */
export class BackupAndRestore extends Callback {
  readonly backupDir: string;
  readonly deleteCheckpoint: boolean;
  /** epochs finished according to the backup restored by the last onTrainBegin (0: none) */
  restoredEpoch = 0;
  private firstEpochSeen = false;

  /** BackupAndRestore(backupDir, saveFreq?, deleteCheckpoint?) as in Keras, or backupDir and options. */
  constructor(backupDir: string, ...args: [options?: BackupAndRestoreOptions] | [saveFreq?: 'epoch', deleteCheckpoint?: boolean]) {
    const o = checkArgs('BackupAndRestore', args, ['saveFreq', 'deleteCheckpoint']);
    super();
    if (typeof backupDir !== 'string' || !backupDir) throw new TypeError(`BackupAndRestore: expected a backup directory but received ${typeOfValue(backupDir)}`);
    if (o.saveFreq !== undefined && o.saveFreq !== 'epoch') {
      throw new TypeError(`BackupAndRestore: only saveFreq 'epoch' is supported (fit resumes at epoch boundaries) but received ${typeOfValue(o.saveFreq)}`);
    }
    this.backupDir = backupDir;
    this.deleteCheckpoint = (o.deleteCheckpoint as boolean | undefined) ?? true;
  }

  get backupFile(): string {
    return path.join(this.backupDir, BACKUP_FILE);
  }

  private static epochOf(file: string, metadata: Record<string, string>): number {
    const n = Number(metadata.epoch);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`BackupAndRestore: ${file} has no valid 'epoch' in its metadata (found ${JSON.stringify(metadata.epoch)})`);
    return n;
  }

  /** The epoch fit() should start at: the number of epochs the backup has finished, 0 without a backup. */
  resumeEpoch(): number {
    if (!fs.existsSync(this.backupFile)) return 0;
    const { tensors, metadata } = readSafetensors(this.backupFile);
    for (const t of Object.values(tensors)) t.dispose();
    return BackupAndRestore.epochOf(this.backupFile, metadata);
  }

  /** Called once before the first epoch. */
  onTrainBegin(): void {
    this.restoredEpoch = 0;
    this.firstEpochSeen = false;
    if (!fs.existsSync(this.backupFile)) return;
    const model = sequential('BackupAndRestore', this.model);
    const metadata = loadWeightsFile(model, this.backupFile);
    this.restoredEpoch = BackupAndRestore.epochOf(this.backupFile, metadata);
    const params = this.params as TrainParams & { initialEpoch?: number };
    if (params && 'initialEpoch' in params) params.initialEpoch = this.restoredEpoch;
  }

  /** Called at the start of each epoch. */
  onEpochBegin(epoch: number): void {
    if (this.firstEpochSeen) return;
    this.firstEpochSeen = true;
    if (epoch < this.restoredEpoch) {
      throw new Error(`BackupAndRestore: restored the weights after ${this.restoredEpoch} finished epochs from ${this.backupFile}, ` +
        `but fit() started at epoch ${epoch + 1}; pass { initialEpoch: backup.resumeEpoch() } to fit() so it skips them`);
    }
  }

  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number): void {
    saveWeightsFile(sequential('BackupAndRestore', this.model), this.backupFile, { epoch: String(epoch + 1) });
  }

  /** Called once after the last epoch. */
  onTrainEnd(): void {
    if (!this.deleteCheckpoint) return;
    fs.rmSync(this.backupFile, { force: true });
    try {
      fs.rmdirSync(this.backupDir);
    } catch {
      // not empty (the user keeps other files there) or already gone
    }
  }
}
