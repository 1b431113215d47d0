#pragma once
#include <napi.h>
#include <sys/socket.h>

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

// An rdma_conn_param whose private_data points into the JS Uint8Array, so it
// is good for the call it is made for. EINVAL (with `syscall`) for private
// data longer than its one-byte length can say.
rdma::conn_param ConnParamArg(const Napi::Value& v, const char* syscall);

struct PrivateData {
  const void* data;
  uint8_t length;
};
PrivateData PrivateDataArg(const Napi::Value& v, const char* name, const char* syscall);

// A copy of the private data an event carries.
Napi::Uint8Array PrivateDataValue(Napi::Env env, const void* data, uint8_t length);
