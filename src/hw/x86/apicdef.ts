// arch/x86/include/asm/apicdef.h: local APIC register offsets and field encodings (xAPIC MMIO layout;
// in x2APIC mode the same offsets are MSRs from APIC_BASE_MSR),
// shared by the LAPIC, IOAPIC and MSI models and by every hypervisor built on them.

export const APIC_DEFAULT_PHYS_BASE = 0xfee0_0000;
/** The xAPIC MMIO window (LAPIC_MMIO_LENGTH in KVM). */
export const APIC_MMIO_LENGTH = 0x1000;

export const APIC_ID = 0x20;
export const APIC_LVR = 0x30;
export const APIC_TASKPRI = 0x80;
export const APIC_ARBPRI = 0x90;
export const APIC_PROCPRI = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_RRR = 0xc0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SPIV = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_LVTCMCI = 0x2f0;
export const APIC_ICR = 0x300;
export const APIC_ICR2 = 0x310;
export const APIC_LVTT = 0x320;
export const APIC_LVTTHMR = 0x330;
export const APIC_LVTPC = 0x340;
export const APIC_LVT0 = 0x350;
export const APIC_LVT1 = 0x360;
export const APIC_LVTERR = 0x370;
export const APIC_TMICT = 0x380;
export const APIC_TMCCT = 0x390;
export const APIC_TDCR = 0x3e0;
/** x2APIC only: SELF IPI (MSR 0x83f). */
export const APIC_SELF_IPI = 0x3f0;

/** x2APIC registers are MSRs 0x800-0x8ff: register offset = (msr - APIC_BASE_MSR) << 4. */
export const APIC_BASE_MSR = 0x800;
/** x2APIC broadcast destination. */
export const X2APIC_BROADCAST = 0xffff_ffff;

/** KVM's version register: version 0x14, max LVT entry 5 (six LVTs) — 0x00050014 measured on 6.18. */
export const APIC_VERSION = 0x14;
export const APIC_LVR_DIRECTED_EOI = 1 << 24;

export const APIC_SPIV_APIC_ENABLED = 0x100;
export const APIC_SPIV_FOCUS_DISABLED = 0x200;
export const APIC_SPIV_DIRECTED_EOI = 0x1000;

export const APIC_DFR_FLAT = 0xffff_ffff;
export const APIC_DFR_CLUSTER = 0x0fff_ffff;
export const APIC_LDR_MASK = 0xff00_0000;

/** Delivery modes, as in ICR/LVT bits 10:8 (kvm_lapic_irq.delivery_mode holds them shifted). */
export const APIC_DM_FIXED = 0x000;
export const APIC_DM_LOWEST = 0x100;
export const APIC_DM_SMI = 0x200;
export const APIC_DM_REMRD = 0x300;
export const APIC_DM_NMI = 0x400;
export const APIC_DM_INIT = 0x500;
export const APIC_DM_STARTUP = 0x600;
export const APIC_DM_EXTINT = 0x700;
export const APIC_MODE_MASK = 0x700;

export const APIC_DEST_PHYSICAL = 0x000;
export const APIC_DEST_LOGICAL = 0x800;
export const APIC_SEND_PENDING = 0x1000;
export const APIC_INPUT_POLARITY = 0x2000;
export const APIC_LVT_REMOTE_IRR = 0x4000;
export const APIC_INT_ASSERT = 0x4000;
export const APIC_INT_LEVELTRIG = 0x8000;
export const APIC_LVT_LEVEL_TRIGGER = 0x8000;
export const APIC_LVT_MASKED = 0x10000;
export const APIC_VECTOR_MASK = 0xff;

export const APIC_DEST_NOSHORT = 0x00000;
export const APIC_DEST_SELF = 0x40000;
export const APIC_DEST_ALLINC = 0x80000;
export const APIC_DEST_ALLBUT = 0xc0000;
export const APIC_SHORT_MASK = 0xc0000;

/** xAPIC broadcast destination. */
export const APIC_BROADCAST = 0xff;

/** IA32_APIC_BASE MSR bits. */
export const MSR_IA32_APICBASE_BSP = 1 << 8;
export const MSR_IA32_APICBASE_ENABLE = 1 << 11;
/** x2APIC mode enable (EXTD). */
export const X2APIC_ENABLE = 1 << 10;

/**
 * IA32_APIC_BASE after RESET: the default base, enabled, BSP flag on the bootstrap processor
 * (SDM vol. 3 "Local APIC Status and Location"; KVM's kvm_lapic_reset).
 */
export function apicBaseResetValue(bsp: boolean): number {
  return (APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE | (bsp ? MSR_IA32_APICBASE_BSP : 0)) >>> 0;
}
