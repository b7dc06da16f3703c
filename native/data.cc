// Image augmentation for lib/data: one batched affine resampling (affine_grid + grid_sample)
// with Keras' fill modes, so ImageDataGenerator never loops over pixels in JS.
#include "tensor.h"

namespace nt {

namespace {

// Keras fill modes: constant and nearest are grid_sample's zeros and border padding; reflect
// (scipy's half-sample "d c b a | a b c d | d c b a") and wrap ("a b c d | a b c d") fold the
// sampling coordinates into the image first, then sample with border padding.
enum class Fill { kConstant, kNearest, kReflect, kWrap };

Fill ParseFill(const std::string& s) {
  if (s == "constant") return Fill::kConstant;
  if (s == "nearest") return Fill::kNearest;
  if (s == "reflect") return Fill::kReflect;
  if (s == "wrap") return Fill::kWrap;
  throw ArgError("data_affine_transform: expected fillMode to be 'constant', 'nearest', 'reflect' or 'wrap' but got '" +
                 s + "'");
}

// Folds a pixel coordinate (pixel centres at 0..n-1) into [-0.5, n - 0.5].
template <typename T>
T Fold(T p, int64_t n, Fill fill) {
  T size = static_cast<T>(n);
  if (fill == Fill::kWrap) return p - std::floor((p + T(0.5)) / size) * size;
  T u = p + T(0.5);
  u -= std::floor(u / (2 * size)) * (2 * size);
  return (u >= size ? 2 * size - u : u) - T(0.5);
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

// images [N, H, W, C] channels-last; matrices [N, 2, 3] in pixels about the image centre
// ((W-1)/2, (H-1)/2), x = column, y = row, mapping each output pixel to the input point it
// samples (scipy.ndimage.affine_transform's convention, which Keras uses).
napi_value AffineTransform(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "images"), m = a.Tensor(1, "matrices");
  std::string interp = a.String(2, "interpolation");
  Fill fill = ParseFill(a.String(3, "fillMode"));
  double cval = a.Number(4, "cval");
  if (x.dim() != 4 || !at::isFloatingType(x.scalar_type()))
    throw ArgError(
        "data_affine_transform: expected images to be a floating-point [N, height, width, channels] tensor but got " +
        TensorDesc(x));
  if (m.dim() != 3 || m.size(0) != x.size(0) || m.size(1) != 2 || m.size(2) != 3 ||
      !at::isFloatingType(m.scalar_type()))
    throw ArgError("data_affine_transform: expected matrices to be a floating-point [" + std::to_string(x.size(0)) +
                   ", 2, 3] tensor (one per image) but got " + TensorDesc(m));
  int64_t mode;
  if (interp == "bilinear")
    mode = 0;
  else if (interp == "nearest")
    mode = 1;
  else
    throw ArgError("data_affine_transform: expected interpolation to be 'bilinear' or 'nearest' but got '" + interp +
                   "'");
  const at::Tensor md = m.to(at::kDouble).contiguous();
  if (!at::isfinite(md).all().item<bool>() || (md.numel() && md.abs().max().item<double>() > 1e6))
    throw ArgError("data_affine_transform: the matrices must hold finite values of at most 1e6 in magnitude");
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2);
  if (x.numel() == 0) return Wrap(env, x.clone());

  at::Tensor grid = at::empty({n, h, w, 2}, x.options().device(at::kCPU));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "data_affine_transform", [&] {
    FillGrid<scalar_t>(md.data_ptr<double>(), grid.data_ptr<scalar_t>(), n, h, w, fill);
  });
  grid = grid.to(x.device());
  at::Tensor input = x.permute({0, 3, 1, 2});
  bool shifted = fill == Fill::kConstant && cval != 0;
  if (shifted) input = input - cval;
  at::Tensor out = at::grid_sampler(input, grid, mode, fill == Fill::kConstant ? 0 : 1, true);
  if (shifted) out = out + cval;
  return Wrap(env, out.permute({0, 2, 3, 1}).contiguous());
}

const Export kExports[] = {
    NT_EXPORT("data_affine_transform", AffineTransform),
};

}  // namespace

void RegisterData(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
