// rdma_get_cm_event and rdma_ack_cm_event: each event is copied out and
// acknowledged before JS sees it, so none is ever left unacknowledged for
// rdma_destroy_id to wait on.
#include <errno.h>

#include <vector>

#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "args.h"
#include "exports.h"
#include "loader.h"

namespace {

uint64_t HandleOf(const rdma::cm_id* id) { return reinterpret_cast<uintptr_t>(id->context); }

bool IsUd(const rdma::cm_id* id) { return id->ps == rdma::PS_UDP || id->ps == rdma::PS_IPOIB; }

Napi::Object PeerParam(Napi::Env env, const rdma::conn_param& conn) {
  Napi::Object param = Napi::Object::New(env);
  param.Set("responderResources", conn.responder_resources);
  param.Set("initiatorDepth", conn.initiator_depth);
  param.Set("retryCount", conn.retry_count);
  param.Set("rnrRetryCount", conn.rnr_retry_count);
  param.Set("qpNum", conn.qp_num);
  return param;
}

Napi::Value GetCmEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  Instance& instance = GetInstance(env);
  CmObject& channel = instance.rdmacm.Get(info[0], "channel", CmKind::kChannel, "rdma_get_cm_event");
  rdma::cm_event* event = nullptr;
  errno = 0;
  if (cm.get_cm_event(static_cast<rdma::event_channel*>(channel.ptr), &event) != 0) {
    if (errno == EAGAIN) return env.Null();
    ThrowErrno(env, FailedErrno(), "rdma_get_cm_event");
  }
  uint64_t id = 0, listen_id = 0;
  if (event->event == rdma::CM_EVENT_CONNECT_REQUEST) {
    // A new id for the connection, on the listener's channel, with the
    // listener's context: it becomes the caller's under a handle of its own.
    id = instance.verbs.NewHandle();
    event->id->context = reinterpret_cast<void*>(id);
    instance.rdmacm.Add(id, CmKind::kId, event->id, channel.handle);
    listen_id = HandleOf(event->listen_id);
  } else {
    id = HandleOf(event->id);
  }
  const bool ud = IsUd(event->id);
  const void* data = ud ? event->param.ud.private_data : event->param.conn.private_data;
  uint8_t length = ud ? event->param.ud.private_data_len : event->param.conn.private_data_len;
  std::vector<uint8_t> private_data(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + length);
  const int type = event->event, status = event->status;
  const bool has_param = !ud && (type == rdma::CM_EVENT_CONNECT_REQUEST || type == rdma::CM_EVENT_ESTABLISHED);
  const rdma::conn_param conn = event->param.conn;
  cm.ack_cm_event(event);

  Napi::Object result = Napi::Object::New(env);
  result.Set("event", type);
  result.Set("id", static_cast<double>(id));
  result.Set("listenId", static_cast<double>(listen_id));
  result.Set("status", status);
  result.Set("privateData", PrivateDataValue(env, private_data.data(), length));
  result.Set("param", has_param ? PeerParam(env, conn) : env.Null());
  return result;
}

}  // namespace

void InitRdmaCmEvents(Napi::Env env, Napi::Object exports) { Export(env, exports, "rdmaGetCmEvent", GetCmEvent); }
