// Worked examples of the in-kernel I/O bus with overlapping ranges (src/linux/kvm/io-bus.ts), each
// derived by hand from virt/kvm/kvm_main.c (kvm_io_bus_cmp, kvm_io_bus_register_dev,
// kvm_io_bus_get_first_dev, __kvm_io_bus_write/__kvm_io_bus_read) and lib/bsearch.c. The property test
// (io-bus.property.test.ts) checks random buses against a reference; these pin the surprising cases.
import { describe, expect, it } from 'vitest';
import { IoBus, ioBusCmp, type IoDevice } from '../../../src/linux/kvm/io-bus.js';

function bus(ranges: [number, number][], accepts: (i: number) => boolean = () => true) {
  const b = new IoBus('test');
  const log: number[] = [];
  const devs = ranges.map(([addr, len], i): IoDevice & { i: number } => {
    const d = { i, read: () => (log.push(i), accepts(i) ? 0 : -1), write: () => (log.push(i), accepts(i)) };
    b.register(addr, len, d);
    return d;
  });
  const order = () => b.devices.map((d) => (d as IoDevice & { i: number }).i);
  const write = (addr: number, len: number) => {
    log.length = 0;
    const handled = b.write(addr, len, 0);
    return { offered: [...log], handled };
  };
  return { b, devs, order, write };
}

describe('kvm_io_bus_cmp(r1, r2)', () => {
  it.each([
    ['r1 starts below r2', 0xff, 1, 0x100, 8, -1],
    ['r1 inside r2, same start', 0x100, 4, 0x100, 8, 0],
    ['r1 inside r2, same end', 0x104, 4, 0x100, 8, 0],
    ['r1 ends past r2', 0x106, 4, 0x100, 8, 1],
    ['zero-length r2: same address, any length', 0x100, 8, 0x100, 0, 0],
    ['zero-length r2: a later address', 0x101, 1, 0x100, 0, 1],
    ['r1 zero-length, r2 not: compares ends', 0x108, 0, 0x100, 8, 0],
  ] as const)('%s', (_n, a1, l1, a2, l2, want) => {
    expect(ioBusCmp(a1, l1, { addr: a2, len: l2 })).toBe(want);
  });
});

describe('kvm_io_bus_register_dev: insertion before the first entry comparing greater', () => {
  it('ranges that compare equal keep registration order, so the same two ranges dispatch differently', () => {
    // kvm_io_bus_cmp((0x1004,4), (0x1000,8)) == 0: 0x1004 >= 0x1000 and both end at 0x1008.
    const a = bus([[0x1000, 8], [0x1004, 4]]);
    const b = bus([[0x1004, 4], [0x1000, 8]]);
    expect(a.order()).toEqual([0, 1]);
    expect(b.order()).toEqual([0, 1]); // (0x1000,8) went after (0x1004,4): not sorted by start address
    expect(a.write(0x1004, 4)).toEqual({ offered: [0], handled: true }); // (0x1000,8) asked first
    expect(b.write(0x1004, 4)).toEqual({ offered: [0], handled: true }); // (0x1004,4) asked first
  });
  it('a zero-length range goes after every range at its address, whatever their lengths', () => {
    const r = bus([[0x1000, 4], [0x1000, 0], [0x1000, 2]]);
    // (0x1000,2): before (0x1000,4) (which ends later), after (0x1000,0) (compares by address only).
    expect(r.order()).toEqual([2, 0, 1]);
  });
});

describe('kvm_io_bus_get_first_dev + __kvm_io_bus_write: one run of containing ranges', () => {
  it('a containing range separated from the searched run by one that does not contain the access is never asked', () => {
    // Bus: A (0x100,0x100), B (0x110,4), C (0x120,4). A write at (0x120,4): bsearch's pivot 1 is B, which
    // the access lies past (cmp 1), then pivot 2 is C (cmp 0); walking back stops at B. So only C is
    // offered; when C declines, A — which contains the access — is not tried: the write exits.
    const r = bus([[0x100, 0x100], [0x110, 4], [0x120, 4]], (i) => i !== 2);
    expect(r.write(0x120, 4)).toEqual({ offered: [2], handled: false });
    // At (0x110,4) the run is A then B (C starts later): A handles it.
    expect(r.write(0x110, 4)).toEqual({ offered: [0], handled: true });
    // At (0x104,4): pivot 1 (B) is past the access, pivot 0 (A) contains it; B does not: only A.
    expect(r.write(0x104, 4)).toEqual({ offered: [0], handled: true });
  });
  it('a zero-length range registered after a range at the same address hides it from accesses past the address', () => {
    // Bus: E (0x1000,2), Z (0x1000,0). A write at (0x1001,1): pivot 1 is Z, and the access compares
    // greater (Z matches 0x1000 only), so the search moves right and ends: E, which contains it, is missed.
    const r = bus([[0x1000, 2], [0x1000, 0]]);
    expect(r.write(0x1001, 1)).toEqual({ offered: [], handled: false });
    expect(r.write(0x1000, 1)).toEqual({ offered: [0], handled: true });
    // Registered the other way round, Z stays first (E compares equal to it), and the search's first
    // pivot is E, which contains the access.
    const s = bus([[0x1000, 0], [0x1000, 2]]);
    expect(s.order()).toEqual([0, 1]);
    expect(s.write(0x1001, 1)).toEqual({ offered: [1], handled: true });
  });
  it('unregister removes the device\'s first range only and ignores a device not on the bus', () => {
    const r = bus([[0x10, 4], [0x20, 4]]);
    r.b.unregister({ read: () => -1, write: () => false });
    expect(r.order()).toEqual([0, 1]);
    r.b.unregister(r.devs[0]!);
    expect(r.order()).toEqual([1]);
    expect(r.write(0x10, 4)).toEqual({ offered: [], handled: false });
  });
});
