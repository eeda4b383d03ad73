/*
 * The real-kernel half of test/linux/kvm/coalesced-mmio.test.ts: KVM_REGISTER/UNREGISTER_COALESCED_MMIO
 * (virt/kvm/coalesced_mmio.c) and the ring at page KVM_COALESCED_MMIO_PAGE_OFFSET of every vCPU's
 * mapping. A flat 32-bit guest makes one access per run (EAX and EBX as set), then `out 0x80, al`:
 *   st32:  mov [ebx], eax     st16: mov [ebx], ax     st8: mov [ebx], al     ld32: mov eax, [ebx]
 *   outb:  mov edx, ebx; out dx, al                    loop: ecx times mov [ebx], eax
 * Each line says how the run ended and the ring's first/last and newest entry, as seen through vCPU 0's
 * mapping (and through vCPU 1's, to show there is one ring). Then, with no zones left, MMIO accesses
 * that cross a page (x86.c emulator_read_write, complete_emulated_mmio): one exit per page part
 * userspace must do, the second right after the first completes, RIP past a write's instruction
 * before its exit and at a read's until the data arrives. The model runs the same steps.
 */
#define PAGE_SIZE 4096
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include "flat32-guest.h"

static int vm, vfd;
static struct kvm_run *run, *run1;
static struct kvm_coalesced_mmio_ring *ring, *ring1;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static void zone(const char *what, int reg, uint64_t addr, uint32_t size, uint32_t pio) {
  struct kvm_coalesced_mmio_zone z = { .addr = addr, .size = size, .pio = pio };
  res(what, ioctl(vm, reg ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO, &z));
}

/* How the run ended, then the ring through vCPU 0's and vCPU 1's mappings. */
static void guest(const char *what, uint32_t rip, uint32_t eax, uint32_t ebx, uint32_t ecx) {
  flat32_set(vfd, rip, eax, ebx, ecx, 0);
  long r = ioctl(vfd, KVM_RUN, 0);
  if (r < 0) printf("%s: E%d", what, errno);
  else printf("%s: exit=%u", what, run->exit_reason);
  if (r == 0 && run->exit_reason == KVM_EXIT_IO) printf(" io=%x/%u", run->io.port, run->io.size);
  if (r == 0 && run->exit_reason == KVM_EXIT_MMIO) printf(" mmio=%llx/%u/%u", (unsigned long long)run->mmio.phys_addr, run->mmio.len, run->mmio.is_write);
  printf(" ring=%u/%u", ring->first, ring->last);
  if (ring1->first != ring->first || ring1->last != ring->last) printf(" vcpu1-ring=%u/%u", ring1->first, ring1->last);
  if (ring->last != ring->first) {
    struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[(ring->last + KVM_COALESCED_MMIO_MAX - 1) % KVM_COALESCED_MMIO_MAX];
    uint64_t d;
    memcpy(&d, e->data, 8);
    printf(" newest=%llx/%u/%u/%llx", (unsigned long long)e->phys_addr, e->len, e->pio, (unsigned long long)d);
  }
  printf("\n");
}

/* After KVM_RUN: the exit, the MMIO exit and where RIP is then (at the access, or past it), and EAX. */
static void show(const char *what, long r, uint32_t at, uint32_t next) {
  struct kvm_regs rg;
  ioctl(vfd, KVM_GET_REGS, &rg);
  if (r < 0) printf("%s: E%d", what, errno);
  else printf("%s: exit=%u", what, run->exit_reason);
  if (r == 0 && run->exit_reason == KVM_EXIT_IO) printf(" io=%x", run->io.port);
  if (r == 0 && run->exit_reason == KVM_EXIT_MMIO) {
    uint64_t d = 0;
    if (run->mmio.is_write) memcpy(&d, run->mmio.data, run->mmio.len);
    printf(" mmio=%llx/%u/%u/%llx", (unsigned long long)run->mmio.phys_addr, run->mmio.len, run->mmio.is_write, (unsigned long long)d);
  }
  /* RIP at a PIO exit is host-specific (kvm_pvm emulates OUT and retires it first; VMX/SVM do not). */
  if (r == 0 && run->exit_reason == KVM_EXIT_MMIO) printf(" rip=%s", rg.rip == at ? "at" : rg.rip == next ? "next" : "other");
  printf(" eax=%x\n", (unsigned)rg.rax);
}

/* Starts the access at `rip` (next instruction at `next`) with EAX/EBX. */
static void start(const char *what, uint32_t rip, uint32_t next, uint32_t eax, uint32_t ebx) {
  flat32_set(vfd, rip, eax, ebx, 0, 0);
  show(what, ioctl(vfd, KVM_RUN, 0), rip, next);
}

/* Answers the MMIO exit (a read gets `data`) and runs again. */
static void answer(const char *what, uint64_t data, uint32_t rip, uint32_t next) {
  memcpy(run->mmio.data, &data, 8);
  show(what, ioctl(vfd, KVM_RUN, 0), rip, next);
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  printf("cap coalesced mmio: %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
  printf("cap coalesced pio: %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO));
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  printf("vm cap coalesced mmio: %d\n", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
  printf("max entries: %d\n", (int)KVM_COALESCED_MMIO_MAX);
  unsigned char *mem = flat32_ram(vm);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  int v1 = ioctl(vm, KVM_CREATE_VCPU, 1);
  int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  run1 = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v1, 0);
  ring = (void *)((char *)run + 2 * 4096);
  ring1 = (void *)((char *)run1 + 2 * 4096);

  flat32_gdt(mem);
  static const unsigned char st32[] = { 0x89, 0x03, 0xe6, 0x80, 0xf4 };
  static const unsigned char st16[] = { 0x66, 0x89, 0x03, 0xe6, 0x80, 0xf4 };
  static const unsigned char st8[] = { 0x88, 0x03, 0xe6, 0x80, 0xf4 };
  static const unsigned char ld32[] = { 0x8b, 0x03, 0xe6, 0x80, 0xf4 };
  static const unsigned char outb[] = { 0x89, 0xda, 0xee, 0xe6, 0x80, 0xf4 };
  static const unsigned char loop[] = { 0x89, 0x03, 0xe2, 0xfc, 0xe6, 0x80, 0xf4 };
  memcpy(mem + 0x1000, st32, sizeof st32);
  memcpy(mem + 0x1010, st16, sizeof st16);
  memcpy(mem + 0x1020, st8, sizeof st8);
  memcpy(mem + 0x1030, ld32, sizeof ld32);
  memcpy(mem + 0x1040, outb, sizeof outb);
  memcpy(mem + 0x1050, loop, sizeof loop);
  flat32_sregs(vfd);

  zone("register pio 2", 1, 0x10000000, 0x1000, 2);
  zone("register mmio zone", 1, 0x10000000, 0x1000, 0);
  zone("register pio zone 0x70", 1, 0x70, 2, 1);
  zone("register zone size 0", 1, 0x20000000, 0, 0);
  guest("st32 in zone", 0x1000, 0x11223344, 0x10000000, 0);
  guest("st16 at zone end", 0x1010, 0x5566, 0x10000ffe, 0);
  guest("st32 crossing zone end", 0x1000, 0x778899aa, 0x10000ffe, 0);
  guest("st8 in zone", 0x1020, 0xbb, 0x10000010, 0);
  guest("ld32 in zone", 0x1030, 0, 0x10000000, 0);
  guest("st32 below zone", 0x1000, 1, 0x0ffffffc, 0);
  guest("st32 to size-0 zone", 0x1000, 2, 0x20000000, 0);
  guest("outb 0x70", 0x1040, 0x8f, 0x70, 0);
  guest("outb 0x71", 0x1040, 0x12, 0x71, 0);
  guest("outb 0x72", 0x1040, 0x34, 0x72, 0);
  guest("st32 to 0x70 (mmio, not pio)", 0x1000, 3, 0x70, 0);

  /* Fill the ring: one entry always stays free. */
  guest("loop 200 writes", 0x1050, 0xcafe, 0x10000100, 200);
  guest("st32 ring full", 0x1000, 0xdead, 0x10000100, 0);
  ring->first = ring->last;
  guest("st32 after userspace drained", 0x1000, 0xbeef, 0x10000104, 0);
  ring1->first = ring->last;
  guest("st32 after draining through vcpu 1", 0x1000, 0xf00d, 0x10000108, 0);
  uint32_t saved = ring->last;
  ring->last = 500;
  guest("st32 with last out of range", 0x1000, 0xbad, 0x10000108, 0);
  ring->last = saved;

  /* An ioeventfd inside the zone: the bus offers the write to the zone first. */
  int efd = eventfd(0, 0);
  struct kvm_ioeventfd io = { .addr = 0x10000200, .len = 4, .fd = efd };
  res("ioeventfd in zone", ioctl(vm, KVM_IOEVENTFD, &io));
  guest("st32 to ioeventfd address", 0x1000, 7, 0x10000200, 0);
  uint64_t cnt = 0;
  struct kvm_ioeventfd io2 = { .addr = 0x30000000, .len = 4, .fd = efd };
  res("ioeventfd below a later zone", ioctl(vm, KVM_IOEVENTFD, &io2));
  zone("register zone over ioeventfd", 1, 0x30000000, 0x100, 0);
  guest("st32 to earlier ioeventfd", 0x1000, 8, 0x30000000, 0);
  printf("eventfd nonblocking read: %ld\n", (long)read(efd, &cnt, sizeof cnt) == 8 ? (long)cnt : -1L);

  /* Unregistering removes every zone the given range lies inside (coalesced_mmio_in_range(dev, range)). */
  zone("unregister a range inside the zone", 0, 0x10000100, 0x10, 0);
  guest("st32 after unregistering a range inside", 0x1000, 9, 0x10000000, 0);
  zone("register mmio zone again", 1, 0x10000000, 0x1000, 0);
  zone("unregister the zone, pio 1", 0, 0x10000000, 0x1000, 1);
  guest("st32 after pio-mismatched unregister", 0x1000, 10, 0x10000000, 0);
  zone("unregister a range covering the zone", 0, 0x0fff0000, 0x20000, 0);
  guest("st32 after unregistering a covering range", 0x1000, 11, 0x10000000, 0);
  zone("unregister the zone", 0, 0x10000000, 0x1000, 0);
  guest("st32 after unregistering the zone", 0x1000, 12, 0x10000000, 0);
  zone("unregister pio zone", 0, 0x70, 2, 1);
  guest("outb 0x70 after unregister", 0x1040, 0x8f, 0x70, 0);

  /* MMIO fragments (x86.c emulator_read_write, complete_emulated_mmio), no zones left. */
  start("st32 mmio", 0x1000, 0x1002, 0xa1b2c3d4, 0x40000000);
  answer("  continue", 0, 0x1000, 0x1002);
  start("st32 mmio crossing a page", 0x1000, 0x1002, 0xa1b2c3d4, 0x40000ffd);
  answer("  second fragment", 0, 0x1000, 0x1002);
  answer("  continue", 0, 0x1000, 0x1002);
  start("ld32 mmio", 0x1030, 0x1032, 0, 0x40000000);
  answer("  continue with 0x11223344", 0x11223344, 0x1030, 0x1032);
  start("ld32 mmio crossing a page", 0x1030, 0x1032, 0, 0x40000ffe);
  answer("  first fragment gets 0x5566", 0x5566, 0x1030, 0x1032);
  answer("  second gets 0x7788", 0x7788, 0x1030, 0x1032);
  start("st32 from RAM into MMIO", 0x1000, 0x1002, 0x01020304, 0xfffe);
  answer("  continue", 0, 0x1000, 0x1002);
  printf("RAM bytes at 0xfffe: %x %x\n", mem[0xfffe], mem[0xffff]);
  start("ld32 from RAM into MMIO", 0x1030, 0x1032, 0, 0xfffe);
  answer("  continue with 0xaabb", 0xaabb, 0x1030, 0x1032);
  start("st32 mmio, then SET_REGS moves RIP", 0x1000, 0x1002, 0x99, 0x40000000);
  start("  st8 at the new RIP", 0x1020, 0x1022, 0x42, 0x40000010);
  return 0;
}
