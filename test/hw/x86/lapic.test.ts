// The hypervisor-neutral LAPIC model against the rules of arch/x86/kvm/lapic.c (__apic_accept_irq,
// apic_update_ppr, apic_has_interrupt_for_ppr, kvm_get_apic_interrupt, apic_set_eoi,
// kvm_lapic_reg_write, kvm_lapic_reset) and the SDM's xAPIC chapter.
import { describe, expect, it } from 'vitest';
import { Lapic, type LapicHooks } from '../../../src/hw/x86/lapic.js';
import { ApicIrq } from '../../../src/hw/x86/apic-irq.js';
import {
  APIC_DFR, APIC_DM_EXTINT, APIC_DM_FIXED, APIC_DM_INIT, APIC_DM_NMI, APIC_DM_SMI, APIC_DM_STARTUP, APIC_EOI, APIC_ICR,
  APIC_ICR2, APIC_ID, APIC_IRR, APIC_ISR, APIC_LDR, APIC_LVT0, APIC_LVT1, APIC_LVTT, APIC_LVR, APIC_PROCPRI, APIC_SPIV,
  APIC_TASKPRI, APIC_TMR, APIC_DEST_LOGICAL,
} from '../../../src/hw/x86/apicdef.js';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { TraceBus } from '../../../src/sim/trace.js';

function mk(index = 0): { apic: Lapic; eois: [number, boolean][]; ipis: ApicIrq[]; kicks: number[]; maps: number[] } {
  const eois: [number, boolean][] = [];
  const ipis: ApicIrq[] = [];
  const kicks: number[] = [];
  const maps: number[] = [];
  const hooks: LapicHooks = {
    eoi: (_a, v, l) => eois.push([v, l]),
    sendIpi: (_a, irq) => ipis.push(Object.assign(new ApicIrq(), irq)),
    mapChanged: () => maps.push(1),
    kick: () => kicks.push(1),
  };
  const apic = new Lapic(index, hooks, { sched: new Scheduler(), trace: new TraceBus() });
  return { apic, eois, ipis, kicks, maps };
}

const enable = (apic: Lapic): void => apic.mmioWrite(APIC_SPIV, 4, 0x1ff);

describe('LAPIC reset (kvm_lapic_reset; values measured with KVM_GET_LAPIC on 6.18)', () => {
  it('BSP: version 0x00050014, DFR flat, SPIV 0xff (software-disabled), LVT0 ExtINT unmasked, other LVTs masked', () => {
    const { apic } = mk(0);
    expect(apic.readReg(APIC_LVR)).toBe(0x00050014);
    expect(apic.readReg(APIC_DFR)).toBe(0xffffffff);
    expect(apic.readReg(APIC_SPIV)).toBe(0xff);
    expect(apic.readReg(APIC_LVT0)).toBe(0x700);
    expect(apic.readReg(APIC_LVT1)).toBe(0x10000);
    expect(apic.readReg(APIC_LVTT)).toBe(0x10000);
    expect(apic.swEnabled).toBe(false);
    expect(apic.apicBase).toBe(0xfee00900);
  });
  it('AP: ID = vcpu index << 24, LVT0 masked, no BSP bit', () => {
    const { apic } = mk(1);
    expect(apic.readReg(APIC_ID)).toBe(0x01000000);
    expect(apic.readReg(APIC_LVT0)).toBe(0x10000);
    expect(apic.apicBase).toBe(0xfee00800);
  });
  it('INIT keeps IA32_APIC_BASE and the APIC ID (kvm_lapic_reset(init_event): __kvm_apic_set_base and the ID only at RESET); RESET restores both', () => {
    const { apic, maps } = mk(1);
    enable(apic);
    apic.setApicBase(0xfed00800);
    apic.mmioWrite(APIC_ID, 4, 0x07000000);
    apic.mmioWrite(APIC_TASKPRI, 4, 0x20);
    maps.length = 0;
    apic.reset(false, true);
    expect(apic.apicBase).toBe(0xfed00800);
    expect(apic.readReg(APIC_ID)).toBe(0x07000000);
    // Everything else is back at its reset value, and the map is recalculated.
    expect(apic.readReg(APIC_SPIV)).toBe(0xff);
    expect(apic.readReg(APIC_TASKPRI)).toBe(0);
    expect(apic.readReg(APIC_LVT0)).toBe(0x10000);
    expect(maps.length).toBeGreaterThan(0);
    apic.reset(false);
    expect(apic.apicBase).toBe(0xfee00800);
    expect(apic.readReg(APIC_ID)).toBe(0x01000000);
  });
  it('hardware-enabling the APIC through IA32_APIC_BASE sets the xAPIC ID back to the vCPU index (__kvm_apic_set_base)', () => {
    const { apic, maps } = mk(2);
    apic.mmioWrite(APIC_ID, 4, 0x07000000);
    apic.setApicBase(0xfee00000); // disabled: the ID register is out of reach, and kept
    expect(apic.hwEnabled).toBe(false);
    expect(apic.xapicId).toBe(7);
    apic.setApicBase(0xfee00000); // no change of the enable bit: nothing happens
    maps.length = 0;
    apic.setApicBase(0xfee00800);
    expect(apic.readReg(APIC_ID)).toBe(0x02000000);
    expect(maps.length).toBe(1);
    apic.mmioWrite(APIC_ID, 4, 0x07000000);
    apic.setApicBase(0xfed00800); // enabled already: a base move keeps the ID
    expect(apic.xapicId).toBe(7);
  });
  it('IA32_APIC_BASE above 4 GiB is kept in full and moves the APIC page there (base = bits 12 and up)', () => {
    const { apic } = mk(0);
    apic.setApicBase(0x8_fee0_0900);
    expect([apic.apicBase, apic.base, apic.hwEnabled]).toEqual([0x8_fee0_0900, 0x8_fee0_0000, true]);
    expect([apic.inRange(0x8_fee0_0000), apic.inRange(0x8_fee0_0fff), apic.inRange(0xfee0_0000)]).toEqual([true, true, false]);
    apic.reset(true);
    expect([apic.apicBase, apic.base]).toEqual([0xfee00900, 0xfee00000]);
  });
});

describe('acceptance (__apic_accept_irq)', () => {
  it('a software-disabled APIC does not accept fixed interrupts (returns 0)', () => {
    const { apic } = mk();
    expect(apic.accept(APIC_DM_FIXED, 0x40, true, false)).toBe(0);
    expect(apic.irrCount).toBe(0);
  });
  it('fixed: IRR set, TMR follows the trigger mode, kick; a second identical request still returns 1', () => {
    const { apic, kicks } = mk();
    enable(apic);
    expect(apic.accept(APIC_DM_FIXED, 0x41, true, true)).toBe(1);
    expect(apic.testVector(APIC_IRR, 0x41)).toBe(true);
    expect(apic.testVector(APIC_TMR, 0x41)).toBe(true);
    expect(apic.accept(APIC_DM_FIXED, 0x41, true, false)).toBe(1);
    expect(apic.testVector(APIC_TMR, 0x41)).toBe(false);
    expect(apic.irrCount).toBe(1);
    expect(kicks.length).toBe(2);
  });
  it('a level-triggered request with level=0 is ignored', () => {
    const { apic } = mk();
    enable(apic);
    expect(apic.accept(APIC_DM_FIXED, 0x41, false, true)).toBe(0);
  });
  it('NMI, INIT, SIPI are accepted as events; SMI is refused without SMM; ExtINT is not accepted here', () => {
    const { apic } = mk();
    expect(apic.accept(APIC_DM_NMI, 0, true, false)).toBe(1);
    expect(apic.nmiPending).toBe(1);
    expect(apic.accept(APIC_DM_INIT, 0, true, false)).toBe(1);
    expect(apic.accept(APIC_DM_STARTUP, 0x9a, true, false)).toBe(1);
    expect(apic.pendingEvents).toBe(3);
    expect(apic.sipiVector).toBe(0x9a);
    expect(apic.accept(APIC_DM_SMI, 0, true, false)).toBe(0);
    expect(apic.accept(APIC_DM_EXTINT, 0, true, false)).toBe(0);
  });
});

describe('priority, dispatch and EOI', () => {
  it('PPR = TPR when TPR class >= ISR class, else the ISR class; IRR above PPR is deliverable', () => {
    const { apic } = mk();
    enable(apic);
    apic.accept(APIC_DM_FIXED, 0x35, true, false);
    apic.mmioWrite(APIC_TASKPRI, 4, 0x40);
    expect(apic.pendingVector()).toBe(-1);
    expect(apic.readReg(APIC_PROCPRI)).toBe(0x40);
    apic.mmioWrite(APIC_TASKPRI, 4, 0x20);
    expect(apic.pendingVector()).toBe(0x35);
    expect(apic.ackInterrupt()).toBe(0x35);
    expect(apic.testVector(APIC_ISR, 0x35)).toBe(true);
    expect(apic.readReg(APIC_PROCPRI)).toBe(0x30);
    apic.accept(APIC_DM_FIXED, 0x3f, true, false);
    expect(apic.pendingVector()).toBe(-1);
    apic.accept(APIC_DM_FIXED, 0x41, true, false);
    expect(apic.ackInterrupt()).toBe(0x41);
  });
  it('EOI clears the highest ISR vector and reports its TMR bit; EOI with an empty ISR is ignored', () => {
    const { apic, eois } = mk();
    enable(apic);
    apic.accept(APIC_DM_FIXED, 0x50, true, true);
    apic.ackInterrupt();
    apic.accept(APIC_DM_FIXED, 0x60, true, false);
    apic.ackInterrupt();
    apic.mmioWrite(APIC_EOI, 4, 0);
    apic.mmioWrite(APIC_EOI, 4, 0);
    apic.mmioWrite(APIC_EOI, 4, 0);
    expect(eois).toEqual([[0x60, false], [0x50, true]]);
    expect(apic.isrCount).toBe(0);
  });
  it('lowering TPR below a pending vector kicks the vCPU (apic_update_ppr)', () => {
    const { apic, kicks } = mk();
    enable(apic);
    apic.mmioWrite(APIC_TASKPRI, 4, 0xf0);
    apic.accept(APIC_DM_FIXED, 0x80, true, false);
    const before = kicks.length;
    apic.mmioWrite(APIC_TASKPRI, 4, 0);
    expect(kicks.length).toBe(before + 1);
  });
});

describe('register writes (kvm_lapic_reg_write)', () => {
  it('software disable masks every LVT, and LVT writes while disabled stay masked', () => {
    const { apic } = mk();
    enable(apic);
    apic.mmioWrite(APIC_LVT1, 4, 0x400);
    expect(apic.readReg(APIC_LVT1)).toBe(0x400);
    apic.mmioWrite(APIC_SPIV, 4, 0xff);
    expect(apic.readReg(APIC_LVT1)).toBe(0x10400);
    expect(apic.readReg(APIC_LVT0)).toBe(0x10700);
    apic.mmioWrite(APIC_LVT1, 4, 0x400);
    expect(apic.readReg(APIC_LVT1)).toBe(0x10400);
  });
  it('only aligned 32-bit writes reach registers; DFR keeps bits 27:0 set; LDR keeps bits 31:24', () => {
    const { apic } = mk();
    apic.mmioWrite(APIC_TASKPRI, 2, 0x80);
    expect(apic.tpr).toBe(0);
    apic.mmioWrite(APIC_DFR, 4, 0);
    expect(apic.readReg(APIC_DFR)).toBe(0x0fffffff);
    apic.mmioWrite(APIC_LDR, 4, 0x12345678);
    expect(apic.readReg(APIC_LDR)).toBe(0x12000000);
  });
  it('sub-dword reads return the register bytes; the EOI register and dword-crossing reads give no data (-1)', () => {
    // lapic.c kvm_lapic_reg_read() refuses them and apic_mmio_read() writes nothing (KvmVcpu.read then
    // hands the guest the emulator's read cache).
    const { apic } = mk(3);
    expect(apic.mmioRead(APIC_ID + 3, 1)).toBe(3);
    expect(apic.mmioRead(APIC_EOI, 4)).toBe(-1);
    expect(apic.mmioRead(APIC_ID + 2, 4)).toBe(-1);
  });
  it('a hardware-disabled APIC reads all ones and ignores writes (LAPIC_MMIO_HOLE quirk)', () => {
    const { apic } = mk();
    apic.setApicBase(0xfee00000);
    expect(apic.mmioRead(APIC_ID, 4)).toBe(0xffffffff);
    apic.mmioWrite(APIC_SPIV, 4, 0x1ff);
    apic.setApicBase(0xfee00900);
    expect(apic.swEnabled).toBe(false);
  });
  it('writing ICR sends the IPI it describes', () => {
    const { apic, ipis } = mk();
    apic.mmioWrite(APIC_ICR2, 4, 0x03000000);
    apic.mmioWrite(APIC_ICR, 4, 0x4000 | APIC_DEST_LOGICAL | 0x61);
    expect(ipis).toHaveLength(1);
    expect(ipis[0]).toMatchObject({ vector: 0x61, destId: 3, destMode: APIC_DEST_LOGICAL, level: true, trigMode: 0 });
  });
});

describe('destination matching (kvm_apic_match_physical_addr / _logical_addr)', () => {
  it('physical: own ID or 0xff', () => {
    const { apic } = mk(2);
    expect(apic.matchPhysical(2)).toBe(true);
    expect(apic.matchPhysical(0xff)).toBe(true);
    expect(apic.matchPhysical(1)).toBe(false);
  });
  it('logical flat: LDR bit mask intersects the destination', () => {
    const { apic } = mk();
    apic.mmioWrite(APIC_LDR, 4, 0x04000000);
    expect(apic.matchLogical(0x04)).toBe(true);
    expect(apic.matchLogical(0x0c)).toBe(true);
    expect(apic.matchLogical(0x02)).toBe(false);
  });
  it('logical cluster: same cluster nibble and intersecting member mask', () => {
    const { apic } = mk();
    apic.mmioWrite(APIC_DFR, 4, 0x0fffffff);
    apic.mmioWrite(APIC_LDR, 4, 0x21000000);
    expect(apic.matchLogical(0x21)).toBe(true);
    expect(apic.matchLogical(0x23)).toBe(true);
    expect(apic.matchLogical(0x11)).toBe(false);
  });
});

describe('KVM_GET_LAPIC / KVM_SET_LAPIC state', () => {
  it('round-trips IRR/ISR/TMR and recomputes counts and PPR, keeping the version register', () => {
    const { apic } = mk();
    enable(apic);
    apic.accept(APIC_DM_FIXED, 0x70, true, true);
    apic.ackInterrupt();
    apic.accept(APIC_DM_FIXED, 0x90, true, false);
    const page = new Uint8Array(0x400);
    apic.getState(page);
    const other = mk().apic;
    page[APIC_LVR] = 0x99;
    other.setState(page);
    expect(other.vectors(APIC_ISR)).toEqual([0x70]);
    expect(other.vectors(APIC_IRR)).toEqual([0x90]);
    expect(other.vectors(APIC_TMR)).toEqual([0x70]);
    expect(other.readReg(APIC_LVR)).toBe(0x00050014);
    expect(other.ppr).toBe(0x70);
    expect(other.pendingVector()).toBe(0x90);
  });
});
