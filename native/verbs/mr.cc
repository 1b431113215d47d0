// Protection domains and memory regions: ibv_alloc_pd, ibv_dealloc_pd,
// ibv_reg_mr, ibv_reg_dmabuf_mr, ibv_dereg_mr, ibv_advise_mr.
#include <errno.h>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "advise.h"
#include "exports.h"
#include "loader.h"

namespace {

// Where a registration's result goes (seam/mr-words.ts): words the caller
// passes rather than an object made here, which cost 7-13 us of a 4 KiB
// registration's 63-73 us in the TCG guest (a call from C++ into JS, two
// BigInts). No JS runs between reading `out` and writing it.
constexpr size_t kMrWords = 3;

Napi::Value MrResult(Napi::Env env, const Words& out, uint64_t handle, const ibv::mr* mr, uint64_t addr) {
  out.data[0] = mr->lkey | static_cast<uint64_t>(mr->rkey) << 32;
  out.data[1] = addr;
  out.data[2] = mr->length;
  return Napi::Number::New(env, static_cast<double>(handle));
}

Napi::Value AllocPd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& ctx = state.Get(info[0], "ctx", VerbsKind::kContext, "ibv_alloc_pd");
  errno = 0;
  ibv::pd* pd = v.alloc_pd(static_cast<ibv::context*>(ctx.ptr));
  if (!pd) ThrowErrno(env, FailedErrno(), "ibv_alloc_pd");
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kPd, pd, ctx.handle);
  return Napi::Number::New(env, static_cast<double>(handle));
}

// EBUSY while MRs or QPs use the PD: the kernel refuses, and the PD lives on.
Napi::Value DeallocPd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& pd = state.Get(info[0], "pd", VerbsKind::kPd, "ibv_dealloc_pd");
  if (int err = DestroyObject(v, pd)) ThrowErrno(env, err, "ibv_dealloc_pd");
  state.Remove(pd);
  return env.Undefined();
}

// Linux 7.3 answered an on-demand registration with EINTR once in a CI run (a
// signal landing while the kernel works). A registration that fails has made
// nothing, so it is asked again, as an interrupted syscall is (sys.h).
template <typename Reg>
ibv::mr* RegRetryingEintr(Reg reg) {
  ibv::mr* mr;
  do {
    errno = 0;
    mr = reg();
  } while (!mr && errno == EINTR);
  return mr;
}

// Host memory that JS cannot free or move while the MR lives: a view of a
// SharedArrayBuffer (never detached, and referenced here until deregistered)
// or of a mapping mmap made (munmap refuses while it is registered). Any other
// ArrayBuffer can be transferred away and collected under the device.
Napi::Value RegMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  Instance& instance = GetInstance(env);
  VerbsState& state = instance.verbs;
  Napi::Value view = info[1];
  if (!view.IsTypedArray() || view.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "view must be a Uint8Array");
  }
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  bool plain = false;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, view, nullptr, &length, &data, &buffer, nullptr),
                       Napi::Value());
  NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, buffer, &plain), Napi::Value());
  Mapping* mapping = plain ? instance.mappings.Containing(data, length) : nullptr;
  if (plain && !mapping) {
    ThrowTypeError(env, "view must be over a SharedArrayBuffer or a mapping mmap made: any other ArrayBuffer "
                        "can be transferred away and freed while the device uses it");
  }
  Words out = WordsArg(info[3], "out", kMrWords);
  int access = static_cast<int>(Uint32Arg(info[2], "access"));
  VerbsObject& pd = state.Get(info[0], "pd", VerbsKind::kPd, "ibv_reg_mr");
  napi_ref shared_buffer = nullptr;
  if (!plain) NAPI_THROW_IF_FAILED(env, napi_create_reference(env, buffer, 1, &shared_buffer), Napi::Value());
  ibv::mr* mr = RegRetryingEintr([&] { return v.reg_mr(static_cast<ibv::pd*>(pd.ptr), data, length, access); });
  if (!mr) {
    int err = FailedErrno();
    if (shared_buffer) napi_delete_reference(env, shared_buffer);
    ThrowErrno(env, err, "ibv_reg_mr");
  }
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kMr, mr, pd.context);
  VerbsObject& o = *state.Find(handle, VerbsKind::kMr);
  o.env = env;
  o.shared_buffer = shared_buffer;
  // An on-demand MR follows the page tables (HMM): after munmap its accesses
  // fail, they never reach freed memory, so it holds nothing in place.
  constexpr int kAccessOnDemand = 1 << 6;  // IBV_ACCESS_ON_DEMAND
  if (mapping && !(access & kAccessOnDemand)) Pin(o.mapping = mapping);
  state.mrs_by_lkey.emplace(mr->lkey, mr);
  if (access & kAccessOnDemand) state.on_demand_mrs.insert(mr);
  return MrResult(env, out, handle, mr, reinterpret_cast<uintptr_t>(mr->addr));
}

Napi::Value RegDmabufMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& pd = state.Get(info[0], "pd", VerbsKind::kPd, "ibv_reg_dmabuf_mr");
  uint64_t offset = U64Arg(info[1], "offset");
  uint64_t length = U64Arg(info[2], "length");
  uint64_t iova = U64Arg(info[3], "iova");
  int fd = Int32Arg(info[4], "fd");
  int access = static_cast<int>(Uint32Arg(info[5], "access"));
  Words out = WordsArg(info[6], "out", kMrWords);
  // What a library without the verb means for a caller probing for dma-buf
  // support (EOPNOTSUPP: not here), with the remedy.
  if (!v.reg_dmabuf_mr) {
    ThrowErrnoWhy(env, EOPNOTSUPP, "ibv_reg_dmabuf_mr",
                  "libibverbs.so.1 predates it, which came in rdma-core 34: upgrade rdma-core");
  }
  ibv::mr* mr = RegRetryingEintr([&] { return v.reg_dmabuf_mr(static_cast<ibv::pd*>(pd.ptr), offset, length, iova, fd, access); });
  if (!mr) ThrowErrno(env, FailedErrno(), "ibv_reg_dmabuf_mr");
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kMr, mr, pd.context);
  return MrResult(env, out, handle, mr, iova);
}

Napi::Value DeregMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& o = state.Get(info[0], "mr", VerbsKind::kMr, "ibv_dereg_mr");
  auto [it, last] = state.mrs_by_lkey.equal_range(static_cast<const ibv::mr*>(o.ptr)->lkey);
  while (it != last && it->second != o.ptr) ++it;
  if (int err = DestroyObject(v, o)) ThrowErrno(env, err, "ibv_dereg_mr");
  if (it != last) state.mrs_by_lkey.erase(it);
  state.on_demand_mrs.erase(static_cast<const ibv::mr*>(o.ptr));
  state.Remove(o);
  return env.Undefined();
}

// Whether `lkey` names a pinned MR (not on demand) this environment
// registered in `pd`. Every MR of a PD is made through its environment.
bool PinnedMrIn(const VerbsState& state, const ibv::pd* pd, uint32_t lkey) {
  auto [it, last] = state.mrs_by_lkey.equal_range(lkey);
  for (; it != last; ++it) {
    if (it->second->pd == pd && !state.on_demand_mrs.count(it->second)) return true;
  }
  return false;
}

// One SGE: the API prefetches one range of one MR at a time, and a single SGE
// needs no array read from JS. The kernel's command goes out from the addon
// (advise.cc says why).
//
// A pinned MR's lkey never reaches the kernel: rxe in 7.3 looks the lkey up
// with no check that the MR is on demand, and would take a pinned MR's umem
// for an on-demand one's (rxe_ib_prefetch_sg_list). Other keys are safe there:
// one naming no MR of the PD fails rxe's lookup (EINVAL).
Napi::Value AdviseMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  uint32_t advice = Uint32Arg(info[1], "advice");
  uint32_t flags = Uint32Arg(info[2], "flags");
  ibv::sge sge{U64Arg(info[4], "addr"), Uint32Arg(info[5], "length"), Uint32Arg(info[3], "lkey")};
  VerbsObject& pd = state.Get(info[0], "pd", VerbsKind::kPd, "ibv_advise_mr");
  auto* ibpd = static_cast<ibv::pd*>(pd.ptr);
  if (PinnedMrIn(state, ibpd, sge.lkey)) {
    ThrowErrnoWhy(env, EINVAL, "ibv_advise_mr", "the lkey names an MR that was not registered on demand");
  }
  // A context outlives its PDs (ibvCloseDevice answers EBUSY while they live).
  std::optional<uint32_t>& driver_id = state.Find(pd.context, VerbsKind::kContext)->uverbs_driver_id;
  if (!driver_id) {
    uint32_t id = 0;
    if (int err = UverbsDriverId(ibpd->context->device->name, &id)) {
      ThrowErrnoWhy(env, err, "ibv_advise_mr", "RDMA netlink did not give the device's uverbs driver id");
    }
    driver_id = id;
  }
  if (int err = AdviseMrIoctl(ibpd->context->cmd_fd, *driver_id, ibpd->handle, advice, flags, sge)) {
    ThrowErrno(env, err, "ibv_advise_mr");
  }
  return env.Undefined();
}

}  // namespace

void InitVerbsMr(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "ibvAllocPd", AllocPd);
  Export(env, exports, "ibvDeallocPd", DeallocPd);
  Export(env, exports, "ibvRegMr", RegMr);
  Export(env, exports, "ibvRegDmabufMr", RegDmabufMr);
  Export(env, exports, "ibvDeregMr", DeregMr);
  Export(env, exports, "ibvAdviseMr", AdviseMr);
}
