// fs/proc/task_mmu.c: /proc/<pid>/maps (show_map_vma, show_vma_header_prefix). One line per VMA:
//
//   start-end perms offset major:minor inode[ padded to column 73, name]
//
// with start, end and offset as at-least-8-digit hex, perms rwx plus s (VM_MAYSHARE) or p, and the
// name of the mapped file as d_path() gives it ("/memfd:ram (deleted)", "anon_inode:kvm-vcpu:0", a
// tmpfs path); shared anonymous memory is the shmem file "/dev/zero (deleted)" on the internal mount;
// private anonymous memory has no name (the line ends after the inode and a space).
// The lines are the kernel's VMAs, not the model's mapping objects (src/linux/mm/kernel-vmas.ts: split
// at mlock edges, merged as vma_merge() merges). Not modeled: [heap]/[stack]/[vdso] (the model's
// processes were never exec'd), names from PR_SET_VMA_ANON_NAME.

import type { Kernel } from '../kernel.js';
import type { Process } from '../process.js';
import { kernelVmas, type KernelVma } from '../mm/kernel-vmas.js';
import { MAP_PRIVATE, MAP_TYPE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { MOUNT_IDS } from './fdinfo.js';

/** seq_setwidth(m, 25 + sizeof(void *) * 6 - 1): where a name starts, less the one space before it. */
const NAME_COLUMN = 72;

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function render(kernel: Kernel, l: KernelVma): string {
  const v = l.vma;
  const priv = (v.flags & MAP_TYPE) === MAP_PRIVATE;
  const perms = `${v.prot & PROT_READ ? 'r' : '-'}${v.prot & PROT_WRITE ? 'w' : '-'}${v.prot & PROT_EXEC ? 'x' : '-'}${priv ? 'p' : 's'}`;
  let dev = 0;
  let ino = 0;
  let offset = 0;
  let name = '';
  if (v.file !== null) {
    ({ dev, ino } = kernel.inodes.of(v.file));
    offset = l.pgoff;
    name = v.file.path;
  } else if (!priv) {
    dev = MOUNT_IDS.shm.dev;
    ino = v.anonIno;
    offset = l.pgoff;
    name = '/dev/zero (deleted)';
  }
  const head = `${hex8(l.start)}-${hex8(l.end)} ${perms} ${hex8(offset)} ${hex2(dev >>> 20)}:${hex2(dev & 0xfffff)} ${ino} `;
  return name === '' ? `${head}\n` : `${head.padEnd(NAME_COLUMN)} ${name}\n`;
}

/** The text of /proc/<pid>/maps for `p`, rendered afresh at each read. */
export function mapsText(kernel: Kernel, p: Process): string {
  return kernelVmas(p.mm).map((l) => render(kernel, l)).join('');
}
