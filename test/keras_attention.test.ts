// Keras' MultiHeadAttention: outputs and attention scores against the attention formula written out
// in float64 JS over Keras-layout weights, masks, parameter counts, gradients against finite
// differences, training in a Sequential, save/load, and clear errors for bad input.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { native } from '../lib/native';
import { expectTensor, flat } from './helpers';

const { Sequential, layers } = nt;
type MHA = InstanceType<typeof layers.MultiHeadAttention>;
type M3 = number[][][];

let tmp = '';
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-attention-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Deterministic values of a shape, nested, in about [-scale, scale]. */
function vals(shape: number[], scale: number, seed: number): unknown {
  let i = 0;
  const make = (d: number): unknown => (d === shape.length ? Math.sin(seed + 1.7 * i++) * scale
    : Array.from({ length: shape[d] }, () => make(d + 1)));
  return make(0);
}
const T = (v: unknown) => nt.tensor(v as number[]);

interface RefWeights { qk: M3; qb: number[][] | null; kk: M3; kb: number[][] | null; vk: M3; vb: number[][] | null; ok: M3; ob: number[] | null }

/** x [L][F] . kernel [F][N][D] + bias [N][D] -> [N][L][D] */
function project(x: number[][], k: M3, b: number[][] | null): M3 {
  const N = k[0].length;
  const D = k[0][0].length;
  return Array.from({ length: N }, (_, n) => x.map((row) => Array.from({ length: D }, (_, d) =>
    row.reduce((s, xf, f) => s + xf * k[f][n][d], b ? b[n][d] : 0))));
}

/**
 * The attention formula for one batch element, as Keras computes it: scores = softmax(q k^T / sqrt(keyDim)
 * + (1 - mask) * -1e9) per head, output = concat_h(scores v) . Wo + bo. Returns [output [T][E], scores [N][T][S]].
 */
function mhaRef(q: number[][], v: number[][], k: number[][], w: RefWeights, mask: number[][] | null): [number[][], M3] {
  const qh = project(q, w.qk, w.qb);
  const kh = project(k, w.kk, w.kb);
  const vh = project(v, w.vk, w.vb);
  const keyDim = w.qk[0][0].length;
  const scores = qh.map((qn, n) => qn.map((qt, t) => {
    const logits = kh[n].map((ks, s) => qt.reduce((acc, qd, d) => acc + (qd / Math.sqrt(keyDim)) * ks[d], 0) +
      (mask ? (1 - mask[t][s]) * -1e9 : 0));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  }));
  const E = w.ok[0][0].length;
  const out = q.map((_, t) => Array.from({ length: E }, (_, j) => {
    let acc = w.ob ? w.ob[j] : 0;
    vh.forEach((vn, n) => {
      for (let d = 0; d < vn[0].length; d++) {
        const ctx = scores[n][t].reduce((s, p, src) => s + p * vn[src][d], 0);
        acc += ctx * w.ok[n][d][j];
      }
    });
    return acc;
  }));
  return [out, scores];
}

/** Sets deterministic Keras-layout weights on a built layer; returns them as arrays for mhaRef. */
function setKnownWeights(l: MHA, seed = 0): RefWeights {
  const shapes = l.getWeights().map((w) => [...w.shape]);
  const arrays = shapes.map((s, i) => vals(s, i % 2 === 0 ? 0.6 : 0.3, seed + i));
  l.setWeights(arrays.map(T));
  if (l.useBias) {
    const [qk, qb, kk, kb, vk, vb, ok, ob] = arrays;
    return { qk, qb, kk, kb, vk, vb, ok, ob } as RefWeights;
  }
  const [qk, kk, vk, ok] = arrays;
  return { qk, kk, vk, ok, qb: null, kb: null, vb: null, ob: null } as RefWeights;
}

const mha = (o: Partial<nt.layers.MultiHeadAttentionOptions> = {}) => new layers.MultiHeadAttention({ numHeads: 2, keyDim: 3, ...o });

describe('parameters, shapes and summary as Keras', () => {
  test('numHeads 2, keyDim 4 on 8 features: 3 * (8*2*4 + 2*4) + (2*4*8 + 8) = 288 params, output (None, 5, 8)', () => {
    const m = new Sequential([new layers.MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'mha', inputShape: [5, 8] })]);
    const text = m.summary(false);
    expect(text).toMatch(/\nmha \(MultiHeadAttention\) +\(None, 5, 8\) +288\n/);
    expect(text).toContain('Total params: 288\nTrainable params: 288\nNon-trainable params: 0');
    expect(m.countParams()).toBe(288);
  });

  test.each([
    ['valueDim 5, outputShape 6 on 4 features', { numHeads: 3, keyDim: 2, valueDim: 5, outputShape: 6 }, [7, 4], [7, 6],
      (4 * 3 * 2 + 3 * 2) * 2 + (4 * 3 * 5 + 3 * 5) + (3 * 5 * 6 + 6)],
    ['useBias false', { numHeads: 2, keyDim: 4, useBias: false }, [5, 8], [5, 8], 3 * 8 * 2 * 4 + 2 * 4 * 8],
    ['outputShape [2, 3]', { numHeads: 1, keyDim: 2, outputShape: [2, 3] }, [4, 5], [4, 2, 3], 2 * (5 * 2 + 2) + (5 * 2 + 2) + (2 * 2 * 3 + 6)],
  ] as const)('%s', (_d, opts, inShape, outShape, params) => {
    const l = new layers.MultiHeadAttention({ ...opts, inputShape: [...inShape] } as nt.layers.MultiHeadAttentionOptions);
    const m = new Sequential([l]);
    expect(m.countParams()).toBe(params);
    expect(l.computeOutputShape([...inShape])).toEqual(outShape);
    const y = l.call(nt.randn([2, ...inShape]));
    expect(y.shape).toEqual([2, ...outShape]);
  });

  test('weights come in Keras order and layout, and setWeights/getWeights round-trip', () => {
    const l = mha({ valueDim: 5, outputShape: 6 });
    new Sequential([l]).build([7, 4]);
    expect(l.weightsInternal().map((w) => w.name)).toEqual(['query/kernel', 'query/bias', 'key/kernel', 'key/bias',
      'value/kernel', 'value/bias', 'attention_output/kernel', 'attention_output/bias']);
    expect(l.getWeights().map((w) => w.shape)).toEqual([[4, 2, 3], [2, 3], [4, 2, 3], [2, 3], [4, 2, 5], [2, 5], [2, 5, 6], [6]]);
    const w = setKnownWeights(l);
    expect(l.getWeights()[0].toArray()).toEqual(T(w.qk).toArray());
    expect(l.getWeights()[7].toArray()).toEqual(T(w.ob).toArray());
    expect(() => l.setWeights(l.getWeights().slice(1))).toThrow('expected 8 weights but received 7');
    const bad = l.getWeights();
    bad[0] = nt.zeros([2, 4, 3]);
    expect(() => l.setWeights(bad)).toThrow('weight 0 (query/kernel) must have shape [4, 2, 3] but has [2, 4, 3]');
  });

  test('initialized as Keras: glorot_uniform with Keras fans for [features, heads, dim] kernels, zero biases', () => {
    nt.manualSeed(3);
    const l = new layers.MultiHeadAttention({ numHeads: 4, keyDim: 16 });
    new Sequential([l]).build([10, 32]);
    const [qk, qb, , , , , ok] = l.getWeights();
    // Keras' fans for [32, 4, 16]: fan_in = 4 * 32, fan_out = 16 * 32; for [4, 16, 32]: 16 * 4 and 32 * 4.
    const limQ = Math.sqrt(6 / (4 * 32 + 16 * 32));
    const limO = Math.sqrt(6 / (16 * 4 + 32 * 4));
    expect(Number(qk.abs().max().item())).toBeLessThanOrEqual(limQ);
    expect(Number(qk.abs().max().item())).toBeGreaterThan(0.95 * limQ);
    expect(Number(qk.std().item())).toBeCloseTo(limQ / Math.sqrt(3), 2);
    expect(Number(ok.abs().max().item())).toBeLessThanOrEqual(limO);
    expect(Number(ok.abs().max().item())).toBeGreaterThan(0.95 * limO);
    expect(flat(qb.toArray()).every((v) => v === 0)).toBe(true);
    const ones = new layers.MultiHeadAttention({ numHeads: 1, keyDim: 2, kernelInitializer: 'ones', biasInitializer: 'ones' });
    new Sequential([ones]).build([3, 2]);
    expect(flat(ones.getWeights().map((t) => t.toArray())).every((v) => v === 1)).toBe(true);
  });
});

describe('outputs match the attention formula', () => {
  test('one head, keyDim 1, unit weights on [1, 2]: outputs 1 + sigmoid(1) and 1 + sigmoid(2) (worked by hand)', () => {
    const l = new layers.MultiHeadAttention({ numHeads: 1, keyDim: 1, kernelInitializer: 'ones' });
    // q = k = v = x; scores row t: softmax([x_t * 1, x_t * 2]); output = p1 * 1 + p2 * 2 = 1 + p2 = 1 + sigmoid(x_t)
    const y = l.call(T([[[1], [2]]]));
    expectTensor(y, [[[1 + 1 / (1 + Math.exp(-1))], [1 + 1 / (1 + Math.exp(-2))]]], 1e-6);
  });

  test('self-attention with known weights equals the formula (2 heads, biases, batch 2)', () => {
    const l = mha();
    new Sequential([l]).build([3, 4]);
    const w = setKnownWeights(l);
    const x = vals([2, 3, 4], 1, 0.5) as M3;
    const [y, scores] = l.call(T(x), { returnAttentionScores: true });
    const ref = x.map((xb) => mhaRef(xb, xb, xb, w, null));
    expectTensor(y, ref.map((r) => r[0]), 1e-5);
    expectTensor(scores, ref.map((r) => r[1]), 1e-5);
  });

  test('cross-attention: query, value and key of different lengths and feature sizes; valueDim and outputShape', () => {
    const l = mha({ numHeads: 2, keyDim: 3, valueDim: 2, outputShape: 5 });
    const q = vals([2, 3, 4], 1, 1) as M3;
    const v = vals([2, 2, 6], 1, 2) as M3;
    const k = vals([2, 2, 3], 1, 3) as M3;
    l.call(T(q), T(v), T(k)); // builds for query 4, value 6, key 3 features
    expect(l.getWeights().map((t) => t.shape)).toEqual([[4, 2, 3], [2, 3], [3, 2, 3], [2, 3], [6, 2, 2], [2, 2], [2, 2, 5], [5]]);
    const w = setKnownWeights(l, 7);
    const [y, scores] = l.call(T(q), T(v), T(k), { returnAttentionScores: true });
    expect(y.shape).toEqual([2, 3, 5]);
    expect(scores.shape).toEqual([2, 2, 3, 2]);
    const ref = q.map((_, b) => mhaRef(q[b], v[b], k[b], w, null));
    expectTensor(y, ref.map((r) => r[0]), 1e-5);
    expectTensor(scores, ref.map((r) => r[1]), 1e-5);
    // call(query, value): the key is the value
    const w2 = new layers.MultiHeadAttention({ numHeads: 1, keyDim: 2 });
    w2.call(T(q), T(v));
    const rw = setKnownWeights(w2, 3);
    expectTensor(w2.call(T(q), T(v)), q.map((_, b) => mhaRef(q[b], v[b], v[b], rw, null)[0]), 1e-5);
  });

  test('useBias false equals the formula without biases', () => {
    const l = mha({ useBias: false });
    const x = vals([1, 4, 5], 1, 4) as M3;
    l.call(T(x));
    expect(l.getWeights()).toHaveLength(4);
    const w = setKnownWeights(l, 2);
    expectTensor(l.call(T(x)), [mhaRef(x[0], x[0], x[0], w, null)[0]], 1e-5);
  });

  test('attention scores: [batch, heads, T, S], every row a distribution summing to 1', () => {
    const l = new layers.MultiHeadAttention({ numHeads: 3, keyDim: 2 });
    const [y, s] = l.call(nt.randn([4, 5, 6]), nt.randn([4, 7, 6]), { returnAttentionScores: true });
    expect(y.shape).toEqual([4, 5, 6]);
    expect(s.shape).toEqual([4, 3, 5, 7]);
    expectTensor(s.sum(-1), nt.ones([4, 3, 5]).toArray(), 1e-5);
    expect(Number(s.min().item())).toBeGreaterThanOrEqual(0);
  });
});

describe('masks', () => {
  test('a masked key position gets probability 0: the same output as leaving that key and value out', () => {
    const l = mha();
    const q = nt.tensor(vals([2, 3, 4], 1, 1) as M3);
    const v = nt.tensor(vals([2, 4, 4], 1, 2) as M3);
    const mask = nt.ones([2, 3, 4]);
    mask.narrow(2, 3, 1).fill_(0);
    const [masked, scores] = l.call(q, v, { attentionMask: mask, returnAttentionScores: true });
    expect(flat(scores.narrow(3, 3, 1).toArray()).every((p) => p === 0)).toBe(true);
    expectTensor(masked, l.call(q, v.narrow(1, 0, 3)).toArray(), 1e-5);
    // a bool mask and a [T, S] mask broadcast over the batch mean the same
    expectTensor(l.call(q, v, { attentionMask: mask.gt(0.5) }), masked.toArray(), 0);
    expectTensor(l.call(q, v, { attentionMask: mask.select(0, 0) }), masked.toArray(), 0);
  });

  test('per-example masks equal the formula with the mask', () => {
    const l = mha();
    const x = vals([2, 3, 4], 1, 5) as M3;
    l.call(T(x));
    const w = setKnownWeights(l, 4);
    const m = [[[1, 0, 1], [1, 1, 0], [0, 0, 1]], [[1, 1, 1], [0, 1, 0], [1, 0, 0]]];
    const [y, s] = l.call(T(x), T(x), T(x), { attentionMask: T(m), returnAttentionScores: true });
    const ref = x.map((xb, b) => mhaRef(xb, xb, xb, w, m[b]));
    expectTensor(y, ref.map((r) => r[0]), 1e-5);
    expectTensor(s, ref.map((r) => r[1]), 1e-5);
  });

  test('useCausalMask is a lower-triangular mask, combined with attentionMask', () => {
    const l = mha();
    const x = nt.randn([2, 4, 4]);
    const tril = nt.ones([4, 4]).tril();
    const [, s] = l.call(x, { useCausalMask: true, returnAttentionScores: true });
    expectTensor(s.mul(tril.rsub(1)), nt.zeros([2, 2, 4, 4]).toArray(), 0);
    expectTensor(l.call(x, { useCausalMask: true }), l.call(x, { attentionMask: tril }).toArray(), 0);
    const extra = nt.ones([2, 4, 4]);
    extra.narrow(2, 0, 1).fill_(0);
    extra.narrow(1, 0, 1).fill_(1); // position 0 keeps key 0, the only key the causal mask leaves it
    expectTensor(l.call(x, { useCausalMask: true, attentionMask: extra }), l.call(x, { attentionMask: extra.mul(tril) }).toArray(), 0);
  });

  test('a fully masked query row attends uniformly (Keras adds -1e9), never NaN', () => {
    const l = mha();
    const x = nt.randn([1, 3, 4]);
    const mask = nt.ones([1, 3, 3]);
    mask.narrow(1, 1, 1).fill_(0);
    const [y, s] = l.call(x, { attentionMask: mask, returnAttentionScores: true });
    expect(Number(y.isnan().any().item())).toBe(0);
    expectTensor(s.select(2, 1), [[[1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]]], 1e-6);
  });
});

describe('dropout on the attention probabilities', () => {
  test('only while training; returned scores are before dropout', () => {
    nt.manualSeed(1);
    const l = mha({ dropout: 0.5 });
    const x = nt.randn([2, 6, 4]);
    const [y0, s0] = l.call(x, { returnAttentionScores: true });
    const [y1, s1] = l.call(x, { returnAttentionScores: true, training: false });
    expectTensor(y1, y0.toArray(), 0);
    const [yt, st] = l.call(x, { returnAttentionScores: true, training: true });
    expectTensor(st, s0.toArray(), 0);
    expectTensor(s1, s0.toArray(), 0);
    expect(Number(yt.sub(y0).abs().max().item())).toBeGreaterThan(1e-3);
  });
});

describe('gradients', () => {
  test('autograd gradients of query, key, value and output weights match central finite differences', () => {
    nt.manualSeed(5);
    const l = mha({ numHeads: 2, keyDim: 2, valueDim: 3 });
    const x = nt.randn([2, 3, 4]);
    const mask = T([[[1, 1, 0], [1, 1, 1], [0, 1, 1]]]);
    l.call(x);
    const coef = nt.randn([2, 3, 4]);
    const lossOf = () => Number(nt.noGrad(() => l.call(x, { attentionMask: mask }).mul(coef).sum().item()));
    for (const p of l.trainableWeights) p.grad?.zero_();
    l.call(x, { attentionMask: mask }).mul(coef).sum().backward();
    const grads = l.trainableWeights.map((p) => p.grad!.reshape(-1).toArray() as number[]);
    const base = l.getWeights();
    const eps = 1e-2;
    // a few entries of every weight: query/kernel, query/bias, key/kernel, value/kernel, output kernel and bias
    for (const [wi, entries] of [[0, [0, 5, 11]], [1, [1, 3]], [2, [2, 7]], [4, [0, 13]], [6, [4, 17]], [7, [0, 3]]] as const) {
      for (const e of entries) {
        const at = (delta: number) => {
          const ws = base.map((t) => t.clone());
          const flatW = ws[wi].reshape(-1);
          flatW.narrow(0, e, 1).add_(delta);
          l.setWeights(ws);
          return lossOf();
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        expect(Math.abs(grads[wi][e] - fd)).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(fd)));
      }
    }
    l.setWeights(base);
  });
});

describe('in a Sequential', () => {
  test('Input -> MultiHeadAttention -> GlobalAveragePooling1D -> Dense trains with fit: the loss falls clearly', async () => {
    nt.manualSeed(0);
    // Target: the largest first feature over the sequence, a selection attention can learn (pooling alone averages).
    const x = nt.randn([96, 6, 4]);
    const y = x.select(2, 0).max(1, true).values;
    const model = new Sequential([
      layers.Input({ shape: [6, 4] }),
      new layers.MultiHeadAttention({ numHeads: 2, keyDim: 4 }),
      new layers.GlobalAveragePooling1D(),
      new layers.Dense(1),
    ]);
    model.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss: 'mse', metrics: ['mae'] });
    const h = await model.fit(x, y, { epochs: 15, batchSize: 16, verbose: 0 });
    const loss = h.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(0.5 * loss[0]);
    // well below the best constant prediction (the target's variance, about 0.4)
    expect(loss[loss.length - 1]).toBeLessThan(0.5 * Number(y.var().item()));
    const [evalLoss] = (await model.evaluate(x, y, { verbose: 0 })) as number[];
    expect(evalLoss).toBeLessThan(0.5 * loss[0]);
    expect((await model.predict(x)).shape).toEqual([96, 1]);
  }, 60000);

  test('a Sequential with self-attention trains and predicts in the native loop, as the eager call computes', async () => {
    const run = jest.spyOn(native, 'model_run');
    try {
      nt.manualSeed(5);
      const m = new Sequential([new layers.MultiHeadAttention({ numHeads: 2, keyDim: 3, inputShape: [4, 6] }), new layers.GlobalAveragePooling1D(),
        new layers.Dense(1)]);
      m.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss: 'mse' });
      const x = nt.randn([16, 4, 6]);
      const y = x.mean([1, 2]).unsqueeze(1);
      const h = await m.fit(x, y, { epochs: 5, batchSize: 8, verbose: 0 });
      expect(run.mock.calls.map((c) => c[0])).toEqual(Array(5).fill('train'));
      const loss = h.history.loss as number[];
      expect(loss[4]).toBeLessThan(loss[0]);
      const p = await m.predict(x);
      expect(run.mock.calls.map((c) => c[0])).toContain('predict');
      const eager = nt.noGrad(() => m.layers[2].call(m.layers[1].call(m.layers[0].call(x) as nt.Tensor)) as nt.Tensor);
      expect(p.sub(eager).abs().max().item()).toBeLessThan(1e-5);
    } finally {
      run.mockRestore();
    }
  });

  test('kernelRegularizer and biasRegularizer add to the training loss (all four kernels)', async () => {
    const reg = new layers.MultiHeadAttention({ numHeads: 2, keyDim: 2, kernelRegularizer: nt.regularizers.l2(0.1),
      biasRegularizer: nt.regularizers.l1(0.5), biasInitializer: 'ones', inputShape: [3, 4] });
    const model = new Sequential([reg, new layers.Flatten(), new layers.Dense(1)]);
    model.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
    const x = nt.randn([8, 3, 4]);
    const y = nt.randn([8, 1]);
    // the data loss alone: the same weights in a model without the regularizers
    const bare = new Sequential([new layers.MultiHeadAttention({ numHeads: 2, keyDim: 2, inputShape: [3, 4] }), new layers.Flatten(), new layers.Dense(1)]);
    bare.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
    bare.setWeights(model.getWeights());
    const plain = (await bare.evaluate(x, y, { verbose: 0 })) as number;
    const h = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const ws = reg.getWeights();
    const kernels = [0, 2, 4, 6].reduce((s, i) => s + Number(ws[i].square().sum().item()), 0);
    const biases = [1, 3, 5, 7].reduce((s, i) => s + Number(ws[i].abs().sum().item()), 0);
    const penalty = 0.1 * kernels + 0.5 * biases;
    expect((h.history.loss as number[])[0]).toBeCloseTo(plain + penalty, 4);
    // Keras' evaluate reports the regularization losses too
    expect((await model.evaluate(x, y, { verbose: 0 })) as number).toBeCloseTo(plain + penalty, 4);
  });

  test('save and loadModel round trip: same config, weights and predictions', async () => {
    nt.manualSeed(2);
    const model = new Sequential([
      new layers.MultiHeadAttention({ numHeads: 2, keyDim: 3, valueDim: 2, outputShape: 5, dropout: 0.1, name: 'attn',
        kernelRegularizer: nt.regularizers.l2(1e-3), inputShape: [4, 6] }),
      new layers.Flatten(),
      new layers.Dense(2, { activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const x = nt.randn([10, 4, 6]);
    await model.fit(x, nt.tensor([0, 1, 0, 1, 1, 0, 0, 1, 1, 0]), { epochs: 1, batchSize: 5, verbose: 0 });
    const dir = path.join(tmp, 'mha');
    await model.save(dir);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(saved.config.layers[0]).toMatchObject({ className: 'MultiHeadAttention', config: { name: 'attn', numHeads: 2, keyDim: 3,
      valueDim: 2, outputShape: [5], dropout: 0.1, useBias: true, kernelRegularizer: { l1: 0, l2: 1e-3 } } });
    const loaded = await nt.loadModel(dir);
    const l = loaded.layers[0] as MHA;
    expect(l).toBeInstanceOf(layers.MultiHeadAttention);
    expect([l.name, l.numHeads, l.keyDim, l.valueDim, l.outputShape, l.dropout]).toEqual(['attn', 2, 3, 2, [5], 0.1]);
    expect(l.kernelRegularizer).toEqual({ l1: 0, l2: 1e-3 });
    expect(loaded.getWeights().map((w) => w.toArray())).toEqual(model.getWeights().map((w) => w.toArray()));
    expect((await loaded.predict(x)).toArray()).toEqual((await model.predict(x)).toArray());
  });
});

describe('bad input throws a clear error naming the layer', () => {
  test('constructor options', () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /MultiHeadAttention: expected an options object with numHeads and keyDim but received undefined/],
      [{ keyDim: 2 }, /MultiHeadAttention: expected numHeads to be a positive integer but received undefined/],
      [{ numHeads: 0, keyDim: 2 }, /expected numHeads to be a positive integer but received number 0/],
      [{ numHeads: 2, keyDim: 'a' }, /expected keyDim to be a positive integer but received string/],
      [{ numHeads: 2, keyDim: 2, valueDim: 1.5 }, /expected valueDim to be a positive integer/],
      [{ numHeads: 2, keyDim: 2, dropout: 1 }, /expected dropout in \[0, 1\) but received number 1/],
      [{ numHeads: 2, keyDim: 2, outputShape: [0] }, /expected outputShape to be a positive integer or an array of them but received \[0\]/],
      [{ numHeads: 2, keyDim: 2, attentionAxes: [1] }, /only attentionAxes null .* is supported but received \[1\]/],
      [{ numHeads: 2, keyDim: 2, kernelInitializer: 'nope' }, /unknown kernelInitializer 'nope'/],
      [{ numHeads: 2, keyDim: 2, kernelRegularizer: 0.1 }, /expected kernelRegularizer to be a regularizer/],
      [{ numHeads: 2, keyDim: 2, heads: 2 }, /unknown option 'heads'/],
    ];
    for (const [opts, msg] of bad) {
      expect(() => new layers.MultiHeadAttention(opts as nt.layers.MultiHeadAttentionOptions)).toThrow(msg);
    }
  });

  test('inputs of the wrong rank, features, batch or length, and bad masks', () => {
    const l = mha({ name: 'att' });
    expect(() => l.call(nt.zeros([5, 4]))).toThrow(new RangeError('att (MultiHeadAttention): expected query of shape (batch, seq, features) but got a tensor of shape [5, 4]'));
    expect(() => l.call([[[1]]] as unknown as nt.Tensor)).toThrow(TypeError);
    expect(() => l.call(nt.zeros([2, 3, 4]), nt.zeros([2, 3]))).toThrow('expected value of shape (batch, seq, features) but got a tensor of shape [2, 3]');
    expect(() => l.call(nt.zeros([2, 3, 4]), nt.zeros([1, 3, 4]))).toThrow('must have the same batch size');
    expect(() => l.call(nt.zeros([2, 3, 4]), nt.zeros([2, 3, 4]), nt.zeros([2, 2, 4]))).toThrow('value and key must have the same sequence length');
    l.call(nt.zeros([2, 3, 4]));
    expect(() => l.call(nt.zeros([2, 3, 5]))).toThrow(new RangeError('att (MultiHeadAttention): the layer was built for query inputs of shape (batch, seq, 4) but got query of shape [2, 3, 5]'));
    expect(() => l.call(nt.zeros([2, 3, 4]), { attentionMask: nt.ones([2, 3, 2]) })).toThrow(
      'att (MultiHeadAttention): expected attentionMask of shape [batch, T, S] = [2, 3, 3] (or broadcastable to it) but got [2, 3, 2]');
    expect(() => l.call(nt.zeros([2, 3, 4]), { attentionMask: 1 as unknown as nt.Tensor })).toThrow(TypeError);
    expect(() => l.call(nt.zeros([2, 3, 4]), { mask: nt.ones([2, 3, 3]) } as never)).toThrow("unknown call option 'mask'");
    expect(() => l.call(nt.zeros([2, 3, 4]), { training: 1 } as never)).toThrow('expected training to be a boolean but received number');
  });

  test('a Sequential with inputs that are not (batch, seq, features)', async () => {
    const flatIn = new Sequential([new layers.MultiHeadAttention({ numHeads: 1, keyDim: 2, name: 'a1', inputShape: [8] })]);
    expect(() => flatIn.build()).toThrow('a1 (MultiHeadAttention): expected query inputs of shape (batch, seq, features) but got (None, 8)');
    const m = new Sequential([new layers.MultiHeadAttention({ numHeads: 1, keyDim: 2, inputShape: [3, 4] })]);
    await expect(m.predict(nt.zeros([2, 3, 5]))).rejects.toThrow('has inputShape [3, 4] but the data has samples of shape [3, 5]');
    await m.predict(nt.zeros([2, 3, 4]));
    await expect(m.predict(nt.zeros([2, 3, 5]))).rejects.toThrow('expected inputs of shape [3, 4] but got [3, 5] (per sample)');
    // a layer built by a direct call on 4 features cannot then run in a model on 5
    const used = new layers.MultiHeadAttention({ numHeads: 1, keyDim: 2, name: 'used' });
    used.call(nt.zeros([1, 3, 4]));
    expect(() => new Sequential([used]).build([3, 5])).toThrow('used (MultiHeadAttention): the layer was built for inputs of shape (None, 3, 4) (last dimension 4) but received inputs of shape (None, 3, 5)');
  });

  test('bad values anywhere throw Errors with a message, never anything else', () => {
    const values: unknown[] = [undefined, null, 'abc', NaN, Infinity, -1, 1.5, 2 ** 53, true, 10n, {}, [], [1, [2]], Symbol('s'),
      () => 1, new Float32Array(3), nt.zeros([2]), nt.zeros([2, 3, 4], { dtype: 'bool' }), nt.tensor([1n, 2n])];
    const UNCLEAR = /Cannot (read|set|create) propert|is not a function|is not iterable|undefined is not|null is not/;
    const problems: string[] = [];
    const attempt = (desc: string, f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof Error) || !e.message || UNCLEAR.test(e.message)) problems.push(`${desc}: ${String(e)}`);
      }
    };
    const keys = ['numHeads', 'keyDim', 'valueDim', 'dropout', 'useBias', 'outputShape', 'attentionAxes', 'kernelInitializer',
      'biasInitializer', 'kernelRegularizer', 'biasRegularizer', 'name', 'inputShape'];
    for (const v of values) {
      attempt(`new MultiHeadAttention(${String(v)})`, () => new layers.MultiHeadAttention(v as never));
      for (const k of keys) attempt(`{ ${k}: ${String(v)} }`, () => new layers.MultiHeadAttention({ numHeads: 1, keyDim: 2, [k]: v } as never));
    }
    const l = mha();
    const x = nt.zeros([2, 3, 4]);
    l.call(x);
    for (const v of values) {
      attempt(`call(${String(v)})`, () => l.call(v as never));
      attempt(`call(x, ${String(v)})`, () => l.call(x, v as never));
      attempt(`call(x, x, ${String(v)})`, () => l.call(x, x, v as never));
      for (const k of ['attentionMask', 'returnAttentionScores', 'training', 'useCausalMask']) {
        attempt(`call(x, { ${k}: ${String(v)} })`, () => l.call(x, { [k]: v } as never));
      }
    }
    expect(problems).toEqual([]);
  });
});
