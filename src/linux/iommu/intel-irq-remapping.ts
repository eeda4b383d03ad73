// drivers/iommu/intel/irq_remapping.c: Linux's interrupt-remapping driver for VT-d. At boot it
// allocates the interrupt remapping table (2^16 entries, INTR_REMAP_TABLE_ENTRIES) in machine memory,
// points the unit at it (IRTA with EIME: the host runs in x2APIC mode), turns on queued invalidation
// and remapping, and leaves compatibility-format interrupts blocked (CFI clear). Every host interrupt
// that comes from a device or the I/O APIC then owns table entries: alloc_irte() takes a naturally
// aligned block (a power of two, for multi-message MSI), modify_irte() writes the 128-bit entry and
// flushes the unit's interrupt entry cache for that index (qi_flush_iec), and the device is programmed
// with a remappable-format message naming the index (MSI: handle = index, SHV = 1, data = sub-handle).
// The source-id check follows set_msi_sid(): the device's own requester ID, SVT = verify SID with
// SQ = all 16 bits, unless a bridge aliases its requests (pci_for_each_dma_alias): behind a PCIe-to-PCI
// bridge the entry verifies a bus range instead (SVT = verify bus), since only the bus is certain;
// behind a conventional bridge, which forwards the requests as its own, the entry verifies the
// bridge's requester ID. The I/O APIC's entries use its DMAR source-id.

import { setU32 } from '../../../abi/bytes.js';
import type { PcInterrupts } from '../../hw/x86/pc-interrupts.js';
import { IRTE_P, IRTE_SIZE, IRTE_SQ_SHIFT, IRTE_SVT_SHIFT, IRTE_TM, IRTE_VECTOR_SHIFT, SVT_VERIFY_BUS, SVT_VERIFY_SID_SQ } from '../../hw/iommu/vtd/irte.js';
import { DMA_GCMD_IRE, DMA_GCMD_QIE, DMA_GCMD_SIRTP, IRTA_EIME } from '../../hw/iommu/vtd/regs.js';
import type { DrhdUnit } from '../../hw/iommu/vtd/drhd.js';
import type { KernelLog } from '../printk.js';
import type { PciDev } from '../pci/pci-dev.js';
import { PCI_EXP_TYPE_PCIE_BRIDGE, PCI_EXP_TYPE_PCI_BRIDGE } from '../../../include-ts/linux/pci_regs.js';

export const INTR_REMAP_TABLE_REG_SIZE = 0xf;
export const INTR_REMAP_TABLE_ENTRIES = 1 << (INTR_REMAP_TABLE_REG_SIZE + 1);

export class IntelIrqRemapping {
  readonly unit: DrhdUnit;
  readonly tableAddr: number;
  private readonly table: Uint8Array;
  private readonly used = new Uint8Array(INTR_REMAP_TABLE_ENTRIES);
  /** Entries in use (inspection). */
  inUse = 0;

  constructor(platform: PcInterrupts, log: KernelLog) {
    this.unit = platform.ioapicUnit;
    const r = platform.mem.alloc(INTR_REMAP_TABLE_ENTRIES * IRTE_SIZE, 4096);
    this.tableAddr = r.addr;
    this.table = r.bytes;
    // intel_setup_irq_remapping() + iommu_set_irq_remapping() + intel_enable_irq_remapping()
    this.unit.writeIrta(r.addr | IRTA_EIME | INTR_REMAP_TABLE_REG_SIZE);
    this.unit.writeGcmd(DMA_GCMD_SIRTP);
    this.unit.writeGcmd(DMA_GCMD_QIE);
    this.unit.writeGcmd(DMA_GCMD_QIE | DMA_GCMD_IRE);
    log.info(`DMAR-IR: IOAPIC id 8 under DRHD base  0xfed91000 IOMMU ${this.unit.index}`);
    log.info('DMAR-IR: Queued invalidation will be enabled to support x2apic and Intr-remapping.');
    log.info('DMAR-IR: Enabled IRQ remapping in x2apic mode');
  }

  /** alloc_irte(): a naturally aligned block of `count` (rounded up to a power of two) entries, or -1. */
  alloc(count: number): number {
    let n = 1;
    while (n < count) n <<= 1;
    for (let base = 0; base + n <= INTR_REMAP_TABLE_ENTRIES; base += n) {
      let free = true;
      for (let i = base; i < base + n; i++) {
        if (this.used[i]) {
          free = false;
          break;
        }
      }
      if (!free) continue;
      this.used.fill(1, base, base + n);
      this.inUse += n;
      return base;
    }
    return -1;
  }

  /** free_irte(): clears and releases the block. */
  free(base: number, count: number): void {
    let n = 1;
    while (n < count) n <<= 1;
    for (let i = base; i < base + n; i++) {
      if (!this.used[i]) continue;
      this.used[i] = 0;
      this.inUse--;
      this.table.fill(0, i * IRTE_SIZE, (i + 1) * IRTE_SIZE);
    }
    this.unit.invalidateIec(false, base, Math.log2(n));
  }

  /**
   * modify_irte(): a remapped-format entry (fixed, physical destination) and the IEC flush. `source` is
   * the entry's SID, SQ and SVT fields as irteSid() or irteVerifyBus() make them.
   */
  modify(index: number, vector: number, destApicId: number, level: boolean, source: number): void {
    const o = index * IRTE_SIZE;
    const t = this.table;
    setU32(t, o, (IRTE_P | (level ? IRTE_TM : 0) | (vector << IRTE_VECTOR_SHIFT)) >>> 0);
    setU32(t, o + 4, destApicId >>> 0);
    setU32(t, o + 8, source >>> 0);
    setU32(t, o + 12, 0);
    this.unit.invalidateIec(false, index, 0);
  }

  /** The raw entry (inspection). */
  entry(index: number): Uint8Array {
    return this.table.subarray(index * IRTE_SIZE, (index + 1) * IRTE_SIZE);
  }
}

/** SQ_ALL_16: every bit of the SID is compared. */
const SQ_ALL_16 = 0;

/** set_irte_sid(irte, SVT_VERIFY_SID_SQ, SQ_ALL_16, sid). */
export function irteSid(sid: number): number {
  return (sid & 0xffff) | (SQ_ALL_16 << IRTE_SQ_SHIFT) | (SVT_VERIFY_SID_SQ << IRTE_SVT_SHIFT);
}

/** set_irte_verify_bus(): requester buses start..end. */
export function irteVerifyBus(start: number, end: number): number {
  return ((start & 0xff) << 8) | (end & 0xff) | (SQ_ALL_16 << IRTE_SQ_SHIFT) | (SVT_VERIFY_BUS << IRTE_SVT_SHIFT);
}

/**
 * pci_for_each_dma_alias() (drivers/pci/search.c): calls `fn` with each requester ID `pdev`'s requests
 * may carry and the device that produced it, in the order the kernel visits them: its own, then each
 * bridge on the way up that takes ownership (a PCIe-to-PCI bridge: its secondary bus, devfn 0; a
 * PCI-to-PCIe bridge or a conventional bridge: its own ID). PCIe ports do not alias. No DMA alias
 * quirks are modeled.
 */
export function forEachDmaAlias(pdev: PciDev, fn: (dev: PciDev, alias: number) => void): void {
  fn(pdev, pdev.hw.rid);
  for (let br = pdev.parent; br !== null; br = br.parent) {
    if (!br.isPcie) fn(br, br.hw.rid);
    else if (br.pcieType === PCI_EXP_TYPE_PCI_BRIDGE) fn(br, br.subordinate!.secondary.number << 8);
    else if (br.pcieType === PCI_EXP_TYPE_PCIE_BRIDGE) fn(br, br.hw.rid);
  }
}

/** The requester IDs forEachDmaAlias() visits. */
export function dmaAliases(pdev: PciDev): number[] {
  const out: number[] = [];
  forEachDmaAlias(pdev, (_dev, alias) => out.push(alias));
  return out;
}

/** set_msi_sid() (drivers/iommu/intel/irq_remapping.c): the source validation of `pdev`'s MSI entries. */
export function setMsiSid(pdev: PciDev): number {
  const bus = pdev.hw.rid >>> 8;
  // set_msi_sid_cb(): the last alias, the bus of the device that produced it, and how many aliases
  // share a bus with the one before.
  let alias = 0;
  let aliasDevBus = bus;
  let count = 0;
  let busmatch = 0;
  forEachDmaAlias(pdev, (dev, a) => {
    if (count === 0 || a >>> 8 === alias >>> 8) busmatch++;
    alias = a;
    aliasDevBus = dev.hw.rid >>> 8;
    count++;
  });
  // An alias on another bus than the device that made it (a PCIe-to-PCI bridge's secondary bus): only
  // the bus range is certain.
  if (alias >>> 8 !== aliasDevBus) return irteVerifyBus(alias >>> 8, bus);
  // Several aliases, all on one bus: verify the bus.
  if (count >= 2 && busmatch === count) return irteVerifyBus(bus, bus);
  // A bridge on an upstream bus (a conventional bridge takes ownership): a topology alias, use it.
  if (aliasDevBus !== bus) return irteSid(alias);
  return irteSid(pdev.hw.rid);
}
