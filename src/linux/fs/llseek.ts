// lseek(2) (fs/read_write.c: ksys_lseek, vfs_llseek, vfs_setpos, generic_file_llseek_size, noop_llseek;
// fs/seq_file.c seq_lseek; fs/libfs.c dcache_dir_lseek; drivers/char/mem.c null_lseek). What a file's
// ->llseek is decides the answer, so each file type picks one of these (KFile.llseek):
// - none (pipes, VFIO container/group/device fds, /dev/iommu, kvm-vfio device fds): FMODE_LSEEK is not
//   set, ESPIPE (the KFile default);
// - noop_llseek (eventfd, epoll, every KVM fd and stats fd): the position, unchanged, whatever is asked;
// - null_lseek (/dev/null, /dev/zero): 0, and the position becomes 0;
// - generic_file_llseek (sysfs attributes with their i_size, kernfs and procfs directories with 0):
//   SEEK_END from i_size, SEEK_DATA/SEEK_HOLE ENXIO at or past it;
// - seq_lseek (procfs files) and dcache_dir_lseek (tmpfs/devtmpfs directories): SEEK_SET and SEEK_CUR
//   only (EINVAL otherwise);
// - shmem_file_llseek (tmpfs files): generic, with SEEK_DATA/SEEK_HOLE over the pages written.
// A negative result is EINVAL (vfs_setpos). Measured on this machine's 6.18 for each kind
// (test/linux/fs/lseek.test.ts) but the VFIO and iommufd ones, which follow their file_operations.
// The whence values are uapi (include-ts/linux/fs.ts).

import { kerr } from '../errors.js';
import type { KFile } from './file.js';

import { SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET } from '../../../include-ts/linux/fs.js';

/** vfs_setpos(): a negative position is EINVAL. */
export function setPos(f: KFile, offset: number): number {
  if (offset < 0) throw kerr('EINVAL', `the resulting file position ${offset} is negative`);
  f.pos = offset;
  return offset;
}

/** generic_file_llseek_size() with `eof` as i_size. */
export function genericLlseek(f: KFile, offset: number, whence: number, eof: number): number {
  switch (whence) {
    case SEEK_END:
      return setPos(f, offset + eof);
    case SEEK_CUR:
      // "Here we special-case the lseek(fd, 0, SEEK_CUR) position-querying operation."
      return offset === 0 ? f.pos : setPos(f, f.pos + offset);
    case SEEK_DATA:
      if (offset < 0 || offset >= eof) throw kerr('ENXIO', `SEEK_DATA from ${offset}: no data at or after it (the size is ${eof})`);
      return setPos(f, offset);
    case SEEK_HOLE:
      if (offset < 0 || offset >= eof) throw kerr('ENXIO', `SEEK_HOLE from ${offset}: past the end (the size is ${eof})`);
      return setPos(f, eof);
    default:
      return setPos(f, offset);
  }
}

/** seq_lseek() and dcache_dir_lseek(): SEEK_SET and SEEK_CUR only. */
export function setCurLlseek(f: KFile, offset: number, whence: number, what: string): number {
  if (whence === SEEK_CUR) return setPos(f, f.pos + offset);
  if (whence === SEEK_SET) return setPos(f, offset);
  throw kerr('EINVAL', `${what} can only seek with SEEK_SET or SEEK_CUR`);
}

/** noop_llseek(): the position, unchanged. */
export function noopLlseek(f: KFile): number {
  return f.pos;
}
