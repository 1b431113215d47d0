#pragma once
#include <napi.h>

#include <unordered_map>

struct Mapping;

// The mappings of one environment that are still mapped, by address. Each
// record belongs to its ArrayBuffer's finalizer; this table only points at it.
class Mappings {
 public:
  // Unmaps whatever is left, at environment cleanup.
  void UnmapAll();

  std::unordered_map<void*, Mapping*> by_address;
};
