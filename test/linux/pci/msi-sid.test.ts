// The source validation Linux programs into a device's MSI remapping entries: drivers/iommu/intel/
// irq_remapping.c set_msi_sid() over pci_for_each_dma_alias() (drivers/pci/search.c). A device whose
// requests no bridge aliases gets SVT=01b with its own requester ID (SQ: all 16 bits); below a
// PCIe-to-PCI bridge, which may take ownership of the requests (alias: secondary bus, devfn 0), every
// alias is on the device's bus and the entry verifies that bus (SVT=10b, SID = start bus << 8 | end bus).
// Behind a conventional bridge, which forwards the requests under its own ID, the entry verifies the
// bridge's requester ID.
// The VT-d unit checks either form (VT-d 9.10), so the device's messages still arrive.
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/host.js';
import { PciBridge } from '../../../src/hw/pci/bridge.js';
import { SimpleDevice as Card } from '../../../src/hw/devices/simple.js';
import { IRTE_SVT_SHIFT, SVT_VERIFY_BUS, SVT_VERIFY_SID_SQ } from '../../../src/hw/iommu/vtd/irte.js';
import { msiInterruptIndex } from '../../../src/hw/iommu/vtd/msi-format.js';
import { dmaAliases, setMsiSid } from '../../../src/linux/iommu/intel-irq-remapping.js';
import { IRQ_HANDLED } from '../../../src/linux/irq/irqdesc.js';
import type { PciDev } from '../../../src/linux/pci/pci-dev.js';

/** IRTE dword 2 (SID, SQ, SVT) of vector 0 of `bdf`'s MSI, after the kernel enabled it. */
function msiSource(h: Host, bdf: string, msix: boolean): number {
  const k = h.kernel;
  const pdev = k.pci.get(bdf)!;
  pdev.enable();
  expect(k.msi.allocIrqVectors(pdev, 1, 1, msix)).toBe(1);
  const addrLo = msix ? pdev.hw.msix!.entryWord(0, 0) : pdev.readConfig(pdev.hw.msi!.offset + 4, 4);
  const e = k.irq.ir.entry(msiInterruptIndex(addrLo, 0));
  return (e[8]! | (e[9]! << 8) | (e[10]! << 16) | (e[11]! << 24)) >>> 0;
}

/** The function's first MSI reaches its handler once, and the remapping unit records no fault. */
function expectDeliveredWithoutFault(h: Host, card: PciDev): void {
  let n = 0;
  h.kernel.irq.requestIrq(h.kernel.msi.irqVector(card, 0), () => (n++, IRQ_HANDLED), 0, 'card', null);
  expect((card.hw as Card).signalMsi(0)).toBe(true);
  h.kernel.point();
  expect(n).toBe(1);
  expect(h.kernel.irq.ir.unit.faults).toEqual([]);
}

describe('set_msi_sid: the source-id check of MSI remapping entries', () => {
  it('below a PCIe-to-PCI bridge: aliases are the device and the bridge\'s (bus, 0); the entry verifies the bus', () => {
    const h = Host.create();
    const card = h.kernel.pci.get('0000:03:00.0')!; // conventional PCI test card behind 02:00.0 (PCIe-to-PCI)
    expect(dmaAliases(card)).toEqual([0x0300, 0x0300]);
    expect(dmaAliases(h.kernel.pci.get('0000:03:01.0')!)).toEqual([0x0308, 0x0300]);
    const w2 = msiSource(h, '0000:03:00.0', false);
    expect((w2 >>> IRTE_SVT_SHIFT) & 3).toBe(SVT_VERIFY_BUS);
    expect(w2 & 0xffff).toBe(0x0303);
    expect(w2).toBe(setMsiSid(card));
    // The card's message (requester ID 03:00.0 as the bridge forwards it) passes the check.
    expectDeliveredWithoutFault(h, card);
  });

  it('behind PCIe switch ports only (no aliasing bridge): SVT=01b with the device\'s own requester ID', () => {
    const h = Host.create();
    const nic = h.kernel.pci.get('0000:06:00.0')!;
    expect(dmaAliases(nic)).toEqual([0x0600]);
    const w2 = msiSource(h, '0000:06:00.0', true);
    expect((w2 >>> IRTE_SVT_SHIFT) & 3).toBe(SVT_VERIFY_SID_SQ);
    expect(w2 & 0xffff).toBe(0x0600);
    expect((w2 >>> 16) & 3).toBe(0); // SQ_ALL_16
  });

  it('behind a conventional PCI-to-PCI bridge: the bridge forwards the requests as its own, and the entry verifies its requester ID', () => {
    // set_msi_sid(): the last alias (the bridge's ID) is on the bus of the device that produced it
    // (the bridge), so it is no bus-range case; it is on another bus than the card: "a topology based
    // alias, use it" (SVT=01b, SID = the bridge's requester ID).
    const h = Host.create({
      preset: (m) => {
        const br = m.pci.root.add(0x01, 0, new PciBridge({ kind: 'pci-to-pci' }));
        br.secondary.add(0, 0, new Card({
          id: { vendor: 0x1234, device: 0x0c01, revision: 0x01, classCode: 0x078000, name: 'conventional PCI test card' },
          pcie: false, pin: 1, bars: [{ kind: 'mem32', size: 0x1000 }], pm: false,
          msi: { vectors: 1, is64: false, maskable: false },
        }));
      },
    });
    const card = h.kernel.pci.get('0000:01:00.0')!;
    expect(dmaAliases(card)).toEqual([0x0100, 0x0008]);
    const w2 = msiSource(h, '0000:01:00.0', false);
    expect((w2 >>> IRTE_SVT_SHIFT) & 3).toBe(SVT_VERIFY_SID_SQ);
    expect(w2 & 0xffff).toBe(0x0008);
    expectDeliveredWithoutFault(h, card);
  });
});
