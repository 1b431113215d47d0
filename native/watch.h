#pragma once
#include <napi.h>

#include <cstdint>
#include <unordered_map>

struct PollSlot;

// The fd watches of one environment. libuv allows one uv_poll_t per fd and
// loop, so the watches on an fd share a slot that polls for all of them.
class Watches {
 public:
  // Stops and closes a slot's handle; the slot is freed once libuv is done.
  void Close(PollSlot* slot);
  // Stops every watch on `fd`, before whatever owns it closes it: libuv
  // aborts the process when a stale slot meets the fd number's next file.
  void StopFd(int fd);
  // At environment cleanup: stops every live watch, and removes `hook` once
  // every slot has closed. Node unloads the addon after cleanup, so no close
  // callback of ours may still be pending in the loop by then.
  void StopAll(napi_async_cleanup_hook_handle hook);

  std::unordered_map<int, PollSlot*> by_fd;
  Napi::FunctionReference constructor;
  uint64_t next_id = 1;

 private:
  void FinishCleanup();

  size_t closing_ = 0;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;
};
