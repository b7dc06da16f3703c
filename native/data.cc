// Image augmentation for lib/data: one batched affine resampling with Keras' fill modes, so
// ImageDataGenerator never loops over pixels in JS: a direct sampler for CPU batches, and
// grid_sample for CUDA or differentiable inputs.
#include <csetjmp>
#include <cstdio>
#include <cstring>

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

Fill ParseFill(const std::string& s) {
  if (s == "constant") return Fill::kConstant;
  if (s == "nearest") return Fill::kNearest;
  if (s == "reflect") return Fill::kReflect;
  if (s == "wrap") return Fill::kWrap;
  throw ArgError("data_affine_transform: expected fillMode to be 'constant', 'nearest', 'reflect' or 'wrap' but got '" +
                 s + "'");
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

// images [N, H, W, C] channels-last; matrices [N, 2, 3] in pixels about the image centre
// ((W-1)/2, (H-1)/2), x = column, y = row, mapping each output pixel to the input point it
// samples (scipy.ndimage.affine_transform's convention, which Keras uses). Returns
// sample(images) * scale as float32 (float64 for float64 images). CPU images that need no
// gradient (uint8, float32, float64) take the direct sampler; others (CUDA, autograd) go through
// grid_sampler, so the result stays differentiable and on its device.
napi_value AffineTransform(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::Tensor x = a.Tensor(0, "images");
  const at::Tensor m = a.Tensor(1, "matrices");
  std::string interp = a.String(2, "interpolation");
  Fill fill = ParseFill(a.String(3, "fillMode"));
  double cval = a.Number(4, "cval");
  double scale = a.IsNullish(5) ? 1.0 : a.Number(5, "scale");
  if (x.dim() != 4 || at::isComplexType(x.scalar_type()))
    throw ArgError("data_affine_transform: expected images to be a real [N, height, width, channels] tensor but got " +
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
  if (!std::isfinite(scale))
    throw ArgError("data_affine_transform: expected scale to be a finite number but got " + std::to_string(scale));
  const at::Tensor md = m.to(at::kDouble).contiguous();
  const double* mp = md.data_ptr<double>();
  for (int64_t i = 0; i < md.numel(); i++)
    if (!std::isfinite(mp[i]) || std::abs(mp[i]) > 1e6)
      throw ArgError("data_affine_transform: the matrices must hold finite values of at most 1e6 in magnitude");
  const bool direct_type =
      x.scalar_type() == at::kByte || x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble;
  if (!direct_type && !at::isFloatingType(x.scalar_type())) x = x.to(at::kFloat);
  const bool direct = x.device().is_cpu() && !x.requires_grad() &&
                      (x.scalar_type() == at::kByte || x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2);
  const at::ScalarType out_type = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  if (x.numel() == 0) return Wrap(env, at::empty(x.sizes(), x.options().dtype(out_type)));

  if (direct) {
    const at::Tensor in = x.contiguous();
    at::Tensor out = at::empty(in.sizes(), in.options().dtype(out_type));
    const bool bilinear = mode == 0;
    if (in.scalar_type() == at::kByte)
      Sample<uint8_t, float>(in, out, mp, bilinear, fill, cval, scale);
    else if (in.scalar_type() == at::kFloat)
      Sample<float, float>(in, out, mp, bilinear, fill, cval, scale);
    else
      Sample<double, double>(in, out, mp, bilinear, fill, cval, scale);
    return Wrap(env, out);
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
  return Wrap(env, out);
}

// ---- JPEG decoding (data_decode_jpeg) ----
//
// sharp (libvips) spends ~2-3 ms of CPU per small JPEG on its pipeline machinery, several times
// the decode itself; libjpeg-turbo decodes a 150x150 JPEG in ~0.3 ms. So a batch's JPEGs that
// need no resampling are decoded here, in a libuv thread, straight into the batch buffer; every
// other file (PNG, another size, an ICC profile to apply, CMYK, anything libjpeg warns about)
// is reported back and goes through sharp, which makes the same pixels for these files (the
// same libjpeg-turbo decoder; checked bit for bit in test/images.test.ts). libjpeg is loaded
// with dlopen, so the addon links nothing new and loads where no libjpeg is installed: there
// every file goes through sharp, and `nodetorch info` says so (data_jpeg_info).

// The libjpeg functions used, resolved once from the libjpeg this header belongs to.
struct JpegApi {
  decltype(&jpeg_std_error) std_error = nullptr;
  decltype(&jpeg_CreateDecompress) create_decompress = nullptr;
  decltype(&jpeg_destroy_decompress) destroy_decompress = nullptr;
  decltype(&jpeg_mem_src) mem_src = nullptr;
  decltype(&jpeg_save_markers) save_markers = nullptr;
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
           get(j.save_markers, "jpeg_save_markers") && get(j.read_header, "jpeg_read_header") &&
           get(j.start_decompress, "jpeg_start_decompress") && get(j.read_scanlines, "jpeg_read_scanlines") &&
           get(j.finish_decompress, "jpeg_finish_decompress");
    return j;  // the library stays loaded for the life of the process
  }();
  return api;
}

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  bool warned;
};

void JpegErrorExit(j_common_ptr cinfo) { longjmp(reinterpret_cast<JpegError*>(cinfo->err)->jump, 1); }

// sharp fails on libjpeg's warnings (corrupt data, a truncated file): leave those files to it.
void JpegMessage(j_common_ptr cinfo, int level) {
  if (level < 0) reinterpret_cast<JpegError*>(cinfo->err)->warned = true;
}

bool HasIccProfile(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 2 && m->data_length >= 12 && std::memcmp(m->data, "ICC_PROFILE", 12) == 0) return true;
  return false;
}

// Decodes one JPEG of exactly width x height into out (channels 1, 3 or 4, as sharp's colour
// modes make them); false for anything sharp should do instead. No C++ object with a destructor
// lives between setjmp and the longjmp that libjpeg's errors take.
bool DecodeJpeg(const JpegApi& api, const unsigned char* data, size_t size, uint8_t* out, int64_t height, int64_t width,
                int64_t channels) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = api.std_error(&err.mgr);
  err.mgr.error_exit = JpegErrorExit;
  err.mgr.emit_message = JpegMessage;
  err.warned = false;
  if (setjmp(err.jump)) {
    api.destroy_decompress(&cinfo);
    return false;
  }
  api.create_decompress(&cinfo, JPEG_LIB_VERSION, sizeof(cinfo));
  api.mem_src(&cinfo, data, static_cast<unsigned long>(size));
  api.save_markers(&cinfo, JPEG_APP0 + 2, 0xFFFF);
  api.read_header(&cinfo, TRUE);
  const bool grey = cinfo.jpeg_color_space == JCS_GRAYSCALE && cinfo.num_components == 1;
  const bool colour = cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB;
  // sharp's greyscale mode computes luminance its own way from colour JPEGs: only grey ones here
  if (static_cast<int64_t>(cinfo.image_width) != width || static_cast<int64_t>(cinfo.image_height) != height ||
      (channels == 1 ? !grey : !(grey || colour)) || HasIccProfile(&cinfo)) {
    api.destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  api.start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    // rgba: decode RGB at the end of the row, then spread it out with an opaque alpha
    uint8_t* row = out + static_cast<int64_t>(cinfo.output_scanline) * width * channels;
    JSAMPROW target = row + (channels == 4 ? width : 0);
    api.read_scanlines(&cinfo, &target, 1);
    if (channels == 4) {
      for (int64_t j = 0; j < width; j++) {
        const uint8_t* s = target + j * 3;
        uint8_t r = s[0], g = s[1], b = s[2];
        row[j * 4] = r;
        row[j * 4 + 1] = g;
        row[j * 4 + 2] = b;
        row[j * 4 + 3] = 255;
      }
    }
  }
  api.finish_decompress(&cinfo);
  api.destroy_decompress(&cinfo);
  return !err.warned;
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
  std::vector<bool> done;
};

void DecodeExecute(napi_env, void* data) {
  DecodeJob& j = *static_cast<DecodeJob*>(data);
  j.done.assign(j.paths.size(), false);
  const JpegApi& api = Jpeg();
  if (!api.ok) return;
  const int64_t image = j.height * j.width * j.channels;
  std::vector<unsigned char> bytes;
  try {
    j.pixels.assign(static_cast<size_t>(image) * j.paths.size(), 0);
  } catch (const std::bad_alloc&) {
    return;  // nothing decoded: the caller's fallback decodes each file
  }
  for (size_t i = 0; i < j.paths.size(); i++) {
    if (j.paths[i].empty()) continue;
    std::FILE* f = std::fopen(j.paths[i].c_str(), "rb");
    if (!f) continue;
    bool read = std::fseek(f, 0, SEEK_END) == 0;
    long size = read ? std::ftell(f) : -1;
    read = read && size > 2 && std::fseek(f, 0, SEEK_SET) == 0;
    if (read) {
      bytes.resize(static_cast<size_t>(size));
      read = std::fread(bytes.data(), 1, bytes.size(), f) == bytes.size();
    }
    std::fclose(f);
    if (!read || bytes[0] != 0xFF || bytes[1] != 0xD8) continue;
    j.done[i] = DecodeJpeg(api, bytes.data(), bytes.size(), j.pixels.data() + static_cast<int64_t>(i) * image, j.height,
                           j.width, j.channels);
  }
}

void DecodeComplete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<DecodeJob> j(static_cast<DecodeJob*>(data));
  napi_value out = nullptr;
  napi_get_reference_value(env, j->out_ref, &out);
  napi_delete_reference(env, j->out_ref);
  napi_delete_async_work(env, j->work);
  // out, as it is now: a transferred buffer has length 0 and no data
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* dst = nullptr;
  napi_value ab;
  if (out == nullptr || napi_get_typedarray_info(env, out, &type, &length, &dst, &ab, &offset) != napi_ok ||
      length < j->pixels.size()) {
    napi_value msg, err;
    napi_create_string_utf8(env,
                            "data_decode_jpeg: out was detached (transferred) or shrunk while the decode ran; keep the "
                            "buffer until the promise settles",
                            NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, nullptr, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
    return;
  }
  const size_t image = static_cast<size_t>(j->height * j->width * j->channels);
  for (size_t i = 0; i < j->done.size(); i++)
    if (j->done[i]) std::memcpy(static_cast<uint8_t*>(dst) + i * image, j->pixels.data() + i * image, image);
  napi_value result;
  napi_create_array_with_length(env, j->done.size(), &result);
  for (size_t i = 0; i < j->done.size(); i++)
    napi_set_element(env, result, static_cast<uint32_t>(i), MakeBool(env, j->done[i]));
  napi_resolve_deferred(env, j->deferred, result);
}

// data_decode_jpeg(paths, out, height, width, channels) -> Promise<boolean[]>: decodes the JPEG
// at paths[i] (skipping null entries) into out[i * height * width * channels ...] where it can;
// true where it did.
napi_value DecodeJpegBatch(napi_env env, napi_callback_info info) {
  Args a(env, info);
  bool isArray = false;
  Check(env, napi_is_array(env, a[0], &isArray));
  if (!isArray) throw ArgError("data_decode_jpeg: expected paths to be an array but got " + DescribeValue(env, a[0]));
  bool typed = false;
  Check(env, napi_is_typedarray(env, a[1], &typed));
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* out = nullptr;
  if (typed) {
    napi_value ab;
    size_t offset;
    Check(env, napi_get_typedarray_info(env, a[1], &type, &length, &out, &ab, &offset));
  }
  if (!typed || type != napi_uint8_array)
    throw ArgError("data_decode_jpeg: expected out to be a Buffer or Uint8Array but got " + DescribeValue(env, a[1]));
  auto j = std::make_unique<DecodeJob>();
  j->height = a.Int(2, "height");
  j->width = a.Int(3, "width");
  j->channels = a.Int(4, "channels");
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
    j->paths[i].resize(len);
    Check(env, napi_get_value_string_utf8(env, e, &j->paths[i][0], len + 1, &len));
  }
  // the buffer is written when the worker is done, if it is still attached then
  Check(env, napi_create_reference(env, a[1], 1, &j->out_ref));
  return QueueAsync(env, std::move(j), "nodetorch.data_decode_jpeg", DecodeExecute, DecodeComplete);
}

// data_jpeg_info() -> string: the libjpeg the native decoder loaded and its API version, or ''
// when none could be loaded (then every JPEG goes through sharp).
napi_value JpegInfo(napi_env env, napi_callback_info) {
  const JpegApi& api = Jpeg();
  std::string s = api.ok ? api.library + " (libjpeg API " + std::to_string(JPEG_LIB_VERSION) + ")" : "";
  return MakeString(env, s);
}

const Export kExports[] = {
    NT_EXPORT("data_affine_transform", AffineTransform),
    NT_EXPORT("data_decode_jpeg", DecodeJpegBatch),
    NT_EXPORT("data_jpeg_info", JpegInfo),
};

}  // namespace

void RegisterData(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
