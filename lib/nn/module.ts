// nn.Module and nn.Parameter: the PyTorch module tree in TypeScript. Submodules and parameters
// assigned as fields are found by scanning the instance (in declaration order, as PyTorch sees
// attribute assignments); register*() does the same explicitly and is the only way to add buffers.
import { native } from '../native';
import { DType, isFloating, parseDtype, isDtypeName } from '../dtype';
import { trackPersistent } from '../memory';
import { noGrad } from '../autograd';
import { checkTensor, deviceString, DeviceLike, Tensor, typeOfValue } from '../tensor';
import { CALL, Callable, isObjectLike } from '../callable';

/** A Tensor that a Module registers as a learnable parameter (requiresGrad by default). */
export class Parameter extends Tensor {
  /** Shares data with `data` (as torch.nn.Parameter does). */
  constructor(data: Tensor, requiresGrad = true) {
    checkTensor(data, 'Parameter', 'data');
    if (requiresGrad && !isFloating(data.dtype)) {
      throw new TypeError(`Parameter: only floating-point tensors can require gradients, not ${data.dtype}; pass ` +
        'requiresGrad = false for an integer parameter');
    }
    super(native.tensor_detach(data._h));
    trackPersistent(this);
    if (requiresGrad) native.tensor_requires_grad_(this._h, true);
  }

  /** @internal wraps a handle the native side already owns for a module (no copy, no detach) */
  static fromHandle(h: number): Parameter {
    const p = Object.create(Parameter.prototype) as Parameter;
    p._h = h;
    p._keep = false;
    p._meta = undefined;
    p._shape = undefined;
    trackPersistent(p);
    return p;
  }
}

/** A buffer tensor from a native module: persistent like a Parameter, but a plain Tensor. */
export function persistentTensor(h: number): Tensor {
  const t = new Tensor(h);
  trackPersistent(t);
  return t;
}

/** What loadStateDict reports: the keys the module expected but did not get, and those it did not expect. */
export interface StateDictLoadResult { missingKeys: string[]; unexpectedKeys: string[] }
/** Parameters and persistent buffers by PyTorch's dotted key names (fc1.weight). */
export type StateDict = Record<string, Tensor>;

const INTERNAL = new Set(['training']);

function checkName(owner: Module, kind: string, name: unknown): string {
  if (typeof name !== 'string' || name === '' || name.includes('.')) {
    throw new TypeError(`${owner.constructor.name}.${kind}: expected a non-empty name without '.' but received ` +
      typeOfValue(name));
  }
  return name;
}

function checkPrefix(owner: Module, op: string, prefix: unknown): void {
  if (typeof prefix !== 'string') {
    throw new TypeError(`${owner.constructor.name}.${op}: expected prefix to be a string but received ${typeOfValue(prefix)}`);
  }
}

/** Python's float repr, as PyTorch's printouts use it (1e-05, 0.1, 1.0). */
export function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x !== 0 && (Math.abs(x) < 1e-4 || Math.abs(x) >= 1e16)) {
    const [m, e] = x.toExponential().split('e');
    const sign = e[0] === '-' ? '-' : '+';
    const digits = e.replace(/^[+-]/, '');
    return `${m}e${sign}${digits.padStart(2, '0')}`;
  }
  return Number.isInteger(x) ? `${x}.0` : String(x);
}
export const pyBool = (b: boolean): string => (b ? 'True' : 'False');
/** (3, 3) for a 2-tuple, as PyTorch prints kernel sizes. */
export const pyTuple = (v: readonly number[]): string => (v.length === 1 ? `(${v[0]},)` : `(${v.join(', ')})`);

function indent(s: string): string {
  return s.split('\n').map((l, i) => (i === 0 ? l : `  ${l}`)).join('\n');
}

interface ToTarget { dtype?: DType; device?: string }

function parseTo(target: unknown): ToTarget {
  if (typeof target === 'string') {
    if (isDtypeName(target)) return { dtype: parseDtype(target, 'Module.to') };
    return { device: deviceString(target, 'Module.to') };
  }
  if (isObjectLike(target)) {
    const o = target as { dtype?: unknown; device?: unknown };
    if (o.dtype === undefined && o.device === undefined && typeof (target as object).toString === 'function' &&
        !Object.prototype.hasOwnProperty.call(target, 'toString') && (target as object).constructor !== Object) {
      return { device: deviceString(target as DeviceLike, 'Module.to') };
    }
    return {
      dtype: o.dtype === undefined ? undefined : parseDtype(o.dtype, 'Module.to'),
      device: o.device === undefined ? undefined : deviceString(o.device as DeviceLike, 'Module.to'),
    };
  }
  throw new TypeError(`Module.to: expected a dtype ('float64'), a device ('cuda') or { dtype, device } but received ` +
    typeOfValue(target));
}

/** What registerForwardHook / registerForwardPreHook return: remove() unregisters the hook. */
export interface RemovableHandle {
  /** the hook's id */
  readonly id: number;
  /** Unregisters the hook (PyTorch's handle.remove()); a second call does nothing. */
  remove(): void;
}

/** Runs before forward with the call's arguments; returning an array replaces them. */
export type ForwardPreHook = (module: Module, args: unknown[]) => unknown[] | void;
/** Runs after forward with the arguments and output; returning a value other than undefined replaces the output. */
export type ForwardHook = (module: Module, args: unknown[], output: unknown) => unknown;

let nextHookId = 0;

/**
 * Modules are callable, as in PyTorch: `net(x)` runs the forward pre-hooks, `forward(x)` and the
 * forward hooks, and returns forward's result (typed from the subclass's forward).
 */
// The merge gives instances their call signature; Callable's constructor makes it true at run time.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Module {
  /** Calling the module runs forward with its hooks: net(x), as in PyTorch. */
  (...args: Parameters<this['forward']>): ReturnType<this['forward']>;
}

/** Base class of every PyTorch-style module: parameters, buffers, submodules, modes, state dicts, hooks. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class Module extends Callable {
  training = true;
  /** @internal */ readonly _parameters = new Map<string, Parameter | null>();
  /** @internal */ readonly _buffers = new Map<string, Tensor | null>();
  /** @internal */ readonly _nonPersistent = new Set<string>();
  /** @internal */ readonly _modules = new Map<string, Module | null>();
  /** @internal */ readonly _forwardPreHooks = new Map<number, ForwardPreHook>();
  /** @internal */ readonly _forwardHooks = new Map<number, ForwardHook>();

  /** The module's computation; call the module (net(x)) rather than forward, so hooks run. */
  abstract forward(...args: never[]): unknown;

  /** `module(...args)`: PyTorch's __call__. */
  protected [CALL](...args: unknown[]): unknown {
    let a = args;
    for (const hook of [...this._forwardPreHooks.values()]) {
      const r = hook(this, a);
      if (r !== undefined) a = Array.isArray(r) ? r : [r];
    }
    let out = (this.forward as (...x: unknown[]) => unknown)(...a);
    for (const hook of [...this._forwardHooks.values()]) {
      const r = hook(this, a, out);
      if (r !== undefined) out = r;
    }
    return out;
  }

  /** A function called before every forward through `module(...)`, as register_forward_pre_hook. */
  registerForwardPreHook(hook: ForwardPreHook): RemovableHandle {
    return this.addHook(this._forwardPreHooks, hook, 'registerForwardPreHook');
  }

  /** A function called after every forward through `module(...)`, as register_forward_hook. */
  registerForwardHook(hook: ForwardHook): RemovableHandle {
    return this.addHook(this._forwardHooks, hook, 'registerForwardHook');
  }

  private addHook<H>(map: Map<number, H>, hook: H, where: string): RemovableHandle {
    if (typeof hook !== 'function') {
      throw new TypeError(`${this.constructor.name}.${where}: expected a function but received ${typeOfValue(hook)}`);
    }
    const id = nextHookId++;
    map.set(id, hook);
    return { id, remove: () => { map.delete(id); } };
  }

  /** Registers a submodule under name (PyTorch's add_module); returns it, so a field can hold it. */
  register<M extends Module | null>(name: string, module: M): M {
    checkName(this, 'register', name);
    if (module !== null && !(module instanceof Module)) {
      throw new TypeError(`${this.constructor.name}.register: expected a Module for '${name}' but received ${typeOfValue(module)}`);
    }
    this.claim(name, 'module');
    this._modules.set(name, module);
    this.setField(name, module);
    return module;
  }
  /** Registers a child module (or null) under name, as PyTorch's register_module. */
  registerModule<M extends Module | null>(name: string, module: M): M {
    return this.register(name, module);
  }

  /** Registers a Parameter (or null) under name, as PyTorch's register_parameter. */
  registerParameter(name: string, param: Parameter | null): Parameter | null {
    checkName(this, 'registerParameter', name);
    if (param !== null && !(param instanceof Parameter)) {
      throw new TypeError(`${this.constructor.name}.registerParameter: expected an nn.Parameter for '${name}' but ` +
        `received ${(param as unknown) instanceof Tensor ? 'a plain Tensor (wrap it: new nn.Parameter(t))' : typeOfValue(param)}`);
    }
    this.claim(name, 'parameter');
    this._parameters.set(name, param);
    this.setField(name, param);
    return param;
  }

  /** A tensor that is part of the module's state but not trained (running statistics). */
  registerBuffer(name: string, tensor: Tensor | null, opts: { persistent?: boolean } = {}): Tensor | null {
    checkName(this, 'registerBuffer', name);
    if (tensor !== null) checkTensor(tensor, `${this.constructor.name}.registerBuffer`, name);
    this.claim(name, 'buffer');
    if (tensor) trackPersistent(tensor);
    this._buffers.set(name, tensor);
    if (opts.persistent === false) this._nonPersistent.add(name);
    else this._nonPersistent.delete(name);
    this.setField(name, tensor);
    return tensor;
  }

  private claim(name: string, as: 'module' | 'parameter' | 'buffer'): void {
    const taken = this._modules.has(name) ? 'module' : this._parameters.has(name) ? 'parameter'
      : this._buffers.has(name) ? 'buffer' : null;
    if (taken && taken !== as) {
      throw new Error(`${this.constructor.name}: '${name}' is already a ${taken}; it cannot also be a ${as}`);
    }
  }

  private setField(name: string, v: unknown): void {
    // A name that a method or getter already has (e.g. 'forward', 'length') stays reachable through the maps only.
    if (name in this && !Object.prototype.hasOwnProperty.call(this, name)) return;
    const d = Object.getOwnPropertyDescriptor(this, name);
    if (!d || d.writable) (this as Record<string, unknown>)[name] = v;
  }

  /** Picks up modules and parameters assigned as fields since the last look. */
  private sync(): void {
    for (const key of Object.keys(this)) {
      if (key.startsWith('_') || INTERNAL.has(key)) continue;
      const v = (this as Record<string, unknown>)[key];
      if (v instanceof Module) {
        if (this._modules.get(key) !== v) {
          this.claim(key, 'module');
          this._modules.set(key, v);
        }
      } else if (v instanceof Parameter) {
        if (this._parameters.get(key) !== v) {
          this.claim(key, 'parameter');
          if (this._parameters.has(key)) this.onParameterReplaced(key);
          this._parameters.set(key, v);
        }
      } else if (v === null) {
        if (this._modules.has(key)) this._modules.set(key, null);
        if (this._parameters.has(key)) this._parameters.set(key, null);
        if (this._buffers.has(key)) this._buffers.set(key, null);
      } else if (v instanceof Tensor && this._buffers.has(key) && this._buffers.get(key) !== v) {
        trackPersistent(v);
        this._buffers.set(key, v);
      }
    }
  }

  /** @internal native modules refuse a swapped parameter object (their kernel holds the old one) */
  protected onParameterReplaced(name: string): void {
    void name;
  }

  // ---- traversal ----

  /** The direct child modules with their attribute names. */
  namedChildren(): [string, Module][] {
    this.sync();
    const out: [string, Module][] = [];
    for (const [k, m] of this._modules) if (m) out.push([k, m]);
    return out;
  }
  /** The direct child modules. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }
  /** This module and every descendant, depth first, each once. */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    checkPrefix(this, 'namedModules', prefix);
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${k}` : k, seen));
    return out;
  }
  /** This module and every descendant, each once. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }
  /** [name, parameter] pairs with PyTorch's dotted names; a parameter shared by two modules is listed once. */
  namedParameters(prefix = '', recurse = true): [string, Parameter][] {
    return this.namedMembers('namedParameters', (m) => m._parameters, prefix, recurse);
  }
  /** The parameters of this module (and of its descendants when recurse), each once. */
  parameters(recurse = true): Parameter[] {
    return this.namedParameters('', recurse).map(([, p]) => p);
  }
  /** [name, buffer] pairs with PyTorch's dotted names (descendants' too when recurse). */
  namedBuffers(prefix = '', recurse = true): [string, Tensor][] {
    return this.namedMembers('namedBuffers', (m) => m._buffers, prefix, recurse);
  }
  private namedMembers<T extends Tensor>(op: string, of: (m: Module) => Map<string, T | null>, prefix: string,
    recurse: boolean): [string, T][] {
    checkPrefix(this, op, prefix);
    const out: [string, T][] = [];
    const seen = new Set<Tensor>();
    const mods = recurse ? this.namedModules(prefix) : [[prefix, this] as [string, Module]];
    for (const [mp, m] of mods) {
      m.sync();
      for (const [k, t] of of(m)) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        out.push([mp ? `${mp}.${k}` : k, t]);
      }
    }
    return out;
  }
  /** The buffers of this module (and of its descendants when recurse). */
  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, b]) => b);
  }

  // ---- modes, devices, gradients ----

  /** Sets training mode (dropout, batch-norm statistics) on this module and its descendants; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`${this.constructor.name}.train: expected a boolean but received ${typeOfValue(mode)}`);
    for (const m of this.modules()) {
      m.training = mode;
      m.onTrainChanged(mode);
    }
    return this;
  }
  /** Sets evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }
  /** @internal */
  protected onTrainChanged(mode: boolean): void {
    void mode;
  }

  /**
   * Moves and/or casts every parameter and buffer in place (their identity is kept, so an optimizer
   * made before still works): to('cuda'), to('float64'), to({ dtype, device }). Integer buffers keep their dtype.
   */
  to(target: DType | DeviceLike | { dtype?: DType; device?: DeviceLike }): this {
    const { dtype, device } = parseTo(target);
    if (dtype !== undefined && !isFloating(dtype)) {
      throw new TypeError(`${this.constructor.name}.to: a module can only be cast to a floating dtype, not ${dtype}`);
    }
    const move = (t: Tensor): void => {
      const d = dtype !== undefined && isFloating(t.dtype) ? dtype : undefined;
      if ((d === undefined || d === t.dtype) && (device === undefined || device === t.device)) return;
      const converted = noGrad(() => t.to({ dtype: d, device }));
      native.tensor_set_data(t._h, converted._h);
      converted.dispose();
      t._meta = undefined;
      t._shape = undefined;
      const g = t.requiresGrad ? t.grad : null;
      if (g) t.grad = noGrad(() => g.to({ dtype: d, device }));
    };
    for (const [, p] of this.namedParameters()) move(p);
    for (const [, b] of this.namedBuffers()) move(b);
    for (const m of this.modules()) m.onMoved();
    return this;
  }
  /** Moves parameters and buffers to the CPU in place; returns this. */
  cpu(): this {
    return this.to('cpu');
  }
  /** Moves parameters and buffers to CUDA device index in place; returns this. */
  cuda(index = 0): this {
    return this.to(`cuda:${index}`);
  }
  /** Casts floating-point parameters and buffers to float32 in place; returns this. */
  float(): this {
    return this.to('float32');
  }
  /** Casts floating-point parameters and buffers to float64 in place; returns this. */
  double(): this {
    return this.to('float64');
  }
  /** @internal */
  protected onMoved(): void {
    // cached devices/dtypes are recomputed on next use
  }

  /** Drops (setToNone, PyTorch 2's default) or zeroes every parameter's gradient. */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (setToNone) {
        native.tensor_set_grad(p._h, null);
      } else {
        native.tensor_zero_grad_(p._h);
      }
    }
  }
  /** Sets requiresGrad on every parameter; returns this. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /** Calls fn on every submodule (children first) and then on this module; PyTorch's apply. */
  apply(fn: (m: Module) => void): this {
    if (typeof fn !== 'function') throw new TypeError(`${this.constructor.name}.apply: expected a function but received ${typeOfValue(fn)}`);
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  // ---- state ----

  /** Parameters and persistent buffers by PyTorch key name (fc1.weight, bn.running_mean), sharing storage. */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [k, t] of this.stateEntries()) out[k] = noGrad(() => t.detach());
    return out;
  }

  private stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, prefix: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      m.sync();
      for (const [k, p] of m._parameters) if (p) out.push([prefix + k, p]);
      for (const [k, b] of m._buffers) if (b && !m._nonPersistent.has(k)) out.push([prefix + k, b]);
      for (const [k, c] of m._modules) if (c) walk(c, `${prefix}${k}.`);
    };
    walk(this, '');
    return out;
  }

  /**
   * Copies a state dict into this module's parameters and buffers. Missing or unexpected keys are
   * an error unless strict is false; a shape mismatch is always an error. Nothing is changed on error.
   */
  loadStateDict(stateDict: StateDict | Map<string, Tensor>, opts: { strict?: boolean } | null = {}): StateDictLoadResult {
    const name = this.constructor.name;
    opts ??= {};
    if (typeof opts !== 'object' || (opts.strict !== undefined && typeof opts.strict !== 'boolean')) {
      throw new TypeError(`${name}.loadStateDict: expected options { strict?: boolean } but received ${typeOfValue(opts)}`);
    }
    if (stateDict === null || typeof stateDict !== 'object' || stateDict instanceof Module) {
      throw new TypeError(`${name}.loadStateDict: expected an object or Map of tensors but received ${typeOfValue(stateDict)}`);
    }
    const strict = opts.strict ?? true;
    const given = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
    const own = new Map(this.stateEntries());
    const missingKeys: string[] = [];
    const mismatched: string[] = [];
    for (const [k, target] of own) {
      if (!given.has(k)) {
        missingKeys.push(k);
        continue;
      }
      const v = given.get(k);
      if (!(v instanceof Tensor) || v.isDisposed) {
        mismatched.push(`${k}: expected a Tensor in the state dict but found ${v instanceof Tensor ? 'a disposed Tensor' : typeOfValue(v)}`);
      } else if (v.shape.join() !== target.shape.join()) {
        mismatched.push(`size mismatch for ${k}: copying a param with shape [${v.shape.join(', ')}] from checkpoint, ` +
          `the shape in current model is [${target.shape.join(', ')}]`);
      }
    }
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    const problems = [...mismatched];
    if (strict && missingKeys.length) problems.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}`);
    if (problems.length) {
      throw new Error(`Error(s) in loading state_dict for ${name}:\n\t${problems.join('\n\t')}` +
        (mismatched.length === 0 ? '\n(pass { strict: false } to load only the matching keys)' : ''));
    }
    noGrad(() => {
      for (const [k, target] of own) {
        const v = given.get(k);
        if (v instanceof Tensor) target.copy_(v);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing ----

  /** The text inside the parentheses of this module's printout (PyTorch's extra_repr). */
  extraRepr(): string {
    return '';
  }
  override toString(): string {
    const extra = this.extraRepr();
    const children = this.namedChildren();
    if (children.length === 0) return `${this.constructor.name}(${extra})`;
    const lines = extra ? extra.split('\n') : [];
    for (const [k, m] of children) lines.push(`(${k}): ${indent(m.toString())}`);
    return `${this.constructor.name}(\n  ${lines.join('\n  ')}\n)`;
  }
}
