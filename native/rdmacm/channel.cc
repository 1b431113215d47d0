// Event channels: rdma_create_event_channel, rdma_destroy_event_channel.
#include <errno.h>
#include <fcntl.h>

#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "exports.h"
#include "loader.h"

namespace {

Napi::Value CreateEventChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  errno = 0;
  rdma::event_channel* channel = cm.create_event_channel();
  if (!channel) ThrowErrno(env, FailedErrno(), "rdma_create_event_channel");
  // So that rdmaGetCmEvent never blocks: librdmacm's read of an event then
  // fails with EAGAIN where none is pending.
  int flags = fcntl(channel->fd, F_GETFL);
  if (flags < 0 || fcntl(channel->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    cm.destroy_event_channel(channel);
    ThrowErrno(env, err, "fcntl");
  }
  Instance& instance = GetInstance(env);
  uint64_t handle = instance.verbs.NewHandle();
  instance.rdmacm.Add(handle, CmKind::kChannel, channel, 0);
  Napi::Object result = Napi::Object::New(env);
  result.Set("handle", static_cast<double>(handle));
  result.Set("fd", channel->fd);
  return result;
}

Napi::Value DestroyEventChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  RdmaCmState& state = GetInstance(env).rdmacm;
  CmObject& channel = state.Get(info[0], "channel", CmKind::kChannel, "rdma_destroy_event_channel");
  if (channel.ids) {
    ThrowErrnoWhy(env, EBUSY, "rdma_destroy_event_channel",
                  std::to_string(channel.ids) + " ids on this channel are still alive");
  }
  cm.destroy_event_channel(static_cast<rdma::event_channel*>(channel.ptr));
  state.Remove(channel);
  return env.Undefined();
}

}  // namespace

void InitRdmaCmChannel(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "rdmaCreateEventChannel", CreateEventChannel);
  Export(env, exports, "rdmaDestroyEventChannel", DestroyEventChannel);
}
