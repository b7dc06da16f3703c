// Boston housing prices from Keras' boston_housing.npz (x: [506, 13], y: [506]), split as Keras does.
import * as fs from 'fs';
import * as path from 'path';
import { tensor } from '../creation';
import { Candidate, candidates, checkOptions, datasetsHome, exists, notFound, PathOptions, Splits } from './files';
import { numericArray, readNpz } from './npz';
import { RandomState } from './random';

/** bostonHousing.loadData's options. */
export interface BostonOptions extends PathOptions { testSplit?: number; seed?: number }

const OP = 'datasets.bostonHousing.loadData';

/** Keras' Boston housing regression data set. */
export const bostonHousing = {
  /**
   * [[xTrain float64 [404, 13], yTrain float64 [404]], [xTest, yTest]]: shuffled with RandomState(seed) and the
   * last testSplit of the rows kept for testing, with Keras' defaults (testSplit 0.2, seed 113).
   */
  async loadData(options?: BostonOptions): Promise<Splits> {
    const o = checkOptions(options, OP, ['path', 'testSplit', 'seed']);
    const { testSplit = 0.2, seed = 113 } = o;
    if (typeof testSplit !== 'number' || !(testSplit >= 0 && testSplit < 1)) {
      throw new TypeError(`${OP}: expected testSplit to be a number in [0, 1) but received ${String(testSplit)}`);
    }
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new TypeError(`${OP}: expected seed to be an integer in [0, 2**32 - 1] but received ${String(seed)}`);
    }
    const tried: Candidate[] = candidates(o.path,
      [{ path: datasetsHome(), why: 'NODETORCH_HOME, default ~/.nodetorch/datasets' }]);
    let file: string | null = null;
    for (const c of tried) {
      const s = await exists(c.path);
      const f = s?.isDirectory() ? path.join(c.path, 'boston_housing.npz') : c.path;
      if ((await exists(f))?.isFile()) { file = f; break; }
    }
    if (!file) {
      throw notFound(OP, "Keras' boston_housing.npz", tried, `Put boston_housing.npz in ${datasetsHome()}, or pass { path } to it.`);
    }
    const members = readNpz(await fs.promises.readFile(file), file, OP);
    for (const k of ['x', 'y']) {
      if (!members.has(k)) throw new Error(`${OP}: ${file} lacks the array '${k}' (expected arrays x and y)`);
    }
    const x = numericArray(members.get('x') as Uint8Array, `${OP}: ${file}:x.npy`);
    const y = numericArray(members.get('y') as Uint8Array, `${OP}: ${file}:y.npy`);
    const n = x.shape[0];
    if (x.shape.length !== 2 || y.shape.length !== 1 || y.shape[0] !== n) {
      throw new Error(`${OP}: ${file} is corrupt: x has shape (${x.shape.join(', ')}) and y (${y.shape.join(', ')}); ` +
        'expected x (N, features) and y (N,)');
    }
    const f = x.shape[1];
    const xs = Float64Array.from(x.data as ArrayLike<number>);
    const ys = Float64Array.from(y.data as ArrayLike<number>);
    const idx = new RandomState(seed).permutation(n);
    const cut = Math.trunc(n * (1 - testSplit));
    const rows = (from: number, to: number): [ReturnType<typeof tensor>, ReturnType<typeof tensor>] => {
      const m = to - from;
      const xo = new Float64Array(m * f);
      const yo = new Float64Array(m);
      for (let r = 0; r < m; r++) {
        const src = idx[from + r];
        xo.set(xs.subarray(src * f, src * f + f), r * f);
        yo[r] = ys[src];
      }
      return [tensor(xo, { shape: [m, f] }), tensor(yo, { shape: [m] })];
    };
    return [rows(0, cut), rows(cut, n)];
  },
};
