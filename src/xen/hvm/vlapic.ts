// The parts of Xen's virtual LAPIC (xen/arch/x86/hvm/vlapic.c) on the interrupt path, working on the
// vCPU's virtual-APIC page (the shared LAPIC register model): vlapic_set_irq (149-171) choosing
// software posting or IRR + kick, destination matching (vlapic_match_dest / vlapic_match_logical_addr),
// the lowest-priority arbitration without posting (vlapic_lowest_prio, 385-414), the pending-interrupt
// checks used at VM entry and by vcpu_block's post-block check (hvm/irq.c hvm_vcpu_has_pending_irq,
// hvm.c hvm_interrupt_blocked / hvm_local_events_need_delivery), and emulated APIC writes.
import { APIC_DFR_CLUSTER, APIC_DFR_FLAT, APIC_IRR } from '../../hw/x86/apicdef.js';
import { bitmapAssign, bitmapTest } from '../../hw/vmx/vmcs.js';
import type { Domain, Vcpu } from '../domain.js';
import type { ExecCtx, Xen } from '../xen.js';
import { vcpuKick } from '../sched/core.js';
import { vmxDeliverPostedIntr, vmxSyncPirToIrr } from './vmx/posted-intr.js';

/** vlapic_set_irq(): `vec` becomes pending for `v` (trig: level). */
export function vlapicSetIrq(xen: Xen, v: Vcpu, vec: number, trig: boolean, ctx: ExecCtx): void {
  if (vec < 16) return; // APIC_ESR_RECVILL
  const a = v.vlapic;
  a.setTrigger(vec, trig);
  if (xen.vid) vmxUpdateEoiExitBitmap(v, vec, trig);
  const tr = xen.trace;
  if (tr.active) tr.emit({ type: 'irq', t: xen.sched.now, hop: 'lapic-irr', at: v.label, vector: vec, detail: xen.cpuPi ? 'vlapic_set_irq: software posting (PIR)' : 'vlapic_set_irq: IRR + vcpu_kick' });
  if (xen.cpuPi) vmxDeliverPostedIntr(xen, v, vec, ctx);
  else if (!a.testVector(APIC_IRR, vec)) {
    a.orIrrWord(vec >>> 5, 1 << (vec & 31));
    vcpuKick(xen, v, ctx);
  }
}

/** vmx_update_eoi_exit_bitmap(): set/clear, flagging eoi_exitmap_changed when the bit changes. */
function vmxUpdateEoiExitBitmap(v: Vcpu, vec: number, set: boolean): void {
  if (bitmapTest(v.eoiExitBitmap, vec) === set) return;
  bitmapAssign(v.eoiExitBitmap, vec, set);
  v.eoiExitmapChanged |= 1 << (vec >>> 6);
}

/** vlapic_match_dest(target, NULL, APIC_DEST_NOSHORT, dest, dest_mode), xAPIC. */
export function vlapicMatchDest(v: Vcpu, dest: number, logical: boolean): boolean {
  const a = v.vlapic;
  if (logical) {
    const id = a.ldr >>> 24;
    const mda = dest & 0xff;
    if (a.dfr === APIC_DFR_FLAT) return (id & mda) !== 0;
    if (a.dfr === APIC_DFR_CLUSTER) return id >>> 4 === mda >>> 4 && (id & mda & 0xf) !== 0;
    return false;
  }
  return dest === 0xff || dest === a.xapicId;
}

/** vlapic_lowest_prio(): round robin after the last choice, lowest PPR among matching enabled vLAPICs. */
export function vlapicLowestPrio(d: Domain, dest: number, logical: boolean): Vcpu | null {
  const old = d.roundRobinPrevVcpu;
  if (d.vcpus[old] === undefined) return null;
  let target: Vcpu | null = null;
  let targetPpr = Infinity;
  let i = old;
  do {
    i = (i + 1) % d.vcpus.length;
    const v = d.vcpus[i]!;
    if (vlapicMatchDest(v, dest, logical) && v.vlapic.enabled && v.vlapic.ppr < targetPpr) {
      target = v;
      targetPpr = v.vlapic.ppr;
    }
  } while (i !== old);
  if (target !== null) d.roundRobinPrevVcpu = target.id;
  return target;
}

/**
 * hvm_vcpu_has_pending_irq() for the LAPIC source: syncs PIR into IRR first, unconditionally
 * (56348df32b); then with virtual-interrupt delivery the highest IRR vector regardless of PPR, without
 * it the highest vector above PPR. -1: none.
 */
export function hvmVcpuPendingLapicIrq(xen: Xen, v: Vcpu): number {
  if (xen.cpuPi) vmxSyncPirToIrr(xen, v);
  const a = v.vlapic;
  if (!a.enabled) return -1;
  return xen.vid ? a.highestIrr() : a.pendingVector();
}

/** hvm_interrupt_blocked() for a LAPIC interrupt: RFLAGS.IF, the STI shadow, then the TPR class. */
export function hvmInterruptBlocked(v: Vcpu, vector: number): 'rflags' | 'shadow' | 'tpr' | 'none' {
  if (!v.guest.ifFlag) return 'rflags';
  if (v.guest.shadow) return 'shadow';
  if ((v.vlapic.tpr & 0xf0) >> 4 >= vector >> 4) return 'tpr';
  return 'none';
}

/** hvm_local_events_need_delivery(): the post-block check of vcpu_block. */
export function hvmLocalEventsNeedDelivery(xen: Xen, v: Vcpu): boolean {
  const vec = hvmVcpuPendingLapicIrq(xen, v);
  if (vec < 0) return false;
  return hvmInterruptBlocked(v, vec) === 'none';
}

/** vlapic_reg_write() for a write the CPU trapped or faulted on (EOI included). */
export function vlapicRegWrite(v: Vcpu, reg: number, value: number): void {
  v.vlapic.writeReg(reg, value);
}
