#pragma once
#include <napi.h>

// Each file of rdmacm/ adds its functions to the addon's exports.
void InitRdmaCmChannel(Napi::Env env, Napi::Object exports);
void InitRdmaCmEvents(Napi::Env env, Napi::Object exports);
void InitRdmaCmId(Napi::Env env, Napi::Object exports);
void InitRdmaCmConnect(Napi::Env env, Napi::Object exports);
void InitRdmaCmQp(Napi::Env env, Napi::Object exports);
