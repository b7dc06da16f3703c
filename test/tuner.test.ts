// nt.tuner: hyperparameter declarations and sampling, each tuner on cheap objectives (runTrial
// overridden with pure functions of hp), Hyperband continuing weights on a tiny real model,
// persistence and resuming after a SIGKILL, failed trials, and every bad-input error.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as nt from '../lib';
import { Random } from '../lib/data/random';

const { tuner, Sequential, layers, optimizers } = nt;
type HP = nt.tuner.HyperParameters;
type Trial = nt.tuner.Trial;

const root = path.resolve(__dirname, '..');
let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-tuner-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });
let projects = 0;
/** A fresh project in the test's temp directory. */
const project = () => ({ directory: tmp, projectName: `p${projects++}` });

// A tuner class whose trials score a pure function of hp instead of training (Keras Tuner's run_trial override).
type TunerClass = new (hypermodel: null, options: never) => nt.tuner.Tuner;
function scoring(Base: unknown, f: (hp: HP, trial: Trial) => nt.tuner.TrialResult, seen?: Trial[]): new (h: null, o: object) => nt.tuner.Tuner {
  const B = Base as TunerClass;
  return class extends B {
    async runTrial(trial: Trial): Promise<nt.tuner.TrialResult> {
      seen?.push(trial);
      return f(trial.hyperparameters, trial);
    }
  } as unknown as new (h: null, o: object) => nt.tuner.Tuner;
}

function space(fn: (hp: HP) => void): HP {
  const hp = new tuner.HyperParameters();
  fn(hp);
  return hp;
}

/** The tiny real model: Dense(units, relu) -> Dense(3, softmax) on 4 features. */
function buildTiny(hp: HP): nt.Sequential {
  const m = new Sequential([
    new layers.Dense(hp.Int('units', { minValue: 4, maxValue: 16, step: 4 }), { activation: 'relu', inputShape: [4] }),
    new layers.Dense(3, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: new optimizers.Adam({ learningRate: hp.Choice('lr', [0.01, 0.001]) }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}
function tinyData(n = 96): [nt.Tensor, nt.Tensor] {
  nt.manualSeed(11);
  const x = nt.randn([n, 4]);
  const y = x.slice(1, 0, 1).reshape(-1).gt(0).to('int64').add(x.slice(1, 1, 2).reshape(-1).gt(0.5).to('int64'));
  return [x, y];
}

describe('HyperParameters', () => {
  test('declarations return their defaults and record them in values', () => {
    const hp = new tuner.HyperParameters();
    expect(hp.Int('units', { minValue: 32, maxValue: 512, step: 32 })).toBe(32);
    expect(hp.Int('layers', { minValue: 1, maxValue: 4, default: 2 })).toBe(2);
    expect(hp.Float('dropout', { minValue: 0, maxValue: 0.5, step: 0.1 })).toBe(0);
    expect(hp.Float('lr', { minValue: 1e-4, maxValue: 1e-2, sampling: 'log', default: 1e-3 })).toBe(1e-3);
    expect(hp.Choice('act', ['relu', 'tanh'])).toBe('relu');
    expect(hp.Choice('opt', ['adam', 'sgd'], { default: 'sgd' })).toBe('sgd');
    expect(hp.Boolean('bn')).toBe(false);
    expect(hp.Fixed('batch', 64)).toBe(64);
    expect(hp.values).toEqual({ units: 32, layers: 2, dropout: 0, lr: 1e-3, act: 'relu', opt: 'sgd', bn: false, batch: 64 });
    expect(hp.get('act')).toBe('relu');
    expect(() => hp.get('nope')).toThrow(/no hyperparameter named 'nope'; declared: units, layers/);
    // a name declared again the same way returns the current value
    hp.values.units = 256;
    expect(hp.Int('units', { minValue: 32, maxValue: 512, step: 32 })).toBe(256);
  });

  test('a value maps to [0, 1] and back: steps, log scale, choices', () => {
    const hp = space((h) => {
      h.Int('units', { minValue: 32, maxValue: 512, step: 32 });
      h.Float('lr', { minValue: 1e-4, maxValue: 1e-1, sampling: 'log' });
      h.Int('filters', { minValue: 8, maxValue: 128, step: 2, sampling: 'log' });
      h.Choice('act', ['relu', 'tanh', 'gelu']);
    });
    const [units, lr, filters, act] = hp.space;
    expect(units.gridValues()).toEqual(Array.from({ length: 16 }, (_, i) => 32 * (i + 1)));
    expect(filters.gridValues()).toEqual([8, 16, 32, 64, 128]);
    for (const v of units.gridValues()) expect(units.fromUnit(units.toUnit(v))).toBe(v);
    expect(lr.toUnit(1e-4)).toBeCloseTo(0, 12);
    expect(lr.toUnit(1e-2)).toBeCloseTo(2 / 3, 12); // a third of the log range per decade
    expect(lr.fromUnit(1 / 3)).toBeCloseTo(1e-3, 12);
    expect(act.fromUnit(0.99)).toBe('gelu');
    expect(act.toUnit('tanh')).toBeCloseTo(0.5, 12);
  });

  test('log sampling stays in range and is uniform per decade', () => {
    const hp = space((h) => h.Float('lr', { minValue: 1e-5, maxValue: 1e-1, sampling: 'log' }));
    const rng = new Random(3);
    const xs = Array.from({ length: 4000 }, () => hp.space[0].randomSample(rng) as number);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(1e-5);
    expect(Math.max(...xs)).toBeLessThanOrEqual(1e-1);
    const perDecade = [1e-5, 1e-4, 1e-3, 1e-2].map((lo) => xs.filter((x) => x >= lo && x < lo * 10).length / xs.length);
    for (const f of perDecade) expect(Math.abs(f - 0.25)).toBeLessThan(0.03);
    const ints = space((h) => h.Int('n', { minValue: 1, maxValue: 1000, sampling: 'log' })).space[0];
    const ns = Array.from({ length: 2000 }, () => ints.randomSample(rng) as number);
    expect(ns.every((n) => Number.isInteger(n) && n >= 1 && n <= 1000)).toBe(true);
    expect(ns.filter((n) => n < 32).length / ns.length).toBeGreaterThan(0.4); // log-uniform: half below sqrt(1000)
  });

  test('conditional parameters are active only for their parent values', () => {
    const hp = new tuner.HyperParameters();
    const model = hp.Choice('model', ['mlp', 'cnn']);
    const units = hp.conditionalScope('model', 'mlp', () => hp.Int('units', { minValue: 8, maxValue: 64, step: 8 }));
    const filters = hp.conditionalScope('model', ['cnn'], () => hp.Int('filters', { minValue: 4, maxValue: 32, step: 4 }));
    expect([model, units, filters]).toEqual(['mlp', 8, undefined]);
    // the option form registers the parameter even while inactive, and gives null
    expect(hp.Float('kernel', { minValue: 1, maxValue: 5, step: 2, parentName: 'model', parentValues: ['cnn'] })).toBeNull();
    expect(hp.values).toEqual({ model: 'mlp', units: 8 });
    expect(hp.isActive('units')).toBe(true);
    expect(hp.isActive('kernel')).toBe(false);
    expect(hp.get('kernel')).toBeNull();
    hp.values.model = 'cnn';
    expect(hp.get('units')).toBeNull();
    expect(hp.Float('kernel', { minValue: 1, maxValue: 5, step: 2, parentName: 'model', parentValues: ['cnn'] })).toBe(1);
    expect(hp.conditionalScope('model', 'cnn', () => hp.Int('filters', { minValue: 4, maxValue: 32, step: 4 }))).toBe(4);
    expect(hp.space.map((p) => `${p.name}:${p.conditions.map((c) => `${c.name}=${c.values.join('|')}`).join()}`))
      .toEqual(['model:', 'units:model=mlp', 'kernel:model=cnn', 'filters:model=cnn']);
  });

  test('the tuner explores every conditional branch and samples children only under their parent', async () => {
    const seen: Trial[] = [];
    const build = (hp: HP) => {
      // each scope runs its function only while active, so both are written unconditionally
      hp.Choice('model', ['mlp', 'cnn']);
      hp.conditionalScope('model', 'mlp', () => hp.Int('width', { minValue: 8, maxValue: 64, step: 8 }));
      hp.conditionalScope('model', 'cnn', () => hp.Int('filters', { minValue: 4, maxValue: 32, step: 4 }));
      return buildTiny(hp);
    };
    class T extends tuner.RandomSearch {
      async runTrial(trial: Trial) {
        seen.push(trial);
        return trial.number;
      }
    }
    const t = new T(build, { objective: { name: 's', direction: 'max' }, maxTrials: 12, seed: 5, ...project() });
    const summary = t.searchSpaceSummary(false);
    // the defaults only open the mlp branch; the cnn one was built with model = 'cnn'
    expect(summary).toMatch(/^Search space summary\nDefault search space size: 5\nmodel \(Choice\)\n/);
    expect(summary).toContain("filters (Int)\n{ default: 4, conditions: [ { name: 'model', values: [ 'cnn' ] } ], minValue: 4, maxValue: 32, step: 4");
    await t.search({ verbose: 0 });
    expect(seen).toHaveLength(12);
    for (const tr of seen) {
      const v = tr.hyperparameters.values;
      expect(Object.keys(v).sort()).toEqual(v.model === 'mlp' ? ['lr', 'model', 'units', 'width'] : ['filters', 'lr', 'model', 'units']);
    }
    expect(new Set(seen.map((tr) => tr.hyperparameters.values.model))).toEqual(new Set(['mlp', 'cnn']));
  });

  test('values are reproducible under a seed and differ across seeds', async () => {
    const hp = space((h) => {
      h.Int('units', { minValue: 32, maxValue: 512, step: 32 });
      h.Float('lr', { minValue: 1e-4, maxValue: 1e-1, sampling: 'log' });
      h.Boolean('bn');
    });
    const run = async (seed: number) => {
      const T = scoring(tuner.RandomSearch, () => 0);
      const t = new T(null, { objective: { name: 's', direction: 'max' }, maxTrials: 6, seed, hyperparameters: hp, ...project() });
      await t.search({ verbose: 0 });
      return t.trials.map((tr) => tr.hyperparameters.values);
    };
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(await run(43)).not.toEqual(a);
    expect(new Set(a.map((v) => JSON.stringify(v))).size).toBe(6);
    for (const v of a) {
      expect((v.units as number) % 32).toBe(0);
      expect(v.lr).toBeGreaterThanOrEqual(1e-4);
      expect(v.lr).toBeLessThanOrEqual(1e-1);
    }
  });

  test('a Fixed entry in hyperparameters pins what the build declares; tuneNewEntries false fixes the rest', async () => {
    const seen: Trial[] = [];
    class T extends tuner.RandomSearch {
      async runTrial(trial: Trial) {
        seen.push(trial);
        return 0;
      }
    }
    const pinned = space((h) => h.Fixed('lr', 0.001));
    const t = new T(buildTiny, { objective: { name: 's', direction: 'max' }, maxTrials: 3, seed: 1, hyperparameters: pinned, tuneNewEntries: false, ...project() });
    await t.search({ verbose: 0 });
    // units is new and not tuned: every trial has its default; the search space is exhausted after one
    expect(seen.map((tr) => tr.hyperparameters.values)).toEqual([{ lr: 0.001, units: 4 }]);
  });
});

describe('GridSearch', () => {
  test('visits every combination once, the first parameter varying slowest', async () => {
    const seen: Trial[] = [];
    const T = scoring(tuner.GridSearch, () => 1, seen);
    const hp = space((h) => {
      h.Int('a', { minValue: 1, maxValue: 3 });
      h.Choice('b', ['x', 'y']);
      h.Boolean('c');
    });
    const t = new T(null, { objective: { name: 's', direction: 'max' }, hyperparameters: hp, ...project() });
    await t.search({ verbose: 0 });
    const expected: unknown[] = [];
    for (const a of [1, 2, 3]) for (const b of ['x', 'y']) for (const c of [false, true]) expected.push({ a, b, c });
    expect(seen.map((tr) => tr.hyperparameters.values)).toEqual(expected);
    // run again: nothing left to try
    const again = new T(null, { objective: { name: 's', direction: 'max' }, hyperparameters: hp, directory: t.projectDir.replace(/[/\\][^/\\]+$/, ''), projectName: path.basename(t.projectDir) });
    await again.search({ verbose: 0 });
    expect(seen).toHaveLength(12);
  });

  test('grids conditional spaces and stepped floats; a Float without a step is refused', async () => {
    const seen: Trial[] = [];
    const T = scoring(tuner.GridSearch, () => 1, seen);
    const hp = space((h) => {
      h.Choice('opt', ['sgd', 'adam']);
      h.Float('momentum', { minValue: 0, maxValue: 0.9, step: 0.3, parentName: 'opt', parentValues: 'sgd' });
    });
    await new T(null, { objective: { name: 's', direction: 'max' }, hyperparameters: hp, ...project() }).search({ verbose: 0 });
    expect(seen.map((tr) => tr.hyperparameters.values)).toEqual([
      { opt: 'sgd', momentum: 0 }, { opt: 'sgd', momentum: 0.3 }, { opt: 'sgd', momentum: 0.6 }, { opt: 'sgd', momentum: 0.9 }, { opt: 'adam' },
    ]);
    const noStep = space((h) => h.Float('lr', { minValue: 1e-4, maxValue: 1e-2, sampling: 'log' }));
    const g = new T(null, { objective: { name: 's', direction: 'max' }, hyperparameters: noStep, ...project() });
    await expect(g.search({ verbose: 0 })).rejects.toThrow(/GridSearch: Float 'lr' has no step, so it has no grid; give it a step/);
  });
});

describe('finding the optimum of a cheap objective', () => {
  // maximum 10 at x = 7, act = 'gelu'
  const f = (hp: HP) => 10 - ((hp.get('x') as number) - 7) ** 2 - (hp.get('act') === 'gelu' ? 0 : 3);
  const hp = space((h) => {
    h.Int('x', { minValue: 0, maxValue: 9 });
    h.Choice('act', ['relu', 'tanh', 'gelu']);
  });
  const objective = { name: 'score', direction: 'max' as const };
  test.each([
    ['RandomSearch', tuner.RandomSearch, { maxTrials: 25 }],
    ['GridSearch', tuner.GridSearch, {}],
    ['BayesianOptimization', tuner.BayesianOptimization, { maxTrials: 15 }],
    // two sweeps of 3 brackets: 34 first-round trials, never the same values twice, cover the 30 combinations
    ['Hyperband', tuner.Hyperband, { maxEpochs: 9, hyperbandIterations: 2 }],
  ])('%s', async (_name, Base, extra) => {
    const T = scoring(Base, (h) => ({ score: f(h) }));
    const t = new T(null, { objective, hyperparameters: hp, seed: 2, ...extra, ...project() });
    await t.search({ verbose: 0 });
    const [best] = t.getBestHyperparameters();
    expect(best.get('x')).toBe(7);
    expect(best.get('act')).toBe('gelu');
    expect(t.oracle.getBestTrials(1)[0].score).toBe(10);
  });

  test('minimizing: the direction of val_loss is inferred and respected', async () => {
    const T = scoring(tuner.GridSearch, (h) => ({ val_loss: ((h.get('x') as number) - 3) ** 2 }));
    const t = new T(null, { objective: 'val_loss', hyperparameters: space((h) => h.Int('x', { minValue: 0, maxValue: 5 })), ...project() });
    await t.search({ verbose: 0 });
    expect(t.oracle.objective.direction).toBe('min');
    expect(t.getBestHyperparameters(3).map((h) => h.get('x'))).toEqual([3, 2, 4]);
    expect(tuner.inferDirection('val_accuracy')).toBe('max');
    expect(tuner.inferDirection('mean_absolute_error')).toBe('min');
    expect(tuner.inferDirection('val_mse')).toBe('min');
    expect(tuner.inferDirection('auc')).toBe('max');
  });

  test('BayesianOptimization reaches the optimum of a smooth 2-D function in fewer trials than random search', () => {
    // Oracles driven directly (no files): each proposes, the objective scores, and the next proposal sees it.
    const g = (v: Record<string, nt.tuner.HPValue>) => -(((v.x as number) - 0.37) ** 2) - (((v.y as number) - 0.81) ** 2);
    const trialsToReach = (oracle: nt.tuner.Oracle): number => {
      for (let i = 0; i < 60; i++) {
        const trial = oracle.createTrial()!;
        trial.score = g(trial.hyperparameters.values);
        trial.status = 'COMPLETED';
        if (trial.score > -4e-4) return i + 1; // within 0.02 of the optimum
      }
      return 61;
    };
    const hp2 = space((h) => {
      h.Float('x', { minValue: 0, maxValue: 1 });
      h.Float('y', { minValue: 0, maxValue: 1 });
    });
    const base = { objective: new tuner.Objective('score', 'max'), maxTrials: 60, hyperparameters: hp2 };
    const seeds = [0, 1, 2, 3, 4];
    const random = seeds.map((seed) => trialsToReach(new tuner.RandomSearchOracle({ ...base, seed })));
    const bayes = seeds.map((seed) => trialsToReach(new tuner.BayesianOptimizationOracle({ ...base, seed })));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(bayes)).toBeLessThan(mean(random) / 2);
    expect(Math.max(...bayes)).toBeLessThanOrEqual(30);
  });

  test('executions are averaged: the score is the mean of each execution\'s best epoch', async () => {
    const T = scoring(tuner.RandomSearch, () => [
      { epoch: [0, 1, 2], history: { val_accuracy: [0.5, 0.7, 0.6], loss: [1, 0.5, 0.25] } },
      { epoch: [0, 1, 2], history: { val_accuracy: [0.4, 0.5, 0.9], loss: [2, 1, 0.75] } },
    ]);
    const t = new T(null, { objective: 'val_accuracy', maxTrials: 1, hyperparameters: space((h) => h.Int('x', { minValue: 0, maxValue: 3 })), ...project() });
    await t.search({ verbose: 0 });
    const [tr] = t.trials;
    expect(tr.score).toBeCloseTo(0.8, 12);
    expect(tr.metrics).toEqual({ val_accuracy: expect.closeTo(0.8, 12), loss: 0.5 });
    expect(tr.bestStep).toBe(2);
  });
});

describe('training real models', () => {
  test('search fits every trial with the fit options, checkpoints the best epoch and reloads the best models', async () => {
    const [x, y] = tinyData();
    const epochsSeen: number[][] = [];
    const stopAfterTwo = {
      model: null as null | { stopTraining: boolean },
      setModel(m: { stopTraining: boolean }) { this.model = m; },
      onEpochEnd(e: number) { if (e === 1) this.model!.stopTraining = true; },
    };
    const t = new tuner.RandomSearch(buildTiny, { objective: 'val_accuracy', maxTrials: 3, executionsPerTrial: 2, seed: 0, ...project() });
    await t.search(x, y, { epochs: 6, batchSize: 16, validationSplit: 0.25, verbose: 0, callbacks: [stopAfterTwo, { onTrainBegin() { epochsSeen.push([]); }, onEpochEnd(e: number) { epochsSeen[epochsSeen.length - 1].push(e); } }] });
    expect(epochsSeen).toEqual(Array(6).fill([0, 1])); // 3 trials x 2 executions, stopped by the user's callback
    expect(t.trials.map((tr) => tr.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    for (const tr of t.trials) {
      const file = JSON.parse(fs.readFileSync(path.join(t.projectDir, `trial_${tr.trialId}`, 'trial.json'), 'utf8'));
      expect(file.status).toBe('COMPLETED');
      expect(file.hyperparameters.values).toEqual(tr.hyperparameters.values);
      expect(file.executions).toHaveLength(2);
      expect(Object.keys(file.executions[0].history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
      const bests = file.executions.map((e: nt.tuner.Execution) => Math.max(...e.history.val_accuracy));
      expect(file.score).toBeCloseTo((bests[0] + bests[1]) / 2, 12);
      expect([0, 1]).toContain(file.bestStep);
      expect(fs.existsSync(path.join(t.projectDir, `trial_${tr.trialId}`, 'checkpoint', 'model.safetensors'))).toBe(true);
    }
    const oracle = JSON.parse(fs.readFileSync(path.join(t.projectDir, 'oracle.json'), 'utf8'));
    expect(oracle.trialIds).toEqual(['000', '001', '002']);
    expect(oracle.space.map((p: { name: string }) => p.name)).toEqual(['units', 'lr']);

    const best = t.oracle.getBestTrials(3);
    const models = await t.getBestModels({ numModels: 2 });
    expect(models).toHaveLength(2);
    const [xv, yv] = [x.slice(0, 72, 96), y.slice(0, 72, 96)];
    const acc = ((await models[0].evaluate(xv, yv, { verbose: 0 })) as number[])[1];
    // the checkpoint is the best epoch of the trial's best execution
    const bestExec = Math.max(...best[0].executions.map((e) => Math.max(...e.history.val_accuracy)));
    expect(acc).toBeCloseTo(bestExec, 5);
    expect((models[0].layers[0] as nt.layers.Dense).units).toBe(best[0].hyperparameters.get('units'));
    expect(t.getBestHyperparameters(2).map((h) => h.values)).toEqual(best.slice(0, 2).map((tr) => tr.hyperparameters.values));

    const table = t.resultsSummary(2, false);
    expect(table).toContain('Showing 2 best trials\nObjective(name="val_accuracy", direction="max")');
    expect(table).toMatch(new RegExp(`Trial\\s+Score\\s+units\\s+lr\\n-+\\s+-+\\s+-+\\s+-+\\n${best[0].trialId}\\s+${best[0].score!.toFixed(4)}\\s+${best[0].hyperparameters.get('units')}\\s`));
  });

  test('Hyperband continues a promoted trial from its previous weights with initialEpoch', async () => {
    const [x, y] = tinyData(64);
    const starts: { initialEpoch: number; weights: number[][] }[] = [];
    const recorder = {
      model: null as null | nt.Sequential,
      params: null as null | { initialEpoch?: number },
      setModel(m: nt.Sequential) { this.model = m; },
      setParams(p: { initialEpoch?: number }) { this.params = p; },
      onTrainBegin() { starts.push({ initialEpoch: this.params!.initialEpoch ?? 0, weights: this.model!.getWeights().map((w) => Array.from(w.dataSync() as Float32Array)) }); },
    };
    const build = (hp: HP) => {
      const m = new Sequential([
        new layers.Dense(hp.Int('units', { minValue: 4, maxValue: 32, step: 4 }), { activation: 'tanh', inputShape: [4] }),
        new layers.Dense(3, { activation: 'softmax' }),
      ]);
      m.compile({ optimizer: new optimizers.SGD({ learningRate: 0.05 }), loss: 'sparse_categorical_crossentropy' });
      return m;
    };
    // full-batch SGD without shuffling: the loss falls every epoch, so the checkpoint is the last epoch
    const t = new tuner.Hyperband(build, { objective: 'loss', maxEpochs: 3, factor: 3, seed: 4, ...project() });
    await t.search(x, y, { batchSize: 64, shuffle: false, verbose: 0, callbacks: [recorder] });
    const trials = t.trials;
    // one bracket of 3 one-epoch trials and the best continued to epoch 3, then 2 three-epoch trials
    expect(trials.map((tr) => [tr.hyperparameters.values['tuner/epochs'], tr.hyperparameters.values['tuner/initial_epoch']]))
      .toEqual([[1, 0], [1, 0], [1, 0], [3, 1], [3, 0], [3, 0]]);
    const promoted = trials[3];
    const parent = t.oracle.getTrial(promoted.hyperparameters.values['tuner/trial_id'] as string)!;
    expect(parent.score).toBe(Math.min(...trials.slice(0, 3).map((tr) => tr.score!)));
    expect(promoted.hyperparameters.userValues()).toEqual(parent.hyperparameters.userValues());
    expect(promoted.executions[0].epoch).toEqual([1, 2]);
    // it started from the parent's trained weights, not fresh ones
    expect(starts[3].initialEpoch).toBe(1);
    const parentModel = await nt.loadModel(path.join(t.projectDir, `trial_${parent.trialId}`, 'checkpoint'));
    expect(starts[3].weights).toEqual(parentModel.getWeights().map((w) => Array.from(w.dataSync() as Float32Array)));
    // and the loss continues: its first epoch's loss is the parent's model's loss, below the parent's first epoch
    const parentLoss = (await parentModel.evaluate(x, y, { batchSize: 64, verbose: 0 })) as number;
    expect(promoted.executions[0].history.loss[0]).toBeCloseTo(parentLoss, 5);
    expect(promoted.executions[0].history.loss[0]).toBeLessThan(parent.executions[0].history.loss[0]);
  });

  test('a trial whose build throws or whose loss becomes NaN is recorded FAILED and the search continues', async () => {
    const [x] = tinyData(32);
    const yReg = x.sum(1, true);
    const build = (hp: HP) => {
      const act = hp.Choice('act', ['tanh', 'bogus']);
      const lr = hp.Choice('lr', [0.01, 1e12]);
      const m = new Sequential([new layers.Dense(4, { activation: act as 'tanh', inputShape: [4] }), new layers.Dense(1)]);
      m.compile({ optimizer: new optimizers.SGD({ learningRate: lr }), loss: 'mse' });
      return m;
    };
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined); // fit's own NaN notice
    try {
      const t = new tuner.GridSearch(build, { objective: 'loss', maxConsecutiveFailedTrials: 4, ...project() });
      await t.search(x, yReg, { epochs: 3, batchSize: 8, verbose: 0 });
      expect(t.trials.map((tr) => [tr.hyperparameters.values, tr.status])).toEqual([
        [{ act: 'tanh', lr: 0.01 }, 'COMPLETED'], [{ act: 'tanh', lr: 1e12 }, 'FAILED'],
        [{ act: 'bogus', lr: 0.01 }, 'FAILED'], [{ act: 'bogus', lr: 1e12 }, 'FAILED'],
      ]);
      expect(t.trials[1].message).toMatch(/^loss became (NaN|Infinity) at epoch \d \(execution 1\); training stopped$/);
      expect(t.trials[2].message).toMatch(/activation/);
      const file = JSON.parse(fs.readFileSync(path.join(t.projectDir, 'trial_002', 'trial.json'), 'utf8'));
      expect(file.status).toBe('FAILED');
      expect(file.message).toBe(t.trials[2].message);
      expect(t.resultsSummary(10, false)).toMatch(/3 trials failed:\n {2}trial 001: loss became/);
    } finally {
      log.mockRestore();
    }
  });

  test('consecutive failures stop the search with the last error', async () => {
    const T = scoring(tuner.RandomSearch, () => { throw new Error('boom'); });
    const t = new T(null, { objective: 'val_loss', maxTrials: 10, seed: 1, hyperparameters: space((h) => h.Int('x', { minValue: 0, maxValue: 50 })), ...project() });
    await expect(t.search({ verbose: 0 })).rejects.toThrow('tuner: 3 trials failed in a row (maxConsecutiveFailedTrials); the last, trial 002, failed with: boom');
    expect(t.trials.map((tr) => tr.status)).toEqual(['FAILED', 'FAILED', 'FAILED']);
  });

  test('an objective no trial logs is an error naming it and the logged metrics', async () => {
    const [x, y] = tinyData(32);
    const t = new tuner.RandomSearch(buildTiny, { objective: 'val_accuracy', maxTrials: 3, ...project() });
    await expect(t.search(x, y, { epochs: 1, verbose: 0 })).rejects.toThrow(
      "the objective 'val_accuracy' is not among the metrics trial 000 logged (loss, accuracy) (val_ metrics need validationData or " +
      'validationSplit in the search options); choose one of those as the objective');
    expect(t.trials.map((tr) => tr.status)).toEqual(['FAILED']);
  });
});

describe('persistence and resuming', () => {
  test('a search run again resumes: completed trials are kept, not redone; overwrite starts over', async () => {
    const seen: Trial[] = [];
    const T = scoring(tuner.RandomSearch, (h) => (h.get('x') as number) / 100, seen);
    const hp = space((h) => h.Int('x', { minValue: 0, maxValue: 99 }));
    const p = project();
    await new T(null, { objective: { name: 's', direction: 'max' }, maxTrials: 3, seed: 9, hyperparameters: hp, ...p }).search({ verbose: 0 });
    const first = seen.map((tr) => tr.hyperparameters.values);
    const resumed = new T(null, { objective: { name: 's', direction: 'max' }, maxTrials: 5, seed: 9, hyperparameters: hp, ...p });
    expect(resumed.trials.map((tr) => tr.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(resumed.resultsSummary(10, false)).toContain('Showing 3 best trials');
    await resumed.search({ verbose: 0 });
    expect(seen).toHaveLength(5);
    expect(resumed.trials.slice(0, 3).map((tr) => tr.hyperparameters.values)).toEqual(first);
    // the same seed gives the same sequence as one uninterrupted search of 5
    const straight: Trial[] = [];
    const S = scoring(tuner.RandomSearch, () => 0, straight);
    await new S(null, { objective: { name: 's', direction: 'max' }, maxTrials: 5, seed: 9, hyperparameters: hp, ...project() }).search({ verbose: 0 });
    expect(resumed.trials.map((tr) => tr.hyperparameters.values)).toEqual(straight.map((tr) => tr.hyperparameters.values));
    const fresh = new T(null, { objective: { name: 's', direction: 'max' }, maxTrials: 1, seed: 9, hyperparameters: hp, overwrite: true, ...p });
    expect(fresh.trials).toEqual([]);
    expect(fs.existsSync(path.join(fresh.projectDir, 'trial_004'))).toBe(false);
    await fresh.search({ verbose: 0 });
    // another objective or tuner on the same project is refused
    expect(() => new T(null, { objective: 'val_loss', hyperparameters: hp, ...p })).toThrow(/optimizes Objective\(name="s", direction="max"\), not Objective\(name="val_loss", direction="min"\); pass overwrite: true/);
    expect(() => new (scoring(tuner.GridSearch, () => 0))(null, { objective: { name: 's', direction: 'max' }, hyperparameters: hp, ...p }))
      .toThrow(/was created by RandomSearch, not GridSearch/);
  });

  test('a search killed mid-trial resumes: finished trials kept, the RUNNING one redone, maxTrials reached', async () => {
    const dir = path.join(tmp, 'killed');
    // The search runs in a child that SIGKILLs itself in trial 003's second epoch, then resumes here.
    const build = (hp: HP) => {
      const m = new Sequential([
        new layers.Dense(hp.Int('units', { minValue: 4, maxValue: 64, step: 4 }), { activation: 'relu', inputShape: [4] }),
        new layers.Dense(2, { activation: 'softmax' }),
      ]);
      m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
      return m;
    };
    const data = () => {
      nt.manualSeed(0);
      const x = nt.randn([48, 4]);
      return [x, x.slice(1, 0, 1).reshape(-1).gt(0).to('int64')] as const;
    };
    const options = { objective: 'val_accuracy', maxTrials: 5, seed: 3, directory: dir, projectName: 'proj' };
    const fitOptions = { epochs: 3, validationSplit: 0.25, verbose: 0 as const };
    const script = path.join(tmp, 'kill-search.ts');
    fs.writeFileSync(script, `
      import * as nt from ${JSON.stringify(path.join(root, 'lib'))};
      const { Sequential, layers } = nt;
      type HP = nt.tuner.HyperParameters;
      let current = -1;
      class T extends nt.tuner.RandomSearch {
        async runTrial(trial: nt.tuner.Trial, ...args: unknown[]) {
          current = trial.number;
          console.log('run', trial.trialId);
          return super.runTrial(trial, ...args);
        }
      }
      const build = ${build.toString()};
      const [x, y] = (${data.toString()})();
      new T(build, ${JSON.stringify(options)}).search(x, y, { ...${JSON.stringify(fitOptions)}, callbacks: [{
        onEpochEnd: (e: number) => { if (current === 3 && e === 1) process.kill(process.pid, 'SIGKILL'); },
      }] });
    `);
    const first = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(first.signal).toBe('SIGKILL');
    expect(first.stdout.match(/run \d+/g)).toEqual(['run 000', 'run 001', 'run 002', 'run 003']);
    const trialFile = (id: string) => path.join(dir, 'proj', `trial_${id}`, 'trial.json');
    const before = ['000', '001', '002'].map((id) => fs.readFileSync(trialFile(id), 'utf8'));
    for (const b of before) expect(JSON.parse(b).status).toBe('COMPLETED');
    const killed = JSON.parse(fs.readFileSync(trialFile('003'), 'utf8'));
    expect(killed.status).toBe('RUNNING');

    const ran: string[] = [];
    class T extends tuner.RandomSearch {
      async runTrial(trial: Trial, ...args: unknown[]) {
        ran.push(trial.trialId);
        return super.runTrial(trial, ...args);
      }
    }
    const [x, y] = data();
    await new T(build, options).search(x, y, fitOptions);
    expect(ran).toEqual(['003', '004']);
    expect(['000', '001', '002'].map((id) => fs.readFileSync(trialFile(id), 'utf8'))).toEqual(before); // untouched
    const redone = JSON.parse(fs.readFileSync(trialFile('003'), 'utf8'));
    expect(redone.status).toBe('COMPLETED');
    expect(redone.hyperparameters.values).toEqual(killed.hyperparameters.values);
    expect(redone.executions[0].epoch).toEqual([0, 1, 2]);
    const oracle = JSON.parse(fs.readFileSync(path.join(dir, 'proj', 'oracle.json'), 'utf8'));
    expect(oracle.trialIds).toEqual(['000', '001', '002', '003', '004']);
    for (const id of oracle.trialIds) expect(JSON.parse(fs.readFileSync(trialFile(id), 'utf8')).status).toBe('COMPLETED');
  });
});

describe('bad input', () => {
  const hp = () => new tuner.HyperParameters();
  test('parameter declarations', () => {
    expect(() => hp().Int('units', { minValue: 512, maxValue: 32 })).toThrow(new RangeError("hp.Int('units'): expected minValue <= maxValue but received minValue 512 > maxValue 32"));
    expect(() => hp().Float('lr', { minValue: 1, maxValue: 0 })).toThrow(RangeError);
    expect(() => hp().Int('units', { minValue: 32, maxValue: 512, step: 0 })).toThrow(new RangeError("hp.Int('units'): expected step > 0 but received 0"));
    expect(() => hp().Float('dropout', { minValue: 0, maxValue: 0.5, step: -0.1 })).toThrow(/expected step > 0 but received -0.1/);
    expect(() => hp().Float('lr', { minValue: 0, maxValue: 0.1, sampling: 'log' })).toThrow(new RangeError("hp.Float('lr'): log sampling needs positive bounds but received minValue 0 (maxValue 0.1)"));
    expect(() => hp().Int('n', { minValue: -4, maxValue: 4, sampling: 'log' })).toThrow(/log sampling needs positive bounds/);
    expect(() => hp().Int('n', { minValue: 1, maxValue: 64, step: 1, sampling: 'log' })).toThrow(/factor between values and must be > 1/);
    expect(() => hp().Int('n', { minValue: 1.5, maxValue: 4 })).toThrow(new TypeError("hp.Int('n'): expected minValue to be an integer but received 1.5"));
    expect(() => hp().Int('n', { minValue: 1, maxValue: 4, sampling: 'cubic' as 'log' })).toThrow(/expected sampling 'linear' or 'log' but received the string 'cubic'/);
    expect(() => hp().Int('n', { minValue: 1, maxValue: 4, default: 9 })).toThrow(/expected default in \[1, 4\] but received 9/);
    expect(() => hp().Int('n', { minValue: 1, maxValue: 4, stp: 2 } as never)).toThrow(/unknown option 'stp'; known options: minValue, maxValue, step/);
    expect(() => hp().Int('', { minValue: 1, maxValue: 4 })).toThrow(/expected a non-empty string for the name/);
    expect(() => hp().Choice('act', [])).toThrow(/expected a non-empty array of values/);
    expect(() => hp().Choice('act', ['relu', 1] as never)).toThrow(/expected values of one type but received string and number values/);
    expect(() => hp().Choice('act', ['relu'], { default: 'tanh' })).toThrow(/expected default to be one of the values but received the string 'tanh'/);
    expect(() => hp().conditionalScope('model', 'mlp', () => 1)).toThrow(/parent 'model' is not declared; declare it before/);
    const h = hp();
    h.Choice('model', ['mlp', 'cnn']);
    expect(() => h.conditionalScope('model', 'rnn', () => 1)).toThrow(/cannot take the parent value the string 'rnn'/);
  });

  test('a name redefined with another range or type', () => {
    const h = hp();
    h.Int('units', { minValue: 32, maxValue: 512, step: 32 });
    expect(() => h.Int('units', { minValue: 16, maxValue: 512, step: 32 })).toThrow(
      "hyperparameter 'units' is already defined as Int(32..512, step 32, linear, default 32) and cannot be redefined as " +
      'Int(16..512, step 32, linear, default 16); use another name or the same declaration');
    expect(() => h.Float('units', { minValue: 32, maxValue: 512 })).toThrow(/already defined as Int\(.*\) and cannot be redefined as Float/);
    expect(() => h.Choice('units', [32, 64])).toThrow(/already defined as Int/);
  });

  test('tuner options', () => {
    const o = { objective: 'val_accuracy', ...project() };
    expect(() => new tuner.RandomSearch(42 as never, o)).toThrow(new TypeError(
      'RandomSearch: expected the hypermodel to be a function (hp) => compiled model, or an object with build(hp), but received number'));
    expect(() => new tuner.RandomSearch(null, o)).toThrow(/only a subclass that overrides runTrial may omit it/);
    expect(() => new tuner.RandomSearch(buildTiny, { ...o, maxTrials: 0 })).toThrow(new RangeError('RandomSearch: expected maxTrials to be a positive integer (>= 1) but received 0'));
    expect(() => new tuner.BayesianOptimization(buildTiny, { ...o, maxTrials: -3 })).toThrow(/expected maxTrials to be a positive integer \(>= 1\) but received -3/);
    expect(() => new tuner.RandomSearch(buildTiny, { ...o, executionsPerTrial: 1.5 })).toThrow(/expected executionsPerTrial to be a positive integer but received 1.5/);
    expect(() => new tuner.RandomSearch(buildTiny, { ...project(), objective: { name: 'val_accuracy', direction: 'up' as 'max' } }))
      .toThrow(new TypeError("objective 'val_accuracy': expected direction 'min' or 'max' but received the string 'up'"));
    expect(() => new tuner.RandomSearch(buildTiny, { ...project(), objective: 3 as never })).toThrow(/objective: expected a metric name such as 'val_accuracy'/);
    expect(() => new tuner.RandomSearch(buildTiny, { ...o, maxTrial: 3 } as never)).toThrow(/RandomSearch: unknown option 'maxTrial'; known options: objective, maxTrials/);
    expect(() => new tuner.Hyperband(buildTiny, { ...o } as never)).toThrow(/Hyperband: expected maxEpochs/);
    expect(() => new tuner.Hyperband(buildTiny, { ...o, maxEpochs: 9, factor: 1 })).toThrow(/expected factor to be an integer >= 2 but received 1/);
    expect(() => new tuner.BayesianOptimization(buildTiny, { ...o, acquisition: 'pi' as 'ei' })).toThrow(/expected acquisition 'ucb' or 'ei'/);
    expect(() => new tuner.RandomSearch(buildTiny, { ...o, hyperparameters: {} as never })).toThrow(/expected hyperparameters to be a HyperParameters/);
    const strict = new tuner.RandomSearch(buildTiny, { ...o, hyperparameters: space((h) => h.Int('units', { minValue: 4, maxValue: 16, step: 4 })), allowNewEntries: false });
    expect(() => strict.searchSpaceSummary(false)).not.toThrow(); // the failing build leaves the declared space
    return expect(strict.search(...tinyData(16), { verbose: 0 })).rejects.toThrow(
      "the build function failed with the default hyperparameters: hyperparameter 'lr' is not in the search space and allowNewEntries is false");
  });
});
