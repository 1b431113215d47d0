#include "owned-fds.h"

#include <sys/stat.h>
#include <unistd.h>

int OwnedFds::Adopt(int fd) {
  struct stat st;
  // fstat fails on a fresh fd only if another thread closed it meanwhile.
  if (::fstat(fd, &st) == 0) files_[fd] = {st.st_dev, st.st_ino};
  return fd;
}

bool OwnedFds::Release(int fd) {
  auto it = files_.find(fd);
  if (it == files_.end()) return true;
  File file = it->second;
  files_.erase(it);
  struct stat st;
  // A number that names nothing is left to close() to refuse with EBADF.
  return ::fstat(fd, &st) != 0 || (st.st_dev == file.dev && st.st_ino == file.ino);
}

void OwnedFds::CloseAll() {
  for (const auto& [fd, file] : files_) {
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_dev == file.dev && st.st_ino == file.ino) ::close(fd);
  }
  files_.clear();
}
