// Saving every model kind (Functional, Sequential, subclassed) as a directory and as one .keras zip,
// and every layer's options through its own getConfig()/fromConfig().
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { serializeLayer, deserializeLayer } from '../lib/keras/engine/layer';
import { readZipDirectory } from '../lib/io/zip';

const { layers, regularizers } = nt;
let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-model-saving-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const maxDiff = (a: nt.Tensor, b: nt.Tensor) => Number(a.sub(b).abs().max().item());

/** Each built-in layer with non-default options: [layer, the options it was given that its config must hold]. */
function layerCases(): [nt.layers.Layer, Record<string, unknown>][] {
  const dense = { activation: 'tanh', useBias: false, kernelInitializer: 'he_normal', biasInitializer: 'ones',
    kernelRegularizer: regularizers.l2(0.01), activityRegularizer: regularizers.l1(0.02) } as const;
  const bn = { axis: -1, momentum: 0.9, epsilon: 0.01, center: false, scale: true, betaInitializer: 'ones', gammaInitializer: 'random_normal',
    movingMeanInitializer: 'ones', movingVarianceInitializer: 'random_uniform' } as const;
  const ln = { epsilon: 1e-4, center: true, scale: false, betaInitializer: 'random_uniform', gammaInitializer: 'zeros' } as const;
  const rnn = { activation: 'tanh', useBias: false, returnSequences: true, goBackwards: true, kernelInitializer: 'lecun_uniform',
    recurrentInitializer: 'glorot_normal', biasInitializer: 'ones', kernelRegularizer: regularizers.l1(0.1), biasRegularizer: regularizers.l2(0.2) } as const;
  const conv = { strides: [1, 1] as [number, number], padding: 'same' as const, dilationRate: [1, 1] as [number, number], activation: 'elu' as const,
    kernelInitializer: 'lecun_normal' as const, biasRegularizer: regularizers.l2(0.3) };
  return [
    [new layers.Dense(3, { ...dense, name: 'd' }), { units: 3, ...dense, name: 'd' }],
    [new layers.Conv2D(2, [2, 3], conv), { filters: 2, kernelSize: [2, 3], ...conv }],
    [new layers.Conv1D(2, 3, { strides: 2, padding: 'valid', activation: 'gelu', kernelInitializer: 'orthogonal' }),
      { filters: 2, activation: 'gelu', kernelInitializer: 'orthogonal', padding: 'valid' }],
    [new layers.MaxPooling2D([2, 1], { strides: [1, 1] }), { poolSize: [2, 1], strides: [1, 1] }],
    [new layers.AveragePooling2D(3), { poolSize: [3, 3], strides: [3, 3] }],
    [new layers.Flatten({ trainable: false }), { trainable: false }],
    [new layers.Reshape([2, -1]), { targetShape: [2, -1] }],
    [new layers.Dropout(0.3), { rate: 0.3 }],
    [new layers.Activation('selu'), { activation: 'selu' }],
    [new layers.GlobalAveragePooling1D({ keepdims: true }), { keepdims: true }],
    [new layers.GlobalMaxPooling2D({ keepdims: true }), { keepdims: true }],
    [new layers.BatchNormalization(bn), bn],
    [new layers.LayerNormalization(ln), ln],
    [new layers.Embedding(10, 4, { embeddingsInitializer: 'he_uniform' }), { inputDim: 10, outputDim: 4, embeddingsInitializer: 'he_uniform' }],
    [new layers.SimpleRNN(3, { ...rnn, activation: 'relu' }), { units: 3, ...rnn, activation: 'relu' }],
    [new layers.LSTM(3, { ...rnn, unitForgetBias: false }), { units: 3, ...rnn, unitForgetBias: false }],
    [new layers.GRU(3, rnn), { units: 3, ...rnn }],
    [new layers.Bidirectional(new layers.GRU(2, { returnSequences: true }), { mergeMode: 'ave' }), { mergeMode: 'ave' }],
    [new layers.MultiHeadAttention({ numHeads: 2, keyDim: 3, valueDim: 2, dropout: 0.1, useBias: false, outputShape: [5],
      kernelInitializer: 'he_normal', kernelRegularizer: regularizers.l2(0.5) }),
    { numHeads: 2, keyDim: 3, valueDim: 2, dropout: 0.1, useBias: false, outputShape: [5], kernelInitializer: 'he_normal' }],
    [new layers.Rescaling(0.5, 1), { scale: 0.5, offset: 1 }],
    [new layers.Resizing(4, 5, { interpolation: 'nearest', cropToAspectRatio: true }), { height: 4, width: 5, interpolation: 'nearest', cropToAspectRatio: true }],
    [new layers.RandomFlip('vertical', { seed: 3 }), { mode: 'vertical', seed: 3 }],
    [new layers.RandomRotation(0.2, { fillMode: 'constant', fillValue: 1, seed: 4 }), { factor: 0.2, fillMode: 'constant', fillValue: 1, seed: 4 }],
    [new layers.RandomZoom(0.1, 0.3, { interpolation: 'nearest' }), { heightFactor: 0.1, widthFactor: 0.3, interpolation: 'nearest' }],
    [new layers.RandomTranslation(0.1, 0.2, { fillMode: 'wrap' }), { heightFactor: 0.1, widthFactor: 0.2, fillMode: 'wrap' }],
    [new layers.Concatenate({ axis: 1 }), { axis: 1 }],
    [new layers.Dot([1, 2], { normalize: true }), { axes: [1, 2], normalize: true }],
    [new layers.Add(), {}], [new layers.Subtract(), {}], [new layers.Multiply(), {}], [new layers.Average(), {}],
    [new layers.Maximum(), {}], [new layers.Minimum(), {}],
  ];
}

describe('each layer\'s getConfig()/fromConfig()', () => {
  test.each(layerCases().map(([l, o]) => [l.constructor.name, l, o] as const))('%s keeps every option it was given', (_name, layer, given) => {
    const config = layer.getConfig();
    expect(config).toMatchObject(JSON.parse(JSON.stringify(given)));
    const back = deserializeLayer(serializeLayer(layer), 'the layer');
    expect(back.constructor).toBe(layer.constructor);
    expect(back.getConfig()).toEqual(config);
  });
});

/** Functional: two inputs, a shared layer, a nested model, BatchNormalization, two heads. */
function functionalModel(): nt.Model {
  const i = nt.Input({ shape: [4], name: 'inner_in' });
  const inner = new nt.Model({ inputs: i, outputs: new layers.Dense(4, { activation: 'relu', name: 'inner_dense' })(i), name: 'inner' });
  const a = nt.Input({ shape: [4], name: 'a' });
  const b = nt.Input({ shape: [4], name: 'b' });
  const shared = new layers.Dense(4, { name: 'shared', kernelRegularizer: regularizers.l2(0.01) });
  const h = new layers.Concatenate({ name: 'cat' })([shared(a), shared(inner(b))]);
  const n = new layers.BatchNormalization({ name: 'bn', gammaInitializer: 'random_normal' })(h);
  const cls = new layers.Dense(3, { activation: 'softmax', name: 'cls' })(n);
  const reg = new layers.Dense(1, { name: 'reg' })(new layers.Add({ name: 'plus' })([a, b]));
  return new nt.Model({ inputs: [a, b], outputs: [cls, reg], name: 'graph' });
}

class Net extends nt.Model {
  d1 = new layers.Dense(6, { activation: 'relu' });
  bn = new layers.BatchNormalization();
  d2 = new layers.Dense(2);
  override call(x: nt.Tensor, opts?: { training?: boolean }): nt.Tensor {
    return this.d2(this.bn(this.d1(x), { training: opts?.training ?? false }));
  }
}
nt.registerLayer('Net', Net);

describe('model.save / nt.loadModel for every model kind', () => {
  const kinds = ['dir', '.keras'] as const;
  test.each(kinds)('Functional (%s): graph, shared and nested layers, weights, running stats, compile config', async (kind) => {
    nt.manualSeed(7);
    const m = functionalModel();
    m.compile({ optimizer: 'adam', loss: { cls: 'sparse_categorical_crossentropy', reg: 'mse' }, lossWeights: [1, 0.25], metrics: { cls: ['accuracy'] } });
    const xa = nt.randn([16, 4]);
    const xb = nt.randn([16, 4]);
    const yc = nt.randint(0, 3, [16]);
    const yr = nt.randn([16, 1]);
    await m.fit([xa, xb], [yc, yr], { epochs: 2, batchSize: 8, verbose: 0 });
    const file = path.join(tmp, kind === 'dir' ? 'functional' : 'functional.keras');
    await m.save(file);
    if (kind === '.keras') {
      expect(fs.statSync(file).isFile()).toBe(true);
      expect([...readZipDirectory(fs.readFileSync(file), (s) => new Error(s)).keys()].sort())
        .toEqual(['config.json', 'metadata.json', 'model.safetensors', 'optimizer.safetensors']);
    }
    const loaded = await nt.loadModel<nt.Model>(file);
    expect(loaded.summary(false)).toBe(m.summary(false));
    expect(loaded.getConfig()).toEqual(m.getConfig());
    const [p1, p2] = await m.predict([xa, xb]) as nt.Tensor[];
    const [q1, q2] = await loaded.predict([xa, xb]) as nt.Tensor[];
    expect(maxDiff(p1, q1)).toBe(0);
    expect(maxDiff(p2, q2)).toBe(0);
    expect(loaded.getCompileConfig()).toEqual(m.getCompileConfig());
    // optimizer state came along: one more epoch on both gives the same weights
    await m.fit([xa, xb], [yc, yr], { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    await loaded.fit([xa, xb], [yc, yr], { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    const w1 = m.getWeights();
    loaded.getWeights().forEach((w, i) => expect(maxDiff(w, w1[i])).toBeLessThan(1e-6));
  }, 60000);

  test.each(kinds)('Sequential (%s)', async (kind) => {
    nt.manualSeed(8);
    const m = new nt.Sequential([nt.Input({ shape: [3] }), new layers.Dense(4, { activation: 'relu' }), new layers.Dense(2)]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = nt.randn([5, 3]);
    const file = path.join(tmp, kind === 'dir' ? 'seq' : 'seq.keras');
    await m.save(file);
    const loaded = await nt.loadModel(file);
    expect(loaded).toBeInstanceOf(nt.Sequential);
    expect(maxDiff(await loaded.predict(x), await m.predict(x))).toBe(0);
  });

  test.each(kinds)('subclassed (%s): registered class, weights, build shape', async (kind) => {
    nt.manualSeed(9);
    const net = new Net();
    net.compile({ optimizer: 'adam', loss: { name: 'sparse_categorical_crossentropy', fromLogits: true } });
    const x = nt.randn([12, 5]);
    await net.fit(x, nt.randint(0, 2, [12]), { epochs: 2, batchSize: 4, verbose: 0 });
    const file = path.join(tmp, kind === 'dir' ? 'net' : 'net.keras');
    await net.save(file);
    const loaded = await nt.loadModel<Net>(file);
    expect(loaded).toBeInstanceOf(Net);
    expect(maxDiff(loaded(x), net(x))).toBe(0);
    // weights alone too
    const w = path.join(tmp, `net-${kind}.safetensors`);
    await net.saveWeights(w);
    const other = new Net();
    other(x);
    await other.loadWeights(w);
    expect(maxDiff(other(x), net(x))).toBe(0);
  });

  test('errors name the file and what is missing', async () => {
    class Unregistered extends nt.Model {
      d = new layers.Dense(1);
      override call(x: nt.Tensor): nt.Tensor { return this.d(x); }
    }
    const u = new Unregistered();
    await expect(u.save(path.join(tmp, 'u.keras'))).rejects.toThrow(/is not built.*call it on data/);
    u(nt.zeros([1, 2]));
    await u.save(path.join(tmp, 'u.keras'));
    await expect(nt.loadModel(path.join(tmp, 'u.keras'))).rejects.toThrow(/u\.keras:config\.json: the model has unknown class "Unregistered".*register others/);
    fs.writeFileSync(path.join(tmp, 'junk.keras'), 'not a zip');
    await expect(nt.loadModel(path.join(tmp, 'junk.keras'))).rejects.toThrow(/junk\.keras: .*expected a \.keras zip written by model\.save/);
    await expect(nt.loadModel(path.join(tmp, 'absent.keras'))).rejects.toThrow(/no such file: .*absent\.keras/);
  });
});
