// examples/intx-passthrough.ts and examples/msix-passthrough.ts: the edu device's INTx and the NIC's
// MSI-X end to end through VFIO and KVM into a guest (issue 5, item 6).
import { describe, expect, it } from 'vitest';
import { intxPassthrough } from '../../examples/intx-passthrough.js';
import { msixPassthrough } from '../../examples/msix-passthrough.js';

describe('examples/intx-passthrough', () => {
  it('resample mode: every stage counts each of the guest\'s cycles once; QEMU\'s vfio_intx_enable_kvm sequence', () => {
    const r = intxPassthrough(() => {}, 'resample', 4);
    expect(r.guest).toEqual({ cycles: 4, handled: 4, spurious: 0 });
    expect(r.counts).toEqual({ deviceAsserts: 4, hostIrqs: 4, triggerSignals: 4, irqfdInjections: 4, guestHandled: 4, eois: 4, unmasks: 4 });
    const calls = r.lines.filter((l) => /VFIO_DEVICE_SET_IRQS|KVM_IRQFD/.test(l) && !l.startsWith('#'));
    expect(calls.map((l) => l.replace(/\(\d+, /, '(fd, '))).toEqual([
      'ioctl(fd, VFIO_DEVICE_SET_IRQS, {argsz=24, flags=VFIO_IRQ_SET_DATA_EVENTFD|VFIO_IRQ_SET_ACTION_TRIGGER, index=VFIO_PCI_INTX_IRQ_INDEX, start=0, count=1, data=[10]}) = 0',
      'ioctl(fd, VFIO_DEVICE_SET_IRQS, {argsz=20, flags=VFIO_IRQ_SET_DATA_NONE|VFIO_IRQ_SET_ACTION_MASK, index=VFIO_PCI_INTX_IRQ_INDEX, start=0, count=1}) = 0',
      'ioctl(fd, KVM_IRQFD, {fd=10, gsi=16, flags=KVM_IRQFD_FLAG_RESAMPLE, resamplefd=11}) = 0',
      'ioctl(fd, VFIO_DEVICE_SET_IRQS, {argsz=24, flags=VFIO_IRQ_SET_DATA_EVENTFD|VFIO_IRQ_SET_ACTION_UNMASK, index=VFIO_PCI_INTX_IRQ_INDEX, start=0, count=1, data=[11]}) = 0',
      'ioctl(fd, VFIO_DEVICE_SET_IRQS, {argsz=20, flags=VFIO_IRQ_SET_DATA_NONE|VFIO_IRQ_SET_ACTION_UNMASK, index=VFIO_PCI_INTX_IRQ_INDEX, start=0, count=1}) = 0',
    ]);
    expect(r.lines.some((l) => l.startsWith('--- irq resample'))).toBe(true);
  });

  it('QEMU\'s vfio_kvm_device_add_fd: the kvm-vfio device is created and told the group before the device fd is opened (hw/vfio/container.c vfio_get_group)', () => {
    const r = intxPassthrough(() => {}, 'resample', 1);
    const i = (re: RegExp) => r.lines.findIndex((l) => re.test(l));
    const create = i(/^ioctl\(\d+, KVM_CREATE_DEVICE, 0x[0-9a-f]+\) = 0$/);
    const add = i(/^ioctl\(\d+, KVM_SET_DEVICE_ATTR, 0x[0-9a-f]+\) = 0$/);
    expect(create).toBeGreaterThan(i(/VFIO_SET_IOMMU/));
    expect(add).toBe(create + 1);
    expect(i(/VFIO_GROUP_GET_DEVICE_FD/)).toBe(add + 1);
  });

  it('eoi-exit mode: the VMM unmasks on each KVM_EXIT_IOAPIC_EOI; same counts', () => {
    const r = intxPassthrough(() => {}, 'eoi-exit', 3);
    expect(r.guest).toEqual({ cycles: 3, handled: 3, spurious: 0 });
    expect(r.counts).toMatchObject({ deviceAsserts: 3, hostIrqs: 3, guestHandled: 3, eois: 3, unmasks: 3 });
    expect(r.lines.filter((l) => l.includes('VFIO_IRQ_SET_ACTION_UNMASK'))).toHaveLength(3);
  });
});

describe('examples/msix-passthrough', () => {
  it('unmasked vectors go through irqfds; a masked one waits in the VMM\'s PBA and is delivered once on unmask', () => {
    const r = msixPassthrough(() => {}, undefined, [0, 2, 3, 3]);
    expect(r.counts.deviceSent).toEqual([1, 0, 1, 2]);
    expect([0x50, 0x51, 0x52, 0x53].map((v) => r.counts.guestHandled.get(v) ?? 0)).toEqual([1, 0, 1, 1]);
    expect(r.counts.pbaDeliveries).toBe(1);
    expect(r.lines.some((l) => l.startsWith('ioctl(') && l.includes('KVM_IRQFD') && l.includes('KVM_IRQFD_FLAG_DEASSIGN'))).toBe(true);
  });
});
