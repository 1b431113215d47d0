#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

// Argument checks for the verbs, on top of ../args.h: each throws a TypeError
// naming the argument.

// An integer Number in [0, max], for fields narrower than a JS number.
uint32_t UintArg(const Napi::Value& v, const std::string& name, uint32_t max);
bool BoolArg(const Napi::Value& v, const std::string& name);

// The elements of a BigUint64Array, read and written in place.
struct Words {
  uint64_t* data;
  size_t length;
};
Words WordsArg(const Napi::Value& v, const char* name);
