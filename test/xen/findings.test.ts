// Two behaviours of Xen as landed that this model found beyond the reference's H1-H5, reproduced
// deterministically with the real hypervisor steps (xen/arch/x86/hvm/vmx/vmx.c, entry.S):
// M1 - a notification with NV = pi_wakeup_vector that arrives between vmx_intr_assist and the cli of
//      the VM-entry path, after the wakeup handler already took the vCPU off its list, is consumed by
//      pi_wakeup_interrupt without effect (unlike pi_notification_interrupt, it raises no softirq): the
//      vector waits in PIR with ON=1 until the vCPU's next VM exit (latency only, bounded by a tick).
// M2 - vmx_pi_unblock_vcpu reads pi_blocking.lock, then takes it; vmx_pi_desc_fixup can move the vCPU
//      to another CPU's list in between: a debug build hits the ASSERT, a release build list_del()s
//      under the wrong lock. Mode `fixed` re-checks and retries with the new lock.
import { describe, expect, it } from 'vitest';
import { vmxPiDescFixup, vmxPiUnblockVcpu } from '../../src/xen/hvm/vmx/pi.js';
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
