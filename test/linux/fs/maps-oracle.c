/*
 * The real-kernel half of test/linux/fs/maps.test.ts: /proc/self/maps (fs/proc/task_mmu.c) over a
 * 64-page window the program reserves (PROT_NONE) and fills with MAP_FIXED mappings of each kind a VMM
 * makes, mlock and munmap included. Each line inside the window is printed with its addresses as page
 * offsets into the window, its inode as N (the numbers differ between the two), and the column its
 * name starts at.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define P 4096UL
static char *R;

static void *at(unsigned long page, unsigned long pages, int prot, int flags, int fd, long off) {
  return mmap(R + page * P, pages * P, prot, flags | MAP_FIXED, fd, off);
}

int main(void) {
  R = mmap(NULL, 64 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const int RW = PROT_READ | PROT_WRITE, ANON = MAP_PRIVATE | MAP_ANONYMOUS;
  at(0, 2, RW, ANON, -1, 0);
  at(2, 2, RW, ANON, -1, 0);
  at(6, 4, RW, ANON, -1, 0);
  mlock(R + 7 * P, P);
  at(10, 2, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int m = memfd_create("maps", 0);
  ftruncate(m, 8 * P);
  at(12, 4, RW, MAP_SHARED, m, 0);
  at(16, 2, PROT_READ, MAP_PRIVATE, m, 2 * P);
  int t = open("/dev/vks-maps-oracle", O_CREAT | O_RDWR | O_TRUNC, 0600);
  ftruncate(t, 2 * P);
  at(18, 2, PROT_READ, MAP_SHARED, t, 0);
  int kvm = open("/dev/kvm", O_RDWR);
  int vcpu = ioctl(ioctl(kvm, KVM_CREATE_VM, 0), KVM_CREATE_VCPU, 0);
  at(20, 3, RW, MAP_SHARED, vcpu, 0);
  at(24, 1, RW, MAP_SHARED, m, 0);
  at(25, 1, RW, MAP_SHARED, m, P);
  at(26, 2, RW, ANON, -1, 0);
  munmap(R + 27 * P, P);
  at(28, 1, PROT_WRITE, ANON, -1, 0);
  at(29, 1, PROT_READ | PROT_EXEC, ANON, -1, 0);

  char l[512];
  FILE *f = fopen("/proc/self/maps", "r");
  while (fgets(l, sizeof l, f)) {
    unsigned long s, e, off, ino;
    unsigned maj, min;
    char perms[5];
    int name = 0;
    if (sscanf(l, "%lx-%lx %4s %lx %x:%x %lu %n", &s, &e, perms, &off, &maj, &min, &ino, &name) < 7) continue;
    if (e <= (unsigned long)R || s >= (unsigned long)R + 64 * P) continue;
    l[strcspn(l, "\n")] = 0;
    printf("%lu-%lu %s %lx %02x:%02x %s col %d %s\n", (s - (unsigned long)R) / P, (e - (unsigned long)R) / P, perms, off, maj, min,
           ino ? "N" : "0", l[name] ? name : -1, l + name);
  }
  unlink("/dev/vks-maps-oracle");
  return 0;
}
