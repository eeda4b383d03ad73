// statx (fs/stat.c do_statx(), vfs_statx(), cp_statx()) on this machine's kernel, over the files the
// model has: what it prints does not depend on the host (no inode numbers or times; the mount id as
// whether it is the one /proc/self/fdinfo shows, the device as whether MAJOR:MINOR is newfstatat's
// st_dev split).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/** The mnt_id /proc/self/fdinfo shows for the file at dirfd/path (or the fd itself). */
static long fdinfo_mnt(int dirfd, const char *path, int flags) {
  if (!path[0] && dirfd == AT_FDCWD) path = ".";
  int fd = path[0] ? openat(dirfd, path, O_PATH | ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0)) : dirfd;
  if (fd < 0) return -1;
  char p[64], buf[512];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  int f = open(p, O_RDONLY);
  ssize_t n = read(f, buf, sizeof buf - 1);
  close(f);
  if (fd != dirfd) close(fd);
  buf[n > 0 ? n : 0] = 0;
  char *m = strstr(buf, "mnt_id:");
  return m ? atol(m + 7) : -1;
}

/** One statx call; `full` 0 leaves out nlink and size (a directory whose entries differ from the model's). */
/**
 * One statx call; `full` 0 leaves out nlink and size (a directory whose entries differ from the model's);
 * `ref` >= 0 is the fd whose fdinfo mnt_id is expected (a magic link's file).
 */
static void sxr(const char *name, int dirfd, const char *path, int flags, unsigned mask, int full, int ref) {
  struct statx s;
  memset(&s, 0xa5, sizeof s);
  if (syscall(SYS_statx, dirfd, path, flags, mask, &s) < 0) {
    printf("%s: errno=%s\n", name, strerrorname_np(errno));
    return;
  }
  struct stat st;
  int sf = flags & (AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
  fstatat(dirfd, path, &st, sf);
  long mnt = ref >= 0 ? fdinfo_mnt(ref, "", 0) : fdinfo_mnt(dirfd, path, flags);
  const char *m = s.stx_mnt_id == (unsigned long long)mnt ? "fdinfo" : s.stx_mnt_id == 0x80000000ull + mnt + 1 ? "unique" : "other";
  int spare = 1;
  for (int i = 0; i < 12; i++) spare &= s.__spare3[i] == 0;
  printf("%s: mask=%#x attrs=%#llx amask=%#llx mode=%o", name, s.stx_mask, (unsigned long long)s.stx_attributes,
         (unsigned long long)s.stx_attributes_mask, s.stx_mode);
  if (full) printf(" nlink=%u size=%llu", s.stx_nlink, (unsigned long long)s.stx_size);
  printf(" blksize=%u blocks=%llu owner=%u:%u rdev=%u:%u", s.stx_blksize, (unsigned long long)s.stx_blocks, s.stx_uid, s.stx_gid,
         s.stx_rdev_major, s.stx_rdev_minor);
  printf(" dev=%s mnt=%s btime=%s spare=%s\n", makedev(s.stx_dev_major, s.stx_dev_minor) == st.st_dev ? "stat" : "other", m,
         (s.stx_mask & STATX_BTIME) ? "set" : s.stx_btime.tv_sec == 0 && s.stx_btime.tv_nsec == 0 ? "zero" : "garbage",
         spare && s.__spare0[0] == 0 && s.stx_dio_mem_align == 0 ? "zero" : "garbage");
}

static void sxf(const char *name, int dirfd, const char *path, int flags, unsigned mask, int full) {
  sxr(name, dirfd, path, flags, mask, full, -1);
}

static void sx(const char *name, int dirfd, const char *path, int flags, unsigned mask) {
  sxr(name, dirfd, path, flags, mask, 1, -1);
}

int main(void) {
  struct statx marker;
  syscall(SYS_statx, AT_FDCWD, "/statx-oracle-begin", 0, 0, &marker);
  sx("null", AT_FDCWD, "/dev/null", 0, STATX_ALL);
  sx("null-0", AT_FDCWD, "/dev/null", 0, 0);
  sx("null-basic", AT_FDCWD, "/dev/null", 0, STATX_BASIC_STATS);
  sx("null-btime", AT_FDCWD, "/dev/null", 0, STATX_BTIME);
  sx("null-all-bits", AT_FDCWD, "/dev/null", 0, 0x7fffffff);
  sx("null-unique", AT_FDCWD, "/dev/null", 0, 0x4000);
  sx("null-both-ids", AT_FDCWD, "/dev/null", 0, 0x5000);
  sxf("dev", AT_FDCWD, "/dev", 0, STATX_ALL, 0);
  sxf("proc", AT_FDCWD, "/proc", 0, STATX_ALL, 0);
  sx("limits", AT_FDCWD, "/proc/self/limits", 0, STATX_ALL);
  sx("self-link", AT_FDCWD, "/proc/self", AT_SYMLINK_NOFOLLOW, STATX_ALL);
  sxf("fd-dir", AT_FDCWD, "/proc/self/fd", 0, STATX_ALL, 0);
  sxf("sys", AT_FDCWD, "/sys", 0, STATX_ALL, 0);
  sx("pci-devices", AT_FDCWD, "/sys/bus/pci/devices", 0, STATX_ALL);
  sx("drivers-probe", AT_FDCWD, "/sys/bus/pci/drivers_probe", 0, STATX_ALL);
  sx("misc-kvm-link", AT_FDCWD, "/sys/class/misc/kvm", AT_SYMLINK_NOFOLLOW, STATX_ALL);
  sxf("misc-kvm-dir", AT_FDCWD, "/sys/class/misc/kvm", 0, STATX_ALL, 0);
  int efd = eventfd(0, 0);
  sx("eventfd", efd, "", AT_EMPTY_PATH, STATX_ALL);
  int pp[2];
  pipe(pp);
  sx("pipe", pp[0], "", AT_EMPTY_PATH, STATX_ALL);
  int ep = epoll_create1(0);
  sx("epoll", ep, "", AT_EMPTY_PATH, STATX_ALL | 0x4000);
  int tmp = open("/dev", O_TMPFILE | O_RDWR, 0640);
  write(tmp, "xyz", 3);
  sx("tmpfile", tmp, "", AT_EMPTY_PATH, STATX_ALL);
  sx("tmpfile-0", tmp, "", AT_EMPTY_PATH, 0);
  int opath = open("/dev/null", O_PATH);
  sx("o-path", opath, "", AT_EMPTY_PATH, STATX_ALL);
  int dev = open("/dev", O_RDONLY | O_DIRECTORY);
  sx("dirfd-null", dev, "null", 0, STATX_ALL);
  sxf("dirfd-self", dev, "", AT_EMPTY_PATH, STATX_ALL, 0);
  char fdpath[64];
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", efd);
  sxr("fd-follow", AT_FDCWD, fdpath, 0, STATX_ALL, 1, efd);
  sx("dirfd-not-dir", efd, "null", 0, STATX_ALL);
  sx("sync-both", AT_FDCWD, "/dev/null", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_ALL);
  sx("sync-both-missing", AT_FDCWD, "/nonexistent", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_ALL);
  sx("force-sync", AT_FDCWD, "/dev/null", AT_STATX_FORCE_SYNC, STATX_ALL);
  sx("dont-sync", AT_FDCWD, "/dev/null", AT_STATX_DONT_SYNC, STATX_ALL);
  sx("reserved", AT_FDCWD, "/dev/null", 0, 0x80000000u);
  sx("reserved-missing", AT_FDCWD, "/nonexistent", 0, 0x80000000u);
  sx("reserved-empty", AT_FDCWD, "", 0, 0x80000000u);
  sx("bad-flags", AT_FDCWD, "/dev/null", 0x1, STATX_ALL);
  sx("bad-flags-missing", AT_FDCWD, "/nonexistent", 0x1, STATX_ALL);
  sx("missing", AT_FDCWD, "/nonexistent", 0, STATX_ALL);
  sx("empty", AT_FDCWD, "", 0, STATX_ALL);
  sx("bad-fd-empty", 999, "", AT_EMPTY_PATH, STATX_ALL);
  sx("bad-dirfd", 999, "null", 0, STATX_ALL);
  static char longp[5000];
  memset(longp, 'x', 4096);
  longp[0] = '/';
  sx("too-long", AT_FDCWD, longp, 0, STATX_ALL);
  sx("too-long-reserved", AT_FDCWD, longp, 0, 0x80000000u);
  chdir("/dev");
  sxf("empty-cwd", AT_FDCWD, "", AT_EMPTY_PATH, STATX_ALL, 0);
  sx("cwd-rel", AT_FDCWD, "null", 0, STATX_ALL);
  errno = 0;
  printf("null-buffer: errno=%s\n", syscall(SYS_statx, AT_FDCWD, "/dev/null", 0, STATX_ALL, NULL) < 0 ? strerrorname_np(errno) : "none");
  printf("null-buffer-missing: errno=%s\n", syscall(SYS_statx, AT_FDCWD, "/nonexistent", 0, STATX_ALL, NULL) < 0 ? strerrorname_np(errno) : "none");
  return 0;
}
