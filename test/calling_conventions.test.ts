// Python's calling conventions, one test per convention and API family: arguments by position in
// PyTorch's / Keras' order, keyword arguments as a trailing options object, Keras' snake_case names
// as aliases of the camelCase ones, and a name nobody reads refused with the valid names.
import * as nt from '../lib';

const { nn, F, optim, layers, optimizers, callbacks } = nt;
const { lrScheduler } = optim;
const p = (): nt.Tensor => nt.zeros([2], { requiresGrad: true });

describe('positional arguments in Python order', () => {
  test('nn modules', () => {
    expect(String(new nn.Conv2d(1, 32, 3, 1, 1))).toBe('Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))');
    expect(String(new nn.MaxPool2d(2, 2))).toBe('MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)');
    expect(String(new nn.Linear(3, 5, false))).toBe('Linear(in_features=3, out_features=5, bias=False)');
    expect(String(new nn.LSTM(10, 20, 2))).toBe('LSTM(10, 20, num_layers=2)');
    expect(String(new nn.Embedding(10, 3, 0))).toBe('Embedding(10, 3, padding_idx=0)');
    expect(String(new nn.BatchNorm1d(4, 1e-3))).toBe('BatchNorm1d(4, eps=0.001, momentum=0.1, affine=True, track_running_stats=True)');
  });
  test('F', () => {
    const x = nt.arange(16).float().reshape(1, 1, 4, 4);
    expect(F.maxPool2d(x, 2, 1).shape).toEqual([1, 1, 3, 3]);
    const w = nt.ones([1, 1, 3, 3]);
    expect(F.conv2d(x, w, null, 1, 1).shape).toEqual([1, 1, 4, 4]);
    expect(F.softmax(nt.tensor([[1, 2]]), { dim: 1 }).sum().item()).toBeCloseTo(1, 6);
    expect(F.dropout(nt.ones([3]), 0.5, false).toArray()).toEqual([1, 1, 1]);
  });
  test('optimizers and schedulers', () => {
    const sgd = new optim.SGD([p()], 0.1, 0.9);
    expect([sgd.paramGroups[0].lr, sgd.paramGroups[0].momentum]).toEqual([0.1, 0.9]);
    const sched = new lrScheduler.StepLR(sgd, 2, 0.1);
    expect([sched.stepSize, sched.gamma]).toEqual([2, 0.1]);
    expect(new lrScheduler.CosineAnnealingLR(new optim.Adam([p()], 1e-3), 10).TMax).toBe(10);
  });
  test('Keras layers, optimizers and callbacks', () => {
    const pool = new layers.MaxPooling2D(2, 2);
    expect([pool.poolSize, pool.strides]).toEqual([[2, 2], [2, 2]]);
    const conv = new layers.Conv2D(32, 3, { activation: 'relu' });
    expect([conv.filters, conv.kernelSize, conv.activation]).toEqual([32, [3, 3], 'relu']);
    expect(new layers.Dense(64, 'relu').activation).toBe('relu');
    expect(new layers.Dropout(0.5).rate).toBe(0.5);
    expect(new layers.LSTM(8, 'tanh').units).toBe(8);
    expect(new optimizers.Adam(1e-3).learningRate).toBe(1e-3);
    expect(new optimizers.SGD(0.1, 0.9).options.momentum).toBe(0.9);
    expect(new callbacks.EarlyStopping('val_loss', 0, 3).patience).toBe(3);
  });
  test("the tuner's hp methods", () => {
    const hp = new nt.tuner.HyperParameters();
    expect(hp.Int('units', 32, 512, 32)).toBe(32);
    expect(hp.Float('lr', 1e-4, 1e-2, null, 'log')).toBeCloseTo(1e-4, 12);
    expect(hp.Choice('act', ['relu', 'tanh'])).toBe('relu');
    expect(hp.Boolean('bn', true)).toBe(true);
    expect(hp.space.map((s) => s.config())).toMatchObject([
      { className: 'Int', minValue: 32, maxValue: 512, step: 32 }, { className: 'Float', sampling: 'log' },
      { className: 'Choice', values: ['relu', 'tanh'] }, { className: 'Boolean', default: true }]);
  });
});

describe('keyword arguments as an options object (positional ones by name too)', () => {
  test('Keras layers take their positional arguments by name', () => {
    const e = new layers.Embedding({ inputDim: 100, outputDim: 8 });
    expect([e.inputDim, e.outputDim]).toEqual([100, 8]);
    expect(new layers.Dense({ units: 4 }).units).toBe(4);
    expect(new layers.Conv2D({ filters: 8, kernelSize: [3, 3], strides: 2 }).strides).toEqual([2, 2]);
  });
  test("hp.Choice('lr', { values })", () => {
    expect(new nt.tuner.HyperParameters().Choice('lr', { values: [1e-2, 1e-3], default: 1e-3 })).toBe(1e-3);
  });
  test('optim and schedulers', () => {
    expect(new optim.SGD([p()], { lr: 0.5 }).paramGroups[0].lr).toBe(0.5);
    expect(new lrScheduler.StepLR(new optim.SGD([p()], 0.1), { stepSize: 3 }).stepSize).toBe(3);
  });
});

describe('snake_case names are aliases of the camelCase ones', () => {
  test('Keras layers, optimizers, callbacks, hp, nn, optim and the DataLoader', () => {
    expect(new layers.Flatten({ input_shape: [28, 28] } as never).inputShape).toEqual([28, 28]);
    expect(new layers.Embedding({ input_dim: 50, output_dim: 4 } as never).inputDim).toBe(50);
    expect(new optimizers.Adam({ learning_rate: 0.01, beta_1: 0.8 } as never).options).toEqual({ learningRate: 0.01, beta1: 0.8 });
    expect(new callbacks.EarlyStopping({ restore_best_weights: true, patience: 2 } as never).restoreBestWeights).toBe(true);
    expect(new nt.tuner.HyperParameters().Int('n', { min_value: 2, max_value: 8 } as never)).toBe(2);
    expect(String(new nn.LSTM(4, 4, { batch_first: true } as never))).toBe('LSTM(4, 4, batch_first=True)');
    expect(new optim.Adam([p()], { weight_decay: 0.1 } as never).paramGroups[0].weightDecay).toBe(0.1);
    expect(new lrScheduler.CosineAnnealingLR(new optim.SGD([p()], 0.1), { T_max: 5 } as never).TMax).toBe(5);
  });
  test('fit options and callback hooks: on_epoch_end works like onEpochEnd', async () => {
    const model = new nt.Sequential([new layers.Dense(1, { input_shape: [2] } as never)]);
    model.compile({ optimizer: new optimizers.SGD({ learning_rate: 0.01 } as never), loss: 'mse' });
    const seen: number[] = [];
    const cb = { count: 0, on_epoch_end(this: { count: number }, epoch: number) { this.count++; seen.push(epoch); } };
    await model.fit(nt.ones([8, 2]), nt.ones([8, 1]), { epochs: 3, batch_size: 4, verbose: 0, callbacks: [cb] } as never);
    expect(seen).toEqual([0, 1, 2]);
    expect(cb.count).toBe(3);
  });
});

describe('a name nobody reads is refused with the valid names', () => {
  test.each([
    ['Keras layer', () => new layers.Dense(4, { activaton: 'relu' } as never), /Dense: unknown option 'activaton'; known options: units, activation, useBias, name/],
    ['Keras optimizer', () => new optimizers.Adam({ lr: 0.1 } as never), /optimizers.Adam: unknown option 'lr'; known options: learningRate, beta1/],
    ['Keras callback', () => new callbacks.EarlyStopping({ patient: 3 } as never), /EarlyStopping: unknown option 'patient'; known options: monitor/],
    ['nn module', () => new nn.Conv2d(1, 2, 3, { padd: 1 } as never), /Conv2d: unknown option 'padd'; known options: stride, padding/],
    ['F', () => F.crossEntropy(nt.ones([2, 3]), nt.tensor([0n, 1n]), { label_smooth: 0.1 } as never), /crossEntropy: unknown option 'label_smooth'/],
    ['optim', () => new optim.SGD([p()], { learningRate: 0.1 } as never), /SGD: unknown option 'learningRate'; known options: lr, momentum/],
    ['scheduler', () => new lrScheduler.StepLR(new optim.SGD([p()]), { step: 2 } as never), /StepLR: unknown option 'step'; known options: stepSize/],
    ['hp', () => new nt.tuner.HyperParameters().Int('n', { min: 1, maxValue: 2 } as never), /hp.Int\('n'\): unknown option 'min'/],
    ['too many positional', () => new (layers.Dropout as unknown as new (...a: unknown[]) => unknown)(0.5, null, 1, 2), /Dropout: takes at most 3 positional arguments/],
    ['both ways', () => new layers.Dense(4, { units: 5 } as never), /Dense: got multiple values for argument 'units'/],
  ] as [string, () => unknown, RegExp][])('%s', (_name, make, message) => {
    expect(make).toThrow(message);
  });

  test('a callback hook nodetorch never calls is an error, not silently ignored', async () => {
    const model = new nt.Sequential([new layers.Dense(1, { inputShape: [2] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(model.fit(nt.ones([4, 2]), nt.ones([4, 1]), { epochs: 1, verbose: 0, callbacks: [{ on_test_begin() {} } as never] }))
      .rejects.toThrow("fit: callback hook 'on_test_begin' is never called by nodetorch; the hooks are onTrainBegin");
    await expect(model.fit(nt.ones([4, 2]), nt.ones([4, 1]), { epochs: 1, verbose: 0, callbacks: [{ onEpochEnds() {} } as never] }))
      .rejects.toThrow("callback hook 'onEpochEnds' is never called");
  });
});
