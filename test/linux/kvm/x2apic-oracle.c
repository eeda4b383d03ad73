/*
 * The real-kernel half of test/linux/kvm/x2apic.test.ts: x2APIC mode of the in-kernel LAPIC
 * (arch/x86/kvm/lapic.c: kvm_apic_set_base, __kvm_apic_set_base, kvm_x2apic_msr_read/write,
 * kvm_lapic_msr_read/write, __kvm_x2apic_icr_write, kvm_apic_state_fixup, kvm_apic_set_state,
 * kvm_recalculate_phys_map, kvm_apic_match_physical_addr; x86.c KVM_CAP_X2APIC_API).
 * Two VMs: A with the full irqchip and the legacy ID format, B with a split irqchip and
 * KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK. Each has vCPU 2, whose LAPIC
 * goes to x2APIC mode once its leaf-1 CPUID has X2APIC, and another vCPU (A: 1, B: 5) left in xAPIC mode. Host-initiated
 * KVM_GET/SET_MSRS on IA32_APIC_BASE and the x2APIC MSRs, KVM_GET/SET_LAPIC, and a flat 32-bit guest
 * doing RDMSR/WRMSR and an xAPIC MMIO read in x2APIC mode:
 *   rd:   rdmsr; out 0x80, al     wr: wrmsr; out 0x80, al     mmio: mov eax, [0xfee00030]; out 0x80, al
 *   #GP:  out 0x8d, al
 * One line per step, no host-dependent values. The model runs the same steps.
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

static int vfd;
static struct kvm_run *run;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static void msr(const char *what, int fd, int set, uint32_t index, uint64_t data) {
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m;
  memset(&m, 0, sizeof m);
  m.h.nmsrs = 1;
  m.e.index = index;
  m.e.data = data;
  long r = ioctl(fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &m);
  if (r < 0) printf("%s: E%d\n", what, errno);
  else if (set) printf("%s: %ld\n", what, r);
  else printf("%s: %ld %llx\n", what, r, (unsigned long long)m.e.data);
}

static uint32_t reg(const struct kvm_lapic_state *s, int off) {
  uint32_t v;
  memcpy(&v, s->regs + off, 4);
  return v;
}

static void setreg(struct kvm_lapic_state *s, int off, uint32_t v) {
  memcpy(s->regs + off, &v, 4);
}

/* KVM_GET_LAPIC and the registers x2APIC mode changes. */
static void lapic(const char *what, int fd) {
  struct kvm_lapic_state s;
  long r = ioctl(fd, KVM_GET_LAPIC, &s);
  if (r < 0) {
    printf("%s: E%d\n", what, errno);
    return;
  }
  printf("%s: id=%x lvr=%x tpr=%x ldr=%x dfr=%x spiv=%x icr=%x icr+4=%x icr2=%x irr2=%x\n", what, reg(&s, 0x20), reg(&s, 0x30),
         reg(&s, 0x80), reg(&s, 0xd0), reg(&s, 0xe0), reg(&s, 0xf0), reg(&s, 0x300), reg(&s, 0x304), reg(&s, 0x310), reg(&s, 0x220));
}

/* KVM_SET_LAPIC of the current state with ID, SPIV, ICR and ICR2 replaced (-1: kept). */
static void setlapic(const char *what, int fd, int64_t id, int64_t spiv, int64_t icr, int64_t icr2) {
  struct kvm_lapic_state s;
  ioctl(fd, KVM_GET_LAPIC, &s);
  if (id >= 0) setreg(&s, 0x20, id);
  if (spiv >= 0) setreg(&s, 0xf0, spiv);
  if (icr >= 0) setreg(&s, 0x300, icr);
  if (icr2 >= 0) setreg(&s, 0x310, icr2);
  res(what, ioctl(fd, KVM_SET_LAPIC, &s));
}

static void cpuid(const char *what, int fd, int x2apic) {
  struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[1]; } b;
  memset(&b, 0, sizeof b);
  b.c.nent = 1;
  b.e[0].function = 1;
  b.e[0].ecx = x2apic ? 1u << 21 : 0;
  b.e[0].edx = 1u << 9; /* APIC */
  res(what, ioctl(fd, KVM_SET_CPUID2, &b));
}

/* One guest access: RIP at `rip`, ECX/EAX/EDX as given; how the run ended and EAX. */
static void guest(const char *what, uint32_t rip, uint32_t ecx, uint32_t eax, uint32_t edx) {
  flat32_set(vfd, rip, eax, 0, ecx, edx);
  flat32_run(vfd, run, what);
  struct kvm_regs rg;
  ioctl(vfd, KVM_GET_REGS, &rg);
  printf(" eax=%x\n", (unsigned)rg.rax);
}

static void vm_run(const char *name, int kvm, int split, uint64_t api, int other) {
  char w[128];
#define W(s) (snprintf(w, sizeof w, "%s %s", name, s), w)
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (split) {
    struct kvm_enable_cap ec = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
    res(W("split irqchip"), ioctl(vm, KVM_ENABLE_CAP, &ec));
  } else {
    res(W("create irqchip"), ioctl(vm, KVM_CREATE_IRQCHIP, 0));
  }
  if (api) {
    struct kvm_enable_cap ec = { .cap = KVM_CAP_X2APIC_API, .args = { api } };
    res(W("x2apic api"), ioctl(vm, KVM_ENABLE_CAP, &ec));
  }
  unsigned char *mem = flat32_ram(vm);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 2);
  int v1 = ioctl(vm, KVM_CREATE_VCPU, other);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);

  msr(W("apic base x2apic, no cpuid"), vfd, 1, 0x1b, 0xfee00c00);
  cpuid(W("cpuid without x2apic"), vfd, 0);
  msr(W("apic base x2apic, cpuid lacks it"), vfd, 1, 0x1b, 0xfee00c00);
  lapic(W("lapic, cpuid lacks x2apic"), vfd);
  cpuid(W("cpuid with x2apic"), vfd, 1);
  lapic(W("lapic, xapic"), vfd);
  msr(W("rd x2apic id in xapic mode"), vfd, 0, 0x802, 0);
  msr(W("wr x2apic tpr in xapic mode"), vfd, 1, 0x808, 0x10);
  msr(W("apic base extd without enable"), vfd, 1, 0x1b, 0xfee00400);
  msr(W("apic base x2apic"), vfd, 1, 0x1b, 0xfee00c00);
  msr(W("rd apic base"), vfd, 0, 0x1b, 0);
  lapic(W("lapic, x2apic"), vfd);
  static const struct { const char *n; uint32_t i; } rd[] = {
    { "rd id", 0x802 }, { "rd lvr", 0x803 }, { "rd tpr", 0x808 }, { "rd arbpri", 0x809 }, { "rd ppr", 0x80a },
    { "rd eoi", 0x80b }, { "rd ldr", 0x80d }, { "rd dfr", 0x80e }, { "rd spiv", 0x80f }, { "rd esr", 0x828 },
    { "rd icr", 0x830 }, { "rd icr2", 0x831 }, { "rd lvt0", 0x835 }, { "rd tmcct", 0x839 }, { "rd tdcr", 0x83e },
    { "rd self ipi", 0x83f }, { "rd 0x8ff", 0x8ff },
  };
  for (unsigned i = 0; i < sizeof rd / sizeof rd[0]; i++) msr(W(rd[i].n), vfd, 0, rd[i].i, 0);
  const struct { const char *n; uint32_t i; uint64_t d; } wr[] = {
    { "wr id", 0x802, 0 }, { "wr lvr", 0x803, 0 }, { "wr tpr", 0x808, 0x20 }, { "wr tpr high bits", 0x808, 1ull << 32 },
    { "wr ldr", 0x80d, 1 }, { "wr dfr", 0x80e, 0xffffffff }, { "wr spiv", 0x80f, 0x1ff }, { "wr esr 0", 0x828, 0 },
    { "wr esr 1", 0x828, 1 }, { "wr icr2", 0x831, 0 }, { "wr icr reserved bit 13", 0x830, 1 << 13 },
    { "wr icr reserved bit 20", 0x830, 1 << 20 }, { "wr icr busy", 0x830, (1ull << 32) | 0x1000 | 0x45 },
    { "wr icr to other", 0x830, ((uint64_t)other << 32) | 0x46 }, { "wr self ipi", 0x83f, 0x41 },
    { "wr self ipi reserved", 0x83f, 0x141 }, { "wr eoi", 0x80b, 0 }, { "wr eoi nonzero", 0x80b, 5 },
    { "wr tmcct", 0x839, 1 }, { "wr ppr", 0x80a, 0 }, { "wr isr", 0x810, 0 }, { "wr tmict", 0x838, 0 },
  };
  for (unsigned i = 0; i < sizeof wr / sizeof wr[0]; i++) msr(W(wr[i].n), vfd, 1, wr[i].i, wr[i].d);
  lapic(W("lapic after writes"), vfd);
  lapic(W("other vcpu, sw-disabled"), v1);
  setlapic(W("other vcpu sw enable"), v1, -1, 0x1ff, -1, -1);
  msr(W("wr icr to other again"), vfd, 1, 0x830, ((uint64_t)other << 32) | 0x47);
  lapic(W("other vcpu lapic"), v1);
  msr(W("wr icr broadcast"), vfd, 1, 0x830, (0xffffffffull << 32) | 0x48);
  msr(W("wr icr xapic broadcast"), vfd, 1, 0x830, (0xffull << 32) | 0x49);
  lapic(W("other vcpu after broadcasts"), v1);
  lapic(W("self after broadcasts"), vfd);
  msr(W("wr icr logical cluster 0 bit other"), vfd, 1, 0x830, ((uint64_t)(1u << other) << 32) | 0x800 | 0x4a);
  lapic(W("other vcpu after logical"), v1);
  setlapic(W("set lapic id 7"), vfd, 7, 0x1fe, 0x12345, 0xabc);
  lapic(W("lapic after set id 7"), vfd);
  setlapic(W("set lapic id 2"), vfd, 2, 0x1ff, 0x50, 0x9);
  lapic(W("lapic after set id 2"), vfd);
  setlapic(W("set lapic legacy id format"), vfd, 0x2000000, 0x1fd, -1, -1);
  lapic(W("lapic after legacy id"), vfd);

  /* MSIs from userspace to the x2APIC vCPU, and the xAPIC broadcast ID (the broadcast quirk). */
  struct kvm_msi msi = { .address_lo = 0xfee00000 | (2 << 12), .data = 0x4b };
  res(W("signal msi to 2"), ioctl(vm, KVM_SIGNAL_MSI, &msi));
  msi.address_lo = 0xfee00000 | (0xff << 12);
  msi.data = 0x4c;
  res(W("signal msi to 0xff"), ioctl(vm, KVM_SIGNAL_MSI, &msi));
  msi.address_lo = 0xfee00000 | (2 << 12);
  msi.address_hi = 0x100;
  msi.data = 0x4d;
  res(W("signal msi address_hi 0x100"), ioctl(vm, KVM_SIGNAL_MSI, &msi));
  lapic(W("lapic after msis"), vfd);
  lapic(W("other vcpu after msis"), v1);

  /* Guest accesses in x2APIC mode (vCPU 2 is an AP: make it runnable). */
  struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
  res(W("mp state runnable"), ioctl(vfd, KVM_SET_MP_STATE, &mp));
  flat32_gdt(mem);
  static const unsigned char gp[] = { 0xe6, 0x8d, 0xf4 };
  memcpy(mem + 0x2000, gp, sizeof gp);
  flat32_gate(mem, 13, 0x2000);
  static const unsigned char rdc[] = { 0x0f, 0x32, 0xe6, 0x80, 0xf4 };
  static const unsigned char wrc[] = { 0x0f, 0x30, 0xe6, 0x80, 0xf4 };
  static const unsigned char mmio[] = { 0xa1, 0x30, 0x00, 0xe0, 0xfe, 0xe6, 0x80, 0xf4 };
  memcpy(mem + 0x1000, rdc, sizeof rdc);
  memcpy(mem + 0x1010, wrc, sizeof wrc);
  memcpy(mem + 0x1020, mmio, sizeof mmio);
  flat32_sregs(vfd);
  guest(W("guest rd id"), 0x1000, 0x802, 0, 0);
  guest(W("guest rd ldr"), 0x1000, 0x80d, 0, 0);
  guest(W("guest rd icr2"), 0x1000, 0x831, 0, 0);
  guest(W("guest wr ldr"), 0x1010, 0x80d, 1, 0);
  guest(W("guest wr tpr"), 0x1010, 0x808, 0x30, 0);
  guest(W("guest rd tpr"), 0x1000, 0x808, 0, 0);
  guest(W("guest wr tpr high"), 0x1010, 0x808, 0x30, 1);
  guest(W("guest mmio lvr in x2apic mode"), 0x1020, 0, 0, 0);
  guest(W("guest wr apic base to xapic"), 0x1010, 0x1b, 0xfee00800, 0);
  guest(W("guest wr apic base disabled"), 0x1010, 0x1b, 0xfee00000, 0);
  guest(W("guest wr apic base disabled to x2apic"), 0x1010, 0x1b, 0xfee00c00, 0);
  guest(W("guest wr apic base enabled"), 0x1010, 0x1b, 0xfee00800, 0);
  guest(W("guest mmio lvr in xapic mode"), 0x1020, 0, 0, 0);
  lapic(W("lapic after guest to xapic"), vfd);
  guest(W("guest wr apic base x2apic"), 0x1010, 0x1b, 0xfee00c00, 0);
  lapic(W("lapic after guest to x2apic"), vfd);

  /* Host-initiated transitions the guest may not make. */
  msr(W("host apic base x2apic to xapic"), vfd, 1, 0x1b, 0xfee00800);
  lapic(W("lapic after host to xapic"), vfd);
  msr(W("host apic base disabled"), vfd, 1, 0x1b, 0xfee00000);
  msr(W("host apic base disabled to x2apic"), vfd, 1, 0x1b, 0xfee00c00);
  lapic(W("lapic after host disabled to x2apic"), vfd);

  /* The other vCPU takes xAPIC ID 2, vCPU 2's x2APIC ID: an alias in the physical map. */
  setlapic(W("other vcpu xapic id 2"), v1, 0x2000000, -1, -1, -1);
  msi.address_lo = 0xfee00000 | (2 << 12);
  msi.address_hi = 0;
  msi.data = 0x4e;
  res(W("signal msi to 2, aliased"), ioctl(vm, KVM_SIGNAL_MSI, &msi));
}

/*
 * Suppress EOI Broadcast (directed EOI) with a split irqchip and KVM_X2APIC_API flags `api`
 * (lapic.c kvm_lapic_advertise/ignore_suppress_eoi_broadcast, kvm_ioapic_send_eoi): vCPU 0 in x2APIC mode
 * sets SPIV's directed-EOI bit, takes a level-triggered MSI that a routed GSI makes KVM watch, and EOIs it
 * with WRMSR 0x80b; KVM_EXIT_IOAPIC_EOI follows unless the broadcast is suppressed.
 */
static void eoi_run(const char *name, int kvm, uint64_t api) {
  char w[128];
#define E(s) (snprintf(w, sizeof w, "%s %s", name, s), w)
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  struct kvm_enable_cap ec = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
  ioctl(vm, KVM_ENABLE_CAP, &ec);
  struct kvm_enable_cap xc = { .cap = KVM_CAP_X2APIC_API, .args = { api } };
  res(E("x2apic api"), ioctl(vm, KVM_ENABLE_CAP, &xc));
  unsigned char *mem = flat32_ram(vm);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  cpuid(E("cpuid with x2apic"), vfd, 1);
  msr(E("apic base x2apic"), vfd, 1, 0x1b, 0xfee00d00);
  msr(E("spiv enabled, directed eoi"), vfd, 1, 0x80f, 0x11ff);
  msr(E("rd spiv"), vfd, 0, 0x80f, 0);
  msr(E("rd lvr"), vfd, 0, 0x803, 0);
  struct { struct kvm_irq_routing r; struct kvm_irq_routing_entry e[1]; } rt;
  memset(&rt, 0, sizeof rt);
  rt.r.nr = 1;
  rt.e[0].gsi = 5;
  rt.e[0].type = KVM_IRQ_ROUTING_MSI;
  rt.e[0].u.msi.address_lo = 0xfee00000;
  rt.e[0].u.msi.data = 0x8050;
  res(E("route gsi 5: level msi vector 0x50"), ioctl(vm, KVM_SET_GSI_ROUTING, &rt));
  flat32_gdt(mem);
  /* idle: sti; hlt; handler: wrmsr (0x80b); out 0x81, al; hlt */
  static const unsigned char idle[] = { 0xfb, 0xf4, 0xeb, 0xfd };
  static const unsigned char isr[] = { 0x0f, 0x30, 0xe6, 0x81, 0xf4 };
  memcpy(mem + 0x1000, idle, sizeof idle);
  memcpy(mem + 0x2000, isr, sizeof isr);
  flat32_gate(mem, 0x50, 0x2000);
  flat32_sregs(vfd);
  flat32_set(vfd, 0x1000, 0, 0, 0x80b, 0);
  struct kvm_msi msi = { .address_lo = 0xfee00000, .data = 0xc050 };
  res(E("signal level msi 0x50"), ioctl(vm, KVM_SIGNAL_MSI, &msi));
  long r = ioctl(vfd, KVM_RUN, 0);
  if (r < 0) printf("%s: E%d\n", E("run to the eoi"), errno);
  else if (run->exit_reason == KVM_EXIT_IOAPIC_EOI) printf("%s: exit=%u vector=%x\n", E("run to the eoi"), run->exit_reason, run->eoi.vector);
  else printf("%s: exit=%u io=%x\n", E("run to the eoi"), run->exit_reason, run->exit_reason == KVM_EXIT_IO ? run->io.port : 0);
#undef E
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  printf("cap x2apic api: %d\n", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_X2APIC_API));
  vm_run("A", kvm, 0, 0, 1);
  vm_run("B", kvm, 1, 3, 5);
  eoi_run("C legacy", kvm, 0);
  eoi_run("C enable", kvm, 4);
  eoi_run("C disable", kvm, 8);
  return 0;
}
