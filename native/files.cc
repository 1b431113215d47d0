// File descriptors and the /proc views of them.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

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

Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[0], "path");
  int flags = static_cast<int>(Uint32Arg(info[1], "flags"));
  int fd = RetryEintr([&] { return ::open(path.c_str(), flags, 0666); });
  if (fd < 0) ThrowErrno(info.Env(), errno, "open");
  return NewFd(info.Env(), fd);
}

// An fd has one owner: EBUSY for one a live watch polls (stop it first) or
// one libibverbs or librdmacm owns (destroy its object instead).
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info[0], "fd");
  Instance& instance = GetInstance(env);
  if (instance.watches.by_fd.count(fd)) ThrowErrnoWhy(env, EBUSY, "close", "a watch is live on the fd: stop it first");
  if (instance.verbs.OwnsFd(fd) || instance.rdmacm.OwnsFd(fd)) {
    ThrowErrnoWhy(env, EBUSY, "close",
                  "libibverbs or librdmacm owns the fd: destroy the context or channel that holds it instead");
  }
  if (!instance.fds.Release(fd)) {
    ThrowErrnoWhy(env, EBADF, "close",
                  "the fd this made was closed behind dmabridge's back and its number now names another file, left open");
  }
  // Not retried: on Linux the fd is gone even when close reports EINTR.
  if (::close(fd) != 0) ThrowErrno(env, errno, "close");
  return env.Undefined();
}

Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return NewFd(info.Env(), copy);
}

// The entries of a directory other than "." and "..", failing as `syscall`.
// `skip_own_fd` leaves out the fd that lists the directory (for /proc/self/fd).
std::vector<std::string> ListDir(Napi::Env env, const std::string& path, bool skip_own_fd) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) ThrowErrno(env, errno, "scandir");
  std::string own = std::to_string(::dirfd(dir));
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != ".." && !(skip_own_fd && name == own)) names.push_back(name);
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err) ThrowErrno(env, err, "scandir");
  return names;
}

Napi::Value Readdir(const Napi::CallbackInfo& info) {
  std::vector<std::string> names = ListDir(info.Env(), StringArg(info[0], "path"), false);
  std::sort(names.begin(), names.end());
  Napi::Array result = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); i++) Put(result, i, names[i]);
  return result;
}

Napi::Value OpenFds(const Napi::CallbackInfo& info) {
  std::vector<std::string> names = ListDir(info.Env(), "/proc/self/fd", true);
  std::vector<int> fds;
  for (const std::string& name : names) fds.push_back(std::stoi(name));
  std::sort(fds.begin(), fds.end());
  Napi::Array result = Napi::Array::New(info.Env(), fds.size());
  for (size_t i = 0; i < fds.size(); i++) Put(result, i, fds[i]);
  return result;
}

Napi::Value Lseek(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  int64_t offset = I64Arg(info[1], "offset");
  int whence = Int32Arg(info[2], "whence");
  off_t pos = ::lseek(fd, offset, whence);
  if (pos < 0) ThrowErrno(info.Env(), errno, "lseek");
  return Napi::BigInt::New(info.Env(), static_cast<int64_t>(pos));
}

Napi::Value ReadFdinfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info[0], "fd");
  std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  int file = RetryEintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
  if (file < 0) ThrowErrno(env, errno, "open");
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = RetryEintr([&] { return ::read(file, buf, sizeof buf); })) > 0) text.append(buf, n);
  int err = errno;
  ::close(file);
  // The contract names the whole method [open], read errors included.
  if (n < 0) ThrowErrno(env, err, "open");
  return Napi::String::New(env, text);
}

Napi::Value ReadlinkFd(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info[0], "fd");
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), &target[0], target.size());
    if (n < 0) ThrowErrno(info.Env(), errno, "readlink");
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(n);
      return Napi::String::New(info.Env(), target);
    }
    target.resize(target.size() * 2);
  }
}

}  // namespace

void InitFiles(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "open", Open);
  Export(env, exports, "close", Close);
  Export(env, exports, "dup", Dup);
  Export(env, exports, "readdir", Readdir);
  Export(env, exports, "lseek", Lseek);
  Export(env, exports, "readFdinfo", ReadFdinfo);
  Export(env, exports, "readlinkFd", ReadlinkFd);
  Export(env, exports, "openFds", OpenFds);
}
