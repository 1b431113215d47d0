// /dev/udmabuf: dma-bufs over the pages of a sealed memfd (linux/udmabuf.h).
#include <linux/udmabuf.h>

#include <vector>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "sys.h"

static_assert(sizeof(udmabuf_create) == 24);
static_assert(sizeof(udmabuf_create_item) == 24);
static_assert(sizeof(udmabuf_create_list) == 8);

namespace {

// The memfd goes to the kernel as a u32, so -1 arrives as a bad fd.
udmabuf_create_item Item(const Napi::Value& v) {
  Napi::Object item = ObjectArg(v, "item");
  return {static_cast<__u32>(Int32Arg(item.Get("memfd"), "item.memfd")), 0,
          U64Arg(item.Get("offset"), "item.offset"), U64Arg(item.Get("size"), "item.size")};
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  int dev = Int32Arg(info[0], "devFd");
  udmabuf_create_item item = Item(info[1]);
  udmabuf_create arg = {item.memfd, Uint32Arg(info[2], "flags"), item.offset, item.size};
  int fd = Ioctl(dev, UDMABUF_CREATE, &arg);
  if (fd < 0) ThrowErrno(info.Env(), errno, "UDMABUF_CREATE");
  return NewFd(info.Env(), fd);
}

constexpr uint32_t kMostItems = 1 << 16;

Napi::Value CreateList(const Napi::CallbackInfo& info) {
  int dev = Int32Arg(info[0], "devFd");
  if (!info[1].IsArray()) ThrowTypeError(info.Env(), "items must be an array");
  Napi::Array items = info[1].As<Napi::Array>();
  uint32_t flags = Uint32Arg(info[2], "flags");
  uint32_t count = items.Length();
  // Checked before anything is allocated for them: a sparse array's length
  // can be 2^32 - 1. The kernel refuses more than its list_limit (1024 unless
  // raised) with EINVAL; this bound only keeps a raised limit usable.
  if (count > kMostItems) {
    ThrowErrnoWhy(info.Env(), EINVAL, "UDMABUF_CREATE_LIST",
                  std::to_string(count) + " items; udmabuf takes at most its list_limit (1024 unless raised)");
  }
  // udmabuf_create_list ends in a flexible array of items.
  std::vector<__u64> storage((sizeof(udmabuf_create_list) + count * sizeof(udmabuf_create_item)) / sizeof(__u64));
  auto* list = reinterpret_cast<udmabuf_create_list*>(storage.data());
  list->flags = flags;
  list->count = count;
  for (uint32_t i = 0; i < count; i++) list->list[i] = Item(items.Get(i));
  int fd = Ioctl(dev, UDMABUF_CREATE_LIST, list);
  if (fd < 0) ThrowErrno(info.Env(), errno, "UDMABUF_CREATE_LIST");
  return NewFd(info.Env(), fd);
}

}  // namespace

void InitUdmabuf(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "udmabufCreate", Create);
  Export(env, exports, "udmabufCreateList", CreateList);
}
