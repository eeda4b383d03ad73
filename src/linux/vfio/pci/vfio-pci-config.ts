// drivers/vfio/pci/vfio_pci_config.c: configuration-space virtualization for a vfio-pci device.
//
// At open the kernel copies the hardware config space into a virtual copy (vconfig) and builds a map
// from each byte to the capability that owns it (PCI_CAP_ID_BASIC for the header; 0xff for bytes in no
// capability, which are raw read/write). Capabilities whose length table entry is 0 are hidden: dropped
// from the virtual chain (the first extended capability is kept as an anchor with its ID zeroed).
// Each capability has permission bits per byte: `virt` (the value lives in vconfig) and `write` (the user
// may change it; other bits are dropped silently, the write still "succeeds"). Reads merge hardware bits
// with virtual ones; writes send writable non-virtual bits to hardware.
// Special handlers: the header (virtual BARs with sizing, virtual INTx Disable, Memory/IO enable
// tracking that zaps mmaps), PM (PowerState trapped), PCIe (FLR virtualized → function reset, MPS
// virtual, MRRS floor), MSI (Enable forced off unless MSI was enabled by SET_IRQS, MME clamped),
// MSI-X (read-only passthrough), vendor-specific (raw writable), AER (status/mask/severity writable).

import { getU16, getU32, setU16, setU32 } from '../../../../abi/bytes.js';
import { kerr } from '../../errors.js';
import {
  PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_SPACE_IO, PCI_BIST,
  PCI_CACHE_LINE_SIZE, PCI_CAPABILITY_LIST, PCI_CAP_ID_EXP, PCI_CAP_ID_MAX, PCI_CAP_ID_MSI, PCI_CAP_ID_PM, PCI_CAP_ID_VNDR,
  PCI_CAP_LIST_NEXT, PCI_CFG_SPACE_SIZE, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_IO, PCI_COMMAND_MEMORY,
  PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR, PCI_EXP_DEVCTL, PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_ARI, PCI_EXP_DEVCTL_BCR_FLR,
  PCI_EXP_DEVCTL_PAYLOAD, PCI_EXP_DEVCTL_PHANTOM, PCI_EXP_DEVCTL_READRQ, PCI_EXP_FLAGS, PCI_EXP_FLAGS_VERS, PCI_EXP_TYPE_RC_END,
  PCI_EXT_CAP_ID_ERR, PCI_EXT_CAP_ID_MAX, PCI_EXT_CAP_ID_VNDR, PCI_INTERRUPT_LINE, PCI_INTERRUPT_PIN, PCI_LATENCY_TIMER,
  PCI_MSI_FLAGS, PCI_MSI_FLAGS_64BIT, PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_MASKBIT, PCI_MSI_FLAGS_QSIZE, PCI_PM_CAP_PME_MASK,
  PCI_PWR_DATA, PCI_EXT_CAP_ID_PWR, PCI_PM_CTRL, PCI_PM_CTRL_PME_ENABLE, PCI_PM_CTRL_PME_STATUS, PCI_PM_CTRL_STATE_MASK, PCI_PM_PMC, PCI_ROM_ADDRESS, PCI_ROM_ADDRESS_ENABLE, PCI_STATUS, PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF, PCI_ERR_CAP, PCI_ERR_CAP_ECRC_CHKE, PCI_ERR_CAP_ECRC_GENE, PCI_ERR_COR_MASK, PCI_ERR_COR_STATUS,
  PCI_ERR_UNCOR_MASK, PCI_ERR_UNCOR_SEVER, PCI_ERR_UNCOR_STATUS, PCI_ERR_ROOT_COMMAND, PCI_CAP_EXP_ENDPOINT_SIZEOF_V1,
  PCI_VC_PORT_CAP1, PCI_VC_CAP1_EVCC, PCI_CAP_VC_BASE_SIZEOF, PCI_CAP_VC_PER_VC_SIZEOF,
  PCI_ACS_CAP, PCI_ACS_EC, PCI_ACS_EGRESS_BITS, PCI_EXT_CAP_DSN_SIZEOF, PCI_EXT_CAP_PWR_SIZEOF, PCI_EXT_CAP_LTR_SIZEOF,
} from '../../../../include-ts/linux/pci_regs.js';
import type { PciDev } from '../../pci/pci-dev.js';

export const PCI_CAP_ID_BASIC = 0;
export const PCI_CAP_ID_INVALID = 0xff;

/** What the config code needs from the vfio-pci device (vfio_pci_core_device). */
export interface VfioPciConfigOwner {
  readonly pdev: PciDev;
  /** vdev->irq_type === VFIO_PCI_MSI_IRQ_INDEX */
  readonly msiEnabledByIoctl: boolean;
  /** vdev->msi_qmax */
  readonly msiQmax: number;
  /** Memory Space was cleared: mmaps must be zapped (they fault SIGBUS until it is set again). */
  zapMmaps(): void;
  /** Virtual INTx Disable changed (vfio_pci_intx_mask / vfio_pci_intx_unmask). */
  intxMask(): void;
  intxUnmask(): void;
  /** pci_try_reset_function() for a virtualized FLR. */
  resetFunction(): void;
  /** vfio_pci_set_power_state() after a PowerState write (0-3: D0-D3hot). */
  setPowerState(state: number): void;
  /** vfio_bar_restore(): the hardware BARs were lost to a reset behind our back. */
  restoreBars(): void;
}

type ReadFn = (c: VfioPciConfig, pos: number, count: number, perm: PermBits, offset: number) => number;
type WriteFn = (c: VfioPciConfig, pos: number, count: number, perm: PermBits, offset: number, val: number) => void;

export interface PermBits {
  readonly virt: Uint8Array | null;
  readonly write: Uint8Array | null;
  readonly readfn: ReadFn | null;
  readonly writefn: WriteFn | null;
}

const ALL = 0xffffffff;

function perm(size: number, readfn: ReadFn | null, writefn: WriteFn | null): PermBits & { virt: Uint8Array; write: Uint8Array } {
  const n = Math.ceil(size / 4) * 4;
  return { virt: new Uint8Array(n), write: new Uint8Array(n), readfn, writefn };
}

function pset(p: PermBits, off: number, size: number, virt: number, write: number): void {
  for (let i = 0; i < size; i++) {
    p.virt![off + i] = (virt >>> (i * 8)) & 0xff;
    p.write![off + i] = (write >>> (i * 8)) & 0xff;
  }
}

function le(b: Uint8Array | null, off: number, count: number): number {
  if (!b || off >= b.length) return 0;
  let v = 0;
  for (let i = count - 1; i >= 0; i--) v = (v << 8) | (off + i < b.length ? b[off + i]! : 0);
  return v >>> 0;
}

const countMask = (count: number) => (count === 4 ? 0xffffffff : (1 << (count * 8)) - 1);

// ---- default read/write (vfio_default_config_read/write) --------------------------------------------

const defaultRead: ReadFn = (c, pos, count, p, offset) => {
  let val = c.vget(pos, count);
  const virt = le(p.virt, offset, count);
  if (virt !== countMask(count)) {
    const phys = c.pdev.readConfig(pos, count);
    val = ((phys & ~virt) | (val & virt)) >>> 0;
  }
  return val;
};

const defaultWrite: WriteFn = (c, pos, count, p, offset, val) => {
  const write = le(p.write, offset, count);
  if (!write) return;
  const virt = le(p.virt, offset, count);
  if (write & virt) {
    let v = c.vget(pos, count);
    v = ((v & ~(write & virt)) | (val & write & virt)) >>> 0;
    c.vset(pos, count, v);
  }
  if (write & ~virt) {
    let phys = c.pdev.readConfig(pos, count);
    phys = ((phys & ~(write & ~virt)) | (val & write & ~virt)) >>> 0;
    c.pdev.writeConfig(pos, count, phys);
  }
};

/** vfio_direct_config_read(): hardware, but capability ID/next (or the ext header) from vconfig. */
const directRead: ReadFn = (c, pos, count, _p, offset) => {
  let val = c.pdev.readConfig(pos, count);
  const vbytes = (n: number) => {
    const m = countMask(Math.min(n, count));
    val = ((val & ~m) | (c.vget(pos, count) & m)) >>> 0;
  };
  if (pos >= PCI_CFG_SPACE_SIZE) {
    if (offset < 4) vbytes(count);
  } else if (pos >= PCI_STD_HEADER_SIZEOF) {
    if (offset === 0 && count > 1) vbytes(2);
    else if (offset === PCI_CAP_LIST_NEXT) vbytes(1);
  }
  return val;
};

const rawRead: ReadFn = (c, pos, count) => c.pdev.readConfig(pos, count);
const rawWrite: WriteFn = (c, pos, count, _p, _o, val) => c.pdev.writeConfig(pos, count, val);

const DIRECT_RO: PermBits = { virt: null, write: null, readfn: directRead, writefn: null };
const UNASSIGNED: PermBits = { virt: null, write: null, readfn: rawRead, writefn: rawWrite };

// ---- the header ---------------------------------------------------------------------------------------

const isBar = (offset: number) => (offset >= PCI_BASE_ADDRESS_0 && offset < PCI_BASE_ADDRESS_0 + 24) || (offset >= PCI_ROM_ADDRESS && offset < PCI_ROM_ADDRESS + 4);

const basicRead: ReadFn = (c, pos, count, p, offset) => {
  if (isBar(offset)) c.barFixup();
  return defaultRead(c, pos, count, p, offset);
};

const basicWrite: WriteFn = (c, pos, count, p, offset, val) => {
  const pdev = c.pdev;
  let newCmd = 0;
  if (offset === PCI_COMMAND) {
    const phys = pdev.readConfig(PCI_COMMAND, 2);
    const vcmd = c.vget(PCI_COMMAND, 2);
    newCmd = val & 0xffff;
    const physMem = (phys & PCI_COMMAND_MEMORY) !== 0;
    const virtMem = (vcmd & PCI_COMMAND_MEMORY) !== 0;
    const newMem = (newCmd & PCI_COMMAND_MEMORY) !== 0;
    const physIo = (phys & PCI_COMMAND_IO) !== 0;
    const virtIo = (vcmd & PCI_COMMAND_IO) !== 0;
    const newIo = (newCmd & PCI_COMMAND_IO) !== 0;
    if (!newMem) c.owner.zapMmaps();
    // A device that lost its BARs to a reset behind our back is restored before decoding is re-enabled.
    if ((newMem && virtMem && !physMem) || (newIo && virtIo && !physIo)) c.owner.restoreBars();
  }
  defaultWrite(c, pos, count, p, offset, val);
  if (offset === PCI_COMMAND) {
    const mask = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
    c.vset(PCI_COMMAND, 2, (c.vget(PCI_COMMAND, 2) & ~mask) | (newCmd & mask));
  }
  if (offset >= PCI_COMMAND && offset <= PCI_COMMAND + 1) {
    const vIntxDisable = (c.vget(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE) !== 0;
    if (vIntxDisable && !c.virqDisabled) {
      c.virqDisabled = true;
      c.owner.intxMask();
    } else if (!vIntxDisable && c.virqDisabled) {
      c.virqDisabled = false;
      c.owner.intxUnmask();
    }
  }
  if (isBar(offset)) c.bardirty = true;
};

function basicPerm(): PermBits {
  const p = perm(PCI_STD_HEADER_SIZEOF, basicRead, basicWrite);
  pset(p, 0x00, 2, 0xffff, 0); // vendor: virtualized (VFs read 0xffff in hardware)
  pset(p, 0x02, 2, 0xffff, 0);
  pset(p, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE, 0xffff);
  pset(p, PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0);
  pset(p, PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
  pset(p, PCI_LATENCY_TIMER, 1, 0, 0xff);
  pset(p, PCI_BIST, 1, 0, 0xff);
  for (let i = 0; i < 6; i++) pset(p, PCI_BASE_ADDRESS_0 + i * 4, 4, ALL, ALL);
  pset(p, PCI_ROM_ADDRESS, 4, ALL, ALL);
  pset(p, PCI_CAPABILITY_LIST, 1, 0xff, 0);
  pset(p, PCI_INTERRUPT_LINE, 1, 0xff, 0xff);
  pset(p, PCI_INTERRUPT_PIN, 1, 0xff, 0);
  return p;
}

// ---- PM -----------------------------------------------------------------------------------------------

const pmWrite: WriteFn = (c, pos, count, p, offset, val) => {
  defaultWrite(c, pos, count, p, offset, val);
  // PowerState is trapped: vfio changes the state itself (vfio_lock_and_set_power_state(): D3hot and
  // beyond zap the BAR mappings, and Memory Space counts as off until the device is back in D0).
  if (offset === PCI_PM_CTRL) {
    const state = val & PCI_PM_CTRL_STATE_MASK;
    const cur = c.pdev.readConfig(pos, 2);
    c.pdev.writeConfig(pos, 2, (cur & ~PCI_PM_CTRL_STATE_MASK) | state);
    c.owner.setPowerState(state);
  }
};

/** PME_En and PME_Status: virtualized, the host's business (init_pci_cap_pm_perm()). */
const PM_CTRL_PME = PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS;

function pmPerm(): PermBits {
  const p = perm(8, defaultRead, pmWrite);
  pset(p, PCI_CAP_LIST_NEXT, 1, 0xff, 0);
  pset(p, PCI_PM_PMC, 2, PCI_PM_CAP_PME_MASK, 0);
  pset(p, PCI_PM_CTRL, 4, PM_CTRL_PME, ~(PM_CTRL_PME | PCI_PM_CTRL_STATE_MASK) >>> 0);
  return p;
}

// ---- PCI Express --------------------------------------------------------------------------------------

const expWrite: WriteFn = (c, pos, count, p, offset, val) => {
  const start = pos - offset;
  const readrq = c.vget(start + PCI_EXP_DEVCTL, 2) & PCI_EXP_DEVCTL_READRQ;
  defaultWrite(c, pos, count, p, offset, val);
  const ctl = c.vget(start + PCI_EXP_DEVCTL, 2);
  if (ctl & PCI_EXP_DEVCTL_BCR_FLR) {
    c.vset(start + PCI_EXP_DEVCTL, 2, ctl & ~PCI_EXP_DEVCTL_BCR_FLR);
    if (c.pdev.readConfig(start + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR) c.owner.resetFunction();
  }
  const now = c.vget(start + PCI_EXP_DEVCTL, 2) & PCI_EXP_DEVCTL_READRQ;
  if (readrq !== now) {
    // MRRS is written to hardware, but never below the device's real MPS (pcie_set_readrq()).
    const mps = 128 << ((c.pdev.readConfig(start + PCI_EXP_DEVCTL, 2) & PCI_EXP_DEVCTL_PAYLOAD) >> 5);
    const want = Math.max(128 << (now >> 12), mps);
    // pcie_set_readrq() refuses more than 4096 bytes (the reserved codes 6 and 7): hardware keeps its value.
    if (want <= 4096) {
      const code = Math.log2(want / 128) << 12;
      const hw = c.pdev.readConfig(start + PCI_EXP_DEVCTL, 2);
      c.pdev.writeConfig(start + PCI_EXP_DEVCTL, 2, (hw & ~PCI_EXP_DEVCTL_READRQ) | code);
    }
  }
};

/**
 * A v2 endpoint's PCIe capability ends after Link Status 2: 0x34, the value of 6.18's
 * PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 since "PCI: Fix PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 value" (the installed
 * 6.1 uapi header, which include-ts mirrors, still says 0x32), so LNKSTA2 reads from hardware and takes
 * no writes.
 */
const EXP_ENDPOINT_SIZEOF_V2 = 0x34;

function expPerm(): PermBits {
  const p = perm(EXP_ENDPOINT_SIZEOF_V2, defaultRead, expWrite);
  pset(p, PCI_CAP_LIST_NEXT, 1, 0xff, 0);
  pset(p, PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ, ~PCI_EXP_DEVCTL_PHANTOM & 0xffff);
  pset(p, PCI_EXP_DEVCTL2, 2, 0, ~PCI_EXP_DEVCTL2_ARI & 0xffff);
  return p;
}

// ---- MSI ----------------------------------------------------------------------------------------------

/**
 * vfio_msi_config_read(): the code refreshes the "queue max" field from msi_qmax, but at the
 * capability's first word (ID/next) rather than at Message Control; the ID byte is read from hardware,
 * so the user sees the device's own Multiple Message Capable field. We keep that observable behaviour.
 */
const msiRead: ReadFn = (c, pos, count, p, offset) => defaultRead(c, pos, count, p, offset);

const msiWrite: WriteFn = (c, pos, count, p, offset, val) => {
  defaultWrite(c, pos, count, p, offset, val);
  if (offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS) {
    const start = pos - offset;
    let flags = c.vget(start + PCI_MSI_FLAGS, 2);
    // MSI is enabled via ioctl only; Multiple Message Enable is clamped to what was allocated.
    if (!c.owner.msiEnabledByIoctl) flags &= ~PCI_MSI_FLAGS_ENABLE;
    if ((flags & PCI_MSI_FLAGS_QSIZE) >> 4 > c.owner.msiQmax) {
      flags = (flags & ~PCI_MSI_FLAGS_QSIZE) | (c.owner.msiQmax << 4);
    }
    c.vset(start + PCI_MSI_FLAGS, 2, flags);
    c.pdev.writeConfig(start + PCI_MSI_FLAGS, 2, flags);
  }
};

function msiPerm(len: number, flags: number): PermBits {
  const p = perm(len, msiRead, msiWrite);
  pset(p, PCI_CAP_LIST_NEXT, 1, 0xff, 0);
  pset(p, PCI_MSI_FLAGS, 1, 0xff, 0xff);
  pset(p, 4, 4, ALL, ALL);
  if (flags & PCI_MSI_FLAGS_64BIT) {
    pset(p, 8, 4, ALL, ALL);
    pset(p, 0x0c, 2, 0xffff, 0xffff);
    if (flags & PCI_MSI_FLAGS_MASKBIT) {
      pset(p, 0x10, 4, 0, ALL);
      pset(p, 0x14, 4, 0, ALL);
    }
  } else {
    pset(p, 8, 2, 0xffff, 0xffff);
    if (flags & PCI_MSI_FLAGS_MASKBIT) {
      pset(p, 0x0c, 4, 0, ALL);
      pset(p, 0x10, 4, 0, ALL);
    }
  }
  return p;
}

// ---- AER ----------------------------------------------------------------------------------------------

function errPerm(): PermBits {
  const p = perm(PCI_ERR_ROOT_COMMAND, defaultRead, defaultWrite);
  pset(p, 0, 4, ALL, 0);
  const unc = 0x0000_0001 | 0x10 | 0x20 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x80000 | 0x100000 | 0x200000 | 0x400000 | 0x800000 | 0x1000000 | 0x2000000;
  pset(p, PCI_ERR_UNCOR_STATUS, 4, 0, unc);
  pset(p, PCI_ERR_UNCOR_MASK, 4, 0, unc);
  pset(p, PCI_ERR_UNCOR_SEVER, 4, 0, unc);
  const cor = 0x1 | 0x40 | 0x80 | 0x100 | 0x1000 | 0x2000 | 0x4000 | 0x8000;
  pset(p, PCI_ERR_COR_STATUS, 4, 0, cor);
  pset(p, PCI_ERR_COR_MASK, 4, 0, cor);
  pset(p, PCI_ERR_CAP, 4, 0, PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE);
  return p;
}

// ---- tables ---------------------------------------------------------------------------------------------

/** pci_cap_length[]: 0 hides the capability, 0xff is variable (computed by capLen). */
const PCI_CAP_LENGTH: Record<number, number> = {
  0x00: PCI_STD_HEADER_SIZEOF, 0x01: 8, 0x02: 12, 0x03: 8, 0x04: 0, 0x05: 0xff, 0x06: 0, 0x07: 0xff, 0x08: 0xff, 0x09: 0xff,
  0x0a: 0, 0x0b: 0, 0x0c: 0, 0x0d: 0, 0x0e: 0, 0x0f: 0, 0x10: 0xff, 0x11: 12, 0x12: 0xff, 0x13: 6,
};

/** pci_ext_cap_length[] */
const PCI_EXT_CAP_LENGTH: Record<number, number> = {
  0x01: PCI_ERR_ROOT_COMMAND, 0x02: 0xff, 0x03: PCI_EXT_CAP_DSN_SIZEOF, 0x04: PCI_EXT_CAP_PWR_SIZEOF, 0x05: 0, 0x06: 0, 0x07: 0,
  0x08: 0xff, 0x09: 0xff, 0x0a: 0, 0x0b: 0xff, 0x0c: 0, 0x0d: 0xff, 0x0e: 8, 0x0f: 8, 0x10: 0x40, 0x11: 0, 0x12: 40, 0x13: 0x10,
  0x14: 0, 0x15: 0xff, 0x16: 0xff, 0x17: 0xff, 0x18: PCI_EXT_CAP_LTR_SIZEOF, 0x19: 0, 0x1a: 0, 0x1b: 0, 0x23: 0xff,
};

const CAP_PERMS: Record<number, PermBits> = {
  [PCI_CAP_ID_BASIC]: basicPerm(),
  [PCI_CAP_ID_PM]: pmPerm(),
  [PCI_CAP_ID_EXP]: expPerm(),
  [PCI_CAP_ID_VNDR]: { virt: null, write: null, readfn: directRead, writefn: rawWrite },
};

/**
 * init_pci_ext_cap_pwr_perm(): the header virtual; the byte at PCI_PWR_DATA written through (the source's
 * comment calls it the data selector, the code names the Data register).
 */
function pwrPerm(): PermBits {
  const p = perm(PCI_EXT_CAP_PWR_SIZEOF, defaultRead, defaultWrite);
  pset(p, 0, 4, ALL, 0);
  pset(p, PCI_PWR_DATA, 1, 0, 0xff);
  return p;
}

const ECAP_PERMS: Record<number, PermBits> = {
  [PCI_EXT_CAP_ID_ERR]: errPerm(),
  [PCI_EXT_CAP_ID_PWR]: pwrPerm(),
  [PCI_EXT_CAP_ID_VNDR]: { virt: null, write: null, readfn: directRead, writefn: rawWrite },
  0x23: { virt: null, write: null, readfn: directRead, writefn: rawWrite },
};

/** The per-device virtual configuration space (vdev->vconfig, pci_config_map, msi_perm, bardirty). */
export class VfioPciConfig {
  readonly vconfig: Uint8Array;
  readonly map: Uint8Array;
  bardirty = true;
  virqDisabled = false;
  private msiPerm: PermBits | null = null;
  private extendedCaps = false;
  /** Hardware BAR values at open (vdev->rbar), for vfio_bar_restore(). */
  readonly rbar: number[] = [];

  constructor(
    readonly owner: VfioPciConfigOwner,
    /** Force Interrupt Pin to 0 (nointx devices). */
    nointx: boolean,
  ) {
    const pdev = owner.pdev;
    this.pdev = pdev;
    const size = pdev.cfgSize;
    this.vconfig = new Uint8Array(size);
    this.map = new Uint8Array(size).fill(PCI_CAP_ID_INVALID);
    this.map.fill(PCI_CAP_ID_BASIC, 0, PCI_STD_HEADER_SIZEOF);
    this.fill(0, PCI_STD_HEADER_SIZEOF);
    for (let i = 0; i < 6; i++) this.rbar.push(getU32(this.vconfig, PCI_BASE_ADDRESS_0 + i * 4));
    this.rbar.push(getU32(this.vconfig, PCI_ROM_ADDRESS));
    if (nointx) this.vconfig[PCI_INTERRUPT_PIN] = 0;
    this.capInit();
    this.ecapInit();
  }

  readonly pdev: PciDev;

  vget(pos: number, count: number): number {
    return le(this.vconfig, pos, count);
  }

  vset(pos: number, count: number, v: number): void {
    for (let i = 0; i < count; i++) this.vconfig[pos + i] = (v >>> (i * 8)) & 0xff;
  }

  /** vfio_fill_vconfig_bytes(): copies hardware bytes into vconfig. */
  private fill(pos: number, len: number): void {
    for (let i = 0; i < len; i++) this.vconfig[pos + i] = this.pdev.readConfig(pos + i, 1);
  }

  /** vfio_cap_len(): lengths of variable-length standard capabilities. */
  private capLen(cap: number, pos: number): number {
    const p = this.pdev;
    switch (cap) {
      case PCI_CAP_ID_MSI: {
        const flags = p.readConfig(pos + PCI_MSI_FLAGS, 2);
        const len = 10 + (flags & PCI_MSI_FLAGS_64BIT ? 4 : 0) + (flags & PCI_MSI_FLAGS_MASKBIT ? 10 : 0);
        if (!this.msiPerm) this.msiPerm = msiPerm(len, flags);
        return len;
      }
      case PCI_CAP_ID_VNDR:
        return p.readConfig(pos + 2, 1);
      case PCI_CAP_ID_EXP: {
        this.extendedCaps = p.cfgSize > PCI_CFG_SPACE_SIZE && p.readConfig(PCI_CFG_SPACE_SIZE, 4) !== 0;
        const flags = p.readConfig(pos + PCI_EXP_FLAGS, 2);
        const rcEnd = p.pcieType === PCI_EXP_TYPE_RC_END;
        if ((flags & PCI_EXP_FLAGS_VERS) === 1) return rcEnd ? 0xc : PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
        return rcEnd ? 0x2c : EXP_ENDPOINT_SIZEOF_V2;
      }
      default:
        // PCI-X, HyperTransport, SATA: not present on the modeled devices; hide them.
        return 0;
    }
  }

  /** vfio_ext_cap_len() */
  private ecapLen(ecap: number, epos: number): number {
    const p = this.pdev;
    switch (ecap) {
      case PCI_EXT_CAP_ID_VNDR:
        return p.readConfig(epos + 4, 4) >>> 20;
      case 0x02: case 0x08: case 0x09: {
        const evcc = p.readConfig(epos + PCI_VC_PORT_CAP1, 4) & PCI_VC_CAP1_EVCC;
        return PCI_CAP_VC_BASE_SIZEOF + (evcc + 1) * PCI_CAP_VC_PER_VC_SIZEOF;
      }
      case 0x0d: {
        const cap = p.readConfig(epos + PCI_ACS_CAP, 1);
        if (cap & PCI_ACS_EC) {
          const byte = p.readConfig(epos + PCI_ACS_EGRESS_BITS, 1);
          const bits = byte ? Math.ceil(byte / 32) * 32 : 256;
          return 8 + bits / 8;
        }
        return 8;
      }
      default:
        return 0;
    }
  }

  /** vfio_cap_init(): the standard chain as the user sees it. */
  private capInit(): void {
    const p = this.pdev;
    if (!(p.readConfig(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return;
    let pos = p.readConfig(PCI_CAPABILITY_LIST, 1);
    let prev = PCI_CAPABILITY_LIST;
    let loops = (PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / 4;
    let caps = 0;
    while (pos && loops--) {
      const cap = p.readConfig(pos, 1);
      const next = p.readConfig(pos + PCI_CAP_LIST_NEXT, 1);
      let len = 0;
      if (cap !== 0 && cap <= PCI_CAP_ID_MAX) {
        len = PCI_CAP_LENGTH[cap] ?? 0;
        if (len === 0xff) len = this.capLen(cap, pos);
      }
      if (!len) {
        this.vconfig[prev] = next;
        pos = next;
        continue;
      }
      this.map.fill(cap, pos, pos + len);
      this.fill(pos, len);
      if (cap === PCI_CAP_ID_PM) {
        // PME is the host's business: PME_Support reads as none, PME_En and PME_Status as 0
        // (vfio_update_pm_vconfig_bytes()).
        setU16(this.vconfig, pos + PCI_PM_PMC, getU16(this.vconfig, pos + PCI_PM_PMC) & ~PCI_PM_CAP_PME_MASK);
        setU16(this.vconfig, pos + PCI_PM_CTRL, getU16(this.vconfig, pos + PCI_PM_CTRL) & ~PM_CTRL_PME);
      }
      prev = pos + PCI_CAP_LIST_NEXT;
      pos = next;
      caps++;
    }
    if (!caps) setU16(this.vconfig, PCI_STATUS, getU16(this.vconfig, PCI_STATUS) & ~PCI_STATUS_CAP_LIST);
  }

  /** vfio_ecap_init(): the extended chain, hidden capabilities unlinked. */
  private ecapInit(): void {
    if (!this.extendedCaps) return;
    const p = this.pdev;
    let epos = PCI_CFG_SPACE_SIZE;
    let prev = -1;
    let loops = (p.cfgSize - PCI_CFG_SPACE_SIZE) / 4;
    let ecaps = 0;
    while (loops-- > 0 && epos >= PCI_CFG_SPACE_SIZE) {
      const header = p.readConfig(epos, 4);
      const ecap = header & 0xffff;
      const next = (header >>> 20) & 0xffc;
      let len = 0;
      let hidden = false;
      if (ecap <= PCI_EXT_CAP_ID_MAX) {
        len = PCI_EXT_CAP_LENGTH[ecap] ?? 0;
        if (len === 0xff) len = this.ecapLen(ecap, epos);
      }
      if (!len) {
        if (prev >= 0) {
          const v = getU32(this.vconfig, prev);
          setU32(this.vconfig, prev, ((v & ~(0xffc << 20)) | (next << 20)) >>> 0);
          epos = next;
          continue;
        }
        len = 4;
        hidden = true;
      }
      this.map.fill(ecap > 0xfe ? 0xfe : ecap, epos, epos + len);
      this.fill(epos, len);
      if (hidden) setU32(this.vconfig, epos, (getU32(this.vconfig, epos) & (0xffc << 20)) >>> 0);
      else ecaps++;
      prev = epos;
      epos = next;
    }
    if (!ecaps) setU32(this.vconfig, PCI_CFG_SPACE_SIZE, 0);
  }

  /** vfio_find_cap_start() */
  private capStart(pos: number): number {
    const cap = this.map[pos]!;
    if (cap === PCI_CAP_ID_BASIC && pos < PCI_STD_HEADER_SIZEOF) return 0;
    const base = pos >= PCI_CFG_SPACE_SIZE ? PCI_CFG_SPACE_SIZE : PCI_STD_HEADER_SIZEOF;
    while (pos - 1 >= base && this.map[pos - 1] === cap) pos--;
    return pos;
  }

  /** vfio_bar_fixup(): virtual BARs show only what sizing allows, plus the type flags. */
  barFixup(): void {
    if (!this.bardirty) return;
    const hw = this.pdev.hw;
    for (let i = 0; i < 6; i++) {
      const reg = PCI_BASE_ADDRESS_0 + i * 4;
      const b = hw.bars[i];
      if (!b || !hw.barAddress(i)) {
        setU32(this.vconfig, reg, 0);
        continue;
      }
      const mask = ~(b.size - 1);
      let v = getU32(this.vconfig, reg) & (mask >>> 0);
      if (b.kind === 'io') v |= PCI_BASE_ADDRESS_SPACE_IO;
      else v |= (b.kind === 'mem64' ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (b.prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
      setU32(this.vconfig, reg, v >>> 0);
      if (b.kind === 'mem64') {
        const hiMask = b.size > 0x1_0000_0000 ? ~(b.size / 0x1_0000_0000 - 1) >>> 0 : 0xffffffff;
        setU32(this.vconfig, reg + 4, (getU32(this.vconfig, reg + 4) & hiMask) >>> 0);
        i++;
      }
    }
    if (hw.rom && hw.configRead(PCI_ROM_ADDRESS, 4) & ~0x7ff) {
      const mask = (~(hw.romSize - 1) | PCI_ROM_ADDRESS_ENABLE) >>> 0;
      setU32(this.vconfig, PCI_ROM_ADDRESS, (getU32(this.vconfig, PCI_ROM_ADDRESS) & mask) >>> 0);
    } else {
      setU32(this.vconfig, PCI_ROM_ADDRESS, 0);
    }
    this.bardirty = false;
  }

  /** Bytes from `pos` to the end of its dword that belong to the same capability (vfio_pci_cap_remaining_dword). */
  private remainingDword(pos: number): number {
    const cap = this.map[pos];
    let i = 1;
    while ((pos + i) % 4 && this.map[pos + i] === cap) i++;
    return i;
  }

  /**
   * One access (vfio_config_do_rw): EFAULT unless [pos, pos+total) lies inside config space, then one
   * aligned chunk within a single capability. Returns the bytes handled.
   */
  private doRw(buf: Uint8Array, at: number, total: number, pos: number, write: boolean): number {
    const size = this.pdev.cfgSize;
    if (pos < 0 || pos >= size || pos + total > size) {
      throw kerr('EFAULT', `config access [0x${pos.toString(16)}, +${total}) runs past the ${size}-byte configuration space`);
    }
    let count = Math.min(total, this.remainingDword(pos));
    if (count >= 4 && !(pos % 4)) count = 4;
    else if (count >= 2 && !(pos % 2)) count = 2;
    else count = 1;
    const capId = this.map[pos]!;
    let p: PermBits;
    let capStart = 0;
    if (capId === PCI_CAP_ID_INVALID) {
      p = UNASSIGNED;
      capStart = pos;
    } else if (pos >= PCI_CFG_SPACE_SIZE) {
      p = capId > PCI_EXT_CAP_ID_MAX ? DIRECT_RO : ECAP_PERMS[capId] ?? DIRECT_RO;
      capStart = this.capStart(pos);
    } else {
      p = capId === PCI_CAP_ID_MSI ? this.msiPerm! : CAP_PERMS[capId] ?? DIRECT_RO;
      if (capId > PCI_CAP_ID_BASIC) capStart = this.capStart(pos);
    }
    const offset = pos - capStart;
    if (write) {
      if (!p.writefn) return count;
      let val = 0;
      for (let i = count - 1; i >= 0; i--) val = (val << 8) | buf[at + i]!;
      p.writefn(this, pos, count, p, offset, val >>> 0);
    } else {
      const val = p.readfn ? p.readfn(this, pos, count, p, offset) : 0;
      for (let i = 0; i < count; i++) buf[at + i] = (val >>> (i * 8)) & 0xff;
    }
    return count;
  }

  /** vfio_pci_config_rw() */
  rw(buf: Uint8Array, pos: number, write: boolean): number {
    let done = 0;
    let count = buf.length;
    while (count) {
      const n = this.doRw(buf, done, count, pos + done, write);
      count -= n;
      done += n;
    }
    return done;
  }
}
