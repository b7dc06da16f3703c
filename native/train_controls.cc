// Keras 3's training controls around an optimizer step, in the order Keras' BaseOptimizer.apply runs
// them: loss-scale unscaling (LossScaleOptimizer), gradient accumulation, clipping (clipnorm, else
// global_clipnorm, else clipvalue), the step, then the weights' moving average (use_ema). Every fit
// path and optimizer.apply() reach them through NativeOptimizer::Step().
#include <cmath>

#include "optim.h"

namespace nt {

namespace {

std::vector<at::Tensor> Params(const torch::optim::Optimizer& o) {
  std::vector<at::Tensor> out;
  for (const auto& g : o.param_groups())
    for (const auto& p : g.params()) out.push_back(p);
  return out;
}

// Keras' _clip_by_norm: g * clipnorm / max(||g||, clipnorm).
void ClipEachNorm(const std::vector<at::Tensor>& grads, double clipnorm) {
  for (const at::Tensor& g : grads) {
    double n = g.to(at::kDouble).square().sum().sqrt().item<double>();
    if (n > clipnorm) g.mul_(clipnorm / n);
  }
}

// Keras' clip_by_global_norm: every g * clip / max(global norm, clip); NaN when the norm is.
void ClipGlobalNorm(const std::vector<at::Tensor>& grads, double clip) {
  double sq = 0;
  for (const at::Tensor& g : grads) sq += g.to(at::kDouble).square().sum().item<double>();
  double n = std::sqrt(sq);
  if (!(n <= clip))
    for (const at::Tensor& g : grads) g.mul_(std::isfinite(n) ? clip / n : NAN);
}

bool AllFinite(const std::vector<at::Tensor>& grads) {
  for (const at::Tensor& g : grads)
    if (!g.isfinite().all().item<bool>()) return false;
  return true;
}

void UpdateAverage(TrainControls& c, const std::vector<at::Tensor>& params) {
  if (c.average.size() != params.size()) {
    c.average.clear();
    for (const at::Tensor& p : params) c.average.push_back(p.detach().clone());
  }
  // Keras: momentum 0 on the first iteration, so the average starts at the weights
  const double m = c.iterations == 0 ? 0.0 : c.emaMomentum;
  for (size_t i = 0; i < params.size(); i++) c.average[i].mul_(m).add_(params[i].detach(), 1 - m);
  if (c.emaOverwriteFrequency > 0 && (c.iterations + 1) % c.emaOverwriteFrequency == 0)
    for (size_t i = 0; i < params.size(); i++) params[i].detach().copy_(c.average[i]);
}

NativeOptimizer& Opt(const Args& a) { return a.Object<NativeOptimizer>(0, "optimizer"); }

// optim_set_controls(optimizer, { clipnorm, clipvalue, globalClipnorm, accumulationSteps, useEma,
// emaMomentum, emaOverwriteFrequency, lossScale, initialScale, growthSteps }): values are checked in TS.
napi_value SetControls(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  Options opts = a.Opts(1, "controls");
  auto c = std::make_unique<TrainControls>();
  c->clipnorm = opts.Number("clipnorm", 0);
  c->clipvalue = opts.Number("clipvalue", 0);
  c->globalClipnorm = opts.Number("globalClipnorm", 0);
  c->accumulationSteps = std::max<int64_t>(1, opts.Int("accumulationSteps", 1));
  c->useEma = opts.Bool("useEma", false);
  c->emaMomentum = opts.Number("emaMomentum", 0.99);
  c->emaOverwriteFrequency = opts.Int("emaOverwriteFrequency", 0);
  c->lossScale = opts.Bool("lossScale", false);
  c->scale = opts.Number("initialScale", 32768);
  c->growthSteps = std::max<int64_t>(1, opts.Int("growthSteps", 2000));
  std::lock_guard<std::mutex> lk(o.mu);
  o.controls = std::move(c);
  return nullptr;
}

// optim_controls_state(optimizer) -> { iterations, scale } or null without controls
napi_value ControlsState(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  std::lock_guard<std::mutex> lk(o.mu);
  if (!o.controls) return nullptr;
  napi_value out;
  Check(env, napi_create_object(env, &out));
  Check(env,
        napi_set_named_property(env, out, "iterations", MakeNumber(env, static_cast<double>(o.controls->iterations))));
  Check(env, napi_set_named_property(env, out, "scale", MakeNumber(env, o.controls->scale)));
  return out;
}

// optim_finalize_variable_values(optimizer): Keras' finalize_variable_values, the moving averages
// copied into the weights (use_ema); true when it did.
napi_value Finalize(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  std::lock_guard<std::mutex> lk(o.mu);
  at::NoGradGuard ng;
  bool done = false;
  if (o.controls && o.controls->useEma) {
    std::vector<at::Tensor> params = Params(*o.opt);
    if (o.controls->average.size() == params.size()) {
      for (size_t i = 0; i < params.size(); i++) params[i].detach().copy_(o.controls->average[i]);
      done = true;
    }
  }
  return MakeBool(env, done);
}

// optim_scale_loss(optimizer, loss) -> the loss to call backward() on
napi_value ScaleLoss(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NativeOptimizer& o = Opt(a);
  at::Tensor loss = a.Tensor(1, "loss");
  return Wrap(env, LossForBackward(&o, loss));
}

const Export kExports[] = {
    NT_EXPORT("optim_set_controls", SetControls),
    NT_EXPORT("optim_controls_state", ControlsState),
    NT_EXPORT("optim_finalize_variable_values", Finalize),
    NT_EXPORT("optim_scale_loss", ScaleLoss),
};

}  // namespace

at::Tensor LossForBackward(NativeOptimizer* o, const at::Tensor& loss) {
  if (!o) return loss;
  double scale;
  {
    std::lock_guard<std::mutex> lk(o->mu);
    if (!o->controls || !o->controls->lossScale) return loss;
    scale = o->controls->scale;
  }
  return loss * scale;
}

void ControlledStep(NativeOptimizer& o) {
  TrainControls& c = *o.controls;
  std::vector<at::Tensor> params = Params(*o.opt), grads;
  for (const at::Tensor& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (c.lossScale) {
    for (const at::Tensor& g : grads) g.mul_(1.0 / c.scale);
    if (!AllFinite(grads)) {  // skip the step; a smaller scale next time
      c.scale /= 2;
      c.goodSteps = 0;
      return;
    }
    if (++c.goodSteps >= c.growthSteps) {
      c.scale *= 2;
      c.goodSteps = 0;
    }
  }
  if (c.accumulationSteps > 1) {
    if (c.accumulated.size() != params.size()) {
      c.accumulated.clear();
      for (const at::Tensor& p : params) c.accumulated.push_back(at::zeros_like(p));
    }
    const bool update = (c.iterations + 1) % c.accumulationSteps == 0;
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor g = params[i].grad();
      if (!g.defined()) continue;
      if (update)
        g.add_(c.accumulated[i]).div_(static_cast<double>(c.accumulationSteps));
      else
        c.accumulated[i].add_(g);
    }
    if (!update) {
      if (c.useEma) UpdateAverage(c, params);
      c.iterations++;
      return;
    }
    for (at::Tensor& acc : c.accumulated) acc.zero_();
  }
  if (c.clipnorm > 0)
    ClipEachNorm(grads, c.clipnorm);
  else if (c.globalClipnorm > 0)
    ClipGlobalNorm(grads, c.globalClipnorm);
  else if (c.clipvalue > 0)
    for (const at::Tensor& g : grads) g.clamp_(-c.clipvalue, c.clipvalue);
  o.opt->step();
  if (c.useEma) UpdateAverage(c, params);
  c.iterations++;
}

void RegisterTrainControls(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
