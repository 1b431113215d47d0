// Devices and their contexts: ibv_get_device_list, ibv_open_device,
// ibv_close_device, the queries, and asynchronous events.
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <memory>

#include "../args.h"
#include "../bindings.h"
#include "../error.h"
#include "../instance.h"
#include "exports.h"
#include "loader.h"

namespace {

// ibv_get_device_list's array, freed on every way out.
using DeviceList = std::unique_ptr<ibv::device*[], void (*)(ibv::device**)>;

// Null when libibverbs says ENOSYS: the running kernel has no uverbs (no
// /sys/class/infiniband_verbs), so there are no devices to list.
DeviceList ListDevices(Napi::Env env, const Verbs& v, int* count, const char* syscall) {
  errno = 0;
  ibv::device** list = v.get_device_list(count);
  if (!list) {
    int err = FailedErrno();
    if (err != ENOSYS) ThrowErrno(env, err, syscall);
    *count = 0;
  }
  return DeviceList(list, v.free_device_list);
}

int SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

ibv::context* Context(VerbsObject& o) { return static_cast<ibv::context*>(o.ptr); }

Napi::Value GetDeviceList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  int count = 0;
  DeviceList list = ListDevices(env, v, &count, "ibv_get_device_list");
  Napi::Array result = Napi::Array::New(env, count);
  for (int i = 0; i < count; i++) {
    ibv::device* device = list[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", v.get_device_name(device));
    entry.Set("guid", Napi::BigInt::New(env, static_cast<uint64_t>(be64toh(v.get_device_guid(device)))));
    entry.Set("nodeType", device->node_type);
    entry.Set("transportType", device->transport_type);
    result.Set(i, entry);
  }
  return result;
}

Napi::Value OpenDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  std::string name = StringArg(info[0], "name");
  int count = 0;
  DeviceList list = ListDevices(env, v, &count, "ibv_open_device");
  ibv::device* device = nullptr;
  for (int i = 0; i < count && !device; i++) {
    if (name == v.get_device_name(list[i])) device = list[i];
  }
  if (!device) ThrowErrnoWhy(env, ENODEV, "ibv_open_device", "no RDMA device is named '" + name + "'");
  errno = 0;
  ibv::context* ctx = v.open_device(device);
  if (!ctx) ThrowErrno(env, FailedErrno(), "ibv_open_device");
  // So that ibvGetAsyncEvent never blocks.
  if (SetNonBlocking(ctx->async_fd) != 0) {
    int err = errno;
    v.close_device(ctx);
    ThrowErrno(env, err, "fcntl");
  }
  VerbsState& state = GetInstance(env).verbs;
  uint64_t handle = state.NewHandle();
  state.Add(handle, VerbsKind::kContext, ctx, 0);
  return Napi::Number::New(env, static_cast<double>(handle));
}

Napi::Value CloseDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  VerbsState& state = GetInstance(env).verbs;
  VerbsObject& o = state.Get(info[0], "ctx", VerbsKind::kContext, "ibv_close_device");
  if (o.children) {
    ThrowErrnoWhy(env, EBUSY, "ibv_close_device",
                  std::to_string(o.children) + " objects made on this context are still alive");
  }
  if (int err = DestroyObject(v, o)) ThrowErrno(env, err, "ibv_close_device");
  state.Remove(o);
  return env.Undefined();
}

Napi::Value QueryDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  ibv::context* ctx = Context(GetInstance(env).verbs.Get(info[0], "ctx", VerbsKind::kContext, "ibv_query_device"));
  // As verbs.h's inline ibv_query_device_ex: the extended query where the
  // provider has it, else the plain one and no extended attributes.
  ibv::device_attr_ex ex = {};
  int rc = EOPNOTSUPP;
  ibv::verbs_context* vctx = ibv::Extended(ctx, offsetof(ibv::verbs_context, query_device_ex));
  if (vctx && vctx->query_device_ex) rc = ReturnedErrno(vctx->query_device_ex(ctx, nullptr, &ex, sizeof ex));
  if (rc == EOPNOTSUPP || rc == ENOSYS) {
    ex = {};
    if (int err = ReturnedErrno(v.query_device(ctx, &ex.orig_attr))) ThrowErrno(env, err, "ibv_query_device");
  } else if (rc != 0) {
    ThrowErrno(env, rc, "ibv_query_device_ex");
  }
  const ibv::device_attr& a = ex.orig_attr;
  Napi::Object result = Napi::Object::New(env);
  result.Set("fwVer", std::string(a.fw_ver, strnlen(a.fw_ver, sizeof a.fw_ver)));
  result.Set("vendorId", a.vendor_id);
  result.Set("vendorPartId", a.vendor_part_id);
  result.Set("hwVer", a.hw_ver);
  result.Set("physPortCnt", a.phys_port_cnt);
  result.Set("maxMrSize", Napi::BigInt::New(env, static_cast<uint64_t>(a.max_mr_size)));
  result.Set("pageSizeCap", Napi::BigInt::New(env, static_cast<uint64_t>(a.page_size_cap)));
  result.Set("maxQp", a.max_qp);
  result.Set("maxQpWr", a.max_qp_wr);
  result.Set("maxSge", a.max_sge);
  result.Set("maxCq", a.max_cq);
  result.Set("maxCqe", a.max_cqe);
  result.Set("maxMr", a.max_mr);
  result.Set("maxPd", a.max_pd);
  result.Set("maxQpRdAtom", a.max_qp_rd_atom);
  result.Set("maxQpInitRdAtom", a.max_qp_init_rd_atom);
  result.Set("deviceCapFlags", a.device_cap_flags);
  result.Set("odpGeneralCaps", Napi::BigInt::New(env, static_cast<uint64_t>(ex.odp_caps.general_caps)));
  result.Set("odpRcCaps", ex.odp_caps.per_transport_caps.rc_odp_caps);
  return result;
}

Napi::Value QueryPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  ibv::context* ctx = Context(GetInstance(env).verbs.Get(info[0], "ctx", VerbsKind::kContext, "ibv_query_port"));
  uint8_t port = static_cast<uint8_t>(UintArg(info[1], "port", UINT8_MAX));
  // As verbs.h's inline ibv_query_port: tell the provider our struct's size
  // where it takes one.
  ibv::port_attr a = {};
  ibv::verbs_context* vctx = ibv::Extended(ctx, offsetof(ibv::verbs_context, query_port));
  int rc = vctx && vctx->query_port ? vctx->query_port(ctx, port, &a, sizeof a) : v.query_port(ctx, port, &a);
  if (rc != 0) ThrowErrno(env, ReturnedErrno(rc), "ibv_query_port");
  Napi::Object result = Napi::Object::New(env);
  result.Set("state", a.state);
  result.Set("maxMtu", a.max_mtu);
  result.Set("activeMtu", a.active_mtu);
  result.Set("gidTblLen", a.gid_tbl_len);
  result.Set("lid", a.lid);
  result.Set("linkLayer", a.link_layer);
  result.Set("activeSpeed", a.active_speed);
  result.Set("activeWidth", a.active_width);
  return result;
}

Napi::Value QueryGid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  ibv::context* ctx = Context(GetInstance(env).verbs.Get(info[0], "ctx", VerbsKind::kContext, "ibv_query_gid"));
  uint8_t port = static_cast<uint8_t>(UintArg(info[1], "port", UINT8_MAX));
  int index = Int32Arg(info[2], "index");
  ibv::gid gid;
  errno = 0;
  if (v.query_gid(ctx, port, index, &gid) != 0) ThrowErrno(env, FailedErrno(), "ibv_query_gid");
  Napi::Uint8Array result = Napi::Uint8Array::New(env, sizeof gid.raw);
  memcpy(result.Data(), gid.raw, sizeof gid.raw);
  return result;
}

uint64_t EventElement(const ibv::async_event& event) {
  switch (event.event_type) {
    case ibv::EVENT_CQ_ERR:
      return reinterpret_cast<uintptr_t>(event.element.cq->cq_context);
    case ibv::EVENT_QP_FATAL:
    case ibv::EVENT_QP_REQ_ERR:
    case ibv::EVENT_QP_ACCESS_ERR:
    case ibv::EVENT_COMM_EST:
    case ibv::EVENT_SQ_DRAINED:
    case ibv::EVENT_PATH_MIG:
    case ibv::EVENT_PATH_MIG_ERR:
    case ibv::EVENT_QP_LAST_WQE_REACHED:
      return reinterpret_cast<uintptr_t>(event.element.qp->qp_context);
    case ibv::EVENT_PORT_ACTIVE:
    case ibv::EVENT_PORT_ERR:
    case ibv::EVENT_LID_CHANGE:
    case ibv::EVENT_PKEY_CHANGE:
    case ibv::EVENT_SM_CHANGE:
    case ibv::EVENT_CLIENT_REREGISTER:
    case ibv::EVENT_GID_CHANGE:
      return static_cast<uint64_t>(event.element.port_num);
    default:  // the device as a whole, or SRQs and WQs, which are not made here
      return 0;
  }
}

// Takes and acknowledges one event: JS gets plain data, and destroying a CQ
// or QP waits for its events to be acknowledged.
Napi::Value GetAsyncEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Verbs& v = RequireVerbs(env);
  ibv::context* ctx =
      Context(GetInstance(env).verbs.Get(info[0], "ctx", VerbsKind::kContext, "ibv_get_async_event"));
  ibv::async_event event;
  if (v.get_async_event(ctx, &event) != 0) {
    if (errno == EAGAIN) return env.Null();
    ThrowErrno(env, FailedErrno(), "ibv_get_async_event");
  }
  uint64_t element = EventElement(event);
  int type = event.event_type;
  v.ack_async_event(&event);
  Napi::Object result = Napi::Object::New(env);
  result.Set("eventType", type);
  result.Set("element", static_cast<double>(element));
  return result;
}

Napi::Value AsyncFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireVerbs(env);
  ibv::context* ctx =
      Context(GetInstance(env).verbs.Get(info[0], "ctx", VerbsKind::kContext, "ibv_get_async_event"));
  return Napi::Number::New(env, ctx->async_fd);
}

}  // namespace

void InitVerbsDevice(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "ibvGetDeviceList", GetDeviceList);
  Export(env, exports, "ibvOpenDevice", OpenDevice);
  Export(env, exports, "ibvCloseDevice", CloseDevice);
  Export(env, exports, "ibvQueryDevice", QueryDevice);
  Export(env, exports, "ibvQueryPort", QueryPort);
  Export(env, exports, "ibvQueryGid", QueryGid);
  Export(env, exports, "ibvGetAsyncEvent", GetAsyncEvent);
  Export(env, exports, "ibvAsyncFd", AsyncFd);
}
