/*
 * The real-kernel half of test/linux/mm/mlock.test.ts: mlock, mlock2, munlock, mlockall and munlockall
 * (mm/mlock.c) as uid 65534 with RLIMIT_MEMLOCK at 16 pages, printing each result and VmLck (mm->locked_vm)
 * from /proc/self/status after it. The addresses are the process's own, so only offsets into its
 * mappings are used.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static long vmlck(void) {
  char l[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  while (fgets(l, sizeof l, f))
    if (!strncmp(l, "VmLck:", 6)) sscanf(l + 6, "%ld", &kb);
  fclose(f);
  return kb;
}

static void res(const char *w, long r) {
  if (r < 0) printf("%s: E%d VmLck %ld kB\n", w, errno, vmlck());
  else printf("%s: %ld VmLck %ld kB\n", w, r, vmlck());
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  struct rlimit rl = { 16 * 4096, 16 * 4096 };
  setrlimit(RLIMIT_MEMLOCK, &rl);
  if (setgid(65534) || setuid(65534)) return 1;
  char *a = mmap(NULL, 32 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  res("mlock 8 pages", mlock(a, 8 * 4096));
  res("mlock them again", mlock(a, 8 * 4096));
  res("mlock 20 pages (8 locked)", mlock(a, 20 * 4096));
  res("mlock 16 pages (8 locked)", mlock(a, 16 * 4096));
  res("mlock 1 byte more", mlock(a + 16 * 4096, 1));
  res("munlock 4 pages", munlock(a + 4 * 4096, 4 * 4096));
  res("mlock 1 byte across a page boundary", mlock(a + 4 * 4096 + 4095, 2));
  res("munmap 2 locked pages", munmap(a, 2 * 4096));
  char *h = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(h + 4096, 4096);
  res("mlock across a hole", mlock(h, 3 * 4096));
  res("munlock across a hole", munlock(h, 3 * 4096));
  res("mlock an unmapped range", mlock(h + 4096, 4096));
  res("mlock2 flags 2", mlock2(a + 20 * 4096, 4096, 2));
  res("mlock2 MLOCK_ONFAULT", mlock2(a + 20 * 4096, 4096, MLOCK_ONFAULT));
  res("mlockall 0", mlockall(0));
  res("mlockall MCL_ONFAULT", mlockall(MCL_ONFAULT));
  res("mlockall 8", mlockall(8));
  res("mlockall MCL_FUTURE", mlockall(MCL_FUTURE));
  char *f = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  res("mmap 2 pages under MCL_FUTURE", f == MAP_FAILED ? -1 : 0);
  char *g = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  res("mmap 8 pages under MCL_FUTURE", g == MAP_FAILED ? -1 : 0);
  res("munlockall", munlockall());
  g = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  res("mmap 8 pages after munlockall", g == MAP_FAILED ? -1 : 0);
  char *l = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
  res("mmap MAP_LOCKED 4 pages", l == MAP_FAILED ? -1 : 0);
  l = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
  res("mmap MAP_LOCKED 16 pages more", l == MAP_FAILED ? -1 : 0);
  rl.rlim_cur = 0;
  setrlimit(RLIMIT_MEMLOCK, &rl);
  res("mlock with RLIMIT_MEMLOCK 0", mlock(a + 20 * 4096, 4096));
  res("munlock with RLIMIT_MEMLOCK 0", munlock(a + 20 * 4096, 4096));
  res("mlockall MCL_FUTURE with RLIMIT_MEMLOCK 0", mlockall(MCL_FUTURE));
  l = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
  res("mmap MAP_LOCKED with RLIMIT_MEMLOCK 0", l == MAP_FAILED ? -1 : 0);
  /* can_do_mlock() tests the limit in bytes, the page counts round it down to 0. */
  rl.rlim_cur = 100;
  setrlimit(RLIMIT_MEMLOCK, &rl);
  res("mlock 1 page with RLIMIT_MEMLOCK 100 bytes", mlock(a + 20 * 4096, 4096));
  res("mlock 0 bytes with RLIMIT_MEMLOCK 100 bytes", mlock(a, 0));
  res("mmap MAP_LOCKED of a bad fd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_LOCKED, 99, 0) == MAP_FAILED ? -1 : 0);
  res("mmap MAP_LOCKED at an unaligned MAP_FIXED address", mmap((void *)0x10001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_LOCKED, -1, 0) == MAP_FAILED ? -1 : 0);
  res("mmap MAP_LOCKED without a mapping type", mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS | MAP_LOCKED, -1, 0) == MAP_FAILED ? -1 : 0);
  res("mlockall MCL_FUTURE with RLIMIT_MEMLOCK 100 bytes", mlockall(MCL_FUTURE));
  res("mmap under MCL_FUTURE with RLIMIT_MEMLOCK 100 bytes", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
  res("munlockall", munlockall());
  /* PAGE_ALIGN(len) that wraps to 0 does nothing; a range past 2^64 is EINVAL. */
  res("munlock a range that wraps", munlock(a, (size_t)-4096));
  res("mlock SIZE_MAX bytes", mlock(a, (size_t)-1));
  res("munlock SIZE_MAX bytes", munlock(a, (size_t)-1));
  /* __mm_populate() fails after the pages were locked and counted. */
  rl.rlim_cur = 16 * 4096;
  setrlimit(RLIMIT_MEMLOCK, &rl);
  char *pn = mmap(NULL, 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  res("mlock PROT_NONE", mlock(pn, 2 * 4096));
  int fd = memfd_create("m", 0);
  ftruncate(fd, 4096);
  char *fm = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  res("mlock a memfd mapping past the end of the file", mlock(fm, 3 * 4096));
  munlock(fm, 3 * 4096);
  res("mlock2 MLOCK_ONFAULT there", mlock2(fm, 3 * 4096, MLOCK_ONFAULT));
  return 0;
}
