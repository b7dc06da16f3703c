// A trial (one set of hyperparameter values, its executions' per-epoch metrics, status and score)
// and the objective it is scored by, both as they are written to trial.json / oracle.json.
import { History } from '../keras/callbacks';
import { HyperParameters, HyperParametersJSON } from './hyperparameters';

/** Whether the objective is minimized or maximized. */
export type Direction = 'min' | 'max';
/** A trial's state. */
export type TrialStatus = 'RUNNING' | 'COMPLETED' | 'FAILED';

/** A value as error messages name it: null, an array, the string 'x', number... */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string '${v}'` : typeof v;
}

/** Keras' inference: losses and errors are minimized, anything else (accuracy, auc...) maximized. */
export function inferDirection(metric: string): Direction {
  const m = metric.replace(/^val_/, '').toLowerCase();
  return /loss|error|^mae$|^mse$|^mape$|^msle$|crossentropy|hinge|huber|logcosh|divergence|^kld$/.test(m) ? 'min' : 'max';
}

/** What a search maximizes or minimizes: a metric name the trials log, and a direction. */
export class Objective {
  readonly name: string;
  readonly direction: Direction;
  constructor(name: string, direction?: Direction) {
    if (typeof name !== 'string' || !name) throw new TypeError(`Objective: expected a metric name but received ${describe(name)}`);
    if (direction !== undefined && direction !== 'min' && direction !== 'max') {
      throw new TypeError(`Objective '${name}': expected direction 'min' or 'max' but received ${describe(direction)}`);
    }
    this.name = name;
    this.direction = direction ?? inferDirection(name);
  }
  /** Whether a is a better value than b. */
  better(a: number, b: number): boolean {
    if (!Number.isFinite(a)) return false;
    if (!Number.isFinite(b)) return true;
    return this.direction === 'max' ? a > b : a < b;
  }
  /** The objective as KerasTuner prints it. */
  toString(): string {
    return `Objective(name="${this.name}", direction="${this.direction}")`;
  }
  /** The objective as JSON. */
  toJSON(): { name: string; direction: Direction } {
    return { name: this.name, direction: this.direction };
  }
}

/** 'val_accuracy', { name, direction }, or an Objective. */
export function toObjective(o: unknown): Objective {
  if (o instanceof Objective) return o;
  if (o === undefined) return new Objective('val_loss');
  if (typeof o === 'string') {
    if (!o) throw new TypeError('objective: expected a metric name but received an empty string');
    return new Objective(o);
  }
  if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
    const { name, direction } = o as { name?: unknown; direction?: unknown };
    if (typeof name !== 'string' || !name) throw new TypeError(`objective: expected { name, direction } with a metric name but received name ${describe(name)}`);
    if (direction !== 'min' && direction !== 'max') {
      throw new TypeError(`objective '${name}': expected direction 'min' or 'max' but received ${describe(direction)}`);
    }
    return new Objective(name, direction);
  }
  throw new TypeError(`objective: expected a metric name such as 'val_accuracy' or { name, direction: 'min' | 'max' } but received ${describe(o)}`);
}

/** One execution (one fit) of a trial: Keras' History layout. */
export interface Execution {
  epoch: number[];
  history: Record<string, number[]>;
}

/** What runTrial may return: the objective's value, metrics by name, a History, or one of these per execution. */
export type TrialResult = number | Record<string, number> | History | Execution | (number | Record<string, number> | History | Execution)[];

/** A trial as JSON (trial.json). */
export interface TrialJSON {
  trialId: string;
  status: TrialStatus;
  hyperparameters: HyperParametersJSON;
  executions: Execution[];
  metrics: Record<string, number>;
  score: number | null;
  bestStep: number | null;
  message: string | null;
  checkpoint: string | null;
  startedAt: string | null;
  endedAt: string | null;
  seconds: number | null;
}

/** One set of hyperparameter values, its status and its score. */
export class Trial {
  status: TrialStatus = 'RUNNING';
  /** every execution's per-epoch logs */
  executions: Execution[] = [];
  /** each metric's best value over epochs, averaged over executions */
  metrics: Record<string, number> = {};
  /** the objective's value: its best over epochs, averaged over executions */
  score: number | null = null;
  /** the epoch of the best objective value (the checkpointed weights) */
  bestStep: number | null = null;
  /** why a FAILED trial failed */
  message: string | null = null;
  /** the model checkpoint's directory, relative to the trial's directory */
  checkpoint: string | null = null;
  startedAt: string | null = null;
  endedAt: string | null = null;
  seconds: number | null = null;
  constructor(readonly trialId: string, readonly hyperparameters: HyperParameters) {}

  /** Its position in the search (trial '007' is 7). */
  get number(): number {
    return Number(this.trialId);
  }

  /** The trial as JSON (trial.json). */
  toJSON(): TrialJSON {
    return {
      trialId: this.trialId, status: this.status, hyperparameters: this.hyperparameters.toJSON(), executions: this.executions,
      metrics: this.metrics, score: this.score, bestStep: this.bestStep, message: this.message, checkpoint: this.checkpoint,
      startedAt: this.startedAt, endedAt: this.endedAt, seconds: this.seconds,
    };
  }

  /** Rebuilds a Trial from toJSON()'s output. */
  static fromJSON(j: TrialJSON): Trial {
    const t = new Trial(j.trialId, HyperParameters.fromJSON(j.hyperparameters));
    t.status = j.status;
    t.executions = j.executions ?? [];
    t.metrics = j.metrics ?? {};
    t.score = j.score ?? null;
    t.bestStep = j.bestStep ?? null;
    t.message = j.message ?? null;
    t.checkpoint = j.checkpoint ?? null;
    t.startedAt = j.startedAt ?? null;
    t.endedAt = j.endedAt ?? null;
    t.seconds = j.seconds ?? null;
    return t;
  }
}

function isHistoryLike(v: unknown): v is Execution {
  return v instanceof History || (v !== null && typeof v === 'object' && Array.isArray((v as Execution).epoch) &&
    (v as Execution).history !== null && typeof (v as Execution).history === 'object');
}

/** runTrial's result as executions in History layout. */
export function toExecutions(result: TrialResult, objective: Objective): Execution[] {
  const one = (r: unknown): Execution => {
    if (typeof r === 'number') return { epoch: [0], history: { [objective.name]: [r] } };
    if (isHistoryLike(r)) return { epoch: [...r.epoch], history: Object.fromEntries(Object.entries(r.history).map(([k, v]) => [k, [...v]])) };
    if (r !== null && typeof r === 'object' && !Array.isArray(r) && Object.values(r).every((v) => typeof v === 'number')) {
      return { epoch: [0], history: Object.fromEntries(Object.entries(r as Record<string, number>).map(([k, v]) => [k, [v]])) };
    }
    throw new TypeError(`runTrial: expected a number, an object of metric values, a History or an array of those per execution but received ${describe(r)}`);
  };
  return Array.isArray(result) ? result.map(one) : [one(result)];
}

/** The best value of a metric over one execution's epochs, and its epoch (NaN epochs skipped). */
export function bestOf(e: Execution, name: string, direction: Direction): { value: number; epoch: number } | null {
  const vals = e.history[name];
  if (!vals) return null;
  let best: { value: number; epoch: number } | null = null;
  vals.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    if (!best || (direction === 'max' ? v > best.value : v < best.value)) best = { value: v, epoch: e.epoch[i] ?? i };
  });
  return best ?? { value: NaN, epoch: e.epoch[0] ?? 0 };
}
