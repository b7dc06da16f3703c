// The fuzzer's child process: runs cases [start, start + count) of seed, each a call of one native
// export or public loader with generated garbage, and writes "> i" before and ". i" after each to
// the progress file, so the parent (scripts/fuzz.js) knows which case a crash or hang belongs to.
// Case i is a pure function of (seed, i): `node --import tsx test/fuzz/worker.ts <seed> <i> 1` replays it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as nt from '../../lib';
import { native } from '../../lib/native';
import { loadSafetensors, saveSafetensors } from '../../lib/io';
import { mulberry32 as rng } from '../../lib/data/dataset';

const [seedArg, startArg, countArg, progressFile] = process.argv.slice(2);
const seed = Number(seedArg ?? 1);
const start = Number(startArg ?? 0);
const count = Number(countArg ?? 1);
/** How long one case's promise may stay pending before the case counts as a hang. */
const SETTLE_MS = Number(process.env.NT_FUZZ_SETTLE_MS ?? 20_000);

// ---- special files, made once per process in a private directory ----
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-fuzz-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const files: string[] = [dir, '/dev/zero', '/dev/null', path.join(dir, 'missing.pt'), path.join(dir, 'empty')];
fs.writeFileSync(path.join(dir, 'empty'), '');
if (process.platform !== 'win32' && spawnSync('mkfifo', [path.join(dir, 'fifo')]).status === 0) files.push(path.join(dir, 'fifo'));
/** A valid safetensors file, .pt file and model directory, for the loaders and their mutations. */
async function makeFiles(): Promise<void> {
  const st = path.join(dir, 'ok.safetensors');
  saveSafetensors(st, { w: nt.ones([3, 2]), b: nt.zeros([2]) });
  const pt = path.join(dir, 'ok.pt');
  await nt.save({ w: nt.ones([4]) }, pt, { format: 'pt' });
  const m = new nt.Sequential([new nt.layers.Dense(2, { inputShape: [3] })]);
  m.build();
  const md = path.join(dir, 'model');
  await m.save(md);
  files.push(st, pt, md, path.join(md, 'config.json'), path.join(md, 'model.safetensors'));
}

/** A copy of a file with bytes flipped, cut or a header field rewritten. */
function mutated(r: () => number, src: string): string {
  if (!fs.existsSync(src) || !fs.statSync(src).isFile()) return src;
  const b = Buffer.from(fs.readFileSync(src));
  const out = path.join(dir, `m${Math.floor(r() * 1e9)}${path.extname(src)}`);
  const n = 1 + Math.floor(r() * 8);
  for (let k = 0; k < n && b.length; k++) {
    const at = Math.floor(r() * b.length);
    const what = Math.floor(r() * 4);
    if (what === 0) b[at] ^= 1 << Math.floor(r() * 8);
    else if (what === 1) b[at] = 0xff;
    else if (what === 2 && b.length > 8) b.writeUInt32LE(Math.floor(r() * 2 ** 32), Math.min(at, b.length - 4));
    else fs.writeFileSync(out, b.subarray(0, at));
  }
  if (!fs.existsSync(out)) fs.writeFileSync(out, b);
  return out;
}

// ---- garbage values ----
const NUMBERS = [0, -0, 1, -1, 2, 3, 0.5, -1.5, NaN, Infinity, -Infinity, 2 ** 24, 2 ** 31, 2 ** 32 - 1, 2 ** 53, -(2 ** 53), 1e308, 5e-324, 65, 1e6];

function value(r: () => number, depth = 0): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  switch (Math.floor(r() * 22)) {
    case 0: case 1: case 2: return pick(NUMBERS);
    case 3: return pick([0n, -1n, 2n ** 63n, -(2n ** 64n), 7n]);
    case 4: return pick(['', 'float32', 'cpu', 'cuda', 'x'.repeat(10000), '\u0000', 'train', 'predict', 'sgd', 'relu', 'mean']);
    case 5: return pick([null, undefined, true, false]);
    case 6: return {};
    case 7: return depth < 3 ? Array.from({ length: Math.floor(r() * 5) }, () => value(r, depth + 1)) : [];
    case 8: { const a: unknown[] = []; a.length = pick([2 ** 32 - 1, 2 ** 24, 1e6]); return a; }
    case 9: return pick([new Float32Array(4), new Float64Array(0), new Uint8Array(70000), new BigInt64Array(2), Buffer.alloc(3)]);
    case 10: { const b = new ArrayBuffer(1 << 16); const f = new Float32Array(b); structuredClone(b, { transfer: [b] }); return pick([b, f]); }
    case 11: return new Float32Array(new SharedArrayBuffer(64));
    case 12: return Object.defineProperty({}, pick(['shape', 'dtype', 'device', 'batchSize', 'lr', 'length', 'units']), { get() { throw new Error('getter that throws'); }, enumerable: true });
    case 13: return new Proxy([], { get() { throw new Error('proxy that throws'); } });
    case 14: return nt.ones(pick([[2, 3], [3], [], [0], [2, 2, 2]]))._h; // a live handle
    case 15: { const t = nt.ones([2]); const h = t._h; t.dispose(); return h; } // a disposed handle
    case 16: return Math.floor(r() * 2 ** 40); // a foreign number in handle range
    case 17: return pick([nt.ones([2, 3]), nt.zeros([4], { dtype: 'int64' }), nt.tensor([true])]);
    case 18: return pick(files);
    case 19: return mutated(r, pick(files));
    case 20: return pick([() => 1, () => { throw new Error('callback that throws'); }, Symbol('s')]);
    default: return { shape: [2], dtype: pick([-1, 0, 99, 'float32']), batchSize: pick(NUMBERS), device: pick(['cpu', 'cuda', 7]) };
  }
}

// ---- targets: every native export, and the public loaders ----
type Fn = (...a: unknown[]) => unknown;
const nativeTargets: [string, Fn][] = Object.entries(native as unknown as Record<string, unknown>)
  .filter(([, f]) => typeof f === 'function').map(([k, f]) => [`native.${k}`, f as Fn]);
const loaderTargets: [string, Fn][] = [
  ['nt.load', (f, o) => nt.load(f as string, o as never)],
  ['nt.loadModel', (f, o) => nt.loadModel(f as string, o as never)],
  ['nt.jit.load', (f, o) => nt.jit.load(f as string, o as never)],
  ['loadSafetensors', (f, o) => loadSafetensors(f as string, o as never)],
];
export const TARGETS = [...nativeTargets, ...loaderTargets];

export interface FuzzCase { target: string; args: unknown[]; fn: Fn }

export function makeCase(s: number, i: number): FuzzCase {
  const r = rng(s * 1_000_003 + i);
  // loaders get a file first, most of the time: they are where hostile files go
  const [target, fn] = r() < 0.2 ? loaderTargets[Math.floor(r() * loaderTargets.length)] : TARGETS[Math.floor(r() * TARGETS.length)];
  const isLoader = !target.startsWith('native.');
  const n = Math.floor(r() * 6);
  const args = Array.from({ length: n }, (_, k) => (isLoader && k === 0 && r() < 0.9 ? (r() < 0.5 ? files[Math.floor(r() * files.length)] : mutated(r, files[Math.floor(r() * files.length)])) : value(r)));
  return { target, args, fn };
}

function describe(v: unknown): string {
  try {
    return describeUnsafe(v);
  } catch {
    return '<object whose properties throw>';
  }
}

function describeUnsafe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...(${v.length})` : v);
  if (Array.isArray(v)) return v.length > 8 ? `<array length ${v.length}>` : `[${Array.from(v, describe).join(', ')}]`;
  if (v instanceof nt.Tensor) return `<Tensor ${v.isDisposed ? 'disposed' : v.shape.join('x')}>`;
  if (ArrayBuffer.isView(v)) return `<${v.constructor.name} ${v.byteLength} bytes>`;
  if (v instanceof ArrayBuffer) return `<ArrayBuffer ${v.byteLength} bytes>`;
  if (typeof v === 'function') return '<function>';
  if (typeof v === 'symbol') return '<symbol>';
  if (v !== null && typeof v === 'object') return '<object>';
  return String(v);
}

async function main(): Promise<void> {
  const fd = progressFile ? fs.openSync(progressFile, 'a') : 1;
  const out = (s: string) => fs.writeSync(fd, `${s}\n`);
  await makeFiles();
  for (let i = start; i < start + count; i++) {
    let c: FuzzCase;
    try {
      c = makeCase(seed, i);
    } catch (e) {
      out(`? ${i}\tthe generator failed: ${(e as Error).message}`);
      continue;
    }
    out(`> ${i}\t${c.target}(${c.args.map(describe).join(', ')})`);
    try {
      const r = c.fn(...c.args);
      if (r instanceof Promise) {
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('#hang')), SETTLE_MS); });
        try {
          await Promise.race([r, hang]);
        } finally {
          clearTimeout(timer);
        }
      }
    } catch (e) {
      if (e instanceof Error && e.message === '#hang') {
        out(`! ${i}\thang`);
        process.exit(3); // the parent restarts after this case
      }
      if (!(e instanceof Error)) out(`? ${i}\tthrew a non-Error: ${describe(e)}`);
    }
    out(`. ${i}`);
  }
  out('#done');
  process.exit(0);
}

if (require.main === module) void main();
