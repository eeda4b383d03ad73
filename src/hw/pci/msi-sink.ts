// Where a PCI function's message-signalled interrupts go: an MSI or MSI-X message is a DMA write of
// `data` to `address` (PCI 3.0 §6.8). The platform decides what that write means (on x86, a write to
// 0xfeexxxxx reaches a LAPIC, possibly through interrupt remapping). The default sink records the
// messages; issue 4 installs the IOMMU interrupt-remapping / host vector path behind `target`.

import type { PciFunction } from './function.js';

/**
 * Address and data travel as signed 32-bit numbers (`| 0`): values like 0xFEE00000 would otherwise be
 * heap-allocated on the way through every call of the per-interrupt path. Read them with `>>> 0`.
 */
export interface MsiSink {
  deliver(source: PciFunction, addrLo: number, addrHi: number, data: number): void;
}

/** The platform's message router: one stable object devices call, whose target can be swapped. */
export class MsiRouter implements MsiSink {
  /** Messages delivered since boot (inspection). */
  count = 0;
  target: MsiSink | null = null;

  deliver(source: PciFunction, addrLo: number, addrHi: number, data: number): void {
    this.count++;
    if (this.target !== null) this.target.deliver(source, addrLo, addrHi, data);
  }
}
