#pragma once
#include <napi.h>

#include "abi.h"
#include "handles.h"

// What ibv_create_qp and rdma_create_qp (../rdmacm/qp.cc) share.

// JS's IbvQpInit as native data (all but qp_context). The CQs stay handles
// until QpInitCqs looks them up, which callers do only once every argument has
// been read: a getter may destroy any object it names.
struct QpInit {
  ibv::qp_init_attr attr = {};
  Napi::Value send_cq, recv_cq;
};
QpInit QpInitArg(const Napi::Value& arg);
// Sets attr's CQs, checking that they belong to `pd`'s context; errors name
// `syscall`.
void QpInitCqs(VerbsState& state, const VerbsObject& pd, const char* syscall, QpInit& init);

// JS's IbvQp: the handle, QP number and the capabilities the device granted.
Napi::Object QpResult(Napi::Env env, uint64_t handle, const ibv::qp* qp, const ibv::qp_cap& cap);
