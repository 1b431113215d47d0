// Kernel-fact probe for dmabridge: run inside the VM as root
// (scripts/vm/run.sh scripts/vm/probe/run.sh [--slow]). Prints what the kernel answers
// for udmabuf, dma-heap, dma-buf and vgem calls that the backends rely on.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>
#include <libdrm/drm.h>

// include/uapi/drm/vgem_drm.h (not shipped by Debian 12's libdrm-dev)
struct drm_vgem_fence_attach { __u32 handle, flags, out_fence, pad; };
struct drm_vgem_fence_signal { __u32 fence, flags; };
#define VGEM_FENCE_WRITE 0x1
#define DRM_IOCTL_VGEM_FENCE_ATTACH DRM_IOWR(DRM_COMMAND_BASE + 0x1, struct drm_vgem_fence_attach)
#define DRM_IOCTL_VGEM_FENCE_SIGNAL DRM_IOW(DRM_COMMAND_BASE + 0x2, struct drm_vgem_fence_signal)

static void report(const char *what, long rc) {
  if (rc < 0)
    printf("%-58s -> -1 %s (%d)\n", what, strerrorname_np(errno), errno);
  else
    printf("%-58s -> %ld\n", what, rc);
}
#define TRY(what, expr) ({ errno = 0; long r_ = (long)(expr); report(what, r_); r_; })

static int memfd(size_t size, int seals) {
  int fd = memfd_create("probe", MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, size) < 0) { perror("memfd"); exit(1); }
  if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0) { perror("F_ADD_SEALS"); exit(1); }
  return fd;
}

static void show_fd(const char *label, int fd) {
  char path[64], link[256] = "";
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n >= 0) link[n] = 0;
  printf("%s: readlink(/proc/self/fd/%d) = \"%s\"\n", label, fd, link);
  printf("%s: lseek(SEEK_END) = %lld\n", label, (long long)lseek(fd, 0, SEEK_END));
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(path, "r");
  char line[256];
  printf("%s: %s:\n", label, path);
  while (f && fgets(line, sizeof line, f)) printf("    %s", line);
  if (f) fclose(f);
}

static int poll_mask(int fd, short events) {
  struct pollfd p = { .fd = fd, .events = events };
  int n = poll(&p, 1, 0);
  return n < 0 ? -errno : p.revents;
}

static void udmabuf(void) {
  puts("== udmabuf");
  int dev = TRY("open /dev/udmabuf", open("/dev/udmabuf", O_RDWR | O_CLOEXEC));
  if (dev < 0) return;
  struct udmabuf_create c = { .offset = 0, .size = 65536 };

  c.memfd = memfd(65536, 0);
  TRY("CREATE, memfd without F_SEAL_SHRINK", ioctl(dev, UDMABUF_CREATE, &c));
  c.memfd = memfd(65536, F_SEAL_SHRINK | F_SEAL_WRITE);
  TRY("CREATE, memfd with F_SEAL_SHRINK|F_SEAL_WRITE", ioctl(dev, UDMABUF_CREATE, &c));
  c.memfd = open("/dev/null", O_RDWR);
  TRY("CREATE, fd of /dev/null (not a memfd)", ioctl(dev, UDMABUF_CREATE, &c));
  c.memfd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
  if (ftruncate(c.memfd, 65536)) perror("ftruncate");
  TRY("CREATE, O_TMPFILE on tmpfs (shmem, not memfd)", ioctl(dev, UDMABUF_CREATE, &c));
  int mfd = memfd(65536, F_SEAL_SHRINK);
  c.memfd = mfd;
  c.size = 1000;
  TRY("CREATE, size 1000 (not page aligned)", ioctl(dev, UDMABUF_CREATE, &c));
  c.size = 65536; c.offset = 100;
  TRY("CREATE, offset 100 (not page aligned)", ioctl(dev, UDMABUF_CREATE, &c));
  c.offset = 0; c.size = 0;
  TRY("CREATE, size 0", ioctl(dev, UDMABUF_CREATE, &c));
  c.size = 131072;
  TRY("CREATE, size 128 KiB > memfd size 64 KiB", ioctl(dev, UDMABUF_CREATE, &c));
  c.size = 65536; c.flags = 0x2;
  TRY("CREATE, flags 0x2 (unknown)", ioctl(dev, UDMABUF_CREATE, &c));
  c.flags = 0;
  c.memfd = memfd(65 << 20, F_SEAL_SHRINK); c.size = 65 << 20;
  TRY("CREATE, 65 MiB (size_limit_mb default 64)", ioctl(dev, UDMABUF_CREATE, &c));
  c.memfd = mfd; c.size = 65536; c.flags = UDMABUF_FLAGS_CLOEXEC;
  int buf = TRY("CREATE, sealed memfd, 64 KiB, CLOEXEC", ioctl(dev, UDMABUF_CREATE, &c));
  if (buf < 0) return;
  printf("udmabuf: FD_CLOEXEC set = %d\n", !!(fcntl(buf, F_GETFD) & FD_CLOEXEC));
  TRY("DMA_BUF_SET_NAME \"probe-name\"", ioctl(buf, DMA_BUF_SET_NAME, "probe-name"));
  show_fd("udmabuf", buf);
  TRY("lseek(dmabuf, 0, SEEK_CUR)", lseek(buf, 0, SEEK_CUR));
  TRY("lseek(dmabuf, 4096, SEEK_SET)", lseek(buf, 4096, SEEK_SET));
  // Same pages: a write through the memfd is seen through the dma-buf mapping.
  char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  char *d = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  printf("mmap memfd %s, mmap udmabuf %s\n", m == MAP_FAILED ? "failed" : "ok",
         d == MAP_FAILED ? strerrorname_np(errno) : "ok");
  if (m != MAP_FAILED && d != MAP_FAILED) {
    struct dma_buf_sync s = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
    TRY("DMA_BUF_IOCTL_SYNC START|RW", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
    strcpy(m + 4096, "hello");
    printf("memfd write seen through udmabuf mmap: %s\n", strcmp(d + 4096, "hello") ? "no" : "yes");
    s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
    TRY("DMA_BUF_IOCTL_SYNC END|RW", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
    s.flags = 0x80;
    TRY("DMA_BUF_IOCTL_SYNC flags 0x80 (invalid)", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
  }
  struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };
  TRY("DMA_BUF_IOCTL_EXPORT_SYNC_FILE on idle udmabuf", ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e));
  if (e.fd >= 0) {
    struct sync_file_info info = {0};
    TRY("SYNC_IOC_FILE_INFO", ioctl(e.fd, SYNC_IOC_FILE_INFO, &info));
    printf("  sync_file name \"%s\" status %d num_fences %u; poll(POLLIN) revents 0x%x\n",
           info.name, info.status, info.num_fences, poll_mask(e.fd, POLLIN));
  }
}

static void heap(void) {
  puts("== dma-heap");
  DIR *dir = opendir("/dev/dma_heap");
  struct dirent *de;
  printf("heaps:");
  while (dir && (de = readdir(dir))) if (de->d_name[0] != '.') printf(" %s", de->d_name);
  puts("");
  int h = TRY("open /dev/dma_heap/system", open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC));
  if (h < 0) return;
  struct dma_heap_allocation_data a = { .len = 0, .fd_flags = O_RDWR | O_CLOEXEC };
  TRY("ALLOC len 0", ioctl(h, DMA_HEAP_IOCTL_ALLOC, &a));
  a.len = 65536; a.heap_flags = 1;
  TRY("ALLOC heap_flags 1", ioctl(h, DMA_HEAP_IOCTL_ALLOC, &a));
  a.heap_flags = 0; a.fd_flags = O_RDWR | O_NONBLOCK;
  TRY("ALLOC fd_flags O_RDWR|O_NONBLOCK", ioctl(h, DMA_HEAP_IOCTL_ALLOC, &a));
  a.fd_flags = O_RDWR | O_CLOEXEC; a.len = 1000;
  TRY("ALLOC len 1000 (not page aligned)", ioctl(h, DMA_HEAP_IOCTL_ALLOC, &a));
  if (a.fd) { printf("  (len 1000 gave size %lld)\n", (long long)lseek(a.fd, 0, SEEK_END)); close(a.fd); }
  a.len = 1 << 20; a.fd = 0;
  int buf = TRY("ALLOC 1 MiB, O_RDWR|O_CLOEXEC", ioctl(h, DMA_HEAP_IOCTL_ALLOC, &a)) < 0 ? -1 : (int)a.fd;
  if (buf >= 0) show_fd("system-heap", buf);
}

static int open_vgem(void) {
  char path[64], name[64];
  for (int i = 0; i < 16; i++) {
    snprintf(path, sizeof path, "/dev/dri/card%d", i);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct drm_version v = { .name = name, .name_len = sizeof name - 1 };
    memset(name, 0, sizeof name);
    if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, "vgem") == 0) {
      printf("%s is vgem %d.%d.%d\n", path, v.version_major, v.version_minor, v.version_patchlevel);
      return fd;
    }
    close(fd);
  }
  puts("no vgem card found");
  return -1;
}

static void vgem(int slow) {
  puts("== vgem");
  int dri = open_vgem();
  if (dri < 0) return;
  struct drm_mode_create_dumb cd = { .width = 1024, .height = 64, .bpp = 32 };
  if (TRY("DRM_IOCTL_MODE_CREATE_DUMB 1024x64x32", ioctl(dri, DRM_IOCTL_MODE_CREATE_DUMB, &cd)) < 0) return;
  printf("  handle %u pitch %u size %llu\n", cd.handle, cd.pitch, (unsigned long long)cd.size);
  struct drm_prime_handle ph = { .handle = cd.handle, .flags = DRM_CLOEXEC | DRM_RDWR, .fd = -1 };
  if (TRY("DRM_IOCTL_PRIME_HANDLE_TO_FD CLOEXEC|RDWR", ioctl(dri, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph)) < 0) return;
  int buf = ph.fd;
  show_fd("vgem dma-buf", buf);
  printf("poll before fence: POLLIN|POLLOUT revents 0x%x\n", poll_mask(buf, POLLIN | POLLOUT));

  struct drm_vgem_fence_attach fa = { .handle = cd.handle, .flags = VGEM_FENCE_WRITE };
  if (TRY("VGEM_FENCE_ATTACH WRITE", ioctl(dri, DRM_IOCTL_VGEM_FENCE_ATTACH, &fa)) < 0) return;
  printf("  out_fence %u\n", fa.out_fence);
  struct drm_vgem_fence_attach fb = { .handle = cd.handle, .flags = 0x2 };
  TRY("VGEM_FENCE_ATTACH flags 0x2 (invalid)", ioctl(dri, DRM_IOCTL_VGEM_FENCE_ATTACH, &fb));
  fb.flags = VGEM_FENCE_WRITE;
  TRY("VGEM_FENCE_ATTACH WRITE again while first unsignalled", ioctl(dri, DRM_IOCTL_VGEM_FENCE_ATTACH, &fb));
  if (fb.out_fence != fa.out_fence && fb.out_fence) {
    printf("  out_fence %u\n", fb.out_fence);
  }
  printf("poll with write fence: POLLOUT revents 0x%x, POLLIN revents 0x%x\n",
         poll_mask(buf, POLLOUT), poll_mask(buf, POLLIN));

  struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_WRITE, .fd = -1 };
  TRY("EXPORT_SYNC_FILE (WRITE)", ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e));
  struct sync_file_info info = {0};
  if (e.fd >= 0) {
    TRY("SYNC_IOC_FILE_INFO", ioctl(e.fd, SYNC_IOC_FILE_INFO, &info));
    printf("  sync_file name \"%s\" status %d num_fences %u; poll(POLLIN) revents 0x%x\n",
           info.name, info.status, info.num_fences, poll_mask(e.fd, POLLIN));
  }

  struct drm_vgem_fence_signal fs = { .fence = fa.out_fence };
  TRY("VGEM_FENCE_SIGNAL", ioctl(dri, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs));
  if (fb.out_fence && fb.out_fence != fa.out_fence) {
    struct drm_vgem_fence_signal fs2 = { .fence = fb.out_fence };
    TRY("VGEM_FENCE_SIGNAL second fence", ioctl(dri, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs2));
  }
  printf("poll after signal: POLLOUT revents 0x%x, POLLIN revents 0x%x\n",
         poll_mask(buf, POLLOUT), poll_mask(buf, POLLIN));
  if (e.fd >= 0) {
    memset(&info, 0, sizeof info);
    TRY("SYNC_IOC_FILE_INFO after signal", ioctl(e.fd, SYNC_IOC_FILE_INFO, &info));
    printf("  sync_file status %d; poll(POLLIN) revents 0x%x\n", info.status, poll_mask(e.fd, POLLIN));
  }
  TRY("VGEM_FENCE_SIGNAL same fence again", ioctl(dri, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs));
  fs.fence = 12345;
  TRY("VGEM_FENCE_SIGNAL unknown fence id", ioctl(dri, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs));
  fs.fence = fa.out_fence; fs.flags = 1;
  TRY("VGEM_FENCE_SIGNAL flags 1", ioctl(dri, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs));
  void *p = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  printf("mmap vgem dma-buf: %s\n", p == MAP_FAILED ? strerrorname_np(errno) : "ok");
  if (!slow) return;

  // vgem force-signals a fence nobody signals, after a timeout.
  struct drm_vgem_fence_attach fc = { .handle = cd.handle, .flags = VGEM_FENCE_WRITE };
  TRY("VGEM_FENCE_ATTACH WRITE (left unsignalled)", ioctl(dri, DRM_IOCTL_VGEM_FENCE_ATTACH, &fc));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct pollfd pf = { .fd = buf, .events = POLLOUT };
  int n = poll(&pf, 1, 30000);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("poll(POLLOUT, 30 s) returned %d revents 0x%x after %.1f s\n", n, pf.revents,
         (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  fs.fence = fc.out_fence; fs.flags = 0;
  TRY("VGEM_FENCE_SIGNAL after the forced signal", ioctl(dri, DRM_IOCTL_VGEM_FENCE_SIGNAL, &fs));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  udmabuf();
  heap();
  vgem(argc > 1 && strcmp(argv[1], "--slow") == 0);
  return 0;
}
