/* The real kernel's eventfd write+read pair, the yardstick the model's interrupt paths are compared to.
 * Prints nanoseconds per pair (median of 5 runs of N pairs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  int fd = eventfd(0, EFD_NONBLOCK);
  uint64_t v = 1;
  double runs[5];
  for (int r = 0; r < 5; r++) {
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
      v = 1;
      if (write(fd, &v, 8) != 8) return 1;
      if (read(fd, &v, 8) != 8) return 1;
    }
    runs[r] = (now_ns() - t0) / n;
  }
  qsort(runs, 5, sizeof runs[0], cmp);
  printf("%.1f\n", runs[2]);
  return 0;
}
