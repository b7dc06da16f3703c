// The one error path: every native entry point runs inside Guard<>, which turns libtorch
// and argument errors into JS Errors naming the op and its tensor arguments. Also the
// argument readers every entry point uses, so no JS value can reach libtorch unchecked.
#pragma once
#include <memory>
#include <stdexcept>

#include "handles.h"

namespace nt {

// A bad argument detected before libtorch is called: becomes a TypeError.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A JS exception is already pending (a napi call failed): just unwind.
struct PendingJsError {};

void Check(napi_env env, napi_status s);
std::string DescribeValue(napi_env env, napi_value v, int depth = 0);
// The elements of v when it is a JS array of at most maxLength elements; false (out untouched)
// otherwise. One V8 handle per element: for short lists (options, layer steps, metric names).
bool ArrayElements(napi_env env, napi_value v, std::vector<napi_value>* out, uint32_t maxLength = 64);
std::string ShapeString(at::IntArrayRef sizes);
std::string DtypeName(at::ScalarType t);
std::string TensorDesc(const at::Tensor& t);
napi_value ThrowFromCatch(napi_env env, napi_callback_info info, const char* kind, const std::string& msg);

using RawFn = napi_value (*)(napi_env, napi_callback_info);

template <RawFn F>
napi_value Guard(napi_env env, napi_callback_info info) {
  try {
    return F(env, info);
  } catch (const PendingJsError&) {
    return nullptr;
  } catch (const ArgError& e) {
    return ThrowFromCatch(env, info, "TypeError", e.what());
  } catch (const c10::Error& e) {
    return ThrowFromCatch(env, info, "Error", e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return ThrowFromCatch(env, info, "RangeError", "out of memory while allocating the result");
  } catch (const std::exception& e) {
    return ThrowFromCatch(env, info, "Error", e.what());
  } catch (...) {
    return ThrowFromCatch(env, info, "Error", "unknown native error");
  }
}

// Queues a job on a libuv worker: execute runs there (touching no napi value), complete on the
// main thread settles job->deferred and deletes job->work and the job. Returns the job's promise.
template <typename Job>
napi_value QueueAsync(napi_env env, std::unique_ptr<Job> job, const char* name, napi_async_execute_callback execute,
                      napi_async_complete_callback complete) {
  napi_value promise, resource;
  Check(env, napi_create_promise(env, &job->deferred, &promise));
  Check(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource));
  Job* raw = job.get();
  Check(env, napi_create_async_work(env, nullptr, resource, execute, complete, raw, &raw->work));
  Check(env, napi_queue_async_work(env, raw->work));
  job.release();
  return promise;
}

// Reads a call's arguments; every accessor validates and throws ArgError with the position.
class Args {
 public:
  static constexpr size_t kMax = 10;
  Args(napi_env env, napi_callback_info info) : env_(env) {
    argc_ = kMax;
    Check(env, napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr));
  }
  napi_env env() const { return env_; }
  size_t size() const { return argc_; }
  napi_value operator[](size_t i) const { return i < argc_ ? argv_[i] : Undefined(); }

  napi_valuetype Type(size_t i) const;
  bool IsNullish(size_t i) const {
    napi_valuetype t = Type(i);
    return t == napi_undefined || t == napi_null;
  }
  // By value (a refcount bump): a reference into the handle table could dangle if reading a
  // later argument runs JS (a getter) that creates tensors or disposes this one.
  at::Tensor Tensor(size_t i, const char* name) const;
  std::vector<at::Tensor> TensorList(size_t i, const char* name) const;
  // A Tensor, or an undefined at::Tensor for null/undefined (libtorch's "no tensor").
  at::Tensor TensorOrUndefined(size_t i, const char* name) const {
    return IsNullish(i) ? at::Tensor() : Tensor(i, name);
  }
  double Number(size_t i, const char* name) const;
  int64_t Int(size_t i, const char* name) const;
  int64_t IntOr(size_t i, const char* name, int64_t dflt) const { return IsNullish(i) ? dflt : Int(i, name); }
  bool Bool(size_t i, const char* name) const;
  bool BoolOr(size_t i, const char* name, bool dflt) const { return IsNullish(i) ? dflt : Bool(i, name); }
  std::string String(size_t i, const char* name) const;
  std::vector<int64_t> IntList(size_t i, const char* name) const;
  // A number (int if integral), bigint or boolean as an at::Scalar.
  at::Scalar Scalar(size_t i, const char* name) const;
  // -1 / undefined means "default"; otherwise a dtype code (see DtypeFromCode).
  c10::optional<at::ScalarType> Dtype(size_t i) const;
  c10::optional<at::Device> Device(size_t i) const;
  // A native object made by WrapObject with this tag (a module, an optimizer...).
  template <typename T>
  T& Object(size_t i, const char* name) const {
    return *static_cast<T*>(ObjectPtr(i, name, &T::kTag, T::kWhat));
  }
  // An options object (or nothing: all defaults).
  class Options Opts(size_t i, const char* name) const;

 private:
  void* ObjectPtr(size_t i, const char* name, const napi_type_tag* tag, const char* what) const;
  napi_value Undefined() const;
  [[noreturn]] void Fail(size_t i, const char* name, const char* expected) const;
  napi_env env_;
  size_t argc_;
  napi_value argv_[kMax];
};

// Reads named options from a JS object; a wrong type names the option and what was expected.
class Options {
 public:
  Options(napi_env env, napi_value obj, std::string where) : env_(env), obj_(obj), where_(std::move(where)) {}
  bool Has(const char* key) const;
  int64_t Int(const char* key, int64_t dflt) const;
  double Number(const char* key, double dflt) const;
  bool Bool(const char* key, bool dflt) const;
  std::string String(const char* key, const std::string& dflt) const;
  // An integer or an array of integers (PyTorch's int-or-tuple options such as kernel_size).
  std::vector<int64_t> IntList(const char* key, std::vector<int64_t> dflt) const;
  std::vector<double> NumberList(const char* key, std::vector<double> dflt) const;
  c10::optional<at::Tensor> Tensor(const char* key) const;

 private:
  napi_value Get(const char* key) const;  // nullptr when absent, undefined or null
  [[noreturn]] void Fail(const char* key, napi_value v, const char* expected) const;
  napi_env env_;
  napi_value obj_;
  std::string where_;
};

// Native objects (modules, optimizers) owned by a JS object: the JS object's finalizer deletes
// them. Each type has a tag, so a module can never be read as an optimizer. T needs
// `static const napi_type_tag kTag` and `static constexpr const char* kWhat`.
struct NativeObject {
  virtual ~NativeObject() = default;
};
napi_value WrapObject(napi_env env, NativeObject* obj, const napi_type_tag* tag);
// The native object behind v when v is an object made by WrapObject with this tag; nullptr otherwise.
void* UnwrapTagged(napi_env env, napi_value v, const napi_type_tag* tag);
template <typename T>
T* UnwrapAs(napi_env env, napi_value v) {
  return static_cast<T*>(UnwrapTagged(env, v, &T::kTag));
}

at::ScalarType DtypeFromCode(int64_t code);
int64_t DtypeCode(at::ScalarType t);
at::Device ParseDevice(const std::string& s);

// Result wrapping: tensors become handles (doubles), plus small helpers.
napi_value Wrap(napi_env env, at::Tensor&& t);
inline napi_value Wrap(napi_env env, const at::Tensor& t) { return Wrap(env, at::Tensor(t)); }
napi_value WrapList(napi_env env, const std::vector<at::Tensor>& ts);
napi_value MakeNumber(napi_env env, double v);
napi_value MakeBool(napi_env env, bool v);
napi_value MakeString(napi_env env, const std::string& s);
napi_value Undefined(napi_env env);

struct Export {
  const char* name;
  RawFn fn;
};
void Register(napi_env env, napi_value exports, const Export* list, size_t n);

}  // namespace nt

#define NT_EXPORT(name, fn) \
  { name, ::nt::Guard<fn> }
