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
#include <time.h>
#include <stdlib.h>
#include <unistd.h>
#include "flat32-guest.h"
#include "kvm-oracle.h"


/* The guest at 0x1000: SVR 0x1ff; TDCR 0xb; LVTT 0x40; TMICT = EAX; sti; hlt; hlt. */
static const unsigned char code[] = {
  0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, 0xc7, 0x05, 0xe0, 0x03, 0xe0, 0xfe, 0x0b, 0x00, 0x00, 0x00,
  0xc7, 0x05, 0x20, 0x03, 0xe0, 0xfe, 0x40, 0x00, 0x00, 0x00, 0xa3, 0x80, 0x03, 0xe0, 0xfe, 0xfb, 0xf4, 0xf4,
};
/* 0x2000 (vector 0x40): EOI; out 0x13, al (the next halt starts afresh: kvm_pvm cannot emulate this IRET). */
static const unsigned char isr[] = { 0xc7, 0x05, 0xb0, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0xe6, 0x13, 0xf4 };

static char out[4096];
static size_t used;

/* One halt: its line goes to out[]; returns how long KVM_RUN took (ns). */
static long long halt(int vfd, struct kvm_run *run, int cs, unsigned ns) {
  struct timespec a, b;
  flat32_set(vfd, 0x1000, ns, 0, 0, 0);
  clock_gettime(CLOCK_MONOTONIC, &a);
  long r = ioctl(vfd, KVM_RUN, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  used += snprintf(out + used, sizeof out - used, "halt %u ns: ", ns);
  if (r < 0) used += snprintf(out + used, sizeof out - used, "E%d", errno);
  else used += snprintf(out + used, sizeof out - used, "exit=%u", run->exit_reason);
  if (r == 0 && run->exit_reason == KVM_EXIT_IO) used += snprintf(out + used, sizeof out - used, " io=%x", run->io.port);
  used += snprintf(out + used, sizeof out - used, " attempted=%llu successful=%llu wakeup=%llu\n", kvm_stat(cs, "halt_attempted_poll"), kvm_stat(cs, "halt_successful_poll"), kvm_stat(cs, "halt_wakeup"));
  return (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}

/* The whole sequence on a fresh VM; returns 1 if no halt meant to be under the maximum was stretched past it. */
static int sequence(int kvm, const char *cap) {
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  ioctl(vm, KVM_CREATE_IRQCHIP, 0);
  used = 0;
  if (cap) {
    struct kvm_enable_cap hp = { .cap = KVM_CAP_HALT_POLL, .args = { strtoull(cap, 0, 0) } };
    used += snprintf(out + used, sizeof out - used, "KVM_CAP_HALT_POLL %s: %d\n", cap, ioctl(vm, KVM_ENABLE_CAP, &hp));
  }
  unsigned char *mem = flat32_ram(vm);
  flat32_gdt(mem);
  memcpy(mem + 0x1000, code, sizeof code);
  memcpy(mem + 0x2000, isr, sizeof isr);
  flat32_gate(mem, 0x40, 0x2000);
  int vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  size_t size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  int cs = ioctl(vfd, KVM_GET_STATS_FD, 0);
  flat32_sregs(vfd);
  static const unsigned halts[] = { 50000, 50000, 50000, 100000, 500000, 1000000, 1000000, 1000000, 50000, 50000 };
  int ok = 1;
  for (unsigned i = 0; i < sizeof halts / sizeof halts[0]; i++)
    if (halt(vfd, run, cs, halts[i]) >= 190000 && halts[i] < 190000) ok = 0;
  munmap(run, size);
  munmap(mem, 0x10000);
  close(cs);
  close(vfd);
  close(vm);
  return ok;
}

int main(int argc, char **argv) {
  int kvm = open("/dev/kvm", O_RDWR);
  /* argv[1]: the VM's KVM_CAP_HALT_POLL maximum, if any. */
  for (int i = 0; i < 20 && !sequence(kvm, argc > 1 ? argv[1] : NULL); i++) {}
  fputs(out, stdout);
  return 0;
}
