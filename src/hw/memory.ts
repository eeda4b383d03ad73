// Host machine memory that hardware reads by physical address: the structures a hypervisor allocates
// and hands to devices by address (the VT-d interrupt remapping table through IRTA, posted-interrupt
// descriptors through the PDA in a posted IRTE). Not guest RAM: guests' memory is modeled elsewhere.
// Regions are allocated with an alignment and found again by address; lookup of a region's exact start
// is O(1) (a Map from address to its bytes) because the IOMMU does it on every posted interrupt.

export interface PhysRegion {
  readonly addr: number;
  readonly bytes: Uint8Array;
}

export class PhysMemory {
  private next: number;
  private readonly byStart = new Map<number, Uint8Array>();
  private readonly regions: PhysRegion[] = [];

  /** Allocations start at `base` (default 1 MiB: below is firmware's). */
  constructor(base = 0x10_0000) {
    this.next = base;
  }

  /** Allocates `size` zeroed bytes at an address aligned to `align` (a power of two). */
  alloc(size: number, align = 64): PhysRegion {
    if (align & (align - 1)) throw new RangeError(`alignment ${align} is not a power of two`);
    const addr = Math.ceil(this.next / align) * align;
    this.next = addr + size;
    const r = { addr, bytes: new Uint8Array(size) };
    this.byStart.set(addr, r.bytes);
    this.regions.push(r);
    return r;
  }

  /** The region starting exactly at `addr`, or undefined (no allocation on this path). */
  at(addr: number): Uint8Array | undefined {
    return this.byStart.get(addr);
  }

  /** `len` bytes at `addr` inside one region, or undefined when the range is not allocated memory. */
  resolve(addr: number, len: number): Uint8Array | undefined {
    const exact = this.byStart.get(addr);
    if (exact && exact.length >= len) return exact.subarray(0, len);
    for (const r of this.regions) {
      if (addr >= r.addr && addr + len <= r.addr + r.bytes.length) return r.bytes.subarray(addr - r.addr, addr - r.addr + len);
    }
    return undefined;
  }
}
