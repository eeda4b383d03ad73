// The CPU side (Intel SDM vol. 3 29.2 and 29.6; reference xen.md 2.5): in VMX non-root operation an
// interrupt whose vector is the VMCS PINV is posted-interrupt processing (ON cleared, PIR into VIRR,
// RVI raised, virtual interrupt delivered, no VM exit); any other vector exits; in root operation the
// host's handler runs when RFLAGS.IF=1 and the interrupt waits while IF=0.
import { describe, expect, it } from 'vitest';
import { VmxCpu, type VmxHost } from '../../../src/hw/vmx/cpu.js';
import { EXIT_EXTINT, Vmcs } from '../../../src/hw/vmx/vmcs.js';
import { Lapic } from '../../../src/hw/x86/lapic.js';
import { APIC_IRR, APIC_SPIV } from '../../../src/hw/x86/apicdef.js';
import { GuestCpu } from '../../../src/guest/cpu.js';
import { GuestAsm } from '../../../src/guest/program.js';
import { PiDesc } from '../../../src/hw/iommu/vtd/pi-desc.js';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { TraceBus } from '../../../src/sim/trace.js';

function setup() {
  const sched = new Scheduler();
  const trace = new TraceBus();
  const hw = { sched, trace };
  const events: string[] = [];
  const cpu = new VmxCpu(0, 0, { tprShadow: true, apicRegVirt: true, virtualIntrDelivery: true, postedIntrProcessing: true }, sched, trace);
  const host: VmxHost = {
    hostInterrupt: (_c, v) => {
      events.push(`host ${v.toString(16)}`);
      cpu.ackApicIrq();
    },
    vmExit: (_c, _vm, reason, v) => events.push(`exit ${reason} ${v.toString(16)}`),
  };
  cpu.host = host;
  const hooks = { eoi: () => {}, sendIpi: () => {}, mapChanged: () => {}, kick: () => {} };
  const vapic = new Lapic(0, hooks, hw);
  vapic.writeReg(APIC_SPIV, 0x1ff);
  const guest = new GuestCpu(0, hw);
  // A busy guest: interrupts on, spinning; every external vector EOIs and returns.
  const a = new GuestAsm('spin');
  a.label('start').sti().label('spin').jmp('spin');
  a.label('isr').eoi().iret();
  for (let v = 0x20; v < 256; v++) a.handler(v, 'isr');
  guest.load(a.build());
  const vm = new Vmcs('t', vapic, guest);
  const pd = new PiDesc(new Uint8Array(64));
  vm.vid = true;
  vm.postedIntr = true;
  vm.pinv = 0xf1;
  vm.piDesc = pd.bytes;
  return { sched, cpu, vm, pd, guest, events, vapic };
}

describe('posted-interrupt processing (SDM 29.6)', () => {
  it('PINV in non-root: no exit, ON cleared, PIR moved to VIRR and delivered', () => {
    const t = setup();
    t.cpu.vmentry(t.vm);
    t.sched.flush();
    t.pd.testAndSetPir(0x41);
    t.pd.testAndSetPir(0x52);
    t.pd.setOn();
    t.cpu.accept(0xf1);
    t.sched.flush();
    expect(t.events).toEqual([]);
    expect(t.vm.exits).toBe(0);
    expect(t.pd.on).toBe(false);
    expect(t.pd.pirEmpty()).toBe(true);
    expect([t.guest.handled[0x52], t.guest.handled[0x41]]).toEqual([1, 1]);
    expect(t.vapic.vectors(APIC_IRR)).toEqual([]);
  });

  it('another vector (even the wakeup vector) exits with acknowledge-on-exit', () => {
    const t = setup();
    t.cpu.vmentry(t.vm);
    t.sched.flush();
    t.cpu.accept(0xf2);
    t.sched.flush();
    expect(t.events).toEqual([`exit ${EXIT_EXTINT} f2`]);
    expect(t.cpu.nonRoot).toBe(false);
  });

  it('root: handled with IF=1, pending while IF=0 and recognized at VM entry (PINV then goes to the guest)', () => {
    const t = setup();
    t.cpu.setRootIf(false);
    t.cpu.accept(0xf1);
    t.sched.flush();
    expect(t.events).toEqual([]);
    t.pd.testAndSetPir(0x60);
    t.pd.setOn();
    t.cpu.vmentry(t.vm); // the pending notification is processed right after entry
    t.sched.flush();
    expect(t.events).toEqual([]);
    expect(t.guest.handled[0x60]).toBe(1);
    t.cpu.exit(t.vm, EXIT_EXTINT, -1);
    t.cpu.setRootIf(true);
    t.cpu.accept(0x30);
    t.sched.flush();
    expect(t.events).toEqual([`exit ${EXIT_EXTINT} -1`, 'host 30']);
  });
});
