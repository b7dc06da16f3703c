// Instances that can be called like functions, as Python's __call__ allows: `net(x)` for nn.Module,
// `layer(x)` / `model(x)` for Keras. The one mechanism both faces share.
import { inspect } from 'util';

/** The method a Callable instance runs when it is called: `obj(a, b)` is `obj[CALL](a, b)`. */
export const CALL: unique symbol = Symbol('nodetorch.call');

/**
 * Base class whose instances are functions. The constructor returns an arrow function whose
 * prototype is the subclass's, so `instanceof`, fields, getters, private fields and methods all
 * work as on an ordinary object; only `typeof` says 'function'. The function's own `name` and
 * `length` are removed so that subclasses may use those names for their own fields.
 */
export abstract class Callable {
  constructor() {
    const self = ((...args: unknown[]) => (self as unknown as Callable)[CALL](...args)) as unknown as Callable;
    delete (self as unknown as { name?: string }).name;
    delete (self as unknown as { length?: number }).length;
    return Object.setPrototypeOf(self, new.target.prototype) as Callable;
  }

  /** What calling the instance does. */
  protected abstract [CALL](...args: unknown[]): unknown;

  /** console.log and util.inspect show the instance's toString() (PyTorch's and Keras' printouts). */
  [inspect.custom](): string {
    return String(this);
  }

  /** The printout of PyTorch (module tree) or Keras (class and name) for this object. */
  toString(): string {
    return `${this.constructor.name}()`;
  }
}

/** True for objects and Callable instances (functions whose prototype chain is a class's). */
export function isObjectLike(v: unknown): v is object {
  return v !== null && (typeof v === 'object' || typeof v === 'function');
}
