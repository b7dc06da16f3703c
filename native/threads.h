// Intra-op thread policy under load: the one adaptive thread choice every path that runs repeated
// native work uses (fit's batches on the runner thread, predict on it, TorchScript forwards).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "errors.h"

namespace nt {

// Whether ThreadTuner may choose fewer threads than asked (nt.setAdaptiveThreads; default on).
bool AdaptiveThreads();
// nt.setNumThreads(n): the count every path starts from (the JS thread's own may be lower under load).
void SetWantedThreads(int n);
// What nt.setNumThreads set, else the calling thread's libtorch count.
int WantedThreads();

// Thread counts for repeated work: a second OpenMP team on a loaded machine waits at every
// barrier for a descheduled peer, so one intra-op thread can beat all of them. Times the calls
// (batches, forwards) interleaved on all threads and on one after kWarm calls, kLen of each,
// keeps the faster by median, and measures again after kRecheckSecs (the machine's load changes).
// Not thread-safe: one owner thread, or the caller's lock (LockedThreadTuner).
struct ThreadTuner {
  static constexpr int64_t kWarm = 5, kLen = 10;
  static constexpr double kRecheckSecs = 30;
  int max = 0, chosen = 0, current = 0;
  int64_t seen = 0, asked = 0;  // calls recorded, calls handed a count while measuring
  std::vector<double> all, one;
  std::chrono::steady_clock::time_point chosenAt;

  bool Started() const { return seen > 0 || chosen > 0; }
  // The thread count for the next call when maxThreads are allowed.
  int Next(int maxThreads) {
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
      seen = kWarm;  // the team is warm already
    }
    if (seen < kWarm) return current = max;
    return current = (asked++ % 2 == 0) ? max : 1;
  }
  // The cost of the call Next() was asked for (seconds, or seconds per sample where sizes vary).
  void Record(double cost) { RecordAt(current, cost); }
  // The same for a call that ran on `threads` (what Next() returned for it; calls may overlap).
  void RecordAt(int threads, double cost) {
    if (chosen || max <= 1 || threads <= 0 || !AdaptiveThreads()) return;
    const int64_t i = seen++;
    if (i >= kWarm) (threads == 1 ? one : all).push_back(cost);
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

void RegisterThreads(napi_env env, napi_value exports);
// Keeps freed tensor-sized blocks mapped for reuse (threads.cc says why); called once per process (Init).
void ConfigureAllocator();

}  // namespace nt
