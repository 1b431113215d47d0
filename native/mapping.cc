// mmap(2), munmap(2) and madvise(2), with each mapping exposed as a Uint8Array over an
// external ArrayBuffer of exactly the mapped bytes.
#include "mapping.h"

#include <sys/mman.h>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace {

void Forget(Mapping* m) {
  if (!m->table) return;
  auto it = m->table->by_address.find(reinterpret_cast<uintptr_t>(m->address));
  if (it != m->table->by_address.end() && it->second == m) m->table->by_address.erase(it);
  m->table = nullptr;
}

// Runs when the ArrayBuffer is collected or detached, or when Node tears the
// environment down; also when creating the ArrayBuffer failed.
void Release(Mapping* m) {
  if (!m->unmapped) ::munmap(m->address, m->length);
  Forget(m);
  delete m;
}

void Finalize(napi_env, void*, void* hint) {
  Mapping* m = static_cast<Mapping*>(hint);
  if (m->mrs == 0) return Release(m);
  // A device may still write here: the last MR's Unpin unmaps.
  m->collected = true;
  Forget(m);
}

Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info[0], "fd");
  size_t length = SizeArg(info[1], "length");
  int prot = static_cast<int>(Uint32Arg(info[2], "prot"));
  int flags = static_cast<int>(Uint32Arg(info[3], "flags"));
  int64_t offset = I64Arg(info[4], "offset");
  // There is no address argument, and a fixed mapping could replace memory
  // the process is using.
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    ThrowTypeError(env, "mmap does not take MAP_FIXED or MAP_FIXED_NOREPLACE");
  }
  void* address = ::mmap(nullptr, length, prot, flags, fd, offset);
  if (address == MAP_FAILED) ThrowErrno(env, errno, "mmap");

  Mappings& table = GetInstance(env).mappings;
  Mapping* m = new Mapping{address, length, false, &table};
  table.by_address[reinterpret_cast<uintptr_t>(address)] = m;
  // From here the finalizer owns the mapping, even if this fails: Node calls
  // it when it cannot create the buffer (a length past Buffer's limit, 4 GiB
  // in Node 20). node-addon-api's wrapper would free its own data twice then.
  napi_value buffer;
  NAPI_THROW_IF_FAILED(env, napi_create_external_arraybuffer(env, address, length, Finalize, m, &buffer), Napi::Value());
  return Napi::Uint8Array::New(env, length, Napi::ArrayBuffer(env, buffer), 0);
}

Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value arg = info[0];
  if (!arg.IsTypedArray() || arg.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "view must be the Uint8Array that mmap returned");
  }
  Napi::Uint8Array view = arg.As<Napi::Uint8Array>();
  Napi::ArrayBuffer buffer = view.ArrayBuffer();
  Mappings& table = GetInstance(env).mappings;
  auto it = table.by_address.find(reinterpret_cast<uintptr_t>(buffer.Data()));
  if (buffer.Data() == nullptr || it == table.by_address.end()) {
    ThrowTypeError(env, "view is not a mapping made by mmap, or it is already unmapped");
  }
  Mapping* m = it->second;
  if (view.ByteOffset() != 0 || view.ByteLength() != m->length || buffer.ByteLength() != m->length) {
    ThrowTypeError(env, "munmap takes the whole view that mmap returned, not a subarray of it");
  }
  if (m->mrs) {
    ThrowErrnoWhy(env, EBUSY, "munmap",
                  "RDMA memory regions cover the mapping, and the device may still use it: deregister them first");
  }
  // Detach first, so a view kept past this point reads as empty instead of
  // touching unmapped memory.
  buffer.Detach();
  Forget(m);
  if (::munmap(m->address, m->length) != 0) ThrowErrno(env, errno, "munmap");
  m->unmapped = true;
  return env.Undefined();
}

// Only MADV_DONTNEED, which changes nothing but this process's own view of
// its mapping: advice such as MADV_HWPOISON or MADV_REMOVE reaches further.
Napi::Value Madvise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value arg = info[0];
  if (!arg.IsTypedArray() || arg.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "view must be a Uint8Array inside a view that mmap returned");
  }
  int advice = Int32Arg(info[1], "advice");
  if (advice != MADV_DONTNEED) ThrowTypeError(env, "madvise takes MADV_DONTNEED only");
  Napi::Uint8Array view = arg.As<Napi::Uint8Array>();
  auto* base = static_cast<uint8_t*>(view.ArrayBuffer().Data());
  uint8_t* data = base + view.ByteOffset();
  if (base == nullptr || !GetInstance(env).mappings.Containing(data, view.ByteLength())) {
    ThrowTypeError(env, "view is not inside a mapping made by mmap, or that mapping is unmapped");
  }
  if (::madvise(data, view.ByteLength(), advice) != 0) ThrowErrno(env, errno, "madvise");
  return env.Undefined();
}

}  // namespace

Mapping* Mappings::Containing(const void* data, size_t length) {
  uintptr_t start = reinterpret_cast<uintptr_t>(data);
  auto it = by_address.upper_bound(start);
  if (it == by_address.begin()) return nullptr;
  Mapping* m = (--it)->second;
  return start - it->first <= m->length && length <= m->length - (start - it->first) ? m : nullptr;
}

void Mappings::UnmapAll() {
  for (auto& [address, m] : by_address) {
    ::munmap(m->address, m->length);
    m->unmapped = true;
    m->table = nullptr;
  }
  by_address.clear();
}

void Pin(Mapping* m) { m->mrs++; }

void Unpin(Mapping* m) {
  if (--m->mrs == 0 && m->collected) Release(m);
}

void InitMapping(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "mmap", Mmap);
  Export(env, exports, "munmap", Munmap);
  Export(env, exports, "madvise", Madvise);
}
