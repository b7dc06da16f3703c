// nn.Module semantics, the built-in layers' behaviour and errors, and F on tiny exact inputs.
// Expected numbers come from PyTorch 1.13 (Debian's python3-torch) on the same inputs.
import * as nt from '../lib';
import { devices, expectTensor } from './helpers';

const { nn, F } = nt;

class SimpleNet extends nn.Module {
  fc1 = new nn.Linear(3, 5);
  fc2 = new nn.Linear(5, 2);
  forward(x: nt.Tensor): nt.Tensor {
    return this.fc2.forward(F.relu(this.fc1.forward(x)));
  }
}

class WithBuffers extends nn.Module {
  conv = this.register('conv', new nn.Conv2d(1, 2, 3));
  bn = new nn.BatchNorm2d(2);
  head = new nn.Sequential(new nn.Flatten(), new nn.Linear(2, 1));
  scale = new nn.Parameter(nt.ones([1]));
  constructor() {
    super();
    this.registerBuffer('steps', nt.zeros([1]));
    this.registerBuffer('scratch', nt.zeros([1]), { persistent: false });
  }
  forward(x: nt.Tensor): nt.Tensor {
    return this.head.forward(this.bn.forward(this.conv.forward(x))).mul(this.scale);
  }
}

describe('Module registration and traversal', () => {
  test('fields are registered in declaration order with PyTorch key names', () => {
    const net = new SimpleNet();
    expect(net.namedParameters().map(([k, p]) => [k, [...p.shape]])).toEqual([
      ['fc1.weight', [5, 3]], ['fc1.bias', [5]], ['fc2.weight', [2, 5]], ['fc2.bias', [2]],
    ]);
    expect(net.parameters()).toHaveLength(4);
    expect(net.parameters().every((p) => p instanceof nn.Parameter && p.requiresGrad)).toBe(true);
    expect(net.namedChildren().map(([k]) => k)).toEqual(['fc1', 'fc2']);
    expect(net.namedModules().map(([k]) => k)).toEqual(['', 'fc1', 'fc2']);
  });

  test('state dict holds parameters and persistent buffers, nested, in PyTorch order', () => {
    const m = new WithBuffers();
    expect(Object.keys(m.stateDict())).toEqual([
      'scale', 'steps', 'conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var',
      'bn.num_batches_tracked', 'head.1.weight', 'head.1.bias',
    ]);
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['steps', 'scratch', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    expect(m.stateDict()['bn.num_batches_tracked'].dtype).toBe('int64');
  });

  test('state dict tensors share storage with the parameters and do not require grad', () => {
    const net = new SimpleNet();
    const sd = net.stateDict();
    expect(sd['fc1.bias'].requiresGrad).toBe(false);
    nt.noGrad(() => net.fc1.bias!.fill_(3));
    expectTensor(sd['fc1.bias'], [3, 3, 3, 3, 3]);
  });

  test('a parameter shared by two modules is listed once', () => {
    class Tied extends nn.Module {
      a = new nn.Linear(2, 2);
      b = new nn.Linear(2, 2);
      constructor() {
        super();
        this.registerParameter('w', this.a.weight);
      }
      forward(x: nt.Tensor) { return x; }
    }
    expect(new Tied().parameters()).toHaveLength(4);
  });

  test('fields assigned later (and set to null) are picked up', () => {
    const net = new SimpleNet() as SimpleNet & { extra?: nt.nn.Module | null };
    net.extra = new nn.Linear(2, 2);
    expect(net.namedChildren().map(([k]) => k)).toEqual(['fc1', 'fc2', 'extra']);
    net.extra = null;
    expect(net.namedChildren().map(([k]) => k)).toEqual(['fc1', 'fc2']);
  });

  test('plain tensors are not parameters; registerParameter insists on nn.Parameter', () => {
    class P extends nn.Module {
      t = nt.ones([2]);
      forward(x: nt.Tensor) { return x; }
    }
    const p = new P();
    expect(p.parameters()).toHaveLength(0);
    expect(() => p.registerParameter('t2', nt.ones([2]) as never)).toThrow(/nn.Parameter/);
    expect(() => p.register('a.b', new nn.ReLU())).toThrow(/without '\.'/);
  });

  test('train() and eval() reach every module', () => {
    const m = new WithBuffers();
    m.eval();
    expect(m.modules().every((x) => !x.training)).toBe(true);
    m.train();
    expect(m.modules().every((x) => x.training)).toBe(true);
  });

  test('apply visits children first, then the module itself', () => {
    const names: string[] = [];
    new nn.Sequential(new nn.Linear(2, 2), new nn.Sequential(new nn.ReLU())).apply((m) => names.push(m.constructor.name));
    expect(names).toEqual(['Linear', 'ReLU', 'Sequential', 'Sequential']);
  });

  test('zeroGrad drops gradients (or zeroes them)', () => {
    const net = new SimpleNet();
    net.forward(nt.ones([3])).sum().backward();
    expect(net.fc1.weight.grad).not.toBeNull();
    net.zeroGrad(false);
    expectTensor(net.fc2.bias!.grad!, [0, 0]);
    net.zeroGrad();
    expect(net.fc1.weight.grad).toBeNull();
  });
});

describe('printing', () => {
  test('matches PyTorch', () => {
    expect(new SimpleNet().toString()).toBe(
      'SimpleNet(\n  (fc1): Linear(in_features=3, out_features=5, bias=True)\n  (fc2): Linear(in_features=5, out_features=2, bias=True)\n)');
    expect(new nn.Sequential(
      new nn.Conv2d(1, 32, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(32), new nn.MaxPool2d(2), new nn.Dropout(0.25),
      new nn.Sequential(new nn.Flatten(), new nn.LayerNorm(8), new nn.GELU()), new nn.LSTM(3, 5, { numLayers: 2, batchFirst: true }),
      new nn.Embedding(10, 3, { paddingIdx: 0 }), new nn.AdaptiveAvgPool2d([1, 1]), new nn.Softmax(1),
    ).toString()).toBe([
      'Sequential(',
      '  (0): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)',
      '  (1): BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)',
      '  (3): Dropout(p=0.25, inplace=False)',
      '  (4): Sequential(',
      '    (0): Flatten(start_dim=1, end_dim=-1)',
      '    (1): LayerNorm((8,), eps=1e-05, elementwise_affine=True)',
      "    (2): GELU(approximate='none')",
      '  )',
      '  (5): LSTM(3, 5, num_layers=2, batch_first=True)',
      '  (6): Embedding(10, 3, padding_idx=0)',
      '  (7): AdaptiveAvgPool2d(output_size=(1, 1))',
      '  (8): Softmax(dim=1)',
      ')',
    ].join('\n'));
  });
});

describe('initialisation and forward', () => {
  test('the seed SimpleNet gives PyTorch\'s output under the same seed (same init as torch.nn)', () => {
    nt.manualSeed(0);
    const net = new SimpleNet();
    expectTensor(net.forward(nt.tensor([0.1, 0.2, 0.3])), [-0.14339841902256012, 0.28756123781204224], 1e-6);
    nt.manualSeed(1);
    const c = new nn.Conv2d(1, 2, 3);
    expectTensor(c.weight.flatten().slice(0, 0, 4), [0.1717544049024582, -0.14712607860565186, -0.0646204948425293, 0.15645632147789001]);
    expectTensor(c.bias!, [0.29138892889022827, 0.10373004525899887]);
  });

  test('BatchNorm normalizes with batch statistics in training and updates running stats', () => {
    const bn = new nn.BatchNorm1d(2);
    const y = bn.forward(nt.tensor([[1, 2], [3, 6]]));
    expectTensor(y, [[-0.9999949932098389, -0.9999987483024597], [0.9999949932098389, 0.9999987483024597]]);
    expectTensor(bn.running_mean!, [0.2, 0.4]);
    expectTensor(bn.running_var!, [1.1, 1.7]);
    expect(bn.num_batches_tracked!.item()).toBe(1n);
    bn.eval();
    // eval uses the running stats: (1 - 0.2) / sqrt(1.1 + 1e-5)
    expectTensor(bn.forward(nt.tensor([[1, 2]])), [[0.8 / Math.sqrt(1.1 + 1e-5), 1.6 / Math.sqrt(1.7 + 1e-5)]], 1e-6);
  });

  test('Dropout drops in training and is the identity in eval', () => {
    const d = new nn.Dropout(0.5);
    const x = nt.ones([1000]);
    const y = d.forward(x);
    const kept = (y.ne(0).sum().item() as bigint);
    expect(Number(kept)).toBeGreaterThan(400);
    expect(Number(kept)).toBeLessThan(600);
    expect(y.max().item()).toBe(2);
    d.eval();
    expectTensor(d.forward(nt.tensor([1, 2])), [1, 2]);
  });

  test('recurrent modules: shapes, unbatched inputs and initial states', () => {
    const lstm = new nn.LSTM(3, 4, { numLayers: 2, batchFirst: true });
    const [o, [h, c]] = lstm.forward(nt.randn([2, 5, 3]));
    expect([o.shape, h.shape, c.shape]).toEqual([[2, 5, 4], [2, 2, 4], [2, 2, 4]]);
    const [ou, [hu]] = lstm.forward(nt.randn([5, 3]));
    expect([ou.shape, hu.shape]).toEqual([[5, 4], [2, 4]]);
    const gru = new nn.GRU(3, 4, { bidirectional: true });
    const [go, gh] = gru.forward(nt.randn([5, 2, 3]), nt.zeros([2, 2, 4]));
    expect([go.shape, gh.shape]).toEqual([[5, 2, 8], [2, 2, 4]]);
    expect(() => gru.forward(nt.randn([5, 2, 3]), nt.zeros([1, 2, 4]))).toThrow(/expected h0 of shape \[2, 2, 4\] but got \[1, 2, 4\]/);
    // the same sequence, batched or alone, gives the same output
    const x = nt.randn([1, 5, 3]);
    expectTensor(lstm.forward(x)[0].squeeze(0), lstm.forward(x.squeeze(0))[0].toArray(), 1e-6);
  });

  test('attention: batch-first and sequence-first give the same result', () => {
    nt.manualSeed(3);
    const mha = new nn.MultiheadAttention(4, 2);
    const mhaBf = new nn.MultiheadAttention(4, 2, { batchFirst: true });
    mhaBf.loadStateDict(mha.stateDict());
    const q = nt.randn([3, 2, 4]);
    const [a, w] = mha.forward(q, q, q);
    const [b] = mhaBf.forward(q.transpose(0, 1), q.transpose(0, 1), q.transpose(0, 1));
    expectTensor(b.transpose(0, 1), a.toArray(), 1e-6);
    expect(w!.shape).toEqual([2, 3, 3]);
    expectTensor(w!.sum(-1), [[1, 1, 1], [1, 1, 1]], 1e-6);
    const layer = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8, dropout: 0, batchFirst: true });
    expect(layer.forward(nt.randn([2, 3, 4])).shape).toEqual([2, 3, 4]);
  });

  test('Sequential and ModuleList', () => {
    const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
    expect(seq.length).toBe(2);
    expect(seq.at(-1)).toBeInstanceOf(nn.ReLU);
    seq.append(new nn.Linear(3, 1));
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(seq.forward(nt.ones([4, 2])).shape).toEqual([4, 1]);
    const named = new nn.Sequential({ enc: new nn.Linear(2, 2), act: new nn.Tanh() });
    expect(named.namedChildren().map(([k]) => k)).toEqual(['enc', 'act']);
    const list = new nn.ModuleList([new nn.Linear(1, 1), new nn.Linear(1, 1)]);
    expect([...list]).toHaveLength(2);
    expect(list.parameters()).toHaveLength(4);
    expect(() => list.forward()).toThrow(/no forward/);
    expect(() => seq.at(5)).toThrow(/out of range/);
  });
});

describe('to(), dtype and devices', () => {
  test('to(float64) casts floating parameters in place, keeps integer buffers and parameter identity', () => {
    const m = new WithBuffers();
    const w = m.conv.weight;
    m.to('float64');
    expect(m.conv.weight).toBe(w);
    expect(w.dtype).toBe('float64');
    expect(m.stateDict()['bn.num_batches_tracked'].dtype).toBe('int64');
    expect(m.forward(nt.ones([2, 1, 3, 3], { dtype: 'float64' })).dtype).toBe('float64');
    // parameters still train after the cast
    m.forward(nt.ones([2, 1, 3, 3], { dtype: 'float64' })).sum().backward();
    expect(w.grad!.dtype).toBe('float64');
  });

  test.each(devices)('a module on %s runs inputs on its device', (device) => {
    const net = new SimpleNet().to(device);
    expect(net.fc1.weight.device).toBe(device === 'cuda' ? 'cuda:0' : device);
    expect(net.forward(nt.ones([3], { device })).device).toBe(net.fc1.weight.device);
  });

  test('an input of another dtype names both dtypes and the fixes', () => {
    expect(() => new SimpleNet().forward(nt.ones([3], { dtype: 'float64' }))).toThrow(
      "Linear(in_features=3, out_features=5, bias=True) has float32 parameters but the input is float64: convert the input with .to('float32') or the module with .to('float64')");
  });
});

describe('bad input names the module and what it expected', () => {
  test('wrong shapes', () => {
    expect(() => new nn.Linear(3, 5).forward(nt.ones([2, 4]))).toThrow(
      'Linear(in_features=3, out_features=5, bias=True) expected input [..., 3] but got [2, 4]');
    expect(() => new nn.Conv2d(1, 4, 3).forward(nt.ones([2, 3, 8, 8]))).toThrow(
      'Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1)) expected input [N, 1, H, W] or [1, H, W] but got [2, 3, 8, 8]');
    expect(() => new nn.BatchNorm2d(4).forward(nt.ones([2, 4, 3]))).toThrow(/expected input \[N, 4, H, W\] but got \[2, 4, 3\]/);
    expect(() => new nn.BatchNorm1d(4).forward(nt.ones([1, 4]))).toThrow(/more than 1 value per channel/);
    expect(() => new nn.LayerNorm([2, 3]).forward(nt.ones([3, 2]))).toThrow(/expected input \[\.\.\., 2, 3\] but got \[3, 2\]/);
    expect(() => new nn.LSTM(3, 4).forward(nt.ones([5, 2, 2]))).toThrow(/LSTM\(3, 4\) expected input \[L, N, 3\] or \[L, 3\] but got \[5, 2, 2\]/);
    expect(() => new nn.Embedding(5, 2).forward(nt.ones([3]))).toThrow(/integer indices/);
    expect(() => new nn.Embedding(5, 2).forward(nt.tensor([7n]))).toThrow(/index out of range/);
  });

  test('bad constructor options', () => {
    expect(() => new nn.Linear(0, 3)).toThrow('Linear: expected a positive integer for inFeatures but received number 0');
    expect(() => new nn.Linear(3, 2, { bais: false } as never)).toThrow(/unknown option 'bais'; known options: bias, dtype, device/);
    expect(() => new nn.Conv2d(3, 4, [3, 3, 3])).toThrow(/kernelSize to be an integer >= 1 or 2 of them/);
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrow(/divisible by groups/);
    expect(() => new nn.Dropout(1.5)).toThrow(/probability p in \[0, 1\]/);
    expect(() => new nn.MultiheadAttention(6, 4)).toThrow(/divisible by numHeads/);
    expect(() => new nn.RNN(3, 4, { nonlinearity: 'sigmoid' as never })).toThrow(/nonlinearity must be 'tanh' or 'relu'/);
  });

  test('loadStateDict lists missing, unexpected and mis-shaped keys, and changes nothing on error', () => {
    const net = new SimpleNet();
    const before = net.fc1.weight.toArray();
    const sd = new SimpleNet().stateDict();
    delete sd['fc2.bias'];
    sd['fc3.weight'] = nt.ones([1]);
    expect(() => net.loadStateDict(sd)).toThrow(
      'Error(s) in loading state_dict for SimpleNet:\n\tMissing key(s) in state_dict: "fc2.bias"\n\tUnexpected key(s) in state_dict: "fc3.weight"');
    expect(net.fc1.weight.toArray()).toEqual(before);
    const r = net.loadStateDict(sd, { strict: false });
    expect(r).toEqual({ missingKeys: ['fc2.bias'], unexpectedKeys: ['fc3.weight'] });
    expectTensor(net.fc1.weight, sd['fc1.weight'].toArray());
    const bad = new SimpleNet().stateDict();
    bad['fc1.weight'] = nt.ones([5, 4]);
    expect(() => net.loadStateDict(bad, { strict: false })).toThrow(
      'size mismatch for fc1.weight: copying a param with shape [5, 4] from checkpoint, the shape in current model is [5, 3]');
  });

  test('a parameter of a built-in module replaced by a new object is refused with the fix', () => {
    const lin = new nn.Linear(2, 2);
    lin.weight = new nn.Parameter(nt.zeros([2, 2]));
    expect(() => lin.parameters()).toThrow(/copy new values in instead/);
  });
});

describe('F', () => {
  const x = () => nt.tensor([[1, 2, 0.5], [0, -1, 3]]);
  const t = () => nt.tensor([2n, 0n]);

  test('crossEntropy with weight, ignoreIndex, labelSmoothing and reductions', () => {
    expect(F.crossEntropy(x(), t()).item()).toBeCloseTo(2.5151262283325195, 6);
    expect(F.crossEntropy(x(), t(), { labelSmoothing: 0.1 }).item()).toBeCloseTo(2.4484593868255615, 6);
    expect(F.crossEntropy(x(), t(), { weight: nt.tensor([1, 2, 3]) }).item()).toBeCloseTo(2.2397475242614746, 6);
    expectTensor(F.crossEntropy(x(), t(), { reduction: 'none' }), [1.9643688201904297, 3.0658838748931885]);
    expect(F.crossEntropy(x(), nt.tensor([2n, -100n])).item()).toBeCloseTo(1.9643688201904297, 6);
  });

  test('element-wise losses', () => {
    expect(F.mseLoss(nt.tensor([1, 2]), nt.tensor([0, 4])).item()).toBe(2.5);
    expect(F.mseLoss(nt.tensor([1, 2]), nt.tensor([0, 4]), { reduction: 'sum' }).item()).toBe(5);
    expect(F.l1Loss(nt.tensor([1, 2]), nt.tensor([0, 4])).item()).toBe(1.5);
    expect(F.smoothL1Loss(nt.tensor([1, 2]), nt.tensor([0, 4]), { beta: 0.5 }).item()).toBe(1.25);
    expect(F.binaryCrossEntropyWithLogits(nt.tensor([0.5, -1]), nt.tensor([1, 0]), { posWeight: nt.tensor([2, 2]) }).item())
      .toBeCloseTo(0.6307078003883362, 6);
    // sigmoid + BCE equals BCE with logits
    const z = nt.tensor([0.3, -2, 4]);
    const y = nt.tensor([1, 0, 1]);
    expect(F.binaryCrossEntropy(z.sigmoid(), y).item()).toBeCloseTo(F.binaryCrossEntropyWithLogits(z, y).item() as number, 5);
  });

  test('losses refuse mismatched targets instead of broadcasting', () => {
    expect(() => F.mseLoss(nt.ones([4, 1]), nt.ones([4]))).toThrow('mseLoss: input [4, 1] and target [4] must have the same shape');
    expect(() => F.crossEntropy(nt.ones([4, 3]), nt.ones([4], { dtype: 'int32' }))).toThrow(/class indices as int64/);
    expect(() => F.crossEntropy(nt.ones([4, 3]), nt.zeros([3], { dtype: 'int64' }))).toThrow(/expects a target of shape \[4\] but got \[3\]/);
    expect(() => F.crossEntropy(nt.ones([2, 3]), nt.tensor([0n, 5n]))).toThrow(/out of bounds/);
    expect(() => F.mseLoss(nt.ones([2]), nt.ones([2]), { reduction: 'avg' as never })).toThrow(/expected one of 'none', 'mean', 'sum' for reduction/);
  });

  test('layers as functions agree with the modules', () => {
    const lin = new nn.Linear(3, 2);
    const inp = nt.randn([4, 3]);
    expectTensor(F.linear(inp, lin.weight, lin.bias), lin.forward(inp).toArray(), 1e-6);
    const conv = new nn.Conv2d(2, 3, 3, { padding: 'same' });
    const img = nt.randn([1, 2, 5, 5]);
    expectTensor(F.conv2d(img, conv.weight, conv.bias, { padding: 'same' }), conv.forward(img).toArray(), 1e-5);
    expectTensor(F.maxPool2d(nt.arange(16).float().reshape(1, 1, 4, 4), 2), [[[[5, 7], [13, 15]]]]);
    expectTensor(F.avgPool2d(nt.arange(16).float().reshape(1, 1, 4, 4), 2), [[[[2.5, 4.5], [10.5, 12.5]]]]);
    expectTensor(F.dropout(nt.ones([3]), { p: 0.5, training: false }), [1, 1, 1]);
    expectTensor(F.layerNorm(nt.tensor([[1, 3]]), 2), [[-0.999995, 0.999995]], 1e-6);
  });
});
