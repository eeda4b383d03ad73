// fd allocation (fs/file.c alloc_fd: lowest free descriptor; dup2 replaces; close frees), checked
// against a reference model on random sequences; /proc/self/fd must list exactly the model's fds.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Host, SyscallError } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { F_DUPFD, O_RDWR } from '../../include-ts/linux/fcntl.js';
import { fcParams } from '../support/runs.js';

type Model = { open: Set<number> };
type Real = { p: Process };

const lowestFree = (s: Set<number>): number => {
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

const check = (m: Model, r: Real) => expect(r.p.readdir('/proc/self/fd').map(Number).sort((a, b) => a - b)).toEqual([...m.open].sort((a, b) => a - b));

class OpenCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    const want = lowestFree(m.open);
    expect(r.p.open('/dev/null', O_RDWR)).toBe(want);
    m.open.add(want);
    check(m, r);
  }
  toString() { return 'open(/dev/null)'; }
}
class EventfdCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    const want = lowestFree(m.open);
    expect(r.p.eventfd(0, 0)).toBe(want);
    m.open.add(want);
    check(m, r);
  }
  toString() { return 'eventfd()'; }
}
class PipeCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    const a = lowestFree(m.open);
    m.open.add(a);
    const b = lowestFree(m.open);
    m.open.add(b);
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
    m.open.add(want);
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
    m.open.add(this.to);
    check(m, r);
  }
  toString() { return `dup2(${this.from}, ${this.to})`; }
}

describe('fd allocation vs a reference model (property)', () => {
  it('hands out the lowest free fd and tracks closes, dups and dup2s', () => {
    const fdArb = fc.integer({ min: 0, max: 12 });
    const cmds = [
      fc.constant(new OpenCmd()),
      fc.constant(new EventfdCmd()),
      fc.constant(new PipeCmd()),
      fdArb.map((fd) => new CloseCmd(fd)),
      fdArb.map((fd) => new DupCmd(fd)),
      fc.tuple(fdArb, fdArb).map(([a, b]) => new Dup2Cmd(a, b)),
    ];
    fc.assert(
      fc.property(fc.commands(cmds, { maxCommands: 50 }), (seq) => {
        const p = Host.create().spawn();
        fc.modelRun(() => ({ model: { open: new Set([0, 1, 2]) }, real: { p } }), seq);
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
