/*
 * The real-kernel half of test/linux/fs/lseek.test.ts: lseek(2) on one file of each kind the model has
 * (fs/read_write.c and each file type's ->llseek). Every file gets the same eight seeks; a tmpfs file
 * with a hole also SEEK_DATA/SEEK_HOLE across it. One line per file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void seeks(const char *what, int fd) {
  static const long off[] = {5, 0, 0, 0, 0, 0, -1, 100, 0};
  static const int wh[] = {SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE, 5, SEEK_SET, SEEK_CUR, -1};
  printf("%s:", what);
  for (int i = 0; i < 9; i++) {
    long r = lseek(fd, off[i], wh[i]);
    if (r < 0) printf(" E%d", errno); else printf(" %ld", r);
  }
  printf("\n");
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  int kvm = open("/dev/kvm", O_RDWR), vm = ioctl(kvm, KVM_CREATE_VM, 0), vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  int stats = ioctl(vm, KVM_GET_STATS_FD, 0);
  char buf[8];
  read(stats, buf, 8);
  int p[2];
  pipe(p);
  int null = open("/dev/null", O_RDWR);
  write(null, "hello", 5);
  seeks("eventfd", eventfd(0, 0));
  seeks("epoll", epoll_create1(0));
  seeks("pipe", p[0]);
  seeks("/dev/kvm", kvm);
  seeks("vm", vm);
  seeks("vcpu", vcpu);
  seeks("vm stats after an 8-byte read", stats);
  seeks("/dev/null after a write", null);
  seeks("/dev/zero", open("/dev/zero", O_RDONLY));
  seeks("sysfs attribute", open("/sys/bus/pci/devices/0000:00:00.0/vendor", O_RDONLY));
  seeks("procfs file", open("/proc/self/limits", O_RDONLY));
  seeks("devtmpfs directory", open("/dev", O_RDONLY | O_DIRECTORY));
  seeks("sysfs directory", open("/sys/bus", O_RDONLY | O_DIRECTORY));
  seeks("procfs directory", open("/proc/self", O_RDONLY | O_DIRECTORY));
  seeks("O_PATH", open("/dev/null", O_PATH));
  seeks("closed fd", 99);
  int t = open("/dev/vks-lseek-oracle", O_RDWR | O_CREAT | O_TRUNC, 0600);
  write(t, "hello", 5);
  pwrite(t, "world", 5, 8192);
  seeks("tmpfs file", t);
  printf("tmpfs holes:");
  static const long hoff[] = {0, 0, 4096, 8192, 8197, 5000, -1};
  static const int hwh[] = {SEEK_DATA, SEEK_HOLE, SEEK_DATA, SEEK_HOLE, SEEK_DATA, SEEK_HOLE, SEEK_END};
  for (int i = 0; i < 7; i++) {
    long r = lseek(t, hoff[i], hwh[i]);
    if (r < 0) printf(" E%d", errno); else printf(" %ld", r);
  }
  printf("\n");
  unlink("/dev/vks-lseek-oracle");
  return 0;
}
