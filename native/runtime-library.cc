#include "runtime-library.h"

#include <dlfcn.h>
#include <string.h>

RuntimeLibrary::RuntimeLibrary(const char* name, const char* remedy) : name_(name), remedy_(remedy) {
  handle_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (handle_) return;
  const char* why = dlerror();
  if (why && strstr(why, "No such file")) {
    error_ = name_ + " not found: " + remedy_;
  } else {
    error_ = name_ + " failed to load (" + (why ? why : "unknown error") + "): " + remedy_;
  }
}

void* RuntimeLibrary::Resolve(const char* symbol, const char* version) const {
  if (!handle_) return nullptr;
#ifdef __GLIBC__
  if (version) return dlvsym(handle_, symbol, version);
#endif
  // musl binds the default version (name@@...), the one wanted.
  return dlsym(handle_, symbol);
}

bool RuntimeLibrary::Finish() {
  if (!handle_) return false;
  if (missing_.empty()) return true;
  error_ = name_ + " lacks " + missing_ + ": " + remedy_;
  dlclose(handle_);
  handle_ = nullptr;
  return false;
}
