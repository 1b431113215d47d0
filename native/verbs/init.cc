#include "../bindings.h"
#include "exports.h"

void InitVerbs(Napi::Env env, Napi::Object exports) {
  InitVerbsDevice(env, exports);
  InitVerbsMr(env, exports);
  InitVerbsCq(env, exports);
  InitVerbsQp(env, exports);
  InitVerbsPost(env, exports);
  InitMemlock(env, exports);
}
