// memset and memcpy over a mapped dma-buf from /dev/dma_heap/system, each
// bracketed by DMA_BUF_IOCTL_SYNC as dmabridge's begin()/end() are.
// Usage: fill SIZE WARMUP REPS
// Prints {"fill":[ns...],"read":[ns...]}.
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sync_buf(int fd, unsigned long long flags) {
  struct dma_buf_sync s = { .flags = flags };
  if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s)) { perror("fill: DMA_BUF_IOCTL_SYNC"); exit(1); }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: fill SIZE WARMUP REPS\n"); return 2; }
  size_t size = strtoull(argv[1], NULL, 0);
  int warmup = atoi(argv[2]), reps = atoi(argv[3]);
  int heap = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
  struct dma_heap_allocation_data alloc = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
  if (heap < 0 || ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc)) { perror("fill: dma-heap alloc"); return 1; }
  int fd = alloc.fd;
  unsigned char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  unsigned char *dst = malloc(size);
  if (map == MAP_FAILED || !dst) { perror("fill: mmap"); return 1; }
  memset(dst, 0, size);
  long long *fill = calloc(reps, sizeof *fill), *rd = calloc(reps, sizeof *rd);
  for (int i = -warmup; i < reps; i++) {
    long long t0 = now_ns();
    sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    memset(map, 0xab ^ (i & 1), size);
    sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    long long t1 = now_ns();
    sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    memcpy(dst, map, size);
    sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    long long t2 = now_ns();
    if (dst[size / 2] != (0xab ^ (i & 1))) { fprintf(stderr, "fill: read back the wrong byte\n"); return 1; }
    if (i >= 0) { fill[i] = t1 - t0; rd[i] = t2 - t1; }
  }
  printf("{\"fill\":[");
  for (int i = 0; i < reps; i++) printf("%s%lld", i ? "," : "", fill[i]);
  printf("],\"read\":[");
  for (int i = 0; i < reps; i++) printf("%s%lld", i ? "," : "", rd[i]);
  printf("]}\n");
  return 0;
}
