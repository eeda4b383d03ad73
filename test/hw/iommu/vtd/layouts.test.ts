// The IRTE and the posted-interrupt descriptor, bit for bit. Xen's headers are not installed here, so
// the C declarations below are written from the header facts (xen/drivers/passthrough/vtd/iommu.h
// struct iremap_entry, xen/arch/x86/include/asm/hvm/vmx/vmcs.h struct pi_desc) and compiled by gcc; the
// TypeScript layouts must give the same sizes, alignments, offsets and bitfield positions. The hot-path
// word constants must agree with the layouts' views.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../../../support/runs.js';
import { gccAvailable, recordProbes, runProbe } from '../../../../abi/cprobe.js';
import {
  iremap_entry, IRTE_DLM_MASK, IRTE_DLM_SHIFT, IRTE_DM, IRTE_FPD, IRTE_IM, IRTE_P, IRTE_PDA_LO_MASK, IRTE_RH, IRTE_SQ_SHIFT, IRTE_SVT_SHIFT,
  IRTE_TM, IRTE_URG, IRTE_VECTOR_SHIFT, decodeIrte,
} from '../../../../src/hw/iommu/vtd/irte.js';
import { PI_CONTROL, PI_NDST, PI_NV, pi_desc, PiDesc } from '../../../../src/hw/iommu/vtd/pi-desc.js';
import { getU32 } from '../../../../abi/bytes.js';

const XEN_TYPES = 'typedef unsigned char u8; typedef unsigned short u16; typedef unsigned int u32; typedef unsigned long long u64;';

// vtd/iommu.h:288-330 (as of Xen 4.22).
const IREMAP_ENTRY_C = `${XEN_TYPES}
struct iremap_entry {
  union {
    __uint128_t val;
    struct { u64 lo, hi; };
    struct {
        u16 p       : 1, fpd : 1, dm : 1, rh : 1, tm : 1, dlm : 3, avail : 4, res_1 : 3, im : 1;
        u8  vector;
        u8  res_2;
        u32 dst;
        u16 sid;
        u16 sq      : 2, svt : 2, res_3 : 12;
        u32 res_4;
    } remap;
    struct {
        u16 p       : 1, fpd : 1, res_1 : 6, avail : 4, res_2 : 2, urg : 1, im : 1;
        u8  vector;
        u8  res_3;
        u32 res_4   : 6, pda_l : 26;
        u16 sid;
        u16 sq      : 2, svt : 2, res_5 : 12;
        u32 pda_h;
    } post;
  };
};`;

// vmcs.h:83-97: DECLARE_BITMAP(pir, X86_NR_VECTORS) is unsigned long[4] on x86-64.
const PI_DESC_C = `${XEN_TYPES}
struct pi_desc {
    unsigned long pir[4];
    union {
        struct {
            u16     on     : 1,
                    sn     : 1,
                    rsvd_1 : 14;
            u8      nv;
            u8      rsvd_2;
            u32     ndst;
        };
        u64 control;
    };
    u32 rsvd[6];
} __attribute__ ((aligned (64)));`;

describe('layouts against gcc (C written from the Xen header facts)', () => {
  it('struct iremap_entry: 16 bytes, 16-aligned, both views at the documented bits (reference xen.md 3.1)', () => {
    if (!gccAvailable()) return console.log('skipped: gcc is not available');
    const r = runProbe([], recordProbes(iremap_entry), IREMAP_ENTRY_C);
    expect(r.mismatches).toEqual([]);
    expect(r.compared).toBeGreaterThan(30);
  });

  it('struct pi_desc: 64 bytes, 64-aligned; PIR 255:0, ON 256, SN 257, NV 279:272, NDST 319:288 (reference xen.md 2.1)', () => {
    if (!gccAvailable()) return console.log('skipped: gcc is not available');
    const r = runProbe([], recordProbes(pi_desc), PI_DESC_C);
    expect(r.mismatches).toEqual([]);
    expect(pi_desc.size).toBe(64);
    const v = pi_desc.alloc();
    v.on = 1;
    expect(v.bytes[32]).toBe(1); // bit 256
    v.on = 0;
    v.sn = 1;
    expect(v.bytes[32]).toBe(2); // bit 257
    expect(pi_desc.offsetof('nv') * 8).toBe(272);
    expect(pi_desc.offsetof('ndst') * 8).toBe(288);
    expect(() => pi_desc.field('ndm')).toThrow(); // no NDM field
  });
});

describe('hot-path constants agree with the layout views', () => {
  it('IRTE word bits, remapped and posted (property)', () => {
    fc.assert(
      fc.property(
        fc.record({ fpd: fc.integer({ min: 0, max: 1 }), dm: fc.integer({ min: 0, max: 1 }), rh: fc.integer({ min: 0, max: 1 }), tm: fc.integer({ min: 0, max: 1 }), dlm: fc.integer({ min: 0, max: 7 }), vector: fc.integer({ min: 0, max: 255 }), dst: fc.nat(), sid: fc.integer({ min: 0, max: 0xffff }), sq: fc.integer({ min: 0, max: 3 }), svt: fc.integer({ min: 0, max: 3 }) }),
        fc.record({ urg: fc.integer({ min: 0, max: 1 }), vector: fc.integer({ min: 0, max: 255 }), pdaPage: fc.integer({ min: 0, max: 2 ** 40 - 1 }) }),
        (rm, po) => {
          const a = iremap_entry.alloc();
          Object.assign(a.remap, { p: 1, ...rm, dst: rm.dst >>> 0 });
          const w0 = getU32(a.bytes, 0);
          expect(w0 & IRTE_P).toBe(IRTE_P);
          expect((w0 & IRTE_FPD) !== 0).toBe(rm.fpd === 1);
          expect((w0 & IRTE_DM) !== 0).toBe(rm.dm === 1);
          expect((w0 & IRTE_RH) !== 0).toBe(rm.rh === 1);
          expect((w0 & IRTE_TM) !== 0).toBe(rm.tm === 1);
          expect((w0 & IRTE_DLM_MASK) >>> IRTE_DLM_SHIFT).toBe(rm.dlm);
          expect(w0 & IRTE_IM).toBe(0);
          expect((w0 >>> IRTE_VECTOR_SHIFT) & 0xff).toBe(rm.vector);
          expect(getU32(a.bytes, 4)).toBe(rm.dst >>> 0);
          const w2 = getU32(a.bytes, 8);
          expect([w2 & 0xffff, (w2 >>> IRTE_SQ_SHIFT) & 3, (w2 >>> IRTE_SVT_SHIFT) & 3]).toEqual([rm.sid, rm.sq, rm.svt]);
          // The posted view of the same entry: same P, IM still 0 until set.
          const pda = po.pdaPage * 64;
          const b = iremap_entry.alloc();
          Object.assign(b.post, { p: 1, im: 1, urg: po.urg, vector: po.vector, pda_l: (pda % 2 ** 32) >>> 6, pda_h: Math.floor(pda / 2 ** 32) });
          const v0 = getU32(b.bytes, 0);
          expect(v0 & IRTE_IM).toBe(IRTE_IM);
          expect((v0 & IRTE_URG) !== 0).toBe(po.urg === 1);
          expect((v0 >>> IRTE_VECTOR_SHIFT) & 0xff).toBe(po.vector);
          expect(getU32(b.bytes, 12) * 2 ** 32 + ((getU32(b.bytes, 4) & IRTE_PDA_LO_MASK) >>> 0)).toBe(pda);
          expect(decodeIrte(b.bytes, 0)).toMatchObject({ format: 'posted', vector: po.vector, pda, urg: po.urg });
          expect(a.remap.im).toBe(0);
          expect(b.remap.im).toBe(1); // IM is the same bit in both views
        },
      ),
      fcParams(200),
    );
  });

  it('PI descriptor accessors write the fields the layout names (property)', () => {
    fc.assert(
      fc.property(fc.subarray([...Array(256).keys()]), fc.integer({ min: 0, max: 255 }), fc.nat(), fc.boolean(), fc.boolean(), (vecs, nv, ndst, on, sn) => {
        const v = pi_desc.alloc();
        const pd = new PiDesc(v.bytes);
        for (const x of vecs) expect(pd.testAndSetPir(x)).toBe(false);
        for (const x of vecs) expect(pd.testAndSetPir(x)).toBe(true);
        pd.setNv(nv);
        pd.setNdst(ndst >>> 0);
        if (on) pd.setOn();
        if (sn) pd.setSn();
        expect(v.on).toBe(on ? 1 : 0);
        expect(v.sn).toBe(sn ? 1 : 0);
        expect(v.nv).toBe(nv);
        expect(v.ndst).toBe(ndst >>> 0);
        expect(v.control).toBe(BigInt(on ? 1 : 0) | (BigInt(sn ? 1 : 0) << 1n) | (BigInt(nv) << 16n) | (BigInt(ndst >>> 0) << 32n));
        expect(pd.pirVectors()).toEqual([...vecs].sort((a, b) => a - b));
        const pir = [0, 1, 2, 3].map((i) => v.pir.get(i));
        for (const x of vecs) expect((pir[x >> 6]! >> BigInt(x & 63)) & 1n).toBe(1n);
        expect(PI_CONTROL).toBe(pi_desc.offsetof('control'));
        expect(PI_NV).toBe(pi_desc.offsetof('nv'));
        expect(PI_NDST).toBe(pi_desc.offsetof('ndst'));
      }),
      fcParams(100),
    );
  });
});
