// The Type1 IOMMU backend (drivers/vfio/vfio_iommu_type1.c: vfio_iommu_type1_get_info, vfio_dma_do_map,
// vfio_dma_do_unmap, vfio_iommu_type1_map_dma/unmap_dma; drivers/vfio/vfio_main.c vfio_info_cap_add),
// every row of ../shared/reference/vfio.md §2b, §8.6-8.7, and a model-based property test.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../../support/runs.js';
import { Host } from '../../../src/host.js';
import { walkCaps } from '../../../abi/capchain.js';
import { getU32, getU64 } from '../../../abi/bytes.js';
import type { Process } from '../../../src/linux/process.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { EDU, GROUP, REGION, V, bindVfio, expectErrno, openDevice } from '../../support/vfio.js';
import { openVfioDevice } from '../../../examples/lib/vfio.js';
import { RLIMIT_MEMLOCK } from '../../../include-ts/linux/resource.js';
import { CAP_IPC_LOCK } from '../../../include-ts/linux/capability.js';

const R = V.VFIO_DMA_MAP_FLAG_READ;
const W = V.VFIO_DMA_MAP_FLAG_WRITE;

function ctx(type = V.VFIO_TYPE1v2_IOMMU, cmdline = '') {
  const o = openDevice(EDU, GROUP.edu, type, Host.create({ cmdline }));
  const ram = o.p.mmap(null, 0x400000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return { ...o, ram };
}

function mapBytes(p: { argsz?: number; flags?: number; vaddr: number | bigint; iova: number | bigint; size: number | bigint }): Uint8Array {
  return V.vfio_iommu_type1_dma_map.encode({ argsz: 32, flags: R | W, ...p });
}

function map(pr: Process, c: number, vaddr: number, iova: number | bigint, size: number | bigint, flags = R | W, argsz = 32): number {
  return pr.ioctl(c, V.VFIO_IOMMU_MAP_DMA, mapBytes({ argsz, flags, vaddr, iova, size }));
}

function unmap(pr: Process, c: number, iova: number | bigint, size: number | bigint, flags = 0, argsz = 24): bigint {
  const b = V.vfio_iommu_type1_dma_unmap.encode({ argsz, flags, iova, size });
  pr.ioctl(c, V.VFIO_IOMMU_UNMAP_DMA, b);
  return V.vfio_iommu_type1_dma_unmap.view(b).size;
}

function avail(pr: Process, c: number): number {
  const info = new Uint8Array(120);
  info[0] = 120;
  pr.ioctl(c, V.VFIO_IOMMU_GET_INFO, info);
  return getU32(walkCaps(info, getU32(info, 16)).find((x) => x.id === V.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)!.bytes, 8);
}

describe('VFIO_IOMMU_GET_INFO', () => {
  it('caps MIGRATION@24, DMA_AVAIL@56, IOVA_RANGE@72 (8-byte padded since v6.6); argsz 120; MSI window excluded', () => {
    const { p, container } = ctx();
    const info = new Uint8Array(120);
    info[0] = 120;
    p.ioctl(container, V.VFIO_IOMMU_GET_INFO, info);
    expect(getU32(info, 0)).toBe(120);
    expect(getU32(info, 4)).toBe(V.VFIO_IOMMU_INFO_PGSIZES | V.VFIO_IOMMU_INFO_CAPS);
    expect(getU64(info, 8)).toBe(0xfffffffffffff000n);
    expect(getU32(info, 16)).toBe(24);
    const caps = walkCaps(info, 24);
    expect(caps.map((c) => [c.id, c.offset])).toEqual([[2, 24], [3, 56], [1, 72]]);
    expect(getU64(caps[0]!.bytes, 16)).toBe(0x1000n);
    expect(getU64(caps[0]!.bytes, 24)).toBe(0x10000000n);
    expect(getU32(caps[1]!.bytes, 8)).toBe(65535);
    const r = caps[2]!.bytes;
    expect(getU32(r, 8)).toBe(2);
    expect([getU64(r, 16), getU64(r, 24), getU64(r, 32), getU64(r, 40)]).toEqual([0n, 0xfedfffffn, 0xfef00000n, 0xffffffffffffn]);
  });

  it('argsz growth protocol: argsz 16 succeeds with CAPS set, argsz rewritten to 120, nothing past 16 bytes written', () => {
    const { p, container } = ctx();
    const info = new Uint8Array(32).fill(0xee);
    info.set([16, 0, 0, 0]);
    p.ioctl(container, V.VFIO_IOMMU_GET_INFO, info);
    expect(getU32(info, 0)).toBe(120);
    expect(getU32(info, 4) & V.VFIO_IOMMU_INFO_CAPS).toBeTruthy();
    expect([...info.subarray(16)].every((b) => b === 0xee)).toBe(true);
    const small = new Uint8Array(16);
    small[0] = 12;
    expectErrno(() => p.ioctl(container, V.VFIO_IOMMU_GET_INFO, small), 'EINVAL');
  });
});

describe('VFIO_IOMMU_MAP_DMA (vfio_dma_do_map)', () => {
  it('row 1: argsz < 32 or unknown flags → EINVAL', () => {
    const { p, container, ram } = ctx();
    expectErrno(() => map(p, container, ram.addr, 0, 0x1000, R | W, 28), 'EINVAL');
    expectErrno(() => map(p, container, ram.addr, 0, 0x1000, R | W | 8), 'EINVAL');
  });

  it('row 2 / §8.6: no READ/WRITE → EINVAL; VADDR with READ → EINVAL', () => {
    const { p, container, ram } = ctx();
    expectErrno(() => map(p, container, ram.addr, 0, 0x1000, 0), 'EINVAL');
    expectErrno(() => map(p, container, ram.addr, 0, 0x1000, R | V.VFIO_DMA_MAP_FLAG_VADDR), 'EINVAL');
  });

  it('row 3 / §8.6: size 0, or iova/vaddr/size not 4 KiB aligned → EINVAL', () => {
    const { p, container, ram } = ctx();
    expectErrno(() => map(p, container, ram.addr, 0x100000, 0), 'EINVAL');
    expectErrno(() => map(p, container, ram.addr, 0x100800, 0x1000), 'EINVAL');
    expectErrno(() => map(p, container, ram.addr + 0x800, 0x100000, 0x1000), 'EINVAL');
    expectErrno(() => map(p, container, ram.addr, 0x100000, 0x1800), 'EINVAL');
  });

  it('row 4: iova + size wrapping past 2^64 → EINVAL (6.x; the newest kernels say EOVERFLOW)', () => {
    const { p, container, ram } = ctx();
    expectErrno(() => map(p, container, ram.addr, 0xfffffffffffff000n, 0x2000), 'EINVAL');
  });

  it('row 5: VADDR update of a mapping that does not exist → ENOENT; of one not invalidated → EINVAL; after UNMAP|VADDR it works', () => {
    const { p, container, ram } = ctx();
    expectErrno(() => map(p, container, ram.addr, 0x100000, 0x1000, V.VFIO_DMA_MAP_FLAG_VADDR), 'ENOENT');
    map(p, container, ram.addr, 0x100000, 0x1000);
    expectErrno(() => map(p, container, ram.addr, 0x100000, 0x1000, V.VFIO_DMA_MAP_FLAG_VADDR), 'EINVAL');
    expect(unmap(p, container, 0x100000, 0x1000, V.VFIO_DMA_UNMAP_FLAG_VADDR)).toBe(0x1000n);
    expectErrno(() => unmap(p, container, 0x100000, 0x1000, V.VFIO_DMA_UNMAP_FLAG_VADDR), 'EINVAL');
    map(p, container, ram.addr + 0x1000, 0x100000, 0x1000, V.VFIO_DMA_MAP_FLAG_VADDR);
  });

  it('row 6 / §8.6: any overlap with an existing mapping → EEXIST', () => {
    const { p, container, ram } = ctx();
    map(p, container, ram.addr, 0x100000, 0x2000);
    expectErrno(() => map(p, container, ram.addr, 0x101000, 0x1000), 'EEXIST');
    expectErrno(() => map(p, container, ram.addr, 0xff000, 0x2000), 'EEXIST');
  });

  it('row 7: no slots left (vfio_iommu_type1.dma_entry_limit) → ENOSPC; unmapping returns slots', () => {
    const { p, container, ram } = ctx(V.VFIO_TYPE1v2_IOMMU, 'vfio_iommu_type1.dma_entry_limit=2');
    expect(avail(p, container)).toBe(2);
    map(p, container, ram.addr, 0, 0x1000);
    map(p, container, ram.addr, 0x1000, 0x1000);
    expect(avail(p, container)).toBe(0);
    expectErrno(() => map(p, container, ram.addr, 0x2000, 0x1000), 'ENOSPC');
    unmap(p, container, 0, 0x1000);
    expect(avail(p, container)).toBe(1);
    map(p, container, ram.addr, 0x2000, 0x1000);
  });

  it('row 8: a range outside the valid IOVA windows (the MSI window, past the 48-bit aperture) → EINVAL', () => {
    const { p, container, ram } = ctx();
    expectErrno(() => map(p, container, ram.addr, 0xfee00000, 0x1000), 'EINVAL');
    expectErrno(() => map(p, container, ram.addr, 0xfed00000, 0x200000), 'EINVAL');
    expectErrno(() => map(p, container, ram.addr, 2 ** 48, 0x1000), 'EINVAL');
    map(p, container, ram.addr, 0xfef00000, 0x1000);
  });

  it('row 9: vaddr not mapped in the caller → EFAULT, and the failed call changes nothing', () => {
    const { p, container, ram } = ctx();
    const before = avail(p, container);
    expectErrno(() => map(p, container, 0x1000_0000, 0x100000, 0x1000), 'EFAULT');
    expectErrno(() => map(p, container, ram.addr + 0x3ff000, 0x100000, 0x2000), 'EFAULT');
    expect(avail(p, container)).toBe(before);
    map(p, container, ram.addr, 0x100000, 0x2000);
  });
});

describe('VFIO_IOMMU_UNMAP_DMA (vfio_dma_do_unmap)', () => {
  it('row 1: argsz < 24, unknown flags, GET_DIRTY_BITMAP with ALL → EINVAL', () => {
    const { p, container } = ctx();
    expectErrno(() => unmap(p, container, 0, 0x1000, 0, 20), 'EINVAL');
    expectErrno(() => unmap(p, container, 0, 0x1000, 8), 'EINVAL');
    expectErrno(() => unmap(p, container, 0, 0, V.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | V.VFIO_DMA_UNMAP_FLAG_ALL), 'EINVAL');
  });

  it('row 2: GET_DIRTY_BITMAP while dirty tracking is off → EINVAL', () => {
    const { p, container } = ctx();
    const b = new Uint8Array(48);
    b.set([48, 0, 0, 0, 1, 0, 0, 0]);
    b[16] = 0x10;
    expectErrno(() => p.ioctl(container, V.VFIO_IOMMU_UNMAP_DMA, b), 'EINVAL');
  });

  it('rows 4-7: unaligned iova, ALL with iova/size set, size 0 or unaligned, wrap → EINVAL', () => {
    const { p, container } = ctx();
    expectErrno(() => unmap(p, container, 0x800, 0x1000), 'EINVAL');
    expectErrno(() => unmap(p, container, 0x1000, 0, V.VFIO_DMA_UNMAP_FLAG_ALL), 'EINVAL');
    expectErrno(() => unmap(p, container, 0x1000, 0), 'EINVAL');
    expectErrno(() => unmap(p, container, 0x1000, 0x800), 'EINVAL');
    expectErrno(() => unmap(p, container, 0xfffffffffffff000n, 0x2000), 'EINVAL');
  });

  it('row 8 / §8.7: TYPE1v2 refuses to bisect a mapping (EINVAL, nothing unmapped, size not written back)', () => {
    const { p, container, ram } = ctx();
    map(p, container, ram.addr, 0x100000, 0x2000);
    const b = V.vfio_iommu_type1_dma_unmap.encode({ argsz: 24, iova: 0x100000, size: 0x1000 });
    expectErrno(() => p.ioctl(container, V.VFIO_IOMMU_UNMAP_DMA, b), 'EINVAL');
    expect(V.vfio_iommu_type1_dma_unmap.view(b).size).toBe(0x1000n);
    expectErrno(() => unmap(p, container, 0x101000, 0x2000), 'EINVAL');
    expect(unmap(p, container, 0x100000, 0x2000)).toBe(0x2000n);
  });

  it('row 9 / §8.7: unmapping nothing returns 0 with size rewritten to 0', () => {
    const { p, container } = ctx();
    expect(unmap(p, container, 0x500000, 0x1000)).toBe(0n);
  });

  it('row 10: every mapping inside the range goes; size = their total; ALL unmaps everything', () => {
    const { p, container, ram } = ctx();
    map(p, container, ram.addr, 0x100000, 0x1000);
    map(p, container, ram.addr, 0x102000, 0x2000);
    map(p, container, ram.addr, 0x200000, 0x1000);
    expect(unmap(p, container, 0x100000, 0x10000)).toBe(0x3000n);
    map(p, container, ram.addr, 0x100000, 0x1000);
    expect(unmap(p, container, 0, 0, V.VFIO_DMA_UNMAP_FLAG_ALL)).toBe(0x2000n);
  });

  it('TYPE1 (v1) quirks: an unmap starting inside a mapping succeeds with size 0; one covering its first page removes all of it', () => {
    const { p, container, ram } = ctx(V.VFIO_TYPE1_IOMMU);
    map(p, container, ram.addr, 0x100000, 0x3000);
    expect(unmap(p, container, 0x101000, 0x1000)).toBe(0n);
    expect(unmap(p, container, 0x100000, 0x1000)).toBe(0x3000n);
  });
});

describe('VFIO_IOMMU_DIRTY_PAGES (vfio_iommu_type1_dirty_pages)', () => {
  const dp = (o: ReturnType<typeof ctx>, flags: number, argsz = 8) => {
    const b = new Uint8Array(8);
    V.vfio_iommu_type1_dirty_bitmap.encode({ argsz, flags }, b);
    return o.p.ioctl(o.container, V.VFIO_IOMMU_DIRTY_PAGES, b);
  };
  it('a TYPE1 (v1) container → EACCES; v2: START/STOP succeed, two flags or none → EINVAL, GET_BITMAP untracked → EINVAL', () => {
    expectErrno(() => dp(ctx(V.VFIO_TYPE1_IOMMU), V.VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 'EACCES');
    const o = ctx();
    expectErrno(() => dp(o, V.VFIO_IOMMU_DIRTY_PAGES_FLAG_START | V.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP), 'EINVAL');
    expectErrno(() => dp(o, 0), 'EINVAL');
    expectErrno(() => dp(o, V.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, 32), 'EINVAL');
    expect(dp(o, V.VFIO_IOMMU_DIRTY_PAGES_FLAG_START)).toBe(0);
    expect(dp(o, V.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP)).toBe(0);
  });
});

describe('device DMA goes through the mappings', () => {
  it("the edu device's DMA reads and writes the caller's pinned memory; unmapped IOVAs fault", () => {
    const { host, p, container, ram } = ctx();
    map(p, container, ram.addr, 0x100000, 0x2000);
    ram.bytes!.set([7, 8, 9], 0x1004);
    const edu = host.control.pci.edu();
    const buf = new Uint8Array(3);
    expect(edu.dmaRead(0x101004, buf)).toBe(true);
    expect([...buf]).toEqual([7, 8, 9]);
    expect(edu.dmaWrite(0x100000, new Uint8Array([1, 2]))).toBe(true);
    expect([...ram.bytes!.subarray(0, 2)]).toEqual([1, 2]);
    unmap(p, container, 0x100000, 0x2000);
    expect(edu.dmaRead(0x101004, buf)).toBe(false);
    expect(host.control.pci.dmaFaults().at(-1)).toMatchObject({ iova: 0x101004, reason: 'not-mapped' });
  });

  it('a read-only mapping (READ = device may read) refuses device writes', () => {
    const { host, p, container, ram } = ctx();
    map(p, container, ram.addr, 0, 0x1000, R);
    expect(host.control.pci.edu().dmaWrite(0, new Uint8Array(1))).toBe(false);
    expect(host.control.pci.edu().dmaRead(0, new Uint8Array(1))).toBe(true);
  });
});

describe('peer-to-peer: a device BAR mapping in MAP_DMA (vaddr_get_pfns / follow_fault_pfn)', () => {
  const barMap = (p: Process, device: number, prot = PROT_READ | PROT_WRITE) => p.mmap(null, 0x1000, prot, MAP_SHARED, device, REGION(0));
  const memorySpace = (p: Process, device: number, on: boolean) => {
    const cmd = new Uint8Array(2);
    p.pread(device, cmd, REGION(7) + 4);
    p.pwrite(device, new Uint8Array([on ? cmd[0]! | 2 : cmd[0]! & ~2, cmd[1]!]), REGION(7) + 4);
  };

  it('is mapped, not charged to locked_vm, and device DMA to it reaches the registers (QEMU maps every assigned BAR so)', () => {
    const { host, p, container, device } = ctx();
    const bar = barMap(p, device);
    const locked = p.mm.lockedVm;
    expect(map(p, container, bar.addr, 0x200000, 0x1000)).toBe(0);
    expect(p.mm.lockedVm).toBe(locked);
    const edu = host.control.pci.edu();
    // The edu's liveness register (BAR0 + 4) keeps the inverse of what is written.
    expect(edu.dmaWrite(0x200004, new Uint8Array([0x78, 0x56, 0x34, 0x12]))).toBe(true);
    expect(bar.read32(4)).toBe(~0x12345678 >>> 0);
    const id = new Uint8Array(4);
    expect(edu.dmaRead(0x200000, id)).toBe(true);
    expect(getU32(id, 0)).toBe(0x010000ed);
    // A RAM mapping next to it is charged as before.
    map(p, container, p.mmap(null, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).addr, 0x300000, 0x2000);
    expect(p.mm.lockedVm).toBe(locked + 2);
  });

  it('is EFAULT while vfio-pci keeps the BAR zapped (Memory Space off), or with WRITE through a read-only mapping; a failed map changes nothing', () => {
    const { p, container, device } = ctx();
    const bar = barMap(p, device);
    memorySpace(p, device, false);
    expectErrno(() => map(p, container, bar.addr, 0x200000, 0x1000), 'EFAULT');
    memorySpace(p, device, true);
    const ro = barMap(p, device, PROT_READ);
    expectErrno(() => map(p, container, ro.addr, 0x200000, 0x1000), 'EFAULT');
    expect(map(p, container, ro.addr, 0x200000, 0x1000, R)).toBe(0);
    expect(avail(p, container)).toBe(65534);
  });

  it('WRITE through read-only memory is EFAULT too (pin_user_pages with FOLL_WRITE)', () => {
    const { p, container } = ctx();
    const ro = p.mmap(null, 0x1000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expectErrno(() => map(p, container, ro.addr, 0x200000, 0x1000), 'EFAULT');
    expect(map(p, container, ro.addr, 0x200000, 0x1000, R)).toBe(0);
  });

  it('a DMA to the BAR once its Memory Space is off is an Unsupported Request: nothing changes, no IOMMU fault', () => {
    const { host, p, container, device } = ctx();
    const bar = barMap(p, device);
    map(p, container, bar.addr, 0x200000, 0x1000);
    memorySpace(p, device, false);
    const edu = host.control.pci.edu();
    const faults = host.control.pci.dmaFaults().length;
    expect(edu.dmaWrite(0x200004, new Uint8Array([1, 0, 0, 0]))).toBe(false);
    expect(host.control.pci.dmaFaults()).toHaveLength(faults);
    memorySpace(p, device, true);
    expect(bar.read32(4)).not.toBe(~1 >>> 0);
  });
});

// ---- model-based: MAP/UNMAP vs an interval model ---------------------------------------------------

interface Model {
  maps: Array<{ start: number; end: number }>;
}
interface Real {
  p: Process;
  c: number;
  base: number;
  read: (iova: number) => boolean;
}
const PG = 0x1000;

class MapCmd implements fc.Command<Model, Real> {
  constructor(readonly page: number, readonly n: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const s = this.page * PG;
    const e = s + this.n * PG;
    const overlap = m.maps.some((x) => s < x.end && x.start < e);
    let code = 'ok';
    try {
      map(r.p, r.c, r.base + s, s, this.n * PG);
    } catch (err) {
      code = (err as { code: string }).code;
    }
    expect(code).toBe(overlap ? 'EEXIST' : 'ok');
    if (!overlap) m.maps.push({ start: s, end: e });
  }
  toString = () => `map(page ${this.page}, ${this.n} pages)`;
}

class UnmapCmd implements fc.Command<Model, Real> {
  constructor(readonly page: number, readonly n: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const s = this.page * PG;
    const e = s + this.n * PG;
    const bisect = m.maps.some((x) => (x.start < s && s < x.end) || (x.start < e && e < x.end));
    let code = 'ok';
    let size = -1n;
    try {
      size = unmap(r.p, r.c, s, this.n * PG);
    } catch (err) {
      code = (err as { code: string }).code;
    }
    expect(code).toBe(bisect ? 'EINVAL' : 'ok');
    if (!bisect) {
      const gone = m.maps.filter((x) => x.start >= s && x.end <= e);
      expect(size).toBe(BigInt(gone.reduce((a, x) => a + x.end - x.start, 0)));
      m.maps = m.maps.filter((x) => !gone.includes(x));
    }
  }
  toString = () => `unmap(page ${this.page}, ${this.n} pages)`;
}

class DmaCmd implements fc.Command<Model, Real> {
  constructor(readonly page: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const iova = this.page * PG + 8;
    expect(r.read(iova)).toBe(m.maps.some((x) => iova >= x.start && iova < x.end));
  }
  toString = () => `deviceDma(page ${this.page})`;
}

describe('MAP/UNMAP_DMA vs an interval model (model-based, fc.commands)', () => {
  it('no overlap is ever accepted, v2 never bisects, and device DMA reaches exactly the mapped ranges', () => {
    const page = fc.nat(31);
    const len = fc.integer({ min: 1, max: 6 });
    const cmds = [
      fc.tuple(page, len).map(([a, n]) => new MapCmd(a, n)),
      fc.tuple(page, len).map(([a, n]) => new UnmapCmd(a, n)),
      page.map((a) => new DmaCmd(a)),
    ];
    fc.assert(
      fc.property(fc.commands(cmds, { maxCommands: 40 }), (cs) => {
        const { p, container, ram, host } = ctx();
        const edu = host.control.pci.edu();
        const real: Real = { p, c: container, base: ram.addr, read: (iova) => edu.dmaRead(iova, new Uint8Array(4)) };
        fc.modelRun(() => ({ model: { maps: [] }, real }), cs);
      }),
      fcParams(120),
    );
  });
});

// Pinned pages are charged to mm->locked_vm against RLIMIT_MEMLOCK unless the mapper has CAP_IPC_LOCK
// (vfio_iommu_type1.c vfio_dma_do_map: dma->lock_cap = capable(CAP_IPC_LOCK); vfio_pin_pages_remote's
// per-page check and pr_warn; vfio_lock_acct / mm/util.c __account_locked_vm; vfio_remove_dma undoes a
// failed map; vfio_unpin_pages_remote uncharges).
describe('RLIMIT_MEMLOCK and locked_vm', () => {
  /** An unprivileged VMM (uid 107, as libvirt's qemu user) given the group node by a udev rule. */
  function vmm(memlock: number, opts: { uid?: number; capabilities?: bigint } = { uid: 107 }) {
    const host = Host.create();
    bindVfio(host.spawn(), EDU);
    host.control.pci.vfioGroupNode(GROUP.edu, 107);
    const q = host.spawn({ ...opts, rlimits: { [RLIMIT_MEMLOCK]: [memlock, memlock] } });
    const fds = openVfioDevice(q, GROUP.edu, EDU);
    const ram = q.mmap(null, 0x40000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return { host, q, ram, ...fds };
  }

  it('an unprivileged map past the limit is ENOMEM with the kernel\'s warning, and leaves nothing pinned or charged', () => {
    const { host, q, container, ram } = vmm(64 * 1024 + 100);
    map(q, container, ram.addr, 0, 0x10000);
    expect(q.mm.lockedVm).toBe(16);
    const e = expectErrno(() => map(q, container, ram.addr + 0x10000, 0x100000, 0x2000), 'ENOMEM');
    expect(e.message).toMatch(/RLIMIT_MEMLOCK/);
    expect(host.control.dmesg().at(-1)).toMatch(/vfio_pin_pages_remote: RLIMIT_MEMLOCK \(65536\) exceeded$/);
    expect(q.mm.lockedVm).toBe(16);
    expect(unmap(q, container, 0, 0x10000)).toBe(0x10000n);
    expect(q.mm.lockedVm).toBe(0);
    // The failed range was never mapped: the same IOVA maps now, within the limit.
    map(q, container, ram.addr + 0x10000, 0x100000, 0x2000);
    expect(q.mm.lockedVm).toBe(2);
  });

  it('mlock\'d pages and pinned pages share locked_vm, each checked against the sum (mm/mlock.c do_mlock)', () => {
    const { q, container, ram } = vmm(0x8000);
    q.mlock(ram.addr, 0x4000);
    map(q, container, ram.addr + 0x4000, 0, 0x4000);
    expect(q.mm.lockedVm).toBe(8);
    expectErrno(() => map(q, container, ram.addr + 0x8000, 0x100000, 0x1000), 'ENOMEM');
    q.munlock(ram.addr, 0x1000);
    map(q, container, ram.addr + 0x8000, 0x100000, 0x1000);
    expectErrno(() => q.mlock(ram.addr + 0x10000, 0x1000), 'ENOMEM');
    expect(q.mm.lockedVm).toBe(8);
  });

  it('the same pages mapped at two IOVAs are charged twice', () => {
    const { q, container, ram } = vmm(0x8000);
    map(q, container, ram.addr, 0, 0x4000);
    map(q, container, ram.addr, 0x100000, 0x4000);
    expect(q.mm.lockedVm).toBe(8);
    expectErrno(() => map(q, container, ram.addr, 0x200000, 0x1000), 'ENOMEM');
  });

  it('pages are faulted and charged in order: an unmapped page before the limit is EFAULT, after it ENOMEM', () => {
    const { q, container, ram } = vmm(0x4000);
    q.munmap(ram.addr + 0x2000, 0x1000);
    expectErrno(() => map(q, container, ram.addr, 0, 0x8000), 'EFAULT');
    q.munmap(ram.addr + 0x8000, 0x1000);
    expectErrno(() => map(q, container, ram.addr + 0x3000, 0, 0x6000), 'ENOMEM');
    expect(q.mm.lockedVm).toBe(0);
  });

  it('CAP_IPC_LOCK skips the limit but not the charge; uid 0 without it is limited too', () => {
    const root = vmm(0x1000, {});
    map(root.q, root.container, root.ram.addr, 0, 0x20000);
    expect(root.q.mm.lockedVm).toBe(32);
    const noLock = vmm(0x1000, { uid: 0, capabilities: ((1n << 41n) - 1n) & ~(1n << BigInt(CAP_IPC_LOCK)) });
    expectErrno(() => map(noLock.q, noLock.container, noLock.ram.addr, 0, 0x2000), 'ENOMEM');
  });

  it('releasing the container (its last fd and group gone) uncharges every mapping', () => {
    const { q, container, group, device, ram } = vmm(0x10000);
    map(q, container, ram.addr, 0, 0x4000);
    map(q, container, ram.addr + 0x4000, 0x10000, 0x4000);
    expect(q.mm.lockedVm).toBe(8);
    q.close(container);
    q.close(device);
    expect(q.mm.lockedVm).toBe(8); // the group still holds the container
    q.close(group);
    expect(q.mm.lockedVm).toBe(0);
  });
});
