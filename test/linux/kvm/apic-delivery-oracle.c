/*
 * The real-kernel half of test/linux/kvm/apic-delivery.property.test.ts: a script on stdin, one command
 * per line, run against this machine's /dev/kvm; one output line per command. It exercises KVM's APIC
 * map and delivery (arch/x86/kvm/lapic.c: kvm_recalculate_apic_map, kvm_irq_delivery_to_apic(_fast),
 * kvm_apic_match_dest, kvm_apic_mda, __kvm_x2apic_icr_write) with vCPUs in xAPIC, x2APIC or disabled
 * mode:
 *   vm FLAGS ID...           a VM with the full irqchip, KVM_CAP_X2APIC_API(FLAGS) if FLAGS != 0, and a
 *                            vCPU per ID, each with a leaf-1 CPUID offering x2APIC
 *   mode I M                 KVM_SET_MSRS IA32_APIC_BASE of vCPU #I: M 0 disabled, 1 xAPIC, 2 x2APIC
 *   lapic I ID LDR DFR SPIV  KVM_SET_LAPIC of vCPU #I's state with those four registers replaced
 *   msi LO HI DATA           KVM_SIGNAL_MSI, then every vCPU's IRR
 *   icr I HI LO              KVM_SET_MSRS of x2APIC ICR (0x830) on vCPU #I, then every vCPU's IRR
 * Numbers are hex. Results print as the ioctl's return value or E<errno>.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int kvm, vm = -1, nv, vcpu[8];

static void res(long r) {
  if (r < 0) printf("E%d", errno);
  else printf("%ld", r);
}

static void irrs(void) {
  for (int i = 0; i < nv; i++) {
    struct kvm_lapic_state s;
    ioctl(vcpu[i], KVM_GET_LAPIC, &s);
    printf(" |");
    for (int w = 0; w < 8; w++) {
      uint32_t v;
      memcpy(&v, s.regs + 0x200 + w * 16, 4);
      if (v) printf(" %d:%x", w, v);
    }
  }
}

static long setmsr(int fd, uint32_t index, uint64_t data) {
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m;
  memset(&m, 0, sizeof m);
  m.h.nmsrs = 1;
  m.e.index = index;
  m.e.data = data;
  return ioctl(fd, KVM_SET_MSRS, &m);
}

int main(void) {
  kvm = open("/dev/kvm", O_RDWR);
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    char cmd[16];
    unsigned long long a[8] = { 0 };
    int n = sscanf(line, "%15s %llx %llx %llx %llx %llx %llx %llx %llx", cmd, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &a[6], &a[7]) - 1;
    printf("%s: ", cmd);
    if (!strcmp(cmd, "vm")) {
      if (vm >= 0) {
        for (int i = 0; i < nv; i++) close(vcpu[i]);
        close(vm);
      }
      vm = ioctl(kvm, KVM_CREATE_VM, 0);
      ioctl(vm, KVM_CREATE_IRQCHIP, 0);
      long r = 0;
      if (a[0]) {
        struct kvm_enable_cap ec = { .cap = KVM_CAP_X2APIC_API, .args = { a[0] } };
        r = ioctl(vm, KVM_ENABLE_CAP, &ec);
      }
      nv = n - 1;
      for (int i = 0; i < nv; i++) {
        vcpu[i] = ioctl(vm, KVM_CREATE_VCPU, (unsigned long)a[i + 1]);
        struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[1]; } b;
        memset(&b, 0, sizeof b);
        b.c.nent = 1;
        b.e[0].function = 1;
        b.e[0].ecx = 1u << 21;
        b.e[0].edx = 1u << 9;
        if (vcpu[i] < 0 || ioctl(vcpu[i], KVM_SET_CPUID2, &b) < 0) r = -1;
      }
      res(r);
    } else if (!strcmp(cmd, "mode")) {
      static const uint64_t base[] = { 0xfee00000, 0xfee00800, 0xfee00c00 };
      res(setmsr(vcpu[a[0]], 0x1b, base[a[1]]));
    } else if (!strcmp(cmd, "lapic")) {
      struct kvm_lapic_state s;
      ioctl(vcpu[a[0]], KVM_GET_LAPIC, &s);
      uint32_t v[4] = { a[1], a[2], a[3], a[4] };
      memcpy(s.regs + 0x20, &v[0], 4);
      memcpy(s.regs + 0xd0, &v[1], 4);
      memcpy(s.regs + 0xe0, &v[2], 4);
      memcpy(s.regs + 0xf0, &v[3], 4);
      res(ioctl(vcpu[a[0]], KVM_SET_LAPIC, &s));
    } else if (!strcmp(cmd, "msi")) {
      struct kvm_msi m = { .address_lo = a[0], .address_hi = a[1], .data = a[2] };
      res(ioctl(vm, KVM_SIGNAL_MSI, &m));
      irrs();
    } else if (!strcmp(cmd, "icr")) {
      res(setmsr(vcpu[a[0]], 0x830, (a[1] << 32) | a[2]));
      irrs();
    }
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
