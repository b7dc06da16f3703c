// TensorBoard event files: decoded here with protobufjs against the vendored TensorFlow protos
// (a separate Root from the writer's) and framed records checked with a bitwise CRC-32C written
// independently of the writer's table-driven one.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import * as nt from '../lib';
import { SummaryWriter, crc32c, histogram } from '../lib/utils/tensorboard';

const { Sequential, layers, callbacks } = nt;

/** Bitwise CRC-32C (no table), the reference the writer's table-driven one is checked against. */
function crcRef(data: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}
const mask = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

const protoDir = path.join(__dirname, '..', 'lib', 'utils', 'proto', 'tensorflow');
const root = new protobuf.Root();
root.resolvePath = (_o, target) => path.join(protoDir, path.basename(target));
root.loadSync([path.join(protoDir, 'event.proto'), path.join(protoDir, 'graph.proto')], { keepCase: true });
const Event = root.lookupType('tensorboard.Event');
const GraphDef = root.lookupType('tensorboard.GraphDef');

interface Ev {
  wall_time: number; step?: number; file_version?: string; graph_def?: Buffer;
  summary?: { value: { tag: string; simple_value?: number; histo?: Record<string, unknown>; tensor?: Record<string, unknown>;
    metadata?: { plugin_data?: { plugin_name: string } } }[] };
}

/** Every record of a TFRecord file, each CRC verified, decoded as an Event. */
function readEvents(file: string): Ev[] {
  const buf = fs.readFileSync(file);
  const out: Ev[] = [];
  let off = 0;
  while (off < buf.length) {
    expect(buf.length - off).toBeGreaterThanOrEqual(16);
    const len = Number(buf.readBigUInt64LE(off));
    expect(buf.readUInt32LE(off + 8)).toBe(mask(crcRef(buf.subarray(off, off + 8))));
    const data = buf.subarray(off + 12, off + 12 + len);
    expect(buf.readUInt32LE(off + 12 + len)).toBe(mask(crcRef(data)));
    out.push(Event.toObject(Event.decode(data), { longs: Number, defaults: false }) as Ev);
    off += 16 + len;
  }
  expect(off).toBe(buf.length);
  return out;
}

function eventFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.')).map((f) => path.join(dir, f));
}

function scalars(dir: string): Record<string, [number, number][]> {
  const r: Record<string, [number, number][]> = {};
  for (const f of eventFiles(dir)) {
    for (const e of readEvents(f)) {
      for (const v of e.summary?.value ?? []) if (v.simple_value !== undefined) (r[v.tag] ??= []).push([e.step ?? 0, v.simple_value]);
    }
  }
  return r;
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-tb-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('vendored schemas', () => {
  test('lib/utils/proto/schemas.ts (what ships) is generated from the .proto files beside it', () => {
    const { render } = require('../scripts/gen-protos.js') as { render(): string };
    expect(fs.readFileSync(path.join(__dirname, '..', 'lib', 'utils', 'proto', 'schemas.ts'), 'utf8')).toBe(render());
  });
});

describe('CRC-32C and records', () => {
  test('CRC-32C matches the standard check value and the bitwise reference', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
    expect(crc32c(bytes)).toBe(crcRef(bytes));
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });
});

describe('SummaryWriter', () => {
  test('the first record is the file version; scalars keep tag, step, value and wall time', () => {
    const w = new SummaryWriter(tmp);
    w.addScalar('loss', 0.5, 3, 1000.25);
    w.addScalar('loss', nt.tensor([0.25]), 4);
    w.close();
    const [file] = eventFiles(tmp);
    expect(path.basename(file)).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d+\\.${os.hostname()}\\.${process.pid}\\.\\d+$`));
    const ev = readEvents(file);
    expect(ev[0].file_version).toBe('brain.Event:2');
    expect(ev[1]).toMatchObject({ wall_time: 1000.25, step: 3, summary: { value: [{ tag: 'loss', simple_value: 0.5 }] } });
    expect(ev[2].step).toBe(4);
    expect(ev[2].summary!.value[0].simple_value).toBe(0.25);
    expect(ev.length).toBe(3);
    expect(() => w.addScalar('loss', 1)).toThrow(/closed/);
  });

  test('addScalars writes one run per key, tagged with the main tag', () => {
    const w = new SummaryWriter(tmp);
    w.addScalars('run/loss', { train: 1.5, val: 2.5 }, 7);
    w.close();
    expect(scalars(path.join(tmp, 'run_loss_train'))).toEqual({ 'run/loss': [[7, 1.5]] });
    expect(scalars(path.join(tmp, 'run_loss_val'))).toEqual({ 'run/loss': [[7, 2.5]] });
  });

  test('addHistogram with equal-width bins: exact counts, limits, min/max/sum', () => {
    const w = new SummaryWriter(tmp);
    w.addHistogram('w', [0, 1, 1, 2, 3, 3, 3, NaN], 2, 3);
    w.close();
    const h = readEvents(eventFiles(tmp)[0])[1].summary!.value[0].histo!;
    // buckets [0, 1), [1, 2), [2, 3] as TensorFlow 2's tf.summary.histogram; min 0 is proto3's default (not on the wire)
    expect(h).toEqual({ max: 3, num: 7, sum: 13, sum_squares: 33, bucket_limit: [1, 2, 3], bucket: [1, 2, 4] });
  });

  test("TensorFlow's exponential buckets hold every value in (previous limit, limit]", () => {
    const vals = Float64Array.from([-2, -0.5, 0, 1e-6, 0.3, 0.31, 7, 1e5]);
    const h = histogram(vals) as { bucket_limit: number[]; bucket: number[]; num: number };
    expect(h.num).toBe(8);
    expect(h.bucket.reduce((a, b) => a + b, 0)).toBe(8);
    for (let i = 1; i < h.bucket_limit.length; i++) expect(h.bucket_limit[i]).toBeGreaterThan(h.bucket_limit[i - 1]);
    for (const v of vals) {
      const i = h.bucket_limit.findIndex((l) => v <= l);
      expect(h.bucket[i]).toBeGreaterThan(0);
      if (i > 0) expect(v).toBeGreaterThan(h.bucket_limit[i - 1]);
    }
    // a tensor works too and gives the same histogram
    const w = new SummaryWriter(tmp);
    w.addHistogram('t', nt.tensor(Array.from(vals), { dtype: 'float64' }), 0);
    w.close();
    expect(readEvents(eventFiles(tmp)[0])[1].summary!.value[0].histo).toEqual(h);
  });

  test('addText is a DT_STRING tensor summary for the text plugin', () => {
    const w = new SummaryWriter(tmp);
    w.addText('notes', '**bold** é', 1);
    w.close();
    const v = readEvents(eventFiles(tmp)[0])[1].summary!.value[0];
    expect(v.tag).toBe('notes/text_summary');
    expect(v.metadata!.plugin_data!.plugin_name).toBe('text');
    const t = v.tensor as { dtype: number; string_val: Buffer[]; tensor_shape: { dim: { size: number }[] } };
    expect(t.dtype).toBe(root.lookupEnum('tensorboard.DataType').values.DT_STRING);
    expect(Buffer.from(t.string_val[0]).toString('utf8')).toBe('**bold** é');
    expect(t.tensor_shape.dim[0].size).toBe(1);
  });

  test("addGraph of an nn.Sequential with an example input (PyTorch's add_graph): one node per module, shapes from a forward", () => {
    const net = new nt.nn.Sequential(new nt.nn.Linear(3, 4), new nt.nn.ReLU(), new nt.nn.Sequential(new nt.nn.Linear(4, 2)));
    net.train();
    const w = new SummaryWriter(tmp);
    w.addGraph(net, nt.randn([5, 3]));
    w.close();
    expect(net.training).toBe(true);
    const g = readEvents(eventFiles(tmp)[0]).find((e) => e.graph_def)!;
    const gd = GraphDef.toObject(GraphDef.decode(g.graph_def!), { longs: Number }) as {
      node: { name: string; op: string; input?: string[]; attr: { _output_shapes: { list: { shape: { dim: { size: number }[] }[] } } } }[] };
    expect(gd.node.map((n) => [n.name, n.op, n.input ?? [], n.attr._output_shapes.list.shape[0].dim.map((d) => d.size)])).toEqual([
      ['input', 'Input', [], [-1, 3]], ['0', 'Linear', ['input'], [-1, 4]], ['1', 'ReLU', ['0'], [-1, 4]], ['2.0', 'Linear', ['1'], [-1, 2]]]);
    expect(() => new SummaryWriter(path.join(tmp, 'x')).addGraph(net)).toThrow(/addGraph: expected an example input/);
  });

  test('bad arguments name what was expected', () => {
    expect(() => new SummaryWriter('')).toThrow(/expected logDir/);
    const w = new SummaryWriter(tmp);
    expect(() => w.addScalar('', 1)).toThrow(/addScalar: expected tag/);
    expect(() => w.addScalar('a', 'x' as never)).toThrow(/addScalar: expected scalarValue/);
    expect(() => w.addScalar('a', 1, -1)).toThrow(/globalStep to be a non-negative integer/);
    expect(() => w.addScalar('a', nt.tensor([1, 2]))).toThrow(/one-element tensor/);
    expect(() => w.addHistogram('h', {} as never)).toThrow(/addHistogram: expected values/);
    expect(() => w.addHistogram('h', [1], 0, 0)).toThrow(/bins/);
    expect(() => w.addText('t', 3 as never)).toThrow(/addText: expected textString/);
    w.close();
  });
});

describe('callbacks.TensorBoard', () => {
  function data(): [nt.Tensor, nt.Tensor] {
    nt.manualSeed(1);
    const x = nt.randn([40, 3]);
    const y = x.sum(1).gt(0).to('int64');
    return [x, y];
  }

  test('train and validation scalars as Keras writes them, the learning rate, histograms and the graph', async () => {
    const [x, y] = data();
    const m = new Sequential([new layers.Dense(4, { inputShape: [3], activation: 'relu', name: 'hidden' }), new layers.Dense(2, { activation: 'softmax', name: 'out' })]);
    m.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.01 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const tb = new callbacks.TensorBoard({ logDir: tmp, histogramFreq: 1 });
    const h = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, validationSplit: 0.25, callbacks: [tb] });

    const train = scalars(path.join(tmp, 'train'));
    const f32 = (a: number[]) => a.map((v, i) => [i, Math.fround(v)]);
    expect(train.epoch_loss).toEqual(f32(h.history.loss));
    expect(train.epoch_accuracy).toEqual(f32(h.history.accuracy));
    expect(train.epoch_learning_rate).toEqual(f32([0.01, 0.01, 0.01]));
    const val = scalars(path.join(tmp, 'validation'));
    expect(Object.keys(val).sort()).toEqual(['epoch_accuracy', 'epoch_loss', 'evaluation_accuracy_vs_iterations', 'evaluation_loss_vs_iterations']);
    expect(val.epoch_loss).toEqual(f32(h.history.val_loss));
    // 30 training samples in batches of 8: 4 batches an epoch
    expect(val.evaluation_loss_vs_iterations).toEqual(h.history.val_loss.map((v, i) => [4 * (i + 1), Math.fround(v)]));
    // epoch-level logging adds no batch hook (fit need not wait for JavaScript after every batch)
    expect(tb.onBatchEnd).toBeUndefined();
    expect(typeof new callbacks.TensorBoard({ updateFreq: 2 }).onBatchEnd).toBe('function');

    const events = eventFiles(path.join(tmp, 'train')).flatMap(readEvents);
    const histos = events.flatMap((e) => (e.summary?.value ?? []).filter((v) => v.histo).map((v) => [e.step ?? 0, v.tag, v.histo!.num]));
    expect(histos.filter(([s]) => s === 2)).toEqual([[2, 'hidden/kernel/histogram', 12], [2, 'hidden/bias/histogram', 4],
      [2, 'out/kernel/histogram', 8], [2, 'out/bias/histogram', 2]]);
    const hk = events.filter((e) => e.step === 2).flatMap((e) => e.summary?.value ?? []).find((v) => v.tag === 'hidden/kernel/histogram')!;
    const kernel = m.layers[0].getWeights()[0].dataSync() as Float32Array;
    expect(hk.histo!.max).toBeCloseTo(Math.max(...kernel), 6);
    expect(hk.histo!.sum).toBeCloseTo(kernel.reduce((a, b) => a + b, 0), 5);

    const g = events.find((e) => e.graph_def)!;
    const gd = GraphDef.toObject(GraphDef.decode(g.graph_def!), { longs: Number }) as { node: { name: string; op: string; input?: string[] }[] };
    expect(gd.node.map((n) => [n.name, n.op, n.input ?? []])).toEqual([
      ['sequential_input', 'InputLayer', []], ['hidden', 'Dense', ['sequential_input']], ['out', 'Dense', ['hidden']]]);
  });

  test("updateFreq 'batch' and N write batch_ scalars at the global batch step", async () => {
    const [x, y] = data();
    const m = new Sequential([new layers.Dense(2, { inputShape: [3], activation: 'softmax' })]);
    m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' });
    await m.fit(x, y, { epochs: 2, batchSize: 10, verbose: 0, callbacks: [new callbacks.TensorBoard({ logDir: path.join(tmp, 'a'), updateFreq: 'batch', writeGraph: false })] });
    const a = scalars(path.join(tmp, 'a', 'train'));
    expect(a.batch_loss.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(a.epoch_loss.length).toBe(2);
    expect(fs.existsSync(path.join(tmp, 'a', 'validation'))).toBe(false);
    await m.fit(x, y, { epochs: 1, batchSize: 10, verbose: 0, callbacks: [new callbacks.TensorBoard({ logDir: path.join(tmp, 'b'), updateFreq: 3 })] });
    expect(scalars(path.join(tmp, 'b', 'train')).batch_loss.map(([s]) => s)).toEqual([3]);
  });

  test('bad options name the option and what was expected', () => {
    expect(() => new callbacks.TensorBoard({ logDir: tmp, updateFreq: 'step' as never })).toThrow(/updateFreq 'epoch', 'batch' or a positive integer/);
    expect(() => new callbacks.TensorBoard({ histogramFreq: -1 })).toThrow(/histogramFreq/);
    expect(() => new callbacks.TensorBoard({ logdir: 'x' } as never)).toThrow(/unknown option 'logdir'/);
  });
});
