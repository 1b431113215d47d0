// memfd_create(2), ftruncate(2) and file seals.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "sys.h"

namespace {

Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = StringArg(info[0], "name");
  unsigned flags = Uint32Arg(info[1], "flags");
  int fd = ::memfd_create(name.c_str(), flags);
  if (fd < 0) ThrowErrno(info.Env(), errno, "memfd_create");
  return NewFd(info.Env(), fd);
}

Napi::Value Ftruncate(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  int64_t length = I64Arg(info[1], "length");
  if (RetryEintr([&] { return ::ftruncate(fd, length); }) != 0) ThrowErrno(info.Env(), errno, "ftruncate");
  return info.Env().Undefined();
}

Napi::Value AddSeals(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  int seals = static_cast<int>(Uint32Arg(info[1], "seals"));
  if (::fcntl(fd, F_ADD_SEALS, seals) != 0) ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

Napi::Value GetSeals(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), seals);
}

}  // namespace

void InitMemfd(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "memfdCreate", MemfdCreate);
  Export(env, exports, "ftruncate", Ftruncate);
  Export(env, exports, "addSeals", AddSeals);
  Export(env, exports, "getSeals", GetSeals);
}
