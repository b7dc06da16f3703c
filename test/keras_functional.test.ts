// Keras' Functional and subclassed models: nt.Input, layers called on symbolic tensors and on
// Tensors, several inputs and outputs, merge layers, shared layers, nested models, per-output
// compile, summary's "Connected to", custom trainStep and optimizer.apply.
import * as nt from '../lib';
import { expectTensor } from './helpers';

const { layers } = nt;

const maxAbs = (t: nt.Tensor) => Number(t.abs().max().item());

/** Sets a Dense layer's Keras-layout kernel and bias. */
function setDense(l: nt.layers.Layer, kernel: number[][], bias: number[]): void {
  l.setWeights([nt.tensor(kernel), nt.tensor(bias)]);
}

describe('Functional models', () => {
  test('a residual block computes relu(x W1 + b1) W2 + b2 + x exactly', async () => {
    const x = nt.Input({ shape: [2], name: 'x' });
    const d1 = new layers.Dense(3, { activation: 'relu' });
    const d2 = new layers.Dense(2);
    const y = new layers.Add()([x, d2(d1(x))]);
    const model = new nt.Model({ inputs: x, outputs: y, name: 'residual' });
    setDense(d1, [[1, -1, 0.5], [2, 0, -1]], [0, 1, 0]);
    setDense(d2, [[1, 0], [0, 1], [1, 1]], [0.5, -0.5]);
    const xs = nt.tensor([[1, 2], [-1, 0.5]]);
    // hand computed: h = relu([1*1+2*2, -1+1, 0.5-2]) = [5, 0, 0]; out = [5+0.5, 0-0.5] + x
    // second: h = relu([-1+1, 1+1, -0.5-0.5]) = [0, 2, 0]; out = [0.5, 2-0.5] + x
    const want = [[5.5 + 1, -0.5 + 2], [0.5 - 1, 1.5 + 0.5]];
    expectTensor(model(xs), want, 1e-6);
    expectTensor(await model.predict(xs) as nt.Tensor, want, 1e-6);
    expect(model.layers.map((l) => l.constructor.name)).toEqual(['InputLayer', 'Dense', 'Dense', 'Add']);
  });

  test('layers run eagerly on Tensors and .apply() is the same call', () => {
    const d = new layers.Dense(2, { kernelInitializer: 'ones' });
    const x = nt.tensor([[1, 2, 3]]);
    expectTensor(d(x), [[6, 6]]);
    expectTensor(d.apply(x) as nt.Tensor, [[6, 6]]);
    expectTensor(new layers.Concatenate()([x, x]), [[1, 2, 3, 1, 2, 3]]);
    expectTensor(new layers.Subtract()([x, x.mul(2)]), [[-1, -2, -3]]);
    expectTensor(new layers.Multiply()([x, x]), [[1, 4, 9]]);
    expectTensor(new layers.Average()([x, x.mul(3)]), [[2, 4, 6]]);
    expectTensor(new layers.Maximum()([x, nt.tensor([[3, 2, 1]])]), [[3, 2, 3]]);
    expectTensor(new layers.Minimum()([x, nt.tensor([[3, 2, 1]])]), [[1, 2, 1]]);
    expectTensor(new layers.Dot(1)([x, nt.tensor([[1, 0, 2]])]), [[7]]);
    expectTensor(new layers.Dot(1, { normalize: true })([nt.tensor([[3, 4]]), nt.tensor([[3, 4]])]), [[1]], 1e-6);
  });

  test('merge layers on rank-3 inputs: Dot over other axes, Concatenate along an inner axis, one layer on two ranks', () => {
    const a = nt.arange(12, { dtype: 'float32' }).reshape([1, 3, 4]); // a[0][i][k] = 4i + k
    const b = nt.arange(6, { dtype: 'float32' }).reshape([1, 3, 2]); // b[0][i][j] = 2i + j
    // Dot([1, 1]): out[k][j] = sum_i a[i][k] b[i][j]
    const want = [0, 1, 2, 3].map((k) => [0, 1].map((j) => [0, 1, 2].reduce((s, i) => s + (4 * i + k) * (2 * i + j), 0)));
    expectTensor(new layers.Dot([1, 1])([a, b]), [want]);
    expectTensor(new layers.Concatenate({ axis: 1 })([a, a]), [[...(a.toArray() as number[][][])[0], ...(a.toArray() as number[][][])[0]]]);
    const add = new layers.Add();
    expectTensor(add([a, a]), a.mul(2).toArray());
    expectTensor(add([b.reshape([1, 6]), b.reshape([1, 6])]), [[0, 2, 4, 6, 8, 10]]);
    const dot = new layers.Dot(-1);
    expectTensor(dot([nt.tensor([[1, 2]]), nt.tensor([[3, 4]])]), [[11]]);
    // the same layer on rank-3 inputs: out[i][j] = sum_k a[i][k] a[j][k]
    expectTensor(dot([a, a]), [[0, 1, 2].map((r) => [0, 1, 2].map((c) => [0, 1, 2, 3].reduce((t, k) => t + (4 * r + k) * (4 * c + k), 0)))]);
  });

  test('symbolic shapes flow through and bad calls name the layer', () => {
    const a = nt.Input({ shape: [4], name: 'a' });
    const b = nt.Input({ shape: [3], name: 'b' });
    expect(new layers.Concatenate()([a, b]).shape).toEqual([7]);
    expect(() => new layers.Add({ name: 'plus' })([a, b])).toThrow(/plus \(Add\): inputs must have the same shape/);
    expect(() => new layers.Dense(2)(a, nt.zeros([1]) as never)).toThrow(/options/);
    expect(() => new layers.Dense(2)([a, nt.zeros([1, 3])] as never)).toThrow(/real Tensor/);
    expect(() => new nt.Model({ inputs: a, outputs: new layers.Concatenate()([a, b]) })).toThrow(/Input 'b' which is not in inputs/);
    expect(() => new nt.Model({ inputs: a, outputs: nt.zeros([1]) as never })).toThrow(/expected outputs to be symbolic tensors/);
    expect(() => nt.Input({ shape: [-1] })).toThrow(/Input: expected shape/);
    const viaNew = new layers.Input({ shape: [5], name: 'c', dtype: 'int64' });
    expect(viaNew).toBeInstanceOf(nt.KerasTensor);
    expect([viaNew.shape, viaNew.dtype]).toEqual([[5], 'int64']);
  });

  test('a two-input, two-output model learns a synthetic task; history has Keras keys', async () => {
    nt.manualSeed(1);
    const n = 256;
    const xa = nt.randn([n, 4]);
    const xb = nt.randn([n, 3]);
    // class = whether sum(xa) > sum(xb); regression target = sum(xa) - 2 * sum(xb)
    const sa = xa.sum(1);
    const sb = xb.sum(1);
    const yc = sa.gt(sb).to('int64');
    const yr = sa.sub(sb.mul(2)).reshape([n, 1]);
    const a = nt.Input({ shape: [4], name: 'a' });
    const b = nt.Input({ shape: [3], name: 'b' });
    const h = new layers.Dense(16, { activation: 'relu' })(new layers.Concatenate()([a, b]));
    const cls = new layers.Dense(2, { activation: 'softmax', name: 'cls' })(h);
    const reg = new layers.Dense(1, { name: 'reg' })(new layers.Concatenate()([a, b]));
    const model = new nt.Model({ inputs: [a, b], outputs: [cls, reg], name: 'two_heads' });
    model.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.02 }), loss: { cls: 'sparse_categorical_crossentropy', reg: 'mse' },
      lossWeights: { cls: 1, reg: 0.5 }, metrics: { cls: ['accuracy'] } });
    const hist = await model.fit([xa, xb], { cls: yc, reg: yr }, { epochs: 30, batchSize: 32, verbose: 0, validationSplit: 0.25 });
    expect(Object.keys(hist.history).sort()).toEqual(['cls_accuracy', 'cls_loss', 'loss', 'reg_loss',
      'val_cls_accuracy', 'val_cls_loss', 'val_loss', 'val_reg_loss']);
    const last = (k: string) => hist.history[k][hist.history[k].length - 1];
    expect(last('cls_accuracy')).toBeGreaterThan(0.9);
    // the regression target has variance 4 + 4 * 3 = 16; 0.5 leaves R^2 above 0.96
    expect(last('reg_loss')).toBeLessThan(0.5);
    expect(last('reg_loss')).toBeLessThan(hist.history.reg_loss[0] / 10);
    // the total is the weighted sum of the heads' losses
    const r = await model.evaluate({ a: xa, b: xb }, [yc, yr], { verbose: 0, returnDict: true }) as Record<string, number>;
    expect(r.loss).toBeCloseTo(r.cls_loss + 0.5 * r.reg_loss, 4);
    const [pc, pr] = await model.predict({ b: xb, a: xa }) as nt.Tensor[];
    expect(pc.shape).toEqual([n, 2]);
    expect(pr.shape).toEqual([n, 1]);
    const direct = model([xa, xb]) as unknown as nt.Tensor[];
    expectTensor(pr, direct[1].toArray(), 1e-5);
    await expect(model.fit([xa], { cls: yc, reg: yr }, { verbose: 0 })).rejects.toThrow(/has 2 \(a, b\) but 1 were given/);
    await expect(model.fit([xa, xb], yc, { verbose: 0 })).rejects.toThrow(/has 2 targets \(cls, reg\)/);
    await expect(model.fit({ a: xa, c: xb }, [yc, yr], { verbose: 0 })).rejects.toThrow(/missing b; unknown c/);
  }, 120000);

  test('a dataset of batches with several inputs and targets (arrays or objects) trains and evaluates', async () => {
    nt.manualSeed(6);
    const a = nt.Input({ shape: [2], name: 'a' });
    const b = nt.Input({ shape: [2], name: 'b' });
    const s = new layers.Dense(1, { name: 's' })(new layers.Concatenate()([a, b]));
    const d = new layers.Dense(1, { name: 'd' })(new layers.Subtract()([a, b]));
    const model = new nt.Model({ inputs: [a, b], outputs: [s, d] });
    model.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.05 }), loss: 'mse' });
    const xa = nt.randn([64, 2]);
    const xb = nt.randn([64, 2]);
    const ys = xa.sum(1, true).add(xb.sum(1, true));
    const yd = xa.sum(1, true).sub(xb.sum(1, true));
    async function* batches() {
      for (let i = 0; i < 64; i += 16) {
        yield [{ a: xa.slice(0, i, i + 16), b: xb.slice(0, i, i + 16) }, [ys.slice(0, i, i + 16), yd.slice(0, i, i + 16)]];
      }
    }
    const ds = { [Symbol.asyncIterator]: batches };
    const h = await model.fit(ds, { epochs: 40, verbose: 0 });
    expect(h.history.loss[39]).toBeLessThan(h.history.loss[0] / 10);
    const r = await model.evaluate(ds, { verbose: 0, returnDict: true }) as Record<string, number>;
    expect(r.loss).toBeCloseTo(r.s_loss + r.d_loss, 5);
    const [ps] = await model.predict(ds) as nt.Tensor[];
    expect(ps.shape).toEqual([64, 1]);
    const inputsOnly = { async *[Symbol.asyncIterator]() { yield [xa, xb]; } };
    const [ps2] = await model.predict(inputsOnly) as nt.Tensor[];
    expect(maxAbs(ps2.sub(ps))).toBeLessThan(1e-6);
  });

  test('a shared layer is trained once and its weights are counted once', async () => {
    nt.manualSeed(2);
    const a = nt.Input({ shape: [3], name: 'left' });
    const b = nt.Input({ shape: [3], name: 'right' });
    const shared = new layers.Dense(2, { name: 'shared' });
    const out = new layers.Dense(1, { name: 'out' })(new layers.Concatenate()([shared(a), shared(b)]));
    const model = new nt.Model({ inputs: [a, b], outputs: out });
    expect(model.countParams()).toBe(3 * 2 + 2 + 4 + 1);
    expect(model.trainableWeights.length).toBe(4);
    const s = model.summary(false);
    expect(s).toContain('Connected to');
    expect(s).toMatch(/shared \(Dense\)\s+\(None, 2\)\s+8\s+left\[0\]\[0\]/);
    expect(s).toMatch(/shared \(Dense\)\s+\(None, 2\)\s+0\s+right\[0\]\[0\]/);
    expect(s).toMatch(/concatenate\w* \(Concatenate\)\s+\(None, 4\)\s+0\s+shared\[0\]\[0\], shared\[1\]\[0\]/);
    expect(s).toContain('Total params: 13');
    // one SGD step: the shared kernel moves by the sum of both branches' gradients, computed by hand
    shared.setWeights([nt.tensor([[1, 0], [0, 1], [1, 1]]), nt.tensor([0, 0])]);
    model.getLayer('out').setWeights([nt.tensor([[1], [2], [3], [4]]), nt.tensor([0])]);
    model.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0.1 }), loss: 'mse' });
    const xa = nt.tensor([[1, 0, 0]]);
    const xb = nt.tensor([[0, 1, 0]]);
    await model.fit([xa, xb], nt.tensor([[0]]), { epochs: 1, batchSize: 1, verbose: 0, shuffle: false });
    // pred = [1,0]·[1,2] + [0,1]·[3,4] = 1 + 4 = 5; dL/dpred = 2*5 = 10
    // dL/dW_shared = xa^T (10*[1,2]) + xb^T (10*[3,4]) => row0 += [10,20], row1 += [30,40]
    expectTensor(shared.getWeights()[0], [[1 - 1, 0 - 2], [0 - 3, 1 - 4], [1, 1]], 1e-5);
  });

  test('a nested model is a layer of another model', async () => {
    const i = nt.Input({ shape: [2] });
    const inner = new nt.Model({ inputs: i, outputs: new layers.Dense(2, { kernelInitializer: 'ones', name: 'inner_dense' })(i), name: 'inner' });
    const x = nt.Input({ shape: [2] });
    const y = new layers.Dense(1, { kernelInitializer: 'ones', name: 'head' })(inner(x));
    const outer = new nt.Model({ inputs: x, outputs: y });
    expect(outer.countParams()).toBe(6 + 3);
    expectTensor(outer(nt.tensor([[1, 2]])), [[6]]);
    expect(outer.weightsInternal().map((w) => w.name)).toEqual(['inner/inner_dense/kernel', 'inner/inner_dense/bias', 'head/kernel', 'head/bias']);
    outer.compile({ optimizer: 'sgd', loss: 'mse' });
    await outer.fit(nt.tensor([[1, 2]]), nt.tensor([[0]]), { verbose: 0 });
    expect(Number(inner.getLayer('inner_dense').getWeights()[0].sum().item())).toBeLessThan(4);
  });

  test('MultiHeadAttention takes query, value and key from the graph', async () => {
    nt.manualSeed(3);
    const q = nt.Input({ shape: [4, 8], name: 'q' });
    const v = nt.Input({ shape: [6, 8], name: 'v' });
    const mha = new layers.MultiHeadAttention({ numHeads: 2, keyDim: 4 });
    const out = mha(q, v, v);
    expect(out.shape).toEqual([4, 8]);
    const model = new nt.Model({ inputs: [q, v], outputs: new layers.GlobalAveragePooling1D()(out) });
    const xq = nt.randn([3, 4, 8]);
    const xv = nt.randn([3, 6, 8]);
    const want = mha.call(xq, xv, xv).mean(1);
    expectTensor(await model.predict([xq, xv]) as nt.Tensor, want.toArray(), 1e-5);
  });

  test('a Sequential of built-in layers is a chain that keeps the native loop', async () => {
    const m = new nt.Sequential([nt.Input({ shape: [3] }), new layers.Dense(2, { kernelInitializer: 'ones' })]);
    expectTensor(m(nt.tensor([[1, 1, 1]])), [[3, 3]]);
    expect(m.layers.length).toBe(1);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const h = await m.fit(nt.ones([8, 3]), nt.zeros([8, 2]), { verbose: 0, epochs: 2 });
    expect(h.history.loss[1]).toBeLessThan(h.history.loss[0]);
  });
});

describe('Subclassed models', () => {
  /** The compiled loss of the model on (x, y) in inference mode (no dropout). */
  function tidyLoss(net: nt.Model, x: nt.Tensor, y: nt.Tensor): number {
    return nt.tidy(() => net.computeLoss(x, y, net(x) as nt.Tensor).item() as number);
  }

  class Net extends nt.Model {
    d1 = new layers.Dense(16, { activation: 'relu' });
    d2 = new layers.Dense(2);
    drop = new layers.Dropout(0.5);
    constructor() {
      super();
    }
    override call(x: nt.Tensor, opts?: { training?: boolean }): nt.Tensor {
      return this.d2(this.drop(this.d1(x), { training: opts?.training ?? false }));
    }
  }

  test('fields are tracked; model(x) and model(x, { training }) run eagerly; fit/evaluate/predict learn', async () => {
    nt.manualSeed(4);
    const net = new Net();
    const x = nt.randn([200, 5]);
    const y = x.sum(1).gt(0).to('int64');
    const p0 = net(x);
    expect(p0.shape).toEqual([200, 2]);
    expect(net.layers.map((l) => l.name)).toEqual([net.d1.name, net.d2.name, net.drop.name]);
    expect(net.countParams()).toBe(5 * 16 + 16 + 16 * 2 + 2);
    // eval is deterministic, training applies dropout
    expectTensor(net(x), p0.toArray(), 0);
    expect(Number(net(x, { training: true }).sub(p0).abs().sum().item())).toBeGreaterThan(0);
    net.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss: { name: 'sparse_categorical_crossentropy', fromLogits: true }, metrics: ['accuracy'] });
    const h = await net.fit(x, y, { epochs: 20, batchSize: 32, verbose: 0 });
    expect(h.history.accuracy[19]).toBeGreaterThan(0.9);
    const [loss, acc] = await net.evaluate(x, y, { verbose: 0 }) as number[];
    expect(loss).toBeLessThan(0.3);
    expect(acc).toBeGreaterThan(0.9);
    const pred = await net.predict(x) as nt.Tensor;
    expectTensor(pred, net(x).toArray(), 1e-5);
  }, 60000);

  test('an overridden trainStep runs for each batch and its logs become the history', async () => {
    const seen: number[] = [];
    class Custom extends Net {
      override trainStep(data: unknown[]): Record<string, number> {
        const [x, y] = data as [nt.Tensor, nt.Tensor];
        seen.push(x.shape[0]);
        const yPred = this.call(x, { training: true });
        const loss = this.computeLoss(x, y, yPred);
        const vars = this.trainableWeights;
        for (const v of vars) v.grad?.zero_();
        loss.backward();
        this.optimizer!.apply(vars.map((v) => v.grad!), vars);
        return { loss: loss.item() as number, accuracy: 0.5 };
      }
    }
    nt.manualSeed(5);
    const net = new Custom();
    const x = nt.randn([40, 5]);
    const y = x.sum(1).gt(0).to('int64');
    net.compile({ optimizer: 'sgd', loss: { name: 'sparse_categorical_crossentropy', fromLogits: true }, metrics: ['accuracy'] });
    const lossOf = () => tidyLoss(net, x, y);
    const before = lossOf();
    const h = await net.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0 });
    expect(seen).toEqual([16, 16, 8, 16, 16, 8, 16, 16, 8]);
    expect(h.history.accuracy).toEqual([0.5, 0.5, 0.5]);
    // the step trains: the loss without dropout falls (the epochs' logged losses carry dropout's noise)
    expect(lossOf()).toBeLessThan(before);
  }, 60000);

  test('super.trainStep and an overridden testStep: Keras\' default step is callable from an override', async () => {
    const calls: string[] = [];
    class Logged extends Net {
      override trainStep(data: unknown[]): Record<string, number> {
        calls.push('train');
        return super.trainStep(data);
      }
      override testStep(data: unknown[]): Record<string, number> {
        calls.push('test');
        return super.testStep(data);
      }
    }
    nt.manualSeed(6);
    const net = new Logged();
    const x = nt.randn([64, 5]);
    const y = x.sum(1).gt(0).to('int64');
    net.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.02 }), loss: { name: 'sparse_categorical_crossentropy', fromLogits: true }, metrics: ['accuracy'] });
    const h = await net.fit(x, y, { epochs: 15, batchSize: 32, verbose: 0, validationData: [x, y] });
    expect(calls.filter((c) => c === 'train')).toHaveLength(30);
    expect(calls.filter((c) => c === 'test')).toHaveLength(30);
    expect(h.history.accuracy[14]).toBeGreaterThan(0.85);
    // the validation accuracy averages the per-batch accuracies by samples: the accuracy over all samples
    const direct = Number(net(x).argmax(-1).eq(y).to('float32').mean().item());
    expect(h.history.val_accuracy[14]).toBeCloseTo(direct, 5);
  }, 60000);

  test('optimizer.apply(grads, variables) steps a hand-written loop', () => {
    const w = new nt.nn.Parameter(nt.tensor([1, 2]));
    const opt = new nt.optimizers.SGD({ learningRate: 0.5 });
    opt.apply([nt.tensor([1, -2])], [w]);
    expectTensor(w, [0.5, 3]);
    opt.apply([nt.tensor([1, 0])], [w]);
    expectTensor(w, [0, 3]);
    expect(() => opt.apply([nt.tensor([1])], [w])).toThrow(/gradient 0 has shape \[1\] but variable 0 has \[2\]/);
  });

  test('several outputs take a loss each (array: output_1, output_2; object: keyed by the names call returns), weighted as compiled', async () => {
    class Pair extends nt.Model {
      vec = new layers.Dense(2);
      reg = new layers.Dense(1);
      override call(x: nt.Tensor): nt.Tensor {
        // the engine also takes an object keyed by output name (or an array) from call
        return { reg: this.reg.call(x), vec: this.vec.call(x) } as unknown as nt.Tensor;
      }
    }
    nt.manualSeed(5);
    const x = nt.randn([8, 3]);
    const y1 = nt.randn([8, 2]);
    const y2 = nt.randn([8, 1]);
    const m = new Pair();
    m.compile({ optimizer: 'sgd', loss: { vec: 'mse', reg: 'mae' }, lossWeights: { vec: 1, reg: 0.5 } });
    const [pv, pr] = await m.predict(x) as nt.Tensor[];
    expect([pv.shape, pr.shape]).toEqual([[8, 2], [8, 1]]); // compile's order, not call's
    const mse = pv.sub(y1).square().mean().item() as number;
    const mae = pr.sub(y2).abs().mean().item() as number;
    const h = await m.fit(x, { vec: y1, reg: y2 }, { epochs: 1, batchSize: 8, verbose: 0 });
    // one batch: the logged losses are those of the weights before the step
    expect(h.history.vec_loss[0]).toBeCloseTo(mse, 5);
    expect(h.history.reg_loss[0]).toBeCloseTo(mae, 5);
    expect(h.history.loss[0]).toBeCloseTo(mse + 0.5 * mae, 5);

    class Two extends nt.Model {
      a = new layers.Dense(2);
      b = new layers.Dense(1);
      override call(t: nt.Tensor): nt.Tensor {
        return [this.a.call(t), this.b.call(t)] as unknown as nt.Tensor;
      }
    }
    const two = new Two();
    two.compile({ optimizer: 'sgd', loss: ['mse', 'mae'], metrics: [['mae'], []] });
    const h2 = await two.fit(x, [y1, y2], { epochs: 1, batchSize: 8, verbose: 0 });
    expect(Object.keys(h2.history).sort()).toEqual(['loss', 'output_1_loss', 'output_1_mae', 'output_2_loss']);
    // a loss per output must meet as many outputs
    class One extends nt.Model {
      a = new layers.Dense(2);
      override call(t: nt.Tensor): nt.Tensor {
        return this.a.call(t);
      }
    }
    const one = new One({ name: 'one' });
    one.compile({ optimizer: 'sgd', loss: ['mse', 'mae'] });
    await expect(one.fit(x, [y1, y2], { verbose: 0 })).rejects.toThrow(/one.call: returned 1 output but compile was given a loss for each of 2 \(output_1, output_2\)/);
    const named = new Pair({ name: 'named' });
    named.compile({ optimizer: 'sgd', loss: { vec: 'mse', other: 'mae' } });
    await expect(named.predict(x)).rejects.toThrow(/named.call: returned outputs reg, vec but compile named vec, other \(missing other\)/);
  });
});
