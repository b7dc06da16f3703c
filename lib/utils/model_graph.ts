// The layer graph of a Keras model, read through the public model API only (model.layers,
// layer.builtInputShape, computeOutputShape, countParams): the one walk that plotModel, the
// TensorBoard graph and the ONNX exporter share. A Sequential model is a chain; a model that can
// describe its own graph (a Functional model) does so with layerGraph(), returning GraphNodes.
import { Tensor, typeOfValue } from '../tensor';
import { isObjectLike } from '../callable';
import { noGrad } from '../autograd';
import { Module } from '../nn/module';
import { Sequential as NnSequential } from '../nn/containers';

/** What the walk needs of a layer (lib/keras Layer has all of it). */
export interface GraphLayer {
  name: string;
  inputShape?: number[];
  builtInputShape?: number[];
  computeOutputShape?(s: number[]): number[];
  countParams?(): number;
}

/** What the walk needs of a model. */
export interface GraphModel {
  name?: string;
  layers: GraphLayer[];
  built?: boolean;
  build?(inputShape?: number[]): void;
  /**
   * A model whose layers form a DAG (Functional) lists its nodes itself, inputs first (with its
   * outputs in order, where they are not simply the nodes that feed no other); null: read layers as a chain.
   */
  layerGraph?(opts?: LayerGraphOptions): GraphNode[] | { nodes: GraphNode[]; outputs: string[] } | null;
}

/** How a model lists its graph: nested models inlined (ONNX export) or kept as one node (plots); requireGraph names the caller that needs a real graph. */
export interface LayerGraphOptions {
  expandNested?: boolean;
  requireGraph?: string;
}

/** One node: an input placeholder or one call of a layer. Shapes are per sample (no batch). */
export interface GraphNode {
  name: string;
  className: string;
  /** undefined for an input placeholder */
  layer?: GraphLayer;
  /** the module, for a node of an nn.Sequential's chain */
  module?: Module;
  /** names of the nodes feeding this one, in call order */
  inbound: string[];
  /** which output of each inbound node feeds this one (all 0 when absent) */
  inboundOutputs?: number[];
  /** how many outputs the call returns (1 when absent) */
  outputCount?: number;
  /** options the layer was called with in the graph (beyond the inputs) */
  callOptions?: Record<string, unknown>;
  inputShapes: number[][];
  /** null when the model is not built and the shape is unknown */
  outputShape: number[] | null;
  params: number;
}

export interface ModelGraph {
  name: string;
  nodes: GraphNode[];
  /** nodes with no inbound edges */
  inputs: string[];
  /** nodes that feed no other node */
  outputs: string[];
}

function className(l: unknown): string {
  const o = l as { getClassName?: () => string; constructor?: { name?: string } };
  return typeof o.getClassName === 'function' ? o.getClassName() : o.constructor?.name ?? 'Layer';
}

function isModel(m: unknown): m is GraphModel {
  return isObjectLike(m) && Array.isArray((m as GraphModel).layers);
}

/** The model's layer graph; builds a Sequential model that declares its input shape and is not built yet. */
export function modelGraph(model: unknown, where: string, opts: LayerGraphOptions = {}): ModelGraph {
  if (!isModel(model)) throw new TypeError(`${where}: expected a Keras model (Sequential or Model) but received ${typeOfValue(model)}`);
  const name = model.name ?? 'model';
  let nodes: GraphNode[];
  let outputs: string[] | null = null;
  const listed = typeof model.layerGraph === 'function' ? model.layerGraph(opts) : null;
  if (Array.isArray(listed)) {
    nodes = listed;
  } else if (listed) {
    nodes = listed.nodes;
    outputs = listed.outputs;
  } else {
    const layers = model.layers;
    if (layers.length === 0) throw new Error(`${where}: the model '${name}' has no layers`);
    if (model.built === false && typeof model.build === 'function') {
      try {
        model.build();
      } catch {
        // no declared input shape yet: the shapes stay unknown ('?')
      }
    }
    const first = layers[0].builtInputShape ?? layers[0].inputShape ?? null;
    const inputName = `${name}_input`;
    nodes = [{ name: inputName, className: 'InputLayer', inbound: [], inputShapes: [], outputShape: first ? [...first] : null, params: 0 }];
    let prev = inputName;
    let shape: number[] | null = first ? [...first] : null;
    for (const l of layers) {
      const inShape = l.builtInputShape ?? shape;
      let out: number[] | null = null;
      if (inShape && typeof l.computeOutputShape === 'function') {
        try {
          out = l.computeOutputShape([...inShape]);
        } catch {
          out = null;
        }
      }
      nodes.push({ name: l.name, className: className(l), layer: l, inbound: [prev], inputShapes: inShape ? [[...inShape]] : [],
        outputShape: out, params: typeof l.countParams === 'function' ? l.countParams() : 0 });
      prev = l.name;
      shape = out;
    }
  }
  const fed = new Set(nodes.flatMap((n) => n.inbound));
  return {
    name,
    nodes,
    inputs: nodes.filter((n) => n.inbound.length === 0).map((n) => n.name),
    outputs: outputs ?? nodes.filter((n) => !fed.has(n.name)).map((n) => n.name),
  };
}

/** The leaves of nested nn.Sequential containers, with their path names ('0', '2.1'). */
export function moduleChain(m: Module, prefix = ''): [string, Module][] {
  if (m instanceof NnSequential) return m.namedChildren().flatMap(([k, c]) => moduleChain(c, prefix ? `${prefix}.${k}` : k));
  return [[prefix || m.constructor.name, m]];
}

/**
 * The chain of an nn.Sequential (or one module) as a graph, its shapes found by running an example
 * input through it in eval mode without autograd (PyTorch's add_graph(model, input_to_model)).
 */
export function moduleGraph(module: Module, example: unknown, where: string): ModelGraph {
  const x0 = Array.isArray(example) && example.length === 1 ? example[0] : example;
  if (!(x0 instanceof Tensor) || x0.ndim < 1) {
    throw new TypeError(`${where}: expected an example input (a Tensor with a batch dimension) for the module but received ${typeOfValue(example)}`);
  }
  const nodes: GraphNode[] = [{ name: 'input', className: 'Input', inbound: [], inputShapes: [], outputShape: x0.shape.slice(1), params: 0 }];
  const wasTraining = module.training;
  module.eval();
  try {
    noGrad(() => {
      let x: Tensor = x0;
      let prev = 'input';
      for (const [name, m] of moduleChain(module)) {
        const y = (m.forward as (t: Tensor) => unknown)(x);
        if (!(y instanceof Tensor)) throw new Error(`${where}: module ${name} (${m.constructor.name}) returns ${typeOfValue(y)}, not one tensor`);
        nodes.push({ name, className: m.constructor.name, module: m, inbound: [prev], inputShapes: [x.shape.slice(1)], outputShape: y.shape.slice(1),
          params: m.parameters().reduce((n, p) => n + p.numel, 0) });
        prev = name;
        x = y;
      }
    });
  } finally {
    module.train(wasTraining);
  }
  return { name: module.constructor.name, nodes, inputs: ['input'], outputs: [nodes[nodes.length - 1].name] };
}

/** Keras' shape text: (None, 28, 28) with the batch as None; '?' when unknown. */
export function shapeText(s: readonly number[] | null): string {
  if (!s) return '?';
  return `(${['None', ...s.map((d) => (d === null || d < 0 ? 'None' : String(d)))].join(', ')}${s.length === 0 ? ',' : ''})`;
}
