// A single-layer LSTM or GRU (each direction) as one autograd node (torch::autograd::Function), for training on CPU.
//
// at::lstm's CPU path (at::gru's alike) records every op of every time step for autograd: ~10 nodes a step forward and
// twice that in backward, each with its own bookkeeping, so a 200-step IMDB LSTM spends most of its
// time outside the matmuls. Here the forward runs the steps with no autograd (the gates of every step
// kept), and the backward is written out: one matmul a step for the recurrent gradient, and the
// weight and input gradients as three matmuls over all steps at once. Same maths as libtorch's
// (LSTM gates i, f, g, o: c' = f*c + i*g, h' = o*tanh(c'); GRU gates r, z, n: n = tanh(x W_in^T +
// b_in + r*(h W_hn^T + b_hn)), h' = (1-z)*n + z*h), checked in test/nn_rnn_fused.test.ts against
// the step-by-step equations (values and gradients, both layouts, with and without initial states).
#include <torch/csrc/jit/frontend/tracer.h>

#include "amp.h"
#include "nn.h"

namespace nt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// h_{t-1} for every step, in the layout of out: h0 ([1, N, H]), then the outputs of all steps but the last.
at::Tensor PreviousStates(const at::Tensor& h0, const at::Tensor& out, bool batchFirst) {
  const int64_t td = batchFirst ? 1 : 0, T = out.size(td), N = out.size(1 - td), H = out.size(2);
  const at::Tensor first = batchFirst ? h0.reshape({N, 1, H}) : h0.reshape({1, N, H});
  return T > 1 ? at::cat({first, out.narrow(td, 0, T - 1)}, td) : first;
}

struct FusedLstm : torch::autograd::Function<FusedLstm> {
  // x: [T, N, I] ([N, T, I] when batchFirst); h0, c0: [1, N, H]; weights as torch::nn::LSTM keeps
  // them; biases empty when the layer has none (autograd takes no undefined inputs). Returns out ([T, N, H] or [N, T,
  // H]), h_n, c_n.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& c0,
                               const at::Tensor& wih, const at::Tensor& whh, const at::Tensor& bih,
                               const at::Tensor& bhh, bool batchFirst) {
    const int64_t td = batchFirst ? 1 : 0, T = x.size(td), N = x.size(1 - td), I = x.size(2), H = whh.size(1);
    // every step's input projection at once, biases folded in; each step adds h W_hh^T and then
    // activates its slice in place, so gates ends up holding i, f, g, o of every step
    at::Tensor x2 = x.reshape({-1, I});
    at::Tensor gates = bih.numel() ? at::addmm(bih + bhh, x2, wih.t()) : at::mm(x2, wih.t());
    gates = gates.view({x.size(0), x.size(1), 4 * H});
    at::Tensor out = at::empty({x.size(0), x.size(1), H}, x.options());
    at::Tensor cs = at::empty({T, N, H}, x.options()), tanhCs = at::empty({T, N, H}, x.options());
    at::Tensor h = h0.reshape({N, H}), c = c0.reshape({N, H});
    const at::Tensor whhT = whh.t();
    for (int64_t t = 0; t < T; t++) {
      at::Tensor g = gates.select(td, t);
      g.addmm_(h, whhT);
      g.narrow(1, 0, 2 * H).sigmoid_();
      g.narrow(1, 2 * H, H).tanh_();
      g.narrow(1, 3 * H, H).sigmoid_();
      at::Tensor ct = cs[t], tc = tanhCs[t], ht = out.select(td, t);
      at::mul_out(ct, g.narrow(1, H, H), c);
      ct.addcmul_(g.narrow(1, 0, H), g.narrow(1, 2 * H, H));
      at::tanh_out(tc, ct);
      at::mul_out(ht, g.narrow(1, 3 * H, H), tc);
      h = ht;
      c = ct;
    }
    ctx->save_for_backward({x, h0, c0, wih, whh, gates, cs, tanhCs, out});
    ctx->saved_data["batchFirst"] = batchFirst;
    return {out, h.unsqueeze(0).clone(), c.unsqueeze(0).clone()};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const at::Tensor &x = s[0], &h0 = s[1], &c0 = s[2], &wih = s[3], &whh = s[4], &gates = s[5], &cs = s[6],
                     &tanhCs = s[7], &out = s[8];
    const bool batchFirst = ctx->saved_data["batchFirst"].toBool();
    const int64_t td = batchFirst ? 1 : 0, T = x.size(td), N = x.size(1 - td), I = x.size(2), H = whh.size(1);
    const at::Tensor& gout = grads[0];
    at::Tensor dh = grads[1].defined() ? grads[1].reshape({N, H}).clone() : at::zeros({N, H}, x.options());
    at::Tensor dc = grads[2].defined() ? grads[2].reshape({N, H}).clone() : at::zeros({N, H}, x.options());
    // the pre-activation gradient of every step's gates, in the layout of gates
    at::Tensor dgates = at::empty_like(gates, at::MemoryFormat::Contiguous);
    for (int64_t t = T - 1; t >= 0; t--) {
      if (gout.defined()) dh.add_(gout.select(td, t));
      const at::Tensor g = gates.select(td, t), d = dgates.select(td, t), tc = tanhCs[t];
      const at::Tensor i = g.narrow(1, 0, H), f = g.narrow(1, H, H), gg = g.narrow(1, 2 * H, H),
                       o = g.narrow(1, 3 * H, H);
      const at::Tensor cPrev = t > 0 ? cs[t - 1] : c0.reshape({N, H});
      at::Tensor dO = d.narrow(1, 3 * H, H), di = d.narrow(1, 0, H), df = d.narrow(1, H, H), dg = d.narrow(1, 2 * H, H);
      at::sigmoid_backward_out(dO, dh * tc, o);  // h = o * tanh(c)
      dc.add_(at::tanh_backward(dh * o, tc));
      at::sigmoid_backward_out(di, dc * gg, i);  // c = f * cPrev + i * g
      at::sigmoid_backward_out(df, dc * cPrev, f);
      at::tanh_backward_out(dg, dc * i, gg);
      dc.mul_(f);
      dh = at::mm(d, whh);
    }
    const at::Tensor d2 = dgates.view({-1, 4 * H});
    variable_list r(8);
    if (ctx->needs_input_grad(0)) r[0] = at::mm(d2, wih).view(x.sizes());
    if (ctx->needs_input_grad(1)) r[1] = dh.view({1, N, H});
    if (ctx->needs_input_grad(2)) r[2] = dc.view({1, N, H});
    if (ctx->needs_input_grad(3)) r[3] = at::mm(d2.t(), x.reshape({-1, I}));
    if (ctx->needs_input_grad(4)) r[4] = at::mm(d2.t(), PreviousStates(h0, out, batchFirst).reshape({-1, H}));
    if (ctx->needs_input_grad(5) || ctx->needs_input_grad(6)) {
      at::Tensor db = d2.sum(0);
      if (ctx->needs_input_grad(5)) r[5] = db;
      if (ctx->needs_input_grad(6)) r[6] = db;
    }
    return r;
  }
};

struct FusedGru : torch::autograd::Function<FusedGru> {
  // x: [T, N, I] ([N, T, I] when batchFirst); h0: [1, N, H]; weights as torch::nn::GRU keeps them
  // (gate order r, z, n); biases empty when the layer has none. Returns out and h_n.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& wih,
                               const at::Tensor& whh, const at::Tensor& bih, const at::Tensor& bhh, bool batchFirst) {
    const int64_t td = batchFirst ? 1 : 0, T = x.size(td), N = x.size(1 - td), I = x.size(2), H = whh.size(1);
    at::Tensor x2 = x.reshape({-1, I});
    // every step's x W_ih^T + b_ih at once; each step turns its slice into r, z (sigmoid) and n (tanh)
    at::Tensor gates = bih.numel() ? at::addmm(bih, x2, wih.t()) : at::mm(x2, wih.t());
    gates = gates.view({x.size(0), x.size(1), 3 * H});
    at::Tensor out = at::empty({x.size(0), x.size(1), H}, x.options());
    at::Tensor hns = at::empty({T, N, H}, x.options());  // each step's h W_hn^T + b_hn, which r scales
    at::Tensor hw = at::empty({N, 3 * H}, x.options());
    at::Tensor h = h0.reshape({N, H});
    const at::Tensor whhT = whh.t();
    for (int64_t t = 0; t < T; t++) {
      at::Tensor g = gates.select(td, t), hn = hns[t], ht = out.select(td, t);
      if (bhh.numel())
        at::addmm_out(hw, bhh, h, whhT);
      else
        at::mm_out(hw, h, whhT);
      at::Tensor rz = g.narrow(1, 0, 2 * H), n = g.narrow(1, 2 * H, H);
      rz.add_(hw.narrow(1, 0, 2 * H)).sigmoid_();
      hn.copy_(hw.narrow(1, 2 * H, H));
      n.addcmul_(g.narrow(1, 0, H), hn).tanh_();
      at::sub_out(ht, h, n);  // h' = n + z * (h - n)
      ht.mul_(g.narrow(1, H, H)).add_(n);
      h = ht;
    }
    ctx->save_for_backward({x, h0, wih, whh, gates, hns, out});
    ctx->saved_data["batchFirst"] = batchFirst;
    return {out, h.unsqueeze(0).clone()};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const at::Tensor &x = s[0], &h0 = s[1], &wih = s[2], &whh = s[3], &gates = s[4], &hns = s[5], &out = s[6];
    const bool batchFirst = ctx->saved_data["batchFirst"].toBool();
    const int64_t td = batchFirst ? 1 : 0, T = x.size(td), N = x.size(1 - td), I = x.size(2), H = whh.size(1);
    const at::Tensor& gout = grads[0];
    at::Tensor dh = grads[1].defined() ? grads[1].reshape({N, H}).clone() : at::zeros({N, H}, x.options());
    // pre-activation gradients: of x W_ih^T + b_ih (dxw) and of h W_hh^T + b_hh (dhw), per step
    at::Tensor dxw = at::empty_like(gates, at::MemoryFormat::Contiguous);
    at::Tensor dhw = at::empty_like(gates, at::MemoryFormat::Contiguous);
    for (int64_t t = T - 1; t >= 0; t--) {
      if (gout.defined()) dh.add_(gout.select(td, t));
      const at::Tensor g = gates.select(td, t), dx = dxw.select(td, t), dw = dhw.select(td, t);
      const at::Tensor r = g.narrow(1, 0, H), z = g.narrow(1, H, H), n = g.narrow(1, 2 * H, H);
      const at::Tensor hPrev = t > 0 ? out.select(td, t - 1) : h0.reshape({N, H});
      const at::Tensor dhz = dh * z;
      at::Tensor dn = dx.narrow(1, 2 * H, H);
      at::tanh_backward_out(dn, dh - dhz, n);
      at::Tensor dz = dx.narrow(1, H, H), dr = dx.narrow(1, 0, H), dwn = dw.narrow(1, 2 * H, H);
      at::sigmoid_backward_out(dz, dh * (hPrev - n), z);
      at::sigmoid_backward_out(dr, dn * hns[t], r);
      dw.narrow(1, 0, 2 * H).copy_(dx.narrow(1, 0, 2 * H));
      at::mul_out(dwn, dn, r);
      dh = at::addmm(dhz, dw, whh);
    }
    const at::Tensor dx2 = dxw.view({-1, 3 * H}), dw2 = dhw.view({-1, 3 * H});
    variable_list r(7);
    if (ctx->needs_input_grad(0)) r[0] = at::mm(dx2, wih).view(x.sizes());
    if (ctx->needs_input_grad(1)) r[1] = dh.view({1, N, H});
    if (ctx->needs_input_grad(2)) r[2] = at::mm(dx2.t(), x.reshape({-1, I}));
    if (ctx->needs_input_grad(3)) r[3] = at::mm(dw2.t(), PreviousStates(h0, out, batchFirst).reshape({-1, H}));
    if (ctx->needs_input_grad(4)) r[4] = dx2.sum(0);
    if (ctx->needs_input_grad(5)) r[5] = dw2.sum(0);
    return r;
  }
};

// What every fused forward checks before it runs, and what it runs on: each direction's parameters
// and the initial states (zeros where none are given), [directions, N, H] each. nullopt: let
// libtorch's own RNN run, which also raises libtorch's messages for inputs that do not fit.
struct Direction {
  at::Tensor wih, whh, bih, bhh;  // biases empty when the layer has none
};
struct Prepared {
  std::vector<Direction> dirs;
  std::vector<at::Tensor> states;
};

template <typename Options>
c10::optional<Prepared> Prepare(const Options& o, const std::vector<at::Tensor>& in, size_t nStates,
                                const torch::OrderedDict<std::string, at::Tensor>& params) {
  if (o.num_layers() != 1 || in.empty()) return c10::nullopt;
  const at::Tensor& x = in[0];
  if (!x.defined() || x.dim() != 3 || x.device().type() != at::kCPU || x.numel() == 0) return c10::nullopt;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble) return c10::nullopt;
  if (GetAutocast(at::kCPU).enabled) return c10::nullopt;    // autocast decides the dtypes there
  if (torch::jit::tracer::isTracing()) return c10::nullopt;  // a trace keeps aten::lstm/gru, not unrolled steps
  Prepared p;
  for (const std::string suffix : {"", "_reverse"}) {
    if (!suffix.empty() && !o.bidirectional()) break;
    const at::Tensor *wih = params.find("weight_ih_l0" + suffix), *whh = params.find("weight_hh_l0" + suffix);
    const at::Tensor *bih = params.find("bias_ih_l0" + suffix), *bhh = params.find("bias_hh_l0" + suffix);
    if (!wih || !whh || o.bias() != (bih && bhh) || x.size(2) != wih->size(1)) return c10::nullopt;
    for (const at::Tensor* t : {wih, whh, bih, bhh})
      if (t && (t->scalar_type() != x.scalar_type() || t->device() != x.device())) return c10::nullopt;
    p.dirs.push_back({*wih, *whh, bih ? *bih : at::empty({0}, x.options()), bhh ? *bhh : at::empty({0}, x.options())});
  }
  const int64_t N = x.size(o.batch_first() ? 0 : 1);
  const std::vector<int64_t> want{static_cast<int64_t>(p.dirs.size()), N, p.dirs[0].whh.size(1)};
  size_t given = 0;
  for (size_t k = 1; k <= nStates; k++) given += k < in.size() && in[k].defined();
  if (given != 0 && given != nStates) return c10::nullopt;
  for (size_t k = 1; k <= nStates; k++) {
    if (!given) {
      p.states.push_back(at::zeros(want, x.options()));
      continue;
    }
    const at::Tensor& s = in[k];
    if (s.sizes() != at::IntArrayRef(want) || s.scalar_type() != x.scalar_type() || s.device() != x.device())
      return c10::nullopt;
    p.states.push_back(s);
  }
  return p;
}

// Runs run(x, d) for each direction d, the reverse one on the sequence reversed in time (and its
// outputs turned back), and joins them as libtorch does: outputs along the features, the final
// states along the first dimension.
template <typename Run>
std::vector<at::Tensor> BothDirections(const at::Tensor& x, bool batchFirst, size_t dirs, Run run) {
  const int64_t td = batchFirst ? 1 : 0;
  std::vector<std::vector<at::Tensor>> rs;
  for (size_t d = 0; d < dirs; d++) {
    rs.push_back(run(d ? x.flip({td}) : x, static_cast<int64_t>(d)));
    if (d) rs.back()[0] = rs.back()[0].flip({td});
  }
  if (dirs == 1) return rs[0];
  std::vector<at::Tensor> r;
  for (size_t k = 0; k < rs[0].size(); k++) r.push_back(at::cat({rs[0][k], rs[1][k]}, k ? 0 : 2));
  return r;
}

}  // namespace

c10::optional<std::vector<at::Tensor>> FusedLstmForward(const torch::nn::LSTMImpl& impl,
                                                        const std::vector<at::Tensor>& in) {
  // libtorch 2.x runs a no-grad CPU LSTM through oneDNN, several times faster than these steps
  if (TORCH_VERSION_MAJOR >= 2 && !at::GradMode::is_enabled()) return c10::nullopt;
  if (impl.options.proj_size() != 0) return c10::nullopt;
  const auto params = impl.named_parameters(false);
  auto p = Prepare(impl.options, in, 2, params);
  if (!p) return c10::nullopt;
  const bool bf = impl.options.batch_first();
  return BothDirections(in[0], bf, p->dirs.size(), [&](const at::Tensor& x, int64_t d) {
    const Direction& w = p->dirs[d];
    return FusedLstm::apply(x, p->states[0].narrow(0, d, 1), p->states[1].narrow(0, d, 1), w.wih, w.whh, w.bih, w.bhh,
                            bf);
  });
}

c10::optional<std::vector<at::Tensor>> FusedGruForward(const torch::nn::GRUImpl& impl,
                                                       const std::vector<at::Tensor>& in) {
  const auto params = impl.named_parameters(false);
  auto p = Prepare(impl.options, in, 1, params);
  if (!p) return c10::nullopt;
  const bool bf = impl.options.batch_first();
  return BothDirections(in[0], bf, p->dirs.size(), [&](const at::Tensor& x, int64_t d) {
    const Direction& w = p->dirs[d];
    return FusedGru::apply(x, p->states[0].narrow(0, d, 1), w.wih, w.whh, w.bih, w.bhh, bf);
  });
}

}  // namespace nt
