// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_) over libtorch's own.
import { native } from '../native';
import { Tensor, typeOfValue } from '../tensor';
import { show } from './optimizer';
import * as check from '../util/check';

function handles(where: string, parameters: unknown): number[] {
  if (parameters instanceof Tensor) parameters = [parameters];
  if (parameters === null || typeof parameters !== 'object' || !(Symbol.iterator in parameters)) {
    throw new TypeError(`${where}: expected parameters to be a Tensor or an array (or iterable) of Tensors but received ${typeOfValue(parameters)}`);
  }
  return [...(parameters as Iterable<unknown>)].map((p, i) => {
    if (!(p instanceof Tensor)) throw new TypeError(`${where}: expected parameters[${i}] to be a Tensor but received ${typeOfValue(p)}`);
    if (p.isDisposed) throw new Error(`${where}: parameters[${i}] is a disposed Tensor`);
    return p._h;
  });
}

/** Options of clipGradNorm_ (torch.nn.utils.clip_grad_norm_'s norm_type and error_if_nonfinite). */
export interface ClipGradNormOptions {
  /** the p of the p-norm: 2 by default, Infinity (or 'inf') for the max norm */
  normType?: number | 'inf';
  /** throw when the total norm is NaN or infinite (default false, as PyTorch) */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients of parameters in place so that their total norm (as if concatenated) is
 * at most maxNorm. Returns the total norm before clipping, as a number.
 */
export function clipGradNorm_(parameters: Tensor | Iterable<Tensor>, maxNorm: number, options?: ClipGradNormOptions | number | 'inf'): number {
  const W = 'clipGradNorm_';
  const hs = handles(W, parameters);
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) {
    throw new (typeof maxNorm === 'number' ? RangeError : TypeError)(`${W}: expected maxNorm to be a non-negative number but received ${show(maxNorm)}`);
  }
  // Python's clip_grad_norm_(parameters, max_norm, norm_type): normType may come positionally
  if (typeof options === 'number' || options === 'inf') options = { normType: options };
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw new TypeError(`${W}: expected options to be an object but received ${typeOfValue(options)}`);
  }
  options = check.options(W, options, ['normType', 'errorIfNonfinite']) as ClipGradNormOptions;
  let normType: unknown = options?.normType ?? 2;
  if (normType === 'inf') normType = Infinity;
  if (typeof normType !== 'number' || !(normType >= 0)) {
    throw new TypeError(`${W}: expected normType to be a non-negative number, Infinity or 'inf' but received ${show(normType)}`);
  }
  const errorIfNonfinite = options?.errorIfNonfinite ?? false;
  if (typeof errorIfNonfinite !== 'boolean') throw new TypeError(`${W}: expected errorIfNonfinite to be a boolean but received ${show(errorIfNonfinite)}`);
  return native.clip_grad_norm_(hs, maxNorm, normType, errorIfNonfinite);
}

/** Clamps every gradient of parameters into [-clipValue, clipValue] in place. */
export function clipGradValue_(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  const W = 'clipGradValue_';
  const hs = handles(W, parameters);
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue)) {
    throw new TypeError(`${W}: expected clipValue to be a number but received ${show(clipValue)}`);
  }
  native.clip_grad_value_(hs, clipValue);
}
