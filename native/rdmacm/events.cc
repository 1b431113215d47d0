// rdma_get_cm_event and rdma_ack_cm_event: each event is copied out and
// acknowledged before JS sees it, so none is ever left unacknowledged for
// rdma_destroy_id to wait on.
#include <errno.h>

#include <vector>

#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "../result.h"
#include "args.h"
#include "exports.h"
#include "loader.h"

namespace {

uint64_t HandleOf(const rdma::cm_id* id) { return reinterpret_cast<uintptr_t>(id->context); }

bool IsUd(const rdma::cm_id* id) { return id->ps == rdma::PS_UDP || id->ps == rdma::PS_IPOIB; }

Napi::Object PeerParam(Napi::Env env, const rdma::conn_param& conn) {
  Napi::Object param = Napi::Object::New(env);
  Put(param, "responderResources", conn.responder_resources);
  Put(param, "initiatorDepth", conn.initiator_depth);
  Put(param, "retryCount", conn.retry_count);
  Put(param, "rnrRetryCount", conn.rnr_retry_count);
  Put(param, "qpNum", conn.qp_num);
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
  // Nothing here may fail before the event is acknowledged: an event left
  // unacknowledged makes rdma_destroy_id wait for ever.
  uint64_t id = 0, listen_id = 0;
  rdma::cm_id* request = nullptr;
  if (event->event == rdma::CM_EVENT_CONNECT_REQUEST) {
    // A new id for the connection, on the listener's channel, with the
    // listener's context: it becomes the caller's under a handle of its own.
    id = instance.verbs.NewHandle();
    request = event->id;
    request->context = reinterpret_cast<void*>(id);
    listen_id = HandleOf(event->listen_id);
  } else {
    id = HandleOf(event->id);
  }
  const bool ud = IsUd(event->id);
  const void* data = ud ? event->param.ud.private_data : event->param.conn.private_data;
  PrivateData private_data;
  private_data.length = ud ? event->param.ud.private_data_len : event->param.conn.private_data_len;
  if (private_data.length) memcpy(private_data.bytes, data, private_data.length);
  const int type = event->event, status = event->status;
  const bool has_param = !ud && (type == rdma::CM_EVENT_CONNECT_REQUEST || type == rdma::CM_EVENT_ESTABLISHED);
  const rdma::conn_param conn = event->param.conn;
  cm.ack_cm_event(event);
  if (request) {
    try {
      instance.rdmacm.Add(id, CmKind::kId, request, channel.handle);
    } catch (...) {
      cm.destroy_id(request);
      throw;
    }
  }

  Napi::Object result = Napi::Object::New(env);
  Put(result, "event", type);
  Put(result, "id", static_cast<double>(id));
  Put(result, "listenId", static_cast<double>(listen_id));
  Put(result, "status", status);
  Put(result, "privateData", PrivateDataValue(env, private_data.data(), private_data.length));
  Put(result, "param", has_param ? PeerParam(env, conn) : env.Null());
  return result;
}

}  // namespace

void InitRdmaCmEvents(Napi::Env env, Napi::Object exports) { Export(env, exports, "rdmaGetCmEvent", GetCmEvent); }
