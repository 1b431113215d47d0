// CUDA's driver API, loaded at first use (libcuda.so.1 is not needed to build
// or load the addon): device queries, and device memory exported as a dma-buf
// with cuMemGetHandleForAddressRange. Allocations are handles in a table of
// each environment; what a program leaves is freed at environment cleanup.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <string>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "result.h"
#include "runtime-library.h"

namespace {

// The few declarations of cuda.h used here.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_STUB_LIBRARY = 34;
constexpr CUresult CUDA_ERROR_DEVICE_UNAVAILABLE = 46;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_INVALID_DEVICE = 101;
constexpr CUresult CUDA_ERROR_NOT_PERMITTED = 800;
constexpr CUresult CUDA_ERROR_NOT_SUPPORTED = 801;
constexpr int CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD = 1;

constexpr const char* kLibrary = "libcuda.so.1";
constexpr const char* kRemedy = "install the NVIDIA driver (CUDA 11 or newer)";

struct Driver {
  CUresult (*init)(unsigned int flags);
  CUresult (*get_error_name)(CUresult error, const char** name);
  CUresult (*device_get)(CUdevice* device, int ordinal);
  CUresult (*device_get_count)(int* count);
  CUresult (*device_get_name)(char* name, int length, CUdevice device);
  CUresult (*device_get_attribute)(int* value, int attribute, CUdevice device);
  CUresult (*primary_ctx_retain)(CUcontext* context, CUdevice device);
  CUresult (*primary_ctx_release)(CUdevice device);
  CUresult (*ctx_push_current)(CUcontext context);
  CUresult (*ctx_pop_current)(CUcontext* context);
  CUresult (*mem_alloc)(CUdeviceptr* dptr, size_t size);
  CUresult (*mem_free)(CUdeviceptr dptr);
  CUresult (*mem_get_info)(size_t* free, size_t* total);
  // Null in drivers older than CUDA 11.7.
  CUresult (*get_handle_for_address_range)(void* handle, CUdeviceptr dptr, size_t size, int type,
                                           unsigned long long flags);
};

struct Loaded {
  Driver driver = {};
  bool ok = false;
  std::string error;
  CUresult init = CUDA_SUCCESS;
};

// The library stays loaded for the life of the process (CUDA cannot be
// unloaded safely either). Its symbols are unversioned: the _v2 names are
// the current entry points.
Loaded* Load() {
  Loaded* loaded = new Loaded();
  RuntimeLibrary library(kLibrary, kRemedy);
  Driver& d = loaded->driver;
  auto need = [&](auto* slot, const char* name) { library.Require(slot, name, nullptr); };
  need(&d.init, "cuInit");
  need(&d.get_error_name, "cuGetErrorName");
  need(&d.device_get, "cuDeviceGet");
  need(&d.device_get_count, "cuDeviceGetCount");
  need(&d.device_get_name, "cuDeviceGetName");
  need(&d.device_get_attribute, "cuDeviceGetAttribute");
  need(&d.primary_ctx_retain, "cuDevicePrimaryCtxRetain");
  need(&d.primary_ctx_release, "cuDevicePrimaryCtxRelease_v2");
  need(&d.ctx_push_current, "cuCtxPushCurrent_v2");
  need(&d.ctx_pop_current, "cuCtxPopCurrent_v2");
  need(&d.mem_alloc, "cuMemAlloc_v2");
  need(&d.mem_free, "cuMemFree_v2");
  need(&d.mem_get_info, "cuMemGetInfo_v2");
  library.Optional(&d.get_handle_for_address_range, "cuMemGetHandleForAddressRange", nullptr);
  loaded->ok = library.Finish();
  loaded->error = library.error();
  if (loaded->ok) loaded->init = d.init(0);
  return loaded;
}

const Loaded& Get() {
  static const Loaded* loaded = Load();
  return *loaded;
}

int ErrnoOf(CUresult r) {
  switch (r) {
    case CUDA_ERROR_INVALID_VALUE: return EINVAL;
    case CUDA_ERROR_OUT_OF_MEMORY: return ENOMEM;
    case CUDA_ERROR_STUB_LIBRARY: return ENOSYS;
    case CUDA_ERROR_DEVICE_UNAVAILABLE: return EBUSY;
    case CUDA_ERROR_NO_DEVICE:
    case CUDA_ERROR_INVALID_DEVICE: return ENODEV;
    case CUDA_ERROR_NOT_PERMITTED: return EPERM;
    case CUDA_ERROR_NOT_SUPPORTED: return EOPNOTSUPP;
    default: return EIO;
  }
}

// A system error with a message of our own and, for a CUDA failure, the
// CUDA error's name in `cudaError`.
[[noreturn]] void Throw(Napi::Env env, int err, const char* syscall, const std::string& message,
                        const std::string& cuda_error = "") {
  try {
    ThrowErrno(env, err, syscall);
  } catch (Napi::Error& e) {
    Put(e.Value(), "message", message);
    if (!cuda_error.empty()) Put(e.Value(), "cudaError", cuda_error);
    throw;
  }
}

[[noreturn]] void ThrowCuda(Napi::Env env, CUresult r, const char* syscall, const char* call) {
  const char* name = nullptr;
  std::string cuda_error = Get().driver.get_error_name(r, &name) == CUDA_SUCCESS && name
                               ? name
                               : "CUDA error " + std::to_string(r);
  Throw(env, ErrnoOf(r), syscall, std::string(call) + " failed: " + cuda_error, cuda_error);
}

void Check(Napi::Env env, CUresult r, const char* syscall, const char* call) {
  if (r != CUDA_SUCCESS) ThrowCuda(env, r, syscall, call);
}

// The driver, initialised; or throws ENOSYS [dlopen] where it cannot be
// loaded and the cuInit error where it cannot start. A machine without GPUs
// has a driver with no devices: only cuDeviceGetCount answers there.
const Driver& RequireDriver(Napi::Env env, bool allow_no_device = false) {
  const Loaded& l = Get();
  if (!l.ok) Throw(env, ENOSYS, "dlopen", l.error);
  if (l.init != CUDA_SUCCESS && !(allow_no_device && l.init == CUDA_ERROR_NO_DEVICE)) {
    ThrowCuda(env, l.init, "cuInit", "cuInit");
  }
  return l.driver;
}

struct Allocation {
  int ordinal;
  CUdeviceptr dptr;
  size_t size;
};

struct PrimaryContext {
  CUdevice device;
  CUcontext context;
};

// One environment's allocations, and the primary contexts they live in. A
// context is retained once per device and kept until cleanup, so allocating
// again does not pay for creating it again.
struct Cuda {
  std::map<int, PrimaryContext> contexts;
  std::map<uint32_t, Allocation> allocations;
  uint32_t next_handle = 1;

  CUcontext Context(Napi::Env env, const Driver& d, int ordinal, const char* syscall) {
    auto found = contexts.find(ordinal);
    if (found != contexts.end()) return found->second.context;
    CUdevice device;
    Check(env, d.device_get(&device, ordinal), syscall, "cuDeviceGet");
    CUcontext context;
    Check(env, d.primary_ctx_retain(&context, device), syscall, "cuDevicePrimaryCtxRetain");
    contexts[ordinal] = {device, context};
    return context;
  }

  // Errors are ignored: at process exit CUDA may already be torn down.
  void FreeAll() {
    if (!Get().ok) return;
    const Driver& d = Get().driver;
    CUcontext popped;
    for (auto& [handle, a] : allocations) {
      if (d.ctx_push_current(contexts[a.ordinal].context) != CUDA_SUCCESS) continue;
      d.mem_free(a.dptr);
      d.ctx_pop_current(&popped);
    }
    allocations.clear();
    for (auto& [ordinal, c] : contexts) d.primary_ctx_release(c.device);
    contexts.clear();
  }
};

// Makes a context current on this thread for the scope.
class Current {
 public:
  Current(Napi::Env env, const Driver& d, CUcontext context, const char* syscall) : d_(d) {
    Check(env, d.ctx_push_current(context), syscall, "cuCtxPushCurrent");
  }
  ~Current() {
    CUcontext popped;
    d_.ctx_pop_current(&popped);
  }

 private:
  const Driver& d_;
};

Cuda& State(const Napi::CallbackInfo& info) { return *static_cast<Cuda*>(info.Data()); }

CUdevice Device(Napi::Env env, const Driver& d, const Napi::Value& v, const char* syscall) {
  CUdevice device;
  Check(env, d.device_get(&device, Int32Arg(v, "ordinal")), syscall, "cuDeviceGet");
  return device;
}

Napi::Value DeviceGetCount(const Napi::CallbackInfo& info) {
  const Driver& d = RequireDriver(info.Env(), true);
  int count = 0;
  if (Get().init == CUDA_SUCCESS) Check(info.Env(), d.device_get_count(&count), "cuDeviceGetCount", "cuDeviceGetCount");
  return Napi::Number::New(info.Env(), count);
}

Napi::Value DeviceGetName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Driver& d = RequireDriver(env);
  CUdevice device = Device(env, d, info[0], "cuDeviceGetName");
  char name[256] = {};
  Check(env, d.device_get_name(name, sizeof name - 1, device), "cuDeviceGetName", "cuDeviceGetName");
  return Napi::String::New(env, name);
}

Napi::Value DeviceGetAttribute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Driver& d = RequireDriver(env);
  CUdevice device = Device(env, d, info[0], "cuDeviceGetAttribute");
  int attribute = Int32Arg(info[1], "attribute");
  int value = 0;
  Check(env, d.device_get_attribute(&value, attribute, device), "cuDeviceGetAttribute", "cuDeviceGetAttribute");
  return Napi::Number::New(env, value);
}

Napi::Value MemGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Driver& d = RequireDriver(env);
  int ordinal = Int32Arg(info[0], "ordinal");
  Current current(env, d, State(info).Context(env, d, ordinal, "cuMemGetInfo"), "cuMemGetInfo");
  size_t free = 0, total = 0;
  Check(env, d.mem_get_info(&free, &total), "cuMemGetInfo", "cuMemGetInfo");
  Napi::Object result = Napi::Object::New(env);
  Put(result, "free", Napi::BigInt::New(env, static_cast<uint64_t>(free)));
  Put(result, "total", Napi::BigInt::New(env, static_cast<uint64_t>(total)));
  return result;
}

Napi::Value MemAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Driver& d = RequireDriver(env);
  int ordinal = Int32Arg(info[0], "ordinal");
  size_t size = U64Arg(info[1], "size");
  Cuda& cuda = State(info);
  Current current(env, d, cuda.Context(env, d, ordinal, "cuMemAlloc"), "cuMemAlloc");
  CUdeviceptr dptr = 0;
  Check(env, d.mem_alloc(&dptr, size), "cuMemAlloc", "cuMemAlloc");
  uint32_t handle = cuda.next_handle++;
  cuda.allocations[handle] = {ordinal, dptr, size};
  Napi::Object result = Napi::Object::New(env);
  Put(result, "handle", Napi::Number::New(env, handle));
  Put(result, "dptr", Napi::BigInt::New(env, static_cast<uint64_t>(dptr)));
  return result;
}

std::map<uint32_t, Allocation>::iterator Find(Napi::Env env, Cuda& cuda, const Napi::Value& v, const char* syscall) {
  auto found = cuda.allocations.find(Uint32Arg(v, "handle"));
  if (found == cuda.allocations.end()) Throw(env, EBADF, syscall, std::string(syscall) + " failed: EBADF (no such allocation)");
  return found;
}

Napi::Value MemExportDmaBuf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr const char* kCall = "cuMemGetHandleForAddressRange";
  const Driver& d = RequireDriver(env);
  Cuda& cuda = State(info);
  const Allocation& a = Find(env, cuda, info[0], kCall)->second;
  uint64_t offset = U64Arg(info[1], "offset");
  uint64_t size = U64Arg(info[2], "size");
  if (offset > a.size || size > a.size - offset) {
    Throw(env, EINVAL, kCall, std::string(kCall) + " failed: EINVAL (the range passes the end of the allocation)");
  }
  if (!d.get_handle_for_address_range) {
    Throw(env, ENOSYS, kCall, std::string(kLibrary) + " lacks " + kCall + ": install a driver of CUDA 11.7 or newer");
  }
  Current current(env, d, cuda.contexts[a.ordinal].context, kCall);
  int fd = -1;
  Check(env, d.get_handle_for_address_range(&fd, a.dptr + offset, size, CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, 0), kCall, kCall);
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, kCall);
  }
  return NewFd(env, fd);
}

// The handle is gone once the driver was asked, whatever it answered.
Napi::Value MemFree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Driver& d = RequireDriver(env);
  Cuda& cuda = State(info);
  auto found = Find(env, cuda, info[0], "cuMemFree");
  CUresult r;
  {
    Current current(env, d, cuda.contexts[found->second.ordinal].context, "cuMemFree");
    r = d.mem_free(found->second.dptr);
  }
  cuda.allocations.erase(found);
  Check(env, r, "cuMemFree", "cuMemFree");
  return env.Undefined();
}

}  // namespace

void InitCuda(Napi::Env env, Napi::Object exports) {
  Cuda* cuda = new Cuda();
  env.AddCleanupHook([cuda] {
    cuda->FreeAll();
    delete cuda;
  });
  auto add = [&](const char* name, Napi::Function::Callback fn) {
    Put(exports, name, Napi::Function::New(env, fn, name, cuda));
  };
  add("cuDeviceGetCount", DeviceGetCount);
  add("cuDeviceGetName", DeviceGetName);
  add("cuDeviceGetAttribute", DeviceGetAttribute);
  add("cuMemGetInfo", MemGetInfo);
  add("cuMemAlloc", MemAlloc);
  add("cuMemExportDmaBuf", MemExportDmaBuf);
  add("cuMemFree", MemFree);
}
