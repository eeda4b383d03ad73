// MSI-X as the function implements it (PCI Local Bus 3.0 §6.8.2; ../shared/reference/kvm.md §6.2): a
// table of 16-byte entries (address low/high, data, vector control with the Mask bit, reset value
// masked) and a Pending Bit Array, both in a memory BAR; the capability's Function Mask and Enable bits.
// A vector raised while masked (vector Mask or Function Mask) is not sent: its PBA bit is set, and when
// the vector becomes unmasked the function sends it and clears the bit. The PBA is read-only: writes
// are ignored (and counted, since software that writes it is wrong; QEMU's libqos once did).

import { getU16, getU32 } from '../../../abi/bytes.js';
import { PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_QSIZE } from '../../../include-ts/linux/pci_regs.js';
import type { ConfigSpace } from './config-space.js';
import type { PciFunction } from './function.js';

export class MsixState {
  readonly vectors: number;
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
  /** The table as dwords (entry v: words 4v..4v+3 = address low, address high, data, vector control).
   *  Dwords, not bytes: the per-message path reads three whole fields and the Mask bit. Signed, so a
   *  message address like 0xfee00000 travels as a small integer (see MsiSink). */
  readonly words: Int32Array;
  /** PBA as bytes (bit v of byte v>>3), so reads of any width are little-endian slices. */
  readonly pba: Uint8Array;
  /** Messages sent per vector (inspection). */
  readonly sent: Uint32Array;
  /** Writes software attempted on the read-only PBA (inspection). */
  pbaWrites = 0;

  constructor(
    private readonly fn: PciFunction,
    private readonly cs: ConfigSpace,
    readonly offset: number,
  ) {
    this.vectors = (getU16(cs.bytes, offset + 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
    const t = getU32(cs.bytes, offset + 4);
    const p = getU32(cs.bytes, offset + 8);
    this.tableBar = t & 7;
    this.tableOffset = t & ~7;
    this.pbaBar = p & 7;
    this.pbaOffset = p & ~7;
    this.words = new Int32Array(this.vectors * 4);
    this.pba = new Uint8Array(Math.ceil(this.vectors / 64) * 8);
    this.sent = new Uint32Array(this.vectors);
    this.reset();
  }

  get tableSize(): number {
    return this.vectors * 16;
  }

  get pbaSize(): number {
    return this.pba.length;
  }

  get control(): number {
    return getU16(this.cs.bytes, this.offset + 2);
  }

  get enabled(): boolean {
    // Message Control bit 15 (high byte bit 7), read as a byte: this runs on every INTx level change.
    return (this.cs.bytes[this.offset + 3]! & 0x80) !== 0;
  }

  get functionMasked(): boolean {
    return (this.control & PCI_MSIX_FLAGS_MASKALL) !== 0;
  }

  vectorMasked(v: number): boolean {
    return (this.words[v * 4 + 3]! & 1) !== 0;
  }

  /** Dword `w` (0-3) of entry `v`, unsigned (inspection). */
  entryWord(v: number, w: number): number {
    return this.words[v * 4 + w]! >>> 0;
  }

  pending(v: number): boolean {
    return ((this.pba[v >> 3]! >> (v & 7)) & 1) !== 0;
  }

  /** The function wants to signal vector `v`. False if MSI-X is disabled (or `v` is out of range). */
  notify(v: number): boolean {
    // Message Control's high byte: bit 7 = Enable, bit 6 = Function Mask (one read on the per-message path).
    const ctlHi = this.cs.bytes[this.offset + 3]!;
    if ((ctlHi & 0x80) === 0 || v < 0 || v >= this.vectors) return false;
    if ((ctlHi & 0x40) !== 0 || (this.words[v * 4 + 3]! & 1) !== 0) {
      this.pba[v >> 3] = this.pba[v >> 3]! | (1 << (v & 7));
      if (this.fn.trace.active) this.traceHop('msi-pending', v, 'MSI-X vector masked: PBA bit set');
      return true;
    }
    this.send(v);
    return true;
  }

  private send(v: number): void {
    const t = this.words;
    const o = v * 4;
    this.sent[v]!++;
    const fn = this.fn;
    if (fn.trace.active) this.traceHop('msi-send', v, 'MSI-X');
    fn.msiSink.deliver(fn, t[o]!, t[o + 1]!, t[o + 2]!);
  }

  /** Out of line: the per-message path stays small enough to inline. */
  private traceHop(hop: 'msi-pending' | 'msi-send', v: number, detail: string): void {
    this.fn.trace.emit({ type: 'irq', t: this.fn.sched.now, hop, at: this.fn.bdf, vector: v, detail });
  }

  /** Sends vector `v` if it is pending and now unmasked, clearing its PBA bit. */
  private flush(v: number): void {
    if (!this.pending(v) || !this.enabled || this.functionMasked || this.vectorMasked(v)) return;
    this.pba[v >> 3] = this.pba[v >> 3]! & ~(1 << (v & 7));
    this.send(v);
  }

  /** A read of `size` bytes at `off` (little-endian; an access may span dwords, QEMU splits none). */
  tableRead(off: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.tableByte(off + i);
    return v >>> 0;
  }

  private tableByte(o: number): number {
    return (this.words[o >> 2]! >>> ((o & 3) * 8)) & 0xff;
  }

  tableWrite(off: number, size: number, value: number): void {
    const w = this.words;
    for (let i = 0; i < size; i++) {
      const o = off + i;
      const sh = (o & 3) * 8;
      w[o >> 2] = (w[o >> 2]! & ~(0xff << sh)) | (((value >>> (i * 8)) & 0xff) << sh);
    }
    // Vector control: bits other than Mask are reserved (read as zero).
    const v = off >> 4;
    const end = (off + size - 1) >> 4;
    for (let e = v; e <= end; e++) {
      w[e * 4 + 3] = w[e * 4 + 3]! & 1;
      this.flush(e);
    }
  }

  pbaRead(off: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | (off + i < this.pba.length ? this.pba[off + i]! : 0);
    return v >>> 0;
  }

  pbaWrite(): void {
    this.pbaWrites++;
  }

  /** After the capability's control word changed: unmasking (function or enable) sends what is pending. */
  afterControlWrite(): void {
    if (!this.enabled || this.functionMasked) return;
    for (let b = 0; b < this.pba.length; b++) {
      if (this.pba[b] === 0) continue;
      for (let i = 0; i < 8; i++) {
        const v = b * 8 + i;
        if (v < this.vectors) this.flush(v);
      }
    }
  }

  /** Reset values: every vector masked, address/data zero, nothing pending. */
  reset(): void {
    this.words.fill(0);
    for (let v = 0; v < this.vectors; v++) this.words[v * 4 + 3] = 1;
    this.pba.fill(0);
  }
}
