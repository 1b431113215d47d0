#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

// Results are built by definition, never by assignment: Napi::Object::Set
// runs any setter that a polluted Object.prototype (or Array.prototype)
// defines for the key, which is JS running mid-call, free to destroy what the
// call still uses. A defined property is a plain data property, as an object
// literal's are.

void PutValue(const Napi::Object& object, const char* key, napi_value value);

template <typename T>
void Put(const Napi::Object& object, const char* key, const T& value) {
  PutValue(object, key, Napi::Value::From(object.Env(), value));
}

template <typename T>
void Put(const Napi::Array& array, uint32_t index, const T& value) {
  PutValue(array, std::to_string(index).c_str(), Napi::Value::From(array.Env(), value));
}
