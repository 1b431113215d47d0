#pragma once
#include <cstdint>

#include "abi.h"

// The uverbs driver id of the RDMA device named `ibdev`, which every uverbs
// ioctl's header must carry (uverbs_ioctl.c refuses any other with EINVAL):
// RDMA netlink's RDMA_NLDEV_ATTR_UVERBS_DRIVER_ID, found as libibverbs finds
// it. 0 or an errno (ENODEV where netlink does not name the device).
int UverbsDriverId(const char* ibdev, uint32_t* driver_id);

// The kernel's UVERBS_METHOD_ADVISE_MR for one SGE, on a context's command
// fd: 0 or the errno the kernel answered.
int AdviseMrIoctl(int cmd_fd, uint32_t driver_id, uint32_t pd_handle, uint32_t advice, uint32_t flags,
                  const ibv::sge& sge);
