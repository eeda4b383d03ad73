// <linux/stat.h> (include/uapi/linux/stat.h): the file type and mode bits of st_mode. The same values
// as glibc's <sys/stat.h>, against which the conformance test checks them (the uapi header hides them
// from programs built with glibc), and statx()'s struct and bits (below).
import { array, s32, s64, struct, u16, u32, u64 } from '../../abi/layout.js';

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o004000;
export const S_ISGID = 0o002000;
export const S_ISVTX = 0o001000;

// statx() (include/uapi/linux/stat.h as of 6.1; glibc's <sys/stat.h> with _GNU_SOURCE includes it).

export const statx_timestamp = struct('statx_timestamp', {
  tv_sec: s64,
  tv_nsec: u32,
  __reserved: s32,
});

/** struct statx: 256 bytes; stx_dev/stx_rdev split into majors and minors (MAJOR()/MINOR() of the dev_t). */
export const statx = struct('statx', {
  stx_mask: u32,
  stx_blksize: u32,
  stx_attributes: u64,
  stx_nlink: u32,
  stx_uid: u32,
  stx_gid: u32,
  stx_mode: u16,
  __spare0: array(u16, 1),
  stx_ino: u64,
  stx_size: u64,
  stx_blocks: u64,
  stx_attributes_mask: u64,
  stx_atime: statx_timestamp,
  stx_btime: statx_timestamp,
  stx_ctime: statx_timestamp,
  stx_mtime: statx_timestamp,
  stx_rdev_major: u32,
  stx_rdev_minor: u32,
  stx_dev_major: u32,
  stx_dev_minor: u32,
  stx_mnt_id: u64,
  stx_dio_mem_align: u32,
  stx_dio_offset_align: u32,
  __spare3: array(u64, 12),
});

/** The statx() request mask and struct statx::stx_mask bits. */
export const STATX_TYPE = 0x00000001;
export const STATX_MODE = 0x00000002;
export const STATX_NLINK = 0x00000004;
export const STATX_UID = 0x00000008;
export const STATX_GID = 0x00000010;
export const STATX_ATIME = 0x00000020;
export const STATX_MTIME = 0x00000040;
export const STATX_CTIME = 0x00000080;
export const STATX_INO = 0x00000100;
export const STATX_SIZE = 0x00000200;
export const STATX_BLOCKS = 0x00000400;
export const STATX_BASIC_STATS = 0x000007ff;
export const STATX_BTIME = 0x00000800;
export const STATX_MNT_ID = 0x00001000;
export const STATX_DIOALIGN = 0x00002000;
/** Since 6.8: stx_mnt_id is the 64-bit unique mount id (and STATX_MNT_ID is not reported). */
export const STATX_MNT_ID_UNIQUE = 0x00004000;
export const STATX__RESERVED = 0x80000000;
export const STATX_ALL = 0x00000fff;

/** struct statx::stx_attributes bits. */
export const STATX_ATTR_COMPRESSED = 0x00000004;
export const STATX_ATTR_IMMUTABLE = 0x00000010;
export const STATX_ATTR_APPEND = 0x00000020;
export const STATX_ATTR_NODUMP = 0x00000040;
export const STATX_ATTR_ENCRYPTED = 0x00000800;
export const STATX_ATTR_AUTOMOUNT = 0x00001000;
export const STATX_ATTR_MOUNT_ROOT = 0x00002000;
export const STATX_ATTR_VERITY = 0x00100000;
export const STATX_ATTR_DAX = 0x00200000;
