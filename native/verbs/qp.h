#pragma once
#include <napi.h>

#include "abi.h"
#include "handles.h"

// What ibv_create_qp and rdma_create_qp (../rdmacm/qp.cc) share.

// Fills `attr` from JS's IbvQpInit (all but qp_context), checking that its CQs
// belong to `pd`'s context; errors name `syscall`.
void QpInitArg(VerbsState& state, const VerbsObject& pd, const Napi::Value& arg, const char* syscall,
               ibv::qp_init_attr& attr);

// JS's IbvQp: the handle, QP number and the capabilities the device granted.
Napi::Object QpResult(Napi::Env env, uint64_t handle, const ibv::qp* qp, const ibv::qp_cap& cap);
