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
/** Gradients on demand: grad, noGrad, enableGrad (torch.autograd). */
export * as autograd from './autograd';
export { tidy, keep, memory } from './memory';
export { Device, device, cuda, availableDevices, setNumThreads, getNumThreads } from './device';
/** PyTorch-style modules, loss modules and containers (torch.nn). */
export * as nn from './nn';
/** PyTorch's torch.nn.functional: activations, layers as functions, losses, pad, interpolate, normalize. */
export * as F from './nn/functional';
/** Optimizers and learning-rate schedulers (torch.optim). */
export * as optim from './optim';
export { Sequential, layers, callbacks, optimizers, regularizers } from './keras';
// Keras losses and metrics namespaces (Keras engine v2)
export { losses, metrics } from './keras';
/** Keras' built-in data sets (mnist, cifar10, imdb...), downloaded and cached. */
export * as datasets from './datasets';
/** tf.data-style input pipelines, image and text loading, augmentation. */
export * as data from './data';
/** KerasTuner: hyperparameters, search oracles and tuners. */
export * as tuner from './tuner';
/** TorchScript: load and run scripted/traced models. */
export * as jit from './jit';
// distributed: c10d process groups (torch.distributed)
/** Process groups and collectives for data-parallel training (torch.distributed). */
export * as distributed from './distributed';
// Keras 3's keras.distribution (DataParallel, setDistribution, listDevices) over nt.distributed
export * as distribution from './keras/distribution';
// PyTorch face: nt.utils (torch.utils.data, and Keras' utils as their domains add them)
/** torch.utils and keras.utils: data loading, TensorBoard, plots, toCategorical. */
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
/** Files: atomic writes and the formats nodetorch reads and writes. */
export * as io from './io';
export { save, load } from './io/serialize';
// Keras engine v2 (issue 14): Functional and subclassed models
export { Model, Input, KerasTensor, registerLayer } from './keras';
// export and observability (issue 17): nt.onnx (nt.utils.tensorboard / plotHistory / plotModel hang under lib/utils)
/** ONNX export of models. */
export * as onnx from './onnx';
// aten: every ATen operator (generated nt.<op> functions and Tensor methods; nt.aten.call by name)
export * from './aten/functions';
/** Every ATen operator of the running libtorch: call by name, has, schemas. */
export * as aten from './aten';
export { setAdaptiveThreads, getAdaptiveThreads, threadPolicy, type ThreadPolicy } from './threads';
// mixed precision (issue 17): Keras' nt.mixedPrecision (also nt.mixed_precision), PyTorch's nt.autocast and nt.amp.GradScaler
export { mixedPrecision, mixedPrecision as mixed_precision } from './keras';
export { autocast } from './amp';
export * as amp from './amp';
