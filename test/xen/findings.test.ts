// Two behaviours of Xen as landed that this model found beyond the reference's H1-H5, reproduced
// deterministically with the real hypervisor steps (xen/arch/x86/hvm/vmx/vmx.c, entry.S):
// M1 - a notification with NV = pi_wakeup_vector that arrives between vmx_intr_assist and the cli of
//      the VM-entry path, after the wakeup handler already took the vCPU off its list, is consumed by
//      pi_wakeup_interrupt without effect (unlike pi_notification_interrupt, it raises no softirq): the
//      vector waits in PIR with ON=1 until the vCPU's next VM exit (latency only, bounded by a tick).
// M2 - vmx_pi_unblock_vcpu reads pi_blocking.lock, then takes it; vmx_pi_desc_fixup can move the vCPU
//      to another CPU's list in between: a debug build hits the ASSERT, a release build list_del()s
//      under the wrong lock. Mode `fixed` re-checks and retries with the new lock.
// M3 - a vCPU woken while on a dying CPU's list and switched in on P (NDST = P) stays on that list
//      until vmx_pi_do_resume; vmx_pi_desc_fixup meanwhile sees ON=0 and moves it with NDST = the new
//      CPU. It then runs on P with NDST elsewhere; when it blocks on P, vmx_vcpu_block's ASSERT
//      (NDST == P) fires, and in a release build the wakeup notification goes to a CPU whose list does
//      not hold it: the wakeup is lost. Found by the property test (soak). Mode `fixed` resets NDST in
//      vmx_pi_do_resume once the vCPU is off every list.
import { describe, expect, it } from 'vitest';
import { vmxPiDescFixup, vmxPiUnblockVcpu } from '../../src/xen/hvm/vmx/pi.js';
import type { XenMode } from '../../src/xen/xen.js';
import { fireGuestTimer } from '../../src/xen/hvm/vpt.js';
import { bindMsi, rig } from './helpers.js';

describe('M1: wakeup-vector notification between vmx_intr_assist and cli', () => {
  it('is lost until the next VM exit; a tick (timer interrupt) delivers it', () => {
    const r = rig({ mode: 'fixed' });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    r.host.control.settle();
    const x = r.host.xen;
    const v = x.domains.get(r.dom)!.vcpus[0]!;
    expect(v.runstate).toBe('blocked');
    v.box.busy = true; // when it runs again, the guest has work and keeps running
    const nic = r.host.control.device();
    nic.ring(0); // post 1: wakeup vector -> pi_wakeup_interrupt unblocks it
    // Run until vCPU 0 is current again and vmx_intr_assist has synced post 1 (PIR empty, not yet in guest).
    while (!(v.isRunning && v.piDesc.pirEmpty() && !x.cpus[v.processor]!.hw.nonRoot && v.vlapic.highestIrr() === 0x40)) x.sched.runOne(false);
    expect(v.piDesc.nv).toBe(x.piWakeupVector); // NV is restored only in vmx_vmenter_helper
    nic.ring(0); // post 2: ON 0->1, notification with the wakeup vector, interrupts still on
    x.sched.flush();
    expect(x.cpus[v.processor]!.piWakeupIrqs).toBe(2); // taken in root, found nothing to wake
    expect(x.cpus[v.processor]!.hw.nonRoot).toBe(true);
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1); // post 1 only
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [0x40], on: true, nv: x.postedIntrVector });
    r.host.control.tick(v.processor); // the next exit: vmx_intr_assist syncs it
    x.sched.flush();
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(2);
  });
});

describe('M2: vmx_pi_unblock_vcpu racing vmx_pi_desc_fixup', () => {
  function race(mode: 'xen-4.22' | 'fixed') {
    const r = rig({ mode });
    r.host.control.settle();
    const x = r.host.xen;
    const v = x.domains.get(r.dom)!.vcpus[0]!;
    const dead = v.piBlockingLock!;
    expect(dead).not.toBe(null);
    dead.online = false; // the CPU is gone (CPU_DEAD), its list not yet fixed up
    const fixup = vmxPiDescFixup(x, dead);
    fixup.next(); // takes the dead CPU's lock, SN=1
    const unblock = vmxPiUnblockVcpu(x, v);
    unblock.next(); // NV = posted_intr_vector
    unblock.next(); // reads pi_blocking.lock (the dead CPU), spins on it
    while (!fixup.next().done); // moves it (ON=0) to the first online CPU's list, releases
    expect(v.piBlockingLock).not.toBe(dead);
    while (!unblock.next().done);
    return { x, v };
  }

  it('xen-4.22: the ASSERT fires (debug build); the vCPU is unlinked under the wrong lock', () => {
    const { x, v } = race('xen-4.22');
    expect(x.assertFailures.join()).toContain('M2');
    expect(v.piBlockingLock).toBe(null);
  });

  it('fixed: the lock change is noticed and the removal retried under the right lock', () => {
    const { x, v } = race('fixed');
    expect(x.assertFailures).toEqual([]);
    expect(v.piBlockingLock).toBe(null);
    for (const c of x.cpus) expect(c.piBlocked).not.toContain(v);
  });
});

describe('M3: vmx_pi_desc_fixup moves a vCPU that was already switched in elsewhere', () => {
  function race(mode: XenMode) {
    const r = rig({ mode });
    bindMsi(r, 1, 0x41, { kind: 'vcpu', vcpu: 1 });
    r.host.control.settle();
    const x = r.host.xen;
    const v = x.domains.get(r.dom)!.vcpus[1]!;
    const [cpu0, cpu1, cpu2] = x.cpus as [typeof x.cpus[0], typeof x.cpus[0], typeof x.cpus[0]];
    expect(v.runstate).toBe('blocked');
    expect(v.piBlockingLock).toBe(cpu1);
    // cpu1 is going down: the scheduler moves the blocked vCPU to cpu2; it stays on cpu1's PI list.
    r.host.control.migrate(r.dom, 1, 2);
    // A software event (the guest timer) wakes it; run until it is current on cpu2, switch_to has set
    // NDST = cpu2 and vmx_intr_assist has synced PIR (ON=0), but vmx_pi_do_resume has not run yet.
    v.box.busy = true;
    fireGuestTimer(x, v); // no scheduling point: the steps below are taken one at a time
    for (let n = 0; !(cpu2.curr === v && v.piDesc.ndst === x.ndstOf(cpu2) && !v.piDesc.on && v.piDesc.pirEmpty() && v.vlapic.highestIrr() >= 0); n++) {
      expect(n).toBeLessThan(1000);
      x.sched.runOne(false);
    }
    expect(v.piBlockingLock).toBe(cpu1);
    // CPU_DEAD for cpu1: vmx_pi_desc_fixup sees ON=0 and moves the vCPU to cpu0's list, NDST = cpu0.
    cpu1.online = false;
    const fixup = vmxPiDescFixup(x, cpu1);
    while (!fixup.next().done);
    expect(v.piBlockingLock).toBe(cpu0);
    expect(v.piDesc.ndst).toBe(x.ndstOf(cpu0));
    x.sched.flush(); // vmx_pi_do_resume takes it off cpu0's list; VM entry on cpu2
    expect(v.piBlockingLock).toBe(null);
    expect(cpu2.hw.nonRoot && cpu2.curr === v).toBe(true);
    const ndstWhileRunning = v.piDesc.ndst;
    // The guest halts: vcpu_block on cpu2. Then the device posts to it.
    r.host.control.guestDo(r.dom, 1, (b) => (b.busy = false));
    r.host.control.settle();
    expect(v.runstate).toBe('blocked');
    expect(v.piBlockingLock).toBe(cpu2);
    r.host.control.raise(1);
    r.host.control.settle();
    return { x, v, r, cpu0, cpu2, ndstWhileRunning };
  }

  it('xen-4.22: it runs on cpu2 with NDST = cpu0; blocking there fires the ASSERT and the wakeup goes to cpu0: lost', () => {
    const { x, v, r, cpu0, ndstWhileRunning } = race('xen-4.22');
    expect(ndstWhileRunning).toBe(x.ndstOf(cpu0));
    expect(x.assertFailures.join()).toContain('vmx_vcpu_block: d1v1 NDST');
    expect(cpu0.piWakeupIrqs).toBeGreaterThan(0); // the notification went to cpu0, whose list does not hold it
    expect(v.runstate).toBe('blocked');
    expect(r.host.control.piDesc(r.dom, 1)).toMatchObject({ pir: [0x41], on: true, nv: x.piWakeupVector });
    expect(r.host.control.handled(r.dom, 1, 0x41)).toBe(0);
  });

  it('fixed: vmx_pi_do_resume sets NDST back to cpu2; the post wakes the vCPU', () => {
    const { x, r, cpu2, ndstWhileRunning } = race('fixed');
    expect(ndstWhileRunning).toBe(x.ndstOf(cpu2));
    expect(x.assertFailures).toEqual([]);
    expect(cpu2.piWakeupIrqs).toBeGreaterThan(0);
    expect(r.host.control.handled(r.dom, 1, 0x41)).toBe(1);
  });
});
