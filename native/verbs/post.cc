// The data path: ibv_post_send and ibv_post_recv of requests packed in a
// BigUint64Array (backend-verbs.ts gives the layouts). Each call decodes into
// arrays kept in VerbsState, links them as one chain and posts it once, so a
// warm call allocates nothing and looks up no JS property.
#include <errno.h>

#include <string>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "exports.h"
#include "loader.h"

namespace {

// backend-verbs.ts's SEND_WR_WORDS and RECV_WR_WORDS.
constexpr size_t kSendWords = 6;
constexpr size_t kRecvWords = 3;

// Throws what posting request `index` failed with; those before it were posted.
[[noreturn]] void ThrowPostError(Napi::Env env, int err, const char* syscall, size_t index, const std::string& why) {
  Napi::Error error = ErrnoErrorWhy(env, err, syscall, "request " + std::to_string(index) + ": " + why);
  error.Set("index", static_cast<double>(index));
  throw error;
}

// The requests a caller passes, as words, after the common checks.
Words Requests(const Napi::CallbackInfo& info, size_t words_each, size_t* count) {
  Words wrs = WordsArg(info[1], "wrs");
  *count = SizeArg(info[2], "count");
  if (*count > wrs.length / words_each) {
    ThrowTypeError(info.Env(), "count is " + std::to_string(*count) + " but wrs holds " +
                                   std::to_string(wrs.length / words_each) + " requests");
  }
  return wrs;
}

template <typename T>
T* Reserve(std::vector<T>& v, size_t count) {
  if (v.size() < count) v.resize(count);
  return v.data();
}

bool InsideMr(const VerbsState& state, const ibv::context* ctx, const ibv::sge& sge) {
  auto [it, last] = state.mrs_by_lkey.equal_range(sge.lkey);
  for (; it != last; ++it) {
    const ibv::mr* mr = it->second;
    uint64_t start = reinterpret_cast<uintptr_t>(mr->addr);
    if (mr->context == ctx && sge.addr >= start && sge.length <= mr->length &&
        sge.addr - start <= mr->length - sge.length) {
      return true;
    }
  }
  return false;
}

// Why the layout cannot carry this request to the provider safely, or null.
// Opcodes whose requests hold pointers (bind MW, TSO) or fields the layout has
// no room for (atomics) are refused, and so is an inline SGE outside every MR:
// the provider copies inline data itself, from any address it is given.
const char* Refusal(const VerbsState& state, const ibv::qp* qp, uint64_t control, const ibv::sge& sge) {
  unsigned opcode = control & 0xff, flags = (control >> 8) & 0xff, num_sge = (control >> 16) & 0xff;
  if (control >> 24) return "word 1 has bits set above num_sge";
  if (num_sge > 1) return "num_sge is more than the one SGE the layout carries";
  switch (opcode) {
    case ibv::WR_RDMA_WRITE:
    case ibv::WR_RDMA_WRITE_WITH_IMM:
    case ibv::WR_SEND:
    case ibv::WR_SEND_WITH_IMM:
    case ibv::WR_RDMA_READ:
    case ibv::WR_LOCAL_INV:
    case ibv::WR_SEND_WITH_INV:
      break;
    default:
      return "the opcode needs fields the layout does not carry";
  }
  if ((flags & ibv::SEND_INLINE) && num_sge == 1 && sge.length != 0 && !InsideMr(state, qp->context, sge)) {
    return "an inline SGE must lie inside the MR its lkey names";
  }
  return nullptr;
}

Napi::Value PostSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  auto* qp = static_cast<ibv::qp*>(state.Get(info[0], "qp", VerbsKind::kQp, "ibv_post_send").ptr);
  size_t count = 0;
  Words wrs = Requests(info, kSendWords, &count);
  if (count == 0) return env.Undefined();
  // A UD request names its destination by an address handle, a pointer the
  // provider follows; the layout has none.
  if (qp->qp_type != ibv::QPT_RC && qp->qp_type != ibv::QPT_UC) {
    ThrowPostError(env, EINVAL, "ibv_post_send", 0, "the layout carries requests for RC and UC QPs only");
  }
  ibv::send_wr* chain = Reserve(state.send_wrs, count);
  ibv::sge* sges = Reserve(state.sges, count);
  size_t valid = 0;
  const char* refusal = nullptr;
  for (; valid < count; valid++) {
    const uint64_t* w = wrs.data + valid * kSendWords;
    ibv::sge& sge = sges[valid];
    sge.addr = w[2];
    sge.length = static_cast<uint32_t>(w[3]);
    sge.lkey = static_cast<uint32_t>(w[3] >> 32);
    if ((refusal = Refusal(state, qp, w[1], sge))) break;
    ibv::send_wr& wr = chain[valid];
    wr = {};
    wr.wr_id = w[0];
    wr.next = &wr + 1;
    wr.sg_list = &sge;
    wr.num_sge = static_cast<int>((w[1] >> 16) & 0xff);
    wr.opcode = static_cast<int>(w[1] & 0xff);
    wr.send_flags = (w[1] >> 8) & 0xff;
    wr.imm_data = static_cast<uint32_t>(w[5] >> 32);
    wr.wr.rdma.remote_addr = w[4];
    wr.wr.rdma.rkey = static_cast<uint32_t>(w[5]);
  }
  // The requests before a refused one are posted, as the provider would.
  if (valid > 0) {
    chain[valid - 1].next = nullptr;
    ibv::send_wr* bad = nullptr;
    if (int rc = qp->context->ops.post_send(qp, chain, &bad)) {
      // A provider that fails without naming a request may have posted none.
      size_t index = bad >= chain && bad < chain + valid ? bad - chain : 0;
      ThrowPostError(env, ReturnedErrno(rc), "ibv_post_send", index, "the provider refused it");
    }
  }
  if (refusal) ThrowPostError(env, EINVAL, "ibv_post_send", valid, refusal);
  return env.Undefined();
}

Napi::Value PostRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  auto* qp = static_cast<ibv::qp*>(state.Get(info[0], "qp", VerbsKind::kQp, "ibv_post_recv").ptr);
  size_t count = 0;
  Words wrs = Requests(info, kRecvWords, &count);
  if (count == 0) return env.Undefined();
  ibv::recv_wr* chain = Reserve(state.recv_wrs, count);
  ibv::sge* sges = Reserve(state.sges, count);
  for (size_t i = 0; i < count; i++) {
    const uint64_t* w = wrs.data + i * kRecvWords;
    ibv::sge& sge = sges[i];
    sge.addr = w[1];
    sge.length = static_cast<uint32_t>(w[2]);
    sge.lkey = static_cast<uint32_t>(w[2] >> 32);
    chain[i] = {w[0], &chain[i] + 1, &sge, sge.length ? 1 : 0};
  }
  chain[count - 1].next = nullptr;
  ibv::recv_wr* bad = nullptr;
  if (int rc = qp->context->ops.post_recv(qp, chain, &bad)) {
    size_t index = bad >= chain && bad < chain + count ? bad - chain : 0;
    ThrowPostError(env, ReturnedErrno(rc), "ibv_post_recv", index, "the provider refused it");
  }
  return env.Undefined();
}

}  // namespace

void InitVerbsPost(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "ibvPostSend", PostSend);
  Export(env, exports, "ibvPostRecv", PostRecv);
}
