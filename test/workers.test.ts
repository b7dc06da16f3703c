// nodetorch in worker_threads: each thread has its own handle table (native/handles.h), trains
// beside the main thread, frees its tensors when it exits, and exchanges tensor data with
// the main thread. Tensors cross threads as their data: t.dataSync() copies the values into a
// fresh ArrayBuffer, which postMessage transfers (no second copy), and nt.tensor(typedArray)
// on the other side copies them into a new tensor (a SharedArrayBuffer-backed array is shared
// without copies instead). A tensor object itself is not sent.
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as nt from '../lib';
import { train } from './fixtures/nt_worker';

const SCRIPT = path.join(__dirname, 'fixtures/nt_worker.ts');

function start(workerData: unknown, transfer: ArrayBuffer[] = []): Worker {
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(SCRIPT)});`, { eval: true, workerData, transferList: transfer });
}

function reply<T>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited (${code}) before answering`)));
  });
}

const exited = (w: Worker): Promise<number> => new Promise((r) => w.once('exit', r));
const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20;

describe('worker_threads', () => {
  test('3 workers and the main thread train at once and all get the right weights', async () => {
    const steps = 300;
    const workers = [0, 1, 2].map(() => start({ kind: 'train', steps }));
    // listen for the exits now: a worker that answers first may exit before the others answer
    const exits = workers.map(exited);
    await Promise.all(workers.map((w) => reply<{ ready: boolean }>(w)));
    const answers = workers.map((w) => reply<{ w: number[]; live: number }>(w));
    for (const w of workers) w.postMessage('go');
    // the main thread trains meanwhile, several times over (each run must give the same weights)
    const mine = train(steps);
    for (let r = 0; r < 4; r++) expect(train(steps)).toEqual(mine);
    const theirs = await Promise.all(answers);
    await Promise.all(exits);
    // gradient descent on y = x w_true heads for w_true = [-3.5 ... 3.5]; every thread takes the same steps
    const wTrue = Array.from({ length: 8 }, (_, i) => i - 3.5);
    for (let i = 0; i < 8; i++) expect(Math.abs(mine[i] - wTrue[i])).toBeLessThan(0.5);
    for (const t of theirs) {
      for (let i = 0; i < 8; i++) expect(t.w[i]).toBeCloseTo(mine[i], 5);
    }
  }, 240_000);

  test('a worker that exits with TorchScript forwards queued ends cleanly', async () => {
    const w = start({ kind: 'jit' });
    const r = await reply<{ sum: number }>(w);
    // the same forward on the main thread's pool gives the same value
    const m = nt.jit.compile('def forward(self, x):\n    y = x\n    for i in range(2000):\n        y = torch.tanh(y @ x)\n    return y.sum()\n');
    const mine = (await m.forward(nt.eye(64).mul(1.5)) as nt.Tensor).itemNumber();
    expect(mine).toBeCloseTo(64 * 0.8586, 1); // tanh(1.5 v) = v at v = 0.8586..., on each diagonal entry
    expect(r.sum).toBeCloseTo(mine, 5);
    w.postMessage('exit');
    expect(await exited(w)).toBe(0);
    expect((await m.forward(nt.eye(64).mul(1.5)) as nt.Tensor).itemNumber()).toBeCloseTo(mine, 5);
  }, 60_000);

  test('a worker that exits frees its tensors', async () => {
    const w = start({ kind: 'hold', mib: 512 });
    const r = await reply<{ bytes: number; sum: number }>(w);
    expect(r.bytes).toBeGreaterThanOrEqual(512 * 2 ** 20);
    expect(r.sum).toBe(16 * 2 ** 20 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7));
    const withWorker = rssMiB();
    w.postMessage('exit');
    expect(await exited(w)).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    // the worker's 512 MiB were its own table's: the main thread's table never saw them. The CPU
    // allocator keeps up to 256 MiB of freed blocks for reuse (README "Freed memory is reused"),
    // so at least 512 - 256 MiB leave the process (a leak would free nothing)
    expect(withWorker - rssMiB()).toBeGreaterThan(512 - 256 - 32);
  }, 120_000);

  test('tensor data goes to a worker and back (transferred buffers, copied into tensors)', async () => {
    const t = nt.arange(12, { dtype: 'float32' }).reshape([3, 4]);
    const data = t.dataSync() as Float32Array;
    const w = start({ kind: 'double', data, shape: [3, 4] }, [data.buffer as ArrayBuffer]);
    const exit = exited(w);
    expect(data.byteLength).toBe(0); // transferred, not cloned
    const out = await reply<Float32Array>(w);
    await exit;
    // (a copy into this realm: jest runs tests in a vm context whose Float32Array is not Node's)
    const back = nt.tensor(Float32Array.from(out)).reshape([3, 4]);
    expect(back.toArray()).toEqual(Array.from({ length: 3 }, (_, i) => Array.from({ length: 4 }, (_, j) => 2 * (4 * i + j) + 1)));
    expect(t.toArray()).toEqual(Array.from({ length: 3 }, (_, i) => Array.from({ length: 4 }, (_, j) => 4 * i + j)));
  }, 120_000);
});
