/*
 * The real-kernel half of test/linux/kvm/clock.test.ts: KVM_GET/SET_CLOCK, KVM_GET/SET_TSC_KHZ, the
 * vCPU TSC attribute and MSR_IA32_TSC on /dev/kvm, a fixed sequence of calls with one line each.
 * Lines never carry host-dependent values: rates are printed relative to the host's (H, lo/hi = the
 * 250 ppm tolerance bounds), clocks as ranges, errors as E<errno>.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

static long H;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

/* A rate as the test prints it: relative to the host's. */
/* ioctl() returns an int: a rate of 2^31 kHz or more comes back negative, with errno untouched. */
static void khz(const char *what, int r) {
  if (r < 0 && r >= -4095) printf("%s: E%d\n", what, errno);
  else if (r == H) printf("%s: H\n", what);
  else if (r == H * 2) printf("%s: 2H\n", what);
  else if (r == H * (1000000 - 250) / 1000000) printf("%s: lo\n", what);
  else if (r == H * (1000000 - 250) / 1000000 - 1) printf("%s: lo-1\n", what);
  else if (r == H * (1000000 + 250) / 1000000) printf("%s: hi\n", what);
  else printf("%s: %d\n", what, (int)r);
}

static uint64_t realtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static struct { struct kvm_msrs h; struct kvm_msr_entry e; } m;
static long msr(int v, unsigned long req, uint32_t idx, uint64_t data) {
  memset(&m, 0, sizeof m);
  m.h.nmsrs = 1;
  m.e.index = idx;
  m.e.data = data;
  return ioctl(v, req, &m);
}

static struct kvm_clock_data cd;
static void setclock(const char *what, int vm, uint64_t clock, uint32_t flags, uint64_t rt) {
  memset(&cd, 0, sizeof cd);
  cd.clock = clock;
  cd.flags = flags;
  cd.realtime = rt;
  res(what, ioctl(vm, KVM_SET_CLOCK, &cd));
}

/* KVM_GET_CLOCK, the clock printed as whether it is in [lo, lo + 1s), modulo 2^64. */
static void getclock(const char *what, int vm, uint64_t lo) {
  memset(&cd, 0xff, sizeof cd);
  long r = ioctl(vm, KVM_GET_CLOCK, &cd);
  if (r < 0) { printf("%s: E%d\n", what, errno); return; }
  printf("%s: %ld in [%llu, +1s): %d flags %u pad0 %u realtime %llu host_tsc %llu pad %u %u %u %u\n", what, r,
         (unsigned long long)lo, cd.clock - lo < 1000000000ull, cd.flags, cd.pad0,
         (unsigned long long)cd.realtime, (unsigned long long)cd.host_tsc, cd.pad[0], cd.pad[1], cd.pad[2], cd.pad[3]);
}

static uint64_t attrval;
static struct kvm_device_attr attr;
static void dattr(const char *what, int fd, unsigned long req, uint32_t flags, uint32_t group, uint64_t a, int ptr) {
  attr.flags = flags;
  attr.group = group;
  attr.attr = a;
  attr.addr = ptr ? (uint64_t)(uintptr_t)&attrval : 0;
  res(what, ioctl(fd, req, &attr));
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  static const struct { const char *name; int cap; } caps[] = {
    { "ADJUST_CLOCK", KVM_CAP_ADJUST_CLOCK }, { "TSC_CONTROL", KVM_CAP_TSC_CONTROL },
    { "GET_TSC_KHZ", KVM_CAP_GET_TSC_KHZ }, { "VM_TSC_CONTROL", KVM_CAP_VM_TSC_CONTROL },
    { "VCPU_ATTRIBUTES", KVM_CAP_VCPU_ATTRIBUTES },
  };
  char what[64];
  for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    snprintf(what, sizeof what, "cap %s", caps[i].name);
    res(what, ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].cap));
  }
  res("dev get_tsc_khz", ioctl(kvm, KVM_GET_TSC_KHZ, 0));
  res("dev get_clock", ioctl(kvm, KVM_GET_CLOCK, &cd));
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    snprintf(what, sizeof what, "vm cap %s", caps[i].name);
    res(what, ioctl(vm, KVM_CHECK_EXTENSION, caps[i].cap));
  }
  H = ioctl(vm, KVM_GET_TSC_KHZ, 0);
  khz("vm get_tsc_khz", H);

  /* kvmclock */
  getclock("get_clock fresh", vm, 0);
  setclock("set_clock flags 1", vm, 0, 1, 0);
  setclock("set_clock flags 16", vm, 0, 16, 0);
  setclock("set_clock flags 1<<31", vm, 0, 1u << 31, 0);
  getclock("get_clock after refusals", vm, 0);
  setclock("set_clock 5s", vm, 5000000000ull, 0, 0);
  getclock("get_clock after 5s", vm, 5000000000ull);
  setclock("set_clock all valid flags", vm, 7000000000ull, KVM_CLOCK_TSC_STABLE | KVM_CLOCK_HOST_TSC, 123);
  getclock("get_clock after 7s", vm, 7000000000ull);
  memset(&cd, 0, sizeof cd);
  cd.clock = 9000000000ull;
  cd.pad0 = 0xdead;
  cd.pad[2] = 0xbeef;
  res("set_clock dirty padding", ioctl(vm, KVM_SET_CLOCK, &cd));
  getclock("get_clock after 9s", vm, 9000000000ull);
  setclock("set_clock realtime 3s ago", vm, 1000, KVM_CLOCK_REALTIME, realtime() - 3000000000ull);
  getclock("get_clock after realtime 3s ago", vm, 3000000000ull);
  setclock("set_clock realtime in the future", vm, 1000, KVM_CLOCK_REALTIME, realtime() + 3000000000ull);
  getclock("get_clock after realtime in the future", vm, 1000);
  setclock("set_clock realtime ignored without the flag", vm, 1000, 0, realtime() - 3000000000ull);
  getclock("get_clock after realtime without the flag", vm, 1000);
  setclock("set_clock -1", vm, (uint64_t)-1, 0, 0);
  getclock("get_clock after -1 (wraps)", vm, (uint64_t)-1);

  /* TSC rates */
  int v = ioctl(vm, KVM_CREATE_VCPU, 0);
  res("vcpu get_clock", ioctl(v, KVM_GET_CLOCK, &cd));
  khz("vcpu get_tsc_khz", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vm set_tsc_khz with a vCPU", ioctl(vm, KVM_SET_TSC_KHZ, H * 2));
  khz("vm get_tsc_khz", ioctl(vm, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set lo", ioctl(v, KVM_SET_TSC_KHZ, H * (1000000 - 250) / 1000000));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set hi", ioctl(v, KVM_SET_TSC_KHZ, H * (1000000 + 250) / 1000000));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set lo-1", ioctl(v, KVM_SET_TSC_KHZ, H * (1000000 - 250) / 1000000 - 1));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set 2H", ioctl(v, KVM_SET_TSC_KHZ, H * 2));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set 1000", ioctl(v, KVM_SET_TSC_KHZ, 1000));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set 1<<32|5", ioctl(v, KVM_SET_TSC_KHZ, (1ul << 32) | 5));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set 0", ioctl(v, KVM_SET_TSC_KHZ, 0));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));
  khz("vcpu set 0x80000000", ioctl(v, KVM_SET_TSC_KHZ, 0x80000000ul));
  khz("vcpu get", ioctl(v, KVM_GET_TSC_KHZ, 0));

  int vm2 = ioctl(kvm, KVM_CREATE_VM, 0);
  khz("vm2 set 1000", ioctl(vm2, KVM_SET_TSC_KHZ, 1000));
  khz("vm2 get", ioctl(vm2, KVM_GET_TSC_KHZ, 0));
  khz("vm2 set 0", ioctl(vm2, KVM_SET_TSC_KHZ, 0));
  khz("vm2 get", ioctl(vm2, KVM_GET_TSC_KHZ, 0));
  khz("vm2 set 1<<32", ioctl(vm2, KVM_SET_TSC_KHZ, 1ul << 32));
  khz("vm2 get", ioctl(vm2, KVM_GET_TSC_KHZ, 0));
  khz("vm2 set 2H", ioctl(vm2, KVM_SET_TSC_KHZ, H * 2));
  int w = ioctl(vm2, KVM_CREATE_VCPU, 0);
  khz("vm2 vcpu get", ioctl(w, KVM_GET_TSC_KHZ, 0));
  int vm3 = ioctl(kvm, KVM_CREATE_VM, 0);
  khz("vm3 set 1000", ioctl(vm3, KVM_SET_TSC_KHZ, 1000));
  int w3 = ioctl(vm3, KVM_CREATE_VCPU, 0);
  khz("vm3 vcpu (refused rate) get", ioctl(w3, KVM_GET_TSC_KHZ, 0));

  /* The TSC counts at the host rate: cycles per ms of CLOCK_MONOTONIC_RAW, within 1% of H. */
  msr(v, KVM_GET_MSRS, 0x10, 0);
  uint64_t t0 = m.e.data, n0 = monotonic();
  while (monotonic() - n0 < 20000000ull)
    ;
  res("get_msrs tsc", msr(v, KVM_GET_MSRS, 0x10, 0));
  uint64_t t1 = m.e.data, n1 = monotonic();
  double rate = (double)(t1 - t0) * 1e6 / (double)(n1 - n0);
  printf("tsc rate within 1%% of H: %d\n", rate > H * 0.99 && rate < H * 1.01);
  res("set_msrs tsc", msr(v, KVM_SET_MSRS, 0x10, 1000000));
  res("set_msrs tsc 0", msr(v, KVM_SET_MSRS, 0x10, 0));

  /* KVM_VCPU_TSC_CTRL */
  dattr("has tsc_offset", v, KVM_HAS_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0);
  dattr("has attr 1", v, KVM_HAS_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, 1, 0);
  dattr("has attr 1<<32", v, KVM_HAS_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, 1ull << 32, 0);
  dattr("has group 1", v, KVM_HAS_DEVICE_ATTR, 0, 1, KVM_VCPU_TSC_OFFSET, 0);
  dattr("has flags 5", v, KVM_HAS_DEVICE_ATTR, 5, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0);
  dattr("get NULL", v, KVM_GET_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0);
  dattr("set NULL", v, KVM_SET_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0);
  dattr("get attr 1 NULL", v, KVM_GET_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, 1, 0);
  dattr("set group 1 NULL", v, KVM_SET_DEVICE_ATTR, 0, 1, KVM_VCPU_TSC_OFFSET, 0);
  dattr("get", v, KVM_GET_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 1);
  attrval = 12345;
  dattr("set", v, KVM_SET_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 1);
  dattr("vm has", vm, KVM_HAS_DEVICE_ATTR, 0, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, 0);
  return 0;
}
