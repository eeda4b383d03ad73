/*
 * The real-kernel half of test/linux/kvm/kvm-vfio.test.ts: KVM_CREATE_DEVICE and the kvm-vfio device
 * (virt/kvm/kvm_main.c kvm_ioctl_create_device, kvm_device_ioctl; virt/kvm/vfio.c) on this machine's
 * /dev/kvm, with no VFIO file at all: creation and KVM_CREATE_DEVICE_TEST, unknown types, the device
 * fd's flags and name, the attribute ioctls and their errnos for fds that are not VFIO files, a second
 * device, closing order, and an fd table with no slot left. One result line per call.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#ifndef KVM_DEV_VFIO_FILE
#define KVM_DEV_VFIO_FILE 1
#define KVM_DEV_VFIO_FILE_ADD 1
#define KVM_DEV_VFIO_FILE_DEL 2
#endif
static int kvm, vm;
static void res(const char *w, long r) { if (r < 0) printf("%s: E%d\n", w, errno); else printf("%s: %ld\n", w, r); }
static long create(uint32_t type, uint32_t flags, uint32_t *fdout) {
  struct kvm_create_device cd = { .type = type, .fd = 77777, .flags = flags };
  long r = ioctl(vm, KVM_CREATE_DEVICE, &cd);
  if (fdout) *fdout = cd.fd;
  return r;
}
static void createLine(const char *w, uint32_t type, uint32_t flags) {
  uint32_t fd;
  long r = create(type, flags, &fd);
  if (r < 0) printf("%s: E%d\n", w, errno);
  else printf("%s: %ld fd=%s\n", w, r, fd == 77777 ? "unchanged" : "new");
}
static void attr(const char *w, int dev, unsigned long req, uint32_t group, uint64_t a, void *addr) {
  struct kvm_device_attr at = { .flags = 0, .group = group, .attr = a, .addr = (uint64_t)(uintptr_t)addr };
  res(w, ioctl(dev, req, &at));
}
static void fdAttr(const char *w, int dev, uint64_t a, int32_t fd) {
  int32_t v = fd;
  attr(w, dev, KVM_SET_DEVICE_ATTR, KVM_DEV_VFIO_FILE, a, &v);
}
static void name(const char *w, int fd) {
  char p[64], l[128];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(p, l, sizeof l - 1);
  if (n < 0) n = 0;
  l[n] = 0;
  printf("%s: %s\n", w, l);
}
int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  kvm = open("/dev/kvm", O_RDWR);
  res("kvm cap DEVICE_CTRL", ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_DEVICE_CTRL));
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  printf("create VM: %s\n", vm >= 0 ? "fd" : "failed");
  res("vm cap DEVICE_CTRL", ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_DEVICE_CTRL));
  createLine("test VFIO", KVM_DEV_TYPE_VFIO, KVM_CREATE_DEVICE_TEST);
  createLine("test 0", 0, KVM_CREATE_DEVICE_TEST);
  createLine("test FSL_MPIC_20", KVM_DEV_TYPE_FSL_MPIC_20, KVM_CREATE_DEVICE_TEST);
  createLine("test XICS", KVM_DEV_TYPE_XICS, KVM_CREATE_DEVICE_TEST);
  createLine("test ARM_VGIC_V2", KVM_DEV_TYPE_ARM_VGIC_V2, KVM_CREATE_DEVICE_TEST);
  createLine("test ARM_PV_TIME", KVM_DEV_TYPE_ARM_PV_TIME, KVM_CREATE_DEVICE_TEST);
  createLine("test 11", 11, KVM_CREATE_DEVICE_TEST);
  createLine("test 12", 12, KVM_CREATE_DEVICE_TEST);
  createLine("test 0xffffffff", 0xffffffff, KVM_CREATE_DEVICE_TEST);
  createLine("create 0", 0, 0);
  createLine("create XICS", KVM_DEV_TYPE_XICS, 0);
  createLine("create 12", 12, 0);
  res("create NULL", ioctl(vm, KVM_CREATE_DEVICE, 0));
  /* Flags other than KVM_CREATE_DEVICE_TEST are not checked. */
  uint32_t dfd;
  long r = create(KVM_DEV_TYPE_VFIO, 0xfffffffe, &dfd);
  printf("create VFIO flags 0xfffffffe: %s\n", r == 0 ? "fd" : "failed");
  int dev = (int)dfd;
  name("device fd name", dev);
  res("device F_GETFL & ~O_LARGEFILE", fcntl(dev, F_GETFL) & ~0100000);
  res("device F_GETFD", fcntl(dev, F_GETFD));
  createLine("second VFIO", KVM_DEV_TYPE_VFIO, 0);
  createLine("second VFIO test", KVM_DEV_TYPE_VFIO, KVM_CREATE_DEVICE_TEST);
  /* KVM_HAS_DEVICE_ATTR */
  attr("has FILE ADD", dev, KVM_HAS_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, 0);
  attr("has FILE DEL", dev, KVM_HAS_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_DEL, 0);
  attr("has SET_SPAPR_TCE", dev, KVM_HAS_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, 0);
  attr("has FILE attr 0", dev, KVM_HAS_DEVICE_ATTR, KVM_DEV_VFIO_FILE, 0, 0);
  attr("has FILE attr 1<<32|1", dev, KVM_HAS_DEVICE_ATTR, KVM_DEV_VFIO_FILE, (1ull << 32) | 1, 0);
  attr("has group 0", dev, KVM_HAS_DEVICE_ATTR, 0, KVM_DEV_VFIO_FILE_ADD, 0);
  attr("has group 2", dev, KVM_HAS_DEVICE_ATTR, 2, KVM_DEV_VFIO_FILE_ADD, 0);
  res("has NULL", ioctl(dev, KVM_HAS_DEVICE_ATTR, 0));
  /* KVM_GET_DEVICE_ATTR: kvm-vfio has no get_attr. */
  attr("get FILE ADD", dev, KVM_GET_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, 0);
  res("get NULL", ioctl(dev, KVM_GET_DEVICE_ATTR, 0));
  /* KVM_SET_DEVICE_ATTR */
  res("set NULL", ioctl(dev, KVM_SET_DEVICE_ATTR, 0));
  attr("set ADD addr NULL", dev, KVM_SET_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, 0);
  attr("set DEL addr NULL", dev, KVM_SET_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_DEL, 0);
  fdAttr("set ADD fd -1", dev, KVM_DEV_VFIO_FILE_ADD, -1);
  fdAttr("set ADD fd 999", dev, KVM_DEV_VFIO_FILE_ADD, 999);
  fdAttr("set ADD /dev/kvm", dev, KVM_DEV_VFIO_FILE_ADD, kvm);
  fdAttr("set ADD VM fd", dev, KVM_DEV_VFIO_FILE_ADD, vm);
  fdAttr("set ADD the device itself", dev, KVM_DEV_VFIO_FILE_ADD, dev);
  int efd = eventfd(0, 0);
  fdAttr("set ADD eventfd", dev, KVM_DEV_VFIO_FILE_ADD, efd);
  fdAttr("set DEL fd -1", dev, KVM_DEV_VFIO_FILE_DEL, -1);
  fdAttr("set DEL eventfd", dev, KVM_DEV_VFIO_FILE_DEL, efd);
  fdAttr("set DEL /dev/kvm", dev, KVM_DEV_VFIO_FILE_DEL, kvm);
  fdAttr("set SET_SPAPR_TCE", dev, KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, efd);
  fdAttr("set FILE attr 0", dev, 0, efd);
  fdAttr("set FILE attr 1<<32|1", dev, (1ull << 32) | 1, efd);
  int32_t v = efd;
  attr("set group 0", dev, KVM_SET_DEVICE_ATTR, 0, KVM_DEV_VFIO_FILE_ADD, &v);
  attr("set group 2", dev, KVM_SET_DEVICE_ATTR, 2, KVM_DEV_VFIO_FILE_ADD, &v);
  /* A fd value that is only valid as an int (the kernel reads an int32_t). */
  uint64_t big = ((uint64_t)0xffffffff << 32) | (uint32_t)efd;
  attr("set ADD eventfd, high word set", dev, KVM_SET_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, &big);
  /* Other ioctls, read, write, mmap on the device fd. */
  res("device KVM_CHECK_EXTENSION", ioctl(dev, KVM_CHECK_EXTENSION, KVM_CAP_DEVICE_CTRL));
  res("device KVM_CREATE_VCPU", ioctl(dev, KVM_CREATE_VCPU, 0));
  res("device KVM_CREATE_DEVICE", ioctl(dev, KVM_CREATE_DEVICE, 0));
  char b[8];
  res("device read", read(dev, b, 8));
  res("device write", write(dev, b, 8));
  void *m = mmap(0, 4096, PROT_READ, MAP_SHARED, dev, 0);
  res("device mmap", m == MAP_FAILED ? -1 : 0);
  /* The VM fd closes; the device keeps the VM (kvm_get_kvm) and still answers. */
  close(vm);
  attr("after VM close: has FILE ADD", dev, KVM_HAS_DEVICE_ATTR, KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, 0);
  fdAttr("after VM close: set DEL eventfd", dev, KVM_DEV_VFIO_FILE_DEL, efd);
  close(dev);
  /* A new VM; the device is released on close, so another can be made. */
  vm = ioctl(kvm, KVM_CREATE_VM, 0);
  r = create(KVM_DEV_TYPE_VFIO, 0, &dfd);
  printf("new VM, create VFIO: %s\n", r == 0 ? "fd" : "failed");
  close(dfd);
  r = create(KVM_DEV_TYPE_VFIO, 0, &dfd);
  printf("after closing it, create VFIO: %s\n", r == 0 ? "fd" : "failed");
  close(dfd);
  /* No fd left: anon_inode_getfd fails after ops->create; the device is undone. */
  int top = dup(kvm);
  close(top);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t cur = rl.rlim_cur;
  rl.rlim_cur = top;
  setrlimit(RLIMIT_NOFILE, &rl);
  createLine("no fd left, create VFIO", KVM_DEV_TYPE_VFIO, 0);
  createLine("no fd left, test VFIO", KVM_DEV_TYPE_VFIO, KVM_CREATE_DEVICE_TEST);
  createLine("no fd left, create 12", 12, 0);
  rl.rlim_cur = cur;
  setrlimit(RLIMIT_NOFILE, &rl);
  r = create(KVM_DEV_TYPE_VFIO, 0, &dfd);
  printf("fd freed, create VFIO: %s\n", r == 0 ? "fd" : "failed");
  return 0;
}
