// MSI as the function implements it (PCI Local Bus 3.0 §6.8.1; ../shared/reference/kvm.md §6.1): the
// capability's Enable bit, Multiple Message Enable (MME: the function may use 2^MME vectors and ORs the
// vector number into the low MME bits of Message Data), and the optional per-vector Mask and Pending
// bits. A vector raised while masked sets its Pending bit and is not sent; when software unmasks it,
// the function sends it and clears Pending. Pending bits are read-only to software.

import { getS32, getU16, getU32 } from '../../../abi/bytes.js';
import { PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_MASKBIT, PCI_MSI_FLAGS_QMASK, PCI_MSI_FLAGS_QSIZE } from '../../../include-ts/linux/pci_regs.js';
import type { ConfigSpace } from './config-space.js';
import type { PciFunction } from './function.js';

export class MsiState {
  readonly is64: boolean;
  readonly maskable: boolean;
  /** Vectors the function is capable of (Multiple Message Capable). */
  readonly capable: number;
  private readonly dataOff: number;
  private readonly maskOff: number;
  private readonly pendOff: number;
  /** Messages sent per vector (inspection). */
  readonly sent = new Uint32Array(32);

  constructor(
    private readonly fn: PciFunction,
    private readonly cs: ConfigSpace,
    readonly offset: number,
  ) {
    const ctrl = getU16(cs.bytes, offset + 2);
    this.is64 = (ctrl & PCI_MSI_FLAGS_64BIT) !== 0;
    this.maskable = (ctrl & PCI_MSI_FLAGS_MASKBIT) !== 0;
    this.capable = 1 << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1);
    this.dataOff = offset + (this.is64 ? 0x0c : 0x08);
    this.maskOff = this.dataOff + 4;
    this.pendOff = this.dataOff + 8;
  }

  get control(): number {
    return getU16(this.cs.bytes, this.offset + 2);
  }

  get enabled(): boolean {
    // Message Control bit 0, read as a byte: this runs on every INTx level change.
    return (this.cs.bytes[this.offset + 2]! & 1) !== 0;
  }

  /** Vectors software enabled (2^MME, at most what the function is capable of). */
  get allocated(): number {
    return Math.min(this.capable, 1 << ((this.control & PCI_MSI_FLAGS_QSIZE) >> 4));
  }

  get maskBits(): number {
    return this.maskable ? getU32(this.cs.bytes, this.maskOff) : 0;
  }

  get pendingBits(): number {
    return this.maskable ? getU32(this.cs.bytes, this.pendOff) : 0;
  }

  private setPending(bits: number): void {
    const b = this.cs.bytes;
    const o = this.pendOff;
    b[o] = bits & 0xff;
    b[o + 1] = (bits >>> 8) & 0xff;
    b[o + 2] = (bits >>> 16) & 0xff;
    b[o + 3] = (bits >>> 24) & 0xff;
  }

  /**
   * The function wants to signal `vector`. Returns false if MSI is disabled (the device model then
   * uses INTx, or nothing) or the vector is not among those software enabled.
   */
  notify(vector: number): boolean {
    if (!this.enabled || vector >= this.allocated) return false;
    if (this.maskable && (this.maskBits >>> vector) & 1) {
      this.setPending((this.pendingBits | (1 << vector)) >>> 0);
      const tr = this.fn.trace;
      if (tr.active) tr.emit({ type: 'irq', t: this.fn.sched.now, hop: 'msi-pending', at: this.fn.bdf, vector, detail: 'MSI vector masked: pending bit set' });
      return true;
    }
    this.send(vector);
    return true;
  }

  private send(vector: number): void {
    const b = this.cs.bytes;
    const lo = getS32(b, this.offset + 4);
    const hi = this.is64 ? getS32(b, this.offset + 8) : 0;
    const n = this.allocated;
    const data = (getU16(b, this.dataOff) & ~(n - 1)) | vector;
    this.sent[vector]!++;
    const tr = this.fn.trace;
    if (tr.active) tr.emit({ type: 'irq', t: this.fn.sched.now, hop: 'msi-send', at: this.fn.bdf, vector, detail: 'MSI' });
    this.fn.msiSink.deliver(this.fn, lo, hi, data);
  }

  /** After software wrote the capability: a vector unmasked with its Pending bit set is sent now. */
  afterWrite(): void {
    if (!this.maskable || !this.enabled) return;
    let pend = this.pendingBits;
    const ready = pend & ~this.maskBits;
    if (ready === 0) return;
    for (let v = 0; v < 32; v++) {
      if ((ready >>> v) & 1) {
        pend &= ~(1 << v);
        this.setPending(pend >>> 0);
        this.send(v);
      }
    }
  }

  reset(): void {
    this.sent.fill(0);
  }
}
