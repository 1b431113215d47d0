#include "result.h"

void PutValue(const Napi::Object& object, const char* key, napi_value value) {
  napi_property_descriptor property = {key, nullptr, nullptr, nullptr, nullptr, value, napi_default_jsproperty, nullptr};
  NAPI_THROW_IF_FAILED_VOID(object.Env(), napi_define_properties(object.Env(), object, 1, &property));
}
