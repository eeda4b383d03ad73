// Property (model-based): mm->locked_vm and the errno of every mlock-family call and mmap against a
// reference model kept as page sets (mm/mlock.c do_mlock, apply_vma_lock_flags, apply_mlockall_flags,
// can_do_mlock; mm/mmap.c mlock_future_ok; the rules mlock-oracle.c compares with this machine's kernel).
// Random sequences, as uid 65534 with RLIMIT_MEMLOCK at 24 pages, of anonymous mmap (MAP_LOCKED or not),
// munmap, mlock, munlock, mlockall and munlockall over a 64-page window the test owns (MAP_FIXED, so the
// reference knows every address). After every step the call's errno and locked_vm are the reference's.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Host } from '../../../src/index.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_LOCKED, MAP_PRIVATE, MCL_CURRENT, MCL_FUTURE, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { RLIMIT_MEMLOCK } from '../../../include-ts/linux/resource.js';
import { resultCode } from '../../support/c-oracle.js';
import { fcParams } from '../../support/runs.js';

const P = 4096;
const WINDOW = 64;
const LIMIT = 24;
/** The window's first page: far below anything else the process maps. */
const BASE = 0x1000_0000;

type Op =
  | { kind: 'mmap'; page: number; n: number; locked: boolean }
  | { kind: 'munmap'; page: number; n: number }
  | { kind: 'mlock'; page: number; n: number }
  | { kind: 'munlock'; page: number; n: number }
  | { kind: 'mlockall'; flags: number }
  | { kind: 'munlockall' };

/** The reference: which pages of the window are mapped and which locked, and MCL_FUTURE. */
class Ref {
  readonly mapped = new Set<number>();
  readonly locked = new Set<number>();
  future = false;

  /** The errno code the step should give ('0' for success), applying its effects. */
  step(x: Op): string {
    const range = (page: number, n: number) => Array.from({ length: n }, (_, i) => page + i);
    switch (x.kind) {
      case 'mmap': {
        const pages = range(x.page, x.n);
        // mlock_future_ok(): counted before MAP_FIXED takes the old pages away.
        if ((x.locked || this.future) && this.locked.size + x.n > LIMIT) return 'E11';
        for (const p of pages) {
          this.locked.delete(p);
          this.mapped.add(p);
          if (x.locked || this.future) this.locked.add(p);
        }
        return '0';
      }
      case 'munmap':
        for (const p of range(x.page, x.n)) {
          this.mapped.delete(p);
          this.locked.delete(p);
        }
        return '0';
      case 'mlock': {
        const pages = range(x.page, x.n);
        const already = pages.filter((p) => this.locked.has(p)).length;
        if (x.n + this.locked.size - already > LIMIT) return 'E12';
        // apply_vma_lock_flags(): in order up to the first hole.
        for (const p of pages) {
          if (!this.mapped.has(p)) return 'E12';
          this.locked.add(p);
        }
        return '0';
      }
      case 'munlock':
        for (const p of range(x.page, x.n)) {
          if (!this.mapped.has(p)) return 'E12';
          this.locked.delete(p);
        }
        return '0';
      case 'mlockall':
        if (x.flags & MCL_CURRENT && this.mapped.size > LIMIT) return 'E12';
        this.future = (x.flags & MCL_FUTURE) !== 0;
        if (x.flags & MCL_CURRENT) for (const p of this.mapped) this.locked.add(p);
        return '0';
      case 'munlockall':
        this.future = false;
        this.locked.clear();
        return '0';
    }
  }
}

const page = fc.integer({ min: 0, max: WINDOW - 1 });
const span = (max: number) => fc.integer({ min: 1, max });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mmap' as const), page, n: span(12), locked: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('munmap' as const), page, n: span(8) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mlock' as const), page, n: span(12) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('munlock' as const), page, n: span(12) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mlockall' as const), flags: fc.constantFrom(MCL_CURRENT, MCL_FUTURE, MCL_CURRENT | MCL_FUTURE) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('munlockall' as const) }) },
);

/** Keeps a step inside the window. */
function clamp(x: Op): Op {
  if ('n' in x) return { ...x, n: Math.min(x.n, WINDOW - x.page) };
  return x;
}

describe('mlock and locked_vm (property, vs a reference model)', () => {
  it('every call\'s errno and locked_vm after it are the reference\'s', () => {
    fc.assert(
      fc.property(fc.array(op.map(clamp), { minLength: 1, maxLength: 30 }), (ops) => {
        const p = Host.create().spawn({ uid: 65534, gid: 65534, rlimits: { [RLIMIT_MEMLOCK]: [LIMIT * P, LIMIT * P] } });
        const ref = new Ref();
        ops.forEach((x, i) => {
          const addr = 'page' in x ? BASE + x.page * P : 0;
          const got = resultCode(() => {
            switch (x.kind) {
              case 'mmap': p.mmap(addr, x.n * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (x.locked ? MAP_LOCKED : 0), -1, 0); break;
              case 'munmap': p.munmap(addr, x.n * P); break;
              case 'mlock': p.mlock(addr, x.n * P); break;
              case 'munlock': p.munlock(addr, x.n * P); break;
              case 'mlockall': p.mlockall(x.flags); break;
              case 'munlockall': p.munlockall(); break;
            }
            return 0;
          });
          const want = ref.step(x);
          expect(got, `step ${i} (${JSON.stringify(x)})`).toBe(want);
          expect(p.mm.lockedVm, `locked_vm after step ${i}`).toBe(ref.locked.size);
        });
      }),
      fcParams(150),
    );
  });
});
