// Keras' merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot. Each is
// called on a list of tensors (symbolic in a Functional model, or real Tensors eagerly); the shapes
// are checked here, the computation is one native module (native/keras_merge.cc).
import { Tensor, typeOfValue, wrap } from '../tensor';
import { native, NativeObject } from '../native';
import { Layer, LayerOptions, checkLayerOptions, shapeStr, configBase, configPick } from './layers';
import type { CallKind } from './engine/layer';

abstract class Merge extends Layer {
  /** The native module's options: the merge and its axes (native/keras_merge.cc). */
  protected abstract mergeOptions(xs: Tensor[]): Record<string, unknown>;
  private native?: NativeObject;
  private nativeKey = '';
  /** The inputs merged by the native module, made for the inputs' ranks (the axes it contracts depend on them). */
  protected combine(xs: Tensor[]): Tensor {
    const o = this.mergeOptions(xs);
    const key = JSON.stringify(o);
    if (!this.native || key !== this.nativeKey) {
      this.native = native.nn_module_create('KerasMerge', o);
      this.nativeKey = key;
    }
    return wrap(native.nn_module_forward(this.native, xs.map((t) => t._h))[0]!);
  }
  protected readonly minInputs: number = 2;
  protected readonly maxInputs: number = Infinity;

  protected checkShapes(shapes: (number | null)[][]): void {
    if (!Array.isArray(shapes) || shapes.length < this.minInputs || shapes.length > this.maxInputs) {
      const want = this.maxInputs === this.minInputs ? `${this.minInputs}` : `at least ${this.minInputs}`;
      throw new TypeError(`${this.name} (${this.constructor.name}): expected a list of ${want} inputs but received ${Array.isArray(shapes) ? shapes.length : typeOfValue(shapes)}`);
    }
    const s0 = shapes[0];
    for (const s of shapes) {
      if (s.length !== s0.length || s.some((d, i) => d !== null && s0[i] !== null && d !== s0[i])) {
        throw new RangeError(`${this.name} (${this.constructor.name}): inputs must have the same shape but have ${shapes.map(shapeStr).join(' and ')}`);
      }
    }
  }
  protected outShape(shapes: (number | null)[][]): (number | null)[] {
    return [...shapes[0]];
  }
  /** Creates the weights (if any) for a per-sample input shape (Keras' build). */
  override build(s: number[]): void {
    this.checkShapes(s as unknown as number[][]);
    this.built = true;
  }
  /** The per-sample output shape for a symbolic call on a list of inputs (checks the list and its shapes). */
  symbolicOutputShapes(kind: CallKind, shapes: (number | null)[][]): (number | null)[][] {
    if (kind !== 'list') throw new TypeError(`${this.name} (${this.constructor.name}): expected to be called on a list of inputs, as layer([a, b])`);
    this.checkShapes(shapes);
    return [this.outShape(shapes)];
  }
  /** Runs the merge eagerly on a list of Tensors, as `layer([a, b])`. */
  call(xs: Tensor | Tensor[]): Tensor {
    if (!Array.isArray(xs) || !xs.every((t) => t instanceof Tensor)) {
      throw new TypeError(`${this.name} (${this.constructor.name}): expected a list of Tensors, as layer([a, b]), but received ${typeOfValue(xs)}`);
    }
    this.checkShapes(xs.map((t) => t.shape.slice(1)));
    return this.combine(xs);
  }
}

/** Keras' Add: the elementwise sum of a list of same-shape inputs. */
export class Add extends Merge {
  constructor(opts?: LayerOptions) {
    super(checkLayerOptions('Add', opts, []));
  }
  protected mergeOptions(): Record<string, unknown> {
    return { mode: 'add' };
  }
}
/** Keras' Subtract: a - b of exactly two same-shape inputs. */
export class Subtract extends Merge {
  protected override readonly maxInputs = 2;
  constructor(opts?: LayerOptions) {
    super(checkLayerOptions('Subtract', opts, []));
  }
  protected mergeOptions(): Record<string, unknown> {
    return { mode: 'subtract' };
  }
}
/** Keras' Multiply: the elementwise product of a list of same-shape inputs. */
export class Multiply extends Merge {
  constructor(opts?: LayerOptions) {
    super(checkLayerOptions('Multiply', opts, []));
  }
  protected mergeOptions(): Record<string, unknown> {
    return { mode: 'multiply' };
  }
}
/** Keras' Average: the elementwise mean of a list of same-shape inputs. */
export class Average extends Merge {
  constructor(opts?: LayerOptions) {
    super(checkLayerOptions('Average', opts, []));
  }
  protected mergeOptions(): Record<string, unknown> {
    return { mode: 'average' };
  }
}
/** Keras' Maximum: the elementwise maximum of a list of same-shape inputs. */
export class Maximum extends Merge {
  constructor(opts?: LayerOptions) {
    super(checkLayerOptions('Maximum', opts, []));
  }
  protected mergeOptions(): Record<string, unknown> {
    return { mode: 'maximum' };
  }
}
/** Keras' Minimum: the elementwise minimum of a list of same-shape inputs. */
export class Minimum extends Merge {
  constructor(opts?: LayerOptions) {
    super(checkLayerOptions('Minimum', opts, []));
  }
  protected mergeOptions(): Record<string, unknown> {
    return { mode: 'minimum' };
  }
}

/** Keras' Concatenate along axis (of the batched tensor; -1 by default). */
export class Concatenate extends Merge {
  readonly axis: number;
  constructor(opts?: LayerOptions & { axis?: number }) {
    const o = checkLayerOptions('Concatenate', opts, ['axis']);
    super(o);
    const axis = o.axis ?? -1;
    if (!Number.isSafeInteger(axis) || axis === 0) throw new TypeError(`Concatenate: expected axis to be a non-zero integer (the batch axis 0 cannot be joined) but received ${JSON.stringify(axis)}`);
    this.axis = axis as number;
  }
  private sampleAxis(rank: number): number {
    const a = this.axis < 0 ? rank + 1 + this.axis : this.axis;
    if (a < 1 || a > rank) throw new RangeError(`${this.name} (Concatenate): axis ${this.axis} is out of range for inputs of rank ${rank + 1}`);
    return a - 1;
  }
  protected override checkShapes(shapes: (number | null)[][]): void {
    if (!Array.isArray(shapes) || shapes.length < 2) throw new TypeError(`${this.name} (Concatenate): expected a list of at least 2 inputs but received ${Array.isArray(shapes) ? shapes.length : typeOfValue(shapes)}`);
    const k = this.sampleAxis(shapes[0].length);
    for (const s of shapes) {
      if (s.length !== shapes[0].length || s.some((d, i) => i !== k && d !== null && shapes[0][i] !== null && d !== shapes[0][i])) {
        throw new RangeError(`${this.name} (Concatenate): inputs must match except on axis ${this.axis} but have shapes ${shapes.map(shapeStr).join(' and ')}`);
      }
    }
  }
  protected override outShape(shapes: (number | null)[][]): (number | null)[] {
    const k = this.sampleAxis(shapes[0].length);
    const out = [...shapes[0]];
    out[k] = shapes.some((s) => s[k] === null) ? null : shapes.reduce((n, s) => n + (s[k] as number), 0);
    return out;
  }
  protected mergeOptions(xs: Tensor[]): Record<string, unknown> {
    return { mode: 'concatenate', axis: this.sampleAxis(xs[0].ndim - 1) + 1 };
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis };
  }
}

/** Keras' Dot: the dot product of two inputs along axes (per sample), optionally of L2-normalised inputs (cosine). */
export class Dot extends Merge {
  readonly axes: number | [number, number];
  readonly normalize: boolean;
  protected override readonly maxInputs = 2;
  constructor(axes: number | [number, number], opts?: LayerOptions & { normalize?: boolean }) {
    const o = checkLayerOptions('Dot', opts, ['normalize']);
    super(o);
    const ok = (a: unknown) => Number.isSafeInteger(a) && a !== 0;
    if (!(ok(axes) || (Array.isArray(axes) && axes.length === 2 && axes.every(ok)))) {
      throw new TypeError(`Dot: expected axes to be a non-zero integer or two of them but received ${JSON.stringify(axes) ?? typeOfValue(axes)}`);
    }
    this.axes = Array.isArray(axes) ? [axes[0], axes[1]] : axes;
    if (o.normalize !== undefined && typeof o.normalize !== 'boolean') throw new TypeError(`Dot: expected normalize to be a boolean but received ${typeOfValue(o.normalize)}`);
    this.normalize = (o.normalize as boolean | undefined) ?? false;
  }
  private pair(ranks: [number, number]): [number, number] {
    const a = Array.isArray(this.axes) ? this.axes : [this.axes, this.axes];
    return a.map((x, i) => {
      const k = x < 0 ? ranks[i] + 1 + x : x;
      if (k < 1 || k > ranks[i]) throw new RangeError(`${this.name} (Dot): axis ${x} is out of range for an input of rank ${ranks[i] + 1}`);
      return k - 1;
    }) as [number, number];
  }
  protected override checkShapes(shapes: (number | null)[][]): void {
    if (!Array.isArray(shapes) || shapes.length !== 2) throw new TypeError(`${this.name} (Dot): expected a list of 2 inputs but received ${Array.isArray(shapes) ? shapes.length : typeOfValue(shapes)}`);
    const [i, j] = this.pair([shapes[0].length, shapes[1].length]);
    if (shapes[0][i] !== null && shapes[1][j] !== null && shapes[0][i] !== shapes[1][j]) {
      throw new RangeError(`${this.name} (Dot): the dot axes have sizes ${shapes[0][i]} and ${shapes[1][j]} (inputs ${shapes.map(shapeStr).join(' and ')})`);
    }
  }
  protected override outShape(shapes: (number | null)[][]): (number | null)[] {
    const [i, j] = this.pair([shapes[0].length, shapes[1].length]);
    const out = [...shapes[0].filter((_, k) => k !== i), ...shapes[1].filter((_, k) => k !== j)];
    return out.length ? out : [1];
  }
  protected mergeOptions(xs: Tensor[]): Record<string, unknown> {
    const [i, j] = this.pair([xs[0].ndim - 1, xs[1].ndim - 1]);
    return { mode: 'dot', axisA: i + 1, axisB: j + 1, normalize: this.normalize };
  }
  /** Keras' from_config: the layer rebuilt from getConfig()'s output. */
  static override fromConfig(c: Record<string, unknown>): Dot {
    return new Dot(c.axes as number | [number, number], { ...configBase(c), ...configPick(c, ['normalize']) });
  }
  /** Keras' get_config: the options to rebuild this layer (fromConfig's input). */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axes: this.axes, normalize: this.normalize };
  }
}
