// Mirrors <xen/privcmd.h> (Linux uapi include/uapi/xen/privcmd.h): the hypercall ioctl of /dev/xen/privcmd.
// Only what a toolstack needs to issue hypercalls is transcribed.
import { _IOC, _IOC_NONE } from '../../abi/ioc.js';
import { array, struct, u16, u64 } from '../../abi/layout.js';

/** domid_t (xen/interface/xen.h): a 16-bit domain id. */
export const domid_t = u16;

/** The hypercall number and up to five arguments; pointers are the caller's virtual addresses. */
export const privcmd_hypercall = struct('privcmd_hypercall', { op: u64, arg: array(u64, 5) });

/** Issues `op(arg[0..4])`; the ioctl returns the hypercall's return value (negative: -1/errno). */
export const IOCTL_PRIVCMD_HYPERCALL = _IOC(_IOC_NONE, 'P', 0, privcmd_hypercall.size);

/** Restricts the fd to hypercalls that target one domain (arbitrary hypercalls then fail with EPERM). */
export const IOCTL_PRIVCMD_RESTRICT = _IOC(_IOC_NONE, 'P', 6, domid_t.size);
