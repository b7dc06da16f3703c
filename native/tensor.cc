// Tensor handles, creation, data access, metadata and memory accounting.
#include "tensor.h"

#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "jit.h"
#include "threads.h"

namespace nt {

// ---- handle table ----

HandleTable& Table() {
  // Heap-allocated and never destroyed: freeing tensors from a static destructor at process
  // exit could run after libtorch's own globals are gone. Env cleanup empties it instead.
  static thread_local HandleTable* table = new HandleTable();
  return *table;
}

int64_t TensorBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  int64_t logical = static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
  return std::min<int64_t>(logical, static_cast<int64_t>(t.storage().nbytes()));
}

HandleTable::HandleTable() {
  std::random_device rd;
  rng_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ reinterpret_cast<uintptr_t>(this) ^
         static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  if (rng_ == 0) rng_ = 0x9E3779B97F4A7C15ull;
}

uint32_t HandleTable::NextSalt() {
  // xorshift64*: cheap; only unpredictability to a caller guessing numbers matters here
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  uint64_t r = rng_ * 0x2545F4914F6CDD1Dull;
  return 1 + static_cast<uint32_t>((r >> 32) % (kMaxGen - 1));
}

uint64_t HandleTable::Insert(at::Tensor&& t) {
  FollowLoad(&load_seen_);  // every op from JS makes a result: its thread count follows the machine's load
  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= kIndexMask)
      throw std::runtime_error("too many live tensors (16,777,215): dispose() tensors or use nt.tidy()");
    idx = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
    slots_.back().gen = NextSalt();
  }
  Slot& s = slots_[idx];
  s.bytes = TensorBytes(t);
  s.t = std::move(t);
  s.used = true;
  live_++;
  bytes_ += s.bytes;
  pending_ += s.bytes + kNativeOverhead;
  return (static_cast<uint64_t>(s.gen) << kIndexBits) | idx;
}

bool HandleTable::Release(uint64_t h) {
  if (!Get(h)) return false;
  uint64_t idx = h & kIndexMask;
  Slot& s = slots_[idx];
  at::Tensor dead = std::move(s.t);
  s.t = at::Tensor();
  s.used = false;
  if (s.ref) DropRef(s);
  s.gen = s.gen + 1 >= kMaxGen ? 1 : s.gen + 1;
  live_--;
  bytes_ -= s.bytes;
  pending_ -= s.bytes + kNativeOverhead;
  s.bytes = 0;
  free_.push_back(static_cast<uint32_t>(idx));
  return true;  // `dead` frees the tensor here, after the table is consistent again
}

void HandleTable::Clear() {
  // the env deletes its references itself as it goes away
  for (Slot& s : slots_) s.t = at::Tensor();
  slots_.clear();
  free_.clear();
  finalized_refs_.clear();
  live_ = 0;
  bytes_ = 0;
  pending_ = 0;
  tracked_ = 0;
  closed_ = true;
}

// ---- forgotten tensors ----

namespace {
// Node-API 8 runs this at the event-loop turn after V8 collected the wrapper.
void FinalizeTensor(napi_env, void* data, void*) {
  Table().Finalized(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)));
}
}  // namespace

void HandleTable::DropRef(Slot& s) {
  // env_ is null inside a finalizer (Finalized): that reference is queued instead
  if (env_)
    napi_delete_reference(env_, s.ref);
  else
    finalized_refs_.push_back(s.ref);
  s.ref = nullptr;
  s.dead = false;
  tracked_--;
}

bool HandleTable::Track(napi_env env, napi_value wrapper, uint64_t h) {
  if (closed_ || !Get(h)) return false;
  Slot& s = slots_[h & kIndexMask];
  if (s.ref) return false;
  napi_ref ref;
  if (napi_add_finalizer(env, wrapper, reinterpret_cast<void*>(static_cast<uintptr_t>(h)), FinalizeTensor, nullptr,
                         &ref) != napi_ok)
    return false;
  s.ref = ref;
  s.dead = false;
  tracked_++;
  env_ = env;
  if (!finalized_refs_.empty()) DeleteFinalizedRefs(env);
  MaybeScan(env);
  return true;
}

void HandleTable::Finalized(uint64_t h) {
  if (closed_) return;
  napi_env env = env_;
  env_ = nullptr;  // DropRef must not delete the reference whose finalizer is running
  Release(h);
  env_ = env;
}

void HandleTable::DeleteFinalizedRefs(napi_env env) {
  std::vector<napi_ref> refs;
  refs.swap(finalized_refs_);
  for (napi_ref r : refs) napi_delete_reference(env, r);
}

void HandleTable::Scan(napi_env env) {
  env_ = env;
  scans_++;
  int64_t deadBytes = 0;
  napi_handle_scope scope = nullptr;
  for (size_t idx = 0; idx < slots_.size(); idx++) {
    if ((idx & 1023) == 0) {
      if (scope) napi_close_handle_scope(env, scope);
      if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    }
    Slot& s = slots_[idx];
    if (!s.used || !s.ref) continue;
    napi_value v = nullptr;
    if (napi_get_reference_value(env, s.ref, &v) != napi_ok || v != nullptr) continue;
    if (s.dead) {
      Release((static_cast<uint64_t>(s.gen) << kIndexBits) | idx);
    } else {
      s.dead = true;
      deadBytes += s.bytes;
    }
  }
  if (scope) napi_close_handle_scope(env, scope);
  scan_bytes_ = bytes_ - deadBytes;
  scan_tracked_ = tracked_;
}

// ---- borrowed JS memory ----
// A tensor made over a SharedArrayBuffer-backed typed array keeps a reference to it (a
// SharedArrayBuffer can never be detached, so the reference keeps its memory alive). The storage
// may be freed on any thread (autograd or training threads), but a napi_ref may only be deleted
// on its own JS thread, so releases from elsewhere wait in a queue drained by the next call there.

namespace {

struct Borrow {
  napi_env env;
  napi_ref ref;
  std::thread::id tid;
};

std::mutex g_mu;
std::unordered_set<napi_env> g_live_envs;
std::vector<Borrow*> g_pending;
std::atomic<bool> g_have_pending{false};

bool EnvLive(napi_env env) {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_live_envs.count(env) > 0;
}

void ReleaseBorrow(Borrow* b) {
  if (std::this_thread::get_id() == b->tid && EnvLive(b->env)) {
    napi_delete_reference(b->env, b->ref);
    delete b;
    return;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_live_envs.count(b->env)) {
    delete b;  // its JS world is gone; nothing left to release
    return;
  }
  g_pending.push_back(b);
  g_have_pending = true;
}

}  // namespace

void DrainBorrows(napi_env env) {
  if (!g_have_pending.load(std::memory_order_relaxed)) return;
  std::vector<Borrow*> mine;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = std::partition(g_pending.begin(), g_pending.end(), [env](Borrow* b) { return b->env != env; });
    mine.assign(it, g_pending.end());
    g_pending.erase(it, g_pending.end());
    g_have_pending = !g_pending.empty();
  }
  for (Borrow* b : mine) {
    napi_delete_reference(b->env, b->ref);
    delete b;
  }
}

void EnvStarted(napi_env env) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_live_envs.insert(env);
}

void EnvStopping(napi_env env) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_live_envs.erase(env);
  }
  DrainBorrows(env);
}

namespace {

at::TensorOptions Options(const Args& a, size_t i, at::ScalarType dflt = at::kFloat) {
  at::TensorOptions o = at::TensorOptions().dtype(a.Dtype(i).value_or(dflt));
  if (auto d = a.Device(i + 1)) o = o.device(*d);
  return o.requires_grad(a.BoolOr(i + 2, "requiresGrad", false));
}

std::vector<int64_t> Shape(const Args& a, size_t i) {
  std::vector<int64_t> s = a.IntList(i, "shape");
  for (size_t k = 0; k < s.size(); k++)
    if (s[k] < 0)
      throw ArgError("expected shape to hold non-negative sizes but shape[" + std::to_string(k) + "] is " +
                     std::to_string(s[k]));
  return s;
}

// tensor_from_buffer(data, shape, dtype, copy): a tensor over the bytes of a typed array,
// Buffer or ArrayBuffer, read as `dtype`. Memory of an ArrayBuffer is always copied: any
// ArrayBuffer can be detached (transferred to a worker, structuredClone, ArrayBuffer.prototype
// .transfer) and its memory freed while a tensor, or a training thread, still reads it. A typed
// array over a SharedArrayBuffer, which cannot be detached, is borrowed (no copy) when aligned and
// copy is false.
napi_value FromBuffer(napi_env env, napi_callback_info info) {
  Args a(env, info);
  DrainBorrows(env);
  napi_value src = a[0];
  void* data = nullptr;
  size_t byteLength = 0;
  bool isTyped = false, isArrayBuffer = false, shared = false;
  napi_is_typedarray(env, src, &isTyped);
  if (isTyped) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    Check(env, napi_get_typedarray_info(env, src, &type, &length, &data, &ab, &offset));
    // the buffer of a typed array is an ArrayBuffer or a SharedArrayBuffer
    bool plain = true;
    Check(env, napi_is_arraybuffer(env, ab, &plain));
    shared = !plain;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array:
      case napi_uint16_array: elem = 2; break;
      case napi_int32_array:
      case napi_uint32_array:
      case napi_float32_array: elem = 4; break;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    byteLength = length * elem;
  } else {
    napi_is_arraybuffer(env, src, &isArrayBuffer);
    if (!isArrayBuffer)
      throw ArgError("expected a typed array, Buffer or ArrayBuffer for data but received " + DescribeValue(env, src));
    Check(env, napi_get_arraybuffer_info(env, src, &data, &byteLength));
  }
  std::vector<int64_t> shape = Shape(a, 1);
  at::ScalarType dtype = DtypeFromCode(a.Int(2, "dtype"));
  bool copy = a.BoolOr(3, "copy", false);
  int64_t numel = 1;
  for (int64_t s : shape) {
    if (s != 0 && numel > INT64_MAX / s) throw ArgError("shape " + ShapeString(shape) + " has too many elements");
    numel *= s;
  }
  size_t item = c10::elementSize(dtype);
  if (static_cast<uint64_t>(numel) > SIZE_MAX / item)
    throw ArgError("shape " + ShapeString(shape) + " of " + DtypeName(dtype) + " is too large to address");
  if (static_cast<size_t>(numel) * item != byteLength)
    throw ArgError("data holds " + std::to_string(byteLength) + " bytes but shape " + ShapeString(shape) + " of " +
                   DtypeName(dtype) + " needs " + std::to_string(numel * item) + " bytes");
  at::TensorOptions opts = at::TensorOptions().dtype(dtype);
  if (numel == 0) return Wrap(env, torch::empty(shape, opts));
  bool aligned = reinterpret_cast<uintptr_t>(data) % item == 0;
  if (copy || !aligned || !shared) {
    at::Tensor t = torch::empty(shape, opts);
    std::memcpy(t.data_ptr(), data, byteLength);
    return Wrap(env, std::move(t));
  }
  Borrow* b = new Borrow{env, nullptr, std::this_thread::get_id()};
  if (napi_create_reference(env, src, 1, &b->ref) != napi_ok) {
    delete b;
    throw PendingJsError();
  }
  at::Tensor t;
  try {
    t = at::from_blob(
        data, shape, [b](void*) { ReleaseBorrow(b); }, opts);
  } catch (...) {
    napi_delete_reference(env, b->ref);
    delete b;
    throw;
  }
  return Wrap(env, std::move(t));
}

// tensor_data(t): a fresh ArrayBuffer with the tensor's values, contiguous, on the CPU.
// float16/bfloat16 come back as float32 (JS has no 16-bit float arrays yet).
napi_value Data(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NoteValueRead("dataSync()/toArray()");
  at::NoGradGuard ng;
  at::Tensor t = a.Tensor(0, "tensor");
  if (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16) t = t.to(at::kFloat);
  t = t.to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel()) * t.element_size();
  void* dst = nullptr;
  napi_value ab;
  Check(env, napi_create_arraybuffer(env, n, &dst, &ab));
  if (n) std::memcpy(dst, t.data_ptr(), n);
  return ab;
}

napi_value Item(napi_env env, napi_callback_info info) {
  Args a(env, info);
  NoteValueRead("item()");
  const at::Tensor t = a.Tensor(0, "tensor");
  if (t.numel() != 1)
    throw std::runtime_error("item() needs a tensor with exactly one element but got shape " + ShapeString(t.sizes()));
  at::Scalar s = t.item();
  switch (t.scalar_type()) {
    case at::kLong: {
      napi_value r;
      Check(env, napi_create_bigint_int64(env, s.toLong(), &r));
      return r;
    }
    case at::kBool: return MakeBool(env, s.toBool());
    default: return MakeNumber(env, s.toDouble());
  }
}

// tensor_meta(t) -> [dtypeCode, device, ...shape]: everything immutable about a handle, once.
napi_value Meta(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor t = a.Tensor(0, "tensor");
  napi_value arr;
  Check(env, napi_create_array_with_length(env, t.dim() + 2, &arr));
  Check(env, napi_set_element(env, arr, 0, MakeNumber(env, static_cast<double>(DtypeCode(t.scalar_type())))));
  Check(env, napi_set_element(env, arr, 1, MakeString(env, t.device().str())));
  for (int64_t i = 0; i < t.dim(); i++)
    Check(env, napi_set_element(env, arr, i + 2, MakeNumber(env, static_cast<double>(t.size(i)))));
  return arr;
}

napi_value Dispose(napi_env env, napi_callback_info info) {
  Args a(env, info);
  double d = a.Number(0, "handle");
  bool freed = false;
  if (d >= 0 && d < 9007199254740992.0) freed = Table().Release(static_cast<uint64_t>(d));
  DrainBorrows(env);
  return MakeBool(env, freed);
}

// tensor_dispose_many(handles): frees a whole tidy() scope in one call.
napi_value DisposeMany(napi_env env, napi_callback_info info) {
  Args a(env, info);
  bool arr = false;
  napi_is_array(env, a[0], &arr);
  if (!arr) throw ArgError("expected an array of handles but received " + DescribeValue(env, a[0]));
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, a[0], &n));
  // Each element read makes a V8 handle: a scope per element keeps a huge array from piling them
  // up, and more entries than the table can ever hold (with repeats) is not a list of handles.
  constexpr uint32_t kMaxEntries = 1u << 26;
  if (n > kMaxEntries)
    throw ArgError("expected an array of at most " + std::to_string(kMaxEntries) + " handles but it has length " +
                   std::to_string(n));
  HandleTable& table = Table();
  for (uint32_t i = 0; i < n; i++) {
    napi_handle_scope scope;
    Check(env, napi_open_handle_scope(env, &scope));
    napi_value e;
    double d;
    napi_status s = napi_get_element(env, a[0], i, &e);
    if (s == napi_ok && napi_get_value_double(env, e, &d) == napi_ok && d >= 0 && d < 9007199254740992.0)
      table.Release(static_cast<uint64_t>(d));
    napi_close_handle_scope(env, scope);
    if (s != napi_ok) throw PendingJsError();
  }
  DrainBorrows(env);
  return nullptr;
}

// tensor_track(wrapper, handle) -> bool: frees the tensor once V8 collects wrapper (handles.h):
// at the next event-loop turn, or sooner in code that never yields, as memory grows.
napi_value Track(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  double d = -1;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_object)
    throw ArgError("expected an object for wrapper but received " + DescribeValue(env, argc >= 1 ? argv[0] : nullptr));
  if (argc < 2 || napi_get_value_double(env, argv[1], &d) != napi_ok || !(d >= 0 && d < 9007199254740992.0))
    throw ArgError("expected a tensor handle for handle but received " +
                   DescribeValue(env, argc >= 2 ? argv[1] : nullptr));
  return MakeBool(env, Table().Track(env, argv[0], static_cast<uint64_t>(d)));
}

// tensor_scan(): one scan of the tracked tensors' weak references now (tests; handles.h)
napi_value ScanNow(napi_env env, napi_callback_info) {
  Table().Scan(env);
  return nullptr;
}

napi_value MemoryStats(napi_env env, napi_callback_info info) {
  HandleTable& t = Table();
  int64_t unused;
  napi_adjust_external_memory(env, t.TakePendingExternal(), &unused);
  napi_value o;
  Check(env, napi_create_object(env, &o));
  Check(env, napi_set_named_property(env, o, "tensors", MakeNumber(env, static_cast<double>(t.live()))));
  Check(env, napi_set_named_property(env, o, "bytes", MakeNumber(env, static_cast<double>(t.bytes()))));
  return o;
}

// ---- allocation limit ----

// While a loader rebuilds a model from a file, every CPU allocation on its thread is capped: a
// forged architecture (a Dense of 10^9 units) is then an error, not gigabytes touched by
// initialization. The wrapper delegates to libtorch's allocator and is installed on first use.
thread_local int64_t tl_alloc_limit = -1;

class LimitedCPUAllocator final : public c10::Allocator {
 public:
  explicit LimitedCPUAllocator(c10::Allocator* base) : base_(base) {}
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(size_t n) override {
    Check(n);
    return base_->allocate(n);
  }
  void copy_data(void* dest, const void* src, std::size_t count) const override { base_->copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t n) const override {
    Check(n);
    return base_->allocate(n);
  }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return base_->raw_deleter(); }

 private:
  static void Check(size_t n) {
    TORCH_CHECK(tl_alloc_limit < 0 || static_cast<int64_t>(n) <= tl_alloc_limit, "an allocation of ", n,
                " bytes is over the limit of ", tl_alloc_limit, " bytes set while loading from a file");
  }
  c10::Allocator* base_;
};

// memory_with_alloc_limit(bytes, fn): calls fn() with single CPU allocations on this thread capped
// at bytes; the previous limit is restored however fn ends.
napi_value WithAllocLimit(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t limit = a.Int(0, "bytes");
  if (limit < 0) throw ArgError("bytes: expected a non-negative byte count");
  if (a.Type(1) != napi_function) throw ArgError("fn: expected a function, got " + DescribeValue(env, a[1]));
  static LimitedCPUAllocator* limited = [] {
    auto* l = new LimitedCPUAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(l, /*priority=*/1);
    return l;
  }();
  (void)limited;
  int64_t prev = tl_alloc_limit;
  tl_alloc_limit = limit;
  napi_value global, result;
  napi_get_global(env, &global);
  napi_status s = napi_call_function(env, global, a[1], 0, nullptr, &result);
  tl_alloc_limit = prev;
  if (s != napi_ok) throw PendingJsError();
  return result;
}

// ---- creation ----

napi_value Zeros(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, torch::zeros(Shape(a, 0), Options(a, 1)));
}
napi_value Ones(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, torch::ones(Shape(a, 0), Options(a, 1)));
}
napi_value Empty(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, torch::empty(Shape(a, 0), Options(a, 1)));
}
napi_value Full(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, torch::full(Shape(a, 0), a.Scalar(1, "fillValue"), Options(a, 2)));
}
napi_value Rand(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, torch::rand(Shape(a, 0), Options(a, 1)));
}
napi_value Randn(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, torch::randn(Shape(a, 0), Options(a, 1)));
}
napi_value Randint(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t low = a.Int(0, "low"), high = a.Int(1, "high");
  if (high <= low)
    throw ArgError("expected low < high but got low=" + std::to_string(low) + ", high=" + std::to_string(high));
  return Wrap(env, torch::randint(low, high, Shape(a, 2), Options(a, 3, at::kLong)));
}
napi_value Eye(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t n = a.Int(0, "n");
  int64_t m = a.IntOr(1, "m", n);
  if (n < 0 || m < 0)
    throw ArgError("expected non-negative sizes for eye but got n=" + std::to_string(n) + ", m=" + std::to_string(m));
  return Wrap(env, torch::eye(n, m, Options(a, 2)));
}
napi_value Arange(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::Scalar start = a.Scalar(0, "start"), end = a.Scalar(1, "end"), step = a.Scalar(2, "step");
  if (step.toDouble() == 0) throw ArgError("expected a non-zero step for arange");
  return Wrap(env, torch::arange(start, end, step, Options(a, 3)));
}
napi_value Linspace(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t steps = a.Int(2, "steps");
  if (steps < 0)
    throw ArgError("expected a non-negative number of steps for linspace but got " + std::to_string(steps));
  return Wrap(env, torch::linspace(a.Scalar(0, "start"), a.Scalar(1, "end"), steps, Options(a, 3)));
}
napi_value ScalarTensor(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, torch::scalar_tensor(a.Scalar(0, "value"), Options(a, 1)));
}

at::TensorOptions LikeOptions(const Args& a, const at::Tensor& like) {
  at::TensorOptions o = like.options();
  if (auto d = a.Dtype(1)) o = o.dtype(*d);
  if (auto d = a.Device(2)) o = o.device(*d);
  return o.requires_grad(a.BoolOr(3, "requiresGrad", false));
}
napi_value ZerosLike(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor& t = a.Tensor(0, "input");
  return Wrap(env, torch::zeros(t.sizes(), LikeOptions(a, t)));
}
napi_value OnesLike(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor& t = a.Tensor(0, "input");
  return Wrap(env, torch::ones(t.sizes(), LikeOptions(a, t)));
}
napi_value RandLike(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor& t = a.Tensor(0, "input");
  return Wrap(env, torch::rand(t.sizes(), LikeOptions(a, t)));
}
napi_value RandnLike(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor& t = a.Tensor(0, "input");
  return Wrap(env, torch::randn(t.sizes(), LikeOptions(a, t)));
}

// ---- conversion ----

napi_value To(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor t = a.Tensor(0, "tensor");
  auto dtype = a.Dtype(1);
  auto device = a.Device(2);
  bool copy = a.BoolOr(3, "copy", false);
  return Wrap(env, t.to(device.value_or(t.device()), dtype.value_or(t.scalar_type()), false, copy));
}
napi_value Clone(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "tensor").clone());
}
napi_value Detach(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "tensor").detach());
}
napi_value Contiguous(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, a.Tensor(0, "tensor").contiguous());
}
napi_value IsContiguous(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return MakeBool(env, a.Tensor(0, "tensor").is_contiguous());
}

const Export kExports[] = {
    NT_EXPORT("tensor_from_buffer", FromBuffer),
    NT_EXPORT("tensor_data", Data),
    NT_EXPORT("tensor_item", Item),
    NT_EXPORT("tensor_meta", Meta),
    NT_EXPORT("tensor_dispose", Dispose),
    NT_EXPORT("tensor_dispose_many", DisposeMany),
    NT_EXPORT("tensor_track", Track),
    NT_EXPORT("tensor_scan", ScanNow),
    NT_EXPORT("memory_stats", MemoryStats),
    NT_EXPORT("memory_with_alloc_limit", WithAllocLimit),
    NT_EXPORT("zeros", Zeros),
    NT_EXPORT("ones", Ones),
    NT_EXPORT("empty", Empty),
    NT_EXPORT("full", Full),
    NT_EXPORT("rand", Rand),
    NT_EXPORT("randn", Randn),
    NT_EXPORT("randint", Randint),
    NT_EXPORT("eye", Eye),
    NT_EXPORT("arange", Arange),
    NT_EXPORT("linspace", Linspace),
    NT_EXPORT("scalar_tensor", ScalarTensor),
    NT_EXPORT("zeros_like", ZerosLike),
    NT_EXPORT("ones_like", OnesLike),
    NT_EXPORT("rand_like", RandLike),
    NT_EXPORT("randn_like", RandnLike),
    NT_EXPORT("tensor_to", To),
    NT_EXPORT("tensor_clone", Clone),
    NT_EXPORT("tensor_detach", Detach),
    NT_EXPORT("tensor_contiguous", Contiguous),
    NT_EXPORT("tensor_is_contiguous", IsContiguous),
};

}  // namespace

void RegisterTensor(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
