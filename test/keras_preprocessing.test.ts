// Keras' image preprocessing layers: exact values on tiny images (resizes checked against PyTorch's
// interpolate), seeded reproducibility, identity outside training, a model that trains through
// them, saving, and option errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { expectTensor } from './helpers';
import { native } from '../lib/native';

const { Sequential, layers } = nt;

type Img = number[][];
/** One-channel image [h][w] -> [1, h, w, 1] */
const batch1 = (img: Img) => nt.tensor(img).reshape([1, img.length, img[0].length, 1]);
const gray = (t: nt.Tensor) => t.reshape([t.shape[1], t.shape[2]]).toArray() as Img;
const grid = (h: number, w: number, f: (r: number, c: number) => number): Img =>
  Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => f(r, c)));
const sameValues = (a: nt.Tensor, b: nt.Tensor) => (a.sub(b).abs().max().item() as number) === 0;

describe('Rescaling', () => {
  test('x * scale + offset, as float32 from integer images, always (training or not)', () => {
    const x = nt.tensor([[0, 2, 255]], { dtype: 'uint8' });
    const r = new layers.Rescaling(0.5, -1);
    const y = r.call(x);
    expect(y.dtype).toBe('float32');
    expectTensor(y, [[-1, 0, 126.5]]);
    expectTensor(r.call(x), [[-1, 0, 126.5]]);
  });

  test('per-channel scale and offset along the last dimension', () => {
    const x = nt.tensor([[[[1, 2, 3], [4, 5, 6]]]]);
    expectTensor(new layers.Rescaling([1, 10, 100], [0, 1, 2]).call(x), [[[[1, 21, 302], [4, 51, 602]]]]);
  });

  test('a native step: a model with it trains in the native loop, and its step computes what call does', async () => {
    const run = jest.spyOn(native, 'model_run');
    try {
      const m = new Sequential([new layers.Rescaling([0.5, 2], [1, -1], { inputShape: [2, 2] }), new layers.Flatten(),
        new layers.Dense(1, { kernelInitializer: 'ones' })]);
      m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
      const x = nt.tensor([[[0, 1], [2, 255]], [[4, 5], [6, 7]]], { dtype: 'uint8' });
      // per sample: sum over pixels of (c0 * 0.5 + 1, c1 * 2 - 1)
      const want = [[(0 + 2) * 0.5 + 2 + (1 + 255) * 2 - 2], [(4 + 6) * 0.5 + 2 + (5 + 7) * 2 - 2]];
      await m.fit(x, nt.tensor(want), { epochs: 1, batchSize: 2, verbose: 0 });
      expect(run.mock.calls.map((c) => c[0])).toContain('train');
      expectTensor(await m.predict(x), want);
      expect(run.mock.calls.map((c) => c[0])).toContain('predict');
      expectTensor(m.call(x), want);
      // a per-channel list that does not match the channels is named (checked on each native step)
      expect(() => m.layers[0].call(nt.ones([1, 2, 3]))).toThrow(/Rescaling: scale has 2 values but the inputs have 3 channels/);
    } finally {
      run.mockRestore();
    }
  });
});

describe('Resizing', () => {
  // A [1, 3, 4, 2] image: channel 0 is m, channel 1 is 1 - 2m.
  const m = [[0, 1, 4, 9], [2, 3, 5, 7], [8, 6, 1, 0]];
  const img = nt.tensor(m.map((row) => row.map((v) => [v, 1 - 2 * v]))).unsqueeze(0);

  // Expected values from PyTorch 1.13 on the same image:
  //   F.interpolate(img.permute(0, 3, 1, 2).double(), size, mode, align_corners=False).permute(0, 2, 3, 1)
  // with mode 'nearest-exact' for nearest (half-pixel centres, as Keras' TensorFlow and JAX backends).
  test.each([
    ['nearest', [5, 2], [[[1, -1], [9, -17]], [[1, -1], [9, -17]], [[3, -5], [7, -13]], [[6, -11], [0, 1]], [[6, -11], [0, 1]]]],
    ['nearest', [2, 6], [[[0, 1], [1, -1], [1, -1], [4, -7], [9, -17], [9, -17]], [[8, -15], [6, -11], [6, -11], [1, -1], [0, 1], [0, 1]]]],
    ['bilinear', [5, 2], [[[0.5, 0], [6.5, -12]], [[1.3, -1.6], [6.3, -11.6]], [[2.5, -4], [6, -11]], [[5.2, -9.4], [2.7, -4.4]], [[7, -13], [0.5, 0]]]],
    ['bilinear', [2, 6], [
      [[0.5, 0], [1, -1], [1.9583333333333326, -2.9166666666666656], [3.7916666666666665, -6.583333333333333], [6.375, -11.75], [8.5, -16]],
      [[6.5, -12], [5.875, -10.75], [4.708333333333334, -8.416666666666668], [2.541666666666667, -4.083333333333334], [1.875, -2.75], [1.75, -2.5]]]],
    ['bicubic', [5, 2], [[[0.01775, 0.9645], [6.83825, -12.6765]], [[0.659875, -0.31975], [6.994125, -12.98825]], [[2.3125, -3.625], [6.1875, -11.375]],
      [[5.618875, -10.23775], [2.377125, -3.75425]], [[7.96375, -14.9275], [-0.55975, 2.1195]]]],
    ['area', [5, 2], [[[0.5, 0], [6.5, -12]], [[1.5, -2], [6.25, -11.5]], [[2.5, -4], [6, -11]], [[4.75, -8.5], [3.25, -5.5]], [[7, -13], [0.5, 0]]]],
    ['area', [2, 6], [[[1, -1], [1.5, -2], [2, -3], [4.5, -8], [6.25, -11.5], [8, -15]], [[5, -9], [4.75, -8.5], [4.5, -8], [3, -5], [3.25, -5.5], [3.5, -6]]]],
  ] as const)('%s to %j matches PyTorch', (interpolation, [h, w], want) => {
    const r = new layers.Resizing(h, w, { interpolation });
    expectTensor(r.call(img), [want], 1e-5);
    // one [h, w, c] image gives one resized image
    expectTensor(r.call(img.squeeze(0)), want, 1e-5);
  });

  test('bilinear is the default; the same size is the identity', () => {
    expect(new layers.Resizing(2, 2).interpolation).toBe('bilinear');
    expectTensor(new layers.Resizing(3, 4).call(img), img.toArray());
  });

  test('cropToAspectRatio resizes the largest centred window of the target ratio', () => {
    // 4x6 to 2x2: Keras crops columns 1..4 (a 4x4 window), then halves it; bilinear by 2 averages 2x2 blocks
    const x = batch1(grid(4, 6, (r, c) => r * 6 + c));
    const y = new layers.Resizing(2, 2, { cropToAspectRatio: true }).call(x);
    expectTensor(y, [[[[(1 + 2 + 7 + 8) / 4], [(3 + 4 + 9 + 10) / 4]], [[(13 + 14 + 19 + 20) / 4], [(15 + 16 + 21 + 22) / 4]]]]);
  });
});

describe('RandomFlip', () => {
  test("'horizontal' with a seed reverses each image's columns or leaves it, and flips some of a batch", () => {
    const imgs = Array.from({ length: 16 }, (_, i) => grid(2, 3, (r, c) => i * 10 + r * 3 + c));
    const x = nt.tensor(imgs).unsqueeze(-1);
    const y = (new layers.RandomFlip('horizontal', { seed: 7 }).call(x).squeeze(-1).toArray()) as Img[];
    let flipped = 0;
    y.forEach((out, i) => {
      const mirrored = imgs[i].map((row) => [...row].reverse());
      if (JSON.stringify(out) === JSON.stringify(mirrored)) flipped++;
      else expect(out).toEqual(imgs[i]);
    });
    expect(flipped).toBeGreaterThan(0);
    expect(flipped).toBeLessThan(16);
  });

  test("'vertical' reverses rows; 'horizontal_and_vertical' gives one of the four flips", () => {
    const img = grid(3, 2, (r, c) => r * 2 + c);
    const x = nt.stack(Array.from({ length: 12 }, () => batch1(img).squeeze(0)));
    const ys = (new layers.RandomFlip('vertical', { seed: 1 }).call(x).squeeze(-1).toArray()) as Img[];
    const up = [...img].reverse();
    for (const y of ys) expect([JSON.stringify(img), JSON.stringify(up)]).toContain(JSON.stringify(y));
    const both = (new layers.RandomFlip(undefined, { seed: 1 }).call(x).squeeze(-1).toArray()) as Img[];
    const four = [img, up, img.map((r) => [...r].reverse()), up.map((r) => [...r].reverse())].map((v) => JSON.stringify(v));
    for (const y of both) expect(four).toContain(JSON.stringify(y));
    expect(new Set(both.map((v) => JSON.stringify(v))).size).toBeGreaterThan(1);
  });

  test('identity when training is false and in predict', async () => {
    const x = nt.rand([4, 3, 3, 2]);
    expectTensor(new layers.RandomFlip('horizontal', { seed: 1 }).call(x, { training: false }), x.toArray());
    const model = new Sequential([new layers.RandomFlip('horizontal', { seed: 1, inputShape: [3, 3, 2] })]);
    expectTensor(await model.predict(x), x.toArray());
  });
});

describe('RandomRotation', () => {
  const img = grid(4, 4, (r, c) => r * 4 + c);
  const rot90 = (a: Img) => a.map((_, i) => a.map((row) => row[a.length - 1 - i])); // counter-clockwise, like np.rot90

  test('factor 0.25 (a quarter turn) rotates a square image counter-clockwise, exactly with nearest', () => {
    const y = new layers.RandomRotation([0.25, 0.25], { interpolation: 'nearest' }).call(batch1(img));
    expect(gray(y)).toEqual(rot90(img));
    const back = new layers.RandomRotation([-0.25, -0.25], { interpolation: 'nearest' }).call(batch1(img));
    expect(gray(back)).toEqual(rot90(rot90(rot90(img))));
    // bilinear lands on the pixel centres too
    expectTensor(new layers.RandomRotation([0.25, 0.25]).call(batch1(img)), batch1(rot90(img)).toArray(), 1e-5);
  });

  test('a single [h, w, c] image gives a single image', () => {
    const y = new layers.RandomRotation([0.5, 0.5], { interpolation: 'nearest' }).call(batch1(img).squeeze(0));
    expect(y.shape).toEqual([4, 4, 1]);
    expect(y.squeeze(-1).toArray()).toEqual(rot90(rot90(img)));
  });

  test('the same seed gives the same rotations, another seed others; a seeded layer moves on each call', () => {
    const x = nt.rand([6, 5, 5, 3]);
    const a = new layers.RandomRotation(0.2, { seed: 3 });
    const a1 = a.call(x);
    const b1 = new layers.RandomRotation(0.2, { seed: 3 }).call(x);
    expect(sameValues(a1, b1)).toBe(true);
    expect(sameValues(a1, new layers.RandomRotation(0.2, { seed: 4 }).call(x))).toBe(false);
    expect(sameValues(a1, a.call(x))).toBe(false);
  });

  test('without a seed, nt.manualSeed makes the rotations reproducible', () => {
    const x = nt.rand([4, 5, 5, 1]);
    nt.manualSeed(11);
    const a = new layers.RandomRotation(0.3).call(x);
    nt.manualSeed(11);
    const b = new layers.RandomRotation(0.3).call(x);
    expect(sameValues(a, b)).toBe(true);
  });

  test('frees its intermediates', () => {
    const x = nt.rand([2, 6, 6, 3]);
    const l = new layers.RandomRotation(0.1, { seed: 1 });
    l.call(x).dispose();
    const before = nt.memory().tensors;
    l.call(x).dispose();
    l.call(x, { training: false }).dispose();
    new layers.Resizing(3, 9).call(x).dispose();
    expect(nt.memory().tensors).toBe(before);
  });
});

describe('RandomTranslation', () => {
  const img = grid(4, 4, (r, c) => 1 + r * 4 + c);

  test('a fixed fraction moves pixels by the exact offset, constant fill with fillValue', () => {
    // 0.25 of the height down, 0.25 of the width left: one pixel each
    const l = new layers.RandomTranslation([0.25, 0.25], [-0.25, -0.25], { fillMode: 'constant', fillValue: -1 });
    const want = grid(4, 4, (r, c) => (r >= 1 && c <= 2 ? img[r - 1][c + 1] : -1));
    // bilinear: exact up to the float32 sampling grid; nearest: exact
    expectTensor(l.call(batch1(img)), batch1(want).toArray(), 1e-5);
    const nearest = new layers.RandomTranslation([0.25, 0.25], [-0.25, -0.25], { fillMode: 'constant', fillValue: -1, interpolation: 'nearest' });
    expect(gray(nearest.call(batch1(img)))).toEqual(want);
  });

  test("fill modes 'wrap' and 'nearest' (default 'reflect')", () => {
    const wrap = new layers.RandomTranslation([0.5, 0.5], [0, 0], { fillMode: 'wrap', interpolation: 'nearest' });
    expect(gray(wrap.call(batch1(img)))).toEqual([img[2], img[3], img[0], img[1]]);
    const edge = new layers.RandomTranslation([0, 0], [0.5, 0.5], { fillMode: 'nearest', interpolation: 'nearest' });
    expect(gray(edge.call(batch1(img)))).toEqual(img.map((r) => [r[0], r[0], r[0], r[1]]));
    const reflect = new layers.RandomTranslation([0, 0], [0.5, 0.5], { interpolation: 'nearest' });
    expect(reflect.fillMode).toBe('reflect');
    expect(gray(reflect.call(batch1(img)))).toEqual(img.map((r) => [r[1], r[0], r[0], r[1]]));
  });
});

describe('RandomZoom', () => {
  test('a negative factor zooms in: -0.5 samples the centre at half the spacing (bilinear, exact on a linear image)', () => {
    const img = grid(4, 4, (r, c) => 10 * r + c);
    const y = new layers.RandomZoom([-0.5, -0.5]).call(batch1(img));
    // output pixel i samples 1.5 + 0.5 (i - 1.5) = 0.75 + 0.5 i along each axis
    expectTensor(y, batch1(grid(4, 4, (r, c) => 10 * (0.75 + 0.5 * r) + 0.75 + 0.5 * c)).toArray(), 1e-5);
  });

  test('a positive factor zooms out; widthFactor zooms the width alone', () => {
    const img = grid(5, 5, (r, c) => 1 + r * 5 + c);
    // zoom 2 about the centre (2, 2): output i samples 2i - 2
    const y = new layers.RandomZoom([1, 1], null, { fillMode: 'constant' }).call(batch1(img));
    expect(gray(y)).toEqual(grid(5, 5, (r, c) => (r >= 1 && r <= 3 && c >= 1 && c <= 3 ? img[2 * r - 2][2 * c - 2] : 0)));
    const wide = new layers.RandomZoom([0, 0], [1, 1], { fillMode: 'constant', fillValue: 9 }).call(batch1(img));
    expect(gray(wide)).toEqual(grid(5, 5, (r, c) => (c >= 1 && c <= 3 ? img[r][2 * c - 2] : 9)));
  });
});

describe('in a Sequential model', () => {
  /** 8x8 images, 0..255: class 0 a horizontal bar, class 1 a vertical bar (unchanged by left-right flips). */
  function bars(n: number): [nt.Tensor, nt.Tensor] {
    const imgs: number[][][] = [];
    const labels: bigint[] = [];
    for (let i = 0; i < n; i++) {
      const k = 2 + (i % 4);
      const cls = Math.floor(i / 4) % 2;
      imgs.push(grid(8, 8, (r, c) => ((cls === 0 ? r : c) === k ? 255 : 0)));
      labels.push(BigInt(cls));
    }
    return [nt.tensor(imgs).unsqueeze(-1), nt.tensor(labels)];
  }
  const head = () => [new layers.Conv2D(4, 3, { activation: 'relu', name: 'conv' }), new layers.Flatten({ name: 'flat' }),
    new layers.Dense(2, { activation: 'softmax', name: 'out' })];

  test('trains with fit (loss falls); evaluate and predict skip the augmentation', async () => {
    nt.manualSeed(0);
    const model = new Sequential([
      new layers.RandomFlip('horizontal', { seed: 1, inputShape: [8, 8, 1] }),
      new layers.RandomRotation(0.02, { seed: 2, fillMode: 'nearest' }),
      new layers.Rescaling(1 / 255),
      ...head(),
    ]);
    model.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const [x, y] = bars(32);
    // the random layers are native steps: the whole model trains and predicts in the native loop
    const run = jest.spyOn(native, 'model_run');
    const h = await model.fit(x, y, { epochs: 8, batchSize: 8, verbose: 0 });
    expect(run.mock.calls.map((c) => c[0])).toEqual(Array(8).fill('train'));
    const loss = h.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(loss[0]);

    const p1 = await model.predict(x);
    const p2 = await model.predict(x);
    expect(run.mock.calls.map((c) => c[0]).slice(8)).toEqual(['predict', 'predict']);
    run.mockRestore();
    expect(sameValues(p1, p2)).toBe(true);
    const e1 = await model.evaluate(x, y, { verbose: 0 });
    expect(await model.evaluate(x, y, { verbose: 0 })).toEqual(e1);
    // the same weights without the random layers give the same predictions
    const plain = new Sequential([new layers.Rescaling(1 / 255, 0, { inputShape: [8, 8, 1] }), ...head()]);
    plain.setWeights(model.getWeights());
    expectTensor(await plain.predict(x), p1.toArray(), 1e-6);
  });

  test('summary shows each layer with its output shape and no parameters', () => {
    const model = new Sequential([
      new layers.RandomFlip('horizontal', { inputShape: [16, 12, 3], name: 'flip' }),
      new layers.RandomZoom(0.1, null, { name: 'zoom' }),
      new layers.RandomTranslation(0.1, 0.1, { name: 'shift' }),
      new layers.Resizing(8, 6, { name: 'resize' }),
      new layers.Rescaling(1 / 255, 0, { name: 'scale' }),
      new layers.Conv2D(2, 3, { name: 'conv' }),
    ]);
    const s = model.summary(false);
    expect(s).toMatch(/flip \(RandomFlip\)\s+\(None, 16, 12, 3\)\s+0/);
    expect(s).toMatch(/zoom \(RandomZoom\)\s+\(None, 16, 12, 3\)\s+0/);
    expect(s).toMatch(/shift \(RandomTranslation\)\s+\(None, 16, 12, 3\)\s+0/);
    expect(s).toMatch(/resize \(Resizing\)\s+\(None, 8, 6, 3\)\s+0/);
    expect(s).toMatch(/scale \(Rescaling\)\s+\(None, 8, 6, 3\)\s+0/);
    expect(s).toMatch(/conv \(Conv2D\)\s+\(None, 6, 4, 2\)\s+56/);
    expect(s).toMatch(/Total params: 56/);
  });

  test('model.save and nt.loadModel keep the layers, their options and the predictions', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-preprocessing-'));
    try {
      const model = new Sequential([
        new layers.RandomFlip('vertical', { seed: 5, inputShape: [6, 6, 2] }),
        new layers.RandomRotation([-0.1, 0.2], { fillMode: 'constant', fillValue: 0.5, interpolation: 'nearest' }),
        new layers.RandomZoom(0.2, [-0.1, 0.1], { seed: 9 }),
        new layers.RandomTranslation(0.1, [0, 0.3], { fillMode: 'wrap' }),
        new layers.Resizing(4, 4, { interpolation: 'area', cropToAspectRatio: true }),
        new layers.Rescaling([2, 3], [1, -1]),
        new layers.Flatten(),
        new layers.Dense(3),
      ]);
      model.build();
      await model.save(dir);
      const loaded = await nt.loadModel(dir);
      expect(loaded.layers.map((l) => l.constructor.name)).toEqual(model.layers.map((l) => l.constructor.name));
      expect(loaded.layers.map((l) => l.getConfig())).toEqual(model.layers.map((l) => l.getConfig()));
      const x = nt.rand([3, 6, 6, 2]);
      expectTensor(await loaded.predict(x), (await model.predict(x)).toArray(), 1e-6);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the random layers in the native loop', () => {
  // images whose left and right halves differ, and a head that weighs the columns unequally: a
  // horizontal flip changes the output, so the loss tells whether the loop augmented
  const x = nt.tensor(Array.from({ length: 8 }, (_, i) => grid(2, 4, (r, c) => (c < 2 ? i + 1 : 0)))).unsqueeze(-1);
  const y = nt.zeros([8, 1]);
  const model = (flip: InstanceType<typeof layers.RandomFlip>) => {
    const m = new Sequential([flip, new layers.Flatten(), new layers.Dense(1, { useBias: false })]);
    m.build([null, 2, 4, 1]);
    const w = m.layers[2].getWeights()[0];
    m.layers[2].setWeights([nt.tensor([1, 2, 3, 4, 1, 2, 3, 4]).reshape([...w.shape])]);
    m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
    return m;
  };

  test('fit flips while training, evaluate does not; a seeded layer gives the same epoch twice', async () => {
    const run = jest.spyOn(native, 'model_run');
    try {
      const a = model(new layers.RandomFlip('horizontal', { seed: 3 }));
      const lossA = (await a.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 })).history.loss[0] as number;
      expect(run.mock.calls.map((c) => c[0])).toEqual(['train']);
      const plain = (await a.evaluate(x, y, { verbose: 0 })) as number;
      // unflipped image i gives 2 rows x (1 + 2) x (i + 1) = 6 (i + 1); flipped, 2 x (3 + 4) x (i + 1) = 14 (i + 1)
      expect(plain).toBeCloseTo(Array.from({ length: 8 }, (_, i) => (6 * (i + 1)) ** 2).reduce((p, q) => p + q) / 8, 3);
      expect(lossA).toBeGreaterThan(plain);
      const b = model(new layers.RandomFlip('horizontal', { seed: 3 }));
      expect((await b.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 })).history.loss[0]).toBeCloseTo(lossA, 4);
    } finally {
      run.mockRestore();
    }
  });

  test('Resizing is a native step too: a model with it trains in the native loop and predicts what call gives', async () => {
    const run = jest.spyOn(native, 'model_run');
    try {
      const m = new Sequential([new layers.Resizing(3, 2, { inputShape: [2, 4, 1], interpolation: 'area' }), new layers.Flatten(),
        new layers.Dense(1, { useBias: false, kernelInitializer: 'ones' })]);
      m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0 }), loss: 'mse' });
      await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
      expect(run.mock.calls.map((c) => c[0])).toEqual(['train']);
      // area 2x4 -> 3x2: rows [0], [0, 1], [1] (adaptive pooling), column pairs averaged; image i has i + 1 in columns 0-1
      const want = Array.from({ length: 8 }, (_, i) => [(i + 1) * 3]);
      expectTensor(await m.predict(x), want, 1e-5);
      expectTensor(m.layers[0].call(x.select(0, 1)), [[[2], [0]], [[2], [0]], [[2], [0]]], 1e-6);
    } finally {
      run.mockRestore();
    }
  });

  test('a subclass that overrides call() runs its own call, from JS', async () => {
    class MyFlip extends layers.RandomFlip {
      calls = 0;
      override call(t: nt.Tensor, opts?: { training?: boolean }): nt.Tensor {
        this.calls++;
        return super.call(t, opts);
      }
    }
    const flip = new MyFlip('horizontal', { seed: 3 });
    await model(flip).fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    expect(flip.calls).toBe(2);
  });
});

describe('errors name the layer and what was expected', () => {
  test.each([
    ['rotation factor above 1', () => new layers.RandomRotation(1.5), /RandomRotation: expected factor to be a number in \[0, 1\] or \[lower, upper\] with -1 <= lower <= upper <= 1 but received 1\.5/],
    ['a negative single factor', () => new layers.RandomRotation(-0.2), /RandomRotation: expected factor .* but received -0\.2/],
    ['zoom lower above upper', () => new layers.RandomZoom([0.5, 0.2]), /RandomZoom: expected heightFactor .* but received \[0\.5, 0\.2\]/],
    ['zoom widthFactor below -1', () => new layers.RandomZoom(0.1, [-2, 0]), /RandomZoom: expected widthFactor .* but received \[-2, 0\]/],
    ['translation without widthFactor', () => new layers.RandomTranslation(0.1, undefined as never), /RandomTranslation: expected widthFactor .* but received undefined/],
    ['unknown flip mode', () => new layers.RandomFlip('diagonal' as never), /RandomFlip: expected mode to be one of 'horizontal', 'vertical', 'horizontal_and_vertical' but received 'diagonal'/],
    ['negative seed', () => new layers.RandomFlip('horizontal', { seed: -1 }), /RandomFlip: expected seed to be a non-negative integer but received -1/],
    ['unknown fillMode', () => new layers.RandomRotation(0.1, { fillMode: 'mirror' as never }), /RandomRotation: expected fillMode to be one of 'reflect', 'wrap', 'constant', 'nearest' but received 'mirror'/],
    ['bicubic for a random transform', () => new layers.RandomZoom(0.1, null, { interpolation: 'bicubic' as never }), /RandomZoom: expected interpolation to be one of 'bilinear', 'nearest' but received 'bicubic'/],
    ['non-finite fillValue', () => new layers.RandomTranslation(0.1, 0.1, { fillValue: NaN }), /RandomTranslation: expected fillValue to be a finite number but received NaN/],
    ['unknown option', () => new layers.RandomRotation(0.1, { fill: 'constant' } as never), /RandomRotation: unknown option 'fill'; known options: .*fillMode/],
    ['zero height', () => new layers.Resizing(0, 4), /Resizing: expected height to be a positive integer but received number 0/],
    ['fractional width', () => new layers.Resizing(4, 2.5), /Resizing: expected width to be a positive integer but received number 2\.5/],
    ['unknown resize interpolation', () => new layers.Resizing(4, 4, { interpolation: 'lanczos3' as never }), /Resizing: expected interpolation to be one of 'bilinear', 'nearest', 'bicubic', 'area' but received 'lanczos3'/],
    ['channels-first', () => new layers.Resizing(4, 4, { dataFormat: 'channels_first' } as never), /Resizing: expected dataFormat to be 'channels_last'/],
    ['scale not a number', () => new layers.Rescaling('1/255' as never), /Rescaling: expected scale to be a finite number or a non-empty array of them \(one per channel\) but received '1\/255'/],
  ])('%s', (_what, make, message) => {
    expect(make).toThrow(message);
  });

  test('inputs of the wrong rank or channel count', () => {
    expect(() => new layers.RandomFlip('horizontal', { name: 'flip' }).call(nt.ones([2, 3]))).toThrow(
      /flip \(RandomFlip\): expected images of shape \(batch, height, width, channels\) or \(height, width, channels\) but got a tensor of shape \[2, 3\]/);
    expect(() => new layers.Resizing(2, 2, { name: 'rs' }).call(nt.ones([1, 1, 2, 2, 1]))).toThrow(/rs \(Resizing\): expected images of shape/);
    const rot = new layers.RandomRotation(0.1, { inputShape: [4, 4, 3], name: 'rot' });
    expect(() => rot.call(nt.ones([1, 4, 4, 1]))).toThrow(/rot \(RandomRotation\): expected images with 3 channels \(the last dimension\) but got a tensor of shape \[1, 4, 4, 1\]/);
    expect(() => new layers.Rescaling([1, 2], 0, { name: 'sc' }).call(nt.ones([1, 2, 2, 3]))).toThrow(/sc \(Rescaling\): scale has 2 values but the inputs have 3 channels/);
    expect(() => new Sequential([new layers.Dense(3, { inputShape: [4] }), new layers.RandomZoom(0.1, null, { name: 'z' })]).build())
      .toThrow(/z \(RandomZoom\): expected inputs of shape \(batch, height, width, channels\) but got \(None, 3\)/);
    expect(() => new layers.RandomFlip('horizontal', { name: 'f2' }).call([1, 2] as never)).toThrow(/f2 \(RandomFlip\): expected a Tensor for images but received array/);
  });
});
