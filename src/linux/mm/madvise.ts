// mm/madvise.c: madvise(2) over the model's mappings, as 6.18 (is_valid_madvise, madvise_walk_vmas,
// madvise_vma_behavior, madvise_dontneed_free, madvise_remove, madvise_populate, madvise_collapse's
// first check) with this host's configuration (CONFIG_KSM, CONFIG_TRANSPARENT_HUGEPAGE, CONFIG_SWAP;
// no CONFIG_MEMORY_FAILURE, so MADV_HWPOISON and MADV_SOFT_OFFLINE are unknown advice: EINVAL).
// - The arguments: unknown advice, an unaligned start, a length that rounds up to 0 from "negative" or
//   an end past 2^64 are EINVAL; a zero length is 0.
// - The walk: each mapping the range meets, in order, gets the advice; a hole is remembered and the
//   call ends with ENOMEM once every mapping was done, unless a mapping's own error ended it first
//   (mlock'd pages count as their own mapping, as mlock splits VMAs).
// - What changes memory: MADV_DONTNEED (and DONTNEED_LOCKED) zaps the pages — private anonymous memory
//   reads zeros afterwards, a private mapping of a tmpfs file reads the file again, a shared mapping
//   keeps its data (the page cache has it); MADV_REMOVE punches a hole in a shared mapping's file
//   (vfs_fallocate PUNCH_HOLE|KEEP_SIZE: zeros for every sharer, seals apply). Pages VFIO or iommufd
//   pinned stay with the device (src/linux/mm/pins.ts). The other advice changes vma flags that only
//   fork, core dumps, KSM, THP or reclaim read, none of which the model has: their checks are kept.
// - MADV_POPULATE_READ/WRITE fault the range in, in order: a hole is ENOMEM, a device mapping, PROT_NONE
//   or a write to a read-only mapping EINVAL, a tmpfs page past the file's end EFAULT (SIGBUS).
// Not modeled: guard regions (MADV_GUARD_INSTALL/REMOVE: EINVAL here; 6.18 accepts them), MADV_FREE's
// lazy freeing (the data stays: the model has no memory pressure), the VMA flags the flag advice sets
// (so MADV_COLLAPSE after MADV_NOHUGEPAGE is not refused, and the advice splits no VMA).

import { kerr } from '../errors.js';
import { FMODE_WRITE, openFmode, type FileContext } from '../fs/file.js';
import { ShmemFile } from '../fs/shmem.js';
import { vfsFallocate } from '../fs/fallocate.js';
import { RamBacking, isPfnmap } from './backing.js';
import type { Vma } from './address-space.js';
import { kernelVmas } from './kernel-vmas.js';
import * as M from '../../../include-ts/linux/mman.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../../include-ts/linux/falloc.js';

const PAGE = 4096;
const HPAGE_PMD = 2 << 20;

/** madvise_behavior_valid() on this host's configuration. */
const VALID = new Set([
  M.MADV_NORMAL, M.MADV_RANDOM, M.MADV_SEQUENTIAL, M.MADV_WILLNEED, M.MADV_DONTNEED, M.MADV_FREE, M.MADV_REMOVE,
  M.MADV_DONTFORK, M.MADV_DOFORK, M.MADV_MERGEABLE, M.MADV_UNMERGEABLE, M.MADV_HUGEPAGE, M.MADV_NOHUGEPAGE,
  M.MADV_DONTDUMP, M.MADV_DODUMP, M.MADV_WIPEONFORK, M.MADV_KEEPONFORK, M.MADV_COLD, M.MADV_PAGEOUT,
  M.MADV_POPULATE_READ, M.MADV_POPULATE_WRITE, M.MADV_DONTNEED_LOCKED, M.MADV_COLLAPSE,
]);

/** VM_PFNMAP / VM_IO: a device's pages (a BAR mapping). */
const special = (v: Vma): boolean => isPfnmap(v.backing);
const isShared = (v: Vma): boolean => (v.flags & M.MAP_TYPE) !== M.MAP_PRIVATE;
/** vma_is_anonymous(): private anonymous memory (shared anonymous memory is shmem). */
const anonymous = (v: Vma): boolean => v.file === null && !isShared(v);

/** The madvise(2) syscall on the caller's address space. */
export function doMadvise(ctx: FileContext, start: number, lenIn: bigint, behavior: number): void {
  if (!VALID.has(behavior)) {
    if (behavior === M.MADV_GUARD_INSTALL || behavior === M.MADV_GUARD_REMOVE) throw kerr('EINVAL', 'guard regions (MADV_GUARD_INSTALL/REMOVE) are not modeled');
    throw kerr('EINVAL', `advice ${behavior} is not one this kernel knows`);
  }
  if (start % PAGE) throw kerr('EINVAL', `start 0x${start.toString(16)} is not page aligned`);
  const len = BigInt.asUintN(64, (lenIn + 4095n) & ~4095n);
  if (lenIn !== 0n && len === 0n) throw kerr('EINVAL', `length ${BigInt.asUintN(64, lenIn)} rounds up to 0`);
  if (BigInt(start) + len > 0xffff_ffff_ffff_ffffn) throw kerr('EINVAL', `start 0x${start.toString(16)} + length ${len} wraps around`);
  if (len === 0n) return;
  const end = start + Number(len);
  if (behavior === M.MADV_POPULATE_READ || behavior === M.MADV_POPULATE_WRITE) return populate(ctx, start, end, behavior === M.MADV_POPULATE_WRITE);
  const mm = ctx.proc.mm;
  let at = start;
  let hole = false;
  for (const v of mm.list()) {
    if (v.end <= at) continue;
    if (v.start >= end) break;
    if (v.start > at) hole = true;
    const e = Math.min(end, v.end);
    // mlock splits VMAs: the locked and unlocked parts are separate mappings to the walk.
    for (let s = Math.max(at, v.start); s < e; ) {
      const locked = mm.mlock.lockedIn(s, s + PAGE) > 0;
      let t = s + PAGE;
      while (t < e && mm.mlock.lockedIn(t, t + PAGE) > 0 === locked) t += PAGE;
      vmaBehavior(ctx, v, s, t, locked, behavior);
      s = t;
    }
    at = e;
  }
  if (hole || at < end) throw kerr('ENOMEM', `[0x${start.toString(16)}, 0x${end.toString(16)}) is not all mapped (the mapped parts took the advice)`);
}

/** madvise_vma_behavior() for [s, e) of `v` (all of it locked or none). */
function vmaBehavior(ctx: FileContext, v: Vma, s: number, e: number, locked: boolean, behavior: number): void {
  switch (behavior) {
    case M.MADV_DONTNEED:
    case M.MADV_DONTNEED_LOCKED:
    case M.MADV_FREE:
      // madvise_dontneed_free_valid_vma(), then MADV_FREE's anonymous-only rule.
      if (special(v)) throw kerr('EINVAL', 'a device mapping (VM_PFNMAP) has no pages to drop');
      if (locked && behavior !== M.MADV_DONTNEED_LOCKED) throw kerr('EINVAL', 'the range is mlock\'d (MADV_DONTNEED_LOCKED drops locked pages)');
      if (behavior === M.MADV_FREE) {
        if (!anonymous(v)) throw kerr('EINVAL', 'MADV_FREE applies to private anonymous memory only');
        return;
      }
      zap(ctx, v, s, e);
      return;
    case M.MADV_REMOVE: {
      if (locked) throw kerr('EINVAL', 'the range is mlock\'d');
      if (anonymous(v)) throw kerr('EINVAL', 'private anonymous memory has no file to punch a hole in');
      if (!isShared(v) || !mayWrite(v)) throw kerr('EACCES', 'MADV_REMOVE needs a shared mapping that may be written (VM_SHARED|VM_MAYWRITE)');
      const b = v.backing;
      if (v.file === null && b instanceof RamBacking) {
        // Shared anonymous memory is a shmem file of its own: the hole zeroes it.
        ctx.kernel.pins.release(b.bytes, s - v.start, e - s);
        b.bytes.fill(0, s - v.start, e - v.start);
        return;
      }
      vfsFallocate(ctx, v.file!, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(v.pgoff + (s - v.start)), BigInt(e - s));
      return;
    }
    case M.MADV_COLD:
    case M.MADV_PAGEOUT:
      // can_madv_lru_vma()
      if (locked || special(v)) throw kerr('EINVAL', 'locked or device memory is not on the LRU');
      return;
    case M.MADV_DOFORK:
      if (special(v)) throw kerr('EINVAL', 'a device mapping (VM_IO) is never copied on fork');
      return;
    case M.MADV_DODUMP:
      if (special(v)) throw kerr('EINVAL', 'a device mapping (VM_SPECIAL) is never dumped');
      return;
    case M.MADV_WIPEONFORK:
      if (v.file !== null || isShared(v)) throw kerr('EINVAL', 'MADV_WIPEONFORK applies to private anonymous memory only');
      return;
    case M.MADV_COLLAPSE: {
      // madvise_collapse()'s thp_vma_allowable_order(PMD_ORDER) on the kernel's VMA (adjacent mappings
      // merge): an aligned 2 MiB must fit; shmem (shared anonymous memory, tmpfs and memfd mappings)
      // qualifies whatever shmem_enabled says; private anonymous memory needs its anon_vma, made at the
      // first write fault — taken here as the VMA holding a non-zero byte (the model cannot see stores
      // through a mapping, and a store of zeros counts in the kernel).
      const k = kernelVmas(ctx.proc.mm).find((x) => x.start <= s && s < x.end)!;
      const first = Math.ceil(k.start / HPAGE_PMD) * HPAGE_PMD;
      if (first + HPAGE_PMD > k.end) throw kerr('EINVAL', 'no aligned 2 MiB transparent huge page fits in this VMA');
      const shmem = (v.file === null && isShared(v)) || v.file instanceof ShmemFile;
      if (!shmem && !(anonymous(v) && k.parts.some(holdsData))) throw kerr('EINVAL', anonymous(v) ? 'this private anonymous VMA was never written (it has no anon_vma yet)' : 'transparent huge pages are not available for this file');
      return;
    }
    default:
      // NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTFORK, DONTDUMP, KEEPONFORK, (UN)MERGEABLE, (NO)HUGEPAGE:
      // vma flags or hints nothing in the model reads.
      return;
  }
}

/** Whether a private anonymous mapping holds any non-zero byte. */
function holdsData(v: Vma): boolean {
  const b = v.backing;
  if (!(b instanceof RamBacking)) return false;
  const w = new Uint32Array(b.bytes.buffer, b.bytes.byteOffset, b.bytes.length >>> 2);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return true;
  return false;
}

/** vma_is_shared_maywrite(): a shared mapping of a file opened for writing (or of anonymous memory). */
function mayWrite(v: Vma): boolean {
  const b = v.backing;
  if (b instanceof RamBacking && b.pageCache !== null) return b.pageCache.mayWrite;
  return v.file === null || (openFmode(v.file.flags) & FMODE_WRITE) !== 0;
}

/** zap_page_range_single(): the process's pages of [s, e) go; what it reads next depends on the mapping. */
function zap(ctx: FileContext, v: Vma, s: number, e: number): void {
  const b = v.backing;
  if (isShared(v) || !(b instanceof RamBacking)) return;
  const off = s - v.start;
  if (v.file === null) {
    ctx.kernel.pins.release(b.bytes, off, e - s);
    b.bytes.fill(0, off, off + (e - s));
  } else if (v.file instanceof ShmemFile) {
    // The private copies go; the file's pages show through again.
    ctx.kernel.pins.release(b.bytes, off, e - s);
    b.bytes.set(v.file.inode.copy(v.pgoff + off, e - s), off);
  }
}

/** madvise_populate(): fault in [start, end) in order, for reading or writing. */
function populate(ctx: FileContext, start: number, end: number, write: boolean): void {
  const mm = ctx.proc.mm;
  for (let at = start; at < end; ) {
    const v = mm.find(at);
    if (!v) throw kerr('ENOMEM', `0x${at.toString(16)} is not mapped`);
    if (special(v)) throw kerr('EINVAL', 'a device mapping (VM_PFNMAP) cannot be populated');
    // check_vma_flags() without FOLL_FORCE: a read needs VM_READ, a write VM_WRITE.
    if (!(v.prot & (write ? M.PROT_WRITE : M.PROT_READ))) throw kerr('EINVAL', `MADV_POPULATE_${write ? 'WRITE on a mapping without PROT_WRITE' : 'READ on a mapping without PROT_READ'}`);
    const e = Math.min(end, v.end);
    // shmem_fault() past i_size: SIGBUS, which populate reports as EFAULT.
    const eof = tmpfsEof(v);
    if (e > eof) throw kerr('EFAULT', `0x${Math.max(at, eof).toString(16)} is past the end of ${v.file!.path} (SIGBUS)`);
    at = e;
  }
}

/** The first address of a tmpfs file mapping that lies past the file's last page (Infinity for others). */
export function tmpfsEof(v: Vma): number {
  if (!(v.file instanceof ShmemFile)) return Infinity;
  return v.start + Math.max(0, Math.ceil((v.file.inode.size - v.pgoff) / PAGE) * PAGE);
}
