// One interrupt request as the APIC bus carries it (struct kvm_lapic_irq in arch/x86/kvm/lapic.h, the
// same fields Xen's vlapic uses): produced by an IOAPIC redirection entry, an MSI message or an IPI.
// Models reuse one instance as scratch so that delivering an interrupt allocates nothing.

import { APIC_DEST_NOSHORT, APIC_DEST_PHYSICAL, APIC_DM_FIXED, APIC_DM_LOWEST } from './apicdef.js';

export class ApicIrq {
  vector = 0;
  /** APIC_DM_* (already shifted to bits 10:8). */
  deliveryMode = APIC_DM_FIXED;
  /** APIC_DEST_PHYSICAL or APIC_DEST_LOGICAL. */
  destMode = APIC_DEST_PHYSICAL;
  /** Assert (true) or de-assert; MSIs and IOAPIC deliveries always assert. */
  level = true;
  /** 0 edge, 1 level. */
  trigMode = 0;
  /** APIC_DEST_NOSHORT / SELF / ALLINC / ALLBUT. */
  shorthand = APIC_DEST_NOSHORT;
  destId = 0;
  /** MSI address bit 3 (redirection hint): lowest-priority style delivery. */
  msiRedirHint = false;

  set(vector: number, deliveryMode: number, destMode: number, trigMode: number, destId: number): this {
    this.vector = vector;
    this.deliveryMode = deliveryMode;
    this.destMode = destMode;
    this.level = true;
    this.trigMode = trigMode;
    this.shorthand = APIC_DEST_NOSHORT;
    this.destId = destId;
    this.msiRedirHint = false;
    return this;
  }

  /** kvm_lowest_prio_delivery(). */
  get lowestPriority(): boolean {
    return this.deliveryMode === APIC_DM_LOWEST || this.msiRedirHint;
  }
}
