// A hypercall's negative return value with the reason in Xen's terms (Xen returns only the errno; the
// reason is what a debug build's dprintk/printk would say). The privcmd driver turns it into the ioctl's
// -1/errno. Xen's errno values equal Linux's for every code used here (include-ts/xen/errno.ts).
import { errnoOf, type ErrnoCode } from '../../abi/errno.js';

export class XenError extends Error {
  constructor(
    readonly errno: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'XenError';
  }
}

export function xerr(code: ErrnoCode, reason: string): XenError {
  return new XenError(errnoOf(code), reason);
}
