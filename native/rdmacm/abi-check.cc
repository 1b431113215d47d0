// Compiled (never linked) by scripts/check-verbs-abi.sh where librdmacm-dev
// is installed: abi.h must lay out every struct and value the addon uses
// exactly as <rdma/rdma_cma.h> does. Each CHECK_* line is one check.
#include <rdma/rdma_cma.h>

#include <cstddef>
#include <utility>

#include "abi.h"

#define CHECK_SIZE(T)                                                                        \
  static_assert(sizeof(rdma::T) == sizeof(::rdma_##T) && alignof(rdma::T) == alignof(::rdma_##T), \
                "sizeof rdma_" #T)
#define CHECK_FIELD(T, F)                                                              \
  static_assert(offsetof(rdma::T, F) == offsetof(::rdma_##T, F) &&                   \
                    sizeof(std::declval<rdma::T&>().F) == sizeof(std::declval<::rdma_##T&>().F), \
                "rdma_" #T "." #F)
#define CHECK_VALUE(NAME) static_assert(static_cast<int>(rdma::NAME) == static_cast<int>(RDMA_##NAME), "RDMA_" #NAME)

CHECK_SIZE(event_channel);
CHECK_FIELD(event_channel, fd);

CHECK_SIZE(ib_addr);
CHECK_FIELD(ib_addr, sgid);
CHECK_FIELD(ib_addr, dgid);
CHECK_FIELD(ib_addr, pkey);

CHECK_SIZE(addr);
CHECK_FIELD(addr, src_addr);
CHECK_FIELD(addr, src_storage);
CHECK_FIELD(addr, dst_addr);
CHECK_FIELD(addr, dst_storage);
CHECK_FIELD(addr, addr.ibaddr);

CHECK_SIZE(route);
CHECK_FIELD(route, addr);
CHECK_FIELD(route, path_rec);
CHECK_FIELD(route, num_paths);

CHECK_SIZE(cm_id);
CHECK_FIELD(cm_id, verbs);
CHECK_FIELD(cm_id, channel);
CHECK_FIELD(cm_id, context);
CHECK_FIELD(cm_id, qp);
CHECK_FIELD(cm_id, route);
CHECK_FIELD(cm_id, ps);
CHECK_FIELD(cm_id, port_num);
CHECK_FIELD(cm_id, event);
CHECK_FIELD(cm_id, pd);
CHECK_FIELD(cm_id, qp_type);

CHECK_SIZE(conn_param);
CHECK_FIELD(conn_param, private_data);
CHECK_FIELD(conn_param, private_data_len);
CHECK_FIELD(conn_param, responder_resources);
CHECK_FIELD(conn_param, initiator_depth);
CHECK_FIELD(conn_param, flow_control);
CHECK_FIELD(conn_param, retry_count);
CHECK_FIELD(conn_param, rnr_retry_count);
CHECK_FIELD(conn_param, srq);
CHECK_FIELD(conn_param, qp_num);

CHECK_SIZE(ud_param);
CHECK_FIELD(ud_param, private_data);
CHECK_FIELD(ud_param, private_data_len);

CHECK_SIZE(cm_event);
CHECK_FIELD(cm_event, id);
CHECK_FIELD(cm_event, listen_id);
CHECK_FIELD(cm_event, event);
CHECK_FIELD(cm_event, status);
CHECK_FIELD(cm_event, param.conn);
CHECK_FIELD(cm_event, param.ud);

CHECK_VALUE(CM_EVENT_CONNECT_REQUEST);
CHECK_VALUE(CM_EVENT_ESTABLISHED);
CHECK_VALUE(PS_TCP);
CHECK_VALUE(PS_UDP);
CHECK_VALUE(PS_IPOIB);
