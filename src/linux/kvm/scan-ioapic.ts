// KVM_REQ_SCAN_IOAPIC: which vectors' EOIs a vCPU forwards to the IOAPIC (arch/x86/kvm/x86.c
// vcpu_scan_ioapic; arch/x86/kvm/irq.c kvm_scan_ioapic_irq, kvm_scan_ioapic_routes,
// kvm_arch_irq_routing_update; arch/x86/kvm/ioapic.c kvm_ioapic_scan_entry; arch/x86/kvm/lapic.c
// kvm_ioapic_send_eoi).
//
// Each vCPU has its own bitmap, ioapic_handled_vectors, rebuilt when a request reaches it, at its next
// guest entry (the model serves it before the next guest instruction; only guest instructions EOI).
// A vector is in it when an IOAPIC pin (in-kernel: level-triggered, with an ack notifier, or the RTC
// pin; split: a level-triggered MSI route below the reserved pins) carries it and either targets this
// vCPU or is pending in its IRR/ISR at that moment. The second case is a stale pending EOI (the pin
// was re-routed away while its interrupt was in flight): its EOI is forwarded once, and forwarding it
// asks for a new scan, which drops the vector again.
//
// So a vCPU that is not a destination of a level pin and takes the same vector from elsewhere (an
// MSI, an IPI) does not clear the pin's remote IRR with its EOI, and after re-routing a pin the EOI
// of the old destination still reaches the IOAPIC until it has been seen once.
//
// Who asks (kvm_make_scan_ioapic_request): a write of a redirection entry (only the vCPUs the new and
// the old destination name, both tested with the new destination mode, for a fixed-delivery entry;
// every vCPU otherwise), an ack notifier registered or removed, a routing change with a split
// irqchip, a recalculated APIC map, KVM_SET_IRQCHIP of the IOAPIC, and a new vCPU.

import { ApicIrq } from '../../hw/x86/apic-irq.js';
import { APIC_DEST_NOSHORT, APIC_IRR, APIC_ISR } from '../../hw/x86/apicdef.js';
import { apicMatchDest } from './lapic.js';
import { msiToApicIrq } from '../../hw/x86/msi.js';
import { KVM_IRQ_ROUTING_MSI } from '../../../include-ts/linux/kvm.js';
import { KVM_IRQCHIP_SPLIT } from './kvm-host.js';
import type { KvmVcpu } from './vcpu.js';
import type { Kvm } from './vm.js';

const scratch = new ApicIrq();

/** kvm_make_scan_ioapic_request(): every vCPU rescans at its next entry. */
export function requestScanIoapic(kvm: Kvm): void {
  for (const v of kvm.vcpus) v.scanIoapicRequested = true;
}

/** vcpu_scan_ioapic(): rebuilds the vCPU's ioapic_handled_vectors. */
export function vcpuScanIoapic(v: KvmVcpu): void {
  v.scanIoapicRequested = false;
  const apic = v.lapic;
  if (apic === null) return;
  v.ioapicHandledVectors.fill(0);
  v.highestStalePendingIoapicEoi = -1;
  const kvm = v.kvm;
  if (kvm.irqchipMode === KVM_IRQCHIP_SPLIT) scanIoapicRoutes(kvm, v);
  else if (kvm.ioapic !== null) kvm.ioapic.scanEntry(v);
}

/** kvm_scan_ioapic_routes(): a split irqchip's level-triggered MSI routes on the reserved IOAPIC pins. */
function scanIoapicRoutes(kvm: Kvm, v: KvmVcpu): void {
  const rt = kvm.routing;
  const n = Math.min(rt.nrRtEntries, kvm.nrReservedIoapicPins);
  for (let gsi = 0; gsi < n; gsi++) {
    for (const e of rt.entries(gsi)) {
      if (e.type !== KVM_IRQ_ROUTING_MSI) continue;
      msiToApicIrq(e.msiLo, e.msiHi, e.msiData, kvm.x2apicFormat, scratch);
      if (scratch.trigMode) scanIoapicIrq(v, scratch.destId, scratch.destMode, scratch.vector);
    }
  }
}

/**
 * kvm_scan_ioapic_irq(): a pin (or route) with `vector` aimed at (dest, destMode): its EOI is
 * intercepted on a destination vCPU, and on another vCPU while the vector is pending there (tracked
 * as the highest stale pending EOI).
 */
export function scanIoapicIrq(v: KvmVcpu, dest: number, destMode: number, vector: number): void {
  const apic = v.lapic!;
  if (apicMatchDest(v.kvm, v, null, APIC_DEST_NOSHORT, dest, destMode)) setHandled(v, vector);
  else if (apic.testVector(APIC_ISR, vector) || apic.testVector(APIC_IRR, vector)) {
    setHandled(v, vector);
    if (vector > v.highestStalePendingIoapicEoi) v.highestStalePendingIoapicEoi = vector;
  }
}

export function setHandled(v: KvmVcpu, vector: number): void {
  v.ioapicHandledVectors[vector >> 5] |= 1 << (vector & 31);
}

/** kvm_ioapic_handles_vector(). */
export function handlesVector(v: KvmVcpu, vector: number): boolean {
  return (v.ioapicHandledVectors[vector >> 5]! & (1 << (vector & 31))) !== 0;
}
