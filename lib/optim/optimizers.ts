// The five optimizers, each libtorch's own torch::optim implementation, with PyTorch 2.x defaults.
import { OptionSpec, Optimizer, Params } from './optimizer';
import * as check from '../util/check';

/** PyTorch's call: options by position in the order of the specs (`SGD(params, 0.1, 0.9)`), or an options object. */
function optimArgs<O>(name: string, specs: readonly OptionSpec[], args: readonly unknown[]): O {
  return check.args(name, args, specs.map((sp) => sp.key)) as O;
}

/** Options of SGD (torch.optim.SGD's arguments in camelCase; snake_case accepted). */
export interface SGDOptions {
  /** default 1e-3 (PyTorch 2.x) */
  lr?: number;
  /** momentum factor (default 0) */
  momentum?: number;
  /** dampening for momentum (default 0) */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0 (default false) */
  nesterov?: boolean;
}
/** Options of Adam and AdamW (torch.optim.Adam/AdamW's arguments in camelCase; snake_case accepted). */
export interface AdamOptions {
  /** learning rate (default 1e-3) */
  lr?: number;
  /** decay rates of the gradient's running average and of its square (default [0.9, 0.999]) */
  betas?: readonly [number, number] | readonly number[];
  /** added to the denominator for stability (default 1e-8) */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0); AdamW: decoupled weight decay (default 1e-2) */
  weightDecay?: number;
  /** use the AMSGrad variant (default false) */
  amsgrad?: boolean;
}
/** Options of AdamW: Adam's, with weightDecay decoupled (default 1e-2). */
export type AdamWOptions = AdamOptions;
/** Options of RMSprop (torch.optim.RMSprop's arguments in camelCase; snake_case accepted). */
export interface RMSpropOptions {
  /** learning rate (default 1e-2) */
  lr?: number;
  /** smoothing constant of the squared-gradient average (default 0.99) */
  alpha?: number;
  /** added to the denominator for stability (default 1e-8) */
  eps?: number;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
  /** momentum factor (default 0) */
  momentum?: number;
  /** normalize by the gradient's estimated variance (default false) */
  centered?: boolean;
}
/** Options of Adagrad (torch.optim.Adagrad's arguments in camelCase; snake_case accepted). */
export interface AdagradOptions {
  /** learning rate (default 1e-2) */
  lr?: number;
  /** learning-rate decay (default 0) */
  lrDecay?: number;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
  /** the accumulators' starting value (default 0) */
  initialAccumulatorValue?: number;
  /** added to the denominator for stability (default 1e-10) */
  eps?: number;
}

const LR: OptionSpec = { key: 'lr', py: 'lr', type: 'nonneg' };
const WD: OptionSpec = { key: 'weightDecay', py: 'weight_decay', type: 'nonneg' };
const EPS: OptionSpec = { key: 'eps', py: 'eps', type: 'nonneg' };
const MOMENTUM: OptionSpec = { key: 'momentum', py: 'momentum', type: 'nonneg' };

const SGD_SPECS: OptionSpec[] = [LR, MOMENTUM, { key: 'dampening', py: 'dampening', type: 'number' }, WD,
  { key: 'nesterov', py: 'nesterov', type: 'bool' }];
const ADAM_SPECS: OptionSpec[] = [LR, { key: 'betas', py: 'betas', type: 'betas' }, EPS, WD,
  { key: 'amsgrad', py: 'amsgrad', type: 'bool' }];
const RMSPROP_SPECS: OptionSpec[] = [LR, { key: 'alpha', py: 'alpha', type: 'nonneg' }, EPS, WD, MOMENTUM,
  { key: 'centered', py: 'centered', type: 'bool' }];
const ADAGRAD_SPECS: OptionSpec[] = [LR, { key: 'lrDecay', py: 'lr_decay', type: 'nonneg' }, WD,
  { key: 'initialAccumulatorValue', py: 'initial_accumulator_value', type: 'nonneg' }, EPS];

function checkNesterov(o: Required<SGDOptions>, where: string): void {
  if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
    throw new Error(`SGD: nesterov momentum requires a momentum and zero dampening but ${where} has momentum ${o.momentum} and dampening ${o.dampening}`);
  }
}

const BETAS = Object.freeze([0.9, 0.999]) as readonly number[];

/** Stochastic gradient descent, optionally with (Nesterov) momentum: torch.optim.SGD. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, ...args: [options?: SGDOptions] | [lr: number, momentum?: number, dampening?: number, weightDecay?: number, nesterov?: boolean]) {
    const options = optimArgs<SGDOptions>('SGD', SGD_SPECS, args);
    super('SGD', SGD_SPECS, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }, params, options,
      checkNesterov);
  }
}

/** Adam: torch.optim.Adam (amsgrad optional). */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, ...args: [options?: AdamOptions] | [lr: number, betas?: readonly [number, number] | readonly number[], eps?: number, weightDecay?: number, amsgrad?: boolean]) {
    const options = optimArgs<AdamOptions>('Adam', ADAM_SPECS, args);
    super('Adam', ADAM_SPECS, { lr: 1e-3, betas: BETAS, eps: 1e-8, weightDecay: 0, amsgrad: false }, params, options);
  }
}

/** Adam with decoupled weight decay: torch.optim.AdamW. */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: Params<AdamWOptions>, ...args: [options?: AdamWOptions] | [lr: number, betas?: readonly [number, number] | readonly number[], eps?: number, weightDecay?: number, amsgrad?: boolean]) {
    const options = optimArgs<AdamWOptions>('AdamW', ADAM_SPECS, args);
    super('AdamW', ADAM_SPECS, { lr: 1e-3, betas: BETAS, eps: 1e-8, weightDecay: 1e-2, amsgrad: false }, params, options);
  }
}

/** RMSprop: torch.optim.RMSprop (centered and momentum optional). */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, ...args: [options?: RMSpropOptions] | [lr: number, alpha?: number, eps?: number, weightDecay?: number, momentum?: number, centered?: boolean]) {
    const options = optimArgs<RMSpropOptions>('RMSprop', RMSPROP_SPECS, args);
    super('RMSprop', RMSPROP_SPECS, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false }, params,
      options);
  }
}

/** Adagrad: torch.optim.Adagrad. */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, ...args: [options?: AdagradOptions] | [lr: number, lrDecay?: number, weightDecay?: number, initialAccumulatorValue?: number, eps?: number]) {
    const options = optimArgs<AdagradOptions>('Adagrad', ADAGRAD_SPECS, args);
    super('Adagrad', ADAGRAD_SPECS, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 }, params,
      options);
  }
}
