// Per-vCPU ioapic_handled_vectors (arch/x86/kvm/x86.c vcpu_scan_ioapic; arch/x86/kvm/irq.c
// kvm_scan_ioapic_irq; arch/x86/kvm/ioapic.c kvm_ioapic_scan_entry, ioapic_write_indirect;
// arch/x86/kvm/lapic.c kvm_ioapic_send_eoi, kvm_apic_set_state, kvm_recalculate_apic_map): a vCPU
// forwards the EOI of a vector to the IOAPIC only if, at its last scan, a level pin with that vector
// targeted it or the vector was pending there.
import { describe, expect, it } from 'vitest';
import { GuestAsm } from '../../../src/guest/program.js';
import { enableLapic, ioapicRoute, maskPic } from '../../../src/guest/x86.js';
import { msiAddress, msiData } from '../../../src/hw/x86/msi.js';
import { count, efd, ioapicState, irqfd, irqLine, K, run, signal, signalMsi, vmm, type Vmm } from './helpers.js';

const PIN = 20;
const VEC = 0x50;

/**
 * Two vCPUs. vCPU 0 routes pin 20 (level, vector 0x50) to APIC `dest` and exits with interrupts off
 * (OUT 0x80, 1); given `reroute`, its next KVM_RUN writes the entry again with that destination and
 * exits (OUT 0x80, 4). vCPU 1 enables its APIC, exits once (its entry serves the scan requests so
 * far), then takes interrupts: its 0x50 handler EOIs and exits with OUT 0x80, 3.
 */
function setup(dest: number, reroute?: number): Vmm {
  const v = vmm({ vcpus: 2 });
  const a = new GuestAsm('cpu0');
  a.label('start');
  maskPic(a);
  enableLapic(a);
  ioapicRoute(a, PIN, { vector: VEC, level: true, dest });
  a.out(0x80, 1, 1);
  if (reroute !== undefined) ioapicRoute(a, PIN, { vector: VEC, level: true, dest: reroute }).out(0x80, 4, 1);
  a.label('idle').hlt().jmp('idle');
  v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
  const b = new GuestAsm('cpu1');
  b.label('start');
  enableLapic(b);
  b.out(0x80, 2, 1).sti().label('idle').hlt().jmp('idle');
  b.handler(VEC, 'isr').label('isr').eoi().out(0x80, 3, 1).iret();
  v.host.control.kvm.loadGuest(v.p, v.vcpus[1]!, b.build());
  const m = K.kvm_mp_state.alloc();
  m.mp_state = K.KVM_MP_STATE_RUNNABLE;
  v.p.ioctl(v.vcpus[1]!, K.KVM_SET_MP_STATE, m);
  expect(run(v, 0)).toBe(K.KVM_EXIT_IO); // OUT 0x80, 1: pin 20 is routed
  expect(run(v, 1)).toBe(K.KVM_EXIT_IO); // OUT 0x80, 2: vCPU 1 entered after the entry write
  return v;
}

const remoteIrr = (v: Vmm): number => ioapicState(v.p, v.vm).redirtbl.get(PIN).fields.remote_irr;

describe('ioapic_handled_vectors is per vCPU', () => {
  it("a vCPU the pin does not target EOIs the same vector (a level-triggered MSI) without touching the pin's remote IRR", () => {
    const v = setup(0);
    irqLine(v.p, v.vm, PIN, 1); // delivered to vCPU 0 (interrupts off there): remote IRR set
    irqLine(v.p, v.vm, PIN, 0);
    expect(remoteIrr(v)).toBe(1);
    // Level-triggered, so vCPU 1's TMR has the bit and its EOI is a level EOI.
    expect(signalMsi(v.p, v.vm, msiAddress(1), msiData(VEC, 0, true))).toBe(1);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO); // vCPU 1 takes 0x50 and EOIs it
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[1]!).handled(VEC)).toBe(1);
    // Before per-vCPU scanning, this EOI reached the IOAPIC and cleared remote IRR.
    expect(remoteIrr(v)).toBe(1);
  });
  it('the destination vCPU does forward it', () => {
    const v = setup(1);
    irqLine(v.p, v.vm, PIN, 1);
    irqLine(v.p, v.vm, PIN, 0);
    expect(remoteIrr(v)).toBe(1);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    expect(remoteIrr(v)).toBe(0);
  });
  it('after a re-route away, the old destination still forwards the in-flight EOI once (stale pending EOI), then no more', () => {
    const v = setup(1);
    irqLine(v.p, v.vm, PIN, 1);
    irqLine(v.p, v.vm, PIN, 0);
    const c = v.host.control.kvm.vcpu(v.p, v.vcpus[1]!);
    expect(c.lapic()!.irr).toEqual([VEC]);
    // Userspace re-routes pin 20 to APIC 0 (KVM_SET_IRQCHIP requests a scan on every vCPU); vCPU 1's
    // scan at its next entry finds 0x50 pending in its IRR and keeps intercepting it.
    const s = K.kvm_irqchip.alloc();
    s.chip_id = K.KVM_IRQCHIP_IOAPIC;
    v.p.ioctl(v.vm, K.KVM_GET_IRQCHIP, s);
    s.chip.ioapic.redirtbl.get(PIN).fields.dest_id = 0;
    v.p.ioctl(v.vm, K.KVM_SET_IRQCHIP, s);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    expect(remoteIrr(v)).toBe(0);
    // That EOI asked for a rescan: the next 0x50 on vCPU 1 (an MSI) is not forwarded.
    irqLine(v.p, v.vm, PIN, 1); // now delivered to vCPU 0, which has interrupts off
    irqLine(v.p, v.vm, PIN, 0);
    expect(remoteIrr(v)).toBe(1);
    expect(signalMsi(v.p, v.vm, msiAddress(1), msiData(VEC, 0, true))).toBe(1);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    expect(c.handled(VEC)).toBe(2);
    expect(remoteIrr(v)).toBe(1);
  });
  it('a guest write that moves a fixed entry away asks the old destination to rescan too, so it stops forwarding the vector', () => {
    // ioapic_write_indirect(): for a fixed-delivery entry whose destination changed, the vCPUs the old
    // destination ID names (under the new destination mode) are added to the scan request mask.
    const v = setup(1, 0);
    expect(run(v, 0)).toBe(K.KVM_EXIT_IO); // OUT 0x80, 4: pin 20 now targets APIC 0
    irqLine(v.p, v.vm, PIN, 1); // delivered to vCPU 0 (interrupts off): remote IRR set
    irqLine(v.p, v.vm, PIN, 0);
    expect(remoteIrr(v)).toBe(1);
    // vCPU 1 enters (and halts) before the MSI arrives: had 0x50 been pending in its IRR at that
    // scan, it would rightly have been kept as a stale pending EOI.
    expect(run(v, 1)).toBe('EINTR');
    expect(signalMsi(v.p, v.vm, msiAddress(1), msiData(VEC, 0, true))).toBe(1);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[1]!).handled(VEC)).toBe(1);
    // Had only the new destination (vCPU 0) been asked, vCPU 1 would still hold 0x50 from its scan
    // at the first entry, and this EOI would have cleared the pin's remote IRR.
    expect(remoteIrr(v)).toBe(1);
  });
  it('KVM_SET_LAPIC that makes a vCPU the destination asks for a scan (kvm_apic_set_state recalculates the APIC map)', () => {
    // lapic.c kvm_apic_set_state() marks the map dirty and calls kvm_recalculate_apic_map(), which ends
    // with kvm_make_scan_ioapic_request().
    const v = setup(5); // pin 20 targets APIC 5: nobody yet, so vCPU 1's scan left 0x50 out
    const s = K.kvm_lapic_state.alloc();
    v.p.ioctl(v.vcpus[1]!, K.KVM_GET_LAPIC, s);
    new DataView(s.bytes.buffer, s.bytes.byteOffset).setUint32(0x20, 0x05000000, true); // APIC ID 5
    v.p.ioctl(v.vcpus[1]!, K.KVM_SET_LAPIC, s);
    irqLine(v.p, v.vm, PIN, 1); // delivered to vCPU 1 (APIC 5): remote IRR set
    irqLine(v.p, v.vm, PIN, 0);
    expect(remoteIrr(v)).toBe(1);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[1]!).handled(VEC)).toBe(1);
    expect(remoteIrr(v)).toBe(0);
  });
  it("nor does it run the pin's ack notifiers: a resampling irqfd on the pin is not resampled by an edge MSI's EOI", () => {
    const v = setup(0);
    const e = efd(v.p);
    const r = efd(v.p);
    irqfd(v.p, v.vm, e, PIN, K.KVM_IRQFD_FLAG_RESAMPLE, r);
    signal(v.p, e); // source 1 asserts pin 20: delivered to vCPU 0, remote IRR set
    expect(remoteIrr(v)).toBe(1);
    // Registering the resampler asked every vCPU to rescan; vCPU 1 does so when it next enters (it
    // halts with nothing to take). Had the MSI been pending in its IRR at that entry, the scan would
    // have kept 0x50 as a stale pending EOI and this EOI would have been forwarded, as in KVM.
    expect(run(v, 1)).toBe('EINTR');
    expect(signalMsi(v.p, v.vm, msiAddress(1), msiData(VEC))).toBe(1);
    expect(run(v, 1)).toBe(K.KVM_EXIT_IO);
    // kvm_notify_acked_irq() runs for any EOI that reaches the IOAPIC, edge or level; this one does not.
    expect(count(v.p, r)).toBe(0);
    expect(remoteIrr(v)).toBe(1);
  });
});
