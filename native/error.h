#pragma once
#include <napi.h>

#include <string>

// Throws Node's system-error shape: an Error whose `code` is the errno's name,
// `errno` the negative errno and `syscall` the call that failed. Pass errno
// straight from the failing call, before anything else can change it.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);

// That error as a value, with a message of our own, to add properties to
// before throwing.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& message);

// The errno's name: "EINVAL", "EBADFD", "ENOTSUPP" (524)…
std::string ErrnoName(int err);

// That error with the message "<syscall> failed: <CODE> (<why>)".
Napi::Error ErrnoErrorWhy(Napi::Env env, int err, const char* syscall, const std::string& why);

[[noreturn]] inline void ThrowErrnoWhy(Napi::Env env, int err, const char* syscall, const std::string& why) {
  throw ErrnoErrorWhy(env, err, syscall, why);
}

// The errno of a library call documented to return one: rdma-core returns it
// positive, but providers pass some through negated (rxe's post_send does).
inline int ReturnedErrno(int rc) { return rc < 0 ? -rc : rc; }

// errno after a library call returned null or -1. One that failed without
// setting it gets EIO rather than an error with code "0".
int FailedErrno();

// Throws a TypeError for an argument JS got wrong.
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
