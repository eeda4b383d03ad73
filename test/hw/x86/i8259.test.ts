// The 8259 pair against arch/x86/kvm/i8259.c: pic_set_irq1's return values (the KVM_IRQ_LINE_STATUS
// numbers of reference §2.4), initialization words, EOI commands with ack hooks, INTA.
import { describe, expect, it } from 'vitest';
import { PicPair, type PicHooks } from '../../../src/hw/x86/i8259.js';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { TraceBus } from '../../../src/sim/trace.js';

function mk(): { pic: PicPair; acks: number[]; wakes: number[]; masks: [number, boolean][] } {
  const acks: number[] = [];
  const wakes: number[] = [];
  const masks: [number, boolean][] = [];
  const hooks: PicHooks = { ack: (i) => acks.push(i), maskChanged: (i, m) => masks.push([i, m]), wakeup: () => wakes.push(1), anyCpuAcceptsPic: () => true };
  return { pic: new PicPair(hooks, { sched: new Scheduler(), trace: new TraceBus() }), acks, wakes, masks };
}

describe('KVM creation state', () => {
  it('IMR 0 (all unmasked), ELCR 0, ELCR masks 0xf8/0xde', () => {
    const { pic } = mk();
    const b = new Uint8Array(16);
    pic.pics[0].toBytes(b);
    expect(Array.from(b)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf8]);
    pic.pics[1].toBytes(b);
    expect(b[15]).toBe(0xde);
  });
});

describe('pic_set_irq1 return convention', () => {
  it('edge: rising 1, repeated high 1 (not re-latched), falling 1, rising while irr still latched 0', () => {
    const { pic } = mk();
    expect(pic.setIrq(4, true)).toBe(1);
    expect(pic.setIrq(4, true)).toBe(1);
    expect(pic.setIrq(4, false)).toBe(1);
    expect(pic.setIrq(4, true)).toBe(0);
  });
  it('a masked pin returns -1 but still latches', () => {
    const { pic } = mk();
    pic.pioWrite(0x21, 1, 0x10);
    expect(pic.setIrq(4, true)).toBe(-1);
    expect(pic.pics[0].irr & 0x10).toBeTruthy();
  });
  it('level (ELCR): re-assert while latched returns 0; de-assert clears irr', () => {
    const { pic } = mk();
    pic.pioWrite(0x4d0, 1, 0x20);
    expect(pic.pics[0].elcr).toBe(0x20);
    expect(pic.setIrq(5, true)).toBe(1);
    expect(pic.setIrq(5, true)).toBe(0);
    pic.setIrq(5, false);
    expect(pic.pics[0].irr & 0x20).toBe(0);
  });
});

describe('INTR, INTA and EOI', () => {
  it('an unmasked request raises INTR (wakeup once); INTA returns irq_base + pin and moves it to ISR', () => {
    const { pic, wakes } = mk();
    pic.pioWrite(0x20, 1, 0x11);
    pic.pioWrite(0x21, 1, 0x20);
    pic.pioWrite(0x21, 1, 0x04);
    pic.pioWrite(0x21, 1, 0x01);
    pic.setIrq(3, true);
    expect(pic.output).toBe(true);
    expect(wakes).toHaveLength(1);
    expect(pic.readIrq()).toBe(0x23);
    expect(pic.pics[0].isr).toBe(0x08);
    expect(pic.output).toBe(false);
  });
  it('non-specific EOI (OCW2 0x20) clears the highest ISR bit and runs the ack hook; slave pins ack as 8-15', () => {
    const { pic, acks } = mk();
    pic.setIrq(10, true);
    expect(pic.readIrq()).toBe(2); // slave irq_base is 0 until ICW2: vector = slave pin 2
    pic.pioWrite(0xa0, 1, 0x20);
    pic.pioWrite(0x20, 1, 0x20);
    expect(acks).toEqual([10, 2]);
  });
  it('OCW1 reports mask changes per pin', () => {
    const { pic, masks } = mk();
    pic.pioWrite(0xa1, 1, 0x03);
    expect(masks).toEqual([[8, true], [9, true]]);
  });
  it('non-byte accesses are ignored and read 0', () => {
    const { pic } = mk();
    pic.pioWrite(0x21, 2, 0xffff);
    expect(pic.pics[0].imr).toBe(0);
    expect(pic.pioRead(0x21, 2)).toBe(0);
  });
});
