// vfio-pci INTx (drivers/vfio/pci/vfio_pci_intrs.c: vfio_intx_enable, vfio_intx_handler,
// vfio_pci_intx_mask, vfio_pci_intx_unmask_handler, vfio_pci_set_intx_{trigger,mask,unmask};
// drivers/vfio/virqfd.c; drivers/pci/pci.c pci_check_and_set_intx_mask) against reference vfio.md
// §4.3-4.4 and seeds 000/002 (PCI 2.3 masking on a shared line; devices without it need the line to
// themselves and are masked at the interrupt controller).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../../src/host.js';
import { EDU, LEGACY, NIC, V, expectErrno, openDevice, type Opened } from '../../../support/vfio.js';
import { BOOL, EVENTFD, INTX, MASK, MSI, NONE, TRIGGER, UNMASK, efd, poke, setIrqs, take } from '../../../support/irqs.js';

const CONFIG = 7 * 2 ** 40;
const CMD_INTX_DISABLE = 0x400;

/** The edu device open through VFIO with INTx enabled on a trigger eventfd. */
function eduIntx(host = Host.create()): Opened & { trig: number; assert(on: boolean): void } {
  const o = openDevice(EDU, 2, V.VFIO_TYPE1v2_IOMMU, host);
  const trig = efd(o.p);
  setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [trig]);
  return { ...o, trig, assert: (on) => o.host.control.pci.setIrqLevel(EDU, on) };
}

function vcmd(o: Opened): number {
  const b = new Uint8Array(2);
  o.p.pread(o.device, b, CONFIG + 4);
  return b[0]! | (b[1]! << 8);
}

function writeCmd(o: Opened, v: number): void {
  o.p.pwrite(o.device, new Uint8Array([v & 0xff, v >> 8]), CONFIG + 4);
}

describe('INTx on a PCI 2.3 device (automask with Interrupt Disable)', () => {
  it('an assertion is delivered once: vfio_intx_handler masks the device (INTx Disable) and signals the trigger', () => {
    const o = eduIntx();
    const ctl = o.host.control.irq;
    o.assert(true);
    expect(take(o.p, o.trig)).toBe(1);
    expect(ctl.vfio(EDU)!.intx).toMatchObject({ masked: true, irq: 19 });
    expect(ctl.device(EDU)).toMatchObject({ request: true, intxStatus: true, intxDisabled: true, intxAsserted: false });
    expect(ctl.line(19).level).toBe(false);
    expect(ctl.desc(19)).toMatchObject({ count: 1, actions: ['vfio-intx(0000:00:03.0)'], chip: 'IR-IO-APIC', flow: 'fasteoi' });
    // Still asserting, still masked: nothing more.
    o.assert(false);
    o.assert(true);
    expect(take(o.p, o.trig)).toBe(0);
  });

  it('UNMASK (DATA_NONE) after the device deasserted clears INTx Disable; the next assertion is delivered', () => {
    const o = eduIntx();
    o.assert(true);
    take(o.p, o.trig);
    o.assert(false);
    setIrqs(o.p, o.device, INTX, NONE | UNMASK);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(false);
    expect(o.host.control.irq.device(EDU).intxDisabled).toBe(false);
    o.assert(true);
    expect(take(o.p, o.trig)).toBe(1);
  });

  it('UNMASK while the device still asserts keeps it masked and signals the trigger again (pci_check_and_unmask_intx)', () => {
    const o = eduIntx();
    o.assert(true);
    take(o.p, o.trig);
    setIrqs(o.p, o.device, INTX, NONE | UNMASK);
    expect(take(o.p, o.trig)).toBe(1);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(true);
    expect(o.host.control.irq.device(EDU).intxDisabled).toBe(true);
    // The host saw one interrupt only: the re-delivery is a signal, not a second hardware interrupt.
    expect(o.host.control.irq.desc(19)!.count).toBe(1);
  });

  it('UNMASK / MASK with DATA_BOOL act only on a non-zero byte', () => {
    const o = eduIntx();
    o.assert(true);
    take(o.p, o.trig);
    o.assert(false);
    setIrqs(o.p, o.device, INTX, BOOL | UNMASK, 0, 1, [0]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(true);
    setIrqs(o.p, o.device, INTX, BOOL | UNMASK, 0, 1, [1]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(false);
    setIrqs(o.p, o.device, INTX, BOOL | MASK, 0, 1, [0]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(false);
    setIrqs(o.p, o.device, INTX, BOOL | MASK, 0, 1, [1]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(true);
  });

  it('MASK holds an assertion back; UNMASK then delivers it (the device is still asserting)', () => {
    const o = eduIntx();
    setIrqs(o.p, o.device, INTX, NONE | MASK);
    expect(o.host.control.irq.device(EDU).intxDisabled).toBe(true);
    o.assert(true);
    expect(take(o.p, o.trig)).toBe(0);
    setIrqs(o.p, o.device, INTX, NONE | UNMASK);
    expect(take(o.p, o.trig)).toBe(1);
  });

  it('MASK/UNMASK need INTx enabled, start 0 and count 1 (EINVAL); MASK with an eventfd is ENOTTY', () => {
    const o = openDevice(EDU, 2);
    expectErrno(() => setIrqs(o.p, o.device, INTX, NONE | UNMASK), 'EINVAL');
    expectErrno(() => setIrqs(o.p, o.device, INTX, NONE | MASK), 'EINVAL');
    const t = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t]);
    expectErrno(() => setIrqs(o.p, o.device, INTX, NONE | UNMASK, 0, 0), 'EINVAL');
    expectErrno(() => setIrqs(o.p, o.device, INTX, EVENTFD | MASK, 0, 1, [t]), 'ENOTTY');
  });

  it('loopback: TRIGGER with DATA_NONE or a true DATA_BOOL signals the trigger; INTx not enabled: EINVAL', () => {
    const o = openDevice(EDU, 2);
    expectErrno(() => setIrqs(o.p, o.device, INTX, NONE | TRIGGER), 'EINVAL');
    const t = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t]);
    setIrqs(o.p, o.device, INTX, NONE | TRIGGER);
    setIrqs(o.p, o.device, INTX, BOOL | TRIGGER, 0, 1, [0]);
    setIrqs(o.p, o.device, INTX, BOOL | TRIGGER, 0, 1, [1]);
    expect(take(o.p, t)).toBe(2);
  });

  it('TRIGGER with an eventfd swaps the trigger; fd -1 drops it and INTx stays enabled; -1 also enables without a trigger', () => {
    const o = eduIntx();
    const t2 = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t2]);
    o.assert(true);
    expect([take(o.p, o.trig), take(o.p, t2)]).toEqual([0, 1]);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [-1]);
    expect(o.host.control.irq.vfio(EDU)!).toMatchObject({ irqType: 'intx', intx: { trigger: null } });
    const p2 = openDevice(EDU, 2, V.VFIO_TYPE1v2_IOMMU, Host.create());
    setIrqs(p2.p, p2.device, INTX, EVENTFD | TRIGGER, 0, 1, [-1]);
    expect(p2.host.control.irq.vfio(EDU)!.irqType).toBe('intx');
    expect(p2.host.control.irq.desc(19)!.actions).toEqual(['vfio-intx(0000:00:03.0)']);
  });

  it('a bad trigger fd: EBADF, or EINVAL for a file that is not an eventfd; nothing is enabled', () => {
    const o = openDevice(EDU, 2);
    expectErrno(() => setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [99]), 'EBADF');
    expectErrno(() => setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [o.container]), 'EINVAL');
    expect(o.host.control.irq.vfio(EDU)!.irqType).toBe('none');
    expect(o.host.control.irq.desc(19)!.actions).toEqual([]);
  });

  it('count 0 with DATA_NONE disables INTx: free_irq, /proc/interrupts loses the line', () => {
    const o = eduIntx();
    expect(o.p.readFile('/proc/interrupts')).toMatch(/ 19: .* IR-IO-APIC  19-fasteoi   vfio-intx\(0000:00:03\.0\)\n/);
    setIrqs(o.p, o.device, INTX, NONE | TRIGGER, 0, 0);
    expect(o.host.control.irq.vfio(EDU)!.irqType).toBe('none');
    expect(o.host.control.irq.desc(19)).toMatchObject({ actions: [], masked: true, depth: 1 });
    expect(o.p.readFile('/proc/interrupts')).not.toMatch(/vfio-intx/);
  });

  it('only one of INTx/MSI/MSI-X: MSI while INTx is enabled is EINVAL, and succeeds after INTx is disabled (reference §8.8)', () => {
    const o = eduIntx();
    const m = efd(o.p);
    expectErrno(() => setIrqs(o.p, o.device, MSI, EVENTFD | TRIGGER, 0, 1, [m]), 'EINVAL');
    setIrqs(o.p, o.device, INTX, NONE | TRIGGER, 0, 0);
    expect(setIrqs(o.p, o.device, MSI, EVENTFD | TRIGGER, 0, 1, [m])).toBe(0);
    expectErrno(() => setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [o.trig]), 'EINVAL');
  });
});

describe('the unmask eventfd (virqfd: SET_IRQS INTX ACTION_UNMASK DATA_EVENTFD)', () => {
  it('each signal unmasks; a device still asserting is re-signalled from the virqfd work', () => {
    const o = eduIntx();
    const u = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [u]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.unmaskEventfd).not.toBeNull();
    o.assert(true);
    expect(take(o.p, o.trig)).toBe(1);
    poke(o.p, u);
    expect(take(o.p, o.trig)).toBe(1);
    expect(take(o.p, u)).toBe(0);
    o.assert(false);
    poke(o.p, u);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(false);
    expect(take(o.p, o.trig)).toBe(0);
  });

  it('a second registration is EBUSY; fd -1 unregisters; closing the eventfd unregisters too (EPOLLHUP)', () => {
    const o = eduIntx();
    const u = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [u]);
    expectErrno(() => setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [efd(o.p)]), 'EBUSY');
    setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [-1]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.unmaskEventfd).toBeNull();
    setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [u]);
    o.p.close(u);
    expect(o.host.control.irq.vfio(EDU)!.intx!.unmaskEventfd).toBeNull();
    expectErrno(() => setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [u]), 'EBADF');
  });

  it('a signal already pending at registration unmasks at once (not consumed)', () => {
    const o = eduIntx();
    o.assert(true);
    take(o.p, o.trig);
    o.assert(false);
    const u = efd(o.p);
    poke(o.p, u);
    setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [u]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(false);
    expect(take(o.p, u)).toBe(1);
  });
});

describe('the virtual INTx Disable bit (vfio_basic_config_write: virq_disabled)', () => {
  it('setting it masks and suppresses signals; clearing it unmasks and delivers what is pending', () => {
    const o = eduIntx();
    writeCmd(o, vcmd(o) | CMD_INTX_DISABLE);
    expect(o.host.control.irq.vfio(EDU)).toMatchObject({ virqDisabled: true, intx: { masked: true } });
    o.assert(true);
    setIrqs(o.p, o.device, INTX, NONE | UNMASK);
    setIrqs(o.p, o.device, INTX, NONE | TRIGGER);
    expect(take(o.p, o.trig)).toBe(0);
    writeCmd(o, vcmd(o) & ~CMD_INTX_DISABLE);
    expect(take(o.p, o.trig)).toBe(1);
  });

  it('INTx enabled while virtually disabled starts masked', () => {
    const o = openDevice(EDU, 2);
    writeCmd(o, vcmd(o) | CMD_INTX_DISABLE);
    const t = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t]);
    expect(o.host.control.irq.vfio(EDU)!.intx!.masked).toBe(true);
    expect(o.host.control.irq.device(EDU).intxDisabled).toBe(true);
  });

  it('with INTx not enabled the physical bit follows the virtual one', () => {
    const o = openDevice(EDU, 2);
    writeCmd(o, vcmd(o) | CMD_INTX_DISABLE);
    expect(o.host.control.irq.device(EDU).intxDisabled).toBe(true);
    writeCmd(o, vcmd(o) & ~CMD_INTX_DISABLE);
    expect(o.host.control.irq.device(EDU).intxDisabled).toBe(false);
  });
});

describe('shared lines: a PCI 2.3 device next to a host driver', () => {
  it('the NIC (vfio) and the RTL8169 (r8169) share GSI 21; each handler claims only its own device', () => {
    const o = openDevice(NIC, 11);
    const t = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t]);
    const ctl = o.host.control.irq;
    expect(ctl.desc(21)!.actions).toEqual(['r8169', 'vfio-intx(0000:06:00.0)']);
    o.host.control.pci.setIrqLevel('03:01.0', true);
    expect(take(o.p, t)).toBe(0);
    expect(ctl.device('03:01.0').request).toBe(false); // r8169 acknowledged its device
    o.host.control.pci.ring(0);
    expect(take(o.p, t)).toBe(1);
    expect(ctl.desc(21)).toMatchObject({ count: 2, unhandled: 0 });
  });
});

describe('INTx on a device without PCI 2.3 masking (exclusive line, masked at the IO-APIC)', () => {
  it('is refused with EBUSY on a line host drivers hold ("Flags mismatch"), and works once they let go', () => {
    const o = openDevice(LEGACY, 3);
    const t = efd(o.p);
    expectErrno(() => setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t]), 'EBUSY');
    expect(o.host.control.dmesg().join('\n')).toMatch(/genirq: Flags mismatch irq 21\. 00000008 \(vfio-intx\(0000:00:05\.0\)\) vs\. 00000088 \(e1000e\)/);
    expect(o.host.control.irq.vfio(LEGACY)!.irqType).toBe('none');
    o.p.writeFile('/sys/bus/pci/drivers/r8169/unbind', '0000:03:01.0');
    o.p.writeFile('/sys/bus/pci/drivers/e1000e/unbind', '0000:06:00.0');
    expect(setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t])).toBe(0);
    expect(o.host.control.irq.vfio(LEGACY)!.pci23).toBe(false);
  });

  it('the handler disables the line (unlazy: the IO-APIC entry is masked); UNMASK enables it and a still-asserted line fires again', () => {
    const o = openDevice(LEGACY, 3);
    o.p.writeFile('/sys/bus/pci/drivers/r8169/unbind', '0000:03:01.0');
    o.p.writeFile('/sys/bus/pci/drivers/e1000e/unbind', '0000:06:00.0');
    const t = efd(o.p);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [t]);
    const ctl = o.host.control.irq;
    o.host.control.pci.setIrqLevel(LEGACY, true);
    expect(take(o.p, t)).toBe(1);
    expect(ctl.desc(21)).toMatchObject({ depth: 1, disabled: true, masked: true });
    expect(ctl.line(21)).toMatchObject({ level: true, ioapic: { masked: true } });
    setIrqs(o.p, o.device, INTX, NONE | UNMASK);
    expect(take(o.p, t)).toBe(1);
    expect(ctl.desc(21)!.count).toBe(2);
    o.host.control.pci.setIrqLevel(LEGACY, false);
    setIrqs(o.p, o.device, INTX, NONE | UNMASK);
    expect(ctl.desc(21)).toMatchObject({ depth: 0, disabled: false, masked: false });
    expect(ctl.vfio(LEGACY)!.intx!.masked).toBe(false);
  });

  it('enabled while virtually disabled: requested with IRQF_NO_AUTOEN, the line stays disabled', () => {
    const o = openDevice(LEGACY, 3);
    o.p.writeFile('/sys/bus/pci/drivers/r8169/unbind', '0000:03:01.0');
    o.p.writeFile('/sys/bus/pci/drivers/e1000e/unbind', '0000:06:00.0');
    writeCmd(o, vcmd(o) | CMD_INTX_DISABLE);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]);
    expect(o.host.control.irq.desc(21)).toMatchObject({ depth: 1, disabled: true });
  });
});

describe('vfio_pci.nointxmask=1', () => {
  it('treats a PCI 2.3 device as one without masking: exclusive line, masked at the controller', () => {
    const host = Host.create({ cmdline: 'vfio_pci.nointxmask=1' });
    const o = eduIntx(host);
    expect(host.control.irq.vfio(EDU)!.pci23).toBe(false);
    o.assert(true);
    expect(take(o.p, o.trig)).toBe(1);
    expect(host.control.irq.device(EDU).intxDisabled).toBe(false);
    expect(host.control.irq.desc(19)).toMatchObject({ disabled: true, masked: true });
    const a = openDevice(NIC, 11, V.VFIO_TYPE1v2_IOMMU, host);
    expectErrno(() => setIrqs(a.p, a.device, INTX, EVENTFD | TRIGGER, 0, 1, [efd(a.p)]), 'EBUSY');
  });
});

describe('last close', () => {
  it('disables INTx and drops the unmask eventfd', () => {
    const o = eduIntx();
    setIrqs(o.p, o.device, INTX, EVENTFD | UNMASK, 0, 1, [efd(o.p)]);
    o.p.close(o.device);
    expect(o.host.control.irq.vfio(EDU)!.irqType).toBe('none');
    expect(o.host.control.irq.desc(19)!.actions).toEqual([]);
  });
});
