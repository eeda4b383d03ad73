// Capability structures as hardware lays them out (PCI Local Bus 3.0 §6.7-6.8, PCI PM 1.2, PCIe Base
// 4.0 §7.5-7.9), with the bits software may write. Register names and offsets are those of
// include/uapi/linux/pci_regs.h. Each builder appends the capability to a ConfigSpace and returns its
// offset; behaviour (MSI delivery, MSI-X table, INTx) lives in msi.ts, msix.ts and function.ts.

import type { ConfigSpace } from './config-space.js';
import {
  PCI_CAP_ID_EXP, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, PCI_CAP_ID_PM, PCI_CAP_ID_VNDR,
  PCI_EXT_CAP_ID_ACS, PCI_EXT_CAP_ID_ERR, PCI_EXT_CAP_ID_LTR, PCI_EXT_CAP_ID_L1SS, PCI_EXT_CAP_ID_PWR,
  PCI_EXT_CAP_ID_VC, PCI_EXT_CAP_ID_VNDR, PCI_EXT_CAP_ID_DSN,
  PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ROOT_PORT,
  PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_MASKBIT, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL,
  PCI_ACS_SV, PCI_ACS_RR, PCI_ACS_CR, PCI_ACS_UF, PCI_ACS_TB, PCI_ACS_DT,
} from '../../../include-ts/linux/pci_regs.js';

/** Power Management capability, version 3 (8 bytes). PMCSR: PowerState and PME_En writable, PME_Status RW1C. */
export function addPmCap(cs: ConfigSpace, at?: number): number {
  const o = cs.addCap(PCI_CAP_ID_PM, 8, at);
  cs.u16(o + 2, 0x0003 | (1 << 9) | (1 << 10)); // version 3, D1 and D2 supported
  cs.u16(o + 4, 0x0008); // D0, No_Soft_Reset
  cs.writable(o + 4, 2, 0x0103);
  cs.w1c(o + 4, 2, 0x8000);
  return o;
}

export interface MsiCapOptions {
  /** Number of vectors the function can use (1, 2, 4, ... 32). */
  readonly vectors: number;
  readonly is64: boolean;
  readonly maskable: boolean;
}

/** Length of an MSI capability with these options (PCI 3.0 §6.8.1). */
export function msiCapLength(o: MsiCapOptions): number {
  return (o.is64 ? 14 : 10) + (o.maskable ? 10 : 0);
}

export function addMsiCap(cs: ConfigSpace, opts: MsiCapOptions, at?: number): number {
  const len = msiCapLength(opts);
  const o = cs.addCap(PCI_CAP_ID_MSI, len, at);
  const mmc = Math.log2(opts.vectors);
  if (!Number.isInteger(mmc) || mmc < 0 || mmc > 5) throw new RangeError(`MSI vector count ${opts.vectors} is not a power of two up to 32`);
  const ctrl = (mmc << 1) | (opts.is64 ? PCI_MSI_FLAGS_64BIT : 0) | (opts.maskable ? PCI_MSI_FLAGS_MASKBIT : 0);
  cs.u16(o + 2, ctrl);
  cs.writable(o + 2, 2, 0x0071); // Enable, Multiple Message Enable
  cs.writable(o + 4, 4, 0xfffffffc);
  const data = opts.is64 ? 0x0c : 0x08;
  if (opts.is64) cs.writable(o + 8, 4, 0xffffffff);
  cs.writable(o + data, 2, 0xffff);
  if (opts.maskable) {
    const vecMask = opts.vectors === 32 ? 0xffffffff : (1 << opts.vectors) - 1;
    cs.writable(o + data + 4, 4, vecMask >>> 0);
  }
  return o;
}

export interface MsixCapOptions {
  readonly vectors: number;
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
}

export function addMsixCap(cs: ConfigSpace, opts: MsixCapOptions, at?: number): number {
  if (opts.vectors < 1 || opts.vectors > 2048) throw new RangeError(`MSI-X table size ${opts.vectors} is outside 1..2048`);
  const o = cs.addCap(PCI_CAP_ID_MSIX, 12, at);
  cs.u16(o + 2, opts.vectors - 1);
  cs.writable(o + 2, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  cs.u32(o + 4, (opts.tableOffset | opts.tableBar) >>> 0);
  cs.u32(o + 8, (opts.pbaOffset | opts.pbaBar) >>> 0);
  return o;
}

/** A vendor-specific standard capability (ID 9) of `length` bytes, the length in byte 2. */
export function addVendorCap(cs: ConfigSpace, length: number, at?: number): number {
  const o = cs.addCap(PCI_CAP_ID_VNDR, length, at);
  cs.u8(o + 2, length);
  return o;
}

export interface PcieCapOptions {
  /** PCI_EXP_TYPE_* */
  readonly type: number;
  /** Link width and speed (Gen) for Link Capabilities/Status. */
  readonly width?: number;
  readonly speed?: number;
  /** Slot number for root and downstream ports (Slot Implemented). */
  readonly slot?: number;
  /** Capability version: 2 (default, 60 bytes) or 1 (36 bytes: no Device/Link/Slot 2 registers). */
  readonly version?: 1 | 2;
}

/** The PCI Express capability, version 2 (60 bytes) or 1 (36 bytes). */
export function addPcieCap(cs: ConfigSpace, opts: PcieCapOptions, at?: number): number {
  const v = opts.version ?? 2;
  const o = cs.addCap(PCI_CAP_ID_EXP, v === 2 ? 0x3c : 0x24, at);
  const port = opts.type === PCI_EXP_TYPE_ROOT_PORT || opts.type === PCI_EXP_TYPE_DOWNSTREAM;
  cs.u16(o + 2, v | (opts.type << 4) | (port && opts.slot !== undefined ? 0x100 : 0));
  // DevCap: MPS 256 bytes, phantom functions none, extended tags, role-based error reporting, FLR for endpoints.
  const endpoint = !port && opts.type !== 5 && opts.type !== 7;
  cs.u32(o + 4, (0x1 | (1 << 5) | (1 << 15) | (endpoint ? 1 << 28 : 0)) >>> 0);
  // DevCtl: relaxed ordering, no snoop, MPS 128, MRRS 512.
  cs.u16(o + 8, 0x2810);
  cs.writable(o + 8, 2, 0xfeff & ~(endpoint ? 0 : 0x8000));
  cs.w1c(o + 0x0a, 2, 0x000f);
  const speed = opts.speed ?? 3;
  const width = opts.width ?? 1;
  cs.u32(o + 0x0c, (speed | (width << 4) | (3 << 10) | (port ? 1 << 20 : 0) | ((opts.slot ?? 0) << 24)) >>> 0);
  cs.u16(o + 0x10, 0x0040);
  cs.writable(o + 0x10, 2, 0x0ffb);
  cs.u16(o + 0x12, speed | (width << 4) | (port ? 1 << 13 : 0));
  if (port && opts.slot !== undefined) {
    cs.u32(o + 0x14, ((opts.slot << 19) | (1 << 6)) >>> 0); // physical slot number, hot-plug capable
    cs.writable(o + 0x18, 2, 0x1fff);
    cs.u16(o + 0x1a, 0x0040); // presence detect
  }
  if (opts.type === PCI_EXP_TYPE_ROOT_PORT) cs.writable(o + 0x1c, 2, 0x001f);
  if (v === 1) return o;
  cs.u32(o + 0x24, (1 << 4) | (port ? 1 << 5 : 0)); // DevCap2: completion timeout disable (+ ARI forwarding on ports)
  cs.writable(o + 0x28, 2, 0x041f);
  cs.u32(o + 0x2c, 0x0000000e); // LnkCap2: 2.5-8 GT/s
  cs.u16(o + 0x30, speed);
  cs.writable(o + 0x30, 2, 0x0fff);
  return o;
}

/** Advanced Error Reporting (ext cap 1, 0x48 bytes): status registers RW1C, masks and severities RW. */
export function addAerCap(cs: ConfigSpace, at: number): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_ERR, 2, 0x48, at);
  cs.w1c(o + 0x04, 4, 0x03fff030);
  cs.writable(o + 0x08, 4, 0x03fff030);
  cs.u32(o + 0x0c, 0x00462030);
  cs.writable(o + 0x0c, 4, 0x03fff030);
  cs.w1c(o + 0x10, 4, 0x0000f1c1);
  cs.u32(o + 0x14, 0x00002000);
  cs.writable(o + 0x14, 4, 0x0000f1c1);
  cs.u32(o + 0x18, 0x000000a0); // ECRC generation/check capable
  cs.writable(o + 0x18, 4, 0x00000140);
  return o;
}

/** Access Control Services (ext cap 0xd, 8 bytes): capability bits RO, control RW. */
export function addAcsCap(cs: ConfigSpace, at: number, capBits = PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_DT): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_ACS, 1, 8, at);
  cs.u16(o + 4, capBits);
  cs.writable(o + 6, 2, capBits);
  return o;
}

/** Virtual Channel (ext cap 2): one VC, VC0 enabled; 0x1c bytes. */
export function addVcCap(cs: ConfigSpace, at: number): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_VC, 1, 0x1c, at);
  cs.u32(o + 0x10, 0x00000001); // VC0 resource capability: port arbitration
  cs.u32(o + 0x14, 0x800000ff); // VC0 enabled, TC0-7 mapped
  cs.writable(o + 0x14, 4, 0x000000fe);
  return o;
}

/** Device Serial Number (ext cap 3, 12 bytes). */
export function addDsnCap(cs: ConfigSpace, at: number, serialLo: number, serialHi: number): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_DSN, 1, 12, at);
  cs.u32(o + 4, serialLo >>> 0);
  cs.u32(o + 8, serialHi >>> 0);
  return o;
}

/** Latency Tolerance Reporting (ext cap 0x18, 8 bytes). */
export function addLtrCap(cs: ConfigSpace, at: number): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_LTR, 1, 8, at);
  cs.writable(o + 4, 4, 0x1fff1fff);
  return o;
}

/** L1 PM Substates (ext cap 0x1e, 0x10 bytes). */
export function addL1ssCap(cs: ConfigSpace, at: number): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_L1SS, 1, 0x10, at);
  cs.u32(o + 4, 0x0028281f);
  cs.writable(o + 8, 4, 0xffff030f);
  cs.writable(o + 0x0c, 4, 0x000000fb);
  return o;
}

/** Power Budgeting (ext cap 4, 0x10 bytes). */
export function addPowerBudgetCap(cs: ConfigSpace, at: number): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_PWR, 1, 0x10, at);
  cs.writable(o + 4, 1, 0xff);
  return o;
}

/** Vendor-Specific Extended Capability (ext cap 0xb): VSEC ID, revision, length. */
export function addVsecCap(cs: ConfigSpace, at: number, id: number, rev: number, length: number): number {
  const o = cs.addExtCap(PCI_EXT_CAP_ID_VNDR, 1, length, at);
  cs.u32(o + 4, ((id & 0xffff) | ((rev & 0xf) << 16) | ((length & 0xfff) << 20)) >>> 0);
  return o;
}

/** Any other extended capability: a header and `length` bytes of read-only zeros. */
export function addRawExtCap(cs: ConfigSpace, at: number, id: number, version: number, length: number): number {
  return cs.addExtCap(id, version, length, at);
}
