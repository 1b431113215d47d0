// Queue pairs: ibv_create_qp, ibv_modify_qp, ibv_destroy_qp.
#include <errno.h>
#include <string.h>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "exports.h"
#include "loader.h"
#include "qp.h"

namespace {

constexpr uint32_t kU8 = UINT8_MAX, kU16 = UINT16_MAX, kU32 = UINT32_MAX, kInt = INT32_MAX;

// Sets `field` from obj[key] when that is present.
template <typename T>
void Optional(const Napi::Object& obj, const char* key, const std::string& prefix, uint32_t max, T& field) {
  Napi::Value value = obj.Get(key);
  if (!value.IsUndefined()) field = static_cast<T>(UintArg(value, prefix + key, max));
}

Napi::Object CapResult(Napi::Env env, const ibv::qp_cap& cap) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("maxSendWr", cap.max_send_wr);
  result.Set("maxRecvWr", cap.max_recv_wr);
  result.Set("maxSendSge", cap.max_send_sge);
  result.Set("maxRecvSge", cap.max_recv_sge);
  result.Set("maxInlineData", cap.max_inline_data);
  return result;
}

Napi::Value CreateQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& pd = state.Get(info[0], "pd", VerbsKind::kPd, "ibv_create_qp");
  ibv::qp_init_attr attr = {};
  QpInitArg(state, pd, info[1], "ibv_create_qp", attr);
  uint64_t handle = state.NewHandle();
  // Async events name the QP by its context, which is its handle.
  attr.qp_context = reinterpret_cast<void*>(handle);
  errno = 0;
  ibv::qp* qp = v.create_qp(static_cast<ibv::pd*>(pd.ptr), &attr);
  if (!qp) ThrowErrno(env, FailedErrno(), "ibv_create_qp");
  state.Add(handle, VerbsKind::kQp, qp, pd.context);
  return QpResult(env, handle, qp, attr.cap);
}

void AhAttr(const Napi::Object& a, ibv::ah_attr& ah) {
  const std::string prefix = "attr.ahAttr.";
  ah.dlid = static_cast<uint16_t>(UintArg(a.Get("dlid"), prefix + "dlid", kU16));
  ah.port_num = static_cast<uint8_t>(UintArg(a.Get("portNum"), prefix + "portNum", kU8));
  ah.is_global = BoolArg(a.Get("isGlobal"), prefix + "isGlobal");
  Napi::Value dgid = a.Get("dgid");
  if (!dgid.IsUndefined()) {
    if (!dgid.IsTypedArray() || dgid.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        dgid.As<Napi::Uint8Array>().ElementLength() != sizeof ah.grh.dgid.raw) {
      ThrowTypeError(a.Env(), prefix + "dgid must be a Uint8Array of 16 bytes");
    }
    memcpy(ah.grh.dgid.raw, dgid.As<Napi::Uint8Array>().Data(), sizeof ah.grh.dgid.raw);
  }
  Optional(a, "sgidIndex", prefix, kU8, ah.grh.sgid_index);
  Optional(a, "hopLimit", prefix, kU8, ah.grh.hop_limit);
}

// Fills what `attr` has, whatever the mask: the mask says what the kernel reads.
Napi::Value ModifyQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsObject& qp = GetInstance(env).verbs.Get(info[0], "qp", VerbsKind::kQp, "ibv_modify_qp");
  Napi::Object a = ObjectArg(info[1], "attr");
  int mask = static_cast<int>(Uint32Arg(info[2], "mask"));
  const std::string prefix = "attr.";
  ibv::qp_attr attr = {};
  Optional(a, "qpState", prefix, kInt, attr.qp_state);
  Optional(a, "pkeyIndex", prefix, kU16, attr.pkey_index);
  Optional(a, "portNum", prefix, kU8, attr.port_num);
  Optional(a, "qpAccessFlags", prefix, kU32, attr.qp_access_flags);
  Optional(a, "pathMtu", prefix, kInt, attr.path_mtu);
  Optional(a, "destQpNum", prefix, kU32, attr.dest_qp_num);
  Optional(a, "rqPsn", prefix, kU32, attr.rq_psn);
  Optional(a, "sqPsn", prefix, kU32, attr.sq_psn);
  Optional(a, "maxDestRdAtomic", prefix, kU8, attr.max_dest_rd_atomic);
  Optional(a, "maxRdAtomic", prefix, kU8, attr.max_rd_atomic);
  Optional(a, "minRnrTimer", prefix, kU8, attr.min_rnr_timer);
  Optional(a, "timeout", prefix, kU8, attr.timeout);
  Optional(a, "retryCnt", prefix, kU8, attr.retry_cnt);
  Optional(a, "rnrRetry", prefix, kU8, attr.rnr_retry);
  Napi::Value ah = a.Get("ahAttr");
  if (!ah.IsUndefined()) AhAttr(ObjectArg(ah, "attr.ahAttr"), attr.ah_attr);
  if (int rc = v.modify_qp(static_cast<ibv::qp*>(qp.ptr), &attr, mask)) {
    ThrowErrno(env, ReturnedErrno(rc), "ibv_modify_qp");
  }
  return env.Undefined();
}

Napi::Value DestroyQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& qp = state.Get(info[0], "qp", VerbsKind::kQp, "ibv_destroy_qp");
  if (int err = DestroyObject(v, qp)) ThrowErrno(env, err, "ibv_destroy_qp");
  state.Remove(qp);
  return env.Undefined();
}

}  // namespace

void QpInitArg(VerbsState& state, const VerbsObject& pd, const Napi::Value& arg, const char* syscall,
               ibv::qp_init_attr& attr) {
  Napi::Env env = arg.Env();
  Napi::Object init = ObjectArg(arg, "init");
  VerbsObject& send_cq = state.Get(init.Get("sendCq"), "init.sendCq", VerbsKind::kCq, syscall);
  VerbsObject& recv_cq = state.Get(init.Get("recvCq"), "init.recvCq", VerbsKind::kCq, syscall);
  // uverbs looks CQs up by their handles in the PD's context, where another
  // context's handle names some other CQ or none.
  if (send_cq.context != pd.context || recv_cq.context != pd.context) {
    ThrowErrnoWhy(env, EINVAL, syscall, "its CQs must belong to the PD's device context");
  }
  attr.send_cq = static_cast<ibv::cq*>(send_cq.ptr);
  attr.recv_cq = static_cast<ibv::cq*>(recv_cq.ptr);
  attr.qp_type = static_cast<int>(UintArg(init.Get("qpType"), "init.qpType", kInt));
  attr.sq_sig_all = BoolArg(init.Get("sqSigAll"), "init.sqSigAll");
  Napi::Object cap = ObjectArg(init.Get("cap"), "init.cap");
  attr.cap.max_send_wr = UintArg(cap.Get("maxSendWr"), "init.cap.maxSendWr", kU32);
  attr.cap.max_recv_wr = UintArg(cap.Get("maxRecvWr"), "init.cap.maxRecvWr", kU32);
  attr.cap.max_send_sge = UintArg(cap.Get("maxSendSge"), "init.cap.maxSendSge", kU32);
  attr.cap.max_recv_sge = UintArg(cap.Get("maxRecvSge"), "init.cap.maxRecvSge", kU32);
  attr.cap.max_inline_data = UintArg(cap.Get("maxInlineData"), "init.cap.maxInlineData", kU32);
}

Napi::Object QpResult(Napi::Env env, uint64_t handle, const ibv::qp* qp, const ibv::qp_cap& cap) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("handle", static_cast<double>(handle));
  result.Set("qpNum", qp->qp_num);
  // The create call wrote back what the device granted.
  result.Set("cap", CapResult(env, cap));
  return result;
}

void InitVerbsQp(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "ibvCreateQp", CreateQp);
  Export(env, exports, "ibvModifyQp", ModifyQp);
  Export(env, exports, "ibvDestroyQp", DestroyQp);
}
