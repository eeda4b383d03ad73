// What the PCI core saves and restores around a reset, and nothing more: drivers/pci/pci.c
// pci_save_state / pci_restore_state (pci_save_pcie_state, pci_restore_config_space with the
// compare-before-write pci_restore_config_dword), drivers/pci/access.c (pcie_capability_read/write_word
// only touch registers pcie_capability_reg_implemented() says exist), drivers/pci/pcie/aspm.c (LTR and
// L1 PM Substates), drivers/pci/pcie/aer.c (pci_save/restore_aer_state, pci_aer_raw_clear_status),
// drivers/pci/vc.c (pci_vc_do_save_buffer). MSI/MSI-X are restored by the MSI layer (pci_restore_msi_state)
// and ACS by pci_enable_acs, both called at the end; every other capability register (PM, MSI/MSI-X
// capability bytes, power budget, vendor-specific...) is left as the reset made it.
//
// Capabilities the model's hardware never has are not modeled: PCI-X, DPC, PTM, TPH, PASID, PRI, ATS,
// Resizable BAR, SR-IOV, and VC arbitration tables (no modeled VC capability has one).

import {
  PCI_CAP_ID_EXP, PCI_ERR_CAP, PCI_ERR_COR_MASK, PCI_ERR_COR_STATUS, PCI_ERR_ROOT_COMMAND, PCI_ERR_ROOT_STATUS,
  PCI_ERR_UNCOR_MASK, PCI_ERR_UNCOR_SEVER, PCI_ERR_UNCOR_STATUS, PCI_EXP_DEVCTL, PCI_EXP_DEVCTL2, PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_SLOT, PCI_EXP_FLAGS_VERS, PCI_EXP_LNKCTL, PCI_EXP_LNKCTL2, PCI_EXP_LNKCTL_ASPMC, PCI_EXP_RTCTL,
  PCI_EXP_SLTCTL, PCI_EXP_SLTCTL2, PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCIE_BRIDGE, PCI_EXP_TYPE_PCI_BRIDGE, PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM, PCI_EXT_CAP_ID_ERR, PCI_EXT_CAP_ID_L1SS, PCI_EXT_CAP_ID_LTR, PCI_EXT_CAP_ID_MFVC,
  PCI_EXT_CAP_ID_VC, PCI_EXT_CAP_ID_VC9, PCI_L1SS_CTL1, PCI_L1SS_CTL1_L1_2_MASK, PCI_L1SS_CTL2,
  PCI_LTR_MAX_SNOOP_LAT, PCI_VC_CAP1_EVCC, PCI_VC_PORT_CAP1, PCI_VC_PORT_CTRL, PCI_VC_RES_CTRL,
  PCI_VC_RES_CTRL_ENABLE, PCI_CAP_VC_PER_VC_SIZEOF,
} from '../../../include-ts/linux/pci_regs.js';
import type { PciDev } from './pci-dev.js';

/** pci_save_pcie_state()'s order: cap[0..6]. */
const PCIE_SAVE_REGS = [PCI_EXP_DEVCTL, PCI_EXP_LNKCTL, PCI_EXP_SLTCTL, PCI_EXP_RTCTL, PCI_EXP_DEVCTL2, PCI_EXP_LNKCTL2, PCI_EXP_SLTCTL2] as const;

/** struct pci_saved_state: saved_config_space[16] and the device's own capability save buffers. */
export interface PciSavedState {
  readonly config: Uint32Array;
  /** PCI_CAP_ID_EXP buffer: the seven words of PCIE_SAVE_REGS (0 for registers not implemented). */
  readonly pcie: Uint16Array | null;
  /** PCI_EXT_CAP_ID_LTR buffer: the Max Snoop/No-Snoop Latency dword. */
  readonly ltr: number | null;
  /** PCI_EXT_CAP_ID_L1SS buffer: [CTL2, CTL1]. */
  readonly l1ss: Uint32Array | null;
  /** PCI_EXT_CAP_ID_ERR buffer: UNCOR_MASK, UNCOR_SEVER, COR_MASK, CAP (and ROOT_COMMAND with an RTCTL). */
  readonly aer: Uint32Array | null;
  /** The MFVC, VC and VC9 buffers (each capability the function has, in vc_caps[] order): the Port VC
   *  Control word, then each VC's Resource Control. */
  readonly vc: readonly VcSaved[];
}

function extCap(dev: PciDev, id: number): number {
  return dev.hw.cfg.findCap(id, true)?.offset ?? 0;
}

function pcieCap(dev: PciDev): number {
  return dev.hw.cfg.findCap(PCI_CAP_ID_EXP)?.offset ?? 0;
}

function pcieFlags(dev: PciDev, pos: number): number {
  return dev.readConfig(pos + PCI_EXP_FLAGS, 2);
}

/** pcie_cap_has_rtctl(): root ports and root complex event collectors. */
function hasRtctl(dev: PciDev): boolean {
  const t = dev.pcieType;
  return t === PCI_EXP_TYPE_ROOT_PORT || t === PCI_EXP_TYPE_RC_EC;
}

/** pcie_downstream_port(). */
function downstreamPort(dev: PciDev): boolean {
  const t = dev.pcieType;
  return t === PCI_EXP_TYPE_ROOT_PORT || t === PCI_EXP_TYPE_DOWNSTREAM || t === PCI_EXP_TYPE_PCIE_BRIDGE;
}

/**
 * pcie_capability_reg_implemented() for the registers pci_save_pcie_state() touches. SLTCTL2 is not in
 * its list, so it always reads 0 and is never written.
 */
function implemented(dev: PciDev, pos: number, reg: number): boolean {
  const t = dev.pcieType;
  switch (reg) {
    case PCI_EXP_DEVCTL:
      return true;
    case PCI_EXP_LNKCTL:
      return t === PCI_EXP_TYPE_ENDPOINT || t === PCI_EXP_TYPE_LEG_END || t === PCI_EXP_TYPE_ROOT_PORT || t === PCI_EXP_TYPE_UPSTREAM
        || t === PCI_EXP_TYPE_DOWNSTREAM || t === PCI_EXP_TYPE_PCI_BRIDGE || t === PCI_EXP_TYPE_PCIE_BRIDGE;
    case PCI_EXP_SLTCTL:
      // pcie_cap_has_sltctl(): any downstream port (a PCI/PCI-X-to-PCIe bridge too) with a slot.
      return downstreamPort(dev) && (pcieFlags(dev, pos) & PCI_EXP_FLAGS_SLOT) !== 0;
    case PCI_EXP_RTCTL:
      return hasRtctl(dev);
    case PCI_EXP_DEVCTL2:
    case PCI_EXP_LNKCTL2:
      return (pcieFlags(dev, pos) & PCI_EXP_FLAGS_VERS) > 1;
    default:
      return false;
  }
}

function pcieRead(dev: PciDev, reg: number): number {
  const pos = pcieCap(dev);
  return pos && implemented(dev, pos, reg) ? dev.readConfig(pos + reg, 2) : 0;
}

function pcieWrite(dev: PciDev, reg: number, v: number): void {
  const pos = pcieCap(dev);
  if (pos && implemented(dev, pos, reg)) dev.writeConfig(pos + reg, 2, v);
}

/** vc.c vc_caps[]: pci_save_vc_state() and pci_restore_vc_state() visit every one the function has. */
const VC_CAPS = [PCI_EXT_CAP_ID_MFVC, PCI_EXT_CAP_ID_VC, PCI_EXT_CAP_ID_VC9] as const;

export interface VcSaved {
  readonly id: number;
  readonly portCtrl: number;
  readonly resCtrl: Uint32Array;
}

/** pci_save_state(). */
export function pciSaveState(dev: PciDev): PciSavedState {
  const config = new Uint32Array(16);
  for (let i = 0; i < 16; i++) config[i] = dev.readConfig(i * 4, 4);
  let pcie: Uint16Array | null = null;
  let ltr: number | null = null;
  let l1ss: Uint32Array | null = null;
  if (dev.isPcie) {
    // pci_save_pcie_state(), which ends with pci_save_aspm_l1ss_state() and pci_save_ltr_state().
    pcie = new Uint16Array(PCIE_SAVE_REGS.length);
    for (let i = 0; i < PCIE_SAVE_REGS.length; i++) pcie[i] = pcieRead(dev, PCIE_SAVE_REGS[i]!);
    const parent = dev.parent;
    const l1 = extCap(dev, PCI_EXT_CAP_ID_L1SS);
    const pl1 = parent ? extCap(parent, PCI_EXT_CAP_ID_L1SS) : 0;
    // Only the component below a link saves (and later restores) both ends' L1SS configuration.
    if (parent && !downstreamPort(dev) && l1 && pl1) {
      l1ss = Uint32Array.of(dev.readConfig(l1 + PCI_L1SS_CTL2, 4), dev.readConfig(l1 + PCI_L1SS_CTL1, 4));
      parent.l1ssSaved = Uint32Array.of(parent.readConfig(pl1 + PCI_L1SS_CTL2, 4), parent.readConfig(pl1 + PCI_L1SS_CTL1, 4));
    }
    const lt = extCap(dev, PCI_EXT_CAP_ID_LTR);
    if (lt) ltr = dev.readConfig(lt + PCI_LTR_MAX_SNOOP_LAT, 4);
  }
  // pci_save_aer_state(): dev->aer_cap is the AER capability (pci_aer_init).
  let aer: Uint32Array | null = null;
  const ae = dev.isPcie ? extCap(dev, PCI_EXT_CAP_ID_ERR) : 0;
  if (ae) {
    const regs = [PCI_ERR_UNCOR_MASK, PCI_ERR_UNCOR_SEVER, PCI_ERR_COR_MASK, PCI_ERR_CAP];
    if (hasRtctl(dev)) regs.push(PCI_ERR_ROOT_COMMAND);
    aer = Uint32Array.from(regs, (r) => dev.readConfig(ae + r, 4));
  }
  // pci_save_vc_state() -> pci_vc_do_save_buffer(save) for each VC capability: Port VC Control, then
  // each VC's Resource Control.
  const vc: VcSaved[] = [];
  for (const id of VC_CAPS) {
    const vp = extCap(dev, id);
    if (!vp) continue;
    const n = (dev.readConfig(vp + PCI_VC_PORT_CAP1, 4) & PCI_VC_CAP1_EVCC) + 1;
    const resCtrl = new Uint32Array(n);
    for (let i = 0; i < n; i++) resCtrl[i] = dev.readConfig(vp + PCI_VC_RES_CTRL + i * PCI_CAP_VC_PER_VC_SIZEOF, 4);
    vc.push({ id, portCtrl: dev.readConfig(vp + PCI_VC_PORT_CTRL, 2), resCtrl });
  }
  return { config, pcie, ltr, l1ss, aer, vc };
}

/** pci_restore_config_dword(): read first, write only a differing value, re-write up to `retry` times. */
function restoreDword(dev: PciDev, off: number, saved: number, retry: number, force: boolean): void {
  let val = dev.readConfig(off, 4);
  if (!force && val === saved) return;
  for (;;) {
    dev.writeConfig(off, 4, saved);
    if (retry-- <= 0) return;
    val = dev.readConfig(off, 4);
    if (val === saved) return;
  }
}

/** pci_restore_config_space_range(): from dword `end` down to `start`. */
function restoreRange(dev: PciDev, s: PciSavedState, start: number, end: number, retry: number, force: boolean): void {
  for (let i = end; i >= start; i--) restoreDword(dev, i * 4, s.config[i]!, retry, force);
}

/** pci_restore_config_space(): the 16 header dwords, BARs before Command. */
function restoreConfigSpace(dev: PciDev, s: PciSavedState): void {
  if (dev.isNormal) {
    restoreRange(dev, s, 10, 15, 0, false);
    restoreRange(dev, s, 4, 9, 10, false);
    restoreRange(dev, s, 0, 3, 0, false);
  } else if (dev.isBridge) {
    restoreRange(dev, s, 12, 15, 0, false);
    // The prefetchable window registers are rewritten even when they read back unchanged.
    restoreRange(dev, s, 9, 11, 0, true);
    restoreRange(dev, s, 0, 8, 0, false);
  } else {
    restoreRange(dev, s, 0, 15, 0, false);
  }
}

/** pci_restore_aspm_l1ss_state(): both ends of the link, L1.2 enables last. */
function restoreL1ss(dev: PciDev, s: PciSavedState): void {
  const parent = dev.parent;
  if (!parent || downstreamPort(dev) || !s.l1ss || !parent.l1ssSaved) return;
  const l1 = extCap(dev, PCI_EXT_CAP_ID_L1SS);
  const pl1 = extCap(parent, PCI_EXT_CAP_ID_L1SS);
  if (!l1 || !pl1) return;
  const clCtl2 = s.l1ss[0]!;
  let clCtl1 = s.l1ss[1]!;
  const plCtl2 = parent.l1ssSaved[0]!;
  let plCtl1 = parent.l1ssSaved[1]!;
  const clnkctl = pcieRead(dev, PCI_EXP_LNKCTL);
  const plnkctl = pcieRead(parent, PCI_EXP_LNKCTL);
  const aspm = (clnkctl & PCI_EXP_LNKCTL_ASPMC) !== 0 || (plnkctl & PCI_EXP_LNKCTL_ASPMC) !== 0;
  if (aspm) {
    pcieWrite(dev, PCI_EXP_LNKCTL, clnkctl & ~PCI_EXP_LNKCTL_ASPMC);
    pcieWrite(parent, PCI_EXP_LNKCTL, plnkctl & ~PCI_EXP_LNKCTL_ASPMC);
  }
  dev.writeConfig(l1 + PCI_L1SS_CTL1, 4, dev.readConfig(l1 + PCI_L1SS_CTL1, 4) & ~PCI_L1SS_CTL1_L1_2_MASK);
  parent.writeConfig(pl1 + PCI_L1SS_CTL1, 4, parent.readConfig(pl1 + PCI_L1SS_CTL1, 4) & ~PCI_L1SS_CTL1_L1_2_MASK);
  const plEnable = plCtl1 & PCI_L1SS_CTL1_L1_2_MASK;
  const clEnable = clCtl1 & PCI_L1SS_CTL1_L1_2_MASK;
  plCtl1 &= ~PCI_L1SS_CTL1_L1_2_MASK;
  clCtl1 &= ~PCI_L1SS_CTL1_L1_2_MASK;
  parent.writeConfig(pl1 + PCI_L1SS_CTL2, 4, plCtl2);
  dev.writeConfig(l1 + PCI_L1SS_CTL2, 4, clCtl2);
  parent.writeConfig(pl1 + PCI_L1SS_CTL1, 4, plCtl1 >>> 0);
  dev.writeConfig(l1 + PCI_L1SS_CTL1, 4, clCtl1 >>> 0);
  if (plEnable || clEnable) {
    parent.writeConfig(pl1 + PCI_L1SS_CTL1, 4, (plCtl1 | plEnable) >>> 0);
    dev.writeConfig(l1 + PCI_L1SS_CTL1, 4, (clCtl1 | clEnable) >>> 0);
  }
  if (aspm) {
    pcieWrite(parent, PCI_EXP_LNKCTL, plnkctl);
    pcieWrite(dev, PCI_EXP_LNKCTL, clnkctl);
  }
}

/**
 * pci_restore_state() up to the MSI layer: pci_restore_pcie_state (LTR latencies and L1SS before the
 * PCIe control words), VC, AER (status cleared, then masks/severities/control), the header. The caller
 * then runs pci_restore_msi_state and pci_enable_acs.
 */
export function pciRestoreSavedState(dev: PciDev, s: PciSavedState): void {
  const lt = extCap(dev, PCI_EXT_CAP_ID_LTR);
  if (s.ltr !== null && lt) dev.writeConfig(lt + PCI_LTR_MAX_SNOOP_LAT, 4, s.ltr);
  restoreL1ss(dev, s);
  // pci_bridge_reconfigure_ltr() would re-enable LTR on an upstream bridge with ltr_path; no modeled
  // device advertises LTR in DEVCAP2, so no bridge has one.
  if (s.pcie) for (let i = 0; i < PCIE_SAVE_REGS.length; i++) pcieWrite(dev, PCIE_SAVE_REGS[i]!, s.pcie[i]!);
  // pci_restore_vc_state(): each saved VC capability the function (still) has.
  for (const { id, portCtrl, resCtrl } of s.vc) {
    const pos = extCap(dev, id);
    if (!pos) continue;
    dev.writeConfig(pos + PCI_VC_PORT_CTRL, 2, portCtrl);
    for (let i = 0; i < resCtrl.length; i++) {
      // An FLR may leave the VC configured: keep the current Enable, restore the rest.
      const at = pos + PCI_VC_RES_CTRL + i * PCI_CAP_VC_PER_VC_SIZEOF;
      const tmp = (dev.readConfig(at, 4) & PCI_VC_RES_CTRL_ENABLE) | (resCtrl[i]! & ~PCI_VC_RES_CTRL_ENABLE);
      dev.writeConfig(at, 4, tmp >>> 0);
    }
  }
  const ae = dev.isPcie ? extCap(dev, PCI_EXT_CAP_ID_ERR) : 0;
  if (ae) {
    // pci_aer_clear_status() -> pci_aer_raw_clear_status() (AER is native here: the OS owns it).
    if (hasRtctl(dev)) dev.writeConfig(ae + PCI_ERR_ROOT_STATUS, 4, dev.readConfig(ae + PCI_ERR_ROOT_STATUS, 4));
    dev.writeConfig(ae + PCI_ERR_COR_STATUS, 4, dev.readConfig(ae + PCI_ERR_COR_STATUS, 4));
    dev.writeConfig(ae + PCI_ERR_UNCOR_STATUS, 4, dev.readConfig(ae + PCI_ERR_UNCOR_STATUS, 4));
    if (s.aer) {
      const regs = [PCI_ERR_UNCOR_MASK, PCI_ERR_UNCOR_SEVER, PCI_ERR_COR_MASK, PCI_ERR_CAP, PCI_ERR_ROOT_COMMAND];
      for (let i = 0; i < s.aer.length; i++) dev.writeConfig(ae + regs[i]!, 4, s.aer[i]!);
    }
  }
  restoreConfigSpace(dev, s);
}
