// The tensor handle table: JS holds tensors as plain numbers (slot index + generation),
// which is far cheaper per op than an ObjectWrap per result. One table per JS thread.
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
  // Frees every tensor (env teardown).
  void Clear();

 private:
  struct Slot {
    at::Tensor t;
    uint32_t gen = 1;
    bool used = false;
    int64_t bytes = 0;
  };
  // A new slot's first generation is random (NextSalt), so a number that was never handed out is
  // (but for a 1 in 2^28 chance) no live tensor: a guessed or stale number never aliases one.
  uint32_t NextSalt();
  uint64_t rng_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  int64_t bytes_ = 0;
  int64_t pending_ = 0;
};

HandleTable& Table();
int64_t TensorBytes(const at::Tensor& t);

}  // namespace nt
