// One definition per layer: each built-in Keras layer's forward is native/model.cc's step, run by
// the eager call, predict, the native training loop and the JS (autograd) path alike. For every
// layer and activation the four agree to 1e-6, outputs and gradients; activations match libtorch's
// kernels (goldens from python3-torch, test/golden/keras_activations.py) and stay finite at +-100.
import * as nt from '../lib';
import { devices } from './helpers';
import * as fs from 'fs';
import * as path from 'path';

const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'keras_activations.json'), 'utf8')) as
  { x: number[]; coef: number[]; activations: Record<string, { y: number[]; grad: number[] }> };

const { Sequential, layers } = nt;
type Layer = nt.layers.Layer;

/** A user layer: a model holding one trains through the JS (autograd) path. */
class Identity extends layers.Layer {
  override call(x: nt.Tensor): nt.Tensor {
    return x;
  }
}

const ACTS = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'gelu', 'elu', 'selu', 'swish', 'silu', 'leaky_relu', 'softplus'] as const;

interface Case { name: string; make: () => Layer[]; shape: number[]; ints?: number }
const conv = (s: number[]) => new layers.Conv2D(2, 1, { inputShape: s });
const conv1 = (s: number[]) => new layers.Conv1D(2, 1, { inputShape: s });
const CASES: Case[] = [
  ...ACTS.map((a) => ({ name: `Dense ${a}`, make: () => [new layers.Dense(4, { activation: a, inputShape: [3] })], shape: [3] })),
  ...ACTS.map((a) => ({ name: `Activation ${a}`, make: () => [new layers.Dense(4, { inputShape: [3] }), new layers.Activation(a)], shape: [3] })),
  { name: 'Dense with activity regularizer', make: () => [new layers.Dense(3, { activation: 'elu', inputShape: [3], activityRegularizer: nt.regularizers.l1_l2(0.01, 0.02) })], shape: [3] },
  { name: 'Conv2D valid', make: () => [new layers.Conv2D(3, 2, { activation: 'relu', inputShape: [4, 4, 2] })], shape: [4, 4, 2] },
  { name: 'Conv2D same', make: () => [new layers.Conv2D(2, 3, { padding: 'same', activation: 'selu', inputShape: [4, 3, 2] })], shape: [4, 3, 2] },
  { name: 'Conv1D', make: () => [new layers.Conv1D(3, 2, { activation: 'tanh', inputShape: [5, 2] })], shape: [5, 2] },
  { name: 'MaxPooling2D', make: () => [conv([4, 4, 2]), new layers.MaxPooling2D(2)], shape: [4, 4, 2] },
  { name: 'AveragePooling2D', make: () => [conv([4, 4, 2]), new layers.AveragePooling2D(2)], shape: [4, 4, 2] },
  { name: 'GlobalAveragePooling2D', make: () => [conv([3, 3, 2]), new layers.GlobalAveragePooling2D()], shape: [3, 3, 2] },
  { name: 'GlobalMaxPooling2D', make: () => [conv([3, 3, 2]), new layers.GlobalMaxPooling2D()], shape: [3, 3, 2] },
  { name: 'GlobalAveragePooling1D', make: () => [conv1([5, 3]), new layers.GlobalAveragePooling1D()], shape: [5, 3] },
  { name: 'GlobalMaxPooling1D keepdims', make: () => [conv1([5, 3]), new layers.GlobalMaxPooling1D({ keepdims: true })], shape: [5, 3] },
  { name: 'Flatten', make: () => [new layers.Dense(2, { inputShape: [3, 2] }), new layers.Flatten()], shape: [3, 2] },
  { name: 'Reshape', make: () => [new layers.Dense(4, { inputShape: [3] }), new layers.Reshape([2, 2])], shape: [3] },
  { name: 'Dropout', make: () => [new layers.Dense(4, { inputShape: [3] }), new layers.Dropout(0.5)], shape: [3] },
  { name: 'BatchNormalization', make: () => [new layers.Dense(4, { inputShape: [3] }), new layers.BatchNormalization()], shape: [3] },
  { name: 'BatchNormalization 4-D', make: () => [conv([3, 3, 2]), new layers.BatchNormalization({ momentum: 0.9 })], shape: [3, 3, 2] },
  { name: 'LayerNormalization', make: () => [new layers.Dense(4, { inputShape: [3] }), new layers.LayerNormalization()], shape: [3] },
  { name: 'Embedding', make: () => [new layers.Embedding(10, 3, { inputLength: 4 })], shape: [4], ints: 10 },
  ...(['SimpleRNN', 'LSTM', 'GRU'] as const).flatMap((k) => [false, true].map((seq) => ({
    name: `${k} returnSequences ${seq}`, shape: [5, 3],
    make: () => [new layers[k](4, { returnSequences: seq, inputShape: [5, 3] })],
  }))),
  { name: 'LSTM goBackwards', make: () => [new layers.LSTM(3, { goBackwards: true, inputShape: [4, 2] })], shape: [4, 2] },
  ...(['concat', 'sum', 'mul', 'ave'] as const).map((m) => ({
    name: `Bidirectional GRU ${m}`, shape: [4, 2], make: () => [new layers.Bidirectional(new layers.GRU(3), { mergeMode: m, inputShape: [4, 2] })],
  })),
  { name: 'Bidirectional LSTM returnSequences', shape: [4, 2], make: () => [new layers.Bidirectional(new layers.LSTM(3, { returnSequences: true }), { inputShape: [4, 2] })] },
  { name: 'MultiHeadAttention (self-attention)', shape: [4, 3], make: () => [new layers.Dense(6, { inputShape: [4, 3] }), new layers.MultiHeadAttention({ numHeads: 2, keyDim: 2 })] },
  { name: 'Rescaling per channel', shape: [3, 3, 2], make: () => [new layers.Rescaling([0.5, 2], [1, -1], { inputShape: [3, 3, 2] }), new layers.Conv2D(2, 1)] },
  ...(['bilinear', 'bicubic', 'area', 'nearest'] as const).map((m) => ({
    name: `Resizing ${m}`, shape: [4, 4, 2], make: () => [conv([4, 4, 2]), new layers.Resizing(3, 5, { interpolation: m })],
  })),
];

const N = 6;

function model(c: Case, seed: number, extra: Layer[] = []): nt.Sequential {
  nt.manualSeed(seed);
  const m = new Sequential([...c.make(), ...extra]);
  m.build([null, ...c.shape]);
  m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 1 }), loss: 'mse' });
  return m;
}
/** Every weight tensor (trainable ones, and state such as BatchNorm's moving statistics), in PyTorch layout. */
function state(m: nt.Sequential): nt.Tensor[] {
  return m.layers.flatMap((l) => [...new Set([...l.weightsInternal().map((w) => w.tensor), ...l.trainableWeights])]).map((t) => nt.noGrad(() => t.clone()));
}
function expectClose(got: nt.Tensor, want: nt.Tensor, what: string, tol = 1e-6): void {
  expect([what, got.shape]).toEqual([what, want.shape]);
  const err = nt.tidy(() => Number(got.sub(want).abs().sub(want.abs().clamp(1, Infinity).mul(tol)).max().item()));
  if (!(err <= 0)) throw new Error(`${what}: differs by more than ${tol} (excess ${err})`);
}

describe.each(devices)('on %s', (device) => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s: eager call, predict, native step and JS step agree', async (_name, c) => {
    nt.manualSeed(7);
    const x = c.ints ? nt.randint(0, c.ints, [N, ...c.shape]) : nt.randn([N, ...c.shape]);
    const nat = model(c, 1);
    const js = model(c, 1, [new Identity()]);
    const eager = model(c, 1);
    for (const m of [nat, js, eager]) m.to(device);
    const xd = x.to({ device });

    // outputs: the eager call (inference), predict on both paths
    const chain = (m: nt.Sequential, training: boolean) => m.layers.reduce((h, l) => l.call(h, { training }), xd);
    const out = nt.noGrad(() => chain(eager, false));
    expectClose(await nat.predict(x), out.cpu(), 'native predict');
    expectClose(await js.predict(x), out.cpu(), 'JS-path predict');
    const y = nt.randn([...out.shape]);

    // gradients: autograd through the eager call (the same mse the loop uses), Dropout's mask from the same seed
    const trainable = eager.layers.flatMap((l) => l.trainableWeights);
    const w0 = trainable.map((t) => nt.noGrad(() => t.cpu().clone()));
    nt.manualSeed(11);
    const yd = y.to({ device });
    const pred = chain(eager, true);
    let loss = pred.sub(yd).square().mean();
    for (const l of eager.layers) {
      const r = l.activityRegularizer;
      if (r) loss = loss.add(pred.abs().sum().mul(r.l1).add(pred.square().sum().mul(r.l2)).div(N));
    }
    loss.backward();
    const grads = trainable.map((t) => t.grad!.cpu());

    // one SGD step (learning rate 1) natively and through the JS path: w1 = w0 - grad
    nt.manualSeed(11);
    const hn = await nat.fit(x, y, { epochs: 1, batchSize: N, shuffle: false, verbose: 0 });
    nt.manualSeed(11);
    const hj = await js.fit(x, y, { epochs: 1, batchSize: N, shuffle: false, verbose: 0 });
    const lv = loss.item() as number;
    expect(Math.abs(hn.history.loss[0] - lv)).toBeLessThanOrEqual(1e-6 * Math.max(1, lv));
    expect(Math.abs(hj.history.loss[0] - lv)).toBeLessThanOrEqual(1e-6 * Math.max(1, lv));
    const sn = state(nat);
    const sj = state(js);
    expect(sj.length).toBe(sn.length);
    sn.forEach((t, i) => expectClose(sj[i].cpu(), t.cpu(), `weight ${i} after a JS-path step vs a native step`));
    const stepped = nat.layers.flatMap((l) => l.trainableWeights);
    expect(stepped.length).toBe(grads.length);
    stepped.forEach((t, i) => expectClose(nt.noGrad(() => w0[i].sub(t.cpu())), grads[i], `gradient ${i} (native step vs autograd through the eager call)`));
  });

  test('a model with a user layer: Dense(1, softplus) at x = 100 gives 100, not Infinity; elu/selu gradients stay finite', async () => {
    for (const a of ['softplus', 'elu', 'selu'] as const) {
      const m = new Sequential([new layers.Dense(1, { activation: a, inputShape: [1], kernelInitializer: 'ones' }), new Identity()]);
      m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 1e-6 }), loss: 'mse' });
      m.to(device);
      const x = nt.tensor([[100], [-100]]);
      const p = (await m.predict(x)).toArray() as number[][];
      expect(p[0][0]).toBeCloseTo(a === 'selu' ? 105.070098735548 : 100, 3);
      expect(Number.isFinite(p[1][0])).toBe(true);
      const h = await m.fit(x, nt.tensor([[99], [0]]), { epochs: 1, batchSize: 2, verbose: 0 });
      expect(Number.isFinite(h.history.loss[0])).toBe(true);
      for (const w of m.getWeights()) expect((w.toArray() as number[][]).flat().every(Number.isFinite)).toBe(true);
    }
  });
});

describe('activations are libtorch\'s kernels (python3-torch goldens, float32)', () => {
  test.each(Object.keys(golden.activations))('%s: values and gradients match at -100 ... 100', (name) => {
    const g = (golden.activations as Record<string, { y: number[]; grad: number[] }>)[name];
    const x = nt.tensor([golden.x], { requiresGrad: true });
    const y = new layers.Activation(name as nt.layers.ActivationName).call(x);
    y.mul(nt.tensor([golden.coef])).sum().backward();
    const got = (y.toArray() as number[][])[0];
    const grad = (x.grad!.toArray() as number[][])[0];
    got.forEach((v, i) => {
      expect(Number.isFinite(v)).toBe(true);
      expect(Math.abs(v - g.y[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(g.y[i])));
    });
    grad.forEach((v, i) => {
      expect(Number.isFinite(v)).toBe(true);
      expect(Math.abs(v - g.grad[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(g.grad[i])));
    });
  });
});

describe('a subclass of a built-in layer that overrides call()', () => {
  class DoubleDense extends layers.Dense {
    override call(x: nt.Tensor, opts?: { training?: boolean }): nt.Tensor {
      return super.call(x, opts).mul(2);
    }
  }
  test('runs its own call in the eager call, predict and fit (through the JS path)', async () => {
    nt.manualSeed(3);
    const d = new DoubleDense(2, { inputShape: [3], kernelInitializer: 'ones' });
    const m = new Sequential([d]);
    m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0.1 }), loss: 'mse' });
    const x = nt.tensor([[1, 2, 3]]);
    expect(d.call(x).toArray()).toEqual([[12, 12]]);
    expect((await m.predict(x)).toArray()).toEqual([[12, 12]]);
    const h = await m.fit(x, nt.tensor([[10, 10]]), { epochs: 1, verbose: 0 });
    expect(h.history.loss[0]).toBeCloseTo(4, 5);
    // d(loss)/d(kernel) = mean(2 * (2 * (w.x) - 10)) * 2 * x = 2 * 2 * x per output: w -= 0.1 * 4 * x
    expect(d.getWeights()[0].toArray()).toEqual([[0.6, 0.6], [0.2, 0.2], [-0.2, -0.2]].map((r) => r.map((v) => expect.closeTo(v, 5))));
  });
});

describe('Embedding checks its indices once, in its native step, on every path', () => {
  test.each([['eager call'], ['predict'], ['fit'], ['JS-path fit']])('%s names inputDim and the range', async (path) => {
    const emb = new layers.Embedding(5, 2, { inputLength: 3 });
    const m = new Sequential(path === 'JS-path fit' ? [emb, new Identity()] : [emb]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = nt.tensor([[0, 1, 7]]);
    const run = async () => {
      if (path === 'eager call') { m.build([null, 3]); return emb.call(x); }
      if (path === 'predict') return m.predict(x);
      return m.fit(x, nt.zeros([1, 3, 2]), { verbose: 0 });
    };
    await expect(run()).rejects.toThrow(/indices must be in \[0, 5\) \(inputDim\) but range from 0 to 7/);
  });
});
