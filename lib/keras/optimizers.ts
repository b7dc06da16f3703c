// Keras optimizers by name or object, with Keras' defaults (Adam's epsilon is 1e-7, not PyTorch's
// 1e-8), created over the native torch::optim optimizers once the model's weights exist.
import * as optim from '../optim';
import { checkRate } from '../optim/optimizer';
import { Tensor, typeOfValue } from '../tensor';
import * as check from '../util/check';
import { LearningRateSchedule } from './schedules';
export * as schedules from './schedules';

type Kind = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad';

export interface OptimizerOptions {
  /** a rate, or a schedule (optimizers.schedules.*) evaluated at each step */
  learningRate?: number | LearningRateSchedule;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  amsgrad?: boolean;
  rho?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
}

const DEFAULT_LR: Record<Kind, number> = { sgd: 0.01, adam: 0.001, adamw: 0.001, rmsprop: 0.001, adagrad: 0.001 };
/** Each optimizer's options in Keras' positional order (`Adam(1e-3)`, `SGD(0.1, 0.9)`). */
const KNOWN: Record<Kind, string[]> = {
  sgd: ['learningRate', 'momentum', 'nesterov', 'weightDecay'],
  adam: ['learningRate', 'beta1', 'beta2', 'epsilon', 'amsgrad', 'weightDecay'],
  adamw: ['learningRate', 'weightDecay', 'beta1', 'beta2', 'epsilon', 'amsgrad'],
  rmsprop: ['learningRate', 'rho', 'momentum', 'epsilon', 'weightDecay'],
  adagrad: ['learningRate', 'initialAccumulatorValue', 'epsilon', 'weightDecay'],
};
const NAMES: Record<Kind, string> = { sgd: 'SGD', adam: 'Adam', adamw: 'AdamW', rmsprop: 'RMSprop', adagrad: 'Adagrad' };

/** Keras' call: positional arguments in its order, then options (learning_rate or learningRate). */
function optimizerArgs(kind: Kind, args: readonly unknown[]): OptimizerOptions {
  return check.args(`optimizers.${NAMES[kind]}`, args, KNOWN[kind]) as OptimizerOptions;
}
type OptimizerArgs = [options?: OptimizerOptions] | [learningRate: number | LearningRateSchedule, options?: OptimizerOptions] | number[];

export class Optimizer {
  learningRate: number;
  readonly options: OptimizerOptions;
  /** the schedule that sets learningRate at each step, when one was given */
  readonly schedule: LearningRateSchedule | undefined;
  /** steps taken (Keras' optimizer.iterations): the step a schedule is evaluated at */
  iterations = 0;
  constructor(readonly kind: Kind, options: OptimizerOptions = {}) {
    if (!Object.prototype.hasOwnProperty.call(KNOWN, kind)) {
      throw new TypeError(`optimizers: unknown optimizer ${typeOfValue(kind)}; known: ${Object.keys(KNOWN).join(', ')}`);
    }
    const o = check.options(`optimizers.${NAMES[kind] ?? kind}`, options, KNOWN[kind]) as OptimizerOptions;
    this.options = o;
    this.schedule = o.learningRate instanceof LearningRateSchedule ? o.learningRate : undefined;
    const lr = this.schedule ? this.schedule.call(0) : o.learningRate ?? DEFAULT_LR[kind];
    this.learningRate = checkRate(`optimizers.${kind}`, 'learningRate', lr);
  }
  /** Keras' optimizer.apply(grads, variables): one step on variables with these gradients (hand-written loops, trainStep). */
  apply(grads: Tensor[], variables: Tensor[]): void {
    if (!Array.isArray(grads) || !Array.isArray(variables) || grads.length !== variables.length) {
      throw new TypeError(`optimizers.${this.kind}.apply: expected arrays of as many gradients as variables but received ` +
        `${Array.isArray(grads) ? grads.length : typeOfValue(grads)} and ${Array.isArray(variables) ? variables.length : typeOfValue(variables)}`);
    }
    grads.forEach((g, i) => {
      if (!(g instanceof Tensor) || !(variables[i] instanceof Tensor)) throw new TypeError(`optimizers.${this.kind}.apply: expected Tensors at index ${i}`);
      if (g.shape.join() !== variables[i].shape.join()) {
        throw new RangeError(`optimizers.${this.kind}.apply: gradient ${i} has shape [${g.shape.join(', ')}] but variable ${i} has [${variables[i].shape.join(', ')}]`);
      }
    });
    const same = this.applied && this.applied.vars.length === variables.length && this.applied.vars.every((v, i) => v === variables[i]);
    if (!same) this.applied = { vars: [...variables], opt: this.create(variables) };
    variables.forEach((v, i) => { v.grad = grads[i] === v.grad ? grads[i] : grads[i].detach().clone(); });
    this.applied!.opt.step();
  }
  private applied: { vars: Tensor[]; opt: optim.Optimizer } | null = null;

  /** The native optimizer over these weights. */
  create(params: Tensor[]): optim.Optimizer {
    const o = this.options;
    const lr = this.learningRate;
    const eps = o.epsilon ?? 1e-7;
    switch (this.kind) {
      case 'sgd': return new optim.SGD(params, { lr, momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0 });
      case 'adam': return new optim.Adam(params, { lr, betas: [o.beta1 ?? 0.9, o.beta2 ?? 0.999], eps, amsgrad: o.amsgrad ?? false, weightDecay: o.weightDecay ?? 0 });
      case 'adamw': return new optim.AdamW(params, { lr, betas: [o.beta1 ?? 0.9, o.beta2 ?? 0.999], eps, amsgrad: o.amsgrad ?? false, weightDecay: o.weightDecay ?? 0.004 });
      case 'rmsprop': return new optim.RMSprop(params, { lr, alpha: o.rho ?? 0.9, eps, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0 });
      case 'adagrad': return new optim.Adagrad(params, { lr, initialAccumulatorValue: o.initialAccumulatorValue ?? 0.1, eps, weightDecay: o.weightDecay ?? 0 });
    }
  }
}

/** Keras' SGD: `new optimizers.SGD(learningRate?, ...)` in Keras' positional order, or an options object. */
export class SGD extends Optimizer {
  constructor(...args: OptimizerArgs) {
    super('sgd', optimizerArgs('sgd', args));
  }
}
/** Keras' Adam: `new optimizers.Adam(learningRate?, ...)` in Keras' positional order, or an options object. */
export class Adam extends Optimizer {
  constructor(...args: OptimizerArgs) {
    super('adam', optimizerArgs('adam', args));
  }
}
/** Keras' AdamW: `new optimizers.AdamW(learningRate?, ...)` in Keras' positional order, or an options object. */
export class AdamW extends Optimizer {
  constructor(...args: OptimizerArgs) {
    super('adamw', optimizerArgs('adamw', args));
  }
}
/** Keras' RMSprop: `new optimizers.RMSprop(learningRate?, ...)` in Keras' positional order, or an options object. */
export class RMSprop extends Optimizer {
  constructor(...args: OptimizerArgs) {
    super('rmsprop', optimizerArgs('rmsprop', args));
  }
}
/** Keras' Adagrad: `new optimizers.Adagrad(learningRate?, ...)` in Keras' positional order, or an options object. */
export class Adagrad extends Optimizer {
  constructor(...args: OptimizerArgs) {
    super('adagrad', optimizerArgs('adagrad', args));
  }
}

/** 'adam' / 'sgd' / ... or an optimizer object. */
export function resolveOptimizer(o: unknown): Optimizer {
  if (o instanceof Optimizer) return new Optimizer(o.kind, o.options);
  if (typeof o === 'string') {
    const k = o.toLowerCase() as Kind;
    if (k in DEFAULT_LR) return new Optimizer(k);
  }
  throw new TypeError(`compile: unknown optimizer ${typeof o === 'string' ? `'${o}'` : typeOfValue(o)}; expected 'sgd', 'adam', ` +
    "'adamw', 'rmsprop', 'adagrad' or an optimizers.* object");
}
