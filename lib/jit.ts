// TorchScript from PyTorch: nt.jit.load(file) runs modules exported with torch.jit.trace or
// torch.jit.script and saved with .save() (native/jit.cc). Loading and every forward run on libuv
// worker threads; values cross the binding as small tagged arrays (JitNode in lib/native.ts).
import * as path from 'path';
import { native, NativeObject, JitNode, Handle } from './native';
import { DType, isDtypeName, parseDtype, dtypeCode, isFloating } from './dtype';
import { deviceString, DeviceLike, Tensor, typeOfValue, wrap } from './tensor';
import { checkBudget, maxBytesFor, MaxBytesOptions, openRegular } from './io/files';
import type { FileHandle } from 'fs/promises';
import { checkZipFile, readZipFileEntry, ZipEntry } from './io/zip';
import { declaredStorages } from './io/torchfile';
import { writeFileAtomicSync } from './io/atomic';
import { tidy } from './memory';
import { zeros } from './creation';
import { Module } from './nn/module';

/**
 * What TorchScript methods take and return. In: a Tensor, a number (an int or a float, as the
 * method's signature wants), a bigint (int), a boolean, a string, null/undefined (None), an array
 * (a tuple or a list, as the signature wants) or a plain object or Map (a dict), nested.
 * Out: tensors, numbers (bigint for ints beyond 2**53), booleans, strings, null, arrays (tuples and
 * lists) and plain objects (string-keyed dicts; other dicts become Maps).
 */
export type JitValue = Tensor | number | bigint | boolean | string | null | undefined | JitValue[] |
  { [key: string]: JitValue } | Map<string | number | bigint | boolean, JitValue>;

/** Options of jit.load (torch.jit.load): the device to load onto (map_location) and the file size limit. */
export interface LoadOptions extends MaxBytesOptions {
  /** Where the module's parameters and buffers are loaded (PyTorch's map_location): 'cpu', 'cuda', 'cuda:N'. */
  device?: DeviceLike;
}

const MAX_DEPTH = 64;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The caller's stack, captured before the call goes async; formatted only if an error needs it. */
interface CallerStack { stack?: string }

function callerStack(fn: (...args: never[]) => unknown): CallerStack {
  const holder: CallerStack = {};
  Error.captureStackTrace(holder, fn);
  return holder;
}

/** e with the caller's frames, so an async error points at the user's line, not at nodetorch internals. */
function withStack(e: unknown, caller: CallerStack): unknown {
  // native errors come from the main realm: test the tag, not instanceof
  if (Object.prototype.toString.call(e) === '[object Error]') {
    const s = caller.stack ?? '';
    const nl = s.indexOf('\n');
    const err = e as Error;
    if (nl >= 0) err.stack = `${err.name}: ${err.message}${s.slice(nl)}`;
  }
  return e;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (typeof v === 'function') return 'a function';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} (wrap typed arrays with nt.tensor())`;
  if (v !== null && typeof v === 'object') return `an object of class ${v.constructor?.name ?? 'unknown'}`;
  return typeOfValue(v);
}

function encode(v: unknown, where: string, op: string, depth: number): JitNode {
  if (depth > MAX_DEPTH) throw new TypeError(`${op}: ${where} is nested more than ${MAX_DEPTH} levels deep (a cycle?)`);
  if (v instanceof Tensor) {
    if (v.isDisposed) throw new TypeError(`${op}: ${where} is a disposed Tensor: it was freed by dispose() or tidy()`);
    return ['T', v._h];
  }
  switch (typeof v) {
    case 'number': return ['F', v];
    case 'boolean': return ['B', v];
    case 'string': return ['S', v];
    case 'undefined': return ['N'];
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`${op}: ${where} = ${v}n is outside the int64 range of TorchScript's int`);
      return ['I', v];
    default: break;
  }
  if (v === null) return ['N'];
  if (Array.isArray(v)) {
    const items: JitNode[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) items[i] = encode(v[i], `${where}[${i}]`, op, depth + 1);
    return ['A', items];
  }
  if (v instanceof Map) {
    const keys: JitNode[] = [];
    const values: JitNode[] = [];
    for (const [k, x] of v) {
      if (!['string', 'number', 'bigint', 'boolean'].includes(typeof k)) {
        throw new TypeError(`${op}: ${where} has a key that is ${describe(k)}; dict keys must be strings, numbers, bigints or booleans`);
      }
      keys.push(encode(k, `${where} key`, op, depth + 1));
      values.push(encode(x, `${where}.get(${typeof k === 'string' ? `'${k}'` : String(k)})`, op, depth + 1));
    }
    return ['D', keys, values];
  }
  if (typeof v === 'object' && isPlainObject(v)) {
    const keys: JitNode[] = [];
    const values: JitNode[] = [];
    for (const [k, x] of Object.entries(v)) {
      keys.push(['S', k]);
      values.push(encode(x, `${where}.${k}`, op, depth + 1));
    }
    return ['D', keys, values];
  }
  throw new TypeError(`${op}: ${where} is ${describe(v)}, which TorchScript cannot take; expected a Tensor, number, ` +
    'bigint, boolean, string, null, array, Map or plain object');
}

function decode(n: JitNode): JitValue {
  switch (n[0]) {
    case 'T': return wrap(n[1]);
    case 'F': case 'I': case 'B': case 'S': return n[1];
    case 'A': return n[1].map(decode);
    case 'D': {
      const keys = n[1].map(decode);
      const values = n[2].map(decode);
      if (keys.every((k) => typeof k === 'string')) {
        const o: { [key: string]: JitValue } = {};
        keys.forEach((k, i) => { o[k as string] = values[i]; });
        return o;
      }
      return new Map(keys.map((k, i) => [k as string | number | bigint | boolean, values[i]]));
    }
    default: return null;
  }
}

function pairs(flat: (string | Handle)[]): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, wrap(flat[i + 1] as Handle)]);
  return out;
}

/**
 * A TorchScript module: its methods are the ones PyTorch compiled (forward, and those marked
 * @torch.jit.export), run by libtorch's TorchScript interpreter on a libuv worker thread.
 * Get one from nt.jit.load() (or nt.jit.compile()).
 */
export class ScriptModule {
  /** @internal the native module; null once disposed */
  _native: NativeObject | null;
  /** The file it was loaded from ('<compiled>' for nt.jit.compile). */
  readonly file: string;
  private running = 0;

  /** @internal use nt.jit.load() */
  constructor(m: NativeObject, file: string) {
    this._native = m;
    this.file = file;
  }

  private live(op: string): NativeObject {
    if (!this._native) throw new Error(`ScriptModule.${op}: the module was disposed`);
    return this._native;
  }

  private idle(op: string): void {
    if (this.running > 0) {
      throw new Error(`ScriptModule.${op}: ${this.running} forward/call(s) on this module are still running; ` +
        'await them first (changing the module while it runs would race with them)');
    }
  }

  /**
   * Runs forward on a worker thread; the event loop keeps going meanwhile. Runs without autograd
   * (like torch.no_grad()) in either mode: outputs are plain detached tensors, usable in later
   * autograd code. Several calls may run at once on one module (up to libuv's 4 worker threads),
   * each with nt.getNumThreads() intra-op threads: a server keeping several forwards in flight on
   * few cores does better with nt.setNumThreads(1) (see bench/RESULTS.md, TorchScript forward).
   */
  forward(...inputs: JitValue[]): Promise<JitValue> {
    return this.run('forward', inputs, callerStack(this.forward));
  }

  /** Runs another method the module exports (@torch.jit.export in Python), like forward. */
  call(method: string, ...inputs: JitValue[]): Promise<JitValue> {
    return this.run(method, inputs, callerStack(this.call));
  }

  private async run(method: string, inputs: JitValue[], stack: CallerStack): Promise<JitValue> {
    const op = `jit ${typeof method === 'string' ? method : 'call'}`;
    try {
      if (typeof method !== 'string' || method === '') {
        throw new TypeError(`ScriptModule.call: expected a method name (string) but received ${typeOfValue(method)}`);
      }
      const m = this.live(method === 'forward' ? 'forward' : 'call');
      const encoded = inputs.map((v, i) => encode(v, `input ${i + 1}`, op, 0));
      this.running++;
      let out: JitNode;
      try {
        out = await native.jit_run(m, method, encoded);
      } finally {
        this.running--;
      }
      return decode(out);
    } catch (e) {
      const err = e as Error;
      // argument errors from the native reader name the raw export; say which method instead
      if (err && typeof err.message === 'string' && err.message.startsWith('jit_run: ')) {
        err.message = `${op}: ${err.message.slice('jit_run: '.length)}`;
      }
      throw withStack(e, stack);
    }
  }

  /** The methods it can run, with their TorchScript signatures. */
  methods(): { name: string; schema: string }[] {
    const flat = native.jit_methods(this.live('methods'));
    const out: { name: string; schema: string }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ name: flat[i], schema: flat[i + 1] });
    return out;
  }

  /** [name, parameter] pairs with PyTorch's dotted names; the tensors share the module's memory. */
  namedParameters(): [string, Tensor][] {
    return pairs(native.jit_parameters(this.live('namedParameters')));
  }
  /** The module's parameters, sharing its memory (torch.jit.ScriptModule.parameters). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  /** [name, buffer] pairs with PyTorch's dotted names; the tensors share the module's memory (named_buffers). */
  namedBuffers(): [string, Tensor][] {
    return pairs(native.jit_buffers(this.live('namedBuffers')));
  }
  /** The module's buffers (e.g. batch norm running statistics), sharing its memory (buffers()). */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }
  /** Parameters and buffers by PyTorch key name (conv1.weight, bn1.running_mean), detached, sharing storage. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, t] of pairs(native.jit_state_dict(this.live('stateDict')))) out[k] = t;
    return out;
  }

  /** Training mode (dropout active, batch norm updating its statistics) for this module and its submodules. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`ScriptModule.train: expected a boolean but received ${typeOfValue(mode)}`);
    const m = this.live('train');
    this.idle(mode ? 'train' : 'eval');
    native.jit_train(m, mode);
    return this;
  }
  /** Evaluation mode, train(false): dropout off, batch norm using its running statistics (torch.nn.Module.eval). */
  eval(): this {
    return this.train(false);
  }
  /** As saved by PyTorch until train()/eval() is called (a module saved without .eval() is in training mode). */
  get training(): boolean {
    return native.jit_is_training(this.live('training'));
  }

  /**
   * Moves and/or casts parameters and buffers in place: to('cuda'), to('float64'), to({ device, dtype }).
   * Integer buffers keep their dtype. Tensors got from namedParameters() etc. before still share the
   * module's memory, but their cached dtype and device are stale: read them again.
   */
  to(target: DType | DeviceLike | { dtype?: DType; device?: DeviceLike }): this {
    let dtype: DType | undefined;
    let device: string | undefined;
    if (typeof target === 'string' && isDtypeName(target)) {
      dtype = parseDtype(target, 'ScriptModule.to');
    } else if (typeof target === 'string') {
      device = deviceString(target, 'ScriptModule.to');
    } else if (target !== null && typeof target === 'object' && !isPlainObject(target)) {
      device = deviceString(target as DeviceLike, 'ScriptModule.to');
    } else if (target !== null && typeof target === 'object') {
      const o = target as { dtype?: unknown; device?: unknown };
      if (o.dtype !== undefined) dtype = parseDtype(o.dtype, 'ScriptModule.to');
      if (o.device !== undefined) device = deviceString(o.device as DeviceLike, 'ScriptModule.to');
    } else {
      throw new TypeError(`ScriptModule.to: expected a dtype ('float64'), a device ('cuda') or { dtype, device } but received ${typeOfValue(target)}`);
    }
    if (dtype !== undefined && !isFloating(dtype)) {
      throw new TypeError(`ScriptModule.to: a module can only be cast to a floating dtype, not ${dtype}`);
    }
    if (device?.startsWith('cuda') && !native.cuda_is_available()) {
      throw new Error(`ScriptModule.to: device '${device}' was requested but CUDA is not available (nt.cuda.isAvailable() is false)`);
    }
    const m = this.live('to');
    this.idle('to');
    native.jit_to(m, device ?? null, dtype === undefined ? -1 : dtypeCode(dtype, 'ScriptModule.to'));
    return this;
  }
  /** Moves the parameters and buffers to the CPU in place; returns this (to('cpu')). */
  cpu(): this {
    return this.to('cpu');
  }
  /** Moves the parameters and buffers to CUDA device index in place; returns this (to('cuda:N')). */
  cuda(index = 0): this {
    return this.to(`cuda:${index}`);
  }

  /**
   * Writes the module as torch.jit.save does (a zip archive that Python's torch.jit.load and
   * nt.jit.load read), atomically: the file is the old one or the whole new one, never a part.
   */
  async save(file: string): Promise<void> {
    const stack = callerStack(this.save);
    try {
      if (typeof file !== 'string' || file === '') {
        throw new TypeError(`ScriptModule.save: expected a file path (string) but received ${typeOfValue(file)}`);
      }
      const bytes = native.jit_save(this.live('save'));
      writeFileAtomicSync(file, bytes);
    } catch (e) {
      throw withStack(e, stack);
    }
  }

  /** Frees the module's weights now (calls still running finish first). Idempotent. */
  dispose(): void {
    if (this._native) native.jit_dispose(this._native);
    this._native = null;
  }
  /** Whether dispose() has been called. */
  get isDisposed(): boolean {
    return this._native === null;
  }

  /** 'ScriptModule(file)' followed by the TorchScript signature of each method, one a line. */
  toString(): string {
    if (!this._native) return 'ScriptModule(disposed)';
    return `ScriptModule(${this.file})\n${this.methods().map((m) => `  ${m.schema}`).join('\n')}`;
  }
}

const ZIP_LOCAL = 0x04034b50;

/**
 * Every storage the module's pickles declare has a data entry at least that long. libtorch 2.6
 * sizes a storage by the pickle's claim, not by its entry, so an archive whose entries were swapped
 * (CRCs intact) loaded and then read past the data in a forward (a crash in sgemm). A pickle this
 * reader cannot follow is left to libtorch, which rejects what it cannot read.
 */
async function checkStorageSizes(fh: FileHandle, entries: Map<string, ZipEntry>, bad: (m: string) => Error): Promise<void> {
  for (const e of entries.values()) {
    const m = /^([^/]+\/)(data|constants)\.pkl$/.exec(e.name);
    if (!m) continue;
    let declared: { key: string; bytes: number | null }[];
    try {
      declared = declaredStorages(await readZipFileEntry(fh, e, bad), e.name, bad);
    } catch {
      continue;
    }
    for (const d of declared) {
      const data = entries.get(`${m[1]}${m[2]}/${d.key}`);
      if (data && d.bytes !== null && data.size < d.bytes) {
        throw bad(`storage '${data.name}' holds ${data.size} bytes where ${e.name} declares ${d.bytes}`);
      }
    }
  }
}

/** Why the first bytes of a file are not a zip archive, in words a user can act on. */
function notZip(head: Buffer): string {
  const text = head.toString('latin1');
  if (head[0] === 0x80) return 'it looks like a legacy torch.save() pickle, not a TorchScript archive';
  if (text.startsWith('version https://git-lfs')) return 'it is a Git LFS pointer: fetch the real file with `git lfs pull`';
  if (text.startsWith('<')) return 'it looks like an HTML or XML page (a failed download?)';
  if (text.startsWith('{') || text.startsWith('[')) return 'it looks like JSON';
  if (text.startsWith('\x89HDF')) return 'it is an HDF5 file (Keras .h5?), not TorchScript';
  if (text.startsWith('\x08') || text.startsWith('ONNX')) return 'it may be an ONNX model, which TorchScript cannot load';
  return 'it does not start with a zip header (PK)';
}

async function checkFile(file: string, opts: MaxBytesOptions): Promise<string> {
  const abs = path.resolve(file);
  const { fh, size } = await openRegular(abs, 'jit.load', ', not a TorchScript file (a .pt saved by torch.jit.save)').catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new Error(`jit.load: no such file '${file}' (resolved to ${abs})`) : e;
  });
  try {
    // the archive's tensors are stored uncompressed: what loading allocates follows the file's size
    checkBudget(size, maxBytesFor(opts, size, 'jit.load'), 'the archive', 'jit.load', file);
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    if (bytesRead >= 4 && head.readUInt32LE(0) !== ZIP_LOCAL) {
      throw new Error(`jit.load: '${file}' is not a TorchScript archive (the zip file torch.jit.save writes): ${notZip(head.subarray(0, bytesRead))}`);
    }
    // a zip holds at least a local header and an end-of-central-directory record
    if (size < 22) throw new Error(`jit.load: '${file}' is not a TorchScript archive: it is only ${size} bytes long`);
    // the one zip reader (lib/io/zip.ts) checks the directory and every entry's CRC-32 before
    // libtorch reads the file (libtorch 1.13 reads stored entries without checking their CRC)
    const bad = (m: string): Error => new Error(`jit.load: '${file}' is not a readable TorchScript archive: the zip file is damaged or truncated: ${m}`);
    const entries = await checkZipFile(fh, size, bad);
    await checkStorageSizes(fh, entries, bad);
  } finally {
    await fh.close();
  }
  return abs;
}

/**
 * Loads a TorchScript module saved by PyTorch (`torch.jit.trace(model, x).save(file)` or
 * `torch.jit.script(model).save(file)`), on a worker thread. Errors name the file: missing, not
 * a zip archive, damaged, not TorchScript (a torch.save() checkpoint) or saved by a newer PyTorch.
 *
 * **Load only files you trust.** A TorchScript archive is a program: loading it compiles the code
 * stored in it and forward() runs that code with this process's rights, as torch.jit.load does in
 * Python. A damaged file is refused with an error, but a hostile one is out of scope.
 *
 *     const ts = await nt.jit.load('traced.pt');
 *     ts.eval();
 *     const y = await ts.forward(x) as nt.Tensor;
 */
export async function load(file: string, opts: LoadOptions = {}): Promise<ScriptModule> {
  const stack = callerStack(load);
  try {
    if (typeof file !== 'string' || file === '') {
      throw new TypeError(`jit.load: expected a file path (string) but received ${typeOfValue(file)}`);
    }
    if (opts === null || typeof opts !== 'object') {
      throw new TypeError(`jit.load: expected an options object ({ device }) but received ${typeOfValue(opts)}`);
    }
    const device = opts.device === undefined ? null : deviceString(opts.device, 'jit.load');
    if (device?.startsWith('cuda') && !native.cuda_is_available()) {
      throw new Error(`jit.load: device '${device}' was requested but CUDA is not available (nt.cuda.isAvailable() is false)`);
    }
    const abs = await checkFile(file, opts);
    return new ScriptModule(await native.jit_load(abs, device), file);
  } catch (e) {
    throw withStack(e, stack);
  }
}

/**
 * Compiles TorchScript source into a module, like torch.jit.CompilationUnit: each `def` taking
 * `self` first becomes a method.
 *
 *     const m = nt.jit.compile('def forward(self, x):\n    return x * 2\n');
 */
export function compile(source: string): ScriptModule {
  if (typeof source !== 'string') throw new TypeError(`jit.compile: expected TorchScript source (string) but received ${typeOfValue(source)}`);
  // TorchScript's parser wants the last line ended
  return new ScriptModule(native.jit_compile(source.endsWith('\n') ? source : `${source}\n`), '<compiled>');
}

/** What a traced forward takes: one example Tensor, or an array of them (Python's tuple). */
export type TraceInputs = Tensor | Tensor[];

/** A Keras model as the tracer sees it: its call() and its layers' internal weights (lib/keras). */
interface KerasLike {
  call(x: Tensor | Tensor[], opts?: { training?: boolean }): unknown;
  layers: { name: string; weightsInternal(): { name: string; tensor: Tensor; trainable: boolean }[] }[];
}

function isKeras(m: unknown): m is KerasLike {
  return m !== null && (typeof m === 'object' || typeof m === 'function') && typeof (m as KerasLike).call === 'function' &&
    Array.isArray((m as KerasLike).layers) && !(m instanceof Module);
}

/** A dotted TorchScript attribute path from a parameter name: each part an identifier-safe word. */
function attrPath(parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9_]/g, '_') || '_').join('.');
}

/**
 * Records a TorchScript module by running the forward of an nn.Module or a Keras model once on
 * example inputs under libtorch's tracer (torch.jit.trace): every tensor op the forward runs is
 * recorded, parameters and buffers become the module's attributes (their PyTorch / '<layer>.<weight>'
 * names), and the result runs on nt.jit and, once saved, in Python's torch.jit.load.
 *
 * As in PyTorch the trace records one path: control flow on tensor values, and values read into JS
 * (item(), dataSync()), are refused with an error, since the trace would freeze them as constants.
 * The forward must run synchronously, on this thread (not an async predict()).
 *
 *     const traced = nt.jit.trace(net, [x]);   // or nt.jit.trace(kerasModel, x)
 *     await traced.save('net.pt');             // torch.jit.load('net.pt') in Python
 */
export function trace(moduleOrModel: Module | KerasLike, exampleInputs: TraceInputs): ScriptModule {
  const where = 'jit.trace';
  const keras = isKeras(moduleOrModel);
  if (!(moduleOrModel instanceof Module) && !keras) {
    throw new TypeError(`${where}: expected an nn.Module or a Keras model (argument 1) but received ${describe(moduleOrModel)}`);
  }
  const inputs = exampleInputs instanceof Tensor ? [exampleInputs] : exampleInputs;
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new TypeError(`${where}: expected exampleInputs (argument 2) to be a Tensor or a non-empty array of Tensors but received ${describe(exampleInputs)}`);
  }
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${where}: exampleInputs[${i}] is ${describe(t)}; expected a Tensor`);
    if (t.isDisposed) throw new TypeError(`${where}: exampleInputs[${i}] is a disposed Tensor: it was freed by dispose() or tidy()`);
  });
  const names: string[] = [];
  const tensors: Handle[] = [];
  const buffers: boolean[] = [];
  let training: boolean;
  let forward: (xs: Tensor[]) => unknown;
  if (keras) {
    const model = moduleOrModel as KerasLike;
    for (const l of model.layers) {
      for (const w of l.weightsInternal()) {
        names.push(attrPath([l.name, ...w.name.split('/')]));
        tensors.push(w.tensor._h);
        buffers.push(!w.trainable);
      }
    }
    training = false;
    forward = (xs) => model.call(xs.length === 1 ? xs[0] : xs, { training: false });
  } else {
    const m = moduleOrModel as Module;
    const seen = new Set<Handle>();
    const add = (name: string, t: Tensor, buffer: boolean): void => {
      if (seen.has(t._h)) return; // shared (tied) weights are one attribute, as in PyTorch
      seen.add(t._h);
      names.push(attrPath(name.split('.')));
      tensors.push(t._h);
      buffers.push(buffer);
    };
    for (const [n, p] of m.namedParameters()) add(n, p, false);
    for (const [n, b] of m.namedBuffers()) add(n, b, true);
    training = m.training;
    forward = (xs) => (m as unknown as (...a: Tensor[]) => unknown)(...xs);
  }
  const obj = tidy(() => native.jit_trace((handles: Handle[]) => {
    const out = forward(handles.map(wrap));
    if (out !== null && typeof out === 'object' && typeof (out as { then?: unknown }).then === 'function') {
      throw new TypeError(`${where}: the forward returned a Promise; a traced forward must run synchronously (its ops on this thread)`);
    }
    const list = out instanceof Tensor ? [out] : out;
    if (!Array.isArray(list) || list.length === 0 || !list.every((t) => t instanceof Tensor && !t.isDisposed)) {
      throw new TypeError(`${where}: the forward returned ${describe(out)}; expected a Tensor or an array of Tensors`);
    }
    const hs = (list as Tensor[]).map((t) => t._h) as Handle[] & { single?: boolean };
    hs.single = out instanceof Tensor;
    return hs;
  }, inputs.map((t) => t._h), names, tensors, buffers, training));
  return new ScriptModule(obj, '<traced>');
}

/** The Keras model's side of export(path, { format: 'torchscript' }): what it must offer. */
interface KerasExportable extends KerasLike {
  built: boolean;
  build(...inputShape: never[]): void;
  inputs: { shape: (number | null)[]; dtype: DType }[];
  getBuildConfig(): { inputShape: number[] } | null;
}

/**
 * Keras' model.export(path, { format: 'torchscript' }): traces the model (trace() above) on a
 * batch of one zero example of its input shape(s) and saves it atomically; the file loads in
 * Python's torch.jit.load and nt.jit.load.
 */
export async function exportTorchScript(model: KerasExportable, file: string, opts: { format?: string } = {}): Promise<void> {
  const where = 'export';
  if (typeof file !== 'string' || file === '') throw new TypeError(`${where}: expected a file path but received ${typeOfValue(file)}`);
  const unknown = Object.keys(opts).filter((k) => k !== 'format');
  if (unknown.length) throw new TypeError(`${where}: unknown option '${unknown[0]}' for format 'torchscript' (known: format)`);
  if (!model.built && model.inputs.length === 0 && !model.getBuildConfig()) {
    // a Sequential whose first layer declares inputShape builds from it
    try {
      (model.build as () => void)();
    } catch (e) {
      throw new Error(`${where}: the model is not built, so its input shape is unknown (${(e as Error).message})`);
    }
  }
  const specs: { shape: (number | null)[]; dtype: DType }[] = model.inputs.length > 0 ? model.inputs
    : model.getBuildConfig() ? [{ shape: model.getBuildConfig()!.inputShape, dtype: 'float32' }] : [];
  if (specs.length === 0) {
    throw new Error(`${where}: the model is not built, so its input shape is unknown; call it on data or build(inputShape) first`);
  }
  const examples = specs.map((s) => zeros([1, ...s.shape.map((d) => d ?? 1)], { dtype: s.dtype }));
  try {
    const traced = trace(model, examples);
    try {
      await traced.save(file);
    } finally {
      traced.dispose();
    }
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('jit.trace: ')) e.message = `${where}: ${e.message.slice('jit.trace: '.length)}`;
    throw e;
  } finally {
    examples.forEach((t) => t.dispose());
  }
}
