// The Keras model classes live in engine/ (Layer protocol, Functional graph, Model, Sequential) and
// training/ (trainer, data adapter); this file keeps the old import path.
export { Sequential } from './engine/sequential';
export { Model } from './engine/model';
export type { ModelOptions, EvaluateOptions, EvaluateResult, PredictOptions } from './engine/model';
export type { CompileOptions, FitOptions, Data, LossObject, LossLike } from './training/trainer';
export { Callback } from './callbacks';
