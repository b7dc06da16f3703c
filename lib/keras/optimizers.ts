// Keras optimizers by name or object, with Keras' defaults (Adam's epsilon is 1e-7, not PyTorch's
// 1e-8), created over the native torch::optim optimizers once the model's weights exist.
import * as optim from '../optim';
import { Tensor, typeOfValue } from '../tensor';
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
const KNOWN: Record<Kind, string[]> = {
  sgd: ['learningRate', 'momentum', 'nesterov', 'weightDecay'],
  adam: ['learningRate', 'beta1', 'beta2', 'epsilon', 'amsgrad', 'weightDecay'],
  adamw: ['learningRate', 'beta1', 'beta2', 'epsilon', 'amsgrad', 'weightDecay'],
  rmsprop: ['learningRate', 'rho', 'momentum', 'epsilon', 'weightDecay'],
  adagrad: ['learningRate', 'initialAccumulatorValue', 'epsilon', 'weightDecay'],
};

export class Optimizer {
  learningRate: number;
  /** the schedule that sets learningRate at each step, when one was given */
  readonly schedule: LearningRateSchedule | undefined;
  /** steps taken (Keras' optimizer.iterations): the step a schedule is evaluated at */
  iterations = 0;
  constructor(readonly kind: Kind, readonly options: OptimizerOptions = {}) {
    const o = options ?? {};
    if (typeof o !== 'object') throw new TypeError(`optimizers.${kind}: expected an options object but received ${typeOfValue(o)}`);
    for (const k of Object.keys(o)) {
      if (!KNOWN[kind].includes(k)) throw new TypeError(`optimizers.${kind}: unknown option '${k}'; known options: ${KNOWN[kind].join(', ')}`);
    }
    this.schedule = o.learningRate instanceof LearningRateSchedule ? o.learningRate : undefined;
    const lr = this.schedule ? this.schedule.call(0) : o.learningRate ?? DEFAULT_LR[kind];
    if (typeof lr !== 'number' || !(lr >= 0)) throw new TypeError(`optimizers.${kind}: expected learningRate to be a non-negative number but received ${String(lr)}`);
    this.learningRate = lr;
  }
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

export class SGD extends Optimizer {
  constructor(opts?: OptimizerOptions) {
    super('sgd', opts);
  }
}
export class Adam extends Optimizer {
  constructor(opts?: OptimizerOptions) {
    super('adam', opts);
  }
}
export class AdamW extends Optimizer {
  constructor(opts?: OptimizerOptions) {
    super('adamw', opts);
  }
}
export class RMSprop extends Optimizer {
  constructor(opts?: OptimizerOptions) {
    super('rmsprop', opts);
  }
}
export class Adagrad extends Optimizer {
  constructor(opts?: OptimizerOptions) {
    super('adagrad', opts);
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
