/*
 * For the script-driven C oracles (test/linux/fs/epoll-oracle.c, test/linux/pipe-oracle.c): scripts
 * name their fds, since the real and the model process number them differently; a result line is the
 * return value or E<errno>.
 */
#ifndef SCRIPT_NAMES_H
#define SCRIPT_NAMES_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char names[256][32];
static int fds[256];
static int nnames;

/* The fd bound to `name`, or -2 when the name is not bound. */
static int named_fd(const char *name) {
  for (int i = 0; i < nnames; i++) if (strcmp(names[i], name) == 0) return fds[i];
  return -2;
}

static void bind(const char *name, int fd) {
  for (int i = 0; i < nnames; i++) if (strcmp(names[i], name) == 0) { fds[i] = fd; return; }
  snprintf(names[nnames], sizeof names[0], "%s", name);
  fds[nnames++] = fd;
}

static void ret(long r) {
  if (r < 0) printf("E%d\n", errno);
  else printf("%ld\n", r);
}
#endif
