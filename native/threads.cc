// Thread policy: the adaptive intra-op thread switch (threads.h) and what the OpenMP runtime was
// started with. OMP_WAIT_POLICY / GOMP_SPINCOUNT are set by lib/native.ts before this addon (and
// with it libgomp) is loaded; they are read back here for `nodetorch info` and the benchmarks.
#include "threads.h"

#include <time.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#if AT_PARALLEL_OPENMP
#include <omp.h>
#endif

#include "tensor.h"

namespace nt {

namespace {
std::atomic<bool> adaptive{true};
// nt.setNumThreads' count, per JS thread (worker_threads each have their own, as libtorch's
// OpenMP count is per thread); 0: never set (libtorch's own)
thread_local int wanted = 0;
}  // namespace

bool AdaptiveThreads() { return adaptive.load(std::memory_order_relaxed); }

namespace {
std::atomic<int> process_threads{0};  // the last count given to at::set_num_threads
}  // namespace

void SetThreadsHere(int n) {
#if AT_PARALLEL_OPENMP
  at::internal::lazy_init_num_threads();  // else libtorch's first parallel op here would set its own count
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
#else
  if (at::get_num_threads() != n) at::set_num_threads(n);
#endif
}

void SetWantedThreads(int n) {
  wanted = n;
  if (process_threads.exchange(n) != n) at::set_num_threads(n);
  SetThreadsHere(LoadCapped(n));
}

int WantedThreads() { return wanted > 0 ? wanted : static_cast<int>(at::get_num_threads()); }

// ---- the load watch (threads.h) ----
namespace {
std::atomic<int> free_cores{0};        // 0: not known yet
std::atomic<uint32_t> load_gen{1};     // bumped when free_cores or the adaptive switch changes
std::atomic<double> load_others{0};    // others' cores at the last sample
std::atomic<int64_t> load_samples{0};  // samples taken

int MachineCores() {
  static const int n = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return n;
}

// The first line of /proc/stat: all CPUs' busy and total jiffies; false where unreadable.
bool CpuJiffies(double* busy, double* total) {
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return false;
  unsigned long long v[10] = {};
  const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                            &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
  std::fclose(f);
  if (n < 4) return false;
  double t = 0;
  for (int i = 0; i < n; i++) t += static_cast<double>(v[i]);
  *total = t;
  *busy = t - static_cast<double>(v[3]) - (n > 4 ? static_cast<double>(v[4]) : 0);  // less idle and iowait
  return true;
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The free cores beside others' use of `others` cores on a machine of `cores`: what is left,
// rounded, 1 to cores.
int FreeCoresBeside(double others, int cores) {
  return std::max(1, std::min(cores, static_cast<int>(std::floor(cores - others + 0.5))));
}

void WatchLoop() {
  double busy0 = 0, total0 = 0;
  if (!CpuJiffies(&busy0, &total0)) return;
  double own0 = ProcessCpuSeconds();
  auto at0 = std::chrono::steady_clock::now();
  const int cores = MachineCores();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kLoadWatchMs));
    double busy = 0, total = 0;
    if (!CpuJiffies(&busy, &total)) return;
    const double own = ProcessCpuSeconds();
    const auto at = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(at - at0).count();
    if (total > total0 && secs > 0) {
      // the machine's busy cores over the interval, less this process's own
      const double others = std::max(0.0, (busy - busy0) / (total - total0) * cores - (own - own0) / secs);
      load_others.store(others, std::memory_order_relaxed);
      load_samples.fetch_add(1, std::memory_order_relaxed);
      const int free = FreeCoresBeside(others, cores);
      if (free_cores.exchange(free, std::memory_order_relaxed) != free)
        load_gen.fetch_add(1, std::memory_order_release);
    }
    busy0 = busy;
    total0 = total;
    own0 = own;
    at0 = at;
  }
}
}  // namespace

void StartLoadWatch() {
#if defined(__linux__)
  static std::once_flag once;
  std::call_once(once, [] { std::thread(WatchLoop).detach(); });  // sleeps between samples; never joined
#endif
}

int LoadCapped(int n) { return AdaptiveThreads() ? std::min(n, FreeCores()) : n; }

int FreeCores() {
  const int f = free_cores.load(std::memory_order_relaxed);
  return f > 0 ? f : MachineCores();
}

void FollowLoad(uint32_t* seen) {
  const uint32_t g = load_gen.load(std::memory_order_acquire);
  if (g == *seen) return;
  *seen = g;
  if (wanted == 0) wanted = static_cast<int>(at::get_num_threads());  // libtorch's own count is what was asked
  SetThreadsHere(LoadCapped(wanted));
}

LoadSample LastLoadSample() {
  return {FreeCores(), load_others.load(std::memory_order_relaxed), load_samples.load(std::memory_order_relaxed)};
}

// ---- the allocator policy ----
// glibc returns a freed block above 128 KiB to the kernel at once (munmap, or trimming the heap's
// top), so the next tensor of that size faults in every page again. Training and inference free and
// remake the same few-MiB activations every step: on this project's VM that page-faulting was most
// of a CNN step (43 ms of a 3.3 ms step, bench "Keras fit"). So, once per process:
// - glibc's heap keeps blocks up to 32 MiB (its maximum) and up to 128 MiB of free top (mallopt);
// - libtorch's CPU allocator is replaced by one that keeps freed blocks of 64 KiB and more, up to
//   256 MiB in all, and hands the same block out again for the next request of its exact size.
//   glibc cannot do that for threads other than the first: their arenas grow in 64 MiB heaps, and
//   a step whose activations span more than one (an LSTM's, on the training thread) faulted ~5,000
//   pages in again every step (190 ms a step where the main thread takes 100); and blocks above
//   32 MiB are mapped and unmapped on every thread.
// Peak RSS is unchanged; after a burst RSS stays up to those amounts above the live data. A user's
// own MALLOC_*_ environment variables, a glibc.malloc tunable or NODETORCH_MALLOC=default leave
// glibc's defaults and libtorch's allocator; another malloc (jemalloc via LD_PRELOAD) ignores the
// mallopt settings but still gets the block cache.
namespace {
std::string allocator_policy;
constexpr int kMmapThreshold = 32 << 20;
constexpr int kTrimThreshold = 128 << 20;

class BlockCache final : public c10::Allocator {
 public:
  static constexpr size_t kMinBytes = size_t{64} << 10;
  static constexpr size_t kMaxCached = size_t{256} << 20;

#if TORCH_VERSION_MAJOR >= 2
  c10::DataPtr allocate(size_t n) override { return Allocate(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t n) const override { return Allocate(n); }
#endif
  // raw_allocate's deleter takes a block of either size: Give frees one it did not hand out
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  static BlockCache& Get() {
    static BlockCache* cache = new BlockCache();  // never destroyed: tensors may be freed at exit
    return *cache;
  }

 private:
  struct Block {
    void* p;
    size_t n;
  };
  using Blocks = std::list<Block>;  // kept blocks, newest first

  c10::DataPtr Allocate(size_t n) const {
    if (n < kMinBytes) {
      void* p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, c10::Device(c10::DeviceType::CPU)};
    }
    BlockCache& c = Get();
    void* p = c.Take(n);
    if (!p) {
      p = c10::alloc_cpu(n);  // throws c10::Error when out of memory
      std::lock_guard<std::mutex> lock(c.mu_);
      c.live_[p] = n;
    }
    return {p, p, &Free, c10::Device(c10::DeviceType::CPU)};
  }
  // The most recently kept block of exactly n bytes, now live; nullptr when none is kept.
  void* Take(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_size_.find(n);
    if (it == by_size_.end()) return nullptr;
    Blocks::iterator b = it->second.back();
    it->second.pop_back();
    if (it->second.empty()) by_size_.erase(it);  // sizes seen once (varying sequence lengths) leave no entry
    void* p = b->p;
    kept_.erase(b);
    cached_ -= n;
    live_[p] = n;
    return p;
  }
  // Keeps a freed block (the oldest kept ones go to stay under the cap); frees one it did not hand
  // out (a small block, or null, from raw_allocate) or one above the cap.
  void Give(void* p) {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = live_.find(p);
      if (it == live_.end() || it->second > kMaxCached) {
        if (it != live_.end()) live_.erase(it);
        drop.push_back(p);
      } else {
        size_t n = it->second;
        live_.erase(it);
        while (cached_ + n > kMaxCached && !kept_.empty()) {
          Block old = kept_.back();
          auto same = by_size_.find(old.n);
          same->second.erase(same->second.begin());  // a size's list is oldest first: the oldest block is its first
          if (same->second.empty()) by_size_.erase(same);
          kept_.pop_back();
          cached_ -= old.n;
          drop.push_back(old.p);
        }
        kept_.push_front({p, n});
        by_size_[n].push_back(kept_.begin());
        cached_ += n;
      }
    }
    for (void* q : drop) c10::free_cpu(q);
  }
  static void Free(void* p) { Get().Give(p); }

  std::mutex mu_;
  std::unordered_map<void*, size_t> live_;                             // blocks handed out, by address
  Blocks kept_;                                                        // freed blocks kept, newest first
  std::unordered_map<size_t, std::vector<Blocks::iterator>> by_size_;  // kept blocks by size, oldest first
  size_t cached_ = 0;
};
}  // namespace

void ConfigureAllocator() {
#if defined(__GLIBC__)
  const char* mode = std::getenv("NODETORCH_MALLOC");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const bool user = std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
                    std::getenv("MALLOC_TOP_PAD_") || (tunables && std::strstr(tunables, "glibc.malloc")) ||
                    (mode && std::string(mode) == "default");
  if (user) {
    allocator_policy = "glibc, as the environment sets it";
    return;
  }
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1)
    allocator_policy = "glibc, keeping freed blocks up to 32 MiB and 128 MiB of free heap for reuse";
  else
    allocator_policy = "glibc defaults (mallopt refused the settings)";
#else
  allocator_policy = "the platform's malloc";
#endif
  c10::SetCPUAllocator(&BlockCache::Get(), /*priority=*/1);
  allocator_policy += "; tensors of 64 KiB and more reuse freed blocks of their size (up to 256 MiB kept)";
}

namespace {

// threads_adaptive(on?) -> the setting before the call
napi_value ThreadsAdaptive(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const bool was = adaptive.load();
  if (!a.IsNullish(0)) {
    adaptive.store(a.Bool(0, "on"));
    load_gen.fetch_add(1, std::memory_order_release);  // every JS thread follows (or stops following) the load
    uint32_t seen = 0;
    FollowLoad(&seen);  // this thread at once
  }
  return MakeBool(env, was);
}

// threads_set_current(n): the calling thread's intra-op threads only, leaving WantedThreads as the
// user set it (lib/threads.ts' load watch lowers the JS thread's per-op threads while other
// processes hold the cores)
napi_value ThreadsSetCurrent(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const int64_t n = a.Int(0, "threads");
  if (n < 1 || n > 1024) throw ArgError("expected a thread count between 1 and 1024 but got " + std::to_string(n));
  SetThreadsHere(static_cast<int>(n));
  return nullptr;
}

// threads_info() -> { threads, current, waitPolicy, spinCount, adaptive, allocator, freeCores,
// otherCores, loadSamples }: the threads asked for (nt.setNumThreads), the calling thread's now, the
// OpenMP environment libgomp started with ('' where unset), the allocator policy above and the load
// watch's last sample
napi_value ThreadsInfo(napi_env env, napi_callback_info) {
  napi_value o;
  Check(env, napi_create_object(env, &o));
  auto put = [&](const char* k, napi_value v) { Check(env, napi_set_named_property(env, o, k, v)); };
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  put("threads", MakeNumber(env, static_cast<double>(WantedThreads())));
  put("current", MakeNumber(env, static_cast<double>(at::get_num_threads())));
  put("waitPolicy", MakeString(env, wait ? wait : ""));
  put("spinCount", MakeString(env, spin ? spin : ""));
  put("adaptive", MakeBool(env, AdaptiveThreads()));
  put("allocator", MakeString(env, allocator_policy));
  const LoadSample l = LastLoadSample();
  put("freeCores", MakeNumber(env, l.freeCores));
  put("otherCores", MakeNumber(env, l.others));
  put("loadSamples", MakeNumber(env, static_cast<double>(l.samples)));
  return o;
}

const Export kExports[] = {
    NT_EXPORT("threads_adaptive", ThreadsAdaptive),
    NT_EXPORT("threads_info", ThreadsInfo),
    NT_EXPORT("threads_set_current", ThreadsSetCurrent),
};

}  // namespace

// ---- the owned pool (threads.h) ----

int PoolThreads() {
  static const int n = [] {
    if (const char* v = std::getenv("NODETORCH_POOL_THREADS")) {
      const int k = std::atoi(v);
      if (k >= 1 && k <= 64) return k;
    }
    return static_cast<int>(std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, 4));
  }();
  return n;
}

namespace {

// One per JS environment (PerEnv); its thread-safe function is referenced while jobs are in flight,
// and the environment's cleanup hook stops and joins the threads.
class OwnedPool {
  friend class PerEnv<OwnedPool>;

 public:
  void Submit(napi_env env, std::unique_ptr<PoolJob> job) {
    if (inFlight_++ == 0) napi_ref_threadsafe_function(env, tsfn_);
    std::lock_guard<std::mutex> lk(m_);
    if (!idle_.empty()) {
      Worker* w = idle_.back();  // the last to go idle: its caches and OpenMP team are warm
      idle_.pop_back();
      w->job = job.release();
      w->cv.notify_one();
    } else if (static_cast<int>(workers_.size()) < PoolThreads()) {
      auto w = std::make_unique<Worker>();
      w->job = job.release();
      Worker* raw = w.get();
      w->thread = std::thread([this, raw] { Loop(raw); });
      workers_.push_back(std::move(w));
    } else {
      queue_.push_back(job.release());
    }
  }

 private:
  struct Worker {
    std::thread thread;
    std::condition_variable cv;
    PoolJob* job = nullptr;
  };

  void Loop(Worker* w) {
    at::init_num_threads();
    std::unique_lock<std::mutex> lk(m_);
    while (!stopping_) {
      if (!w->job && !queue_.empty()) {
        w->job = queue_.front();
        queue_.pop_front();
      }
      if (!w->job) {
        idle_.push_back(w);
        w->cv.wait(lk, [&] { return w->job != nullptr || stopping_; });
        continue;
      }
      PoolJob* j = w->job;
      w->job = nullptr;
      lk.unlock();
      j->Execute();  // catches its own errors
      if (napi_call_threadsafe_function(tsfn_, j, napi_tsfn_nonblocking) != napi_ok)
        delete j;  // the environment is going away
      lk.lock();
    }
  }

  // On the JS thread (env null: the function is torn down and only frees).
  static void Dispatch(napi_env env, napi_value, void* ctx, void* data) {
    std::unique_ptr<PoolJob> j(static_cast<PoolJob*>(data));
    if (!env) return;
    auto* p = static_cast<OwnedPool*>(ctx);
    if (--p->inFlight_ == 0) napi_unref_threadsafe_function(env, p->tsfn_);
    j->Complete(env);
  }

  // The environment is being torn down: let running jobs finish, join, drop queued ones.
  static void Cleanup(void* arg) {
    auto* p = static_cast<OwnedPool*>(arg);
    {
      std::lock_guard<std::mutex> lk(p->m_);
      p->stopping_ = true;
      for (auto& w : p->workers_) w->cv.notify_one();
    }
    for (auto& w : p->workers_) {
      if (w->thread.joinable()) w->thread.join();
      delete w->job;
      w->job = nullptr;
    }
    for (PoolJob* j : p->queue_) delete j;
    p->queue_.clear();
    PerEnv<OwnedPool>::Close(p);
  }

  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  std::mutex m_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_;
  std::deque<PoolJob*> queue_;
  bool stopping_ = false;
  int inFlight_ = 0;  // JS thread only
};

}  // namespace

void SubmitToPool(napi_env env, std::unique_ptr<PoolJob> job) {
  PerEnv<OwnedPool>::Get(env, "nodetorch.pool")->Submit(env, std::move(job));
}

void RegisterThreads(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
  StartLoadWatch();
}

}  // namespace nt
