// PCI subsystem bring-up (drivers/pci/probe.c pci_scan_root_bus + pci_bus_add_devices, then the IOMMU
// driver's bus_iommu_probe() and the host drivers' module init): pci_devs for the machine's functions,
// IOMMU groups, sysfs, and the host drivers binding to what they match.

import type { Kernel } from '../kernel.js';
import { IommuCore } from '../iommu/iommu-group.js';
import { hostDrivers } from './host-drivers.js';
import { PciCore } from './pci-core.js';
import { devicePath, registerDriverSysfs, registerPciSysfs, relative } from './pci-sysfs.js';
import type { PciDriver } from './pci-driver.js';

export function initPci(kernel: Kernel): void {
  const pci = new PciCore(kernel);
  kernel.pci = pci;
  pci.enumerate();
  const iommu = new IommuCore(kernel);
  kernel.iommu = iommu;
  iommu.probeAll(pci.devices);
  kernel.machine.iommu.onFault = (f) => {
    kernel.log.err(`DMAR: [DMA ${f.write ? 'Write' : 'Read'} NO_PASID] Request device [${f.source.slice(5)}] fault addr 0x${f.iova.toString(16)} [fault reason ${f.reason === 'no-context' ? '0x02] Present bit in context entry is clear' : f.reason === 'not-mapped' ? '0x06] PTE Read access is not set' : '0x05] PTE Write access is not set'}`);
  };
  registerPciSysfs(kernel, pci);
  iommu.registerSysfs((d, from) => relative(from, devicePath(d)));
  for (const drv of hostDrivers(kernel)) registerPciDriver(kernel, drv);
}

/** pci_register_driver() with its sysfs directory. */
export function registerPciDriver(kernel: Kernel, drv: PciDriver): void {
  registerDriverSysfs(kernel, kernel.pci, drv);
  kernel.pci.registerDriver(drv);
}
