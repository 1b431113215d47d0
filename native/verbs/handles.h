#pragma once
#include <napi.h>

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../mapping.h"
#include "abi.h"

enum class VerbsKind : uint8_t { kContext, kPd, kMr, kCompChannel, kCq, kQp };

struct VerbsObject {
  uint64_t handle;
  VerbsKind kind;
  // The ibv_context, ibv_pd, ibv_mr, ibv_comp_channel, ibv_cq or ibv_qp.
  void* ptr;
  // The handle of the context it was made on; 0 for a context.
  uint64_t context;
  // Contexts: objects made on it that are still alive. ibv_close_device does
  // not refuse while they are, and their handles would then point at freed
  // memory, so ibvCloseDevice answers EBUSY instead.
  uint32_t children = 0;
  // CQs: events ibvGetCqEvent returned and ibvAckCqEvents has not yet
  // acknowledged. ibv_destroy_cq waits for all of them, forever if need be.
  uint32_t unacked = 0;
  // Contexts: the device's uverbs driver id (advise.h), found on first use.
  std::optional<uint32_t> uverbs_driver_id = std::nullopt;
  // Objects whose other half belongs to the connection manager
  // (../rdmacm/verbs.h): for a context from rdmaQueryId, the rdma_get_devices
  // list whose reference keeps it open; for a QP from rdmaCreateQp, its
  // rdma_cm_id. Null for everything made by the verbs themselves.
  void* cm = nullptr;
  // How DestroyObject releases an object with `cm` set, so that the verbs
  // need nothing from the connection manager: 0 or an errno.
  int (*release_cm)(VerbsObject&) = nullptr;
  // MRs over host memory: what keeps the memory alive and in place while the
  // device may use it, whatever JS does with its buffer (transfer, GC): a
  // reference to its SharedArrayBuffer, or a pin on the mapping under it.
  // CQs: the SharedArrayBuffer that `words` lies in.
  napi_env env = nullptr;
  napi_ref shared_buffer = nullptr;
  Mapping* mapping = nullptr;
  // CQs: where ibvPollCq writes, room for `wc_capacity` completions (cq.cc).
  uint64_t* wc_words = nullptr;
  size_t wc_capacity = 0;
};

struct Verbs;

// Destroys the object with its verb (acknowledging a CQ's pending events
// first, which cannot be undone: DestroyCq checks first that the kernel will
// accept); 0, or the errno the verb gave, when the object is still alive.
int DestroyObject(const Verbs& verbs, VerbsObject& object);

// One environment's RDMA objects. JS holds them as handles: small integers
// that are never reused, so a stale one reads as EBADF and never as a newer
// object.
class VerbsState {
 public:
  uint64_t NewHandle() { return next_handle_++; }
  // Adds an object under `handle` (from NewHandle) and counts it on its context.
  void Add(uint64_t handle, VerbsKind kind, void* ptr, uint64_t context, void* cm = nullptr,
           int (*release_cm)(VerbsObject&) = nullptr);
  // The object with `handle` when it is of `kind`, else null.
  VerbsObject* Find(uint64_t handle, VerbsKind kind);
  // The same for a handle as JS passed it, any Number.
  VerbsObject* Lookup(double handle, VerbsKind kind);
  // The context that the connection manager lent as `ctx`, else null.
  VerbsObject* FindCmContext(const void* ctx);
  void Remove(const VerbsObject& object);

  // The object that `arg` names as argument `name`; a TypeError when it is not
  // a handle, EBADF (with `syscall`) when it names no live object of `kind`.
  VerbsObject& Get(const Napi::Value& arg, const char* name, VerbsKind kind, const char* syscall);

  // Whether a live QP sends or receives through `cq`.
  bool CqInUse(const ibv::cq* cq) const;

  // Whether libibverbs owns `fd`: a context's command or async fd, or a
  // completion channel's. Only its destroy may close it.
  bool OwnsFd(int fd) const;

  // At environment cleanup: destroys what is left, children first.
  void ReleaseAll();

  // MRs over CPU memory by lkey, to check that inline sends read from one.
  std::unordered_multimap<uint32_t, const ibv::mr*> mrs_by_lkey;
  // Those of them registered on demand (IBV_ACCESS_ON_DEMAND): ibvAdviseMr
  // passes no other MR's lkey to the kernel.
  std::unordered_set<const ibv::mr*> on_demand_mrs;

  // Reused by the post and poll paths, so that they allocate only to grow.
  std::vector<ibv::send_wr> send_wrs;
  std::vector<ibv::recv_wr> recv_wrs;
  std::vector<ibv::sge> sges;
  std::vector<ibv::wc> wcs;

 private:
  uint64_t next_handle_ = 1;
  std::unordered_map<uint64_t, VerbsObject> objects_;
  // The objects looked up last, by handle modulo its size: a hot loop polls
  // and posts on a few CQs and QPs. unordered_map nodes never move, and
  // Remove clears an entry that names what it removes.
  std::array<VerbsObject*, 16> recent_{};
};
