#include "../bindings.h"
#include "exports.h"

void InitRdmaCm(Napi::Env env, Napi::Object exports) {
  InitRdmaCmChannel(env, exports);
  InitRdmaCmEvents(env, exports);
  InitRdmaCmId(env, exports);
  InitRdmaCmConnect(env, exports);
  InitRdmaCmQp(env, exports);
}
