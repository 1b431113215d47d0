#pragma once
#include <napi.h>

#include <cstdint>
#include <map>

// A mapping mmap made. Its record belongs to its ArrayBuffer's finalizer, or,
// while memory regions cover it, to the last of them (Unpin).
struct Mapping {
  void* address;
  size_t length;
  bool unmapped;
  // Null once the table is gone (environment cleanup) or no longer lists it.
  class Mappings* table;
  // The MRs over it: munmap answers EBUSY while there are any, and a buffer
  // collected meanwhile (JS can transfer it away and drop it) leaves the
  // unmapping to the last of them.
  uint32_t mrs = 0;
  bool collected = false;
};

// The mappings of one environment that are still mapped, by address.
class Mappings {
 public:
  // The live mapping holding [data, data + length), else null.
  Mapping* Containing(const void* data, size_t length);
  // Unmaps whatever is left, at environment cleanup (after the MRs are gone).
  void UnmapAll();

  std::map<uintptr_t, Mapping*> by_address;
};

// An MR's hold on the mapping under it, and its release.
void Pin(Mapping* m);
void Unpin(Mapping* m);
