// Keras' MultiHeadAttention as a native module ("KerasMultiHeadAttention"): the layer's eager call
// (query, value, key, attention mask, causal mask, scores), a Functional graph, and a Sequential's
// self-attention in the native training loop run this one forward. Its weights are the layer's own
// tensors in Keras' layouts (query/key/value kernels [features, heads, dim] and biases [heads, dim],
// the output kernel [heads, valueDim, ...outputShape] and bias [...outputShape]), registered as the
// module's parameters, so the optimizer's updates and set_data (setWeights, loading) are seen here.
#include "nn.h"
#include "tensor.h"

namespace nt {
namespace {

struct AttentionImpl : torch::nn::Module {
  int64_t heads = 1, keyDim = 1, valueDim = 1;
  double dropout = 0;
  at::Tensor wq, wk, wv, wo, bq, bk, bv, bo;  // biases undefined without useBias

  // x [B, L, F] -> [B, heads, L, dim]
  at::Tensor Project(const at::Tensor& x, const at::Tensor& kernel, const at::Tensor& bias, int64_t dim) const {
    at::Tensor y = x.to(kernel.scalar_type()).matmul(kernel.reshape({kernel.size(0), heads * dim}));
    if (bias.defined()) y = y + bias.reshape({heads * dim});
    return y.reshape({x.size(0), x.size(1), heads, dim}).permute({0, 2, 1, 3});
  }

  // in: query, then value and key (each defaulting to the one before). Returns [output, scores].
  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& in, const at::Tensor& maskIn, bool causal) {
    const at::Tensor& q = in.at(0);
    const at::Tensor& v = in.size() > 1 && in[1].defined() ? in[1] : q;
    const at::Tensor& k = in.size() > 2 && in[2].defined() ? in[2] : v;
    for (const at::Tensor* t : {&q, &v, &k})
      if (t->dim() != 3)
        throw ArgError("MultiHeadAttention: expected inputs of shape (batch, seq, features) but got " + TensorDesc(*t));
    const int64_t B = q.size(0), T = q.size(1), S = v.size(1);
    const at::Tensor qh = Project(q, wq, bq, keyDim) * (1.0 / std::sqrt(static_cast<double>(keyDim)));
    const at::Tensor kh = Project(k, wk, bk, keyDim), vh = Project(v, wv, bv, valueDim);
    at::Tensor scores = qh.matmul(kh.transpose(2, 3));  // [B, heads, T, S]
    const auto dtype = wq.scalar_type();
    at::Tensor mask;
    if (maskIn.defined()) {
      mask = (maskIn.scalar_type() == at::kBool ? maskIn : maskIn.ne(0)).to(scores.device(), dtype);
      if (mask.dim() == 2) mask = mask.unsqueeze(0);
    }
    if (causal) {
      at::Tensor c = at::ones({T, S}, scores.options().dtype(dtype)).tril().unsqueeze(0);
      mask = mask.defined() ? mask * c : c;
    }
    // Keras' masked softmax: -1e9 where the mask is 0 (a fully masked row becomes uniform, not NaN)
    if (mask.defined()) scores = scores + (1 - mask).mul(-1e9).unsqueeze(1);
    const at::Tensor probs = scores.softmax(-1);
    const at::Tensor dropped = dropout > 0 && is_training() ? at::dropout(probs, dropout, true) : probs;
    const at::Tensor ctx = dropped.matmul(vh).permute({0, 2, 1, 3}).reshape({B, T, heads * valueDim});
    std::vector<int64_t> outDims(wo.sizes().begin() + 2, wo.sizes().end());
    int64_t outSize = 1;
    for (int64_t d : outDims) outSize *= d;
    at::Tensor y = ctx.matmul(wo.reshape({heads * valueDim, outSize}));
    if (bo.defined()) y = y + bo.reshape({outSize});
    std::vector<int64_t> shape{B, T};
    shape.insert(shape.end(), outDims.begin(), outDims.end());
    return {y.reshape(shape), probs};
  }
};

}  // namespace

ModuleObject* MakeKerasAttention(const Options& o) {
  auto impl = std::make_shared<AttentionImpl>();
  AttentionImpl& a = *impl;
  a.heads = o.Int("numHeads", 0);
  a.keyDim = o.Int("keyDim", 0);
  a.valueDim = o.Int("valueDim", 0);
  a.dropout = o.Number("dropout", 0);
  if (a.heads <= 0 || a.keyDim <= 0 || a.valueDim <= 0 || !(a.dropout >= 0 && a.dropout < 1))
    throw ArgError("MultiHeadAttention: expected positive numHeads, keyDim, valueDim and dropout in [0, 1)");
  const char* names[8] = {"query_kernel", "key_kernel", "value_kernel", "output_kernel",
                          "query_bias",   "key_bias",   "value_bias",   "output_bias"};
  at::Tensor* slots[8] = {&a.wq, &a.wk, &a.wv, &a.wo, &a.bq, &a.bk, &a.bv, &a.bo};
  for (int i = 0; i < 8; i++) {
    auto t = o.Tensor(names[i]);
    if (!t) {
      if (i < 4) throw ArgError(std::string("MultiHeadAttention: the module needs its ") + names[i]);
      continue;
    }
    *slots[i] = impl->register_parameter(names[i], *t, t->requires_grad());
  }
  const int64_t dims[3] = {a.keyDim, a.keyDim, a.valueDim};
  for (int i = 0; i < 3; i++)
    if (slots[i]->dim() != 3 || slots[i]->size(1) != a.heads || slots[i]->size(2) != dims[i])
      throw ArgError(std::string("MultiHeadAttention: ") + names[i] + " has the wrong shape: " + TensorDesc(*slots[i]));
  if (a.wo.dim() < 3 || a.wo.size(0) != a.heads || a.wo.size(1) != a.valueDim)
    throw ArgError("MultiHeadAttention: output_kernel has the wrong shape: " + TensorDesc(a.wo));
  return NewModuleObject("KerasMultiHeadAttention", impl,
                         [impl](const std::vector<at::Tensor>& in, const ForwardExtras& ex) {
                           auto r = impl->Forward(in, ex.attn_mask, ex.is_causal);
                           if (!ex.need_weights) r[1] = at::Tensor();
                           return r;
                         });
}

}  // namespace nt
