// A PCI function's configuration space as hardware implements it (PCI Local Bus 3.0 ch. 6, PCIe Base
// 4.0 ch. 7): 256 bytes for conventional PCI, 4096 for PCI Express, with per-bit write masks (read-only
// bits ignore writes) and write-1-to-clear masks (status/error bits). Capabilities are laid out by the
// builder below: the standard list from 0x34 (ID, next), the extended list from 0x100 (ID[15:0],
// version[19:16], next[31:20]). Register semantics beyond "bits that stick" (BARs, command, MSI and
// MSI-X control) are applied by the owning PciFunction after each write.

import { getLE, setLE, getU16, getU32, setU16, setU32 } from '../../../abi/bytes.js';

export interface CapInfo {
  readonly id: number;
  readonly offset: number;
  readonly length: number;
  readonly extended: boolean;
}

export class ConfigSpace {
  readonly bytes: Uint8Array;
  /** Bits software may change. */
  readonly wmask: Uint8Array;
  /** Bits a write of 1 clears (RW1C). */
  readonly w1cmask: Uint8Array;
  readonly caps: CapInfo[] = [];
  /** Where the next standard capability goes (builder cursor). */
  private nextStd = 0x40;
  private lastStd = -1;
  private lastExt = -1;

  constructor(readonly size: 256 | 4096) {
    this.bytes = new Uint8Array(size);
    this.wmask = new Uint8Array(size);
    this.w1cmask = new Uint8Array(size);
  }

  read(off: number, size: number): number {
    return getLE(this.bytes, off, size);
  }

  /** The hardware write: writable bits take the value, RW1C bits clear where 1 is written. */
  write(off: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const b = (value >>> (i * 8)) & 0xff;
      const o = off + i;
      const wm = this.wmask[o]!;
      const cm = this.w1cmask[o]!;
      this.bytes[o] = ((this.bytes[o]! & ~wm) | (b & wm)) & ~(b & cm);
    }
  }

  // ---- builder helpers (used when a device model is constructed) ------------------------------

  u8(off: number, v: number): this {
    this.bytes[off] = v & 0xff;
    return this;
  }
  u16(off: number, v: number): this {
    setU16(this.bytes, off, v);
    return this;
  }
  u32(off: number, v: number): this {
    setU32(this.bytes, off, v);
    return this;
  }
  get16(off: number): number {
    return getU16(this.bytes, off);
  }
  get32(off: number): number {
    return getU32(this.bytes, off);
  }
  /** Marks `mask` (of `size` bytes at `off`) writable. */
  writable(off: number, size: number, mask: number): this {
    setLE(this.wmask, off, size, mask);
    return this;
  }
  /** Marks `mask` (of `size` bytes at `off`) write-1-to-clear. */
  w1c(off: number, size: number, mask: number): this {
    setLE(this.w1cmask, off, size, mask);
    return this;
  }

  /**
   * Appends a standard capability of `length` bytes at `at` (or the next free dword-aligned offset)
   * and links it into the list. Returns its offset.
   */
  addCap(id: number, length: number, at?: number): number {
    const off = at ?? this.nextStd;
    if (off < 0x40 || off + length > 0x100 || off & 3) throw new RangeError(`capability 0x${id.toString(16)} at 0x${off.toString(16)} does not fit the standard area`);
    this.bytes[off] = id;
    this.bytes[off + 1] = 0;
    if (this.lastStd < 0) {
      this.bytes[0x34] = off;
      this.bytes[0x06] = this.bytes[0x06]! | 0x10; // Status: Capabilities List
    } else this.bytes[this.lastStd + 1] = off;
    this.lastStd = off;
    this.nextStd = Math.max(this.nextStd, (off + length + 3) & ~3);
    this.caps.push({ id, offset: off, length, extended: false });
    return off;
  }

  /** Appends an extended capability at `at` (>= 0x100, dword aligned) and links it. */
  addExtCap(id: number, version: number, length: number, at: number): number {
    if (this.size !== 4096) throw new RangeError('extended capabilities need a 4096-byte (PCIe) configuration space');
    if (at < 0x100 || at + length > 0x1000 || at & 3) throw new RangeError(`extended capability at 0x${at.toString(16)} does not fit`);
    setU32(this.bytes, at, (id & 0xffff) | ((version & 0xf) << 16));
    if (this.lastExt >= 0) {
      const h = getU32(this.bytes, this.lastExt);
      setU32(this.bytes, this.lastExt, ((h & 0xfffff) | (at << 20)) >>> 0);
    } else if (at !== 0x100) {
      throw new RangeError('the first extended capability must be at 0x100');
    }
    this.lastExt = at;
    this.caps.push({ id, offset: at, length, extended: true });
    return at;
  }

  /** The first capability with `id` (standard or extended), if present. */
  findCap(id: number, extended = false): CapInfo | undefined {
    return this.caps.find((c) => c.id === id && c.extended === extended);
  }
}
