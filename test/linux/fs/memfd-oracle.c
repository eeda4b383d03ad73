/*
 * The real-kernel half of test/linux/fs/memfd.test.ts: memfd_create (mm/memfd.c), file seals
 * (F_ADD_SEALS/F_GET_SEALS), ftruncate (fs/open.c do_ftruncate -> shmem_setattr), fallocate and
 * shared/private mappings of a memfd (mm/shmem.c), printing each result as the model prints it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 8U
#define MFD_EXEC 0x10U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x20
#endif

static const int P = 4096;

static void res(const char *w, long r) {
  if (r < 0) printf("%s: E%d\n", w, errno);
  else printf("%s: %ld\n", w, r);
}

static long mfd(const char *name, unsigned flags) { return syscall(SYS_memfd_create, name, flags); }

static void st(const char *w, int fd) {
  struct stat s;
  if (fstat(fd, &s)) { printf("%s: E%d\n", w, errno); return; }
  printf("%s: mode 0%o size %ld blocks %ld nlink %ld\n", w, s.st_mode, (long)s.st_size, (long)s.st_blocks, (long)s.st_nlink);
}

static void fdlink(const char *w, int fd) {
  char p[64], t[300];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(p, t, sizeof t - 1);
  t[n < 0 ? 0 : n] = 0;
  printf("%s: %s\n", w, t);
}

static long mapres(void *m) { return m == MAP_FAILED ? -1 : 0; }

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  char name[260];
  memset(name, 'n', sizeof name);
  name[249] = 0;
  res("memfd_create name of 249", mfd(name, MFD_CLOEXEC));
  name[249] = 'n';
  name[250] = 0;
  res("memfd_create name of 250", mfd(name, MFD_CLOEXEC));
  res("memfd_create NULL name", mfd(NULL, 0));
  res("memfd_create flags 0x40", mfd("x", 0x40));
  res("memfd_create MFD_EXEC|MFD_NOEXEC_SEAL", mfd("x", MFD_EXEC | MFD_NOEXEC_SEAL));
  res("memfd_create MFD_HUGETLB|0x40", mfd("x", MFD_HUGETLB | 0x40));

  int fd = mfd("vm-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  printf("memfd_create vm-ram: %s\n", fd >= 0 ? "ok" : "failed");
  st("fstat new", fd);
  fdlink("readlink", fd);
  res("F_GETFD", fcntl(fd, F_GETFD));
  res("F_GETFL", fcntl(fd, F_GETFL));
  res("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
  res("ftruncate 64 KiB", ftruncate(fd, 0x10000));
  st("fstat after ftruncate", fd);
  res("ftruncate -1", ftruncate(fd, -1));
  res("ftruncate bad fd", ftruncate(999, 0));
  res("ftruncate eventfd", ftruncate(eventfd(0, 0), 0));
  int ro = open("/proc/self/fd/3", O_RDONLY); /* re-open through procfs: a read-only file on the same inode */
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  close(ro);
  ro = open(p, O_RDONLY);
  res("ftruncate read-only fd", ftruncate(ro, 0));
  res("F_ADD_SEALS read-only fd", fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK));
  res("F_GET_SEALS read-only fd", fcntl(ro, F_GET_SEALS));

  unsigned char *m = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  res("mmap shared rw", mapres(m));
  m[0x1000] = 0xab;
  unsigned char b[4] = {0};
  res("pread after a store through the mapping", pread(fd, b, 1, 0x1000));
  printf("byte read: 0x%x\n", b[0]);
  b[0] = 0xcd;
  res("pwrite", pwrite(fd, b, 1, 0x2000));
  printf("byte seen through the mapping: 0x%x\n", m[0x2000]);
  st("fstat after touching 2 pages", fd);
  unsigned char *pm = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0x1000);
  res("mmap private", mapres(pm));
  printf("private sees 0x%x\n", pm[0]);
  pm[0] = 0x11;
  printf("shared after a private store: 0x%x\n", m[0x1000]);
  res("F_ADD_SEALS 0x40", fcntl(fd, F_ADD_SEALS, 0x40));
  res("F_ADD_SEALS F_SEAL_WRITE while mapped shared rw", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  munmap(m, 0x10000);
  m = mmap(NULL, 0x10000, PROT_READ, MAP_SHARED, fd, 0);
  res("mmap shared read-only", mapres(m));
  res("F_ADD_SEALS F_SEAL_WRITE while mapped shared read-only", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  munmap(m, 0x10000);
  res("F_ADD_SEALS F_SEAL_WRITE unmapped (a private mapping stays)", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  res("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
  res("write sealed", write(fd, b, 1));
  res("pwrite sealed", pwrite(fd, b, 1, 0));
  res("mmap shared rw sealed", mapres(mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)));
  res("mmap shared read-only sealed", mapres(mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, fd, 0)));
  res("mmap private rw sealed", mapres(mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)));
  res("fallocate punch sealed", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 0x1000));
  res("ftruncate smaller, write-sealed", ftruncate(fd, 0x8000));
  res("ftruncate larger, write-sealed", ftruncate(fd, 0x20000));
  res("F_ADD_SEALS F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
  res("F_ADD_SEALS after F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
  res("F_ADD_SEALS nothing after F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, 0));

  int g = mfd("grow", MFD_ALLOW_SEALING);
  res("ftruncate 2 pages", ftruncate(g, 0x2000));
  res("F_ADD_SEALS F_SEAL_SHRINK|F_SEAL_GROW", fcntl(g, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
  res("ftruncate smaller, shrink-sealed", ftruncate(g, 0x1000));
  res("ftruncate larger, grow-sealed", ftruncate(g, 0x3000));
  res("ftruncate same size", ftruncate(g, 0x2000));
  unsigned char big[0x2000];
  memset(big, 7, sizeof big);
  res("pwrite inside", pwrite(g, big, 0x1000, 0x1000));
  res("pwrite across the end, grow-sealed", pwrite(g, big, 0x2000, 0x1000));
  res("pwrite across the end within a page", pwrite(g, big, 0x100, 0x1f80));
  res("pwrite at the end", pwrite(g, big, 1, 0x2000));
  res("fallocate to grow, grow-sealed", fallocate(g, 0, 0, 0x4000));
  res("fallocate KEEP_SIZE past the end, grow-sealed", fallocate(g, FALLOC_FL_KEEP_SIZE, 0, 0x4000));
  st("fstat", g);

  int f = mfd("future", MFD_ALLOW_SEALING);
  ftruncate(f, 0x1000);
  unsigned char *fm = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  res("F_ADD_SEALS F_SEAL_FUTURE_WRITE while mapped rw", fcntl(f, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  fm[0] = 9;
  b[0] = 0;
  pread(f, b, 1, 0);
  printf("a store through the older mapping lands: 0x%x\n", b[0]);
  res("write future-sealed", write(f, b, 1));
  res("mmap shared rw future-sealed", mapres(mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0)));
  void *fro = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, f, 0);
  res("mmap shared read-only future-sealed", mapres(fro));
  munmap(fm, 0x1000);
  res("F_ADD_SEALS F_SEAL_WRITE with only a read-only mapping made after the seal", fcntl(f, F_ADD_SEALS, F_SEAL_WRITE));

  int n = mfd("noseal", 0);
  res("F_GET_SEALS without MFD_ALLOW_SEALING", fcntl(n, F_GET_SEALS));
  res("F_ADD_SEALS without MFD_ALLOW_SEALING", fcntl(n, F_ADD_SEALS, F_SEAL_GROW));
  st("fstat without MFD_NOEXEC_SEAL", n);
  int x = mfd("noexec", MFD_NOEXEC_SEAL);
  res("F_GET_SEALS with MFD_NOEXEC_SEAL", fcntl(x, F_GET_SEALS));
  st("fstat with MFD_NOEXEC_SEAL", x);
  res("fchmod 0755 with F_SEAL_EXEC", fchmod(x, 0755));
  res("fchmod 0600 with F_SEAL_EXEC", fchmod(x, 0600));
  int e = mfd("exec", MFD_ALLOW_SEALING | MFD_EXEC);
  res("F_ADD_SEALS F_SEAL_EXEC on an executable memfd", fcntl(e, F_ADD_SEALS, F_SEAL_EXEC));
  res("F_GET_SEALS", fcntl(e, F_GET_SEALS));
  int e2 = mfd("exec2", MFD_ALLOW_SEALING);
  fchmod(e2, 0644);
  res("F_ADD_SEALS F_SEAL_EXEC after chmod 0644", fcntl(e2, F_ADD_SEALS, F_SEAL_EXEC));
  res("F_GET_SEALS", fcntl(e2, F_GET_SEALS));
  int ev = eventfd(0, 0);
  res("F_ADD_SEALS eventfd", fcntl(ev, F_ADD_SEALS, F_SEAL_GROW));
  res("F_GET_SEALS eventfd", fcntl(ev, F_GET_SEALS));
  res("F_ADD_SEALS upper bits", syscall(SYS_fcntl, g, F_ADD_SEALS, 0x100000001UL));
  res("F_GET_SEALS", fcntl(g, F_GET_SEALS));

  snprintf(p, sizeof p, "/proc/self/fd/%d", g);
  res("open O_TRUNC through /proc/self/fd, shrink-sealed", open(p, O_RDWR | O_TRUNC));
  res("open O_RDONLY through /proc/self/fd", open(p, O_RDONLY) >= 0 ? 0 : -1);
  int t = open("/dev/vks-memfd-oracle", O_CREAT | O_RDWR, 0600);
  unlink("/dev/vks-memfd-oracle");
  res("F_GET_SEALS tmpfs file", fcntl(t, F_GET_SEALS));
  res("F_ADD_SEALS tmpfs file", fcntl(t, F_ADD_SEALS, F_SEAL_GROW));
  res("F_GET_SEALS /dev/null", fcntl(open("/dev/null", O_RDWR), F_GET_SEALS));

  res("F_ADD_SEALS bits past 31 only", syscall(SYS_fcntl, g, F_ADD_SEALS, 0x100000000UL));
  res("memfd_create with escapes in the name", mfd("caf\303\251\t\"q\1", 0) >= 0 ? 0 : -1);
  res("memfd_create 0x80000000", mfd("x", 0x80000000U));
  res("memfd_create MFD_HUGETLB|0x40|21<<MFD_HUGE_SHIFT", mfd("x", MFD_HUGETLB | 0x40 | (21U << 26)));
  int w = mfd("exec-mapped", MFD_ALLOW_SEALING);
  ftruncate(w, P);
  void *wm = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED, w, 0);
  res("F_ADD_SEALS F_SEAL_EXEC on an executable memfd mapped shared rw", fcntl(w, F_ADD_SEALS, F_SEAL_EXEC));
  res("F_GET_SEALS", fcntl(w, F_GET_SEALS));
  munmap(wm, P);
  snprintf(p, sizeof p, "/proc/self/fd/%d", w);
  int op = open(p, O_PATH);
  st("fstat of an O_PATH open through /proc/self/fd", op);

  int h = mfd("punch", 0);
  ftruncate(h, 0x3000);
  unsigned char *hm = mmap(NULL, 0x3000, PROT_READ | PROT_WRITE, MAP_SHARED, h, 0);
  memset(hm, 5, 0x3000);
  st("fstat after filling 3 pages", h);
  res("fallocate PUNCH_HOLE without KEEP_SIZE", fallocate(h, FALLOC_FL_PUNCH_HOLE, 0x1000, 0x1000));
  res("fallocate PUNCH_HOLE|KEEP_SIZE page 1", fallocate(h, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0x1000, 0x1000));
  res("fallocate PUNCH_HOLE|KEEP_SIZE 10 bytes", fallocate(h, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0x2000, 10));
  st("fstat after the punches", h);
  res("SEEK_HOLE", lseek(h, 0, SEEK_HOLE));
  res("SEEK_DATA from the hole", lseek(h, 0x1000, SEEK_DATA));
  res("fallocate mode 0 to 5 pages", fallocate(h, 0, 0x4000, 0x1000));
  st("fstat after fallocate", h);
  res("fallocate ZERO_RANGE", fallocate(h, FALLOC_FL_ZERO_RANGE, 0, 0x1000));
  /* Loads through the mapping fault pages back in (shmem_fault), so they come after the fstats. */
  printf("mapping after the punches: %x %x %x %x\n", hm[0x0], hm[0x1000], hm[0x2000 + 9], hm[0x2000 + 10]);
  res("ftruncate to 1 page", ftruncate(h, 0x1000));
  res("ftruncate back to 3 pages", ftruncate(h, 0x3000));
  st("fstat", h);
  printf("mapping after truncation to 1 page and back: %x %x\n", hm[0], hm[0x2000]);
  return 0;
}
