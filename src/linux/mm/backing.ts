// What a virtual memory area is backed by: RAM (an anonymous mapping, or kernel memory shared with
// userspace such as kvm_run) or MMIO (a device BAR mapped with mmap, whose accesses reach the device
// model directly, bypassing the kernel, as real mmap of a BAR does).

import type { MmioHandler } from '../../hw/mmio.js';

export type { MmioHandler } from '../../hw/mmio.js';

/** Raised by an access to a mapping whose backing is gone or disabled (SIGBUS, SIGSEGV in C). */
export class MemoryFault extends Error {
  constructor(
    readonly signal: 'SIGBUS' | 'SIGSEGV',
    readonly address: number,
    reason: string,
  ) {
    super(`${signal} at 0x${address.toString(16)}: ${reason}`);
    this.name = 'MemoryFault';
  }
}

export abstract class Backing {
  abstract readonly length: number;
  /**
   * RamBacking's bytes, null for MMIO. Per-access code (a guest access through a memory slot) tests
   * this field: `instanceof RamBacking` on an imported class is a generic prototype walk in V8.
   */
  abstract readonly ram: Uint8Array | null;
  /** A backing for [offset, offset+length) of this one (for partial munmap and for mmap offsets). */
  abstract slice(offset: number, length: number): Backing;
}

/**
 * A shared mapping of a file's page cache (a tmpfs or memfd file): whose pages they are, and whether the
 * mapping is VM_SHARED|VM_MAYWRITE (it counts in i_mmap_writable, which F_SEAL_WRITE must find at 0).
 */
export interface PageCacheMapping {
  readonly owner: object;
  readonly mayWrite: boolean;
}

export class RamBacking extends Backing {
  readonly ram: Uint8Array;
  constructor(
    readonly bytes: Uint8Array,
    /** Set when the bytes are a file's page cache mapped shared. */
    readonly pageCache: PageCacheMapping | null = null,
  ) {
    super();
    this.ram = bytes;
  }
  get length(): number {
    return this.bytes.length;
  }
  slice(offset: number, length: number): RamBacking {
    return new RamBacking(this.bytes.subarray(offset, offset + length), this.pageCache);
  }
}

export class IoBacking extends Backing {
  readonly ram = null;
  constructor(
    readonly io: MmioHandler,
    /** Offset of this backing's first byte within the device window. */
    readonly base: number,
    readonly length: number,
    /** Returns a reason while accesses must raise SIGBUS (the owner zapped the mapping), else null. */
    readonly gate?: () => string | null,
    /**
     * VM_IO|VM_PFNMAP: a device's pages (a BAR). False for kernel pages served through a fault handler
     * (a guest_memfd or a vCPU mapping across regions), which are ordinary memory to mm.
     */
    readonly pfnmap = false,
  ) {
    super();
  }
  slice(offset: number, length: number): IoBacking {
    return new IoBacking(this.io, this.base + offset, length, this.gate, this.pfnmap);
  }

  /**
   * Why an access must fault now (SIGBUS: e.g. a vfio-pci BAR mapping zapped because Memory Space is
   * disabled), or null. Checked on every access through the mapping.
   */
  get faultReason(): string | null {
    return this.gate ? this.gate() : null;
  }
}

/** VM_IO|VM_PFNMAP (VM_SPECIAL for mm's purposes): a device mapping, which mlock, madvise and merging leave alone. */
export function isPfnmap(b: Backing): boolean {
  return b instanceof IoBacking && b.pfnmap;
}

/** Reads `size` bytes at `offset` of an MMIO window into dst[at..], little-endian. */
export function ioReadBytes(io: MmioHandler, offset: number, size: number, dst: Uint8Array, at: number): void {
  if (size === 8) {
    if (io.read64) {
      const v = io.read64(offset);
      for (let i = 0; i < 8; i++) dst[at + i] = Number((v >> BigInt(i * 8)) & 0xffn);
      return;
    }
    ioReadBytes(io, offset, 4, dst, at);
    ioReadBytes(io, offset + 4, 4, dst, at + 4);
    return;
  }
  const v = io.read(offset, size as 1 | 2 | 4);
  for (let i = 0; i < size; i++) dst[at + i] = (v >>> (i * 8)) & 0xff;
}

/** Writes `size` bytes from src[at..] to an MMIO window at `offset`, little-endian. */
export function ioWriteBytes(io: MmioHandler, offset: number, size: number, src: Uint8Array, at: number): void {
  if (size === 8) {
    if (io.write64) {
      let v = 0n;
      for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(src[at + i]!);
      io.write64(offset, v);
      return;
    }
    ioWriteBytes(io, offset, 4, src, at);
    ioWriteBytes(io, offset + 4, 4, src, at + 4);
    return;
  }
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v << 8) | src[at + i]!;
  io.write(offset, size as 1 | 2 | 4, v >>> 0);
}
