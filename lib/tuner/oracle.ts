// Oracles: what to try next. The base class holds the space, the trials and their persistence
// (oracle.json and trial_XXX/trial.json under the project directory, each written atomically);
// RandomSearch and GridSearch are here, BayesianOptimization and Hyperband in their own files.
import * as fs from 'fs';
import * as path from 'path';
import { randomInt } from 'crypto';
import { Random } from '../data/random';
import { writeFileAtomicSync } from '../io/atomic';
import {
  HyperParameters, HPValue, Fixed, fromConfig, gridCombinations, sampleValues, valuesKey, HPConfig,
} from './hyperparameters';
import { Objective, Trial, TrialJSON, Direction } from './trial';

export const ORACLE_FILE = 'oracle.json';
export const TRIAL_FILE = 'trial.json';
const FORMAT = 'nodetorch-tuner';
const FORMAT_VERSION = 1;
/** Draws of already-tried values before a random oracle calls its space exhausted (Keras Tuner's 100). */
const MAX_COLLISIONS = 100;

export interface OracleOptions {
  objective: Objective;
  maxTrials: number;
  seed?: number;
  hyperparameters?: HyperParameters;
  tuneNewEntries?: boolean;
  allowNewEntries?: boolean;
}

interface OracleJSON {
  format: string;
  formatVersion: number;
  oracle: string;
  objective: { name: string; direction: Direction };
  seed: number;
  space: HPConfig[];
  trialIds: string[];
  state: Record<string, unknown>;
}

export function positiveInt(where: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new TypeError(`${where}: expected ${name} to be a positive integer but received ${typeof v === 'number' ? v : typeof v}`);
  }
  if (v < 1) throw new RangeError(`${where}: expected ${name} to be a positive integer (>= 1) but received ${v}`);
  return v;
}

/** Base of the search algorithms: proposes hyperparameter values and records trial results (KerasTuner's Oracle). */
export abstract class Oracle {
  readonly objective: Objective;
  maxTrials: number;
  seed: number;
  readonly tuneNewEntries: boolean;
  readonly allowNewEntries: boolean;
  /** The search space as declared so far. */
  hyperparameters: HyperParameters;
  /** Trials by id, in the order they were created. */
  protected readonly trialMap = new Map<string, Trial>();
  /** Trials a killed run left RUNNING, to run again (same id, same values) before any new one. */
  protected pending: string[] = [];
  /** Set by the tuner: where oracle.json and the trial directories live. */
  projectDir: string | null = null;

  constructor(o: OracleOptions) {
    this.objective = o.objective;
    this.maxTrials = o.maxTrials;
    this.seed = o.seed ?? randomInt(2 ** 31);
    this.tuneNewEntries = o.tuneNewEntries ?? true;
    this.allowNewEntries = o.allowNewEntries ?? true;
    this.hyperparameters = o.hyperparameters ? o.hyperparameters.copy() : new HyperParameters();
    this.hyperparameters.values = {};
  }

  /** The oracle's name in oracle.json (a project is reloaded only by the same kind of tuner). */
  abstract get kind(): string;

  /** Values for a new trial, or null when the search is over (space exhausted, or no more brackets). */
  protected abstract populateSpace(trialNumber: number): Record<string, HPValue> | null;

  /** Oracle-specific state for oracle.json, and its restore. */
  protected getState(): Record<string, unknown> {
    return {};
  }
  protected setState(_state: Record<string, unknown>, _dropped: Set<string>): void {}

  get trials(): Trial[] {
    return [...this.trialMap.values()];
  }
  /** The trial of this id, if any. */
  getTrial(id: string): Trial | undefined {
    return this.trialMap.get(id);
  }

  /** The space as a HyperParameters with no values, ready for a build function. */
  getSpace(): HyperParameters {
    const hp = this.hyperparameters.copy();
    hp.values = {};
    hp.allowNewEntries = this.allowNewEntries;
    return hp;
  }

  /** Adds the parameters a build declared that the space lacks (fixed to their default unless tuneNewEntries); true if any. */
  updateSpace(hp: HyperParameters): boolean {
    let added = false;
    for (const p of hp.space) {
      if (this.hyperparameters.has(p.name)) continue; // the build was checked against this declaration
      const c = p.config();
      this.hyperparameters.register(this.tuneNewEntries ? fromConfig(c) : new Fixed(c.name, c.default, c.conditions));
      added = true;
    }
    return added;
  }

  /** A trial to run: one a killed run left RUNNING, else a new one; null when the search is done. */
  createTrial(): Trial | null {
    const redo = this.pending.shift();
    if (redo !== undefined) {
      const t = this.trialMap.get(redo)!;
      t.status = 'RUNNING';
      t.executions = [];
      t.metrics = {};
      t.score = null;
      t.bestStep = null;
      t.message = null;
      t.checkpoint = null;
      return t;
    }
    // every trial counts towards maxTrials, failed ones included, as in Keras Tuner
    if (this.trialMap.size >= this.maxTrials) return null;
    const n = this.trialMap.size === 0 ? 0 : Math.max(...[...this.trialMap.keys()].map(Number)) + 1;
    const values = this.populateSpace(n);
    if (values === null) return null;
    const hp = this.getSpace();
    hp.values = { ...values };
    const t = new Trial(String(n).padStart(3, '0'), hp);
    this.trialMap.set(t.trialId, t);
    return t;
  }

  /** Trials with a score, best first (ties: the earlier trial). */
  getBestTrials(n = 1): Trial[] {
    const done = this.trials.filter((t) => t.status === 'COMPLETED' && t.score !== null && Number.isFinite(t.score));
    done.sort((a, b) => (a.score === b.score ? a.number - b.number : this.objective.better(a.score!, b.score!) ? -1 : 1));
    return done.slice(0, n);
  }

  /** Random values for trial n, drawn from the seed's stream n; null after 100 draws of tried values. */
  protected randomValues(trialNumber: number, tried: Set<string> = this.triedKeys()): Record<string, HPValue> | null {
    const rng = new Random(this.seed, trialNumber);
    for (let i = 0; i < MAX_COLLISIONS; i++) {
      const v = sampleValues(this.hyperparameters.space, (p) => p.randomSample(rng));
      if (!tried.has(valuesKey(v))) return v;
    }
    return null;
  }

  protected triedKeys(): Set<string> {
    return new Set(this.trials.map((t) => valuesKey(t.hyperparameters.userValues())));
  }

  // ---- persistence ----

  /** The directory a trial writes its files to. */
  trialDir(trialOrId: Trial | string): string {
    const id = typeof trialOrId === 'string' ? trialOrId : trialOrId.trialId;
    return path.join(this.projectDir!, `trial_${id}`);
  }

  /** Writes trial_XXX/trial.json. */
  saveTrial(t: Trial): void {
    if (!this.projectDir) return;
    writeFileAtomicSync(path.join(this.trialDir(t), TRIAL_FILE), JSON.stringify(t.toJSON(), jsonNumbers, 2) + '\n');
  }

  /** Writes oracle.json: the space, the trial ids and the oracle's own state. */
  save(): void {
    if (!this.projectDir) return;
    const j: OracleJSON = {
      format: FORMAT, formatVersion: FORMAT_VERSION, oracle: this.kind, objective: this.objective.toJSON(), seed: this.seed,
      space: this.hyperparameters.space.map((p) => p.config()), trialIds: [...this.trialMap.keys()], state: this.getState(),
    };
    writeFileAtomicSync(path.join(this.projectDir, ORACLE_FILE), JSON.stringify(j, jsonNumbers, 2) + '\n');
  }

  /**
   * Reads oracle.json and the trials it lists. A trial without a trial.json never started (the run
   * died between the two writes) and is forgotten; one left RUNNING is queued to run again.
   */
  reload(): boolean {
    const file = path.join(this.projectDir!, ORACLE_FILE);
    if (!fs.existsSync(file)) return false;
    let j: OracleJSON;
    try {
      j = JSON.parse(fs.readFileSync(file, 'utf8'), jsonRevive) as OracleJSON;
    } catch (e) {
      throw new Error(`tuner: cannot read ${file} (${(e as Error).message}); pass overwrite: true to start the search over`);
    }
    if (j.format !== FORMAT || !Array.isArray(j.trialIds)) throw new Error(`tuner: ${file} is not a nodetorch tuner project; pass overwrite: true or another projectName`);
    if (j.oracle !== this.kind) {
      throw new Error(`tuner: the project in ${this.projectDir} was created by ${j.oracle}, not ${this.kind}; pass overwrite: true or another projectName`);
    }
    if (j.objective.name !== this.objective.name || j.objective.direction !== this.objective.direction) {
      throw new Error(`tuner: the project in ${this.projectDir} optimizes ${new Objective(j.objective.name, j.objective.direction)}, not ` +
        `${this.objective}; pass overwrite: true or another projectName`);
    }
    this.seed = j.seed;
    for (const c of j.space) if (!this.hyperparameters.has(c.name)) this.hyperparameters.register(fromConfig(c));
    const dropped = new Set<string>();
    for (const id of j.trialIds) {
      const tf = path.join(this.trialDir(id), TRIAL_FILE);
      if (!fs.existsSync(tf)) {
        dropped.add(id);
        continue;
      }
      let tj: TrialJSON;
      try {
        tj = JSON.parse(fs.readFileSync(tf, 'utf8'), jsonRevive) as TrialJSON;
      } catch (e) {
        throw new Error(`tuner: cannot read ${tf} (${(e as Error).message})`);
      }
      const t = Trial.fromJSON(tj);
      this.trialMap.set(t.trialId, t);
      if (t.status === 'RUNNING') this.pending.push(t.trialId);
    }
    this.setState(j.state ?? {}, dropped);
    return true;
  }
}

/** JSON has no NaN or Infinity: they are written as strings and read back. */
function jsonNumbers(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}
function jsonRevive(_k: string, v: unknown): unknown {
  return v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v;
}

/** Values drawn at random from the space, each trial from its own stream of the seed. */
export class RandomSearchOracle extends Oracle {
  get kind(): string {
    return 'RandomSearch';
  }
  protected populateSpace(trialNumber: number): Record<string, HPValue> | null {
    return this.randomValues(trialNumber);
  }
}

/** Every combination of the space, the first declared parameter varying slowest, each once. */
export class GridSearchOracle extends Oracle {
  get kind(): string {
    return 'GridSearch';
  }
  protected populateSpace(): Record<string, HPValue> | null {
    const tried = this.triedKeys();
    for (const v of gridCombinations(this.hyperparameters.space)) if (!tried.has(valuesKey(v))) return v;
    return null;
  }
  /** How many combinations the declared space has. */
  gridSize(): number {
    let n = 0;
    for (const _ of gridCombinations(this.hyperparameters.space)) n++;
    return n;
  }
}
