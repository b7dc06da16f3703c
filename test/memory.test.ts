// Memory: dispose(), tidy() scopes, keep(), GC finalizers and bounded RSS for forgotten tensors.
// `npm test` runs this file in a process of its own: in a jest worker that already ran other
// files, V8's FinalizationRegistry callbacks were seen to stop (cause not established), which
// would make these measurements about jest rather than nodetorch.
import * as nt from '../lib';
import { native } from '../lib/native';

const MiB = 2 ** 20;
const rss = (): number => process.memoryUsage().rss;

const settle = () => new Promise((r) => setImmediate(r));

/** Collects until the live tensor count stops falling (finalizers run as separate tasks). */
async function collectGarbage(): Promise<void> {
  let last = -1;
  for (let i = 0; i < 20; i++) {
    global.gc?.();
    await new Promise((r) => setTimeout(r, 5));
    const n = nt.memory().tensors;
    if (n === last) return;
    last = n;
  }
}

describe('dispose', () => {
  test('frees native memory, is idempotent, and a disposed tensor cannot be used', () => {
    const start = nt.memory();
    const t = nt.ones([1000]);
    expect(nt.memory().tensors).toBe(start.tensors + 1);
    expect(nt.memory().bytes).toBe(start.bytes + 4000);
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(nt.memory()).toEqual(start);
    expect(() => t.add(1)).toThrow(/disposed/);
    expect(() => nt.ones([2]).add(t)).toThrow(/disposed/);
    expect(String(t.toString())).toBe('Tensor(disposed)');
  });

  test('a view keeps its storage alive after its base is disposed', () => {
    const base = nt.arange(10, { dtype: 'float32' });
    const view = base.narrow(0, 2, 3);
    base.dispose();
    expect(view.toArray()).toEqual([2, 3, 4]);
    view.dispose();
  });
});

describe('tidy', () => {
  test('frees everything created inside except what is returned', () => {
    const start = nt.memory();
    const kept = nt.tidy(() => {
      const a = nt.ones([10]);
      const b = a.mul(2).add(1);
      b.sum();
      return b;
    });
    expect(nt.memory().tensors).toBe(start.tensors + 1);
    expect(kept.toArray()).toEqual(new Array(10).fill(3));
    kept.dispose();
    expect(nt.memory()).toEqual(start);
  });

  test('returns tensors inside arrays and objects, and keep() lets others out', () => {
    const start = nt.memory();
    let escaped: nt.Tensor | undefined;
    const out = nt.tidy(() => {
      escaped = nt.keep(nt.zeros([1]));
      nt.ones([5]);
      return { list: [nt.ones([1]), nt.ones([2])], nested: { t: nt.ones([3]) }, n: 4 };
    });
    expect(nt.memory().tensors).toBe(start.tensors + 4);
    expect(out.n).toBe(4);
    expect(out.nested.t.shape).toEqual([3]);
    for (const t of [...out.list, out.nested.t, escaped!]) t.dispose();
    expect(nt.memory()).toEqual(start);
  });

  test('nested scopes hand returned tensors to the outer scope', () => {
    const start = nt.memory();
    const r = nt.tidy(() => {
      const inner = nt.tidy(() => nt.ones([2]).mul(3));
      expect(inner.isDisposed).toBe(false);
      return inner.add(1);
    });
    expect(r.toArray()).toEqual([4, 4]);
    r.dispose();
    expect(nt.memory()).toEqual(start);
  });

  test('frees the scope when fn throws, and refuses async functions', () => {
    const start = nt.memory();
    expect(() => nt.tidy(() => {
      nt.ones([4]);
      throw new Error('boom');
    })).toThrow('boom');
    expect(nt.memory()).toEqual(start);
    expect(() => nt.tidy((async () => nt.ones([1])) as unknown as () => nt.Tensor)).toThrow(/Promise/);
    expect(() => nt.tidy(undefined as unknown as () => void)).toThrow(/expected a function/);
  });

  test('tensors from inside a tidy cannot be used after it', () => {
    let leaked: nt.Tensor | undefined;
    nt.tidy(() => {
      leaked = nt.ones([2]);
    });
    expect(leaked!.isDisposed).toBe(true);
    expect(() => leaked!.sum()).toThrow(/disposed/);
  });

  test('autograd inside tidy: gradients survive on the leaf', () => {
    const start = nt.memory();
    const w = nt.ones([3], { requiresGrad: true });
    nt.tidy(() => {
      w.mul(w).sum().backward();
    });
    const g = w.grad!;
    expect(g.toArray()).toEqual([2, 2, 2]);
    g.dispose();
    w.dispose();
    expect(nt.memory()).toEqual(start);
  });
});

describe('garbage collection', () => {
  test('forgotten tensors are freed by the finalizer', async () => {
    if (!global.gc) throw new Error('run jest with node --expose-gc');
    await collectGarbage();
    const start = nt.memory().tensors;
    (() => {
      for (let i = 0; i < 1000; i++) nt.ones([10]).add(1);
    })();
    expect(nt.memory().tensors).toBeGreaterThanOrEqual(start + 1000);
    await collectGarbage();
    expect(nt.memory().tensors).toBeLessThan(start + 50);
  });

  test('a loop creating 100,000 tensors without dispose keeps RSS bounded', async () => {
    await collectGarbage();
    const before = process.memoryUsage().rss;
    let peak = before;
    // 100,000 tensors of 16 KB: 1.6 GB if none were freed.
    for (let i = 0; i < 100_000; i++) {
      nt.ones([4096]);
      if (i % 500 === 0) {
        await settle(); // an async loop yields, so finalizers run (as in any training loop)
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    }
    await collectGarbage();
    const growth = (peak - before) / 2 ** 20;
    expect(growth).toBeLessThan(400);
    expect(nt.memory().bytes).toBeLessThan(64 * 2 ** 20);
  });

  test('large forgotten tensors are collected: native bytes are reported to V8', async () => {
    await collectGarbage();
    const before = process.memoryUsage().rss;
    let peak = before;
    // 2,000 tensors of 4 MB (8 GB in all) but only 2,000 small JS objects: without the
    // external-memory report V8 would see no reason to collect them.
    for (let i = 0; i < 2000; i++) {
      nt.ones([1 << 20]);
      if (i % 10 === 0) {
        await settle();
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    }
    await collectGarbage();
    expect((peak - before) / 2 ** 20).toBeLessThan(1500);
  });
});

describe('forgotten tensors in synchronous code', () => {
  test('a tensor whose wrapper is unreachable stays usable through the next collection', () => {
    // the number of a wrapper that just died may still be on its way to native (read from a
    // temporary before another argument is evaluated): it must survive a full GC and the scan
    // that finds the wrapper dead
    const h = (() => nt.full([1], 3)._h)();
    global.gc!();
    native.tensor_scan();
    expect(native.tensor_item(h)).toBe(3);
    native.tensor_scan(); // the second scan frees it
    expect(() => native.tensor_item(h)).toThrow(/not a live Tensor/);
  });

  beforeAll(() => {
    if (!global.gc) throw new Error('run jest with node --expose-gc');
  });

  test('2,000 forgotten 1 MiB tensors (2 GiB) in a loop that never yields stay below 1 GiB RSS', async () => {
    await collectGarbage();
    const before = nt.memory();
    let peakRss = rss();
    let peakBytes = 0;
    let sum = 0;
    (() => {
      for (let i = 0; i < 2000; i++) {
        const t = nt.full([256 * 1024], i % 7); // 1 MiB of float32
        if (i % 100 === 0) sum += t.sum().itemNumber(); // the data is really there
        if (i % 25 === 0) {
          peakRss = Math.max(peakRss, rss());
          peakBytes = Math.max(peakBytes, nt.memory().bytes - before.bytes);
        }
      }
    })();
    peakRss = Math.max(peakRss, rss());
    expect(sum).toBe([...Array(20).keys()].reduce((s, k) => s + ((k * 100) % 7) * 256 * 1024, 0));
    expect(peakRss).toBeLessThan(1024 * MiB);
    // without the weak-reference scan, all 2,000 MiB would still be live here
    expect(peakBytes).toBeLessThan(768 * MiB);
    await collectGarbage();
    expect(nt.memory().tensors - before.tensors).toBeLessThan(50);
  }, 120_000);

  test('a PyTorch-style training loop without tidy keeps RSS flat after the first epoch', async () => {
    await collectGarbage();
    nt.manualSeed(0);
    // MNIST-shaped synthetic data (28x28 inputs, 10 classes), separable so the loss must fall.
    // No tidy, no dispose, no await: every batch's tensors are left to the garbage collector.
    const n = 4096;
    const batch = 512;
    const x = nt.randn([n, 784]);
    const proto = nt.randn([10, 784]);
    const y = x.matmul(proto.t()).argmax(1);
    const model = new nt.nn.Sequential(new nt.nn.Linear(784, 128), new nt.nn.ReLU(), new nt.nn.Linear(128, 10));
    const opt = new nt.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const epochLoss: number[] = [];
    const epochRss: number[] = [];
    const epochTensors: number[] = [];
    const epochs = 16;
    (() => {
      for (let epoch = 0; epoch < epochs; epoch++) {
        let total = 0;
        for (let i = 0; i < n; i += batch) {
          const xb = x.narrow(0, i, batch).add(nt.randn([batch, 784]).mul(0.05)); // noise augmentation
          const yb = y.narrow(0, i, batch);
          const out = model.forward(xb) as nt.Tensor;
          const loss = nt.F.crossEntropy(out, yb);
          opt.zeroGrad();
          loss.backward();
          opt.step();
          total += loss.itemNumber();
        }
        epochLoss.push(total / (n / batch));
        epochRss.push(rss());
        epochTensors.push(nt.memory().tensors);
      }
    })();
    expect(epochLoss[epochs - 1]).toBeLessThan(epochLoss[0] * 0.5);
    // Each epoch forgets 8 batches of augmented inputs, activations and gradients (~35 MiB): kept
    // until the loop yields, the last 8 epochs would add ~280 MiB over the first 8. Freed by the
    // collector, RSS reaches a plateau (a few collections' worth of garbage) and stays there.
    const maxOf = (xs: number[]) => Math.max(...xs);
    const firstRss = maxOf(epochRss.slice(0, 8));
    const lastRss = maxOf(epochRss.slice(8));
    expect((lastRss - firstRss) / MiB).toBeLessThan(64);
    expect((maxOf(epochRss) - epochRss[0]) / MiB).toBeLessThan(400);
    expect(maxOf(epochTensors.slice(8))).toBeLessThan(maxOf(epochTensors.slice(0, 8)) + 500);
  }, 120_000);
});
