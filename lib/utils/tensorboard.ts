// TensorBoard event files: TFRecord framing (length, masked CRC-32C of the length, Event bytes,
// masked CRC-32C of the bytes) around Events encoded with TensorFlow's published protos
// (lib/utils/proto). SummaryWriter is PyTorch's torch.utils.tensorboard face; the Keras
// TensorBoard callback (lib/keras/tensorboard_callback.ts) writes through it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, typeOfValue } from '../tensor';
import { tensorflowProtos, encode } from './proto';
import { Module } from '../nn/module';
import { modelGraph, moduleGraph } from './model_graph';

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of bytes. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add 0xa282ead8 (mod 2^32). */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, the data, masked CRC of the data (little-endian). */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

let fileCounter = 0;

/** Appends whole records to one events.out.tfevents.* file; TensorBoard reads it while it grows. */
class EventFile {
  readonly path: string;
  private fd: number | null;
  constructor(dir: string, suffix: string) {
    fs.mkdirSync(dir, { recursive: true });
    const name = `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}.${process.pid}.${fileCounter++}${suffix}`;
    this.path = path.join(dir, name);
    this.fd = fs.openSync(this.path, 'a', 0o644);
    this.write({ wall_time: Date.now() / 1000, file_version: 'brain.Event:2' });
  }
  write(event: Record<string, unknown>): void {
    if (this.fd === null) throw new Error(`SummaryWriter: the writer of ${this.path} is closed`);
    const rec = tfRecord(encode(tensorflowProtos(), 'tensorboard.Event', event));
    let off = 0;
    while (off < rec.length) off += fs.writeSync(this.fd, rec, off, rec.length - off);
  }
  flush(): void {
    if (this.fd !== null) fs.fsyncSync(this.fd);
  }
  close(): void {
    if (this.fd === null) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** SummaryWriter's options. */
export interface SummaryWriterOptions {
  /** appended to the event file's name (PyTorch's filename_suffix) */
  filenameSuffix?: string;
  /** appended to the default log directory's name when logDir is not given (PyTorch's comment) */
  comment?: string;
}

/** The values addHistogram accepts. */
export type HistogramValues = Tensor | ArrayLike<number>;

function checkTag(where: string, tag: unknown): string {
  if (typeof tag === 'string' && tag.length > 0) return tag;
  throw new TypeError(`${where}: expected tag to be a non-empty string but received ${typeOfValue(tag)}`);
}

function checkStep(where: string, step: unknown): number {
  if (step === undefined) return 0;
  if (typeof step === 'number' && Number.isSafeInteger(step) && step >= 0) return step;
  throw new TypeError(`${where}: expected globalStep to be a non-negative integer but received ${typeOfValue(step)}${typeof step === 'number' ? ` ${step}` : ''}`);
}

function checkWalltime(where: string, t: unknown): number {
  if (t === undefined) return Date.now() / 1000;
  if (typeof t === 'number' && Number.isFinite(t)) return t;
  throw new TypeError(`${where}: expected walltime to be seconds since the epoch but received ${typeOfValue(t)}`);
}

function scalarValue(where: string, v: unknown): number {
  if (typeof v === 'number') return v;
  if (v instanceof Tensor) {
    if (v.numel !== 1) throw new RangeError(`${where}: expected scalarValue to be a number or a one-element tensor but the tensor has shape [${v.shape.join(', ')}]`);
    return Number(v.item());
  }
  throw new TypeError(`${where}: expected scalarValue to be a number or a one-element tensor but received ${typeOfValue(v)}`);
}

function histogramNumbers(where: string, values: unknown): Float64Array {
  if (values instanceof Tensor) {
    const t = values.dtype === 'float64' ? values : values.to('float64');
    const a = Float64Array.from(t.dataSync() as Float64Array);
    if (t !== values) t.dispose();
    return a;
  }
  if (Array.isArray(values) || (ArrayBuffer.isView(values) && !(values instanceof DataView))) {
    const a = Float64Array.from(values as ArrayLike<number>, Number);
    return a;
  }
  throw new TypeError(`${where}: expected values to be a Tensor, an array of numbers or a typed array but received ${typeOfValue(values)}`);
}

/** TensorFlow's default histogram bucket limits: ±1e-12 * 1.1^k up to 1e20, and 0 (PyTorch's bins='tensorflow'). */
const TF_LIMITS = (() => {
  const pos: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  return [...pos.map((v) => -v).reverse(), 0, ...pos, Number.MAX_VALUE];
})();

/** A HistogramProto of finite values: equal-width buckets, or TensorFlow's exponential ones with the empty runs merged. */
export function histogram(values: Float64Array, bins: number | 'tensorflow' = 'tensorflow'): Record<string, unknown> {
  const v = values.filter(Number.isFinite);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSq = 0;
  for (const x of v) {
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sumSq += x * x;
  }
  if (v.length === 0) return { min: 0, max: 0, num: 0, sum: 0, sum_squares: 0, bucket_limit: [], bucket: [] };
  const limits: number[] = [];
  const counts: number[] = [];
  if (bins === 'tensorflow') {
    const c = new Float64Array(TF_LIMITS.length);
    for (const x of v) {
      // first limit >= x (the bucket is (limit[i-1], limit[i]])
      let lo = 0;
      let hi = TF_LIMITS.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (TF_LIMITS[mid] >= x) hi = mid;
        else lo = mid + 1;
      }
      c[lo]++;
    }
    let last = -2;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === 0) continue;
      // an empty bucket before a run keeps the run's left edge where TensorBoard expects it
      if (i > 0 && last !== i - 1) {
        limits.push(TF_LIMITS[i - 1]);
        counts.push(0);
      }
      limits.push(TF_LIMITS[i]);
      counts.push(c[i]);
      last = i;
    }
  } else {
    const width = max > min ? (max - min) / bins : 1;
    const c = new Float64Array(bins);
    for (const x of v) c[Math.min(bins - 1, Math.floor((x - min) / width))]++;
    for (let i = 0; i < bins; i++) {
      limits.push(i === bins - 1 ? Math.max(max, min + width * bins) : min + width * (i + 1));
      counts.push(c[i]);
    }
  }
  return { min, max, num: v.length, sum, sum_squares: sumSq, bucket_limit: limits, bucket: counts };
}

function defaultLogDir(comment: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return path.join('runs', `${months[d.getMonth()]}${p(d.getDate())}_${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}_${os.hostname()}${comment}`);
}

/**
 * PyTorch's SummaryWriter: `new SummaryWriter('runs/exp1')`, then addScalar('loss', 0.5, step),
 * addScalars, addHistogram, addText, addGraph (a Keras model's layer graph), flush, close.
 * Every add appends its record to the event file at once; flush() makes it durable.
 */
export class SummaryWriter {
  readonly logDir: string;
  private file: EventFile | null = null;
  private readonly children = new Map<string, SummaryWriter>();
  private readonly suffix: string;
  private closed = false;

  constructor(logDir?: string, opts: SummaryWriterOptions = {}) {
    if (logDir !== undefined && (typeof logDir !== 'string' || logDir.length === 0)) {
      throw new TypeError(`SummaryWriter: expected logDir to be a directory path but received ${typeOfValue(logDir)}`);
    }
    if (opts === null || typeof opts !== 'object') throw new TypeError(`SummaryWriter: expected an options object but received ${typeOfValue(opts)}`);
    for (const k of Object.keys(opts)) {
      if (k !== 'filenameSuffix' && k !== 'comment') throw new TypeError(`SummaryWriter: unknown option '${k}'; known options: filenameSuffix, comment`);
    }
    this.suffix = opts.filenameSuffix ?? '';
    this.logDir = logDir ?? defaultLogDir(opts.comment ?? '');
    // created now, as PyTorch does, so TensorBoard sees the run before the first value
    this.events();
  }

  /** The event file's path. */
  get filePath(): string {
    return this.events().path;
  }

  private events(): EventFile {
    if (this.closed) throw new Error(`SummaryWriter: the writer for ${this.logDir} is closed`);
    return (this.file ??= new EventFile(this.logDir, this.suffix));
  }

  private summary(value: Record<string, unknown>, step: number, walltime: number): void {
    this.events().write({ wall_time: walltime, step, summary: { value: [value] } });
  }

  /** A scalar at a step (TensorBoard's Scalars dashboard). */
  addScalar(tag: string, scalarValue_: number | Tensor, globalStep?: number, walltime?: number): void {
    const w = 'addScalar';
    this.summary({ tag: checkTag(w, tag), simple_value: scalarValue(w, scalarValue_) }, checkStep(w, globalStep), checkWalltime(w, walltime));
  }

  /** Several scalars on one chart: each key goes to its own run logDir/<mainTag>_<key>, tagged mainTag (PyTorch's layout). */
  addScalars(mainTag: string, tagScalarDict: Record<string, number | Tensor>, globalStep?: number, walltime?: number): void {
    const w = 'addScalars';
    checkTag(w, mainTag);
    if (tagScalarDict === null || typeof tagScalarDict !== 'object' || Array.isArray(tagScalarDict)) {
      throw new TypeError(`${w}: expected tagScalarDict to be an object of { name: value } but received ${typeOfValue(tagScalarDict)}`);
    }
    const step = checkStep(w, globalStep);
    const t = checkWalltime(w, walltime);
    for (const [k, v] of Object.entries(tagScalarDict)) {
      const dir = path.join(this.logDir, `${mainTag.replace(/\//g, '_')}_${k}`);
      let child = this.children.get(dir);
      if (!child) {
        child = new SummaryWriter(dir, { filenameSuffix: this.suffix });
        this.children.set(dir, child);
      }
      child.summary({ tag: mainTag, simple_value: scalarValue(w, v) }, step, t);
    }
  }

  /**
   * A histogram of values (TensorBoard's Histograms and Distributions dashboards); bins is a bucket
   * count or 'tensorflow' (TensorFlow's exponential buckets, PyTorch's default). Non-finite values are left out.
   */
  addHistogram(tag: string, values: HistogramValues, globalStep?: number, bins: number | 'tensorflow' = 'tensorflow', walltime?: number): void {
    const w = 'addHistogram';
    checkTag(w, tag);
    if (bins !== 'tensorflow' && !(typeof bins === 'number' && Number.isSafeInteger(bins) && bins > 0)) {
      throw new TypeError(`${w}: expected bins to be a positive integer or 'tensorflow' but received ${typeOfValue(bins)}`);
    }
    const h = histogram(histogramNumbers(w, values), bins);
    this.summary({ tag, histo: h }, checkStep(w, globalStep), checkWalltime(w, walltime));
  }

  /** Text (markdown) under the Text dashboard, as PyTorch writes it (tag '<tag>/text_summary'). */
  addText(tag: string, textString: string, globalStep?: number, walltime?: number): void {
    const w = 'addText';
    checkTag(w, tag);
    if (typeof textString !== 'string') throw new TypeError(`${w}: expected textString to be a string but received ${typeOfValue(textString)}`);
    this.summary({
      tag: `${tag}/text_summary`,
      metadata: { plugin_data: { plugin_name: 'text', content: Buffer.alloc(0) } },
      tensor: { dtype: 'DT_STRING', tensor_shape: { dim: [{ size: 1 }] }, string_val: [Buffer.from(textString, 'utf8')] },
    }, checkStep(w, globalStep), checkWalltime(w, walltime));
  }

  /**
   * A model's layer graph for the Graphs dashboard: one node per layer (its class as the op, shapes as
   * _output_shapes). A Keras model, or an nn.Sequential with an example input (PyTorch's add_graph(model, input_to_model)).
   */
  addGraph(model: unknown, inputToModel?: Tensor | Tensor[]): void {
    const g = model instanceof Module ? moduleGraph(model, inputToModel, 'addGraph') : modelGraph(model, 'addGraph');
    const shape = (s: number[] | null) => ({ dim: [{ size: -1 }, ...(s ?? []).map((d) => ({ size: d ?? -1 }))], unknown_rank: s === null });
    const node = g.nodes.map((n) => ({
      name: n.name,
      op: n.className,
      input: n.inbound,
      attr: {
        _output_shapes: { list: { shape: [shape(n.outputShape)] } },
        ...(n.layer && typeof (n.layer as { getConfig?: unknown }).getConfig === 'function'
          ? { config: { s: Buffer.from(JSON.stringify((n.layer as unknown as { getConfig(): unknown }).getConfig()), 'utf8') } } : {}),
      },
    }));
    const graphDef = encode(tensorflowProtos(), 'tensorboard.GraphDef', { node, versions: { producer: 22 } });
    this.events().write({ wall_time: Date.now() / 1000, step: 0, graph_def: graphDef });
  }

  /** Makes everything written so far durable (fsync). */
  flush(): void {
    this.file?.flush();
    for (const c of this.children.values()) c.flush();
  }

  /** Flushes and closes the event files; later adds are an error. */
  close(): void {
    if (this.closed) return;
    for (const c of this.children.values()) c.close();
    this.file?.close();
    this.closed = true;
  }
}
