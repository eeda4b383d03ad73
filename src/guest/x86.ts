// Guest-side x86 platform code, as an OS kernel would write it: enabling the local APIC (SPIV),
// masking the 8259s when the IOAPIC is used (OCW1 = 0xFF on ports 0x21/0xA1, as Linux does), setting
// the task priority, programming IOAPIC redirection entries through IOREGSEL/IOWIN, and the LAPIC's
// logical destination registers. Each helper appends instructions to a GuestAsm; register r15 is
// used as scratch.

import { APIC_DEFAULT_PHYS_BASE, APIC_DFR, APIC_LDR, APIC_LVT0, APIC_LVT_MASKED, APIC_SPIV, APIC_SPIV_APIC_ENABLED, APIC_TASKPRI } from '../hw/x86/apicdef.js';
import { IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_REG_WINDOW, IOAPIC_RTE_DEST_LOGICAL, IOAPIC_RTE_LEVEL, IOAPIC_RTE_MASK } from '../hw/x86/ioapic.js';
import type { GuestAsm } from './program.js';

export const APIC = APIC_DEFAULT_PHYS_BASE;
export const IOAPIC = IOAPIC_DEFAULT_BASE_ADDRESS;

/** SPIV = software enable | spurious vector. */
export function enableLapic(a: GuestAsm, spuriousVector = 0xff): GuestAsm {
  return a.store32(APIC + APIC_SPIV, APIC_SPIV_APIC_ENABLED | spuriousVector);
}

export function disableLapic(a: GuestAsm, spuriousVector = 0xff): GuestAsm {
  return a.store32(APIC + APIC_SPIV, spuriousVector);
}

export function setTpr(a: GuestAsm, tpr: number): GuestAsm {
  return a.store32(APIC + APIC_TASKPRI, tpr);
}

/** Masks LINT0 (ExtINT from the 8259) on this CPU. */
export function maskLint0(a: GuestAsm): GuestAsm {
  return a.store32(APIC + APIC_LVT0, APIC_LVT_MASKED);
}

/** Logical destination: LDR bits 31:24 and flat or cluster model. */
export function setLogicalId(a: GuestAsm, logicalId: number, cluster = false): GuestAsm {
  a.store32(APIC + APIC_DFR, cluster ? 0x0fff_ffff : 0xffff_ffff);
  return a.store32(APIC + APIC_LDR, ((logicalId & 0xff) << 24) >>> 0);
}

/** OCW1 = 0xFF on both 8259s: every legacy pin masked. */
export function maskPic(a: GuestAsm): GuestAsm {
  return a.out(0x21, 0xff).out(0xa1, 0xff);
}

export function ioapicWrite(a: GuestAsm, index: number, value: number): GuestAsm {
  return a.store32(IOAPIC, index).store32(IOAPIC + IOAPIC_REG_WINDOW, value >>> 0);
}

export interface RouteOptions {
  readonly vector: number;
  readonly level?: boolean;
  /** APIC ID (physical) or logical mask. */
  readonly dest?: number;
  readonly logical?: boolean;
  readonly masked?: boolean;
  /** APIC_DM_* (default fixed). */
  readonly deliveryMode?: number;
}

/** The low dword of a redirection entry. */
export function redirLow(o: RouteOptions): number {
  return ((o.vector & 0xff) | (o.deliveryMode ?? 0) | (o.logical ? IOAPIC_RTE_DEST_LOGICAL : 0) | (o.level ? IOAPIC_RTE_LEVEL : 0) | (o.masked ? IOAPIC_RTE_MASK : 0)) >>> 0;
}

/** Programs pin `pin`: destination (high dword) first, then the low dword. */
export function ioapicRoute(a: GuestAsm, pin: number, o: RouteOptions): GuestAsm {
  ioapicWrite(a, 0x11 + 2 * pin, (((o.dest ?? 0) & 0xff) << 24) >>> 0);
  return ioapicWrite(a, 0x10 + 2 * pin, redirLow(o));
}

/** Rewrites the low dword of pin `pin` with the mask bit set or clear. */
export function ioapicSetMask(a: GuestAsm, pin: number, o: RouteOptions, masked: boolean): GuestAsm {
  return ioapicWrite(a, 0x10 + 2 * pin, redirLow({ ...o, masked }));
}
