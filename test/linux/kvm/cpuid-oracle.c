/*
 * The real-kernel half of test/linux/kvm/cpuid.test.ts: a fixed sequence of the CPUID, TSS and
 * identity-map ioctls on /dev/kvm, a VM and a vCPU, one result line each. Lines never carry
 * host-dependent values: the supported table's length is printed as T, errors as E<errno>.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

static struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[1024]; } b;
static struct { struct kvm_cpuid c; struct kvm_cpuid_entry e[4]; } b1;
static unsigned T;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static void sup(const char *what, int fd, unsigned long req, unsigned nent) {
  b.c.nent = nent;
  long r = ioctl(fd, req, &b);
  if (r < 0) printf("%s: E%d nent %s\n", what, errno, b.c.nent == nent ? "unchanged" : "changed");
  else printf("%s: %ld n=%s\n", what, r, b.c.nent == T ? "T" : b.c.nent == 3 ? "3" : "?");
}

static void one(uint32_t fn, uint32_t flags, uint32_t eax, uint32_t pad1) {
  memset(&b, 0, sizeof b);
  b.c.nent = 1;
  b.e[0].function = fn;
  b.e[0].flags = flags;
  b.e[0].eax = eax;
  b.e[0].padding[1] = pad1;
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  b.c.nent = 1024;
  if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &b) < 0) return 1;
  T = b.c.nent;
  for (unsigned i = 0; i < T; i++)
    if (b.e[i].function == 0x40000000) printf("signature: %08x %08x %08x %08x\n", b.e[i].eax, b.e[i].ebx, b.e[i].ecx, b.e[i].edx);
  sup("supported nent 0", kvm, KVM_GET_SUPPORTED_CPUID, 0);
  sup("supported nent 1", kvm, KVM_GET_SUPPORTED_CPUID, 1);
  sup("supported nent T-1", kvm, KVM_GET_SUPPORTED_CPUID, T - 1);
  sup("supported nent T", kvm, KVM_GET_SUPPORTED_CPUID, T);
  sup("supported nent 1000", kvm, KVM_GET_SUPPORTED_CPUID, 1000);
  memset(&b, 0, sizeof b);
  b.e[1].padding[2] = 1;
  sup("emulated, dirty padding", kvm, KVM_GET_EMULATED_CPUID, 3);
  memset(&b, 0, sizeof b);
  b.e[5].padding[0] = 1;
  sup("emulated nent 3, dirty padding past nent", kvm, KVM_GET_EMULATED_CPUID, 3);
  memset(&b, 0, sizeof b);
  sup("emulated nent 4", kvm, KVM_GET_EMULATED_CPUID, 4);
  printf("emulated leaf 0 eax, leaf 1 ecx MOVBE, leaf 7 flags: %x %x %x\n", b.e[0].eax, b.e[1].ecx & (1 << 22), b.e[2].flags);
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  sup("VM fd KVM_GET_SUPPORTED_CPUID", vm, KVM_GET_SUPPORTED_CPUID, 1000);
  res("tss 0xfffbd000", ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL));
  res("tss 0xfffffffd", ioctl(vm, KVM_SET_TSS_ADDR, 0xfffffffdUL));
  res("tss 0xffffd000", ioctl(vm, KVM_SET_TSS_ADDR, 0xffffd000UL));
  res("tss 0xffffd001", ioctl(vm, KVM_SET_TSS_ADDR, 0xffffd001UL));
  res("tss 1<<32", ioctl(vm, KVM_SET_TSS_ADDR, 0x100000000UL));
  uint64_t ident = 0xfeffc000;
  res("identity map", ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &ident));
  res("identity map NULL", ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, 0));
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  res("identity map after a vCPU", ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &ident));
  res("identity map NULL after a vCPU", ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, 0));
  sup("vCPU fd KVM_GET_SUPPORTED_CPUID", vcpu, KVM_GET_SUPPORTED_CPUID, 1000);
  memset(&b, 0, sizeof b);
  res("get_cpuid2 nent 0, none set", ioctl(vcpu, KVM_GET_CPUID2, &b));
  printf("  nent %u\n", b.c.nent);
  b.c.nent = 257;
  res("set_cpuid2 nent 257", ioctl(vcpu, KVM_SET_CPUID2, &b));
  one(0xd, 1, 1u << 18, 0);
  res("set_cpuid2 0xD XTILE_DATA", ioctl(vcpu, KVM_SET_CPUID2, &b));
  one(0xd, 1, 1u << 17, 0);
  res("set_cpuid2 0xD XTILE_CFG", ioctl(vcpu, KVM_SET_CPUID2, &b));
  one(0x80000008, 0, 0x2830, 0);
  res("set_cpuid2 vaddr 40", ioctl(vcpu, KVM_SET_CPUID2, &b));
  one(0x80000008, 0, 0x3930, 0);
  res("set_cpuid2 vaddr 57", ioctl(vcpu, KVM_SET_CPUID2, &b));
  one(0x80000008, 0, 0x0030, 0);
  res("set_cpuid2 vaddr 0", ioctl(vcpu, KVM_SET_CPUID2, &b));
  one(0x80000008, 0, 0x3030, 9);
  res("set_cpuid2 vaddr 48, padding 9", ioctl(vcpu, KVM_SET_CPUID2, &b));
  b.c.nent = 0;
  res("get_cpuid2 nent 0", ioctl(vcpu, KVM_GET_CPUID2, &b));
  printf("  nent %u\n", b.c.nent);
  memset(&b, 0, sizeof b);
  b.c.nent = 4;
  res("get_cpuid2 nent 4", ioctl(vcpu, KVM_GET_CPUID2, &b));
  printf("  nent %u: %x.%u flags %u eax %x padding %u\n", b.c.nent, b.e[0].function, b.e[0].index, b.e[0].flags, b.e[0].eax, b.e[0].padding[1]);
  memset(&b1, 0, sizeof b1);
  b1.c.nent = 1;
  b1.e[0].function = 0x4000ff00;
  b1.e[0].ebx = 0x5a;
  res("set_cpuid (legacy)", ioctl(vcpu, KVM_SET_CPUID, &b1));
  memset(&b, 0, sizeof b);
  b.c.nent = 4;
  res("get_cpuid2 after set_cpuid", ioctl(vcpu, KVM_GET_CPUID2, &b));
  printf("  nent %u: %x.%u flags %u ebx %x\n", b.c.nent, b.e[0].function, b.e[0].index, b.e[0].flags, b.e[0].ebx);
  b1.c.nent = 257;
  res("set_cpuid nent 257", ioctl(vcpu, KVM_SET_CPUID, &b1));
  b.c.nent = 0;
  res("set_cpuid2 nent 0", ioctl(vcpu, KVM_SET_CPUID2, &b));
  b.c.nent = 4;
  res("get_cpuid2 after nent 0", ioctl(vcpu, KVM_GET_CPUID2, &b));
  printf("  nent %u\n", b.c.nent);
  res("cap EXT_CPUID", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_EXT_CPUID));
  res("cap EXT_EMUL_CPUID", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_EXT_EMUL_CPUID));
  res("cap SET_TSS_ADDR", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR));
  res("cap SET_IDENTITY_MAP_ADDR", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR));

  /*
   * What kvm_vcpu_after_set_cpuid() derives, on a split-irqchip VM: the LAPIC version is recomputed only
   * when the table has a leaf 1 (kvm_apic_set_version under `if (best && apic)`), and the PV features
   * come from the table each time, 0 when it has no KVM leaves (kvm_apply_cpuid_pv_features_quirk).
   */
  int vm2 = ioctl(kvm, KVM_CREATE_VM, 0);
  struct kvm_enable_cap ec = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
  res("split irqchip", ioctl(vm2, KVM_ENABLE_CAP, &ec));
  int v2 = ioctl(vm2, KVM_CREATE_VCPU, 0);
  struct kvm_lapic_state lapic;
  one(1, 0, 0, 0);
  b.e[0].ecx = 1u << 21;
  res("split: set_cpuid2 leaf 1 with X2APIC", ioctl(v2, KVM_SET_CPUID2, &b));
  res("split: get_lapic", ioctl(v2, KVM_GET_LAPIC, &lapic));
  printf("  LVR directed EOI %u\n", (*(uint32_t *)&lapic.regs[0x30] >> 24) & 1);
  one(0x80000000, 0, 0x80000000, 0);
  res("split: set_cpuid2 without leaf 1", ioctl(v2, KVM_SET_CPUID2, &b));
  res("split: get_lapic", ioctl(v2, KVM_GET_LAPIC, &lapic));
  printf("  LVR directed EOI %u\n", (*(uint32_t *)&lapic.regs[0x30] >> 24) & 1);
  ec = (struct kvm_enable_cap){ .cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args = { 1 } };
  res("enforce pv feature cpuid", ioctl(v2, KVM_ENABLE_CAP, &ec));
  struct { struct kvm_msrs m; struct kvm_msr_entry e[1]; } msr = { .m.nmsrs = 1, .e[0] = { .index = 0x4b564d01, .data = 0x4001 } };
  res("set MSR_KVM_SYSTEM_TIME_NEW, no KVM leaves", ioctl(v2, KVM_SET_MSRS, &msr));
  memset(&b, 0, sizeof b);
  b.c.nent = 2;
  b.e[0] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d };
  b.e[1] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 1u << 3 };
  res("set_cpuid2 KVM leaves with CLOCKSOURCE2", ioctl(v2, KVM_SET_CPUID2, &b));
  res("set MSR_KVM_SYSTEM_TIME_NEW", ioctl(v2, KVM_SET_MSRS, &msr));
  one(1, 0, 0, 0);
  res("set_cpuid2 without KVM leaves", ioctl(v2, KVM_SET_CPUID2, &b));
  res("set MSR_KVM_SYSTEM_TIME_NEW", ioctl(v2, KVM_SET_MSRS, &msr));

  /*
   * kvm_vcpu_has_run() is "entered the guest once" (last_vmentry_cpu): a KVM_RUN that leaves before the
   * entry (KVM_REQ_TRIPLE_FAULT's SHUTDOWN, immediate_exit) does not freeze the guest CPUID.
   */
  int vm3 = ioctl(kvm, KVM_CREATE_VM, 0);
  ec = (struct kvm_enable_cap){ .cap = KVM_CAP_X86_TRIPLE_FAULT_EVENT, .args = { 1 } };
  res("triple fault event", ioctl(vm3, KVM_ENABLE_CAP, &ec));
  int v3 = ioctl(vm3, KVM_CREATE_VCPU, 0);
  struct kvm_run *run3 = mmap(0, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, v3, 0);
  one(0x80000008, 0, 0x3030, 0);
  res("set_cpuid2 A", ioctl(v3, KVM_SET_CPUID2, &b));
  struct kvm_vcpu_events ev;
  memset(&ev, 0, sizeof ev);
  ev.flags = KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
  ev.triple_fault.pending = 1;
  res("set_vcpu_events triple fault", ioctl(v3, KVM_SET_VCPU_EVENTS, &ev));
  res("run", ioctl(v3, KVM_RUN, 0));
  printf("  exit %u\n", run3->exit_reason);
  one(0x80000008, 0, 0x3028, 0);
  res("set_cpuid2 B after the SHUTDOWN", ioctl(v3, KVM_SET_CPUID2, &b));
  run3->immediate_exit = 1;
  res("run, immediate_exit", ioctl(v3, KVM_RUN, 0));
  one(0x80000008, 0, 0x3030, 0);
  res("set_cpuid2 A after immediate_exit", ioctl(v3, KVM_SET_CPUID2, &b));

  /*
   * kvm_apic_set_version() runs again in kvm_apic_set_state (KVM_SET_LAPIC) and kvm_lapic_reset (INIT),
   * with the VM's suppress-EOI-broadcast mode as it is then.
   */
  int vm4 = ioctl(kvm, KVM_CREATE_VM, 0);
  ec = (struct kvm_enable_cap){ .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
  res("lvr: split irqchip", ioctl(vm4, KVM_ENABLE_CAP, &ec));
  int va = ioctl(vm4, KVM_CREATE_VCPU, 0), vb = ioctl(vm4, KVM_CREATE_VCPU, 1);
  one(1, 0, 0, 0);
  b.e[0].ecx = 1u << 21;
  res("lvr: set_cpuid2 X2APIC, vCPU 0", ioctl(va, KVM_SET_CPUID2, &b));
  res("lvr: set_cpuid2 X2APIC, vCPU 1", ioctl(vb, KVM_SET_CPUID2, &b));
  ioctl(va, KVM_GET_LAPIC, &lapic);
  *(uint32_t *)&lapic.regs[0xf0] = 0x1ff;
  res("lvr: vCPU 0 set_lapic SPIV", ioctl(va, KVM_SET_LAPIC, &lapic));
  printf("  LVR directed EOI %u\n", (*(uint32_t *)&lapic.regs[0x30] >> 24) & 1);
  ec = (struct kvm_enable_cap){ .cap = KVM_CAP_X2APIC_API, .args = { 1u << 3 } };
  res("lvr: x2apic api DISABLE_SUPPRESS_EOI_BROADCAST", ioctl(vm4, KVM_ENABLE_CAP, &ec));
  ioctl(va, KVM_GET_LAPIC, &lapic);
  printf("  vCPU 0 LVR directed EOI %u\n", (*(uint32_t *)&lapic.regs[0x30] >> 24) & 1);
  ioctl(vb, KVM_GET_LAPIC, &lapic);
  res("lvr: vCPU 1 set_lapic", ioctl(vb, KVM_SET_LAPIC, &lapic));
  ioctl(vb, KVM_GET_LAPIC, &lapic);
  printf("  vCPU 1 LVR directed EOI %u\n", (*(uint32_t *)&lapic.regs[0x30] >> 24) & 1);
  struct kvm_msi msi = { .address_lo = 0xfee00000, .data = 0x500 };
  res("lvr: INIT to APIC 0", ioctl(vm4, KVM_SIGNAL_MSI, &msi));
  struct kvm_mp_state mp;
  res("lvr: vCPU 0 get_mp_state", ioctl(va, KVM_GET_MP_STATE, &mp));
  ioctl(va, KVM_GET_LAPIC, &lapic);
  printf("  vCPU 0 LVR directed EOI %u\n", (*(uint32_t *)&lapic.regs[0x30] >> 24) & 1);
  return 0;
}
