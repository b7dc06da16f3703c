// Keras optimizers by name or object, with Keras' defaults (Adam's epsilon is 1e-7, not PyTorch's
// 1e-8), created over the native torch::optim optimizers once the model's weights exist.
/**
 * Keras optimizers (keras.optimizers): SGD, Adam, AdamW, RMSprop, Adagrad, LossScaleOptimizer, and their schedules.
 * @module
 */
import { native, TrainControlValues } from '../native';
import * as optim from '../optim';
import { checkRate } from '../optim/optimizer';
import { Tensor, typeOfValue } from '../tensor';
import * as check from '../util/check';
import { globalPolicy } from './mixed_precision';
import { LearningRateSchedule } from './schedules';
export * as schedules from './schedules';

type Kind = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad';

/** Options of the Keras optimizers (Keras' kwargs in camelCase); each optimizer takes its own subset plus the training controls. */
export interface OptimizerOptions {
  /** a rate, or a schedule (optimizers.schedules.*) evaluated at each step */
  learningRate?: number | LearningRateSchedule;
  /** SGD and RMSprop: momentum (default 0) */
  momentum?: number;
  /** SGD: Nesterov momentum (default false) */
  nesterov?: boolean;
  /** Adam/AdamW: decay of the first-moment average (default 0.9) */
  beta1?: number;
  /** Adam/AdamW: decay of the second-moment average (default 0.999) */
  beta2?: number;
  /** added to the denominator for stability (Keras' default 1e-7, not PyTorch's 1e-8) */
  epsilon?: number;
  /** Adam/AdamW: use the AMSGrad variant (default false) */
  amsgrad?: boolean;
  /** RMSprop: decay of the squared-gradient average (default 0.9; PyTorch's alpha) */
  rho?: number;
  /** weight decay (default 0; AdamW 0.004, decoupled) */
  weightDecay?: number;
  /** Adagrad: the accumulators' starting value (default 0.1) */
  initialAccumulatorValue?: number;
  /** clip each gradient to this L2 norm (Keras' clipnorm) */
  clipnorm?: number;
  /** clip each gradient element into [-clipvalue, clipvalue] */
  clipvalue?: number;
  /** clip all gradients together to this global L2 norm (Keras' global_clipnorm) */
  globalClipnorm?: number;
  /** keep an exponential moving average of the weights, copied into them at the end of fit */
  useEma?: boolean;
  /** the moving average's momentum (default 0.99) */
  emaMomentum?: number;
  /** every this many steps, overwrite the weights with their moving average */
  emaOverwriteFrequency?: number;
  /** apply the mean of this many batches' gradients once every that many steps (>= 2) */
  gradientAccumulationSteps?: number;
}

/** Keras 3's optimizer arguments shared by every optimizer (keyword-only here). */
const CONTROLS = ['clipnorm', 'clipvalue', 'globalClipnorm', 'useEma', 'emaMomentum', 'emaOverwriteFrequency',
  'gradientAccumulationSteps'] as const;

/** Keras 3's checks of the training controls, as native/train_controls.cc's values. */
function trainControls(where: string, o: OptimizerOptions): TrainControlValues | null {
  const clip = (name: 'clipnorm' | 'clipvalue' | 'globalClipnorm') =>
    (o[name] === undefined || o[name] === null ? 0 : check.positiveNumber(where, name, o[name]));
  const clipnorm = clip('clipnorm'), clipvalue = clip('clipvalue'), globalClipnorm = clip('globalClipnorm');
  if (clipnorm && globalClipnorm) {
    throw new TypeError(`${where}: only one of clipnorm and globalClipnorm can be set but received clipnorm=${clipnorm}, globalClipnorm=${globalClipnorm}`);
  }
  const steps = o.gradientAccumulationSteps ?? 0;
  if (steps !== 0 && !(Number.isInteger(steps) && steps >= 2)) {
    throw new RangeError(`${where}: expected gradientAccumulationSteps to be an integer >= 2 but received ${check.describe(steps)}`);
  }
  const useEma = check.boolean(where, 'useEma', o.useEma, false);
  const emaMomentum = o.emaMomentum ?? 0.99;
  if (!check.is.inRange(emaMomentum, 0, 1)) {
    throw new RangeError(`${where}: expected emaMomentum to be a number in [0, 1] but received ${check.describe(emaMomentum)}`);
  }
  const emaOverwriteFrequency = o.emaOverwriteFrequency === undefined || o.emaOverwriteFrequency === null ? 0
    : check.positiveInt(where, 'emaOverwriteFrequency', o.emaOverwriteFrequency);
  if (!clipnorm && !clipvalue && !globalClipnorm && !steps && !useEma) return null;
  return { clipnorm, clipvalue, globalClipnorm, accumulationSteps: steps || 1, useEma, emaMomentum, emaOverwriteFrequency };
}

/** Keras 3's LossScaleOptimizer options: the dynamic loss scale float16 training needs. */
export interface LossScaleOptions {
  /** the first scale (Keras: 2 ** 15) */
  initialScale?: number;
  /** steps without non-finite gradients before the scale doubles (Keras: 2000) */
  dynamicGrowthSteps?: number;
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
  return check.args(`optimizers.${NAMES[kind]}`, args, KNOWN[kind], CONTROLS) as OptimizerOptions;
}
type OptimizerArgs = [options?: OptimizerOptions] | [learningRate: number | LearningRateSchedule, options?: OptimizerOptions] | number[];

/** Keras' optimizer base: the options and learning rate, made into a native torch::optim optimizer over the model's weights. */
export class Optimizer {
  /** the current learning rate (Keras' optimizer.learning_rate) */
  learningRate: number;
  /** the options given, validated */
  readonly options: OptimizerOptions;
  /** the schedule that sets learningRate at each step, when one was given */
  readonly schedule: LearningRateSchedule | undefined;
  /** steps taken (Keras' optimizer.iterations): the step a schedule is evaluated at */
  iterations = 0;
  constructor(readonly kind: Kind, options: OptimizerOptions = {}) {
    if (!Object.prototype.hasOwnProperty.call(KNOWN, kind)) {
      throw new TypeError(`optimizers: unknown optimizer ${typeOfValue(kind)}; known: ${Object.keys(KNOWN).join(', ')}`);
    }
    const o = check.options(`optimizers.${NAMES[kind] ?? kind}`, options, [...KNOWN[kind], ...CONTROLS]) as OptimizerOptions;
    this.options = o;
    this.controls = trainControls(`optimizers.${NAMES[kind]}`, o);
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
  /** clipping, accumulation and EMA as the native step runs them; null when none is set */
  private readonly controls: TrainControlValues | null;
  /** set by LossScaleOptimizer (and compile under the mixed_float16 policy) */
  lossScale: Required<LossScaleOptions> | null = null;
  /** the native optimizers made by create(): the ones finalizeVariableValues finalizes */
  private made: optim.Optimizer[] = [];

  /** Keras' get_config: the options, with the current learning rate (a schedule stays an object). */
  getConfig(): Record<string, unknown> {
    return { name: NAMES[this.kind], ...this.options, learningRate: this.schedule ?? this.learningRate };
  }
  /** Keras' from_config: an optimizer of this kind from getConfig()'s output. */
  static fromConfig(kind: Kind, config: Record<string, unknown>): Optimizer {
    const { name, ...rest } = config;
    void name;
    return new Optimizer(kind, rest as OptimizerOptions);
  }
  /** A fresh optimizer with the same options and loss scaling (compile takes a copy, as Keras' deserialize does). */
  clone(): Optimizer {
    const o = new Optimizer(this.kind, this.options);
    o.lossScale = this.lossScale && { ...this.lossScale };
    return o;
  }
  /**
   * Keras' finalize_variable_values, run at the end of fit: with useEma, the weights take their
   * moving averages. Returns true when it changed them.
   */
  finalizeVariableValues(): boolean {
    let done = false;
    for (const o of this.made) done = native.optim_finalize_variable_values(o._native) || done;
    return done;
  }
  /** The current dynamic loss scale (LossScaleOptimizer's dynamic_scale), or undefined without loss scaling. */
  get dynamicScale(): number | undefined {
    if (!this.lossScale) return undefined;
    const st = this.made.length ? native.optim_controls_state(this.made[this.made.length - 1]._native) : null;
    return st ? st.scale : this.lossScale.initialScale;
  }

  /** The native optimizer over these weights. */
  create(params: Tensor[]): optim.Optimizer {
    const opt = this.createInner(params);
    if (this.controls || this.lossScale) {
      const ls = this.lossScale;
      native.optim_set_controls(opt._native, { ...(this.controls ?? {}),
        ...(ls ? { lossScale: true, initialScale: ls.initialScale, growthSteps: ls.dynamicGrowthSteps } : {}) });
    }
    this.made.push(opt);
    if (this.made.length > 8) this.made.shift();
    return opt;
  }
  private createInner(params: Tensor[]): optim.Optimizer {
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

/**
 * Keras 3's LossScaleOptimizer: the inner optimizer's step on gradients of the loss times a dynamic
 * scale, unscaled first; a step with non-finite gradients is skipped and halves the scale, and
 * dynamicGrowthSteps finite steps double it. compile() wraps the optimizer so under 'mixed_float16'.
 */
export class LossScaleOptimizer extends Optimizer {
  constructor(innerOptimizer: Optimizer, options: LossScaleOptions = {}) {
    const W = 'optimizers.LossScaleOptimizer';
    if (!(innerOptimizer instanceof Optimizer)) throw new TypeError(`${W}: expected innerOptimizer to be an optimizers.* object but received ${typeOfValue(innerOptimizer)}`);
    super(innerOptimizer.kind, innerOptimizer.options);
    const o = check.options(W, options, ['initialScale', 'dynamicGrowthSteps']) as LossScaleOptions;
    this.lossScale = { initialScale: check.positiveNumber(W, 'initialScale', o.initialScale, 32768),
      dynamicGrowthSteps: check.positiveInt(W, 'dynamicGrowthSteps', o.dynamicGrowthSteps, 2000) };
  }
}

/** 'adam' / 'sgd' / ... or an optimizer object; loss-scaled under the mixed_float16 policy, as Keras' compile does. */
export function resolveOptimizer(o: unknown): Optimizer {
  const scaled = (opt: Optimizer) => {
    if (!opt.lossScale && globalPolicy().name === 'mixed_float16') opt.lossScale = { initialScale: 32768, dynamicGrowthSteps: 2000 };
    return opt;
  };
  if (o instanceof Optimizer) return scaled(o.clone());
  if (typeof o === 'string') {
    const k = o.toLowerCase() as Kind;
    if (k in DEFAULT_LR) return scaled(new Optimizer(k));
  }
  throw new TypeError(`compile: unknown optimizer ${typeof o === 'string' ? `'${o}'` : typeOfValue(o)}; expected 'sgd', 'adam', ` +
    "'adamw', 'rmsprop', 'adagrad' or an optimizers.* object");
}
