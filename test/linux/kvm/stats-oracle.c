/*
 * The real-kernel half of test/linux/kvm/stats.test.ts: KVM_GET_STATS_FD on this machine's /dev/kvm
 * (virt/kvm/kvm_main.c kvm_vm_ioctl_get_stats_fd / kvm_vcpu_ioctl_get_stats_fd, virt/kvm/binary_stats.c
 * kvm_stats_read). It prints the stats files' names, header fields and every descriptor (name, flags,
 * exponent, size, offset, bucket_size) one per line, the read/pread semantics and errnos, and the
 * counters a flat 32-bit guest moves that do not depend on the host (io_exits is left out: kvm_pvm does not
 * count port I/O exits, VMX handle_io and SVM io_interception do):
 *   0x1000: out 0x10, al (x3); mov [0x20000], al; mov al, [0x20004]; hlt
 *   0x2000 (vector 0x30): out 0x11, al; hlt       0x2100 (NMI): out 0x12, al; hlt
 *   0x3000: mov [0x100000], al; mov [0x103000], al; out 0x15, al; hlt  (pages 0 and 3 of a logging slot)
 * then a second VM with an in-kernel LAPIC whose timer wakes a HLT (see below).
 * The model prints the same lines; header fields that count the descriptors are printed apart
 * ("... count") because this host has descriptors arch/x86/kvm/x86.c does not (see the test).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "flat32-guest.h"
#include "kvm-oracle.h"

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static char buf[16384];

/* The file as kvm_stats_read() lays it out: header, id, descriptors, data. */
static void dump(const char *what, int sfd, const char *idWant) {
  struct kvm_stats_header h;
  res("header pread", pread(sfd, &h, sizeof h, 0));
  printf("%s header: flags=%u name_size=%u id_offset=%u desc_offset=%u\n", what, h.flags, h.name_size, h.id_offset, h.desc_offset);
  printf("%s header count: num_desc=%u data_offset=%u\n", what, h.num_desc, h.data_offset);
  char id[256];
  memset(id, 0x55, sizeof id);
  pread(sfd, id, h.name_size, h.id_offset);
  int zero = 1;
  for (unsigned i = strlen(id); i < h.name_size; i++) zero &= id[i] == 0;
  printf("%s id: %s padded=%d\n", what, strcmp(id, idWant) ? id : "matches", zero);
  size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;
  char *d = malloc(dsz * h.num_desc);
  pread(sfd, d, dsz * h.num_desc, h.desc_offset);
  for (unsigned i = 0; i < h.num_desc; i++) {
    struct kvm_stats_desc *x = (void *)(d + i * dsz);
    int pad = 1;
    for (unsigned k = strlen(x->name); k < h.name_size; k++) pad &= x->name[k] == 0;
    printf("%s desc %s: flags=0x%x exponent=%d size=%u offset=%u bucket_size=%u padded=%d\n", what, x->name, x->flags,
           x->exponent, x->size, x->offset, x->bucket_size, pad);
  }
  free(d);
}


static void vmcounters(const char *what, int sfd) {
  printf("%s: remote_tlb_flush_requests=%llu remote_tlb_flush=%llu\n", what, kvm_stat(sfd, "remote_tlb_flush_requests"), kvm_stat(sfd, "remote_tlb_flush"));
}

static void counters(const char *what, int sfd) {
  static const char *names[] = { "mmio_exits", "halt_exits", "signal_exits", "irq_injections", "nmi_injections",
                                 "halt_successful_poll", "halt_attempted_poll", "halt_wakeup", "blocking", "guest_mode", "nested_run", NULL };
  printf("%s:", what);
  for (int i = 0; names[i]; i++) printf(" %s=%llu", names[i], kvm_stat(sfd, names[i]));
  printf("\n");
}

/* The data section is all zeros (a fresh VM or vCPU). */
static void allzero(const char *what, int sfd) {
  struct kvm_stats_header h;
  pread(sfd, &h, sizeof h, 0);
  long n = pread(sfd, buf, sizeof buf, h.data_offset);
  int z = 1;
  for (long i = 0; i < n; i++) z &= buf[i] == 0;
  printf("%s data all zero: %d\n", what, z);
}

static void fdinfo(const char *what, int fd) {
  char p[64], l[256];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(p, "r");
  while (fgets(l, sizeof l, f))
    if (!strncmp(l, "pos:", 4) || !strncmp(l, "flags:", 6)) printf("%s fdinfo %s", what, l);
  fclose(f);
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  int n = readlink(p, l, sizeof l - 1);
  l[n < 0 ? 0 : n] = 0;
  printf("%s link: %s\n", what, l);
}

/* A new stats fd: its fd flags, fdinfo, link, layout, and its values (all 0 at creation). */
static void opened(const char *what, int fd, const char *id) {
  printf("%s stats fd: %d\n", what, fd > 0);
  printf("%s fd cloexec: %d\n", what, fcntl(fd, F_GETFD));
  printf("%s fd F_GETFL: %d\n", what, fcntl(fd, F_GETFL));
  fdinfo(what, fd);
  dump(what, fd, id);
  allzero(what, fd);
}

static int vfd;
static struct kvm_run *run;

static void dorun(const char *what) {
  long r = ioctl(vfd, KVM_RUN, 0);
  if (r < 0) printf("%s: E%d\n", what, errno);
  else if (run->exit_reason == KVM_EXIT_IO) printf("%s: exit=%u port=%x\n", what, run->exit_reason, run->io.port);
  else printf("%s: exit=%u\n", what, run->exit_reason);
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  char id[64];
  res("cap dev", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD));
  res("dev KVM_GET_STATS_FD", ioctl(kvm, KVM_GET_STATS_FD, 0));
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  res("cap vm", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD));
  int vs = ioctl(vm, KVM_GET_STATS_FD, 0);
  snprintf(id, sizeof id, "kvm-%d", getpid());
  opened("vm", vs, id);
  int vs2 = ioctl(vm, KVM_GET_STATS_FD, 7);
  printf("vm KVM_GET_STATS_FD arg 7: %d\n", vs2 > 0);
  close(vs2);

  unsigned char *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region m = { .slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = (uintptr_t)mem };
  ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m);
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  int cs = ioctl(vfd, KVM_GET_STATS_FD, 0);
  snprintf(id, sizeof id, "kvm-%d/vcpu-0", getpid());
  opened("vcpu", cs, id);
  int cs2 = ioctl(vfd, KVM_GET_STATS_FD, 9);
  printf("vcpu KVM_GET_STATS_FD arg 9: %d\n", cs2 > 0);

  /* kvm_stats_read(): any offset and length; f_pos moves with read(), not pread(). */
  struct kvm_stats_header h;
  pread(cs, &h, sizeof h, 0);
  long total = h.data_offset + 8;
  while (pread(cs, buf, 8, total) == 8) total += 8;
  printf("vcpu file size - data_offset: %ld\n", total - (long)h.data_offset);
  unsigned char whole[8192], part[8192];
  long n = pread(cs, whole, sizeof whole, 0);
  printf("pread whole: %d\n", n == total);
  static const long offs[][2] = { { 1, 7 }, { 5, 30 }, { 23, 2 }, { 70, 5 }, { 71, 200 }, { 130, 3000 } };
  for (int i = 0; i < 6; i++) {
    long r = pread(cs, part, offs[i][1], offs[i][0]);
    printf("pread %ld+%ld: %ld same=%d\n", offs[i][0], offs[i][1], r, !memcmp(part, whole + offs[i][0], r));
  }
  printf("pread across the end: %d\n", pread(cs, part, 16, total - 8) == 8 && !memcmp(part, whole + total - 8, 8));
  res("pread at the end", pread(cs, part, 16, total));
  res("pread far past the end", pread(cs, part, 16, 1 << 30));
  res("pread 0 bytes", pread(cs, part, 0, 0));
  res("pread negative offset", pread(cs, part, 8, -1));
  res("read 10", read(cs, part, 10));
  res("read 17", read(cs, part, 17));
  printf("read continues: %d\n", !memcmp(part, whole + 10, 17));
  fdinfo("vcpu after reads", cs);
  res("pread 4 at 0", pread(cs, part, 4, 0));
  fdinfo("vcpu after pread", cs);
  res("write", write(cs, part, 4));
  res("pwrite", pwrite(cs, part, 4, 0));
  res("ioctl KVM_GET_STATS_FD on the stats fd", ioctl(cs, KVM_GET_STATS_FD, 0));
  res("ioctl KVM_RUN on the stats fd", ioctl(cs, KVM_RUN, 0));
  void *mp = mmap(NULL, 4096, PROT_READ, MAP_SHARED, cs, 0);
  if (mp == MAP_FAILED) printf("mmap: E%d\n", errno);
  else printf("mmap: ok\n");
  struct pollfd pf = { .fd = cs, .events = POLLIN | POLLOUT };
  res("poll", poll(&pf, 1, 0));
  printf("poll revents: 0x%x\n", pf.revents);
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN };
  res("epoll_ctl add", epoll_ctl(ep, EPOLL_CTL_ADD, cs, &ev));

  /* The guest: three port writes, an MMIO write and read, HLT (no in-kernel irqchip: KVM_EXIT_HLT). */
  flat32_gdt(mem);
  static const unsigned char code[] = { 0xe6, 0x10, 0xe6, 0x10, 0xe6, 0x10, 0xa2, 0x00, 0x00, 0x02, 0x00, 0xa0, 0x04, 0x00, 0x02, 0x00, 0xf4 };
  memcpy(mem + 0x1000, code, sizeof code);
  static const unsigned char isr[] = { 0xe6, 0x11, 0xf4 };
  memcpy(mem + 0x2000, isr, sizeof isr);
  flat32_gate(mem, 0x30, 0x2000);
  static const unsigned char nmi[] = { 0xe6, 0x12, 0xf4 };
  memcpy(mem + 0x2100, nmi, sizeof nmi);
  flat32_gate(mem, 2, 0x2100);
  flat32_sregs(vfd);
  flat32_regs(vfd, 0x1000, 2);
  counters("before", cs);
  for (int i = 0; i < 3; i++) dorun("run out");
  counters("after 3 outs", cs);
  dorun("run mmio write");
  dorun("run mmio read");
  counters("after mmio", cs);
  dorun("run hlt");
  counters("after hlt", cs);
  run->immediate_exit = 1;
  dorun("run immediate_exit");
  run->immediate_exit = 0;
  counters("after immediate_exit", cs);
  /* KVM_INTERRUPT (userspace irqchip) with IF=1, then KVM_NMI. */
  flat32_regs(vfd, 0x1010, 0x202);
  struct kvm_interrupt irq = { .irq = 0x30 };
  res("KVM_INTERRUPT 0x30", ioctl(vfd, KVM_INTERRUPT, &irq));
  dorun("run interrupt");
  counters("after interrupt", cs);
  res("KVM_NMI", ioctl(vfd, KVM_NMI, 0));
  dorun("run nmi");
  counters("after nmi", cs);
  /*
   * Dirty logging (kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect): a TLB flush request when
   * dirty bits were taken or cleared, none otherwise; no vCPU is in guest mode, so no remote flush.
   */
  unsigned char *mem2 = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region m2 = { .slot = 1, .flags = KVM_MEM_LOG_DIRTY_PAGES, .guest_phys_addr = 0x100000, .memory_size = 0x10000, .userspace_addr = (uintptr_t)mem2 };
  res("log slot", ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m2));
  static const unsigned char dirty[] = { 0xa2, 0x00, 0x00, 0x10, 0x00, 0xa2, 0x00, 0x30, 0x10, 0x00, 0xe6, 0x15, 0xf4 };
  memcpy(mem + 0x3000, dirty, sizeof dirty);
  flat32_regs(vfd, 0x3000, 2);
  dorun("run dirtying");
  vmcounters("vm before get", vs);
  unsigned long long bm = 0;
  struct kvm_dirty_log dl = { .slot = 1, .dirty_bitmap = &bm };
  res("get dirty log", ioctl(vm, KVM_GET_DIRTY_LOG, &dl));
  printf("bitmap: %llx\n", bm);
  vmcounters("vm after get", vs);
  res("get dirty log again", ioctl(vm, KVM_GET_DIRTY_LOG, &dl));
  vmcounters("vm after get again", vs);

  /* The stats fds hold the VM (kvm_get_kvm): they read after every other KVM fd is closed. */
  close(vfd);
  close(vm);
  close(kvm);
  res("vcpu stats pread after close", pread(cs, buf, 24, 0));
  res("vm stats pread after close", pread(vs, buf, 24, 0));
  printf("halt_exits after close: %llu\n", kvm_stat(cs, "halt_exits"));

  /*
   * An in-kernel LAPIC, halt polling off (KVM_CAP_HALT_POLL 0), manual dirty-log protection: HLT blocks
   * until the APIC timer (one-shot, 10 ms) fires; the wakeup and the injection count.
   *   0x1000: SVR 0x1ff; TDCR 0xb; LVTT 0x40; TMICT 10000000; sti; hlt; out 0x13, al; hlt
   *   0x2000 (vector 0x40): EOI; out 0x14, al; iret
   */
  kvm = open("/dev/kvm", O_RDWR);
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  vs = ioctl(vm, KVM_GET_STATS_FD, 0);
  res("irqchip", ioctl(vm, KVM_CREATE_IRQCHIP, 0));
  struct kvm_enable_cap hp = { .cap = KVM_CAP_HALT_POLL, .args = { 0 } };
  res("halt poll 0", ioctl(vm, KVM_ENABLE_CAP, &hp));
  struct kvm_enable_cap mpc = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE } };
  res("manual protect", ioctl(vm, KVM_ENABLE_CAP, &mpc));
  memset(mem, 0, 0x10000);
  ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m);
  res("log slot", ioctl(vm, KVM_SET_USER_MEMORY_REGION, &m2));
  vfd = ioctl(vm, KVM_CREATE_VCPU, 0);
  run = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);
  cs = ioctl(vfd, KVM_GET_STATS_FD, 0);
  flat32_gdt(mem);
  static const unsigned char timer[] = {
    0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, 0xc7, 0x05, 0xe0, 0x03, 0xe0, 0xfe, 0x0b, 0x00, 0x00, 0x00,
    0xc7, 0x05, 0x20, 0x03, 0xe0, 0xfe, 0x40, 0x00, 0x00, 0x00, 0xc7, 0x05, 0x80, 0x03, 0xe0, 0xfe, 0x80, 0x96, 0x98, 0x00,
    0xfb, 0xf4, 0xe6, 0x13, 0xf4,
  };
  memcpy(mem + 0x1000, timer, sizeof timer);
  static const unsigned char tisr[] = { 0xc7, 0x05, 0xb0, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0xe6, 0x14, 0xcf };
  memcpy(mem + 0x2000, tisr, sizeof tisr);
  flat32_gate(mem, 0x40, 0x2000);
  memcpy(mem + 0x3000, dirty, sizeof dirty);
  flat32_sregs(vfd);
  flat32_regs(vfd, 0x1000, 2);
  dorun("run timer");
  counters("after timer", cs);
  flat32_regs(vfd, 0x3000, 2);
  dorun("run dirtying");
  res("get dirty log (manual)", ioctl(vm, KVM_GET_DIRTY_LOG, &dl));
  printf("bitmap: %llx\n", bm);
  vmcounters("vm after manual get", vs);
  struct kvm_clear_dirty_log cl = { .slot = 1, .num_pages = 16, .first_page = 0, .dirty_bitmap = &bm };
  bm = 1;
  res("clear page 0", ioctl(vm, KVM_CLEAR_DIRTY_LOG, &cl));
  vmcounters("vm after clear", vs);
  res("clear page 0 again", ioctl(vm, KVM_CLEAR_DIRTY_LOG, &cl));
  vmcounters("vm after clear again", vs);
  return 0;
}
