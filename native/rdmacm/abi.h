#pragma once
// The part of librdmacm's public ABI this addon uses, declared here because
// rdma-core's headers are not needed to build (librdmacm is dlopen'ed at run
// time). Names are those of <rdma/rdma_cma.h> without the rdma_ prefix;
// layouts are rdma-core 44's, which keeps them stable. scripts/check-verbs-abi.sh
// compares every struct and constant below with the real header
// (native/rdmacm/abi-check.cc).
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "../verbs/abi.h"

namespace rdma {

struct cm_event;

struct event_channel {
  int fd;
};

struct ib_addr {
  ibv::gid sgid;
  ibv::gid dgid;
  uint16_t pkey;  // network byte order
};

struct addr {
  union {
    sockaddr src_addr;
    sockaddr_in src_sin;
    sockaddr_in6 src_sin6;
    sockaddr_storage src_storage;
  };
  union {
    sockaddr dst_addr;
    sockaddr_in dst_sin;
    sockaddr_in6 dst_sin6;
    sockaddr_storage dst_storage;
  };
  union {
    ib_addr ibaddr;
  } addr;
};

struct route {
  struct addr addr;
  void* path_rec;
  int num_paths;
};

struct cm_id {
  ibv::context* verbs;
  event_channel* channel;
  // Ours: the id's handle (librdmacm hands it back untouched).
  void* context;
  ibv::qp* qp;
  struct route route;
  int ps;
  uint8_t port_num;
  cm_event* event;
  ibv::comp_channel* send_cq_channel;
  ibv::cq* send_cq;
  ibv::comp_channel* recv_cq_channel;
  ibv::cq* recv_cq;
  void* srq;
  ibv::pd* pd;
  int qp_type;
};

struct conn_param {
  const void* private_data;
  uint8_t private_data_len;
  uint8_t responder_resources;
  uint8_t initiator_depth;
  uint8_t flow_control;
  uint8_t retry_count;
  uint8_t rnr_retry_count;
  uint8_t srq;
  uint32_t qp_num;
};

struct ud_param {
  const void* private_data;
  uint8_t private_data_len;
  ibv::ah_attr ah_attr;
  uint32_t qp_num;
  uint32_t qkey;
};

struct cm_event {
  cm_id* id;
  cm_id* listen_id;
  int event;
  int status;
  union {
    conn_param conn;
    ud_param ud;
  } param;
};

// Enum values used in C++ (the rest pass through from JS as numbers).
enum : int {
  CM_EVENT_CONNECT_REQUEST = 4,
  CM_EVENT_ESTABLISHED = 9,
  PS_TCP = 0x0106,
  PS_UDP = 0x0111,
  PS_IPOIB = 0x0002,
};

}  // namespace rdma
