/*
 * For the KVM oracles whose guest is flat 32-bit protected-mode code (events-oracle.c,
 * guest-msr-oracle.c): a GDT at 0x500 (null, 4 GiB code 0x08, 4 GiB data 0x10), interrupt gates in an
 * IDT at 0x600, and the vCPU's segment registers loaded to match with CR0.PE set.
 */
#ifndef FLAT32_GUEST_H
#define FLAT32_GUEST_H
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

/* The GDT in guest memory at 0x500. */
static void flat32_gdt(unsigned char *mem) {
  static const uint64_t gdt[3] = { 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull };
  memcpy(mem + 0x500, gdt, sizeof gdt);
}

/* A 32-bit interrupt gate for `vector` to `handler` in code segment 0x08. */
static void flat32_gate(unsigned char *mem, int vector, uint32_t handler) {
  uint64_t g = (handler & 0xffff) | (0x08ull << 16) | (0x8e00ull << 32) | ((uint64_t)(handler >> 16) << 48);
  memcpy(mem + 0x600 + vector * 8, &g, 8);
}

/* KVM_SET_SREGS: flat code and data segments, GDTR/IDTR as above, CR0.PE. */
static void flat32_sregs(int vfd) {
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
static void flat32_regs(int vfd, uint64_t rip, uint64_t rflags) {
  struct kvm_regs rg;
  memset(&rg, 0, sizeof rg);
  rg.rip = rip;
  rg.rsp = 0x8000;
  rg.rflags = rflags;
  ioctl(vfd, KVM_SET_REGS, &rg);
}
#endif
