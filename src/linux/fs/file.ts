// An open file description (`struct file` + its `file_operations`, include/linux/fs.h). Each kind of
// file is a subclass that overrides the operations it supports; the syscall layer dispatches to them
// by file type, never by ioctl number. Defaults are what the VFS returns when an operation is missing.

import { kerr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import type { Backing } from '../mm/backing.js';
import type { Process } from '../process.js';
import type { TraceFileKind } from '../trace/ioctl-desc.js';
import type { UserArg } from '../uaccess.js';
import type { WaitQueue } from '../waitqueue.js';
import type { InodeAttrs } from './namei.js';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../../include-ts/linux/poll.js';

export interface FileContext {
  readonly proc: Process;
  readonly kernel: Kernel;
  /**
   * True for the async syscall forms: an operation that would block throws WouldBlock (the caller
   * awaits the wait queue) instead of waiting on the scheduler synchronously.
   */
  readonly async: boolean;
}

/** What mmap() asks a file for: a range of the file at `pgoff` pages, with the caller's prot/flags. */
export interface MmapRequest {
  readonly length: number;
  readonly prot: number;
  readonly flags: number;
  /** Byte offset into the file (mmap's `offset` argument). */
  readonly offset: number;
}

/** f_mode bits (include/linux/fs.h): read() needs FMODE_READ, write() FMODE_WRITE (vfs_read/vfs_write: EBADF). */
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;

/**
 * OPEN_FMODE(): O_RDONLY -> FMODE_READ, O_WRONLY -> FMODE_WRITE, O_RDWR -> both, and access mode 3
 * (O_ACCMODE) -> neither: a file opened that way (after both permissions were checked) is for ioctl only.
 */
export function openFmode(flags: number): number {
  return (flags + 1) & 3;
}

/** One epoll item watching a file (struct epitem on file->f_ep, fs/eventpoll.c). */
export interface EpollLink {
  /** ep_remove(): takes the item out of its epoll set and off the file's wait queue. */
  unlink(): void;
}

/** DEFAULT_POLLMASK: a file without a poll operation is always readable and writable. */
export const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/** Files opened so far, across hosts: only their order is ever used (KFile.serial). */
let filesOpened = 0;

/** What fstat/statx show of a file's own anon inode (KFile.anonAttrs). */
export interface AnonInodeAttrs {
  readonly mode: number;
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly atimeNs: number;
  readonly mtimeNs: number;
  readonly ctimeNs: number;
}

export abstract class KFile {
  /**
   * Creation order. It stands in for the struct file's address where the kernel orders files by it
   * (epoll's interest list, ep_cmp_ffd()); it is never printed, so sharing the counter between hosts
   * changes nothing a host can observe.
   */
  readonly serial = filesOpened++;
  /** The file type, which names its ioctls in traces. */
  abstract readonly kind: TraceFileKind;
  /** What /proc/<pid>/fd/<n> links to: a path, or `anon_inode:[eventfd]`. */
  abstract readonly path: string;
  /** f_flags: access mode and status flags (O_NONBLOCK...). */
  flags = 0;
  /** f_pos for read()/write() on positional files. */
  pos = 0;
  /** Open references: fd-table slots plus kernel references (e.g. a VFIO device fd pins its group file). */
  refs = 0;
  released = false;

  /**
   * file_can_poll(): whether the file has a ->poll operation. Without one poll(2) reports
   * DEFAULT_POLLMASK and epoll_ctl(EPOLL_CTL_ADD) fails with EPERM.
   */
  readonly canPoll: boolean = false;
  /**
   * file->f_inode as fchown/fchmod see it: the node open() found or made, a pipe's pipefs inode; null
   * for files on the shared anonymous inode (eventfd, epoll, VFIO device and KVM fds), whose
   * ->setattr refuses every change (anon_inode_setattr: EOPNOTSUPP).
   */
  fInode: InodeAttrs | null = null;
  /** file->f_ep: the epoll items watching this file; null while none does. */
  fEp: EpollLink[] | null = null;

  /**
   * path_noexec(): the file's superblock is SB_I_NOEXEC: anon_inodefs (eventfd, epoll, VFIO device and
   * KVM fds), pipefs, sysfs (kernfs) and procfs; mmap with PROT_EXEC fails with EPERM [E].
   */
  get noexec(): boolean {
    const p = this.path;
    return !p.startsWith('/') || p.startsWith('/sys/') || p.startsWith('/proc/');
  }

  /** FMODE_PREAD|FMODE_PWRITE: whether pread/pwrite (and f_pos) apply; otherwise they fail with ESPIPE. */
  readonly positional: boolean = false;
  /**
   * Whether read()/write() of a positional file leave f_pos after what they transferred (its read and
   * write move *ppos); /dev/null's and /dev/zero's never do.
   */
  readonly movesPos: boolean = true;
  /** FMODE_PWRITE: pwrite applies (else ESPIPE); differs from `positional` for FMODE_PREAD-only files (KVM stats fds). */
  get pwritable(): boolean {
    return this.positional;
  }

  read(_ctx: FileContext, _buf: Uint8Array, _pos: number): number {
    throw kerr('EINVAL', 'this file does not support read');
  }

  write(_ctx: FileContext, _buf: Uint8Array, _pos: number): number {
    throw kerr('EINVAL', 'this file does not support write');
  }

  ioctl(_ctx: FileContext, req: number, _arg: UserArg): number {
    throw kerr('ENOTTY', `ioctl 0x${(req >>> 0).toString(16)} is not supported by this file (${this.kind})`);
  }

  /** ->llseek (fs/llseek.ts): none by default, so lseek(2) is ESPIPE (FMODE_LSEEK is not set). */
  llseek(_offset: number, _whence: number): number {
    throw kerr('ESPIPE', `this file (${this.kind}) cannot seek: its file_operations have no llseek`);
  }

  mmap(_ctx: FileContext, _req: MmapRequest): Backing {
    throw kerr('ENODEV', `this file (${this.kind}) cannot be memory-mapped`);
  }

  /** ->fallocate, after vfs_fallocate()'s checks (fs/fallocate.ts): none by default (EOPNOTSUPP). */
  fallocate(_ctx: FileContext, _mode: number, _offset: number, _len: number): number {
    throw kerr('EOPNOTSUPP', `this file (${this.kind}) has no fallocate operation`);
  }

  /**
   * An anon_inodefs file on an inode of its own (anon_inode_make_secure_inode: guest_memfd): its i_mode,
   * i_size, owner and (creation) times for fstat; null for the files sharing the one anon inode.
   */
  get anonAttrs(): AnonInodeAttrs | null {
    return null;
  }

  /** The current poll mask. */
  poll(): number {
    return DEFAULT_POLLMASK;
  }

  /** The wait queue woken when the poll mask may have changed (null: never changes). */
  get waitQueue(): WaitQueue | null {
    return null;
  }

  /**
   * i_ino for files whose inode has its own number (pipes, tmpfs files); undefined for the others,
   * which fs/fdinfo.ts numbers by mount (one anon inode, or by path).
   */
  get ino(): number | undefined {
    return undefined;
  }

  /**
   * ->show_fdinfo(): the lines /proc/<pid>/fdinfo/<fd> prints after pos/flags/mnt_id/ino ('' for a
   * file_operations without one, the default).
   */
  showFdinfo(_kernel: Kernel): string {
    return '';
  }

  /** Called once when the last reference goes away. */
  release(_kernel: Kernel): void {}

  get(): this {
    this.refs++;
    return this;
  }

  /** fput(): drops a reference, releasing the file on the last one. */
  put(kernel: Kernel): void {
    if (--this.refs === 0 && !this.released) {
      this.released = true;
      // __fput(): eventpoll_release() first: the closed file leaves every epoll set before its release.
      while (this.fEp !== null) this.fEp[0]!.unlink();
      this.release(kernel);
    }
  }
}
