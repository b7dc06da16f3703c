// fit() on ImageDataGenerator iterators as Keras takes them: stepsPerEpoch and validationSteps read
// on across epochs and passes, and flowFromDirectory's "Found N images" line.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as nt from '../lib';

const { Sequential, layers, data } = nt;

function model(inputShape: number[]): nt.Sequential {
  const m = new Sequential([new layers.Flatten({ inputShape }), new layers.Dense(1, { activation: 'sigmoid' })]);
  m.compile({ optimizer: 'sgd', loss: 'binary_crossentropy', metrics: ['accuracy'] });
  return m;
}

/** Batches of `samples` 2x2x3 images from ImageDataGenerator.flow, batch size 4, recording each batch's size and each new pass. */
function counted(samples: number): { source: AsyncIterable<nt.Tensor[]>; sizes: number[]; passes: number } {
  const x = nt.rand([samples, 2, 2, 3]);
  const y = nt.tensor(Array.from({ length: samples }, (_, i) => i % 2));
  const it = new data.ImageDataGenerator().flow(x, y, { batchSize: 4, seed: 1 });
  const rec = { sizes: [] as number[], passes: 0, source: null as unknown as AsyncIterable<nt.Tensor[]> };
  rec.source = {
    async *[Symbol.asyncIterator]() {
      rec.passes++;
      for await (const b of it) {
        rec.sizes.push(b[0].shape[0]);
        yield b;
      }
    },
  };
  return rec;
}

test('stepsPerEpoch reads on across epochs and opens a new pass when one ends, as Keras generators loop', async () => {
  const train = counted(10); // passes of 4, 4, 2
  const batches: number[] = [];
  const h = await model([2, 2, 3]).fit(train.source, { epochs: 2, stepsPerEpoch: 5, verbose: 0, callbacks: [{ onBatchEnd: (b: number) => { batches.push(b); } }] });
  expect(batches).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  expect(train.sizes).toEqual([4, 4, 2, 4, 4, 2, 4, 4, 2, 4]);
  expect(train.passes).toBe(4);
  expect(h.epoch).toEqual([0, 1]);
});

test('validationSteps validates on that many batches, read on across epochs; without it each validation is one pass', async () => {
  const withSteps = counted(10);
  const m = model([2, 2, 3]);
  const h = await m.fit(counted(8).source, { epochs: 2, validationData: withSteps.source, validationSteps: 2, verbose: 0 });
  expect(withSteps.sizes).toEqual([4, 4, 2, 4]);
  expect(h.history.val_loss).toHaveLength(2);
  expect(h.history.val_accuracy.every((a) => a >= 0 && a <= 1)).toBe(true);
  const whole = counted(10);
  await m.fit(counted(8).source, { epochs: 2, validationData: whole.source, verbose: 0 });
  expect(whole.sizes).toEqual([4, 4, 2, 4, 4, 2]);
  await expect(m.fit(counted(8).source, { validationData: whole.source, validationSteps: 0 })).rejects.toThrow(
    'fit: expected validationSteps to be a positive integer but received');
});

test('a one-shot generator that runs out before stepsPerEpoch ends the epoch early', async () => {
  const x = nt.rand([2, 2, 2, 3]);
  const y = nt.tensor([0, 1]);
  async function* three() {
    for (let i = 0; i < 3; i++) yield [x.clone(), y.clone()];
  }
  const batches: number[] = [];
  await model([2, 2, 3]).fit(three(), { stepsPerEpoch: 5, verbose: 0, callbacks: [{ onBatchEnd: (b: number) => { batches.push(b); } }] });
  expect(batches).toEqual([0, 1, 2]);
});

test('fit frees the batches an iterator had prefetched when it stops mid-pass', async () => {
  const x = nt.rand([40, 2, 2, 3]);
  const y = nt.tensor(Array.from({ length: 40 }, (_, i) => i % 2));
  const m = model([2, 2, 3]);
  const it = new data.ImageDataGenerator().flow(x, y, { batchSize: 4, seed: 1 });
  const fit = () => m.fit(it, { stepsPerEpoch: 2, epochs: 2, validationData: it, validationSteps: 1, verbose: 0 });
  await fit(); // the optimizer's state now exists
  // earlier tests' garbage is collected and finalized first, so only this fit's tensors are counted
  const settle = async () => {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 50));
  };
  await settle();
  const before = nt.memory().tensors;
  await fit();
  await settle();
  expect(nt.memory().tensors).toBe(before);
});

describe('flowFromDirectory', () => {
  let root: string;
  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-generators-'));
    for (const [c, v] of [['cats', 30], ['dogs', 220]] as const) {
      fs.mkdirSync(path.join(root, c));
      for (let i = 0; i < 5; i++) {
        await sharp(Buffer.alloc(6 * 6 * 3, v + i), { raw: { width: 6, height: 6, channels: 3 } }).png().toFile(path.join(root, c, `${i}.png`));
      }
    }
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('prints Keras\' "Found N images belonging to K classes." line', () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const g = new data.ImageDataGenerator({ rescale: 1 / 255, validationSplit: 0.4 });
      g.flowFromDirectory(root, { targetSize: [4, 4], classMode: 'binary' });
      g.flowFromDirectory(root, { targetSize: [4, 4], classMode: 'binary', subset: 'validation' });
      expect(log.mock.calls).toEqual([['Found 10 images belonging to 2 classes.'], ['Found 4 images belonging to 2 classes.']]);
    } finally {
      log.mockRestore();
    }
  });

  test('fit trains on its binary batches with an augmenting generator, validating on another', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const train = new data.ImageDataGenerator({ rescale: 1 / 255, rotationRange: 40, zoomRange: 0.2, horizontalFlip: true })
        .flowFromDirectory(root, { targetSize: [4, 4], batchSize: 3, classMode: 'binary', seed: 1 });
      const val = new data.ImageDataGenerator({ rescale: 1 / 255 }).flowFromDirectory(root, { targetSize: [4, 4], batchSize: 5, classMode: 'binary' });
      const m = model([4, 4, 3]);
      const h = await m.fit(train, { stepsPerEpoch: 6, epochs: 2, validationData: val, validationSteps: 2, verbose: 0 });
      expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
      expect(h.history.loss.every(Number.isFinite)).toBe(true);
      // the validation batches cover the folder once per epoch: val_loss is the model's loss on all 10 images
      const [loss] = (await m.evaluate(val, { verbose: 0 })) as number[];
      expect(h.history.val_loss[1]).toBeCloseTo(loss, 5);
    } finally {
      log.mockRestore();
    }
  });
});
