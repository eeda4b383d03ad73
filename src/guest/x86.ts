// Guest-side x86 platform code, as an OS kernel would write it: enabling the local APIC (SPIV),
// masking the 8259s when the IOAPIC is used (OCW1 = 0xFF on ports 0x21/0xA1, as Linux does), setting
// the task priority, programming IOAPIC redirection entries through IOREGSEL/IOWIN, and the LAPIC's
// logical destination registers; and the same in x2APIC mode, where the registers are MSRs (Linux's
// x2apic_enable / native_apic_msr_write). Each helper appends instructions to a GuestAsm; register r15
// is used as scratch, and the x2APIC helpers use WRMSR's registers too (r0 = EAX, r2 = ECX, r3 = EDX).

import {
  APIC_BASE_MSR, APIC_DEFAULT_PHYS_BASE, APIC_DFR, APIC_EOI, APIC_LDR, APIC_LVT0, APIC_LVT_MASKED, APIC_SPIV, APIC_SPIV_APIC_ENABLED, APIC_TASKPRI,
  MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE,
} from '../hw/x86/apicdef.js';
import { MSR_IA32_APICBASE } from '../hw/x86/msr-index.js';
import { IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_REG_WINDOW, IOAPIC_RTE_DEST_LOGICAL, IOAPIC_RTE_LEVEL, IOAPIC_RTE_MASK } from '../hw/x86/ioapic.js';
import { r0, r2, r3, type GuestAsm } from './program.js';

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

/** WRMSR of the x2APIC register at xAPIC offset `reg` (MSR 0x800 + reg/16) with a 32-bit value. */
export function x2apicWrite(a: GuestAsm, reg: number, value: number): GuestAsm {
  return a.mov(r2, APIC_BASE_MSR + (reg >> 4)).mov(r0, value >>> 0).mov(r3, 0).wrmsr();
}

/**
 * x2apic_enable(): IA32_APIC_BASE |= EN | EXTD (read-modify-write), then SPIV through its MSR. The guest
 * CPUID must offer x2APIC, or the WRMSR takes #GP.
 */
export function enableX2apic(a: GuestAsm, spuriousVector = 0xff): GuestAsm {
  a.mov(r2, MSR_IA32_APICBASE).rdmsr().or(r0, MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE).wrmsr();
  return x2apicWrite(a, APIC_SPIV, APIC_SPIV_APIC_ENABLED | spuriousVector);
}

/** EOI in x2APIC mode: WRMSR 0x80b with 0. */
export function x2apicEoi(a: GuestAsm): GuestAsm {
  return x2apicWrite(a, APIC_EOI, 0);
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
