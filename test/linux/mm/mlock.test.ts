// mlock, mlock2, munlock, mlockall, munlockall and mmap's MAP_LOCKED / MCL_FUTURE (mm/mlock.c do_mlock,
// apply_vma_lock_flags, apply_mlockall_flags, can_do_mlock, mlock_future_ok in mm/mmap.c; VmLck from
// fs/proc/task_mmu.c). mlock-oracle.c runs the same steps on this machine's kernel as uid 65534 with
// RLIMIT_MEMLOCK at 16 pages and prints each result and VmLck; the model must print the same lines, and
// strace the same calls (addresses aside: the two address spaces differ).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { setU64 } from '../../../abi/bytes.js';
import { CAP_IPC_LOCK } from '../../../include-ts/linux/capability.js';
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_LOCKED, MAP_PRIVATE, MAP_SHARED, MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT, PROT_NONE, PROT_READ, PROT_WRITE,
} from '../../../include-ts/linux/mman.js';
import { RLIMIT_MEMLOCK, rlimit64 } from '../../../include-ts/linux/resource.js';
import { expectSameAsOracle, oracleSkip, resultCode } from '../../support/c-oracle.js';
import { EDU, GROUP, bindVfio, expectErrno } from '../../support/vfio.js';
import { openVfioDevice } from '../../../examples/lib/vfio.js';

const here = dirname(fileURLToPath(import.meta.url));
const PG = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function nobody(memlockPages = 16): { host: Host; p: Process } {
  const host = Host.create();
  const p = host.spawn({ uid: 65534, gid: 65534, rlimits: { [RLIMIT_MEMLOCK]: [memlockPages * PG, memlockPages * PG] } });
  return { host, p };
}

function memlock(p: Process, soft: number, hard: number): void {
  const b = new Uint8Array(rlimit64.size);
  setU64(b, 0, BigInt(soft));
  setU64(b, 8, BigInt(hard));
  p.setrlimit(RLIMIT_MEMLOCK, b);
}

/** The oracle's steps on the model, printed as it prints them. */
function modelLines(p: Process): string[] {
  const out: string[] = [];
  const res = (what: string, f: () => unknown) => out.push(`${what}: ${resultCode(() => (f(), 0))} VmLck ${p.mm.lockedVm * 4} kB`);
  const a = p.mmap(null, 32 * PG, RW, ANON, -1).addr;
  res('mlock 8 pages', () => p.mlock(a, 8 * PG));
  res('mlock them again', () => p.mlock(a, 8 * PG));
  res('mlock 20 pages (8 locked)', () => p.mlock(a, 20 * PG));
  res('mlock 16 pages (8 locked)', () => p.mlock(a, 16 * PG));
  res('mlock 1 byte more', () => p.mlock(a + 16 * PG, 1));
  res('munlock 4 pages', () => p.munlock(a + 4 * PG, 4 * PG));
  res('mlock 1 byte across a page boundary', () => p.mlock(a + 4 * PG + 4095, 2));
  res('munmap 2 locked pages', () => p.munmap(a, 2 * PG));
  const h = p.mmap(null, 3 * PG, RW, ANON, -1).addr;
  p.munmap(h + PG, PG);
  res('mlock across a hole', () => p.mlock(h, 3 * PG));
  res('munlock across a hole', () => p.munlock(h, 3 * PG));
  res('mlock an unmapped range', () => p.mlock(h + PG, PG));
  res('mlock2 flags 2', () => p.mlock2(a + 20 * PG, PG, 2));
  res('mlock2 MLOCK_ONFAULT', () => p.mlock2(a + 20 * PG, PG, MLOCK_ONFAULT));
  res('mlockall 0', () => p.mlockall(0));
  res('mlockall MCL_ONFAULT', () => p.mlockall(MCL_ONFAULT));
  res('mlockall 8', () => p.mlockall(8));
  res('mlockall MCL_FUTURE', () => p.mlockall(MCL_FUTURE));
  res('mmap 2 pages under MCL_FUTURE', () => p.mmap(null, 2 * PG, RW, ANON, -1));
  res('mmap 8 pages under MCL_FUTURE', () => p.mmap(null, 8 * PG, RW, ANON, -1));
  res('munlockall', () => p.munlockall());
  res('mmap 8 pages after munlockall', () => p.mmap(null, 8 * PG, RW, ANON, -1));
  res('mmap MAP_LOCKED 4 pages', () => p.mmap(null, 4 * PG, RW, ANON | MAP_LOCKED, -1));
  res('mmap MAP_LOCKED 16 pages more', () => p.mmap(null, 16 * PG, RW, ANON | MAP_LOCKED, -1));
  memlock(p, 0, 16 * PG);
  res('mlock with RLIMIT_MEMLOCK 0', () => p.mlock(a + 20 * PG, PG));
  res('munlock with RLIMIT_MEMLOCK 0', () => p.munlock(a + 20 * PG, PG));
  res('mlockall MCL_FUTURE with RLIMIT_MEMLOCK 0', () => p.mlockall(MCL_FUTURE));
  res('mmap MAP_LOCKED with RLIMIT_MEMLOCK 0', () => p.mmap(null, PG, RW, ANON | MAP_LOCKED, -1));
  memlock(p, 100, 16 * PG);
  res('mlock 1 page with RLIMIT_MEMLOCK 100 bytes', () => p.mlock(a + 20 * PG, PG));
  res('mlock 0 bytes with RLIMIT_MEMLOCK 100 bytes', () => p.mlock(a, 0));
  res('mmap MAP_LOCKED of a bad fd', () => p.mmap(null, PG, PROT_READ, MAP_PRIVATE | MAP_LOCKED, 99));
  res('mmap MAP_LOCKED at an unaligned MAP_FIXED address', () => p.mmap(0x10001, PG, PROT_READ, ANON | MAP_FIXED | MAP_LOCKED, -1));
  res('mmap MAP_LOCKED without a mapping type', () => p.mmap(null, PG, PROT_READ, MAP_ANONYMOUS | MAP_LOCKED, -1));
  res('mlockall MCL_FUTURE with RLIMIT_MEMLOCK 100 bytes', () => p.mlockall(MCL_FUTURE));
  res('mmap under MCL_FUTURE with RLIMIT_MEMLOCK 100 bytes', () => p.mmap(null, PG, PROT_READ, ANON, -1));
  res('munlockall', () => p.munlockall());
  res('munlock a range that wraps', () => p.munlock(a, 2n ** 64n - 4096n));
  res('mlock SIZE_MAX bytes', () => p.mlock(a, 2n ** 64n - 1n));
  res('munlock SIZE_MAX bytes', () => p.munlock(a, 2n ** 64n - 1n));
  memlock(p, 16 * PG, 16 * PG);
  const pn = p.mmap(null, 2 * PG, PROT_NONE, ANON, -1).addr;
  res('mlock PROT_NONE', () => p.mlock(pn, 2 * PG));
  const fd = p.memfdCreate('m', 0);
  p.ftruncate(fd, PG);
  const fm = p.mmap(null, 3 * PG, RW, MAP_SHARED, fd).addr;
  res('mlock a memfd mapping past the end of the file', () => p.mlock(fm, 3 * PG));
  p.munlock(fm, 3 * PG);
  res('mlock2 MLOCK_ONFAULT there', () => p.mlock2(fm, 3 * PG, MLOCK_ONFAULT));
  return out;
}

const MLOCK_CALLS = /^(mlock|mlock2|munlock|mlockall|munlockall)\(/;
/** The calls from the first mlock on, addresses and strace's column padding left out. */
function fromFirstMlock(lines: readonly string[]): string[] {
  const first = lines.findIndex((l) => MLOCK_CALLS.test(l));
  return lines.slice(first).filter((l) => MLOCK_CALLS.test(l) || l.startsWith('mmap(') || l.startsWith('munmap('))
    .map((l) => l.replace(/0x[0-9a-f]{6,}/g, 'ADDR').replace(/\s+= /, ' = '));
}

describe('mlock: the model against this machine\'s kernel', () => {
  const skip = oracleSkip('mlock-oracle', ['root'], true);
  it.skipIf(skip !== undefined)('every call returns what the kernel returns and leaves VmLck where the kernel leaves it; strace prints them alike', () => {
    const { host, p } = nobody();
    expectSameAsOracle(join(here, 'mlock-oracle.c'), host, () => modelLines(p), ['-e', 'trace=mlock,mlock2,munlock,mlockall,munlockall,mmap,munmap'], fromFirstMlock);
  });
});

describe('mlock: what the oracle cannot show as uid 65534 after libc has mapped itself', () => {
  it('MCL_CURRENT counts every mapped page (total_vm) against the limit, locks them all, and munlockall unlocks them', () => {
    const { p } = nobody(8);
    const a = p.mmap(null, 6 * PG, RW, ANON, -1).addr;
    p.mmap(null, 2 * PG, RW, ANON, -1);
    p.mlockall(MCL_CURRENT);
    expect(p.mm.lockedVm).toBe(8);
    // MCL_CURRENT alone leaves mm->def_flags clear: a new mapping is not locked.
    p.mmap(null, PG, RW, ANON, -1);
    expect(p.mm.lockedVm).toBe(8);
    expectErrno(() => p.mlockall(MCL_CURRENT), 'ENOMEM');
    p.munmap(a, PG);
    expect(p.mm.lockedVm).toBe(7);
    p.mlockall(MCL_CURRENT | MCL_FUTURE);
    expect(p.mm.lockedVm).toBe(8);
    p.munlockall();
    expect(p.mm.lockedVm).toBe(0);
    expect(p.mmap(null, 16 * PG, RW, ANON, -1).length).toBe(16 * PG);
  });

  it('MCL_FUTURE alone keeps what is locked and what is not', () => {
    const { p } = nobody();
    const a = p.mmap(null, 4 * PG, RW, ANON, -1).addr;
    p.mlock(a, PG);
    p.mlockall(MCL_FUTURE);
    expect(p.mm.lockedVm).toBe(1);
    p.mmap(null, 2 * PG, RW, ANON, -1);
    expect(p.mm.lockedVm).toBe(3);
  });

  it('CAP_IPC_LOCK lifts the limit but still counts; a device mapping (a BAR) is never locked', () => {
    const host = Host.create();
    bindVfio(host.spawn(), EDU);
    const root = host.spawn({ rlimits: { [RLIMIT_MEMLOCK]: [PG, PG] } });
    const ram = root.mmap(null, 64 * PG, RW, ANON, -1);
    root.mlock(ram.addr, 64 * PG);
    expect(root.mm.lockedVm).toBe(64);
    const { device } = openVfioDevice(root, GROUP.edu, EDU);
    const bar = root.mmap(null, 0x100000, RW, MAP_SHARED, device, 0);
    root.mlockall(MCL_CURRENT);
    expect(root.mm.lockedVm).toBe(64);
    root.munlock(bar.addr, 0x100000);
    expect(root.mm.lockedVm).toBe(64);
    const noLock = host.spawn({ capabilities: ((1n << 41n) - 1n) & ~(1n << BigInt(CAP_IPC_LOCK)), rlimits: { [RLIMIT_MEMLOCK]: [PG, PG] } });
    const r = noLock.mmap(null, 2 * PG, RW, ANON, -1);
    expectErrno(() => noLock.mlock(r.addr, 2 * PG), 'ENOMEM');
  });

  it('MAP_LOCKED with MAP_FIXED over locked pages: the old pages leave locked_vm before the new ones are counted', () => {
    const { p } = nobody(4);
    const a = p.mmap(null, 4 * PG, RW, ANON | MAP_LOCKED, -1).addr;
    expect(p.mm.lockedVm).toBe(4);
    // mlock_future_ok() is checked before the old mapping goes: 4 locked + 2 new is over 4.
    expectErrno(() => p.mmap(a, 2 * PG, RW, ANON | MAP_LOCKED | MAP_FIXED, -1), 'EAGAIN');
    p.munlock(a, 2 * PG);
    p.mmap(a, 2 * PG, RW, ANON | MAP_LOCKED | MAP_FIXED, -1);
    expect(p.mm.lockedVm).toBe(4);
  });
});
