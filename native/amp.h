// Mixed precision: libtorch's thread-local autocast state, set for a scope (nt.autocast, and a
// Keras layer's compute dtype in the native loop).
#pragma once
#include "errors.h"

namespace nt {

struct AutocastState {
  bool enabled = false;
  at::ScalarType dtype = at::kBFloat16;
};

AutocastState GetAutocast(at::DeviceType d);
void SetAutocast(at::DeviceType d, const AutocastState& s);

// Runs a scope with autocast to compute (kBFloat16/kHalf: on; kFloat: off) for device type d, and
// restores the previous state at its end. Throws for a compute dtype the device cannot autocast to.
class AutocastScope {
 public:
  AutocastScope(at::DeviceType d, at::ScalarType compute);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  at::DeviceType d_;
  AutocastState prev_;
};

// "bfloat16" / "float16" / "float32" -> the compute dtype; anything else is an ArgError naming where.
at::ScalarType ComputeDtype(const std::string& s, const std::string& where);

// The input of one layer under a compute dtype: float32 when the layer computes in float32, or
// when it has weights that autocast does not lower itself (normalization, recurrent layers).
at::Tensor MixedInput(const at::Tensor& x, at::ScalarType compute, const torch::nn::Module* m);

void RegisterAmp(napi_env env, napi_value exports);

}  // namespace nt
