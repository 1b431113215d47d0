#include <napi.h>

#include "bindings.h"
#include "instance.h"

namespace {

// Releases what the program left, before Node finalizes this environment's
// objects. Asynchronous, so the loop can run the watches' close callbacks.
void Cleanup(napi_async_cleanup_hook_handle hook, void* arg) {
  Instance* instance = static_cast<Instance*>(arg);
  instance->watches.StopAll(hook);
  // The verbs first: rdma_cm ids are destroyed once their QPs are, and
  // mappings unmapped once no MR covers them.
  instance->verbs.ReleaseAll();
  instance->rdmacm.ReleaseAll();
  instance->mappings.UnmapAll();
  // Last: the watches on them have stopped, and the verbs hold their own
  // references to the dma-bufs they registered.
  instance->fds.CloseAll();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Instance* instance = new Instance();
  env.SetInstanceData(instance);
  NAPI_THROW_IF_FAILED(env, napi_add_async_cleanup_hook(env, Cleanup, instance, nullptr), exports);
  InitFiles(env, exports);
  InitMemfd(env, exports);
  InitMapping(env, exports);
  InitDmaBuf(env, exports);
  InitUdmabuf(env, exports);
  InitHeap(env, exports);
  InitDrm(env, exports);
  InitSyncFile(env, exports);
  InitWatch(env, exports);
  InitCuda(env, exports);
  InitUnixSocket(env, exports);
  InitVerbs(env, exports);
  InitRdmaCm(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(dmabridge, Init)
