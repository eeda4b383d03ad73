// The host's own PCI drivers, by name, as far as device assignment cares: what they match, and whether
// they use the kernel DMA API (a bound DMA-API driver makes its IOMMU group non-viable for VFIO) or
// manage DMA ownership themselves (driver_managed_dma: drivers/pci/pci-stub.c, drivers/pci/pcie/portdrv.c,
// drivers/vfio/pci/vfio_pci.c). Normal drivers enable the device and bus mastering when they bind.

import { kerr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { PCI_ANY_ID, type PciDeviceId, type PciDriver } from './pci-driver.js';
import type { PciDev } from './pci-dev.js';
import { PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM } from '../../../include-ts/linux/pci_regs.js';

/** A driver that uses the kernel DMA API for `ids` (e1000e, nouveau, snd_hda_intel...). */
export function dmaApiDriver(kernel: Kernel, name: string, module: string, ids: PciDeviceId[]): PciDriver {
  return {
    name,
    module,
    driverManagedDma: false,
    idTable: ids,
    dynids: [],
    probe(dev: PciDev) {
      dev.enable();
      dev.setMaster(true);
      kernel.log.info(`${name} ${dev.name}: enabling device`);
    },
    remove(dev: PciDev) {
      dev.setMaster(false);
      dev.disable();
    },
  };
}

/** drivers/pci/pcie/portdrv.c: binds PCIe root ports and switch ports; bridges of other kinds get -ENODEV. */
export function pcieportDriver(): PciDriver {
  return {
    name: 'pcieport',
    module: 'pcieportdrv',
    driverManagedDma: true,
    idTable: [
      { vendor: PCI_ANY_ID, device: PCI_ANY_ID, classCode: 0x060400, classMask: 0xffffff },
      { vendor: PCI_ANY_ID, device: PCI_ANY_ID, classCode: 0x060401, classMask: 0xffffff },
    ],
    dynids: [],
    probe(dev: PciDev) {
      const t = dev.pcieType;
      if (!dev.isPcie || !(t === PCI_EXP_TYPE_ROOT_PORT || t === PCI_EXP_TYPE_RC_EC || t === PCI_EXP_TYPE_UPSTREAM || t === PCI_EXP_TYPE_DOWNSTREAM)) {
        throw kerr('ENODEV', `${dev.name} is not a PCI Express port`);
      }
      dev.enable();
      dev.setMaster(true);
    },
    remove(dev: PciDev) {
      dev.disable();
    },
  };
}

/** drivers/pci/pci-stub.c: claims devices (by new_id or driver_override) so nothing else binds them. */
export function pciStubDriver(kernel: Kernel): PciDriver {
  return {
    name: 'pci-stub',
    module: 'pci_stub',
    driverManagedDma: true,
    idTable: [],
    dynids: [],
    probe(dev: PciDev) {
      kernel.log.info(`pci-stub ${dev.name}: claimed by stub`);
    },
    remove() {},
  };
}

/** The default host's drivers (registered at boot in this order; the first that matches binds). */
export function hostDrivers(kernel: Kernel): PciDriver[] {
  const any = PCI_ANY_ID;
  return [
    pcieportDriver(),
    dmaApiDriver(kernel, 'nouveau', 'nouveau', [{ vendor: 0x10de, device: any, classCode: 0x030000, classMask: 0xff0000 }]),
    dmaApiDriver(kernel, 'snd_hda_intel', 'snd_hda_intel', [{ vendor: any, device: any, classCode: 0x040300, classMask: 0xffff00 }]),
    dmaApiDriver(kernel, 'e1000e', 'e1000e', [{ vendor: 0x8086, device: 0x10d3 }, { vendor: 0x8086, device: 0x15bc }]),
    dmaApiDriver(kernel, 'igb', 'igb', [{ vendor: 0x8086, device: 0x1521 }]),
    dmaApiDriver(kernel, 'r8169', 'r8169', [{ vendor: 0x10ec, device: 0x8169 }]),
    dmaApiDriver(kernel, 'lpc_ich', 'lpc_ich', [{ vendor: 0x8086, device: 0xa306 }]),
    pciStubDriver(kernel),
  ];
}
