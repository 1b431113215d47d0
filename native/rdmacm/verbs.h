#pragma once
#include <napi.h>

#include <cstdint>

#include "../verbs/handles.h"
#include "abi.h"

// Where the connection manager's objects meet the verbs' handles.

// The verbs handle for `ctx`, a context librdmacm opened (an id's `verbs`):
// the same handle for the same context while it lives. The handle holds a
// reference on librdmacm's devices (rdma_get_devices), so the context stays
// open while PDs, CQs and MRs made on it do, even after every id using it is
// gone; giving the handle up drops that reference and never closes it.
uint64_t CmContextHandle(Napi::Env env, VerbsState& state, ibv::context* ctx);

