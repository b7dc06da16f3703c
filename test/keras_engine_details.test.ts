// Keras details of the engine: initializers with Keras' statistics, learning-rate schedules (in the
// native loop too), learning_rate in history, regularizers.l1_l2, nt.losses / nt.metrics,
// utils.toCategorical, build([null, n]) and model.to() of a missing device.
import * as nt from '../lib';
import { toCategorical } from '../lib/utils/categorical';
import { expectTensor } from './helpers';

const { Sequential, layers, optimizers, losses, metrics, regularizers, callbacks } = nt;
const { ExponentialDecay, PiecewiseConstantDecay, CosineDecay, InverseTimeDecay } = optimizers.schedules;

class Identity extends layers.Layer {
  override call(x: nt.Tensor): nt.Tensor {
    return x;
  }
}

describe('initializers have Keras\' statistics', () => {
  // Keras' VarianceScaling(truncated normal): std = sqrt(scale / n), draws beyond 2 std redrawn
  test.each([
    ['glorot_normal', Math.sqrt(2 / (800 + 1200))],
    ['he_normal', Math.sqrt(2 / 800)],
    ['lecun_normal', Math.sqrt(1 / 800)],
  ] as const)('%s on an 800x1200 kernel: std within 1%% of Keras\' formula, nothing clamped to the bound', (init, std) => {
    nt.manualSeed(0);
    const d = new layers.Dense(1200, { kernelInitializer: init });
    d.build([800]);
    const k = d.getWeights()[0];
    expect(k.shape).toEqual([800, 1200]);
    const got = Number(k.std().item());
    expect(Math.abs(got / std - 1)).toBeLessThan(0.01);
    expect(Math.abs(Number(k.mean().item()))).toBeLessThan(std / 100);
    const bound = (2 * std) / 0.8796256610342398;
    const max = Number(k.abs().max().item());
    expect(max).toBeLessThanOrEqual(bound * (1 + 1e-6));
    // a clamping truncation would leave ~4.6% of the weights exactly on the bound
    // (a true truncated normal has ~22 of its 960000 draws within 1e-4 of it)
    const atBound = Number(k.abs().gt(bound * 0.9999).to('float32').sum().item());
    expect(atBound).toBeLessThan(500);
  });
});

describe('optimizers.schedules', () => {
  test('ExponentialDecay', () => {
    const s = new ExponentialDecay(0.1, 10, 0.5);
    expect(s.call(0)).toBeCloseTo(0.1, 12);
    expect(s.call(10)).toBeCloseTo(0.05, 12);
    expect(s.call(5)).toBeCloseTo(0.1 * Math.SQRT1_2, 12);
    expect(new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true })(15)).toBeCloseTo(0.05, 12);
  });
  test('PiecewiseConstantDecay: values[i] up to and including boundaries[i]', () => {
    const s = new PiecewiseConstantDecay([10, 20], [1, 0.5, 0.1]);
    expect([0, 10, 11, 20, 21, 1000].map((k) => s.call(k))).toEqual([1, 1, 0.5, 0.5, 0.1, 0.1]);
    expect(() => new PiecewiseConstantDecay([10, 20], [1, 0.5])).toThrow(/one more rate than boundaries \(3\)/);
  });
  test('CosineDecay, with and without warmup', () => {
    const s = new CosineDecay(1, 10, 0.1);
    expect(s.call(0)).toBeCloseTo(1, 12);
    expect(s.call(5)).toBeCloseTo(0.55, 12);
    expect(s.call(20)).toBeCloseTo(0.1, 12);
    const w = new CosineDecay({ initialLearningRate: 0, decaySteps: 10, warmupTarget: 1, warmupSteps: 5 });
    expect([2, 5, 10, 15, 30].map((k) => w.call(k))).toEqual([0.4, 1, 0.5, 0, 0].map((v) => expect.closeTo(v, 12)));
  });
  test('InverseTimeDecay', () => {
    expect(new InverseTimeDecay(1, 10, 1).call(10)).toBeCloseTo(0.5, 12);
    expect(new InverseTimeDecay(1, 10, 1, true).call(15)).toBeCloseTo(0.5, 12);
    expect(() => new InverseTimeDecay(1, 0, 1)).toThrow(/decaySteps to be a positive number but received number 0/);
  });

  /** Dense(1) on 16 samples of 2 features, batches of 4 (4 steps per epoch). */
  function setup(lr: number | nt.optimizers.schedules.LearningRateSchedule, js = false) {
    nt.manualSeed(5);
    const m = new Sequential([new layers.Dense(1, { inputShape: [2] }), ...(js ? [new Identity()] : [])]);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: lr }), loss: 'mse' });
    nt.manualSeed(6);
    const x = nt.randn([16, 2]);
    return { m, x, y: x.sum(1, true) };
  }

  test('a schedule drives each step of the native loop (rate 0 after the first step: only one update)', async () => {
    const sched = new PiecewiseConstantDecay([0], [0.5, 0]);
    const a = setup(sched);
    await a.m.fit(a.x, a.y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    const b = setup(0.5);
    await b.m.fit(b.x, b.y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0, stepsPerEpoch: 1 });
    a.m.getWeights().forEach((w, i) => expectTensor(w, b.m.getWeights()[i].toArray(), 1e-7));
    const c = setup(0.5);
    await c.m.fit(c.x, c.y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    expect(Number(c.m.getWeights()[0].sub(a.m.getWeights()[0]).abs().max().item())).toBeGreaterThan(1e-3);
  });

  test('native loop and JS path apply the same per-step rates; history records learning_rate', async () => {
    const a = setup(new ExponentialDecay(0.2, 3, 0.5));
    const ha = await a.m.fit(a.x, a.y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    const b = setup(new ExponentialDecay(0.2, 3, 0.5), true);
    const hb = await b.m.fit(b.x, b.y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    a.m.getWeights().forEach((w, i) => expectTensor(w, b.m.getWeights()[i].toArray(), 1e-6));
    // the rate of the next step, as Keras' optimizer.learning_rate: after 4 and 8 steps
    expect(ha.history.learning_rate).toEqual([0.2 * 0.5 ** (4 / 3), 0.2 * 0.5 ** (8 / 3)].map((v) => expect.closeTo(v, 12)));
    expect(hb.history.learning_rate).toEqual(ha.history.learning_rate);
    expect(() => a.m.setLearningRate(0.1)).toThrow(/follows the optimizer's ExponentialDecay schedule/);
  });
});

describe('history records learning_rate when it changes', () => {
  test('ReduceLROnPlateau and LearningRateScheduler (their logs reach History)', async () => {
    nt.manualSeed(1);
    const x = nt.randn([8, 2]);
    const y = x.sum(1, true);
    const m = new Sequential([new layers.Dense(1, { inputShape: [2] })]);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0.1 }), loss: 'mse' });
    const h = await m.fit(x, y, { epochs: 3, verbose: 0, callbacks: [new callbacks.LearningRateScheduler((e) => 0.1 / (e + 1))] });
    expect(h.history.learning_rate).toEqual([0.1, 0.05, 0.1 / 3].map((v) => expect.closeTo(v, 12)));
    // improvements smaller than minDelta count as none: the second epoch halves the rate (logged before, as Keras)
    const r = await m.fit(x, y, { epochs: 3, verbose: 0, callbacks: [new callbacks.ReduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 0, minDelta: 1e9 })] });
    expect(r.history.learning_rate).toEqual([0.1 / 3, 0.1 / 3, 0.1 / 6].map((v) => expect.closeTo(v, 12)));
    expect(m.getLearningRate()).toBeCloseTo(0.1 / 12, 12);
  });
  test('a constant rate leaves no learning_rate key', async () => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [2] })]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const h = await m.fit(nt.ones([4, 2]), nt.ones([4, 1]), { epochs: 2, verbose: 0 });
    expect(Object.keys(h.history)).toEqual(['loss']);
  });
});

describe('regularizers.l1_l2', () => {
  test('positional, options, Keras 3 defaults of 0', () => {
    expect(regularizers.l1_l2(0.01, 0.02)).toEqual({ l1: 0.01, l2: 0.02 });
    expect(regularizers.l1_l2({ l2: 0.5 })).toEqual({ l1: 0, l2: 0.5 });
    expect(() => regularizers.l1_l2(-1)).toThrow(/non-negative factor but received number/);
    expect(() => regularizers.l1_l2({ l3: 1 } as never)).toThrow(/unknown option 'l3'/);
  });
  test('adds l1 * sum|w| + l2 * sum w^2 to the loss', async () => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [2], kernelInitializer: 'ones', kernelRegularizer: regularizers.l1_l2(0.1, 0.2) })]);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
    const l = await m.evaluate(nt.zeros([2, 2]), nt.zeros([2, 1]), { verbose: 0 }) as number;
    expect(l).toBeCloseTo(0.1 * 2 + 0.2 * 2, 6);
  });
  test('evaluate reports the same regularized loss when a user layer makes the model run from JS', async () => {
    class Same extends layers.Layer {
      override call(x: nt.Tensor): nt.Tensor {
        return x.mul(1);
      }
    }
    const m = new Sequential([new Same({ inputShape: [2] }),
      new layers.Dense(1, { kernelInitializer: 'ones', kernelRegularizer: regularizers.l1_l2(0.1, 0.2), activityRegularizer: regularizers.l2(0.5) })]);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
    const x = nt.tensor([[1, 2], [3, 4]]);
    // outputs 3 and 7 against 0: mse 29, activity 0.5 * (9 + 49) / 2, weights 0.1 * 2 + 0.2 * 2
    const want = 29 + 0.5 * 29 + 0.6;
    expect(await m.evaluate(x, nt.zeros([2, 1]), { verbose: 0 }) as number).toBeCloseTo(want, 4);
    expect((await m.fit(x, nt.zeros([2, 1]), { epochs: 1, batchSize: 2, verbose: 0 })).history.loss[0]).toBeCloseTo(want, 4);
  });
});

describe('nt.losses', () => {
  const yt = nt.tensor([[1, 2], [3, 4]]);
  const yp = nt.tensor([[1, 1], [1, 1]]);
  test('functions give each sample\'s loss; classes reduce as Keras (sum over batch size)', () => {
    expectTensor(losses.mean_squared_error(yt, yp), [0.5, 6.5]);
    expectTensor(losses.mse(yt, yp), [0.5, 6.5]);
    expectTensor(losses.mae(yt, yp), [0.5, 2.5]);
    expectTensor(new losses.MeanSquaredError()(yt, yp), 3.5);
    expectTensor(new losses.MeanAbsoluteError()(yt, yp, nt.tensor([1, 0])), 0.25);
    expectTensor(losses.huber(nt.tensor([[0], [0]]), nt.tensor([[0.5], [3]])), [0.125, 2.5]);
    const p = nt.tensor([[0.8], [0.4]]);
    expectTensor(losses.binary_crossentropy(nt.tensor([[1], [0]]), p), [-Math.log(0.8), -Math.log(0.6)], 1e-6);
    const logits = nt.tensor([[2, 0, 0], [0, 1, 0]]);
    const lse = (v: number[]) => Math.log(v.reduce((a, b) => a + Math.exp(b), 0));
    expectTensor(losses.sparse_categorical_crossentropy(nt.tensor([0, 2]), logits, { fromLogits: true }), [lse([2, 0, 0]) - 2, lse([0, 1, 0])], 1e-6);
    expectTensor(new losses.CategoricalCrossentropy({ fromLogits: true })(nt.tensor([[1, 0, 0], [0, 0, 1]]), logits), (lse([2, 0, 0]) - 2 + lse([0, 1, 0])) / 2, 1e-6);
  });
  test('compile takes loss objects and functions', async () => {
    const x = nt.randn([6, 3]);
    const y = nt.tensor([0, 1, 2, 0, 1, 2]);
    const cases = [[new losses.SparseCategoricalCrossentropy({ fromLogits: true }), 'linear'], [losses.sparse_categorical_crossentropy, 'softmax']] as const;
    for (const [loss, activation] of cases) {
      nt.manualSeed(2);
      const m = new Sequential([new layers.Dense(3, { activation, inputShape: [3] })]);
      m.compile({ optimizer: 'sgd', loss, metrics: [new metrics.SparseCategoricalAccuracy()] });
      const [l, acc] = await m.evaluate(x, y, { verbose: 0 }) as number[];
      const out = await m.predict(x);
      const want = loss instanceof losses.Loss ? loss(y, out) : losses.sparse_categorical_crossentropy(y, out).mean();
      expect(l).toBeCloseTo(want.item() as number, 5);
      expect(acc).toBeCloseTo(Number(out.argmax(-1).eq(y).to('float64').mean().item()), 10);
    }
  });
  test('bad arguments name the call', () => {
    expect(() => losses.mse([1] as never, yp)).toThrow(/mean_squared_error.*yTrue/);
    expect(() => new losses.BinaryCrossentropy({ from_logits: true } as never)).toThrow(/unknown option 'from_logits'/);
  });
});

describe('nt.metrics', () => {
  test('updateState / result / resetState, kept natively', () => {
    const m = new metrics.SparseCategoricalAccuracy();
    m.updateState(nt.tensor([0, 1]), nt.tensor([[0.9, 0.1], [0.8, 0.2]]));
    expect(m.result()).toBe(0.5);
    expect(m(nt.tensor([1, 1]), nt.tensor([[0.1, 0.9], [0.3, 0.7]]))).toBe(0.75);
    m.resetState();
    expect(m.result()).toBe(0);
    const p = new metrics.Precision();
    p.updateState(nt.tensor([[1], [0], [1]]), nt.tensor([[0.9], [0.7], [0.2]]));
    expect(p.result()).toBe(0.5);
    expect(new metrics.MeanSquaredError()(nt.tensor([[1, 2]]), nt.tensor([[1, 4]]))).toBe(2);
  });
  test('metric objects in compile report under their Keras names', async () => {
    const m = new Sequential([new layers.Dense(1, { activation: 'sigmoid', inputShape: [2] })]);
    m.compile({ optimizer: 'adam', loss: 'binary_crossentropy', metrics: [new metrics.AUC(), new metrics.BinaryAccuracy(), 'mse'] });
    const h = await m.fit(nt.randn([8, 2]), nt.tensor([[1], [0], [1], [0], [1], [0], [1], [0]]), { verbose: 0 });
    expect(Object.keys(h.history).sort()).toEqual(['auc', 'binary_accuracy', 'loss', 'mse']);
  });
});

describe('utils.toCategorical', () => {
  test('one-hot float32 rows, numClasses from the labels or given; a trailing 1 is dropped', () => {
    const t = toCategorical([0, 2, 1]);
    expect(t.dtype).toBe('float32');
    expectTensor(t, [[1, 0, 0], [0, 0, 1], [0, 1, 0]]);
    expectTensor(toCategorical(nt.tensor([[1], [0]]), 3), [[0, 1, 0], [1, 0, 0]]);
    expectTensor(toCategorical(nt.tensor([[0, 1]], { dtype: 'int32' })), [[[1, 0], [0, 1]]]);
  });
  test('labels out of range or fractional are refused', () => {
    expect(() => toCategorical([0, 3], 3)).toThrow(/labels must be in \[0, 3\) for numClasses 3 but range from 0 to 3/);
    expect(() => toCategorical([-1, 0])).toThrow(/range from -1/);
    expect(() => toCategorical([0.5])).toThrow(/fractional/);
    expect(() => toCategorical([1], 0)).toThrow(/numClasses to be a positive integer/);
  });
});

describe('build and to', () => {
  test('build([null, 20]) takes the batch dimension first, as Keras writes it', () => {
    const m = new Sequential([new layers.Dense(4), new layers.Dense(2)]);
    m.build([null, 20]);
    expect(m.built).toBe(true);
    expect(m.countParams()).toBe(20 * 4 + 4 + 4 * 2 + 2);
    const n = new Sequential([new layers.Dense(4, { inputShape: [20] })]);
    n.build([32, 20]);
    expect(n.countParams()).toBe(84);
    expect(() => new Sequential([new layers.Dense(1)]).build([null, 0])).toThrow(/positive integers.*\[null, 20\]/);
  });
  (nt.cuda.isAvailable() ? test.skip : test)('model.to(\'cuda\') without CUDA fails at once, naming the device', () => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [2] })]);
    expect(() => m.to('cuda')).toThrow(/to\('cuda'\): CUDA is not available here/);
    expect(() => m.to('cuda:1')).toThrow(/CUDA is not available/);
    expect(m.device).toBe('cpu');
  });
});
