// IMDB movie reviews as Keras' imdb.load_data() returns them: word-index sequences (number[][])
// and int64 labels, from Keras' imdb.npz or from the original aclImdb directory of text files.
import * as fs from 'fs';
import * as path from 'path';
import { tensor } from '../creation';
import type { Tensor } from '../tensor';
import { Candidate, candidates, checkOptions, datasetsHome, exists, notFound, PathOptions, Splits } from './files';
import { numericArray, readNpz, sequenceArray } from './npz';
import { RandomState } from './random';

/** imdb.loadData's options. */
export interface ImdbOptions extends PathOptions {
  numWords?: number | null;
  skipTop?: number;
  maxlen?: number | null;
  seed?: number;
  startChar?: number | null;
  oovChar?: number | null;
  indexFrom?: number;
}

const OP = 'datasets.imdb.loadData';

function int(v: unknown, name: string, min: number, nullable: boolean, op = OP): void {
  if (v === undefined || (nullable && v === null)) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new TypeError(`${op}: expected ${name} to be ${min === 1 ? 'a positive' : min === 0 ? 'a non-negative' : 'an'} ` +
      `integer${nullable ? ' or null' : ''} but received ${typeof v === 'number' ? v : JSON.stringify(v) ?? typeof v}`);
  }
}

interface Raw { xTrain: number[][]; yTrain: number[]; xTest: number[][]; yTest: number[] }

async function fromNpz(file: string): Promise<Raw> {
  const bytes = await fs.promises.readFile(file);
  const members = readNpz(bytes, file, OP);
  const need = ['x_train', 'y_train', 'x_test', 'y_test'];
  const missing = need.filter((k) => !members.has(k));
  if (missing.length) throw new Error(`${OP}: ${file} lacks the arrays ${missing.join(', ')} (expected ${need.join(', ')})`);
  const seqs = (k: string) => sequenceArray(members.get(k) as Uint8Array, `${OP}: ${file}:${k}.npy`);
  const labels = (k: string, n: number) => {
    const a = numericArray(members.get(k) as Uint8Array, `${OP}: ${file}:${k}.npy`);
    if (a.shape.length !== 1 || a.shape[0] !== n) {
      throw new Error(`${OP}: ${file}:${k}.npy has shape (${a.shape.join(', ')}); expected (${n},) to match the sequences`);
    }
    return Array.from(a.data as ArrayLike<number | bigint>, Number);
  };
  const xTrain = seqs('x_train');
  const xTest = seqs('x_test');
  return { xTrain, yTrain: labels('y_train', xTrain.length), xTest, yTest: labels('y_test', xTest.length) };
}

/** Words of a review: lower case, HTML line breaks and punctuation (apostrophes kept) as separators. */
export function reviewWords(text: string): string[] {
  return text.toLowerCase().replace(/<br\s*\/?>/g, ' ').split(/[^\p{L}\p{N}']+/u).filter(Boolean);
}

async function readVocab(file: string): Promise<Map<string, number>> {
  const words = (await fs.promises.readFile(file, 'utf8')).split('\n').map((w) => w.trim());
  const index = new Map<string, number>();
  words.forEach((w, i) => { if (w && !index.has(w)) index.set(w, i + 1); });
  return index;
}

async function fromAclImdb(dir: string): Promise<Raw> {
  const index = await readVocab(path.join(dir, 'imdb.vocab'));
  const split = async (name: string): Promise<[number[][], number[]]> => {
    const xs: number[][] = [];
    const ys: number[] = [];
    for (const [label, cls] of [[0, 'neg'], [1, 'pos']] as const) {
      const sub = path.join(dir, name, cls);
      let files: string[];
      try {
        files = (await fs.promises.readdir(sub)).filter((f) => f.endsWith('.txt'))
          .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      } catch {
        throw new Error(`${OP}: ${dir} is not a complete aclImdb directory: ${sub} is missing`);
      }
      for (const f of files) {
        const words = reviewWords(await fs.promises.readFile(path.join(sub, f), 'utf8'));
        xs.push(words.map((w) => index.get(w) ?? 0).filter((i) => i > 0));
        ys.push(label);
      }
    }
    return [xs, ys];
  };
  const [[xTrain, yTrain], [xTest, yTest]] = await Promise.all([split('train'), split('test')]);
  return { xTrain, yTrain, xTest, yTest };
}

async function locate(tried: Candidate[]): Promise<{ npz?: string; acl?: string } | null> {
  for (const c of tried) {
    const s = await exists(c.path);
    if (s?.isFile()) return { npz: c.path };
    if (!s?.isDirectory()) continue;
    if ((await exists(path.join(c.path, 'imdb.vocab')))?.isFile()) return { acl: c.path };
    if ((await exists(path.join(c.path, 'imdb.npz')))?.isFile()) return { npz: path.join(c.path, 'imdb.npz') };
    if ((await exists(path.join(c.path, 'aclImdb', 'imdb.vocab')))?.isFile()) return { acl: path.join(c.path, 'aclImdb') };
  }
  return null;
}

function defaults(): Candidate[] {
  return [{ path: datasetsHome(), why: 'NODETORCH_HOME, default ~/.nodetorch/datasets: imdb.npz or aclImdb/' }];
}

function removeLong(maxlen: number, xs: number[][], ys: number[]): [number[][], number[]] {
  const keep = xs.map((x, i) => i).filter((i) => xs[i].length < maxlen);
  return [keep.map((i) => xs[i]), keep.map((i) => ys[i])];
}

function permute<T>(a: T[], idx: Int32Array): T[] {
  return Array.from(idx, (i) => a[i]);
}

/** Keras' IMDB movie review sentiment data set, as word-index sequences. */
export const imdb = {
  /**
   * [[xTrain number[][], yTrain int64 [N]], [xTest, yTest]] with Keras' options and defaults (seed 113,
   * startChar 1, oovChar 2, indexFrom 3). `path` may be Keras' imdb.npz or the aclImdb directory (its
   * imdb.vocab ranks the words; reviews are read neg then pos, by file name).
   */
  async loadData(options?: ImdbOptions): Promise<Splits<number[][], Tensor>> {
    const o = checkOptions(options, OP, ['path', 'numWords', 'skipTop', 'maxlen', 'seed', 'startChar', 'oovChar', 'indexFrom']);
    int(o.numWords, 'numWords', 1, true);
    int(o.skipTop, 'skipTop', 0, false);
    int(o.maxlen, 'maxlen', 1, true);
    int(o.seed, 'seed', 0, false);
    int(o.startChar, 'startChar', 0, true);
    int(o.oovChar, 'oovChar', 0, true);
    int(o.indexFrom, 'indexFrom', 0, false);
    const { skipTop = 0, seed = 113, indexFrom = 3 } = o;
    const startChar = o.startChar === undefined ? 1 : o.startChar;
    const oovChar = o.oovChar === undefined ? 2 : o.oovChar;
    const tried = candidates(o.path, defaults());
    const found = await locate(tried);
    if (!found) {
      throw notFound(OP, "IMDB (Keras' imdb.npz, or the aclImdb directory with imdb.vocab)", tried,
        `Put imdb.npz or aclImdb/ in ${datasetsHome()}, or pass { path } to either.`);
    }
    const raw = found.npz ? await fromNpz(found.npz) : await fromAclImdb(found.acl as string);

    // The steps of keras.datasets.imdb.load_data, in its order.
    const rng = new RandomState(seed);
    const pTrain = rng.permutation(raw.xTrain.length);
    let xTrain = permute(raw.xTrain, pTrain);
    let yTrain = permute(raw.yTrain, pTrain);
    const pTest = rng.permutation(raw.xTest.length);
    let xTest = permute(raw.xTest, pTest);
    let yTest = permute(raw.yTest, pTest);
    const shift = (x: number[]) => x.map((w) => w + indexFrom);
    if (startChar !== null) {
      xTrain = xTrain.map((x) => [startChar, ...shift(x)]);
      xTest = xTest.map((x) => [startChar, ...shift(x)]);
    } else {
      xTrain = xTrain.map(shift);
      xTest = xTest.map(shift);
    }
    if (o.maxlen) {
      [xTrain, yTrain] = removeLong(o.maxlen, xTrain, yTrain);
      [xTest, yTest] = removeLong(o.maxlen, xTest, yTest);
      if (!xTrain.length || !xTest.length) {
        throw new Error(`${OP}: after filtering for sequences shorter than maxlen=${o.maxlen}, no sequence was kept in ` +
          `${!xTrain.length ? 'the training' : 'the test'} set. Increase maxlen.`);
      }
    }
    let numWords = o.numWords ?? 0;
    if (!numWords) {
      for (const x of [...xTrain, ...xTest]) for (const w of x) if (w > numWords) numWords = w;
    }
    const keep = (x: number[]) => oovChar !== null
      ? x.map((w) => (skipTop <= w && w < numWords ? w : oovChar))
      : x.filter((w) => skipTop <= w && w < numWords);
    const labels = (y: number[]) => tensor(BigInt64Array.from(y, (v) => BigInt(v)), { shape: [y.length] });
    return [[xTrain.map(keep), labels(yTrain)], [xTest.map(keep), labels(yTest)]];
  },

  /**
   * Keras' word index ({ word: rank }, 1 = most frequent; add indexFrom to match loadData's sequences), from
   * imdb_word_index.json or aclImdb/imdb.vocab in `path` or NODETORCH_HOME.
   */
  async getWordIndex(options?: PathOptions): Promise<Record<string, number>> {
    const op = 'datasets.imdb.getWordIndex';
    const o = checkOptions(options, op, ['path']);
    const tried = candidates(o.path, [{ path: datasetsHome(), why: 'NODETORCH_HOME, default ~/.nodetorch/datasets' }]);
    for (const c of tried) {
      const s = await exists(c.path);
      const options = s?.isFile() ? [c.path]
        : [path.join(c.path, 'imdb_word_index.json'), path.join(c.path, 'imdb.vocab'), path.join(c.path, 'aclImdb', 'imdb.vocab')];
      for (const f of options) {
        if (!(await exists(f))?.isFile()) continue;
        if (f.endsWith('.vocab')) return Object.fromEntries(await readVocab(f));
        let parsed: unknown;
        try {
          parsed = JSON.parse(await fs.promises.readFile(f, 'utf8'));
        } catch (e) {
          throw new Error(`${op}: ${f} is not valid JSON (truncated or corrupt: ${(e as Error).message})`);
        }
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) ||
          !Object.values(parsed).every((v) => Number.isInteger(v))) {
          throw new Error(`${op}: ${f} is corrupt: expected a JSON object of { word: integer index }`);
        }
        return parsed as Record<string, number>;
      }
    }
    throw notFound(op, "the IMDB word index (Keras' imdb_word_index.json, or aclImdb/imdb.vocab)", tried,
      `Put imdb_word_index.json in ${datasetsHome()}, or pass { path } to it.`);
  },
};
