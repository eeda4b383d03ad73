// mm/mlock.c: the VM_LOCKED part of an address space — mlock, mlock2, munlock, mlockall, munlockall, and
// mmap's MCL_FUTURE default — and its share of mm->locked_vm, the counter VFIO's DMA pinning charges
// too (so the two add up against RLIMIT_MEMLOCK, as in the kernel).
// - Locked memory is kept as page ranges, not by splitting VMAs (user Mapping objects stay valid).
//   Device mappings (VM_IO/VM_PFNMAP: a BAR mmap) are never locked nor counted (mlock_fixup skips
//   VM_SPECIAL), though a request may cover them.
// - apply_vma_lock_flags(): the range must start in a mapping (ENOMEM); mappings are (un)locked in
//   address order and a hole ends the walk with ENOMEM after what came before it changed, as the kernel
//   leaves it.
// - munmap drops the locked pages it removes from locked_vm (VM_LOCKED on the unmapped VMA).

import type { AddressSpace, Vma } from './address-space.js';
import { isPfnmap } from './backing.js';
import { tmpfsEof } from './madvise.js';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';

export const PAGE = 4096;

/** Locked page ranges [start, end) of an mm, sorted and disjoint, and mm->def_flags' VM_LOCKED. */
export class MlockState {
  readonly ranges: Array<[number, number]> = [];
  /** MCL_FUTURE: new mappings start locked (mm->def_flags & VM_LOCKED). */
  future = false;

  /** Pages of [start, end) already locked (count_mm_mlocked_page_nr). */
  lockedIn(start: number, end: number): number {
    let n = 0;
    for (const [a, b] of this.ranges) n += Math.max(0, Math.min(b, end) - Math.max(a, start));
    return n / PAGE;
  }

  /** Marks [start, end) locked; returns the pages newly locked. */
  add(start: number, end: number): number {
    const fresh = (end - start) / PAGE - this.lockedIn(start, end);
    const out: Array<[number, number]> = [];
    let s = start;
    let e = end;
    for (const [a, b] of this.ranges) {
      if (b < s || a > e) out.push([a, b]);
      else {
        s = Math.min(s, a);
        e = Math.max(e, b);
      }
    }
    out.push([s, e]);
    out.sort((x, y) => x[0] - y[0]);
    this.ranges.splice(0, this.ranges.length, ...out);
    return fresh;
  }

  /** Unlocks [start, end); returns the pages that were locked. */
  remove(start: number, end: number): number {
    const gone = this.lockedIn(start, end);
    const out: Array<[number, number]> = [];
    for (const [a, b] of this.ranges) {
      if (b <= start || a >= end) out.push([a, b]);
      else {
        if (a < start) out.push([a, start]);
        if (b > end) out.push([end, b]);
      }
    }
    this.ranges.splice(0, this.ranges.length, ...out);
    return gone;
  }
}

/** VM_SPECIAL: a device mapping, which mlock leaves alone. */
const special = (v: Vma): boolean => isPfnmap(v.backing);

/**
 * apply_vma_lock_flags(): (un)locks the mappings of [start, end) in order; false (ENOMEM for the caller)
 * when the range does not start in a mapping or crosses a hole, after the part before the hole changed.
 */
export function applyLock(mm: AddressSpace, start: number, end: number, lock: boolean): boolean {
  if (end === start) return true;
  const vmas = mm.list();
  let at = start;
  for (const v of vmas) {
    if (v.end <= at) continue;
    if (v.start > at) return false;
    const e = Math.min(v.end, end);
    if (!special(v)) mm.lockedVm += lock ? mm.mlock.add(at, e) : -mm.mlock.remove(at, e);
    at = e;
    if (at >= end) return true;
  }
  return false;
}

/** apply_mlockall_flags() for the mappings (MCL_CURRENT: lock them all; 0: unlock them all). */
export function applyLockAll(mm: AddressSpace, lock: boolean): void {
  for (const v of mm.list()) {
    if (special(v)) continue;
    mm.lockedVm += lock ? mm.mlock.add(v.start, v.end) : -mm.mlock.remove(v.start, v.end);
  }
}

/** mm->total_vm: every mapped page. */
export function totalVm(mm: AddressSpace): number {
  return mm.list().reduce((n, v) => n + v.length / PAGE, 0);
}

/**
 * __mm_populate() after mlock: why [start, end) cannot all be faulted in (a PROT_NONE mapping; a tmpfs
 * page past the end of the file, SIGBUS), or null. Device mappings are skipped.
 */
export function unpopulatable(mm: AddressSpace, start: number, end: number): string | null {
  for (const v of mm.list()) {
    if (v.end <= start || v.start >= end || special(v)) continue;
    if ((v.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0) return `0x${Math.max(start, v.start).toString(16)} is PROT_NONE`;
    const eof = tmpfsEof(v);
    if (Math.min(end, v.end) > eof) return `0x${Math.max(start, eof).toString(16)} is past the end of ${v.file!.path} (SIGBUS)`;
  }
  return null;
}
