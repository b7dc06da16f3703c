// Native memory ownership: dispose(), tidy() scopes and a GC finalizer for forgotten tensors.
// Tensors made inside tidy() skip the finalizer entirely (the scope frees them), which keeps
// the per-op cost low. Outside tidy(), native.tensor_track gives the wrapper a native finalizer
// and a weak reference, so a forgotten tensor is freed after V8 collects its wrapper: at the next
// event-loop turn, or, in code that never yields, as memory grows (native/handles.h).
import { native } from './native';


/** The part of a Tensor that memory management needs. */
export class TensorHandle {
  // Fields are assigned in the constructor, not declared with initializers: [[Define]]
  // semantics for class fields cost measurable time on the per-op path.
  /** @internal native handle; -1 once disposed */
  declare _h: number;
  /** @internal survives the enclosing tidy() */
  declare _keep: boolean;
  /** @internal [dtypeCode, device, ...shape], read once from native */
  declare _meta: [number, string, ...number[]] | undefined;
  /** @internal frozen shape cache */
  declare _shape: readonly number[] | undefined;
  constructor(h: number) {
    this._h = h;
    this._keep = false;
    this._meta = undefined;
    this._shape = undefined;
  }
  /** Frees the native memory now. Idempotent; using the tensor afterwards throws. */
  dispose(): void {
    if (this._h >= 0) {
      native.tensor_dispose(this._h);
      this._h = -1;
    }
  }
  get isDisposed(): boolean {
    return this._h < 0;
  }
}

const scopes: TensorHandle[][] = [];

/** Hands a new tensor to the innermost tidy() scope, or to the GC finalizer outside any. */
export function track(t: TensorHandle): void {
  if (scopes.length > 0) scopes[scopes.length - 1].push(t);
  else native.tensor_track(t, t._h);
}

/** For tensors that outlive any tidy() scope they are made in (module parameters, optimizer state): the finalizer frees them. */
export function trackPersistent(t: TensorHandle): void {
  native.tensor_track(t, t._h);
}

function adopt(t: TensorHandle): void {
  if (t._h < 0) return;
  if (scopes.length > 0) scopes[scopes.length - 1].push(t);
  else native.tensor_track(t, t._h);
}

function collect(v: unknown, out: Set<TensorHandle>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 8) return;
  if (v instanceof TensorHandle) {
    out.add(v);
  } else if (Array.isArray(v)) {
    for (const e of v) collect(e, out, depth + 1);
  } else if (v instanceof Map) {
    for (const e of v.values()) collect(e, out, depth + 1);
  } else if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const e of Object.values(v)) collect(e, out, depth + 1);
  }
}

/** Hands kept tensors (returned or keep()) to the outer scope and frees the rest in one native call. */
function closeScope(scope: TensorHandle[], keep: Set<TensorHandle>): void {
  const dead: number[] = [];
  for (const t of scope) {
    if (keep.has(t) || t._keep) {
      t._keep = false;
      adopt(t);
    } else if (t._h >= 0) {
      dead.push(t._h);
      t._h = -1;
    }
  }
  native.tensor_dispose_many(dead);
}

/**
 * Runs fn and frees every tensor created inside it, except those it returns (alone, in arrays,
 * Maps or plain objects) and those passed to keep(). fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`tidy: expected a function but received ${typeof fn}`);
  const scope: TensorHandle[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    closeScope(scope, new Set());
    throw e;
  }
  scopes.pop();
  const keep = new Set<TensorHandle>();
  const isPromise = result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function';
  if (!isPromise) collect(result, keep, 0);
  closeScope(scope, keep);
  if (isPromise) {
    throw new Error('tidy: fn returned a Promise; tidy() only scopes synchronous code (its tensors were freed). ' +
      'Use tidy() inside the async function, around each synchronous step.');
  }
  return result;
}

/** Lets a tensor created inside tidy() outlive it. Returns the tensor. */
export function keep<T extends TensorHandle>(t: T): T {
  if (!(t instanceof TensorHandle)) throw new TypeError(`keep: expected a Tensor but received ${t === null ? 'null' : typeof t}`);
  t._keep = true;
  return t;
}

/** Live tensors created by nodetorch and their bytes (numel x element size, views included). */
export function memory(): { tensors: number; bytes: number } {
  return native.memory_stats();
}

/**
 * Runs fn with every single CPU allocation on this thread capped at bytes (an Error beyond it).
 * Loaders use it so a forged file cannot make them allocate without bound.
 */
export function withAllocLimit<T>(bytes: number, fn: () => T): T {
  return native.memory_with_alloc_limit(Math.max(0, Math.floor(bytes)), fn);
}
