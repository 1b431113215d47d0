// librdmacm.so.1, loaded on first use (../runtime-library.h). It links
// libibverbs.so.1 itself, so the contexts it opens are the same library's as
// ours.
#include "loader.h"

#include <errno.h>

#include "../error.h"
#include "../runtime-library.h"

namespace {

constexpr const char* kLibrary = "librdmacm.so.1";
constexpr const char* kRemedy = "install librdmacm (Debian: librdmacm1)";
constexpr const char* kVersion = "RDMACM_1.0";

void Resolve(RuntimeLibrary& library, RdmaCm& c) {
  auto need = [&](auto* slot, const char* name) { library.Require(slot, name, kVersion); };
  need(&c.create_event_channel, "rdma_create_event_channel");
  need(&c.destroy_event_channel, "rdma_destroy_event_channel");
  need(&c.create_id, "rdma_create_id");
  need(&c.destroy_id, "rdma_destroy_id");
  need(&c.bind_addr, "rdma_bind_addr");
  need(&c.listen, "rdma_listen");
  need(&c.resolve_addr, "rdma_resolve_addr");
  need(&c.resolve_route, "rdma_resolve_route");
  need(&c.create_qp, "rdma_create_qp");
  need(&c.destroy_qp, "rdma_destroy_qp");
  need(&c.connect, "rdma_connect");
  need(&c.accept, "rdma_accept");
  need(&c.reject, "rdma_reject");
  need(&c.disconnect, "rdma_disconnect");
  need(&c.get_cm_event, "rdma_get_cm_event");
  need(&c.ack_cm_event, "rdma_ack_cm_event");
  need(&c.get_devices, "rdma_get_devices");
  need(&c.free_devices, "rdma_free_devices");
}

const LoadedTable<RdmaCm>& Get() {
  static const LoadedTable<RdmaCm>* loaded = LoadTable<RdmaCm>(kLibrary, kRemedy, Resolve);
  return *loaded;
}

}  // namespace

const RdmaCm& RequireRdmaCm(Napi::Env env) {
  const LoadedTable<RdmaCm>& l = Get();
  if (!l.ok) throw ErrnoError(env, ENOSYS, "dlopen", l.error);
  return l.table;
}

const RdmaCm& LoadedRdmaCm() { return Get().table; }
