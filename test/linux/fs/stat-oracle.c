/*
 * The real-kernel half of test/linux/fs/stat.test.ts: stats a fixed list of device nodes, procfs and
 * sysfs files and directories, and open fds (eventfd, pipe, epoll, /dev/kvm and a KVM VM, an O_PATH
 * fd, an O_TMPFILE file), and the error cases, and prints one line per step with only the fields that
 * do not depend on this host: the file type, the fields named in the step's `what` string (m: mode
 * bits, n: nlink, s: size, b: blksize, k: blocks, u: uid/gid), st_rdev as major:minor for devices, or
 * the errno. The test runs the same steps on the model (statSteps in stat.test.ts: keep the two in
 * step). Under strace, the "/stat-oracle-begin" lookup marks where the steps start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *type_of(mode_t m) {
  switch (m & S_IFMT) {
  case S_IFCHR: return "chr";
  case S_IFDIR: return "dir";
  case S_IFREG: return "reg";
  case S_IFLNK: return "lnk";
  case S_IFIFO: return "fifo";
  case 0: return "none";
  default: return "other";
  }
}

/* One step's line: `name: errno=ENOENT`, or the type and the fields `what` names. */
static void show(const char *name, int rc, const struct stat *st, const char *what) {
  if (rc < 0) {
    printf("%s: errno=%s\n", name, strerrorname_np(errno));
    return;
  }
  printf("%s: type=%s", name, type_of(st->st_mode));
  if (strchr(what, 'm')) printf(" mode=%04o", st->st_mode & 07777);
  if (S_ISCHR(st->st_mode)) printf(" rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
  if (strchr(what, 'n')) printf(" nlink=%lu", (unsigned long)st->st_nlink);
  if (strchr(what, 's')) printf(" size=%ld", (long)st->st_size);
  if (strchr(what, 'b')) printf(" blksize=%ld", (long)st->st_blksize);
  if (strchr(what, 'k')) printf(" blocks=%ld", (long)st->st_blocks);
  if (strchr(what, 'u')) printf(" owner=%u:%u", st->st_uid, st->st_gid);
  printf("\n");
}

static void at(const char *name, int dirfd, const char *path, int flags, const char *what) {
  struct stat st;
  int rc = fstatat(dirfd, path, &st, flags);
  show(name, rc, &st, what);
}

static void file(const char *name, const char *path) {
  char buf[64] = "";
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n < 0) printf("%s: errno=%s\n", name, strerrorname_np(errno));
  else printf("%s: %.*s", name, (int)n, buf);
}

int main(void) {
  static char obuf[1 << 16];
  setvbuf(stdout, obuf, _IOFBF, sizeof obuf); /* no fstat(1) from stdio in the trace */
  for (int i = 3; i < 1024; i++) close(i);     /* fd numbers as in the model */
  struct stat st;
  char path[64];
  stat("/stat-oracle-begin", &st);

  at("kvm", AT_FDCWD, "/dev/kvm", 0, "nsb");
  at("null", AT_FDCWD, "/dev/null", 0, "mnsbku");
  at("zero", AT_FDCWD, "/dev/zero", 0, "mnsbku");
  at("vfio", AT_FDCWD, "/dev/vfio/vfio", 0, "mnsb");
  at("limits", AT_FDCWD, "/proc/self/limits", 0, "mnsbk");
  at("self-link", AT_FDCWD, "/proc/self", AT_SYMLINK_NOFOLLOW, "mnsb");
  at("self-dir", AT_FDCWD, "/proc/self", 0, "msb");
  at("fdinfo-dir", AT_FDCWD, "/proc/self/fdinfo", 0, "mnsb");
  at("pci-devices", AT_FDCWD, "/sys/bus/pci/devices", 0, "mnsbk");
  at("drivers-probe", AT_FDCWD, "/sys/bus/pci/drivers_probe", 0, "mnsbk");
  at("drivers-autoprobe", AT_FDCWD, "/sys/bus/pci/drivers_autoprobe", 0, "mnsb");
  at("misc-kvm-link", AT_FDCWD, "/sys/class/misc/kvm", AT_SYMLINK_NOFOLLOW, "mnsb");
  at("misc-kvm-dir", AT_FDCWD, "/sys/class/misc/kvm", 0, "msb");
  at("misc-kvm-dev", AT_FDCWD, "/sys/class/misc/kvm/dev", 0, "mnsb");
  file("misc-kvm-dev-text", "/sys/class/misc/kvm/dev");
  file("mem-null-dev-text", "/sys/class/mem/null/dev");

  int efd = eventfd(0, 0);
  at("eventfd", efd, "", AT_EMPTY_PATH, "mnsbku");
  int p[2];
  if (pipe(p) < 0) perror("pipe");
  at("pipe-r", p[0], "", AT_EMPTY_PATH, "mnsbk");
  at("pipe-w", p[1], "", AT_EMPTY_PATH, "mnsbk");
  int ep = epoll_create1(0);
  at("epoll", ep, "", AT_EMPTY_PATH, "mnsbu");
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  at("kvm-fd", kvm, "", AT_EMPTY_PATH, "nsb");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  at("kvm-vm", vm, "", AT_EMPTY_PATH, "mnsbu");
  int opath = open("/dev/null", O_PATH);
  at("o-path", opath, "", AT_EMPTY_PATH, "mnsb");
  at("fd-dir", AT_FDCWD, "/proc/self/fd", 0, "mnsb");
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
  at("fd-link-r", AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, "mnsu");
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
  at("fd-link-w", AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, "mns");
  snprintf(path, sizeof path, "/proc/self/fd/%d", efd);
  at("fd-link-rw", AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, "mns");
  snprintf(path, sizeof path, "/proc/self/fd/%d", opath);
  at("fd-link-path", AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, "mns");
  snprintf(path, sizeof path, "/proc/self/fd/%d", efd);
  at("fd-follow", AT_FDCWD, path, 0, "mnsb");
  int dev = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  at("dirfd-null", dev, "null", 0, "mnsb");
  at("dirfd-self", dev, "", AT_EMPTY_PATH, "m");
  at("dirfd-not-dir", efd, "null", 0, "");
  at("bad-fd", 999, "", AT_EMPTY_PATH, "");
  at("bad-dirfd", 999, "null", 0, "");
  at("missing", AT_FDCWD, "/nonexistent", 0, "");
  at("through-file", AT_FDCWD, "/dev/null/x", 0, "");
  at("empty-path", AT_FDCWD, "", 0, "");
  at("bad-flags", AT_FDCWD, "/dev/null", 0x1, "");
  at("empty-path-bad-flags", efd, "", AT_EMPTY_PATH | 0x1, "m");
  errno = 0;
  long rc = syscall(SYS_newfstatat, AT_FDCWD, "/dev/null", NULL, 0);
  show("null-buffer", (int)rc, &st, "");
  int tmp = open("/dev", O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);
  if (write(tmp, "xyz", 3) != 3) perror("write");
  at("tmpfile", tmp, "", AT_EMPTY_PATH, "mnsbku");
  fflush(stdout);

  /* Search permission: uid 65534 walking into another process's /proc/<pid>/fd (0500, root's). */
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) < 0 || setuid(65534) < 0) _exit(1);
    snprintf(path, sizeof path, "/proc/%d/fd/0", (int)parent);
    at("eacces", AT_FDCWD, path, 0, "");
    fflush(stdout);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  return 0;
}
