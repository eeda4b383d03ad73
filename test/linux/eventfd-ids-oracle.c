// eventfd ids (fs/eventfd.c: ida_alloc() on the global eventfd_ida, ida_free() in eventfd_free_ctx() when
// the last eventfd_ctx reference goes). Ids are global on the host, so this prints only relations
// between the ids one sequence sees (reused or not, which of two), never the numbers. Other processes
// creating and closing eventfds meanwhile can only make a "reused" or "lowest first" relation fail (they
// take the freed id, or free a lower one), never make it hold: each step is retried until it shows the
// undisturbed result, and what its last attempt saw is printed.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static char out[4096];
static size_t len;
static int undisturbed;

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  len += vsnprintf(out + len, sizeof out - len, fmt, ap);
  va_end(ap);
}

/** A relation line; `want` is what an undisturbed run shows. */
static void rel(const char *label, int v, int want) {
  say("%s: %d\n", label, v);
  if (v != want) undisturbed = 0;
}

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

static int kvm;

static int vm_with_irqchip(void) {
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) { perror("vm"); exit(1); }
  return vm;
}

static int irqfd(int vm, int fd, unsigned gsi, unsigned flags, int rs) {
  struct kvm_irqfd a = { .fd = fd, .gsi = gsi, .flags = flags, .resamplefd = rs };
  return ioctl(vm, KVM_IRQFD, &a);
}

// 1. close frees the id; the next eventfd takes it.
static void close_reuses(void) {
  int a = mk(), ia = id_of(a);
  close(a);
  int b = mk();
  rel("after close, the id is reused", id_of(b) == ia, 1);
  close(b);
}

// 2. lowest free first: of two freed ids the lower is taken first.
static void lowest_first(void) {
  int x = mk(), y = mk(), z = mk(), ix = id_of(x), iy = id_of(y);
  rel("ids increase", ix < iy && iy < id_of(z), 1);
  close(y);
  close(x);
  int n1 = mk(), n2 = mk();
  say("lowest first: %d %d\n", id_of(n1) == ix, id_of(n2) == iy);
  if (id_of(n1) != ix || id_of(n2) != iy) undisturbed = 0;
  close(n1);
  close(n2);
  close(z);
}

// 3. a dup keeps the file, so the id, alive.
static void dup_holds(void) {
  int a = mk(), ia = id_of(a);
  int d = dup(a);
  close(a);
  int b = mk();
  rel("dup holds the id", id_of(b) != ia, 1);
  close(b);
  close(d);
  b = mk();
  rel("after the dup closes, reused", id_of(b) == ia, 1);
  close(b);
}

// 4. closing an irqfd's eventfd: EPOLLHUP queues the irqfd's shutdown work, whose eventfd_ctx_put()
// frees the id soon after (when exactly is the workqueue's business: wait for it).
static void irqfd_close(void) {
  int vm = vm_with_irqchip();
  int a = mk(), ia = id_of(a);
  rel("irqfd assign", irqfd(vm, a, 5, 0, 0), 0);
  close(a);
  usleep(100000);
  int b = mk();
  rel("after close and the shutdown work, reused", id_of(b) == ia, 1);
  close(b);
  close(vm);
}

// 5. deassign drops the irqfd's reference (kvm_irqfd_deassign waits for the shutdown work).
static void irqfd_deassign(void) {
  int vm = vm_with_irqchip();
  int a = mk(), ia = id_of(a);
  irqfd(vm, a, 5, 0, 0);
  rel("irqfd deassign", irqfd(vm, a, 5, KVM_IRQFD_FLAG_DEASSIGN, 0), 0);
  close(a);
  int b = mk();
  rel("after deassign and close, reused", id_of(b) == ia, 1);
  close(b);
  close(vm);
}

// 6. a resamplefd is held until the irqfd goes (here with the VM fd: kvm_irqfd_release).
static void resamplefd(void) {
  int vm = vm_with_irqchip();
  int a = mk();
  int rs = mk(), irs = id_of(rs);
  rel("resample assign", irqfd(vm, a, 10, KVM_IRQFD_FLAG_RESAMPLE, rs), 0);
  close(rs);
  int b = mk();
  rel("irqfd holds the resamplefd id", id_of(b) != irs, 1);
  close(b);
  close(vm);
  b = mk();
  rel("after the VM fd closes, the resamplefd id is reused", id_of(b) == irs, 1);
  close(b);
  close(a);
}

// 7. an ioeventfd holds its eventfd until deassigned or the VM is destroyed.
static void ioeventfd(void) {
  int vm = vm_with_irqchip();
  int a = mk(), ia = id_of(a);
  struct kvm_ioeventfd io = { .addr = 0x1234, .len = 1, .fd = a, .flags = KVM_IOEVENTFD_FLAG_PIO };
  rel("ioeventfd assign", ioctl(vm, KVM_IOEVENTFD, &io), 0);
  close(a);
  int b = mk();
  rel("ioeventfd holds the id", id_of(b) != ia, 1);
  close(b);
  close(vm);
  b = mk();
  rel("after the VM is destroyed, reused", id_of(b) == ia, 1);
  close(b);
}

static void step(void (*f)(void)) {
  for (int attempt = 0; attempt < 20; attempt++) {
    len = 0;
    undisturbed = 1;
    f();
    if (undisturbed) break;
    usleep(20000 * (attempt + 1));
  }
  fputs(out, stdout);
}

int main(void) {
  kvm = open("/dev/kvm", O_RDWR);
  if (kvm < 0) { perror("/dev/kvm"); return 1; }
  step(close_reuses);
  step(lowest_first);
  step(dup_holds);
  step(irqfd_close);
  step(irqfd_deassign);
  step(resamplefd);
  step(ioeventfd);
  return 0;
}
