// Mirrors Xen's public <xen/physdev.h> (xen/include/public/physdev.h): PHYSDEVOP_map_pirq and
// PHYSDEVOP_unmap_pirq, the toolstack's way to give a domain a pirq for a device's MSI/MSI-X entry.
import { s32, struct, u16, u64 } from '../../abi/layout.js';

export const PHYSDEVOP_map_pirq = 13;
export const PHYSDEVOP_unmap_pirq = 14;

/** `type` of struct physdev_map_pirq. */
export const MAP_PIRQ_TYPE_MSI = 0x0;
export const MAP_PIRQ_TYPE_GSI = 0x1;
export const MAP_PIRQ_TYPE_UNKNOWN = 0x2;
/** MSI with the PCI segment in bus[31:16]. */
export const MAP_PIRQ_TYPE_MSI_SEG = 0x3;
export const MAP_PIRQ_TYPE_MULTI_MSI = 0x4;

/**
 * IN: domid, type, index (for MSI: -1 asks for a new irq, else an irq dom0 created; ignored for
 * MULTI_MSI), bus (segment in [31:16] for MSI_SEG), devfn, entry_nr (MSI-X entry), table_base (MSI-X
 * table BAR base). IN/OUT: pirq (-1 allocates one).
 */
export const physdev_map_pirq = struct('physdev_map_pirq', {
  domid: u16,
  type: s32,
  index: s32,
  pirq: s32,
  bus: s32,
  devfn: s32,
  entry_nr: s32,
  table_base: u64,
});

export const physdev_unmap_pirq = struct('physdev_unmap_pirq', { domid: u16, pirq: s32 });
