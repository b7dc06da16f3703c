// model.save(path) / loadModel(path): files only, through the public model API (getConfig,
// fromConfig, getWeights, getCompileConfig, trainingOptimizer). A directory holds config.json,
// model.safetensors (every weight in Keras layout, named 'layer/weight') and optimizer.safetensors;
// a path ending in .keras is one zip of the same files plus metadata.json. Layers are rebuilt by
// class name through the registry (engine/layer.ts); every file is written atomically, and a
// directory's files are switched in together (a killed save leaves the old model or the new one, whole).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, typeOfValue } from '../tensor';
import { readSafetensors, encodeSafetensors } from '../io/safetensors';
import { committedFile, finishFileSet, writeFileAtomicSync, writeFileSetSync } from '../io/atomic';
import { checkBudget, maxBytesFor, MaxBytesOptions, readRegularFileSync } from '../io/files';
import { readZipDirectory, readZipEntry, writeZip } from '../io/zip';
import { withAllocLimit } from '../memory';
import { Layer, Dense, Flatten, Reshape, Dropout, Activation, Conv2D, MaxPooling2D, AveragePooling2D, InputLayer } from './layers';
import { MultiHeadAttention } from './attention';
import {
  Conv1D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, BatchNormalization,
  LayerNormalization, Embedding, SimpleRNN, LSTM, GRU, Bidirectional,
} from './layers_more';
import { Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot } from './merge';
import { Sequential } from './engine/sequential';
import { Model, setSavingHooks } from './engine/model';
import { registerLayer, registeredLayers, deserializeLayer, classNameOf } from './engine/layer';
import type { LayerFactory } from './engine/layer';
import type { CompileConfig } from './training/trainer';
import { RandomFlip, RandomRotation, RandomZoom, RandomTranslation, Rescaling, Resizing } from './preprocessing';
import type * as optim from '../optim';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** The optimizer's state (moments, step counts), when the model has trained: training resumes exactly. */
export const OPTIMIZER_FILE = 'optimizer.safetensors';
/** In a .keras zip only: when and by what the file was written. */
export const METADATA_FILE = 'metadata.json';
const FORMAT_NAME = 'nodetorch-keras';
/** 1: Sequential only; 2: any model kind (Functional graphs, subclassed models' build shape) */
const FORMAT_VERSION = 2;

export type LayerConfig = Record<string, unknown>;
export type { LayerFactory };
export { registerLayer, registeredLayers };

// Built-in layers and models rebuild through their own static fromConfig (getConfig's inverse, in each class).
for (const cls of [Dense, Flatten, Reshape, Dropout, Activation, Conv2D, MaxPooling2D, AveragePooling2D, InputLayer, MultiHeadAttention,
  Conv1D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, BatchNormalization, LayerNormalization,
  Embedding, SimpleRNN, LSTM, GRU, Bidirectional, RandomFlip, RandomRotation, RandomZoom, RandomTranslation, Rescaling, Resizing,
  Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot, Sequential]) {
  registerLayer(cls.name, cls);
}
registerLayer('Functional', (c) => Model.fromConfig(c));

/** What config.json holds. */
export interface ModelConfig {
  format: string;
  formatVersion: number;
  /** 'Sequential', 'Functional', or a subclassed model's class name (registered with registerLayer) */
  className: string;
  config: Record<string, unknown>;
  /** the per-sample input shape the weights were made for (Sequential and subclassed models) */
  buildConfig: { inputShape: number[] } | null;
  compileConfig: CompileConfig | null;
}

/** The model's config through its public API. */
export function modelConfig(model: Model): ModelConfig {
  return {
    format: FORMAT_NAME,
    formatVersion: FORMAT_VERSION,
    className: classNameOf(model),
    config: JSON.parse(JSON.stringify(model.getConfig())) as Record<string, unknown>,
    buildConfig: model.getBuildConfig(),
    compileConfig: model.getCompileConfig(),
  };
}

/** Every weight in Keras layout, named '<layer>/<weight>' (dense/kernel, dense/bias, ...). */
export function namedWeights(model: Model): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const seen = new Set<string>();
  for (const l of model.layers) {
    if (seen.has(l.name)) throw new Error(`${model.name}: two layers are named '${l.name}'; weights are saved by layer name, so names must be unique`);
    seen.add(l.name);
    const ws = l.getWeights();
    l.weightsInternal().forEach((w, i) => { out[`${l.name}/${w.name}`] = ws[i]; });
  }
  return out;
}

/**
 * Sets the model's weights from '<layer>/<weight>' tensors; names the file on any mismatch. Matches by
 * name when every name matches, otherwise by order (as Keras' load_weights), so weights saved from a
 * model whose layers got other automatic names (dense_2 for dense) still load into the same architecture.
 */
export function assignWeights(model: Model, tensors: Record<string, Tensor>, file: string): void {
  const slots = model.layers.flatMap((l) => l.weightsInternal().map((w) => ({
    layer: l, key: `${l.name}/${w.name}`, suffix: w.name, shape: w.toKeras ? w.toKeras(w.tensor).shape : w.tensor.shape,
  })));
  const keys = Object.keys(tensors);
  const byName = slots.length === keys.length && slots.every((s) => s.key in tensors);
  const byOrder = !byName && slots.length === keys.length &&
    slots.every((s, i) => keys[i].endsWith(`/${s.suffix}`) && tensors[keys[i]].shape.join() === s.shape.join());
  if (!byName && !byOrder) {
    const missing = slots.filter((s) => !(s.key in tensors)).map((s) => s.key);
    const extra = keys.filter((k) => !slots.some((s) => s.key === k));
    throw new RangeError(`${file}: the weights do not match the model '${model.name}'` +
      (missing.length ? `; missing: ${missing.join(', ')}` : '') + (extra.length ? `; not in the model: ${extra.join(', ')}` : '') +
      (!missing.length && !extra.length ? `; expected ${slots.length} weights but the file has ${keys.length}` : ''));
  }
  const chosen = slots.map((s, i) => {
    const key = byName ? s.key : keys[i];
    const t = tensors[key];
    if (t.shape.join() !== s.shape.join()) {
      throw new RangeError(`${file}: weight '${key}' has shape [${t.shape.join(', ')}] but layer '${s.layer.name}' ` +
        `(${s.layer.constructor.name}) expects [${s.shape.join(', ')}]`);
    }
    return t;
  });
  let i = 0;
  for (const l of model.layers) {
    const n = l.weightsInternal().length;
    if (n) l.setWeights(chosen.slice(i, i + n));
    i += n;
  }
}

function ensureBuiltForSave(model: Model, where: string): void {
  if (model.built && (model.inputs.length || model.getBuildConfig())) return;
  if (model instanceof Sequential) {
    if (!model.layerStack[0]?.inputShape) {
      throw new Error(`${where}: the model '${model.name}' is not built, so it has no weights yet; give the first layer an ` +
        'inputShape, call build(inputShape), or fit/predict first');
    }
    model.build();
    return;
  }
  throw new Error(`${where}: the model '${model.name}' is not built, so it has no weights yet; call it on data (model(x), fit or predict) first`);
}

export interface SaveOptions {
  /** replace an existing saved model (default true, as Keras) */
  overwrite?: boolean;
  /** also save the optimizer's state so training resumes exactly (default true, as Keras) */
  includeOptimizer?: boolean;
}

/** The optimizer state as safetensors: tensors 'state/<param>/<name>', steps and groups in the metadata. */
function encodeOptimizerState(opt: optim.Optimizer): Buffer[] {
  const sd = opt.stateDict();
  const tensors: Record<string, Tensor> = {};
  const scalars: Record<string, Record<string, number>> = {};
  for (const [i, st] of Object.entries(sd.state)) {
    for (const [k, v] of Object.entries(st)) {
      if (v instanceof Tensor) tensors[`state/${i}/${k}`] = v;
      else (scalars[i] ??= {})[k] = v;
    }
  }
  return encodeSafetensors(tensors, { format: `${FORMAT_NAME}-optimizer`, scalars: JSON.stringify(scalars), param_groups: JSON.stringify(sd.param_groups) });
}

function applyOptimizerState(opt: optim.Optimizer, read: ReturnType<typeof readSafetensors>, file: string): void {
  const { tensors, metadata } = read;
  let scalars: Record<string, Record<string, number>>;
  let groups: Record<string, unknown>[];
  try {
    scalars = JSON.parse(metadata.scalars ?? '{}') as Record<string, Record<string, number>>;
    groups = JSON.parse(metadata.param_groups ?? 'null') as Record<string, unknown>[];
  } catch (e) {
    throw new Error(`loadModel: ${file} has unreadable optimizer metadata (${(e as Error).message})`);
  }
  const state: Record<number, Record<string, Tensor | number>> = {};
  for (const [key, t] of Object.entries(tensors)) {
    const m = /^state\/(\d+)\/(\w+)$/.exec(key);
    if (!m) throw new Error(`loadModel: ${file} has an unexpected entry '${key}' (expected state/<param>/<name>)`);
    (state[Number(m[1])] ??= {})[m[2]] = t;
  }
  for (const [i, st] of Object.entries(scalars)) Object.assign((state[Number(i)] ??= {}), st);
  try {
    opt.loadStateDict({ state, param_groups: groups });
  } catch (e) {
    throw new Error(`loadModel: ${file} does not fit the model's optimizer: ${(e as Error).message}`);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** A file of a saved model: its name in the directory or zip, and its bytes. */
interface SavedFile { name: string; data: Buffer[] }

/**
 * The one place saving writes: each file into the directory atomically (config.json last, so a
 * directory with a config is complete) and removes the stale ones, or one zip written atomically.
 */
function writeModelFiles(target: string, files: SavedFile[], remove: string[], asZip: boolean): void {
  if (asZip) {
    writeFileAtomicSync(target, writeZip(files.map((f) => ({ name: f.name, data: Buffer.concat(f.data) }))));
    return;
  }
  // one switch for the set: a save killed at any moment leaves the old model or the new one (lib/io/atomic.ts);
  // an older model's file that this one lacks (its optimizer state) is removed in the same switch
  const set: Record<string, ((file: string) => void) | null> = {};
  for (const f of files) set[f.name] = (file) => writeFileAtomicSync(file, f.data);
  for (const name of remove) set[name] = null;
  writeFileSetSync(target, set);
}

const isKerasFile = (p: string) => p.toLowerCase().endsWith('.keras');

/** Saves the model: a directory (config.json, model.safetensors, optimizer.safetensors) or, for a .keras path, one zip. */
export function saveModel(model: Model, target: string, opts: SaveOptions = {}): void {
  if (!(model instanceof Model)) throw new TypeError(`save: expected a Keras model but received ${typeOfValue(model)}`);
  if (typeof target !== 'string' || !target) throw new TypeError(`save: expected a path (a directory, or a file ending in .keras) but received ${typeOfValue(target)}`);
  const overwrite = opts.overwrite ?? true;
  const zip = isKerasFile(target);
  if (zip) {
    if (fs.existsSync(target) && fs.statSync(target).isDirectory()) throw new Error(`save: ${target} is a directory; a .keras path is written as one file`);
    if (!overwrite && fs.existsSync(target)) throw new Error(`save: ${target} exists and overwrite is false`);
  } else {
    if (fs.existsSync(target) && !fs.statSync(target).isDirectory()) throw new Error(`save: ${target} exists and is not a directory`);
    if (!overwrite && fs.existsSync(path.join(target, CONFIG_FILE))) throw new Error(`save: ${target} already holds a saved model and overwrite is false`);
  }
  ensureBuiltForSave(model, 'save');
  const config = modelConfig(model);
  const weights = namedWeights(model);
  const files: SavedFile[] = [];
  try {
    files.push({ name: WEIGHTS_FILE, data: encodeSafetensors(weights, { format: FORMAT_NAME, layout: 'keras' }) });
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
  const opt = model.trainingOptimizer();
  const withOpt = !!opt && (opts.includeOptimizer ?? true);
  if (withOpt) files.push({ name: OPTIMIZER_FILE, data: encodeOptimizerState(opt) });
  if (zip) files.push({ name: METADATA_FILE, data: [Buffer.from(JSON.stringify({ format: FORMAT_NAME, formatVersion: FORMAT_VERSION, dateSaved: new Date().toISOString() }, null, 2) + '\n')] });
  files.push({ name: CONFIG_FILE, data: [Buffer.from(JSON.stringify(config, null, 2) + '\n')] });
  writeModelFiles(target, files, withOpt ? [] : [OPTIMIZER_FILE], zip);
}

function parseConfig(file: string, text: string): ModelConfig {
  let c: ModelConfig;
  try {
    c = JSON.parse(text) as ModelConfig;
  } catch (e) {
    // V8's message quotes the text: where it broke, never what the file holds (it may be any file)
    const at = /position (\d+)/.exec((e as Error).message);
    throw new Error(`loadModel: ${file} is not valid JSON${at ? ` (at byte ${at[1]})` : ''}`);
  }
  if (c === null || typeof c !== 'object' || typeof c.className !== 'string' || !c.config || typeof c.config !== 'object') {
    throw new Error(`loadModel: ${file} does not describe a model (expected { className, config: {...} })`);
  }
  if (c.formatVersion !== undefined && c.formatVersion > FORMAT_VERSION) {
    throw new Error(`loadModel: ${file} has format version ${c.formatVersion}; this nodetorch reads up to ${FORMAT_VERSION}`);
  }
  return c;
}

/**
 * Rebuilds the model of a config (no weights set). With maxWeightBytes (the weights file's size), a
 * Sequential's layers are built one by one and an architecture needing more weight bytes than that
 * stops at the first layer over it: a forged config cannot make the loader allocate without bound.
 */
export function modelFromConfig(c: ModelConfig, file = CONFIG_FILE, maxWeightBytes?: number): Model {
  let model: Model;
  if (c.className === 'Sequential') {
    const layers = (Array.isArray(c.config.layers) ? c.config.layers : []).map((e: unknown, i: number) => {
      try {
        return deserializeLayer(e, `layer ${i}`);
      } catch (err) {
        throw new Error(`loadModel: ${file}: ${(err as Error).message}`);
      }
    });
    model = new Sequential(layers, { name: c.config.name as string | undefined });
    const shape = c.buildConfig?.inputShape;
    if (shape && maxWeightBytes !== undefined) checkWeightBudget(layers, shape, file, maxWeightBytes);
    if (shape) model.build(shape);
  } else {
    try {
      const m = deserializeLayer({ className: c.className, config: c.config }, 'the model');
      if (!(m instanceof Model)) throw new Error(`class ${c.className} is a layer, not a model`);
      model = m;
    } catch (err) {
      throw new Error(`loadModel: ${file}: ${(err as Error).message}`);
    }
    const shape = c.buildConfig?.inputShape;
    if (!model.built && shape) model.build(shape);
  }
  if (c.compileConfig) {
    try {
      model.compileFromConfig(c.compileConfig);
    } catch (e) {
      throw new Error(`loadModel: ${file}: compileConfig${(e as Error).message.startsWith('optimizer: ') ? '.' : ': '}${(e as Error).message}`);
    }
  }
  return model;
}

function checkWeightBudget(layers: Layer[], shape: unknown, file: string, maxWeightBytes: number): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0 && d <= 1 << 24)) {
    throw new Error(`loadModel: ${file}: buildConfig.inputShape ${JSON.stringify(shape)} is not a list of positive integers`);
  }
  let s = [...shape] as number[];
  let bytes = 0;
  for (const [i, l] of layers.entries()) {
    if (l instanceof InputLayer) continue;
    try {
      if (!l.built) {
        l.build(s);
        l.built = true;
      }
      s = l.computeOutputShape(s);
    } catch (e) {
      throw new Error(`loadModel: ${file}: cannot build layer ${i} (${l.name}) for input shape [${s.join(', ')}]: ${(e as Error).message}`);
    }
    bytes += l.weightsInternal().reduce((n, w) => n + w.tensor.numel * 4, 0);
    if (bytes > maxWeightBytes) {
      throw new Error(`loadModel: ${file}: the layers up to ${l.name} need ${bytes} bytes of weights but the weights file ` +
        `holds ${maxWeightBytes}: the architecture does not match its weights (corrupt or forged)`);
    }
  }
}

/** A safetensors entry of a .keras zip, read through the one safetensors reader (via a private temporary file). */
function readZippedSafetensors(bytes: Buffer, name: string): ReturnType<typeof readSafetensors> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-keras-'));
  const file = path.join(dir, name);
  try {
    fs.writeFileSync(file, bytes);
    return readSafetensors(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads a model saved by model.save(path): same layers, names, weights and compile settings. */
export type LoadModelOptions = MaxBytesOptions;

/** config.json is a few KiB; anything this large is not one. */
const MAX_CONFIG_BYTES = 16 << 20;

export function loadModelSync(target: string, opts: LoadModelOptions = {}): Model {
  if (typeof target !== 'string' || !target) throw new TypeError(`loadModel: expected a directory or .keras file path but received ${typeOfValue(target)}`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`loadModel: expected an options object but received ${typeOfValue(opts)}`);
  if (!fs.existsSync(target)) throw new Error(`loadModel: no such ${isKerasFile(target) ? 'file' : 'directory'}: ${target}`);
  let maxBytes: number;
  let configText: string;
  let weights: () => ReturnType<typeof readSafetensors>;
  let optimizerState: (() => ReturnType<typeof readSafetensors>) | null = null;
  let weightBytes: number;
  let cfgFile: string;
  let wFile: string;
  let optName: string;
  if (fs.statSync(target).isDirectory()) {
    finishFileSet(target); // a save killed after its switch began: complete it (best effort, read-only dirs resolve below)
    const committedCfg = committedFile(target, CONFIG_FILE);
    const committedW = committedFile(target, WEIGHTS_FILE);
    for (const [f, name] of [[committedCfg, CONFIG_FILE], [committedW, WEIGHTS_FILE]]) {
      if (!f) throw new Error(`loadModel: missing ${path.join(target, name as string)} (expected ${CONFIG_FILE} and ${WEIGHTS_FILE} in ${target})`);
    }
    cfgFile = committedCfg as string;
    wFile = committedW as string;
    weightBytes = fs.statSync(wFile).size;
    maxBytes = maxBytesFor(opts, weightBytes, 'loadModel');
    checkBudget(weightBytes, maxBytes, 'the weights file', 'loadModel', wFile);
    try {
      configText = readRegularFileSync(cfgFile, 'loadModel', MAX_CONFIG_BYTES).toString('utf8');
    } catch (e) {
      throw new Error(`loadModel: cannot read ${cfgFile}: ${(e as Error).message.replace(/^loadModel: /, '')}`);
    }
    weights = () => readSafetensors(wFile, { maxBytes });
    const optFile = committedFile(target, OPTIMIZER_FILE);
    optName = optFile ?? path.join(target, OPTIMIZER_FILE);
    if (optFile) optimizerState = () => readSafetensors(optFile, { maxBytes });
  } else {
    const size = fs.statSync(target).size;
    maxBytes = maxBytesFor(opts, size, 'loadModel');
    checkBudget(size, maxBytes, 'the .keras file', 'loadModel', target);
    const buf = readRegularFileSync(target, 'loadModel', maxBytes);
    const bad = (m: string) => new Error(`loadModel: ${target}: ${m} (expected a .keras zip written by model.save)`);
    const entries = readZipDirectory(buf, bad);
    const entry = (name: string) => {
      const e = entries.get(name);
      if (!e) throw bad(`no ${name} in the archive`);
      return readZipEntry(buf, e, bad);
    };
    cfgFile = `${target}:${CONFIG_FILE}`;
    wFile = `${target}:${WEIGHTS_FILE}`;
    optName = `${target}:${OPTIMIZER_FILE}`;
    configText = entry(CONFIG_FILE).toString('utf8');
    const wBytes = entry(WEIGHTS_FILE);
    weightBytes = wBytes.byteLength;
    weights = () => readZippedSafetensors(wBytes, WEIGHTS_FILE);
    if (entries.has(OPTIMIZER_FILE)) {
      const oBytes = entry(OPTIMIZER_FILE);
      optimizerState = () => readZippedSafetensors(oBytes, OPTIMIZER_FILE);
    }
  }
  // Weights are float32 or wider in files nodetorch writes; x2 leaves room for half-precision files.
  // No single allocation while building may exceed that (plus room for initializers' temporaries).
  const budget = Math.min(2 * weightBytes + 4096, maxBytes);
  const config = parseConfig(cfgFile, configText);
  const model = withAllocLimit(budget + (64 << 20), () => modelFromConfig(config, cfgFile, budget));
  if (!model.built) throw new Error(`loadModel: ${cfgFile} has no buildConfig.inputShape, so the weights cannot be placed`);
  const { tensors } = weights();
  try {
    assignWeights(model, tensors, wFile);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  const opt = optimizerState && model.trainingOptimizer(true);
  if (opt && optimizerState) applyOptimizerState(opt, optimizerState(), optName);
  return model;
}

/** Loads a model saved by model.save(path) (a directory or a .keras file). Typed as a Sequential unless told: loadModel<nt.Model>(path). */
export async function loadModel<M extends Model = Sequential>(target: string, opts: LoadModelOptions = {}): Promise<M> {
  return loadModelSync(target, opts) as M;
}

/** The model's weights alone, as one safetensors file (extra metadata, e.g. a training epoch, allowed). */
export function saveWeightsFile(model: Model, file: string, metadata: Record<string, string> = {}): void {
  ensureBuiltForSave(model, 'saveWeights');
  const weights = namedWeights(model);
  try {
    writeFileAtomicSync(file, encodeSafetensors(weights, { format: FORMAT_NAME, layout: 'keras', ...metadata }));
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}

/** Loads weights saved by saveWeights into a built model; returns the file's metadata. */
export function loadWeightsFile(model: Model, file: string): Record<string, string> {
  if (!fs.existsSync(file)) throw new Error(`loadWeights: no such file: ${file}`);
  if (!model.built) {
    if (!(model instanceof Sequential) || !model.layerStack[0]?.inputShape) throw new Error(`loadWeights: build the model '${model.name}' before loading weights into it`);
    model.build();
  }
  const { tensors, metadata } = readSafetensors(file);
  try {
    assignWeights(model, tensors, file);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return metadata;
}

setSavingHooks({
  save: (m, p, o) => saveModel(m, p, o as SaveOptions),
  saveWeights: (m, f) => saveWeightsFile(m, f),
  loadWeights: (m, f) => { loadWeightsFile(m, f); },
});
