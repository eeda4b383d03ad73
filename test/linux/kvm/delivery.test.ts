// Interrupt delivery to destinations (arch/x86/kvm/lapic.c: kvm_recalculate_apic_map,
// kvm_apic_map_get_dest_lapic, kvm_irq_delivery_to_apic(_fast), kvm_vector_to_index), the 8259 path
// (arch/x86/kvm/i8259.c + irq.c kvm_cpu_get_extint) with its ack notifiers, IPIs, and the trace hops.
import { describe, expect, it } from 'vitest';
import { GuestAsm, r0 } from '../../../src/guest/program.js';
import { enableLapic, setLogicalId } from '../../../src/guest/x86.js';
import { msiAddress, msiData } from '../../../src/hw/x86/msi.js';
import { APIC_DM_LOWEST } from '../../../src/hw/x86/apicdef.js';
import type { IrqEvent, TraceEvent } from '../../../src/sim/trace.js';
import { count, efd, irqfd, irqLine, K, run, signal, signalMsi, vmm, type Vmm } from './helpers.js';

/** Each vCPU enables its APIC with logical ID 1 << i (flat, or cluster 1 member i) and idles. */
function logicalVmm(n: number, cluster = false): Vmm {
  const v = vmm({ vcpus: n });
  for (let i = 0; i < n; i++) {
    const a = new GuestAsm(`cpu${i}`);
    a.label('start');
    enableLapic(a);
    setLogicalId(a, cluster ? 0x10 | (1 << i) : 1 << i, cluster);
    a.hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[i]!, a.build());
    if (i > 0) {
      const m = K.kvm_mp_state.alloc();
      m.mp_state = K.KVM_MP_STATE_RUNNABLE;
      v.p.ioctl(v.vcpus[i]!, K.KVM_SET_MP_STATE, m);
    }
    expect(run(v, i)).toBe('EINTR');
  }
  return v;
}

const irrOf = (v: Vmm, i: number) => v.host.control.kvm.vcpu(v.p, v.vcpus[i]!).lapic()!.irr;

describe('MSI destinations', () => {
  it('logical flat: every APIC whose LDR bit is in the destination accepts; the result counts them', () => {
    const v = logicalVmm(3);
    expect(signalMsi(v.p, v.vm, msiAddress(0b101, true), msiData(0x40))).toBe(2);
    expect([irrOf(v, 0), irrOf(v, 1), irrOf(v, 2)]).toEqual([[0x40], [], [0x40]]);
  });
  it('logical cluster: cluster nibble must match', () => {
    const v = logicalVmm(2, true);
    expect(signalMsi(v.p, v.vm, msiAddress(0x12, true), msiData(0x41))).toBe(1);
    expect(signalMsi(v.p, v.vm, msiAddress(0x22, true), msiData(0x41))).toBe(0);
    expect(irrOf(v, 1)).toEqual([0x41]);
  });
  it('lowest priority picks one APIC by vector hashing (vector mod #candidates)', () => {
    const v = logicalVmm(3);
    expect(signalMsi(v.p, v.vm, msiAddress(0b111, true), msiData(0x42, APIC_DM_LOWEST))).toBe(1);
    expect(signalMsi(v.p, v.vm, msiAddress(0b111, true), msiData(0x43, APIC_DM_LOWEST))).toBe(1);
    // 0x42 % 3 = 0 -> first candidate; 0x43 % 3 = 1 -> second.
    expect([irrOf(v, 0), irrOf(v, 1), irrOf(v, 2)]).toEqual([[0x42], [0x43], []]);
  });
  it('the redirection hint makes a logical MSI lowest-priority too', () => {
    const v = logicalVmm(2);
    expect(signalMsi(v.p, v.vm, msiAddress(0b11, true, true), msiData(0x45))).toBe(1);
  });
  it('two vCPUs with the same APIC ID: the map is unusable and the slow path delivers to both', () => {
    const v = vmm({ vcpus: 2 });
    const s = K.kvm_lapic_state.alloc();
    for (const fd of v.vcpus) {
      v.p.ioctl(fd, K.KVM_GET_LAPIC, s);
      const dv = new DataView(s.bytes.buffer, s.bytes.byteOffset);
      dv.setUint32(0xf0, 0x1ff, true);
      dv.setUint32(0x20, 0x05000000, true);
      v.p.ioctl(fd, K.KVM_SET_LAPIC, s);
    }
    expect(signalMsi(v.p, v.vm, msiAddress(5), msiData(0x46))).toBe(2);
  });
});

describe('IPIs', () => {
  it('a fixed IPI through ICR reaches the destination vCPU, which handles it', () => {
    const v = logicalVmm(2);
    const b = new GuestAsm('sender');
    b.label('start').store32(0xfee00310, 1 << 24).store32(0xfee00300, 0x4000 | 0x77).hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, b.build());
    const t = new GuestAsm('target');
    t.label('start');
    enableLapic(t);
    t.sti().label('idle').hlt().jmp('idle').handler(0x77, 'h').label('h').add(r0, 1).eoi().iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[1]!, t.build());
    run(v, 1);
    run(v, 0);
    run(v, 1);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[1]!).handled(0x77)).toBe(1);
  });
});

describe('the 8259 path', () => {
  it('an unmasked PIC pin reaches the BSP as ExtINT (vector = ICW2 base + pin); the PIC EOI runs the resampler', () => {
    const v = vmm();
    const a = new GuestAsm('pic');
    a.label('start');
    a.out(0x20, 0x11).out(0x21, 0x20).out(0x21, 0x04).out(0x21, 0x01); // ICW1-4: vectors 0x20-0x27
    a.out(0xa0, 0x11).out(0xa1, 0x28).out(0xa1, 0x02).out(0xa1, 0x01);
    a.sti().label('idle').hlt().jmp('idle');
    a.handler(0x23, 'h').label('h').add(r0, 1).out(0x20, 0x20).iret(); // non-specific EOI (OCW2)
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    run(v);
    const e = efd(v.p);
    const r = efd(v.p);
    irqfd(v.p, v.vm, e, 3, K.KVM_IRQFD_FLAG_RESAMPLE, r);
    signal(v.p, e);
    expect(run(v)).toBe('EINTR');
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).handled(0x23)).toBe(1);
    expect(count(v.p, r)).toBe(1);
  });
  it('a guest that never programmed the PIC takes ExtINT vectors 0-15 (reset IRQ base 0): without a handler that is a triple fault', () => {
    const v = vmm();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, new GuestAsm('naive').label('start').sti().hlt().build());
    run(v);
    irqLine(v.p, v.vm, 4, 1);
    expect(run(v)).toBe(K.KVM_EXIT_SHUTDOWN);
    expect(v.host.control.kvm.vcpu(v.p, v.vcpus[0]!).guest().fault).toMatch(/vector 0x4/);
  });
});

describe('trace hops', () => {
  it('a resampling cycle emits irqfd-inject, route, ioapic, lapic-irr, lapic-isr, guest-handler, eoi, resample in order', () => {
    const v = vmm();
    const a = new GuestAsm('g');
    a.label('start');
    enableLapic(a);
    a.store32(0xfec00000, 0x10 + 40).store32(0xfec00010, 0x8000 | 0x60);
    a.sti().label('idle').hlt().jmp('idle').handler(0x60, 'h').label('h').eoi().iret();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
    run(v);
    const e = efd(v.p);
    irqfd(v.p, v.vm, e, 20, K.KVM_IRQFD_FLAG_RESAMPLE, efd(v.p));
    const hops: string[] = [];
    const off = v.host.trace.on((ev: TraceEvent) => {
      if (ev.type === 'irq') hops.push((ev as IrqEvent).hop);
    });
    signal(v.p, e);
    run(v);
    off();
    const order = ['irqfd-inject', 'route', 'ioapic', 'lapic-irr', 'lapic-isr', 'guest-handler', 'eoi', 'resample'];
    const firsts = order.map((h) => hops.indexOf(h));
    expect(firsts.every((i) => i >= 0)).toBe(true);
    expect([...firsts].sort((x, y) => x - y)).toEqual(firsts);
  });
  it('strace names KVM ioctls by file type', () => {
    const lines: string[] = [];
    const v = vmm({ vcpus: 0 });
    const stop = v.host.strace((l) => lines.push(l));
    irqfd(v.p, v.vm, efd(v.p), 9);
    stop();
    expect(lines.some((l) => l.includes('KVM_IRQFD'))).toBe(true);
  });
});
