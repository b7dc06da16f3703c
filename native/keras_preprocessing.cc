// Keras' image preprocessing layers as native modules: the layer's eager call, predict and every
// training loop run this one forward.
// - RandomFlip, RandomRotation, RandomZoom, RandomTranslation ("KerasRandomImage"): while training,
//   one transform per image (drawn from the layer's own generator when it has a seed, else libtorch's,
//   which nt.manualSeed seeds), resampled through native/data.cc's AffineResample with
//   TransformMatrix, the same code ImageDataGenerator uses; otherwise the identity.
// - Resizing ("KerasResizing"): the optional centred crop, then nearest (index_select) or the other
//   methods as two matmuls with [out, in] weight matrices (differentiable), matching PyTorch's
//   interpolate (bilinear, bicubic a = -0.75, area = adaptive average pooling).
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

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
  std::string interpolation = "bilinear";
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
    return AffineResample(x, m, interpolation, fill, fillValue, 1.0, where);
  }
};

enum class Resize { kNearest, kBilinear, kBicubic, kArea };

// The [out, in] weights resizing one axis from in to out samples (PyTorch's interpolate, no corner alignment).
std::vector<double> ResizeWeights(Resize method, int64_t in, int64_t out) {
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const auto clamp = [in](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
  for (int64_t o = 0; o < out; o++) {
    double* row = m.data() + o * in;
    if (method == Resize::kBilinear) {
      const double src = std::max(scale * (static_cast<double>(o) + 0.5) - 0.5, 0.0);
      const int64_t i0 = static_cast<int64_t>(std::floor(src)), i1 = i0 < in - 1 ? i0 + 1 : i0;
      const double l1 = src - static_cast<double>(i0);
      row[i0] += 1 - l1;
      row[i1] += l1;
    } else if (method == Resize::kBicubic) {
      const double src = scale * (static_cast<double>(o) + 0.5) - 0.5, a = -0.75;
      const int64_t i0 = static_cast<int64_t>(std::floor(src));
      const double t = src - static_cast<double>(i0);
      const auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };
      const auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };
      const double w[4] = {far(t + 1), near(t), near(1 - t), far(2 - t)};
      for (int64_t k = 0; k < 4; k++) row[clamp(i0 - 1 + k)] += w[k];
    } else {  // area: adaptive average pooling's windows
      const int64_t start = (o * in) / out, end = ((o + 1) * in + out - 1) / out;
      for (int64_t i = start; i < end; i++) row[i] = 1.0 / static_cast<double>(end - start);
    }
  }
  return m;
}

// PyTorch's nearest: input index floor((o + 0.5) * scale) with scale and product in float32.
std::vector<int64_t> NearestIndex(int64_t in, int64_t out) {
  const float scale = static_cast<float>(static_cast<double>(in) / static_cast<double>(out));
  std::vector<int64_t> idx(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; o++)
    idx[o] = std::min<int64_t>(static_cast<int64_t>(std::floor(
                                   static_cast<float>((static_cast<double>(o) + 0.5) * static_cast<double>(scale)))),
                               in - 1);
  return idx;
}

struct ResizingImpl : torch::nn::Module {
  int64_t height = 1, width = 1;
  Resize method = Resize::kBilinear;
  bool crop = false;
  std::mutex mu;  // the weights cache: eager calls and a fit may run at once
  std::map<std::pair<int64_t, int64_t>, std::vector<double>> weights;

  at::Tensor Weights(int64_t in, int64_t out, const at::Tensor& like) {
    std::lock_guard<std::mutex> lk(mu);
    auto& w = weights[{in, out}];
    if (w.empty()) w = ResizeWeights(method, in, out);
    return at::tensor(w, at::kDouble).view({out, in}).to(like.options());
  }

  at::Tensor Forward(at::Tensor x) {
    if (x.dim() != 4)
      throw ArgError("Resizing: expected images of shape (batch, height, width, channels) but got " + TensorDesc(x));
    int64_t h = x.size(1), w = x.size(2);
    if (crop) {
      // Keras' crop: the largest centred window with the target's aspect ratio
      const int64_t ch = std::max<int64_t>(std::min<int64_t>(h, (w * height) / width), 1);
      const int64_t cw = std::max<int64_t>(std::min<int64_t>(w, (h * width) / height), 1);
      x = x.narrow(1, (h - ch) / 2, ch).narrow(2, (w - cw) / 2, cw);
      h = ch;
      w = cw;
    }
    if (method == Resize::kNearest) {
      const auto opts = at::TensorOptions().dtype(at::kLong).device(x.device());
      if (h != height) x = x.index_select(1, at::tensor(NearestIndex(h, height), at::kLong).to(opts));
      if (w != width) x = x.index_select(2, at::tensor(NearestIndex(w, width), at::kLong).to(opts));
      return x.contiguous();
    }
    // [N, C, H, W]: the height weights times the rows, then times the width weights transposed
    at::Tensor y = x.permute({0, 3, 1, 2});
    if (h != height) y = Weights(h, height, x).matmul(y);
    if (w != width) y = y.matmul(Weights(w, width, x).t());
    return y.permute({0, 2, 3, 1}).contiguous();
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

ModuleObject* MakeResizing(const Options& o) {
  auto impl = std::make_shared<ResizingImpl>();
  impl->height = o.Int("height", 0);
  impl->width = o.Int("width", 0);
  if (impl->height <= 0 || impl->width <= 0)
    throw ArgError("Resizing: expected height and width to be positive integers but got " +
                   std::to_string(impl->height) + " and " + std::to_string(impl->width));
  const std::string m = o.String("interpolation", "bilinear");
  if (m == "nearest")
    impl->method = Resize::kNearest;
  else if (m == "bilinear")
    impl->method = Resize::kBilinear;
  else if (m == "bicubic")
    impl->method = Resize::kBicubic;
  else if (m == "area")
    impl->method = Resize::kArea;
  else
    throw ArgError("Resizing: expected interpolation to be 'bilinear', 'nearest', 'bicubic' or 'area' but got '" + m +
                   "'");
  impl->crop = o.Bool("cropToAspectRatio", false);
  return NewModuleObject("KerasResizing", impl, [impl](const std::vector<at::Tensor>& in, const ForwardExtras&) {
    return std::vector<at::Tensor>{impl->Forward(in.at(0))};
  });
}

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
    r.interpolation = o.String("interpolation", "bilinear");  // AffineResample checks it, and fillMode
    r.fill = o.String("fillMode", "reflect");
    r.fillValue = o.Number("fillValue", 0);
  } else {
    throw ArgError(r.where + ": expected transform to be 'flip', 'rotation', 'zoom' or 'translation' but got '" + kind +
                   "'");
  }
  if (o.Has("seed")) r.gen = at::detail::createCPUGenerator(static_cast<uint64_t>(o.Number("seed", 0)));
  return NewModuleObject("KerasRandomImage", impl, [impl](const std::vector<at::Tensor>& in, const ForwardExtras&) {
    return std::vector<at::Tensor>{impl->Forward(in.at(0))};
  });
}

}  // namespace nt
