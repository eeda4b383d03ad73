// KVM_IRQFD and resamplefd, exactly as reference kvm.md §1 (virt/kvm/eventfd.c v6.17+: kvm_irqfd,
// kvm_irqfd_assign, kvm_irqfd_register, irqfd_wakeup, irqfd_inject, irqfd_resampler_ack,
// kvm_irqfd_deassign, irqfd_shutdown; arch/x86/kvm/irq.c kvm_arch_irqfd_allowed; arch/x86/kvm/ioapic.c
// kvm_ioapic_update_eoi_one, ioapic_write_indirect). [E] = measured on 6.18.
import { describe, expect, it } from 'vitest';
import { msiAddress, msiData } from '../../../src/hw/x86/msi.js';
import { EventFdFile } from '../../../src/linux/eventfd.js';
import { EPOLLHUP, POLLIN } from '../../../include-ts/linux/poll.js';
import { KvmVmFile } from '../../../src/linux/kvm/kvm-main.js';
import { setIrqRouting } from '../../../src/linux/kvm/irqchip.js';
import { count, efd, enableCap, errno, irqfd, irqLine, K, run, setRoutes, signal, vmm, type Vmm } from './helpers.js';
import { irqGuest, maskProgram } from './guests.js';
import type { RouteOptions } from '../../../src/guest/x86.js';

const DEASSIGN = K.KVM_IRQFD_FLAG_DEASSIGN;
const RESAMPLE = K.KVM_IRQFD_FLAG_RESAMPLE;
const LEVEL_PIN = { pin: 20, route: { vector: 0x60, level: true } };

function withGuest(pins: { pin: number; route: RouteOptions }[] = [LEVEL_PIN], vectors?: number[], noEoi: number[] = []): Vmm {
  const v = vmm();
  v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, irqGuest(pins, vectors, noEoi));
  expect(run(v)).toBe('EINTR'); // set up, then halted with nothing pending
  return v;
}

const ctl = (v: Vmm) => v.host.control.kvm.vm(v.p, v.vm);
const guest = (v: Vmm) => v.host.control.kvm.vcpu(v.p, v.vcpus[0]!);

describe('assign/deassign errors and check order (§1.2) [E]', () => {
  it('no irqchip: assign EINVAL, deassign 0', () => {
    const v = vmm({ irqchip: 'none' });
    const e = efd(v.p);
    expect(errno(() => irqfd(v.p, v.vm, e, 5))).toBe('EINVAL');
    expect(errno(() => irqfd(v.p, v.vm, e, 5, DEASSIGN))).toBe(0);
  });
  it('unknown flag bits are EINVAL even with DEASSIGN, and before any fd check', () => {
    const v = vmm();
    expect(errno(() => irqfd(v.p, v.vm, -1, 5, 4))).toBe('EINVAL');
    expect(errno(() => irqfd(v.p, v.vm, -1, 5, DEASSIGN | 4))).toBe('EINVAL');
  });
  it('fd -1 or closed -> EBADF; a pipe -> EINVAL (assign and deassign)', () => {
    const v = vmm();
    const [r] = v.p.pipe();
    expect(errno(() => irqfd(v.p, v.vm, -1, 5))).toBe('EBADF');
    expect(errno(() => irqfd(v.p, v.vm, 99, 5))).toBe('EBADF');
    expect(errno(() => irqfd(v.p, v.vm, r, 5))).toBe('EINVAL');
    expect(errno(() => irqfd(v.p, v.vm, -1, 5, DEASSIGN))).toBe('EBADF');
    expect(errno(() => irqfd(v.p, v.vm, r, 5, DEASSIGN))).toBe('EINVAL');
  });
  it('RESAMPLE: resamplefd -1 EBADF, a pipe EINVAL, left 0 uses fd 0 (/dev/null here: EINVAL), == fd accepted, shared accepted', () => {
    const v = vmm();
    const [r] = v.p.pipe();
    const e1 = efd(v.p);
    const e2 = efd(v.p);
    const rs = efd(v.p);
    expect(errno(() => irqfd(v.p, v.vm, e1, 5, RESAMPLE, -1))).toBe('EBADF');
    expect(errno(() => irqfd(v.p, v.vm, e1, 5, RESAMPLE, r))).toBe('EINVAL');
    expect(errno(() => irqfd(v.p, v.vm, e1, 5, RESAMPLE))).toBe('EINVAL');
    expect(errno(() => irqfd(v.p, v.vm, e1, 5, RESAMPLE, e1))).toBe(0);
    expect(errno(() => irqfd(v.p, v.vm, e2, 6, RESAMPLE, rs))).toBe(0);
    const e3 = efd(v.p);
    expect(errno(() => irqfd(v.p, v.vm, e3, 7, RESAMPLE, rs))).toBe(0);
  });
  it('an eventfd already bound -> EBUSY (same gsi, other gsi, other VM); a second eventfd on the same GSI -> 0', () => {
    const v = vmm();
    const e = efd(v.p);
    expect(irqfd(v.p, v.vm, e, 5)).toBe(0);
    expect(errno(() => irqfd(v.p, v.vm, e, 5))).toBe('EBUSY');
    expect(errno(() => irqfd(v.p, v.vm, e, 6))).toBe('EBUSY');
    const vm2 = v.p.ioctl(v.kvm, K.KVM_CREATE_VM, 0);
    v.p.ioctl(vm2, K.KVM_CREATE_IRQCHIP);
    expect(errno(() => irqfd(v.p, vm2, e, 5))).toBe('EBUSY');
    expect(irqfd(v.p, v.vm, efd(v.p), 5)).toBe(0);
  });
  it('RESAMPLE with a split irqchip -> EINVAL; a plain irqfd there -> 0', () => {
    const v = vmm({ irqchip: 'split' });
    expect(errno(() => irqfd(v.p, v.vm, efd(v.p), 5, RESAMPLE, efd(v.p)))).toBe('EINVAL');
    expect(irqfd(v.p, v.vm, efd(v.p), 5)).toBe(0);
  });
  it('GSI numbers are never checked: 5000 and 0xffffffff are accepted and inert', () => {
    const v = vmm();
    const e = efd(v.p);
    expect(irqfd(v.p, v.vm, e, 5000)).toBe(0);
    expect(irqfd(v.p, v.vm, efd(v.p), 0xffffffff)).toBe(0);
    signal(v.p, e);
    expect(count(v.p, e)).toBe(0);
  });
  it('deassign is keyed on (eventfd, gsi): unknown pair 0, wrong gsi 0 and the binding stays, DEASSIGN|RESAMPLE 0', () => {
    const v = vmm();
    const e = efd(v.p);
    expect(irqfd(v.p, v.vm, e, 5, DEASSIGN)).toBe(0);
    irqfd(v.p, v.vm, e, 5);
    expect(irqfd(v.p, v.vm, e, 6, DEASSIGN)).toBe(0);
    expect(errno(() => irqfd(v.p, v.vm, e, 5))).toBe('EBUSY');
    expect(irqfd(v.p, v.vm, e, 5, DEASSIGN | RESAMPLE)).toBe(0);
    expect(irqfd(v.p, v.vm, e, 5)).toBe(0);
  });
  it('a failed assign leaves nothing behind (no irqfd, no resampler)', () => {
    const v = vmm();
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 5);
    expect(errno(() => irqfd(v.p, v.vm, e, 9, RESAMPLE, efd(v.p)))).toBe('EBUSY');
    expect(ctl(v).resamplers()).toEqual([]);
    expect(ctl(v).irqfds()).toHaveLength(1);
  });
});

describe('delivery (§1.3)', () => {
  it('MSI route: injected from the eventfd wakeup, counter consumed; poll() never sees the eventfd readable [E]', () => {
    const v = withGuest([], [0x50]);
    setRoutes(v.p, v.vm, [{ gsi: 30, msi: { lo: msiAddress(0), data: msiData(0x50) } }]);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 30);
    signal(v.p, e);
    expect(guest(v).lapic()!.irr).toEqual([0x50]);
    expect(v.p.poll([{ fd: e, events: POLLIN }], 0)).toBe(0);
    expect(count(v.p, e)).toBe(0);
    expect(run(v)).toBe('EINTR');
    expect(guest(v).handled(0x50)).toBe(1);
  });
  it('a kernel-side eventfd_signal() (as VFIO does from its interrupt handler) injects the same way', () => {
    const v = withGuest([], [0x50]);
    setRoutes(v.p, v.vm, [{ gsi: 30, msi: { lo: msiAddress(0), data: msiData(0x50) } }]);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 30);
    (v.p.fileOrNull(e) as EventFdFile).ctx.signal();
    expect(guest(v).lapic()!.irr).toEqual([0x50]);
  });
  it('plain irqfd on an irqchip route is a 1->0 pulse on source 0: it clears a level set with KVM_IRQ_LINE [E]', () => {
    const v = vmm();
    irqLine(v.p, v.vm, 20, 1);
    expect(ctl(v).ioapicPin(20)).toMatchObject({ irr: true, sources: 1 });
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 20);
    signal(v.p, e);
    expect(ctl(v).ioapicPin(20)).toMatchObject({ irr: false, sources: 0 });
  });
  it('an eventfd already signalled at assign is injected at once and its counter is not consumed [E]', () => {
    const v = withGuest([], [0x51]);
    setRoutes(v.p, v.vm, [{ gsi: 31, msi: { lo: msiAddress(0), data: msiData(0x51) } }]);
    const e = efd(v.p);
    signal(v.p, e);
    irqfd(v.p, v.vm, e, 31);
    expect(guest(v).lapic()!.irr).toEqual([0x51]);
    expect(count(v.p, e)).toBe(1);
  });
  it('routes are re-read on the next signal (vector 0x50 -> 0x52 after re-route) [E]', () => {
    const v = withGuest([], [0x50, 0x52]);
    setRoutes(v.p, v.vm, [{ gsi: 30, msi: { lo: msiAddress(0), data: msiData(0x50) } }]);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 30);
    signal(v.p, e);
    setRoutes(v.p, v.vm, [{ gsi: 30, msi: { lo: msiAddress(0), data: msiData(0x52) } }]);
    signal(v.p, e);
    expect(guest(v).lapic()!.irr).toEqual([0x50, 0x52]);
  });
  it('the cached MSI is decoded in the format current at the signal: KVM_X2APIC_API_USE_32BIT_IDS after assign', () => {
    // irq.c kvm_set_msi_irq() decodes on every injection with kvm->arch.x2apic_format, and
    // kvm_arch_set_irq_inatomic() rejects a route kvm_msi_route_invalid() now finds invalid (-EINVAL:
    // irqfd_wakeup() queues nothing). Routes set before the capability are not re-validated.
    const v = withGuest([], [0x50, 0x51]);
    setRoutes(v.p, v.vm, [
      { gsi: 30, msi: { lo: msiAddress(0), hi: 0x100, data: msiData(0x50) } },
      { gsi: 31, msi: { lo: msiAddress(0), hi: 0x1, data: msiData(0x51) } },
    ]);
    const e30 = efd(v.p);
    const e31 = efd(v.p);
    irqfd(v.p, v.vm, e30, 30);
    irqfd(v.p, v.vm, e31, 31);
    // xAPIC format: address_hi is ignored, both reach APIC 0.
    signal(v.p, e30);
    signal(v.p, e31);
    expect(run(v)).toBe('EINTR');
    expect([guest(v).handled(0x50), guest(v).handled(0x51)]).toEqual([1, 1]);
    enableCap(v.p, v.vm, K.KVM_CAP_X2APIC_API, K.KVM_X2APIC_API_USE_32BIT_IDS);
    // 32-bit IDs: gsi 30 now names APIC 0x100 (absent), gsi 31 has address_hi bits 7:0 set (invalid).
    signal(v.p, e30);
    signal(v.p, e31);
    expect(guest(v).lapic()!.irr).toEqual([]);
    expect(count(v.p, e30) + count(v.p, e31)).toBe(0);
    expect(run(v)).toBe('EINTR');
    expect([guest(v).handled(0x50), guest(v).handled(0x51)]).toEqual([1, 1]);
  });
  it('a signal to an unrouted GSI is dropped, not latched: adding the route later injects nothing [E]', () => {
    const v = withGuest([], [0x53]);
    setRoutes(v.p, v.vm, []);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 33);
    signal(v.p, e);
    setRoutes(v.p, v.vm, [{ gsi: 33, msi: { lo: msiAddress(0), data: msiData(0x53) } }]);
    expect(guest(v).lapic()!.irr).toEqual([]);
    expect(count(v.p, e)).toBe(0);
  });
});

describe('resampling irqfd (§1.3, behaviour 4)', () => {
  function resampled(v: Vmm, gsi = 20) {
    const e = efd(v.p);
    const r = efd(v.p);
    irqfd(v.p, v.vm, e, gsi, RESAMPLE, r);
    return { e, r };
  }

  it('signal asserts source 1 and keeps it high; the guest EOI de-asserts, then signals the resamplefd, then clears remote IRR', () => {
    const v = withGuest();
    const { e, r } = resampled(v);
    signal(v.p, e);
    expect(ctl(v).ioapicPin(20)).toMatchObject({ sources: 2, irr: true, remoteIrr: true });
    expect(guest(v).lapic()!.irr).toEqual([0x60]);
    const seen: { sources: number; remoteIrr: boolean }[] = [];
    (v.p.fileOrNull(r) as EventFdFile).ctx.wqh.add({ wake: () => void seen.push(ctl(v).ioapicPin(20)) });
    expect(run(v)).toBe('EINTR');
    expect(guest(v).handled(0x60)).toBe(1);
    expect(seen).toEqual([expect.objectContaining({ sources: 0, remoteIrr: true })]);
    expect(ctl(v).ioapicPin(20)).toMatchObject({ sources: 0, irr: false, remoteIrr: false });
    expect(count(v.p, r)).toBe(1);
  });
  it('a re-signal while remote IRR is set delivers nothing; the count is consumed; after EOI only the resamplefd tells', () => {
    const v = withGuest();
    const { e, r } = resampled(v);
    signal(v.p, e);
    signal(v.p, e);
    expect(count(v.p, e)).toBe(0);
    run(v);
    expect(guest(v).handled(0x60)).toBe(1);
    expect(count(v.p, r)).toBe(1);
    expect(guest(v).lapic()!.irr).toEqual([]);
  });
  it('one shared resampler per GSI: signalling only T1, one EOI signals R1 and R2 [E]', () => {
    const v = withGuest();
    const a = resampled(v);
    const b = resampled(v);
    expect(ctl(v).resamplers()).toEqual([{ gsi: 20, irqfds: 2, acks: 0 }]);
    signal(v.p, a.e);
    run(v);
    expect([count(v.p, a.r), count(v.p, b.r)]).toEqual([1, 1]);
  });
  it('EOI while KVM_IRQ_LINE (source 0) still asserts the GSI: remote IRR cleared and the pin re-delivers at once (behaviour 5)', () => {
    const v = withGuest();
    const { e } = resampled(v);
    irqLine(v.p, v.vm, 20, 1);
    signal(v.p, e);
    v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).setRunBudget(40);
    expect(run(v)).toBe('EINTR');
    expect(guest(v).handled(0x60)).toBeGreaterThan(1);
    expect(ctl(v).ioapicPin(20)).toMatchObject({ sources: 1, remoteIrr: true });
  });
  it('on an MSI-routed GSI: the MSI is delivered and the resamplefd never signalled [E]', () => {
    const v = withGuest([], [0x54]);
    setRoutes(v.p, v.vm, [{ gsi: 34, msi: { lo: msiAddress(0), data: msiData(0x54) } }]);
    const { e, r } = resampled(v, 34);
    signal(v.p, e);
    run(v);
    expect(guest(v).handled(0x54)).toBe(1);
    expect(count(v.p, r)).toBe(0);
  });
  it('on an edge-triggered pin the EOI still reaches the IOAPIC and signals the resamplefd [E]', () => {
    const v = withGuest([{ pin: 20, route: { vector: 0x61 } }]);
    const { e, r } = resampled(v);
    signal(v.p, e);
    run(v);
    expect(guest(v).handled(0x61)).toBe(1);
    expect(count(v.p, r)).toBe(1);
  });
  it('removing the last resampling irqfd de-asserts source 1 and drops the resampler', () => {
    const v = withGuest([{ pin: 20, route: { vector: 0x60, level: true, masked: true } }]);
    const { e } = resampled(v);
    signal(v.p, e);
    expect(ctl(v).ioapicPin(20).sources).toBe(2);
    irqfd(v.p, v.vm, e, 20, DEASSIGN);
    expect(ctl(v).ioapicPin(20).sources).toBe(0);
    expect(ctl(v).resamplers()).toEqual([]);
  });
  it('closing only the resamplefd does not disable the irqfd; deassign then returns 0 [E]', () => {
    const v = withGuest();
    const { e, r } = resampled(v);
    v.p.close(r);
    signal(v.p, e);
    expect(guest(v).lapic()!.irr).toEqual([0x60]);
    expect(irqfd(v.p, v.vm, e, 20, DEASSIGN)).toBe(0);
  });
});

describe('unmask with irr latched (v6.3, behaviour 7) [E]', () => {
  const masked = { vector: 0x62, level: true, masked: true };
  it('resampler present: irr cleared, resamplefds signalled, no interrupt', () => {
    const v = withGuest([{ pin: 20, route: masked }]);
    const e = efd(v.p);
    const r = efd(v.p);
    irqfd(v.p, v.vm, e, 20, RESAMPLE, r);
    signal(v.p, e);
    expect(ctl(v).ioapicPin(20)).toMatchObject({ irr: true, masked: true });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, maskProgram(20, masked, false));
    run(v);
    expect(count(v.p, r)).toBe(1);
    expect(ctl(v).ioapicPin(20)).toMatchObject({ irr: false, masked: false, remoteIrr: false, sources: 2 });
    expect(guest(v).lapic()!.irr).toEqual([]);
  });
  it('no resampler: the latched request is injected immediately', () => {
    const v = withGuest([{ pin: 20, route: masked }]);
    irqLine(v.p, v.vm, 20, 1);
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, maskProgram(20, masked, false));
    run(v);
    expect(guest(v).lapic()!.irr).toEqual([0x62]);
  });
});

describe('lifetime', () => {
  it('after deassign returns no interrupt arrives, and later writes stay in the eventfd', () => {
    const v = withGuest([], [0x50]);
    setRoutes(v.p, v.vm, [{ gsi: 30, msi: { lo: msiAddress(0), data: msiData(0x50) } }]);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 30);
    irqfd(v.p, v.vm, e, 30, DEASSIGN);
    signal(v.p, e);
    expect(guest(v).lapic()!.irr).toEqual([]);
    expect(count(v.p, e)).toBe(1);
  });
  it('deassign waits for queued injections (flush): a pulse queued before deassign completes before it returns', () => {
    const v = vmm({ host: { policy: 'interleave', seed: 3 } });
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 20);
    irqLine(v.p, v.vm, 20, 1);
    (v.p.fileOrNull(e) as EventFdFile).ctx.signal();
    irqfd(v.p, v.vm, e, 20, DEASSIGN);
    expect(ctl(v).ioapicPin(20).sources).toBe(0);
  });
  it('closing the eventfd detaches the irqfd (EPOLLHUP); the fd number can be reused for a new irqfd [E]', () => {
    const v = vmm();
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 5);
    v.p.close(e);
    expect(ctl(v).irqfds()).toEqual([]);
    const e2 = efd(v.p);
    expect(e2).toBe(e);
    expect(irqfd(v.p, v.vm, e2, 5)).toBe(0);
  });
  it('a signal between deactivation and the shutdown work injects through the current route, not the cached one', () => {
    // eventfd.c irqfd_wakeup() (v6.19, b4d37cdb77a0): an irqfd off kvm->irqfds.items no longer gets
    // kvm_irq_routing_update(), so its wakeup schedules irqfd_inject (kvm_set_irq on the current
    // table) instead of injecting its cached entry. Window: the eventfd file is released (EPOLLHUP)
    // while a kernel-side holder of the eventfd_ctx (VFIO) can still signal it, and the routing
    // changes before the cleanup workqueue ran irqfd_shutdown.
    const v = withGuest([], [0x50, 0x52]);
    setRoutes(v.p, v.vm, [{ gsi: 30, msi: { lo: msiAddress(0), data: msiData(0x50) } }]);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 30);
    const ctx = (v.p.fileOrNull(e) as EventFdFile).ctx;
    const kvm = (v.p.fileOrNull(v.vm) as KvmVmFile).kvm;
    // What eventfd_release() and KVM_SET_GSI_ROUTING do, without the syscall exit that runs the work.
    ctx.wqh.wake(EPOLLHUP);
    expect(ctl(v).irqfds()).toEqual([]);
    setIrqRouting(kvm, [{ gsi: 30, type: K.KVM_IRQ_ROUTING_MSI, flags: 0, u: [msiAddress(0), 0, msiData(0x52), 0] }]);
    ctx.signal();
    kvm.sched.flush();
    expect(guest(v).lapic()!.irr).toEqual([0x52]);
  });
  it('closing the VM fd releases every irqfd: the eventfd can be bound to another VM', () => {
    const v = vmm();
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 5);
    v.p.close(v.vm);
    const vm2 = v.p.ioctl(v.kvm, K.KVM_CREATE_VM, 0);
    v.p.ioctl(vm2, K.KVM_CREATE_IRQCHIP);
    expect(irqfd(v.p, vm2, e, 5)).toBe(0);
  });
});
