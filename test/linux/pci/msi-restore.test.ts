// pci_reset_function() with MSI enabled by the kernel: pci_restore_state() ends with
// pci_restore_msi_state() (drivers/pci/pci.c; drivers/pci/msi/msi.c __pci_restore_msi_state), which
// writes the cached message, the cached per-vector mask (msi_mask) and Multiple Message Enable back
// and sets MSI Enable, with INTx disabled (pci_intx_for_msi).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/host.js';
import { SimpleDevice } from '../../../src/hw/devices/simple.js';
import { IRQ_HANDLED } from '../../../src/linux/irq/irqdesc.js';

const BDF = '0000:00:01.0';

function host() {
  const dev = new SimpleDevice({
    id: { vendor: 0x1234, device: 0x5678, revision: 0, classCode: 0xff0000, name: 'FLR-capable endpoint with maskable MSI' },
    pcie: 'endpoint', pin: 1, bars: [{ kind: 'mem32', size: 0x1000 }], msi: { vectors: 4, is64: true, maskable: true },
  });
  const h = Host.create({ preset: (m) => void m.pci.root.add(1, 0, dev) });
  return { h, dev, pdev: h.kernel.pci.get(BDF)! };
}

describe('pci_reset_function with MSI enabled', () => {
  it('the FLR clears the capability; the restore programs the message, the masks and 4 vectors again', () => {
    const { h, dev, pdev } = host();
    const k = h.kernel;
    pdev.enable();
    expect(k.msi.allocIrqVectors(pdev, 1, 4, false)).toBe(4);
    // request_irq unmasks vectors 0 and 2 (Mask Bits 0b1010), the state the restore must bring back.
    for (const v of [0, 2]) k.irq.requestIrq(k.msi.irqVector(pdev, v), () => IRQ_HANDLED, 0, `t${v}`, null);
    const m = dev.msi!;
    const capBefore = dev.cfg.bytes.slice(m.offset, m.offset + 0x18);
    expect(m.maskBits).toBe(0b1010);
    expect(k.pci.resetFunction(pdev)).toBe(true);
    expect(dev.resets).toBe(1);
    expect(dev.cfg.bytes.slice(m.offset, m.offset + 0x18)).toEqual(capBefore);
    expect(m.enabled).toBe(true);
    expect(m.allocated).toBe(4);
    expect(dev.command & 0x400).toBe(0x400);
  });

  it('without MSI enabled by the kernel nothing is restored beyond the saved bytes (MSI stays off)', () => {
    const { dev, pdev, h } = host();
    pdev.enable();
    expect(h.kernel.pci.resetFunction(pdev)).toBe(true);
    expect(dev.msi!.enabled).toBe(false);
    expect(pdev.msiRestore).toBe(null);
  });
});
