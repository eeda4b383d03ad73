// drivers/vfio/vfio_iommu_type1.c: the Type1 IOMMU backend of a VFIO container (TYPE1 and TYPE1v2).
// One IOMMU domain per container here (the kernel creates one per compatible set of groups; on one
// IOMMU they are all compatible). The model follows the kernel's rules exactly:
//  - CHECK_EXTENSION: TYPE1, TYPE1v2, TYPE1_NESTING (until it was retired), UNMAP_ALL → 1; UPDATE_VADDR →
//    1 with an instance; DMA_CC_IOMMU → 1 with an instance (VT-d snoop control enforces coherency).
//  - GET_INFO: flags PGSIZES|CAPS, iova_pgsizes from the IOMMU, and the capability chain MIGRATION,
//    DMA_AVAIL, IOVA_RANGE, each padded to 8 bytes as vfio_info_cap_add() does since v6.6 — so with the
//    x86 MSI window removed (two ranges) the caps sit at 24, 56 and 72 and argsz must be 120.
//  - MAP_DMA (vfio_dma_do_map) and UNMAP_DMA (vfio_dma_do_unmap) with their validation order and errno.
//    Address wrap is EINVAL, as in vfio_dma_do_map()'s "Don't allow IOVA or virtual address wrap" check
//    of 6.x (the newest kernels return EOVERFLOW instead, with check_add_overflow()).
//  - vaddr is resolved in the caller's memory (vfio_pin_pages_remote, vaddr_get_pfns): unmapped, or
//    read-only with VFIO_DMA_MAP_FLAG_WRITE → EFAULT; the pinned pages are what device DMA then reads and
//    writes. A device BAR the caller mmap'ed (VM_PFNMAP) is mapped too, for peer-to-peer DMA, as QEMU maps
//    every assigned device's BARs: follow_fault_pfn() must fault it in (EFAULT while vfio-pci keeps it
//    zapped, Memory Space off), and its pages are reserved pfns, never charged to locked_vm. Device DMA to
//    such an IOVA reaches the peer's registers (src/hw/iommu/domain.ts).
//  - Pinned pages are charged to the caller's mm->locked_vm. Without CAP_IPC_LOCK (dma->lock_cap, taken
//    at map time) a page that would take locked_vm past RLIMIT_MEMLOCK fails the map with ENOMEM and
//    "vfio_pin_pages_remote: RLIMIT_MEMLOCK (<limit>) exceeded"; pages are pinned (and faulted) in order,
//    so whichever of an unmapped page and the limit comes first decides the errno. Nothing stays pinned
//    or charged after a failure (vfio_remove_dma). Unmapping uncharges. The same page mapped twice is
//    charged twice, as the kernel does for pages it has not pinned through this same vfio_dma.
//  - Dirty page tracking (VFIO_IOMMU_DIRTY_PAGES START/STOP/GET_BITMAP, UNMAP_DMA with
//    GET_DIRTY_BITMAP): one bitmap per vfio_dma while tracking is on (type1-dirty.ts has the bit
//    operations). Type1 has no hardware dirty bits: what it knows is which pages are pinned. Pages pinned
//    through vfio_pin_pages() (dma->pfn_list, used by emulated-IOMMU/mdev drivers) are recorded; every
//    group backed by a real IOMMU domain can write anywhere it is mapped without telling, so while one is
//    attached and has not declared pinned-page dirty scope (num_non_pinned_groups), every page of every
//    mapping is reported dirty on every read. The model's groups are all IOMMU-backed vfio-pci groups, and
//    vfio-pci never pins (it has no dma_unmap op, so vfio_pin_pages() refuses it before type1): the pfn
//    lists stay empty, num_non_pinned_groups is the number of attached groups, and device DMA through the
//    IOMMU needs no hook — it is covered by "all mapped pages are dirty", exactly as in the kernel.
// Module parameter: vfio_iommu_type1.dma_entry_limit (default 65535), read when a container opens.

import { getU32, getU64, setU32, setU64, setU64n } from '../../../abi/bytes.js';
import type { PinHolder } from '../mm/pins.js';
import { CapChainBuilder } from '../../../abi/capchain.js';
import { kerr } from '../errors.js';
import type { FileContext } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import type { AddressSpace } from '../mm/address-space.js';
import { RLIMIT_MEMLOCK } from '../../../include-ts/linux/resource.js';
import { CAP_IPC_LOCK } from '../../../include-ts/linux/capability.js';
import { accessOk, type UserArg } from '../uaccess.js';
import { DIRTY_BITMAP_PAGES_MAX, DIRTY_BITMAP_SIZE_MAX, DmaBitmap, bitmapPages, updateUserBitmap, verifyBitmapSize } from './type1-dirty.js';
import { IOMMU_READ, IOMMU_WRITE, IommuDomain, type MmioWindow } from '../../hw/iommu/domain.js';
import type { IoBacking } from '../mm/backing.js';
import { PROT_WRITE } from '../../../include-ts/linux/mman.js';
import {
  VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, VFIO_IOMMU_DIRTY_PAGES_FLAG_START, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
  VFIO_IOMMU_GET_INFO, VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_INFO_PGSIZES, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, VFIO_IOMMU_UNMAP_DMA, VFIO_TYPE1_IOMMU,
  VFIO_TYPE1_NESTING_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_UNMAP_ALL, VFIO_UPDATE_VADDR,
} from '../../../include-ts/linux/vfio.js';
import type { VfioIommuData, VfioIommuDriver } from '../vfio/container.js';
import type { VfioGroup } from '../vfio/group.js';
import { dmaAliases } from './iommu-group.js';

/** Intel VT-d advertises every power-of-two size from 4 KiB (INTEL_IOMMU_PGSIZES = ~0xFFF). */
export const TYPE1_PGSIZE_BITMAP = 0xfffffffffffff000n;
const PGSIZE = 0x1000;
/** 48-bit IOVA aperture (4-level second-level page tables). */
export const IOVA_APERTURE_END = 2 ** 48 - 1;
/** The x86 MSI window, an IOMMU reserved region (IOMMU_RESV_MSI). */
export const MSI_WINDOW_START = 0xfee0_0000;
export const MSI_WINDOW_END = 0xfeef_ffff;
export const DMA_ENTRY_LIMIT_DEFAULT = 65535;
const U64_MAX = 2 ** 64;
const U64_MAXB = 0xffffffffffffffffn;
const PGMASK = 0xfffn;

/** One user mapping (struct vfio_dma). */
export interface VfioDma {
  readonly iova: number;
  readonly size: number;
  vaddr: number;
  readonly prot: number;
  vaddrInvalid: boolean;
  /** IOVAs of the domain extents backing it (one per VMA piece pinned). */
  readonly extents: number[];
  readonly pid: number;
  /** dma->mm and the pages charged to its locked_vm (dma->locked_vm). */
  readonly mm: AddressSpace;
  readonly lockedPages: number;
  /** dma->bitmap: allocated while dirty page tracking is on. */
  bitmap: DmaBitmap | null;
}

class Type1Instance implements VfioIommuData, PinHolder {
  readonly v2: boolean;
  readonly dma: VfioDma[] = [];
  dmaAvail: number;
  readonly domain = new IommuDomain();
  readonly groups: VfioGroup[] = [];
  readonly iovaList: Array<{ start: number; end: number }> = [
    { start: 0, end: MSI_WINDOW_START - 1 },
    { start: MSI_WINDOW_END + 1, end: IOVA_APERTURE_END },
  ];

  constructor(
    private readonly kernel: Kernel,
    type: number,
  ) {
    this.v2 = type !== VFIO_TYPE1_IOMMU;
    this.dmaAvail = kernel.params.num('vfio_iommu_type1', 'dma_entry_limit');
    kernel.pins.add(this);
  }

  /** Pinned pages the process dropped stay the device's (src/linux/mm/pins.ts). */
  releasePinned(buffer: ArrayBufferLike, start: number, end: number, copy: () => ArrayBuffer): void {
    this.domain.detach(buffer, start, end, copy);
  }

  checkExtension(arg: number): number {
    return type1CheckExtension(this, arg);
  }

  /**
   * iommu->num_non_pinned_groups: attached IOMMU-backed groups that have not pinned a page through
   * vfio_pin_pages() (which would set their pinned_page_dirty_scope). Every group of the model is one.
   */
  numNonPinnedGroups = 0;

  attachGroup(group: VfioGroup): void {
    this.groups.push(group);
    this.setContexts(group, this.domain);
    // "An iommu backed group can dirty memory directly and therefore demotes the iommu scope."
    this.numNonPinnedGroups++;
  }

  detachGroup(group: VfioGroup): void {
    const i = this.groups.indexOf(group);
    if (i >= 0) this.groups.splice(i, 1);
    this.setContexts(group, null);
    // The group may have written anything while it was attached: vfio_iommu_populate_bitmap_full().
    this.numNonPinnedGroups--;
    if (this.dirtyTracking) for (const d of this.dma) d.bitmap!.set(0, d.size / PGSIZE);
  }

  private setContexts(group: VfioGroup, domain: IommuDomain | null): void {
    const ig = group.iommuGroup;
    if (!ig) return;
    const hw = this.kernel.machine.iommu;
    for (const d of ig.devices) for (const a of dmaAliases(d)) hw.setContext(a.rid, domain);
    ig.domain = domain ?? ig.defaultDomain;
  }

  release(): void {
    this.kernel.pins.delete(this);
    for (const d of this.dma) this.removeDma(d);
    this.dma.length = 0;
    this.domain.clear();
  }

  ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    switch (req) {
      case VFIO_CHECK_EXTENSION: return this.checkExtension(arg.value());
      case VFIO_IOMMU_GET_INFO: return this.getInfo(arg);
      case VFIO_IOMMU_MAP_DMA: return this.mapDma(ctx, arg);
      case VFIO_IOMMU_UNMAP_DMA: return this.unmapDma(ctx, arg);
      case VFIO_IOMMU_DIRTY_PAGES: return this.dirtyPages(ctx, arg);
      default: throw kerr('ENOTTY', `ioctl 0x${req.toString(16)} is not a Type1 IOMMU ioctl`);
    }
  }

  // ---- GET_INFO ----------------------------------------------------------------------------------

  private getInfo(arg: UserArg): number {
    const minsz = 16; // offsetofend(struct vfio_iommu_type1_info, iova_pgsizes)
    const sizeofInfo = 24;
    const head = arg.user(minsz);
    const argsz = getU32(head, 0);
    if (argsz < minsz) throw kerr('EINVAL', `argsz ${argsz} is smaller than ${minsz}`);
    const caps = new CapChainBuilder({ align8: true });
    const mig = caps.add(VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1, 32);
    setU32(mig, 8, 0);
    setU64n(mig, 16, PGSIZE);
    setU64n(mig, 24, DIRTY_BITMAP_SIZE_MAX);
    const avail = caps.add(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 12);
    setU32(avail, 8, this.dmaAvail);
    if (this.iovaList.length) {
      const r = caps.add(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, 16 + 16 * this.iovaList.length);
      setU32(r, 8, this.iovaList.length);
      this.iovaList.forEach((x, i) => {
        setU64n(r, 16 + i * 16, x.start);
        setU64n(r, 24 + i * 16, x.end);
      });
    }
    const flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
    let outArgsz = argsz;
    let capOffset = -1;
    if (argsz >= sizeofInfo + caps.size) {
      const whole = arg.user(sizeofInfo + caps.size);
      const r = caps.copyOut(whole, sizeofInfo, argsz);
      capOffset = r.capOffset;
    } else {
      outArgsz = sizeofInfo + caps.size;
    }
    // Copy back min(argsz, sizeof(info)) bytes of the fixed part.
    const n = Math.min(argsz, sizeofInfo);
    const out = arg.user(n);
    const info = new Uint8Array(sizeofInfo);
    setU32(info, 0, outArgsz);
    setU32(info, 4, flags);
    setU64(info, 8, TYPE1_PGSIZE_BITMAP);
    setU32(info, 16, capOffset < 0 ? 0 : capOffset);
    out.set(info.subarray(0, n));
    return 0;
  }

  // ---- MAP_DMA -----------------------------------------------------------------------------------

  /** vfio_find_dma(): a mapping overlapping [start, start+size). */
  private findDma(start: number, size: number): VfioDma | undefined {
    return this.dma.find((d) => start < d.iova + d.size && d.iova < start + size);
  }

  private iovaValid(start: number, end: number): boolean {
    if (this.iovaList.length === 0) return true;
    return this.iovaList.some((r) => start >= r.start && end <= r.end);
  }

  private mapDma(ctx: FileContext, arg: UserArg): number {
    const { b, flags } = header(arg, 32, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR, 'struct vfio_iommu_type1_dma_map');
    const vaddrB = getU64(b, 8);
    const iovaB = getU64(b, 16);
    const sizeB = getU64(b, 24);
    const vaddr = Number(vaddrB);
    const iova = Number(iovaB);
    const size = Number(sizeB);
    const prot = (flags & VFIO_DMA_MAP_FLAG_WRITE ? IOMMU_WRITE : 0) | (flags & VFIO_DMA_MAP_FLAG_READ ? IOMMU_READ : 0);
    const setVaddr = (flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
    if (prot && setVaddr) throw kerr('EINVAL', 'VFIO_DMA_MAP_FLAG_VADDR cannot be combined with READ or WRITE');
    if (!prot && !setVaddr) throw kerr('EINVAL', 'a mapping needs VFIO_DMA_MAP_FLAG_READ and/or VFIO_DMA_MAP_FLAG_WRITE');
    if (!size) throw kerr('EINVAL', 'size is 0');
    if ((sizeB | iovaB | vaddrB) & PGMASK) {
      throw kerr('EINVAL', `iova 0x${iova.toString(16)}, vaddr 0x${vaddr.toString(16)} and size 0x${size.toString(16)} must all be multiples of the 4 KiB IOMMU page`);
    }
    if (iovaB + sizeB - 1n > U64_MAXB || vaddrB + sizeB - 1n > U64_MAXB) throw kerr('EINVAL', `iova or vaddr + size wraps past 2^64 (vfio_dma_do_map: "Don't allow IOVA or virtual address wrap")`);
    const hit = this.findDma(iova, size);
    if (setVaddr) {
      if (!hit) throw kerr('ENOENT', `no mapping at iova 0x${iova.toString(16)} to update`);
      if (!hit.vaddrInvalid || hit.iova !== iova || hit.size !== size) throw kerr('EINVAL', 'VFIO_DMA_MAP_FLAG_VADDR needs an invalidated mapping with the same iova and size');
      hit.vaddr = vaddr;
      hit.vaddrInvalid = false;
      return 0;
    }
    if (hit) {
      throw kerr('EEXIST', `[0x${iova.toString(16)}, +0x${size.toString(16)}) overlaps the existing mapping [0x${hit.iova.toString(16)}, +0x${hit.size.toString(16)})`);
    }
    if (!this.dmaAvail) throw kerr('ENOSPC', `no DMA mapping slots left (vfio_iommu_type1.dma_entry_limit = ${this.kernel.params.num('vfio_iommu_type1', 'dma_entry_limit')})`);
    if (!this.iovaValid(iova, iova + size - 1)) {
      throw kerr('EINVAL', `[0x${iova.toString(16)}, +0x${size.toString(16)}) is not inside one valid IOVA range (the MSI window 0xfee00000-0xfeefffff is reserved; the aperture ends at 0x${IOVA_APERTURE_END.toString(16)})`);
    }
    // vfio_pin_pages_remote(): pin page by page, each faulted in and then charged, so a page that is not
    // mapped and the page past RLIMIT_MEMLOCK fail in address order. Everything is checked before any
    // state changes, which is what vfio_remove_dma's undo amounts to.
    const pieces: Array<{ iova: number; target: Uint8Array | MmioWindow }> = [];
    const mm = ctx.proc.mm;
    const lockCap = ctx.proc.capable(CAP_IPC_LOCK);
    const limit = ctx.proc.rlimits.softPages(RLIMIT_MEMLOCK);
    const chargeable = lockCap ? Infinity : Math.max(0, limit - mm.lockedVm) * PGSIZE;
    const write = (prot & IOMMU_WRITE) !== 0;
    let charged = 0;
    let off = 0;
    while (off < size) {
      const va = vaddr + off;
      const vma = mm.find(va);
      if (!vma) throw kerr('EFAULT', `vaddr 0x${va.toString(16)} is not mapped in the caller's address space`);
      // vaddr_get_pfns(): pin_user_pages_remote() with FOLL_WRITE for a writable mapping.
      if (write && !(vma.prot & PROT_WRITE)) throw kerr('EFAULT', `vaddr 0x${va.toString(16)} is mapped read-only; VFIO_DMA_MAP_FLAG_WRITE needs a writable mapping`);
      const b = vma.backing;
      if (b.ram === null) {
        // A VM_PFNMAP mapping (a device BAR): follow_fault_pfn() faults it in (EFAULT if that fails, as
        // for a vfio-pci BAR whose Memory Space is off) and maps the device's pages for peer-to-peer DMA.
        // They are reserved pfns: neither pinned nor charged to locked_vm.
        const io = b as IoBacking;
        const why = io.faultReason;
        if (why !== null) throw kerr('EFAULT', `vaddr 0x${va.toString(16)} is a device mapping that cannot be faulted in: ${why}`);
        const n = Math.min(size - off, vma.end - va);
        pieces.push({ iova: iova + off, target: { handler: io.io, base: io.base + (va - vma.start), size: n, decodes: () => io.faultReason === null } });
        off += n;
        continue;
      }
      if (charged >= chargeable) {
        this.kernel.log.warn(`vfio_pin_pages_remote: RLIMIT_MEMLOCK (${limit * PGSIZE}) exceeded`);
        throw kerr('ENOMEM', `pinning 0x${size.toString(16)} bytes would lock ${mm.lockedVm + size / PGSIZE} pages; RLIMIT_MEMLOCK allows ${limit} (${limit * PGSIZE} bytes) and the process lacks CAP_IPC_LOCK`);
      }
      const n = Math.min(size - off, vma.end - va, chargeable - charged);
      pieces.push({ iova: iova + off, target: mm.ram(va, n) });
      off += n;
      charged += n;
    }
    const npage = size / PGSIZE;
    // vfio_dma_bitmap_alloc() after pinning; its failure undoes the map (vfio_remove_dma).
    if (this.dirtyTracking && npage > DIRTY_BITMAP_PAGES_MAX) throw kerr('EINVAL', `dirty tracking is on and ${npage} pages exceed the bitmap limit of ${DIRTY_BITMAP_PAGES_MAX} (DIRTY_BITMAP_PAGES_MAX)`);
    const lockedPages = charged / PGSIZE;
    mm.lockedVm += lockedPages; // vfio_lock_acct()
    const d: VfioDma = {
      iova, size, vaddr, prot, vaddrInvalid: false, extents: [], pid: ctx.proc.pid, mm, lockedPages,
      bitmap: this.dirtyTracking ? new DmaBitmap(npage) : null,
    };
    for (const p of pieces) {
      this.domain.map(p.iova, p.target, prot);
      d.extents.push(p.iova);
    }
    this.dma.push(d);
    this.dma.sort((a, z) => a.iova - z.iova);
    this.dmaAvail--;
    return 0;
  }

  private removeDma(d: VfioDma): void {
    for (const e of d.extents) this.domain.unmap(e);
    d.mm.lockedVm -= d.lockedPages;
    this.dmaAvail++;
  }

  // ---- UNMAP_DMA ---------------------------------------------------------------------------------

  private unmapDma(ctx: FileContext, arg: UserArg): number {
    const minsz = 24;
    const { b, argsz, flags } = header(arg, minsz, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR, 'struct vfio_iommu_type1_dma_unmap');
    if (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP && flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) {
      throw kerr('EINVAL', 'GET_DIRTY_BITMAP cannot be combined with ALL or VADDR');
    }
    const iovaB = getU64(b, 8);
    const sizeB = getU64(b, 16);
    const getDirty = (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
    // vfio_iommu_type1_unmap_dma(): the struct vfio_bitmap after the header, checked before the unmap.
    let bm: Bitmap | null = null;
    if (getDirty) {
      if (argsz < minsz + 24) throw kerr('EINVAL', `GET_DIRTY_BITMAP needs a struct vfio_bitmap after the header: argsz ${argsz} < ${minsz + 24}`);
      bm = readBitmap(arg.user(minsz + 24), minsz);
      const why = verifyBitmapSize(bitmapPages(sizeB, bm.pgsize), bm.size);
      if (why) throw kerr('EINVAL', why);
    }
    let iova = Number(iovaB);
    let size = Number(sizeB);
    const all = (flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
    const invalidate = (flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
    if (iovaB & PGMASK) throw kerr('EINVAL', `iova 0x${iovaB.toString(16)} is not 4 KiB aligned`);
    if (all) {
      if (iovaB || sizeB) throw kerr('EINVAL', 'VFIO_DMA_UNMAP_FLAG_ALL needs iova 0 and size 0');
      iova = 0;
      size = U64_MAX;
    } else if (!sizeB || sizeB & PGMASK || iovaB + sizeB - 1n > U64_MAXB) {
      throw kerr('EINVAL', !sizeB ? 'size is 0' : sizeB & PGMASK ? `size 0x${sizeB.toString(16)} is not 4 KiB aligned` : 'iova + size wraps past 2^64');
    }
    // "When dirty tracking is enabled, allow only min supported pgsize."
    if (bm) {
      if (!this.dirtyTracking) throw kerr('EINVAL', 'GET_DIRTY_BITMAP: dirty page tracking is not started (VFIO_IOMMU_DIRTY_PAGES_FLAG_START)');
      if (bm.pgsize !== BigInt(PGSIZE)) throw kerr('EINVAL', `GET_DIRTY_BITMAP: bitmap.pgsize 0x${bm.pgsize.toString(16)} is not the IOMMU's smallest page size 0x${PGSIZE.toString(16)}`);
    }
    if (this.v2 && !all) this.checkNoBisect(iova, size, 'unmap');
    const victims: VfioDma[] = [];
    for (const d of this.dma) {
      if (d.iova + d.size <= iova) continue;
      if (d.iova >= iova + size) break;
      // v1: an unmap that starts inside a mapping stops there (success, nothing more).
      if (!this.v2 && iova > d.iova) break;
      victims.push(d);
    }
    let unmapped = 0;
    if (invalidate) {
      if (victims.some((d) => d.vaddrInvalid)) throw kerr('EINVAL', 'a mapping in the range already has its vaddr invalidated');
      for (const d of victims) {
        d.vaddrInvalid = true;
        unmapped += d.size;
      }
    } else {
      for (const d of victims) {
        // Each mapping's bits go out just before it is removed; a fault stops the loop with the earlier
        // mappings already gone and the size not written back (the kernel returns before copy_to_user).
        if (bm) updateUserBitmap(ctx.proc.mm, Number(bm.data), d, iova, PGSIZE, this.allDirty);
        this.removeDma(d);
        this.dma.splice(this.dma.indexOf(d), 1);
        unmapped += d.size;
      }
    }
    setU64n(b, 16, unmapped);
    return 0;
  }

  /**
   * The TYPE1v2 rule shared by UNMAP_DMA and GET_BITMAP: the range must not start or end inside a
   * mapping (vfio_find_dma(iova, 1) must start at iova; the one holding iova + size - 1 must end there).
   */
  private checkNoBisect(iova: number, size: number, what: string): void {
    const first = this.findDma(iova, 1);
    if (first && first.iova !== iova) throw kerr('EINVAL', `TYPE1v2: the ${what} range [0x${iova.toString(16)}, +0x${size.toString(16)}) starts inside the mapping [0x${first.iova.toString(16)}, +0x${first.size.toString(16)}) (it may not bisect a mapping)`);
    const last = this.findDma(iova + size - 1, 1);
    if (last && last.iova + last.size !== iova + size) throw kerr('EINVAL', `TYPE1v2: the ${what} range [0x${iova.toString(16)}, +0x${size.toString(16)}) ends inside the mapping [0x${last.iova.toString(16)}, +0x${last.size.toString(16)}) (it may not bisect a mapping)`);
  }

  /**
   * update_user_bitmap's "mark all pages dirty if any IOMMU capable device is not able to report dirty
   * pages and all pages are pinned and mapped": every vfio_dma here is iommu_mapped (a Type1 instance
   * always has its domain), so only the group count matters.
   */
  private get allDirty(): boolean {
    return this.numNonPinnedGroups > 0;
  }

  /**
   * vfio_iommu_type1_dirty_pages(): v1 containers → EACCES; argsz/flags; exactly one flag. START allocates
   * a bitmap per vfio_dma and marks the pages pinned through vfio_pin_pages (none in the model); a second
   * START changes nothing. STOP frees them. GET_BITMAP reports a range of whole mappings.
   */
  private dirtyPages(ctx: FileContext, arg: UserArg): number {
    if (!this.v2) throw kerr('EACCES', 'dirty page tracking needs a TYPE1v2 container');
    const minsz = 8;
    const head = arg.user(minsz);
    const argsz = getU32(head, 0);
    const flags = getU32(head, 4);
    const mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP | VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    if (argsz < minsz || flags & ~mask) throw kerr('EINVAL', argsz < minsz ? `argsz ${argsz} is smaller than ${minsz}` : `unknown flags 0x${(flags & ~mask).toString(16)}`);
    if (!flags || flags & (flags - 1)) throw kerr('EINVAL', 'exactly one of START, STOP, GET_BITMAP is needed');
    if (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
      if (this.dirtyTracking) return 0;
      // vfio_dma_bitmap_alloc_all(): a mapping of more than INT_MAX pages fails it, freeing the others.
      const big = this.dma.find((d) => d.size / PGSIZE > DIRTY_BITMAP_PAGES_MAX);
      if (big) throw kerr('EINVAL', `the mapping at iova 0x${big.iova.toString(16)} has more than ${DIRTY_BITMAP_PAGES_MAX} pages (DIRTY_BITMAP_PAGES_MAX)`);
      for (const d of this.dma) d.bitmap = new DmaBitmap(d.size / PGSIZE); // + vfio_dma_populate_bitmap(): no pfn_list pages
      this.dirtyTracking = true;
      return 0;
    }
    if (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
      if (this.dirtyTracking) {
        this.dirtyTracking = false;
        for (const d of this.dma) d.bitmap = null;
      }
      return 0;
    }
    return this.getBitmap(ctx, arg, argsz - minsz);
  }

  /** VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP with struct vfio_iommu_type1_dirty_bitmap_get after the header. */
  private getBitmap(ctx: FileContext, arg: UserArg, dataSize: number): number {
    const sizeofRange = 40;
    if (dataSize < sizeofRange) throw kerr('EINVAL', `GET_BITMAP needs a struct vfio_iommu_type1_dirty_bitmap_get (${sizeofRange} bytes) after the header; argsz leaves ${dataSize}`);
    const r = arg.user(8 + sizeofRange);
    const iovaB = getU64(r, 8);
    const sizeB = getU64(r, 16);
    if (iovaB + sizeB > U64_MAXB) throw kerr('EINVAL', `iova 0x${iovaB.toString(16)} + size 0x${sizeB.toString(16)} wraps past 2^64`);
    const bm = readBitmap(r, 24);
    const why = verifyBitmapSize(bitmapPages(sizeB, bm.pgsize), bm.size);
    if (why) throw kerr('EINVAL', why);
    if (bm.pgsize !== BigInt(PGSIZE)) throw kerr('EINVAL', `bitmap.pgsize 0x${bm.pgsize.toString(16)} is not the IOMMU's smallest page size 0x${PGSIZE.toString(16)}`);
    if (iovaB & PGMASK) throw kerr('EINVAL', `iova 0x${iovaB.toString(16)} is not 4 KiB aligned`);
    if (!sizeB || sizeB & PGMASK) throw kerr('EINVAL', !sizeB ? 'size is 0' : `size 0x${sizeB.toString(16)} is not 4 KiB aligned`);
    if (!this.dirtyTracking) throw kerr('EINVAL', 'dirty page tracking is not started (VFIO_IOMMU_DIRTY_PAGES_FLAG_START)');
    // vfio_iova_dirty_bitmap(): whole mappings only; then each one inside the range, in IOVA order, is
    // reported and its bits reset to the pages still pinned through vfio_pin_pages (none here).
    const iova = Number(iovaB);
    const size = Number(sizeB);
    this.checkNoBisect(iova, size, 'GET_BITMAP');
    const data = Number(bm.data);
    for (const d of this.dma) {
      if (d.iova < iova) continue;
      if (d.iova > iova + size - 1) break;
      updateUserBitmap(ctx.proc.mm, data, d, iova, PGSIZE, this.allDirty);
      d.bitmap!.clear(0, d.size / PGSIZE);
    }
    return 0;
  }

  dirtyTracking = false;
}

/** struct vfio_bitmap at `off` of `b`. */
interface Bitmap {
  readonly pgsize: bigint;
  readonly size: bigint;
  readonly data: bigint;
}

/** Reads struct vfio_bitmap and applies access_ok(data, size): a range past the user address space is EINVAL. */
function readBitmap(b: Uint8Array, off: number): Bitmap {
  const bm = { pgsize: getU64(b, off), size: getU64(b, off + 8), data: getU64(b, off + 16) };
  if (!accessOk(bm.data, bm.size)) throw kerr('EINVAL', `bitmap.data 0x${bm.data.toString(16)} + bitmap.size 0x${bm.size.toString(16)} is not a user address range (access_ok)`);
  return bm;
}

function header(arg: UserArg, minsz: number, mask: number, what: string): { b: Uint8Array; argsz: number; flags: number } {
  const b = arg.user(minsz);
  const argsz = getU32(b, 0);
  const flags = getU32(b, 4);
  if (argsz < minsz) throw kerr('EINVAL', `argsz ${argsz} is smaller than sizeof(${what}) = ${minsz}`);
  if (flags & ~mask) throw kerr('EINVAL', `unknown flags 0x${(flags & ~mask).toString(16)}`);
  return { b, argsz, flags };
}

function type1CheckExtension(inst: Type1Instance | null, arg: number): number {
  switch (arg) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_TYPE1_NESTING_IOMMU:
    case VFIO_UNMAP_ALL:
      return 1;
    case VFIO_UPDATE_VADDR:
      return inst ? 1 : 0;
    case VFIO_DMA_CC_IOMMU:
      return inst ? 1 : 0;
    default:
      return 0;
  }
}

export function type1Driver(kernel: Kernel): VfioIommuDriver {
  kernel.params.declare('vfio_iommu_type1', 'dma_entry_limit', 'uint', DMA_ENTRY_LIMIT_DEFAULT, true);
  kernel.params.declare('vfio_iommu_type1', 'allow_unsafe_interrupts', 'bool', false, true);
  return {
    name: 'vfio-iommu-type1',
    checkExtension: (arg) => type1CheckExtension(null, arg),
    open(arg) {
      switch (arg) {
        case VFIO_TYPE1_IOMMU:
        case VFIO_TYPE1v2_IOMMU:
          return new Type1Instance(kernel, arg);
        case VFIO_TYPE1_NESTING_IOMMU:
          throw kerr('EINVAL', 'TYPE1_NESTING needs nested translation in the IOMMU domain (iommu_enable_nesting), which this VT-d does not offer');
        default:
          throw kerr('EINVAL', `extension ${arg} is not an IOMMU type`);
      }
    },
  };
}

export type { Type1Instance };
