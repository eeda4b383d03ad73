// mm/memfd.c: memfd_create(2) and file sealing (F_ADD_SEALS, F_GET_SEALS). A memfd is a tmpfs file
// (fs/shmem.ts) on the kernel's internal shm mount with no name in any directory: its /proc/<pid>/fd
// link reads "/memfd:<name> (deleted)", its mode is 0777 (0666 with MFD_NOEXEC_SEAL), it is opened
// O_RDWR|O_LARGEFILE with FMODE_LSEEK|PREAD|PWRITE. What VMMs map as guest RAM (QEMU's
// memory-backend-memfd, vhost-user's shared regions), sealed so the peer can trust its size.
// - memfd_create(): the flags (EINVAL; MFD_HUGETLB admits a size in bits 26-31), MFD_EXEC with
//   MFD_NOEXEC_SEAL (EINVAL), vm.memfd_noexec 0 (the default: no flag means MFD_EXEC), the name
//   (EFAULT for NULL, EINVAL past MFD_NAME_MAX_LEN 249 bytes), then an fd (EMFILE).
// - F_ADD_SEALS: FMODE_WRITE (EPERM) before the seal bits (EINVAL), then a shmem file (EINVAL), then
//   F_SEAL_SEAL (EPERM), then F_SEAL_WRITE needs no shared writable mapping (mapping_deny_writable:
//   EBUSY); F_SEAL_EXEC on a file with exec bits implies every write seal. The argument is a u32 (6.18
//   takes the low 32 bits). F_GET_SEALS: EINVAL for a file that is not tmpfs.
// MFD_HUGETLB memfds are hugetlbfs files (fs/hugetlbfs.ts). Not modeled: vm.memfd_noexec 1 and 2, the
// "memfd_create() called without MFD_EXEC or MFD_NOEXEC_SEAL set" warning, and waiting for pinned pages
// before F_SEAL_WRITE (memfd_wait_for_pins: nothing pins tmpfs pages in the model but VFIO's DMA
// mappings, which the kernel checks through the page counts and the model does not).

import { kerr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { ShmemFile, ShmemInode } from '../fs/shmem.js';
import { FMODE_WRITE, openFmode, type KFile } from '../fs/file.js';
import {
  F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, O_LARGEFILE, O_RDWR,
} from '../../../include-ts/linux/fcntl.js';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, MFD_HUGETLB, MFD_HUGE_MASK, MFD_HUGE_SHIFT, MFD_NOEXEC_SEAL } from '../../../include-ts/linux/memfd.js';
import { NAME_MAX } from '../fs/namei.js';
import { HugetlbFile, hugePageShift } from '../fs/hugetlbfs.js';
import { RamBacking } from './backing.js';

const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
const MFD_NAME_PREFIX = 'memfd:';
/** NAME_MAX less the prefix: the longest name, in bytes. */
export const MFD_NAME_MAX_LEN = NAME_MAX - MFD_NAME_PREFIX.length;
const F_ALL_SEALS = F_SEAL_SEAL | F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

/** memfd_create()'s checks before an fd is taken; returns the flags with MFD_EXEC filled in. */
export function memfdCheck(name: string | null, flags: number): number {
  const u = flags >>> 0;
  const allowed = u & MFD_HUGETLB ? MFD_ALL_FLAGS | (MFD_HUGE_MASK << MFD_HUGE_SHIFT) : MFD_ALL_FLAGS;
  if (u & ~allowed) throw kerr('EINVAL', `memfd_create flags 0x${u.toString(16)} have unknown bits`);
  if (u & MFD_EXEC && u & MFD_NOEXEC_SEAL) throw kerr('EINVAL', 'MFD_EXEC and MFD_NOEXEC_SEAL contradict each other');
  // vm.memfd_noexec = 0 (MEMFD_NOEXEC_SCOPE_EXEC): a memfd without either flag is executable.
  const f = u & (MFD_EXEC | MFD_NOEXEC_SEAL) ? u : u | MFD_EXEC;
  if (name === null) throw kerr('EFAULT', 'the name pointer is NULL');
  const len = new TextEncoder().encode(name).length;
  if (len > MFD_NAME_MAX_LEN) throw kerr('EINVAL', `the name is ${len} bytes; at most ${MFD_NAME_MAX_LEN} (NAME_MAX less "${MFD_NAME_PREFIX}")`);
  return f;
}

/** shmem_file_setup() and what memfd_create() does to the file: the open file, ready for an fd. */
export function memfdFile(kernel: Kernel, uid: number, gid: number, name: string, flags: number): ShmemFile {
  // hugetlb_file_setup(): ENODEV for a page size this machine has no hugetlbfs mount for.
  const shift = flags & MFD_HUGETLB ? hugePageShift((flags >>> MFD_HUGE_SHIFT) & MFD_HUGE_MASK) : 0;
  const inode = new ShmemInode(kernel.ids.next('shmem-ino'), flags & MFD_NOEXEC_SEAL ? 0o666 : 0o777, uid, gid, kernel.sched.now, kernel.pins);
  if (flags & MFD_NOEXEC_SEAL) inode.seals = F_SEAL_EXEC;
  else if (flags & MFD_ALLOW_SEALING) inode.seals = 0;
  const path = `/${MFD_NAME_PREFIX}${name} (deleted)`;
  const file = shift ? new HugetlbFile(inode, path, shift) : new ShmemFile(inode, path, false);
  file.fInode = inode;
  file.flags = O_RDWR | O_LARGEFILE;
  return file;
}

/** Whether `inode`'s page cache is mapped VM_SHARED|VM_MAYWRITE anywhere (i_mmap_writable > 0). */
function mappedWritable(kernel: Kernel, inode: ShmemInode): boolean {
  for (const p of kernel.processes.values()) {
    for (const v of p.mm.list()) {
      const pc = v.backing instanceof RamBacking ? v.backing.pageCache : null;
      if (pc !== null && pc.owner === inode && pc.mayWrite) return true;
    }
  }
  return false;
}

/** memfd_add_seals() (fcntl F_ADD_SEALS). */
export function memfdAddSeals(kernel: Kernel, file: KFile, arg: number): number {
  if (!(openFmode(file.flags) & FMODE_WRITE)) throw kerr('EPERM', `${file.path} is not open for writing: seals can only be added through a writable fd`);
  let seals = arg >>> 0;
  if (seals & ~F_ALL_SEALS) throw kerr('EINVAL', `seals 0x${seals.toString(16)} have unknown bits`);
  if (!(file instanceof ShmemFile)) throw kerr('EINVAL', `${file.path} is not a tmpfs (memfd) file: only those take seals`);
  const inode = file.inode;
  if (inode.seals & F_SEAL_SEAL) throw kerr('EPERM', `${file.path} is sealed with F_SEAL_SEAL${file.path.startsWith('/memfd:') ? '' : ' (every tmpfs file not made by memfd_create(MFD_ALLOW_SEALING) is)'}: no seal can be added`);
  // SEAL_EXEC on a file with exec bits makes it W^X from the start (implied before the mapping check,
  // as since "memfd: deny writeable mappings when implying SEAL_WRITE", in this 6.18).
  if (seals & F_SEAL_EXEC && inode.mode & 0o111) seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
  if (seals & F_SEAL_WRITE && !(inode.seals & F_SEAL_WRITE) && mappedWritable(kernel, inode)) {
    throw kerr('EBUSY', `${file.path} is mapped shared and writable (munmap it, or map it read-only through a read-only fd, first)`);
  }
  inode.seals |= seals;
  return 0;
}

/** memfd_get_seals() (fcntl F_GET_SEALS). */
export function memfdGetSeals(file: KFile): number {
  if (!(file instanceof ShmemFile)) throw kerr('EINVAL', `${file.path} is not a tmpfs (memfd) file: it has no seals`);
  return file.inode.seals;
}
