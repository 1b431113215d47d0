#pragma once
#include <napi.h>

#include "mapping.h"
#include "owned-fds.h"
#include "rdmacm/handles.h"
#include "verbs/handles.h"
#include "watch.h"

// Per-environment state, so the addon loads in worker threads too.
struct Instance {
  Mappings mappings;
  OwnedFds fds;
  Watches watches;
  VerbsState verbs;
  RdmaCmState rdmacm;
};

inline Instance& GetInstance(Napi::Env env) { return *env.GetInstanceData<Instance>(); }

// An fd this call made, handed to JavaScript and owned by this environment.
inline Napi::Value NewFd(Napi::Env env, int fd) { return Napi::Number::New(env, GetInstance(env).fds.Adopt(fd)); }
