// /dev/dma_heap/<name>: dma-buf allocation from a heap (linux/dma-heap.h).
#include <linux/dma-heap.h>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "sys.h"

static_assert(sizeof(dma_heap_allocation_data) == 24);

namespace {

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  int heap = Int32Arg(info[0], "heapFd");
  dma_heap_allocation_data arg = {};
  arg.len = U64Arg(info[1], "len");
  arg.fd_flags = Uint32Arg(info[2], "fdFlags");
  arg.heap_flags = U64Arg(info[3], "heapFlags");
  if (Ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &arg) != 0) ThrowErrno(info.Env(), errno, "DMA_HEAP_IOCTL_ALLOC");
  return NewFd(info.Env(), arg.fd);
}

}  // namespace

void InitHeap(Napi::Env env, Napi::Object exports) { Export(env, exports, "dmaHeapAlloc", Alloc); }
