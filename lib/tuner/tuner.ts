// Tuners: run the trials an oracle proposes. The default runTrial builds the model from the
// trial's hyperparameters, fits it (executionsPerTrial times) and keeps the best epoch's model as
// the trial's checkpoint; subclasses may override runTrial to score anything. Every trial is written
// as it starts and ends, so a search run again on the same project resumes where it stopped.
import * as fs from 'fs';
import * as path from 'path';
import { inspect } from 'util';
import { Sequential, FitOptions } from '../keras/model';
import { Layer } from '../keras/layers';
import type { Tensor } from '../tensor';
import { History, Logs, CallbackLike } from '../keras/callbacks';
import { loadModelSync } from '../keras/saving';
import { isObjectLike } from '../callable';
import { HyperParameters, HPValue, Condition } from './hyperparameters';
import { Oracle, RandomSearchOracle, GridSearchOracle, ORACLE_FILE, positiveInt } from './oracle';
import { BayesianOptimizationOracle, Kernel, Acquisition } from './bayesian';
import { HyperbandOracle } from './hyperband';
import { Objective, Trial, TrialResult, toExecutions, toObjective, bestOf, inferDirection, Direction, describe } from './trial';

/** Builds (and compiles) a model from hyperparameters: a function, or an object with build(hp) (Keras Tuner's HyperModel). */
export type HyperModel = ((hp: HyperParameters) => Sequential | Promise<Sequential>) | {
  /** Builds (and compiles) a model for these hyperparameters (Keras Tuner's HyperModel.build). */
  build(hp: HyperParameters): Sequential | Promise<Sequential>;
};

/** Runs the hypermodel: its build(hp) when it has one (a HyperModel object), else the build function itself. */
function buildWith(hm: HyperModel, hp: HyperParameters): Sequential | Promise<Sequential> {
  return typeof (hm as { build?: unknown }).build === 'function'
    ? (hm as { build(h: HyperParameters): Sequential | Promise<Sequential> }).build(hp)
    : (hm as (h: HyperParameters) => Sequential | Promise<Sequential>)(hp);
}

/** The options every tuner takes (KerasTuner's names, camelCased). */
export interface TunerOptions {
  /** the metric to optimize: 'val_accuracy' (direction inferred: losses and errors min, others max) or { name, direction } */
  objective?: string | { name: string; direction: Direction } | Objective;
  maxTrials?: number;
  /** fits per trial; the trial's score averages their best epochs */
  executionsPerTrial?: number;
  seed?: number;
  /** where the project directory goes (default '.') */
  directory?: string;
  projectName?: string;
  /** start over, deleting the project's trials (default false: resume them) */
  overwrite?: boolean;
  /** parameters declared up front (a Fixed one pins a parameter the build declares) */
  hyperparameters?: HyperParameters;
  /** add parameters the build declares that hyperparameters lacks to the search (default true), else fix them at their default */
  tuneNewEntries?: boolean;
  /** allow the build to declare parameters not in hyperparameters (default true) */
  allowNewEntries?: boolean;
  /** stop the search with an error after this many failed trials in a row (default 3) */
  maxConsecutiveFailedTrials?: number;
}
/** BayesianOptimization's options. */
export interface BayesianOptimizationOptions extends TunerOptions {
  /** random trials before the Gaussian process takes over (default 3 per tuned parameter) */
  numInitialPoints?: number;
  /** observation noise of the Gaussian process (default 1e-4) */
  alpha?: number;
  /** exploration weight of the upper confidence bound (default 2.6) */
  beta?: number;
  kernel?: Kernel;
  acquisition?: Acquisition;
}
/** Hyperband's options. */
export interface HyperbandOptions extends Omit<TunerOptions, 'maxTrials'> {
  /** epochs of the longest trials */
  maxEpochs: number;
  /** the reduction factor between rounds (default 3) */
  factor?: number;
  /** sweeps over all brackets (default 1) */
  hyperbandIterations?: number;
  /** an optional cap on the trials */
  maxTrials?: number;
}

const COMMON_KEYS = ['objective', 'maxTrials', 'executionsPerTrial', 'seed', 'directory', 'projectName', 'overwrite',
  'hyperparameters', 'tuneNewEntries', 'allowNewEntries', 'maxConsecutiveFailedTrials'];
const CHECKPOINT_DIR = 'checkpoint';

function checkOptions(where: string, o: unknown, known: string[]): Record<string, unknown> {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError(`${where}: expected an options object but received ${describe(o)}`);
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new TypeError(`${where}: unknown option '${k}'; known options: ${known.join(', ')}`);
  return o as Record<string, unknown>;
}

function boolOpt(where: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${where}: expected ${name} to be a boolean but received ${describe(v)}`);
  return v;
}

function numberOpt(where: string, name: string, v: unknown, dflt: number, ok: (x: number) => boolean, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${where}: expected ${name} to be ${what} but received ${describe(v)}`);
  if (!ok(v)) throw new RangeError(`${where}: expected ${name} to be ${what} but received ${v}`);
  return v;
}

/** Common options, validated, for the oracle. */
function oracleOptions(where: string, o: Record<string, unknown>, maxTrials: number) {
  if (o.hyperparameters !== undefined && !(o.hyperparameters instanceof HyperParameters)) {
    throw new TypeError(`${where}: expected hyperparameters to be a HyperParameters but received ${describe(o.hyperparameters)}`);
  }
  if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isSafeInteger(o.seed) || o.seed < 0)) {
    throw new TypeError(`${where}: expected seed to be a non-negative integer but received ${typeof o.seed === 'number' ? o.seed : describe(o.seed)}`);
  }
  return {
    objective: toObjective(o.objective),
    maxTrials,
    seed: o.seed as number | undefined,
    hyperparameters: o.hyperparameters as HyperParameters | undefined,
    tuneNewEntries: boolOpt(where, 'tuneNewEntries', o.tuneNewEntries, true),
    allowNewEntries: boolOpt(where, 'allowNewEntries', o.allowNewEntries, true),
  };
}

/** The objective is not among a trial's metrics: the search cannot score anything. */
class MissingObjectiveError extends Error {}

/** The options object of search(x, y, options) / search(dataset, options) / search(options). */
function isOptionsObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && !('data' in v && 'shape' in v);
}
function splitFitArgs(args: unknown[]): { data: unknown[]; opts: FitOptions } {
  const last = args[args.length - 1];
  if (args.length > 0 && isOptionsObject(last)) return { data: args.slice(0, -1), opts: last as FitOptions };
  return { data: args, opts: {} };
}

function hms(seconds: number): string {
  const s = Math.round(seconds);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}h ${p(Math.floor((s % 3600) / 60))}m ${p(s % 60)}s`;
}

function fmtValue(v: HPValue | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}

function fmtScore(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(4);
}

function condKey(c: Condition[]): string {
  return JSON.stringify(c);
}

/**
 * Runs a search: `await tuner.search(x, y, { epochs, validationSplit })`, then
 * `getBestModels()`, `getBestHyperparameters()`, `resultsSummary()`.
 */
export class Tuner {
  readonly oracle: Oracle;
  readonly hypermodel: HyperModel | null;
  readonly executionsPerTrial: number;
  readonly maxConsecutiveFailedTrials: number;
  /** directory/projectName, where oracle.json and the trial_XXX directories are written */
  readonly projectDir: string;
  private populated = false;
  private reloaded = false;

  constructor(oracle: Oracle, hypermodel: HyperModel | null | undefined, options: TunerOptions = {}, where = 'Tuner') {
    const overridden = Object.getPrototypeOf(this).runTrial !== Tuner.prototype.runTrial;
    // Keras layers and models are callable (typeof 'function') but are no build function
    if (hypermodel instanceof Layer) {
      throw new TypeError(`${where}: expected the hypermodel to be a function (hp) => compiled model, or an object with build(hp), ` +
        `but received the ${hypermodel.constructor.name} '${hypermodel.name}' itself; wrap it: (hp) => { ...build and compile a model... }`);
    }
    // A build function, or an object with build(hp); a model (callable, with fit) is neither.
    const isModel = isObjectLike(hypermodel) && typeof (hypermodel as { fit?: unknown }).fit !== 'function' &&
      (typeof hypermodel === 'function' || typeof (hypermodel as { build?: unknown }).build === 'function');
    if (!isModel && !((hypermodel === null || hypermodel === undefined) && overridden)) {
      throw new TypeError(`${where}: expected the hypermodel to be a function (hp) => compiled model, or an object with build(hp), ` +
        `but received ${describe(hypermodel)}${hypermodel === null || hypermodel === undefined ? ' (only a subclass that overrides runTrial may omit it)' : ''}`);
    }
    const o = options as Record<string, unknown>;
    this.oracle = oracle;
    this.hypermodel = isModel ? hypermodel as HyperModel : null;
    this.executionsPerTrial = positiveInt(where, 'executionsPerTrial', o.executionsPerTrial, 1);
    this.maxConsecutiveFailedTrials = positiveInt(where, 'maxConsecutiveFailedTrials', o.maxConsecutiveFailedTrials, 3);
    const directory = o.directory ?? '.';
    const projectName = o.projectName ?? 'untitled_project';
    if (typeof directory !== 'string' || !directory) throw new TypeError(`${where}: expected directory to be a path but received ${describe(directory)}`);
    if (typeof projectName !== 'string' || !projectName || /[/\\]/.test(projectName) || projectName === '.' || projectName === '..') {
      throw new TypeError(`${where}: expected projectName to be a directory name (no slashes) but received ${describe(projectName)}`);
    }
    this.projectDir = path.resolve(directory, projectName);
    oracle.projectDir = this.projectDir;
    if (boolOpt(where, 'overwrite', o.overwrite, false)) this.deleteProject();
    else this.reloaded = oracle.reload();
  }

  /** Every trial so far, in order. */
  get trials(): Trial[] {
    return this.oracle.trials;
  }

  /** Deletes the project directory, if it holds only what a tuner writes. */
  private deleteProject(): void {
    const dir = this.projectDir;
    if (!fs.existsSync(dir)) return;
    const foreign = fs.readdirSync(dir).filter((n) => n !== ORACLE_FILE && !/^trial_\d+$/.test(n) && !/^\..*\.tmp$/.test(n));
    if (foreign.length) {
      throw new Error(`overwrite: ${dir} holds files a tuner did not write (${foreign.slice(0, 5).join(', ')}); ` +
        'not deleting it: choose another directory or projectName');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }

  /** Builds a model for hp with the hypermodel. */
  protected async callHypermodel(hp: HyperParameters): Promise<Sequential> {
    const hm = this.hypermodel;
    if (!hm) throw new Error(`${this.constructor.name}: no hypermodel to build a model from (override runTrial, or pass a build function)`);
    const m = await buildWith(hm, hp);
    if (!isObjectLike(m) || typeof (m as { fit?: unknown }).fit !== 'function') {
      throw new TypeError(`the build function returned ${describe(m)}; expected a compiled model`);
    }
    return m;
  }

  /** The model a trial trains (Hyperband overrides it to continue a previous trial's model). */
  protected async buildModel(trial: Trial): Promise<Sequential> {
    return this.callHypermodel(trial.hyperparameters);
  }

  /** The fit options a trial's executions use (Hyperband sets epochs and initialEpoch). */
  protected fitOptions(_trial: Trial, opts: FitOptions): FitOptions {
    return opts;
  }

  /**
   * One trial: by default builds the model from trial.hyperparameters and fits it
   * executionsPerTrial times with the search's arguments, keeping the best epoch's model (over all
   * executions) in the trial's directory, and returns the executions' Histories. Override it to score anything:
   * return the objective's value, an object of metrics, a History, or an array of those.
   */
  async runTrial(trial: Trial, ...fitArgs: unknown[]): Promise<TrialResult> {
    const { data, opts } = splitFitArgs(fitArgs);
    if (data.length < 1 || data.length > 2) {
      throw new TypeError(`search: expected (x, y, fitOptions) or (dataset, fitOptions) as for model.fit but received ${data.length} data arguments`);
    }
    const histories: History[] = [];
    const objective = this.oracle.objective;
    const ckpt = path.join(this.oracle.trialDir(trial), CHECKPOINT_DIR);
    let best = NaN;
    for (let i = 0; i < this.executionsPerTrial; i++) {
      const model = await this.buildModel(trial);
      // The trial's best epoch so far (over all its executions) is kept in memory and written once the
      // fit ends: a killed trial is redone from scratch, so per-epoch files would buy nothing.
      const kept: { epoch: number; weights: Tensor[] | null; last: number } = { epoch: -1, weights: null, last: -1 };
      const tracker: CallbackLike = {
        onEpochEnd: (epoch: number, logs: Logs = {}) => {
          kept.last = epoch;
          const v = logs[objective.name];
          if (v === undefined || !objective.better(v, best)) return;
          best = v;
          for (const w of kept.weights ?? []) w.dispose();
          kept.weights = model.getWeights();
          kept.epoch = epoch;
        },
      };
      const fo = this.fitOptions(trial, { ...opts, callbacks: [...(opts.callbacks ?? []), tracker] });
      try {
        const h = await (model.fit as (...a: unknown[]) => Promise<History>)(...data, fo);
        const loss = h.history.loss ?? [];
        const bad = loss.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new Error(`loss became ${loss[bad]} at epoch ${h.epoch[bad] + 1} (execution ${i + 1}); training stopped`);
        histories.push(h);
        if (kept.weights) {
          // the optimizer's state belongs to the last epoch: saved only when that is the best one
          const exact = kept.epoch === kept.last;
          if (!exact) model.setWeights(kept.weights);
          await model.save(ckpt, { includeOptimizer: exact });
          trial.checkpoint = CHECKPOINT_DIR;
          trial.bestStep = kept.epoch;
        }
      } finally {
        for (const w of kept.weights ?? []) w.dispose();
      }
    }
    return histories;
  }

  /** Scores a trial from what runTrial returned. */
  private record(trial: Trial, result: TrialResult): void {
    const objective = this.oracle.objective;
    const execs = toExecutions(result, objective);
    trial.executions = execs;
    if (!execs.some((e) => objective.name in e.history)) {
      const logged = [...new Set(execs.flatMap((e) => Object.keys(e.history)))];
      const hint = objective.name.startsWith('val_') ? ' (val_ metrics need validationData or validationSplit in the search options)' : '';
      throw new MissingObjectiveError(`the objective '${objective.name}' is not among the metrics trial ${trial.trialId} logged ` +
        `(${logged.join(', ') || 'none'})${hint}; choose one of those as the objective`);
    }
    const names = [...new Set(execs.flatMap((e) => Object.keys(e.history)))];
    let bestExec: { value: number; epoch: number } | null = null;
    for (const name of names) {
      const dir = name === objective.name ? objective.direction : inferDirection(name);
      const bests = execs.map((e) => bestOf(e, name, dir)).filter((b): b is { value: number; epoch: number } => b !== null);
      const finite = bests.filter((b) => Number.isFinite(b.value));
      trial.metrics[name] = finite.length ? finite.reduce((a, b) => a + b.value, 0) / finite.length : NaN;
      if (name === objective.name) for (const b of finite) if (!bestExec || objective.better(b.value, bestExec.value)) bestExec = b;
    }
    trial.score = trial.metrics[objective.name];
    if (!Number.isFinite(trial.score)) throw new Error(`the objective '${objective.name}' was ${trial.score} in every epoch`);
    if (trial.bestStep === null && bestExec) trial.bestStep = bestExec.epoch;
  }

  /**
   * Declares the space before the first trial: builds once with the defaults, then again with
   * parent values that open each conditional scope not yet seen active (Keras Tuner does the same).
   */
  private async populateInitialSpace(): Promise<void> {
    if (this.populated) return;
    if (this.hypermodel) {
      const seen = new Set<string>();
      const tried = new Set<string>();
      let hp = this.oracle.getSpace();
      for (let i = 0; i < 100; i++) {
        try {
          await this.callHypermodel(hp);
        } catch (e) {
          if (i === 0) throw new Error(`the build function failed with the default hyperparameters: ${(e as Error).message}`);
          break; // a branch the defaults cannot build: its trials will fail and say why
        }
        const more = this.declareAndOpenNextScope(hp, seen, tried);
        if (!more) break;
        hp = more;
      }
    }
    this.populated = true;
  }

  /**
   * After a build with hp: records the space it declared, then returns the space with the
   * parents set to open one conditional scope never active so far (marked tried), or null when
   * every scope has been opened.
   */
  private declareAndOpenNextScope(hp: HyperParameters, seen: Set<string>, tried: Set<string>): HyperParameters | null {
    this.oracle.updateSpace(hp);
    for (const s of hp.activeScopes) seen.add(condKey(s));
    const next = hp.inactiveScopes.find((s) => !seen.has(condKey(s)) && !tried.has(condKey(s)));
    if (!next) return null;
    tried.add(condKey(next));
    const space = this.oracle.getSpace();
    for (const c of next) space.values[c.name] = c.values[0];
    return space;
  }

  /** The space, declared by a build with the defaults when no search ran yet (synchronous builds only). */
  private populateSync(): void {
    if (this.populated || !this.hypermodel) return;
    const hm = this.hypermodel;
    const seen = new Set<string>();
    const tried = new Set<string>();
    let hp = this.oracle.getSpace();
    for (let i = 0; i < 100; i++) {
      let r: unknown;
      try {
        r = buildWith(hm, hp);
      } catch {
        return;
      }
      if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).catch(() => undefined); // an async build declares its space when search() runs
        return;
      }
      const more = this.declareAndOpenNextScope(hp, seen, tried);
      if (!more) break;
      hp = more;
    }
    this.populated = true;
  }

  /**
   * Runs trials until the oracle has none left (maxTrials, an exhausted space, Hyperband's
   * schedule). Arguments are model.fit's: (x, y, options) or (dataset, options); options.verbose 0
   * silences both the fits and the tuner.
   */
  async search(...fitArgs: unknown[]): Promise<void> {
    const { opts } = splitFitArgs(fitArgs);
    const verbose = opts.verbose ?? 1;
    const log = (s: string) => { if (verbose) console.log(s); };
    if (this.reloaded) {
      log(`Reloading Tuner from ${path.join(this.projectDir, ORACLE_FILE)}`);
      this.reloaded = false;
    }
    await this.populateInitialSpace();
    fs.mkdirSync(this.projectDir, { recursive: true });
    this.oracle.save();
    const objective = this.oracle.objective;
    const start = performance.now();
    let failedInARow = 0;
    for (;;) {
      const trial = this.oracle.createTrial();
      if (!trial) break;
      trial.hyperparameters.allowNewEntries = this.oracle.allowNewEntries;
      fs.rmSync(path.join(this.oracle.trialDir(trial), CHECKPOINT_DIR), { recursive: true, force: true });
      trial.startedAt = new Date().toISOString();
      trial.endedAt = null;
      trial.seconds = null;
      // oracle.json first: a run killed between the two writes leaves an id without trial.json, which reload forgets
      this.oracle.save();
      this.oracle.saveTrial(trial);
      if (verbose) log(this.trialHeader(trial));
      const t0 = performance.now();
      let stop: Error | null = null;
      try {
        this.record(trial, await this.runTrial(trial, ...fitArgs));
        trial.status = 'COMPLETED';
        failedInARow = 0;
      } catch (e) {
        trial.status = 'FAILED';
        trial.message = e instanceof Error ? e.message : String(e);
        failedInARow++;
        if (e instanceof MissingObjectiveError && !this.oracle.trials.some((t) => t.status === 'COMPLETED')) stop = e;
        else if (failedInARow >= this.maxConsecutiveFailedTrials) {
          stop = new Error(`tuner: ${failedInARow} trials failed in a row (maxConsecutiveFailedTrials); the last, trial ` +
            `${trial.trialId}, failed with: ${trial.message}`);
        }
      }
      trial.seconds = (performance.now() - t0) / 1000;
      trial.endedAt = new Date().toISOString();
      const grown = this.oracle.updateSpace(trial.hyperparameters);
      this.oracle.saveTrial(trial);
      if (grown) this.oracle.save(); // oracle.json changes at a trial's end only when its build declared new parameters
      if (verbose) {
        const best = this.oracle.getBestTrials(1)[0];
        log(`Trial ${trial.number + 1} ${trial.status === 'COMPLETED' ? 'Complete' : 'Failed'} [${hms(trial.seconds)}]`);
        log(trial.status === 'COMPLETED' ? `${objective.name}: ${fmtScore(trial.score)}` : `Error: ${trial.message}`);
        log(`\nBest ${objective.name} So Far: ${best ? fmtScore(best.score) : 'none'}`);
        log(`Total elapsed time: ${hms((performance.now() - start) / 1000)}\n`);
      }
      if (stop) throw stop;
    }
  }

  private trialHeader(trial: Trial): string {
    const values = trial.hyperparameters.values;
    const best = this.oracle.getBestTrials(1)[0]?.hyperparameters.values ?? {};
    const names = Object.keys(values);
    const rows = names.map((n) => [fmtValue(values[n]), fmtValue(best[n]), n]);
    const w = [Math.max(18, ...rows.map((r) => r[0].length + 1)), Math.max(18, ...rows.map((r) => r[1].length + 1))];
    return [`\nSearch: Running Trial #${trial.number + 1}\n`, `${'Value'.padEnd(w[0])}|${'Best Value So Far'.padEnd(w[1])}|Hyperparameter`,
      ...rows.map((r) => `${r[0].padEnd(w[0])}|${r[1].padEnd(w[1])}|${r[2]}`), ''].join('\n');
  }

  /** The best trials' hyperparameters, best first. */
  getBestHyperparameters(numTrials = 1): HyperParameters[] {
    positiveInt('getBestHyperparameters', 'numTrials', numTrials, 1);
    return this.oracle.getBestTrials(numTrials).map((t) => t.hyperparameters.copy());
  }

  /** Reloads a trial's checkpoint: loadModel, or the hypermodel's model with the saved weights (custom layers). */
  protected async loadTrialModel(trial: Trial): Promise<Sequential> {
    if (!trial.checkpoint) {
      throw new Error(`trial ${trial.trialId} has no saved model (its objective never improved, or runTrial saved none)`);
    }
    const dir = path.join(this.oracle.trialDir(trial), trial.checkpoint);
    try {
      return loadModelSync(dir) as Sequential;
    } catch (e) {
      if (!this.hypermodel || !/unknown class/.test((e as Error).message)) throw e;
      const hp = trial.hyperparameters.copy();
      hp.allowNewEntries = true;
      const m = await this.callHypermodel(hp);
      await m.loadWeights(path.join(dir, 'model.safetensors'));
      return m;
    }
  }

  /** The best trials' models, reloaded from their checkpoints, compiled and ready to evaluate. */
  async getBestModels(n: number | { numModels?: number } = 1): Promise<Sequential[]> {
    const count = typeof n === 'number' ? n : checkOptions('getBestModels', n, ['numModels']).numModels ?? 1;
    positiveInt('getBestModels', 'numModels', count, 1);
    const out: Sequential[] = [];
    for (const t of this.oracle.getBestTrials(count as number)) out.push(await this.loadTrialModel(t));
    return out;
  }

  /** Prints (and returns) the search space: each parameter's kind and settings. */
  searchSpaceSummary(print = true): string {
    this.populateSync();
    const space = this.oracle.hyperparameters.space;
    const lines = ['Search space summary', `Default search space size: ${space.length}`];
    for (const p of space) {
      const { className, name: _n, ...rest } = p.config();
      lines.push(`${p.name} (${className})`, inspect(rest, { compact: true, breakLength: Infinity, depth: 4 }));
    }
    const text = lines.join('\n');
    if (print) console.log(text);
    return text;
  }

  /** Prints (and returns) a table of the best trials: id, score and hyperparameters. */
  resultsSummary(numTrials = 10, print = true): string {
    positiveInt('resultsSummary', 'numTrials', numTrials, 10);
    const best = this.oracle.getBestTrials(numTrials);
    const failed = this.oracle.trials.filter((t) => t.status === 'FAILED');
    const names = [...new Set(best.flatMap((t) => Object.keys(t.hyperparameters.values)))];
    const header = ['Trial', 'Score', ...names];
    const shown = (hp: HyperParameters, n: string) => (!(n in hp.values) || (hp.has(n) && !hp.isActive(n)) ? null : hp.values[n]);
    const rows = best.map((t) => [t.trialId, fmtScore(t.score), ...names.map((n) => fmtValue(shown(t.hyperparameters, n)))]);
    const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
    const lines = [
      'Results summary',
      `Results in ${this.projectDir}`,
      `Showing ${best.length} best trial${best.length === 1 ? '' : 's'}`,
      `${this.oracle.objective}`,
      '',
      line(header),
      line(w.map((n) => '-'.repeat(n))),
      ...rows.map(line),
    ];
    if (failed.length) {
      lines.push('', `${failed.length} trial${failed.length === 1 ? '' : 's'} failed:`, ...failed.map((t) => `  trial ${t.trialId}: ${t.message}`));
    }
    const text = lines.join('\n');
    if (print) console.log(text);
    return text;
  }
}

/** Random values from the space, reproducible under a seed. */
export class RandomSearch extends Tuner {
  constructor(hypermodel: HyperModel | null, options: TunerOptions = {}) {
    const o = checkOptions('RandomSearch', options, COMMON_KEYS);
    super(new RandomSearchOracle(oracleOptions('RandomSearch', o, positiveInt('RandomSearch', 'maxTrials', o.maxTrials, 10))), hypermodel, options, 'RandomSearch');
  }
}

/** Every combination of the space (Float parameters need a step), the first parameter varying slowest. */
export class GridSearch extends Tuner {
  constructor(hypermodel: HyperModel | null, options: TunerOptions = {}) {
    const o = checkOptions('GridSearch', options, COMMON_KEYS);
    const maxTrials = o.maxTrials === undefined ? Infinity : positiveInt('GridSearch', 'maxTrials', o.maxTrials, 1);
    super(new GridSearchOracle(oracleOptions('GridSearch', o, maxTrials)), hypermodel, options, 'GridSearch');
  }
}

/** A Gaussian-process surrogate of the scores picks each trial after numInitialPoints random ones. */
export class BayesianOptimization extends Tuner {
  constructor(hypermodel: HyperModel | null, options: BayesianOptimizationOptions = {}) {
    const where = 'BayesianOptimization';
    const o = checkOptions(where, options, [...COMMON_KEYS, 'numInitialPoints', 'alpha', 'beta', 'kernel', 'acquisition']);
    if (o.kernel !== undefined && o.kernel !== 'matern52' && o.kernel !== 'rbf') throw new TypeError(`${where}: expected kernel 'matern52' or 'rbf' but received ${describe(o.kernel)}`);
    if (o.acquisition !== undefined && o.acquisition !== 'ucb' && o.acquisition !== 'ei') throw new TypeError(`${where}: expected acquisition 'ucb' or 'ei' but received ${describe(o.acquisition)}`);
    const oracle = new BayesianOptimizationOracle({
      ...oracleOptions(where, o, positiveInt(where, 'maxTrials', o.maxTrials, 10)),
      numInitialPoints: o.numInitialPoints === undefined ? undefined : positiveInt(where, 'numInitialPoints', o.numInitialPoints, 1),
      alpha: numberOpt(where, 'alpha', o.alpha, 1e-4, (x) => x > 0, 'a positive number'),
      beta: numberOpt(where, 'beta', o.beta, 2.6, (x) => x >= 0, 'a non-negative number'),
      kernel: o.kernel as Kernel | undefined,
      acquisition: o.acquisition as Acquisition | undefined,
    });
    super(oracle, hypermodel, options, where);
  }
}

/**
 * Hyperband: brackets of successive halving up to maxEpochs. A promoted trial continues the
 * previous round's model (weights and optimizer state from its checkpoint) with fit's initialEpoch.
 */
export class Hyperband extends Tuner {
  constructor(hypermodel: HyperModel | null, options: HyperbandOptions) {
    const where = 'Hyperband';
    const o = checkOptions(where, options, [...COMMON_KEYS, 'maxEpochs', 'factor', 'hyperbandIterations']);
    if (o.maxEpochs === undefined) throw new TypeError(`${where}: expected maxEpochs, the epochs of the longest trials (e.g. { maxEpochs: 10 })`);
    const oracle = new HyperbandOracle({
      ...oracleOptions(where, o, 1),
      maxTrials: o.maxTrials === undefined ? undefined : positiveInt(where, 'maxTrials', o.maxTrials, 1),
      maxEpochs: positiveInt(where, 'maxEpochs', o.maxEpochs, 1),
      factor: numberOpt(where, 'factor', o.factor, 3, (x) => x >= 2 && Number.isInteger(x), 'an integer >= 2'),
      hyperbandIterations: positiveInt(where, 'hyperbandIterations', o.hyperbandIterations, 1),
    });
    super(oracle, hypermodel, options, where);
  }

  protected async buildModel(trial: Trial): Promise<Sequential> {
    const past = trial.hyperparameters.values['tuner/trial_id'];
    if (past === undefined) return this.callHypermodel(trial.hyperparameters);
    const prev = this.oracle.getTrial(String(past));
    if (!prev) throw new Error(`Hyperband: trial ${trial.trialId} continues trial ${past}, which is not in the project`);
    return this.loadTrialModel(prev);
  }

  protected fitOptions(trial: Trial, opts: FitOptions): FitOptions {
    const v = trial.hyperparameters.values;
    return { ...opts, epochs: v['tuner/epochs'] as number, initialEpoch: v['tuner/initial_epoch'] as number };
  }
}
