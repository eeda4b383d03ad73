// fd allocation (fs/file.c alloc_fd: lowest free descriptor; dup2 replaces; close frees), checked
// against a reference model on random sequences; /proc/self/fd must list exactly the model's fds.
// The model also knows which open file description each fd holds, the oracle for F_DUPFD_QUERY
// (fs/fcntl.c f_dupfd_query: 1 iff both fds hold the same struct file, EBADF if either is not open).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Host, SyscallError } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { F_DUPFD, F_DUPFD_QUERY, O_RDWR } from '../../include-ts/linux/fcntl.js';
import { fcParams } from '../support/runs.js';

/** Each open fd and the open file description (an id) it holds. */
type Model = { open: Map<number, number>; nextDesc: number };
type Real = { p: Process };

const lowestFree = (s: ReadonlyMap<number, unknown>): number => {
  let fd = 0;
  while (s.has(fd)) fd++;
  return fd;
};
const code = (f: () => unknown): string => {
  try {
    f();
    return 'OK';
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
};

const check = (m: Model, r: Real) => expect(r.p.readdir('/proc/self/fd').map(Number).sort((a, b) => a - b)).toEqual([...m.open.keys()].sort((a, b) => a - b));

class OpenCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    const want = lowestFree(m.open);
    expect(r.p.open('/dev/null', O_RDWR)).toBe(want);
    m.open.set(want, m.nextDesc++);
    check(m, r);
  }
  toString() { return 'open(/dev/null)'; }
}
class EventfdCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    const want = lowestFree(m.open);
    expect(r.p.eventfd(0, 0)).toBe(want);
    m.open.set(want, m.nextDesc++);
    check(m, r);
  }
  toString() { return 'eventfd()'; }
}
class PipeCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    const a = lowestFree(m.open);
    m.open.set(a, m.nextDesc++);
    const b = lowestFree(m.open);
    m.open.set(b, m.nextDesc++);
    expect(r.p.pipe()).toEqual([a, b]);
    check(m, r);
  }
  toString() { return 'pipe()'; }
}
class CloseCmd implements fc.Command<Model, Real> {
  constructor(readonly fd: number) {}
  check() { return true; }
  run(m: Model, r: Real) {
    expect(code(() => r.p.close(this.fd))).toBe(m.open.has(this.fd) ? 'OK' : 'EBADF');
    m.open.delete(this.fd);
    check(m, r);
  }
  toString() { return `close(${this.fd})`; }
}
class DupCmd implements fc.Command<Model, Real> {
  constructor(readonly fd: number) {}
  check() { return true; }
  run(m: Model, r: Real) {
    if (!m.open.has(this.fd)) return void expect(code(() => r.p.dup(this.fd))).toBe('EBADF');
    const want = lowestFree(m.open);
    expect(r.p.dup(this.fd)).toBe(want);
    m.open.set(want, m.open.get(this.fd)!);
    check(m, r);
  }
  toString() { return `dup(${this.fd})`; }
}
class Dup2Cmd implements fc.Command<Model, Real> {
  constructor(readonly from: number, readonly to: number) {}
  check() { return true; }
  run(m: Model, r: Real) {
    if (!m.open.has(this.from)) return void expect(code(() => r.p.dup2(this.from, this.to))).toBe('EBADF');
    expect(r.p.dup2(this.from, this.to)).toBe(this.to);
    m.open.set(this.to, m.open.get(this.from)!);
    check(m, r);
  }
  toString() { return `dup2(${this.from}, ${this.to})`; }
}
class DupfdQueryCmd implements fc.Command<Model, Real> {
  constructor(readonly fd: number, readonly other: number) {}
  check() { return true; }
  run(m: Model, r: Real) {
    const a = m.open.get(this.fd);
    const b = m.open.get(this.other);
    let same = -1;
    expect(code(() => (same = r.p.fcntl(this.fd, F_DUPFD_QUERY, this.other)))).toBe(a === undefined || b === undefined ? 'EBADF' : 'OK');
    if (a !== undefined && b !== undefined) expect(same).toBe(a === b ? 1 : 0);
    check(m, r);
  }
  toString() { return `fcntl(${this.fd}, F_DUPFD_QUERY, ${this.other})`; }
}

describe('fd allocation vs a reference model (property)', () => {
  it('hands out the lowest free fd and tracks closes, dups and dup2s; F_DUPFD_QUERY agrees with the model', () => {
    const fdArb = fc.integer({ min: 0, max: 12 });
    const cmds = [
      fc.constant(new OpenCmd()),
      fc.constant(new EventfdCmd()),
      fc.constant(new PipeCmd()),
      fdArb.map((fd) => new CloseCmd(fd)),
      fdArb.map((fd) => new DupCmd(fd)),
      fc.tuple(fdArb, fdArb).map(([a, b]) => new Dup2Cmd(a, b)),
      fc.tuple(fdArb, fdArb).map(([a, b]) => new DupfdQueryCmd(a, b)),
    ];
    fc.assert(
      fc.property(fc.commands(cmds, { maxCommands: 50 }), (seq) => {
        const p = Host.create().spawn();
        // fds 0, 1 and 2 share one open /dev/null (Process opens it once and installs it three times).
        fc.modelRun(() => ({ model: { open: new Map([[0, 0], [1, 0], [2, 0]]), nextDesc: 1 }, real: { p } }), seq);
      }),
      fcParams(200),
    );
  });

  it('fails with EMFILE at RLIMIT_NOFILE (1024) and keeps state unchanged', () => {
    const p = Host.create().spawn();
    for (let i = 3; i < 1024; i++) p.eventfd(0, 0);
    expect(code(() => p.eventfd(0, 0))).toBe('EMFILE');
    expect(code(() => p.open('/dev/null', O_RDWR))).toBe('EMFILE');
    expect(code(() => p.pipe())).toBe('EMFILE');
    expect(p.readdir('/proc/self/fd').length).toBe(1024);
    p.close(500);
    expect(p.eventfd(0, 0)).toBe(500);
  });

  it('a raised RLIMIT_NOFILE (spawn({ nofile }), as QEMU raises its soft limit) moves every bound with it', () => {
    // fs/file.c: alloc_fd() stops at rlimit(RLIMIT_NOFILE) (EMFILE); ksys_dup3() rejects newfd >= the
    // limit with EBADF; f_dupfd() rejects a minimum >= the limit with EINVAL.
    const p = Host.create().spawn({ nofile: 1500 });
    for (let i = 3; i < 1500; i++) p.eventfd(0, 0);
    expect(code(() => p.eventfd(0, 0))).toBe('EMFILE');
    p.close(1400);
    expect(p.dup2(3, 1400)).toBe(1400);
    expect(code(() => p.dup2(3, 1500))).toBe('EBADF');
    p.close(1499);
    expect(p.fcntl(3, F_DUPFD, 1200)).toBe(1499);
    expect(code(() => p.fcntl(3, F_DUPFD, 1500))).toBe('EINVAL');
  });
});
