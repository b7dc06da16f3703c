// Keras' Functional container: the graph of layer calls between a model's inputs and outputs, run
// from JS in topological order; a chain of single-input layers is also what the native loop runs.
import { Tensor, typeOfValue } from '../../tensor';
import { Layer, InputLayer, shapeStr } from '../layers';
import { KerasTensor, Node, classNameOf } from './layer';

/** A model's inputs or outputs as given: one symbolic tensor, an array, or an object keyed by name. */
export type SymbolicStructure = KerasTensor | KerasTensor[] | Record<string, KerasTensor>;

/** A model's inputs or outputs given as one symbolic tensor, an array or an object, as a list (else a TypeError). */
export function symbolicList(v: unknown, what: string): KerasTensor[] {
  const list = v instanceof KerasTensor ? [v] : Array.isArray(v) ? v : v !== null && typeof v === 'object' ? Object.values(v) : null;
  if (!list || list.length === 0 || !list.every((t) => t instanceof KerasTensor)) {
    throw new TypeError(`Model: expected ${what} to be symbolic tensors (from nt.Input and layer calls), alone, in an array or an object, ` +
      `but received ${Array.isArray(v) ? 'an array of ' + v.map((t) => (t instanceof Tensor ? 'Tensor' : typeOfValue(t))).join(', ') : typeOfValue(v)}`);
  }
  return list as KerasTensor[];
}

/** The graph of a functional Model: its nodes in run order, its layers, inputs and outputs. */
export class FunctionalGraph {
  /** the non-input nodes, each after the nodes it reads */
  readonly nodes: Node[] = [];
  /** every layer once, in the order first called (input layers first) */
  readonly layers: Layer[] = [];

  constructor(readonly inputs: KerasTensor[], readonly outputs: KerasTensor[], modelName: string) {
    inputs.forEach((t, i) => {
      if (!t.node.isInput) throw new TypeError(`${modelName}: inputs[${i}] is the output of layer '${t.node.layer.name}'; model inputs must come from nt.Input()`);
    });
    if (new Set(inputs).size !== inputs.length) throw new TypeError(`${modelName}: the same Input is given twice in inputs`);
    const seen = new Set<Node>();
    const visiting = new Set<Node>();
    const visit = (n: Node): void => {
      if (seen.has(n)) return;
      if (visiting.has(n)) throw new Error(`${modelName}: the graph has a cycle through layer '${n.layer.name}'`);
      visiting.add(n);
      if (n.isInput) {
        const t = n.outputs[0];
        if (!inputs.includes(t)) {
          throw new Error(`${modelName}: the outputs depend on Input '${n.layer.name}' which is not in inputs ` +
            `(inputs: ${inputs.map((x) => x.node.layer.name).join(', ')})`);
        }
      }
      for (const t of n.inputs) visit(t.node);
      visiting.delete(n);
      seen.add(n);
      if (!n.isInput) this.nodes.push(n);
    };
    for (const t of outputs) visit(t.node);
    const add = (l: Layer) => {
      if (!this.layers.includes(l)) this.layers.push(l);
    };
    for (const t of inputs) add(t.node.layer);
    for (const n of this.nodes) add(n.layer);
    const names = new Map<string, Layer>();
    for (const l of this.layers) {
      const other = names.get(l.name);
      if (other && other !== l) throw new Error(`${modelName}: two layers are named '${l.name}'; layer names in a model must be unique`);
      names.set(l.name, l);
    }
  }

  /** Runs the graph on real tensors, one per input; activity penalties (divided by the batch) go to penalties. */
  run(values: Tensor[], training: boolean, penalties?: Tensor[], where = 'model'): Tensor[] {
    if (values.length !== this.inputs.length) {
      throw new RangeError(`${where}: expected ${this.inputs.length} input${this.inputs.length > 1 ? 's' : ''} (${this.inputs.map((t) => t.node.layer.name).join(', ')}) but received ${values.length}`);
    }
    const env = new Map<KerasTensor, Tensor>();
    this.inputs.forEach((t, i) => {
      let v = values[i];
      if (!(v instanceof Tensor)) throw new TypeError(`${where}: expected a Tensor for input '${t.node.layer.name}' but received ${typeOfValue(v)}`);
      const s = v.shape.slice(1);
      if (s.length !== t.shape.length || t.shape.some((d, k) => d !== null && d !== s[k])) {
        throw new RangeError(`${where}: input '${t.node.layer.name}' expects samples of shape ${shapeStr(t.shape)} but received ${shapeStr(s)}`);
      }
      const want = (t.node.layer as InputLayer).dtype;
      if (v.dtype !== want) v = v.to(want);
      env.set(t, v);
    });
    for (const n of this.nodes) {
      let outs: Tensor[];
      if (n.kind === 'single' && Object.keys(n.callOptions).length === 0) {
        // one input: the layer's own call (a built-in layer's native step) and its activity penalty
        const [out, penalty] = n.layer.forwardWithPenalty(env.get(n.inputs[0])!, training);
        if (penalties && penalty) penalties.push(penalty);
        outs = [out];
      } else {
        outs = n.run(n.inputs.map((t) => env.get(t)!), training);
        const r = n.layer.activityRegularizer;
        if (penalties && r && (r.l1 || r.l2)) {
          for (const h of outs) penalties.push(h.abs().sum().mul(r.l1 ?? 0).add(h.square().sum().mul(r.l2 ?? 0)).div(h.shape[0]));
        }
      }
      n.outputs.forEach((t, i) => env.set(t, outs[i]));
    }
    return this.outputs.map((t) => env.get(t)!);
  }

  /** [InputLayer, ...layers] when the graph is a chain of single-input layer calls, each layer once. */
  chain(): Layer[] | null {
    if (this.inputs.length !== 1 || this.outputs.length !== 1) return null;
    let prev = this.inputs[0];
    for (const n of this.nodes) {
      if (n.kind !== 'single' || n.inputs[0] !== prev || n.outputs.length !== 1 || Object.keys(n.callOptions).length) return null;
      prev = n.outputs[0];
    }
    if (prev !== this.outputs[0] || new Set(this.nodes.map((n) => n.layer)).size !== this.nodes.length) return null;
    return this.layers;
  }

  /** Keras' functional summary rows: layer (type), output shape, params, connected to. */
  summaryRows(): string[][] {
    const rows: string[][] = [];
    const ref = (t: KerasTensor) => `${t.node.layer.name}[${t.node.nodeIndex}][${t.index}]`;
    for (const t of this.inputs) rows.push([`${t.node.layer.name} (InputLayer)`, shapeStr(t.shape), '0', '-']);
    const counted = new Set<Layer>();
    for (const n of this.nodes) {
      const params = counted.has(n.layer) ? 0 : n.layer.countParams();
      counted.add(n.layer);
      rows.push([`${n.layer.name} (${classNameOf(n.layer)})`, n.outputs.map((t) => shapeStr(t.shape)).join(', '),
        params.toLocaleString('en-US'), n.inputs.map(ref).join(', ')]);
    }
    return rows;
  }
}
