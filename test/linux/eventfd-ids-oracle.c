// eventfd ids (fs/eventfd.c: ida_alloc() on the global eventfd_ida, ida_free() in eventfd_free_ctx() when
// the last eventfd_ctx reference goes). Ids are global on the host, so this prints only relations
// between the ids one sequence sees (reused or not, which of two), never the numbers.
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int id_of(int fd) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  int f = open(path, O_RDONLY);
  ssize_t n = read(f, buf, sizeof buf - 1);
  close(f);
  buf[n > 0 ? n : 0] = 0;
  char *p = strstr(buf, "eventfd-id: ");
  return p ? atoi(p + 12) : -1;
}

static int mk(void) { return eventfd(0, 0); }

static int vm_with_irqchip(int kvm) {
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) { perror("vm"); exit(1); }
  return vm;
}

static int irqfd(int vm, int fd, unsigned gsi, unsigned flags, int rs) {
  struct kvm_irqfd a = { .fd = fd, .gsi = gsi, .flags = flags, .resamplefd = rs };
  return ioctl(vm, KVM_IRQFD, &a);
}

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR);
  if (kvm < 0) { perror("/dev/kvm"); return 1; }

  // 1. close frees the id; the next eventfd takes it.
  int a = mk(), ia = id_of(a);
  close(a);
  int b = mk();
  printf("after close, the id is reused: %d\n", id_of(b) == ia);
  close(b);

  // 2. lowest free first: of two freed ids the lower is taken first.
  int x = mk(), y = mk(), z = mk(), ix = id_of(x), iy = id_of(y);
  printf("ids increase: %d\n", ix < iy && iy < id_of(z));
  close(y);
  close(x);
  int n1 = mk(), n2 = mk();
  printf("lowest first: %d %d\n", id_of(n1) == ix, id_of(n2) == iy);
  close(n1); close(n2); close(z);

  // 3. a dup keeps the file, so the id, alive.
  a = mk(); ia = id_of(a);
  int d = dup(a);
  close(a);
  b = mk();
  printf("dup holds the id: %d\n", id_of(b) != ia);
  close(b);
  close(d);
  b = mk();
  printf("after the dup closes, reused: %d\n", id_of(b) == ia);
  close(b);

  // 4. closing an irqfd's eventfd: EPOLLHUP queues the irqfd's shutdown work, whose eventfd_ctx_put()
  // frees the id soon after (when exactly is the workqueue's business: wait for it).
  int vm = vm_with_irqchip(kvm);
  a = mk(); ia = id_of(a);
  printf("irqfd assign: %d\n", irqfd(vm, a, 5, 0, 0));
  close(a);
  usleep(200000);
  b = mk();
  printf("after close and the shutdown work, reused: %d\n", id_of(b) == ia);
  close(b);
  close(vm);

  // 5. deassign drops the irqfd's reference (kvm_irqfd_deassign waits for the shutdown work).
  vm = vm_with_irqchip(kvm);
  a = mk(); ia = id_of(a);
  irqfd(vm, a, 5, 0, 0);
  printf("irqfd deassign: %d\n", irqfd(vm, a, 5, KVM_IRQFD_FLAG_DEASSIGN, 0));
  close(a);
  b = mk();
  printf("after deassign and close, reused: %d\n", id_of(b) == ia);
  close(b);

  // 6. a resamplefd is held the same way.
  a = mk();
  int rs = mk(), irs = id_of(rs);
  printf("resample assign: %d\n", irqfd(vm, a, 10, KVM_IRQFD_FLAG_RESAMPLE, rs));
  close(rs);
  b = mk();
  printf("irqfd holds the resamplefd id: %d\n", id_of(b) != irs);
  close(b);
  close(vm);
  b = mk();
  printf("after the VM fd closes, the resamplefd id is reused: %d\n", id_of(b) == irs);
  close(b);
  close(a);

  // 7. an ioeventfd holds its eventfd until deassigned or the VM is destroyed.
  vm = vm_with_irqchip(kvm);
  a = mk(); ia = id_of(a);
  struct kvm_ioeventfd io = { .addr = 0x1234, .len = 1, .fd = a, .flags = KVM_IOEVENTFD_FLAG_PIO };
  printf("ioeventfd assign: %d\n", ioctl(vm, KVM_IOEVENTFD, &io));
  close(a);
  b = mk();
  printf("ioeventfd holds the id: %d\n", id_of(b) != ia);
  close(b);
  close(vm);
  b = mk();
  printf("after the VM is destroyed, reused: %d\n", id_of(b) == ia);
  close(b);
  return 0;
}
