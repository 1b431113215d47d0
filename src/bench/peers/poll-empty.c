// ibv_poll_cq on an empty CQ, N times: the C floor for dmabridge's seam call.
// Usage: poll-empty DEVICE N REPS   Prints {"poll":[ns per call...]}.
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

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: poll-empty DEVICE N REPS\n"); return 2; }
  long n = atol(argv[2]);
  int reps = atoi(argv[3]);
  struct ibv_device **list = ibv_get_device_list(NULL);
  struct ibv_context *ctx = NULL;
  for (int i = 0; list && list[i]; i++)
    if (strcmp(ibv_get_device_name(list[i]), argv[1]) == 0) ctx = ibv_open_device(list[i]);
  struct ibv_cq *cq = ctx ? ibv_create_cq(ctx, 256, NULL, NULL, 0) : NULL;
  if (!cq) { fprintf(stderr, "poll-empty: cannot make a CQ on %s\n", argv[1]); return 1; }
  struct ibv_wc wc[16];
  long found = 0;
  printf("{\"poll\":[");
  for (int r = -1; r < reps; r++) {
    long long t0 = now_ns();
    for (long i = 0; i < n; i++) found += ibv_poll_cq(cq, 1, wc);
    long long t1 = now_ns();
    if (r >= 0) printf("%s%.2f", r ? "," : "", (double)(t1 - t0) / n);
  }
  printf("]}\n");
  return found != 0;
}
