// The one set of argument validators (after sharp's lib/is.js): predicates, the error they throw,
// and the normalizer that turns a Python-style call (positional arguments, keyword arguments as a
// trailing options object, Keras' snake_case names) into one record of camelCase options.
// Nothing here imports tensors, so every layer of lib/ may use it.

/** Predicates on plain JS values. */
export const is = Object.freeze({
  defined: (v: unknown): boolean => v !== undefined && v !== null,
  /** An object literal (any realm's Object.prototype, or none): options objects and nests, never class instances. */
  plainObject: (v: unknown): v is Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const proto = Object.getPrototypeOf(v) as object | null;
    return proto === null || Object.getPrototypeOf(proto) === null;
  },
  fn: (v: unknown): v is (...args: never[]) => unknown => typeof v === 'function',
  string: (v: unknown): v is string => typeof v === 'string',
  bool: (v: unknown): v is boolean => typeof v === 'boolean',
  number: (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v),
  finite: (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v),
  integer: (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v),
  positiveInteger: (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0,
  nonNegativeInteger: (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  inRange: (v: unknown, min: number, max: number): v is number => typeof v === 'number' && v >= min && v <= max,
  inArray: <T>(v: unknown, list: readonly T[]): v is T => list.includes(v as T),
});

/** A value as an error message shows it: `number -3`, `string 'abc'`, `array [1, 2]`, `an instance of Tensor`. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  switch (typeof v) {
    case 'number': case 'boolean': return `${typeof v} ${String(v)}`;
    case 'bigint': return `bigint ${v}n`;
    case 'string': return `string '${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
    case 'symbol': return 'symbol';
    case 'function': {
      const name = (v.prototype === undefined && Object.getPrototypeOf(v) !== Function.prototype)
        ? (v as { constructor?: { name?: string } }).constructor?.name : undefined;
      return name ? `an instance of ${name}` : 'function';
    }
    default: break;
  }
  if (Array.isArray(v)) return v.length <= 8 && v.every((x) => typeof x === 'number') ? `array [${v.join(', ')}]` : 'array';
  if (is.plainObject(v)) return 'object';
  const name = (v as { constructor?: { name?: string } }).constructor?.name;
  return name ? `an instance of ${name}` : 'object';
}

/** The error for a bad argument: `where: expected <expected> for <name> but received <actual>`. */
export function invalidParameterError(name: string, expected: string, actual: unknown, where?: string): TypeError {
  return new TypeError(`${where ? `${where}: ` : ''}expected ${expected} for ${name} but received ${describe(actual)}`);
}

/** v when it passes ok, dflt when undefined (and a default is given), else the invalid-parameter error. */
function checked<T>(ok: (v: unknown) => boolean, expected: string) {
  return (where: string, name: string, v: unknown, dflt?: T): T => {
    if (v === undefined && dflt !== undefined) return dflt;
    if (ok(v)) return v as T;
    throw invalidParameterError(name, expected, v, where);
  };
}

export const positiveInt = checked<number>(is.positiveInteger, 'a positive integer');
export const nonNegativeInt = checked<number>(is.nonNegativeInteger, 'a non-negative integer');
export const integer = checked<number>(is.integer, 'an integer');
export const finiteNumber = checked<number>(is.finite, 'a finite number');
export const positiveNumber = checked<number>((v) => is.finite(v) && v > 0, 'a positive number');
export const nonNegativeNumber = checked<number>((v) => is.finite(v) && v >= 0, 'a non-negative number');
export const probability = checked<number>((v) => is.inRange(v, 0, 1), 'a probability in [0, 1]');
export const boolean = checked<boolean>(is.bool, 'a boolean');
export const string = checked<string>(is.string, 'a string');

/** One of a list of strings (Keras' padding, PyTorch's reduction...). */
export function oneOf<T extends string>(where: string, name: string, v: unknown, values: readonly T[], dflt?: T): T {
  if (v === undefined && dflt !== undefined) return dflt;
  if (is.inArray(v, values)) return v;
  throw invalidParameterError(name, `one of ${values.map((s) => `'${s}'`).join(', ')}`, v, where);
}

/** An int-or-tuple argument as n integers >= min (PyTorch's _pair, Keras' kernel_size). */
export function intTuple(where: string, name: string, v: unknown, n: number, min = 1): number[] {
  const list = typeof v === 'number' ? Array<number>(n).fill(v) : v;
  if (Array.isArray(list) && list.length === n && list.every((x) => is.integer(x) && x >= min)) return [...list] as number[];
  throw invalidParameterError(name, `an integer >= ${min} or ${n} of them`, v, where);
}

export const camelToSnake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const snakeToCamel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * An options object checked against the names the callee reads: undefined/null is {}, a snake_case
 * key is read as its camelCase name (`input_shape` -> `inputShape`), a name given twice or a name
 * nobody reads is an error listing the valid names. Returns a new object with camelCase keys.
 */
export function options(where: string, o: unknown, known: readonly string[]): Record<string, unknown> {
  if (o === undefined || o === null) return {};
  if (!is.plainObject(o)) throw new TypeError(`${where}: expected an options object but received ${describe(o)}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const name = known.includes(k) ? k : snakeToCamel(k);
    if (!known.includes(name)) {
      const hint = known.find((n) => n.toLowerCase() === name.toLowerCase());
      throw new TypeError(`${where}: unknown option '${k}'${hint ? ` (did you mean '${hint}'?)` : ''}; known options: ` +
        `${known.join(', ')}`);
    }
    if (name in out) throw new TypeError(`${where}: option '${name}' was given twice (as '${name}' and '${camelToSnake(name)}')`);
    out[name] = v;
  }
  return out;
}

/**
 * A Python-style call: `positional` names the parameters Python accepts by position, in order;
 * a trailing plain object holds the keyword arguments (camelCase or snake_case), and may also give
 * the positional ones by name (`new Embedding({ inputDim, outputDim })`). Passing one both ways is
 * Python's "got multiple values" error; too many positional arguments is an error naming them.
 */
export function args(where: string, given: readonly unknown[], positional: readonly string[],
  keywords: readonly string[] = []): Record<string, unknown> {
  let n = given.length;
  while (n > 0 && given[n - 1] === undefined) n--;
  const last = n > 0 ? given[n - 1] : undefined;
  const hasOpts = is.plainObject(last);
  const pos = given.slice(0, hasOpts ? n - 1 : n);
  if (pos.length > positional.length) {
    throw new TypeError(`${where}: takes ${positional.length === 0 ? 'no' : `at most ${positional.length}`} positional ` +
      `argument${positional.length === 1 ? '' : 's'}${positional.length ? ` (${positional.join(', ')})` : ''} but ` +
      `${pos.length} were given; pass the others in an options object`);
  }
  const out = options(where, hasOpts ? last : undefined, [...positional, ...keywords]);
  pos.forEach((v, i) => {
    if (v === undefined) return;
    if (out[positional[i]] !== undefined) throw new TypeError(`${where}: got multiple values for argument '${positional[i]}'`);
    out[positional[i]] = v;
  });
  return out;
}

/** Throws the Python-style error for a required argument that was not given. */
export function required(where: string, o: Record<string, unknown>, ...names: string[]): void {
  const missing = names.filter((k) => o[k] === undefined);
  if (missing.length) {
    throw new TypeError(`${where}: missing required argument${missing.length > 1 ? 's' : ''} ` +
      `${missing.map((k) => `'${k}'`).join(', ')}`);
  }
}
