#pragma once
// The part of libibverbs' public ABI this addon uses, declared here because
// rdma-core's headers are not needed to build (libibverbs is dlopen'ed at run
// time). Names are those of <infiniband/verbs.h> without the ibv_ prefix;
// layouts are rdma-core 44's, which keeps them stable (only verbs_context
// grows, at its front). scripts/check-verbs-abi.sh compares every struct and
// constant below with the real header.
#include <pthread.h>

#include <cstddef>
#include <cstdint>

namespace ibv {

struct context;
struct cq;
struct qp;
struct pd;

struct device {
  void* _ops[2];
  int node_type;
  int transport_type;
  char name[64];
  char dev_name[64];
  char dev_path[256];
  char ibdev_path[256];
};

union gid {
  uint8_t raw[16];
  struct {
    uint64_t subnet_prefix;
    uint64_t interface_id;
  } global;
};

struct device_attr {
  char fw_ver[64];
  uint64_t node_guid;
  uint64_t sys_image_guid;
  uint64_t max_mr_size;
  uint64_t page_size_cap;
  uint32_t vendor_id;
  uint32_t vendor_part_id;
  uint32_t hw_ver;
  int max_qp;
  int max_qp_wr;
  unsigned int device_cap_flags;
  int max_sge;
  int max_sge_rd;
  int max_cq;
  int max_cqe;
  int max_mr;
  int max_pd;
  int max_qp_rd_atom;
  int max_ee_rd_atom;
  int max_res_rd_atom;
  int max_qp_init_rd_atom;
  int max_ee_init_rd_atom;
  int atomic_cap;
  int max_ee;
  int max_rdd;
  int max_mw;
  int max_raw_ipv6_qp;
  int max_raw_ethy_qp;
  int max_mcast_grp;
  int max_mcast_qp_attach;
  int max_total_mcast_qp_attach;
  int max_ah;
  int max_fmr;
  int max_map_per_fmr;
  int max_srq;
  int max_srq_wr;
  int max_srq_sge;
  uint16_t max_pkeys;
  uint8_t local_ca_ack_delay;
  uint8_t phys_port_cnt;
};

struct odp_caps {
  uint64_t general_caps;
  struct {
    uint32_t rc_odp_caps;
    uint32_t uc_odp_caps;
    uint32_t ud_odp_caps;
  } per_transport_caps;
};

// Declared whole so that the size query_device_ex is told is rdma-core 44's.
struct device_attr_ex {
  device_attr orig_attr;
  uint32_t comp_mask;
  struct odp_caps odp_caps;
  uint64_t completion_timestamp_mask;
  uint64_t hca_core_clock;
  uint64_t device_cap_flags_ex;
  struct {
    uint32_t max_tso;
    uint32_t supported_qpts;
  } tso_caps;
  struct {
    uint32_t supported_qpts;
    uint32_t max_rwq_indirection_tables;
    uint32_t max_rwq_indirection_table_size;
    uint64_t rx_hash_fields_mask;
    uint8_t rx_hash_function;
  } rss_caps;
  uint32_t max_wq_type_rq;
  struct {
    uint32_t qp_rate_limit_min;
    uint32_t qp_rate_limit_max;
    uint32_t supported_qpts;
  } packet_pacing_caps;
  uint32_t raw_packet_caps;
  struct {
    uint32_t max_rndv_hdr_size;
    uint32_t max_num_tags;
    uint32_t flags;
    uint32_t max_ops;
    uint32_t max_sge;
  } tm_caps;
  struct {
    uint16_t max_cq_count;
    uint16_t max_cq_period;
  } cq_mod_caps;
  uint64_t max_dm_size;
  struct {
    uint16_t fetch_add;
    uint16_t swap;
    uint16_t compare_swap;
  } pci_atomic_caps;
  uint32_t xrc_odp_caps;
  uint32_t phys_port_cnt_ex;
};

struct port_attr {
  int state;
  int max_mtu;
  int active_mtu;
  int gid_tbl_len;
  uint32_t port_cap_flags;
  uint32_t max_msg_sz;
  uint32_t bad_pkey_cntr;
  uint32_t qkey_viol_cntr;
  uint16_t pkey_tbl_len;
  uint16_t lid;
  uint16_t sm_lid;
  uint8_t lmc;
  uint8_t max_vl_num;
  uint8_t sm_sl;
  uint8_t subnet_timeout;
  uint8_t init_type_reply;
  uint8_t active_width;
  uint8_t active_speed;
  uint8_t phys_state;
  uint8_t link_layer;
  uint8_t flags;
  uint16_t port_cap_flags2;
};

struct async_event {
  union {
    struct cq* cq;
    struct qp* qp;
    void* srq;
    void* wq;
    int port_num;
  } element;
  int event_type;
};

struct wc {
  uint64_t wr_id;
  int status;
  int opcode;
  uint32_t vendor_err;
  uint32_t byte_len;
  union {
    uint32_t imm_data;  // network byte order
    uint32_t invalidated_rkey;
  };
  uint32_t qp_num;
  uint32_t src_qp;
  unsigned int wc_flags;
  uint16_t pkey_index;
  uint16_t slid;
  uint8_t sl;
  uint8_t dlid_path_bits;
};

struct pd {
  struct context* context;
  uint32_t handle;
};

struct mr {
  struct context* context;
  struct pd* pd;
  void* addr;
  size_t length;
  uint32_t handle;
  uint32_t lkey;
  uint32_t rkey;
};

struct global_route {
  gid dgid;
  uint32_t flow_label;
  uint8_t sgid_index;
  uint8_t hop_limit;
  uint8_t traffic_class;
};

struct ah_attr {
  global_route grh;
  uint16_t dlid;
  uint8_t sl;
  uint8_t src_path_bits;
  uint8_t static_rate;
  uint8_t is_global;
  uint8_t port_num;
};

struct qp_cap {
  uint32_t max_send_wr;
  uint32_t max_recv_wr;
  uint32_t max_send_sge;
  uint32_t max_recv_sge;
  uint32_t max_inline_data;
};

struct qp_init_attr {
  void* qp_context;
  cq* send_cq;
  cq* recv_cq;
  void* srq;
  qp_cap cap;
  int qp_type;
  int sq_sig_all;
};

struct qp_attr {
  int qp_state;
  int cur_qp_state;
  int path_mtu;
  int path_mig_state;
  uint32_t qkey;
  uint32_t rq_psn;
  uint32_t sq_psn;
  uint32_t dest_qp_num;
  unsigned int qp_access_flags;
  qp_cap cap;
  struct ah_attr ah_attr;
  struct ah_attr alt_ah_attr;
  uint16_t pkey_index;
  uint16_t alt_pkey_index;
  uint8_t en_sqd_async_notify;
  uint8_t sq_draining;
  uint8_t max_rd_atomic;
  uint8_t max_dest_rd_atomic;
  uint8_t min_rnr_timer;
  uint8_t port_num;
  uint8_t timeout;
  uint8_t retry_cnt;
  uint8_t rnr_retry;
  uint8_t alt_port_num;
  uint8_t alt_timeout;
  uint32_t rate_limit;
};

struct sge {
  uint64_t addr;
  uint32_t length;
  uint32_t lkey;
};

struct mw_bind_info {
  void* mr;
  uint64_t addr;
  uint64_t length;
  unsigned int mw_access_flags;
};

struct send_wr {
  uint64_t wr_id;
  send_wr* next;
  sge* sg_list;
  int num_sge;
  int opcode;
  unsigned int send_flags;
  union {
    uint32_t imm_data;  // network byte order
    uint32_t invalidate_rkey;
  };
  union {
    struct {
      uint64_t remote_addr;
      uint32_t rkey;
    } rdma;
    struct {
      uint64_t remote_addr;
      uint64_t compare_add;
      uint64_t swap;
      uint32_t rkey;
    } atomic;
    struct {
      void* ah;
      uint32_t remote_qpn;
      uint32_t remote_qkey;
    } ud;
  } wr;
  union {
    struct {
      uint32_t remote_srqn;
    } xrc;
  } qp_type;
  // Never filled here; declared for the size of the array a chain lives in.
  union {
    struct {
      void* mw;
      uint32_t rkey;
      mw_bind_info bind_info;
    } bind_mw;
    struct {
      void* hdr;
      uint16_t hdr_sz;
      uint16_t mss;
    } tso;
  } bind_mw_or_tso;
};

struct recv_wr {
  uint64_t wr_id;
  recv_wr* next;
  sge* sg_list;
  int num_sge;
};

struct comp_channel {
  struct context* context;
  int fd;
  int refcnt;
};

struct cq {
  struct context* context;
  comp_channel* channel;
  void* cq_context;
  uint32_t handle;
  int cqe;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  uint32_t comp_events_completed;
  uint32_t async_events_completed;
};

struct qp {
  struct context* context;
  void* qp_context;
  struct pd* pd;
  cq* send_cq;
  cq* recv_cq;
  void* srq;
  uint32_t handle;
  uint32_t qp_num;
  int state;
  int qp_type;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  uint32_t events_completed;
};

// The data-path verbs are static inlines in verbs.h that call through here.
struct context_ops {
  void* _compat_query_device;
  void* _compat_query_port;
  void* _compat_alloc_pd;
  void* _compat_dealloc_pd;
  void* _compat_reg_mr;
  void* _compat_rereg_mr;
  void* _compat_dereg_mr;
  void* alloc_mw;
  void* bind_mw;
  void* dealloc_mw;
  void* _compat_create_cq;
  int (*poll_cq)(cq* cq, int num_entries, wc* wc);
  int (*req_notify_cq)(cq* cq, int solicited_only);
  void* _compat_cq_event;
  void* _compat_resize_cq;
  void* _compat_destroy_cq;
  void* _compat_create_srq;
  void* _compat_modify_srq;
  void* _compat_query_srq;
  void* _compat_destroy_srq;
  void* post_srq_recv;
  void* _compat_create_qp;
  void* _compat_query_qp;
  void* _compat_modify_qp;
  void* _compat_destroy_qp;
  int (*post_send)(qp* qp, send_wr* wr, send_wr** bad_wr);
  int (*post_recv)(qp* qp, recv_wr* wr, recv_wr** bad_wr);
  void* _compat_create_ah;
  void* _compat_destroy_ah;
  void* _compat_attach_mcast;
  void* _compat_detach_mcast;
  void* _compat_async_event;
};

struct context {
  struct device* device;
  context_ops ops;
  int cmd_fd;
  int async_fd;
  int num_comp_vectors;
  pthread_mutex_t mutex;
  void* abi_compat;
};

// The tail of the provider's extended context, which sits right before the
// ibv_context it hands out. Newer rdma-core adds members only at the front, so
// offsets from the end hold; `sz` says how far back this provider's goes.
struct verbs_context {
  int (*query_port)(struct context* ctx, uint8_t port_num, port_attr* attr, size_t attr_len);
  void* advise_mr_to_priv[26];
  int (*query_device_ex)(struct context* ctx, const void* input, device_attr_ex* attr, size_t attr_size);
  void* ibv_destroy_flow_to_close_xrcd[10];
  uint64_t _ABI_placeholder3;
  size_t sz;
  struct context context;
};

// The first half of verbs_get_ctx_op(): the extended context, if the provider
// has one reaching back to the member at `offset` (an offsetof(verbs_context,
// …)); the caller checks that member for null.
inline verbs_context* Extended(context* ctx, size_t offset) {
  // __VERBS_ABI_IS_EXTENDED marks a context that is part of a verbs_context.
  if (reinterpret_cast<uintptr_t>(ctx->abi_compat) != UINTPTR_MAX) return nullptr;
  auto* vctx = reinterpret_cast<verbs_context*>(reinterpret_cast<uint8_t*>(ctx) - offsetof(verbs_context, context));
  return vctx->sz < sizeof(verbs_context) - offset ? nullptr : vctx;
}

// Enum values used in C++ (the rest pass through from JS as numbers).
enum : int {
  WR_RDMA_WRITE = 0,
  WR_RDMA_WRITE_WITH_IMM = 1,
  WR_SEND = 2,
  WR_SEND_WITH_IMM = 3,
  WR_RDMA_READ = 4,
  WR_LOCAL_INV = 7,
  WR_SEND_WITH_INV = 9,
  SEND_INLINE = 1 << 3,
  QPT_RC = 2,
  QPT_UC = 3,
  EVENT_CQ_ERR = 0,
  EVENT_QP_FATAL = 1,
  EVENT_QP_REQ_ERR = 2,
  EVENT_QP_ACCESS_ERR = 3,
  EVENT_COMM_EST = 4,
  EVENT_SQ_DRAINED = 5,
  EVENT_PATH_MIG = 6,
  EVENT_PATH_MIG_ERR = 7,
  EVENT_PORT_ACTIVE = 9,
  EVENT_PORT_ERR = 10,
  EVENT_LID_CHANGE = 11,
  EVENT_PKEY_CHANGE = 12,
  EVENT_SM_CHANGE = 13,
  EVENT_QP_LAST_WQE_REACHED = 16,
  EVENT_CLIENT_REREGISTER = 17,
  EVENT_GID_CHANGE = 18,
};

}  // namespace ibv
