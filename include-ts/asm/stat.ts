// <asm/stat.h> for x86-64 (arch/x86/include/uapi/asm/stat.h, the !__i386__ branch): struct stat as
// newfstatat/newfstat/newstat fill it (fs/stat.c cp_new_stat()). 144 bytes; __kernel_ulong_t and
// __kernel_long_t are 8 bytes, the mode/uid/gid 4 with a pad before st_rdev. st_dev and st_rdev hold
// new_encode_dev() numbers (src/linux/fs/char-dev.ts).
import { array, s64, struct, u32, u64 } from '../../abi/layout.js';

export const stat = struct('stat', {
  st_dev: u64,
  st_ino: u64,
  st_nlink: u64,
  st_mode: u32,
  st_uid: u32,
  st_gid: u32,
  __pad0: u32,
  st_rdev: u64,
  st_size: s64,
  st_blksize: s64,
  st_blocks: s64,
  st_atime: u64,
  st_atime_nsec: u64,
  st_mtime: u64,
  st_mtime_nsec: u64,
  st_ctime: u64,
  st_ctime_nsec: u64,
  __unused: array(s64, 3),
});
