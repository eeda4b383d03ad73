/*
 * The real-kernel half of test/linux/kvm/fpu.test.ts: a fixed sequence of the FPU/XSAVE/XCR ioctls on
 * this machine's /dev/kvm, one line per call. Results print as a number or E<errno>; state prints as
 * the non-zero 32-bit words of the struct ([byte offset]=value). The XSAVE images carry two host
 * values (the MXCSR mask at 28 and the host's user xfeatures at 464): the model's host is this machine,
 * so they are compared too. A guest CPUID with a smaller leaf 0xD.0 is left out: this machine's kvm_pvm
 * replaces its EAX with the host's on KVM_SET_CPUID2 (fpu.test.ts checks that case against the source).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

static uint8_t xs[8192];
static struct kvm_fpu f;
static struct kvm_xcrs x;
static struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cb;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static void dump(const char *what, const void *p, int n) {
  const uint8_t *b = p;
  printf("%s:", what);
  for (int i = 0; i < n; i += 4) {
    uint32_t v;
    memcpy(&v, b + i, 4);
    if (v) printf(" [%d]=%x", i, v);
  }
  printf("\n");
}

static void getx(int vcpu, const char *what) {
  memset(xs, 0xaa, sizeof xs);
  long r = ioctl(vcpu, KVM_GET_XSAVE, xs);
  if (r < 0) { res(what, r); return; }
  dump(what, xs, 4096);
}

static void getf(int vcpu, const char *what) {
  memset(&f, 0xaa, sizeof f);
  long r = ioctl(vcpu, KVM_GET_FPU, &f);
  if (r < 0) { res(what, r); return; }
  dump(what, &f, sizeof f);
}

static void getxcr(int vcpu, const char *what) {
  memset(&x, 0xaa, sizeof x);
  long r = ioctl(vcpu, KVM_GET_XCRS, &x);
  if (r < 0) { res(what, r); return; }
  dump(what, &x, sizeof x);
}

/* An XSAVE image with xstate_bv `bv`, FCW 0x27f, MXCSR `mxcsr`, and marks in each component. */
static void image(uint64_t bv, uint32_t mxcsr) {
  memset(xs, 0, sizeof xs);
  xs[0] = 0x7f; xs[1] = 0x02;      /* FCW */
  xs[2] = 0x11;                     /* FSW */
  memcpy(xs + 24, &mxcsr, 4);
  xs[28] = 0x34;                    /* MXCSR_MASK */
  xs[32] = 0x01;                    /* ST0 */
  xs[160] = 0x02;                   /* XMM0 */
  xs[0x240] = 0x03;                 /* YMM_Hi128 */
  xs[0x340] = 0x04;                 /* opmask */
  xs[0x380] = 0x05;                 /* ZMM_Hi256 */
  xs[0x580] = 0x06;                 /* Hi16_ZMM */
  memcpy(xs + 512, &bv, 8);
}

static void setxcr(int vcpu, const char *what, uint32_t nr, uint32_t flags, uint32_t xcr, uint32_t rsvd, uint64_t value) {
  memset(&x, 0, sizeof x);
  x.nr_xcrs = nr;
  x.flags = flags;
  x.xcrs[0].xcr = xcr;
  x.xcrs[0].reserved = rsvd;
  x.xcrs[0].value = value;
  x.xcrs[1].xcr = 0;
  x.xcrs[1].value = 0x7;
  res(what, ioctl(vcpu, KVM_SET_XCRS, &x));
}

static void leafd(int vcpu, const char *what) {
  cb.c.nent = 256;
  long r = ioctl(vcpu, KVM_GET_CPUID2, &cb);
  if (r < 0) { res(what, r); return; }
  for (unsigned i = 0; i < cb.c.nent; i++)
    if (cb.e[i].function == 0xd && cb.e[i].index == 0) printf("%s: 0xD.0 ebx %x ecx %x\n", what, cb.e[i].ebx, cb.e[i].ecx);
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  if (kvm < 0) return 1;
  res("dev cap XSAVE", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE));
  res("dev cap XCRS", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_XCRS));
  res("dev cap XSAVE2", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2));
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  res("vm cap XSAVE2", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2));
  res("create irqchip", ioctl(vm, KVM_CREATE_IRQCHIP, 0));
  int v0 = ioctl(vm, KVM_CREATE_VCPU, 0);
  int v1 = ioctl(vm, KVM_CREATE_VCPU, 1);

  /* RESET state. */
  getf(v1, "reset fpu");
  getx(v1, "reset xsave");
  memset(xs, 0xaa, sizeof xs);
  res("get_xsave2", ioctl(v1, KVM_GET_XSAVE2, xs));
  int last = -1;
  for (int i = 0; i < (int)sizeof xs; i++) if (xs[i] != 0xaa) last = i;
  printf("  last byte written %d\n", last);
  dump("  xsave2", xs, 4096);
  getxcr(v1, "reset xcrs");

  /* KVM_SET_FPU: raw legacy fields, MXCSR and padding ignored; XSAVE still shows init x87. */
  memset(&f, 0, sizeof f);
  f.fcw = 0x27f; f.fsw = 0x1234; f.ftwx = 0x81; f.pad1 = 7; f.last_opcode = 0x55;
  f.last_ip = 0x1122334455667788ULL; f.last_dp = 0x99; f.fpr[0][0] = 1; f.fpr[7][15] = 8;
  f.xmm[0][0] = 2; f.xmm[15][15] = 3; f.mxcsr = 0x1f81; f.pad2 = 9;
  res("set_fpu", ioctl(v1, KVM_SET_FPU, &f));
  getf(v1, "  fpu");
  getx(v1, "  xsave");
  f.mxcsr = 0xffff0000;
  res("set_fpu reserved MXCSR", ioctl(v1, KVM_SET_FPU, &f));

  /* KVM_SET_XSAVE: what is copied, what is shown. */
  image(3, 0x1f81);
  res("set_xsave bv 3", ioctl(v1, KVM_SET_XSAVE, xs));
  getx(v1, "  xsave");
  getf(v1, "  fpu");
  image(2, 0x1f82);
  res("set_xsave bv 2 (SSE without x87)", ioctl(v1, KVM_SET_XSAVE, xs));
  getx(v1, "  xsave");
  getf(v1, "  fpu");
  image(1, 0x1f83);
  res("set_xsave bv 1 (x87 without SSE)", ioctl(v1, KVM_SET_XSAVE, xs));
  getx(v1, "  xsave");
  getf(v1, "  fpu");
  image(4, 0x1f84);
  res("set_xsave bv 4 (AVX alone)", ioctl(v1, KVM_SET_XSAVE, xs));
  getx(v1, "  xsave");
  image(0xe7, 0x1f85);
  res("set_xsave bv e7", ioctl(v1, KVM_SET_XSAVE, xs));
  getx(v1, "  xsave, no guest CPUID");
  getf(v1, "  fpu");
  static const uint64_t bad[] = {0x8, 0x10, 0x100, 0x200, 0x800, 0x20000, 0x40000, 1ULL << 32, 1ULL << 63};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char w[64];
    image(bad[i] | 3, 0x1f80);
    snprintf(w, sizeof w, "set_xsave bv %llx", (unsigned long long)(bad[i] | 3));
    res(w, ioctl(v1, KVM_SET_XSAVE, xs));
  }
  image(3, 0x1f80); xs[520] = 1;
  res("set_xsave xcomp_bv 1", ioctl(v1, KVM_SET_XSAVE, xs));
  image(3, 0x1f80); xs[527] = 0x80;
  res("set_xsave xcomp_bv bit 63", ioctl(v1, KVM_SET_XSAVE, xs));
  image(3, 0x1f80); xs[528] = 1;
  res("set_xsave header reserved byte 16", ioctl(v1, KVM_SET_XSAVE, xs));
  image(3, 0x1f80); xs[575] = 1;
  res("set_xsave header reserved byte 63", ioctl(v1, KVM_SET_XSAVE, xs));
  static const uint64_t mx[] = {1, 2, 4, 0xe0, 0};
  for (unsigned i = 0; i < sizeof mx / sizeof mx[0]; i++) {
    char w[64];
    image(mx[i], 0x00040000);
    snprintf(w, sizeof w, "set_xsave bv %llx MXCSR bit 18", (unsigned long long)mx[i]);
    res(w, ioctl(v1, KVM_SET_XSAVE, xs));
  }
  image(3, 0xffff1f80);
  res("set_xsave MXCSR bits 31:16", ioctl(v1, KVM_SET_XSAVE, xs));
  image(3, 0x00021f80);
  res("set_xsave MXCSR bit 17 (MM)", ioctl(v1, KVM_SET_XSAVE, xs));
  getx(v1, "  xsave");
  image(3, 0x0000ffff);
  res("set_xsave MXCSR 0xffff", ioctl(v1, KVM_SET_XSAVE, xs));
  image(3, 0x1f80); xs[464] = 0x55; xs[420] = 0x66;
  res("set_xsave sw_reserved and padding dirty", ioctl(v1, KVM_SET_XSAVE, xs));
  getx(v1, "  xsave");

  /* KVM_SET_XCRS without a guest CPUID (and CR4.OSXSAVE clear). */
  static const uint64_t xv[] = {0, 1, 2, 3, 7, 5, 0xe7};
  for (unsigned i = 0; i < sizeof xv / sizeof xv[0]; i++) {
    char w[64];
    snprintf(w, sizeof w, "set_xcrs %llx", (unsigned long long)xv[i]);
    setxcr(v1, w, 1, 0, 0, 0, xv[i]);
  }
  setxcr(v1, "set_xcrs nr 17", 17, 0, 0, 0, 1);
  setxcr(v1, "set_xcrs nr 16", 16, 0, 0, 0, 1);
  setxcr(v1, "set_xcrs flags 1", 1, 1, 0, 0, 1);
  setxcr(v1, "set_xcrs nr 0", 0, 0, 0, 0, 0);
  setxcr(v1, "set_xcrs xcr 1 only", 1, 0, 1, 0, 0);
  setxcr(v1, "set_xcrs xcr 1 then xcr0 7", 2, 0, 1, 0, 0);
  setxcr(v1, "set_xcrs reserved 5", 1, 0, 0, 5, 1);
  getxcr(v1, "  xcrs");

  /* With the supported CPUID: guest_supported_xcr0, and the XSAVE sizes in leaf 0xD. */
  cb.c.nent = 256;
  ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cb);
  res("set_cpuid2 supported", ioctl(v1, KVM_SET_CPUID2, &cb));
  getx(v1, "  xsave, guest CPUID");
  leafd(v1, "  cpuid xcr0 1");
  static const uint64_t xv2[] = {0, 2, 3, 5, 7, 0x27, 0x47, 0x87, 0x67, 0xe3, 0xe5, 0xe7, 0x1e7, 0x2e7, 0xf};
  for (unsigned i = 0; i < sizeof xv2 / sizeof xv2[0]; i++) {
    char w[64];
    snprintf(w, sizeof w, "set_xcrs %llx", (unsigned long long)xv2[i]);
    setxcr(v1, w, 1, 0, 0, 0, xv2[i]);
    getxcr(v1, "  xcrs");
    leafd(v1, "  cpuid");
  }

  /* INIT keeps XCR0 and the XSAVE state. */
  setxcr(v1, "set_xcrs 7", 1, 0, 0, 0, 7);
  image(7, 0x1f86);
  res("set_xsave bv 7", ioctl(v1, KVM_SET_XSAVE, xs));
  struct kvm_lapic_state ls;
  ioctl(v1, KVM_GET_LAPIC, &ls);
  uint32_t spiv = 0x1ff;
  memcpy(ls.regs + 0xf0, &spiv, 4);
  res("set_lapic SPIV", ioctl(v1, KVM_SET_LAPIC, &ls));
  struct kvm_msi msi = { .address_lo = 0xfee01000, .data = 0x500 };
  res("INIT to vCPU 1", ioctl(vm, KVM_SIGNAL_MSI, &msi));
  struct kvm_mp_state mp;
  res("get_mp_state", ioctl(v1, KVM_GET_MP_STATE, &mp));
  printf("  mp_state %u\n", mp.mp_state);
  getxcr(v1, "  xcrs");
  getx(v1, "  xsave");
  getf(v1, "  fpu");
  getxcr(v0, "vCPU 0 xcrs");

  /*
   * KVM_RUN (immediate_exit: the guest does not run) still loads the fpstate and saves it back: XSAVES
   * drops components left in their init state from xstate_bv.
   */
  struct kvm_run *run = mmap(0, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, v0, 0);
  run->immediate_exit = 1;
  cb.c.nent = 256;
  ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cb);
  res("vCPU 0 set_cpuid2 supported", ioctl(v0, KVM_SET_CPUID2, &cb));
  static const struct { const char *what; int off; uint8_t val; uint64_t bv; } c[] = {
    {"init values, bv e7", -1, 0, 0xe7},
    {"FCW 0x27f", 1, 2, 1},
    {"ST0 byte 0", 32, 1, 1},
    {"ST0 byte 9", 41, 1, 1},
    {"ST7 byte 10 (padding)", 32 + 7 * 16 + 10, 1, 1},
    {"FTW 1", 4, 1, 1},
    {"FSW 1", 2, 1, 1},
    {"FOP 1", 6, 1, 1},
    {"FIP 1", 8, 1, 1},
    {"FDP 1", 16, 1, 1},
    {"MXCSR 0x1f81 under x87 only", 24, 0x81, 1},
    {"MXCSR 0x1f81, SSE", 24, 0x81, 2},
    {"MXCSR_MASK 0, SSE", 28, 0, 2},
    {"XMM15 byte 15", 160 + 255, 1, 2},
    {"MXCSR 0x1f81, AVX only", 24, 0x81, 4},
    {"YMM_Hi128 byte", 0x240, 1, 4},
    {"opmask byte", 0x340, 1, 0xe7},
    {"ZMM_Hi256 last byte", 0x57f, 1, 0xe7},
    {"Hi16_ZMM byte", 0x580, 1, 0xe7},
  };
  for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++) {
    memset(xs, 0, sizeof xs);
    xs[0] = 0x7f; xs[1] = 3; xs[24] = 0x80; xs[25] = 0x1f; xs[28] = 0xff; xs[29] = 0xff; xs[30] = 2;
    memcpy(xs + 512, &c[i].bv, 8);
    if (c[i].off >= 0) xs[c[i].off] = c[i].val;
    char w[96];
    snprintf(w, sizeof w, "set_xsave %s", c[i].what);
    res(w, ioctl(v0, KVM_SET_XSAVE, xs));
    res("  run, immediate_exit", ioctl(v0, KVM_RUN, 0));
    getx(v0, "  xsave");
  }
  /* SET_FPU's raw bytes stay behind a clear xstate_bv bit: the CPU loaded init and saved nothing. */
  image(0, 0x1f80);
  res("set_xsave bv 0", ioctl(v0, KVM_SET_XSAVE, xs));
  memset(&f, 0, sizeof f);
  f.fcw = 0x27f; f.fsw = 0x80; f.last_opcode = 0x55; f.last_ip = 0x1234; f.last_dp = 0x5678; f.fpr[0][0] = 1; f.xmm[0][0] = 7;
  res("set_fpu", ioctl(v0, KVM_SET_FPU, &f));
  res("  run, immediate_exit", ioctl(v0, KVM_RUN, 0));
  getf(v0, "  fpu");
  getx(v0, "  xsave");
  /* XSAVES stores the CPU's own MXCSR_MASK with SSE or AVX state: the image's 0x34 does not survive. */
  image(2, 0x1f80);
  res("set_xsave bv 2, MXCSR_MASK 0x34", ioctl(v0, KVM_SET_XSAVE, xs));
  getx(v0, "  xsave");
  res("  run, immediate_exit", ioctl(v0, KVM_RUN, 0));
  getx(v0, "  xsave");
  image(4, 0x1f80);
  res("set_xsave bv 4, MXCSR_MASK 0x34", ioctl(v0, KVM_SET_XSAVE, xs));
  res("  run, immediate_exit", ioctl(v0, KVM_RUN, 0));
  getx(v0, "  xsave");
  return 0;
}
