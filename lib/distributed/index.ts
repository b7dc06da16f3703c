// nt.distributed: PyTorch's c10d process groups (torch.distributed) for data-parallel training.
// init() rendezvouses through c10d's TCPStore exactly as init_process_group('gloo', 'env://') does,
// so Node and Python ranks can share one group; collectives work in place and resolve off the
// event loop. Launch ranks with `npx nodetorch run` (or torchrun).
import { distributedNative as dist, NativeObject } from '../native';
import { checkTensor, Tensor, typeOfValue, wrap } from '../tensor';
import { isFloating } from '../dtype';
import { stack } from '../ops';

/** A process group backend: 'gloo' (CPU) or 'nccl' (CUDA) (torch.distributed.Backend). */
export type Backend = 'gloo' | 'nccl';
/** How a reduction combines the ranks' values (torch.distributed.ReduceOp, as a string). */
export type ReduceOpName = 'sum' | 'avg' | 'product' | 'max' | 'min';
/** torch.distributed.ReduceOp's members, as the strings every collective accepts. */
export const ReduceOp = Object.freeze({ SUM: 'sum', AVG: 'avg', PRODUCT: 'product', MAX: 'max', MIN: 'min' } as const);

/** Options of init() (torch.distributed.init_process_group); unset ones come from the launcher's environment. */
export interface InitOptions {
  /** 'gloo' (CPU, the default) or 'nccl' (CUDA builds) */
  backend?: Backend;
  /** how long a collective or the rendezvous may wait for a peer (default 1800000, PyTorch's 30 minutes) */
  timeoutMs?: number;
  /** default: WORLD_SIZE */
  worldSize?: number;
  /** default: RANK */
  rank?: number;
  /** default: MASTER_ADDR, else 127.0.0.1 */
  masterAddr?: string;
  /** default: MASTER_PORT, else 29500 */
  masterPort?: number;
}

/** A group of ranks that run collectives together (the default group, or one from newGroup). */
export class ProcessGroup {
  /** @internal */
  constructor(/** @internal */ readonly _native: NativeObject, /** the global ranks in the group, by group rank */
    readonly ranks: readonly number[]) {}
  /** This process's rank within the group. */
  rank(): number { return dist.dist_group_info(this._native).rank; }
  /** The number of ranks in the group (torch.distributed.get_world_size(group)). */
  size(): number { return this.ranks.length; }
  /** The group's backend, 'gloo' or 'nccl' (torch.distributed.get_backend(group)). */
  get backend(): Backend { return dist.dist_group_info(this._native).backend as Backend; }
  /** A summary such as 'ProcessGroup(gloo, ranks [0, 1])'. */
  toString(): string { return `ProcessGroup(${this.backend}, ranks [${this.ranks.join(', ')}])`; }
}

interface World { group: ProcessGroup; rank: number; size: number; localRank: number; backend: Backend; timeoutMs: number }
let world: World | null = null;
let initializing = false;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new TypeError(`init: expected the environment variable ${name} to be an integer but it is '${v}'`);
  return n;
}

function intOpt(v: unknown, op: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  throw new TypeError(`${op}: expected ${name} to be ${range} but received ${typeOfValue(v)}${typeof v === 'number' ? ` ${v}` : ''}`);
}

function checkOptions(v: unknown, op: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${op}: expected an options object but received ${typeOfValue(v)}`);
  return v as Record<string, unknown>;
}

/** Which backends this build of nodetorch has. */
export function isAvailable(): boolean { return dist.dist_available().gloo || dist.dist_available().nccl; }
/** Whether this build has the gloo (CPU) backend (torch.distributed.is_gloo_available). */
export function isGlooAvailable(): boolean { return dist.dist_available().gloo; }
/** Whether this build has the nccl (CUDA) backend (torch.distributed.is_nccl_available). */
export function isNcclAvailable(): boolean { return dist.dist_available().nccl; }
/** Whether init() has completed and destroy() has not been called since (torch.distributed.is_initialized). */
export function isInitialized(): boolean { return world !== null; }

/**
 * Joins the default process group (torch.distributed.init_process_group with init_method 'env://').
 * Options default from torchrun's variables: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (LOCAL_RANK
 * for getLocalRank). Resolves once every rank has joined; rejects after timeoutMs otherwise.
 */
export async function init(options?: InitOptions): Promise<void> {
  const o = checkOptions(options, 'init');
  if (world || initializing) throw new Error('init: the default process group is already initialized; call destroy() first');
  const backend = o.backend ?? 'gloo';
  if (backend !== 'gloo' && backend !== 'nccl') {
    throw new TypeError(`init: expected backend to be 'gloo' or 'nccl' but received ${typeOfValue(backend)}`);
  }
  const worldSize = o.worldSize ?? envInt('WORLD_SIZE');
  if (worldSize === undefined) {
    throw new Error('init: worldSize is not set: pass { worldSize } or set WORLD_SIZE (npx nodetorch run sets it)');
  }
  intOpt(worldSize, 'init', 'worldSize', 1);
  const rank = o.rank ?? envInt('RANK');
  if (rank === undefined) throw new Error('init: rank is not set: pass { rank } or set RANK (npx nodetorch run sets it)');
  intOpt(rank, 'init', 'rank', 0, (worldSize as number) - 1);
  const masterAddr = o.masterAddr ?? process.env.MASTER_ADDR ?? '127.0.0.1';
  if (typeof masterAddr !== 'string' || masterAddr === '') {
    throw new TypeError(`init: expected masterAddr to be a host name or address but received ${typeOfValue(masterAddr)}`);
  }
  const masterPort = intOpt(o.masterPort ?? envInt('MASTER_PORT') ?? 29500, 'init', 'masterPort', 0, 65535);
  const timeoutMs = intOpt(o.timeoutMs ?? 1800000, 'init', 'timeoutMs', 1);
  const localRank = envInt('LOCAL_RANK') ?? 0;
  initializing = true;
  try {
    const g = await dist.dist_init({
      backend, rank: rank as number, worldSize: worldSize as number, masterAddr, masterPort, timeoutMs,
      agentStore: process.env.TORCHELASTIC_USE_AGENT_STORE === 'True',
      attempt: process.env.TORCHELASTIC_RESTART_COUNT ?? '0',
    });
    const ranks = Array.from({ length: worldSize as number }, (_, i) => i);
    world = { group: new ProcessGroup(g, ranks), rank: rank as number, size: worldSize as number, localRank, backend, timeoutMs };
  } finally {
    initializing = false;
  }
}

function needWorld(op: string): World {
  if (!world) throw new Error(`${op}: the default process group is not initialized: await nt.distributed.init() first`);
  return world;
}

/** The default group (torch.distributed.group.WORLD). */
export function defaultGroup(): ProcessGroup { return needWorld('defaultGroup').group; }

/** This process's rank in the default group, or in group (torch.distributed.get_rank). */
export function getRank(group?: ProcessGroup | null): number {
  const w = needWorld('getRank');
  return group ? checkGroup(group, 'getRank').rank() : w.rank;
}
/** The number of ranks in the default group, or in group (torch.distributed.get_world_size). */
export function getWorldSize(group?: ProcessGroup | null): number {
  const w = needWorld('getWorldSize');
  return group ? checkGroup(group, 'getWorldSize').size() : w.size;
}
/** This process's rank on its machine (LOCAL_RANK, set by the launcher); 0 when unset. */
export function getLocalRank(): number {
  return world ? world.localRank : envInt('LOCAL_RANK') ?? 0;
}
/** The backend of the default group, or of group (torch.distributed.get_backend). */
export function getBackend(group?: ProcessGroup | null): Backend {
  const w = needWorld('getBackend');
  return group ? checkGroup(group, 'getBackend').backend : w.backend;
}

function checkGroup(g: unknown, op: string): ProcessGroup {
  if (g instanceof ProcessGroup) return g;
  throw new TypeError(`${op}: expected group to be a ProcessGroup (from newGroup) but received ${typeOfValue(g)}`);
}

function groupOf(o: Record<string, unknown>, op: string): ProcessGroup {
  const w = needWorld(op);
  return o.group === undefined || o.group === null ? w.group : checkGroup(o.group, op);
}

/** A global rank's rank within the group (PyTorch's src/dst arguments are global ranks). */
function groupRank(g: ProcessGroup, rank: unknown, op: string, name: string): number {
  const r = intOpt(rank, op, name, 0, needWorld(op).size - 1);
  const i = g.ranks.indexOf(r);
  if (i < 0) throw new Error(`${op}: ${name} ${r} is not in the group (ranks [${g.ranks.join(', ')}])`);
  return i;
}

function checkCommTensor(t: unknown, op: string, name: string): Tensor {
  const x = checkTensor(t, op, name);
  if (!x.isContiguous) {
    throw new TypeError(`${op}: expected a contiguous tensor for ${name} (the collective works in place): ` +
      'call .contiguous() first and pass that tensor');
  }
  return x;
}

function checkOp(v: unknown, op: string): ReduceOpName {
  if (v === undefined) return 'sum';
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'sum' || s === 'avg' || s === 'product' || s === 'max' || s === 'min') return s;
  }
  throw new TypeError(`${op}: expected op to be 'sum', 'avg', 'product', 'max' or 'min' but received ${typeOfValue(v)}`);
}

/** Native errors raised while starting a collective, restated in the caller's terms. */
function start<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (e) {
    const msg = (e as Error).message.replace(/^\w+\(.*?\): /s, '');
    return Promise.reject(new Error(`${op}: ${msg}`));
  }
}

/** Options every collective takes: the group to run in (default: the default group). */
export interface CollectiveOptions { group?: ProcessGroup | null }
/** Options of the reducing collectives: the group and the reduction op (default 'sum'). */
export interface ReduceOptions extends CollectiveOptions { op?: ReduceOpName }

/** Reduces t across the group's ranks, in place on every rank (torch.distributed.all_reduce). Resolves to t. */
export async function allReduce(t: Tensor, options?: ReduceOptions): Promise<Tensor> {
  const o = checkOptions(options, 'allReduce');
  const g = groupOf(o, 'allReduce');
  const x = checkCommTensor(t, 'allReduce', 'tensor');
  const op = checkOp(o.op, 'allReduce');
  if (op === 'avg' && !isFloating(x.dtype)) {
    throw new TypeError(`allReduce: op 'avg' needs a floating-point tensor but tensor is ${x.dtype}`);
  }
  await start('allReduce', () => dist.dist_all_reduce(g._native, x._h, op === 'avg' ? 'sum' : op));
  if (op === 'avg') x.div_(g.size());
  return x;
}

/** Overwrites t on every rank with rank src's t (torch.distributed.broadcast). Resolves to t. */
export async function broadcast(t: Tensor, options?: CollectiveOptions & { src?: number }): Promise<Tensor> {
  const o = checkOptions(options, 'broadcast');
  const g = groupOf(o, 'broadcast');
  const x = checkCommTensor(t, 'broadcast', 'tensor');
  const src = groupRank(g, o.src ?? g.ranks[0], 'broadcast', 'src');
  await start('broadcast', () => dist.dist_broadcast(g._native, x._h, src));
  return x;
}

/** Every rank's t, by group rank (torch.distributed.all_gather, returning the list). */
export async function allGather(t: Tensor, options?: CollectiveOptions): Promise<Tensor[]> {
  const o = checkOptions(options, 'allGather');
  const g = groupOf(o, 'allGather');
  const x = checkCommTensor(t, 'allGather', 'tensor');
  const hs = await start('allGather', () => dist.dist_all_gather(g._native, x._h));
  return hs.map(wrap);
}

/**
 * Reduces inputs[i] across ranks into output on group rank i (torch.distributed.reduce_scatter):
 * inputs holds one tensor per rank, each shaped like output. Resolves to output.
 */
export async function reduceScatter(output: Tensor, inputs: Tensor[], options?: ReduceOptions): Promise<Tensor> {
  const o = checkOptions(options, 'reduceScatter');
  const g = groupOf(o, 'reduceScatter');
  const out = checkCommTensor(output, 'reduceScatter', 'output');
  if (!Array.isArray(inputs) || inputs.length !== g.size()) {
    throw new TypeError(`reduceScatter: expected inputs to be an array of ${g.size()} tensors (one per rank) but received ` +
      (Array.isArray(inputs) ? `${inputs.length}` : typeOfValue(inputs)));
  }
  const ins = inputs.map((t, i) => {
    const x = checkCommTensor(t, 'reduceScatter', `inputs[${i}]`);
    if (x.dtype !== out.dtype || x.shape.join() !== out.shape.join()) {
      throw new TypeError(`reduceScatter: inputs[${i}] is ${x.dtype} [${x.shape}] but output is ${out.dtype} [${out.shape}]`);
    }
    return x;
  });
  const op = checkOp(o.op, 'reduceScatter');
  if (op === 'avg' && !isFloating(out.dtype)) {
    throw new TypeError(`reduceScatter: op 'avg' needs a floating-point tensor but output is ${out.dtype}`);
  }
  const nativeOp = op === 'avg' ? 'sum' : op;
  if (g.backend === 'gloo') {
    // Gloo in libtorch 1.13 has no reduce_scatter: reduce every rank's inputs and keep our share.
    const all = stack(ins);
    try {
      await start('reduceScatter', () => dist.dist_all_reduce(g._native, all._h, nativeOp));
      const mine = all.index(g.rank());
      out.copy_(mine);
      mine.dispose();
    } finally {
      all.dispose();
    }
  } else {
    await start('reduceScatter', () => dist.dist_reduce_scatter(g._native, out._h, ins.map((x) => x._h), nativeOp));
  }
  if (op === 'avg') out.div_(g.size());
  return out;
}

function tagOpt(v: unknown, op: string): number {
  return v === undefined ? 0 : intOpt(v, op, 'tag', 0, 2 ** 31 - 1);
}

/** Sends t to rank dst (torch.distributed.send); `send(t, 1)` or `send(t, { dst: 1, tag })`. */
export async function send(t: Tensor, dst: number | (CollectiveOptions & { dst: number; tag?: number })): Promise<void> {
  const o = typeof dst === 'number' ? { dst } : checkOptions(dst, 'send');
  const g = groupOf(o, 'send');
  const x = checkCommTensor(t, 'send', 'tensor');
  if (o.dst === undefined) throw new TypeError('send: expected a destination rank: send(t, dst) or send(t, { dst })');
  const d = groupRank(g, o.dst, 'send', 'dst');
  if (d === g.rank()) throw new Error(`send: dst ${o.dst as number} is this rank; a rank cannot send to itself`);
  await start('send', () => dist.dist_send(g._native, x._h, d, tagOpt(o.tag, 'send')));
}

/**
 * Receives into t from rank src, or from any rank when src is omitted (torch.distributed.recv).
 * Resolves to the sender's global rank.
 */
export async function recv(t: Tensor, src?: number | (CollectiveOptions & { src?: number; tag?: number })): Promise<number> {
  const o = typeof src === 'number' ? { src } : checkOptions(src, 'recv');
  const g = groupOf(o, 'recv');
  const x = checkCommTensor(t, 'recv', 'tensor');
  const s = o.src === undefined ? -1 : groupRank(g, o.src, 'recv', 'src');
  if (s >= 0 && s === g.rank()) throw new Error(`recv: src ${o.src as number} is this rank; a rank cannot receive from itself`);
  const from = await start('recv', () => dist.dist_recv(g._native, x._h, s, tagOpt(o.tag, 'recv')));
  return g.ranks[from] ?? from;
}

/** Resolves once every rank of the group has called barrier(). */
export async function barrier(options?: CollectiveOptions): Promise<void> {
  const o = checkOptions(options, 'barrier');
  const g = groupOf(o, 'barrier');
  await start('barrier', () => dist.dist_barrier(g._native));
}

/**
 * A group of some ranks (torch.distributed.new_group). Every rank must call it, with the same
 * ranks and in the same order; ranks outside the group get null.
 */
export async function newGroup(ranks: number[], options?: { timeoutMs?: number }): Promise<ProcessGroup | null> {
  const w = needWorld('newGroup');
  const o = checkOptions(options, 'newGroup');
  if (!Array.isArray(ranks) || ranks.length === 0) {
    throw new TypeError(`newGroup: expected ranks to be a non-empty array of ranks but received ${typeOfValue(ranks)}`);
  }
  ranks.forEach((r, i) => intOpt(r, 'newGroup', `ranks[${i}]`, 0, w.size - 1));
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  if (sorted.length !== ranks.length) throw new TypeError(`newGroup: ranks [${ranks.join(', ')}] has duplicates`);
  const timeoutMs = intOpt(o.timeoutMs ?? w.timeoutMs, 'newGroup', 'timeoutMs', 1);
  const g = await dist.dist_new_group(sorted, timeoutMs);
  return g === null ? null : new ProcessGroup(g, sorted);
}

/** Leaves every process group (torch.distributed.destroy_process_group); init() may be called again. */
export async function destroy(): Promise<void> {
  world = null;
  await dist.dist_destroy();
}
