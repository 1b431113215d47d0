#pragma once
#include <napi.h>

#include "mapping.h"
#include "rdmacm/handles.h"
#include "verbs/handles.h"
#include "watch.h"

// Per-environment state, so the addon loads in worker threads too.
struct Instance {
  Mappings mappings;
  Watches watches;
  VerbsState verbs;
  RdmaCmState rdmacm;
};

inline Instance& GetInstance(Napi::Env env) { return *env.GetInstanceData<Instance>(); }
