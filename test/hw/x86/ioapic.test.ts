// The 82093AA model against arch/x86/kvm/ioapic.c (ioapic_set_irq, ioapic_service,
// ioapic_write_indirect, ioapic_read_indirect, kvm_ioapic_update_eoi_one) with stub hooks.
import { describe, expect, it } from 'vitest';
import { Ioapic, IOAPIC_RTE_LEVEL, IOAPIC_RTE_MASK, IOAPIC_RTE_REMOTE_IRR, type IoapicHooks } from '../../../src/hw/x86/ioapic.js';
import type { ApicIrq } from '../../../src/hw/x86/apic-irq.js';
import { Scheduler } from '../../../src/sim/scheduler.js';
import { TraceBus } from '../../../src/sim/trace.js';

interface Stub {
  io: Ioapic;
  delivered: { pin: number; vector: number; trig: number; dest: number; logical: number }[];
  acks: number[];
  masks: [number, boolean][];
  accept: number;
  resample: boolean;
  eoiDone: [number, boolean][];
}

function mk(version?: number): Stub {
  const s: Partial<Stub> = { delivered: [], acks: [], masks: [], accept: 1, resample: false, eoiDone: [] };
  const hooks: IoapicHooks = {
    deliver: (irq: ApicIrq, pin) => {
      s.delivered!.push({ pin, vector: irq.vector, trig: irq.trigMode, dest: irq.destId, logical: irq.destMode });
      return s.accept!;
    },
    coalesced: () => false,
    ack: (pin) => s.acks!.push(pin),
    maskChanged: (pin, m) => s.masks!.push([pin, m]),
    resampleOnUnmask: () => s.resample!,
    eoiDone: (pin, pending) => {
      s.eoiDone!.push([pin, pending]);
      if (pending) s.io!.service(pin, false);
    },
  };
  s.io = new Ioapic(hooks, { sched: new Scheduler(), trace: new TraceBus() }, version);
  return s as Stub;
}

const sel = (io: Ioapic, idx: number): void => io.mmioWrite(0x00, 4, idx);
const win = (io: Ioapic, v: number): void => io.mmioWrite(0x10, 4, v);
const rd = (io: Ioapic, idx: number): number => {
  sel(io, idx);
  return io.mmioRead(0x10, 4);
};
const program = (io: Ioapic, pin: number, lo: number, dest = 0): void => {
  sel(io, 0x11 + 2 * pin);
  win(io, dest << 24);
  sel(io, 0x10 + 2 * pin);
  win(io, lo);
};

describe('registers (ioapic_read_indirect)', () => {
  it('version 0x00170011, ID in bits 27:24, entries reset to 0x10000, past pin 23 all ones', () => {
    const { io } = mk();
    expect(rd(io, 1)).toBe(0x00170011);
    sel(io, 0);
    win(io, 0x0a000000);
    expect(rd(io, 0)).toBe(0x0a000000);
    expect(rd(io, 2)).toBe(0x0a000000);
    expect(rd(io, 0x10)).toBe(0x10000);
    expect(rd(io, 0x11)).toBe(0);
    expect(rd(io, 0x10 + 48)).toBe(0xffffffff);
    expect(io.mmioRead(0x00, 4)).toBe(0x10 + 48);
  });
  it('a version 0x20 part (Intel PCH IOxAPIC) reads 0x00170020; its EOI register (+0x40) clears remote IRR of every entry with the vector and re-fires a line still high', () => {
    const s = mk(0x20);
    expect(rd(s.io, 1)).toBe(0x00170020);
    program(s.io, 3, 0x8000 | 0x30);
    program(s.io, 5, 0x8000 | 0x30);
    program(s.io, 7, 0x8000 | 0x31);
    s.io.setIrq(3, true, false);
    s.io.setIrq(5, true, false);
    s.io.setIrq(7, true, false);
    s.io.setIrq(5, false, false);
    expect(s.delivered.map((d) => d.pin)).toEqual([3, 5, 7]);
    s.io.mmioWrite(0x40, 4, 0x30);
    expect([s.io.remoteIrr(3), s.io.remoteIrr(5), s.io.remoteIrr(7)]).toEqual([true, false, true]);
    // Pin 3's line is still high: it fired again (remote IRR set anew); pin 5's is low.
    expect(s.eoiDone).toEqual([[3, true], [5, false]]);
    expect(s.delivered.map((d) => d.pin)).toEqual([3, 5, 7, 3]);
  });
  it('the EOI register clears remote IRR of a masked entry too, which does not fire while masked; it is write-only and takes the low byte', () => {
    // Intel PCH/ICH IOxAPIC EOI register (offset 40h, bits 7:0, WO): every entry whose vector matches
    // has Remote_IRR cleared; an entry then resamples its input and sends again only if unmasked.
    const s = mk(0x20);
    program(s.io, 4, 0x8000 | 0x33);
    s.io.setIrq(4, true, false);
    program(s.io, 4, 0x8000 | IOAPIC_RTE_MASK | 0x33);
    expect(s.io.remoteIrr(4)).toBe(true);
    expect(s.io.mmioRead(0x40, 4)).toBe(0);
    s.io.mmioWrite(0x40, 4, 0x1233);
    expect(s.io.remoteIrr(4)).toBe(false);
    expect(s.eoiDone).toEqual([[4, false]]);
    expect(s.delivered.map((d) => d.pin)).toEqual([4]);
    // Unmasked with the line still high: it fires (the ordinary unmask rule).
    program(s.io, 4, 0x8000 | 0x33);
    expect(s.delivered.map((d) => d.pin)).toEqual([4, 4]);
  });
  it("KVM's version 0x11 has no EOI register: a write at +0x40 changes nothing", () => {
    const s = mk();
    program(s.io, 3, 0x8000 | 0x30);
    s.io.setIrq(3, true, false);
    s.io.mmioWrite(0x40, 4, 0x30);
    expect(s.io.remoteIrr(3)).toBe(true);
    expect(s.eoiDone).toEqual([]);
  });
  it('remote IRR and delivery status are read-only; writing an entry edge-triggered clears remote IRR', () => {
    const s = mk();
    program(s.io, 3, 0x8000 | 0x30);
    s.io.setIrq(3, true, false);
    expect(s.io.remoteIrr(3)).toBe(true);
    sel(s.io, 0x16);
    win(s.io, 0x8000 | 0x30);
    expect(s.io.remoteIrr(3)).toBe(true);
    win(s.io, 0x30);
    expect(s.io.remoteIrr(3)).toBe(false);
  });
});

describe('lines (ioapic_set_irq / ioapic_service)', () => {
  it('edge: delivered once, re-assert while latched is coalesced (0), de-assert returns 1', () => {
    const s = mk();
    program(s.io, 1, 0x31);
    expect(s.io.setIrq(1, true, false)).toBe(1);
    expect(s.io.setIrq(1, true, false)).toBe(0);
    expect(s.io.setIrq(1, false, false)).toBe(1);
    expect(s.io.setIrq(1, true, false)).toBe(1);
    expect(s.delivered.map((d) => d.vector)).toEqual([0x31, 0x31]);
  });
  it('level: remote IRR set on delivery; a re-assert while remote IRR is set returns -1 and stays in irr', () => {
    const s = mk();
    program(s.io, 2, IOAPIC_RTE_LEVEL | 0x32, 1);
    expect(s.io.setIrq(2, true, false)).toBe(1);
    expect(s.delivered[0]).toMatchObject({ pin: 2, vector: 0x32, trig: 1, dest: 1 });
    expect(s.io.setIrq(2, true, false)).toBe(-1);
    expect(s.delivered).toHaveLength(1);
  });
  it('a masked pin latches irr and delivers nothing (-1)', () => {
    const s = mk();
    program(s.io, 4, IOAPIC_RTE_MASK | IOAPIC_RTE_LEVEL | 0x34);
    expect(s.io.setIrq(4, true, false)).toBe(-1);
    expect(s.io.irr & (1 << 4)).toBeTruthy();
    expect(s.delivered).toHaveLength(0);
  });
  it('a level delivery nobody accepted (0) leaves remote IRR clear; -1 (no APIC) sets it', () => {
    const s = mk();
    program(s.io, 5, IOAPIC_RTE_LEVEL | 0x35);
    s.accept = 0;
    s.io.setIrq(5, true, false);
    expect(s.io.remoteIrr(5)).toBe(false);
    s.accept = -1;
    s.io.setIrq(5, true, false);
    expect(s.io.remoteIrr(5)).toBe(true);
  });
});

describe('EOI (kvm_ioapic_update_eoi_one)', () => {
  it('runs the ack hook before clearing remote IRR, then re-delivers if the line is still high', () => {
    const s = mk();
    program(s.io, 6, IOAPIC_RTE_LEVEL | 0x36);
    s.io.setIrq(6, true, false);
    const seen: boolean[] = [];
    const ack = s.io.hooks.ack;
    (s.io.hooks as { ack: (p: number) => void }).ack = (p) => {
      seen.push(s.io.remoteIrr(p));
      ack(p);
    };
    s.io.eoi(0x36, true, false);
    expect(seen).toEqual([true]);
    expect(s.eoiDone).toEqual([[6, true]]);
    expect(s.delivered).toHaveLength(2);
    expect(s.io.remoteIrr(6)).toBe(true);
  });
  it('an edge EOI or a directed-EOI LAPIC does not touch remote IRR, but the ack hook still runs', () => {
    const s = mk();
    program(s.io, 7, IOAPIC_RTE_LEVEL | 0x37);
    s.io.setIrq(7, true, false);
    s.io.eoi(0x37, false, false);
    s.io.eoi(0x37, true, true);
    expect(s.acks).toEqual([7, 7]);
    expect(s.io.remoteIrr(7)).toBe(true);
  });
  it('every pin with the vector is acked', () => {
    const s = mk();
    program(s.io, 8, IOAPIC_RTE_LEVEL | 0x38);
    program(s.io, 9, IOAPIC_RTE_LEVEL | 0x38);
    s.io.eoi(0x38, true, false);
    expect(s.acks).toEqual([8, 9]);
  });
  it('the vector is read from each entry as the EOI reaches it: reprogrammed, restored and reset entries', () => {
    // kvm_ioapic_update_eoi() tests every pin's current vector in pin order, so an ack hook that
    // reprograms a later pin decides whether that pin is acked.
    const s = mk();
    program(s.io, 3, IOAPIC_RTE_LEVEL | 0x40);
    program(s.io, 12, IOAPIC_RTE_LEVEL | 0x40);
    program(s.io, 20, IOAPIC_RTE_LEVEL | 0x41);
    program(s.io, 12, IOAPIC_RTE_LEVEL | 0x42);
    s.io.eoi(0x40, true, false);
    expect(s.acks).toEqual([3]);
    const ack = s.io.hooks.ack;
    (s.io.hooks as { ack: (p: number) => void }).ack = (p) => {
      ack(p);
      if (p === 3) program(s.io, 20, IOAPIC_RTE_LEVEL | 0x40);
      if (p === 20) program(s.io, 12, IOAPIC_RTE_LEVEL | 0x40);
    };
    s.acks.length = 0;
    s.io.eoi(0x40, true, false);
    expect(s.acks).toEqual([3, 20]);
    // kvm_set_ioapic() replaces every entry; kvm_ioapic_reset() keeps them (vector 0 after power-on).
    const lo = new Array<number>(24).fill(IOAPIC_RTE_MASK);
    lo[5] = IOAPIC_RTE_LEVEL | 0x40;
    s.io.setState(0xfec0_0000, 0, 0, 0, lo, new Array<number>(24).fill(0));
    s.acks.length = 0;
    s.io.eoi(0x40, true, false);
    expect(s.acks).toEqual([5]);
    const fresh = mk();
    fresh.io.eoi(0, true, false);
    expect(fresh.acks).toEqual([...Array(24).keys()]);
  });
});

describe('unmask with irr latched (ioapic_write_indirect, v6.3 fef8f2b90edb)', () => {
  it('no resampler: the pending request is injected at once', () => {
    const s = mk();
    program(s.io, 10, IOAPIC_RTE_MASK | IOAPIC_RTE_LEVEL | 0x3a);
    s.io.setIrq(10, true, false);
    sel(s.io, 0x10 + 20);
    win(s.io, IOAPIC_RTE_LEVEL | 0x3a);
    expect(s.masks).toEqual([[10, false]]);
    expect(s.delivered).toHaveLength(1);
  });
  it('resampler: irr is cleared and nothing is injected', () => {
    const s = mk();
    s.resample = true;
    program(s.io, 11, IOAPIC_RTE_MASK | IOAPIC_RTE_LEVEL | 0x3b);
    s.io.setIrq(11, true, false);
    sel(s.io, 0x10 + 22);
    win(s.io, IOAPIC_RTE_LEVEL | 0x3b);
    expect(s.delivered).toHaveLength(0);
    expect(s.io.irr & (1 << 11)).toBe(0);
    expect(s.io.lo[11]! & IOAPIC_RTE_REMOTE_IRR).toBe(0);
  });
});

describe('state (kvm_get_ioapic / kvm_set_ioapic)', () => {
  it('GET hides delivered edge requests; SET re-injects irr', () => {
    const s = mk();
    program(s.io, 1, 0x31);
    program(s.io, 2, IOAPIC_RTE_LEVEL | 0x32);
    s.io.setIrq(1, true, false);
    s.io.setIrq(2, true, false);
    const st = s.io.getState();
    expect(st.irr).toBe(1 << 2);
    const t = mk();
    const lo = Array.from(st.lo);
    lo[2] = lo[2]! & ~IOAPIC_RTE_REMOTE_IRR;
    t.io.setState(st.baseAddress, st.ioregsel, st.id, st.irr | (1 << 1), lo, st.hi);
    expect(t.delivered.map((d) => d.pin)).toEqual([1, 2]);
  });
});
