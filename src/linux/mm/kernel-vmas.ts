// The kernel's VMAs as the model's mappings make them up. The model keeps one object per mmap (split
// only by munmap), where the kernel splits VMAs at mlock's edges (mlock_fixup()) and joins adjacent ones
// of the same kind (vma_merge(): private anonymous memory with the same protection and lock state; the
// same open file at contiguous offsets; never device mappings). /proc/<pid>/maps prints these, and
// advice that looks at a whole VMA (MADV_COLLAPSE) sees them. Splits by madvise's flag advice
// (MADV_DONTFORK on part of a mapping) are not modeled.

import type { AddressSpace, Vma } from './address-space.js';
import { isPfnmap } from './backing.js';
import { MAP_PRIVATE, MAP_TYPE } from '../../../include-ts/linux/mman.js';

const PAGE = 4096;

/** A kernel VMA: [start, end) of the model's mapping `vma` (and of those merged after it). */
export interface KernelVma {
  start: number;
  end: number;
  /** The first model mapping it covers (they all have the same kind, protection and file). */
  readonly vma: Vma;
  /** Every model mapping it covers, in order. */
  readonly parts: Vma[];
  readonly locked: boolean;
  /** The file offset of `start`. */
  readonly pgoff: number;
}

const special = (v: Vma): boolean => isPfnmap(v.backing);
const priv = (v: Vma): boolean => (v.flags & MAP_TYPE) === MAP_PRIVATE;

/** Whether `b` continues `a` as one VMA (is_mergeable_vma() and the anon_vma / file offset rules). */
function mergeable(a: KernelVma, b: KernelVma): boolean {
  const x = a.vma;
  const y = b.vma;
  if (a.end !== b.start || a.locked !== b.locked || x.prot !== y.prot || priv(x) !== priv(y) || special(x) || special(y)) return false;
  if (x.file === null && y.file === null) return priv(x) ? true : x.anonIno === y.anonIno && b.pgoff === a.pgoff + (a.end - a.start);
  return x.file === y.file && b.pgoff === a.pgoff + (a.end - a.start);
}

export function kernelVmas(mm: AddressSpace): KernelVma[] {
  const out: KernelVma[] = [];
  for (const v of mm.list()) {
    // mlock_fixup() splits at the edges of the locked ranges (device mappings are never locked).
    for (let s = v.start; s < v.end; ) {
      const locked = !special(v) && mm.mlock.lockedIn(s, s + PAGE) > 0;
      let e = s + PAGE;
      while (e < v.end && (!special(v) && mm.mlock.lockedIn(e, e + PAGE) > 0) === locked) e += PAGE;
      const k: KernelVma = { start: s, end: e, vma: v, parts: [v], locked, pgoff: v.pgoff + (s - v.start) };
      const last = out.at(-1);
      if (last !== undefined && mergeable(last, k)) {
        last.end = e;
        if (last.parts.at(-1) !== v) last.parts.push(v);
      } else out.push(k);
      s = e;
    }
  }
  return out;
}
