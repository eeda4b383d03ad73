// vfio-kvm-shim: the public surface (names fixed by docs/architecture.md, "The public surface").
export { Host, type HostOptions } from './host.js';
export { SyscallError } from './linux/errors.js';
export type { Process, PollFd, ProcessOptions } from './linux/process.js';
export type { Mapping } from './linux/mm/address-space.js';
export { MemoryFault } from './linux/mm/backing.js';
export type { IoctlArgument } from './linux/uaccess.js';
export type { Control } from './control.js';
export type { TraceEvent, SyscallEvent, IrqEvent, LogEvent, IrqHop } from './sim/trace.js';
export { XenHost, type XenHostOptions } from './xen/host.js';
