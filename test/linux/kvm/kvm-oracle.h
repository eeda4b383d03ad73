/*
 * Helpers the KVM oracles share beyond their guests (flat32-guest.h): one counter's value from a binary
 * stats fd (stats, halt-poll), and a one-MSR host KVM_GET/SET_MSRS with its result line (guest-msr, mce).
 */
#ifndef KVM_ORACLE_H
#define KVM_ORACLE_H
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* One counter's value (by name) from the stats fd, as kvm_stats_read() lays it out. */
static __attribute__((unused)) unsigned long long kvm_stat(int sfd, const char *name) {
  struct kvm_stats_header h;
  pread(sfd, &h, sizeof h, 0);
  size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;
  char *d = malloc(dsz * h.num_desc);
  pread(sfd, d, dsz * h.num_desc, h.desc_offset);
  unsigned long long v = ~0ull;
  for (unsigned i = 0; i < h.num_desc; i++) {
    struct kvm_stats_desc *x = (void *)(d + i * dsz);
    if (!strcmp(x->name, name)) pread(sfd, &v, 8, h.data_offset + x->offset);
  }
  free(d);
  return v;
}

/* KVM_SET_MSRS or KVM_GET_MSRS of one MSR on `fd`; prints "what: <count> <data>" or "what: E<errno>". */
static __attribute__((unused)) void kvm_hostmsr(int fd, const char *what, int set, uint32_t index, uint64_t data) {
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m;
  memset(&m, 0, sizeof m);
  m.h.nmsrs = 1;
  m.e.index = index;
  m.e.data = data;
  long r = ioctl(fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &m);
  if (r < 0) printf("%s: E%d\n", what, errno);
  else printf("%s: %ld %llx\n", what, r, (unsigned long long)m.e.data);
}
#endif
