/*
 * The real-kernel half of test/linux/fs/eventpoll.test.ts: runs an epoll script (one command per line
 * on stdin) with the raw syscalls and prints one result line per command. test/linux/fs/epoll-script.ts
 * runs the same script on the model; the test compares the two outputs line by line.
 *
 * Files are named; results never print fd numbers (they could differ), only return values, errnos
 * (E<n>), and epoll events as data:events in hex.
 *
 *   efd N [init]      eventfd(init, EFD_NONBLOCK)        pipe R W           pipe2(O_NONBLOCK)
 *   ep N              epoll_create1(0)                   create1 FLAGS      epoll_create1(FLAGS), closed again
 *   create SIZE       epoll_create(SIZE), closed again   open N PATH FLAGS  openat (FLAGS in hex)
 *   kvmvm N KVM       ioctl(KVM, KVM_CREATE_VM, 0)       kvmvcpu N VM       ioctl(VM, KVM_CREATE_VCPU, 0)
 *   ctl EP OP FD EV DATA   epoll_ctl with {EV (hex), DATA}; FD may be a name or a number
 *   ctlnull EP OP FD  epoll_ctl with a NULL event
 *   wait EP MAX [BYTES]   epoll_wait(EP, buf, MAX, 0) where only BYTES (default MAX*12) are mapped
 *   waitnull EP MAX   epoll_wait(EP, NULL, MAX, 0)
 *   pwait2 EP MAX SEC NSEC SIGSETSIZE MASK   epoll_pwait2(EP, buf, MAX, &{SEC, NSEC}, MASK, SIGSETSIZE);
 *                     MASK is a sigset in hex, or - for NULL
 *   pwait2null EP MAX SIGSETSIZE   epoll_pwait2(EP, buf, MAX, NULL, NULL, SIGSETSIZE)
 *   w N VAL / r N     eventfd write / read                pw N / pr N        1-byte pipe write / read
 *   poll N            poll({N, POLLIN|POLLOUT}, 1, 0): revents in hex
 *   dup N M / close N / getfl N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "../../support/script-names.h"

#define KVM_CREATE_VM 0xae01
#define KVM_CREATE_VCPU 0xae41

/* A name, or else a number (an fd the script passes as such). */
static int lookup(const char *name) {
  int fd = named_fd(name);
  if (fd != -2) return fd;
  char *end;
  long v = strtol(name, &end, 0);
  if (*end == 0) return (int)v;
  fprintf(stderr, "unknown name %s\n", name);
  exit(2);
}

static int op_of(const char *s) {
  if (strcmp(s, "add") == 0) return EPOLL_CTL_ADD;
  if (strcmp(s, "del") == 0) return EPOLL_CTL_DEL;
  if (strcmp(s, "mod") == 0) return EPOLL_CTL_MOD;
  return (int)strtol(s, 0, 0);
}

int main(void) {
  char line[512];
  long page = sysconf(_SC_PAGESIZE);
  /* Two pages, the second unmapped: a buffer that ends where the first page ends faults past its end. */
  char *area = mmap(0, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(area + page, page);
  while (fgets(line, sizeof line, stdin)) {
    char a[8][64] = {{0}};
    int n = sscanf(line, "%63s %63s %63s %63s %63s %63s %63s", a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    if (n <= 0) continue;
    const char *c = a[0];
    if (strcmp(c, "efd") == 0) {
      int fd = syscall(SYS_eventfd2, n > 2 ? atoi(a[2]) : 0, O_NONBLOCK);
      bind(a[1], fd);
      ret(fd < 0 ? fd : 0);
    } else if (strcmp(c, "pipe") == 0) {
      int p[2];
      long r = syscall(SYS_pipe2, p, O_NONBLOCK);
      bind(a[1], p[0]);
      bind(a[2], p[1]);
      ret(r);
    } else if (strcmp(c, "ep") == 0) {
      int fd = syscall(SYS_epoll_create1, 0);
      bind(a[1], fd);
      ret(fd < 0 ? fd : 0);
    } else if (strcmp(c, "create1") == 0 || strcmp(c, "create") == 0) {
      long fd = c[6] ? syscall(SYS_epoll_create1, (int)strtol(a[1], 0, 0)) : syscall(SYS_epoll_create, (int)strtol(a[1], 0, 0));
      if (fd >= 0) close(fd);
      ret(fd < 0 ? fd : 0);
    } else if (strcmp(c, "open") == 0) {
      int fd = syscall(SYS_openat, AT_FDCWD, a[2], (int)strtol(a[3], 0, 16), 0600);
      bind(a[1], fd);
      ret(fd < 0 ? fd : 0);
    } else if (strcmp(c, "kvmvm") == 0 || strcmp(c, "kvmvcpu") == 0) {
      int fd = ioctl(lookup(a[2]), c[3] == 'v' && c[4] == 'm' ? KVM_CREATE_VM : KVM_CREATE_VCPU, 0);
      bind(a[1], fd);
      ret(fd < 0 ? fd : 0);
    } else if (strcmp(c, "ctl") == 0) {
      struct epoll_event ev;
      ev.events = (uint32_t)strtoul(a[4], 0, 16);
      ev.data.u64 = strtoull(a[5], 0, 0);
      ret(syscall(SYS_epoll_ctl, lookup(a[1]), op_of(a[2]), lookup(a[3]), &ev));
    } else if (strcmp(c, "ctlnull") == 0) {
      ret(syscall(SYS_epoll_ctl, lookup(a[1]), op_of(a[2]), lookup(a[3]), NULL));
    } else if (strcmp(c, "wait") == 0 || strcmp(c, "waitnull") == 0 || strncmp(c, "pwait2", 6) == 0) {
      int max = (int)strtol(a[2], 0, 0);
      int pw2 = c[0] == 'p';
      long bytes = n > 3 && !pw2 ? atol(a[3]) : (long)max * 12;
      char *buf = 0;
      if (strcmp(c, "waitnull") != 0) {
        if (bytes > page) bytes = page;
        if (bytes < 0) bytes = 0;
        buf = area + page - bytes;
        memset(buf, 0xee, bytes);
      }
      long r;
      if (strcmp(c, "pwait2") == 0) {
        struct { int64_t sec; int64_t nsec; } ts = { strtoll(a[3], 0, 10), strtoll(a[4], 0, 10) };
        uint64_t mask = strtoull(a[6], 0, 16);
        r = syscall(SYS_epoll_pwait2, lookup(a[1]), buf, max, &ts, strcmp(a[6], "-") == 0 ? NULL : &mask, atol(a[5]));
      } else if (pw2) {
        r = syscall(SYS_epoll_pwait2, lookup(a[1]), buf, max, NULL, NULL, atol(a[3]));
      } else {
        r = syscall(SYS_epoll_wait, lookup(a[1]), buf, max, 0);
      }
      if (r < 0) { ret(r); continue; }
      printf("%ld", r);
      for (long i = 0; i < r; i++) {
        struct epoll_event *e = (struct epoll_event *)(buf + i * 12);
        printf(" %llu:%x", (unsigned long long)e->data.u64, e->events);
      }
      if (buf && bytes - r * 12 >= 4) printf(" next=%x", *(uint32_t *)(buf + r * 12));
      printf("\n");
    } else if (strcmp(c, "w") == 0) {
      uint64_t v = strtoull(a[2], 0, 0);
      ret(write(lookup(a[1]), &v, 8));
    } else if (strcmp(c, "r") == 0) {
      uint64_t v = 0;
      long r = read(lookup(a[1]), &v, 8);
      if (r < 0) ret(r);
      else printf("%llu\n", (unsigned long long)v);
    } else if (strcmp(c, "pw") == 0) {
      ret(write(lookup(a[1]), "x", 1));
    } else if (strcmp(c, "pr") == 0) {
      char b[64];
      ret(read(lookup(a[1]), b, 1));
    } else if (strcmp(c, "poll") == 0) {
      struct pollfd p = {lookup(a[1]), POLLIN | POLLOUT, 0};
      long r = poll(&p, 1, 0);
      if (r < 0) ret(r);
      else printf("%x\n", p.revents);
    } else if (strcmp(c, "dup") == 0) {
      int fd = dup(lookup(a[1]));
      bind(a[2], fd);
      ret(fd < 0 ? fd : 0);
    } else if (strcmp(c, "close") == 0) {
      ret(close(lookup(a[1])));
    } else if (strcmp(c, "getfl") == 0) {
      long r = fcntl(lookup(a[1]), F_GETFL);
      if (r < 0) ret(r);
      else printf("%lo\n", r);
    } else {
      fprintf(stderr, "unknown command %s\n", c);
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
