// Mixed precision: Keras' dtype policies (layers compute in bfloat16 over float32 weights, a
// float32 output for the loss, loss scaling for float16), PyTorch's nt.autocast and
// nt.amp.GradScaler, and the seed MLP's accuracy under 'mixed_bfloat16'.
import * as nt from '../lib';
import { expectTensor } from './helpers';
import { Scale } from './fixtures/scale_layer';

const { layers, optimizers, mixedPrecision } = nt;
jest.setTimeout(120000);
const LIBTORCH1 = nt.version.libtorch.startsWith('1.');

afterEach(() => mixedPrecision.setGlobalPolicy('float32'));

describe('dtype policies', () => {
  test('setGlobalPolicy / globalPolicy / Policy, and the snake_case names', () => {
    expect(mixedPrecision.globalPolicy().name).toBe('float32');
    mixedPrecision.setGlobalPolicy('mixed_bfloat16');
    const p = mixedPrecision.globalPolicy();
    expect([p.name, p.computeDtype, p.variableDtype]).toEqual(['mixed_bfloat16', 'bfloat16', 'float32']);
    nt.mixed_precision.set_global_policy(new mixedPrecision.Policy('mixed_float16'));
    expect(nt.mixed_precision.global_policy().computeDtype).toBe('float16');
    expect(() => mixedPrecision.setGlobalPolicy('bfloat16' as never)).toThrow(/setGlobalPolicy: expected name to be one of 'float32', 'mixed_bfloat16', 'mixed_float16' but received 'bfloat16' \(variables stay float32 here: use 'mixed_bfloat16'\)/);
    expect(() => mixedPrecision.setGlobalPolicy(3 as never)).toThrow(/setGlobalPolicy: expected a dtype policy name/);
    expect(() => new layers.Dense(2, { dtype: 'half' as never })).toThrow(/Dense: dtype: expected name to be one of/);
  });

  test('a layer takes the global policy when made; dtype: float32 keeps it full; weights stay float32', () => {
    mixedPrecision.setGlobalPolicy('mixed_bfloat16');
    const low = new layers.Dense(1, { useBias: false });
    const full = new layers.Dense(1, { useBias: false, dtype: 'float32' });
    mixedPrecision.setGlobalPolicy('float32');
    const later = new layers.Dense(1);
    expect([low.computeDtype, low.variableDtype, full.computeDtype, later.computeDtype]).toEqual(['bfloat16', 'float32', 'float32', 'float32']);
    // 1.001 is 1 in bfloat16 (8 significant bits): the low-precision layer computes 1 * 1 = 1
    const x = nt.tensor([[1.001]]);
    low.build([1]);
    full.build([1]);
    low.setWeights([nt.tensor([[1]])]);
    full.setWeights([nt.tensor([[1]])]);
    const yl = low.call(x) as nt.Tensor;
    expect(yl.dtype).toBe('bfloat16');
    expect(yl.to('float32').item()).toBe(1);
    const yf = full.call(x) as nt.Tensor;
    expect(yf.dtype).toBe('float32');
    expect(yf.item()).toBeCloseTo(1.001, 6);
    expect(low.getWeights()[0].dtype).toBe('float32');
    expect(low.getConfig().dtype).toBe('mixed_bfloat16');
    expect(full.getConfig().dtype).toBe('float32');
    expect(later.getConfig().dtype).toBeUndefined();
  });

  test('a mixed model predicts float32, trains float32 weights, and a float32 layer inside it stays full', async () => {
    mixedPrecision.setGlobalPolicy('mixed_bfloat16');
    const m = new nt.Sequential([
      new layers.Dense(1, { inputShape: [1], useBias: false }),
      new layers.Dense(1, { useBias: false, dtype: 'float32' }),
    ]);
    m.build();
    m.setWeights([nt.tensor([[1]]), nt.tensor([[1]])]);
    // 1.001 -> 1 in the bfloat16 layer; the float32 layer then adds nothing lost
    const p = await m.predict(nt.tensor([[1.001], [3]])) as nt.Tensor;
    expect(p.dtype).toBe('float32');
    expectTensor(p, [[1], [3]], 0);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0.01 }), loss: 'mse' });
    await m.fit(nt.tensor([[1], [2]]), nt.tensor([[2], [4]]), { epochs: 1, batchSize: 2, verbose: 0, shuffle: false });
    const [k1, k2] = m.getWeights();
    expect([k1.dtype, k2.dtype]).toEqual(['float32', 'float32']);
    // mse gradient at w=1,1: 2 * mean((x - 2x) * x) = -5 for each -> 1.05 (exact in bfloat16 here)
    expectTensor(k1, [[1.05]], 1e-6);
    expectTensor(k2, [[1.05]], 1e-6);
  });

  test('a user layer computes under autocast in the JS path, and the model output is float32', async () => {
    class MatMul extends layers.Layer {
      w!: nt.Tensor;
      override build(): void {
        this.w = this.addWeight('w', [1, 1], { initializer: 'ones' });
      }
      call(x: nt.Tensor): nt.Tensor {
        return x.matmul(this.w);
      }
    }
    const outputs: number[] = [];
    for (const policy of ['mixed_bfloat16', 'float32'] as const) {
      mixedPrecision.setGlobalPolicy(policy);
      const m = new nt.Sequential([new layers.Dense(1, { inputShape: [1], useBias: false, dtype: 'float32' }), new MatMul()]);
      m.build();
      m.setWeights([nt.tensor([[1]]), nt.tensor([[1]])]);
      const p = await m.predict(nt.tensor([[1.001]])) as nt.Tensor;
      expect(p.dtype).toBe('float32');
      outputs.push(p.item() as number);
    }
    // bfloat16 rounds 1.001 to 1; float32 keeps it
    expect(outputs[0]).toBe(1);
    expect(outputs[1]).toBeCloseTo(1.001, 6);
  });

  test('mixed_float16 on a CPU-only libtorch 1.x is a clear error naming the fix', () => {
    mixedPrecision.setGlobalPolicy('mixed_float16');
    const d = new layers.Dense(1, { inputShape: [1] });
    d.build([1]);
    if (LIBTORCH1) {
      expect(() => d.call(nt.tensor([[1]]))).toThrow(/mixed_float16: libtorch 1\.13's CPU autocast supports only bfloat16; use the 'mixed_bfloat16' policy on CPU/);
    } else {
      expect((d.call(nt.tensor([[1]])) as nt.Tensor).dtype).toBe('float16');
    }
  });
});

describe('loss scaling (Keras LossScaleOptimizer)', () => {
  test('compile wraps the optimizer under mixed_float16; a scaled step equals the plain step', async () => {
    mixedPrecision.setGlobalPolicy('mixed_float16');
    const m0 = new nt.Sequential([new layers.Dense(1, { inputShape: [2], dtype: 'float32' })]);
    m0.compile({ optimizer: 'sgd', loss: 'mse' });
    expect(m0.optimizer!.lossScale).toEqual({ initialScale: 32768, dynamicGrowthSteps: 2000 });
    mixedPrecision.setGlobalPolicy('float32');
    for (const js of [false, true]) {
      const m = new nt.Sequential([new layers.Dense(1, { inputShape: [2] }), ...(js ? [new Scale()] : [])]);
      m.build();
      m.setWeights([nt.zeros([2, 1]), nt.zeros([1]), ...(js ? [nt.ones([1])] : [])]);
      m.compile({ optimizer: new optimizers.LossScaleOptimizer(new optimizers.SGD(0.1), { initialScale: 1024, dynamicGrowthSteps: 1 }), loss: 'mse' });
      await m.fit(nt.tensor([[1, 2]]), nt.tensor([[1]]), { epochs: 1, verbose: 0 });
      expectTensor(m.getWeights()[0], [[0.2], [0.4]], 1e-6);
      expect(m.optimizer!.dynamicScale).toBe(2048); // one finite step with dynamicGrowthSteps 1 doubles it
      // gradients that overflow once scaled (2 * 1024 * 4e17 * 2e18 > float32's max) while the loss is
      // finite: the step is skipped and the scale halves
      await m.fit(nt.tensor([[2e18, 0]]), nt.tensor([[1]]), { epochs: 1, verbose: 0 });
      expectTensor(m.getWeights()[0], [[0.2], [0.4]], 1e-6);
      expect(m.optimizer!.dynamicScale).toBe(1024);
    }
  });
});

describe('nt.autocast (PyTorch face)', () => {
  test('matmul computes in bfloat16 inside, float32 outside; the state is restored, also after a throw', () => {
    const a = nt.tensor([[1.001]]), b = nt.tensor([[1]]);
    const inside = nt.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, () => a.matmul(b));
    expect(inside.dtype).toBe('bfloat16');
    expect(inside.to('float32').item()).toBe(1);
    expect(a.matmul(b).dtype).toBe('float32');
    expect(nt.amp.isAutocastEnabled('cpu')).toBe(false);
    // nested enabled: false turns it off for the inner region only
    nt.autocast('cpu', () => {
      expect(nt.amp.isAutocastEnabled('cpu')).toBe(true);
      expect(nt.autocast('cpu', { enabled: false }, () => a.matmul(b)).dtype).toBe('float32');
      expect(a.matmul(b).dtype).toBe('bfloat16');
    });
    expect(() => nt.autocast('cpu', () => { throw new Error('boom'); })).toThrow('boom');
    expect(nt.amp.isAutocastEnabled('cpu')).toBe(false);
  });
  test('bad calls are clear errors', () => {
    expect(() => nt.autocast({ deviceType: 'tpu' } as never, () => 1)).toThrow(/autocast: expected one of 'cpu', 'cuda' for deviceType|autocast:.*deviceType/);
    expect(() => nt.autocast({ deviceType: 'cpu', dtype: 'float32' } as never, () => 1)).toThrow(/autocast:.*dtype/);
    expect(() => (nt.autocast as (...a: unknown[]) => unknown)({ deviceType: 'cpu' })).toThrow(/autocast: expected the last argument to be the function to run/);
    expect(() => nt.autocast('cpu', async () => 1 as unknown)).toThrow(/autocast: fn returned a Promise/);
    expect(nt.amp.isAutocastEnabled('cpu')).toBe(false);
    if (LIBTORCH1) expect(() => nt.autocast('cpu', { dtype: 'float16' }, () => 1)).toThrow(/CPU autocast supports only bfloat16/);
  });
});

describe('nt.amp.GradScaler', () => {
  function setup(grad: number[]) {
    const w = new nt.nn.Parameter(nt.zeros([grad.length]));
    const opt = new nt.optim.SGD([w], { lr: 0.5 });
    return { w, opt, set: (g: number[]) => { w.grad = nt.tensor(g); } };
  }
  test('scale, unscale_, step, update: a hand-computed run with growth and backoff', () => {
    const scaler = new nt.amp.GradScaler('cpu', { initScale: 8, growthInterval: 2 });
    expect(scaler.getScale()).toBe(8);
    expect((scaler.scale(nt.tensor(1.5)) as nt.Tensor).item()).toBe(12);
    const { w, opt, set } = setup([0, 0]);
    // step 1: gradients of the scaled loss 8 * [1, -2] -> unscaled [1, -2]; w -= 0.5 * g
    set([8, -16]);
    scaler.unscale_(opt);
    expectTensor(w.grad!, [1, -2], 0);
    expect(() => scaler.unscale_(opt)).toThrow(/unscale_\(\) has already been called on this optimizer since the last update\(\)/);
    scaler.step(opt);
    expect(() => scaler.step(opt)).toThrow(/step\(\) has already been called since the last update\(\)/);
    scaler.update();
    expectTensor(w, [-0.5, 1], 0);
    expect(scaler.getScale()).toBe(8);
    // step 2: finite again -> the second clean step doubles the scale (growthInterval 2)
    set([8, 8]);
    scaler.step(opt);
    scaler.update();
    expectTensor(w, [-1, 0.5], 0);
    expect(scaler.getScale()).toBe(16);
    // step 3: an infinite gradient skips the step and halves the scale
    set([Infinity, 1]);
    scaler.step(opt);
    scaler.update();
    expectTensor(w, [-1, 0.5], 0);
    expect(scaler.getScale()).toBe(8);
    expect(scaler.stateDict()).toEqual({ scale: 8, growth_factor: 2, backoff_factor: 0.5, growth_interval: 2, _growth_tracker: 0 });
    expect(scaler.get_scale()).toBe(8);
  });
  test('disabled is a pass-through; bad options and calls are clear errors', () => {
    const off = new nt.amp.GradScaler({ enabled: false });
    const { w, opt, set } = setup([0]);
    set([2]);
    expect((off.scale(nt.tensor(3)) as nt.Tensor).item()).toBe(3);
    off.step(opt);
    off.update();
    expectTensor(w, [-1], 0);
    expect(off.getScale()).toBe(1);
    expect(() => new nt.amp.GradScaler({ initScale: -1 })).toThrow(/amp.GradScaler: expected a positive number for initScale but received number -1/);
    expect(() => new nt.amp.GradScaler({ growthFactor: 0.5 })).toThrow(/growthFactor to be > 1/);
    expect(() => new nt.amp.GradScaler().update()).toThrow(/no inf checks were recorded prior to update/);
    expect(() => new nt.amp.GradScaler().step({} as never)).toThrow(/GradScaler.step: expected an nt.optim optimizer/);
  });
});

describe('the seed MLP under mixed_bfloat16', () => {
  test('reaches the float32 accuracy within 0.5% (MNIST subset, same seed)', async () => {
    let [[xTrain, yTrain], [xTest, yTest]] = await nt.datasets.mnist.loadData();
    xTrain = xTrain.slice(0, 0, 12000).to('float32').div(255);
    yTrain = yTrain.slice(0, 0, 12000);
    xTest = xTest.slice(0, 0, 4000).to('float32').div(255);
    yTest = yTest.slice(0, 0, 4000);
    const accuracy = async (policy: 'float32' | 'mixed_bfloat16') => {
      mixedPrecision.setGlobalPolicy(policy);
      nt.manualSeed(7);
      const model = new nt.Sequential([
        new layers.Flatten({ inputShape: [28, 28] }),
        new layers.Dense(128, { activation: 'relu' }),
        new layers.Dense(10, { activation: 'softmax' }),
      ]);
      model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
      await model.fit(xTrain, yTrain, { epochs: 3, batchSize: 32, verbose: 0 });
      mixedPrecision.setGlobalPolicy('float32');
      return (await model.evaluate(xTest, yTest, { verbose: 0 }))[1];
    };
    const f32 = await accuracy('float32');
    const bf16 = await accuracy('mixed_bfloat16');
    console.log(`seed MLP test accuracy: float32 ${f32.toFixed(4)}, mixed_bfloat16 ${bf16.toFixed(4)}`);
    expect(f32).toBeGreaterThan(0.9);
    expect(Math.abs(bf16 - f32)).toBeLessThanOrEqual(0.005);
  });
});
