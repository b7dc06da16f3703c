// Augmentation in fit: the seed CNN (Conv2D(32, 3x3, relu), MaxPooling2D(2), Flatten, Dense(64,
// relu), Dense(10, softmax), Adam, sparse CE, accuracy) on MNIST-shaped 28x28x1 images, one epoch
// fed by ImageDataGenerator.flow(x, y) with the seed augmentation (rotation 40, shifts 0.2, shear
// 0.2, zoom 0.2, horizontal flip, fill 'nearest', rescale 1/255) against one epoch of fit(x, y) on
// the same data and steps without augmentation. Does augmenting keep up with training, or does
// training wait for it? Target: seconds per epoch with / without (ratio) <= 1.3. A third variant
// feeds the same batches unaugmented through a Dataset (fit's per-batch path, which flow also
// takes), separating that path's cost from the augmentation's (ratioVsDataset). Epochs alternate
// and each variant reports its fastest of 2, as a shared machine only ever adds time; cpuBusy is
// the process CPU time over the wall time (cores). Prints one JSON line for scripts/bench.js.
import * as nt from '../lib';
import { emit, intFlag } from './common';

const { Sequential, layers } = nt;

interface Epoch { seconds: number; cpuSeconds: number }

async function timed(run: () => Promise<unknown>): Promise<Epoch> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined && threads !== nt.getNumThreads()) nt.setNumThreads(threads);
  const samples = intFlag('samples') ?? 6_400;
  const batchSize = 32;
  nt.manualSeed(0);
  // uint8 pixels, as images arrive; the plain fit gets them already scaled to [0, 1]
  const xBytes = nt.randint(0, 256, [samples, 28, 28, 1], { dtype: 'uint8' });
  const x = xBytes.to('float32').div(255);
  const y = nt.randint(0, 10, [samples]);
  const model = new Sequential([
    new layers.Conv2D(32, [3, 3], { activation: 'relu', inputShape: [28, 28, 1] }),
    new layers.MaxPooling2D([2, 2]),
    new layers.Flatten(),
    new layers.Dense(64, { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const gen = new nt.data.ImageDataGenerator({ rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 0.2,
    zoomRange: 0.2, horizontalFlip: true, fillMode: 'nearest', rescale: 1 / 255 });
  const flow = gen.flow(xBytes, y, { batchSize, seed: 0 });
  const steps = flow.length;
  const batches = nt.data.Dataset.fromTensorSlices([x, y]).batch(batchSize);
  const variants: Record<'plain' | 'dataset' | 'augmented', () => Promise<unknown>> = {
    plain: () => model.fit(x, y, { epochs: 1, batchSize, verbose: 0 }),
    dataset: () => model.fit(batches, { epochs: 1, verbose: 0 }),
    augmented: () => model.fit(flow, { epochs: 1, verbose: 0 }),
  };
  // warm-up: allocator caches, the worker thread's OpenMP team, the generator's first batches
  await model.fit(x.slice(0, 0, 1600), y.slice(0, 0, 1600), { epochs: 1, batchSize, verbose: 0 });
  await model.fit(gen.flow(xBytes.slice(0, 0, 1600), y.slice(0, 0, 1600), { batchSize, seed: 1 }), { epochs: 1, verbose: 0 });
  const runs = { plain: [] as Epoch[], dataset: [] as Epoch[], augmented: [] as Epoch[] };
  for (let r = 0; r < 2; r++) {
    for (const [name, run] of Object.entries(variants)) runs[name as keyof typeof runs].push(await timed(run));
  }
  const best = (es: Epoch[]) => es.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const result = (e: Epoch) => ({ epoch: { us: (e.seconds * 1e6) / steps, seconds: e.seconds, steps, cpuBusy: e.cpuSeconds / e.seconds } });
  const p = best(runs.plain), d = best(runs.dataset), a = best(runs.augmented);
  emit({
    bench: 'fit_augment', impl: 'nodetorch', threads: nt.getNumThreads(), samples, batchSize, steps,
    ratio: a.seconds / p.seconds, ratioVsDataset: a.seconds / d.seconds,
    variants: { plain: result(p), dataset: result(d), augmented: result(a) },
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
