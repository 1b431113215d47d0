#pragma once
#include <napi.h>
#include <sys/socket.h>

#include <cstdint>

#include "abi.h"

// The connection manager's arguments and results: addresses as JS's
// RdmaAddress ({host, port}, host a numeric IPv4 or IPv6 address) and
// connection parameters as RdmaConnParam.

// A TypeError naming `name` where host is not a numeric address (nothing here
// resolves names) or port not in [0, 65535].
sockaddr_storage AddressArg(const Napi::Value& v, const char* name);

// {host, port} of an address librdmacm filled in; '0.0.0.0' port 0 where it
// holds none yet.
Napi::Object AddressValue(Napi::Env env, const sockaddr& address);

// Private data, copied out of the JS Uint8Array when read: a later getter
// could detach or shrink the array's buffer before the call sends it. EINVAL
// (with `syscall`) for more than its one-byte length can say.
struct PrivateData {
  uint8_t bytes[UINT8_MAX];
  uint8_t length;
  const void* data() const { return length ? bytes : nullptr; }
};
PrivateData PrivateDataArg(const Napi::Value& v, const char* name, const char* syscall);

// An rdma_conn_param with its own copy of the private data.
struct ConnParam {
  rdma::conn_param param;
  PrivateData private_data;
  // The param, pointing at this copy (good while this ConnParam lives).
  rdma::conn_param* get() {
    param.private_data = private_data.data();
    param.private_data_len = private_data.length;
    return &param;
  }
};
ConnParam ConnParamArg(const Napi::Value& v, const char* syscall);

// A copy of the private data an event carries.
Napi::Uint8Array PrivateDataValue(Napi::Env env, const void* data, uint8_t length);
