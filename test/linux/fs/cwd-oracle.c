// The working directory and relative paths on this machine's kernel (fs/namei.c path_init(),
// link_path_walk(); fs/open.c chdir, fchdir; fs/d_path.c getcwd; the *at() calls), in a tree this
// program builds under the directory argv[1] (which the test also builds in the model), then in /proc,
// /sys and /dev, and as uid 65534 in a directory whose parent it may not search. It prints one line per
// step; the test compares them with the model's, with the base path as $B and pids as PID.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *B;
static char tmp[8192];

static const char *p(const char *rel) {
  snprintf(tmp, sizeof tmp, "%s/%s", B, rel);
  return tmp;
}

/** The path with the base as $B and a /proc pid as PID. */
static void show_path(const char *name, const char *path) {
  size_t n = strlen(B);
  char out[8300];
  if (strncmp(path, B, n) == 0) snprintf(out, sizeof out, "$B%s", path + n);
  else if (strncmp(path, "/proc/", 6) == 0 && path[6] >= '0' && path[6] <= '9') {
    const char *rest = path + 6;
    while (*rest >= '0' && *rest <= '9') rest++;
    snprintf(out, sizeof out, "/proc/PID%s", rest);
  } else snprintf(out, sizeof out, "%s", path);
  printf("%s: %s\n", name, out);
}

static void ret(const char *name, long r) {
  if (r < 0) printf("%s: errno=%s\n", name, strerrorname_np(errno));
  else printf("%s: %ld\n", name, r);
}

static void st(const char *name, int dirfd, const char *path, int flags) {
  struct stat s;
  if (fstatat(dirfd, path, &s, flags) < 0) { printf("%s: errno=%s\n", name, strerrorname_np(errno)); return; }
  const char *t = S_ISDIR(s.st_mode) ? "dir" : S_ISREG(s.st_mode) ? "reg" : S_ISLNK(s.st_mode) ? "lnk" : S_ISCHR(s.st_mode) ? "chr" : "other";
  printf("%s: type=%s mode=%04o owner=%u:%u\n", name, t, s.st_mode & 07777, s.st_uid, s.st_gid);
}

static void cwd(const char *name, size_t size) {
  char buf[8192];
  long r = syscall(SYS_getcwd, buf, size);
  if (r < 0) printf("%s: errno=%s\n", name, strerrorname_np(errno));
  else {
    show_path(name, buf);
    // The length of a /proc/<pid> path depends on the pid.
    if (strncmp(buf, "/proc/", 6) != 0) printf("%s-ret: %ld\n", name, r);
  }
}

static void rl(const char *name, int dirfd, const char *path) {
  char buf[4096];
  ssize_t n = readlinkat(dirfd, path, buf, sizeof buf);
  if (n < 0) printf("%s: errno=%s\n", name, strerrorname_np(errno));
  else printf("%s: %.*s\n", name, (int)n, buf);
}

static void opened(const char *name, int fd) {
  if (fd < 0) printf("%s: errno=%s\n", name, strerrorname_np(errno));
  else printf("%s: fd %d\n", name, fd);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  B = argv[1];
  umask(022);
  chmod(B, 0755);
  mkdir(p("a"), 0755);
  mkdir(p("a/b"), 0755);
  close(open(p("a/b/f"), O_CREAT | O_WRONLY, 0644));
  symlink("b", p("a/link"));
  mkdir(p("noexec"), 0644);
  mkdir(p("locked"), 0700);
  mkdir(p("locked/in"), 0755);
  close(open(p("locked/in/g"), O_CREAT | O_WRONLY, 0644));
  printf("begin\n");
  fflush(stdout);
  struct stat marker;
  stat("/cwd-oracle-begin", &marker);

  // From "/" (the model's processes start there).
  ret("chdir-root", chdir("/"));
  cwd("cwd-root", 4096);
  st("rel-from-root", AT_FDCWD, p("a") + 1, 0);
  ret("chdir-base", chdir(B));
  cwd("cwd-base", 4096);
  st("rel-file", AT_FDCWD, "a/b/f", 0);
  st("rel-link", AT_FDCWD, "a/link", 0);
  st("rel-link-nofollow", AT_FDCWD, "a/link", AT_SYMLINK_NOFOLLOW);
  st("rel-dots", AT_FDCWD, "./a/../a/b/.", 0);
  st("rel-empty-path", AT_FDCWD, "", AT_EMPTY_PATH);
  st("rel-missing", AT_FDCWD, "a/missing", 0);
  st("rel-through-file", AT_FDCWD, "a/b/f/x", 0);

  // A directory fd.
  int d = open("a", O_RDONLY | O_DIRECTORY);
  opened("open-rel-dir", d);
  st("at-file", d, "b/f", 0);
  st("at-absolute", d, "/dev/null", 0);
  st("at-dotdot", d, "../a/b", 0);
  st("at-missing", d, "missing", 0);
  rl("readlinkat-link", d, "link");
  rl("readlinkat-dir", d, "b");
  rl("readlinkat-missing", d, "missing");
  int f = openat(d, "b/f", O_RDONLY);
  opened("openat-rel", f);
  opened("openat-not-dir", openat(f, "x", O_RDONLY));
  opened("openat-bad-fd", openat(999, "x", O_RDONLY));
  int n = openat(999, "/dev/null", O_RDONLY);
  opened("openat-bad-fd-absolute", n);
  close(n);
  st("fstatat-not-dir", f, "x", 0);
  opened("openat-create", n = openat(d, "new", O_CREAT | O_WRONLY, 0600));
  close(n);
  st("created", AT_FDCWD, "a/new", 0);
  opened("openat-empty", openat(d, "", O_RDONLY));
  ret("fchmodat", fchmodat(d, "b/f", 0600, 0));
  st("fchmodat-result", AT_FDCWD, "a/b/f", 0);
  ret("fchmodat-bad-fd", fchmodat(999, "a", 0755, 0));
  ret("fchmodat-not-dir", fchmodat(f, "a", 0755, 0));
  ret("fchownat", fchownat(d, "b/f", 65534, 65534, 0));
  st("fchownat-result", d, "b/f", 0);
  ret("fchownat-nofollow", fchownat(d, "link", 1, 1, AT_SYMLINK_NOFOLLOW));
  st("fchownat-nofollow-result", d, "link", AT_SYMLINK_NOFOLLOW);
  st("fchownat-nofollow-target", d, "b", 0);
  ret("fchownat-empty", fchownat(d, "", 2, 2, AT_EMPTY_PATH));
  st("fchownat-empty-result", AT_FDCWD, "a", 0);
  ret("fchownat-empty-no-flag", fchownat(d, "", 2, 2, 0));
  ret("fchownat-bad-flags", fchownat(d, "b", 0, 0, 0x1));
  ret("fchownat-restore", fchownat(AT_FDCWD, "a", 0, 0, 0));

  // chdir.
  ret("chdir-rel", chdir("a/b"));
  cwd("cwd-rel", 4096);
  ret("chdir-dotdot", chdir(".."));
  cwd("cwd-dotdot", 4096);
  ret("chdir-dot", chdir("."));
  ret("chdir-link", chdir("link"));
  cwd("cwd-link", 4096);
  ret("chdir-file", chdir("f"));
  ret("chdir-file-slash", chdir("f/"));
  ret("chdir-missing", chdir("missing"));
  ret("chdir-empty", chdir(""));
  static char longp[5000];
  memset(longp, 'x', 4096);
  ret("chdir-too-long", chdir(longp));
  char here[4096];
  long len = syscall(SYS_getcwd, here, sizeof here);
  cwd("getcwd-short", len - 1);
  cwd("getcwd-exact", len);
  cwd("getcwd-zero", 0);

  // fchdir.
  ret("fchdir", fchdir(d));
  cwd("cwd-fchdir", 4096);
  ret("fchdir-file", fchdir(f));
  ret("fchdir-bad-fd", fchdir(999));
  int op = open(p("a/b"), O_PATH);
  ret("fchdir-o-path", fchdir(op));
  cwd("cwd-o-path", 4096);
  close(op);
  close(f);
  close(d);

  // The model's trees.
  ret("chdir-proc-self", chdir("/proc/self"));
  cwd("cwd-proc-self", 4096);
  st("proc-fd", AT_FDCWD, "fd", 0);
  st("proc-limits", AT_FDCWD, "limits", 0);
  ret("chdir-sys", chdir("/sys/bus/pci"));
  st("sys-devices", AT_FDCWD, "devices", 0);
  st("sys-probe", AT_FDCWD, "drivers_probe", 0);
  st("sys-up", AT_FDCWD, "../../class/misc", 0);
  ret("chdir-dev", chdir("/dev"));
  st("dev-null", AT_FDCWD, "null", 0);
  st("dev-dot-null", AT_FDCWD, "./null", 0);
  ret("chdir-dev-null", chdir("null"));
  cwd("cwd-dev", 4096);

  // Permissions, as uid 65534 in $B/locked/in (its parent is 0700 root's).
  ret("chdir-locked-in", chdir(p("locked/in")));
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    if (setgid(65534) || setuid(65534)) _exit(3);
    cwd("nobody-cwd", 4096);
    st("nobody-rel", AT_FDCWD, "g", 0);
    st("nobody-abs", AT_FDCWD, p("locked/in/g"), 0);
    st("nobody-dotdot", AT_FDCWD, "..", 0);
    st("nobody-dotdot-in", AT_FDCWD, "../in/g", 0);
    ret("nobody-chdir-dotdot", chdir(".."));
    ret("nobody-chdir-noexec", chdir(p("noexec")));
    ret("nobody-chdir-a", chdir(p("a")));
    cwd("nobody-cwd-a", 4096);
    opened("nobody-open-rel", open("b/f", O_RDONLY));
    ret("nobody-chdir-locked", chdir(p("locked")));
    fflush(stdout);
    _exit(0);
  }
  int status;
  waitpid(c, &status, 0);
  return 0;
}
