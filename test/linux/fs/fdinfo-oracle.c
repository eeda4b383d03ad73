/*
 * The real-kernel half of test/linux/fs/fdinfo.test.ts: makes eventfds, pipes, an epoll with several
 * items (EPOLLET, a fired EPOLLONESHOT, EPOLLEXCLUSIVE, a dup'd fd, a nested epoll), an O_RDWR|O_CLOEXEC
 * /dev/null and an O_TMPFILE file, changes close-on-exec and O_NONBLOCK with fcntl, and prints each
 * fd's /proc/self/fdinfo text after a "== name" line. The test runs the same sequence on the model
 * (fdinfoSequence in fdinfo.test.ts: keep the two in step).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void show(const char *name, int fd) {
  char path[64], buf[8192];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  int f = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = f < 0 ? -1 : read(f, buf, sizeof buf);
  if (f >= 0) close(f);
  printf("== %s\n", name);
  if (n > 0) fwrite(buf, 1, n, stdout);
}

static void add(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = { .events = events, .data.u64 = data };
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) perror("epoll_ctl");
}

int main(void) {
  for (int i = 3; i < 1024; i++) close(i); /* whatever the parent left open: fd numbers as in the model */
  uint64_t v = 7;
  int e1 = eventfd(0, 0);
  if (write(e1, &v, 8) != 8) perror("write");
  int e2 = eventfd(5, EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK);
  int e3 = eventfd(0, EFD_NONBLOCK);
  v = 0x123456789abcULL;
  if (write(e3, &v, 8) != 8) perror("write");
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) perror("pipe2");
  if (write(p[1], "abc", 3) != 3) perror("write");
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  add(ep, e1, EPOLLIN | EPOLLET, 0x1122334455667788ULL);
  add(ep, e2, EPOLLOUT | EPOLLONESHOT, 42);
  add(ep, p[0], EPOLLIN, (uint64_t)p[0]);
  int d = dup(e1);
  add(ep, d, EPOLLIN | EPOLLEXCLUSIVE, ~0ULL);
  add(ep, p[1], EPOLLOUT | EPOLLRDHUP, 0);
  struct epoll_event out[8];
  if (epoll_wait(ep, out, 8, 0) < 0) perror("epoll_wait");
  int ep2 = epoll_create(1);
  add(ep2, ep, EPOLLIN, 0);
  fcntl(e1, F_SETFD, FD_CLOEXEC);
  fcntl(nul, F_SETFD, 0);
  fcntl(e1, F_SETFL, O_NONBLOCK);
  int tmp = open("/dev", O_TMPFILE | O_RDWR, 0600);
  if (write(tmp, "xyz", 3) != 3) perror("write");
  show("e1", e1);
  show("e2", e2);
  show("e3", e3);
  show("p0", p[0]);
  show("p1", p[1]);
  show("nul", nul);
  show("ep", ep);
  show("d", d);
  show("ep2", ep2);
  show("tmp", tmp);
  return 0;
}
