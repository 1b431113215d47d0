// dlopen of librdmacm.so.1, which stays loaded for the life of the process as
// libibverbs does (../verbs/loader.cc): it links libibverbs.so.1 itself, so
// the contexts it opens are the same library's as ours.
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include <string>

#include "../verbs/errors.h"

namespace {

constexpr const char* kLibrary = "librdmacm.so.1";
constexpr const char* kRemedy = "install librdmacm (Debian: librdmacm1)";
constexpr const char* kVersion = "RDMACM_1.0";

struct Loaded {
  RdmaCm cm = {};
  bool ok = false;
  std::string error;
};

template <typename Fn>
bool Resolve(void* library, const char* name, Fn* slot) {
#ifdef __GLIBC__
  void* symbol = dlvsym(library, name, kVersion);
#else
  void* symbol = dlsym(library, name);  // musl binds the default version, the one wanted
#endif
  *slot = reinterpret_cast<Fn>(symbol);
  return symbol != nullptr;
}

Loaded* Load() {
  Loaded* loaded = new Loaded();
  void* library = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char* why = dlerror();
    if (why && strstr(why, "No such file")) {
      loaded->error = std::string(kLibrary) + " not found: " + kRemedy;
    } else {
      loaded->error = std::string(kLibrary) + " failed to load (" + (why ? why : "unknown error") + "): " + kRemedy;
    }
    return loaded;
  }

  RdmaCm& c = loaded->cm;
  std::string missing;
  auto need = [&](auto* slot, const char* name) {
    if (!Resolve(library, name, slot) && missing.empty()) missing = std::string(name) + "@" + kVersion;
  };
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
  if (!missing.empty()) {
    loaded->error = std::string(kLibrary) + " lacks " + missing + ": " + kRemedy;
    dlclose(library);
    return loaded;
  }
  loaded->ok = true;
  return loaded;
}

const Loaded& Get() {
  static const Loaded* loaded = Load();
  return *loaded;
}

}  // namespace

const RdmaCm& RequireRdmaCm(Napi::Env env) {
  const Loaded& l = Get();
  if (!l.ok) throw ErrnoError(env, ENOSYS, "dlopen", l.error);
  return l.cm;
}

const RdmaCm& LoadedRdmaCm() { return Get().cm; }
