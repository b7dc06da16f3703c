// Optimizers over libtorch's own torch::optim (SGD, Adam, AdamW, RMSprop, Adagrad): creation,
// per-group options, state export/import in PyTorch's key names, and gradient clipping.
#include "optim.h"

#include <sstream>

#include "tensor.h"

namespace nt {

const napi_type_tag NativeOptimizer::kTag = {0x6f7074696d697a65ULL, 0x9d3c51a7e2b4f081ULL};

namespace {

namespace optim = torch::optim;

// libtorch 1.13 keys optimizer state by the TensorImpl address printed as a string; 2.x by the
// address itself. KeyOf<> builds whichever this libtorch uses.
using StateMap = std::remove_reference_t<decltype(std::declval<optim::Optimizer&>().state())>;
template <typename K>
struct KeyOf;
template <>
struct KeyOf<std::string> {
  static std::string Get(const at::Tensor& p) {
    std::ostringstream s;  // what c10::guts::to_string did
    s << p.unsafeGetTensorImpl();
    return s.str();
  }
};
template <>
struct KeyOf<void*> {
  static void* Get(const at::Tensor& p) { return p.unsafeGetTensorImpl(); }
};
auto StateKey(const at::Tensor& p) { return KeyOf<StateMap::key_type>::Get(p); }

std::vector<at::Tensor> AllParams(const optim::Optimizer& o) {
  std::vector<at::Tensor> out;
  for (const auto& g : o.param_groups())
    for (const auto& p : g.params()) out.push_back(p);
  return out;
}

at::Tensor ZerosLike(const at::Tensor& p) { return at::zeros_like(p, at::MemoryFormat::Preserve); }

// ---- options ----

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void Require(bool ok, OptimKind k, const char* name, double v, const char* expected) {
  if (!ok)
    throw ArgError(std::string(OptimKindName(k)) + ": expected " + name + " to be " + expected + " but received " +
                   Num(v));
}
void NonNegative(OptimKind k, const char* name, double v) {
  Require(v >= 0 && std::isfinite(v), k, name, v, "a non-negative number");
}

template <typename O>
void ApplyAdamLike(OptimKind k, O& x, const Options& o) {
  x.lr(o.Number("lr", x.lr()));
  if (o.Has("betas")) {
    std::vector<double> b = o.NumberList("betas", {});
    if (b.size() != 2)
      throw ArgError(std::string(OptimKindName(k)) + ": expected betas to be [beta1, beta2] but received " +
                     std::to_string(b.size()) + " numbers");
    x.betas(std::make_tuple(b[0], b[1]));
  }
  x.eps(o.Number("eps", x.eps()));
  x.weight_decay(o.Number("weight_decay", x.weight_decay()));
  x.amsgrad(o.Bool("amsgrad", x.amsgrad()));
  NonNegative(k, "lr", x.lr());
  NonNegative(k, "eps", x.eps());
  NonNegative(k, "weight_decay", x.weight_decay());
  double b0 = std::get<0>(x.betas()), b1 = std::get<1>(x.betas());
  Require(b0 >= 0 && b0 < 1, k, "betas[0]", b0, "in [0, 1)");
  Require(b1 >= 0 && b1 < 1, k, "betas[1]", b1, "in [0, 1)");
}

// Applies the options present in o (PyTorch's snake_case names) to x, then checks the result as
// PyTorch's constructors do. x is a copy: a failed check changes nothing.
void ApplyOptions(OptimKind k, optim::OptimizerOptions& base, const Options& o) {
  switch (k) {
    case OptimKind::kSGD: {
      auto& x = static_cast<optim::SGDOptions&>(base);
      x.lr(o.Number("lr", x.lr()));
      x.momentum(o.Number("momentum", x.momentum()));
      x.dampening(o.Number("dampening", x.dampening()));
      x.weight_decay(o.Number("weight_decay", x.weight_decay()));
      x.nesterov(o.Bool("nesterov", x.nesterov()));
      NonNegative(k, "lr", x.lr());
      NonNegative(k, "momentum", x.momentum());
      Require(std::isfinite(x.dampening()), k, "dampening", x.dampening(), "a finite number");
      NonNegative(k, "weight_decay", x.weight_decay());
      if (x.nesterov() && (x.momentum() <= 0 || x.dampening() != 0))
        throw ArgError("SGD: nesterov momentum requires a momentum and zero dampening but momentum is " +
                       Num(x.momentum()) + " and dampening " + Num(x.dampening()));
      break;
    }
    case OptimKind::kAdam: ApplyAdamLike(k, static_cast<optim::AdamOptions&>(base), o); break;
    case OptimKind::kAdamW: ApplyAdamLike(k, static_cast<optim::AdamWOptions&>(base), o); break;
    case OptimKind::kRMSprop: {
      auto& x = static_cast<optim::RMSpropOptions&>(base);
      x.lr(o.Number("lr", x.lr()));
      x.alpha(o.Number("alpha", x.alpha()));
      x.eps(o.Number("eps", x.eps()));
      x.weight_decay(o.Number("weight_decay", x.weight_decay()));
      x.momentum(o.Number("momentum", x.momentum()));
      x.centered(o.Bool("centered", x.centered()));
      NonNegative(k, "lr", x.lr());
      NonNegative(k, "alpha", x.alpha());
      NonNegative(k, "eps", x.eps());
      NonNegative(k, "weight_decay", x.weight_decay());
      NonNegative(k, "momentum", x.momentum());
      break;
    }
    case OptimKind::kAdagrad: {
      auto& x = static_cast<optim::AdagradOptions&>(base);
      x.lr(o.Number("lr", x.lr()));
      x.lr_decay(o.Number("lr_decay", x.lr_decay()));
      x.weight_decay(o.Number("weight_decay", x.weight_decay()));
      x.initial_accumulator_value(o.Number("initial_accumulator_value", x.initial_accumulator_value()));
      x.eps(o.Number("eps", x.eps()));
      NonNegative(k, "lr", x.lr());
      NonNegative(k, "lr_decay", x.lr_decay());
      NonNegative(k, "weight_decay", x.weight_decay());
      NonNegative(k, "initial_accumulator_value", x.initial_accumulator_value());
      NonNegative(k, "eps", x.eps());
      break;
    }
  }
}

void Set(napi_env env, napi_value obj, const char* key, napi_value v) {
  Check(env, napi_set_named_property(env, obj, key, v));
}

template <typename O>
void AdamLikeToJs(napi_env env, napi_value r, const O& x) {
  Set(env, r, "lr", MakeNumber(env, x.lr()));
  napi_value b;
  Check(env, napi_create_array_with_length(env, 2, &b));
  Check(env, napi_set_element(env, b, 0, MakeNumber(env, std::get<0>(x.betas()))));
  Check(env, napi_set_element(env, b, 1, MakeNumber(env, std::get<1>(x.betas()))));
  Set(env, r, "betas", b);
  Set(env, r, "eps", MakeNumber(env, x.eps()));
  Set(env, r, "weight_decay", MakeNumber(env, x.weight_decay()));
  Set(env, r, "amsgrad", MakeBool(env, x.amsgrad()));
}

napi_value OptionsToJs(napi_env env, OptimKind k, const optim::OptimizerOptions& base) {
  napi_value r;
  Check(env, napi_create_object(env, &r));
  switch (k) {
    case OptimKind::kSGD: {
      const auto& x = static_cast<const optim::SGDOptions&>(base);
      Set(env, r, "lr", MakeNumber(env, x.lr()));
      Set(env, r, "momentum", MakeNumber(env, x.momentum()));
      Set(env, r, "dampening", MakeNumber(env, x.dampening()));
      Set(env, r, "weight_decay", MakeNumber(env, x.weight_decay()));
      Set(env, r, "nesterov", MakeBool(env, x.nesterov()));
      break;
    }
    case OptimKind::kAdam: AdamLikeToJs(env, r, static_cast<const optim::AdamOptions&>(base)); break;
    case OptimKind::kAdamW: AdamLikeToJs(env, r, static_cast<const optim::AdamWOptions&>(base)); break;
    case OptimKind::kRMSprop: {
      const auto& x = static_cast<const optim::RMSpropOptions&>(base);
      Set(env, r, "lr", MakeNumber(env, x.lr()));
      Set(env, r, "alpha", MakeNumber(env, x.alpha()));
      Set(env, r, "eps", MakeNumber(env, x.eps()));
      Set(env, r, "weight_decay", MakeNumber(env, x.weight_decay()));
      Set(env, r, "momentum", MakeNumber(env, x.momentum()));
      Set(env, r, "centered", MakeBool(env, x.centered()));
      break;
    }
    case OptimKind::kAdagrad: {
      const auto& x = static_cast<const optim::AdagradOptions&>(base);
      Set(env, r, "lr", MakeNumber(env, x.lr()));
      Set(env, r, "lr_decay", MakeNumber(env, x.lr_decay()));
      Set(env, r, "weight_decay", MakeNumber(env, x.weight_decay()));
      Set(env, r, "initial_accumulator_value", MakeNumber(env, x.initial_accumulator_value()));
      Set(env, r, "eps", MakeNumber(env, x.eps()));
      break;
    }
  }
  return r;
}

// ---- state ----

// Creates state that libtorch's step() expects but only makes when it first sees a parameter:
// Adagrad's accumulators (made in its constructor only), and tensors an option turned on later.
void CompleteState(NativeOptimizer& o) {
  auto& state = o.opt->state();
  for (auto& g : o.opt->param_groups()) {
    for (const auto& p : g.params()) {
      auto it = state.find(StateKey(p));
      switch (o.kind) {
        case OptimKind::kSGD:
          if (it != state.end() && !static_cast<optim::SGDParamState&>(*it->second).momentum_buffer().defined())
            state.erase(it);
          break;
        case OptimKind::kAdam:
          if (it != state.end() && static_cast<optim::AdamOptions&>(g.options()).amsgrad()) {
            auto& s = static_cast<optim::AdamParamState&>(*it->second);
            if (!s.max_exp_avg_sq().defined()) s.max_exp_avg_sq(ZerosLike(p));
          }
          break;
        case OptimKind::kAdamW:
          if (it != state.end() && static_cast<optim::AdamWOptions&>(g.options()).amsgrad()) {
            auto& s = static_cast<optim::AdamWParamState&>(*it->second);
            if (!s.max_exp_avg_sq().defined()) s.max_exp_avg_sq(ZerosLike(p));
          }
          break;
        case OptimKind::kRMSprop:
          if (it != state.end()) {
            const auto& x = static_cast<optim::RMSpropOptions&>(g.options());
            auto& s = static_cast<optim::RMSpropParamState&>(*it->second);
            if (x.momentum() > 0 && !s.momentum_buffer().defined()) s.momentum_buffer(ZerosLike(p));
            if (x.centered() && !s.grad_avg().defined()) s.grad_avg(ZerosLike(p));
          }
          break;
        case OptimKind::kAdagrad:
          if (it == state.end()) {
            auto s = std::make_unique<optim::AdagradParamState>();
            s->step(0);
            s->sum(at::full_like(p, static_cast<optim::AdagradOptions&>(g.options()).initial_accumulator_value(),
                                 at::MemoryFormat::Preserve));
            state[StateKey(p)] = std::move(s);
          }
          break;
      }
    }
  }
  o.stateChecked = true;
}

// A copy that later steps do not change, as a handle.
void SetTensor(napi_env env, napi_value obj, const char* key, const at::Tensor& t) {
  if (t.defined()) Set(env, obj, key, Wrap(env, t.detach().clone()));
}

napi_value StateToJs(napi_env env, OptimKind k, const optim::OptimizerParamState& base) {
  napi_value r;
  Check(env, napi_create_object(env, &r));
  switch (k) {
    case OptimKind::kSGD:
      SetTensor(env, r, "momentum_buffer", static_cast<const optim::SGDParamState&>(base).momentum_buffer());
      break;
    case OptimKind::kAdam: {
      const auto& s = static_cast<const optim::AdamParamState&>(base);
      Set(env, r, "step", MakeNumber(env, static_cast<double>(s.step())));
      SetTensor(env, r, "exp_avg", s.exp_avg());
      SetTensor(env, r, "exp_avg_sq", s.exp_avg_sq());
      SetTensor(env, r, "max_exp_avg_sq", s.max_exp_avg_sq());
      break;
    }
    case OptimKind::kAdamW: {
      const auto& s = static_cast<const optim::AdamWParamState&>(base);
      Set(env, r, "step", MakeNumber(env, static_cast<double>(s.step())));
      SetTensor(env, r, "exp_avg", s.exp_avg());
      SetTensor(env, r, "exp_avg_sq", s.exp_avg_sq());
      SetTensor(env, r, "max_exp_avg_sq", s.max_exp_avg_sq());
      break;
    }
    case OptimKind::kRMSprop: {
      const auto& s = static_cast<const optim::RMSpropParamState&>(base);
      Set(env, r, "step", MakeNumber(env, static_cast<double>(s.step())));
      SetTensor(env, r, "square_avg", s.square_avg());
      SetTensor(env, r, "momentum_buffer", s.momentum_buffer());
      SetTensor(env, r, "grad_avg", s.grad_avg());
      break;
    }
    case OptimKind::kAdagrad: {
      const auto& s = static_cast<const optim::AdagradParamState&>(base);
      Set(env, r, "step", MakeNumber(env, static_cast<double>(s.step())));
      SetTensor(env, r, "sum", s.sum());
      break;
    }
  }
  return r;
}

// Reads one state tensor for parameter p: same shape, converted to p's dtype and device, copied.
at::Tensor ReadStateTensor(const Options& o, const char* key, const at::Tensor& p, bool required, size_t index) {
  c10::optional<at::Tensor> t = o.Tensor(key);
  if (!t) {
    if (!required) return at::Tensor();
    throw ArgError("state for parameter " + std::to_string(index) + " is missing " + key);
  }
  if (t->sizes() != p.sizes())
    throw ArgError("state " + std::string(key) + " of parameter " + std::to_string(index) + " has shape " +
                   ShapeString(t->sizes()) + " but the parameter has shape " + ShapeString(p.sizes()));
  return t->detach().to(p.device(), p.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
}

int64_t ReadStep(const Options& o, size_t index) {
  int64_t step = o.Int("step", 0);
  if (step < 0) throw ArgError("state step of parameter " + std::to_string(index) + " must be non-negative");
  return step;
}

std::unique_ptr<optim::OptimizerParamState> StateFromJs(OptimKind k, const Options& o, const at::Tensor& p, size_t i) {
  switch (k) {
    case OptimKind::kSGD: {
      auto s = std::make_unique<optim::SGDParamState>();
      s->momentum_buffer(ReadStateTensor(o, "momentum_buffer", p, true, i));
      return s;
    }
    case OptimKind::kAdam: {
      auto s = std::make_unique<optim::AdamParamState>();
      s->step(ReadStep(o, i));
      s->exp_avg(ReadStateTensor(o, "exp_avg", p, true, i));
      s->exp_avg_sq(ReadStateTensor(o, "exp_avg_sq", p, true, i));
      s->max_exp_avg_sq(ReadStateTensor(o, "max_exp_avg_sq", p, false, i));
      return s;
    }
    case OptimKind::kAdamW: {
      auto s = std::make_unique<optim::AdamWParamState>();
      s->step(ReadStep(o, i));
      s->exp_avg(ReadStateTensor(o, "exp_avg", p, true, i));
      s->exp_avg_sq(ReadStateTensor(o, "exp_avg_sq", p, true, i));
      s->max_exp_avg_sq(ReadStateTensor(o, "max_exp_avg_sq", p, false, i));
      return s;
    }
    case OptimKind::kRMSprop: {
      auto s = std::make_unique<optim::RMSpropParamState>();
      s->step(ReadStep(o, i));
      s->square_avg(ReadStateTensor(o, "square_avg", p, true, i));
      s->momentum_buffer(ReadStateTensor(o, "momentum_buffer", p, false, i));
      s->grad_avg(ReadStateTensor(o, "grad_avg", p, false, i));
      return s;
    }
    case OptimKind::kAdagrad: {
      auto s = std::make_unique<optim::AdagradParamState>();
      s->step(ReadStep(o, i));
      s->sum(ReadStateTensor(o, "sum", p, true, i));
      return s;
    }
  }
  throw std::logic_error("unknown optimizer kind");
}

// ---- exports ----

OptimKind ParseKind(const std::string& s) {
  for (OptimKind k : {OptimKind::kSGD, OptimKind::kAdam, OptimKind::kAdamW, OptimKind::kRMSprop, OptimKind::kAdagrad})
    if (s == OptimKindName(k)) return k;
  throw ArgError("unknown optimizer '" + s + "': expected one of SGD Adam AdamW RMSprop Adagrad");
}

// optim_create(kind, defaults) -> optimizer with no parameter groups yet (optim_add_param_group adds them)
napi_value Create(napi_env env, napi_callback_info info) {
  Args a(env, info);
  OptimKind k = ParseKind(a.String(0, "kind"));
  Options o = a.Opts(1, "defaults");
  std::unique_ptr<optim::Optimizer> opt;
  std::vector<optim::OptimizerParamGroup> none;
  switch (k) {
    case OptimKind::kSGD: {
      optim::SGDOptions d(1e-3);
      ApplyOptions(k, d, o);
      opt = std::make_unique<optim::SGD>(none, d);
      break;
    }
    case OptimKind::kAdam: {
      optim::AdamOptions d;
      ApplyOptions(k, d, o);
      opt = std::make_unique<optim::Adam>(none, d);
      break;
    }
    case OptimKind::kAdamW: {
      optim::AdamWOptions d;
      ApplyOptions(k, d, o);
      opt = std::make_unique<optim::AdamW>(none, d);
      break;
    }
    case OptimKind::kRMSprop: {
      optim::RMSpropOptions d;
      ApplyOptions(k, d, o);
      opt = std::make_unique<optim::RMSprop>(none, d);
      break;
    }
    case OptimKind::kAdagrad: {
      optim::AdagradOptions d;
      ApplyOptions(k, d, o);
      opt = std::make_unique<optim::Adagrad>(none, d);
      break;
    }
  }
  return WrapObject(env, new NativeOptimizer(k, std::move(opt)), &NativeOptimizer::kTag);
}

// optim_add_param_group(opt, params[], options): options override the optimizer's defaults
napi_value AddParamGroup(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = a.Object<NativeOptimizer>(0, "optimizer");
  std::vector<at::Tensor> params = a.TensorList(1, "params");
  Options opts = a.Opts(2, "options");
  if (params.empty()) throw ArgError("optimizer got an empty parameter list");
  for (size_t i = 0; i < params.size(); i++) {
    const at::Tensor& p = params[i];
    if (!at::isFloatingType(p.scalar_type()))
      throw ArgError("optimizer can only optimize floating-point tensors but params[" + std::to_string(i) + "] is " +
                     TensorDesc(p));
    if (!p.is_leaf()) throw ArgError("optimizer can't optimize a non-leaf Tensor (params[" + std::to_string(i) + "])");
    for (size_t j = 0; j < i; j++)
      if (params[j].unsafeGetTensorImpl() == p.unsafeGetTensorImpl())
        throw ArgError("optimizer got params[" + std::to_string(i) + "] twice in one parameter group");
  }
  std::unique_ptr<optim::OptimizerOptions> options;
  {
    std::lock_guard<std::mutex> lock(o.mu);
    options = o.opt->defaults().clone();
  }
  ApplyOptions(o.kind, *options, opts);  // may run JS getters: not under the lock
  std::lock_guard<std::mutex> lock(o.mu);
  for (const auto& e : AllParams(*o.opt))
    for (const auto& p : params)
      if (e.unsafeGetTensorImpl() == p.unsafeGetTensorImpl())
        throw ArgError("some parameters appear in more than one parameter group");
  o.opt->add_param_group(optim::OptimizerParamGroup(params, std::move(options)));
  CompleteState(o);  // Adagrad's accumulators exist from the start, as in PyTorch
  return nullptr;
}

NativeOptimizer& Opt(const Args& a) { return a.Object<NativeOptimizer>(0, "optimizer"); }

napi_value Step(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Opt(a).Step();
  return nullptr;
}

napi_value ZeroGrad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  o.ZeroGrad(a.BoolOr(1, "setToNone", true));
  return nullptr;
}

size_t GroupIndex(const Args& a, size_t i, const NativeOptimizer& o) {
  int64_t g = a.Int(i, "groupIndex");
  int64_t n = static_cast<int64_t>(o.opt->param_groups().size());
  if (g < 0 || g >= n)
    throw ArgError("parameter group index " + std::to_string(g) + " is out of range for an optimizer with " +
                   std::to_string(n) + " group(s)");
  return static_cast<size_t>(g);
}

// optim_param_group(opt, groupIndex) -> { lr, ... } in PyTorch's names
napi_value ParamGroup(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  std::lock_guard<std::mutex> lock(o.mu);
  size_t g = GroupIndex(a, 1, o);
  return OptionsToJs(env, o.kind, o.opt->param_groups()[g].options());
}

// optim_set_group_options(opt, groupIndex, { lr: 0.1, ... }): all applied or none
napi_value SetGroupOptions(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  Options opts = a.Opts(2, "options");
  std::unique_ptr<optim::OptimizerOptions> copy;
  size_t g;
  {
    std::lock_guard<std::mutex> lock(o.mu);
    g = GroupIndex(a, 1, o);
    copy = o.opt->param_groups()[g].options().clone();
  }
  ApplyOptions(o.kind, *copy, opts);  // may run JS getters: not under the lock
  std::lock_guard<std::mutex> lock(o.mu);
  if (g >= o.opt->param_groups().size()) throw ArgError("the parameter group was removed");
  o.opt->param_groups()[g].set_options(std::move(copy));
  o.stateChecked = false;
  return nullptr;
}

// optim_state(opt) -> per parameter (in group order): null or { step, exp_avg: handle, ... }
napi_value State(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  std::lock_guard<std::mutex> lock(o.mu);
  std::vector<at::Tensor> params = AllParams(*o.opt);
  auto& state = o.opt->state();
  napi_value arr;
  Check(env, napi_create_array_with_length(env, params.size(), &arr));
  for (size_t i = 0; i < params.size(); i++) {
    auto it = state.find(StateKey(params[i]));
    napi_value v;
    if (it == state.end() || !it->second)
      Check(env, napi_get_null(env, &v));
    else
      v = StateToJs(env, o.kind, *it->second);
    Check(env, napi_set_element(env, arr, i, v));
  }
  return arr;
}

// optim_load_state(opt, states): replaces all state; states as optim_state returns them
napi_value LoadState(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  bool isArray = false;
  if (a.Type(1) == napi_object) Check(env, napi_is_array(env, a[1], &isArray));
  if (!isArray)
    throw ArgError("expected states to be an array (one entry per parameter) but received " + DescribeValue(env, a[1]));
  std::vector<at::Tensor> params;
  {
    std::lock_guard<std::mutex> lock(o.mu);
    params = AllParams(*o.opt);
  }
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, a[1], &n));
  if (n != params.size())
    throw ArgError("loaded state has " + std::to_string(n) + " parameter(s) but the optimizer has " +
                   std::to_string(params.size()));
  std::vector<std::unique_ptr<optim::OptimizerParamState>> states(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    Check(env, napi_get_element(env, a[1], i, &e));
    napi_valuetype t;
    Check(env, napi_typeof(env, e, &t));
    if (t == napi_null || t == napi_undefined) continue;
    bool arr = false;
    Check(env, napi_is_array(env, e, &arr));
    if (t != napi_object || arr)
      throw ArgError("expected states[" + std::to_string(i) + "] to be an object or null but received " +
                     DescribeValue(env, e));
    states[i] = StateFromJs(o.kind, Options(env, e, "states[" + std::to_string(i) + "]"), params[i], i);
  }
  std::lock_guard<std::mutex> lock(o.mu);
  std::vector<at::Tensor> now = AllParams(*o.opt);
  if (now.size() != params.size()) throw ArgError("the optimizer's parameters changed while loading its state");
  auto& state = o.opt->state();
  state.clear();
  for (size_t i = 0; i < n; i++)
    if (states[i]) state[StateKey(params[i])] = std::move(states[i]);
  o.stateChecked = false;
  return nullptr;
}

// clip_grad_norm_(params[], maxNorm, normType, errorIfNonfinite) -> the total norm before clipping
napi_value ClipGradNorm(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::vector<at::Tensor> params = a.TensorList(0, "parameters");
  double maxNorm = a.Number(1, "maxNorm");
  double normType = a.IsNullish(2) ? 2.0 : a.Number(2, "normType");
  bool errorIfNonfinite = a.BoolOr(3, "errorIfNonfinite", false);
  if (normType < 0 && normType != -std::numeric_limits<double>::infinity())
    throw ArgError("clip_grad_norm_: expected normType to be non-negative or Infinity but received " + Num(normType));
  at::NoGradGuard ng;
  return MakeNumber(env, torch::nn::utils::clip_grad_norm_(params, maxNorm, normType, errorIfNonfinite));
}

napi_value ClipGradValue(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::vector<at::Tensor> params = a.TensorList(0, "parameters");
  double clip = a.Number(1, "clipValue");
  at::NoGradGuard ng;
  torch::nn::utils::clip_grad_value_(params, clip);
  return nullptr;
}

const Export kExports[] = {
    NT_EXPORT("optim_create", Create),
    NT_EXPORT("optim_add_param_group", AddParamGroup),
    NT_EXPORT("optim_step", Step),
    NT_EXPORT("optim_zero_grad", ZeroGrad),
    NT_EXPORT("optim_param_group", ParamGroup),
    NT_EXPORT("optim_set_group_options", SetGroupOptions),
    NT_EXPORT("optim_state", State),
    NT_EXPORT("optim_load_state", LoadState),
    NT_EXPORT("clip_grad_norm_", ClipGradNorm),
    NT_EXPORT("clip_grad_value_", ClipGradValue),
};

}  // namespace

const char* OptimKindName(OptimKind k) {
  switch (k) {
    case OptimKind::kSGD: return "SGD";
    case OptimKind::kAdam: return "Adam";
    case OptimKind::kAdamW: return "AdamW";
    case OptimKind::kRMSprop: return "RMSprop";
    case OptimKind::kAdagrad: return "Adagrad";
  }
  return "optimizer";
}

void NativeOptimizer::Step() {
  std::lock_guard<std::mutex> lock(mu);
  at::NoGradGuard ng;
  if (!stateChecked) CompleteState(*this);
  if (controls)
    ControlledStep(*this);
  else
    opt->step();
}

void NativeOptimizer::ZeroGrad(bool setToNone) {
  std::lock_guard<std::mutex> lock(mu);
  for (auto& g : opt->param_groups()) {
    for (auto& p : g.params()) {
      at::Tensor& grad = p.mutable_grad();
      if (!grad.defined()) continue;
      if (setToNone) {
        grad.reset();
      } else {
        // as PyTorch: detach a grad that is part of a graph, then zero it in place
        if (grad.grad_fn())
          grad.detach_();
        else
          grad.requires_grad_(false);
        at::NoGradGuard ng;
        grad.zero_();
      }
    }
  }
}

void RegisterOptim(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
  RegisterTrainControls(env, exports);  // native/train_controls.cc
}

}  // namespace nt
