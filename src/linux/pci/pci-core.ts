// The PCI core and the driver core's binding logic for the PCI bus:
// - drivers/pci/probe.c: enumeration of the hardware hierarchy into pci_devs, parents first, in
//   pci_bus_add_devices() order (all functions of a bus, then each child bus);
// - drivers/pci/pci.c: pci_enable_acs() at enumeration; function and bus resets with state saved and
//   restored around them (pci_reset_function, pci_probe_reset_bus, pci_reset_bus);
// - drivers/base/dd.c + bus.c: device_attach (drivers_probe, autoprobe), device_driver_attach (sysfs
//   bind), device_release_driver (sysfs unbind); really_probe() runs pci_dma_configure(), which for a
//   driver without driver_managed_dma calls iommu_device_use_default_domain() (EBUSY while userspace
//   owns the group), then the driver's probe.

import { KernelError, kerr } from '../errors.js';
import type { FileContext } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import type { PciFunction } from '../../hw/pci/function.js';
import { PciBridge } from '../../hw/pci/bridge.js';
import {
  PCI_BRIDGE_CONTROL, PCI_BRIDGE_CTL_BUS_RESET,
  PCI_CAP_ID_EXP, PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR, PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET,
} from '../../../include-ts/linux/pci_regs.js';
import { PciDev } from './pci-dev.js';
import { matchOne, pciMatchDevice, type PciDriver } from './pci-driver.js';

export class PciCore {
  /** Every pci_dev in pci_bus_add_devices() order. */
  readonly devices: PciDev[] = [];
  private readonly byHw = new Map<PciFunction, PciDev>();
  private readonly byName = new Map<string, PciDev>();
  readonly drivers = new Map<string, PciDriver>();
  /** /sys/bus/pci/drivers_autoprobe */
  autoprobe = true;

  constructor(private readonly kernel: Kernel) {}

  /** Builds pci_devs from the machine's hierarchy and enables ACS where implemented. */
  enumerate(): void {
    const topo = this.kernel.machine.pci;
    for (const f of topo.functions()) {
      const parentHw = f.bus?.self ?? null;
      const dev = new PciDev(f, parentHw ? this.byHw.get(parentHw)! : null);
      this.devices.push(dev);
      this.byHw.set(f, dev);
      this.byName.set(dev.name, dev);
      dev.enableAcs();
    }
  }

  get(name: string): PciDev | undefined {
    return this.byName.get(name);
  }

  of(f: PciFunction): PciDev | undefined {
    return this.byHw.get(f);
  }

  /** The devices on `dev`'s bus and every bus below it (pci_walk_bus of dev->bus). */
  busDevices(dev: PciDev): PciDev[] {
    const bus = dev.hw.bus!;
    const out: PciDev[] = [];
    for (const f of bus.functions) {
      out.push(this.byHw.get(f)!);
      if (f instanceof PciBridge) for (const g of f.secondary.allBelow()) out.push(this.byHw.get(g)!);
    }
    return out;
  }

  // ---- driver registration and binding -----------------------------------------------------------

  /** pci_register_driver(): registers and attaches to every unbound device it matches (if autoprobe). */
  registerDriver(drv: PciDriver): void {
    this.drivers.set(drv.name, drv);
    this.driverAttach(drv);
  }

  /** driver_attach(): tries `drv` on every unbound device; probe failures are logged, not returned. */
  driverAttach(drv: PciDriver): void {
    for (const dev of this.devices) {
      if (dev.driver || !pciMatchDevice(drv, dev)) continue;
      try {
        this.probe(drv, dev, null);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
      }
    }
  }

  /**
   * really_probe() for one driver: EBUSY if already bound; the DMA-API claim for normal drivers; then
   * the driver's probe. On failure nothing stays changed.
   */
  probe(drv: PciDriver, dev: PciDev, ctx: FileContext | null): void {
    if (dev.driver) throw kerr('EBUSY', `${dev.name} is already bound to ${dev.driver.name}`);
    const group = dev.group;
    if (!drv.driverManagedDma && group) group.useDefaultDomain(dev, drv.name);
    try {
      drv.probe(dev, ctx);
    } catch (e) {
      if (!drv.driverManagedDma && group) group.unuseDefaultDomain();
      if (e instanceof KernelError) {
        if (e.errno !== 19 && e.errno !== 6) this.kernel.log.printk(3, `${drv.name} ${dev.name}: probe with driver ${drv.name} failed with error -${e.errno}`);
      }
      throw e;
    }
    dev.driver = drv;
  }

  /** device_attach(): the first matching driver that probes successfully binds; false if none did. */
  deviceAttach(dev: PciDev): boolean {
    if (dev.driver) return true;
    for (const drv of this.drivers.values()) {
      if (!pciMatchDevice(drv, dev)) continue;
      try {
        this.probe(drv, dev, null);
        return true;
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
      }
    }
    return false;
  }

  /**
   * device_release_driver(): the driver's remove, then the DMA-API claim is dropped. A remove that must
   * wait for userspace throws WouldBlock and leaves the binding in place.
   */
  release(dev: PciDev, ctx: FileContext | null): void {
    const drv = dev.driver;
    if (!drv) return;
    drv.remove(dev, ctx);
    dev.driver = null;
    dev.driverData = null;
    if (!drv.driverManagedDma && dev.group) dev.group.unuseDefaultDomain();
  }

  /** The modules whose id tables match `dev` (lspci's "Kernel modules:"), override-only entries aside. */
  modulesFor(dev: PciDev | undefined): string[] {
    if (!dev) return [];
    const out: string[] = [];
    for (const d of this.drivers.values()) {
      if (d.idTable.some((id) => !id.overrideOnly && matchOne(id, dev)) && !out.includes(d.module)) out.push(d.module);
    }
    return out;
  }

  // ---- resets -------------------------------------------------------------------------------------

  /** Which function-level reset method works for `dev`, as pci_reset_function() would pick it. */
  resetMethod(dev: PciDev): 'flr' | 'pm' | 'bus' | null {
    if (dev.hw.flrCapable) return 'flr';
    const pm = dev.hw.pmOffset;
    if (pm && !(dev.readConfig(pm + PCI_PM_CTRL, 2) & PCI_PM_CTRL_NO_SOFT_RESET)) return 'pm';
    // pci_parent_bus_reset(): only when the device is alone on a non-root bus and is not a bridge.
    const bus = dev.hw.bus!;
    if (!bus.isRoot && !dev.isBridge && bus.functions.length === 1) return 'bus';
    return null;
  }

  /** pci_reset_function(): save state, reset, restore. Returns false (-ENOTTY) when no method works. */
  resetFunction(dev: PciDev): boolean {
    if (!this.resetMethod(dev)) return false;
    dev.saveState();
    this.resetFunctionLocked(dev);
    dev.restoreState();
    return true;
  }

  /** __pci_reset_function_locked(): the reset alone; the caller saves and restores state. */
  resetFunctionLocked(dev: PciDev): boolean {
    const m = this.resetMethod(dev);
    if (m === 'flr') {
      const exp = dev.hw.cfg.findCap(PCI_CAP_ID_EXP)!.offset;
      dev.writeConfig(exp + PCI_EXP_DEVCTL, 2, dev.readConfig(exp + PCI_EXP_DEVCTL, 2) | PCI_EXP_DEVCTL_BCR_FLR);
    } else if (m === 'pm') {
      dev.hw.reset();
    } else if (m === 'bus') {
      this.secondaryBusReset(dev.parent!);
    }
    return m !== null;
  }

  /** pci_probe_reset_bus(): a secondary bus reset is possible for devices below a bridge. */
  canResetBus(dev: PciDev): boolean {
    return !dev.hw.bus!.isRoot;
  }

  /** pci_reset_bus(): saves every affected device, pulses Secondary Bus Reset, restores them. */
  resetBus(dev: PciDev): void {
    const affected = this.busDevices(dev);
    for (const d of affected) d.saveState();
    this.secondaryBusReset(dev.parent!);
    for (const d of affected) d.restoreState();
  }

  private secondaryBusReset(bridge: PciDev): void {
    const ctl = bridge.readConfig(PCI_BRIDGE_CONTROL, 2);
    bridge.writeConfig(PCI_BRIDGE_CONTROL, 2, ctl | PCI_BRIDGE_CTL_BUS_RESET);
    bridge.writeConfig(PCI_BRIDGE_CONTROL, 2, ctl & ~PCI_BRIDGE_CTL_BUS_RESET);
  }
}

