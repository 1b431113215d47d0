#include "args.h"

#include <cmath>

#include "error.h"

namespace {

double IntegerArg(const Napi::Value& v, const char* name, double min, double max, const char* range) {
  if (!v.IsNumber()) ThrowTypeError(v.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(std::trunc(d) == d && d >= min && d <= max)) {
    ThrowTypeError(v.Env(), std::string(name) + " must be an integer in " + range);
  }
  return d;
}

}  // namespace

int32_t Int32Arg(const Napi::Value& v, const char* name) {
  return static_cast<int32_t>(IntegerArg(v, name, -2147483648.0, 2147483647.0, "int32 range"));
}

uint32_t Uint32Arg(const Napi::Value& v, const char* name) {
  double d = IntegerArg(v, name, -2147483648.0, 4294967295.0, "[-2^31, 2^32)");
  return d < 0 ? static_cast<uint32_t>(static_cast<int32_t>(d)) : static_cast<uint32_t>(d);
}

size_t SizeArg(const Napi::Value& v, const char* name) {
  return static_cast<size_t>(IntegerArg(v, name, 0, 9007199254740991.0, "[0, 2^53)"));
}

uint64_t U64Arg(const Napi::Value& v, const char* name) {
  if (!v.IsBigInt()) ThrowTypeError(v.Env(), std::string(name) + " must be a bigint");
  bool lossless = false;
  uint64_t value = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) ThrowTypeError(v.Env(), std::string(name) + " must be a bigint in [0, 2^64)");
  return value;
}

int64_t I64Arg(const Napi::Value& v, const char* name) {
  if (!v.IsBigInt()) ThrowTypeError(v.Env(), std::string(name) + " must be a bigint");
  bool lossless = false;
  int64_t value = v.As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) ThrowTypeError(v.Env(), std::string(name) + " must be a bigint in [-2^63, 2^63)");
  return value;
}

std::string StringArg(const Napi::Value& v, const char* name) {
  if (!v.IsString()) ThrowTypeError(v.Env(), std::string(name) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) {
    ThrowTypeError(v.Env(), std::string(name) + " must not contain NUL characters");
  }
  return s;
}

Napi::Function FunctionArg(const Napi::Value& v, const char* name) {
  if (!v.IsFunction()) ThrowTypeError(v.Env(), std::string(name) + " must be a function");
  return v.As<Napi::Function>();
}

Napi::Object ObjectArg(const Napi::Value& v, const char* name) {
  if (!v.IsObject()) ThrowTypeError(v.Env(), std::string(name) + " must be an object");
  return v.As<Napi::Object>();
}

uint32_t UintArg(const Napi::Value& v, const std::string& name, uint32_t max) {
  if (!v.IsNumber()) ThrowTypeError(v.Env(), name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(std::trunc(d) == d && d >= 0 && d <= max)) {
    ThrowTypeError(v.Env(), name + " must be an integer in [0, " + std::to_string(max) + "]");
  }
  return static_cast<uint32_t>(d);
}

bool BoolArg(const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) ThrowTypeError(v.Env(), name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Words WordsArg(const Napi::Value& v, const char* name, size_t min_length) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  // napi_get_typedarray_info refuses what is not a typed array: no IsTypedArray() call first.
  if (napi_get_typedarray_info(v.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_biguint64_array || length < min_length) {
    ThrowTypeError(v.Env(), std::string(name) + " must be a BigUint64Array" +
                                (min_length ? " of at least " + std::to_string(min_length) + " words" : ""));
  }
  return {static_cast<uint64_t*>(data), length};
}

SharedWords SharedWordsArg(const Napi::Value& v, const char* name) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  bool plain = true;
  if (napi_get_typedarray_info(v.Env(), v, &type, &length, &data, &buffer, nullptr) != napi_ok ||
      type != napi_biguint64_array || napi_is_arraybuffer(v.Env(), buffer, &plain) != napi_ok || plain) {
    ThrowTypeError(v.Env(), std::string(name) + " must be a BigUint64Array over a SharedArrayBuffer");
  }
  return {{static_cast<uint64_t*>(data), length}, buffer};
}
