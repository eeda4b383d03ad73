/*
 * The real-kernel half of test/linux/kvm/dirty-ring.test.ts: the per-vCPU dirty ring on this machine's
 * /dev/kvm (KVM_CAP_DIRTY_LOG_RING / _ACQ_REL, the ring pages of the vCPU mmap, KVM_RESET_DIRTY_RINGS,
 * KVM_EXIT_DIRTY_RING_FULL). Flat 32-bit guests write guest pages and halt; the model's guest programs
 * do the same writes. One result line per step.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "flat32-guest.h"

#define RING_PAGES 1
#define LOGGED_PAGES 512
static int kvm;
static void res(const char *w, long r) { if (r < 0) printf("%s: E%d\n", w, errno); else printf("%s: %ld\n", w, r); }
static long cap(int vm, unsigned c, unsigned flags, uint64_t a0) { struct kvm_enable_cap e = {0}; e.cap = c; e.flags = flags; e.args[0] = a0; return ioctl(vm, KVM_ENABLE_CAP, &e); }
static void mm(const char *w, int fd, size_t len, int prot, int flags, off_t pages) {
  void *p = mmap(0, len, prot, flags, fd, pages * 4096);
  if (p == MAP_FAILED) printf("%s: E%d\n", w, errno); else { printf("%s: ok\n", w); munmap(p, len); }
}
/* Every entry of the `n`-entry ring with flags set: "i:flags/slot/offset". */
static void dump(const char *w, struct kvm_dirty_gfn *g, int n) {
  printf("%s:", w);
  for (int i = 0; i < n; i++)
    if (g[i].flags) printf(" %d:%u/%x/%llu", i, g[i].flags, g[i].slot, (unsigned long long)g[i].offset);
  printf("\n");
}
/* The guest at 0x1000: ECX stores of EAX at EDI, EDI += EBX after each, then HLT (and HLT again if resumed). */
static const unsigned char writer[] = { 0x89, 0x07, 0x01, 0xdf, 0x49, 0x75, 0xf9, 0xf4, 0xeb, 0xfd };
static void go(int vfd, struct kvm_run *run, const char *w, uint32_t edi, uint32_t step, uint32_t count) {
  struct kvm_regs rg; memset(&rg, 0, sizeof rg);
  rg.rip = 0x1000; rg.rsp = 0x8000; rg.rflags = 2; rg.rax = 0x5a; rg.rbx = step; rg.rcx = count; rg.rdi = edi;
  ioctl(vfd, KVM_SET_REGS, &rg);
  flat32_run(vfd, run, w);
  ioctl(vfd, KVM_GET_REGS, &rg);
  printf(" ecx=%llu\n", (unsigned long long)rg.rcx);
}
static void cont(int vfd, struct kvm_run *run, const char *w) {
  flat32_run(vfd, run, w);
  printf("\n");
}
static unsigned char *ram(int vm, uint32_t flags) {
  size_t len = LOGGED_PAGES * 4096;
  unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region m = { .slot = 0, .flags = flags, .guest_phys_addr = 0, .memory_size = len, .userspace_addr = (uintptr_t)mem };
  res("slot 0", ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m));
  flat32_gdt(mem);
  memcpy(mem + 0x1000, writer, sizeof writer);
  return mem;
}
int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  kvm = open("/dev/kvm", O_RDWR);
  res("cap DIRTY_LOG_RING", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING));
  res("cap DIRTY_LOG_RING_ACQ_REL", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_ACQ_REL));
  res("cap DIRTY_LOG_RING_WITH_BITMAP", ioctl(kvm, KVM_CHECK_EXTENSION, 225));
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  res("vm cap DIRTY_LOG_RING", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING));
  res("vm cap DIRTY_LOG_RING_ACQ_REL", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_ACQ_REL));
  res("reset, no ring", ioctl(vm, KVM_RESET_DIRTY_RINGS, 0));
  res("enable size 0", cap(vm, KVM_CAP_DIRTY_LOG_RING, 0, 0));
  res("enable size 12288", cap(vm, KVM_CAP_DIRTY_LOG_RING, 0, 12288));
  res("enable size 2048", cap(vm, KVM_CAP_DIRTY_LOG_RING, 0, 2048));
  res("enable size 2 MiB", cap(vm, KVM_CAP_DIRTY_LOG_RING, 0, 2 << 20));
  res("enable WITH_BITMAP, no ring", cap(vm, 225, 0, 1));
  res("enable ACQ_REL 4096 flags 1", cap(vm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 1, 4096));
  res("enable again 8192", cap(vm, KVM_CAP_DIRTY_LOG_RING, 0, 8192));
  res("enable again 4096", cap(vm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 0, 4096));
  res("enable WITH_BITMAP", cap(vm, 225, 0, 1));
  res("enable MANUAL_DIRTY_LOG_PROTECT2 flags 1", cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 1, 1));
  res("vm cap DIRTY_LOG_RING after", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING));
  res("reset, no vCPU", ioctl(vm, KVM_RESET_DIRTY_RINGS, 0));
  {
    int t = ioctl(kvm, KVM_CREATE_VM, 0);
    res("enable size 2^32 + 4096 (a u32)", cap(t, KVM_CAP_DIRTY_LOG_RING, 0, (1ull << 32) + 4096));
    res("then 4096", cap(t, KVM_CAP_DIRTY_LOG_RING, 0, 4096));
    close(t);
    t = ioctl(kvm, KVM_CREATE_VM, 0);
    unsigned char *m = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct kvm_userspace_memory_region r = { .slot = 0, .flags = KVM_MEM_LOG_DIRTY_PAGES, .memory_size = 16 * 4096, .userspace_addr = (uintptr_t)m };
    res("logging slot before the ring", ioctl(t, KVM_SET_USER_MEMORY_REGION, &r));
    res("enable after a logging slot", cap(t, KVM_CAP_DIRTY_LOG_RING, 0, 4096));
    uint64_t bm[8]; struct kvm_dirty_log l = {0}; l.dirty_bitmap = bm;
    res("its dirty log", ioctl(t, KVM_GET_DIRTY_LOG, &l));
    close(t);
  }
  unsigned char *mem = ram(vm, KVM_MEM_LOG_DIRTY_PAGES);
  { uint64_t bm[8]; struct kvm_dirty_log l = {0}; l.dirty_bitmap = bm; res("get dirty log", ioctl(vm, KVM_GET_DIRTY_LOG, &l)); l.slot = 5; res("get dirty log, slot 5", ioctl(vm, KVM_GET_DIRTY_LOG, &l)); }
  { uint64_t bm[8] = {0}; struct kvm_clear_dirty_log c = {0}; c.num_pages = 64; c.dirty_bitmap = bm; res("clear dirty log", ioctl(vm, KVM_CLEAR_DIRTY_LOG, &c)); c.first_page = 1; res("clear dirty log, first_page 1", ioctl(vm, KVM_CLEAR_DIRTY_LOG, &c)); }
  int vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  res("enable after vCPU", cap(vm, KVM_CAP_DIRTY_LOG_RING, 0, 4096));
  struct kvm_run *run = mmap(0, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  flat32_sregs(vfd);
  mm("mmap ring private", vfd, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, 64);
  mm("mmap ring exec", vfd, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, 64);
  mm("mmap 63-64 private", vfd, 8192, PROT_READ, MAP_PRIVATE, 63);
  mm("mmap 64-65 private", vfd, 8192, PROT_READ, MAP_PRIVATE, 64);
  mm("mmap 65 private", vfd, 4096, PROT_READ, MAP_PRIVATE, 65);
  mm("mmap 3-63 private", vfd, 61 * 4096, PROT_READ, MAP_PRIVATE, 3);
  mm("mmap ring read-only", vfd, 4096, PROT_READ, MAP_SHARED, 64);
  struct kvm_dirty_gfn *g = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 64 * 4096);
  printf("mmap ring: %s\n", g == MAP_FAILED ? "failed" : "ok");
  dump("ring before run", g, 256);
  go(vfd, run, "run pages 16, 17", 0x10000, 0x1000, 2);
  go(vfd, run, "run pages 19, 20", 0x13000, 0x1000, 2);
  dump("ring", g, 256);
  res("reset, none harvested", ioctl(vm, KVM_RESET_DIRTY_RINGS, 0));
  g[0].flags = KVM_DIRTY_GFN_F_RESET; g[1].flags = KVM_DIRTY_GFN_F_RESET;
  res("reset 0,1", ioctl(vm, KVM_RESET_DIRTY_RINGS, 0));
  dump("ring", g, 256);
  g[3].flags |= KVM_DIRTY_GFN_F_RESET;
  res("reset 3 (2 not harvested)", ioctl(vm, KVM_RESET_DIRTY_RINGS, 0));
  g[2].flags = KVM_DIRTY_GFN_F_RESET | KVM_DIRTY_GFN_F_DIRTY;
  res("reset 2,3", ioctl(vm, KVM_RESET_DIRTY_RINGS, 0));
  dump("ring after reset", g, 256);
  go(vfd, run, "run pages 16..20", 0x10000, 0x1000, 5);
  dump("ring", g, 256);
  g[4].flags = KVM_DIRTY_GFN_F_RESET; g[4].slot = 7;
  g[5].flags = KVM_DIRTY_GFN_F_RESET; g[5].offset = 5000;
  g[6].flags = KVM_DIRTY_GFN_F_RESET;
  res("reset 4..6 (slot 7, offset 5000)", ioctl(vm, KVM_RESET_DIRTY_RINGS, 0));
  dump("ring", g, 256);
  int v1 = ioctl(vm, KVM_CREATE_VCPU, 1);
  struct kvm_dirty_gfn *g1 = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, v1, 64 * 4096);
  dump("vCPU 1 ring", g1, 256);

  /* The soft limit: a 4096-byte ring (256 entries) while the guest dirties 250 pages. */
  int vm2 = ioctl(kvm, KVM_CREATE_VM, 0);
  res("vm2 enable 4096", cap(vm2, KVM_CAP_DIRTY_LOG_RING, 0, 4096));
  unsigned char *mem2 = ram(vm2, KVM_MEM_LOG_DIRTY_PAGES);
  int v2 = ioctl(vm2, KVM_CREATE_VCPU, 0);
  struct kvm_run *run2 = mmap(0, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, v2, 0);
  struct kvm_dirty_gfn *g2 = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, v2, 64 * 4096);
  flat32_sregs(v2);
  go(v2, run2, "vm2 run 192 pages", 0x20000, 0x1000, 192);
  int used = 0;
  for (int i = 0; i < 256; i++) used += g2[i].flags != 0;
  printf("vm2 used %d, last %llu\n", used, (unsigned long long)g2[used - 1].offset);
  cont(v2, run2, "vm2 run again");
  for (int i = 0; i < 10; i++) g2[i].flags = KVM_DIRTY_GFN_F_RESET;
  res("vm2 reset 10", ioctl(vm2, KVM_RESET_DIRTY_RINGS, 0));
  go(v2, run2, "vm2 run 9 pages", 0x100000, 0x1000, 9);
  for (int i = 10; i < 256; i++) if (g2[i].flags) g2[i].flags = KVM_DIRTY_GFN_F_RESET;
  res("vm2 reset the rest", ioctl(vm2, KVM_RESET_DIRTY_RINGS, 0));
  go(v2, run2, "vm2 run 70 pages", 0x180000, 0x1000, 70);
  dump("vm2 ring", g2, 256);
  { uint64_t bm[8]; struct kvm_dirty_log l = {0}; l.dirty_bitmap = bm; res("vm2 get dirty log", ioctl(vm2, KVM_GET_DIRTY_LOG, &l)); }

  int vm3 = ioctl(kvm, KVM_CREATE_VM, 0);
  res("vm3 enable 1 MiB", cap(vm3, KVM_CAP_DIRTY_LOG_RING, 0, 1 << 20));
  int v3 = ioctl(vm3, KVM_CREATE_VCPU, 0);
  mm("vm3 mmap 256 ring pages", v3, 256 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 64);
  mm("vm3 mmap 257 pages private", v3, 257 * 4096, PROT_READ, MAP_PRIVATE, 64);
  mm("vm3 mmap page 320 private", v3, 4096, PROT_READ, MAP_PRIVATE, 320);
  mm("vm3 mmap page 319 private", v3, 4096, PROT_READ, MAP_PRIVATE, 319);
  (void)mem; (void)mem2;
  return 0;
}
