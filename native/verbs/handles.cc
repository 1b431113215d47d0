#include "handles.h"

#include <errno.h>

#include <cmath>
#include <string>

#include "../error.h"
#include "loader.h"

namespace {

const char* KindName(VerbsKind kind) {
  switch (kind) {
    case VerbsKind::kContext: return "device context";
    case VerbsKind::kPd: return "protection domain";
    case VerbsKind::kMr: return "memory region";
    case VerbsKind::kCompChannel: return "completion channel";
    case VerbsKind::kCq: return "completion queue";
    case VerbsKind::kQp: return "queue pair";
  }
  return "object";
}

}  // namespace

int DestroyObject(const Verbs& v, VerbsObject& o) {
  switch (o.kind) {
    case VerbsKind::kContext:
      if (o.cm) return o.release_cm(o);
      errno = 0;
      return v.close_device(static_cast<ibv::context*>(o.ptr)) == 0 ? 0 : FailedErrno();
    case VerbsKind::kPd: return ReturnedErrno(v.dealloc_pd(static_cast<ibv::pd*>(o.ptr)));
    case VerbsKind::kMr: {
      int err = ReturnedErrno(v.dereg_mr(static_cast<ibv::mr*>(o.ptr)));
      if (err) return err;
      if (o.shared_buffer) napi_delete_reference(o.env, o.shared_buffer);
      if (o.mapping) Unpin(o.mapping);
      o.shared_buffer = nullptr;
      o.mapping = nullptr;
      return 0;
    }
    case VerbsKind::kCompChannel:
      return ReturnedErrno(v.destroy_comp_channel(static_cast<ibv::comp_channel*>(o.ptr)));
    case VerbsKind::kCq: {
      auto* cq = static_cast<ibv::cq*>(o.ptr);
      if (o.unacked) {
        v.ack_cq_events(cq, o.unacked);
        o.unacked = 0;
      }
      if (int err = ReturnedErrno(v.destroy_cq(cq))) return err;
      napi_delete_reference(o.env, o.shared_buffer);
      o.shared_buffer = nullptr;
      return 0;
    }
    case VerbsKind::kQp:
      if (o.cm) return o.release_cm(o);
      return ReturnedErrno(v.destroy_qp(static_cast<ibv::qp*>(o.ptr)));
  }
  return EINVAL;
}

void VerbsState::Add(uint64_t handle, VerbsKind kind, void* ptr, uint64_t context, void* cm,
                     int (*release_cm)(VerbsObject&)) {
  VerbsObject object{handle, kind, ptr, context};
  object.cm = cm;
  object.release_cm = release_cm;
  objects_.emplace(handle, object);
  if (context) objects_.at(context).children++;
}

VerbsObject* VerbsState::Find(uint64_t handle, VerbsKind kind) {
  VerbsObject*& cached = recent_[handle % recent_.size()];
  if (!cached || cached->handle != handle) {
    auto it = objects_.find(handle);
    if (it == objects_.end()) return nullptr;
    cached = &it->second;
  }
  return cached->kind == kind ? cached : nullptr;
}

VerbsObject* VerbsState::Lookup(double d, VerbsKind kind) {
  if (!(d >= 1 && d < static_cast<double>(next_handle_) && std::trunc(d) == d)) return nullptr;
  return Find(static_cast<uint64_t>(d), kind);
}

VerbsObject* VerbsState::FindCmContext(const void* ctx) {
  for (auto& [handle, o] : objects_) {
    if (o.kind == VerbsKind::kContext && o.cm && o.ptr == ctx) return &o;
  }
  return nullptr;
}

void VerbsState::Remove(const VerbsObject& object) {
  uint64_t handle = object.handle;
  auto context = objects_.find(object.context);
  if (context != objects_.end()) context->second.children--;
  VerbsObject*& cached = recent_[handle % recent_.size()];
  if (cached && cached->handle == handle) cached = nullptr;
  objects_.erase(handle);
}

VerbsObject& VerbsState::Get(const Napi::Value& arg, const char* name, VerbsKind kind, const char* syscall) {
  // One call where IsNumber() and DoubleValue() make two: this is every verb's first step.
  double d;
  if (napi_get_value_double(arg.Env(), arg, &d) != napi_ok) {
    ThrowTypeError(arg.Env(), std::string(name) + " must be a handle (a number)");
  }
  VerbsObject* o = Lookup(d, kind);
  if (!o) {
    ThrowErrnoWhy(arg.Env(), EBADF, syscall,
                  std::string(name) + " " + Napi::Number::New(arg.Env(), d).ToString().Utf8Value() +
                      " is not a live " + KindName(kind));
  }
  return *o;
}

bool VerbsState::CqInUse(const ibv::cq* cq) const {
  for (const auto& [handle, o] : objects_) {
    const auto* qp = static_cast<const ibv::qp*>(o.ptr);
    if (o.kind == VerbsKind::kQp && (qp->send_cq == cq || qp->recv_cq == cq)) return true;
  }
  return false;
}

bool VerbsState::OwnsFd(int fd) const {
  for (const auto& [handle, o] : objects_) {
    if (o.kind == VerbsKind::kContext) {
      const auto* ctx = static_cast<const ibv::context*>(o.ptr);
      if (ctx->cmd_fd == fd || ctx->async_fd == fd) return true;
    } else if (o.kind == VerbsKind::kCompChannel && static_cast<const ibv::comp_channel*>(o.ptr)->fd == fd) {
      return true;
    }
  }
  return false;
}

void VerbsState::ReleaseAll() {
  if (!objects_.empty()) {
    const Verbs& v = LoadedVerbs();
    for (VerbsKind kind : {VerbsKind::kQp, VerbsKind::kMr, VerbsKind::kCq, VerbsKind::kCompChannel,
                           VerbsKind::kPd, VerbsKind::kContext}) {
      for (auto& [handle, o] : objects_) {
        if (o.kind == kind) DestroyObject(v, o);
      }
    }
  }
  objects_.clear();
  recent_.fill(nullptr);
  mrs_by_lkey.clear();
  on_demand_mrs.clear();
}
