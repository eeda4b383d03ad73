// examples/msix-kernel-table.ts: the passthrough of examples/msix-passthrough.ts with the proposed
// in-kernel MSI-X table. Same guest, same device raises, same result for the guest; the VMM sees no
// table access at all, never toggles an irqfd and never injects a message itself.
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/host.js';
import * as K from '../../include-ts/linux/kvm.js';
import { msixKernelTable, MsixKernelTableVmm } from '../../examples/msix-kernel-table.js';
import { msixPassthrough, MsixPassthroughVmm, NIC_BDF } from '../../examples/msix-passthrough.js';

describe('examples/msix-kernel-table', () => {
  it('gives the guest what the userspace table gives it, with the table in the kernel', () => {
    const raises = [0, 2, 3, 3];
    const user = msixPassthrough(() => {}, undefined, raises);
    const kern = msixKernelTable(() => {}, undefined, raises);
    expect(kern.counts.deviceSent).toEqual(user.counts.deviceSent);
    expect([...kern.counts.guestHandled]).toEqual([...user.counts.guestHandled]);
    expect([0x50, 0x51, 0x52, 0x53].map((v) => kern.counts.guestHandled.get(v) ?? 0)).toEqual([1, 0, 1, 1]);
    // The userspace table needed its PBA, irqfd toggling and KVM_SIGNAL_MSI; the kernel table none of it.
    expect(user.counts.pbaDeliveries).toBe(1);
    expect(kern.counts).toMatchObject({ pbaDeliveries: 0, irqfdAssigns: 4, irqfdDeassigns: 0 });
    expect(kern.lines.filter((l) => l.startsWith('ioctl(') && (l.includes('KVM_IRQFD_FLAG_DEASSIGN') || l.includes('KVM_SIGNAL_MSI')))).toEqual([]);
    // Two KVM_EXIT_MSIX_ENTRY_UPDATED per entry programmed (address low, data; address high stays 0).
    expect(kern.updateExits).toBe(8);
    expect(kern.lines.some((l) => l.includes('KVM_DEFINE_MSIX_TABLE') && l.endsWith('= 0'))).toBe(true);
  });

  it('the guest\'s table and PBA accesses never leave KVM_RUN; the masked entry\'s raises wait in the kernel\'s PBA', () => {
    const host = Host.create();
    const vmm = new MsixKernelTableVmm(host, 4);
    vmm.load(MsixPassthroughVmm.driver([0x50, 0x51, 0x52, 0x53], [3]));
    vmm.runUntilIdle();
    host.control.pci.ring(3, NIC_BDF);
    host.control.pci.ring(3, NIC_BDF);
    vmm.runUntilIdle();
    expect(vmm.entry(3)).toEqual({ masked: true, pending: true });
    // The physical vector was never masked: the message reached the eventfd, the kernel table held it.
    expect(host.control.irq.pba(NIC_BDF)).toEqual([]);
    vmm.load(MsixPassthroughVmm.driver([0x50, 0x51, 0x52, 0x53]));
    vmm.runUntilIdle();
    expect(vmm.entry(3)).toEqual({ masked: false, pending: false });
    const cpu = host.control.kvm.vcpu(vmm.qemu, vmm.vcpu);
    expect(cpu.handled(0x53)).toBe(1);
    expect(cpu.exits(K.KVM_EXIT_MMIO)).toBe(0);
  });
});
