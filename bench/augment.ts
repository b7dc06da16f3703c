// Image pipeline throughput: decode + resize + the seed's augmentation (rotation 40, shifts 0.2,
// shear 0.2, zoom 0.2, horizontal flip, fill 'nearest', rescale 1/255) through
// ImageDataGenerator.flowFromDirectory over 2,000 generated 150x150 JPEGs; bench/augment.py is
// torchvision doing the same. Prints one JSON line for scripts/bench.js (us per image; images/s).
// `--generate-only` just writes the folder (bench/augment.py calls it so both read the same files).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as nt from '../lib';
import { emit, intFlag } from './common';

const FILES = 2000;
const SIZE = 150;
export const DIR = path.join(os.tmpdir(), `nodetorch-bench-images-${FILES}`);

/** 2,000 JPEGs in two class folders: smooth colour fields with some texture, deterministic. */
async function generate(): Promise<void> {
  const done = path.join(DIR, '.complete');
  if (fs.existsSync(done)) return;
  for (const c of ['cats', 'dogs']) fs.mkdirSync(path.join(DIR, c), { recursive: true });
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < FILES; i++) {
    const px = Buffer.alloc(SIZE * SIZE * 3);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const o = (y * SIZE + x) * 3;
        px[o] = (x * 255) / SIZE + 40 * Math.sin((x + i) / 7);
        px[o + 1] = (y * 255) / SIZE + 40 * Math.cos((y * i) / 50);
        px[o + 2] = ((x + y + i * 13) * 97) % 256;
      }
    }
    const file = path.join(DIR, i % 2 ? 'dogs' : 'cats', `${i}.jpg`);
    work.push(sharp(px, { raw: { width: SIZE, height: SIZE, channels: 3 } }).jpeg({ quality: 90 }).toFile(file));
    if (work.length >= 64) await Promise.all(work.splice(0));
  }
  await Promise.all(work);
  fs.writeFileSync(done, '');
}

async function main(): Promise<void> {
  await generate();
  if (process.argv.includes('--generate-only')) return;
  const threads = intFlag('threads');
  if (threads !== undefined && threads !== nt.getNumThreads()) nt.setNumThreads(threads);
  const gen = new nt.data.ImageDataGenerator({ rotationRange: 40, widthShiftRange: 0.2, heightShiftRange: 0.2, shearRange: 0.2,
    zoomRange: 0.2, horizontalFlip: true, fillMode: 'nearest', rescale: 1 / 255 });
  const it = gen.flowFromDirectory(DIR, { targetSize: [SIZE, SIZE], batchSize: 32, classMode: 'binary', seed: 1, interpolation: 'bilinear' });
  const epoch = async (limit: number): Promise<number> => {
    let n = 0;
    for await (const [x, y] of it) {
      n += x.shape[0];
      x.dispose();
      y.dispose();
      if (n >= limit) break;
    }
    return n;
  };
  await epoch(256); // warm-up: thread pools, file cache
  const t0 = process.hrtime.bigint();
  const n = await epoch(FILES);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  emit({ images: n, seconds, imagesPerSecond: n / seconds, variants: { flow: { epoch: { us: (seconds * 1e6) / n } } } });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
