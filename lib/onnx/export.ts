// ONNX export without Python: the graph is written from the model's own structure (a Keras model's
// layer graph, or an nn.Sequential's chain of modules) into ONNX's ModelProto, with a dynamic batch
// dimension, and the file is written atomically.
import { Tensor, typeOfValue } from '../tensor';
import { Module } from '../nn/module';
import { writeFileAtomicSync } from '../io/atomic';
import { modelGraph, moduleGraph } from '../utils/model_graph';
import { GraphBuilder, ValueInfo, FLOAT, INT64, checkOpset, ExportError } from './builder';
import { convertLayer } from './keras';
import { convertModule } from './torch';

/** Options of model.export() (Keras 3's export): format and opset. */
export interface ExportOptions {
  /** 'onnx' (the default for a path ending in .onnx) */
  format?: 'onnx' | 'torchscript' | string;
  /** the ONNX opset, 13 to 17 (default 17) */
  opset?: number;
}

function checkFile(where: string, file: unknown): string {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`${where}: expected a file path but received ${typeOfValue(file)}`);
  return file;
}

function checkOptions(where: string, opts: unknown, known: string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${where}: expected an options object but received ${typeOfValue(opts)}`);
  for (const k of Object.keys(opts)) if (!known.includes(k)) throw new TypeError(`${where}: unknown option '${k}'; known options: ${known.join(', ')}`);
  return opts as Record<string, unknown>;
}

/** The ModelProto bytes of a Keras model: a Sequential's chain, or a Functional model's layer graph (nested models inlined). */
export function kerasModelToOnnx(model: unknown, opts: { opset?: number } = {}): Uint8Array {
  const where = 'export';
  const opset = checkOpset(where, opts.opset);
  const g = modelGraph(model, where, { expandNested: true, requireGraph: where });
  const unknown = g.nodes.find((n) => n.outputShape === null);
  if (unknown) {
    throw new Error(`${where}: the model '${g.name}' is not built (layer '${unknown.name}' has no known shape); ` +
      'give the first layer an inputShape, call build(inputShape), or fit()/predict() once before exporting');
  }
  const b = new GraphBuilder(opset);
  const values = new Map<string, string>();
  const inputs: ValueInfo[] = [];
  for (const n of g.nodes) {
    if ((n.outputCount ?? 1) > 1) {
      throw new ExportError(`ONNX export: layer '${n.name}' (${n.className}) is called for ${n.outputCount} outputs (returnState or attention scores); only single-output layer calls can be exported`);
    }
    if (n.callOptions && Object.keys(n.callOptions).length > 0) {
      throw new ExportError(`ONNX export: layer '${n.name}' (${n.className}) is called with options ${Object.keys(n.callOptions).join(', ')}, which cannot be exported`);
    }
    if (n.inbound.length === 0) {
      // integer inputs for an integer Input, or when only Embeddings read this input (token ids); float otherwise
      const readers = g.nodes.filter((m) => m.inbound.includes(n.name));
      const dtype = (n.layer as { dtype?: unknown } | undefined)?.dtype;
      const ids = typeof dtype === 'string' && dtype.startsWith('int') ? true : readers.length > 0 && readers.every((m) => m.className === 'Embedding');
      inputs.push({ name: n.name, elemType: ids ? INT64 : FLOAT, shape: [null, ...n.outputShape!] });
      values.set(n.name, n.name);
      continue;
    }
    values.set(n.name, convertLayer(b, n.inbound.map((i) => values.get(i)!), n));
  }
  const taken = new Set<string>();
  const outputs: ValueInfo[] = g.outputs.map((name) => {
    const n = g.nodes.find((m) => m.name === name)!;
    let out = `${name}_output`;
    for (let k = 1; taken.has(out); k++) out = `${name}_output_${k}`;
    taken.add(out);
    b.nodes.push({ op_type: 'Identity', name: `${out}_node`, input: [values.get(name)!], output: [out], attribute: [] });
    return { name: out, elemType: FLOAT, shape: [null, ...n.outputShape!] };
  });
  return b.model(g.name, inputs, outputs, `Keras model '${g.name}' exported by nodetorch`);
}

/** Keras 3's model.export(path, { format: 'onnx', opset }): writes the file atomically. */
export async function exportKerasModel(model: unknown, filepath: string, opts?: ExportOptions): Promise<void> {
  const where = 'export';
  const file = checkFile(where, filepath);
  const o = checkOptions(where, opts, ['format', 'opset']);
  const format = (o.format as string | undefined) ?? (/\.onnx$/i.test(file) ? 'onnx' : undefined);
  if (format !== 'onnx') {
    throw new TypeError(`${where}: expected format 'onnx' (or 'torchscript', which Model.export handles) but received ${format === undefined ? 'none (and the path does not end in .onnx)' : JSON.stringify(format)}`);
  }
  writeFileAtomicSync(file, kerasModelToOnnx(model, { opset: o.opset as number | undefined }));
}

/** Options of nt.onnx.export() for a module (like torch.onnx.export's opset_version, input_names, output_names). */
export interface ModuleExportOptions {
  /** the ONNX opset, 13 to 17 (default 17) */
  opset?: number;
  /** the graph input's name (default 'input') */
  inputName?: string;
  /** the graph output's name (default 'output') */
  outputName?: string;
}

/** The ModelProto bytes of an nn.Sequential (or one built-in module) for example inputs. */
export function moduleToOnnx(module: unknown, exampleInputs: unknown, opts: ModuleExportOptions = {}): Uint8Array {
  const where = 'onnx.export';
  if (!(module instanceof Module)) throw new TypeError(`${where}: expected an nn.Module (nn.Sequential of built-in modules) but received ${typeOfValue(module)}`);
  const ex = exampleInputs instanceof Tensor ? [exampleInputs] : exampleInputs;
  if (!Array.isArray(ex) || ex.length !== 1 || !(ex[0] instanceof Tensor)) {
    throw new TypeError(`${where}: expected exampleInputs to be one Tensor or an array of one Tensor (an nn.Sequential takes one input) but received ${typeOfValue(exampleInputs)}`);
  }
  const x0 = ex[0] as Tensor;
  if (x0.ndim < 1) throw new RangeError(`${where}: expected the example input to have a batch dimension but it is a scalar`);
  const opset = checkOpset(where, opts.opset);
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'output';
  const g = moduleGraph(module, x0, where);
  const b = new GraphBuilder(opset);
  const batch = x0.shape[0];
  let v = inputName;
  for (const n of g.nodes.slice(1)) {
    b.scope = n.name;
    v = convertModule(b, v, n.module!, [batch, ...n.inputShapes[0]], [batch, ...n.outputShape!], `${n.name} (${n.className})`);
    b.scope = '';
  }
  b.nodes.push({ op_type: 'Identity', name: `${outputName}_node`, input: [v], output: [outputName], attribute: [] });
  const outShape = g.nodes[g.nodes.length - 1].outputShape!;
  const ints = x0.dtype === 'int64' || x0.dtype === 'int32';
  return b.model(module.constructor.name, [{ name: inputName, elemType: ints ? INT64 : FLOAT, shape: [null, ...x0.shape.slice(1)] }],
    [{ name: outputName, elemType: FLOAT, shape: [null, ...outShape] }], `${module.constructor.name} exported by nodetorch`);
}

/** nt.onnx.export(module, exampleInputs, path, { opset }): writes the file atomically. */
export async function exportModule(module: unknown, exampleInputs: unknown, filepath: string, opts?: ModuleExportOptions): Promise<void> {
  const file = checkFile('onnx.export', filepath);
  const o = checkOptions('onnx.export', opts, ['opset', 'inputName', 'outputName']);
  writeFileAtomicSync(file, moduleToOnnx(module, exampleInputs, o as ModuleExportOptions));
}
