// madvise(2) (mm/madvise.c as 6.18: is_valid_madvise, madvise_walk_vmas, madvise_dontneed_free,
// madvise_remove, madvise_populate, madvise_collapse's first check; mm/pins.ts for pinned pages).
// madvise-oracle.c runs the same steps on this machine's kernel as uid 65534 and prints each result
// and the first byte of each page afterwards; the model must print the same lines, and strace the same
// calls (addresses aside). The model-only part: device mappings, and pages VFIO pinned, which stay the
// device's when the process drops them (QEMU's reason for ram_block_discard_disable()).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import * as M from '../../../include-ts/linux/mman.js';
import { MFD_CLOEXEC } from '../../../include-ts/linux/memfd.js';
import { RLIMIT_MEMLOCK } from '../../../include-ts/linux/resource.js';
import { expectSameAsOracle, oracleSkip, resultCode } from '../../support/c-oracle.js';
import { EDU, GROUP, V, expectErrno, openDevice } from '../../support/vfio.js';

const here = dirname(fileURLToPath(import.meta.url));
const P = 4096;
const RW = M.PROT_READ | M.PROT_WRITE;
const ANON = M.MAP_PRIVATE | M.MAP_ANONYMOUS;

function modelLines(p: Process): string[] {
  const out: string[] = [];
  const res = (w: string, f: () => unknown) => out.push(`${w}: ${resultCode(() => (f(), 0))}`);
  const bytes = (w: string, m: { read8(o: number): number }, pages: number) =>
    out.push(`${w}: ${Array.from({ length: pages }, (_, i) => m.read8(i * P).toString(16)).join(' ')}`);
  const a = p.mmap(null, 8 * P, RW, ANON, -1);
  a.bytes!.fill(0x11);
  const r = p.mmap(null, P, M.PROT_READ, ANON, -1).addr;
  const none = p.mmap(null, P, M.PROT_NONE, ANON, -1).addr;
  const adv = (w: string, addr: number, len: number | bigint, advice: number) => res(w, () => p.madvise(addr, len, advice));
  adv('unknown advice 99', a.addr, P, 99);
  adv('unaligned start', a.addr + 1, P, M.MADV_DONTNEED);
  adv('length 0', a.addr, 0, M.MADV_DONTNEED);
  adv('length -1', a.addr, -1, M.MADV_DONTNEED);
  adv('length -4096', a.addr, -4096, M.MADV_NORMAL);
  adv('unknown advice, unaligned', a.addr + 1, P, 99);
  adv('DONTNEED private anonymous pages 2-3', a.addr + 2 * P, 2 * P, M.MADV_DONTNEED);
  bytes('private anonymous', a, 8);
  p.munmap(a.addr + 5 * P, P);
  // The old Mapping object faults once part of it is unmapped: read the rest through a new view.
  const view = { read8: (o: number) => p.mm.ram(a.addr + o, 1)[0]! };
  adv('DONTNEED across a hole (pages 4-6)', a.addr + 4 * P, 3 * P, M.MADV_DONTNEED);
  bytes('private anonymous', view, 5);
  out.push(`page 6: ${view.read8(6 * P).toString(16)}`);
  adv('DONTNEED unmapped only', a.addr + 5 * P, P, M.MADV_DONTNEED);
  adv('NORMAL across the hole', a.addr, 8 * P, M.MADV_NORMAL);
  const simple: Array<[string, number]> = [
    ['REMOVE private anonymous', M.MADV_REMOVE], ['FREE private anonymous', M.MADV_FREE], ['WILLNEED private anonymous', M.MADV_WILLNEED],
    ['RANDOM', M.MADV_RANDOM], ['SEQUENTIAL', M.MADV_SEQUENTIAL], ['DONTFORK', M.MADV_DONTFORK], ['DOFORK', M.MADV_DOFORK],
    ['DONTDUMP', M.MADV_DONTDUMP], ['DODUMP', M.MADV_DODUMP], ['MERGEABLE', M.MADV_MERGEABLE], ['UNMERGEABLE', M.MADV_UNMERGEABLE],
    ['HUGEPAGE', M.MADV_HUGEPAGE], ['NOHUGEPAGE', M.MADV_NOHUGEPAGE], ['COLD', M.MADV_COLD], ['PAGEOUT', M.MADV_PAGEOUT],
    ['POPULATE_READ', M.MADV_POPULATE_READ], ['POPULATE_WRITE', M.MADV_POPULATE_WRITE], ['WIPEONFORK', M.MADV_WIPEONFORK],
    ['KEEPONFORK', M.MADV_KEEPONFORK], ['COLLAPSE', M.MADV_COLLAPSE], ['advice 26', 26], ['advice 104', 104],
    ['DONTNEED_LOCKED unlocked', M.MADV_DONTNEED_LOCKED], ['HWPOISON as uid 65534', M.MADV_HWPOISON], ['SOFT_OFFLINE as uid 65534', M.MADV_SOFT_OFFLINE],
  ];
  for (const [w, advice] of simple) adv(w, a.addr, P, advice);
  adv('POPULATE_WRITE read-only', r, P, M.MADV_POPULATE_WRITE);
  adv('POPULATE_READ read-only', r, P, M.MADV_POPULATE_READ);
  adv('POPULATE_READ PROT_NONE', none, P, M.MADV_POPULATE_READ);
  adv('POPULATE_WRITE PROT_NONE', none, P, M.MADV_POPULATE_WRITE);
  adv('DONTNEED PROT_NONE', none, P, M.MADV_DONTNEED);
  adv('POPULATE_READ across the hole', a.addr + 4 * P, 3 * P, M.MADV_POPULATE_READ);

  const s = p.mmap(null, 4 * P, RW, M.MAP_SHARED | M.MAP_ANONYMOUS, -1);
  s.bytes!.fill(0x22);
  adv('DONTNEED shared anonymous', s.addr, 2 * P, M.MADV_DONTNEED);
  bytes('shared anonymous', s, 4);
  adv('FREE shared anonymous', s.addr, P, M.MADV_FREE);
  adv('REMOVE shared anonymous page 1', s.addr + P, P, M.MADV_REMOVE);
  bytes('shared anonymous', s, 4);

  const fd = p.memfdCreate('ram', MFD_CLOEXEC);
  p.ftruncate(fd, 4 * P);
  const m = p.mmap(null, 4 * P, RW, M.MAP_SHARED, fd, 0);
  m.bytes!.fill(0x33);
  const pm = p.mmap(null, 4 * P, RW, M.MAP_PRIVATE, fd, 0);
  pm.write8(0, 0x44);
  pm.write8(P, 0x44);
  adv('DONTNEED memfd shared', m.addr, P, M.MADV_DONTNEED);
  bytes('memfd shared', m, 4);
  adv('DONTNEED memfd private page 0', pm.addr, P, M.MADV_DONTNEED);
  bytes('memfd private', pm, 4);
  adv('REMOVE memfd private', pm.addr, P, M.MADV_REMOVE);
  adv('FREE memfd shared', m.addr, P, M.MADV_FREE);
  adv('REMOVE memfd shared pages 2-3', m.addr + 2 * P, 2 * P, M.MADV_REMOVE);
  bytes('memfd shared', m, 4);
  const b = new Uint8Array(1).fill(0xff);
  p.pread(fd, b, 2 * P);
  out.push(`memfd byte at page 2 by pread: ${b[0]!.toString(16)}`);
  const ro = p.mmap(null, P, M.PROT_READ, M.MAP_SHARED, fd, 0).addr;
  adv('REMOVE memfd shared read-only', ro, P, M.MADV_REMOVE);
  adv('WILLNEED memfd shared', m.addr, P, M.MADV_WILLNEED);
  adv('WIPEONFORK memfd shared', m.addr, P, M.MADV_WIPEONFORK);
  adv('COLLAPSE memfd shared', m.addr, P, M.MADV_COLLAPSE);
  adv('COLD memfd shared', m.addr, P, M.MADV_COLD);

  const l = p.mmap(null, 2 * P, RW, ANON, -1);
  l.bytes!.fill(0x55);
  res('mlock', () => p.mlock(l.addr, 2 * P));
  adv('DONTNEED locked', l.addr, P, M.MADV_DONTNEED);
  adv('FREE locked', l.addr, P, M.MADV_FREE);
  adv('DONTNEED_LOCKED locked', l.addr, P, M.MADV_DONTNEED_LOCKED);
  bytes('locked', l, 2);
  return out;
}

const TRACED = /^madvise\(/;
const calls = (lines: readonly string[]): string[] => lines.filter((l) => TRACED.test(l)).map((l) => l.replace(/0x[0-9a-f]{6,}/g, 'ADDR').replace(/\s+= /, ' = '));

function nobody(): { host: Host; p: Process } {
  const host = Host.create();
  return { host, p: host.spawn({ uid: 65534, gid: 65534, rlimits: { [RLIMIT_MEMLOCK]: [16 * 4096, 16 * 4096] } }) };
}

describe('madvise: the model against this machine\'s kernel', () => {
  const skip = oracleSkip('madvise-oracle', ['root'], true);
  it.skipIf(skip !== undefined)('every advice on every kind of mapping returns what the kernel returns and leaves the memory as it does; strace prints the calls alike', () => {
    const { host, p } = nobody();
    expectSameAsOracle(join(here, 'madvise-oracle.c'), host, () => modelLines(p), ['-e', 'trace=madvise'], calls);
  });
});

describe('madvise: what the oracle cannot show', () => {
  it('device mappings (VM_IO|VM_PFNMAP) refuse the advice that needs pages; the rest is accepted', () => {
    const o = openDevice(EDU, GROUP.edu);
    const bar = o.p.mmap(null, 0x100000, RW, M.MAP_SHARED, o.device, 0);
    for (const advice of [M.MADV_DONTNEED, M.MADV_FREE, M.MADV_COLD, M.MADV_PAGEOUT, M.MADV_DOFORK, M.MADV_DODUMP, M.MADV_POPULATE_READ]) {
      expectErrno(() => o.p.madvise(bar.addr, P, advice), 'EINVAL');
    }
    // MADV_REMOVE: a shared writable mapping, but of a file without fallocate (not a regular file).
    expectErrno(() => o.p.madvise(bar.addr, P, M.MADV_REMOVE), 'ENODEV');
    for (const advice of [M.MADV_DONTFORK, M.MADV_DONTDUMP, M.MADV_WILLNEED, M.MADV_NORMAL]) o.p.madvise(bar.addr, P, advice);
  });

  it('MADV_COLLAPSE needs an aligned 2 MiB in the kernel\'s VMA, and anonymous memory written once; shmem qualifies as it is', () => {
    // Measured on this machine's 6.18 (the second review's probes): an untouched anonymous mapping is
    // EINVAL until a byte is written, even for a one-page range; memfd and shared anonymous 4 MiB
    // mappings collapse; two adjacent 1 MiB anonymous mappings are one VMA and may hold the page.
    const p = Host.create().spawn();
    const big = p.mmap(null, 6 << 20, RW, ANON, -1);
    expectErrno(() => p.madvise(big.addr, P, M.MADV_COLLAPSE), 'EINVAL');
    big.write8(5 << 20, 1);
    p.madvise(big.addr, P, M.MADV_COLLAPSE);
    // Another protection, so that it does not merge with the mapping above it.
    const small = p.mmap(null, (2 << 20) - P, RW | M.PROT_EXEC, ANON, -1);
    small.write8(0, 1);
    expectErrno(() => p.madvise(small.addr, P, M.MADV_COLLAPSE), 'EINVAL');
    const shared = p.mmap(null, 4 << 20, RW, M.MAP_SHARED | M.MAP_ANONYMOUS, -1);
    p.madvise(shared.addr, P, M.MADV_COLLAPSE);
    const fd = p.memfdCreate('thp', 0);
    p.ftruncate(fd, 4 << 20);
    p.madvise(p.mmap(null, 4 << 20, M.PROT_READ, M.MAP_PRIVATE, fd, 0).addr, P, M.MADV_COLLAPSE);
    // Two 1 MiB anonymous mappings placed one under the other: one VMA of 2 MiB, aligned or not.
    const hi = p.mmap(0x40200000, 1 << 20, RW, ANON | M.MAP_FIXED, -1);
    const lo = p.mmap(0x40100000, 1 << 20, RW, ANON | M.MAP_FIXED, -1);
    hi.write8(0, 1);
    expectErrno(() => p.madvise(lo.addr, P, M.MADV_COLLAPSE), 'EINVAL');
    p.mmap(0x40000000, 1 << 20, RW, ANON | M.MAP_FIXED, -1);
    p.madvise(lo.addr, P, M.MADV_COLLAPSE);
  });

  it('pages VFIO pinned stay the device\'s when MADV_DONTNEED drops them: the guest sees zeros, the device its old data', () => {
    const o = openDevice(EDU, GROUP.edu);
    const { p, container } = o;
    const ram = p.mmap(null, 4 * P, RW, ANON, -1);
    ram.bytes!.fill(0xaa);
    p.ioctl(container, V.VFIO_IOMMU_MAP_DMA, V.vfio_iommu_type1_dma_map.encode({ argsz: 32, flags: V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE, vaddr: ram.addr, iova: 0x100000, size: 4 * P }));
    // A balloon inflating over page 1.
    p.madvise(ram.addr + P, P, M.MADV_DONTNEED);
    expect(ram.read8(P)).toBe(0);
    const edu = o.host.control.pci.edu();
    const d = new Uint8Array(1);
    expect(edu.dmaRead(0x101000, d)).toBe(true);
    expect(d[0]).toBe(0xaa);
    // The guest reuses the page; the device's writes go to the old one and are lost to it.
    ram.write8(P, 0x11);
    expect(edu.dmaWrite(0x101000, Uint8Array.of(0x77))).toBe(true);
    expect(ram.read8(P)).toBe(0x11);
    expect(edu.dmaRead(0x101000, d)).toBe(true);
    expect(d[0]).toBe(0x77);
    // Pages outside the advice are still shared both ways, and unmapping the DMA range returns all of it.
    expect(edu.dmaWrite(0x102000, Uint8Array.of(0x66))).toBe(true);
    expect(ram.read8(2 * P)).toBe(0x66);
    const unmap = V.vfio_iommu_type1_dma_unmap.encode({ argsz: 24, flags: 0, iova: 0x100000, size: 4 * P });
    p.ioctl(container, V.VFIO_IOMMU_UNMAP_DMA, unmap);
    expect(V.vfio_iommu_type1_dma_unmap.view(unmap).size).toBe(BigInt(4 * P));
    expect(edu.dmaRead(0x101000, d)).toBe(false);
  });
});
