#pragma once
#include <napi.h>

// Each file of verbs/ adds its functions to the addon's exports.
void InitVerbsDevice(Napi::Env env, Napi::Object exports);
void InitVerbsMr(Napi::Env env, Napi::Object exports);
void InitVerbsCq(Napi::Env env, Napi::Object exports);
void InitVerbsQp(Napi::Env env, Napi::Object exports);
void InitVerbsPost(Napi::Env env, Napi::Object exports);
void InitMemlock(Napi::Env env, Napi::Object exports);
