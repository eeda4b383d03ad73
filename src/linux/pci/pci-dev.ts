// struct pci_dev (include/linux/pci.h) and the PCI core's config access and state helpers
// (drivers/pci/access.c pci_read/write_config_*, drivers/pci/pci.c pci_enable_device,
// pci_save_state/pci_restore_state, pci_intx_mask_supported, pci_set_master): the kernel's handle on one
// PCI function of the modeled hardware. Config accesses go to the hardware registers directly.

import type { ConfigPort } from '../../hw/pci/config-port.js';
import type { PciFunction } from '../../hw/pci/function.js';
import type { PciBridge } from '../../hw/pci/bridge.js';
import {
  PCI_ACS_CAP, PCI_ACS_CR, PCI_ACS_CTRL, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF, PCI_CAP_ID_EXP, PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY,
  PCI_EXT_CAP_ID_ACS, PCI_STATUS_INTERRUPT,
} from '../../../include-ts/linux/pci_regs.js';
import type { PciDriver } from './pci-driver.js';
import { pciRestoreSavedState, pciSaveState, type PciSavedState } from './pci-state.js';

// Module-local copies for the interrupt path (imported bindings are getter calls under tsx).
const CMD = PCI_COMMAND;
const STATUS_INTX = PCI_STATUS_INTERRUPT;
const CMD_INTX_DISABLE = PCI_COMMAND_INTX_DISABLE;
import type { IommuGroup } from '../iommu/iommu-group.js';

export class PciDev {
  driver: PciDriver | null = null;
  /** driver_override (NULL when unset). */
  driverOverride: string | null = null;
  group: IommuGroup | null = null;
  enableCnt = 0;
  /** What pci_save_state() saved (saved_config_space + the capability save buffers). */
  savedState: PciSavedState | null = null;
  /**
   * This port's PCI_EXT_CAP_ID_L1SS save buffer as the device below it last filled it
   * (pci_save_aspm_l1ss_state saves both ends of the link; the child's restore uses it).
   */
  l1ssSaved: Uint32Array | null = null;
  /** The bound driver's private data (vfio-pci: its vfio device). */
  driverData: unknown = null;
  /** Set when the driver's remove is waiting for userspace (vfio-pci with an open device fd). */
  removing = false;
  /**
   * pci_restore_msi_state() for the vectors the kernel has enabled, set by the MSI layer (msi.ts)
   * while dev->msi_enabled or msix_enabled; null otherwise.
   */
  msiRestore: (() => void) | null = null;
  // The function's config bytes and write path, held here because `hw` has a class per device model
  // (accesses through it are megamorphic) and vfio's INTx automask and unmask use them per interrupt.
  private readonly cfgBytes: Uint8Array;
  private readonly cfgPort: ConfigPort;

  constructor(
    readonly hw: PciFunction,
    /** The parent bridge's pci_dev, null on the root bus. */
    readonly parent: PciDev | null,
  ) {
    this.cfgBytes = hw.cfg.bytes;
    this.cfgPort = hw.configPort;
  }

  /** pci_name(): "0000:01:00.0". */
  get name(): string {
    return this.hw.bdf;
  }

  get vendor(): number {
    return this.hw.id.vendor;
  }

  get device(): number {
    return this.hw.id.device;
  }

  get classCode(): number {
    return this.hw.id.classCode;
  }

  /** Header type 0 (PCI_HEADER_TYPE_NORMAL). */
  get isNormal(): boolean {
    return this.hw.headerType === 0;
  }

  get isBridge(): boolean {
    return this.hw.headerType === 1;
  }

  get subordinate(): PciBridge | null {
    return this.isBridge ? (this.hw as PciBridge) : null;
  }

  get isPcie(): boolean {
    return this.hw.cfg.findCap(PCI_CAP_ID_EXP) !== undefined;
  }

  /** pci_pcie_type(), -1 for conventional PCI. */
  get pcieType(): number {
    return this.hw.pcieType;
  }

  get multifunction(): boolean {
    return this.hw.multifunction;
  }

  get cfgSize(): number {
    return this.hw.cfg.size;
  }

  get msiCap(): number {
    return this.hw.cfg.findCap(PCI_CAP_ID_MSI)?.offset ?? 0;
  }

  get msixCap(): number {
    return this.hw.cfg.findCap(PCI_CAP_ID_MSIX)?.offset ?? 0;
  }

  get acsCap(): number {
    return this.hw.cfg.findCap(PCI_EXT_CAP_ID_ACS, true)?.offset ?? 0;
  }

  /** dev->irq: the GSI the INTx pin is routed to (0 if it has none). */
  get irq(): number {
    return this.hw.intx?.line.gsi ?? 0;
  }

  readConfig(off: number, size: number): number {
    return this.hw.configRead(off, size);
  }

  writeConfig(off: number, size: number, value: number): void {
    this.cfgPort.write(off, size, value);
  }

  /** pci_enable_device(): turns on I/O and memory decoding for the BARs the function has. */
  enable(): void {
    if (this.enableCnt++ > 0) return;
    let cmd = this.readConfig(PCI_COMMAND, 2);
    for (const b of this.hw.bars) if (b) cmd |= b.kind === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    if (this.hw.rom) cmd |= PCI_COMMAND_MEMORY;
    this.writeConfig(PCI_COMMAND, 2, cmd);
  }

  /** pci_disable_device(): the last user stops bus mastering. */
  disable(): void {
    if (this.enableCnt === 0 || --this.enableCnt > 0) return;
    this.setMaster(false);
  }

  setMaster(on: boolean): void {
    const cmd = this.readConfig(PCI_COMMAND, 2);
    this.writeConfig(PCI_COMMAND, 2, on ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER);
  }

  /** pci_intx(): sets or clears Interrupt Disable. */
  intx(enable: boolean): void {
    const cmd = this.readConfig(PCI_COMMAND, 2);
    this.writeConfig(PCI_COMMAND, 2, enable ? cmd & ~PCI_COMMAND_INTX_DISABLE : cmd | PCI_COMMAND_INTX_DISABLE);
  }

  /**
   * pci_check_and_set_intx_mask() (drivers/pci/pci.c): one dword read of Command+Status; masking sets
   * Interrupt Disable only if Interrupt Status says this function is asserting (it was our interrupt);
   * unmasking clears it only if Interrupt Status is clear (no interrupt already pending). Returns
   * whether the mask state was updated.
   */
  private checkAndSetIntxMask(mask: boolean): boolean {
    const b = this.cfgBytes;
    const pending = (b[CMD + 2]! & STATUS_INTX) !== 0;
    if (mask !== pending) return false;
    const orig = b[CMD]! | (b[CMD + 1]! << 8);
    const cmd = mask ? orig | CMD_INTX_DISABLE : orig & ~CMD_INTX_DISABLE;
    if (cmd !== orig) this.cfgPort.write(CMD, 2, cmd);
    return true;
  }

  /** pci_check_and_mask_intx(): true if the function was asserting and is now masked. */
  checkAndMaskIntx(): boolean {
    return this.checkAndSetIntxMask(true);
  }

  /** pci_check_and_unmask_intx(): false if an interrupt is pending (it stays masked). */
  checkAndUnmaskIntx(): boolean {
    return this.checkAndSetIntxMask(false);
  }

  /** pci_intx_mask_supported(): whether Interrupt Disable can be toggled (PCI 2.3). */
  intxMaskSupported(): boolean {
    const orig = this.readConfig(PCI_COMMAND, 2);
    this.writeConfig(PCI_COMMAND, 2, orig ^ PCI_COMMAND_INTX_DISABLE);
    const now = this.readConfig(PCI_COMMAND, 2);
    this.writeConfig(PCI_COMMAND, 2, orig);
    return ((now ^ orig) & PCI_COMMAND_INTX_DISABLE) !== 0;
  }

  /** pci_save_state(): the registers drivers/pci keeps (pci-state.ts), not the whole configuration space. */
  saveState(): void {
    this.savedState = pciSaveState(this);
  }

  /**
   * pci_restore_state(): the saved capability registers, the header (BARs before Command, a dword
   * written only when it reads back different), then pci_restore_msi_state() — while the kernel has
   * MSI or MSI-X enabled, the MSI layer writes its cached messages and masks back (a reset cleared the
   * MSI-X table, which is device memory) — and pci_enable_acs(). Registers the kernel does not save
   * stay as the reset left them.
   */
  restoreState(): void {
    const s = this.savedState;
    if (!s) return;
    pciRestoreSavedState(this, s);
    const msi = this.msiRestore;
    if (msi !== null) msi();
    this.enableAcs();
  }

  /** pci_enable_acs(): Source Validation, Request/Completion Redirect, Upstream Forwarding where capable. */
  enableAcs(): void {
    const pos = this.acsCap;
    if (!pos) return;
    const cap = this.readConfig(pos + PCI_ACS_CAP, 2);
    const ctrl = this.readConfig(pos + PCI_ACS_CTRL, 2);
    this.writeConfig(pos + PCI_ACS_CTRL, 2, ctrl | (cap & (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)));
  }
}
