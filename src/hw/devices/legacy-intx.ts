// A conventional PCI device from before PCI 2.3: it has an INTx pin but neither Interrupt Status
// (Status bit 3) nor Interrupt Disable (Command bit 10) — the kind of device VFIO can only assign with
// an exclusive interrupt line, masked at the interrupt controller (seed 000). BAR0 is 32 bytes of I/O:
//   0x00 RAISE (WO: any value asserts the interrupt)   0x04 ISR (RO: 1 while asserted)
//   0x08 ACK (WO: deasserts)   0x0c SCRATCH (RW)
// BAR1 is a 4 KiB MMIO scratch window.

import { PciFunction } from '../pci/function.js';
import { SparseMemory } from './sparse-memory.js';

export class LegacyIntxDevice extends PciFunction {
  scratch = 0;
  readonly mem = new SparseMemory(0x1000);

  constructor() {
    super({
      id: { vendor: 0x1234, device: 0x0bad, revision: 0x01, classCode: 0x078000, name: 'legacy INTx device (no PCI 2.3 masking)' },
      pcie: false,
      pin: 1,
      pci23: false,
      bars: [{ kind: 'io', size: 32 }, { kind: 'mem32', size: 0x1000 }],
    });
    this.finish();
  }

  protected override mmioRead(bar: number, off: number, size: 1 | 2 | 4): number {
    if (bar === 1) return this.mem.read(off, size);
    switch (off) {
      case 0x04: return this.irqLevel ? 1 : 0;
      case 0x0c: return this.scratch;
      default: return 0;
    }
  }

  protected override mmioWrite(bar: number, off: number, size: 1 | 2 | 4, v: number): void {
    if (bar === 1) return this.mem.write(off, size, v);
    switch (off) {
      case 0x00: this.setIrqLevel(true); break;
      case 0x08: this.setIrqLevel(false); break;
      case 0x0c: this.scratch = v; break;
      default: break;
    }
  }

  protected override onReset(): void {
    this.scratch = 0;
    this.mem.clear();
  }
}
