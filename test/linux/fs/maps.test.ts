// /proc/<pid>/maps (fs/proc/task_mmu.c show_map_vma; src/linux/fs/proc-maps.ts). maps-oracle.c fills a
// reserved 64-page window with MAP_FIXED mappings of each kind a VMM makes (private and shared
// anonymous memory, a memfd shared and private, a tmpfs file, a KVM vCPU's kvm_run, PROT_NONE, mlock'd
// and unmapped pages) and prints the maps lines inside it with page offsets for addresses; the model
// must print the same lines: the same VMA splits and merges, permissions, offsets, devices, names and
// name column (inode numbers differ between the two and are compared as zero or not).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { O_CREAT, O_RDWR, O_TRUNC } from '../../../include-ts/linux/fcntl.js';
import * as M from '../../../include-ts/linux/mman.js';
import * as K from '../../../include-ts/linux/kvm.js';
import { COracle, oracleSkip } from '../../support/c-oracle.js';
import { openDevice, EDU, GROUP } from '../../support/vfio.js';

const here = dirname(fileURLToPath(import.meta.url));
const P = 4096;
const RW = M.PROT_READ | M.PROT_WRITE;
const ANON = M.MAP_PRIVATE | M.MAP_ANONYMOUS;
const LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]{2}):([0-9a-f]{2}) (\d+) (.*)$/;

/** The oracle's view of the maps lines inside [base, base + 64 pages). */
function window(maps: string, base: number): string[] {
  const out: string[] = [];
  for (const l of maps.split('\n')) {
    const m = LINE.exec(l);
    if (!m) continue;
    const s = parseInt(m[1]!, 16);
    const e = parseInt(m[2]!, 16);
    if (e <= base || s >= base + 64 * P) continue;
    const rest = m[8]!.trimStart();
    const col = rest === '' ? -1 : l.length - rest.length;
    out.push(`${(s - base) / P}-${(e - base) / P} ${m[3]} ${parseInt(m[4]!, 16).toString(16)} ${m[5]}:${m[6]} ${m[7] === '0' ? '0' : 'N'} col ${col} ${rest}`);
  }
  return out;
}

function modelLines(p: Process): string[] {
  const R = p.mmap(null, 64 * P, M.PROT_NONE, ANON, -1).addr;
  const at = (page: number, pages: number, prot: number, flags: number, fd: number, off = 0) => p.mmap(R + page * P, pages * P, prot, flags | M.MAP_FIXED, fd, off);
  at(0, 2, RW, ANON, -1);
  at(2, 2, RW, ANON, -1);
  at(6, 4, RW, ANON, -1);
  p.mlock(R + 7 * P, P);
  at(10, 2, RW, M.MAP_SHARED | M.MAP_ANONYMOUS, -1);
  const m = p.memfdCreate('maps', 0);
  p.ftruncate(m, 8 * P);
  at(12, 4, RW, M.MAP_SHARED, m, 0);
  at(16, 2, M.PROT_READ, M.MAP_PRIVATE, m, 2 * P);
  const t = p.open('/dev/vks-maps-oracle', O_CREAT | O_RDWR | O_TRUNC, 0o600);
  p.ftruncate(t, 2 * P);
  at(18, 2, M.PROT_READ, M.MAP_SHARED, t, 0);
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vcpu = p.ioctl(p.ioctl(kvm, K.KVM_CREATE_VM, 0), K.KVM_CREATE_VCPU, 0);
  at(20, 3, RW, M.MAP_SHARED, vcpu, 0);
  at(24, 1, RW, M.MAP_SHARED, m, 0);
  at(25, 1, RW, M.MAP_SHARED, m, P);
  at(26, 2, RW, ANON, -1);
  p.munmap(R + 27 * P, P);
  at(28, 1, M.PROT_WRITE, ANON, -1);
  at(29, 1, M.PROT_READ | M.PROT_EXEC, ANON, -1);
  return window(p.readFile('/proc/self/maps'), R);
}

describe('/proc/<pid>/maps: the model against this machine\'s kernel', () => {
  const skip = oracleSkip('maps-oracle', ['root', 'kvm']);
  it.skipIf(skip !== undefined)('every VMA split and merge, permission, offset, device, name and name column is the kernel\'s', () => {
    const oracle = new COracle(join(here, 'maps-oracle.c'));
    try {
      // Lines of nameless mappings end in a space: only the last newline is dropped.
      const real = oracle.run().replace(/\n$/, '').split('\n');
      expect(modelLines(Host.create().spawn())).toEqual(real);
    } finally {
      oracle.dispose();
    }
  });
});

describe('/proc/<pid>/maps: what the oracle cannot show', () => {
  it('a VFIO BAR mapping is anon_inode:[vfio-device] at its region offset, and never merges with its neighbours', () => {
    const o = openDevice(EDU, GROUP.edu);
    const bar = o.p.mmap(null, 0x100000, RW, M.MAP_SHARED, o.device, 0);
    const lines = o.p.readFile('/proc/self/maps').split('\n');
    const line = lines.find((l) => l.startsWith(bar.addr.toString(16).padStart(8, '0')));
    expect(line).toMatch(/^[0-9a-f]+-[0-9a-f]+ rw-s 00000000 00:10 \d+ +anon_inode:\[vfio-device\]$/);
    expect(line!.indexOf('anon_inode')).toBe(73);
    // The line ends at the BAR's end, not at an adjacent anonymous mapping.
    expect(parseInt(line!.split('-')[1]!, 16) - bar.addr).toBe(0x100000);
  });

  it('is 0444, owned by the process, and renders afresh at each read', () => {
    const p = Host.create().spawn({ uid: 1000, gid: 1000 });
    const st = p.stat(`/proc/${p.pid}/maps`);
    expect([st.st_mode & 0o777, st.st_uid]).toEqual([0o444, 1000]);
    const before = p.readFile('/proc/self/maps');
    p.mmap(null, P, M.PROT_READ, ANON, -1);
    expect(p.readFile('/proc/self/maps').split('\n').length).toBe(before.split('\n').length + 1);
  });
});
