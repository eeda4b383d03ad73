/*
 * The real-kernel half of test/linux/mm/madvise.test.ts: madvise(2) (mm/madvise.c) on each kind of
 * mapping a VMM has — private and shared anonymous memory, a memfd mapped shared and private, locked
 * memory — printing each result and what the memory reads afterwards, as uid 65534. Guard regions
 * (MADV_GUARD_INSTALL/REMOVE, which this kernel accepts) are left out: the model does not have them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

static void res(const char *w, long r) {
  if (r < 0) printf("%s: E%d\n", w, errno);
  else printf("%s: %ld\n", w, r);
}

/* The first byte of each page of a mapping. */
static void bytes(const char *w, unsigned char *m, int pages) {
  printf("%s:", w);
  for (int i = 0; i < pages; i++) printf(" %x", m[i * 4096]);
  printf("\n");
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  struct rlimit rl = { 16 * 4096, 16 * 4096 };
  setrlimit(RLIMIT_MEMLOCK, &rl);
  if (setgid(65534) || setuid(65534)) return 1;
  const int P = 4096;
  unsigned char *a = mmap(NULL, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(a, 0x11, 8 * P);
  unsigned char *r = mmap(NULL, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned char *none = mmap(NULL, P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  res("unknown advice 99", madvise(a, P, 99));
  res("unaligned start", madvise(a + 1, P, MADV_DONTNEED));
  res("length 0", madvise(a, 0, MADV_DONTNEED));
  res("length -1", madvise(a, (size_t)-1, MADV_DONTNEED));
  res("length -4096", madvise(a, (size_t)-4096, MADV_NORMAL));
  res("unknown advice, unaligned", madvise(a + 1, P, 99));
  res("DONTNEED private anonymous pages 2-3", madvise(a + 2 * P, 2 * P, MADV_DONTNEED));
  bytes("private anonymous", a, 8);
  munmap(a + 5 * P, P);
  res("DONTNEED across a hole (pages 4-6)", madvise(a + 4 * P, 3 * P, MADV_DONTNEED));
  bytes("private anonymous", a, 5);
  printf("page 6: %x\n", a[6 * P]);
  res("DONTNEED unmapped only", madvise(a + 5 * P, P, MADV_DONTNEED));
  res("NORMAL across the hole", madvise(a, 8 * P, MADV_NORMAL));
  res("REMOVE private anonymous", madvise(a, P, MADV_REMOVE));
  res("FREE private anonymous", madvise(a, P, MADV_FREE));
  res("WILLNEED private anonymous", madvise(a, P, MADV_WILLNEED));
  res("RANDOM", madvise(a, P, MADV_RANDOM));
  res("SEQUENTIAL", madvise(a, P, MADV_SEQUENTIAL));
  res("DONTFORK", madvise(a, P, MADV_DONTFORK));
  res("DOFORK", madvise(a, P, MADV_DOFORK));
  res("DONTDUMP", madvise(a, P, MADV_DONTDUMP));
  res("DODUMP", madvise(a, P, MADV_DODUMP));
  res("MERGEABLE", madvise(a, P, MADV_MERGEABLE));
  res("UNMERGEABLE", madvise(a, P, MADV_UNMERGEABLE));
  res("HUGEPAGE", madvise(a, P, MADV_HUGEPAGE));
  res("NOHUGEPAGE", madvise(a, P, MADV_NOHUGEPAGE));
  res("COLD", madvise(a, P, MADV_COLD));
  res("PAGEOUT", madvise(a, P, MADV_PAGEOUT));
  res("POPULATE_READ", madvise(a, P, MADV_POPULATE_READ));
  res("POPULATE_WRITE", madvise(a, P, MADV_POPULATE_WRITE));
  res("WIPEONFORK", madvise(a, P, MADV_WIPEONFORK));
  res("KEEPONFORK", madvise(a, P, MADV_KEEPONFORK));
  res("COLLAPSE", madvise(a, P, 25));
  res("advice 26", madvise(a, P, 26));
  res("advice 104", madvise(a, P, 104));
  res("DONTNEED_LOCKED unlocked", madvise(a, P, MADV_DONTNEED_LOCKED));
  res("HWPOISON as uid 65534", madvise(a, P, MADV_HWPOISON));
  res("SOFT_OFFLINE as uid 65534", madvise(a, P, MADV_SOFT_OFFLINE));
  res("POPULATE_WRITE read-only", madvise(r, P, MADV_POPULATE_WRITE));
  res("POPULATE_READ read-only", madvise(r, P, MADV_POPULATE_READ));
  res("POPULATE_READ PROT_NONE", madvise(none, P, MADV_POPULATE_READ));
  res("POPULATE_WRITE PROT_NONE", madvise(none, P, MADV_POPULATE_WRITE));
  res("DONTNEED PROT_NONE", madvise(none, P, MADV_DONTNEED));
  res("POPULATE_READ across the hole", madvise(a + 4 * P, 3 * P, MADV_POPULATE_READ));

  unsigned char *s = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memset(s, 0x22, 4 * P);
  res("DONTNEED shared anonymous", madvise(s, 2 * P, MADV_DONTNEED));
  bytes("shared anonymous", s, 4);
  res("FREE shared anonymous", madvise(s, P, MADV_FREE));
  res("REMOVE shared anonymous page 1", madvise(s + P, P, MADV_REMOVE));
  bytes("shared anonymous", s, 4);

  int fd = memfd_create("ram", MFD_CLOEXEC);
  ftruncate(fd, 4 * P);
  unsigned char *m = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  memset(m, 0x33, 4 * P);
  unsigned char *p = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  p[0] = 0x44;
  p[P] = 0x44;
  res("DONTNEED memfd shared", madvise(m, P, MADV_DONTNEED));
  bytes("memfd shared", m, 4);
  res("DONTNEED memfd private page 0", madvise(p, P, MADV_DONTNEED));
  bytes("memfd private", p, 4);
  res("REMOVE memfd private", madvise(p, P, MADV_REMOVE));
  res("FREE memfd shared", madvise(m, P, MADV_FREE));
  res("REMOVE memfd shared pages 2-3", madvise(m + 2 * P, 2 * P, MADV_REMOVE));
  bytes("memfd shared", m, 4);
  unsigned char b = 0xff;
  pread(fd, &b, 1, 2 * P);
  printf("memfd byte at page 2 by pread: %x\n", b);
  unsigned char *ro = mmap(NULL, P, PROT_READ, MAP_SHARED, fd, 0);
  res("REMOVE memfd shared read-only", madvise(ro, P, MADV_REMOVE));
  res("WILLNEED memfd shared", madvise(m, P, MADV_WILLNEED));
  res("WIPEONFORK memfd shared", madvise(m, P, MADV_WIPEONFORK));
  res("COLLAPSE memfd shared", madvise(m, P, 25));
  res("COLD memfd shared", madvise(m, P, MADV_COLD));

  unsigned char *l = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(l, 0x55, 2 * P);
  res("mlock", mlock(l, 2 * P));
  res("DONTNEED locked", madvise(l, P, MADV_DONTNEED));
  res("FREE locked", madvise(l, P, MADV_FREE));
  res("DONTNEED_LOCKED locked", madvise(l, P, MADV_DONTNEED_LOCKED));
  bytes("locked", l, 2);
  return 0;
}
