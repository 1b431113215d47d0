// RLIMIT_MEMLOCK, which bounds the memory ibv_reg_mr may pin.
#include <errno.h>
#include <sys/resource.h>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../result.h"
#include "exports.h"

namespace {

Napi::Value GetMemlockLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rlimit limit;
  if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) ThrowErrno(env, errno, "getrlimit");
  Napi::Object result = Napi::Object::New(env);
  // RLIM_INFINITY is 2^64-1 on Linux.
  Put(result, "soft", Napi::BigInt::New(env, static_cast<uint64_t>(limit.rlim_cur)));
  Put(result, "hard", Napi::BigInt::New(env, static_cast<uint64_t>(limit.rlim_max)));
  return result;
}

Napi::Value SetMemlockLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rlimit limit;
  limit.rlim_cur = U64Arg(info[0], "soft");
  limit.rlim_max = U64Arg(info[1], "hard");
  if (setrlimit(RLIMIT_MEMLOCK, &limit) != 0) ThrowErrno(env, errno, "setrlimit");
  return env.Undefined();
}

}  // namespace

void InitMemlock(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "getMemlockLimit", GetMemlockLimit);
  Export(env, exports, "setMemlockLimit", SetMemlockLimit);
}
