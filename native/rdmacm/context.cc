// The verbs contexts of rdma_cm ids. librdmacm opens each device once per
// process (cma.c, ucma_init_device) and shares that context between all ids
// bound to it; it closes it only when the device has gone away and no one
// holds a reference (remove_cma_dev), references being taken by ids
// (ucma_get_device) and by rdma_get_devices.
#include <errno.h>
#include <fcntl.h>

#include "../error.h"
#include "loader.h"
#include "verbs.h"

namespace {

// The handle's release (VerbsObject::release_cm): drops the reference.
int ReleaseCmContext(VerbsObject& context) {
  LoadedRdmaCm().free_devices(static_cast<ibv::context**>(context.cm));
  context.cm = nullptr;
  return 0;
}

}  // namespace

uint64_t CmContextHandle(Napi::Env env, VerbsState& state, ibv::context* ctx) {
  if (VerbsObject* known = state.FindCmContext(ctx)) return known->handle;
  const RdmaCm& cm = LoadedRdmaCm();
  errno = 0;
  ibv::context** devices = cm.get_devices(nullptr);
  if (!devices) ThrowErrno(env, FailedErrno(), "rdma_get_devices");
  bool listed = false;
  for (ibv::context** d = devices; *d && !listed; d++) listed = *d == ctx;
  if (!listed) {
    cm.free_devices(devices);
    ThrowErrnoWhy(env, ENODEV, "rdma_get_devices", "the id's device is being removed");
  }
  // So that ibvGetAsyncEvent never blocks, as on contexts ibvOpenDevice opens.
  // librdmacm itself never reads this context's async events.
  int flags = fcntl(ctx->async_fd, F_GETFL);
  if (flags < 0 || fcntl(ctx->async_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    cm.free_devices(devices);
    ThrowErrno(env, err, "fcntl");
  }
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kContext, ctx, 0, devices, ReleaseCmContext);
  return handle;
}
