// The Optimizer base class over native torch::optim: parameter groups whose options reach the
// native optimizer when set (schedulers rely on it), and state dicts in PyTorch's own format.
import * as check from '../util/check';
import { native, NativeObject, Handle } from '../native';
import { Tensor, typeOfValue, wrap } from '../tensor';
import { isFloating } from '../dtype';
import { enableGrad } from '../autograd';

/** How an option is checked and sent to native code. */
export interface OptionSpec {
  /** camelCase name in nodetorch */
  key: string;
  /** PyTorch's snake_case name (native code and state dicts) */
  py: string;
  /** how the value is checked */
  type: 'nonneg' | 'number' | 'bool' | 'betas';
}

/** A parameter group: its parameters, its options (setting one reaches the optimizer) and any extra keys (schedulers add initialLr...). */
export interface ParamGroup {
  /** the group's parameters */
  params: Tensor[];
  /** the group's learning rate (schedulers set it) */
  lr: number;
  [option: string]: unknown;
}

/** What a constructor or addParamGroup() accepts as a group. */
export type ParamGroupInput<O> = { params: Iterable<Tensor> } & O;

/** An optimizer's first argument: the parameters (as model.parameters() gives them), or parameter groups with their own options (torch.optim's params). */
export type Params<O> = Iterable<Tensor> | Iterable<ParamGroupInput<O>>;

/** PyTorch's optimizer state_dict(): state per parameter index, and the groups' options with parameter indices. */
export interface OptimizerStateDict {
  /** per parameter index: its state tensors (exp_avg...) and step */
  state: Record<number, Record<string, Tensor | number>>;
  /** each group's options (PyTorch's names) with its parameters as indices */
  param_groups: Record<string, unknown>[];
}

/** PyTorch keys that nodetorch accepts in a loaded state dict but does not use. */
const IGNORED_PY_KEYS = new Set(['foreach', 'capturable', 'differentiable', 'fused']);

/** A short description of a value for error messages. */
export function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return `array [${v.slice(0, 4).map((e) => (typeof e === 'number' ? String(e) : typeOfValue(e))).join(', ')}]`;
  return typeOfValue(v);
}

// The one set of validators (lib/util/check.ts); re-exported under the names this domain used.
/** Name converters: weightDecay <-> weight_decay (from lib/util/check.ts). */
export const { camelToSnake, snakeToCamel } = check;
/** Whether v is a plain object (check.is.plainObject under this domain's name). */
export const isPlainObject = check.is.plainObject;

/** Checks one option value; returns it normalized (betas as a frozen pair). */
/** float32's largest value: a rate or factor beyond it cannot be applied to float32 parameters. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The one check of a learning rate (and of every other non-negative optimizer factor): a finite
 * number, >= 0, that float32 parameters can be scaled by. Throws naming where and which option.
 */
export function checkRate(where: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0)) {
    const err = typeof v === 'number' ? RangeError : TypeError;
    throw new err(`${where}: expected ${key} to be a non-negative number but received ${show(v)}`);
  }
  if (!(v <= FLOAT32_MAX)) {
    throw new RangeError(`${where}: expected ${key} to be a non-negative number at most 3.4e38 (float32's largest) but received ${show(v)}`);
  }
  return v;
}

function checkOption(where: string, spec: OptionSpec, v: unknown): number | boolean | readonly number[] {
  switch (spec.type) {
    case 'bool':
      if (typeof v !== 'boolean') throw new TypeError(`${where}: expected ${spec.key} to be a boolean but received ${show(v)}`);
      return v;
    case 'betas': {
      if (!Array.isArray(v) && !(v !== null && typeof v === 'object' && Symbol.iterator in v)) {
        throw new TypeError(`${where}: expected betas to be [beta1, beta2] with each in [0, 1) but received ${show(v)}`);
      }
      const b = [...(v as Iterable<unknown>)];
      if (b.length !== 2 || !b.every((x) => typeof x === 'number' && x >= 0 && x < 1)) {
        throw new RangeError(`${where}: expected betas to be [beta1, beta2] with each in [0, 1) but received ${show(b)}`);
      }
      return Object.freeze(b as number[]);
    }
    case 'nonneg':
      return checkRate(where, spec.key, v);
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${where}: expected ${spec.key} to be a finite number but received ${show(v)}`);
      return v;
  }
}

function toNative(spec: OptionSpec, v: number | boolean | readonly number[]): number | boolean | number[] {
  return Array.isArray(v) ? [...(v as number[])] : (v as number | boolean);
}

function checkParam(where: string, v: unknown, label: string): Tensor {
  if (!(v instanceof Tensor)) {
    throw new TypeError(`${where}: expected ${label} to be a Tensor but received ${typeOfValue(v)}`);
  }
  if (v.isDisposed) throw new Error(`${where}: ${label} is a disposed Tensor`);
  if (!isFloating(v.dtype)) {
    throw new TypeError(`${where}: can only optimize floating-point tensors but ${label} is ${v.dtype}`);
  }
  if (!v.isLeaf) throw new Error(`${where}: can't optimize a non-leaf Tensor (${label}); optimize the tensors it was computed from`);
  return v;
}

function toArray(where: string, v: unknown, what: string): unknown[] {
  if (v instanceof Tensor) {
    throw new TypeError(`${where}: ${what} should be an iterable of Tensors or parameter groups, but received a single Tensor: wrap it in an array`);
  }
  if (typeof v === 'string' || v === null || typeof v !== 'object' || !(Symbol.iterator in v)) {
    throw new TypeError(`${where}: expected ${what} to be an array (or iterable) of Tensors or parameter groups but received ${typeOfValue(v)}`);
  }
  return [...(v as Iterable<unknown>)];
}

/**
 * Base of all optimizers. Subclasses give the native kind, the option specs and the defaults.
 * Every option value lives in the native optimizer; the group objects mirror them.
 */
export abstract class Optimizer<O extends object = Record<string, unknown>> {
  /** The constructor's options merged with the defaults. */
  readonly defaults: Readonly<Required<O>>;
  /** The parameter groups with their options (PyTorch's param_groups); setting an option reaches the native optimizer. */
  readonly paramGroups: (ParamGroup & Required<O>)[] = [];
  /** @internal the native torch::optim optimizer */
  readonly _native: NativeObject;
  /** @internal */
  protected readonly _name: string;
  /** @internal */
  protected readonly _specs: readonly OptionSpec[];

  /** @internal checks across options (SGD's nesterov) */
  private readonly _check: ((o: Record<string, unknown>, where: string) => void) | undefined;

  protected constructor(name: string, specs: readonly OptionSpec[], builtin: Required<O>, params: Params<O>, options: O | undefined,
    check?: (o: Required<O>, where: string) => void) {
    this._name = name;
    this._specs = specs;
    this._check = check as ((o: Record<string, unknown>, where: string) => void) | undefined;
    if (options !== undefined && options !== null && !isPlainObject(options)) {
      throw new TypeError(`${name}: expected options to be an object but received ${typeOfValue(options)}`);
    }
    this.defaults = Object.freeze({ ...builtin, ...this.checkOptions(options ?? {}, 'options') }) as Readonly<Required<O>>;
    check?.(this.defaults, 'the options');
    const groups = toArray(name, params, 'params');
    if (groups.length === 0) throw new Error(`${name}: optimizer got an empty parameter list`);
    const inputs: Record<string, unknown>[] = groups[0] instanceof Tensor ? [{ params: groups }] : (groups as Record<string, unknown>[]);
    // everything is checked before the native optimizer is made, so a bad group leaves nothing behind
    const checked = inputs.map((g, i) => this.checkGroup(g, inputs.length === 1 && groups[0] instanceof Tensor ? null : i));
    const seen = new Set<Tensor>();
    for (const c of checked) {
      for (const p of c.params) {
        if (seen.has(p)) throw new Error(`${name}: some parameters appear in more than one parameter group`);
        seen.add(p);
      }
    }
    this._native = native.optim_create(name, this.nativeOptions(this.defaults as Record<string, unknown>));
    for (const c of checked) this.addChecked(c.params, c.options);
  }

  /** Checks option names and values; returns them by camelCase name. */
  private checkOptions(o: Record<string, unknown>, what: string, allowParams = false): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (allowParams && k === 'params') continue;
      const spec = this._specs.find((s) => s.key === k);
      if (!spec) {
        throw new TypeError(`${this._name}: unknown option '${k}' in ${what}; known options: ${this._specs.map((s) => s.key).join(', ')}`);
      }
      if (v === undefined) continue;
      out[k] = checkOption(this._name, spec, v);
    }
    return out;
  }

  private nativeOptions(values: Record<string, unknown>): Record<string, number | boolean | number[]> {
    const out: Record<string, number | boolean | number[]> = {};
    for (const s of this._specs) {
      if (values[s.key] !== undefined) out[s.py] = toNative(s, values[s.key] as number | boolean | readonly number[]);
    }
    return out;
  }

  private checkGroup(g: unknown, index: number | null): { params: Tensor[]; options: Record<string, unknown> } {
    const what = index === null ? 'params' : `parameter group ${index}`;
    if (!isPlainObject(g)) {
      throw new TypeError(`${this._name}: expected ${what} to be a Tensor or a { params: Tensor[], ...options } group but received ${typeOfValue(g)}`);
    }
    if (!('params' in g)) throw new TypeError(`${this._name}: ${what} has no params`);
    const list = g.params instanceof Tensor ? [g.params] : toArray(this._name, g.params, `${what}.params`);
    if (list.length === 0) throw new Error(`${this._name}: optimizer got an empty parameter list${index === null ? '' : ` in ${what}`}`);
    const params = list.map((p, i) => checkParam(this._name, p, index === null ? `params[${i}]` : `${what}.params[${i}]`));
    if (new Set(params).size !== params.length) throw new Error(`${this._name}: ${what} contains a parameter more than once`);
    const options = { ...this.defaults, ...this.checkOptions(g, what, true) };
    this._check?.(options, what);
    return { params, options };
  }

  private addChecked(params: Tensor[], options: Record<string, unknown>): void {
    const index = this.paramGroups.length;
    native.optim_add_param_group(this._native, params.map((p) => p._h), this.nativeOptions(options));
    const values = { ...options };
    const group = { params } as ParamGroup & Required<O>;
    for (const spec of this._specs) {
      Object.defineProperty(group, spec.key, {
        enumerable: true,
        get: () => values[spec.key],
        set: (v: unknown) => {
          const c = checkOption(this._name, spec, v);
          native.optim_set_group_options(this._native, index, { [spec.py]: toNative(spec, c) });
          values[spec.key] = c;
        },
      });
    }
    this.paramGroups.push(group);
  }

  /** Adds a parameter group (fine-tuning a layer later, as PyTorch's add_param_group). */
  addParamGroup(group: ParamGroupInput<O>): void {
    const c = this.checkGroup(group, this.paramGroups.length);
    const existing = new Set(this.paramGroups.flatMap((g) => g.params));
    if (c.params.some((p) => existing.has(p))) throw new Error(`${this._name}: some parameters appear in more than one parameter group`);
    this.addChecked(c.params, c.options);
  }

  /**
   * One optimization step over every parameter that has a gradient. A closure (which recomputes
   * the loss) is called first with gradients enabled, as in PyTorch; its result is returned.
   */
  step<T = void>(closure?: () => T): T | undefined {
    let loss: T | undefined;
    if (closure !== undefined && closure !== null) {
      if (typeof closure !== 'function') throw new TypeError(`${this._name}.step: expected closure to be a function but received ${typeOfValue(closure)}`);
      loss = enableGrad(closure);
    }
    native.optim_step(this._native);
    return loss;
  }

  /** Clears the gradients: sets them to null (the PyTorch 2.x default) or zeroes them in place. */
  zeroGrad(setToNone = true): void {
    if (typeof setToNone !== 'boolean') throw new TypeError(`${this._name}.zeroGrad: expected setToNone to be a boolean but received ${show(setToNone)}`);
    native.optim_zero_grad(this._native, setToNone);
  }

  /**
   * The state in PyTorch's format and key names (exp_avg, momentum_buffer, step...). Tensors are
   * copies: later steps do not change them.
   */
  stateDict(): OptimizerStateDict {
    const states = native.optim_state(this._native);
    const state: Record<number, Record<string, Tensor | number>> = {};
    states.forEach((s, i) => {
      if (s === null) return;
      const e: Record<string, Tensor | number> = {};
      for (const [k, v] of Object.entries(s)) e[k] = k === 'step' ? v : wrap(v as Handle);
      state[i] = e;
    });
    let next = 0;
    const param_groups = this.paramGroups.map((g, i) => {
      const o: Record<string, unknown> = native.optim_param_group(this._native, i);
      for (const [k, v] of Object.entries(g)) {
        if (k === 'params' || this._specs.some((s) => s.key === k) || v === undefined) continue;
        o[camelToSnake(k)] = v; // scheduler keys: initial_lr, max_lr...
      }
      o.params = g.params.map(() => next++);
      return o;
    });
    return { state, param_groups };
  }

  /** Restores a stateDict() (this optimizer's or PyTorch's layout): resuming gives identical next steps. */
  loadStateDict(sd: OptimizerStateDict): void {
    const where = `${this._name}.loadStateDict`;
    if (!isPlainObject(sd) || !Array.isArray(sd.param_groups) || (sd.state !== undefined && (sd.state === null || typeof sd.state !== 'object'))) {
      throw new TypeError(`${where}: expected { state, param_groups } as stateDict() returns but received ${typeOfValue(sd)}`);
    }
    const saved = sd.param_groups;
    if (saved.length !== this.paramGroups.length) {
      throw new Error(`${where}: the state dict has ${saved.length} parameter group(s) but the optimizer has ${this.paramGroups.length}`);
    }
    const groupOptions: Record<string, unknown>[] = [];
    const extras: Record<string, unknown>[] = [];
    const states: (Record<string, Handle | number> | null)[] = [];
    saved.forEach((g, gi) => {
      if (!isPlainObject(g) || !Array.isArray(g.params)) throw new TypeError(`${where}: param_groups[${gi}] should be an object with a params array`);
      const mine = this.paramGroups[gi].params;
      if (g.params.length !== mine.length) {
        throw new Error(`${where}: param_groups[${gi}] has ${g.params.length} parameter(s) but the optimizer's group has ${mine.length}`);
      }
      const opts: Record<string, unknown> = {};
      const extra: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) {
        if (k === 'params' || IGNORED_PY_KEYS.has(k)) continue;
        if (k === 'maximize') {
          if (v) throw new Error(`${where}: maximize=true is not supported`);
          continue;
        }
        const spec = this._specs.find((s) => s.py === k || s.key === k);
        if (spec) opts[spec.key] = checkOption(where, spec, v);
        else extra[snakeToCamel(k)] = v;
      }
      groupOptions.push(opts);
      extras.push(extra);
      for (const id of g.params as unknown[]) {
        const s = (sd.state as Record<string, unknown> | undefined)?.[String(id)];
        if (s === undefined || s === null) {
          states.push(null);
          continue;
        }
        if (!isPlainObject(s)) throw new TypeError(`${where}: state[${String(id)}] should be an object but received ${typeOfValue(s)}`);
        const e: Record<string, Handle | number> = {};
        for (const [k, v] of Object.entries(s)) {
          if (v instanceof Tensor) {
            if (v.isDisposed) throw new Error(`${where}: state[${String(id)}].${k} is a disposed Tensor`);
            e[k] = k === 'step' ? Number(v.item()) : v._h;
          } else if (typeof v === 'number' && k === 'step') {
            e[k] = v;
          } else if (v !== null && v !== undefined) {
            throw new TypeError(`${where}: state[${String(id)}].${k} should be a Tensor${k === 'step' ? ' or a number' : ''} but received ${typeOfValue(v)}`);
          }
        }
        states.push(e);
      }
    });
    native.optim_load_state(this._native, states);
    this.paramGroups.forEach((g, gi) => {
      for (const [k, v] of Object.entries(groupOptions[gi])) (g as Record<string, unknown>)[k] = v;
      Object.assign(g, extras[gi]);
    });
  }
}
