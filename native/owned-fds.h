#pragma once
#include <sys/types.h>

#include <unordered_map>

// The fds this environment made through the addon and has not closed through
// it, each with the file it was made for. The kernel keeps fds per process,
// not per thread, so what a worker leaves would outlive it: they are closed
// when the environment ends. An fd closed behind the addon's back whose
// number now names another file is left alone, whoever opened that file: at
// the end, and when the addon is asked to close it (a finalizer, say).
class OwnedFds {
 public:
  // Records `fd`, just made by this environment, and returns it.
  int Adopt(int fd);
  // Forgets `fd` before it is closed. False where this environment made it but
  // its number now names another file (closed behind the addon's back, then
  // reused): closing it would close someone else's file.
  bool Release(int fd);
  // At environment cleanup: closes each fd that still names its file.
  void CloseAll();

 private:
  struct File {
    dev_t dev;
    ino_t ino;
  };
  std::unordered_map<int, File> files_;
};
