// Passthrough interrupts of HVM guests (xen/drivers/passthrough/x86/hvm.c): pt_irq_create_bind's MSI
// case (220-405) with the posting decision of reference xen.md 3.4 - single destination (or any 1-vCPU
// domain) posted, lowest priority posted by vector hashing S[gvec % |S|] (164-218), otherwise the
// remapped fallback - and pt_irq_destroy_bind (683-684: a posted pirq's IRTE goes back to remapped
// first); the legacy path's hvm_do_IRQ_dpci (768-785), the HVM_DPCI_SOFTIRQ handler and
// hvm_dirq_assist (836-870, 1072-1112), and hvm_migrate_pirq(s) (hvm/hvm.c:473-500).
import {
  XEN_DOMCTL_VMSI_X86_DELIV_MASK, XEN_DOMCTL_VMSI_X86_DEST_ID_MASK, XEN_DOMCTL_VMSI_X86_DM_MASK, XEN_DOMCTL_VMSI_X86_TRIG_MASK,
  XEN_DOMCTL_VMSI_X86_UNMASKED, PT_IRQ_TYPE_MSI, PT_IRQ_TYPE_MSI_TRANSLATE, PT_IRQ_TYPE_PCI,
} from '../../../include-ts/xen/domctl.js';
import { DLM_LOWEST_PRIO } from '../../hw/iommu/vtd/msi-format.js';
import { HVM_IRQ_DPCI_GUEST_MSI, HVM_IRQ_DPCI_MACH_MSI, HVM_IRQ_DPCI_MAPPED, PirqDpci, type Domain, type Vcpu } from '../domain.js';
import { xerr } from '../errors.js';
import type { XenCpu } from '../percpu.js';
import { HVM_DPCI_SOFTIRQ } from '../softirq.js';
import type { ExecCtx, Xen } from '../xen.js';
import { hvmGirqDest2VcpuId, vmsiDeliver } from '../hvm/vmsi.js';
import { vlapicMatchDest } from '../hvm/vlapic.js';
import { guestMaskMsiIrq, piUpdateIrte, setIrqAffinity } from '../irq.js';

export interface BindPtIrq {
  readonly pirq: number;
  readonly irqType: number;
  readonly gvec: number;
  readonly gflags: number;
  readonly gtable: number;
}

/** vector_hashing_dest(): the matching vCPUs in vcpu_id order, pick index gvec % |S|; null if none. */
export function vectorHashingDest(d: Domain, dest: number, logical: boolean, gvec: number): Vcpu | null {
  const s = d.vcpus.filter((v) => vlapicMatchDest(v, dest, logical));
  return s.length === 0 ? null : s[gvec % s.length]!;
}

/**
 * pt_irq_create_bind() for PT_IRQ_TYPE_MSI. Validation is synchronous; the IRTE update is a step.
 * The domain's hvm_irq_dpci is allocated before the irq type is looked at, so it stays allocated
 * whatever the type (an unsupported one is EOPNOTSUPP from the switch's default).
 */
export function* ptIrqCreateBind(xen: Xen, d: Domain, b: BindPtIrq): Generator<void, void, void> {
  if (b.pirq < 0 || b.pirq >= d.nrPirqs) throw xerr('EINVAL', `d${d.id}: pirq ${b.pirq} is outside 0..${d.nrPirqs - 1}`);
  d.hasDpci = true;
  if (b.irqType === PT_IRQ_TYPE_PCI || b.irqType === PT_IRQ_TYPE_MSI_TRANSLATE) throw xerr('EOPNOTSUPP', `d${d.id}: irq_type ${b.irqType}: INTx passthrough is not modeled`);
  if (b.irqType !== PT_IRQ_TYPE_MSI) throw xerr('EOPNOTSUPP', `d${d.id}: irq_type ${b.irqType} is not supported`);
  const dpci = d.pirqs.get(b.pirq);
  if (!dpci || dpci.irq < 0) throw xerr('EINVAL', `d${d.id}: pirq ${b.pirq} is not mapped to an irq (pirq_guest_bind finds no irq_desc)`);
  const gflags = b.gflags & ~XEN_DOMCTL_VMSI_X86_UNMASKED;
  if ((dpci.flags & HVM_IRQ_DPCI_MAPPED) === 0) {
    dpci.flags = HVM_IRQ_DPCI_MAPPED | HVM_IRQ_DPCI_MACH_MSI | HVM_IRQ_DPCI_GUEST_MSI;
    dpci.gvec = b.gvec & 0xff;
    dpci.gflags = gflags;
    xen.irqs[dpci.irq]!.guest = dpci; // pirq_guest_bind()
  } else {
    const mask = HVM_IRQ_DPCI_MACH_MSI | HVM_IRQ_DPCI_GUEST_MSI;
    if ((dpci.flags & mask) !== mask) throw xerr('EBUSY', `d${d.id}: pirq ${b.pirq} is bound as a non-MSI interrupt`);
    // If pirq is already mapped as vmsi, update guest data/addr.
    dpci.gvec = b.gvec & 0xff;
    dpci.gflags = gflags;
  }
  // Calculate dest_vcpu_id for MSI-type pirq migration.
  const dest = dpci.gflags & XEN_DOMCTL_VMSI_X86_DEST_ID_MASK;
  const logical = (dpci.gflags & XEN_DOMCTL_VMSI_X86_DM_MASK) !== 0;
  const dlm = (dpci.gflags & XEN_DOMCTL_VMSI_X86_DELIV_MASK) >>> 12;
  dpci.destVcpuId = hvmGirqDest2VcpuId(d, dest, logical);
  dpci.posted = false;
  let vcpu: Vcpu | null = dpci.destVcpuId >= 0 ? d.vcpus[dpci.destVcpuId]! : null;
  if (xen.intpost) {
    if (dlm === DLM_LOWEST_PRIO) vcpu = vectorHashingDest(d, dest, logical, dpci.gvec);
    if (vcpu) dpci.posted = true;
  }
  if (vcpu && d.iommuEnabled) hvmMigratePirq(xen, dpci, vcpu);
  // Use interrupt posting if it is supported (vcpu null: the remapped fallback).
  if (xen.intpost) yield* piUpdateIrte(xen, vcpu, dpci, dpci.gvec);
  if (b.gflags & XEN_DOMCTL_VMSI_X86_UNMASKED) guestMaskMsiIrq(xen, dpci.irq, false);
}

/**
 * pt_irq_destroy_bind() for PT_IRQ_TYPE_MSI. The MSI is masked before the domain's hvm_irq_dpci is
 * looked for, so an unbind on a domain that never reached pt_irq_create_bind masks it and fails EINVAL.
 */
export function* ptIrqDestroyBind(xen: Xen, d: Domain, pirq: number, irqType: number): Generator<void, void, void> {
  if (irqType !== PT_IRQ_TYPE_MSI) throw xerr('EOPNOTSUPP', `d${d.id}: irq_type ${irqType}: only PT_IRQ_TYPE_MSI is modeled`);
  const dpci = d.pirqs.get(pirq);
  if (!dpci || dpci.irq < 0) throw xerr('EINVAL', `d${d.id}: pirq ${pirq} has no irq_desc`);
  // Leave the MSI masked, so that the state when calling pt_irq_create_bind is consistent.
  guestMaskMsiIrq(xen, dpci.irq, true);
  if (!d.hasDpci) throw xerr('EINVAL', `d${d.id} has no passthrough interrupt state (no pt_irq_create_bind yet)`);
  if (dpci.posted) yield* piUpdateIrte(xen, null, dpci, 0);
  if ((dpci.flags & HVM_IRQ_DPCI_MAPPED) !== 0) unbindDpci(xen, dpci);
}

/** pirq_guest_unbind() and the end of pt_irq_destroy_bind. */
export function unbindDpci(xen: Xen, dpci: PirqDpci): void {
  const desc = xen.irqs[dpci.irq];
  if (desc && desc.guest === dpci) desc.guest = null;
  dpci.flags = 0;
  dpci.posted = false;
  dpci.masked = false;
  dpci.destVcpuId = -1;
  const cpuLists = xen.cpus.map((c) => c.dpciList);
  for (const l of cpuLists) {
    const i = l.indexOf(dpci);
    if (i >= 0) l.splice(i, 1);
  }
  dpci.sched = false;
}

/** hvm_migrate_pirq(): a non-posted MSI follows its single destination vCPU's CPU. */
export function hvmMigratePirq(xen: Xen, dpci: PirqDpci, v: Vcpu): void {
  if (dpci.posted || dpci.irq < 0) return;
  const desc = xen.irqs[dpci.irq];
  if (desc && (dpci.flags & HVM_IRQ_DPCI_MACH_MSI) !== 0) setIrqAffinity(xen, desc, xen.cpus[v.processor]!);
}

/** hvm_migrate_pirqs(v), from vmx_do_resume on a new CPU. */
export function hvmMigratePirqs(xen: Xen, v: Vcpu): void {
  for (const dpci of v.domain.pirqs.values()) {
    if ((dpci.flags & HVM_IRQ_DPCI_MAPPED) !== 0 && dpci.destVcpuId === v.id) hvmMigratePirq(xen, dpci, v);
  }
}

/** hvm_do_IRQ_dpci(): from do_IRQ_guest on the host vector; queues the pirq for HVM_DPCI_SOFTIRQ. */
export function hvmDoIrqDpci(xen: Xen, c: XenCpu, dpci: PirqDpci): boolean {
  const d = dpci.domain;
  if (!d.iommuEnabled || !d.hasDpci || (dpci.flags & HVM_IRQ_DPCI_MAPPED) === 0) return false;
  dpci.masked = true;
  // raise_softirq_for(): STATE_SCHED coalesces.
  if (!dpci.sched) {
    dpci.sched = true;
    c.dpciList.push(dpci);
    xen.raiseSoftirq(c, HVM_DPCI_SOFTIRQ);
  }
  return true;
}

/** dpci_softirq() */
export function dpciSoftirq(xen: Xen, c: XenCpu): void {
  const ctx = xen.ctxOf(c, false);
  while (c.dpciList.length > 0) {
    const dpci = c.dpciList.shift()!;
    dpci.sched = false;
    hvmDirqAssist(xen, dpci, ctx);
  }
}

/** hvm_dirq_assist(): vmsi_deliver_pirq() for a guest MSI. */
function hvmDirqAssist(xen: Xen, dpci: PirqDpci, ctx: ExecCtx): void {
  if (!dpci.masked) return;
  dpci.masked = false;
  if ((dpci.flags & HVM_IRQ_DPCI_GUEST_MSI) === 0) return;
  const f = dpci.gflags;
  vmsiDeliver(xen, dpci.domain, dpci.gvec, f & XEN_DOMCTL_VMSI_X86_DEST_ID_MASK, (f & XEN_DOMCTL_VMSI_X86_DM_MASK) !== 0, (f & XEN_DOMCTL_VMSI_X86_DELIV_MASK) >>> 12, (f & XEN_DOMCTL_VMSI_X86_TRIG_MASK) !== 0, ctx);
}
