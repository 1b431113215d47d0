// rdma_create_qp and rdma_destroy_qp. The QP is an ordinary verbs QP handle
// (posting, polling and ibvModifyQp work on it unchanged); the connection
// manager moves it through INIT, RTR and RTS as the connection is made, and
// ibvDestroyQp on it is rdma_destroy_qp, which also clears the id's `qp`.
#include <errno.h>

#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "../verbs/loader.h"
#include "../verbs/qp.h"
#include "exports.h"
#include "loader.h"
#include "verbs.h"

namespace {

// rdma_destroy_qp returns nothing: librdmacm ignores what its ibv_destroy_qp
// says, and the QP's handle is gone either way.
// The QP's release (VerbsObject::release_cm).
int DestroyCmQp(VerbsObject& qp) {
  LoadedRdmaCm().destroy_qp(static_cast<rdma::cm_id*>(qp.cm));
  qp.cm = nullptr;
  return 0;
}

Napi::Value CreateQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RdmaCm& cm = RequireRdmaCm(env);
  RequireVerbs(env);
  Instance& instance = GetInstance(env);
  VerbsState& verbs = instance.verbs;
  rdma::cm_id* id = instance.rdmacm.Id(info[0], "id", "rdma_create_qp");
  VerbsObject& pd = verbs.Get(info[1], "pd", VerbsKind::kPd, "rdma_create_qp");
  ibv::qp_init_attr attr = {};
  QpInitArg(verbs, pd, info[2], "rdma_create_qp", attr);
  if (!id->verbs) ThrowErrnoWhy(env, EINVAL, "rdma_create_qp", "the id is bound to no device yet");
  if (id->qp) ThrowErrnoWhy(env, EINVAL, "rdma_create_qp", "the id already has a QP");
  if (static_cast<ibv::pd*>(pd.ptr)->context != id->verbs) {
    ThrowErrnoWhy(env, EINVAL, "rdma_create_qp",
                  "the PD must be allocated on the id's context (rdmaQueryId(id).context)");
  }
  uint64_t handle = verbs.NewHandle();
  // Async events name the QP by its context, which is its handle.
  attr.qp_context = reinterpret_cast<void*>(handle);
  errno = 0;
  if (cm.create_qp(id, static_cast<ibv::pd*>(pd.ptr), &attr) != 0) ThrowErrno(env, FailedErrno(), "rdma_create_qp");
  verbs.Add(handle, VerbsKind::kQp, id->qp, pd.context, id, DestroyCmQp);
  return QpResult(env, handle, id->qp, attr.cap);
}

}  // namespace

void InitRdmaCmQp(Napi::Env env, Napi::Object exports) { Export(env, exports, "rdmaCreateQp", CreateQp); }
