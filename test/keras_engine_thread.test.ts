// The runner thread the addon owns (native/model.cc Runner): fit, evaluate and predict run there,
// not on libuv's pool, so batch callbacks that await fs cannot deadlock, several models train at
// once, and the process still ends on its own. The shuffled batch order is one on both paths.
import { spawn } from 'child_process';
import * as path from 'path';
import * as nt from '../lib';

const { Sequential, layers } = nt;

interface Child { lines: Record<string, unknown>[]; code: number | null; signal: string | null; stderr: string; timedOut: boolean }

/** Runs test/keras_thread_child.ts with UV_THREADPOOL_SIZE=1; a hang is killed after 100 s and reported. */
function runChild(mode = ''): Promise<Child> {
  return new Promise((resolve) => {
    const tsx = require.resolve('tsx/cjs');
    const p = spawn(process.execPath, ['--require', tsx, path.join(__dirname, 'keras_thread_child.ts'), ...(mode ? [mode] : [])], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-5000); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, 100_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ lines, code, signal, stderr, timedOut });
    });
  });
}

describe('a runner thread the addon owns, with libuv pool of one thread (UV_THREADPOOL_SIZE=1)', () => {
  let child: Child;
  beforeAll(async () => { child = await runChild(); }, 110_000);
  const part = (name: string) => child.lines.find((l) => l.part === name) as Record<string, unknown> | undefined;

  test('fit whose onBatchEnd awaits fs.promises.writeFile completes every batch', () => {
    expect(child.timedOut).toBe(false);
    const p = part('fit-with-fs-callback');
    expect(p).toBeDefined();
    expect(p!.epochs).toBe(2);
    expect(p!.batches).toBe(8); // 128 samples / 32, two epochs
    const loss = p!.loss as number[];
    expect(loss[1]).toBeLessThan(loss[0]);
  });

  test('four models fit at once, each awaiting file writes per batch, all complete', () => {
    const p = part('four-concurrent-fits');
    expect(p).toBeDefined();
    const runs = p!.runs as { batches: number; loss: number[] }[];
    expect(runs).toHaveLength(4);
    for (const r of runs) {
      expect(r.batches).toBe(24);
      expect(r.loss[2]).toBeLessThan(r.loss[0]);
    }
  });

  (process.platform === 'win32' ? test.skip : test)('fit, evaluate, predict and TorchScript forwards run while libuv\'s only thread is blocked', () => {
    const p = part('pool-blocked');
    expect(p).toBeDefined();
    expect(p!.epochs).toBe(2);
    expect(Number.isFinite(p!.evaluate)).toBe(true);
    expect(p!.predictRows).toBe(128);
    expect(p!.jit).toEqual([8, 8, 8]);
    expect(part('pool-released')!.read).toBe('ok');
  });

  test('the process ends by itself when the work is done (the runner keeps nothing alive)', () => {
    expect(part('done')).toBeDefined();
    expect(child.signal).toBeNull();
    expect(child.code).toBe(0);
  });

  test('process.exit in the middle of a fit exits cleanly (cleanup hook stops the runner)', async () => {
    const c = await runChild('exit-mid-fit');
    expect(c.timedOut).toBe(false);
    expect(c.lines.map((l) => l.part)).toEqual(['exiting']);
    expect(c.signal).toBeNull();
    expect(c.code).toBe(0);
  }, 110_000);
});

/** Sequential([Dense(8, relu), Dense(1)]) with weights from seed. */
function mlp(seed: number, extra: nt.layers.Layer[] = []): nt.Sequential {
  nt.manualSeed(seed);
  const m = new Sequential([new layers.Dense(8, { activation: 'relu', inputShape: [4] }), new layers.Dense(1), ...extra]);
  m.build([null, 4]);
  m.compile({ optimizer: new nt.optimizers.SGD({ learningRate: 0.05 }), loss: 'mse', metrics: ['mae'] });
  return m;
}

/** A user layer: its presence makes fit run the JS (autograd) path. */
class Identity extends layers.Layer {
  override call(x: nt.Tensor): nt.Tensor {
    return x;
  }
}

function maxDiff(a: nt.Tensor[], b: nt.Tensor[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((t, i) => Number(t.sub(b[i]).abs().max().item())));
}

describe('one trainer, several models', () => {
  const data = (seed: number): [nt.Tensor, nt.Tensor] => {
    nt.manualSeed(seed);
    const x = nt.randn([64, 4]);
    return [x, x.sum(1, true).mul(0.5)];
  };

  test('four models trained concurrently end with the weights each gets trained alone', async () => {
    const alone: nt.Tensor[][] = [];
    for (let k = 0; k < 4; k++) {
      const m = mlp(100 + k);
      const [x, y] = data(k);
      await m.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
      alone.push(m.getWeights());
    }
    const together = await Promise.all([0, 1, 2, 3].map(async (k) => {
      const m = mlp(100 + k);
      const [x, y] = data(k);
      await m.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
      return m.getWeights();
    }));
    for (let k = 0; k < 4; k++) expect(maxDiff(together[k], alone[k])).toBeLessThan(1e-6);
  });

  test('evaluate and predict of several models at once agree with one at a time', async () => {
    const ms = [0, 1, 2].map((k) => mlp(200 + k));
    const [x, y] = data(7);
    const one = [];
    for (const m of ms) one.push([await m.evaluate(x, y, { verbose: 0 }), await m.predict(x)] as const);
    const all = await Promise.all(ms.map(async (m) => [await m.evaluate(x, y, { verbose: 0 }), await m.predict(x)] as const));
    for (let k = 0; k < 3; k++) {
      expect(all[k][0]).toEqual(one[k][0]);
      expect(maxDiff([all[k][1]], [one[k][1]])).toBe(0);
    }
  });

  test('same seed, same batch order: a shuffled fit trains the same natively and through the JS path', async () => {
    const [x, y] = data(3);
    const native = mlp(300);
    const js = mlp(300, [new Identity()]);
    js.setWeights(native.getWeights());
    nt.manualSeed(42);
    const hn = await native.fit(x, y, { epochs: 2, batchSize: 8, shuffle: true, verbose: 0 });
    nt.manualSeed(42);
    const hj = await js.fit(x, y, { epochs: 2, batchSize: 8, shuffle: true, verbose: 0 });
    // a different order would leave different weights after SGD
    expect(maxDiff(js.getWeights(), native.getWeights())).toBeLessThan(1e-5);
    for (let e = 0; e < 2; e++) {
      expect(hj.history.loss[e]).toBeCloseTo(hn.history.loss[e], 5);
      expect(hj.history.mae[e]).toBeCloseTo(hn.history.mae[e], 5);
    }
    // and a different seed gives a different order
    const other = mlp(300);
    nt.manualSeed(43);
    await other.fit(x, y, { epochs: 2, batchSize: 8, shuffle: true, verbose: 0 });
    expect(maxDiff(other.getWeights(), native.getWeights())).toBeGreaterThan(1e-4);
  });

  test('metric state is kept natively across the batches of a dataset fit', async () => {
    const [x, y] = data(5);
    const m = mlp(400);
    const ds = nt.data.Dataset.fromTensorSlices([x, y]).batch(16);
    const seen: number[] = [];
    const h = await m.fit(ds, { epochs: 1, verbose: 0, callbacks: [{ onBatchEnd: (_b: number, logs: Record<string, number>) => { seen.push(logs.mae); } } as never] });
    expect(seen).toHaveLength(4);
    expect(h.history.mae[0]).toBeCloseTo(seen[3], 10);
  });
});
