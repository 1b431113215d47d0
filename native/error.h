#pragma once
#include <napi.h>

// Throws Node's system-error shape: an Error whose `code` is the errno's name,
// `errno` the negative errno and `syscall` the call that failed. Pass errno
// straight from the failing call, before anything else can change it.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);

// That error as a value, with a message of our own, to add properties to
// before throwing.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& message);

// The errno's name: "EINVAL", "EBADFD", "ENOTSUPP" (524)…
std::string ErrnoName(int err);

// Throws a TypeError for an argument JS got wrong.
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
