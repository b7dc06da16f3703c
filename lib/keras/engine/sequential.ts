// Keras' Sequential: a stack of layers built lazily from inputShape or the first batch, as a chain
// in the Functional machinery (engine/functional.ts); a chain of built-in layers trains natively.
import { Tensor, typeOfValue } from '../../tensor';
import { Layer, InputLayer } from '../layers';
import { Model, PredictOptions } from './model';
import { KerasTensor, inputTensor, serializeLayer, deserializeLayer } from './layer';
import { FunctionalGraph } from './functional';
import * as busy from '../busy';

/** Keras' Sequential: a linear stack of layers, each fed the previous one's output (like torch.nn.Sequential). */
export class Sequential extends Model {
  /** the layers in order, with the InputLayer first when one was given */
  private chainLayers: Layer[] = [];

  constructor(layers: (Layer | KerasTensor)[] = [], opts: { name?: string } = {}) {
    if (!Array.isArray(layers)) throw new TypeError(`Sequential: expected an array of layers but received ${typeOfValue(layers)}`);
    super({ name: opts?.name ?? 'sequential' });
    for (const l of layers) this.add(l);
  }

  /** The layers in order, without the InputLayer (Keras' model.layers). */
  override get layers(): Layer[] {
    return this.chainLayers.filter((l) => !(l instanceof InputLayer));
  }
  /** The layers as given, the InputLayer (if any) first: what the saved config lists. */
  get layerStack(): Layer[] {
    return [...this.chainLayers];
  }

  /** Appends a layer (or, first, an nt.Input()). */
  add(layer: Layer | KerasTensor): void {
    if (layer instanceof KerasTensor) {
      if (!layer.node.isInput) throw new TypeError(`Sequential.add: expected a layer or an nt.Input() but received the output of layer '${layer.node.layer.name}'`);
      layer = layer.node.layer;
    }
    if (!(layer instanceof Layer)) throw new TypeError(`Sequential.add: expected a layer but received ${typeOfValue(layer)}`);
    if (this.chainLayers.includes(layer)) throw new Error(`Sequential.add: layer '${layer.name}' is already in the model`);
    if (layer instanceof InputLayer && this.chainLayers.length > 0) throw new Error('Sequential.add: an Input may only come first');
    if (this.chainLayers.length > 0 && layer.inputShape && !(layer instanceof InputLayer)) {
      throw new Error(`Sequential.add: only the first layer may set inputShape ('${layer.name}' sets it)`);
    }
    this.chainLayers.push(layer);
    this.unbuild();
  }
  /** Removes and returns the last layer (Keras' pop()); the model is rebuilt on next use. */
  pop(): Layer {
    const l = this.chainLayers.pop();
    if (!l) throw new Error('Sequential.pop: the model has no layers');
    this.unbuild();
    return l;
  }
  private unbuild(): void {
    this.graph = null;
    this.builtShape = null;
    this.built = false;
    this.nativeOpt = null;
  }

  /** Builds every layer for a per-sample input shape (Keras' input_shape), as a chain from an Input. */
  override build(inputShape?: (number | null)[] | number[][]): void {
    const declared = this.chainLayers[0]?.inputShape;
    const shape = inputShape ? perSampleShape(inputShape as (number | null)[], declared) : declared;
    if (!shape) throw new Error(`${this.name}: the model is not built: give the first layer an inputShape, call build(inputShape), or call fit()/predict() first`);
    if (this.chainLayers.length === 0) throw new Error(`${this.name}: the model has no layers`);
    const first = this.chainLayers[0];
    const input = first instanceof InputLayer ? first
      : new InputLayer({ shape: [...shape], dtype: first.constructor.name === 'Embedding' ? 'int64' : 'float32' });
    let t = inputTensor(input);
    for (const l of this.chainLayers) if (l !== input) t = l.apply(t) as KerasTensor;
    this.graph = new FunctionalGraph([inputTensor(input)], [t], this.name);
    this.builtShape = [...shape];
    this.built = true;
    if (this.device !== 'cpu') this.to(this.device);
  }

  /** Keras' get_config: the name and each layer's { className, config }, the InputLayer (if given) first. */
  override getConfig(): Record<string, unknown> {
    return { name: this.name, layers: this.chainLayers.map(serializeLayer) };
  }
  /** Keras' from_config: a Sequential rebuilt from getConfig()'s output. */
  static override fromConfig(config: Record<string, unknown>): Sequential {
    const layers = config.layers;
    if (!Array.isArray(layers)) throw new Error('a Sequential config needs layers: [{ className, config }, ...]');
    return new Sequential(layers.map((e, i) => deserializeLayer(e, `layer ${i}`)), { name: config.name as string | undefined });
  }

  /** A Sequential is read as its chain of layers (lib/utils/model_graph.ts), so it lists no graph of its own. */
  override layerGraph(): null {
    return null;
  }

  protected override nativeChain(): Layer[] | null {
    const chain = this.graph?.chain();
    if (!chain) return null;
    // the Input made for a model given only inputShape is no layer of the user's: no native step for it
    return this.chainLayers[0] instanceof InputLayer ? chain : chain.slice(1);
  }

  protected override ensureBuilt(sample: readonly number[]): void {
    if (this.builtShape) {
      if (sample.join() !== this.builtShape.join()) {
        throw new RangeError(`${this.name}: expected inputs of shape ${fmtShape(this.builtShape)} but got ${fmtShape([...sample])} (per sample)`);
      }
      return;
    }
    const declared = this.chainLayers[0]?.inputShape;
    if (declared && declared.join() !== sample.join()) {
      throw new RangeError(`${this.name}: layer '${this.chainLayers[0].name}' has inputShape ${fmtShape(declared)} but the data has ` +
        `samples of shape ${fmtShape([...sample])}`);
    }
    this.build([...sample]);
  }

  /** Prints Keras' Sequential summary table and returns it. */
  override summary(print = true): string {
    if (!this.builtShape && this.chainLayers[0]?.inputShape) this.build();
    const rows: [string, string, string][] = [];
    let s = this.builtShape ? [...this.builtShape] : null;
    let total = 0;
    let trainable = 0;
    for (const l of this.layers) {
      let out = '?';
      if (s) {
        s = l.computeOutputShape(s);
        out = l.describeShape(s);
      }
      const n = l.countParams();
      total += n;
      trainable += l.trainableWeights.reduce((k, w) => k + w.numel, 0);
      rows.push([`${l.name} (${l.constructor.name})`, out, n.toLocaleString('en-US')]);
    }
    const w = [Math.max(28, ...rows.map((r) => r[0].length + 2)), Math.max(26, ...rows.map((r) => r[1].length + 2)), 15];
    const line = (c: string) => c.repeat(w[0] + w[1] + w[2]);
    const row = (r: string[]) => r[0].padEnd(w[0]) + r[1].padEnd(w[1]) + r[2];
    const text = [
      `Model: "${this.name}"`,
      line('_'),
      row(['Layer (type)', 'Output Shape', 'Param #']),
      line('='),
      ...rows.flatMap((r, i) => [row(r), ...(i < rows.length - 1 ? [line('_')] : [])]),
      line('='),
      `Total params: ${total.toLocaleString('en-US')}`,
      `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
      line('_'),
    ].join('\n');
    if (print) console.log(text);
    return text;
  }

  /** Builds from the first layer's inputShape when it has one and the model is not built yet. */
  private buildIfDeclared(): void {
    if (!this.builtShape && this.chainLayers[0]?.inputShape) this.build();
  }
  /** Keras' count_params(): the number of scalars in all layers' weights (builds from a declared inputShape first). */
  override countParams(): number {
    this.buildIfDeclared();
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }
  /** Keras' get_weights(): copies of every layer's weights in order, Keras layout. */
  override getWeights(): Tensor[] {
    this.buildIfDeclared();
    return this.layers.flatMap((l) => l.getWeights());
  }
  /** Keras' set_weights(): every layer's weights in getWeights() order and Keras layout (refused while fit runs). */
  override setWeights(ws: Tensor[]): void {
    busy.check(this, 'setWeights', true);
    this.buildIfDeclared();
    if (!Array.isArray(ws)) throw new TypeError(`${this.name}.setWeights: expected an array of tensors but received ${typeOfValue(ws)}`);
    let i = 0;
    for (const l of this.layers) {
      const n = l.weightsInternal().length;
      l.setWeights(ws.slice(i, i + n));
      i += n;
    }
    if (i !== ws.length) throw new RangeError(`${this.name}.setWeights: expected ${i} weights but received ${ws.length}`);
  }

  /** The model's outputs for x, batched, computed off the main thread (built-in layers). */
  override async predict(x: unknown, opts: PredictOptions = {}): Promise<Tensor> {
    return (await super.predict(x, opts)) as Tensor;
  }

  /** Runs the model eagerly (Keras' model(x)): builds it from x's shape first. */
  override call(x: Tensor, opts?: { training?: boolean }): Tensor;
  override call(x: Tensor | Tensor[], opts?: { training?: boolean }): Tensor | Tensor[];
  override call(x: Tensor | Tensor[], opts?: { training?: boolean }): Tensor | Tensor[] {
    if (x instanceof Tensor) this.ensureBuilt(x.shape.slice(1));
    return super.call(x, opts);
  }
}

/**
 * Keras' build(inputShape) takes the batch dimension first ([null, 20]); a shape one longer than the
 * declared per-sample shape, or starting with null, loses its first entry.
 */
function perSampleShape(shape: readonly (number | null)[], declared: number[] | undefined): number[] {
  const s = shape[0] === null || (declared && shape.length === declared.length + 1) ? shape.slice(1) : [...shape];
  if (!s.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) {
    throw new TypeError(`build: expected inputShape as positive integers, the batch dimension first as null ([null, 20]) ` +
      `but received ${JSON.stringify(shape)}`);
  }
  return s as number[];
}

function fmtShape(s: number[]): string {
  return `[${s.join(', ')}]`;
}
