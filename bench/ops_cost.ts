// Where the per-op time goes: interleaved micro-benchmarks of the layers of one op, in one
// process (A B C ... A B C ... rounds, median per variant), so machine load hits every variant
// alike. `node --expose-gc -r tsx/cjs bench/ops_cost.ts [--rounds N] [--ms M] [--threads T]`. Prints a table
// of ns per op and the load average before and after.
import * as os from 'os';
import * as nt from '../lib';
import { native } from '../lib/native';
import { TensorHandle } from '../lib/memory';
import { intFlag } from './common';

type Body = (n: number) => void;

const a1 = nt.randn([1]);
const b1 = nt.randn([1]);
const m1 = nt.randn([64, 64]);
const m2 = nt.randn([64, 64]);
const big = nt.randn([1_000_000]);
const ha = a1._h;
const hb = b1._h;
const registry = new FinalizationRegistry<number>((h) => native.tensor_dispose(h));

/** Runs body over n ops, freeing results in batches of 100 (as tidy does) where it makes them. */
function batched(make: () => number): Body {
  return (n) => {
    const hs: number[] = [];
    for (let i = 0; i < n; i++) {
      hs.push(make());
      if (hs.length === 100) native.tensor_dispose_many(hs.splice(0));
    }
    native.tensor_dispose_many(hs);
  };
}

const variants: Record<string, Body> = {
  // the cheapest native call there is: argument read, no tensor made
  'napi call (tensor_dispose(-1))': (n) => { for (let i = 0; i < n; i++) native.tensor_dispose(-1); },
  // two handle lookups + the op's kernel + one insert, no JS wrapper
  'add raw native + dispose_many': batched(() => native.tensor_add(ha, hb)),
  // + a JS wrapper object
  'add + wrapper object': batched(() => new TensorHandle(native.tensor_add(ha, hb))._h),
  // + the JS FinalizationRegistry registration (what lib/memory.ts does outside tidy)
  'add + wrapper + FinalizationRegistry': (n) => {
    for (let i = 0; i < n; i++) {
      const t = new TensorHandle(native.tensor_add(ha, hb));
      registry.register(t, t._h);
    }
  },
  'a.add(b) in tidy (100/scope)': (n) => {
    for (let i = 0; i < n; i += 100) nt.tidy(() => { for (let j = 0; j < 100 && i + j < n; j++) a1.add(b1); });
  },
  'a.add(b) no dispose': (n) => { for (let i = 0; i < n; i++) a1.add(b1); },
  'a.mul(b) in tidy': (n) => {
    for (let i = 0; i < n; i += 100) nt.tidy(() => { for (let j = 0; j < 100 && i + j < n; j++) a1.mul(b1); });
  },
  'm.index(3) in tidy (t[3])': (n) => {
    for (let i = 0; i < n; i += 100) nt.tidy(() => { for (let j = 0; j < 100 && i + j < n; j++) m1.index(3); });
  },
  'm.slice(0, 8, 40) in tidy (t[8:40])': (n) => {
    for (let i = 0; i < n; i += 100) nt.tidy(() => { for (let j = 0; j < 100 && i + j < n; j++) m1.slice(0, 8, 40); });
  },
  'matmul 64 raw native': batched(() => native.tensor_matmul(m1._h, m2._h)),
  'matmul 64 in tidy': (n) => {
    for (let i = 0; i < n; i += 100) nt.tidy(() => { for (let j = 0; j < 100 && i + j < n; j++) m1.matmul(m2); });
  },
  'sum 1e6 raw native': batched(() => native.tensor_sum(big._h, null, false, -1)),
  'sum 1e6 in tidy': (n) => {
    for (let i = 0; i < n; i += 100) nt.tidy(() => { for (let j = 0; j < 100 && i + j < n; j++) big.sum(); });
  },
};

function time(body: Body, n: number): number {
  const t0 = process.hrtime.bigint();
  body(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined) nt.setNumThreads(threads);
  const rounds = intFlag('rounds') ?? 7;
  const ms = intFlag('ms') ?? 100;
  const load0 = os.loadavg();
  // calibrate each variant to about `ms` per run (this also warms up the JIT)
  const iters: Record<string, number> = {};
  for (const [name, body] of Object.entries(variants)) {
    let n = 64;
    while (time(body, n) * n < 10e6 && n < 1 << 22) n *= 2;
    iters[name] = Math.max(64, Math.round((ms * 1e6) / time(body, n)));
  }
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, body] of Object.entries(variants)) {
      (samples[name] ??= []).push(time(body, iters[name]));
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((res) => setImmediate(res));
    }
  }
  const load1 = os.loadavg();
  console.log(`load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}; ` +
    `${nt.getNumThreads()} intra-op thread(s); median of ${rounds} interleaved rounds`);
  for (const [name, xs] of Object.entries(samples)) {
    const s = [...xs].sort((x, y) => x - y);
    console.log(`${name.padEnd(40)} ${s[s.length >> 1].toFixed(0).padStart(8)} ns/op  (min ${s[0].toFixed(0)})`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
