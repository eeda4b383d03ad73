// drivers/vfio/pci/vfio_pci.c: the vfio-pci driver. It matches nothing by itself (its id table entry is
// "override only": it binds devices whose driver_override names it, or ids added with new_id), manages
// DMA ownership itself (driver_managed_dma), refuses anything but type 0 headers (bridges: EINVAL in
// vfio_pci_core_register_device), and registers a VFIO device, which makes /dev/vfio/<group> appear.
// Unbinding a device whose fd is open waits for userspace (vfio_unregister_group_dev).

import { kerr } from '../../errors.js';
import type { Kernel } from '../../kernel.js';
import { PCI_ANY_ID, type PciDriver } from '../../pci/pci-driver.js';
import type { PciDev } from '../../pci/pci-dev.js';
import { VfioDevice } from '../vfio-main.js';
import { VfioPciCoreDevice } from './vfio-pci-core.js';
import { VfioPciIntrsImpl } from './vfio-pci-intrs.js';
import type { FileContext } from '../../fs/file.js';

export function vfioPciDriver(kernel: Kernel): PciDriver {
  kernel.params.declare('vfio_pci', 'nointxmask', 'bool', false, true);
  kernel.params.declare('vfio_pci', 'disable_vga', 'bool', false, false);
  kernel.params.declare('vfio_pci', 'disable_idle_d3', 'bool', false, true);
  return {
    name: 'vfio-pci',
    module: 'vfio_pci',
    driverManagedDma: true,
    idTable: [{ vendor: PCI_ANY_ID, device: PCI_ANY_ID, overrideOnly: true }],
    dynids: [],
    probe(dev: PciDev) {
      if (!dev.isNormal) throw kerr('EINVAL', `vfio-pci does not bind bridges: ${dev.name} has a type ${dev.hw.headerType} header`);
      const core = new VfioPciCoreDevice(dev, kernel);
      core.intrs = new VfioPciIntrsImpl(core);
      const vdev = new VfioDevice(dev.name, core, dev);
      core.vdev = vdev;
      kernel.vfio.registerDevice(vdev);
      dev.driverData = core;
    },
    remove(dev: PciDev, ctx: FileContext | null) {
      const core = dev.driverData as VfioPciCoreDevice;
      kernel.vfio.unregisterDevice(core.vdev, ctx);
    },
  };
}
