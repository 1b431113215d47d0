// Protection domains and memory regions: ibv_alloc_pd, ibv_dealloc_pd,
// ibv_reg_mr, ibv_reg_dmabuf_mr, ibv_dereg_mr.
#include <errno.h>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "exports.h"
#include "loader.h"

namespace {

// The IbvMr objects. Set() through N-API adds each property on V8's slow path
// (about 1.5 us for these five on the host, tens of us in an emulated guest:
// most of what the addon added to ibv_reg_mr there); an object literal in JS
// is made with its final shape at once, so a small function made once per
// environment builds them. It is fetched before the verb runs, so that making
// it cannot fail after an MR was registered.
Napi::Function MrMaker(Napi::Env env, VerbsState& state) {
  if (state.make_mr.IsEmpty()) {
    napi_value fn = nullptr;
    Napi::String source =
        Napi::String::New(env, "(handle, lkey, rkey, addr, length) => ({ handle, lkey, rkey, addr, length })");
    NAPI_THROW_IF_FAILED(env, napi_run_script(env, source, &fn), Napi::Function());
    state.make_mr = Napi::Persistent(Napi::Function(env, fn));
  }
  return state.make_mr.Value();
}

Napi::Value MrResult(Napi::Env env, const Napi::Function& make, uint64_t handle, const ibv::mr* mr, uint64_t addr) {
  return make.Call({Napi::Number::New(env, static_cast<double>(handle)), Napi::Number::New(env, mr->lkey),
                    Napi::Number::New(env, mr->rkey), Napi::BigInt::New(env, addr),
                    Napi::BigInt::New(env, static_cast<uint64_t>(mr->length))});
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

Napi::Value RegMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& pd = state.Get(info[0], "pd", VerbsKind::kPd, "ibv_reg_mr");
  Napi::Value view = info[1];
  if (!view.IsTypedArray() || view.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "view must be a Uint8Array");
  }
  size_t length = 0;
  void* data = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, view, nullptr, &length, &data, nullptr, nullptr),
                       Napi::Value());
  int access = static_cast<int>(Uint32Arg(info[2], "access"));
  Napi::Function make = MrMaker(env, state);
  errno = 0;
  ibv::mr* mr = v.reg_mr(static_cast<ibv::pd*>(pd.ptr), data, length, access);
  if (!mr) ThrowErrno(env, FailedErrno(), "ibv_reg_mr");
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kMr, mr, pd.context);
  state.mrs_by_lkey.emplace(mr->lkey, mr);
  return MrResult(env, make, handle, mr, reinterpret_cast<uintptr_t>(mr->addr));
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
  // What a library without the verb means for a caller probing for dma-buf
  // support (EOPNOTSUPP: not here), with the remedy.
  if (!v.reg_dmabuf_mr) {
    ThrowErrnoWhy(env, EOPNOTSUPP, "ibv_reg_dmabuf_mr",
                  "libibverbs.so.1 predates it, which came in rdma-core 34: upgrade rdma-core");
  }
  Napi::Function make = MrMaker(env, state);
  errno = 0;
  ibv::mr* mr = v.reg_dmabuf_mr(static_cast<ibv::pd*>(pd.ptr), offset, length, iova, fd, access);
  if (!mr) ThrowErrno(env, FailedErrno(), "ibv_reg_dmabuf_mr");
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kMr, mr, pd.context);
  return MrResult(env, make, handle, mr, iova);
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
  state.Remove(o);
  return env.Undefined();
}

}  // namespace

void InitVerbsMr(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "ibvAllocPd", AllocPd);
  Export(env, exports, "ibvDeallocPd", DeallocPd);
  Export(env, exports, "ibvRegMr", RegMr);
  Export(env, exports, "ibvRegDmabufMr", RegDmabufMr);
  Export(env, exports, "ibvDeregMr", DeregMr);
}
