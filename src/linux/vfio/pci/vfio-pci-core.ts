// drivers/vfio/pci/vfio_pci_core.c: the vfio-pci device. Enable on first open (D0, bus master off,
// pci_enable_device, a function reset that sets reset_works, saved state, PCI 2.3 INTx masking probe,
// virtual config space, MSI-X location, VGA), disable on last close (bus master off, interrupts off,
// ioeventfds dropped, saved state restored with a reset when possible). The ioctls: GET_INFO,
// GET_REGION_INFO (BARs with MMAP and the MSIX_MAPPABLE capability, ROM, config, VGA; the argsz growth
// protocol), GET_IRQ_INFO, SET_IRQS (validation here, actions in vfio_pci_intrs.c — issue 4), RESET,
// GET_PCI_HOT_RESET_INFO (ENOSPC with the count; devids for a device opened through its cdev), PCI_HOT_RESET
// (group fds, or an empty array and iommufd ownership from a cdev-opened device), IOEVENTFD; read/write at
// index << 40 (vfio_pci_rw); mmap of BARs (vfio_pci_core_mmap) backed directly by the device, which
// faults with SIGBUS while Memory Space is disabled.

import { getS32, getU32, setU16, setU32, setU64n } from '../../../../abi/bytes.js';
import { CapChainBuilder } from '../../../../abi/capchain.js';
import { kerr } from '../../errors.js';
import { eventfdCtxFdget } from '../../eventfd.js';
import type { FileContext, MmapRequest } from '../../fs/file.js';
import type { Kernel } from '../../kernel.js';
import { IoBacking, type Backing } from '../../mm/backing.js';
import type { UserArg } from '../../uaccess.js';
import type { PciDev } from '../../pci/pci-dev.js';
import type { PciSavedState } from '../../pci/pci-state.js';
import type { MmioHandler } from '../../../hw/mmio.js';
import { MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE } from '../../../../include-ts/linux/mman.js';
import {
  PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MEMORY, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_QSIZE, PCI_MSIX_TABLE,
  PCI_MSI_FLAGS, PCI_MSI_FLAGS_QMASK, PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK, PCI_BASE_ADDRESS_0, PCI_ROM_ADDRESS,
} from '../../../../include-ts/linux/pci_regs.js';
import {
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
  VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_IOEVENTFD, VFIO_DEVICE_IOEVENTFD_SIZE_MASK, VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_PCI_BAR5_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_DEVID_NOT_OWNED, VFIO_PCI_DEVID_OWNED, VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_HOT_RESET_FLAG_DEV_ID,
  VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS, VFIO_PCI_REQ_IRQ_INDEX, VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from '../../../../include-ts/linux/vfio.js';
import { vfioCheckFeature, type VfioDevice, type VfioDeviceOps } from '../vfio-main.js';
import { VfioGroupFile } from '../group.js';
import type { IommufdCtx } from '../../iommu/iommufd/main.js';
import { VfioPciConfig, type VfioPciConfigOwner } from './vfio-pci-config.js';
import { VFIO_PCI_IOEVENTFD_MAX, Ioeventfd, doIoRw, indexToOffset, offsetToIndex } from './vfio-pci-rdwr.js';

const PAGE_SIZE = 4096;

/**
 * The interrupt half of vfio-pci (drivers/vfio/pci/vfio_pci_intrs.c), installed by issue 4. The core
 * validates SET_IRQS and hands the action here; INTx masking from the virtual INTx Disable bit also
 * lands here.
 */
export interface VfioPciIntrs {
  setIrqs(ctx: FileContext, index: number, start: number, count: number, flags: number, data: Uint8Array): number;
  /** Virtual INTx Disable set / cleared (vfio_pci_intx_mask / unmask). Return false to use the default. */
  intxMask(): boolean;
  intxUnmask(): boolean;
  /** Last close: disable whatever is enabled. */
  disableAll(): void;
  /** The active index (vdev->irq_type), or -1. */
  readonly irqType: number;
  readonly msiQmax: number;
  /** The host wants the device back (REQ). */
  request?(count: number): boolean;
}

export class VfioPciCoreDevice implements VfioDeviceOps, VfioPciConfigOwner {
  vdev!: VfioDevice;
  config: VfioPciConfig | null = null;
  resetWorks = false;
  pci23 = false;
  nointx = false;
  msixBar = 0xff;
  msixOffset = 0;
  msixSize = 0;
  hasVga = false;
  needsReset = false;
  /** Low power entered through VFIO_DEVICE_FEATURE (pm_runtime_engaged). */
  lowPower = false;
  readonly barMmapSupported: boolean[] = [false, false, false, false, false, false];
  readonly ioeventfds: Ioeventfd[] = [];
  /** Installed by the interrupt code (issue 4). */
  intrs: VfioPciIntrs | null = null;
  /** Times mmaps were zapped (inspection). */
  zaps = 0;
  /** vdev->pci_saved_state: the configuration saved at open, restored at last close. */
  private savedState: PciSavedState | null = null;

  constructor(
    readonly pdev: PciDev,
    readonly kernel: Kernel,
  ) {
    this.probeMmaps();
  }

  get msiEnabledByIoctl(): boolean {
    return this.intrs?.irqType === VFIO_PCI_MSI_IRQ_INDEX;
  }

  get msiQmax(): number {
    return this.intrs?.msiQmax ?? 0;
  }

  /** pdev->current_state as vfio last set it (0-3: D0-D3hot); open and resets bring the device to D0. */
  powerState = 0;

  /** __vfio_pci_memory_enabled(): below D3hot, with the virtual Command register's Memory Space bit. */
  memEnabled(): boolean {
    const c = this.config;
    return !!c && this.powerState < 3 && (c.vget(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY) !== 0 && !this.lowPower;
  }

  /** vfio_lock_and_set_power_state(): D3hot zaps the BAR mappings (memEnabled() gates them from now on). */
  setPowerState(state: number): void {
    this.powerState = state;
  }

  /** vfio_pci_probe_mmaps(): memory BARs of at least a page, or page-aligned smaller ones. */
  private probeMmaps(): void {
    const hw = this.pdev.hw;
    for (let i = 0; i < 6; i++) {
      const b = hw.bars[i];
      this.barMmapSupported[i] = !!b && b.kind !== 'io' && (b.size >= PAGE_SIZE || hw.barAddress(i) % PAGE_SIZE === 0);
    }
  }

  barLen(i: number): number {
    const b = this.pdev.hw.bars[i];
    return b && this.pdev.hw.barAddress(i) ? b.size : 0;
  }

  barIo(i: number): MmioHandler {
    return this.pdev.hw.barHandler(i);
  }

  // ---- VfioPciConfigOwner -----------------------------------------------------------------------

  zapMmaps(): void {
    this.zaps++;
  }

  intxMask(): void {
    if (this.intrs?.intxMask()) return;
    // Not using INTx delivery: the physical bit follows the virtual one on PCI 2.3 devices.
    if (this.pci23) this.pdev.intx(false);
  }

  intxUnmask(): void {
    if (this.intrs?.intxUnmask()) return;
    if (this.pci23) this.pdev.intx(true);
  }

  resetFunction(): void {
    this.zapMmaps();
    this.kernel.pci.resetFunction(this.pdev);
    this.powerState = 0;
  }

  restoreBars(): void {
    const c = this.config;
    if (!c) return;
    for (let i = 0; i < 6; i++) this.pdev.writeConfig(PCI_BASE_ADDRESS_0 + i * 4, 4, c.rbar[i]!);
    this.pdev.writeConfig(PCI_ROM_ADDRESS, 4, c.rbar[6]!);
  }

  // ---- open / close -----------------------------------------------------------------------------

  /** vfio_pci_core_enable() */
  openDevice(): void {
    const pdev = this.pdev;
    const pm = pdev.hw.pmOffset;
    if (pm) pdev.writeConfig(pm + PCI_PM_CTRL, 2, pdev.readConfig(pm + PCI_PM_CTRL, 2) & ~PCI_PM_CTRL_STATE_MASK);
    this.powerState = 0;
    pdev.setMaster(false);
    pdev.enable();
    this.resetWorks = this.kernel.pci.resetFunction(pdev);
    pdev.saveState();
    this.savedState = pdev.savedState;
    const kernelParams = this.kernel.params;
    if (!kernelParams.bool('vfio_pci', 'nointxmask')) this.pci23 = pdev.intxMaskSupported();
    const cmd = pdev.readConfig(PCI_COMMAND, 2);
    if (this.pci23 && cmd & PCI_COMMAND_INTX_DISABLE) pdev.writeConfig(PCI_COMMAND, 2, cmd & ~PCI_COMMAND_INTX_DISABLE);
    this.config = new VfioPciConfig(this, this.nointx);
    const mx = pdev.msixCap;
    if (mx) {
      const flags = pdev.readConfig(mx + PCI_MSIX_FLAGS, 2);
      const table = pdev.readConfig(mx + PCI_MSIX_TABLE, 4);
      this.msixBar = table & 7;
      this.msixOffset = table & ~7;
      this.msixSize = ((flags & PCI_MSIX_FLAGS_QSIZE) + 1) * 16;
    } else this.msixBar = 0xff;
    this.hasVga = pdev.classCode >> 8 === 0x0300;
  }

  /** vfio_pci_core_disable() */
  closeDevice(): void {
    const pdev = this.pdev;
    pdev.setMaster(false);
    this.intrs?.disableAll();
    for (const e of this.ioeventfds) e.disarm();
    this.ioeventfds.length = 0;
    this.config = null;
    this.hasVga = false;
    this.lowPower = false;
    this.needsReset = true;
    // pci_load_and_free_saved_state(): the state saved at open is what the device goes back to.
    pdev.savedState = this.savedState;
    this.savedState = null;
    pdev.writeConfig(PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
    if (this.resetWorks && this.kernel.pci.resetFunctionLocked(pdev)) this.needsReset = false;
    pdev.restoreState();
    pdev.disable();
  }

  // ---- ioctl ------------------------------------------------------------------------------------

  ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    switch (req) {
      case VFIO_DEVICE_GET_INFO: return this.getInfo(arg);
      case VFIO_DEVICE_GET_IRQ_INFO: return this.getIrqInfo(arg);
      case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: return this.getHotResetInfo(arg);
      case VFIO_DEVICE_GET_REGION_INFO: return this.getRegionInfo(arg);
      case VFIO_DEVICE_IOEVENTFD: return this.ioeventfd(ctx, arg);
      case VFIO_DEVICE_PCI_HOT_RESET: return this.hotReset(ctx, arg);
      case VFIO_DEVICE_RESET: return this.reset();
      case VFIO_DEVICE_SET_IRQS: return this.setIrqs(ctx, arg);
      default: throw kerr('ENOTTY', `ioctl 0x${req.toString(16)} is not a vfio-pci device ioctl`);
    }
  }

  private argsz(arg: UserArg, minsz: number, what: string): Uint8Array {
    const b = arg.user(minsz);
    const argsz = getU32(b, 0);
    if (argsz < minsz) throw kerr('EINVAL', `argsz ${argsz} is smaller than the ${minsz} bytes of ${what}`);
    return b;
  }

  /** vfio_pci_ioctl_get_info() */
  private getInfo(arg: UserArg): number {
    const minsz = 16;
    const b = this.argsz(arg, minsz, 'struct vfio_device_info');
    const n = Math.min(getU32(b, 0), 24);
    const out = arg.user(n);
    const info = new Uint8Array(24);
    setU32(info, 0, getU32(b, 0));
    setU32(info, 4, VFIO_DEVICE_FLAGS_PCI | (this.resetWorks ? VFIO_DEVICE_FLAGS_RESET : 0));
    setU32(info, 8, VFIO_PCI_NUM_REGIONS);
    setU32(info, 12, VFIO_PCI_NUM_IRQS);
    out.set(info.subarray(0, n));
    return 0;
  }

  /** vfio_pci_ioctl_get_region_info() */
  private getRegionInfo(arg: UserArg): number {
    const minsz = 32;
    const b = this.argsz(arg, minsz, 'struct vfio_region_info');
    const index = getU32(b, 8);
    const caps = new CapChainBuilder({ align8: true });
    let flags = 0;
    let size = 0;
    const offset = indexToOffset(index);
    const pdev = this.pdev;
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      size = pdev.cfgSize;
      flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    } else if (index <= VFIO_PCI_BAR5_REGION_INDEX) {
      size = this.barLen(index);
      if (size) {
        flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        if (this.barMmapSupported[index]) {
          flags |= VFIO_REGION_INFO_FLAG_MMAP;
          if (index === this.msixBar) caps.add(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, 8);
        }
      }
    } else if (index === VFIO_PCI_ROM_REGION_INDEX) {
      if (pdev.hw.rom && this.romImageSize() > 0) {
        flags = VFIO_REGION_INFO_FLAG_READ;
        size = pdev.hw.romSize;
      }
    } else if (index === VFIO_PCI_VGA_REGION_INDEX) {
      if (!this.hasVga) throw kerr('EINVAL', `${pdev.name} is not a VGA device: it has no VGA region`);
      size = 0xc0000;
      flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    } else {
      throw kerr('EINVAL', `region index ${index} does not exist (this device has ${VFIO_PCI_NUM_REGIONS} regions)`);
    }
    let argsz = getU32(b, 0);
    let capOffset = getU32(b, 12);
    if (!caps.empty) {
      flags |= VFIO_REGION_INFO_FLAG_CAPS;
      if (argsz < minsz + caps.size) {
        argsz = minsz + caps.size;
        capOffset = 0;
      } else {
        caps.copyOut(arg.user(minsz + caps.size), minsz, argsz);
        capOffset = minsz;
      }
    }
    setU32(b, 0, argsz);
    setU32(b, 4, flags);
    setU32(b, 12, capOffset);
    setU64n(b, 16, size);
    setU64n(b, 24, offset);
    return 0;
  }

  /** pci_get_rom_size(): the images' total length from their PCIR headers; 0 without a 0x55AA signature. */
  romImageSize(): number {
    const rom = this.pdev.hw.rom;
    if (!rom) return 0;
    let at = 0;
    for (;;) {
      if (rom[at] !== 0x55 || rom[at + 1] !== 0xaa) return at;
      const pcir = at + (rom[at + 0x18]! | (rom[at + 0x19]! << 8));
      if (String.fromCharCode(rom[pcir]!, rom[pcir + 1]!, rom[pcir + 2]!, rom[pcir + 3]!) !== 'PCIR') return at;
      const len = (rom[pcir + 0x10]! | (rom[pcir + 0x11]! << 8)) * 512;
      at += len;
      if (rom[pcir + 0x15]! & 0x80 || len === 0) return Math.min(at, this.pdev.hw.romSize);
    }
  }

  /** vfio_pci_ioctl_get_irq_info() */
  private getIrqInfo(arg: UserArg): number {
    const b = this.argsz(arg, 16, 'struct vfio_irq_info');
    const index = getU32(b, 8);
    if (index >= VFIO_PCI_NUM_IRQS) throw kerr('EINVAL', `IRQ index ${index} does not exist (vfio-pci has ${VFIO_PCI_NUM_IRQS})`);
    if (index === VFIO_PCI_ERR_IRQ_INDEX && !this.pdev.isPcie) throw kerr('EINVAL', `${this.pdev.name} is conventional PCI: it has no ERR IRQ (AER is PCIe only)`);
    let flags = VFIO_IRQ_INFO_EVENTFD;
    if (index === VFIO_PCI_INTX_IRQ_INDEX) flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    else if (index !== VFIO_PCI_MSIX_IRQ_INDEX) flags |= VFIO_IRQ_INFO_NORESIZE;
    else flags |= VFIO_IRQ_INFO_NORESIZE; // no dynamic MSI-X on this platform
    setU32(b, 4, flags);
    setU32(b, 12, this.irqCount(index));
    return 0;
  }

  /** vfio_pci_get_irq_count() */
  irqCount(index: number): number {
    const pdev = this.pdev;
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        return !this.nointx && (this.config ? this.config.vconfig[0x3d]! : pdev.hw.interruptPin) ? 1 : 0;
      case VFIO_PCI_MSI_IRQ_INDEX: {
        const pos = pdev.msiCap;
        return pos ? 1 << ((pdev.readConfig(pos + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK) >> 1) : 0;
      }
      case VFIO_PCI_MSIX_IRQ_INDEX: {
        const pos = pdev.msixCap;
        return pos ? (pdev.readConfig(pos + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1 : 0;
      }
      case VFIO_PCI_ERR_IRQ_INDEX:
        return pdev.isPcie ? 1 : 0;
      case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
      default:
        return 0;
    }
  }

  /** vfio_set_irqs_validate_and_prepare() (vfio_main.c), then the interrupt code. */
  private setIrqs(ctx: FileContext, arg: UserArg): number {
    const minsz = 20;
    const b = this.argsz(arg, minsz, 'struct vfio_irq_set');
    const argsz = getU32(b, 0);
    const flags = getU32(b, 4);
    const index = getU32(b, 8);
    const start = getU32(b, 12);
    const count = getU32(b, 16);
    if (index >= VFIO_PCI_NUM_IRQS) throw kerr('EINVAL', `IRQ index ${index} does not exist`);
    if (flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) throw kerr('EINVAL', `unknown flags 0x${flags.toString(16)}`);
    if (count >= 0xffffffff - start) throw kerr('EINVAL', 'start + count overflows');
    const max = this.irqCount(index);
    // An index with no interrupts (max 0) fails here whatever start and count are.
    if (start >= max || start + count > max) throw kerr('EINVAL', `[${start}, +${count}) is outside the ${max} interrupt(s) of index ${index}`);
    let size = 0;
    switch (flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
      case VFIO_IRQ_SET_DATA_NONE: size = 0; break;
      case VFIO_IRQ_SET_DATA_BOOL: size = 1; break;
      case VFIO_IRQ_SET_DATA_EVENTFD: size = 4; break;
      default: throw kerr('EINVAL', 'exactly one of DATA_NONE, DATA_BOOL, DATA_EVENTFD is needed');
    }
    if (size && argsz - minsz < size * count) throw kerr('EINVAL', `argsz ${argsz} leaves no room for ${count} data item(s) of ${size} bytes`);
    const data = size ? arg.user(minsz + size * count).slice(minsz) : new Uint8Array(0);
    if (!this.intrs) throw kerr('ENOTTY', 'VFIO_DEVICE_SET_IRQS: interrupt delivery (vfio_pci_intrs.c) is not part of this model yet');
    return this.intrs.setIrqs(ctx, index, start, count, flags, data);
  }

  /** vfio_pci_ioctl_reset() */
  private reset(): number {
    if (!this.resetWorks) throw kerr('EINVAL', `${this.pdev.name} has no function reset method (no FLR, no PM reset, not alone on its bus)`);
    this.zapMmaps();
    this.kernel.pci.resetFunction(this.pdev);
    this.powerState = 0;
    return 0;
  }

  /** Devices a slot/bus reset of this device affects (vfio_pci_for_each_slot_or_bus). */
  resetSet(): PciDev[] {
    return this.kernel.pci.busDevices(this.pdev);
  }

  /** vfio_pci_ioctl_get_pci_hot_reset_info() */
  private getHotResetInfo(arg: UserArg): number {
    const minsz = 12;
    const b = this.argsz(arg, minsz, 'struct vfio_pci_hot_reset_info');
    if (!this.kernel.pci.canResetBus(this.pdev)) throw kerr('ENODEV', `${this.pdev.name} is on the root bus: neither a slot nor a bus reset is possible`);
    const devs = this.resetSet();
    const argsz = getU32(b, 0);
    setU32(b, 4, 0);
    if (argsz < minsz + devs.length * 8) {
      setU32(b, 8, devs.length);
      throw kerr('ENOSPC', `a bus reset affects ${devs.length} device(s): argsz must be at least ${minsz + devs.length * 8} (count was written back)`);
    }
    // vfio_pci_fill_devs(): a device opened through its cdev gets devids (FLAG_DEV_ID), else group ids.
    const ictx = this.vdev.iommufdDevice?.ictx ?? null;
    let flags = 0;
    if (ictx) flags = VFIO_PCI_HOT_RESET_FLAG_DEV_ID | VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
    else for (const d of devs) if (!d.group) throw kerr('EPERM', `${d.name} has no IOMMU group`);
    const out = arg.user(minsz + devs.length * 8);
    devs.forEach((d, i) => {
      const o = minsz + i * 8;
      if (ictx) {
        const devid = this.devidIn(d, ictx);
        if (devid === VFIO_PCI_DEVID_NOT_OWNED) flags &= ~VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
        setU32(out, o, devid >>> 0);
      } else {
        setU32(out, o, d.group!.id);
      }
      setU16(out, o + 4, 0);
      out[o + 6] = d.hw.busNumber;
      out[o + 7] = d.hw.devfn;
    });
    setU32(b, 4, flags);
    setU32(b, 8, devs.length);
    return 0;
  }

  /**
   * vfio_iommufd_get_dev_id() as vfio_pci_fill_devs() reports it: the iommufd device id of an affected
   * device bound to `ictx`; VFIO_PCI_DEVID_OWNED when it is not, but a device of its IOMMU group is
   * (iommufd_ctx_has_group(): -ENOENT); VFIO_PCI_DEVID_NOT_OWNED otherwise or when it is no VFIO device.
   */
  private devidIn(d: PciDev, ictx: IommufdCtx): number {
    if (!(d.driverData instanceof VfioPciCoreDevice)) return VFIO_PCI_DEVID_NOT_OWNED;
    const idev = d.driverData.vdev.iommufdDevice;
    if (idev && idev.ictx === ictx) return idev.id;
    return d.group && ictx.groups.has(d.group.id) ? VFIO_PCI_DEVID_OWNED : VFIO_PCI_DEVID_NOT_OWNED;
  }

  /**
   * vfio_pci_ioctl_pci_hot_reset(): group fds (vfio_pci_ioctl_pci_hot_reset_groups) from a group-opened
   * device; an empty array from a cdev-opened one, whose ownership comes from its iommufd
   * (vfio_pci_dev_set_hot_reset with the iommufd_ctx). Then vfio_pci_dev_set_hot_reset.
   */
  private hotReset(ctx: FileContext, arg: UserArg): number {
    const minsz = 12;
    const b = this.argsz(arg, minsz, 'struct vfio_pci_hot_reset');
    if (getU32(b, 4)) throw kerr('EINVAL', 'flags must be 0');
    const count = getU32(b, 8);
    const ictx = this.vdev.iommufdDevice?.ictx ?? null;
    if ((count !== 0) === (ictx !== null)) {
      throw kerr('EINVAL', ictx ? `${this.pdev.name} was opened through its cdev: count must be 0 (ownership comes from its iommufd, not group fds)` : 'count 0 is only for devices opened through their cdev (iommufd)');
    }
    if (!this.kernel.pci.canResetBus(this.pdev)) throw kerr('ENODEV', `${this.pdev.name} is on the root bus: no slot or bus reset is possible`);
    const affected = this.resetSet();
    if (ictx) {
      for (const d of affected) {
        if (!(d.driverData instanceof VfioPciCoreDevice)) {
          throw kerr('EINVAL', `a bus reset also resets ${d.name}, which is ${d.driver ? `bound to ${d.driver.name}` : 'not bound to vfio-pci'}`);
        }
      }
      for (const d of affected) {
        if (this.devidIn(d, ictx) === VFIO_PCI_DEVID_NOT_OWNED) {
          throw kerr('EINVAL', `a bus reset also resets ${d.name}, which is not bound to this iommufd and shares no IOMMU group with a device that is`);
        }
      }
      return this.busReset(affected);
    }
    if (count > affected.length) throw kerr('EINVAL', `count ${count} exceeds the ${affected.length} device(s) the reset affects`);
    const fds = arg.user(minsz + 4 * count);
    const groups = new Set<number>();
    for (let i = 0; i < count; i++) {
      const fd = getS32(fds, minsz + 4 * i);
      const f = ctx.proc.fileOrNull(fd);
      if (!f) throw kerr('EBADF', `group fd ${fd} is not open`);
      if (!(f instanceof VfioGroupFile)) throw kerr('EINVAL', `fd ${fd} (${f.path}) is not a VFIO group`);
      groups.add(f.group.id);
    }
    // vfio_pci_dev_set_resettable(): every affected device must be bound to vfio-pci, and every one of
    // them must belong to one of the groups the caller proved it owns.
    for (const d of affected) {
      if (!(d.driverData instanceof VfioPciCoreDevice)) {
        throw kerr('EINVAL', `a bus reset also resets ${d.name}, which is ${d.driver ? `bound to ${d.driver.name}` : 'not bound to vfio-pci'}`);
      }
      if (!d.group || !groups.has(d.group.id)) throw kerr('EINVAL', `a bus reset also resets ${d.name} (group ${d.group?.id}), whose group fd was not passed`);
    }
    return this.busReset(affected);
  }

  private busReset(affected: readonly PciDev[]): number {
    for (const d of affected) (d.driverData as VfioPciCoreDevice).zapMmaps();
    this.kernel.pci.resetBus(this.pdev);
    for (const d of affected) {
      const v = d.driverData as VfioPciCoreDevice;
      v.needsReset = false;
      v.powerState = 0;
    }
    return 0;
  }

  /** vfio_pci_ioctl_ioeventfd() + vfio_pci_ioeventfd() */
  private ioeventfd(ctx: FileContext, arg: UserArg): number {
    const minsz = 28;
    const b = this.argsz(arg, minsz, 'struct vfio_device_ioeventfd (through fd)');
    const flags = getU32(b, 4);
    if (flags & ~VFIO_DEVICE_IOEVENTFD_SIZE_MASK) throw kerr('EINVAL', `unknown flags 0x${(flags & ~0xf).toString(16)}`);
    const count = flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
    const fd = getS32(b, 24);
    if ((count & (count - 1)) !== 0 || count === 0 || fd < -1) throw kerr('EINVAL', count === 0 || (count & (count - 1)) ? 'exactly one size flag (8/16/32/64) is needed' : `fd ${fd} is invalid`);
    const offset = getU32(b, 8) + getU32(b, 12) * 0x1_0000_0000;
    const data = BigInt(getU32(b, 16)) | (BigInt(getU32(b, 20)) << 32n);
    const bar = offsetToIndex(offset);
    const pos = offset % 2 ** 40;
    if (bar > VFIO_PCI_BAR5_REGION_INDEX) throw kerr('EINVAL', 'ioeventfds can only target BARs 0-5');
    if (pos + count > this.barLen(bar)) throw kerr('EINVAL', `[0x${pos.toString(16)}, +${count}) is outside BAR${bar} (${this.barLen(bar)} bytes)`);
    if (bar === this.msixBar && !(pos + count <= this.msixOffset || pos >= this.msixOffset + this.msixSize)) throw kerr('EINVAL', 'ioeventfds may not write the MSI-X table');
    if (count === 8) throw kerr('EINVAL', '64-bit ioeventfds are not supported');
    const i = this.ioeventfds.findIndex((e) => e.pos === pos && e.bar === bar && e.data === data && e.count === count);
    if (i >= 0) {
      if (fd !== -1) throw kerr('EEXIST', `an ioeventfd for BAR${bar}+0x${pos.toString(16)} with this data and size exists`);
      this.ioeventfds[i]!.disarm();
      this.ioeventfds.splice(i, 1);
      return 0;
    }
    if (fd < 0) throw kerr('ENODEV', `no ioeventfd for BAR${bar}+0x${pos.toString(16)} with this data and size to remove`);
    if (this.ioeventfds.length >= VFIO_PCI_IOEVENTFD_MAX) throw kerr('ENOSPC', `a device may have at most ${VFIO_PCI_IOEVENTFD_MAX} ioeventfds`);
    const ectx = eventfdCtxFdget(ctx, fd);
    const bk = this.pdev.hw.bars[bar]!;
    const e = new Ioeventfd(bar, pos, data, count, ectx, this, bk.kind !== 'io');
    this.ioeventfds.push(e);
    e.arm();
    return 0;
  }

  // ---- VFIO_DEVICE_FEATURE (vfio_pci_core_ioctl_feature) ------------------------------------------

  deviceFeature(ctx: FileContext, flags: number, data: UserArg, argsz: number): number {
    switch (flags & VFIO_DEVICE_FEATURE_MASK) {
      case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY: {
        if (vfioCheckFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0) !== 1) return 0;
        this.zapMmaps();
        this.lowPower = true;
        return 0;
      }
      case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: {
        if (vfioCheckFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 8) !== 1) return 0;
        const efd = getS32(data.user(16), 8);
        eventfdCtxFdget(ctx, efd);
        this.zapMmaps();
        this.lowPower = true;
        return 0;
      }
      case VFIO_DEVICE_FEATURE_LOW_POWER_EXIT: {
        if (vfioCheckFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0) !== 1) return 0;
        this.lowPower = false;
        return 0;
      }
      case VFIO_DEVICE_FEATURE_PCI_VF_TOKEN:
        throw kerr('ENOTTY', `${this.pdev.name} is not an SR-IOV physical function: it has no VF token`);
      default:
        throw kerr('ENOTTY', `VFIO_DEVICE_FEATURE ${flags & VFIO_DEVICE_FEATURE_MASK} is not supported by vfio-pci`);
    }
  }

  // ---- read / write / mmap ----------------------------------------------------------------------

  /** Any access wakes a device from low power (vfio_device_pm_runtime_get). */
  private resume(): void {
    this.lowPower = false;
  }

  read(_ctx: FileContext, buf: Uint8Array, pos: number): number {
    return this.rw(buf, pos, false);
  }

  write(_ctx: FileContext, buf: Uint8Array, pos: number): number {
    return this.rw(buf, pos, true);
  }

  /** vfio_pci_rw() */
  private rw(buf: Uint8Array, ppos: number, write: boolean): number {
    const index = offsetToIndex(ppos);
    if (index >= VFIO_PCI_NUM_REGIONS) throw kerr('EINVAL', `offset 0x${ppos.toString(16)} is in region ${index}, which does not exist`);
    this.resume();
    const pos = ppos % 2 ** 40;
    switch (index) {
      case VFIO_PCI_CONFIG_REGION_INDEX:
        return this.config!.rw(buf, pos, write);
      case VFIO_PCI_ROM_REGION_INDEX:
        if (write) throw kerr('EINVAL', 'the ROM region is read-only');
        return this.barRw(index, buf, pos, false);
      case VFIO_PCI_VGA_REGION_INDEX:
        return this.vgaRw(buf, pos, write);
      default:
        return this.barRw(index, buf, pos, write);
    }
  }

  /** vfio_pci_bar_rw() */
  private barRw(bar: number, buf: Uint8Array, pos: number, write: boolean): number {
    const hw = this.pdev.hw;
    let end: number;
    if (bar === VFIO_PCI_ROM_REGION_INDEX) {
      if (!hw.rom || !(hw.configRead(PCI_ROM_ADDRESS, 4) & ~0x7ff)) throw kerr('EINVAL', `${this.pdev.name} has no expansion ROM`);
      end = hw.romSize;
    } else {
      end = this.barLen(bar);
      if (!end) throw kerr('EINVAL', `BAR${bar} of ${this.pdev.name} is not implemented`);
    }
    if (pos >= end) throw kerr('EINVAL', `offset 0x${pos.toString(16)} is past the end of the ${end}-byte ${bar === 6 ? 'ROM' : `BAR${bar}`}`);
    const n = Math.min(buf.length, end - pos);
    const b = n === buf.length ? buf : buf.subarray(0, n);
    let xStart = 0;
    let xEnd = 0;
    let io: MmioHandler;
    if (bar === VFIO_PCI_ROM_REGION_INDEX) {
      xStart = this.romImageSize();
      xEnd = end;
      io = this.romIo;
    } else io = hw.barHandler(bar);
    if (bar === this.msixBar) {
      xStart = this.msixOffset;
      xEnd = this.msixOffset + this.msixSize;
    }
    const testMem = bar === VFIO_PCI_ROM_REGION_INDEX || hw.bars[bar]!.kind !== 'io';
    return doIoRw(io, testMem, this.memEnabledFn, b, pos, xStart, xEnd, write);
  }

  private readonly memEnabledFn = (): boolean => this.memEnabled();

  /** pci_map_rom(): the ROM image as an MMIO window. */
  private readonly romIo: MmioHandler = {
    read: (off, size) => {
      const t = new Uint8Array(size);
      this.pdev.hw.romRead(off, t);
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = (v << 8) | t[i]!;
      return v >>> 0;
    },
    write: () => {},
  };

  /** vfio_pci_vga_rw(): legacy VGA ranges; no legacy VGA decoding is modeled, so reads float high. */
  private vgaRw(buf: Uint8Array, pos: number, write: boolean): number {
    if (!this.hasVga) throw kerr('EINVAL', `${this.pdev.name} has no VGA region`);
    let end: number;
    if (pos >= 0xa0000 && pos < 0xc0000) end = 0xc0000;
    else if (pos >= 0x3b0 && pos < 0x3bc) end = 0x3bc;
    else if (pos >= 0x3c0 && pos < 0x3e0) end = 0x3e0;
    else throw kerr('EINVAL', `offset 0x${pos.toString(16)} is not a legacy VGA range (0xa0000-0xbffff, 0x3b0-0x3bb, 0x3c0-0x3df)`);
    const n = Math.min(buf.length, end - pos);
    if (!write) buf.fill(0xff, 0, n);
    return n;
  }

  /** vfio_pci_core_mmap() */
  mmap(_ctx: FileContext, req: MmapRequest): Backing {
    const index = offsetToIndex(req.offset);
    const type = req.flags & MAP_TYPE;
    if (index >= VFIO_PCI_NUM_REGIONS) throw kerr('EINVAL', `region ${index} does not exist`);
    if (type !== MAP_SHARED && type !== MAP_SHARED_VALIDATE) throw kerr('EINVAL', 'device regions can only be mapped MAP_SHARED');
    if (index >= VFIO_PCI_ROM_REGION_INDEX) throw kerr('EINVAL', `region ${index} (${index === 6 ? 'ROM' : index === 7 ? 'config' : 'VGA'}) cannot be mmap'ed`);
    if (!this.barMmapSupported[index]) throw kerr('EINVAL', `BAR${index} of ${this.pdev.name} cannot be mmap'ed (absent, I/O, or a sub-page BAR not page aligned)`);
    const physLen = Math.ceil(this.barLen(index) / PAGE_SIZE) * PAGE_SIZE;
    const start = req.offset % 2 ** 40;
    if (start + req.length > physLen) throw kerr('EINVAL', `[0x${start.toString(16)}, +0x${req.length.toString(16)}) is past the end of BAR${index} (0x${physLen.toString(16)} bytes)`);
    return new IoBacking(this.pdev.hw.barHandler(index), start, req.length, this.mmapGate, true);
  }

  /** vfio_pci_mmap_fault(): SIGBUS while Memory Space is disabled or the device is in low power. */
  private readonly mmapGate = (): string | null => {
    if (this.lowPower) return `${this.pdev.name} is in low power (VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY)`;
    if (this.powerState >= 3) return `${this.pdev.name} was put in D3hot through its PM capability, so its BAR mappings are zapped`;
    if (!this.memEnabled()) return `${this.pdev.name}: Memory Space is disabled in the Command register, so its BAR mappings are zapped`;
    return null;
  };

  // ---- match / request --------------------------------------------------------------------------

  /** vfio_pci_core_match(): the BDF, optionally followed by " vf_token=<uuid>". */
  match(buf: string): number {
    const name = this.pdev.name;
    if (!buf.startsWith(name)) return 0;
    if (buf.length === name.length) return 1;
    const rest = buf.slice(name.length);
    if (rest[0] !== ' ') return 0;
    const tok = rest.trimStart();
    if (!tok.startsWith('vf_token=')) throw kerr('EINVAL', `unknown option "${tok}" after the device name`);
    throw kerr('EINVAL', `${name} is not an SR-IOV PF or VF: a vf_token does not apply`);
  }

  /** vfio_pci_core_request() */
  request(count: number): void {
    if (this.intrs?.request?.(count)) return;
    if (count === 0) this.kernel.log.warn(`vfio-pci ${this.pdev.name}: No device request channel registered, blocked until released by user`);
  }
}

