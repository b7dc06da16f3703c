// Keras layers beyond Dense/Conv2D: shapes and parameter counts as Keras 3 prints them, values
// from Keras-layout weights checked against the Keras formulas in float64 JS, training in the
// native loop, and option errors.
import * as nt from '../lib';
import { expectTensor } from './helpers';

const { Sequential, layers } = nt;

type Mat = number[][];
const sig = (v: number) => 1 / (1 + Math.exp(-v));
/** x [in] . W [in][out] */
const vecMat = (x: number[], w: Mat): number[] => w[0].map((_, j) => x.reduce((s, xi, i) => s + xi * w[i][j], 0));
const add = (a: number[], b: number[]) => a.map((v, i) => v + b[i]);
const seq = (n: number, scale: number, offset = 0): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + offset) * scale);
const mat = (r: number, c: number, scale: number, offset = 0): Mat => Array.from({ length: r }, (_, i) => seq(c, scale, offset + i * 0.37));

/** Keras' LSTM over one sequence [T][in]: the outputs at every step. */
function lstmRef(xs: Mat, k: Mat, u: Mat, b: number[], H: number): Mat {
  let h = Array(H).fill(0);
  let c = Array(H).fill(0);
  const out: Mat = [];
  for (const x of xs) {
    const z = add(add(vecMat(x, k), vecMat(h, u)), b);
    const i = z.slice(0, H).map(sig);
    const f = z.slice(H, 2 * H).map(sig);
    const g = z.slice(2 * H, 3 * H).map(Math.tanh);
    const o = z.slice(3 * H).map(sig);
    c = c.map((cv, j) => f[j] * cv + i[j] * g[j]);
    h = o.map((ov, j) => ov * Math.tanh(c[j]));
    out.push(h);
  }
  return out;
}

/** Keras' GRU with reset_after=True: gates z, r, h; bias [2][3H] (input, recurrent). */
function gruRef(xs: Mat, k: Mat, u: Mat, b: Mat, H: number): Mat {
  let h = Array(H).fill(0);
  const out: Mat = [];
  for (const x of xs) {
    const mx = add(vecMat(x, k), b[0]);
    const mi = add(vecMat(h, u), b[1]);
    const z = mx.slice(0, H).map((v, j) => sig(v + mi[j]));
    const r = mx.slice(H, 2 * H).map((v, j) => sig(v + mi[H + j]));
    const hh = mx.slice(2 * H).map((v, j) => Math.tanh(v + r[j] * mi[2 * H + j]));
    h = h.map((hp, j) => z[j] * hp + (1 - z[j]) * hh[j]);
    out.push(h);
  }
  return out;
}

function rnnRef(xs: Mat, k: Mat, u: Mat, b: number[]): Mat {
  let h = Array(b.length).fill(0);
  return xs.map((x) => (h = add(add(vecMat(x, k), vecMat(h, u)), b).map(Math.tanh)));
}

const T = (v: unknown) => nt.tensor(v as number[][]);

describe('output shapes and parameter counts match Keras', () => {
  test.each([
    ['LSTM(128) on 128 features', () => new layers.LSTM(128), [10, 128], [128], 131584],
    ['LSTM(64, returnSequences)', () => new layers.LSTM(64, { returnSequences: true }), [10, 32], [10, 64], 24832],
    ['GRU(32) on 16 features', () => new layers.GRU(32), [5, 16], [32], 4800],
    ['SimpleRNN(32) on 16 features', () => new layers.SimpleRNN(32), [5, 16], [32], 1568],
    ['Bidirectional(LSTM(64))', () => new layers.Bidirectional(new layers.LSTM(64)), [10, 128], [128], 98816],
    ['Bidirectional(GRU(8), sum, sequences)', () => new layers.Bidirectional(new layers.GRU(8, { returnSequences: true }), { mergeMode: 'sum' }), [7, 4], [7, 8], 672],
    ['Embedding(10000, 128)', () => new layers.Embedding(10000, 128), [200], [200, 128], 1280000],
    ['Conv1D(32, 3)', () => new layers.Conv1D(32, 3), [100, 10], [98, 32], 992],
    ['Conv1D(16, 5, same, no bias)', () => new layers.Conv1D(16, 5, { padding: 'same', useBias: false }), [20, 4], [20, 16], 320],
    ['Conv1D(8, 3, strides 2, dilation 1)', () => new layers.Conv1D(8, 3, { strides: 2 }), [11, 2], [5, 8], 56],
    ['BatchNormalization on (8, 8, 16)', () => new layers.BatchNormalization(), [8, 8, 16], [8, 8, 16], 64],
    ['BatchNormalization on (20,)', () => new layers.BatchNormalization(), [20], [20], 80],
    ['LayerNormalization on (10, 64)', () => new layers.LayerNormalization(), [10, 64], [10, 64], 128],
    ['GlobalAveragePooling2D', () => new layers.GlobalAveragePooling2D(), [8, 8, 16], [16], 0],
    ['GlobalMaxPooling2D keepdims', () => new layers.GlobalMaxPooling2D({ keepdims: true }), [8, 8, 16], [1, 1, 16], 0],
    ['GlobalAveragePooling1D', () => new layers.GlobalAveragePooling1D(), [9, 5], [5], 0],
  ] as const)('%s', (_name, make, input, output, params) => {
    const l = make();
    const m = new Sequential([l]);
    m.build([...input]);
    expect(l.computeOutputShape([...input])).toEqual(output);
    expect(l.countParams()).toBe(params);
    expect(m.summary(false)).toContain(`(None, ${output.join(', ')})`);
    expect(m.summary(false)).toContain(`Total params: ${params.toLocaleString('en-US')}`);
  });

  test('BatchNormalization keeps its moving statistics out of the trainable weights', () => {
    const bn = new layers.BatchNormalization();
    new Sequential([bn]).build([4, 4, 3]);
    expect(bn.getWeights().map((w) => [...w.shape])).toEqual([[3], [3], [3], [3]]);
    expect(bn.trainableWeights).toHaveLength(2);
    const noCenter = new layers.BatchNormalization({ center: false });
    new Sequential([noCenter]).build([3]);
    expect(noCenter.countParams()).toBe(9);
    expect(noCenter.trainableWeights).toHaveLength(1);
  });

  test('Keras weight layouts: LSTM, GRU (bias [2, 3 * units]), Bidirectional, Conv1D, Embedding', () => {
    const shapes = (l: nt.layers.Layer, input: number[]) => {
      new Sequential([l]).build(input);
      return l.getWeights().map((w) => [...w.shape]);
    };
    expect(shapes(new layers.LSTM(4), [3, 5])).toEqual([[5, 16], [4, 16], [16]]);
    expect(shapes(new layers.GRU(4), [3, 5])).toEqual([[5, 12], [4, 12], [2, 12]]);
    expect(shapes(new layers.Bidirectional(new layers.SimpleRNN(2)), [3, 5])).toEqual([[5, 2], [2, 2], [2], [5, 2], [2, 2], [2]]);
    expect(shapes(new layers.Conv1D(6, 3), [8, 2])).toEqual([[3, 2, 6], [6]]);
    expect(shapes(new layers.Embedding(7, 3), [4])).toEqual([[7, 3]]);
  });

  test('Keras initialization: LSTM forget-gate bias 1, orthogonal recurrent kernel, embeddings within 0.05', () => {
    nt.manualSeed(1);
    const lstm = new layers.LSTM(6);
    new Sequential([lstm]).build([3, 4]);
    const [, rec, bias] = lstm.getWeights();
    expect(bias.toArray()).toEqual([...Array(6).fill(0), ...Array(6).fill(1), ...Array(12).fill(0)]);
    // [units, 4 * units] with orthonormal rows
    expectTensor(rec.matmul(rec.t()), nt.eye(6).toArray(), 1e-5);
    const emb = new layers.Embedding(50, 8);
    new Sequential([emb]).build([2]);
    const e = emb.getWeights()[0];
    expect(Number(e.abs().max().item())).toBeLessThanOrEqual(0.05);
    expect(Number(e.abs().max().item())).toBeGreaterThan(0.03);
  });
});

describe('values from Keras-layout weights', () => {
  const steps = 3;
  const inF = 2;
  const H = 3;
  const xs = [mat(steps, inF, 1), mat(steps, inF, 0.8, 2)];

  test('LSTM matches the Keras recurrence, last step and full sequences; JS call agrees', async () => {
    const k = mat(inF, 4 * H, 0.5);
    const u = mat(H, 4 * H, 0.4, 1);
    const b = seq(4 * H, 0.3, 5);
    const last = new layers.LSTM(H);
    const all = new layers.LSTM(H, { returnSequences: true });
    for (const l of [last, all]) {
      const m = new Sequential([l]);
      m.build([steps, inF]);
      l.setWeights([T(k), T(u), nt.tensor(b)]);
      expectTensor(l.getWeights()[0], k, 1e-6);
    }
    const want = xs.map((x) => lstmRef(x, k, u, b, H));
    const x = T(xs);
    expectTensor(await new Sequential([last]).predict(x), want.map((w) => w[steps - 1]), 1e-5);
    expectTensor(await new Sequential([all]).predict(x), want, 1e-5);
    expectTensor(last.call(x), want.map((w) => w[steps - 1]), 1e-5);
  });

  test('GRU converts Keras z, r, h gates and its two biases', async () => {
    const k = mat(inF, 3 * H, 0.5);
    const u = mat(H, 3 * H, 0.4, 1);
    const b = [seq(3 * H, 0.3, 5), seq(3 * H, 0.2, 7)];
    const l = new layers.GRU(H, { returnSequences: true });
    const m = new Sequential([l]);
    m.build([steps, inF]);
    l.setWeights([T(k), T(u), T(b)]);
    expectTensor(l.getWeights()[2], b, 1e-6);
    expectTensor(l.getWeights()[1], u, 1e-6);
    expectTensor(await m.predict(T(xs)), xs.map((x) => gruRef(x, k, u, b, H)), 1e-5);
  });

  test('SimpleRNN and goBackwards (reversed input, outputs in processing order)', async () => {
    const k = mat(inF, H, 0.5);
    const u = mat(H, H, 0.4, 1);
    const b = seq(H, 0.3, 5);
    const fwd = new layers.SimpleRNN(H, { returnSequences: true });
    const bwd = new layers.SimpleRNN(H, { returnSequences: true, goBackwards: true });
    for (const l of [fwd, bwd]) {
      new Sequential([l]).build([steps, inF]);
      l.setWeights([T(k), T(u), nt.tensor(b)]);
    }
    expectTensor(await new Sequential([fwd]).predict(T(xs)), xs.map((x) => rnnRef(x, k, u, b)), 1e-5);
    expectTensor(await new Sequential([bwd]).predict(T(xs)), xs.map((x) => rnnRef([...x].reverse(), k, u, b)), 1e-5);
  });

  test('Bidirectional LSTM: forward last step concatenated with the backward pass over the reversed sequence', async () => {
    const kf = mat(inF, 4 * H, 0.5);
    const uf = mat(H, 4 * H, 0.4, 1);
    const bf = seq(4 * H, 0.3, 5);
    const kb = mat(inF, 4 * H, 0.6, 3);
    const ub = mat(H, 4 * H, 0.3, 4);
    const bb = seq(4 * H, 0.2, 9);
    const ws = [T(kf), T(uf), nt.tensor(bf), T(kb), T(ub), nt.tensor(bb)];
    const want = xs.map((x) => [...lstmRef(x, kf, uf, bf, H)[steps - 1], ...lstmRef([...x].reverse(), kb, ub, bb, H)[steps - 1]]);
    const bi = new layers.Bidirectional(new layers.LSTM(H));
    const m = new Sequential([bi]);
    m.build([steps, inF]);
    m.setWeights(ws);
    expectTensor(await m.predict(T(xs)), want, 1e-5);
    expectTensor(bi.call(T(xs)), want, 1e-5);
    const ave = new layers.Bidirectional(new layers.LSTM(H), { mergeMode: 'ave' });
    const m2 = new Sequential([ave]);
    m2.build([steps, inF]);
    m2.setWeights(ws);
    expectTensor(await m2.predict(T(xs)), want.map((w) => w.slice(0, H).map((v, j) => (v + w[H + j]) / 2)), 1e-5);
  });

  test('Conv1D with a Keras [k, in, out] kernel', async () => {
    const l = new layers.Conv1D(1, 2, { activation: 'relu' });
    const m = new Sequential([l]);
    m.build([4, 2]);
    // y[t] = sum_k sum_c x[t + k][c] * K[k][c] + b
    l.setWeights([T([[[1], [2]], [[3], [-1]]]), nt.tensor([0.5])]);
    const x = [[[1, 0], [0, 1], [2, 2], [-3, 0]]];
    const want = [[[1 + 0 + 0 - 1 + 0.5], [0 + 2 + 6 - 2 + 0.5], [Math.max(0, 2 + 4 - 9 - 0 + 0.5)]]];
    expectTensor(await m.predict(T(x)), want, 1e-6);
    expectTensor(l.call(T(x)), want, 1e-6);
  });

  test('Embedding looks up rows for int32, int64 and float indices', async () => {
    const l = new layers.Embedding(4, 2, { inputLength: 3 });
    const m = new Sequential([l]);
    m.build([3]);
    const table = [[0, 0], [1, 2], [3, 4], [5, 6]];
    l.setWeights([T(table)]);
    const want = [[[5, 6], [0, 0], [1, 2]], [[3, 4], [3, 4], [5, 6]]];
    for (const dtype of ['int32', 'int64', 'float32'] as const) {
      expectTensor(await m.predict(nt.tensor([[3, 0, 1], [2, 2, 3]], { dtype })), want);
    }
    expectTensor(l.call(nt.tensor([[3, 0, 1], [2, 2, 3]], { dtype: 'int32' })), want);
    await expect(m.predict(nt.tensor([[1, 4, 0]]))).rejects.toThrow(/Embedding: input indices must be in \[0, 4\) \(inputDim\) but range from 0 to 4/);
    expect(() => l.call(nt.tensor([[-1, 0, 0]]))).toThrow(/must be in \[0, 4\).*from -1 to 0/);
  });

  test('global pooling and LayerNormalization', async () => {
    const x = T([[[[1, 10], [2, 20]], [[3, 30], [6, 60]]]]);
    expectTensor(await new Sequential([new layers.GlobalAveragePooling2D()]).predict(x), [[3, 30]]);
    expectTensor(await new Sequential([new layers.GlobalMaxPooling2D()]).predict(x), [[6, 60]]);
    expectTensor(new layers.GlobalMaxPooling2D({ keepdims: true }).call(x), [[[[6, 60]]]]);
    const ln = new layers.LayerNormalization();
    const m = new Sequential([ln]);
    m.build([2, 2]);
    ln.setWeights([nt.tensor([2, 1]), nt.tensor([0, 0.5])]);
    const v = [[[1, 3], [0, 0]]];
    // mean 2, variance 1: (x - 2) / sqrt(1 + 1e-3)
    const s = 1 / Math.sqrt(1 + 1e-3);
    expectTensor(await m.predict(T(v)), [[[-2 * s, s + 0.5], [0, 0.5]]], 1e-5);
  });
});

describe('BatchNormalization follows fit (batch statistics) and predict (moving statistics)', () => {
  test('one fit step moves the statistics by 1 - momentum; evaluate and predict do not', async () => {
    const x = [[1, 2], [3, 0], [5, -2], [7, 8]];
    const bn = new layers.BatchNormalization({ inputShape: [2] });
    const m = new Sequential([bn]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    await m.fit(T(x), nt.zeros([4, 2]), { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    const [gamma, beta, mm, mv] = bn.getWeights().map((w) => w.toArray() as number[]);
    const mean = [4, 2];
    const unbiasedVar = [20 / 3, (0 + 4 + 16 + 36) / 3];
    expect(mm[0]).toBeCloseTo(0.01 * mean[0], 6);
    expect(mm[1]).toBeCloseTo(0.01 * mean[1], 6);
    expect(mv[0]).toBeCloseTo(0.99 + 0.01 * unbiasedVar[0], 5);
    expect(mv[1]).toBeCloseTo(0.99 + 0.01 * unbiasedVar[1], 5);
    await m.evaluate(T(x), nt.zeros([4, 2]), { verbose: 0 });
    const pred = await m.predict(T(x));
    expectTensor(bn.getWeights()[2], mm, 1e-7);
    const want = x.map((r) => r.map((v, j) => gamma[j] * (v - mm[j]) / Math.sqrt(mv[j] + 1e-3) + beta[j]));
    expectTensor(pred, want, 1e-5);
  });

  test('channels-last 4-D inputs normalize each channel', async () => {
    const bn = new layers.BatchNormalization({ momentum: 0.5, epsilon: 1e-5 });
    const m = new Sequential([bn]);
    m.build([1, 2, 2]);
    bn.setWeights([nt.tensor([1, 2]), nt.tensor([0, 1]), nt.tensor([1, 10]), nt.tensor([4, 25])]);
    const x = T([[[[3, 20], [1, 5]]]]);
    expectTensor(await m.predict(x), [[[[2 / Math.sqrt(4 + 1e-5), 2 * 10 / Math.sqrt(25 + 1e-5) + 1],
      [0, 2 * -5 / Math.sqrt(25 + 1e-5) + 1]]]], 1e-5);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    await m.fit(nt.randn([6, 1, 2, 2]), nt.zeros([6, 1, 2, 2]), { epochs: 1, batchSize: 6, verbose: 0 });
    expect(Number(bn.getWeights()[2].sub(nt.tensor([1, 10])).abs().max().item())).toBeGreaterThan(0.1);
  });
});

describe('each layer trains in the native loop', () => {
  const lossDrops = async (model: nt.Sequential, x: nt.Tensor, y: nt.Tensor, loss: string, epochs = 12) => {
    model.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss });
    const h = await model.fit(x, y, { epochs, batchSize: 16, verbose: 0 });
    const l = h.history.loss as number[];
    expect(l[l.length - 1]).toBeLessThan(l[0] * 0.9);
  };
  // token sequences labelled by whether their first token is above 5
  nt.manualSeed(0);
  const tokens = nt.randint(1, 10, [64, 6]);
  const label = tokens.select(1, 0).gt(5).to('float32');

  test.each([
    ['LSTM', () => new layers.LSTM(8)],
    ['GRU', () => new layers.GRU(8)],
    ['SimpleRNN', () => new layers.SimpleRNN(8)],
    ['Bidirectional(LSTM)', () => new layers.Bidirectional(new layers.LSTM(6))],
    ['Bidirectional(GRU, returnSequences) + GlobalAveragePooling1D', () => new layers.Bidirectional(new layers.GRU(6, { returnSequences: true }))],
  ])('Embedding + %s', async (name, make) => {
    nt.manualSeed(1);
    const extra = name.includes('GlobalAveragePooling1D') ? [new layers.GlobalAveragePooling1D()] : [];
    const model = new Sequential([new layers.Embedding(10, 8, { inputLength: 6 }), make(), ...extra,
      new layers.Dense(1, { activation: 'sigmoid' })]);
    await lossDrops(model, tokens, label, 'binary_crossentropy');
  });

  test('Conv1D + GlobalMaxPooling1D', async () => {
    nt.manualSeed(2);
    const x = nt.randn([64, 12, 3]);
    const y = x.mean([1, 2]).unsqueeze(1);
    await lossDrops(new Sequential([new layers.Conv1D(8, 3, { activation: 'relu', padding: 'same' }),
      new layers.GlobalMaxPooling1D(), new layers.Dense(1)]), x, y, 'mse');
  });

  test('Conv2D + BatchNormalization + GlobalAveragePooling2D', async () => {
    nt.manualSeed(3);
    const x = nt.randn([64, 6, 6, 2]);
    const y = x.select(3, 0).mean([1, 2]).gt(0).to('int64');
    await lossDrops(new Sequential([new layers.Conv2D(8, 3, { padding: 'same' }), new layers.BatchNormalization(),
      new layers.Activation('relu'), new layers.GlobalAveragePooling2D(), new layers.Dense(2, { activation: 'softmax' })]),
    x, y, 'sparse_categorical_crossentropy');
  });

  test('LayerNormalization + Dense', async () => {
    nt.manualSeed(4);
    const x = nt.randn([64, 5]).mul(3).add(2);
    const y = x.select(1, 0).sub(x.select(1, 1)).unsqueeze(1);
    await lossDrops(new Sequential([new layers.Dense(16, { activation: 'relu' }), new layers.LayerNormalization(),
      new layers.Dense(1)]), x, y, 'mse');
  });
});

describe('bad options give errors naming the option', () => {
  test.each([
    [() => new layers.LSTM(0), /LSTM: expected units to be a positive integer/],
    [() => new layers.LSTM(4, { activation: 'relu' }), /LSTM: activation 'relu' is not supported.*use 'tanh'/],
    [() => new layers.GRU(4, { recurrentActivation: 'tanh' }), /GRU: recurrentActivation 'tanh' is not supported/],
    [() => new layers.GRU(4, { resetAfter: false }), /GRU: resetAfter false is not supported/],
    [() => new layers.LSTM(4, { returnState: true }), /LSTM: returnState is not supported/],
    [() => new layers.SimpleRNN(4, { dropout: 0.2 }), /SimpleRNN: dropout other than 0 is not supported/],
    [() => new layers.LSTM(4, { returnSequence: true } as never), /LSTM: unknown option 'returnSequence'/],
    [() => new layers.Embedding(10, 4, { maskZero: true }), /Embedding: maskZero is not supported/],
    [() => new layers.Embedding(10, 4, { inputLength: 0 }), /Embedding: expected inputLength to be a positive integer/],
    [() => new layers.Conv1D(4, 3, { padding: 'causal' } as never), /Conv1D: padding 'causal' is not supported/],
    [() => new layers.Conv1D(4, 0), /Conv1D: expected kernelSize to be a positive integer/],
    [() => new layers.BatchNormalization({ momentum: 2 }), /BatchNormalization: expected momentum in \[0, 1\]/],
    [() => new layers.BatchNormalization({ epsilon: 0 }), /BatchNormalization: expected epsilon to be a positive number/],
    [() => new layers.LayerNormalization({ center: 'yes' } as never), /LayerNormalization: expected center to be a boolean/],
    [() => new layers.Bidirectional(new layers.Dense(3) as never), /Bidirectional: expected a SimpleRNN, LSTM or GRU layer but received Dense/],
    [() => new layers.Bidirectional(new layers.LSTM(3), { mergeMode: 'max' as never }), /Bidirectional: expected mergeMode/],
    [() => new layers.GlobalAveragePooling2D({ keepDims: true } as never), /unknown option 'keepDims'/],
  ])('%#', (make, msg) => {
    expect(make).toThrow(msg);
  });

  test('shape errors at build name the layer', () => {
    expect(() => new Sequential([new layers.BatchNormalization({ axis: 1 })]).build([4, 4, 3])).toThrow(/only axis -1/);
    expect(() => new Sequential([new layers.LSTM(3)]).build([5])).toThrow(/expected inputs of shape \(batch, timesteps, features\)/);
    expect(() => new Sequential([new layers.Conv1D(3, 5)]).build([3, 2])).toThrow(/kernel 5 does not fit/);
    expect(() => new Sequential([new layers.GlobalAveragePooling2D()]).build([3, 2])).toThrow(/expected inputs of shape \(batch, height, width, channels\)/);
    const gru = new layers.GRU(2);
    new Sequential([gru]).build([3, 2]);
    expect(() => gru.setWeights([nt.zeros([2, 6]), nt.zeros([2, 6]), nt.zeros([6])])).toThrow(/weight 2 \(bias\) must have shape \[2, 6\]/);
  });
});

describe('a built layer called on inputs of another width names itself and both shapes', () => {
  class Twice extends layers.Layer {
    scale: nt.Tensor | undefined;
    override build(): void {
      this.scale = this.addWeight('scale', [1]);
    }
    override call(x: nt.Tensor): nt.Tensor {
      return x.mul(this.scale!);
    }
  }

  test('eager call and apply (forwardWithPenalty, the JS path of predict and fit, runs the same check)', () => {
    const d = new layers.Dense(2, { name: 'narrow' });
    d.build([3]);
    const msg = /narrow \(Dense\): the layer was built for inputs of shape \(None, 3\) \(last dimension 3\) but received inputs of shape \(None, 5\)/;
    expect(() => d.call(nt.randn([4, 5]))).toThrow(msg);
    expect(() => d.apply(nt.randn([4, 5]))).toThrow(msg);
    expect(() => d.apply(nt.Input({ shape: [5] }))).toThrow(msg); // symbolic calls too, when the graph is built
    expect(d.call(nt.randn([4, 7, 3])).shape).toEqual([4, 7, 2]); // Dense maps the last axis of any rank
    const conv = new layers.Conv2D(2, 3, { name: 'c' });
    conv(nt.randn([1, 6, 6, 3]));
    expect(() => conv(nt.randn([1, 6, 6, 4]))).toThrow(/c \(Conv2D\): the layer was built for inputs of shape \(None, 6, 6, 3\) \(last dimension 3\) but received inputs of shape \(None, 6, 6, 4\)/);
    expect(conv(nt.randn([1, 9, 9, 3])).shape).toEqual([1, 7, 7, 2]); // the spatial size is free
    const lstm = new layers.LSTM(2, { name: 'rnn' });
    lstm.build([5, 3]);
    expect(() => lstm.call(nt.randn([1, 5, 4]))).toThrow(/rnn \(LSTM\): the layer was built for inputs of shape \(None, 5, 3\) \(last dimension 3\)/);
    const emb = new layers.Embedding(10, 2);
    emb.call(nt.tensor([[1, 2, 3, 4]], { dtype: 'int64' }));
    expect(emb.call(nt.tensor([[1, 2, 3, 4, 5, 6]], { dtype: 'int64' })).shape).toEqual([1, 6, 2]); // token sequences of any length
    // a user layer's own weights say nothing of the width: no check
    const t = new Twice();
    t.build();
    expect(t.call(nt.ones([1, 4])).shape).toEqual([1, 4]);
  });
});
