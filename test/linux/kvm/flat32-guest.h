/*
 * For the KVM oracles whose guest is flat 32-bit protected-mode code (events, guest-msr, x2apic, pv-msrs,
 * coalesced-mmio, ...): a GDT at 0x500 (null, 4 GiB code 0x08, 4 GiB data 0x10), interrupt gates in an
 * IDT at 0x600, the vCPU's segment registers loaded to match with CR0.PE set, and the register setup and
 * exit line each step of those oracles uses.
 */
#ifndef FLAT32_GUEST_H
#define FLAT32_GUEST_H
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* The GDT in guest memory at 0x500. */
static __attribute__((unused)) void flat32_gdt(unsigned char *mem) {
  static const uint64_t gdt[3] = { 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull };
  memcpy(mem + 0x500, gdt, sizeof gdt);
}

/* A 32-bit interrupt gate for `vector` to `handler` in code segment 0x08. */
static __attribute__((unused)) void flat32_gate(unsigned char *mem, int vector, uint32_t handler) {
  uint64_t g = (handler & 0xffff) | (0x08ull << 16) | (0x8e00ull << 32) | ((uint64_t)(handler >> 16) << 48);
  memcpy(mem + 0x600 + vector * 8, &g, 8);
}

/* KVM_SET_SREGS: flat code and data segments, GDTR/IDTR as above, CR0.PE. */
static __attribute__((unused)) void flat32_sregs(int vfd) {
  struct kvm_sregs sr;
  ioctl(vfd, KVM_GET_SREGS, &sr);
  struct kvm_segment seg = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1, .db = 1, .s = 1, .g = 1 };
  sr.ds = sr.es = sr.fs = sr.gs = sr.ss = seg;
  seg.selector = 0x08;
  seg.type = 11;
  sr.cs = seg;
  sr.gdt.base = 0x500;
  sr.gdt.limit = 23;
  sr.idt.base = 0x600;
  sr.idt.limit = 0x7ff;
  sr.cr0 |= 1;
  ioctl(vfd, KVM_SET_SREGS, &sr);
}
/* KVM_SET_REGS: everything 0 but RIP, RSP 0x8000 and RFLAGS. */
static __attribute__((unused)) void flat32_regs(int vfd, uint64_t rip, uint64_t rflags) {
  struct kvm_regs rg;
  memset(&rg, 0, sizeof rg);
  rg.rip = rip;
  rg.rsp = 0x8000;
  rg.rflags = rflags;
  ioctl(vfd, KVM_SET_REGS, &rg);
}

/* KVM_SET_REGS: RIP, RSP 0x8000, RFLAGS 0x2 and EAX/EBX/ECX/EDX as given, everything else 0. */
static __attribute__((unused)) void flat32_set(int vfd, uint64_t rip, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx) {
  struct kvm_regs rg;
  memset(&rg, 0, sizeof rg);
  rg.rip = rip;
  rg.rsp = 0x8000;
  rg.rflags = 2;
  rg.rax = eax;
  rg.rbx = ebx;
  rg.rcx = ecx;
  rg.rdx = edx;
  ioctl(vfd, KVM_SET_REGS, &rg);
}

/* KVM_RUN, then "what: E<errno>" or "what: exit=<reason>" with " io=<port>" for a port exit (no newline). */
static __attribute__((unused)) long flat32_run(int vfd, const struct kvm_run *run, const char *what) {
  long r = ioctl(vfd, KVM_RUN, 0);
  if (r < 0) printf("%s: E%d", what, errno);
  else printf("%s: exit=%u", what, run->exit_reason);
  if (r == 0 && run->exit_reason == KVM_EXIT_IO) printf(" io=%x", run->io.port);
  return r;
}

/*
 * The MSR-access guest (guest-msr and pv-msrs oracles): the GDT, `rdmsr; out 0x80, al; hlt` at 0x1000,
 * `wrmsr; out 0x80, al; hlt` at 0x1010, and a #GP handler at 0x2000 doing `out 0x8d, al; hlt`.
 */
static __attribute__((unused)) void flat32_msr_guest(unsigned char *mem) {
  flat32_gdt(mem);
  static const unsigned char gp[] = { 0xe6, 0x8d, 0xf4 };
  memcpy(mem + 0x2000, gp, sizeof gp);
  flat32_gate(mem, 13, 0x2000);
  static const unsigned char rd[] = { 0x0f, 0x32, 0xe6, 0x80, 0xf4 };
  static const unsigned char wr[] = { 0x0f, 0x30, 0xe6, 0x80, 0xf4 };
  memcpy(mem + 0x1000, rd, sizeof rd);
  memcpy(mem + 0x1010, wr, sizeof wr);
}

/* 64 KiB of guest RAM at GPA 0 in slot 0 (the code, GDT, IDT and stack live there); returns its mapping. */
static __attribute__((unused)) unsigned char *flat32_ram(int vm) {
  unsigned char *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region m = { .slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = (uintptr_t)mem };
  ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m);
  return mem;
}
#endif
