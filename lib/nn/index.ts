// PyTorch-style modules (nt.nn): Module and Parameter, the built-in layers over native torch::nn,
// and the Sequential/ModuleList containers.
export { Module, Parameter } from './module';
export type { StateDict, StateDictLoadResult } from './module';
export {
  NativeModule, Linear, Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, LayerNorm,
  Dropout, Embedding, RNN, LSTM, GRU, MultiheadAttention, TransformerEncoderLayer, Flatten, ReLU, Sigmoid, Tanh, GELU,
  Softmax,
} from './layers';
export type { ConvOptions, Pool2dOptions, BatchNormOptions, RNNOptions, MultiheadAttentionOptions } from './layers';
export { Sequential, ModuleList } from './containers';
// distributed: data-parallel training over nt.distributed
export { DistributedDataParallel } from './ddp';
export type { DistributedDataParallelOptions } from './ddp';
export type { RemovableHandle, ForwardHook, ForwardPreHook } from './module';
export {
  Loss, CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss,
  CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss, CTCLoss,
} from './loss';
export type { CrossEntropyLossOptions } from './loss';

import { clipGradNorm_, clipGradValue_ } from '../optim/clip';
/** torch.nn.utils: gradient clipping. */
export const utils = Object.freeze({
  /** Scales gradients so their total norm is at most maxNorm (torch.nn.utils.clip_grad_norm_). */
  clipGradNorm_,
  /** Clamps every gradient to [-clipValue, clipValue] (torch.nn.utils.clip_grad_value_). */
  clipGradValue_,
  /** Alias of clipGradNorm_ (PyTorch's spelling). */
  clip_grad_norm_: clipGradNorm_,
  /** Alias of clipGradValue_ (PyTorch's spelling). */
  clip_grad_value_: clipGradValue_,
});
