// Weight penalties added to the loss: regularizers.l2(1e-4) as Keras.
/**
 * Keras weight regularizers: penalties on a layer's weights added to the loss.
 * @module
 */
import { Regularizer } from './layers';
import { typeOfValue } from '../tensor';

function factor(where: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  throw new TypeError(`${where}: expected a non-negative factor but received ${typeOfValue(v)}`);
}
/** An L1 weight penalty: l1 * sum(abs(w)). */
export const l1 = (l = 0.01): Regularizer => ({ l1: factor('regularizers.l1', l, 0.01), l2: 0 });
/** An L2 weight penalty: l2 * sum(w^2). */
export const l2 = (l = 0.01): Regularizer => ({ l1: 0, l2: factor('regularizers.l2', l, 0.01) });
/** Both penalties: Keras 3's l1_l2(l1, l2), positionally or as { l1, l2 }; a factor left out is 0 (Keras 3's L1L2). */
export function l1_l2(l1OrOpts?: number | { l1?: number; l2?: number }, l2Factor?: number): Regularizer {
  const o = typeof l1OrOpts === 'object' && l1OrOpts !== null ? l1OrOpts : { l1: l1OrOpts, l2: l2Factor };
  if (typeof l1OrOpts === 'object' && l1OrOpts !== null) {
    for (const k of Object.keys(o)) if (k !== 'l1' && k !== 'l2') throw new TypeError(`regularizers.l1_l2: unknown option '${k}'; known options: l1, l2`);
  }
  return { l1: factor('regularizers.l1_l2', o.l1, 0), l2: factor('regularizers.l1_l2', o.l2, 0) };
}
/** The same as l1_l2 (camelCase). */
export const l1l2 = l1_l2;
