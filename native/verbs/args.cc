#include "args.h"

#include <cmath>

#include "../error.h"

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

Words WordsArg(const Napi::Value& v, const char* name) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (!v.IsTypedArray() ||
      napi_get_typedarray_info(v.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_biguint64_array) {
    ThrowTypeError(v.Env(), std::string(name) + " must be a BigUint64Array");
  }
  return {static_cast<uint64_t*>(data), length};
}
