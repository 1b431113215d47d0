#include "errors.h"

#include <errno.h>

#include "../error.h"

Napi::Error ErrnoErrorWhy(Napi::Env env, int err, const char* syscall, const std::string& why) {
  return ErrnoError(env, err, syscall, std::string(syscall) + " failed: " + ErrnoName(err) + " (" + why + ")");
}

int FailedErrno() { return errno != 0 ? errno : EIO; }
