#pragma once
#include <errno.h>
#include <sys/ioctl.h>

// Repeats a call that fails with EINTR (never use it for close(2)).
template <typename Call>
auto RetryEintr(Call call) {
  decltype(call()) r;
  do r = call(); while (r == -1 && errno == EINTR);
  return r;
}

// ioctl(2) retried on EINTR and EAGAIN, as libdrm's drmIoctl does: none of
// the ioctls here has done anything when it fails with either.
inline int Ioctl(int fd, unsigned long request, void* arg) {
  int r;
  do r = ::ioctl(fd, request, arg); while (r == -1 && (errno == EINTR || errno == EAGAIN));
  return r;
}
