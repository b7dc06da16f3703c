// The tensor handle table: JS holds tensors as plain numbers (slot index + generation),
// which is far cheaper per op than an ObjectWrap per result. One table per JS thread.
//
// Forgotten tensors: a wrapper made outside tidy() gets a native finalizer and a weak reference
// (Track, from lib/memory.ts). Node runs the finalizer at the next event-loop turn; code that never
// yields would keep every forgotten tensor until then, so as memory grows the table also looks at
// the weak references (Scan): a wrapper V8 has collected has no value any more. Its tensor is freed
// at the scan after the one that found it dead, not at once: lib code may still hold the number it
// read from a wrapper that died just now, on its way to native.
#pragma once
#include "pch.h"

namespace nt {

class HandleTable {
 public:
  static constexpr uint64_t kIndexBits = 24;
  static constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
  // Generations wrap well below 2^29 so a handle always fits a double exactly.
  static constexpr uint32_t kMaxGen = (uint32_t{1} << 28);
  // What V8 is told a tensor costs beyond its data: TensorImpl, storage and allocator
  // bookkeeping (~600 B measured for a 1-element tensor), so small forgotten tensors get collected too.
  static constexpr int64_t kNativeOverhead = 512;

  HandleTable();
  uint64_t Insert(at::Tensor&& t);
  // nullptr when the handle is unknown, stale (disposed) or malformed.
  at::Tensor* Get(uint64_t h) {
    uint64_t idx = h & kIndexMask;
    if (idx >= slots_.size()) return nullptr;
    Slot& s = slots_[idx];
    if (!s.used || s.gen != (h >> kIndexBits)) return nullptr;
    return &s.t;
  }
  // Frees the slot; false when the handle was already released (idempotent dispose).
  bool Release(uint64_t h);

  size_t live() const { return live_; }
  int64_t bytes() const { return bytes_; }
  // Bytes allocated or freed since the last report to V8.
  int64_t TakePendingExternal() {
    int64_t p = pending_;
    pending_ = 0;
    return p;
  }
  int64_t pending() const { return pending_; }
  // Frees every tensor (env teardown); later finalizers are ignored.
  void Clear();
  bool closed() const { return closed_; }

  // ---- forgotten tensors (see the file comment) ----
  // Attaches the finalizer and weak reference to wrapper; false when h is not live or already tracked.
  bool Track(napi_env env, napi_value wrapper, uint64_t h);
  // Runs Scan when live bytes or tracked tensors have grown enough since the last one.
  void MaybeScan(napi_env env) {
    if (bytes_ >= scan_bytes_ + std::max<int64_t>(kScanBytes, scan_bytes_) ||
        tracked_ >= scan_tracked_ + std::max<size_t>(kScanTensors, scan_tracked_))
      Scan(env);
  }
  void Scan(napi_env env);
  // From a finalizer (next turn): frees h if it is still that tensor; its reference is deleted later.
  void Finalized(uint64_t h);
  // Deletes references whose finalizers have run (not allowed from inside the finalizer itself).
  void DeleteFinalizedRefs(napi_env env);
  size_t tracked() const { return tracked_; }
  size_t scans() const { return scans_; }
  static constexpr int64_t kScanBytes = int64_t{64} << 20;
  static constexpr size_t kScanTensors = 16384;

 private:
  struct Slot {
    at::Tensor t;
    uint32_t gen = 1;
    bool used = false;
    int64_t bytes = 0;
    napi_ref ref = nullptr;  // weak, with the finalizer (tracked tensors only)
    bool dead = false;       // a scan found its wrapper collected
  };
  void DropRef(Slot& s);
  napi_env env_ = nullptr;
  std::vector<napi_ref> finalized_refs_;
  size_t tracked_ = 0, scan_tracked_ = 0, scans_ = 0;
  int64_t scan_bytes_ = 0;
  bool closed_ = false;
  // A new slot's first generation is random (NextSalt), so a number that was never handed out is
  // (but for a 1 in 2^28 chance) no live tensor: a guessed or stale number never aliases one.
  uint32_t NextSalt();
  uint64_t rng_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  int64_t bytes_ = 0;
  int64_t pending_ = 0;
  uint32_t load_seen_ = 0;  // the load watch's generation this thread's count follows (FollowLoad)
};

HandleTable& Table();
int64_t TensorBytes(const at::Tensor& t);

}  // namespace nt
