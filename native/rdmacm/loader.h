#pragma once
#include <napi.h>

#include "abi.h"

// librdmacm's exported entry points, resolved at the symbol versions a program
// built against rdma-core's headers binds to.
struct RdmaCm {
  rdma::event_channel* (*create_event_channel)();
  void (*destroy_event_channel)(rdma::event_channel* channel);
  int (*create_id)(rdma::event_channel* channel, rdma::cm_id** id, void* context, int ps);
  int (*destroy_id)(rdma::cm_id* id);
  int (*bind_addr)(rdma::cm_id* id, sockaddr* addr);
  int (*listen)(rdma::cm_id* id, int backlog);
  int (*resolve_addr)(rdma::cm_id* id, sockaddr* src, sockaddr* dst, int timeout_ms);
  int (*resolve_route)(rdma::cm_id* id, int timeout_ms);
  int (*create_qp)(rdma::cm_id* id, ibv::pd* pd, ibv::qp_init_attr* attr);
  void (*destroy_qp)(rdma::cm_id* id);
  int (*connect)(rdma::cm_id* id, rdma::conn_param* param);
  int (*accept)(rdma::cm_id* id, rdma::conn_param* param);
  int (*reject)(rdma::cm_id* id, const void* private_data, uint8_t private_data_len);
  int (*disconnect)(rdma::cm_id* id);
  int (*get_cm_event)(rdma::event_channel* channel, rdma::cm_event** event);
  int (*ack_cm_event)(rdma::cm_event* event);
  ibv::context** (*get_devices)(int* num_devices);
  void (*free_devices)(ibv::context** list);
};

// Loads librdmacm.so.1 on first use, or throws ENOSYS (syscall 'dlopen')
// saying what is missing, as every rdma_cm call does on a machine without it.
const RdmaCm& RequireRdmaCm(Napi::Env env);

// The entry points, once RequireRdmaCm has returned them.
const RdmaCm& LoadedRdmaCm();
