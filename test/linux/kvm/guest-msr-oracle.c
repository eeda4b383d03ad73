/*
 * The real-kernel half of test/linux/kvm/guest-msr.test.ts: guest RDMSR/WRMSR (kvm_emulate_rdmsr/wrmsr),
 * KVM_CAP_X86_USER_SPACE_MSR exits (KVM_EXIT_X86_RDMSR/WRMSR and their completion on re-entry) and
 * KVM_X86_SET_MSR_FILTER, with a guest running flat 32-bit protected-mode code:
 *   rd:      rdmsr; out 0x80, al
 *   wr:      wrmsr; out 0x80, al
 *   #GP:     out 0x8d, al
 * Each access sets ECX/EAX/EDX and RIP with KVM_SET_REGS and runs; the line says how the run ended and
 * what EAX/EDX hold. One line per step; no host-dependent values. The model runs the same steps.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "flat32-guest.h"
#include "kvm-oracle.h"

static int vm, vfd;
static struct kvm_run *run;
static unsigned char *mem;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

/* KVM_RUN; then how it ended and EAX/EDX (when `show`). */
static void dorun(const char *what, int show) {
  memset(&run->msr, 0xff, sizeof run->msr.pad + 1);
  long r = ioctl(vfd, KVM_RUN, 0);
  if (r < 0) printf("%s: E%d", what, errno);
  else printf("%s: exit=%u", what, run->exit_reason);
  if (r == 0 && run->exit_reason == KVM_EXIT_IO) printf(" io=%x", run->io.port);
  if (r == 0 && (run->exit_reason == KVM_EXIT_X86_RDMSR || run->exit_reason == KVM_EXIT_X86_WRMSR)) {
    unsigned pad = 0;
    for (int i = 0; i < 7; i++) pad += run->msr.pad[i];
    printf(" msr=%u/%u/%u/%x/%llx", run->msr.error, pad, run->msr.reason, run->msr.index, (unsigned long long)run->msr.data);
  }
  struct kvm_regs rg;
  ioctl(vfd, KVM_GET_REGS, &rg);
  if (show) printf(" eax=%x edx=%x", (unsigned)rg.rax, (unsigned)rg.rdx);
  printf("\n");
}

/* One guest RDMSR (wr=0) or WRMSR of index with EDX:EAX = hi:lo. */
static void acc(const char *what, int wr, uint32_t index, uint32_t lo, uint32_t hi, int show) {
  struct kvm_regs rg;
  memset(&rg, 0, sizeof rg);
  rg.rip = wr ? 0x1010 : 0x1000;
  rg.rsp = 0x8000;
  rg.rflags = 2;
  rg.rcx = index;
  rg.rax = lo;
  rg.rdx = hi;
  ioctl(vfd, KVM_SET_REGS, &rg);
  dorun(what, show);
}

/* Userspace's answer to an MSR exit, then KVM_RUN again. */
static void reply(const char *what, uint8_t error, uint64_t data, int immediate) {
  run->msr.error = error;
  run->msr.data = data;
  run->immediate_exit = immediate;
  long r = ioctl(vfd, KVM_RUN, 0);
  run->immediate_exit = 0;
  if (r < 0) printf("%s: E%d", what, errno);
  else printf("%s: exit=%u", what, run->exit_reason);
  if (r == 0 && run->exit_reason == KVM_EXIT_IO) printf(" io=%x", run->io.port);
  struct kvm_regs rg;
  ioctl(vfd, KVM_GET_REGS, &rg);
  printf(" eax=%x edx=%x\n", (unsigned)rg.rax, (unsigned)rg.rdx);
}

static void hostmsr(const char *what, int set, uint32_t index, uint64_t data) { kvm_hostmsr(vfd, what, set, index, data); }

static void cap(const char *what, uint64_t a0) {
  struct kvm_enable_cap ec = { .cap = KVM_CAP_X86_USER_SPACE_MSR, .args = { a0 } };
  res(what, ioctl(vm, KVM_ENABLE_CAP, &ec));
}

static uint8_t bitmaps[4][0x600 + 8];

static void filter(const char *what, uint32_t flags, int n, const uint32_t (*r)[3], const int *bm) {
  struct kvm_msr_filter f;
  memset(&f, 0, sizeof f);
  f.flags = flags;
  for (int i = 0; i < n; i++) {
    f.ranges[i].flags = r[i][0];
    f.ranges[i].nmsrs = r[i][1];
    f.ranges[i].base = r[i][2];
    f.ranges[i].bitmap = bm[i] < 0 ? NULL : bitmaps[bm[i]];
  }
  res(what, ioctl(vm, KVM_X86_SET_MSR_FILTER, &f));
}

static void setup(void) {
  flat32_msr_guest(mem);
  flat32_sregs(vfd);
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  printf("cap user space msr: %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR));
  printf("cap msr filter: %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER));
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  printf("vm cap user space msr: %d\n", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR));
  mem = flat32_ram(vm);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  setup();

  /* A: guest accesses, no userspace exits. */
  acc("rd tsc", 0, 0x10, 0, 0, 0);
  acc("rd pat", 0, 0x277, 0, 0, 1);
  acc("wr pat", 1, 0x277, 0x06, 0x04, 1);
  acc("rd pat", 0, 0x277, 0, 0, 1);
  acc("wr pat invalid", 1, 0x277, 0x02, 0, 1);
  hostmsr("host set pat", 1, 0x277, 0x0000000400000006ull);
  acc("rd unknown", 0, 0x12345, 0, 0, 1);
  acc("wr unknown", 1, 0x12345, 1, 2, 1);
  acc("rd apic base", 0, 0x1b, 0, 0, 1);
  acc("wr apic base x2apic", 1, 0x1b, 0xfee00d00, 0, 1);
  acc("wr apic base disabled", 1, 0x1b, 0xfee00100, 0, 1);
  acc("rd apic base", 0, 0x1b, 0, 0, 1);
  acc("wr apic base enabled", 1, 0x1b, 0xfee00900, 0, 1);
  acc("rd misc enable", 0, 0x1a0, 0, 0, 1);
  acc("wr misc enable ro bits", 1, 0x1a0, 0, 0, 1);
  acc("wr misc enable emon", 1, 0x1a0, 0x1880, 0, 1);
  acc("rd misc enable after emon", 0, 0x1a0, 0, 0, 1);
  hostmsr("host set misc enable 0", 1, 0x1a0, 0);
  acc("rd efer", 0, 0xc0000080, 0, 0, 1);
  acc("wr efer sce", 1, 0xc0000080, 1, 0, 1);
  acc("wr efer lme", 1, 0xc0000080, 0x100, 0, 1);
  acc("wr efer nx", 1, 0xc0000080, 0x800, 0, 1);
  acc("wr efer reserved", 1, 0xc0000080, 0x2, 0, 1);
  hostmsr("host set efer lme", 1, 0xc0000080, 0x100);
  acc("rd efer", 0, 0xc0000080, 0, 0, 1);
  acc("wr fs base noncanonical", 1, 0xc0000100, 0, 0x8000, 1);
  acc("wr fs base", 1, 0xc0000100, 0x1000, 0xffffffff, 1);
  hostmsr("host get fs base", 0, 0xc0000100, 0);
  acc("wr sysenter eip", 1, 0x176, 0, 0x8000, 1);
  hostmsr("host get sysenter eip", 0, 0x176, 0);
  acc("rd x2apic tpr", 0, 0x808, 0, 0, 1);
  acc("wr mtrr deftype invalid", 1, 0x2ff, 2, 0, 1);
  acc("wr tsc adjust", 1, 0x3b, 5, 0, 1);
  acc("rd tsc adjust", 0, 0x3b, 0, 0, 1);
  {
    /* x86.c: a guest TSC write moves the TSC offset and TSC_ADJUST by (value - current guest TSC). */
    struct { struct kvm_msrs h; struct kvm_msr_entry e[2]; } mm;
    memset(&mm, 0, sizeof mm);
    mm.h.nmsrs = 2;
    mm.e[0].index = 0x10;
    mm.e[1].index = 0x3b;
    ioctl(vfd, KVM_GET_MSRS, &mm);
    uint64_t before = mm.e[0].data;
    acc("wr tsc", 1, 0x10, 0, 0x100, 1);
    long r = ioctl(vfd, KVM_GET_MSRS, &mm);
    printf("tsc after guest write: %ld near=%d\n", r, mm.e[0].data - (1ull << 40) < (1ull << 36));
    printf("tsc adjust moved by the write: %d\n", (1ull << 40) - mm.e[1].data - before < (1ull << 36));
  }

  /* B: KVM_CAP_X86_USER_SPACE_MSR. */
  cap("user space msr 8", 8);
  cap("user space msr 1<<32", 1ull << 32);
  cap("user space msr unknown|filter", KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER);
  acc("rd unknown", 0, 0x12345, 0, 0, 1);
  reply("rd unknown answered", 0, 0x1122334455667788ull, 0);
  acc("wr unknown", 1, 0x12345, 0xaabbccdd, 0x11223344, 1);
  reply("wr unknown refused", 1, 0, 0);
  acc("rd unknown", 0, 0x12345, 7, 8, 1);
  reply("rd unknown refused", 2, 0x99, 0);
  acc("rd unknown", 0, 0x12345, 0, 0, 1);
  reply("rd unknown answered, immediate exit", 0, 0x55, 1);
  acc("wr unknown", 1, 0x12345, 3, 0, 1);
  run->exit_reason = KVM_EXIT_IO;
  reply("wr unknown answered, exit_reason changed", 0, 0, 0);
  acc("wr efer reserved, no inval exits", 1, 0xc0000080, 0x2, 0, 1);
  cap("user space msr all", 7);
  acc("wr efer reserved", 1, 0xc0000080, 0x2, 0, 1);
  reply("wr efer reserved answered", 0, 0, 0);
  hostmsr("host get efer", 0, 0xc0000080, 0);
  acc("rd x2apic tpr", 0, 0x808, 0, 0, 1);
  reply("rd x2apic answered", 0, 0x10, 0);
  acc("wr apic base x2apic", 1, 0x1b, 0xfee00d00, 0, 1);
  reply("wr apic base refused", 1, 0, 0);
  acc("rd pat", 0, 0x277, 0, 0, 1);

  /* C: KVM_X86_SET_MSR_FILTER. */
  memset(bitmaps, 0, sizeof bitmaps);
  bitmaps[1][0] = 1; /* allow the first MSR of the range */
  memset(bitmaps[2], 0xff, sizeof bitmaps[2]);
  static const uint32_t r_pat_rd[][3] = { { KVM_MSR_FILTER_READ, 1, 0x277 } };
  static const int b0[] = { 0 }, b1[] = { 1 }, b2[] = { 2 }, bnull[] = { -1 };
  filter("flags 2", 2, 1, r_pat_rd, b0);
  filter("deny, no ranges", KVM_MSR_FILTER_DEFAULT_DENY, 0, NULL, NULL);
  static const uint32_t r_noflags[][3] = { { 0, 1, 0x277 } };
  filter("range flags 0", 0, 1, r_noflags, b0);
  static const uint32_t r_badflags[][3] = { { 4 | KVM_MSR_FILTER_READ, 1, 0x277 } };
  filter("range flags 5", 0, 1, r_badflags, b0);
  static const uint32_t r_empty_bad[][3] = { { 0x80, 0, 0x277 } };
  filter("empty range, bad flags", 0, 1, r_empty_bad, bnull);
  static const uint32_t r_big[][3] = { { KVM_MSR_FILTER_READ, 0x600 * 8 + 1, 0 } };
  filter("nmsrs above max", 0, 1, r_big, b2);
  static const uint32_t r_max[][3] = { { KVM_MSR_FILTER_READ, 0x600 * 8, 0 } };
  filter("nmsrs max", 0, 1, r_max, b2);
  filter("bitmap null", 0, 1, r_pat_rd, bnull);
  filter("deny pat reads", 0, 1, r_pat_rd, b0);
  acc("rd pat filtered", 0, 0x277, 0, 0, 1);
  reply("rd pat filtered answered", 0, 0x42, 0);
  acc("wr pat not filtered", 1, 0x277, 0x06, 0x06, 1);
  hostmsr("host get pat", 0, 0x277, 0);
  static const uint32_t r_pat_rw[][3] = { { KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, 1, 0x277 } };
  filter("default deny, allow pat", KVM_MSR_FILTER_DEFAULT_DENY, 1, r_pat_rw, b1);
  acc("rd pat allowed", 0, 0x277, 0, 0, 1);
  acc("rd apic base denied", 0, 0x1b, 0, 0, 1);
  reply("rd apic base denied answered", 1, 0, 0);
  acc("rd x2apic never filtered", 0, 0x808, 0, 0, 1);
  reply("rd x2apic answered under deny", 0, 0, 0);
  acc("rd unknown denied", 0, 0x12345, 0, 0, 1);
  hostmsr("host get apic base", 0, 0x1b, 0);
  hostmsr("host set pat", 1, 0x277, 0x0007040600070406ull);
  static const uint32_t r_x2[][3] = { { KVM_MSR_FILTER_READ, 1, 0x808 } };
  filter("deny x2apic tpr reads", 0, 1, r_x2, b0);
  acc("rd x2apic tpr, filter covers it", 0, 0x808, 0, 0, 1);
  reply("rd x2apic refused, filter covers it", 1, 0, 0);
  filter("default deny, allow pat", KVM_MSR_FILTER_DEFAULT_DENY, 1, r_pat_rw, b1);
  cap("user space msr off", 0);
  acc("rd apic base denied, no exits", 0, 0x1b, 0, 0, 1);
  filter("allow all", 0, 0, NULL, NULL);
  acc("rd apic base", 0, 0x1b, 0, 0, 1);
  return 0;
}
