// fs/open.c: vfs_fallocate() and the fallocate(2) syscall's checks before the file's ->fallocate (the
// order of 6.18): offset < 0 or len <= 0 -> EINVAL; mode bits outside FALLOC_FL_MODE_MASK|KEEP_SIZE, or
// not exactly one mode (PUNCH_HOLE needs KEEP_SIZE; COLLAPSE/INSERT/WRITE_ZEROES refuse it) -> EOPNOTSUPP;
// not open for writing -> EBADF; a FIFO -> ESPIPE, a directory -> EISDIR, neither regular nor a block
// device -> ENODEV; offset + len overflowing loff_t -> EFBIG; then no ->fallocate -> EOPNOTSUPP
// (KFile.fallocate). The model's tmpfs files have no ->fallocate (shmem_fallocate is not modelled).

import { kerr } from '../errors.js';
import { FMODE_WRITE, openFmode, type FileContext, type KFile } from './file.js';
import { getattrFile } from './stat.js';
import {
  FALLOC_FL_ALLOCATE_RANGE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_WRITE_ZEROES, FALLOC_FL_ZERO_RANGE,
} from '../../../include-ts/linux/falloc.js';
import { S_IFBLK, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG } from '../../../include-ts/linux/stat.js';

/** FALLOC_FL_MODE_MASK: the bits that choose the operation (at most one of them). */
export const FALLOC_FL_MODE_MASK = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_WRITE_ZEROES;

/** vfs_fallocate(): `offset` and `len` are the loff_t arguments. */
export function vfsFallocate(ctx: FileContext, file: KFile, mode: number, offset: bigint, len: bigint): number {
  if (offset < 0n || len <= 0n) throw kerr('EINVAL', `fallocate offset ${offset} must be >= 0 and length ${len} > 0`);
  if (mode & ~(FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE)) throw kerr('EOPNOTSUPP', `fallocate mode 0x${(mode >>> 0).toString(16)} has unknown bits`);
  switch (mode & FALLOC_FL_MODE_MASK) {
    case FALLOC_FL_ALLOCATE_RANGE:
    case FALLOC_FL_UNSHARE_RANGE:
    case FALLOC_FL_ZERO_RANGE:
      break;
    case FALLOC_FL_PUNCH_HOLE:
      if (!(mode & FALLOC_FL_KEEP_SIZE)) throw kerr('EOPNOTSUPP', 'FALLOC_FL_PUNCH_HOLE needs FALLOC_FL_KEEP_SIZE');
      break;
    case FALLOC_FL_COLLAPSE_RANGE:
    case FALLOC_FL_INSERT_RANGE:
    case FALLOC_FL_WRITE_ZEROES:
      if (mode & FALLOC_FL_KEEP_SIZE) throw kerr('EOPNOTSUPP', `fallocate mode 0x${mode.toString(16)}: this operation changes the size, so FALLOC_FL_KEEP_SIZE contradicts it`);
      break;
    default:
      throw kerr('EOPNOTSUPP', `fallocate mode 0x${mode.toString(16)} names more than one operation`);
  }
  if (!(openFmode(file.flags) & FMODE_WRITE)) throw kerr('EBADF', 'fallocate needs a file opened for writing');
  const type = getattrFile(ctx, file).mode & S_IFMT;
  if (type === S_IFIFO) throw kerr('ESPIPE', `${file.path} is a pipe`);
  if (type === S_IFDIR) throw kerr('EISDIR', `${file.path} is a directory`);
  if (type !== S_IFREG && type !== S_IFBLK) throw kerr('ENODEV', `${file.path} is neither a regular file nor a block device`);
  if (offset + len > (1n << 63n) - 1n) throw kerr('EFBIG', `offset ${offset} + length ${len} overflows loff_t`);
  return file.fallocate(ctx, mode, Number(offset), Number(len));
}
