// Xen's software side of posted interrupts (xen/arch/x86/hvm/vmx/vmx.c): vmx_deliver_posted_intr
// (2305-2350, used by vlapic_set_irq whenever the CPU has posted-interrupt processing) with
// __vmx_deliver_posted_interrupt (2250-2303), and vmx_sync_pir_to_irr (2352-2420), which moves PIR into
// the vIRR only when it can clear ON - the gate behind hazard H1 (reference xen.md 2.6-2.7).
import type { Vcpu } from '../../domain.js';
import { VCPU_KICK_SOFTIRQ } from '../../softirq.js';
import type { ExecCtx, Xen } from '../../xen.js';
import { vcpuKick, vcpuUnblock } from '../../sched/core.js';

export function vmxDeliverPostedIntr(xen: Xen, v: Vcpu, vec: number, ctx: ExecCtx): void {
  const pd = v.piDesc;
  if (pd.testAndSetPir(vec)) return; // coalesced with a pending one
  if (v.eoiExitmapChanged !== 0) {
    // Delivery waits for the next VM entry, which installs the new EOI-exit bitmap.
    pd.setOn();
    vcpuKick(xen, v, ctx);
    return;
  }
  // No URG support: SN or ON set means no notification, only a kick (and ON stays as it is).
  if (pd.sn || pd.on) {
    vcpuKick(xen, v, ctx);
    return;
  }
  pd.setOn();
  // __vmx_deliver_posted_interrupt()
  const running = v.isRunning;
  vcpuUnblock(xen, v, ctx);
  if (running && (ctx.inIrq || v !== ctx.cpu?.curr)) {
    const target = xen.cpus[v.processor]!;
    if (target !== ctx.cpu) xen.sendIpi(target, xen.postedIntrVector);
    else if (target.softirqPending === 0) xen.raiseSoftirq(target, VCPU_KICK_SOFTIRQ);
  }
}

/** vmx_sync_pir_to_irr(): gated on ON; xchg each PIR word to 0 and OR it into the vIRR. */
export function vmxSyncPirToIrr(xen: Xen, v: Vcpu): void {
  const pd = v.piDesc;
  if (!pd.on) return;
  pd.testAndClearOn();
  const a = v.vlapic;
  for (let i = 0; i < 8; i++) {
    const w = pd.takePirWord(i);
    if (w !== 0) a.orIrrWord(i, w);
  }
  const tr = xen.trace;
  if (tr.active) tr.emit({ type: 'irq', t: xen.sched.now, hop: 'lapic-irr', at: v.label, vector: a.highestIrr(), detail: 'vmx_sync_pir_to_irr: PIR -> vIRR' });
}
