// nt.jit: TorchScript modules saved by PyTorch, run from nodetorch and compared with PyTorch's own
// outputs. test/jit_fixtures.py makes the modules and expected values at test time with Debian's
// python3-torch; without it the PyTorch comparisons are skipped (the rest still runs).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { torchPython } from './helpers';

const PYTHON = torchPython() ?? 'python3';
const root = path.resolve(__dirname, '..');
const hasTorch = torchPython() !== null;
const withTorch = hasTorch ? describe : describe.skip;
const why = hasTorch ? '' : ' (skipped: no python3 with torch and numpy ($NODETORCH_PYTHON, PATH, /usr/bin) to make the TorchScript fixtures)';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-jit-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Rejection of p (as an Error, checked by its tag since native errors come from another realm). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(Object.prototype.toString.call(e)).toBe('[object Error]');
    return e as Error;
  }
  throw new Error('expected the promise to reject');
}

function maxDiff(a: nt.Tensor, b: nt.Tensor): number {
  expect([...a.shape]).toEqual([...b.shape]);
  return Number(a.to('float64').sub(b.to('float64')).abs().max().item());
}

const isTensor = (v: unknown): v is nt.Tensor => v instanceof nt.Tensor;
function asTensor(v: unknown): nt.Tensor {
  if (!isTensor(v)) throw new Error(`expected a Tensor but got ${String(v)}`);
  return v;
}

// ---- crafted zip files, for the bad-file tests and the fuzz ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip entry as stored: its raw (possibly deflated) bytes and what the directory says of them. */
interface ZipEntry { name: string; data: Buffer; method: number; crc: number; size: number }

/** The entries of a (non-zip64) archive, from its central directory. */
function readZip(buf: Buffer): ZipEntry[] {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  const out: ZipEntry[] = [];
  let p = buf.readUInt32LE(eocd + 16);
  for (let i = 0, n = buf.readUInt16LE(eocd + 10); i < n; i++) {
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const local = buf.readUInt32LE(p + 42);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    out.push({
      name: buf.toString('utf8', p + 46, p + 46 + nameLen), data: buf.subarray(data, data + csize),
      method: buf.readUInt16LE(p + 10), crc: buf.readUInt32LE(p + 16), size: buf.readUInt32LE(p + 24),
    });
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return out;
}

function writeZip(entries: ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(e.method, 8);
    h.writeUInt32LE(e.crc, 14);
    h.writeUInt32LE(e.data.length, 18);
    h.writeUInt32LE(e.size, 22);
    h.writeUInt16LE(name.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.method, 10);
    c.writeUInt32LE(e.crc, 16);
    c.writeUInt32LE(e.data.length, 20);
    c.writeUInt32LE(e.size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(off, 42);
    parts.push(h, name, e.data);
    central.push(c, name);
    off += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...parts, cd, end]);
}

/** A deterministic generator (mulberry32), so a failing mutation can be reproduced. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** count damaged copies of src: byte flips, truncations and entries swapped (with their CRCs, so the zip stays valid). */
function mutations(src: Buffer, count: number, seed: number): { kind: string; data: Buffer }[] {
  const rand = prng(seed);
  const entries = readZip(src);
  const out: { kind: string; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) {
      const b = Buffer.from(src);
      const flips = 1 + rand(8);
      for (let k = 0; k < flips; k++) b[rand(b.length)] ^= 1 + rand(255);
      out.push({ kind: `${flips} byte flip(s)`, data: b });
    } else if (i % 3 === 1) {
      const len = rand(src.length);
      out.push({ kind: `truncated to ${len} bytes`, data: src.subarray(0, len) });
    } else {
      const es = entries.map((e) => ({ ...e }));
      const a = rand(es.length);
      const b = rand(es.length);
      const { name: na, ...ea } = es[a];
      const { name: nb, ...eb } = es[b];
      es[a] = { name: na, ...eb };
      es[b] = { name: nb, ...ea };
      out.push({ kind: `entries ${na} and ${nb} swapped`, data: writeZip(es) });
    }
  }
  return out;
}

// ---- without PyTorch: compile() and files that are not TorchScript ----

describe('nt.jit without fixtures', () => {
  test('compile() makes a module from TorchScript source; its methods take and return numbers, strings, tuples', async () => {
    const m = nt.jit.compile([
      'def forward(self, x, k: int, s: str):',
      '    return x * k, s + "!", x.dim()',
      'def scale(self, x, f: float):',
      '    return x * f',
    ].join('\n'));
    expect(m.methods().map((x) => x.name).sort()).toEqual(['forward', 'scale']);
    const [y, s, d] = await m.forward(nt.tensor([1, 2]), 3, 'hi') as [nt.Tensor, string, number];
    expect(y.toArray()).toEqual([3, 6]);
    expect(s).toBe('hi!');
    expect(d).toBe(1);
    // an integral JS number goes to a float parameter as a float
    expect((asTensor(await m.call('scale', nt.tensor([1, 2]), 2))).toArray()).toEqual([2, 4]);
    expect(m.training).toBe(true);
    expect(m.eval().training).toBe(false);
    expect(m.namedParameters()).toEqual([]);
  });

  test('compile() of bad source throws the TorchScript compiler message', () => {
    expect(() => nt.jit.compile('def forward(self, x):\n    return y\n')).toThrow(/jit.compile:[\s\S]*undefined value y/);
    expect(() => nt.jit.compile(42 as unknown as string)).toThrow(/jit.compile: expected TorchScript source/);
  });

  test('files that are not TorchScript archives are refused with an error naming the file', async () => {
    const file = (name: string, data: string | Buffer) => {
      const f = path.join(tmp, name);
      fs.writeFileSync(f, data);
      return f;
    };
    const cases: [string, RegExp][] = [
      [path.join(tmp, 'missing.pt'), /jit.load: no such file '.*missing\.pt'/],
      [tmp, /is a directory/],
      [file('empty.pt', ''), /empty\.pt' is not a TorchScript archive: it is only 0 bytes long/],
      [file('text.pt', 'hello, this is not a model at all\n'), /text\.pt' is not a TorchScript archive.*zip header/],
      [file('pickle.pt', Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
        /pickle\.pt'.*legacy torch.save\(\) pickle/],
      [file('lfs.pt', 'version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n'), /lfs\.pt'.*Git LFS pointer/],
      [file('pk.pt', Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251))])),
        /pk\.pt' is not a readable TorchScript archive: the zip file is damaged or truncated/],
      [file('notorch.pt', writeZip([{ name: 'a/hello.txt', data: Buffer.from('hi'), method: 0, crc: crc32(Buffer.from('hi')), size: 2 }])),
        /notorch\.pt' is a zip archive but not one PyTorch wrote/],
    ];
    for (const [f, re] of cases) expect((await rejection(nt.jit.load(f))).message).toMatch(re);
  });

  test('bad arguments to load() are TypeErrors; a CUDA device without CUDA is an Error', async () => {
    expect((await rejection(nt.jit.load(42 as unknown as string))).message).toMatch(/jit.load: expected a file path/);
    expect((await rejection(nt.jit.load(''))).message).toMatch(/jit.load: expected a file path/);
    expect((await rejection(nt.jit.load('x.pt', 'cpu' as unknown as object))).message).toMatch(/options object/);
    expect((await rejection(nt.jit.load('x.pt', { device: 'gpu' }))).message).toMatch(/unknown device 'gpu'/);
    if (!nt.cuda.isAvailable()) {
      expect((await rejection(nt.jit.load('x.pt', { device: 'cuda' }))).message).toMatch(/CUDA is not available/);
    }
  });

  test('an async error points at the caller, not at nodetorch internals', async () => {
    const e = await rejection(nt.jit.load(path.join(tmp, 'nowhere.pt')));
    expect(e.stack).toContain('jit.test.ts');
  });
});

// ---- against PyTorch ----

interface Meta {
  tensors: Record<string, { shape: number[]; dtype: string }>;
  cnn_params: string[];
  cnn_buffers: string[];
  cnn_state: string[];
  m_out_keys: string[];
  m_describe: [number, number, boolean, string, null, number[], Record<string, number>];
  m_params: string[];
  drop_training: boolean;
}

withTorch(`nt.jit against PyTorch${why}`, () => {
  let dir: string;
  let meta: Meta;
  const fx = (name: string) => path.join(dir, name);
  /** A tensor PyTorch saved (raw little-endian data). */
  const T = (name: string): nt.Tensor => {
    const m = meta.tensors[name];
    if (!m) throw new Error(`no fixture tensor ${name}`);
    const b = fs.readFileSync(fx(`${name}.bin`));
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    const data = m.dtype === 'int64' ? new BigInt64Array(ab) : new Float32Array(ab);
    return nt.tensor(data, { shape: m.shape });
  };

  beforeAll(() => {
    dir = path.join(tmp, 'fixtures');
    const r = spawnSync(PYTHON, [path.join(__dirname, 'jit_fixtures.py'), dir], { encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`test/jit_fixtures.py failed: ${r.stderr || r.error}`);
    meta = JSON.parse(fs.readFileSync(fx('meta.json'), 'utf8'));
  }, 200_000);

  test('a traced CNN gives PyTorch\'s outputs, as plain tensors without autograd', async () => {
    const m = await nt.jit.load(fx('cnn.pt'));
    expect(m.training).toBe(false);
    expect(m.file).toBe(fx('cnn.pt'));
    const y = asTensor(await m.forward(T('cnn_x')));
    expect(maxDiff(y, T('cnn_y'))).toBeLessThanOrEqual(1e-6);
    expect(y.requiresGrad).toBe(false);
    expect(String(m)).toMatch(/ScriptModule\(.*cnn\.pt\)\n {2}forward\(__torch__\.SmallCNN self, Tensor x\) -> Tensor/);
  });

  test('namedParameters, namedBuffers and stateDict match PyTorch\'s names and values', async () => {
    const m = await nt.jit.load(fx('cnn.pt'));
    const params = m.namedParameters();
    expect(params.map(([n]) => n)).toEqual(meta.cnn_params);
    for (const [n, p] of params) {
      expect(maxDiff(p, T(`cnn_p_${n}`))).toBe(0);
      expect(p.requiresGrad).toBe(true); // as in PyTorch: the module's own parameters
    }
    expect(m.parameters().length).toBe(meta.cnn_params.length);
    const buffers = m.namedBuffers();
    expect(buffers.map(([n]) => n)).toEqual(meta.cnn_buffers);
    for (const [n, b] of buffers) expect(maxDiff(b, T(`cnn_b_${n}`))).toBe(0);
    expect(m.buffers()[2].dtype).toBe('int64');
    const sd = m.stateDict();
    expect(Object.keys(sd)).toEqual(meta.cnn_state);
    expect(Object.values(sd).every((t) => !t.requiresGrad)).toBe(true);
    expect(maxDiff(sd['fc.weight'], T('cnn_p_fc.weight'))).toBe(0);
  });

  test('tuples, dicts, lists, numbers, booleans, strings and None go in and come out', async () => {
    const m = await nt.jit.load(fx('multi.pt'));
    const d = { first: T('m_first'), second: T('m_second') };
    const xs = [T('m_x0'), T('m_x1'), T('m_x2')];
    const out = await m.forward([T('m_a'), T('m_b')], d, 0.5, 3, true, 't', xs, T('m_opt'));
    const [[s, total], dict] = out as [[nt.Tensor, nt.Tensor], Record<string, nt.Tensor>];
    expect(maxDiff(s, T('m_s'))).toBeLessThanOrEqual(1e-6);
    expect(maxDiff(total, T('m_total'))).toBeLessThanOrEqual(1e-6);
    expect(Object.keys(dict)).toEqual(meta.m_out_keys);
    for (const k of meta.m_out_keys) expect(maxDiff(dict[k], T(`m_out_${k}`))).toBeLessThanOrEqual(1e-6);
    // Optional[Tensor]: left out (its default), null or undefined; a Map is a dict too
    for (const rest of [[], [null], [undefined]]) {
      const [[, t]] = await m.forward([T('m_a'), T('m_b')], new Map(Object.entries(d)), 0.5, 3, true, 't', xs, ...rest) as [[nt.Tensor, nt.Tensor]];
      expect(maxDiff(t, T('m_total_no_opt'))).toBeLessThanOrEqual(1e-6);
    }
  });

  test('other exported methods run with call(); methods() lists them with their signatures', async () => {
    const m = await nt.jit.load(fx('multi.pt'));
    expect(maxDiff(asTensor(await m.call('embed', T('m_a'))), T('m_embed'))).toBeLessThanOrEqual(1e-6);
    const [dim, sum, pos, str, none, shape, dict, list] = await m.call('describe', T('m_a')) as unknown[];
    const [eDim, eSum, ePos, eStr, eNone, eShape, eDict] = meta.m_describe;
    expect([dim, sum, pos, str, none, shape]).toEqual([eDim, eSum, ePos, eStr, eNone, eShape]);
    // Dict[int, float] has number keys: a Map
    expect(dict).toEqual(new Map(Object.entries(eDict).map(([k, v]) => [Number(k), v])));
    expect((list as nt.Tensor[]).map((t) => maxDiff(t, T('m_a').add(t === (list as nt.Tensor[])[0] ? 0 : 1)))).toEqual([0, 0]);
    const names = m.methods().map((x) => x.name).sort();
    expect(names).toEqual(['check', 'describe', 'embed', 'forward']);
    // an exception raised by the TorchScript code: the error first, then TorchScript's traceback
    expect((await rejection(m.call('check', nt.full([2], 1000)))).message)
      .toMatch(/^jit check: ValueError: sum too large\n[\s\S]*Traceback of TorchScript[\s\S]*raise ValueError/);
    expect(m.methods().find((x) => x.name === 'embed')!.schema).toMatch(/^embed\(.* self, Tensor x\) -> Tensor$/);
    expect(m.namedParameters().map(([n]) => n)).toEqual(meta.m_params);
    expect((await rejection(m.call('nope', 1))).message).toMatch(/^jit nope: the module has no method 'nope' \(its methods: .*embed/);
  });

  test('eval() makes dropout deterministic and equal to PyTorch\'s eval output; train() turns it back on', async () => {
    const m = await nt.jit.load(fx('drop.pt'));
    const x = T('drop_x');
    expect(m.training).toBe(meta.drop_training);
    expect(m.training).toBe(true);
    const [a, b] = await Promise.all([m.forward(x), m.forward(x)]) as nt.Tensor[];
    expect(maxDiff(a, b)).toBeGreaterThan(0);
    expect(Number(a.eq(0).sum().item())).toBeGreaterThan(10);
    expect(m.eval()).toBe(m);
    expect(m.training).toBe(false);
    const e1 = asTensor(await m.forward(x));
    const e2 = asTensor(await m.forward(x));
    expect(maxDiff(e1, T('drop_eval'))).toBeLessThanOrEqual(1e-6);
    expect(maxDiff(e1, e2)).toBe(0);
    m.train();
    expect(m.training).toBe(true);
    expect(() => m.train('yes' as unknown as boolean)).toThrow(/expected a boolean/);
  });

  test('forward runs off the main thread: the event loop keeps turning meanwhile', async () => {
    const m = await nt.jit.load(fx('slow.pt'));
    const x = T('slow_x');
    expect(maxDiff(asTensor(await m.forward(x, 3)), T('slow_y3'))).toBeLessThanOrEqual(1e-5);
    // timers rather than a setImmediate spin: a busy main thread would only slow libtorch's threads
    let ticks = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      ticks++;
      nt.ones([2]).add(1).dispose(); // and nodetorch itself stays usable on the main thread
      setTimeout(tick, 2);
    };
    setTimeout(tick, 0);
    const p = m.forward(x, 150);
    expect(ticks).toBe(0); // forward returned at once
    const y = asTensor(await p);
    const atEnd = ticks;
    done = true;
    expect(y.shape).toEqual([64, 256]);
    expect(atEnd).toBeGreaterThan(0);
  });

  test('concurrent forwards on one module each get their own correct result', async () => {
    const m = await nt.jit.load(fx('cnn.pt'));
    const x = T('cnn_x');
    const calls: Promise<unknown>[] = [];
    for (let r = 0; r < 4; r++) for (let i = 0; i < 4; i++) calls.push(m.forward(x.narrow(0, i, 1).contiguous()));
    calls.push(m.forward(x));
    const outs = (await Promise.all(calls)).map(asTensor);
    for (let k = 0; k < 16; k++) expect(maxDiff(outs[k], T(`cnn_y${k % 4}`))).toBeLessThanOrEqual(1e-6);
    expect(maxDiff(outs[16], T('cnn_y'))).toBeLessThanOrEqual(1e-6);
  });

  test('train(), eval() and to() are refused while a forward runs; dispose() lets it finish', async () => {
    const m = await nt.jit.load(fx('slow.pt'));
    const x = T('slow_x');
    const p = m.forward(x, 3);
    expect(() => m.eval()).toThrow(/ScriptModule.eval: 1 forward\/call\(s\) on this module are still running; await them/);
    expect(() => m.to('float64')).toThrow(/still running/);
    expect(maxDiff(asTensor(await p), T('slow_y3'))).toBeLessThanOrEqual(1e-5);
    m.eval(); // fine once it is done
    const q = m.forward(x, 3);
    m.dispose();
    m.dispose(); // idempotent
    expect(m.isDisposed).toBe(true);
    expect(maxDiff(asTensor(await q), T('slow_y3'))).toBeLessThanOrEqual(1e-5);
    expect((await rejection(m.forward(x, 3))).message).toMatch(/ScriptModule.forward: the module was disposed/);
    expect(() => m.namedParameters()).toThrow(/disposed/);
    expect(String(m)).toBe('ScriptModule(disposed)');
  });

  test('to() casts and moves parameters and buffers in place', async () => {
    const m = await nt.jit.load(fx('cnn.pt'));
    m.to('float64');
    expect(m.parameters().every((t) => t.dtype === 'float64')).toBe(true);
    expect(m.buffers()[2].dtype).toBe('int64'); // integer buffers keep their dtype
    const y = asTensor(await m.forward(T('cnn_x').to('float64')));
    expect(maxDiff(y, T('cnn_y'))).toBeLessThanOrEqual(1e-5);
    m.to({ dtype: 'float32', device: 'cpu' }).cpu();
    expect(m.parameters()[0].dtype).toBe('float32');
    expect(() => m.to('int64')).toThrow(/floating dtype/);
    expect(() => m.to('gpu')).toThrow(/unknown device 'gpu'/);
    if (!nt.cuda.isAvailable()) expect(() => m.to('cuda')).toThrow(/CUDA is not available/);
  });

  test('outputs are ordinary tensors: usable in later autograd code', async () => {
    const m = await nt.jit.load(fx('cnn.pt'));
    const feats = asTensor(await m.forward(T('cnn_x').requiresGrad_(true)));
    expect(feats.requiresGrad).toBe(false);
    const w = nt.ones([10, 2], { requiresGrad: true });
    feats.matmul(w).sum().backward();
    expect(maxDiff(w.grad!, T('cnn_y').sum(0).unsqueeze(1).expand([10, 2]))).toBeLessThanOrEqual(1e-5);
  });

  test('bad inputs to forward reject with the TorchScript message, never crash', async () => {
    const m = await nt.jit.load(fx('cnn.pt'));
    const multi = await nt.jit.load(fx('multi.pt'));
    const x = T('cnn_x');
    const dead = nt.ones([1]);
    dead.dispose();
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => m.forward(nt.randn([1, 3, 28, 28])), /^jit forward: Given groups=1, weight of size \[8, 1, 3, 3\].*3 channels[\s\S]*Traceback of TorchScript/],
      [() => m.forward(nt.randn([1, 1, 5])), /^jit forward: .*(Expected|expected)/],
      [() => m.forward(x.to('float64')), /^jit forward: expected scalar type Double but found Float/],
      [() => m.forward(x.to('int64')), /^jit forward: /],
      [() => m.forward(), /^jit forward: .*forward\(\) is missing value for argument 'x'/],
      [() => m.forward(x, x), /^jit forward: Expected at most 2 argument\(s\)/],
      [() => m.forward(5), /^jit forward: forward\(\) Expected a value of type 'Tensor' for argument 'x' but instead found type 'int'/],
      [() => m.forward('x'), /^jit forward: .*Expected a value of type 'Tensor'.*found type 'str'/],
      [() => m.forward((() => 1) as unknown as nt.Tensor), /^jit forward: input 1 is a function, which TorchScript cannot take/],
      [() => m.forward(Symbol('s') as unknown as nt.Tensor), /^jit forward: input 1 is symbol/],
      [() => m.forward(dead), /^jit forward: input 1 is a disposed Tensor/],
      [() => m.forward(new Date(0) as unknown as nt.Tensor), /input 1 is an object of class Date/],
      [() => m.forward(new Float32Array(4) as unknown as nt.Tensor), /Float32Array \(wrap typed arrays with nt.tensor\(\)\)/],
      [() => m.forward(2n ** 70n), /outside the int64 range/],
      [() => m.forward(cyclic as nt.jit.JitValue), /nested more than 64 levels deep/],
      [() => m.call(3 as unknown as string), /ScriptModule.call: expected a method name/],
      [() => multi.forward([x, x, x], {}, 0.5, 3, true, 't', [x]), /^jit forward: .*Tuple\[Tensor, Tensor\]/],
      [() => multi.forward([T('m_a'), T('m_b')], { k: 1 }, 0.5, 3, true, 't', [x]), /^jit forward: .*Dict\[str, Tensor\]/],
      [() => multi.forward([T('m_a'), T('m_b')], {}, 0.5, 1.5, true, 't', [x]), /^jit forward: .*argument 'n'/],
      [() => multi.forward([T('m_a'), T('m_b')], new Map([[{}, x]]) as unknown as nt.jit.JitValue, 0.5, 3, true, 't', [x]), /dict keys must be/],
      [() => multi.forward([T('m_a'), T('m_b')], {}, 0.5, 3, true, 't', []), /^jit forward: /],
    ];
    for (const [call, re] of cases) {
      const e = await rejection(call());
      expect(e.message).toMatch(re);
      expect(e.stack).toContain('jit.test.ts');
    }
    // still fine afterwards
    expect(maxDiff(asTensor(await m.forward(x)), T('cnn_y'))).toBeLessThanOrEqual(1e-6);
  });

  test('damaged, foreign and too-new archives are refused with an error naming the file', async () => {
    const src = fs.readFileSync(fx('cnn.pt'));
    const put = (name: string, data: Buffer) => {
      const f = path.join(tmp, name);
      fs.writeFileSync(f, data);
      return f;
    };
    const entries = readZip(src);
    const weight = entries.findIndex((e) => e.name.endsWith('/data/0'));
    const flipped = Buffer.from(src);
    // a flipped bit inside a weight: libtorch alone would load it as a silently different model
    flipped[entries[weight].data.byteOffset - src.byteOffset + 5] ^= 0x10;
    const cases: [string, RegExp][] = [
      [put('trunc.pt', src.subarray(0, 20000)), /trunc\.pt' is not a readable TorchScript archive: the zip file is damaged or truncated/],
      [put('flip.pt', flipped), /flip\.pt' is not a readable TorchScript archive: the zip file is damaged or truncated: zip entry 'cnn\/data\/0' fails its CRC-32 check/],
      [fx('state_dict.pt'), /state_dict\.pt' is a zip archive but not a TorchScript module.*torch\.save\(\)/],
      [fx('future.pt'), /future\.pt' was saved by a newer PyTorch than this libtorch .* can read.*version 99/],
    ];
    for (const [f, re] of cases) expect((await rejection(nt.jit.load(f))).message).toMatch(re);
  });

  test('~300 damaged copies of a traced module each load or reject with an Error, in a child process that survives', async () => {
    const src = fs.readFileSync(fx('cnn.pt'));
    const fuzzDir = path.join(tmp, 'fuzz');
    fs.mkdirSync(fuzzDir);
    const muts = mutations(src, 300, 1234);
    muts.forEach((m, i) => fs.writeFileSync(path.join(fuzzDir, `${i}.pt`), m.data));
    const script = path.join(tmp, 'fuzz-child.ts');
    fs.writeFileSync(script, `
      import * as fs from 'fs';
      import * as nt from ${JSON.stringify(path.join(root, 'lib'))};
      const dir = ${JSON.stringify(fuzzDir)};
      const out = fs.openSync(${JSON.stringify(path.join(tmp, 'fuzz.log'))}, 'w');
      (async () => {
        const x = nt.zeros([1, 1, 28, 28]);
        for (let i = 0; i < ${muts.length}; i++) {
          fs.writeSync(out, i + ' ');
          try {
            const m = await nt.jit.load(dir + '/' + i + '.pt');
            let fwd = 'forward ok';
            try { await m.forward(x); } catch (e) { fwd = 'forward ' + Object.prototype.toString.call(e); }
            fs.writeSync(out, 'loaded ' + fwd + '\\n');
          } catch (e) {
            fs.writeSync(out, Object.prototype.toString.call(e) + ' ' + String((e as Error).message).split('\\n')[0] + '\\n');
          }
        }
        fs.writeSync(out, 'done\\n');
      })();
    `);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr = (stderr + String(d)).slice(-4000); });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    const lines = fs.readFileSync(path.join(tmp, 'fuzz.log'), 'utf8').trim().split('\n');
    const last = lines[lines.length - 1];
    const crashedOn = last === 'done' ? null : muts[Number(last.split(' ')[0])]?.kind;
    expect({ code, signal, crashedOn, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, signal: null, crashedOn: null, stderr: '' });
    const results = lines.slice(0, -1);
    expect(results.length).toBe(muts.length);
    const bad = results.filter((l) => !/^\d+ (loaded forward (ok|\[object Error\])|\[object Error\] jit\.load: '.*')/.test(l));
    expect(bad).toEqual([]);
    // most damage is caught before libtorch sees the file (CRC-32, bounds: lib/io/zip.ts); swapped entries reach it
    expect(results.filter((l) => /CRC-32|damaged or truncated/.test(l)).length).toBeGreaterThan(150);
  }, 600_000);

  const cudaDevices = nt.availableDevices().filter((d) => d !== 'cpu');
  (cudaDevices.length ? describe : describe.skip)(`on CUDA${cudaDevices.length ? '' : ' (skipped: nt.cuda.isAvailable() is false)'}`, () => {
    for (const dev of cudaDevices.length ? cudaDevices : ['cuda:0']) {
      test(`${dev}: load({ device }) puts the weights there; inputs on another device are a clear error`, async () => {
        const m = await nt.jit.load(fx('cnn.pt'), { device: dev });
        expect(m.parameters().every((p) => p.device === dev)).toBe(true);
        const y = asTensor(await m.forward(T('cnn_x').to(dev)));
        expect(y.device).toBe(dev);
        expect(maxDiff(y.cpu(), T('cnn_y'))).toBeLessThanOrEqual(1e-4);
        expect((await rejection(m.forward(T('cnn_x')))).message).toMatch(/^jit forward: .*(device|cuda|CUDA)/);
        m.to('cpu');
        expect(maxDiff(asTensor(await m.forward(T('cnn_x'))), T('cnn_y'))).toBeLessThanOrEqual(1e-6);
        m.to(dev);
        expect(m.parameters()[0].device).toBe(dev);
      });
    }
  });
});
