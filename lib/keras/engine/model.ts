// Keras' Model: `new Model({ inputs, outputs })` is a Functional graph (engine/functional.ts);
// `class Net extends Model { call(x, { training }) {...} }` is a subclassed model whose layers are
// the fields it assigns. Both are layers (callable, nestable) and train through the one trainer.
import { noGrad } from '../../autograd';
import { tidy } from '../../memory';
import { cat } from '../../ops';
import * as creation from '../../creation';
import { Tensor, typeOfValue, deviceString, DeviceLike } from '../../tensor';
import { native } from '../../native';
import { availableDevices } from '../../device';
import { Layer, LayerWeight, shapeStr } from '../layers';
import * as nn from '../../nn';
import { History } from '../callbacks';
import { Trainer, FitOptions, CompileOptions } from '../training/trainer';
import {
  Packing, structured, pack, unpack, isBatchSource, packedSource,
} from '../training/data_adapter';
import { CallKind, KerasTensor, Node, inputTensor, serializeLayer, deserializeLayer, classNameOf } from './layer';
import { InputLayer } from '../layers';
import { FunctionalGraph, SymbolicStructure, symbolicList } from './functional';
import { exportKerasModel, ExportOptions } from '../../onnx/export';
import type { GraphNode, LayerGraphOptions } from '../../utils/model_graph';
import { exportTorchScript } from '../../jit';
import * as busy from '../busy'; // reliability: one use at a time where uses cannot overlap

/** What a model's call returns: one output, several in order, or several keyed by output name. */
export type ModelOutput = Tensor | Tensor[] | Record<string, Tensor>;

/** Options of a functional Model: inputs and outputs (symbolic tensors), name, trainable (keras.Model(inputs, outputs, name=...)). */
export interface ModelOptions {
  inputs?: SymbolicStructure;
  outputs?: SymbolicStructure;
  name?: string;
  trainable?: boolean;
}

/** Options of evaluate(): batchSize, verbose, and returnDict (a record of loss and metrics by name). */
export interface EvaluateOptions { batchSize?: number; verbose?: number; returnDict?: boolean }
/**
 * What evaluate() resolves to: [loss, ...metrics] for a model compiled with metrics, the loss alone
 * for one without (decided by compile(), so typed as both: destructure it, or use it as a number).
 */
export type EvaluateResult = number & [loss: number, ...metrics: number[]];
/** Options of predict(): batchSize and verbose. */
export interface PredictOptions { batchSize?: number; verbose?: number }

/** How a model's save/saveWeights/loadWeights reach lib/keras/saving.ts, which registers them (it imports the models, not the reverse). */
export interface SavingHooks {
  save(model: Model, path: string, opts?: object): void | Promise<void>;
  saveWeights(model: Model, file: string): void;
  loadWeights(model: Model, file: string): void;
}
let savingHooks: SavingHooks | null = null;
/** Registers the save/load implementation (called once by lib/keras/saving.ts). */
export function setSavingHooks(h: SavingHooks): void {
  savingHooks = h;
}
function saving(): SavingHooks {
  if (!savingHooks) throw new Error('saving is not loaded: import nodetorch (or lib/keras/saving) first');
  return savingHooks;
}

/** Keras' Model: a functional graph from nt.Input() to outputs, or a subclass with its own call(); compile, fit, evaluate, predict, save. */
export class Model extends Trainer {
  /** the Functional graph (null for a subclassed model) */
  protected graph: FunctionalGraph | null = null;
  /** how the batches fit/evaluate/predict pass hold several inputs / targets (data adapter) */
  protected inputPacking: Packing | null = null;
  protected targetPacking: Packing | null = null;
  private seenOutputShapes: number[][] | null = null;
  /** a subclassed model's output names, from compile's per-output losses (an array: output_1, output_2...; an object: its keys) */
  private declaredOutputs: string[] | null = null;

  constructor(opts?: ModelOptions) {
    if (opts !== undefined && (opts === null || typeof opts !== 'object' || Array.isArray(opts))) {
      throw new TypeError(`Model: expected { inputs, outputs, name } (or nothing, to subclass) but received ${typeOfValue(opts)}`);
    }
    for (const k of Object.keys(opts ?? {})) {
      if (!['inputs', 'outputs', 'name', 'trainable'].includes(k)) throw new TypeError(`Model: unknown option '${k}'; known options: inputs, outputs, name, trainable`);
    }
    super({ name: opts?.name, trainable: opts?.trainable });
    if (opts?.inputs !== undefined || opts?.outputs !== undefined) {
      if (opts.inputs === undefined || opts.outputs === undefined) throw new TypeError('Model: give both inputs and outputs (or neither, to subclass)');
      this.graph = new FunctionalGraph(symbolicList(opts.inputs, 'inputs'), symbolicList(opts.outputs, 'outputs'), this.name);
      this.built = true;
      if (this.graph.inputs.length === 1 && this.graph.inputs[0].shape.every((d) => d !== null)) this.builtShape = this.graph.inputs[0].shape as number[];
    }
  }

  /** Symbolic inputs and outputs (Functional models). */
  get inputs(): KerasTensor[] {
    return this.graph ? [...this.graph.inputs] : [];
  }
  /** A functional model's output symbolic tensors (Keras' model.outputs); empty for a subclassed model. */
  get outputs(): KerasTensor[] {
    return this.graph ? [...this.graph.outputs] : [];
  }
  /** The input layers' names in order (Keras' input_names), or null for a subclassed model. */
  get inputNames(): string[] | null {
    return this.graph ? this.graph.inputs.map((t) => t.node.layer.name) : null;
  }
  protected outputNames(): string[] | null {
    if (!this.graph) return this.declaredOutputs;
    const names = this.graph.outputs.map((t) => t.node.layer.name);
    return names.map((n, i) => (names.indexOf(n) === i ? n : `${n}_${i}`));
  }

  /** Every layer once: the graph's (input layers included, as Keras), or the fields a subclass assigned. */
  get layers(): Layer[] {
    if (this.graph) return [...this.graph.layers];
    const out: Layer[] = [];
    const add = (v: unknown) => {
      if (v instanceof Layer && v !== (this as unknown) && !out.includes(v)) out.push(v);
    };
    for (const v of Object.values(this)) {
      if (Array.isArray(v)) v.forEach(add);
      else add(v);
    }
    return out;
  }
  /** The layer named name. */
  getLayer(name: string): Layer {
    const l = this.layers.find((x) => x.name === name);
    if (!l) throw new RangeError(`${this.name}.getLayer: no layer named '${name}'; layers: ${this.layers.map((x) => x.name).join(', ')}`);
    return l;
  }

  protected nativeChain(): Layer[] | null {
    return this.graph ? this.graph.chain() : null;
  }

  /** The class name a saved config records: 'Functional' for new Model({ inputs, outputs }), a subclass's own name otherwise. */
  savedClassName(): string {
    return this.graph && this.constructor === Model ? 'Functional' : this.constructor.name;
  }

  /**
   * Keras' get_config. A Functional model's holds its layers once each and its nodes (layer calls) in
   * order, each input named [node, output index]; a subclassed model's holds its name (override it
   * to record constructor arguments, and fromConfig to use them).
   */
  override getConfig(): Record<string, unknown> {
    const base = { name: this.name, trainable: this.trainable };
    if (!this.graph) return base;
    const nodes: Node[] = [...this.graph.inputs.map((t) => t.node), ...this.graph.nodes];
    const ref = (t: KerasTensor) => [nodes.indexOf(t.node), t.index];
    return {
      ...base,
      layers: this.graph.layers.map((l) => ({ ...serializeLayer(l), name: l.name })),
      nodes: nodes.map((n) => ({ layer: n.layer.name, kind: n.isInput ? 'input' : n.kind, inputs: n.inputs.map(ref),
        ...(Object.keys(n.callOptions).length ? { callOptions: n.callOptions } : {}) })),
      inputs: this.graph.inputs.map(ref),
      outputs: this.graph.outputs.map(ref),
    };
  }

  /** Keras' compile; a subclassed model given one loss per output (an array, or an object keyed by output name) trains each output on its own. */
  override compile(opts: CompileOptions): void {
    if (!this.graph) {
      const loss: unknown = (opts as { loss?: unknown } | null)?.loss;
      const lossObject = (v: object) => Object.keys(v).every((k) => k === 'name' || k === 'fromLogits');
      this.declaredOutputs = Array.isArray(loss) && loss.length > 1 ? loss.map((_, i) => `output_${i + 1}`)
        : loss !== null && typeof loss === 'object' && !Array.isArray(loss) && Object.getPrototypeOf(loss) === Object.prototype && !lossObject(loss) ? Object.keys(loss)
          : null;
    }
    super.compile(opts);
  }

  /**
   * The layer graph that plotModel, TensorBoard and ONNX export read (lib/utils/model_graph.ts): one
   * node per Input and per layer call, a shared layer's later calls named name_1, name_2...; nested
   * Functional/Sequential models inlined (their nodes prefixed 'outer/') with expandNested. null for a
   * model without a graph (a subclassed one; with requireGraph that is an error naming the caller).
   */
  layerGraph(opts: LayerGraphOptions = {}): { nodes: GraphNode[]; outputs: string[] } | null {
    if (!this.graph) {
      if (opts.requireGraph) {
        throw new Error(`${opts.requireGraph}: the model '${this.name}' is a subclassed Model: its call() is code, not a layer graph; ` +
          'build it as a Functional model (new nt.Model({ inputs, outputs })) or a Sequential to use it here');
      }
      return null;
    }
    interface Ref { name: string; index: number; shape: (number | null)[] }
    const nodes: GraphNode[] = [];
    const used = new Set<string>();
    const counted = new Set<Layer>();
    const unique = (base: string): string => {
      let name = base;
      for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
      used.add(name);
      return name;
    };
    const walk = (g: FunctionalGraph, ins: Ref[], prefix: string): Ref[] => {
      const env = new Map<KerasTensor, Ref>();
      g.inputs.forEach((t, i) => env.set(t, ins[i]));
      for (const n of g.nodes) {
        const refs = n.inputs.map((t) => env.get(t)!);
        const inner = n.layer instanceof Model ? n.layer.graph : null;
        let outs: Ref[];
        if (opts.expandNested && inner && Object.keys(n.callOptions).length === 0 && inner.inputs.length === refs.length) {
          outs = walk(inner, refs, `${unique(prefix + n.layer.name)}/`);
        } else {
          const name = unique(`${prefix}${n.layer.name}`);
          const params = counted.has(n.layer) ? 0 : n.layer.countParams();
          counted.add(n.layer);
          nodes.push({ name, className: n.layer instanceof Model ? n.layer.savedClassName() : classNameOf(n.layer), layer: n.layer,
            inbound: refs.map((r) => r.name), inboundOutputs: refs.map((r) => r.index), inputShapes: refs.map((r) => r.shape as number[]),
            outputShape: n.outputs[0].shape as number[], outputCount: n.outputs.length, params,
            ...(Object.keys(n.callOptions).length ? { callOptions: { ...n.callOptions } } : {}) });
          outs = n.outputs.map((t, i) => ({ name, index: i, shape: t.shape }));
        }
        n.outputs.forEach((t, i) => env.set(t, outs[i]));
      }
      return g.outputs.map((t) => env.get(t)!);
    };
    const inputs: Ref[] = this.graph.inputs.map((t) => {
      const name = unique(t.node.layer.name);
      nodes.push({ name, className: 'InputLayer', layer: t.node.layer, inbound: [], inputShapes: [], outputShape: t.shape as number[], params: 0 });
      return { name, index: 0, shape: t.shape };
    });
    const outs = walk(this.graph, inputs, '');
    const multi = outs.find((r) => r.index !== 0);
    if (multi && opts.requireGraph) throw new Error(`${opts.requireGraph ?? this.name}: output ${multi.index} of layer call '${multi.name}' is a model output; only a call's first output can be listed`);
    return { nodes, outputs: outs.map((r) => r.name) };
  }

  /** Keras' from_config: a Functional model rebuilt from getConfig() (layers through registerLayer's registry); a subclass is constructed bare. */
  static override fromConfig(config: Record<string, unknown>): Model {
    if (this !== Model || !Array.isArray(config.nodes)) return new (this as unknown as new () => Model)();
    const c = config as { name?: string; trainable?: boolean; layers: { name: string }[]; nodes: { layer: string; kind: string; inputs: [number, number][]; callOptions?: Record<string, unknown> }[]; inputs: [number, number][]; outputs: [number, number][] };
    if (!Array.isArray(c.layers) || !Array.isArray(c.inputs) || !Array.isArray(c.outputs)) throw new Error('a Functional config needs layers, nodes, inputs and outputs');
    const layers = new Map<string, Layer>();
    c.layers.forEach((entry, i) => layers.set(entry.name, deserializeLayer(entry, `layer ${i} (${JSON.stringify(entry.name)})`)));
    const made: KerasTensor[][] = [];
    const get = (r: unknown, what: string): KerasTensor => {
      const [i, k] = Array.isArray(r) ? r as number[] : [];
      const t = made[i]?.[k];
      if (!t) throw new Error(`${what} refers to ${JSON.stringify(r)}, which is no earlier node's output`);
      return t;
    };
    c.nodes.forEach((n, i) => {
      const l = layers.get(n.layer);
      if (!l) throw new Error(`node ${i} calls layer ${JSON.stringify(n.layer)}, which is not among the layers`);
      if (n.kind === 'input') {
        if (!(l instanceof InputLayer)) throw new Error(`node ${i}: layer '${n.layer}' is not an InputLayer`);
        made.push([inputTensor(l)]);
        return;
      }
      const ins = (n.inputs ?? []).map((r, j) => get(r, `node ${i} input ${j}`));
      const o = n.callOptions ?? {};
      const r = n.kind === 'list' ? l.apply(ins, o) : n.kind === 'positional' ? l.apply(...ins, o) : l.apply(ins[0], o);
      made.push(Array.isArray(r) ? r as KerasTensor[] : [r as KerasTensor]);
    });
    return new Model({ inputs: c.inputs.map((r, i) => get(r, `input ${i}`)), outputs: c.outputs.map((r, i) => get(r, `output ${i}`)),
      name: c.name, trainable: c.trainable });
  }

  /** Keras' get_build_config: the per-sample input shape a Sequential or subclassed model was built for (a Functional graph's Inputs carry theirs: null). */
  getBuildConfig(): { inputShape: number[] } | null {
    if (this.graph && this.constructor === Model) return null;
    return this.built && this.builtShape ? { inputShape: [...this.builtShape] } : null;
  }

  /** Keras' build(inputShape) for a subclassed model: runs it once on a zero batch so its layers make their weights. */
  override build(inputShape: number[] | number[][]): void {
    if (this.graph || this.builtShape) return;
    const shapes = Array.isArray(inputShape[0]) ? inputShape as number[][] : [inputShape as number[]];
    tidy(() => noGrad(() => {
      const xs = shapes.map((s) => creation.zeros([1, ...s.map((d) => d ?? 1)], { dtype: this.inputPacking?.dtype ?? 'float32' }));
      this.runModel(xs, false);
    }));
    this.builtShape = shapes.length === 1 ? [...shapes[0]] : null;
    this.built = true;
  }

  /**
   * Functional: runs the graph; a subclass overrides call(x, { training }). At run time a subclass may
   * return a Tensor, an array of them, or an object keyed by output name (see ModelOutput).
   */
  call(x: Tensor, opts?: { training?: boolean }): Tensor;
  call(x: Tensor | Tensor[], opts?: { training?: boolean }): Tensor | Tensor[];
  call(x: Tensor | Tensor[], opts?: { training?: boolean }): Tensor | Tensor[] {
    if (!this.graph) throw new Error(`${this.name}: a subclassed Model must define call(x, { training })`);
    const outs = this.graph.run(Array.isArray(x) ? x : [x], opts?.training ?? false, undefined, this.name);
    return outs.length === 1 ? outs[0] : outs;
  }

  private runModel(xs: Tensor[], training: boolean, penalties?: Tensor[]): Tensor[] {
    if (this.graph) return this.graph.run(xs, training, penalties, this.name);
    const r: unknown = this.call(xs.length === 1 ? xs[0] : xs, { training });
    let outs: unknown[];
    if (r instanceof Tensor) outs = [r];
    else if (Array.isArray(r)) outs = r;
    else if (r !== null && typeof r === 'object') {
      // an object keyed by output name: in compile's order when its losses were keyed by name
      const keys = Object.keys(r);
      const names = this.declaredOutputs ?? keys;
      const missing = names.filter((n) => !keys.includes(n));
      if (missing.length) throw new TypeError(`${this.name}.call: returned outputs ${keys.join(', ')} but compile named ${names.join(', ')} (missing ${missing.join(', ')})`);
      outs = names.map((n) => (r as Record<string, unknown>)[n]);
    } else outs = [r];
    if (!outs.every((t) => t instanceof Tensor)) {
      throw new TypeError(`${this.name}.call: expected it to return a Tensor, an array of them or an object of them keyed by output name but it returned ${typeOfValue(r)}`);
    }
    if (this.declaredOutputs && outs.length !== this.declaredOutputs.length) {
      throw new RangeError(`${this.name}.call: returned ${outs.length} output${outs.length === 1 ? '' : 's'} but compile was given a loss for each of ${this.declaredOutputs.length} (${this.declaredOutputs.join(', ')})`);
    }
    return outs as Tensor[];
  }

  protected forwardJS(x: Tensor, training: boolean, penalties?: Tensor[]): Tensor {
    const h = this.onDevice(x);
    const outs = this.runModel(this.inputPacking ? unpack(h, this.inputPacking) : [h], training, penalties);
    this.seenOutputShapes = outs.map((o) => o.shape.slice(1));
    // mixed precision: the model's output is float32 for the loss, as Keras does
    if (outs.length === 1) return outs[0].dtype === 'bfloat16' || outs[0].dtype === 'float16' ? outs[0].to('float32') : outs[0];
    return cat(outs.map((o) => o.reshape([o.shape[0], -1]).to('float32')), 1);
  }

  protected splitOutputs(t: Tensor, targets: boolean): Tensor[] {
    if (targets) return this.targetPacking ? unpack(t, this.targetPacking) : [t];
    const shapes = this.graph ? this.graph.outputs.map((o) => o.shape as number[]) : this.seenOutputShapes ?? [t.shape.slice(1)];
    if (shapes.length === 1) return [t];
    return unpack(t, { names: [], shapes, dtypes: shapes.map(() => 'float32'), dtype: 'float32' });
  }

  protected userInputs(x: Tensor): Tensor | Tensor[] {
    return this.inputPacking ? unpack(x, this.inputPacking) : x;
  }

  protected ensureBuilt(sample: readonly number[]): void {
    if (this.graph) {
      const want = this.inputPacking ? [this.inputPacking.shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0)]
        : this.graph.inputs.length === 1 ? this.graph.inputs[0].shape : null;
      if (!want) throw new RangeError(`${this.name}: the model has ${this.graph.inputs.length} inputs (${this.inputNames!.join(', ')}); pass x as an array or an object keyed by input name`);
      if (sample.length !== want.length || want.some((d, i) => d !== null && d !== sample[i])) {
        throw new RangeError(`${this.name}: expected inputs of shape ${fmt(want)} but got ${fmt([...sample])} (per sample)`);
      }
      if (this.inputPacking) {
        this.inputPacking.shapes.forEach((s, i) => {
          const t = this.graph!.inputs[i];
          if (s.length !== t.shape.length || t.shape.some((d, k) => d !== null && d !== s[k])) {
            throw new RangeError(`${this.name}: input '${t.node.layer.name}' expects samples of shape ${fmt(t.shape)} but the data has ${fmt(s)}`);
          }
        });
      }
      this.builtShape = [...sample];
      return;
    }
    if (this.built && this.builtShape) {
      if (sample.join() !== this.builtShape.join()) throw new RangeError(`${this.name}: expected inputs of shape ${fmt(this.builtShape)} but got ${fmt([...sample])} (per sample)`);
      return;
    }
    // a subclassed model builds its layers by running once on a zero batch, as Keras' build()
    if (this.inputPacking) {
      this.build(this.inputPacking.shapes);
      this.builtShape = [...sample];
    } else {
      this.build([...sample]);
    }
  }

  protected outputShape(): number[] {
    if (this.graph) return this.graph.outputs[0].shape as number[];
    return this.seenOutputShapes?.[0] ?? [];
  }

  /** A model called on symbolic tensors (nested in another model): its output shapes. */
  symbolicOutputShapes(kind: CallKind, shapes: (number | null)[][]): (number | null)[][] {
    if (this.graph) {
      if (shapes.length !== this.graph.inputs.length) throw new RangeError(`${this.name}: expected ${this.graph.inputs.length} inputs but was called on ${shapes.length}`);
      shapes.forEach((s, i) => {
        const t = this.graph!.inputs[i];
        if (s.length !== t.shape.length || t.shape.some((d, k) => d !== null && s[k] !== null && d !== s[k])) {
          throw new RangeError(`${this.name}: input '${t.node.layer.name}' expects samples of shape ${shapeStr(t.shape)} but was called on ${shapeStr(s)}`);
        }
      });
      return this.graph.outputs.map((t) => [...t.shape]);
    }
    void kind;
    return noGrad(() => {
      const xs = shapes.map((s) => creation.zeros([1, ...s.map((d) => d ?? 1)]));
      const outs = this.runModel(xs, false);
      return outs.map((o) => o.shape.slice(1));
    });
  }

  /** Every layer's weights once (shared layers once), named '<layer>/<weight>'. */
  override weightsInternal(): LayerWeight[] {
    const seen = new Set<Tensor>();
    const out: LayerWeight[] = [];
    for (const l of this.layers) {
      for (const w of l.weightsInternal()) {
        if (seen.has(w.tensor)) continue;
        seen.add(w.tensor);
        out.push({ ...w, name: `${l.name}/${w.name}` });
      }
    }
    return out;
  }
  /** Keras' trainable_weights: the trainable weights of every layer, each once; none when the model is frozen. */
  override get trainableWeights(): Tensor[] {
    if (!this.trainable) return [];
    const seen = new Set<Tensor>();
    return this.layers.flatMap((l) => l.trainableWeights).filter((t) => !seen.has(t) && !!seen.add(t));
  }
  /** The torch::nn modules of every layer whose train/eval mode follows fit/evaluate. */
  override modules(): nn.Module[] {
    return this.layers.flatMap((l) => l.modules());
  }

  /**
   * Moves the weights to a device ('cpu', 'cuda', 'cuda:1'); fit/evaluate/predict then copy each batch
   * there. The optimizer starts afresh on the new device, as when a PyTorch model is moved before making its optimizer.
   */
  to(device: DeviceLike): this {
    const d = deviceString(device, `${this.constructor.name}.to`);
    checkDevicePresent(`${this.name}.to`, d);
    for (const w of this.weightsInternal()) noGrad(() => moveTo(w.tensor, d));
    for (const m of this.modules()) m.to(d);
    if (d !== this.device) this.nativeOpt = null;
    this.device = d;
    return this;
  }

  /** Prints Keras' summary table (a Functional model's with "Connected to") and returns it. */
  summary(print = true): string {
    let rows: string[][];
    if (this.graph) rows = this.graph.summaryRows();
    // a subclassed model has no graph: Keras prints its layers without shapes or connections
    else rows = this.layers.map((l) => [`${l.name} (${l.constructor.name})`, '?', l.countParams().toLocaleString('en-US')]);
    const head = ['Layer (type)', 'Output Shape', 'Param #', 'Connected to'].slice(0, rows[0]?.length ?? 3);
    const w = head.map((h, i) => Math.max(i === 2 ? 10 : 22, h.length + 2, ...rows.map((r) => r[i].length + 2)));
    const width = w.reduce((a, b) => a + b, 0);
    const row = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('').trimEnd();
    const total = this.countParams();
    const trainable = this.trainableWeights.reduce((k, t) => k + t.numel, 0);
    const text = [
      `Model: "${this.name}"`,
      '_'.repeat(width),
      row(head),
      '='.repeat(width),
      ...rows.flatMap((r, i) => [row(r), ...(i < rows.length - 1 ? ['_'.repeat(width)] : [])]),
      '='.repeat(width),
      `Total params: ${total.toLocaleString('en-US')}`,
      `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
      '_'.repeat(width),
    ].join('\n');
    if (print) console.log(text);
    return text;
  }

  /** Saves the model: a path ending in .keras writes one zip file, any other path a directory (config.json, model.safetensors); nt.loadModel reads either. */
  async save(path: string, opts?: { overwrite?: boolean; includeOptimizer?: boolean }): Promise<void> {
    busy.check(this, 'save', false);
    await saving().save(this, path, opts);
  }
  /** The weights alone, as one safetensors file named '<layer>/<weight>' in Keras layout. */
  async saveWeights(file: string): Promise<void> {
    saving().saveWeights(this, file);
  }
  /** Keras' set_weights(): every layer's weights, in getWeights() order and Keras layout (refused while fit runs). */
  override setWeights(ws: Tensor[]): void {
    busy.check(this, 'setWeights', true);
    super.setWeights(ws);
  }
  /** Loads a safetensors file written by saveWeights into the model (a Sequential with an inputShape is built first; refused while fit runs). */
  async loadWeights(file: string): Promise<void> {
    busy.check(this, 'loadWeights', true);
    saving().loadWeights(this, file);
  }
  /** Keras 3's export: `await model.export('model.onnx', { format: 'onnx', opset })` (lib/onnx/export.ts). */
  async export(filepath: string, opts?: ExportOptions): Promise<void> {
    if (opts !== null && typeof opts === 'object' && opts.format === 'torchscript') {
      // traced by libtorch (lib/jit.ts) on an example batch of the model's input shape
      return exportTorchScript(this, filepath, opts);
    }
    return exportKerasModel(this, filepath, opts);
  }

  /** Several inputs or targets packed for the trainer (data adapter); a single one passes through. */
  private adaptX(x: unknown, what: string, packing: 'input' | 'target'): unknown {
    const names = packing === 'input' ? this.inputNames : this.compiledOutputNames();
    const list = structured(x, names, what);
    if (!list) {
      if (names && names.length > 1 && (x instanceof Tensor || Array.isArray(x))) {
        throw new TypeError(`${what}: the model has ${names.length} ${packing}s (${names.join(', ')}); pass an array of ${names.length} or an object keyed by those names`);
      }
      return x;
    }
    const { packed, packing: p } = pack(list, names ?? list.map((_, i) => `${packing}_${i}`), what);
    if (packing === 'input') this.inputPacking = p;
    else this.targetPacking = p;
    return packed;
  }
  private compiledOutputNames(): string[] | null {
    const outs = this.compiled?.outputs;
    return outs ? outs.map((o) => o.name) : this.graph && this.graph.outputs.length > 1 ? this.outputNames() : null;
  }
  private get multiIO(): boolean {
    return !!this.graph && (this.graph.inputs.length > 1 || this.graph.outputs.length > 1);
  }
  private adaptSource(src: unknown, what: string): unknown {
    if (!this.multiIO) return src;
    if (what === 'predict') {
      // predict's batches are inputs alone: [xa, xb] or { a, b }, or [inputs, targets] as fit's
      return packedSource(src as AsyncIterable<unknown>, (el) => {
        const names = this.inputNames!;
        const isX = Array.isArray(el) ? el.length === names.length && el.every((t) => t instanceof Tensor) && names.length > 1 : !(el instanceof Tensor);
        const x = isX ? el : (el as unknown[])[0];
        const px = this.adaptX(x, 'predict: dataset x', 'input') as Tensor;
        if (px !== x) for (const t of Object.values(x as object)) if (t instanceof Tensor) t.dispose();
        return px;
      });
    }
    return packedSource(src as AsyncIterable<unknown>, (el) => {
      const [x, y, w] = Array.isArray(el) ? el : [(el as { x: unknown }).x, (el as { y: unknown }).y];
      const px = this.adaptX(x, `${what}: dataset x`, 'input') as Tensor;
      const py = y === undefined ? undefined : this.adaptX(y, `${what}: dataset y`, 'target') as Tensor;
      const out = [px, ...(py ? [py] : []), ...(w instanceof Tensor ? [w] : [])];
      if (px !== x) for (const t of Object.values(x as object)) if (t instanceof Tensor) t.dispose();
      if (py !== y) for (const t of Object.values(y as object)) if (t instanceof Tensor) t.dispose();
      return out;
    });
  }
  private resetPacking(): void {
    this.inputPacking = null;
    this.targetPacking = null;
  }

  /** Keras' fit: x and y as tensors/arrays, several as arrays or objects keyed by input/output name, or a dataset of batches. */
  override async fit(x: unknown, y?: unknown, opts: FitOptions = {}): Promise<History> {
    if (!busy.entered(this, 'fit')) return busy.run(this, 'fit', true, () => this.fit(x, y, opts));
    this.resetPacking();
    if (isBatchSource(x)) return super.fit(this.adaptSource(x, 'fit') as AsyncIterable<unknown>, y as FitOptions, opts);
    const px = this.adaptX(x, 'fit: x', 'input');
    const py = this.adaptX(y, 'fit: y', 'target');
    const o = { ...(opts ?? {}) } as FitOptions;
    const vd = o.validationData as unknown;
    if (Array.isArray(vd) && vd.length >= 2 && (this.inputPacking || this.targetPacking)) {
      const ip = this.inputPacking;
      const tp = this.targetPacking;
      o.validationData = [this.adaptX(vd[0], 'fit: validationData x', 'input'), this.adaptX(vd[1], 'fit: validationData y', 'target')] as never;
      samePacking(ip, this.inputPacking, 'fit: validationData x');
      samePacking(tp, this.targetPacking, 'fit: validationData y');
    } else if (isBatchSource(vd)) {
      o.validationData = this.adaptSource(vd, 'fit: validationData') as never;
    }
    return super.fit(px as never, py as never, o);
  }

  /**
   * [loss, ...metrics] when the model was compiled with metrics, the loss alone without (Keras' rule),
   * or { loss, accuracy, ... } with { returnDict: true }: `const [loss, acc] = await model.evaluate(x, y)`.
   */
  override evaluate(dataset: AsyncIterable<unknown>, opts: EvaluateOptions & { returnDict: true }): Promise<Record<string, number>>;
  override evaluate(x: unknown, y: unknown, opts: EvaluateOptions & { returnDict: true }): Promise<Record<string, number>>;
  override evaluate(x: unknown, y?: unknown, opts?: EvaluateOptions & { returnDict?: false }): Promise<EvaluateResult>;
  override async evaluate(x: unknown, y?: unknown, opts: EvaluateOptions = {}): Promise<EvaluateResult | Record<string, number>> {
    if (!busy.entered(this, 'evaluate')) return busy.run(this, 'evaluate', false, () => this.evaluate(x, y, opts as never));
    this.resetPacking();
    if (isBatchSource(x)) return super.evaluate(this.adaptSource(x, 'evaluate') as AsyncIterable<unknown>, y as EvaluateOptions, opts) as Promise<EvaluateResult>;
    return super.evaluate(this.adaptX(x, 'evaluate: x', 'input') as never, this.adaptX(y, 'evaluate: y', 'target') as never, opts) as Promise<EvaluateResult>;
  }

  /** The model's outputs for x, batched: a Tensor, or one per output. */
  async predict(x: unknown, opts: PredictOptions = {}): Promise<Tensor | Tensor[]> {
    if (!busy.entered(this, 'predict')) return busy.run(this, 'predict', false, () => this.predict(x, opts));
    this.resetPacking();
    const src = isBatchSource(x) ? this.adaptSource(x, 'predict') : this.adaptX(x, 'predict: x', 'input');
    const out = await this.predictTensors(src as never, opts);
    const parts = this.splitOutputs(out, false);
    if (parts.length === 1) return parts[0];
    const owned = parts.map((t) => t.clone());
    out.dispose();
    return owned;
  }
}

function samePacking(a: Packing | null, b: Packing | null, what: string): void {
  if (!a || !b) return;
  if (JSON.stringify(a.shapes) !== JSON.stringify(b.shapes) || a.dtype !== b.dtype) {
    throw new RangeError(`${what}: expected the same per-sample shapes and dtypes as the training data (${a.shapes.map(fmt).join(', ')}) but got ${b.shapes.map(fmt).join(', ')}`);
  }
}

/** A CUDA device that is not there fails where the user names it, not later in fit. */
function checkDevicePresent(where: string, d: string): void {
  if (d === 'cpu') return;
  const n = availableDevices().length - 1;
  const index = d === 'cuda' ? 0 : Number(d.slice(5));
  if (index >= n) {
    throw new Error(`${where}('${d}'): ${n === 0 ? 'CUDA is not available here (no CUDA build of libtorch or no GPU)'
      : `there ${n === 1 ? 'is 1 CUDA device' : `are ${n} CUDA devices`} (cuda:0${n > 1 ? ` to cuda:${n - 1}` : ''})`}; use 'cpu'` +
      (n > 0 ? ' or an existing device' : ''));
  }
}

function moveTo(t: Tensor, device: string): void {
  if (t.device === device) return;
  const c = t.to({ device });
  native.tensor_set_data(t._h, c._h);
  c.dispose();
  t._meta = undefined;
  t._shape = undefined;
}

function fmt(s: readonly (number | null)[]): string {
  return `[${s.map((d) => (d === null ? 'None' : d)).join(', ')}]`;
}
