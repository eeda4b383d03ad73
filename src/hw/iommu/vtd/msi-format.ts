// The two MSI formats an interrupt-remapping unit sees (VT-d spec 3.x 5.1.2; Xen vtd/vtd.h:53-69):
// - compatibility format: the x86 MSI format of src/hw/x86/msi.ts;
// - remappable format: address 0xFEE | handle[14:0] in [19:5] | format=1 [4] | SHV [3] | handle[15] [2],
//   data: the sub-handle [15:0] (added to the handle when SHV=1).
// The interrupt index is handle (+ sub-handle). Xen programs devices with SHV=1 and data=0.

export { MSI_ADDR_BASE, MSI_ADDR_DEST_ID_MASK, MSI_ADDR_DEST_ID_SHIFT } from '../../x86/msi.js';
export const MSI_ADDR_BASE_MASK = 0xfff00000;

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
  return (0xfee00000 | ((index & 0x7fff) << MSI_ADDR_HANDLE_LO_SHIFT) | MSI_ADDR_IF_REMAPPABLE | MSI_ADDR_SHV | (index & 0x8000 ? MSI_ADDR_HANDLE_15 : 0)) >>> 0;
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
