// Loader fuzz: thousands of mutated safetensors files, torch.save (.pt) files and saved-model
// directories. Each load must succeed or throw a JS Error naming the file; a crash, a hang or an
// out-of-memory fails the run (jest's worker dies). Mutations are seeded, so a failure replays.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { readZipDirectory, readZipEntry, writeZip } from '../lib/io/zip';
import { mulberry32 as rng } from '../lib/data/dataset';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-fuzz-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x30, 0x39, 0x2e, 0x5d, 0x7d, 0x28, 0x74, 0x52, 0x51, 0x71, 0x68];

/** One random mutation of buf: flips, interesting bytes, truncation, duplication, insertion, 64-bit lengths. */
function mutate(buf: Buffer, r: () => number): Buffer {
  const b = Buffer.from(buf);
  const at = () => Math.floor(r() * b.byteLength);
  switch (Math.floor(r() * 7)) {
    case 0: for (let i = 0, n = 1 + Math.floor(r() * 8); i < n; i++) b[at()] ^= 1 << Math.floor(r() * 8); return b;
    case 1: for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) b[at()] = INTERESTING[Math.floor(r() * INTERESTING.length)]; return b;
    case 2: return b.subarray(0, at());
    case 3: { const s = at(); const len = Math.floor(r() * 64); return Buffer.concat([b.subarray(0, s), b.subarray(s, s + len), b.subarray(s)]); }
    case 4: { const s = at(); return Buffer.concat([b.subarray(0, s), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256))), b.subarray(s)]); }
    case 5: { const s = Math.max(0, at() - 8); if (s + 8 <= b.byteLength) b.writeBigUInt64LE([0n, 1n << 40n, (1n << 64n) - 1n, BigInt(b.byteLength)][Math.floor(r() * 4)], s); return b; }
    default: { const s = Math.max(0, at() - 4); if (s + 4 <= b.byteLength) b.writeUInt32LE([0, 0xffffffff, 0x7fffffff, b.byteLength][Math.floor(r() * 4)], s); return b; }
  }
}

/** Loads f; returns 'ok' or 'error', failing the test on anything thrown that is not an Error naming a cause. */
async function attempt(load: () => Promise<unknown>): Promise<'ok' | 'error'> {
  try {
    const v = await load();
    const dispose = (x: unknown): void => {
      if (x instanceof nt.Tensor) x.dispose();
      else if (Array.isArray(x)) x.forEach(dispose);
      else if (x !== null && typeof x === 'object' && !(x instanceof nt.Sequential)) Object.values(x).forEach(dispose);
    };
    dispose(v);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message.length).toBeGreaterThan(10);
    return 'error';
  }
}

const N = 1000;

function stateDict(): Record<string, nt.Tensor> {
  nt.manualSeed(3);
  return {
    'conv.weight': nt.randn([4, 1, 3, 3]), 'conv.bias': nt.randn([4]), 'fc.weight': nt.randn([5, 16]),
    steps: nt.tensor([7n, 9n]), mask: nt.tensor([true, false, true]), half: nt.randn([3]).to('float16'), scalar: nt.tensor(2.5),
  };
}

describe('loader fuzz', () => {
  test(`${N} mutated safetensors files: each loads or is a clear error`, async () => {
    const file = path.join(tmp, 'base.safetensors');
    await nt.save(stateDict(), file);
    const base = fs.readFileSync(file);
    const r = rng(1);
    const seen = { ok: 0, error: 0 };
    for (let i = 0; i < N; i++) {
      const f = path.join(tmp, 'm.safetensors');
      fs.writeFileSync(f, mutate(base, r));
      seen[await attempt(() => nt.load(f))]++;
    }
    expect(seen.error).toBeGreaterThan(N / 2);
    expect(seen.ok + seen.error).toBe(N);
  });

  test(`${N} mutated .pt files, and ${N} with a mutated data.pkl under valid CRCs`, async () => {
    const file = path.join(tmp, 'base.pt');
    await nt.save({ ...stateDict(), nested: { list: [nt.ones([2]), 3, 'x', 1.5, null, true] } }, file);
    const base = fs.readFileSync(file);
    const bad = (m: string) => new Error(m);
    const entries = [...readZipDirectory(base, bad).values()].map((e) => ({ name: e.name, data: Buffer.from(readZipEntry(base, e, bad)) }));
    const r = rng(2);
    const seen = { ok: 0, error: 0 };
    for (let i = 0; i < 2 * N; i++) {
      let bytes: Buffer;
      if (i < N) {
        bytes = mutate(base, r);
      } else {
        // re-zipped with fresh CRCs, so the mutation reaches the unpickler or the storage checks
        const k = r() < 0.8 ? 0 : Math.floor(r() * entries.length);
        bytes = Buffer.concat(writeZip(entries.map((e, j) => (j === k ? { name: e.name, data: mutate(e.data, r) } : e))));
      }
      const f = path.join(tmp, 'm.pt');
      fs.writeFileSync(f, bytes);
      seen[await attempt(() => nt.load(f))]++;
    }
    expect(seen.error).toBeGreaterThan(N / 2);
    expect(seen.ok).toBeGreaterThan(0);
  });

  test(`${N} mutated saved-model directories (architecture JSON and weights)`, async () => {
    const { Sequential, layers } = nt;
    nt.manualSeed(4);
    const m = new Sequential([
      new layers.Conv2D(4, 3, { inputShape: [8, 8, 1], activation: 'relu' }), new layers.MaxPooling2D(2), new layers.Flatten(),
      new layers.Dense(6, { activation: 'relu' }), new layers.Dropout(0.2), new layers.Dense(3, { activation: 'softmax' }),
    ]);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const dir = path.join(tmp, 'model');
    await m.save(dir);
    const files = fs.readdirSync(dir);
    const base = Object.fromEntries(files.map((n) => [n, fs.readFileSync(path.join(dir, n))]));
    const cfgName = files.find((n) => n.endsWith('.json')) as string;
    const cfg = JSON.parse(base[cfgName].toString('utf8'));
    // structure-aware mutations of the architecture: numbers and names where the loader meets them
    const numbers = [0, -1, 1.5, 1e9, 2 ** 31, 1e300, NaN, null, 'x', [], {}, true];
    const jsonMutate = (r: () => number): string => {
      const c = JSON.parse(JSON.stringify(cfg));
      const paths: [Record<string, unknown>, string][] = [];
      const walk = (o: unknown): void => {
        if (o === null || typeof o !== 'object') return;
        for (const [k, v] of Object.entries(o)) {
          paths.push([o as Record<string, unknown>, k]);
          walk(v);
        }
      };
      walk(c);
      for (let j = 0, n = 1 + Math.floor(r() * 3); j < n; j++) {
        const [o, k] = paths[Math.floor(r() * paths.length)];
        const choice = r();
        if (choice < 0.5) o[k] = numbers[Math.floor(r() * numbers.length)];
        else if (choice < 0.7) o[k] = 'NoSuchLayer';
        else delete o[k];
      }
      return JSON.stringify(c);
    };
    const r = rng(3);
    const seen = { ok: 0, error: 0 };
    const mdir = path.join(tmp, 'mutated');
    for (let i = 0; i < N; i++) {
      fs.rmSync(mdir, { recursive: true, force: true });
      fs.mkdirSync(mdir);
      const target = i % 3 === 0 ? cfgName : files[Math.floor(r() * files.length)];
      for (const n of files) {
        let data: Buffer = base[n];
        if (n === target) data = n === cfgName && r() < 0.6 ? Buffer.from(jsonMutate(r)) : mutate(base[n], r);
        fs.writeFileSync(path.join(mdir, n), data);
      }
      seen[await attempt(() => nt.loadModel(mdir))]++;
    }
    expect(seen.error).toBeGreaterThan(N / 4);
    expect(seen.ok).toBeGreaterThan(0);
  });

  test('an architecture claiming far more weights than its file holds is refused before allocating them', async () => {
    const { Sequential, layers } = nt;
    const m = new Sequential([new layers.Dense(4, { inputShape: [3] })]);
    const dir = path.join(tmp, 'forged');
    await m.save(dir);
    const cfgName = fs.readdirSync(dir).find((n) => n.endsWith('.json')) as string;
    const text = fs.readFileSync(path.join(dir, cfgName), 'utf8');
    // 3 x 4e8 float32 = 4.8 GB if it were built
    fs.writeFileSync(path.join(dir, cfgName), text.replace(/"units":\s*4\b/, '"units": 400000000'));
    const before = process.memoryUsage().rss;
    await expect(nt.loadModel(dir)).rejects.toThrow(/loadModel: .*(over the limit of \d+ bytes|need \d+ bytes of weights)/);
    expect(process.memoryUsage().rss - before).toBeLessThan(1e9);
  });
});
