// Keras' merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) as one
// native module kind, "KerasMerge": the layer's eager call and a Functional graph run this forward on
// the list of inputs. Shapes are checked by the TS layer (with the layer's name) before it runs.
#include "nn.h"
#include "tensor.h"

namespace nt {
namespace {

enum class Merge { kAdd, kSubtract, kMultiply, kAverage, kMaximum, kMinimum, kConcatenate, kDot };

struct MergeImpl : torch::nn::Module {
  Merge mode = Merge::kAdd;
  int64_t axis = -1;             // Concatenate: Keras' axis (counting the batch axis)
  int64_t axisA = 1, axisB = 1;  // Dot: the contracted axis of each input (counting the batch axis)
  bool normalize = false;        // Dot: l2-normalise both along their axes first

  at::Tensor Forward(const std::vector<at::Tensor>& xs) const {
    if (xs.size() < 2) throw ArgError("a merge layer needs a list of at least 2 inputs");
    at::Tensor r = xs[0];
    switch (mode) {
      case Merge::kSubtract: return xs[0] - xs[1];
      case Merge::kConcatenate: return at::cat(xs, axis < 0 ? xs[0].dim() + axis : axis);
      case Merge::kDot: return Dot(xs[0], xs[1]);
      default: break;
    }
    for (size_t k = 1; k < xs.size(); k++) {
      if (mode == Merge::kAdd || mode == Merge::kAverage)
        r = r + xs[k];
      else if (mode == Merge::kMultiply)
        r = r * xs[k];
      else if (mode == Merge::kMaximum)
        r = at::maximum(r, xs[k]);
      else
        r = at::minimum(r, xs[k]);
    }
    return mode == Merge::kAverage ? r / static_cast<double>(xs.size()) : r;
  }

  // a [B, ...] . b [B, ...] over axisA of a and axisB of b: the other axes of a, then of b
  at::Tensor Dot(at::Tensor a, at::Tensor b) const {
    if (normalize) {
      a = a / a.square().sum(axisA, true).sqrt().clamp_min(1e-12);
      b = b / b.square().sum(axisB, true).sqrt().clamp_min(1e-12);
    }
    std::vector<int64_t> pa, pb{0, axisB}, rest;
    for (int64_t d = 0; d < a.dim(); d++)
      if (d != axisA) pa.push_back(d);
    pa.push_back(axisA);
    for (int64_t d = 1; d < b.dim(); d++)
      if (d != axisB) pb.push_back(d);
    const at::Tensor am = a.permute(pa), bm = b.permute(pb);
    for (int64_t d = 1; d + 1 < am.dim(); d++) rest.push_back(am.size(d));
    for (int64_t d = 2; d < bm.dim(); d++) rest.push_back(bm.size(d));
    const int64_t n = am.size(-1), batch = a.size(0);
    at::Tensor r = am.reshape({batch, -1, n}).bmm(bm.reshape({batch, n, -1}));
    std::vector<int64_t> shape{batch};
    if (rest.empty()) rest.push_back(1);
    shape.insert(shape.end(), rest.begin(), rest.end());
    return r.reshape(shape);
  }
};

}  // namespace

ModuleObject* MakeKerasMerge(const Options& o) {
  auto impl = std::make_shared<MergeImpl>();
  const std::string m = o.String("mode", "");
  const std::pair<const char*, Merge> modes[] = {{"add", Merge::kAdd},
                                                 {"subtract", Merge::kSubtract},
                                                 {"multiply", Merge::kMultiply},
                                                 {"average", Merge::kAverage},
                                                 {"maximum", Merge::kMaximum},
                                                 {"minimum", Merge::kMinimum},
                                                 {"concatenate", Merge::kConcatenate},
                                                 {"dot", Merge::kDot}};
  bool found = false;
  for (const auto& [name, mode] : modes)
    if (m == name) {
      impl->mode = mode;
      found = true;
    }
  if (!found) throw ArgError("KerasMerge: unknown mode '" + m + "'");
  impl->axis = o.Int("axis", -1);
  impl->axisA = o.Int("axisA", 1);
  impl->axisB = o.Int("axisB", 1);
  impl->normalize = o.Bool("normalize", false);
  return NewModuleObject("KerasMerge", impl, [impl](const std::vector<at::Tensor>& in, const ForwardExtras&) {
    return std::vector<at::Tensor>{impl->Forward(in)};
  });
}

}  // namespace nt
