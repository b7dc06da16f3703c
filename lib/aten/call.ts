// The JS side of the generic ATen caller (native/aten.cc): finds an operator once per name,
// splits a trailing options object (Python's keyword arguments) off the arguments, and turns
// results into Tensors, arrays and named tuples.
import { native } from '../native';
import { Tensor, wrap } from '../tensor';
import { DType, dtypeCode } from '../dtype';

let initialised = false;
const ids = new Map<string, number>();

/** masked_select -> maskedSelect (trailing and leading underscores stay). */
export function camel(name: string): string {
  return name.replace(/([A-Za-z0-9])_([A-Za-z0-9])/g, (_m, a: string, b: string) => a + b.toUpperCase());
}

/** The native id of aten::name; an Error when the running libtorch has no such operator. */
export function resolve(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    if (!initialised) {
      native.aten_init(Tensor, wrap, (d, op) => dtypeCode(d as DType, op));
      initialised = true;
    }
    if (typeof name !== 'string') throw new TypeError(`aten: expected an operator name but received ${typeof name}`);
    id = native.aten_op(name);
    if (id < 0) {
      throw new Error(`${camel(name)}: the running libtorch (${native.build_info().libtorchRuntime}) has no ` +
        `operator aten::${name}`);
    }
    ids.set(name, id);
  }
  return id;
}

/** Whether the running libtorch has aten::name. */
export function has(name: string): boolean {
  try {
    resolve(name);
    return true;
  } catch {
    return false;
  }
}

function isOptions(a: unknown): a is object {
  if (a === null || typeof a !== 'object' || Array.isArray(a) || a instanceof Tensor) return false;
  const proto = Object.getPrototypeOf(a);
  return proto === Object.prototype || proto === null;
}

function named(values: unknown[], names: string[]): unknown[] {
  for (let i = 0; i < names.length; i++) {
    Object.defineProperty(values, names[i], { value: values[i], enumerable: false });
  }
  return values;
}

/** Calls op id; self is the Tensor of a method call (undefined for a function). */
export function callId(id: number, self: Tensor | undefined, args: unknown[]): unknown {
  let n = args.length;
  let options: object | undefined;
  if (n > 0 && isOptions(args[n - 1])) {
    options = args[n - 1] as object;
    n--;
  }
  const r = native.aten_call(id, self, args, n, options);
  if (typeof r === 'number') return wrap(r);
  if (!Array.isArray(r)) return r; // an in-place op: the caller's own Tensor
  return r.length === 2 ? named(r[0] as unknown[], r[1] as string[]) : r[0];
}

/**
 * nt.aten.call('topk', x, 3, { dim: 1 }): any ATen operator by its ATen name, private ones
 * included, with Python's positional arguments and keyword arguments as a trailing options object.
 */
export function call(name: string, ...args: unknown[]): unknown {
  return callId(resolve(name), undefined, args);
}

/** A method call by ATen name: the hand-bound Tensor methods' keyword-argument forms. */
export function callMethod(name: string, self: Tensor, args: unknown[]): unknown {
  return callId(resolve(name), self, args);
}

/** The function the generated code exports for aten::name. */
export function fn(name: string): (...args: unknown[]) => unknown {
  let id = -1;
  const f = (...args: unknown[]): unknown => {
    if (id < 0) id = resolve(name);
    return callId(id, undefined, args);
  };
  Object.defineProperty(f, 'name', { value: camel(name) });
  return f;
}

/** The Tensor method for aten::name. */
export function method(name: string): (this: Tensor, ...args: unknown[]) => unknown {
  let id = -1;
  const m = function (this: Tensor, ...args: unknown[]): unknown {
    if (id < 0) id = resolve(name);
    return callId(id, this, args);
  };
  Object.defineProperty(m, 'name', { value: camel(name) });
  return m;
}

/** Puts the generated methods on Tensor.prototype; hand-written methods (the direct bindings) win. */
export function installMethods(names: readonly string[]): void {
  const proto = Tensor.prototype as unknown as Record<string, unknown>;
  for (const name of names) {
    const js = camel(name);
    if (js in proto) continue;
    Object.defineProperty(proto, js, { value: method(name), writable: true, configurable: true, enumerable: false });
  }
}
