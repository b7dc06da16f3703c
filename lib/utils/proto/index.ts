// The vendored TensorFlow and ONNX schemas (README.md here), parsed once with protobufjs. They are
// read from schemas.ts, generated from the .proto files by scripts/gen-protos.js, so they ship in
// dist/ as JavaScript.
import * as protobuf from 'protobufjs';
import { SCHEMAS } from './schemas';

const roots = new Map<string, protobuf.Root>();

function load(family: 'tensorflow' | 'onnx'): protobuf.Root {
  let root = roots.get(family);
  if (root) return root;
  root = new protobuf.Root();
  // every file of the family into one root; imports resolve by name once all are parsed
  for (const [name, source] of Object.entries(SCHEMAS)) {
    if (name.startsWith(`${family}/`)) protobuf.parse(source, root, { keepCase: true });
  }
  root.resolveAll();
  roots.set(family, root);
  return root;
}

/** TensorFlow's Event/Summary/HistogramProto/GraphDef (package `tensorboard`, TensorFlow's wire format). */
export function tensorflowProtos(): protobuf.Root {
  return load('tensorflow');
}

/** ONNX's ModelProto and friends (package `onnx`). */
export function onnxProtos(): protobuf.Root {
  return load('onnx');
}

/** Encodes a plain object (enums by name, bytes as Buffers) as `type`, verified against the schema. */
export function encode(root: protobuf.Root, type: string, value: Record<string, unknown>): Uint8Array {
  const T = root.lookupType(type);
  const m = T.fromObject(value);
  const err = T.verify(m);
  if (err) throw new Error(`nodetorch: internal error encoding ${type}: ${err}`);
  return T.encode(m).finish();
}
