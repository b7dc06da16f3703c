// Child process for test/keras_engine_thread.test.ts: runs with UV_THREADPOOL_SIZE=1 (libuv's pool
// has one thread) and prints one JSON line per finished part. It never calls process.exit unless
// told to (mode 'exit-mid-fit'): the test checks that the runner thread lets the process end.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as nt from '../lib';

const { Sequential, layers } = nt;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-thread-'));

function model(seed: number): nt.Sequential {
  nt.manualSeed(seed);
  const m = new Sequential([new layers.Dense(16, { activation: 'relu', inputShape: [8] }), new layers.Dense(1)]);
  m.compile({ optimizer: 'adam', loss: 'mse' });
  return m;
}
function data(seed: number): [nt.Tensor, nt.Tensor] {
  nt.manualSeed(seed);
  const x = nt.randn([128, 8]);
  return [x, x.sum(1, true)];
}
/** A callback whose onBatchEnd waits for a file write (libuv's pool) before the next batch. */
function writer(tag: string, log: number[]): nt.callbacks.Callback {
  return { onBatchEnd: async (b: number) => { await fs.promises.writeFile(path.join(dir, `${tag}-${b}.txt`), String(b)); log.push(b); } } as never;
}
function report(part: string, v: unknown): void {
  process.stdout.write(`${JSON.stringify({ part, ...(v as object) })}\n`);
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === 'exit-mid-fit') {
    const m = model(1);
    const [x, y] = data(1);
    void m.fit(x.repeat([50, 1]), y.repeat([50, 1]), { epochs: 100, batchSize: 16, verbose: 0,
      callbacks: [{ onBatchEnd: (b: number) => { if (b === 3) { report('exiting', {}); process.exit(0); } } } as never] });
    return;
  }
  // 1. one fit whose batch callback awaits fs.promises.writeFile
  {
    const m = model(1);
    const [x, y] = data(1);
    const log: number[] = [];
    const h = await m.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0, callbacks: [writer('one', log)] });
    report('fit-with-fs-callback', { epochs: h.history.loss.length, batches: log.length, loss: h.history.loss });
  }
  // 2. four models fit at once, each awaiting file writes in its batch callback
  {
    const runs = [0, 1, 2, 3].map(async (k) => {
      const m = model(10 + k);
      const [x, y] = data(10 + k);
      const log: number[] = [];
      const h = await m.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, callbacks: [writer(`four${k}`, log)] });
      return { batches: log.length, loss: h.history.loss };
    });
    report('four-concurrent-fits', { runs: await Promise.all(runs) });
  }
  // 3. libuv's only thread blocked (opening a FIFO no one writes yet): fit, evaluate, predict and
  // TorchScript forwards still run
  if (process.platform !== 'win32') {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const blocked = fs.promises.readFile(fifo, 'utf8');
    const m = model(2);
    const [x, y] = data(2);
    const h = await m.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0 });
    const e = await m.evaluate(x, y, { verbose: 0 }) as number;
    const p = await m.predict(x, { batchSize: 50 });
    // TorchScript forwards run on the addon's pool (native/threads.cc OwnedPool), not libuv's
    const s = nt.jit.compile('def forward(self, x):\n    return x.sum(1) * 2\n');
    const j = await s.forward(nt.ones([3, 4])) as nt.Tensor;
    report('pool-blocked', { epochs: h.history.loss.length, evaluate: e, predictRows: p.shape[0], jit: j.toArray() });
    // unblock the pool: a writer opens the FIFO (from a child process, as this one's pool is busy)
    execFileSync(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(fifo)}, 'ok')`]);
    report('pool-released', { read: await blocked });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  report('done', {});
}

void main();
