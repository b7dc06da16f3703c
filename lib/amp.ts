// PyTorch's automatic mixed precision face: nt.autocast over libtorch's thread-local autocast
// (native/amp.cc) and nt.amp.GradScaler (torch.amp.GradScaler's dynamic loss scaling).
/**
 * PyTorch's automatic mixed precision (torch.amp): autocast and GradScaler.
 * @module
 */
import { noGrad } from './autograd';
import { tidy } from './memory';
import { native } from './native';
import type { Optimizer } from './optim/optimizer';
import { Tensor, typeOfValue } from './tensor';
import * as check from './util/check';

/** torch.autocast's arguments. */
export interface AutocastOptions {
  /** 'cpu' or 'cuda' */
  deviceType: 'cpu' | 'cuda';
  /** the lower precision: 'bfloat16' (the CPU default) or 'float16' (the CUDA default) */
  dtype?: 'bfloat16' | 'float16';
  /** false runs fn with autocast off for this device type (default true) */
  enabled?: boolean;
}

/**
 * torch.autocast: runs fn with eligible ops (matmul, linear, convolutions) computing in a lower
 * precision on deviceType, and restores the previous state when fn returns. Call forms:
 * `autocast({ deviceType, dtype, enabled }, fn)`, `autocast('cpu', fn)`, `autocast('cpu', { dtype }, fn)`.
 * fn must be synchronous: libtorch's autocast state belongs to the thread, not to an async chain.
 */
export function autocast<T>(options: AutocastOptions, fn: () => T): T;
export function autocast<T>(deviceType: 'cpu' | 'cuda', fn: () => T): T;
export function autocast<T>(deviceType: 'cpu' | 'cuda', options: Omit<AutocastOptions, 'deviceType'>, fn: () => T): T;
export function autocast<T>(...args: unknown[]): T {
  const W = 'autocast';
  const fn = args[args.length - 1];
  if (typeof fn !== 'function') throw new TypeError(`${W}: expected the last argument to be the function to run but received ${typeOfValue(fn)}`);
  const head = args.slice(0, -1);
  let opts: Record<string, unknown>;
  if (typeof head[0] === 'string') {
    if (head.length > 2) throw new TypeError(`${W}: expected (deviceType, options?, fn) but received ${args.length} arguments`);
    opts = { ...check.options(W, head[1], ['dtype', 'enabled']), deviceType: head[0] };
  } else {
    if (head.length !== 1) throw new TypeError(`${W}: expected ({ deviceType, dtype?, enabled? }, fn) but received ${args.length} arguments`);
    opts = check.options(W, head[0], ['deviceType', 'dtype', 'enabled']);
  }
  const deviceType = check.oneOf(W, 'deviceType', opts.deviceType, ['cpu', 'cuda'] as const);
  const dtype = check.oneOf(W, 'dtype', opts.dtype, ['bfloat16', 'float16'] as const, deviceType === 'cpu' ? 'bfloat16' : 'float16');
  const enabled = check.boolean(W, 'enabled', opts.enabled, true);
  const prev = native.autocast_get(deviceType);
  native.autocast_set(deviceType, enabled, enabled ? dtype : prev.dtype);
  native.autocast_enter();
  let r: unknown;
  try {
    r = (fn as () => unknown)();
  } finally {
    native.autocast_exit();
    native.autocast_set(deviceType, prev.enabled, prev.dtype);
  }
  if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
    throw new TypeError(`${W}: fn returned a Promise; autocast regions must be synchronous (libtorch's autocast state is per thread, ` +
      'so the work after an await would run outside the region): autocast the forward pass only');
  }
  return r as T;
}

/** Whether autocast is on for a device type on this thread (torch.is_autocast_enabled). */
export function isAutocastEnabled(deviceType: 'cpu' | 'cuda' = 'cpu'): boolean {
  return native.autocast_get(check.oneOf('isAutocastEnabled', 'deviceType', deviceType, ['cpu', 'cuda'] as const)).enabled;
}

/** torch.amp.GradScaler's options (camelCase; snake_case accepted). */
export interface GradScalerOptions {
  /** the first scale (default 2 ** 16) */
  initScale?: number;
  /** the factor the scale grows by after growthInterval steps without inf/NaN gradients (default 2) */
  growthFactor?: number;
  /** the factor the scale shrinks by after a step with inf/NaN gradients (default 0.5) */
  backoffFactor?: number;
  /** finite steps between growths (default 2000) */
  growthInterval?: number;
  /** false makes every method a pass-through (default true) */
  enabled?: boolean;
}

type Stage = 'ready' | 'unscaled' | 'stepped';

/**
 * torch.amp.GradScaler: scales the loss so small float16 gradients survive, unscales the gradients
 * before the step, skips steps whose gradients hold inf/NaN and adapts the scale.
 * `scaler.scale(loss).backward(); scaler.step(opt); scaler.update();`
 */
export class GradScaler {
  private scaleValue: number;
  private readonly growthFactor: number;
  private readonly backoffFactor: number;
  private readonly growthInterval: number;
  private readonly enabled: boolean;
  private growthTracker = 0;
  private readonly perOptimizer = new Map<Optimizer, { stage: Stage; foundInf: boolean }>();

  /** `new GradScaler()`, `new GradScaler('cuda', { initScale })` or `new GradScaler({ initScale })`. */
  constructor(device?: string | GradScalerOptions, options?: GradScalerOptions) {
    const W = 'amp.GradScaler';
    if (typeof device !== 'string') {
      options = device;
      device = 'cuda';
    }
    check.oneOf(W, 'device', device, ['cuda', 'cpu'] as const);
    const o = check.options(W, options, ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval', 'enabled']);
    this.scaleValue = check.positiveNumber(W, 'initScale', o.initScale, 65536);
    this.growthFactor = check.positiveNumber(W, 'growthFactor', o.growthFactor, 2);
    this.backoffFactor = check.positiveNumber(W, 'backoffFactor', o.backoffFactor, 0.5);
    if (!(this.growthFactor > 1)) throw new RangeError(`${W}: expected growthFactor to be > 1 but received ${this.growthFactor}`);
    if (!(this.backoffFactor < 1)) throw new RangeError(`${W}: expected backoffFactor to be < 1 but received ${this.backoffFactor}`);
    this.growthInterval = check.positiveInt(W, 'growthInterval', o.growthInterval, 2000);
    this.enabled = check.boolean(W, 'enabled', o.enabled, true);
  }

  /** The outputs (a loss, or an array of them) times the current scale; unchanged when disabled. */
  scale<T extends Tensor | Tensor[]>(outputs: T): T {
    if (Array.isArray(outputs)) return outputs.map((t) => this.scale(t)) as T;
    if (!(outputs instanceof Tensor)) throw new TypeError(`GradScaler.scale: expected a Tensor or an array of Tensors but received ${typeOfValue(outputs)}`);
    return (this.enabled ? outputs.mul(this.scaleValue) : outputs) as T;
  }

  /** Divides the optimizer's gradients by the scale in place and records whether any is inf/NaN. */
  unscale_(optimizer: Optimizer): void {
    if (!this.enabled) return;
    const st = this.state('GradScaler.unscale_', optimizer);
    if (st.stage === 'unscaled') throw new Error('GradScaler.unscale_: unscale_() has already been called on this optimizer since the last update()');
    if (st.stage === 'stepped') throw new Error('GradScaler.unscale_: unscale_() is being called after step()');
    const inv = 1 / this.scaleValue;
    let foundInf = false;
    noGrad(() => tidy(() => {
      for (const g of optimizer.paramGroups) {
        for (const p of g.params) {
          const grad = p.grad;
          if (!grad) continue;
          grad.mul_(inv);
          if (!Number.isFinite(grad.abs().max().item() as number)) foundInf = true;
        }
      }
    }));
    st.stage = 'unscaled';
    st.foundInf = foundInf;
  }

  /** optimizer.step() unless the unscaled gradients hold inf/NaN (then the step is skipped); unscales first if needed. */
  step(optimizer: Optimizer): void {
    if (!this.enabled) {
      optimizer.step();
      return;
    }
    const st = this.state('GradScaler.step', optimizer);
    if (st.stage === 'stepped') throw new Error('GradScaler.step: step() has already been called since the last update()');
    if (st.stage === 'ready') this.unscale_(optimizer);
    if (!st.foundInf) optimizer.step();
    st.stage = 'stepped';
  }

  /** Adapts the scale (backoff after an inf/NaN, growth after growthInterval clean steps), or sets newScale. */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      this.scaleValue = check.positiveNumber('GradScaler.update', 'newScale', newScale);
    } else {
      const states = [...this.perOptimizer.values()].filter((s) => s.stage !== 'ready');
      if (!states.length) throw new Error('GradScaler.update: no inf checks were recorded prior to update(); call step() (or unscale_()) first');
      if (states.some((s) => s.foundInf)) {
        this.scaleValue *= this.backoffFactor;
        this.growthTracker = 0;
      } else if (++this.growthTracker === this.growthInterval) {
        this.scaleValue *= this.growthFactor;
        this.growthTracker = 0;
      }
    }
    this.perOptimizer.clear();
  }

  /** The current scale (1 when disabled), as PyTorch's get_scale. */
  getScale(): number {
    return this.enabled ? this.scaleValue : 1;
  }
  /** Whether the scaler is enabled. */
  isEnabled(): boolean {
    return this.enabled;
  }
  /** PyTorch's state_dict keys. */
  stateDict(): Record<string, number> {
    if (!this.enabled) return {};
    return { scale: this.scaleValue, growth_factor: this.growthFactor, backoff_factor: this.backoffFactor,
      growth_interval: this.growthInterval, _growth_tracker: this.growthTracker };
  }
  /** Restores the scale and growth tracker from stateDict(). */
  loadStateDict(sd: Record<string, number>): void {
    if (!this.enabled) return;
    this.scaleValue = check.positiveNumber('GradScaler.loadStateDict', 'scale', sd?.scale);
    this.growthTracker = check.nonNegativeInt('GradScaler.loadStateDict', '_growth_tracker', sd?._growth_tracker, 0);
  }

  /** PyTorch's get_scale. */
  get_scale(): number {
    return this.getScale();
  }
  /** PyTorch's is_enabled. */
  is_enabled(): boolean {
    return this.isEnabled();
  }
  /** PyTorch's state_dict. */
  state_dict(): Record<string, number> {
    return this.stateDict();
  }
  /** PyTorch's load_state_dict. */
  load_state_dict(sd: Record<string, number>): void {
    this.loadStateDict(sd);
  }

  private state(where: string, optimizer: Optimizer): { stage: Stage; foundInf: boolean } {
    if (optimizer === null || typeof optimizer !== 'object' || !Array.isArray((optimizer as { paramGroups?: unknown }).paramGroups)) {
      throw new TypeError(`${where}: expected an nt.optim optimizer but received ${typeOfValue(optimizer)}`);
    }
    let st = this.perOptimizer.get(optimizer);
    if (!st) this.perOptimizer.set(optimizer, (st = { stage: 'ready', foundInf: false }));
    return st;
  }
}
