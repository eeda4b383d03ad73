// Property (model-based): pages a device has pinned against a reference model of who sees what
// (src/linux/mm/pins.ts; mm/gup.c FOLL_LONGTERM, mm/madvise.c, mm/shmem.c; measured on this machine's
// kernel with io_uring's registered buffers, the same long-term pin, by the second review). A VMM maps
// 8 pages of private anonymous memory and 8 pages of a memfd for the edu device's DMA through Type1, the
// anonymous ones twice (two IOVA windows over pages 2-5). Random sequences of stores by the process, DMA
// writes by the device (through either window), MADV_DONTNEED, hole punches, truncations and regrowth of
// the memfd; after every step the first, an inner and the last byte of each page must read, from the
// process and from the device through every window, what the reference says: the same byte while the page is still the pinned one, and from the
// moment the process dropped it, the device's old page and the process's new one apart.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../../include-ts/linux/falloc.js';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { fcParams } from '../../support/runs.js';
import { EDU, GROUP, V, openDevice } from '../../support/vfio.js';

const P = 4096;
const PAGES = 8;
/** IOVA windows: the anonymous pages at A, pages 2-5 of them again at A2, the memfd at F. */
const A = 0x100000;
const A2 = 0x300000;
const F = 0x200000;

type Area = 'anon' | 'memfd';
type Op =
  | { kind: 'store'; area: Area; page: number; at: number; value: number }
  | { kind: 'dma'; area: Area; page: number; at: number; value: number; second: boolean }
  | { kind: 'dontneed'; page: number; n: number }
  | { kind: 'punch'; page: number; n: number }
  | { kind: 'truncate'; pages: number };

/** The bytes of a page the property writes and reads: its first, one inside, its last (splits show at the edges). */
const OFFSETS = [0, 7, P - 1] as const;

/** One page as the reference sees it: the process's bytes, the device's, and whether they are one page. */
interface RPage {
  proc: number[];
  dev: number[];
  shared: boolean;
}

const fresh = (): RPage[] => Array.from({ length: PAGES }, () => ({ proc: [0, 0, 0], dev: [0, 0, 0], shared: true }));

/** The process drops page `p`: the device keeps what the page held; the process gets a zero page. */
function drop(p: RPage): void {
  if (p.shared) p.dev = [...p.proc];
  p.shared = false;
  p.proc = [0, 0, 0];
}

const area = fc.constantFrom<Area>('anon', 'memfd');
const page = fc.integer({ min: 0, max: PAGES - 1 });
const at = fc.integer({ min: 0, max: OFFSETS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('store' as const), area, page, at, value: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('dma' as const), area, page, at, value: fc.integer({ min: 1, max: 255 }), second: fc.boolean() }),
  fc.record({ kind: fc.constant('dontneed' as const), page, n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('punch' as const), page, n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('truncate' as const), pages: fc.integer({ min: 0, max: PAGES - 1 }) }),
);

function run(ops: readonly Op[]): void {
  const o = openDevice(EDU, GROUP.edu);
  const { p, container } = o;
  const edu = o.host.control.pci.edu();
  const map = (vaddr: number, iova: number, size: number) =>
    p.ioctl(container, V.VFIO_IOMMU_MAP_DMA, V.vfio_iommu_type1_dma_map.encode({ argsz: 32, flags: V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE, vaddr, iova, size }));
  const anon = p.mmap(null, PAGES * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const fd = p.memfdCreate('ram', 0);
  p.ftruncate(fd, PAGES * P);
  const mem = p.mmap(null, PAGES * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  map(anon.addr, A, PAGES * P);
  map(anon.addr + 2 * P, A2, 4 * P);
  map(mem.addr, F, PAGES * P);
  const ref: Record<Area, RPage[]> = { anon: fresh(), memfd: fresh() };
  const mapping = { anon, memfd: mem };
  const one = new Uint8Array(1);
  const devRead = (iova: number): number => {
    expect(edu.dmaRead(iova, one)).toBe(true);
    return one[0]!;
  };
  const check = (step: number) => {
    for (const a of ['anon', 'memfd'] as const) {
      for (let i = 0; i < PAGES; i++) {
        const r = ref[a][i]!;
        OFFSETS.forEach((off, k) => {
          const where = `after step ${step}, ${a} page ${i} byte ${off}`;
          expect(mapping[a].read8(i * P + off), `${where}: the process`).toBe(r.proc[k]);
          expect(devRead((a === 'anon' ? A : F) + i * P + off), `${where}: the device`).toBe(r.dev[k]);
          if (a === 'anon' && i >= 2 && i < 6) expect(devRead(A2 + (i - 2) * P + off), `${where}: the device's second window`).toBe(r.dev[k]);
        });
      }
    }
  };
  ops.forEach((x, step) => {
    switch (x.kind) {
      case 'store': {
        mapping[x.area].write8(x.page * P + OFFSETS[x.at]!, x.value);
        const r = ref[x.area][x.page]!;
        r.proc[x.at] = x.value;
        if (r.shared) r.dev[x.at] = x.value;
        break;
      }
      case 'dma': {
        const second = x.area === 'anon' && x.second && x.page >= 2 && x.page < 6;
        const iova = second ? A2 + (x.page - 2) * P : (x.area === 'anon' ? A : F) + x.page * P;
        expect(edu.dmaWrite(iova + OFFSETS[x.at]!, Uint8Array.of(x.value))).toBe(true);
        const r = ref[x.area][x.page]!;
        r.dev[x.at] = x.value;
        if (r.shared) r.proc[x.at] = x.value;
        break;
      }
      case 'dontneed': {
        const n = Math.min(x.n, PAGES - x.page);
        p.madvise(anon.addr + x.page * P, n * P, MADV_DONTNEED);
        // The memfd mapping is shared: MADV_DONTNEED there would keep the data, so only the anonymous pages.
        for (let i = x.page; i < x.page + n; i++) drop(ref.anon[i]!);
        break;
      }
      case 'punch': {
        const n = Math.min(x.n, PAGES - x.page);
        p.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, x.page * P, n * P);
        for (let i = x.page; i < x.page + n; i++) drop(ref.memfd[i]!);
        break;
      }
      case 'truncate':
        p.ftruncate(fd, x.pages * P);
        p.ftruncate(fd, PAGES * P);
        for (let i = x.pages; i < PAGES; i++) drop(ref.memfd[i]!);
        break;
    }
    check(step);
  });
}

describe('pinned pages (property, vs a reference model)', () => {
  it('the process and the device see one page until the process drops it, then each keeps its own', () => {
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => run(ops)), fcParams(60));
  });

  it('a fixed sequence: the device keeps the first page it pinned through two drops, and a copy keeps both windows together', () => {
    run([
      { kind: 'store', area: 'anon', page: 3, at: 0, value: 9 },
      { kind: 'dontneed', page: 3, n: 1 },
      { kind: 'store', area: 'anon', page: 3, at: 2, value: 5 },
      { kind: 'dma', area: 'anon', page: 3, at: 1, value: 7, second: true },
      { kind: 'dontneed', page: 2, n: 2 },
      { kind: 'store', area: 'memfd', page: 6, at: 2, value: 4 },
      { kind: 'truncate', pages: 6 },
      { kind: 'dma', area: 'memfd', page: 6, at: 0, value: 8, second: false },
    ]);
  });
});
