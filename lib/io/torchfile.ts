// PyTorch's torch.save zip format, for tensors only: data.pkl is run by a restricted unpickler that
// knows the few globals a state dict needs (OrderedDict, _rebuild_tensor_v2, the typed storages)
// and refuses every other one, so no code from the file ever runs. Storages are data/<key> entries.
import { Tensor, typeOfValue } from '../tensor';
import * as creation from '../creation';
import { DType } from '../dtype';
import { readZipDirectory, readZipEntry, writeZip, ZipEntry } from './zip';
import { tensorBytes } from './safetensors';
import { borrowableBuffer, checkBudget } from './files';
import { unpickle, PyDict, PyGlobal, PyTuple } from './unpickler';

const STORAGES: Record<string, { dtype: DType; size: number }> = {
  FloatStorage: { dtype: 'float32', size: 4 }, DoubleStorage: { dtype: 'float64', size: 8 },
  HalfStorage: { dtype: 'float16', size: 2 }, BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  LongStorage: { dtype: 'int64', size: 8 }, IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int16', size: 2 }, CharStorage: { dtype: 'int8', size: 1 },
  ByteStorage: { dtype: 'uint8', size: 1 }, BoolStorage: { dtype: 'bool', size: 1 },
};
const STORAGE_OF: Record<string, string> = Object.fromEntries(Object.entries(STORAGES).map(([k, v]) => [v.dtype, k]));

const MAX_DEPTH = 200;

class Storage {
  constructor(readonly format: { dtype: DType; size: number }, readonly key: string, readonly numel: number) {}
}

/** Refusal for anything the restricted unpickler will not run. */
function refuse(file: string, what: string): Error {
  return new Error(`nt.load: ${file}: ${what}. Only files of tensors (torch.save(model.state_dict(), f), dicts, lists and ` +
    'numbers of tensors) can be read: anything else would need arbitrary Python unpickling, which could run code from the file. ' +
    'Save a state dict from Python instead, or use safetensors.');
}

interface Ctx {
  file: string;
  buf: Buffer;
  entries: Map<string, ZipEntry>;
  prefix: string;
  bad: (m: string) => Error;
  made: Tensor[];
  /** each storage's bytes, read and CRC-checked once however many tensors view it */
  storages: Map<string, Buffer>;
  /** bytes the file's declarations may make the loader allocate (maxBytes), and those counted so far */
  budget: number;
  used: number;
}

/** Counts an allocation the file asks for against maxBytes, before it is made. */
function spend(ctx: Ctx, bytes: number, what: string): void {
  ctx.used += bytes;
  checkBudget(ctx.used, ctx.budget, `${what} (with what it read before)`, 'nt.load', ctx.file);
}

function toIndex(v: unknown, what: string, ctx: Ctx): number {
  const n = typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw ctx.bad(`${what} is ${String(v)}; expected a non-negative integer`);
  return n;
}

function intTuple(v: unknown, what: string, ctx: Ctx): number[] {
  if (!(v instanceof PyTuple) || v.items.length > 64) throw ctx.bad(`${what} is not a tuple of at most 64 integers`);
  return v.items.map((x, i) => toIndex(x, `${what}[${i}]`, ctx));
}

/** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a contiguous copy of the view. */
function rebuildTensor(args: unknown[], ctx: Ctx): Tensor {
  const [storage, offsetV, sizeV, strideV] = args;
  if (!(storage instanceof Storage)) throw ctx.bad('_rebuild_tensor_v2 got no storage');
  const offset = toIndex(offsetV, 'storage offset', ctx);
  const shape = intTuple(sizeV, 'tensor size', ctx);
  const stride = intTuple(strideV, 'tensor stride', ctx);
  if (shape.length !== stride.length) throw ctx.bad(`tensor size (${shape.length} dims) and stride (${stride.length}) disagree`);
  const numel = shape.reduce((a, b) => a * b, 1);
  const { dtype, size: es } = storage.format;
  const entry = ctx.entries.get(`${ctx.prefix}data/${storage.key}`);
  if (!entry) throw ctx.bad(`storage '${storage.key}' has no data/${storage.key} entry in the archive`);
  if (entry.size < storage.numel * es) {
    throw ctx.bad(`storage '${storage.key}' claims ${storage.numel} ${dtype} values but its entry holds ${entry.size} bytes`);
  }
  let last = offset;
  for (let i = 0; i < shape.length; i++) if (shape[i] > 0) last += (shape[i] - 1) * stride[i];
  if (!Number.isSafeInteger(numel) || (numel > 0 && last >= storage.numel)) {
    throw ctx.bad(`a tensor of size [${shape.join(', ')}], stride [${stride.join(', ')}] at offset ${offset} reads past its ` +
      `storage of ${storage.numel} values`);
  }
  spend(ctx, numel * es, `a tensor of size [${shape.join(', ')}]`);
  let data = ctx.storages.get(storage.key);
  if (!data) {
    if (entry.method !== 0) spend(ctx, entry.size, `storage '${storage.key}'`);
    data = readZipEntry(ctx.buf, entry, ctx.bad);
    ctx.storages.set(storage.key, data);
  }
  const out = borrowableBuffer(numel * es);
  let contiguous = true;
  for (let i = shape.length - 1, want = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== want) contiguous = false;
    want *= shape[i];
  }
  if (contiguous) {
    data.copy(out, 0, offset * es, (offset + numel) * es);
  } else {
    const idx = new Array<number>(shape.length).fill(0);
    for (let n = 0; n < numel; n++) {
      let src = offset;
      for (let d = 0; d < shape.length; d++) src += idx[d] * stride[d];
      data.copy(out, n * es, src * es, (src + 1) * es);
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  }
  const made = (t: Tensor): Tensor => {
    ctx.made.push(t);
    return t;
  };
  let t = made(creation.tensor(out, { shape: shape.length ? shape : [1], dtype: dtype === 'bool' ? 'uint8' : dtype }));
  if (dtype === 'bool') t = made(t.ne(0));
  if (!shape.length) t = made(t.reshape([]));
  return t;
}

function call(fn: PyGlobal, args: PyTuple, ctx: Ctx): unknown {
  switch (fn.full) {
    case 'collections.OrderedDict': {
      const d = new PyDict();
      if (args.items.length) throw refuse(ctx.file, 'OrderedDict is built from arguments');
      return d;
    }
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor':
      return rebuildTensor(args.items, ctx);
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      if (!(args.items[0] instanceof Tensor)) throw ctx.bad(`${fn.full} got no tensor`);
      return args.items[0];
    default:
      throw refuse(ctx.file, `it needs the Python global '${fn.full}'`);
  }
}

/** A storage's persistent id, ('storage', type, key, location, numel), read; null for any other id. */
function storagePid(pid: unknown): { type: unknown; key: unknown; numel: unknown; format: { dtype: DType; size: number } | undefined } | null {
  if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) return null;
  const [, type, key, , numel] = pid.items;
  return { type, key, numel, format: type instanceof PyGlobal && type.module === 'torch' ? STORAGES[type.name] : undefined };
}

/** Runs data.pkl on the restricted pickle machine (lib/io/unpickler.ts) with torch.save's few globals. */
function unpickleTorch(pkl: Buffer, ctx: Ctx): unknown {
  return unpickle(pkl, {
    what: 'data.pkl',
    bad: ctx.bad,
    refuse: (what) => refuse(ctx.file, what),
    call: (fn, args) => call(fn, args, ctx),
    build: (obj) => {
      // an OrderedDict's attributes (a state dict's _metadata) are dropped
      if (!(obj instanceof PyDict)) throw refuse(ctx.file, `it sets the state of ${typeOfValue(obj)}`);
    },
    persistentLoad: (pid) => {
      const s = storagePid(pid);
      if (!s) throw refuse(ctx.file, 'it holds a persistent object that is not a tensor storage');
      const { type, key, numel, format } = s;
      if (!format) throw refuse(ctx.file, `it holds a storage of type ${type instanceof PyGlobal ? type.full : typeOfValue(type)}`);
      if (typeof key !== 'string' || !/^[\w.]{1,64}$/.test(key)) throw ctx.bad(`storage key ${JSON.stringify(key)} is not a plain name`);
      return new Storage(format, key, toIndex(numel, `storage '${key}' size`, ctx));
    },
  });
}

/**
 * The storages a pickle of a zip archive (a TorchScript module's data.pkl or constants.pkl)
 * declares: each one's key and byte size (null where its type is not a typed storage this reader
 * knows). Objects and tensors are not made: only the persistent ids are read.
 */
export function declaredStorages(pkl: Buffer, what: string, bad: (m: string) => Error): { key: string; bytes: number | null }[] {
  const out: { key: string; bytes: number | null }[] = [];
  unpickle(pkl, {
    what,
    bad,
    refuse: (w) => bad(w),
    call: () => new PyDict(),
    build: () => undefined,
    persistentLoad: (pid) => {
      const st = storagePid(pid);
      if (st) {
        const n = typeof st.numel === 'bigint' ? Number(st.numel) : st.numel;
        out.push({ key: String(st.key), bytes: st.format && typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n * st.format.size : null });
      }
      return new PyDict();
    },
  });
  return out;
}

function toJs(v: unknown, ctx: Ctx, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw ctx.bad(`the data nests more than ${MAX_DEPTH} levels deep`);
  if (v instanceof PyDict) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.map) Object.defineProperty(o, String(k), { value: toJs(x, ctx, depth + 1), enumerable: true, writable: true, configurable: true });
    return o;
  }
  if (v instanceof PyTuple) return v.items.map((x) => toJs(x, ctx, depth + 1));
  if (Array.isArray(v)) return v.map((x) => toJs(x, ctx, depth + 1));
  if (v instanceof PyGlobal) throw refuse(ctx.file, `it holds the Python object '${v.full}'`);
  if (v instanceof Storage) throw refuse(ctx.file, 'it holds a bare storage');
  return v;
}

/** True when buf starts like a zip archive (a torch.save file or a TorchScript archive). */
export function isZip(buf: Uint8Array): boolean {
  return buf.byteLength >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

/** Reads a torch.save zip file held in buf: the tensors and plain values in it. */
export function readTorchZip(buf: Buffer, file: string, budget = Infinity): unknown {
  const bad = (m: string) => new Error(`nt.load: ${file}: ${m}`);
  const entries = readZipDirectory(buf, bad);
  const pklName = [...entries.keys()].find((n) => /^[^/]*\/?data\.pkl$/.test(n));
  if (!pklName) throw bad(`no data.pkl in the archive (entries: ${[...entries.keys()].slice(0, 5).join(', ')}); not a torch.save file`);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  if (entries.has(`${prefix}constants.pkl`) || [...entries.keys()].some((n) => n.startsWith(`${prefix}code/`))) {
    throw new Error(`nt.load: ${file} is a TorchScript archive (torch.jit.save), not a state dict: load it with nt.jit.load`);
  }
  const bo = entries.get(`${prefix}byteorder`);
  if (bo && readZipEntry(buf, bo, bad).toString('latin1') !== 'little') throw bad('the tensors are big-endian; only little-endian files are supported');
  const ctx: Ctx = { file, buf, entries, prefix, bad, made: [], storages: new Map(), budget, used: 0 };
  try {
    const value = toJs(unpickleTorch(readZipEntry(buf, entries.get(pklName) as ZipEntry, bad), ctx), ctx);
    const keep = new Set<Tensor>();
    const collect = (x: unknown): void => {
      if (x instanceof Tensor) keep.add(x);
      else if (Array.isArray(x)) x.forEach(collect);
      else if (x !== null && typeof x === 'object') Object.values(x).forEach(collect);
    };
    collect(value);
    for (const t of ctx.made) if (!keep.has(t)) t.dispose();
    return value;
  } catch (e) {
    for (const t of ctx.made) t.dispose();
    throw e;
  }
}

// ---- writing ----

class Pickler {
  private readonly parts: Buffer[] = [];
  readonly storages: { key: string; data: Uint8Array }[] = [];
  op(...bytes: number[]): void {
    this.parts.push(Buffer.from(bytes));
  }
  raw(b: Buffer): void {
    this.parts.push(b);
  }
  int(n: number | bigint): void {
    if (typeof n === 'number' && n >= -0x80000000 && n <= 0x7fffffff) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(n, 1);
      this.raw(b);
    } else {
      const b = Buffer.alloc(10);
      b[0] = 0x8a;
      b[1] = 8;
      b.writeBigInt64LE(BigInt(n), 2);
      this.raw(b);
    }
  }
  str(s: string): void {
    const body = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(body.byteLength, 1);
    this.raw(h);
    this.raw(body);
  }
  global(module: string, name: string): void {
    this.raw(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
  }
  orderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.op(0x29, 0x52); // () REDUCE
  }
  tensor(t: Tensor): void {
    const storage = STORAGE_OF[t.dtype];
    const key = String(this.storages.length);
    let bytes: Uint8Array;
    if (t.dtype === 'bool') {
      const u = t.to('uint8');
      bytes = tensorBytes(u);
      u.dispose();
    } else {
      bytes = tensorBytes(t);
    }
    this.storages.push({ key, data: bytes });
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(0x28, 0x28); // MARK (args) MARK (persistent id)
    this.str('storage');
    this.global('torch', storage);
    this.str(key);
    this.str('cpu');
    this.int(t.numel);
    this.op(0x74, 0x51); // TUPLE BINPERSID
    this.int(0);
    const stride: number[] = [];
    for (let i = t.shape.length - 1, s = 1; i >= 0; i--) {
      stride.unshift(s);
      s *= t.shape[i];
    }
    for (const dims of [t.shape, stride]) {
      this.op(0x28);
      for (const d of dims) this.int(d);
      this.op(0x74);
    }
    this.op(0x89); // requires_grad False
    this.orderedDict(); // backward hooks
    this.op(0x74, 0x52); // TUPLE REDUCE
  }
  value(v: unknown, where: string, depth = 0): void {
    if (depth > MAX_DEPTH) throw new RangeError(`nt.save: ${where} nests more than ${MAX_DEPTH} levels deep`);
    if (v instanceof Tensor) {
      if (v.isDisposed) throw new TypeError(`nt.save: ${where} is a disposed Tensor`);
      this.tensor(v);
    } else if (v === null || v === undefined) this.op(0x4e);
    else if (typeof v === 'boolean') this.op(v ? 0x88 : 0x89);
    else if (typeof v === 'bigint') this.int(v);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) this.int(v);
      else {
        const b = Buffer.alloc(9);
        b[0] = 0x47;
        b.writeDoubleBE(v, 1);
        this.raw(b);
      }
    } else if (typeof v === 'string') this.str(v);
    else if (Array.isArray(v)) {
      this.op(0x5d, 0x28);
      v.forEach((x, i) => this.value(x, `${where}[${i}]`, depth + 1));
      this.op(0x65);
    } else if (v instanceof Map || (typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v)))) {
      this.orderedDict();
      this.op(0x28);
      for (const [k, x] of v instanceof Map ? v : Object.entries(v as object)) {
        if (typeof k !== 'string') throw new TypeError(`nt.save: ${where} has a non-string key ${typeOfValue(k)}`);
        this.str(k);
        this.value(x, `${where}.${k}`, depth + 1);
      }
      this.op(0x75);
    } else {
      throw new TypeError(`nt.save: ${where} is ${typeOfValue(v)}; a .pt file holds tensors, numbers, strings, booleans, arrays and plain objects`);
    }
  }
  finish(): Buffer {
    this.op(0x2e);
    return Buffer.concat([Buffer.from([0x80, 0x02]), ...this.parts]);
  }
}

/** The chunks of a torch.save-compatible zip file holding value (torch.load reads it). */
export function torchZipChunks(value: unknown, archive: string): Buffer[] {
  const p = new Pickler();
  p.value(value, 'the value');
  const pkl = p.finish();
  const prefix = `${archive}/`;
  return writeZip([
    { name: `${prefix}data.pkl`, data: pkl },
    { name: `${prefix}byteorder`, data: Buffer.from('little') },
    ...p.storages.map((s) => ({ name: `${prefix}data/${s.key}`, data: s.data })),
    { name: `${prefix}version`, data: Buffer.from('3\n') },
  ]);
}
