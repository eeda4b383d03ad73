// The comparison the proposal's results table reports (bench/msix-table.ts), as exact counts: the
// same guest (Linux's mask + flushing read + unmask around every interrupt, seed 004) and device,
// with the MSI-X table emulated in userspace the way QEMU's hw/pci/msix.c does (every table access a
// KVM_EXIT_MMIO; vector notifiers release/use the irqfd on mask/unmask; pending messages sent with
// KVM_SIGNAL_MSI) and with the proposed in-kernel table; then the same on VFIO passthrough of the NIC
// with examples/msix-passthrough.ts and examples/msix-kernel-table.ts.
import { describe, expect, it } from 'vitest';
import { measure, measureVfio } from '../../../../bench/msix-table.js';

const N = 50;

describe('userspace-emulated vs in-kernel MSI-X table on the same workload', () => {
  it('mask/unmask per interrupt: userspace pays 3 exits and 3 ioctls per cycle (the first interrupt is not pending), the kernel table none', () => {
    const u = measure('userspace', N, true);
    const k = measure('kernel', N, true);
    expect(u.interrupts).toBe(N);
    expect(k.interrupts).toBe(N);
    // mask write, flushing read, unmask write: three KVM_EXIT_MMIO per cycle.
    expect(u.exits).toBe(3 * N);
    // KVM_IRQFD deassign on mask, KVM_IRQFD assign + KVM_SIGNAL_MSI of the pending message on unmask.
    expect(u.ioctls).toBe(3 * N - 1);
    expect(k.exits).toBe(0);
    expect(k.ioctls).toBe(0);
    // One KVM_RUN carried all N interrupts (it returned only when the device went quiet).
    expect(k.syscalls).toBe(1);
  });

  it('without masking, both deliver straight from the irqfd: no exits, no ioctls', () => {
    for (const mode of ['userspace', 'kernel'] as const) {
      const c = measure(mode, N, false);
      expect(c).toMatchObject({ interrupts: N, exits: 0, ioctls: 0, syscalls: 1 });
    }
  });

  it('VFIO passthrough of the NIC (the two example VMMs): userspace pays 3 exits and 5 ioctls per cycle, the kernel table none', () => {
    const u = measureVfio('userspace', N);
    const k = measureVfio('kernel', N);
    expect(u.interrupts).toBe(N);
    expect(k.interrupts).toBe(N);
    expect(u.exits).toBe(3 * N);
    // mask: KVM_IRQFD deassign + KVM_SET_GSI_ROUTING (route dropped); unmask: KVM_SET_GSI_ROUTING,
    // KVM_SIGNAL_MSI of the pending message, KVM_IRQFD assign (the first interrupt is not pending).
    expect(u.ioctls).toBe(5 * N - 1);
    expect(k).toMatchObject({ exits: 0, ioctls: 0 });
  });
});
