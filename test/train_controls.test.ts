// Keras 3's optimizer training controls (clipnorm, clipvalue, globalClipnorm,
// gradientAccumulationSteps, useEma) against hand-computed SGD steps in every fit path, and
// PyTorch's nn.utils.clip_grad_norm_/clip_grad_value_ against python3-torch.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { expectTensor } from './helpers';
import { Scale } from './fixtures/scale_layer';

const { layers, optimizers } = nt;
type OptOpts = nt.optimizers.OptimizerOptions;
jest.setTimeout(60000);

// Dense(1) on 2 inputs, zero weights; with `js` a custom layer after it makes fit train from JS
// with autograd (the scale is 1 and its gradient 0 while the Dense output is 0).
async function fitDense(opts: OptOpts, x: number[][], y: number[][], epochs: number, js: boolean) {
  const m = new nt.Sequential([new layers.Dense(1, { inputShape: [2] }), ...(js ? [new Scale()] : [])]);
  m.build();
  m.setWeights([nt.zeros([2, 1]), nt.zeros([1]), ...(js ? [nt.ones([1])] : [])]);
  m.compile({ optimizer: new optimizers.SGD({ learningRate: 0.1, ...opts }), loss: 'mse' });
  await m.fit(nt.tensor(x), nt.tensor(y), { epochs, batchSize: 1, verbose: 0, shuffle: false });
  const w = m.getWeights().map((t) => Array.from(t.dataSync() as Float32Array));
  return { kernel: w[0], bias: w[1][0], scale: js ? w[2][0] : undefined };
}

// The same steps through optimizer.apply (a hand-written loop) with the gradients given.
function applyDense(opts: OptOpts, grads: [number[], number][], finalize = false) {
  const opt = new optimizers.SGD({ learningRate: 0.1, ...opts });
  const k = new nt.nn.Parameter(nt.zeros([2]));
  const b = new nt.nn.Parameter(nt.zeros([1]));
  for (const [gk, gb] of grads) opt.apply([nt.tensor(gk), nt.tensor([gb])], [k, b]);
  if (finalize) opt.finalizeVariableValues();
  return { kernel: Array.from(k.dataSync() as Float32Array), bias: (b.dataSync() as Float32Array)[0] };
}

function close(got: number[], want: number[], tol = 1e-6): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    if (Math.abs(g - want[i]) > tol) throw new Error(`element ${i}: got ${g}, want ${want[i]} (all: [${got.join(', ')}])`);
  });
}

// x = [1, 2], y = 1, w = 0: mse gradients kernel [-2, -4], bias -2; SGD lr 0.1.
const clipCases: [string, OptOpts, number[], number][] = [
  ['no control', {}, [0.2, 0.4], 0.2],
  // each gradient to norm 1: kernel / sqrt(20), bias -2 -> -1
  ['clipnorm', { clipnorm: 1 }, [0.2 / Math.sqrt(20), 0.4 / Math.sqrt(20)], 0.1],
  ['clipvalue', { clipvalue: 1 }, [0.1, 0.1], 0.1],
  // all gradients by their global norm sqrt(4 + 16 + 4)
  ['globalClipnorm', { globalClipnorm: 1 }, [0.2 / Math.sqrt(24), 0.4 / Math.sqrt(24)], 0.2 / Math.sqrt(24)],
  ['global_clipnorm (snake_case)', { global_clipnorm: 1 } as OptOpts, [0.2 / Math.sqrt(24), 0.4 / Math.sqrt(24)], 0.2 / Math.sqrt(24)],
];

describe('clipping: one hand-computed SGD step', () => {
  for (const [name, opts, kernel, bias] of clipCases) {
    test(`${name}: native loop, JS autograd loop and optimizer.apply agree with the hand computation`, async () => {
      for (const js of [false, true]) {
        const r = await fitDense(opts, [[1, 2]], [[1]], 1, js);
        close(r.kernel, kernel);
        close([r.bias], [bias]);
        if (js) expect(r.scale).toBe(1);
      }
      const a = applyDense(opts, [[[-2, -4], -2]]);
      close(a.kernel, kernel);
      close([a.bias], [bias]);
    });
  }
});

describe('gradientAccumulationSteps', () => {
  test('two batches: the mean of their gradients applied once, every path', async () => {
    // batch 1 x=[1,2]: kernel [-2,-4], bias -2; batch 2 x=[3,1] at the same w=0: [-6,-2], -2; mean [-4,-3], -2
    for (const js of [false, true]) {
      const r = await fitDense({ gradientAccumulationSteps: 2 }, [[1, 2], [3, 1]], [[1], [1]], 1, js);
      close(r.kernel, [0.4, 0.3]);
      close([r.bias], [0.2]);
    }
    const a = applyDense({ gradient_accumulation_steps: 2 } as OptOpts, [[[-2, -4], -2], [[-6, -2], -2]]);
    close(a.kernel, [0.4, 0.3]);
    close([a.bias], [0.2]);
  });
  test('a batch short of the count leaves the weights unchanged', async () => {
    const r = await fitDense({ gradientAccumulationSteps: 2 }, [[1, 2]], [[1]], 1, false);
    close(r.kernel, [0, 0]);
    close([r.bias], [0]);
  });
});

describe('useEma', () => {
  // x=[1,1], y=1: step 1 -> w 0.2 (average 0.2: momentum 0 on the first step); step 2: prediction 0.6,
  // gradient -0.8 -> 0.28; average 0.5 * 0.2 + 0.5 * 0.28 = 0.24, swapped in at the end of fit
  test('the moving average replaces the weights at the end of fit, every path', async () => {
    for (const js of [false, true]) {
      const r = await fitDense({ useEma: true, emaMomentum: 0.5 }, [[1, 1]], [[1]], 2, js);
      close(r.kernel, [0.24, 0.24]);
      close([r.bias], [0.24]);
      // the scale: gradient 0 then 2 * (0.6 - 1) * 0.6 = -0.48 -> 1.048; average 1.024
      if (js) close([r.scale!], [1.024]);
    }
    const noFinal = applyDense({ useEma: true, emaMomentum: 0.5 }, [[[-2, -2], -2], [[-0.8, -0.8], -0.8]]);
    close(noFinal.kernel, [0.28, 0.28]);
    const a = applyDense({ use_ema: true, ema_momentum: 0.5 } as OptOpts, [[[-2, -2], -2], [[-0.8, -0.8], -0.8]], true);
    close(a.kernel, [0.24, 0.24]);
    close([a.bias], [0.24]);
  });
  test('emaOverwriteFrequency writes the average into the weights every that many steps', () => {
    // step 2 ends with the weights set to the average 0.24
    const a = applyDense({ useEma: true, emaMomentum: 0.5, emaOverwriteFrequency: 2 }, [[[-2, -2], -2], [[-0.8, -0.8], -0.8]]);
    close(a.kernel, [0.24, 0.24]);
  });
});

describe('config', () => {
  test('controls round-trip through getConfig, the compile config and a saved model', async () => {
    const opt = new optimizers.Adam(1e-3, { clipnorm: 0.5, clipvalue: 2, useEma: true, emaMomentum: 0.9, gradientAccumulationSteps: 3 });
    expect(opt.getConfig()).toEqual({ name: 'Adam', learningRate: 1e-3, clipnorm: 0.5, clipvalue: 2, useEma: true, emaMomentum: 0.9, gradientAccumulationSteps: 3 });
    const again = optimizers.Optimizer.fromConfig('adam', opt.getConfig());
    expect(again.getConfig()).toEqual(opt.getConfig());
    const m = new nt.Sequential([new layers.Dense(1, { inputShape: [2] })]);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 0.1, global_clipnorm: 1 } as OptOpts), loss: 'mse' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-controls-'));
    try {
      await m.save(path.join(dir, 'm.keras'));
      const loaded = await nt.loadModel<nt.Sequential>(path.join(dir, 'm.keras'));
      expect(loaded.getCompileConfig()!.optimizer.config).toMatchObject({ globalClipnorm: 1 });
      // and it clips: the saved model takes the globalClipnorm step
      loaded.setWeights([nt.zeros([2, 1]), nt.zeros([1])]);
      await loaded.fit(nt.tensor([[1, 2]]), nt.tensor([[1]]), { epochs: 1, verbose: 0 });
      close(Array.from(loaded.getWeights()[1].dataSync() as Float32Array), [0.2 / Math.sqrt(24)]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('bad controls are clear errors', () => {
    expect(() => new optimizers.SGD({ clipnorm: -1 })).toThrow(/optimizers.SGD: expected a positive number for clipnorm but received number -1/);
    expect(() => new optimizers.SGD({ clipnorm: 1, globalClipnorm: 1 })).toThrow(/only one of clipnorm and globalClipnorm/);
    expect(() => new optimizers.SGD({ gradientAccumulationSteps: 1 })).toThrow(/gradientAccumulationSteps to be an integer >= 2 but received number 1/);
    expect(() => new optimizers.Adam({ useEma: true, emaMomentum: 1.5 })).toThrow(/emaMomentum to be a number in \[0, 1\]/);
    expect(() => new optimizers.Adam({ useEma: 'yes' as unknown as boolean })).toThrow(/expected a boolean for useEma/);
    expect(() => new optimizers.Adam({ clip_norm: 1 } as OptOpts)).toThrow(/unknown option 'clip_norm'/);
  });
});

describe('nn.utils clip functions (PyTorch face)', () => {
  test('clip_grad_norm_ / clip_grad_value_ aliases match python3-torch', () => {
    const script = `
import torch, json
a = torch.nn.Parameter(torch.zeros(2, 3)); b = torch.nn.Parameter(torch.zeros(4))
a.grad = torch.tensor([[1., -2., 3.], [0.5, 4., -1.]]); b.grad = torch.tensor([2., -3., 0.25, 1.])
n = torch.nn.utils.clip_grad_norm_([a, b], 2.5)
c = torch.nn.Parameter(torch.zeros(3)); c.grad = torch.tensor([-3., 0.5, 7.])
torch.nn.utils.clip_grad_value_([c], 1.5)
d = torch.nn.Parameter(torch.zeros(3)); d.grad = torch.tensor([-3., 0.5, 7.])
m = torch.nn.utils.clip_grad_norm_(d, 4.0, norm_type=1.0)
print(json.dumps({"norm": n.item(), "a": a.grad.tolist(), "b": b.grad.tolist(), "c": c.grad.tolist(), "m": m.item(), "d": d.grad.tolist()}))
`;
    let want: { norm: number; a: number[][]; b: number[]; c: number[]; m: number; d: number[] };
    try {
      want = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 30000 }));
    } catch (e) {
      console.warn(`python3-torch is not available: ${(e as Error).message.split('\n')[0]}`);
      return;
    }
    const param = (v: number[] | number[][]) => {
      const p = new nt.nn.Parameter(nt.zeros([...nt.tensor(v).shape]));
      p.grad = nt.tensor(v);
      return p;
    };
    const a = param([[1, -2, 3], [0.5, 4, -1]]), b = param([2, -3, 0.25, 1]);
    expect(nt.nn.utils.clip_grad_norm_([a, b], 2.5)).toBeCloseTo(want.norm, 5);
    expectTensor(a.grad!, want.a, 1e-6);
    expectTensor(b.grad!, want.b, 1e-6);
    const c = param([-3, 0.5, 7]);
    nt.nn.utils.clip_grad_value_([c], 1.5);
    expectTensor(c.grad!, want.c, 1e-6);
    const d = param([-3, 0.5, 7]);
    expect(nt.nn.utils.clipGradNorm_(d, 4, { norm_type: 1 } as nt.optim.ClipGradNormOptions)).toBeCloseTo(want.m, 5);
    expectTensor(d.grad!, want.d, 1e-6);
  });
});
