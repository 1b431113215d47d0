// Connections: rdma_connect, rdma_accept, rdma_reject, rdma_disconnect. Each
// returns once the CM message is on its way; the outcome is an event.
#include <errno.h>

#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "args.h"
#include "exports.h"
#include "loader.h"

namespace {

// librdmacm reads the device's limits (ucma_valid_param) or transport
// (ucma_shutdown) through the id's device before anything else. Checked once
// the arguments are.
void RequireBound(Napi::Env env, const rdma::cm_id* id, const char* syscall) {
  if (!id->verbs) ThrowErrnoWhy(env, EINVAL, syscall, "the id is bound to no device yet");
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_connect");
  rdma::conn_param param = ConnParamArg(info[1], "rdma_connect");
  RequireBound(env, id, "rdma_connect");
  errno = 0;
  if (cm.connect(id, &param) != 0) ThrowErrno(env, FailedErrno(), "rdma_connect");
  return env.Undefined();
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_accept");
  rdma::conn_param param = ConnParamArg(info[1], "rdma_accept");
  RequireBound(env, id, "rdma_accept");
  errno = 0;
  if (cm.accept(id, &param) != 0) ThrowErrno(env, FailedErrno(), "rdma_accept");
  return env.Undefined();
}

Napi::Value Reject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_reject");
  PrivateData data = PrivateDataArg(info[1], "privateData", "rdma_reject");
  errno = 0;
  if (cm.reject(id, data.data, data.length) != 0) ThrowErrno(env, FailedErrno(), "rdma_reject");
  return env.Undefined();
}

Napi::Value Disconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_disconnect");
  RequireBound(env, id, "rdma_disconnect");
  errno = 0;
  if (cm.disconnect(id) != 0) ThrowErrno(env, FailedErrno(), "rdma_disconnect");
  return env.Undefined();
}

}  // namespace

void InitRdmaCmConnect(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "rdmaConnect", Connect);
  Export(env, exports, "rdmaAccept", Accept);
  Export(env, exports, "rdmaReject", Reject);
  Export(env, exports, "rdmaDisconnect", Disconnect);
}
