// fs/stat.c: what stat/lstat/fstat/newfstatat report (vfs_getattr() -> generic_fillattr() or the
// filesystem's ->getattr, then cp_new_stat() into the x86-64 struct stat of include-ts/asm/stat.ts).
// The fields, and how each is modelled:
// - st_dev: the mount's s_dev (src/linux/fs/fdinfo.ts MOUNT_IDS: this machine's numbers for devtmpfs,
//   sysfs, proc, pipefs, anon_inodefs), new_encode_dev()d.
// - st_ino: the number fdinfo shows for the same file (InodeNumbers): the one anon inode
//   (fs/anon_inodes.c) for eventfd, epoll, VFIO device, KVM VM/vCPU fds; a pipe's or tmpfs file's own
//   i_ino; else a per-path number handed out on first use.
// - st_mode: the file type (S_IFDIR, S_IFCHR, S_IFREG for sysfs/procfs attributes and tmpfs files,
//   S_IFLNK, S_IFIFO) | the permission bits chmod keeps. The anon inode is 0600 with no type bits
//   (alloc_anon_inode() sets S_IRUSR|S_IWUSR only), owned by root (it is made at boot).
// - st_nlink: 1 for everything but directories and unlinked O_TMPFILE files (0); a directory has 2 +
//   its subdirectories, as kernfs (kernfs_refresh_inode(): subdirs + 2) and shmem (inc_nlink per
//   mkdir) count; procfs directories the same way (proc_root's count of processes is not modelled).
// - st_uid/st_gid: the inode's owner (chown changes it); a pipe's is its creator's.
// - st_rdev: a character device's i_rdev (src/linux/fs/char-dev.ts); 0 otherwise.
// - st_size: a tmpfs file's i_size; a tmpfs (devtmpfs, rootfs) directory 2*BOGO_DIRENT_SIZE + one
//   BOGO_DIRENT_SIZE (20) per entry (shmem_get_inode(), shmem_mknod()); a sysfs attribute 4096
//   (kernfs_init_inode(): attr.size, PAGE_SIZE for text attributes; binary attributes are not told
//   apart); a tmpfs symlink the length of its target; everything else 0 (procfs files, kernfs and
//   procfs directories and links, char devices, pipes, anon inodes), but /proc/<pid>/fd, whose size
//   is the number of open fds (proc_fd_getattr(), 6.2+), and its links, 64 (proc_fd_instantiate()).
// - st_blksize: 1 << s_blocksize_bits: 1024 on procfs (proc_fill_super()), 4096 elsewhere.
// - st_blocks: a tmpfs file's pages in 512-byte units; 0 elsewhere.
// - times: virtual nanoseconds (the scheduler's clock from boot): a tmpfs file's creation, then its
//   writes (mtime, ctime), reads under relatime (atime) and chmod/chown (ctime); every other inode
//   reads 0, its boot-time stamp (the model does not move times on other inodes or on pipe traffic).
// statx (do_statx(), vfs_statx(), cp_statx()) reports the same kstat in struct statx, with what
// newfstatat cannot say (as 6.18 fills it, measured by statx-oracle.c):
// - stx_mask: STATX_BASIC_STATS always (vfs_getattr_nosec(), whatever was asked); STATX_MNT_ID, or
//   STATX_MNT_ID_UNIQUE when asked for (6.8+); STATX_BTIME on shmem (devtmpfs, the rootfs) when asked
//   for (shmem_getattr(): i_crtime; 0 for the inodes made at boot). procfs, sysfs, pipefs and anon
//   inodes have no btime. No STATX_DIOALIGN (none of these filesystems reports it).
// - stx_attributes: STATX_ATTR_MOUNT_ROOT for a mount's root directory (/, /dev, /sys, /proc);
//   stx_attributes_mask: AUTOMOUNT|DAX (vfs_getattr_nosec()), MOUNT_ROOT (vfs_statx()), and on shmem
//   APPEND|IMMUTABLE|NODUMP (shmem_getattr(); no inode here has them set: no chattr).
// - stx_dev_major/minor, stx_rdev_major/minor: MAJOR()/MINOR() of the kernel's dev_t, not encoded.
// - stx_mnt_id: the mount's id (fdinfo's mnt_id), or its unique id (this machine: 2^31 + mnt_id + 1).

import { kerr } from '../errors.js';
import type { KFile, FileContext } from './file.js';
import type { InodeAttrs } from './namei.js';
import { ANON_INODE_INO, MOUNT_IDS } from './fdinfo.js';
import type { Inode } from './vfs.js';
import { MAJOR, MINOR, newEncodeDev } from './char-dev.js';
import { ShmemFile, ShmemInode } from './shmem.js';
import { stat as statLayout } from '../../../include-ts/asm/stat.js';
import {
  S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, STATX_ATTR_APPEND, STATX_ATTR_AUTOMOUNT, STATX_ATTR_DAX, STATX_ATTR_IMMUTABLE,
  STATX_ATTR_MOUNT_ROOT, STATX_ATTR_NODUMP, STATX_BASIC_STATS, STATX_BTIME, STATX_MNT_ID, STATX_MNT_ID_UNIQUE, statx as statxLayout,
} from '../../../include-ts/linux/stat.js';
import { setU16, setU32, setU64 } from '../../../abi/bytes.js';
import type { MountName } from './fdinfo.js';

/** struct stat as cp_new_stat() fills it (numbers: every value here fits in 53 bits). */
export interface Stat {
  readonly st_dev: number;
  readonly st_ino: number;
  readonly st_nlink: number;
  readonly st_mode: number;
  readonly st_uid: number;
  readonly st_gid: number;
  readonly st_rdev: number;
  readonly st_size: number;
  readonly st_blksize: number;
  readonly st_blocks: number;
  readonly st_atime: number;
  readonly st_atime_nsec: number;
  readonly st_mtime: number;
  readonly st_mtime_nsec: number;
  readonly st_ctime: number;
  readonly st_ctime_nsec: number;
}

/** sizeof(struct stat) on x86-64. */
export const STAT_SIZE = statLayout.size;

/** BOGO_DIRENT_SIZE (mm/shmem.c): what each entry adds to a tmpfs directory's i_size. */
const BOGO_DIRENT_SIZE = 20;
const PAGE_SIZE = 4096;

const TYPE_BITS: Readonly<Record<string, number>> = { dir: S_IFDIR, chr: S_IFCHR, attr: S_IFREG, reg: S_IFREG, link: S_IFLNK, fifo: S_IFIFO };

/** struct kstat before cp_new_stat(): the kernel's dev_t values, times in ns. */
interface KStat {
  /** The mount the inode is on (its superblock), for what statx adds. */
  mnt: MountName;
  /** A mount's root directory (statx's STATX_ATTR_MOUNT_ROOT). */
  mountRoot: boolean;
  /** shmem's i_crtime; undefined on filesystems without a birth time. */
  btimeNs: number | undefined;
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeNs: number;
  mtimeNs: number;
  ctimeNs: number;
}

function kstat(mnt: MountName, ino: number, mode: number, uid: number, gid: number): KStat {
  const dev = MOUNT_IDS[mnt].dev;
  return { mnt, mountRoot: false, btimeNs: undefined, dev, ino, mode, nlink: 1, uid, gid, rdev: 0, size: 0, blksize: PAGE_SIZE, blocks: 0, atimeNs: 0, mtimeNs: 0, ctimeNs: 0 };
}

/** The model's mount points: the root directory of each (statx's STATX_ATTR_MOUNT_ROOT). */
const MOUNT_ROOTS = new Set(['/', '/dev', '/sys', '/proc']);

/** vfs_getattr() of the inode a path walk found at the resolved path `path`. */
export function getattrPath(ctx: FileContext, node: Inode, path: string): KStat {
  const kernel = ctx.kernel;
  const fs = kernel.vfs.fsOf(path).name;
  const own = node instanceof ShmemInode ? node.ino : kernel.inodes.byPathIno(fs, path);
  const st = kstat(fs, own, TYPE_BITS[node.type]! | node.mode, node.uid, node.gid);
  const shmemFs = fs === 'devtmpfs' || fs === 'rootfs';
  st.mountRoot = MOUNT_ROOTS.has(path);
  // shmem_getattr(): i_crtime, the creation time (0 for what boot made).
  if (shmemFs) st.btimeNs = node instanceof ShmemInode ? node.btimeNs : 0;
  if (fs === 'proc') st.blksize = 1024;
  switch (node.type) {
    case 'dir': {
      const names = node.list(ctx);
      let subdirs = 0;
      for (const n of names) if (node.lookup(n, ctx)?.type === 'dir') subdirs++;
      st.nlink = 2 + subdirs;
      if (shmemFs) st.size = (2 + names.length) * BOGO_DIRENT_SIZE;
      // proc_fd_getattr() (since 6.2): /proc/<pid>/fd reports how many fds are open as its size.
      else if (fs === 'proc' && /^\/proc\/\d+\/fd$/.test(path)) st.size = kernel.processes.get(Number(path.split('/')[2]))?.fds.openFds().length ?? 0;
      break;
    }
    case 'chr':
      st.rdev = node.rdev;
      break;
    case 'attr':
      if (node.kind === 'sysfs') st.size = PAGE_SIZE;
      break;
    case 'link':
      if (shmemFs) st.size = new TextEncoder().encode(node.target(ctx)).length;
      // proc_fd_instantiate(): the /proc/<pid>/fd/<n> links report 64.
      else if (fs === 'proc' && /^\/proc\/\d+\/fd\/\d+$/.test(path)) st.size = 64;
      break;
    case 'reg':
      st.size = node.size;
      st.blocks = node.blocks;
      st.atimeNs = node.atimeNs;
      st.mtimeNs = node.mtimeNs;
      st.ctimeNs = node.ctimeNs;
      break;
  }
  return st;
}

/** vfs_getattr() of an open file's inode (vfs_fstat()). */
export function getattrFile(ctx: FileContext, file: KFile): KStat {
  const inode: InodeAttrs | null = file.fInode;
  if (inode === null) {
    // Files opened without a path walk that still have a path (the /dev/null a process starts with).
    if (file.path.startsWith('/')) {
      const r = ctx.kernel.vfs.resolve(file.path, ctx);
      return getattrPath(ctx, r.node, r.path);
    }
    // The anonymous inode every anon_inode_getfile() file shares, or a secure inode of the file's own.
    const own = file.anonAttrs;
    if (own === null) return kstat('anon_inodefs', ANON_INODE_INO, 0o600, 0, 0);
    const st = kstat('anon_inodefs', file.ino ?? ANON_INODE_INO, own.mode, own.uid, own.gid);
    st.size = own.size;
    st.atimeNs = own.atimeNs;
    st.mtimeNs = own.mtimeNs;
    st.ctimeNs = own.ctimeNs;
    return st;
  }
  if (inode.type === 'fifo') {
    // get_pipe_inode(): a pipefs inode of its own, S_IFIFO, its creator's.
    return kstat('pipefs', ctx.kernel.inodes.of(file).ino, S_IFIFO | inode.mode, inode.uid, inode.gid);
  }
  // A memfd: a tmpfs inode on shm_mnt, with no name anywhere.
  if (file instanceof ShmemFile && file.path.startsWith('/memfd:')) {
    const inode = file.inode;
    const st = kstat(file.memfdMount, inode.ino, S_IFREG | inode.mode, inode.uid, inode.gid);
    Object.assign(st, { nlink: 0, size: inode.size, blocks: inode.blocks, blksize: file.blksize, atimeNs: inode.atimeNs, mtimeNs: inode.mtimeNs, ctimeNs: inode.ctimeNs, btimeNs: inode.btimeNs });
    return st;
  }
  const st = getattrPath(ctx, inode as Inode, file.path);
  // An O_TMPFILE file has no name (d_tmpfile() leaves i_nlink 0) until linkat gives it one.
  if (inode instanceof ShmemInode && file.path.endsWith(' (deleted)')) st.nlink = 0;
  return st;
}

/** Splits virtual ns into the tv_sec/tv_nsec pair cp_new_stat() stores. */
function timeParts(ns: number): [number, number] {
  const sec = Math.floor(ns / 1e9);
  return [sec, ns - sec * 1e9];
}

/** cp_new_stat(): the struct stat userspace gets (dev_t values new_encode_dev()d). */
export function cpNewStat(st: KStat): Stat {
  const [as, an] = timeParts(st.atimeNs);
  const [ms, mn] = timeParts(st.mtimeNs);
  const [cs, cn] = timeParts(st.ctimeNs);
  return {
    st_dev: newEncodeDev(st.dev), st_ino: st.ino, st_nlink: st.nlink, st_mode: st.mode, st_uid: st.uid, st_gid: st.gid,
    st_rdev: newEncodeDev(st.rdev), st_size: st.size, st_blksize: st.blksize, st_blocks: st.blocks,
    st_atime: as, st_atime_nsec: an, st_mtime: ms, st_mtime_nsec: mn, st_ctime: cs, st_ctime_nsec: cn,
  };
}

/** copy_to_user() of the struct: EFAULT when the buffer cannot hold sizeof(struct stat), else every byte (padding zeroed). */
export function copyStat(st: Stat, buf: Uint8Array | null): void {
  if (buf === null || buf.length < STAT_SIZE) {
    throw kerr('EFAULT', `the stat buffer ${buf === null ? 'is NULL' : `holds ${buf.length} bytes`}; struct stat is ${STAT_SIZE}`);
  }
  buf.fill(0, 0, STAT_SIZE);
  const off = (f: keyof Stat): number => statLayout.offsetof(f);
  for (const f of ['st_dev', 'st_ino', 'st_nlink', 'st_rdev', 'st_size', 'st_blksize', 'st_blocks', 'st_atime', 'st_atime_nsec', 'st_mtime', 'st_mtime_nsec', 'st_ctime', 'st_ctime_nsec'] as const) {
    setU64(buf, off(f), BigInt(st[f]));
  }
  setU32(buf, off('st_mode'), st.st_mode);
  setU32(buf, off('st_uid'), st.st_uid);
  setU32(buf, off('st_gid'), st.st_gid);
}

/** The kernel a Stat came from is not needed to read one back: struct stat bytes -> Stat (for callers holding bytes). */
export function readStat(buf: Uint8Array): Stat {
  const v = statLayout.view(buf) as unknown as Record<string, number | bigint>;
  const n = (f: keyof Stat): number => Number(v[f]);
  return {
    st_dev: n('st_dev'), st_ino: n('st_ino'), st_nlink: n('st_nlink'), st_mode: n('st_mode'), st_uid: n('st_uid'), st_gid: n('st_gid'),
    st_rdev: n('st_rdev'), st_size: n('st_size'), st_blksize: n('st_blksize'), st_blocks: n('st_blocks'),
    st_atime: n('st_atime'), st_atime_nsec: n('st_atime_nsec'), st_mtime: n('st_mtime'), st_mtime_nsec: n('st_mtime_nsec'),
    st_ctime: n('st_ctime'), st_ctime_nsec: n('st_ctime_nsec'),
  };
}

export type { KStat };

/** sizeof(struct statx). */
export const STATX_SIZE = statxLayout.size;

/** struct statx as cp_statx() fills it (numbers: every value here fits in 53 bits). */
export interface Statx {
  readonly stx_mask: number;
  readonly stx_blksize: number;
  readonly stx_attributes: number;
  readonly stx_nlink: number;
  readonly stx_uid: number;
  readonly stx_gid: number;
  readonly stx_mode: number;
  readonly stx_ino: number;
  readonly stx_size: number;
  readonly stx_blocks: number;
  readonly stx_attributes_mask: number;
  readonly stx_atime: StatxTimestamp;
  readonly stx_btime: StatxTimestamp;
  readonly stx_ctime: StatxTimestamp;
  readonly stx_mtime: StatxTimestamp;
  readonly stx_rdev_major: number;
  readonly stx_rdev_minor: number;
  readonly stx_dev_major: number;
  readonly stx_dev_minor: number;
  readonly stx_mnt_id: number;
}

export interface StatxTimestamp {
  readonly tv_sec: number;
  readonly tv_nsec: number;
}

const stamp = (ns: number): StatxTimestamp => {
  const [tv_sec, tv_nsec] = timeParts(ns);
  return { tv_sec, tv_nsec };
};

/** 2^31: where this machine's unique mount ids begin (mnt_id_unique = 2^31 + mnt_id + 1 for each mount it has). */
const MNT_UNIQUE_BASE = 0x8000_0000;

/**
 * vfs_statx()'s additions to the kstat (result mask, attributes, the mount id) for the request
 * `mask`, then cp_statx(): dev_t values split into MAJOR() and MINOR().
 */
export function cpStatx(st: KStat, mask: number): Statx {
  let result = STATX_BASIC_STATS;
  let attrMask = STATX_ATTR_AUTOMOUNT | STATX_ATTR_DAX | STATX_ATTR_MOUNT_ROOT;
  const shmem = st.btimeNs !== undefined;
  if (shmem) attrMask |= STATX_ATTR_APPEND | STATX_ATTR_IMMUTABLE | STATX_ATTR_NODUMP;
  const btime = shmem && mask & STATX_BTIME ? st.btimeNs! : 0;
  if (shmem && mask & STATX_BTIME) result |= STATX_BTIME;
  const unique = (mask & STATX_MNT_ID_UNIQUE) !== 0;
  result |= unique ? STATX_MNT_ID_UNIQUE : STATX_MNT_ID;
  const mntId = MOUNT_IDS[st.mnt].mntId;
  return {
    stx_mask: result, stx_blksize: st.blksize, stx_attributes: st.mountRoot ? STATX_ATTR_MOUNT_ROOT : 0,
    stx_nlink: st.nlink, stx_uid: st.uid, stx_gid: st.gid, stx_mode: st.mode & 0xffff, stx_ino: st.ino, stx_size: st.size,
    stx_blocks: st.blocks, stx_attributes_mask: attrMask,
    stx_atime: stamp(st.atimeNs), stx_btime: stamp(btime), stx_ctime: stamp(st.ctimeNs), stx_mtime: stamp(st.mtimeNs),
    stx_rdev_major: MAJOR(st.rdev), stx_rdev_minor: MINOR(st.rdev), stx_dev_major: MAJOR(st.dev), stx_dev_minor: MINOR(st.dev),
    stx_mnt_id: unique ? MNT_UNIQUE_BASE + mntId + 1 : mntId,
  };
}

/** copy_to_user() of struct statx: EFAULT when the buffer cannot hold it, else all 256 bytes (spares zeroed). */
export function copyStatx(sx: Statx, buf: Uint8Array | null): void {
  if (buf === null || buf.length < STATX_SIZE) {
    throw kerr('EFAULT', `the statx buffer ${buf === null ? 'is NULL' : `holds ${buf.length} bytes`}; struct statx is ${STATX_SIZE}`);
  }
  buf.fill(0, 0, STATX_SIZE);
  const off = (f: string): number => statxLayout.offsetof(f as never);
  for (const f of ['stx_mask', 'stx_blksize', 'stx_nlink', 'stx_uid', 'stx_gid', 'stx_rdev_major', 'stx_rdev_minor', 'stx_dev_major', 'stx_dev_minor'] as const) setU32(buf, off(f), sx[f]);
  for (const f of ['stx_attributes', 'stx_ino', 'stx_size', 'stx_blocks', 'stx_attributes_mask', 'stx_mnt_id'] as const) setU64(buf, off(f), BigInt(sx[f]));
  setU16(buf, off('stx_mode'), sx.stx_mode);
  for (const f of ['stx_atime', 'stx_btime', 'stx_ctime', 'stx_mtime'] as const) {
    setU64(buf, off(f), BigInt(sx[f].tv_sec));
    setU32(buf, off(f) + 8, sx[f].tv_nsec);
  }
}
