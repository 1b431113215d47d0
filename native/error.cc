#include "error.h"

#include <errno.h>
#include <string.h>
#include <uv.h>

#include <string>

namespace {

// ENOTSUPP is kernel-internal, so libc has no name for it, but some exporters
// (CUDA's dma-bufs on mmap) return it to user space.
constexpr int kEnotsupp = 524;

}  // namespace

std::string ErrnoName(int err) {
  if (err == kEnotsupp) return "ENOTSUPP";
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
#else
  char buf[64];
  uv_err_name_r(-err, buf, sizeof buf);
  if (strncmp(buf, "Unknown", 7) != 0) return buf;
#endif
  return "E" + std::to_string(err);
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", ErrnoName(err));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", syscall);
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  throw ErrnoError(env, err, syscall, std::string(syscall) + " failed: " + ErrnoName(err));
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

Napi::Error ErrnoErrorWhy(Napi::Env env, int err, const char* syscall, const std::string& why) {
  return ErrnoError(env, err, syscall, std::string(syscall) + " failed: " + ErrnoName(err) + " (" + why + ")");
}

int FailedErrno() { return errno != 0 ? errno : EIO; }
