// KVM's side of the local APICs (arch/x86/kvm/lapic.c): the optimized APIC map
// (kvm_recalculate_apic_map, kvm_recalculate_phys_map/logical_map, kvm_apic_map_get_logical_dest,
// kvm_apic_map_get_dest_lapic), interrupt delivery to destinations (kvm_irq_delivery_to_apic_fast,
// kvm_irq_delivery_to_apic, kvm_apic_match_dest with kvm_apic_mda, kvm_apic_set_irq), what an APIC's
// EOI and ICR writes do in KVM (kvm_ioapic_send_eoi: in-kernel IOAPIC EOI, or KVM_EXIT_IOAPIC_EOI with
// a split irqchip; kvm_apic_send_ipi), and the x2APIC MSRs (kvm_x2apic_msr_read/write). The APIC itself
// is the hypervisor-neutral src/hw/x86/lapic.ts.
//
// Delivery: physical destination = the APIC whose ID matches: the 8-bit xAPIC ID, or in x2APIC mode the
// 32-bit x2APIC ID (= vCPU ID); 0xFF (xAPIC) / 0xFFFFFFFF (x2APIC) broadcast. Logical = LDR against the
// destination in flat (8-bit mask), cluster (4-bit cluster, 4-bit mask) or x2APIC (16-bit cluster,
// 16-bit mask) mode. Lowest priority picks one APIC by vector hashing (vector mod #candidates). The
// fast path uses the map and costs O(1) per physical destination; broadcasts, shorthands and
// inconsistent maps take the slow path over every vCPU. The result is the number of APICs that
// accepted: -1 when the VM has no APIC at all (KVM_SIGNAL_MSI then returns EPERM), 0 when no
// destination accepted. KVM's quirks are kept: the x2APIC logical map is the physical map read by
// cluster, so an xAPIC-mode vCPU sits in it at its xAPIC ID; without KVM_X2APIC_API_USE_32BIT_IDS two
// vCPUs with one physical ID disable the map, with it the first one wins; an xAPIC-mode vCPU whose
// vCPU ID is above 0xFF answers to it (the hotplug hack); and unless KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK
// is set, a non-IPI message to 0xFF is a broadcast for x2APIC-mode targets too (kvm_apic_mda).

import { ApicIrq } from '../../hw/x86/apic-irq.js';
import {
  APIC_BASE_MSR, APIC_BROADCAST, APIC_DEST_ALLBUT, APIC_DEST_ALLINC, APIC_DEST_LOGICAL, APIC_DEST_NOSHORT, APIC_DEST_PHYSICAL,
  APIC_DEST_SELF, APIC_DFR_FLAT, APIC_DM_FIXED, APIC_DM_LOWEST, APIC_ICR, X2APIC_BROADCAST,
} from '../../hw/x86/apicdef.js';
import type { Lapic, LapicHooks } from '../../hw/x86/lapic.js';
import type { KvmIoapic } from './ioapic.js';
import { KVM_IRQCHIP_SPLIT, KVM_SUPPRESS_EOI_BROADCAST_ENABLED } from './kvm-host.js';
import { handlesVector, requestScanIoapic } from './scan-ioapic.js';
import type { KvmVcpu } from './vcpu.js';
import type { Kvm } from './vm.js';

const MODE_SW_DISABLED = 0;
const MODE_FLAT = 1;
const MODE_CLUSTER = 2;
const MODE_MAP_DISABLED = 3;
const MODE_X2APIC = 4;

/** Result of the fast path when it cannot decide (kvm_irq_delivery_to_apic_fast() == false). */
const NOT_HANDLED = -1000;
// Module-local copies for the delivery fast path.
const DEST_NOSHORT = APIC_DEST_NOSHORT;
const DEST_SELF = APIC_DEST_SELF;
const DEST_PHYSICAL = APIC_DEST_PHYSICAL;
const BROADCAST = APIC_BROADCAST;
const DM_FIXED = APIC_DM_FIXED;
const DM_LOWEST = APIC_DM_LOWEST;
const IRQCHIP_SPLIT = KVM_IRQCHIP_SPLIT;
const SUPPRESS_EOI_ENABLED = KVM_SUPPRESS_EOI_BROADCAST_ENABLED;

/** struct kvm_apic_map (xAPIC part). */
export class ApicMap {
  dirty = true;
  /** False when the map could not be built (duplicate IDs): every delivery takes the slow path. */
  valid = false;
  maxApicId = 255;
  phys: (KvmVcpu | null)[] = [];
  logicalMode = MODE_SW_DISABLED;
  /** xapic_flat_map[8] and xapic_cluster_map[16][4]. */
  readonly flat: (KvmVcpu | null)[] = new Array(8).fill(null);
  readonly cluster: (KvmVcpu | null)[] = new Array(64).fill(null);

  /**
   * kvm_recalculate_apic_map() over the vCPUs kvm_for_each_vcpu() sees. `allocated`: the map exists even
   * if no vCPU is in it (kvm_lapic_reset() recalculates it while the vCPU being created is not yet
   * visible, so that vCPU stays out of it until the next change). `x2apicFormat`: KVM_X2APIC_API_USE_32BIT_IDS.
   */
  recalc(vcpus: readonly KvmVcpu[], x2apicFormat: boolean, allocated = false): void {
    this.dirty = false;
    let max = 255;
    for (const v of vcpus) if (v.lapic && v.lapic.hwEnabled) max = Math.max(max, v.vcpuId);
    this.maxApicId = max;
    this.phys = new Array(max + 1).fill(null);
    this.flat.fill(null);
    this.cluster.fill(null);
    this.logicalMode = MODE_SW_DISABLED;
    // KVM computes the map only once a vCPU with a LAPIC exists; until then kvm->arch.apic_map is NULL.
    this.valid = allocated || vcpus.some((v) => v.lapic !== null);
    for (const v of vcpus) {
      const apic = v.lapic;
      if (!apic || !apic.hwEnabled) continue;
      if (!this.addPhysical(v, apic, x2apicFormat)) {
        this.valid = false;
        return;
      }
      this.addLogical(v, apic);
    }
  }

  /** kvm_recalculate_phys_map(): false when IDs alias (the optimized map is then not used). */
  private addPhysical(v: KvmVcpu, apic: Lapic, x2apicFormat: boolean): boolean {
    const x2id = apic.x2apicId;
    const x2 = apic.x2apicMode;
    if (x2apicFormat) {
      // The hotplug hack, and aliases silently resolved in favour of the first vCPU.
      if (x2 || x2id > 0xff) this.phys[x2id] = v;
      if (!x2 && !this.phys[apic.xapicId]) this.phys[apic.xapicId] = v;
      return true;
    }
    const id = x2 ? x2id : apic.xapicId;
    if (this.phys[id]) return false;
    this.phys[id] = v;
    return true;
  }

  /** kvm_recalculate_logical_map(). */
  private addLogical(v: KvmVcpu, apic: Lapic): void {
    if (this.logicalMode === MODE_MAP_DISABLED || !apic.swEnabled) return;
    if (!apic.ldr) return;
    const x2 = apic.x2apicMode;
    const mode = x2 ? MODE_X2APIC : apic.dfr === APIC_DFR_FLAT ? MODE_FLAT : MODE_CLUSTER;
    if (this.logicalMode === MODE_SW_DISABLED) this.logicalMode = mode;
    else if (this.logicalMode !== mode) {
      this.logicalMode = MODE_MAP_DISABLED;
      return;
    }
    // x2APIC: LDR is derived from the ID, so the physical map read by cluster is the logical map.
    if (x2) return;
    const ldr = apic.ldr >>> 24;
    const base = mode === MODE_FLAT ? 0 : ((ldr >> 4) & 0xf) * 4;
    const mask = mode === MODE_FLAT ? ldr & 0xff : ldr & 0xf;
    if (!mask) return;
    const i = 31 - Math.clz32(mask & -mask);
    const table = mode === MODE_FLAT ? this.flat : this.cluster;
    if ((mask & (mask - 1)) !== 0 || table[base + i]) this.logicalMode = MODE_MAP_DISABLED;
    else table[base + i] = v;
  }
}

/** kvm_vector_to_index(): the (vector mod n)-th set bit of `bitmap`. */
function vectorToIndex(vector: number, n: number, bitmap: number): number {
  const mod = vector % n;
  let idx = -1;
  for (let i = 0; i <= mod; i++) {
    idx++;
    while (!(bitmap & (1 << idx))) idx++;
  }
  return idx;
}

function popcount16(x: number): number {
  let n = 0;
  while (x) {
    x &= x - 1;
    n++;
  }
  return n;
}

/** kvm_apic_set_irq() (+ the RTC dest_map bookkeeping of __apic_accept_irq). */
export function apicSetIrq(v: KvmVcpu, irq: ApicIrq, rtc: KvmIoapic | null): number {
  const r = v.lapic!.accept(irq.deliveryMode, irq.vector, irq.level, irq.trigMode !== 0);
  if (r === 1 && rtc !== null && (irq.deliveryMode === DM_FIXED || irq.deliveryMode === DM_LOWEST)) rtc.rtcDestSet(v, irq.vector);
  return r;
}

/** kvm_apic_is_broadcast_dest(): `src` is the sending vCPU of an IPI (null for MSIs and IOAPIC pins). */
function isBroadcastDest(kvm: Kvm, src: KvmVcpu | null, irq: ApicIrq, map: ApicMap): boolean {
  const dest = irq.destId;
  if (kvm.x2apicBroadcastQuirkDisabled) return (dest === BROADCAST && map.logicalMode !== MODE_X2APIC) || dest === X2APIC_BROADCAST;
  return dest === (src !== null && src.lapic!.x2apicMode ? X2APIC_BROADCAST : BROADCAST);
}

/** kvm_irq_delivery_to_apic_fast(): NOT_HANDLED when the slow path must decide. */
export function deliverFast(kvm: Kvm, src: KvmVcpu | null, irq: ApicIrq, rtc: KvmIoapic | null): number {
  const shorthand = irq.shorthand;
  if (shorthand !== DEST_NOSHORT) return shorthand === DEST_SELF && src !== null ? apicSetIrq(src, irq, rtc) : NOT_HANDLED;
  const map = kvm.apicMap;
  if (map.dirty) map.recalc(kvm.vcpus, kvm.x2apicFormat);
  if (!map.valid || isBroadcastDest(kvm, src, irq, map)) return NOT_HANDLED;
  if (irq.destMode === DEST_PHYSICAL) {
    const id = irq.destId;
    if (id > map.maxApicId) return 0;
    const v = map.phys[id];
    return v ? apicSetIrq(v, irq, rtc) : 0;
  }
  return deliverLogical(map, irq, rtc);
}

/** The logical-destination half of the fast path (out of line: MSIs and IOAPIC pins are mostly physical). */
function deliverLogical(map: ApicMap, irq: ApicIrq, rtc: KvmIoapic | null): number {
  let table: (KvmVcpu | null)[];
  let base: number;
  let mask: number;
  const dest = irq.destId;
  switch (map.logicalMode) {
    case MODE_SW_DISABLED:
      return 0;
    case MODE_FLAT:
      table = map.flat;
      base = 0;
      mask = dest & 0xff;
      break;
    case MODE_CLUSTER:
      table = map.cluster;
      base = ((dest >> 4) & 0xf) * 4;
      mask = dest & 0xf;
      break;
    case MODE_X2APIC: {
      // Cluster dest[31:16] is phys_map[cluster * 16 ...], as many of its 16 as the map holds.
      table = map.phys;
      base = (dest >>> 16) * 16;
      if (base > map.maxApicId) return 0;
      const size = Math.min(map.maxApicId - base + 1, 16);
      mask = dest & (0xffff >>> (16 - size));
      break;
    }
    default:
      return NOT_HANDLED;
  }
  if (!irq.lowestPriority) {
    let r = 0;
    for (let i = 0; mask >> i; i++) {
      if (!(mask & (1 << i))) continue;
      const v = table[base + i];
      if (v) r += apicSetIrq(v, irq, rtc);
    }
    return r;
  }
  if (!mask) return 0;
  const idx = vectorToIndex(irq.vector, popcount16(mask), mask);
  const v = table[base + idx];
  return v ? apicSetIrq(v, irq, rtc) : 0;
}

/**
 * kvm_apic_match_dest(): whether `target` is a destination of (shorthand, dest, destMode) sent by `src`
 * (null: not an IPI). kvm_apic_mda(): with the broadcast quirk, a non-IPI 0xFF is an x2APIC broadcast
 * for x2APIC-mode targets.
 */
export function apicMatchDest(kvm: Kvm, target: KvmVcpu, src: KvmVcpu | null, shorthand: number, dest: number, destMode: number): boolean {
  const apic = target.lapic!;
  switch (shorthand) {
    case APIC_DEST_NOSHORT: {
      const mda = !kvm.x2apicBroadcastQuirkDisabled && src === null && dest === BROADCAST && apic.x2apicMode ? X2APIC_BROADCAST : dest;
      return destMode === APIC_DEST_LOGICAL ? apic.matchLogical(mda) : apic.matchPhysical(mda);
    }
    case APIC_DEST_SELF:
      return target === src;
    case APIC_DEST_ALLINC:
      return true;
    case APIC_DEST_ALLBUT:
      return target !== src;
    default:
      return false;
  }
}

/** kvm_irq_delivery_to_apic(): -1 if no APIC could take it, else the number that accepted. */
export function deliverToApic(kvm: Kvm, src: KvmVcpu | null, irq: ApicIrq, rtc: KvmIoapic | null): number {
  const fast = deliverFast(kvm, src, irq, rtc);
  if (fast !== NOT_HANDLED) return fast;
  let r = -1;
  if (irq.destMode === APIC_DEST_PHYSICAL && irq.destId === APIC_BROADCAST && irq.lowestPriority) irq.deliveryMode = APIC_DM_FIXED;
  const lowest = irq.lowestPriority;
  let candidates: KvmVcpu[] | null = null;
  for (const v of kvm.vcpus) {
    const apic = v.lapic;
    if (!apic || !apic.hwEnabled) continue;
    if (!apicMatchDest(kvm, v, src, irq.shorthand, irq.destId, irq.destMode)) continue;
    if (!lowest) {
      if (r < 0) r = 0;
      r += apicSetIrq(v, irq, rtc);
    } else if (apic.swEnabled) {
      (candidates ??= []).push(v);
    }
  }
  if (candidates) {
    const idx = irq.vector % candidates.length;
    r = apicSetIrq(candidates[idx]!, irq, rtc);
  }
  return r;
}

/** What KVM does around one vCPU's APIC (the LapicHooks of src/hw/x86/lapic.ts). */
export class KvmLapicOps implements LapicHooks {
  constructor(
    private readonly kvm: Kvm,
    private readonly vcpu: KvmVcpu,
  ) {}

  /** kvm_ioapic_send_eoi(): only the vectors this vCPU's ioapic_handled_vectors names go on. */
  eoi(apic: Lapic, vector: number, level: boolean): void {
    // Only a guest instruction EOIs, and enterGuest() serves a scan request before each one.
    const v = this.vcpu;
    if (!handlesVector(v, vector)) return;
    // The EOI of an interrupt from before a re-route: later ones need not be intercepted.
    if (v.highestStalePendingIoapicEoi === vector) v.scanIoapicRequested = true;
    const kvm = this.kvm;
    if (kvm.irqchipMode === IRQCHIP_SPLIT) {
      // A guest that turned on directed EOI EOIs the I/O APIC itself: no exit, if userspace said its
      // IOAPIC supports that (KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST); else the legacy broadcast.
      if (kvm.suppressEoiBroadcast === SUPPRESS_EOI_ENABLED && apic.directedEoi) return;
      v.pendingIoapicEoi = vector;
      return;
    }
    kvm.ioapic?.updateEoi(v, vector, level);
  }

  sendIpi(_apic: Lapic, irq: ApicIrq): void {
    deliverToApic(this.kvm, this.vcpu, irq, null);
  }

  /** kvm_recalculate_apic_map(), which ends with kvm_make_scan_ioapic_request(). */
  mapChanged(): void {
    this.kvm.apicMap.dirty = true;
    requestScanIoapic(this.kvm);
  }

  kick(): void {
    this.vcpu.kick();
  }
}

/** The x2APIC register an MSR from APIC_BASE_MSR names. */
const x2apicReg = (msr: number): number => (msr - APIC_BASE_MSR) << 4;

/** kvm_x2apic_msr_read(): the value, or null (not x2APIC mode, no in-kernel LAPIC, or not readable). */
export function kvmX2apicMsrRead(v: KvmVcpu, msr: number): bigint | null {
  const apic = v.lapic;
  if (apic === null || !apic.x2apicMode) return null;
  const reg = x2apicReg(msr);
  // ICR is one 64-bit register; every other is read as 32 bits.
  if (reg === APIC_ICR) return (BigInt(apic.icrHigh) << 32n) | BigInt(apic.icrLow);
  const r = apic.regRead(reg, 4);
  return r < 0 ? null : BigInt(r);
}

/** kvm_x2apic_msr_write(): false if refused (bits 63:32 set outside ICR, or the register refuses the write). */
export function kvmX2apicMsrWrite(v: KvmVcpu, msr: number, data: bigint): boolean {
  const apic = v.lapic;
  if (apic === null || !apic.x2apicMode) return false;
  const reg = x2apicReg(msr);
  const lo = Number(data & 0xffff_ffffn);
  const hi = Number(data >> 32n);
  if (reg === APIC_ICR) return apic.icrWriteX2(lo, hi) === 0;
  if (hi !== 0) return false;
  return apic.writeReg(reg, lo) === 0;
}
