// The one JPEG path (native/data.cc through lib/data/images.ts): every JPEG decoded by libjpeg, converted
// and resized natively, sharp never loaded for one. Goldens: test/golden/jpeg.json, written by
// test/golden/jpeg.py (PIL's JPEGs and decodes, PyTorch's and TF's resizes of them).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { mulberry32 } from '../lib/data/dataset';
import { native } from '../lib/native';

// sharp made unavailable: any attempt to load it is counted and fails, as where it is not installed
let mockSharpLoads = 0;
jest.mock('sharp', () => {
  mockSharpLoads++;
  throw new Error('sharp is not available in this test');
});

const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'jpeg.json'), 'utf8')) as {
  size: [number, number];
  files: Record<string, string>;
  decodes: Record<string, { rgb: number[]; grayscale: number[] }>;
  resizes: { size: [number, number]; method: 'bilinear' | 'nearest' | 'bicubic' | 'lanczos3' | 'mitchellcubic'; values: number[] }[];
};
const NAMES = Object.keys(golden.files);
const [H, W] = golden.size;
let root: string;

/** a folder of one class holding these files; returns the folder */
function folder(name: string, files: Record<string, Buffer | string>): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
  for (const [f, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'a', f), data);
  return dir;
}

const bytes = (name: string) => Buffer.from(golden.files[name], 'base64');

/** every image of the folder in file order, as plain numbers */
async function images(dir: string, options: nt.data.ImageDatasetOptions): Promise<number[][]> {
  const ds = await nt.data.imageDatasetFromDirectory(dir, { shuffle: false, batchSize: 64, ...options });
  const out: number[][] = [];
  for await (const [x, y] of ds) {
    const n = x.shape[0], per = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const flat = Array.from(x.dataSync() as Float32Array);
    for (let i = 0; i < n; i++) out.push(flat.slice(i * per, (i + 1) * per));
    x.dispose();
    y.dispose();
  }
  return out;
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-jpeg-'));
  folder('all', Object.fromEntries(NAMES.map((n) => [n, bytes(n)])));
  folder('one', { 'baseline.jpg': bytes('baseline.jpg') });
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the native JPEG path', () => {
  test('baseline, progressive, grey, CMYK and YCCK JPEGs decode to the pixels PIL makes, in rgb, grayscale and rgba', async () => {
    const dir = path.join(root, 'all');
    const order = fs.readdirSync(path.join(dir, 'a')).sort();
    for (const colorMode of ['rgb', 'grayscale', 'rgba'] as const) {
      const got = await images(dir, { imageSize: [H, W], colorMode });
      for (const [i, name] of order.entries()) {
        const d = golden.decodes[name];
        // rgba: the RGB decode with an opaque alpha; grayscale: PIL's convert('L') (ITU-R 601-2 luma)
        const want = colorMode === 'grayscale' ? d.grayscale
          : colorMode === 'rgb' ? d.rgb : d.rgb.flatMap((v, j) => (j % 3 === 2 ? [v, 255] : [v]));
        expect([name, colorMode, got[i]]).toEqual([name, colorMode, want]);
      }
    }
    expect(mockSharpLoads).toBe(0);
  });

  test('resizing up and down matches tf.image.resize (bilinear and nearest as PyTorch interpolates) within rounding', async () => {
    const dir = path.join(root, 'one');
    for (const r of golden.resizes) {
      const [got] = await images(dir, { imageSize: r.size, interpolation: r.method });
      // the pipeline's pixels are uint8: each value is the reference rounded (and clamped, where
      // bicubic and lanczos3 overshoot 0..255)
      const want = r.values.map((v) => Math.min(255, Math.max(0, v)));
      const diffs = got.map((v, i) => Math.abs(v - want[i]));
      const worst = Math.max(...diffs), mean = diffs.reduce((s, v) => s + v, 0) / diffs.length;
      expect([r.method, r.size, got.length, worst <= 0.501, mean < 0.3]).toEqual([r.method, r.size, want.length, true, true]);
    }
    expect(mockSharpLoads).toBe(0);
  });

  test('a grey JPEG resized to rgb is the grey resize repeated in each channel', async () => {
    const dir = folder('grey', { 'g.jpg': bytes('grey.jpg') });
    const [grey] = await images(dir, { imageSize: [8, 30], colorMode: 'grayscale', interpolation: 'bicubic' });
    const [rgb] = await images(dir, { imageSize: [8, 30], colorMode: 'rgb', interpolation: 'bicubic' });
    expect(rgb).toEqual(grey.flatMap((v) => [v, v, v]));
  });

  test('sharp is never loaded for a JPEG, whatever its name; a PNG still needs it', async () => {
    // a JPEG named .png is known by its content
    const dir = folder('misnamed', { 'x.png': bytes('progressive.jpg') });
    const [x] = await images(dir, { imageSize: [H, W] });
    expect(x).toEqual(golden.decodes['progressive.jpg'].rgb);
    expect(mockSharpLoads).toBe(0);
    const png = folder('png', { 'p.png': Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex') });
    await expect(images(png, { imageSize: [2, 2] })).rejects.toThrow(
      `imageDatasetFromDirectory: could not read image '${path.join(png, 'a', 'p.png')}': nodetorch.data: decoding images needs the npm package sharp`);
    expect(mockSharpLoads).toBeGreaterThan(0);
  });

  test('truncated, corrupt, oversized and special files: an error naming the file, nothing decoded from them', async () => {
    const sharpLoads = mockSharpLoads;
    const full = bytes('baseline.jpg');
    const huge = Buffer.from(full);
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    huge.writeUInt16BE(60000, sof + 5); // height
    huge.writeUInt16BE(60000, sof + 7); // width
    // under 1 KB declaring 16000x16000 (within the pixel limit): refused where its data ends, not
    // after libjpeg has made up 256 million pixels (which took seconds and gigabytes)
    const large = Buffer.from(full);
    large.writeUInt16BE(16000, sof + 5);
    large.writeUInt16BE(16000, sof + 7);
    const cases: [string, Buffer, RegExp][] = [
      ['cut.jpg', full.subarray(0, full.length - 60), /libjpeg: Premature end of JPEG file \(corrupt or truncated JPEG data\)/],
      ['large.jpg', large, /libjpeg: Corrupt JPEG data: premature end of data segment \(corrupt or truncated JPEG data\)/],
      ['garbage.jpg', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(64, 0x41)]), /libjpeg: /],
      ['huge.jpg', huge, /it declares 60000x60000 pixels, more than the limit of 268402689/],
    ];
    for (const [name, data, why] of cases) {
      const dir = folder(`bad-${name}`, { [name]: data });
      const file = path.join(dir, 'a', name);
      const err = await images(dir, { imageSize: [4, 4] }).then(() => null, (e: Error) => e.message);
      expect([name, err?.startsWith(`imageDatasetFromDirectory: could not read image '${file}': `)]).toEqual([name, true]);
      expect([name, err]).toEqual([name, expect.stringMatching(why)]);
    }
    if (process.platform !== 'win32') {
      // a FIFO would block a reader forever: it is refused without being opened for a blocking read
      const dir = folder('fifo', {});
      const fifo = path.join(dir, 'a', 'pipe.jpg');
      execFileSync('mkfifo', [fifo]);
      await expect(images(dir, { imageSize: [4, 4] })).rejects.toThrow(`could not read image '${fifo}': it is not a regular file`);
    }
    expect(mockSharpLoads).toBe(sharpLoads);
  });

  test('randomly damaged JPEGs (bytes changed, cut, markers repeated): each decoded or refused with a reason, never a crash', async () => {
    const rand = mulberry32(19);
    const dir = path.join(root, 'damaged');
    fs.mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    for (const name of NAMES) {
      const good = bytes(name);
      for (let k = 0; k < 40; k++) {
        let b = Buffer.from(good);
        const edits = 1 + Math.floor(rand() * 8);
        for (let e = 0; e < edits; e++) b[3 + Math.floor(rand() * (b.length - 3))] = Math.floor(rand() * 256);
        if (k % 4 === 1) b = b.subarray(0, 3 + Math.floor(rand() * (b.length - 3)));
        if (k % 4 === 2) b = Buffer.concat([b.subarray(0, 200), b.subarray(2)]);
        const f = path.join(dir, `${name}-${k}.jpg`);
        fs.writeFileSync(f, b);
        files.push(f);
      }
    }
    const out = Buffer.alloc(files.length * 12 * 10 * 3);
    const r = await native.data_decode_jpeg(files, out, 12, 10, 3, 'bicubic');
    expect(r.every((v) => v === true || (typeof v === 'string' && v.length > 0))).toBe(true);
    expect(r.some((v) => typeof v === 'string')).toBe(true);
  });

  test('the raw exports: per file true, false (not a JPEG, or skipped) or the error; checked arguments', async () => {
    const dir = path.join(root, 'all', 'a');
    const out = Buffer.alloc(4 * 5 * 6 * 3);
    const notJpeg = path.join(root, 'not-a-jpeg.jpg');
    fs.writeFileSync(notJpeg, 'GIF89a');
    const r = await native.data_decode_jpeg([path.join(dir, 'grey.jpg'), null, notJpeg, path.join(root, 'missing.jpg')], out, 5, 6, 3, 'nearest');
    expect(r.slice(0, 3)).toEqual([true, false, false]);
    expect(r[3]).toMatch(/^cannot open it \(No such file or directory\)$/);
    expect(() => native.data_decode_jpeg([], out, 5, 6, 3, 'area')).toThrow(
      "data_decode_jpeg: expected interpolation to be 'bilinear', 'nearest', 'bicubic', 'lanczos3' or 'mitchellcubic' but got 'area'");
    // data_resize_image: exact on a tiny image (2x2 grey to 1x1 bilinear is the mean; rgb to grey is PIL's luma)
    const o = Buffer.alloc(1);
    native.data_resize_image(Buffer.from([10, 20, 30, 41]), 2, 2, 1, o, 1, 1, 1, 'bilinear');
    expect(o[0]).toBe(25); // 25.25 rounded
    native.data_resize_image(Buffer.from([200, 100, 50]), 1, 1, 3, o, 1, 1, 1, 'nearest');
    expect(o[0]).toBe(Math.floor((200 * 19595 + 100 * 38470 + 50 * 7471 + 0x8000) / 65536));
    expect(() => native.data_resize_image(Buffer.alloc(3), 2, 2, 1, o, 1, 1, 1, 'bilinear')).toThrow(
      'data_resize_image: expected pixels to hold 4 bytes and out 1 but they hold 3 and 1');
    expect(() => native.data_resize_image(Buffer.alloc(4), 2, 2, 1, o, 1, 1, 2, 'bilinear')).toThrow(
      'data_resize_image: expected channels in 1..4 and outChannels 1, 3 or 4 but got 1 and 2');
  });
});
