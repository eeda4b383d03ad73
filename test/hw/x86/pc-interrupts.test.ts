// The PC's interrupt wiring (src/hw/x86/pc-interrupts.ts): platform lines into the I/O APIC, its
// messages (remappable redirection entries: VT-d 5.1.5.1) and PCI MSIs into the VT-d unit, remapped
// requests onto the APIC bus. A level entry's remote IRR is set when the message leaves the I/O APIC,
// before any CPU can EOI it (82093AA datasheet 3.2.4), and re-fires on EOI while the line is high.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../../src/hw/machine.js';
import { defaultPreset } from '../../../src/hw/presets/default.js';
import { PcInterrupts, IOAPIC_RTE_HI_FORMAT_REMAPPABLE, IOAPIC_RTE_HI_INDEX_SHIFT, IOAPIC_SOURCE_ID } from '../../../src/hw/x86/pc-interrupts.js';
import { IOAPIC_RTE_LEVEL, IOAPIC_RTE_MASK } from '../../../src/hw/x86/ioapic.js';
import { DMA_GCMD_IRE, DMA_GCMD_SIRTP, IRTA_EIME } from '../../../src/hw/iommu/vtd/regs.js';
import { IRTE_P, IRTE_SVT_SHIFT, IRTE_TM, IRTE_VECTOR_SHIFT, SVT_VERIFY_SID_SQ } from '../../../src/hw/iommu/vtd/irte.js';
import { setU32 } from '../../../abi/bytes.js';

function board() {
  const m = new Machine({ preset: defaultPreset({ nicQueues: 4 }) });
  const pc = new PcInterrupts(m);
  const got: number[] = [];
  const remoteIrrSeen: boolean[] = [];
  pc.bus.attach({ apicId: 0, accept: (v) => { got.push(v); remoteIrrSeen.push(pc.ioapic.remoteIrr(19)); } });
  // Remapping on with a 256-entry table; entry 5 = vector 0x41 to APIC 0, level, SID of the I/O APIC.
  const t = pc.mem.alloc(256 * 16, 4096);
  const unit = pc.ioapicUnit;
  unit.writeIrta(t.addr | IRTA_EIME | 7);
  unit.writeGcmd(DMA_GCMD_SIRTP);
  unit.writeGcmd(DMA_GCMD_IRE);
  setU32(t.bytes, 5 * 16, IRTE_P | IRTE_TM | (0x41 << IRTE_VECTOR_SHIFT));
  setU32(t.bytes, 5 * 16 + 4, 0);
  setU32(t.bytes, 5 * 16 + 8, IOAPIC_SOURCE_ID | (SVT_VERIFY_SID_SQ << IRTE_SVT_SHIFT));
  pc.writeEntry(19, 'hi', (IOAPIC_RTE_HI_FORMAT_REMAPPABLE | (5 << IOAPIC_RTE_HI_INDEX_SHIFT)) >>> 0);
  pc.writeEntry(19, 'lo', 19 | IOAPIC_RTE_LEVEL);
  const edu = m.pci.find('0000:00:03.0')!;
  return { m, pc, got, remoteIrrSeen, edu };
}

describe('PcInterrupts', () => {
  it('GSI 19 (the edu pin) reaches the CPU through the remapping entry the redirection entry names', () => {
    const { pc, got, edu } = board();
    edu.setIrqLevel(true);
    expect(got).toEqual([0x41]);
    expect(pc.ioapicUnit.stats.remapped).toBe(1);
    expect(pc.ioapicMessages).toBe(1);
  });

  it('remote IRR is already set when the CPU sees the message; an EOI with the line high fires again', () => {
    const { pc, got, remoteIrrSeen, edu } = board();
    edu.setIrqLevel(true);
    expect(remoteIrrSeen).toEqual([true]);
    edu.setIrqLevel(false);
    edu.setIrqLevel(true);
    expect(got).toHaveLength(1);
    // EOI the version-0x11 way (edge write clears remote IRR), then restore the level entry.
    const lo = pc.ioapic.lo[19]!;
    pc.writeEntry(19, 'lo', (lo | IOAPIC_RTE_MASK) & ~IOAPIC_RTE_LEVEL);
    pc.writeEntry(19, 'lo', lo);
    expect(got).toEqual([0x41, 0x41]);
    // And through the EOI register this version-0x20 I/O APIC has, written with the pin (the vector
    // field of a remappable entry).
    edu.setIrqLevel(false);
    edu.setIrqLevel(true);
    expect(got).toHaveLength(2);
    pc.writeEoi(19);
    expect(got).toEqual([0x41, 0x41, 0x41]);
  });

  it('a device MSI in remappable format is remapped; with remapping on, a compatibility-format MSI is blocked', () => {
    const { pc, got, m } = board();
    const nic = m.pci.find('0000:06:00.0')!;
    pc.vtd.deliver(nic, 0xfee00000 | 0, 0, 0x30);
    expect(got).toEqual([]);
    expect(pc.ioapicUnit.stats.faults).toBe(1);
  });
});
