// One VT-d remapping hardware unit (DRHD) as the interrupt path sees it (VT-d spec 3.x ch. 5, 9.10-9.12,
// 10.4): CAP/ECAP, Global Command/Status, IRTA, the interrupt remapping table read from machine memory,
// the interrupt entry cache (IEC), queued-invalidation of IEC entries, and the handling of every
// interrupt request that reaches it:
// - IR disabled: the message is delivered as a compatibility-format MSI;
// - compatibility format with IR enabled: blocked (fault 0x25) in x2APIC mode (IRTA.EIME) or unless CFI
//   is set (5.1.4: "if EIME, or if Compatibility format interrupts are disabled (CFIS=0)");
// - remappable format: index = handle (+ sub-handle), the (cached) IRTE is checked (present, SID) and
//   then either remapped (IM=0: host vector to DST) or posted (IM=1: 2.4 of reference xen.md):
//   atomically PIR[vector]=1, and if ON=0 and (URG or SN=0) then ON=1 and a notification with vector
//   NV goes to physical APIC NDST; otherwise nothing else (ON is left as it is).
// The IEC holds entries as read at first use; software changes take effect only after it invalidates
// the index (Xen: iommu_flush_iec_index after each IRTE write, intremap.c:603-605).
import { getU32 } from '../../../../abi/bytes.js';
import type { Scheduler } from '../../../sim/scheduler.js';
import type { TraceBus } from '../../../sim/trace.js';
import type { PhysMemory } from '../../memory.js';
import type { ApicBus } from '../../x86/apic-bus.js';
import {
  IRTE_DLM_MASK, IRTE_DM, IRTE_IM, IRTE_P, IRTE_PDA_LO_MASK, IRTE_SIZE, IRTE_SQ_SHIFT, IRTE_SVT_SHIFT, IRTE_URG, IRTE_VECTOR_SHIFT,
  SVT_VERIFY_BUS, SVT_VERIFY_SID_SQ,
} from './irte.js';
import { MSI_ADDR_BASE, MSI_ADDR_BASE_MASK, MSI_ADDR_DEST_ID_MASK, MSI_ADDR_DEST_ID_SHIFT, MSI_ADDR_IF_REMAPPABLE, msiInterruptIndex } from './msi-format.js';
import { PI_CONTROL, PI_NDST, PI_NV } from './pi-desc.js';
import {
  capRegisters, DMA_GCMD_CFI, DMA_GCMD_IRE, DMA_GCMD_QIE, DMA_GCMD_SIRTP, DMA_GSTS_CFIS, DMA_GSTS_IRES, DMA_GSTS_IRTPS, DMA_GSTS_QIES,
  ecap_intr_remap, ecap_queued_inval, IRTA_EIME, IRTA_SIZE_MASK, type DrhdCaps,
} from './regs.js';

// Module-local copies of the constants deliverMsi() uses: imported bindings are getter calls under
// tsx/vite, too slow for the per-interrupt path.
const ADDR_BASE_MASK = MSI_ADDR_BASE_MASK;
const ADDR_BASE = MSI_ADDR_BASE;
const ADDR_REMAPPABLE = MSI_ADDR_IF_REMAPPABLE;
const GSTS_IRES = DMA_GSTS_IRES;
const GSTS_CFIS = DMA_GSTS_CFIS;
const P = IRTE_P;
const IM = IRTE_IM;
const VECTOR_SHIFT = IRTE_VECTOR_SHIFT;
const SVT_SHIFT = IRTE_SVT_SHIFT;
const SQ_SHIFT = IRTE_SQ_SHIFT;
const VERIFY_SID_SQ = SVT_VERIFY_SID_SQ;
const VERIFY_BUS = SVT_VERIFY_BUS;

/** Interrupt-remapping fault reasons (VT-d spec 3.x 7.1.3, table 26). */
export const IR_FAULT_INDEX_OUT_OF_RANGE = 0x21;
export const IR_FAULT_NOT_PRESENT = 0x22;
export const IR_FAULT_COMPAT_BLOCKED = 0x25;
export const IR_FAULT_SID_MISMATCH = 0x26;
export const IR_FAULT_PDA_INVALID = 0x27;

export interface IrFault {
  readonly unit: number;
  readonly reason: number;
  readonly rid: number;
  readonly index: number;
  readonly t: number;
}

/** Counters, for inspection and the bench (numbers only). */
export class DrhdStats {
  remapped = 0;
  posted = 0;
  notifications = 0;
  /** Posts that set PIR but sent no notification (ON already set, or SN=1). */
  suppressed = 0;
  compat = 0;
  faults = 0;
}

export class DrhdUnit {
  readonly cap: bigint;
  readonly ecap: bigint;
  gsts = 0;
  /** IRTA register: table address | EIME | size. */
  irta = 0;
  readonly stats = new DrhdStats();
  readonly faults: IrFault[] = [];
  /** Trace label, e.g. "dmar0". */
  readonly label: string;
  private irt: Uint8Array | null = null;
  private entries = 0;
  private eime = false;
  /** IEC: four words per cached entry and a valid flag. */
  private iec = new Uint32Array(0);
  private iecValid = new Uint8Array(0);

  constructor(
    readonly index: number,
    caps: DrhdCaps,
    private readonly mem: PhysMemory,
    private readonly bus: ApicBus,
    private readonly sched: Scheduler,
    private readonly trace: TraceBus,
  ) {
    const r = capRegisters(caps);
    this.cap = r.cap;
    this.ecap = r.ecap;
    this.label = `dmar${index}`;
  }

  get irEnabled(): boolean {
    return (this.gsts & DMA_GSTS_IRES) !== 0;
  }

  get tableEntries(): number {
    return this.entries;
  }

  /** The interrupt remapping table as hardware latched it (for inspection and Xen's dump). */
  get table(): Uint8Array | null {
    return this.irt;
  }

  writeIrta(v: number): void {
    this.irta = v;
  }

  /** Global Command register write: SIRTP latches IRTA; IRE/QIE/CFI are reflected in Global Status. */
  writeGcmd(v: number): void {
    if (v & DMA_GCMD_SIRTP) {
      const addr = this.irta - (this.irta % 0x1000);
      const n = 2 ** ((this.irta & IRTA_SIZE_MASK) + 1);
      const t = this.mem.resolve(addr, n * IRTE_SIZE);
      if (!t) throw new Error(`${this.label}: IRTA 0x${addr.toString(16)} is not allocated machine memory`);
      this.irt = t;
      this.entries = n;
      this.eime = (this.irta & IRTA_EIME) !== 0;
      this.iec = new Uint32Array(n * 4);
      this.iecValid = new Uint8Array(n);
      this.gsts |= DMA_GSTS_IRTPS;
    }
    const set = (cmd: number, sts: number, ok: boolean) => {
      if ((v & cmd) !== 0 && ok) this.gsts |= sts;
      else if ((v & cmd) === 0) this.gsts &= ~sts;
    };
    set(DMA_GCMD_QIE, DMA_GSTS_QIES, ecap_queued_inval(this.ecap));
    set(DMA_GCMD_IRE, DMA_GSTS_IRES, ecap_intr_remap(this.ecap) && this.irt !== null);
    set(DMA_GCMD_CFI, DMA_GSTS_CFIS, true);
  }

  /** An IEC invalidate descriptor executed from the invalidation queue: one index (2^mask entries) or all. */
  invalidateIec(global: boolean, index = 0, mask = 0): void {
    if (global) {
      this.iecValid.fill(0);
      return;
    }
    const n = 2 ** mask;
    for (let i = index; i < index + n && i < this.entries; i++) this.iecValid[i] = 0;
  }

  /** The IRTE words hardware uses for `index` (filling the IEC on a miss). */
  private fetch(index: number): number {
    if (this.iecValid[index] === 0) this.fill(index);
    return index * 4;
  }

  /** An interrupt entry cache miss: the entry is read from the table in memory. */
  private fill(index: number): void {
    const t = this.irt!;
    const o = index * IRTE_SIZE;
    const base = index * 4;
    this.iec[base] = getU32(t, o);
    this.iec[base + 1] = getU32(t, o + 4);
    this.iec[base + 2] = getU32(t, o + 8);
    this.iec[base + 3] = getU32(t, o + 12);
    this.iecValid[index] = 1;
  }

  private fault(reason: number, rid: number, index: number): void {
    this.stats.faults++;
    if (this.faults.length >= 256) this.faults.shift();
    this.faults.push({ unit: this.index, reason, rid, index, t: this.sched.now });
    if (this.trace.active) this.trace.emit({ type: 'irq', t: this.sched.now, hop: 'dropped', at: this.label, detail: `interrupt remapping fault 0x${reason.toString(16)} (index ${index}, source ${rid.toString(16).padStart(4, '0')})` });
  }

  /**
   * An interrupt request (a DMA write to 0xFEExxxxx) from requester `rid`. Allocation-free; addresses may
   * arrive as signed 32-bit values. The remapped case is kept small (TurboFan inlines it into the
   * device's send path); compatibility format, faults, posting and tracing are out of line.
   */
  deliverMsi(rid: number, addrLo: number, _addrHi: number, data: number): void {
    if ((addrLo & ADDR_BASE_MASK) >>> 0 !== ADDR_BASE) return;
    if ((this.gsts & GSTS_IRES) === 0 || (addrLo & ADDR_REMAPPABLE) === 0) return this.compat(rid, addrLo, data);
    const index = msiInterruptIndex(addrLo, data);
    if (index >= this.entries) return this.fault(IR_FAULT_INDEX_OUT_OF_RANGE, rid, index);
    const b = this.fetch(index);
    const iec = this.iec;
    const w0 = iec[b]!;
    if ((w0 & P) === 0) return this.fault(IR_FAULT_NOT_PRESENT, rid, index);
    const w2 = iec[b + 2]!;
    if (((w2 >>> SVT_SHIFT) & 3) !== 0 && !sourceMatches(w2, rid)) return this.fault(IR_FAULT_SID_MISMATCH, rid, index);
    const vector = (w0 >>> VECTOR_SHIFT) & 0xff;
    if ((w0 & IM) !== 0) return this.post(rid, index, b, vector);
    // Remapped: a fixed physical-destination interrupt to the host (logical/lowest-priority host
    // destinations are not modeled; Xen programs physical destinations here).
    this.stats.remapped++;
    const dst = this.eime ? iec[b + 1]! : (iec[b + 1]! >>> 8) & 0xff;
    if (this.trace.active) this.traceRemap(index, vector, dst, w0);
    this.bus.sendPhysical(dst, vector);
  }

  /** Remapping off, or a compatibility-format request: passed through unless EIME or a clear CFIS blocks it. */
  private compat(rid: number, addrLo: number, data: number): void {
    if ((this.gsts & GSTS_IRES) !== 0 && (this.eime || (this.gsts & GSTS_CFIS) === 0)) return this.fault(IR_FAULT_COMPAT_BLOCKED, rid, -1);
    this.stats.compat++;
    this.bus.sendPhysical((addrLo & MSI_ADDR_DEST_ID_MASK) >>> MSI_ADDR_DEST_ID_SHIFT, data & 0xff);
  }

  private traceRemap(index: number, vector: number, dst: number, w0: number): void {
    this.trace.emit({ type: 'irq', t: this.sched.now, hop: 'iommu-remap', at: this.label, vector, detail: `IRTE ${index} remapped: host vector 0x${vector.toString(16)} to APIC ${dst}${w0 & IRTE_DM ? ' (logical)' : ''}${(w0 & IRTE_DLM_MASK) !== 0 ? ' lowest-priority' : ''}` });
  }

  /** A posted IRTE (reference xen.md 2.4): PIR bit, then a notification unless ON is set or SN suppresses it. */
  private post(rid: number, index: number, b: number, vector: number): void {
    const iec = this.iec;
    const w0 = iec[b]!;
    const tr = this.trace;
    const pda = iec[b + 3]! * 0x1_0000_0000 + ((iec[b + 1]! & IRTE_PDA_LO_MASK) >>> 0);
    const pd = this.mem.at(pda);
    if (pd === undefined) return this.fault(IR_FAULT_PDA_INVALID, rid, index);
    this.stats.posted++;
    pd[vector >>> 3] = pd[vector >>> 3]! | (1 << (vector & 7));
    const ctl = pd[PI_CONTROL]!;
    const urg = (w0 & IRTE_URG) !== 0;
    if ((ctl & 1) === 0 && (urg || (ctl & 2) === 0)) {
      pd[PI_CONTROL] = ctl | 1;
      this.stats.notifications++;
      const nv = pd[PI_NV]!;
      const ndst = getU32(pd, PI_NDST);
      const dest = this.eime ? ndst : (ndst >>> 8) & 0xff;
      if (tr.active) {
        tr.emit({ type: 'irq', t: this.sched.now, hop: 'pi-post', at: this.label, vector, detail: `IRTE ${index} posted: PIR[0x${vector.toString(16)}]=1, ON 0->1` });
        tr.emit({ type: 'irq', t: this.sched.now, hop: 'pi-notify', at: this.label, vector: nv, detail: `notification vector 0x${nv.toString(16)} to APIC ${dest}` });
      }
      this.bus.sendPhysical(dest, nv);
    } else {
      this.stats.suppressed++;
      if (tr.active) tr.emit({ type: 'irq', t: this.sched.now, hop: 'pi-post', at: this.label, vector, detail: `IRTE ${index} posted: PIR[0x${vector.toString(16)}]=1, no notification (${ctl & 1 ? 'ON already 1' : 'SN=1'})` });
    }
  }
}

/**
 * Source validation (VT-d 9.10, IRTE SVT/SQ/SID): SVT=01b compares the requester ID with SID, SQ masking
 * function bits; SVT=10b checks that the requester's bus is within SID[15:8] (start) .. SID[7:0] (end),
 * which is what software programs for devices behind a PCIe-to-PCI bridge (the bridge may take
 * ownership of their requests). SVT=11b is reserved: nothing matches (real hardware reports a reserved
 * field, 24h; the unit models no reserved-field checks, so it reports a source-id mismatch).
 */
function sourceMatches(w2: number, rid: number): boolean {
  const svt = (w2 >>> SVT_SHIFT) & 3;
  if (svt === VERIFY_BUS) {
    const bus = (rid >>> 8) & 0xff;
    return bus >= ((w2 >>> 8) & 0xff) && bus <= (w2 & 0xff);
  }
  if (svt !== VERIFY_SID_SQ) return false;
  const sq = (w2 >>> SQ_SHIFT) & 3;
  const ignore = sq === 0 ? 0 : sq === 1 ? 0x4 : sq === 2 ? 0x6 : 0x7;
  return ((w2 ^ rid) & 0xffff & ~ignore) === 0;
}
