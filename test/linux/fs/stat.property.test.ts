// What stat reports for a tmpfs file as it is written, truncated and time passes (model-based,
// fc.commands), against a reference of the rules: i_size is the end of the furthest write (mm/shmem.c
// shmem_write_end()), st_blocks 8 per page ever written since the last truncate (shmem's i_blocks in
// 512-byte units; holes take none), mtime = ctime = the virtual time of the last non-empty write
// (file_update_time() after generic_write_checks() let a non-empty write through) or O_TRUNC
// (do_truncate()'s ATTR_MTIME|ATTR_CTIME, applied even to an empty file), atime the creation time
// (reads are not modelled as touching it); stat(path) and fstat(fd) agree (fs/stat.c).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { S_IFREG } from '../../../include-ts/linux/stat.js';
import { O_CREAT, O_RDWR, O_TRUNC, O_WRONLY } from '../../../include-ts/linux/fcntl.js';
import { fcParams } from '../../support/runs.js';

const PATH = '/dev/stat-prop';
const PAGE = 4096;

interface Model {
  size: number;
  pages: Set<number>;
  now: number;
  atime: number;
  mtime: number;
}
interface Real {
  host: Host;
  p: Process;
  fd: number;
}

function check(m: Model, r: Real): void {
  const st = r.p.fstat(r.fd);
  expect(r.p.stat(PATH)).toEqual(st);
  expect(st.st_mode).toBe(S_IFREG | 0o644);
  expect(st.st_nlink).toBe(1);
  expect(st.st_size).toBe(m.size);
  expect(st.st_blocks).toBe(8 * m.pages.size);
  expect(st.st_blksize).toBe(PAGE);
  expect(st.st_mtime * 1e9 + st.st_mtime_nsec).toBe(m.mtime);
  expect([st.st_ctime, st.st_ctime_nsec]).toEqual([st.st_mtime, st.st_mtime_nsec]);
  expect(st.st_atime * 1e9 + st.st_atime_nsec).toBe(m.atime);
}

class WriteCmd implements fc.Command<Model, Real> {
  constructor(readonly off: number, readonly len: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.p.pwrite(r.fd, new Uint8Array(this.len).fill(7), this.off);
    if (this.len > 0) {
      m.size = Math.max(m.size, this.off + this.len);
      for (let pg = Math.floor(this.off / PAGE); pg <= Math.floor((this.off + this.len - 1) / PAGE); pg++) m.pages.add(pg);
      m.mtime = m.now;
    }
    check(m, r);
  }
  toString = () => `pwrite(${this.len} bytes at ${this.off})`;
}

class TruncCmd implements fc.Command<Model, Real> {
  check = () => true;
  run(m: Model, r: Real): void {
    r.p.close(r.p.open(PATH, O_WRONLY | O_TRUNC));
    m.size = 0;
    m.pages.clear();
    m.mtime = m.now;
    check(m, r);
  }
  toString = () => 'open(O_TRUNC)';
}

class AdvanceCmd implements fc.Command<Model, Real> {
  constructor(readonly ns: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.host.kernel.sched.advance(this.ns);
    m.now += this.ns;
    check(m, r);
  }
  toString = () => `advance(${this.ns} ns)`;
}

describe('stat of a tmpfs file vs a reference of the shmem rules (model-based, fc.commands)', () => {
  it('size, blocks, mtime/ctime and atime follow every write, truncate and tick; stat(path) = fstat(fd)', () => {
    const cmds = [
      fc.tuple(fc.nat(5 * PAGE), fc.nat(2 * PAGE)).map(([off, len]) => new WriteCmd(off, len)),
      fc.constant(new TruncCmd()),
      fc.integer({ min: 1, max: 3_000_000_000 }).map((ns) => new AdvanceCmd(ns)),
    ];
    fc.assert(
      fc.property(fc.nat(2_000_000_000), fc.commands(cmds, { maxCommands: 30 }), (start, cs) => {
        const host = Host.create();
        host.kernel.sched.advance(start);
        const p = host.spawn();
        const fd = p.open(PATH, O_CREAT | O_RDWR, 0o644);
        const now = host.kernel.sched.now;
        fc.modelRun(() => ({ model: { size: 0, pages: new Set<number>(), now, atime: now, mtime: now }, real: { host, p, fd } }), cs);
      }),
      fcParams(60),
    );
  });
});
