// Mixed precision over libtorch's autocast (at::autocast): its state is thread-local, so the JS
// thread (nt.autocast) and the runner thread (a Keras layer's compute dtype) each set their own.
#include "amp.h"

#include <ATen/autocast_mode.h>

namespace nt {

namespace {

// libtorch 2.4 replaced the per-device functions with ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define NT_AUTOCAST_BY_DEVICE 1
#endif

bool Reduced(at::ScalarType t) { return t == at::kBFloat16 || t == at::kHalf; }

const char* DtypeName(at::ScalarType t) {
  return t == at::kBFloat16 ? "bfloat16" : t == at::kHalf ? "float16" : t == at::kFloat ? "float32" : "other";
}

at::DeviceType DeviceTypeOf(const std::string& s) {
  if (s == "cpu") return at::kCPU;
  if (s == "cuda") return at::kCUDA;
  throw ArgError("autocast: expected deviceType to be 'cpu' or 'cuda' but received '" + s + "'");
}

// autocast_get(deviceType) -> { enabled, dtype }
napi_value Get(napi_env env, napi_callback_info info) {
  Args a(env, info);
  AutocastState s = GetAutocast(DeviceTypeOf(a.String(0, "deviceType")));
  napi_value out, en, dt;
  Check(env, napi_create_object(env, &out));
  Check(env, napi_get_boolean(env, s.enabled, &en));
  Check(env, napi_create_string_utf8(env, DtypeName(s.dtype), NAPI_AUTO_LENGTH, &dt));
  Check(env, napi_set_named_property(env, out, "enabled", en));
  Check(env, napi_set_named_property(env, out, "dtype", dt));
  return out;
}

// autocast_set(deviceType, enabled, dtype): the JS side saves and restores the previous state.
napi_value Set(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::DeviceType d = DeviceTypeOf(a.String(0, "deviceType"));
  AutocastState s;
  s.enabled = a.Bool(1, "enabled");
  s.dtype = ComputeDtype(a.String(2, "dtype"), "autocast: dtype");
  if (s.enabled && !Reduced(s.dtype))
    throw ArgError("autocast: expected dtype to be 'bfloat16' or 'float16' but received 'float32'");
  if (s.enabled && d == at::kCPU && s.dtype == at::kHalf) {
#ifndef NT_AUTOCAST_BY_DEVICE
    throw ArgError("autocast: libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." +
                   std::to_string(TORCH_VERSION_MINOR) +
                   "'s CPU autocast supports only bfloat16; use dtype 'bfloat16' on CPU, or float16 on a CUDA device");
#endif
  }
  SetAutocast(d, s);
  return nullptr;
}

// autocast_enter() / autocast_exit(): nesting of autocast regions; the cast cache is dropped when
// the outermost one ends, as torch.autocast does.
// An exit without its enter is ignored, so libtorch's count never goes below zero.
thread_local int64_t depth = 0;
napi_value Enter(napi_env env, napi_callback_info info) {
  at::autocast::increment_nesting();
  depth++;
  return nullptr;
}
napi_value Exit(napi_env env, napi_callback_info info) {
  if (depth == 0) return nullptr;
  depth--;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  return nullptr;
}

const Export kExports[] = {
    NT_EXPORT("autocast_get", Get),
    NT_EXPORT("autocast_set", Set),
    NT_EXPORT("autocast_enter", Enter),
    NT_EXPORT("autocast_exit", Exit),
};

}  // namespace

AutocastState GetAutocast(at::DeviceType d) {
  AutocastState s;
#ifdef NT_AUTOCAST_BY_DEVICE
  s.enabled = at::autocast::is_autocast_enabled(d);
  s.dtype = at::autocast::get_autocast_dtype(d);
#else
  if (d == at::kCUDA) {
    s.enabled = at::autocast::is_enabled();
    s.dtype = at::autocast::get_autocast_gpu_dtype();
  } else {
    s.enabled = at::autocast::is_cpu_enabled();
    s.dtype = at::autocast::get_autocast_cpu_dtype();
  }
#endif
  return s;
}

void SetAutocast(at::DeviceType d, const AutocastState& s) {
#ifdef NT_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(d, s.dtype);
  at::autocast::set_autocast_enabled(d, s.enabled);
#else
  if (d == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(s.dtype);
    at::autocast::set_enabled(s.enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(s.dtype);
    at::autocast::set_cpu_enabled(s.enabled);
  }
#endif
}

at::ScalarType ComputeDtype(const std::string& s, const std::string& where) {
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float16") return at::kHalf;
  if (s == "float32") return at::kFloat;
  throw ArgError(where + " must be 'bfloat16', 'float16' or 'float32' but got '" + s + "'");
}

AutocastScope::AutocastScope(at::DeviceType d, at::ScalarType compute) : d_(d), prev_(GetAutocast(d)) {
#ifndef NT_AUTOCAST_BY_DEVICE
  if (d == at::kCPU && compute == at::kHalf)
    throw ArgError("mixed_float16: libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." +
                   std::to_string(TORCH_VERSION_MINOR) +
                   "'s CPU autocast supports only bfloat16; use the 'mixed_bfloat16' policy on CPU, or "
                   "'mixed_float16' with the model on a CUDA device");
#endif
  AutocastState s;
  s.enabled = Reduced(compute);
  s.dtype = s.enabled ? compute : prev_.dtype;
  SetAutocast(d, s);
}

AutocastScope::~AutocastScope() { SetAutocast(d_, prev_); }

at::Tensor MixedInput(const at::Tensor& x, at::ScalarType compute, const torch::nn::Module* m) {
  if (!Reduced(x.scalar_type())) return x;
  if (compute == at::kFloat) return x.to(at::kFloat);
  if (!m || m->parameters().empty()) return x;
  // autocast lowers the weights of linear layers and convolutions itself
  const std::string name = m->name();
  if (name.find("Linear") != std::string::npos || name.find("Conv") != std::string::npos) return x;
  return x.to(at::kFloat);
}

void RegisterAmp(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
