// PyTorch's torch.save zip format, for tensors only: data.pkl is run by a restricted unpickler that
// knows the few globals a state dict needs (OrderedDict, _rebuild_tensor_v2, the typed storages)
// and refuses every other one, so no code from the file ever runs. Storages are data/<key> entries.
import { Tensor, typeOfValue } from '../tensor';
import * as creation from '../creation';
import { DType } from '../dtype';
import { readZipDirectory, readZipEntry, writeZip, ZipEntry } from './zip';
import { tensorBytes } from './safetensors';
import { borrowableBuffer, checkBudget } from './files';

const STORAGES: Record<string, { dtype: DType; size: number }> = {
  FloatStorage: { dtype: 'float32', size: 4 }, DoubleStorage: { dtype: 'float64', size: 8 },
  HalfStorage: { dtype: 'float16', size: 2 }, BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  LongStorage: { dtype: 'int64', size: 8 }, IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int16', size: 2 }, CharStorage: { dtype: 'int8', size: 1 },
  ByteStorage: { dtype: 'uint8', size: 1 }, BoolStorage: { dtype: 'bool', size: 1 },
};
const STORAGE_OF: Record<string, string> = Object.fromEntries(Object.entries(STORAGES).map(([k, v]) => [v.dtype, k]));

const MAX_DEPTH = 200;

class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get full(): string {
    return `${this.module}.${this.name}`;
  }
}
class PyTuple {
  constructor(readonly items: unknown[]) {}
}
class PyDict {
  readonly map = new Map<unknown, unknown>();
}
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

function call(fn: unknown, args: unknown, ctx: Ctx): unknown {
  if (!(fn instanceof PyGlobal)) throw refuse(ctx.file, `it calls ${typeOfValue(fn)}, which is not a known global`);
  if (!(args instanceof PyTuple)) throw ctx.bad(`arguments to ${fn.full} are not a tuple`);
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

/** Runs data.pkl on a restricted pickle machine; returns the unpickled value. */
function unpickle(pkl: Buffer, ctx: Ctx): unknown {
  let pos = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number): number => {
    if (pos + n > pkl.byteLength) throw ctx.bad('data.pkl ends in the middle of an instruction (truncated or corrupt)');
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) throw ctx.bad('data.pkl pops an empty stack');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw ctx.bad('data.pkl reads an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw ctx.bad('data.pkl closes a mark it never opened');
    return stack.splice(m);
  };
  const line = (): string => {
    const end = pkl.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1000) throw ctx.bad('data.pkl has an unterminated text field');
    const s = pkl.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const str = (n: number, enc: BufferEncoding): string => {
    const at = need(n);
    return pkl.toString(enc, at, at + n);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof PyDict)) throw ctx.bad('data.pkl sets items on something that is not a dict');
    if (items.length % 2) throw ctx.bad('data.pkl sets a key without a value');
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'bigint' && typeof k !== 'boolean' && k !== null) {
        throw refuse(ctx.file, `a dict key is ${typeOfValue(k)}`);
      }
      target.map.set(typeof k === 'bigint' ? Number(k) : k, items[i + 1]);
    }
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) throw ctx.bad('data.pkl appends to something that is not a list');
    for (const x of items) target.push(x);
  };
  for (;;) {
    const op = pkl[need(1)];
    switch (op) {
      case 0x80: need(1); break; // PROTO
      case 0x95: need(8); break; // FRAME
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) throw ctx.bad('data.pkl stops with a malformed stack');
        return stack[0];
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x74: stack.push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const d = new PyDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(pkl.readInt32LE(need(4))); break; // BININT
      case 0x4b: stack.push(pkl[need(1)]); break; // BININT1
      case 0x4d: stack.push(pkl.readUInt16LE(need(2))); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1, LONG4
        const n = op === 0x8a ? pkl[need(1)] : pkl.readUInt32LE(need(4));
        if (n > 16) throw ctx.bad(`data.pkl holds a ${n}-byte integer`);
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pkl[at + i]);
        if (n && pkl[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: stack.push(pkl.readDoubleBE(need(8))); break; // BINFLOAT
      case 0x58: stack.push(str(pkl.readUInt32LE(need(4)), 'utf8')); break; // BINUNICODE
      case 0x8c: stack.push(str(pkl[need(1)], 'utf8')); break; // SHORT_BINUNICODE
      case 0x54: stack.push(str(pkl.readUInt32LE(need(4)), 'latin1')); break; // BINSTRING
      case 0x55: stack.push(str(pkl[need(1)], 'latin1')); break; // SHORT_BINSTRING
      case 0x63: { const m = line(); const n = line(); stack.push(new PyGlobal(m, n)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const n = pop();
        const m = pop();
        if (typeof m !== 'string' || typeof n !== 'string') throw ctx.bad('data.pkl names a global with non-strings');
        stack.push(new PyGlobal(m, n));
        break;
      }
      case 0x71: memo.set(pkl[need(1)], top()); break; // BINPUT
      case 0x72: memo.set(pkl.readUInt32LE(need(4)), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? pkl[need(1)] : pkl.readUInt32LE(need(4));
        if (!memo.has(k)) throw ctx.bad(`data.pkl reads memo slot ${k}, which was never written`);
        stack.push(memo.get(k));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
          throw refuse(ctx.file, 'it holds a persistent object that is not a tensor storage');
        }
        const [, type, key, , numel] = pid.items;
        const format = type instanceof PyGlobal && type.module === 'torch' ? STORAGES[type.name] : undefined;
        if (!format) throw refuse(ctx.file, `it holds a storage of type ${type instanceof PyGlobal ? type.full : typeOfValue(type)}`);
        if (typeof key !== 'string' || !/^[\w.]{1,64}$/.test(key)) throw ctx.bad(`storage key ${JSON.stringify(key)} is not a plain name`);
        stack.push(new Storage(format, key, toIndex(numel, `storage '${key}' size`, ctx)));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args, ctx)); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args, ctx)); break; } // NEWOBJ
      case 0x62: { // BUILD: an OrderedDict's attributes (a state dict's _metadata) are dropped
        pop();
        if (!(top() instanceof PyDict)) throw refuse(ctx.file, `it sets the state of ${typeOfValue(top())}`);
        break;
      }
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        throw refuse(ctx.file, `data.pkl uses pickle opcode 0x${op.toString(16)}, which a file of tensors does not need`);
    }
    if (stack.length > 1_000_000 || marks.length > 10_000) throw ctx.bad('data.pkl grows its stack without bound');
  }
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
    const value = toJs(unpickle(readZipEntry(buf, entries.get(pklName) as ZipEntry, bad), ctx), ctx);
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
