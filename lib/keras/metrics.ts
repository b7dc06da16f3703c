// Keras' metrics (nt.metrics): classes with Keras' updateState/result/resetState over the native
// metric state (native/model.cc MetricState, the one the training loop fills), and the names
// compile() accepts. Each metric is computed by the native loop's code, whichever way it is used.
/**
 * Keras metrics with updateState/result/resetState.
 * @module
 */
import { native, NativeObject } from '../native';
import { Tensor, checkTensor, typeOfValue } from '../tensor';
import { Callable, CALL } from '../callable';
export { mean_squared_error, mean_absolute_error, mse, mae } from './losses';

/** Keras' names (and aliases) -> the native metric kind; 'accuracy' depends on the loss. */
const KINDS: Record<string, string> = {
  sparse_categorical_accuracy: 'sparse_categorical_accuracy', categorical_accuracy: 'categorical_accuracy',
  binary_accuracy: 'binary_accuracy', mae: 'mae', mse: 'mse', mean_absolute_error: 'mae', mean_squared_error: 'mse',
  precision: 'precision', Precision: 'precision', recall: 'recall', Recall: 'recall', auc: 'auc', AUC: 'auc',
};

/**
 * A compiled metric: the name history shows and the native kind, from a Keras name or a metric
 * object. 'accuracy' is binary, categorical or sparse categorical accuracy by the loss, as Keras.
 */
export function resolveMetric(m: unknown, loss: string): { name: string; kind: string } {
  if (m instanceof Metric) return { name: m.name, kind: m.kind };
  if (typeof m !== 'string') throw new TypeError(`compile: expected metric names or metrics.* objects but received ${typeOfValue(m)}`);
  if (m === 'accuracy' || m === 'acc') {
    const kind = loss === 'sparse_categorical_crossentropy' ? 'sparse_categorical_accuracy'
      : loss === 'categorical_crossentropy' ? 'categorical_accuracy' : 'binary_accuracy';
    return { name: 'accuracy', kind };
  }
  const kind = KINDS[m];
  if (!kind) {
    throw new TypeError(`compile: unknown metric '${m}'; expected accuracy, sparse_categorical_accuracy, categorical_accuracy, ` +
      'binary_accuracy, mae, mse, precision, recall or auc');
  }
  return { name: kind === 'precision' || kind === 'recall' || kind === 'auc' ? kind : m, kind };
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Metric {
  /** updateState(yTrue, yPred), then result() */
  (yTrue: Tensor, yPred: Tensor): number;
}
/**
 * Keras' Metric: updateState(yTrue, yPred) adds a batch, result() is the value so far, resetState()
 * starts over; calling the object updates and returns the result. The state lives natively.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class Metric extends Callable {
  readonly name: string;
  /** the native metric kind */
  readonly kind: string;
  private readonly state: NativeObject;
  protected constructor(name: string, kind: string) {
    super();
    this.name = name;
    this.kind = kind;
    this.state = native.model_metrics_create([kind]);
  }
  /** Accumulates a batch of labels and predictions into the metric's state. */
  updateState(yTrue: Tensor, yPred: Tensor): void {
    const where = `metrics.${this.constructor.name}.updateState`;
    const t = checkTensor(yTrue, where, 'yTrue');
    const p = checkTensor(yPred, where, 'yPred');
    native.model_metrics_update(this.state, 'mse', false, p._h, t._h, 0);
  }
  /** The metric's value over the batches accumulated since the last reset. */
  result(): number {
    return native.model_metrics_result(this.state).metrics[0];
  }
  /** Clears the accumulated state. */
  resetState(): void {
    native.model_metrics_reset(this.state);
  }
  protected [CALL](yTrue: unknown, yPred: unknown): number {
    this.updateState(yTrue as Tensor, yPred as Tensor);
    return this.result();
  }
  override toString(): string {
    return `${this.constructor.name}(name=${this.name})`;
  }
}

/** Share of samples whose prediction (> 0.5) matches the 0/1 label. */
export class BinaryAccuracy extends Metric {
  constructor(opts?: { name?: string; threshold?: number }) {
    if (opts?.threshold !== undefined && opts.threshold !== 0.5) throw new TypeError(`metrics.BinaryAccuracy: only threshold 0.5 (Keras' default) is supported but received ${String(opts.threshold)}`);
    super(opts?.name ?? 'binary_accuracy', 'binary_accuracy');
  }
}
/** Share of samples whose argmax matches the one-hot label's. */
export class CategoricalAccuracy extends Metric {
  constructor(opts?: { name?: string }) {
    super(opts?.name ?? 'categorical_accuracy', 'categorical_accuracy');
  }
}
/** Share of samples whose argmax equals the integer label. */
export class SparseCategoricalAccuracy extends Metric {
  constructor(opts?: { name?: string }) {
    super(opts?.name ?? 'sparse_categorical_accuracy', 'sparse_categorical_accuracy');
  }
}
export class MeanSquaredError extends Metric {
  constructor(opts?: { name?: string }) {
    super(opts?.name ?? 'mean_squared_error', 'mse');
  }
}
export class MeanAbsoluteError extends Metric {
  constructor(opts?: { name?: string }) {
    super(opts?.name ?? 'mean_absolute_error', 'mae');
  }
}
/** True positives / predicted positives, at threshold 0.5. */
export class Precision extends Metric {
  constructor(opts?: { name?: string }) {
    super(opts?.name ?? 'precision', 'precision');
  }
}
/** True positives / actual positives, at threshold 0.5. */
export class Recall extends Metric {
  constructor(opts?: { name?: string }) {
    super(opts?.name ?? 'recall', 'recall');
  }
}
/** ROC area under the curve with Keras' 200 thresholds. */
export class AUC extends Metric {
  constructor(opts?: { name?: string }) {
    super(opts?.name ?? 'auc', 'auc');
  }
}
