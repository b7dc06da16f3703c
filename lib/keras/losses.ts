// Keras' losses (nt.losses): functions giving each sample's loss, and classes that reduce it as
// Keras does (callable: `new losses.MeanSquaredError()(yTrue, yPred)`). Both run the native loop's
// loss (native/model.cc PerSample), so a loss is defined once whichever way it is used.
/**
 * Keras losses, as functions of (yTrue, yPred) and as callable classes.
 * @module
 */
import { native } from '../native';
import { Tensor, wrap, checkTensor, typeOfValue } from '../tensor';
import { Callable, CALL } from '../callable';

/** The loss names compile() and the native loop know, with Keras' aliases. */
export const LOSS_NAMES = ['sparse_categorical_crossentropy', 'categorical_crossentropy', 'binary_crossentropy', 'mse', 'mae',
  'huber', 'mean_squared_error', 'mean_absolute_error'] as const;
/** The loss names compile accepts. */
export type LossName = typeof LOSS_NAMES[number];

/** The native loop's name for a loss. */
export function canonicalLoss(name: LossName): string {
  return name === 'mean_squared_error' ? 'mse' : name === 'mean_absolute_error' ? 'mae' : name;
}

function perSample(where: string, name: LossName, yTrue: unknown, yPred: unknown, fromLogits = false, sampleWeight?: unknown): Tensor {
  const t = checkTensor(yTrue, where, 'yTrue');
  const p = checkTensor(yPred, where, 'yPred');
  const w = sampleWeight === undefined || sampleWeight === null ? null : checkTensor(sampleWeight, where, 'sampleWeight')._h;
  return wrap(native.model_loss(canonicalLoss(name), fromLogits, p._h, t._h, w, true));
}

/** The crossentropy losses' options: fromLogits reads yPred as logits. */
export interface CrossentropyOptions { fromLogits?: boolean }

function fromLogitsOf(where: string, o: unknown): boolean {
  if (o === undefined || o === null) return false;
  if (typeof o !== 'object') throw new TypeError(`${where}: expected an options object but received ${typeOfValue(o)}`);
  for (const k of Object.keys(o)) if (k !== 'fromLogits') throw new TypeError(`${where}: unknown option '${k}'; known options: fromLogits`);
  return !!(o as CrossentropyOptions).fromLogits;
}

/** Each sample's mean squared error over its values, [N]. */
export function mean_squared_error(yTrue: Tensor, yPred: Tensor): Tensor {
  return perSample('losses.mean_squared_error', 'mse', yTrue, yPred);
}
/** Each sample's mean absolute error, [N]. */
export function mean_absolute_error(yTrue: Tensor, yPred: Tensor): Tensor {
  return perSample('losses.mean_absolute_error', 'mae', yTrue, yPred);
}
/** Each sample's Huber loss (delta 1), [N]. */
export function huber(yTrue: Tensor, yPred: Tensor): Tensor {
  return perSample('losses.huber', 'huber', yTrue, yPred);
}
/** Each sample's binary crossentropy (probabilities, or logits with { fromLogits: true }), [N]. */
export function binary_crossentropy(yTrue: Tensor, yPred: Tensor, opts?: CrossentropyOptions): Tensor {
  return perSample('losses.binary_crossentropy', 'binary_crossentropy', yTrue, yPred, fromLogitsOf('losses.binary_crossentropy', opts));
}
/** Each sample's crossentropy against one-hot targets, [N]. */
export function categorical_crossentropy(yTrue: Tensor, yPred: Tensor, opts?: CrossentropyOptions): Tensor {
  return perSample('losses.categorical_crossentropy', 'categorical_crossentropy', yTrue, yPred, fromLogitsOf('losses.categorical_crossentropy', opts));
}
/** Each sample's crossentropy against integer class labels, [N]. */
export function sparse_categorical_crossentropy(yTrue: Tensor, yPred: Tensor, opts?: CrossentropyOptions): Tensor {
  return perSample('losses.sparse_categorical_crossentropy', 'sparse_categorical_crossentropy', yTrue, yPred,
    fromLogitsOf('losses.sparse_categorical_crossentropy', opts));
}
export { mean_squared_error as mse, mean_absolute_error as mae };

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Loss {
  /** the batch's loss (Keras' sum_over_batch_size) */
  (yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Tensor;
}
/**
 * A Keras loss object: `loss(yTrue, yPred, sampleWeight?)` is the batch's loss as compile() uses it
 * (Keras' sum_over_batch_size: weighted per-sample losses summed, divided by the batch size).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class Loss extends Callable {
  readonly name: LossName;
  readonly fromLogits: boolean;
  protected constructor(name: LossName, fromLogits: boolean) {
    super();
    this.name = name;
    this.fromLogits = fromLogits;
  }
  /** Each sample's loss, [N]. */
  call(yTrue: Tensor, yPred: Tensor): Tensor {
    return perSample(`losses.${this.constructor.name}`, this.name, yTrue, yPred, this.fromLogits);
  }
  protected [CALL](yTrue: unknown, yPred: unknown, sampleWeight?: unknown): Tensor {
    const where = `losses.${this.constructor.name}`;
    const t = checkTensor(yTrue, where, 'yTrue');
    const p = checkTensor(yPred, where, 'yPred');
    const w = sampleWeight === undefined || sampleWeight === null ? null : checkTensor(sampleWeight, where, 'sampleWeight')._h;
    return wrap(native.model_loss(canonicalLoss(this.name), this.fromLogits, p._h, t._h, w));
  }
  /** The loss's constructor options, as Keras' get_config. */
  getConfig(): Record<string, unknown> {
    return { name: this.name, fromLogits: this.fromLogits };
  }
  override toString(): string {
    return `${this.constructor.name}(name=${this.name}${this.fromLogits ? ', fromLogits=true' : ''})`;
  }
}

export class MeanSquaredError extends Loss {
  constructor() {
    super('mean_squared_error', false);
  }
}
export class MeanAbsoluteError extends Loss {
  constructor() {
    super('mean_absolute_error', false);
  }
}
export class Huber extends Loss {
  constructor(opts?: { delta?: number }) {
    if (opts?.delta !== undefined && opts.delta !== 1) throw new TypeError(`losses.Huber: only delta 1 (Keras' default) is supported but received ${String(opts.delta)}`);
    super('huber', false);
  }
}
export class BinaryCrossentropy extends Loss {
  constructor(opts?: CrossentropyOptions) {
    super('binary_crossentropy', fromLogitsOf('losses.BinaryCrossentropy', opts));
  }
}
export class CategoricalCrossentropy extends Loss {
  constructor(opts?: CrossentropyOptions) {
    super('categorical_crossentropy', fromLogitsOf('losses.CategoricalCrossentropy', opts));
  }
}
export class SparseCategoricalCrossentropy extends Loss {
  constructor(opts?: CrossentropyOptions) {
    super('sparse_categorical_crossentropy', fromLogitsOf('losses.SparseCategoricalCrossentropy', opts));
  }
}
