// nn.DistributedDataParallel: torch.nn.parallel.DistributedDataParallel over nt.distributed. The
// gradient averaging lives in native code (native/distributed.cc's reducer): hooks on the gradient
// accumulators start bucketed allreduces while backward is still running.
import { distributedNative as dist, NativeObject } from '../native';
import { Tensor, typeOfValue } from '../tensor';
import { defaultGroup, ProcessGroup } from '../distributed';
import { Module } from './module';

/** Options of nn.DistributedDataParallel (torch.nn.parallel.DistributedDataParallel keyword arguments). */
export interface DistributedDataParallelOptions {
  /** bucket size for gradient allreduce, in MiB (default 25, PyTorch's) */
  bucketCapMb?: number;
  /** allow parameters that get no gradient in a backward pass (default false) */
  findUnusedParameters?: boolean;
  /** broadcast rank 0's buffers (running statistics) before each training forward (default true) */
  broadcastBuffers?: boolean;
  /** default: the default group from nt.distributed.init() */
  processGroup?: ProcessGroup;
}

// PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES: a small first bucket so communication starts early.
const FIRST_BUCKET_BYTES = 1024 * 1024;

/**
 * Wraps a module for data-parallel training: rank 0's parameters and buffers are broadcast at
 * construction (a blocking step, bounded by the group's timeout), and every backward pass averages
 * the gradients across ranks before it returns. Call it like the module (`ddp.forward(x)`, or
 * `ddp(x)` where modules are callable); `ddp.module` is the wrapped module.
 */
export class DistributedDataParallel<M extends Module = Module> extends Module {
  /** The wrapped module (torch DDP's .module). */
  readonly module: M;
  /** @internal */ readonly _group: ProcessGroup;
  /** @internal */ readonly _reducer: NativeObject;
  private readonly broadcastBuffers: boolean;

  constructor(module: M, options?: DistributedDataParallelOptions) {
    super();
    if (!(module instanceof Module)) {
      throw new TypeError(`DistributedDataParallel: expected an nn.Module for module but received ${typeOfValue(module)}`);
    }
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`DistributedDataParallel: expected an options object but received ${typeOfValue(options)}`);
    }
    const o = options ?? {};
    const cap = o.bucketCapMb ?? 25;
    if (typeof cap !== 'number' || !(cap > 0) || !Number.isFinite(cap)) {
      throw new TypeError(`DistributedDataParallel: expected bucketCapMb to be a positive number but received ${typeOfValue(cap)}` +
        (typeof cap === 'number' ? ` ${cap}` : ''));
    }
    for (const k of ['findUnusedParameters', 'broadcastBuffers'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'boolean') {
        throw new TypeError(`DistributedDataParallel: expected ${k} to be a boolean but received ${typeOfValue(o[k])}`);
      }
    }
    if (o.processGroup !== undefined && !(o.processGroup instanceof ProcessGroup)) {
      throw new TypeError('DistributedDataParallel: expected processGroup to be a ProcessGroup (from nt.distributed.newGroup) ' +
        `but received ${typeOfValue(o.processGroup)}`);
    }
    const group = o.processGroup ?? defaultGroup();
    this.module = this.register('module', module);
    this._group = group;
    this.broadcastBuffers = o.broadcastBuffers ?? true;
    const params = module.parameters().filter((p) => p.requiresGrad);
    if (params.length === 0) {
      throw new Error('DistributedDataParallel: the module has no parameters that require gradients; there is nothing to average');
    }
    const state = [...module.parameters(), ...module.buffers()];
    if (group.size() > 1 && state.length) dist.ddp_broadcast_(group._native, state.map((t) => t._h), 0);
    const capBytes = Math.round(cap * 1024 * 1024);
    this._reducer = dist.ddp_create(group._native, params.map((p) => p._h), capBytes, Math.min(FIRST_BUCKET_BYTES, capBytes),
      o.findUnusedParameters ?? false);
  }

  /** Runs the wrapped module's forward (after broadcasting rank 0's buffers when training). */
  forward(...args: unknown[]): unknown {
    if (this.broadcastBuffers && this.training && this._group.size() > 1) {
      const buffers = this.module.buffers();
      if (buffers.length) dist.ddp_broadcast_(this._group._native, buffers.map((t) => t._h), 0);
    }
    return (this.module.forward as (...a: unknown[]) => unknown)(...args);
  }

  /**
   * Runs fn with gradient averaging off (PyTorch's no_sync()): its backward passes only accumulate
   * into .grad locally; the next backward outside noSync averages the accumulated gradients.
   * fn may be async; averaging resumes when its promise settles.
   */
  noSync<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new TypeError(`DistributedDataParallel.noSync: expected a function but received ${typeOfValue(fn)}`);
    const prev = dist.ddp_set_sync(this._reducer, false);
    let r: T;
    try {
      r = fn();
    } catch (e) {
      dist.ddp_set_sync(this._reducer, prev);
      throw e;
    }
    if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
      return (r as unknown as Promise<unknown>).finally(() => dist.ddp_set_sync(this._reducer, prev)) as T;
    }
    dist.ddp_set_sync(this._reducer, prev);
    return r;
  }

  /** @internal the reducer's buckets (parameter indices) and where their allreduces started */
  _reducerInfo(): { buckets: number[][]; launchedInBackward: number; launchedAtEnd: number } {
    return dist.ddp_info(this._reducer);
  }

  /** Empty: DDP adds nothing of its own to the printed module (torch.nn.Module.extra_repr). */
  extraRepr(): string {
    return '';
  }
}

export type { Tensor };
