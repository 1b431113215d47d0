// sync_file: merging fences and reading their state (linux/sync_file.h).
#include <linux/sync_file.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "result.h"
#include "sys.h"

static_assert(sizeof(sync_merge_data) == 48);
static_assert(sizeof(sync_fence_info) == 80);
static_assert(sizeof(sync_file_info) == 56);

namespace {

// A fixed-size name field that the kernel may have filled to the last byte.
template <size_t N>
std::string Name(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

Napi::Value Merge(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  sync_merge_data arg = {};
  arg.fd2 = Int32Arg(info[1], "otherFd");
  // The kernel keeps the first 31 bytes of the name.
  std::string name = StringArg(info[2], "name");
  memcpy(arg.name, name.data(), std::min(name.size(), sizeof arg.name));
  if (Ioctl(fd, SYNC_IOC_MERGE, &arg) != 0) ThrowErrno(info.Env(), errno, "SYNC_IOC_MERGE");
  return NewFd(info.Env(), arg.fence);
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info[0], "fd");
  // The first call counts the fences, the second fills an array of them.
  sync_file_info file = {};
  if (Ioctl(fd, SYNC_IOC_FILE_INFO, &file) != 0) ThrowErrno(env, errno, "SYNC_IOC_FILE_INFO");
  std::vector<sync_fence_info> fences(file.num_fences);
  if (!fences.empty()) {
    file.sync_fence_info = reinterpret_cast<uintptr_t>(fences.data());
    if (Ioctl(fd, SYNC_IOC_FILE_INFO, &file) != 0) ThrowErrno(env, errno, "SYNC_IOC_FILE_INFO");
  }
  Napi::Array list = Napi::Array::New(env, fences.size());
  for (size_t i = 0; i < fences.size(); i++) {
    const sync_fence_info& f = fences[i];
    Napi::Object entry = Napi::Object::New(env);
    Put(entry, "objName", Name(f.obj_name));
    Put(entry, "driverName", Name(f.driver_name));
    Put(entry, "status", f.status);
    Put(entry, "flags", f.flags);
    Put(entry, "timestampNs", Napi::BigInt::New(env, static_cast<uint64_t>(f.timestamp_ns)));
    Put(list, i, entry);
  }
  Napi::Object result = Napi::Object::New(env);
  Put(result, "name", Name(file.name));
  Put(result, "status", file.status);
  Put(result, "fences", list);
  return result;
}

}  // namespace

void InitSyncFile(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "syncFileMerge", Merge);
  Export(env, exports, "syncFileInfo", Info);
}
