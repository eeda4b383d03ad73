/*
 * The real-kernel half of test/linux/mm/mmap.test.ts: mmap(2)'s argument checks in do_mmap's order
 * (arch/x86 sys_mmap, mm/mmap.c ksys_mmap_pgoff, do_mmap, __get_unmapped_area, security/commoncap.c
 * cap_mmap_addr): mapping types, MAP_SHARED_VALIDATE's flag mask, MAP_HUGETLB with no huge pages
 * reserved, MAP_FIXED_NOREPLACE, addresses below vm.mmap_min_addr, ignored prot bits; as root, then as
 * uid 65534.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static void r(const char *w, void *p) {
  if (p == MAP_FAILED) printf("%s: E%d\n", w, errno);
  else printf("%s: ok\n", w);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  const int RW = PROT_READ | PROT_WRITE, ANON = MAP_PRIVATE | MAP_ANONYMOUS;
  r("prot PROT_READ|0x10", mmap(0, 4096, PROT_READ | 0x10, ANON, -1, 0));
  r("prot 0x10", mmap(0, 4096, 0x10, ANON, -1, 0));
  r("anonymous type 0xf", mmap(0, 4096, PROT_READ, 0xf | MAP_ANONYMOUS, -1, 0));
  r("anonymous MAP_DROPPABLE", mmap(0, 4096, PROT_READ, 0x8 | MAP_ANONYMOUS, -1, 0));
  r("anonymous MAP_SHARED_VALIDATE", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0));
  r("anonymous MAP_HUGETLB", mmap(0, 2 << 20, RW, ANON | MAP_HUGETLB, -1, 0));
  r("anonymous MAP_HUGETLB|MAP_NORESERVE 2 MiB pages", mmap(0, 2 << 20, RW, ANON | MAP_HUGETLB | MAP_NORESERVE | (21 << 26), -1, 0));
  r("anonymous shared MAP_HUGETLB", mmap(0, 2 << 20, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0));
  r("anonymous MAP_HUGETLB of 64 KiB pages", mmap(0, 2 << 20, RW, ANON | MAP_HUGETLB | (16 << 26), -1, 0));
  int fd = memfd_create("mmap", 0);
  ftruncate(fd, 8192);
  r("memfd MAP_HUGETLB", mmap(0, 4096, PROT_READ, MAP_SHARED | MAP_HUGETLB, fd, 0));
  r("memfd MAP_SHARED_VALIDATE", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE, fd, 0));
  r("memfd MAP_SHARED_VALIDATE|MAP_SYNC", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0));
  r("memfd MAP_SHARED_VALIDATE|MAP_FIXED_NOREPLACE", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE, fd, 0));
  r("memfd MAP_SHARED_VALIDATE|30<<MAP_HUGE_SHIFT|MAP_POPULATE", mmap(0, 4096, PROT_READ, MAP_SHARED_VALIDATE | (30 << 26) | MAP_POPULATE, fd, 0));
  r("memfd MAP_SHARED|MAP_SYNC", mmap(0, 4096, PROT_READ, MAP_SHARED | MAP_SYNC, fd, 0));
  r("memfd MAP_DROPPABLE", mmap(0, 4096, PROT_READ, 0x8, fd, 0));
  char *a = mmap(0, 8192, PROT_READ, ANON, -1, 0);
  r("MAP_FIXED_NOREPLACE over a mapping", mmap(a + 4096, 8192, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0));
  r("MAP_FIXED_NOREPLACE unaligned", mmap(a + 1, 4096, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0));
  munmap(a, 8192);
  char *b = mmap(a, 4096, PROT_READ, ANON | MAP_FIXED_NOREPLACE | MAP_STACK | MAP_NONBLOCK, -1, 0);
  printf("MAP_FIXED_NOREPLACE on a free range: %s\n", b == a ? "there" : "elsewhere");
  r("MAP_FIXED ending past the user address space, unaligned", mmap((void *)0x7ffffffff001UL, 8192, PROT_READ, ANON | MAP_FIXED, -1, 0));
  r("MAP_FIXED at 0x1000 as root", mmap((void *)0x1000, 4096, PROT_READ, ANON | MAP_FIXED, -1, 0));
  munmap((void *)0x1000, 4096);
  if (setgid(65534) || setuid(65534)) return 1;
  r("MAP_FIXED at 0x1000 as uid 65534", mmap((void *)0x1000, 4096, PROT_READ, ANON | MAP_FIXED, -1, 0));
  r("MAP_FIXED at 0 as uid 65534", mmap((void *)0, 4096, PROT_READ, ANON | MAP_FIXED, -1, 0));
  r("MAP_FIXED at 0x800 as uid 65534", mmap((void *)0x800, 4096, PROT_READ, ANON | MAP_FIXED, -1, 0));
  munmap((void *)0x1000, 4096);
  char *h = mmap((void *)0x2000, 4096, PROT_READ, ANON, -1, 0);
  printf("hint 0x2000: %s\n", h == (char *)0x10000 ? "raised to 0x10000" : h == (char *)0x2000 ? "taken" : "elsewhere");
  h = mmap((void *)0x10, 4096, PROT_READ, ANON, -1, 0);
  printf("hint 0x10: %s\n", h == (char *)0x10000 ? "raised to 0x10000" : "elsewhere");
  return 0;
}
