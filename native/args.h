#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

// Argument checks shared by every binding. Each throws a TypeError naming the
// argument, so nothing JS passes reaches a syscall unchecked.

// An integer Number in int32 range (fds, whence).
int32_t Int32Arg(const Napi::Value& v, const char* name);
// An integer Number in [-2^31, 2^32): flags and handles, where JS's bitwise
// operators may hand over the same bits as a negative int32.
uint32_t Uint32Arg(const Napi::Value& v, const char* name);
// A non-negative safe-integer Number (byte lengths).
size_t SizeArg(const Napi::Value& v, const char* name);
// BigInts that must fit the kernel's u64 / s64 exactly.
uint64_t U64Arg(const Napi::Value& v, const char* name);
int64_t I64Arg(const Napi::Value& v, const char* name);
// A string without NUL characters, as UTF-8.
std::string StringArg(const Napi::Value& v, const char* name);
Napi::Function FunctionArg(const Napi::Value& v, const char* name);
Napi::Object ObjectArg(const Napi::Value& v, const char* name);
// An integer Number in [0, max], for fields narrower than a JS number.
uint32_t UintArg(const Napi::Value& v, const std::string& name, uint32_t max);
bool BoolArg(const Napi::Value& v, const std::string& name);

// The elements of a BigUint64Array, read and written in place.
struct Words {
  uint64_t* data;
  size_t length;
};
// At least `min_length` of them.
Words WordsArg(const Napi::Value& v, const char* name, size_t min_length = 0);
// A BigUint64Array over a SharedArrayBuffer, whose memory JS can neither
// detach nor shrink: the addon may keep writing there while it holds `buffer`.
struct SharedWords {
  Words words;
  napi_value buffer;
};
SharedWords SharedWordsArg(const Napi::Value& v, const char* name);
