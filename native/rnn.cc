// A single-layer LSTM as one autograd node (torch::autograd::Function), for training on CPU.
//
// at::lstm's CPU path records every op of every time step for autograd: ~10 nodes a step forward and
// twice that in backward, each with its own bookkeeping, so a 200-step IMDB LSTM spends most of its
// time outside the matmuls. Here the forward runs the steps with no autograd (the gates of every step
// kept), and the backward is written out: one matmul a step for the recurrent gradient, and the
// weight and input gradients as three matmuls over all steps at once. Same maths as at::lstm
// (gate order i, f, g, o; c' = f*c + i*g; h' = o*tanh(c')), checked against it in
// test/nn_lstm_fused.test.ts (values and gradients, both layouts, with and without initial states).
#include <torch/csrc/jit/frontend/tracer.h>

#include "amp.h"
#include "nn.h"

namespace nt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

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
    at::Tensor h = h0.view({N, H}), c = c0.view({N, H});
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
      const at::Tensor cPrev = t > 0 ? cs[t - 1] : c0.view({N, H});
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
    if (ctx->needs_input_grad(4)) {
      // h_{t-1} for every step, in x's layout: h0, then the outputs of all steps but the last
      const at::Tensor first = batchFirst ? h0.view({N, 1, H}) : h0.view({1, N, H});
      const at::Tensor prev = T > 1 ? at::cat({first, out.narrow(td, 0, T - 1)}, td) : first;
      r[4] = at::mm(d2.t(), prev.reshape({-1, H}));
    }
    if (ctx->needs_input_grad(5) || ctx->needs_input_grad(6)) {
      at::Tensor db = d2.sum(0);
      if (ctx->needs_input_grad(5)) r[5] = db;
      if (ctx->needs_input_grad(6)) r[6] = db;
    }
    return r;
  }
};

}  // namespace

c10::optional<std::vector<at::Tensor>> FusedLstmForward(const torch::nn::LSTMImpl& impl,
                                                        const std::vector<at::Tensor>& in) {
  const auto& o = impl.options;
  if (o.num_layers() != 1 || o.bidirectional() || o.proj_size() != 0 || in.empty()) return c10::nullopt;
  const at::Tensor& x = in[0];
  if (!x.defined() || x.dim() != 3 || x.device().type() != at::kCPU || x.numel() == 0) return c10::nullopt;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble) return c10::nullopt;
  // libtorch 2.x runs a no-grad CPU LSTM through oneDNN, several times faster than these steps
  if (TORCH_VERSION_MAJOR >= 2 && !at::GradMode::is_enabled()) return c10::nullopt;
  if (GetAutocast(at::kCPU).enabled) return c10::nullopt;    // autocast decides the dtypes there
  if (torch::jit::tracer::isTracing()) return c10::nullopt;  // a trace keeps aten::lstm, not 200 unrolled steps
  const auto params = impl.named_parameters(false);
  const at::Tensor *wih = params.find("weight_ih_l0"), *whh = params.find("weight_hh_l0");
  const at::Tensor *bih = params.find("bias_ih_l0"), *bhh = params.find("bias_hh_l0");
  if (!wih || !whh || o.bias() != (bih && bhh)) return c10::nullopt;
  const int64_t td = o.batch_first() ? 1 : 0, N = x.size(1 - td), H = o.hidden_size();
  if (x.size(2) != wih->size(1)) return c10::nullopt;  // at::lstm's own message says what is wrong
  for (const at::Tensor* p : {wih, whh, bih, bhh})
    if (p && (p->scalar_type() != x.scalar_type() || p->device() != x.device())) return c10::nullopt;
  at::Tensor h0, c0;
  if (in.size() > 2 && in[1].defined() && in[2].defined()) {
    const std::vector<int64_t> want{1, N, H};
    if (in[1].sizes() != at::IntArrayRef(want) || in[2].sizes() != at::IntArrayRef(want) ||
        in[1].scalar_type() != x.scalar_type() || in[2].scalar_type() != x.scalar_type() ||
        in[1].device() != x.device() || in[2].device() != x.device())
      return c10::nullopt;
    h0 = in[1];
    c0 = in[2];
  } else if (in.size() > 1 && (in[1].defined() || (in.size() > 2 && in[2].defined()))) {
    return c10::nullopt;
  } else {
    h0 = at::zeros({1, N, H}, x.options());
    c0 = at::zeros({1, N, H}, x.options());
  }
  auto r = FusedLstm::apply(x, h0, c0, *wih, *whh, bih ? *bih : at::empty({0}, x.options()),
                            bhh ? *bhh : at::empty({0}, x.options()), o.batch_first());
  return std::vector<at::Tensor>{r[0], r[1], r[2]};
}

}  // namespace nt
