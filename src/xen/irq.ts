// Host interrupts and pirqs (xen/arch/x86/irq.c, msi.c, physdev.c): irq descriptors with their vector
// and destination CPU, dynamic vector allocation, MSI-X setup of a device entry through interrupt
// remapping (msix_capability_init / write_msi_msg / iommu_update_ire_from_msi), do_IRQ ->
// do_IRQ_guest -> hvm_do_IRQ_dpci, affinity changes (rewriting the remapped IRTE only), the
// pirq namespace of a domain (allocate_and_map_msi_pirq, get_free_pirq, map/unmap_domain_pirq), and
// vmx_pi_update_irte (vmx.c:397-436): set msi_desc->pi_desc/gvec, rewrite the IRTE, never the device.
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE } from '../../include-ts/linux/pci_regs.js';
import { formatBdf, type PciFunction } from '../hw/pci/function.js';
import { DLM_FIXED } from '../hw/iommu/vtd/msi-format.js';
import { msiAddress, msiData } from '../hw/x86/msi.js';
import { PirqDpci, type Domain, type Vcpu } from './domain.js';
import { xerr } from './errors.js';
import type { XenCpu } from './percpu.js';
import type { Xen } from './xen.js';
import { FIRST_DYNAMIC_VECTOR, LAST_DYNAMIC_VECTOR, NR_IRQS_GSI } from './xen.js';
import { IREMAP_ENTRY_NR, type IntRemap, type RemapSource } from './passthrough/vtd/intremap.js';
import { hvmDoIrqDpci, unbindDpci } from './passthrough/hvm.js';

/** struct msi_desc for one MSI-X entry. */
export class MsiDesc implements RemapSource {
  remapIndex = -1;
  piDescAddr: number | null = null;
  gvec = 0;
  /** The vCPU whose descriptor msi_desc->pi_desc points to (null: remapped). */
  piVcpu: Vcpu | null = null;
  /** Guest mask state of the entry (Xen keeps new entries masked until the guest unmasks). */
  masked = true;
  readonly sid: number;

  constructor(
    readonly pdev: PciFunction,
    readonly entryNr: number,
    /** The remapping unit's driver state; null without interrupt remapping (compatibility format). */
    readonly ir: IntRemap | null,
    rid: number,
  ) {
    this.sid = rid;
  }
}

export class IrqDesc {
  vector = -1;
  cpu = -1;
  /** After an affinity change, the old vector stays valid on the old CPU until the irq first arrives on the new one (IRQ_MOVE_CLEANUP). */
  oldVector = -1;
  oldCpu = -1;
  msi: MsiDesc | null = null;
  /** The domain pirq bound to this irq (pirq_guest_bind), null when not bound. */
  guest: PirqDpci | null = null;
  /** The domain and pirq this irq is mapped to (map_domain_pirq). */
  owner: { readonly domain: Domain; readonly pirq: number } | null = null;
  /** do_IRQ() runs on this irq. */
  count = 0;

  constructor(readonly irq: number) {}
}

/** Dynamic vectors: start above the legacy range, spread by 8 as __assign_irq_vector does. */
function findVector(c: XenCpu): number {
  for (let off = 0; off < 8; off++) {
    for (let v = FIRST_DYNAMIC_VECTOR + 0x10 + off; v <= LAST_DYNAMIC_VECTOR; v += 8) if (c.vectorIrq[v] === -1) return v;
  }
  throw new Error(`cpu${c.id}: no free vector`);
}

function releaseOld(xen: Xen, desc: IrqDesc): void {
  if (desc.oldVector >= 0) xen.cpus[desc.oldCpu]!.vectorIrq[desc.oldVector] = -1;
  desc.oldVector = -1;
  desc.oldCpu = -1;
}

/** __assign_irq_vector(): a vector on `c`; a previous one is kept for in-flight interrupts until cleanup. */
function assignVector(xen: Xen, desc: IrqDesc, c: XenCpu): void {
  releaseOld(xen, desc);
  if (desc.vector >= 0) {
    desc.oldVector = desc.vector;
    desc.oldCpu = desc.cpu;
  }
  const v = findVector(c);
  c.vectorIrq[v] = desc.irq;
  desc.vector = v;
  desc.cpu = c.id;
}

/** create_irq(): a new irq with a vector on the first online CPU. */
export function createIrq(xen: Xen): IrqDesc {
  let irq = NR_IRQS_GSI;
  while (xen.irqs[irq] !== undefined) irq++;
  const desc = new IrqDesc(irq);
  xen.irqs[irq] = desc;
  assignVector(xen, desc, xen.firstOnlineCpu()!);
  return desc;
}

export function destroyIrq(xen: Xen, desc: IrqDesc): void {
  releaseOld(xen, desc);
  if (desc.vector >= 0) xen.cpus[desc.cpu]!.vectorIrq[desc.vector] = -1;
  xen.irqs[desc.irq] = undefined;
}

function hostMsg(xen: Xen, desc: IrqDesc) {
  return { vector: desc.vector, dest32: xen.cpus[desc.cpu]!.apicId, logical: false, dlm: DLM_FIXED, level: false };
}

/** The MSI-X table entry `n` of `pdev` through its BAR (msix_put / writel). */
function msixWrite(pdev: PciFunction, n: number, reg: number, value: number): void {
  const x = pdev.msix!;
  pdev.barWrite(x.tableBar, x.tableOffset + n * 16 + reg, 4, value >>> 0);
}

/**
 * iommu_update_ire_from_msi() + msi_msg_write_remap_rte(): rewrites the IRTE (a step), then flushes
 * the IEC for it (the next step). Returns whether a new IRTE index was allocated.
 */
function* updateIreFromMsi(xen: Xen, desc: IrqDesc): Generator<void, boolean, void> {
  const m = desc.msi!;
  const ir = m.ir;
  if (ir === null) return false;
  const r = ir.writeEntry(m, hostMsg(xen, desc));
  yield;
  ir.flushIec(m.remapIndex);
  return r.alloc;
}

/**
 * write_msi_msg(): with interrupt remapping, the IRTE, then (when the index is new) the device's entry
 * in remappable format; without it, the compatibility-format message itself.
 */
function writeMsiMsg(xen: Xen, desc: IrqDesc): void {
  const m = desc.msi!;
  if (m.ir === null) {
    msixWrite(m.pdev, m.entryNr, 0, msiAddress(xen.cpus[desc.cpu]!.apicId));
    msixWrite(m.pdev, m.entryNr, 4, 0);
    msixWrite(m.pdev, m.entryNr, 8, msiData(desc.vector));
    return;
  }
  const r = m.ir.writeEntry(m, hostMsg(xen, desc));
  m.ir.flushIec(m.remapIndex);
  if (r.alloc) {
    msixWrite(m.pdev, m.entryNr, 0, r.addrLo);
    msixWrite(m.pdev, m.entryNr, 4, 0);
    msixWrite(m.pdev, m.entryNr, 8, r.data);
  }
}

/** Affinity change of a host irq: a new vector on `c`, the remapped IRTE rewritten (device untouched). */
export function setIrqAffinity(xen: Xen, desc: IrqDesc, c: XenCpu): void {
  if (desc.cpu === c.id || !c.online) return;
  assignVector(xen, desc, c);
  if (desc.msi) writeMsiMsg(xen, desc);
}

/** fixup_irqs(): irqs of a CPU going offline move to `to`. */
export function fixupIrqs(xen: Xen, dead: XenCpu, to: XenCpu): void {
  for (const d of xen.irqs) if (d && d.cpu === dead.id) setIrqAffinity(xen, d, to);
}

/** vmx_pi_update_irte(v, pirq, gvec): posted format for `v`, or remapped when `v` is null. */
export function* piUpdateIrte(xen: Xen, v: Vcpu | null, dpci: PirqDpci, gvec: number): Generator<void, void, void> {
  const desc = xen.irqs[dpci.irq];
  if (!desc) throw xerr('EINVAL', `pirq ${dpci.pirq} has no irq_desc`);
  const m = desc.msi;
  if (!m) throw xerr('ENODEV', `irq ${desc.irq} has no msi_desc`);
  m.piVcpu = v;
  m.piDescAddr = v ? v.piDescAddr : null;
  m.gvec = gvec;
  const alloc = yield* updateIreFromMsi(xen, desc);
  if (alloc) throw xerr('EILSEQ', `irq ${desc.irq}: the IRTE index changed while updating it`);
}

/** guest_mask_msi_irq(): the MSI-X entry's vector-control Mask bit. */
export function guestMaskMsiIrq(xen: Xen, irq: number, mask: boolean): void {
  const m = xen.irqs[irq]?.msi;
  if (!m) return;
  m.masked = mask;
  msixWrite(m.pdev, m.entryNr, 12, mask ? 1 : 0);
}

/** do_IRQ() on CPU `c` for a host irq: a guest-bound MSI goes to hvm_do_IRQ_dpci (do_IRQ_guest). */
export function doIrq(xen: Xen, c: XenCpu, irq: number, vector: number): void {
  const desc = xen.irqs[irq]!;
  desc.count++;
  // The first interrupt on the new vector completes a move (send_cleanup_vector).
  if (desc.oldVector >= 0 && c.id === desc.cpu && vector === desc.vector) releaseOld(xen, desc);
  const tr = xen.trace;
  if (tr.active) tr.emit({ type: 'irq', t: xen.sched.now, hop: 'host-irq', at: `cpu${c.id}`, vector: desc.vector, detail: `do_IRQ: irq ${irq}${desc.guest ? ` -> d${desc.guest.domain.id} pirq ${desc.guest.pirq}` : ''}` });
  const g = desc.guest;
  if (g !== null) hvmDoIrqDpci(xen, c, g);
}

export interface MsiInfo {
  readonly seg: number;
  readonly bus: number;
  readonly devfn: number;
  readonly entryNr: number;
  readonly tableBase: number;
}

/** get_free_pirq() for MSI: the highest free pirq at or above nr_irqs_gsi, or -ENOSPC. */
function getFreePirq(d: Domain): number {
  for (let p = d.nrPirqs - 1; p >= NR_IRQS_GSI; p--) {
    const i = d.pirqs.get(p);
    if (!i || i.irq < 0) return p;
  }
  return -1;
}

/**
 * nr_irqs as init_irq_data() sizes it with an APIC: one space of NR_DYNAMIC_VECTORS (irq-vectors.h) per
 * present CPU, at least 8 per GSI. (Computed per call: xen.ts and this file import each other.)
 */
export function nrIrqs(xen: Xen): number {
  return Math.max(xen.cpus.length * (LAST_DYNAMIC_VECTOR - FIRST_DYNAMIC_VECTOR + 1), 8 * NR_IRQS_GSI);
}

/** domain_irq_to_pirq(): the pirq `irq` is mapped to in `d`, 0 if none. */
function domainIrqToPirq(d: Domain, desc: IrqDesc | undefined): number {
  return desc !== undefined && desc.owner !== null && desc.owner.domain === d ? desc.owner.pirq : 0;
}

/**
 * allocate_and_map_msi_pirq() -> allocate_pirq() -> map_domain_pirq() -> pci_enable_msi() for
 * MAP_PIRQ_TYPE_MSI(_SEG): returns the pirq. The order of the checks is Xen's, because it decides which
 * error (or success) a call that breaks several rules gets:
 *  - index -1 asks for a new irq (create_irq, which grants dom0 access to it); any other index names an
 *    irq, which must be a dynamic one (EINVAL) that dom0 was granted, i.e. one that exists (EPERM);
 *  - allocate_pirq: an irq already mapped in `d` keeps its pirq when the caller asks for any (pirq < 0,
 *    Xen >= 4.19), and a different explicit pirq is EEXIST;
 *  - map_domain_pirq: when the pirq is already mapped to another irq (or the irq to another pirq) Xen
 *    logs "pirq P or irq I already mapped" and returns 0 without mapping anything; the caller gets 0 and
 *    its own pirq back, and an irq created for the call is not destroyed (only errors destroy it);
 *  - __pci_enable_msix: an irq already driving an MSI-X entry of the device is EEXIST, and the existing
 *    mapping survives the error (XSA-237: mappings set up before are preserved on map error paths).
 */
export function allocateAndMapMsiPirq(xen: Xen, d: Domain, index: number, pirqIn: number, msi: MsiInfo): number {
  const bdf = formatBdf(msi.bus, msi.devfn, msi.seg);
  if (index !== -1 && (index < NR_IRQS_GSI || index >= nrIrqs(xen))) throw xerr('EINVAL', `dom${d.id}: can't create irq for msi! (index ${index} is not a dynamic irq)`);
  const named = index === -1 ? undefined : xen.irqs[index];
  // allocate_pirq()
  const current = domainIrqToPirq(d, named);
  let pirq = pirqIn;
  if (pirq < 0) {
    if (current !== 0) pirq = current;
    else {
      pirq = getFreePirq(d);
      if (pirq < 0) throw xerr('ENOSPC', `dom${d.id}: no free pirq`);
    }
  } else if (current !== 0 && pirq !== current) {
    throw xerr('EEXIST', `dom${d.id}: irq ${index} already mapped to pirq ${current}`);
  }
  // map_domain_pirq()
  if (index !== -1 && named === undefined) throw xerr('EPERM', `dom${d.id}: irq ${index} was not created for dom0 (irq_access_permitted)`);
  if (pirq >= d.nrPirqs) throw xerr('EINVAL', `dom${d.id}: invalid pirq ${pirq} or irq ${index}`);
  const oldIrq = d.pirqs.get(pirq)?.irq ?? -1;
  if (oldIrq >= 0 && (named === undefined || oldIrq !== named.irq)) {
    // The irq create_irq() made for this call stays allocated (with its vector) and unmapped.
    const irq = named ?? createIrq(xen);
    xen.console.printk(`dom${d.id}: pirq ${pirq} or irq ${irq.irq} already mapped (${domainIrqToPirq(d, irq)},${oldIrq})`);
    return pirq;
  }
  // pci_enable_msi() -> __pci_enable_msix()
  const pdev = xen.pci.find(bdf);
  if (!pdev) throw xerr('ENODEV', `${bdf}: no such PCI device`);
  const tableBase = msi.tableBase;
  if (tableBase === 0) throw xerr('ENODEV', `${bdf}: MSI (table_base 0) is not modeled; map an MSI-X entry`);
  if (!pdev.msix) throw xerr('ENODEV', `${bdf} has no MSI-X capability`);
  if (msi.entryNr < 0 || msi.entryNr >= pdev.msix.vectors) throw xerr('EINVAL', `${bdf}: MSI-X entry ${msi.entryNr} is beyond the table (${pdev.msix.vectors} entries)`);
  if (named !== undefined && named.msi !== null) {
    if (named.msi.pdev === pdev) throw xerr('EEXIST', `irq ${named.irq} already mapped to MSI-X on ${bdf}`);
    // Xen first runs msix_capability_init on this device and undoes it (pci_disable_msi) when it finds
    // the irq's handler in use; the model refuses before touching the device.
    throw xerr('EBUSY', `dom${d.id}: irq ${named.irq} in use`);
  }
  const ir = xen.intremapFor(pdev);
  const bar = pdev.barAddress(pdev.msix.tableBar) + pdev.msix.tableOffset;
  if (bar !== tableBase) xen.console.printk(`${bdf}: MSI-X table_base 0x${tableBase.toString(16)} differs from the BAR (0x${bar.toString(16)})`);
  // msix_capability_init: the entry masked, the message written through remapping, MSI-X on.
  const desc = named ?? createIrq(xen);
  desc.msi = new MsiDesc(pdev, msi.entryNr, ir, xen.pci.dmaRid(pdev));
  pdev.configWrite(PCI_COMMAND, 2, pdev.configRead(PCI_COMMAND, 2) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  msixWrite(pdev, msi.entryNr, 12, 1);
  writeMsiMsg(xen, desc);
  const ctl = pdev.msix.offset + PCI_MSIX_FLAGS;
  pdev.configWrite(ctl, 2, pdev.configRead(ctl, 2) | PCI_MSIX_FLAGS_ENABLE);
  let dpci = d.pirqs.get(pirq);
  if (!dpci) {
    dpci = new PirqDpci(d, pirq);
    d.pirqs.set(pirq, dpci);
  }
  dpci.irq = desc.irq;
  desc.owner = { domain: d, pirq };
  return pirq;
}

/**
 * unmap_domain_pirq(): a still-bound pirq is force-unbound; the IRTE is freed, the entry masked.
 * Simplified: after a forced unbind Xen leaves the pirq half-mapped (info->arch.irq = -irq, the
 * irq_pirq slot -pirq, hvm_pirq_dpci flags and a queued softirq kept) until pirq_guest_unbind, which
 * unbind_pt_irq can no longer reach (EPERM: irq <= 0); so get_free_pirq skips that pirq and
 * allocate_pirq finds -pirq (EBUSY) when create_irq hands out that irq number again. The model frees the pirq
 * at once, as an unmap after unbind_pt_irq (what QEMU does) would.
 */
export function unmapDomainPirq(xen: Xen, d: Domain, pirq: number): void {
  if (pirq < 0 || pirq >= d.nrPirqs) throw xerr('EINVAL', `d${d.id}: pirq ${pirq} is outside 0..${d.nrPirqs - 1}`);
  const dpci = d.pirqs.get(pirq);
  if (!dpci || dpci.irq < 0) throw xerr('EINVAL', `domain ${d.id} pirq ${pirq} not mapped`);
  const desc = xen.irqs[dpci.irq]!;
  if (dpci.flags !== 0) {
    xen.console.printk(`dom${d.id}: forcing unbind of pirq ${pirq}`);
    unbindDpci(xen, dpci);
  }
  const m = desc.msi;
  if (m) {
    msixWrite(m.pdev, m.entryNr, 12, 1);
    if (m.ir !== null && m.remapIndex >= 0 && m.remapIndex < IREMAP_ENTRY_NR) m.ir.free(m.remapIndex);
  }
  destroyIrq(xen, desc);
  dpci.irq = -1;
  d.pirqs.delete(pirq);
}
