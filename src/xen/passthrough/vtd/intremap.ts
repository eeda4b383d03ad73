// Xen's VT-d interrupt-remapping driver (xen/drivers/passthrough/vtd/intremap.c): the remapping table
// it allocates and points the unit at (enable_intremap: IRTA with EIME for x2APIC, SIRTP, global IEC
// flush, IRE), entry allocation, and msi_msg_to_remap_entry (499-609) that writes an MSI's IRTE in
// remapped format, or in posted format when the MSI has a vCPU's PI descriptor (3.1 of reference
// xen.md): the 128-bit write is atomic (cmpxchg16b), then the IEC is flushed for that index. The
// device is programmed with the remappable-format address (handle = index, SHV=1) and data 0; switching
// an IRTE between formats never changes that message.
import { setU32 } from '../../../../abi/bytes.js';
import type { DrhdUnit } from '../../../hw/iommu/vtd/drhd.js';
import {
  IRTE_DLM_SHIFT, IRTE_DM, IRTE_IM, IRTE_P, IRTE_RH, IRTE_SIZE, IRTE_SQ_SHIFT, IRTE_SVT_SHIFT, IRTE_TM, IRTE_VECTOR_SHIFT, SVT_VERIFY_SID_SQ,
} from '../../../hw/iommu/vtd/irte.js';
import { DLM_LOWEST_PRIO, remappableMsiAddress } from '../../../hw/iommu/vtd/msi-format.js';
import { DMA_GCMD_IRE, DMA_GCMD_QIE, DMA_GCMD_SIRTP, IRTA_EIME } from '../../../hw/iommu/vtd/regs.js';
import type { PhysMemory } from '../../../hw/memory.js';

/** IRT size of the model: 256 entries (IRTA size field 7), one 4 KiB page. */
export const IREMAP_ENTRY_NR = 256;

/** A host MSI message before translation (what Xen composes for an irq: vector and destination CPU). */
export interface HostMsiMsg {
  vector: number;
  /** APIC ID of the destination CPU (msg->dest32). */
  dest32: number;
  logical: boolean;
  dlm: number;
  level: boolean;
}

/** The parts of struct msi_desc the remapping code reads. */
export interface RemapSource {
  remapIndex: number;
  /** msi_desc->pi_desc: the vCPU's descriptor address when posting, else null. */
  piDescAddr: number | null;
  gvec: number;
  /** Requester ID for set_msi_source_id (SVT=1, SQ=0: all 16 bits verified). */
  readonly sid: number;
}

export class IntRemap {
  readonly table: Uint8Array;
  readonly tableAddr: number;
  private readonly used = new Uint8Array(IREMAP_ENTRY_NR);
  /** IRTE writes and IEC flushes performed (inspection). */
  writes = 0;
  flushes = 0;

  constructor(
    readonly unit: DrhdUnit,
    mem: PhysMemory,
    readonly x2apic: boolean,
  ) {
    const r = mem.alloc(IREMAP_ENTRY_NR * IRTE_SIZE, 0x1000);
    this.table = r.bytes;
    this.tableAddr = r.addr;
  }

  /** enable_qinval() + enable_intremap(): QI, IRTA, SIRTP, global IEC flush, IRE. */
  enable(): void {
    this.unit.writeGcmd(DMA_GCMD_QIE);
    this.unit.writeIrta(this.tableAddr | (this.x2apic ? IRTA_EIME : 0) | 7);
    this.unit.writeGcmd(DMA_GCMD_QIE | DMA_GCMD_SIRTP);
    this.unit.invalidateIec(true);
    this.unit.writeGcmd(DMA_GCMD_QIE | DMA_GCMD_IRE);
  }

  /** alloc_remap_entry(): the first free index, or IREMAP_ENTRY_NR when full. */
  alloc(): number {
    const i = this.used.indexOf(0);
    if (i < 0) return IREMAP_ENTRY_NR;
    this.used[i] = 1;
    return i;
  }

  /** free_remap_entry(): clears the entry and flushes it. */
  free(index: number): void {
    this.table.fill(0, index * IRTE_SIZE, (index + 1) * IRTE_SIZE);
    this.used[index] = 0;
    this.flushIec(index);
  }

  /** iommu_flush_iec_index() through the invalidation queue. */
  flushIec(index: number): void {
    this.flushes++;
    this.unit.invalidateIec(false, index, 0);
  }

  /** update_irte(): the 16 bytes in one atomic write (cmpxchg16b). */
  private write(index: number, w0: number, w1: number, w2: number, w3: number): void {
    const o = index * IRTE_SIZE;
    setU32(this.table, o, w0);
    setU32(this.table, o + 4, w1);
    setU32(this.table, o + 8, w2);
    setU32(this.table, o + 12, w3);
    this.writes++;
  }

  /**
   * msi_msg_to_remap_entry() up to the IRTE write: returns whether a new index was allocated, and the
   * remappable-format message the device must hold. The caller flushes the IEC (a separate step).
   */
  writeEntry(src: RemapSource, msg: HostMsiMsg): { alloc: boolean; addrLo: number; data: number } {
    let alloc = false;
    if (src.remapIndex < 0) {
      const i = this.alloc();
      if (i >= IREMAP_ENTRY_NR) throw new Error('intremap: no free IRTE');
      src.remapIndex = i;
      alloc = true;
    }
    const w2 = (src.sid & 0xffff) | (0 << IRTE_SQ_SHIFT) | (SVT_VERIFY_SID_SQ << IRTE_SVT_SHIFT);
    if (src.piDescAddr === null) {
      const dlm = msg.dlm & 7;
      const w0 = IRTE_P | (msg.logical ? IRTE_DM : 0) | (msg.level ? IRTE_TM : 0) | (dlm << IRTE_DLM_SHIFT) | (dlm === DLM_LOWEST_PRIO ? IRTE_RH : 0) | ((msg.vector & 0xff) << IRTE_VECTOR_SHIFT);
      const dst = this.x2apic ? msg.dest32 >>> 0 : ((msg.dest32 & 0xff) << 8) >>> 0;
      this.write(src.remapIndex, w0 >>> 0, dst, w2 >>> 0, 0);
    } else {
      // Posted: IM=1, guest vector, PDA; URG, FPD and AVAIL stay 0.
      const pda = src.piDescAddr;
      const w0 = IRTE_P | IRTE_IM | ((src.gvec & 0xff) << IRTE_VECTOR_SHIFT);
      const w1 = (pda % 0x1_0000_0000) & 0xffffffc0;
      this.write(src.remapIndex, w0 >>> 0, w1 >>> 0, w2 >>> 0, Math.floor(pda / 0x1_0000_0000) >>> 0);
    }
    return { alloc, addrLo: remappableMsiAddress(src.remapIndex), data: 0 };
  }
}
