// nt.jit.trace and model.export(path, { format: 'torchscript' }): the trace libtorch's tracer
// records while a nodetorch forward runs, saved as torch.jit.save does, loaded back by nt.jit.load
// and by PyTorch's torch.jit.load (/usr/bin/python3 or another python3 with torch), outputs
// compared within 1e-5. Also the one zip reader's on-disk check that jit.load runs first.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { torchPython } from './helpers';
import { checkZipFile, readZipDirectory, readZipEntry, writeZip } from '../lib/io/zip';
import { jpegDecoder } from '../lib/cli';
import { native } from '../lib/native';

jest.setTimeout(120_000);

const { nn, F } = nt;
const PYTHON = torchPython();
const withTorch = PYTHON ? test : test.skip;

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-trace-')); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A deterministic input, the same in JS and in Python: sin(0.37 * i + 0.1) over the shape. */
function input(shape: number[]): nt.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return nt.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + 0.1)), { shape });
}

/** Runs the saved file in PyTorch on input(shape) (and optionally the named parameter keys); returns its output and keys. */
function torchRun(file: string, shape: number[]): { out: number[]; keys: string[]; code: string } {
  const script = `
import json, math, sys, torch
m = torch.jit.load(sys.argv[1])
m.eval()
shape = json.loads(sys.argv[2])
n = 1
for d in shape: n *= d
x = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(n)], dtype=torch.float32).reshape(shape)
with torch.no_grad():
    y = m(x)
print(json.dumps({"out": y.reshape(-1).tolist(), "keys": sorted(m.state_dict().keys()), "code": m.code}))
`;
  const r = spawnSync(PYTHON as string, ['-c', script, file, JSON.stringify(shape)], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const flat = (t: unknown): number[] => Array.from((t as nt.Tensor).to('float64').dataSync() as Float64Array);

class Net extends nn.Module {
  fc1 = new nn.Linear(3, 5);
  fc2 = new nn.Linear(5, 2);
  forward(x: nt.Tensor): nt.Tensor {
    return this.fc2.forward(F.relu(this.fc1.forward(x))).tanh();
  }
}

describe('nt.jit.trace of an nn.Module', () => {
  test('the traced module runs in nt.jit with the module\'s outputs, holds its parameters, and saves atomically', async () => {
    nt.manualSeed(1);
    const net = new Net();
    net.eval();
    const x = input([4, 3]);
    const traced = nt.jit.trace(net, [x]);
    expect(traced.methods().map((m) => m.name)).toEqual(['forward']);
    expect(traced.namedParameters().map(([k]) => k).sort()).toEqual(['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']);
    // another batch size than the example: the trace holds no batch constant
    const x2 = input([7, 3]);
    const want = flat(nt.noGrad(() => net.forward(x2)));
    expect(maxDiff(flat(await traced.forward(x2)), want)).toBeLessThan(1e-6);
    const file = path.join(tmp, 'net.pt');
    await traced.save(file);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('net.pt') && f !== 'net.pt')).toEqual([]); // no temp file left
    const back = await nt.jit.load(file);
    expect(maxDiff(flat(await back.forward(x2)), want)).toBeLessThan(1e-6);
    expect(back.stateDict()['fc2.bias'].toArray()).toEqual(net.fc2.bias!.toArray());
  });

  test('an archive whose data entries were swapped (CRCs intact) is refused before libtorch reads it', async () => {
    nt.manualSeed(3);
    const file = path.join(tmp, 'swap-src.pt');
    await nt.jit.trace(new nn.Linear(6, 4), [input([2, 6])]).save(file);
    const src = fs.readFileSync(file);
    const bad = (m: string) => new Error(m);
    const entries = [...readZipDirectory(src, bad).values()].map((e) => ({ name: e.name, data: readZipEntry(src, e, bad) }));
    const data = entries.filter((e) => /\/data\/\d+$/.test(e.name)).sort((a, b) => b.data.byteLength - a.data.byteLength);
    expect(data.map((e) => e.data.byteLength)).toEqual([96, 16]); // weight 4x6, bias 4 (float32)
    // the weight's entry gets the bias' 16 bytes and the other way round: libtorch 2.6 loaded this
    // and read 80 bytes past the weight's data in a forward (a crash where the pages ended)
    [data[0].data, data[1].data] = [data[1].data, data[0].data];
    const swapped = path.join(tmp, 'swapped.pt');
    fs.writeFileSync(swapped, Buffer.concat(writeZip(entries)));
    await expect(nt.jit.load(swapped)).rejects.toThrow(
      /swapped\.pt' is not a readable TorchScript archive: .*storage '[^']*data\/\d+' holds 16 bytes where [^ ]*data\.pkl declares 96/);
    expect((await nt.jit.load(file)).methods().map((m) => m.name)).toEqual(['forward']);
  });

  withTorch('the saved file loads in PyTorch\'s torch.jit.load with the same outputs (1e-5)', async () => {
    nt.manualSeed(2);
    const net = new nn.Sequential(new nn.Conv2d(2, 3, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(3 * 4 * 4, 5));
    net.eval();
    const file = path.join(tmp, 'cnn.pt');
    await nt.jit.trace(net, input([2, 2, 4, 4])).save(file);
    const shape = [3, 2, 4, 4];
    const py = torchRun(file, shape);
    expect(py.keys).toEqual(['0.bias', '0.weight', '3.bias', '3.weight']);
    const want = flat(nt.noGrad(() => net.forward(input(shape))));
    expect(maxDiff(py.out, want)).toBeLessThan(1e-5);
  });

  test('several inputs and several outputs (a tuple, as torch.jit.trace makes)', async () => {
    class Two extends nn.Module {
      lin = new nn.Linear(2, 2);
      forward(a: nt.Tensor, b: nt.Tensor): nt.Tensor[] {
        const s = this.lin.forward(a).add(b);
        return [s, s.mul(2)];
      }
    }
    const m = new Two();
    const a = input([3, 2]);
    const b = input([3, 2]).mul(-1);
    const traced = nt.jit.trace(m, [a, b]);
    const out = await traced.forward(a, b) as nt.Tensor[];
    const [s, d] = nt.noGrad(() => m.forward(a, b));
    expect(out).toHaveLength(2);
    expect(maxDiff(flat(out[0]), flat(s))).toBeLessThan(1e-6);
    expect(maxDiff(flat(out[1]), flat(d))).toBeLessThan(1e-6);
  });

  test('a forward that cannot be traced is a clear error, and the tracer is left off', async () => {
    class ReadsValues extends nn.Module {
      lin = new nn.Linear(2, 2);
      forward(x: nt.Tensor): nt.Tensor {
        const y = this.lin.forward(x);
        return Number(y.sum().item()) > 0 ? y : y.neg(); // control flow on a tensor's value
      }
    }
    expect(() => nt.jit.trace(new ReadsValues(), input([2, 2]))).toThrow(/jit\.trace: the forward cannot be traced faithfully: .*(Python|number|scalar|constant)/i);
    class Async extends nn.Module {
      forward(x: nt.Tensor): Promise<nt.Tensor> { return Promise.resolve(x); }
    }
    expect(() => nt.jit.trace(new Async(), input([2]))).toThrow(/jit\.trace: the forward returned a Promise/);
    class NotTensor extends nn.Module {
      forward(): number { return 3; }
    }
    expect(() => nt.jit.trace(new NotTensor(), input([2]))).toThrow(/jit\.trace: the forward returned (a )?number; expected a Tensor or an array of Tensors/);
    class FromJs extends nn.Module {
      forward(): nt.Tensor { return nt.tensor([1, 2]); } // not computed from the inputs
    }
    expect(() => nt.jit.trace(new FromJs(), input([2]))).toThrow(/jit\.trace: output 1 of the forward is not computed from its inputs .* constant/);
    class Throws extends nn.Module {
      forward(): nt.Tensor { throw new RangeError('my layer failed'); }
    }
    expect(() => nt.jit.trace(new Throws(), input([2]))).toThrow(/my layer failed/);
    class Nested extends nn.Module {
      forward(x: nt.Tensor): nt.Tensor { nt.jit.trace(new Net(), input([1, 3])); return x; }
    }
    expect(() => nt.jit.trace(new Nested(), input([2]))).toThrow(/traces cannot be nested/);
    // arguments
    expect(() => nt.jit.trace({} as nt.nn.Module, input([2]))).toThrow(/jit\.trace: expected an nn\.Module or a Keras model \(argument 1\)/);
    expect(() => nt.jit.trace(new Net(), [] as nt.Tensor[])).toThrow(/exampleInputs \(argument 2\) to be a Tensor or a non-empty array/);
    expect(() => nt.jit.trace(new Net(), [3 as unknown as nt.Tensor])).toThrow(/exampleInputs\[0\] is (a )?number; expected a Tensor/);
    const gone = input([1, 3]);
    gone.dispose();
    expect(() => nt.jit.trace(new Net(), gone)).toThrow(/exampleInputs\[0\] is a disposed Tensor/);
    // after all of these, ops run untraced again and a trace still works
    const net = new Net();
    const t = nt.jit.trace(net, input([1, 3]));
    expect(maxDiff(flat(await t.forward(input([1, 3]))), flat(nt.noGrad(() => net.forward(input([1, 3])))))).toBeLessThan(1e-6);
    await expect(t.save('')).rejects.toThrow(/ScriptModule\.save: expected a file path/);
    const blocker = path.join(tmp, 'a-file');
    fs.writeFileSync(blocker, 'x');
    await expect(t.save(path.join(blocker, 'x.pt'))).rejects.toThrow(/a-file/); // its "directory" is a file
  });
});

describe("Keras model.export(path, { format: 'torchscript' })", () => {
  withTorch('a Sequential model exports and gives predict()\'s outputs in PyTorch and in nt.jit.load', async () => {
    nt.manualSeed(3);
    const { Sequential, layers } = nt;
    const model = new Sequential([
      new layers.Dense(6, { activation: 'relu', inputShape: [4] }),
      new layers.Dense(3, { activation: 'softmax' }),
    ]);
    const file = path.join(tmp, 'keras.pt');
    await model.export(file, { format: 'torchscript' });
    const x = input([5, 4]);
    const want = flat(await model.predict(x));
    const py = torchRun(file, [5, 4]);
    expect(maxDiff(py.out, want)).toBeLessThan(1e-5);
    expect(py.keys.length).toBe(4);
    const back = await nt.jit.load(file);
    expect(maxDiff(flat(await back.forward(x)), want)).toBeLessThan(1e-5);
  });

  test('an unbuilt model and unknown options are refused', async () => {
    const { Sequential, layers } = nt;
    const model = new Sequential([new layers.Dense(2)]);
    await expect(model.export(path.join(tmp, 'u.pt'), { format: 'torchscript' })).rejects.toThrow(/export: the model is not built/);
    const built = new Sequential([new layers.Dense(2, { inputShape: [3] })]);
    await expect(built.export(path.join(tmp, 'u.pt'), { format: 'torchscript', opset: 13 })).rejects.toThrow(/unknown option 'opset' for format 'torchscript'/);
  });
});

describe('the one zip reader checks archives on disk (checkZipFile)', () => {
  const bad = (m: string): Error => new Error(`BAD: ${m}`);
  async function check(bytes: Buffer): Promise<string> {
    const f = path.join(tmp, 'z.zip');
    fs.writeFileSync(f, bytes);
    const fh = await fs.promises.open(f, 'r');
    try {
      const entries = await checkZipFile(fh, bytes.byteLength, bad);
      return [...entries.keys()].join(',');
    } catch (e) {
      return (e as Error).message;
    } finally {
      await fh.close();
    }
  }
  test('a multi-chunk stored entry is CRC-checked to its last byte; bounds and truncation are reported', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const zip = Buffer.concat(writeZip([{ name: 'a/data.pkl', data: Buffer.from('hello') }, { name: 'a/data/0', data: big }]));
    expect(await check(zip)).toBe('a/data.pkl,a/data/0');
    const flipped = Buffer.from(zip);
    const at = zip.indexOf(big.subarray(0, 64)) + big.byteLength - 1; // the entry's last byte
    flipped[at] ^= 1;
    expect(await check(flipped)).toBe("BAD: zip entry 'a/data/0' fails its CRC-32 check (corrupt file)");
    expect(await check(zip.subarray(0, 1000))).toMatch(/^BAD: no zip end-of-central-directory record/);
    const shifted = Buffer.from(zip);
    const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    shifted.writeUInt32LE(zip.byteLength, eocd + 16); // the directory said to start at the end of the file
    expect(await check(shifted)).toMatch(/^BAD: the zip central directory .* runs past the end of the file/);
  });
});

describe('nodetorch info: the JPEG decoder', () => {
  test('names the libjpeg the native decoder loaded for every JPEG, or says JPEGs cannot be read and what to install', () => {
    const found = native.data_jpeg_info();
    expect(typeof found).toBe('string');
    if (fs.existsSync('/usr/lib/x86_64-linux-gnu/libjpeg.so.62')) expect(found).toMatch(/^libjpeg\.so\.62 \(libjpeg API 62\)$/);
    expect(jpegDecoder('libjpeg.so.62 (libjpeg API 62)')).toMatch(
      /^native libjpeg\.so\.62 \(libjpeg API 62\) for every JPEG \(ICC profiles ignored\); sharp \d+\.\d+\.\d+ \(libvips \d.*\) for PNG and GIF$/);
    expect(jpegDecoder('')).toMatch(/^none: the native decoder found no libjpeg at run time, so JPEGs cannot be read \(Debian\/Ubuntu: apt install libjpeg62-turbo/);
  });
});
