// Native torch::nn modules as JS-owned objects. A later native training loop composes these
// directly (ModuleObject::forward), with no JS in between.
#pragma once
#include <functional>

#include "errors.h"

namespace nt {

// Tensors a forward call takes besides its inputs (attention masks); undefined when absent.
struct ForwardExtras {
  at::Tensor key_padding_mask;
  at::Tensor attn_mask;
  bool need_weights = true;
  bool is_causal = false;  // Keras' MultiHeadAttention useCausalMask
};

struct ModuleObject : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "a native module";
  std::string kind;
  std::shared_ptr<torch::nn::Module> module;
  // Inputs and outputs flattened: an LSTM takes [x, h0?, c0?] and returns [out, h, c].
  std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&, const ForwardExtras&)> forward;
};

// A ModuleObject (what nn_module_create returns) over a module and the forward that runs it.
ModuleObject* NewModuleObject(
    std::string kind, std::shared_ptr<torch::nn::Module> module,
    std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&, const ForwardExtras&)> forward);

// torch::nn::LSTM's and GRU's forwards as one autograd node each, FusedLstmBackward and
// FusedGruBackward (native/rnn.cc), where they apply (one layer, float CPU inputs,
// no autocast, not tracing); nullopt where at::lstm / at::gru should run instead.
c10::optional<std::vector<at::Tensor>> FusedLstmForward(const torch::nn::LSTMImpl& impl,
                                                        const std::vector<at::Tensor>& in);
c10::optional<std::vector<at::Tensor>> FusedGruForward(const torch::nn::GRUImpl& impl,
                                                       const std::vector<at::Tensor>& in);

// Keras' random image layers' module (native/keras_preprocessing.cc), nn_module_create kind "KerasRandomImage".
ModuleObject* MakeRandomImage(const Options& o);
// Keras' Resizing layer's module, kind "KerasResizing".
ModuleObject* MakeResizing(const Options& o);
// Keras' MultiHeadAttention's module (native/keras_attention.cc), kind "KerasMultiHeadAttention".
ModuleObject* MakeKerasAttention(const Options& o);
// Keras' merge layers' module (native/keras_merge.cc), kind "KerasMerge".
ModuleObject* MakeKerasMerge(const Options& o);

// Turns libtorch's oneDNN path off for the process when it gives wrong results (see nn.cc);
// called once at load. OneDnnPolicy() says what was decided, for build_info and `nodetorch info`.
void ConfigureOneDnn();
const std::string& OneDnnPolicy();

}  // namespace nt
