// VT-d posted-interrupt hooks of Xen's VMX code (xen/arch/x86/hvm/vmx/vmx.c, reference xen.md 4):
// vmx_vcpu_block (101-133), vmx_pi_switch_from/to (135-154), vmx_pi_unblock_vcpu (156-192),
// vmx_pi_do_resume (194-199), vmx_pi_desc_fixup (201-268), vmx_pi_hooks_assign/deassign (314-391),
// and the two interrupt handlers pi_wakeup_interrupt (2921-2951) and pi_notification_interrupt
// (2953-2997). Multi-step ones are generators: each `yield` is a point where hardware may post.
//
// Mode `fixed` applies KVM's fixes where Xen as landed has hazards:
// - H1: clearing SN recomputes ON from PIR ("KVM: x86: Recompute PID.ON when clearing PID.SN"); in the
//   CPU-offline fixup, where the vCPU stays blocked, a recomputed ON also sends the notification the
//   IOMMU suppressed;
// - H2: installing the hooks for the first device kicks every vCPU (vmx_pi_start_assignment), so one
//   that was already blocked blocks again through the hook.
// and two fixes of its own for races this model found (M2, M3: see vmxPiUnblockVcpu, vmxPiDoResume).
import { APIC_INVALID_DEST } from '../../../hw/iommu/vtd/pi-desc.js';
import { _VPF_blocked, PI_CSW_FROM, PI_CSW_TO, type Domain, type Vcpu } from '../../domain.js';
import type { XenCpu } from '../../percpu.js';
import { VCPU_KICK_SOFTIRQ } from '../../softirq.js';
import type { Xen } from '../../xen.js';
import { domainPause, domainUnpause, vcpuKick, vcpuUnblock } from '../../sched/core.js';

/** vmx_vcpu_block(): on the list of v->processor (added before NV changes), then NV = pi_wakeup_vector. */
export function* vmxVcpuBlock(xen: Xen, v: Vcpu): Generator<void, void, void> {
  const c = xen.cpus[v.processor]!;
  yield* c.piLock.acquire(v.label);
  xen.assert(v.piBlockingLock === null, `vmx_vcpu_block: ${v.label} is already on the list of cpu${v.piBlockingLock?.id}`);
  if (v.piBlockingLock === null) {
    v.piBlockingLock = c;
    c.piBlocked.push(v);
  }
  c.piLock.release();
  yield;
  xen.assert(!v.piDesc.sn, `vmx_vcpu_block: ${v.label} has SN set`);
  xen.assert(v.piDesc.ndst === xen.ndstOf(c), `vmx_vcpu_block: ${v.label} NDST 0x${v.piDesc.ndst.toString(16)} is not cpu${c.id}`);
  v.piDesc.setNv(xen.piWakeupVector);
}

/** vmx_pi_switch_from(): SN=1 unless the vCPU is blocking. */
export function vmxPiSwitchFrom(_xen: Xen, v: Vcpu): void {
  if ((v.pauseFlags & _VPF_blocked) !== 0) return;
  v.piDesc.setSn();
}

/** vmx_pi_switch_to(): NDST = this CPU, then SN=0 (as landed: ON is not recomputed - H1). */
export function* vmxPiSwitchTo(xen: Xen, v: Vcpu): Generator<void, void, void> {
  v.piDesc.setNdst(xen.ndstOf(xen.cpus[v.processor]!));
  yield;
  v.piDesc.clearSn();
  if (xen.mode === 'fixed' && !v.piDesc.pirEmpty()) v.piDesc.setOn();
}

/**
 * vmx_pi_unblock_vcpu(): NV = posted_intr_vector, then off the list named by pi_blocking.lock.
 * Race M2 (found by this model): vmx_pi_desc_fixup can move the vCPU to another CPU's list between
 * reading pi_blocking.lock and taking it; Xen then ASSERTs (debug) or list_del()s under the wrong lock
 * (release). `fixed` retries with the new lock.
 */
export function* vmxPiUnblockVcpu(xen: Xen, v: Vcpu): Generator<void, void, void> {
  v.piDesc.setNv(xen.postedIntrVector);
  yield;
  for (;;) {
    const owner = v.piBlockingLock;
    if (owner === null) return;
    yield* owner.piLock.acquire(v.label);
    // The wakeup handler may have removed it while we were acquiring the lock.
    const now = v.piBlockingLock;
    if (now !== null && now !== owner && xen.mode === 'fixed') {
      owner.piLock.release();
      continue;
    }
    if (now !== null) {
      xen.assert(now === owner, `vmx_pi_unblock_vcpu: ${v.label} moved from cpu${owner.id}'s list to cpu${now.id}'s while the lock was taken (M2)`);
      removeFromList(now, v);
      v.piBlockingLock = null;
    }
    owner.piLock.release();
    return;
  }
}

/**
 * vmx_pi_do_resume(), from vmx_vmenter_helper with interrupts off.
 * Race M3 (found by this model): a vCPU woken while on a dying CPU's list and switched in on P
 * (switch_to: NDST = P) is still on that list until here; vmx_pi_desc_fixup, running meanwhile on
 * another CPU, sees ON=0 and moves it with NDST = the new list's CPU. This removes it from that list
 * and it runs on P with NDST elsewhere: notifications go to the wrong CPU, and when it next blocks on
 * P (on list(P), NDST not P) vmx_vcpu_block's ASSERT fires and a wakeup notification goes to a CPU
 * whose list does not hold it. `fixed`: once off every list, NDST is set back to P, and a post that
 * was notified elsewhere meanwhile (ON=1) gets a self-IPI, taken right after VM entry.
 */
export function* vmxPiDoResume(xen: Xen, v: Vcpu): Generator<void, void, void> {
  xen.assert((v.pauseFlags & _VPF_blocked) === 0, `vmx_pi_do_resume: ${v.label} is blocked`);
  yield* vmxPiUnblockVcpu(xen, v);
  if (xen.mode !== 'fixed') return;
  const c = xen.cpus[v.processor]!;
  const ndst = xen.ndstOf(c);
  if (v.piDesc.ndst === ndst) return;
  v.piDesc.setNdst(ndst);
  if (v.piDesc.on) xen.sendIpi(c, xen.postedIntrVector);
}

function removeFromList(c: XenCpu, v: Vcpu): void {
  const i = c.piBlocked.indexOf(v);
  if (i >= 0) c.piBlocked.splice(i, 1);
}

/** Clears SN in the CPU-offline fixup; `fixed` recomputes ON and sends the suppressed notification. */
function fixupClearSn(xen: Xen, v: Vcpu): void {
  const pd = v.piDesc;
  pd.clearSn();
  if (xen.mode !== 'fixed' || pd.on || pd.pirEmpty()) return;
  pd.setOn();
  const nd = pd.ndst;
  const target = xen.cpus.find((c) => c.online && xen.ndstOf(c) === nd);
  if (target) xen.sendIpi(target, pd.nv);
}

/** vmx_pi_desc_fixup(cpu): CPU_DEAD; every vCPU on the dead CPU's list is woken (ON) or moved. */
export function* vmxPiDescFixup(xen: Xen, dead: XenCpu): Generator<void, void, void> {
  if (!xen.intpost) return;
  yield* dead.piLock.acquire('vmx_pi_desc_fixup');
  for (const v of [...dead.piBlocked]) {
    // Suppress notification or we may miss an interrupt when the target cpu is dying.
    v.piDesc.setSn();
    yield;
    if (v.piDesc.on) {
      removeFromList(dead, v);
      v.piBlockingLock = null;
      vcpuUnblock(xen, v, { cpu: null, inIrq: false });
    } else {
      const to = xen.firstOnlineCpu()!;
      yield* to.piLock.acquire('vmx_pi_desc_fixup');
      xen.assert(v.piBlockingLock === dead, `vmx_pi_desc_fixup: ${v.label} is not on cpu${dead.id}'s list`);
      v.piDesc.setNdst(xen.ndstOf(to));
      removeFromList(dead, v);
      to.piBlocked.push(v);
      v.piBlockingLock = to;
      to.piLock.release();
    }
    yield;
    fixupClearSn(xen, v);
  }
  dead.piLock.release();
}

/** vmx_pi_hooks_assign(): first device assigned. Hooks in order: flags, NDST, block hook. */
export function* vmxPiHooksAssign(xen: Xen, d: Domain): Generator<void, void, void> {
  if (!xen.intpost || !d.isHvm) return;
  xen.assert(!d.piVcpuBlock, `vmx_pi_hooks_assign: d${d.id} already has the block hook`);
  d.piFlags = PI_CSW_FROM | PI_CSW_TO;
  yield;
  for (const v of d.vcpus) {
    v.piDesc.cmpxchgNdst(APIC_INVALID_DEST, xen.ndstOf(xen.cpus[v.processor]!));
    yield;
  }
  d.piVcpuBlock = true;
  if (xen.mode === 'fixed') {
    // vmx_pi_start_assignment(): KVM_REQ_UNBLOCK for every vCPU, so blocked ones re-block via the hook.
    yield;
    for (const v of d.vcpus) vcpuKick(xen, v, { cpu: null, inIrq: false });
  }
}

/** vmx_pi_hooks_deassign(): last device gone. Pause, drop the block hook, keep switch_to, unblock all. */
export function* vmxPiHooksDeassign(xen: Xen, d: Domain): Generator<void, void, void> {
  if (!xen.intpost || !d.isHvm) return;
  xen.assert(d.piVcpuBlock, `vmx_pi_hooks_deassign: d${d.id} has no block hook`);
  yield* domainPause(xen, d);
  d.piVcpuBlock = false;
  d.piFlags = PI_CSW_TO;
  for (const v of d.vcpus) yield* vmxPiUnblockVcpu(xen, v);
  domainUnpause(xen, d);
}

/** pi_notification_interrupt(): posted_intr_vector taken in root mode; the softirq re-runs vmx_intr_assist. */
export function piNotificationInterrupt(xen: Xen, c: XenCpu): void {
  c.piNotificationIrqs++;
  xen.raiseSoftirq(c, VCPU_KICK_SOFTIRQ);
}

/** pi_wakeup_interrupt(): unblock every listed vCPU with ON=1 (ON and NV are left for its VM entry). */
export function piWakeupInterrupt(xen: Xen, c: XenCpu): void {
  c.piWakeupIrqs++;
  if (!c.piLock.tryAcquire('pi_wakeup_interrupt')) {
    // The handler spins on the lock another CPU holds.
    const run = function* (): Generator<void, void, void> {
      yield* c.piLock.acquire('pi_wakeup_interrupt');
      wakeupScan(xen, c);
    };
    xen.sched.spawn(`cpu${c.id}: pi_wakeup_interrupt`, run());
    return;
  }
  wakeupScan(xen, c);
}

function wakeupScan(xen: Xen, c: XenCpu): void {
  const ctx = xen.ctxOf(c, true);
  const tr = xen.trace;
  for (let i = 0; i < c.piBlocked.length; ) {
    const v = c.piBlocked[i]!;
    if (v.piDesc.on) {
      c.piBlocked.splice(i, 1);
      v.piBlockingLock = null;
      v.piWakeups++;
      if (tr.active) tr.emit({ type: 'irq', t: xen.sched.now, hop: 'pi-wakeup', at: `cpu${c.id}`, vcpu: v.id, detail: `pi_wakeup_interrupt: ${v.label} has ON=1, unblocked` });
      vcpuUnblock(xen, v, ctx);
    } else {
      i++;
    }
  }
  c.piLock.release();
  xen.wakeThread(c);
}
