// What a model is doing right now, so that uses that cannot overlap are refused with an error that
// says what the user did, instead of two threads training the same parameters (heap corruption) or
// libtorch's "modified by an inplace operation". fit() holds a model alone; predict()/evaluate() share
// it with each other; setWeights/loadWeights/save wait for nothing and are refused while a job that
// reads or writes the weights runs. Calls made from inside a fit() (its callbacks: ModelCheckpoint's
// save, EarlyStopping's setWeights, an evaluate in onEpochEnd) belong to that fit and are allowed:
// the fit's async context (AsyncLocalStorage) tells them apart from calls made beside it.
import { AsyncLocalStorage } from 'async_hooks';

interface Token { model: object; op: string }
interface State { training: string | null; readers: Map<string, number> }

const states = new WeakMap<object, State>();
// Only a fit runs inside this context, and it is disabled while no fit runs: an enabled
// AsyncLocalStorage makes every promise in the process pay for async hooks (Node 20).
const context = new AsyncLocalStorage<Token>();
let fitsRunning = 0;
/** The call run() is making right now: the method's first line recognises it (synchronously). */
let entering: Token | null = null;

function stateOf(model: object): State {
  let s = states.get(model);
  if (!s) states.set(model, (s = { training: null, readers: new Map() }));
  return s;
}

/** True inside the fit() that holds this model (its callbacks): such calls are part of that fit. */
function withinFit(model: object): boolean {
  return fitsRunning > 0 && context.getStore()?.model === model;
}

function busyError(op: string, s: State): Error {
  if (s.training) {
    return new Error(`${op}: this model is already training (a ${s.training}() started earlier has not finished); await it first` +
      (op === 'fit' ? '' : `, or call ${op} from a callback of that fit`));
  }
  const running = [...s.readers.keys()].map((r) => `${r}()`).join(' and ');
  return new Error(`${op}: this model is running ${running} (started earlier, not finished); await it first`);
}

/**
 * The first line of an async model method: `if (!busy.entered(this, 'fit')) return busy.run(this, 'fit', true, () => this.fit(...args));`
 * True when this call is the one run() is making (go on with the body).
 */
export function entered(model: object, op: string): boolean {
  if (entering && entering.model === model && entering.op === op) {
    entering = null;
    return true;
  }
  return false;
}

/** Calls fn (which re-enters the method) so that entered() recognises it. */
function enter<T>(token: Token, fn: () => Promise<T>): Promise<T> {
  const prev = entering;
  entering = token;
  try {
    return fn();
  } finally {
    entering = prev;
  }
}

/**
 * Runs fn as `op` on model: alone (train) or beside other readers; throws, before fn starts, when
 * the model is in a use it cannot overlap. Inside a fit of this model, fn just runs.
 */
export async function run<T>(model: object, op: string, train: boolean, fn: () => Promise<T>): Promise<T> {
  if (!train && withinFit(model)) return enter({ model, op }, fn);
  const s = stateOf(model);
  if (s.training || (train && s.readers.size)) throw busyError(op, s);
  if (train) s.training = op;
  else s.readers.set(op, (s.readers.get(op) ?? 0) + 1);
  if (train) fitsRunning++;
  try {
    const token = { model, op };
    return await (train ? context.run(token, () => enter(token, fn)) : enter(token, fn));
  } finally {
    if (train) {
      s.training = null;
      if (--fitsRunning === 0) context.disable();
    } else {
      const n = (s.readers.get(op) ?? 1) - 1;
      if (n) s.readers.set(op, n);
      else s.readers.delete(op);
    }
  }
}

/**
 * For synchronous uses: `write` (setWeights, loadWeights) is refused while any job runs, a read
 * (save) while the model trains; both allowed from inside the model's own fit.
 */
export function check(model: object, op: string, write: boolean): void {
  const s = states.get(model);
  if (!s || withinFit(model)) return;
  if (s.training || (write && s.readers.size)) throw busyError(op, s);
}
