// VFIO capability chains: drivers/vfio/vfio_main.c vfio_info_cap_add()/vfio_info_cap_shift() and the
// callers' copy-out in drivers/vfio/pci/vfio_pci_core.c and drivers/vfio/vfio_iommu_type1.c.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CapChainBuilder, walkCaps } from '../../abi/capchain.js';

describe('capability chains', () => {
  it('builds the type1 GET_INFO chain at the offsets a >= v6.6 kernel produces (8-byte aligned caps)', () => {
    // migration (32 B), dma_avail (12 B -> padded to 16), iova_range with 2 ranges (16 + 32 B)
    const b = new CapChainBuilder();
    b.add(2, 1, 32);
    b.add(3, 1, 12);
    b.add(1, 1, 48);
    const fixed = 24;
    expect(fixed + b.size).toBe(120);
    const user = new Uint8Array(120);
    const r = b.copyOut(user, fixed, 120);
    expect(r).toEqual({ argsz: 120, capOffset: 24, copied: true });
    expect(walkCaps(user, r.capOffset).map((c) => [c.id, c.offset])).toEqual([[2, 24], [3, 56], [1, 72]]);
  });

  it('reproduces the pre-6.6 unaligned layout when asked (IOVA_RANGE at 68)', () => {
    const b = new CapChainBuilder({ align8: false });
    b.add(2, 1, 32);
    b.add(3, 1, 12);
    b.add(1, 1, 48);
    const user = new Uint8Array(116);
    const r = b.copyOut(user, 24, 116);
    expect(walkCaps(user, r.capOffset).map((c) => c.offset)).toEqual([24, 56, 68]);
  });

  it('reports the size needed and writes no caps when argsz is too small', () => {
    const b = new CapChainBuilder();
    b.add(3, 1, 8); // VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: header only
    const user = new Uint8Array(32).fill(0xaa);
    expect(b.copyOut(user, 32, 32)).toEqual({ argsz: 40, capOffset: 0, copied: false });
    expect(user.every((x) => x === 0xaa)).toBe(true);
  });

  it('walks back exactly the caps that were added (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.integer({ min: 1, max: 0xffff }), version: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 8, max: 64 }) }), { minLength: 1, maxLength: 8 }), fc.constantFrom(16, 24, 32), (caps, fixed) => {
        const b = new CapChainBuilder();
        for (const c of caps) b.add(c.id, c.version, c.size);
        const user = new Uint8Array(fixed + b.size);
        const r = b.copyOut(user, fixed, user.length);
        const seen = walkCaps(user, r.capOffset);
        expect(seen.map((c) => [c.id, c.version])).toEqual(caps.map((c) => [c.id, c.version]));
        expect(seen.every((c) => c.offset % 8 === 0)).toBe(true);
      }),
    );
  });

  it('refuses chains that loop or leave the buffer', () => {
    const user = new Uint8Array(32);
    new DataView(user.buffer).setUint32(8 + 4, 8, true); // cap at 8 whose next points to itself
    expect(() => walkCaps(user, 8)).toThrow(/loops/);
    expect(() => walkCaps(user, 28)).toThrow(/outside/);
  });
});
