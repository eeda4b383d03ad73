// <fcntl.h> (asm-generic/fcntl.h on x86-64, <linux/fcntl.h>): open flags and fcntl commands.
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const FASYNC = 0o20000;
export const O_DIRECT = 0o40000;
/** The kernel's value (asm-generic/fcntl.h); glibc on x86-64 defines O_LARGEFILE as 0. */
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
/** The kernel's bit (asm-generic/fcntl.h); glibc's __O_TMPFILE also includes O_DIRECTORY. */
export const __O_TMPFILE = 0o20000000;
/** __O_TMPFILE | O_DIRECTORY: open(2) must carry both (build_open_flags()). */
export const O_TMPFILE = 0o20200000;
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
/** (F_LINUX_SPECIFIC_BASE + 7) and (+ 8): a pipe's capacity in bytes. */
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
/** (F_LINUX_SPECIFIC_BASE + 9) and (+ 10): file seals of a memfd or tmpfs file (mm/memfd.c). */
export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;
export const F_SEAL_SEAL = 0x0001;
export const F_SEAL_SHRINK = 0x0002;
export const F_SEAL_GROW = 0x0004;
export const F_SEAL_WRITE = 0x0008;
export const F_SEAL_FUTURE_WRITE = 0x0010;
/** <linux/fcntl.h> since 6.3: the exec bits of the mode cannot change. */
export const F_SEAL_EXEC = 0x0020;
/** <linux/fcntl.h> since 6.10: (F_LINUX_SPECIFIC_BASE + 3). */
export const F_DUPFD_QUERY = 1027;
/** <linux/fcntl.h> since 6.12: (F_LINUX_SPECIFIC_BASE + 4). */
export const F_CREATED_QUERY = 1028;
export const FD_CLOEXEC = 1;
export const AT_FDCWD = -100;
/** *at() flags: do not follow a final symlink; an empty path names dirfd itself (fs/stat.c vfs_fstatat). */
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
/** AT_STATX_SYNC_TYPE: statx's sync mode bits, which newfstatat accepts and ignores. */
export const AT_STATX_SYNC_TYPE = 0x6000;
