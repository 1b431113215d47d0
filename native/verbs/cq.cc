// Completion channels and queues: ibv_create_comp_channel,
// ibv_destroy_comp_channel, ibv_create_cq, ibv_destroy_cq, ibv_req_notify_cq,
// ibv_get_cq_event, ibv_ack_cq_events, ibv_poll_cq.
#include <errno.h>
#include <fcntl.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "../result.h"
#include "exports.h"
#include "loader.h"

namespace {

// backend-verbs.ts's WC_WORDS.
constexpr size_t kWcWords = 5;

ibv::cq* Cq(VerbsObject& o) { return static_cast<ibv::cq*>(o.ptr); }

Napi::Value CreateCompChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& ctx = state.Get(info[0], "ctx", VerbsKind::kContext, "ibv_create_comp_channel");
  errno = 0;
  ibv::comp_channel* channel = v.create_comp_channel(static_cast<ibv::context*>(ctx.ptr));
  if (!channel) ThrowErrno(env, FailedErrno(), "ibv_create_comp_channel");
  // So that ibvGetCqEvent never blocks.
  int flags = fcntl(channel->fd, F_GETFL);
  if (flags < 0 || fcntl(channel->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    v.destroy_comp_channel(channel);
    ThrowErrno(env, err, "fcntl");
  }
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kCompChannel, channel, ctx.handle);
  Napi::Object result = Napi::Object::New(env);
  Put(result, "handle", static_cast<double>(handle));
  Put(result, "fd", channel->fd);
  return result;
}

// EBUSY while CQs use the channel (libibverbs counts them).
Napi::Value DestroyCompChannel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& channel = state.Get(info[0], "channel", VerbsKind::kCompChannel, "ibv_destroy_comp_channel");
  auto* c = static_cast<ibv::comp_channel*>(channel.ptr);
  if (c->refcnt) ThrowErrno(env, EBUSY, "ibv_destroy_comp_channel");
  GetInstance(env).watches.StopFd(c->fd);
  if (int err = DestroyObject(v, channel)) ThrowErrno(env, err, "ibv_destroy_comp_channel");
  state.Remove(channel);
  return env.Undefined();
}

// `out` is bound to the CQ for its life: ibvPollCq writes there, so that a
// poll takes no typed array (reading one costs ~700 ns a call in the TCG
// guest, ten times the poll itself). A SharedArrayBuffer's memory cannot be
// detached or shrunk, and is referenced here until the CQ is destroyed.
Napi::Value CreateCq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& ctx = state.Get(info[0], "ctx", VerbsKind::kContext, "ibv_create_cq");
  int cqe = Int32Arg(info[1], "cqe");
  ibv::comp_channel* channel = nullptr;
  if (!(info[2].IsNumber() && info[2].As<Napi::Number>().DoubleValue() == -1)) {
    VerbsObject& c = state.Get(info[2], "channel", VerbsKind::kCompChannel, "ibv_create_cq");
    if (c.context != ctx.handle) {
      ThrowErrnoWhy(env, EINVAL, "ibv_create_cq", "the channel belongs to another device context");
    }
    channel = static_cast<ibv::comp_channel*>(c.ptr);
  }
  SharedWords out = SharedWordsArg(info[3], "out");
  size_t capacity = std::min<size_t>(out.words.length / kWcWords, INT_MAX);
  if (capacity == 0) ThrowTypeError(env, "out must hold at least one completion (" + std::to_string(kWcWords) + " words)");
  if (state.wcs.size() < capacity) state.wcs.resize(capacity);
  napi_ref ref = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, out.buffer, 1, &ref), Napi::Value());
  uint64_t handle = state.NewHandle();
  errno = 0;
  // The CQ's context is its handle, which ibv_get_cq_event hands back.
  ibv::cq* cq = v.create_cq(static_cast<ibv::context*>(ctx.ptr), cqe, reinterpret_cast<void*>(handle), channel, 0);
  if (!cq) {
    int err = FailedErrno();
    napi_delete_reference(env, ref);
    ThrowErrno(env, err, "ibv_create_cq");
  }
  state.Add(handle, VerbsKind::kCq, cq, ctx.handle);
  VerbsObject& o = *state.Find(handle, VerbsKind::kCq);
  o.env = env;
  o.shared_buffer = ref;
  o.wc_words = out.words.data;
  o.wc_capacity = capacity;
  return Napi::Number::New(env, static_cast<double>(handle));
}

// EBUSY while QPs use the CQ. Events taken and not acknowledged are
// acknowledged first, or ibv_destroy_cq would wait for them for ever: it waits,
// once the kernel has destroyed the CQ, until the acknowledged count reaches
// the count the kernel reported. An acknowledgement cannot be taken back, so
// the kernel's one refusal (a QP still uses the CQ) is answered here before
// any: a refused destroy leaves the CQ and its unacknowledged events as they
// were, for the program to acknowledge and destroy later.
Napi::Value DestroyCq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& cq = state.Get(info[0], "cq", VerbsKind::kCq, "ibv_destroy_cq");
  if (state.CqInUse(Cq(cq))) ThrowErrnoWhy(env, EBUSY, "ibv_destroy_cq", "a QP still uses the CQ");
  if (int err = DestroyObject(v, cq)) ThrowErrno(env, err, "ibv_destroy_cq");
  state.Remove(cq);
  return env.Undefined();
}

Napi::Value ReqNotifyCq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireVerbs(env);
  ibv::cq* cq = Cq(GetInstance(env).verbs.Get(info[0], "cq", VerbsKind::kCq, "ibv_req_notify_cq"));
  bool solicited_only = BoolArg(info[1], "solicitedOnly");
  if (int rc = cq->context->ops.req_notify_cq(cq, solicited_only)) ThrowErrno(env, ReturnedErrno(rc), "ibv_req_notify_cq");
  return env.Undefined();
}

Napi::Value GetCqEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& channel = state.Get(info[0], "channel", VerbsKind::kCompChannel, "ibv_get_cq_event");
  ibv::cq* cq = nullptr;
  void* cq_context = nullptr;
  if (v.get_cq_event(static_cast<ibv::comp_channel*>(channel.ptr), &cq, &cq_context) != 0) {
    if (errno == EAGAIN) return Napi::Number::New(env, -1);
    ThrowErrno(env, FailedErrno(), "ibv_get_cq_event");
  }
  // Always a live CQ of ours: destroying a CQ drops its events from the channel.
  uint64_t handle = reinterpret_cast<uintptr_t>(cq_context);
  if (VerbsObject* o = state.Find(handle, VerbsKind::kCq)) o->unacked++;
  return Napi::Number::New(env, static_cast<double>(handle));
}

// EINVAL for more events than were taken: ibv_destroy_cq would then wait for
// ever for the counts to match.
Napi::Value AckCqEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsObject& cq = GetInstance(env).verbs.Get(info[0], "cq", VerbsKind::kCq, "ibv_ack_cq_events");
  uint32_t count = UintArg(info[1], "count", UINT32_MAX);
  if (count > cq.unacked) {
    ThrowErrnoWhy(env, EINVAL, "ibv_ack_cq_events",
                  "acknowledging " + std::to_string(count) + " events, but " + std::to_string(cq.unacked) +
                      " were taken from this CQ and not yet acknowledged");
  }
  v.ack_cq_events(Cq(cq), count);
  cq.unacked -= count;
  return env.Undefined();
}

void WriteWcs(const std::vector<ibv::wc>& wcs, int n, uint64_t* w) {
  for (int i = 0; i < n; i++, w += kWcWords) {
    const ibv::wc& wc = wcs[i];
    w[0] = wc.wr_id;
    w[1] = static_cast<uint8_t>(wc.status) | static_cast<uint64_t>(static_cast<uint8_t>(wc.opcode)) << 8 |
           static_cast<uint64_t>(wc.vendor_err) << 16;
    w[2] = wc.byte_len | static_cast<uint64_t>(wc.imm_data) << 32;
    w[3] = wc.qp_num | static_cast<uint64_t>(wc.src_qp) << 32;
    w[4] = wc.wc_flags;
  }
}

// Polls `cq` for up to `max` completions into its bound words.
int Poll(VerbsObject& cq, size_t max, VerbsState& state, Napi::Env env) {
  max = std::min(max, cq.wc_capacity);
  if (max == 0) return 0;
  ibv::cq* c = Cq(cq);
  int n = c->context->ops.poll_cq(c, static_cast<int>(max), state.wcs.data());
  if (n < 0) ThrowErrnoWhy(env, EIO, "ibv_poll_cq", "the provider returned " + std::to_string(n));
  WriteWcs(state.wcs, n, cq.wc_words);
  return n;
}

// The same call with every argument checked, for what the fast path below
// does not take: its errors are those of every other verb.
Napi::Value CheckedPollCq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& cq = state.Get(info[0], "cq", VerbsKind::kCq, "ibv_poll_cq");
  return Napi::Number::New(env, Poll(cq, UintArg(info[1], "max", INT32_MAX), state, env));
}

// The hot call in raw N-API: node-addon-api's wrapper costs ~165 ns a call in
// the TCG guest, three times the poll itself. Arguments that are not a live
// CQ's handle and a count in range go the checked way.
napi_value PollCq(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2];
  void* data = nullptr;
  double handle = 0, max = -1;
  VerbsObject* cq = nullptr;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, &data) == napi_ok && argc == 2 &&
      napi_get_value_double(env, argv[0], &handle) == napi_ok &&
      napi_get_value_double(env, argv[1], &max) == napi_ok && max >= 0 && max <= INT32_MAX &&
      std::trunc(max) == max) {
    cq = static_cast<Instance*>(data)->verbs.Lookup(handle, VerbsKind::kCq);
  }
  return CallGuarded(env, "ibvPollCq", [&]() -> Napi::Value {
    if (!cq) return CheckedPollCq(Napi::CallbackInfo(env, cbinfo));
    return Napi::Number::New(env, Poll(*cq, static_cast<size_t>(max), static_cast<Instance*>(data)->verbs, env));
  });
}

}  // namespace

void InitVerbsCq(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "ibvCreateCompChannel", CreateCompChannel);
  Export(env, exports, "ibvDestroyCompChannel", DestroyCompChannel);
  Export(env, exports, "ibvCreateCq", CreateCq);
  Export(env, exports, "ibvDestroyCq", DestroyCq);
  Export(env, exports, "ibvReqNotifyCq", ReqNotifyCq);
  Export(env, exports, "ibvGetCqEvent", GetCqEvent);
  Export(env, exports, "ibvAckCqEvents", AckCqEvents);
  ExportRaw(env, exports, "ibvPollCq", PollCq, &GetInstance(env));
}
