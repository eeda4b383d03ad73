// fs/proc/task_mmu.c: /proc/<pid>/maps (show_map_vma, show_vma_header_prefix). One line per VMA:
//
//   start-end perms offset major:minor inode[ padded to column 73, name]
//
// with start, end and offset as at-least-8-digit hex, perms rwx plus s (VM_MAYSHARE) or p, and the
// name of the mapped file as d_path() gives it ("/memfd:ram (deleted)", "anon_inode:kvm-vcpu:0", a
// tmpfs path); shared anonymous memory is the shmem file "/dev/zero (deleted)" on the internal mount;
// private anonymous memory has no name (the line ends after the inode and a space).
// The kernel's VMAs are not the model's mapping objects: mlock splits VMAs at the locked range's edges,
// and vma_merge() joins adjacent mappings of the same kind (private anonymous memory with the same
// protection and lock state; the same open file at contiguous offsets), so the lines are rebuilt that
// way here. Not modeled: splits by madvise's flag advice (MADV_DONTFORK on part of a mapping is a
// separate VMA in the kernel), [heap]/[stack]/[vdso] (the model's processes were never exec'd), names
// from PR_SET_VMA_ANON_NAME.

import type { Kernel } from '../kernel.js';
import type { Process } from '../process.js';
import type { Vma } from '../mm/address-space.js';
import { isPfnmap } from '../mm/backing.js';
import { MAP_PRIVATE, MAP_TYPE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { MOUNT_IDS } from './fdinfo.js';

const PAGE = 4096;
/** seq_setwidth(m, 25 + sizeof(void *) * 6 - 1): where a name starts, less the one space before it. */
const NAME_COLUMN = 72;

/** A kernel VMA as the model's mappings make it up. */
interface Line {
  start: number;
  end: number;
  readonly vma: Vma;
  readonly locked: boolean;
  /** The file offset of `start`. */
  readonly pgoff: number;
}

const special = (v: Vma): boolean => isPfnmap(v.backing);
const priv = (v: Vma): boolean => (v.flags & MAP_TYPE) === MAP_PRIVATE;

/** Whether `b` continues `a` as one VMA (is_mergeable_vma() and the anon_vma / file offset rules). */
function mergeable(a: Line, b: Line): boolean {
  const x = a.vma;
  const y = b.vma;
  if (a.end !== b.start || a.locked !== b.locked || x.prot !== y.prot || priv(x) !== priv(y) || special(x) || special(y)) return false;
  if (x.file === null && y.file === null) return priv(x) ? true : x.anonIno === y.anonIno && b.pgoff === a.pgoff + (a.end - a.start);
  return x.file === y.file && b.pgoff === a.pgoff + (a.end - a.start);
}

export function mapsText(kernel: Kernel, p: Process): string {
  const mm = p.mm;
  const lines: Line[] = [];
  for (const v of mm.list()) {
    // mlock_fixup() splits at the edges of the locked ranges (device mappings are never locked).
    for (let s = v.start; s < v.end; ) {
      const locked = !special(v) && mm.mlock.lockedIn(s, s + PAGE) > 0;
      let e = s + PAGE;
      while (e < v.end && (!special(v) && mm.mlock.lockedIn(e, e + PAGE) > 0) === locked) e += PAGE;
      const line: Line = { start: s, end: e, vma: v, locked, pgoff: v.pgoff + (s - v.start) };
      const last = lines.at(-1);
      if (last !== undefined && mergeable(last, line)) last.end = e;
      else lines.push(line);
      s = e;
    }
  }
  return lines.map((l) => render(kernel, l)).join('');
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function render(kernel: Kernel, l: Line): string {
  const v = l.vma;
  const perms = `${v.prot & PROT_READ ? 'r' : '-'}${v.prot & PROT_WRITE ? 'w' : '-'}${v.prot & PROT_EXEC ? 'x' : '-'}${priv(v) ? 'p' : 's'}`;
  let dev = 0;
  let ino = 0;
  let offset = 0;
  let name = '';
  if (v.file !== null) {
    ({ dev, ino } = kernel.inodes.of(v.file));
    offset = l.pgoff;
    name = v.file.path;
  } else if (!priv(v)) {
    dev = MOUNT_IDS.shm.dev;
    ino = v.anonIno;
    offset = l.pgoff;
    name = '/dev/zero (deleted)';
  }
  const head = `${hex8(l.start)}-${hex8(l.end)} ${perms} ${hex8(offset)} ${hex2(dev >>> 20)}:${hex2(dev & 0xfffff)} ${ino} `;
  return name === '' ? `${head}\n` : `${head.padEnd(NAME_COLUMN)} ${name}\n`;
}
