// Model-based property: IOMMU_IOAS_MAP / UNMAP / COPY on two IOASes (A with the edu device attached, so its
// areas are pinned into a domain; B without a domain) against a reference model of the IOVA space:
// - MAP at a fixed IOVA: EEXIST on any overlap, else a new area of a new iopt_pages (io_pagetable.c
//   iopt_check_iova);
// - UNMAP: walks the areas intersecting the range in IOVA order, removing whole ones; the first one that
//   reaches outside stops it with ENOENT (those before it stay removed); nothing intersecting is ENOENT;
//   success returns the bytes removed (iopt_unmap_iova_range);
// - COPY: the source range must be contiguously covered (ENOENT), each covered slice becomes an area of the
//   same pages in the destination (iopt_get_pages, iopt_map_pages), EEXIST on overlap;
// - device DMA at any IOVA of A reads exactly the user byte its area maps (or faults);
// - user->locked_vm is, per iopt_pages, the pages its areas in A cover (pages.c: pinned once per pages).
// No real-kernel oracle (no IOMMU on this machine); fast-check prints the seed and the shrunk command list.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../../../support/runs.js';
import type { Process } from '../../../../src/linux/process.js';
import type { SyscallError } from '../../../../src/linux/errors.js';
import { NO_IPC_LOCK, ioasAlloc, ioasCopy, ioasMap, ioasUnmap, openIommufd } from './support.js';

const PG = 0x1000;
const USER_PAGES = 16;

interface Area {
  iova: number; // in pages
  n: number;
  /** The user page the area's first page maps. */
  upage: number;
  /** The iopt_pages (MAP) it belongs to. */
  origin: number;
}

interface Model {
  ioas: [Area[], Area[]];
  origins: number;
}

interface Real {
  ramAddr: number;
  p: Process;
  fd: number;
  ids: [number, number];
  ram: Uint8Array;
  dmaRead: (iova: number) => number | null;
  locked: () => number;
}

const code = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return (e as SyscallError).code;
  }
};

const overlaps = (as: Area[], s: number, n: number) => as.some((a) => a.iova < s + n && s < a.iova + a.n);

class MapCmd implements fc.Command<Model, Real> {
  constructor(readonly which: 0 | 1, readonly page: number, readonly n: number, readonly upage: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const as = m.ioas[this.which];
    const expected = overlaps(as, this.page, this.n) ? 'EEXIST' : 'ok';
    expect(code(() => ioasMap(r.p, r.fd, r.ids[this.which], r.ramAddr + this.upage * PG, this.n * PG, this.page * PG))).toBe(expected);
    if (expected === 'ok') as.push({ iova: this.page, n: this.n, upage: this.upage, origin: m.origins++ });
    checkLocked(m, r);
  }
  toString = () => `map(${'AB'[this.which]}, iova page ${this.page}, ${this.n} pages, user page ${this.upage})`;
}

class UnmapCmd implements fc.Command<Model, Real> {
  constructor(readonly which: 0 | 1, readonly page: number, readonly n: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const as = m.ioas[this.which];
    const hit = as.filter((a) => a.iova < this.page + this.n && this.page < a.iova + a.n).sort((a, b) => a.iova - b.iova);
    let removed = 0;
    let expected = hit.length ? 'ok' : 'ENOENT';
    for (const a of hit) {
      if (a.iova < this.page || a.iova + a.n > this.page + this.n) {
        expected = 'ENOENT';
        break;
      }
      as.splice(as.indexOf(a), 1);
      removed += a.n;
    }
    let got = -1n;
    expect(code(() => (got = ioasUnmap(r.p, r.fd, r.ids[this.which], this.page * PG, this.n * PG)))).toBe(expected);
    if (expected === 'ok') expect(got).toBe(BigInt(removed * PG));
    checkLocked(m, r);
  }
  toString = () => `unmap(${'AB'[this.which]}, iova page ${this.page}, ${this.n} pages)`;
}

class CopyCmd implements fc.Command<Model, Real> {
  constructor(readonly src: 0 | 1, readonly dst: 0 | 1, readonly page: number, readonly n: number, readonly dstPage: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const dst = this.dst;
    const from = m.ioas[this.src];
    const slices: Area[] = [];
    let cur = this.page;
    const end = this.page + this.n;
    while (cur < end) {
      const a = from.find((x) => x.iova <= cur && cur < x.iova + x.n);
      if (!a) break;
      const stop = Math.min(end, a.iova + a.n);
      slices.push({ iova: this.dstPage + (cur - this.page), n: stop - cur, upage: a.upage + (cur - a.iova), origin: a.origin });
      cur = stop;
    }
    const expected = cur < end ? 'ENOENT' : overlaps(m.ioas[dst], this.dstPage, this.n) ? 'EEXIST' : 'ok';
    expect(code(() => ioasCopy(r.p, r.fd, r.ids[dst], r.ids[this.src], this.page * PG, this.n * PG, this.dstPage * PG))).toBe(expected);
    if (expected === 'ok') m.ioas[dst].push(...slices);
    checkLocked(m, r);
  }
  toString = () => `copy(${'AB'[this.src]} -> ${'AB'[this.dst]}, iova page ${this.page}, ${this.n} pages, to page ${this.dstPage})`;
}

class DmaCmd implements fc.Command<Model, Real> {
  constructor(readonly page: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const a = m.ioas[0].find((x) => x.iova <= this.page && this.page < x.iova + x.n);
    const want = a ? r.ram[(a.upage + this.page - a.iova) * PG + 8]! : null;
    expect(r.dmaRead(this.page * PG + 8)).toBe(want);
  }
  toString = () => `deviceDma(A, iova page ${this.page})`;
}

/** user->locked_vm: per iopt_pages, the user pages its areas in A cover. Checked after every command. */
function checkLocked(m: Model, r: Real): void {
  {
    const byOrigin = new Map<number, Set<number>>();
    for (const a of m.ioas[0]) {
      const s = byOrigin.get(a.origin) ?? new Set<number>();
      for (let i = 0; i < a.n; i++) s.add(a.upage + i);
      byOrigin.set(a.origin, s);
    }
    let n = 0;
    for (const s of byOrigin.values()) n += s.size;
    expect(r.locked()).toBe(n);
  }
}

describe('IOAS MAP/UNMAP/COPY vs an IOVA-space model (model-based, fc.commands)', () => {
  it('errnos, unmapped byte counts, device DMA through the domain and pinned-page accounting follow the model', () => {
    const which = fc.constantFrom<0 | 1>(0, 1);
    const page = fc.nat(15);
    const len = fc.integer({ min: 1, max: 4 });
    const upage = fc.nat(USER_PAGES - 6);
    const cmds = [
      fc.tuple(which, page, len, upage).map(([w, a, n, u]) => new MapCmd(w, a, n, u)),
      fc.tuple(which, page, len).map(([w, a, n]) => new UnmapCmd(w, a, n)),
      fc.tuple(which, which, page, len, page).map(([w, v, a, n, d]) => new CopyCmd(w, v, a, n, d)),
      page.map((a) => new DmaCmd(a)),
    ];
    fc.assert(
      fc.property(fc.commands(cmds, { maxCommands: 60, size: 'medium' }), (cs) => {
        const o = openIommufd({ capabilities: NO_IPC_LOCK });
        const b = ioasAlloc(o.p, o.iommufd);
        for (let i = 0; i < USER_PAGES; i++) o.ram.bytes[i * PG + 8] = 0x40 + i;
        const edu = o.host.control.pci.edu();
        const buf = new Uint8Array(1);
        const real: Real = {
          p: o.p,
          fd: o.iommufd,
          ids: [o.ioas, b],
          ram: o.ram.bytes,
          ramAddr: o.ram.addr,
          dmaRead: (iova) => (edu.dmaRead(iova, buf) ? buf[0]! : null),
          locked: () => o.host.kernel.iommufd.userLockedVm.get(0) ?? 0,
        };
        fc.modelRun(() => ({ model: { ioas: [[], []], origins: 0 } as Model, real }), cs);
      }),
      fcParams(150),
    );
  });
});
