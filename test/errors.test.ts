// Bad input: every nt.* function, Tensor method and raw native export throws a clear JS Error and never crashes.
//
// The systematic fuzzing runs in child processes (this same file, run with tsx and NT_ERRORS_SECTION
// set) so that a crash in native code is reported as a failing test naming the call, not a dead worker.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { native } from '../lib/native';
import * as atenFunctions from '../lib/aten/functions';
import { wrap } from '../lib/tensor';
import { dtypeCode } from '../lib/dtype';
import { METHODS as ATEN_METHODS } from '../lib/aten/methods';

type Fn = (...args: unknown[]) => unknown;

interface Case {
  desc: string;
  run: () => unknown;
  /** the call must throw an Error whose message matches */
  mustThrow?: RegExp;
  /** the call must return; checks the result (a problem description or null) */
  mustReturn?: (r: unknown) => string | null;
  /** restores global state after the call */
  after?: () => void;
  /** a check of its own instead of run(): the problem, or null */
  custom?: () => string | null;
}

// ---------------------------------------------------------------------------------------------
// Shared by the child processes: values, case lists and the checker.
// ---------------------------------------------------------------------------------------------

/** Tensors made for one case; disposed after it. */
let made: { dispose(): void }[] = [];
let madeHandles: number[] = [];

/**
 * A fresh tensor; square so that matmul/mm of two of them is valid, and float64 because float32
 * gelu takes ~10 ms a call on this libtorch (its oneDNN path), which would dominate the run.
 */
function fresh(shape: number[] = [3, 3]): nt.Tensor {
  const t = nt.ones(shape, { dtype: 'float64' });
  made.push(t);
  return t;
}
function disposedTensor(): nt.Tensor {
  const t = nt.ones([2, 3]);
  t.dispose();
  return t;
}
function deep(n: number): unknown {
  let a: unknown = 1;
  for (let i = 0; i < n; i++) a = [a];
  return a;
}
function throwingArray(): unknown[] {
  const a = [1];
  Object.defineProperty(a, 0, { get() { throw new Error('getter threw on purpose'); } });
  return a;
}

/** Bad values for the public API: [label, factory]. */
const BAD: [string, () => unknown][] = [
  ['undefined', () => undefined],
  ['null', () => null],
  ["'abc'", () => 'abc'],
  ["''", () => ''],
  ['NaN', () => NaN],
  ['Infinity', () => Infinity],
  ['1e300', () => 1e300],
  ['2**53', () => 2 ** 53],
  ['2**40', () => 2 ** 40],
  ['-1', () => -1],
  ['-5', () => -5],
  ['1.5', () => 1.5],
  ['true', () => true],
  ['10n', () => 10n],
  ['2n**70n', () => 2n ** 70n],
  ['{}', () => ({})],
  ['[]', () => []],
  ['[1, [2]]', () => [1, [2]]],
  ["['a']", () => ['a']],
  ['[NaN]', () => [NaN]],
  ['[-1]', () => [-1]],
  ['[2, -3]', () => [2, -3]],
  ['[1e9, 1e9]', () => [1e9, 1e9]],
  ['[2**40, 2**40]', () => [2 ** 40, 2 ** 40]],
  ['[[1, 2], [3]]', () => [[1, 2], [3]]],
  ["'float33'", () => 'float33'],
  ["'gpu'", () => 'gpu'],
  ["'cuda:99'", () => 'cuda:99'],
  ["'cuda'", () => 'cuda'],
  ["{ dtype: 'float33' }", () => ({ dtype: 'float33' })],
  ["{ device: 'gpu' }", () => ({ device: 'gpu' })],
  ["{ device: 'cuda:99' }", () => ({ device: 'cuda:99' })],
  ["{ dim: 'x' }", () => ({ dim: 'x' })],
  ['<disposed Tensor>', () => disposedTensor()],
  ['<int64 Tensor [3]>', () => { const t = nt.tensor([0n, 1n, 2n]); made.push(t); return t; }],
  ['<bool Tensor [2, 3]>', () => { const t = nt.zeros([2, 3], { dtype: 'bool' }); made.push(t); return t; }],
  ['<float64 Tensor []>', () => { const t = nt.tensor(2, { dtype: 'float64' }); made.push(t); return t; }],
  ['Symbol()', () => Symbol('s')],
  ['() => 1', () => () => 1],
  ['Float32Array(6)', () => new Float32Array(6)],
  ['Buffer', () => Buffer.from('abc')],
  ['new Date(0)', () => new Date(0)],
];

function show(v: unknown): string {
  if (v instanceof nt.Tensor) return v.isDisposed ? '<disposed Tensor>' : `<${v.dtype} Tensor [${v.shape.join(', ')}]>`;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return `'${v.length > 20 ? v.slice(0, 20) + '...' : v}'`;
  if (typeof v === 'symbol' || typeof v === 'function') return String(v).slice(0, 20);
  if (Array.isArray(v)) return `[${v.slice(0, 4).map(show).join(', ')}${v.length > 4 ? ', ...' : ''}]`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.byteLength} bytes)`;
  if (v !== null && typeof v === 'object') {
    try {
      return JSON.stringify(v).slice(0, 40);
    } catch {
      return 'object';
    }
  }
  return String(v);
}

/** Messages that mean a library bug surfaced as a raw JS engine error rather than a clear message. */
const UNCLEAR = /Cannot (read|set|create) propert|is not a function|is not iterable|is not a constructor|Cannot convert|Cannot mix BigInt|undefined is not|null is not|Invalid array length/;

/** Frees whatever a call returned; reports a result that is not usable. */
function release(r: unknown, depth = 0): string | null {
  if (depth > 3) return null;
  if (r instanceof nt.Tensor) {
    if (r.isDisposed) return null;
    try {
      void r.shape;
      void r.dtype;
      if (r.numel <= 1e5) r.dataSync();
      return null;
    } catch (e) {
      return `returned a Tensor that cannot be read: ${(e as Error).message}`;
    } finally {
      r.dispose();
    }
  }
  if (Array.isArray(r)) {
    for (const e of r) {
      const p = release(e, depth + 1);
      if (p) return p;
    }
    return null;
  }
  if (r !== null && typeof r === 'object' && 'values' in r && 'indices' in r) {
    return release([(r as nt.ValuesIndices).values, (r as nt.ValuesIndices).indices], depth + 1);
  }
  return null;
}

/** Runs one case: the problem it shows, or null. */
function check(c: Case): string | null {
  if (c.custom) return c.custom();
  let r: unknown;
  try {
    r = c.run();
  } catch (e) {
    if (!(e instanceof Error)) return `threw a non-Error: ${show(e)}`;
    if (typeof e.message !== 'string' || e.message.trim() === '') return `threw ${e.name} without a message`;
    if (UNCLEAR.test(e.message)) return `threw an unclear ${e.name}: ${e.message}`;
    if (c.mustThrow && !c.mustThrow.test(e.message)) return `threw "${e.message.slice(0, 300)}", expected ${c.mustThrow}`;
    if (c.mustReturn) return `threw "${e.message.slice(0, 300)}" instead of returning`;
    return null;
  } finally {
    c.after?.();
  }
  if (r instanceof Promise) {
    // async members (data()) reject instead of throwing; they are checked in-process
    r.catch(() => undefined);
    return null;
  }
  if (c.mustThrow) {
    const shown = show(r);
    try {
      release(r);
    } catch {
      // reported below
    }
    return `returned ${shown} instead of throwing ${c.mustThrow}`;
  }
  if (c.mustReturn) {
    const p = c.mustReturn(r);
    if (p) return p;
  }
  try {
    return release(r);
  } catch {
    return null; // e.g. the array with a throwing getter, returned as is by keep()
  }
}

function disposeMade(): void {
  for (const t of made) t.dispose();
  for (const h of madeHandles) native.tensor_dispose(h);
  made = [];
  madeHandles = [];
}

// ---- section 'lib': every nt.* function and every Tensor method/getter/setter ----

/** The bad values tried after another argument (a libtorch error costs ~10 ms, so fewer here). */
const BAD_LATER = new Set(['undefined', 'null', "'abc'", 'NaN', '1e300', '2**53', '-5', '1.5', '10n', '{}', '[1, [2]]',
  '[-1]', "'float33'", "{ dtype: 'float33' }", "'gpu'", "{ device: 'gpu' }", '<disposed Tensor>', '<int64 Tensor [3]>',
  'Symbol()']);

/** Argument lists: [label, factory]. */
function argTuples(forLists = false): [string, () => unknown[]][] {
  const out: [string, () => unknown[]][] = [['()', () => []]];
  for (const [l, v] of BAD) {
    out.push([`(${l})`, () => [v()]]);
    if (!BAD_LATER.has(l)) continue;
    out.push([`(<Tensor>, ${l})`, () => [fresh(), v()]]);
    out.push([`(${l}, <Tensor>)`, () => [v(), fresh()]]);
    out.push([`(0, ${l})`, () => [0, v()]]);
    out.push([`(<Tensor>, 0, ${l})`, () => [fresh(), 0, v()]]);
    if (forLists) {
      out.push([`([<Tensor>, <Tensor>], ${l})`, () => [[fresh(), fresh()], v()]]);
      out.push([`([<Tensor>, ${l}])`, () => [[fresh(), v()]]]);
    }
  }
  return out;
}

let originalThreads = 1;
function restoreThreads(): void {
  if (native.get_num_threads() !== originalThreads) native.set_num_threads(originalThreads);
}

// aten: the ~1,600 generated operator wrappers (lib/aten) all enter native code through aten_call, which
// the raw-export section fuzzes; every 16th of them (and the first ones users reach for) is fuzzed here,
// so this section stays within its time. test/aten.test.ts runs each operator on valid inputs.
const ATEN_SAMPLE = new Set(['topk', 'cumsum', 'einsum', 'sort', 'unique', 'roll', 'nonzero']);
// NODETORCH_FUZZ_ALL_ATEN=1 fuzzes all of them (minutes).
const atenGenerated = (names: string[]): Set<string> => new Set(process.env.NODETORCH_FUZZ_ALL_ATEN === '1' ? []
  : names.filter((n, i) => i % 16 !== 0 && !ATEN_SAMPLE.has(n)));
const ATEN_SKIP_FNS = atenGenerated(Object.keys(atenFunctions));
const ATEN_SKIP_METHODS = atenGenerated(ATEN_METHODS.map(nt.aten.camel));

function libFunctions(): [string, Fn][] {
  const out: [string, Fn][] = [];
  for (const [k, v] of Object.entries(nt)) {
    if (typeof v === 'function' && k !== 'Tensor' && k !== 'Device' && !ATEN_SKIP_FNS.has(k)) out.push([`nt.${k}`, v as Fn]);
  }
  for (const [k, v] of Object.entries(nt.autograd)) if (typeof v === 'function') out.push([`nt.autograd.${k}`, v as Fn]);
  for (const [k, v] of Object.entries(nt.cuda)) if (typeof v === 'function') out.push([`nt.cuda.${k}`, v as Fn]);
  out.push(['new nt.Device', (...a: unknown[]) => new nt.Device(a[0] as string)]);
  for (const [k, v] of Object.entries(nt.F)) if (typeof v === 'function') out.push([`F.${k}`, v as Fn]);
  for (const [k, v] of Object.entries(nt.nn.utils)) out.push([`nn.utils.${k}`, v as Fn]);
  for (const [ns, obj] of [['optim', nt.optim], ['optim.lrScheduler', nt.optim.lrScheduler]] as const) {
    for (const [k, C] of Object.entries(obj)) {
      if (typeof C !== 'function' || !/^[A-Z]/.test(k) || k === 'Optimizer' || k === 'LRScheduler') continue;
      out.push([`new ${ns}.${k}`, (...a: unknown[]) => new (C as unknown as new (...b: unknown[]) => unknown)(...a)]);
    }
  }
  for (const [k, C] of Object.entries(nt.nn)) {
    if (typeof C !== 'function' || k === 'Module' || k === 'NativeModule') continue;
    out.push([`new nn.${k}`, (...a: unknown[]) => new (C as unknown as new (...b: unknown[]) => unknown)(...a)]);
  }
  // forward and the Module methods of small instances
  const { nn } = nt;
  const instances: Record<string, () => nt.nn.Module> = {
    Linear: () => new nn.Linear(3, 3), Conv1d: () => new nn.Conv1d(3, 2, 1), Conv2d: () => new nn.Conv2d(3, 2, 1),
    MaxPool2d: () => new nn.MaxPool2d(2), AvgPool2d: () => new nn.AvgPool2d(2), AdaptiveAvgPool2d: () => new nn.AdaptiveAvgPool2d(1),
    BatchNorm1d: () => new nn.BatchNorm1d(3), BatchNorm2d: () => new nn.BatchNorm2d(3), LayerNorm: () => new nn.LayerNorm(3),
    Dropout: () => new nn.Dropout(), Embedding: () => new nn.Embedding(3, 2), RNN: () => new nn.RNN(3, 2), LSTM: () => new nn.LSTM(3, 2),
    GRU: () => new nn.GRU(3, 2), MultiheadAttention: () => new nn.MultiheadAttention(3, 1),
    TransformerEncoderLayer: () => new nn.TransformerEncoderLayer(3, 1, { dimFeedforward: 4 }), Flatten: () => new nn.Flatten(),
    Softmax: () => new nn.Softmax(1), Sequential: () => new nn.Sequential(new nn.Linear(3, 3, { dtype: 'float64' })),
  };
  for (const [k, make] of Object.entries(instances)) {
    out.push([`nn.${k}.forward`, (...a: unknown[]) => (make().forward as Fn)(...a)]);
  }
  for (const m of ['to', 'loadStateDict', 'train', 'register', 'registerParameter', 'registerBuffer', 'apply', 'zeroGrad',
    'namedParameters', 'requiresGrad_', 'at', 'append']) {
    out.push([`nn.Sequential.${m}`, (...a: unknown[]) => ((instances.Sequential() as unknown as Record<string, Fn>)[m])(...a)]);
  }
  return out;
}

const PRIVATE_METHODS = new Set(['constructor', 'meta', 'binary', 'inplace', 'withScalar']);

function tensorMembers(): { methods: string[]; getters: string[]; setters: string[] } {
  const methods: string[] = [];
  const getters: string[] = [];
  const setters: string[] = [];
  for (const proto of [nt.Tensor.prototype, Object.getPrototypeOf(nt.Tensor.prototype)]) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (PRIVATE_METHODS.has(name) || ATEN_SKIP_METHODS.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(proto, name)!;
      if (d.get) getters.push(name);
      if (d.set) setters.push(name);
      if (typeof d.value === 'function') methods.push(name);
    }
  }
  return { methods, getters, setters };
}

function isValidThreadCount(v: unknown): boolean {
  return (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1024) ||
    (typeof v === 'bigint' && v >= 1n && v <= 1024n);
}

function libCases(): Case[] {
  const cases: Case[] = [];
  const tuples = argTuples();
  const listTuples = argTuples(true);
  for (const [name, f] of libFunctions()) {
    const takesList = name === 'nt.cat' || name === 'nt.stack' || name === 'nt.autograd.grad';
    for (const [label, args] of takesList ? listTuples : tuples) {
      const c: Case = { desc: `${name}${label}`, run: () => f(...args()) };
      if (name === 'nt.setNumThreads') {
        c.run = () => {
          const a = args();
          if (isValidThreadCount(a[0])) return undefined; // never set a real thread count here
          return f(...a);
        };
        c.after = restoreThreads;
      }
      if (name === 'nt.setGradEnabled' || name === 'nt.autograd.setGradEnabled') c.after = () => nt.setGradEnabled(true);
      cases.push(c);
    }
  }
  const { methods, getters, setters } = tensorMembers();
  for (const m of methods) {
    const method = (nt.Tensor.prototype as unknown as Record<string, Fn>)[m];
    for (const [label, args] of tuples) {
      cases.push({ desc: `t.${m}${label}`, run: () => method.apply(fresh(), args()) });
    }
    if (m !== 'dispose' && m !== 'toString' && m !== 'data') {
      // on a disposed tensor: an error, which says 'disposed' whenever the same call works on a live one
      for (const [label, args] of [['()', () => []], ['(<Tensor>)', () => [fresh()]]] as [string, () => unknown[]][]) {
        cases.push({
          desc: `<disposed>.${m}${label}`,
          run: () => undefined,
          custom: () => {
            let worksOnLive = true;
            try {
              release(method.apply(fresh(), args()));
            } catch {
              worksOnLive = false;
            }
            try {
              const r = method.apply(disposedTensor(), args());
              const shown = show(r);
              release(r);
              return `returned ${shown}`;
            } catch (e) {
              if (!(e instanceof Error)) return `threw a non-Error: ${show(e)}`;
              if (worksOnLive && !/disposed/.test(e.message)) return `threw "${e.message}", which does not say the tensor is disposed`;
              return null;
            }
          },
        });
      }
    }
  }
  for (const g of getters) {
    cases.push({ desc: `t.${g}`, run: () => (fresh() as unknown as Record<string, unknown>)[g] });
    if (g !== 'isDisposed') {
      cases.push({ desc: `<disposed>.${g}`, run: () => (disposedTensor() as unknown as Record<string, unknown>)[g], mustThrow: /disposed/ });
    }
  }
  for (const s of setters) {
    for (const [l, v] of BAD) {
      cases.push({ desc: `t.${s} = ${l}`, run: () => { (fresh() as unknown as Record<string, unknown>)[s] = v(); } });
    }
    cases.push({ desc: `<disposed>.${s} = <Tensor>`, run: () => { (disposedTensor() as unknown as Record<string, unknown>)[s] = fresh(); }, mustThrow: /disposed/ });
  }
  return cases;
}

// ---- section 'native': the raw binding ----

/**
 * Garbage for the raw binding. Handles are (generation << 24 | slot) with generation >= 1, so no
 * number here below 2**24 can be a live handle (and 2**40 would need slot 0 at generation 65536).
 */
const GARBAGE: [string, () => unknown][] = [
  ['0', () => 0], ['1', () => 1], ['12345', () => 12345], ['2**40', () => 2 ** 40], ['-1', () => -1],
  ['1.5', () => 1.5], ['NaN', () => NaN], ['Infinity', () => Infinity], ['-Infinity', () => -Infinity],
  ['2**53', () => 2 ** 53], ['1e300', () => 1e300], ['-0', () => -0],
  ["'abc'", () => 'abc'], ["''", () => ''], ["'cpu'", () => 'cpu'], ["'cuda'", () => 'cuda'],
  ["'cuda:99'", () => 'cuda:99'], ["'gpu'", () => 'gpu'], ["'x' x 5000", () => 'x'.repeat(5000)],
  ['true', () => true], ['false', () => false], ['null', () => null], ['undefined', () => undefined],
  ['{}', () => ({})], ['[]', () => []], ['[0]', () => [0]], ['[-1]', () => [-1]], ['[1.5]', () => [1.5]],
  ['[NaN]', () => [NaN]], ["['a']", () => ['a']], ['[null]', () => [null]], ['[12345]', () => [12345]],
  ['[2**40, 2**40]', () => [2 ** 40, 2 ** 40]], ['[1, [2]]', () => [1, [2]]], ['[{}]', () => [{}]],
  ['Array(65).fill(1)', () => new Array(65).fill(1)], ["[0, 12345, 'x']", () => [0, 12345, 'x']],
  ['sparse Array(3)', () => new Array(3)],
  ['10n', () => 10n], ['-1n', () => -1n], ['2n**70n', () => 2n ** 70n], ['Symbol()', () => Symbol('s')],
  ['() => 1', () => () => 1], ['Float32Array(6)', () => new Float32Array(6)], ['ArrayBuffer(8)', () => new ArrayBuffer(8)],
  ['Buffer(3)', () => Buffer.from('abc')], ['DataView', () => new DataView(new ArrayBuffer(8))], ['new Date(0)', () => new Date(0)],
];

function h(make: () => number): () => number {
  return () => {
    const x = make();
    madeHandles.push(x);
    return x;
  };
}
// float64 (dtype code 1): float32 gelu is slow here, see fresh()
const F = h(() => native.ones([2, 3], 1, null, false));
const F0 = h(() => native.scalar_tensor(7, 1, null, false));
const F2 = h(() => native.ones([3, 2], 1, null, false));
const F3 = h(() => native.ones([2, 2, 3], 1, null, false));
const F3b = h(() => native.ones([2, 3, 2], 1, null, false));
const V3 = h(() => native.ones([3], 1, null, false));
const I64 = h(() => native.arange(0, 3, 1, 8, null, false));
const IDX = h(() => native.zeros([2, 3], 8, null, false));
const IDX1 = h(() => native.zeros([1], 8, null, false));
const MASK = h(() => native.ones([2, 3], 9, null, false));
const S64 = h(() => native.scalar_tensor(1.5, 1, null, false));
const EMPTY = h(() => native.zeros([0], 0, null, false));
const RG = h(() => native.ones([2], 0, null, true));
const V2 = h(() => native.ones([2], 0, null, false));
const LOSS = h(() => {
  const x = native.ones([2], 0, null, true);
  madeHandles.push(x);
  return native.tensor_sum(x, null, false, -1);
});
const DEAD = () => {
  const x = native.ones([2], 0, null, false);
  native.tensor_dispose(x);
  return x;
};
const ALT_TENSORS: [string, () => unknown][] = [
  ['<int64 [3]>', I64], ['<bool [2, 3]>', MASK], ['<float64 []>', S64], ['<float32 [0]>', EMPTY], ['<disposed handle>', DEAD],
];

/** Valid argument lists for every native export (the fuzz replaces one argument at a time). */
function nativeValidArgs(): Record<string, () => unknown[]> {
  const v: Record<string, () => unknown[]> = {};
  const unary = ['neg', 'abs', 'exp', 'log', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'reciprocal', 'square', 'sin', 'cos',
    'floor', 'ceil', 'round', 'sign', 'erf', 'relu', 'sigmoid', 'tanh', 'gelu', 'silu', 'logical_not', 'isnan', 't',
    'all', 'any', 'clone', 'detach', 'contiguous', 'max', 'min', 'is_contiguous', 'data', 'meta', 'dispose', 'grad',
    'requires_grad', 'zero_grad_', 'is_leaf', 'grad_fn', 'zero_'];
  for (const u of unary) v[`tensor_${u}`] = () => [F()];
  v.tensor_item = () => [S64()];
  v.tensor_retain_grad = () => [LOSS()];
  for (const b of ['add', 'sub', 'mul', 'div', 'pow', 'remainder', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'maximum',
    'minimum', 'atan2', 'logical_and', 'logical_or']) v[`tensor_${b}`] = () => [F(), F()];
  v.tensor_matmul = () => [F(), F2()];
  v.tensor_mm = () => [F(), F2()];
  v.tensor_bmm = () => [F3(), F3b()];
  v.tensor_dot = () => [V3(), V3()];
  for (const s of ['add', 'sub', 'mul', 'div', 'pow', 'rpow', 'rsub', 'rdiv', 'remainder', 'eq', 'ne', 'lt', 'le', 'gt',
    'ge']) v[`tensor_${s}_scalar`] = () => [F(), 2];
  for (const s of ['add', 'sub', 'mul', 'div']) {
    v[`tensor_${s}_`] = () => [F(), F()];
    v[`tensor_${s}_scalar_`] = () => [F(), 2];
  }
  v.tensor_from_buffer = () => [new Float32Array(6), [2, 3], 0, true];
  v.memory_stats = () => [];
  v.memory_with_alloc_limit = () => [1 << 20, () => 1];
  for (const c of ['zeros', 'ones', 'empty', 'rand', 'randn']) v[c] = () => [[2, 3], -1, null, false];
  v.full = () => [[2, 3], 1, -1, null, false];
  v.randint = () => [0, 5, [2, 3], -1, null, false];
  v.eye = () => [3, 3, -1, null, false];
  v.arange = () => [0, 5, 1, -1, null, false];
  v.linspace = () => [0, 1, 5, -1, null, false];
  v.scalar_tensor = () => [1.5, -1, null, false];
  for (const l of ['zeros_like', 'ones_like', 'rand_like', 'randn_like']) v[l] = () => [F(), -1, null, false];
  v.tensor_to = () => [F(), 1, null, false];
  v.tensor_fill_ = () => [F(), 2];
  v.tensor_copy_ = () => [F(), F()];
  v.tensor_clamp_ = () => [F(), 0, 1];
  v.tensor_sum = () => [F(), 1, false, -1];
  v.tensor_mean = () => [F(), 1, false, -1];
  v.tensor_prod = () => [F(), 1, false];
  v.tensor_var = () => [F(), 1, true, false];
  v.tensor_std = () => [F(), 1, true, false];
  for (const r of ['max_dim', 'min_dim', 'argmax', 'argmin']) v[`tensor_${r}`] = () => [F(), 1, false];
  v.tensor_softmax = () => [F(), 1, -1];
  v.tensor_log_softmax = () => [F(), 1, -1];
  v.tensor_reshape = () => [F(), [3, 2]];
  v.tensor_view = () => [F(), [3, 2]];
  v.tensor_expand = () => [F(), [2, 2, 3]];
  v.tensor_repeat = () => [F(), [2, 1]];
  v.tensor_flatten = () => [F(), 0, -1];
  v.tensor_squeeze = () => [F(), 0];
  v.tensor_unsqueeze = () => [F(), 0];
  v.tensor_permute = () => [F(), [1, 0]];
  v.tensor_transpose = () => [F(), 0, 1];
  v.tensor_flip = () => [F(), [0]];
  v.tensor_tril = () => [F(), 0];
  v.tensor_triu = () => [F(), 0];
  v.cat = () => [[F(), F()], 0];
  v.stack = () => [[F(), F()], 0];
  v.tensor_split = () => [F(), 1, 0];
  v.tensor_chunk = () => [F(), 2, 0];
  v.tensor_select = () => [F(), 0, 1];
  v.tensor_slice = () => [F(), 1, 0, 2, 1];
  v.tensor_narrow = () => [F(), 1, 0, 2];
  v.tensor_gather = () => [F(), 1, IDX()];
  v.tensor_index_select = () => [F(), 0, IDX1()];
  v.tensor_masked_fill = () => [F(), MASK(), 0];
  v.tensor_masked_fill_tensor = () => [F(), MASK(), F0()];
  v.tensor_dispose_many = () => [[F(), F()]];
  v.tensor_track = () => [{}, F()];
  v.tensor_scan = () => [];
  v.where = () => [MASK(), F(), F()];
  v.tensor_clamp = () => [F(), 0, 1];
  v.tensor_backward = () => [LOSS(), null, false, false];
  v.autograd_grad = () => {
    const x = RG();
    const y = native.tensor_sum(x, null, false, -1);
    madeHandles.push(y);
    return [[y], [x], null, false, false, false];
  };
  v.tensor_set_grad = () => [RG(), V2()];
  v.tensor_set_data = () => [RG(), V2()];
  // nn
  const LIN = () => native.nn_module_create('Linear', { inFeatures: 3, outFeatures: 2 });
  const X32 = h(() => native.ones([2, 3], 0, null, false));
  const C1 = h(() => native.ones([1, 1, 5], 1, null, false));
  const K1 = h(() => native.ones([1, 1, 3], 1, null, false));
  const C2 = h(() => native.ones([1, 1, 4, 4], 1, null, false));
  const K2 = h(() => native.ones([1, 1, 3, 3], 1, null, false));
  const T2 = h(() => native.zeros([2], 8, null, false));
  const P = h(() => native.full([2, 3], 0.5, 1, null, false));
  v.nn_module_create = () => ['Linear', { inFeatures: 3, outFeatures: 2 }];
  v.nn_module_forward = () => [LIN(), [X32()], {}];
  v.nn_module_parameters = () => [LIN()];
  v.nn_module_buffers = () => [native.nn_module_create('BatchNorm1d', { numFeatures: 3 })];
  v.nn_module_train = () => [LIN(), false];
  v.nn_linear = () => [F(), F(), null];
  v.nn_conv1d = () => [C1(), K1(), null, [1], [0], [1], 1];
  v.nn_conv2d = () => [C2(), K2(), null, [1, 1], [0, 0], [1, 1], 1];
  v.nn_max_pool2d = () => [C2(), [2, 2], [2, 2], [0, 0], [1, 1], false];
  v.nn_avg_pool2d = () => [C2(), [2, 2], [2, 2], [0, 0], false, true];
  v.nn_adaptive_avg_pool2d = () => [C2(), [1, 1]];
  v.nn_dropout = () => [F(), 0.5, true];
  v.nn_layer_norm = () => [F(), [3], null, null, 1e-5];
  v.nn_batch_norm = () => [F(), null, null, null, null, true, 0.1, 1e-5];
  v.nn_embedding = () => [F(), IDX()];
  v.nn_cross_entropy = () => [F(), T2(), null, 'mean', -100, 0];
  v.nn_nll_loss = () => [F(), T2(), null, 'mean', -100];
  for (const l of ['mse_loss', 'l1_loss']) v[`nn_${l}`] = () => [F(), F(), 'mean'];
  v.nn_smooth_l1_loss = () => [F(), F(), 'mean', 1];
  v.nn_huber_loss = () => [F(), F(), 'mean', 1];
  v.nn_binary_cross_entropy = () => [P(), P(), null, 'mean'];
  v.nn_binary_cross_entropy_with_logits = () => [F(), P(), null, null, 'mean'];
  v.nn_kl_div = () => [F(), P(), 'mean', false];
  // model
  const TOKEN = () => native.model_token_create();
  const Y22 = h(() => native.ones([2, 2], 0, null, false));
  v.model_run = () => ['evaluate', [{ module: LIN(), activation: 'relu' }], X32(), Y22(), { loss: 'mse', batchSize: 1, metrics: ['mae'] }];
  v.model_loss = () => ['mse', false, F(), F(), null];
  // the runner, native metric state and one layer's step (Keras engine v2)
  const MSTATE = () => native.model_metrics_create(['mae', 'precision']);
  v.model_metrics_create = () => [['mae', 'auc']];
  v.model_metrics_reset = () => [MSTATE()];
  v.model_metrics_state = () => [MSTATE()];
  v.model_metrics_set_state = () => {
    const s = MSTATE();
    return [s, h(() => native.model_metrics_state(s))()];
  };
  // threads (the adaptive thread policy): valid calls leave the process's choice as it was
  v.threads_info = () => [];
  v.threads_adaptive = () => [native.threads_info().adaptive];
  v.threads_set_current = () => [native.threads_info().current];
  v.model_metrics_update = () => [MSTATE(), 'mse', false, F(), F(), 0.5];
  v.model_metrics_result = () => [MSTATE()];
  v.model_batch_order = () => [5];
  v.keras_step_forward = () => [{ module: LIN(), activation: 'elu', activityL2: 0.1 }, X32(), true];
  v.model_token_create = () => [];
  v.model_token_stop = () => [TOKEN()];
  v.model_token_ack = () => [TOKEN(), 0];
  v.model_token_reset = () => [TOKEN()];
  v.tensor_requires_grad_ = () => [F(), true];
  v.set_grad_enabled = () => [true];
  v.is_grad_enabled = () => [];
  v.cuda_is_available = () => [];
  v.cuda_device_count = () => [];
  v.cudnn_is_available = () => [];
  v.set_num_threads = () => [originalThreads];
  v.get_num_threads = () => [];
  v.manual_seed = () => [42];
  v.build_info = () => [];
  // optim: SGD without momentum keeps no state, so optim_state returns no handles to free
  const OPT = () => {
    const o = native.optim_create('SGD', { lr: 0.1 });
    const p = RG();
    native.tensor_set_grad(p, V2());
    native.optim_add_param_group(o, [p], {});
    return o;
  };
  v.optim_create = () => ['Adam', { lr: 0.01, betas: [0.8, 0.9] }];
  v.optim_add_param_group = () => [OPT(), [RG()], { lr: 0.5 }];
  v.optim_step = () => [OPT()];
  v.optim_zero_grad = () => [OPT(), false];
  v.optim_param_group = () => [OPT(), 0];
  v.optim_set_group_options = () => [OPT(), 0, { lr: 0.5, momentum: 0.9 }];
  v.optim_state = () => [OPT()];
  v.optim_load_state = () => [OPT(), [null]];
  v.clip_grad_norm_ = () => {
    const p = RG();
    native.tensor_set_grad(p, V2());
    return [[p], 1, 2, false];
  };
  v.clip_grad_value_ = () => {
    const p = RG();
    native.tensor_set_grad(p, V2());
    return [[p], 0.5];
  };
  // training controls (native/train_controls.cc) and autocast (native/amp.cc); autocast_set's valid call turns it off
  v.optim_set_controls = () => [OPT(), { clipnorm: 1, accumulationSteps: 2, useEma: true }];
  v.optim_controls_state = () => [OPT()];
  v.optim_finalize_variable_values = () => [OPT()];
  v.optim_scale_loss = () => [OPT(), F()];
  v.autocast_get = () => ['cpu'];
  v.autocast_set = () => ['cpu', false, 'bfloat16'];
  v.autocast_enter = () => [];
  v.autocast_exit = () => [];
  // data
  const images = h(() => native.ones([2, 3, 4, 3], 0, null, false));
  const matrices = h(() => native.tensor_from_buffer(new Float32Array([1, 0, 1, 0, 1, 0, 0, -1, 0, 1, 0, 0]), [2, 2, 3], 0, true));
  v.data_affine_transform = () => [images(), matrices(), 'bilinear', 'reflect', 0, 1 / 255];
  v.data_transform_matrices = () => [h(() => native.tensor_from_buffer(new Float64Array([30, 1, 2, 5, 1.1, 0.9, 1, 0]), [1, 8], 1, true))()];
  v.data_decode_jpeg = () => [[null, path.join(os.tmpdir(), 'nodetorch-no-such-image.jpg')], Buffer.alloc(2 * 4 * 3 * 3), 4, 3, 3];
  v.data_resize_image = () => [Buffer.alloc(2 * 3 * 3, 7), 2, 3, 3, Buffer.alloc(4 * 5), 4, 5, 1, 'bilinear'];
  // jit: a compiled module whose forward returns an int, so a run's result holds no tensor to free
  const SRC = 'def forward(self, x):\n    return x.dim()\n';
  const JIT = () => native.jit_compile(SRC);
  v.jit_load = () => [path.join(os.tmpdir(), 'nodetorch-no-such-module.pt'), null];
  v.jit_compile = () => [SRC];
  v.jit_run = () => [JIT(), 'forward', [['T', F()]]];
  v.jit_methods = () => [JIT()];
  v.jit_parameters = () => [JIT()];
  v.jit_buffers = () => [JIT()];
  v.jit_state_dict = () => [JIT()];
  v.jit_train = () => [JIT(), false];
  v.jit_is_training = () => [JIT()];
  v.jit_to = () => [JIT(), 'cpu', 1];
  v.jit_dispose = () => [JIT()];
  v.jit_trace = () => [(hs: number[]) => Object.assign([hs[0]], { single: true }), [F()], [], [], [], false];
  v.jit_save = () => [JIT()];
  v.data_jpeg_info = () => [];
  // aten: the generic ATen caller
  v.aten_init = () => [nt.Tensor, wrap, (d: unknown, op: string) => dtypeCode(d as nt.DType, op)];
  v.aten_op = () => ['cumsum'];
  // aten_call takes Tensor objects (lib/aten/call.ts wraps its results); has() runs aten_init first
  v.aten_call = () => (nt.aten.has('cumsum') ? [native.aten_op('cumsum'), undefined, [wrap(F()), 1], 2, undefined] : []);
  v.aten_schemas = () => [];
  v.aten_direct_topk = () => [F(), 1, -1, true, true];
  v.aten_direct_cumsum = () => [F(), 0];
  v.aten_direct_einsum = () => ['ij->ji', [F()]];
  // distributed: without init there is no process group, so a group argument is another kind of native
  // object (a model token: its type tag differs) and every call must refuse it; dist_init names a backend
  // that does not exist, so no case opens a socket or waits for a peer
  v.dist_available = () => [];
  v.dist_init = () => [{ backend: 'no-such-backend', rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: 29999, timeoutMs: 1000, agentStore: false, attempt: '0' }];
  v.dist_new_group = () => [[0], 1000];
  v.dist_destroy = () => [];
  v.dist_group_info = () => [TOKEN()];
  v.dist_all_reduce = () => [TOKEN(), F(), 'sum'];
  v.dist_broadcast = () => [TOKEN(), F(), 0];
  v.dist_all_gather = () => [TOKEN(), F()];
  v.dist_reduce_scatter = () => [TOKEN(), F(), [F()], 'sum'];
  v.dist_send = () => [TOKEN(), F(), 0, 0];
  v.dist_recv = () => [TOKEN(), F(), 0, 0];
  v.dist_barrier = () => [TOKEN()];
  v.dist_randperm = () => [5, 1];
  v.ddp_create = () => [TOKEN(), [RG()], 1 << 20, 1 << 20, false];
  v.ddp_set_sync = () => [TOKEN(), true];
  v.ddp_broadcast_ = () => [TOKEN(), [F()], 0];
  v.ddp_info = () => [TOKEN()];
  return v;
}

/** Exports whose result is a handle (or list of handles) to free. */
const RETURNS_NON_HANDLE = new Set(['data_decode_jpeg', 'memory_with_alloc_limit', 'model_metrics_create', 'model_metrics_reset', 'model_metrics_update', 'model_metrics_result', 'model_token_create', 'nn_module_create', 'tensor_data', 'tensor_item', 'tensor_meta', 'tensor_dispose', 'tensor_dispose_many', 'memory_stats',
  'tensor_is_contiguous', 'tensor_requires_grad', 'tensor_is_leaf', 'tensor_grad_fn', 'set_grad_enabled',
  'is_grad_enabled', 'cuda_is_available', 'cuda_device_count', 'cudnn_is_available', 'get_num_threads', 'build_info',
  // optim
  'optim_create', 'optim_add_param_group', 'optim_step', 'optim_zero_grad', 'optim_param_group', 'optim_set_group_options',
  'optim_state', 'optim_load_state', 'clip_grad_norm_', 'clip_grad_value_',
  // jit: modules, promises, names and flags (parameters, buffers and state dicts are [name, handle] lists)
  'jit_load', 'jit_compile', 'jit_run', 'jit_methods', 'jit_train', 'jit_is_training', 'jit_to', 'jit_dispose',
  'jit_trace', 'jit_save', 'data_jpeg_info']);

for (const n of ['aten_init', 'aten_op', 'aten_schemas']) RETURNS_NON_HANDLE.add(n); // aten
RETURNS_NON_HANDLE.add('data_resize_image'); // writes into its out buffer
for (const n of ['optim_set_controls', 'optim_controls_state', 'optim_finalize_variable_values', 'autocast_get', 'autocast_set',
  'autocast_enter', 'autocast_exit']) RETURNS_NON_HANDLE.add(n); // training controls, autocast
/** Distributed exports whose valid call needs an initialized process group (see the valid-argument entries). */
const NEEDS_GROUP = new Set(['dist_new_group', 'dist_group_info', 'dist_all_reduce', 'dist_broadcast', 'dist_all_gather',
  'dist_reduce_scatter', 'dist_send', 'dist_recv', 'dist_barrier', 'ddp_create', 'ddp_set_sync', 'ddp_broadcast_', 'ddp_info']);
for (const n of ['dist_available', 'dist_init', 'dist_new_group', 'dist_destroy', 'dist_group_info', 'dist_all_reduce', 'dist_broadcast',
  'dist_all_gather', 'dist_reduce_scatter', 'dist_send', 'dist_recv', 'dist_barrier', 'ddp_create', 'ddp_set_sync', 'ddp_broadcast_',
  'ddp_info']) RETURNS_NON_HANDLE.add(n); // distributed (dist_all_gather's tensors are rejected before any is made: no group)

const NUMERIC_FACTORIES = new Set(['arange', 'linspace', 'eye', 'randint', 'full', 'scalar_tensor', 'manual_seed',
  'set_num_threads']);

function nativeCases(): Case[] {
  const cases: Case[] = [];
  const valid = nativeValidArgs();
  const binding = native as unknown as Record<string, Fn>;
  const names = Object.keys(binding).filter((k) => typeof binding[k] === 'function').sort();
  for (const name of names) {
    const f = binding[name];
    const validArgs = valid[name];
    const freeResult = (r: unknown) => {
      if (RETURNS_NON_HANDLE.has(name)) return;
      for (const x of Array.isArray(r) ? r : [r]) if (typeof x === 'number') native.tensor_dispose(x);
    };
    const wrapRun = (args: () => unknown[]) => () => {
      const r = f(...args());
      // model_run reports failures of the worker through its promise: those are errors too, not crashes
      if (r instanceof Promise) r.catch(() => undefined);
      freeResult(r);
      return undefined;
    };
    const after = name === 'set_num_threads' ? restoreThreads
      : name === 'set_grad_enabled' ? () => native.set_grad_enabled(true)
        : name === 'autocast_set' ? () => native.autocast_set('cpu', false, 'bfloat16') : undefined;
    const push = (desc: string, args: () => unknown[], extra: Partial<Case> = {}) => {
      if (name === 'set_num_threads') {
        const inner = args;
        args = () => {
          const a = inner();
          return isValidThreadCount(a[0]) && a[0] !== originalThreads ? [0] : a; // never set a real thread count here
        };
      }
      cases.push({ desc: `native.${name}(${desc})`, run: wrapRun(args), after, ...extra });
    };
    if (!validArgs) {
      cases.push({ desc: `native.${name}`, run: () => undefined, mustReturn: () => 'no valid-argument entry in test/errors.test.ts' });
      continue;
    }
    const n = validArgs().length;
    disposeMade();
    // the valid call itself works
    // (a process group needs an awaited init, so the distributed calls' "valid" group is another native
    // object they must refuse: here they face garbage only; test/distributed.test.ts calls them on real groups)
    push('<valid arguments>', validArgs, NEEDS_GROUP.has(name) ? {} : { mustReturn: () => null });
    push('no arguments', () => []);
    // every argument position (and one past the end) replaced by each garbage value / other tensors
    for (let p = 0; p <= n; p++) {
      // handles are large numbers: as sizes of the factories they would allocate gigabytes
      for (const [l, g] of NUMERIC_FACTORIES.has(name) ? GARBAGE : [...GARBAGE, ...ALT_TENSORS]) {
        push(`<valid> with argument ${p + 1} = ${l}`, () => {
          const a = validArgs();
          a[p] = g();
          return a;
        });
      }
    }
    // all-garbage lists and extra arguments beyond the 10 the native reader takes
    for (const [l, g] of GARBAGE) push(`${l} x 6`, () => Array.from({ length: 6 }, g));
    push('<valid> + 12 extra arguments', () => [...validArgs(), ...Array.from({ length: 12 }, (_, i) => i)]);
  }
  return cases;
}

// ---- section 'crash': calls that have crashed native code before, one per case ----

/** Calls f 50 times, from different stack depths and after different native calls; rethrows the last error. */
function times50(f: () => unknown): unknown {
  let err: unknown = null;
  const at = (depth: number): unknown => (depth === 0 ? f() : at(depth - 1));
  for (let i = 0; i < 50; i++) {
    try {
      nt.ones([i % 5 + 1]).add(i).dispose();
      release(at(i));
    } catch (e) {
      err = e;
    }
  }
  if (err !== null) throw err;
  return undefined;
}

function crashCases(): Case[] {
  const onesOk = (shape: number[]) => (r: unknown): string | null => {
    if (!(r instanceof nt.Tensor)) return `returned ${show(r)}`;
    const vals = [...(r.dataSync() as Float32Array)];
    const ok = r.shape.join() === shape.join() && vals.every((x) => x === 1);
    const out = ok ? null : `returned shape [${r.shape.join(', ')}] values [${vals.slice(0, 6).join(', ')}] (expected ones of shape [${shape.join(', ')}])`;
    r.dispose();
    return out;
  };
  /** A shape array whose element getter allocates many tensors while native code holds a reference into the handle table. */
  const reentrantShape = (value: number, skip: number): number[] => {
    const a = [value];
    let reads = 0;
    Object.defineProperty(a, 0, {
      get() {
        if (reads++ === skip) {
          const hs: number[] = [];
          for (let i = 0; i < 100000; i++) hs.push(native.zeros([1], -1, null, false));
          for (const x of hs) native.tensor_dispose(x);
        }
        return value;
      },
    });
    return a;
  };
  return [
    { desc: 'native.tensor_neg(<array nested 100000 deep>)', run: () => native.tensor_neg(deep(1e5) as number), mustThrow: /expected a Tensor/ },
    { desc: 'nt.ones([2]).squeeze(<array nested 100000 deep>)', run: () => fresh([2]).squeeze(deep(1e5) as number), mustThrow: /squeeze/ },
    { desc: 'nt.tensor(<array nested 100000 deep>)', run: () => nt.tensor(deep(1e5) as number[]) },
    // an element getter that throws while native code describes the bad argument (50 times: what
    // happens next depends on stack contents)
    {
      desc: 'native.arange(<array with a throwing getter>, 5, 1, -1, null, false) x 50',
      run: () => times50(() => native.arange(throwingArray() as unknown as number, 5, 1, -1, null, false)),
      mustThrow: /getter threw|start/,
    },
    {
      desc: 'nt.ones([2]).squeeze(<array with a throwing getter>) x 50',
      run: () => times50(() => fresh([2]).squeeze(throwingArray() as unknown as number)),
      mustThrow: /getter threw|squeeze/,
    },

    {
      // 2**61 elements x 8 bytes wraps to 0 bytes: reading the tensor (e.g. sum()) then segfaults
      desc: 'nt.tensor(new Float64Array(0), { shape: [2**52, 512] })',
      run: () => nt.tensor(new Float64Array(0), { shape: [2 ** 52, 512] }),
      mustThrow: /bytes|too many|too large|overflow/,
    },
    {
      desc: 'native.tensor_from_buffer(new ArrayBuffer(0), [2**52, 512], float64, false)',
      run: () => {
        const r = native.tensor_from_buffer(new ArrayBuffer(0), [2 ** 52, 512], 1, false);
        madeHandles.push(r);
        return r;
      },
      mustThrow: /bytes|too many|too large|overflow/,
    },
    {
      desc: 't.reshape(<shape whose getter allocates 100000 tensors during the native call>)',
      run: () => fresh([2, 3]).reshape(reentrantShape(6, 1)),
      mustReturn: onesOk([6]),
    },
    {
      desc: 'native.tensor_expand(h, <shape whose getter allocates 100000 tensors>)',
      run: () => {
        const x = native.ones([1], -1, null, false);
        madeHandles.push(x);
        const r = native.tensor_expand(x, reentrantShape(4, 0));
        madeHandles.push(r);
        return native.tensor_meta(r);
      },
      mustReturn: (r) => (JSON.stringify(r) === JSON.stringify([0, 'cpu', 4]) ? null : `returned meta ${JSON.stringify(r)}`),
    },
  ];
}

const SECTIONS: Record<string, () => Case[]> = { lib: libCases, native: nativeCases, crash: crashCases };

/** Child process: runs a section's cases from `start`, printing '>i\tdesc' before each and '!problem' for offenders. */
async function child(section: string, start: number): Promise<void> {
  originalThreads = nt.getNumThreads();
  const cases = SECTIONS[section]();
  // progress goes to a file: writes to a pipe can fail with EAGAIN when the parent is slow to read
  const fd = fs.openSync(process.env.NT_ERRORS_OUT!, 'w');
  const out = (s: string) => fs.writeSync(fd, s + '\n');
  const mem = () => native.memory_stats().tensors;
  const leakCandidates: number[] = [];
  for (let i = start; i < cases.length; i++) {
    out(`>${i}\t${cases[i].desc}`);
    const before = mem();
    const problem = check(cases[i]);
    disposeMade();
    if (problem) out(`!${cases[i].desc}: ${problem}`);
    if (mem() > before) leakCandidates.push(i);
  }
  // A tensor still alive after a call may only be waiting for its GC finalizer: re-run each
  // candidate and collect garbage before deciding that it leaked.
  const gc = (global as unknown as { gc?: () => void }).gc;
  if (gc) {
    const settle = async () => {
      for (let k = 0; k < 2; k++) {
        gc();
        await new Promise((r) => setImmediate(r));
      }
      return mem();
    };
    let before = await settle();
    for (const i of leakCandidates.slice(0, 200)) {
      check(cases[i]);
      disposeMade();
      const after = await settle();
      if (after > before) out(`~${cases[i].desc}: leaked ${after - before} native tensor(s)`);
      before = after;
    }
  }
  out(`#done ${cases.length}`);
  fs.closeSync(fd);
}

// ---------------------------------------------------------------------------------------------
// The jest side.
// ---------------------------------------------------------------------------------------------

interface SectionReport { total: number; offenders: string[]; leaks: string[] }

interface ChildResult { stdout: string; stderr: string; code: number | null; signal: string | null; timedOut: boolean }

function runChildOnce(section: string, start: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const tsx = require.resolve('tsx/cjs');
    const file = path.join(os.tmpdir(), `nodetorch-errors-${process.pid}-${section}-${start}.log`);
    const p = spawn(process.execPath, ['--expose-gc', '--require', tsx, __filename], {
      env: { ...process.env, NT_ERRORS_SECTION: section, NT_ERRORS_START: String(start), NT_ERRORS_OUT: file },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20000); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, 150000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      let stdout = '';
      try {
        stdout = fs.readFileSync(file, 'utf8');
        fs.unlinkSync(file);
      } catch {
        // never started: reported by the caller
      }
      resolve({ stdout, stderr, code, signal, timedOut });
    });
  });
}

/** Runs a section in child processes, restarting after the case that crashed one. */
async function runSection(section: string): Promise<SectionReport> {
  const report: SectionReport = { total: -1, offenders: [], leaks: [] };
  let start = 0;
  for (let attempt = 0; attempt < 12 && report.total < 0; attempt++) {
    const { stdout, stderr, code, signal, timedOut } = await runChildOnce(section, start);
    let last = -1;
    let lastDesc = '';
    for (const line of stdout.split('\n')) {
      if (line.startsWith('>')) {
        const tab = line.indexOf('\t');
        last = Number(line.slice(1, tab));
        lastDesc = line.slice(tab + 1);
      } else if (line.startsWith('!')) {
        report.offenders.push(line.slice(1));
      } else if (line.startsWith('~')) {
        report.leaks.push(line.slice(1));
      } else if (line.startsWith('#done ')) {
        report.total = Number(line.slice(6));
      }
    }
    if (report.total >= 0) break;
    if (last < 0) {
      report.offenders.push(`the ${section} child process failed to start (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`);
      break;
    }
    const why = timedOut ? 'timed out after 150 s' : signal ? `signal ${signal}` : `exit code ${code}`;
    const tail = stderr.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l)).slice(-3).join(' | ').slice(0, 500);
    report.offenders.push(`${lastDesc}: CRASHED the process (${why})${tail ? `; stderr: ${tail}` : ''}`);
    start = last + 1;
  }
  return report;
}

/** Groups offending calls by the function called: a few lines each, with a count. */
function summarize(lines: string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const l of lines) {
    const key = /^(?:new )?[\w.<>]+/.exec(l)?.[0] ?? l;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  const out: string[] = [];
  for (const [key, ls] of groups) {
    if (ls.length <= 3) out.push(...ls);
    else out.push(`${key}: ${ls.length} calls, e.g. ${ls.slice(0, 3).join(' || ')}`);
  }
  return out;
}

function errorOf(f: () => unknown): { name: string; message: string; op?: string } {
  try {
    f();
  } catch (e) {
    // Native errors come from the main realm, where jest's Error is not the same class.
    expect(Object.prototype.toString.call(e)).toBe('[object Error]');
    return e as { name: string; message: string; op?: string };
  }
  throw new Error('expected the call to throw');
}

const SECTION = process.env.NT_ERRORS_SECTION;

if (SECTION) {
  child(SECTION, Number(process.env.NT_ERRORS_START ?? 0)).catch((e) => {
    fs.writeSync(2, `child failed: ${(e as Error).stack}\n`);
    process.exit(2);
  });
} else {
  describe('error messages name the op and what was wrong', () => {
    test('add of mismatched shapes names the op and both shapes', () => {
      const e = errorOf(() => nt.ones([2, 3]).add(nt.ones([4])));
      expect(e.message).toMatch(/\badd\b/);
      expect(e.message).toContain('[2, 3]');
      expect(e.message).toContain('[4]');
      expect(e.op).toBe('add');
      expect(errorOf(() => nt.add(nt.ones([2, 3]), nt.ones([4]))).message).toContain('[2, 3]');
      expect(errorOf(() => nt.ones([2, 3]).mul(nt.ones([4]))).message).toMatch(/mul.*\[2, 3\].*\[4\]/s);
    });

    test('a negative size names the op and the shape', () => {
      const e = errorOf(() => nt.zeros([-1]));
      expect(e.message).toMatch(/zeros/);
      expect(e.message).toContain('[-1]');
      expect(e.name).toBe('TypeError');
      expect(errorOf(() => nt.ones([2, -3])).message).toMatch(/ones.*\[2, -3\]/);
      expect(errorOf(() => nt.full([-2], 1)).message).toMatch(/full.*-2/);
      expect(errorOf(() => nt.rand([1.5])).message).toMatch(/rand.*1\.5/);
      expect(errorOf(() => nt.randn(-4)).message).toMatch(/randn.*-4/);
    });

    test('a disposed tensor is reported as disposed, as receiver or argument', () => {
      const t = nt.ones([2]);
      t.dispose();
      expect(errorOf(() => t.add(1)).message).toMatch(/disposed/);
      expect(errorOf(() => t.neg()).message).toMatch(/neg.*disposed/);
      expect(errorOf(() => t.shape).message).toMatch(/disposed/);
      expect(errorOf(() => t.toArray()).message).toMatch(/disposed/);
      expect(errorOf(() => nt.ones([2]).add(t)).message).toMatch(/add.*other.*disposed/);
      expect(errorOf(() => nt.cat([nt.ones([2]), t])).message).toMatch(/cat.*disposed|cat.*live Tensor/);
      expect(errorOf(() => nt.ones([2]).matmul(t)).message).toMatch(/disposed/);
      expect(errorOf(() => nt.where(nt.ones([2], { dtype: 'bool' }), t, 0)).message).toMatch(/disposed/);
    });

    test('an unknown dtype lists the valid dtypes', () => {
      for (const f of [
        () => nt.zeros([2], { dtype: 'float33' as nt.DType }),
        () => nt.tensor([1, 2], { dtype: 'float33' as nt.DType }),
        () => nt.ones([2]).to({ dtype: 'float33' as nt.DType }),
        () => nt.ones([2]).sum({ dtype: 'float33' as nt.DType }),
        () => nt.ones([2]).softmax(0, 'float33' as nt.DType),
      ]) {
        const e = errorOf(f);
        expect(e.message).toContain('float33');
        for (const d of nt.DTYPES) expect(e.message).toContain(d);
      }
      // 'float' is PyTorch's alias for float32 and is accepted
      expect(nt.zeros([2], { dtype: 'float' as nt.DType }).dtype).toBe('float32');
      expect(nt.ones([2]).to('double' as nt.DType).dtype).toBe('float64');
    });

    test('a non-rectangular nested array says so and where', () => {
      const e = errorOf(() => nt.tensor([[1, 2], [3]]));
      expect(e.message).toMatch(/rectangular/);
      expect(e.message).toMatch(/\[1\]/);
      expect(errorOf(() => nt.tensor([[1, 2], 3] as unknown as number[][])).message).toMatch(/rectangular/);
      expect(errorOf(() => nt.tensor([1, [2, 3]] as unknown as number[])).message).toMatch(/rectangular|array/);
      expect(errorOf(() => nt.tensor([1, 'a'] as unknown as number[])).message).toMatch(/string 'a'/);
      expect(errorOf(() => nt.tensor([1, 2n] as unknown as number[])).message).toMatch(/mixed/);
      expect(errorOf(() => nt.tensor([1, null] as unknown as number[])).message).toMatch(/null/);
    });

    test('unknown devices are named with the valid forms', () => {
      for (const f of [
        () => nt.zeros([2], { device: 'gpu' }),
        () => nt.ones([2]).to('gpu'),
        () => nt.device('gpu'),
        () => nt.tensor([1], { device: 'gpu' }),
      ]) {
        const e = errorOf(f);
        expect(e.message).toMatch(/unknown device 'gpu'/);
        expect(e.message).toMatch(/cpu.*cuda/);
      }
      expect(errorOf(() => nt.ones([2]).to('cuda:x')).message).toMatch(/cuda:x/);
      expect(errorOf(() => nt.ones([2]).to('CPU')).message).toMatch(/CPU/);
    });

    (nt.cuda.isAvailable() ? test.skip : test)('CUDA devices when CUDA is unavailable say CUDA is not available', () => {
      for (const f of [
        () => nt.ones([2]).to('cuda'),
        () => nt.ones([2]).cuda(),
        () => nt.ones([2]).to({ device: 'cuda:0' }),
        () => nt.zeros([2], { device: 'cuda' }),
        () => nt.tensor([1, 2], { device: 'cuda:0' }),
        () => nt.ones([2]).to('cuda:99'),
        () => nt.randn([2], { device: nt.device('cuda') }),
        () => nt.zerosLike(nt.ones([2]), { device: 'cuda' }),
      ]) {
        const e = errorOf(f);
        expect(e.message).toMatch(/CUDA is not available/);
        expect(e.message).toMatch(/cuda/);
      }
      expect(nt.cuda.deviceCount()).toBe(0);
      expect(nt.availableDevices()).toEqual(['cpu']);
    });

    test('dim out of range names the dim and the shape', () => {
      expect(errorOf(() => nt.ones([2, 3]).sum(2)).message).toMatch(/sum.*dim 2.*\[2, 3\]/);
      expect(errorOf(() => nt.ones([2, 3]).softmax(-3)).message).toMatch(/softmax.*-3.*\[2, 3\]/);
      expect(errorOf(() => nt.ones([2, 3]).squeeze(5)).message).toMatch(/squeeze.*5/);
      expect(errorOf(() => nt.ones([2, 3]).unsqueeze(4)).message).toMatch(/unsqueeze.*4/);
      expect(errorOf(() => nt.ones([2, 3]).transpose(0, 2)).message).toMatch(/transpose.*2/);
      expect(errorOf(() => nt.ones([2, 3]).max(3)).message).toMatch(/max.*3/);
      expect(errorOf(() => nt.ones([2, 3]).size(2)).message).toMatch(/size.*2.*\[2, 3\]/);
      expect(errorOf(() => nt.ones([2, 3]).index(5)).message).toMatch(/select|index/);
      expect(errorOf(() => nt.cat([nt.ones([2]), nt.ones([2])], 3)).message).toMatch(/cat/);
    });

    test('shape mismatches in matrix products and reshapes name both shapes', () => {
      expect(errorOf(() => nt.ones([2, 3]).matmul(nt.ones([2, 3]))).message).toMatch(/matmul.*\[2, 3\].*\[2, 3\]/s);
      expect(errorOf(() => nt.ones([2, 3]).mm(nt.ones([4, 5]))).message).toMatch(/mm.*\[2, 3\].*\[4, 5\]/s);
      expect(errorOf(() => nt.ones([2, 3]).reshape(4, 2)).message).toMatch(/reshape.*\[4, 2\].*6/s);
      expect(errorOf(() => nt.ones([2, 3]).view(7)).message).toMatch(/view/);
      expect(errorOf(() => nt.ones([2, 3]).expand(4, 4)).message).toMatch(/expand/);
      expect(errorOf(() => nt.cat([nt.ones([2, 3]), nt.ones([2, 4])])).message).toMatch(/cat.*\[2, 3\].*\[2, 4\]/s);
      expect(errorOf(() => nt.stack([nt.ones([2]), nt.ones([3])])).message).toMatch(/stack/);
    });

    test('wrong argument types name the op, the parameter and what was received', () => {
      expect(errorOf(() => nt.ones([2]).add('x' as unknown as number)).message).toMatch(/add.*string 'x'/);
      expect(errorOf(() => nt.ones([2]).matmul(null as unknown as nt.Tensor)).message).toMatch(/matmul.*Tensor.*null/);
      expect(errorOf(() => nt.neg(3 as unknown as nt.Tensor)).message).toMatch(/neg.*Tensor.*number/);
      expect(errorOf(() => nt.ones([2]).reshape('a' as unknown as number)).message).toMatch(/reshape.*integers/);
      expect(errorOf(() => nt.ones([2]).softmax(undefined as unknown as number)).message).toMatch(/softmax.*integer.*undefined/);
      expect(errorOf(() => nt.ones([2]).squeeze('0' as unknown as number)).message).toMatch(/squeeze.*dim.*'0'/);
      expect(errorOf(() => nt.ones([2]).fill_('1' as unknown as number)).message).toMatch(/fill_.*string/);
      expect(errorOf(() => nt.cat(nt.ones([2]) as unknown as nt.Tensor[])).message).toMatch(/cat.*array/);
      expect(errorOf(() => nt.cat([nt.ones([2]), 5 as unknown as nt.Tensor])).message).toMatch(/cat.*tensors\[1\]/);
      expect(errorOf(() => nt.full([2], 'x' as unknown as number)).message).toMatch(/full/);
      expect(errorOf(() => nt.arange(0, NaN)).message).toMatch(/arange.*end.*NaN/);
      expect(errorOf(() => nt.arange(0, 5, 0)).message).toMatch(/arange.*step/);
      expect(errorOf(() => nt.randint(5, 1, [2])).message).toMatch(/randint.*low.*high/);
      expect(errorOf(() => nt.linspace(0, 1, -1)).message).toMatch(/linspace.*-1/);
      expect(errorOf(() => nt.eye(-1)).message).toMatch(/eye.*-1/);
      expect(errorOf(() => nt.tidy(5 as unknown as () => unknown)).message).toMatch(/tidy.*function/);
      expect(errorOf(() => nt.noGrad(null as unknown as () => unknown)).message).toMatch(/noGrad.*function/);
      expect(errorOf(() => nt.zeros([2], null as unknown as object)).message).toMatch(/zeros.*options/);
      expect(errorOf(() => nt.setNumThreads(0)).message).toMatch(/thread/);
      expect(errorOf(() => nt.setNumThreads(1.5)).message).toMatch(/thread/);
      expect(errorOf(() => nt.manualSeed(-1)).message).toMatch(/seed/);
      expect(errorOf(() => nt.ones([2]).split(0)).message).toMatch(/split.*positive/);
      expect(errorOf(() => nt.ones([2]).chunk(0)).message).toMatch(/chunk.*positive/);
      expect(errorOf(() => nt.ones([2]).slice(0, 0, 2, 0)).message).toMatch(/slice.*step/);
      expect(errorOf(() => nt.ones([2]).clamp()).message).toMatch(/clamp.*min.*max/);
      expect(errorOf(() => nt.ones([2]).item()).message).toMatch(/item.*one element.*\[2\]/);
      expect(errorOf(() => nt.tensor(3).index(0)).message).toMatch(/0-d/);
    });

    test('huge sizes fail cleanly instead of allocating', () => {
      expect(errorOf(() => nt.zeros([1e6, 1e6])).message).toMatch(/zeros.*(allocate|memory)/);
      expect(errorOf(() => nt.empty([2 ** 40])).message).toMatch(/empty.*(allocate|memory)/);
      expect(errorOf(() => nt.zeros([2 ** 52, 2 ** 52])).message).toMatch(/overflow/);
      expect(errorOf(() => nt.ones([1]).repeat(2 ** 40, 2 ** 40)).message).toMatch(/overflow/);
      expect(errorOf(() => nt.eye(2 ** 40)).message).toMatch(/eye.*overflow/);
      expect(errorOf(() => nt.zeros([2 ** 53])).message).toMatch(/zeros/);
      expect(errorOf(() => nt.zeros([1e300])).message).toMatch(/zeros/);
      expect(errorOf(() => nt.arange(0, 2 ** 53)).message).toMatch(/arange/);
      expect(errorOf(() => nt.linspace(0, 1, 2 ** 50)).message).toMatch(/linspace/);
      expect(errorOf(() => nt.zeros(new Array(65).fill(1))).message).toMatch(/64/);
      // sizes that are merely large but have no elements are valid, as in PyTorch
      expect(nt.zeros([2 ** 40, 0]).shape).toEqual([2 ** 40, 0]);
      expect(nt.ones([1]).expand(2 ** 40).shape).toEqual([2 ** 40]);
    });

    test('a typed array that does not fit the shape names both', () => {
      expect(errorOf(() => nt.tensor(new Float32Array(5), { shape: [2, 3] })).message).toMatch(/20 bytes.*\[2, 3\].*24/);
      expect(errorOf(() => nt.tensor(Buffer.alloc(7), { dtype: 'float32' })).message).toMatch(/7 bytes/);
      expect(errorOf(() => nt.tensor(new Float32Array(4), { shape: [-4] })).message).toMatch(/-4/);
      expect(errorOf(() => nt.tensor(new DataView(new ArrayBuffer(8)) as unknown as Float32Array)).message).toMatch(/DataView/);
    });

    test('autograd misuse gives clear errors', () => {
      expect(errorOf(() => nt.ones([2]).backward()).message).toMatch(/backward.*require grad/);
      expect(errorOf(() => nt.ones([2], { requiresGrad: true }).mul(2).backward()).message).toMatch(/backward.*\[2\]/);
      expect(errorOf(() => nt.ones([2], { dtype: 'int64' }).requiresGrad_()).message).toMatch(/floating.*int64/);
      expect(errorOf(() => nt.autograd.grad(nt.ones([2]) as nt.Tensor, 5 as unknown as nt.Tensor)).message).toMatch(/grad.*inputs\[0\]/);
      expect(errorOf(() => { nt.ones([2]).grad = 'x' as unknown as nt.Tensor; }).message).toMatch(/grad.*string/);
      expect(errorOf(() => nt.ones([2], { requiresGrad: true }).backward('x' as unknown as nt.Tensor)).message).toMatch(/backward.*gradient/);
      const x = nt.ones([1], { requiresGrad: true });
      // null options mean the defaults, like Python's None
      expect(nt.autograd.grad(x.sum(), x, null)[0]!.toArray()).toEqual([1]);
      x.sum().backward(null, null);
      expect(x.grad!.toArray()).toEqual([1]);
    });

    test('async data() of a disposed tensor rejects with a clear error', async () => {
      const t = nt.ones([2]);
      t.dispose();
      let err: unknown = null;
      try {
        await t.data();
      } catch (e) {
        err = e;
      }
      expect(Object.prototype.toString.call(err)).toBe('[object Error]');
      expect((err as Error).message).toMatch(/disposed/);
    });

    test('a Tensor built around a number that is not a live handle cannot be used', () => {
      for (const h of [0, 1, 12345, -1, 2 ** 40, 1.5, NaN]) {
        const t = new nt.Tensor(h);
        expect(errorOf(() => t.neg()).message).toMatch(/Tensor|disposed/);
        expect(errorOf(() => t.shape).message).toMatch(/Tensor|disposed/);
        expect(errorOf(() => nt.ones([1]).add(t)).message).toMatch(/Tensor|disposed/);
      }
    });

    test('bigint values beyond int64 and non-finite values for int64 are rejected', () => {
      // PyTorch: torch.tensor([2**70]) raises "Overflow when unpacking long"
      expect(errorOf(() => nt.tensor([2n ** 70n])).message).toMatch(/int64|range|overflow/i);
      expect(errorOf(() => nt.tensor([2n ** 63n])).message).toMatch(/int64|range|overflow/i);
      expect(errorOf(() => nt.tensor(2n ** 70n)).message).toMatch(/int64/);
      expect(errorOf(() => nt.tensor([NaN], { dtype: 'int64' })).message).toMatch(/NaN.*int64/);
      expect(errorOf(() => nt.full([2], 2n ** 70n)).message).toMatch(/full.*int64/);
    });
  });

  describe('systematic bad arguments (crash-isolated child processes)', () => {
    const reports: Record<string, SectionReport> = {};
    beforeAll(async () => {
      const [lib, nat, crash] = await Promise.all([runSection('lib'), runSection('native'), runSection('crash')]);
      reports.lib = lib;
      reports.native = nat;
      reports.crash = crash;
    }, 400000);

    test('every nt.* function and Tensor member throws an Error (or returns) for bad arguments, never crashing', () => {
      const r = reports.lib;
      expect(r.total).toBeGreaterThan(20000);
      expect(summarize(r.offenders)).toEqual([]);
    });

    test('every raw native export throws an Error (or returns) for garbage arguments, never crashing', () => {
      const r = reports.native;
      expect(r.total).toBeGreaterThan(20000);
      expect(summarize(r.offenders)).toEqual([]);
    });

    test('inputs that have crashed native code before now throw or work', () => {
      const r = reports.crash;
      expect(r.total).toBeGreaterThan(5);
      expect(r.offenders).toEqual([]);
    });

    test('failed calls do not leak native tensors', () => {
      expect(summarize([...reports.lib.leaks, ...reports.native.leaks, ...reports.crash.leaks])).toEqual([]);
    });
  });

  describe('the process is still healthy', () => {
    test('the in-process fuzz of the public API throws only Errors', () => {
      // a small in-process pass, so this jest worker itself survives bad input too
      const bad: string[] = [];
      originalThreads = nt.getNumThreads();
      const tensorFns = ['add', 'matmul', 'reshape', 'sum', 'softmax', 'cat', 'gather', 'where', 'clamp', 'to', 'tensor', 'zeros'];
      for (const name of tensorFns) {
        const f = (nt as unknown as Record<string, Fn>)[name];
        for (const [label, args] of argTuples()) {
          try {
            release(f(...args()));
          } catch (e) {
            if (Object.prototype.toString.call(e) !== '[object Error]') bad.push(`nt.${name}${label}: threw ${show(e)}`);
          } finally {
            disposeMade();
          }
        }
      }
      expect(bad).toEqual([]);
    });

    test('normal ops still work and nt.memory() is sane', () => {
      const before = nt.memory();
      expect(Number.isInteger(before.tensors)).toBe(true);
      expect(before.tensors).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(before.bytes)).toBe(true);
      expect(before.bytes).toBeGreaterThanOrEqual(0);
      const a = nt.tensor([[1, 2], [3, 4]]);
      const m = a.matmul(a);
      const b = m.add(1);
      expect(b.toArray()).toEqual([[8, 11], [16, 23]]);
      expect(nt.memory().tensors).toBe(before.tensors + 3);
      expect(nt.memory().bytes).toBe(before.bytes + 48);
      a.dispose();
      m.dispose();
      b.dispose();
      expect(nt.memory()).toEqual(before);
      expect(nt.isGradEnabled()).toBe(true);
      expect(nt.getNumThreads()).toBeGreaterThanOrEqual(1);
      const x = nt.ones([3], { requiresGrad: true });
      x.mul(2).sum().backward();
      expect(x.grad!.toArray()).toEqual([2, 2, 2]);
    });
  });
}
