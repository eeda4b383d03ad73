/*
 * The real-kernel half of test/linux/fs/path-max.test.ts: getname_flags() (fs/namei.c) refuses a path of
 * PATH_MAX (4096) bytes or more with ENAMETOOLONG, after the syscall's own flag checks (open: build_open_flags)
 * and before the walk. One line per call.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static char p[5000], q[4097];
static void res(const char *w, long r) { if (r < 0) printf("%s: E%d\n", w, errno); else printf("%s: ok\n", w); }
int main(void) {
  p[0] = '/'; memset(p + 1, 'a', 4990); p[4991] = 0;
  memset(q, '/', 4096); q[4096] = 0; /* 4096 bytes: one more than fits with the NUL */
  res("open long", open(p, O_RDONLY));
  res("open slashes 4096", open(q, O_RDONLY));
  res("open slashes 4095", open(q + 1, O_RDONLY) );
  res("open long O_CREAT|O_DIRECTORY", open(p, O_CREAT | O_DIRECTORY, 0600));
  res("open long O_TMPFILE rdonly", open(p, O_TMPFILE | O_RDONLY));
  char buf[64];
  res("readlink long", readlink(p, buf, sizeof buf));
  res("chmod long", chmod(p, 0600));
  res("chown long", chown(p, 0, 0));
  res("lchown long", lchown(p, 0, 0));
  DIR *d = opendir(p);
  res("opendir long", d ? 0 : -1);
  return 0;
}
