// The native training loop: a Keras-style model of built-in layers runs a whole epoch (shuffle,
// batches, forward, loss, backward, optimizer step, metrics) in libtorch on the runner thread the
// addon owns (Runner, below), with one JS call per epoch. Progress reaches JS through a thread-safe
// function; JS can stop the loop between batches, or have it wait for batch callbacks. Each built-in
// Keras layer's forward is a Step here, which the layer's eager call runs too (keras_step_forward).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "amp.h"
#include "nn.h"
#include "optim.h"
#include "tensor.h"
#include "threads.h"

namespace nt {
namespace {

using Tensors = std::vector<at::Tensor>;

enum class Act { kLinear, kRelu, kSigmoid, kTanh, kSoftmax, kGelu, kElu, kSelu, kSwish, kLeakyRelu, kSoftplus };

Act ParseAct(const std::string& s) {
  if (s == "linear" || s.empty()) return Act::kLinear;
  if (s == "relu") return Act::kRelu;
  if (s == "sigmoid") return Act::kSigmoid;
  if (s == "tanh") return Act::kTanh;
  if (s == "softmax") return Act::kSoftmax;
  if (s == "gelu") return Act::kGelu;
  if (s == "elu") return Act::kElu;
  if (s == "selu") return Act::kSelu;
  if (s == "swish" || s == "silu") return Act::kSwish;
  if (s == "leaky_relu") return Act::kLeakyRelu;
  if (s == "softplus") return Act::kSoftplus;
  throw ArgError("unknown activation '" + s +
                 "': expected relu, sigmoid, tanh, softmax, gelu, elu, selu, swish, leaky_relu, softplus or linear");
}

at::Tensor Apply(Act a, const at::Tensor& x) {
  switch (a) {
    case Act::kLinear: return x;
    case Act::kRelu: return at::relu(x);
    case Act::kSigmoid: return at::sigmoid(x);
    case Act::kTanh: return at::tanh(x);
    case Act::kSoftmax: return at::softmax(x, -1);
    case Act::kGelu: return at::gelu(x);
    case Act::kElu: return at::elu(x);
    case Act::kSelu: return at::selu(x);
    case Act::kSwish: return at::silu(x);
    case Act::kLeakyRelu: return at::leaky_relu(x, 0.2);  // Keras 3's default negative_slope
    case Act::kSoftplus: return at::softplus(x);
  }
  return x;
}

// One Keras layer as the loop runs it: an optional torch::nn module between layout changes,
// then an activation. Channels-last inputs become NCHW views for libtorch's convolutions.
struct Step {
  std::shared_ptr<torch::nn::Module> keep;
  std::function<Tensors(const Tensors&, const ForwardExtras&)> forward;
  int64_t pre = 0, post = 0;  // 1: channels-last -> channels-first, 2: back
  Act act = Act::kLinear;
  std::vector<int64_t> reshape;  // per-sample shape (Flatten: {-1})
  bool lastStep = false;         // recurrent layer without returnSequences: keep the last time step
  bool castFloat = false;        // integer inputs (uint8 images) become float32
  double actL1 = 0, actL2 = 0;   // activity regularizer on the layer's output

  bool castLong = false;            // embedding indices (int32, float) become int64
  bool flipTime = false;            // go_backwards: the module sees the sequence reversed along dim 1
  bool finalHidden = false;         // take the module's final hidden state [dirs, N, H] as [N, dirs * H]
  int merge = 0;                    // bidirectional halves of the last dim: 0 concat, 1 sum, 2 mul, 3 ave
  std::vector<int64_t> reduceDims;  // global pooling: mean (or max) over these dims
  bool reduceMax = false, keepDims = false;
  int64_t indexLimit = 0;             // embedding: indices must lie in [0, indexLimit)
  std::vector<double> scale, offset;  // Rescaling: x * scale + offset (one number, or one per channel)
  // mixed precision (native/amp.cc): the layer's compute dtype under a Keras dtype policy
  c10::optional<at::ScalarType> compute;
};

at::Tensor ToFirst(const at::Tensor& x) {
  if (x.dim() == 4) return x.permute({0, 3, 1, 2});
  if (x.dim() == 3) return x.permute({0, 2, 1});
  return x;
}
at::Tensor ToLast(const at::Tensor& x) {
  if (x.dim() == 4) return x.permute({0, 2, 3, 1});
  if (x.dim() == 3) return x.permute({0, 2, 1});
  return x;
}

// Rescaling's scale or offset as an operand for x: a per-channel list must match x's last dimension.
at::Tensor RescaleOperand(const at::Tensor& x, const std::vector<double>& v, const char* name) {
  if (x.dim() == 0 || x.size(-1) != static_cast<int64_t>(v.size()))
    throw ArgError(std::string("Rescaling: ") + name + " has " + std::to_string(v.size()) +
                   " values but the inputs have " + (x.dim() ? std::to_string(x.size(-1)) : std::string("no")) +
                   " channels (the last dimension)");
  return at::tensor(v, x.options().dtype(at::kDouble)).to(x.scalar_type());
}

// penalty (when given) accumulates the activity regularizers, divided by the batch size as Keras does.
at::Tensor Forward(const std::vector<Step>& steps, at::Tensor x, at::Tensor* penalty = nullptr) {
  ForwardExtras none;
  for (const Step& s : steps) {
    c10::optional<AutocastScope> mixed;  // mixed precision: this layer's compute dtype
    if (s.compute) {
      mixed.emplace(x.device().type(), *s.compute);
      x = MixedInput(x, *s.compute, s.keep.get());
    }
    if (s.castFloat && !at::isFloatingType(x.scalar_type())) x = x.to(at::kFloat);
    if (s.castLong && x.scalar_type() != at::kLong) x = x.to(at::kLong);
    if (!s.scale.empty()) {
      x = s.scale.size() == 1 ? x.mul(s.scale[0]) : x.mul(RescaleOperand(x, s.scale, "scale"));
      if (s.offset.size() > 1)
        x = x.add(RescaleOperand(x, s.offset, "offset"));
      else if (!s.offset.empty() && s.offset[0] != 0)
        x = x.add(s.offset[0]);
    }
    if (s.indexLimit > 0 && x.numel() > 0) {
      int64_t lo = x.min().item<int64_t>(), hi = x.max().item<int64_t>();
      if (lo < 0 || hi >= s.indexLimit)
        throw ArgError("Embedding: input indices must be in [0, " + std::to_string(s.indexLimit) +
                       ") (inputDim) but range from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    if (!s.reshape.empty()) {
      std::vector<int64_t> shape{x.size(0)};
      shape.insert(shape.end(), s.reshape.begin(), s.reshape.end());
      x = x.reshape(shape);
    }
    if (s.pre == 1) x = ToFirst(x);
    if (s.flipTime) x = x.flip({1});
    if (s.forward && s.finalHidden) {
      at::Tensor h = s.forward({x}, none).at(1);
      x = h.transpose(0, 1).reshape({h.size(1), -1});
    } else if (s.forward) {
      x = s.forward({x}, none)[0];
    }
    if (s.lastStep) x = x.select(1, -1);
    if (s.merge != 0) {
      Tensors halves = x.chunk(2, -1);
      x = s.merge == 1 ? halves[0] + halves[1] : s.merge == 2 ? halves[0] * halves[1] : (halves[0] + halves[1]) / 2;
    }
    if (!s.reduceDims.empty())
      x = s.reduceMax ? at::amax(x, s.reduceDims, s.keepDims) : x.mean(s.reduceDims, s.keepDims);
    // An elementwise activation runs before the permute back to channels-last, on the layer's
    // contiguous output: on the permuted view libtorch takes a slow strided path (and backward too).
    if (s.post == 2 && s.act != Act::kSoftmax) {
      x = ToLast(Apply(s.act, x));
    } else {
      if (s.post == 2) x = ToLast(x);
      x = Apply(s.act, x);
    }
    if (penalty && (s.actL1 != 0 || s.actL2 != 0)) {
      at::Tensor p = (x.abs().sum() * s.actL1 + x.square().sum() * s.actL2) / static_cast<double>(x.size(0));
      *penalty = penalty->defined() ? *penalty + p : p;
    }
  }
  return x;
}

enum class Loss { kSparseCE, kCategoricalCE, kBinaryCE, kMse, kMae, kHuber };

Loss ParseLoss(const std::string& s) {
  if (s == "sparse_categorical_crossentropy") return Loss::kSparseCE;
  if (s == "categorical_crossentropy") return Loss::kCategoricalCE;
  if (s == "binary_crossentropy") return Loss::kBinaryCE;
  if (s == "mse" || s == "mean_squared_error") return Loss::kMse;
  if (s == "mae" || s == "mean_absolute_error") return Loss::kMae;
  if (s == "huber") return Loss::kHuber;
  throw ArgError("unknown loss '" + s + "'");
}

// Per-sample losses, [N]. With fromLogits the model's last softmax/sigmoid was left out so the
// loss is computed stably from logits (log-softmax, BCE with logits).
at::Tensor PerSample(Loss l, bool fromLogits, const at::Tensor& out, const at::Tensor& y) {
  if (l != Loss::kSparseCE && y.numel() != out.numel())
    throw ArgError("the loss needs a target of the output's shape " + TensorDesc(out) + " but the target is " +
                   TensorDesc(y));
  using R = at::Reduction::Reduction;
  const R none = at::Reduction::None;
  auto flatMean = [](const at::Tensor& t) { return t.dim() > 1 ? t.flatten(1).mean(1) : t; };
  switch (l) {
    case Loss::kSparseCE: {
      at::Tensor logp = fromLogits ? at::log_softmax(out, -1) : at::log(out.clamp_min(1e-7));
      at::Tensor target = y.dim() == out.dim() ? y.squeeze(-1) : y;
      if (logp.dim() > 2) {  // [N, L, C] sequences: classes last, as Keras
        return at::nll_loss_nd(logp.transpose(1, -1), target.to(at::kLong), {}, none).flatten(1).mean(1);
      }
      return at::nll_loss(logp, target.to(at::kLong), {}, none);
    }
    case Loss::kCategoricalCE: {
      at::Tensor logp = fromLogits ? at::log_softmax(out, -1) : at::log(out.clamp(1e-7, 1 - 1e-7));
      return flatMean(-(y.to(logp.scalar_type()) * logp).sum(-1));
    }
    case Loss::kBinaryCE: {
      at::Tensor t = y.to(out.scalar_type()).reshape(out.sizes());
      at::Tensor e = fromLogits ? at::binary_cross_entropy_with_logits(out, t, {}, {}, none)
                                : at::binary_cross_entropy(out.clamp(1e-7, 1 - 1e-7), t, {}, none);
      return flatMean(e);
    }
    case Loss::kMse: return flatMean(at::mse_loss(out, y.to(out.scalar_type()).reshape(out.sizes()), none));
    case Loss::kMae: return flatMean(at::l1_loss(out, y.to(out.scalar_type()).reshape(out.sizes()), none));
    case Loss::kHuber: return flatMean(at::huber_loss(out, y.to(out.scalar_type()).reshape(out.sizes()), none, 1.0));
  }
  return out;
}

napi_value NumberArray(napi_env env, const std::vector<double>& v) {
  napi_value arr;
  napi_create_array_with_length(env, v.size(), &arr);
  for (size_t k = 0; k < v.size(); k++) napi_set_element(env, arr, k, MakeNumber(env, v[k]));
  return arr;
}

enum class Metric { kSparseAcc, kCategoricalAcc, kBinaryAcc, kMae, kMse, kPrecision, kRecall, kAuc };

Metric ParseMetric(const std::string& s) {
  if (s == "sparse_categorical_accuracy") return Metric::kSparseAcc;
  if (s == "categorical_accuracy") return Metric::kCategoricalAcc;
  if (s == "binary_accuracy") return Metric::kBinaryAcc;
  if (s == "mae") return Metric::kMae;
  if (s == "mse") return Metric::kMse;
  if (s == "precision") return Metric::kPrecision;
  if (s == "recall") return Metric::kRecall;
  if (s == "auc") return Metric::kAuc;
  throw ArgError("unknown metric '" + s + "'");
}

std::vector<Metric> ReadMetrics(napi_env env, napi_value arr) {
  std::vector<napi_value> items;
  if (!ArrayElements(env, arr, &items)) throw ArgError("metrics must be an array of at most 64 metric names");
  std::vector<Metric> out;
  for (napi_value e : items) {
    size_t len = 0;
    char buf[64];
    if (napi_get_value_string_utf8(env, e, buf, sizeof buf, &len) != napi_ok) throw ArgError("metrics must be strings");
    out.push_back(ParseMetric(std::string(buf, len)));
  }
  return out;
}

// Keras' AUC: 200 thresholds, (i+1)/199 for i < 198, plus one just below 0 and one just above 1.
constexpr int64_t kAucThresholds = 200;

// How many numbers a metric accumulates over an epoch: a sum for the per-sample means, true and
// false positives/negatives for precision and recall, and those at each threshold for AUC.
size_t MetricStateSize(Metric m) {
  switch (m) {
    case Metric::kPrecision:
    case Metric::kRecall: return 2;
    case Metric::kAuc: return 4 * kAucThresholds;
    default: return 1;
  }
}

// The model's output as probabilities: with fromLogits the last sigmoid/softmax was fused into the loss.
at::Tensor Probabilities(Loss l, bool fromLogits, const at::Tensor& out) {
  if (!fromLogits) return out;
  return l == Loss::kBinaryCE ? out.sigmoid() : out.softmax(-1);
}

// Keras' confusion-matrix metrics compare every output element to its label; integer class labels
// against several outputs are one-hot encoded first (Keras itself needs one-hot labels there).
at::Tensor BinaryTargets(const at::Tensor& out, const at::Tensor& y) {
  if (out.dim() >= 1 && out.size(-1) > 1 && y.numel() * out.size(-1) == out.numel())
    return at::one_hot(y.reshape(out.sizes().slice(0, out.dim() - 1)).to(at::kLong), out.size(-1)).gt(0);
  if (y.numel() != out.numel())
    throw ArgError("precision/recall/auc need one label per output element, but the output is " + TensorDesc(out) +
                   " and the target " + TensorDesc(y));
  return y.reshape(out.sizes()).gt(0.5);
}

// Adds one batch to a metric's state (see MetricStateSize).
void MetricUpdate(Metric m, Loss l, bool fromLogits, const at::Tensor& out, const at::Tensor& y, double* acc) {
  auto perSampleSum = [](const at::Tensor& t) {
    at::Tensor d = t.to(at::kDouble);
    return (d.dim() > 1 ? d.flatten(1).mean(1) : d).sum().item<double>();
  };
  switch (m) {
    case Metric::kSparseAcc: {
      at::Tensor t = y.dim() == out.dim() ? y.squeeze(-1) : y;
      acc[0] += perSampleSum(out.argmax(-1).eq(t.to(at::kLong)));
      return;
    }
    case Metric::kCategoricalAcc: acc[0] += perSampleSum(out.argmax(-1).eq(y.argmax(-1))); return;
    case Metric::kBinaryAcc: {
      at::Tensor pred = fromLogits ? out.gt(0) : out.gt(0.5);
      acc[0] += perSampleSum(pred.eq(y.reshape(out.sizes()).gt(0.5)));
      return;
    }
    case Metric::kMae:
    case Metric::kMse: {
      at::Tensor d = (out - y.to(out.scalar_type()).reshape(out.sizes())).to(at::kDouble);
      acc[0] += perSampleSum(m == Metric::kMae ? d.abs() : d.square());
      return;
    }
    case Metric::kPrecision:
    case Metric::kRecall: {
      at::Tensor t = BinaryTargets(out, y);
      at::Tensor p = Probabilities(l, fromLogits, out).gt(0.5);
      double tp = (p & t).sum().item<double>();
      acc[0] += tp;
      acc[1] += (m == Metric::kPrecision ? p : t).sum().item<double>() - tp;  // false positives / negatives
      return;
    }
    case Metric::kAuc: {
      at::Tensor t = BinaryTargets(out, y).flatten();
      at::Tensor p = Probabilities(l, fromLogits, out).flatten().to(at::kDouble);
      std::vector<double> th(kAucThresholds);
      for (int64_t i = 0; i < kAucThresholds; i++) th[i] = static_cast<double>(i) / (kAucThresholds - 1);
      th.front() = -1e-7;
      th.back() = 1 + 1e-7;
      at::Tensor bounds = at::tensor(th, at::TensorOptions().dtype(at::kDouble)).to(p.device());
      // bucket k = how many thresholds lie strictly below the prediction; predicted positive at
      // threshold i when k > i
      at::Tensor k = at::bucketize(p, bounds, /*out_int32=*/false, /*right=*/false);
      auto above = [&](const at::Tensor& sel) {
        at::Tensor h = at::bincount(k.masked_select(sel), {}, kAucThresholds + 1).to(at::kDouble);
        at::Tensor suffix = h.flip({0}).cumsum(0).flip({0});  // suffix[i] = count with k >= i
        return suffix.narrow(0, 1, kAucThresholds).contiguous();
      };
      at::Tensor tp = above(t).cpu(), fp = above(~t).cpu();
      double pos = t.sum().item<double>(), neg = static_cast<double>(t.numel()) - pos;
      const double* tpd = tp.data_ptr<double>();
      const double* fpd = fp.data_ptr<double>();
      for (int64_t i = 0; i < kAucThresholds; i++) {
        acc[i] += tpd[i];                             // true positives
        acc[kAucThresholds + i] += fpd[i];            // false positives
        acc[2 * kAucThresholds + i] += neg - fpd[i];  // true negatives
        acc[3 * kAucThresholds + i] += pos - tpd[i];  // false negatives
      }
      return;
    }
  }
}

// The metric's value from its state after `samples` samples.
double MetricValue(Metric m, const double* acc, double samples) {
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  switch (m) {
    case Metric::kPrecision:
    case Metric::kRecall: return ratio(acc[0], acc[0] + acc[1]);
    case Metric::kAuc: {
      // ROC area by Keras' interpolation (trapezoids between neighbouring thresholds)
      const double *tp = acc, *fp = acc + kAucThresholds, *tn = acc + 2 * kAucThresholds,
                   *fn = acc + 3 * kAucThresholds;
      double area = 0;
      for (int64_t i = 0; i + 1 < kAucThresholds; i++) {
        double tpr0 = ratio(tp[i], tp[i] + fn[i]), tpr1 = ratio(tp[i + 1], tp[i + 1] + fn[i + 1]);
        double fpr0 = ratio(fp[i], fp[i] + tn[i]), fpr1 = ratio(fp[i + 1], fp[i + 1] + tn[i + 1]);
        area += (fpr0 - fpr1) * (tpr0 + tpr1) / 2;
      }
      return std::min(area, 1.0);  // rounding can leave a sum of exactly-1 areas at 1 + 1 ulp
    }
    default: return ratio(acc[0], samples);
  }
}

// The metrics of one run: their kinds and flat state.
struct MetricSet {
  std::vector<Metric> kinds;
  std::vector<size_t> offset;
  std::vector<double> state;
  void Add(Metric m) {
    kinds.push_back(m);
    offset.push_back(state.size());
    state.resize(state.size() + MetricStateSize(m), 0.0);
  }
  void Reset() { std::fill(state.begin(), state.end(), 0.0); }
  void Update(Loss l, bool fromLogits, const at::Tensor& out, const at::Tensor& y) {
    for (size_t k = 0; k < kinds.size(); k++) MetricUpdate(kinds[k], l, fromLogits, out, y, &state[offset[k]]);
  }
  std::vector<double> Values(int64_t samples) const {
    std::vector<double> v;
    for (size_t k = 0; k < kinds.size(); k++)
      v.push_back(MetricValue(kinds[k], &state[offset[k]], static_cast<double>(std::max<int64_t>(samples, 1))));
    return v;
  }
};

// A model's handle on its runs: stops a loop between batches, lets it wait for JS batch callbacks
// (acked), and carries the model's thread tuner.
struct RunToken : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "a training run token";
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acked{-1};
  ThreadTuner tuner;
};
const napi_type_tag RunToken::kTag = {0x72756e746f6b656eULL, 0x1c2b3a4958677685ULL};

// Keras' metric state (update/result/reset) with the loss tracker, kept natively across batches
// and calls: the native loop and the JS path add to the same object.
struct MetricState : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "a metric state";
  std::mutex m;
  MetricSet set;
  double lossSum = 0;
  int64_t samples = 0;
  void Reset() {
    set.Reset();
    lossSum = 0;
    samples = 0;
  }
  void Update(Loss l, bool fromLogits, const at::Tensor& out, const at::Tensor& y, double loss, int64_t n) {
    at::NoGradGuard g;
    at::Tensor o = out.detach();
    std::lock_guard<std::mutex> lk(m);
    set.Update(l, fromLogits, o, y);
    lossSum += loss * static_cast<double>(n);
    samples += n;
  }
  double MeanLoss() const { return lossSum / static_cast<double>(std::max<int64_t>(samples, 1)); }
};
const napi_type_tag MetricState::kTag = {0x6d65747269637374ULL, 0x8a7b6c5d4e3f2a1bULL};

// The one batch order for shuffled epochs, whether batches run natively or from JS.
at::Tensor BatchOrder(int64_t n) { return at::randperm(n, at::TensorOptions().dtype(at::kLong)); }

struct Penalty {
  at::Tensor w;
  double l1 = 0, l2 = 0;
};

struct Progress {
  int64_t batch;
  int64_t samples;
  double loss;  // running mean over the epoch so far
  std::vector<double> metrics;
};

enum class Mode { kTrain, kEvaluate, kPredict };

// Thread tuners for predict and evaluate, per model (its first module) and mode: serving calls
// predict once per request batch, so the choice must outlive one run. Entries of freed models are
// dropped as the table grows; a live run's entry is never dropped (its steps keep the module).
ThreadTuner* InferenceTuner(const std::vector<Step>& steps, Mode mode) {
  static std::mutex m;
  static std::unordered_map<uintptr_t, std::pair<std::weak_ptr<torch::nn::Module>, ThreadTuner>> table;
  const Step* first = nullptr;
  for (const Step& s : steps)
    if (s.keep) {
      first = &s;
      break;
    }
  if (!first) return nullptr;
  const uintptr_t key = reinterpret_cast<uintptr_t>(first->keep.get()) ^ static_cast<uintptr_t>(mode);
  std::lock_guard<std::mutex> lk(m);
  if (table.size() > 256)
    for (auto it = table.begin(); it != table.end();) it = it->second.first.expired() ? table.erase(it) : std::next(it);
  auto it = table.find(key);
  if (it == table.end() || it->second.first.expired())
    it =
        table.insert_or_assign(key, std::make_pair(std::weak_ptr<torch::nn::Module>(first->keep), ThreadTuner())).first;
  return &it->second.second;
}

struct Job {
  Mode mode;
  std::vector<Step> steps;
  at::Tensor x, y, sampleWeight;
  // the model's device: batches are copied there, predictions come back to the input's device
  c10::optional<at::Device> device;
  Loss loss = Loss::kMse;
  bool fromLogits = false;
  MetricState* ms = nullptr;  // the caller's (options.metricState) or ownMs
  std::unique_ptr<MetricState> ownMs;
  std::vector<Penalty> penalties;
  int64_t batchSize = 32;
  bool shuffle = false;
  int64_t maxBatches = -1;
  bool waitEachBatch = false;
  // Without batch callbacks, progress is posted at most this often: on 2 cores every JS wake-up
  // competes with libtorch's threads.
  double progressEveryMs = 0;
  int threads = 1;
  bool autoThreads = true;
  int64_t plannedBatches = 0;         // batches the caller expects over the whole fit (thread tuning)
  std::vector<double> learningRates;  // per batch of this run, when a schedule drives the rate
  bool checkFinite = false;           // refuse NaN/infinity in x and float y before the first batch
  bool endOnNonFinite = true;         // false in a distributed fit: every rank runs every batch's allreduce
  NativeOptimizer* opt = nullptr;
  RunToken* token = nullptr;
  // where the run is (runner thread)
  bool begun = false, ended = false;
  ThreadTuner* tuner = nullptr;  // the thread choice for this run's batches; null: j.threads
  int64_t start = 0, b = 0, waitFor = -1;
  at::Tensor order;
  Tensors outputs;
  std::chrono::steady_clock::time_point lastPost;
  // results
  int64_t batches = 0;
  bool stopped = false;
  bool nonFinite = false;
  at::Tensor predictions;
  std::string error;
  // JS side (main thread)
  napi_deferred deferred = nullptr;
  napi_ref progressFn = nullptr;
  std::vector<napi_ref> refs;  // optimizer, token, metric state: kept alive while the runner uses them
  std::vector<std::unique_ptr<Progress>> progressOut;  // posted to JS after the batch (runner thread)
};

// A model's output under mixed precision becomes float32 for the loss and metrics, as Keras does.
at::Tensor FullPrecision(const at::Tensor& out) {
  return out.scalar_type() == at::kBFloat16 || out.scalar_type() == at::kHalf ? out.to(at::kFloat) : out;
}

void SetTraining(const std::vector<Step>& steps, bool on) {
  for (const Step& s : steps)
    if (s.keep) s.keep->train(on);
}

// A sum is cheap and turns non-finite if any element is; only then are samples searched.
void CheckFinite(const at::Tensor& t, const char* name, Mode mode) {
  if (!t.defined() || !t.is_floating_point() || t.numel() == 0 || std::isfinite(t.sum().item<double>())) return;
  at::Tensor badRows = t.dim() > 1 ? t.isfinite().logical_not().flatten(1).any(1) : t.isfinite().logical_not();
  if (!badRows.any().item<bool>()) return;  // the sum overflowed; every value is finite
  int64_t first = badRows.to(at::kLong).argmax().item<int64_t>();
  throw std::runtime_error(std::string(mode == Mode::kTrain ? "fit" : "evaluate") + ": " + name +
                           " contains NaN or infinity (first in sample " + std::to_string(first) +
                           "); clean or impute the data first");
}

void SetLearningRate(NativeOptimizer* o, double lr) {
  std::lock_guard<std::mutex> lk(o->mu);
  for (auto& g : o->opt->param_groups()) g.options().set_lr(lr);
}

void Begin(Job& j) {
  if (j.checkFinite) {
    CheckFinite(j.x, "x", j.mode);
    CheckFinite(j.y, "y", j.mode);
  }
  const int64_t n = j.x.size(0);
  if (j.shuffle) j.order = BatchOrder(n);
  if (j.ownMs) j.ownMs->Reset();
  j.lastPost = std::chrono::steady_clock::now() - std::chrono::hours(1);
  const int64_t here = j.maxBatches >= 0 ? std::min(j.maxBatches, (n + j.batchSize - 1) / j.batchSize)
                                         : (n + j.batchSize - 1) / j.batchSize;
  // a short fit would spend most of its batches measuring
  const int64_t planned = std::max(here, j.plannedBatches);
  if (!j.autoThreads || j.threads <= 1) return;
  if (j.mode == Mode::kTrain) {
    if (j.token && (j.token->tuner.Started() ||
                    planned >= 4 * (ThreadTuner::kWarm + 2 * (ThreadTuner::kSettle + ThreadTuner::kLen))))
      j.tuner = &j.token->tuner;
  } else {
    j.tuner = InferenceTuner(j.steps, j.mode);
  }
}

// Runs the next batch of j; false when the run is over (nothing was run).
bool NextBatch(Job& j) {
  const int64_t n = j.x.size(0);
  if (j.ended || j.start >= n || (j.maxBatches >= 0 && j.b >= j.maxBatches)) return false;
  if (j.token && j.token->stop.load()) {
    j.stopped = true;
    return false;
  }
  const bool train = j.mode == Mode::kTrain;
  c10::optional<at::NoGradGuard> nograd;
  if (!train) nograd.emplace();
  SetTraining(j.steps, train);
  const int want = j.tuner ? j.tuner->Next(j.threads) : LoadCapped(j.threads);
  SetThreadsHere(want);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t len = std::min(j.batchSize, n - j.start), b = j.b;
  at::Tensor xb, yb, wb;
  if (j.shuffle) {
    at::Tensor idx = j.order.narrow(0, j.start, len);
    xb = j.x.index_select(0, idx);
    if (j.y.defined()) yb = j.y.index_select(0, idx);
    if (j.sampleWeight.defined()) wb = j.sampleWeight.index_select(0, idx);
  } else {
    xb = j.x.narrow(0, j.start, len);
    if (j.y.defined()) yb = j.y.narrow(0, j.start, len);
    if (j.sampleWeight.defined()) wb = j.sampleWeight.narrow(0, j.start, len);
  }
  j.start += j.batchSize;
  j.b++;
  if (j.device && *j.device != xb.device()) {
    xb = xb.to(*j.device, /*non_blocking=*/true);
    if (yb.defined()) yb = yb.to(*j.device, /*non_blocking=*/true);
    if (wb.defined()) wb = wb.to(*j.device, /*non_blocking=*/true);
  }
  if (j.mode == Mode::kPredict) {
    j.outputs.push_back(FullPrecision(Forward(j.steps, xb)).to(j.x.device()));
    // per sample: a server's batches vary in size
    if (j.tuner)
      j.tuner->Record(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                      static_cast<double>(len));
    j.batches++;
    return true;
  }
  if (train && j.opt) {
    if (static_cast<size_t>(b) < j.learningRates.size()) SetLearningRate(j.opt, j.learningRates[b]);
    j.opt->ZeroGrad(true);
  }
  at::Tensor activity;
  at::Tensor out = FullPrecision(Forward(j.steps, xb, &activity));
  at::Tensor per = PerSample(j.loss, j.fromLogits, out, yb);
  // Keras' sum_over_batch_size: weighted losses summed, divided by the batch size.
  at::Tensor loss = wb.defined() ? (per * wb.to(per.scalar_type())).sum() / static_cast<double>(len) : per.mean();
  at::Tensor total = activity.defined() ? loss + activity : loss;
  for (const Penalty& p : j.penalties) {
    if (p.l1 != 0) total = total + p.w.abs().sum() * p.l1;
    if (p.l2 != 0) total = total + p.w.square().sum() * p.l2;
  }
  double lv = total.item<double>();
  if (!std::isfinite(lv)) j.nonFinite = true;
  if (train) {
    LossForBackward(j.opt, total).backward();  // scaled when the optimizer scales losses (float16)
    if (j.opt) j.opt->Step();
  }
  j.ms->Update(j.loss, j.fromLogits, out, yb, lv, len);
  if (j.tuner)
    j.tuner->Record(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                    static_cast<double>(len));
  j.batches++;
  const bool last = j.start >= n || (j.maxBatches >= 0 && j.b >= j.maxBatches);
  const auto now = std::chrono::steady_clock::now();
  const bool post =
      j.progressFn && (j.waitEachBatch || last || j.nonFinite ||
                       std::chrono::duration<double, std::milli>(now - j.lastPost).count() >= j.progressEveryMs);
  if (post) {
    j.lastPost = now;
    std::vector<double> values;
    int64_t samples;
    double mean;
    {
      std::lock_guard<std::mutex> lk(j.ms->m);
      values = j.ms->set.Values(j.ms->samples);
      samples = j.ms->samples;
      mean = j.ms->MeanLoss();
    }
    j.progressOut.emplace_back(new Progress{b, samples, mean, std::move(values)});
    if (j.waitEachBatch && j.token) j.waitFor = b;
  }
  if (j.nonFinite && train && j.endOnNonFinite)
    j.ended = true;  // the JS side reports it (TerminateOnNaN) after the epoch
  return true;
}

void Finish(Job& j) {
  if (j.mode == Mode::kPredict && j.error.empty())
    j.predictions = j.outputs.empty() ? at::Tensor() : at::cat(j.outputs, 0);
  j.outputs.clear();
  SetTraining(j.steps, false);
}

// Settles the run's promise on the JS thread and lets go of what it held.
void Complete(napi_env env, Job& j) {
  if (j.progressFn) napi_delete_reference(env, j.progressFn);
  for (napi_ref r : j.refs) napi_delete_reference(env, r);
  napi_value result = nullptr;
  if (!j.error.empty()) {
    std::string msg = j.error;
    size_t nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    napi_value m;
    napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
    napi_create_error(env, nullptr, m, &result);
    napi_reject_deferred(env, j.deferred, result);
    return;
  }
  napi_create_object(env, &result);
  if (j.mode == Mode::kPredict) {
    napi_value p = j.predictions.defined() ? Wrap(env, j.predictions) : Undefined(env);
    napi_set_named_property(env, result, "predictions", p);
  } else {
    std::lock_guard<std::mutex> lk(j.ms->m);
    napi_set_named_property(env, result, "loss", MakeNumber(env, j.ms->MeanLoss()));
    napi_set_named_property(env, result, "metrics", NumberArray(env, j.ms->set.Values(j.ms->samples)));
    napi_set_named_property(env, result, "samples", MakeNumber(env, static_cast<double>(j.ms->samples)));
    napi_set_named_property(env, result, "nonFinite", MakeBool(env, j.nonFinite));
  }
  napi_set_named_property(env, result, "batches", MakeNumber(env, static_cast<double>(j.batches)));
  napi_set_named_property(env, result, "stopped", MakeBool(env, j.stopped));
  napi_resolve_deferred(env, j.deferred, result);
}

// Calls the JS progress function with (batch, samples, loss, metrics).
void CallProgress(napi_env env, napi_ref fnRef, const Progress& p) {
  napi_value fn, undef;
  if (napi_get_reference_value(env, fnRef, &fn) != napi_ok || !fn) return;
  napi_get_undefined(env, &undef);
  napi_value args[4];
  napi_create_double(env, static_cast<double>(p.batch), &args[0]);
  napi_create_double(env, static_cast<double>(p.samples), &args[1]);
  napi_create_double(env, p.loss, &args[2]);
  args[3] = NumberArray(env, p.metrics);
  napi_call_function(env, undef, fn, 4, args, nullptr);
}

// A message from the runner to the JS thread: a batch's progress, or (progress null) the end of a job.
struct Message {
  Job* job;
  std::unique_ptr<Progress> progress;
};

// The thread the addon owns for model runs (fit/evaluate/predict), one per JS environment: not
// libuv's pool, which fs, dns and zlib share, so a run that waits for a JS batch callback cannot
// starve them, and consecutive batches keep one OpenMP team. Jobs take turns batch by batch, so
// several models train at once; a job waiting for JS leaves the thread to the others. Results
// reach JS through one thread-safe function (PerEnv), referenced only while jobs are in flight;
// the env's cleanup hook stops and joins the thread.
class Runner {
  friend class PerEnv<Runner>;

 public:
  // The env's runner, started on first use (JS thread).
  static Runner* Get(napi_env env) {
    bool created = false;
    Runner* r = PerEnv<Runner>::Get(env, "nodetorch.runner", &created);
    if (created) r->thread_ = std::thread([r] { r->Loop(); });
    return r;
  }
  // The env's runner if it was started (any thread of that env's JS).
  static Runner* Find(napi_env env) { return PerEnv<Runner>::Find(env); }

  // Queues a job (JS thread); returns its promise.
  napi_value Submit(napi_env env, std::unique_ptr<Job> j) {
    napi_value promise;
    Check(env, napi_create_promise(env, &j->deferred, &promise));
    if (inFlight_++ == 0) napi_ref_threadsafe_function(env, tsfn_);
    {
      std::lock_guard<std::mutex> lk(m_);
      ready_.push_back(j.release());
    }
    cv_.notify_all();
    return promise;
  }
  // Something a waiting job may wait for changed (an ack, a stop).
  void Poke() {
    { std::lock_guard<std::mutex> lk(m_); }
    cv_.notify_all();
  }

 private:
  enum class Outcome { kYield, kWait, kDone };

  static bool Resumable(const Job& j) {
    return j.waitFor < 0 || !j.token || j.token->acked.load() >= j.waitFor || j.token->stop.load();
  }

  void Loop() {
    at::init_num_threads();
    std::unique_lock<std::mutex> lk(m_);
    while (!stopping_) {
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (Resumable(**it)) {
          ready_.push_back(*it);
          it = waiting_.erase(it);
        } else {
          ++it;
        }
      }
      if (ready_.empty()) {
        cv_.wait(lk);
        continue;
      }
      Job* j = ready_.front();
      ready_.pop_front();
      lk.unlock();
      Outcome o = Advance(*j);
      lk.lock();
      if (o == Outcome::kWait)
        waiting_.push_back(j);
      else if (o == Outcome::kYield)
        ready_.push_back(j);  // one batch per turn: jobs take turns
    }
  }

  // Runs one batch of j and posts what JS must see; a job's progress is posted before its end.
  Outcome Advance(Job& j) {
    Outcome o = Outcome::kDone;
    try {
      if (!j.begun) {
        j.begun = true;
        Begin(j);
      }
      j.waitFor = -1;
      if (NextBatch(j)) o = j.waitFor >= 0 ? Outcome::kWait : Outcome::kYield;
    } catch (const c10::Error& e) {
      j.error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      j.error = e.what();
    } catch (...) {
      j.error = "unknown native error";
    }
    for (auto& p : j.progressOut) Post(new Message{&j, std::move(p)});
    j.progressOut.clear();
    if (o == Outcome::kDone) {
      try {
        Finish(j);
      } catch (const std::exception& e) {
        if (j.error.empty()) j.error = e.what();
      }
      Post(new Message{&j, nullptr});
    }
    return o;
  }

  void Post(Message* msg) {
    if (napi_call_threadsafe_function(tsfn_, msg, napi_tsfn_nonblocking) != napi_ok) {
      // the environment is going away: its cleanup frees what is still queued here
      if (!msg->progress) delete msg->job;
      delete msg;
    }
  }

  // On the JS thread (env null: the function is torn down and only frees).
  static void Dispatch(napi_env env, napi_value, void* ctx, void* data) {
    std::unique_ptr<Message> msg(static_cast<Message*>(data));
    if (msg->progress) {
      if (env && msg->job->progressFn) CallProgress(env, msg->job->progressFn, *msg->progress);
      return;
    }
    std::unique_ptr<Job> j(msg->job);
    if (!env) return;
    auto* r = static_cast<Runner*>(ctx);
    if (--r->inFlight_ == 0) napi_unref_threadsafe_function(env, r->tsfn_);
    Complete(env, *j);
  }

  // The env is being torn down: stop after the batch in progress, join, drop unfinished jobs.
  static void Cleanup(void* arg) {
    auto* r = static_cast<Runner*>(arg);
    {
      std::lock_guard<std::mutex> lk(r->m_);
      r->stopping_ = true;
    }
    r->cv_.notify_all();
    if (r->thread_.joinable()) r->thread_.join();
    for (Job* j : r->ready_) delete j;
    for (Job* j : r->waiting_) delete j;
    r->ready_.clear();
    r->waiting_.clear();
    PerEnv<Runner>::Close(r);
  }

  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Job*> ready_;
  std::vector<Job*> waiting_;
  bool stopping_ = false;
  int inFlight_ = 0;  // JS thread only
};

Step ReadStep(napi_env env, napi_value e, const std::string& where) {
  napi_valuetype t;
  Check(env, napi_typeof(env, e, &t));
  if (t != napi_object) throw ArgError("expected " + where + " to be an object");
  Options o(env, e, where);
  Step s;
  napi_value mod;
  Check(env, napi_get_named_property(env, e, "module", &mod));
  napi_valuetype mt;
  Check(env, napi_typeof(env, mod, &mt));
  if (mt != napi_undefined && mt != napi_null) {
    auto* m = UnwrapAs<ModuleObject>(env, mod);
    if (!m) throw ArgError("expected " + where + ".module to be a native module");
    s.keep = m->module;
    s.forward = m->forward;
  }
  s.pre = o.Int("pre", 0);
  s.post = o.Int("post", 0);
  s.act = ParseAct(o.String("activation", "linear"));
  s.reshape = o.IntList("reshape", {});
  s.lastStep = o.Bool("lastStep", false);
  s.castFloat = o.Bool("castFloat", false);
  s.actL1 = o.Number("activityL1", 0);
  s.actL2 = o.Number("activityL2", 0);
  s.castLong = o.Bool("castLong", false);
  s.flipTime = o.Bool("flipTime", false);
  s.finalHidden = o.Bool("finalHidden", false);
  std::string merge = o.String("merge", "concat");
  if (merge == "sum")
    s.merge = 1;
  else if (merge == "mul")
    s.merge = 2;
  else if (merge == "ave")
    s.merge = 3;
  else if (merge != "concat")
    throw ArgError(where + ".merge must be 'concat', 'sum', 'mul' or 'ave' but got '" + merge + "'");
  s.reduceDims = o.IntList("reduceDims", {});
  s.reduceMax = o.String("reduce", "mean") == "max";
  s.keepDims = o.Bool("keepDims", false);
  s.indexLimit = o.Int("indexLimit", 0);
  s.scale = o.NumberList("scale", {});
  s.offset = o.NumberList("offset", {});
  if (o.Has("computeDtype")) s.compute = ComputeDtype(o.String("computeDtype", "float32"), where + ".computeDtype");
  return s;
}

std::vector<Step> ReadSteps(napi_env env, napi_value arr) {
  std::vector<napi_value> items;
  if (!ArrayElements(env, arr, &items, 100000)) throw ArgError("expected steps to be an array of layer steps");
  std::vector<Step> steps;
  for (size_t i = 0; i < items.size(); i++)
    steps.push_back(ReadStep(env, items[i], "steps[" + std::to_string(i) + "]"));
  return steps;
}

// model_run(mode, steps, x, y, options, progressFn?) -> Promise, run on the env's runner thread
napi_value ModelRun(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string mode = a.String(0, "mode");
  auto j = std::make_unique<Job>();
  if (mode == "train")
    j->mode = Mode::kTrain;
  else if (mode == "evaluate")
    j->mode = Mode::kEvaluate;
  else if (mode == "predict")
    j->mode = Mode::kPredict;
  else
    throw ArgError("mode must be 'train', 'evaluate' or 'predict' but got '" + mode + "'");
  j->steps = ReadSteps(env, a[1]);
  j->x = a.Tensor(2, "x");
  if (j->x.dim() == 0) throw ArgError("x must have a batch dimension but is a scalar");
  j->y = a.TensorOrUndefined(3, "y");
  if (j->mode != Mode::kPredict) {
    if (!j->y.defined()) throw ArgError("y is required to " + mode);
    if (j->y.dim() == 0 || j->y.size(0) != j->x.size(0))
      throw ArgError("x and y must have the same number of samples but x has " + std::to_string(j->x.size(0)) +
                     " and y has " + (j->y.dim() ? std::to_string(j->y.size(0)) : std::string("none (a scalar)")));
  }
  Options o = a.Opts(4, "options");
  j->batchSize = o.Int("batchSize", 32);
  if (j->batchSize <= 0) throw ArgError("batchSize must be a positive integer");
  j->shuffle = o.Bool("shuffle", false);
  j->maxBatches = o.Int("maxBatches", -1);
  j->waitEachBatch = o.Bool("waitEachBatch", false);
  j->progressEveryMs = o.Number("progressEveryMs", 0);
  j->autoThreads = o.Bool("autoThreads", true);
  j->plannedBatches = o.Int("plannedBatches", 0);
  j->checkFinite = o.Bool("checkFinite", false);
  j->endOnNonFinite = o.Bool("endOnNonFinite", true);
  j->learningRates = o.NumberList("learningRates", {});
  for (double lr : j->learningRates)
    if (!(lr >= 0) || !std::isfinite(lr)) throw ArgError("learningRates must be non-negative finite numbers");
  if (o.Has("device")) j->device = ParseDevice(o.String("device", "cpu"));
  j->threads = WantedThreads();  // not the JS thread's own, which the load watch may have lowered
  if (o.Has("threads")) {
    int64_t t = o.Int("threads", j->threads);
    if (t < 1) throw ArgError("threads must be a positive integer");
    j->threads = static_cast<int>(std::min<int64_t>(t, j->threads));
  }
  if (j->mode != Mode::kPredict) {
    j->loss = ParseLoss(o.String("loss", "mse"));
    j->fromLogits = o.Bool("fromLogits", false);
  }
  if (auto w = o.Tensor("sampleWeight")) {
    if (w->dim() != 1 || w->size(0) != j->x.size(0))
      throw ArgError("sampleWeight must be a 1-D tensor with one weight per sample (" + std::to_string(j->x.size(0)) +
                     ") but is " + TensorDesc(*w));
    j->sampleWeight = *w;
  }
  // The optimizer, token and metric state JS objects stay referenced until the run completes.
  auto ref = [&](napi_value v) {
    napi_ref r;
    Check(env, napi_create_reference(env, v, 1, &r));
    j->refs.push_back(r);
  };
  if (o.Has("metricState")) {
    napi_value st;
    Check(env, napi_get_named_property(env, a[4], "metricState", &st));
    j->ms = UnwrapAs<MetricState>(env, st);
    if (!j->ms) throw ArgError("options.metricState must be a metric state");
    ref(st);
  } else {
    j->ownMs = std::make_unique<MetricState>();
    j->ms = j->ownMs.get();
    if (o.Has("metrics")) {
      napi_value metrics;
      Check(env, napi_get_named_property(env, a[4], "metrics", &metrics));
      for (Metric m : ReadMetrics(env, metrics)) j->ownMs->set.Add(m);
    }
  }
  if (o.Has("penalties")) {
    napi_value ps;
    Check(env, napi_get_named_property(env, a[4], "penalties", &ps));
    uint32_t n = 0;
    Check(env, napi_get_array_length(env, ps, &n));
    for (uint32_t k = 0; k < n; k++) {
      napi_value e;
      Check(env, napi_get_element(env, ps, k, &e));
      Options po(env, e, "penalties");
      auto w = po.Tensor("weight");
      if (!w) throw ArgError("penalties[" + std::to_string(k) + "].weight must be a tensor");
      j->penalties.push_back({*w, po.Number("l1", 0), po.Number("l2", 0)});
    }
  }
  if (j->mode == Mode::kTrain) {
    napi_value opt;
    Check(env, napi_get_named_property(env, a[4], "optimizer", &opt));
    j->opt = UnwrapAs<NativeOptimizer>(env, opt);
    if (!j->opt) throw ArgError("options.optimizer must be a native optimizer");
    ref(opt);
  }
  if (o.Has("token")) {
    napi_value tok;
    Check(env, napi_get_named_property(env, a[4], "token", &tok));
    j->token = UnwrapAs<RunToken>(env, tok);
    if (!j->token) throw ArgError("options.token must be a run token");
    ref(tok);
  }
  napi_valuetype ft = a.Type(5);
  if (ft == napi_function) {
    Check(env, napi_create_reference(env, a[5], 1, &j->progressFn));
  } else if (ft != napi_undefined && ft != napi_null) {
    throw ArgError("progress must be a function");
  }
  return Runner::Get(env)->Submit(env, std::move(j));
}

napi_value TokenCreate(napi_env env, napi_callback_info) { return WrapObject(env, new RunToken(), &RunToken::kTag); }

void PokeRunner(napi_env env) {
  if (Runner* r = Runner::Find(env)) r->Poke();
}

napi_value TokenStop(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RunToken& t = a.Object<RunToken>(0, "token");
  t.stop.store(true);
  PokeRunner(env);
  return nullptr;
}

napi_value TokenAck(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RunToken& t = a.Object<RunToken>(0, "token");
  int64_t b = a.Int(1, "batch");
  int64_t cur = t.acked.load();
  while (cur < b && !t.acked.compare_exchange_weak(cur, b)) {
  }
  PokeRunner(env);
  return nullptr;
}

napi_value TokenReset(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RunToken& t = a.Object<RunToken>(0, "token");
  t.stop.store(false);
  t.acked.store(-1);
  return nullptr;
}

// model_batch_order(n) -> int64 tensor: the shuffled order of an epoch, as the native loop draws it.
napi_value ModelBatchOrder(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t n = a.Int(0, "n");
  if (n < 0) throw ArgError("n must be a non-negative integer");
  return Wrap(env, BatchOrder(n));
}

// keras_step_forward(step, x, training) -> [output, activityPenalty?]: one built-in Keras layer,
// eagerly. The same Forward the native loop runs, so a layer's computation exists once.
napi_value KerasStepForward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::vector<Step> steps;
  steps.push_back(ReadStep(env, a[0], "step"));
  at::Tensor x = a.Tensor(1, "x");
  bool training = a.BoolOr(2, "training", false);
  SetTraining(steps, training);
  at::Tensor penalty;
  at::Tensor out = Forward(steps, x, &penalty);
  return WrapList(env, penalty.defined() ? Tensors{out, penalty} : Tensors{out});
}

napi_value MetricsCreate(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto st = std::make_unique<MetricState>();
  for (Metric m : ReadMetrics(env, a[0])) st->set.Add(m);
  return WrapObject(env, st.release(), &MetricState::kTag);
}

napi_value MetricsReset(napi_env env, napi_callback_info info) {
  Args a(env, info);
  MetricState& st = a.Object<MetricState>(0, "state");
  std::lock_guard<std::mutex> lk(st.m);
  st.Reset();
  return nullptr;
}

// model_metrics_update(state, loss, fromLogits, output, target, batchLoss): Keras' update_state
// of every metric and of the loss tracker, for batches run from JS.
napi_value MetricsUpdate(napi_env env, napi_callback_info info) {
  Args a(env, info);
  MetricState& st = a.Object<MetricState>(0, "state");
  Loss l = ParseLoss(a.String(1, "loss"));
  bool fromLogits = a.Bool(2, "fromLogits");
  const at::Tensor out = a.Tensor(3, "output"), y = a.Tensor(4, "target");
  double batchLoss = a.Number(5, "batchLoss");
  if (y.dim() == 0 || out.dim() == 0 || y.size(0) != out.size(0))
    throw ArgError("output and target must have the same number of samples but are " + TensorDesc(out) + " and " +
                   TensorDesc(y));
  st.Update(l, fromLogits, out, y, batchLoss, out.size(0));
  return nullptr;
}

// model_metrics_result(state) -> { loss, metrics, samples }: Keras' result().
napi_value MetricsResult(napi_env env, napi_callback_info info) {
  Args a(env, info);
  MetricState& st = a.Object<MetricState>(0, "state");
  std::lock_guard<std::mutex> lk(st.m);
  napi_value r;
  Check(env, napi_create_object(env, &r));
  Check(env, napi_set_named_property(env, r, "loss", MakeNumber(env, st.samples ? st.MeanLoss() : NAN)));
  Check(env, napi_set_named_property(env, r, "metrics", NumberArray(env, st.set.Values(st.samples))));
  Check(env, napi_set_named_property(env, r, "samples", MakeNumber(env, static_cast<double>(st.samples))));
  return r;
}

// model_metrics_state(state) -> float64 [lossSum, samples, ...metric sums]: every number the state
// adds up, so ranks can all-reduce it (nt.distribution) and a sum of states is the state of all
// their batches.
napi_value MetricsState(napi_env env, napi_callback_info info) {
  Args a(env, info);
  MetricState& st = a.Object<MetricState>(0, "state");
  std::lock_guard<std::mutex> lk(st.m);
  std::vector<double> v = {st.lossSum, static_cast<double>(st.samples)};
  v.insert(v.end(), st.set.state.begin(), st.set.state.end());
  return Wrap(env, at::tensor(v, at::TensorOptions().dtype(at::kDouble)));
}

// model_metrics_set_state(state, values): the inverse of model_metrics_state.
napi_value MetricsSetState(napi_env env, napi_callback_info info) {
  Args a(env, info);
  MetricState& st = a.Object<MetricState>(0, "state");
  at::Tensor t = a.Tensor(1, "values").to(at::kDouble).contiguous();
  std::lock_guard<std::mutex> lk(st.m);
  if (t.dim() != 1 || t.size(0) != static_cast<int64_t>(st.set.state.size() + 2))
    throw ArgError("values must be a 1-D tensor of " + std::to_string(st.set.state.size() + 2) +
                   " numbers (from model_metrics_state) but is " + TensorDesc(t));
  const double* d = t.data_ptr<double>();
  st.lossSum = d[0];
  st.samples = static_cast<int64_t>(std::llround(d[1]));
  std::copy(d + 2, d + t.size(0), st.set.state.begin());
  return nullptr;
}

// The native loop's loss for one batch, for models trained from JS (custom layers) and for
// nt.losses: the same maths as the native loop, so both paths agree. Returns the mean (or
// weighted) loss tensor, or with perSample the loss of each sample ([N]).
napi_value ModelLoss(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Loss l = ParseLoss(a.String(0, "loss"));
  bool fromLogits = a.Bool(1, "fromLogits");
  const at::Tensor out = a.Tensor(2, "output"), y = a.Tensor(3, "target");
  const at::Tensor w = a.TensorOrUndefined(4, "sampleWeight");
  if (y.dim() == 0 || out.dim() == 0 || y.size(0) != out.size(0))
    throw ArgError("output and target must have the same number of samples but are " + TensorDesc(out) + " and " +
                   TensorDesc(y));
  at::Tensor per = PerSample(l, fromLogits, out, y);
  if (a.BoolOr(5, "perSample", false)) return Wrap(env, w.defined() ? per * w.to(per.scalar_type()) : per);
  return Wrap(env, w.defined() ? (per * w.to(per.scalar_type())).sum() / static_cast<double>(out.size(0)) : per.mean());
}

const Export kExports[] = {
    NT_EXPORT("model_run", ModelRun),
    NT_EXPORT("model_loss", ModelLoss),
    NT_EXPORT("model_token_create", TokenCreate),
    NT_EXPORT("model_token_stop", TokenStop),
    NT_EXPORT("model_token_ack", TokenAck),
    NT_EXPORT("model_token_reset", TokenReset),
    NT_EXPORT("model_batch_order", ModelBatchOrder),
    NT_EXPORT("model_metrics_create", MetricsCreate),
    NT_EXPORT("model_metrics_reset", MetricsReset),
    NT_EXPORT("model_metrics_update", MetricsUpdate),
    NT_EXPORT("model_metrics_result", MetricsResult),
    NT_EXPORT("model_metrics_state", MetricsState),
    NT_EXPORT("model_metrics_set_state", MetricsSetState),
    NT_EXPORT("keras_step_forward", KerasStepForward),
};

}  // namespace

void RegisterModel(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
