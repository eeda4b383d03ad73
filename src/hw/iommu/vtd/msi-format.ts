// The two MSI formats an interrupt-remapping unit sees (VT-d spec 3.x 5.1.2; Xen vtd/vtd.h:53-69):
// - compatibility format (Intel SDM vol. 3 10.11): address 0xFEE | dest ID [19:12] | RH [3] | DM [2],
//   data: vector [7:0] | delivery mode [10:8] | level [14] | trigger [15];
// - remappable format: address 0xFEE | handle[14:0] in [19:5] | format=1 [4] | SHV [3] | handle[15] [2],
//   data: the sub-handle [15:0] (added to the handle when SHV=1).
// The interrupt index is handle (+ sub-handle). Xen programs devices with SHV=1 and data=0.

export const MSI_ADDR_BASE = 0xfee00000;
export const MSI_ADDR_BASE_MASK = 0xfff00000;

// compatibility format
export const MSI_ADDR_DEST_ID_SHIFT = 12;
export const MSI_ADDR_DEST_ID_MASK = 0x000ff000;
export const MSI_ADDR_REDIRECTION_HINT = 1 << 3;
export const MSI_ADDR_DEST_MODE_LOGICAL = 1 << 2;
export const MSI_DATA_VECTOR_MASK = 0xff;
export const MSI_DATA_DELIVERY_MODE_SHIFT = 8;
export const MSI_DATA_DELIVERY_MODE_MASK = 0x700;
export const MSI_DATA_LEVEL_ASSERT = 1 << 14;
export const MSI_DATA_TRIGGER_LEVEL = 1 << 15;

/** Delivery modes (data [10:8]; also the IRTE's DLM). */
export const DLM_FIXED = 0;
export const DLM_LOWEST_PRIO = 1;
export const DLM_SMI = 2;
export const DLM_NMI = 4;
export const DLM_INIT = 5;
export const DLM_EXTINT = 7;

// remappable format
export const MSI_ADDR_IF_REMAPPABLE = 1 << 4;
export const MSI_ADDR_SHV = 1 << 3;
export const MSI_ADDR_HANDLE_15 = 1 << 2;
export const MSI_ADDR_HANDLE_LO_SHIFT = 5;
export const MSI_ADDR_HANDLE_LO_MASK = 0x000fffe0;

/** The remappable-format address for interrupt index `index` (SHV set, as Xen writes it). */
export function remappableMsiAddress(index: number): number {
  return (MSI_ADDR_BASE | ((index & 0x7fff) << MSI_ADDR_HANDLE_LO_SHIFT) | MSI_ADDR_IF_REMAPPABLE | MSI_ADDR_SHV | (index & 0x8000 ? MSI_ADDR_HANDLE_15 : 0)) >>> 0;
}

/** The handle of a remappable-format address. */
export function msiHandle(addrLo: number): number {
  return ((addrLo & MSI_ADDR_HANDLE_LO_MASK) >>> MSI_ADDR_HANDLE_LO_SHIFT) | (addrLo & MSI_ADDR_HANDLE_15 ? 0x8000 : 0);
}

/** The interrupt index a remappable-format message selects. */
export function msiInterruptIndex(addrLo: number, data: number): number {
  const h = msiHandle(addrLo);
  return addrLo & MSI_ADDR_SHV ? (h + (data & 0xffff)) & 0xffff : h;
}

/** A compatibility-format message (what a device sends without remapping, and how a guest writes its MSI). */
export interface CompatMsi {
  readonly dest: number;
  readonly vector: number;
  readonly logical: boolean;
  readonly redirectionHint: boolean;
  readonly deliveryMode: number;
  readonly level: boolean;
}

export function decodeCompatMsi(addrLo: number, data: number): CompatMsi {
  return {
    dest: (addrLo & MSI_ADDR_DEST_ID_MASK) >>> MSI_ADDR_DEST_ID_SHIFT,
    vector: data & MSI_DATA_VECTOR_MASK,
    logical: (addrLo & MSI_ADDR_DEST_MODE_LOGICAL) !== 0,
    redirectionHint: (addrLo & MSI_ADDR_REDIRECTION_HINT) !== 0,
    deliveryMode: (data & MSI_DATA_DELIVERY_MODE_MASK) >>> MSI_DATA_DELIVERY_MODE_SHIFT,
    level: (data & MSI_DATA_TRIGGER_LEVEL) !== 0,
  };
}

export function encodeCompatMsi(m: Partial<CompatMsi> & { dest: number; vector: number }): { addrLo: number; data: number } {
  const addrLo = (MSI_ADDR_BASE | ((m.dest & 0xff) << MSI_ADDR_DEST_ID_SHIFT) | (m.redirectionHint ? MSI_ADDR_REDIRECTION_HINT : 0) | (m.logical ? MSI_ADDR_DEST_MODE_LOGICAL : 0)) >>> 0;
  const data = (m.vector & 0xff) | ((m.deliveryMode ?? DLM_FIXED) << MSI_DATA_DELIVERY_MODE_SHIFT) | (m.level ? MSI_DATA_TRIGGER_LEVEL : 0);
  return { addrLo, data };
}
