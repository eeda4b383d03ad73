// eventfd (fs/eventfd.c): a 64-bit counter with a wait queue — the one wakeup mechanism the kernel
// parts hook into (KVM irqfds and resamplefds, VFIO trigger and unmask eventfds).
//
// Rules (fs/eventfd.c): read/write of fewer than 8 bytes → EINVAL (larger buffers are accepted and
// use/fill the first 8); a read of a zero counter would block (EAGAIN with O_NONBLOCK); a read returns
// the counter and zeroes it, or returns 1 and decrements with EFD_SEMAPHORE; a write of
// 0xffffffffffffffff → EINVAL; a write that would take the counter to 0xffffffffffffffff or beyond
// would block (EAGAIN with O_NONBLOCK); kernel-side eventfd_signal() saturates at ULLONG_MAX (POLLERR).
// The counter is kept as two 32-bit halves so signalling never allocates.
// Lifetime (struct eventfd_ctx's kref): the file holds one reference, and every kernel user that keeps
// the context (KVM irqfds, resamplefds and ioeventfds; VFIO virqfds, triggers and ioeventfds) takes its
// own with get() and drops it with put() (eventfd_ctx_put). The id (ida_alloc() on the global
// eventfd_ida: the lowest free, from 0) is freed with the context (eventfd_free_ctx()), so it outlives
// the fd while an irqfd still holds the context and is reused once the last reference is gone.

import { kerr, WouldBlock } from './errors.js';
import { KFile, type FileContext } from './fs/file.js';
import { noopLlseek } from './fs/llseek.js';
import type { Kernel } from './kernel.js';
import { WaitQueue } from './waitqueue.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from '../../include-ts/linux/eventfd.js';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT } from '../../include-ts/linux/poll.js';
import type { TraceBus } from '../sim/trace.js';
import type { Scheduler } from '../sim/scheduler.js';
import type { Ida } from './ids.js';

const U32 = 0x1_0000_0000;
// Module-local copies: imported bindings are getter calls under tsx/vite, too slow for this path.
const POLL_IN = EPOLLIN;
const POLL_OUT = EPOLLOUT;
export const EFD_FLAGS_SET = EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK;

/** The kernel's eventfd context (`struct eventfd_ctx`), shared by the file and kernel users. */
export class EventFdCtx {
  /** Counter as two unsigned 32-bit halves. */
  lo: number;
  hi = 0;
  readonly wqh = new WaitQueue();
  /** Total signals ever added (kernel and user), for inspection; never read on hot paths. */
  signals = 0;
  /** The kref: the file's reference plus one per kernel user keeping the context. */
  refs = 1;
  /** The eventfd's id (eventfd-id in fdinfo, eventfd#<id> in traces): ida_alloc() on the kernel's eventfd_ida. */
  readonly id: number;

  constructor(
    private readonly ida: Ida,
    initval: number,
    readonly semaphore: boolean,
    private readonly trace: TraceBus,
    private readonly sched: Scheduler,
  ) {
    this.id = ida.alloc();
    this.lo = initval >>> 0;
  }

  /** eventfd_ctx_get() (eventfd_ctx_fdget()'s reference, taken by a kernel user that keeps the context). */
  get(): this {
    this.refs++;
    return this;
  }

  /** eventfd_ctx_put(): the last reference frees the context and its id (eventfd_free_ctx()). */
  put(): void {
    if (this.refs <= 0) throw new Error(`eventfd#${this.id}: eventfd_ctx_put() without a reference`);
    if (--this.refs === 0) this.ida.free(this.id);
  }

  get isZero(): boolean {
    return this.lo === 0 && this.hi === 0;
  }

  /** The counter as a bigint (for inspection and traces). */
  get count(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** The counter as a number (exact below 2^53). */
  get countNumber(): number {
    return this.hi * U32 + this.lo;
  }

  pollMask(): number {
    let m = 0;
    if (!this.isZero) m |= EPOLLIN;
    if (this.hi === 0xffff_ffff && this.lo === 0xffff_ffff) m |= EPOLLERR;
    // EPOLLOUT while ULLONG_MAX - 1 > count.
    if (!(this.hi === 0xffff_ffff && this.lo >= 0xffff_fffe)) m |= EPOLLOUT;
    return m;
  }

  /** eventfd_signal(): adds 1 (saturating at ULLONG_MAX) and wakes waiters with EPOLLIN. */
  signal(): void {
    if (this.lo !== 0xffff_ffff) this.lo++;
    else if (this.hi !== 0xffff_ffff) {
      this.lo = 0;
      this.hi++;
    }
    this.signals++;
    if (this.trace.active) this.traceSignal();
    this.wqh.wake(POLL_IN);
  }

  private traceSignal(): void {
    this.trace.emit({ type: 'irq', t: this.sched.now, hop: 'eventfd-signal', at: `eventfd#${this.id}`, detail: `count=${this.count}` });
  }

  /** eventfd_ctx_do_read(): consumes the counter (or 1 with EFD_SEMAPHORE); returns what was taken (as a number). */
  doRead(): number {
    if (this.semaphore) {
      if (this.isZero) return 0;
      if (this.lo === 0) {
        this.lo = 0xffff_ffff;
        this.hi--;
      } else this.lo--;
      return 1;
    }
    const n = this.countNumber;
    this.lo = 0;
    this.hi = 0;
    return n;
  }

  /** Adds a user-written value (lo/hi halves); returns false if it would overflow (the write must wait). */
  tryAdd(ulo: number, uhi: number): boolean {
    let slo = this.lo + ulo;
    let carry = 0;
    if (slo >= U32) {
      slo -= U32;
      carry = 1;
    }
    const shi = this.hi + uhi + carry;
    if (shi >= U32 || (shi === 0xffff_ffff && slo === 0xffff_ffff)) return false;
    this.lo = slo;
    this.hi = shi;
    return true;
  }
}

// Error paths out of line: read() and write() stay small enough to inline into the syscall path.
function shortBuffer(op: string, buf: Uint8Array): Error {
  return kerr('EINVAL', `eventfd ${op} need an 8-byte buffer, got ${buf.length} bytes`);
}

function allOnes(): Error {
  return kerr('EINVAL', 'writing 0xffffffffffffffff to an eventfd is not allowed');
}

export class EventFdFile extends KFile {
  readonly kind = 'eventfd' as const;
  readonly path = 'anon_inode:[eventfd]';
  /** eventfd_fops.poll = eventfd_poll. */
  override readonly canPoll = true;
  /** ->llseek = noop_llseek. */
  override llseek(): number {
    return noopLlseek(this);
  }

  constructor(readonly ctx: EventFdCtx) {
    super();
  }

  override read(_ctx: FileContext, buf: Uint8Array): number {
    if (buf.length < 8) throw shortBuffer('reads', buf);
    const c = this.ctx;
    if (c.lo === 0 && c.hi === 0) throw new WouldBlock(c.wqh, 'the eventfd counter is 0');
    let lo: number;
    let hi: number;
    if (c.semaphore) {
      c.doRead();
      lo = 1;
      hi = 0;
    } else {
      lo = c.lo;
      hi = c.hi;
      c.lo = 0;
      c.hi = 0;
    }
    buf[0] = lo & 0xff;
    buf[1] = (lo >>> 8) & 0xff;
    buf[2] = (lo >>> 16) & 0xff;
    buf[3] = (lo >>> 24) & 0xff;
    buf[4] = hi & 0xff;
    buf[5] = (hi >>> 8) & 0xff;
    buf[6] = (hi >>> 16) & 0xff;
    buf[7] = (hi >>> 24) & 0xff;
    c.wqh.wake(POLL_OUT);
    return 8;
  }

  override write(_ctx: FileContext, buf: Uint8Array): number {
    if (buf.length < 8) throw shortBuffer('writes', buf);
    const lo = (buf[0]! | (buf[1]! << 8) | (buf[2]! << 16) | (buf[3]! << 24)) >>> 0;
    const hi = (buf[4]! | (buf[5]! << 8) | (buf[6]! << 16) | (buf[7]! << 24)) >>> 0;
    if (lo === 0xffff_ffff && hi === 0xffff_ffff) throw allOnes();
    const c = this.ctx;
    if (!c.tryAdd(lo, hi)) throw new WouldBlock(c.wqh, 'the eventfd counter would overflow');
    if (lo !== 0 || hi !== 0) c.signals++;
    c.wqh.wake(POLL_IN);
    return 8;
  }

  override poll(): number {
    return this.ctx.pollMask();
  }

  override get waitQueue(): WaitQueue {
    return this.ctx.wqh;
  }

  /** eventfd_show_fdinfo(): the counter (%16llx), the ida id and whether EFD_SEMAPHORE is set. */
  override showFdinfo(): string {
    const c = this.ctx;
    return `eventfd-count: ${c.count.toString(16).padStart(16)}\neventfd-id: ${c.id}\neventfd-semaphore: ${c.semaphore ? 1 : 0}\n`;
  }

  /** eventfd_release(): EPOLLHUP to the waiters (irqfds detach), then the file's reference goes. */
  override release(_kernel: Kernel): void {
    this.ctx.wqh.wake(EPOLLHUP);
    this.ctx.put();
  }
}

/**
 * eventfd_ctx_fdget()'s look-up: EBADF for a closed fd, EINVAL for a file that is not an eventfd. It takes
 * no reference: a caller that keeps the context calls get() once nothing can fail any more (the model
 * validates before it mutates, so the kernel's error-path puts have nothing to undo).
 */
export function eventfdCtxFdget(ctx: FileContext, fd: number, what = 'fd'): EventFdCtx {
  const file = ctx.proc.fileOrNull(fd);
  if (!file) throw kerr('EBADF', `${what} ${fd} is not an open file descriptor`);
  if (!(file instanceof EventFdFile)) throw kerr('EINVAL', `${what} ${fd} is not an eventfd (it is ${file.path})`);
  return file.ctx;
}
