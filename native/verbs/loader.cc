// libibverbs.so.1, loaded on first use (../runtime-library.h).
#include "loader.h"

#include <errno.h>

#include "../error.h"
#include "../runtime-library.h"

namespace {

constexpr const char* kLibrary = "libibverbs.so.1";
constexpr const char* kRemedy = "install rdma-core (Debian: ibverbs-providers, libibverbs1)";

void Resolve(RuntimeLibrary& library, Verbs& v) {
  auto need = [&](auto* slot, const char* name, const char* version) { library.Require(slot, name, version); };
  need(&v.get_device_list, "ibv_get_device_list", "IBVERBS_1.1");
  need(&v.free_device_list, "ibv_free_device_list", "IBVERBS_1.1");
  need(&v.get_device_name, "ibv_get_device_name", "IBVERBS_1.1");
  need(&v.get_device_guid, "ibv_get_device_guid", "IBVERBS_1.1");
  need(&v.open_device, "ibv_open_device", "IBVERBS_1.1");
  need(&v.close_device, "ibv_close_device", "IBVERBS_1.1");
  need(&v.query_device, "ibv_query_device", "IBVERBS_1.1");
  need(&v.query_port, "ibv_query_port", "IBVERBS_1.1");
  need(&v.query_gid, "ibv_query_gid", "IBVERBS_1.1");
  need(&v.get_async_event, "ibv_get_async_event", "IBVERBS_1.1");
  need(&v.ack_async_event, "ibv_ack_async_event", "IBVERBS_1.1");
  need(&v.alloc_pd, "ibv_alloc_pd", "IBVERBS_1.1");
  need(&v.dealloc_pd, "ibv_dealloc_pd", "IBVERBS_1.1");
  // verbs.h's ibv_reg_mr macro calls ibv_reg_mr_iova2 when the access flags
  // are not a compile-time constant; this version runs the same code.
  need(&v.reg_mr, "ibv_reg_mr", "IBVERBS_1.1");
  need(&v.dereg_mr, "ibv_dereg_mr", "IBVERBS_1.1");
  need(&v.create_comp_channel, "ibv_create_comp_channel", "IBVERBS_1.0");
  need(&v.destroy_comp_channel, "ibv_destroy_comp_channel", "IBVERBS_1.0");
  need(&v.create_cq, "ibv_create_cq", "IBVERBS_1.1");
  need(&v.destroy_cq, "ibv_destroy_cq", "IBVERBS_1.1");
  need(&v.get_cq_event, "ibv_get_cq_event", "IBVERBS_1.1");
  need(&v.ack_cq_events, "ibv_ack_cq_events", "IBVERBS_1.1");
  need(&v.create_qp, "ibv_create_qp", "IBVERBS_1.1");
  need(&v.modify_qp, "ibv_modify_qp", "IBVERBS_1.1");
  need(&v.destroy_qp, "ibv_destroy_qp", "IBVERBS_1.1");
  library.Optional(&v.reg_dmabuf_mr, "ibv_reg_dmabuf_mr", "IBVERBS_1.12");
}

const LoadedTable<Verbs>& Get() {
  static const LoadedTable<Verbs>* loaded = LoadTable<Verbs>(kLibrary, kRemedy, Resolve);
  return *loaded;
}

}  // namespace

const Verbs& RequireVerbs(Napi::Env env) {
  const LoadedTable<Verbs>& l = Get();
  if (!l.ok) throw ErrnoError(env, ENOSYS, "dlopen", l.error);
  return l.table;
}

const Verbs& LoadedVerbs() { return Get().table; }
