// Text preprocessing as in Keras: padSequences, Tokenizer (same indices, counts and matrices as
// keras.preprocessing.text.Tokenizer) and textDatasetFromDirectory.
import * as fs from 'fs';
import * as path from 'path';
import { tensor } from '../creation';
import { DType, parseDtype } from '../dtype';
import type { Tensor } from '../tensor';
import { RandomState } from '../datasets/random';
import { Dataset } from './dataset';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v;
}

function options<T extends object>(o: T | undefined, op: string, known: string[]): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new TypeError(`${op}: expected an options object but received ${describe(o)}`);
  }
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new TypeError(`${op}: unknown option '${k}': expected one of ${known.join(', ')}`);
  }
  return o;
}

function positiveInt(v: unknown, op: string, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new TypeError(`${op}: expected ${name} to be a positive integer but received ${describe(v)}`);
  }
  return v;
}

function oneOf<T extends string>(v: unknown, op: string, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) {
    throw new TypeError(`${op}: expected ${name} to be one of ${allowed.map((a) => `'${a}'`).join(', ')} but received ${describe(v)}`);
  }
  return v as T;
}

// ---- padSequences ----

/** padSequences' options. */
export interface PadSequencesOptions {
  maxlen?: number | null;
  dtype?: DType;
  padding?: 'pre' | 'post';
  truncating?: 'pre' | 'post';
  value?: number;
}

/**
 * Pads (and truncates) sequences to a [N, maxlen] tensor, int32 by default, as keras pad_sequences: maxlen
 * defaults to the longest sequence; 'pre' padding/truncating works at the start, 'post' at the end.
 */
export function padSequences(sequences: ArrayLike<number>[], opts?: PadSequencesOptions): Tensor {
  const op = 'padSequences';
  const o = options(opts, op, ['maxlen', 'dtype', 'padding', 'truncating', 'value']);
  if (!Array.isArray(sequences)) throw new TypeError(`${op}: expected sequences to be an array of sequences but received ${describe(sequences)}`);
  sequences.forEach((s, i) => {
    if (!Array.isArray(s) && !ArrayBuffer.isView(s)) {
      throw new TypeError(`${op}: expected sequences[${i}] to be an array of numbers but received ${describe(s)}`);
    }
  });
  const padding = oneOf(o.padding ?? 'pre', op, 'padding', ['pre', 'post'] as const);
  const truncating = oneOf(o.truncating ?? 'pre', op, 'truncating', ['pre', 'post'] as const);
  const dtype = parseDtype(o.dtype ?? 'int32', op);
  const value = o.value ?? 0;
  if (typeof value !== 'number' || Number.isNaN(value) && dtype !== 'float32' && dtype !== 'float64') {
    throw new TypeError(`${op}: expected value to be a number but received ${describe(value)}`);
  }
  let maxlen: number;
  if (o.maxlen === undefined || o.maxlen === null) maxlen = sequences.reduce((m, s) => Math.max(m, s.length), 0);
  else maxlen = positiveInt(o.maxlen, op, 'maxlen');
  const n = sequences.length;
  const out = new Float64Array(n * maxlen).fill(value);
  for (let i = 0; i < n; i++) {
    const s = sequences[i];
    const len = Math.min(s.length, maxlen);
    const from = truncating === 'pre' ? s.length - len : 0; // where the kept part starts in s
    const to = padding === 'pre' ? (i + 1) * maxlen - len : i * maxlen; // where it goes in the row
    for (let j = 0; j < len; j++) {
      const v = Number(s[from + j]);
      if (!Number.isFinite(v)) throw new TypeError(`${op}: expected numbers in sequences[${i}] but found ${describe(s[from + j])} at index ${from + j}`);
      out[to + j] = v;
    }
  }
  return tensor(out, { shape: [n, maxlen], dtype });
}

// ---- Tokenizer ----

/** The characters Tokenizer removes by default (Keras' filters). */
export const DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

/** Tokenizer's options. */
export interface TokenizerOptions {
  numWords?: number | null;
  filters?: string;
  lower?: boolean;
  split?: string;
  charLevel?: boolean;
  oovToken?: string | null;
}

/** How textsToMatrix scores a word: presence, count, tf-idf or frequency. */
export type MatrixMode = 'binary' | 'count' | 'tfidf' | 'freq';
/** textsToMatrix's options. */
export interface MatrixOptions { mode?: MatrixMode; dtype?: DType }

/** keras text_to_word_sequence: lower, turn every filter character into `split`, split, drop empty pieces. */
export function textToWordSequence(text: string, opts: { filters?: string; lower?: boolean; split?: string } = {}): string[] {
  const { filters = DEFAULT_FILTERS, lower = true, split = ' ' } = opts;
  if (lower) text = text.toLowerCase();
  const drop = new Set(Array.from(filters));
  text = Array.from(text, (c) => (drop.has(c) ? split : c)).join('');
  return text.split(split).filter((w) => w.length > 0);
}

function record<V>(m: Map<string | number, V>): Record<string, V> {
  const o: Record<string, V> = Object.create(null);
  for (const [k, v] of m) o[k] = v;
  return o;
}

/**
 * Vectorizes texts into word indices: index 1 is the most frequent word (or oovToken when given), ties in the
 * order of first appearance; numWords keeps only indices below it when converting.
 */
export class Tokenizer {
  readonly numWords: number | null;
  readonly filters: string;
  readonly lower: boolean;
  readonly split: string;
  readonly charLevel: boolean;
  readonly oovToken: string | null;
  documentCount = 0;
  private counts = new Map<string, number>();
  private docs = new Map<string, number>();
  private index = new Map<string, number>();
  private words = new Map<number, string>();
  private indexDocsMap = new Map<number, number>();

  constructor(opts?: TokenizerOptions) {
    const op = 'Tokenizer';
    const o = options(opts, op, ['numWords', 'filters', 'lower', 'split', 'charLevel', 'oovToken']);
    this.numWords = o.numWords === undefined || o.numWords === null ? null : positiveInt(o.numWords, op, 'numWords');
    for (const k of ['filters', 'split'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'string') throw new TypeError(`${op}: expected ${k} to be a string but received ${describe(o[k])}`);
    }
    if (o.split === '') throw new TypeError(`${op}: expected split to be a non-empty string but received ''`);
    for (const k of ['lower', 'charLevel'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`${op}: expected ${k} to be a boolean but received ${describe(o[k])}`);
    }
    if (o.oovToken !== undefined && o.oovToken !== null && typeof o.oovToken !== 'string') {
      throw new TypeError(`${op}: expected oovToken to be a string or null but received ${describe(o.oovToken)}`);
    }
    this.filters = o.filters ?? DEFAULT_FILTERS;
    this.lower = o.lower ?? true;
    this.split = o.split ?? ' ';
    this.charLevel = o.charLevel ?? false;
    this.oovToken = o.oovToken ?? null;
  }

  /** word -> index, index 0 reserved. */
  get wordIndex(): Record<string, number> { return record(this.index); }
  /** index -> word. */
  get indexWord(): Record<number, string> { return record(this.words); }
  /** word -> occurrences over all fitted texts, in order of first appearance. */
  get wordCounts(): Record<string, number> { return record(this.counts); }
  /** word -> number of fitted texts containing it. */
  get wordDocs(): Record<string, number> { return record(this.docs); }
  /** index -> number of fitted texts containing it. */
  get indexDocs(): Record<number, number> { return record(this.indexDocsMap); }

  private tokens(text: unknown, op: string, i: number): string[] {
    if (Array.isArray(text)) {
      if (!text.every((t) => typeof t === 'string')) throw new TypeError(`${op}: expected texts[${i}] to be a string or an array of strings`);
      return this.lower ? text.map((t: string) => t.toLowerCase()) : (text as string[]);
    }
    if (typeof text !== 'string') throw new TypeError(`${op}: expected texts[${i}] to be a string but received ${describe(text)}`);
    if (this.charLevel) return Array.from(this.lower ? text.toLowerCase() : text);
    return textToWordSequence(text, { filters: this.filters, lower: this.lower, split: this.split });
  }

  private static texts(texts: unknown, op: string): unknown[] {
    if (!Array.isArray(texts)) throw new TypeError(`${op}: expected texts to be an array of strings but received ${describe(texts)}`);
    return texts;
  }

  /** Counts the words of each text and rebuilds the index (most frequent first). */
  fitOnTexts(texts: (string | string[])[]): this {
    const op = 'Tokenizer.fitOnTexts';
    Tokenizer.texts(texts, op).forEach((text, i) => {
      this.documentCount += 1;
      const seq = this.tokens(text, op, i);
      for (const w of seq) this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
      for (const w of new Set(seq)) this.docs.set(w, (this.docs.get(w) ?? 0) + 1);
    });
    const sorted = [...this.counts.entries()].sort((a, b) => b[1] - a[1]); // stable: ties keep first appearance
    const vocab = this.oovToken === null ? [] : [this.oovToken];
    vocab.push(...sorted.map(([w]) => w));
    this.index = new Map();
    vocab.forEach((w, i) => this.index.set(w, i + 1)); // a word equal to oovToken takes its later index, as in Keras
    this.words = new Map([...this.index].map(([w, i]) => [i, w]));
    this.indexDocsMap = new Map();
    for (const [w, c] of this.docs) this.indexDocsMap.set(this.index.get(w) as number, c);
    return this;
  }

  /** Counts documents per index from sequences, for tfidf without texts. */
  fitOnSequences(sequences: number[][]): this {
    this.documentCount += sequences.length;
    for (const seq of sequences) for (const i of new Set(seq)) this.indexDocsMap.set(i, (this.indexDocsMap.get(i) ?? 0) + 1);
    return this;
  }

  /** Each text as word indices; unknown or out-of-numWords words become the oovToken's index or are dropped. */
  textsToSequences(texts: (string | string[])[]): number[][] {
    const op = 'Tokenizer.textsToSequences';
    const oov = this.oovToken === null ? undefined : this.index.get(this.oovToken);
    const n = this.numWords;
    return Tokenizer.texts(texts, op).map((text, t) => {
      const out: number[] = [];
      for (const w of this.tokens(text, op, t)) {
        const i = this.index.get(w);
        if (i !== undefined) {
          if (n && i >= n) {
            if (oov !== undefined) out.push(oov);
          } else out.push(i);
        } else if (this.oovToken !== null && oov !== undefined) out.push(oov);
      }
      return out;
    });
  }

  /** Each sequence back to a space-joined text (the inverse of textsToSequences, up to filtering). */
  sequencesToTexts(sequences: ArrayLike<number>[]): string[] {
    const op = 'Tokenizer.sequencesToTexts';
    if (!Array.isArray(sequences)) throw new TypeError(`${op}: expected sequences to be an array but received ${describe(sequences)}`);
    const oov = this.oovToken === null ? undefined : this.index.get(this.oovToken);
    const n = this.numWords;
    return sequences.map((seq) => {
      const out: string[] = [];
      for (const num of Array.from(seq)) {
        const w = this.words.get(num);
        if (w !== undefined) {
          if (n && num >= n) {
            if (oov !== undefined) out.push(this.words.get(oov) as string);
          } else out.push(w);
        } else if (this.oovToken !== null && oov !== undefined) out.push(this.words.get(oov) as string);
      }
      return out.join(' ');
    });
  }

  /** [N, numWords] matrix (numWords, else vocabulary size + 1): binary, count, freq or tfidf as Keras computes them. */
  sequencesToMatrix(sequences: number[][], opts?: MatrixOptions): Tensor {
    const op = 'Tokenizer.sequencesToMatrix';
    const o = options(opts, op, ['mode', 'dtype']);
    const mode = oneOf(o.mode ?? 'binary', op, 'mode', ['binary', 'count', 'tfidf', 'freq'] as const);
    const dtype = parseDtype(o.dtype ?? 'float32', op);
    let width: number;
    if (this.numWords) width = this.numWords;
    else if (this.index.size) width = this.index.size + 1;
    else throw new Error(`${op}: specify numWords or fit the Tokenizer on some texts first`);
    if (mode === 'tfidf' && !this.documentCount) throw new Error(`${op}: fit the Tokenizer on some data before using tfidf mode`);
    const x = new Float64Array(sequences.length * width);
    sequences.forEach((seq, r) => {
      if (!seq.length) return;
      const counts = new Map<number, number>();
      for (const j of seq) if (j < width) counts.set(j, (counts.get(j) ?? 0) + 1);
      for (const [j, c] of counts) {
        let v: number;
        if (mode === 'count') v = c;
        else if (mode === 'freq') v = c / seq.length;
        else if (mode === 'binary') v = 1;
        else v = (1 + Math.log(c)) * Math.log(1 + this.documentCount / (1 + (this.indexDocsMap.get(j) ?? 0)));
        x[r * width + j] = v;
      }
    });
    return tensor(x, { shape: [sequences.length, width], dtype });
  }

  /** A [texts, numWords] matrix scoring each word of each text by mode. */
  textsToMatrix(texts: (string | string[])[], opts?: MatrixOptions): Tensor {
    return this.sequencesToMatrix(this.textsToSequences(texts), opts);
  }
}

// ---- textDatasetFromDirectory ----

/** How textDatasetFromDirectory encodes labels. */
export type TextLabelMode = 'int' | 'categorical' | 'binary' | null;

/** textDatasetFromDirectory's options. */
export interface TextDatasetOptions {
  labels?: 'inferred' | null;
  labelMode?: TextLabelMode;
  classNames?: string[];
  batchSize?: number;
  maxLength?: number | null;
  shuffle?: boolean;
  seed?: number;
  validationSplit?: number | null;
  subset?: 'training' | 'validation' | 'both' | null;
}

/** A batch of texts and their labels. */
export type TextBatch = [string[], Tensor];

/**
 * Batches of [texts, labels] (or texts alone without labels) read lazily from the files: a
 * data.Dataset (map, shuffle, prefetch, take... apply) that also knows its classes and files,
 * like the tf.data.Dataset Keras returns with its class_names. Each pass is one epoch.
 */
export class TextDataset<T extends TextBatch | string[] = TextBatch> extends Dataset<T> {
  /** @internal */
  constructor(
    /** the class of label i (Keras' class_names); empty without labels */
    readonly classNames: string[],
    /** the files of this subset, in the order of the first epoch */
    readonly filePaths: string[],
    readonly batchSize: number,
    passes: () => AsyncIterator<T>,
  ) {
    super(passes, () => Math.ceil(filePaths.length / batchSize));
  }
}

type Unlabelled = { labelMode: null } | { labels: null };

async function walkTxt(dir: string): Promise<string[]> {
  const groups: [string, string[]][] = [];
  const visit = async (d: string): Promise<void> => {
    const entries = await fs.promises.readdir(d, { withFileTypes: true });
    const files: string[] = [];
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await visit(p);
      else if ((e.isFile() || (e.isSymbolicLink() && (await fs.promises.stat(p).catch(() => null))?.isFile())) &&
        e.name.toLowerCase().endsWith('.txt')) files.push(e.name);
    }
    groups.push([d, files.sort()]);
  };
  await visit(dir);
  groups.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); // Keras: sorted(os.walk(dir)) by directory
  return groups.flatMap(([d, fs]) => fs.map((f) => path.join(d, f)));
}

/**
 * Text files from `dir/<class>/**.txt` as batches of [string[], labels]: labels int32 [B] ('int'), float32 one-hot
 * [B, classes] ('categorical') or float32 [B, 1] ('binary'). Files are listed, shuffled and split as Keras'
 * index_directory does, so a seed picks the same training and validation files; with shuffle each later
 * iteration reorders its files again.
 */
export async function textDatasetFromDirectory(dir: string, opts: TextDatasetOptions & Unlabelled & { subset: 'both' }):
  Promise<[TextDataset<string[]>, TextDataset<string[]>]>;
export async function textDatasetFromDirectory(dir: string, opts: TextDatasetOptions & Unlabelled): Promise<TextDataset<string[]>>;
export async function textDatasetFromDirectory(dir: string, opts: TextDatasetOptions & { subset: 'both' }): Promise<[TextDataset, TextDataset]>;
export async function textDatasetFromDirectory(dir: string, opts?: TextDatasetOptions): Promise<TextDataset>;
export async function textDatasetFromDirectory(dir: string, opts?: TextDatasetOptions):
  Promise<TextDataset<TextBatch | string[]> | [TextDataset<TextBatch | string[]>, TextDataset<TextBatch | string[]>]> {
  const op = 'textDatasetFromDirectory';
  const o = options(opts, op, ['labels', 'labelMode', 'classNames', 'batchSize', 'maxLength', 'shuffle', 'seed',
    'validationSplit', 'subset']);
  if (typeof dir !== 'string' || !dir) throw new TypeError(`${op}: expected dir to be a directory path but received ${describe(dir)}`);
  if (!(await fs.promises.stat(dir).catch(() => null))?.isDirectory()) throw new Error(`${op}: ${dir} is not a directory`);
  const labels = o.labels === undefined ? 'inferred' : o.labels;
  if (labels !== 'inferred' && labels !== null) throw new TypeError(`${op}: expected labels to be 'inferred' or null but received ${describe(labels)}`);
  let labelMode: TextLabelMode = o.labelMode === undefined ? 'int' : o.labelMode;
  if (labelMode !== null) labelMode = oneOf(labelMode, op, 'labelMode', ['int', 'categorical', 'binary'] as const);
  if (labels === null) labelMode = null;
  const batchSize = o.batchSize === undefined ? 32 : positiveInt(o.batchSize, op, 'batchSize');
  const maxLength = o.maxLength === undefined || o.maxLength === null ? null : positiveInt(o.maxLength, op, 'maxLength');
  const shuffle = o.shuffle ?? true;
  if (typeof shuffle !== 'boolean') throw new TypeError(`${op}: expected shuffle to be a boolean but received ${describe(shuffle)}`);
  const split = o.validationSplit ?? null;
  const subset = o.subset ?? null;
  if (split !== null && (typeof split !== 'number' || !(split > 0 && split < 1))) {
    throw new TypeError(`${op}: expected validationSplit to be a number between 0 and 1 but received ${describe(split)}`);
  }
  if (subset !== null) oneOf(subset, op, 'subset', ['training', 'validation', 'both'] as const);
  if ((split === null) !== (subset === null)) {
    throw new TypeError(`${op}: subset and validationSplit go together: received subset ${describe(subset)} and validationSplit ${describe(split)}`);
  }
  if (split !== null && shuffle && o.seed === undefined) {
    throw new TypeError(`${op}: with validationSplit and shuffle, pass a seed so that the training and validation subsets do not overlap`);
  }
  if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff)) {
    throw new TypeError(`${op}: expected seed to be an integer in [0, 2**32 - 1] but received ${describe(o.seed)}`);
  }
  const seed = o.seed ?? Math.floor(Math.random() * 1e6);

  // Index the files: per class in class order (sorted names unless classNames says), as Keras does.
  let classNames: string[] = [];
  let files: string[] = [];
  let ids: number[] = [];
  if (labels === 'inferred') {
    const subdirs = (await fs.promises.readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    if (o.classNames !== undefined) {
      if (!Array.isArray(o.classNames) || !o.classNames.every((c) => typeof c === 'string')) {
        throw new TypeError(`${op}: expected classNames to be an array of strings but received ${describe(o.classNames)}`);
      }
      const missing = o.classNames.filter((c) => !subdirs.includes(c));
      if (missing.length) {
        throw new Error(`${op}: classNames ${JSON.stringify(missing)} are not subdirectories of ${dir} (found ${JSON.stringify(subdirs)})`);
      }
      classNames = [...o.classNames];
    } else classNames = subdirs;
    for (let c = 0; c < classNames.length; c++) {
      const fs_ = await walkTxt(path.join(dir, classNames[c]));
      files.push(...fs_);
      ids.push(...fs_.map(() => c));
    }
  } else {
    files = await walkTxt(dir);
    ids = files.map(() => 0);
  }
  if (labelMode === 'binary' && classNames.length !== 2) {
    throw new Error(`${op}: labelMode 'binary' needs exactly 2 classes but ${dir} has ${classNames.length}: ${JSON.stringify(classNames)}`);
  }
  if (!files.length) throw new Error(`${op}: found no .txt files under ${dir}${labels === 'inferred' ? ' in class subdirectories' : ''}`);
  if (shuffle) {
    const perm = new RandomState(seed).permutation(files.length);
    files = Array.from(perm, (i) => files[i]);
    ids = Array.from(perm, (i) => ids[i]);
  }

  const make = (sel: number[]): TextDataset<TextBatch | string[]> => {
    const paths = sel.map((i) => files[i]);
    const y = sel.map((i) => ids[i]);
    let epoch = 0;
    const labelTensor = (b: number[]): Tensor => {
      if (labelMode === 'int') return tensor(Int32Array.from(b), { shape: [b.length] });
      if (labelMode === 'binary') return tensor(Float32Array.from(b), { shape: [b.length, 1] });
      const oh = new Float32Array(b.length * classNames.length);
      b.forEach((c, i) => { oh[i * classNames.length + c] = 1; });
      return tensor(oh, { shape: [b.length, classNames.length] });
    };
    return new TextDataset<TextBatch | string[]>(classNames, paths, batchSize, async function* () {
      let order = paths.map((_, i) => i);
      if (shuffle && epoch > 0) order = Array.from(new RandomState((seed + epoch) % 2 ** 32).permutation(paths.length));
      epoch++;
      for (let s = 0; s < order.length; s += batchSize) {
        const batch = order.slice(s, s + batchSize);
        const texts = await Promise.all(batch.map(async (i) => {
          const t = await fs.promises.readFile(paths[i], 'utf8');
          return maxLength === null ? t : Array.from(t).slice(0, maxLength).join('');
        }));
        if (labelMode === null) yield texts;
        else yield [texts, labelTensor(batch.map((i) => y[i]))] as TextBatch;
      }
    });
  };
  const all = files.map((_, i) => i);
  if (split === null) return make(all);
  const nVal = Math.trunc(split * files.length);
  const training = all.slice(0, files.length - nVal);
  const validation = all.slice(files.length - nVal);
  if (subset === 'training') return make(training);
  if (subset === 'validation') return make(validation);
  return [make(training), make(validation)];
}
