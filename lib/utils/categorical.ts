// Keras' to_categorical: integer class labels -> one-hot float32 rows (nt.utils.toCategorical).
import { Tensor, NestedArray, typeOfValue } from '../tensor';
import * as creation from '../creation';
import { tidy } from '../memory';

/**
 * One-hot encodes class labels: the result has the labels' shape plus a last axis of numClasses
 * (default: the largest label + 1); a trailing axis of size 1 is dropped first, as Keras does.
 */
export function toCategorical(y: Tensor | NestedArray | ArrayLike<number>, numClasses?: number): Tensor {
  const where = 'utils.toCategorical';
  let labels: Tensor;
  if (y instanceof Tensor) labels = y;
  else if (Array.isArray(y)) labels = creation.tensor(y as NestedArray, { dtype: 'float64' });
  else if (ArrayBuffer.isView(y)) labels = creation.tensor(Array.from(y as ArrayLike<number>), { dtype: 'float64' });
  else throw new TypeError(`${where}: expected y to be a Tensor or an array of class labels but received ${typeOfValue(y)}`);
  if (numClasses !== undefined && numClasses !== null && !(Number.isSafeInteger(numClasses) && numClasses > 0)) {
    throw new TypeError(`${where}: expected numClasses to be a positive integer but received ${typeOfValue(numClasses)}${typeof numClasses === 'number' ? ` ${numClasses}` : ''}`);
  }
  return tidy(() => {
    let l = labels.ndim > 1 && labels.shape[labels.ndim - 1] === 1 ? labels.squeeze(-1) : labels;
    if (l.dtype === 'bool' || l.dtype.startsWith('complex')) throw new TypeError(`${where}: expected integer class labels but y has dtype ${l.dtype}`);
    const d = l.to('float64');
    if (l.numel > 0) {
      if (Number(d.ne(d.round()).any().item())) throw new RangeError(`${where}: expected integer class labels but y holds fractional values`);
      const lo = Number(d.min().item());
      const hi = Number(d.max().item());
      const n = numClasses ?? hi + 1;
      if (lo < 0 || hi >= n) throw new RangeError(`${where}: labels must be in [0, ${n}) for numClasses ${n} but range from ${lo} to ${hi}`);
      numClasses = n;
    } else {
      numClasses ??= 0;
    }
    l = l.to('int64');
    return l.unsqueeze(-1).eq(creation.arange(0, numClasses, 1, { dtype: 'int64' })).to('float32');
  });
}
