// ONNX export: every exportable Keras layer kind alone and in models, and nn.Sequential of built-in
// modules, run in onnxruntime-node with outputs equal to predict()/forward() within 1e-4 at two batch
// sizes (the batch dimension is dynamic); every file then passes onnx.checker from Debian's
// python3-onnx (/usr/bin/python3) when it is installed, and that check is skipped, saying so, where not.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as nt from '../lib';

const { Sequential, layers, nn } = nt;

let tmp: string;
const written: string[] = [];
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-onnx-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function file(label: string): string {
  const f = path.join(tmp, `${String(counter++).padStart(3, '0')}_${label.replace(/[^\w.-]+/g, '_')}.onnx`);
  written.push(f);
  return f;
}

function maxDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return d;
}

interface Case { label: string; file: string; xs: nt.Tensor[]; wants: nt.Tensor[] }
let pending: Case[] = [];

const feed = (x: nt.Tensor) => ({ dtype: x.dtype === 'int64' ? 'int64' : 'float32', shape: x.shape,
  data: Array.from(x.dtype === 'int64' ? x.dataSync() as BigInt64Array : x.to('float32').dataSync() as Float32Array, Number) });

/** Runs the pending cases in onnxruntime-node (test/onnx_run.js, one child process) and compares every output within 1e-4. */
function verify(): void {
  const cases = pending;
  pending = [];
  const input = cases.map((c) => ({ file: c.file, feeds: c.xs.map(feed) }));
  const r = spawnSync(process.execPath, [path.join(__dirname, 'onnx_run.js')], { input: JSON.stringify(input), encoding: 'utf8', timeout: 300_000, maxBuffer: 256 << 20 });
  expect(r.stderr).toBe('');
  const outs = JSON.parse(r.stdout) as { outputs?: { dims: number[]; data: number[] }[]; error?: string }[];
  cases.forEach((c, i) => {
    const o = outs[i];
    if (o.error) throw new Error(`${c.label}: onnxruntime failed: ${o.error}`);
    expect([c.label, o.outputs!.length]).toEqual([c.label, c.wants.length]);
    c.wants.forEach((want, k) => {
      expect([c.label, k, o.outputs![k].dims]).toEqual([c.label, k, want.shape]);
      const d = maxDiff(o.outputs![k].data, want.dataSync() as Float32Array);
      if (!(d <= 1e-4)) throw new Error(`${c.label} output ${k}: onnxruntime differs from nodetorch by ${d}`);
    });
  });
}

/** Exports a Keras model and compares onnxruntime with predict on batches of 5 and 2. */
async function checkKeras(label: string, m: nt.Sequential, sample: number[], opts: { ids?: number; opset?: number } = {}): Promise<void> {
  const f = file(label);
  const make = (n: number) => (opts.ids ? nt.randint(0, opts.ids, [n, ...sample]) : nt.randn([n, ...sample]));
  const x5 = make(5);
  if (!m.built) m.build(sample);
  await m.export(f, { format: 'onnx', ...(opts.opset ? { opset: opts.opset } : {}) });
  for (const x of [x5, make(2)]) pending.push({ label, file: f, xs: [x], wants: [await m.predict(x)] });
}

/** Random values for a layer's weights (BatchNormalization's variance kept positive), set through setWeights. */
function randomize(l: nt.layers.Layer): void {
  l.setWeights(l.getWeights().map((w, i) => (l instanceof layers.BatchNormalization && i === l.getWeights().length - 1 ? nt.rand([...w.shape]).add(0.5) : nt.randn([...w.shape]).mul(0.5))));
}

beforeEach(() => nt.manualSeed(7));
// every test's exports are run in onnxruntime at its end
afterEach(() => verify());

describe('Keras layers exported alone', () => {
  const acts = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'gelu', 'elu', 'selu', 'swish', 'silu', 'leaky_relu', 'softplus'] as const;
  test.each(acts)('Activation %s and Dense with it', async (a) => {
    await checkKeras(`act_${a}`, new Sequential([new layers.Activation(a, { inputShape: [6] })]), [6]);
    await checkKeras(`dense_${a}`, new Sequential([new layers.Dense(4, { inputShape: [6], activation: a })]), [6]);
  });

  test('Dense without bias, on rank-3 inputs', async () => {
    await checkKeras('dense_nobias', new Sequential([new layers.Dense(3, { inputShape: [4, 5], useBias: false })]), [4, 5]);
  });

  test('Flatten, Reshape (with -1), Dropout, Rescaling (scalar and per channel)', async () => {
    await checkKeras('flatten', new Sequential([new layers.Flatten({ inputShape: [3, 4] })]), [3, 4]);
    await checkKeras('reshape', new Sequential([new layers.Reshape([2, -1], { inputShape: [6] })]), [6]);
    await checkKeras('dropout', new Sequential([new layers.Dropout(0.5, { inputShape: [6] })]), [6]);
    await checkKeras('rescale', new Sequential([new layers.Rescaling(1 / 255, -0.5, { inputShape: [4, 4, 3] })]), [4, 4, 3]);
    await checkKeras('rescale_ch', new Sequential([new layers.Rescaling([1, 2, 3], [0.1, 0, -1], { inputShape: [4, 4, 3] })]), [4, 4, 3]);
  });

  test('Resizing: every interpolation, down and up, with and without cropToAspectRatio', async () => {
    for (const interpolation of ['bilinear', 'nearest', 'bicubic', 'area'] as const) {
      await checkKeras(`resize_${interpolation}_down`, new Sequential([new layers.Resizing(4, 5, { inputShape: [9, 7, 2], interpolation })]), [9, 7, 2]);
      await checkKeras(`resize_${interpolation}_up`, new Sequential([new layers.Resizing(11, 6, { inputShape: [5, 6, 1], interpolation })]), [5, 6, 1]);
    }
    await checkKeras('resize_crop', new Sequential([new layers.Resizing(4, 4, { inputShape: [9, 6, 3], cropToAspectRatio: true })]), [9, 6, 3]);
  });

  test('random augmentation layers are the identity, as in predict', async () => {
    await checkKeras('random', new Sequential([new layers.RandomFlip('horizontal', { inputShape: [6, 6, 3] }), new layers.RandomRotation(0.2),
      new layers.RandomZoom(0.1), new layers.RandomTranslation(0.1, 0.1)]), [6, 6, 3]);
  });

  test('Conv2D: valid, same, strides, dilation, no bias', async () => {
    await checkKeras('conv2d', new Sequential([new layers.Conv2D(4, 3, { inputShape: [7, 7, 3], activation: 'relu' })]), [7, 7, 3]);
    await checkKeras('conv2d_same', new Sequential([new layers.Conv2D(2, [2, 3], { inputShape: [6, 7, 3], padding: 'same' })]), [6, 7, 3]);
    await checkKeras('conv2d_stride', new Sequential([new layers.Conv2D(2, 3, { inputShape: [9, 8, 2], strides: [2, 3], useBias: false })]), [9, 8, 2]);
    await checkKeras('conv2d_dil', new Sequential([new layers.Conv2D(2, 2, { inputShape: [8, 8, 1], dilationRate: 2, padding: 'same' })]), [8, 8, 1]);
  });

  test('Conv1D: valid, same, strides, dilation', async () => {
    await checkKeras('conv1d', new Sequential([new layers.Conv1D(4, 3, { inputShape: [9, 3], activation: 'tanh' })]), [9, 3]);
    await checkKeras('conv1d_same', new Sequential([new layers.Conv1D(2, 4, { inputShape: [9, 3], padding: 'same', dilationRate: 2 })]), [9, 3]);
    await checkKeras('conv1d_stride', new Sequential([new layers.Conv1D(2, 2, { inputShape: [9, 3], strides: 2, useBias: false })]), [9, 3]);
  });

  test('pooling: max, average, global (1D and 2D, keepdims)', async () => {
    await checkKeras('maxpool', new Sequential([new layers.MaxPooling2D(2, { inputShape: [8, 7, 2] })]), [8, 7, 2]);
    await checkKeras('avgpool', new Sequential([new layers.AveragePooling2D(3, { inputShape: [8, 8, 2], strides: 2 })]), [8, 8, 2]);
    await checkKeras('gap2d', new Sequential([new layers.GlobalAveragePooling2D({ inputShape: [5, 4, 3] })]), [5, 4, 3]);
    await checkKeras('gmp2d', new Sequential([new layers.GlobalMaxPooling2D({ inputShape: [5, 4, 3], keepdims: true })]), [5, 4, 3]);
    await checkKeras('gap1d', new Sequential([new layers.GlobalAveragePooling1D({ inputShape: [6, 3], keepdims: true })]), [6, 3]);
    await checkKeras('gmp1d', new Sequential([new layers.GlobalMaxPooling1D({ inputShape: [6, 3] })]), [6, 3]);
    await checkKeras('gap2d_op13', new Sequential([new layers.GlobalAveragePooling2D({ inputShape: [5, 4, 3] }), new layers.Dense(2)]), [5, 4, 3], { opset: 13 });
  });

  test('BatchNormalization on rank 2, 3 and 4 inputs, with and without center/scale', async () => {
    for (const [s, o] of [[[5], {}], [[4, 3], {}], [[4, 4, 3], {}], [[5], { center: false }], [[4, 3], { scale: false }]] as const) {
      const bn = new layers.BatchNormalization({ inputShape: [...s], epsilon: 0.01, ...o });
      const m = new Sequential([bn]);
      m.build([...s]);
      randomize(bn);
      await checkKeras(`bn_${s.join('x')}`, m, [...s]);
    }
  });

  test('LayerNormalization, with and without center/scale; it needs opset 17', async () => {
    for (const o of [{}, { center: false }, { scale: false, epsilon: 1e-5 }]) {
      const ln = new layers.LayerNormalization({ inputShape: [3, 6], ...o });
      const m = new Sequential([ln]);
      m.build([3, 6]);
      randomize(ln);
      await checkKeras('ln', m, [3, 6]);
    }
    const m = new Sequential([new layers.LayerNormalization({ inputShape: [4], name: 'norm' })]);
    await expect(m.export(path.join(tmp, 'ln13.onnx'), { format: 'onnx', opset: 16 })).rejects.toThrow(/layer 'norm' \(LayerNormalization\) needs opset 17/);
  });

  test('Embedding reads int64 token ids', async () => {
    await checkKeras('embedding', new Sequential([new layers.Embedding(10, 4, { inputShape: [5] } as never)]), [5], { ids: 10 });
  });

  test.each(['SimpleRNN', 'LSTM', 'GRU'] as const)('%s: last step, sequences, goBackwards, no bias, relu', async (kind) => {
    const R = layers[kind];
    await checkKeras(`${kind}_last`, new Sequential([new R(4, { inputShape: [6, 3] })]), [6, 3]);
    await checkKeras(`${kind}_seq`, new Sequential([new R(4, { inputShape: [6, 3], returnSequences: true })]), [6, 3]);
    await checkKeras(`${kind}_back`, new Sequential([new R(3, { inputShape: [5, 2], goBackwards: true, returnSequences: true })]), [5, 2]);
    await checkKeras(`${kind}_back_last`, new Sequential([new R(3, { inputShape: [5, 2], goBackwards: true })]), [5, 2]);
    const nb = new R(3, { inputShape: [5, 2], useBias: false });
    await checkKeras(`${kind}_nobias`, new Sequential([nb]), [5, 2]);
    // non-zero biases everywhere (GRU's recurrent bias included)
    const wb = new R(3, { inputShape: [5, 2], returnSequences: true });
    const m = new Sequential([wb]);
    m.build([5, 2]);
    randomize(wb);
    await checkKeras(`${kind}_bias`, m, [5, 2]);
    if (kind === 'SimpleRNN') await checkKeras('rnn_relu', new Sequential([new layers.SimpleRNN(3, { inputShape: [5, 2], activation: 'relu' })]), [5, 2]);
  });

  test.each(['concat', 'sum', 'mul', 'ave'] as const)('Bidirectional LSTM/GRU/SimpleRNN, mergeMode %s', async (mergeMode) => {
    for (const R of [layers.LSTM, layers.GRU, layers.SimpleRNN]) {
      for (const returnSequences of [false, true]) {
        const bi = new layers.Bidirectional(new R(3, { returnSequences }), { inputShape: [5, 2], mergeMode });
        const m = new Sequential([bi]);
        m.build([5, 2]);
        randomize(bi);
        await checkKeras(`bi_${R.name}_${mergeMode}_${returnSequences}`, m, [5, 2]);
      }
    }
  });
});

describe('MultiHeadAttention (self-attention, as a Sequential calls it)', () => {
  test('heads, valueDim, outputShape, no bias', async () => {
    const variants: [string, Partial<nt.layers.MultiHeadAttentionOptions>][] = [['mha', {}], ['mha_vd', { valueDim: 2, outputShape: [6] }],
      ['mha_nobias', { useBias: false }], ['mha_out2d', { outputShape: [2, 3] }]];
    for (const [label, o] of variants) {
      const a = new layers.MultiHeadAttention({ numHeads: 2, keyDim: 3, inputShape: [5, 4], ...o });
      const m = new Sequential([a]);
      m.build([5, 4]);
      randomize(a);
      await checkKeras(label, m, [5, 4]);
    }
  });
});

describe('Keras models exported whole', () => {
  test('the seed MLP (Flatten, Dense relu, Dropout, Dense softmax) after training', async () => {
    const m = new Sequential([new layers.Flatten({ inputShape: [28, 28] }), new layers.Dense(32, { activation: 'relu' }),
      new layers.Dropout(0.2), new layers.Dense(10, { activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    await m.fit(nt.rand([64, 28, 28]), nt.randint(0, 10, [64]), { epochs: 1, verbose: 0 });
    await checkKeras('mlp', m, [28, 28]);
  });

  test('a CNN: Rescaling, Conv2D, BatchNormalization, MaxPooling2D, Conv2D, GlobalAveragePooling2D, Dense', async () => {
    const m = new Sequential([new layers.Rescaling(0.5, 0, { inputShape: [12, 12, 3] }), new layers.Conv2D(4, 3, { activation: 'relu' }),
      new layers.BatchNormalization(), new layers.MaxPooling2D(2), new layers.Conv2D(6, 3, { padding: 'same', activation: 'elu' }),
      new layers.GlobalAveragePooling2D(), new layers.Dense(3, { activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    await m.fit(nt.randn([16, 12, 12, 3]), nt.randint(0, 3, [16]), { epochs: 2, batchSize: 8, verbose: 0 });
    await checkKeras('cnn', m, [12, 12, 3]);
  });

  test('a text model: Embedding, Bidirectional LSTM, GRU, Dense sigmoid', async () => {
    const m = new Sequential([new layers.Embedding(20, 6, { inputShape: [7] } as never), new layers.Bidirectional(new layers.LSTM(4, { returnSequences: true })),
      new layers.GRU(3), new layers.Dense(1, { activation: 'sigmoid' })]);
    await checkKeras('text', m, [7], { ids: 20 });
  });

  test('a small transformer block: Dense, MultiHeadAttention, LayerNormalization, GlobalAveragePooling1D, Dense', async () => {
    const m = new Sequential([new layers.Dense(8, { inputShape: [6, 5] }), new layers.MultiHeadAttention({ numHeads: 2, keyDim: 4 }),
      new layers.LayerNormalization(), new layers.Dense(8, { activation: 'gelu' }), new layers.GlobalAveragePooling1D(), new layers.Dense(3, { activation: 'softmax' })]);
    await checkKeras('transformer', m, [6, 5]);
  });

  test('a sequence model: Conv1D, LayerNormalization, SimpleRNN, Reshape, Flatten, Dense', async () => {
    const m = new Sequential([new layers.Conv1D(4, 3, { inputShape: [10, 2], padding: 'same', activation: 'swish' }), new layers.LayerNormalization(),
      new layers.SimpleRNN(4, { returnSequences: true }), new layers.Reshape([5, 8]), new layers.Flatten(), new layers.Dense(2)]);
    await checkKeras('seq', m, [10, 2]);
  });
});

describe('a model that lists its own layer graph (the hook a Functional model implements)', () => {
  test('two inputs, merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate), seven outputs', async () => {
    const d1 = new layers.Dense(4, { name: 'd1', activation: 'relu' });
    const d2 = new layers.Dense(4, { name: 'd2' });
    const d3 = new layers.Dense(2, { name: 'd3', activation: 'softmax' });
    d1.build([3]);
    d2.build([2]);
    d3.build([8]);
    const merge = (name: string, config: Record<string, unknown> = {}) => ({ name, getConfig: () => ({ name, ...config }), getWeights: () => [] });
    type Node = import('../lib/utils/model_graph').GraphNode;
    const node = (name: string, className: string, layer: unknown, inbound: string[], inputShapes: number[][], outputShape: number[]): Node =>
      ({ name, className, layer: layer as Node['layer'], inbound, inputShapes, outputShape, params: 0 });
    const mergeNames: [string, string][] = [['add', 'Add'], ['sub', 'Subtract'], ['mul', 'Multiply'], ['avg', 'Average'], ['max', 'Maximum'], ['min', 'Minimum']];
    const nodes: Node[] = [
      node('a', 'InputLayer', undefined, [], [], [3]),
      node('b', 'InputLayer', undefined, [], [], [2]),
      node('d1', 'Dense', d1, ['a'], [[3]], [4]),
      node('d2', 'Dense', d2, ['b'], [[2]], [4]),
      ...mergeNames.map(([n, cls]) => node(n, cls, merge(n), ['d1', 'd2'], [[4], [4]], [4])),
      node('cat', 'Concatenate', merge('cat', { axis: -1 }), ['d1', 'd2'], [[4], [4]], [8]),
      node('d3', 'Dense', d3, ['cat'], [[8]], [2]),
    ];
    const model = { name: 'two_inputs', layers: [d1, d2, d3], layerGraph: () => nodes };
    const f = file('graph');
    fs.writeFileSync(f, nt.onnx.kerasModelToOnnx(model));
    const xa = nt.randn([5, 3]);
    const xb = nt.randn([5, 2]);
    const [h1, h2] = [d1.call(xa), d2.call(xb)];
    const pick = (c: nt.Tensor) => nt.where(c, h1, h2);
    pending.push({ label: 'graph', file: f, xs: [xa, xb], wants: [h1.add(h2), h1.sub(h2), h1.mul(h2), h1.add(h2).div(2), pick(h1.ge(h2)), pick(h1.le(h2)),
      d3.call(nt.cat([h1, h2], -1))] });
    // a layer called on several inputs that has no merge form is named
    const bad = [...nodes.slice(0, 4), node('oops', 'Dense', d3, ['d1', 'd2'], [[4], [4]], [2])];
    expect(() => nt.onnx.kerasModelToOnnx({ name: 'bad', layers: [d1, d2, d3], layerGraph: () => bad })).toThrow(/layer 'oops' \(Dense\) with 2 inputs cannot be exported/);
  });
});

describe('Functional models exported whole (their layerGraph())', () => {
  /** Exports a Functional model and compares onnxruntime with predict on batches of 5 and 2, every output. */
  async function checkFunctional(label: string, m: nt.Model, make: (n: number) => nt.Tensor[]): Promise<void> {
    const f = file(label);
    await m.export(f);
    for (const n of [5, 2]) {
      const xs = make(n);
      const p = await m.predict(xs.length === 1 ? xs[0] : xs);
      pending.push({ label, file: f, xs, wants: Array.isArray(p) ? p as nt.Tensor[] : [p as nt.Tensor] });
    }
  }

  test('two inputs, two heads, every merge layer (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot)', async () => {
    const a = nt.Input({ shape: [6], name: 'a' });
    const b = nt.Input({ shape: [3], name: 'b' });
    const ha = new layers.Dense(4, { activation: 'tanh', name: 'ha' })(a);
    const hb = new layers.Dense(4, { name: 'hb' })(b);
    const merged = [new layers.Add()([ha, hb]), new layers.Subtract()([ha, hb]), new layers.Multiply()([ha, hb]), new layers.Average()([ha, hb]),
      new layers.Maximum()([ha, hb]), new layers.Minimum()([ha, hb]), new layers.Dot(1)([ha, hb]), new layers.Dot(-1, { normalize: true })([ha, hb])];
    const body = new layers.Concatenate({ name: 'cat' })(merged);
    const cls = new layers.Dense(3, { activation: 'softmax', name: 'cls' })(body);
    const reg = new layers.Dense(1, { name: 'reg' })(body);
    const m = new nt.Model({ inputs: [a, b], outputs: [cls, reg], name: 'two_heads' });
    await checkFunctional('functional two heads', m, (n) => [nt.randn([n, 6]), nt.randn([n, 3])]);
  });

  test('Dot over the sequence axes of rank-3 inputs', async () => {
    const q = nt.Input({ shape: [4, 3] });
    const k = nt.Input({ shape: [5, 3] });
    const m = new nt.Model({ inputs: [q, k], outputs: new layers.Dot([2, 2])([q, k]) });
    await checkFunctional('functional dot rank 3', m, (n) => [nt.randn([n, 4, 3]), nt.randn([n, 5, 3])]);
  });

  test('a residual CNN block (a shared layer called twice, an output that also feeds another layer)', async () => {
    const x = nt.Input({ shape: [8, 8, 3] });
    const c1 = new layers.Conv2D(3, 3, { padding: 'same', activation: 'relu', name: 'c1' });
    const h = c1(new layers.Add()([c1(x), x]));
    const pooled = new layers.GlobalAveragePooling2D()(h);
    const out = new layers.Dense(2, { name: 'out' })(pooled);
    const m = new nt.Model({ inputs: x, outputs: [out, pooled] });
    const g = m.layerGraph()!;
    expect(g.nodes.map((n) => n.name).filter((n) => n.startsWith('c1'))).toEqual(['c1', 'c1_1']);
    expect(g.nodes.find((n) => n.name === 'c1_1')!.params).toBe(0);
    await checkFunctional('functional residual', m, (n) => [nt.randn([n, 8, 8, 3])]);
  });

  test('nested models (a Functional and a Sequential used as layers) are inlined', async () => {
    const ix = nt.Input({ shape: [5] });
    const inner = new nt.Model({ inputs: ix, outputs: new layers.Dense(4, { activation: 'relu', name: 'd' })(ix), name: 'inner' });
    const seq = new Sequential([new layers.Dense(3, { inputShape: [4], name: 's1' }), new layers.Dense(2, { activation: 'sigmoid', name: 's2' })], { name: 'head' });
    const x = nt.Input({ shape: [5], name: 'x' });
    const m = new nt.Model({ inputs: x, outputs: seq.apply(inner.apply(x) as nt.KerasTensor) as nt.KerasTensor });
    expect(m.layerGraph({ expandNested: true })!.nodes.map((n) => [n.name, n.inbound])).toEqual([['x', []], ['inner/d', ['x']], ['head/s1', ['inner/d']], ['head/s2', ['head/s1']]]);
    expect(m.layerGraph()!.nodes.map((n) => n.className)).toEqual(['InputLayer', 'Functional', 'Sequential']);
    await checkFunctional('functional nested', m, (n) => [nt.randn([n, 5])]);
  });

  test('MultiHeadAttention with query, value and key from the graph; Embedding reading int64 ids; a null sequence length', async () => {
    const ids = nt.Input({ shape: [6], dtype: 'int64', name: 'ids' });
    const ctx = nt.Input({ shape: [null, 8], name: 'ctx' });
    const q = new layers.Embedding(20, 8)(ids);
    const att = new layers.MultiHeadAttention({ numHeads: 2, keyDim: 4 })(q, ctx, new layers.Dense(8)(ctx));
    const out = new layers.Dense(2)(new layers.GlobalAveragePooling1D()(new layers.LayerNormalization()(new layers.Add()([q, att]))));
    const m = new nt.Model({ inputs: [ids, ctx], outputs: out });
    const f = file('functional mha');
    await m.export(f);
    for (const [n, t] of [[5, 7], [2, 3]]) {
      const xs = [nt.randint(0, 20, [n, 6]), nt.randn([n, t, 8])];
      pending.push({ label: 'functional mha', file: f, xs, wants: [await m.predict(xs) as nt.Tensor] });
    }
  });

  test('what a Functional export refuses names the layer or the model', async () => {
    const x = nt.Input({ shape: [4, 8] });
    const causal = new layers.MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'causal' })(x, x, { useCausalMask: true }) as nt.KerasTensor;
    await expect(new nt.Model({ inputs: x, outputs: causal }).export(path.join(tmp, 'causal.onnx'))).rejects.toThrow(/layer 'causal' \(MultiHeadAttention\) is called with options useCausalMask, which cannot be exported/);
    class Net extends nt.Model {
      d = new layers.Dense(2);
      override call(t: nt.Tensor): nt.Tensor {
        return this.d.call(t).add(t.sum(1, true));
      }
    }
    const net = new Net();
    net.build([3]);
    await expect(net.export(path.join(tmp, 'sub.onnx'))).rejects.toThrow(/export: the model '\w+' is a subclassed Model: its call\(\) is code, not a layer graph/);
    expect(fs.existsSync(path.join(tmp, 'causal.onnx')) || fs.existsSync(path.join(tmp, 'sub.onnx'))).toBe(false);
  });
});

describe('export errors and files', () => {
  class Scale extends layers.Layer {
    call(x: nt.Tensor): nt.Tensor {
      return x.mul(2);
    }
  }

  test('a layer that cannot be exported is an error naming it; nothing is written', async () => {
    const m = new Sequential([new layers.Dense(2, { inputShape: [3] }), new Scale({ name: 'my_scale' })]);
    const f = path.join(tmp, 'bad.onnx');
    await expect(m.export(f, { format: 'onnx' })).rejects.toThrow(/layer 'my_scale' \(Scale\) cannot be exported; exportable layers: .*Dense/);
    expect(fs.existsSync(f)).toBe(false);

  });

  test('bad arguments name what was expected', async () => {
    const m = new Sequential([new layers.Dense(2, { inputShape: [3] })]);
    await expect(m.export(path.join(tmp, 'a.onnx'), { format: 'onnx', opset: 9 })).rejects.toThrow(/opset to be an integer from 13 to 17 but received 9/);
    await expect(m.export(path.join(tmp, 'a.bin'))).rejects.toThrow(/expected format 'onnx'/);
    await expect(m.export(path.join(tmp, 'a.onnx'), { format: 'tf_saved_model' })).rejects.toThrow(/expected format 'onnx' \(or 'torchscript'.*\) but received "tf_saved_model"/);
    await expect(m.export(path.join(tmp, 'a.onnx'), { fromat: 'onnx' } as never)).rejects.toThrow(/unknown option 'fromat'/);
    await expect(m.export('' as never)).rejects.toThrow(/expected a file path/);
    await expect(new Sequential([new layers.Dense(2)]).export(path.join(tmp, 'u.onnx'))).rejects.toThrow(/is not built/);
    fs.mkdirSync(path.join(tmp, 'dir.onnx'));
    await expect(m.export(path.join(tmp, 'dir.onnx'))).rejects.toThrow(/is a directory/);
  });

  test('the file is replaced atomically: no temporary file remains', async () => {
    const dir = path.join(tmp, 'atomic');
    const m = new Sequential([new layers.Dense(2, { inputShape: [3] })]);
    await m.export(path.join(dir, 'm.onnx'));
    await m.export(path.join(dir, 'm.onnx'));
    expect(fs.readdirSync(dir)).toEqual(['m.onnx']);
  });
});

/** Exports an nn module and compares onnxruntime with forward() in eval mode on batches of 4 and 1. */
async function checkModule(label: string, m: nt.nn.Module, sample: number[], ids = 0): Promise<void> {
  const f = file(label);
  const make = (n: number) => (ids ? nt.randint(0, ids, [n, ...sample]) : nt.randn([n, ...sample]));
  await nt.onnx.export(m, [make(4)], f);
  m.eval();
  for (const x of [make(4), make(1)]) pending.push({ label, file: f, xs: [x], wants: [nt.noGrad(() => (m.forward as (t: nt.Tensor) => nt.Tensor)(x))] });
}

describe('nt.onnx.export for nn.Sequential', () => {
  test('MLP: Linear, ReLU, Dropout, Linear, Softmax', async () => {
    await checkModule('nn_mlp', new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.Dropout(0.3), new nn.Linear(8, 3), new nn.Softmax(1)), [6]);
  });

  test('CNN: Conv2d (padding, stride, groups), BatchNorm2d, MaxPool2d (padding, ceil), AvgPool2d, AdaptiveAvgPool2d, Flatten, Linear', async () => {
    const bn = new nn.BatchNorm2d(4);
    nt.noGrad(() => {
      bn.running_mean!.copy_(nt.randn([4]));
      bn.running_var!.copy_(nt.rand([4]).add(0.5));
      bn.weight!.copy_(nt.randn([4]));
    });
    const m = new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1, stride: 2, groups: 2 }), bn, new nn.Tanh(),
      new nn.MaxPool2d(2, { padding: 1, ceilMode: true }), new nn.AvgPool2d(2, { stride: 1, padding: 1, countIncludePad: false }),
      new nn.Sequential(new nn.AdaptiveAvgPool2d(1), new nn.Flatten()), new nn.Linear(4, 2), new nn.Sigmoid());
    await checkModule('nn_cnn', m, [2, 11, 9]);
  });

  test('Conv1d same with dilation, BatchNorm1d, GELU (both), LayerNorm, Flatten(1, 2) and Embedding', async () => {
    await checkModule('nn_seq', new nn.Sequential(new nn.Conv1d(3, 4, 3, { padding: 'same', dilation: 2 }), new nn.BatchNorm1d(4),
      new nn.GELU(), new nn.LayerNorm([4, 8]), new nn.GELU({ approximate: 'tanh' }), new nn.Flatten(1, 2), new nn.Linear(32, 2)), [3, 8]);
    await checkModule('nn_emb', new nn.Sequential(new nn.Embedding(12, 5), new nn.Flatten(), new nn.Linear(15, 2)), [3], 12);
    await checkModule('nn_pool_even', new nn.Sequential(new nn.AdaptiveAvgPool2d([2, 3])), [2, 4, 6]);
  });

  test('a module that cannot be exported is an error naming it; training mode is restored', async () => {
    const m = new nn.Sequential(new nn.Linear(3, 4), new nn.LSTM(4, 2));
    await expect(nt.onnx.export(m, [nt.randn([2, 3])], path.join(tmp, 'x.onnx'))).rejects.toThrow(/module 1 \(LSTM\) returns .*not one tensor/);
    const t = new nn.Sequential(new nn.Linear(3, 4), new nn.MultiheadAttention(4, 2));
    t.train();
    await expect(nt.onnx.export(t, [nt.randn([2, 3])], path.join(tmp, 'x.onnx'))).rejects.toThrow();
    expect(t.training).toBe(true);
    await expect(nt.onnx.export(new nn.Sequential(new nn.AdaptiveAvgPool2d(3)), [nt.randn([1, 1, 4, 4])], path.join(tmp, 'x.onnx'))).rejects.toThrow(/module 0 \(AdaptiveAvgPool2d\): outputSize \[3, 3\] does not divide/);
    await expect(nt.onnx.export({} as never, [nt.randn([1])], path.join(tmp, 'x.onnx'))).rejects.toThrow(/expected an nn.Module/);
    await expect(nt.onnx.export(new nn.Linear(2, 2), [] as never, path.join(tmp, 'x.onnx'))).rejects.toThrow(/expected exampleInputs/);
    expect(fs.existsSync(path.join(tmp, 'x.onnx'))).toBe(false);
  });
});

describe('onnx.checker (python3-onnx)', () => {
  const py = '/usr/bin/python3';
  const probe = fs.existsSync(py) ? spawnSync(py, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' }) : null;
  const have = probe?.status === 0;
  if (!have) console.warn('onnx.test.ts: python3-onnx not found for /usr/bin/python3 (apt-get install -y python3-onnx): the onnx.checker check is skipped');
  (have ? test : test.skip)('every exported file passes onnx.checker with full shape inference', () => {
    expect(written.length).toBeGreaterThan(60);
    const script = [
      'import sys, onnx',
      'bad = []',
      'for f in sys.argv[1:]:',
      '    try:',
      '        onnx.checker.check_model(onnx.load(f), full_check=True)',
      '    except Exception as e:',
      '        bad.append(f + ": " + str(e).splitlines()[0])',
      'print("\\n".join(bad) if bad else "ok %d" % (len(sys.argv) - 1))',
    ].join('\n');
    const r = spawnSync(py, ['-c', script, ...written.filter((f) => fs.existsSync(f))], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`ok ${written.filter((f) => fs.existsSync(f)).length}`);
    console.log(`onnx.checker (python3-onnx ${probe!.stdout.trim()}, ${py}): ${r.stdout.trim()}`);
  });
});
