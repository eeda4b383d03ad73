// VFIO bring-up: the core (/dev/vfio/vfio, device cdevs), the Type1 IOMMU backend, the vfio-pci driver, and the
// strace tables for VFIO fds.

import type { Kernel } from '../kernel.js';
import { registerPciDriver } from '../pci/init.js';
import { type1Driver } from '../iommu/type1.js';
import { VFIO_CONTAINER_IOCTLS, VFIO_DEVICE_IOCTLS, VFIO_GROUP_IOCTLS } from '../trace/decoders/vfio.js';
import { VfioCore } from './vfio-main.js';
import { vfioPciDriver } from './pci/vfio-pci.js';
import { VfioDeviceCdevFile } from './device-cdev.js';

export function initVfio(kernel: Kernel): void {
  kernel.vfio = new VfioCore(kernel);
  kernel.vfio.openCdev = (ctx, dev) => VfioDeviceCdevFile.open(ctx, dev, kernel);
  kernel.vfio.registerIommuDriver(type1Driver(kernel));
  kernel.ioctlTables.set('vfio-container', VFIO_CONTAINER_IOCTLS);
  kernel.ioctlTables.set('vfio-group', VFIO_GROUP_IOCTLS);
  kernel.ioctlTables.set('vfio-device', VFIO_DEVICE_IOCTLS);
  registerPciDriver(kernel, vfioPciDriver(kernel));
}
