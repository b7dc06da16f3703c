// Keras Tuner's HyperParameters: the search space a build function declares (Int, Float, Choice,
// Boolean, Fixed, conditional scopes) and the values of one trial. Each parameter maps its values
// to and from [0, 1] (log-scaled for log sampling, by index for choices), which the samplers and the
// Bayesian surrogate work in.
import * as check from '../util/check';
import { Random } from '../data/random';

/** A hyperparameter's value. */
export type HPValue = number | string | boolean;
/** How a numeric range is sampled: uniformly or log-uniformly. */
export type Sampling = 'linear' | 'log';

/** A parameter is active only when each condition's parent is active and holds one of its values. */
export interface Condition {
  name: string;
  values: HPValue[];
}

/** A hyperparameter's declaration as JSON. */
export interface HPConfig {
  className: 'Int' | 'Float' | 'Choice' | 'Boolean' | 'Fixed';
  name: string;
  default: HPValue;
  conditions: Condition[];
  minValue?: number;
  maxValue?: number;
  step?: number | null;
  sampling?: Sampling;
  values?: HPValue[];
  value?: HPValue;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string '${v}'`;
  if (typeof v === 'number') return String(v);
  return typeof v;
}

/** Rounds away float noise (0.1 + 2 * 0.1) so grid values print and compare as written. */
function tidyFloat(v: number): number {
  return Number(v.toPrecision(12));
}

/** Values per parameter GridSearch will enumerate. */
const MAX_GRID_VALUES = 100_000;

function clamp01(u: number): number {
  return u < 0 ? 0 : u > 1 ? 1 : u;
}

/** One declared parameter. */
export abstract class HyperParameter {
  constructor(readonly name: string, readonly defaultValue: HPValue, public conditions: Condition[] = []) {}
  abstract get className(): HPConfig['className'];
  /** The value at u in [0, 1] (u uniform gives the parameter's sampling distribution). */
  abstract fromUnit(u: number): HPValue;
  /** Where a value sits in [0, 1]; the inverse of fromUnit up to the parameter's resolution. */
  abstract toUnit(v: HPValue): number;
  /** Every value, in a stable order, for GridSearch. */
  abstract gridValues(): HPValue[];
  /** Whether v is a value this parameter can take. */
  abstract accepts(v: HPValue): boolean;
  protected abstract ownConfig(): Partial<HPConfig>;
  /** A random value from this hyperparameter's range. */
  randomSample(rng: Random): HPValue {
    return this.fromUnit(rng.next());
  }
  /** The hyperparameter's declaration as JSON (KerasTuner's get_config). */
  config(): HPConfig {
    return { className: this.className, name: this.name, default: this.defaultValue, conditions: this.conditions.map((c) => ({ ...c, values: [...c.values] })), ...this.ownConfig() };
  }
  /** The declaration without its conditions: what must match when a name is declared again. */
  signature(): string {
    const { conditions: _c, ...rest } = this.config();
    return JSON.stringify(rest);
  }
  /** Like the declaration: Int(32..512, step 32, linear, default 32). */
  toString(): string {
    const c = this.config();
    const parts: string[] = [];
    if (c.minValue !== undefined) parts.push(`${c.minValue}..${c.maxValue}`);
    if (c.step) parts.push(`step ${c.step}`);
    if (c.sampling) parts.push(c.sampling);
    if (c.values) parts.push(`[${c.values.map((v) => JSON.stringify(v)).join(', ')}]`);
    if (c.className === 'Fixed') parts.push(JSON.stringify(c.value));
    else parts.push(`default ${JSON.stringify(c.default)}`);
    return `${c.className}(${parts.join(', ')})`;
  }
}

/** Int and Float: a range, an optional step (a factor with log sampling), linear or log sampling. */
abstract class Numeric extends HyperParameter {
  constructor(name: string, dflt: number, conditions: Condition[], readonly minValue: number, readonly maxValue: number,
    readonly step: number | null, readonly sampling: Sampling) {
    super(name, dflt, conditions);
  }
  protected abstract readonly integer: boolean;
  /** How many values a stepped parameter has (null: continuous, or any integer for a log Int without step). */
  count(): number | null {
    if (this.step === null) return null;
    if (this.sampling === 'log') return Math.floor(Math.log(this.maxValue / this.minValue) / Math.log(this.step) + 1e-9) + 1;
    return Math.floor((this.maxValue - this.minValue) / this.step + 1e-9) + 1;
  }
  /** The k-th value of a stepped parameter. */
  private at(k: number): number {
    const v = this.sampling === 'log' ? this.minValue * this.step! ** k : this.minValue + k * this.step!;
    return this.integer ? Math.round(v) : tidyFloat(v);
  }
  fromUnit(u: number): number {
    u = clamp01(u);
    const n = this.count();
    if (n !== null) return this.at(Math.min(n - 1, Math.floor(u * n)));
    let v = this.sampling === 'log'
      ? Math.exp(Math.log(this.minValue) + u * (Math.log(this.maxValue) - Math.log(this.minValue)))
      : this.minValue + u * (this.maxValue - this.minValue);
    if (this.integer) v = Math.round(v);
    return Math.min(this.maxValue, Math.max(this.minValue, v));
  }
  toUnit(value: HPValue): number {
    const v = Number(value);
    const n = this.count();
    if (n !== null) {
      const k = this.sampling === 'log' ? Math.log(v / this.minValue) / Math.log(this.step!) : (v - this.minValue) / this.step!;
      return (Math.min(n - 1, Math.max(0, Math.round(k))) + 0.5) / n;
    }
    if (this.maxValue === this.minValue) return 0.5;
    if (this.sampling === 'log') return clamp01((Math.log(v) - Math.log(this.minValue)) / (Math.log(this.maxValue) - Math.log(this.minValue)));
    return clamp01((v - this.minValue) / (this.maxValue - this.minValue));
  }
  gridValues(): number[] {
    if (this.step === null && !this.integer) {
      throw new Error(`GridSearch: Float '${this.name}' has no step, so it has no grid; give it a step ` +
        `(hp.Float('${this.name}', { minValue: ${this.minValue}, maxValue: ${this.maxValue}, step: ... })) or use another tuner`);
    }
    // a log-sampled Int without a step may take any integer of its range
    const n = this.count() ?? this.maxValue - this.minValue + 1;
    if (n > MAX_GRID_VALUES) {
      throw new RangeError(`GridSearch: ${this.className} '${this.name}' has ${n} values (${this.toString()}); ` +
        `a grid takes at most ${MAX_GRID_VALUES} per parameter: give it a larger step`);
    }
    const out: number[] = [];
    for (let k = 0; k < n; k++) out.push(this.count() === null ? this.minValue + k : this.at(k));
    return [...new Set(out)];
  }
  accepts(v: HPValue): boolean {
    return typeof v === 'number' && v >= this.minValue && v <= this.maxValue && (!this.integer || Number.isInteger(v));
  }
  protected ownConfig(): Partial<HPConfig> {
    return { minValue: this.minValue, maxValue: this.maxValue, step: this.step, sampling: this.sampling };
  }
}

/** An integer hyperparameter (hp.Int). */
export class Int extends Numeric {
  protected readonly integer = true;
  get className(): 'Int' {
    return 'Int';
  }
}

/** A floating-point hyperparameter (hp.Float). */
export class Float extends Numeric {
  protected readonly integer = false;
  get className(): 'Float' {
    return 'Float';
  }
}

export class Choice extends HyperParameter {
  constructor(name: string, readonly values: HPValue[], dflt: HPValue, conditions: Condition[] = []) {
    super(name, dflt, conditions);
  }
  get className(): 'Choice' {
    return 'Choice';
  }
  fromUnit(u: number): HPValue {
    return this.values[Math.min(this.values.length - 1, Math.floor(clamp01(u) * this.values.length))];
  }
  toUnit(v: HPValue): number {
    const i = this.values.indexOf(v);
    return ((i < 0 ? 0 : i) + 0.5) / this.values.length;
  }
  gridValues(): HPValue[] {
    return [...this.values];
  }
  accepts(v: HPValue): boolean {
    return this.values.includes(v);
  }
  protected ownConfig(): Partial<HPConfig> {
    return { values: [...this.values] };
  }
}

export class BooleanHP extends HyperParameter {
  get className(): 'Boolean' {
    return 'Boolean';
  }
  fromUnit(u: number): boolean {
    return clamp01(u) >= 0.5;
  }
  toUnit(v: HPValue): number {
    return v ? 0.75 : 0.25;
  }
  gridValues(): boolean[] {
    return [false, true];
  }
  accepts(v: HPValue): boolean {
    return typeof v === 'boolean';
  }
  protected ownConfig(): Partial<HPConfig> {
    return {};
  }
}

export class Fixed extends HyperParameter {
  get className(): 'Fixed' {
    return 'Fixed';
  }
  get value(): HPValue {
    return this.defaultValue;
  }
  fromUnit(): HPValue {
    return this.defaultValue;
  }
  toUnit(): number {
    return 0.5;
  }
  gridValues(): HPValue[] {
    return [this.defaultValue];
  }
  accepts(v: HPValue): boolean {
    return v === this.defaultValue;
  }
  protected ownConfig(): Partial<HPConfig> {
    return { value: this.defaultValue };
  }
}

/** Options every declaration takes besides its own: the Keras Tuner spelling of a one-parameter conditional scope. */
export interface ConditionOptions {
  /** the parameter is active only when this parent parameter is active and holds one of parentValues */
  parentName?: string;
  parentValues?: HPValue | HPValue[];
}
export interface IntOptions extends ConditionOptions {
  minValue: number;
  maxValue: number;
  /** spacing of the values (linear), or the factor between them (log); default 1 linear, none (any integer) log */
  step?: number;
  sampling?: Sampling;
  default?: number;
}
export interface FloatOptions extends ConditionOptions {
  minValue: number;
  maxValue: number;
  /** spacing (linear) or factor (log); none: continuous */
  step?: number;
  sampling?: Sampling;
  default?: number;
}
export interface ChoiceOptions<T extends HPValue = HPValue> extends ConditionOptions {
  default?: T;
}
export interface BooleanOptions extends ConditionOptions {
  default?: boolean;
}

const NUMERIC_KEYS = ['minValue', 'maxValue', 'step', 'sampling', 'default', 'parentName', 'parentValues'];

function checkName(where: string, name: unknown): string {
  if (typeof name !== 'string' || !name) throw new TypeError(`${where}: expected a non-empty string for the name but received ${describe(name)}`);
  return name;
}

/** Options as Keras Tuner spells them (min_value) or camelCase (minValue); unknown names refused. */
function checkOptions(where: string, o: unknown, known: string[]): Record<string, unknown> {
  return check.options(where, o, known);
}

/** Keras Tuner's positional order after the name, then options: Int('units', 32, 512, 32) or Int('units', { minValue, ... }). */
function numericArgs(kind: 'Int' | 'Float', name: string, args: readonly unknown[]): Record<string, unknown> {
  return check.args(`hp.${kind}('${name}')`, args, ['minValue', 'maxValue', 'step', 'sampling', 'default'], ['parentName', 'parentValues']);
}

function isValue(v: unknown): v is HPValue {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean';
}

/** Validates Int/Float options into a parameter (without conditions). */
function numeric(kind: 'Int' | 'Float', name: string, opts: unknown): Numeric {
  const where = `hp.${kind}('${name}')`;
  const o = checkOptions(where, opts, NUMERIC_KEYS);
  const num = (key: string, v: unknown): number => {
    const ok = typeof v === 'number' && (kind === 'Int' ? Number.isSafeInteger(v) : Number.isFinite(v));
    if (!ok) throw new TypeError(`${where}: expected ${key} to be ${kind === 'Int' ? 'an integer' : 'a finite number'} but received ${describe(v)}`);
    return v as number;
  };
  const min = num('minValue', o.minValue);
  const max = num('maxValue', o.maxValue);
  if (min > max) throw new RangeError(`${where}: expected minValue <= maxValue but received minValue ${min} > maxValue ${max}`);
  const sampling = (o.sampling ?? 'linear') as Sampling;
  if (sampling !== 'linear' && sampling !== 'log') {
    throw new TypeError(`${where}: expected sampling 'linear' or 'log' but received ${describe(o.sampling)}`);
  }
  if (sampling === 'log' && !(min > 0)) {
    throw new RangeError(`${where}: log sampling needs positive bounds but received minValue ${min} (maxValue ${max})`);
  }
  let step: number | null = null;
  if (o.step !== undefined && o.step !== null) {
    if (typeof o.step !== 'number' || !Number.isFinite(o.step)) throw new TypeError(`${where}: expected step to be a positive number but received ${describe(o.step)}`);
    if (!(o.step > 0)) throw new RangeError(`${where}: expected step > 0 but received ${o.step}`);
    if (sampling === 'log' && !(o.step > 1)) {
      throw new RangeError(`${where}: with log sampling the step is the factor between values and must be > 1, but received ${o.step}`);
    }
    if (kind === 'Int' && sampling === 'linear' && !Number.isInteger(o.step)) {
      throw new TypeError(`${where}: expected an integer step but received ${o.step}`);
    }
    step = o.step;
  } else if (kind === 'Int' && sampling === 'linear') {
    step = 1;
  }
  const dflt = o.default === undefined ? min : num('default', o.default);
  if (dflt < min || dflt > max) throw new RangeError(`${where}: expected default in [${min}, ${max}] but received ${dflt}`);
  return kind === 'Int' ? new Int(name, dflt, [], min, max, step, sampling) : new Float(name, dflt, [], min, max, step, sampling);
}

/** Rebuilds a parameter from config() (trial.json, oracle.json). */
export function fromConfig(c: HPConfig): HyperParameter {
  const conditions = (c.conditions ?? []).map((x) => ({ name: x.name, values: [...x.values] }));
  switch (c.className) {
    case 'Int': return new Int(c.name, c.default as number, conditions, c.minValue!, c.maxValue!, c.step ?? null, c.sampling ?? 'linear');
    case 'Float': return new Float(c.name, c.default as number, conditions, c.minValue!, c.maxValue!, c.step ?? null, c.sampling ?? 'linear');
    case 'Choice': return new Choice(c.name, [...c.values!], c.default, conditions);
    case 'Boolean': return new BooleanHP(c.name, c.default, conditions);
    case 'Fixed': return new Fixed(c.name, c.value ?? c.default, conditions);
    default: throw new Error(`unknown hyperparameter class ${JSON.stringify((c as { className?: unknown }).className)}`);
  }
}

export interface HyperParametersJSON {
  space: HPConfig[];
  values: Record<string, HPValue>;
}

/**
 * The search space and one trial's values. A build function declares parameters and gets their
 * values back: `hp.Int('units', { minValue: 32, maxValue: 512, step: 32 })`. Parameters declared
 * inside `conditionalScope(parent, values, fn)` (or with `{ parentName, parentValues }`) are active
 * only while the parent holds one of those values.
 */
export class HyperParameters {
  /** The active parameters' values, by name (tuner-set entries such as 'tuner/epochs' included). */
  values: Record<string, HPValue> = {};
  private readonly params = new Map<string, HyperParameter>();
  private scopes: Condition[] = [];
  /** false: declaring a parameter not in the space is an error (the tuner's allowNewEntries) */
  allowNewEntries = true;
  /** condition stacks met while building, for the tuner to explore every branch of the space */
  activeScopes: Condition[][] = [];
  inactiveScopes: Condition[][] = [];

  /** The declared parameters, in declaration order. */
  get space(): HyperParameter[] {
    return [...this.params.values()];
  }

  /** An integer from minValue to maxValue (inclusive), `step` apart, linear or log-uniform. */
  Int(name: string, opts: IntOptions & { parentName: string }): number | null;
  Int(name: string, opts: IntOptions): number;
  Int(name: string, minValue: number, maxValue: number, step?: number | null, sampling?: Sampling, defaultValue?: number,
    opts?: ConditionOptions): number;
  Int(name: string, ...args: unknown[]): number | null {
    checkName('hp.Int', name);
    const o = numericArgs('Int', name, args);
    return this.retrieve(numeric('Int', name, o), o) as number | null;
  }

  /** A float from minValue to maxValue, continuous or `step` apart, linear or log-uniform. */
  Float(name: string, opts: FloatOptions & { parentName: string }): number | null;
  Float(name: string, opts: FloatOptions): number;
  Float(name: string, minValue: number, maxValue: number, step?: number | null, sampling?: Sampling, defaultValue?: number,
    opts?: ConditionOptions): number;
  Float(name: string, ...args: unknown[]): number | null {
    checkName('hp.Float', name);
    const o = numericArgs('Float', name, args);
    return this.retrieve(numeric('Float', name, o), o) as number | null;
  }

  /** One of values (numbers, strings or booleans, all of one type); default the first. */
  Choice<T extends HPValue>(name: string, values: readonly T[], opts: ChoiceOptions<T> & { parentName: string }): T | null;
  Choice<T extends HPValue>(name: string, values: readonly T[], opts?: ChoiceOptions<T>): T;
  Choice<T extends HPValue>(name: string, opts: ChoiceOptions<T> & { values: readonly T[]; parentName: string }): T | null;
  Choice<T extends HPValue>(name: string, opts: ChoiceOptions<T> & { values: readonly T[] }): T;
  Choice<T extends HPValue>(name: string, ...args: unknown[]): T | null {
    const where = `hp.Choice('${checkName('hp.Choice', name)}')`;
    // Choice('lr', [1e-2, 1e-3]) or Keras Tuner's keyword form Choice('lr', { values: [1e-2, 1e-3] })
    const o = check.args(where, args, ['values', 'ordered', 'default'], ['parentName', 'parentValues']);
    if (o.ordered !== undefined) throw new TypeError(`${where}: ordered is not supported (the tuners treat choices as unordered)`);
    const values = o.values as readonly T[];
    if (!Array.isArray(values) || values.length === 0) throw new TypeError(`${where}: expected a non-empty array of values but received ${describe(values)}`);
    for (const v of values) if (!isValue(v)) throw new TypeError(`${where}: expected values to be numbers, strings or booleans but one is ${describe(v)}`);
    const kinds = new Set(values.map((v) => typeof v));
    if (kinds.size > 1) throw new TypeError(`${where}: expected values of one type but received ${[...kinds].join(' and ')} values`);
    if (new Set(values).size !== values.length) throw new RangeError(`${where}: values must be distinct but received [${values.map((v) => JSON.stringify(v)).join(', ')}]`);
    const dflt = o.default === undefined ? values[0] : o.default;
    if (!values.includes(dflt as T)) throw new RangeError(`${where}: expected default to be one of the values but received ${describe(dflt)}`);
    return this.retrieve(new Choice(name, [...values], dflt as HPValue), o) as T | null;
  }

  /** true or false; default false. */
  Boolean(name: string, opts: BooleanOptions & { parentName: string }): boolean | null;
  Boolean(name: string, opts?: BooleanOptions): boolean;
  Boolean(name: string, defaultValue: boolean, opts?: ConditionOptions): boolean;
  Boolean(name: string, ...args: unknown[]): boolean | null {
    const where = `hp.Boolean('${checkName('hp.Boolean', name)}')`;
    const o = check.args(where, args, ['default'], ['parentName', 'parentValues']);
    if (o.default !== undefined && typeof o.default !== 'boolean') throw new TypeError(`${where}: expected default to be a boolean but received ${describe(o.default)}`);
    return this.retrieve(new BooleanHP(name, (o.default as boolean | undefined) ?? false), o) as boolean | null;
  }

  /** A value that is not tuned (recorded with the trial's values). */
  Fixed<T extends HPValue>(name: string, value: T, opts?: ConditionOptions): T {
    const where = `hp.Fixed('${checkName('hp.Fixed', name)}')`;
    const o = checkOptions(where, opts, ['parentName', 'parentValues']);
    if (!isValue(value)) throw new TypeError(`${where}: expected a number, string or boolean but received ${describe(value)}`);
    return this.retrieve(new Fixed(name, value), o) as T;
  }

  /**
   * Runs fn with the parameters it declares active only when `parentName` holds one of
   * parentValues; when it does not, fn is not run and this returns undefined (Keras Tuner's
   * `with hp.conditional_scope(parent_name, parent_values):`).
   */
  conditionalScope<R>(parentName: string, parentValues: HPValue | HPValue[], fn: () => R): R | undefined {
    const cond = this.condition('hp.conditionalScope', parentName, parentValues);
    if (typeof fn !== 'function') throw new TypeError(`hp.conditionalScope('${parentName}'): expected a function to run in the scope but received ${describe(fn)}`);
    const stack = [...this.scopes, cond];
    if (!this.conditionsActive(stack)) {
      this.inactiveScopes.push(stack);
      return undefined;
    }
    this.activeScopes.push(stack);
    const saved = this.scopes;
    this.scopes = stack;
    try {
      return fn();
    } finally {
      this.scopes = saved;
    }
  }

  /** The value of an active parameter; null for a declared but inactive one. */
  get(name: string): HPValue | null {
    if (name in this.values && (!this.params.has(name) || this.isActive(name))) return this.values[name];
    if (this.params.has(name)) return this.isActive(name) ? this.params.get(name)!.defaultValue : null;
    throw new Error(`hp.get: no hyperparameter named '${name}'; declared: ${[...this.params.keys()].join(', ') || 'none'}`);
  }

  /** Whether a hyperparameter of this name was declared. */
  has(name: string): boolean {
    return this.params.has(name);
  }
  /** The declared hyperparameter of this name, if any. */
  param(name: string): HyperParameter | undefined {
    return this.params.get(name);
  }

  /** Whether a parameter's conditions hold for the current values. */
  isActive(p: string | HyperParameter): boolean {
    const hp = typeof p === 'string' ? this.params.get(p) : p;
    if (!hp) return false;
    return this.conditionsActive(hp.conditions);
  }

  /** Whether every condition holds for the current values (conditional hyperparameters). */
  conditionsActive(conditions: Condition[]): boolean {
    for (const c of conditions) {
      const parent = this.params.get(c.name);
      if (parent && !this.conditionsActive(parent.conditions)) return false;
      const v = c.name in this.values ? this.values[c.name] : parent?.defaultValue;
      if (v === undefined || !c.values.includes(v)) return false;
    }
    return true;
  }

  /** Adds a parameter to the space (no value); used by the oracle to merge spaces. */
  register(hp: HyperParameter): void {
    const old = this.params.get(hp.name);
    if (old) {
      // a Fixed entry in the tuner's hyperparameters pins a parameter the build declares (Keras Tuner's override)
      if (old instanceof Fixed && !(hp instanceof Fixed) && hp.accepts(old.value)) return;
      if (old.signature() !== hp.signature()) {
        throw new Error(`hyperparameter '${hp.name}' is already defined as ${old.toString()} and cannot be redefined as ${hp.toString()}; ` +
          'use another name or the same declaration');
      }
      return;
    }
    this.params.set(hp.name, hp);
  }

  /** A deep copy: same space, same values. */
  copy(): HyperParameters {
    const c = new HyperParameters();
    for (const p of this.params.values()) c.params.set(p.name, fromConfig(p.config()));
    c.values = { ...this.values };
    c.allowNewEntries = this.allowNewEntries;
    return c;
  }

  /** The declarations and values as JSON. */
  toJSON(): HyperParametersJSON {
    return { space: this.space.map((p) => p.config()), values: { ...this.values } };
  }
  /** Rebuilds HyperParameters from toJSON()'s output. */
  static fromJSON(j: HyperParametersJSON): HyperParameters {
    const hp = new HyperParameters();
    for (const c of j.space ?? []) hp.params.set(c.name, fromConfig(c));
    hp.values = { ...(j.values ?? {}) };
    return hp;
  }

  /** The active parameters' values without the tuner's own 'tuner/...' entries. */
  userValues(): Record<string, HPValue> {
    return Object.fromEntries(Object.entries(this.values).filter(([k]) => !k.startsWith('tuner/') && (!this.params.has(k) || this.isActive(k))));
  }

  private condition(where: string, parentName: unknown, parentValues: unknown): Condition {
    if (typeof parentName !== 'string' || !parentName) throw new TypeError(`${where}: expected parentName to be a parameter name but received ${describe(parentName)}`);
    const vals = Array.isArray(parentValues) ? parentValues : [parentValues];
    if (vals.length === 0 || !vals.every(isValue)) {
      throw new TypeError(`${where}: expected parentValues to be a value or a non-empty array of values of '${parentName}' but received ${describe(parentValues)}`);
    }
    const parent = this.params.get(parentName);
    if (!parent) throw new Error(`${where}: parent '${parentName}' is not declared; declare it before the parameters that depend on it`);
    const bad = vals.find((v) => !parent.accepts(v));
    if (bad !== undefined) throw new RangeError(`${where}: '${parentName}' is ${parent.toString()} and cannot take the parent value ${describe(bad)}`);
    return { name: parentName, values: [...vals] };
  }

  /** Declares (or finds) a parameter and returns its value, or null when it is inactive. */
  private retrieve(hp: HyperParameter, o: ConditionOptions): HPValue | null {
    let conditions = [...this.scopes];
    if (o.parentName !== undefined || o.parentValues !== undefined) {
      if (o.parentName === undefined || o.parentValues === undefined) {
        throw new TypeError(`hp.${hp.className}('${hp.name}'): parentName and parentValues go together; received only ${o.parentName === undefined ? 'parentValues' : 'parentName'}`);
      }
      conditions = [...conditions, this.condition(`hp.${hp.className}('${hp.name}')`, o.parentName, o.parentValues)];
    }
    hp.conditions = conditions;
    const old = this.params.get(hp.name);
    if (old) {
      this.register(hp); // throws on a different declaration
    } else {
      if (!this.allowNewEntries) {
        throw new Error(`hyperparameter '${hp.name}' is not in the search space and allowNewEntries is false; declare it in the ` +
          "tuner's hyperparameters option or allow new entries");
      }
      this.params.set(hp.name, hp);
    }
    const p = this.params.get(hp.name)!;
    if (!this.isActive(p)) return null;
    if (!(p.name in this.values) || !p.accepts(this.values[p.name])) this.values[p.name] = p.defaultValue;
    return this.values[p.name];
  }
}

/** A key for a trial's values, to spot a combination already tried. */
export function valuesKey(values: Record<string, HPValue>): string {
  return JSON.stringify(Object.keys(values).filter((k) => !k.startsWith('tuner/')).sort().map((k) => [k, values[k]]));
}

/** Values for the space's active parameters, each drawn by pick(param) in declaration order. */
export function sampleValues(space: HyperParameter[], pick: (p: HyperParameter, index: number) => HPValue): Record<string, HPValue> {
  const hp = new HyperParameters();
  for (const p of space) hp.register(fromConfig(p.config()));
  space.forEach((p, i) => {
    if (hp.isActive(p.name)) hp.values[p.name] = pick(p, i);
  });
  return hp.values;
}

/** Every combination of the space's active values, the first parameter varying slowest. */
export function* gridCombinations(space: HyperParameter[]): Generator<Record<string, HPValue>> {
  const hp = new HyperParameters();
  for (const p of space) hp.register(fromConfig(p.config()));
  const lists = space.map((p) => p.gridValues()); // throws early for a Float without a step
  function* walk(i: number): Generator<Record<string, HPValue>> {
    if (i === space.length) {
      yield { ...hp.values };
      return;
    }
    const p = space[i];
    if (!hp.isActive(p.name)) {
      yield* walk(i + 1);
      return;
    }
    for (const v of lists[i]) {
      hp.values[p.name] = v;
      yield* walk(i + 1);
    }
    delete hp.values[p.name];
  }
  yield* walk(0);
}
