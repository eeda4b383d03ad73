// VFIO capability chains (`struct vfio_info_cap_header`): the kernel-side builder and the copy-out
// protocol of drivers/vfio/vfio_main.c (vfio_info_cap_add / vfio_info_cap_shift) as used by
// VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO and VFIO_IOMMU_GET_INFO, plus a userspace walker.
//
// Kernel rules:
// - caps are appended at the tail, zero-filled; each is padded to 8 bytes since v6.6 (commit "vfio:
//   align capability structures", ALIGN(size, sizeof(u64)) in vfio_info_cap_add); before that there
//   was no padding (a 12-byte DMA_AVAIL cap left the next cap at a 4-byte boundary);
// - `next` is the offset of the next cap; the last cap has next = 0;
// - if argsz < sizeof(fixed struct) + caps size: the call still succeeds, argsz is rewritten to the
//   size needed and cap_offset is 0, and nothing past the fixed struct is written;
// - otherwise every non-zero `next` is shifted by sizeof(fixed struct), the caps are copied right after
//   the fixed struct and cap_offset = sizeof(fixed struct).

import { struct, u16, u32 } from './layout.js';

export const vfio_info_cap_header = struct('vfio_info_cap_header', {
  id: u16,
  version: u16,
  next: u32,
});

export interface CapChainOptions {
  /** Pad each capability to 8 bytes (kernels >= 6.6). Default true. */
  readonly align8?: boolean;
}

export interface CapCopyOut {
  /** The argsz to write back to userspace. */
  readonly argsz: number;
  /** The cap_offset to write back (0 when the buffer was too small). */
  readonly capOffset: number;
  /** True when the chain was copied after the fixed struct. */
  readonly copied: boolean;
}

export class CapChainBuilder {
  private buf = new Uint8Array(0);
  private lastHeader = -1;
  private readonly align8: boolean;

  constructor(opts: CapChainOptions = {}) {
    this.align8 = opts.align8 ?? true;
  }

  /** Total size of the chain in bytes. */
  get size(): number {
    return this.buf.length;
  }

  get empty(): boolean {
    return this.buf.length === 0;
  }

  /**
   * Appends a zeroed capability of `size` bytes (including its 8-byte header) and returns its bytes
   * so the caller can fill in the body after the header.
   */
  add(id: number, version: number, size: number): Uint8Array {
    if (size < vfio_info_cap_header.size) throw new RangeError(`capability size ${size} is smaller than its header`);
    const padded = this.align8 ? Math.ceil(size / 8) * 8 : size;
    const at = this.buf.length;
    const next = new Uint8Array(at + padded);
    next.set(this.buf);
    this.buf = next;
    const dv = new DataView(next.buffer);
    dv.setUint16(at, id, true);
    dv.setUint16(at + 2, version, true);
    dv.setUint32(at + 4, 0, true);
    if (this.lastHeader >= 0) dv.setUint32(this.lastHeader + 4, at, true);
    this.lastHeader = at;
    return next.subarray(at, at + size);
  }

  /**
   * The kernel's copy-out: `user` is the caller's whole buffer (argsz bytes as the kernel sees them),
   * `fixedSize` the kernel's sizeof() of the info struct.
   */
  copyOut(user: Uint8Array, fixedSize: number, argsz: number): CapCopyOut {
    const need = fixedSize + this.buf.length;
    if (this.buf.length === 0) return { argsz, capOffset: 0, copied: false };
    if (argsz < need) return { argsz: need, capOffset: 0, copied: false };
    const shifted = this.buf.slice();
    const dv = new DataView(shifted.buffer);
    for (let at = 0; ; ) {
      const next = dv.getUint32(at + 4, true);
      if (next === 0) break;
      dv.setUint32(at + 4, next + fixedSize, true);
      at = next;
    }
    user.set(shifted, fixedSize);
    return { argsz, capOffset: fixedSize, copied: true };
  }
}

export interface CapEntry {
  readonly id: number;
  readonly version: number;
  readonly next: number;
  /** Offset of the cap in the info buffer. */
  readonly offset: number;
  /** The cap's bytes from its header to the next cap (or the end of the buffer). */
  readonly bytes: Uint8Array;
}

/**
 * Walks a chain as userspace does after the ioctl returned: starting at `capOffset` (0 = no chain).
 * Throws on a `next` that points outside the buffer, backwards or into a cap already seen, which a
 * correct kernel never produces.
 */
export function walkCaps(info: Uint8Array, capOffset: number): CapEntry[] {
  const out: CapEntry[] = [];
  const dv = new DataView(info.buffer, info.byteOffset, info.byteLength);
  let at = capOffset;
  let prev = -1;
  while (at !== 0) {
    if (at <= prev) throw new RangeError(`capability chain loops back to offset ${at}`);
    if (at + vfio_info_cap_header.size > info.length) throw new RangeError(`capability at offset ${at} lies outside the ${info.length}-byte buffer`);
    const id = dv.getUint16(at, true);
    const version = dv.getUint16(at + 2, true);
    const next = dv.getUint32(at + 4, true);
    const end = next === 0 ? info.length : Math.min(next, info.length);
    out.push({ id, version, next, offset: at, bytes: info.subarray(at, end) });
    prev = at;
    at = next;
  }
  return out;
}

/** Finds the first capability with `id` in a chain. */
export function findCap(info: Uint8Array, capOffset: number, id: number): CapEntry | undefined {
  return walkCaps(info, capOffset).find((c) => c.id === id);
}
