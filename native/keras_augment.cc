// Keras' random image layers (RandomFlip, RandomRotation, RandomZoom, RandomTranslation) as a native
// module: the layer's eager call, predict and every training loop run this one forward. While
// training it draws one transform per image (from the layer's own generator when it has a seed, else
// libtorch's, which nt.manualSeed seeds) and resamples through native/data.cc's AffineResample with
// TransformMatrix, the same code ImageDataGenerator uses; otherwise it is the identity.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "data.h"
#include "nn.h"
#include "tensor.h"

namespace nt {
namespace {

enum class Kind { kFlip, kRotation, kZoom, kTranslation };

struct RandomImageImpl : torch::nn::Module {
  std::string where;  // the layer's class name, for messages
  Kind kind = Kind::kFlip;
  std::vector<int64_t> flipDims;      // RandomFlip: 2 (columns) and/or 1 (rows), in Keras' order
  std::vector<double> height, width;  // [lower, upper] factors (rotation: height only); width empty: as height
  bool bilinear = true;
  std::string fill = "reflect";
  double fillValue = 0;
  c10::optional<at::Generator> gen;

  // count uniforms in [0, 1), as float64
  std::vector<double> Uniforms(int64_t count) {
    at::Tensor u = at::rand({count}, gen, at::TensorOptions().dtype(at::kDouble));
    return std::vector<double>(u.data_ptr<double>(), u.data_ptr<double>() + count);
  }

  at::Tensor Forward(const at::Tensor& x) {
    if (!is_training()) return x;
    if (x.dim() != 4)
      throw ArgError(where + ": expected images of shape (batch, height, width, channels) but got " + TensorDesc(x));
    const int64_t n = x.size(0);
    const double h = static_cast<double>(x.size(1)), w = static_cast<double>(x.size(2));
    const auto lerp = [](const std::vector<double>& r, double u) { return r[0] + (r[1] - r[0]) * u; };
    if (kind == Kind::kFlip) {
      const int64_t k = static_cast<int64_t>(flipDims.size());
      const at::Tensor u = at::tensor(Uniforms(n * k), at::kDouble).view({n, k}).lt(0.5).to(x.device());
      at::Tensor out = x;
      for (int64_t j = 0; j < k; j++) out = at::where(u.select(1, j).view({n, 1, 1, 1}), out.flip({flipDims[j]}), out);
      return out;
    }
    const int64_t per = kind == Kind::kRotation ? 1 : kind == Kind::kZoom && width.empty() ? 1 : 2;
    const std::vector<double> u = Uniforms(n * per);
    at::Tensor m = at::empty({n, 2, 3}, at::kDouble);
    double* mp = m.data_ptr<double>();
    for (int64_t i = 0; i < n; i++) {
      double theta = 0, tx = 0, ty = 0, zx = 1, zy = 1;
      if (kind == Kind::kRotation) {
        theta = lerp(height, u[i]) * 360;
      } else if (kind == Kind::kZoom) {
        zy = 1 + lerp(height, u[i * per]);
        zx = width.empty() ? zy : 1 + lerp(width, u[i * per + 1]);
      } else {
        // the sampling offsets: the content moves by minus them
        tx = -lerp(height, u[2 * i]) * h;
        ty = -lerp(width, u[2 * i + 1]) * w;
      }
      const auto t = TransformMatrix(theta, tx, ty, 0, zx, zy, false, false);
      std::copy(t.begin(), t.end(), mp + 6 * i);
    }
    return AffineResample(x, m, bilinear, fill, fillValue, 1.0, where);
  }
};

std::vector<double> Range(const Options& o, const char* key, const std::string& where, bool optional) {
  std::vector<double> r = o.NumberList(key, {});
  if (r.empty() && optional) return r;
  if (r.size() != 2 || !(r[0] <= r[1]) || r[0] < -1 || r[1] > 1)
    throw ArgError(where + ": expected " + key + " to be [lower, upper] with -1 <= lower <= upper <= 1");
  return r;
}

}  // namespace

ModuleObject* MakeRandomImage(const Options& o) {
  auto impl = std::make_shared<RandomImageImpl>();
  RandomImageImpl& r = *impl;
  r.where = o.String("layer", "RandomImage");
  const std::string kind = o.String("transform", "");
  if (kind == "flip") {
    r.kind = Kind::kFlip;
    const std::string mode = o.String("mode", "horizontal_and_vertical");
    if (mode == "horizontal")
      r.flipDims = {2};
    else if (mode == "vertical")
      r.flipDims = {1};
    else if (mode == "horizontal_and_vertical")
      r.flipDims = {2, 1};
    else
      throw ArgError(r.where + ": expected mode to be 'horizontal', 'vertical' or 'horizontal_and_vertical' but got '" +
                     mode + "'");
  } else if (kind == "rotation" || kind == "zoom" || kind == "translation") {
    r.kind = kind == "rotation" ? Kind::kRotation : kind == "zoom" ? Kind::kZoom : Kind::kTranslation;
    r.height = Range(o, "height", r.where, false);
    if (r.kind != Kind::kRotation) r.width = Range(o, "width", r.where, r.kind == Kind::kZoom);
    const std::string interp = o.String("interpolation", "bilinear");
    if (interp != "bilinear" && interp != "nearest")
      throw ArgError(r.where + ": expected interpolation to be 'bilinear' or 'nearest' but got '" + interp + "'");
    r.bilinear = interp == "bilinear";
    r.fill = o.String("fillMode", "reflect");
    r.fillValue = o.Number("fillValue", 0);
  } else {
    throw ArgError(r.where + ": expected transform to be 'flip', 'rotation', 'zoom' or 'translation' but got '" + kind +
                   "'");
  }
  if (o.Has("seed")) r.gen = at::detail::createCPUGenerator(static_cast<uint64_t>(o.Number("seed", 0)));
  auto* m = new ModuleObject();
  m->kind = "KerasRandomImage";
  m->module = impl;
  m->forward = [impl](const std::vector<at::Tensor>& in, const ForwardExtras&) {
    return std::vector<at::Tensor>{impl->Forward(in.at(0))};
  };
  return m;
}

}  // namespace nt
