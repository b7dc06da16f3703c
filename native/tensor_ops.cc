// Tensor operations, named after ATen (tensor_add, tensor_add_ for in-place, *_scalar for a
// number operand). Broadcasting and type promotion are libtorch's own.
#include "tensor.h"

namespace nt {
namespace {

#define NT_UNARY(NAME, EXPR)                               \
  napi_value NAME(napi_env env, napi_callback_info info) { \
    Args a(env, info);                                     \
    const at::Tensor x = a.Tensor(0, "input");             \
    return Wrap(env, EXPR);                                \
  }

#define NT_BINARY(NAME, EXPR)                              \
  napi_value NAME(napi_env env, napi_callback_info info) { \
    Args a(env, info);                                     \
    const at::Tensor x = a.Tensor(0, "input");             \
    const at::Tensor& y = a.Tensor(1, "other");            \
    return Wrap(env, EXPR);                                \
  }

#define NT_BINARY_SCALAR(NAME, EXPR)                       \
  napi_value NAME(napi_env env, napi_callback_info info) { \
    Args a(env, info);                                     \
    const at::Tensor x = a.Tensor(0, "input");             \
    at::Scalar s = a.Scalar(1, "other");                   \
    return Wrap(env, EXPR);                                \
  }

// In-place ops return nothing: the JS method returns the same Tensor object.
#define NT_INPLACE(NAME, EXPR)                             \
  napi_value NAME(napi_env env, napi_callback_info info) { \
    Args a(env, info);                                     \
    at::Tensor x = a.Tensor(0, "input");                   \
    EXPR;                                                  \
    return nullptr;                                        \
  }

NT_UNARY(Neg, x.neg())
NT_UNARY(Abs, x.abs())
NT_UNARY(Exp, x.exp())
NT_UNARY(Log, x.log())
NT_UNARY(Log1p, x.log1p())
NT_UNARY(Expm1, x.expm1())
NT_UNARY(Sqrt, x.sqrt())
NT_UNARY(Rsqrt, x.rsqrt())
NT_UNARY(Reciprocal, x.reciprocal())
NT_UNARY(Square, x.square())
NT_UNARY(Sin, x.sin())
NT_UNARY(Cos, x.cos())
NT_UNARY(Floor, x.floor())
NT_UNARY(Ceil, x.ceil())
NT_UNARY(Round, x.round())
NT_UNARY(Sign, x.sign())
NT_UNARY(Erf, x.erf())
NT_UNARY(Relu, x.relu())
NT_UNARY(Sigmoid, x.sigmoid())
NT_UNARY(Tanh, x.tanh())
NT_UNARY(Gelu, at::gelu(x))
NT_UNARY(Silu, at::silu(x))
NT_UNARY(LogicalNot, x.logical_not())
NT_UNARY(Isnan, x.isnan())
NT_UNARY(T, x.t())
NT_UNARY(All, x.all())
NT_UNARY(Any, x.any())

NT_BINARY(Add, x.add(y))
NT_BINARY(Sub, x.sub(y))
NT_BINARY(Mul, x.mul(y))
NT_BINARY(Div, x.div(y))
NT_BINARY(Pow, x.pow(y))
NT_BINARY(Remainder, x.remainder(y))
NT_BINARY(Eq, x.eq(y))
NT_BINARY(Ne, x.ne(y))
NT_BINARY(Lt, x.lt(y))
NT_BINARY(Le, x.le(y))
NT_BINARY(Gt, x.gt(y))
NT_BINARY(Ge, x.ge(y))
NT_BINARY(Maximum, at::maximum(x, y))
NT_BINARY(Minimum, at::minimum(x, y))
NT_BINARY(Atan2, x.atan2(y))
NT_BINARY(LogicalAnd, x.logical_and(y))
NT_BINARY(LogicalOr, x.logical_or(y))
NT_BINARY(Matmul, x.matmul(y))
NT_BINARY(Mm, x.mm(y))
NT_BINARY(Bmm, x.bmm(y))
NT_BINARY(Dot, x.dot(y))

NT_BINARY_SCALAR(AddScalar, x.add(s))
NT_BINARY_SCALAR(SubScalar, x.sub(s))
NT_BINARY_SCALAR(MulScalar, x.mul(s))
NT_BINARY_SCALAR(DivScalar, x.div(s))
NT_BINARY_SCALAR(PowScalar, x.pow(s))
NT_BINARY_SCALAR(RpowScalar, at::pow(s, x))
NT_BINARY_SCALAR(RsubScalar, at::rsub(x, s))
NT_BINARY_SCALAR(RdivScalar, x.reciprocal().mul(s))
NT_BINARY_SCALAR(RemainderScalar, x.remainder(s))
NT_BINARY_SCALAR(EqScalar, x.eq(s))
NT_BINARY_SCALAR(NeScalar, x.ne(s))
NT_BINARY_SCALAR(LtScalar, x.lt(s))
NT_BINARY_SCALAR(LeScalar, x.le(s))
NT_BINARY_SCALAR(GtScalar, x.gt(s))
NT_BINARY_SCALAR(GeScalar, x.ge(s))

NT_INPLACE(AddInplace, x.add_(a.Tensor(1, "other")))
NT_INPLACE(SubInplace, x.sub_(a.Tensor(1, "other")))
NT_INPLACE(MulInplace, x.mul_(a.Tensor(1, "other")))
NT_INPLACE(DivInplace, x.div_(a.Tensor(1, "other")))
NT_INPLACE(AddScalarInplace, x.add_(a.Scalar(1, "other")))
NT_INPLACE(SubScalarInplace, x.sub_(a.Scalar(1, "other")))
NT_INPLACE(MulScalarInplace, x.mul_(a.Scalar(1, "other")))
NT_INPLACE(DivScalarInplace, x.div_(a.Scalar(1, "other")))
NT_INPLACE(ZeroInplace, x.zero_())
NT_INPLACE(FillInplace, x.fill_(a.Scalar(1, "value")))
NT_INPLACE(CopyInplace, x.copy_(a.Tensor(1, "src")))
NT_INPLACE(ClampInplace, x.clamp_(a.IsNullish(1) ? c10::optional<at::Scalar>() : a.Scalar(1, "min"),
                                  a.IsNullish(2) ? c10::optional<at::Scalar>() : a.Scalar(2, "max")))

// ---- reductions ----

int64_t Dim(const Args& a, size_t i, const at::Tensor& x, const char* name = "dim") {
  int64_t d = a.Int(i, name);
  int64_t n = std::max<int64_t>(x.dim(), 1);
  if (d < -n || d >= n)
    throw ArgError(std::string(name) + " " + std::to_string(d) + " is out of range for a tensor of shape " +
                   ShapeString(x.sizes()) + " (expected " + std::to_string(-n) + " to " + std::to_string(n - 1) + ")");
  return d;
}

std::vector<int64_t> AllDims(const at::Tensor& x) {
  std::vector<int64_t> d(x.dim());
  for (int64_t i = 0; i < x.dim(); i++) d[i] = i;
  return d;
}

// dims argument: null for all, a number, or an array of numbers.
c10::optional<std::vector<int64_t>> Dims(const Args& a, size_t i, const at::Tensor& x) {
  if (a.IsNullish(i)) return c10::nullopt;
  if (a.Type(i) == napi_number) return std::vector<int64_t>{Dim(a, i, x)};
  std::vector<int64_t> dims = a.IntList(i, "dim");
  int64_t n = std::max<int64_t>(x.dim(), 1);
  for (int64_t d : dims)
    if (d < -n || d >= n)
      throw ArgError("dim " + std::to_string(d) + " is out of range for a tensor of shape " + ShapeString(x.sizes()));
  return dims;
}

napi_value Sum(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  auto dims = Dims(a, 1, x);
  bool keep = a.BoolOr(2, "keepdim", false);
  auto dtype = a.Dtype(3);
  if (!dims) return Wrap(env, keep ? x.sum(AllDims(x), true, dtype) : x.sum(dtype));
  return Wrap(env, x.sum(*dims, keep, dtype));
}

napi_value Mean(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  auto dims = Dims(a, 1, x);
  bool keep = a.BoolOr(2, "keepdim", false);
  auto dtype = a.Dtype(3);
  if (!dims) return Wrap(env, keep ? x.mean(AllDims(x), true, dtype) : x.mean(dtype));
  return Wrap(env, x.mean(*dims, keep, dtype));
}

napi_value Prod(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  if (a.IsNullish(1)) return Wrap(env, x.prod());
  return Wrap(env, x.prod(Dim(a, 1, x), a.BoolOr(2, "keepdim", false)));
}

// var/std(input, dims|null, unbiased, keepdim)
napi_value Var(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  auto dims = Dims(a, 1, x);
  bool unbiased = a.BoolOr(2, "unbiased", true), keep = a.BoolOr(3, "keepdim", false);
  if (!dims) return Wrap(env, keep ? x.var(AllDims(x), unbiased, true) : x.var(unbiased));
  return Wrap(env, x.var(*dims, unbiased, keep));
}
napi_value Std(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  auto dims = Dims(a, 1, x);
  bool unbiased = a.BoolOr(2, "unbiased", true), keep = a.BoolOr(3, "keepdim", false);
  if (!dims) return Wrap(env, keep ? x.std(AllDims(x), unbiased, true) : x.std(unbiased));
  return Wrap(env, x.std(*dims, unbiased, keep));
}

napi_value Max(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").max());
}
napi_value Min(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").min());
}
// max/min along a dim -> [values, indices]
napi_value MaxDim(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  auto r = x.max(Dim(a, 1, x), a.BoolOr(2, "keepdim", false));
  return WrapList(env, {std::get<0>(r), std::get<1>(r)});
}
napi_value MinDim(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  auto r = x.min(Dim(a, 1, x), a.BoolOr(2, "keepdim", false));
  return WrapList(env, {std::get<0>(r), std::get<1>(r)});
}
napi_value Argmax(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  c10::optional<int64_t> d;
  if (!a.IsNullish(1)) d = Dim(a, 1, x);
  return Wrap(env, x.argmax(d, a.BoolOr(2, "keepdim", false)));
}
napi_value Argmin(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  c10::optional<int64_t> d;
  if (!a.IsNullish(1)) d = Dim(a, 1, x);
  return Wrap(env, x.argmin(d, a.BoolOr(2, "keepdim", false)));
}
napi_value Softmax(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, x.softmax(Dim(a, 1, x), a.Dtype(2)));
}
napi_value LogSoftmax(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, x.log_softmax(Dim(a, 1, x), a.Dtype(2)));
}

// ---- shape ----

napi_value Reshape(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").reshape(a.IntList(1, "shape")));
}
napi_value View(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").view(a.IntList(1, "shape")));
}
napi_value Expand(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").expand(a.IntList(1, "shape")));
}
napi_value Repeat(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").repeat(a.IntList(1, "repeats")));
}
napi_value Flatten(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, x.flatten(a.IntOr(1, "startDim", 0), a.IntOr(2, "endDim", -1)));
}
napi_value Squeeze(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  if (a.IsNullish(1)) return Wrap(env, x.squeeze());
  return Wrap(env, x.squeeze(Dim(a, 1, x)));
}
napi_value Unsqueeze(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  int64_t d = a.Int(1, "dim"), n = x.dim() + 1;
  if (d < -n || d >= n)
    throw ArgError("dim " + std::to_string(d) + " is out of range for unsqueeze of shape " + ShapeString(x.sizes()));
  return Wrap(env, x.unsqueeze(d));
}
napi_value Permute(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").permute(a.IntList(1, "dims")));
}
napi_value Transpose(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, x.transpose(Dim(a, 1, x, "dim0"), Dim(a, 2, x, "dim1")));
}
napi_value Flip(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").flip(a.IntList(1, "dims")));
}
napi_value Tril(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").tril(a.IntOr(1, "diagonal", 0)));
}
napi_value Triu(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "input").triu(a.IntOr(1, "diagonal", 0)));
}
napi_value Cat(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::vector<at::Tensor> ts = a.TensorList(0, "tensors");
  if (ts.empty()) throw ArgError("expected a non-empty array of tensors for cat");
  return Wrap(env, at::cat(ts, a.IntOr(1, "dim", 0)));
}
napi_value Stack(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::vector<at::Tensor> ts = a.TensorList(0, "tensors");
  if (ts.empty()) throw ArgError("expected a non-empty array of tensors for stack");
  return Wrap(env, at::stack(ts, a.IntOr(1, "dim", 0)));
}
// split(input, size | sizes, dim)
napi_value Split(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  int64_t dim = a.IsNullish(2) ? 0 : Dim(a, 2, x);
  if (a.Type(1) == napi_number) {
    int64_t size = a.Int(1, "splitSize");
    if (size <= 0) throw ArgError("expected a positive splitSize but got " + std::to_string(size));
    return WrapList(env, x.split(size, dim));
  }
  return WrapList(env, x.split_with_sizes(a.IntList(1, "splitSizes"), dim));
}
napi_value Chunk(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  int64_t n = a.Int(1, "chunks");
  if (n <= 0) throw ArgError("expected a positive number of chunks but got " + std::to_string(n));
  return WrapList(env, x.chunk(n, a.IsNullish(2) ? 0 : Dim(a, 2, x)));
}
napi_value Select(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  if (x.dim() == 0) throw ArgError("cannot index a 0-d tensor (shape [])");
  return Wrap(env, x.select(Dim(a, 1, x), a.Int(2, "index")));
}
// slice(input, dim, start, end, step): Python's x[start:end:step] along dim.
napi_value Slice(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  if (x.dim() == 0) throw ArgError("cannot slice a 0-d tensor (shape [])");
  int64_t step = a.IntOr(4, "step", 1);
  if (step <= 0) throw ArgError("expected a positive slice step but got " + std::to_string(step));
  return Wrap(env, x.slice(Dim(a, 1, x), a.IntOr(2, "start", 0), a.IntOr(3, "end", INT64_MAX), step));
}
napi_value Narrow(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, x.narrow(Dim(a, 1, x), a.Int(2, "start"), a.Int(3, "length")));
}
napi_value Gather(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, x.gather(Dim(a, 1, x), a.Tensor(2, "index")));
}
napi_value IndexSelect(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  return Wrap(env, x.index_select(Dim(a, 1, x), a.Tensor(2, "index")));
}
// The value is a number (tensor_masked_fill) or a 0-d tensor (tensor_masked_fill_tensor):
// separate entry points, since a tensor handle is itself a number.
napi_value MaskedFill(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  const at::Tensor& mask = a.Tensor(1, "mask");
  return Wrap(env, x.masked_fill(mask, a.Scalar(2, "value")));
}
napi_value MaskedFillTensor(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  const at::Tensor& mask = a.Tensor(1, "mask");
  return Wrap(env, x.masked_fill(mask, a.Tensor(2, "value")));
}
napi_value Where(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, at::where(a.Tensor(0, "condition"), a.Tensor(1, "input"), a.Tensor(2, "other")));
}
napi_value Clamp(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor x = a.Tensor(0, "input");
  c10::optional<at::Scalar> lo, hi;
  if (!a.IsNullish(1)) lo = a.Scalar(1, "min");
  if (!a.IsNullish(2)) hi = a.Scalar(2, "max");
  if (!lo && !hi) throw ArgError("clamp needs at least one of min or max");
  return Wrap(env, x.clamp(lo, hi));
}

const Export kExports[] = {
    NT_EXPORT("tensor_neg", Neg),
    NT_EXPORT("tensor_abs", Abs),
    NT_EXPORT("tensor_exp", Exp),
    NT_EXPORT("tensor_log", Log),
    NT_EXPORT("tensor_log1p", Log1p),
    NT_EXPORT("tensor_expm1", Expm1),
    NT_EXPORT("tensor_sqrt", Sqrt),
    NT_EXPORT("tensor_rsqrt", Rsqrt),
    NT_EXPORT("tensor_reciprocal", Reciprocal),
    NT_EXPORT("tensor_square", Square),
    NT_EXPORT("tensor_sin", Sin),
    NT_EXPORT("tensor_cos", Cos),
    NT_EXPORT("tensor_floor", Floor),
    NT_EXPORT("tensor_ceil", Ceil),
    NT_EXPORT("tensor_round", Round),
    NT_EXPORT("tensor_sign", Sign),
    NT_EXPORT("tensor_erf", Erf),
    NT_EXPORT("tensor_relu", Relu),
    NT_EXPORT("tensor_sigmoid", Sigmoid),
    NT_EXPORT("tensor_tanh", Tanh),
    NT_EXPORT("tensor_gelu", Gelu),
    NT_EXPORT("tensor_silu", Silu),
    NT_EXPORT("tensor_logical_not", LogicalNot),
    NT_EXPORT("tensor_isnan", Isnan),
    NT_EXPORT("tensor_t", T),
    NT_EXPORT("tensor_all", All),
    NT_EXPORT("tensor_any", Any),
    NT_EXPORT("tensor_add", Add),
    NT_EXPORT("tensor_sub", Sub),
    NT_EXPORT("tensor_mul", Mul),
    NT_EXPORT("tensor_div", Div),
    NT_EXPORT("tensor_pow", Pow),
    NT_EXPORT("tensor_remainder", Remainder),
    NT_EXPORT("tensor_eq", Eq),
    NT_EXPORT("tensor_ne", Ne),
    NT_EXPORT("tensor_lt", Lt),
    NT_EXPORT("tensor_le", Le),
    NT_EXPORT("tensor_gt", Gt),
    NT_EXPORT("tensor_ge", Ge),
    NT_EXPORT("tensor_maximum", Maximum),
    NT_EXPORT("tensor_minimum", Minimum),
    NT_EXPORT("tensor_atan2", Atan2),
    NT_EXPORT("tensor_logical_and", LogicalAnd),
    NT_EXPORT("tensor_logical_or", LogicalOr),
    NT_EXPORT("tensor_matmul", Matmul),
    NT_EXPORT("tensor_mm", Mm),
    NT_EXPORT("tensor_bmm", Bmm),
    NT_EXPORT("tensor_dot", Dot),
    NT_EXPORT("tensor_add_scalar", AddScalar),
    NT_EXPORT("tensor_sub_scalar", SubScalar),
    NT_EXPORT("tensor_mul_scalar", MulScalar),
    NT_EXPORT("tensor_div_scalar", DivScalar),
    NT_EXPORT("tensor_pow_scalar", PowScalar),
    NT_EXPORT("tensor_rpow_scalar", RpowScalar),
    NT_EXPORT("tensor_rsub_scalar", RsubScalar),
    NT_EXPORT("tensor_rdiv_scalar", RdivScalar),
    NT_EXPORT("tensor_remainder_scalar", RemainderScalar),
    NT_EXPORT("tensor_eq_scalar", EqScalar),
    NT_EXPORT("tensor_ne_scalar", NeScalar),
    NT_EXPORT("tensor_lt_scalar", LtScalar),
    NT_EXPORT("tensor_le_scalar", LeScalar),
    NT_EXPORT("tensor_gt_scalar", GtScalar),
    NT_EXPORT("tensor_ge_scalar", GeScalar),
    NT_EXPORT("tensor_add_", AddInplace),
    NT_EXPORT("tensor_sub_", SubInplace),
    NT_EXPORT("tensor_mul_", MulInplace),
    NT_EXPORT("tensor_div_", DivInplace),
    NT_EXPORT("tensor_add_scalar_", AddScalarInplace),
    NT_EXPORT("tensor_sub_scalar_", SubScalarInplace),
    NT_EXPORT("tensor_mul_scalar_", MulScalarInplace),
    NT_EXPORT("tensor_div_scalar_", DivScalarInplace),
    NT_EXPORT("tensor_zero_", ZeroInplace),
    NT_EXPORT("tensor_fill_", FillInplace),
    NT_EXPORT("tensor_copy_", CopyInplace),
    NT_EXPORT("tensor_clamp_", ClampInplace),
    NT_EXPORT("tensor_sum", Sum),
    NT_EXPORT("tensor_mean", Mean),
    NT_EXPORT("tensor_prod", Prod),
    NT_EXPORT("tensor_var", Var),
    NT_EXPORT("tensor_std", Std),
    NT_EXPORT("tensor_max", Max),
    NT_EXPORT("tensor_min", Min),
    NT_EXPORT("tensor_max_dim", MaxDim),
    NT_EXPORT("tensor_min_dim", MinDim),
    NT_EXPORT("tensor_argmax", Argmax),
    NT_EXPORT("tensor_argmin", Argmin),
    NT_EXPORT("tensor_softmax", Softmax),
    NT_EXPORT("tensor_log_softmax", LogSoftmax),
    NT_EXPORT("tensor_reshape", Reshape),
    NT_EXPORT("tensor_view", View),
    NT_EXPORT("tensor_expand", Expand),
    NT_EXPORT("tensor_repeat", Repeat),
    NT_EXPORT("tensor_flatten", Flatten),
    NT_EXPORT("tensor_squeeze", Squeeze),
    NT_EXPORT("tensor_unsqueeze", Unsqueeze),
    NT_EXPORT("tensor_permute", Permute),
    NT_EXPORT("tensor_transpose", Transpose),
    NT_EXPORT("tensor_flip", Flip),
    NT_EXPORT("tensor_tril", Tril),
    NT_EXPORT("tensor_triu", Triu),
    NT_EXPORT("cat", Cat),
    NT_EXPORT("stack", Stack),
    NT_EXPORT("tensor_split", Split),
    NT_EXPORT("tensor_chunk", Chunk),
    NT_EXPORT("tensor_select", Select),
    NT_EXPORT("tensor_slice", Slice),
    NT_EXPORT("tensor_narrow", Narrow),
    NT_EXPORT("tensor_gather", Gather),
    NT_EXPORT("tensor_index_select", IndexSelect),
    NT_EXPORT("tensor_masked_fill", MaskedFill),
    NT_EXPORT("tensor_masked_fill_tensor", MaskedFillTensor),
    NT_EXPORT("where", Where),
    NT_EXPORT("tensor_clamp", Clamp),
};

}  // namespace

void RegisterTensorOps(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
