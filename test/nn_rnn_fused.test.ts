// A one-layer LSTM or GRU runs as one autograd node on CPU (native/rnn.cc) instead of libtorch's
// per-step graph. Checked here against the equations written out step by step from tensor ops
// (float64, so any difference beyond rounding is a wrong formula), values and every gradient, in both
// layouts, with and without initial states, and with the gradient arriving through the outputs, h_n
// or c_n; and the input gradient against finite differences.
import * as nt from '../lib';

const { nn } = nt;

/** torch's LSTM equations, one step at a time, on the module's own parameters (gate order i, f, g, o). */
function reference(lstm: InstanceType<typeof nn.LSTM>, x: nt.Tensor, batchFirst: boolean, hc?: [nt.Tensor, nt.Tensor], suffix = ''): [nt.Tensor, nt.Tensor, nt.Tensor] {
  const named = Object.fromEntries(lstm.namedParameters());
  const p = Object.fromEntries(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'].map((k) => [k, named[k + suffix]]));
  const xs = batchFirst ? x.transpose(0, 1) : x; // [T, N, I]
  const [T, N] = xs.shape;
  const H = p.weight_hh_l0.shape[1];
  let h = hc ? hc[0].reshape([N, H]) : nt.zeros([N, H], { dtype: x.dtype });
  let c = hc ? hc[1].reshape([N, H]) : nt.zeros([N, H], { dtype: x.dtype });
  const outs: nt.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    let g = xs.select(0, t).matmul(p.weight_ih_l0.t()).add(h.matmul(p.weight_hh_l0.t()));
    if (p.bias_ih_l0) g = g.add(p.bias_ih_l0).add(p.bias_hh_l0);
    const [i, f, gg, o] = g.chunk(4, 1);
    c = f.sigmoid().mul(c).add(i.sigmoid().mul(gg.tanh()));
    h = o.sigmoid().mul(c.tanh());
    outs.push(h);
  }
  const out = nt.stack(outs, batchFirst ? 1 : 0);
  return [out, h.unsqueeze(0), c.unsqueeze(0)];
}

function maxDiff(a: nt.Tensor, b: nt.Tensor): number {
  return a.sub(b).abs().max().item() as number;
}

/** sum(t * sin(0.1 k i)) over t's elements i: a loss whose gradient differs element by element. */
function weighted(t: nt.Tensor, k: number): nt.Tensor {
  return t.mul(nt.arange(t.numel, { dtype: 'float64' }).reshape([...t.shape]).mul(0.1 * k).sin()).sum();
}

/** The gradients of loss with respect to each of wrt; every one must exist. */
function gradOf(loss: nt.Tensor, wrt: nt.Tensor[]): nt.Tensor[] {
  return nt.autograd.grad(loss, wrt).map((g) => {
    expect(g).not.toBeNull();
    return g as nt.Tensor;
  });
}

describe('one-layer LSTM as one autograd node', () => {
  const cases: [string, boolean, boolean, boolean, 'out' | 'h' | 'c' | 'all'][] = [
    ['batch first, no initial state, loss on the outputs', true, false, true, 'out'],
    ['time first, initial states, loss on the outputs', false, true, true, 'out'],
    ['batch first, initial states, loss on h_n', true, true, true, 'h'],
    ['time first, no initial state, loss on c_n', false, false, true, 'c'],
    ['batch first, initial states, no bias, loss on all three', true, true, false, 'all'],
  ];
  test.each(cases)('%s: values and gradients equal the step-by-step LSTM', (_name, batchFirst, withState, bias, lossOn) => {
    nt.manualSeed(11);
    const lstm = new nn.LSTM(3, 4, { batchFirst, bias }).double();
    const [N, T] = [2, 5];
    const x = nt.randn(batchFirst ? [N, T, 3] : [T, N, 3], { dtype: 'float64' }).requiresGrad_();
    const h0 = nt.randn([1, N, 4], { dtype: 'float64' }).requiresGrad_();
    const c0 = nt.randn([1, N, 4], { dtype: 'float64' }).requiresGrad_();
    const inputs = withState ? [x, h0, c0] : [x];
    const params = lstm.parameters();
    const grads = (outs: nt.Tensor[]): nt.Tensor[] => {
      const [out, h, c] = outs;
      const loss = lossOn === 'out' ? weighted(out, 1) : lossOn === 'h' ? weighted(h, 2) : lossOn === 'c' ? weighted(c, 3) : weighted(out, 1).add(weighted(h, 2)).add(weighted(c, 3));
      return gradOf(loss, [...inputs, ...params]);
    };
    const [out, [h, c]] = withState ? lstm(x, [h0, c0]) : lstm(x);
    expect(out.gradFn).toBe('FusedLstmBackward'); // the fused node ran, not at::lstm
    const ref = reference(lstm, x, batchFirst, withState ? [h0, c0] : undefined);
    expect(out.shape).toEqual(ref[0].shape);
    expect(h.shape).toEqual([1, N, 4]);
    expect(c.shape).toEqual([1, N, 4]);
    [out, h, c].forEach((t, k) => expect(maxDiff(t, ref[k])).toBeLessThan(1e-12));
    const got = grads([out, h, c]);
    const want = grads(ref);
    expect(got.length).toBe(want.length);
    got.forEach((g, k) => expect(maxDiff(g, want[k])).toBeLessThan(1e-12));
  });

  test('what it does not cover runs at::lstm: two layers', () => {
    const x = nt.randn([5, 2, 3]).requiresGrad_();
    expect(new nn.LSTM(3, 4, { numLayers: 2 })(x)[0].gradFn).not.toBe('FusedLstmBackward');
    expect(new nn.LSTM(3, 4)(x)[0].gradFn).toBe('FusedLstmBackward');
  });

  test.each([[true], [false]])('two directions (batchFirst %s): outputs and gradients equal the step-by-step pair', (batchFirst) => {
    nt.manualSeed(13);
    const lstm = new nn.LSTM(3, 4, { batchFirst, bidirectional: true }).double();
    const [N, T] = [2, 5];
    const x = nt.randn(batchFirst ? [N, T, 3] : [T, N, 3], { dtype: 'float64' }).requiresGrad_();
    const h0 = nt.randn([2, N, 4], { dtype: 'float64' }).requiresGrad_();
    const c0 = nt.randn([2, N, 4], { dtype: 'float64' }).requiresGrad_();
    const [out, [h, c]] = lstm(x, [h0, c0]);
    expect(out.shape).toEqual(batchFirst ? [N, T, 8] : [T, N, 8]);
    expect(h.shape).toEqual([2, N, 4]);
    // the reverse direction: the step-by-step LSTM on the sequence reversed in time, turned back
    const td = batchFirst ? 1 : 0;
    const fwd = reference(lstm, x, batchFirst, [h0.narrow(0, 0, 1), c0.narrow(0, 0, 1)]);
    const rev = reference(lstm, x.flip([td]), batchFirst, [h0.narrow(0, 1, 1), c0.narrow(0, 1, 1)], '_reverse');
    const ref = [nt.cat([fwd[0], rev[0].flip([td])], 2), nt.cat([fwd[1], rev[1]], 0), nt.cat([fwd[2], rev[2]], 0)];
    [out, h, c].forEach((t, k) => expect(maxDiff(t, ref[k])).toBeLessThan(1e-12));
    const wrt = [x, h0, c0, ...lstm.parameters()];
    const got = gradOf(weighted(out, 1).add(weighted(h, 2)).add(weighted(c, 3)), wrt);
    const want = gradOf(weighted(ref[0], 1).add(weighted(ref[1], 2)).add(weighted(ref[2], 3)), wrt);
    got.forEach((g, k) => expect(maxDiff(g, want[k])).toBeLessThan(1e-12));
  });

  test('a trace keeps aten::lstm: the traced module takes sequences of another length', async () => {
    nt.manualSeed(4);
    const lstm = new nn.LSTM(3, 4, { batchFirst: true });
    const net = new (class extends nn.Module {
      lstm = lstm;
      forward(x: nt.Tensor): nt.Tensor {
        return this.lstm.forward(x)[0];
      }
    })();
    const traced = nt.jit.trace(net, [nt.randn([2, 3, 3])]);
    const longer = nt.randn([2, 7, 3]);
    const got = (await traced.forward(longer)) as nt.Tensor;
    expect(got.shape).toEqual([2, 7, 4]);
    expect(maxDiff(got, nt.noGrad(() => lstm(longer)[0]))).toBeLessThan(1e-6);
  });

  test('the input gradient matches finite differences', () => {
    nt.manualSeed(5);
    const lstm = new nn.LSTM(2, 3, { batchFirst: true }).double();
    const x = nt.randn([2, 4, 2], { dtype: 'float64' });
    const wOut = nt.randn([2, 4, 3], { dtype: 'float64' });
    const f = (v: nt.Tensor) => lstm(v)[0].mul(wOut).sum();
    const xg = x.clone().requiresGrad_();
    const [g] = gradOf(f(xg), [xg]);
    const base = Float64Array.from(x.dataSync() as Float64Array);
    const analytic = g.dataSync() as Float64Array;
    nt.noGrad(() => {
      for (let j = 0; j < base.length; j++) {
        const at = (d: number) => {
          const v = Float64Array.from(base);
          v[j] += d;
          return f(nt.tensor(v, { dtype: 'float64', shape: [2, 4, 2] })).item() as number;
        };
        const numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
        expect(Math.abs(analytic[j] - numeric)).toBeLessThan(1e-7);
      }
    });
  });

  test('float32 training through Keras: the same numbers as at::lstm would give within float32 rounding', () => {
    // the Keras LSTM's step runs the same module; its output equals the step-by-step reference
    nt.manualSeed(2);
    const layer = new nt.layers.LSTM(4, { returnSequences: true });
    const x = nt.randn([3, 6, 5]);
    const y = layer.apply(x) as nt.Tensor;
    expect(y.shape).toEqual([3, 6, 4]);
    const [kernel, recurrent, b] = layer.getWeights();
    // Keras' layouts: kernel [I, 4H], recurrent [H, 4H], one bias [4H]
    let h = nt.zeros([3, 4]);
    let c = nt.zeros([3, 4]);
    const steps: nt.Tensor[] = [];
    for (let t = 0; t < 6; t++) {
      const g = x.select(1, t).matmul(kernel).add(h.matmul(recurrent)).add(b);
      const [i, f, gg, o] = g.chunk(4, 1);
      c = f.sigmoid().mul(c).add(i.sigmoid().mul(gg.tanh()));
      h = o.sigmoid().mul(c.tanh());
      steps.push(h);
    }
    expect(maxDiff(y, nt.stack(steps, 1))).toBeLessThan(1e-5);
  });
});

/** torch's GRU equations, one step at a time (gate order r, z, n; the reset gate scales h W_hn^T + b_hn). */
function referenceGru(gru: InstanceType<typeof nn.GRU>, x: nt.Tensor, batchFirst: boolean, h0?: nt.Tensor, suffix = ''): [nt.Tensor, nt.Tensor] {
  const named = Object.fromEntries(gru.namedParameters());
  const p = Object.fromEntries(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'].map((k) => [k, named[k + suffix]]));
  const xs = batchFirst ? x.transpose(0, 1) : x;
  const [T, N] = xs.shape;
  const H = p.weight_hh_l0.shape[1];
  let h = h0 ? h0.reshape([N, H]) : nt.zeros([N, H], { dtype: x.dtype });
  const outs: nt.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    let gx = xs.select(0, t).matmul(p.weight_ih_l0.t());
    let gh = h.matmul(p.weight_hh_l0.t());
    if (p.bias_ih_l0) {
      gx = gx.add(p.bias_ih_l0);
      gh = gh.add(p.bias_hh_l0);
    }
    const [xr, xz, xn] = gx.chunk(3, 1);
    const [hr, hz, hn] = gh.chunk(3, 1);
    const r = xr.add(hr).sigmoid();
    const z = xz.add(hz).sigmoid();
    const n = xn.add(r.mul(hn)).tanh();
    h = z.neg().add(1).mul(n).add(z.mul(h));
    outs.push(h);
  }
  return [nt.stack(outs, batchFirst ? 1 : 0), h.unsqueeze(0)];
}

describe('one-layer GRU as one autograd node', () => {
  const cases: [string, boolean, boolean, boolean, 'out' | 'h' | 'all'][] = [
    ['batch first, no initial state, loss on the outputs', true, false, true, 'out'],
    ['time first, initial state, loss on h_n', false, true, true, 'h'],
    ['batch first, initial state, no bias, loss on both', true, true, false, 'all'],
  ];
  test.each(cases)('%s: values and gradients equal the step-by-step GRU', (_name, batchFirst, withState, bias, lossOn) => {
    nt.manualSeed(12);
    const gru = new nn.GRU(3, 4, { batchFirst, bias }).double();
    const [N, T] = [2, 5];
    const x = nt.randn(batchFirst ? [N, T, 3] : [T, N, 3], { dtype: 'float64' }).requiresGrad_();
    const h0 = nt.randn([1, N, 4], { dtype: 'float64' }).requiresGrad_();
    const inputs = withState ? [x, h0] : [x];
    const params = gru.parameters();
    const grads = ([out, h]: nt.Tensor[]): nt.Tensor[] => {
      const loss = lossOn === 'out' ? weighted(out, 1) : lossOn === 'h' ? weighted(h, 2) : weighted(out, 1).add(weighted(h, 2));
      return gradOf(loss, [...inputs, ...params]);
    };
    const [out, h] = withState ? gru(x, h0) : gru(x);
    expect(out.gradFn).toBe('FusedGruBackward');
    const ref = referenceGru(gru, x, batchFirst, withState ? h0 : undefined);
    expect(h.shape).toEqual([1, N, 4]);
    expect(maxDiff(out, ref[0])).toBeLessThan(1e-12);
    expect(maxDiff(h, ref[1])).toBeLessThan(1e-12);
    const got = grads([out, h]);
    const want = grads(ref);
    got.forEach((g, k) => expect(maxDiff(g, want[k])).toBeLessThan(1e-12));
  });

  test('two layers run at::gru', () => {
    const x = nt.randn([5, 2, 3]).requiresGrad_();
    expect(new nn.GRU(3, 4, { numLayers: 2 })(x)[0].gradFn).not.toBe('FusedGruBackward');
  });

  test('two directions: outputs and gradients equal the step-by-step pair', () => {
    nt.manualSeed(14);
    const gru = new nn.GRU(3, 4, { batchFirst: true, bidirectional: true }).double();
    const x = nt.randn([2, 5, 3], { dtype: 'float64' }).requiresGrad_();
    const [out, h] = gru(x);
    const fwd = referenceGru(gru, x, true);
    const rev = referenceGru(gru, x.flip([1]), true, undefined, '_reverse');
    const ref = [nt.cat([fwd[0], rev[0].flip([1])], 2), nt.cat([fwd[1], rev[1]], 0)];
    expect(maxDiff(out, ref[0])).toBeLessThan(1e-12);
    expect(maxDiff(h, ref[1])).toBeLessThan(1e-12);
    const wrt = [x, ...gru.parameters()];
    const got = gradOf(weighted(out, 1).add(weighted(h, 2)), wrt);
    const want = gradOf(weighted(ref[0], 1).add(weighted(ref[1], 2)), wrt);
    got.forEach((g, k) => expect(maxDiff(g, want[k])).toBeLessThan(1e-12));
  });
});
