// The Keras call protocol every layer and model shares (Layer extends Callable): called on symbolic
// KerasTensors (from nt.Input) a layer records a graph Node and returns KerasTensors; called on real
// Tensors it builds itself from their shapes and runs eagerly.
import { Tensor, typeOfValue } from '../../tensor';
import { DType } from '../../dtype';
import { isObjectLike } from '../../callable';
import type { Layer } from '../layers';
import * as layersModule from '../layers';

let tensorCount = 0;

/** A symbolic tensor: the per-sample shape and dtype a layer's output will have. */
export class KerasTensor {
  /** Keras' auto name: keras_tensor, keras_tensor_1, ... */
  readonly name: string;
  constructor(readonly shape: (number | null)[], readonly dtype: DType, readonly node: Node, readonly index: number) {
    this.name = tensorCount === 0 ? 'keras_tensor' : `keras_tensor_${tensorCount}`;
    tensorCount++;
  }
  /** Keras' repr: `<KerasTensor shape=(None, ...), dtype=..., name=...>`. */
  toString(): string {
    return `<KerasTensor shape=(None, ${this.shape.map((d) => (d === null ? 'None' : d)).join(', ')}), dtype=${this.dtype}, name=${this.name}>`;
  }
}

/** How a node passes its inputs: layer(x), layer([a, b]) (merge layers), layer(q, v, k) (attention). */
export type CallKind = 'single' | 'list' | 'positional';

/** One call of a layer in a graph. */
export class Node {
  /** The symbolic tensors this call produced. */
  readonly outputs: KerasTensor[] = [];
  constructor(readonly layer: Layer, readonly inputs: KerasTensor[], readonly kind: CallKind, readonly callOptions: Record<string, unknown>) {
    const list = nodesOf.get(layer) ?? [];
    list.push(this);
    nodesOf.set(layer, list);
  }
  /** Which call of its layer this node is (Keras' node index in "Connected to"). */
  get nodeIndex(): number {
    return (nodesOf.get(this.layer) ?? []).indexOf(this);
  }
  /** Whether this is an Input node (no inputs). */
  get isInput(): boolean {
    return this.inputs.length === 0;
  }
  /** Runs the layer on real tensors standing for the node's inputs. */
  run(values: Tensor[], training: boolean): Tensor[] {
    const o = { ...this.callOptions, training };
    const l = this.layer as unknown as { call(...a: unknown[]): Tensor | Tensor[] };
    const r = this.kind === 'single' ? l.call(values[0], o) : this.kind === 'list' ? l.call(values, o) : l.call(...values, o);
    return Array.isArray(r) ? r : [r];
  }
}

const nodesOf = new WeakMap<Layer, Node[]>();

/** The nodes made by calling a layer symbolically, in call order. */
export function inboundNodes(layer: Layer): Node[] {
  return nodesOf.get(layer) ?? [];
}

/** Options of nt.Input(): shape (per sample), name, dtype (keras.Input(shape, name=, dtype=)). */
export interface InputOptions {
  /** per-sample shape, without the batch dimension (null for a dimension of any size) */
  shape: (number | null)[];
  /** the input layer's name (default input_layer, input_layer_1...) */
  name?: string;
  /** the dtype of the data fed to this input (default float32) */
  dtype?: DType;
}

/** Keras' Input: a symbolic tensor standing for the model's input of that per-sample shape (nt.Input(...) or new layers.Input(...)). */
export const Input = makeInput as {
  /** nt.Input({ shape }): the symbolic input tensor (keras.Input). */
  (opts: InputOptions): KerasTensor;
  /** new layers.Input({ shape }): the same symbolic tensor (Keras' layers.Input). */
  new (opts: InputOptions): KerasTensor;
};

// a function declaration, so `new Input(...)` returns the tensor it makes, as Keras' layers.Input does
function makeInput(opts: InputOptions): KerasTensor {
  if (!isObjectLike(opts) || Array.isArray(opts)) throw new TypeError(`Input: expected { shape, name?, dtype? } but received ${typeOfValue(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!['shape', 'name', 'dtype', 'batchSize'].includes(k)) throw new TypeError(`Input: unknown option '${k}'; known options: shape, name, dtype`);
  }
  const shape = opts.shape;
  if (!Array.isArray(shape) || !shape.every((d) => d === null || (Number.isSafeInteger(d) && d > 0))) {
    throw new TypeError(`Input: expected shape to be an array of positive integers (or null), per sample without the batch, but received ${JSON.stringify(shape) ?? typeOfValue(shape)}`);
  }
  const dtype = opts.dtype ?? 'float32';
  const layer = new layersModule.InputLayer({ shape: shape as number[], name: opts.name, dtype });
  return inputTensor(layer);
}

/** The symbolic tensor an InputLayer produces (made once per InputLayer). */
export function inputTensor(layer: layersModule.InputLayer): KerasTensor {
  const existing = inboundNodes(layer)[0];
  if (existing) return existing.outputs[0];
  const node = new Node(layer, [], 'single', {});
  const t = new KerasTensor([...(layer.inputShape as (number | null)[])], layer.dtype, node, 0);
  node.outputs.push(t);
  return t;
}

const isSymbolic = (a: unknown): boolean => a instanceof KerasTensor || (Array.isArray(a) && a.some((e) => e instanceof KerasTensor));

/** What `layer(...args)` does. */
export function callLayer(layer: Layer, args: unknown[]): unknown {
  if (args.some(isSymbolic)) return callSymbolic(layer, args);
  return callEager(layer, args);
}

function where(layer: Layer): string {
  return `${layer.name} (${layer.constructor.name})`;
}

function callOptions(layer: Layer, o: unknown): Record<string, unknown> {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object' || Array.isArray(o) || o instanceof Tensor || o instanceof KerasTensor) {
    throw new TypeError(`${where(layer)}: expected call options like { training: true } but received ${typeOfValue(o)}`);
  }
  const r = o as Record<string, unknown>;
  if (r.training !== undefined && typeof r.training !== 'boolean') {
    throw new TypeError(`${where(layer)}: expected training to be a boolean but received ${typeOfValue(r.training)}`);
  }
  return r;
}

function callEager(layer: Layer, args: unknown[]): unknown {
  const [first, ...rest] = args;
  const l = layer as unknown as { call(...a: unknown[]): unknown };
  if (Array.isArray(first) && first.length > 0 && first.every((t) => t instanceof Tensor)) {
    const ts = first as Tensor[];
    if (!layer.built) {
      (layer.build as unknown as (s: number[][]) => void).call(layer, ts.map((t) => t.shape.slice(1)));
      layer.built = true;
    }
    const o = callOptions(layer, rest[0]);
    return l.call(ts, { ...o, training: o.training ?? false });
  }
  if (first instanceof Tensor) {
    if (rest.length > 0 && (rest[0] instanceof Tensor || rest[0] === null)) return l.call(...args); // call(query, value, key?, options?)
    if (rest.length > 1) throw new TypeError(`${where(layer)}: expected layer(x) or layer(x, { training }) but received ${args.length} arguments`);
    const o = callOptions(layer, rest[0]);
    if (!layer.built) {
      layer.build(first.shape.slice(1));
      layer.built = true;
      layer.builtInputShape = first.shape.slice(1);
    }
    return l.call(first, { ...o, training: o.training ?? false });
  }
  throw new TypeError(`${where(layer)}: expected a Tensor, an array of Tensors, or symbolic tensors from nt.Input() but received ${typeOfValue(first)}`);
}

/** Per-sample output shapes of a layer called symbolically (a model may have several outputs). */
export interface SymbolicShapes {
  /** The per-sample output shapes for a symbolic call of this kind on inputs of these shapes. */
  symbolicOutputShapes(kind: CallKind, shapes: (number | null)[][]): (number | null)[][];
}

function callSymbolic(layer: Layer, args: unknown[]): KerasTensor | KerasTensor[] {
  const [first, ...rest] = args;
  let kind: CallKind;
  let inputs: KerasTensor[];
  let opts: unknown;
  const checkSym = (t: unknown, i: number): KerasTensor => {
    if (t instanceof KerasTensor) return t;
    throw new TypeError(`${where(layer)}: input ${i} is ${t instanceof Tensor ? 'a real Tensor' : typeOfValue(t)}; a layer called on ` +
      'symbolic tensors (from nt.Input) takes only symbolic tensors');
  };
  if (Array.isArray(first)) {
    kind = 'list';
    inputs = first.map(checkSym);
    if (rest.length > 1) throw new TypeError(`${where(layer)}: expected layer([a, b, ...], options?) but received ${args.length} arguments`);
    opts = rest[0];
  } else {
    let n = 0;
    while (n < args.length && args[n] instanceof KerasTensor) n++;
    inputs = args.slice(0, n).map(checkSym);
    kind = n === 1 ? 'single' : 'positional';
    if (args.length > n + 1) throw new TypeError(`${where(layer)}: expected symbolic tensors followed by at most one options object but received ${args.length} arguments`);
    opts = args[n];
  }
  const o = callOptions(layer, opts);
  if (o.returnAttentionScores) throw new TypeError(`${where(layer)}: returnAttentionScores is not available on symbolic inputs; call the layer on Tensors for the scores`);
  if ('training' in o) throw new TypeError(`${where(layer)}: training is set by fit/evaluate/predict for layers in a model; leave it out of the symbolic call`);
  const shapes = inputs.map((t) => [...t.shape]);
  if (layer.built && kind === 'single') layer.checkInputWidth(shapes[0]);
  if (!layer.built) {
    const b = layer.build as (...s: unknown[]) => void;
    if (kind === 'single') b.call(layer, shapes[0]);
    else if (kind === 'list') b.call(layer, shapes);
    else b.call(layer, ...shapes);
    layer.built = true;
  }
  // what a layer was last called on (the serving code and preprocessing layers read it)
  if (kind !== 'list') layer.builtInputShape = shapes[0] as number[];
  const s = layer as unknown as Partial<SymbolicShapes>;
  const outShapes = typeof s.symbolicOutputShapes === 'function' ? s.symbolicOutputShapes(kind, shapes)
    : [kind === 'list' ? (layer.computeOutputShape as (x: unknown) => number[])(shapes) : layer.computeOutputShape(shapes[0] as number[])];
  const node = new Node(layer, inputs, kind, o);
  for (const [i, sh] of outShapes.entries()) node.outputs.push(new KerasTensor(sh, 'float32', node, i));
  return node.outputs.length === 1 ? node.outputs[0] : [...node.outputs];
}

/** A layer's saved form: its class name and getConfig(). */
export interface LayerEntry { className: string; config: Record<string, unknown> }
/** Makes a layer from its saved config (registerLayer's and fromConfig's form). */
export type LayerFactory = (config: Record<string, unknown>) => Layer;
const registry = new Map<string, LayerFactory>();

/**
 * Lets loadModel rebuild a layer (or subclassed model) class from its getConfig(): pass the class
 * (its static fromConfig(config) runs; the base one calls new Class(config)) or a (config) => layer function.
 */
export function registerLayer(className: string, cls: LayerFactory | (abstract new (...args: never) => Layer)): void {
  if (typeof className !== 'string' || !className) throw new TypeError(`registerLayer: expected a class name but received ${typeOfValue(className)}`);
  if (typeof cls !== 'function') throw new TypeError(`registerLayer: expected a layer class or a function (config) => layer but received ${typeOfValue(cls)}`);
  const isClass = cls.prototype instanceof layersModule.Layer;
  registry.set(className, isClass ? (c) => (cls as unknown as { fromConfig(c: Record<string, unknown>): Layer }).fromConfig(c) : cls as LayerFactory);
}

/** Class names loadModel can rebuild. */
export function registeredLayers(): string[] {
  return [...registry.keys()].sort();
}

/** The saved name of a layer's class ('Functional' for a graph made by new Model({ inputs, outputs })). */
export function classNameOf(l: Layer): string {
  const s = l as unknown as { savedClassName?: () => string };
  return typeof s.savedClassName === 'function' ? s.savedClassName() : l.constructor.name;
}

/** A layer's { className, config } as JSON. */
export function serializeLayer(l: Layer): LayerEntry {
  return { className: classNameOf(l), config: JSON.parse(JSON.stringify(l.getConfig())) as Record<string, unknown> };
}

/** Rebuilds a layer from { className, config } through the registry. */
export function deserializeLayer(entry: unknown, where: string): Layer {
  const e = entry as Partial<LayerEntry> | null;
  const cls = e?.className;
  const factory = typeof cls === 'string' ? registry.get(cls) : undefined;
  if (!factory) {
    throw new Error(`${where} has unknown class ${JSON.stringify(cls)}; known layer classes: ${registeredLayers().join(', ')} ` +
      '(register others with registerLayer(className, fromConfig))');
  }
  try {
    return factory(e!.config ?? {});
  } catch (err) {
    throw new Error(`cannot rebuild ${where} (${cls}): ${(err as Error).message}`);
  }
}
