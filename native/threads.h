// Intra-op thread policy under load: the one adaptive thread choice every path that runs repeated
// native work uses (fit's batches on the runner thread, predict on it, TorchScript forwards).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "errors.h"

namespace nt {

// Whether ThreadTuner may choose fewer threads than asked (nt.setAdaptiveThreads; default on).
bool AdaptiveThreads();
// What nt.setNumThreads set, else the calling thread's libtorch count.
int WantedThreads();
// The calling thread's intra-op threads only. Under OpenMP that is OpenMP's per-thread count:
// at::set_num_threads also replaces libtorch's process-wide pthreadpool on every call, and the new
// pool's thread spins ~60 ms of a core (measured: 62 ms of CPU in 0.3 s idle after one call; a
// 2-thread sum of 1e6 took ~500 us instead of ~50 while it spun), so switching counts per call or
// per block (the tuners, the load watch) must not go through it. Other backends: at::set_num_threads.
void SetThreadsHere(int n);
// What new threads start from (at::set_num_threads, called only when it changes) and the calling
// thread's count, capped by the free cores while the adaptive choice is on (nt.setNumThreads).
void SetWantedThreads(int n);

// ---- the load watch (threads.cc) ----
// A process-wide thread samples /proc/stat every kLoadWatchMs and leaves the cores other processes
// did not use ("free cores": the machine's cores less theirs, rounded, at least 1). The JS thread's
// own ops follow it (FollowLoad, on every op result, so a loop that never yields follows too), and
// so do the tuned paths (ThreadTuner): a team larger than the free cores waits at every barrier for
// a descheduled peer. Linux only; elsewhere, and until two samples exist, every core is free.
constexpr int kLoadWatchMs = 500;
// Starts the watch once per process (safe to call from any JS thread).
void StartLoadWatch();
// The free cores now (the machine's cores until known).
int FreeCores();
// n threads, or the free cores where fewer, while the adaptive choice is on.
int LoadCapped(int n);
// The calling JS thread's intra-op threads: min(WantedThreads(), FreeCores()) while the adaptive
// choice is on, else WantedThreads(). Cheap when nothing changed: one atomic load against *seen.
void FollowLoad(uint32_t* seen);
// What the load watch saw last, for nt.threadPolicy(): {free cores, others' cores, samples}.
struct LoadSample {
  int freeCores;
  double others;
  int64_t samples;
};
LoadSample LastLoadSample();

// Thread counts for repeated work: a second OpenMP team on a loaded machine waits at every
// barrier for a descheduled peer, so one intra-op thread can beat all of them. After kWarm calls,
// times kSettle + kLen calls on all threads, then as many on one, and keeps the faster by median of
// the last kLen of each block; measures again after kRecheckSecs (the machine's load changes).
// Blocks, not alternate calls: the first calls after the count changes run slower (each thread's
// share of the data moves to another core: a conv net's forward on 2 threads took 10.5 ms for ~3
// calls after one on 1 thread, then 7.5), so alternating made every all-threads call look like a
// 1-thread call and the tuner chose 1 where 2 were 1.8x faster.
// Not thread-safe: one owner thread, or the caller's lock (LockedThreadTuner).
struct ThreadTuner {
  static constexpr int64_t kWarm = 5, kSettle = 3, kLen = 10;
  static constexpr double kRecheckSecs = 30;
  int max = 0, chosen = 0, current = 0;
  int64_t asked = 0;                 // calls handed a count while measuring
  int64_t seenAll = 0, seenOne = 0;  // calls recorded on all threads (warm-up included) and on one
  std::vector<double> all, one;
  std::chrono::steady_clock::time_point chosenAt;

  bool Started() const { return asked > 0 || chosen > 0; }
  // The thread count for the next call when maxThreads are allowed.
  int Next(int maxThreads) {
    // other processes hold the cores: a team larger than the free cores loses whatever timing says
    if (const int free = LoadCapped(maxThreads); free < maxThreads) {
      *this = ThreadTuner();  // no timing kept (max 0: Record ignores this call); measure afresh once free
      return current = free;
    }
    if (maxThreads != max) {  // setNumThreads changed since: measure again
      *this = ThreadTuner();
      max = maxThreads;
    }
    if (max <= 1 || !AdaptiveThreads()) return current = max;
    if (chosen) {
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - chosenAt).count() < kRecheckSecs)
        return current = chosen;
      const int keep = max;
      *this = ThreadTuner();
      max = keep;
    }
    // warm-up and the all-threads block, then the one-thread block; then all threads until the
    // records of calls still running arrive
    const int64_t i = asked++;
    return current = (i >= kWarm + kSettle + kLen && i < kWarm + 2 * (kSettle + kLen)) ? 1 : max;
  }
  // The cost of the call Next() was asked for (seconds, or seconds per sample where sizes vary).
  void Record(double cost) { RecordAt(current, cost); }
  // The same for a call that ran on `threads` (what Next() returned for it; calls may overlap).
  void RecordAt(int threads, double cost) {
    if (chosen || max <= 1 || threads <= 0 || !AdaptiveThreads()) return;
    if (threads == 1) {
      if (seenOne++ >= kSettle && static_cast<int64_t>(one.size()) < kLen) one.push_back(cost);
    } else if (seenAll++ >= kWarm + kSettle && static_cast<int64_t>(all.size()) < kLen) {
      all.push_back(cost);
    }
    if (static_cast<int64_t>(one.size()) >= kLen && static_cast<int64_t>(all.size()) >= kLen) {
      chosen = Median(one) < Median(all) ? 1 : max;
      chosenAt = std::chrono::steady_clock::now();
      one.clear();
      all.clear();
    }
  }
  static double Median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  }
};

// A tuner shared by calls that may run on several threads at once (TorchScript forwards on libuv's pool).
struct LockedThreadTuner {
  std::mutex m;
  ThreadTuner t;
  int Next(int maxThreads) {
    std::lock_guard<std::mutex> lk(m);
    return t.Next(maxThreads);
  }
  // threads: what Next() returned for this call (another call may have asked since)
  void Record(int threads, double cost) {
    std::lock_guard<std::mutex> lk(m);
    t.RecordAt(threads, cost);
  }
};

// One T per JS environment (model.cc's Runner, threads.cc's pool): created on first use with one
// thread-safe function that calls T::Dispatch on the JS thread and deletes T when torn down, left
// unreferenced so an idle T never keeps the process alive, and T::Cleanup as the environment's
// cleanup hook (added after the function, so it runs before the function's own cleanup). T has
// members env_ and tsfn_; its Cleanup stops its threads and then calls Close(this), and the
// function's finalizer deletes it.
template <typename T>
class PerEnv {
 public:
  // The env's T (JS thread); *created says whether this call made it.
  static T* Get(napi_env env, const char* name, bool* created = nullptr) {
    std::lock_guard<std::mutex> lk(Mutex());
    auto it = Map().find(env);
    if (created) *created = it == Map().end();
    if (it != Map().end()) return it->second;
    auto* p = new T();
    napi_value n;
    Check(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &n));
    napi_status s =
        napi_create_threadsafe_function(env, nullptr, nullptr, n, 0, 1, p, Finalize, p, T::Dispatch, &p->tsfn_);
    if (s != napi_ok) {
      delete p;
      Check(env, s);
    }
    napi_unref_threadsafe_function(env, p->tsfn_);
    napi_add_env_cleanup_hook(env, T::Cleanup, p);
    p->env_ = env;
    Map()[env] = p;
    return p;
  }
  // The env's T if it was made.
  static T* Find(napi_env env) {
    std::lock_guard<std::mutex> lk(Mutex());
    auto it = Map().find(env);
    return it == Map().end() ? nullptr : it->second;
  }
  // The env is going away and p's threads have stopped: forget p and release its function, whose
  // finalizer deletes p once the calls still queued have run (with a null env: they only free).
  static void Close(T* p) {
    {
      std::lock_guard<std::mutex> lk(Mutex());
      Map().erase(p->env_);
    }
    napi_release_threadsafe_function(p->tsfn_, napi_tsfn_abort);
  }

 private:
  static void Finalize(napi_env, void* data, void*) { delete static_cast<T*>(data); }
  static std::mutex& Mutex() {
    static std::mutex m;
    return m;
  }
  static std::unordered_map<napi_env, T*>& Map() {
    static std::unordered_map<napi_env, T*> m;
    return m;
  }
};

// Native work that JS awaits, run on threads the addon owns instead of libuv's pool: the pool is
// shared with fs, dns and zlib, and a few forwards in flight would hold all of its threads. Each JS
// environment gets up to PoolThreads() threads, started as work arrives; a job goes to the thread
// that went idle last (its OpenMP team and caches are the warmest), else waits in order.
class PoolJob {
 public:
  virtual ~PoolJob() = default;
  virtual void Execute() = 0;               // on a pool thread: no napi calls
  virtual void Complete(napi_env env) = 0;  // on the JS thread, after Execute (settles its promise)
};
// Queues job on env's pool (JS thread). A job still queued when the environment goes away is deleted
// without Complete.
void SubmitToPool(napi_env env, std::unique_ptr<PoolJob> job);
// Threads per environment's pool: the machine's cores, 1 to 4 (NODETORCH_POOL_THREADS overrides).
int PoolThreads();

void RegisterThreads(napi_env env, napi_value exports);
// Keeps freed tensor-sized blocks mapped for reuse (threads.cc says why); called once per process (Init).
void ConfigureAllocator();

}  // namespace nt
