// An ONNX graph under construction: nodes, initializers and the opset-dependent spellings of the
// few operators whose inputs moved between opsets (axes as an attribute or as an input), encoded
// with ONNX's published onnx.proto (lib/utils/proto) into a ModelProto.
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../native';
import { noGrad } from '../autograd';
import { Tensor } from '../tensor';
import { onnxProtos, encode } from '../utils/proto';

/** The opsets written: 13 (the first with Softmax on one axis) up to 17 (LayerNormalization; Debian's onnx 1.12 checks up to 17). */
export const MIN_OPSET = 13;
/** The highest ONNX opset the exporters write (17). */
export const MAX_OPSET = 17;
/** The opset written when none is asked for (17). */
export const DEFAULT_OPSET = 17;

// onnx.TensorProto.DataType
/** onnx.TensorProto.DataType FLOAT (float32). */
export const FLOAT = 1;
/** onnx.TensorProto.DataType INT64. */
export const INT64 = 7;

/** An ONNX node attribute value: one int, float or string, or a list of them. */
export type Attr = { i: number } | { f: number } | { s: string } | { ints: number[] } | { floats: number[] } | { strings: string[] };

/** An error about one layer or module of the user's model, named in their terms. */
export class ExportError extends Error {}

/** Builds an ONNX graph node by node (unique names, initializers) and encodes the ModelProto. */
export class GraphBuilder {
  /** the NodeProtos added so far, in order */
  readonly nodes: Record<string, unknown>[] = [];
  /** the TensorProtos of the weights and constants */
  readonly initializers: Record<string, unknown>[] = [];
  private readonly used = new Set<string>();
  /** prefix for the names of what the layer being converted adds */
  scope = '';

  constructor(readonly opset: number) {}

  /** A fresh value name under the current scope. */
  name(hint: string): string {
    const base = this.scope ? `${this.scope}/${hint}` : hint;
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  /** Adds one node; returns its output names. */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => this.name(outputs === 1 ? op : `${op}_out${i}`));
    const attribute = Object.entries(attrs).map(([name, a]) => {
      if ('i' in a) return { name, type: 'INT', i: a.i };
      if ('f' in a) return { name, type: 'FLOAT', f: a.f };
      if ('s' in a) return { name, type: 'STRING', s: Buffer.from(a.s, 'utf8') };
      if ('ints' in a) return { name, type: 'INTS', ints: a.ints };
      if ('floats' in a) return { name, type: 'FLOATS', floats: a.floats };
      return { name, type: 'STRINGS', strings: a.strings.map((s) => Buffer.from(s, 'utf8')) };
    });
    this.nodes.push({ op_type: op, name: this.name(`${op}_node`), input: inputs, output: outs, attribute });
    return outs;
  }
  /** Adds a one-output node of op type op; returns its output's name. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, attrs, 1)[0];
  }

  /** A float32 initializer from a tensor (any float dtype, any device) or numbers. */
  floats(hint: string, v: Tensor | ArrayLike<number>, dims?: number[]): string {
    let data: Float32Array;
    let shape: number[];
    if (v instanceof Tensor) {
      const t = noGrad(() => v.detach().to({ dtype: 'float32', device: 'cpu' }).contiguous());
      data = Float32Array.from(t.dataSync() as Float32Array);
      shape = dims ?? [...v.shape];
    } else {
      data = Float32Array.from(v);
      shape = dims ?? [data.length];
    }
    if (shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`ONNX export: internal error: ${hint} has ${data.length} values for dims [${shape.join(', ')}]`);
    const name = this.name(hint);
    this.initializers.push({ name, dims: shape, data_type: FLOAT, raw_data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** An int64 initializer (shapes, axes, indices). */
  ints(hint: string, values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    const name = this.name(hint);
    this.initializers.push({ name, dims, data_type: INT64, raw_data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** ReduceMean/Max/Sum/Prod over axes: axes an attribute before opset 18 (ReduceSum: 13). */
  reduce(op: 'ReduceMean' | 'ReduceMax' | 'ReduceSum' | 'ReduceProd', x: string, axes: number[], keepdims: boolean): string {
    const asInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    if (asInput) return this.op(op, [x, this.ints('axes', axes)], { keepdims: { i: keepdims ? 1 : 0 } });
    return this.op(op, [x], { axes: { ints: axes }, keepdims: { i: keepdims ? 1 : 0 } });
  }
  /** x without the size-1 axes (ONNX Squeeze). */
  squeeze(x: string, axes: number[]): string {
    return this.op('Squeeze', [x, this.ints('axes', axes)]);
  }
  /** x with its axes permuted (ONNX Transpose). */
  transpose(x: string, perm: number[]): string {
    return this.op('Transpose', [x], { perm: { ints: perm } });
  }
  /** x in a new shape (ONNX Reshape; 0 copies, -1 infers). */
  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.ints('shape', shape)]);
  }
  /** x reversed along one axis. */
  reverse(x: string, axis: number): string {
    return this.op('Slice', [x, this.ints('starts', [-1]), this.ints('ends', [Number.MIN_SAFE_INTEGER]), this.ints('axes', [axis]), this.ints('steps', [-1])]);
  }

  /** The ModelProto bytes: inputs/outputs with a symbolic batch dimension ('batch'; other unknown dimensions get their own names). */
  model(graphName: string, inputs: ValueInfo[], outputs: ValueInfo[], docString: string): Uint8Array {
    const vi = (v: ValueInfo) => ({
      name: v.name,
      type: { tensor_type: { elem_type: v.elemType, shape: { dim: v.shape.map((d, i) => (d !== null ? { dim_value: d } : { dim_param: i === 0 ? 'batch' : `${v.name}_dim${i}` })) } } },
    });
    const irVersion = this.opset <= 13 ? 7 : 8; // ONNX's table: opset 13 -> IR 7, opsets 14-18 -> IR 8
    return encode(onnxProtos(), 'onnx.ModelProto', {
      ir_version: irVersion,
      opset_import: [{ domain: '', version: this.opset }],
      producer_name: 'nodetorch',
      producer_version: producerVersion(),
      doc_string: docString,
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: inputs.map(vi), output: outputs.map(vi) },
    });
  }
}

/** A graph input or output: its name, ONNX element type and shape (null for an unknown dim). */
export interface ValueInfo { name: string; elemType: number; shape: (number | null)[] }

function producerVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '';
  }
}

/** The opset option: an integer in [MIN_OPSET, MAX_OPSET]. */
export function checkOpset(where: string, v: unknown): number {
  if (v === undefined) return DEFAULT_OPSET;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= MIN_OPSET && v <= MAX_OPSET) return v;
  throw new RangeError(`${where}: expected opset to be an integer from ${MIN_OPSET} to ${MAX_OPSET} but received ${JSON.stringify(v) ?? String(v)}`);
}
