// Tensors: creation, dtypes, data access, ops with broadcasting, indexing, reductions, printing.
import * as nt from '../lib';
import { devices, expectTensor } from './helpers';

describe('creation', () => {
  test('nested arrays default to float32 and keep their shape', () => {
    const t = nt.tensor([[1, 2], [3, 4]]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 2]);
    expect(t.ndim).toBe(2);
    expect(t.numel).toBe(4);
    expect(t.device).toBe('cpu');
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
  });

  test('scalars, booleans and bigints pick their dtype', () => {
    expect(nt.tensor(3.5).shape).toEqual([]);
    expect(nt.tensor(3.5).item()).toBe(3.5);
    expect(nt.tensor([true, false]).dtype).toBe('bool');
    expect(nt.tensor([true, false]).toArray()).toEqual([true, false]);
    expect(nt.tensor([1n, -2n]).dtype).toBe('int64');
    expect(nt.tensor([]).shape).toEqual([0]);
  });

  test('all ten dtypes round-trip their values', () => {
    const values = [0, 1, 2, 3];
    for (const dtype of nt.DTYPES) {
      const t = nt.tensor(values, { dtype });
      expect(t.dtype).toBe(dtype);
      const back = t.toArray({ asNumber: true }) as unknown[];
      expect(back.map((v) => Number(v))).toEqual(dtype === 'bool' ? [0, 1, 1, 1] : values);
    }
  });

  test('int64 round-trips through bigint beyond 2^53', () => {
    const big = 2n ** 60n + 3n;
    const t = nt.tensor([big, -big]);
    expect(t.item === undefined).toBe(false);
    expect(t.dataSync()).toEqual(new BigInt64Array([big, -big]));
    expect(t.index(0).item()).toBe(big);
    expect(t.toArray()).toEqual([big, -big]);
    expect(() => nt.tensor([big]).toArray({ asNumber: true })).not.toThrow();
  });

  test('typed arrays keep their dtype; their memory is copied, or shared over a SharedArrayBuffer', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = nt.tensor(data, { shape: [2, 3] });
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    data[0] = 42; // copied: an ArrayBuffer can be detached (transferred) and freed under the tensor
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const shared = new Float32Array(new SharedArrayBuffer(8));
    const s = nt.tensor(shared);
    shared[0] = 42; // shares memory, like torch.from_numpy
    expect(s.toArray()).toEqual([42, 0]);
    expect(nt.tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(nt.tensor(new Float64Array([1, 2])).dtype).toBe('float64');
    expect(nt.tensor(new Uint8Array([1, 2])).dtype).toBe('uint8');
    expect(nt.tensor(new BigInt64Array([1n])).dtype).toBe('int64');
    expect(nt.tensor(new Uint16Array([65535])).toArray()).toEqual([65535]);
  });

  test('a borrowed typed array stays alive while the tensor (or a view of it) lives', () => {
    let view: nt.Tensor;
    (() => {
      const t = nt.tensor(new Float32Array(new SharedArrayBuffer(1 << 18)).fill(7));
      view = t.narrow(0, 10, 2);
    })();
    global.gc?.();
    expect(view!.toArray()).toEqual([7, 7]);
  });

  test('a typed array with another dtype converts values', () => {
    expect(nt.tensor(new Int32Array([1, 2]), { dtype: 'float64' }).toArray()).toEqual([1, 2]);
    expect(nt.tensor(new Float32Array([1.5]), { dtype: 'int32' }).toArray()).toEqual([1]);
  });

  test('Buffers are read as raw bytes of the dtype', () => {
    const buf = Buffer.alloc(8);
    buf.writeFloatLE(1.5, 0);
    buf.writeFloatLE(-2, 4);
    expect(nt.tensor(buf, { dtype: 'float32' }).toArray()).toEqual([1.5, -2]);
    expect(nt.tensor(Buffer.from([1, 2, 3])).toArray()).toEqual([1, 2, 3]);
    // an unaligned Buffer slice is copied rather than borrowed
    const odd = Buffer.alloc(9).subarray(1);
    odd.writeFloatLE(3.25, 0);
    expect(nt.tensor(odd, { dtype: 'float32', shape: [2] }).toArray()).toEqual([3.25, 0]);
    expect(() => nt.tensor(Buffer.alloc(7), { dtype: 'float32' })).toThrow(/whole number of float32/);
  });

  test('factories', () => {
    expect(nt.zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(nt.ones([3], { dtype: 'int32' }).toArray()).toEqual([1, 1, 1]);
    expect(nt.full([2], 7).toArray()).toEqual([7, 7]);
    expect(nt.eye(2).toArray()).toEqual([[1, 0], [0, 1]]);
    expect(nt.eye(2, 3).shape).toEqual([2, 3]);
    expect(nt.arange(5).toArray()).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(nt.arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(nt.linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(nt.zerosLike(nt.ones([2, 3], { dtype: 'float64' })).dtype).toBe('float64');
    expect(nt.onesLike(nt.ones([2]), { dtype: 'int64' }).toArray()).toEqual([1n, 1n]);
    const r = nt.randint(3, 5, [100]).toArray({ asNumber: true }) as number[];
    expect(r.every((v) => v === 3 || v === 4)).toBe(true);
    const u = nt.rand([1000]);
    expect(u.min().item()).toBeGreaterThanOrEqual(0);
    expect(u.max().item()).toBeLessThan(1);
  });

  test('manualSeed makes random tensors reproducible', () => {
    nt.manualSeed(42);
    const a = nt.randn([5]).toArray();
    nt.manualSeed(42);
    expect(nt.randn([5]).toArray()).toEqual(a);
  });

  test('requiresGrad option', () => {
    expect(nt.zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(nt.tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(nt.tensor([1, 2]).requiresGrad).toBe(false);
  });
});

describe('ops', () => {
  const a = () => nt.tensor([[1, 2, 3], [4, 5, 6]]);

  test('arithmetic with broadcasting, as methods and functions', () => {
    expectTensor(a().add(nt.tensor([10, 20, 30])), [[11, 22, 33], [14, 25, 36]]);
    expectTensor(nt.add(a(), 1), [[2, 3, 4], [5, 6, 7]]);
    expectTensor(nt.add(1, a()), [[2, 3, 4], [5, 6, 7]]);
    expectTensor(a().sub(nt.tensor([[1], [2]])), [[0, 1, 2], [2, 3, 4]]);
    expectTensor(nt.sub(10, nt.tensor([1, 2])), [9, 8]);
    expectTensor(a().mul(2), [[2, 4, 6], [8, 10, 12]]);
    expectTensor(a().div(2), [[0.5, 1, 1.5], [2, 2.5, 3]]);
    expectTensor(nt.div(1, nt.tensor([2, 4])), [0.5, 0.25]);
    expectTensor(a().pow(2), [[1, 4, 9], [16, 25, 36]]);
    expectTensor(nt.tensor([2, 3]).pow(nt.tensor([3, 2])), [8, 9]);
    expectTensor(a().neg(), [[-1, -2, -3], [-4, -5, -6]]);
  });

  test('integer tensors keep integer arithmetic and promote with floats', () => {
    const i = nt.tensor([1, 2], { dtype: 'int64' });
    expect(i.add(1).dtype).toBe('int64');
    expect(i.add(0.5).dtype).toBe('float32');
    expect(i.add(nt.tensor([0.5, 0.5])).toArray()).toEqual([1.5, 2.5]);
  });

  test('unary math', () => {
    expectTensor(nt.tensor([1, 4]).sqrt(), [1, 2]);
    expectTensor(nt.tensor([0]).exp(), [1]);
    expectTensor(nt.tensor([Math.E]).log(), [1], 1e-6);
    expectTensor(nt.tensor([-2, 3]).abs(), [2, 3]);
    expectTensor(nt.tensor([-1, 0, 2]).relu(), [0, 0, 2]);
    expectTensor(nt.tensor([0]).sigmoid(), [0.5]);
    expectTensor(nt.tensor([0]).tanh(), [0]);
    expectTensor(nt.tensor([-1.5, 1.5]).clamp(-1, 1), [-1, 1]);
    expectTensor(nt.tensor([-1.5, 1.5]).clamp({ min: 0 }), [0, 1.5]);
  });

  test('matmul, mm, bmm', () => {
    const m = nt.tensor([[1, 2], [3, 4]]);
    expectTensor(m.matmul(m), [[7, 10], [15, 22]]);
    expectTensor(nt.mm(m, nt.eye(2)), [[1, 2], [3, 4]]);
    expectTensor(m.matmul(nt.tensor([1, 1])), [3, 7]);
    expectTensor(nt.bmm(m.unsqueeze(0), m.unsqueeze(0)), [[[7, 10], [15, 22]]]);
  });

  test('comparisons return bool tensors', () => {
    expect(nt.tensor([1, 2, 3]).gt(2).toArray()).toEqual([false, false, true]);
    expect(nt.tensor([1, 2, 3]).eq(nt.tensor([1, 0, 3])).toArray()).toEqual([true, false, true]);
    expect(nt.tensor([1, 2]).le(1).dtype).toBe('bool');
  });

  test('reductions with dim and keepdim', () => {
    expectTensor(a().sum(), 21);
    expectTensor(a().sum(0), [5, 7, 9]);
    expectTensor(a().sum(1, true), [[6], [15]]);
    expectTensor(a().sum({ dim: [0, 1], keepdim: true }), [[21]]);
    expectTensor(a().mean(1), [2, 5]);
    expectTensor(a().mean(-1, true), [[2], [5]]);
    expect(a().sum({ dtype: 'float64' }).dtype).toBe('float64');
    expectTensor(a().max(), 6);
    expectTensor(a().min(), 1);
    const { values, indices } = a().max(1);
    expectTensor(values, [3, 6]);
    expect(indices.toArray()).toEqual([2n, 2n]);
    const [v, i] = nt.min(a(), 0);
    expectTensor(v, [1, 2, 3]);
    expect(i.toArray({ asNumber: true })).toEqual([0, 0, 0]);
    expect(a().argmax().item()).toBe(5n);
    expect(a().argmax(0).toArray({ asNumber: true })).toEqual([1, 1, 1]);
    expectTensor(nt.tensor([1, 2, 3, 4]).std(), 1.2909944, 1e-6);
    expectTensor(nt.tensor([1, 2, 3, 4]).var(null, false), 1.25);
    expectTensor(nt.tensor([1, 2, 3, 4]).prod(), 24);
    expectTensor(nt.max(nt.tensor([1, 5]), nt.tensor([3, 2])), [3, 5]);
  });

  test('softmax and logSoftmax', () => {
    const s = nt.tensor([[0, Math.log(3)]]).softmax(1);
    expectTensor(s, [[0.25, 0.75]]);
    expectTensor(nt.tensor([[0, Math.log(3)]]).logSoftmax(-1), [[Math.log(0.25), Math.log(0.75)]], 1e-6);
  });

  test('shape ops', () => {
    expect(a().reshape([3, 2]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(a().reshape(-1).shape).toEqual([6]);
    expect(a().view(3, 2).shape).toEqual([3, 2]);
    expect(a().flatten().shape).toEqual([6]);
    expect(a().unsqueeze(0).shape).toEqual([1, 2, 3]);
    expect(a().unsqueeze(0).squeeze().shape).toEqual([2, 3]);
    expect(a().unsqueeze(2).squeeze(2).shape).toEqual([2, 3]);
    expect(a().permute(1, 0).toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(a().transpose(0, 1).isContiguous).toBe(false);
    expect(a().transpose(0, 1).contiguous().isContiguous).toBe(true);
    expect(a().t().shape).toEqual([3, 2]);
    expect(nt.tensor([1, 2]).expand(2, 2).toArray()).toEqual([[1, 2], [1, 2]]);
    expect(nt.tensor([1, 2]).repeat(2).toArray()).toEqual([1, 2, 1, 2]);
    expect(nt.tensor([1, 2, 3]).flip(0).toArray()).toEqual([3, 2, 1]);
    expect(nt.cat([a(), a()], 0).shape).toEqual([4, 3]);
    expect(nt.cat([a(), a()], 1).shape).toEqual([2, 6]);
    expect(nt.stack([nt.tensor([1, 2]), nt.tensor([3, 4])], 1).toArray()).toEqual([[1, 3], [2, 4]]);
    expect(nt.arange(5).split(2).map((t) => t.shape[0])).toEqual([2, 2, 1]);
    expect(nt.arange(5).split([1, 4]).map((t) => t.shape[0])).toEqual([1, 4]);
    expect(nt.arange(6).chunk(3).map((t) => t.toArray({ asNumber: true }))).toEqual([[0, 1], [2, 3], [4, 5]]);
    expect(nt.ones([3, 3]).tril().toArray()).toEqual([[1, 0, 0], [1, 1, 0], [1, 1, 1]]);
  });

  test('indexing and slicing', () => {
    expect(a().index(1).toArray()).toEqual([4, 5, 6]);
    expect(a().index(-1, 0).item()).toBe(4);
    expect(a().slice(1, 1).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(a().slice(1, 0, null, 2).toArray()).toEqual([[1, 3], [4, 6]]);
    expect(a().slice(1, -2, -1).toArray()).toEqual([[2], [5]]);
    expect(a().narrow(1, 1, 2).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(a().select(1, 0).toArray()).toEqual([1, 4]);
    expect(() => a().index(5)).toThrow(/out of range/);
  });

  test('gather, indexSelect, maskedFill, where', () => {
    const idx = nt.tensor([[0, 0], [1, 0]], { dtype: 'int64' });
    expect(nt.tensor([[1, 2], [3, 4]]).gather(1, idx).toArray()).toEqual([[1, 1], [4, 3]]);
    expect(a().indexSelect(1, nt.tensor([2, 0], { dtype: 'int64' })).toArray()).toEqual([[3, 1], [6, 4]]);
    const x = nt.tensor([1, -2, 3]);
    expect(x.maskedFill(x.lt(0), 0).toArray()).toEqual([1, 0, 3]);
    expect(nt.where(x.gt(0), x, nt.zeros([3])).toArray()).toEqual([1, 0, 3]);
    expect(nt.where(x.gt(0), x, -1).toArray()).toEqual([1, -1, 3]);
    expect(nt.where(x.gt(0), 5, x).toArray()).toEqual([5, -2, 5]);
  });

  test('in-place ops mutate and return the same tensor', () => {
    const t = nt.tensor([1, 2]);
    expect(t.add_(1)).toBe(t);
    t.mul_(nt.tensor([2, 3]));
    expect(t.toArray()).toEqual([4, 9]);
    t.sub_(1).div_(2);
    expect(t.toArray()).toEqual([1.5, 4]);
    t.fill_(3);
    expect(t.toArray()).toEqual([3, 3]);
    t.copy_(nt.tensor([5, 6]));
    expect(t.toArray()).toEqual([5, 6]);
    t.zero_();
    expect(t.toArray()).toEqual([0, 0]);
  });

  test('conversions: to, clone, detach, dtype helpers', () => {
    const t = nt.tensor([1.7, -2.2]);
    expect(t.to('int32').toArray()).toEqual([1, -2]);
    expect(t.to({ dtype: 'float64' }).dtype).toBe('float64');
    expect(t.to('float16').dataSync()).toBeInstanceOf(Float32Array);
    expect(t.to('bfloat16').to('float32').toArray()).toEqual([1.703125, -2.203125]);
    expect(t.double().dtype).toBe('float64');
    const c = t.clone();
    c.fill_(0);
    expect(t.toArray()).not.toEqual([0, 0]);
    expect(t.cpu().device).toBe('cpu');
    expect(t.to(nt.device('cpu')).device).toBe('cpu');
  });

  test('dataSync returns the typed array of the dtype', () => {
    expect(nt.tensor([1, 2]).dataSync()).toBeInstanceOf(Float32Array);
    expect(nt.tensor([1, 2], { dtype: 'float64' }).dataSync()).toBeInstanceOf(Float64Array);
    expect(nt.tensor([1, 2], { dtype: 'int32' }).dataSync()).toBeInstanceOf(Int32Array);
    expect(nt.tensor([1, 2], { dtype: 'int64' }).dataSync()).toBeInstanceOf(BigInt64Array);
    expect(nt.tensor([true]).dataSync()).toBeInstanceOf(Uint8Array);
    // non-contiguous views come back in logical order
    expect(Array.from(nt.tensor([[1, 2], [3, 4]]).t().dataSync() as Float32Array)).toEqual([1, 3, 2, 4]);
  });

  test('item needs exactly one element', () => {
    expect(nt.tensor([[5]]).item()).toBe(5);
    expect(nt.tensor([true]).item()).toBe(true);
    expect(() => nt.tensor([1, 2]).item()).toThrow(/exactly one element.*\[2\]/);
  });
});

describe('printing', () => {
  test('matches PyTorch for floats, ints, bools and scientific values', () => {
    expect(nt.tensor([[1, 2], [3, 4]]).toString()).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    expect(nt.tensor([0.1, 0.2, -3.5]).toString()).toBe('tensor([ 0.1000,  0.2000, -3.5000])');
    expect(nt.tensor([1e-5, 1]).toString()).toBe('tensor([1.0000e-05, 1.0000e+00])');
    expect(nt.tensor([1, 2], { dtype: 'int64' }).toString()).toBe('tensor([1, 2])');
    expect(nt.tensor([1, 2], { dtype: 'int32' }).toString()).toBe('tensor([1, 2], dtype=int32)');
    expect(nt.tensor([true, false]).toString()).toBe('tensor([ True, False])');
    expect(nt.tensor(2.5).toString()).toBe('tensor(2.5000)');
    expect(nt.zeros([0, 3]).toString()).toBe('tensor([], size=(0, 3))');
    expect(nt.tensor([NaN, Infinity, 1.5]).toString()).toBe('tensor([   nan,    inf, 1.5000])');
    expect(nt.zeros([2, 1, 2]).toString()).toBe('tensor([[[0., 0.]],\n\n        [[0., 0.]]])');
  });

  test('shows requires_grad and grad_fn', () => {
    const w = nt.ones([2], { requiresGrad: true });
    expect(w.toString()).toBe('tensor([1., 1.], requires_grad=True)');
    expect(w.mul(2).sum().toString()).toBe('tensor(4., grad_fn=<SumBackward0>)');
  });

  test('summarizes large tensors', () => {
    const s = nt.arange(2000).toString();
    expect(s).toBe('tensor([   0,    1,    2,  ..., 1997, 1998, 1999])');
    const row = '[1., 1., 1.,  ..., 1., 1., 1.]';
    const rows = [row, row, row, '...', row, row, row].join(',\n        ');
    expect(nt.ones([40, 40]).toString()).toBe(`tensor([${rows}])`);
  });

  test('wraps long rows at 80 columns like PyTorch', () => {
    expect(nt.arange(30, { dtype: 'float32' }).div(7).toString()).toBe(
      'tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n' +
      '        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n' +
      '        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n' +
      '        3.8571, 4.0000, 4.1429])');
  });
});

describe('devices', () => {
  test('device strings', () => {
    expect(String(nt.device('cpu'))).toBe('cpu');
    expect(nt.device('cuda:1').index).toBe(1);
    expect(() => nt.device('gpu')).toThrow(/unknown device 'gpu'/);
    expect(nt.availableDevices()[0]).toBe('cpu');
    expect(typeof nt.cuda.isAvailable()).toBe('boolean');
    expect(nt.cuda.deviceCount()).toBeGreaterThanOrEqual(0);
  });

  test('asking for CUDA where it is absent is a clear error', () => {
    if (nt.cuda.isAvailable()) return;
    expect(() => nt.zeros([2], { device: 'cuda' })).toThrow(/CUDA is not available/);
    expect(() => nt.ones([2]).cuda()).toThrow(/CUDA is not available/);
  });

  test.each(devices)('ops run and move on %s', (device) => {
    const x = nt.tensor([[1, 2], [3, 4]], { device });
    expect(x.device).toBe(device === 'cuda' ? 'cuda:0' : device);
    expect(x.matmul(x).sum().cpu().item()).toBe(54);
    const w = nt.ones([2], { device, requiresGrad: true });
    w.mul(3).sum().backward();
    expect(w.grad!.cpu().toArray()).toEqual([3, 3]);
  });

  test('threads default to the core count unless OMP_NUM_THREADS is set', () => {
    const os = require('os');
    const expected = process.env.OMP_NUM_THREADS ? Number(process.env.OMP_NUM_THREADS) : os.availableParallelism();
    expect(nt.getNumThreads()).toBe(expected);
    nt.setNumThreads(1);
    expect(nt.getNumThreads()).toBe(1);
    nt.setNumThreads(expected);
    expect(() => nt.setNumThreads(0)).toThrow(/between 1 and/);
  });

  test('version', () => {
    expect(nt.version.nodetorch).toMatch(/^\d+\.\d+\.\d+/);
    expect(nt.version.libtorch).toMatch(/^\d+\.\d+\.\d+$/);
    expect(typeof nt.version.cuda).toBe('boolean');
  });
});
