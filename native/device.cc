// Devices, threads, seeding and what this build was made against.
#include <ATen/Version.h>
#include <torch/version.h>

#include "jit.h"
#include "nn.h"
#include "tensor.h"
#include "threads.h"

namespace nt {

std::string CompiledTorchVersion() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// The libtorch actually loaded reports its version in show_config() ("TORCH_VERSION=x.y.z").
std::string RuntimeTorchVersion() {
  std::string cfg = at::show_config();
  size_t p = cfg.find("TORCH_VERSION=");
  if (p == std::string::npos) return "";
  p += 14;
  size_t e = cfg.find_first_of(", \n", p);
  return cfg.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

namespace {

napi_value CudaIsAvailable(napi_env env, napi_callback_info) { return MakeBool(env, torch::cuda::is_available()); }
napi_value CudaDeviceCount(napi_env env, napi_callback_info) {
  return MakeNumber(env, static_cast<double>(torch::cuda::device_count()));
}
napi_value CudnnIsAvailable(napi_env env, napi_callback_info) {
  return MakeBool(env, torch::cuda::cudnn_is_available());
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t n = a.Int(0, "threads");
  if (n < 1 || n > 1024) throw ArgError("expected a thread count between 1 and 1024 but got " + std::to_string(n));
  SetWantedThreads(static_cast<int>(n));  // threads.cc: what fit, predict and forwards start from
  return nullptr;
}
napi_value GetNumThreads(napi_env env, napi_callback_info) {
  return MakeNumber(env, static_cast<double>(WantedThreads()));
}

napi_value ManualSeed(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t s = a.Int(0, "seed");
  if (s < 0) throw ArgError("expected a non-negative seed but got " + std::to_string(s));
  torch::manual_seed(static_cast<uint64_t>(s));
  return nullptr;
}

napi_value BuildInfo(napi_env env, napi_callback_info) {
  napi_value o;
  Check(env, napi_create_object(env, &o));
  Check(env, napi_set_named_property(env, o, "libtorch", MakeString(env, CompiledTorchVersion())));
  Check(env, napi_set_named_property(env, o, "libtorchRuntime", MakeString(env, RuntimeTorchVersion())));
#ifdef NODETORCH_CUDA
  Check(env, napi_set_named_property(env, o, "cudaBuild", MakeBool(env, true)));
#else
  Check(env, napi_set_named_property(env, o, "cudaBuild", MakeBool(env, false)));
#endif
  Check(env, napi_set_named_property(env, o, "config", MakeString(env, at::show_config())));
  Check(env, napi_set_named_property(env, o, "oneDnn", MakeString(env, OneDnnPolicy())));
  Check(env, napi_set_named_property(env, o, "jitCpuFusion", MakeString(env, JitCpuFusion())));
  return o;
}

const Export kExports[] = {
    NT_EXPORT("cuda_is_available", CudaIsAvailable),
    NT_EXPORT("cuda_device_count", CudaDeviceCount),
    NT_EXPORT("cudnn_is_available", CudnnIsAvailable),
    NT_EXPORT("set_num_threads", SetNumThreads),
    NT_EXPORT("get_num_threads", GetNumThreads),
    NT_EXPORT("manual_seed", ManualSeed),
    NT_EXPORT("build_info", BuildInfo),
};

}  // namespace

void RegisterDevice(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
