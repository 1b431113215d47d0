// ibv_advise_mr as the kernel's own command. ibv_advise_mr is an inline over
// the provider's advise_mr, which rdma-core gave rxe's provider only in v59:
// with Debian 12's rdma-core 44 it answers EOPNOTSUPP in libibverbs, before
// the kernel, even on Linux 7.3 whose rxe has advise_mr. So the addon sends
// the uverbs ioctl itself, as rdma-core's ibv_cmd_advise_mr builds it, with
// the driver id that libibverbs learns from RDMA netlink and keeps private.
#include "advise.h"

#include <errno.h>
#include <linux/netlink.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/ib_user_ioctl_verbs.h>
#include <rdma/ib_user_verbs.h>
#include <rdma/rdma_netlink.h>
#include <rdma/rdma_user_ioctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace {

// An RDMA netlink request: the header, then attributes.
class Request {
 public:
  Request(int op, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, op);
    h.nlmsg_flags = NLM_F_REQUEST | flags;
    h.nlmsg_seq = 1;
    Append(&h, sizeof h);
  }

  void Attr(uint16_t type, const void* data, size_t length) {
    nlattr a{static_cast<uint16_t>(NLA_HDRLEN + length), type};
    Append(&a, sizeof a);
    Append(data, length);
    bytes_.resize(NLA_ALIGN(bytes_.size()));
  }

  // Sends it on `fd`: 0 or an errno.
  int Send(int fd) {
    reinterpret_cast<nlmsghdr*>(bytes_.data())->nlmsg_len = static_cast<uint32_t>(bytes_.size());
    return send(fd, bytes_.data(), bytes_.size(), 0) < 0 ? errno : 0;
  }

 private:
  void Append(const void* data, size_t length) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + length);
  }
  std::vector<uint8_t> bytes_;
};

// One reply message's attributes, by type (the kernel's nldev attributes are
// flat): the payload, or an empty view where absent.
class Attrs {
 public:
  explicit Attrs(const nlmsghdr* h) {
    auto* at = static_cast<const uint8_t*>(NLMSG_DATA(h));
    size_t left = NLMSG_PAYLOAD(h, 0);
    while (left >= NLA_HDRLEN) {
      const auto* a = reinterpret_cast<const nlattr*>(at);
      if (a->nla_len < NLA_HDRLEN || a->nla_len > left) break;
      uint16_t type = a->nla_type & NLA_TYPE_MASK;
      if (type < RDMA_NLDEV_ATTR_MAX) attrs_[type] = std::string_view(reinterpret_cast<const char*>(at) + NLA_HDRLEN, a->nla_len - NLA_HDRLEN);
      size_t step = NLA_ALIGN(a->nla_len);
      if (step >= left) break;
      at += step;
      left -= step;
    }
  }
  std::string_view Get(int type) const { return attrs_[type]; }
  bool U32(int type, uint32_t* out) const {
    if (attrs_[type].size() != sizeof *out) return false;
    std::memcpy(out, attrs_[type].data(), sizeof *out);
    return true;
  }

 private:
  std::string_view attrs_[RDMA_NLDEV_ATTR_MAX] = {};
};

// Receives the replies to a request, calling `each` with every message's
// attributes until the kernel's NLMSG_DONE (a dump) or its one reply: 0 or
// an errno.
template <typename Each>
int Receive(int fd, bool dump, Each each) {
  std::vector<uint8_t> buffer(32768);
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EIO;
        int error = static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        return error < 0 ? -error : EIO;
      }
      each(Attrs(h));
      if (!dump) return 0;
    }
    if (n == 0) return EIO;
  }
}

// RDMA_NLDEV_CMD_GET's dump: the index of the device named `ibdev`.
int DeviceIndex(int fd, const char* ibdev, uint32_t* index) {
  Request request(RDMA_NLDEV_CMD_GET, NLM_F_DUMP);
  if (int err = request.Send(fd)) return err;
  bool found = false;
  int err = Receive(fd, true, [&](const Attrs& a) {
    std::string_view name = a.Get(RDMA_NLDEV_ATTR_DEV_NAME);
    while (!name.empty() && name.back() == '\0') name.remove_suffix(1);
    if (!found && name == ibdev) {
      found = a.U32(RDMA_NLDEV_ATTR_DEV_INDEX, index);
    }
  });
  return err ? err : found ? 0 : ENODEV;
}

}  // namespace

int UverbsDriverId(const char* ibdev, uint32_t* driver_id) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
  if (fd < 0) return errno;
  uint32_t index = 0;
  int err = DeviceIndex(fd, ibdev, &index);
  if (!err) {
    // RDMA_NLDEV_CMD_GET_CHARDEV: what the device's uverbs client says of itself.
    Request request(RDMA_NLDEV_CMD_GET_CHARDEV, 0);
    static const char kUverbs[] = "uverbs";
    request.Attr(RDMA_NLDEV_ATTR_DEV_INDEX, &index, sizeof index);
    request.Attr(RDMA_NLDEV_ATTR_CHARDEV_TYPE, kUverbs, sizeof kUverbs);
    bool found = false;
    err = request.Send(fd);
    if (!err) err = Receive(fd, false, [&](const Attrs& a) { found = a.U32(RDMA_NLDEV_ATTR_UVERBS_DRIVER_ID, driver_id); });
    if (!err && !found) err = ENODEV;
  }
  close(fd);
  return err;
}

int AdviseMrIoctl(int cmd_fd, uint32_t driver_id, uint32_t pd_handle, uint32_t advice, uint32_t flags,
                  const ibv::sge& sge) {
  ib_uverbs_sge list{sge.addr, sge.length, sge.lkey};
  constexpr uint16_t kAttrs = 4;
  // The header ends in a flexible array: the attributes follow it, zeroed
  // (reserved fields must be 0).
  alignas(ib_uverbs_ioctl_hdr) uint8_t buffer[sizeof(ib_uverbs_ioctl_hdr) + kAttrs * sizeof(ib_uverbs_attr)] = {};
  auto* hdr = reinterpret_cast<ib_uverbs_ioctl_hdr*>(buffer);
  hdr->length = sizeof buffer;
  hdr->object_id = UVERBS_OBJECT_MR;
  hdr->method_id = UVERBS_METHOD_ADVISE_MR;
  hdr->num_attrs = kAttrs;
  hdr->driver_id = driver_id;
  auto* attrs = reinterpret_cast<ib_uverbs_attr*>(buffer + sizeof(ib_uverbs_ioctl_hdr));
  // An object's handle goes with length 0; data of at most 8 bytes goes
  // inline, the SGE list (16 bytes each) by address.
  auto set = [&](int i, uint16_t id, uint16_t length, uint64_t data) {
    attrs[i].attr_id = id;
    attrs[i].len = length;
    attrs[i].flags = UVERBS_ATTR_F_MANDATORY;
    attrs[i].data = data;
  };
  set(0, UVERBS_ATTR_ADVISE_MR_PD_HANDLE, 0, pd_handle);
  set(1, UVERBS_ATTR_ADVISE_MR_ADVICE, sizeof(uint64_t), advice);
  set(2, UVERBS_ATTR_ADVISE_MR_FLAGS, sizeof(uint64_t), flags);
  set(3, UVERBS_ATTR_ADVISE_MR_SGE_LIST, sizeof list, reinterpret_cast<uintptr_t>(&list));
  return ioctl(cmd_fd, RDMA_VERBS_IOCTL, buffer) == 0 ? 0 : errno;
}
