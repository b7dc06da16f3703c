// The seed image model: three Conv2D/MaxPooling2D blocks -> Flatten -> Dense(512) -> Dense(1, sigmoid)
// on 150x150x3 images, RMSprop(1e-4), trained from ImageDataGenerator.flowFromDirectory with the
// seed's augmentation. `npx tsx examples/cats-vs-dogs-cnn.ts <dir>` reads <dir>/train/{cats,dogs} and
// <dir>/validation/{cats,dogs} (cats_and_dogs_filtered); with no argument it writes and uses a small
// generated folder of two synthetic classes, and says so. QUICK=1 for a short run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp, { Sharp } from 'sharp';
import * as nt from '../lib';

const { Sequential, layers, optimizers, data } = nt;

/** A seeded PRNG (mulberry32), so the demo folder is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One demo JPEG of random size: 'cats' are light discs on a warm (reddish) background, 'dogs' dark
 * stripes at a random angle on a cool (bluish) one; colours, positions and sizes vary, with pixel
 * noise. Both classes are about as bright, so neither looks like an empty input to the network.
 */
function drawImage(cls: 'cats' | 'dogs', rnd: () => number): Sharp {
  const w = 120 + Math.floor(rnd() * 100);
  const h = 120 + Math.floor(rnd() * 100);
  const px = Buffer.alloc(w * h * 3);
  const colour = (...ranges: [number, number][]) => ranges.map(([lo, hi]) => lo + rnd() * (hi - lo));
  const bg = cls === 'cats' ? colour([150, 230], [70, 150], [10, 80]) : colour([10, 80], [70, 150], [150, 230]);
  const discs = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => ({
    x: rnd() * w, y: rnd() * h, r: (0.12 + rnd() * 0.18) * Math.min(w, h), c: colour([220, 255], [190, 255], [120, 200]),
  }));
  const angle = rnd() * Math.PI;
  const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
  const period = 14 + rnd() * 20;
  const phase = rnd() * period;
  const stripe = colour([0, 40], [0, 50], [30, 90]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let c = bg;
      if (cls === 'cats') {
        for (const d of discs) if ((x - d.x) ** 2 + (y - d.y) ** 2 < d.r ** 2) c = d.c;
      } else if ((x * ca + y * sa + phase) % period < period / 3) {
        c = stripe;
      }
      const o = (y * w + x) * 3;
      for (let k = 0; k < 3; k++) px[o + k] = Math.max(0, Math.min(255, c[k] + (rnd() - 0.5) * 40));
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 });
}

/** Writes <root>/{train,validation}/{cats,dogs}/<i>.jpg and returns root. */
async function generateDemo(perClass: { train: number; validation: number }): Promise<string> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-cats-vs-dogs-'));
  const rnd = prng(2024);
  for (const split of ['train', 'validation'] as const) {
    for (const cls of ['cats', 'dogs'] as const) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < perClass[split]; i++) writes.push(drawImage(cls, rnd).toFile(path.join(dir, `${cls.slice(0, -1)}.${i}.jpg`)));
      await Promise.all(writes);
    }
  }
  return root;
}

async function main(): Promise<void> {
  const quick = !!process.env.QUICK;
  const given = process.argv[2];
  let baseDir: string;
  let demo = false;
  if (given) {
    baseDir = path.resolve(given);
    for (const sub of ['train', 'validation']) {
      if (!fs.existsSync(path.join(baseDir, sub))) {
        throw new Error(`'${baseDir}' has no '${sub}' folder: expected ${baseDir}/train/{cats,dogs} and ${baseDir}/validation/{cats,dogs} ` +
          '(the layout of the extracted cats_and_dogs_filtered.zip)');
      }
    }
  } else {
    const perClass = quick ? { train: 40, validation: 20 } : { train: 50, validation: 50 };
    baseDir = await generateDemo(perClass);
    demo = true;
    console.log(`No data directory given: using generated demo data in ${baseDir}`);
    console.log(`  ${perClass.train * 2} training and ${perClass.validation * 2} validation JPEGs of two synthetic classes ` +
      '(cats: light discs on warm backgrounds, dogs: dark stripes on cool backgrounds).');
    console.log('  For the real images run: npx tsx examples/cats-vs-dogs-cnn.ts <dir>, where <dir> holds train/{cats,dogs} and');
    console.log('  validation/{cats,dogs}, e.g. the extracted https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip');
  }
  try {
    await train(baseDir, demo, quick);
  } finally {
    if (demo) fs.rmSync(baseDir, { recursive: true, force: true });
  }
}

async function train(baseDir: string, demo: boolean, quick: boolean): Promise<void> {
  // the seed's steps: 100 x 20 = the 2,000 training images, 50 x 20 = the 1,000 validation images
  const [epochs, stepsPerEpoch, validationSteps] = !demo ? [quick ? 2 : 30, quick ? 5 : 100, quick ? 5 : 50]
    : quick ? [2, 4, 2] : [5, 5, 5];

  const trainDatagen = new data.ImageDataGenerator({
    rescale: 1 / 255, rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 0.2, zoomRange: 0.2,
    horizontalFlip: true, fillMode: 'nearest',
  });
  const testDatagen = new data.ImageDataGenerator({ rescale: 1 / 255 });
  const trainGenerator = trainDatagen.flowFromDirectory(path.join(baseDir, 'train'), { targetSize: [150, 150], batchSize: 20, classMode: 'binary' });
  const validationGenerator = testDatagen.flowFromDirectory(path.join(baseDir, 'validation'), { targetSize: [150, 150], batchSize: 20, classMode: 'binary' });

  const model = new Sequential([
    new layers.Conv2D(32, [3, 3], { activation: 'relu', inputShape: [150, 150, 3] }),
    new layers.MaxPooling2D([2, 2]),
    new layers.Conv2D(64, [3, 3], { activation: 'relu' }),
    new layers.MaxPooling2D([2, 2]),
    new layers.Conv2D(128, [3, 3], { activation: 'relu' }),
    new layers.MaxPooling2D([2, 2]),
    new layers.Flatten(),
    new layers.Dense(512, { activation: 'relu' }),
    new layers.Dense(1, { activation: 'sigmoid' }),
  ]);
  model.summary();
  model.compile({ loss: 'binary_crossentropy', optimizer: new optimizers.RMSprop({ learningRate: 1e-4 }), metrics: ['accuracy'] });
  // the generators prefetch: the next batches are decoded and augmented while this one trains
  const history = await model.fit(trainGenerator, { stepsPerEpoch, epochs, validationData: validationGenerator, validationSteps });
  const acc = history.history.accuracy;
  const valAcc = history.history.val_accuracy;
  console.log(`Final training accuracy: ${acc[acc.length - 1].toFixed(4)}`);
  console.log(`Final validation accuracy: ${valAcc[valAcc.length - 1].toFixed(4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
