// ibv_reg_mr/ibv_dereg_mr of one buffer, timed one call at a time.
// Usage: reg-loop DEVICE SIZE WARMUP REPS
// Prints {"reg":[ns...],"dereg":[ns...]} for the timed repetitions.
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct ibv_context *open_device(const char *name) {
  struct ibv_device **list = ibv_get_device_list(NULL);
  for (int i = 0; list && list[i]; i++)
    if (strcmp(ibv_get_device_name(list[i]), name) == 0) return ibv_open_device(list[i]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: reg-loop DEVICE SIZE WARMUP REPS\n"); return 2; }
  size_t size = strtoull(argv[2], NULL, 0);
  int warmup = atoi(argv[3]), reps = atoi(argv[4]);
  struct ibv_context *ctx = open_device(argv[1]);
  if (!ctx) { fprintf(stderr, "reg-loop: cannot open %s\n", argv[1]); return 1; }
  struct ibv_pd *pd = ibv_alloc_pd(ctx);
  void *buf = aligned_alloc(4096, size);
  if (!pd || !buf) { perror("reg-loop: alloc"); return 1; }
  memset(buf, 1, size);  // fault the pages in first, as Node's zeroed buffers are
  long long *reg = calloc(reps, sizeof *reg), *dereg = calloc(reps, sizeof *dereg);
  for (int i = -warmup; i < reps; i++) {
    long long t0 = now_ns();
    struct ibv_mr *mr = ibv_reg_mr(pd, buf, size, IBV_ACCESS_LOCAL_WRITE);
    long long t1 = now_ns();
    if (!mr) { perror("reg-loop: ibv_reg_mr"); return 1; }
    if (ibv_dereg_mr(mr)) { perror("reg-loop: ibv_dereg_mr"); return 1; }
    long long t2 = now_ns();
    if (i >= 0) { reg[i] = t1 - t0; dereg[i] = t2 - t1; }
  }
  printf("{\"reg\":[");
  for (int i = 0; i < reps; i++) printf("%s%lld", i ? "," : "", reg[i]);
  printf("],\"dereg\":[");
  for (int i = 0; i < reps; i++) printf("%s%lld", i ? "," : "", dereg[i]);
  printf("]}\n");
  return 0;
}
