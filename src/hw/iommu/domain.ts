// An IOMMU translation domain (Intel VT-d 3.x ch. 3, "DMA remapping"; AMD-Vi alike): the I/O page
// tables one or more devices translate through. Modeled as a sorted list of extents, each mapping a
// page-aligned IOVA range onto memory (a Uint8Array: the pinned pages of a process's mapping) with
// read/write permissions. A translation that hits no extent, or lacks the permission, faults.

export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;

export interface DomainExtent {
  readonly iova: number;
  readonly size: number;
  readonly mem: Uint8Array;
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

  /** iommu_map(): the range must be free (the caller tracks what it mapped). */
  map(iova: number, mem: Uint8Array, prot: number): void {
    const size = mem.length;
    for (const x of this.extents) {
      if (iova < x.iova + x.size && x.iova < iova + size) throw new Error(`iommu domain: [0x${iova.toString(16)}, +0x${size.toString(16)}) overlaps a mapping`);
    }
    this.extents.push({ iova, size, mem, prot });
    this.extents.sort((a, b) => a.iova - b.iova);
  }

  /** iommu_unmap() of exactly one earlier mapping starting at `iova`; returns the bytes unmapped. */
  unmap(iova: number): number {
    const i = this.find(iova);
    if (i < 0 || this.extents[i]!.iova !== iova) return 0;
    const [x] = this.extents.splice(i, 1);
    return x!.size;
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

  /** Copies between memory and `buf` (after check() passed). */
  copy(iova: number, buf: Uint8Array, toMemory: boolean): void {
    let done = 0;
    while (done < buf.length) {
      const a = iova + done;
      const x = this.extents[this.find(a)]!;
      const off = a - x.iova;
      const n = Math.min(buf.length - done, x.size - off);
      if (toMemory) x.mem.set(buf.subarray(done, done + n), off);
      else buf.set(x.mem.subarray(off, off + n), done);
      done += n;
    }
  }
}
