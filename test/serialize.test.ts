// nt.save / nt.load: safetensors and PyTorch's torch.save zip format, round trips within nodetorch
// and with PyTorch in Python (Debian's python3-torch; safetensors read and written there with numpy,
// as the safetensors package is absent), refusals of files that need arbitrary unpickling, and a
// process killed mid-save.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import * as nt from '../lib';
import { torchPython } from './helpers';

const { nn } = nt;
const root = path.resolve(__dirname, '..');
const PY = torchPython() ?? 'python3';
const hasTorch = torchPython() !== null;
const describePy = hasTorch ? describe : describe.skip;
if (!hasTorch) console.warn('serialize.test.ts: no python3 with torch and numpy ($NODETORCH_PYTHON, PATH, /usr/bin): the PyTorch interop tests are skipped');

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-serialize-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const p = (...s: string[]) => path.join(tmp, ...s);

/** The same CNN in nodetorch and (below, in Python) torch.nn: same keys, same layouts. */
function cnn(): nt.nn.Sequential {
  return new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(36, 5));
}

const PY_LIB = `
import json, struct, sys, numpy as np, torch
torch.set_grad_enabled(False)
DT = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8, 'BOOL': np.bool_}
def read_st(f):
    b = open(f, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        s, e = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], dtype=DT[v['dtype']]).reshape(v['shape']).copy())
    return out
def write_st(f, tensors):
    code = {np.dtype(v): k for k, v in DT.items()}; h = {}; off = 0; blobs = []
    for k, t in tensors.items():
        a = t.detach().contiguous().numpy(); h[k] = {'dtype': code[a.dtype], 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        off += a.nbytes; blobs.append(a.tobytes())
    j = json.dumps(h).encode(); j += b' ' * ((8 - len(j) % 8) % 8)
    open(f, 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(blobs))
def cnn():
    n = torch.nn
    return n.Sequential(n.Conv2d(1, 4, 3), n.BatchNorm2d(4), n.ReLU(), n.MaxPool2d(2), n.Flatten(), n.Linear(36, 5))
`;

function py(name: string, body: string): string {
  const file = p(`${name}.py`);
  fs.writeFileSync(file, `${PY_LIB}\n${body}\n`);
  const r = spawnSync(PY, [file], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`python ${name} failed: ${r.stderr}`);
  return r.stdout;
}

function maxDiff(a: nt.Tensor, b: nt.Tensor): number {
  expect([...a.shape]).toEqual([...b.shape]);
  return Number(a.to('float64').sub(b.to('float64')).abs().max().item());
}

/** A trained-looking state: BatchNorm's running statistics moved off their defaults. */
function prepared(): nt.nn.Sequential {
  nt.manualSeed(11);
  const net = cnn();
  net.train();
  net.forward(nt.randn([8, 1, 8, 8]).mul(2).add(1));
  net.eval();
  return net;
}

describe('nt.save / nt.load in nodetorch', () => {
  test.each(['w.safetensors', 'w.pt'])('%s: a state dict round-trips exactly and loads into a fresh module', async (name) => {
    const net = prepared();
    const file = p(name);
    await nt.save(net.stateDict(), file);
    const sd = await nt.load(file);
    expect(Object.keys(sd)).toEqual(Object.keys(net.stateDict()));
    expect(sd['1.num_batches_tracked'].dtype).toBe('int64');
    expect(Number(sd['1.num_batches_tracked'].item())).toBe(1);
    const fresh = cnn();
    fresh.loadStateDict(sd);
    fresh.eval();
    const x = nt.randn([3, 1, 8, 8]);
    expect(maxDiff(fresh.forward(x), net.forward(x))).toBe(0);
  });

  test('a .pt file holds nested values, every dtype, 0-d tensors and bigints', async () => {
    const value = {
      f16: nt.tensor([1.5, -2], { dtype: 'float16' }), bf16: nt.tensor([0.5], { dtype: 'bfloat16' }), f64: nt.tensor([1e-300], { dtype: 'float64' }),
      i8: nt.tensor([-3], { dtype: 'int8' }), u8: nt.tensor([250], { dtype: 'uint8' }), i16: nt.tensor([-300], { dtype: 'int16' }),
      i32: nt.tensor([70000], { dtype: 'int32' }), i64: nt.tensor([2n ** 62n]), b: nt.tensor([true, false]), s: nt.tensor(4),
      meta: { epoch: 3, lr: 0.001, name: 'run', flags: [true, null], big: 2n ** 60n },
    };
    await nt.save(value, p('nested.pt'));
    const back = await nt.load(p('nested.pt'));
    for (const k of ['f16', 'bf16', 'f64', 'i8', 'u8', 'i16', 'i32', 'i64', 'b', 's'] as const) {
      const t = back[k] as nt.Tensor;
      expect(t.dtype).toBe(value[k].dtype);
      expect(t.shape).toEqual(value[k].shape);
      expect(t.toArray()).toEqual(value[k].toArray());
    }
    expect(back.meta).toEqual({ epoch: 3, lr: 0.001, name: 'run', flags: [true, null], big: 2n ** 60n });
  });

  test('saving moves nothing: the file is written atomically, and the format follows the name or the option', async () => {
    await nt.save({ a: nt.ones([2]) }, p('fmt.bin'));
    expect(fs.readFileSync(p('fmt.bin')).subarray(0, 2).toString('latin1')).toBe('PK');
    await nt.save({ a: nt.ones([2]) }, p('fmt.weights'));
    expect(fs.readFileSync(p('fmt.weights')).readBigUInt64LE(0)).toBeGreaterThan(0n);
    await nt.save({ a: nt.ones([2]) }, p('fmt2.weights'), { format: 'pt' });
    expect(fs.readFileSync(p('fmt2.weights')).subarray(0, 2).toString('latin1')).toBe('PK');
    expect(fs.readdirSync(tmp).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('bad arguments and bad files are clear errors', async () => {
    await expect(nt.save(nt.ones([2]) as never, p('x.pt'))).rejects.toThrow(/expected a state dict .* but received a Tensor/);
    await expect(nt.save({ a: 1 }, p('x.safetensors'))).rejects.toThrow(/safetensors holds only tensors, but 'a' is number/);
    await expect(nt.save({ a: nt.ones([1]) }, p('x.pt'), { format: 'zip' as never })).rejects.toThrow(/expected format 'safetensors' or 'pt'/);
    await expect(nt.save({ a: () => 1 }, p('x.pt'))).rejects.toThrow(/the value.a is function/);
    const disposed = nt.ones([1]);
    disposed.dispose();
    await expect(nt.save({ a: disposed }, p('x.pt'))).rejects.toThrow(/disposed/);
    await expect(nt.load(p('missing.pt'))).rejects.toThrow(/missing.pt: no such file/);
    await expect(nt.load(tmp)).rejects.toThrow(/is a directory; for a saved Keras model use nt.loadModel/);
    await nt.save({ a: nt.arange(0, 1000) }, p('t.pt'));
    const whole = fs.readFileSync(p('t.pt'));
    fs.writeFileSync(p('trunc.pt'), whole.subarray(0, whole.byteLength - 100));
    await expect(nt.load(p('trunc.pt'))).rejects.toThrow(/trunc.pt/);
    const flipped = Buffer.from(whole);
    flipped[whole.indexOf(Buffer.from('data/0')) + 200] ^= 0xff; // inside the storage's bytes
    fs.writeFileSync(p('flip.pt'), flipped);
    await expect(nt.load(p('flip.pt'))).rejects.toThrow(/CRC-32/);
    fs.writeFileSync(p('garbage.pt'), Buffer.from('PK\x03\x04 not really a zip'));
    await expect(nt.load(p('garbage.pt'))).rejects.toThrow(/garbage.pt: .*zip/);
  });

  test('a process killed mid-save leaves the previous file loadable', async () => {
    const file = p('big.pt');
    const script = p('killsave.ts');
    fs.writeFileSync(script, `
      import * as nt from ${JSON.stringify(path.join(root, 'lib'))};
      const sd = { w: nt.randn([2048, 2048]), b: nt.zeros([2048]) };
      (async () => {
        await nt.save(sd, ${JSON.stringify(file)});
        console.log('saved');
        for (;;) await nt.save(sd, ${JSON.stringify(file)});
      })();
    `);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += String(d); });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => { if (String(d).includes('saved')) resolve(); });
        child.on('exit', (code) => reject(new Error(`child exited with ${code} before saving: ${err}`)));
      });
      const temps = () => fs.readdirSync(tmp).filter((n) => n.startsWith('.big.pt.') && n.endsWith('.tmp'));
      const deadline = Date.now() + 30_000;
      while (temps().length === 0 && Date.now() < deadline) { /* poll until a write is in flight */ }
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      expect(temps().length).toBeGreaterThan(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const sd = await nt.load(file);
    expect(sd.w.shape).toEqual([2048, 2048]);
    expect(Number(sd.b.abs().sum().item())).toBe(0);
  }, 60_000);
});

describePy('interop with PyTorch in Python', () => {
  test('safetensors from nodetorch load into the equivalent torch.nn model (strict keys) and give the same outputs', async () => {
    const net = prepared();
    await nt.save(net.stateDict(), p('nt_cnn.safetensors'));
    nt.manualSeed(5);
    const x = nt.randn([4, 1, 8, 8]);
    await nt.save({ x }, p('nt_x.safetensors'));
    py('nt_to_py', `
m = cnn(); m.load_state_dict(read_st('${p('nt_cnn.safetensors')}'), strict=True); m.eval()
write_st('${p('py_out.safetensors')}', {'y': m(read_st('${p('nt_x.safetensors')}')['x'])})`);
    const { y } = await nt.load(p('py_out.safetensors'));
    expect(maxDiff(net.forward(x), y)).toBeLessThan(1e-6);
  });

  test('safetensors and torch.save files from Python load into nodetorch and give the same outputs', async () => {
    py('py_to_nt', `
torch.manual_seed(0); m = cnn(); m.train(); m(torch.randn(8, 1, 8, 8) * 2 + 1); m.eval()
x = torch.randn(4, 1, 8, 8)
write_st('${p('py_cnn.safetensors')}', m.state_dict())
torch.save(m.state_dict(), '${p('py_cnn.pt')}')
write_st('${p('py_xy.safetensors')}', {'x': x, 'y': m(x)})`);
    const { x, y } = await nt.load(p('py_xy.safetensors'));
    for (const f of ['py_cnn.safetensors', 'py_cnn.pt']) {
      const net = cnn();
      net.loadStateDict(await nt.load(p(f)));
      net.eval();
      expect(maxDiff(net.forward(x), y)).toBeLessThan(1e-6);
    }
  });

  test('torch.save views, shared storages and every dtype read as Python sees them', async () => {
    py('views', `
import collections
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
sd = collections.OrderedDict(t=base.t(), row=base[2], strided=base[:, ::2], shared=base, scalar=torch.tensor(7.5),
  half=torch.tensor([1.5, -0.25], dtype=torch.half), bf=torch.tensor([3.0], dtype=torch.bfloat16), i64=torch.tensor([-(2**40)]),
  i32=torch.tensor([-5], dtype=torch.int32), u8=torch.tensor([255], dtype=torch.uint8), b=torch.tensor([True, False]), f64=torch.tensor([0.1], dtype=torch.float64),
  empty=torch.zeros(0, 3), nested={'lst': [torch.ones(2), 3, 'x', 2.5, None, True]})
torch.save(sd, '${p('views.pt')}')
json.dump({k: v.tolist() for k, v in sd.items() if isinstance(v, torch.Tensor)}, open('${p('views.json')}', 'w'))`);
    const sd = await nt.load(p('views.pt'));
    const want = JSON.parse(fs.readFileSync(p('views.json'), 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) {
      const got = (sd[k] as nt.Tensor).toArray();
      expect([k, typeof got === 'bigint' || Array.isArray(got) ? JSON.parse(JSON.stringify(got, (_, x) => (typeof x === 'bigint' ? Number(x) : x))) : got]).toEqual([k, v]);
    }
    expect(sd.b.dtype).toBe('bool');
    expect(sd.half.dtype).toBe('float16');
    expect(sd.i64.dtype).toBe('int64');
    expect((sd.nested as unknown as { lst: unknown[] }).lst.slice(1)).toEqual([3, 'x', 2.5, null, true]);
  });

  test('.pt files written by nodetorch load with torch.load, including weights_only where Python has it', async () => {
    const net = prepared();
    await nt.save(net.stateDict(), p('nt_cnn.pt'));
    nt.manualSeed(6);
    const x = nt.randn([2, 1, 8, 8]);
    await nt.save({ x }, p('nt_x2.safetensors'));
    py('pt_to_py', `
import inspect
kw = {'weights_only': True} if 'weights_only' in inspect.signature(torch.load).parameters else {}
m = cnn(); m.load_state_dict(torch.load('${p('nt_cnn.pt')}', **kw), strict=True); m.eval()
write_st('${p('py_out2.safetensors')}', {'y': m(read_st('${p('nt_x2.safetensors')}')['x'])})`);
    const { y } = await nt.load(p('py_out2.safetensors'));
    expect(maxDiff(net.forward(x), y)).toBeLessThan(1e-6);
  });

  test('files that need arbitrary unpickling, the legacy format and TorchScript archives are refused with the reason', async () => {
    py('refused', `
m = cnn()
torch.save(m, '${p('module.pt')}')
torch.save(m.state_dict(), '${p('legacy.pt')}', _use_new_zipfile_serialization=False)
torch.jit.save(torch.jit.trace(m.eval(), torch.randn(1, 1, 8, 8)), '${p('scripted.pt')}')
torch.save({'w': torch.ones(2), 'opt': torch.optim.SGD(m.parameters(), lr=0.1)}, '${p('object.pt')}')`);
    await expect(nt.load(p('module.pt'))).rejects.toThrow(/needs the Python global 'torch\.nn\.modules\.container\.Sequential'.*could run code/);
    await expect(nt.load(p('object.pt'))).rejects.toThrow(/needs the Python global 'torch\.optim\.sgd\.SGD'/);
    await expect(nt.load(p('legacy.pt'))).rejects.toThrow(/legacy \(pre-1\.6\) pickle format/);
    await expect(nt.load(p('scripted.pt'))).rejects.toThrow(/TorchScript archive .* nt\.jit\.load/);
  });
});
