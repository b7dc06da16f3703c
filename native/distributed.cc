// c10d process groups for nt.distributed: env:// rendezvous on PyTorch's TCPStore with the same
// store keys torch.distributed uses (so Node and Python ranks share one group), Gloo (NCCL in CUDA
// builds) collectives whose completion reaches JS through a thread-safe function, and the bucketed
// gradient reducer nn.DistributedDataParallel hangs on autograd's gradient accumulators.
#include "distributed.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/version.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <unordered_map>

// ProcessGroupGloo.hpp needs gloo's own headers (Debian: libgloo-dev), which libtorch-dev does not
// pull in; without them the addon builds and nt.distributed.init explains what to install.
#if __has_include(<gloo/config.h>) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>)
#define NT_HAVE_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(NODETORCH_CUDA) && __has_include(<nccl.h>) && \
    __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#define NT_HAVE_NCCL 1
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace nt {
namespace {

using Ms = std::chrono::milliseconds;
// libtorch 2.x split ProcessGroup into a dispatching ProcessGroup and per-device Backends;
// ProcessGroupGloo/NCCL are Backends there and carry the collectives we call.
#if TORCH_VERSION_MAJOR >= 2
using Comm = c10d::Backend;
#else
using Comm = c10d::ProcessGroup;
#endif
using WorkPtr = c10::intrusive_ptr<c10d::Work>;
using StorePtr = c10::intrusive_ptr<c10d::Store>;

// The store a group's backend rendezvouses in, as torch.distributed nests it under the world's
// "default_pg" store: 1.13 prefixes the group name ("0" for the default group, then one number per
// new_group); 2.x prefixes "<name>/" and then "<device>/" (cpu for Gloo, cuda for NCCL), two
// PrefixStores, so a key reads "default_pg/0//cpu//<key>".
StorePtr GroupStore(const StorePtr& world, int count, const std::string& backend) {
#if TORCH_VERSION_MAJOR >= 2
  StorePtr named = c10::make_intrusive<c10d::PrefixStore>(std::to_string(count) + "/", world);
  return c10::make_intrusive<c10d::PrefixStore>(backend == "nccl" ? "cuda/" : "cpu/", named);
#else
  (void)backend;
  return c10::make_intrusive<c10d::PrefixStore>(std::to_string(count), world);
#endif
}

// 1.13's init_process_group and new_group end with a store-based barrier on
// "store_based_barrier_key:<group count>"; 2.x only when TORCH_DIST_INIT_BARRIER=1.
bool UseStoreBarrier() {
#if TORCH_VERSION_MAJOR >= 2
  const char* v = std::getenv("TORCH_DIST_INIT_BARRIER");
  return v && std::string(v) == "1";
#else
  return true;
#endif
}

struct Group {
  c10::intrusive_ptr<Comm> comm;  // null once destroy() ran; only the JS thread touches it
  std::string backend;
  int rank = 0;
  int size = 1;
  Ms timeout{0};
};

struct World {
  StorePtr store;  // the "default_pg"-prefixed store every group's store is prefixed from
  std::shared_ptr<Group> group;
  std::vector<std::shared_ptr<Group>> groups;
  int groupCount = 0;  // torch.distributed's _group_count: names the next group's prefix
  int rank = 0;
  int size = 1;
  std::string backend;
  Ms timeout{0};
};

// Set once init resolves, cleared by destroy; read and written on the JS thread only.
std::shared_ptr<World> g_world;
bool g_busy = false;  // an init or destroy is in flight

struct GroupRef : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "a process group (from nt.distributed.init or newGroup)";
  std::shared_ptr<Group> g;
};
const napi_type_tag GroupRef::kTag = {0x6331306467726f75ULL, 0x8e14c2d7a9b3f065ULL};

std::string TimeoutText(Ms t) { return std::to_string(t.count()) + " ms"; }

// ---- completion: a promise settled on the JS thread from whichever thread finished the work ----

// One thread-safe function per env carries every settled job to the JS thread: creating and
// closing one per collective (a uv_async handle each) cost more than a 1 KB allreduce's own
// overhead. It is referenced only while jobs are in flight, so an idle env can exit; the env's
// cleanup hook closes it, after which late completions (a Gloo thread finishing during teardown)
// are dropped instead of posted.
struct Channel {
  std::mutex mu;
  napi_threadsafe_function tsfn = nullptr;
  bool closed = false;
  int64_t inFlight = 0;  // JS thread only
};

struct Job {
  napi_deferred deferred = nullptr;
  std::shared_ptr<Channel> channel;
  std::string error;                                // non-empty: reject with this message
  std::function<napi_value(napi_env, Job&)> value;  // builds the resolved value on the JS thread
  WorkPtr work;
  std::vector<at::Tensor> keep;  // tensors the work reads or writes, alive until it is done
  std::vector<std::vector<at::Tensor>> outputs;
  int source = -1;
  bool wantSource = false;        // a recv: read the sender's rank once the work is done
  std::function<void(Job&)> run;  // for thread jobs: the blocking part
  std::function<void()> always;   // runs on the JS thread before the promise settles
  const char* op = nullptr;       // a collective's name, for its error message
  Ms timeout{0};

  // The work's future completed: its error or source rank is read, then the work and the tensors it
  // kept are dropped (the promise is settled by the caller).
  void Completed(c10::ivalue::Future& f) {
    if (f.hasError()) Fail(f.tryRetrieveErrorMessage());
    try {
      if (error.empty() && wantSource) source = work->sourceRank();
    } catch (const std::exception&) {
    }
    work.reset();
    keep.clear();
  }

  // The message a failed collective rejects with (built only when one fails): its first line, and
  // the timeout and the ranks only where the failure is about peers (not a dtype Gloo lacks).
  void Fail(const std::string& detail) {
    const std::string first = detail.substr(0, detail.find('\n'));
    std::string low = first;
    for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool peers = low.find("time") != std::string::npos || low.find("connect") != std::string::npos ||
                       low.find("closed") != std::string::npos || low.find("reset") != std::string::npos ||
                       low.find("pipe") != std::string::npos || low.find("peer") != std::string::npos;
    if (low.find("invalid scalar type") != std::string::npos && !keep.empty())
      error = std::string(op) + ": the gloo backend cannot work on " + DtypeName(keep[0].scalar_type()) +
              " tensors (float32, float64, float16, int8, uint8, int32 and int64 are supported): cast the tensor "
              "first, e.g. t.to('float32')";
    else if (peers)
      error = std::string(op) + " failed (timeout " + TimeoutText(timeout) + "; a rank died or never called " + op +
              "): " + first;
    else
      error = std::string(op) + " failed: " + first;
  }
};

// On the JS thread (env null: the function is being torn down and only frees).
void Settle(napi_env env, napi_value, void*, void* data) {
  std::unique_ptr<Job> job(static_cast<Job*>(data));
  if (job->always) job->always();
  if (env) {
    if (--job->channel->inFlight == 0) napi_unref_threadsafe_function(env, job->channel->tsfn);
    if (job->error.empty()) {
      napi_value v = nullptr;
      try {
        v = job->value ? job->value(env, *job) : nt::Undefined(env);
      } catch (const std::exception& e) {
        job->error = e.what();
      }
      if (job->error.empty()) napi_resolve_deferred(env, job->deferred, v);
    }
    if (!job->error.empty()) {
      napi_value msg, err;
      napi_create_string_utf8(env, job->error.c_str(), job->error.size(), &msg);
      napi_create_error(env, nullptr, msg, &err);
      napi_reject_deferred(env, job->deferred, err);
    }
  }
  job->keep.clear();
  job->outputs.clear();
  job->work.reset();
}

std::mutex g_channelsMu;
std::unordered_map<napi_env, std::shared_ptr<Channel>> g_channels;

void CloseChannel(void* arg) {
  auto* env = static_cast<napi_env>(arg);
  std::shared_ptr<Channel> c;
  {
    std::lock_guard<std::mutex> lk(g_channelsMu);
    auto it = g_channels.find(env);
    if (it == g_channels.end()) return;
    c = it->second;
    g_channels.erase(it);
  }
  std::lock_guard<std::mutex> lk(c->mu);
  c->closed = true;
  napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);
}

std::shared_ptr<Channel> EnvChannel(napi_env env) {
  std::lock_guard<std::mutex> lk(g_channelsMu);
  auto it = g_channels.find(env);
  if (it != g_channels.end()) return it->second;
  auto c = std::make_shared<Channel>();
  napi_value resource;
  Check(env, napi_create_string_utf8(env, "nodetorch.distributed", NAPI_AUTO_LENGTH, &resource));
  Check(env, napi_create_threadsafe_function(env, nullptr, nullptr, resource, 0, 1, nullptr, nullptr, nullptr, Settle,
                                             &c->tsfn));
  napi_unref_threadsafe_function(env, c->tsfn);
  // added after the thread-safe function, so it runs before the function's own cleanup
  napi_add_env_cleanup_hook(env, CloseChannel, env);
  g_channels[env] = c;
  return c;
}

void Post(Job* job) {
  std::shared_ptr<Channel> c = job->channel;
  std::lock_guard<std::mutex> lk(c->mu);
  if (c->closed || napi_call_threadsafe_function(c->tsfn, job, napi_tsfn_nonblocking) != napi_ok)
    delete job;  // the env is gone
}

// A pending promise whose settling is posted by Post(job); the env's channel keeps the event
// loop alive until then.
napi_value Arm(napi_env env, Job* job, const char*) {
  napi_value promise;
  job->channel = EnvChannel(env);
  Check(env, napi_create_promise(env, &job->deferred, &promise));
  if (job->channel->inFlight++ == 0) napi_ref_threadsafe_function(env, job->channel->tsfn);
  return promise;
}

std::string ErrorText(std::exception_ptr p) {
  try {
    std::rethrow_exception(p);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// Runs job->run on a thread of its own (rendezvous, group creation, destroy: seconds of blocking
// that must not sit on libuv's shared pool), then settles the promise.
napi_value RunOnThread(napi_env env, std::unique_ptr<Job> job, const char* name, const std::string& what) {
  napi_value promise = Arm(env, job.get(), name);
  Job* raw = job.release();
  std::thread([raw, what]() {
    try {
      raw->run(*raw);
    } catch (...) {
      raw->error = what + ": " + ErrorText(std::current_exception());
    }
    Post(raw);
  }).detach();
  return promise;
}

// Collectives of at most this many bytes are waited for on the JS thread for up to kQuickWait.
constexpr int64_t kQuickBytes = int64_t{256} << 10;
constexpr Ms kQuickWait{1};

// Settles when the c10d work completes: through its future where the backend has one (Gloo and
// NCCL collectives), else on a thread that waits with the group's timeout (Gloo send/recv). The
// future's callback runs on the backend's thread as the work completes and wakes the JS thread with
// one thread-safe call; it also drops the work and the tensors it kept there, so the JS thread only
// settles the promise. op: a string literal.
napi_value AwaitWork(napi_env env, std::unique_ptr<Job> job, const char* op, Ms timeout) {
  napi_value promise = Arm(env, job.get(), "nodetorch.distributed");
  Job* raw = job.release();
  raw->op = op;
  raw->timeout = timeout;
  c10::intrusive_ptr<c10::ivalue::Future> fut;
  try {
    fut = raw->work->getFuture();
  } catch (const std::exception&) {
    fut.reset();
  }
  if (fut) {
    // A small collective usually completes within a millisecond: wait for it here, as
    // torch.distributed's blocking call does, and settle without a trip through the event loop (its
    // wake-up, 20-50 us, was most of what a 16 KB allReduce cost beyond Python's). Longer ones, and
    // those that time out here, settle through the callback below.
    int64_t bytes = 0;
    for (const at::Tensor& t : raw->keep) bytes += TensorBytes(t);
    if (bytes <= kQuickBytes) {
      WorkPtr w = raw->work;
      try {
        w->wait(kQuickWait);
      } catch (const std::exception&) {
        // not finished yet (or failed: the future says which)
      }
      if (fut->completed()) {
        raw->Completed(*fut);
        Settle(env, nullptr, nullptr, raw);
        return promise;
      }
    }
    fut->addCallback([raw](c10::ivalue::Future& f) {
      raw->Completed(f);  // on the backend's thread, which holds the work until it returns from here
      Post(raw);
    });
    return promise;
  }
  std::thread([raw]() {
    try {
      raw->work->wait(raw->timeout);
      try {
        if (raw->wantSource) raw->source = raw->work->sourceRank();
      } catch (const std::exception&) {
      }
    } catch (...) {
      raw->Fail(ErrorText(std::current_exception()));
    }
    Post(raw);
  }).detach();
  return promise;
}

// ---- rendezvous ----

struct InitSpec {
  std::string backend, addr, attempt;
  int port = 29500, rank = 0, size = 1;
  Ms timeout{1800000};
  bool agentStore = false;
};

void StoreBarrier(c10d::Store& store, int count, int rank, int size, Ms timeout) {
  std::string key = "store_based_barrier_key:" + std::to_string(count);
  store.add(key, 1);
  auto start = std::chrono::steady_clock::now();
  int64_t n;
  while ((n = store.add(key, 0)) != size) {
    if (std::chrono::steady_clock::now() - start > timeout)
      throw std::runtime_error("timed out after " + TimeoutText(timeout) + " in the store barrier (key " + key +
                               "): " + std::to_string(n) + " of " + std::to_string(size) + " ranks arrived");
    std::this_thread::sleep_for(Ms(10));
  }
}

c10::intrusive_ptr<Comm> MakeComm(const std::string& backend, const StorePtr& store, int rank, int size, Ms timeout) {
  if (backend == "gloo") {
#ifdef NT_HAVE_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // As torch.distributed: GLOO_SOCKET_IFNAME (comma-separated) picks interfaces, else the
    // address the hostname resolves to (loopback when that is not bindable).
    const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifnames && *ifnames) {
      std::stringstream ss(ifnames);
      std::string name;
      while (std::getline(ss, name, ','))
        if (!name.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    }
    if (opts->devices.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = static_cast<int>(opts->devices.size()) * 2;
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
#else
    throw std::runtime_error(
        "this nodetorch was built without Gloo's headers, so it has no 'gloo' backend: install them "
        "(Debian/Ubuntu: apt-get install libgloo-dev) and rebuild with `npx nodetorch build`");
#endif
  }
  if (backend == "nccl") {
#ifdef NT_HAVE_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
#else
    throw std::runtime_error(
        "the 'nccl' backend needs a CUDA build of libtorch with NCCL (and its nccl.h); this nodetorch has none: "
        "use backend 'gloo'");
#endif
  }
  throw std::runtime_error("unknown backend '" + backend + "'");
}

napi_value GroupValue(napi_env env, const std::shared_ptr<Group>& g) {
  auto* ref = new GroupRef();
  ref->g = g;
  return WrapObject(env, ref, &GroupRef::kTag);
}

// dist_init({ backend, rank, worldSize, masterAddr, masterPort, timeoutMs, agentStore, attempt })
// -> Promise<group>
napi_value Init(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Options o = a.Opts(0, "options");
  if (g_world || g_busy)
    throw std::runtime_error("the default process group is already initialized (or being initialized)");
  auto spec = std::make_shared<InitSpec>();
  spec->backend = o.String("backend", "gloo");
  spec->rank = static_cast<int>(o.Int("rank", 0));
  spec->size = static_cast<int>(o.Int("worldSize", 1));
  spec->addr = o.String("masterAddr", "127.0.0.1");
  spec->port = static_cast<int>(o.Int("masterPort", 29500));
  spec->timeout = Ms(o.Int("timeoutMs", 1800000));
  spec->agentStore = o.Bool("agentStore", false);
  spec->attempt = o.String("attempt", "0");
  auto world = std::make_shared<World>();
  auto job = std::make_unique<Job>();
  job->run = [spec, world](Job&) {
    const InitSpec& s = *spec;
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(s.port);
    // As torch.distributed's env:// handler: rank 0 hosts a multi-tenant store and waits for every
    // rank, unless torchrun's agent already hosts one (then all ranks are clients of it).
    so.isServer = !s.agentStore && s.rank == 0;
    so.numWorkers = static_cast<std::size_t>(s.size);
    so.waitWorkers = true;
    so.timeout = s.timeout;
    so.multiTenant = !s.agentStore;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    // 2.4 made libuv the store's default transport; Debian builds libtorch without it, and the
    // classic transport speaks the same protocol to every peer
    so.useLibUV = false;
#endif
    StorePtr store = c10::make_intrusive<c10d::TCPStore>(s.addr, so);
    if (s.agentStore) store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + s.attempt, store);
    store->setTimeout(s.timeout);
    world->store = c10::make_intrusive<c10d::PrefixStore>("default_pg", store);
    world->rank = s.rank;
    world->size = s.size;
    world->backend = s.backend;
    world->timeout = s.timeout;
    auto g = std::make_shared<Group>();
    g->backend = s.backend;
    g->rank = s.rank;
    g->size = s.size;
    g->timeout = s.timeout;
    StorePtr pgStore = GroupStore(world->store, world->groupCount++, s.backend);
    g->comm = MakeComm(s.backend, pgStore, s.rank, s.size, s.timeout);
    if (UseStoreBarrier()) StoreBarrier(*world->store, world->groupCount, s.rank, s.size, s.timeout);
    g->comm->setSequenceNumberForGroup();
    world->group = g;
    world->groups.push_back(g);
  };
  job->value = [world](napi_env env, Job&) {
    g_world = world;
    return GroupValue(env, world->group);
  };
  std::string what = "init (" + spec->backend + ", rank " + std::to_string(spec->rank) + " of " +
                     std::to_string(spec->size) + ", store " + spec->addr + ":" + std::to_string(spec->port) +
                     ", timeout " + TimeoutText(spec->timeout) + ")";
  g_busy = true;
  job->always = []() { g_busy = false; };
  return RunOnThread(env, std::move(job), "nodetorch.distributed_init", what);
}

// dist_new_group(ranks: number[] (sorted, unique, checked in JS), timeoutMs) -> Promise<group | null>
napi_value NewGroup(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!g_world) throw std::runtime_error("the default process group is not initialized");
  std::vector<int64_t> ranks = a.IntList(0, "ranks");
  Ms timeout(a.IntOr(1, "timeoutMs", g_world->timeout.count()));
  auto world = g_world;
  int count = ++world->groupCount;  // every rank counts every group, members or not, as torch does
  int myIndex = -1;
  for (size_t i = 0; i < ranks.size(); i++)
    if (ranks[i] == world->rank) myIndex = static_cast<int>(i);
  auto g = std::make_shared<Group>();
  g->backend = world->backend;
  g->rank = myIndex;
  g->size = static_cast<int>(ranks.size());
  g->timeout = timeout;
  auto job = std::make_unique<Job>();
  job->run = [world, g, count, myIndex, timeout](Job&) {
    if (myIndex >= 0) {
      StorePtr pgStore = GroupStore(world->store, count - 1, g->backend);
      g->comm = MakeComm(g->backend, pgStore, g->rank, g->size, timeout);
    }
    if (UseStoreBarrier()) StoreBarrier(*world->store, count, world->rank, world->size, timeout);
    if (myIndex >= 0) g->comm->setSequenceNumberForGroup();
  };
  job->value = [world, g, myIndex](napi_env env, Job&) -> napi_value {
    if (myIndex < 0) {
      napi_value n;
      napi_get_null(env, &n);
      return n;
    }
    world->groups.push_back(g);
    return GroupValue(env, g);
  };
  return RunOnThread(env, std::move(job), "nodetorch.distributed_new_group",
                     "newGroup (timeout " + TimeoutText(timeout) + ")");
}

// dist_destroy() -> Promise: drops every group; Gloo's destructor joins its threads, so off the loop.
napi_value Destroy(napi_env env, napi_callback_info info) {
  auto job = std::make_unique<Job>();
  std::vector<c10::intrusive_ptr<Comm>> comms;
  StorePtr store;
  if (g_world) {
    for (auto& g : g_world->groups) {
      if (g->comm) comms.push_back(std::move(g->comm));
      g->comm.reset();
    }
    store = g_world->store;
    g_world.reset();
  }
  auto holder = std::make_shared<std::pair<std::vector<c10::intrusive_ptr<Comm>>, StorePtr>>(std::move(comms), store);
  job->run = [holder](Job&) {
    holder->first.clear();
    holder->second.reset();
  };
  return RunOnThread(env, std::move(job), "nodetorch.distributed_destroy", "destroy");
}

std::shared_ptr<Group> LiveGroup(const Args& a, size_t i) {
  auto& ref = a.Object<GroupRef>(i, "group");
  if (!ref.g->comm)
    throw std::runtime_error("the process group was destroyed (nt.distributed.destroy()); init a new one");
  return ref.g;
}

// dist_group_info(group) -> { rank, size, backend, live }
napi_value GroupInfo(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto& ref = a.Object<GroupRef>(0, "group");
  napi_value o;
  Check(env, napi_create_object(env, &o));
  Check(env, napi_set_named_property(env, o, "rank", MakeNumber(env, ref.g->rank)));
  Check(env, napi_set_named_property(env, o, "size", MakeNumber(env, ref.g->size)));
  Check(env, napi_set_named_property(env, o, "backend", MakeString(env, ref.g->backend)));
  Check(env, napi_set_named_property(env, o, "live", MakeBool(env, static_cast<bool>(ref.g->comm))));
  return o;
}

// dist_available() -> { gloo, nccl }: which backends this build has.
napi_value Available(napi_env env, napi_callback_info info) {
  napi_value o;
  Check(env, napi_create_object(env, &o));
#ifdef NT_HAVE_GLOO
  bool gloo = true;
#else
  bool gloo = false;
#endif
#ifdef NT_HAVE_NCCL
  bool nccl = true;
#else
  bool nccl = false;
#endif
  Check(env, napi_set_named_property(env, o, "gloo", MakeBool(env, gloo)));
  Check(env, napi_set_named_property(env, o, "nccl", MakeBool(env, nccl)));
  return o;
}

c10d::ReduceOp ParseOp(const std::string& op) {
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  throw ArgError("expected op to be 'sum', 'product', 'max' or 'min' but received '" + op + "'");
}

// ---- collectives: each returns a Promise settled when the work completes ----

// dist_all_reduce(group, t, op)
napi_value AllReduce(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  auto job = std::make_unique<Job>();
  job->keep = {a.Tensor(1, "tensor")};
  c10d::AllreduceOptions opts;
  opts.reduceOp = ParseOp(a.String(2, "op"));
  job->work = g->comm->allreduce(job->keep, opts);
  return AwaitWork(env, std::move(job), "allReduce", g->timeout);
}

// dist_broadcast(group, t, srcGroupRank)
napi_value Broadcast(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  auto job = std::make_unique<Job>();
  job->keep = {a.Tensor(1, "tensor")};
  c10d::BroadcastOptions opts;
  opts.rootRank = static_cast<int64_t>(a.Int(2, "src"));
  job->work = g->comm->broadcast(job->keep, opts);
  return AwaitWork(env, std::move(job), "broadcast", g->timeout);
}

// dist_all_gather(group, t) -> Promise<handle[]> (one fresh tensor per group rank)
napi_value AllGather(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  auto job = std::make_unique<Job>();
  at::Tensor t = a.Tensor(1, "tensor");
  job->keep = {t};
  std::vector<at::Tensor> outs;
  for (int i = 0; i < g->size; i++) outs.push_back(at::empty_like(t, at::MemoryFormat::Contiguous));
  job->outputs = {outs};
  job->work = g->comm->allgather(job->outputs, job->keep);
  job->value = [](napi_env env, Job& j) { return WrapList(env, j.outputs[0]); };
  return AwaitWork(env, std::move(job), "allGather", g->timeout);
}

// dist_reduce_scatter(group, output, inputs[], op)
napi_value ReduceScatter(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  auto job = std::make_unique<Job>();
  job->keep = {a.Tensor(1, "output")};
  job->outputs = {a.TensorList(2, "inputs")};
  c10d::ReduceScatterOptions opts;
  opts.reduceOp = ParseOp(a.String(3, "op"));
  job->work = g->comm->reduce_scatter(job->keep, job->outputs, opts);
  job->value = [](napi_env env, Job&) { return nt::Undefined(env); };
  return AwaitWork(env, std::move(job), "reduceScatter", g->timeout);
}

// dist_send(group, t, dstGroupRank, tag)
napi_value Send(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  auto job = std::make_unique<Job>();
  job->keep = {a.Tensor(1, "tensor")};
  job->work = g->comm->send(job->keep, static_cast<int>(a.Int(2, "dst")), static_cast<int>(a.Int(3, "tag")));
  return AwaitWork(env, std::move(job), "send", g->timeout);
}

// dist_recv(group, t, srcGroupRank | -1 for any, tag) -> Promise<source group rank>
napi_value Recv(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  auto job = std::make_unique<Job>();
  job->keep = {a.Tensor(1, "tensor")};
  int src = static_cast<int>(a.Int(2, "src"));
  int tag = static_cast<int>(a.Int(3, "tag"));
  job->source = src;
  job->wantSource = true;
  job->work = src < 0 ? g->comm->recvAnysource(job->keep, tag) : g->comm->recv(job->keep, src, tag);
  job->value = [](napi_env env, Job& j) { return MakeNumber(env, j.source); };
  return AwaitWork(env, std::move(job), "recv", g->timeout);
}

// dist_barrier(group)
napi_value Barrier(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  auto job = std::make_unique<Job>();
  job->work = g->comm->barrier(c10d::BarrierOptions());
  return AwaitWork(env, std::move(job), "barrier", g->timeout);
}

// Waits on the calling thread (for DDP's synchronous steps), rethrowing with the op and timeout.
void WaitOrThrow(const WorkPtr& w, const std::string& op, Ms timeout) {
  try {
    w->wait();
  } catch (...) {
    throw std::runtime_error(op + " failed (timeout " + TimeoutText(timeout) +
                             "; a rank died or never joined): " + ErrorText(std::current_exception()));
  }
}

// Tensors grouped by dtype and device, flattened into one buffer per group: one collective per
// group instead of one per tensor.
std::vector<std::vector<size_t>> GroupByKind(const std::vector<at::Tensor>& ts) {
  std::vector<std::vector<size_t>> out;
  for (size_t i = 0; i < ts.size(); i++) {
    bool placed = false;
    for (auto& grp : out) {
      const at::Tensor& f = ts[grp[0]];
      if (f.scalar_type() == ts[i].scalar_type() && f.device() == ts[i].device()) {
        grp.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) out.push_back({i});
  }
  return out;
}

// ddp_broadcast_(group, tensors[], srcGroupRank): overwrites every tensor with the source rank's,
// coalesced and waited for (DDP's construction and its per-forward buffer broadcast).
napi_value DdpBroadcast(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  std::vector<at::Tensor> ts = a.TensorList(1, "tensors");
  int src = static_cast<int>(a.Int(2, "src"));
  at::NoGradGuard noGrad;
  for (const auto& idx : GroupByKind(ts)) {
    std::vector<at::Tensor> flat;
    for (size_t i : idx) flat.push_back(ts[i].detach().reshape({-1}));
    std::vector<at::Tensor> buf = {at::cat(flat)};
    c10d::BroadcastOptions opts;
    opts.rootRank = src;
    WaitOrThrow(g->comm->broadcast(buf, opts), "DistributedDataParallel: broadcast from rank " + std::to_string(src),
                g->timeout);
    int64_t off = 0;
    for (size_t i : idx) {
      int64_t n = ts[i].numel();
      ts[i].detach().copy_(buf[0].narrow(0, off, n).view(ts[i].sizes()));
      off += n;
    }
  }
  return nullptr;
}

// ---- DistributedDataParallel's reducer ----
// Parameters are packed in reverse order (the order backward produces their gradients) into
// buckets of about bucketCap bytes. A post-hook on each parameter's gradient accumulator marks it
// ready; a bucket whose parameters are all ready is averaged with an asynchronous allreduce while
// backward goes on. Buckets launch strictly in order, so every rank issues the same sequence of
// collectives. A callback queued on the autograd engine waits for them at the end of backward and
// writes the averages into .grad.

struct Reducer {
  std::shared_ptr<Group> group;
  std::vector<at::Tensor> params;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // hooks live on these: keep them
  struct Bucket {
    std::vector<size_t> members;
    std::vector<int64_t> offsets;
    at::Tensor flat;
    size_t pending = 0;
    WorkPtr work;
  };
  std::vector<Bucket> buckets;
  std::vector<size_t> bucketOf;
  at::Tensor scale;  // 1 / worldSize, a 0-dim double (keeps the bucket's dtype)
  std::vector<char> ready;
  size_t next = 0;
  bool active = false;
  bool sync = true;
  bool findUnused = false;
  int64_t launchedInBackward = 0;  // buckets whose allreduce started before backward finished
  int64_t launchedAtEnd = 0;
  std::mutex mu;

  void Reset() {
    std::fill(ready.begin(), ready.end(), 0);
    for (auto& b : buckets) {
      b.pending = b.members.size();
      b.work.reset();
    }
    next = 0;
  }

  void Launch(Bucket& b) {
    for (size_t k = 0; k < b.members.size(); k++) {
      const at::Tensor& p = params[b.members[k]];
      at::Tensor slice = b.flat.narrow(0, b.offsets[k], p.numel());
      const at::Tensor& grad = p.grad();
      // one pass: the bucket receives grad / worldSize (PyTorch's mul_out into the bucket view)
      if (grad.defined())
        at::mul_out(slice, grad.reshape({-1}), scale);
      else
        slice.zero_();
    }
    std::vector<at::Tensor> v = {b.flat};
    b.work = group->comm->allreduce(v, c10d::AllreduceOptions());
  }

  void LaunchReady(bool atEnd) {
    while (next < buckets.size() && buckets[next].pending == 0) {
      Launch(buckets[next++]);
      (atEnd ? launchedAtEnd : launchedInBackward)++;
    }
  }

  void MarkReady(size_t i, const std::shared_ptr<Reducer>& self) {
    std::lock_guard<std::mutex> lock(mu);
    if (!sync || !group->comm) return;
    if (!active) {
      active = true;
      Reset();
      std::weak_ptr<Reducer> weak = self;
      torch::autograd::Engine::get_default_engine().queue_callback([weak]() {
        if (auto r = weak.lock()) r->Finalize();
      });
    }
    if (ready[i]) return;
    ready[i] = 1;
    if (--buckets[bucketOf[i]].pending == 0) LaunchReady(false);
  }

  void Finalize() {
    std::lock_guard<std::mutex> lock(mu);
    active = false;
    if (next < buckets.size()) {
      std::vector<size_t> missing;
      for (size_t i = 0; i < params.size(); i++)
        if (!ready[i]) missing.push_back(i);
      if (!findUnused) {
        std::string list;
        for (size_t k = 0; k < missing.size() && k < 8; k++) list += (k ? ", " : "") + std::to_string(missing[k]);
        if (missing.size() > 8) list += ", ...";
        throw std::runtime_error(
            "DistributedDataParallel: parameters [" + list + "] (indices in module.parameters()) got no gradient " +
            "in this backward pass, so their gradients cannot be averaged; pass { findUnusedParameters: true } if " +
            "the forward pass does not use every parameter");
      }
      for (size_t i : missing) {
        ready[i] = 1;
        buckets[bucketOf[i]].pending--;
      }
      LaunchReady(true);
    }
    at::NoGradGuard noGrad;
    for (size_t bi = 0; bi < buckets.size(); bi++) {
      Bucket& b = buckets[bi];
      WaitOrThrow(b.work, "DistributedDataParallel: gradient allReduce (bucket " + std::to_string(bi) + ")",
                  group->timeout);
      for (size_t k = 0; k < b.members.size(); k++) {
        at::Tensor& p = params[b.members[k]];
        at::Tensor avg = b.flat.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
        at::Tensor& grad = p.mutable_grad();
        if (grad.defined())
          grad.copy_(avg);
        else
          grad = avg.clone();
      }
      b.work.reset();
    }
  }
};

struct ReadyHook : torch::autograd::FunctionPostHook {
  ReadyHook(std::weak_ptr<Reducer> r, size_t i) : reducer(std::move(r)), index(i) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    if (auto r = reducer.lock()) r->MarkReady(index, r);
    return outputs;
  }
  std::weak_ptr<Reducer> reducer;
  size_t index;
};

struct ReducerRef : NativeObject {
  static const napi_type_tag kTag;
  static constexpr const char* kWhat = "a DistributedDataParallel reducer";
  std::shared_ptr<Reducer> r;
};
const napi_type_tag ReducerRef::kTag = {0x6464707265647563ULL, 0x51f0a3c7d2e98b46ULL};

// ddp_create(group, params[], bucketCapBytes, firstBucketCapBytes, findUnusedParameters) -> reducer
napi_value DdpCreate(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto g = LiveGroup(a, 0);
  std::vector<at::Tensor> params = a.TensorList(1, "parameters");
  int64_t cap = a.Int(2, "bucketCapBytes");
  int64_t firstCap = a.Int(3, "firstBucketCapBytes");
  auto r = std::make_shared<Reducer>();
  r->group = g;
  r->findUnused = a.Bool(4, "findUnusedParameters");
  r->scale = at::scalar_tensor(1.0 / g->size, at::TensorOptions().dtype(at::kDouble));
  for (size_t i = 0; i < params.size(); i++) {
    if (!params[i].requires_grad() || !params[i].is_leaf())
      throw ArgError("parameters[" + std::to_string(i) + "] is not a leaf tensor that requires grad");
  }
  // Reverse order, one open bucket per dtype/device, closed once it holds cap bytes (the first
  // bucket of each kind is smaller, so the first allreduce starts early).
  struct Open {
    at::ScalarType dtype;
    at::Device device;
    std::vector<size_t> members;
    int64_t bytes = 0;
    bool first = true;
  };
  std::vector<Open> open;
  std::vector<std::vector<size_t>> assigned;
  for (size_t k = params.size(); k-- > 0;) {
    const at::Tensor& p = params[k];
    Open* o = nullptr;
    for (auto& c : open)
      if (c.dtype == p.scalar_type() && c.device == p.device()) o = &c;
    if (!o) {
      open.push_back(Open{p.scalar_type(), p.device(), {}, 0, true});
      o = &open.back();
    }
    o->members.push_back(k);
    o->bytes += p.numel() * static_cast<int64_t>(p.element_size());
    if (o->bytes >= (o->first ? firstCap : cap)) {
      assigned.push_back(std::move(o->members));
      o->members.clear();
      o->bytes = 0;
      o->first = false;
    }
  }
  for (auto& o : open)
    if (!o.members.empty()) assigned.push_back(std::move(o.members));
  r->params = params;
  r->bucketOf.assign(params.size(), 0);
  r->ready.assign(params.size(), 0);
  for (size_t bi = 0; bi < assigned.size(); bi++) {
    Reducer::Bucket b;
    b.members = assigned[bi];
    int64_t off = 0;
    for (size_t m : b.members) {
      b.offsets.push_back(off);
      off += params[m].numel();
      r->bucketOf[m] = bi;
    }
    b.flat = at::zeros({off}, params[b.members[0]].options().requires_grad(false));
    b.pending = b.members.size();
    r->buckets.push_back(std::move(b));
  }
  std::weak_ptr<Reducer> weak = r;
  for (size_t i = 0; i < params.size(); i++) {
    auto acc = torch::autograd::impl::grad_accumulator(params[i]);
    acc->add_post_hook(std::make_unique<ReadyHook>(weak, i));
    r->accumulators.push_back(std::move(acc));
  }
  auto* ref = new ReducerRef();
  ref->r = r;
  return WrapObject(env, ref, &ReducerRef::kTag);
}

// ddp_set_sync(reducer, on): off inside noSync(), where gradients only accumulate locally.
napi_value DdpSetSync(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto& ref = a.Object<ReducerRef>(0, "reducer");
  bool on = a.Bool(1, "sync");
  std::lock_guard<std::mutex> lock(ref.r->mu);
  bool prev = ref.r->sync;
  ref.r->sync = on;
  return MakeBool(env, prev);
}

// ddp_info(reducer) -> { buckets: number[][] (parameter indices), launchedInBackward, launchedAtEnd }
napi_value DdpInfo(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto& ref = a.Object<ReducerRef>(0, "reducer");
  Reducer& r = *ref.r;
  std::lock_guard<std::mutex> lock(r.mu);
  napi_value o, list;
  Check(env, napi_create_object(env, &o));
  Check(env, napi_create_array_with_length(env, r.buckets.size(), &list));
  for (size_t bi = 0; bi < r.buckets.size(); bi++) {
    napi_value members;
    Check(env, napi_create_array_with_length(env, r.buckets[bi].members.size(), &members));
    for (size_t k = 0; k < r.buckets[bi].members.size(); k++)
      Check(env, napi_set_element(env, members, k, MakeNumber(env, static_cast<double>(r.buckets[bi].members[k]))));
    Check(env, napi_set_element(env, list, bi, members));
  }
  Check(env, napi_set_named_property(env, o, "buckets", list));
  Check(env, napi_set_named_property(env, o, "launchedInBackward",
                                     MakeNumber(env, static_cast<double>(r.launchedInBackward))));
  Check(env, napi_set_named_property(env, o, "launchedAtEnd", MakeNumber(env, static_cast<double>(r.launchedAtEnd))));
  return o;
}

// dist_randperm(n, seed): torch.randperm(n, generator=torch.Generator().manual_seed(seed)), the
// per-epoch order DistributedSampler shares across ranks (and with PyTorch's sampler).
napi_value Randperm(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t n = a.Int(0, "n");
  int64_t seed = a.Int(1, "seed");
  if (n < 0) throw ArgError("expected n to be a non-negative integer but received " + std::to_string(n));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
  return Wrap(env, at::randperm(n, gen, at::TensorOptions().dtype(at::kLong)));
}

const Export kExports[] = {
    NT_EXPORT("dist_available", Available),
    NT_EXPORT("dist_init", Init),
    NT_EXPORT("dist_new_group", NewGroup),
    NT_EXPORT("dist_destroy", Destroy),
    NT_EXPORT("dist_group_info", GroupInfo),
    NT_EXPORT("dist_all_reduce", AllReduce),
    NT_EXPORT("dist_broadcast", Broadcast),
    NT_EXPORT("dist_all_gather", AllGather),
    NT_EXPORT("dist_reduce_scatter", ReduceScatter),
    NT_EXPORT("dist_send", Send),
    NT_EXPORT("dist_recv", Recv),
    NT_EXPORT("dist_barrier", Barrier),
    NT_EXPORT("dist_randperm", Randperm),
    NT_EXPORT("ddp_create", DdpCreate),
    NT_EXPORT("ddp_set_sync", DdpSetSync),
    NT_EXPORT("ddp_broadcast_", DdpBroadcast),
    NT_EXPORT("ddp_info", DdpInfo),
};

}  // namespace

void RegisterDistributed(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
