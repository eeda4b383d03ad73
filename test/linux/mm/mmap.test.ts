// mmap(2)'s argument checks in do_mmap's order (arch/x86 sys_mmap, mm/mmap.c ksys_mmap_pgoff, do_mmap,
// __get_unmapped_area, round_hint_to_min, security/commoncap.c cap_mmap_addr): mmap-oracle.c makes the
// same calls on this machine's kernel, as root and then as uid 65534; results and strace lines must match
// (addresses aside; strace 6.1 has no name for MAP_DROPPABLE, which a newer strace prints).
import { describe, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import * as M from '../../../include-ts/linux/mman.js';
import { REAL_CAPS, expectSameAsOracle, oracleSkip, resultCode } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const RW = M.PROT_READ | M.PROT_WRITE;
const ANON = M.MAP_PRIVATE | M.MAP_ANONYMOUS;

function modelLines(host: Host, root: Process): string[] {
  const out: string[] = [];
  let p = root;
  const r = (w: string, f: () => unknown) => out.push(`${w}: ${resultCode(() => (f(), 0)).replace(/^0$/, 'ok')}`);
  const map = (addr: number | null, len: number, prot: number, flags: number, fd = -1) => () => p.mmap(addr, len, prot, flags, fd, 0);
  r('prot PROT_READ|0x10', map(null, 4096, M.PROT_READ | 0x10, ANON));
  r('prot 0x10', map(null, 4096, 0x10, ANON));
  r('anonymous type 0xf', map(null, 4096, M.PROT_READ, 0xf | M.MAP_ANONYMOUS));
  r('anonymous MAP_DROPPABLE', map(null, 4096, M.PROT_READ, M.MAP_DROPPABLE | M.MAP_ANONYMOUS));
  r('anonymous MAP_SHARED_VALIDATE', map(null, 4096, M.PROT_READ, M.MAP_SHARED_VALIDATE | M.MAP_ANONYMOUS));
  r('anonymous MAP_HUGETLB', map(null, 2 << 20, RW, ANON | M.MAP_HUGETLB));
  r('anonymous MAP_HUGETLB|MAP_NORESERVE 2 MiB pages', map(null, 2 << 20, RW, ANON | M.MAP_HUGETLB | M.MAP_NORESERVE | (21 << 26)));
  r('anonymous shared MAP_HUGETLB', map(null, 2 << 20, RW, M.MAP_SHARED | M.MAP_ANONYMOUS | M.MAP_HUGETLB));
  r('anonymous MAP_HUGETLB of 64 KiB pages', map(null, 2 << 20, RW, ANON | M.MAP_HUGETLB | (16 << 26)));
  const fd = p.memfdCreate('mmap', 0);
  p.ftruncate(fd, 8192);
  r('memfd MAP_HUGETLB', map(null, 4096, M.PROT_READ, M.MAP_SHARED | M.MAP_HUGETLB, fd));
  r('memfd MAP_SHARED_VALIDATE', map(null, 4096, M.PROT_READ, M.MAP_SHARED_VALIDATE, fd));
  r('memfd MAP_SHARED_VALIDATE|MAP_SYNC', map(null, 4096, M.PROT_READ, M.MAP_SHARED_VALIDATE | M.MAP_SYNC, fd));
  r('memfd MAP_SHARED_VALIDATE|MAP_FIXED_NOREPLACE', map(null, 4096, M.PROT_READ, M.MAP_SHARED_VALIDATE | M.MAP_FIXED_NOREPLACE, fd));
  r('memfd MAP_SHARED_VALIDATE|30<<MAP_HUGE_SHIFT|MAP_POPULATE', map(null, 4096, M.PROT_READ, M.MAP_SHARED_VALIDATE | (30 << 26) | M.MAP_POPULATE, fd));
  r('memfd MAP_SHARED|MAP_SYNC', map(null, 4096, M.PROT_READ, M.MAP_SHARED | M.MAP_SYNC, fd));
  r('memfd MAP_DROPPABLE', map(null, 4096, M.PROT_READ, M.MAP_DROPPABLE, fd));
  const a = p.mmap(null, 8192, M.PROT_READ, ANON, -1, 0).addr;
  r('MAP_FIXED_NOREPLACE over a mapping', map(a + 4096, 8192, M.PROT_READ, ANON | M.MAP_FIXED_NOREPLACE));
  r('MAP_FIXED_NOREPLACE unaligned', map(a + 1, 4096, M.PROT_READ, ANON | M.MAP_FIXED_NOREPLACE));
  p.munmap(a, 8192);
  const b = p.mmap(a, 4096, M.PROT_READ, ANON | M.MAP_FIXED_NOREPLACE | M.MAP_STACK | M.MAP_NONBLOCK, -1, 0).addr;
  out.push(`MAP_FIXED_NOREPLACE on a free range: ${b === a ? 'there' : 'elsewhere'}`);
  r('MAP_FIXED ending past the user address space, unaligned', map(0x7ffffffff001, 8192, M.PROT_READ, ANON | M.MAP_FIXED));
  r('MAP_FIXED at 0x1000 as root', map(0x1000, 4096, M.PROT_READ, ANON | M.MAP_FIXED));
  p.munmap(0x1000, 4096);
  // setgid/setuid(65534): the same address space under another process's credentials.
  p = host.spawn({ uid: 65534, gid: 65534 });
  r('MAP_FIXED at 0x1000 as uid 65534', map(0x1000, 4096, M.PROT_READ, ANON | M.MAP_FIXED));
  r('MAP_FIXED at 0 as uid 65534', map(0, 4096, M.PROT_READ, ANON | M.MAP_FIXED));
  r('MAP_FIXED at 0x800 as uid 65534', map(0x800, 4096, M.PROT_READ, ANON | M.MAP_FIXED));
  p.munmap(0x1000, 4096);
  const h = p.mmap(0x2000, 4096, M.PROT_READ, ANON, -1, 0).addr;
  out.push(`hint 0x2000: ${h === 0x10000 ? 'raised to 0x10000' : h === 0x2000 ? 'taken' : 'elsewhere'}`);
  const h2 = p.mmap(0x10, 4096, M.PROT_READ, ANON, -1, 0).addr;
  out.push(`hint 0x10: ${h2 === 0x10000 ? 'raised to 0x10000' : 'elsewhere'}`);
  return out;
}

/** The oracle's own mmap calls (from the first with an unknown prot bit), addresses and padding left out. */
function calls(lines: readonly string[]): string[] {
  const mm = lines.filter((l) => l.startsWith('mmap('));
  return mm.slice(mm.findIndex((l) => l.includes('PROT_READ|0x10')))
    .map((l) => l.replace(/0x[0-9a-f]{6,}/g, 'ADDR').replace('0x8 /* MAP_??? */', 'MAP_DROPPABLE').replace(/\s+= /, ' = ').replace(/^mmap\(([^,]*), (\d+), (.*), \d+, 0\)/, (_m, a: string, n: string, rest: string) => `mmap(${a}, ${n}, ${rest}, FD, 0)`));
}

describe('mmap: the model against this machine\'s kernel', () => {
  const skip = oracleSkip('mmap-oracle', ['root'], true);
  it.skipIf(skip !== undefined)('every check comes in do_mmap\'s order with the kernel\'s errno; strace prints the calls alike', () => {
    const host = Host.create();
    const root = host.spawn({ capabilities: REAL_CAPS });
    expectSameAsOracle(join(here, 'mmap-oracle.c'), host, () => modelLines(host, root), ['-e', 'trace=mmap'], calls);
  });
});
