/*
 * The real-kernel half of test/linux/kvm/mce.test.ts: KVM's machine-check emulation (arch/x86/kvm/x86.c
 * kvm_arch_dev_ioctl KVM_X86_GET_MCE_CAP_SUPPORTED, kvm_vm_ioctl_check_extension KVM_CAP_MCE,
 * kvm_vcpu_ioctl_x86_setup_mce, kvm_vcpu_ioctl_x86_set_mce, kvm_vcpu_x86_set_ucna, set_msr_mce,
 * get_msr_mce, MSR_K7_HWCR, kvm_vcpu_reset) on a VM with the in-kernel irqchip and 64 KiB of RAM at 0,
 * two vCPUs (vCPU 1 only receives an INIT), the guest flat 32-bit protected-mode code:
 *   0x1000 rd:   rdmsr; out 0x80, al; hlt
 *   0x1010 wr:   wrmsr; out 0x80, al; hlt
 *   0x1020 idle: out 0x81, al; hlt
 *   0x2000 #GP:  out 0x8d, al; hlt
 *   0x2100 #MC:  out 0x92, al; hlt
 * One line per step.
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

#define VAL (1ull << 63)
#define OVER (1ull << 62)
#define UC (1ull << 61)
#define EN (1ull << 60)
#define PCC (1ull << 57)
#define S (1ull << 56)
#define AR (1ull << 55)
#define MCIP 4ull
#define RIPV 1ull

static int kvm, vm, vfd;
static struct kvm_run *run;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static void hostmsr(const char *what, int set, uint32_t index, uint64_t data) { kvm_hostmsr(vfd, what, set, index, data); }
static void get(const char *what, uint32_t index) { hostmsr(what, 0, index, 0); }
static void set(const char *what, uint32_t index, uint64_t v) { hostmsr(what, 1, index, v); }

/* Bank `b`'s CTL, STATUS, ADDR, MISC and MCG_STATUS on one line. */
static void bank(const char *what, unsigned b) {
  struct { struct kvm_msrs h; struct kvm_msr_entry e[5]; } m;
  memset(&m, 0, sizeof m);
  m.h.nmsrs = 5;
  for (int i = 0; i < 4; i++) m.e[i].index = 0x400 + 4 * b + i;
  m.e[4].index = 0x17a;
  long r = ioctl(vfd, KVM_GET_MSRS, &m);
  printf("%s: %ld ctl=%llx status=%llx addr=%llx misc=%llx mcg_status=%llx\n", what, r, (unsigned long long)m.e[0].data,
         (unsigned long long)m.e[1].data, (unsigned long long)m.e[2].data, (unsigned long long)m.e[3].data, (unsigned long long)m.e[4].data);
}

static void setup(const char *what, uint64_t cap) { res(what, ioctl(vfd, KVM_X86_SETUP_MCE, &cap)); }

static void mce(const char *what, unsigned b, uint64_t status, uint64_t mcg_status, uint64_t addr, uint64_t misc) {
  struct kvm_x86_mce m;
  memset(&m, 0, sizeof m);
  m.bank = b;
  m.status = status;
  m.mcg_status = mcg_status;
  m.addr = addr;
  m.misc = misc;
  res(what, ioctl(vfd, KVM_X86_SET_MCE, &m));
}

static void events(const char *what) {
  struct kvm_vcpu_events e;
  memset(&e, 0, sizeof e);
  long r = ioctl(vfd, KVM_GET_VCPU_EVENTS, &e);
  printf("%s: %ld exc inj=%u nr=%u has_err=%u pending=%u triple=%u\n", what, r, e.exception.injected, e.exception.nr,
         e.exception.has_error_code, e.exception.pending, e.triple_fault.pending);
}

/* Runs from rip with ECX/EAX/EDX set; prints how the run ended and EAX/EDX. */
static void acc(const char *what, uint64_t rip, uint32_t index, uint32_t lo, uint32_t hi) {
  flat32_set(vfd, rip, lo, 0, index, hi);
  flat32_run(vfd, run, what);
  struct kvm_regs rg;
  ioctl(vfd, KVM_GET_REGS, &rg);
  printf(" eax=%x edx=%x\n", (unsigned)rg.rax, (unsigned)rg.rdx);
}
static void rd(const char *what, uint32_t index) { acc(what, 0x1000, index, 0, 0); }
static void wr(const char *what, uint32_t index, uint64_t v) { acc(what, 0x1010, index, (uint32_t)v, (uint32_t)(v >> 32)); }

/* KVM_RUN from where the vCPU is. */
static void go(const char *what) {
  flat32_run(vfd, run, what);
  printf("\n");
}
static void idle(void) { flat32_regs(vfd, 0x1020, 2); }

static void cr4(int mce) {
  struct kvm_sregs sr;
  ioctl(vfd, KVM_GET_SREGS, &sr);
  if (mce) sr.cr4 |= 0x40;
  else sr.cr4 &= ~0x40ull;
  ioctl(vfd, KVM_SET_SREGS, &sr);
}

/* KVM_SET_CPUID2 with leaf 0's vendor: AMD ("AuthenticAMD") or Intel ("GenuineIntel"). */
static void vendor(const char *what, int amd) {
  struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[1]; } c;
  memset(&c, 0, sizeof c);
  c.c.nent = 1;
  c.e[0].function = 0;
  c.e[0].eax = 1;
  memcpy(&c.e[0].ebx, amd ? "Auth" : "Genu", 4);
  memcpy(&c.e[0].edx, amd ? "enti" : "ineI", 4);
  memcpy(&c.e[0].ecx, amd ? "cAMD" : "ntel", 4);
  res(what, ioctl(vfd, KVM_SET_CPUID2, &c));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  kvm = open("/dev/kvm", O_RDWR);
  res("cap mce", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MCE));
  uint64_t sup = 0;
  long r = ioctl(kvm, KVM_X86_GET_MCE_CAP_SUPPORTED, &sup);
  printf("mce cap supported: %ld %llx\n", r, (unsigned long long)sup);
  res("mce cap supported, bad pointer", ioctl(kvm, KVM_X86_GET_MCE_CAP_SUPPORTED, (void *)8));

  struct { struct kvm_msr_list l; uint32_t i[256]; } ml;
  ml.l.nmsrs = 256;
  ioctl(kvm, KVM_GET_MSR_INDEX_LIST, &ml);
  printf("index list mce:");
  for (unsigned i = 0; i < ml.l.nmsrs; i++) {
    uint32_t x = ml.i[i];
    if (x == 0x179 || x == 0x17a || x == 0x17b || x == 0x4d0 || x == 0xc0010015 || (x >= 0x280 && x < 0x2a0) || (x >= 0x400 && x < 0x480)) printf(" %x", x);
  }
  printf("\n");

  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  res("vm cap mce", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MCE));
  res("create irqchip", ioctl(vm, KVM_CREATE_IRQCHIP, 0));
  unsigned char *mem = flat32_ram(vm);
  flat32_gdt(mem);
  static const unsigned char gp[] = { 0xe6, 0x8d, 0xf4 }, mc[] = { 0xe6, 0x92, 0xf4 }, id[] = { 0xe6, 0x81, 0xf4 };
  static const unsigned char rdc[] = { 0x0f, 0x32, 0xe6, 0x80, 0xf4 }, wrc[] = { 0x0f, 0x30, 0xe6, 0x80, 0xf4 };
  memcpy(mem + 0x2000, gp, 3);
  memcpy(mem + 0x2100, mc, 3);
  memcpy(mem + 0x1000, rdc, 5);
  memcpy(mem + 0x1010, wrc, 5);
  memcpy(mem + 0x1020, id, 3);
  flat32_gate(mem, 13, 0x2000);
  flat32_gate(mem, 18, 0x2100);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  int v1 = ioctl(vm, KVM_CREATE_VCPU, 1);
  run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  flat32_sregs(vfd);

  /* Before KVM_X86_SETUP_MCE: mcg_cap = KVM_MAX_MCE_BANKS, everything 0. */
  get("mcg_cap at creation", 0x179);
  get("mcg_status", 0x17a);
  get("mcg_ctl", 0x17b);
  get("p5_mc_addr", 0x0);
  get("p5_mc_type", 0x1);
  get("mc0_ctl", 0x400);
  get("mc31_misc", 0x47f);
  get("mc32_ctl", 0x480);
  get("mc0_ctl2", 0x280);
  get("mc31_ctl2", 0x29f);
  get("mc32_ctl2", 0x2a0);
  get("mcg_ext_ctl", 0x4d0);
  get("hwcr", 0xc0010015);
  set("mcg_cap write", 0x179, 0x20);
  set("mcg_cap write 0", 0x179, 0);
  set("p5_mc_addr write 0", 0x0, 0);
  set("p5_mc_type write 1", 0x1, 1);
  set("mcg_ctl 1, no CTL_P", 0x17b, 1);
  set("mcg_ctl ~0, no CTL_P", 0x17b, ~0ull);
  set("mcg_ctl 0, no CTL_P", 0x17b, 0);
  set("mc0_ctl2 0, no CMCI_P", 0x280, 0);
  set("mc0_ctl2 1, no CMCI_P", 0x280, 1);
  set("mcg_ext_ctl 0", 0x4d0, 0);
  set("mcg_ext_ctl 1", 0x4d0, 1);
  mce("set_mce bank 0 corrected before setup", 0, VAL | EN | 0x1234, 0, 0x1000, 0x86);
  bank("  bank 0", 0);
  set("mc0_status 0", 0x401, 0);

  static const struct { const char *w; uint64_t cap; } caps[] = {
    {"setup 0 banks", 0}, {"setup 33 banks", 33}, {"setup 32 banks", 32}, {"setup CMCI_P", 0x400 | 4}, {"setup TES_P", 0x800 | 4},
    {"setup MCG_EXT_P", 0x200 | 4}, {"setup LMCE_P", 0x8000000 | 4}, {"setup bit 12", 0x1000 | 4}, {"setup bit 32", 0x100000000ull | 4},
    {"setup ff0000 (extended count)", 0xff0000 | 4}, {"setup SER_P", 0x1000000 | 4}, {"setup 1 bank", 1},
  };
  for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    setup(caps[i].w, caps[i].cap);
    get("  mcg_cap", 0x179);
  }
  get("mcg_ctl after setup without CTL_P", 0x17b);
  get("mc0_ctl", 0x400);
  get("mc1_ctl", 0x404);
  res("setup bad pointer", ioctl(vfd, KVM_X86_SETUP_MCE, (void *)8));

  /* Ten banks with MCG_CTL_P and SER_P, as QEMU's default (10 banks, CTL_P | SER_P... here the host's). */
  setup("setup 10 banks CTL_P|SER_P", 0x100010a);
  get("  mcg_cap", 0x179);
  get("  mcg_ctl", 0x17b);
  bank("  bank 0", 0);
  bank("  bank 9", 9);
  get("  mc10_ctl", 0x428);
  get("  mc9_misc", 0x427);
  get("  mc9_ctl2", 0x289);
  get("  mc10_ctl2", 0x28a);
  set("mcg_ctl 1", 0x17b, 1);
  set("mcg_ctl 0", 0x17b, 0);
  set("mcg_ctl ~0", 0x17b, ~0ull);
  set("mc0_ctl 0x1234", 0x400, 0x1234);
  set("mc0_ctl ~bit10", 0x400, ~0x400ull);
  set("mc0_ctl ~bit0", 0x400, ~1ull);
  set("mc0_ctl ~bits0,10", 0x400, ~0x401ull);
  set("mc0_ctl ~bit1", 0x400, ~2ull);
  set("mc0_ctl 0", 0x400, 0);
  set("mc0_ctl ~0", 0x400, ~0ull);
  set("mc0_status any (host)", 0x401, 0x1234);
  set("mc0_addr", 0x402, 0x5678);
  set("mc0_misc", 0x403, 0x9abc);
  set("mc10_status", 0x429, 0);
  set("mcg_status any", 0x17a, 0x77);
  set("mcg_status 0", 0x17a, 0);
  set("mc0_status 0", 0x401, 0);
  set("mc0_addr 0", 0x402, 0);
  set("mc0_misc 0", 0x403, 0);
  set("hwcr McStatusWrEn", 0xc0010015, 1 << 18);
  set("hwcr TscFreqSel", 0xc0010015, 1 << 24);
  set("hwcr ignored bits", 0xc0010015, 0x148);
  get("  hwcr", 0xc0010015);
  set("hwcr bit 0", 0xc0010015, 1);
  get("  hwcr", 0xc0010015);

  /* KVM_X86_SET_MCE checks. */
  mce("set_mce bank 10", 10, VAL | EN, 0, 0, 0);
  mce("set_mce no VAL", 0, EN | UC, 0, 0, 0);
  res("set_mce bad pointer", ioctl(vfd, KVM_X86_SET_MCE, (void *)8));
  events("events");
  /* Corrected errors are recorded; a second one over a valid one sets OVER. */
  mce("corrected", 1, VAL | EN | 0x11, 5, 0x1000, 0x86);
  bank("  bank 1", 1);
  mce("corrected over corrected", 1, VAL | EN | 0x22, 0, 0x2000, 0x87);
  bank("  bank 1", 1);
  events("  events");
  /* Uncorrected with CR4.MCE clear: triple fault, nothing recorded. */
  mce("uncorrected, CR4.MCE clear", 2, VAL | UC | EN | PCC | 0x33, MCIP | RIPV, 0x3000, 0x88);
  bank("  bank 2", 2);
  events("  events");
  idle();
  go("  run");
  mce("uncorrected, CR4.MCE clear (2)", 2, VAL | UC | EN | PCC | 0x33, MCIP | RIPV, 0x3000, 0x88);
  res("  set_vcpu_events clears it", 0);
  struct kvm_vcpu_events ev;
  ioctl(vfd, KVM_GET_VCPU_EVENTS, &ev);
  ev.flags = 0;
  res("  set_vcpu_events", ioctl(vfd, KVM_SET_VCPU_EVENTS, &ev));
  idle();
  go("  run");
  go("  run again");
  /* Uncorrected with CR4.MCE: #MC queued, the bank and MCG_STATUS written. */
  cr4(1);
  idle();
  mce("uncorrected", 2, VAL | UC | EN | PCC | S | 0x33, MCIP | RIPV, 0x3000, 0x88);
  bank("  bank 2", 2);
  events("  events");
  go("  run to #MC");
  events("  events");
  /* MCIP set: the next uncorrected error is a triple fault. */
  mce("uncorrected, MCIP set", 3, VAL | UC | S | AR | 0x44, MCIP, 0x4000, 0);
  bank("  bank 3", 3);
  events("  events");
  ioctl(vfd, KVM_GET_VCPU_EVENTS, &ev);
  ev.flags = 0;
  res("  set_vcpu_events", ioctl(vfd, KVM_SET_VCPU_EVENTS, &ev));
  events("  events");
  set("mcg_status 0", 0x17a, 0);
  /* Uncorrected over a valid bank: OVER. */
  idle();
  mce("uncorrected over valid", 2, VAL | UC | EN | S | 0x55, MCIP | RIPV, 0x5000, 0x89);
  bank("  bank 2", 2);
  go("  run to #MC");
  events("  events");
  set("mcg_status 0", 0x17a, 0);
  /* Corrected over an uncorrected: only OVER. */
  mce("corrected over uncorrected", 2, VAL | EN | 0x66, 0, 0x6000, 0x8a);
  bank("  bank 2", 2);
  /* UCNA (UC without PCC/S/AR, MCG_STATUS 0): recorded, no #MC, no CMCI without CMCI_P. */
  idle();
  mce("ucna", 4, VAL | UC | EN | 0x77, 0, 0x7000, 0x8b);
  bank("  bank 4", 4);
  events("  events");
  mce("ucna over ucna", 4, VAL | UC | EN | 0x78, 0, 0x7100, 0x8c);
  bank("  bank 4", 4);
  mce("corrected over ucna", 4, VAL | EN | 0x7a, 0, 0x7200, 0x8d);
  bank("  bank 4", 4);
  mce("ucna, CR4.MCE clear", 4, VAL | UC | 0x79, 0, 0, 0);
  /* MCG_CTL 0 or MCi_CTL 0 disable uncorrected reporting. */
  set("mcg_ctl 0", 0x17b, 0);
  mce("uncorrected, MCG_CTL 0", 5, VAL | UC | S | 0x88, MCIP | RIPV, 0x8000, 0);
  bank("  bank 5", 5);
  mce("corrected, MCG_CTL 0", 5, VAL | 0x89, 0, 0x8100, 0);
  bank("  bank 5", 5);
  set("mcg_ctl ~0", 0x17b, ~0ull);
  set("mc6_ctl 0", 0x418, 0);
  mce("uncorrected, MC6_CTL 0", 6, VAL | UC | S | 0x99, MCIP | RIPV, 0x9000, 0);
  bank("  bank 6", 6);
  set("mc6_ctl ~bit10", 0x418, ~0x400ull);
  mce("uncorrected, MC6_CTL ~bit10", 6, VAL | UC | S | 0x99, MCIP | RIPV, 0x9000, 0);
  bank("  bank 6", 6);
  events("  events");
  go("  run");
  set("mcg_status 0", 0x17a, 0);

  /* An injected #DF: queueing #MC over it is a triple fault (kvm_multiple_exception); the bank is written. */
  ioctl(vfd, KVM_GET_VCPU_EVENTS, &ev);
  ev.flags = 0;
  ev.exception.injected = 1;
  ev.exception.nr = 8;
  ev.exception.has_error_code = 1;
  ev.exception.error_code = 0;
  res("set_vcpu_events #DF injected", ioctl(vfd, KVM_SET_VCPU_EVENTS, &ev));
  mce("uncorrected over #DF", 8, VAL | UC | S | 0xdf, MCIP | RIPV, 0xd000, 0);
  bank("  bank 8", 8);
  events("  events");
  go("  run");
  events("  events");
  ev.exception.injected = 0;
  res("  set_vcpu_events nothing injected", ioctl(vfd, KVM_SET_VCPU_EVENTS, &ev));
  set("mcg_status 0", 0x17a, 0);
  idle();
  go("  run");

  /* Guest RDMSR/WRMSR. */
  rd("guest rd mcg_cap", 0x179);
  wr("guest wr mcg_cap", 0x179, 0x100010a);
  rd("guest rd mcg_ctl", 0x17b);
  wr("guest wr mcg_ctl 0", 0x17b, 0);
  wr("guest wr mcg_ctl 5", 0x17b, 5);
  wr("guest wr mcg_ctl ~0", 0x17b, ~0ull);
  rd("guest rd mcg_status", 0x17a);
  wr("guest wr mcg_status", 0x17a, 0x5);
  rd("guest rd mc1_status", 0x405);
  wr("guest wr mc1_status 1", 0x405, 1);
  wr("guest wr mc1_status 0", 0x405, 0);
  wr("guest wr mc1_addr", 0x406, 0x1234);
  wr("guest wr mc1_ctl 3", 0x404, 3);
  wr("guest wr mc1_ctl 0", 0x404, 0);
  rd("guest rd mc1_ctl", 0x404);
  rd("guest rd mc10_ctl", 0x428);
  rd("guest rd mc0_ctl2", 0x280);
  wr("guest wr mc0_ctl2 0", 0x280, 0);
  rd("guest rd mcg_ext_ctl", 0x4d0);
  rd("guest rd p5_mc_addr", 0);
  rd("guest rd hwcr", 0xc0010015);
  set("hwcr McStatusWrEn", 0xc0010015, 1 << 18);
  wr("guest wr mc1_status 1, no AMD CPUID, McStatusWrEn", 0x405, 1);
  wr("guest wr hwcr", 0xc0010015, 0);
  wr("guest wr hwcr bit 0", 0xc0010015, 1);
  get("  hwcr", 0xc0010015);
  wr("guest wr hwcr McStatusWrEn", 0xc0010015, 1 << 18);
  wr("guest wr p5_mc_addr 0", 0, 0);

  /* vCPU 2: an AMD guest CPUID (set before it first runs), then an Intel one on vCPU 3. */
  for (int amd = 1; amd >= 0; amd--) {
    int keep = vfd;
    struct kvm_run *keeprun = run;
    vfd = ioctl(vm, KVM_CREATE_VCPU, 3 - amd);
    run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
    vendor(amd ? "vCPU 2 set_cpuid2 AMD" : "vCPU 3 set_cpuid2 Intel", amd);
    flat32_sregs(vfd);
    struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
    res("  set_mp_state runnable", ioctl(vfd, KVM_SET_MP_STATE, &runnable));
    setup("  setup 10 banks", 0x100010a);
    wr("  guest wr mc1_status 1, no McStatusWrEn", 0x405, 1);
    set("  hwcr McStatusWrEn", 0xc0010015, 1 << 18);
    wr("  guest wr mc1_status 1, McStatusWrEn", 0x405, 1);
    get("  mc1_status", 0x405);
    wr("  guest wr mc1_status 0", 0x405, 0);
    vfd = keep;
    run = keeprun;
  }

  /* RESET and INIT: what KVM_X86_SETUP_MCE set up and the banks survive INIT. */
  set("mcg_status", 0x17a, 5);
  mce("corrected for INIT", 7, VAL | 0x1, 0, 0x77, 0x78);
  {
    int keep = vfd;
    vfd = v1;
    setup("vCPU 1 setup 10 banks CTL_P|SER_P", 0x100010a);
    set("vCPU 1 mcg_ctl 0", 0x17b, 0);
    set("vCPU 1 mcg_status", 0x17a, 5);
    mce("vCPU 1 corrected", 7, VAL | 0x1, 0, 0x77, 0x78);
    set("vCPU 1 mc8_ctl 0", 0x420, 0);
    set("vCPU 1 hwcr", 0xc0010015, 1 << 18);
    struct kvm_lapic_state ls;
    ioctl(v1, KVM_GET_LAPIC, &ls);
    uint32_t spiv = 0x1ff;
    memcpy(ls.regs + 0xf0, &spiv, 4);
    res("vCPU 1 set_lapic SPIV", ioctl(v1, KVM_SET_LAPIC, &ls));
    struct kvm_msi msi = { .address_lo = 0xfee01000, .data = 0x500 };
    res("INIT to vCPU 1", ioctl(vm, KVM_SIGNAL_MSI, &msi));
    struct kvm_mp_state mp;
    res("get_mp_state", ioctl(v1, KVM_GET_MP_STATE, &mp));
    printf("  mp_state %u\n", mp.mp_state);
    get("  mcg_cap", 0x179);
    get("  mcg_ctl", 0x17b);
    get("  hwcr", 0xc0010015);
    get("  mc8_ctl", 0x420);
    bank("  bank 7", 7);
    vfd = keep;
  }
  return 0;
}
