// Learning-rate schedulers (torch.optim.lr_scheduler): the same recursive ("chainable") formulas
// as PyTorch 1.13, so lr sequences match it step for step. They set group.lr on the optimizer,
// which reaches the native optimizer.
/**
 * Learning-rate schedulers (torch.optim.lr_scheduler): StepLR, ExponentialLR, CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau.
 * @module
 */
import { Tensor, typeOfValue } from '../tensor';
import { Optimizer, ParamGroup, isPlainObject, show } from './optimizer';
import * as check from '../util/check';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOptimizer = Optimizer<any>;

function checkOptimizer(where: string, o: unknown): AnyOptimizer {
  if (!(o instanceof Optimizer)) throw new TypeError(`${where}: expected an optimizer (optim.SGD, optim.Adam...) but received ${typeOfValue(o)}`);
  return o;
}

/** PyTorch's call after the optimizer: arguments by position in `known`'s order, or an options object (snake_case or camelCase). */
function checkOptions<T extends object>(where: string, args: readonly unknown[], known: string[]): Partial<T> {
  return check.args(where, args, known) as Partial<T>;
}

function num(where: string, name: string, v: unknown, test: (x: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || Number.isNaN(v) || !test(v)) {
    const err = typeof v === 'number' ? RangeError : TypeError;
    throw new err(`${where}: expected ${name} to be ${expected} but received ${show(v)}`);
  }
  return v;
}
const positiveInt = (x: number) => Number.isInteger(x) && x > 0;
const nonNegative = (x: number) => x >= 0 && Number.isFinite(x);
const finite = (x: number) => Number.isFinite(x);

/** A number, or one per parameter group (PyTorch's _format_param). */
function perGroup(where: string, name: string, v: unknown, groups: number, test: (x: number) => boolean, expected: string): number[] {
  if (Array.isArray(v)) {
    if (v.length !== groups) throw new RangeError(`${where}: expected ${groups} values for ${name} (one per parameter group) but received ${v.length}`);
    return v.map((x, i) => num(where, `${name}[${i}]`, x, test, expected));
  }
  const x = num(where, name, v, test, expected);
  return new Array(groups).fill(x);
}

/** Python's float modulo (the sign of the divisor). */
function pymod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** A scheduler's state as PyTorch's state_dict() names it (snake_case keys), for saving and loadStateDict. */
export interface SchedulerStateDict { [key: string]: unknown }

/** Base of the epoch-driven schedulers (PyTorch's _LRScheduler). */
export abstract class LRScheduler {
  /** The optimizer whose param groups' lr this scheduler sets. */
  readonly optimizer: AnyOptimizer;
  /** The number of step() calls since the start (0 after construction). */
  lastEpoch: number;
  /** Each param group's initial lr (PyTorch's base_lrs). */
  baseLrs: number[];
  protected _stepCount = 0;
  protected _lastLr: number[] = [];
  protected readonly _name: string;

  constructor(name: string, optimizer: AnyOptimizer, lastEpoch = -1) {
    this._name = name;
    this.optimizer = checkOptimizer(name, optimizer);
    num(name, 'lastEpoch', lastEpoch, (x) => Number.isInteger(x) && x >= -1, 'an integer >= -1');
    const groups = this.optimizer.paramGroups as ParamGroup[];
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined) {
          throw new Error(`${name}: param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer (lastEpoch ${lastEpoch})`);
        }
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** Called at the end of each subclass constructor, as PyTorch's _initial_step(). */
  protected initialStep(): void {
    this._stepCount = 0;
    this.step();
  }

  /** The learning rates for lastEpoch (already advanced), from the groups' current ones. */
  protected abstract getLr(): number[];

  /** Advances one epoch (or batch, for OneCycleLR) and sets each group's lr. */
  step(): void {
    this._stepCount += 1;
    this.lastEpoch += 1;
    const lrs = this.getLr();
    const groups = this.optimizer.paramGroups as ParamGroup[];
    groups.forEach((g, i) => {
      g.lr = lrs[i];
    });
    this._lastLr = groups.map((g) => g.lr);
  }

  /** The learning rates the last step() set, one per group. */
  getLastLr(): number[] {
    return [...this._lastLr];
  }

  /** Fields in PyTorch's names: [python key, own field]. */
  protected stateKeys(): [string, string][] {
    return [['base_lrs', 'baseLrs'], ['last_epoch', 'lastEpoch'], ['_step_count', '_stepCount'], ['_last_lr', '_lastLr']];
  }

  /** The scheduler's state in PyTorch's key names (without the optimizer). */
  stateDict(): SchedulerStateDict {
    const self = this as unknown as Record<string, unknown>;
    const out: SchedulerStateDict = {};
    for (const [py, own] of this.stateKeys()) {
      const v = self[own];
      out[py] = Array.isArray(v) ? v.map((e) => (isPlainObject(e) ? { ...e } : e)) : v;
    }
    return out;
  }

  /** Restores the state from stateDict()'s output (PyTorch's load_state_dict); keys are checked by type. */
  loadStateDict(sd: SchedulerStateDict): void {
    if (!isPlainObject(sd)) throw new TypeError(`${this._name}.loadStateDict: expected an object as stateDict() returns but received ${typeOfValue(sd)}`);
    const self = this as unknown as Record<string, unknown>;
    const keys = this.stateKeys();
    for (const [py, own] of keys) {
      if (!(py in sd)) continue;
      const cur = self[own];
      const v = sd[py];
      if (typeof cur !== typeof v || Array.isArray(cur) !== Array.isArray(v)) {
        throw new TypeError(`${this._name}.loadStateDict: expected ${py} to be ${Array.isArray(cur) ? 'an array' : typeof cur} but received ${typeOfValue(v)}`);
      }
    }
    for (const [py, own] of keys) if (py in sd) self[own] = Array.isArray(sd[py]) ? [...(sd[py] as unknown[])] : sd[py];
  }
}

/** Options of StepLR (PyTorch's step_size, gamma = 0.1, last_epoch). */
export interface StepLROptions { stepSize: number; gamma?: number; lastEpoch?: number }

/** Multiplies the lr by gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  /** StepLR(optimizer, stepSize, gamma?, lastEpoch?) as in PyTorch, or StepLR(optimizer, { stepSize, gamma }). */
  constructor(optimizer: AnyOptimizer, ...args: [options: StepLROptions] | [stepSize: number, gamma?: number, lastEpoch?: number]) {
    const o = checkOptions<StepLROptions>('StepLR', args, ['stepSize', 'gamma', 'lastEpoch']);
    const stepSize = num('StepLR', 'stepSize', o.stepSize, positiveInt, 'a positive integer');
    const gamma = num('StepLR', 'gamma', o.gamma ?? 0.1, finite, 'a finite number');
    super('StepLR', optimizer, o.lastEpoch ?? -1);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups as ParamGroup[];
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected stateKeys(): [string, string][] {
    return [...super.stateKeys(), ['step_size', 'stepSize'], ['gamma', 'gamma']];
  }
}

/** Options of ExponentialLR (PyTorch's gamma, last_epoch). */
export interface ExponentialLROptions { gamma: number; lastEpoch?: number }

/** Multiplies the lr by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  /** ExponentialLR(optimizer, gamma, lastEpoch?) as in PyTorch, or with { gamma }. */
  constructor(optimizer: AnyOptimizer, ...args: [options: ExponentialLROptions] | [gamma: number, lastEpoch?: number]) {
    const o = checkOptions<ExponentialLROptions>('ExponentialLR', args, ['gamma', 'lastEpoch']);
    const gamma = num('ExponentialLR', 'gamma', o.gamma, finite, 'a finite number');
    super('ExponentialLR', optimizer, o.lastEpoch ?? -1);
    this.gamma = gamma;
    this.initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups as ParamGroup[];
    if (this.lastEpoch === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected stateKeys(): [string, string][] {
    return [...super.stateKeys(), ['gamma', 'gamma']];
  }
}

/** Options of CosineAnnealingLR (PyTorch's T_max, eta_min = 0, last_epoch). */
export interface CosineAnnealingLROptions { TMax: number; etaMin?: number; lastEpoch?: number }

/** Cosine annealing from the initial lr to etaMin over TMax epochs (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  TMax: number;
  etaMin: number;
  /** CosineAnnealingLR(optimizer, TMax, etaMin?, lastEpoch?) as in PyTorch, or with { TMax, etaMin }. */
  constructor(optimizer: AnyOptimizer, ...args: [options: CosineAnnealingLROptions] | [TMax: number, etaMin?: number, lastEpoch?: number]) {
    const o = checkOptions<CosineAnnealingLROptions>('CosineAnnealingLR', args, ['TMax', 'etaMin', 'lastEpoch']);
    const TMax = num('CosineAnnealingLR', 'TMax', o.TMax, positiveInt, 'a positive integer');
    const etaMin = num('CosineAnnealingLR', 'etaMin', o.etaMin ?? 0, nonNegative, 'a non-negative number');
    super('CosineAnnealingLR', optimizer, o.lastEpoch ?? -1);
    this.TMax = TMax;
    this.etaMin = etaMin;
    this.initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups as ParamGroup[];
    const { TMax, etaMin, lastEpoch } = this;
    if (lastEpoch === 0) return groups.map((g) => g.lr);
    if (this._stepCount === 1 && lastEpoch > 0) {
      return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((lastEpoch * Math.PI) / TMax))) / 2);
    }
    if (pymod(lastEpoch - 1 - TMax, 2 * TMax) === 0) {
      return groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / TMax))) / 2);
    }
    return groups.map((g) => ((1 + Math.cos((Math.PI * lastEpoch) / TMax)) / (1 + Math.cos((Math.PI * (lastEpoch - 1)) / TMax))) *
      (g.lr - etaMin) + etaMin);
  }
  protected stateKeys(): [string, string][] {
    return [...super.stateKeys(), ['T_max', 'TMax'], ['eta_min', 'etaMin']];
  }
}

/** Options of OneCycleLR (PyTorch's max_lr, total_steps or epochs * steps_per_epoch, pct_start = 0.3, ...). */
export interface OneCycleLROptions {
  /** the peak learning rate, or one per param group */
  maxLr: number | number[];
  /** the cycle's length in steps (or give epochs and stepsPerEpoch) */
  totalSteps?: number;
  /** with stepsPerEpoch: totalSteps = epochs * stepsPerEpoch */
  epochs?: number;
  /** with epochs: totalSteps = epochs * stepsPerEpoch */
  stepsPerEpoch?: number;
  /** the fraction of the cycle spent increasing the lr (default 0.3) */
  pctStart?: number;
  /** 'cos' (default) or 'linear' annealing */
  annealStrategy?: 'cos' | 'linear';
  /** cycle momentum (or Adam's beta1) inversely to the lr (default true) */
  cycleMomentum?: boolean;
  /** the lowest momentum (default 0.85) */
  baseMomentum?: number | number[];
  /** the highest momentum (default 0.95) */
  maxMomentum?: number | number[];
  /** initial lr = maxLr / divFactor (default 25) */
  divFactor?: number;
  /** final lr = initial lr / finalDivFactor (default 1e4) */
  finalDivFactor?: number;
  /** use PyTorch's three-phase schedule (default false) */
  threePhase?: boolean;
  /** the index of the last step, for resuming (default -1) */
  lastEpoch?: number;
}

interface Phase { end_step: number; start_lr: string; end_lr: string; start_momentum: string; end_momentum: string }

/**
 * The 1cycle policy (Smith & Topin): lr from maxLr/divFactor up to maxLr, then down to
 * initial/finalDivFactor, momentum cycling the other way. Step it after every batch.
 */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  useBeta1: boolean;
  schedulePhases: Phase[];
  /** OneCycleLR(optimizer, maxLr, totalSteps?, epochs?, stepsPerEpoch?, ...) as in PyTorch, or with an options object. */
  constructor(optimizer: AnyOptimizer, ...args: [options: OneCycleLROptions]
    | [maxLr: number | number[], totalSteps?: number | null, epochs?: number | null, stepsPerEpoch?: number | null, options?: Omit<OneCycleLROptions, 'maxLr'>]) {
    const W = 'OneCycleLR';
    const o = checkOptions<OneCycleLROptions>(W, args, ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart',
      'annealStrategy', 'cycleMomentum', 'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase', 'lastEpoch']);
    const opt = checkOptimizer(W, optimizer);
    const groups = opt.paramGroups as ParamGroup[];
    let totalSteps: number;
    if (o.totalSteps !== undefined) {
      totalSteps = num(W, 'totalSteps', o.totalSteps, positiveInt, 'a positive integer');
    } else if (o.epochs !== undefined || o.stepsPerEpoch !== undefined) {
      totalSteps = num(W, 'epochs', o.epochs, positiveInt, 'a positive integer') *
        num(W, 'stepsPerEpoch', o.stepsPerEpoch, positiveInt, 'a positive integer');
    } else {
      throw new TypeError(`${W}: you must define either totalSteps or (epochs and stepsPerEpoch)`);
    }
    const pctStart = num(W, 'pctStart', o.pctStart ?? 0.3, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
    const anneal = o.annealStrategy ?? 'cos';
    if (anneal !== 'cos' && anneal !== 'linear') throw new TypeError(`${W}: expected annealStrategy to be 'cos' or 'linear' but received ${show(anneal)}`);
    const divFactor = num(W, 'divFactor', o.divFactor ?? 25, (x) => x > 0 && Number.isFinite(x), 'a positive number');
    const finalDivFactor = num(W, 'finalDivFactor', o.finalDivFactor ?? 1e4, (x) => x > 0 && Number.isFinite(x), 'a positive number');
    const threePhase = o.threePhase ?? false;
    const cycleMomentum = o.cycleMomentum ?? true;
    if (typeof threePhase !== 'boolean') throw new TypeError(`${W}: expected threePhase to be a boolean but received ${show(threePhase)}`);
    if (typeof cycleMomentum !== 'boolean') throw new TypeError(`${W}: expected cycleMomentum to be a boolean but received ${show(cycleMomentum)}`);
    const maxLrs = perGroup(W, 'maxLr', o.maxLr, groups.length, nonNegative, 'a non-negative number');
    const lastEpoch = o.lastEpoch ?? -1;
    const useBeta1 = 'betas' in opt.defaults;
    let maxMomentums: number[] = [];
    let baseMomentums: number[] = [];
    if (cycleMomentum) {
      if (!('momentum' in opt.defaults) && !useBeta1) {
        throw new Error(`${W}: the optimizer must support momentum (momentum or betas) with cycleMomentum enabled; pass cycleMomentum: false`);
      }
      const m = (x: number) => x >= 0 && x < 1;
      maxMomentums = perGroup(W, 'maxMomentum', o.maxMomentum ?? 0.95, groups.length, m, 'a number in [0, 1)');
      baseMomentums = perGroup(W, 'baseMomentum', o.baseMomentum ?? 0.85, groups.length, m, 'a number in [0, 1)');
    }
    // all checked: now change the groups, as PyTorch does before the base constructor
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = (g.initialLr as number) / finalDivFactor;
      });
      if (cycleMomentum) {
        groups.forEach((g, i) => {
          if (useBeta1) g.betas = [maxMomentums[i], (g.betas as number[])[1]];
          else g.momentum = maxMomentums[i];
          g.maxMomentum = maxMomentums[i];
          g.baseMomentum = baseMomentums[i];
        });
      }
    }
    super(W, opt, lastEpoch);
    this.totalSteps = totalSteps;
    this.annealStrategy = anneal;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.schedulePhases = threePhase
      ? [
        { end_step: pctStart * totalSteps - 1, start_lr: 'initialLr', end_lr: 'maxLr', start_momentum: 'maxMomentum', end_momentum: 'baseMomentum' },
        { end_step: 2 * pctStart * totalSteps - 2, start_lr: 'maxLr', end_lr: 'initialLr', start_momentum: 'baseMomentum', end_momentum: 'maxMomentum' },
        { end_step: totalSteps - 1, start_lr: 'initialLr', end_lr: 'minLr', start_momentum: 'maxMomentum', end_momentum: 'maxMomentum' },
      ]
      : [
        { end_step: pctStart * totalSteps - 1, start_lr: 'initialLr', end_lr: 'maxLr', start_momentum: 'maxMomentum', end_momentum: 'baseMomentum' },
        { end_step: totalSteps - 1, start_lr: 'maxLr', end_lr: 'minLr', start_momentum: 'baseMomentum', end_momentum: 'maxMomentum' },
      ];
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  protected getLr(): number[] {
    const step = this.lastEpoch;
    if (step > this.totalSteps) {
      throw new Error(`OneCycleLR: tried to step ${step + 1} times; the specified number of total steps is ${this.totalSteps}`);
    }
    const groups = this.optimizer.paramGroups as ParamGroup[];
    return groups.map((g) => {
      let start = 0;
      let lr = 0;
      let momentum = 0;
      const phases = this.schedulePhases;
      for (let i = 0; i < phases.length; i++) {
        const p = phases[i];
        if (step <= p.end_step || i === phases.length - 1) {
          const pct = (step - start) / (p.end_step - start);
          lr = this.anneal(g[p.start_lr] as number, g[p.end_lr] as number, pct);
          if (this.cycleMomentum) momentum = this.anneal(g[p.start_momentum] as number, g[p.end_momentum] as number, pct);
          break;
        }
        start = p.end_step;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, (g.betas as number[])[1]];
        else g.momentum = momentum;
      }
      return lr;
    });
  }

  protected stateKeys(): [string, string][] {
    return [...super.stateKeys(), ['total_steps', 'totalSteps'], ['anneal_strategy', 'annealStrategy'],
      ['cycle_momentum', 'cycleMomentum'], ['use_beta1', 'useBeta1'], ['_schedule_phases', 'schedulePhases']];
  }
}

/** Options of ReduceLROnPlateau (PyTorch's mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, ...). */
export interface ReduceLROnPlateauOptions {
  /** 'min' (default): reduce when the metric stops falling; 'max': when it stops rising */
  mode?: 'min' | 'max';
  /** new lr = lr * factor (default 0.1) */
  factor?: number;
  /** epochs without improvement before reducing (default 10) */
  patience?: number;
  /** the least change that counts as an improvement (default 1e-4) */
  threshold?: number;
  /** 'rel' (default): relative to best; 'abs': absolute */
  thresholdMode?: 'rel' | 'abs';
  /** epochs to wait after a reduction before counting again (default 0) */
  cooldown?: number;
  /** the lowest lr, or one per param group (default 0) */
  minLr?: number | number[];
  /** reductions smaller than this are skipped (default 1e-8) */
  eps?: number;
}

/** Reduces the lr by factor when a metric has stopped improving for patience epochs. */
export class ReduceLROnPlateau {
  /** The optimizer whose param groups' lr this scheduler reduces. */
  readonly optimizer: AnyOptimizer;
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  minLrs: number[];
  eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private _lastLr: number[];

  /** ReduceLROnPlateau(optimizer, mode?, factor?, patience?, ...) as in PyTorch, or with an options object. */
  constructor(optimizer: AnyOptimizer, ...args: [options?: ReduceLROnPlateauOptions] | [mode: 'min' | 'max', ...rest: (number | string | undefined)[]]) {
    const W = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(W, optimizer);
    const o = checkOptions<ReduceLROnPlateauOptions>(W, args, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode',
      'cooldown', 'minLr', 'eps']);
    const mode = o.mode ?? 'min';
    if (mode !== 'min' && mode !== 'max') throw new TypeError(`${W}: expected mode to be 'min' or 'max' but received ${show(mode)}`);
    const thresholdMode = o.thresholdMode ?? 'rel';
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') {
      throw new TypeError(`${W}: expected thresholdMode to be 'rel' or 'abs' but received ${show(thresholdMode)}`);
    }
    this.mode = mode;
    this.thresholdMode = thresholdMode;
    this.factor = num(W, 'factor', o.factor ?? 0.1, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
    this.patience = num(W, 'patience', o.patience ?? 10, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
    this.threshold = num(W, 'threshold', o.threshold ?? 1e-4, finite, 'a finite number');
    this.cooldown = num(W, 'cooldown', o.cooldown ?? 0, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
    this.eps = num(W, 'eps', o.eps ?? 1e-8, nonNegative, 'a non-negative number');
    const groups = this.optimizer.paramGroups as ParamGroup[];
    this.minLrs = perGroup(W, 'minLr', o.minLr ?? 0, groups.length, nonNegative, 'a non-negative number');
    this.best = this.modeWorse;
    this._lastLr = groups.map((g) => g.lr);
  }

  private get modeWorse(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Whether the cooldown after a reduction is still running (PyTorch's in_cooldown). */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Whether metric a improves on best by more than the threshold, in this mode and thresholdMode (PyTorch's is_better). */
  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  /** Records one epoch's metric (a number or a one-element Tensor) and reduces the lr if it has plateaued. */
  step(metric: number | Tensor): void {
    let current: number;
    if (metric instanceof Tensor) current = Number(metric.item());
    else if (typeof metric === 'number') current = metric;
    else throw new TypeError(`ReduceLROnPlateau.step: expected metric to be a number or a one-element Tensor but received ${typeOfValue(metric)}`);
    this.lastEpoch += 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      (this.optimizer.paramGroups as ParamGroup[]).forEach((g, i) => {
        const old = g.lr;
        const next = Math.max(old * this.factor, this.minLrs[i]);
        if (old - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this._lastLr = (this.optimizer.paramGroups as ParamGroup[]).map((g) => g.lr);
  }

  /** Each param group's lr after the last step (PyTorch's get_last_lr()). */
  getLastLr(): number[] {
    return [...this._lastLr];
  }

  private static readonly KEYS: [string, string][] = [['factor', 'factor'], ['min_lrs', 'minLrs'], ['patience', 'patience'],
    ['cooldown', 'cooldown'], ['cooldown_counter', 'cooldownCounter'], ['mode', 'mode'], ['threshold', 'threshold'],
    ['threshold_mode', 'thresholdMode'], ['best', 'best'], ['num_bad_epochs', 'numBadEpochs'], ['eps', 'eps'],
    ['last_epoch', 'lastEpoch'], ['_last_lr', '_lastLr']];

  /** The state as PyTorch's state_dict() names it (snake_case keys, mode_worse included). */
  stateDict(): SchedulerStateDict {
    const self = this as unknown as Record<string, unknown>;
    const out: SchedulerStateDict = {};
    for (const [py, own] of ReduceLROnPlateau.KEYS) out[py] = Array.isArray(self[own]) ? [...(self[own] as unknown[])] : self[own];
    out.mode_worse = this.modeWorse;
    return out;
  }

  /** Restores the state from stateDict()'s output (PyTorch's load_state_dict); an infinite best saved as JSON null is restored. */
  loadStateDict(sd: SchedulerStateDict): void {
    if (!isPlainObject(sd)) throw new TypeError(`ReduceLROnPlateau.loadStateDict: expected an object as stateDict() returns but received ${typeOfValue(sd)}`);
    const self = this as unknown as Record<string, unknown>;
    for (const [py, own] of ReduceLROnPlateau.KEYS) {
      if (!(py in sd)) continue;
      // JSON turns an infinite best into null
      const v = py === 'best' && sd[py] === null ? this.modeWorse : sd[py];
      if (typeof v !== typeof self[own] || Array.isArray(v) !== Array.isArray(self[own])) {
        throw new TypeError(`ReduceLROnPlateau.loadStateDict: expected ${py} to be ${Array.isArray(self[own]) ? 'an array' : typeof self[own]} but received ${typeOfValue(v)}`);
      }
    }
    for (const [py, own] of ReduceLROnPlateau.KEYS) {
      if (!(py in sd)) continue;
      const v = py === 'best' && sd[py] === null ? this.modeWorse : sd[py];
      self[own] = Array.isArray(v) ? [...v] : v;
    }
  }
}
