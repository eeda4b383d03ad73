// drivers/vfio/vfio_main.c: the file API KVM's kvm-vfio device calls (through symbol_get, so it works
// only while vfio is loaded): vfio_file_is_valid, vfio_file_enforced_coherent, vfio_file_set_kvm and
// vfio_device_file_set_kvm; drivers/vfio/group.c: vfio_group_from_file, vfio_group_enforced_coherent,
// vfio_group_set_kvm.
//
// A VFIO file is a group fd (/dev/vfio/N) or a device fd: a cdev fd (/dev/vfio/devices/vfioN) or one
// from VFIO_GROUP_GET_DEVICE_FD, which share vfio_device_fops. Containers, iommufd and everything else
// are not. set_kvm only records the VM (group->kvm, df->kvm); a device takes it, with a reference, when
// it is first opened (group path) or bound (cdev path): vfio-main.ts / device-cdev.ts.
// Coherency is device_iommu_capable(IOMMU_CAP_ENFORCE_CACHE_COHERENCY): intel_iommu_capable() answers
// ecap_sc_support(), the Snoop Control bit of the device's DMAR unit (ECAP bit 7); no unit, no capability.

import type { KFile } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import { VfioGroupFile, type VfioGroup } from './group.js';
import { VfioDeviceFile, type VfioDevice, type VfioKvm } from './vfio-main.js';

/** ECAP.SC (VT-d spec 11.4.3): Snoop Control, what lets the IOMMU force snooped DMA. */
const ECAP_SC_BIT = 7n;

/** vfio_group_from_file(). */
function groupFromFile(file: KFile): VfioGroup | null {
  return file instanceof VfioGroupFile ? file.group : null;
}

/** vfio_device_from_file(). */
function deviceFromFile(file: KFile): VfioDevice | null {
  return file instanceof VfioDeviceFile ? file.device : null;
}

/** vfio_file_is_valid(): a group or device file. */
export function vfioFileIsValid(file: KFile): boolean {
  return groupFromFile(file) !== null || deviceFromFile(file) !== null;
}

/** device_iommu_capable(dev, IOMMU_CAP_ENFORCE_CACHE_COHERENCY) for the model's VT-d. */
function deviceEnforcesCoherency(kernel: Kernel, dev: VfioDevice): boolean {
  const unit = kernel.irq.platform.vtd.unitFor(dev.pdev.hw);
  return unit !== undefined && ((unit.ecap >> ECAP_SC_BIT) & 1n) === 1n;
}

/** vfio_file_enforced_coherent(): every device of a group must be; any other file counts as coherent. */
export function vfioFileEnforcedCoherent(kernel: Kernel, file: KFile): boolean {
  const group = groupFromFile(file);
  if (group) return group.devices.every((d) => deviceEnforcesCoherency(kernel, d));
  const dev = deviceFromFile(file);
  if (dev) return deviceEnforcesCoherency(kernel, dev);
  return true;
}

/** vfio_file_set_kvm(): the group (vfio_group_set_kvm) or device file (df->kvm) learns its VM, or forgets it (null). */
export function vfioFileSetKvm(file: KFile, kvm: VfioKvm | null): void {
  const group = groupFromFile(file);
  if (group) group.kvm = kvm;
  if (file instanceof VfioDeviceFile) file.kvm = kvm;
}
