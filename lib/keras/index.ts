// Keras-style models (Sequential, layers, callbacks, optimizers) over the native training loop.
export { Sequential } from './model';
export type { CompileOptions, FitOptions, Data } from './model';
export type { EvaluateResult } from './engine/model';
export * as layers from './layers-index';
/** Keras callbacks: the hooks fit calls, History, EarlyStopping, ModelCheckpoint... */
export * as callbacks from './callbacks-index';
/** Keras optimizers and learning-rate schedules. */
export * as optimizers from './optimizers';
/** Keras weight regularizers (l1, l2, l1l2). */
export * as regularizers from './regularizers';
/** Keras losses, as classes and by name. */
export * as losses from './losses';
/** Keras metrics with updateState/result/resetState. */
export * as metrics from './metrics';
export { loadModel, registerLayer, registeredLayers } from './saving';
export type { SaveOptions, ModelConfig, LayerFactory } from './saving';
export { ModelCheckpoint, BackupAndRestore, formatFilepath } from './checkpoint_callbacks';
export type { ModelCheckpointOptions, BackupAndRestoreOptions } from './checkpoint_callbacks';
// Keras engine v2 (issue 14): Functional and subclassed models, nt.Input
export { Model } from './engine/model';
export type { ModelOptions, EvaluateOptions, PredictOptions } from './engine/model';
export { Input, KerasTensor } from './engine/layer';
export type { InputOptions } from './engine/layer';
// mixed precision (issue 17): keras.mixed_precision
export * as mixedPrecision from './mixed_precision';
