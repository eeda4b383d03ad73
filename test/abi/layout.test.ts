// Views and plain-object codecs over the layout engine (abi/layout.ts): zero-copy get/set by field
// name, nested and anonymous members, unions, flexible arrays, GCC little-endian bitfields.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { anon, array, bits, flex, s32, s8, struct, u16, u32, u64, u8, union } from '../../abi/layout.js';

// Shapes of real uapi structs, so the tests read like the ABI.
const kvm_irq_level = struct('kvm_irq_level', { u: anon(union('', { irq: u32, status: s32 })), level: u32 });
const vfio_irq_set = struct('vfio_irq_set', { argsz: u32, flags: u32, index: u32, start: u32, count: u32, data: flex(u8) });
const routing_entry = struct('kvm_irq_routing_entry', {
  gsi: u32, type: u32, flags: u32, pad: u32,
  u: union('', { irqchip: struct('kvm_irq_routing_irqchip', { irqchip: u32, pin: u32 }), msi: struct('kvm_irq_routing_msi', { address_lo: u32, address_hi: u32, data: u32, devid: u32 }), pad: array(u32, 8) }),
});
const routing = struct('kvm_irq_routing', { nr: u32, flags: u32, entries: flex(routing_entry, 'nr') });
// The IOAPIC redirection entry of asm/kvm.h: bitfields in u8 units.
const redir = struct('redir', {
  vector: u8, delivery_mode: bits(u8, 3), dest_mode: bits(u8, 1), delivery_status: bits(u8, 1), polarity: bits(u8, 1), remote_irr: bits(u8, 1), trig_mode: bits(u8, 1),
  mask: bits(u8, 1), reserve: bits(u8, 7), reserved: array(u8, 4), dest_id: u8,
});

describe('layout views', () => {
  it('computes the kernel sizes and offsets', () => {
    expect(kvm_irq_level.size).toBe(8);
    expect(vfio_irq_set.size).toBe(20);
    expect(vfio_irq_set.offsetof('data')).toBe(20);
    expect(routing_entry.size).toBe(48);
    expect(routing_entry.offsetof('u.msi.data')).toBe(24);
    expect(routing.offsetof('entries')).toBe(8);
    expect(redir.size).toBe(8);
    expect(vfio_irq_set.offsetofend('count')).toBe(20);
  });

  it('reads and writes fields in place, without copying', () => {
    const buf = new Uint8Array(32);
    const v = vfio_irq_set.view(buf, 4);
    v.argsz = 28;
    v.count = 2;
    expect(buf[4]).toBe(28);
    expect(buf[20]).toBe(2);
    buf[8] = 0x24;
    expect(v.flags).toBe(0x24);
    expect(v.data.length).toBe(8);
    v.data.set(0, 7);
    expect(buf[24]).toBe(7);
    expect(v.bytes.byteOffset).toBe(4);
  });

  it('lifts anonymous union members and keeps named unions nested', () => {
    const v = kvm_irq_level.alloc();
    v.status = -1;
    expect(v.irq).toBe(0xffffffff);
    const e = routing_entry.alloc();
    e.u.msi.address_lo = 0xfee00000;
    expect(e.u.irqchip.irqchip).toBe(0xfee00000);
  });

  it('places GCC bitfields least significant bit first', () => {
    const r = redir.alloc();
    r.vector = 0x31;
    r.trig_mode = 1;
    r.mask = 1;
    r.dest_id = 0xff;
    // vector in bits 7:0, trigger bit 15, mask bit 16, dest 63:56: the IOAPIC's own format.
    const lo = new DataView(r.bytes.buffer).getUint32(0, true);
    expect(lo).toBe(0x31 | (1 << 15) | (1 << 16));
    expect(r.bytes[7]).toBe(0xff);
    r.delivery_mode = 9; // wider than 3 bits: truncated to 1, as C truncates on store
    expect(r.delivery_mode).toBe(1);
  });

  it('decodes flexible arrays by their count field', () => {
    const bytes = routing.encode({ nr: 2, entries: [{ gsi: 5, type: 2, u: { msi: { address_lo: 0xfee00000, data: 0x41 } } }, { gsi: 6, type: 1, u: { irqchip: { irqchip: 2, pin: 6 } } }] });
    expect(bytes.length).toBe(8 + 2 * 48);
    const d = routing.decode(bytes);
    expect(d.entries.length).toBe(2);
    expect(d.entries[0]!.u.msi.data).toBe(0x41);
    expect(d.entries[1]!.u.irqchip.pin).toBe(6);
  });

  it('rejects a flexible array that is not last, or has no named member before it', () => {
    expect(() => struct('bad', { a: flex(u8), b: u32 })).toThrow(/last member/);
    expect(() => struct('bad2', { data: flex(u8) })).toThrow(/named member/);
  });

  it('round-trips plain objects through bytes (property)', () => {
    const rec = struct('mixed', { a: u8, b: u64, c: s8, d: array(u16, 3), e: bits(u32, 5), f: bits(u32, 27), g: s32 });
    fc.assert(
      fc.property(
        fc.record({
          a: fc.integer({ min: 0, max: 255 }), b: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), c: fc.integer({ min: -128, max: 127 }),
          d: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 3, maxLength: 3 }), e: fc.integer({ min: 0, max: 31 }),
          f: fc.integer({ min: 0, max: 2 ** 27 - 1 }), g: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        }),
        (v) => {
          const bytes = rec.encode(v);
          expect(bytes.length).toBe(rec.size);
          expect(rec.decode(bytes)).toEqual(v);
          const view = rec.view(bytes);
          expect([view.a, view.b, view.c, view.d.toArray(), view.e, view.f, view.g]).toEqual([v.a, v.b, v.c, v.d, v.e, v.f, v.g]);
        },
      ),
    );
  });

  it('writes through a view are exactly what encode produces (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: -1, max: 5 }), (argsz, flags, idx) => {
        const v = vfio_irq_set.alloc(4);
        v.argsz = argsz;
        v.flags = flags;
        v.index = idx;
        const enc = vfio_irq_set.encode({ argsz, flags, index: idx, data: [0, 0, 0, 0] });
        expect([...v.bytes]).toEqual([...enc]);
      }),
    );
  });
});
