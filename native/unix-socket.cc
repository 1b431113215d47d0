// Unix domain stream sockets, and fds passed over them (SCM_RIGHTS). Every
// socket is non-blocking and close-on-exec, and sends and receives never
// block even on a socket that came from elsewhere: EAGAIN reaches JS, which
// waits for readiness with a watch.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "error.h"
#include "instance.h"
#include "result.h"
#include "sys.h"

namespace {

// The kernel's limit on fds in one message (SCM_MAX_FD).
constexpr size_t kMaxFds = 253;
constexpr int kSocketFlags = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;

// A filesystem address; a path that does not fit sun_path is EINVAL, as the
// kernel answers an over-long address.
sockaddr_un Address(Napi::Env env, const std::string& path, const char* syscall) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) ThrowErrno(env, EINVAL, syscall);
  path.copy(addr.sun_path, path.size());
  return addr;
}

// A new socket after `setup` succeeds on it; failures of socket(2) and of
// `setup` are all reported as `syscall`, and the socket is closed on failure.
template <typename Setup>
int NewSocket(Napi::Env env, const char* syscall, Setup setup) {
  int fd = ::socket(AF_UNIX, kSocketFlags, 0);
  if (fd < 0) ThrowErrno(env, errno, syscall);
  if (setup(fd) != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, syscall);
  }
  return fd;
}

// { pid, uid, gid } as plain numbers (uids are unsigned: -1 is 4294967295).
Napi::Object Ids(Napi::Env env, double pid, uid_t uid, gid_t gid) {
  Napi::Object result = Napi::Object::New(env);
  Put(result, "pid", Napi::Number::New(env, pid));
  Put(result, "uid", Napi::Number::New(env, uid));
  Put(result, "gid", Napi::Number::New(env, gid));
  return result;
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (::socketpair(AF_UNIX, kSocketFlags, 0, fds) != 0) ThrowErrno(env, errno, "socketpair");
  Napi::Array result = Napi::Array::New(env, 2);
  Put(result, 0u, NewFd(env, fds[0]));
  Put(result, 1u, NewFd(env, fds[1]));
  return result;
}

// The socket file gets exactly `mode`. bind(2) creates it with the socket
// inode's mode less the umask (unix_bind_bsd), so the mode is set on the
// socket fd first: the file is never wider than asked. Where the umask took
// bits away, the file is widened to `mode` before listen(2), and until listen
// connect(2) is refused anyway.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un addr = Address(env, StringArg(info[0], "path"), "bind");
  int backlog = Int32Arg(info[1], "backlog");
  mode_t mode = static_cast<mode_t>(Uint32Arg(info[2], "mode")) & 0777;
  int fd = NewSocket(env, "bind", [&](int s) {
    if (::fchmod(s, mode) != 0 || ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
    struct stat st;
    if (::lstat(addr.sun_path, &st) == 0 && ((st.st_mode & 0777) == mode || ::chmod(addr.sun_path, mode) == 0) &&
        ::listen(s, backlog) == 0) {
      return 0;
    }
    // The file bind made goes with the failed call.
    int err = errno;
    ::unlink(addr.sun_path);
    errno = err;
    return -1;
  });
  return NewFd(env, fd);
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un addr = Address(env, StringArg(info[0], "path"), "connect");
  int fd = NewSocket(env, "connect", [&](int s) { return ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr); });
  return NewFd(env, fd);
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  int listener = Int32Arg(info[0], "fd");
  int fd = RetryEintr([&] { return ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
  if (fd < 0) ThrowErrno(info.Env(), errno, "accept4");
  return NewFd(info.Env(), fd);
}

Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = Int32Arg(info[0], "sock");
  if (!info[1].IsArray()) ThrowTypeError(env, "fds must be an array");
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) fds.push_back(Int32Arg(list.Get(i), "fds[i]"));
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "data must be a Uint8Array");
  }
  Napi::Uint8Array data = info[2].As<Napi::Uint8Array>();

  iovec iov = {data.Data(), data.ByteLength()};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // The control buffer is sized for at most kMaxFds; more is the kernel's
  // EINVAL, given without sending anything.
  if (fds.size() > kMaxFds) ThrowErrno(env, EINVAL, "sendmsg");
  std::vector<cmsghdr> control;
  if (!fds.empty()) {
    size_t bytes = fds.size() * sizeof(int);
    control.resize((CMSG_SPACE(bytes) + sizeof(cmsghdr) - 1) / sizeof(cmsghdr));
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(bytes);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(bytes);
    memcpy(CMSG_DATA(c), fds.data(), bytes);
  }
  ssize_t sent = RetryEintr([&] { return ::sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL); });
  if (sent < 0) ThrowErrno(env, errno, "sendmsg");
  return Napi::Number::New(env, static_cast<double>(sent));
}

Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = Int32Arg(info[0], "sock");
  size_t max_bytes = SizeArg(info[1], "maxBytes");
  if (max_bytes > (1u << 30)) ThrowTypeError(env, "maxBytes must be at most 2^30");

  std::vector<uint8_t> buffer(max_bytes);
  iovec iov = {buffer.data(), buffer.size()};
  std::vector<cmsghdr> control((CMSG_SPACE(kMaxFds * sizeof(int)) + sizeof(cmsghdr) - 1) / sizeof(cmsghdr));
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size() * sizeof(cmsghdr);
  ssize_t n = RetryEintr([&] { return ::recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); });
  if (n < 0) ThrowErrno(env, errno, "recvmsg");

  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* p = CMSG_DATA(c);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, p + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  // The fds are ours from here: closed if they cannot be handed to JS.
  try {
    Napi::Object result = Napi::Object::New(env);
    Napi::Array fd_list = Napi::Array::New(env, fds.size());
    for (size_t i = 0; i < fds.size(); i++) Put(fd_list, static_cast<uint32_t>(i), fds[i]);
    Put(result, "fds", fd_list);
    Put(result, "data", Napi::Buffer<uint8_t>::Copy(env, buffer.data(), static_cast<size_t>(n)));
    Put(result, "flags", Napi::Number::New(env, msg.msg_flags));
    for (int fd : fds) GetInstance(env).fds.Adopt(fd);
    return result;
  } catch (...) {
    for (int fd : fds) ::close(fd);
    throw;
  }
}

Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = Int32Arg(info[0], "sock");
  ucred cred = {};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) ThrowErrno(env, errno, "getsockopt");
  return Ids(env, static_cast<double>(cred.pid), cred.uid, cred.gid);
}

Napi::Value Lstat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "path");
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) ThrowErrno(env, errno, "lstat");
  Napi::Object result = Napi::Object::New(env);
  Put(result, "mode", Napi::Number::New(env, st.st_mode));
  Put(result, "uid", Napi::Number::New(env, st.st_uid));
  Put(result, "gid", Napi::Number::New(env, st.st_gid));
  return result;
}

Napi::Value Credentials(const Napi::CallbackInfo& info) {
  return Ids(info.Env(), ::getpid(), ::geteuid(), ::getegid());
}

Napi::Value Unlink(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info[0], "path");
  if (::unlink(path.c_str()) != 0) ThrowErrno(info.Env(), errno, "unlink");
  return info.Env().Undefined();
}

}  // namespace

void InitUnixSocket(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "socketpair", SocketPair);
  Export(env, exports, "unixListen", Listen);
  Export(env, exports, "unixConnect", Connect);
  Export(env, exports, "unixAccept", Accept);
  Export(env, exports, "sendFds", SendFds);
  Export(env, exports, "recvFds", RecvFds);
  Export(env, exports, "peerCred", PeerCred);
  Export(env, exports, "lstat", Lstat);
  Export(env, exports, "credentials", Credentials);
  Export(env, exports, "unlink", Unlink);
}
