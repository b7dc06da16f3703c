// Hyperparameter search (nt.tuner) on an MNIST subset. (a) Overhead: the wall time per trial of a
// RandomSearch whose trials all train the same seed MLP (an unused Int varies), against the same
// model.fit alone; the difference is the build, the best epoch's checkpoint, the trial.json /
// oracle.json writes (atomic, fsync'd) and the oracle. (b) Quality: the best val_accuracy after 10
// trials of RandomSearch, BayesianOptimization and Hyperband on the Keras Tuner getting-started
// space (units 32..512 step 32, learning rate 1e-2/1e-3/1e-4), for several seeds. One JSON line.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { emit, intFlag } from './common';

const { Sequential, layers, optimizers, tuner } = nt;
type HP = nt.tuner.HyperParameters;

const BATCH = 32;
const RS_BO_EPOCHS = 2;
// Hyperband with maxEpochs 4, factor 3 runs exactly 10 trials: 5 of 2 epochs, the best 2 continued to 4, 3 of 4.
const HB_MAX_EPOCHS = 4;

function seedModel(units: number, lr: number): nt.Sequential {
  const m = new Sequential([
    new layers.Flatten({ inputShape: [28, 28] }),
    new layers.Dense(units, { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: new optimizers.Adam({ learningRate: lr }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

function buildSeed(hp: HP): nt.Sequential {
  return seedModel(hp.Int('units', { minValue: 32, maxValue: 512, step: 32 }), hp.Choice('learning_rate', [1e-2, 1e-3, 1e-4]) as number);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined && threads !== nt.getNumThreads()) nt.setNumThreads(threads);
  const samples = intFlag('samples') ?? 6000;
  const overheadTrials = intFlag('trials') ?? 8;
  const seeds = intFlag('seeds') ?? 3;
  const qualityTrials = 10;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-bench-tuner-'));
  try {
    let [[x, y]] = await nt.datasets.mnist.loadData();
    x = x.slice(0, 0, samples).to('float32').div(255);
    y = y.slice(0, 0, samples);
    const fitOptions = { epochs: 1, batchSize: BATCH, validationSplit: 0.2, verbose: 0 as const };

    // (a) overhead, paired: each round times one fit alone and one more trial of the same search
    // (maxTrials raised by one), in alternating order, so load from other jobs hits both alike.
    const fitAlone = async () => {
      const m = seedModel(128, 1e-3);
      const t0 = performance.now();
      await m.fit(x, y, fitOptions);
      return performance.now() - t0;
    };
    const same = new tuner.RandomSearch((hp) => {
      hp.Int('variant', { minValue: 0, maxValue: 1_000_000 }); // varies, unused: every trial trains the same model
      return seedModel(128, 1e-3);
    }, { objective: 'val_accuracy', maxTrials: 1, seed: 0, directory: dir, projectName: 'overhead' });
    await fitAlone(); // warm-up: allocator caches, the worker thread's OpenMP team
    await same.search(x, y, fitOptions);
    const fits: number[] = [];
    const trials: number[] = [];
    for (let i = 0; i < overheadTrials; i++) {
      const oneTrial = async () => {
        same.oracle.maxTrials += 1;
        const t0 = performance.now();
        await same.search(x, y, fitOptions);
        return performance.now() - t0;
      };
      if (i % 2) {
        trials.push(await oneTrial());
        fits.push(await fitAlone());
      } else {
        fits.push(await fitAlone());
        trials.push(await oneTrial());
      }
    }
    const saveModel = seedModel(128, 1e-3);
    await saveModel.fit(x.slice(0, 0, 256), y.slice(0, 0, 256), { epochs: 1, verbose: 0 });
    const saves: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s0 = performance.now();
      await saveModel.save(path.join(dir, 'save-probe'));
      saves.push(performance.now() - s0);
    }
    const overhead = {
      trials: overheadTrials, fitMs: median(fits), trialMs: median(trials), overheadMs: median(trials.map((t, i) => t - fits[i])),
      overheadPct: (100 * median(trials.map((t, i) => t - fits[i]))) / median(fits), checkpointSaveMs: median(saves),
    };

    // (b) quality: 10 trials per tuner and seed; weights initialised from the same seed per run
    const kinds = ['RandomSearch', 'BayesianOptimization', 'Hyperband'] as const;
    const quality: Record<string, { best: number[]; median: number; seconds: number[]; epochs: number[]; trials: number[] }> = {};
    for (const kind of kinds) quality[kind] = { best: [], median: NaN, seconds: [], epochs: [], trials: [] };
    for (let seed = 0; seed < seeds; seed++) {
      for (const kind of kinds) {
        nt.manualSeed(seed);
        const common = { objective: 'val_accuracy', seed, directory: dir, projectName: `${kind}-${seed}` };
        const t = kind === 'RandomSearch' ? new tuner.RandomSearch(buildSeed, { ...common, maxTrials: qualityTrials })
          : kind === 'BayesianOptimization' ? new tuner.BayesianOptimization(buildSeed, { ...common, maxTrials: qualityTrials })
            : new tuner.Hyperband(buildSeed, { ...common, maxEpochs: HB_MAX_EPOCHS, factor: 3, maxTrials: qualityTrials });
        const s0 = performance.now();
        await t.search(x, y, { ...fitOptions, epochs: RS_BO_EPOCHS });
        const q = quality[kind];
        q.seconds.push((performance.now() - s0) / 1000);
        q.best.push(t.oracle.getBestTrials(1)[0]?.score ?? NaN);
        q.epochs.push(t.trials.reduce((n, tr) => n + tr.executions.reduce((k, e) => k + e.epoch.length, 0), 0));
        q.trials.push(t.trials.length);
      }
    }
    for (const kind of kinds) quality[kind].median = median(quality[kind].best);
    emit({
      bench: 'tuner', impl: 'nodetorch', threads: nt.getNumThreads(), samples, batchSize: BATCH, seeds, qualityTrials,
      rsBoEpochs: RS_BO_EPOCHS, hbMaxEpochs: HB_MAX_EPOCHS, overhead, quality, variants: {},
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
