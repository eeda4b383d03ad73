/*
 * The real-kernel half of test/linux/kvm/pv-msrs.test.ts: the KVM paravirtual MSRs (arch/x86/kvm/x86.c
 * kvm_get/set_msr_common MSR_KVM_*, kvm_write_wall_clock, kvm_write_system_time, kvm_guest_time_update,
 * kvm_setup_guest_pvclock, record_steal_time, kvm_pv_enable_async_pf(_int); lapic.c kvm_lapic_set_pv_eoi;
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID / guest_pv_has) on a VM with the in-kernel irqchip and 64 KiB of RAM
 * at 0, the guest flat 32-bit protected-mode code:
 *   0x1000 rd:   rdmsr; out 0x80, al; hlt
 *   0x1010 wr:   wrmsr; out 0x80, al; hlt
 *   0x1020 clk:  wrmsr; mov eax, [ebx]; mov edx, [ebx + 0x18]; out 0x80, al; hlt
 *   0x2000 #GP:  out 0x8d, al; hlt
 * One line per step, host-independent values only (parities, flags, comparisons).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include "flat32-guest.h"

static int vm, vfd;
static struct kvm_run *run;
static unsigned char *mem;

static const uint32_t PV[] = { 0x11, 0x12, 0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d05, 0x4b564d06, 0x4b564d07 };
#define NPV (sizeof PV / sizeof PV[0])

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static long msr(int set, uint32_t index, uint64_t *data) {
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m;
  memset(&m, 0, sizeof m);
  m.h.nmsrs = 1;
  m.e.index = index;
  m.e.data = *data;
  long r = ioctl(vfd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &m);
  *data = m.e.data;
  return r;
}

static void hostmsr(const char *what, int set, uint32_t index, uint64_t data) {
  long r = msr(set, index, &data);
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld %llx\n", what, r, (unsigned long long)data);
}

static uint32_t rd32(uint32_t gpa) { uint32_t v; memcpy(&v, mem + gpa, 4); return v; }
static uint64_t rd64(uint32_t gpa) { uint64_t v; memcpy(&v, mem + gpa, 8); return v; }

/* Runs from rip with ECX/EAX/EDX/EBX set; prints how the run ended and EAX/EDX. */
static void acc(const char *what, uint64_t rip, uint32_t index, uint32_t lo, uint32_t hi, uint32_t ebx) {
  flat32_set(vfd, rip, lo, ebx, index, hi);
  flat32_run(vfd, run, what);
  struct kvm_regs rg;
  ioctl(vfd, KVM_GET_REGS, &rg);
  printf(" eax=%x edx=%x\n", (unsigned)rg.rax, (unsigned)rg.rdx);
}
static void rd(const char *what, uint32_t index) { acc(what, 0x1000, index, 0, 0, 0); }
static void wr(const char *what, uint32_t index, uint64_t v) { acc(what, 0x1010, index, (uint32_t)v, (uint32_t)(v >> 32), 0); }

static uint64_t kvmclock(void) {
  struct kvm_clock_data c;
  memset(&c, 0, sizeof c);
  ioctl(vm, KVM_GET_CLOCK, &c);
  return c.clock;
}

/*
 * KVM_GET_CLOCK's flags, and whether realtime was filled in (__get_kvmclock: the master clock). host_tsc is
 * not printed: the model's host booted at virtual time 0, so its TSC may still read 0 here.
 */
static void clockflags(const char *what) {
  struct kvm_clock_data c;
  memset(&c, 0, sizeof c);
  long r = ioctl(vm, KVM_GET_CLOCK, &c);
  printf("%s: %ld flags=%u realtime=%d\n", what, r, c.flags, c.realtime != 0);
}

/* struct pvclock_wall_clock at gpa: version, and whether sec is the host's boot epoch of the VM's kvmclock. */
static void wallclock(const char *what, uint32_t gpa) {
  uint64_t clock = kvmclock();
  long now = (long)time(NULL);
  long sec = (long)rd32(gpa + 4);
  long nsec = (long)rd32(gpa + 8);
  long d = sec + (long)(clock / 1000000000ull) - now;
  printf("%s: version=%u epoch_ok=%d nsec_ok=%d\n", what, rd32(gpa), d >= -2 && d <= 2, nsec < 1000000000l);
}

static uint64_t last_system_time;

/* struct pvclock_vcpu_time_info at gpa. */
static void pvclock(const char *what, uint32_t gpa) {
  uint32_t version = rd32(gpa);
  uint64_t tsc = rd64(gpa + 8), st = rd64(gpa + 16);
  uint32_t mul = rd32(gpa + 24);
  int8_t shift = (int8_t)mem[gpa + 28];
  uint8_t flags = mem[gpa + 29];
  uint64_t clock = kvmclock(), msr_tsc = 0;
  msr(0, 0x10, &msr_tsc);
  printf("%s: version_even=%d written=%d mul=%x shift=%d flags=%x tsc_le_msr=%d st_le_clock=%d st_monotonic=%d pad=%x\n", what, version % 2 == 0,
         version != 0, mul, shift, flags, tsc <= msr_tsc, st <= clock, st >= last_system_time, rd32(gpa + 4) | mem[gpa + 30] | mem[gpa + 31]);
  if (version) last_system_time = st;
}

/* struct kvm_steal_time at gpa: version parity, preempted. */
static void steal(const char *what, uint32_t gpa) {
  printf("%s: version_even=%d written=%d preempted=%u\n", what, rd32(gpa + 8) % 2 == 0, rd32(gpa + 8) != 0, mem[gpa + 16]);
}

static void enforce(const char *what, uint64_t on, uint32_t flags) {
  struct kvm_enable_cap ec = { .cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .flags = flags, .args = { on } };
  res(what, ioctl(vfd, KVM_ENABLE_CAP, &ec));
}

/* KVM_SET_CPUID2: the KVM signature leaf, and the features leaf with `features` in EAX. */
static void pvcpuid(const char *what, uint32_t features) {
  struct { struct kvm_cpuid2 h; struct kvm_cpuid_entry2 e[2]; } c;
  memset(&c, 0, sizeof c);
  c.h.nent = 2;
  c.e[0].function = 0x40000000;
  c.e[0].eax = 0x40000001;
  c.e[0].ebx = 0x4b4d564b;
  c.e[0].ecx = 0x564b4d56;
  c.e[0].edx = 0x4d;
  c.e[1].function = 0x40000001;
  c.e[1].eax = features;
  res(what, ioctl(vfd, KVM_SET_CPUID2, &c));
}

static void setup(void) {
  flat32_msr_guest(mem);
  /* clk: wrmsr; mov eax, [ebx]; mov edx, [ebx + 0x18]; out 0x80, al; hlt */
  static const unsigned char clk[] = { 0x0f, 0x30, 0x8b, 0x03, 0x8b, 0x53, 0x18, 0xe6, 0x80, 0xf4 };
  memcpy(mem + 0x1020, clk, sizeof clk);
  flat32_sregs(vfd);
}

/* A VM with the in-kernel irqchip, 64 KiB of RAM at 0 holding the guest code, and vCPU 0. */
static void newvm(int kvm) {
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  ioctl(vm, KVM_CREATE_IRQCHIP, 0);
  mem = flat32_ram(vm);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  setup();
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  printf("cap enforce pv feature cpuid: %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID));
  printf("cap kvmclock ctrl: %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_KVMCLOCK_CTRL));
  {
    /* The index list, filtered to the MSRs the model lists, in the kernel's order. */
    static const uint32_t known[] = { 0x174, 0x175, 0x176, 0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082, 0x10, 0x277, 0x3b, 0x6e0, 0x1a0 };
    struct { struct kvm_msr_list h; uint32_t i[1024]; } l;
    l.h.nmsrs = 1024;
    ioctl(kvm, KVM_GET_MSR_INDEX_LIST, &l);
    printf("index list:");
    for (unsigned i = 0; i < l.h.nmsrs; i++) {
      int keep = 0;
      for (unsigned k = 0; k < sizeof known / 4; k++) keep |= known[k] == l.i[i];
      for (unsigned k = 0; k < NPV; k++) keep |= PV[k] == l.i[i];
      if (keep) printf(" %x", l.i[i]);
    }
    printf("\n");
  }
  newvm(kvm);

  /* A: host-initiated accesses, no PV CPUID enforcement. */
  char name[64];
  for (unsigned k = 0; k < NPV; k++) {
    snprintf(name, sizeof name, "get %x", PV[k]);
    hostmsr(name, 0, PV[k], 0);
  }
  hostmsr("set wall clock", 1, 0x11, 0x3000);
  wallclock("wall clock", 0x3000);
  hostmsr("set wall clock again", 1, 0x11, 0x3000);
  wallclock("wall clock again", 0x3000);
  memset(mem + 0x3000, 0, 16);
  mem[0x3000] = 7;
  hostmsr("set wall clock odd junk", 1, 0x4b564d00, 0x3000);
  wallclock("wall clock odd junk", 0x3000);
  hostmsr("get wall clock", 0, 0x11, 0);
  hostmsr("get wall clock new", 0, 0x4b564d00, 0);
  hostmsr("set wall clock unmapped", 1, 0x11, 0x100000);
  hostmsr("get wall clock unmapped", 0, 0x4b564d00, 0);
  hostmsr("set wall clock 0", 1, 0x11, 0);

  res("kvmclock ctrl before kvmclock", ioctl(vfd, KVM_KVMCLOCK_CTRL, 0));
  hostmsr("set system time new", 1, 0x4b564d01, 0x4001);
  hostmsr("get system time new", 0, 0x4b564d01, 0);
  hostmsr("get system time", 0, 0x12, 0);
  pvclock("pvclock before run", 0x4000);
  clockflags("get_clock before any guest entry");
  rd("run", 0x277);
  pvclock("pvclock after run", 0x4000);
  clockflags("get_clock after a guest entry");
  rd("run", 0x277);
  pvclock("pvclock after 2nd run", 0x4000);
  /* KVM_KVMCLOCK_CTRL (kvm_set_guest_paused): GUEST_STOPPED in the next pvclock only; the guest clears it. */
  res("kvmclock ctrl", ioctl(vfd, KVM_KVMCLOCK_CTRL, 0));
  rd("run", 0x277);
  pvclock("pvclock after kvmclock ctrl", 0x4000);
  mem[0x401d] &= ~2;
  rd("run", 0x277);
  pvclock("pvclock after the guest cleared it", 0x4000);
  hostmsr("set khz-independent", 1, 0x4b564d01, 0x4001);
  res("set tsc khz", ioctl(vfd, KVM_SET_TSC_KHZ, 3000000));
  rd("run after tsc khz", 0x277);
  pvclock("pvclock after tsc khz", 0x4000);
  hostmsr("set system time crossing a page", 1, 0x12, 0x4ff1);
  rd("run", 0x277);
  printf("crossing a page: written=%d\n", rd32(0x4ff0) != 0);
  hostmsr("set system time disabled", 1, 0x12, 0x5000);
  rd("run", 0x277);
  printf("disabled: written=%d\n", rd32(0x5000) != 0);
  hostmsr("set system time unmapped", 1, 0x12, 0x100001);
  rd("run", 0x277);
  hostmsr("set system time odd address", 1, 0x12, 0x5105);
  hostmsr("get system time odd address", 0, 0x12, 0);
  rd("run", 0x277);
  printf("odd address: written=%d\n", rd32(0x5104) != 0);
  hostmsr("set system time 0", 1, 0x12, 0);

  hostmsr("set async pf reserved 0x10", 1, 0x4b564d02, 0x6011);
  hostmsr("set async pf reserved 0x20", 1, 0x4b564d02, 0x6021);
  hostmsr("set async pf enabled", 1, 0x4b564d02, 0x6001);
  hostmsr("set async pf all flags", 1, 0x4b564d02, 0x600f);
  hostmsr("get async pf", 0, 0x4b564d02, 0);
  hostmsr("set async pf unmapped", 1, 0x4b564d02, 0x100009);
  hostmsr("get async pf after failure", 0, 0x4b564d02, 0);
  hostmsr("set async pf unmapped, no int", 1, 0x4b564d02, 0x100001);
  hostmsr("set async pf low bits of address", 1, 0x4b564d02, 0x6041);
  hostmsr("set async pf 0", 1, 0x4b564d02, 0);
  /* Enabling with interrupt delivery queues a "wake up all" page-ready: token ~0 at +4, the vector in IRR. */
  hostmsr("set async pf int vector 0xec", 1, 0x4b564d06, 0xec);
  hostmsr("set async pf with int delivery", 1, 0x4b564d02, 0x6009);
  rd("run with async pf", 0x277);
  {
    struct kvm_lapic_state ls;
    ioctl(vfd, KVM_GET_LAPIC, &ls);
    uint32_t irr7;
    memcpy(&irr7, ls.regs + 0x200 + 0x70, 4);
    printf("async pf page ready: token=%x reason=%x irr 0xec=%u\n", rd32(0x6004), rd32(0x6000), (irr7 >> 12) & 1);
  }
  rd("run again", 0x277);
  printf("async pf again: token=%x\n", rd32(0x6004));
  hostmsr("set async pf ack", 1, 0x4b564d07, 1);
  hostmsr("set async pf 0", 1, 0x4b564d02, 0);
  hostmsr("set async pf int 0x1ec", 1, 0x4b564d06, 0x1ec);
  hostmsr("set async pf int 0xec", 1, 0x4b564d06, 0xec);
  hostmsr("set async pf int 0", 1, 0x4b564d06, 0);
  hostmsr("get async pf int", 0, 0x4b564d06, 0);
  hostmsr("set async pf ack 1", 1, 0x4b564d07, 1);
  hostmsr("set async pf ack 2", 1, 0x4b564d07, 2);
  hostmsr("get async pf ack", 0, 0x4b564d07, 0);

  hostmsr("set steal time reserved 2", 1, 0x4b564d03, 0x7003);
  hostmsr("set steal time reserved 0x20", 1, 0x4b564d03, 0x7021);
  hostmsr("set steal time", 1, 0x4b564d03, 0x7001);
  hostmsr("get steal time", 0, 0x4b564d03, 0);
  rd("run", 0x277);
  steal("steal time", 0x7000);
  hostmsr("set steal time disabled", 1, 0x4b564d03, 0x7040);
  rd("run", 0x277);
  steal("steal time disabled", 0x7040);
  hostmsr("set steal time 0", 1, 0x4b564d03, 0);

  hostmsr("set pv eoi", 1, 0x4b564d04, 0x8001);
  hostmsr("set pv eoi misaligned", 1, 0x4b564d04, 0x8003);
  hostmsr("set pv eoi misaligned disabled", 1, 0x4b564d04, 0x8002);
  hostmsr("set pv eoi unmapped", 1, 0x4b564d04, 0x100001);
  hostmsr("set pv eoi unmapped disabled", 1, 0x4b564d04, 0x100000);
  hostmsr("get pv eoi", 0, 0x4b564d04, 0);
  hostmsr("set pv eoi 0", 1, 0x4b564d04, 0);

  hostmsr("set poll control 2", 1, 0x4b564d05, 2);
  hostmsr("set poll control 0", 1, 0x4b564d05, 0);
  hostmsr("get poll control", 0, 0x4b564d05, 0);
  hostmsr("set poll control 1", 1, 0x4b564d05, 1);

  /* B: guest RDMSR/WRMSR. */
  rd("rd wall clock", 0x11);
  rd("rd poll control", 0x4b564d05);
  wr("wr poll control 2", 0x4b564d05, 2);
  wr("wr steal time reserved", 0x4b564d03, 0x7003);
  wr("wr pv eoi misaligned", 0x4b564d04, 0x8003);
  wr("wr async pf int 0x1ec", 0x4b564d06, 0x1ec);
  rd("rd async pf ack", 0x4b564d07);
  memset(mem + 0x3800, 0, 16);
  wr("wr wall clock new", 0x4b564d00, 0x3800);
  wallclock("guest wall clock", 0x3800);
  memset(mem + 0x4800, 0, 32);
  acc("guest enables kvmclock", 0x1020, 0x4b564d01, 0x4801, 0, 0x4800);
  pvclock("guest pvclock", 0x4800);
  rd("rd system time new", 0x4b564d01);
  wr("wr system time 0", 0x4b564d01, 0);

  /* C: KVM_CAP_ENFORCE_PV_FEATURE_CPUID, on a new VM (the CPUID cannot change once a vCPU has run). */
  newvm(kvm);
  enforce("enforce, flags 1", 1, 1);
  enforce("enforce", 1, 0);
  hostmsr("enforced, no cpuid: get system time new", 0, 0x4b564d01, 0);
  hostmsr("enforced, no cpuid: set system time new 0", 1, 0x4b564d01, 0);
  hostmsr("enforced, no cpuid: set system time new", 1, 0x4b564d01, 0x4001);
  hostmsr("enforced, no cpuid: get poll control", 0, 0x4b564d05, 0);
  pvcpuid("cpuid clocksource2|async pf|poll control", (1 << 3) | (1 << 4) | (1 << 12));
  hostmsr("enforced: set system time new", 1, 0x4b564d01, 0x4001);
  hostmsr("enforced: set system time", 1, 0x12, 0x4001);
  hostmsr("enforced: get wall clock", 0, 0x11, 0);
  hostmsr("enforced: set async pf with int delivery", 1, 0x4b564d02, 0x6009);
  hostmsr("enforced: set async pf with vmexit delivery", 1, 0x4b564d02, 0x6005);
  hostmsr("enforced: set async pf", 1, 0x4b564d02, 0x6003);
  hostmsr("enforced: get async pf", 0, 0x4b564d02, 0);
  hostmsr("enforced: set async pf 0", 1, 0x4b564d02, 0);
  hostmsr("enforced: get async pf int", 0, 0x4b564d06, 0);
  hostmsr("enforced: get async pf ack", 0, 0x4b564d07, 0);
  hostmsr("enforced: get steal time", 0, 0x4b564d03, 0);
  hostmsr("enforced: get pv eoi", 0, 0x4b564d04, 0);
  hostmsr("enforced: get poll control", 0, 0x4b564d05, 0);
  rd("enforced: rd system time new", 0x4b564d01);
  rd("enforced: rd system time", 0x12);
  rd("enforced: rd async pf ack", 0x4b564d07);
  rd("enforced: rd async pf", 0x4b564d02);
  wr("enforced: wr steal time", 0x4b564d03, 0);
  {
    struct kvm_enable_cap ec = { .cap = KVM_CAP_X86_USER_SPACE_MSR, .args = { 7 } };
    res("user space msr all", ioctl(vm, KVM_ENABLE_CAP, &ec));
  }
  rd("enforced: rd system time, user space msr", 0x12);
  printf("exit reason: %u index=%x\n", run->msr.reason, run->msr.index);
  run->msr.error = 1;
  res("refused", ioctl(vfd, KVM_RUN, 0));
  printf("refused: exit=%u io=%x\n", run->exit_reason, run->io.port);
  enforce("enforce off", 0, 0);
  hostmsr("not enforced: get system time", 0, 0x12, 0);
  rd("not enforced: rd steal time", 0x4b564d03);
  return 0;
}
