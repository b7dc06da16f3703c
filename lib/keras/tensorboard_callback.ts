// Keras' TensorBoard callback: epoch (and batch) scalars under logDir/train and logDir/validation,
// the learning rate, weight histograms and the layer graph, written by lib/utils/tensorboard.ts.
import * as path from 'path';
import { Tensor, typeOfValue } from '../tensor';
import { Callback, Logs } from './callbacks';
import { SummaryWriter } from '../utils/tensorboard';

/** TensorBoard's options (Keras' names, camelCased). */
export interface TensorBoardOptions {
  /** default 'logs' */
  logDir?: string;
  /** weight histograms every this many epochs; 0 (default) writes none */
  histogramFreq?: number;
  /** the layer graph, once at the start (default true) */
  writeGraph?: boolean;
  /** 'epoch' (default), 'batch', or every N batches: batch_<metric> scalars at the global batch step */
  updateFreq?: 'epoch' | 'batch' | number;
}

interface WeightedLayer {
  name: string;
  getWeights?(): Tensor[];
  weightsInternal?(): { name: string }[];
}

function checkOpts(o: unknown): Record<string, unknown> {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError(`TensorBoard: expected an options object but received ${typeOfValue(o)}`);
  const known = ['logDir', 'histogramFreq', 'writeGraph', 'updateFreq'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new TypeError(`TensorBoard: unknown option '${k}'; known options: ${known.join(', ')}`);
  return o as Record<string, unknown>;
}

/** `new callbacks.TensorBoard({ logDir: 'logs/fit', histogramFreq: 1 })`; then `tensorboard --logdir logs/fit`. */
export class TensorBoard extends Callback {
  readonly logDir: string;
  readonly histogramFreq: number;
  readonly writeGraph: boolean;
  /** batches between batch-level writes; 0 for epoch only */
  readonly updateFreq: number;
  private train: SummaryWriter | null = null;
  private val: SummaryWriter | null = null;
  private globalBatch = 0;

  constructor(opts?: TensorBoardOptions) {
    const o = checkOpts(opts);
    super();
    const dir = o.logDir ?? 'logs';
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`TensorBoard: expected logDir to be a directory path but received ${typeOfValue(dir)}`);
    this.logDir = dir;
    const hf = o.histogramFreq ?? 0;
    if (typeof hf !== 'number' || !Number.isSafeInteger(hf) || hf < 0) {
      throw new TypeError(`TensorBoard: expected histogramFreq to be a non-negative integer but received ${typeOfValue(hf)}${typeof hf === 'number' ? ` ${hf}` : ''}`);
    }
    this.histogramFreq = hf;
    const wg = o.writeGraph ?? true;
    if (typeof wg !== 'boolean') throw new TypeError(`TensorBoard: expected writeGraph to be a boolean but received ${typeOfValue(wg)}`);
    this.writeGraph = wg;
    const uf = o.updateFreq ?? 'epoch';
    if (uf === 'epoch') this.updateFreq = 0;
    else if (uf === 'batch') this.updateFreq = 1;
    else if (typeof uf === 'number' && Number.isSafeInteger(uf) && uf > 0) this.updateFreq = uf;
    else throw new TypeError(`TensorBoard: expected updateFreq 'epoch', 'batch' or a positive integer but received ${typeOfValue(uf)}${typeof uf === 'number' ? ` ${uf}` : ''}`);
    if (this.updateFreq > 0) this.onBatchEnd = (_batch, logs) => this.batchEnd(logs);
  }

  /** The run directories, as Keras names them. */
  get trainDir(): string {
    return path.join(this.logDir, 'train');
  }
  get validationDir(): string {
    return path.join(this.logDir, 'validation');
  }

  private layers(): WeightedLayer[] {
    const ls = (this.model as unknown as { layers?: unknown }).layers;
    return Array.isArray(ls) ? (ls as WeightedLayer[]) : [];
  }

  /** Called once before the first epoch. */
  onTrainBegin(): void {
    this.close();
    this.globalBatch = 0;
    this.train = new SummaryWriter(this.trainDir);
    if (this.writeGraph && this.layers().length > 0) this.train.addGraph(this.model);
  }

  /**
   * Set only with a batch-level updateFreq: a callback with batch hooks makes fit wait for JavaScript
   * after every batch, which epoch-level logging should not cost.
   */
  onBatchEnd?: (batch: number, logs?: Logs) => void;

  private batchEnd(logs: Logs = {}): void {
    this.globalBatch++;
    if (!this.train || this.globalBatch % this.updateFreq !== 0) return;
    for (const [k, v] of Object.entries(logs)) if (typeof v === 'number') this.train.addScalar(`batch_${k}`, v, this.globalBatch);
  }

  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    const train = (this.train ??= new SummaryWriter(this.trainDir));
    // without batch hooks, the iterations so far are counted an epoch at a time (unknown for endless datasets)
    if (!this.onBatchEnd && Number.isFinite(this.params?.steps)) this.globalBatch += this.params.steps;
    let wroteLr = false;
    for (const [k, v] of Object.entries(logs)) {
      if (typeof v !== 'number') continue;
      if (k.startsWith('val_')) {
        const val = (this.val ??= new SummaryWriter(this.validationDir));
        val.addScalar(`epoch_${k.slice(4)}`, v, epoch);
        // Keras 3's on_test_end: the same value against the optimizer's iterations (training batches so far)
        val.addScalar(`evaluation_${k.slice(4)}_vs_iterations`, v, this.globalBatch);
      } else {
        const name = k === 'lr' ? 'learning_rate' : k;
        wroteLr ||= name === 'learning_rate';
        train.addScalar(`epoch_${name}`, v, epoch);
      }
    }
    const lr = typeof this.model?.getLearningRate === 'function' ? this.model.getLearningRate() : NaN;
    if (!wroteLr && Number.isFinite(lr)) train.addScalar('epoch_learning_rate', lr, epoch);
    if (this.histogramFreq > 0 && epoch % this.histogramFreq === 0) this.writeHistograms(train, epoch);
    train.flush();
    this.val?.flush();
  }

  private writeHistograms(w: SummaryWriter, epoch: number): void {
    for (const l of this.layers()) {
      if (typeof l.getWeights !== 'function') continue;
      const ws = l.getWeights();
      const names = typeof l.weightsInternal === 'function' ? l.weightsInternal().map((x) => x.name) : [];
      ws.forEach((t, i) => {
        w.addHistogram(`${l.name}/${names[i] ?? `weight_${i}`}/histogram`, t, epoch);
        t.dispose();
      });
    }
  }

  /** Called once after the last epoch. */
  onTrainEnd(): void {
    this.close();
  }

  private close(): void {
    this.train?.close();
    this.val?.close();
    this.train = null;
    this.val = null;
  }
}
