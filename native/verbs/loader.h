#pragma once
#include <napi.h>

#include "abi.h"

// libibverbs' exported entry points, resolved at the symbol versions a program
// built against rdma-core's headers binds to.
struct Verbs {
  ibv::device** (*get_device_list)(int* num_devices);
  void (*free_device_list)(ibv::device** list);
  const char* (*get_device_name)(ibv::device* device);
  uint64_t (*get_device_guid)(ibv::device* device);
  ibv::context* (*open_device)(ibv::device* device);
  int (*close_device)(ibv::context* context);
  int (*query_device)(ibv::context* context, ibv::device_attr* attr);
  // The pre-1.2 entry point that verbs.h's inline ibv_query_port falls back to.
  int (*query_port)(ibv::context* context, uint8_t port_num, ibv::port_attr* attr);
  int (*query_gid)(ibv::context* context, uint8_t port_num, int index, ibv::gid* gid);
  int (*get_async_event)(ibv::context* context, ibv::async_event* event);
  void (*ack_async_event)(ibv::async_event* event);
  ibv::pd* (*alloc_pd)(ibv::context* context);
  int (*dealloc_pd)(ibv::pd* pd);
  ibv::mr* (*reg_mr)(ibv::pd* pd, void* addr, size_t length, int access);
  // Null in libibverbs older than rdma-core 34.
  ibv::mr* (*reg_dmabuf_mr)(ibv::pd* pd, uint64_t offset, size_t length, uint64_t iova, int fd, int access);
  int (*dereg_mr)(ibv::mr* mr);
  ibv::comp_channel* (*create_comp_channel)(ibv::context* context);
  int (*destroy_comp_channel)(ibv::comp_channel* channel);
  ibv::cq* (*create_cq)(ibv::context* context, int cqe, void* cq_context, ibv::comp_channel* channel,
                        int comp_vector);
  int (*destroy_cq)(ibv::cq* cq);
  int (*get_cq_event)(ibv::comp_channel* channel, ibv::cq** cq, void** cq_context);
  void (*ack_cq_events)(ibv::cq* cq, unsigned int nevents);
  ibv::qp* (*create_qp)(ibv::pd* pd, ibv::qp_init_attr* attr);
  int (*modify_qp)(ibv::qp* qp, ibv::qp_attr* attr, int attr_mask);
  int (*destroy_qp)(ibv::qp* qp);
};

// Loads libibverbs.so.1 on first use, or throws ENOSYS (syscall 'dlopen')
// saying what is missing, as every verb does on a machine without rdma-core.
const Verbs& RequireVerbs(Napi::Env env);

// The entry points, once RequireVerbs has returned them.
const Verbs& LoadedVerbs();
