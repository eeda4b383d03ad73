// Long-term page pins (FOLL_LONGTERM, mm/gup.c): VFIO Type1 (vfio_pin_pages_remote) and iommufd
// (iopt_pages) map the pages a process's memory had when they were pinned into IOMMU domains, and keep
// them until the DMA mapping goes. When the process drops those pages — MADV_DONTNEED or MADV_REMOVE, a
// tmpfs truncate or hole punch — its next access faults in new pages while the device keeps reading and
// writing the pinned ones: guest memory and DMA silently part ways, which is why QEMU refuses RAM
// discard (virtio-balloon, virtio-mem) while a VFIO device is assigned (ram_block_discard_disable()).
// The model keeps a process's memory as one buffer per mapping, so it does the reverse: before the
// kernel zeroes or refills a range, every holder whose pinned views alias it is handed one copy of the
// old bytes (the pinned pages, shared by all holders) and points its views there; the process keeps the
// buffer and sees the new contents.

/** Something that keeps views of pinned pages (an IOMMU domain's extents, iommufd's pinned pieces). */
export interface PinHolder {
  /**
   * The pinned pages [start, end) of `buffer` leave the process: views there move to `copy()` (the old
   * bytes, its byte 0 = start; made once, on first use, and shared by every holder).
   */
  releasePinned(buffer: ArrayBufferLike, start: number, end: number, copy: () => ArrayBuffer): void;
}

export class Pins {
  private readonly holders = new Set<PinHolder>();

  add(h: PinHolder): void {
    this.holders.add(h);
  }

  delete(h: PinHolder): void {
    this.holders.delete(h);
  }

  /** Called before bytes [off, off+len) of `bytes` are zeroed or replaced for the process. */
  release(bytes: Uint8Array, off: number, len: number): void {
    if (this.holders.size === 0 || len <= 0) return;
    const start = bytes.byteOffset + off;
    let old: ArrayBuffer | null = null;
    const copy = (): ArrayBuffer => (old ??= (bytes.buffer as ArrayBuffer).slice(start, start + len));
    for (const h of this.holders) h.releasePinned(bytes.buffer, start, start + len, copy);
  }
}
