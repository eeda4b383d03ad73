// The guest's own timer, as Xen's virtual platform timers deliver it (xen/arch/x86/hvm/vpt.c): a host
// timer interrupt on the vCPU's CPU raises TIMER_SOFTIRQ, whose handler injects the guest's timer
// vector through vlapic_set_irq - the software-vIRQ path of reference xen.md 5.2 (software posting
// with CPU posted interrupts, IRR + kick without). A guest kernel decides what to do next on its
// timer, so the control API fires it to make a halted guest look at its mailbox.
import type { Vcpu } from '../domain.js';
import type { XenCpu } from '../percpu.js';
import type { Xen } from '../xen.js';
import { vlapicSetIrq } from './vlapic.js';

/** Linux's LOCAL_TIMER_VECTOR, which the idle-loop guest handles like any vector. */
export const GUEST_TIMER_VECTOR = 0xec;
/** Xen's host LOCAL_TIMER_VECTOR (irq-vectors.h). */
export const LOCAL_TIMER_VECTOR = 0xfa;

/** Arms the guest timer of `v` to fire now: the host timer interrupt goes to v->processor. */
export function fireGuestTimer(xen: Xen, v: Vcpu): void {
  let c = xen.cpus[v.processor]!;
  if (!c.online) c = xen.cpus.find((x) => x.online)!; // the timer migrated with the vCPU
  if (!c.timersDue.includes(v)) c.timersDue.push(v);
  xen.sendIpi(c, LOCAL_TIMER_VECTOR);
}

/** TIMER_SOFTIRQ: the due guest timers of this CPU inject their vector. */
export function timerSoftirq(xen: Xen, c: XenCpu): void {
  const ctx = xen.ctxOf(c, false);
  while (c.timersDue.length > 0) vlapicSetIrq(xen, c.timersDue.shift()!, GUEST_TIMER_VECTOR, false, ctx);
}
