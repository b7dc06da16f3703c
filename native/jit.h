// TorchScript modules (torch.jit.save from Python, or compiled from source) as JS-owned objects.
// Only a forward declaration of torch::jit::Module here, so files including this header do not
// pay for torch/script.h.
#pragma once
#include <memory>

#include "errors.h"

namespace torch {
namespace jit {
struct Module;
}  // namespace jit
}  // namespace torch

namespace nt {

struct ScriptObject : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "a TorchScript module (nt.jit.load)";
  // null once disposed; a running job holds its own reference, so dispose never frees it under a worker
  std::shared_ptr<torch::jit::Module> module;
  std::string file;  // where it came from, for messages
  // jobs queued or running on this module (shared with them); changed and read on the JS thread only
  std::shared_ptr<int> inflight = std::make_shared<int>(0);
};

void RegisterJit(napi_env env, napi_value exports);

// TorchScript's CPU fuser, decided once at load (jit.cc says why); JitCpuFusion() says what was
// decided, for build_info and `nodetorch info`.
void ConfigureJit();
const std::string& JitCpuFusion();

// Called where a tensor's values are read into JS (tensor_item, tensor_data): while jit.trace
// records on this thread, the trace is refused, as the values would be frozen into it.
void NoteValueRead(const char* what);

}  // namespace nt
