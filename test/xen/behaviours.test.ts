// The ten behaviours a faithful model must get right (reference xen.md 8), each as a deterministic
// scenario through the real toolstack path (libxc -> privcmd -> hypercalls) and the hardware models.
// Sources: xen/arch/x86/hvm/vmx/vmx.c (PI hooks and handlers, vmx_deliver_posted_intr,
// vmx_sync_pir_to_irr), common/sched/core.c (vcpu_block), drivers/passthrough/x86/hvm.c
// (pt_irq_create_bind / destroy_bind), drivers/passthrough/vtd/intremap.c (msi_msg_to_remap_entry),
// hvm/vmsi.c, hvm/vlapic.c; behaviour 1 (gating) is in boot.test.ts.
import { describe, expect, it } from 'vitest';
import { PI_CSW_FROM, PI_CSW_TO, type Vcpu } from '../../src/xen/domain.js';
import type { IrqEvent } from '../../src/sim/trace.js';
import { bindMsi, rig, unbindMsi, type Rig } from './helpers.js';
import { xc_assign_device, xc_deassign_device } from '../../src/xen/libxc.js';
import { NIC_SBDF } from './helpers.js';

const vcpu = (r: Rig, i: number): Vcpu => r.host.xen.domains.get(r.dom)!.vcpus[i]!;
const busy = (r: Rig, i: number, on = true) => r.host.control.guestDo(r.dom, i, (b) => (b.busy = on));

function hops(r: Rig, fn: () => void): IrqEvent[] {
  const out: IrqEvent[] = [];
  const off = r.host.trace.on((e) => e.type === 'irq' && out.push(e));
  fn();
  off();
  return out;
}

describe('2. posting to a running vCPU', () => {
  it('PIR[gvec]=1, ON 0->1, notification posted_intr_vector -> NDST; zero VM exits, no Xen code; vIRR/RVI get it, ON ends 0', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    busy(r, 0);
    r.host.control.settle();
    const v = vcpu(r, 0);
    const cpu = r.host.xen.cpus[v.processor]!;
    expect(r.host.control.vcpuState(r.dom, 0).inGuest).toBe(true);
    const exits = v.vmcs.exits;
    const hostIrqs = cpu.hw.hostInterrupts;
    const softirqs = cpu.softirqsRaised.reduce((a, b) => a + b, 0);
    const ev = hops(r, () => r.host.control.raise(0));
    const names = ev.map((e) => e.hop);
    expect(names.slice(0, 4)).toEqual(['msi-send', 'pi-post', 'pi-notify', 'lapic-irr']);
    expect(ev[1]!.detail).toContain('ON 0->1');
    expect(ev[2]!.vector).toBe(r.host.xen.postedIntrVector);
    expect(ev[2]!.detail).toContain(`APIC ${cpu.apicId}`);
    expect(names).toContain('guest-handler');
    expect(names).not.toContain('vm-exit');
    expect(names).not.toContain('softirq');
    expect(v.vmcs.exits).toBe(exits);
    expect(cpu.hw.hostInterrupts).toBe(hostIrqs);
    expect(cpu.softirqsRaised.reduce((a, b) => a + b, 0)).toBe(softirqs);
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [], on: false, sn: false, nv: r.host.xen.postedIntrVector });
  });
});

describe('3. ON suppression and coalescing', () => {
  it('while ON=1 posts only set PIR bits; the same vector twice is delivered once; one processing moves all bits', () => {
    const r = rig({ entries: 2 });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    bindMsi(r, 1, 0x41, { kind: 'vcpu', vcpu: 0 });
    busy(r, 0);
    r.host.control.settle();
    const nic = r.host.control.device();
    const unit = r.host.xen.vtd!.units[0]!;
    const before = { n: unit.stats.notifications, s: unit.stats.suppressed };
    nic.ring(0); // hardware only: the CPU has not processed the notification yet
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [0x40], on: true });
    nic.ring(0);
    nic.ring(1);
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [0x40, 0x41], on: true });
    expect(unit.stats.notifications - before.n).toBe(1);
    expect(unit.stats.suppressed - before.s).toBe(2);
    r.host.control.settle();
    expect(vcpu(r, 0).vmcs.piProcessed).toBeGreaterThan(0);
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
    expect(r.host.control.handled(r.dom, 0, 0x41)).toBe(1);
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [], on: false });
  });
});

describe('4. blocked vCPU wake-up', () => {
  it('blocked: NV=wakeup on list(NDST); a post -> wakeup vector -> handler unblocks and unlists it; NV and ON stay until VM entry', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    r.host.control.settle();
    const x = r.host.xen;
    const v = vcpu(r, 0);
    expect(v.runstate).toBe('blocked');
    expect(v.piDesc.nv).toBe(x.piWakeupVector);
    expect(v.piBlockingLock).not.toBe(null);
    expect(v.piDesc.ndst).toBe(x.ndstOf(v.piBlockingLock!));
    expect(r.host.control.blockedList(v.piBlockingLock!.id)).toContain(v.label);
    const cpu = v.piBlockingLock!;
    r.host.control.device().ring(0); // the IOMMU posts and notifies; nothing has run yet
    expect(v.piDesc.on).toBe(true);
    x.sched.runOne(false); // the CPU takes the wakeup vector: pi_wakeup_interrupt
    expect(cpu.piWakeupIrqs).toBe(1);
    expect(v.piBlockingLock).toBe(null);
    expect(v.blocked).toBe(false);
    expect(v.piDesc.nv).toBe(x.piWakeupVector);
    expect(v.piDesc.on).toBe(true);
    r.host.control.settle(); // VM entry: vmx_intr_assist syncs PIR -> vIRR, vmx_pi_do_resume restores NV
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
    expect(v.piDesc.nv).toBe(x.piWakeupVector); // it halted again: blocked with NV = wakeup once more
    expect(v.vmcs.exitCounts[1]).toBeGreaterThan(1);
  });
});

describe('5. block-time race: ON or PIR pending when the vCPU blocks', () => {
  function blockWithPostInside(tpr: number) {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    busy(r, 0);
    r.host.control.guestDo(r.dom, 0, (b) => (b.tpr = tpr));
    r.host.control.settle();
    const v = vcpu(r, 0);
    const x = r.host.xen;
    v.box.busy = false; // the guest goes idle: sti; hlt
    x.cpus[v.processor]!.hw.wakeGuest();
    while (!v.blocked) x.sched.runOne(false); // up to vcpu_block's set_bit(_VPF_blocked)
    r.host.control.device().ring(0); // a post between blocking and the post-block check
    r.host.control.settle();
    return { r, v };
  }

  it('the guest can take it (TPR 0): the post-block check syncs PIR and the vCPU does not stay blocked', () => {
    const { r, v } = blockWithPostInside(0);
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
    expect(v.piDesc.pirEmpty()).toBe(true);
  });

  it('the guest cannot (TPR 0x50): it stays blocked with the vector already in vIRR and ON=0', () => {
    const { r, v } = blockWithPostInside(0x50);
    expect(v.runstate).toBe('blocked');
    expect(r.host.control.vcpuState(r.dom, 0).virr).toContain(0x40);
    expect(v.piDesc.on).toBe(false);
    expect(v.piDesc.pirEmpty()).toBe(true);
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(0);
  });
});

describe('6. preemption (SN) and hazard H1', () => {
  function preemptedThenPost(mode: 'xen-4.22' | 'fixed') {
    const r = rig({ mode });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    busy(r, 0);
    busy(r, 1);
    r.host.control.settle();
    r.host.control.migrate(r.dom, 1, vcpu(r, 0).processor);
    r.host.control.settle();
    const x = r.host.xen;
    const cpu = x.cpus[vcpu(r, 0).processor]!;
    if (cpu.curr === vcpu(r, 0)) r.host.control.tick(cpu.id);
    expect(cpu.curr).toBe(vcpu(r, 1));
    const v = vcpu(r, 0);
    expect(v.runstate).toBe('runnable');
    expect(v.piDesc.sn).toBe(true); // switched out while not blocked
    r.host.control.raise(0); // SN=1: PIR only, no ON, no notification
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [0x40], on: false, sn: true });
    r.host.control.tick(cpu.id); // vCPU 0 runs again: switch_to clears SN
    r.host.xen.sched.flush();
    expect(cpu.curr).toBe(v);
    return { r, v };
  }

  it('xen-4.22: switch_to clears SN without recomputing ON, sync needs ON: the vector stays in PIR across VM entries', () => {
    const { r, v } = preemptedThenPost('xen-4.22');
    expect(v.piDesc.sn).toBe(false);
    expect(r.host.control.vcpuState(r.dom, 0).inGuest).toBe(true);
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [0x40], on: false });
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(0);
    r.host.control.guestDo(r.dom, 0, (b) => (b.tpr = 0)); // unrelated guest work: still nothing
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(0);
  });

  it('fixed: clearing SN recomputes ON, the first VM entry delivers it', () => {
    const { r } = preemptedThenPost('fixed');
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
    expect(r.host.control.piDesc(r.dom, 0).pir).toEqual([]);
  });
});

describe('7. destination rules at bind time (reference xen.md 3.4)', () => {
  it('fixed to one vCPU: posted to it', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 1 });
    expect(r.host.control.irte(0)).toMatchObject({ format: 'posted', vector: 0x40, pda: vcpu(r, 1).piDescAddr });
  });

  it('a 1-vCPU domain: always posted to vCPU 0, even when the destination matches nothing (hvm_girq_dest_2_vcpu_id)', () => {
    const r = rig({ vcpus: 1 });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 5 }); // APIC ID 10: no such vCPU
    expect(r.host.control.irte(0)).toMatchObject({ format: 'posted', pda: vcpu(r, 0).piDescAddr });
  });

  it('multicast (logical, both vCPUs): remapped; Xen delivers to every enabled matching vLAPIC', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'multicast' });
    expect(r.host.control.irte(0)).toMatchObject({ format: 'remapped' });
    r.host.control.raise(0);
    r.host.control.settle();
    expect([r.host.control.handled(r.dom, 0, 0x40), r.host.control.handled(r.dom, 1, 0x40)]).toEqual([1, 1]);
  });

  it('fixed to no vCPU: remapped, delivered to none', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 5 });
    expect(r.host.control.irte(0)).toMatchObject({ format: 'remapped' });
    r.host.control.raise(0);
    r.host.control.settle();
    expect([r.host.control.handled(r.dom, 0, 0x40), r.host.control.handled(r.dom, 1, 0x40)]).toEqual([0, 0]);
  });

  it('lowest priority with intpost: posted to S[gvec mod |S|] (vector hashing)', () => {
    const r = rig({ entries: 2 });
    bindMsi(r, 0, 0x40, { kind: 'lowest' });
    bindMsi(r, 1, 0x41, { kind: 'lowest' });
    expect(r.host.control.irte(0)).toMatchObject({ format: 'posted', pda: vcpu(r, 0).piDescAddr }); // 0x40 % 2 = 0
    expect(r.host.control.irte(1)).toMatchObject({ format: 'posted', pda: vcpu(r, 1).piDescAddr }); // 0x41 % 2 = 1
  });

  it('lowest priority without intpost: remapped, Xen picks round robin among the lowest PPR', () => {
    const r = rig({ cmdline: '' });
    bindMsi(r, 0, 0x40, { kind: 'lowest' });
    expect(r.host.control.irte(0)).toMatchObject({ format: 'remapped' });
    for (let i = 0; i < 4; i++) {
      r.host.control.raise(0);
      r.host.control.settle();
    }
    expect([r.host.control.handled(r.dom, 0, 0x40), r.host.control.handled(r.dom, 1, 0x40)]).toEqual([2, 2]);
  });
});

describe('8. migration', () => {
  it('a posted IRQ follows through NDST at switch_in; the IRTE and the host affinity do not change', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    busy(r, 0);
    r.host.control.settle();
    const irte = r.host.control.irte(0);
    r.host.control.migrate(r.dom, 0, 2);
    r.host.control.settle();
    const x = r.host.xen;
    expect(vcpu(r, 0).processor).toBe(2);
    expect(vcpu(r, 0).piDesc.ndst).toBe(x.ndstOf(x.cpus[2]!));
    expect(r.host.control.irte(0)).toEqual(irte);
    r.host.control.raise(0);
    r.host.control.settle();
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
    expect(x.cpus[2]!.hw.piNotifications).toBe(1);
  });

  it('a non-posted pirq has its host affinity moved (IRTE destination rewritten; the device message unchanged)', () => {
    const r = rig({ cmdline: '' });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    busy(r, 0);
    r.host.control.settle();
    const msg = r.host.control.msixEntry(0);
    r.host.control.migrate(r.dom, 0, 2);
    r.host.control.settle();
    const x = r.host.xen;
    expect(r.host.control.irte(0)).toMatchObject({ format: 'remapped', dst: x.cpus[2]!.apicId });
    expect(r.host.control.msixEntry(0)).toEqual(msg);
    r.host.control.raise(0);
    r.host.control.settle();
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
  });
});

describe('9. pCPU offline (vmx_pi_desc_fixup)', () => {
  it('every vCPU on the dead CPU list is unblocked (ON=1) or moved with NDST updated; none left behind; SN ends 0', () => {
    const r = rig({ cmdline: 'iommu=intpost', hardware: { cpus: 3 } });
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    bindMsi(r, 1, 0x41, { kind: 'vcpu', vcpu: 1 });
    busy(r, 1);
    r.host.control.settle();
    r.host.control.migrate(r.dom, 1, 0); // vCPU 1 runs on CPU 0, then blocks there
    busy(r, 1, false);
    r.host.control.settle();
    const x = r.host.xen;
    expect(r.host.control.blockedList(0).sort()).toEqual(['d1v0', 'd1v1']);
    const t = r.host.control.beginCpuDown(0);
    while (x.cpus[0]!.online) x.sched.runOne(false); // CPU 0 is gone, CPU_DEAD's fixup has not run
    const dropped = x.bus.dropped;
    r.host.control.device().ring(1); // posted for vCPU 1: ON=1, the wakeup notification goes to the dead CPU
    expect(x.bus.dropped).toBe(dropped + 1);
    expect(vcpu(r, 1).piDesc.on).toBe(true);
    r.host.control.settle();
    expect(t.done).toBe(true);
    expect(r.host.control.blockedList(0)).toEqual([]);
    expect(r.host.control.handled(r.dom, 1, 0x41)).toBe(1); // ON=1: unblocked by the fixup, ran and handled it
    expect(vcpu(r, 1).processor).not.toBe(0);
    const v0 = vcpu(r, 0);
    expect(v0.piBlockingLock).toBe(x.cpus[1]);
    expect(v0.piDesc.ndst).toBe(x.ndstOf(x.cpus[1]!));
    expect(v0.piDesc.sn).toBe(false);
    r.host.control.raise(0); // it still wakes up through the new CPU
    r.host.control.settle();
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
  });
});

describe('10. rebind, unbind and the device lifecycle', () => {
  it('a guest MSI change rewrites the IRTE between posted and remapped under the same index; the device message never changes', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    const msg = r.host.control.msixEntry(0);
    const a = r.host.control.irte(0);
    bindMsi(r, 0, 0x41, { kind: 'multicast' });
    const b = r.host.control.irte(0);
    bindMsi(r, 0, 0x42, { kind: 'vcpu', vcpu: 1 });
    const c = r.host.control.irte(0);
    expect([a.format, b.format, c.format]).toEqual(['posted', 'remapped', 'posted']);
    expect(new Set([a.index, b.index, c.index]).size).toBe(1);
    expect(c).toMatchObject({ vector: 0x42, pda: vcpu(r, 1).piDescAddr });
    expect(r.host.control.msixEntry(0)).toMatchObject({ addrLo: msg.addrLo, addrHi: msg.addrHi, data: msg.data });
  });

  it('unbinding a posted pirq returns its IRTE to remapped format first', () => {
    const r = rig();
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    unbindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    expect(r.host.control.irte(0)).toMatchObject({ format: 'remapped', present: true });
    expect(r.host.control.msixEntry(0).ctrl & 1).toBe(1); // left masked
  });

  it('first assign installs the hooks in order (flags, NDST, block hook) and, as landed, kicks nobody: H2', () => {
    const r = rig({ mode: 'xen-4.22', assign: 'none' });
    const x = r.host.xen;
    const d = x.domains.get(r.dom)!;
    expect(vcpu(r, 0).runstate).toBe('blocked');
    const t = r.host.control.beginAssign(r.dom);
    const seen: string[] = [];
    let last = '';
    while (!t.done) {
      x.sched.runOne(false);
      const s = `${d.piFlags}|${vcpu(r, 0).piDesc.ndst !== 0xffffffff}|${d.piVcpuBlock}`;
      if (s !== last) seen.push((last = s));
    }
    expect(seen).toEqual([`${PI_CSW_FROM | PI_CSW_TO}|false|false`, `${PI_CSW_FROM | PI_CSW_TO}|true|false`, `${PI_CSW_FROM | PI_CSW_TO}|true|true`]);
    r.host.control.settle();
    expect(vcpu(r, 0).runstate).toBe('blocked');
    expect(vcpu(r, 0).piBlockingLock).toBe(null); // H2: blocked before the hooks, on no list
    expect(vcpu(r, 0).piDesc.nv).toBe(x.postedIntrVector);
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    r.host.control.raise(0);
    r.host.control.settle();
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(0); // the notification went to posted_intr_vector: nobody woke it
    expect(r.host.control.piDesc(r.dom, 0)).toMatchObject({ pir: [0x40], on: true });
  });

  it('fixed: the first assign kicks every vCPU, so a blocked one re-blocks through the hook and wakes on a post', () => {
    const r = rig({ mode: 'fixed', assign: 'none' });
    xc_assign_device(r.xch, r.dom, NIC_SBDF);
    r.host.control.settle();
    expect(vcpu(r, 0).piBlockingLock).not.toBe(null);
    bindMsi(r, 0, 0x40, { kind: 'vcpu', vcpu: 0 });
    r.host.control.raise(0);
    r.host.control.settle();
    expect(r.host.control.handled(r.dom, 0, 0x40)).toBe(1);
  });

  it('last deassign pauses the domain, clears every vCPU off the lists, restores NV=posted and keeps only the switch_to hook', () => {
    const r = rig();
    r.host.control.settle();
    const x = r.host.xen;
    const d = x.domains.get(r.dom)!;
    expect(x.cpus.some((c) => c.piBlocked.length > 0)).toBe(true);
    xc_deassign_device(r.xch, r.dom, NIC_SBDF);
    expect(d.piFlags).toBe(PI_CSW_TO);
    expect(d.piVcpuBlock).toBe(false);
    expect(d.pauseCount).toBe(0);
    for (const c of x.cpus) expect(c.piBlocked).toEqual([]);
    for (const v of d.vcpus) {
      expect(v.piBlockingLock).toBe(null);
      expect(v.piDesc.nv).toBe(x.postedIntrVector);
    }
  });
});
