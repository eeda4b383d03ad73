/*
 * The real-kernel half of test/linux/pipe.test.ts: runs a pipe script (one command per line on stdin)
 * with the raw syscalls and prints one result line per command; test/linux/pipe-script.ts runs the
 * same script on the model. Results never print fd numbers, only return values, errnos (E<n>), data
 * hashes and epoll events.
 *
 *   pipe R W FLAGS   pipe2(FLAGS in hex)            w FD N       write N pattern bytes
 *   r FD N           read up to N: n#fnv1a-hash     nread FD     ioctl(FIONREAD)
 *   getsz FD         fcntl(F_GETPIPE_SZ)            setsz FD N   fcntl(F_SETPIPE_SZ, N)
 *   getfl FD         fcntl(F_GETFL) in hex          setfl FD FL  fcntl(F_SETFL, FL in hex)
 *   poll FD          poll(POLLIN|POLLOUT, 0): revents in hex
 *   ep E             epoll_create1(0)               ctl E OP FD EV DATA   epoll_ctl (EV in hex)
 *   wait E MAX       epoll_wait(E, MAX, 0): n then data:events pairs
 *   dup FD NEW / close FD / reset (closes every named fd); a name not bound is fd -1
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "../support/script-names.h"

static unsigned seq;
static unsigned char buf[1 << 20];

/* A name not bound (yet) is fd -1: EBADF. */
static int lookup(const char *name) {
  int fd = named_fd(name);
  return fd == -2 ? -1 : fd;
}

static uint32_t fnv(const unsigned char *p, long n) {
  uint32_t h = 2166136261u;
  for (long i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
  return h;
}

int main(void) {
  char line[512];
  signal(SIGPIPE, SIG_IGN); /* EPIPE, as the model has no signals */
  while (fgets(line, sizeof line, stdin)) {
    char a[8][64] = {{0}};
    int n = sscanf(line, "%63s %63s %63s %63s %63s %63s", a[0], a[1], a[2], a[3], a[4], a[5]);
    if (n <= 0) continue;
    const char *c = a[0];
    if (strcmp(c, "pipe") == 0) {
      int p[2];
      long r = pipe2(p, (int)strtol(a[3], 0, 16));
      if (r == 0) { bind(a[1], p[0]); bind(a[2], p[1]); }
      ret(r);
    } else if (strcmp(c, "w") == 0) {
      long len = strtol(a[2], 0, 0);
      for (long i = 0; i < len; i++) buf[i] = (unsigned char)(seq + i);
      long r = write(lookup(a[1]), buf, len);
      if (r > 0) seq += r;
      ret(r);
    } else if (strcmp(c, "r") == 0) {
      long r = read(lookup(a[1]), buf, strtol(a[2], 0, 0));
      if (r < 0) ret(r);
      else printf("%ld#%08x\n", r, fnv(buf, r));
    } else if (strcmp(c, "nread") == 0) {
      int v = -1;
      long r = ioctl(lookup(a[1]), FIONREAD, &v);
      if (r < 0) ret(r);
      else printf("%d\n", v);
    } else if (strcmp(c, "getsz") == 0) {
      ret(fcntl(lookup(a[1]), F_GETPIPE_SZ));
    } else if (strcmp(c, "setsz") == 0) {
      ret(fcntl(lookup(a[1]), F_SETPIPE_SZ, (int)strtoul(a[2], 0, 0)));
    } else if (strcmp(c, "getfl") == 0) {
      long r = fcntl(lookup(a[1]), F_GETFL);
      if (r < 0) ret(r);
      else printf("%lx\n", r);
    } else if (strcmp(c, "setfl") == 0) {
      ret(fcntl(lookup(a[1]), F_SETFL, (int)strtol(a[2], 0, 16)));
    } else if (strcmp(c, "poll") == 0) {
      struct pollfd p = {lookup(a[1]), POLLIN | POLLOUT, 0};
      long r = poll(&p, 1, 0);
      if (r < 0) ret(r);
      else printf("%x\n", p.revents);
    } else if (strcmp(c, "ep") == 0) {
      long r = epoll_create1(0);
      if (r >= 0) bind(a[1], (int)r);
      ret(r < 0 ? r : 0);
    } else if (strcmp(c, "ctl") == 0) {
      int op = strcmp(a[2], "add") == 0 ? EPOLL_CTL_ADD : strcmp(a[2], "del") == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
      struct epoll_event ev = {(uint32_t)strtoul(a[4], 0, 16), {.u64 = strtoull(a[5], 0, 0)}};
      ret(epoll_ctl(lookup(a[1]), op, lookup(a[3]), &ev));
    } else if (strcmp(c, "wait") == 0) {
      struct epoll_event evs[16];
      int r = epoll_wait(lookup(a[1]), evs, (int)strtol(a[2], 0, 0), 0);
      if (r < 0) { ret(r); continue; }
      printf("%d", r);
      for (int i = 0; i < r; i++) printf(" %llu:%x", (unsigned long long)evs[i].data.u64, evs[i].events);
      printf("\n");
    } else if (strcmp(c, "dup") == 0) {
      long r = dup(lookup(a[1]));
      if (r >= 0) bind(a[2], (int)r);
      ret(r < 0 ? r : 0);
    } else if (strcmp(c, "close") == 0) {
      ret(close(lookup(a[1])));
    } else if (strcmp(c, "reset") == 0) {
      for (int i = 0; i < nnames; i++) close(fds[i]);
      nnames = 0;
      printf("reset\n");
    } else {
      fprintf(stderr, "unknown command %s\n", c);
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
