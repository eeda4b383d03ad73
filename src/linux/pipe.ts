// pipe(2) (fs/pipe.c, include/linux/pipe_fs_i.h): a ring of page-sized pipe buffers (16 slots by
// default), with a read end and a write end, each its own open file description.
//
// What the ring makes observable, and the model keeps:
// - A write first merges its sub-page remainder (total_len & 4095) into the last buffer when that
//   buffer is mergeable and has room; the rest goes into fresh pages. So capacity is counted in
//   slots, not bytes: after 16 full pages one read byte frees no room, and EPOLLOUT means "a slot is
//   free". A write of at most PIPE_BUF bytes needs at most one slot, which is what makes it atomic.
// - Packet mode (O_DIRECT on the write end, from pipe2() or F_SETFL): each write buffer is a packet
//   that is never merged into, and a read takes at most one packet, dropping what did not fit.
// - Two wait queues: readers and the read end's poll entries on rd_wait, writers and the write end's
//   on wr_wait. A write wakes rd_wait when the pipe was empty or once anyone ever polled the pipe
//   (`poll_usage`: "epoll nonsensically wants a wakeup"), even when it wrote nothing (EAGAIN). A read
//   wakes wr_wait only when it emptied a buffer of a full pipe. Closing the last reader or writer
//   (but not both) wakes both queues with no key, which every epoll item takes.
// - F_GETPIPE_SZ/F_SETPIPE_SZ (pipe_fcntl): power-of-two sizes, EBUSY below the occupancy, EPERM past
//   /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE, and the per-user page accounting with the
//   soft limit (new pipes of a user over it get 2 slots) and hard limit (pipe-user-pages-{soft,hard}).
// Zero-length reads and writes return 0 before anything is checked, EPIPE included. The model has no
// signals: EPIPE comes without SIGPIPE, and a blocking write that fills the pipe returns what it has
// written, as the kernel does when a signal interrupts its wait (the model cannot hold a call half done).

import { kerr, WouldBlock } from './errors.js';
import { KFile, type FileContext } from './fs/file.js';
import { attr } from './fs/vfs.js';
import { parseUlongSysctl } from './fs/sysctl.js';
import type { Kernel } from './kernel.js';
import type { Process } from './process.js';
import { WaitQueue } from './waitqueue.js';
import type { UserArg } from './uaccess.js';
import { setU32 } from '../../abi/bytes.js';
import { FIONREAD } from '../../include-ts/asm-generic/ioctls.js';
import { O_DIRECT, O_NONBLOCK, O_RDONLY, O_WRONLY } from '../../include-ts/linux/fcntl.js';
import { CAP_SYS_ADMIN, CAP_SYS_RESOURCE } from '../../include-ts/linux/capability.js';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM } from '../../include-ts/linux/poll.js';

export const PIPE_BUF = 4096;
const PAGE_SIZE = 4096;
const PAGE_SHIFT = 12;
/** PIPE_DEF_BUFFERS and PIPE_MIN_DEF_BUFFERS (include/linux/pipe_fs_i.h). */
export const PIPE_DEF_BUFFERS = 16;
const PIPE_MIN_DEF_BUFFERS = 2;
/** pipe_buffer flags (include/linux/pipe_fs_i.h). */
const PIPE_BUF_FLAG_PACKET = 0x08;
const PIPE_BUF_FLAG_CAN_MERGE = 0x10;

/**
 * The pipe sysctls (/proc/sys/fs/pipe-*) and each user's pipe pages (user_struct.pipe_bufs), which
 * alloc_pipe_info() and pipe_set_size() charge.
 */
export class PipeLimits {
  /** pipe_max_size: PAGE_SIZE * PIPE_DEF_BUFFERS * 16 = 1 MiB. */
  maxSize = 1048576;
  /** pipe_user_pages_soft: PIPE_DEF_BUFFERS * INR_OPEN_CUR. */
  userPagesSoft = 16384;
  /** pipe_user_pages_hard: 0, no limit. */
  userPagesHard = 0;
  private readonly userBufs = new Map<number, number>();

  /** account_pipe_buffers(): moves `uid`'s count from `old` to `now` pages and returns the new total. */
  account(uid: number, old: number, now: number): number {
    const n = (this.userBufs.get(uid) ?? 0) + now - old;
    if (n === 0) this.userBufs.delete(uid);
    else this.userBufs.set(uid, n);
    return n;
  }

  /** The pages `uid`'s pipes hold (for inspection). */
  userPages(uid: number): number {
    return this.userBufs.get(uid) ?? 0;
  }

  tooManySoft(userBufs: number): boolean {
    return this.userPagesSoft !== 0 && userBufs > this.userPagesSoft;
  }

  tooManyHard(userBufs: number): boolean {
    return this.userPagesHard !== 0 && userBufs > this.userPagesHard;
  }
}

/** round_pipe_size(): at least a page, a power of two, 0 (invalid) above 2^31. */
export function roundPipeSize(size: number): number {
  if (size > 2 ** 31) return 0;
  if (size < PAGE_SIZE) return PAGE_SIZE;
  return 2 ** Math.ceil(Math.log2(size));
}

/** pipe_is_unprivileged_user(). */
function unprivileged(proc: Process): boolean {
  return !proc.capable(CAP_SYS_RESOURCE) && !proc.capable(CAP_SYS_ADMIN);
}

/** struct pipe_buffer: a page (allocated on first use and kept with its slot), the data's offset and length. */
class PipeBuffer {
  page: Uint8Array | null = null;
  offset = 0;
  len = 0;
  flags = 0;
}

/** struct pipe_inode_info. `head` and `tail` count up without wrapping; a slot is `index & (ringSize - 1)`. */
class PipeInode {
  bufs: PipeBuffer[];
  head = 0;
  tail = 0;
  maxUsage: number;
  nrAccounted: number;
  readers = 1;
  writers = 1;
  /** Open files (both ends); the last release frees the pipe and its page accounting. */
  files = 2;
  pollUsage = false;
  readonly rdWait = new WaitQueue();
  readonly wrWait = new WaitQueue();

  constructor(
    readonly ino: number,
    slots: number,
    readonly uid: number,
    readonly limits: PipeLimits,
  ) {
    this.bufs = Array.from({ length: slots }, () => new PipeBuffer());
    this.maxUsage = slots;
    this.nrAccounted = slots;
  }

  get occupancy(): number {
    return this.head - this.tail;
  }

  full(): boolean {
    return this.head - this.tail >= this.maxUsage;
  }

  slot(i: number): PipeBuffer {
    return this.bufs[i & (this.bufs.length - 1)]!;
  }

  /** FIONREAD: the bytes in every occupied buffer. */
  bytes(): number {
    let n = 0;
    for (let t = this.tail; t !== this.head; t++) n += this.slot(t).len;
    return n;
  }

  /**
   * pipe_set_size() and pipe_resize_ring(): EINVAL for a size round_pipe_size() rejects, EPERM when
   * growing past pipe-max-size without CAP_SYS_RESOURCE or past a user limit when unprivileged, EBUSY
   * when the data would not fit. Returns the new size in bytes.
   */
  setSize(proc: Process, arg: number): number {
    const size = roundPipeSize(arg);
    const slots = size >>> PAGE_SHIFT;
    if (slots === 0) throw kerr('EINVAL', `F_SETPIPE_SZ ${arg}: larger than 2^31 bytes`);
    const grows = slots > this.maxUsage;
    if (grows && size > this.limits.maxSize && !proc.capable(CAP_SYS_RESOURCE)) {
      throw kerr('EPERM', `F_SETPIPE_SZ ${arg}: ${size} bytes is over /proc/sys/fs/pipe-max-size (${this.limits.maxSize}) and the caller lacks CAP_SYS_RESOURCE`);
    }
    const userBufs = this.limits.account(this.uid, this.nrAccounted, slots);
    const revert = () => this.limits.account(this.uid, slots, this.nrAccounted);
    if (grows && (this.limits.tooManyHard(userBufs) || this.limits.tooManySoft(userBufs)) && unprivileged(proc)) {
      revert();
      throw kerr('EPERM', `F_SETPIPE_SZ ${arg}: uid ${this.uid}'s pipes would hold ${userBufs} pages, over /proc/sys/fs/pipe-user-pages-soft or -hard`);
    }
    const n = this.occupancy;
    if (slots < n) {
      revert();
      throw kerr('EBUSY', `F_SETPIPE_SZ ${arg}: the pipe holds ${n} buffers, more than ${slots}`);
    }
    const bufs = Array.from({ length: slots }, (_, i) => (i < n ? this.slot(this.tail + i) : new PipeBuffer()));
    this.bufs = bufs;
    this.tail = 0;
    this.head = n;
    this.maxUsage = slots;
    this.nrAccounted = slots;
    // "This might have made more room for writers": wake_up_interruptible() has no key.
    this.wrWait.wake(0);
    return this.maxUsage * PAGE_SIZE;
  }
}

export class PipeFile extends KFile {
  readonly kind = 'pipe' as const;
  readonly path: string;
  /** pipefifo_fops.poll = pipe_poll. */
  override readonly canPoll = true;

  constructor(
    private readonly pipe: PipeInode,
    readonly end: 'read' | 'write',
  ) {
    super();
    this.path = `pipe:[${pipe.ino}]`;
  }

  /** pipe_read(). */
  override read(_ctx: FileContext, out: Uint8Array): number {
    if (this.end !== 'read') throw kerr('EBADF', 'this is the write end of the pipe');
    const p = this.pipe;
    let want = out.length;
    if (want === 0) return 0;
    let ret = 0;
    let wakeWriter = false;
    while (p.head !== p.tail) {
      const buf = p.slot(p.tail);
      const chars = Math.min(buf.len, want);
      out.set(buf.page!.subarray(buf.offset, buf.offset + chars), ret);
      ret += chars;
      buf.offset += chars;
      buf.len -= chars;
      // A packet is read whole or cut short: what did not fit is dropped.
      if (buf.flags & PIPE_BUF_FLAG_PACKET) {
        want = chars;
        buf.len = 0;
      }
      if (buf.len === 0) {
        wakeWriter ||= p.full();
        p.tail++;
      }
      want -= chars;
      if (want === 0) break;
    }
    if (ret === 0) {
      if (p.writers === 0) return 0;
      throw new WouldBlock(p.rdWait, 'the pipe is empty');
    }
    if (wakeWriter) p.wrWait.wake(EPOLLOUT | EPOLLWRNORM);
    return ret;
  }

  /** pipe_write(). */
  override write(_ctx: FileContext, src: Uint8Array): number {
    if (this.end !== 'write') throw kerr('EBADF', 'this is the read end of the pipe');
    const p = this.pipe;
    const total = src.length;
    if (total === 0) return 0;
    if (p.readers === 0) throw kerr('EPIPE', 'the pipe has no reader');
    const wasEmpty = p.head === p.tail;
    let ret = 0;
    // Merge the sub-page remainder into the last buffer if it fits there.
    const chars = total & (PAGE_SIZE - 1);
    if (chars !== 0 && !wasEmpty) {
      const last = p.slot(p.head - 1);
      const offset = last.offset + last.len;
      if (last.flags & PIPE_BUF_FLAG_CAN_MERGE && offset + chars <= PAGE_SIZE) {
        last.page!.set(src.subarray(0, chars), offset);
        last.len += chars;
        ret = chars;
      }
    }
    const packet = (this.flags & O_DIRECT) !== 0;
    while (ret < total && !p.full()) {
      const buf = p.slot(p.head);
      p.head++;
      buf.page ??= new Uint8Array(PAGE_SIZE);
      const n = Math.min(PAGE_SIZE, total - ret);
      buf.page.set(src.subarray(ret, ret + n), 0);
      buf.offset = 0;
      buf.len = n;
      buf.flags = packet ? PIPE_BUF_FLAG_PACKET : PIPE_BUF_FLAG_CAN_MERGE;
      ret += n;
    }
    if (wasEmpty || p.pollUsage) p.rdWait.wake(EPOLLIN | EPOLLRDNORM);
    if (ret === 0) throw new WouldBlock(p.wrWait, 'the pipe is full');
    return ret;
  }

  override get ino(): number {
    return this.pipe.ino;
  }

  /** pipe_ioctl(): FIONREAD reports the bytes waiting in the pipe. */
  override ioctl(_ctx: FileContext, req: number, arg: UserArg): number {
    if (req !== FIONREAD) return super.ioctl(_ctx, req, arg);
    setU32(arg.user(4), 0, this.pipe.bytes());
    return 0;
  }

  /** pipe_fcntl(): F_GETPIPE_SZ (`set` false) and F_SETPIPE_SZ. */
  pipeSize(proc: Process, set: boolean, arg: number): number {
    return set ? this.pipe.setSize(proc, arg >>> 0) : this.pipe.maxUsage * PAGE_SIZE;
  }

  /** pipe_poll(). */
  override poll(): number {
    const p = this.pipe;
    p.pollUsage = true;
    if (this.end === 'read') {
      let m = p.head !== p.tail ? EPOLLIN | EPOLLRDNORM : 0;
      if (p.writers === 0) m |= EPOLLHUP;
      return m;
    }
    let m = p.full() ? 0 : EPOLLOUT | EPOLLWRNORM;
    if (p.readers === 0) m |= EPOLLERR;
    return m;
  }

  /** pipe_poll() waits on rd_wait for a read end and on wr_wait for a write end. */
  override get waitQueue(): WaitQueue {
    return this.end === 'read' ? this.pipe.rdWait : this.pipe.wrWait;
  }

  /** pipe_release(). */
  override release(_kernel: Kernel): void {
    const p = this.pipe;
    if (this.end === 'read') p.readers--;
    else p.writers--;
    if (p.readers === 0 !== (p.writers === 0)) {
      p.rdWait.wake(0);
      p.wrWait.wake(0);
    }
    if (--p.files === 0) p.limits.account(p.uid, p.nrAccounted, 0);
  }

  /**
   * create_pipe_files() with alloc_pipe_info(): 16 slots, fewer if pipe-max-size is smaller (without
   * CAP_SYS_RESOURCE), 2 for an unprivileged user over the soft limit; ENFILE over the hard limit.
   */
  static create(kernel: Kernel, proc: Process, flags: number): [PipeFile, PipeFile] {
    const limits = kernel.pipeLimits;
    let slots = PIPE_DEF_BUFFERS;
    if (slots * PAGE_SIZE > limits.maxSize && !proc.capable(CAP_SYS_RESOURCE)) slots = limits.maxSize >>> PAGE_SHIFT;
    let userBufs = limits.account(proc.uid, 0, slots);
    if (limits.tooManySoft(userBufs) && unprivileged(proc)) {
      userBufs = limits.account(proc.uid, slots, PIPE_MIN_DEF_BUFFERS);
      slots = PIPE_MIN_DEF_BUFFERS;
    }
    if (limits.tooManyHard(userBufs) && unprivileged(proc)) {
      limits.account(proc.uid, slots, 0);
      throw kerr('ENFILE', `uid ${proc.uid}'s pipes hold ${userBufs} pages, over /proc/sys/fs/pipe-user-pages-hard (${limits.userPagesHard})`);
    }
    const inode = new PipeInode(kernel.ids.next('pipe-ino'), slots, proc.uid, limits);
    const r = new PipeFile(inode, 'read');
    const w = new PipeFile(inode, 'write');
    r.flags = O_RDONLY | (flags & O_NONBLOCK);
    w.flags = O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT));
    return [r, w];
  }
}

/**
 * fs_pipe_sysctls: /proc/sys/fs/pipe-max-size (proc_douintvec through round_pipe_size(), EINVAL where
 * that gives 0), pipe-user-pages-hard and pipe-user-pages-soft (proc_doulongvec_minmax), all 0644,
 * parsed as kernel/sysctl.c parses one number (fs/sysctl.ts).
 */
export function initPipeSysctls(kernel: Kernel): void {
  const l = kernel.pipeLimits;
  const fs = kernel.vfs.mkdirp('/proc/sys/fs');
  // The model keeps the page limits as numbers: past 2^53 they are as good as unlimited.
  const pages = (v: bigint): number => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));
  fs.set('pipe-max-size', attr('procfs', () => `${l.maxSize}\n`, (_ctx, data) => {
    const { value, consumed } = parseUlongSysctl('pipe-max-size', data, 0n, 0xffffffffn);
    if (value !== null) {
      const v = roundPipeSize(Number(value));
      if (v === 0) throw kerr('EINVAL', `/proc/sys/fs/pipe-max-size: ${value} is larger than 2^31`);
      l.maxSize = v;
    }
    return consumed;
  }, 0o644));
  fs.set('pipe-user-pages-hard', attr('procfs', () => `${l.userPagesHard}\n`, (_ctx, data) => {
    const { value, consumed } = parseUlongSysctl('pipe-user-pages-hard', data, 0n, (1n << 64n) - 1n);
    if (value !== null) l.userPagesHard = pages(value);
    return consumed;
  }, 0o644));
  fs.set('pipe-user-pages-soft', attr('procfs', () => `${l.userPagesSoft}\n`, (_ctx, data) => {
    const { value, consumed } = parseUlongSysctl('pipe-user-pages-soft', data, 0n, (1n << 64n) - 1n);
    if (value !== null) l.userPagesSoft = pages(value);
    return consumed;
  }, 0o644));
}
