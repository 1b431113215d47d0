// The dma-buf ioctls (linux/dma-buf.h).
#include <linux/dma-buf.h>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "sys.h"

// Added in Linux 6.0; older uapi headers lack them.
#ifndef DMA_BUF_IOCTL_EXPORT_SYNC_FILE
struct dma_buf_export_sync_file {
  __u32 flags;
  __s32 fd;
};
struct dma_buf_import_sync_file {
  __u32 flags;
  __s32 fd;
};
#define DMA_BUF_IOCTL_EXPORT_SYNC_FILE _IOWR(DMA_BUF_BASE, 2, struct dma_buf_export_sync_file)
#define DMA_BUF_IOCTL_IMPORT_SYNC_FILE _IOW(DMA_BUF_BASE, 3, struct dma_buf_import_sync_file)
#endif
#ifndef DMA_BUF_SET_NAME_B
#define DMA_BUF_SET_NAME_B _IOW(DMA_BUF_BASE, 1, __u64)
#endif

static_assert(sizeof(dma_buf_sync) == 8);
static_assert(sizeof(dma_buf_export_sync_file) == 8);
static_assert(sizeof(dma_buf_import_sync_file) == 8);

namespace {

Napi::Value Sync(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  dma_buf_sync arg = {Uint32Arg(info[1], "flags")};
  if (Ioctl(fd, DMA_BUF_IOCTL_SYNC, &arg) != 0) ThrowErrno(info.Env(), errno, "DMA_BUF_IOCTL_SYNC");
  return info.Env().Undefined();
}

Napi::Value SetName(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  std::string name = StringArg(info[1], "name");
  // The argument is the string's address: the kernel copies at most 32 bytes.
  if (Ioctl(fd, DMA_BUF_SET_NAME_B, const_cast<char*>(name.c_str())) != 0) {
    ThrowErrno(info.Env(), errno, "DMA_BUF_SET_NAME");
  }
  return info.Env().Undefined();
}

Napi::Value ExportSyncFile(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  dma_buf_export_sync_file arg = {Uint32Arg(info[1], "flags"), -1};
  if (Ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &arg) != 0) {
    ThrowErrno(info.Env(), errno, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
  }
  return NewFd(info.Env(), arg.fd);
}

Napi::Value ImportSyncFile(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  dma_buf_import_sync_file arg = {Uint32Arg(info[1], "flags"), Int32Arg(info[2], "syncFileFd")};
  if (Ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &arg) != 0) {
    ThrowErrno(info.Env(), errno, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  }
  return info.Env().Undefined();
}

}  // namespace

void InitDmaBuf(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "dmaBufSync", Sync);
  Export(env, exports, "dmaBufSetName", SetName);
  Export(env, exports, "dmaBufExportSyncFile", ExportSyncFile);
  Export(env, exports, "dmaBufImportSyncFile", ImportSyncFile);
}
