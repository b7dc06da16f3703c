// The public API abused concurrently: fits, predicts, saves, loads, disposes and worker transfers all
// at once over a few models. Nothing may crash; every failure must be an Error that says what was
// wrong (no "Cannot read properties of undefined", no libtorch internals), and what succeeds is right.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as nt from '../lib';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-abuse-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const UNCLEAR = /Cannot (read|set) propert|is not a function|undefined is not|null is not|set_detect_anomaly|inplace operation|c10::|at::/;

function model(units: number, seed: number): nt.Sequential {
  nt.manualSeed(seed);
  const m = new nt.Sequential([new nt.layers.Dense(units, { inputShape: [4], activation: 'relu' }), new nt.layers.Dense(1)]);
  m.compile({ optimizer: 'adam', loss: 'mse' });
  return m;
}

/** Settles every promise; returns the messages of the failures, checking each is a clear Error. */
async function outcomes(ps: Promise<unknown>[]): Promise<string[]> {
  const rs = await Promise.allSettled(ps);
  const msgs: string[] = [];
  for (const r of rs) {
    if (r.status === 'fulfilled') continue;
    // an Error of any realm (native errors are made in the main context, not jest's sandbox)
    expect(Object.prototype.toString.call(r.reason)).toBe('[object Error]');
    const msg = (r.reason as Error).message;
    expect(msg).not.toMatch(UNCLEAR);
    msgs.push(msg);
  }
  return msgs;
}

test('fits, predicts, evaluates, saves and loads on shared models at once: clear refusals, correct results', async () => {
  const ms = [model(8, 1), model(16, 2)];
  const x = nt.randn([512, 4]);
  const y = x.sum({ dim: 1, keepdim: true });
  const dir = path.join(tmp, 'shared');
  await ms[0].save(dir);
  const ps: Promise<unknown>[] = [];
  for (let round = 0; round < 3; round++) {
    for (const m of ms) {
      ps.push(m.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 }));
      ps.push(m.predict(x));
      ps.push(m.evaluate(x, y, { verbose: 0 }));
      ps.push(m.save(dir));
      ps.push(nt.loadModel(dir).then((l) => l.predict(x.slice(0, 0, 4))));
    }
  }
  const msgs = await outcomes(ps);
  // the refusals are the busy-model ones, and loading a directory being rewritten never fails
  for (const m of msgs) expect(m).toMatch(/this model is (already training|running)/);
  // afterwards every model is usable and the directory holds one of them, whole
  for (const m of ms) await m.fit(x, y, { epochs: 1, verbose: 0 });
  const loaded = await nt.loadModel(dir);
  expect([ms[0].countParams(), ms[1].countParams()]).toContain(loaded.countParams());
});

test('inputs disposed and their memory transferred while fit and predict read them', async () => {
  const m = model(8, 3);
  const ps: Promise<unknown>[] = [];
  for (let k = 0; k < 4; k++) {
    const xs = new Float32Array(2048 * 4).map(() => Math.random());
    const x = nt.tensor(xs, { shape: [2048, 4] });
    const y = x.sum({ dim: 1, keepdim: true });
    const p = k % 2 ? m.predict(x, { batchSize: 64 }) : m.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0 });
    ps.push(p);
    structuredClone(xs.buffer, { transfer: [xs.buffer] }); // the JS memory goes away
    x.dispose(); // and so does the tensor, while the job still runs
    y.dispose();
  }
  // A job that reached the native side owns its inputs; one that had not yet (fit prepares its data
  // first) finds the input disposed and says so.
  const msgs = await outcomes(ps);
  for (const msg of msgs) expect(msg).toMatch(/this model is (already training|running)|is a disposed Tensor/);
});

test('buffers posted to a worker thread (transferred) while tensors made from them are in use', async () => {
  const worker = new Worker('const { parentPort } = require("worker_threads"); parentPort.on("message", (b) => parentPort.postMessage(b.byteLength));', { eval: true });
  try {
    const m = model(4, 4);
    const jobs: Promise<unknown>[] = [];
    const sums: number[] = [];
    for (let k = 0; k < 6; k++) {
      const xs = new Float32Array(1 << 15).fill(k + 1);
      const x = nt.tensor(xs, { shape: [(1 << 15) / 4, 4] });
      sums.push(Number(x.sum().item()));
      jobs.push(m.predict(x, { batchSize: 256 }).then((out) => {
        expect(out.shape).toEqual([(1 << 15) / 4, 1]);
        expect(Number(x.sum().item())).toBe(sums[k]); // the tensor kept its values
      }));
      worker.postMessage(xs.buffer, [xs.buffer]);
      expect(xs.length).toBe(0);
    }
    expect(await outcomes(jobs)).toEqual([]);
  } finally {
    await worker.terminate();
  }
});

test('tensors disposed from many places at once, tidy scopes and double disposes', async () => {
  const before = nt.memory().tensors;
  const ts = Array.from({ length: 200 }, (_, i) => nt.ones([i + 1]));
  await Promise.all(ts.map(async (t, i) => {
    await new Promise((r) => setImmediate(r));
    if (i % 3 === 0) t.dispose();
    nt.tidy(() => { if (!t.isDisposed) t.add(1); });
    t.dispose();
    t.dispose();
  }));
  expect(() => nt.cat(ts)).toThrow(/cat: tensors\[0\] is a disposed Tensor/);
  expect(nt.memory().tensors).toBeLessThanOrEqual(before + 1);
});
