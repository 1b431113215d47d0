// memset and memcpy over a dma-buf that the bench maps too, each bracketed by
// DMA_BUF_IOCTL_SYNC as dmabridge's begin()/end() are, one step at a time on
// the bench's word, so that the bench interleaves them with its own on the
// same memory (a drift in the machine's speed then weighs on both alike).
// Usage: fill SIZE, with the dma-buf on fd 3. Reads lines from stdin:
//   "w V": memset the buffer to V;  "r V": memcpy it out and check it holds V.
// Answers each with the step's time in ns on a line of its own.
#include <linux/dma-buf.h>
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

static void sync_buf(unsigned long long flags) {
  struct dma_buf_sync s = { .flags = flags };
  if (ioctl(3, DMA_BUF_IOCTL_SYNC, &s)) { perror("fill: DMA_BUF_IOCTL_SYNC"); exit(1); }
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: fill SIZE (the dma-buf on fd 3)\n"); return 2; }
  size_t size = strtoull(argv[1], NULL, 0);
  unsigned char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
  unsigned char *dst = malloc(size);
  if (map == MAP_FAILED || !dst) { perror("fill: mmap"); return 1; }
  memset(dst, 0, size);
  char op;
  int value;
  while (scanf(" %c %d", &op, &value) == 2) {
    long long t0 = now_ns();
    if (op == 'w') {
      sync_buf(DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
      memset(map, value, size);
      sync_buf(DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    } else {
      sync_buf(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
      memcpy(dst, map, size);
      sync_buf(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    }
    long long t1 = now_ns();
    if (op == 'r' && (dst[0] != value || dst[size / 2] != value || dst[size - 1] != value)) {
      fprintf(stderr, "fill: read %d, expected %d\n", dst[size / 2], value);
      return 1;
    }
    printf("%lld\n", t1 - t0);
    fflush(stdout);
  }
  return 0;
}
