// Thread policy: the adaptive intra-op thread switch (threads.h) and what the OpenMP runtime was
// started with. OMP_WAIT_POLICY / GOMP_SPINCOUNT are set by lib/native.ts before this addon (and
// with it libgomp) is loaded; they are read back here for `nodetorch info` and the benchmarks.
#include "threads.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
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

void SetWantedThreads(int n) {
  wanted = n;
  at::set_num_threads(n);
}

int WantedThreads() { return wanted > 0 ? wanted : static_cast<int>(at::get_num_threads()); }

// ---- the allocator policy ----
// glibc returns a freed block above 128 KiB to the kernel at once (munmap, or trimming the heap's
// top), so the next tensor of that size faults in every page again. Training and inference free and
// remake the same few-MiB activations every step: on this project's VM that page-faulting was most
// of a CNN step (43 ms of a 3.3 ms step, bench "Keras fit"). Blocks up to 32 MiB (glibc's maximum)
// now come from the heap, and up to 128 MiB of free heap top stays mapped for reuse; peak RSS is
// unchanged, and after a burst RSS stays up to that much above the live data. A user's own
// MALLOC_*_ environment variables, a glibc.malloc tunable or NODETORCH_MALLOC=default leave glibc's
// defaults; another allocator (jemalloc via LD_PRELOAD) ignores these settings.
namespace {
std::string allocator_policy;
std::once_flag allocator_once;
constexpr int kMmapThreshold = 32 << 20;
constexpr int kTrimThreshold = 128 << 20;
}  // namespace

void ConfigureAllocator() {
  std::call_once(allocator_once, [] {
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
  });
}

namespace {

// threads_adaptive(on?) -> the setting before the call
napi_value ThreadsAdaptive(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const bool was = adaptive.load();
  if (!a.IsNullish(0)) adaptive.store(a.Bool(0, "on"));
  return MakeBool(env, was);
}

// threads_set_current(n): the calling thread's intra-op threads only, leaving WantedThreads as the
// user set it (lib/threads.ts' load watch lowers the JS thread's per-op threads while other
// processes hold the cores)
napi_value ThreadsSetCurrent(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const int64_t n = a.Int(0, "threads");
  if (n < 1 || n > 1024) throw ArgError("expected a thread count between 1 and 1024 but got " + std::to_string(n));
  if (at::get_num_threads() != n) at::set_num_threads(static_cast<int>(n));
  return nullptr;
}

// threads_info() -> { threads, current, waitPolicy, spinCount, adaptive, allocator }: the threads
// asked for (nt.setNumThreads), the calling thread's now, the OpenMP environment libgomp started
// with ('' where unset) and the allocator policy above
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
  return o;
}

const Export kExports[] = {
    NT_EXPORT("threads_adaptive", ThreadsAdaptive),
    NT_EXPORT("threads_info", ThreadsInfo),
    NT_EXPORT("threads_set_current", ThreadsSetCurrent),
};

}  // namespace

void RegisterThreads(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
