/*
 * The real-kernel half of test/linux/kvm/dirty-log.test.ts: dirty page logging on this machine's
 * /dev/kvm (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, logging turned
 * on, off and kept across a slot move). A real-mode guest writes guest pages 1 and 3 and halts; the
 * model's guest program does the same. One result line per step.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
static int kvm, vm, vcpu; static struct kvm_run *run; static uint64_t bm[4];
static void res(const char *w, long r) { if (r < 0) printf("%s: E%d\n", w, errno); else printf("%s: %ld\n", w, r); }
static void get(const char *w, unsigned slot) { struct kvm_dirty_log l = {0}; l.slot = slot; memset(bm, 0xee, sizeof bm); l.dirty_bitmap = bm; long r = ioctl(vm, KVM_GET_DIRTY_LOG, &l); if (r < 0) res(w, r); else printf("%s: %llx %llx\n", w, (unsigned long long)bm[0], (unsigned long long)bm[1]); }
static void clr(const char *w, unsigned first, unsigned num, uint64_t mask) { struct kvm_clear_dirty_log c = {0}; uint64_t b[4] = {mask, 0, 0, 0}; c.slot = 0; c.first_page = first; c.num_pages = num; c.dirty_bitmap = b; res(w, ioctl(vm, KVM_CLEAR_DIRTY_LOG, &c)); }
static void slot(const char *w, uint64_t gpa, uint32_t flags, void *mem, uint64_t size) { struct kvm_userspace_memory_region r = {0, flags, gpa, size, (uint64_t)mem}; res(w, ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r)); }
static void go(const char *w) { struct kvm_regs rg; memset(&rg, 0, sizeof rg); rg.rflags = 2; ioctl(vcpu, KVM_SET_REGS, &rg); long r = ioctl(vcpu, KVM_RUN, 0); if (r < 0) res(w, r); else printf("%s: exit %u\n", w, run->exit_reason); }
static void cap(const char *w, uint32_t flags, uint64_t a0) { struct kvm_enable_cap c = {0}; c.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2; c.flags = flags; c.args[0] = a0; res(w, ioctl(vm, KVM_ENABLE_CAP, &c)); }
int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  kvm = open("/dev/kvm", O_RDWR); vm = ioctl(kvm, KVM_CREATE_VM, 0);
  unsigned char *mem = mmap(0, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  unsigned char code[] = {0xc6, 0x06, 0x00, 0x10, 0x01, 0xc6, 0x06, 0x00, 0x30, 0x01, 0xf4};
  memcpy(mem, code, sizeof code);
  res("cap MANUAL_DIRTY_LOG_PROTECT2", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
  res("cap MANUAL_DIRTY_LOG_PROTECT", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT));
  res("vm cap MANUAL_DIRTY_LOG_PROTECT2", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
  slot("slot 0 no logging", 0, 0, mem, 16 * 4096);
  get("get, not logging", 0);
  get("get, no slot 5", 5);
  get("get, slot 32764", 32764);
  get("get, address space 1", 1 << 16);
  vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  run = mmap(0, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  struct kvm_sregs sr; ioctl(vcpu, KVM_GET_SREGS, &sr); sr.cs.base = 0; sr.cs.selector = 0; ioctl(vcpu, KVM_SET_SREGS, &sr);
  go("run, not logging");
  slot("slot 0 logging", 0, KVM_MEM_LOG_DIRTY_PAGES, mem, 16 * 4096);
  get("get, logging, nothing run", 0);
  go("run");
  get("get after run", 0);
  get("get again", 0);
  { struct kvm_dirty_log l = {0}; res("get NULL bitmap", ioctl(vm, KVM_GET_DIRTY_LOG, &l)); }
  mem[0x2000] = 1; get("get after a VMM write", 0);
  /* kvm_clear_dirty_log_protect() does not ask for manual protect: it clears what the mask names. */
  go("run again");
  clr("clear 0x2 without manual protect", 0, 16, 0x2);
  get("get after that clear", 0);
  /* A slot made while INITIALLY_SET is off starts clean; the capability given later does not set it. */
  cap("enable PROTECT alone", 0, 1);
  cap("enable 0", 0, 0);
  cap("enable flags 1", 1, 1);
  cap("enable INITIALLY_SET alone", 0, 2);
  cap("enable 4", 0, 4);
  cap("enable PROTECT|INITIALLY_SET", 0, 3);
  get("get, manual, nothing run", 0);
  go("run");
  get("get, manual", 0);
  get("get, manual, again", 0);
  clr("clear first 1", 1, 16, 0);
  clr("clear 17 pages", 0, 17, 0);
  clr("clear 8 pages", 0, 8, 0);
  clr("clear 0x8 of 16", 0, 16, 0x8);
  get("get after clear", 0);
  slot("logging off", 0, 0, mem, 16 * 4096);
  get("get, logging off", 0);
  clr("clear, logging off", 0, 16, 0);
  slot("logging on (initially set)", 0, KVM_MEM_LOG_DIRTY_PAGES, mem, 16 * 4096);
  get("get, initially set", 0);
  clr("clear 0xff00", 0, 16, 0xff00);
  get("get after clear", 0);
  clr("clear first 16 num 0", 16, 0, 0);
  clr("clear first 0 num 0", 0, 0, 0);
  { struct kvm_clear_dirty_log c = {0}; c.num_pages = 16; res("clear NULL bitmap", ioctl(vm, KVM_CLEAR_DIRTY_LOG, &c)); }
  slot("move slot", 0x100000, KVM_MEM_LOG_DIRTY_PAGES, mem, 16 * 4096);
  get("get after move", 0);
  clr("clear, first_page 64 past the slot", 64, 0, 0);
  clr("clear, first 0 num 0 after the move", 0, 0, 0);
  { struct kvm_clear_dirty_log c = {0}; c.slot = 5; c.first_page = 1; res("clear, no slot 5, first_page 1", ioctl(vm, KVM_CLEAR_DIRTY_LOG, &c)); }
  { struct kvm_clear_dirty_log c = {0}; c.slot = 5; res("clear, no slot 5", ioctl(vm, KVM_CLEAR_DIRTY_LOG, &c)); }
  slot("delete slot", 0x100000, 0, mem, 0);
  slot("slot 0 again, logging", 0, KVM_MEM_LOG_DIRTY_PAGES, mem, 16 * 4096);
  get("get, new slot", 0);
  return 0;
}
