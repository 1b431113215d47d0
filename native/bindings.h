#pragma once
#include <napi.h>

#include <errno.h>

#include <new>

#include "error.h"
#include "result.h"

// Each kernel interface's file adds its functions to the addon's exports.
void InitFiles(Napi::Env env, Napi::Object exports);
void InitMemfd(Napi::Env env, Napi::Object exports);
void InitMapping(Napi::Env env, Napi::Object exports);
void InitDmaBuf(Napi::Env env, Napi::Object exports);
void InitUdmabuf(Napi::Env env, Napi::Object exports);
void InitHeap(Napi::Env env, Napi::Object exports);
void InitDrm(Napi::Env env, Napi::Object exports);
void InitSyncFile(Napi::Env env, Napi::Object exports);
void InitWatch(Napi::Env env, Napi::Object exports);
void InitCuda(Napi::Env env, Napi::Object exports);
void InitUnixSocket(Napi::Env env, Napi::Object exports);
void InitVerbs(Napi::Env env, Napi::Object exports);
void InitRdmaCm(Napi::Env env, Napi::Object exports);

// Out of memory is ENOMEM, with the function's name as syscall, rather than
// a bare std::bad_alloc without a code.
inline void Export(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  auto guarded = [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
    try {
      return fn(info);
    } catch (const std::bad_alloc&) {
      throw ErrnoErrorWhy(info.Env(), ENOMEM, name, "out of memory");
    }
  };
  Put(exports, name, Napi::Function::New(env, guarded, name));
}

// For a hot call written in raw N-API, whose wrapper would cost more than the
// call (cq.cc): runs `body` as Export's wrapper does, a C++ exception becoming
// a JS throw.
template <typename Body>
napi_value CallGuarded(napi_env env, const char* name, Body body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::bad_alloc&) {
    ErrnoErrorWhy(Napi::Env(env), ENOMEM, name, "out of memory").ThrowAsJavaScriptException();
  }
  return nullptr;
}

inline void ExportRaw(Napi::Env env, Napi::Object exports, const char* name, napi_callback fn, void* data) {
  napi_value f;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, data, &f));
  Put(exports, name, Napi::Value(env, f));
}
