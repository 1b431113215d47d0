#pragma once
#include <napi.h>

#include <cstdint>
#include <unordered_map>

#include "abi.h"

enum class CmKind : uint8_t { kChannel, kId };

struct CmObject {
  uint64_t handle;
  CmKind kind;
  // The rdma_event_channel or rdma_cm_id.
  void* ptr;
  // Ids: their channel's handle.
  uint64_t channel;
  // Channels: the ids on it. Closing a channel's fd would take its ids down
  // in the kernel and leave librdmacm's structs for them dangling, so
  // rdmaDestroyEventChannel answers EBUSY instead.
  uint32_t ids = 0;
};

// One environment's event channels and ids, as handles that share the verbs'
// numbering (VerbsState::NewHandle): never reused, and never naming a verbs
// object, so a stale or mistaken one reads as EBADF.
class RdmaCmState {
 public:
  // Adds an object under `handle`, counting an id on its channel.
  void Add(uint64_t handle, CmKind kind, void* ptr, uint64_t channel);
  void Remove(const CmObject& object);

  // The object that `arg` names as argument `name`; a TypeError when it is not
  // a handle, EBADF (with `syscall`) when it names no live object of `kind`.
  CmObject& Get(const Napi::Value& arg, const char* name, CmKind kind, const char* syscall);
  rdma::cm_id* Id(const Napi::Value& arg, const char* name, const char* syscall) {
    return static_cast<rdma::cm_id*>(Get(arg, name, CmKind::kId, syscall).ptr);
  }

  // Whether librdmacm owns `fd`: an event channel's. Only
  // rdmaDestroyEventChannel may close it.
  bool OwnsFd(int fd) const;

  // At environment cleanup, after the verbs have destroyed the ids' QPs:
  // destroys the ids, then their channels.
  void ReleaseAll();

 private:
  std::unordered_map<uint64_t, CmObject> objects_;
};
