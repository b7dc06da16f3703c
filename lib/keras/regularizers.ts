// Weight penalties added to the loss: regularizers.l2(1e-4) as Keras.
import { Regularizer } from './layers';
import { typeOfValue } from '../tensor';

function factor(where: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  throw new TypeError(`${where}: expected a non-negative factor but received ${typeOfValue(v)}`);
}
export const l1 = (l = 0.01): Regularizer => ({ l1: factor('regularizers.l1', l, 0.01), l2: 0 });
export const l2 = (l = 0.01): Regularizer => ({ l1: 0, l2: factor('regularizers.l2', l, 0.01) });
export const l1l2 = (o: { l1?: number; l2?: number } = {}): Regularizer =>
  ({ l1: factor('regularizers.l1l2', o.l1, 0.01), l2: factor('regularizers.l1l2', o.l2, 0.01) });
