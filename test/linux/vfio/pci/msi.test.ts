// vfio-pci MSI and MSI-X (drivers/vfio/pci/vfio_pci_intrs.c: vfio_msi_enable, vfio_msi_set_vector_signal,
// vfio_msi_set_block, vfio_msi_disable, vfio_pci_set_msi_trigger), the PCI MSI layer beneath it
// (drivers/pci/msi/msi.c msix_capability_init / msi_capability_init, pci_msix_shutdown) and interrupt
// remapping (drivers/iommu/intel/irq_remapping.c: remappable-format messages, one IRTE per vector),
// against reference vfio.md §4.5 and §8 items 8-9, kvm.md §6 and seed 002 ("vfio-pci only enables MSI
// when the guest does").
import { describe, expect, it } from 'vitest';
import { Host } from '../../../../src/host.js';
import { decodeIrte } from '../../../../src/hw/iommu/vtd/irte.js';
import { EDU, NIC, GROUP, V, expectErrno, openDevice } from '../../../support/vfio.js';
import { BOOL, EVENTFD, INTX, MASK, MSI, MSIX, NONE, TRIGGER, UNMASK, efd, setIrqs, take } from '../../../support/irqs.js';

const CONFIG = 7 * 2 ** 40;
const CARD = '0000:03:00.0';

function nicMsix(n: number, host = Host.create()) {
  const o = openDevice(NIC, GROUP.nic, V.VFIO_TYPE1v2_IOMMU, host);
  const fds = Array.from({ length: n }, () => efd(o.p));
  expect(setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, n, fds)).toBe(0);
  return { ...o, fds };
}

function cfg16(o: { p: { pread(fd: number, b: Uint8Array, off: number): number }; device: number }, off: number): number {
  const b = new Uint8Array(2);
  o.p.pread(o.device, b, CONFIG + off);
  return b[0]! | (b[1]! << 8);
}

describe('MSI-X through SET_IRQS', () => {
  it('enable programs the table with remappable messages (one IRTE per vector), unmasks bound vectors, sets Enable', () => {
    const o = nicMsix(4);
    const ctl = o.host.control.irq;
    const hw = ctl.device(NIC);
    expect(hw.msix).toMatchObject({ enabled: true, functionMask: false });
    // pci_intx_for_msi() set INTx Disable, but vfio_pci_memory_unlock_and_restore() then wrote back the
    // Command value saved before pci_alloc_irq_vectors(): the bit is as it was (MSI-X Enable alone
    // keeps the function off INTx).
    expect(hw.intxDisabled).toBe(false);
    expect(hw.intxAsserted).toBe(false);
    const ir = o.host.kernel.irq.ir;
    for (let v = 0; v < 4; v++) {
      const e = ctl.msixVector(NIC, v);
      expect(e.masked).toBe(false);
      expect(e.addrLo & 0xfff00010).toBe(0xfee00010 | 0); // 0xFEE, interrupt format = remappable
      expect(e.addrLo & 0x8).toBe(0x8); // SHV
      const index = (e.addrLo >>> 5) & 0x7fff;
      const d = o.host.kernel.irq.desc(o.host.kernel.msi.irqVector(o.host.kernel.pci.get(NIC)!, v))!;
      expect(decodeIrte(ir.entry(index), 0)).toMatchObject({ format: 'remapped', present: true, vector: d.vector, sid: 0x0600 });
    }
    expect(ctl.msixVector(NIC, 4).masked).toBe(true);
    expect(ctl.vfio(NIC)).toMatchObject({ irqType: 'msix', vectorsEnabled: 4 });
    expect(o.p.readFile('/proc/interrupts')).toMatch(/ IR-PCI-MSIX-0000:06:00\.0 +3-edge      vfio-msix\[3\]\(0000:06:00\.0\)\n/);
  });

  it('a doorbell is one interrupt on that vector\'s eventfd only', () => {
    const o = nicMsix(4);
    o.host.control.pci.ring(2);
    o.host.control.pci.ring(2);
    o.host.control.pci.ring(3);
    expect(o.fds.map((f) => take(o.p, f))).toEqual([0, 0, 2, 1]);
  });

  it('fd -1 leaves a vector unbound and masked: its raise waits in the PBA and reaches the eventfd bound later', () => {
    const o = openDevice(NIC, GROUP.nic);
    const a = efd(o.p);
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 2, [a, -1]);
    o.host.control.pci.ring(1);
    expect(o.host.control.irq.pba(NIC)).toEqual([1]);
    const b = efd(o.p);
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 1, 1, [b]);
    expect(take(o.p, b)).toBe(1);
    expect(o.host.control.irq.pba(NIC)).toEqual([]);
    // Unbinding masks the vector again (free_irq).
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 1, 1, [-1]);
    expect(o.host.control.irq.msixVector(NIC, 1).masked).toBe(true);
  });

  it('a message to an enabled vector without a trigger (unmasked behind the kernel\'s back) is replayed when one is bound', () => {
    const o = openDevice(NIC, GROUP.nic);
    const x = o.host.control.pci.nic().msix!;
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 2, [efd(o.p), -1]);
    const map = o.p.mmap(null, 0x1000, 3, 1, o.device, x.tableBar * 2 ** 40 + x.tableOffset);
    map.write32(16 + 12, 0);
    o.host.control.pci.ring(1);
    // handle_edge_irq found no action: IRQS_PENDING on the host irq, nothing delivered.
    const irq = o.host.kernel.msi.irqVector(o.host.kernel.pci.get(NIC)!, 1);
    expect(o.host.control.irq.desc(irq)).toMatchObject({ pending: true, count: 0 });
    const b = efd(o.p);
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 1, 1, [b]);
    // request_irq -> irq_startup -> check_irq_resend: the edge is replayed (an IPI of its vector).
    expect(take(o.p, b)).toBe(1);
    expect(o.host.control.irq.desc(irq)).toMatchObject({ pending: false, count: 1 });
  });

  it('vectors beyond those enabled cannot be bound (EINVAL); the block is all-or-nothing on a bad fd', () => {
    const o = nicMsix(2);
    expectErrno(() => setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 2, 1, [efd(o.p)]), 'EINVAL');
    const before = o.host.control.irq.vfio(NIC)!.vectors.map((v) => v.trigger);
    expectErrno(() => setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 2, [efd(o.p), 999]), 'EBADF');
    expect(o.host.control.irq.vfio(NIC)!.vectors.map((v) => v.trigger)).toEqual(before);
  });

  it('an enable whose block is empty fails with nothing enabled: count 0 at start 0 is ERANGE, at start > 0 EINVAL', () => {
    // vfio_pci_set_msi_trigger(): vfio_msi_enable(start + count) first — pci_alloc_irq_vectors(pdev, 1, 0)
    // is -ERANGE (drivers/pci/msi/api.c, __pci_enable_msix_range: maxvec < minvec) —, then
    // vfio_msi_set_block(), whose start >= num_ctx is -EINVAL and makes the caller vfio_msi_disable().
    const o = openDevice(NIC, GROUP.nic);
    const cmd = cfg16(o, 4);
    expectErrno(() => setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 0), 'ERANGE');
    expect(o.host.control.irq.vfio(NIC)).toMatchObject({ irqType: 'none', vectorsEnabled: 0 });
    expectErrno(() => setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 1, 0), 'EINVAL');
    expect(o.host.control.irq.vfio(NIC)).toMatchObject({ irqType: 'none', vectorsEnabled: 0 });
    expect(o.host.kernel.msi.mode(o.host.kernel.pci.get(NIC)!)).toBe(null);
    expect(o.host.control.irq.device(NIC).msix).toMatchObject({ enabled: false });
    expect(cfg16(o, 4)).toBe(cmd);
    // Nothing was left behind: a real enable works.
    expect(setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 1, [efd(o.p)])).toBe(0);
  });

  it('rebinding a vector rewrites its cached message into the table (a backdoor reset had wiped it)', () => {
    const o = nicMsix(1);
    const x = o.host.control.pci.nic().msix!;
    const good = o.host.control.irq.msixVector(NIC, 0).addrLo;
    x.tableWrite(0, 4, 0);
    x.tableWrite(8, 4, 0);
    o.host.control.pci.ring(0);
    expect(take(o.p, o.fds[0]!)).toBe(0);
    const f = efd(o.p);
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 1, [f]);
    expect(o.host.control.irq.msixVector(NIC, 0).addrLo).toBe(good);
    o.host.control.pci.ring(0);
    expect(take(o.p, f)).toBe(1);
  });

  it('loopback: DATA_NONE / DATA_BOOL signal vectors that have a trigger', () => {
    const o = nicMsix(3);
    setIrqs(o.p, o.device, MSIX, NONE | TRIGGER, 0, 2);
    setIrqs(o.p, o.device, MSIX, BOOL | TRIGGER, 1, 2, [0, 1]);
    expect(o.fds.map((f) => take(o.p, f))).toEqual([1, 1, 1]);
  });

  it('MASK and UNMASK are ENOTTY for MSI-X and MSI whatever the data type (reference §8.9)', () => {
    const o = nicMsix(2);
    expectErrno(() => setIrqs(o.p, o.device, MSIX, NONE | MASK, 0, 1), 'ENOTTY');
    expectErrno(() => setIrqs(o.p, o.device, MSIX, BOOL | UNMASK, 0, 1, [1]), 'ENOTTY');
    expectErrno(() => setIrqs(o.p, o.device, MSIX, EVENTFD | UNMASK, 0, 1, [o.fds[0]!]), 'ENOTTY');
    const e = openDevice(EDU, GROUP.edu, V.VFIO_TYPE1v2_IOMMU, o.host);
    expectErrno(() => setIrqs(e.p, e.device, MSI, NONE | MASK, 0, 1), 'ENOTTY');
    expectErrno(() => setIrqs(e.p, e.device, MSI, EVENTFD | UNMASK, 0, 1, [efd(e.p)]), 'ENOTTY');
  });

  it('count 0 with DATA_NONE disables: entries masked, Enable cleared, INTx re-enabled, irqs freed', () => {
    const o = nicMsix(4);
    setIrqs(o.p, o.device, MSIX, NONE | TRIGGER, 0, 0);
    const ctl = o.host.control.irq;
    expect(ctl.vfio(NIC)).toMatchObject({ irqType: 'none', vectors: [] });
    expect(ctl.device(NIC)).toMatchObject({ msix: { enabled: false }, intxDisabled: false });
    for (let v = 0; v < 4; v++) expect(ctl.msixVector(NIC, v).masked).toBe(true);
    expect(o.p.readFile('/proc/interrupts')).not.toMatch(/vfio-msix/);
  });

  it('fewer host vectors than asked: the ioctl returns how many there are and enables nothing; a retry with that many works', () => {
    const host = Host.create();
    host.control.irq.setVectorLimit(host.kernel.irq.matrix.total + 5);
    const o = openDevice(NIC, GROUP.nic, V.VFIO_TYPE1v2_IOMMU, host);
    const fds = Array.from({ length: 8 }, () => efd(o.p));
    expect(setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 8, fds)).toBe(5);
    expect(host.control.irq.vfio(NIC)!.irqType).toBe('none');
    expect(host.control.irq.device(NIC).msix!.enabled).toBe(false);
    expect(host.control.irq.vectorsAvailable).toBe(5);
    expect(setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 5, fds.slice(0, 5))).toBe(0);
  });

  it('the kernel reaches the table with Memory Space off: it enables decoding around the writes and restores Command', () => {
    const o = openDevice(NIC, GROUP.nic);
    const cmd = cfg16(o, 4);
    o.p.pwrite(o.device, new Uint8Array([cmd & ~2 & 0xff, cmd >> 8]), CONFIG + 4);
    const hwCmd = o.host.control.pci.configRead(NIC, 4, 2);
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]);
    expect(o.host.control.irq.msixVector(NIC, 0).masked).toBe(false);
    expect(o.host.control.pci.configRead(NIC, 4, 2) & 2).toBe(hwCmd & 2);
  });

  it('the MSI-X capability reads Enable only once SET_IRQS enabled it; guest writes do not enable it', () => {
    const o = openDevice(NIC, GROUP.nic);
    const cap = o.host.control.pci.nic().msix!.offset;
    o.p.pwrite(o.device, new Uint8Array([0, 0x80]), CONFIG + cap + 2);
    expect(cfg16(o, cap + 2) & 0x8000).toBe(0);
    expect(o.host.control.irq.device(NIC).msix!.enabled).toBe(false);
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]);
    expect(cfg16(o, cap + 2) & 0x8000).toBe(0x8000);
  });

  it('MSI-X while MSI or INTx is active: EINVAL', () => {
    const o = openDevice(NIC, GROUP.nic);
    setIrqs(o.p, o.device, INTX, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]);
    expectErrno(() => setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 1, [efd(o.p)]), 'EINVAL');
  });
});

describe('MSI through SET_IRQS', () => {
  it('the edu device: one vector, remappable message in the capability, Enable in hardware but 0 in the virtual config', () => {
    const o = openDevice(EDU, GROUP.edu);
    const t = efd(o.p);
    setIrqs(o.p, o.device, MSI, EVENTFD | TRIGGER, 0, 1, [t]);
    const hw = o.host.control.irq.device(EDU);
    expect(hw.msi).toMatchObject({ enabled: true, vectors: 1 });
    expect(cfg16(o, 0x42) & 1).toBe(0);
    expect(o.host.control.pci.configRead(EDU, 0x44, 4) & 0xfff00010).toBe(0xfee00010 | 0);
    o.host.control.pci.mmioWrite(EDU, 0, 0x60, 4, 1);
    expect(take(o.p, t)).toBe(1);
    expect(o.p.readFile('/proc/interrupts')).toMatch(/ IR-PCI-MSI-0000:00:03\.0 +0-edge      vfio-msi\[0\]\(0000:00:03\.0\)\n/);
  });

  it('multiple messages: start+count vectors, a power-of-two block of IRTEs, msi_qmax = ceil(log2)', () => {
    const host = Host.create();
    const p0 = host.spawn();
    p0.writeFile('/sys/bus/pci/drivers/r8169/unbind', '0000:03:01.0');
    const o = openDevice(CARD, GROUP.bridge, V.VFIO_TYPE1v2_IOMMU, host);
    const fds = [efd(o.p), efd(o.p), efd(o.p)];
    setIrqs(o.p, o.device, MSI, EVENTFD | TRIGGER, 0, 3, fds);
    expect(host.control.irq.vfio(CARD)).toMatchObject({ irqType: 'msi', vectorsEnabled: 3, msiQmax: 2 });
    const card = host.control.pci.device(CARD) as unknown as { signalMsi(v: number): boolean };
    expect(host.control.irq.device(CARD).msi).toMatchObject({ enabled: true, vectors: 4, maskBits: 0b1000 });
    card.signalMsi(2);
    card.signalMsi(0);
    host.kernel.point();
    expect(fds.map((f) => take(o.p, f))).toEqual([1, 0, 1]);
    // Vector 3 was not bound: masked, so its message waits in the pending bits.
    card.signalMsi(3);
    expect(host.control.irq.device(CARD).msi!.pendingBits).toBe(0b1000);
  });

  it('disabling MSI clears Enable and unmasks every vector ("return the device with MSI unmasked")', () => {
    const host = Host.create();
    host.spawn().writeFile('/sys/bus/pci/drivers/r8169/unbind', '0000:03:01.0');
    const o = openDevice(CARD, GROUP.bridge, V.VFIO_TYPE1v2_IOMMU, host);
    setIrqs(o.p, o.device, MSI, EVENTFD | TRIGGER, 0, 2, [efd(o.p), efd(o.p)]);
    setIrqs(o.p, o.device, MSI, NONE | TRIGGER, 0, 0);
    expect(host.control.irq.device(CARD).msi).toMatchObject({ enabled: false, maskBits: 0 });
  });
});

describe('last close', () => {
  it('disables MSI-X: vectors freed and masked', () => {
    const o = nicMsix(4);
    o.p.close(o.device);
    expect(o.host.control.irq.device(NIC).msix!.enabled).toBe(false);
    expect(o.host.kernel.irq.all().some((d) => d.actions.some((a) => a.name.startsWith('vfio-msix')))).toBe(false);
  });
});

describe('function reset with MSI-X enabled (pci_restore_msi_state, drivers/pci/msi/msi.c __pci_restore_msix_state)', () => {
  it('VFIO_DEVICE_RESET: the FLR clears the table; the restore writes the cached messages and per-vector masks back', () => {
    const o = openDevice(NIC, GROUP.nic);
    const a = efd(o.p);
    const b = efd(o.p);
    setIrqs(o.p, o.device, MSIX, EVENTFD | TRIGGER, 0, 3, [a, -1, b]);
    const ctl = o.host.control.irq;
    const before = [0, 1, 2].map((v) => ctl.msixVector(NIC, v));
    const nic = o.host.control.pci.nic();
    const resets = nic.resets;
    expect(o.p.ioctl(o.device, V.VFIO_DEVICE_RESET)).toBe(0);
    expect(nic.resets).toBe(resets + 1);
    for (let v = 0; v < 3; v++) {
      expect(ctl.msixVector(NIC, v)).toMatchObject({ masked: before[v]!.masked, addrLo: before[v]!.addrLo, data: before[v]!.data });
    }
    expect(before.map((e) => e.masked)).toEqual([false, true, false]);
    expect(ctl.device(NIC).msix).toMatchObject({ enabled: true, functionMask: false });
    // pci_intx_for_msi(dev, 0): nothing writes the saved Command back after it this time.
    expect(ctl.device(NIC).intxDisabled).toBe(true);
    o.host.control.pci.ring(0);
    o.host.control.pci.ring(2);
    o.host.control.pci.ring(1);
    expect([take(o.p, a), take(o.p, b)]).toEqual([1, 1]);
    expect(ctl.pba(NIC)).toEqual([1]);
  });
});
