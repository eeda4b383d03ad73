// The C-ABI machinery, independent of VFIO and KVM: ioctl encoding, struct layout, errno, capability chains.
export * from './ioc.js';
export * from './layout.js';
export * from './errno.js';
export * from './capchain.js';
export * from './bytes.js';
