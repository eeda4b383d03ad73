// The VT-d interrupt-remapping hardware (VT-d spec 3.x 5.1, 9.10-9.12; reference xen.md 2.4, 3.2):
// remappable-format decode, remapped delivery, the posting rule (atomic PIR set; ON/SN/URG decide the
// notification; ON untouched when suppressed), IEC staleness until invalidation, and faults.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { setU32 } from '../../../../abi/bytes.js';
import { PhysMemory } from '../../../../src/hw/memory.js';
import { ApicBus } from '../../../../src/hw/x86/apic-bus.js';
import { DrhdUnit, IR_FAULT_COMPAT_BLOCKED, IR_FAULT_INDEX_OUT_OF_RANGE, IR_FAULT_NOT_PRESENT, IR_FAULT_SID_MISMATCH } from '../../../../src/hw/iommu/vtd/drhd.js';
import { IRTE_IM, IRTE_P, IRTE_SQ_SHIFT, IRTE_URG, SVT_VERIFY_BUS, SVT_VERIFY_SID_SQ } from '../../../../src/hw/iommu/vtd/irte.js';
import { msiHandle, msiInterruptIndex, remappableMsiAddress } from '../../../../src/hw/iommu/vtd/msi-format.js';
import { PiDesc } from '../../../../src/hw/iommu/vtd/pi-desc.js';
import { DMA_GCMD_CFI, DMA_GCMD_IRE, DMA_GCMD_QIE, DMA_GCMD_SIRTP, IRTA_EIME, cap_intr_post, ecap_intr_remap, ecap_queued_inval } from '../../../../src/hw/iommu/vtd/regs.js';
import { Scheduler } from '../../../../src/sim/scheduler.js';
import { TraceBus } from '../../../../src/sim/trace.js';
import { msiAddress, msiData } from '../../../../src/hw/x86/msi.js';

function unit(eime = true) {
  const mem = new PhysMemory();
  const bus = new ApicBus();
  const got: [number, number][] = [];
  for (const id of [0, 2, 4]) bus.attach({ apicId: id, accept: (v) => got.push([id, v]) });
  const u = new DrhdUnit(0, {}, mem, bus, new Scheduler(), new TraceBus());
  const irt = mem.alloc(256 * 16, 4096);
  u.writeGcmd(DMA_GCMD_QIE);
  u.writeIrta(irt.addr | (eime ? IRTA_EIME : 0) | 7);
  u.writeGcmd(DMA_GCMD_QIE | DMA_GCMD_SIRTP);
  u.writeGcmd(DMA_GCMD_QIE | DMA_GCMD_IRE);
  const pd = mem.alloc(64, 64);
  const write = (i: number, w: number[]) => w.forEach((x, k) => setU32(irt.bytes, i * 16 + k * 4, x >>> 0));
  return { u, mem, got, irt, pd, desc: new PiDesc(pd.bytes), write };
}

const SID = 0x0100;
const posted = (vector: number, pda: number, urg = false) => [IRTE_P | IRTE_IM | (urg ? IRTE_URG : 0) | (vector << 16), pda & 0xffffffc0, SID | (SVT_VERIFY_SID_SQ << 18), Math.floor(pda / 2 ** 32)];
const remapped = (vector: number, dst: number) => [IRTE_P | (vector << 16), dst, SID | (SVT_VERIFY_SID_SQ << 18), 0];

describe('registers', () => {
  it('CAP bit 59 (posted interrupts), ECAP bit 3 (IR) and bit 1 (QI) as a description asks', () => {
    const all = new DrhdUnit(0, {}, new PhysMemory(), new ApicBus(), new Scheduler(), new TraceBus());
    expect([cap_intr_post(all.cap), ecap_intr_remap(all.ecap), ecap_queued_inval(all.ecap)]).toEqual([true, true, true]);
    expect((all.cap >> 59n) & 1n).toBe(1n);
    const none = new DrhdUnit(0, { postedInterrupts: false, interruptRemapping: false, queuedInvalidation: false }, new PhysMemory(), new ApicBus(), new Scheduler(), new TraceBus());
    expect([cap_intr_post(none.cap), ecap_intr_remap(none.ecap), ecap_queued_inval(none.ecap)]).toEqual([false, false, false]);
  });
});

describe('remappable-format MSI (vtd/vtd.h:53-69)', () => {
  it('handle round-trips through the address; SHV adds the sub-handle from data', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }), (i, sub) => {
        const a = remappableMsiAddress(i);
        expect((a & 0xfff00000) >>> 0).toBe(0xfee00000);
        expect(a & 0x18).toBe(0x18); // format = 1, SHV = 1
        expect(msiHandle(a)).toBe(i);
        expect(msiInterruptIndex(a, sub)).toBe((i + sub) & 0xffff);
        expect(msiInterruptIndex(a & ~0x8, sub)).toBe(i); // SHV = 0: data ignored
      }),
    );
  });
});

describe('posting (reference xen.md 2.4)', () => {
  it('ON=0 and SN=0: PIR set, ON set, one notification NV -> NDST (x2APIC: 32-bit NDST)', () => {
    const t = unit();
    t.write(5, posted(0x41, t.pd.addr));
    t.desc.setNv(0xf1);
    t.desc.setNdst(4);
    t.u.deliverMsi(SID, remappableMsiAddress(5), 0, 0);
    expect(t.desc.pirVectors()).toEqual([0x41]);
    expect(t.desc.on).toBe(true);
    expect(t.got).toEqual([[4, 0xf1]]);
  });

  it('xAPIC mode reads the destination from NDST[15:8]', () => {
    const t = unit(false);
    t.write(5, posted(0x41, t.pd.addr));
    t.desc.setNv(0xf2);
    t.desc.setNdst(2 << 8);
    t.u.deliverMsi(SID, remappableMsiAddress(5), 0, 0);
    expect(t.got).toEqual([[2, 0xf2]]);
  });

  it('ON=1, or SN=1 without URG: PIR only; ON unchanged (PIR can be non-empty with ON=0); URG overrides SN', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 16, max: 255 }), (on, sn, urg, vec) => {
        const t = unit();
        t.write(1, posted(vec, t.pd.addr, urg));
        t.desc.setNv(0xf1);
        t.desc.setNdst(0);
        if (on) t.desc.setOn();
        if (sn) t.desc.setSn();
        t.u.deliverMsi(SID, remappableMsiAddress(1), 0, 0);
        const notify = !on && (urg || !sn);
        expect(t.desc.testPir(vec)).toBe(true);
        expect(t.desc.on).toBe(on || notify);
        expect(t.got.length).toBe(notify ? 1 : 0);
        expect(t.desc.sn).toBe(sn);
      }),
    );
  });

  it('remapped entries deliver the host vector to DST', () => {
    const t = unit();
    t.write(3, remapped(0x30, 2));
    t.u.deliverMsi(SID, remappableMsiAddress(3), 0, 0);
    expect(t.got).toEqual([[2, 0x30]]);
  });
});

describe('interrupt entry cache (the IRTE change takes effect after the IEC flush, intremap.c:603-605)', () => {
  it('a rewritten entry is not seen until its index is invalidated', () => {
    const t = unit();
    t.write(7, remapped(0x30, 0));
    t.u.deliverMsi(SID, remappableMsiAddress(7), 0, 0);
    t.write(7, remapped(0x31, 4));
    t.u.deliverMsi(SID, remappableMsiAddress(7), 0, 0);
    t.u.invalidateIec(false, 7);
    t.u.deliverMsi(SID, remappableMsiAddress(7), 0, 0);
    expect(t.got).toEqual([[0, 0x30], [0, 0x30], [4, 0x31]]);
  });
});

describe('faults', () => {
  it('not present, index beyond the table, wrong requester (SVT=1, SQ=0), compatibility format while IR is on', () => {
    const t = unit();
    t.write(2, remapped(0x30, 0));
    t.u.deliverMsi(SID, remappableMsiAddress(9), 0, 0);
    t.u.deliverMsi(SID, remappableMsiAddress(300), 0, 0);
    t.u.deliverMsi(0x0200, remappableMsiAddress(2), 0, 0);
    t.u.deliverMsi(SID, msiAddress(0), 0, msiData(0x30));
    expect(t.u.faults.map((f) => f.reason)).toEqual([IR_FAULT_NOT_PRESENT, IR_FAULT_INDEX_OUT_OF_RANGE, IR_FAULT_SID_MISMATCH, IR_FAULT_COMPAT_BLOCKED]);
    expect(t.got).toEqual([]);
  });

  it('source validation (9.10): SVT=01b with SQ ignoring function bits, SVT=10b a requester bus range, SVT=00b none, SVT=11b (reserved) nothing', () => {
    const t = unit();
    const entry = (svt: number, sq: number, sid: number) => [IRTE_P | (0x30 << 16), 2, (sid | (sq << IRTE_SQ_SHIFT) | (svt << 18)) >>> 0, 0];
    const cases: [number[], number, boolean][] = [
      [entry(SVT_VERIFY_SID_SQ, 0, 0x0218), 0x0218, true],
      [entry(SVT_VERIFY_SID_SQ, 0, 0x0218), 0x0219, false],
      [entry(SVT_VERIFY_SID_SQ, 1, 0x0218), 0x021c, true], // SQ=01b: bit 2 ignored
      [entry(SVT_VERIFY_SID_SQ, 1, 0x0218), 0x0219, false],
      [entry(SVT_VERIFY_SID_SQ, 3, 0x0218), 0x021f, true], // SQ=11b: bits 2:0 ignored
      [entry(SVT_VERIFY_BUS, 0, 0x0305), 0x0300, true], // buses 3..5
      [entry(SVT_VERIFY_BUS, 0, 0x0305), 0x05f8, true],
      [entry(SVT_VERIFY_BUS, 0, 0x0305), 0x0200, false],
      [entry(SVT_VERIFY_BUS, 0, 0x0305), 0x0600, false],
      [entry(0, 0, 0x0218), 0x7700, true],
      [entry(3, 0, 0x0218), 0x0218, false],
    ];
    cases.forEach(([e, rid, ok], i) => {
      t.write(i, e);
      t.got.length = 0;
      const faults = t.u.faults.length;
      t.u.deliverMsi(rid, remappableMsiAddress(i), 0, 0);
      expect({ i, delivered: t.got.length === 1, fault: t.u.faults.length > faults }).toEqual({ i, delivered: ok, fault: !ok });
    });
    expect(t.u.faults.every((f) => f.reason === IR_FAULT_SID_MISMATCH)).toBe(true);
  });

  it('compatibility format (5.1.4): passed through with IR off, and with IR on only when CFI is set and EIME is not (x2APIC mode blocks it)', () => {
    const compat = msiAddress(2);
    const got: number[] = [];
    const bus = new ApicBus();
    bus.attach({ apicId: 2, accept: (v) => got.push(v) });
    const plain = new DrhdUnit(0, {}, new PhysMemory(), bus, new Scheduler(), new TraceBus());
    plain.deliverMsi(SID, compat, 0, msiData(0x41));
    expect(got).toEqual([0x41]);
    expect(plain.faults).toEqual([]);
    for (const eime of [false, true]) {
      const t = unit(eime);
      t.u.writeGcmd(DMA_GCMD_QIE | DMA_GCMD_IRE | DMA_GCMD_CFI);
      t.u.deliverMsi(SID, compat, 0, msiData(0x42));
      expect(t.got).toEqual(eime ? [] : [[2, 0x42]]);
      expect(t.u.faults.map((f) => f.reason)).toEqual(eime ? [IR_FAULT_COMPAT_BLOCKED] : []);
    }
  });
});
