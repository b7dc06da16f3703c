// Keras-style Sequential: building, summary, weights in Keras layouts, compile/fit/evaluate/predict on
// the native loop and the JS loop (custom layers, datasets), callbacks, and bad input.
import * as nt from '../lib';
import { expectTensor } from './helpers';
import { Scale } from './fixtures/scale_layer';

const { Sequential, layers, callbacks, optimizers } = nt;

function linearModel(): nt.Sequential {
  const m = new Sequential([new layers.Dense(2, { inputShape: [3] })]);
  m.setWeights([nt.zeros([3, 2]), nt.zeros([2])]);
  return m;
}

describe('Sequential', () => {
  test('summary prints Keras\' table with output shapes and parameter counts', () => {
    const m = new Sequential([
      new layers.Conv2D(32, 3, { activation: 'relu', inputShape: [28, 28, 1] }),
      new layers.MaxPooling2D(2),
      new layers.Flatten(),
      new layers.Dense(64, { activation: 'relu' }),
      new layers.Dense(10, { activation: 'softmax' }),
    ], { name: 'cnn' });
    const s = m.summary(false);
    expect(s).toMatch(/^Model: "cnn"/);
    expect(s).toMatch(/conv2d\w* \(Conv2D\)\s+\(None, 26, 26, 32\)\s+320\n/);
    expect(s).toMatch(/max_pooling2d\w* \(MaxPooling2D\)\s+\(None, 13, 13, 32\)\s+0\n/);
    expect(s).toMatch(/flatten\w* \(Flatten\)\s+\(None, 5408\)\s+0\n/);
    expect(s).toMatch(/dense\w* \(Dense\)\s+\(None, 64\)\s+346,176\n/);
    expect(s).toContain('Total params: 347,146');
    expect(m.countParams()).toBe(347146);
  });

  test('weights come in Keras layouts and round-trip', () => {
    const m = new Sequential([new layers.Conv2D(4, [3, 2], { inputShape: [5, 5, 2] }), new layers.Flatten(), new layers.Dense(3)]);
    m.build();
    const ws = m.getWeights();
    expect(ws.map((w) => w.shape)).toEqual([[3, 2, 2, 4], [4], [48, 3], [3]]);
    const fresh = ws.map((w) => nt.randn([...w.shape]));
    m.setWeights(fresh);
    m.getWeights().forEach((w, i) => expectTensor(w, fresh[i].toArray()));
    expect(() => m.setWeights([nt.zeros([1])])).toThrow(/expected 2 weights but received 1/);
  });

  test('glorot_uniform kernels and zero biases, as Keras', () => {
    const d = new Sequential([new layers.Dense(300, { inputShape: [200] })]);
    d.build();
    const [k, b] = d.getWeights();
    const limit = Math.sqrt(6 / 500);
    expect(k.abs().max().item()).toBeLessThanOrEqual(limit);
    expect(k.abs().max().item()).toBeGreaterThan(limit * 0.95);
    expect(b.abs().sum().item()).toBe(0);
  });

  test('predict gives the forward pass, built lazily from the first batch', async () => {
    const m = new Sequential([new layers.Dense(2, { activation: 'relu' }), new layers.Dense(1)]);
    const x = nt.tensor([[1, -2, 3], [0.5, 0.5, 0.5]]);
    const out = await m.predict(x);
    const [k1, b1, k2, b2] = m.getWeights();
    const want = x.matmul(k1).add(b1).relu().matmul(k2).add(b2);
    expectTensor(out, want.toArray(), 1e-6);
  });
});

describe('fit', () => {
  test('one SGD step on mse gives the hand-computed weights and loss', async () => {
    const m = linearModel();
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0.1 }), loss: 'mse' });
    const h = await m.fit(nt.tensor([[1, 2, 3]]), nt.tensor([[1, -1]]), { epochs: 1, verbose: 0, shuffle: false });
    expect(h.history.loss).toEqual([1]);
    const [k, b] = m.getWeights();
    expectTensor(k, [[0.1, -0.1], [0.2, -0.2], [0.3, -0.3]], 1e-6);
    expectTensor(b, [0.1, -0.1], 1e-6);
  });

  test('kernel and activity regularizers add their penalties to the loss, as Keras reports it', async () => {
    for (const custom of [false, true]) {
      const m = new Sequential([
        new layers.Dense(1, { inputShape: [1], kernelRegularizer: nt.regularizers.l2(0.5), activityRegularizer: nt.regularizers.l1(0.25) }),
        ...(custom ? [new Scale()] : []),
      ]);
      m.setWeights([nt.tensor([[2]]), nt.tensor([0]), ...(custom ? [nt.ones([1])] : [])]);
      m.compile({ optimizer: new optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
      // mse 0 + l2: 0.5 * 2^2 + activity l1: 0.25 * |2| / 1 sample
      const h = await m.fit(nt.tensor([[1]]), nt.tensor([[2]]), { epochs: 1, verbose: 0 });
      expect(h.history.loss[0]).toBeCloseTo(2.5, 6);
    }
  });

  test('the JS loop (a custom layer) gives the same step as the native loop', async () => {
    const m = new Sequential([new layers.Dense(2, { inputShape: [3] }), new Scale()]);
    m.build();
    m.setWeights([nt.zeros([3, 2]), nt.zeros([2]), nt.ones([1])]);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0.1 }), loss: 'mse' });
    const h = await m.fit(nt.tensor([[1, 2, 3]]), nt.tensor([[1, -1]]), { epochs: 1, verbose: 0, shuffle: false });
    expect(h.history.loss).toEqual([1]);
    expectTensor(m.getWeights()[0], [[0.1, -0.1], [0.2, -0.2], [0.3, -0.3]], 1e-6);
    // the scale saw zero outputs: its gradient was 0
    expectTensor(m.getWeights()[2], [1]);
  });

  test('learns a separable problem; evaluate and history agree with Keras\' names', async () => {
    nt.manualSeed(1);
    const x = nt.randn([512, 2]);
    const y = x.sum(1).gt(0).long();
    const m = new Sequential([new layers.Dense(8, { activation: 'relu', inputShape: [2] }), new layers.Dense(2, { activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const h = await m.fit(x, y, { epochs: 15, batchSize: 32, verbose: 0, validationSplit: 0.25 });
    expect(Object.keys(h.history)).toEqual(['loss', 'accuracy', 'val_loss', 'val_accuracy']);
    expect(h.epoch).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(h.history.loss[14]).toBeLessThan(h.history.loss[0]);
    expect(h.history.val_accuracy[14]).toBeGreaterThan(0.9);
    const r = await m.evaluate(x, y, { returnDict: true, verbose: 0 }) as Record<string, number>;
    expect(Object.keys(r)).toEqual(['loss', 'accuracy']);
    expect(r.accuracy).toBeGreaterThan(0.9);
    const probs = await m.predict(x.slice(0, 0, 4));
    expectTensor(probs.sum(1), [1, 1, 1, 1], 1e-5);
  });

  test('a data.Dataset of batches trains and evaluates like tensors', async () => {
    nt.manualSeed(2);
    const x = nt.randn([256, 2]);
    const y = x.sum(1).gt(0).long();
    const ds = nt.data.Dataset.fromTensorSlices([x, y]).shuffle(256, { seed: 1 }).batch(32);
    const m = new Sequential([new layers.Dense(8, { activation: 'relu' }), new layers.Dense(2, { activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const seen: number[] = [];
    const h = await m.fit(ds, { epochs: 10, verbose: 0, callbacks: [{ onBatchEnd: (b: number) => { seen.push(b); } }] });
    expect(seen.slice(0, 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0]);
    expect(h.history.accuracy[9]).toBeGreaterThan(0.85);
    const [, acc] = await m.evaluate(nt.data.Dataset.fromTensorSlices([x, y]).batch(64), { verbose: 0 }) as number[];
    expect(acc).toBeGreaterThan(0.85);
  });

  test('callbacks run in Keras order; stopTraining from a batch callback stops between batches', async () => {
    const m = linearModel();
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const events: string[] = [];
    const cb = {
      onTrainBegin: () => { events.push('trainBegin'); },
      onEpochBegin: (e: number) => { events.push(`epochBegin ${e}`); },
      onBatchEnd: (b: number) => { events.push(`batchEnd ${b}`); if (b === 2) m.stopTraining = true; },
      onEpochEnd: (e: number) => { events.push(`epochEnd ${e}`); },
      onTrainEnd: () => { events.push('trainEnd'); },
    };
    await m.fit(nt.ones([10, 3]), nt.ones([10, 2]), { epochs: 3, batchSize: 2, verbose: 0, callbacks: [cb] });
    expect(events).toEqual(['trainBegin', 'epochBegin 0', 'batchEnd 0', 'batchEnd 1', 'batchEnd 2', 'epochEnd 0', 'trainEnd']);
  });

  test('EarlyStopping stops after patience epochs without improvement and restores the best weights', async () => {
    const m = linearModel();
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
    const es = new callbacks.EarlyStopping({ monitor: 'loss', patience: 2, restoreBestWeights: true });
    const h = await m.fit(nt.ones([4, 3]), nt.ones([4, 2]), { epochs: 10, verbose: 0, callbacks: [es] });
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(es.stoppedEpoch).toBe(2);
  });

  test('the event loop keeps running during fit', async () => {
    const m = new Sequential([new layers.Dense(64, { activation: 'relu', inputShape: [32] }), new layers.Dense(1)]);
    m.compile({ optimizer: 'adam', loss: 'mse' });
    let ticks = 0;
    const iv = setInterval(() => { ticks++; }, 5);
    await m.fit(nt.randn([20000, 32]), nt.randn([20000, 1]), { epochs: 2, batchSize: 16, verbose: 0 });
    clearInterval(iv);
    expect(ticks).toBeGreaterThan(2);
  });

  test('a NaN loss stops training with a message', async () => {
    const m = linearModel();
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 1e30 }), loss: 'mse' });
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const h = await m.fit(nt.full([4, 3], 1e20), nt.ones([4, 2]), { epochs: 5, verbose: 0 });
    log.mockRestore();
    expect(h.epoch.length).toBeLessThan(5);
    expect(Number.isNaN(h.history.loss[h.history.loss.length - 1])).toBe(true);
  });
});

describe('bad input', () => {
  test('names what was wrong and what was expected', async () => {
    const m = new Sequential([new layers.Dense(3, { inputShape: [4], activation: 'softmax' })]);
    await expect(m.fit(nt.ones([2, 4]), nt.tensor([0n, 1n]))).rejects.toThrow(/call compile\(\{ optimizer, loss, metrics \}\) before fit\(\)/);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    await expect(m.fit(nt.ones([2, 4]), nt.tensor([0n, 1n, 2n]))).rejects.toThrow('fit: x and y must have the same number of samples but x has 2 and y has 3');
    await expect(m.fit(nt.ones([2, 4]), nt.tensor([0n, 3n]))).rejects.toThrow(/labels must be in \[0, 3\) .* range from 0 to 3/);
    await expect(m.fit(nt.ones([2, 5]), nt.tensor([0n, 1n]))).rejects.toThrow(/expected inputs of shape \[4\] but got \[5\] \(per sample\)/);
    await expect(m.fit(nt.ones([2, 4]), nt.tensor([0n, 1n]), { epochs: 0 })).rejects.toThrow(/epochs to be a positive integer but received number 0/);
    expect(() => new layers.Dense(3, { activation: 'relux' as never })).toThrow(/unknown activation 'relux'/);
    expect(() => new layers.Dense(-3)).toThrow('Dense: expected units to be a positive integer but received number -3');
    expect(() => new layers.Dense(3, { unit: 4 } as never)).toThrow(/unknown option 'unit'/);
    expect(() => m.compile({ optimizer: 'adamm', loss: 'mse' })).toThrow(/unknown optimizer 'adamm'/);
    expect(() => m.compile({ optimizer: 'adam', loss: 'msee' })).toThrow(/unknown loss 'msee'/);
    const reg = new Sequential([new layers.Dense(1, { inputShape: [1] })]);
    reg.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(reg.fit(nt.ones([2, 1]), nt.tensor([[NaN], [1]]))).rejects.toThrow('fit: y contains NaN or infinity (first in sample 0)');
    await expect(reg.fit(nt.tensor([[1], [2], [NaN]]), nt.ones([3, 1]), { verbose: 0 })).rejects.toThrow('fit: x contains NaN or infinity (first in sample 2)');
    await expect(reg.evaluate(nt.tensor([[1], [-Infinity]]), nt.ones([2, 1]), { verbose: 0 })).rejects.toThrow('evaluate: x contains NaN or infinity (first in sample 1)');
    // the JS loop (a custom layer) checks the same way
    const custom = new Sequential([new layers.Dense(1, { inputShape: [2] }), new Scale()]);
    custom.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(custom.fit(nt.tensor([[1, 2], [3, Infinity], [NaN, 0]]), nt.ones([3, 1]), { verbose: 0 })).rejects.toThrow('fit: x contains NaN or infinity (first in sample 1)');
  });
});

describe('Sequential.to(device)', () => {
  test('to(cpu) keeps training and predicting; an unavailable CUDA device is a clear error', async () => {
    const m = linearModel();
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    expect(m.to('cpu')).toBe(m);
    expect(m.device).toBe('cpu');
    await m.fit(nt.ones([4, 3]), nt.ones([4, 2]), { epochs: 1, verbose: 0 });
    expect((await m.predict(nt.ones([2, 3]))).device).toBe('cpu');
    if (!nt.cuda.isAvailable()) expect(() => m.to('cuda')).toThrow(/cuda/i);
  });

  const cudaTest = nt.cuda.isAvailable() ? test : test.skip;
  cudaTest('on CUDA: the native loop and the JS loop train there from CPU inputs, predictions come back to the CPU', async () => {
    for (const custom of [false, true]) {
      nt.manualSeed(0);
      const cpu = new Sequential([new layers.Dense(4, { inputShape: [3], activation: 'relu' }), ...(custom ? [new Scale()] : []), new layers.Dense(1)]);
      const gpu = new Sequential([new layers.Dense(4, { inputShape: [3], activation: 'relu' }), ...(custom ? [new Scale()] : []), new layers.Dense(1)]);
      gpu.setWeights(cpu.getWeights());
      gpu.to('cuda');
      expect(gpu.getWeights()[0].device).toMatch(/^cuda/);
      for (const m of [cpu, gpu]) m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['mae', 'auc'] });
      const x = nt.randn([64, 3]);
      const y = x.sum(1, true).gt(0).to('float32');
      const hc = await cpu.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      const hg = await gpu.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      expect(hg.history.loss[1]).toBeCloseTo(hc.history.loss[1], 4);
      const p = await gpu.predict(x);
      expect(p.device).toBe('cpu');
      expectTensor(p, Array.from((await cpu.predict(x)).dataSync() as Float32Array), 1e-4);
    }
  });
});

describe('ProgbarLogger', () => {
  /** A stream that says it is a terminal and keeps what is written. */
  function tty(): NodeJS.WriteStream & { text: string } {
    const s = { isTTY: true, text: '', write(c: string) { s.text += c; return true; } };
    return s as unknown as NodeJS.WriteStream & { text: string };
  }
  test('draws Keras\' bar on a terminal, and n/Unknown for a generator of unknown length', () => {
    for (const steps of [4, Infinity]) {
      const out = tty();
      const p = new callbacks.ProgbarLogger(out);
      p.setParams({ epochs: 1, steps, verbose: 1, samples: -1 });
      p.onTrainBegin();
      p.onEpochBegin(0);
      for (let b = 0; b < 4; b++) p.onBatchEnd(b, { loss: 0.5 });
      p.onEpochEnd(0, { loss: 0.25 });
      expect(out.text).toContain('Epoch 1/1\n');
      expect(out.text.endsWith('loss: 0.2500\x1b[K\n')).toBe(true);
      if (steps === 4) expect(out.text).toMatch(/4\/4 \[={30}\] - \d+m?s \d+(\.\d+)?[mu]?s\/step - loss: 0\.2500/);
      else {
        expect(out.text).toMatch(/\r1\/Unknown - \d+m?s /);
        expect(out.text).not.toContain('Infinity');
        expect(out.text).toMatch(/4\/4 \[={30}\] - .* - loss: 0\.2500/);
      }
    }
  });
});
