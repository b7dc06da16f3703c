// Where dataset files are looked for, and reading them (gzip-aware) with errors that name the
// file. Nothing here touches the network.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { promisify } from 'util';
import { tensor } from '../creation';
import type { Tensor } from '../tensor';

const gunzip = promisify(zlib.gunzip);

/** The datasets cache directory: $NODETORCH_HOME, else ~/.nodetorch/datasets. */
export function datasetsHome(): string {
  const env = process.env.NODETORCH_HOME;
  return env ? path.resolve(env) : path.join(os.homedir(), '.nodetorch', 'datasets');
}

/**
 * Where the system's dataset packages install (Debian's dataset-* packages: /usr/share/datasets);
 * $NODETORCH_SYSTEM_DATASETS replaces it (a test, or another distribution's layout).
 */
export function systemDatasetsDir(): string {
  const env = process.env.NODETORCH_SYSTEM_DATASETS;
  return env ? path.resolve(env) : '/usr/share/datasets';
}

/** A place a dataset may live and why it is looked at (shown in "not found" errors). */
export interface Candidate { path: string; why: string }

/** Where a data set is cached (default ~/.keras/datasets). */
export interface PathOptions { path?: string }

export function checkOptions<T extends object>(o: T | undefined, op: string, known: string[]): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new TypeError(`${op}: expected an options object but received ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o}`);
  }
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new TypeError(`${op}: unknown option '${k}': expected one of ${known.join(', ')}`);
  }
  const p = (o as PathOptions).path;
  if (p !== undefined && (typeof p !== 'string' || p === '')) {
    throw new TypeError(`${op}: expected path to be a non-empty string but received ${typeof p === 'string' ? "''" : typeof p}`);
  }
  return o;
}

/** The explicit { path } alone when given (a wrong path must not silently load other data), else the defaults. */
export function candidates(explicit: string | undefined, defaults: Candidate[]): Candidate[] {
  if (explicit !== undefined) return [{ path: path.resolve(explicit), why: 'the path option' }];
  return defaults;
}

export async function exists(p: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.stat(p);
  } catch {
    return null;
  }
}

/** The error for a dataset found nowhere: every place tried and how to provide the files. */
export function notFound(op: string, what: string, tried: Candidate[], howTo: string): Error {
  const lines = tried.map((c) => `  - ${c.path} (${c.why})`).join('\n');
  return new Error(`${op}: could not find ${what}. Looked in:\n${lines}\n${howTo} ` +
    'nodetorch never downloads datasets.');
}

/** A file's bytes, gunzipped when they start with the gzip magic. */
export async function readMaybeGzip(file: string, op: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await fs.promises.readFile(file);
  } catch (e) {
    throw new Error(`${op}: could not read ${file}: ${(e as Error).message}`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return await gunzip(raw);
    } catch (e) {
      throw new Error(`${op}: ${file} is not a valid gzip file (truncated or corrupt: ${(e as Error).message})`);
    }
  }
  return raw;
}

/** The first of name or name.gz that exists in dir. */
export async function findPlainOrGz(dir: string, name: string): Promise<string | null> {
  for (const f of [name, `${name}.gz`]) {
    const s = await exists(path.join(dir, f));
    if (s?.isFile()) return path.join(dir, f);
  }
  return null;
}

/** [[xTrain, yTrain], [xTest, yTest]], as Keras' load_data() returns. */
export type Splits<X = Tensor, Y = Tensor> = [[X, Y], [X, Y]];

/** uint8 labels widened to an int64 tensor, after checking every label is below numClasses. */
export function int64Labels(labels: Uint8Array, numClasses: number, file: string, op: string,
  shape = [labels.length]): Tensor {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new Error(`${op}: ${file} is corrupt: label ${labels[i]} at index ${i}, expected labels 0..${numClasses - 1}`);
    }
  }
  const bytes = tensor(labels, { shape, dtype: 'uint8' });
  try {
    return bytes.long();
  } finally {
    bytes.dispose();
  }
}
