// vfio-kvm-shim: the public surface (names fixed by docs/architecture.md, "The public surface").
export { Host, type HostOptions } from './host.js';
export { SyscallError } from './linux/errors.js';
export type { Process, PollFd, ProcessOptions } from './linux/process.js';
export type { Mapping } from './linux/mm/address-space.js';
export type { Stat } from './linux/fs/stat.js';
export { MemoryFault } from './linux/mm/backing.js';
export type { IoctlArgument } from './linux/uaccess.js';
export type { Control } from './control.js';
export type { TraceEvent, SyscallEvent, IrqEvent, LogEvent, IrqHop } from './sim/trace.js';
// Building other machines for Host.create({ preset }) / Host.create({ machine }).
export { Machine, type MachineOptions, type Preset } from './hw/machine.js';
export { defaultPreset, emptyPreset, type DefaultPresetOptions } from './hw/presets/default.js';
export { HostBridge, PciBridge, type BridgeKind, type BridgeOptions } from './hw/pci/bridge.js';
export { EduDevice } from './hw/devices/edu.js';
export { MsixNic, type MsixNicOptions } from './hw/devices/msix-nic.js';
export { LegacyIntxDevice } from './hw/devices/legacy-intx.js';
export { Gm107Gpu, Gm107Audio } from './hw/devices/gm107.js';
export { SimpleDevice, type SimpleDeviceOptions } from './hw/devices/simple.js';
export type { PciFunction, PciIdentity, BarDef } from './hw/pci/function.js';
export { XenHost, type XenHostOptions } from './xen/host.js';
