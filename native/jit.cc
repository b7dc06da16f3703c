// TorchScript: modules saved by PyTorch (torch.jit.save) loaded and run on libuv worker threads.
// Values cross as small tagged arrays ([tag, value, ...], see lib/jit.ts): inputs are converted to
// IValues on the JS thread, guided by the method's schema (a JS array becomes a tuple or a list,
// a number an int or a float); outputs become a plain tree in the worker and JS values on the JS thread.
#include "jit.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/script.h>

// torch/csrc/jit/codegen/fuser/interface.h, which Debian's libtorch-dev does not ship; the
// functions are exported by libtorch_cpu in 1.13 and 2.x.
namespace torch {
namespace jit {
TORCH_API bool canFuseOnCPU();
TORCH_API void overrideCanFuseOnCPU(bool value);
}  // namespace jit
}  // namespace torch

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>
#include <unordered_set>

#include "tensor.h"
#include "threads.h"

namespace nt {

std::string CompiledTorchVersion();  // device.cc

const napi_type_tag ScriptObject::kTag = {0x746f726368736372ULL, 0x6970746d6f64756cULL};

namespace {

using torch::jit::Module;
using IValue = c10::IValue;

constexpr int kMaxDepth = 64;

// ---- messages ----

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// libtorch's enforce prefix ("[enforce fail at inline_container.cc:165] . ") says nothing to a user.
std::string StripEnforce(std::string s) {
  if (s.rfind("[enforce fail at ", 0) == 0) {
    size_t p = s.find("] ");
    if (p != std::string::npos) {
      s = s.substr(p + 2);
      if (s.rfind(". ", 0) == 0) s = s.substr(2);
    }
  }
  return Trim(s);
}

bool Has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

std::string LoadMessage(const std::string& file, const std::string& raw) {
  std::string msg = StripEnforce(raw);
  // a damaged file's bytes can end up quoted in the message
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') c = '?';
  std::string where = "jit.load: '" + file + "' ";
  size_t v = msg.find("Attempted to read a PyTorch file with version ");
  if (v != std::string::npos) {
    return where + "was saved by a newer PyTorch than this libtorch " + CompiledTorchVersion() + " can read (" +
           msg.substr(v) + ")";
  }
  if (Has(msg, "failed reading zip archive") || Has(msg, "not a ZIP archive") || Has(msg, "central directory"))
    return where + "is not a readable TorchScript archive: the zip file is damaged or truncated (" + msg + ")";
  if (Has(msg, "failed locating file constants.pkl") || Has(msg, "failed locating file code/"))
    return where + "is a zip archive but not a TorchScript module; a torch.save() checkpoint or state dict is loaded " +
           "with nt.load(), and a module is exported for nodetorch with torch.jit.script(m).save() or " +
           "torch.jit.trace(m, x).save() (" + msg + ")";
  if (Has(msg, "hasRecord(\"version\")"))
    return where + "is a zip archive but not one PyTorch wrote (it has no version record), so not a TorchScript module";
  if (Has(msg, "open file failed") || Has(msg, "No such file")) return where + "could not be opened (" + msg + ")";
  if (Has(msg, "Unknown builtin op") || Has(msg, "Unknown type name") || Has(msg, "Unknown custom class"))
    return where + "uses an operator or type this libtorch " + CompiledTorchVersion() +
           " does not have (saved by a newer PyTorch, or needs a custom op library): " + msg;
  return where + "could not be loaded as a TorchScript module: " + msg;
}

// Interpreter errors start with the TorchScript traceback and end with the error itself; the error
// goes first so that it is what a reader (and a one-line log) sees.
// Where the error itself starts: the last line at column 0 that reads "SomeError: ..." or
// "builtins.ValueError: ..." (traceback lines are indented or start with "Traceback"/"File").
size_t ErrorLine(const std::string& msg) {
  size_t best = std::string::npos;
  for (size_t p = msg.find('\n'); p != std::string::npos; p = msg.find('\n', p + 1)) {
    size_t q = p + 1;
    if (q >= msg.size() || !(std::isalpha(static_cast<unsigned char>(msg[q])) || msg[q] == '_')) continue;
    size_t e = q;
    while (e < msg.size() && (std::isalnum(static_cast<unsigned char>(msg[e])) || msg[e] == '_' || msg[e] == '.')) e++;
    std::string name = msg.substr(q, e - q);
    bool kind = name.size() > 5 && (name.compare(name.size() - 5, 5, "Error") == 0 ||
                                    (name.size() > 9 && name.compare(name.size() - 9, 9, "Exception") == 0));
    if (kind && msg.compare(e, 2, ": ") == 0) best = q;
  }
  return best;
}

// Interpreter errors start with the TorchScript traceback and end with the error itself; the error
// goes first so that it is what a reader (and a one-line log) sees.
std::string RunMessage(const std::string& method, const std::string& raw) {
  std::string msg = Trim(raw);
  const std::string head = "The following operation failed in the TorchScript interpreter.";
  if (msg.rfind(head, 0) == 0) {
    size_t at = ErrorLine(msg);
    if (at != std::string::npos) {
      std::string core = msg.substr(at);
      std::string trace = Trim(msg.substr(head.size(), at - head.size()));
      if (core.rfind("RuntimeError: ", 0) == 0) core = core.substr(14);
      if (core.rfind("builtins.", 0) == 0) core = core.substr(9);
      return "jit " + method + ": " + core + "\n" + trace;
    }
  }
  return "jit " + method + ": " + msg;
}

std::shared_ptr<Module> Live(const ScriptObject& o) {
  if (!o.module) throw std::runtime_error("the TorchScript module was disposed");
  return o.module;
}

void NotRunning(const ScriptObject& o, const char* what) {
  if (*o.inflight > 0)
    throw std::runtime_error(std::string("cannot ") + what + " while " + std::to_string(*o.inflight) +
                             " forward/call job(s) on this module are running; await them first");
}

// ---- JS -> IValue (JS thread) ----

napi_value Elem(napi_env env, napi_value arr, uint32_t i) {
  napi_value e;
  Check(env, napi_get_element(env, arr, i, &e));
  return e;
}

std::string ReadString(napi_env env, napi_value v, const std::string& where) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok)
    throw ArgError("expected a string for " + where + " but received " + DescribeValue(env, v));
  if (len > (1u << 24)) throw ArgError(where + " is a string longer than 16 MiB");
  std::string s(len + 1, '\0');
  Check(env, napi_get_value_string_utf8(env, v, &s[0], s.size(), &len));
  s.resize(len);
  return s;
}

uint32_t ArrayLength(napi_env env, napi_value v, const std::string& where) {
  bool arr = false;
  napi_is_array(env, v, &arr);
  if (!arr) throw ArgError("expected an array for " + where + " but received " + DescribeValue(env, v));
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, v, &n));
  return n;
}

c10::TypePtr Unoptional(const c10::TypePtr& t) {
  if (t && t->kind() == c10::TypeKind::OptionalType) return t->cast<c10::OptionalType>()->getElementType();
  return t;
}

bool Is(const c10::TypePtr& t, c10::TypeKind k) { return t && t->kind() == k; }

// The type a dict or list built without a schema type holds: the elements' common kind, else Any.
c10::TypePtr BaseType(const IValue& v) {
  if (v.isTensor()) return c10::TensorType::get();
  if (v.isInt()) return c10::IntType::get();
  if (v.isDouble()) return c10::FloatType::get();
  if (v.isBool()) return c10::BoolType::get();
  if (v.isString()) return c10::StringType::get();
  return v.type();
}
c10::TypePtr CommonType(const std::vector<IValue>& vs) {
  if (vs.empty()) return c10::TensorType::get();
  c10::TypePtr t = BaseType(vs[0]);
  for (const IValue& v : vs)
    if (*BaseType(v) != *t) return c10::AnyType::get();
  return t;
}

// A list or dict made for a typed parameter must hold that type: TorchScript trusts its declared type.
const IValue& Fits(const IValue& v, const c10::TypePtr& elem, const c10::TypePtr& container, const std::string& where) {
  if (!v.type()->isSubtypeOf(*elem))
    throw ArgError(where + " is " + BaseType(v)->annotation_str() + ", but the parameter is " +
                   container->annotation_str());
  return v;
}

// node: [tag, value, value2?] as lib/jit.ts encodes it; want: the schema's type here (null: unknown).
IValue FromJs(napi_env env, napi_value node, const c10::TypePtr& wantRaw, const std::string& where, int depth) {
  if (depth > kMaxDepth) throw ArgError(where + " is nested more than 64 levels deep");
  uint32_t n = ArrayLength(env, node, where);
  if (n < 1) throw ArgError("expected an encoded value ([tag, value]) for " + where + " but received []");
  std::string tag = ReadString(env, Elem(env, node, 0), where + " (tag)");
  napi_value val = n > 1 ? Elem(env, node, 1) : nullptr;
  auto need = [&](const char* what) {
    if (!val) throw ArgError(where + ": tag '" + tag + "' needs " + what);
  };
  const c10::TypePtr want = Unoptional(wantRaw);
  if (tag == "N") return IValue();
  if (tag == "T") {
    need("a tensor handle");
    double d;
    if (napi_get_value_double(env, val, &d) == napi_ok && d >= 0 && d < 9007199254740992.0 && d == std::floor(d)) {
      if (at::Tensor* p = Table().Get(static_cast<uint64_t>(d))) return *p;
    }
    throw ArgError(where + " is not a live Tensor (disposed, or not a tensor handle): " + DescribeValue(env, val));
  }
  if (tag == "F") {
    need("a number");
    double d;
    if (napi_get_value_double(env, val, &d) != napi_ok)
      throw ArgError("expected a number for " + where + " but received " + DescribeValue(env, val));
    bool integral = std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0;
    // a float parameter takes 3 as 3.0; an int (or unknown) one takes integral numbers as ints
    if (Is(want, c10::TypeKind::FloatType) || !integral) return IValue(d);
    return IValue(static_cast<int64_t>(d));
  }
  if (tag == "I") {
    need("a bigint");
    int64_t i;
    bool lossless = false;
    if (napi_get_value_bigint_int64(env, val, &i, &lossless) != napi_ok || !lossless)
      throw ArgError("expected a bigint in int64 range for " + where + " but received " + DescribeValue(env, val));
    if (Is(want, c10::TypeKind::FloatType)) return IValue(static_cast<double>(i));
    return IValue(i);
  }
  if (tag == "B") {
    need("a boolean");
    bool b;
    if (napi_get_value_bool(env, val, &b) != napi_ok)
      throw ArgError("expected a boolean for " + where + " but received " + DescribeValue(env, val));
    return IValue(b);
  }
  if (tag == "S") {
    need("a string");
    return IValue(ReadString(env, val, where));
  }
  if (tag == "A") {
    need("an array of encoded values");
    uint32_t len = ArrayLength(env, val, where);
    if (Is(want, c10::TypeKind::ListType)) {
      c10::TypePtr elem = want->cast<c10::ListType>()->getElementType();
      c10::impl::GenericList list(elem);
      list.reserve(len);
      for (uint32_t k = 0; k < len; k++) {
        std::string at = where + "[" + std::to_string(k) + "]";
        list.push_back(Fits(FromJs(env, Elem(env, val, k), elem, at, depth + 1), elem, want, at));
      }
      return IValue(list);
    }
    std::vector<IValue> items;
    items.reserve(len);
    std::vector<c10::TypePtr> types;
    if (Is(want, c10::TypeKind::TupleType)) {
      auto elems = want->cast<c10::TupleType>()->elements();
      if (elems.size() == len) types.assign(elems.begin(), elems.end());
    }
    for (uint32_t k = 0; k < len; k++)
      items.push_back(FromJs(env, Elem(env, val, k), types.empty() ? c10::TypePtr(nullptr) : types[k],
                             where + "[" + std::to_string(k) + "]", depth + 1));
    return IValue(c10::ivalue::Tuple::create(std::move(items)));
  }
  if (tag == "D") {
    need("keys and values");
    if (n < 3) throw ArgError(where + ": tag 'D' needs keys and values");
    napi_value keysJs = val, valuesJs = Elem(env, node, 2);
    uint32_t len = ArrayLength(env, keysJs, where + " (keys)");
    if (ArrayLength(env, valuesJs, where + " (values)") != len)
      throw ArgError(where + ": a dict needs as many values as keys");
    c10::TypePtr keyType, valueType;
    if (Is(want, c10::TypeKind::DictType)) {
      keyType = want->cast<c10::DictType>()->getKeyType();
      valueType = want->cast<c10::DictType>()->getValueType();
    }
    std::vector<IValue> keys, values;
    for (uint32_t k = 0; k < len; k++) {
      keys.push_back(FromJs(env, Elem(env, keysJs, k), keyType, where + " key " + std::to_string(k + 1), depth + 1));
      // object keys are strings in JS: an int-keyed dict parameter takes '7' as 7
      if (Is(keyType, c10::TypeKind::IntType) && keys.back().isString()) {
        const std::string& s = keys.back().toStringRef();
        char* end = nullptr;
        long long i = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end && *end == '\0') keys.back() = IValue(static_cast<int64_t>(i));
      }
      std::string at =
          where + "[" + (keys.back().isString() ? "'" + keys.back().toStringRef() + "'" : std::to_string(k)) + "]";
      if (keyType) Fits(keys.back(), keyType, want, where + " key " + std::to_string(k + 1));
      values.push_back(FromJs(env, Elem(env, valuesJs, k), valueType, at, depth + 1));
      if (valueType) Fits(values.back(), valueType, want, at);
    }
    c10::impl::GenericDict dict(keyType ? keyType : CommonType(keys), valueType ? valueType : CommonType(values));
    for (uint32_t k = 0; k < len; k++) {
      if (!keys[k].isString() && !keys[k].isInt() && !keys[k].isDouble() && !keys[k].isBool() && !keys[k].isTensor())
        throw ArgError(where + ": dict keys must be strings, numbers, booleans or tensors");
      dict.insert_or_assign(keys[k], values[k]);
    }
    return IValue(dict);
  }
  throw ArgError(where + ": unknown tag '" + tag + "'");
}

// ---- IValue -> plain tree (worker) -> JS (JS thread) ----

struct Out {
  char tag = 'N';  // T tensor, F float, I int, B bool, S string, N none, A tuple/list, D dict
  at::Tensor t;
  double d = 0;
  int64_t i = 0;
  bool b = false;
  std::string s;
  std::vector<Out> items, keys;
};

Out ToOut(const IValue& v, const std::string& where, int depth) {
  if (depth > kMaxDepth) throw std::runtime_error(where + " is nested more than 64 levels deep");
  Out o;
  if (v.isNone()) return o;
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return o;
    o.tag = 'T';
    o.t = t.detach();
  } else if (v.isDouble()) {
    o.tag = 'F';
    o.d = v.toDouble();
  } else if (v.isInt()) {
    o.tag = 'I';
    o.i = v.toInt();
  } else if (v.isBool()) {
    o.tag = 'B';
    o.b = v.toBool();
  } else if (v.isString()) {
    o.tag = 'S';
    o.s = v.toStringRef();
  } else if (v.isDevice()) {
    o.tag = 'S';
    o.s = v.toDevice().str();
  } else if (v.isTuple() || v.isList()) {
    o.tag = 'A';
    c10::ArrayRef<IValue> elems = v.isTuple() ? v.toTupleRef().elements().asArrayRef() : v.toListRef();
    for (size_t k = 0; k < elems.size(); k++)
      o.items.push_back(ToOut(elems[k], where + "[" + std::to_string(k) + "]", depth + 1));
  } else if (v.isGenericDict()) {
    o.tag = 'D';
    for (const auto& e : v.toGenericDict()) {
      o.keys.push_back(ToOut(e.key(), where + " key", depth + 1));
      o.items.push_back(ToOut(e.value(), where + "[key]", depth + 1));
    }
  } else {
    throw std::runtime_error(where + " is a " + v.tagKind() +
                             ", which nodetorch cannot convert (it converts tensors, numbers, booleans, strings, "
                             "None, tuples, lists and dicts)");
  }
  return o;
}

napi_value ToJs(napi_env env, const Out& o) {
  napi_value arr;
  Check(env, napi_create_array(env, &arr));
  Check(env, napi_set_element(env, arr, 0, MakeString(env, std::string(1, o.tag))));
  napi_value v = nullptr;
  switch (o.tag) {
    case 'T': v = Wrap(env, o.t); break;
    case 'F': v = MakeNumber(env, o.d); break;
    case 'I':
      if (o.i >= -9007199254740991LL && o.i <= 9007199254740991LL)
        v = MakeNumber(env, static_cast<double>(o.i));
      else
        Check(env, napi_create_bigint_int64(env, o.i, &v));
      break;
    case 'B': v = MakeBool(env, o.b); break;
    case 'S': v = MakeString(env, o.s); break;
    case 'A':
    case 'D': {
      Check(env, napi_create_array_with_length(env, o.items.size(), &v));
      for (size_t k = 0; k < o.items.size(); k++) Check(env, napi_set_element(env, v, k, ToJs(env, o.items[k])));
      if (o.tag == 'D') {
        napi_value keys;
        Check(env, napi_create_array_with_length(env, o.keys.size(), &keys));
        for (size_t k = 0; k < o.keys.size(); k++) Check(env, napi_set_element(env, keys, k, ToJs(env, o.keys[k])));
        Check(env, napi_set_element(env, arr, 1, keys));
        Check(env, napi_set_element(env, arr, 2, v));
        return arr;
      }
      break;
    }
    default: return arr;  // 'N'
  }
  Check(env, napi_set_element(env, arr, 1, v));
  return arr;
}

void Reject(napi_env env, napi_deferred deferred, const std::string& msg) {
  napi_value m, err;
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
  napi_create_error(env, nullptr, m, &err);
  napi_reject_deferred(env, deferred, err);
}

// A JS exception left pending by a failed napi call in a completion callback becomes the rejection.
void RejectPending(napi_env env, napi_deferred deferred, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_reject_deferred(env, deferred, e);
  } else {
    Reject(env, deferred, what);
  }
}

// ---- jit_load(file, device) -> Promise<object> ----

struct LoadJob {
  std::string file;
  c10::optional<at::Device> device;
  std::shared_ptr<Module> module;
  std::string error;
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
};

void LoadExecute(napi_env, void* data) {
  LoadJob& j = *static_cast<LoadJob*>(data);
  try {
    // the archive's structure and every entry's CRC-32 were checked in TS (lib/io/zip.ts) first
    j.module = std::make_shared<Module>(torch::jit::load(j.file, j.device));
  } catch (const c10::Error& e) {
    j.error = LoadMessage(j.file, e.what_without_backtrace());
  } catch (const std::exception& e) {
    j.error = LoadMessage(j.file, e.what());
  } catch (...) {
    j.error = LoadMessage(j.file, "unknown error");
  }
}

void LoadComplete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<LoadJob> j(static_cast<LoadJob*>(data));
  napi_delete_async_work(env, j->work);
  if (status != napi_ok || !j->error.empty()) {
    Reject(env, j->deferred, j->error.empty() ? "jit.load: '" + j->file + "': the load was cancelled" : j->error);
    return;
  }
  try {
    auto* o = new ScriptObject();
    o->module = std::move(j->module);
    o->file = j->file;
    napi_resolve_deferred(env, j->deferred, WrapObject(env, o, &ScriptObject::kTag));
  } catch (...) {
    RejectPending(env, j->deferred, "jit.load: could not create the module object");
  }
}

napi_value JitLoad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto j = std::make_unique<LoadJob>();
  j->file = a.String(0, "file");
  if (j->file.empty()) throw ArgError("expected a file path for file (argument 1) but received ''");
  j->device = a.Device(1);
  return QueueAsync(env, std::move(j), "nodetorch.jit_load", LoadExecute, LoadComplete);
}

// ---- jit_run(module, method, inputs) -> Promise<encoded output> ----

// Thread tuners for forwards, per module, method and batch size class: a server calls forward once
// per request batch, so the choice outlives one call, but one thread can win at batch 1 and lose 1.8x
// at batch 64, and a dynamic batcher sends both. Classes: the first input's leading size rounded
// down to a power of 2 (0 where it is not a tensor with a dimension). Entries of freed modules are
// dropped as the table grows.
std::shared_ptr<LockedThreadTuner> ForwardTuner(const std::shared_ptr<Module>& module, const std::string& method,
                                                int sizeClass) {
  static std::mutex m;
  static std::map<std::tuple<const Module*, std::string, int>,
                  std::pair<std::weak_ptr<Module>, std::shared_ptr<LockedThreadTuner>>>
      table;
  std::lock_guard<std::mutex> lk(m);
  if (table.size() > 256)
    for (auto it = table.begin(); it != table.end();) it = it->second.first.expired() ? table.erase(it) : std::next(it);
  auto& e = table[{module.get(), method, sizeClass}];
  if (!e.second || e.first.expired()) e = {module, std::make_shared<LockedThreadTuner>()};
  return e.second;
}

// The batch size class of a forward's inputs (ForwardTuner).
int SizeClass(const std::vector<IValue>& inputs) {
  if (inputs.empty() || !inputs[0].isTensor() || inputs[0].toTensor().dim() == 0) return 0;
  int c = 1;
  for (int64_t n = inputs[0].toTensor().size(0); n > 1; n >>= 1) c++;
  return c;
}

// A forward on the addon's own threads (threads.h: SubmitToPool), not libuv's pool: a server's
// forwards in flight would otherwise hold every pool thread while fs and dns wait.
struct RunJob final : PoolJob {
  std::shared_ptr<Module> module;
  std::shared_ptr<LockedThreadTuner> tuner;  // keeps the module alive if JS disposes it meanwhile
  c10::optional<torch::jit::Method> method;
  std::string name;
  std::vector<IValue> inputs;
  int threads = 1;
  std::shared_ptr<int> inflight;
  Out out;
  std::string error;
  napi_deferred deferred = nullptr;

  void Execute() override {
    try {
      // libtorch's thread count is per thread under OpenMP: the one JS set, or fewer where that is
      // faster (a loaded machine; threads.h)
      const bool tune = threads > 1;
      const int want = tune ? tuner->Next(threads) : threads;
      SetThreadsHere(want);
      // the cost per sample where the first input is a batch (a server's batches vary in size)
      double samples = 1;
      if (!inputs.empty() && inputs[0].isTensor() && inputs[0].toTensor().dim() > 0)
        samples = static_cast<double>(std::max<int64_t>(inputs[0].toTensor().size(0), 1));
      const auto t0 = std::chrono::steady_clock::now();
      // Outputs come back detached, so autograd would only cost memory; plain no-grad (not inference
      // mode) keeps the outputs usable in later autograd code (a trainable head on TorchScript features).
      torch::NoGradGuard nograd;
      IValue r = (*method)(std::move(inputs));
      if (tune)
        tuner->Record(want, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / samples);
      inputs.clear();
      out = ToOut(r, "the result of " + name, 0);
    } catch (const c10::Error& e) {
      error = RunMessage(name, e.what_without_backtrace());
    } catch (const std::exception& e) {
      error = RunMessage(name, e.what());
    } catch (...) {
      error = RunMessage(name, "unknown error");
    }
    inputs.clear();
  }

  void Complete(napi_env env) override {
    (*inflight)--;
    if (!error.empty()) {
      Reject(env, deferred, error);
      return;
    }
    try {
      napi_resolve_deferred(env, deferred, ToJs(env, out));
    } catch (...) {
      RejectPending(env, deferred, ("jit " + name + ": could not convert the result").c_str());
    }
  }
};

napi_value JitRun(napi_env env, napi_callback_info info) {
  Args a(env, info);
  ScriptObject& o = a.Object<ScriptObject>(0, "module");
  auto j = std::make_unique<RunJob>();
  j->name = a.String(1, "method");
  j->module = Live(o);
  j->method = j->module->find_method(j->name);
  if (!j->method) {
    std::string have;
    for (const auto& m : j->module->get_methods()) have += (have.empty() ? "" : ", ") + m.name();
    // thrown as is: the usual "op(arguments): message" form would quote the method name twice
    std::string msg = "jit " + j->name + ": the module has no method '" + j->name +
                      "' (its methods: " + (have.empty() ? "none" : have) + ")";
    napi_throw_error(env, nullptr, msg.c_str());
    throw PendingJsError();
  }
  const auto& args = j->method->function().getSchema().arguments();  // args[0] is self
  uint32_t n = ArrayLength(env, a[2], "inputs (argument 3)");
  j->inputs.reserve(n);
  for (uint32_t k = 0; k < n; k++) {
    c10::TypePtr want = k + 1 < args.size() ? args[k + 1].type() : c10::TypePtr(nullptr);
    j->inputs.push_back(FromJs(env, Elem(env, a[2], k), want, "input " + std::to_string(k + 1), 0));
  }
  j->threads = WantedThreads();  // not the JS thread's own, which the load watch may have lowered
  j->tuner = ForwardTuner(j->module, j->name, SizeClass(j->inputs));
  j->inflight = o.inflight;
  napi_value promise;
  Check(env, napi_create_promise(env, &j->deferred, &promise));
  SubmitToPool(env, std::move(j));
  (*o.inflight)++;  // Complete, which takes it back, runs on this thread later
  return promise;
}

// ---- synchronous members ----

// jit_compile(source): a module whose methods are TorchScript source (like torch.jit.CompilationUnit).
napi_value JitCompile(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::string src = ReadString(env, a[0], "source (argument 1)");
  auto m = std::make_shared<Module>(c10::QualifiedName("__torch__.nodetorch.Compiled"));
  if (!m->hasattr("training")) m->register_attribute("training", c10::BoolType::get(), true);
  // the compiler's message quotes the source: thrown as is, not after a description of the arguments
  std::string error;
  try {
    m->define(src);
  } catch (const c10::Error& e) {
    error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty()) {
    error = "jit.compile: " + Trim(error.substr(std::min(error.find_first_not_of("\n "), error.size())));
    napi_throw_error(env, nullptr, error.c_str());
    throw PendingJsError();
  }
  auto* o = new ScriptObject();
  o->module = std::move(m);
  o->file = "<compiled>";
  return WrapObject(env, o, &ScriptObject::kTag);
}

// [name, schema, name, schema, ...]
napi_value JitMethods(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto m = Live(a.Object<ScriptObject>(0, "module"));
  std::vector<torch::jit::Method> methods = m->get_methods();
  napi_value arr;
  Check(env, napi_create_array_with_length(env, methods.size() * 2, &arr));
  uint32_t i = 0;
  for (const auto& method : methods) {
    std::ostringstream schema;
    schema << method.function().getSchema();
    Check(env, napi_set_element(env, arr, i++, MakeString(env, method.name())));
    Check(env, napi_set_element(env, arr, i++, MakeString(env, schema.str())));
  }
  return arr;
}

// flat [name, handle, name, handle, ...]
napi_value NamedTensors(napi_env env, const std::vector<std::pair<std::string, at::Tensor>>& items) {
  napi_value arr;
  Check(env, napi_create_array_with_length(env, items.size() * 2, &arr));
  uint32_t i = 0;
  for (const auto& item : items) {
    Check(env, napi_set_element(env, arr, i++, MakeString(env, item.first)));
    Check(env, napi_set_element(env, arr, i++, Wrap(env, item.second)));
  }
  return arr;
}

template <typename List>
napi_value Named(napi_env env, const List& list) {
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto& item : list) items.emplace_back(item.name, item.value);
  return NamedTensors(env, items);
}

// flat [name, handle, ...] with PyTorch's dotted names; the tensors are the module's own
napi_value JitParameters(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto m = Live(a.Object<ScriptObject>(0, "module"));
  return Named(env, m->named_parameters(true));
}

napi_value JitBuffers(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto m = Live(a.Object<ScriptObject>(0, "module"));
  return Named(env, m->named_buffers(true));
}

// parameters then buffers, detached (sharing storage), as PyTorch's state_dict() lists them per module
napi_value JitStateDict(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto m = Live(a.Object<ScriptObject>(0, "module"));
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto& sub : m->named_modules()) {
    std::string prefix = sub.name.empty() ? "" : sub.name + ".";
    for (const auto& p : sub.value.named_parameters(false)) items.emplace_back(prefix + p.name, p.value.detach());
    for (const auto& b : sub.value.named_buffers(false)) items.emplace_back(prefix + b.name, b.value.detach());
  }
  return NamedTensors(env, items);
}

napi_value JitTrain(napi_env env, napi_callback_info info) {
  Args a(env, info);
  ScriptObject& o = a.Object<ScriptObject>(0, "module");
  bool on = a.Bool(1, "on");
  auto m = Live(o);
  NotRunning(o, on ? "switch to training mode" : "switch to eval mode");
  m->train(on);
  return nullptr;
}

napi_value JitIsTraining(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return MakeBool(env, Live(a.Object<ScriptObject>(0, "module"))->is_training());
}

// jit_to(module, device | null, dtype code | -1): parameters and buffers in place (floating ones cast)
napi_value JitTo(napi_env env, napi_callback_info info) {
  Args a(env, info);
  ScriptObject& o = a.Object<ScriptObject>(0, "module");
  c10::optional<at::Device> device = a.Device(1);
  c10::optional<at::ScalarType> dtype = a.Dtype(2);
  if (dtype && !at::isFloatingType(*dtype))
    throw ArgError("a module can only be cast to a floating dtype, not " + DtypeName(*dtype));
  auto m = Live(o);
  NotRunning(o, "move the module");
  // not Module::to, which also casts integer buffers (num_batches_tracked); PyTorch's to() keeps them
  auto move = [&](at::Tensor t) {
    at::ScalarType d = dtype && at::isFloatingType(t.scalar_type()) ? *dtype : t.scalar_type();
    at::Device dev = device.value_or(t.device());
    if (d != t.scalar_type() || dev != t.device()) t.set_data(t.to(dev, d));
  };
  for (const at::Tensor& t : m->parameters()) move(t);
  for (const at::Tensor& t : m->buffers()) move(t);
  return nullptr;
}

// Frees the module's weights now (a running job keeps its own reference); false if already disposed.
napi_value JitDispose(napi_env env, napi_callback_info info) {
  Args a(env, info);
  ScriptObject& o = a.Object<ScriptObject>(0, "module");
  bool had = static_cast<bool>(o.module);
  o.module.reset();
  return MakeBool(env, had);
}

// ---- jit_trace(fn, inputs, names, tensors, buffers) -> module ----

// What the tracer warned about while the traced function ran (tracer::warn: a tensor's value read
// into JS, an in-place op it cannot replay...). The tracer's state is thread-local and the
// function runs on this (the JS) thread, so this is too.
thread_local std::vector<std::string>* tl_trace_warnings = nullptr;

void RecordTraceWarning(const std::string& msg) {
  if (tl_trace_warnings) tl_trace_warnings->push_back(msg);
}

}  // namespace

void NoteValueRead(const char* what) {
  if (tl_trace_warnings && torch::jit::tracer::isTracing())
    tl_trace_warnings->push_back(std::string("the forward read a tensor's values into JS (") + what +
                                 "), so control flow or numbers computed from them would be frozen into the trace");
}

namespace {

at::Tensor HandleTensor(napi_env env, napi_value v, const std::string& where) {
  double d = -1;
  if (napi_get_value_double(env, v, &d) == napi_ok && d >= 0 && d < 9007199254740992.0 && d == std::floor(d))
    if (at::Tensor* p = Table().Get(static_cast<uint64_t>(d))) return *p;
  throw ArgError(where + " is not a live Tensor (disposed, or not a tensor handle)");
}

// The submodule of root that holds the dotted name's last part, made on the way ("0.weight" ->
// submodule "0"), and that last part.
std::pair<Module, std::string> Owner(Module root, const std::string& dotted) {
  std::string rest = dotted;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    std::string part = rest.substr(0, dot);
    if (part.empty()) throw ArgError("the parameter name '" + dotted + "' has an empty part");
    if (!root.hasattr(part)) {
      Module sub(c10::QualifiedName("__torch__.nodetorch.TracedModule"), root._ivalue()->compilation_unit(),
                 /*shouldMangle=*/true);
      if (!sub.hasattr("training")) sub.register_attribute("training", c10::BoolType::get(), root.is_training());
      root.register_module(part, sub);
    }
    IValue v = root.attr(part);
    if (!v.isModule()) throw ArgError("the name '" + dotted + "' uses '" + part + "' both as a tensor and a submodule");
    root = Module(v.toObject());
  }
  if (rest.empty() || root.hasattr(rest)) throw ArgError("the parameter name '" + dotted + "' is empty or repeated");
  return {root, rest};
}

// Whether v is computed from one of the graph's inputs after the first (self).
bool DependsOnInputs(torch::jit::Value* v) {
  std::unordered_set<torch::jit::Value*> seen;
  std::vector<torch::jit::Value*> todo{v};
  while (!todo.empty()) {
    torch::jit::Value* x = todo.back();
    todo.pop_back();
    if (!seen.insert(x).second) continue;
    if (x->node()->kind() == c10::prim::Param) {
      if (x->offset() > 0) return true;
      continue;
    }
    for (torch::jit::Value* in : x->node()->inputs()) todo.push_back(in);
  }
  return false;
}

// An output the forward made without the inputs (a tensor from JS numbers, or one computed
// off this thread, e.g. by an async predict) would be a constant in the trace: refused.
std::string ConstantOutput(torch::jit::Graph& g) {
  std::vector<torch::jit::Value*> outs;
  for (torch::jit::Value* o : g.outputs()) {
    if (o->node()->kind() == c10::prim::TupleConstruct)
      for (torch::jit::Value* e : o->node()->inputs()) outs.push_back(e);
    else
      outs.push_back(o);
  }
  for (size_t i = 0; i < outs.size(); i++)
    if (!DependsOnInputs(outs[i]))
      return "jit.trace: output " + std::to_string(i + 1) +
             " of the forward is not computed from its inputs by tensor ops on this thread, so the trace would "
             "return it as a constant (was it made from JS values, or computed asynchronously, e.g. by predict()?)";
  return "";
}

std::string TraceMessage(const std::string& raw) {
  std::string msg = StripEnforce(Trim(raw));
  if (Has(msg, "can't be nested"))
    return "jit.trace: a trace is already being recorded on this thread (jit.trace called from inside a traced "
           "forward); traces cannot be nested";
  if (Has(msg, "observable data dependence") || Has(msg, "untraceable") || Has(msg, "not have observable"))
    return "jit.trace: an output of the forward was not computed from its inputs by tensor ops on this thread, so "
           "the tracer did not record how it was made (was it computed asynchronously, e.g. by predict(), or "
           "created from JS numbers?): " +
           msg;
  return "jit.trace: the forward could not be traced: " + msg;
}

napi_value JitTrace(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (a.Type(0) != napi_function) throw ArgError("fn (argument 1): expected a function");
  napi_value fn = a[0];
  const uint32_t nIn = ArrayLength(env, a[1], "inputs (argument 2)");
  const uint32_t nParams = ArrayLength(env, a[2], "names (argument 3)");
  if (ArrayLength(env, a[3], "tensors (argument 4)") != nParams ||
      ArrayLength(env, a[4], "buffers (argument 5)") != nParams)
    throw ArgError("names, tensors and buffers (arguments 3-5) must have the same length");
  if (nIn > 4096 || nParams > (1u << 20)) throw ArgError("too many inputs or parameters to trace");
  torch::jit::Stack inputs;
  for (uint32_t i = 0; i < nIn; i++)
    inputs.emplace_back(HandleTensor(env, Elem(env, a[1], i), "inputs[" + std::to_string(i) + "]"));

  auto self = std::make_shared<Module>(c10::QualifiedName("__torch__.nodetorch.TracedModule"));
  if (!self->hasattr("training")) self->register_attribute("training", c10::BoolType::get(), a.Bool(5, "training"));
  for (uint32_t i = 0; i < nParams; i++) {
    std::string name = ReadString(env, Elem(env, a[2], i), "names[" + std::to_string(i) + "]");
    at::Tensor t = HandleTensor(env, Elem(env, a[3], i), "tensors[" + std::to_string(i) + "] ('" + name + "')");
    bool isBuffer = false;
    if (napi_get_value_bool(env, Elem(env, a[4], i), &isBuffer) != napi_ok)
      throw ArgError("buffers[" + std::to_string(i) + "]: expected a boolean");
    auto owner = Owner(*self, name);
    owner.first.register_parameter(owner.second, t, isBuffer);
  }

  std::vector<std::string> warnings;
  std::string error;
  bool jsThrew = false;
  // the handles made for the forward's inputs: released when the trace ends (the trace holds no
  // handle; JS wrappers of them, if any remain, see a disposed tensor)
  std::vector<uint64_t> made;
  struct ReleaseMade {
    std::vector<uint64_t>& hs;
    ~ReleaseMade() {
      for (uint64_t h : hs) Table().Release(h);
    }
  } releaseMade{made};
  std::shared_ptr<torch::jit::tracer::TracingState> state;
  struct WarnScope {  // restored however the trace ends, a pending JS exception included
    explicit WarnScope(std::vector<std::string>* w) : outer(tl_trace_warnings) {
      torch::jit::tracer::setWarn(&RecordTraceWarning);
      tl_trace_warnings = w;
    }
    ~WarnScope() {
      tl_trace_warnings = outer;  // a nested (refused) jit_trace leaves the outer one's list in place
      if (!outer) torch::jit::tracer::setWarn([](const std::string&) {});
    }
    std::vector<std::string>* outer;
  };
  {
    WarnScope scope(&warnings);
    try {
      auto traced = torch::jit::tracer::trace(
          std::move(inputs),
          [&](torch::jit::Stack in) -> torch::jit::Stack {
            napi_value handles;
            Check(env, napi_create_array_with_length(env, in.size(), &handles));
            for (size_t i = 0; i < in.size(); i++) {
              napi_value h = Wrap(env, in[i].toTensor());
              double d = 0;
              napi_get_value_double(env, h, &d);
              made.push_back(static_cast<uint64_t>(d));
              Check(env, napi_set_element(env, handles, static_cast<uint32_t>(i), h));
            }
            napi_value undef, out;
            napi_get_undefined(env, &undef);
            if (napi_call_function(env, undef, fn, 1, &handles, &out) != napi_ok) {
              jsThrew = true;
              throw std::runtime_error("the forward threw");
            }
            bool isArray = false;
            napi_is_array(env, out, &isArray);
            if (!isArray) throw ArgError("the traced function must return an array of tensor handles");
            uint32_t n = 0;
            Check(env, napi_get_array_length(env, out, &n));
            if (n == 0 || n > 4096) throw ArgError("the forward returned no tensor");
            std::vector<IValue> outs;
            for (uint32_t i = 0; i < n; i++)
              outs.emplace_back(HandleTensor(env, Elem(env, out, i), "output " + std::to_string(i + 1)));
            // a bare tensor for one output (checked in TS), a tuple for several, as torch.jit.trace does
            napi_value single;
            bool one = false;
            if (napi_get_named_property(env, out, "single", &single) == napi_ok) napi_get_value_bool(env, single, &one);
            torch::jit::Stack res;
            if (one && n == 1)
              res.push_back(std::move(outs[0]));
            else
              res.emplace_back(c10::ivalue::Tuple::create(std::move(outs)));
            return res;
          },
          [](const at::Tensor&) { return std::string(); }, /*strict=*/true, /*force_outplace=*/false, self.get());
      state = traced.first;
    } catch (const ArgError& e) {
      error = std::string("jit.trace: ") + e.what();
    } catch (const c10::Error& e) {
      error = TraceMessage(e.what_without_backtrace());
    } catch (const std::exception& e) {
      error = TraceMessage(e.what());
    }
  }
  if (jsThrew) throw PendingJsError();  // the forward's own exception reaches the caller unchanged
  if (error.empty() && !warnings.empty())
    error = "jit.trace: the forward cannot be traced faithfully: " + Trim(warnings.front()) +
            " (a traced forward computes with tensor ops only)";
  if (!error.empty()) {
    napi_throw_error(env, nullptr, error.c_str());
    throw PendingJsError();
  }
  auto graph = state->graph;
  std::string constant = ConstantOutput(*graph);
  if (!constant.empty()) {
    napi_throw_error(env, nullptr, constant.c_str());
    throw PendingJsError();
  }
  auto fn2 =
      self->_ivalue()->compilation_unit()->create_function(c10::QualifiedName(*self->type()->name(), "forward"), graph);
  self->type()->addMethod(fn2);
  auto* o = new ScriptObject();
  o->module = std::move(self);
  o->file = "<traced>";
  return WrapObject(env, o, &ScriptObject::kTag);
}

// jit_save(module) -> Buffer: the archive torch.jit.save writes (lib/jit.ts writes it atomically).
napi_value JitSave(napi_env env, napi_callback_info info) {
  Args a(env, info);
  ScriptObject& o = a.Object<ScriptObject>(0, "module");
  auto m = Live(o);
  NotRunning(o, "save the module");
  std::ostringstream os;
  m->save(os);
  std::string bytes = os.str();
  napi_value buf;
  void* data = nullptr;
  Check(env, napi_create_buffer_copy(env, bytes.size(), bytes.data(), &data, &buf));
  return buf;
}

const Export kExports[] = {
    NT_EXPORT("jit_load", JitLoad),
    NT_EXPORT("jit_compile", JitCompile),
    NT_EXPORT("jit_run", JitRun),
    NT_EXPORT("jit_methods", JitMethods),
    NT_EXPORT("jit_parameters", JitParameters),
    NT_EXPORT("jit_buffers", JitBuffers),
    NT_EXPORT("jit_state_dict", JitStateDict),
    NT_EXPORT("jit_train", JitTrain),
    NT_EXPORT("jit_is_training", JitIsTraining),
    NT_EXPORT("jit_to", JitTo),
    NT_EXPORT("jit_dispose", JitDispose),
    NT_EXPORT("jit_trace", JitTrace),
    NT_EXPORT("jit_save", JitSave),
};

}  // namespace

// ---- the CPU fuser ----
// Debian 13's libtorch 2.6 has TorchScript's CPU fuser (NNC, code generation through LLVM) on,
// where 1.13 has it off; on that build the LLVM step never finished for a scripted loop of
// matmul + tanh (its own python3-torch hangs the same way on the module's second call, when the
// profiling executor fuses). CPU fusion stays off unless NODETORCH_JIT_CPU_FUSION=on.
namespace {
std::string jit_cpu_fusion = "not checked";
}  // namespace

void ConfigureJit() {
  const char* mode = std::getenv("NODETORCH_JIT_CPU_FUSION");
  const bool was = torch::jit::canFuseOnCPU();
  if (mode && std::string(mode) == "on") {
    torch::jit::overrideCanFuseOnCPU(true);
    jit_cpu_fusion = "on (NODETORCH_JIT_CPU_FUSION=on)";
    return;
  }
  torch::jit::overrideCanFuseOnCPU(false);
  jit_cpu_fusion =
      was ? "off (this libtorch turns it on; NODETORCH_JIT_CPU_FUSION=on keeps it)" : "off (libtorch's default)";
}

const std::string& JitCpuFusion() { return jit_cpu_fusion; }

void RegisterJit(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
