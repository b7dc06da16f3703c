// Reliability (issue 19): inputs that used to crash, hang or lose a save. Each test here failed
// (a dead process, a promise that never settled, an unloadable model) before its fix.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import sharp from 'sharp';
import * as nt from '../lib';
import { native } from '../lib/native';
import { loadSafetensors, saveSafetensors } from '../lib/io';
import { writeFileSetSync } from '../lib/io/atomic';
import { torchPython } from './helpers';

const root = path.resolve(__dirname, '..');
let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-rel-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const p = (...s: string[]) => path.join(tmp, ...s);

/** Detaches an ArrayBuffer the way postMessage(buf, [buf]) does; its memory goes with the clone. */
function transfer(buf: ArrayBuffer): ArrayBuffer {
  return structuredClone(buf, { transfer: [buf] });
}

function dense(units: number, seed: number): nt.Sequential {
  nt.manualSeed(seed);
  const m = new nt.Sequential([new nt.layers.Dense(units, { inputShape: [4], name: 'hidden' }), new nt.layers.Dense(1, { name: 'out' })]);
  m.build();
  return m;
}

describe('1. memory from JS is copied unless it cannot be freed under the tensor', () => {
  test('a large typed array transferred away after nt.tensor: the tensor keeps its values', () => {
    const data = new Float32Array(1 << 16).fill(3); // 256 KiB: was borrowed, then freed by the transfer
    const t = nt.tensor(data);
    const moved = transfer(data.buffer);
    expect(data.length).toBe(0); // detached
    new Float32Array(moved).fill(-1); // the memory now belongs to someone else
    global.gc?.();
    expect(Number(t.sum().item())).toBe(3 * (1 << 16));
    t.dispose();
  });

  test('an ArrayBuffer transferred while fit() reads the tensor made from it', async () => {
    const xs = new Float32Array(4096 * 4).map((_, i) => (i % 7) / 7);
    const ys = new Float32Array(4096).map((_, i) => i % 2);
    const x = nt.tensor(xs, { shape: [4096, 4] });
    const y = nt.tensor(ys, { shape: [4096, 1] });
    const m = dense(8, 0);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const fit = m.fit(x, y, { epochs: 2, batchSize: 64, verbose: 0 });
    transfer(xs.buffer);
    transfer(ys.buffer);
    global.gc?.();
    const h = await fit;
    expect(h.history.loss.every((v) => Number.isFinite(v))).toBe(true);
    expect(Number(x.index(4095).index(3).item())).toBeCloseTo(((4095 * 4 + 3) % 7) / 7, 6);
  });

  test('a typed array over a SharedArrayBuffer is shared without a copy (it cannot be detached)', () => {
    const data = new Float32Array(new SharedArrayBuffer(6 * 4));
    const t = nt.tensor(data, { shape: [2, 3] });
    data[0] = 42;
    expect(t.toArray()).toEqual([[42, 0, 0], [0, 0, 0]]);
    expect(() => structuredClone(data.buffer, { transfer: [data.buffer as unknown as ArrayBuffer] })).toThrow();
  });

  test('the JPEG decode buffer detached while the decode runs: a clear rejection, no write into freed memory', async () => {
    const file = p('img.jpg');
    await sharp(Buffer.alloc(16 * 8 * 3, 200), { raw: { width: 16, height: 8, channels: 3 } }).jpeg({ quality: 95 }).toFile(file);
    const out = Buffer.from(new ArrayBuffer(16 * 8 * 3 * 64));
    const files = new Array<string>(64).fill(file);
    const job = native.data_decode_jpeg(files, out, 8, 16, 3);
    transfer(out.buffer as ArrayBuffer);
    const r = await job.then(() => 'resolved', (e: Error) => e.message);
    // where this build has the native decoder it refuses; without it nothing was written either way
    if (r !== 'resolved') expect(r).toMatch(/out was detached \(transferred\).*keep the buffer until the promise settles/);
    // and undisturbed, the same call fills the buffer
    const ok = Buffer.alloc(16 * 8 * 3);
    const done = await native.data_decode_jpeg([file], ok, 8, 16, 3);
    if (done[0]) expect(ok[0]).toBeGreaterThan(150);
  });
});

describe('2. one model, overlapping uses', () => {
  const data = () => [nt.randn([256, 4]), nt.randn([256, 1])] as const;

  test('a second fit() while one runs is refused, saying what to do; the first completes', async () => {
    const m = dense(8, 1);
    m.compile({ optimizer: 'adam', loss: 'mse' });
    const [x, y] = data();
    const first = m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0 });
    await expect(m.fit(x, y, { epochs: 1, verbose: 0 })).rejects.toThrow(
      'fit: this model is already training (a fit() started earlier has not finished); await it first');
    expect(() => m.setWeights(m.getWeights())).toThrow(/setWeights: this model is already training/);
    await expect(m.predict(x)).rejects.toThrow(/predict: this model is already training.*or call predict from a callback/);
    await expect(m.save(p('busy'))).rejects.toThrow(/save: this model is already training/);
    const h = await first;
    expect(h.history.loss).toHaveLength(3);
    // free again
    await m.fit(x, y, { epochs: 1, verbose: 0 });
    m.setWeights(m.getWeights());
  });

  test('fit() while a predict() runs is refused; predicts share the model', async () => {
    const m = dense(8, 2);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = nt.randn([4096, 4]);
    const a = m.predict(x, { batchSize: 16 });
    const b = m.predict(x, { batchSize: 16 });
    await expect(m.fit(x, nt.zeros([4096, 1]), { verbose: 0 })).rejects.toThrow(/fit: this model is running predict\(\)/);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.shape).toEqual([4096, 1]);
    expect(Number(ra.sub(rb).abs().max().item())).toBe(0);
  });

  test('the callbacks of a fit may predict, evaluate, save and set weights', async () => {
    const m = dense(4, 3);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const [x, y] = data();
    const seen: string[] = [];
    await m.fit(x, y, {
      epochs: 2, verbose: 0, callbacks: [{
        onEpochEnd: async () => {
          seen.push(String((await m.predict(x.slice(0, 0, 2))).shape));
          seen.push(typeof await m.evaluate(x, y, { verbose: 0 }));
          await m.save(p('from-callback'));
          m.setWeights(m.getWeights());
          await expect(m.fit(x, y, { verbose: 0 })).rejects.toThrow(/fit: this model is already training/);
        },
      }],
    });
    expect(seen).toEqual(['2,1', 'number', '2,1', 'number']);
    expect((await nt.loadModel(p('from-callback'))).countParams()).toBe(m.countParams());
  });
});

describe('3. raw exports given huge arrays', () => {
  test('tensor_dispose_many of a sparse array of length 2^32-1 is refused at once', () => {
    const a: number[] = [];
    a.length = 2 ** 32 - 1;
    expect(() => native.tensor_dispose_many(a)).toThrow(/expected an array of at most 67108864 handles but it has length 4294967295/);
    const t = nt.ones([2]);
    native.tensor_dispose_many([t._h, t._h]);
    expect(t.isDisposed || nt.memory().tensors >= 0).toBe(true);
  });
});

const hasMkfifo = process.platform !== 'win32' && spawnSync('mkfifo', ['--version'], { stdio: 'ignore' }).status === 0;

describe('4. loaders given files that are not regular files', () => {
  (hasMkfifo ? test : test.skip)('FIFOs and devices are refused at once and no pool thread is held', async () => {
    const fifo = p('pipe.pt');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // more than libuv's four pool threads: each used to block one for good
    for (let i = 0; i < 6; i++) {
      await expect(nt.load(fifo)).rejects.toThrow(`nt.load: ${fifo} is a FIFO (named pipe), not a regular file`);
      await expect(nt.jit.load(fifo)).rejects.toThrow(/jit.load: .*pipe\.pt is a FIFO \(named pipe\), not a regular file/);
    }
    expect(() => loadSafetensors(fifo)).toThrow(/is a FIFO \(named pipe\), not a regular file/);
    await expect(nt.load('/dev/zero')).rejects.toThrow('nt.load: /dev/zero is a character device, not a regular file');
    // the pool still runs work
    const m = dense(2, 4);
    expect((await m.predict(nt.ones([3, 4]))).shape).toEqual([3, 1]);
    // a model directory whose config.json is a FIFO
    await m.save(p('fifo-model'));
    fs.rmSync(p('fifo-model', 'config.json'));
    expect(spawnSync('mkfifo', [p('fifo-model', 'config.json')]).status).toBe(0);
    await expect(nt.loadModel(p('fifo-model'))).rejects.toThrow(/config\.json is a FIFO \(named pipe\), not a regular file/);
  });
});

describe('5. a save killed at any moment leaves the old model or the new one, whole', () => {
  test('the states a kill can leave: staged files only (old model), journal committed (new model)', async () => {
    const dir = p('states');
    const m8 = dense(8, 5);
    const m16 = dense(16, 6);
    await m8.save(dir);
    // killed after staging every file, before the journal: the old model, and the staged files swept by the next save
    const staged = p('staged');
    await m16.save(staged);
    for (const n of fs.readdirSync(staged)) fs.copyFileSync(path.join(staged, n), path.join(dir, `.next.${n}`));
    expect((await nt.loadModel(dir)).countParams()).toBe(m8.countParams());
    // killed right after the journal's rename: the new model, completed by the reader
    fs.writeFileSync(path.join(dir, '.commit.json'), JSON.stringify({ write: ['model.safetensors', 'config.json'], remove: [] }));
    const loaded = await nt.loadModel(dir);
    expect(loaded.countParams()).toBe(m16.countParams());
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    // killed half-way through the renames: same
    await m8.save(dir);
    for (const n of fs.readdirSync(staged)) fs.copyFileSync(path.join(staged, n), path.join(dir, `.next.${n}`));
    fs.writeFileSync(path.join(dir, '.commit.json'), JSON.stringify({ write: ['model.safetensors', 'config.json'], remove: [] }));
    fs.renameSync(path.join(dir, '.next.model.safetensors'), path.join(dir, 'model.safetensors'));
    expect((await nt.loadModel(dir)).countParams()).toBe(m16.countParams());
  });

  test('a writer that throws part-way leaves the old set and no staged files', () => {
    const dir = p('throws');
    writeFileSetSync(dir, { 'a.txt': (f) => fs.writeFileSync(f, 'old a'), 'b.txt': (f) => fs.writeFileSync(f, 'old b') });
    expect(() => writeFileSetSync(dir, {
      'a.txt': (f) => fs.writeFileSync(f, 'new a'),
      'b.txt': () => { throw new Error('disk full'); },
    })).toThrow('disk full');
    expect(fs.readdirSync(dir).sort()).toEqual(['a.txt', 'b.txt']);
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('old a');
    writeFileSetSync(dir, { 'a.txt': (f) => fs.writeFileSync(f, 'new a'), 'b.txt': null });
    expect(fs.readdirSync(dir)).toEqual(['a.txt']);
  });

  test('Dense(8) and Dense(16) saved alternately into one directory and killed at random moments: always loadable', async () => {
    const dir = p('alternating');
    const script = p('alternate.ts');
    fs.writeFileSync(script, `
      import * as nt from ${JSON.stringify(path.join(root, 'lib'))};
      const make = (u: number) => { const m = new nt.Sequential([new nt.layers.Dense(u, { inputShape: [64] }), new nt.layers.Dense(u)]); m.build(); return m; };
      const ms = [make(8 * 32), make(16 * 32)];
      (async () => { for (let i = 0; ; i++) { await ms[i % 2].save(${JSON.stringify(dir)}); if (i === 1) console.log('saved'); } })();
    `);
    const sizes = new Set<number>();
    for (let run = 0; run < 3; run++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => { if (String(d).includes('saved')) resolve(); });
        child.on('exit', (code) => reject(new Error(`child exited with ${code} before saving`)));
      });
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 400));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const m = await nt.loadModel(dir);
      sizes.add(m.countParams());
      expect([64 * 256 + 256 + 256 * 256 + 256, 64 * 512 + 512 + 512 * 512 + 512]).toContain(m.countParams());
    }
    expect(sizes.size).toBeGreaterThan(0);
  });
});

describe('6. names from files never become prototypes', () => {
  test("a safetensors tensor named '__proto__' is an own entry, and a weights file with one is refused", async () => {
    const file = p('proto.safetensors');
    const text = `{"__proto__":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},"__metadata__":{"__proto__":"x"}}`;
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text), Buffer.alloc(24)]));
    const r = loadSafetensors(file);
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    expect(Object.keys(r)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(r, '__proto__')!.value.shape).toEqual([6]);
    expect((r as { shape?: unknown }).shape).toBeUndefined();
    const loaded = await nt.load(file);
    expect(Object.keys(loaded)).toEqual(['__proto__']);
    const m = dense(2, 7);
    await expect(m.loadWeights(file)).rejects.toThrow(/the weights do not match the model .*not in the model: __proto__/);
  });
});

describe('7. maxBytes: what a file declares is refused beyond it before anything is allocated', () => {
  test('a small .pt declaring a large tensor (a stride-0 view) and a safetensors file over the limit', async () => {
    // a 1-value storage viewed as 2^28 floats (1 GiB once materialized)
    const big = p('stride0.pt');
    const py = `
import torch, sys
t = torch.zeros(1).expand(1 << 28)
torch.save({'w': t}, sys.argv[1])`;
    const python = torchPython();
    if (python && spawnSync(python, ['-c', py, big], { encoding: 'utf8' }).status === 0) {
      await expect(nt.load(big, { maxBytes: 1 << 20 })).rejects.toThrow(/nt.load: .*stride0\.pt: a tensor of size \[268435456\] .*needs 1073741824 bytes, over maxBytes \(1048576\)/);
    }
    const st = p('w.safetensors');
    saveSafetensors(st, { w: nt.zeros([1024]) });
    expect(() => loadSafetensors(st, { maxBytes: 1000 })).toThrow(/its tensors needs 4096 bytes, over maxBytes \(1000\); pass a larger \{ maxBytes \}/);
    expect(loadSafetensors(st, { maxBytes: 4096 }).w.shape).toEqual([1024]);
    await expect(nt.load(st, { maxBytes: -1 })).rejects.toThrow('nt.load: expected maxBytes to be a positive number of bytes but received -1');
    const m = dense(64, 8);
    await m.save(p('mb'));
    await expect(nt.loadModel(p('mb'), { maxBytes: 100 })).rejects.toThrow(/loadModel: .*model\.safetensors: the weights file needs \d+ bytes, over maxBytes \(100\)/);
    expect((await nt.loadModel(p('mb'))).countParams()).toBe(m.countParams());
    await nt.save({ w: nt.zeros([64]) }, p('ts.pt'));
    await expect(nt.jit.load(p('ts.pt'), { maxBytes: 64 })).rejects.toThrow(/jit.load: .*ts\.pt: the archive needs \d+ bytes, over maxBytes \(64\)/);
  });
});

describe('9. errors that do not echo files', () => {
  test('a config.json that is another file (a symlink to /etc/passwd) is not quoted in the error', async () => {
    if (!fs.existsSync('/etc/passwd')) return;
    const m = dense(2, 9);
    await m.save(p('passwd-model'));
    fs.rmSync(p('passwd-model', 'config.json'));
    fs.symlinkSync('/etc/passwd', p('passwd-model', 'config.json'));
    const firstLine = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];
    const e = await nt.loadModel(p('passwd-model')).then(() => null, (err: Error) => err);
    expect(e!.message).toMatch(/loadModel: .*config\.json is not valid JSON/);
    expect(e!.message).not.toContain(firstLine.slice(0, 8));
  });
});

describe('9. errors in the user\'s terms', () => {
  test('fit on no rows, non-integer sparse labels, rates float32 cannot hold, a disposed tensor in a list, an unknown optimizer', async () => {
    const m = new nt.Sequential([new nt.layers.Dense(3, { inputShape: [4] })]);
    m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' });
    await expect(m.fit(nt.zeros([0, 4]), nt.zeros([0], { dtype: 'int64' }), { verbose: 0 })).rejects.toThrow(
      'fit: x has no samples (shape [0, 4]); pass at least one');
    await expect(m.fit(nt.zeros([2, 4]), nt.tensor([1, 1.75]), { verbose: 0 })).rejects.toThrow(
      'fit: sparse_categorical_crossentropy expects integer class labels, but label 1 is 1.75');
    await m.fit(nt.zeros([2, 4]), nt.tensor([1, 2]), { verbose: 0 }); // integral floats are labels
    const param = nt.ones([2], { requiresGrad: true });
    expect(() => new nt.optim.SGD([param], { lr: 1e308 })).toThrow(
      "SGD: expected lr to be a non-negative number at most 3.4e38 (float32's largest) but received 1e+308");
    for (const lr of [Infinity, NaN, -1]) expect(() => m.setLearningRate(lr)).toThrow(/^setLearningRate: expected lr to be a non-negative number/);
    expect(() => new nt.optimizers.Adam({ learningRate: Infinity })).toThrow(/optimizers.adam: expected learningRate .* at most 3.4e38/);
    const d = nt.ones([2]);
    d.dispose();
    expect(() => nt.cat([nt.ones([2]), d])).toThrow(/cat: tensors\[1\] is a disposed Tensor: it was freed by dispose\(\) or tidy\(\)/);
    expect(() => native.tensor_clone(2 ** 40 as never)).toThrow(/is not a live Tensor: a disposed one .*or a number that is no tensor handle/);
    await m.save(p('bogus-opt'));
    const cfgFile = p('bogus-opt', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.compileConfig.optimizer.className = 'Bogus';
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    await expect(nt.loadModel(p('bogus-opt'))).rejects.toThrow(
      `loadModel: ${cfgFile}: compileConfig.optimizer: optimizers: unknown optimizer string 'Bogus'; known: sgd, adam, adamw, rmsprop, adagrad`);
  });

  test('a safetensors shape of 65 dimensions names the file', () => {
    const file = p('dims65.safetensors');
    const text = JSON.stringify({ w: { dtype: 'F32', shape: new Array(65).fill(1), data_offsets: [0, 4] } });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text), Buffer.alloc(4)]));
    expect(() => loadSafetensors(file)).toThrow(`loadSafetensors: ${file}: tensor 'w' has 65 dimensions; at most 64 are supported`);
  });
});

describe('8. the serve example under slow, many and malformed requests', () => {
   
  const { createServer } = require('../examples/serve/server') as typeof import('../examples/serve/server');
  const net = require('net') as typeof import('net');  

  async function serve(opts: Record<string, unknown>) {
    const m = new nt.Sequential([new nt.layers.Dense(2, { inputShape: [3] })]);
    m.build();
    await m.save(p('serve-model'));
    const server = createServer({ model: p('serve-model'), ...opts });
    const url = await server.listen();
    await server.ready;
    return { server, url, port: Number(new URL(url).port) };
  }
  const closed = (s: import('net').Socket) => new Promise<void>((r) => { if (s.destroyed) r(); else s.on('close', () => r()); });

  test('a slowloris connection is closed after requestTimeout; connections over maxConnections are refused', async () => {
    const { server, port } = await serve({ requestTimeout: 300, headersTimeout: 300, maxConnections: 2 });
    try {
      const slow = net.connect(port, '127.0.0.1');
      slow.on('error', () => undefined);
      slow.write('POST /predict HTTP/1.1\r\nHost: x\r\n'); // and never the rest
      await closed(slow); // the server ends it (it used to stay open for good)
      const a = net.connect(port, '127.0.0.1');
      const b = net.connect(port, '127.0.0.1');
      await Promise.all([a, b].map((s) => new Promise((r) => s.on('connect', r))));
      const c = net.connect(port, '127.0.0.1');
      c.on('error', () => undefined);
      await closed(c); // over the cap: closed at once by the server
      for (const s of [a, b]) s.destroy();
    } finally {
      await server.close();
    }
  });

  test('JSON nested deeper than an instance is refused before parsing; the declared charset is honoured', async () => {
    const { server, url } = await serve({});
    try {
      const post = (body: Buffer | string, type: string) =>
        fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': type }, body })
          .then(async (r) => [r.status, await r.json() as { message?: string; predictions?: unknown[] }] as const);
      const deep = `{"inputs":${'['.repeat(100000)}${']'.repeat(100000)}}`;
      const [s1, b1] = await post(deep, 'application/json');
      expect([s1, b1.message]).toEqual([400, 'the JSON body is nested deeper than 8 levels']);
      const latin1 = Buffer.from('{"inputs":[[1,2,3]]}', 'latin1');
      const [s2, b2] = await post(latin1, 'application/json; charset=ISO-8859-1');
      expect([s2, b2.message]).toEqual([200, undefined]);
      expect(b2.predictions).toHaveLength(1);
      const utf16 = Buffer.from('{"inputs":[[1,2,3]]}', 'utf16le');
      const [s3] = await post(utf16, 'application/json; charset=utf-16le');
      expect(s3).toBe(200);
      const [s4, b4] = await post('{"inputs":[[1,2,3]]}', 'application/json; charset=koi8-r');
      expect([s4, b4.message]).toEqual([415, 'charset "koi8-r" is not supported for JSON']);
    } finally {
      await server.close();
    }
  });
});
