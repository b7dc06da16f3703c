// Images for lib/data: one batched affine resampling with Keras' fill modes, so ImageDataGenerator
// never loops over pixels in JS (a direct sampler for CPU batches, grid_sample for CUDA or
// differentiable inputs); the one JPEG decoder; channel conversion and resizing for every format.
#include "data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "tensor.h"

// libjpeg's header is required to build (Debian: libjpeg62-turbo-dev; scripts/install.js checks for
// it before building), so every binary has the JPEG decoder; the library itself is dlopen'ed.
#if defined(__has_include)
#if !__has_include(<jpeglib.h>)
#error \
    "nodetorch needs libjpeg's header jpeglib.h to build: apt install libjpeg62-turbo-dev (or libjpeg-turbo8-dev, libjpeg-turbo-devel, brew install jpeg-turbo)"
#endif
#endif
#include <dlfcn.h>
#include <jpeglib.h>

namespace nt {

namespace {

// Keras fill modes: constant and nearest are grid_sample's zeros and border padding; reflect
// (scipy's half-sample "d c b a | a b c d | d c b a") and wrap ("a b c d | a b c d") fold the
// sampling coordinates into the image first, then sample with border padding.
enum class Fill { kConstant, kNearest, kReflect, kWrap };

Fill ParseFill(const std::string& s, const std::string& where) {
  if (s == "constant") return Fill::kConstant;
  if (s == "nearest") return Fill::kNearest;
  if (s == "reflect") return Fill::kReflect;
  if (s == "wrap") return Fill::kWrap;
  throw ArgError(where + ": expected fillMode to be 'constant', 'nearest', 'reflect' or 'wrap' but got '" + s + "'");
}

// floor() for the sampler's coordinates (|v| < 2^62): a truncation and a compare.
inline double FastFloor(double v) {
  double t = static_cast<double>(static_cast<int64_t>(v));
  return t > v ? t - 1 : t;
}

// Folds a pixel coordinate (pixel centres at 0..n-1) into [-0.5, n - 0.5].
inline double Fold(double p, int64_t n, Fill fill) {
  const double size = static_cast<double>(n);
  if (fill == Fill::kWrap) return p - FastFloor((p + 0.5) / size) * size;
  double u = p + 0.5;
  u -= FastFloor(u / (2 * size)) * (2 * size);
  return (u >= size ? 2 * size - u : u) - 0.5;
}

// The sampling grid for grid_sampler (align_corners: -1 and 1 are the centres of the edge
// pixels), written in one pass. at::affine_grid_generator builds the same grid through a
// [N, H*W, 3] x [N, 3, 2] bmm, which cost more than the resampling itself on 150x150 images.
template <typename T>
void FillGrid(const double* m, T* grid, int64_t n, int64_t h, int64_t w, Fill fill) {
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  const double nx = w > 1 ? 2.0 / (w - 1) : 0.0, ny = h > 1 ? 2.0 / (h - 1) : 0.0;
  // Any point beyond 2 pixels outside samples like the border (or the constant): clamping there
  // changes no result and keeps huge coordinates from overflowing the sampler's index maths.
  const double lox = -2.0, hix = w + 1.0, loy = -2.0, hiy = h + 1.0;
  const bool fold = fill == Fill::kReflect || fill == Fill::kWrap;
  at::parallel_for(0, n * h, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const double* a = m + (r / h) * 6;
      const double yc = static_cast<double>(r % h) - cy;
      T* g = grid + r * w * 2;
      for (int64_t j = 0; j < w; j++) {
        const double xc = static_cast<double>(j) - cx;
        double px = a[0] * xc + a[1] * yc + a[2] + cx, py = a[3] * xc + a[4] * yc + a[5] + cy;
        if (fold) {
          px = Fold(px, w, fill);
          py = Fold(py, h, fill);
        }
        px = std::min(std::max(px, lox), hix);
        py = std::min(std::max(py, loy), hiy);
        g[2 * j] = static_cast<T>(px * nx - 1.0);
        g[2 * j + 1] = static_cast<T>(py * ny - 1.0);
      }
    }
  });
}

// The integer nearest to v, halves to even: std::nearbyint's default, which grid_sampler uses.
inline int64_t RoundHalfEven(double v) {
  double f = FastFloor(v), d = v - f;
  int64_t i = static_cast<int64_t>(f);
  return d > 0.5 || (d == 0.5 && (i & 1)) ? i + 1 : i;
}

inline double Clamp(double v, double lo, double hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

// Pixel values as float: a table for uint8 (a load instead of an int-to-float conversion).
template <typename In>
struct Reader {
  float operator()(In v) const { return static_cast<float>(v); }
};
template <>
struct Reader<uint8_t> {
  float table[256];
  Reader() {
    for (int i = 0; i < 256; i++) table[i] = static_cast<float>(i);
  }
  float operator()(uint8_t v) const { return table[v]; }
};

// The direct sampler for CPU images: each output pixel's source point is computed once, in
// double, and read with the same rules as grid_sampler(align_corners=true): bilinear weights over
// the four neighbours, nearest rounding half to even; 'constant' reads cval outside the image,
// the other modes clamp to the border after folding. It reads uint8 as well as float (no float
// copy of a decoded batch) and multiplies by `scale` on the way out (ImageDataGenerator's
// rescale), writing channels-last: no permutes, no grid tensor, one pass over the output.
// Rows [begin, end) of the batch, counted across images.
template <typename In, typename Out, int kC, Fill kFill, bool kBilinear>
void SampleRows(const In* in, Out* out, const double* m, int64_t h, int64_t w, int64_t channels, double cval,
                double scale, int64_t begin, int64_t end) {
  const Reader<In> read;
  const int64_t cc = kC > 0 ? kC : channels;
  constexpr bool kConstant = kFill == Fill::kConstant;
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  // constant: anything beyond 2 pixels outside reads like 2 pixels outside (all cval), and the
  // clamp keeps huge coordinates from overflowing the index maths; other modes: the border
  const double lox = kConstant ? -2.0 : 0.0, hix = kConstant ? w + 1.0 : w - 1.0;
  const double loy = kConstant ? -2.0 : 0.0, hiy = kConstant ? h + 1.0 : h - 1.0;
  const float fscale = static_cast<float>(scale), fcval = static_cast<float>(cval);
  const Out outside = static_cast<Out>(cval * scale);
  const int64_t stride = w * cc;
  for (int64_t r = begin; r < end; r++) {
    const int64_t img = r / h;
    const double* a = m + img * 6;
    const In* src = in + img * h * stride;
    Out* dst = out + r * stride;
    const double yc = static_cast<double>(r - img * h) - cy;
    // column j samples (bx + j a[0], by + j a[3])
    const double bx = a[1] * yc + a[2] + cx - a[0] * cx, by = a[4] * yc + a[5] + cy - a[3] * cx;
    for (int64_t j = 0; j < w; j++, dst += cc) {
      double px = bx + a[0] * static_cast<double>(j), py = by + a[3] * static_cast<double>(j);
      if (kFill == Fill::kReflect || kFill == Fill::kWrap) {
        px = Fold(px, w, kFill);
        py = Fold(py, h, kFill);
      }
      // grid_sampler maps every point of a size-1 dimension to its one pixel; so does this
      px = w == 1 ? 0.0 : Clamp(px, lox, hix);
      py = h == 1 ? 0.0 : Clamp(py, loy, hiy);
      if (!kBilinear) {
        const int64_t x = RoundHalfEven(px), y = RoundHalfEven(py);
        if (kConstant && (x < 0 || x >= w || y < 0 || y >= h)) {
          for (int64_t c = 0; c < cc; c++) dst[c] = outside;
        } else {
          const In* p = src + y * stride + x * cc;
          for (int64_t c = 0; c < cc; c++) dst[c] = static_cast<Out>(read(p[c]) * fscale);
        }
        continue;
      }
      // px, py >= -2: truncating after adding 2 is the floor
      const int64_t x0 = static_cast<int64_t>(px + 2.0) - 2, y0 = static_cast<int64_t>(py + 2.0) - 2;
      const float wx = static_cast<float>(px - static_cast<double>(x0));
      const float wy = static_cast<float>(py - static_cast<double>(y0));
      if (!kConstant || (x0 >= 0 && x0 + 1 < w && y0 >= 0 && y0 + 1 < h)) {
        // on the border clamp the far neighbour has weight 0: read the pixel itself instead
        const int64_t dx = x0 + 1 < w ? cc : 0, dy = y0 + 1 < h ? stride : 0;
        const In* p = src + y0 * stride + x0 * cc;
        for (int64_t c = 0; c < cc; c++) {
          const float v00 = read(p[c]), v01 = read(p[c + dx]), v10 = read(p[c + dy]), v11 = read(p[c + dx + dy]);
          const float top = v00 + wx * (v01 - v00), bottom = v10 + wx * (v11 - v10);
          dst[c] = static_cast<Out>((top + wy * (bottom - top)) * fscale);
        }
      } else {
        const bool in_x0 = x0 >= 0 && x0 < w, in_x1 = x0 + 1 >= 0 && x0 + 1 < w;
        const bool in_y0 = y0 >= 0 && y0 < h, in_y1 = y0 + 1 >= 0 && y0 + 1 < h;
        const In* p = src + y0 * stride + x0 * cc;  // only read where in bounds
        for (int64_t c = 0; c < cc; c++) {
          const float v00 = in_y0 && in_x0 ? read(p[c]) : fcval;
          const float v01 = in_y0 && in_x1 ? read(p[c + cc]) : fcval;
          const float v10 = in_y1 && in_x0 ? read(p[c + stride]) : fcval;
          const float v11 = in_y1 && in_x1 ? read(p[c + stride + cc]) : fcval;
          const float top = v00 + wx * (v01 - v00), bottom = v10 + wx * (v11 - v10);
          dst[c] = static_cast<Out>((top + wy * (bottom - top)) * fscale);
        }
      }
    }
  }
}

template <typename In, typename Out, Fill kFill, bool kBilinear>
void SampleAll(const In* in, Out* out, const double* m, int64_t n, int64_t h, int64_t w, int64_t c, double cval,
               double scale) {
  if (c == 3)
    SampleRows<In, Out, 3, kFill, kBilinear>(in, out, m, h, w, c, cval, scale, 0, n * h);
  else if (c == 1)
    SampleRows<In, Out, 1, kFill, kBilinear>(in, out, m, h, w, c, cval, scale, 0, n * h);
  else
    SampleRows<In, Out, 0, kFill, kBilinear>(in, out, m, h, w, c, cval, scale, 0, n * h);
}

template <typename In, typename Out, bool kBilinear>
void SampleFill(const In* in, Out* out, const double* m, int64_t n, int64_t h, int64_t w, int64_t c, Fill fill,
                double cval, double scale) {
  switch (fill) {
    case Fill::kConstant: return SampleAll<In, Out, Fill::kConstant, kBilinear>(in, out, m, n, h, w, c, cval, scale);
    case Fill::kNearest: return SampleAll<In, Out, Fill::kNearest, kBilinear>(in, out, m, n, h, w, c, cval, scale);
    case Fill::kReflect: return SampleAll<In, Out, Fill::kReflect, kBilinear>(in, out, m, n, h, w, c, cval, scale);
    case Fill::kWrap: return SampleAll<In, Out, Fill::kWrap, kBilinear>(in, out, m, n, h, w, c, cval, scale);
  }
}

// One thread: at::parallel_for would run serially here anyway (libtorch's OpenMP pragmas need
// -fopenmp in this file), and the batch pipelines run it beside image decoding in other threads.
template <typename In, typename Out>
void Sample(const at::Tensor& x, at::Tensor& out, const double* m, bool bilinear, Fill fill, double cval,
            double scale) {
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const In* in = x.data_ptr<In>();
  Out* o = out.data_ptr<Out>();
  if (bilinear)
    SampleFill<In, Out, true>(in, o, m, n, h, w, c, fill, cval, scale);
  else
    SampleFill<In, Out, false>(in, o, m, n, h, w, c, fill, cval, scale);
}

}  // namespace

std::array<double, 6> TransformMatrix(double thetaDeg, double tx, double ty, double shearDeg, double zx, double zy,
                                      bool flipHorizontal, bool flipVertical) {
  const double pi = 3.14159265358979323846;
  const double t = thetaDeg * pi / 180, sh = shearDeg * pi / 180, c = std::cos(t), sn = std::sin(t);
  // rotation . shift: [[c, -sn, c*ty - sn*tx], [sn, c, sn*ty + c*tx]] (x shift ty, y shift tx)
  const double r[6] = {c, -sn, c * ty - sn * tx, sn, c, sn * ty + c * tx};
  // . shear [[1, -sin s, 0], [0, cos s, 0]]
  const double s[6] = {r[0], -r[0] * std::sin(sh) + r[1] * std::cos(sh), r[2],
                       r[3], -r[3] * std::sin(sh) + r[4] * std::cos(sh), r[5]};
  // . zoom, then the flips (the output mirrored: the columns times -1)
  const double fx = flipHorizontal ? -1 : 1, fy = flipVertical ? -1 : 1;
  return {s[0] * zx * fx, s[1] * zy * fy, s[2], s[3] * zx * fx, s[4] * zy * fy, s[5]};
}

// matrices in pixels about the image centre ((W-1)/2, (H-1)/2), x = column, y = row, mapping each
// output pixel to the input point it samples (scipy.ndimage.affine_transform's convention, which
// Keras uses). CPU images that need no gradient (uint8, float32, float64) take the direct sampler;
// others (CUDA, autograd) go through grid_sampler, so the result stays differentiable and on its device.
at::Tensor AffineResample(at::Tensor x, const at::Tensor& m, const std::string& interpolation,
                          const std::string& fillMode, double cval, double scale, const std::string& where) {
  const Fill fill = ParseFill(fillMode, where);
  if (interpolation != "bilinear" && interpolation != "nearest")
    throw ArgError(where + ": expected interpolation to be 'bilinear' or 'nearest' but got '" + interpolation + "'");
  const bool bilinear = interpolation == "bilinear";
  const int64_t mode = bilinear ? 0 : 1;
  if (x.dim() != 4 || at::isComplexType(x.scalar_type()))
    throw ArgError(where + ": expected images to be a real [N, height, width, channels] tensor but got " +
                   TensorDesc(x));
  if (m.dim() != 3 || m.size(0) != x.size(0) || m.size(1) != 2 || m.size(2) != 3 ||
      !at::isFloatingType(m.scalar_type()))
    throw ArgError(where + ": expected matrices to be a floating-point [" + std::to_string(x.size(0)) +
                   ", 2, 3] tensor (one per image) but got " + TensorDesc(m));
  if (!std::isfinite(scale))
    throw ArgError(where + ": expected scale to be a finite number but got " + std::to_string(scale));
  const at::Tensor md = m.to(at::kDouble).contiguous();
  const double* mp = md.data_ptr<double>();
  for (int64_t i = 0; i < md.numel(); i++)
    if (!std::isfinite(mp[i]) || std::abs(mp[i]) > 1e6)
      throw ArgError(where + ": the matrices must hold finite values of at most 1e6 in magnitude");
  const bool direct_type =
      x.scalar_type() == at::kByte || x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble;
  if (!direct_type && !at::isFloatingType(x.scalar_type())) x = x.to(at::kFloat);
  const bool direct = x.device().is_cpu() && !x.requires_grad() &&
                      (x.scalar_type() == at::kByte || x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2);
  const at::ScalarType out_type = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  if (x.numel() == 0) return at::empty(x.sizes(), x.options().dtype(out_type));

  if (direct) {
    const at::Tensor in = x.contiguous();
    at::Tensor out = at::empty(in.sizes(), in.options().dtype(out_type));
    if (in.scalar_type() == at::kByte)
      Sample<uint8_t, float>(in, out, mp, bilinear, fill, cval, scale);
    else if (in.scalar_type() == at::kFloat)
      Sample<float, float>(in, out, mp, bilinear, fill, cval, scale);
    else
      Sample<double, double>(in, out, mp, bilinear, fill, cval, scale);
    return out;
  }

  at::Tensor grid = at::empty({n, h, w, 2}, x.options().device(at::kCPU).requires_grad(false));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "data_affine_transform",
                             [&] { FillGrid<scalar_t>(mp, grid.data_ptr<scalar_t>(), n, h, w, fill); });
  grid = grid.to(x.device());
  at::Tensor input = x.permute({0, 3, 1, 2});
  bool shifted = fill == Fill::kConstant && cval != 0;
  if (shifted) input = input - cval;
  at::Tensor out = at::grid_sampler(input, grid, mode, fill == Fill::kConstant ? 0 : 1, true);
  if (shifted) out = out + cval;
  out = out.permute({0, 2, 3, 1}).contiguous();
  if (scale != 1.0) out = out * scale;
  return out;
}

namespace {

// data_affine_transform(images, matrices, interpolation, fillMode, cval, scale?): AffineResample.
napi_value AffineTransform(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, AffineResample(a.Tensor(0, "images"), a.Tensor(1, "matrices"), a.String(2, "interpolation"),
                                  a.String(3, "fillMode"), a.Number(4, "cval"),
                                  a.IsNullish(5) ? 1.0 : a.Number(5, "scale"), "data_affine_transform"));
}

// data_transform_matrices(params [N, 8] float64: theta, tx, ty, shear, zx, zy, flipHorizontal,
// flipVertical) -> [N, 2, 3] float64: TransformMatrix for each image.
napi_value TransformMatrices(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor p = a.Tensor(0, "params").to(at::kDouble).contiguous();
  if (p.dim() != 2 || p.size(1) != 8)
    throw ArgError("data_transform_matrices: expected params to be an [N, 8] tensor but got " + TensorDesc(p));
  at::Tensor out = at::empty({p.size(0), 2, 3}, at::kDouble);
  const double* q = p.data_ptr<double>();
  double* o = out.data_ptr<double>();
  for (int64_t i = 0; i < p.size(0); i++, q += 8, o += 6) {
    const auto m = TransformMatrix(q[0], q[1], q[2], q[3], q[4], q[5], q[6] != 0, q[7] != 0);
    std::copy(m.begin(), m.end(), o);
  }
  return Wrap(env, out);
}

// ---- Image pixels: channels and resizing (data_resize_image), JPEG decoding (data_decode_jpeg) ----
//
// Every JPEG is decoded here, in a libuv thread, at its own size, then converted to the requested
// channels and resized by the same code that data_resize_image runs on every other format's pixels
// (lib/data/images.ts hands it sharp's full-size decodes of PNG and GIF and its own of BMP): one
// definition of colour conversion and of each interpolation for all formats. ICC profiles and EXIF
// orientation are ignored, as TF's and torchvision's decode_jpeg ignore them. libjpeg is loaded with
// dlopen, so the addon links nothing new; where none can be loaded, each JPEG fails with an error
// saying what to install, and `nodetorch info` says so (data_jpeg_info).

// Keras' image_dataset_from_directory resizes with tf.image.resize(method=interpolation), antialias
// off: nearest takes pixel floor((o + 0.5) * in / out); the others weigh the input pixels within the
// kernel's radius of the sample point (o + 0.5) * in / out (pixel j covers [j, j + 1)), drop those
// outside the image and renormalise (TF's scale_and_translate; for bilinear the same as PyTorch's
// interpolate with align_corners false). Bicubic is Keys' cubic with a = -0.5, as TF's.
enum class Kernel { kNearest, kBilinear, kBicubic, kLanczos3, kMitchell };

bool ParseKernel(const std::string& s, Kernel* k) {
  if (s == "nearest")
    *k = Kernel::kNearest;
  else if (s == "bilinear")
    *k = Kernel::kBilinear;
  else if (s == "bicubic")
    *k = Kernel::kBicubic;
  else if (s == "lanczos3")
    *k = Kernel::kLanczos3;
  else if (s == "mitchellcubic")
    *k = Kernel::kMitchell;
  else
    return false;
  return true;
}

double KernelRadius(Kernel k) { return k == Kernel::kBilinear ? 1.0 : k == Kernel::kLanczos3 ? 3.0 : 2.0; }

double KernelWeight(Kernel k, double x) {
  x = std::abs(x);
  switch (k) {
    case Kernel::kBilinear: return x < 1 ? 1 - x : 0;
    case Kernel::kBicubic:
      if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
      return x < 2 ? ((-0.5 * x + 2.5) * x - 4) * x + 2 : 0;
    case Kernel::kLanczos3: {
      if (x < 1e-12) return 1;
      if (x >= 3) return 0;
      const double px = 3.14159265358979323846 * x;
      return 3 * std::sin(px) * std::sin(px / 3) / (px * px);
    }
    case Kernel::kMitchell:
      if (x < 1) return ((7.0 / 6.0 * x - 2) * x) * x + 8.0 / 9.0;
      return x < 2 ? ((-7.0 / 18.0 * x + 2) * x - 10.0 / 3.0) * x + 16.0 / 9.0 : 0;
    case Kernel::kNearest: break;
  }
  return 0;
}

// One axis of a resize: for each output index, `taps` input indices and weights (0 where unused).
struct AxisTaps {
  int64_t taps = 1;
  std::vector<int64_t> index;
  std::vector<float> weight;
  std::vector<int64_t> count;  // per output index, the taps used (the rest have weight 0)
};

AxisTaps MakeTaps(Kernel k, int64_t in, int64_t out) {
  AxisTaps t;
  if (k == Kernel::kNearest) {
    t.index.resize(out);
    t.weight.assign(out, 1.0f);
    t.count.assign(out, 1);
    for (int64_t o = 0; o < out; o++) t.index[o] = std::min((2 * o + 1) * in / (2 * out), in - 1);
    return t;
  }
  const double radius = KernelRadius(k), scale = static_cast<double>(in) / static_cast<double>(out);
  t.taps = static_cast<int64_t>(2 * radius) + 1;  // integers in a window of width 2 * radius
  t.index.assign(out * t.taps, 0);
  t.weight.assign(out * t.taps, 0.0f);
  t.count.assign(out, 1);
  double w[8];
  for (int64_t o = 0; o < out; o++) {
    const double s = (static_cast<double>(o) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(std::ceil(s - radius - 0.5)), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(std::floor(s + radius - 0.5)), in - 1);
    int64_t n = 0;
    double total = 0;
    for (int64_t j = lo; j <= hi && n < t.taps; j++, n++) total += (w[n] = KernelWeight(k, j + 0.5 - s));
    for (int64_t i = 0; i < n; i++) {
      t.index[o * t.taps + i] = lo + i;
      t.weight[o * t.taps + i] = static_cast<float>(std::abs(total) > 1e-30 ? w[i] / total : (i == 0 ? 1.0 : 0.0));
    }
    t.count[o] = std::max<int64_t>(n, 1);
    if (n == 0) {  // not reached for these kernels; the nearest pixel keeps it defined
      t.index[o * t.taps] = std::min<int64_t>(static_cast<int64_t>(s), in - 1);
      t.weight[o * t.taps] = 1.0f;
    }
  }
  return t;
}

inline uint8_t RoundPixel(float v) {
  v = std::floor(v + 0.5f);
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One row along the width: each output pixel's channels weigh its taps (kC: the channels when fixed).
template <int kC>
void ResizeRow(const uint8_t* src, float* dst, const AxisTaps& tx, int64_t ow, int64_t channels) {
  const int64_t c = kC > 0 ? kC : channels;
  for (int64_t x = 0; x < ow; x++) {
    float acc[4] = {0, 0, 0, 0};
    const int64_t* idx = tx.index.data() + x * tx.taps;
    const float* wt = tx.weight.data() + x * tx.taps;
    for (int64_t t = 0; t < tx.count[x]; t++) {
      const uint8_t* p = src + idx[t] * c;
      for (int64_t ch = 0; ch < c; ch++) acc[ch] += wt[t] * static_cast<float>(p[ch]);
    }
    for (int64_t ch = 0; ch < c; ch++) dst[x * c + ch] = acc[ch];
  }
}

// Resizes channels-last uint8 pixels [h, w, c] to [oh, ow, c]: rows, then columns, in float, rounded
// to the nearest integer and clamped to 0..255 (bicubic and lanczos3 overshoot). An axis that keeps
// its size is copied, except under mitchellcubic, which smooths even then (as tf.image.resize does).
void ResizePixels(const uint8_t* in, int64_t h, int64_t w, int64_t c, uint8_t* out, int64_t oh, int64_t ow, Kernel k) {
  const bool smooths = k == Kernel::kMitchell;
  const bool same_w = ow == w && !smooths, same_h = oh == h && !smooths;
  if (same_h && same_w) {
    std::memcpy(out, in, static_cast<size_t>(h * w * c));
    return;
  }
  const AxisTaps tx = MakeTaps(k, w, ow), ty = MakeTaps(k, h, oh);
  if (k == Kernel::kNearest) {
    for (int64_t y = 0; y < oh; y++)
      for (int64_t x = 0; x < ow; x++)
        std::memcpy(out + (y * ow + x) * c, in + (ty.index[y] * w + tx.index[x]) * c, static_cast<size_t>(c));
    return;
  }
  const int64_t row = ow * c;
  // the input rows some output row reads (a large downscale skips most)
  std::vector<char> needed(static_cast<size_t>(h), same_h ? 1 : 0);
  if (!same_h)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t t = 0; t < ty.count[y]; t++) needed[ty.index[y * ty.taps + t]] = 1;
  std::vector<float> tmp(static_cast<size_t>(h * row));  // the rows at the output width
  for (int64_t y = 0; y < h; y++) {
    if (!needed[y]) continue;
    const uint8_t* src = in + y * w * c;
    float* dst = tmp.data() + y * row;
    if (same_w) {
      for (int64_t i = 0; i < row; i++) dst[i] = src[i];
      continue;
    }
    switch (c) {
      case 1: ResizeRow<1>(src, dst, tx, ow, c); break;
      case 3: ResizeRow<3>(src, dst, tx, ow, c); break;
      case 4: ResizeRow<4>(src, dst, tx, ow, c); break;
      default: ResizeRow<0>(src, dst, tx, ow, c);
    }
  }
  std::vector<float> acc(static_cast<size_t>(row));
  for (int64_t y = 0; y < oh; y++) {
    uint8_t* dst = out + y * row;
    if (same_h) {
      for (int64_t i = 0; i < row; i++) dst[i] = RoundPixel(tmp[y * row + i]);
      continue;
    }
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t t = 0; t < ty.count[y]; t++) {
      const float wt = ty.weight[y * ty.taps + t];
      if (wt == 0.0f) continue;
      const float* src = tmp.data() + ty.index[y * ty.taps + t] * row;
      for (int64_t i = 0; i < row; i++) acc[i] += wt * src[i];
    }
    for (int64_t i = 0; i < row; i++) dst[i] = RoundPixel(acc[i]);
  }
}

// Channel conversion of `pixels` pixels: in 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA); out 1, 3
// or 4. Grey from colour is ITU-R 601-2 luma rounded as PIL's convert('L') does; a missing alpha is
// opaque; grey to colour repeats it. In place when cout <= cin.
void ConvertChannels(const uint8_t* in, int64_t cin, uint8_t* out, int64_t cout, int64_t pixels) {
  for (int64_t p = 0; p < pixels; p++) {
    const uint8_t* s = in + p * cin;
    const bool grey = cin <= 2;
    const uint32_t r = s[0], g = grey ? s[0] : s[1], b = grey ? s[0] : s[2];
    const uint8_t a = cin == 2 ? s[1] : cin == 4 ? s[3] : 255;
    uint8_t* d = out + p * cout;
    if (cout == 1) {
      d[0] = grey ? s[0] : static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
      continue;
    }
    d[0] = static_cast<uint8_t>(r);
    d[1] = static_cast<uint8_t>(g);
    d[2] = static_cast<uint8_t>(b);
    if (cout == 4) d[3] = a;
  }
}

// Pixels [h, w, cin] to [oh, ow, cout] in out: channels first where that shrinks them (converting
// then resizing, as PIL and TF do), after resizing otherwise (repeating grey or adding an opaque
// alpha commutes with resizing). `scratch` is reused between calls.
void ConvertAndResize(uint8_t* pixels, int64_t h, int64_t w, int64_t cin, uint8_t* out, int64_t oh, int64_t ow,
                      int64_t cout, Kernel k, std::vector<uint8_t>& scratch) {
  if (cin == cout) return ResizePixels(pixels, h, w, cin, out, oh, ow, k);
  if (cout < cin) {
    ConvertChannels(pixels, cin, pixels, cout, h * w);
    return ResizePixels(pixels, h, w, cout, out, oh, ow, k);
  }
  scratch.resize(static_cast<size_t>(oh * ow * cin));
  ResizePixels(pixels, h, w, cin, scratch.data(), oh, ow, k);
  ConvertChannels(scratch.data(), cin, out, cout, oh * ow);
}

// A decoded image's pixels, left uninitialised: a file that declares a large image and ends early
// touches only the rows it decoded.
struct PixelBuffer {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
  void Reserve(size_t n) {
    if (n <= size) return;
    data.reset();
    size = 0;
    data.reset(new uint8_t[n]);
    size = n;
  }
};

// The largest image decoded: sharp's default limitInputPixels (0x3FFF squared); a file declaring
// more is refused before anything is allocated for it.
constexpr uint64_t kMaxPixels = 0x3FFFull * 0x3FFFull;
constexpr int64_t kMaxFileBytes = int64_t{1} << 30;

// The libjpeg functions used, resolved once from the libjpeg this header belongs to.
struct JpegApi {
  decltype(&jpeg_std_error) std_error = nullptr;
  decltype(&jpeg_CreateDecompress) create_decompress = nullptr;
  decltype(&jpeg_destroy_decompress) destroy_decompress = nullptr;
  decltype(&jpeg_mem_src) mem_src = nullptr;
  decltype(&jpeg_read_header) read_header = nullptr;
  decltype(&jpeg_start_decompress) start_decompress = nullptr;
  decltype(&jpeg_read_scanlines) read_scanlines = nullptr;
  decltype(&jpeg_finish_decompress) finish_decompress = nullptr;
  bool ok = false;
  std::string library;  // the file name dlopen found
};

const JpegApi& Jpeg() {
  static const JpegApi api = [] {
    JpegApi j;
    const std::string v = JPEG_LIB_VERSION == 62 ? "62" : std::to_string(JPEG_LIB_VERSION / 10);
#ifdef __APPLE__
    const std::string names[] = {"libjpeg." + v + ".dylib", "libjpeg.dylib"};
#else
    const std::string names[] = {"libjpeg.so." + v, "libjpeg.so"};
#endif
    void* lib = nullptr;
    for (const std::string& n : names)
      if ((lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL))) {
        j.library = n;
        break;
      }
    if (!lib) return j;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      return fn != nullptr;
    };
    j.ok = get(j.std_error, "jpeg_std_error") && get(j.create_decompress, "jpeg_CreateDecompress") &&
           get(j.destroy_decompress, "jpeg_destroy_decompress") && get(j.mem_src, "jpeg_mem_src") &&
           get(j.read_header, "jpeg_read_header") && get(j.start_decompress, "jpeg_start_decompress") &&
           get(j.read_scanlines, "jpeg_read_scanlines") && get(j.finish_decompress, "jpeg_finish_decompress");
    return j;  // the library stays loaded for the life of the process
  }();
  return api;
}

const char kNoLibjpeg[] =
    "the native JPEG decoder found no libjpeg at run time (Debian/Ubuntu: apt install libjpeg62-turbo; Fedora: "
    "libjpeg-turbo; macOS: brew install jpeg-turbo); `npx nodetorch info` shows what it found";

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// libjpeg's fatal errors must not exit(): back to DecodeJpegFull's setjmp.
void JpegErrorExit(j_common_ptr cinfo) {
  JpegError* e = reinterpret_cast<JpegError*>(cinfo->err);
  e->mgr.format_message(cinfo, e->message);
  longjmp(e->jump, 1);
}

// A warning (corrupt or truncated data) fails the file too, and at once: a small file that
// declares a large image stops where its data does, not after libjpeg has made up the rest.
void JpegMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  JpegError* e = reinterpret_cast<JpegError*>(cinfo->err);
  e->mgr.format_message(cinfo, e->message);
  longjmp(e->jump, 2);
}

// Decodes a whole JPEG (baseline or progressive) at its own size into pixels: grey (1 channel) or
// RGB (3; CMYK and Adobe's YCCK become RGB as PIL makes them, reading the samples as Adobe's
// inverted CMYK). Returns "" or what is wrong with the file: libjpeg's warnings (corrupt or
// truncated data) fail it too, rather than hand back made-up pixels. No C++ object with a
// destructor is created between setjmp and the longjmps that libjpeg's errors and warnings take.
std::string DecodeJpegFull(const JpegApi& api, const unsigned char* data, size_t size, PixelBuffer& pixels,
                           int64_t* height, int64_t* width, int64_t* channels) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = api.std_error(&err.mgr);
  err.mgr.error_exit = JpegErrorExit;
  err.mgr.emit_message = JpegMessage;
  switch (setjmp(err.jump)) {  // (setjmp's value may only be tested, not stored)
    case 0: break;
    case 2:
      api.destroy_decompress(&cinfo);
      return std::string("libjpeg: ") + err.message + " (corrupt or truncated JPEG data)";
    default: api.destroy_decompress(&cinfo); return std::string("libjpeg: ") + err.message;
  }
  api.create_decompress(&cinfo, JPEG_LIB_VERSION, sizeof(cinfo));
  api.mem_src(&cinfo, data, static_cast<unsigned long>(size));
  api.read_header(&cinfo, TRUE);
  const uint64_t w = cinfo.image_width, h = cinfo.image_height;
  if (w * h > kMaxPixels) {
    api.destroy_decompress(&cinfo);
    return "it declares " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the limit of " +
           std::to_string(kMaxPixels);
  }
  int64_t comps = 3;
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE;
    comps = 1;
  } else if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    cinfo.out_color_space = JCS_CMYK;
    comps = 4;
  } else {
    cinfo.out_color_space = JCS_RGB;
  }
  cinfo.dct_method = JDCT_ISLOW;
  bool allocated = true;
  try {
    pixels.Reserve(static_cast<size_t>(w * h * comps));
  } catch (const std::bad_alloc&) {
    allocated = false;
  }
  if (!allocated) {
    api.destroy_decompress(&cinfo);
    return "out of memory for its " + std::to_string(w) + "x" + std::to_string(h) + " pixels";
  }
  api.start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data.get() + static_cast<size_t>(cinfo.output_scanline) * w * comps;
    api.read_scanlines(&cinfo, &row, 1);
  }
  api.finish_decompress(&cinfo);
  api.destroy_decompress(&cinfo);
  if (comps == 4) {  // PIL: nk = 255 - k; r = nk - c * nk / 255 (rounded), with c, k the inverted samples
    auto mul255 = [](uint32_t a, uint32_t b) {
      const uint32_t t = a * b + 128;
      return ((t >> 8) + t) >> 8;
    };
    for (uint64_t p = 0; p < w * h; p++) {
      const uint8_t* s = pixels.data.get() + p * 4;
      const uint32_t k = s[3];
      uint8_t* d = pixels.data.get() + p * 3;
      const uint8_t r = static_cast<uint8_t>(k - mul255(255 - s[0], k)),
                    g = static_cast<uint8_t>(k - mul255(255 - s[1], k)),
                    b = static_cast<uint8_t>(k - mul255(255 - s[2], k));
      d[0] = r;
      d[1] = g;
      d[2] = b;
    }
    comps = 3;
  }
  *height = static_cast<int64_t>(h);
  *width = static_cast<int64_t>(w);
  *channels = comps;
  return "";
}

// Reads a whole regular file (a FIFO or device would block the thread or never end) when it starts
// like a JPEG (FF D8 FF), whatever its name; *jpeg says whether it does. "" or why it could not.
std::string ReadJpegFile(const std::string& path, std::vector<unsigned char>& bytes, bool* jpeg) {
  *jpeg = false;
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "cannot open it (" + std::error_code(errno, std::generic_category()).message() + ")";
  auto read_all = [fd](unsigned char* p, size_t n) {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = read(fd, p + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  };
  struct stat st;
  std::string why;
  unsigned char head[3];
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "it is not a regular file";
  } else if (read_all(head, 3) == 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
    *jpeg = true;
    if (st.st_size > kMaxFileBytes) {
      why = "it has " + std::to_string(st.st_size) + " bytes, more than the 1 GiB an image file may have";
    } else {
      bytes.resize(static_cast<size_t>(st.st_size));
      std::memcpy(bytes.data(), head, 3);
      if (read_all(bytes.data() + 3, bytes.size() - 3) != bytes.size() - 3) why = "it could not be read to its end";
    }
  }
  close(fd);
  return why;
}

struct DecodeJob {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref out_ref = nullptr;
  std::vector<std::string> paths;  // "" = not for this decoder
  // The worker decodes into memory the job owns; the JS buffer may be detached (transferred)
  // while it runs, so it is written only back on the JS thread, after checking it is still there.
  std::vector<uint8_t> pixels;
  int64_t height = 0, width = 0, channels = 0;
  Kernel kernel = Kernel::kBilinear;
  std::vector<std::string> errors;  // per path: why it failed, "" when decoded or not a JPEG
  std::vector<bool> decoded;
  std::string failed;  // the whole batch failed
};

void DecodeExecute(napi_env, void* data) {
  DecodeJob& j = *static_cast<DecodeJob*>(data);
  const JpegApi& api = Jpeg();
  const int64_t image = j.height * j.width * j.channels;
  try {
    j.errors.assign(j.paths.size(), "");
    j.decoded.assign(j.paths.size(), false);
    j.pixels.assign(static_cast<size_t>(image) * j.paths.size(), 0);
  } catch (const std::bad_alloc&) {
    j.failed = "data_decode_jpeg: out of memory for a batch of " + std::to_string(j.paths.size()) + " images";
    return;
  }
  std::vector<unsigned char> bytes;
  PixelBuffer full;
  std::vector<uint8_t> scratch;
  for (size_t i = 0; i < j.paths.size(); i++) {
    if (j.paths[i].empty()) continue;
    try {
      bool jpeg = false;
      std::string why = ReadJpegFile(j.paths[i], bytes, &jpeg);
      if (why.empty() && !jpeg) continue;  // another format
      if (why.empty() && !api.ok) why = kNoLibjpeg;
      int64_t h = 0, w = 0, c = 0;
      if (why.empty()) why = DecodeJpegFull(api, bytes.data(), bytes.size(), full, &h, &w, &c);
      if (why.empty())
        ConvertAndResize(full.data.get(), h, w, c, j.pixels.data() + static_cast<int64_t>(i) * image, j.height, j.width,
                         j.channels, j.kernel, scratch);
      j.errors[i] = why;
      j.decoded[i] = why.empty();
    } catch (const std::bad_alloc&) {
      j.errors[i] = "out of memory while decoding it";
    }
    // one large image should not keep its buffers for the rest of the batch
    if (full.size > (size_t{64} << 20)) full = PixelBuffer();
    if (bytes.capacity() > (size_t{64} << 20)) std::vector<unsigned char>().swap(bytes);
  }
}

void DecodeComplete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<DecodeJob> j(static_cast<DecodeJob*>(data));
  napi_value out = nullptr;
  napi_get_reference_value(env, j->out_ref, &out);
  napi_delete_reference(env, j->out_ref);
  napi_delete_async_work(env, j->work);
  auto reject = [&](const std::string& why) {
    napi_value msg, err;
    napi_create_string_utf8(env, why.c_str(), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, nullptr, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  };
  if (!j->failed.empty()) return reject(j->failed);
  // out, as it is now: a transferred buffer has length 0 and no data
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* dst = nullptr;
  napi_value ab;
  if (out == nullptr || napi_get_typedarray_info(env, out, &type, &length, &dst, &ab, &offset) != napi_ok ||
      length < j->pixels.size())
    return reject(
        "data_decode_jpeg: out was detached (transferred) or shrunk while the decode ran; keep the buffer until the "
        "promise settles");
  const size_t image = static_cast<size_t>(j->height * j->width * j->channels);
  napi_value result;
  napi_create_array_with_length(env, j->errors.size(), &result);
  for (size_t i = 0; i < j->errors.size(); i++) {
    if (j->decoded[i]) std::memcpy(static_cast<uint8_t*>(dst) + i * image, j->pixels.data() + i * image, image);
    napi_set_element(env, result, static_cast<uint32_t>(i),
                     j->errors[i].empty() ? MakeBool(env, j->decoded[i]) : MakeString(env, j->errors[i]));
  }
  napi_resolve_deferred(env, j->deferred, result);
}

Kernel KernelArg(const Args& a, size_t i, const char* where) {
  Kernel k;
  const std::string s = a.String(i, "interpolation");
  if (!ParseKernel(s, &k))
    throw ArgError(std::string(where) +
                   ": expected interpolation to be 'bilinear', 'nearest', 'bicubic', 'lanczos3' or 'mitchellcubic' "
                   "but got '" +
                   s + "'");
  return k;
}

// A Uint8Array (or Buffer) argument: its bytes (already past its byteOffset) and length.
uint8_t* BytesArg(const Args& a, size_t i, const char* where, const char* name, size_t* length) {
  bool typed = false;
  Check(a.env(), napi_is_typedarray(a.env(), a[i], &typed));
  napi_typedarray_type type = napi_int8_array;
  void* data = nullptr;
  *length = 0;
  if (typed) {
    napi_value ab;
    size_t offset;
    Check(a.env(), napi_get_typedarray_info(a.env(), a[i], &type, length, &data, &ab, &offset));
  }
  if (!typed || type != napi_uint8_array)
    throw ArgError(std::string(where) + ": expected " + name + " to be a Buffer or Uint8Array but got " +
                   DescribeValue(a.env(), a[i]));
  return static_cast<uint8_t*>(data);
}

// data_decode_jpeg(paths, out, height, width, channels, interpolation) -> Promise<(boolean | string)[]>:
// decodes the file at paths[i] (null: skipped) if it is a JPEG (by its content, not its name),
// converts it to `channels` (1, 3 or 4) and resizes it to height x width into
// out[i * height * width * channels ...]. Per path: true when decoded, false when not a JPEG (or
// skipped), else what is wrong with the file (unreadable, not a regular file, corrupt, too large).
napi_value DecodeJpegBatch(napi_env env, napi_callback_info info) {
  Args a(env, info);
  bool isArray = false;
  Check(env, napi_is_array(env, a[0], &isArray));
  if (!isArray) throw ArgError("data_decode_jpeg: expected paths to be an array but got " + DescribeValue(env, a[0]));
  size_t length = 0;
  BytesArg(a, 1, "data_decode_jpeg", "out", &length);
  auto j = std::make_unique<DecodeJob>();
  j->height = a.Int(2, "height");
  j->width = a.Int(3, "width");
  j->channels = a.Int(4, "channels");
  j->kernel = a.IsNullish(5) ? Kernel::kBilinear : KernelArg(a, 5, "data_decode_jpeg");
  if (j->height <= 0 || j->width <= 0 || j->height > 65535 || j->width > 65535)
    throw ArgError("data_decode_jpeg: expected height and width in 1..65535 but got " + std::to_string(j->height) +
                   "x" + std::to_string(j->width));
  if (j->channels != 1 && j->channels != 3 && j->channels != 4)
    throw ArgError("data_decode_jpeg: expected channels to be 1, 3 or 4 but got " + std::to_string(j->channels));
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, a[0], &n));
  const uint64_t image = static_cast<uint64_t>(j->height * j->width * j->channels);
  if (static_cast<uint64_t>(length) / image < n)
    throw ArgError("data_decode_jpeg: out holds " + std::to_string(length) + " bytes, less than " + std::to_string(n) +
                   " images of " + std::to_string(image) + " bytes");
  j->paths.resize(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    Check(env, napi_get_element(env, a[0], i, &e));
    napi_valuetype t;
    Check(env, napi_typeof(env, e, &t));
    if (t == napi_null || t == napi_undefined) continue;
    if (t != napi_string)
      throw ArgError("data_decode_jpeg: expected paths[" + std::to_string(i) + "] to be a string or null but got " +
                     DescribeValue(env, e));
    size_t len = 0;
    Check(env, napi_get_value_string_utf8(env, e, nullptr, 0, &len));
    if (len == 0) throw ArgError("data_decode_jpeg: expected paths[" + std::to_string(i) + "] to be a non-empty path");
    j->paths[i].resize(len);
    Check(env, napi_get_value_string_utf8(env, e, &j->paths[i][0], len + 1, &len));
  }
  // the buffer is written when the worker is done, if it is still attached then
  Check(env, napi_create_reference(env, a[1], 1, &j->out_ref));
  return QueueAsync(env, std::move(j), "nodetorch.data_decode_jpeg", DecodeExecute, DecodeComplete);
}

// data_resize_image(pixels, height, width, channels, out, outHeight, outWidth, outChannels, interpolation):
// the channel conversion and resize that data_decode_jpeg applies, on one decoded image's uint8
// pixels [height, width, channels (1..4)] into out [outHeight, outWidth, outChannels (1, 3, 4)].
// Synchronous: both buffers are read and written within the call.
napi_value ResizeImage(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const char* where = "data_resize_image";
  size_t in_len = 0, out_len = 0;
  const uint8_t* in = BytesArg(a, 0, where, "pixels", &in_len);
  const int64_t h = a.Int(1, "height"), w = a.Int(2, "width"), c = a.Int(3, "channels");
  uint8_t* out = BytesArg(a, 4, where, "out", &out_len);
  const int64_t oh = a.Int(5, "outHeight"), ow = a.Int(6, "outWidth"), oc = a.Int(7, "outChannels");
  const Kernel k = KernelArg(a, 8, where);
  if (h <= 0 || w <= 0 || h > 65535 || w > 65535 || oh <= 0 || ow <= 0 || oh > 65535 || ow > 65535)
    throw ArgError(std::string(where) + ": expected sizes in 1..65535 but got " + std::to_string(h) + "x" +
                   std::to_string(w) + " to " + std::to_string(oh) + "x" + std::to_string(ow));
  if (c < 1 || c > 4 || (oc != 1 && oc != 3 && oc != 4))
    throw ArgError(std::string(where) + ": expected channels in 1..4 and outChannels 1, 3 or 4 but got " +
                   std::to_string(c) + " and " + std::to_string(oc));
  if (static_cast<uint64_t>(h) * static_cast<uint64_t>(w) > kMaxPixels)
    throw ArgError(std::string(where) + ": " + std::to_string(h) + "x" + std::to_string(w) +
                   " pixels is more than the limit of " + std::to_string(kMaxPixels));
  if (in_len < static_cast<size_t>(h * w * c) || out_len < static_cast<size_t>(oh * ow * oc))
    throw ArgError(std::string(where) + ": expected pixels to hold " + std::to_string(h * w * c) + " bytes and out " +
                   std::to_string(oh * ow * oc) + " but they hold " + std::to_string(in_len) + " and " +
                   std::to_string(out_len));
  std::vector<uint8_t> pixels(in, in + h * w * c), scratch;
  ConvertAndResize(pixels.data(), h, w, c, out, oh, ow, oc, k, scratch);
  return Undefined(env);
}

// data_jpeg_info() -> string: the libjpeg the native decoder loaded and its API version, or ''
// when none could be loaded (then every JPEG fails with an error saying what to install).
napi_value JpegInfo(napi_env env, napi_callback_info) {
  const JpegApi& api = Jpeg();
  std::string s = api.ok ? api.library + " (libjpeg API " + std::to_string(JPEG_LIB_VERSION) + ")" : "";
  return MakeString(env, s);
}

const Export kExports[] = {
    NT_EXPORT("data_affine_transform", AffineTransform), NT_EXPORT("data_transform_matrices", TransformMatrices),
    NT_EXPORT("data_decode_jpeg", DecodeJpegBatch),      NT_EXPORT("data_jpeg_info", JpegInfo),
    NT_EXPORT("data_resize_image", ResizeImage),
};

}  // namespace

void RegisterData(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
