// Grad mode scoping and functional gradients.
import { native } from './native';
import { checkTensor, Tensor, wrap } from './tensor';

function withGradMode<T>(enabled: boolean, fn: () => T, op: string): T {
  if (typeof fn !== 'function') throw new TypeError(`${op}: expected a function`);
  const prev = native.set_grad_enabled(enabled);
  try {
    const r = fn();
    if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
      throw new Error(`${op}: fn returned a Promise; grad mode is per thread and only scopes synchronous code`);
    }
    return r;
  } finally {
    native.set_grad_enabled(prev);
  }
}

/** Runs fn with gradient recording off (PyTorch's torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn, 'noGrad');
}
/** Runs fn with gradient recording on, inside a noGrad() region. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn, 'enableGrad');
}
/** Whether operations record gradients on this thread (torch.is_grad_enabled). */
export function isGradEnabled(): boolean {
  return native.is_grad_enabled();
}
/** Turns gradient recording on or off on this thread (torch.set_grad_enabled). */
export function setGradEnabled(enabled: boolean): void {
  native.set_grad_enabled(!!enabled);
}

/** autograd.grad's keyword arguments. */
export interface GradOptions { gradOutputs?: Tensor[]; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean }

/** torch.autograd.grad: gradients of outputs with respect to inputs, without touching .grad. */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], opts?: GradOptions | null): (Tensor | null)[] {
  const o = opts ?? {};
  const outs = (Array.isArray(outputs) ? outputs : [outputs]).map((t, i) => checkTensor(t, 'grad', `outputs[${i}]`)._h);
  const ins = (Array.isArray(inputs) ? inputs : [inputs]).map((t, i) => checkTensor(t, 'grad', `inputs[${i}]`)._h);
  const gos = o.gradOutputs?.map((t, i) => checkTensor(t, 'grad', `gradOutputs[${i}]`)._h);
  return native.autograd_grad(outs, ins, gos, o.retainGraph, !!o.createGraph, !!o.allowUnused)
    .map((h) => (h === null ? null : wrap(h)));
}
