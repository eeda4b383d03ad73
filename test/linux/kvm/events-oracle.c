/*
 * The real-kernel half of test/linux/kvm/events.test.ts: KVM_GET/SET_VCPU_EVENTS, KVM_NMI, KVM_INTERRUPT
 * and the userspace-irqchip fields of kvm_run (request_interrupt_window, ready_for_interrupt_injection,
 * if_flag, cr8, apic_base), with a guest that runs flat 32-bit protected-mode code:
 *   main:      sti; hlt; L: out 0x80, al; jmp L
 *   vector v:  mov al, v; out 0x81, al; sti; jmp L      (for v = 2, 6, 14, 0x40, 0x41)
 * Handlers never IRET: this machine's kvm_pvm fails IRET in such a guest (KVM_EXIT_INTERNAL_ERROR), so
 * an NMI stays masked until KVM_SET_VCPU_EVENTS unmasks it. One line per step; no host-dependent
 * values. The model runs the same steps with a GuestAsm program.
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
static unsigned char *mem;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static void evline(const char *what, const struct kvm_vcpu_events *e) {
  printf("%s: flags=%x exc=%u/%u/%u/%u/%x intr=%u/%x/%u/%u nmi=%u/%u/%u sipi=%x smi=%u/%u/%u/%u tf=%u pl=%u/%llx\n", what,
         e->flags, e->exception.injected, e->exception.pending, e->exception.nr, e->exception.has_error_code,
         e->exception.error_code, e->interrupt.injected, e->interrupt.nr, e->interrupt.soft, e->interrupt.shadow,
         e->nmi.injected, e->nmi.pending, e->nmi.masked, e->sipi_vector, e->smi.smm, e->smi.pending,
         e->smi.smm_inside_nmi, e->smi.latched_init, e->triple_fault.pending, e->exception_has_payload,
         (unsigned long long)e->exception_payload);
}

static void get(const char *what) {
  struct kvm_vcpu_events e;
  memset(&e, 0xa5, sizeof e);
  long r = ioctl(vfd, KVM_GET_VCPU_EVENTS, &e);
  if (r < 0) res(what, r);
  else evline(what, &e);
}

/* KVM_SET_VCPU_EVENTS with the fields given (everything else 0). */
static void set(const char *what, uint32_t flags, int excInj, int excPend, int excNr, int irqInj, int irqNr, int shadow,
                int nmiPend, int nmiMasked, int smm, int smiPend, int latched, int tf, int hasPl, uint64_t pl) {
  struct kvm_vcpu_events e;
  memset(&e, 0, sizeof e);
  e.flags = flags;
  e.exception.injected = excInj;
  e.exception.pending = excPend;
  e.exception.nr = excNr;
  e.interrupt.injected = irqInj;
  e.interrupt.nr = irqNr;
  e.interrupt.shadow = shadow;
  e.nmi.pending = nmiPend;
  e.nmi.masked = nmiMasked;
  e.smi.smm = smm;
  e.smi.pending = smiPend;
  e.smi.latched_init = latched;
  e.triple_fault.pending = tf;
  e.exception_has_payload = hasPl;
  e.exception_payload = pl;
  res(what, ioctl(vfd, KVM_SET_VCPU_EVENTS, &e));
}

static void dorun(const char *what) {
  long r = ioctl(vfd, KVM_RUN, 0);
  if (r < 0) printf("%s: E%d", what, errno);
  else printf("%s: exit=%u", what, run->exit_reason);
  if (r == 0 && run->exit_reason == KVM_EXIT_IO)
    printf(" io=%x/%x", run->io.port, run->io.port == 0x81 ? ((unsigned char *)run)[run->io.data_offset] : 0);
  printf(" if=%u ready=%u cr8=%llx apicbase=%llx\n", run->if_flag, run->ready_for_interrupt_injection,
         (unsigned long long)run->cr8, (unsigned long long)run->apic_base);
}

static void intr(const char *what, unsigned irq) {
  struct kvm_interrupt i = { .irq = irq };
  res(what, ioctl(vfd, KVM_INTERRUPT, &i));
}

static void cap(const char *what, int vm, unsigned c, unsigned long long a0) {
  struct kvm_enable_cap ec = { .cap = c, .args = { a0 } };
  res(what, ioctl(vm, KVM_ENABLE_CAP, &ec));
}

/* Protected mode, flat segments, GDT at 0x500, IDT at 0x600, stack below 0x8000, RIP 0x1000. */
static void setup(void) {
  flat32_gdt(mem);
  static const int vecs[] = { 2, 6, 14, 0x40, 0x41 };
  for (unsigned i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    int v = vecs[i];
    uint32_t h = 0x2000 + v * 16;
    unsigned char *c = mem + h;
    int32_t rel = 0x1002 - (int32_t)(h + 10);
    c[0] = 0xb0; c[1] = v; c[2] = 0xe6; c[3] = 0x81; c[4] = 0xfb; c[5] = 0xe9;
    memcpy(c + 6, &rel, 4);
    flat32_gate(mem, v, h);
  }
  static const unsigned char main_[] = { 0xfb, 0xf4, 0xe6, 0x80, 0xeb, 0xfc };
  memcpy(mem + 0x1000, main_, sizeof main_);
  flat32_sregs(vfd);
  struct kvm_regs rg;
  memset(&rg, 0, sizeof rg);
  rg.rip = 0x1000;
  rg.rsp = 0x8000;
  rg.rflags = 2;
  ioctl(vfd, KVM_SET_REGS, &rg);
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  static const unsigned caps[] = { KVM_CAP_VCPU_EVENTS, KVM_CAP_USER_NMI, KVM_CAP_INTR_SHADOW, KVM_CAP_EXCEPTION_PAYLOAD,
                                   KVM_CAP_X86_TRIPLE_FAULT_EVENT, KVM_CAP_X86_SMM };
  for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    char w[32];
    snprintf(w, sizeof w, "cap %u", caps[i]);
    res(w, ioctl(kvm, KVM_CHECK_EXTENSION, caps[i]));
  }

  /* A: no in-kernel irqchip. */
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region m = { .slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = (uintptr_t)mem };
  ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  get("reset");
  setup();
  dorun("run sti;hlt");
  intr("interrupt 256", 256);
  intr("interrupt 0x40", 0x40);
  get("queued 0x40");
  struct kvm_sregs sr;
  ioctl(vfd, KVM_GET_SREGS, &sr);
  int first = -1;
  for (int i = 0; i < 256 && first < 0; i++)
    if (sr.interrupt_bitmap[i / 64] >> (i % 64) & 1) first = i;
  printf("sregs interrupt_bitmap first: %d\n", first);
  run->immediate_exit = 1;
  dorun("run immediate_exit");
  run->immediate_exit = 0;
  dorun("run takes 0x40");
  get("in handler");
  dorun("run sti;jmp");
  run->request_interrupt_window = 1;
  dorun("run window, IF=1");
  intr("interrupt 0x41", 0x41);
  dorun("run window, takes 0x41");
  dorun("run window, sti;jmp");
  run->request_interrupt_window = 0;
  res("nmi", ioctl(vfd, KVM_NMI, 0));
  get("nmi queued");
  dorun("run takes nmi");
  get("in nmi handler");
  res("nmi", ioctl(vfd, KVM_NMI, 0));
  res("nmi", ioctl(vfd, KVM_NMI, 0));
  get("two more, masked");
  dorun("run, nmi masked");
  set("unmask nmi", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  get("unmasked, one pending");
  dorun("run takes nmi");
  set("inject #UD", 0, 1, 0, 6, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0);
  get("#UD injected");
  dorun("run takes #UD");
  get("after #UD");
  dorun("run sti;jmp");
  set("interrupt and #UD injected", 0, 1, 0, 6, 1, 0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0);
  dorun("run takes #UD first");
  get("after #UD, interrupt still injected");
  dorun("run takes 0x40");
  dorun("run sti;jmp");
  set("shadow 1 (MOV SS)", KVM_VCPUEVENT_VALID_SHADOW, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0);
  get("shadow MOV SS");
  set("#BP injected", 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  get("#BP (soft) injected");
  set("clear", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  set("exception nr 2", 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  set("exception nr 32", 0, 1, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  set("exception nr 32, pending only", 0, 0, 1, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  set("exception nr 32, not injected", 0, 0, 0, 32, 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  get("after nr 32 not injected");
  set("unknown flag 0x40", 0x40, 0, 0, 0, 1, 0x45, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  set("payload without the cap", KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, 14, 1, 0x45, 0, 0, 0, 0, 0, 0, 0, 1, 0x1234);
  get("after refused");
  set("triple fault without the cap", KVM_VCPUEVENT_VALID_TRIPLE_FAULT | KVM_VCPUEVENT_VALID_NMI_PENDING, 1, 0, 13, 1, 0x46, 0, 1, 1, 0, 0, 0, 1, 0, 0);
  get("after triple-fault refusal");
  set("smm", KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 1, 0x47, 0, 0, 0, 1, 0, 0, 0, 0, 0);
  get("after smm refusal");
  set("smi pending", KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 0, 0x48, 0, 0, 0, 0, 1, 0, 0, 0, 0);
  set("latched init, no lapic", KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
  get("after latched init");
  set("nmi pending 5", KVM_VCPUEVENT_VALID_NMI_PENDING, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0);
  get("nmi 5 unmasked");
  set("nmi pending 5 masked", KVM_VCPUEVENT_VALID_NMI_PENDING, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 0, 0);
  get("nmi 5 masked");
  set("unmask, pending not valid", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  get("unmasked");
  set("nmi pending 0", KVM_VCPUEVENT_VALID_NMI_PENDING, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  set("shadow 2 (STI)", KVM_VCPUEVENT_VALID_SHADOW, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0);
  get("shadow STI");
  set("shadow 0", KVM_VCPUEVENT_VALID_SHADOW, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  cap("enable triple fault event", vm, KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1);
  get("with triple fault event");
  set("triple fault pending", KVM_VCPUEVENT_VALID_TRIPLE_FAULT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
  get("triple fault");
  dorun("run triple fault");
  get("after shutdown");
  cap("enable exception payload", vm, KVM_CAP_EXCEPTION_PAYLOAD, 1);
  get("with payload");
  set("pending #PF payload", KVM_VCPUEVENT_VALID_PAYLOAD, 1, 1, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1234);
  get("pending #PF");
  set("injected #UD payload", KVM_VCPUEVENT_VALID_PAYLOAD, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x99);
  get("injected #UD, payload dropped");
  set("pending #PF payload", KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1234);
  cap("disable exception payload", vm, KVM_CAP_EXCEPTION_PAYLOAD, 0);
  get("payload delivered");
  ioctl(vfd, KVM_GET_SREGS, &sr);
  printf("cr2: %llx\n", (unsigned long long)sr.cr2);
  /* kvm_deliver_exception_payload(): DR6 is an unsigned long, and a #DB payload's bits above 31 land in it. */
  cap("enable exception payload", vm, KVM_CAP_EXCEPTION_PAYLOAD, 1);
  set("pending #DB payload with bit 40", KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (1ULL << 40) | 0x4001);
  cap("disable exception payload", vm, KVM_CAP_EXCEPTION_PAYLOAD, 0);
  get("#DB payload delivered");
  struct kvm_debugregs dbg;
  ioctl(vfd, KVM_GET_DEBUGREGS, &dbg);
  printf("dr6: %llx\n", (unsigned long long)dbg.dr6);
  set("clear", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  /* B: in-kernel irqchip. */
  int vm2 = ioctl(kvm, KVM_CREATE_VM, 0);
  ioctl(vm2, KVM_CREATE_IRQCHIP, 0);
  vfd = ioctl(vm2, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  intr("kernel irqchip: interrupt 256", 256);
  intr("kernel irqchip: interrupt 0x40", 0x40);
  res("kernel irqchip: nmi", ioctl(vfd, KVM_NMI, 0));
  get("kernel irqchip: nmi queued");
  set("sipi vector", KVM_VCPUEVENT_VALID_SIPI_VECTOR, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  set("latched init", KVM_VCPUEVENT_VALID_SMM, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
  get("kernel irqchip: latched init");
  struct kvm_mp_state mp;
  ioctl(vfd, KVM_GET_MP_STATE, &mp);
  printf("mp state after latched init: %u\n", mp.mp_state);
  get("after INIT accepted");
  run->immediate_exit = 1;
  dorun("kernel irqchip: run immediate_exit");

  /* C: split irqchip. */
  int vm3 = ioctl(kvm, KVM_CREATE_VM, 0);
  cap("split irqchip", vm3, KVM_CAP_SPLIT_IRQCHIP, 24);
  vfd = ioctl(vm3, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  intr("split: interrupt 256", 256);
  intr("split: interrupt 0x40", 0x40);
  intr("split: interrupt 0x41", 0x41);
  get("split: extint pending");
  run->immediate_exit = 1;
  dorun("split: run immediate_exit");

  /*
   * D: a SIPI vector from KVM_SET_VCPU_EVENTS is a u32, but kvm_apic_accept_events() delivers it as a u8
   * (kvm_vcpu_deliver_sipi_vector: CS selector vector << 8, base vector << 12).
   */
  int vm4 = ioctl(kvm, KVM_CREATE_VM, 0);
  ioctl(vm4, KVM_CREATE_IRQCHIP, 0);
  ioctl(vm4, KVM_CREATE_VCPU, 0);
  vfd = ioctl(vm4, KVM_CREATE_VCPU, 1);
  struct kvm_lapic_state lapic;
  ioctl(vfd, KVM_GET_LAPIC, &lapic);
  *(uint32_t *)&lapic.regs[0xf0] = 0x1ff;
  res("sipi: software-enable the APIC", ioctl(vfd, KVM_SET_LAPIC, &lapic));
  mp.mp_state = KVM_MP_STATE_INIT_RECEIVED;
  res("sipi: mp state INIT_RECEIVED", ioctl(vfd, KVM_SET_MP_STATE, &mp));
  struct kvm_msi msi = { .address_lo = 0xfee01000, .data = 0x600 | 0x12 };
  res("sipi: SIPI 0x12 to APIC 1", ioctl(vm4, KVM_SIGNAL_MSI, &msi));
  struct kvm_vcpu_events e;
  memset(&e, 0, sizeof e);
  e.flags = KVM_VCPUEVENT_VALID_SIPI_VECTOR;
  e.sipi_vector = 0x1234;
  res("sipi: sipi_vector 0x1234", ioctl(vfd, KVM_SET_VCPU_EVENTS, &e));
  res("sipi: get mp state", ioctl(vfd, KVM_GET_MP_STATE, &mp));
  ioctl(vfd, KVM_GET_SREGS, &sr);
  printf("sipi: mp state %u cs %x base %llx\n", mp.mp_state, sr.cs.selector, (unsigned long long)sr.cs.base);

  /*
   * E: injecting a pending #DB clears DR7.GD (kvm_check_and_inject_events); another pending exception
   * leaves it. One vCPU each, in a VM whose memory is all HLT.
   */
  int vm5 = ioctl(kvm, KVM_CREATE_VM, 0);
  cap("gd: exception payload", vm5, KVM_CAP_EXCEPTION_PAYLOAD, 1);
  unsigned char *mem5 = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memset(mem5, 0xf4, 0x10000);
  struct kvm_userspace_memory_region m5 = { .slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = (uintptr_t)mem5 };
  ioctl(vm5, KVM_SET_USER_MEMORY_REGION, &m5);
  for (int i = 0; i < 2; i++) {
    const char *name = i == 0 ? "gd: pending #DB" : "gd: pending #UD";
    vfd = ioctl(vm5, KVM_CREATE_VCPU, i);
    run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
    ioctl(vfd, KVM_GET_SREGS, &sr);
    sr.cs.base = 0;
    sr.cs.selector = 0;
    ioctl(vfd, KVM_SET_SREGS, &sr);
    struct kvm_regs rg;
    memset(&rg, 0, sizeof rg);
    rg.rip = 0x100;
    rg.rflags = 2;
    ioctl(vfd, KVM_SET_REGS, &rg);
    struct kvm_debugregs dr;
    memset(&dr, 0, sizeof dr);
    dr.dr6 = 0xffff0ff0;
    dr.dr7 = 0x2400;
    res("gd: set DR7.GD", ioctl(vfd, KVM_SET_DEBUGREGS, &dr));
    set(name, KVM_VCPUEVENT_VALID_PAYLOAD, 0, 1, i == 0 ? 1 : 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    res("gd: run", ioctl(vfd, KVM_RUN, 0));
    ioctl(vfd, KVM_GET_DEBUGREGS, &dr);
    printf("gd: dr7 %llx\n", (unsigned long long)dr.dr7);
  }
  return 0;
}
