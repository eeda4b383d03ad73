// eventfd against fs/eventfd.c: unit rules, then a model-based property over random sequences of
// reads, writes, kernel-side signals and polls with every flag combination.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Host, SyscallError, type PollFd } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { EventFdFile } from '../../src/linux/eventfd.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from '../../include-ts/linux/eventfd.js';
import { POLLERR, POLLIN, POLLOUT } from '../../include-ts/linux/poll.js';
import { F_GETFD, F_GETFL, FD_CLOEXEC, O_NONBLOCK, O_RDWR } from '../../include-ts/linux/fcntl.js';
import { fcParams } from '../support/runs.js';

const MAX = 2n ** 64n - 1n;
const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};
const readU64 = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
const errno = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
  return 'OK';
};

describe('eventfd (fs/eventfd.c)', () => {
  const setup = (init = 0, flags = EFD_NONBLOCK) => {
    const p = Host.create().spawn();
    return { p, fd: p.eventfd(init, flags) };
  };

  it('reads return the counter and zero it; semaphore reads return 1', () => {
    const { p, fd } = setup(5);
    const b = new Uint8Array(8);
    expect(p.read(fd, b)).toBe(8);
    expect(readU64(b)).toBe(5n);
    expect(errno(() => p.read(fd, b))).toBe('EAGAIN');
    const s = p.eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    p.read(s, b);
    expect(readU64(b)).toBe(1n);
    p.read(s, b);
    expect(errno(() => p.read(s, b))).toBe('EAGAIN');
  });

  it('needs at least 8 bytes; larger buffers are accepted and use the first 8 (fs/eventfd.c: count < sizeof(ucnt))', () => {
    const { p, fd } = setup(0);
    expect(errno(() => p.write(fd, new Uint8Array(4)))).toBe('EINVAL');
    expect(errno(() => p.read(fd, new Uint8Array(7)))).toBe('EINVAL');
    const big = new Uint8Array(16);
    big[0] = 3;
    expect(p.write(fd, big)).toBe(8);
    const out = new Uint8Array(16).fill(0xee);
    expect(p.read(fd, out)).toBe(8);
    expect(readU64(out)).toBe(3n);
    expect(out[8]).toBe(0xee);
  });

  it('refuses a write of 0xffffffffffffffff and would block at 0xfffffffffffffffe', () => {
    const { p, fd } = setup(0);
    expect(errno(() => p.write(fd, u64(MAX)))).toBe('EINVAL');
    expect(p.write(fd, u64(MAX - 1n))).toBe(8);
    expect(errno(() => p.write(fd, u64(1n)))).toBe('EAGAIN');
    expect(p.poll([{ fd, events: POLLIN | POLLOUT }], 0)).toBe(1);
  });

  it('kernel-side eventfd_signal saturates at ULLONG_MAX and reports POLLERR', () => {
    const { p, fd } = setup(0);
    p.write(fd, u64(MAX - 1n));
    const ctx = (p.fileOrNull(fd) as EventFdFile).ctx;
    ctx.signal();
    ctx.signal();
    expect(ctx.count).toBe(MAX);
    const pfd: PollFd[] = [{ fd, events: POLLIN | POLLOUT }];
    p.poll(pfd, 0);
    expect(pfd[0]!.revents).toBe(POLLIN | POLLERR);
  });

  it('rejects unknown flags with EINVAL and maps EFD_CLOEXEC/EFD_NONBLOCK onto the fd', () => {
    const p = Host.create().spawn();
    expect(errno(() => p.eventfd(0, 0x40))).toBe('EINVAL');
    const fd = p.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    expect(p.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
    expect(p.fcntl(fd, F_GETFL)).toBe(O_RDWR | O_NONBLOCK);
  });

  it('has no file position: pread/pwrite fail with ESPIPE', () => {
    const { p, fd } = setup(1);
    expect(errno(() => p.pread(fd, new Uint8Array(8), 0))).toBe('ESPIPE');
    expect(errno(() => p.pwrite(fd, u64(1n), 0))).toBe('ESPIPE');
  });

  it('a blocking read of an empty eventfd fails with EINTR instead of hanging, and the async form waits', async () => {
    const { p, fd } = setup(0, 0);
    expect(errno(() => p.read(fd, new Uint8Array(8)))).toBe('EINTR');
    const b = new Uint8Array(8);
    const pending = p.readAsync(fd, b);
    setImmediate(() => p.write(fd, u64(4n)));
    expect(await pending).toBe(8);
    expect(readU64(b)).toBe(4n);
  });

  it('closing the last fd wakes kernel waiters with POLLHUP', () => {
    const { p, fd } = setup(0);
    const ctx = (p.fileOrNull(fd) as EventFdFile).ctx;
    const masks: number[] = [];
    ctx.wqh.add({ wake: (m) => { masks.push(m); } });
    const d = p.dup(fd);
    p.close(fd);
    expect(masks).toEqual([]);
    p.close(d);
    expect(masks).toEqual([0x10]);
  });
});

// ---- model-based property ---------------------------------------------------------------------

interface Model {
  count: bigint;
  readonly sem: boolean;
  nonblock: boolean;
}
interface Real {
  p: Process;
  fd: number;
}

const outcome = (f: () => number): string => {
  try {
    return `ok:${f()}`;
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
};

class WriteCmd implements fc.Command<Model, Real> {
  constructor(readonly v: bigint, readonly len: number) {}
  check() { return true; }
  run(m: Model, r: Real) {
    const buf = new Uint8Array(this.len);
    if (this.len >= 8) buf.set(u64(this.v));
    const got = outcome(() => r.p.write(r.fd, buf));
    let want: string;
    if (this.len < 8 || this.v === MAX) want = 'EINVAL';
    else if (m.count + this.v >= MAX) want = m.nonblock ? 'EAGAIN' : 'EINTR';
    else {
      m.count += this.v;
      want = 'ok:8';
    }
    expect(got).toBe(want);
  }
  toString() { return `write(${this.v}, len=${this.len})`; }
}

class ReadCmd implements fc.Command<Model, Real> {
  constructor(readonly len: number) {}
  check() { return true; }
  run(m: Model, r: Real) {
    const buf = new Uint8Array(this.len);
    const got = outcome(() => r.p.read(r.fd, buf));
    if (this.len < 8) return void expect(got).toBe('EINVAL');
    if (m.count === 0n) return void expect(got).toBe(m.nonblock ? 'EAGAIN' : 'EINTR');
    const want = m.sem ? 1n : m.count;
    m.count -= want;
    expect(got).toBe('ok:8');
    expect(readU64(buf)).toBe(want);
  }
  toString() { return `read(len=${this.len})`; }
}

class SignalCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    (r.p.fileOrNull(r.fd) as EventFdFile).ctx.signal();
    if (m.count < MAX) m.count += 1n;
  }
  toString() { return 'eventfd_signal()'; }
}

class PollCmd implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    const pfd: PollFd[] = [{ fd: r.fd, events: POLLIN | POLLOUT }];
    r.p.poll(pfd, 0);
    let want = 0;
    if (m.count > 0n) want |= POLLIN;
    if (m.count === MAX) want |= POLLERR;
    if (MAX - 1n > m.count) want |= POLLOUT;
    expect(pfd[0]!.revents).toBe(want);
  }
  toString() { return 'poll()'; }
}

class ToggleNonblock implements fc.Command<Model, Real> {
  check() { return true; }
  run(m: Model, r: Real) {
    m.nonblock = !m.nonblock;
    r.p.fcntl(r.fd, 4 /* F_SETFL */, m.nonblock ? O_NONBLOCK : 0);
  }
  toString() { return 'fcntl(F_SETFL, toggle O_NONBLOCK)'; }
}

const value = fc.oneof(
  fc.bigInt({ min: 0n, max: 10n }),
  fc.constantFrom(MAX, MAX - 1n, MAX - 2n, 2n ** 63n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n),
  fc.bigInt({ min: 0n, max: MAX }),
);

describe('eventfd vs a reference model (property)', () => {
  it('agrees on every result and counter value', () => {
    const cmds = [
      fc.tuple(value, fc.constantFrom(8, 8, 8, 4, 16)).map(([v, l]) => new WriteCmd(v, l)),
      fc.constantFrom(8, 8, 7, 32).map((l) => new ReadCmd(l)),
      fc.constant(new SignalCmd()),
      fc.constant(new PollCmd()),
      fc.constant(new ToggleNonblock()),
    ];
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.commands(cmds, { maxCommands: 60 }), (sem, nonblock, init, seq) => {
        const p = Host.create().spawn();
        const fd = p.eventfd(init, (sem ? EFD_SEMAPHORE : 0) | (nonblock ? EFD_NONBLOCK : 0));
        fc.modelRun(() => ({ model: { count: BigInt(init), sem, nonblock }, real: { p, fd } }), seq);
      }),
      fcParams(300),
    );
  });
});
