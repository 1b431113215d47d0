// Compiled (never linked) by scripts/check-verbs-abi.sh where rdma-core's
// headers are installed: abi.h must lay out every struct and value the addon
// uses exactly as <infiniband/verbs.h> does. Each CHECK_* line is one check.
#include <infiniband/verbs.h>

#include <cstddef>
#include <utility>

#include "abi.h"

#define CHECK_SIZE(T)                                                                       \
  static_assert(sizeof(ibv::T) == sizeof(::ibv_##T) && alignof(ibv::T) == alignof(::ibv_##T), \
                "sizeof ibv_" #T)
#define CHECK_FIELD_AS(T, MINE, THEIRS)                                               \
  static_assert(offsetof(ibv::T, MINE) == offsetof(::ibv_##T, THEIRS) &&            \
                    sizeof(std::declval<ibv::T&>().MINE) == sizeof(std::declval<::ibv_##T&>().THEIRS), \
                "ibv_" #T "." #THEIRS)
#define CHECK_FIELD(T, F) CHECK_FIELD_AS(T, F, F)
#define CHECK_VALUE(NAME) static_assert(static_cast<int>(ibv::NAME) == static_cast<int>(IBV_##NAME), "IBV_" #NAME)
// verbs_context has no ibv_ prefix.
#define CHECK_VCTX_SIZE() static_assert(sizeof(ibv::verbs_context) == sizeof(::verbs_context), "sizeof verbs_context")
#define CHECK_VCTX_FIELD(F) \
  static_assert(offsetof(ibv::verbs_context, F) == offsetof(::verbs_context, F), "verbs_context." #F)

CHECK_SIZE(device);
CHECK_FIELD(device, node_type);
CHECK_FIELD(device, transport_type);
CHECK_FIELD(device, name);
CHECK_FIELD(device, ibdev_path);

CHECK_SIZE(gid);
CHECK_FIELD(gid, raw);
CHECK_FIELD(gid, global.interface_id);

CHECK_SIZE(device_attr);
CHECK_FIELD(device_attr, fw_ver);
CHECK_FIELD(device_attr, max_mr_size);
CHECK_FIELD(device_attr, page_size_cap);
CHECK_FIELD(device_attr, vendor_id);
CHECK_FIELD(device_attr, vendor_part_id);
CHECK_FIELD(device_attr, hw_ver);
CHECK_FIELD(device_attr, max_qp);
CHECK_FIELD(device_attr, max_qp_wr);
CHECK_FIELD(device_attr, device_cap_flags);
CHECK_FIELD(device_attr, max_sge);
CHECK_FIELD(device_attr, max_cq);
CHECK_FIELD(device_attr, max_cqe);
CHECK_FIELD(device_attr, max_mr);
CHECK_FIELD(device_attr, max_pd);
CHECK_FIELD(device_attr, max_qp_rd_atom);
CHECK_FIELD(device_attr, max_qp_init_rd_atom);
CHECK_FIELD(device_attr, atomic_cap);
CHECK_FIELD(device_attr, max_srq_sge);
CHECK_FIELD(device_attr, phys_port_cnt);

CHECK_SIZE(odp_caps);
CHECK_SIZE(device_attr_ex);
CHECK_FIELD(device_attr_ex, orig_attr);
CHECK_FIELD(device_attr_ex, odp_caps.general_caps);
CHECK_FIELD(device_attr_ex, odp_caps.per_transport_caps.rc_odp_caps);
CHECK_FIELD(device_attr_ex, rss_caps);
CHECK_FIELD(device_attr_ex, tm_caps);
CHECK_FIELD(device_attr_ex, max_dm_size);
CHECK_FIELD(device_attr_ex, pci_atomic_caps);
CHECK_FIELD(device_attr_ex, phys_port_cnt_ex);

CHECK_SIZE(port_attr);
CHECK_FIELD(port_attr, state);
CHECK_FIELD(port_attr, max_mtu);
CHECK_FIELD(port_attr, active_mtu);
CHECK_FIELD(port_attr, gid_tbl_len);
CHECK_FIELD(port_attr, lid);
CHECK_FIELD(port_attr, active_width);
CHECK_FIELD(port_attr, active_speed);
CHECK_FIELD(port_attr, link_layer);
CHECK_FIELD(port_attr, port_cap_flags2);

CHECK_SIZE(async_event);
CHECK_FIELD(async_event, element.cq);
CHECK_FIELD(async_event, element.qp);
CHECK_FIELD(async_event, element.port_num);
CHECK_FIELD(async_event, event_type);

CHECK_SIZE(wc);
CHECK_FIELD(wc, wr_id);
CHECK_FIELD(wc, status);
CHECK_FIELD(wc, opcode);
CHECK_FIELD(wc, vendor_err);
CHECK_FIELD(wc, byte_len);
CHECK_FIELD(wc, imm_data);
CHECK_FIELD(wc, qp_num);
CHECK_FIELD(wc, src_qp);
CHECK_FIELD(wc, wc_flags);
CHECK_FIELD(wc, dlid_path_bits);

CHECK_SIZE(pd);
CHECK_FIELD(pd, context);

CHECK_SIZE(mr);
CHECK_FIELD(mr, context);
CHECK_FIELD(mr, addr);
CHECK_FIELD(mr, length);
CHECK_FIELD(mr, lkey);
CHECK_FIELD(mr, rkey);

CHECK_SIZE(global_route);
CHECK_FIELD(global_route, dgid);
CHECK_FIELD(global_route, sgid_index);
CHECK_FIELD(global_route, hop_limit);

CHECK_SIZE(ah_attr);
CHECK_FIELD(ah_attr, grh);
CHECK_FIELD(ah_attr, dlid);
CHECK_FIELD(ah_attr, is_global);
CHECK_FIELD(ah_attr, port_num);

CHECK_SIZE(qp_cap);
CHECK_FIELD(qp_cap, max_send_wr);
CHECK_FIELD(qp_cap, max_recv_wr);
CHECK_FIELD(qp_cap, max_send_sge);
CHECK_FIELD(qp_cap, max_recv_sge);
CHECK_FIELD(qp_cap, max_inline_data);

CHECK_SIZE(qp_init_attr);
CHECK_FIELD(qp_init_attr, qp_context);
CHECK_FIELD(qp_init_attr, send_cq);
CHECK_FIELD(qp_init_attr, recv_cq);
CHECK_FIELD(qp_init_attr, srq);
CHECK_FIELD(qp_init_attr, cap);
CHECK_FIELD(qp_init_attr, qp_type);
CHECK_FIELD(qp_init_attr, sq_sig_all);

CHECK_SIZE(qp_attr);
CHECK_FIELD(qp_attr, qp_state);
CHECK_FIELD(qp_attr, path_mtu);
CHECK_FIELD(qp_attr, rq_psn);
CHECK_FIELD(qp_attr, sq_psn);
CHECK_FIELD(qp_attr, dest_qp_num);
CHECK_FIELD(qp_attr, qp_access_flags);
CHECK_FIELD(qp_attr, ah_attr);
CHECK_FIELD(qp_attr, pkey_index);
CHECK_FIELD(qp_attr, max_rd_atomic);
CHECK_FIELD(qp_attr, max_dest_rd_atomic);
CHECK_FIELD(qp_attr, min_rnr_timer);
CHECK_FIELD(qp_attr, port_num);
CHECK_FIELD(qp_attr, timeout);
CHECK_FIELD(qp_attr, retry_cnt);
CHECK_FIELD(qp_attr, rnr_retry);
CHECK_FIELD(qp_attr, rate_limit);

CHECK_SIZE(sge);
CHECK_FIELD(sge, addr);
CHECK_FIELD(sge, length);
CHECK_FIELD(sge, lkey);

CHECK_SIZE(send_wr);
CHECK_FIELD(send_wr, wr_id);
CHECK_FIELD(send_wr, next);
CHECK_FIELD(send_wr, sg_list);
CHECK_FIELD(send_wr, num_sge);
CHECK_FIELD(send_wr, opcode);
CHECK_FIELD(send_wr, send_flags);
CHECK_FIELD(send_wr, imm_data);
CHECK_FIELD(send_wr, wr.rdma.remote_addr);
CHECK_FIELD(send_wr, wr.rdma.rkey);
CHECK_FIELD(send_wr, wr.ud.ah);
CHECK_FIELD_AS(send_wr, bind_mw_or_tso, bind_mw);

CHECK_SIZE(recv_wr);
CHECK_FIELD(recv_wr, wr_id);
CHECK_FIELD(recv_wr, next);
CHECK_FIELD(recv_wr, sg_list);
CHECK_FIELD(recv_wr, num_sge);

CHECK_SIZE(comp_channel);
CHECK_FIELD(comp_channel, fd);

CHECK_SIZE(cq);
CHECK_FIELD(cq, context);
CHECK_FIELD(cq, cq_context);

CHECK_SIZE(qp);
CHECK_FIELD(qp, context);
CHECK_FIELD(qp, qp_context);
CHECK_FIELD(qp, qp_num);
CHECK_FIELD(qp, qp_type);

CHECK_SIZE(context_ops);
CHECK_FIELD(context_ops, poll_cq);
CHECK_FIELD(context_ops, req_notify_cq);
CHECK_FIELD(context_ops, post_send);
CHECK_FIELD(context_ops, post_recv);

CHECK_SIZE(context);
CHECK_FIELD(context, device);
CHECK_FIELD(context, ops);
CHECK_FIELD(context, async_fd);
CHECK_FIELD(context, abi_compat);

CHECK_VCTX_SIZE();
CHECK_VCTX_FIELD(query_port);
CHECK_VCTX_FIELD(query_device_ex);
CHECK_VCTX_FIELD(_ABI_placeholder3);
CHECK_VCTX_FIELD(sz);
CHECK_VCTX_FIELD(context);

CHECK_VALUE(WR_RDMA_WRITE);
CHECK_VALUE(WR_RDMA_WRITE_WITH_IMM);
CHECK_VALUE(WR_SEND);
CHECK_VALUE(WR_SEND_WITH_IMM);
CHECK_VALUE(WR_RDMA_READ);
CHECK_VALUE(WR_LOCAL_INV);
CHECK_VALUE(WR_SEND_WITH_INV);
CHECK_VALUE(SEND_INLINE);
CHECK_VALUE(QPT_RC);
CHECK_VALUE(QPT_UC);
CHECK_VALUE(EVENT_CQ_ERR);
CHECK_VALUE(EVENT_QP_FATAL);
CHECK_VALUE(EVENT_QP_REQ_ERR);
CHECK_VALUE(EVENT_QP_ACCESS_ERR);
CHECK_VALUE(EVENT_COMM_EST);
CHECK_VALUE(EVENT_SQ_DRAINED);
CHECK_VALUE(EVENT_PATH_MIG);
CHECK_VALUE(EVENT_PATH_MIG_ERR);
CHECK_VALUE(EVENT_PORT_ACTIVE);
CHECK_VALUE(EVENT_PORT_ERR);
CHECK_VALUE(EVENT_LID_CHANGE);
CHECK_VALUE(EVENT_PKEY_CHANGE);
CHECK_VALUE(EVENT_SM_CHANGE);
CHECK_VALUE(EVENT_QP_LAST_WQE_REACHED);
CHECK_VALUE(EVENT_CLIENT_REREGISTER);
CHECK_VALUE(EVENT_GID_CHANGE);
