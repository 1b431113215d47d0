// DRM: version, dumb buffers, GEM handles, PRIME, and vgem's test fences.
// The uapi structs are declared here (drm/drm.h, drm/drm_mode.h,
// drm/vgem_drm.h), since libdrm's headers are not needed to build.
#include <linux/types.h>

#include <algorithm>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "result.h"
#include "sys.h"

namespace {

struct drm_version {
  int version_major;
  int version_minor;
  int version_patchlevel;
  size_t name_len;
  char* name;
  size_t date_len;
  char* date;
  size_t desc_len;
  char* desc;
};
struct drm_gem_close {
  __u32 handle;
  __u32 pad;
};
struct drm_prime_handle {
  __u32 handle;
  __u32 flags;
  __s32 fd;
};
struct drm_mode_create_dumb {
  __u32 height;
  __u32 width;
  __u32 bpp;
  __u32 flags;
  __u32 handle;
  __u32 pitch;
  __u64 size;
};
struct drm_mode_destroy_dumb {
  __u32 handle;
};
struct drm_vgem_fence_attach {
  __u32 handle;
  __u32 flags;
  __u32 out_fence;
  __u32 pad;
};
struct drm_vgem_fence_signal {
  __u32 fence;
  __u32 flags;
};

static_assert(sizeof(drm_version) == 3 * sizeof(int) + (sizeof(void*) == 8 ? 4 : 0) + 6 * sizeof(void*));
static_assert(sizeof(drm_gem_close) == 8);
static_assert(sizeof(drm_prime_handle) == 12);
static_assert(sizeof(drm_mode_create_dumb) == 32);
static_assert(sizeof(drm_mode_destroy_dumb) == 4);
static_assert(sizeof(drm_vgem_fence_attach) == 16);
static_assert(sizeof(drm_vgem_fence_signal) == 8);

constexpr unsigned kDrmCommandBase = 0x40;
constexpr unsigned long kVersion = _IOWR('d', 0x00, drm_version);
constexpr unsigned long kGemClose = _IOW('d', 0x09, drm_gem_close);
constexpr unsigned long kPrimeHandleToFd = _IOWR('d', 0x2d, drm_prime_handle);
constexpr unsigned long kPrimeFdToHandle = _IOWR('d', 0x2e, drm_prime_handle);
constexpr unsigned long kCreateDumb = _IOWR('d', 0xB2, drm_mode_create_dumb);
constexpr unsigned long kDestroyDumb = _IOWR('d', 0xB4, drm_mode_destroy_dumb);
constexpr unsigned long kVgemFenceAttach = _IOWR('d', kDrmCommandBase + 0x1, drm_vgem_fence_attach);
constexpr unsigned long kVgemFenceSignal = _IOW('d', kDrmCommandBase + 0x2, drm_vgem_fence_signal);

// The numbers the kernel headers give, where ioctl numbers use the generic
// layout (x86, arm, riscv).
#if _IOC_SIZEBITS == 14 && _IOC_DIRBITS == 2
static_assert(kVersion == (sizeof(void*) == 8 ? 0xC0406400 : 0xC0246400));
static_assert(kGemClose == 0x40086409);
static_assert(kPrimeHandleToFd == 0xC00C642D);
static_assert(kPrimeFdToHandle == 0xC00C642E);
static_assert(kCreateDumb == 0xC02064B2);
static_assert(kDestroyDumb == 0xC00464B4);
static_assert(kVgemFenceAttach == 0xC0106441);
static_assert(kVgemFenceSignal == 0x40086442);
#endif

Napi::Value Version(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info[0], "fd");
  // The first call reports the string lengths, the second fills them in.
  drm_version v = {};
  if (Ioctl(fd, kVersion, &v) != 0) ThrowErrno(env, errno, "DRM_IOCTL_VERSION");
  std::vector<char> name(v.name_len), date(v.date_len), desc(v.desc_len);
  v.name = name.data();
  v.date = date.data();
  v.desc = desc.data();
  if (Ioctl(fd, kVersion, &v) != 0) ThrowErrno(env, errno, "DRM_IOCTL_VERSION");
  auto text = [&](const std::vector<char>& buf, size_t len) {
    return Napi::String::New(env, buf.data(), std::min(len, buf.size()));
  };
  Napi::Object result = Napi::Object::New(env);
  Put(result, "name", text(name, v.name_len));
  Put(result, "date", text(date, v.date_len));
  Put(result, "desc", text(desc, v.desc_len));
  Put(result, "major", v.version_major);
  Put(result, "minor", v.version_minor);
  Put(result, "patch", v.version_patchlevel);
  return result;
}

Napi::Value CreateDumb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info[0], "fd");
  drm_mode_create_dumb arg = {};
  arg.width = Uint32Arg(info[1], "width");
  arg.height = Uint32Arg(info[2], "height");
  arg.bpp = Uint32Arg(info[3], "bpp");
  arg.flags = Uint32Arg(info[4], "flags");
  if (Ioctl(fd, kCreateDumb, &arg) != 0) ThrowErrno(env, errno, "DRM_IOCTL_MODE_CREATE_DUMB");
  Napi::Object result = Napi::Object::New(env);
  Put(result, "handle", arg.handle);
  Put(result, "pitch", arg.pitch);
  Put(result, "size", Napi::BigInt::New(env, static_cast<uint64_t>(arg.size)));
  return result;
}

Napi::Value DestroyDumb(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  drm_mode_destroy_dumb arg = {Uint32Arg(info[1], "handle")};
  if (Ioctl(fd, kDestroyDumb, &arg) != 0) ThrowErrno(info.Env(), errno, "DRM_IOCTL_MODE_DESTROY_DUMB");
  return info.Env().Undefined();
}

Napi::Value GemClose(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  drm_gem_close arg = {Uint32Arg(info[1], "handle"), 0};
  if (Ioctl(fd, kGemClose, &arg) != 0) ThrowErrno(info.Env(), errno, "DRM_IOCTL_GEM_CLOSE");
  return info.Env().Undefined();
}

Napi::Value PrimeHandleToFd(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  drm_prime_handle arg = {Uint32Arg(info[1], "handle"), Uint32Arg(info[2], "flags"), -1};
  if (Ioctl(fd, kPrimeHandleToFd, &arg) != 0) ThrowErrno(info.Env(), errno, "DRM_IOCTL_PRIME_HANDLE_TO_FD");
  return NewFd(info.Env(), arg.fd);
}

Napi::Value PrimeFdToHandle(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  drm_prime_handle arg = {0, 0, Int32Arg(info[1], "dmaBufFd")};
  if (Ioctl(fd, kPrimeFdToHandle, &arg) != 0) ThrowErrno(info.Env(), errno, "DRM_IOCTL_PRIME_FD_TO_HANDLE");
  return Napi::Number::New(info.Env(), arg.handle);
}

Napi::Value VgemFenceAttach(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  drm_vgem_fence_attach arg = {Uint32Arg(info[1], "handle"), Uint32Arg(info[2], "flags"), 0, 0};
  if (Ioctl(fd, kVgemFenceAttach, &arg) != 0) ThrowErrno(info.Env(), errno, "DRM_IOCTL_VGEM_FENCE_ATTACH");
  return NewFd(info.Env(), arg.out_fence);
}

Napi::Value VgemFenceSignal(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  drm_vgem_fence_signal arg = {Uint32Arg(info[1], "fenceId"), 0};
  if (Ioctl(fd, kVgemFenceSignal, &arg) != 0) ThrowErrno(info.Env(), errno, "DRM_IOCTL_VGEM_FENCE_SIGNAL");
  return info.Env().Undefined();
}

}  // namespace

void InitDrm(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "drmVersion", Version);
  Export(env, exports, "drmCreateDumb", CreateDumb);
  Export(env, exports, "drmDestroyDumb", DestroyDumb);
  Export(env, exports, "drmGemClose", GemClose);
  Export(env, exports, "drmPrimeHandleToFd", PrimeHandleToFd);
  Export(env, exports, "drmPrimeFdToHandle", PrimeFdToHandle);
  Export(env, exports, "vgemFenceAttach", VgemFenceAttach);
  Export(env, exports, "vgemFenceSignal", VgemFenceSignal);
}
