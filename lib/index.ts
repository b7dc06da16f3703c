// nodetorch: deep learning for Node.js on libtorch.
import * as fs from 'fs';
import * as path from 'path';
import { native, packageRoot } from './native';

export { Tensor } from './tensor';
export type { Scalar, Operand, ToOptions, ReduceOptions, BackwardOptions, ValuesIndices, NestedArray, DeviceLike } from './tensor';
export type { DType, TypedArray } from './dtype';
export { DTYPES } from './dtype';
export * from './creation';
export * from './ops';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled } from './autograd';
export * as autograd from './autograd';
export { tidy, keep, memory } from './memory';
export { Device, device, cuda, availableDevices, setNumThreads, getNumThreads } from './device';
export * as nn from './nn';
export * as F from './nn/functional';
export * as optim from './optim';
export { Sequential, layers, callbacks, optimizers, regularizers } from './keras';
// Keras losses and metrics namespaces (Keras engine v2)
export { losses, metrics } from './keras';
export * as datasets from './datasets';
export * as data from './data';
export * as tuner from './tuner';
export * as jit from './jit';
// distributed: c10d process groups (torch.distributed)
export * as distributed from './distributed';
// PyTorch face: nt.utils (torch.utils.data, and Keras' utils as their domains add them)
export * as utils from './utils';
export type { EvaluateResult, EvaluateOptions } from './keras';

const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
const build = native.build_info();

/** Versions of nodetorch and of the libtorch it runs on. */
export const version = Object.freeze({
  nodetorch: pkg.version,
  libtorch: build.libtorch,
  cuda: native.cuda_is_available(),
  cudnn: native.cudnn_is_available(),
});
export { loadModel } from './keras/saving';
export * as io from './io';
export { save, load } from './io/serialize';
// Keras engine v2 (issue 14): Functional and subclassed models
export { Model, Input, KerasTensor, registerLayer } from './keras';
// export and observability (issue 17): nt.onnx (nt.utils.tensorboard / plotHistory / plotModel hang under lib/utils)
export * as onnx from './onnx';
// aten: every ATen operator (generated nt.<op> functions and Tensor methods; nt.aten.call by name)
export * from './aten/functions';
export * as aten from './aten';
// mixed precision (issue 17): Keras' nt.mixedPrecision (also nt.mixed_precision), PyTorch's nt.autocast and nt.amp.GradScaler
export { mixedPrecision, mixedPrecision as mixed_precision } from './keras';
export { autocast } from './amp';
export * as amp from './amp';
