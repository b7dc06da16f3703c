// nn.Sequential and nn.ModuleList: ordered containers keyed '0', '1', ... as in PyTorch.
import { Tensor, typeOfValue } from '../tensor';
import { Module } from './module';

function checkModule(where: string, m: unknown, i: number | string): Module {
  if (m instanceof Module) return m;
  throw new TypeError(`${where}: expected a Module at ${typeof i === 'number' ? `position ${i}` : `'${i}'`} but received ` +
    typeOfValue(m));
}

abstract class ModuleSeq extends Module {
  get length(): number {
    return this._modules.size;
  }
  /** The module at index i (negative counts from the end). */
  at(i: number): Module {
    const list = [...this._modules.values()];
    const n = list.length;
    if (!Number.isSafeInteger(i) || i < -n || i >= n) {
      throw new RangeError(`${this.constructor.name}.at: index ${String(i)} is out of range for ${n} module(s)`);
    }
    return list[i < 0 ? i + n : i] as Module;
  }
  /** Adds a module at the end; returns this. */
  append(module: Module): this {
    this.register(String(this._modules.size), checkModule(`${this.constructor.name}.append`, module, this._modules.size));
    return this;
  }
  /** The modules in order. */
  [Symbol.iterator](): Iterator<Module> {
    return ([...this._modules.values()].filter((m) => m !== null) as Module[])[Symbol.iterator]();
  }
}

/** Runs its modules in order, each on the previous one's output. */
export class Sequential extends ModuleSeq {
  /** new Sequential(m1, m2, ...) or new Sequential({ name: module, ... }) (PyTorch's OrderedDict form). */
  constructor(...modules: Module[] | [Record<string, Module> | Map<string, Module>]) {
    super();
    const first = modules[0] as unknown;
    if (modules.length === 1 && first !== null && typeof first === 'object' && !(first instanceof Module)) {
      const entries = first instanceof Map ? [...first.entries()] : Object.entries(first as Record<string, unknown>);
      for (const [k, m] of entries) this.register(k, checkModule('Sequential', m, k));
    } else {
      modules.forEach((m, i) => this.register(String(i), checkModule('Sequential', m, i)));
    }
  }
  /**
   * Typed for the usual case, a chain ending in a Tensor; a chain ending in a module that returns
   * a tuple (an LSTM) passes that tuple through unchanged, as in PyTorch.
   */
  forward(input: Tensor): Tensor {
    let x: unknown = input;
    for (const m of this) x = (m as unknown as (a: unknown) => unknown)(x);
    return x as Tensor;
  }
}

/** Holds modules in a list (registered, so their parameters are found); it has no forward. */
export class ModuleList extends ModuleSeq {
  constructor(modules: Iterable<Module> = []) {
    super();
    if (modules === null || typeof (modules as Iterable<Module>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`ModuleList: expected an array of modules but received ${typeOfValue(modules)}`);
    }
    let i = 0;
    for (const m of modules) this.register(String(i), checkModule('ModuleList', m, i++));
  }
  /** Adds each module at the end; returns this. */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }
  /** A ModuleList has no forward: index it and call its modules. */
  forward(): never {
    throw new Error('ModuleList has no forward(): iterate over it and call each module');
  }
}
