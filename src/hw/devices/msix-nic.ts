// A NIC-like PCI Express endpoint with N queues, one MSI-X vector per queue (N up to 2048, the MSI-X
// maximum). The MSI-X table and PBA live in BAR3 (as on Intel's 82574L/I210 family); BAR0 holds the
// registers. A per-vector doorbell lets software (and tests) make it raise any vector:
//   0x00 CTRL (RW)   0x08 STATUS (RO, link up)   0x10 DOORBELL (WO: vector number to raise)
//   0x14 ICR (read-to-clear cause bits, for INTx mode)   0x18 NQUEUES (RO)
// With MSI-X disabled a doorbell sets ICR bit (vector mod 32) and asserts INTx until ICR is read.

import { addAerCap, addDsnCap, addMsixCap, addPcieCap, addPmCap } from '../pci/caps.js';
import { PciFunction, type PciIdentity } from '../pci/function.js';
import { PCI_EXP_TYPE_ENDPOINT } from '../../../include-ts/linux/pci_regs.js';

export const NIC_CTRL = 0x00;
export const NIC_STATUS = 0x08;
export const NIC_DOORBELL = 0x10;
export const NIC_ICR = 0x14;
export const NIC_NQUEUES = 0x18;
export const NIC_MSIX_BAR = 3;

export interface MsixNicOptions {
  /** Queues, one MSI-X vector each (1..2048). */
  readonly queues: number;
  readonly id?: Partial<PciIdentity>;
  readonly serial?: number;
}

export class MsixNic extends PciFunction {
  readonly queues: number;
  ctrl = 0;
  icr = 0;
  /** Doorbells rung (inspection). */
  doorbells = 0;

  constructor(opts: MsixNicOptions) {
    const n = opts.queues;
    if (!Number.isInteger(n) || n < 1 || n > 2048) throw new RangeError(`MSI-X NIC queue count ${n} is outside 1..2048`);
    const tableSize = n * 16;
    const pbaOffset = Math.ceil(tableSize / 0x1000) * 0x1000;
    const pbaSize = Math.ceil(n / 64) * 8;
    const bar3 = Math.max(0x4000, 2 ** Math.ceil(Math.log2(pbaOffset + pbaSize)));
    super({
      id: { vendor: 0x8086, device: 0x10d3, revision: 0x00, classCode: 0x020000, subVendor: 0x8086, subDevice: 0xa01f, name: 'MSI-X NIC (82574L-like)', ...opts.id },
      pcie: true,
      pin: 1,
      bars: [{ kind: 'mem32', size: 0x20000 }, undefined, { kind: 'io', size: 32 }, { kind: 'mem32', size: bar3 }],
    });
    this.queues = n;
    addPmCap(this.cfg, 0x40);
    addPcieCap(this.cfg, { type: PCI_EXP_TYPE_ENDPOINT, width: 1, speed: 1 }, 0x60);
    addMsixCap(this.cfg, { vectors: n, tableBar: NIC_MSIX_BAR, tableOffset: 0, pbaBar: NIC_MSIX_BAR, pbaOffset }, 0xa0);
    addAerCap(this.cfg, 0x100);
    addDsnCap(this.cfg, 0x140, opts.serial ?? 0x12345678, 0x00aabbcc);
    this.finish();
  }

  /** Makes the device raise `vector` as if queue `vector` had work (the doorbell's effect). */
  ring(vector: number): void {
    this.doorbells++;
    if (this.msix!.notify(vector)) return;
    this.icr = (this.icr | (1 << (vector & 31))) >>> 0;
    this.setIrqLevel(true);
  }

  protected override mmioRead(bar: number, off: number, size: 1 | 2 | 4): number {
    if (bar !== 0 || size !== 4) return 0;
    switch (off) {
      case NIC_CTRL: return this.ctrl;
      case NIC_STATUS: return 0x2;
      case NIC_ICR: {
        const v = this.icr;
        this.icr = 0;
        this.setIrqLevel(false);
        return v;
      }
      case NIC_NQUEUES: return this.queues;
      default: return 0;
    }
  }

  protected override mmioWrite(bar: number, off: number, size: 1 | 2 | 4, v: number): void {
    if (bar !== 0 || size !== 4) return;
    if (off === NIC_CTRL) this.ctrl = v;
    else if (off === NIC_DOORBELL && v < this.queues) this.ring(v);
  }

  protected override onReset(): void {
    this.ctrl = 0;
    this.icr = 0;
  }
}
