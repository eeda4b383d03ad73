// The x86 MSI message format (arch/x86/include/asm/msi.h; Intel SDM vol. 3, 11.11 "Message Signalled
// Interrupts"), and its decoding into an APIC bus request as KVM does it (kvm_set_msi_irq in
// arch/x86/kvm/irq.c, x86_msi_msg_get_destid in arch/x86/kernel/apic/apic.c):
//   address_lo: [31:20] 0xFEE, [19:12] destination ID, [11:5] extended destination ID (paravirt),
//               [3] redirection hint, [2] destination mode (1 = logical)
//   address_hi: 0, or destination ID bits 31:8 in bits 31:8 with 32-bit x2APIC IDs (bits 7:0 must be 0)
//   data:       [7:0] vector, [10:8] delivery mode, [14] level (assert), [15] trigger mode (1 = level)
// The 0xFEE prefix is not checked by KVM (an MSI to address 0 targets APIC 0).

import { APIC_DEST_LOGICAL, APIC_DEST_NOSHORT, APIC_DEST_PHYSICAL } from './apicdef.js';
import type { ApicIrq } from './apic-irq.js';

export const MSI_ADDR_BASE = 0xfee0_0000;
export const MSI_ADDR_DEST_ID_SHIFT = 12;
export const MSI_ADDR_DEST_ID_MASK = 0x000f_f000;
export const MSI_ADDR_EXT_DEST_ID_SHIFT = 5;
export const MSI_ADDR_EXT_DEST_ID_MASK = 0x0000_0fe0;
export const MSI_ADDR_REDIRECTION_HINT = 1 << 3;
export const MSI_ADDR_DEST_MODE_LOGICAL = 1 << 2;

export const MSI_DATA_VECTOR_MASK = 0xff;
export const MSI_DATA_DELIVERY_MODE_SHIFT = 8;
export const MSI_DATA_DELIVERY_MODE_MASK = 0x700;
export const MSI_DATA_LEVEL_ASSERT = 1 << 14;
export const MSI_DATA_TRIGGER_LEVEL = 1 << 15;

export interface MsiFields {
  readonly destId: number;
  readonly logical: boolean;
  readonly redirHint: boolean;
  readonly vector: number;
  /** APIC_DM_* (bits 10:8 kept in place). */
  readonly deliveryMode: number;
  readonly levelTriggered: boolean;
}

/** Composes an MSI address (low dword) for `destId` (0-255). */
export function msiAddress(destId: number, logical = false, redirHint = false): number {
  return (MSI_ADDR_BASE | ((destId & 0xff) << MSI_ADDR_DEST_ID_SHIFT) | (redirHint ? MSI_ADDR_REDIRECTION_HINT : 0) | (logical ? MSI_ADDR_DEST_MODE_LOGICAL : 0)) >>> 0;
}

/** Composes MSI data: vector, delivery mode (APIC_DM_*), trigger. Edge MSIs leave the level bit 0 as Linux does. */
export function msiData(vector: number, deliveryMode = 0, levelTriggered = false): number {
  return ((vector & 0xff) | (deliveryMode & MSI_DATA_DELIVERY_MODE_MASK) | (levelTriggered ? MSI_DATA_TRIGGER_LEVEL | MSI_DATA_LEVEL_ASSERT : 0)) >>> 0;
}

/** x86_msi_msg_get_destid(): bits 19:12, plus address_hi bits 31:8 when 32-bit x2APIC IDs are in use. */
export function msiDestId(addressLo: number, addressHi: number, x2apicFormat: boolean): number {
  let dest = (addressLo & MSI_ADDR_DEST_ID_MASK) >>> MSI_ADDR_DEST_ID_SHIFT;
  if (x2apicFormat) dest = (dest | (addressHi & 0xffff_ff00)) >>> 0;
  return dest;
}

/**
 * kvm_set_msi_irq(): fills `out` from an MSI message. The level is forced to 1 (an MSI always
 * asserts); the trigger mode comes from data bit 15.
 */
export function msiToApicIrq(addressLo: number, addressHi: number, data: number, x2apicFormat: boolean, out: ApicIrq): ApicIrq {
  out.destId = msiDestId(addressLo, addressHi, x2apicFormat);
  out.vector = data & MSI_DATA_VECTOR_MASK;
  out.destMode = addressLo & MSI_ADDR_DEST_MODE_LOGICAL ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL;
  out.trigMode = data & MSI_DATA_TRIGGER_LEVEL ? 1 : 0;
  out.deliveryMode = data & MSI_DATA_DELIVERY_MODE_MASK;
  out.msiRedirHint = (addressLo & MSI_ADDR_REDIRECTION_HINT) !== 0;
  out.level = true;
  out.shorthand = APIC_DEST_NOSHORT;
  return out;
}

/** Decodes a message into named fields (for inspection and traces; allocates). */
export function decodeMsi(addressLo: number, addressHi: number, data: number, x2apicFormat = false): MsiFields {
  return {
    destId: msiDestId(addressLo, addressHi, x2apicFormat),
    logical: (addressLo & MSI_ADDR_DEST_MODE_LOGICAL) !== 0,
    redirHint: (addressLo & MSI_ADDR_REDIRECTION_HINT) !== 0,
    vector: data & MSI_DATA_VECTOR_MASK,
    deliveryMode: data & MSI_DATA_DELIVERY_MODE_MASK,
    levelTriggered: (data & MSI_DATA_TRIGGER_LEVEL) !== 0,
  };
}
