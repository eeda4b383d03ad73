/*
 * The real-kernel half of test/linux/kvm/halt-poll.test.ts: halt polling on this machine's /dev/kvm
 * (virt/kvm/kvm_main.c kvm_vcpu_halt, grow/shrink_halt_poll_ns; x86.c kvm_arch_no_poll). A flat 32-bit
 * guest arms the APIC timer (one-shot, divide by 1: EAX ns) and halts; the timer wakes it. After each
 * halt the vCPU's polling counters, read from its binary stats fd, are printed. The halts' lengths are
 * chosen at least twice or half the window they meet (20 and 50 us against windows of 10-80 us; 500 us and
 * 1 ms past the 200 us maximum), so the real
 * kernel's exit and entry overhead does not change the outcome.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "flat32-guest.h"

static unsigned long long stat(int sfd, const char *name) {
  struct kvm_stats_header h;
  pread(sfd, &h, sizeof h, 0);
  size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;
  char *d = malloc(dsz * h.num_desc);
  pread(sfd, d, dsz * h.num_desc, h.desc_offset);
  unsigned long long v = ~0ull;
  for (unsigned i = 0; i < h.num_desc; i++) {
    struct kvm_stats_desc *x = (void *)(d + i * dsz);
    if (!strcmp(x->name, name)) pread(sfd, &v, 8, h.data_offset + x->offset);
  }
  free(d);
  return v;
}

/* The guest at 0x1000: SVR 0x1ff; TDCR 0xb; LVTT 0x40; TMICT = EAX; sti; hlt; hlt. */
static const unsigned char code[] = {
  0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, 0xc7, 0x05, 0xe0, 0x03, 0xe0, 0xfe, 0x0b, 0x00, 0x00, 0x00,
  0xc7, 0x05, 0x20, 0x03, 0xe0, 0xfe, 0x40, 0x00, 0x00, 0x00, 0xa3, 0x80, 0x03, 0xe0, 0xfe, 0xfb, 0xf4, 0xf4,
};
/* 0x2000 (vector 0x40): EOI; out 0x13, al (the next halt starts afresh: kvm_pvm cannot emulate this IRET). */
static const unsigned char isr[] = { 0xc7, 0x05, 0xb0, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0xe6, 0x13, 0xf4 };

static void halt(int vfd, struct kvm_run *run, int cs, unsigned ns) {
  flat32_set(vfd, 0x1000, ns, 0, 0, 0);
  char what[32];
  snprintf(what, sizeof what, "halt %u ns", ns);
  flat32_run(vfd, run, what);
  printf(" attempted=%llu successful=%llu wakeup=%llu\n", stat(cs, "halt_attempted_poll"), stat(cs, "halt_successful_poll"), stat(cs, "halt_wakeup"));
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IONBF, 0);
  int kvm = open("/dev/kvm", O_RDWR);
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  ioctl(vm, KVM_CREATE_IRQCHIP, 0);
  /* argv[1]: the VM's KVM_CAP_HALT_POLL maximum, if any. */
  if (argc > 1) {
    struct kvm_enable_cap hp = { .cap = KVM_CAP_HALT_POLL, .args = { strtoull(argv[1], 0, 0) } };
    printf("KVM_CAP_HALT_POLL %s: %d\n", argv[1], ioctl(vm, KVM_ENABLE_CAP, &hp));
  }
  unsigned char *mem = flat32_ram(vm);
  flat32_gdt(mem);
  memcpy(mem + 0x1000, code, sizeof code);
  memcpy(mem + 0x2000, isr, sizeof isr);
  flat32_gate(mem, 0x40, 0x2000);
  int vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  struct kvm_run *run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  int cs = ioctl(vfd, KVM_GET_STATS_FD, 0);
  flat32_sregs(vfd);
  static const unsigned halts[] = { 50000, 50000, 50000, 100000, 500000, 1000000, 1000000, 1000000, 50000, 50000 };
  for (unsigned i = 0; i < sizeof halts / sizeof halts[0]; i++) halt(vfd, run, cs, halts[i]);
  return 0;
}
