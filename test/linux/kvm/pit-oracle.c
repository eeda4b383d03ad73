/*
 * The real-kernel half of test/linux/kvm/pit.test.ts: a fixed sequence of the in-kernel PIT ioctls
 * (arch/x86/kvm/x86.c, i8254.c) on this machine's /dev/kvm, one line per call. Results print as a
 * number or E<errno>; a kvm_pit_state(2) prints channel by channel, every field but count_load_time
 * (a host ktime, not comparable), then flags and whether reserved is all zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

static struct kvm_pit_state2 ps2;
static struct kvm_pit_state ps;

static void res(const char *what, long r) {
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld\n", what, r);
}

static void chans(const struct kvm_pit_channel_state *c) {
  for (int i = 0; i < 3; i++)
    printf(" ch%d=%x/%x/%x/%x/%x/%x/%x/%x/%x/%x/%x/%x", i, c[i].count, c[i].latched_count, c[i].count_latched,
           c[i].status_latched, c[i].status, c[i].read_state, c[i].write_state, c[i].write_latch, c[i].rw_mode,
           c[i].mode, c[i].bcd, c[i].gate);
}

static void get2(int vm, const char *what) {
  memset(&ps2, 0xaa, sizeof ps2);
  long r = ioctl(vm, KVM_GET_PIT2, &ps2);
  if (r < 0) { res(what, r); return; }
  int rz = 1;
  for (int i = 0; i < 9; i++) if (ps2.reserved[i]) rz = 0;
  printf("%s:", what);
  chans(ps2.channels);
  printf(" flags=%x reserved0=%d\n", ps2.flags, rz);
}

static void get1(int vm, const char *what) {
  memset(&ps, 0xaa, sizeof ps);
  long r = ioctl(vm, KVM_GET_PIT, &ps);
  if (r < 0) { res(what, r); return; }
  printf("%s:", what);
  chans(ps.channels);
  printf("\n");
}

/* A channel state with recognisable values in every field. */
static void fill(struct kvm_pit_channel_state *c, int i, uint32_t count, uint8_t mode) {
  memset(c, 0, sizeof *c);
  c->count = count;
  c->latched_count = 0x1111 * (i + 1);
  c->count_latched = 3;
  c->status_latched = 1;
  c->status = 0x36 + i;
  c->read_state = 3;
  c->write_state = 4;
  c->write_latch = 0x5a;
  c->rw_mode = 3;
  c->mode = mode;
  c->bcd = 0;
  c->gate = i != 2;
  c->count_load_time = 12345;
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  res("cap PIT", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_PIT));
  res("cap PIT2", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_PIT2));
  res("cap PIT_STATE2", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_PIT_STATE2));
  res("cap REINJECT_CONTROL", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_REINJECT_CONTROL));

  /* A VM without a PIT: every PIT ioctl; NULL arguments show whether the copy or the check comes first. */
  int a = ioctl(kvm, KVM_CREATE_VM, 0);
  res("vm cap PIT2", ioctl(a, KVM_CHECK_EXTENSION, KVM_CAP_PIT2));
  get2(a, "nopit GET_PIT2");
  get1(a, "nopit GET_PIT");
  memset(&ps2, 0, sizeof ps2);
  res("nopit SET_PIT2", ioctl(a, KVM_SET_PIT2, &ps2));
  memset(&ps, 0, sizeof ps);
  res("nopit SET_PIT", ioctl(a, KVM_SET_PIT, &ps));
  struct kvm_reinject_control rc;
  memset(&rc, 0, sizeof rc);
  res("nopit REINJECT_CONTROL", ioctl(a, KVM_REINJECT_CONTROL, &rc));
  res("nopit GET_PIT2 NULL", ioctl(a, KVM_GET_PIT2, NULL));
  res("nopit GET_PIT NULL", ioctl(a, KVM_GET_PIT, NULL));
  res("nopit SET_PIT2 NULL", ioctl(a, KVM_SET_PIT2, NULL));
  res("nopit SET_PIT NULL", ioctl(a, KVM_SET_PIT, NULL));
  res("nopit REINJECT_CONTROL NULL", ioctl(a, KVM_REINJECT_CONTROL, NULL));
  res("CREATE_PIT2 NULL", ioctl(a, KVM_CREATE_PIT2, NULL));

  /* Without an irqchip, with unknown flags. */
  struct kvm_pit_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.flags = 0xfffe;
  cfg.pad[3] = 7;
  res("noirqchip CREATE_PIT2 flags=fffe", ioctl(a, KVM_CREATE_PIT2, &cfg));
  cfg.flags = 0;
  res("CREATE_PIT2 again", ioctl(a, KVM_CREATE_PIT2, &cfg));
  res("CREATE_PIT again", ioctl(a, KVM_CREATE_PIT, 0));
  get2(a, "noirqchip GET_PIT2");
  get1(a, "noirqchip GET_PIT");
  res("CREATE_IRQCHIP after PIT", ioctl(a, KVM_CREATE_IRQCHIP, 0));
  res("GET_PIT2 NULL", ioctl(a, KVM_GET_PIT2, NULL));
  res("SET_PIT2 NULL", ioctl(a, KVM_SET_PIT2, NULL));
  res("REINJECT_CONTROL NULL", ioctl(a, KVM_REINJECT_CONTROL, NULL));

  /* Full irqchip, then the legacy KVM_CREATE_PIT (speaker dummy). */
  int b = ioctl(kvm, KVM_CREATE_VM, 0);
  res("CREATE_IRQCHIP", ioctl(b, KVM_CREATE_IRQCHIP, 0));
  res("CREATE_PIT", ioctl(b, KVM_CREATE_PIT, 0));
  get2(b, "fresh GET_PIT2");

  /* SET_PIT2: every field; channel 0 mode 0 (one shot, count 0 = 0x10000), channel 1 mode 3, channel 2 mode 7. */
  memset(&ps2, 0, sizeof ps2);
  fill(&ps2.channels[0], 0, 0, 0);
  fill(&ps2.channels[1], 1, 0x1234, 3);
  fill(&ps2.channels[2], 2, 0x123456, 7);
  ps2.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON | 0xf0;
  ps2.reserved[2] = 9;
  res("SET_PIT2", ioctl(b, KVM_SET_PIT2, &ps2));
  get2(b, "after SET_PIT2");
  get1(b, "after SET_PIT2 GET_PIT");

  /* HPET legacy: the channel 0 timer is not started; flags kept. */
  ps2.flags = KVM_PIT_FLAGS_HPET_LEGACY;
  fill(&ps2.channels[0], 0, 0x8000, 2);
  res("SET_PIT2 hpet", ioctl(b, KVM_SET_PIT2, &ps2));
  get2(b, "after hpet");

  /* SET_PIT keeps the flags. */
  memset(&ps, 0, sizeof ps);
  fill(&ps.channels[0], 0, 0x10, 5);
  fill(&ps.channels[1], 1, 0x20, 1);
  fill(&ps.channels[2], 2, 0x30, 4);
  res("SET_PIT", ioctl(b, KVM_SET_PIT, &ps));
  get2(b, "after SET_PIT");

  /* REINJECT_CONTROL: any byte, reserved ignored. */
  rc.pit_reinject = 0;
  rc.reserved[5] = 1;
  res("REINJECT_CONTROL 0", ioctl(b, KVM_REINJECT_CONTROL, &rc));
  rc.pit_reinject = 2;
  res("REINJECT_CONTROL 2", ioctl(b, KVM_REINJECT_CONTROL, &rc));
  rc.pit_reinject = 1;
  res("REINJECT_CONTROL 1", ioctl(b, KVM_REINJECT_CONTROL, &rc));

  /* Split irqchip. */
  int c = ioctl(kvm, KVM_CREATE_VM, 0);
  struct kvm_enable_cap ec;
  memset(&ec, 0, sizeof ec);
  ec.cap = KVM_CAP_SPLIT_IRQCHIP;
  ec.args[0] = 24;
  res("ENABLE_CAP split", ioctl(c, KVM_ENABLE_CAP, &ec));
  cfg.flags = KVM_PIT_SPEAKER_DUMMY;
  res("split CREATE_PIT2", ioctl(c, KVM_CREATE_PIT2, &cfg));
  get2(c, "split GET_PIT2");

  /* Full irqchip, unknown flags: accepted (only KVM_PIT_SPEAKER_DUMMY is looked at). */
  int d = ioctl(kvm, KVM_CREATE_VM, 0);
  res("CREATE_IRQCHIP", ioctl(d, KVM_CREATE_IRQCHIP, 0));
  cfg.flags = 0xfffe;
  res("CREATE_PIT2 flags=fffe", ioctl(d, KVM_CREATE_PIT2, &cfg));
  res("CREATE_PIT2 again", ioctl(d, KVM_CREATE_PIT2, &cfg));
  res("CREATE_PIT again", ioctl(d, KVM_CREATE_PIT, 0));
  res("CREATE_PIT2 NULL with a PIT", ioctl(d, KVM_CREATE_PIT2, NULL));
  res("GET_PIT2 NULL with a PIT", ioctl(d, KVM_GET_PIT2, NULL));
  res("GET_PIT NULL with a PIT", ioctl(d, KVM_GET_PIT, NULL));
  res("SET_PIT2 NULL with a PIT", ioctl(d, KVM_SET_PIT2, NULL));
  get2(d, "flags=fffe GET_PIT2");
  return 0;
}
