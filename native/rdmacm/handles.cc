#include "handles.h"

#include <errno.h>

#include <cmath>
#include <string>

#include "../error.h"
#include "loader.h"

void RdmaCmState::Add(uint64_t handle, CmKind kind, void* ptr, uint64_t channel) {
  objects_.emplace(handle, CmObject{handle, kind, ptr, channel});
  if (channel) objects_.at(channel).ids++;
}

void RdmaCmState::Remove(const CmObject& object) {
  uint64_t handle = object.handle;
  auto channel = objects_.find(object.channel);
  if (channel != objects_.end()) channel->second.ids--;
  objects_.erase(handle);
}

CmObject& RdmaCmState::Get(const Napi::Value& arg, const char* name, CmKind kind, const char* syscall) {
  if (!arg.IsNumber()) ThrowTypeError(arg.Env(), std::string(name) + " must be a handle (a number)");
  double d = arg.As<Napi::Number>().DoubleValue();
  auto it = d >= 1 && d <= 9007199254740991.0 && std::trunc(d) == d ? objects_.find(static_cast<uint64_t>(d))
                                                                     : objects_.end();
  if (it == objects_.end() || it->second.kind != kind) {
    ThrowErrnoWhy(arg.Env(), EBADF, syscall,
                  std::string(name) + " " + Napi::Number::New(arg.Env(), d).ToString().Utf8Value() +
                      " is not a live " + (kind == CmKind::kId ? "rdma_cm id" : "event channel"));
  }
  return it->second;
}

void RdmaCmState::ReleaseAll() {
  if (!objects_.empty()) {
    const RdmaCm& cm = LoadedRdmaCm();
    for (auto& [handle, o] : objects_) {
      if (o.kind == CmKind::kId) cm.destroy_id(static_cast<rdma::cm_id*>(o.ptr));
    }
    for (auto& [handle, o] : objects_) {
      if (o.kind == CmKind::kChannel) cm.destroy_event_channel(static_cast<rdma::event_channel*>(o.ptr));
    }
  }
  objects_.clear();
}
