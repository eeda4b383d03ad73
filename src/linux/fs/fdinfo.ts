// fs/proc/fd.c: /proc/<pid>/fdinfo/<fd>. seq_show() prints the open file's position, its f_flags
// (plus O_CLOEXEC when the fd table has close_on_exec set for that fd), the id of the mount it was
// opened through and its inode number, then whatever the file's ->show_fdinfo adds (KFile.showFdinfo):
//
//   pos:\t%lli\nflags:\t0%o\nmnt_id:\t%i\nino:\t%lu\n
//
// The directory is proc_fdinfo_inode_operations (S_IFDIR|0555), each entry S_IFREG|0444
// (proc_fdinfo_instantiate()). Mount ids and inode numbers have to be numbers a real boot could give:
// the pseudo filesystems (pipefs, anon_inodefs) and the model's mounts carry the ids and device
// numbers this machine's 6.18 boot gave them; every anon_inode file (eventfd, epoll, VFIO device, KVM
// VM and vCPU) shares the one anon inode (fs/anon_inodes.c), pipes and tmpfs files have their own
// inode numbers, and the other files are numbered per mount, in the order fdinfo first asks for them.
// Not modelled: show_fd_locks() (no file locks in the model).

import type { Kernel } from '../kernel.js';
import type { Process } from '../process.js';
import { O_CLOEXEC } from '../../../include-ts/linux/fcntl.js';
import type { KFile } from './file.js';
import { ShmemFile } from './shmem.js';
import type { FsType } from './vfs.js';

/** The mount a file was opened through and its inode: mnt_id, i_sb->s_dev (MKDEV(0, minor)) and i_ino. */
export interface FileInode {
  readonly mntId: number;
  readonly dev: number;
  readonly ino: number;
}

export type MountName = FsType['name'] | 'pipefs' | 'anon_inodefs' | 'shm' | 'hugetlbfs2M' | 'hugetlbfs1G';

/**
 * mnt_id and s_dev per mount. The kernel-internal mounts (kern_mount: pipefs, anon_inodefs) and the
 * ones init makes (proc, sysfs, devtmpfs) have the numbers measured on this machine's 6.18 boot; the
 * model's root is the initial rootfs (init_mount_tree(), the first mount).
 */
export const MOUNT_IDS: Readonly<Record<MountName, { readonly mntId: number; readonly dev: number }>> = {
  rootfs: { mntId: 1, dev: 0x2 },
  pipefs: { mntId: 16, dev: 0xf },
  anon_inodefs: { mntId: 17, dev: 0x10 },
  // shm_mnt (mm/shmem.c shmem_init()'s kern_mount), where memfds live: fdinfo shows mnt_id 0 here.
  shm: { mntId: 0, dev: 0x1 },
  // hugetlb_file_setup()'s internal hugetlbfs mounts, one per huge page size.
  hugetlbfs2M: { mntId: 18, dev: 17 },
  hugetlbfs1G: { mntId: 19, dev: 18 },
  proc: { mntId: 22, dev: 0x15 },
  sysfs: { mntId: 23, dev: 0x16 },
  devtmpfs: { mntId: 24, dev: 0x6 },
};

/** The anon inode's i_ino (alloc_anon_inode() at boot, get_next_ino()): the value this machine's boot gave it. */
export const ANON_INODE_INO = 1038;
/** procfs numbers its inodes from PROC_DYNAMIC_FIRST (0xF0000000, fs/proc/generic.c proc_alloc_inum()). */
const PROC_DYNAMIC_FIRST = 0xf000_0000;

/** Inode numbers for files reached by path, per mount, handed out the first time fdinfo asks. */
export class InodeNumbers {
  private readonly byPath = new Map<string, number>();

  constructor(private readonly kernel: Kernel) {}

  /** The inode behind an open file: its mount and number. */
  of(file: KFile): FileInode {
    const path = file.path;
    if (path.startsWith('anon_inode:')) return { ...MOUNT_IDS.anon_inodefs, ino: file.ino ?? ANON_INODE_INO };
    const own = file.ino;
    if (path.startsWith('pipe:')) return { ...MOUNT_IDS.pipefs, ino: own ?? 0 };
    if (path.startsWith('/memfd:') && file instanceof ShmemFile) return { ...MOUNT_IDS[file.memfdMount], ino: own ?? 0 };
    const fs = this.kernel.vfs.fsOf(path).name;
    return { ...MOUNT_IDS[fs], ino: own ?? this.byPathIno(fs, path) };
  }

  /**
   * The inode number of the file at a resolved path on mount `fs` (the files without one of their
   * own): the number fdinfo shows once it is open and stat reports (src/linux/fs/stat.ts).
   */
  byPathIno(fs: FsType['name'], path: string): number {
    let ino = this.byPath.get(path);
    if (ino === undefined) {
      const ids = this.kernel.ids;
      // tmpfs (devtmpfs, rootfs) numbers from the same counter as the files open(O_CREAT) makes.
      ino = fs === 'proc' ? PROC_DYNAMIC_FIRST + ids.next('proc-ino') : fs === 'sysfs' ? ids.next('sysfs-ino') : ids.next('shmem-ino');
      this.byPath.set(path, ino);
    }
    return ino;
  }
}

/** seq_show(): the fdinfo text of fd `fd` of `p` (the caller checked that it is open). */
export function fdinfoText(kernel: Kernel, p: Process, fd: number, file: KFile): string {
  const flags = file.flags | (p.fds.isCloexec(fd) ? O_CLOEXEC : 0);
  const { mntId, ino } = kernel.inodes.of(file);
  return `pos:\t${file.pos}\nflags:\t0${(flags >>> 0).toString(8)}\nmnt_id:\t${mntId}\nino:\t${ino}\n${file.showFdinfo(kernel)}`;
}
