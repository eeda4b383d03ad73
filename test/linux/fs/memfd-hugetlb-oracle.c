/*
 * The real-kernel half of the MFD_HUGETLB test in test/linux/fs/memfd.test.ts: a hugetlbfs memfd
 * (fs/hugetlbfs/inode.c, mm/memfd.c) on this machine, which has 2 MiB and 1 GiB huge pages and none
 * reserved (vm.nr_hugepages 0).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void r(const char *w, long x) {
  if (x < 0) printf("%s: E%d\n", w, errno);
  else printf("%s: %ld\n", w, x);
}

static void st(const char *w, int fd) {
  struct stat s;
  fstat(fd, &s);
  printf("%s: mode 0%o size %ld blocks %ld blksize %ld nlink %ld dev %u:%u\n", w, s.st_mode, (long)s.st_size,
         (long)s.st_blocks, (long)s.st_blksize, (long)s.st_nlink, major(s.st_dev), minor(s.st_dev));
}

static void mnt(const char *w, int fd) {
  char p[64], l[128];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(p, "r");
  while (fgets(l, sizeof l, f))
    if (!strncmp(l, "mnt_id:", 7)) printf("%s %s", w, l);
  fclose(f);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  const long M2 = 2L << 20;
  int fd = memfd_create("h", MFD_HUGETLB | MFD_ALLOW_SEALING);
  r("create", fd >= 0 ? 0 : -1);
  st("fstat", fd);
  mnt("2 MiB", fd);
  char p[64], t[128] = {0};
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  readlink(p, t, sizeof t - 1);
  printf("link %s\n", t);
  r("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
  r("ftruncate 4096", ftruncate(fd, 4096));
  r("ftruncate 2M", ftruncate(fd, M2));
  r("ftruncate 3M", ftruncate(fd, 3L << 20));
  st("fstat", fd);
  char b[16] = {1};
  r("write", write(fd, b, 16));
  r("pwrite", pwrite(fd, b, 16, 0));
  r("read", read(fd, b, 16));
  printf("byte read: %d\n", b[0]);
  r("pread past the end", pread(fd, b, 16, 4L << 20));
  r("lseek SEEK_END", lseek(fd, 0, SEEK_END));
  void *m = mmap(0, M2, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  r("mmap shared", m == MAP_FAILED ? -1 : 0);
  m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  r("mmap shared MAP_NORESERVE of 4096 bytes", m == MAP_FAILED ? -1 : 0);
  m = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 4096);
  r("mmap at an unaligned offset", m == MAP_FAILED ? -1 : 0);
  m = mmap(0, M2, PROT_READ, MAP_PRIVATE, fd, 0);
  r("mmap private", m == MAP_FAILED ? -1 : 0);
  r("fallocate", fallocate(fd, 0, 0, M2));
  r("fallocate KEEP_SIZE", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, M2));
  r("fallocate PUNCH_HOLE", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, M2));
  r("fallocate ZERO_RANGE", fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, M2));
  r("F_ADD_SEALS F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
  r("ftruncate 4M, grow-sealed", ftruncate(fd, 4L << 20));
  int g = memfd_create("g", MFD_HUGETLB | (30 << 26));
  st("1 GiB fstat", g);
  mnt("1 GiB", g);
  r("1 GiB ftruncate 2M", ftruncate(g, M2));
  r("1 GiB ftruncate 1G", ftruncate(g, 1L << 30));
  r("create 2M explicit", memfd_create("x", MFD_HUGETLB | (21 << 26)) >= 0 ? 0 : -1);
  r("create 64K", memfd_create("x", MFD_HUGETLB | (16 << 26)));
  r("create with MFD_NOEXEC_SEAL", memfd_create("x", MFD_HUGETLB | 8) >= 0 ? 0 : -1);
  return 0;
}
