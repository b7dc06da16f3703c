// nt.tuner: Keras Tuner's hyperparameter search (RandomSearch, GridSearch, BayesianOptimization,
// Hyperband) over HyperParameters a build function declares, with trials persisted for resuming.
export { HyperParameters, HyperParameter, Int, Float, Choice, BooleanHP, Fixed } from './hyperparameters';
export type { HPValue, HPConfig, Sampling, Condition, IntOptions, FloatOptions, ChoiceOptions, BooleanOptions, ConditionOptions } from './hyperparameters';
export { Objective, Trial, inferDirection } from './trial';
export type { Direction, TrialStatus, TrialResult, Execution, TrialJSON } from './trial';
export { Oracle, RandomSearchOracle, GridSearchOracle } from './oracle';
export { BayesianOptimizationOracle, GaussianProcess } from './bayesian';
export type { Kernel, Acquisition } from './bayesian';
export { HyperbandOracle } from './hyperband';
export { Tuner, RandomSearch, GridSearch, BayesianOptimization, Hyperband } from './tuner';
export type { HyperModel, TunerOptions, BayesianOptimizationOptions, HyperbandOptions } from './tuner';
