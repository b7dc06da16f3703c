// torch::nn modules (created from an options object, run by nn_module_forward) and the
// functional ops of torch.nn.functional that are not plain tensor methods (losses, conv, pooling).
#include "nn.h"

#include "tensor.h"

namespace nt {

const napi_type_tag ModuleObject::kTag = {0x6e6f6465746f7263ULL, 0x6e6e6d6f64756c65ULL};

ModuleObject* NewModuleObject(
    std::string kind, std::shared_ptr<torch::nn::Module> module,
    std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&, const ForwardExtras&)> forward) {
  auto* m = new ModuleObject();
  m->kind = std::move(kind);
  m->module = std::move(module);
  m->forward = std::move(forward);
  return m;
}

namespace {

namespace tnn = torch::nn;

using Tensors = std::vector<at::Tensor>;

template <size_t D>
torch::ExpandingArray<D> Expand(const std::vector<int64_t>& v, const char* key, const std::string& where) {
  if (v.size() == 1) return torch::ExpandingArray<D>(v[0]);
  if (v.size() != D)
    throw ArgError(where + ": expected " + key + " to be an integer or " + std::to_string(D) + " integers but got " +
                   std::to_string(v.size()));
  return torch::ExpandingArray<D>(at::IntArrayRef(v));
}

void Positive(int64_t v, const char* key, const std::string& where) {
  if (v <= 0) throw ArgError(where + ": expected " + key + " to be a positive integer but got " + std::to_string(v));
}
void NonNegative(const std::vector<int64_t>& v, const char* key, const std::string& where, bool positive) {
  for (int64_t x : v)
    if (x < 0 || (positive && x == 0))
      throw ArgError(where + ": expected " + key + " to be " + (positive ? "positive" : "non-negative") + " but got " +
                     std::to_string(x));
}
double Probability(double p, const char* key, const std::string& where) {
  if (!(p >= 0 && p <= 1)) throw ArgError(where + ": expected " + key + " in [0, 1] but got " + std::to_string(p));
  return p;
}

template <typename ConvOpts>
ConvOpts ConvOptions(const Options& o, const std::string& where) {
  int64_t in = o.Int("inChannels", 0), out = o.Int("outChannels", 0);
  Positive(in, "inChannels", where);
  Positive(out, "outChannels", where);
  constexpr size_t D = std::is_same<ConvOpts, tnn::Conv1dOptions>::value ? 1 : 2;
  auto k = o.IntList("kernelSize", {});
  if (k.empty()) throw ArgError(where + ": kernelSize is required");
  NonNegative(k, "kernelSize", where, true);
  auto stride = o.IntList("stride", {1}), dilation = o.IntList("dilation", {1});
  NonNegative(stride, "stride", where, true);
  NonNegative(dilation, "dilation", where, true);
  int64_t groups = o.Int("groups", 1);
  Positive(groups, "groups", where);
  if (in % groups || out % groups)
    throw ArgError(where + ": inChannels and outChannels must both be divisible by groups (" + std::to_string(groups) +
                   ")");
  ConvOpts opts(in, out, Expand<D>(k, "kernelSize", where));
  opts.stride(Expand<D>(stride, "stride", where)).dilation(Expand<D>(dilation, "dilation", where)).groups(groups);
  opts.bias(o.Bool("bias", true));
  std::string pad = o.String("paddingString", "");
  if (pad == "same") {
    opts.padding(torch::kSame);
  } else if (pad == "valid") {
    opts.padding(torch::kValid);
  } else if (!pad.empty()) {
    throw ArgError(where + ": padding must be an integer, a list of integers, 'same' or 'valid' but got '" + pad + "'");
  } else {
    auto p = o.IntList("padding", {0});
    NonNegative(p, "padding", where, false);
    opts.padding(Expand<D>(p, "padding", where));
  }
  std::string mode = o.String("paddingMode", "zeros");
  if (mode == "zeros")
    opts.padding_mode(torch::kZeros);
  else if (mode == "reflect")
    opts.padding_mode(torch::kReflect);
  else if (mode == "replicate")
    opts.padding_mode(torch::kReplicate);
  else if (mode == "circular")
    opts.padding_mode(torch::kCircular);
  else
    throw ArgError(where + ": paddingMode must be 'zeros', 'reflect', 'replicate' or 'circular' but got '" + mode +
                   "'");
  return opts;
}

template <typename Opts>
Opts RnnOptions(const Options& o, const std::string& where) {
  int64_t in = o.Int("inputSize", 0), hidden = o.Int("hiddenSize", 0), layers = o.Int("numLayers", 1);
  Positive(in, "inputSize", where);
  Positive(hidden, "hiddenSize", where);
  Positive(layers, "numLayers", where);
  Opts opts(in, hidden);
  opts.num_layers(layers)
      .bias(o.Bool("bias", true))
      .batch_first(o.Bool("batchFirst", false))
      .dropout(Probability(o.Number("dropout", 0), "dropout", where))
      .bidirectional(o.Bool("bidirectional", false));
  return opts;
}

std::vector<at::Tensor> One(at::Tensor t) { return {std::move(t)}; }

// Wraps a typed module holder: the object keeps the holder's impl alive and forwards to it.
template <typename Holder, typename Fwd>
ModuleObject* Make(const std::string& kind, Holder h, Fwd fwd) {
  return NewModuleObject(kind, h.ptr(),
                         [h, fwd](const Tensors& in, const ForwardExtras& ex) mutable { return fwd(*h, in, ex); });
}

template <typename Holder>
ModuleObject* MakeUnary(const std::string& kind, Holder h) {
  return Make(kind, h, [](auto& impl, const Tensors& in, const ForwardExtras&) { return One(impl.forward(in[0])); });
}

ModuleObject* CreateModule(const std::string& kind, const Options& o) {
  const std::string& w = kind;
  if (kind == "Linear") {
    int64_t in = o.Int("inFeatures", 0), out = o.Int("outFeatures", 0);
    Positive(in, "inFeatures", w);
    Positive(out, "outFeatures", w);
    return MakeUnary(kind, tnn::Linear(tnn::LinearOptions(in, out).bias(o.Bool("bias", true))));
  }
  if (kind == "Conv1d") return MakeUnary(kind, tnn::Conv1d(ConvOptions<tnn::Conv1dOptions>(o, w)));
  if (kind == "Conv2d") return MakeUnary(kind, tnn::Conv2d(ConvOptions<tnn::Conv2dOptions>(o, w)));
  if (kind == "MaxPool2d" || kind == "AvgPool2d") {
    auto k = o.IntList("kernelSize", {});
    if (k.empty()) throw ArgError(w + ": kernelSize is required");
    NonNegative(k, "kernelSize", w, true);
    auto stride = o.IntList("stride", k), pad = o.IntList("padding", {0});
    NonNegative(stride, "stride", w, true);
    NonNegative(pad, "padding", w, false);
    auto K = Expand<2>(k, "kernelSize", w), S = Expand<2>(stride, "stride", w), P = Expand<2>(pad, "padding", w);
    for (int i = 0; i < 2; i++)
      if ((*P)[i] * 2 > (*K)[i])
        throw ArgError(w + ": padding should be at most half of kernelSize but got padding " + ShapeString(*P) +
                       " for kernelSize " + ShapeString(*K));
    if (kind == "MaxPool2d") {
      auto d = o.IntList("dilation", {1});
      NonNegative(d, "dilation", w, true);
      return MakeUnary(kind, tnn::MaxPool2d(tnn::MaxPool2dOptions(K)
                                                .stride(S)
                                                .padding(P)
                                                .dilation(Expand<2>(d, "dilation", w))
                                                .ceil_mode(o.Bool("ceilMode", false))));
    }
    return MakeUnary(kind, tnn::AvgPool2d(tnn::AvgPool2dOptions(K)
                                              .stride(S)
                                              .padding(P)
                                              .ceil_mode(o.Bool("ceilMode", false))
                                              .count_include_pad(o.Bool("countIncludePad", true))));
  }
  if (kind == "AdaptiveAvgPool2d") {
    auto s = o.IntList("outputSize", {});
    if (s.empty()) throw ArgError(w + ": outputSize is required");
    NonNegative(s, "outputSize", w, true);
    auto S = Expand<2>(s, "outputSize", w);
    return MakeUnary(kind, tnn::AdaptiveAvgPool2d(tnn::AdaptiveAvgPool2dOptions({(*S)[0], (*S)[1]})));
  }
  if (kind == "BatchNorm1d" || kind == "BatchNorm2d") {
    int64_t n = o.Int("numFeatures", 0);
    Positive(n, "numFeatures", w);
    tnn::BatchNormOptions opts(n);
    opts.eps(o.Number("eps", 1e-5))
        .affine(o.Bool("affine", true))
        .track_running_stats(o.Bool("trackRunningStats", true));
    if (o.Has("momentum")) opts.momentum(Probability(o.Number("momentum", 0.1), "momentum", w));
    if (kind == "BatchNorm1d") return MakeUnary(kind, tnn::BatchNorm1d(opts));
    return MakeUnary(kind, tnn::BatchNorm2d(opts));
  }
  if (kind == "LayerNorm") {
    auto shape = o.IntList("normalizedShape", {});
    if (shape.empty()) throw ArgError(w + ": normalizedShape is required");
    NonNegative(shape, "normalizedShape", w, true);
    return MakeUnary(kind, tnn::LayerNorm(tnn::LayerNormOptions(shape)
                                              .eps(o.Number("eps", 1e-5))
                                              .elementwise_affine(o.Bool("elementwiseAffine", true))));
  }
  if (kind == "Dropout") {
    return MakeUnary(kind, tnn::Dropout(tnn::DropoutOptions(Probability(o.Number("p", 0.5), "p", w))));
  }
  if (kind == "Embedding") {
    int64_t n = o.Int("numEmbeddings", 0), d = o.Int("embeddingDim", 0);
    Positive(n, "numEmbeddings", w);
    Positive(d, "embeddingDim", w);
    tnn::EmbeddingOptions opts(n, d);
    if (o.Has("paddingIdx")) {
      int64_t p = o.Int("paddingIdx", 0);
      if (p < -n || p >= n)
        throw ArgError(w + ": paddingIdx must be within [-" + std::to_string(n) + ", " + std::to_string(n) +
                       ") but got " + std::to_string(p));
      opts.padding_idx(p);
    }
    return MakeUnary(kind, tnn::Embedding(opts));
  }
  if (kind == "RNN") {
    auto opts = RnnOptions<tnn::RNNOptions>(o, w);
    std::string nl = o.String("nonlinearity", "tanh");
    if (nl == "relu")
      opts.nonlinearity(torch::kReLU);
    else if (nl != "tanh")
      throw ArgError(w + ": nonlinearity must be 'tanh' or 'relu' but got '" + nl + "'");
    return Make(kind, tnn::RNN(opts), [](auto& impl, const Tensors& in, const ForwardExtras&) {
      auto r = impl.forward(in[0], in.size() > 1 ? in[1] : at::Tensor());
      return Tensors{std::get<0>(r), std::get<1>(r)};
    });
  }
  if (kind == "GRU") {
    return Make(kind, tnn::GRU(RnnOptions<tnn::GRUOptions>(o, w)),
                [](auto& impl, const Tensors& in, const ForwardExtras&) {
                  if (auto fused = FusedGruForward(impl, in)) return *fused;
                  auto r = impl.forward(in[0], in.size() > 1 ? in[1] : at::Tensor());
                  return Tensors{std::get<0>(r), std::get<1>(r)};
                });
  }
  if (kind == "LSTM") {
    auto opts = RnnOptions<tnn::LSTMOptions>(o, w);
    return Make(kind, tnn::LSTM(opts), [](auto& impl, const Tensors& in, const ForwardExtras&) {
      if (auto fused = FusedLstmForward(impl, in)) return *fused;
      c10::optional<std::tuple<at::Tensor, at::Tensor>> hc;
      if (in.size() > 2) hc = std::make_tuple(in[1], in[2]);
      auto r = impl.forward(in[0], hc);
      return Tensors{std::get<0>(r), std::get<0>(std::get<1>(r)), std::get<1>(std::get<1>(r))};
    });
  }
  if (kind == "MultiheadAttention") {
    int64_t e = o.Int("embedDim", 0), h = o.Int("numHeads", 0);
    Positive(e, "embedDim", w);
    Positive(h, "numHeads", w);
    if (e % h)
      throw ArgError(w + ": embedDim (" + std::to_string(e) + ") must be divisible by numHeads (" + std::to_string(h) +
                     ")");
    tnn::MultiheadAttentionOptions opts(e, h);
    opts.dropout(Probability(o.Number("dropout", 0), "dropout", w))
        .bias(o.Bool("bias", true))
        .add_bias_kv(o.Bool("addBiasKv", false))
        .add_zero_attn(o.Bool("addZeroAttn", false))
        .kdim(o.Int("kdim", e))
        .vdim(o.Int("vdim", e));
    return Make(kind, tnn::MultiheadAttention(opts), [](auto& impl, const Tensors& in, const ForwardExtras& ex) {
      auto r = impl.forward(in[0], in[1], in[2], ex.key_padding_mask, ex.need_weights, ex.attn_mask);
      return Tensors{std::get<0>(r), std::get<1>(r)};
    });
  }
  if (kind == "TransformerEncoderLayer") {
    int64_t d = o.Int("dModel", 0), h = o.Int("nhead", 0), ff = o.Int("dimFeedforward", 2048);
    Positive(d, "dModel", w);
    Positive(h, "nhead", w);
    Positive(ff, "dimFeedforward", w);
    if (d % h)
      throw ArgError(w + ": dModel (" + std::to_string(d) + ") must be divisible by nhead (" + std::to_string(h) + ")");
    tnn::TransformerEncoderLayerOptions opts(d, h);
    opts.dim_feedforward(ff).dropout(Probability(o.Number("dropout", 0.1), "dropout", w));
    std::string act = o.String("activation", "relu");
    if (act == "gelu")
      opts.activation(torch::kGELU);
    else if (act != "relu")
      throw ArgError(w + ": activation must be 'relu' or 'gelu' but got '" + act + "'");
    return Make(kind, tnn::TransformerEncoderLayer(opts), [](auto& impl, const Tensors& in, const ForwardExtras& ex) {
      return One(impl.forward(in[0], ex.attn_mask, ex.key_padding_mask));
    });
  }
  if (kind == "Flatten") {
    return MakeUnary(kind,
                     tnn::Flatten(tnn::FlattenOptions().start_dim(o.Int("startDim", 1)).end_dim(o.Int("endDim", -1))));
  }
  if (kind == "ReLU") return MakeUnary(kind, tnn::ReLU());
  if (kind == "Sigmoid") return MakeUnary(kind, tnn::Sigmoid());
  if (kind == "Tanh") return MakeUnary(kind, tnn::Tanh());
  if (kind == "GELU") {
    std::string approx = o.String("approximate", "none");
    if (approx != "none" && approx != "tanh")
      throw ArgError(w + ": approximate must be 'none' or 'tanh' but got '" + approx + "'");
    return MakeUnary(kind, tnn::GELU(tnn::GELUOptions().approximate(approx)));
  }
  if (kind == "Softmax") return MakeUnary(kind, tnn::Softmax(tnn::SoftmaxOptions(o.Int("dim", -1))));
  if (kind == "KerasRandomImage") return MakeRandomImage(o);
  if (kind == "KerasResizing") return MakeResizing(o);
  if (kind == "KerasMultiHeadAttention") return MakeKerasAttention(o);
  if (kind == "KerasMerge") return MakeKerasMerge(o);
  throw ArgError("unknown module kind '" + kind + "'");
}

napi_value ModuleCreate(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string kind = a.String(0, "kind");
  Options o = a.Opts(1, kind.c_str());
  return WrapObject(env, CreateModule(kind, o), &ModuleObject::kTag);
}

napi_value ModuleForward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  ModuleObject& m = a.Object<ModuleObject>(0, "module");
  Tensors in = a.TensorList(1, "inputs");
  Options o = a.Opts(2, "options");
  ForwardExtras ex;
  if (auto t = o.Tensor("keyPaddingMask")) ex.key_padding_mask = *t;
  if (auto t = o.Tensor("attnMask")) ex.attn_mask = *t;
  ex.need_weights = o.Bool("needWeights", true);
  ex.is_causal = o.Bool("isCausal", false);
  size_t need = m.kind == "MultiheadAttention" ? 3 : m.kind == "KerasMerge" ? 2 : 1;
  if (in.size() < need)
    throw ArgError(m.kind + " forward expected " + std::to_string(need) + " input tensor(s) but got " +
                   std::to_string(in.size()));
  std::shared_ptr<torch::nn::Module> keep = m.module;  // the JS object may be collected during the call
  Tensors out = m.forward(in, ex);
  napi_value arr, null;
  Check(env, napi_get_null(env, &null));
  Check(env, napi_create_array_with_length(env, out.size(), &arr));
  // An output the module did not compute (attention weights with needWeights false) is null.
  for (size_t i = 0; i < out.size(); i++)
    Check(env, napi_set_element(env, arr, i, out[i].defined() ? Wrap(env, out[i]) : null));
  return arr;
}

napi_value NamedTensors(napi_env env, const torch::OrderedDict<std::string, at::Tensor>& d) {
  napi_value arr;
  Check(env, napi_create_array_with_length(env, d.size() * 2, &arr));
  uint32_t i = 0;
  for (const auto& item : d) {
    Check(env, napi_set_element(env, arr, i++, MakeString(env, item.key())));
    Check(env, napi_set_element(env, arr, i++, Wrap(env, item.value())));
  }
  return arr;
}

napi_value ModuleParameters(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return NamedTensors(env, a.Object<ModuleObject>(0, "module").module->named_parameters(true));
}

napi_value ModuleBuffers(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return NamedTensors(env, a.Object<ModuleObject>(0, "module").module->named_buffers(true));
}

napi_value ModuleTrain(napi_env env, napi_callback_info info) {
  Args a(env, info);
  ModuleObject& m = a.Object<ModuleObject>(0, "module");
  m.module->train(a.Bool(1, "on"));
  return nullptr;
}

// ---- functional ----

at::Reduction::Reduction ReadReduction(const Args& a, size_t i) {
  std::string r = a.IsNullish(i) ? "mean" : a.String(i, "reduction");
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  throw ArgError("reduction must be 'none', 'mean' or 'sum' but got '" + r + "'");
}

napi_value Linear(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), wt = a.Tensor(1, "weight");
  const at::Tensor b = a.TensorOrUndefined(2, "bias");
  return Wrap(env, at::linear(x, wt, b));
}

template <int D>
napi_value Conv(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), wt = a.Tensor(1, "weight");
  const at::Tensor b = a.TensorOrUndefined(2, "bias");
  auto stride = a.IntList(3, "stride"), dilation = a.IntList(5, "dilation");
  int64_t groups = a.Int(6, "groups");
  // A huge group count overflows libtorch's channel arithmetic (SIGFPE): check it against the weight first.
  if (groups <= 0 || (wt.dim() > 0 && (groups > wt.size(0) || wt.size(0) % groups)))
    throw ArgError("groups must be a positive integer dividing the weight's output channels but got " +
                   std::to_string(groups) + " for weight " + TensorDesc(wt));
  if (a.Type(4) == napi_string) {
    std::string pad = a.String(4, "padding");
    if (pad != "same" && pad != "valid")
      throw ArgError("padding must be 'same', 'valid' or integers but got '" + pad + "'");
    return Wrap(env, D == 1 ? at::conv1d(x, wt, b, stride, pad, dilation, groups)
                            : at::conv2d(x, wt, b, stride, pad, dilation, groups));
  }
  auto padding = a.IntList(4, "padding");
  return Wrap(env, D == 1 ? at::conv1d(x, wt, b, stride, padding, dilation, groups)
                          : at::conv2d(x, wt, b, stride, padding, dilation, groups));
}

napi_value MaxPool2d(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, at::max_pool2d(x, a.IntList(1, "kernelSize"), a.IntList(2, "stride"), a.IntList(3, "padding"),
                                  a.IntList(4, "dilation"), a.Bool(5, "ceilMode")));
}

napi_value AvgPool2d(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, at::avg_pool2d(x, a.IntList(1, "kernelSize"), a.IntList(2, "stride"), a.IntList(3, "padding"),
                                  a.Bool(4, "ceilMode"), a.Bool(5, "countIncludePad")));
}

napi_value AdaptiveAvgPool2d(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, at::adaptive_avg_pool2d(x, a.IntList(1, "outputSize")));
}

napi_value Dropout(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  double p = a.Number(1, "p");
  if (!(p >= 0 && p <= 1)) throw ArgError("dropout probability must be in [0, 1] but got " + std::to_string(p));
  return Wrap(env, at::dropout(x, p, a.Bool(2, "training")));
}

napi_value LayerNorm(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  auto shape = a.IntList(1, "normalizedShape");
  const at::Tensor wt = a.TensorOrUndefined(2, "weight"), b = a.TensorOrUndefined(3, "bias");
  return Wrap(env, at::layer_norm(x, shape, wt, b, a.Number(4, "eps")));
}

napi_value BatchNorm(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  const at::Tensor rm = a.TensorOrUndefined(1, "runningMean"), rv = a.TensorOrUndefined(2, "runningVar");
  const at::Tensor wt = a.TensorOrUndefined(3, "weight"), b = a.TensorOrUndefined(4, "bias");
  bool training = a.Bool(5, "training");
  if (!training && (!rm.defined() || !rv.defined()))
    throw ArgError("batch_norm in evaluation mode needs runningMean and runningVar");
  return Wrap(env, at::batch_norm(x, wt, b, rm, rv, training, a.Number(6, "momentum"), a.Number(7, "eps"), false));
}

napi_value Embedding(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor wt = a.Tensor(0, "weight"), idx = a.Tensor(1, "input");
  return Wrap(env, at::embedding(wt, idx, a.IntOr(2, "paddingIdx", -1)));
}

napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  const at::Tensor wt = a.TensorOrUndefined(2, "weight");
  return Wrap(env, at::cross_entropy_loss(x, t, wt, ReadReduction(a, 3), a.IntOr(4, "ignoreIndex", -100),
                                          a.IsNullish(5) ? 0.0 : a.Number(5, "labelSmoothing")));
}

napi_value NllLoss(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  const at::Tensor wt = a.TensorOrUndefined(2, "weight");
  return Wrap(env, at::nll_loss_nd(x, t, wt, ReadReduction(a, 3), a.IntOr(4, "ignoreIndex", -100)));
}

napi_value MseLoss(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  return Wrap(env, at::mse_loss(x, t, ReadReduction(a, 2)));
}

napi_value L1Loss(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  return Wrap(env, at::l1_loss(x, t, ReadReduction(a, 2)));
}

napi_value SmoothL1Loss(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  double beta = a.IsNullish(3) ? 1.0 : a.Number(3, "beta");
  if (beta < 0) throw ArgError("smooth_l1_loss: beta must be non-negative but got " + std::to_string(beta));
  return Wrap(env, at::smooth_l1_loss(x, t, ReadReduction(a, 2), beta));
}

napi_value HuberLoss(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  double delta = a.IsNullish(3) ? 1.0 : a.Number(3, "delta");
  if (!(delta > 0)) throw ArgError("huber_loss: delta must be positive but got " + std::to_string(delta));
  return Wrap(env, at::huber_loss(x, t, ReadReduction(a, 2), delta));
}

napi_value BinaryCrossEntropy(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  const at::Tensor wt = a.TensorOrUndefined(2, "weight");
  return Wrap(env, at::binary_cross_entropy(x, t, wt, ReadReduction(a, 3)));
}

napi_value BinaryCrossEntropyWithLogits(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  const at::Tensor wt = a.TensorOrUndefined(2, "weight"), pw = a.TensorOrUndefined(3, "posWeight");
  return Wrap(env, at::binary_cross_entropy_with_logits(x, t, wt, pw, ReadReduction(a, 4)));
}

napi_value KlDiv(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input"), t = a.Tensor(1, "target");
  return Wrap(env, at::kl_div(x, t, ReadReduction(a, 2), a.BoolOr(3, "logTarget", false)));
}

const Export kExports[] = {
    NT_EXPORT("nn_module_create", ModuleCreate),
    NT_EXPORT("nn_module_forward", ModuleForward),
    NT_EXPORT("nn_module_parameters", ModuleParameters),
    NT_EXPORT("nn_module_buffers", ModuleBuffers),
    NT_EXPORT("nn_module_train", ModuleTrain),
    NT_EXPORT("nn_linear", Linear),
    NT_EXPORT("nn_conv1d", Conv<1>),
    NT_EXPORT("nn_conv2d", Conv<2>),
    NT_EXPORT("nn_max_pool2d", MaxPool2d),
    NT_EXPORT("nn_avg_pool2d", AvgPool2d),
    NT_EXPORT("nn_adaptive_avg_pool2d", AdaptiveAvgPool2d),
    NT_EXPORT("nn_dropout", Dropout),
    NT_EXPORT("nn_layer_norm", LayerNorm),
    NT_EXPORT("nn_batch_norm", BatchNorm),
    NT_EXPORT("nn_embedding", Embedding),
    NT_EXPORT("nn_cross_entropy", CrossEntropy),
    NT_EXPORT("nn_nll_loss", NllLoss),
    NT_EXPORT("nn_mse_loss", MseLoss),
    NT_EXPORT("nn_l1_loss", L1Loss),
    NT_EXPORT("nn_smooth_l1_loss", SmoothL1Loss),
    NT_EXPORT("nn_huber_loss", HuberLoss),
    NT_EXPORT("nn_binary_cross_entropy", BinaryCrossEntropy),
    NT_EXPORT("nn_binary_cross_entropy_with_logits", BinaryCrossEntropyWithLogits),
    NT_EXPORT("nn_kl_div", KlDiv),
};

}  // namespace

// ---- oneDNN ----
// Some libtorch builds get numbers wrong on their oneDNN (MKL-DNN) path: Debian 13's libtorch 2.6,
// built on the system's oneDNN 3.7, returns wrong input gradients from convolutions with a batch
// above 1 (NaN or a shifted sum), wrong transposed-convolution outputs, and recurrent forwards
// without autograd that differ from the same forward with it. So at load, a few tiny cases run
// with oneDNN and without; if any differs, oneDNN stays off for the process (the other kernels
// are slower for convolutions, never wrong). NODETORCH_ONEDNN=on or off skips the check.

namespace {
std::string onednn_policy = "not checked";

at::Tensor Ramp(at::IntArrayRef shape, double scale) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return at::sin(at::arange(n, at::kFloat) * scale).reshape(shape);
}

// The results oneDNN is checked on: a convolution's output and input gradient, a transposed
// convolution's output, an LSTM's output without autograd. Inputs are fixed, not random, so
// the check leaves the random generator alone.
std::vector<at::Tensor> OneDnnProbe() {
  std::vector<at::Tensor> r;
  at::Tensor x = Ramp({2, 2, 5, 5}, 0.7).requires_grad_(), w = Ramp({3, 2, 3, 3}, 0.3);
  at::Tensor y = at::conv2d(x, w, {}, 1, 1);
  r.push_back(y.detach());
  r.push_back(torch::autograd::grad({y}, {x}, {Ramp(y.sizes(), 0.5)})[0]);
  r.push_back(at::conv_transpose2d(x.detach(), Ramp({2, 3, 3, 3}, 0.2), {}, 1, 1));
  at::NoGradGuard no_grad;
  const int64_t in = 3, hidden = 2;
  std::vector<at::Tensor> params = {Ramp({4 * hidden, in}, 0.9), Ramp({4 * hidden, hidden}, 1.1),
                                    Ramp({4 * hidden}, 0.4), Ramp({4 * hidden}, 0.6)};
  at::Tensor h0 = at::zeros({1, 2, hidden});
  r.push_back(std::get<0>(at::lstm(Ramp({2, 4, in}, 0.8), {h0, h0}, params, true, 1, 0.0, false, false, true)));
  return r;
}
}  // namespace

void ConfigureOneDnn() {
  if (!at::hasMKLDNN()) {
    onednn_policy = "not in this libtorch";
    return;
  }
  const char* mode = std::getenv("NODETORCH_ONEDNN");
  if (mode && std::string(mode) == "off") {
    at::globalContext().setUserEnabledMkldnn(false);
    onednn_policy = "off (NODETORCH_ONEDNN=off)";
    return;
  }
  if (mode && std::string(mode) == "on") {
    at::globalContext().setUserEnabledMkldnn(true);
    onednn_policy = "on (NODETORCH_ONEDNN=on, not checked)";
    return;
  }
  try {
    at::globalContext().setUserEnabledMkldnn(true);
    std::vector<at::Tensor> with = OneDnnProbe();
    at::globalContext().setUserEnabledMkldnn(false);
    std::vector<at::Tensor> without = OneDnnProbe();
    for (size_t i = 0; i < with.size(); i++) {
      if (!at::allclose(with[i], without[i], 1e-4, 1e-4)) {
        onednn_policy =
            "off: this libtorch's oneDNN gave wrong results at load (set NODETORCH_ONEDNN=on to use it anyway)";
        return;
      }
    }
    at::globalContext().setUserEnabledMkldnn(true);
    onednn_policy = "on (checked at load)";
  } catch (const std::exception& e) {
    at::globalContext().setUserEnabledMkldnn(false);
    onednn_policy = std::string("off: its check at load failed (") + e.what() + ")";
  }
}

const std::string& OneDnnPolicy() { return onednn_policy; }

void RegisterNN(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
