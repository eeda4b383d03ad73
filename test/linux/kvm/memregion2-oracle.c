/*
 * The real-kernel half of test/linux/kvm/memregion2.test.ts: KVM_SET_USER_MEMORY_REGION2 next to
 * KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VM's type and the capabilities QEMU 9+ probes for them, on
 * this machine's /dev/kvm. One result line per call. Lines starting "host-only" were what this 6.18 host
 * had before the model had guest_memfd; they are compared like the others now.
 * The installed headers are 6.1: the 6.8+ structs and numbers are defined here from the 6.18 header.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
struct region2 { uint32_t slot, flags; uint64_t guest_phys_addr, memory_size, userspace_addr, guest_memfd_offset; uint32_t guest_memfd, pad1; uint64_t pad2[14]; };
struct gmem { uint64_t size, flags, reserved[6]; };
struct attrs { uint64_t address, size, attributes, flags; };
#define SET_REGION2 _IOW(KVMIO, 0x49, struct region2)
#define SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct attrs)
#define CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct gmem)
#define CAP_USER_MEMORY2 231
#define CAP_MEMORY_ATTRIBUTES 233
#define CAP_GUEST_MEMFD 234
#define CAP_VM_TYPES 235
#define CAP_GUEST_MEMFD_FLAGS 244
#define MEM_GUEST_MEMFD 4
static int kvm, vm; static uint8_t *mem, *edge;
static void res(const char *w, long r) { if (r < 0) printf("%s: E%d\n", w, errno); else printf("%s: %ld\n", w, r); }
static void r2(const char *w, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, uint64_t gmoff, uint32_t gmfd, uint32_t pad1, uint64_t pad2) {
  struct region2 r; memset(&r, 0, sizeof r);
  r.slot = slot; r.flags = flags; r.guest_phys_addr = gpa; r.memory_size = size; r.userspace_addr = (uint64_t)mem;
  r.guest_memfd_offset = gmoff; r.guest_memfd = gmfd; r.pad1 = pad1; r.pad2[13] = pad2;
  res(w, ioctl(vm, SET_REGION2, &r));
}
static void r1(const char *w, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size) {
  struct kvm_userspace_memory_region r = {slot, flags, gpa, size, (uint64_t)mem};
  res(w, ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r));
}
/* The struct's first `n` bytes end where a page ends and the next page is unmapped. */
static void *tail(unsigned n, uint32_t slot, uint32_t flags, uint64_t gpa) {
  uint8_t b[sizeof(struct region2)]; struct region2 *r = (void *)b; memset(b, 0, sizeof b);
  r->slot = slot; r->flags = flags; r->guest_phys_addr = gpa; r->memory_size = 4096; r->userspace_addr = (uint64_t)mem;
  memcpy(edge + 4096 - n, b, n); return edge + 4096 - n;
}
int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  kvm = open("/dev/kvm", O_RDWR);
  mem = mmap(0, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  edge = mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); munmap(edge + 4096, 4096);
  res("cap USER_MEMORY2", ioctl(kvm, KVM_CHECK_EXTENSION, CAP_USER_MEMORY2));
  res("cap VM_TYPES", ioctl(kvm, KVM_CHECK_EXTENSION, CAP_VM_TYPES));
  res("cap MEMORY_ATTRIBUTES", ioctl(kvm, KVM_CHECK_EXTENSION, CAP_MEMORY_ATTRIBUTES));
  res("host-only cap GUEST_MEMFD", ioctl(kvm, KVM_CHECK_EXTENSION, CAP_GUEST_MEMFD));
  res("host-only cap GUEST_MEMFD_FLAGS", ioctl(kvm, KVM_CHECK_EXTENSION, CAP_GUEST_MEMFD_FLAGS));
  res("create VM SW_PROTECTED", ioctl(kvm, KVM_CREATE_VM, 1));
  res("create VM SEV", ioctl(kvm, KVM_CREATE_VM, 2));
  res("create VM SEV_ES", ioctl(kvm, KVM_CREATE_VM, 3));
  res("create VM SNP", ioctl(kvm, KVM_CREATE_VM, 4));
  res("create VM TDX", ioctl(kvm, KVM_CREATE_VM, 5));
  res("create VM 32", ioctl(kvm, KVM_CREATE_VM, 32));
  res("create VM 1<<32", ioctl(kvm, KVM_CREATE_VM, 1UL << 32));
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  printf("create VM DEFAULT: %s\n", vm >= 0 ? "fd" : "failed");
  res("vm cap USER_MEMORY2", ioctl(vm, KVM_CHECK_EXTENSION, CAP_USER_MEMORY2));
  res("vm cap VM_TYPES", ioctl(vm, KVM_CHECK_EXTENSION, CAP_VM_TYPES));
  res("vm cap MEMORY_ATTRIBUTES", ioctl(vm, KVM_CHECK_EXTENSION, CAP_MEMORY_ATTRIBUTES));
  res("host-only vm cap GUEST_MEMFD", ioctl(vm, KVM_CHECK_EXTENSION, CAP_GUEST_MEMFD));
  r2("v2 slot 0", 0, 0, 0, 16 * 4096, 0, 0, 0, 0);
  r2("v2 pad1 non-zero", 1, 0, 0x100000, 4096, 0, 0, 0xffffffff, 0);
  r2("v2 pad2[13] non-zero", 2, 0, 0x200000, 4096, 0, 0, 0, 1);
  r2("v2 guest_memfd fields without the flag", 3, 0, 0x300000, 4096, 3, 99, 0, 0);
  r2("v2 GUEST_MEMFD, offset not aligned", 4, MEM_GUEST_MEMFD, 0x400000, 4096, 3, 99, 0, 0);
  r2("v2 GUEST_MEMFD|LOG_DIRTY_PAGES", 4, MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES, 0x400000, 4096, 0, kvm, 0, 0);
  r2("v2 GUEST_MEMFD|READONLY", 4, MEM_GUEST_MEMFD | KVM_MEM_READONLY, 0x400000, 4096, 0, kvm, 0, 0);
  r2("v2 GUEST_MEMFD, fd not a guest_memfd", 4, MEM_GUEST_MEMFD, 0x400000, 4096, 0, kvm, 0, 0);
  r2("v2 GUEST_MEMFD, slot 32764", 32764, MEM_GUEST_MEMFD, 0x400000, 4096, 0, kvm, 0, 0);
  r2("v2 flag 8", 4, 8, 0x400000, 4096, 0, 0, 0, 0);
  r2("v2 flag 0x80000000", 4, 0x80000000u, 0x400000, 4096, 0, 0, 0, 0);
  r1("v1 GUEST_MEMFD", 4, MEM_GUEST_MEMFD, 0x400000, 4096);
  r1("v1 flag 8", 4, 8, 0x400000, 4096);
  r1("v1 GUEST_MEMFD, slot 32764", 32764, MEM_GUEST_MEMFD, 0x400000, 4096);
  r1("v1 LOG_DIRTY_PAGES", 4, KVM_MEM_LOG_DIRTY_PAGES, 0x400000, 4096);
  r2("v2 slot 0 LOG_DIRTY_PAGES", 0, KVM_MEM_LOG_DIRTY_PAGES, 0, 16 * 4096, 0, 0, 0, 0);
  r2("v2 slot 0 READONLY", 0, KVM_MEM_READONLY, 0, 16 * 4096, 0, 0, 0, 0);
  r2("v2 move slot 0", 0, 0, 0x1000000, 16 * 4096, 0, 0, 0, 0);
  r2("v2 overlap slot 1", 5, 0, 0x100000, 4096, 0, 0, 0, 0);
  r2("v2 size not page aligned", 5, 0, 0x500000, 100, 0, 0, 0, 0);
  r2("v2 address space 1", 1 << 16 | 5, 0, 0x500000, 4096, 0, 0, 0, 0);
  /* x86.c kvm_arch_prepare_memory_region: a created or moved slot must end at or below 2^(kvm_mmu_max_gfn
     bits + 12), checked after the overlap (EEXIST); this host has no TDP, so 52 bits. */
  r2("v2 slot 9 ends at 2^52", 9, 0, (1ULL << 52) - 4096, 4096, 0, 0, 0, 0);
  r2("v2 slot 10 at 2^52", 10, 0, 1ULL << 52, 4096, 0, 0, 0, 0);
  r2("v2 slot 10 overlaps slot 9 and ends past 2^52", 10, 0, (1ULL << 52) - 4096, 8192, 0, 0, 0, 0);
  r2("v2 move slot 9 to 2^52", 9, 0, 1ULL << 52, 4096, 0, 0, 0, 0);
  r2("v2 slot 9 LOG_DIRTY_PAGES (flags only)", 9, KVM_MEM_LOG_DIRTY_PAGES, (1ULL << 52) - 4096, 4096, 0, 0, 0, 0);
  r2("v2 delete slot 0", 0, 0, 0, 0, 0, 0, 0, 0);
  r2("v2 delete slot 0 again", 0, 0, 0, 0, 0, 0, 0, 0);
  res("v2 NULL", ioctl(vm, SET_REGION2, 0));
  res("v2 40 bytes readable", ioctl(vm, SET_REGION2, tail(40, 6, 0, 0x600000)));
  res("v2 159 bytes readable", ioctl(vm, SET_REGION2, tail(159, 6, 0, 0x600000)));
  res("v2 160 bytes readable", ioctl(vm, SET_REGION2, tail(160, 6, 0, 0x600000)));
  res("v1 32 bytes readable", ioctl(vm, KVM_SET_USER_MEMORY_REGION, tail(32, 7, 0, 0x700000)));
  res("v1 24 bytes readable, flag 8", ioctl(vm, KVM_SET_USER_MEMORY_REGION, tail(24, 8, 8, 0x800000)));
  { struct attrs a = {0, 4096, 8, 0}; res("SET_MEMORY_ATTRIBUTES", ioctl(vm, SET_MEMORY_ATTRIBUTES, &a)); }
  { struct gmem g = {4096, 0}; int fd = ioctl(vm, CREATE_GUEST_MEMFD, &g); printf("host-only CREATE_GUEST_MEMFD: %s\n", fd >= 0 ? "fd" : "failed"); }
  /* kvm_dev_ioctl_create_vm() takes an fd before kvm_arch_init_vm() checks the type. */
  { int fd = dup(kvm); close(fd); struct rlimit l = {fd, fd}; setrlimit(RLIMIT_NOFILE, &l); }
  res("no fd left, create VM TDX", ioctl(kvm, KVM_CREATE_VM, 5));
  return 0;
}
