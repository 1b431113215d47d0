#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <string>

#include "../args.h"
#include "../error.h"

sockaddr_storage AddressArg(const Napi::Value& v, const char* name) {
  Napi::Object address = ObjectArg(v, name);
  std::string host = StringArg(address.Get("host"), (std::string(name) + ".host").c_str());
  uint16_t port = static_cast<uint16_t>(UintArg(address.Get("port"), std::string(name) + ".port", UINT16_MAX));
  sockaddr_storage storage = {};
  auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
  } else {
    ThrowTypeError(v.Env(), std::string(name) + ".host must be a numeric IPv4 or IPv6 address, not '" + host + "'");
  }
  return storage;
}

Napi::Object AddressValue(Napi::Env env, const sockaddr& address) {
  char text[INET6_ADDRSTRLEN] = "0.0.0.0";
  uint16_t port = 0;
  if (address.sa_family == AF_INET) {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
    port = ntohs(sin.sin_port);
  } else if (address.sa_family == AF_INET6) {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text);
    port = ntohs(sin6.sin6_port);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("host", text);
  result.Set("port", port);
  return result;
}

PrivateData PrivateDataArg(const Napi::Value& v, const char* name, const char* syscall) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(v.Env(), std::string(name) + " must be a Uint8Array");
  }
  Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
  if (bytes.ElementLength() > UINT8_MAX) {
    ThrowErrnoWhy(v.Env(), EINVAL, syscall,
                  std::string(name) + " is " + std::to_string(bytes.ElementLength()) +
                      " bytes; a connection message carries at most 255 (and the CM less)");
  }
  return {bytes.ElementLength() ? bytes.Data() : nullptr, static_cast<uint8_t>(bytes.ElementLength())};
}

rdma::conn_param ConnParamArg(const Napi::Value& v, const char* syscall) {
  Napi::Object p = ObjectArg(v, "param");
  PrivateData data = PrivateDataArg(p.Get("privateData"), "param.privateData", syscall);
  rdma::conn_param param = {};
  param.private_data = data.data;
  param.private_data_len = data.length;
  param.responder_resources =
      static_cast<uint8_t>(UintArg(p.Get("responderResources"), "param.responderResources", UINT8_MAX));
  param.initiator_depth = static_cast<uint8_t>(UintArg(p.Get("initiatorDepth"), "param.initiatorDepth", UINT8_MAX));
  param.retry_count = static_cast<uint8_t>(UintArg(p.Get("retryCount"), "param.retryCount", UINT8_MAX));
  param.rnr_retry_count = static_cast<uint8_t>(UintArg(p.Get("rnrRetryCount"), "param.rnrRetryCount", UINT8_MAX));
  return param;
}

Napi::Uint8Array PrivateDataValue(Napi::Env env, const void* data, uint8_t length) {
  Napi::Uint8Array result = Napi::Uint8Array::New(env, length);
  if (length) memcpy(result.Data(), data, length);
  return result;
}
