#include "errors.h"

#include <errno.h>

#include "../error.h"

namespace {

// The errno's name as ThrowErrno spells it (error.h keeps its table private).
Napi::Value CodeOf(Napi::Env env, int err) {
  try {
    ThrowErrno(env, err, "");
  } catch (const Napi::Error& e) {
    return e.Get("code");
  }
}

}  // namespace

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", CodeOf(env, err));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", syscall);
  return error;
}

Napi::Error ErrnoErrorWhy(Napi::Env env, int err, const char* syscall, const std::string& why) {
  std::string code = CodeOf(env, err).As<Napi::String>();
  return ErrnoError(env, err, syscall, std::string(syscall) + " failed: " + code + " (" + why + ")");
}

int FailedErrno() { return errno != 0 ? errno : EIO; }
