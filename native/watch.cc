// Readiness: poll(2) once, and watches that call back from the event loop;
// and a call that does nothing, the floor of the seam.
#include "watch.h"

#include <poll.h>
#include <uv.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "sys.h"

class Watch;

// One uv_poll_t for every watch on an fd. Freed in its close callback, so it
// outlives the dispatch loop that may close it.
struct PollSlot {
  uv_poll_t handle;
  int fd;
  Watches* owner;
  std::vector<Watch*> watches;
};

namespace {

int UvEvents(int events) {
  return (events & POLLIN ? UV_READABLE : 0) | (events & POLLPRI ? UV_PRIORITIZED : 0) |
         (events & POLLOUT ? UV_WRITABLE : 0) | (events & POLLHUP ? UV_DISCONNECT : 0);
}

int PollEvents(int uv_events) {
  return (uv_events & UV_READABLE ? POLLIN : 0) | (uv_events & UV_PRIORITIZED ? POLLPRI : 0) |
         (uv_events & UV_WRITABLE ? POLLOUT : 0) | (uv_events & UV_DISCONNECT ? POLLHUP : 0);
}

void OnPoll(uv_poll_t* handle, int status, int uv_events);

PollSlot* OpenSlot(Napi::Env env, Watches& owner, int fd) {
  auto found = owner.by_fd.find(fd);
  if (found != owner.by_fd.end()) return found->second;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env);
  auto slot = std::make_unique<PollSlot>();
  slot->fd = fd;
  slot->owner = &owner;
  // A handle whose init failed is not in the loop: it is freed, never stopped.
  int r = uv_poll_init(loop, &slot->handle, fd);
  if (r != 0) ThrowErrno(env, -r, "uv_poll_init");
  slot->handle.data = slot.get();
  owner.by_fd[fd] = slot.get();
  return slot.release();
}

}  // namespace

class Watch : public Napi::ObjectWrap<Watch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Watch", {InstanceMethod<&Watch::StopMethod>("stop")});
  }

  explicit Watch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watch>(info) {}
  ~Watch() override { Leave(); }

  void Start(Watches& owner, int fd, int events, Napi::Function callback) {
    Napi::Env env = Env();
    callback_ = Napi::Persistent(callback);
    context_ = std::make_unique<Napi::AsyncContext>(env, "dmabridge.watch", Value());
    slot_ = OpenSlot(env, owner, fd);
    id_ = owner.next_id++;
    events_ = events;
    slot_->watches.push_back(this);
    if (int r = Arm(slot_)) {
      Leave();
      ThrowErrno(env, -r, "uv_poll_start");
    }
    // A live watch keeps its object, and so its callback, from being collected.
    Ref();
  }

  // Idempotent. After it returns the callback never runs again.
  void Stop() {
    if (!slot_) return;
    Leave();
    // A callback that stops its own watch is still running on them.
    if (!firing_) Release();
  }

  void Fire(int revents) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    firing_ = true;
    try {
      callback_.Value().MakeCallback(Value(), {Napi::Number::New(env, revents)}, *context_);
    } catch (const Napi::Error& e) {
      // As for any callback from the event loop, a throw is an uncaught exception.
      napi_fatal_exception(env, e.Value());
    }
    firing_ = false;
    if (!slot_) Release();
  }

  uint64_t id() const { return id_; }
  int events() const { return events_; }

 private:
  Napi::Value StopMethod(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  static int Arm(PollSlot* slot) {
    int events = 0;
    for (Watch* w : slot->watches) events |= w->events_;
    return uv_poll_start(&slot->handle, UvEvents(events), OnPoll);
  }

  // Drops the callback and lets the object be collected. Runs from the event
  // loop and at cleanup too, where nothing may throw.
  void Release() {
    try {
      callback_.Reset();
      context_.reset();
      Unref();
    } catch (const Napi::Error&) {
      // Only while the environment is going away, taking the references along.
    }
  }

  // Leaves the slot; the last watch to leave closes it.
  void Leave() {
    if (!slot_) return;
    PollSlot* slot = slot_;
    slot_ = nullptr;
    slot->watches.erase(std::find(slot->watches.begin(), slot->watches.end(), this));
    if (slot->watches.empty()) {
      slot->owner->Close(slot);
    } else {
      Arm(slot);
    }
  }

  PollSlot* slot_ = nullptr;
  uint64_t id_ = 0;
  int events_ = 0;
  bool firing_ = false;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

namespace {

Watch* Find(PollSlot* slot, uint64_t id) {
  for (Watch* w : slot->watches) {
    if (w->id() == id) return w;
  }
  return nullptr;
}

void OnPoll(uv_poll_t* handle, int status, int uv_events) {
  PollSlot* slot = static_cast<PollSlot*>(handle->data);
  // libuv stops a handle whose fd reports POLLERR and passes an error status:
  // its watches get POLLERR once and end.
  bool failed = status < 0;
  int revents = failed ? POLLERR : PollEvents(uv_events);
  // A callback may stop any watch, so each is looked up again by id; ids are
  // never reused, unlike the addresses of collected watches.
  std::vector<uint64_t> ids;
  try {
    for (Watch* w : slot->watches) ids.push_back(w->id());
  } catch (const std::bad_alloc&) {
    // Nothing may throw into libuv. Polling is level-triggered: the next turn
    // of the loop reports the fd again.
    return;
  }
  for (uint64_t id : ids) {
    Watch* w = Find(slot, id);
    if (!w) continue;
    int mine = revents & (w->events() | POLLERR | POLLHUP);
    if (mine) w->Fire(mine);
    if (failed && (w = Find(slot, id))) w->Stop();
  }
}

}  // namespace

void Watches::StopFd(int fd) {
  auto it = by_fd.find(fd);
  if (it == by_fd.end()) return;
  // Each Stop() edits the slot's list, and the last frees the slot.
  std::vector<Watch*> watches = it->second->watches;
  for (Watch* w : watches) w->Stop();
}

namespace {

// Nothing, in raw N-API as the hot calls are (verbs/cq.cc): the bench's floor
// for a call across the seam.
napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

Napi::Value PollOnce(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  int events = static_cast<int>(Uint32Arg(info[1], "events"));
  pollfd p = {fd, static_cast<short>(events), 0};
  if (RetryEintr([&] { return ::poll(&p, 1, 0); }) < 0) ThrowErrno(info.Env(), errno, "poll");
  return Napi::Number::New(info.Env(), static_cast<uint16_t>(p.revents));
}

Napi::Value WatchFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info[0], "fd");
  int events = static_cast<int>(Uint32Arg(info[1], "events"));
  Napi::Function callback = FunctionArg(info[2], "onReady");
  Watches& watches = GetInstance(env).watches;
  Napi::Object object = watches.constructor.New({});
  Watch::Unwrap(object)->Start(watches, fd, events, callback);
  return object;
}

}  // namespace

void Watches::Close(PollSlot* slot) {
  by_fd.erase(slot->fd);
  closing_++;
  uv_poll_stop(&slot->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&slot->handle), [](uv_handle_t* handle) {
    PollSlot* slot = static_cast<PollSlot*>(handle->data);
    Watches* owner = slot->owner;
    delete slot;
    owner->closing_--;
    owner->FinishCleanup();
  });
}

void Watches::StopAll(napi_async_cleanup_hook_handle hook) {
  std::vector<Watch*> live;
  for (auto& [fd, slot] : by_fd) live.insert(live.end(), slot->watches.begin(), slot->watches.end());
  for (Watch* w : live) w->Stop();
  cleanup_hook_ = hook;
  FinishCleanup();
}

void Watches::FinishCleanup() {
  if (closing_ == 0 && cleanup_hook_) {
    napi_remove_async_cleanup_hook(cleanup_hook_);
    cleanup_hook_ = nullptr;
  }
}

void InitWatch(Napi::Env env, Napi::Object exports) {
  GetInstance(env).watches.constructor = Napi::Persistent(Watch::Define(env));
  ExportRaw(env, exports, "noop", Noop, nullptr);
  Export(env, exports, "poll", PollOnce);
  Export(env, exports, "watch", WatchFd);
}
