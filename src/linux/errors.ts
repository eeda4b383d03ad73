// Errors. Kernel code throws KernelError (an errno plus the reason in the kernel's terms, like a
// `return -EINVAL` with a pr_debug explaining it); the syscall layer turns it into the public
// SyscallError that names the call. Throwing happens only on error paths, never on hot paths.

import { errnoInfo, errnoOf, type ErrnoCode } from '../../abi/errno.js';

export class KernelError extends Error {
  constructor(
    readonly errno: number,
    readonly reason: string,
  ) {
    super(`${errnoInfo(errno).code}: ${reason}`);
    this.name = 'KernelError';
  }

  get code(): string {
    return errnoInfo(this.errno).code;
  }
}

/** `throw kerr('EINVAL', 'argsz 4 is smaller than minsz 8')` */
export function kerr(code: ErrnoCode, reason: string): KernelError {
  return new KernelError(errnoOf(code), reason);
}

export interface SyscallErrorInit {
  readonly errno: number;
  readonly syscall: string;
  /** How the call is named in the message: an ioctl's name, or `open("/dev/vfio/7")`. */
  readonly call: string;
  readonly reason: string;
  readonly fd?: number;
  readonly path?: string;
}

/**
 * A failed system call. `errno` is the positive value C code sees in `errno` (Node's own SystemError
 * stores it negated; `code` and `syscall` follow Node's names).
 */
export class SyscallError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  readonly reason: string;
  readonly fd: number | undefined;
  readonly path: string | undefined;

  constructor(init: SyscallErrorInit) {
    const info = errnoInfo(init.errno);
    super(`${init.call}: ${info.code}: ${init.reason}`);
    this.name = 'SyscallError';
    this.errno = init.errno;
    this.code = info.code;
    this.syscall = init.syscall;
    this.reason = init.reason;
    this.fd = init.fd;
    this.path = init.path;
  }

  /** strerror() text, e.g. "Invalid argument". */
  get strerror(): string {
    return errnoInfo(this.errno).message;
  }
}

/**
 * Thrown by a file operation that cannot proceed now (an empty eventfd on read, a full pipe on write).
 * The syscall layer turns it into EAGAIN on an O_NONBLOCK file, or waits on `wq` for a blocking one.
 */
export class WouldBlock extends Error {
  constructor(
    readonly wq: import('./waitqueue.js').WaitQueue,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'WouldBlock';
  }
}
