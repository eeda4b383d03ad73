// Mirrors Xen's public <xen/errno.h> (xen/include/public/errno.h) for the errors the passthrough
// hypercalls return. Xen's values equal Linux's for these, which is why a hypercall's -E comes back from
// the privcmd ioctl as -1 with the same errno (test/include-ts/xen.test.ts checks the equality).
export const XEN_EPERM = 1;
export const XEN_ENOENT = 2;
export const XEN_ESRCH = 3;
export const XEN_ENOMEM = 12;
export const XEN_EACCES = 13;
export const XEN_EFAULT = 14;
export const XEN_EBUSY = 16;
export const XEN_EEXIST = 17;
export const XEN_ENODEV = 19;
export const XEN_EINVAL = 22;
export const XEN_ENOSPC = 28;
export const XEN_ENOSYS = 38;
export const XEN_EILSEQ = 84;
export const XEN_EOPNOTSUPP = 95;
