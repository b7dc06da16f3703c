// The native optimizer object: one libtorch optimizer owned by a JS object, and usable from C++
// too (a native training loop calls Step()/ZeroGrad() on a worker thread while JS holds it).
#pragma once
#include <mutex>

#include "errors.h"

namespace nt {

enum class OptimKind { kSGD, kAdam, kAdamW, kRMSprop, kAdagrad };

// "SGD", "Adam"... as PyTorch names the classes.
const char* OptimKindName(OptimKind k);

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
};

}  // namespace nt
