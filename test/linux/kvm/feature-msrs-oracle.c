/*
 * The real-kernel half of test/linux/kvm/feature-msrs.test.ts: MSR-based features on this machine's
 * /dev/kvm (arch/x86/kvm/x86.c: KVM_CAP_GET_MSR_FEATURES, KVM_GET_MSR_FEATURE_INDEX_LIST and
 * KVM_GET_MSRS on the system fd, kvm_get_feature_msr). One line per call.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

static void res(const char *w, long r) { if (r < 0) printf("%s: E%d\n", w, errno); else printf("%s: %ld\n", w, r); }

static struct { struct kvm_msrs h; struct kvm_msr_entry e[8]; } m;

static void get(int fd, const char *w, int n, const unsigned *idx) {
  m.h.nmsrs = n;
  for (int i = 0; i < n && i < 8; i++) { m.e[i].index = idx[i]; m.e[i].data = 0xeeeeeeeeeeeeeeeeull; }
  long r = ioctl(fd, KVM_GET_MSRS, &m);
  printf("%s: ", w);
  if (r < 0) { printf("E%d\n", errno); return; }
  printf("%ld", r);
  for (int i = 0; i < n && i < 8; i++) printf(" %x=%llx", m.e[i].index, (unsigned long long)m.e[i].data);
  printf("\n");
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  int kvm = open("/dev/kvm", O_RDWR);
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  res("cap GET_MSR_FEATURES", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES));
  res("vm cap GET_MSR_FEATURES", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES));
  struct kvm_msr_list *l = malloc(sizeof *l + 4 * 64);
  l->nmsrs = 0;
  res("list, room 0", ioctl(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST, l));
  printf("nmsrs written: %u\n", l->nmsrs);
  l->nmsrs = 64;
  res("list", ioctl(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST, l));
  printf("indices:");
  for (unsigned i = 0; i < l->nmsrs; i++) printf(" %x", l->indices[i]);
  printf("\n");
  res("list on the VM fd", ioctl(vm, KVM_GET_MSR_FEATURE_INDEX_LIST, l));
  get(kvm, "get every feature MSR", l->nmsrs, l->indices);
  static const unsigned arch[] = { 0x10a };
  get(kvm, "get ARCH_CAPABILITIES", 1, arch);
  static const unsigned none[] = { 0 };
  get(kvm, "get none", 0, none);
  m.h.nmsrs = 256;
  res("get 256 entries", ioctl(kvm, KVM_GET_MSRS, &m));
  static const unsigned mixed[] = { 0x8b, 0x10, 0x10a };
  get(kvm, "get UCODE_REV, TSC, ARCH_CAPABILITIES", 3, mixed);
  res("set on /dev/kvm", ioctl(kvm, KVM_SET_MSRS, &m));
  return 0;
}
