// Text preprocessing: padSequences, Tokenizer (expected values from Keras' own Tokenizer code run
// by python on the same texts) and textDatasetFromDirectory.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { expectTensor } from './helpers';

const { padSequences, Tokenizer, textDatasetFromDirectory } = nt.data;

describe('padSequences', () => {
  const seqs = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], []];
  test('pre padding and truncating by default, maxlen from the longest, int32', () => {
    const t = padSequences(seqs);
    expect(t.dtype).toBe('int32');
    expect(t.toArray()).toEqual([[0, 0, 1, 2, 3], [0, 0, 0, 4, 5], [6, 7, 8, 9, 10], [0, 0, 0, 0, 0]]);
  });
  test('post padding, post truncating, value and dtype', () => {
    expect(padSequences(seqs, { maxlen: 3 }).toArray()).toEqual([[1, 2, 3], [0, 4, 5], [8, 9, 10], [0, 0, 0]]);
    expect(padSequences(seqs, { maxlen: 3, truncating: 'post', padding: 'post', value: -1 }).toArray())
      .toEqual([[1, 2, 3], [4, 5, -1], [6, 7, 8], [-1, -1, -1]]);
    const f = padSequences([[1.5], [2.25, 3]], { dtype: 'float32', value: 0.5 });
    expect(f.dtype).toBe('float32');
    expectTensor(f, [[0.5, 1.5], [2.25, 3]]);
    expect(padSequences([[1.9, -1.9]], { dtype: 'int64' }).toArray({ asNumber: true })).toEqual([[1, -1]]);
    expect(padSequences([new Int32Array([5, 6])], { maxlen: 4 }).toArray()).toEqual([[0, 0, 5, 6]]);
  });
  test('bad input names the option', () => {
    expect(() => padSequences(seqs, { maxlen: -1 })).toThrow('padSequences: expected maxlen to be a positive integer but received -1');
    expect(() => padSequences(seqs, { padding: 'middle' as never })).toThrow("padSequences: expected padding to be one of 'pre', 'post' but received 'middle'");
    expect(() => padSequences(seqs, { truncating: 'x' as never })).toThrow("expected truncating to be one of 'pre', 'post'");
    expect(() => padSequences([[1], 'ab' as never])).toThrow('padSequences: expected sequences[1] to be an array of numbers');
    expect(() => padSequences([[1, Number.NaN]])).toThrow('padSequences: expected numbers in sequences[0] but found NaN at index 1');
    expect(() => padSequences(seqs, { dtype: 'int31' as never })).toThrow("padSequences: unknown dtype 'int31'");
    expect(() => padSequences('abc' as never)).toThrow('padSequences: expected sequences to be an array of sequences');
  });
});

describe('Tokenizer', () => {
  const texts = ['The cat sat on the mat.', 'The dog ate my homework!', 'Cat and dog: friends? The end', 'a B c b'];

  test('word index by count, ties by first appearance; counts and sequences as Keras', () => {
    const t = new Tokenizer().fitOnTexts(texts);
    expect(t.wordIndex).toEqual({ the: 1, cat: 2, dog: 3, b: 4, sat: 5, on: 6, mat: 7, ate: 8, my: 9, homework: 10, and: 11,
      friends: 12, end: 13, a: 14, c: 15 });
    expect(Object.entries(t.wordCounts)).toEqual([['the', 4], ['cat', 2], ['sat', 1], ['on', 1], ['mat', 1], ['dog', 2], ['ate', 1],
      ['my', 1], ['homework', 1], ['and', 1], ['friends', 1], ['end', 1], ['a', 1], ['b', 2], ['c', 1]]);
    expect(t.indexWord[3]).toBe('dog');
    expect(t.documentCount).toBe(4);
    expect(t.wordDocs.the).toBe(3);
    expect(t.textsToSequences([...texts, 'unknown cat words'])).toEqual(
      [[1, 2, 5, 6, 1, 7], [1, 3, 8, 9, 10], [2, 11, 3, 12, 1, 13], [14, 4, 15, 4], [2]]);
  });

  test('textsToMatrix in its four modes', () => {
    const t = new Tokenizer().fitOnTexts(texts);
    const q = ['the cat the zebra', 'dog dog b'];
    const row = (vals: Record<number, number>) => Array.from({ length: 16 }, (_, i) => vals[i] ?? 0);
    expectTensor(t.textsToMatrix(q), [row({ 1: 1, 2: 1 }), row({ 3: 1, 4: 1 })]);
    expectTensor(t.textsToMatrix(q, { mode: 'count' }), [row({ 1: 2, 2: 1 }), row({ 3: 2, 4: 1 })]);
    expectTensor(t.textsToMatrix(q, { mode: 'freq' }), [row({ 1: 0.6666667, 2: 0.3333333 }), row({ 3: 0.6666667, 4: 0.3333333 })]);
    const tfidf = t.textsToMatrix(q, { mode: 'tfidf', dtype: 'float64' });
    expect(tfidf.dtype).toBe('float64');
    expectTensor(tfidf, [row({ 1: 1.1736002, 2: 0.8472979 }), row({ 3: 1.4346, 4: 1.0986123 })], 1e-6);
    expect(() => t.textsToMatrix(q, { mode: 'tf' as never })).toThrow("expected mode to be one of 'binary', 'count', 'tfidf', 'freq'");
    expect(() => new Tokenizer().textsToMatrix(q)).toThrow('specify numWords or fit the Tokenizer on some texts first');
  });

  test('numWords and oovToken, and back to texts', () => {
    const t = new Tokenizer({ numWords: 5, oovToken: '<OOV>' }).fitOnTexts(texts);
    expect(t.wordIndex['<OOV>']).toBe(1);
    expect(t.wordIndex.the).toBe(2);
    expect(t.wordIndex.c).toBe(16);
    const s = t.textsToSequences(['the cat ate a zebra', 'b c']);
    expect(s).toEqual([[2, 3, 1, 1, 1], [1, 1]]);
    expect(t.sequencesToTexts([...s, [1, 3, 99, 4]])).toEqual(['the cat <OOV> <OOV> <OOV>', '<OOV> <OOV>', '<OOV> cat <OOV> dog']);
    expectTensor(t.sequencesToMatrix(s, { mode: 'tfidf' }), [[0, 3.3775862, 0.6931472, 0.8472979, 0], [0, 2.7250153, 0, 0, 0]], 1e-6);
  });

  test('charLevel, filters, lower and split', () => {
    const t = new Tokenizer({ charLevel: true }).fitOnTexts(['abca', 'Bd']);
    expect(t.wordIndex).toEqual({ a: 1, b: 2, c: 3, d: 4 });
    expect(t.textsToSequences(['cab!'])).toEqual([[3, 1, 2]]);
    const u = new Tokenizer({ lower: false, split: ',', filters: '' }).fitOnTexts(['A,b,,A', 'constructor,__proto__']);
    expect(u.wordIndex.A).toBe(1);
    expect(u.wordIndex.constructor).toBe(3);
    expect(u.wordIndex.__proto__).toBe(4);
    expect(u.textsToSequences(['b,A,a'])).toEqual([[2, 1]]);
  });

  test('bad options are named', () => {
    expect(() => new Tokenizer({ numWords: 0 })).toThrow('Tokenizer: expected numWords to be a positive integer but received 0');
    expect(() => new Tokenizer({ oovToken: 3 as never })).toThrow('Tokenizer: expected oovToken to be a string or null but received 3');
    expect(() => new Tokenizer({ split: '' })).toThrow('Tokenizer: expected split to be a non-empty string');
    expect(() => new Tokenizer({ numwords: 3 } as never)).toThrow("Tokenizer: unknown option 'numwords'");
    expect(() => new Tokenizer().fitOnTexts([3 as never])).toThrow('Tokenizer.fitOnTexts: expected texts[0] to be a string but received 3');
    expect(() => new Tokenizer().fitOnTexts('abc' as never)).toThrow('Tokenizer.fitOnTexts: expected texts to be an array of strings');
  });
});

describe('textDatasetFromDirectory', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-text-'));
    const put = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    };
    put('neg/a.txt', 'bad film');
    put('neg/b.txt', 'awful');
    put('neg/sub/c.txt', 'boring');
    put('neg/notes.md', 'ignored');
    put('pos/a.txt', 'great film');
    put('pos/b.TXT', 'lovely');
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  async function collect(ds: nt.data.TextDataset): Promise<[string[], unknown[]]> {
    const texts: string[] = [];
    const labels: unknown[] = [];
    for await (const [t, y] of ds) {
      texts.push(...t);
      labels.push(...(y.toArray() as unknown[]));
      y.dispose();
    }
    return [texts, labels];
  }

  test('unshuffled: classes in sorted order, files sorted, int32 labels in batches', async () => {
    const ds = await textDatasetFromDirectory(root, { batchSize: 2, shuffle: false });
    expect(ds.classNames).toEqual(['neg', 'pos']);
    expect(ds.length).toBe(3);
    const batches: [string[], nt.Tensor][] = [];
    for await (const b of ds) batches.push(b);
    expect(batches.map(([t]) => t)).toEqual([['bad film', 'awful'], ['boring', 'great film'], ['lovely']]);
    expect(batches[0][1].dtype).toBe('int32');
    expect(batches.map(([, y]) => y.toArray())).toEqual([[0, 0], [0, 1], [1]]);
  });

  test('categorical and binary labels, classNames order, maxLength', async () => {
    const cat = await textDatasetFromDirectory(root, { shuffle: false, labelMode: 'categorical', classNames: ['pos', 'neg'], maxLength: 4 });
    const [texts, labels] = await collect(cat);
    expect(texts).toEqual(['grea', 'love', 'bad ', 'awfu', 'bori']);
    expect(labels).toEqual([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1]]);
    const bin = await textDatasetFromDirectory(root, { shuffle: false, labelMode: 'binary' });
    const [, bl] = await collect(bin);
    expect(bl).toEqual([[0], [0], [0], [1], [1]]);
    const none = await textDatasetFromDirectory(root, { shuffle: false, labelMode: null });
    const all: string[] = [];
    for await (const b of none) all.push(...b);
    expect(all).toEqual(['bad film', 'awful', 'boring', 'great film', 'lovely']);
    const unlabelled = await textDatasetFromDirectory(root, { shuffle: false, labels: null, batchSize: 10 });
    expect([unlabelled.classNames, await unlabelled.toArray()]).toEqual([[], [['bad film', 'awful', 'boring', 'great film', 'lovely']]]);
  });

  test('a seeded shuffle and validation split: disjoint subsets covering every file, the same for the same seed', async () => {
    const [train, val] = await textDatasetFromDirectory(root, { seed: 42, validationSplit: 0.4, subset: 'both' });
    expect(train.filePaths.length).toBe(3);
    expect(val.filePaths.length).toBe(2);
    expect(new Set([...train.filePaths, ...val.filePaths]).size).toBe(5);
    const again = await textDatasetFromDirectory(root, { seed: 42, validationSplit: 0.4, subset: 'validation' });
    expect(again.filePaths).toEqual(val.filePaths);
    const [t1] = await collect(train);
    const [t2] = await collect(train);
    expect([...t2].sort()).toEqual([...t1].sort());
  });

  test('is a data.Dataset: cardinality, map, prefetch, take, and classNames stay on the source', async () => {
    const ds = await textDatasetFromDirectory(root, { batchSize: 2, shuffle: false });
    expect(ds).toBeInstanceOf(nt.data.Dataset);
    expect(ds.cardinality()).toBe(3);
    expect(ds.classNames).toEqual(['neg', 'pos']);
    const lengths = ds.map(([t, y]) => {
      y.dispose();
      return t.map((s) => s.length);
    });
    expect(await lengths.toArray()).toEqual([[8, 5], [6, 10], [6]]);
    const first = ds.prefetch(2).take(1);
    expect(first.cardinality()).toBe(1);
    const [[texts, y]] = await first.toArray();
    expect([texts, y.toArray()]).toEqual([['bad film', 'awful'], [0, 0]]);
    y.dispose();
  });

  test('bad options and directories are named', async () => {
    await expect(textDatasetFromDirectory(root, { batchSize: 0 })).rejects.toThrow('textDatasetFromDirectory: expected batchSize to be a positive integer but received 0');
    await expect(textDatasetFromDirectory(root, { validationSplit: 0.2, subset: 'training' })).rejects.toThrow('pass a seed');
    await expect(textDatasetFromDirectory(root, { validationSplit: 0.2 })).rejects.toThrow('subset and validationSplit go together');
    await expect(textDatasetFromDirectory(root, { validationSplit: 2, subset: 'training', seed: 1 })).rejects.toThrow('expected validationSplit to be a number between 0 and 1 but received 2');
    await expect(textDatasetFromDirectory(root, { classNames: ['pos', 'meh'] })).rejects.toThrow('classNames ["meh"] are not subdirectories');
    await expect(textDatasetFromDirectory(root, { labelMode: 'sparse' as never })).rejects.toThrow("expected labelMode to be one of 'int', 'categorical', 'binary'");
    await expect(textDatasetFromDirectory(path.join(root, 'nope'))).rejects.toThrow('is not a directory');
  });
});
