// drivers/pci/msi/{api.c,msi.c,irqdomain.c} on x86 with interrupt remapping: pci_alloc_irq_vectors(),
// pci_free_irq_vectors(), pci_irq_vector(), pci_write_msi_msg() and the per-device MSI irq chips
// ("IR-PCI-MSI-<bdf>", "IR-PCI-MSIX-<bdf>", flow handle_edge_irq, hwirq = the vector's index).
//
// Allocation asks for up to `max` vectors and settles for fewer (down to `min`) when the host's vector
// space has fewer left (ENOSPC below `min`); each vector gets a Linux irq (a contiguous range), a
// (CPU, vector) pair and remapping table entries (one per MSI-X vector; one naturally aligned
// power-of-two block for multi-message MSI, addressed by handle + sub-handle = the vector number the
// function ORs into its data). The function is then programmed as the kernel does it:
// - MSI-X (msix_capability_init): Enable + Function Mask, every used entry written with its
//   remappable-format message, INTx disabled, every entry masked, Function Mask cleared; a vector is
//   unmasked when its irq is started (request_irq) and masked again by free_irq;
// - MSI (msi_capability_init): all vectors masked (if maskable), address/data and Multiple Message
//   Enable written, INTx disabled, Enable set.
// Freeing masks every MSI-X entry (or unmasks every MSI vector: "return the device with MSI unmasked
// as initial states"), clears Enable, re-enables INTx, and releases irqs, vectors and table entries.
// The MSI-X table is device memory: writes reach it only while Memory Space is enabled (vfio-pci
// brackets these calls with vfio_pci_memory_lock_and_enable()).

import { kerr } from '../errors.js';
import type { IrqCore } from '../irq/irq-core.js';
import { FLOW_EDGE, IrqDesc, type IrqChip } from '../irq/irqdesc.js';
import { remappableMsiAddress } from '../../hw/iommu/vtd/msi-format.js';
import { PCI_MSIX_ENTRY_CTRL_MASKBIT, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSI_ADDRESS_HI, PCI_MSI_ADDRESS_LO, PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_QSIZE } from '../../../include-ts/linux/pci_regs.js';
import type { PciDev } from './pci-dev.js';
import { setMsiSid } from '../iommu/intel-irq-remapping.js';

/** struct msi_desc: one vector, with the message the kernel wrote (the cached msi_msg). */
export class MsiEntry {
  constructor(
    readonly index: number,
    readonly irq: number,
    readonly addrLo: number,
    readonly addrHi: number,
    readonly data: number,
  ) {}
}

interface MsiDevState {
  readonly msix: boolean;
  readonly entries: MsiEntry[];
  readonly descs: IrqDesc[];
  readonly irteBase: number[];
  readonly irteCount: number;
}

/** What both per-device MSI chips share: an edge is acknowledged at the local APIC, replayed by an IPI. */
abstract class PciMsiChipBase implements IrqChip {
  constructor(
    readonly name: string,
    protected readonly pdev: PciDev,
    private readonly core: IrqCore,
  ) {}

  abstract mask(desc: IrqDesc): void;
  abstract unmask(desc: IrqDesc): void;

  ack(): void {}

  eoi(): void {}

  /** apic_retrigger_irq(): the vector is sent again to its CPU. */
  retrigger(desc: IrqDesc): boolean {
    this.core.cpus[desc.cpu]!.retrigger(desc.vector);
    return true;
  }
}

/** The per-device MSI-X chip: masking is the entry's Vector Control mask bit. */
class PciMsixChip extends PciMsiChipBase {
  private ctrl(desc: IrqDesc, masked: boolean): void {
    const x = this.pdev.hw.msix!;
    this.pdev.hw.barWrite(x.tableBar, x.tableOffset + desc.hwirq * 16 + 12, 4, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
  }

  mask(desc: IrqDesc): void {
    this.ctrl(desc, true);
  }

  unmask(desc: IrqDesc): void {
    this.ctrl(desc, false);
  }
}

/** The per-device MSI chip: masking through the Mask Bits register when the function has one. */
class PciMsiChip extends PciMsiChipBase {
  private setMask(desc: IrqDesc, masked: boolean): void {
    const m = this.pdev.hw.msi!;
    if (!m.maskable) return;
    const pos = m.offset + (m.is64 ? 0x10 : 0x0c);
    const cur = this.pdev.readConfig(pos, 4);
    const bit = 1 << desc.hwirq;
    this.pdev.writeConfig(pos, 4, (masked ? cur | bit : cur & ~bit) >>> 0);
  }

  mask(desc: IrqDesc): void {
    this.setMask(desc, true);
  }

  unmask(desc: IrqDesc): void {
    this.setMask(desc, false);
  }
}

/** Multiple Message Enable for `nvec` vectors: log2, rounded up (msi_attrib.multiple). */
function multipleOf(nvec: number): number {
  let multiple = 0;
  while (1 << multiple < nvec) multiple++;
  return multiple;
}

export class PciMsi {
  private readonly devs = new Map<PciDev, MsiDevState>();

  constructor(private readonly core: IrqCore) {}

  /** 'msi', 'msix' or null: what the kernel has enabled on `pdev` (dev->msi_enabled / msix_enabled). */
  mode(pdev: PciDev): 'msi' | 'msix' | null {
    const s = this.devs.get(pdev);
    return s ? (s.msix ? 'msix' : 'msi') : null;
  }

  /** The vectors' entries (inspection). */
  entries(pdev: PciDev): readonly MsiEntry[] {
    return this.devs.get(pdev)?.entries ?? [];
  }

  /** pci_alloc_irq_vectors(pdev, min, max, PCI_IRQ_MSI or PCI_IRQ_MSIX): the number of vectors enabled. */
  allocIrqVectors(pdev: PciDev, min: number, max: number, msix: boolean): number {
    const kind = msix ? 'MSI-X' : 'MSI';
    const cur = this.devs.get(pdev);
    if (cur) throw kerr('EINVAL', `${pdev.name}: can't enable ${kind} (${cur.msix ? 'MSI-X' : 'MSI'} already enabled)`);
    // __pci_enable_msi_range / __pci_enable_msix_range: an empty range is refused before the hardware is looked at.
    if (max < min) throw kerr('ERANGE', `${pdev.name}: ${kind} range of ${min} to ${max} vectors is empty`);
    const hw = pdev.hw;
    const hwsize = msix ? (hw.msix?.vectors ?? 0) : (hw.msi?.capable ?? 0);
    if (hwsize === 0) throw kerr('EINVAL', `${pdev.name} has no ${kind} capability`);
    let nvec = Math.min(max, hwsize);
    if (nvec < min) throw kerr('ENOSPC', `${pdev.name}: ${kind} supports ${hwsize} vectors, fewer than the ${min} required`);
    const avail = this.core.matrix.available;
    if (avail < nvec) {
      if (avail < min) throw kerr('ENOSPC', `no host interrupt vectors left for ${pdev.name} (${avail} available, ${min} required)`);
      nvec = avail;
    }
    const core = this.core;
    const ir = core.ir;
    const source = setMsiSid(pdev);
    const first = core.allocIrqRange(nvec);
    const chip = msix ? new PciMsixChip(`IR-PCI-MSIX-${pdev.name}`, pdev, core) : new PciMsiChip(`IR-PCI-MSI-${pdev.name}`, pdev, core);
    const state: MsiDevState = { msix, entries: [], descs: [], irteBase: [], irteCount: msix ? 1 : nvec };
    const block = msix ? -1 : ir.alloc(nvec);
    for (let i = 0; i < nvec; i++) {
      const desc = new IrqDesc(first + i, i, chip, FLOW_EDGE, false, core.kstat);
      core.matrix.assign(desc);
      const irte = msix ? ir.alloc(1) : block + i;
      ir.modify(irte, desc.vector, core.cpus[desc.cpu]!.apicId, false, source);
      // irte_prepare_msg(): handle = the entry (or the MSI block's base), SHV, data = sub-handle 0.
      const entry = new MsiEntry(i, first + i, remappableMsiAddress(msix ? irte : block), 0, 0);
      desc.chipData = entry;
      core.install(desc);
      state.entries.push(entry);
      state.descs.push(desc);
      if (msix || i === 0) state.irteBase.push(irte);
    }
    this.devs.set(pdev, state);
    pdev.msiRestore = () => this.restoreState(pdev);
    if (msix) this.msixEnable(pdev, state);
    else this.msiEnable(pdev, state, nvec);
    return nvec;
  }

  private msixEnable(pdev: PciDev, s: MsiDevState): void {
    const x = pdev.hw.msix!;
    const pos = x.offset + PCI_MSIX_FLAGS;
    const ctrl = pdev.readConfig(pos, 2);
    pdev.writeConfig(pos, 2, ctrl | PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE);
    for (const e of s.entries) this.writeEntry(pdev, e, true);
    pdev.intx(false);
    for (let v = 0; v < x.vectors; v++) pdev.hw.barWrite(x.tableBar, x.tableOffset + v * 16 + 12, 4, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    pdev.writeConfig(pos, 2, (pdev.readConfig(pos, 2) & ~PCI_MSIX_FLAGS_MASKALL) | PCI_MSIX_FLAGS_ENABLE);
  }

  private msiEnable(pdev: PciDev, s: MsiDevState, nvec: number): void {
    const m = pdev.hw.msi!;
    if (m.maskable) pdev.writeConfig(m.offset + (m.is64 ? 0x10 : 0x0c), 4, 0xffffffff);
    this.writeEntry(pdev, s.entries[0]!, false, multipleOf(nvec));
    pdev.intx(false);
    const flags = pdev.readConfig(m.offset + PCI_MSI_FLAGS, 2);
    pdev.writeConfig(m.offset + PCI_MSI_FLAGS, 2, flags | PCI_MSI_FLAGS_ENABLE);
  }

  /** __pci_write_msi_msg(): the cached message back into the table entry / capability. */
  private writeEntry(pdev: PciDev, e: MsiEntry, msix: boolean, multiple = -1): void {
    const hw = pdev.hw;
    if (msix) {
      const x = hw.msix!;
      const base = x.tableOffset + e.index * 16;
      hw.barWrite(x.tableBar, base, 4, e.addrLo);
      hw.barWrite(x.tableBar, base + 4, 4, e.addrHi);
      hw.barWrite(x.tableBar, base + 8, 4, e.data);
      return;
    }
    const m = hw.msi!;
    const pos = m.offset;
    if (multiple >= 0) {
      const flags = pdev.readConfig(pos + PCI_MSI_FLAGS, 2);
      pdev.writeConfig(pos + PCI_MSI_FLAGS, 2, (flags & ~PCI_MSI_FLAGS_QSIZE) | (multiple << 4));
    }
    pdev.writeConfig(pos + PCI_MSI_ADDRESS_LO, 4, e.addrLo);
    if (m.is64) {
      pdev.writeConfig(pos + PCI_MSI_ADDRESS_HI, 4, e.addrHi);
      pdev.writeConfig(pos + 0x0c, 2, e.data);
    } else pdev.writeConfig(pos + 0x08, 2, e.data);
  }

  /**
   * pci_restore_msi_state() (drivers/pci/msi/msi.c __pci_restore_msi_state, __pci_restore_msix_state),
   * the last step of pci_restore_state(): a reset cleared the function's MSI-X table (or MSI
   * registers), so the cached messages and each vector's mask state (msix_ctrl / msi_mask, here the
   * irq's IRQD_IRQ_MASKED) are written back and Enable set, INTx disabled (pci_intx_for_msi).
   * MSI-X goes through Function Mask so no vector fires from a half-written table.
   */
  private restoreState(pdev: PciDev): void {
    const s = this.devs.get(pdev);
    if (!s) return;
    const hw = pdev.hw;
    pdev.intx(false);
    if (s.msix) {
      const x = hw.msix!;
      const pos = x.offset + PCI_MSIX_FLAGS;
      pdev.writeConfig(pos, 2, pdev.readConfig(pos, 2) | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
      for (let i = 0; i < s.entries.length; i++) {
        const e = s.entries[i]!;
        this.writeEntry(pdev, e, true);
        hw.barWrite(x.tableBar, x.tableOffset + e.index * 16 + 12, 4, s.descs[i]!.masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
      }
      pdev.writeConfig(pos, 2, pdev.readConfig(pos, 2) & ~PCI_MSIX_FLAGS_MASKALL);
      return;
    }
    const m = hw.msi!;
    const pos = m.offset + PCI_MSI_FLAGS;
    pdev.writeConfig(pos, 2, pdev.readConfig(pos, 2) & ~PCI_MSI_FLAGS_ENABLE);
    this.writeEntry(pdev, s.entries[0]!, false);
    if (m.maskable) {
      let mask = 0;
      for (let i = 0; i < s.descs.length; i++) if (s.descs[i]!.masked) mask |= 1 << i;
      pdev.writeConfig(m.offset + (m.is64 ? 0x10 : 0x0c), 4, mask >>> 0);
    }
    const ctl = pdev.readConfig(pos, 2);
    pdev.writeConfig(pos, 2, (ctl & ~PCI_MSI_FLAGS_QSIZE) | PCI_MSI_FLAGS_ENABLE | (multipleOf(s.entries.length) << 4));
  }

  /** pci_write_msi_msg(irq, get_cached_msi_msg(irq)): rewrites vector `n`'s message (vfio-pci does it on every rebind). */
  rewrite(pdev: PciDev, n: number): void {
    const s = this.devs.get(pdev);
    const e = s?.entries[n];
    if (!s || !e) return;
    if (s.msix) this.writeEntry(pdev, e, true);
    else if (n === 0) this.writeEntry(pdev, e, false);
  }

  /** pci_irq_vector(): the Linux irq of vector `n`; EINVAL beyond the vectors allocated. */
  irqVector(pdev: PciDev, n: number): number {
    const e = this.devs.get(pdev)?.entries[n];
    if (!e) throw kerr('EINVAL', `${pdev.name} has no vector ${n} allocated`);
    return e.irq;
  }

  /** pci_free_irq_vectors(): every vector must have been freed (free_irq) by its user first. */
  freeIrqVectors(pdev: PciDev): void {
    const s = this.devs.get(pdev);
    if (!s) return;
    const hw = pdev.hw;
    if (s.msix) {
      const x = hw.msix!;
      for (const e of s.entries) hw.barWrite(x.tableBar, x.tableOffset + e.index * 16 + 12, 4, PCI_MSIX_ENTRY_CTRL_MASKBIT);
      const pos = x.offset + PCI_MSIX_FLAGS;
      pdev.writeConfig(pos, 2, pdev.readConfig(pos, 2) & ~PCI_MSIX_FLAGS_ENABLE);
    } else {
      const m = hw.msi!;
      pdev.writeConfig(m.offset + PCI_MSI_FLAGS, 2, pdev.readConfig(m.offset + PCI_MSI_FLAGS, 2) & ~PCI_MSI_FLAGS_ENABLE);
      if (m.maskable) pdev.writeConfig(m.offset + (m.is64 ? 0x10 : 0x0c), 4, 0);
    }
    pdev.intx(true);
    for (const d of s.descs) {
      for (const a of d.actions) this.core.log.warn(`WARNING: ${pdev.name}: irq ${d.irq} still has action "${a.name}" when its vector is freed`);
      this.core.remove(d);
    }
    for (const b of s.irteBase) this.core.ir.free(b, s.irteCount);
    this.devs.delete(pdev);
    pdev.msiRestore = null;
  }
}
