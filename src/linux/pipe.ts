// pipe(2) (fs/pipe.c): a 64 KiB byte buffer with a read end and a write end. Reads of an empty pipe
// would block (EAGAIN with O_NONBLOCK) until a writer writes or the last writer closes (then 0 = EOF);
// writes with no reader left fail with EPIPE (the model has no signals, so no SIGPIPE).

import { kerr, WouldBlock } from './errors.js';
import { KFile, type FileContext } from './fs/file.js';
import type { Kernel } from './kernel.js';
import { WaitQueue } from './waitqueue.js';
import type { UserArg } from './uaccess.js';
import { setU32 } from '../../abi/bytes.js';
import { FIONREAD } from '../../include-ts/asm-generic/ioctls.js';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM } from '../../include-ts/linux/poll.js';

export const PIPE_BUF = 4096;
const PIPE_SIZE = 65536;

class PipeInode {
  readonly buf = new Uint8Array(PIPE_SIZE);
  head = 0;
  len = 0;
  readers = 0;
  writers = 0;
  readonly wq = new WaitQueue();
  constructor(readonly ino: number) {}
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
    if (end === 'read') pipe.readers++;
    else pipe.writers++;
  }

  override read(_ctx: FileContext, out: Uint8Array): number {
    if (this.end !== 'read') throw kerr('EBADF', 'this is the write end of the pipe');
    const p = this.pipe;
    if (out.length === 0) return 0;
    if (p.len === 0) {
      if (p.writers === 0) return 0;
      throw new WouldBlock(p.wq, 'the pipe is empty');
    }
    const n = Math.min(out.length, p.len);
    for (let i = 0; i < n; i++) out[i] = p.buf[(p.head + i) % PIPE_SIZE]!;
    p.head = (p.head + n) % PIPE_SIZE;
    p.len -= n;
    p.wq.wake(EPOLLOUT | EPOLLWRNORM);
    return n;
  }

  override write(_ctx: FileContext, src: Uint8Array): number {
    if (this.end !== 'write') throw kerr('EBADF', 'this is the read end of the pipe');
    const p = this.pipe;
    if (p.readers === 0) throw kerr('EPIPE', 'the pipe has no reader');
    if (src.length === 0) return 0;
    const free = PIPE_SIZE - p.len;
    // Writes of up to PIPE_BUF bytes are atomic: all or nothing.
    if (free === 0 || (src.length <= PIPE_BUF && free < src.length)) throw new WouldBlock(p.wq, 'the pipe is full');
    const n = Math.min(free, src.length);
    for (let i = 0; i < n; i++) p.buf[(p.head + p.len + i) % PIPE_SIZE] = src[i]!;
    p.len += n;
    p.wq.wake(EPOLLIN | EPOLLRDNORM);
    return n;
  }

  override get ino(): number {
    return this.pipe.ino;
  }

  /** pipe_ioctl(): FIONREAD reports the bytes waiting in the pipe. */
  override ioctl(_ctx: FileContext, req: number, arg: UserArg): number {
    if (req !== FIONREAD) return super.ioctl(_ctx, req, arg);
    setU32(arg.user(4), 0, this.pipe.len);
    return 0;
  }

  override poll(): number {
    const p = this.pipe;
    if (this.end === 'read') {
      let m = p.len > 0 ? EPOLLIN | EPOLLRDNORM : 0;
      if (p.writers === 0) m |= EPOLLHUP;
      return m;
    }
    let m = PIPE_SIZE - p.len >= PIPE_BUF ? EPOLLOUT | EPOLLWRNORM : 0;
    if (p.readers === 0) m |= EPOLLERR;
    return m;
  }

  override get waitQueue(): WaitQueue {
    return this.pipe.wq;
  }

  override release(_kernel: Kernel): void {
    if (this.end === 'read') this.pipe.readers--;
    else this.pipe.writers--;
    this.pipe.wq.wake(EPOLLHUP | EPOLLERR);
  }

  static create(ino: number): [PipeFile, PipeFile] {
    const inode = new PipeInode(ino);
    return [new PipeFile(inode, 'read'), new PipeFile(inode, 'write')];
  }
}
