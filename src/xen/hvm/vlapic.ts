// The parts of Xen's virtual LAPIC (xen/arch/x86/hvm/vlapic.c) on the interrupt path, over the
// architectural register state of the vCPU's virtual-APIC page: vlapic_set_irq (149-171) choosing
// software posting or IRR + kick, destination matching (vlapic_match_dest / _match_logical_addr), the
// lowest-priority arbitration without posting (vlapic_lowest_prio, 385-414), the pending-interrupt
// checks used at VM entry and by vcpu_block's post-block check (hvm/irq.c hvm_vcpu_has_pending_irq,
// hvm.c hvm_interrupt_blocked / hvm_local_events_need_delivery), and EOI.
import { apicPpr, vecClear, vecHighest, vecSet, vecTestAndSet } from '../../hw/x86/lapic-standin.js';
import type { Domain, Vcpu } from '../domain.js';
import type { ExecCtx, Xen } from '../xen.js';
import { vcpuKick } from '../sched/core.js';
import { vmxDeliverPostedIntr, vmxSyncPirToIrr } from './vmx/posted-intr.js';

/** vlapic_set_irq(): `vec` becomes pending for `v` (trig: level). */
export function vlapicSetIrq(xen: Xen, v: Vcpu, vec: number, trig: boolean, ctx: ExecCtx): void {
  if (vec < 16) return; // APIC_ESR_RECVILL
  const a = v.vlapic;
  if (trig) vecSet(a.tmr, vec);
  else vecClear(a.tmr, vec);
  if (xen.vid) vmxUpdateEoiExitBitmap(v, vec, trig);
  if (xen.cpuPi) vmxDeliverPostedIntr(xen, v, vec, ctx);
  else if (!vecTestAndSet(a.irr, vec)) vcpuKick(xen, v, ctx);
  const tr = xen.trace;
  if (tr.active) tr.emit({ type: 'irq', t: xen.sched.now, hop: 'lapic-irr', at: v.label, vector: vec, detail: xen.cpuPi ? 'vlapic_set_irq: software posting (PIR)' : 'vlapic_set_irq: IRR + vcpu_kick' });
}

/** vmx_update_eoi_exit_bitmap(): set/clear, flagging eoi_exitmap_changed when the bit changes. */
function vmxUpdateEoiExitBitmap(v: Vcpu, vec: number, set: boolean): void {
  const b = v.eoiExitBitmap;
  const had = ((b[vec >>> 5]! >>> (vec & 31)) & 1) !== 0;
  if (had === set) return;
  if (set) vecSet(b, vec);
  else vecClear(b, vec);
  v.eoiExitmapChanged |= 1 << (vec >>> 6);
}

/** vlapic_match_dest(target, NULL, APIC_DEST_NOSHORT, dest, dest_mode) */
export function vlapicMatchDest(v: Vcpu, dest: number, logical: boolean): boolean {
  const a = v.vlapic;
  if (logical) {
    if (a.x2apic) return a.ldr >>> 16 === dest >>> 16 && (a.ldr & dest & 0xffff) !== 0;
    const id = a.ldr >>> 24;
    const mda = dest & 0xff;
    if (a.dfr === 0xffffffff) return (id & mda) !== 0;
    if (a.dfr === 0x0fffffff) return id >>> 4 === mda >>> 4 && (id & mda & 0xf) !== 0;
    return false;
  }
  const broadcast = a.x2apic ? 0xffffffff : 0xff;
  return dest === broadcast || dest === a.id;
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
    if (vlapicMatchDest(v, dest, logical) && v.vlapic.enabled) {
      const ppr = apicPpr(v.vlapic);
      if (ppr < targetPpr) {
        target = v;
        targetPpr = ppr;
      }
    }
  } while (i !== old);
  if (target !== null) d.roundRobinPrevVcpu = target.id;
  return target;
}

/**
 * hvm_vcpu_has_pending_irq() for the LAPIC source: syncs PIR into IRR first, unconditionally
 * (56348df32b), then the highest IRR vector (with virtual-interrupt delivery, regardless of PPR), or
 * without VID the highest vector above PPR. -1: none.
 */
export function hvmVcpuPendingLapicIrq(xen: Xen, v: Vcpu): number {
  if (xen.cpuPi) vmxSyncPirToIrr(xen, v);
  const a = v.vlapic;
  if (!a.enabled) return -1;
  const irr = vecHighest(a.irr);
  if (irr < 0) return -1;
  if (xen.vid) return irr;
  return (irr & 0xf0) > (apicPpr(a) & 0xf0) ? irr : -1;
}

/** hvm_interrupt_blocked() for a LAPIC interrupt: by RFLAGS.IF, then by the TPR class. */
export function hvmInterruptBlocked(v: Vcpu, vector: number): 'rflags' | 'tpr' | 'none' {
  if (!v.guest.ifFlag) return 'rflags';
  if ((v.vlapic.tpr & 0xf0) >> 4 >= vector >> 4) return 'tpr';
  return 'none';
}

/** hvm_local_events_need_delivery(): the post-block check of vcpu_block. */
export function hvmLocalEventsNeedDelivery(xen: Xen, v: Vcpu): boolean {
  const vec = hvmVcpuPendingLapicIrq(xen, v);
  if (vec < 0) return false;
  return hvmInterruptBlocked(v, vec) === 'none';
}

/** vlapic_EOI_set(): the guest's EOI reached Xen (without EOI virtualization). */
export function vlapicEoiSet(v: Vcpu): number {
  const vec = vecHighest(v.vlapic.isr);
  if (vec >= 0) vecClear(v.vlapic.isr, vec);
  return vec;
}

/** vlapic_ack_pending_irq() without VID: IRR -> ISR for the vector about to be injected. */
export function vlapicAck(v: Vcpu, vec: number): void {
  vecClear(v.vlapic.irr, vec);
  vecSet(v.vlapic.isr, vec);
}
