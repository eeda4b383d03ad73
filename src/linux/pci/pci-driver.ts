// struct pci_driver and device matching (drivers/pci/pci-driver.c: pci_match_device, pci_match_one_device,
// new_id/remove_id dynamic ids). A driver matches a device through its dynamic ids first, then its static
// id table; an id may be "override only" (vfio-pci's PCI_DRIVER_OVERRIDE_DEVICE_VFIO entry), matching only
// when driver_override names the driver. With driver_override set, only the named driver may bind, and
// it always matches (pci_device_id_any).

import type { FileContext } from '../fs/file.js';
import type { PciDev } from './pci-dev.js';

export const PCI_ANY_ID = 0xffffffff;

export interface PciDeviceId {
  readonly vendor: number;
  readonly device: number;
  readonly subvendor?: number;
  readonly subdevice?: number;
  readonly classCode?: number;
  readonly classMask?: number;
  /** Matches only when driver_override names this driver. */
  readonly overrideOnly?: boolean;
}

export interface PciDriver {
  readonly name: string;
  /** The kernel module the driver lives in (for /sys/bus/pci/drivers/<name>/module). */
  readonly module: string;
  /** The driver does its own DMA ownership (vfio-pci, pci-stub, pcieport): binding it does not claim the group. */
  readonly driverManagedDma: boolean;
  readonly idTable: readonly PciDeviceId[];
  readonly dynids: PciDeviceId[];
  /** Throws a KernelError to refuse the device. */
  probe(dev: PciDev, ctx: FileContext | null): void;
  /**
   * Unbinds. May throw WouldBlock while the device is in use by userspace (vfio-pci), in which case the
   * unbind is retried when the wait queue is woken.
   */
  remove(dev: PciDev, ctx: FileContext | null): void;
}

/** pci_match_one_device() */
export function matchOne(id: PciDeviceId, dev: PciDev): boolean {
  const any = (want: number | undefined, have: number) => want === undefined || want === PCI_ANY_ID || want === have;
  return (
    any(id.vendor, dev.vendor) &&
    any(id.device, dev.device) &&
    any(id.subvendor, dev.hw.id.subVendor ?? 0) &&
    any(id.subdevice, dev.hw.id.subDevice ?? 0) &&
    ((dev.classCode ^ (id.classCode ?? 0)) & (id.classMask ?? 0)) === 0
  );
}

const ID_ANY: PciDeviceId = { vendor: PCI_ANY_ID, device: PCI_ANY_ID };

/** pci_match_device(): the id `drv` would bind `dev` with, or null. */
export function pciMatchDevice(drv: PciDriver, dev: PciDev): PciDeviceId | null {
  if (dev.driverOverride !== null && dev.driverOverride !== drv.name) return null;
  for (const id of drv.dynids) if (matchOne(id, dev)) return id;
  for (const id of drv.idTable) {
    if (!matchOne(id, dev)) continue;
    if (id.overrideOnly) {
      if (dev.driverOverride !== null) return id;
    } else return id;
  }
  return dev.driverOverride !== null ? ID_ANY : null;
}
