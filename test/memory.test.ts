// Memory: dispose(), tidy() scopes, keep(), GC finalizers and bounded RSS for forgotten tensors.
// `npm test` runs this file in a process of its own: in a jest worker that already ran other
// files, V8's FinalizationRegistry callbacks were seen to stop (cause not established), which
// would make these measurements about jest rather than nodetorch.
import * as nt from '../lib';

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
