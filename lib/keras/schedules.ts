// Keras' learning-rate schedules (optimizers.schedules): a rate per optimizer step, usable as an
// optimizer's learningRate. fit evaluates the schedule at each step (optimizer.iterations) and hands
// the rates to whichever path runs the step, the native loop included.
/**
 * Keras learning-rate schedules, usable as an optimizer's learningRate.
 * @module
 */
import { Callable, CALL } from '../callable';
import { typeOfValue } from '../tensor';

function num(where: string, name: string, v: unknown, check: (x: number) => boolean, expected: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && check(v)) return v;
  throw new TypeError(`${where}: expected ${name} to be ${expected} but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}
const nonNegative = (where: string, name: string, v: unknown) => num(where, name, v, (x) => x >= 0, 'a non-negative number');
const positive = (where: string, name: string, v: unknown) => num(where, name, v, (x) => x > 0, 'a positive number');

/** Positional arguments as Keras takes them, or one options object with the camelCase names. */
function args(where: string, names: string[], given: unknown[]): Record<string, unknown> {
  const a = [...given];
  while (a.length > 1 && a[a.length - 1] === undefined) a.pop();
  if (a.length === 1 && a[0] !== null && typeof a[0] === 'object' && !Array.isArray(a[0])) {
    const o = a[0] as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!names.includes(k)) throw new TypeError(`${where}: unknown option '${k}'; known options: ${names.join(', ')}`);
    return o;
  }
  if (a.length > names.length) throw new TypeError(`${where}: expected at most ${names.length} arguments (${names.join(', ')}) but received ${a.length}`);
  return Object.fromEntries(a.map((v, i) => [names[i], v]));
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface LearningRateSchedule {
  /** the rate at optimizer step `step` */
  (step: number): number;
}
/** Base class: subclass with call(step) for your own schedule. Instances are callable: `schedule(step)`. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class LearningRateSchedule extends Callable {
  /** The learning rate at optimizer step `step` (0 for the first update). */
  abstract call(step: number): number;
  protected [CALL](step: unknown): number {
    return this.call(num(this.constructor.name, 'step', step, (x) => x >= 0, 'a non-negative number'));
  }
  /** The schedule's constructor options, as Keras' get_config. */
  abstract getConfig(): Record<string, unknown>;
}

/** The schedules of (initialLearningRate, decaySteps, decayRate, staircase): one constructor and config. */
abstract class StepDecay extends LearningRateSchedule {
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;
  constructor(initialLearningRate: number | { initialLearningRate: number; decaySteps: number; decayRate: number; staircase?: boolean },
    decaySteps?: number, decayRate?: number, staircase?: boolean) {
    super();
    const w = new.target.name;
    const o = args(w, ['initialLearningRate', 'decaySteps', 'decayRate', 'staircase'], [initialLearningRate, decaySteps, decayRate, staircase]);
    this.initialLearningRate = nonNegative(w, 'initialLearningRate', o.initialLearningRate);
    this.decaySteps = positive(w, 'decaySteps', o.decaySteps);
    this.decayRate = nonNegative(w, 'decayRate', o.decayRate);
    this.staircase = !!o.staircase;
  }
  /** step / decaySteps, floored with staircase */
  protected progress(step: number): number {
    const p = step / this.decaySteps;
    return this.staircase ? Math.floor(p) : p;
  }
  /** The schedule's constructor options, as Keras' get_config. */
  getConfig(): Record<string, unknown> {
    return { initialLearningRate: this.initialLearningRate, decaySteps: this.decaySteps, decayRate: this.decayRate, staircase: this.staircase };
  }
}

/** initialLearningRate * decayRate ^ (step / decaySteps), the exponent floored with staircase. */
export class ExponentialDecay extends StepDecay {
  call(step: number): number {
    return this.initialLearningRate * this.decayRate ** this.progress(step);
  }
}

/** values[0] up to and including step boundaries[0], values[1] up to boundaries[1], ..., values[n] after. */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  readonly boundaries: number[];
  readonly values: number[];
  constructor(boundaries: number[] | { boundaries: number[]; values: number[] }, values?: number[]) {
    super();
    const w = 'PiecewiseConstantDecay';
    const o = args(w, ['boundaries', 'values'], [boundaries, values]);
    const b = o.boundaries;
    const v = o.values;
    if (!Array.isArray(b) || !b.every((x, i) => typeof x === 'number' && Number.isFinite(x) && (i === 0 || x > b[i - 1]))) {
      throw new TypeError(`${w}: expected boundaries to be an increasing array of step numbers but received ${JSON.stringify(b) ?? typeOfValue(b)}`);
    }
    if (!Array.isArray(v) || v.length !== b.length + 1) {
      throw new TypeError(`${w}: expected values to hold one more rate than boundaries (${b.length + 1}) but received ${JSON.stringify(v) ?? typeOfValue(v)}`);
    }
    v.forEach((x, i) => nonNegative(w, `values[${i}]`, x));
    this.boundaries = [...b];
    this.values = [...(v as number[])];
  }
  call(step: number): number {
    const i = this.boundaries.findIndex((b) => step <= b);
    return this.values[i === -1 ? this.boundaries.length : i];
  }
  /** The schedule's constructor options, as Keras' get_config. */
  getConfig(): Record<string, unknown> {
    return { boundaries: this.boundaries, values: this.values };
  }
}

/**
 * Cosine decay from initialLearningRate (or, after warmupSteps of linear warmup, from warmupTarget)
 * to alpha times it over decaySteps, then constant: Keras 3's CosineDecay.
 */
export class CosineDecay extends LearningRateSchedule {
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly alpha: number;
  readonly warmupTarget: number | null;
  readonly warmupSteps: number;
  constructor(initialLearningRate: number | { initialLearningRate: number; decaySteps: number; alpha?: number; warmupTarget?: number | null; warmupSteps?: number },
    decaySteps?: number, alpha?: number, warmupTarget?: number | null, warmupSteps?: number) {
    super();
    const w = 'CosineDecay';
    const o = args(w, ['initialLearningRate', 'decaySteps', 'alpha', 'warmupTarget', 'warmupSteps'],
      [initialLearningRate, decaySteps, alpha, warmupTarget, warmupSteps]);
    this.initialLearningRate = nonNegative(w, 'initialLearningRate', o.initialLearningRate);
    this.decaySteps = positive(w, 'decaySteps', o.decaySteps);
    this.alpha = o.alpha === undefined ? 0 : num(w, 'alpha', o.alpha, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    this.warmupTarget = o.warmupTarget === undefined || o.warmupTarget === null ? null : nonNegative(w, 'warmupTarget', o.warmupTarget);
    this.warmupSteps = o.warmupSteps === undefined ? 0 : nonNegative(w, 'warmupSteps', o.warmupSteps);
  }
  private decay(step: number, from: number): number {
    return from * ((1 - this.alpha) * 0.5 * (1 + Math.cos(Math.PI * step / this.decaySteps)) + this.alpha);
  }
  call(step: number): number {
    if (this.warmupTarget === null) return this.decay(Math.min(step, this.decaySteps), this.initialLearningRate);
    const s = Math.min(step, this.decaySteps + this.warmupSteps);
    if (s < this.warmupSteps) return (this.warmupTarget - this.initialLearningRate) * (s / this.warmupSteps) + this.initialLearningRate;
    return this.decay(s - this.warmupSteps, this.warmupTarget);
  }
  /** The schedule's constructor options, as Keras' get_config. */
  getConfig(): Record<string, unknown> {
    return { initialLearningRate: this.initialLearningRate, decaySteps: this.decaySteps, alpha: this.alpha,
      warmupTarget: this.warmupTarget, warmupSteps: this.warmupSteps };
  }
}

/** initialLearningRate / (1 + decayRate * step / decaySteps), the ratio floored with staircase. */
export class InverseTimeDecay extends StepDecay {
  call(step: number): number {
    return this.initialLearningRate / (1 + this.decayRate * this.progress(step));
  }
}
