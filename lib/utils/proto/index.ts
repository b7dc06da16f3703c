// The vendored TensorFlow and ONNX schemas (README.md here), parsed once with protobufjs. The .proto
// files are read from this directory, or from the package's lib/utils/proto when running from dist/.
import * as fs from 'fs';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { packageRoot } from '../../native';

function protoDir(): string {
  for (const d of [__dirname, path.join(packageRoot, 'lib', 'utils', 'proto')]) {
    if (fs.existsSync(path.join(d, 'onnx', 'onnx.proto'))) return d;
  }
  throw new Error(`nodetorch: the protobuf schemas (onnx/onnx.proto, tensorflow/*.proto) are missing from ${__dirname} ` +
    `and ${path.join(packageRoot, 'lib', 'utils', 'proto')}; reinstall the package`);
}

const roots = new Map<string, protobuf.Root>();

function load(family: 'tensorflow' | 'onnx', files: string[]): protobuf.Root {
  let root = roots.get(family);
  if (root) return root;
  const dir = path.join(protoDir(), family);
  root = new protobuf.Root();
  // imports name TensorBoard's paths (tensorboard/compat/proto/x.proto): every file sits in one directory here
  root.resolvePath = (_origin, target) => path.join(dir, path.basename(target));
  root.loadSync(files.map((f) => path.join(dir, f)), { keepCase: true });
  root.resolveAll();
  roots.set(family, root);
  return root;
}

/** TensorFlow's Event/Summary/HistogramProto/GraphDef (package `tensorboard`, TensorFlow's wire format). */
export function tensorflowProtos(): protobuf.Root {
  return load('tensorflow', ['event.proto', 'summary.proto', 'graph.proto']);
}

/** ONNX's ModelProto and friends (package `onnx`). */
export function onnxProtos(): protobuf.Root {
  return load('onnx', ['onnx.proto']);
}

/** Encodes a plain object (enums by name, bytes as Buffers) as `type`, verified against the schema. */
export function encode(root: protobuf.Root, type: string, value: Record<string, unknown>): Uint8Array {
  const T = root.lookupType(type);
  const m = T.fromObject(value);
  const err = T.verify(m);
  if (err) throw new Error(`nodetorch: internal error encoding ${type}: ${err}`);
  return T.encode(m).finish();
}
