// drivers/iommu/iommufd/io_pagetable.c + pages.c: the io_pagetable of an IOAS. IOVAs are u64 (bigints here:
// an IOAS without a device can map anywhere below 2^64); three interval sets decide what may be mapped:
//  - areas (iopt_area): the mappings, each a slice of an iopt_pages (the user memory of one MAP; COPY makes
//    more areas on the same pages, so they are pinned and charged once);
//  - reserved (iopt_reserved): IOVA no mapping may touch: a device's reserved regions (the x86 MSI window
//    0xfee00000-0xfeefffff) and what lies outside a domain's aperture (VT-d: 48 bits), each with its owner;
//  - allowed (iopt_allowed): if not empty, where IOVA allocation looks (IOMMU_IOAS_ALLOW_IOVAS).
// iova_alignment starts at 1 (a software table); attaching a domain raises it to its smallest page (4 KiB).
// Pages are pinned only while some domain holds them (iopt_area_fill_domains): a MAP into an IOAS without a
// domain records the user address and pins nothing; pinning happens (and can fail, EFAULT/ENOMEM) when a
// device's domain is added. Pinned pages are charged per iopt_pages (do_update_pinned): to the user's
// locked_vm (IOPT_PAGES_ACCOUNT_USER, the default), to the mm's locked_vm (IOPT_PAGES_ACCOUNT_MM, the context's
// IOMMU_OPTION_RLIMIT_MODE 1), or not at all (the mapping process had CAP_IPC_LOCK), against the mapping
// task's RLIMIT_MEMLOCK.
// Deviation: a page is resolved in the caller's address space each time an area is filled into its first
// domain, not once per iopt_pages, so remapping the user range between two fills of shared pages is not
// modelled as the kernel's pinned PFNs would have it.

import { kerr } from '../../errors.js';
import type { AddressSpace } from '../../mm/address-space.js';
import { RamBacking } from '../../mm/backing.js';
import type { Process } from '../../process.js';
import { IommuDomain, moveViews } from '../../../hw/iommu/domain.js';
import type { Pins, PinHolder } from '../../mm/pins.js';
import { PROT_WRITE } from '../../../../include-ts/linux/mman.js';
import { RLIMIT_MEMLOCK } from '../../../../include-ts/linux/resource.js';
import { CAP_IPC_LOCK } from '../../../../include-ts/linux/capability.js';

export const PAGE_SIZE = 4096n;
export const ULONG_MAX = 0xffff_ffff_ffff_ffffn;

export const IOPT_PAGES_ACCOUNT_NONE = 0;
export const IOPT_PAGES_ACCOUNT_USER = 1;
export const IOPT_PAGES_ACCOUNT_MM = 2;

/** Per-user pinned page counts (struct user_struct's locked_vm, as iommufd and io_uring share it). */
export type UserLockedVm = Map<number, number>;

/** struct iopt_pages: the user memory one MAP names. */
export class IoptPages {
  /** Page-aligned user address and the number of pages from it. */
  readonly uptr: bigint;
  readonly npages: bigint;
  readonly mm: AddressSpace;
  readonly uid: number;
  accountMode: number;
  /** Areas filled into at least one domain: their page-index ranges are what is pinned. */
  readonly filled = new Set<IoptArea>();
  /** Pages pinned and charged (pages->npinned == last_npinned). */
  npinned = 0;

  constructor(
    uptr: bigint,
    length: bigint,
    readonly writable: boolean,
    /** pages->source_task: its RLIMIT_MEMLOCK is the limit. */
    readonly task: Process,
  ) {
    this.uptr = uptr - (uptr % PAGE_SIZE);
    this.npages = (length + (uptr - this.uptr) + PAGE_SIZE - 1n) / PAGE_SIZE;
    this.mm = task.mm;
    this.uid = task.uid;
    this.accountMode = task.capable(CAP_IPC_LOCK) ? IOPT_PAGES_ACCOUNT_NONE : IOPT_PAGES_ACCOUNT_USER;
  }

  /** How many pages the union of the filled areas' index ranges covers, with `extra` added or removed. */
  pinnedWith(extra: readonly IoptArea[], without: IoptArea | null): number {
    const r: Array<[bigint, bigint]> = [];
    for (const a of this.filled) if (a !== without) r.push([a.firstIndex, a.lastIndex]);
    for (const a of extra) r.push([a.firstIndex, a.lastIndex]);
    r.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    let n = 0n;
    let end = -1n;
    for (const [s, l] of r) {
      if (l <= end) continue;
      n += l - (s > end ? s : end + 1n) + 1n;
      end = l;
    }
    return Number(n);
  }
}

/** struct iopt_area: one mapping, [iova, last] onto bytes [startByte, ...] of its pages. */
export class IoptArea {
  /** Pieces of the pinned memory (one per VMA) while the area is in domains. */
  pieces: Array<{ iova: number; mem: Uint8Array }> | null = null;

  constructor(
    readonly iova: bigint,
    readonly last: bigint,
    readonly pages: IoptPages,
    /** Offset of the area's first byte from pages.uptr. */
    readonly startByte: bigint,
    readonly prot: number,
  ) {}

  get length(): bigint {
    return this.last - this.iova + 1n;
  }

  get pageOffset(): bigint {
    return this.startByte % PAGE_SIZE;
  }

  get firstIndex(): bigint {
    return this.startByte / PAGE_SIZE;
  }

  get lastIndex(): bigint {
    return (this.startByte + this.length - 1n) / PAGE_SIZE;
  }

  /** The user address of `iova` in this area. */
  uaddr(iova: bigint): bigint {
    return this.pages.uptr + this.startByte + (iova - this.iova);
  }
}

/** Puts the memory area `b` has pinned for the bytes of their pages both cover into `pieces` (area `a`'s). */
function overlayPinned(pieces: Array<{ iova: number; mem: Uint8Array }>, a: IoptArea, b: IoptArea): void {
  const lo = a.startByte > b.startByte ? a.startByte : b.startByte;
  const aEnd = a.startByte + a.length;
  const bEnd = b.startByte + b.length;
  const hi = aEnd < bEnd ? aEnd : bEnd;
  if (lo >= hi) return;
  for (const q of b.pieces!) {
    const qStart = Number(b.startByte) + (q.iova - Number(b.iova));
    const x = Math.max(qStart, Number(lo));
    const y = Math.min(qStart + q.mem.length, Number(hi));
    if (x >= y) continue;
    const iova = Number(a.iova) + (x - Number(a.startByte));
    const mem = q.mem.subarray(x - qStart, y - qStart);
    const out: Array<{ iova: number; mem: Uint8Array }> = [];
    for (const r of pieces) {
      const rEnd = r.iova + r.mem.length;
      if (rEnd <= iova || r.iova >= iova + mem.length) {
        out.push(r);
        continue;
      }
      if (r.iova < iova) out.push({ iova: r.iova, mem: r.mem.subarray(0, iova - r.iova) });
      if (rEnd > iova + mem.length) out.push({ iova: iova + mem.length, mem: r.mem.subarray(iova + mem.length - r.iova) });
    }
    out.push({ iova, mem });
    out.sort((m, n) => m.iova - n.iova);
    pieces.splice(0, pieces.length, ...out);
  }
}

/** A slice of pages to become an area (struct iopt_pages_list). */
export interface PagesSlice {
  readonly pages: IoptPages;
  readonly startByte: bigint;
  readonly length: bigint;
}

interface Interval {
  readonly start: bigint;
  readonly last: bigint;
}

interface Reserved extends Interval {
  readonly owner: object;
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
const overlaps = (a: Interval, start: bigint, last: bigint): boolean => a.start <= last && start <= a.last;
const alignUp = (v: bigint, a: bigint): bigint => ((v + a - 1n) / a) * a;

function roundupPow2(v: bigint): bigint {
  let p = 1n;
  while (p < v) p <<= 1n;
  return p;
}

/** 1 << __ffs64(v) (v != 0). */
function lowestBit(v: bigint): bigint {
  return v & -v;
}

/** Holes of `used` (sorted, possibly overlapping intervals) within [first, last]. */
function holes(used: readonly Interval[], first: bigint, last: bigint): Interval[] {
  const sorted = used.filter((u) => overlaps(u, first, last)).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Interval[] = [];
  let cur = first;
  let done = false;
  for (const u of sorted) {
    if (u.start > cur) out.push({ start: cur, last: u.start - 1n });
    if (u.last >= last) {
      done = true;
      break;
    }
    if (u.last + 1n > cur) cur = u.last + 1n;
  }
  if (!done && cur <= last) out.push({ start: cur, last });
  return out;
}

export class IoPagetable implements PinHolder {
  /** Sorted by iova, never overlapping. */
  readonly areas: IoptArea[] = [];
  reserved: Reserved[] = [];
  allowed: Interval[] = [];
  readonly domains: IommuDomain[] = [];
  iovaAlignment = 1n;
  disableLargePages = false;

  constructor(
    private readonly userLockedVm: UserLockedVm,
    private readonly pins: Pins,
  ) {
    pins.add(this);
  }

  /** iommufd_ioas_destroy()'s end: no pins are held any more. */
  dispose(): void {
    this.pins.delete(this);
  }

  /** Pinned pages the process dropped stay the domains' (src/linux/mm/pins.ts), for domains added later too. */
  releasePinned(buffer: ArrayBufferLike, start: number, end: number, copy: () => ArrayBuffer): void {
    for (const a of this.areas) if (a.pieces) a.pieces = moveViews(a.pieces, buffer, start, end, copy, (_x, iova, mem) => ({ iova, mem }));
    for (const d of this.domains) d.detach(buffer, start, end, copy);
  }

  /** iopt_area_iter_first(): the lowest area intersecting [start, last]. */
  areaFirst(start: bigint, last: bigint): IoptArea | undefined {
    return this.areas.find((a) => a.iova <= last && start <= a.last);
  }

  reservedFirst(start: bigint, last: bigint): Reserved | undefined {
    return this.reserved.find((r) => overlaps(r, start, last));
  }

  /** The IOVA ranges IOMMU_IOAS_IOVA_RANGES reports: the holes of the reserved set over [0, ULONG_MAX]. */
  iovaRanges(): Interval[] {
    return holes(this.reserved, 0n, ULONG_MAX);
  }

  // ---- IOVA allocation and checks ----------------------------------------------------------------

  /** iopt_alloc_iova(): first fit, never IOVA 0, aligned like the user address (for huge pages). */
  private allocIova(uptr: bigint, length: bigint): bigint {
    if (length === 0n || length >= ULONG_MAX / 2n) throw kerr('EOVERFLOW', `length ${hex(length)} is too large for IOVA allocation`);
    const pageOffset = uptr % PAGE_SIZE;
    const pow = roundupPow2(length);
    const align = uptr === 0n ? pow : pow < lowestBit(uptr) ? pow : lowestBit(uptr);
    if (align < this.iovaAlignment) {
      throw kerr('EINVAL', `the user address ${hex(uptr)} and length ${hex(length)} allow an IOVA alignment of ${hex(align)}, below the IOAS's ${hex(this.iovaAlignment)}`);
    }
    const spans = this.allowed.length ? this.allowedWithin(PAGE_SIZE, ULONG_MAX - PAGE_SIZE) : [{ start: PAGE_SIZE, last: ULONG_MAX - PAGE_SIZE }];
    for (const span of spans) {
      const used: Interval[] = [...this.reserved, ...this.areas.map((a) => ({ start: a.iova, last: a.last }))];
      for (const h of holes(used, span.start, span.last)) {
        if (h.last - h.start < length - 1n) continue;
        const s = alignUp(h.start, align) | pageOffset;
        if (s > h.last || h.last - s < length - 1n) continue;
        return s;
      }
    }
    throw kerr('ENOSPC', `no free IOVA range of ${hex(length)} bytes${this.allowed.length ? ' inside the allowed ranges' : ''}`);
  }

  private allowedWithin(first: bigint, last: bigint): Interval[] {
    return this.allowed
      .filter((a) => overlaps(a, first, last))
      .map((a) => ({ start: a.start < first ? first : a.start, last: a.last > last ? last : a.last }))
      .sort((a, b) => (a.start < b.start ? -1 : 1));
  }

  /** iopt_check_iova() for a FIXED_IOVA map. */
  private checkIova(iova: bigint, length: bigint): void {
    if (iova & (this.iovaAlignment - 1n)) throw kerr('EINVAL', `iova ${hex(iova)} is not aligned to the IOAS's ${hex(this.iovaAlignment)} (IOMMU_IOAS_IOVA_RANGES out_iova_alignment)`);
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw kerr('EOVERFLOW', `iova ${hex(iova)} + length ${hex(length)} wraps past 2^64`);
    const r = this.reservedFirst(iova, last);
    if (r) throw kerr('EINVAL', `[${hex(iova)}, ${hex(last)}] intersects the reserved IOVA range [${hex(r.start)}, ${hex(r.last)}]`);
    const a = this.areaFirst(iova, last);
    if (a) throw kerr('EEXIST', `[${hex(iova)}, ${hex(last)}] overlaps the mapping [${hex(a.iova)}, ${hex(a.last)}]`);
  }

  // ---- map / unmap ---------------------------------------------------------------------------------

  /**
   * iopt_map_pages(): places the slices at `iova` (or allocates one), then fills every domain. Validates
   * everything (including pinning) before anything is inserted. Returns the IOVA used.
   */
  mapPages(slices: readonly PagesSlice[], length: bigint, iova: bigint, prot: number, allocate: boolean): bigint {
    // iopt_alloc_area_pages()
    if (length & (this.iovaAlignment - 1n) || length === 0n) {
      throw kerr('EINVAL', length === 0n ? 'length is 0' : `length ${hex(length)} is not a multiple of the IOAS's IOVA alignment ${hex(this.iovaAlignment)}`);
    }
    const first = slices[0]!;
    const at = allocate ? this.allocIova(first.pages.uptr + first.startByte, length) : (this.checkIova(iova, length), iova);
    const areas: IoptArea[] = [];
    let cur = at;
    for (const s of slices) {
      // iopt_insert_area()
      if (prot & 2 && !s.pages.writable) throw kerr('EPERM', 'a writeable mapping of pages that were mapped read-only');
      if ((s.startByte % PAGE_SIZE) & (this.iovaAlignment - 1n)) {
        throw kerr('EINVAL', `the user address is ${hex(s.startByte % PAGE_SIZE)} bytes into its page, not aligned to the IOAS's ${hex(this.iovaAlignment)}`);
      }
      areas.push(new IoptArea(cur, cur + s.length - 1n, s.pages, s.startByte, prot));
      cur += s.length;
    }
    // iopt_fill_domains_pages(): pin and charge now if a domain needs the pages.
    if (this.domains.length) this.pinAreas(areas);
    for (const a of areas) this.insert(a);
    if (this.domains.length) for (const a of areas) for (const d of this.domains) this.mapArea(a, d);
    return at;
  }

  private insert(a: IoptArea): void {
    let i = 0;
    while (i < this.areas.length && this.areas[i]!.iova < a.iova) i++;
    this.areas.splice(i, 0, a);
  }

  /**
   * iopt_unmap_iova_range(): removes every area inside [start, last] in IOVA order; an area that reaches
   * outside the range stops the walk with ENOENT, the areas before it already gone (as in the kernel);
   * nothing at all in the range is ENOENT. Returns the bytes unmapped.
   */
  unmapRange(start: bigint, last: bigint): bigint {
    let unmapped = 0n;
    for (;;) {
      const a = this.areaFirst(start, last);
      if (!a) break;
      if (a.iova < start || a.last > last) {
        const done = unmapped ? ` (the ${hex(unmapped)} bytes of mappings before it are already unmapped)` : '';
        throw kerr('ENOENT', `the mapping [${hex(a.iova)}, ${hex(a.last)}] reaches outside [${hex(start)}, ${hex(last)}]: a mapping cannot be split or truncated${done}`);
      }
      this.removeArea(a);
      unmapped += a.length;
    }
    if (!unmapped) throw kerr('ENOENT', `no mapping inside [${hex(start)}, ${hex(last)}]`);
    return unmapped;
  }

  /** iopt_unmap_all(): an empty table is success. */
  unmapAll(): bigint {
    let n = 0n;
    while (this.areas.length) {
      const a = this.areas[0]!;
      this.removeArea(a);
      n += a.length;
    }
    return n;
  }

  private removeArea(a: IoptArea): void {
    for (const d of this.domains) this.unmapArea(a, d);
    this.unpin(a);
    this.areas.splice(this.areas.indexOf(a), 1);
  }

  /** iopt_get_pages(): the slices backing [iova, iova + length), which must be contiguously mapped. */
  getPages(iova: bigint, length: bigint): PagesSlice[] {
    if (!length) throw kerr('EINVAL', 'length is 0');
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw kerr('EOVERFLOW', `iova ${hex(iova)} + length ${hex(length)} wraps past 2^64`);
    const out: PagesSlice[] = [];
    let cur = iova;
    for (;;) {
      const a = this.areas.find((x) => x.iova <= cur && cur <= x.last);
      if (!a || (out.length && a.iova !== cur)) break;
      const end = last < a.last ? last : a.last;
      out.push({ pages: a.pages, startByte: a.startByte + (cur - a.iova), length: end - cur + 1n });
      if (end === last) return out;
      cur = end + 1n;
    }
    throw kerr('ENOENT', `[${hex(iova)}, ${hex(last)}] is not contiguously mapped in the source IOAS (gap at ${hex(cur)})`);
  }

  // ---- pinning and accounting (pages.c) -----------------------------------------------------------

  /**
   * Pins what `areas` need beyond what is already pinned and charges it, or throws with nothing changed:
   * area by area, EFAULT for a page that is not mapped memory (or read-only for a writeable mapping), then
   * ENOMEM when charging the area would exceed RLIMIT_MEMLOCK.
   */
  private pinAreas(areas: readonly IoptArea[]): void {
    const resolved: Array<Array<{ iova: number; mem: Uint8Array }>> = [];
    const pending = new Map<IoptPages, IoptArea[]>();
    /** Pages charged so far in this call, per account (an mm, or a uid). */
    const charged = new Map<AddressSpace | number, number>();
    for (const a of areas) {
      const p = a.pages;
      const list = pending.get(p) ?? [];
      const before = p.pinnedWith(list, null);
      const after = p.pinnedWith([...list, a], null);
      let fault: string | null = null;
      const pieces: Array<{ iova: number; mem: Uint8Array }> = [];
      let off = 0n;
      while (off < a.length) {
        const va = Number(a.uaddr(a.iova + off));
        const vma = p.mm.find(va);
        if (!vma || !(vma.backing instanceof RamBacking) || (p.writable && !(vma.prot & PROT_WRITE))) {
          fault = !vma ? `user address ${hex(va)} is not mapped` : !(vma.backing instanceof RamBacking) ? `user address ${hex(va)} is device memory (VM_IO/VM_PFNMAP), which cannot be pinned` : `user address ${hex(va)} is read-only but the mapping is writeable`;
          break;
        }
        const n = BigInt(Math.min(vma.end - va, Number(a.length - off)));
        pieces.push({ iova: Number(a.iova + off), mem: p.mm.ram(va, Number(n)) });
        off += n;
      }
      // An area is pinned whole before it is charged (pfn_reader_update_pinned() after the pfn_reader loop
      // of iopt_area_fill_domain(s)): a fault is EFAULT whatever the limit; the limit is checked per area.
      if (fault) throw kerr('EFAULT', fault);
      // pfn_reader_fill_span(): pages another area of the same iopt_pages already pinned come from there
      // (they may no longer be the process's: src/linux/mm/pins.ts), not from the mm.
      for (const b of p.filled) if (b !== a && b.pieces) overlayPinned(pieces, a, b);
      const key = p.accountMode === IOPT_PAGES_ACCOUNT_MM ? p.mm : p.uid;
      const sofar = charged.get(key) ?? 0;
      this.checkLimit(p, sofar + after - before);
      charged.set(key, sofar + after - before);
      list.push(a);
      pending.set(p, list);
      resolved.push(pieces);
    }
    // Commit.
    areas.forEach((a, i) => {
      a.pieces = resolved[i]!;
      const p = a.pages;
      const after = p.pinnedWith([a], null);
      this.charge(p, after - p.npinned);
      p.npinned = after;
      p.filled.add(a);
    });
  }

  /** do_update_pinned()'s limit check for `more` pages on top of what `p`'s account holds. */
  private checkLimit(p: IoptPages, more: number): void {
    if (more <= 0 || p.accountMode === IOPT_PAGES_ACCOUNT_NONE) return;
    const limit = p.task.rlimits.softPages(RLIMIT_MEMLOCK);
    const cur = p.accountMode === IOPT_PAGES_ACCOUNT_MM ? p.mm.lockedVm : (this.userLockedVm.get(p.uid) ?? 0);
    if (cur + more > limit) {
      const whose = p.accountMode === IOPT_PAGES_ACCOUNT_MM ? "the process's locked_vm (IOMMU_OPTION_RLIMIT_MODE 1)" : `user ${p.uid}'s locked_vm`;
      throw kerr('ENOMEM', `pinning ${more} more pages would take ${whose} to ${cur + more} pages; RLIMIT_MEMLOCK allows ${limit} and the mapping process lacked CAP_IPC_LOCK`);
    }
  }

  private charge(p: IoptPages, n: number): void {
    if (n === 0 || p.accountMode === IOPT_PAGES_ACCOUNT_NONE) return;
    if (p.accountMode === IOPT_PAGES_ACCOUNT_MM) p.mm.lockedVm += n;
    else this.userLockedVm.set(p.uid, (this.userLockedVm.get(p.uid) ?? 0) + n);
  }

  private unpin(a: IoptArea): void {
    const p = a.pages;
    if (!p.filled.has(a)) return;
    const after = p.pinnedWith([], a);
    this.charge(p, after - p.npinned);
    p.npinned = after;
    p.filled.delete(a);
    a.pieces = null;
  }

  private mapArea(a: IoptArea, d: IommuDomain): void {
    for (const x of a.pieces!) d.map(x.iova, x.mem, a.prot);
  }

  private unmapArea(a: IoptArea, d: IommuDomain): void {
    if (a.pieces) for (const x of a.pieces) d.unmap(x.iova);
  }

  // ---- domains (iopt_table_add_domain / iopt_table_remove_domain) ----------------------------------

  /**
   * iopt_table_add_domain(): the domain's page size raises the alignment (every area must conform:
   * EADDRINUSE), IOVA outside its aperture is reserved (EADDRINUSE if mapped or allowed), and every area is
   * filled (pinning what no other domain holds yet). Nothing changes on failure.
   */
  addDomain(domain: IommuDomain, apertureEnd: bigint): void {
    const align = PAGE_SIZE > this.iovaAlignment ? PAGE_SIZE : this.iovaAlignment;
    if (align !== this.iovaAlignment) this.checkAlignment(align);
    const resv = { start: apertureEnd + 1n, last: ULONG_MAX, owner: domain };
    if (apertureEnd !== ULONG_MAX) this.checkReserve(resv.start, resv.last, 'the domain aperture');
    if (this.domains.length === 0) this.pinAreas(this.areas);
    if (apertureEnd !== ULONG_MAX) this.reserved.push(resv);
    this.iovaAlignment = align;
    this.domains.push(domain);
    for (const a of this.areas) this.mapArea(a, domain);
  }

  removeDomain(domain: IommuDomain): void {
    const i = this.domains.indexOf(domain);
    if (i < 0) return;
    this.domains.splice(i, 1);
    for (const a of this.areas) this.unmapArea(a, domain);
    if (this.domains.length === 0) for (const a of this.areas) this.unpin(a);
    this.removeReserved(domain);
    this.iovaAlignment = this.calculateAlignment();
  }

  /** iopt_calculate_iova_alignment(): PAGE_SIZE with large pages disabled or any domain, else 1. */
  private calculateAlignment(): bigint {
    return this.disableLargePages || this.domains.length ? PAGE_SIZE : 1n;
  }

  /** iopt_check_iova_alignment() */
  private checkAlignment(align: bigint): void {
    const m = align - 1n;
    const bad = this.areas.find((a) => a.iova & m || a.length & m || a.pageOffset & m);
    if (bad) throw kerr('EADDRINUSE', `the mapping [${hex(bad.iova)}, ${hex(bad.last)}] is not aligned to ${hex(align)}, which the IOMMU domain needs`);
  }

  /** iopt_reserve_iova()'s checks: no area and no allowed range may intersect. */
  checkReserve(start: bigint, last: bigint, what: string): void {
    const a = this.areaFirst(start, last);
    if (a) throw kerr('EADDRINUSE', `${what} [${hex(start)}, ${hex(last)}] is reserved, but the mapping [${hex(a.iova)}, ${hex(a.last)}] is in it`);
    const al = this.allowed.find((x) => overlaps(x, start, last));
    if (al) throw kerr('EADDRINUSE', `${what} [${hex(start)}, ${hex(last)}] is reserved, but the allowed range [${hex(al.start)}, ${hex(al.last)}] includes it`);
  }

  reserve(start: bigint, last: bigint, owner: object, what: string): void {
    this.checkReserve(start, last, what);
    this.reserved.push({ start, last, owner });
  }

  removeReserved(owner: object): void {
    this.reserved = this.reserved.filter((r) => r.owner !== owner);
  }

  /** iopt_set_allow_iova(): replaces the allowed list unless a reserved range intersects it (EADDRINUSE). */
  setAllowed(list: Interval[]): void {
    for (const a of list) {
      const r = this.reservedFirst(a.start, a.last);
      if (r) throw kerr('EADDRINUSE', `the allowed range [${hex(a.start)}, ${hex(a.last)}] intersects the reserved range [${hex(r.start)}, ${hex(r.last)}]`);
    }
    this.allowed = list;
  }

  /** iopt_disable_large_pages() / iopt_enable_large_pages() */
  setLargePages(enable: boolean): void {
    if (!enable) {
      if (this.disableLargePages) return;
      if (this.domains.length && this.areas.length) throw kerr('EINVAL', 'huge pages cannot be disabled while a domain already has pages mapped');
      if (PAGE_SIZE > this.iovaAlignment) this.checkAlignment(PAGE_SIZE);
      this.disableLargePages = true;
    } else {
      this.disableLargePages = false;
    }
    this.iovaAlignment = this.calculateAlignment();
  }
}
