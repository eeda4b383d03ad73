// The host's own PCI drivers, by name, as far as device assignment cares: what they match, and whether
// they use the kernel DMA API (a bound DMA-API driver makes its IOMMU group non-viable for VFIO) or
// manage DMA ownership themselves (driver_managed_dma: drivers/pci/pci-stub.c, drivers/pci/pcie/portdrv.c,
// drivers/vfio/pci/vfio_pci.c). Normal drivers enable the device and bus mastering when they bind, and
// request their INTx line shared (the model's host drivers use INTx, never MSI, so that lines are shared
// as on older platforms): their handler claims an interrupt only when its own device has one pending,
// acknowledges it at the device (which drops the wire), and answers IRQ_NONE otherwise.

import { kerr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { PCI_ANY_ID, type PciDeviceId, type PciDriver } from './pci-driver.js';
import type { PciDev } from './pci-dev.js';
import { IRQ_HANDLED, IRQ_NONE, IRQF_SHARED, type IrqHandler } from '../irq/irqdesc.js';
import { PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM } from '../../../include-ts/linux/pci_regs.js';

/** What a host driver's interrupt handler needs: the device, and counts (inspection). */
export class HostIrqCookie {
  /** Interrupts this driver claimed (IRQ_HANDLED). */
  handled = 0;
  constructor(readonly dev: PciDev) {}
}

/**
 * A driver's INTx handler (e1000_intr, azx_interrupt, ...): IRQ_HANDLED only if its own device has an
 * interrupt pending, which it acknowledges at the device.
 */
function hostIntxHandler(name: string): IrqHandler {
  const h: IrqHandler = (_irq, id) => {
    const c = id as HostIrqCookie;
    const hw = c.dev.hw;
    if (!hw.irqLevel) return IRQ_NONE;
    hw.setIrqLevel(false);
    c.handled++;
    return IRQ_HANDLED;
  };
  Object.defineProperty(h, 'name', { value: name });
  return h;
}

/** A driver that uses the kernel DMA API for `ids` (e1000e, nouveau, snd_hda_intel...). */
export function dmaApiDriver(kernel: Kernel, name: string, module: string, ids: PciDeviceId[], irqHandlerName = `${name}_interrupt`): PciDriver {
  const handler = hostIntxHandler(irqHandlerName);
  const cookies = new Map<PciDev, HostIrqCookie>();
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
      if (kernel.irq && dev.irq && dev.hw.interruptPin) {
        const c = new HostIrqCookie(dev);
        kernel.irq.requestIrq(dev.irq, handler, IRQF_SHARED, name, c);
        cookies.set(dev, c);
      }
    },
    remove(dev: PciDev) {
      const c = cookies.get(dev);
      if (c) {
        kernel.irq.freeIrq(dev.irq, c);
        cookies.delete(dev);
      }
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
    dmaApiDriver(kernel, 'nouveau', 'nouveau', [{ vendor: 0x10de, device: any, classCode: 0x030000, classMask: 0xff0000 }], 'nvkm_pci_intr'),
    dmaApiDriver(kernel, 'snd_hda_intel', 'snd_hda_intel', [{ vendor: any, device: any, classCode: 0x040300, classMask: 0xffff00 }], 'azx_interrupt'),
    dmaApiDriver(kernel, 'e1000e', 'e1000e', [{ vendor: 0x8086, device: 0x10d3 }, { vendor: 0x8086, device: 0x15bc }], 'e1000_intr'),
    dmaApiDriver(kernel, 'igb', 'igb', [{ vendor: 0x8086, device: 0x1521 }], 'igb_intr'),
    dmaApiDriver(kernel, 'r8169', 'r8169', [{ vendor: 0x10ec, device: 0x8169 }], 'rtl8169_interrupt'),
    dmaApiDriver(kernel, 'lpc_ich', 'lpc_ich', [{ vendor: 0x8086, device: 0xa306 }]),
    pciStubDriver(kernel),
  ];
}
