#pragma once
#include <napi.h>

#include <string>

#include "../error.h"

// Errors of the verbs, in error.h's shape (code, negative errno, syscall).

// That error with the message "<syscall> failed: <CODE> (<why>)".
Napi::Error ErrnoErrorWhy(Napi::Env env, int err, const char* syscall, const std::string& why);

[[noreturn]] inline void ThrowErrnoWhy(Napi::Env env, int err, const char* syscall, const std::string& why) {
  throw ErrnoErrorWhy(env, err, syscall, why);
}

// The errno of a verb documented to return one: rdma-core returns it
// positive, but providers pass some through negated (rxe's post_send does).
inline int ReturnedErrno(int rc) { return rc < 0 ? -rc : rc; }

// errno after a verb returned null or -1. A provider that failed without
// setting it gets EIO rather than an error with code "0".
int FailedErrno();
