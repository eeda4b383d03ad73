// Mirrors Xen's public <xen/xen.h> (xen/include/public/xen.h): the hypercall numbers and reserved domain
// ids the toolstack interface uses. Transcribed from the header (not installed on this machine); the
// values are checked by test/include-ts/xen.test.ts against C declarations written from the header.

/** Hypercall numbers (__HYPERVISOR_*): `op` of struct privcmd_hypercall. */
export const __HYPERVISOR_physdev_op = 33;
export const __HYPERVISOR_domctl = 36;

/** Reserved domain ids (domid_t). */
export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_IDLE = 0x7fff;
