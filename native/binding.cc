// Module entry: checks the loaded libtorch is the one this addon was built against, then
// registers every domain's exports.
#include <mutex>

#include "amp.h"   // amp: autocast (mixed precision)
#include "aten.h"  // aten: the generic ATen caller
#include "jit.h"
#include "nn.h"  // nn: the oneDNN check
// distributed: c10d process groups and DDP
#include "distributed.h"
#include "tensor.h"
#include "threads.h"  // threads: the adaptive intra-op thread policy

namespace nt {
std::string CompiledTorchVersion();
std::string RuntimeTorchVersion();
}  // namespace nt

namespace {

void Cleanup(void* arg) {
  napi_env env = static_cast<napi_env>(arg);
  nt::EnvStopping(env);
  nt::Table().Clear();
}

napi_value Init(napi_env env, napi_value exports) {
  std::string built = nt::CompiledTorchVersion();
  std::string loaded = nt::RuntimeTorchVersion();
  if (!loaded.empty() && loaded.rfind(built, 0) != 0) {
    std::string msg = "nodetorch was built against libtorch " + built + " but libtorch " + loaded +
                      " was loaded: rebuild with `npx nodetorch build` or point LIBTORCH at libtorch " + built;
    napi_throw_error(env, "ERR_NODETORCH_LIBTORCH_MISMATCH", msg.c_str());
    return nullptr;
  }
  // Only what_without_backtrace() is ever shown; symbolizing a backtrace for every libtorch
  // error would cost 10-20 ms each.
  c10::SetStackTraceFetcher([]() { return std::string(); });
  // Process-wide choices, made once: worker threads load the addon too, and a second oneDNN check
  // would flip the process-wide switch under a computation running on another thread.
  static std::once_flag process_once;
  std::call_once(process_once, [] {
    nt::ConfigureAllocator();
    nt::ConfigureOneDnn();
    nt::ConfigureJit();
  });
  nt::EnvStarted(env);
  napi_add_env_cleanup_hook(env, Cleanup, env);
  nt::RegisterTensor(env, exports);
  nt::RegisterTensorOps(env, exports);
  nt::RegisterAutograd(env, exports);
  nt::RegisterDevice(env, exports);
  nt::RegisterNN(env, exports);
  nt::RegisterOptim(env, exports);
  nt::RegisterModel(env, exports);
  nt::RegisterData(env, exports);
  nt::RegisterJit(env, exports);
  // distributed: c10d process groups and DDP
  nt::RegisterDistributed(env, exports);
  // aten: every ATen operator through the dispatcher (native/aten.cc)
  nt::RegisterAten(env, exports);
  nt::RegisterThreads(env, exports);
  // amp: autocast for mixed precision (native/amp.cc)
  nt::RegisterAmp(env, exports);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
