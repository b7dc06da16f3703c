// PyTorch-style optimizers over native torch::optim, learning-rate schedulers and gradient clipping.
export { Optimizer } from './optimizer';
export type { ParamGroup, ParamGroupInput, Params, OptimizerStateDict } from './optimizer';
export { SGD, Adam, AdamW, RMSprop, Adagrad } from './optimizers';
export type { SGDOptions, AdamOptions, AdamWOptions, RMSpropOptions, AdagradOptions } from './optimizers';
export * as lrScheduler from './lr_scheduler';
export { clipGradNorm_, clipGradValue_ } from './clip';
export type { ClipGradNormOptions } from './clip';
