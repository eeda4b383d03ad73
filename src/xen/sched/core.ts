// The scheduler core (xen/common/sched/core.c) as the posted-interrupt path meets it: vcpu_block with
// its post-block event check (1426-1446, reference xen.md 4.5), vcpu_unblock/vcpu_wake/vcpu_kick
// (x86/domain.c:2625-2641), schedule() and context_switch() calling the VMX context-switch hooks,
// vcpu_migrate, domain_pause/unpause, and taking a CPU down (cpu_disable_scheduler, then the CPU_DEAD
// notifier's vmx_pi_desc_fixup). The policy is a per-CPU FIFO runqueue (round robin on a tick);
// a woken vCPU tickles its CPU only if that CPU is idle. Context switches are not lazy: the outgoing
// vCPU's ctxt_switch_from runs at every switch (Xen defers it when switching to idle; see the docs).
import { _VPF_blocked, _VPF_down, PI_CSW_FROM, PI_CSW_TO, type Domain, type Vcpu } from '../domain.js';
import type { XenCpu } from '../percpu.js';
import { SCHEDULE_SOFTIRQ, VCPU_KICK_SOFTIRQ } from '../softirq.js';
import type { ExecCtx, Xen } from '../xen.js';
import { vmxPiDescFixup, vmxPiSwitchFrom, vmxPiSwitchTo, vmxVcpuBlock } from '../hvm/vmx/pi.js';
import { hvmLocalEventsNeedDelivery } from '../hvm/vlapic.js';
import { hvmMigratePirqs } from '../passthrough/hvm.js';
import { fixupIrqs } from '../irq.js';

/** vcpu_block(): block the current vCPU `v` on CPU `c` until an event arrives. */
export function* vcpuBlock(xen: Xen, c: XenCpu, v: Vcpu): Generator<void, void, void> {
  v.pauseFlags |= _VPF_blocked;
  v.blocks++;
  // smp_mb__after_atomic(): hardware may post from here on.
  yield;
  // arch_vcpu_block()
  if (v.domain.piVcpuBlock) yield* vmxVcpuBlock(xen, v);
  yield;
  // Check for events /after/ blocking: avoids wakeup waiting race (syncs PIR into vIRR).
  if (hvmLocalEventsNeedDelivery(xen, v)) v.pauseFlags &= ~_VPF_blocked;
  else xen.raiseSoftirq(c, SCHEDULE_SOFTIRQ);
}

/** vcpu_unblock() */
export function vcpuUnblock(xen: Xen, v: Vcpu, ctx: ExecCtx): void {
  if ((v.pauseFlags & _VPF_blocked) === 0) return;
  v.pauseFlags &= ~_VPF_blocked;
  vcpuWake(xen, v, ctx);
}

/** vcpu_wake(): a runnable vCPU that is not running joins its CPU's runqueue; an idle CPU is tickled. */
export function vcpuWake(xen: Xen, v: Vcpu, ctx: ExecCtx): void {
  if (!v.runnable || v.isRunning) return;
  if (!xen.cpus[v.processor]!.schedulable) v.processor = xen.cpus.find((x) => x.schedulable)!.id;
  const c = xen.cpus[v.processor]!;
  if (!c.runq.includes(v)) c.runq.push(v);
  if (c.curr === null) xen.cpuRaiseSoftirq(c, SCHEDULE_SOFTIRQ, ctx.cpu);
}

/** vcpu_kick() */
export function vcpuKick(xen: Xen, v: Vcpu, ctx: ExecCtx): void {
  const running = v.isRunning;
  v.kicks++;
  vcpuUnblock(xen, v, ctx);
  if (running && (ctx.inIrq || v !== ctx.cpu?.curr)) xen.cpuRaiseSoftirq(xen.cpus[v.processor]!, VCPU_KICK_SOFTIRQ, ctx.cpu);
}

/** vcpu_sleep_nosync(): a vCPU that stopped being runnable leaves the runqueue or is descheduled. */
export function vcpuSleepNosync(xen: Xen, v: Vcpu, ctx: ExecCtx): void {
  const c = xen.cpus[v.processor]!;
  const i = c.runq.indexOf(v);
  if (i >= 0) c.runq.splice(i, 1);
  if (v.isRunning) xen.cpuRaiseSoftirq(c, SCHEDULE_SOFTIRQ, ctx.cpu);
}

/** The SCHEDULE_SOFTIRQ handler on CPU `c`: picks the next vCPU and switches to it. */
export function* schedule(xen: Xen, c: XenCpu): Generator<void, void, void> {
  const prev = c.curr;
  const preempt = c.preempt;
  c.preempt = false;
  let next: Vcpu | null;
  if (prev !== null && prev.runnable && prev.migrateTo < 0 && !(preempt && c.runq.length > 0)) {
    next = prev;
  } else {
    next = c.runq.shift() ?? null;
    if (prev !== null && prev.runnable && prev.migrateTo < 0) c.runq.push(prev);
  }
  if (next === prev) return;
  yield* contextSwitch(xen, c, prev, next);
}

/** context_switch(): the VMX hooks of the outgoing and incoming vCPUs (vmx.c:1157-1168). */
function* contextSwitch(xen: Xen, c: XenCpu, prev: Vcpu | null, next: Vcpu | null): Generator<void, void, void> {
  if (prev !== null) {
    prev.isRunning = false;
    c.hw.clearVmcs();
    // vmx_ctxt_switch_from
    if ((prev.domain.piFlags & PI_CSW_FROM) !== 0) vmxPiSwitchFrom(xen, prev);
    if (prev.migrateTo >= 0) {
      // vcpu_migrate_finish(): the vCPU moves to its new CPU's runqueue.
      const to = prev.migrateTo;
      prev.migrateTo = -1;
      prev.processor = to;
      vcpuWake(xen, prev, xen.ctxOf(c, false));
    }
  }
  c.curr = next;
  if (next === null) return;
  next.isRunning = true;
  next.processor = c.id;
  yield;
  // vmx_ctxt_switch_to
  if ((next.domain.piFlags & PI_CSW_TO) !== 0) yield* vmxPiSwitchTo(xen, next);
  // vmx_do_resume(): on a CPU other than the last one, hvm_migrate_pirqs() moves non-posted pirqs.
  if (next.lastCpu !== c.id) {
    next.lastCpu = c.id;
    hvmMigratePirqs(xen, next);
  }
}

/** vcpu_migrate() to CPU `to` (e.g. after an affinity change): now if not running, else at deschedule. */
export function vcpuMigrate(xen: Xen, v: Vcpu, to: number): void {
  if (v.processor === to && v.migrateTo < 0) return;
  if (v.isRunning) {
    v.migrateTo = to;
    xen.cpuRaiseSoftirq(xen.cpus[v.processor]!, SCHEDULE_SOFTIRQ, null);
    return;
  }
  const old = xen.cpus[v.processor]!;
  const i = old.runq.indexOf(v);
  if (i >= 0) old.runq.splice(i, 1);
  v.processor = to;
  if (i >= 0) vcpuWake(xen, v, { cpu: null, inIrq: false });
}

/** A scheduler tick on `c`: the running vCPU is preempted if another one is waiting. */
export function tick(xen: Xen, c: XenCpu): void {
  c.preempt = true;
  xen.cpuRaiseSoftirq(c, SCHEDULE_SOFTIRQ, null);
}

/** domain_pause(): every vCPU stops running (vcpu_sleep_sync waits until it is descheduled). */
export function* domainPause(xen: Xen, d: Domain): Generator<void, void, void> {
  d.pauseCount++;
  for (const v of d.vcpus) vcpuSleepNosync(xen, v, { cpu: null, inIrq: false });
  while (d.vcpus.some((v) => v.isRunning)) yield;
}

/** domain_unpause() */
export function domainUnpause(xen: Xen, d: Domain): void {
  if (--d.pauseCount > 0) return;
  for (const v of d.vcpus) vcpuWake(xen, v, { cpu: null, inIrq: false });
}

/** hvm_vcpu_down(): the guest halted with interrupts disabled; the vCPU goes offline. */
export function vcpuDown(xen: Xen, c: XenCpu, v: Vcpu): void {
  v.pauseFlags |= _VPF_down;
  xen.raiseSoftirq(c, SCHEDULE_SOFTIRQ);
}

/** VCPUOP_up / an INIT-SIPI from another vCPU. */
export function vcpuUp(xen: Xen, v: Vcpu): void {
  if ((v.pauseFlags & _VPF_down) === 0) return;
  v.pauseFlags &= ~_VPF_down;
  vcpuWake(xen, v, { cpu: null, inIrq: false });
}

/** cpu_down(): vCPUs leave the CPU, it goes offline, then CPU_DEAD runs vmx_pi_desc_fixup (vmcs.c:715). */
export function* cpuDown(xen: Xen, c: XenCpu): Generator<void, void, void> {
  const target = xen.cpus.find((x) => x.schedulable && x !== c);
  if (!target) throw new Error(`cpu${c.id} is the last online CPU`);
  c.dying = true;
  for (const d of xen.domains.values()) {
    for (const v of d.vcpus) if (v.processor === c.id) vcpuMigrate(xen, v, target.id);
  }
  while (c.curr !== null) yield;
  // __cpu_disable(): fixup_irqs() moves the host irqs, then the CPU takes what is still pending
  // ("Give it 1ms") before it dies.
  fixupIrqs(xen, c, target);
  while (c.thread !== null || c.softirqPending !== 0 || c.hw.lapic.pendingVector() >= 0) yield;
  c.online = false;
  c.hw.online = false;
  xen.bus.detach(c.apicId);
  yield;
  // CPU_DEAD notifier
  yield* vmxPiDescFixup(xen, c);
}
