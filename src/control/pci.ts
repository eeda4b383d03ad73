// control.pci: the mock-only handle on the PCI hardware and the kernel's PCI/IOMMU state, for tests and
// teaching scripts. Nothing here is reachable through an fd. Device actions (an edu register poke, a NIC
// doorbell, raising INTx) run the scheduling point afterwards, as a hardware event does.

import type { Kernel } from '../linux/kernel.js';
import type { PciFunction } from '../hw/pci/function.js';
import { EduDevice } from '../hw/devices/edu.js';
import { MsixNic } from '../hw/devices/msix-nic.js';
import type { DmaFault } from '../hw/iommu/iommu.js';
import type { IntxLine } from '../hw/pci/intx.js';
import type { PciDev } from '../linux/pci/pci-dev.js';
import type { IommuGroup } from '../linux/iommu/iommu-group.js';
import { VfioPciCoreDevice } from '../linux/vfio/pci/vfio-pci-core.js';

/** A BDF as the kernel names devices: "01:00.0" gets segment 0000. */
export function normBdf(bdf: string): string {
  return bdf.length === 7 ? `0000:${bdf}` : bdf;
}

export class PciControl {
  constructor(private readonly kernel: Kernel) {}

  /**
   * A udev rule (OWNER=, GROUP=, MODE=) for /dev/vfio/<group>, so an unprivileged process can open the
   * group: udev's chown and chmod as root, now if the node exists and whenever it appears again. (A
   * one-off chown, as libvirt does for its qemu user, is `chown()` by a root process.)
   */
  vfioGroupNode(group: number, uid: number, gid = uid, mode = 0o660): void {
    this.kernel.vfio.setNodeOwner(group, uid, gid, mode);
  }

  /** The hardware function at `bdf` ("0000:01:00.0" or "01:00.0"). */
  device(bdf: string): PciFunction {
    const f = this.kernel.machine.pci.find(normBdf(bdf));
    if (!f) throw new Error(`no PCI function at ${bdf}`);
    return f;
  }

  /** Every function, in bus order. */
  devices(): PciFunction[] {
    return this.kernel.machine.pci.functions();
  }

  /** The kernel's pci_dev for `bdf` (driver, override, group). */
  pciDev(bdf: string): PciDev {
    const d = this.kernel.pci.get(normBdf(bdf));
    if (!d) throw new Error(`no pci_dev ${bdf}`);
    return d;
  }

  /** The name of the driver bound to `bdf`, or null. */
  driver(bdf: string): string | null {
    return this.pciDev(bdf).driver?.name ?? null;
  }

  group(id: number): IommuGroup {
    const g = this.kernel.iommu.group(id);
    if (!g) throw new Error(`no IOMMU group ${id}`);
    return g;
  }

  /** The edu device at `bdf` (default 00:03.0). */
  edu(bdf = '00:03.0'): EduDevice {
    const f = this.device(bdf);
    if (!(f instanceof EduDevice)) throw new Error(`${bdf} is not an edu device`);
    return f;
  }

  /** The MSI-X NIC at `bdf` (default 06:00.0). */
  nic(bdf = '06:00.0'): MsixNic {
    const f = this.device(bdf);
    if (!(f instanceof MsixNic)) throw new Error(`${bdf} is not the MSI-X NIC`);
    return f;
  }

  /** Rings the NIC's doorbell for `vector` (the NIC raises that MSI-X vector). */
  ring(vector: number, bdf = '06:00.0'): void {
    this.nic(bdf).ring(vector);
    this.kernel.point();
  }

  /** A device-side MMIO access to a BAR (bypasses every kernel check, as a bus master would). */
  mmioWrite(bdf: string, bar: number, off: number, size: 1 | 2 | 4, value: number): void {
    this.device(bdf).barWrite(bar, off, size, value);
    this.kernel.point();
  }

  mmioRead(bdf: string, bar: number, off: number, size: 1 | 2 | 4): number {
    return this.device(bdf).barRead(bar, off, size);
  }

  /** Drives the function's interrupt request (INTx or its MSI, as the device model would). */
  setIrqLevel(bdf: string, level: boolean): void {
    this.device(bdf).setIrqLevel(level);
    this.kernel.point();
  }

  /** The hardware configuration space (not the VFIO view). */
  configRead(bdf: string, off: number, size: 1 | 2 | 4): number {
    return this.device(bdf).configRead(off, size);
  }

  /** The platform interrupt line `bdf`'s INTx pin is routed to. */
  intxLine(bdf: string): IntxLine | null {
    return this.device(bdf).intx?.line ?? null;
  }

  /** Messages (MSI/MSI-X) the platform received since boot. */
  get messages(): number {
    return this.kernel.machine.pci.msiRouter.count;
  }

  /** IOMMU DMA faults recorded (the most recent 256). */
  dmaFaults(): readonly DmaFault[] {
    return this.kernel.machine.iommu.faults;
  }

  /** vfio-pci's state for a bound device (virtual config, reset_works, ioeventfds), or null. */
  vfio(bdf: string): VfioPciCoreDevice | null {
    const d = this.pciDev(bdf).driverData;
    return d instanceof VfioPciCoreDevice ? d : null;
  }
}
