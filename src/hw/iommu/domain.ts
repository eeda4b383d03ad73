// An IOMMU translation domain (Intel VT-d 3.x ch. 3, "DMA remapping"; AMD-Vi alike): the I/O page
// tables one or more devices translate through. Modeled as a sorted list of extents, each mapping a
// page-aligned IOVA range onto memory (a Uint8Array: the pinned pages of a process's mapping) or onto
// another device's MMIO window (peer-to-peer: a BAR a VMM mapped and handed to MAP_DMA), with read/write
// permissions. A translation that hits no extent, or lacks the permission, faults. A peer-to-peer
// transaction to a window that does not decode (its function's Memory Space is off) ends with an
// Unsupported Request: no memory or register changes, no IOMMU fault, and the DMA fails.

import type { MmioHandler } from '../mmio.js';

export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;

/** A device's MMIO window as a DMA target: `size` bytes from `base` of `handler`. */
export interface MmioWindow {
  readonly handler: MmioHandler;
  readonly base: number;
  readonly size: number;
  /** Whether the window decodes now (a BAR does while its function's Memory Space is enabled). */
  readonly decodes: () => boolean;
}

export interface DomainExtent {
  /** The IOVA the mapping was made at (iommu_unmap() takes it back whole, even after detach() split it). */
  readonly origin: number;
  readonly iova: number;
  readonly size: number;
  /** Memory, or null for a peer device's window (`mmio`). */
  readonly mem: Uint8Array | null;
  readonly mmio: MmioWindow | null;
  readonly prot: number;
}

export class IommuDomain {
  /** Sorted by iova, never overlapping. */
  private readonly extents: DomainExtent[] = [];

  get mappings(): readonly DomainExtent[] {
    return this.extents;
  }

  /** Index of the extent containing `iova`, or -1. */
  private find(iova: number): number {
    const e = this.extents;
    let lo = 0;
    let hi = e.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = e[mid]!;
      if (iova < x.iova) hi = mid - 1;
      else if (iova >= x.iova + x.size) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** iommu_map() of memory or a peer's MMIO window: the range must be free (the caller tracks what it mapped). */
  map(iova: number, target: Uint8Array | MmioWindow, prot: number): void {
    const size = target instanceof Uint8Array ? target.length : target.size;
    for (const x of this.extents) {
      if (iova < x.iova + x.size && x.iova < iova + size) throw new Error(`iommu domain: [0x${iova.toString(16)}, +0x${size.toString(16)}) overlaps a mapping`);
    }
    const mem = target instanceof Uint8Array ? target : null;
    this.extents.push({ origin: iova, iova, size, mem, mmio: mem === null ? (target as MmioWindow) : null, prot });
    this.extents.sort((a, b) => a.iova - b.iova);
  }

  /** iommu_unmap() of exactly one earlier mapping made at `iova`; returns the bytes unmapped. */
  unmap(iova: number): number {
    let n = 0;
    for (let i = this.extents.length - 1; i >= 0; i--) {
      const x = this.extents[i]!;
      if (x.origin !== iova) continue;
      n += x.size;
      this.extents.splice(i, 1);
    }
    return n;
  }

  /**
   * The memory [start, end) of `buffer` stopped being the mapped process's (src/linux/mm/pins.ts): the
   * extents mapping it keep the pages they had, now `copy()`.
   */
  detach(buffer: ArrayBufferLike, start: number, end: number, copy: () => ArrayBuffer): void {
    const moved = moveViews(this.extents, buffer, start, end, copy, (x, iova, mem) => ({ ...x, iova, size: mem.length, mem }));
    this.extents.splice(0, this.extents.length, ...moved);
  }

  clear(): void {
    this.extents.length = 0;
  }

  /**
   * Checks that [iova, iova+len) is fully mapped with `prot`; returns the first failing IOVA, or -1.
   */
  check(iova: number, len: number, prot: number): number {
    let a = iova;
    const end = iova + len;
    while (a < end) {
      const i = this.find(a);
      if (i < 0) return a;
      const x = this.extents[i]!;
      if ((x.prot & prot) !== prot) return a;
      a = x.iova + x.size;
    }
    return -1;
  }

  /**
   * Copies between the mapped targets and `buf` (after check() passed); false if a peer window on the
   * way does not decode (the transaction is dropped there; what came before it was done).
   */
  copy(iova: number, buf: Uint8Array, toMemory: boolean): boolean {
    let done = 0;
    while (done < buf.length) {
      const a = iova + done;
      const x = this.extents[this.find(a)]!;
      const off = a - x.iova;
      const n = Math.min(buf.length - done, x.size - off);
      const mem = x.mem;
      if (mem !== null) {
        if (toMemory) mem.set(buf.subarray(done, done + n), off);
        else buf.set(mem.subarray(off, off + n), done);
      } else if (!peerCopy(x.mmio!, off, buf.subarray(done, done + n), toMemory)) {
        return false;
      }
      done += n;
    }
    return true;
  }
}

/**
 * A peer-to-peer transfer to or from an MMIO window: dword accesses where aligned, byte accesses at
 * the unaligned ends (the target sees the byte enables of the TLPs).
 */
function peerCopy(w: MmioWindow, off: number, buf: Uint8Array, write: boolean): boolean {
  if (!w.decodes()) return false;
  const h = w.handler;
  let i = 0;
  while (i < buf.length) {
    const o = w.base + off + i;
    if ((o & 3) === 0 && buf.length - i >= 4) {
      if (write) h.write(o, 4, (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0);
      else {
        const v = h.read(o, 4);
        buf[i] = v & 0xff;
        buf[i + 1] = (v >>> 8) & 0xff;
        buf[i + 2] = (v >>> 16) & 0xff;
        buf[i + 3] = (v >>> 24) & 0xff;
      }
      i += 4;
    } else {
      if (write) h.write(o, 1, buf[i]!);
      else buf[i] = h.read(o, 1) & 0xff;
      i++;
    }
  }
  return true;
}

/**
 * Splits `views` (sorted by `iova`, each mapping an IOVA range onto memory, or onto none) where they
 * alias [start, end) of `buffer`: the aliasing parts become views of `copy()`. Returns the new list.
 */
export function moveViews<T extends { readonly iova: number; readonly mem: Uint8Array | null }>(
  views: readonly T[],
  buffer: ArrayBufferLike,
  start: number,
  end: number,
  copy: () => ArrayBuffer,
  make: (old: T, iova: number, mem: Uint8Array) => T,
): T[] {
  const out: T[] = [];
  for (const v of views) {
    const m = v.mem;
    const a = m === null ? 0 : Math.max(start, m.byteOffset);
    const b = m === null ? 0 : Math.min(end, m.byteOffset + m.length);
    if (m === null || m.buffer !== buffer || a >= b) {
      out.push(v);
      continue;
    }
    const lo = a - m.byteOffset;
    const hi = b - m.byteOffset;
    if (lo > 0) out.push(make(v, v.iova, m.subarray(0, lo)));
    out.push(make(v, v.iova + lo, new Uint8Array(copy(), a - start, b - a)));
    if (hi < m.length) out.push(make(v, v.iova + hi, m.subarray(hi)));
  }
  return out;
}
