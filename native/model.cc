// The native training loop: a Keras-style model of built-in layers runs a whole epoch (shuffle,
// batches, forward, loss, backward, optimizer step, metrics) in libtorch on a worker thread, with
// one JS call per epoch. Progress reaches JS through a thread-safe function; JS can stop the loop
// between batches, or have it wait for batch callbacks.
#include <atomic>
#include <chrono>
#include <condition_variable>

#include "nn.h"
#include "optim.h"
#include "tensor.h"

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
  int64_t indexLimit = 0;  // embedding: indices must lie in [0, indexLimit)
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

// penalty (when given) accumulates the activity regularizers, divided by the batch size as Keras does.
at::Tensor Forward(const std::vector<Step>& steps, at::Tensor x, at::Tensor* penalty = nullptr) {
  ForwardExtras none;
  for (const Step& s : steps) {
    if (s.castFloat && !at::isFloatingType(x.scalar_type())) x = x.to(at::kFloat);
    if (s.castLong && x.scalar_type() != at::kLong) x = x.to(at::kLong);
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
    if (s.post == 2) x = ToLast(x);
    x = Apply(s.act, x);
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

// Stops a running loop between batches, and lets it wait for JS batch callbacks.
struct RunToken : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "a training run token";
  std::atomic<bool> stop{false};
  std::mutex m;
  std::condition_variable cv;
  int64_t acked = -1;
};
const napi_type_tag RunToken::kTag = {0x72756e746f6b656eULL, 0x1c2b3a4958677685ULL};

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

struct Job {
  Mode mode;
  std::vector<Step> steps;
  at::Tensor x, y, sampleWeight;
  // the model's device: batches are copied there, predictions come back to the input's device
  c10::optional<at::Device> device;
  Loss loss = Loss::kMse;
  bool fromLogits = false;
  MetricSet metrics;
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
  bool checkFinite = false;  // refuse NaN/infinity in x and float y before the first batch
  NativeOptimizer* opt = nullptr;
  RunToken* token = nullptr;
  // results
  double lossSum = 0;
  int64_t samples = 0;
  int64_t batches = 0;
  bool stopped = false;
  bool nonFinite = false;
  at::Tensor predictions;
  std::string error;
  // JS side
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_threadsafe_function progress = nullptr;
  std::vector<napi_ref> refs;  // optimizer, token: kept alive while the worker uses them
};

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

void Run(Job& j) {
  at::set_num_threads(j.threads);
  if (j.checkFinite) {
    CheckFinite(j.x, "x", j.mode);
    CheckFinite(j.y, "y", j.mode);
  }
  const int64_t n = j.x.size(0);
  const bool train = j.mode == Mode::kTrain;
  c10::optional<at::NoGradGuard> nograd;
  if (!train) nograd.emplace();
  SetTraining(j.steps, train);
  at::Tensor order = j.shuffle ? at::randperm(n, at::TensorOptions().dtype(at::kLong)) : at::Tensor();
  j.metrics.Reset();
  Tensors outputs;
  auto lastPost = std::chrono::steady_clock::now() - std::chrono::hours(1);
  constexpr int64_t kTuneWarm = 5, kTuneLen = 20;
  const int64_t plannedBatches = j.maxBatches >= 0 ? std::min(j.maxBatches, (n + j.batchSize - 1) / j.batchSize)
                                                   : (n + j.batchSize - 1) / j.batchSize;
  bool tune = j.autoThreads && j.threads > 1 && plannedBatches >= 4 * (kTuneWarm + 2 * kTuneLen);
  auto tuneStart = std::chrono::steady_clock::now();
  double tuneAll = 0;
  for (int64_t start = 0, b = 0; start < n; start += j.batchSize, b++) {
    if (j.maxBatches >= 0 && b >= j.maxBatches) break;
    if (j.token && j.token->stop.load()) {
      j.stopped = true;
      break;
    }
    int64_t len = std::min(j.batchSize, n - start);
    at::Tensor xb, yb, wb;
    if (j.shuffle) {
      at::Tensor idx = order.narrow(0, start, len);
      xb = j.x.index_select(0, idx);
      if (j.y.defined()) yb = j.y.index_select(0, idx);
      if (j.sampleWeight.defined()) wb = j.sampleWeight.index_select(0, idx);
    } else {
      xb = j.x.narrow(0, start, len);
      if (j.y.defined()) yb = j.y.narrow(0, start, len);
      if (j.sampleWeight.defined()) wb = j.sampleWeight.narrow(0, start, len);
    }
    if (j.device && *j.device != xb.device()) {
      xb = xb.to(*j.device, /*non_blocking=*/true);
      if (yb.defined()) yb = yb.to(*j.device, /*non_blocking=*/true);
      if (wb.defined()) wb = wb.to(*j.device, /*non_blocking=*/true);
    }
    if (j.mode == Mode::kPredict) {
      outputs.push_back(Forward(j.steps, xb).to(j.x.device()));
      j.batches++;
      continue;
    }
    // Small batches often run faster on one intra-op thread than on all of them (a second OpenMP
    // team on a loaded machine waits at every barrier), so a long run times both and keeps the faster.
    if (tune) {
      if (b == kTuneWarm) tuneStart = std::chrono::steady_clock::now();
      if (b == kTuneWarm + kTuneLen) {
        auto t = std::chrono::steady_clock::now();
        tuneAll = std::chrono::duration<double>(t - tuneStart).count();
        tuneStart = t;
        at::set_num_threads(1);
      }
      if (b == kTuneWarm + 2 * kTuneLen) {
        double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - tuneStart).count();
        if (tuneAll < one) at::set_num_threads(j.threads);
        tune = false;
      }
    }
    if (train && j.opt) j.opt->ZeroGrad(true);
    at::Tensor activity;
    at::Tensor out = Forward(j.steps, xb, &activity);
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
      total.backward();
      if (j.opt) j.opt->Step();
    }
    j.lossSum += lv * static_cast<double>(len);
    j.samples += len;
    {
      at::NoGradGuard g;
      at::Tensor o = out.detach();
      j.metrics.Update(j.loss, j.fromLogits, o, yb);
    }
    j.batches++;
    const bool last = start + j.batchSize >= n || (j.maxBatches >= 0 && b + 1 >= j.maxBatches);
    const auto now = std::chrono::steady_clock::now();
    const bool post =
        j.progress && (j.waitEachBatch || last || j.nonFinite ||
                       std::chrono::duration<double, std::milli>(now - lastPost).count() >= j.progressEveryMs);
    if (post) {
      lastPost = now;
      auto* p = new Progress{b, j.samples, j.lossSum / static_cast<double>(j.samples), j.metrics.Values(j.samples)};
      if (napi_call_threadsafe_function(j.progress, p, napi_tsfn_nonblocking) != napi_ok) delete p;
      if (j.waitEachBatch && j.token) {
        std::unique_lock<std::mutex> lk(j.token->m);
        j.token->cv.wait(lk, [&] { return j.token->acked >= b || j.token->stop.load(); });
      }
    }
    if (j.nonFinite && train) break;  // the JS side reports it (TerminateOnNaN) after the epoch
  }
  if (j.mode == Mode::kPredict) j.predictions = outputs.empty() ? at::Tensor() : at::cat(outputs, 0);
  SetTraining(j.steps, false);
}

void Execute(napi_env, void* data) {
  Job& j = *static_cast<Job*>(data);
  try {
    Run(j);
  } catch (const c10::Error& e) {
    j.error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    j.error = e.what();
  }
}

void Complete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<Job> j(static_cast<Job*>(data));
  if (j->progress) napi_release_threadsafe_function(j->progress, napi_tsfn_release);
  for (napi_ref r : j->refs) napi_delete_reference(env, r);
  napi_delete_async_work(env, j->work);
  napi_value result = nullptr;
  if (!j->error.empty() || status != napi_ok) {
    std::string msg = j->error.empty() ? "the training run was cancelled" : j->error;
    size_t nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    napi_value m;
    napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
    napi_create_error(env, nullptr, m, &result);
    napi_reject_deferred(env, j->deferred, result);
    return;
  }
  napi_create_object(env, &result);
  if (j->mode == Mode::kPredict) {
    napi_value p = j->predictions.defined() ? Wrap(env, j->predictions) : Undefined(env);
    napi_set_named_property(env, result, "predictions", p);
  } else {
    double samples = static_cast<double>(std::max<int64_t>(j->samples, 1));
    napi_set_named_property(env, result, "loss", MakeNumber(env, j->lossSum / samples));
    napi_set_named_property(env, result, "metrics", NumberArray(env, j->metrics.Values(j->samples)));
    // the raw state, so a caller running one batch at a time can merge batches (precision, AUC)
    napi_value states;
    napi_create_array_with_length(env, j->metrics.kinds.size(), &states);
    for (size_t k = 0; k < j->metrics.kinds.size(); k++) {
      auto first = j->metrics.state.begin() + static_cast<std::ptrdiff_t>(j->metrics.offset[k]);
      std::vector<double> one(first, first + static_cast<std::ptrdiff_t>(MetricStateSize(j->metrics.kinds[k])));
      napi_set_element(env, states, k, NumberArray(env, one));
    }
    napi_set_named_property(env, result, "metricStates", states);
    napi_set_named_property(env, result, "samples", MakeNumber(env, static_cast<double>(j->samples)));
    napi_set_named_property(env, result, "nonFinite", MakeBool(env, j->nonFinite));
  }
  napi_set_named_property(env, result, "batches", MakeNumber(env, static_cast<double>(j->batches)));
  napi_set_named_property(env, result, "stopped", MakeBool(env, j->stopped));
  napi_resolve_deferred(env, j->deferred, result);
}

// Runs on the JS thread for each batch the worker finished: calls the JS progress function with
// (batch, samples, loss, metrics).
void CallProgress(napi_env env, napi_value fn, void*, void* data) {
  std::unique_ptr<Progress> p(static_cast<Progress*>(data));
  if (!env || !fn) return;
  napi_value args[4], undef;
  napi_get_undefined(env, &undef);
  napi_create_double(env, static_cast<double>(p->batch), &args[0]);
  napi_create_double(env, static_cast<double>(p->samples), &args[1]);
  napi_create_double(env, p->loss, &args[2]);
  napi_create_array_with_length(env, p->metrics.size(), &args[3]);
  for (size_t k = 0; k < p->metrics.size(); k++) {
    napi_value v;
    napi_create_double(env, p->metrics[k], &v);
    napi_set_element(env, args[3], k, v);
  }
  napi_call_function(env, undef, fn, 4, args, nullptr);
}

std::vector<Step> ReadSteps(napi_env env, napi_value arr) {
  bool isArr = false;
  napi_is_array(env, arr, &isArr);
  if (!isArr) throw ArgError("expected steps to be an array of layer steps");
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, arr, &n));
  std::vector<Step> steps;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    Check(env, napi_get_element(env, arr, i, &e));
    napi_valuetype t;
    Check(env, napi_typeof(env, e, &t));
    if (t != napi_object) throw ArgError("expected steps[" + std::to_string(i) + "] to be an object");
    Options o(env, e, "steps[" + std::to_string(i) + "]");
    Step s;
    napi_value mod;
    Check(env, napi_get_named_property(env, e, "module", &mod));
    napi_valuetype mt;
    Check(env, napi_typeof(env, mod, &mt));
    if (mt != napi_undefined && mt != napi_null) {
      auto* m = UnwrapAs<ModuleObject>(env, mod);
      if (!m) throw ArgError("expected steps[" + std::to_string(i) + "].module to be a native module");
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
      throw ArgError("steps[" + std::to_string(i) + "].merge must be 'concat', 'sum', 'mul' or 'ave' but got '" +
                     merge + "'");
    s.reduceDims = o.IntList("reduceDims", {});
    s.reduceMax = o.String("reduce", "mean") == "max";
    s.keepDims = o.Bool("keepDims", false);
    s.indexLimit = o.Int("indexLimit", 0);
    steps.push_back(std::move(s));
  }
  return steps;
}

// model_run(mode, steps, x, y, options, progressFn?) -> Promise
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
  j->checkFinite = o.Bool("checkFinite", false);
  if (o.Has("device")) j->device = ParseDevice(o.String("device", "cpu"));
  j->threads = static_cast<int>(at::get_num_threads());
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
  napi_value metrics;
  if (o.Has("metrics")) {
    Check(env, napi_get_named_property(env, a[4], "metrics", &metrics));
    uint32_t n = 0;
    Check(env, napi_get_array_length(env, metrics, &n));
    for (uint32_t k = 0; k < n; k++) {
      napi_value e;
      Check(env, napi_get_element(env, metrics, k, &e));
      size_t len = 0;
      char buf[64];
      if (napi_get_value_string_utf8(env, e, buf, sizeof buf, &len) != napi_ok)
        throw ArgError("metrics must be strings");
      j->metrics.Add(ParseMetric(std::string(buf, len)));
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
  // The optimizer and token JS objects stay referenced until the run completes.
  auto ref = [&](napi_value v) {
    napi_ref r;
    Check(env, napi_create_reference(env, v, 1, &r));
    j->refs.push_back(r);
  };
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
    napi_value name;
    Check(env, napi_create_string_utf8(env, "nodetorch.progress", NAPI_AUTO_LENGTH, &name));
    Check(env, napi_create_threadsafe_function(env, a[5], nullptr, name, 0, 1, nullptr, nullptr, nullptr, CallProgress,
                                               &j->progress));
  } else if (ft != napi_undefined && ft != napi_null) {
    throw ArgError("progress must be a function");
  }
  return QueueAsync(env, std::move(j), "nodetorch.model_run", Execute, Complete);
}

napi_value TokenCreate(napi_env env, napi_callback_info) { return WrapObject(env, new RunToken(), &RunToken::kTag); }

napi_value TokenStop(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RunToken& t = a.Object<RunToken>(0, "token");
  t.stop.store(true);
  t.cv.notify_all();
  return nullptr;
}

napi_value TokenAck(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RunToken& t = a.Object<RunToken>(0, "token");
  int64_t b = a.Int(1, "batch");
  {
    std::lock_guard<std::mutex> lk(t.m);
    t.acked = std::max(t.acked, b);
  }
  t.cv.notify_all();
  return nullptr;
}

napi_value TokenReset(napi_env env, napi_callback_info info) {
  Args a(env, info);
  RunToken& t = a.Object<RunToken>(0, "token");
  std::lock_guard<std::mutex> lk(t.m);
  t.stop.store(false);
  t.acked = -1;
  return nullptr;
}

// The native loop's loss for one batch, for models trained from JS (custom layers): the same
// maths as the native loop, so both paths agree. Returns the mean (or weighted) loss tensor.
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
  return Wrap(env, w.defined() ? (per * w.to(per.scalar_type())).sum() / static_cast<double>(out.size(0)) : per.mean());
}

// One batch's contribution to a metric's state (an array to add up over batches), for models run
// from JS: the same maths as the native loop.
napi_value ModelMetric(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Metric m = ParseMetric(a.String(0, "metric"));
  Loss l = ParseLoss(a.String(1, "loss"));
  bool fromLogits = a.Bool(2, "fromLogits");
  const at::Tensor out = a.Tensor(3, "output"), y = a.Tensor(4, "target");
  if (y.dim() == 0 || out.dim() == 0 || y.size(0) != out.size(0))
    throw ArgError("output and target must have the same number of samples but are " + TensorDesc(out) + " and " +
                   TensorDesc(y));
  at::NoGradGuard g;
  std::vector<double> acc(MetricStateSize(m), 0.0);
  MetricUpdate(m, l, fromLogits, out.detach(), y, acc.data());
  return NumberArray(env, acc);
}

// A metric's value from the state summed over batches, after `samples` samples.
napi_value ModelMetricValue(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Metric m = ParseMetric(a.String(0, "metric"));
  napi_value arr = a[1];
  bool isArray = false;
  napi_is_array(env, arr, &isArray);
  uint32_t n = 0;
  if (isArray) Check(env, napi_get_array_length(env, arr, &n));
  if (!isArray || n != MetricStateSize(m))
    throw ArgError("state must be an array of " + std::to_string(MetricStateSize(m)) + " numbers");
  std::vector<double> acc(n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value e;
    Check(env, napi_get_element(env, arr, k, &e));
    if (napi_get_value_double(env, e, &acc[k]) != napi_ok) throw ArgError("state must be an array of numbers");
  }
  double samples = a.Number(2, "samples");
  return MakeNumber(env, MetricValue(m, acc.data(), std::max(samples, 1.0)));
}

const Export kExports[] = {
    NT_EXPORT("model_run", ModelRun),           NT_EXPORT("model_loss", ModelLoss),
    NT_EXPORT("model_metric", ModelMetric),     NT_EXPORT("model_token_create", TokenCreate),
    NT_EXPORT("model_token_stop", TokenStop),   NT_EXPORT("model_token_ack", TokenAck),
    NT_EXPORT("model_token_reset", TokenReset), NT_EXPORT("model_metric_value", ModelMetricValue),
};

}  // namespace

void RegisterModel(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
