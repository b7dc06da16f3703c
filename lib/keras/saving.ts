// model.save(dir) / loadModel(dir): a directory with config.json (architecture, build and compile
// config, Keras-like) and model.safetensors (every weight in Keras layout, named 'layer/weight').
// The files are switched in together (a killed save leaves the old model or the new one, whole);
// layers are rebuilt by class name through a registry.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, typeOfValue } from '../tensor';
import { readSafetensors, saveSafetensors } from '../io/safetensors';
import { committedFile, finishFileSet, writeFileAtomicSync, writeFileSetSync } from '../io/atomic';
import { withAllocLimit } from '../memory';
import { checkBudget, maxBytesFor, MaxBytesOptions, readRegularFileSync } from '../io/files';
import {
  Layer, Dense, Flatten, Reshape, Dropout, Activation, Conv2D, MaxPooling2D, AveragePooling2D, InputLayer,
  ActivationName, Conv2DOptions, DenseOptions,
} from './layers';
import { MultiHeadAttention } from './attention';
import {
  Conv1D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, BatchNormalization,
  LayerNormalization, Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Conv1DOptions, RNNLayerOptions,
} from './layers_more';
import { Sequential, CompileOptions } from './model';
import { RandomFlip, RandomRotation, RandomZoom, RandomTranslation, Rescaling, Resizing, Factor, FlipMode } from './preprocessing';
import { Optimizer, OptimizerOptions } from './optimizers';
import type * as optim from '../optim';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** The optimizer's state (moments, step counts), when the model has trained: training resumes exactly. */
export const OPTIMIZER_FILE = 'optimizer.safetensors';
const FORMAT_NAME = 'nodetorch-keras';
const FORMAT_VERSION = 1;

export type LayerConfig = Record<string, unknown>;
export type LayerFactory = (config: LayerConfig) => Layer;

const registry = new Map<string, LayerFactory>();

/** Lets loadModel rebuild a layer class from its getConfig() (built-ins register themselves below). */
export function registerLayer(className: string, fromConfig: LayerFactory): void {
  if (typeof className !== 'string' || !className) throw new TypeError(`registerLayer: expected a class name but received ${typeOfValue(className)}`);
  if (typeof fromConfig !== 'function') throw new TypeError(`registerLayer: expected a function (config) => Layer but received ${typeOfValue(fromConfig)}`);
  registry.set(className, fromConfig);
}

/** Class names loadModel can rebuild. */
export function registeredLayers(): string[] {
  return [...registry.keys()].sort();
}

/** The options every layer takes, from a config. */
function base(c: LayerConfig): { name?: string; trainable?: boolean; inputShape?: number[] } {
  const o: { name?: string; trainable?: boolean; inputShape?: number[] } = {};
  if (c.name !== undefined) o.name = c.name as string;
  if (c.trainable !== undefined) o.trainable = c.trainable as boolean;
  if (c.inputShape !== undefined && c.inputShape !== null) o.inputShape = c.inputShape as number[];
  return o;
}
function pick(c: LayerConfig, keys: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of keys) if (c[k] !== undefined && c[k] !== null) o[k] = c[k];
  return o;
}
const DENSE_KEYS = ['activation', 'useBias', 'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer',
  'activityRegularizer'];

registerLayer('Dense', (c) => new Dense(c.units as number, { ...base(c), ...pick(c, DENSE_KEYS) } as DenseOptions));
registerLayer('Flatten', (c) => new Flatten(base(c)));
registerLayer('Reshape', (c) => new Reshape(c.targetShape as number[], base(c)));
registerLayer('Dropout', (c) => new Dropout(c.rate as number, base(c)));
registerLayer('Activation', (c) => new Activation(c.activation as ActivationName, base(c)));
registerLayer('Conv2D', (c) => new Conv2D(c.filters as number, c.kernelSize as [number, number],
  { ...base(c), ...pick(c, [...DENSE_KEYS, 'strides', 'padding', 'dilationRate']) } as Conv2DOptions));
registerLayer('MaxPooling2D', (c) => new MaxPooling2D(c.poolSize as [number, number], { ...base(c), ...pick(c, ['strides']) }));
registerLayer('AveragePooling2D', (c) => new AveragePooling2D(c.poolSize as [number, number], { ...base(c), ...pick(c, ['strides']) }));
registerLayer('MultiHeadAttention', (c) => MultiHeadAttention.fromConfig(c));
registerLayer('Conv1D', (c) => new Conv1D(c.filters as number, c.kernelSize as [number],
  { ...base(c), ...pick(c, [...DENSE_KEYS, 'strides', 'padding', 'dilationRate']) } as Conv1DOptions));
const POOLS = { GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D };
for (const [cls, Pool] of Object.entries(POOLS)) registerLayer(cls, (c) => new Pool({ ...base(c), ...pick(c, ['keepdims']) }));
const NORM_KEYS = ['axis', 'epsilon', 'center', 'scale'];
registerLayer('BatchNormalization', (c) => new BatchNormalization({ ...base(c), ...pick(c, [...NORM_KEYS, 'momentum']) }));
registerLayer('LayerNormalization', (c) => new LayerNormalization({ ...base(c), ...pick(c, NORM_KEYS) }));
registerLayer('Embedding', (c) => new Embedding(c.inputDim as number, c.outputDim as number, { ...base(c), ...pick(c, ['embeddingsInitializer']) }));
const RNN_KEYS = ['activation', 'useBias', 'returnSequences', 'goBackwards', 'kernelInitializer', 'recurrentInitializer',
  'biasInitializer', 'kernelRegularizer', 'biasRegularizer'];
const RNNS = { SimpleRNN, LSTM, GRU };
for (const [cls, Rnn] of Object.entries(RNNS)) {
  registerLayer(cls, (c) => new Rnn(c.units as number, { ...base(c), ...pick(c, [...RNN_KEYS, ...(cls === 'LSTM' ? ['unitForgetBias'] : [])]) } as RNNLayerOptions));
}
registerLayer('Bidirectional', (c) => {
  const inner = c.layer as { className?: unknown; config?: LayerConfig } | undefined;
  const Rnn = typeof inner?.className === 'string' ? RNNS[inner.className as keyof typeof RNNS] : undefined;
  if (!Rnn) throw new Error(`expected the wrapped layer to be a SimpleRNN, LSTM or GRU config but found ${JSON.stringify(inner?.className)}`);
  const layer = registry.get(inner!.className as string)!(inner!.config ?? {}) as SimpleRNN;
  return new Bidirectional(layer, { ...base(c), ...pick(c, ['mergeMode']) });
});
const TRANSFORM_KEYS = ['fillMode', 'interpolation', 'seed', 'fillValue'];
registerLayer('RandomFlip', (c) => new RandomFlip(c.mode as FlipMode, { ...base(c), ...pick(c, ['seed']) }));
registerLayer('RandomRotation', (c) => new RandomRotation(c.factor as Factor, { ...base(c), ...pick(c, TRANSFORM_KEYS) }));
registerLayer('RandomZoom', (c) => new RandomZoom(c.heightFactor as Factor, c.widthFactor as Factor | null, { ...base(c), ...pick(c, TRANSFORM_KEYS) }));
registerLayer('RandomTranslation', (c) => new RandomTranslation(c.heightFactor as Factor, c.widthFactor as Factor, { ...base(c), ...pick(c, TRANSFORM_KEYS) }));
registerLayer('Rescaling', (c) => new Rescaling(c.scale as number | number[], c.offset as number | number[], base(c)));
registerLayer('Resizing', (c) => new Resizing(c.height as number, c.width as number, { ...base(c), ...pick(c, ['interpolation', 'cropToAspectRatio']) }));
registerLayer('InputLayer', (c) => new InputLayer({ shape: (c.inputShape ?? c.shape) as number[], ...(c.name ? { name: c.name as string } : {}) }));

/** What config.json holds. */
export interface ModelConfig {
  format: string;
  formatVersion: number;
  className: 'Sequential';
  config: { name: string; layers: { className: string; config: LayerConfig }[] };
  buildConfig: { inputShape: number[] } | null;
  compileConfig: {
    optimizer: { className: string; config: OptimizerOptions };
    loss: string | { name: string; fromLogits: boolean };
    metrics: string[];
  } | null;
}

/** Sequential keeps its compile state private; saving reads it through this view. */
interface SequentialInternals {
  layerList: Layer[];
  builtShape: number[] | null;
  compiled: { optimizer: Optimizer; loss: string; fromLogits: boolean; metricNames: string[] } | null;
  nativeOpt: optim.Optimizer | null;
  optimizer(): optim.Optimizer;
}
const internals = (m: Sequential) => m as unknown as SequentialInternals;

function layerConfig(l: Layer): { className: string; config: LayerConfig } {
  const config = l.getConfig();
  // Regularizers change training, so a restored model must keep them even where getConfig() leaves them out.
  if (l.kernelRegularizer && config.kernelRegularizer === undefined) config.kernelRegularizer = { ...l.kernelRegularizer };
  if (l.biasRegularizer && config.biasRegularizer === undefined) config.biasRegularizer = { ...l.biasRegularizer };
  if (l.activityRegularizer && config.activityRegularizer === undefined) config.activityRegularizer = { ...l.activityRegularizer };
  return { className: l.constructor.name, config: JSON.parse(JSON.stringify(config)) as LayerConfig };
}

export function modelConfig(model: Sequential): ModelConfig {
  const m = internals(model);
  const c = m.compiled;
  return {
    format: FORMAT_NAME,
    formatVersion: FORMAT_VERSION,
    className: 'Sequential',
    config: { name: model.name, layers: m.layerList.map(layerConfig) },
    buildConfig: m.builtShape ? { inputShape: [...m.builtShape] } : null,
    compileConfig: c ? {
      optimizer: { className: c.optimizer.kind, config: { ...c.optimizer.options, learningRate: model.getLearningRate() } },
      loss: c.fromLogits ? { name: c.loss, fromLogits: true } : c.loss,
      metrics: [...c.metricNames],
    } : null,
  };
}

/** Every weight in Keras layout, named '<layer>/<weight>' (dense/kernel, dense/bias, ...). */
export function namedWeights(model: Sequential): Record<string, Tensor> {
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
export function assignWeights(model: Sequential, tensors: Record<string, Tensor>, file: string): void {
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

function ensureBuiltForSave(model: Sequential, where: string): void {
  if (!model.built) {
    if (!internals(model).layerList[0]?.inputShape) {
      throw new Error(`${where}: the model '${model.name}' is not built, so it has no weights yet; give the first layer an ` +
        'inputShape, call build(inputShape), or fit/predict first');
    }
    model.build();
  }
}

export interface SaveOptions {
  /** replace an existing saved model (default true, as Keras) */
  overwrite?: boolean;
  /** also save the optimizer's state so training resumes exactly (default true, as Keras) */
  includeOptimizer?: boolean;
}

/** The optimizer state as safetensors: tensors 'state/<param>/<name>', steps and groups in the metadata. */
function saveOptimizerState(opt: optim.Optimizer, file: string): void {
  const sd = opt.stateDict();
  const tensors: Record<string, Tensor> = {};
  const scalars: Record<string, Record<string, number>> = {};
  for (const [i, st] of Object.entries(sd.state)) {
    for (const [k, v] of Object.entries(st)) {
      if (v instanceof Tensor) tensors[`state/${i}/${k}`] = v;
      else (scalars[i] ??= {})[k] = v;
    }
  }
  saveSafetensors(file, tensors, { format: `${FORMAT_NAME}-optimizer`, scalars: JSON.stringify(scalars), param_groups: JSON.stringify(sd.param_groups) });
}

function loadOptimizerState(opt: optim.Optimizer, file: string, maxBytes?: number): void {
  const { tensors, metadata } = readSafetensors(file, { maxBytes });
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

/** Writes dir/model.safetensors, dir/optimizer.safetensors and dir/config.json, switched in at once (lib/io/atomic.ts). */
export function saveModel(model: Sequential, dir: string, opts: SaveOptions = {}): void {
  if (!(model instanceof Sequential)) throw new TypeError(`save: expected a Sequential model but received ${typeOfValue(model)}`);
  if (typeof dir !== 'string' || !dir) throw new TypeError(`save: expected a directory path but received ${typeOfValue(dir)}`);
  const overwrite = opts.overwrite ?? true;
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new Error(`save: ${dir} exists and is not a directory`);
  if (!overwrite && fs.existsSync(path.join(dir, CONFIG_FILE))) throw new Error(`save: ${dir} already holds a saved model and overwrite is false`);
  ensureBuiltForSave(model, 'save');
  const config = modelConfig(model);
  const weights = namedWeights(model);
  const opt = internals(model).nativeOpt;
  try {
    // one switch for the three files: a save killed at any moment leaves the old model or the new one
    writeFileSetSync(dir, {
      [WEIGHTS_FILE]: (f) => saveSafetensors(f, weights, { format: FORMAT_NAME, layout: 'keras' }),
      // an older model's optimizer state would not fit this one: removed when not saved
      [OPTIMIZER_FILE]: opt && (opts.includeOptimizer ?? true) ? (f) => saveOptimizerState(opt, f) : null,
      [CONFIG_FILE]: (f) => writeFileAtomicSync(f, JSON.stringify(config, null, 2) + '\n'),
    });
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}

/** config.json is a few KiB; anything this large is not one. */
const MAX_CONFIG_BYTES = 16 << 20;

function parseConfig(file: string): ModelConfig {
  let text: string;
  try {
    text = readRegularFileSync(file, 'loadModel', MAX_CONFIG_BYTES).toString('utf8');
  } catch (e) {
    throw new Error(`loadModel: cannot read ${file}: ${(e as Error).message.replace(/^loadModel: /, '')}`);
  }
  let c: ModelConfig;
  try {
    c = JSON.parse(text) as ModelConfig;
  } catch (e) {
    // V8's message quotes the text: where it broke, never what the file holds (it may be any file)
    const at = /position (\d+)/.exec((e as Error).message);
    throw new Error(`loadModel: ${file} is not valid JSON${at ? ` (at byte ${at[1]})` : ''}`);
  }
  if (c === null || typeof c !== 'object' || c.className !== 'Sequential' || !c.config || !Array.isArray(c.config.layers)) {
    throw new Error(`loadModel: ${file} does not describe a Sequential model (expected { className: 'Sequential', config: { layers: [...] } })`);
  }
  if (c.formatVersion !== undefined && c.formatVersion > FORMAT_VERSION) {
    throw new Error(`loadModel: ${file} has format version ${c.formatVersion}; this nodetorch reads up to ${FORMAT_VERSION}`);
  }
  return c;
}

/**
 * Rebuilds the model of a config (no weights set). With maxWeightBytes (the weights file's size),
 * layers are built one by one and an architecture needing more weight bytes than that stops at
 * the first layer over it: a forged config cannot make the loader allocate without bound.
 */
export function modelFromConfig(c: ModelConfig, file = CONFIG_FILE, maxWeightBytes?: number): Sequential {
  const layers = c.config.layers.map((entry, i) => {
    const cls = entry?.className;
    const factory = typeof cls === 'string' ? registry.get(cls) : undefined;
    if (!factory) {
      throw new Error(`loadModel: ${file}: layer ${i} has unknown class ${JSON.stringify(cls)}; known layer classes: ` +
        `${registeredLayers().join(', ')} (register others with registerLayer(className, fromConfig))`);
    }
    try {
      return factory(entry.config ?? {});
    } catch (e) {
      throw new Error(`loadModel: ${file}: cannot rebuild layer ${i} (${cls}): ${(e as Error).message}`);
    }
  });
  const model = new Sequential(layers, { name: c.config.name });
  const shape = c.buildConfig?.inputShape;
  if (shape && maxWeightBytes !== undefined) {
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0 && d <= 1 << 24)) {
      throw new Error(`loadModel: ${file}: buildConfig.inputShape ${JSON.stringify(shape)} is not a list of positive integers`);
    }
    let s = [...shape];
    let bytes = 0;
    for (const [i, l] of layers.entries()) {
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
  if (shape) model.build(shape);
  if (c.compileConfig) {
    const cc = c.compileConfig;
    let opt: Optimizer;
    try {
      opt = new Optimizer(cc.optimizer?.className as never, cc.optimizer?.config);
    } catch (e) {
      throw new Error(`loadModel: ${file}: compileConfig.optimizer: ${(e as Error).message}`);
    }
    model.compile({ optimizer: opt, loss: cc.loss, metrics: cc.metrics } as CompileOptions);
  }
  return model;
}

/** Options of loadModel. */
export type LoadModelOptions = MaxBytesOptions;

/** Loads a model saved by model.save(dir): same layers, names, weights and compile settings. */
export function loadModelSync(dir: string, opts: LoadModelOptions = {}): Sequential {
  if (typeof dir !== 'string' || !dir) throw new TypeError(`loadModel: expected a directory path but received ${typeOfValue(dir)}`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`loadModel: expected an options object but received ${typeOfValue(opts)}`);
  if (!fs.existsSync(dir)) throw new Error(`loadModel: no such directory: ${dir}`);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`loadModel: ${dir} is not a directory (expected one written by model.save(dir))`);
  finishFileSet(dir); // a save killed after its switch began: complete it (best effort, read-only dirs resolve below)
  const cfgFile = committedFile(dir, CONFIG_FILE);
  const wFile = committedFile(dir, WEIGHTS_FILE);
  for (const [f, name] of [[cfgFile, CONFIG_FILE], [wFile, WEIGHTS_FILE]]) {
    if (!f) throw new Error(`loadModel: missing ${path.join(dir, name as string)} (expected ${CONFIG_FILE} and ${WEIGHTS_FILE} in ${dir})`);
  }
  const wSize = fs.statSync(wFile as string).size;
  const maxBytes = maxBytesFor(opts, wSize, 'loadModel');
  checkBudget(wSize, maxBytes, 'the weights file', 'loadModel', wFile as string);
  // Weights are float32 or wider in files nodetorch writes; x2 leaves room for half-precision files.
  // No single allocation while building may exceed that (plus room for initializers' temporaries).
  const budget = Math.min(2 * wSize + 4096, maxBytes);
  const config = parseConfig(cfgFile as string);
  const model = withAllocLimit(budget + (64 << 20), () => modelFromConfig(config, cfgFile as string, budget));
  if (!model.built) throw new Error(`loadModel: ${cfgFile} has no buildConfig.inputShape, so the weights cannot be placed`);
  const { tensors } = readSafetensors(wFile as string, { maxBytes });
  try {
    assignWeights(model, tensors, wFile as string);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  const optFile = committedFile(dir, OPTIMIZER_FILE);
  if (optFile && internals(model).compiled) loadOptimizerState(internals(model).optimizer(), optFile, maxBytes);
  return model;
}

export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<Sequential> {
  return loadModelSync(dir, opts);
}

/** The model's weights alone, as one safetensors file (extra metadata, e.g. a training epoch, allowed). */
export function saveWeightsFile(model: Sequential, file: string, metadata: Record<string, string> = {}): void {
  ensureBuiltForSave(model, 'saveWeights');
  const weights = namedWeights(model);
  try {
    saveSafetensors(file, weights, { format: FORMAT_NAME, layout: 'keras', ...metadata });
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}

/** Loads weights saved by saveWeights into a built model; returns the file's metadata. */
export function loadWeightsFile(model: Sequential, file: string): Record<string, string> {
  if (!fs.existsSync(file)) throw new Error(`loadWeights: no such file: ${file}`);
  if (!model.built) {
    if (!internals(model).layerList[0]?.inputShape) throw new Error(`loadWeights: build the model '${model.name}' before loading weights into it`);
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
