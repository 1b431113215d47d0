// Ids and addresses: rdma_create_id, rdma_destroy_id, rdma_bind_addr,
// rdma_listen, rdma_resolve_addr, rdma_resolve_route, and what an id is bound
// to (rdma_get_local_addr, rdma_get_peer_addr, id->verbs, id->port_num).
#include <errno.h>
#include <string.h>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "args.h"
#include "exports.h"
#include "loader.h"
#include "verbs.h"

namespace {

Napi::Value CreateId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  Instance& instance = GetInstance(env);
  CmObject& channel = instance.rdmacm.Get(info[0], "channel", CmKind::kChannel, "rdma_create_id");
  int ps = static_cast<int>(Uint32Arg(info[1], "portSpace"));
  uint64_t handle = instance.verbs.NewHandle();
  rdma::cm_id* id = nullptr;
  errno = 0;
  if (cm.create_id(static_cast<rdma::event_channel*>(channel.ptr), &id, reinterpret_cast<void*>(handle), ps) != 0) {
    ThrowErrno(env, FailedErrno(), "rdma_create_id");
  }
  instance.rdmacm.Add(handle, CmKind::kId, id, channel.handle);
  return Napi::Number::New(env, static_cast<double>(handle));
}

Napi::Value DestroyId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  RdmaCmState& state = GetInstance(env).rdmacm;
  CmObject& o = state.Get(info[0], "id", CmKind::kId, "rdma_destroy_id");
  auto* id = static_cast<rdma::cm_id*>(o.ptr);
  // librdmacm would leave the QP alive, its handle pointing at a freed id.
  if (id->qp) ThrowErrnoWhy(env, EBUSY, "rdma_destroy_id", "the id still has a QP: ibvDestroyQp it first");
  errno = 0;
  if (cm.destroy_id(id) != 0) ThrowErrno(env, FailedErrno(), "rdma_destroy_id");
  state.Remove(o);
  return env.Undefined();
}

Napi::Value BindAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_bind_addr");
  sockaddr_storage address = AddressArg(info[1], "address");
  errno = 0;
  if (cm.bind_addr(id, reinterpret_cast<sockaddr*>(&address)) != 0) ThrowErrno(env, FailedErrno(), "rdma_bind_addr");
  return env.Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_listen");
  int backlog = Int32Arg(info[1], "backlog");
  errno = 0;
  if (cm.listen(id, backlog) != 0) ThrowErrno(env, FailedErrno(), "rdma_listen");
  return env.Undefined();
}

Napi::Value ResolveAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_resolve_addr");
  sockaddr_storage src = {};
  bool has_src = !info[1].IsNull();
  if (has_src) src = AddressArg(info[1], "src");
  sockaddr_storage dst = AddressArg(info[2], "dst");
  int timeout_ms = Int32Arg(info[3], "timeoutMs");
  errno = 0;
  if (cm.resolve_addr(id, has_src ? reinterpret_cast<sockaddr*>(&src) : nullptr, reinterpret_cast<sockaddr*>(&dst),
                      timeout_ms) != 0) {
    ThrowErrno(env, FailedErrno(), "rdma_resolve_addr");
  }
  return env.Undefined();
}

Napi::Value ResolveRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  rdma::cm_id* id = GetInstance(env).rdmacm.Id(info[0], "id", "rdma_resolve_route");
  int timeout_ms = Int32Arg(info[1], "timeoutMs");
  // librdmacm reads id->verbs->device before it asks the kernel.
  if (!id->verbs) ThrowErrnoWhy(env, EINVAL, "rdma_resolve_route", "the id's address is not resolved yet");
  errno = 0;
  if (cm.resolve_route(id, timeout_ms) != 0) ThrowErrno(env, FailedErrno(), "rdma_resolve_route");
  return env.Undefined();
}

Napi::Value QueryId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireRdmaCm(env);
  Instance& instance = GetInstance(env);
  rdma::cm_id* id = instance.rdmacm.Id(info[0], "id", "rdma_get_local_addr");
  uint64_t context = id->verbs ? CmContextHandle(env, instance.verbs, id->verbs) : 0;
  const ibv::device* device = id->verbs ? id->verbs->device : nullptr;
  Napi::Object result = Napi::Object::New(env);
  result.Set("context", static_cast<double>(context));
  result.Set("deviceName", device ? std::string(device->name, strnlen(device->name, sizeof device->name)) : "");
  result.Set("portNum", id->port_num);
  result.Set("local", AddressValue(env, id->route.addr.src_addr));
  result.Set("remote", AddressValue(env, id->route.addr.dst_addr));
  return result;
}

}  // namespace

void InitRdmaCmId(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "rdmaCreateId", CreateId);
  Export(env, exports, "rdmaDestroyId", DestroyId);
  Export(env, exports, "rdmaBindAddr", BindAddr);
  Export(env, exports, "rdmaListen", Listen);
  Export(env, exports, "rdmaResolveAddr", ResolveAddr);
  Export(env, exports, "rdmaResolveRoute", ResolveRoute);
  Export(env, exports, "rdmaQueryId", QueryId);
}
