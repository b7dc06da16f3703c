// The native optimizer object: one libtorch optimizer owned by a JS object, and usable from C++
// too (a native training loop calls Step()/ZeroGrad() on a worker thread while JS holds it).
#pragma once
#include <mutex>

#include "errors.h"

namespace nt {

enum class OptimKind { kSGD, kAdam, kAdamW, kRMSprop, kAdagrad };

// "SGD", "Adam"... as PyTorch names the classes.
const char* OptimKindName(OptimKind k);

// Keras 3's training controls around one optimizer step (native/train_controls.cc): gradient
// clipping, accumulation, an exponential moving average of the weights and dynamic loss scaling.
struct TrainControls {
  double clipnorm = 0, clipvalue = 0, globalClipnorm = 0;  // 0: off
  int64_t accumulationSteps = 1;
  bool useEma = false;
  double emaMomentum = 0.99;
  int64_t emaOverwriteFrequency = 0;  // 0: never
  bool lossScale = false;             // LossScaleOptimizer: dynamic scale, skip non-finite steps
  double scale = 32768;
  int64_t growthSteps = 2000, goodSteps = 0;
  int64_t iterations = 0;  // Step() calls (Keras' optimizer.iterations, skipped float16 steps excluded)
  std::vector<at::Tensor> accumulated, average;
};

struct NativeOptimizer : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "an optimizer";

  NativeOptimizer(OptimKind k, std::unique_ptr<torch::optim::Optimizer> o) : kind(k), opt(std::move(o)) {}

  // One optimization step under no-grad. Takes mu.
  void Step();
  // Clears gradients: set to undefined (PyTorch 2.x default) or zeroed in place. Takes mu.
  void ZeroGrad(bool setToNone);

  // Every entry point below, and Step/ZeroGrad, hold mu while touching opt: a training loop on a
  // worker thread and a scheduler on the JS thread may use the same optimizer.
  std::mutex mu;
  const OptimKind kind;
  std::unique_ptr<torch::optim::Optimizer> opt;
  // False after options or state changed from outside step(): the next Step() first creates any
  // state the options now need (amsgrad turned on, momentum added, Adagrad's accumulators for a
  // new group), which libtorch itself would dereference as missing.
  bool stateChecked = false;
  // Set by optim_set_controls (Keras optimizers); null: Step() is the plain libtorch step.
  std::unique_ptr<TrainControls> controls;
};

// Step() with controls (mu held, no-grad): the training-controls step of native/train_controls.cc.
void ControlledStep(NativeOptimizer& o);
// The loss a backward pass should start from: scaled by the dynamic loss scale when one is on.
at::Tensor LossForBackward(NativeOptimizer* o, const at::Tensor& loss);
void RegisterTrainControls(napi_env env, napi_value exports);

}  // namespace nt
