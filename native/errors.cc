// Error conversion, argument readers and result wrapping shared by every entry point.
#include "errors.h"

#include <cmath>
#include <sstream>

namespace nt {

namespace {

const char* kDtypeNames[] = {"float32", "float64", "float16", "bfloat16", "int8",
                             "uint8",   "int16",   "int32",   "int64",    "bool"};
const at::ScalarType kDtypes[] = {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kChar,
                                  at::kByte,  at::kShort,  at::kInt,  at::kLong,     at::kBool};
constexpr int64_t kNumDtypes = sizeof(kDtypes) / sizeof(kDtypes[0]);

std::string TypeName(napi_valuetype t) {
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "value";
}

// "tensor_add" -> "add": errors use the names users call.
std::string OpName(const char* raw) {
  std::string s = raw ? raw : "nodetorch";
  if (s.rfind("tensor_", 0) == 0) s = s.substr(7);
  return s;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void Check(napi_env env, napi_status s) {
  if (s == napi_ok) return;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info* info = nullptr;
    napi_get_last_error_info(env, &info);
    napi_throw_error(env, nullptr, info && info->error_message ? info->error_message : "N-API call failed");
  }
  throw PendingJsError();
}

std::string ShapeString(at::IntArrayRef sizes) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < sizes.size(); i++) o << (i ? ", " : "") << sizes[i];
  o << "]";
  return o.str();
}

std::string DtypeName(at::ScalarType t) {
  for (int64_t i = 0; i < kNumDtypes; i++)
    if (kDtypes[i] == t) return kDtypeNames[i];
  return c10::toString(t);
}

std::string TensorDesc(const at::Tensor& t) {
  if (!t.defined()) return "Tensor(undefined)";
  std::string d = "Tensor" + ShapeString(t.sizes()) + " " + DtypeName(t.scalar_type());
  if (!t.device().is_cpu()) d += " " + t.device().str();
  return d;
}

std::string DescribeValue(napi_env env, napi_value v, int depth) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "?";
  switch (t) {
    case napi_number: {
      double d;
      napi_get_value_double(env, v, &d);
      if (d >= 0 && d == std::floor(d) && d < 9007199254740992.0) {
        if (at::Tensor* p = Table().Get(static_cast<uint64_t>(d))) return TensorDesc(*p);
      }
      std::ostringstream o;
      o.precision(17);
      o << d;
      return o.str();
    }
    case napi_string: {
      size_t len = 0;
      napi_get_value_string_utf8(env, v, nullptr, 0, &len);
      std::string s(std::min<size_t>(len, 40) + 1, '\0');
      napi_get_value_string_utf8(env, v, &s[0], s.size(), &len);
      s.resize(len);
      return "'" + s + (len >= 40 ? "...'" : "'");
    }
    case napi_boolean: {
      bool b;
      napi_get_value_bool(env, v, &b);
      return b ? "true" : "false";
    }
    case napi_object: {
      bool arr = false;
      napi_is_array(env, v, &arr);
      if (!arr) {
        bool ta = false;
        napi_is_typedarray(env, v, &ta);
        return ta ? "typed array" : "object";
      }
      uint32_t n = 0;
      napi_get_array_length(env, v, &n);
      if (depth >= 3) return n ? "[...]" : "[]";
      std::string s = "[";
      for (uint32_t i = 0; i < n && i < 4; i++) {
        napi_value e;
        // A getter may throw: describe what we can without touching an unset value.
        if (napi_get_element(env, v, i, &e) != napi_ok) return s + (i ? ", " : "") + "?]";
        s += (i ? ", " : "") + DescribeValue(env, e, depth + 1);
      }
      return s + (n > 4 ? ", ...]" : "]");
    }
    case napi_bigint: {
      int64_t b;
      bool lossless;
      napi_get_value_bigint_int64(env, v, &b, &lossless);
      return lossless ? std::to_string(b) + "n" : "a bigint outside int64 range";
    }
    default: return TypeName(t);
  }
}

napi_value ThrowFromCatch(napi_env env, napi_callback_info info, const char* kind, const std::string& msg) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return nullptr;
  size_t argc = Args::kMax;
  napi_value argv[Args::kMax];
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  std::string op = OpName(static_cast<const char*>(data));
  std::string text;
  if (std::string(kind) == "TypeError") {
    text = op + ": " + msg;
  } else {
    std::string args;
    for (size_t i = 0; i < argc && i < Args::kMax; i++) {
      napi_valuetype t;
      napi_typeof(env, argv[i], &t);
      if (t == napi_undefined) continue;
      args += (args.empty() ? "" : ", ") + DescribeValue(env, argv[i]);
    }
    text = op + "(" + args + "): " + Trim(msg);
  }
  napi_value jsmsg, err, opv;
  napi_create_string_utf8(env, text.c_str(), text.size(), &jsmsg);
  if (std::string(kind) == "TypeError")
    napi_create_type_error(env, nullptr, jsmsg, &err);
  else if (std::string(kind) == "RangeError")
    napi_create_range_error(env, nullptr, jsmsg, &err);
  else
    napi_create_error(env, nullptr, jsmsg, &err);
  napi_create_string_utf8(env, op.c_str(), op.size(), &opv);
  napi_set_named_property(env, err, "op", opv);
  napi_throw(env, err);
  return nullptr;
}

napi_value Args::Undefined() const {
  napi_value u;
  napi_get_undefined(env_, &u);
  return u;
}

napi_valuetype Args::Type(size_t i) const {
  if (i >= argc_) return napi_undefined;
  napi_valuetype t;
  Check(env_, napi_typeof(env_, argv_[i], &t));
  return t;
}

void Args::Fail(size_t i, const char* name, const char* expected) const {
  std::string got = i < argc_ ? DescribeValue(env_, argv_[i]) : "nothing";
  napi_valuetype t = Type(i);
  throw ArgError("expected " + std::string(expected) + " for " + name + " (argument " + std::to_string(i + 1) +
                 ") but received " + got + (t == napi_number || t == napi_undefined ? "" : " of type " + TypeName(t)));
}

at::Tensor Args::Tensor(size_t i, const char* name) const {
  double d;
  if (i >= argc_ || napi_get_value_double(env_, argv_[i], &d) != napi_ok) Fail(i, name, "a Tensor");
  if (d >= 0 && d < 9007199254740992.0 && d == std::floor(d)) {
    if (at::Tensor* p = Table().Get(static_cast<uint64_t>(d))) return *p;
  }
  // -1 is how lib/ marks a disposed Tensor; a stale generation is a freed handle, or any other number.
  if (d == -1)
    throw ArgError(std::string(name) + " (argument " + std::to_string(i + 1) +
                   ") is a disposed Tensor: it was freed by dispose() or tidy() and cannot be used");
  if (d >= static_cast<double>(uint64_t{1} << HandleTable::kIndexBits) && d == std::floor(d))
    throw ArgError(std::string(name) + " (argument " + std::to_string(i + 1) +
                   ") is not a live Tensor: a disposed one (freed by dispose() or tidy()), or a number that is no "
                   "tensor handle");
  Fail(i, name, "a Tensor");
}

std::vector<at::Tensor> Args::TensorList(size_t i, const char* name) const {
  bool arr = false;
  if (i < argc_) napi_is_array(env_, argv_[i], &arr);
  if (!arr) Fail(i, name, "an array of Tensors");
  uint32_t n = 0;
  Check(env_, napi_get_array_length(env_, argv_[i], &n));
  // no list of tensors is longer than the handle table (a sparse array of length 2^32-1 is not one)
  if (n > HandleTable::kIndexMask)
    throw ArgError("expected " + std::string(name) + " to be an array of at most " +
                   std::to_string(HandleTable::kIndexMask) + " Tensors but it has length " + std::to_string(n));
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value e;
    Check(env_, napi_get_element(env_, argv_[i], k, &e));
    double d;
    const at::Tensor* p = nullptr;
    bool num = napi_get_value_double(env_, e, &d) == napi_ok;
    if (num && d >= 0 && d < 9007199254740992.0 && d == std::floor(d)) p = Table().Get(static_cast<uint64_t>(d));
    if (!p && num && d == -1)
      throw ArgError(std::string(name) + "[" + std::to_string(k) +
                     "] is a disposed Tensor: it was freed by dispose() or tidy() and cannot be used");
    if (!p)
      throw ArgError("expected " + std::string(name) + "[" + std::to_string(k) + "] to be a live Tensor but received " +
                     DescribeValue(env_, e));
    out.push_back(*p);
  }
  return out;
}

double Args::Number(size_t i, const char* name) const {
  double d;
  if (i >= argc_ || napi_get_value_double(env_, argv_[i], &d) != napi_ok) Fail(i, name, "a number");
  if (std::isnan(d)) Fail(i, name, "a number (not NaN)");
  return d;
}

int64_t Args::Int(size_t i, const char* name) const {
  napi_valuetype t = Type(i);
  if (t == napi_bigint) {
    int64_t v;
    bool lossless;
    Check(env_, napi_get_value_bigint_int64(env_, argv_[i], &v, &lossless));
    if (!lossless) Fail(i, name, "an integer within int64 range");
    return v;
  }
  double d;
  if (t != napi_number) Fail(i, name, "an integer");
  napi_get_value_double(env_, argv_[i], &d);
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740992.0) Fail(i, name, "an integer");
  return static_cast<int64_t>(d);
}

bool Args::Bool(size_t i, const char* name) const {
  bool b;
  if (i >= argc_ || napi_get_value_bool(env_, argv_[i], &b) != napi_ok) Fail(i, name, "a boolean");
  return b;
}

std::string Args::String(size_t i, const char* name) const {
  size_t len = 0;
  if (i >= argc_ || napi_get_value_string_utf8(env_, argv_[i], nullptr, 0, &len) != napi_ok) Fail(i, name, "a string");
  if (len > 4096) Fail(i, name, "a string shorter than 4096 characters");
  std::string s(len + 1, '\0');
  Check(env_, napi_get_value_string_utf8(env_, argv_[i], &s[0], s.size(), &len));
  s.resize(len);
  return s;
}

bool ArrayElements(napi_env env, napi_value v, std::vector<napi_value>* out, uint32_t maxLength) {
  bool arr = false;
  if (!v || napi_is_array(env, v, &arr) != napi_ok || !arr) return false;
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, v, &n));
  if (n > maxLength) return false;
  out->resize(n);
  for (uint32_t k = 0; k < n; k++) Check(env, napi_get_element(env, v, k, &(*out)[k]));
  return true;
}

std::vector<int64_t> Args::IntList(size_t i, const char* name) const {
  bool arr = false;
  if (i < argc_) napi_is_array(env_, argv_[i], &arr);
  if (!arr) Fail(i, name, "an array of integers");
  std::vector<napi_value> items;
  if (!ArrayElements(env_, argv_[i], &items)) Fail(i, name, "an array of at most 64 integers");
  std::vector<int64_t> out(items.size());
  for (size_t k = 0; k < items.size(); k++) {
    napi_value e = items[k];
    double d;
    if (napi_get_value_double(env_, e, &d) != napi_ok || !std::isfinite(d) || d != std::floor(d) ||
        std::fabs(d) > 9007199254740992.0)
      throw ArgError("expected " + std::string(name) + " to be an array of integers but element " + std::to_string(k) +
                     " is " + DescribeValue(env_, e));
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

at::Scalar Args::Scalar(size_t i, const char* name) const {
  napi_valuetype t = Type(i);
  if (t == napi_bigint) return at::Scalar(Int(i, name));
  if (t == napi_boolean) return at::Scalar(Bool(i, name));
  if (t != napi_number) Fail(i, name, "a number");
  double d;
  napi_get_value_double(env_, argv_[i], &d);
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0)
    return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

c10::optional<at::ScalarType> Args::Dtype(size_t i) const {
  if (IsNullish(i)) return c10::nullopt;
  int64_t code = Int(i, "dtype");
  if (code == -1) return c10::nullopt;
  return DtypeFromCode(code);
}

c10::optional<at::Device> Args::Device(size_t i) const {
  if (IsNullish(i)) return c10::nullopt;
  return ParseDevice(String(i, "device"));
}

Options Args::Opts(size_t i, const char* name) const {
  napi_valuetype t = Type(i);
  bool arr = false;
  if (t == napi_object) napi_is_array(env_, argv_[i], &arr);
  if (t == napi_undefined || t == napi_null) return Options(env_, nullptr, name);
  if (t != napi_object || arr) Fail(i, name, "an options object");
  return Options(env_, argv_[i], name);
}

void* UnwrapTagged(napi_env env, napi_value v, const napi_type_tag* tag) {
  napi_valuetype t;
  Check(env, napi_typeof(env, v, &t));
  if (t != napi_object) return nullptr;
  bool ok = false;
  void* p = nullptr;
  Check(env, napi_check_object_type_tag(env, v, tag, &ok));
  if (ok) Check(env, napi_unwrap(env, v, &p));
  return p;
}

void* Args::ObjectPtr(size_t i, const char* name, const napi_type_tag* tag, const char* what) const {
  void* p = i < argc_ ? UnwrapTagged(env_, argv_[i], tag) : nullptr;
  if (!p) Fail(i, name, what);
  return p;
}

napi_value WrapObject(napi_env env, NativeObject* obj, const napi_type_tag* tag) {
  napi_value o;
  if (napi_create_object(env, &o) != napi_ok) {
    delete obj;
    throw PendingJsError();
  }
  napi_status s = napi_wrap(
      env, o, obj, [](napi_env, void* data, void*) { delete static_cast<NativeObject*>(data); }, nullptr, nullptr);
  if (s != napi_ok) {
    delete obj;
    Check(env, s);
  }
  Check(env, napi_type_tag_object(env, o, tag));
  return o;
}

napi_value Options::Get(const char* key) const {
  if (!obj_) return nullptr;
  napi_value v;
  Check(env_, napi_get_named_property(env_, obj_, key, &v));
  napi_valuetype t;
  Check(env_, napi_typeof(env_, v, &t));
  return t == napi_undefined || t == napi_null ? nullptr : v;
}

void Options::Fail(const char* key, napi_value v, const char* expected) const {
  throw ArgError("expected " + std::string(expected) + " for option " + key + " of " + where_ + " but received " +
                 DescribeValue(env_, v));
}

bool Options::Has(const char* key) const { return Get(key) != nullptr; }

static bool ReadInt(napi_env env, napi_value v, int64_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !std::isfinite(d) || d != std::floor(d) ||
      std::fabs(d) > 9007199254740992.0)
    return false;
  *out = static_cast<int64_t>(d);
  return true;
}

int64_t Options::Int(const char* key, int64_t dflt) const {
  napi_value v = Get(key);
  if (!v) return dflt;
  int64_t r;
  if (!ReadInt(env_, v, &r)) Fail(key, v, "an integer");
  return r;
}

double Options::Number(const char* key, double dflt) const {
  napi_value v = Get(key);
  if (!v) return dflt;
  double d;
  if (napi_get_value_double(env_, v, &d) != napi_ok || std::isnan(d)) Fail(key, v, "a number");
  return d;
}

bool Options::Bool(const char* key, bool dflt) const {
  napi_value v = Get(key);
  if (!v) return dflt;
  bool b;
  if (napi_get_value_bool(env_, v, &b) != napi_ok) Fail(key, v, "a boolean");
  return b;
}

std::string Options::String(const char* key, const std::string& dflt) const {
  napi_value v = Get(key);
  if (!v) return dflt;
  size_t len = 0;
  if (napi_get_value_string_utf8(env_, v, nullptr, 0, &len) != napi_ok || len > 256) Fail(key, v, "a short string");
  std::string s(len + 1, '\0');
  Check(env_, napi_get_value_string_utf8(env_, v, &s[0], s.size(), &len));
  s.resize(len);
  return s;
}

std::vector<int64_t> Options::IntList(const char* key, std::vector<int64_t> dflt) const {
  napi_value v = Get(key);
  if (!v) return dflt;
  int64_t one;
  if (ReadInt(env_, v, &one)) return {one};
  std::vector<napi_value> items;
  if (!ArrayElements(env_, v, &items)) Fail(key, v, "an integer or an array of integers");
  std::vector<int64_t> out(items.size());
  for (size_t k = 0; k < items.size(); k++)
    if (!ReadInt(env_, items[k], &out[k])) Fail(key, v, "an integer or an array of integers");
  return out;
}

std::vector<double> Options::NumberList(const char* key, std::vector<double> dflt) const {
  napi_value v = Get(key);
  if (!v) return dflt;
  std::vector<napi_value> items;
  if (!ArrayElements(env_, v, &items)) Fail(key, v, "an array of numbers");
  std::vector<double> out(items.size());
  for (size_t k = 0; k < items.size(); k++)
    if (napi_get_value_double(env_, items[k], &out[k]) != napi_ok || std::isnan(out[k]))
      Fail(key, v, "an array of numbers");
  return out;
}

c10::optional<at::Tensor> Options::Tensor(const char* key) const {
  napi_value v = Get(key);
  if (!v) return c10::nullopt;
  double d;
  if (napi_get_value_double(env_, v, &d) == napi_ok && d >= 0 && d < 9007199254740992.0 && d == std::floor(d)) {
    if (at::Tensor* p = Table().Get(static_cast<uint64_t>(d))) return *p;
  }
  Fail(key, v, "a live Tensor");
}

at::ScalarType DtypeFromCode(int64_t code) {
  if (code < 0 || code >= kNumDtypes)
    throw ArgError("unknown dtype code " + std::to_string(code) +
                   ": expected one of float32 float64 float16 bfloat16 int8 uint8 int16 int32 int64 bool");
  return kDtypes[code];
}

int64_t DtypeCode(at::ScalarType t) {
  for (int64_t i = 0; i < kNumDtypes; i++)
    if (kDtypes[i] == t) return i;
  return -1;
}

at::Device ParseDevice(const std::string& s) {
  int64_t index = -1;
  bool cuda = false;
  if (s == "cpu") return at::Device(at::kCPU);
  if (s == "cuda") {
    cuda = true;
  } else if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9 &&
             s.find_first_not_of("0123456789", 5) == std::string::npos) {
    cuda = true;
    index = std::stoll(s.substr(5));
  }
  if (!cuda) throw ArgError("unknown device '" + s + "': expected 'cpu', 'cuda' or 'cuda:N'");
  if (!torch::cuda::is_available())
    throw std::runtime_error("device '" + s +
                             "' was requested but CUDA is not available: this nodetorch build uses a libtorch "
                             "without CUDA or no GPU is visible (nt.cuda.isAvailable() is false)");
  int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (index >= count)
    throw std::runtime_error("device '" + s + "' does not exist: " + std::to_string(count) + " CUDA device(s) visible");
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

napi_value Wrap(napi_env env, at::Tensor&& t) {
  HandleTable& table = Table();
  uint64_t h = table.Insert(std::move(t));
  // Tell V8 about native memory in 1 MiB steps so forgotten tensors get collected.
  if (table.pending() > (1 << 20) || table.pending() < -(1 << 20)) {
    int64_t unused;
    napi_adjust_external_memory(env, table.TakePendingExternal(), &unused);
  }
  napi_value v;
  napi_create_double(env, static_cast<double>(h), &v);
  return v;
}

napi_value WrapList(napi_env env, const std::vector<at::Tensor>& ts) {
  napi_value arr;
  Check(env, napi_create_array_with_length(env, ts.size(), &arr));
  for (size_t i = 0; i < ts.size(); i++) Check(env, napi_set_element(env, arr, i, Wrap(env, ts[i])));
  return arr;
}

napi_value MakeNumber(napi_env env, double v) {
  napi_value r;
  Check(env, napi_create_double(env, v, &r));
  return r;
}

napi_value MakeBool(napi_env env, bool v) {
  napi_value r;
  Check(env, napi_get_boolean(env, v, &r));
  return r;
}

napi_value MakeString(napi_env env, const std::string& s) {
  napi_value r;
  Check(env, napi_create_string_utf8(env, s.c_str(), s.size(), &r));
  return r;
}

napi_value Undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

void Register(napi_env env, napi_value exports, const Export* list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value fn;
    napi_create_function(env, list[i].name, NAPI_AUTO_LENGTH, list[i].fn, const_cast<char*>(list[i].name), &fn);
    napi_set_named_property(env, exports, list[i].name, fn);
  }
}

}  // namespace nt
