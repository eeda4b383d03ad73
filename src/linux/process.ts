// A process and its system calls (fs/open.c, fs/read_write.c, fs/ioctl.c, fs/select.c, mm/mmap.c,
// fs/file.c, fs/fcntl.c, kernel/groups.c): the ABI a VMM is written against. Its credentials (uid,
// gid, groups, capabilities) are what permission checks read (src/linux/fs/namei.ts). Every call validates like the kernel
// before changing anything, fails with the kernel's errno as a SyscallError, and reports itself on the
// trace bus. Calls that would block either wait for the scheduler to make them ready (sync form; they
// fail with EINTR, never hang, when nothing in the model can ever make them ready) or have an async
// form (`readAsync`, `pollAsync`, ...) that resolves when another part of the program makes them ready.

import { KernelError, SyscallError, WouldBlock, kerr } from './errors.js';
import { FdTable } from './fs/fdtable.js';
import { DEFAULT_POLLMASK, FMODE_READ, FMODE_WRITE, KFile, openFmode, type FileContext } from './fs/file.js';
import { AttrFile } from './fs/attr-file.js';
import type { Inode, Missing, Start } from './fs/vfs.js';
import { MAY_EXEC, MAY_READ, MAY_WRITE, PATH_MAX, checkPathLength, inodePermission, modeText, ownerOrCapable, type InodeAttrs } from './fs/namei.js';
import { chmodAttr, chownAttr, createdOwner, NO_ID, notifyChange, type IAttr } from './fs/attr.js';
import type { Cred } from './cred.js';
import { ShmemFile, ShmemInode } from './fs/shmem.js';
import { genericLlseek, setCurLlseek } from './fs/llseek.js';
import { SEEK_MAX } from '../../include-ts/linux/fs.js';
import { vfsFallocate } from './fs/fallocate.js';
import { STAT_SIZE, STATX_SIZE, copyStat, copyStatx, cpNewStat, cpStatx, getattrFile, getattrPath, type KStat, type Stat, type Statx } from './fs/stat.js';
import { S_IFMT, S_IFREG, STATX__RESERVED } from '../../include-ts/linux/stat.js';
import { EventFdCtx, EventFdFile, EFD_FLAGS_SET } from './eventfd.js';
import { PipeFile } from './pipe.js';
import { EPOLL_DATA_OFF, EPOLL_EVENTS_OFF, EPOLL_EVENT_SIZE, EpollFile, doEpollCtl, epollWaitTarget } from './fs/eventpoll.js';
import type { Kernel } from './kernel.js';
import { AddressSpace, Mapping, PAGE_SIZE, TASK_SIZE } from './mm/address-space.js';
import { IoBacking, RamBacking } from './mm/backing.js';
import { UserArg, isPointerLike, type IoctlArgument } from './uaccess.js';
import type { Scheduler } from '../sim/scheduler.js';
import type { TraceBus } from '../sim/trace.js';
import { WaitQueue, type WaitEntry } from './waitqueue.js';
import { NullFile } from './drivers/mem.js';
import { GENERIC_IOCTLS } from './trace/decoders/generic.js';
import { getS32, getU32, getU64, setU64 } from '../../abi/bytes.js';
import { FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX } from '../../include-ts/asm-generic/ioctls.js';
import {
  F_ADD_SEALS, F_CREATED_QUERY, F_DUPFD, F_GET_SEALS, F_DUPFD_CLOEXEC, F_DUPFD_QUERY, F_GETFD, F_GETFL, F_GETPIPE_SZ, F_SETFD, F_SETFL, F_SETPIPE_SZ, FD_CLOEXEC, O_ACCMODE, O_APPEND, O_CLOEXEC,
  O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, O_DSYNC, O_SYNC, FASYNC, O_DIRECT,
  O_LARGEFILE, O_NOATIME, O_CREAT, O_EXCL, O_TRUNC, __O_TMPFILE, AT_FDCWD, AT_EMPTY_PATH, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW,
} from '../../include-ts/linux/fcntl.js';
import { MAP_ANONYMOUS, MAP_DROPPABLE, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_HUGETLB, MAP_HUGE_MASK, MAP_HUGE_SHIFT, MAP_NORESERVE, MAP_LOCKED, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../include-ts/linux/mman.js';
import { POLLERR, POLLHUP, POLLNVAL } from '../../include-ts/linux/poll.js';
import { RLIMIT_MEMLOCK, RLIMIT_NOFILE, rlimit64 } from '../../include-ts/linux/resource.js';
import { CAP_IPC_LOCK, CAP_SYS_RAWIO } from '../../include-ts/linux/capability.js';
import { applyLock, applyLockAll, totalVm, unpopulatable } from './mm/mlock.js';
import { doMadvise } from './mm/madvise.js';
import { hugetlbLength } from './fs/hugetlbfs.js';
import { memfdAddSeals, memfdCheck, memfdFile, memfdGetSeals } from './mm/memfd.js';
import { MFD_CLOEXEC } from '../../include-ts/linux/memfd.js';
import { ResourceLimits } from './resource.js';
import { CAP_LAST_CAP, CAP_SETGID, CAP_SYS_RESOURCE } from '../../include-ts/linux/capability.js';
import { EPOLL_CLOEXEC, EPOLL_CTL_DEL } from '../../include-ts/linux/eventpoll.js';
import { O_NOTIFICATION_PIPE } from '../../include-ts/linux/watch_queue.js';

/**
 * Where a sleeper queues. 'tail': a wait_event*() sleeper (do_wait_intr, prepare_to_wait_exclusive).
 * 'poll': poll()'s __pollwait entry, add_wait_queue() at the head. 'epoll': ep_poll()'s
 * __add_wait_queue_exclusive(), at the head and exclusive: a wakeup wakes one epoll_wait, the newest
 * (measured on 6.18: of two threads waiting on one epoll, the later one gets the event).
 */
type SleepHow = 'tail' | 'poll' | 'epoll';

/**
 * Queues a sleeper on `wq` that calls `woke` when woken. Sleepers leave the queue the moment they are
 * woken (autoremove_wake_function() in kernel/sched/wait.c, ep_autoremove_wake_function() in
 * fs/eventpoll.c), so a second wakeup before the sleeper runs finds the queue without it; poll()'s
 * entry (pollwake) stays until the call ends.
 */
function queueSleeper(wq: WaitQueue, how: SleepHow, woke: () => void): WaitEntry {
  if (how === 'poll') {
    const e: WaitEntry = { wake: () => { woke(); } };
    wq.add(e);
    return e;
  }
  // default_wake_function() reports that it woke the task: an exclusive sleeper ends the wakeup.
  const e: WaitEntry = { wake: () => { woke(); wq.remove(e); return true; } };
  if (how === 'epoll') wq.addExclusiveHead(e);
  else wq.addTail(e);
  return e;
}

export interface PollFd {
  fd: number;
  events: number;
  revents?: number;
}

export interface ProcessOptions {
  readonly uid?: number;
  readonly gid?: number;
  /** Supplementary groups (e.g. the `kvm` group for /dev/kvm). */
  readonly groups?: readonly number[];
  readonly name?: string;
  /** Open /dev/null on fds 0, 1 and 2 (default true), so the first fd handed out is 3. */
  readonly stdio?: boolean;
  /** RLIMIT_NOFILE (default 1024; QEMU raises its soft limit like this to hold thousands of eventfds). */
  readonly nofile?: number;
  /** The umask applied to files open(O_CREAT) creates (default 022, init's). */
  readonly umask?: number;
  /**
   * Limits set by whoever started the process (`ulimit` in its shell), keyed by RLIMIT_*: [soft, hard]
   * in bytes or counts, RLIM_INFINITY for none. The rest are init's. `nofile` sets RLIMIT_NOFILE's soft
   * limit (and the hard one if it is below).
   */
  readonly rlimits?: Readonly<Record<number, readonly [cur: number | bigint, max: number | bigint]>>;
  /**
   * The effective capability set (bit n = capability n): every capability for uid 0 and none for
   * others unless given, as a container that drops some (Docker drops CAP_SYS_RESOURCE and
   * CAP_IPC_LOCK) would set it. Consulted by the checks that name a capability: prlimit64's
   * CAP_SYS_RESOURCE, VFIO pinning's CAP_IPC_LOCK, file permissions' CAP_DAC_OVERRIDE and
   * CAP_DAC_READ_SEARCH, chown's CAP_CHOWN, chmod's CAP_FOWNER and CAP_FSETID.
   */
  readonly capabilities?: bigint;
  /**
   * The working directory it starts in (default "/"), as if whoever started it had chdir()ed there
   * before dropping privileges: no permission is checked, but it must be a directory.
   */
  readonly cwd?: string;
}

// Hot-path copies of imported constants: loaders (tsx, vite) compile imported bindings to getter
// calls, which cost more than the rest of an eventfd read.
// f_mode's FMODE_READ/FMODE_WRITE are OPEN_FMODE(f_flags): (f_flags + 1) & these (src/linux/fs/file.ts).
const RLIMIT64_SIZE = rlimit64.size;
const RLIM_CUR = rlimit64.offsetof('rlim_cur');
const RLIM_MAX = rlimit64.offsetof('rlim_max');
const ALL_CAPS = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;
const FM_READ = 0x1;
const FM_WRITE = 0x2;
/** O_APPEND. */
const F_APPEND = 0o2000;

/** init_fs's umask (fs/fs_struct.c), which processes inherit unless they change it. */
const DEFAULT_UMASK = 0o022;
const WOULD_BLOCK = -1;
/** NGROUPS_MAX (include/uapi/linux/limits.h): the most supplementary groups setgroups() takes. */
const NGROUPS_MAX = 65536;
/** The largest read or write the kernel performs in one call (MAX_RW_COUNT). */
const MAX_RW_COUNT = 0x7ffff000;
/**
 * What an open's flags leave in f_flags: VALID_OPEN_FLAGS (include/linux/fcntl.h; O_PATH opens set
 * their own) without O_CLOEXEC (build_open_flags()) and O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC
 * (do_dentry_open()). An O_TMPFILE file keeps both its bits.
 */
const F_FLAGS_KEPT = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | __O_TMPFILE;

/** The part of setfl()'s SETFL_MASK (fs/fcntl.c) the model changes: all of it but O_NOATIME. */
/** The anonymous inode (fs/anon_inodes.c): root's, mode 0600, made at boot. */
const ANON_INODE_OWNER: InodeAttrs = { type: 'anon', mode: 0o600, uid: 0, gid: 0 };
const SETFL_MODELED = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

type RwKind = 'read' | 'write' | 'pread64' | 'pwrite64';

/**
 * fs/fcntl.c check_fcntl_cmd(): the only commands an O_PATH (FMODE_PATH) file accepts; fcntl() fails
 * every other one with EBADF before looking at it.
 */
function pathFcntlAllowed(cmd: number): boolean {
  switch (cmd) {
    case F_CREATED_QUERY: case F_DUPFD: case F_DUPFD_CLOEXEC: case F_DUPFD_QUERY: case F_GETFD: case F_SETFD: case F_GETFL:
      return true;
    default:
      return false;
  }
}

/**
 * build_open_flags()'s rules for the flags that create (after build_open_how() has dropped them all
 * with O_PATH): O_CREAT with O_DIRECTORY is EINVAL since 6.4 (that also refuses O_CREAT|O_TMPFILE);
 * __O_TMPFILE needs O_DIRECTORY (old kernels would open the directory) and an access mode that writes.
 */
function checkCreateFlags(path: string, flags: number): void {
  if ((flags & (O_CREAT | O_DIRECTORY)) === (O_CREAT | O_DIRECTORY)) {
    throw kerr('EINVAL', `O_CREAT with O_DIRECTORY on ${path} (refused since Linux 6.4: it would make a regular file, not a directory)`);
  }
  if (flags & __O_TMPFILE) {
    if (!(flags & O_DIRECTORY)) throw kerr('EINVAL', `__O_TMPFILE without O_DIRECTORY on ${path} (O_TMPFILE is both bits)`);
    if ((flags & O_ACCMODE) === O_RDONLY) throw kerr('EINVAL', `O_TMPFILE on ${path} with O_RDONLY (an unnamed file must be opened for writing)`);
  }
}

function badFd(fd: number): KernelError {
  return kerr('EBADF', `fd ${fd} is not an open file descriptor`);
}

function notOpenFor(isRead: boolean): KernelError {
  return kerr('EBADF', `the file is not open for ${isRead ? 'reading' : 'writing'}`);
}

function negativeOffset(pos: number): KernelError {
  return kerr('EINVAL', `negative offset ${pos}`);
}

/** pread/pwrite: the file must have a position (FMODE_PREAD/FMODE_PWRITE), else ESPIPE. */
function noPosition(kind: RwKind, file: KFile): KernelError {
  return kerr('ESPIPE', `${kind} on ${file.path}, which has no file position`);
}

/** The path an *at() call names: where it starts, whether a final symlink is followed, AT_EMPTY_PATH. */
interface AtPath {
  readonly dirfd: number;
  readonly path: string;
  readonly follow: boolean;
  readonly empty: boolean;
}

export class Process implements Cred {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups, sorted (groups_sort(): spawn's initgroups and setgroups sort them). */
  groups: readonly number[];
  readonly name: string;
  readonly umask: number;
  readonly fds: FdTable;
  readonly mm: AddressSpace;
  readonly rlimits = new ResourceLimits();
  /** The effective capability set (bit n = capability n). */
  readonly capEff: bigint;
  exited = false;
  /** current->fs->pwd: where relative paths start (fs/fs_struct.c), set by chdir/fchdir; "/" at first. */
  private cwd: Start;
  private readonly sched: Scheduler;
  private readonly trace: TraceBus;
  private readonly arg = new UserArg();
  private readonly ctx: FileContext;
  /** The context async syscalls pass: file operations that would block throw WouldBlock instead of waiting. */
  private readonly asyncCtx: FileContext;
  private blockedOn: WouldBlock | null = null;

  constructor(
    readonly kernel: Kernel,
    opts: ProcessOptions = {},
  ) {
    this.pid = kernel.allocPid();
    this.uid = opts.uid ?? 0;
    this.gid = opts.gid ?? this.uid;
    this.groups = [...(opts.groups ?? [])].map((g) => g >>> 0).sort((a, b) => a - b);
    this.name = opts.name ?? `proc${this.pid}`;
    this.umask = (opts.umask ?? DEFAULT_UMASK) & 0o777;
    this.capEff = opts.capabilities ?? (this.uid === 0 ? ALL_CAPS : 0n);
    this.sched = kernel.sched;
    this.trace = kernel.trace;
    if (opts.nofile !== undefined) {
      const hard = this.rlimits.hard(RLIMIT_NOFILE);
      const n = BigInt(opts.nofile);
      this.rlimits.preset(RLIMIT_NOFILE, n, n > hard ? n : hard);
    }
    for (const [r, [cur, max]] of Object.entries(opts.rlimits ?? {})) this.rlimits.preset(Number(r), BigInt(cur), BigInt(max));
    this.fds = new FdTable(kernel, this.rlimits);
    this.mm = new AddressSpace(kernel);
    this.ctx = { proc: this, kernel, async: false };
    this.asyncCtx = { proc: this, kernel, async: true };
    this.cwd = { node: kernel.vfs.root, path: '/' };
    kernel.processes.set(this.pid, this);
    // After the process is known: /proc/self resolves to it.
    if (opts.cwd !== undefined) {
      try {
        const r = kernel.vfs.resolve(opts.cwd, this.ctx, true, undefined, false);
        if (r.node.type !== 'dir') throw new Error(`spawn: the working directory ${opts.cwd} is not a directory`);
        this.cwd = { node: r.node, path: r.path };
      } catch (e) {
        kernel.processes.delete(this.pid);
        throw e;
      }
    }
    if (opts.stdio ?? true) {
      const tty = new NullFile();
      for (let i = 0; i < 3; i++) this.fds.install(tty, false);
    }
  }

  /** capable(): whether the effective set has `cap`. */
  capable(cap: number): boolean {
    return ((this.capEff >> BigInt(cap)) & 1n) === 1n;
  }

  get context(): FileContext {
    return this.ctx;
  }

  /** fdget(): the open file behind `fd`, or undefined; an O_PATH file is invisible to it (FMODE_PATH). */
  fileOrNull(fd: number): KFile | undefined {
    const f = this.fds.get(fd);
    return f === undefined || (f.flags & O_PATH) !== 0 ? undefined : f;
  }

  // ---------------------------------------------------------------------------------------------
  // Error and trace plumbing

  private fail(e: unknown, syscall: string, call: string, fd?: number, path?: string): never {
    if (e instanceof KernelError) {
      const init = { errno: e.errno, syscall, call, reason: e.reason, ...(fd !== undefined ? { fd } : {}), ...(path !== undefined ? { path } : {}) };
      throw new SyscallError(init);
    }
    throw e;
  }

  /** fdget(): EBADF for a closed fd and for an O_PATH one (only close, dup and some fcntls take those). */
  private fileFor(fd: number): KFile {
    if (this.exited) throw this.exitedError();
    const f = this.fds.get(fd);
    if (f === undefined || (f.flags & O_PATH) !== 0) throw badFd(fd);
    return f;
  }

  /** fdget_raw(): O_PATH files included (dup, dup2, fcntl). */
  private rawFileFor(fd: number): KFile {
    if (this.exited) throw this.exitedError();
    const f = this.fds.get(fd);
    if (f === undefined) throw badFd(fd);
    return f;
  }

  private exitedError(): KernelError {
    return kerr('ESRCH', `process ${this.pid} has exited`);
  }

  private traceCall(syscall: string, fd: number | undefined, file: KFile | undefined, args: readonly unknown[], ret: number | bigint, err: unknown): void {
    const errno = err instanceof KernelError ? err.errno : 0;
    this.kernel.trace.emit({
      type: 'syscall',
      t: this.kernel.sched.now,
      pid: this.pid,
      syscall,
      ...(fd !== undefined ? { fd } : {}),
      ...(file ? { fileKind: file.kind } : {}),
      args,
      ret: errno ? -1 : ret,
      errno,
      ...(err instanceof KernelError ? { reason: err.reason } : {}),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Blocking

  /** Waits (sync) for a WouldBlock condition; EAGAIN on O_NONBLOCK, EINTR if nothing can ever wake it. */
  private waitSync(file: KFile, wb: WouldBlock): void {
    if (file.flags & O_NONBLOCK) throw kerr('EAGAIN', `${wb.reason} (O_NONBLOCK)`);
    if (!this.sleepSync(wb.wq)) {
      throw kerr('EINTR', `${wb.reason}; the call would block forever (nothing pending in the model can change that; use the async form if another part of the program will)`);
    }
  }

  /**
   * Sleeps (sync) on `wq` until it is woken or `deadline` passes, running the scheduler meanwhile;
   * returns whether it was woken. Queued as `how` says (see queueSleeper()).
   */
  private sleepSync(wq: WaitQueue, deadline = Infinity, how: SleepHow = 'tail'): boolean {
    let woken = false;
    const entry = queueSleeper(wq, how, () => { woken = true; });
    try {
      return this.kernel.sched.runUntil(() => woken, deadline);
    } finally {
      if (!woken) wq.remove(entry);
    }
  }

  /**
   * Waits (async) until `wq` is woken, driving the scheduler when the program itself is idle. Queued as
   * `how` says (see queueSleeper()).
   */
  private async waitAsync(wq: WaitQueue | null, deadline = Infinity, how: SleepHow = 'tail'): Promise<boolean> {
    let woken = false;
    const entry = wq === null ? null : queueSleeper(wq, how, () => { woken = true; });
    try {
      let idleTurns = 0;
      for (;;) {
        if (woken) return true;
        await new Promise<void>((r) => setImmediate(r));
        if (woken) return true;
        const s = this.kernel.sched;
        if (s.runOne(s.policy === 'interleave')) {
          idleTurns = 0;
          continue;
        }
        const next = s.nextTimerAt();
        if (next !== undefined && next <= deadline) {
          s.advance(next - s.now);
          idleTurns = 0;
          continue;
        }
        if (deadline !== Infinity) {
          if (deadline > s.now) s.advance(deadline - s.now);
          return woken;
        }
        // Give other async code in the program a few turns before declaring it stuck.
        if (++idleTurns > 3) return false;
      }
    } finally {
      if (entry !== null && !woken) wq!.remove(entry);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // open / close / dup / fcntl

  /** inode_permission() with this process's credentials (src/linux/fs/namei.ts). */
  private mayAccess(node: Inode, want: number): boolean {
    return inodePermission(this, node, want);
  }

  /**
   * open(2) as do_sys_openat2() runs it: build_open_flags() (EINVAL), get_unused_fd_flags() (EMFILE),
   * then path_openat(): the walk, open_last_lookups() (which with O_CREAT creates a missing name where
   * the filesystem can), do_open() and the file's open. A failed call installs no fd; only a file it
   * created stays created, as in Linux (nothing after the creation can fail here).
   */
  open(path: string, flags: number = O_RDONLY, mode = 0): number {
    return this.openat(AT_FDCWD, path, flags, mode);
  }

  /** openat(2): open(2) with a relative path starting at `dirfd` (AT_FDCWD: the working directory). */
  openat(dirfd: number, path: string, flags: number = O_RDONLY, mode = 0): number {
    let file: KFile | undefined;
    const dir = dirfd === AT_FDCWD ? 'AT_FDCWD' : dirfd;
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      // build_open_how(): with O_PATH only O_PATH_FLAGS count, so none of the creation rules apply.
      if (!(flags & O_PATH)) checkCreateFlags(path, flags);
      // do_sys_openat2(): getname() after the flag checks, before the fd is reserved.
      if (path === '') throw kerr('ENOENT', 'the path is empty');
      checkPathLength(path);
      this.fds.reserveCheck();
      const start = this.startAt(dirfd, path);
      if ((flags & (__O_TMPFILE | O_PATH)) === __O_TMPFILE) {
        file = this.openTmpfile(path, flags, mode, start);
      } else {
        const creat = (flags & (O_CREAT | O_PATH)) === O_CREAT;
        // build_open_flags(): O_CREAT|O_EXCL never follows a final symlink (it is the name that exists).
        const follow = !(flags & O_NOFOLLOW) && !(creat && flags & O_EXCL);
        const vfs = this.kernel.vfs;
        // A final /proc/<pid>/fd/<n> magic link to a tmpfs file (a memfd) reopens that inode itself.
        const magic = !creat && follow ? vfs.resolve(path, this.ctx, false, start).node : undefined;
        if (magic?.type === 'link' && magic.file?.fInode instanceof ShmemInode) {
          if (flags & O_PATH) return this.openPath(dir, path, flags, mode, magic.file.fInode, magic.file.path);
          file = this.openExisting(path, flags, magic.file.fInode, magic.file.path);
        } else {
          const found = creat ? vfs.lookupCreate(path, this.ctx, follow, start) : vfs.resolve(path, this.ctx, follow, start);
          if (found.node === undefined) file = this.createFile(found, mode);
          else if (flags & O_PATH) return this.openPath(dir, path, flags, mode, found.node, found.path);
          else file = this.openExisting(path, flags, found.node, found.path);
        }
      }
      // open()/openat() add O_LARGEFILE on 64-bit (force_o_largefile()); build_open_how() drops bits
      // outside VALID_OPEN_FLAGS, build_open_flags() O_CLOEXEC, do_dentry_open() the open-time-only flags.
      file.flags = (flags & F_FLAGS_KEPT) | O_LARGEFILE;
      // do_dentry_open(), after f_op->open: only tmpfs files support direct I/O (FMODE_CAN_ODIRECT).
      if (flags & O_DIRECT && !(file instanceof ShmemFile)) throw kerr('EINVAL', `${file.path} does not support O_DIRECT`);
      // do_open(): handle_truncate() on an existing regular file, once it is open (a created one, like
      // an O_TMPFILE one, is empty: O_TRUNC is dropped). Truncating a sysfs or procfs attribute changes
      // nothing.
      if (flags & O_TRUNC && file instanceof ShmemFile && !file.created) file.inode.setSize(0, this.kernel.sched.now);
      const fd = this.fds.install(file, (flags & O_CLOEXEC) !== 0);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('openat', undefined, file, [dir, path, flags, mode], fd, undefined);
      return fd;
    } catch (e) {
      if (file && file.refs === 0) {
        file.released = true;
        file.release(this.kernel);
      }
      if (this.kernel.trace.active) this.traceCall('openat', undefined, undefined, [dir, path, flags, mode], -1, e);
      this.fail(e, 'open', dirfd === AT_FDCWD ? `open("${path}")` : `openat(${dirfd}, "${path}")`, undefined, path);
    }
  }

  /**
   * do_tmpfile(): an unnamed tmpfs file in the directory `path` names (ENOTDIR, ENOENT), which the
   * caller must be allowed to write and search (vfs_tmpfile(): EACCES) and whose filesystem must have
   * ->tmpfile (EOPNOTSUPP: sysfs, procfs). No FMODE_CREATED: F_CREATED_QUERY reports 0.
   */
  private openTmpfile(path: string, flags: number, mode: number, start: Start | undefined): ShmemFile {
    const vfs = this.kernel.vfs;
    const { node: dir, path: dirPath } = vfs.resolve(path, this.ctx, !(flags & O_NOFOLLOW), start);
    if (dir.type !== 'dir') throw kerr('ENOTDIR', `${path} is not a directory (O_TMPFILE names the directory to make the file in)`);
    if (!this.mayAccess(dir, MAY_WRITE | MAY_EXEC)) {
      throw kerr('EACCES', `O_TMPFILE in ${dirPath} needs write and search permission on it (mode ${modeText(dir)}); uid ${this.uid} has not`);
    }
    const fs = vfs.fsOf(dirPath);
    if (!fs.creates) throw kerr('EOPNOTSUPP', `${dirPath} is a ${fs.name} directory, which cannot make files (no ->tmpfile)`);
    const inode = this.newShmemInode(dir, mode);
    // What /proc/<pid>/fd shows for it (d_path() of an unlinked dentry).
    const file = new ShmemFile(inode, `${dirPath === '/' ? '' : dirPath}/#${inode.ino} (deleted)`, false);
    file.fInode = inode;
    return file;
  }

  /**
   * lookup_open() for a name that does not exist, with O_CREAT: procfs's ->lookup fails (ENOENT);
   * may_o_create() needs write and search permission on the directory (EACCES); a directory without
   * ->create (sysfs, procfs) is EACCES; else a tmpfs file owned by the caller, mode & ~umask, opened
   * with FMODE_CREATED and acc_mode 0 (do_open(): the creator may open it whatever its mode says).
   */
  private createFile(where: Missing, mode: number): ShmemFile {
    const vfs = this.kernel.vfs;
    const fs = vfs.fsOf(where.dirPath);
    if (fs.lookupFails) throw kerr('ENOENT', `${where.path} does not exist, and ${fs.name} directories create nothing (their lookup fails)`);
    if (!this.mayAccess(where.dir, MAY_WRITE | MAY_EXEC)) {
      throw kerr('EACCES', `creating ${where.path} needs write and search permission on ${where.dirPath} (mode ${modeText(where.dir)}); uid ${this.uid} has not`);
    }
    if (!fs.creates) throw kerr('EACCES', `${where.dirPath} is a ${fs.name} directory, which cannot create files (no ->create)`);
    const inode = this.newShmemInode(where.dir, mode);
    vfs.create(where, inode);
    const file = new ShmemFile(inode, where.path, true);
    file.fInode = inode;
    return file;
  }

  /** shmem_get_inode(): build_open_how()'s mode & S_IALLUGO, vfs_prepare_mode() and inode_init_owner(). */
  private newShmemInode(dir: InodeAttrs, mode: number): ShmemInode {
    const o = createdOwner(this, dir, mode, this.umask);
    return new ShmemInode(this.kernel.ids.next('shmem-ino'), o.mode, o.uid, o.gid, this.kernel.sched.now, this.kernel.pins);
  }

  /** do_open() on a name that exists: O_CREAT's checks, then may_open(), then the file's open. */
  private openExisting(path: string, flags: number, node: Inode, real: string): KFile {
    if (flags & O_CREAT) {
      if (flags & O_EXCL) throw kerr('EEXIST', `${path} exists (O_CREAT|O_EXCL creates a new name or fails)`);
      if (node.type === 'dir') throw kerr('EISDIR', `${real} is a directory (O_CREAT makes regular files)`);
    }
    // do_open(): LOOKUP_DIRECTORY (ENOTDIR) before may_open()'s file-type checks (ELOOP, EISDIR).
    if (flags & O_DIRECTORY && node.type !== 'dir') throw kerr('ENOTDIR', `${path} is not a directory`);
    if (node.type === 'link') throw kerr('ELOOP', `${path} is a symbolic link and O_NOFOLLOW was given`);
    const acc = flags & O_ACCMODE;
    // ACC_MODE(): access mode 3 asks for both permissions, though the file gets neither f_mode bit;
    // build_open_flags(): O_TRUNC asks for write permission whatever the access mode.
    let want = acc === O_RDONLY ? MAY_READ : acc === O_WRONLY ? MAY_WRITE : MAY_READ | MAY_WRITE;
    if (flags & O_TRUNC) want |= MAY_WRITE;
    const fmode = openFmode(flags);
    // may_open(): the file-type checks come before the permission check.
    if (node.type === 'dir' && want & MAY_WRITE) throw kerr('EISDIR', `${real} is a directory${acc === O_RDONLY ? ' (O_TRUNC asks to write it)' : ''}`);
    if (!this.mayAccess(node, want)) {
      const what = want === MAY_READ ? 'reading' : want === MAY_WRITE ? 'writing' : 'reading and writing';
      throw kerr('EACCES', `${real} is mode ${modeText(node)}; uid ${this.uid} may not open it for ${what}${flags & O_TRUNC ? ' (O_TRUNC needs write permission)' : ''}`);
    }
    // may_open(): O_NOATIME needs the file's owner or CAP_FOWNER (inode_owner_or_capable()).
    if (flags & O_NOATIME && !ownerOrCapable(this, node)) throw kerr('EPERM', `O_NOATIME on ${real} needs its owner (uid ${node.uid}) or CAP_FOWNER; uid ${this.uid} is neither`);
    const file = this.openNode(flags, fmode, node, real);
    file.fInode = node;
    return file;
  }

  /** do_dentry_open(): the file type's open. */
  private openNode(flags: number, fmode: number, node: Exclude<Inode, { type: 'link' }>, real: string): KFile {
    switch (node.type) {
      case 'dir':
        return new DirFile(real, this.kernel.vfs.fsOf(real).name);
      case 'attr':
        // kernfs_fop_open() checks f_mode, so an access-mode-3 open of any attribute succeeds.
        if (fmode & FMODE_WRITE && !node.store) throw kerr('EACCES', `${real} is read-only`);
        if (fmode & FMODE_READ && !node.show) throw kerr('EACCES', `${real} is write-only`);
        return new AttrFile(node, real);
      case 'chr':
        return node.open(this.ctx, flags, real);
      case 'reg':
        return new ShmemFile(node, real, false);
    }
  }

  /**
   * open(O_PATH): build_open_how() keeps only O_PATH_FLAGS (the access mode goes), acc_mode is 0 (no
   * may_open(): no EISDIR, no permission check), O_NOFOLLOW gives an fd for the symlink itself, and
   * do_dentry_open() stops before the file's open operation: no driver sees the open. The file has
   * FMODE_PATH, which fdget() skips: read, write, ioctl, mmap, poll and most fcntls see EBADF.
   */
  private openPath(dir: number | 'AT_FDCWD', path: string, flags: number, mode: number, node: Inode, real: string): number {
    if (flags & O_DIRECTORY && node.type !== 'dir') throw kerr('ENOTDIR', `${path} is not a directory`);
    const file = new PathFile(real);
    file.flags = flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW); // f_flags: what build_open_flags() kept
    // f_inode: fstat() reaches it through fdget_raw(); fchown/fchmod do not (fdget()).
    file.fInode = node;
    const fd = this.fds.install(file, (flags & O_CLOEXEC) !== 0);
    this.kernel.point();
    if (this.kernel.trace.active) this.traceCall('openat', undefined, file, [dir, path, flags, mode], fd, undefined);
    return fd;
  }

  close(fd: number): void {
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      this.fds.close(fd);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('close', fd, undefined, [fd], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('close', fd, undefined, [fd], -1, e);
      this.fail(e, 'close', `close(${fd})`, fd);
    }
  }

  dup(fd: number): number {
    try {
      const f = this.rawFileFor(fd);
      const nfd = this.fds.install(f, false);
      if (this.kernel.trace.active) this.traceCall('dup', fd, f, [fd], nfd, undefined);
      return nfd;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('dup', fd, undefined, [fd], -1, e);
      this.fail(e, 'dup', `dup(${fd})`, fd);
    }
  }

  dup2(oldfd: number, newfd: number): number {
    try {
      const f = this.rawFileFor(oldfd);
      // ksys_dup2(): the same fd is only looked up; otherwise ksys_dup3()'s range check.
      if (oldfd !== newfd) {
        if (newfd < 0 || newfd >= this.fds.limit) throw kerr('EBADF', `fd ${newfd} is out of range`);
        this.fds.installAt(newfd, f, false);
      }
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('dup2', oldfd, f, [oldfd, newfd], newfd, undefined);
      return newfd;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('dup2', oldfd, undefined, [oldfd, newfd], -1, e);
      this.fail(e, 'dup2', `dup2(${oldfd}, ${newfd})`, oldfd);
    }
  }

  fcntl(fd: number, cmd: number, arg = 0): number {
    try {
      const f = this.rawFileFor(fd);
      if (f.flags & O_PATH && !pathFcntlAllowed(cmd)) {
        throw kerr('EBADF', `fd ${fd} was opened with O_PATH: fcntl command ${cmd} is not allowed on it`);
      }
      let r: number;
      switch (cmd) {
        case F_GETFD: r = this.fds.isCloexec(fd) ? FD_CLOEXEC : 0; break;
        case F_SETFD: this.fds.setCloexec(fd, (arg & FD_CLOEXEC) !== 0); r = 0; break;
        case F_GETFL: r = f.flags; break;
        case F_SETFL:
          // setfl(): turning O_NOATIME on needs the inode's owner or CAP_FOWNER (the anonymous inode of
          // eventfd, epoll, VFIO and KVM fds is root's) [E]; O_DIRECT needs FMODE_CAN_ODIRECT, which only
          // tmpfs files have here, except on a pipe, where it selects packet mode for the write end's
          // writes. FASYNC changes only through a ->fasync operation, which none has.
          if (arg & O_NOATIME && !(f.flags & O_NOATIME) && !ownerOrCapable(this, f.fInode ?? ANON_INODE_OWNER)) {
            throw kerr('EPERM', `F_SETFL O_NOATIME on fd ${fd} needs the owner of its inode (uid ${(f.fInode ?? ANON_INODE_OWNER).uid}) or CAP_FOWNER; uid ${this.uid} is neither`);
          }
          if (arg & O_DIRECT && f.kind !== 'pipe' && !(f instanceof ShmemFile)) throw kerr('EINVAL', `F_SETFL O_DIRECT: fd ${fd} (${f.kind}) does not support direct I/O`);
          f.flags = (f.flags & ~SETFL_MODELED) | (arg & SETFL_MODELED);
          r = 0;
          break;
        case F_DUPFD: case F_DUPFD_CLOEXEC:
          if (arg < 0 || arg >= this.fds.limit) throw kerr('EINVAL', `F_DUPFD minimum ${arg} is out of range`);
          r = this.fds.install(f, cmd === F_DUPFD_CLOEXEC, arg);
          break;
        case F_DUPFD_QUERY: {
          // f_dupfd_query(): `arg` is looked up with fdget_raw() (O_PATH fds count); not open is EBADF.
          const other = this.fds.get(arg);
          if (other === undefined) throw kerr('EBADF', `F_DUPFD_QUERY: fd ${arg} (the fd to compare with ${fd}) is not an open file descriptor`);
          r = other === f ? 1 : 0; // the same open file description (struct file), not merely the same inode
          break;
        }
        case F_SETPIPE_SZ: case F_GETPIPE_SZ:
          // pipe_fcntl(): EBADF for anything but a pipe.
          if (!(f instanceof PipeFile)) throw kerr('EBADF', `fd ${fd} (${f.kind}) is not a pipe`);
          r = f.pipeSize(this, cmd === F_SETPIPE_SZ, arg);
          break;
        case F_CREATED_QUERY:
          // f_created_query() reports FMODE_CREATED, which lookup_open() (fs/namei.c) sets only on the
          // open file description of the open(O_CREAT) that created the name (dups share it).
          r = f instanceof ShmemFile && f.created ? 1 : 0;
          break;
        case F_ADD_SEALS: r = memfdAddSeals(this.kernel, f, arg); break;
        case F_GET_SEALS: r = memfdGetSeals(f); break;
        default: throw kerr('EINVAL', `fcntl command ${cmd} is not supported`);
      }
      if (this.kernel.trace.active) this.traceCall('fcntl', fd, f, [fd, cmd, arg], r, undefined);
      return r;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('fcntl', fd, undefined, [fd, cmd, arg], -1, e);
      this.fail(e, 'fcntl', `fcntl(${fd})`, fd);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // read / write

  /**
   * One read or write attempt at `pos` (f_pos when `!explicitPos`); returns WOULD_BLOCK (with
   * this.blockedOn set) instead of waiting.
   */
  private attempt(file: KFile, buf: Uint8Array, isRead: boolean, explicitPos: boolean, pos: number, ctx: FileContext = this.ctx): number {
    if (((file.flags + 1) & (isRead ? FM_READ : FM_WRITE)) === 0) throw notOpenFor(isRead);
    const b = buf.length <= MAX_RW_COUNT ? buf : buf.subarray(0, MAX_RW_COUNT);
    try {
      // generic_write_checks(): an O_APPEND write to a regular file goes to its end (pwrite's too);
      // write() then leaves f_pos after it.
      const at = !isRead && file.flags & O_APPEND && file instanceof ShmemFile ? file.inode.size : explicitPos ? pos : file.pos;
      const n = isRead ? file.read(ctx, b, at) : file.write(ctx, b, at);
      // new_sync_read()/new_sync_write() store the position only for a positive result.
      if (!explicitPos && file.positional && file.movesPos && n > 0) file.pos = at + n;
      return n;
    } catch (e) {
      if (e instanceof WouldBlock) {
        this.blockedOn = e;
        return WOULD_BLOCK;
      }
      throw e;
    }
  }

  // The syscall path is kept short (the common case inlines into its caller); waiting, tracing and
  // failing are out of line.
  private rw(kind: RwKind, isRead: boolean, explicitPos: boolean, fd: number, buf: Uint8Array, pos: number): number {
    let file: KFile | undefined;
    try {
      // ksys_pread64()/ksys_pwrite64(): a negative offset is EINVAL before the fd is even looked up;
      // then EBADF, then ESPIPE, then vfs_read()/vfs_write()'s access-mode EBADF (in attempt()).
      if (explicitPos && pos < 0 && !this.exited) throw negativeOffset(pos);
      file = this.fileFor(fd);
      if (explicitPos && !(isRead ? file.positional : file.pwritable)) throw noPosition(kind, file);
      let n = this.attempt(file, buf, isRead, explicitPos, pos);
      if (n === WOULD_BLOCK) n = this.rwWait(file, buf, isRead, explicitPos, pos);
      this.sched.point();
      if (this.trace.active) this.traceRw(kind, fd, file, buf, n, explicitPos, pos, undefined);
      return n;
    } catch (e) {
      return this.rwFailed(e, kind, fd, file, buf, explicitPos, pos);
    }
  }

  /** A blocking read/write: wait (sync) until the file is ready, then retry. */
  private rwWait(file: KFile, buf: Uint8Array, isRead: boolean, explicitPos: boolean, pos: number): number {
    let n = WOULD_BLOCK;
    while (n === WOULD_BLOCK) {
      const wb = this.blockedOn!;
      this.blockedOn = null;
      this.waitSync(file, wb);
      n = this.attempt(file, buf, isRead, explicitPos, pos);
    }
    return n;
  }

  private traceRw(kind: RwKind, fd: number, file: KFile | undefined, buf: Uint8Array, n: number, explicitPos: boolean, pos: number, err: unknown): void {
    const data = buf.slice(0, n < 0 ? 0 : n);
    this.traceCall(kind, fd, file, explicitPos ? [fd, data, buf.length, pos] : [fd, data, buf.length], n, err);
  }

  private rwFailed(e: unknown, kind: RwKind, fd: number, file: KFile | undefined, buf: Uint8Array, explicitPos: boolean, pos: number): never {
    if (this.trace.active) this.traceRw(kind, fd, file, buf, -1, explicitPos, pos, e);
    this.fail(e, kind, `${kind}(${fd})`, fd);
  }

  // read() and write() take a straight-line path for the common case (an open file, opened for the
  // access, a buffer within MAX_RW_COUNT, no O_APPEND on a write) so that it stays small enough for V8
  // to inline whole into every caller; anything else goes through rw(), which makes the checks in the
  // kernel's order (this path has changed nothing yet). What the file operation throws, or what is thrown after it returned,
  // is handled out of line as rw() would (test/linux/syscalls.test.ts runs both paths side by side).
  // The two bodies are written out on purpose: one body taking `isRead` is twice the bytecode the
  // caller must find inlining budget for, and merges the read and write sites' type feedback on
  // f.flags/f.pos/f.positional, for no speed measured in bench/eventfd.ts.
  read(fd: number, buf: Uint8Array): number {
    const f = this.fds.get(fd);
    if (f === undefined || ((f.flags + 1) & FM_READ) === 0 || this.exited || buf.length > MAX_RW_COUNT) return this.rw('read', true, false, fd, buf, 0);
    let n = WOULD_BLOCK;
    try {
      n = f.read(this.ctx, buf, f.pos);
      if (f.positional && f.movesPos) f.pos += n;
      this.sched.point();
      if (this.trace.active) this.traceRw('read', fd, f, buf, n, false, 0, undefined);
      return n;
    } catch (e) {
      return this.rwThrew(e, n !== WOULD_BLOCK, 'read', true, fd, f, buf);
    }
  }

  write(fd: number, buf: Uint8Array): number {
    const f = this.fds.get(fd);
    if (f === undefined || ((f.flags + 1) & FM_WRITE) === 0 || f.flags & F_APPEND || this.exited || buf.length > MAX_RW_COUNT) return this.rw('write', false, false, fd, buf, 0);
    let n = WOULD_BLOCK;
    try {
      n = f.write(this.ctx, buf, f.pos);
      if (f.positional && f.movesPos) f.pos += n;
      this.sched.point();
      if (this.trace.active) this.traceRw('write', fd, f, buf, n, false, 0, undefined);
      return n;
    } catch (e) {
      return this.rwThrew(e, n !== WOULD_BLOCK, 'write', false, fd, f, buf);
    }
  }

  /**
   * The rest of a read()/write() that threw on the straight-line path: a file operation that would block
   * waits and retries; anything else (or anything thrown after the operation returned) fails the call.
   */
  private rwThrew(e: unknown, opReturned: boolean, kind: 'read' | 'write', isRead: boolean, fd: number, file: KFile, buf: Uint8Array): number {
    if (opReturned || !(e instanceof WouldBlock)) return this.rwFailed(e, kind, fd, file, buf, false, 0);
    this.blockedOn = e;
    try {
      const n = this.rwWait(file, buf, isRead, false, 0);
      this.sched.point();
      if (this.trace.active) this.traceRw(kind, fd, file, buf, n, false, 0, undefined);
      return n;
    } catch (e2) {
      return this.rwFailed(e2, kind, fd, file, buf, false, 0);
    }
  }

  pread(fd: number, buf: Uint8Array, offset: number | bigint): number {
    return this.rw('pread64', true, true, fd, buf, toOffset(offset));
  }

  pwrite(fd: number, buf: Uint8Array, offset: number | bigint): number {
    return this.rw('pwrite64', false, true, fd, buf, toOffset(offset));
  }

  /**
   * lseek(2) (ksys_lseek): fdget_pos (EBADF, O_PATH included), `whence` above SEEK_HOLE is EINVAL,
   * then the file's ->llseek (fs/llseek.ts), which may be none (ESPIPE). Returns the new position.
   */
  lseek(fd: number, offset: number | bigint, whence: number): number {
    let file: KFile | undefined;
    const off = typeof offset === 'bigint' ? Number(BigInt.asIntN(64, offset)) : offset;
    try {
      file = this.fileFor(fd);
      if (whence >>> 0 > SEEK_MAX) throw kerr('EINVAL', `whence ${whence} is not SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA or SEEK_HOLE`);
      const r = file.llseek(off, whence >>> 0);
      if (this.kernel.trace.active) this.traceCall('lseek', fd, file, [fd, off, whence], r, undefined);
      return r;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('lseek', fd, file, [fd, off, whence], -1, e);
      this.fail(e, 'lseek', `lseek(${fd})`, fd);
    }
  }

  /**
   * memfd_create(2) (mm/memfd.ts): an anonymous tmpfs file, O_RDWR, sealable with MFD_ALLOW_SEALING.
   * `name` null is a NULL pointer (EFAULT).
   */
  memfdCreate(name: string | null, flags: number): number {
    try {
      if (this.exited) throw this.exitedError();
      const f = memfdCheck(name, flags);
      this.fds.reserveCheck();
      const file = memfdFile(this.kernel, this.uid, this.gid, name!, f);
      const fd = this.fds.install(file, (f & MFD_CLOEXEC) !== 0);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('memfd_create', undefined, file, [name, flags], fd, undefined);
      return fd;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('memfd_create', undefined, undefined, [name, flags], -1, e);
      this.fail(e, 'memfd_create', `memfd_create(${JSON.stringify(name)})`);
    }
  }

  /**
   * ftruncate(2) (fs/open.c do_sys_ftruncate, do_ftruncate, do_truncate -> notify_change -> ->setattr):
   * a negative length is EINVAL before the fd is looked up (EBADF); the file must be regular and open
   * for writing (EINVAL); tmpfs resizes (shmem_setattr: seals, EFBIG), guest_memfd refuses
   * (kvm_gmem_setattr: EINVAL), sysfs and procfs files accept and change nothing.
   */
  ftruncate(fd: number, length: number | bigint): number {
    let file: KFile | undefined;
    const len = BigInt.asIntN(64, BigInt(length));
    try {
      if (len < 0n) throw kerr('EINVAL', `length ${len} is negative`);
      file = this.fileFor(fd);
      if ((getattrFile(this.ctx, file).mode & S_IFMT) !== S_IFREG) throw kerr('EINVAL', `fd ${fd} (${file.path}) is not a regular file`);
      if (!(openFmode(file.flags) & FMODE_WRITE)) throw kerr('EINVAL', `fd ${fd} (${file.path}) is not open for writing`);
      if (file instanceof ShmemFile) file.resize(Number(len), this.kernel.sched.now);
      else if (file.fInode === null && file.anonAttrs !== null) throw kerr('EINVAL', `fd ${fd} (${file.path}): its inode's ->setattr refuses every change`);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('ftruncate', fd, file, [fd, len], 0, undefined);
      return 0;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('ftruncate', fd, file, [fd, len], -1, e);
      this.fail(e, 'ftruncate', `ftruncate(${fd})`, fd);
    }
  }

  /** fallocate(2) (ksys_fallocate: fdget's EBADF, then vfs_fallocate, fs/fallocate.ts). */
  fallocate(fd: number, mode: number, offset: number | bigint, len: number | bigint): number {
    let file: KFile | undefined;
    const off = BigInt.asIntN(64, BigInt(offset));
    const n = BigInt.asIntN(64, BigInt(len));
    try {
      file = this.fileFor(fd);
      const r = vfsFallocate(this.ctx, file, mode, off, n);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('fallocate', fd, file, [fd, mode, off, n], r, undefined);
      return r;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('fallocate', fd, file, [fd, mode, off, n], -1, e);
      this.fail(e, 'fallocate', `fallocate(${fd})`, fd);
    }
  }

  private async rwAsync(kind: 'read' | 'write', fd: number, buf: Uint8Array): Promise<number> {
    for (;;) {
      let file: KFile | undefined;
      let n: number;
      try {
        file = this.fileFor(fd);
        n = this.attempt(file, buf, kind === 'read', false, 0, this.asyncCtx);
        if (n === WOULD_BLOCK && file.flags & O_NONBLOCK) {
          const wb = this.blockedOn!;
          this.blockedOn = null;
          throw kerr('EAGAIN', `${wb.reason} (O_NONBLOCK)`);
        }
      } catch (e) {
        return this.rwFailed(e, kind, fd, file, buf, false, 0);
      }
      if (n !== WOULD_BLOCK) {
        this.kernel.point();
        if (this.trace.active) this.traceRw(kind, fd, file, buf, n, false, 0, undefined);
        return n;
      }
      const wb = this.blockedOn!;
      this.blockedOn = null;
      if (!(await this.waitAsync(wb.wq))) {
        return this.rwFailed(kerr('EINTR', `${wb.reason}; nothing in the program or the model can make it ready`), kind, fd, file, buf, false, 0);
      }
    }
  }

  /** read() that waits for readiness without blocking the JS thread. */
  readAsync(fd: number, buf: Uint8Array): Promise<number> {
    return this.rwAsync('read', fd, buf);
  }

  writeAsync(fd: number, buf: Uint8Array): Promise<number> {
    return this.rwAsync('write', fd, buf);
  }

  // ---------------------------------------------------------------------------------------------
  // ioctl

  ioctl(fd: number, request: number, arg?: IoctlArgument): number {
    let file: KFile | undefined;
    const tracing = this.kernel.trace.active;
    const req = request >>> 0;
    const ua = this.arg.reset(arg, this);
    const argIn = tracing ? ua.snapshot(65536) : undefined;
    try {
      file = this.fileFor(fd);
      const r = this.vfsIoctl(fd, file, req, ua) ?? file.ioctl(this.ctx, req, ua);
      this.kernel.point();
      if (tracing) this.traceIoctl(fd, file, req, arg, argIn, r, undefined);
      return r;
    } catch (e) {
      if (e instanceof WouldBlock) throw new Error('ioctl would block: use ioctlAsync for this request');
      if (tracing) this.traceIoctl(fd, file, req, arg, argIn, -1, e);
      this.fail(e, 'ioctl', file ? this.ioctlName(file, req) : `ioctl(${fd}, 0x${req.toString(16)})`, fd);
    }
  }

  /** do_vfs_ioctl(): the requests every file accepts, handled before the file's own ioctl. */
  private vfsIoctl(fd: number, file: KFile, req: number, ua: UserArg): number | undefined {
    switch (req) {
      case FIOCLEX: this.fds.setCloexec(fd, true); return 0;
      case FIONCLEX: this.fds.setCloexec(fd, false); return 0;
      case FIONBIO: {
        const on = getS32(ua.user(4), 0) !== 0;
        file.flags = on ? file.flags | O_NONBLOCK : file.flags & ~O_NONBLOCK;
        return 0;
      }
      case FIOASYNC:
        ua.user(4);
        return 0;
      default:
        return undefined;
    }
  }

  /** ioctl() for requests that may block (KVM_RUN waiting in HLT): resolves when they complete. */
  async ioctlAsync(fd: number, request: number, arg?: IoctlArgument): Promise<number> {
    for (;;) {
      let file: KFile | undefined;
      const tracing = this.kernel.trace.active;
      const req = request >>> 0;
      const ua = this.arg.reset(arg, this);
      const argIn = tracing ? ua.snapshot(65536) : undefined;
      let wb: WouldBlock;
      try {
        file = this.fileFor(fd);
        const r = file.ioctl(this.asyncCtx, req, ua);
        this.kernel.point();
        if (tracing) this.traceIoctl(fd, file, req, arg, argIn, r, undefined);
        return r;
      } catch (e) {
        if (!(e instanceof WouldBlock)) {
          if (tracing) this.traceIoctl(fd, file, req, arg, argIn, -1, e);
          this.fail(e, 'ioctl', file ? this.ioctlName(file, req) : `ioctl(${fd}, 0x${req.toString(16)})`, fd);
        }
        wb = e;
      }
      await this.waitAsync(wb.wq);
    }
  }

  /** Names an ioctl for error messages using the tracer's per-file-type tables. */
  private ioctlName(file: KFile, req: number): string {
    return this.kernel.ioctlTables.get(file.kind)?.get(req)?.name ?? GENERIC_IOCTLS.get(req)?.name ?? `ioctl(${file.kind}, 0x${req.toString(16)})`;
  }

  private traceIoctl(fd: number, file: KFile | undefined, req: number, arg: IoctlArgument, argIn: Uint8Array | undefined, ret: number, err: unknown): void {
    const errno = err instanceof KernelError ? err.errno : 0;
    const argOut = argIn !== undefined ? this.arg.snapshot(65536) : undefined;
    this.kernel.trace.emit({
      type: 'syscall',
      t: this.kernel.sched.now,
      pid: this.pid,
      syscall: 'ioctl',
      fd,
      ...(file ? { fileKind: file.kind } : {}),
      args: [fd, req],
      request: req,
      ...(argIn ? { argIn } : {}),
      ...(argOut ? { argOut } : {}),
      ...(!isPointerLike(arg) && arg !== undefined ? { argValue: arg } : {}),
      ret: errno ? -1 : ret,
      errno,
      ...(err instanceof KernelError ? { reason: err.reason } : {}),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // mmap / munmap

  mmap(addr: number | bigint | null, length: number, prot: number, flags: number, fd: number, offset: number | bigint = 0): Mapping {
    let file: KFile | undefined;
    const off = toOffset(offset);
    const hint = addr === null ? 0 : Number(addr);
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      // sys_mmap() (x86-64): the offset is in bytes and must be page aligned; then ksys_mmap_pgoff(): the
      // fd, a file's MAP_HUGETLB (only hugetlbfs files, none here), anonymous MAP_HUGETLB's page size.
      if (off % PAGE_SIZE !== 0) throw kerr('EINVAL', `mmap offset 0x${off.toString(16)} is not page aligned`);
      if (!(flags & MAP_ANONYMOUS)) {
        file = this.fileFor(fd);
        if (flags & MAP_HUGETLB) throw kerr('EINVAL', `MAP_HUGETLB on ${file.path}, which is not a hugetlbfs file`);
      } else if (flags & MAP_HUGETLB && !HUGE_PAGE_SHIFTS.has((flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK)) {
        throw kerr('EINVAL', `MAP_HUGETLB page size 2^${(flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK} is not one this machine has (2 MiB, 1 GiB)`);
      }
      // do_mmap(): the length, then __get_unmapped_area() (MAP_FIXED_NOREPLACE is MAP_FIXED that may not
      // replace: EEXIST), then the lock checks, then the mapping type. Unknown prot bits are ignored
      // (calc_vm_prot_bits() reads the three it knows).
      if (length === 0) throw kerr('EINVAL', 'mmap length is 0');
      if (!Number.isInteger(length) || length < 0 || length > TASK_SIZE) throw kerr('ENOMEM', `mmap length ${length} cannot fit in the address space`);
      const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
      const len = hugetlbLength(file, Math.ceil(length / PAGE_SIZE) * PAGE_SIZE);
      const start = this.mm.area(hint, len, fixed, this.capable(CAP_SYS_RAWIO));
      if (flags & MAP_FIXED_NOREPLACE && this.mm.list().some((v) => v.start < start + len && start < v.end)) {
        throw kerr('EEXIST', `MAP_FIXED_NOREPLACE: [0x${start.toString(16)}, +0x${len.toString(16)}) overlaps an existing mapping`);
      }
      // MAP_LOCKED needs can_do_mlock(); mlock_future_ok(): a mapping born locked (MAP_LOCKED or
      // MCL_FUTURE) counts against RLIMIT_MEMLOCK before anything is mapped.
      if (flags & MAP_LOCKED) this.canDoMlock();
      if ((flags & MAP_LOCKED || this.mm.mlock.future) && !this.capable(CAP_IPC_LOCK) && len / PAGE_SIZE + this.mm.lockedVm > this.rlimits.softPages(RLIMIT_MEMLOCK)) {
        throw kerr('EAGAIN', `${flags & MAP_LOCKED ? 'MAP_LOCKED' : 'MCL_FUTURE'}: mapping ${len / PAGE_SIZE} more locked pages would lock ${len / PAGE_SIZE + this.mm.lockedVm}; RLIMIT_MEMLOCK allows ${this.rlimits.softPages(RLIMIT_MEMLOCK)}`);
      }
      const type = flags & MAP_TYPE;
      let vma;
      const p = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
      if (file === undefined) {
        if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_DROPPABLE) throw kerr('EINVAL', `anonymous mmap type 0x${type.toString(16)}: MAP_SHARED, MAP_PRIVATE or MAP_DROPPABLE`);
        if (flags & MAP_HUGETLB) {
          // hugetlbfs_file_mmap(): no huge page can be reserved (vm.nr_hugepages is 0 on this machine);
          // with MAP_NORESERVE the mapping is made and its first touch is SIGBUS.
          if (!(flags & MAP_NORESERVE)) throw kerr('ENOMEM', 'MAP_HUGETLB: no huge pages to reserve (vm.nr_hugepages is 0)');
          vma = this.mm.map(hint, len, p, flags, fixed, hugetlbUnbacked(len), null);
        } else {
          vma = this.mm.map(hint, len, p, flags, fixed, new RamBacking(new Uint8Array(len)), null);
          if (type === MAP_SHARED) vma.anonIno = this.kernel.ids.next('shmem-ino');
        }
      } else {
        if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) throw kerr('EINVAL', `file mmap type 0x${type.toString(16)}: MAP_SHARED, MAP_SHARED_VALIDATE or MAP_PRIVATE`);
        // MAP_SHARED_VALIDATE refuses flags outside LEGACY_MAP_MASK (no file here has FOP_MMAP_SYNC).
        if (type === MAP_SHARED_VALIDATE && flags & ~LEGACY_MAP_MASK) throw kerr('EOPNOTSUPP', `MAP_SHARED_VALIDATE with flags 0x${((flags & ~LEGACY_MAP_MASK) >>> 0).toString(16)} this file does not support`);
        // do_mmap(): a shared writable mapping needs FMODE_WRITE, then every file mapping FMODE_READ.
        const fmode = openFmode(file.flags);
        if ((type === MAP_SHARED || type === MAP_SHARED_VALIDATE) && prot & PROT_WRITE && !(fmode & FMODE_WRITE)) {
          throw kerr('EACCES', 'a shared writable mapping needs a file opened for writing (O_WRONLY or O_RDWR)');
        }
        if (!(fmode & FMODE_READ)) throw kerr('EACCES', 'mmap needs a file opened for reading (O_RDONLY or O_RDWR)');
        if (prot & PROT_EXEC && file.noexec) throw kerr('EPERM', `PROT_EXEC mapping of ${file.path}, whose filesystem is noexec (SB_I_NOEXEC)`);
        const backing = file.mmap(this.ctx, { length: len, prot: p, flags, offset: off });
        vma = this.mm.map(hint, len, p, flags, fixed, backing, file, off);
      }
      if (flags & MAP_LOCKED) applyLock(this.mm, vma.start, vma.end, true);
      const m = new Mapping(vma);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('mmap', flags & MAP_ANONYMOUS ? undefined : fd, file, [addr, length, prot, flags, fd, off], m.addr, undefined);
      return m;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('mmap', fd, file, [addr, length, prot, flags, fd, off], -1, e);
      this.fail(e, 'mmap', `mmap(fd ${fd})`, fd);
    }
  }

  munmap(addr: number | bigint, length: number): void {
    const a = Number(addr);
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      this.mm.unmap(a, length);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('munmap', undefined, undefined, [a, length], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('munmap', undefined, undefined, [a, length], -1, e);
      this.fail(e, 'munmap', `munmap(0x${a.toString(16)})`);
    }
  }

  /** madvise(2) (mm/madvise.ts). `len` is a size_t: a bigint or negative number wraps as in C. */
  madvise(addr: number | bigint, len: number | bigint, advice: number): void {
    const a = Number(addr);
    const n = BigInt.asUintN(64, BigInt(len));
    try {
      if (this.exited) throw this.exitedError();
      doMadvise(this.ctx, a, n, advice);
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('madvise', undefined, undefined, [a, n, advice], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('madvise', undefined, undefined, [a, n, advice], -1, e);
      this.fail(e, 'madvise', `madvise(0x${a.toString(16)})`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // mlock (mm/mlock.c; the locked ranges: mm/mlock.ts)

  /** can_do_mlock(): a non-zero RLIMIT_MEMLOCK (in bytes) or CAP_IPC_LOCK, else EPERM. */
  private canDoMlock(): void {
    if (this.rlimits.soft(RLIMIT_MEMLOCK) === 0n && !this.capable(CAP_IPC_LOCK)) {
      throw kerr('EPERM', `RLIMIT_MEMLOCK is 0 and uid ${this.uid} lacks CAP_IPC_LOCK`);
    }
  }

  /**
   * do_mlock() and munlock(): PAGE_ALIGN(len + offset_in_page(addr)) in 64 bits (a length that wraps to
   * 0 does nothing), mlock's limit check, apply_vma_lock_flags() (EINVAL when the range wraps past 2^64;
   * mappings are (un)locked up to a hole, then ENOMEM), then for mlock __mm_populate(): a page that
   * cannot be faulted in (PROT_NONE, a tmpfs page past the file's end) fails the call with ENOMEM
   * (__mlock_posix_error_return()) after the range was locked and counted.
   */
  private mlockCall(syscall: 'mlock' | 'mlock2' | 'munlock', addr: number | bigint, len: number | bigint, flags: number): void {
    const a = Number(addr);
    const n = BigInt.asUintN(64, BigInt(len));
    const args = syscall === 'mlock2' ? [a, n, flags] : [a, n];
    try {
      if (this.exited) throw this.exitedError();
      if (syscall === 'mlock2' && flags & ~MLOCK_ONFAULT) throw kerr('EINVAL', `mlock2 flags 0x${flags.toString(16)} have bits other than MLOCK_ONFAULT`);
      const lock = syscall !== 'munlock';
      if (lock) this.canDoMlock();
      const start = a - (a % PAGE_SIZE);
      const size = BigInt.asUintN(64, (n + BigInt(a % PAGE_SIZE) + 4095n) & ~4095n);
      const mm = this.mm;
      if (lock && !this.capable(CAP_IPC_LOCK)) {
        // The request counts in full, less what it already has locked, against the limit.
        const limit = BigInt(this.rlimits.softPages(RLIMIT_MEMLOCK));
        let locked = size / 4096n + BigInt(mm.lockedVm);
        if (locked > limit) locked -= BigInt(mm.mlock.lockedIn(start, Math.min(Number(BigInt(start) + size), TASK_SIZE)));
        if (locked > limit) throw kerr('ENOMEM', `locking ${size / 4096n} pages would lock ${locked} pages; RLIMIT_MEMLOCK allows ${limit} and uid ${this.uid} lacks CAP_IPC_LOCK`);
      }
      if (BigInt(start) + size > 0xffff_ffff_ffff_ffffn) throw kerr('EINVAL', `0x${start.toString(16)} + ${size} wraps past the end of the address space`);
      if (size > 0n) {
        const end = Number(BigInt(start) + size);
        if (!applyLock(mm, start, end, lock)) throw kerr('ENOMEM', `[0x${start.toString(16)}, 0x${end.toString(16)}) is not all mapped (what comes before the hole was ${lock ? 'locked' : 'unlocked'})`);
        const why = lock && !(flags & MLOCK_ONFAULT) ? unpopulatable(mm, start, end) : null;
        if (why !== null) throw kerr('ENOMEM', `the range is locked, but ${why}`);
      }
      if (this.kernel.trace.active) this.traceCall(syscall, undefined, undefined, args, 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall(syscall, undefined, undefined, args, -1, e);
      this.fail(e, syscall, `${syscall}(0x${a.toString(16)})`);
    }
  }

  /** mlock(2): lock the pages of [addr, addr+len) (ENOMEM past RLIMIT_MEMLOCK without CAP_IPC_LOCK). */
  mlock(addr: number | bigint, len: number | bigint): void {
    this.mlockCall('mlock', addr, len, 0);
  }

  /** mlock2(2): mlock with flags (MLOCK_ONFAULT; the model's memory is always present). */
  mlock2(addr: number | bigint, len: number | bigint, flags: number): void {
    this.mlockCall('mlock2', addr, len, flags);
  }

  munlock(addr: number | bigint, len: number | bigint): void {
    this.mlockCall('munlock', addr, len, 0);
  }

  /**
   * mlockall(2): MCL_CURRENT locks every mapping (ENOMEM if the whole address space, total_vm, is over
   * RLIMIT_MEMLOCK without CAP_IPC_LOCK); MCL_FUTURE locks what is mapped later (mmap then fails with
   * EAGAIN past the limit). EINVAL for no flag, unknown flags or MCL_ONFAULT alone.
   */
  mlockall(flags: number): void {
    try {
      if (this.exited) throw this.exitedError();
      if (!flags || flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || flags === MCL_ONFAULT) throw kerr('EINVAL', `mlockall flags 0x${flags.toString(16)}: MCL_CURRENT and/or MCL_FUTURE (with MCL_ONFAULT) are needed, nothing else`);
      this.canDoMlock();
      const limit = this.rlimits.softPages(RLIMIT_MEMLOCK);
      if (flags & MCL_CURRENT && totalVm(this.mm) > limit && !this.capable(CAP_IPC_LOCK)) {
        throw kerr('ENOMEM', `MCL_CURRENT would lock all ${totalVm(this.mm)} mapped pages; RLIMIT_MEMLOCK allows ${limit} and uid ${this.uid} lacks CAP_IPC_LOCK`);
      }
      this.mm.mlock.future = (flags & MCL_FUTURE) !== 0;
      if (flags & MCL_CURRENT) applyLockAll(this.mm, true);
      if (this.kernel.trace.active) this.traceCall('mlockall', undefined, undefined, [flags], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('mlockall', undefined, undefined, [flags], -1, e);
      this.fail(e, 'mlockall', `mlockall(0x${flags.toString(16)})`);
    }
  }

  /** munlockall(2): no MCL_FUTURE, every mapping unlocked. */
  munlockall(): void {
    try {
      if (this.exited) throw this.exitedError();
      this.mm.mlock.future = false;
      applyLockAll(this.mm, false);
      if (this.kernel.trace.active) this.traceCall('munlockall', undefined, undefined, [], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('munlockall', undefined, undefined, [], -1, e);
      this.fail(e, 'munlockall', 'munlockall()');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // poll

  private pollScan(fds: PollFd[]): number {
    let count = 0;
    for (const p of fds) {
      p.revents = 0;
      if (p.fd < 0) continue;
      const f = this.fileOrNull(p.fd);
      if (!f) {
        p.revents = POLLNVAL;
      } else {
        p.revents = f.poll() & (p.events | POLLERR | POLLHUP);
      }
      if (p.revents) count++;
    }
    return count;
  }

  private pollQueues(fds: PollFd[]): WaitQueue[] {
    const out: WaitQueue[] = [];
    for (const p of fds) {
      const f = p.fd >= 0 ? this.fds.get(p.fd) : undefined;
      const wq = f?.waitQueue;
      if (wq && !out.includes(wq)) out.push(wq);
    }
    return out;
  }

  /** poll(2): `timeout` in milliseconds of virtual time (-1 = no limit, 0 = just check). */
  poll(fds: PollFd[], timeout: number): number {
    const args = () => [fds.map((p) => ({ fd: p.fd, events: p.events })), fds.length, timeout];
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      if (fds.length > this.fds.limit) throw kerr('EINVAL', `nfds ${fds.length} exceeds RLIMIT_NOFILE`);
      let n = this.pollScan(fds);
      if (n === 0 && timeout !== 0) {
        const s = this.kernel.sched;
        const deadline = timeout < 0 ? Infinity : s.now + timeout * 1e6;
        const ready = s.runUntil(() => this.pollScan(fds) > 0, deadline);
        if (!ready && timeout < 0) throw kerr('EINTR', 'poll with no timeout would wait forever: no fd can become ready and nothing is pending in the model');
        n = this.pollScan(fds);
      }
      this.kernel.point();
      if (this.kernel.trace.active) this.traceCall('poll', undefined, undefined, [...args(), fds.map((p) => ({ fd: p.fd, revents: p.revents ?? 0 }))], n, undefined);
      return n;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('poll', undefined, undefined, args(), -1, e);
      this.fail(e, 'poll', 'poll');
    }
  }

  /** poll() that waits without blocking the JS thread. */
  async pollAsync(fds: PollFd[], timeout: number): Promise<number> {
    const s = this.kernel.sched;
    const deadline = timeout < 0 ? Infinity : s.now + timeout * 1e6;
    for (;;) {
      const n = this.poll(fds, 0);
      if (n > 0 || timeout === 0 || s.now >= deadline) return n;
      const queues = this.pollQueues(fds);
      const ok = await this.waitAsyncAny(queues, deadline);
      if (!ok && timeout < 0) {
        this.fail(kerr('EINTR', 'pollAsync with no timeout: no fd can become ready'), 'poll', 'poll');
      }
      if (!ok) return this.poll(fds, 0);
    }
  }

  private async waitAsyncAny(queues: WaitQueue[], deadline: number): Promise<boolean> {
    if (queues.length <= 1) return this.waitAsync(queues[0] ?? null, deadline, 'poll');
    // Fan in: one relay queue woken by any of them.
    const relay = new WaitQueue();
    const entry = { wake: () => relay.wake(0) };
    for (const q of queues) q.add(entry);
    try {
      return await this.waitAsync(relay, deadline);
    } finally {
      for (const q of queues) q.remove(entry);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // epoll (fs/eventpoll.c; the kernel side is src/linux/fs/eventpoll.ts)

  /** epoll_create(2): `size` is only checked (> 0), as since Linux 2.6.8. */
  epollCreate(size: number): number {
    return this.epollCreateCall('epoll_create', size, () => {
      if (size <= 0) throw kerr('EINVAL', `size ${size} must be greater than 0 (it is otherwise ignored)`);
      return 0;
    });
  }

  /** epoll_create1(2): EPOLL_CLOEXEC is the only flag. */
  epollCreate1(flags: number): number {
    return this.epollCreateCall('epoll_create1', flags, () => {
      if (flags & ~EPOLL_CLOEXEC) throw kerr('EINVAL', `unknown epoll_create1 flags 0x${((flags & ~EPOLL_CLOEXEC) >>> 0).toString(16)} (only EPOLL_CLOEXEC is allowed)`);
      return flags;
    });
  }

  /** do_epoll_create(): the flags' check, then get_unused_fd_flags() (EMFILE), then the anon inode file. */
  private epollCreateCall(syscall: string, arg: number, check: () => number): number {
    let file: EpollFile | undefined;
    try {
      if (this.exited) throw this.exitedError();
      const flags = check();
      this.fds.reserveCheck();
      file = new EpollFile(this.kernel.epoll, this.uid);
      const fd = this.fds.install(file, (flags & EPOLL_CLOEXEC) !== 0);
      if (this.trace.active) this.traceCall(syscall, undefined, file, [arg], fd, undefined);
      return fd;
    } catch (e) {
      if (this.trace.active) this.traceCall(syscall, undefined, undefined, [arg], -1, e);
      this.fail(e, syscall, `${syscall}(${arg})`);
    }
  }

  /**
   * epoll_ctl(2). `event` is the caller's struct epoll_event (12 bytes, packed: u32 events, u64 data at
   * offset 4); it is copied in first for every op but EPOLL_CTL_DEL (EFAULT if null or short), as the
   * syscall does before do_epoll_ctl().
   */
  epollCtl(epfd: number, op: number, fd: number, event: Uint8Array | null): void {
    try {
      if (this.exited) throw this.exitedError();
      let events = 0;
      let lo = 0;
      let hi = 0;
      if (op !== EPOLL_CTL_DEL) {
        if (event === null || event.length < EPOLL_EVENT_SIZE) throw kerr('EFAULT', `the struct epoll_event is ${event === null ? 'NULL' : `${event.length} bytes, not ${EPOLL_EVENT_SIZE}`}`);
        events = getU32(event, EPOLL_EVENTS_OFF);
        lo = getU32(event, EPOLL_DATA_OFF);
        hi = getU32(event, EPOLL_DATA_OFF + 4);
      }
      doEpollCtl(this, epfd, op, fd, events, lo, hi);
      this.kernel.point();
      if (this.trace.active) this.traceCall('epoll_ctl', epfd, this.fds.get(epfd), [epfd, op, fd, event?.slice(0, EPOLL_EVENT_SIZE) ?? null], 0, undefined);
    } catch (e) {
      if (this.trace.active) this.traceCall('epoll_ctl', epfd, undefined, [epfd, op, fd, event?.slice(0, EPOLL_EVENT_SIZE) ?? null], -1, e);
      this.fail(e, 'epoll_ctl', `epoll_ctl(${epfd}, ${op}, ${fd})`, epfd);
    }
  }

  /**
   * epoll_wait(2): fills `events` (maxevents packed 12-byte struct epoll_events; null is a NULL pointer)
   * and returns how many. `timeout` in milliseconds of virtual time; -1 waits without limit and fails
   * with EINTR, saying why, when nothing in the model can ever make an item ready.
   */
  epollWait(epfd: number, events: Uint8Array | null, maxevents: number, timeout: number): number {
    return this.epollWaitCall('epoll_wait', epfd, events, maxevents, timeout, null, 8);
  }

  /**
   * epoll_pwait(2): epoll_wait with a signal mask for the wait (sigsetsize must be 8, the kernel's
   * sizeof(sigset_t)). The model delivers no signals, so the mask is checked and traced, nothing more.
   */
  epollPwait(epfd: number, events: Uint8Array | null, maxevents: number, timeout: number, sigmask: Uint8Array | null = null, sigsetsize = 8): number {
    return this.epollWaitCall('epoll_pwait', epfd, events, maxevents, timeout, sigmask, sigsetsize);
  }

  /**
   * epoll_pwait2(2): epoll_pwait with the timeout as a struct __kernel_timespec (16 bytes: s64 tv_sec,
   * s64 tv_nsec, in virtual time; null is NULL, no timeout). As fs/eventpoll.c checks it before
   * anything else: EFAULT if it cannot be read, EINVAL unless timespec64_valid() (tv_sec >= 0, 0 <=
   * tv_nsec < 10^9); then set_user_sigmask() and do_epoll_wait() as epoll_pwait.
   */
  epollPwait2(epfd: number, events: Uint8Array | null, maxevents: number, timeout: Uint8Array | null, sigmask: Uint8Array | null = null, sigsetsize = 8): number {
    return this.epollWaitCall('epoll_pwait2', epfd, events, maxevents, timeout, sigmask, sigsetsize);
  }

  /** `timeout`: milliseconds (epoll_wait, epoll_pwait: negative waits without limit), or epoll_pwait2's timespec bytes. */
  private epollWaitCall(syscall: string, epfd: number, events: Uint8Array | null, maxevents: number, timeout: number | Uint8Array | null, sigmask: Uint8Array | null, sigsetsize: number): number {
    try {
      if (this.exited) throw this.exitedError();
      const ns = typeof timeout === 'number' ? (timeout < 0 ? -1 : timeout * 1e6) : timespecTimeout(timeout);
      this.checkSigmask(sigmask, sigsetsize);
      const ep = epollWaitTarget(this, epfd, maxevents);
      const n = this.epollPoll(ep, events, maxevents, ns);
      this.kernel.point();
      if (this.trace.active) this.traceEpollWait(syscall, epfd, ep, events, maxevents, timeout, sigmask, sigsetsize, n, undefined);
      return n;
    } catch (e) {
      if (this.trace.active) this.traceEpollWait(syscall, epfd, undefined, events, maxevents, timeout, sigmask, sigsetsize, -1, e);
      this.fail(e, syscall, `${syscall}(${epfd})`, epfd);
    }
  }

  /** set_user_sigmask(): no mask is fine; else sigsetsize must be sizeof(sigset_t) (EINVAL), then it is copied (EFAULT). */
  private checkSigmask(sigmask: Uint8Array | null, sigsetsize: number): void {
    if (sigmask === null) return;
    if (sigsetsize !== 8) throw kerr('EINVAL', `sigsetsize ${sigsetsize} is not sizeof(sigset_t) = 8`);
    if (sigmask.length < 8) throw kerr('EFAULT', `the signal mask is ${sigmask.length} bytes, not 8`);
  }

  /**
   * ep_poll(): harvest what is ready; if nothing was and the timeout allows, sleep on the epoll's wait
   * queue (running the scheduler) until an item's wakeup or the deadline, then harvest again.
   */
  private epollPoll(ep: EpollFile, events: Uint8Array | null, maxevents: number, timeoutNs: number): number {
    const s = this.kernel.sched;
    // A deadline past KTIME_MAX is no deadline (timespec64_to_ktime() saturates; schedule_hrtimeout_range()).
    const deadline = timeoutNs < 0 || s.now + timeoutNs >= KTIME_MAX ? Infinity : s.now + timeoutNs;
    let timedOut = timeoutNs === 0;
    let eavail = ep.eventsAvailable;
    for (;;) {
      if (eavail) {
        const n = ep.sendEvents(events, maxevents);
        if (n > 0) return n;
      }
      if (timedOut) return 0;
      // The final check before sleeping, then the sleep; woken or not at the deadline decides eavail.
      eavail = ep.eventsAvailable || this.sleepSync(ep.wq, deadline, 'epoll');
      if (!eavail) {
        if (deadline === Infinity) throw kerr('EINTR', 'epoll_wait with no timeout would wait forever: no item of the epoll can become ready and nothing is pending in the model (use epollWaitAsync if another part of the program will make one ready)');
        timedOut = true;
      }
    }
  }

  /** epoll_wait() that waits without blocking the JS thread (another part of the program may make an item ready). */
  async epollWaitAsync(epfd: number, events: Uint8Array | null, maxevents: number, timeout: number): Promise<number> {
    const s = this.kernel.sched;
    let ep: EpollFile | undefined;
    try {
      if (this.exited) throw this.exitedError();
      ep = epollWaitTarget(this, epfd, maxevents);
      const deadline = timeout < 0 ? Infinity : s.now + timeout * 1e6;
      let n = 0;
      for (;;) {
        if (ep.eventsAvailable) n = ep.sendEvents(events, maxevents);
        if (n > 0 || timeout === 0 || s.now >= deadline) break;
        if (!ep.eventsAvailable && !(await this.waitAsync(ep.wq, deadline, 'epoll'))) {
          if (deadline === Infinity) throw kerr('EINTR', 'epollWaitAsync with no timeout: no item of the epoll can become ready and nothing in the program or the model will make one');
        }
      }
      this.kernel.point();
      if (this.trace.active) this.traceEpollWait('epoll_wait', epfd, ep, events, maxevents, timeout, null, 8, n, undefined);
      return n;
    } catch (e) {
      if (this.trace.active) this.traceEpollWait('epoll_wait', epfd, ep, events, maxevents, timeout, null, 8, -1, e);
      this.fail(e, 'epoll_wait', `epoll_wait(${epfd})`, epfd);
    }
  }

  private traceEpollWait(syscall: string, epfd: number, ep: EpollFile | undefined, events: Uint8Array | null, maxevents: number, timeout: number | Uint8Array | null, sigmask: Uint8Array | null, sigsetsize: number, n: number, err: unknown): void {
    const out = events === null ? null : n >= 0 ? events.slice(0, n * EPOLL_EVENT_SIZE) : new Uint8Array(0);
    const args: unknown[] = [epfd, out, maxevents, timeout instanceof Uint8Array ? timeout.slice(0, TIMESPEC_SIZE) : timeout];
    if (syscall !== 'epoll_wait') args.push(sigmask === null ? null : sigmask.slice(0, 8), sigsetsize);
    this.traceCall(syscall, epfd, ep, args, n, err);
  }

  // ---------------------------------------------------------------------------------------------
  // eventfd / pipe

  eventfd(initval: number, flags: number): number {
    let file: EventFdFile | undefined;
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      if (flags & ~EFD_FLAGS_SET) throw kerr('EINVAL', `unknown eventfd flags 0x${(flags & ~EFD_FLAGS_SET).toString(16)}`);
      this.fds.reserveCheck();
      file = new EventFdFile(new EventFdCtx(this.kernel.ids.eventfd, initval >>> 0, (flags & 1) !== 0, this.kernel.trace, this.kernel.sched));
      file.flags = O_RDWR | (flags & O_NONBLOCK);
      const fd = this.fds.install(file, (flags & O_CLOEXEC) !== 0);
      if (this.kernel.trace.active) this.traceCall('eventfd2', undefined, file, [initval, flags], fd, undefined);
      return fd;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('eventfd2', undefined, undefined, [initval, flags], -1, e);
      this.fail(e, 'eventfd2', `eventfd(${initval})`);
    }
  }

  pipe(flags = 0): [readFd: number, writeFd: number] {
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      // __do_pipe_flags(): EINVAL for other flags; then create_pipe_files(), where a notification
      // pipe (O_NOTIFICATION_PIPE) is ENOPKG on kernels without CONFIG_WATCH_QUEUE, as Debian's.
      if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE)) throw kerr('EINVAL', `unsupported pipe2 flags 0x${flags.toString(16)}`);
      const [r, w] = PipeFile.create(this.kernel, this, flags);
      if (flags & O_NOTIFICATION_PIPE) {
        r.release(this.kernel);
        w.release(this.kernel);
        throw kerr('ENOPKG', 'O_NOTIFICATION_PIPE: this kernel is built without CONFIG_WATCH_QUEUE');
      }
      // get_pipe_inode(): S_IFIFO | 0600, owned by the caller's fsuid and fsgid (fchmod/fchown reach it).
      r.fInode = w.fInode = { type: 'fifo', mode: 0o600, uid: this.uid, gid: this.gid };
      const rfd = this.fds.install(r, (flags & O_CLOEXEC) !== 0);
      let wfd: number;
      try {
        wfd = this.fds.install(w, (flags & O_CLOEXEC) !== 0);
      } catch (e) {
        this.fds.close(rfd);
        w.release(this.kernel);
        throw e;
      }
      if (this.kernel.trace.active) this.traceCall('pipe2', undefined, r, [[rfd, wfd], flags], 0, undefined);
      return [rfd, wfd];
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('pipe2', undefined, undefined, [[], flags], -1, e);
      this.fail(e, 'pipe2', 'pipe');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // resource limits

  /**
   * prlimit64(pid, resource, new, old) (kernel/sys.c): `next` and `old` are the caller's struct rlimit64
   * bytes (16: rlim_cur, rlim_max), null for NULL; a shorter buffer faults (EFAULT). pid 0 is the
   * caller. As in the kernel, a fault writing `old` comes after the new limit is installed.
   */
  prlimit(pid: number, resource: number, next: Uint8Array | null, old: Uint8Array | null): void {
    const asked = next && next.length >= RLIMIT64_SIZE ? { cur: getU64(next, RLIM_CUR), max: getU64(next, RLIM_MAX) } : null;
    try {
      if (this.exited) throw this.exitedError();
      if (next && !asked) throw kerr('EFAULT', `the new limit needs ${RLIMIT64_SIZE} bytes (struct rlimit64); the buffer has ${next.length}`);
      const target = pid === 0 ? this : this.kernel.processes.get(pid);
      if (!target || target.exited) throw kerr('ESRCH', `no process ${pid}`);
      // check_prlimit_permission(): another process's limits need our uid and gid to be its (real,
      // effective and saved) ones, or CAP_SYS_RESOURCE.
      if (target !== this && (target.uid !== this.uid || target.gid !== this.gid) && !this.capable(CAP_SYS_RESOURCE)) {
        throw kerr('EPERM', `process ${pid} runs as ${target.uid}:${target.gid}; ${this.uid}:${this.gid} may not read or change its limits without CAP_SYS_RESOURCE`);
      }
      const prev = target.rlimits.prlimit(resource, asked, this.capable(CAP_SYS_RESOURCE));
      if (old) {
        if (old.length < RLIMIT64_SIZE) throw kerr('EFAULT', `the old limit needs ${RLIMIT64_SIZE} bytes (struct rlimit64); the buffer has ${old.length}`);
        setU64(old, RLIM_CUR, prev.cur);
        setU64(old, RLIM_MAX, prev.max);
      }
      if (this.kernel.trace.active) this.traceCall('prlimit64', undefined, undefined, [pid, resource, asked, old ? prev : null], 0, undefined);
    } catch (e) {
      // strace shows a pointer it could not (or, after a failure, would not) read as its address.
      if (this.kernel.trace.active) this.traceCall('prlimit64', undefined, undefined, [pid, resource, next ? (asked ?? 'addr') : null, old ? 'addr' : null], -1, e);
      this.fail(e, 'prlimit64', `prlimit(${pid}, ${resource})`);
    }
  }

  /** getrlimit(2) as glibc makes it on x86-64: prlimit64(0, resource, NULL, buf). */
  getrlimit(resource: number, buf: Uint8Array): void {
    this.prlimit(0, resource, null, buf);
  }

  /** setrlimit(2) as glibc makes it on x86-64: prlimit64(0, resource, buf, NULL). */
  setrlimit(resource: number, buf: Uint8Array): void {
    this.prlimit(0, resource, buf, null);
  }

  // ---------------------------------------------------------------------------------------------
  // directory listings and links

  readdir(path: string): string[] {
    try {
      if (this.exited) throw kerr('ESRCH', `process ${this.pid} has exited`);
      if (path === '') throw kerr('ENOENT', 'the path is empty');
      checkPathLength(path);
      const { node, path: real } = this.kernel.vfs.resolve(path, this.ctx, true, this.startAt(AT_FDCWD, path));
      if (node.type !== 'dir') throw kerr('ENOTDIR', `${real} is not a directory`);
      if (!this.mayAccess(node, MAY_READ)) throw kerr('EACCES', `${real} is not readable by uid ${this.uid}`);
      const names = node.list(this.ctx);
      if (this.kernel.trace.active) this.traceCall('getdents64', undefined, undefined, [path], names.length, undefined);
      return names;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('getdents64', undefined, undefined, [path], -1, e);
      this.fail(e, 'readdir', `readdir("${path}")`, undefined, path);
    }
  }

  /** readlink(2) (glibc calls the readlink system call on x86-64): readlinkat(AT_FDCWD, path) traced as such. */
  readlink(path: string): string {
    return this.readlinkat(AT_FDCWD, path, 'readlink');
  }

  /**
   * readlinkat(2) (fs/stat.c do_readlinkat()): the final name is not followed; not a symlink is EINVAL.
   * An empty path (LOOKUP_EMPTY) names `dirfd` itself: its symlink (an O_PATH|O_NOFOLLOW fd), else ENOENT.
   * The buffer is 4096 bytes (the target is returned whole).
   */
  readlinkat(dirfd: number, path: string, syscall: 'readlink' | 'readlinkat' = 'readlinkat'): string {
    const args = (t?: string): unknown[] => (syscall === 'readlink' ? [path, t] : [dirfd === AT_FDCWD ? 'AT_FDCWD' : dirfd, path, t]);
    try {
      if (this.exited) throw this.exitedError();
      checkPathLength(path);
      let node: Inode;
      let real: string;
      if (path === '') {
        if (syscall === 'readlink' || dirfd === AT_FDCWD) throw kerr('ENOENT', 'the path is empty');
        const file = this.rawFileFor(dirfd);
        if (file.fInode?.type !== 'link') throw kerr('ENOENT', `the path is empty and fd ${dirfd} (${file.path}) is not a symbolic link`);
        node = file.fInode as Inode;
        real = file.path;
      } else {
        ({ node, path: real } = this.kernel.vfs.resolve(path, this.ctx, false, this.startAt(dirfd, path)));
      }
      if (node.type !== 'link') throw kerr('EINVAL', `${real} is not a symbolic link`);
      const t = node.target(this.ctx);
      if (this.kernel.trace.active) this.traceCall(syscall, undefined, undefined, args(t), t.length, undefined);
      return t;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall(syscall, undefined, undefined, args(), -1, e);
      this.fail(e, syscall, syscall === 'readlink' ? `readlink("${path}")` : `readlinkat(${dirfd === AT_FDCWD ? 'AT_FDCWD' : dirfd}, "${path}")`, undefined, path);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // the working directory (fs/open.c chdir/fchdir, fs/d_path.c getcwd)

  /**
   * chdir(2): the path is walked (following a final symlink, LOOKUP_DIRECTORY: ENOTDIR), then needs
   * search permission on the directory itself (path_permission(MAY_EXEC | MAY_CHDIR): EACCES).
   */
  chdir(path: string): void {
    try {
      if (this.exited) throw this.exitedError();
      if (path === '') throw kerr('ENOENT', 'the path is empty');
      checkPathLength(path);
      const r = this.kernel.vfs.resolve(path, this.ctx, true, this.startAt(AT_FDCWD, path));
      this.cwd = this.chdirTarget(r.node, r.path);
      if (this.kernel.trace.active) this.traceCall('chdir', undefined, undefined, [path], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('chdir', undefined, undefined, [path], -1, e);
      this.fail(e, 'chdir', `chdir("${path}")`, undefined, path);
    }
  }

  /** fchdir(2): an open directory (fdget_raw(): an O_PATH fd too; EBADF), ENOTDIR, then EACCES as chdir. */
  fchdir(fd: number): void {
    try {
      const file = this.rawFileFor(fd);
      const inode = file.fInode;
      if (inode === null || inode.type !== 'dir') throw kerr('ENOTDIR', `fd ${fd} (${file.path}) is not a directory`);
      this.cwd = this.chdirTarget(inode as Inode, file.path);
      if (this.kernel.trace.active) this.traceCall('fchdir', fd, undefined, [fd], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('fchdir', fd, undefined, [fd], -1, e);
      this.fail(e, 'fchdir', `fchdir(${fd})`, fd);
    }
  }

  private chdirTarget(node: Inode, path: string): Start {
    if (node.type !== 'dir') throw kerr('ENOTDIR', `${path} is not a directory`);
    if (!this.mayAccess(node, MAY_EXEC)) throw kerr('EACCES', `${path} (mode ${modeText(node)}) is not searchable by uid ${this.uid}, so it cannot be the working directory`);
    return { node, path };
  }

  /**
   * getcwd(2) (fs/d_path.c): the working directory's path into a buffer of `size` bytes; the system
   * call returns its length with the NUL, here the path itself. ERANGE when it does not fit
   * (size 0 included); ENAMETOOLONG past PATH_MAX.
   */
  getcwd(size: number = PATH_MAX): string {
    const path = this.cwd.path;
    try {
      if (this.exited) throw this.exitedError();
      const len = new TextEncoder().encode(path).length + 1;
      if (len > PATH_MAX) throw kerr('ENAMETOOLONG', `the working directory's path is ${len} bytes with its NUL, more than PATH_MAX (${PATH_MAX})`);
      if (len > size) throw kerr('ERANGE', `the working directory ${path} needs ${len} bytes with its NUL; the buffer holds ${size}`);
      if (this.kernel.trace.active) this.traceCall('getcwd', undefined, undefined, [path, size], len, undefined);
      return path;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('getcwd', undefined, undefined, ['addr', size], -1, e);
      this.fail(e, 'getcwd', `getcwd(${size})`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // stat (fs/stat.c; what each field holds: src/linux/fs/stat.ts)

  /** stat(2) as glibc 2.33+ makes it on x86-64: newfstatat(AT_FDCWD, path, buf, 0). `buf` receives struct stat. */
  stat(path: string, buf: Uint8Array | null = new Uint8Array(STAT_SIZE)): Stat {
    return this.fstatat(AT_FDCWD, path, buf, 0);
  }

  /** lstat(2): newfstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW): a final symlink itself. */
  lstat(path: string, buf: Uint8Array | null = new Uint8Array(STAT_SIZE)): Stat {
    return this.fstatat(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW);
  }

  /** fstat(2) as glibc 2.33+ makes it: newfstatat(fd, "", buf, AT_EMPTY_PATH). O_PATH fds are fine (fdget_raw()). */
  fstat(fd: number, buf: Uint8Array | null = new Uint8Array(STAT_SIZE)): Stat {
    return this.fstatat(fd, '', buf, AT_EMPTY_PATH);
  }

  /**
   * newfstatat(2) (vfs_fstatat()): with AT_EMPTY_PATH an empty path names `dirfd` itself (vfs_fstat(),
   * which looks at no flag: EBADF for a closed fd); otherwise vfs_statx(): flags beyond
   * AT_SYMLINK_NOFOLLOW|AT_NO_AUTOMOUNT|AT_EMPTY_PATH|AT_STATX_SYNC_TYPE are EINVAL, an empty path
   * without AT_EMPTY_PATH ENOENT, one of PATH_MAX bytes or more ENAMETOOLONG (getname_flags), then the walk (ENOENT, ENOTDIR, EACCES for search permission, ELOOP);
   * a relative path starts at `dirfd` (EBADF, ENOTDIR). cp_new_stat() then fills `buf` (EFAULT if it is
   * null or shorter than struct stat). Returns the struct as an object too.
   */
  fstatat(dirfd: number, path: string, buf: Uint8Array | null, flags: number): Stat {
    let st: Stat | undefined;
    const fd = path === '' && flags & AT_EMPTY_PATH && dirfd >= 0 ? dirfd : undefined;
    try {
      if (this.exited) throw this.exitedError();
      if (fd !== undefined) {
        st = cpNewStat(getattrFile(this.ctx, this.rawFileFor(fd)));
      } else {
        if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) {
          throw kerr('EINVAL', `unknown newfstatat flags 0x${(flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)).toString(16)}`);
        }
        st = cpNewStat(this.lookupStat(dirfd, path, flags));
      }
      copyStat(st, buf);
      if (this.kernel.trace.active) this.traceCall('newfstatat', fd, undefined, [dirfd, path, st, flags], 0, undefined);
      return st;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('newfstatat', fd, undefined, [dirfd, path, buf === null ? null : 'addr', flags], -1, e);
      this.fail(e, 'newfstatat', `newfstatat(${dirfd === AT_FDCWD ? 'AT_FDCWD' : dirfd}, ${JSON.stringify(path)})`, fd, path === '' ? undefined : path);
    }
  }

  /**
   * statx(2) (fs/stat.c do_statx()): a mask with STATX__RESERVED, and both AT_STATX_FORCE_SYNC and
   * AT_STATX_DONT_SYNC, are EINVAL before anything else; then newfstatat's flag and path rules (the
   * lookup, or with AT_EMPTY_PATH and "" the fd itself: EBADF), and cp_statx() into `buf` (EFAULT if
   * null or short). What each field holds: src/linux/fs/stat.ts. Returns the struct as an object too.
   */
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Uint8Array | null = new Uint8Array(STATX_SIZE)): Statx {
    const dir = dirfd === AT_FDCWD ? 'AT_FDCWD' : dirfd;
    const fd = path === '' && flags & AT_EMPTY_PATH && dirfd !== AT_FDCWD ? dirfd : undefined;
    mask >>>= 0;
    try {
      if (this.exited) throw this.exitedError();
      if (mask & STATX__RESERVED) throw kerr('EINVAL', `the mask 0x${mask.toString(16)} has STATX__RESERVED (0x80000000) set`);
      if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) throw kerr('EINVAL', 'AT_STATX_FORCE_SYNC and AT_STATX_DONT_SYNC together');
      const bad = flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE);
      if (bad) throw kerr('EINVAL', `unknown statx flags 0x${bad.toString(16)}`);
      const st = fd !== undefined ? getattrFile(this.ctx, this.rawFileFor(fd)) : this.lookupStat(dirfd, path, flags);
      const sx = cpStatx(st, mask);
      copyStatx(sx, buf);
      if (this.kernel.trace.active) this.traceCall('statx', fd, undefined, [dir, path, flags, mask, sx], 0, undefined);
      return sx;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('statx', fd, undefined, [dir, path, flags, mask, buf === null ? null : 'addr'], -1, e);
      this.fail(e, 'statx', `statx(${dir}, ${JSON.stringify(path)})`, fd, path === '' ? undefined : path);
    }
  }

  /** vfs_statx()'s walk (no AT_EMPTY_PATH fd): getname()'s ENOENT/ENAMETOOLONG, then the lookup from dirfd. */
  private lookupStat(dirfd: number, path: string, flags: number): KStat {
    if (path === '' && !(flags & AT_EMPTY_PATH)) throw kerr('ENOENT', 'the path is empty (AT_EMPTY_PATH names the fd itself)');
    checkPathLength(path);
    const start = path === '' && dirfd === AT_FDCWD ? this.cwd : this.startAt(dirfd, path);
    const follow = !(flags & AT_SYMLINK_NOFOLLOW);
    // A final /proc/<pid>/fd/<n> magic link leads to the open file's own inode (the anon inode too).
    const last = follow ? this.kernel.vfs.resolve(path, this.ctx, false, start) : undefined;
    if (last?.node.type === 'link' && last.node.file) return getattrFile(this.ctx, last.node.file);
    const r = this.kernel.vfs.resolve(path, this.ctx, follow, start);
    return getattrPath(this.ctx, r.node, r.path);
  }

  /**
   * path_init() for a walk: an absolute path starts at the root whatever dirfd is (undefined); a
   * relative one at the working directory for AT_FDCWD, else at dirfd's directory (fdget_raw(): EBADF;
   * not a directory: ENOTDIR). Nothing is checked about the start's ancestors.
   */
  private startAt(dirfd: number, path: string): Start | undefined {
    if (path.startsWith('/')) return undefined;
    if (dirfd === AT_FDCWD) return this.cwd;
    const dir = this.rawFileFor(dirfd);
    if (dir.fInode?.type !== 'dir') throw kerr('ENOTDIR', `fd ${dirfd} (${dir.path}) is not a directory, so ${JSON.stringify(path)} cannot be looked up from it`);
    return { node: dir.fInode as Inode, path: dir.path };
  }

  // ---------------------------------------------------------------------------------------------
  // supplementary groups (kernel/groups.c)

  /**
   * getgroups(2): returns the number of supplementary groups; with size > 0 also writes them (sorted)
   * to `list` (EINVAL if size is negative or below the count, EFAULT if `list` holds fewer).
   */
  getgroups(size: number, list: Uint32Array | null): number {
    const n = this.groups.length;
    try {
      if (this.exited) throw this.exitedError();
      size |= 0;
      if (size < 0) throw kerr('EINVAL', `negative size ${size}`);
      if (size > 0) {
        if (n > size) throw kerr('EINVAL', `the process has ${n} supplementary groups; the list has room for ${size}`);
        if (!list || list.length < n) throw kerr('EFAULT', `the list holds ${list?.length ?? 0} gids; ${n} are to be written`);
        list.set(this.groups);
      }
      if (this.kernel.trace.active) this.traceCall('getgroups', undefined, undefined, [size, size === 0 && !list ? null : this.groups], n, undefined);
      return n;
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('getgroups', undefined, undefined, [size, list ? 'addr' : null], -1, e);
      this.fail(e, 'getgroups', `getgroups(${size})`);
    }
  }

  /**
   * setgroups(2): needs CAP_SETGID (EPERM, checked first); size at most NGROUPS_MAX (EINVAL); the
   * first `size` gids of `list`, read one by one (groups_from_user(): EFAULT where the list ends, EINVAL
   * for (gid_t)-1, which maps to no kgid), sorted (groups_sort()).
   */
  setgroups(size: number, list: Uint32Array | null): void {
    size |= 0;
    const readable = list !== null && size >= 0 && size <= NGROUPS_MAX && list.length >= size;
    const shown = readable ? [...list.subarray(0, size)] : list === null ? null : 'addr';
    try {
      if (this.exited) throw this.exitedError();
      if (!this.capable(CAP_SETGID)) throw kerr('EPERM', `setgroups needs CAP_SETGID; uid ${this.uid} has not`);
      if (size < 0 || size > NGROUPS_MAX) throw kerr('EINVAL', `${size} groups (at most NGROUPS_MAX ${NGROUPS_MAX})`);
      const have = list === null ? 0 : Math.min(size, list.length);
      for (let i = 0; i < have; i++) if (list![i] === NO_ID) throw kerr('EINVAL', `gid ${i} of the list is (gid_t)-1, which is no group`);
      if (size > 0 && !readable) throw kerr('EFAULT', `the list holds ${list?.length ?? 0} gids; setgroups reads ${size}`);
      this.groups = [...(list?.subarray(0, size) ?? [])].sort((a, b) => a - b);
      if (this.kernel.trace.active) this.traceCall('setgroups', undefined, undefined, [size, shown], 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall('setgroups', undefined, undefined, [size, shown], -1, e);
      this.fail(e, 'setgroups', `setgroups(${size})`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // owner and mode (fs/open.c: chown_common, chmod_common; the checks in src/linux/fs/attr.ts)

  /** chown(2): a final symlink is followed; an id of -1 (0xffffffff) leaves it unchanged. */
  chown(path: string, uid: number, gid: number): void {
    this.changeAttr('chown', path, [path, uid >>> 0, gid >>> 0], (inode) => chownAttr(this, inode, uid >>> 0, gid >>> 0));
  }

  /** lchown(2): as chown, on a final symlink itself. */
  lchown(path: string, uid: number, gid: number): void {
    this.changeAttr('lchown', path, [path, uid >>> 0, gid >>> 0], (inode) => chownAttr(this, inode, uid >>> 0, gid >>> 0));
  }

  /** fchown(2): the open file's inode (EBADF for an O_PATH fd, as fdget() skips them). */
  fchown(fd: number, uid: number, gid: number): void {
    this.changeAttr('fchown', fd, [fd, uid >>> 0, gid >>> 0], (inode) => chownAttr(this, inode, uid >>> 0, gid >>> 0));
  }

  /** chmod(2): the mode is a umode_t (16 bits), of which S_IALLUGO counts; a final symlink is followed. */
  chmod(path: string, mode: number): void {
    this.changeAttr('chmod', path, [path, mode & 0xffff], () => chmodAttr(mode & 0xffff));
  }

  /** fchmod(2). */
  fchmod(fd: number, mode: number): void {
    this.changeAttr('fchmod', fd, [fd, mode & 0xffff], () => chmodAttr(mode & 0xffff));
  }

  /** fchmodat(2), the three-argument system call (no flags: glibc's AT_SYMLINK_NOFOLLOW is fchmodat2's). */
  fchmodat(dirfd: number, path: string, mode: number): void {
    const dir = dirfd === AT_FDCWD ? 'AT_FDCWD' : dirfd;
    this.changeAttr('fchmodat', { dirfd, path, follow: true, empty: false }, [dir, path, mode & 0xffff], () => chmodAttr(mode & 0xffff));
  }

  /**
   * fchownat(2) (do_fchownat()): flags AT_SYMLINK_NOFOLLOW (lchown's walk) and AT_EMPTY_PATH ("" names
   * dirfd's own inode, any file: an O_PATH fd too), others EINVAL.
   */
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
    const dir = dirfd === AT_FDCWD ? 'AT_FDCWD' : dirfd;
    const args = [dir, path, uid >>> 0, gid >>> 0, flags];
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
      const e = kerr('EINVAL', `unknown fchownat flags 0x${(flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)).toString(16)}`);
      if (this.kernel.trace.active) this.traceCall('fchownat', undefined, undefined, args, -1, e);
      this.fail(e, 'fchownat', `fchownat(${dir}, ${JSON.stringify(path)})`, undefined, path);
    }
    const at = { dirfd, path, follow: !(flags & AT_SYMLINK_NOFOLLOW), empty: (flags & AT_EMPTY_PATH) !== 0 };
    this.changeAttr('fchownat', at, args, (inode) => chownAttr(this, inode, uid >>> 0, gid >>> 0));
  }

  /** The path walk or fdget(), then notify_change() with the iattr `attrOf` builds. */
  private changeAttr(syscall: string, target: string | number | AtPath, args: readonly unknown[], attrOf: (inode: InodeAttrs) => IAttr): void {
    const fd = typeof target === 'number' ? target : undefined;
    const at: AtPath | undefined = typeof target === 'string' ? { dirfd: AT_FDCWD, path: target, follow: syscall !== 'lchown', empty: false } : typeof target === 'number' ? undefined : target;
    try {
      let inode: InodeAttrs;
      let where: string;
      if (at === undefined) {
        const file = this.fileFor(fd!);
        // anon_inode_setattr(): the one inode every anonymous file shares cannot change.
        // A secure anon inode of its own (guest_memfd) refuses through its ->setattr (kvm_gmem_setattr: EINVAL).
        if (file.fInode === null && file.anonAttrs !== null) throw kerr('EINVAL', `fd ${fd} (${file.path}): its inode's ->setattr refuses every change`);
        if (file.fInode === null) throw kerr('EOPNOTSUPP', `fd ${fd} (${file.path}) is on the anonymous inode, whose owner and mode cannot change`);
        inode = file.fInode;
        where = file.path;
      } else if (at.path === '' && at.empty && at.dirfd !== AT_FDCWD) {
        // LOOKUP_EMPTY: the walk ends where it starts, at dirfd's file (fdget_raw(): O_PATH fds too).
        const file = this.rawFileFor(at.dirfd);
        if (file.fInode === null && file.anonAttrs !== null) throw kerr('EINVAL', `fd ${at.dirfd} (${file.path}): its inode's ->setattr refuses every change`);
        if (file.fInode === null) throw kerr('EOPNOTSUPP', `fd ${at.dirfd} (${file.path}) is on the anonymous inode, whose owner and mode cannot change`);
        inode = file.fInode;
        where = file.path;
      } else {
        if (this.exited) throw this.exitedError();
        if (at.path === '' && !at.empty) throw kerr('ENOENT', 'the path is empty');
        checkPathLength(at.path);
        const start = at.path === '' ? this.cwd : this.startAt(at.dirfd, at.path);
        const r = this.kernel.vfs.resolve(at.path, this.ctx, at.follow, start);
        inode = r.node;
        where = r.path;
      }
      notifyChange(this, inode, attrOf(inode), where);
      // notify_change() always sets ATTR_CTIME: the change time moves even when nothing else did. The
      // model keeps times for tmpfs files only.
      if (inode instanceof ShmemInode) inode.ctimeNs = this.kernel.sched.now;
      if (this.kernel.trace.active) this.traceCall(syscall, fd, undefined, args, 0, undefined);
    } catch (e) {
      if (this.kernel.trace.active) this.traceCall(syscall, fd, undefined, args, -1, e);
      const call = at === undefined ? `${syscall}(${fd})` : at.dirfd === AT_FDCWD && !syscall.endsWith('at') ? `${syscall}(${JSON.stringify(at.path)})` : `${syscall}(${at.dirfd === AT_FDCWD ? 'AT_FDCWD' : at.dirfd}, ${JSON.stringify(at.path)})`;
      this.fail(e, syscall, call, fd, at?.path);
    }
  }

  /** Convenience over open/read/close for sysfs and procfs text files. */
  readFile(path: string): string {
    const fd = this.open(path, O_RDONLY | O_CLOEXEC);
    try {
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = this.read(fd, buf);
        if (n === 0) break;
        chunks.push(buf.slice(0, n));
      }
      return Buffer.concat(chunks).toString('utf8');
    } finally {
      this.close(fd);
    }
  }

  /** Convenience over open/write/close (`echo data > path`). */
  writeFile(path: string, data: string): void {
    const fd = this.open(path, O_WRONLY | O_CLOEXEC);
    try {
      this.write(fd, new TextEncoder().encode(data));
    } finally {
      this.close(fd);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** exit(): closes every fd and drops every mapping, as the kernel does when a process dies. */
  exit(): void {
    if (this.exited) return;
    this.fds.closeAll();
    this.mm.teardown();
    this.exited = true;
    this.kernel.processes.delete(this.pid);
    this.kernel.point();
  }
}

/** sizeof(struct __kernel_timespec): s64 tv_sec, long long tv_nsec. */
const TIMESPEC_SIZE = 16;
/** KTIME_MAX: the largest ktime_t, in ns. */
const KTIME_MAX = 2 ** 63 - 1;

/**
 * epoll_pwait2's timeout: get_timespec64() (EFAULT), poll_select_set_timeout()'s timespec64_valid()
 * (EINVAL); in ns, -1 for NULL (no timeout).
 */
function timespecTimeout(ts: Uint8Array | null): number {
  if (ts === null) return -1;
  if (ts.length < TIMESPEC_SIZE) throw kerr('EFAULT', `the timeout is ${ts.length} bytes, not sizeof(struct __kernel_timespec) = ${TIMESPEC_SIZE}`);
  const sec = BigInt.asIntN(64, getU64(ts, 0));
  const nsec = BigInt.asIntN(64, getU64(ts, 8));
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) throw kerr('EINVAL', `the timeout {tv_sec=${sec}, tv_nsec=${nsec}} is not a valid timespec (tv_sec >= 0, 0 <= tv_nsec < 1000000000)`);
  return Number(sec) * 1e9 + Number(nsec);
}

/** include/linux/mman.h LEGACY_MAP_MASK: the flags MAP_SHARED_VALIDATE accepts without FOP_MMAP_SYNC. */
const LEGACY_MAP_MASK = 0x1 | 0x2 | 0x10 | 0x20 | 0x800 | 0x1000 | 0x4000000 | 0x100 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x40 | 0x80 | (21 << 26) | (30 << 26);
/** hstate_sizelog(): the huge page sizes this machine has (0: the default, 2 MiB). */
const HUGE_PAGE_SHIFTS = new Set([0, 21, 30]);

/** An anonymous MAP_HUGETLB|MAP_NORESERVE mapping with no huge page to fault in: every access is SIGBUS. */
function hugetlbUnbacked(len: number): IoBacking {
  const why = (): string => 'no huge page to fault in (vm.nr_hugepages is 0; the mapping was made with MAP_NORESERVE)';
  const never = (): never => {
    throw new Error('unreachable: the gate faults first');
  };
  return new IoBacking({ read: never, write: never }, 0, len, why);
}

function toOffset(o: number | bigint): number {
  if (typeof o === 'bigint') {
    if (o < 0n) return -1;
    return Number(o);
  }
  return o;
}

/**
 * An O_PATH file (f_op = empty_fops, FMODE_PATH): a location, not an open object. The syscalls refuse
 * it through fileFor(); read() reaches it through the straight-line path, so it refuses that here.
 */
class PathFile extends KFile {
  readonly kind = 'other' as const;
  constructor(readonly path: string) {
    super();
  }
  override read(): number {
    throw kerr('EBADF', `${this.path} was opened with O_PATH, which gives no access to its contents`);
  }
  override write(): number {
    throw kerr('EBADF', `${this.path} was opened with O_PATH, which gives no access to its contents`);
  }
}

/** An open directory (only for O_RDONLY|O_DIRECTORY opens; listings go through readdir). */
class DirFile extends KFile {
  readonly kind = 'other' as const;
  constructor(
    readonly path: string,
    /** The filesystem it is on (VfsTree.fsOf().name). */
    private readonly fs: string,
  ) {
    super();
  }
  /** dcache_dir_lseek() on tmpfs/devtmpfs; generic_file_llseek() with i_size 0 on kernfs and procfs. */
  override llseek(offset: number, whence: number): number {
    return this.fs === 'devtmpfs' || this.fs === 'rootfs' ? setCurLlseek(this, offset, whence, `directory ${this.path}`) : genericLlseek(this, offset, whence, 0);
  }
  override read(): number {
    throw kerr('EISDIR', `${this.path} is a directory`);
  }
  override poll(): number {
    return DEFAULT_POLLMASK;
  }
}
