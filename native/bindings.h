#pragma once
#include <napi.h>

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

inline void Export(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  Put(exports, name, Napi::Function::New(env, fn, name));
}
