// x86 interrupt glue (arch/x86/kvm/irq.c, which absorbed irq_comm.c): MSI injection (kvm_set_msi,
// kvm_set_msi_irq), the in-atomic fast path irqfds use from their eventfd wakeup
// (kvm_arch_set_irq_inatomic), KVM_SIGNAL_MSI (kvm_send_userspace_msi), whether an irqfd may be
// assigned (kvm_arch_irqfd_allowed), and what a vCPU takes next (kvm_cpu_has_extint,
// kvm_cpu_get_interrupt: the 8259's ExtINT before the LAPIC).

import { ApicIrq } from '../../hw/x86/apic-irq.js';
import { msiToApicIrq } from '../../hw/x86/msi.js';
import { kerr } from '../errors.js';
import { KVM_IRQ_ROUTING_MSI, KVM_IRQFD_FLAG_RESAMPLE, KVM_MSI_VALID_DEVID } from '../../../include-ts/linux/kvm.js';
import { EWOULDBLOCK, KVM_IRQCHIP_KERNEL, KVM_IRQCHIP_NONE } from './kvm-host.js';
import { deliverFast, deliverToApic } from './lapic.js';
import type { KvmVcpu } from './vcpu.js';
import type { Kvm } from './vm.js';

const EINVAL = 22;
const ROUTING_MSI = KVM_IRQ_ROUTING_MSI;
/** The scratch request MSI injection decodes into (injection is not re-entrant per message). */
const msiIrq = new ApicIrq();

/** kvm_set_msi(): -EINVAL for an invalid route, -1 for a de-assert, else the delivery result. */
export function kvmSetMsi(kvm: Kvm, lo: number, hi: number, data: number, level: boolean): number {
  if (kvm.x2apicFormat && (hi & 0xff) !== 0) return -EINVAL;
  if (!level) return -1;
  msiToApicIrq(lo, hi, data, kvm.x2apicFormat, msiIrq);
  return deliverToApic(kvm, null, msiIrq, null);
}

/**
 * kvm_arch_set_irq_inatomic(): MSI routes are delivered straight from the eventfd wakeup when the fast
 * path can decide; everything else (irqchip routes, broadcasts) returns -EWOULDBLOCK and goes through
 * the irqfd's inject work item. `irq` is the route's message decoded by kvm_set_msi_irq (the irqfd
 * caches it with the route; the fast path does not modify it), `hi` its address_hi.
 */
export function kvmSetIrqInatomic(kvm: Kvm, type: number, hi: number, irq: ApicIrq): number {
  if (type !== ROUTING_MSI) return -EWOULDBLOCK;
  if (kvm.x2apicFormat && (hi & 0xff) !== 0) return -EINVAL;
  const r = deliverFast(kvm, null, irq, null);
  return r === -1000 ? -EWOULDBLOCK : r;
}

/** kvm_send_userspace_msi() for KVM_SIGNAL_MSI. */
export function kvmSendUserspaceMsi(kvm: Kvm, lo: number, hi: number, data: number, flags: number): number {
  if (kvm.irqchipMode === KVM_IRQCHIP_NONE) throw kerr('EINVAL', 'the VM has no in-kernel irqchip (KVM_CREATE_IRQCHIP or KVM_CAP_SPLIT_IRQCHIP first)');
  if (flags & ~KVM_MSI_VALID_DEVID) throw kerr('EINVAL', `flags 0x${flags.toString(16)} has bits other than KVM_MSI_VALID_DEVID`);
  const r = kvmSetMsi(kvm, lo, hi, data, true);
  if (r === -EINVAL) throw kerr('EINVAL', `with KVM_X2APIC_API_USE_32BIT_IDS, address_hi bits 7:0 must be 0 (got 0x${hi.toString(16)})`);
  if (r < 0) {
    // The kernel returns a raw -1 ("no destination"), which userspace sees as errno 1.
    throw kerr('EPERM', 'no vCPU has an APIC to deliver the MSI to (KVM returned -1: the VM has no vCPUs)');
  }
  return r;
}

/** kvm_arch_irqfd_allowed(): an in-kernel irqchip; resampling needs the full (non-split) one. */
export function kvmArchIrqfdAllowed(kvm: Kvm, flags: number): string | null {
  if (flags & KVM_IRQFD_FLAG_RESAMPLE) {
    if (kvm.irqchipMode !== KVM_IRQCHIP_KERNEL) return kvm.irqchipMode === KVM_IRQCHIP_NONE ? 'the VM has no in-kernel irqchip (KVM_CREATE_IRQCHIP first)' : 'KVM_IRQFD_FLAG_RESAMPLE needs the full in-kernel irqchip, not a split one (the IOAPIC is in userspace)';
    return null;
  }
  return kvm.irqchipMode === KVM_IRQCHIP_NONE ? 'the VM has no in-kernel irqchip (KVM_CREATE_IRQCHIP or KVM_CAP_SPLIT_IRQCHIP first)' : null;
}

/**
 * kvm_cpu_has_extint(): the PIC's INTR reaches this vCPU; with a split irqchip, a KVM_INTERRUPT vector
 * waits (pending_external_vector); without an in-kernel LAPIC, an interrupt is injected (interrupt.injected).
 */
export function kvmCpuHasExtint(v: KvmVcpu): boolean {
  const pic = v.kvm.pic;
  // INTR first: both tests are side-effect free, and this runs before every guest instruction with IF
  // set, where INTR is almost always low.
  if (pic !== null) return pic.output && v.lapic!.acceptsPicInterrupt();
  if (v.lapic === null) return v.injectedIrq >= 0;
  return v.pendingExternalVector !== -1 && v.lapic.acceptsPicInterrupt();
}

/** kvm_cpu_has_interrupt() (ExtINT or a deliverable LAPIC vector). */
export function kvmCpuHasInterrupt(v: KvmVcpu): boolean {
  if (kvmCpuHasExtint(v)) return true;
  return v.lapic !== null && v.lapic.pendingVector() !== -1;
}

/** kvm_cpu_get_interrupt(): acknowledges and returns the next vector, or -1. */
export function kvmCpuGetInterrupt(v: KvmVcpu): number {
  if (kvmCpuHasExtint(v)) {
    if (v.lapic === null) return v.injectedIrq;
    if (v.kvm.pic !== null) return v.kvm.pic.readIrq();
    const vec = v.pendingExternalVector;
    v.pendingExternalVector = -1;
    return vec;
  }
  return v.lapic !== null ? v.lapic.ackInterrupt() : -1;
}
