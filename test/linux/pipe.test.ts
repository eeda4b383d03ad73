// pipe(2) (fs/pipe.c) against this machine's kernel and rule by rule.
//
// The comparison: pipe-oracle.c runs scripts of pipe calls (writes and reads of chosen sizes, packet
// mode, FIONREAD, F_GETPIPE_SZ/F_SETPIPE_SZ, poll and epoll on both ends, dup and close) with the raw
// syscalls; pipe-script.ts runs them on the model; the printed results (return values, errnos, hashes of
// the bytes read, poll and epoll events) must be equal line for line. Fixed scripts pin the rules one by
// one; random scripts (fast-check) cover their interleavings and shrink to the shortest differing
// script. Measured on Linux 6.18 (Debian: CONFIG_WATCH_QUEUE off) with strace 6.1. The per-user page
// limits would need the machine's sysctls changed, so they are checked against the source only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../src/index.js';
import { F_GETPIPE_SZ, F_SETPIPE_SZ, O_CLOEXEC, O_DIRECT, O_NONBLOCK } from '../../include-ts/linux/fcntl.js';
import { O_NOTIFICATION_PIPE } from '../../include-ts/linux/watch_queue.js';
import { expectErrno } from '../support/vfio.js';
import { runPipeScript } from './pipe-script.js';
import { fcParams } from '../support/runs.js';
import { COracle, oracleSkip, REAL_CAPS, STRACE } from '../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));

// The model's process gets this machine's capabilities (REAL_CAPS): F_SETPIPE_SZ checks CAP_SYS_RESOURCE,
// which this VM's root lacks.
const ORACLE_SKIP = oracleSkip('pipe', [], true);

const NB = O_NONBLOCK.toString(16);
const NB_DIRECT = (O_NONBLOCK | O_DIRECT).toString(16);

const PACKETS = 'packet mode (O_DIRECT): no merging, a read takes one packet and drops what does not fit';
const SIZES = 'F_GETPIPE_SZ and F_SETPIPE_SZ: powers of two, EBUSY below the occupancy, EPERM past pipe-max-size, EINVAL past 2^31';

const SCRIPTS: Readonly<Record<string, readonly string[]>> = {
  'capacity is 16 slots, not 65536 bytes: a read that empties no buffer frees no room': [
    `pipe r w ${NB}`, 'w w 65535', 'w w 1', 'w w 1', 'poll w', 'r r 1', 'poll w', 'w w 1', 'nread r', 'r r 4095', 'poll w', 'w w 4097', 'nread r',
  ],
  'a write merges only its sub-page remainder into the last buffer; the rest takes whole pages': [
    `pipe r w ${NB}`, 'w w 100', 'r r 50', 'w w 4046', 'w w 1', 'w w 4097', 'nread r', 'w w 61440', 'w w 5000', 'nread r', 'r r 100000', 'r r 1',
  ],
  'writes of at most PIPE_BUF bytes are all or nothing; larger ones are partial': [
    `pipe r w ${NB}`, 'w w 61000', 'w w 4096', 'w w 4000', 'w w 8192', 'nread r', 'r r 70000', 'w w 70000', 'w w 1', 'r r 5',
  ],
  'zero-length calls return 0 before EPIPE and EAGAIN; EOF once the last writer is gone': [
    `pipe r w ${NB}`, 'r r 0', 'r r 1', 'close r', 'w w 0', 'w w 1', 'poll w', 'reset', `pipe r w ${NB}`, 'w w 3', 'close w', 'poll r', 'r r 10', 'r r 10',
  ],
  [PACKETS]: [
    `pipe r w ${NB_DIRECT}`, 'getfl w', 'getfl r', 'w w 10', 'w w 10', 'w w 5000', 'nread r', 'r r 4', 'r r 100', 'r r 10000', 'r r 10000', 'r r 10',
    `setfl w ${NB}`, 'w w 3', 'w w 3', 'r r 100', `setfl w ${NB_DIRECT}`, 'w w 3', `setfl w ${NB}`, 'w w 3', 'r r 100',
  ],
  [SIZES]: [
    `pipe r w ${NB}`, 'getsz r', 'getsz w', 'setsz w 0', 'getsz r', 'w w 4096', 'w w 1', 'setsz r 5000', 'w w 4096', 'w w 1', 'setsz r 4096', 'nread r',
    'setsz r 1048576', 'setsz r 1048577', 'setsz r 2147483648', 'setsz r 2147483649', 'setsz r -1', 'getsz r', 'w w 200000', 'setsz w 65536', 'getsz w',
  ],
  'wakeups: a read wakes writers only when it frees a slot of a full pipe, a write wakes readers even when it fails': [
    'ep e', `pipe r w ${NB}`, 'ctl e add w 80000004 1', 'ctl e add r 80000001 2', 'wait e 8', 'w w 1', 'wait e 8', 'r r 1', 'wait e 8',
    'w w 65536', 'wait e 8', 'r r 100', 'wait e 8', 'r r 3996', 'wait e 8', 'w w 4096', 'w w 1', 'wait e 8', 'wait e 8',
  ],
  'closing the last reader or writer wakes both ends with no key; closing a dup does not': [
    'ep e', `pipe r w ${NB}`, 'ctl e add r 80000001 1', 'w w 1', 'wait e 8', 'dup w w2', 'close w2', 'wait e 8', 'close w', 'wait e 8', 'wait e 8',
    `pipe r2 w3 ${NB}`, 'ctl e add w3 80000004 3', 'wait e 8', 'dup r2 r3', 'close r3', 'wait e 8', 'close r2', 'wait e 8', 'w w3 1', 'poll w3',
  ],
  'F_SETPIPE_SZ wakes the write end with no key': [
    'ep e', `pipe r w ${NB}`, 'ctl e add w 80000004 1', 'ctl e add r 80000001 2', 'wait e 8', 'setsz w 8192', 'wait e 8', 'setsz r 4096', 'wait e 8',
  ],
  'pipe2 flags: O_DIRECT is packet mode for the write end only, O_NOTIFICATION_PIPE is ENOPKG without CONFIG_WATCH_QUEUE, others EINVAL': [
    `pipe r w ${(O_DIRECT | O_CLOEXEC).toString(16)}`, 'getfl r', 'getfl w', `pipe a b ${O_NOTIFICATION_PIPE.toString(16)}`, 'pipe a b 1', 'pipe a b 2', 'pipe a b 40',
  ],
};

/** A random script: a pipe and an epoll watching both ends, then writes, reads and the rest in any order. */
const scriptArb = fc
  .tuple(
    fc.constantFrom(NB, NB_DIRECT),
    fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(0, 1, 100, 4095, 4096, 4097, 8191, 20000, 65536, 70000).map((n) => `w w ${n}`) },
        { weight: 5, arbitrary: fc.constantFrom(0, 1, 50, 4096, 5000, 65536, 100000).map((n) => `r r ${n}`) },
        { weight: 1, arbitrary: fc.constantFrom('nread r', 'poll r', 'poll w', 'getsz w') },
        { weight: 1, arbitrary: fc.constantFrom(0, 4096, 8192, 12000, 65536, 1048576, 2097152).map((n) => `setsz w ${n}`) },
        { weight: 1, arbitrary: fc.constantFrom(NB, NB_DIRECT).map((f) => `setfl w ${f}`) },
        { weight: 3, arbitrary: fc.constant('wait e 8') },
        { weight: 1, arbitrary: fc.constantFrom('dup w w2', 'close w2', 'dup r r2', 'close r2', 'close w', 'close r') },
      ),
      { maxLength: 40 },
    ),
  )
  .map(([flags, body]) => ['ep e', `pipe r w ${flags}`, 'ctl e add r 80000001 1', 'ctl e add w 80000004 2', ...body]);

function oracle(o: COracle, script: readonly string[]): string[] {
  return o.run([], `${script.join('\n')}\n`).trim().split('\n');
}

function model(script: readonly string[]): string[] {
  return runPipeScript(Host.create().spawn({ capabilities: REAL_CAPS }), script);
}

describe.skipIf(ORACLE_SKIP !== undefined)('pipes: the model against this machine\'s kernel (fs/pipe.c)', () => {
  let bin!: COracle;
  beforeAll(() => {
    bin = new COracle(join(here, 'pipe-oracle.c'));
  });
  afterAll(() => bin.dispose());

  for (const [name, script] of Object.entries(SCRIPTS)) {
    it(name, () => {
      const label = (rs: string[]) => rs.map((r, i) => `${script[i]} -> ${r}`);
      expect(label(model(script))).toEqual(label(oracle(bin, script)));
    });
  }

  it('random scripts of writes, reads, resizes, mode switches, dups, closes and epoll waits (property): every line as the kernel prints it', () => {
    fc.assert(
      fc.property(scriptArb, (script) => {
        expect(model(script)).toEqual(oracle(bin, script));
      }),
      fcParams(120),
    );
  });

  it.skipIf(!STRACE)('strace prints pipe2 and the pipe fcntls as it does for the kernel', () => {
    const script = [...SCRIPTS[PACKETS]!, ...SCRIPTS[SIZES]!.slice(1)];
    const real = bin.strace(['-e', 'trace=pipe2,fcntl'], [], `${script.join('\n')}\n`).trace.trim().split('\n').filter((l) => /^(pipe2|fcntl)\(/.test(l)).map((l) => l.replace(/\s+= /, ' = '));
    const host = Host.create();
    const lines: string[] = [];
    const stop = host.strace((l) => { if (/^(pipe2|fcntl)\(/.test(l)) lines.push(l); });
    runPipeScript(host.spawn({ capabilities: REAL_CAPS }), script);
    stop();
    // fd numbers differ (the oracle has stdio open): compare with the numbers renamed in order of appearance.
    const renumber = (ls: string[]) => {
      const map = new Map<string, string>();
      return ls.map((l) => l.replace(/(?<=^fcntl\(|\[|, )(\d+)(?=[,\]])/g, (d) => map.get(d) ?? (map.set(d, `fd${map.size}`), `fd${map.size - 1}`)));
    };
    expect(renumber(lines)).toEqual(renumber(real));
  });
});
if (!STRACE) console.warn('pipe: strace is not installed: the strace comparison is skipped');

describe('pipes: rules checked against fs/pipe.c', () => {
  it('F_GETPIPE_SZ/F_SETPIPE_SZ on anything but a pipe is EBADF (pipe_fcntl: get_pipe_info() is NULL)', () => {
    const p = Host.create().spawn();
    const efd = p.eventfd(0, 0);
    expectErrno(() => p.fcntl(efd, F_GETPIPE_SZ), 'EBADF');
    expectErrno(() => p.fcntl(efd, F_SETPIPE_SZ, 8192), 'EBADF');
  });

  it('/proc/sys/fs/pipe-max-size bounds F_SETPIPE_SZ without CAP_SYS_RESOURCE, and new pipes (alloc_pipe_info)', () => {
    const host = Host.create();
    const root = host.spawn();
    expect(root.readFile('/proc/sys/fs/pipe-max-size')).toBe('1048576\n');
    expect(root.readFile('/proc/sys/fs/pipe-user-pages-soft')).toBe('16384\n');
    expect(root.readFile('/proc/sys/fs/pipe-user-pages-hard')).toBe('0\n');
    // Written values are rounded up to a power of two, at least a page.
    root.writeFile('/proc/sys/fs/pipe-max-size', '20000\n');
    expect(root.readFile('/proc/sys/fs/pipe-max-size')).toBe('32768\n');
    expectErrno(() => root.writeFile('/proc/sys/fs/pipe-max-size', '4294967295'), 'EINVAL');
    expectErrno(() => root.writeFile('/proc/sys/fs/pipe-max-size', 'lots'), 'EINVAL');
    // A new pipe is capped at pipe-max-size without CAP_SYS_RESOURCE; with it, 16 pages as always.
    const nobody = host.spawn({ uid: 65534, gid: 65534 });
    expect(nobody.fcntl(nobody.pipe()[0], F_GETPIPE_SZ)).toBe(32768);
    expect(root.fcntl(root.pipe()[0], F_GETPIPE_SZ)).toBe(65536);
    const [r] = nobody.pipe();
    expectErrno(() => nobody.fcntl(r, F_SETPIPE_SZ, 65536), 'EPERM');
    expect(nobody.fcntl(r, F_SETPIPE_SZ, 4096)).toBe(4096);
    expect(nobody.fcntl(r, F_SETPIPE_SZ, 32768)).toBe(32768);
  });

  it('per-user pages: past the soft limit an unprivileged user\'s new pipes get 2 slots and cannot grow; the hard limit is ENFILE', () => {
    const host = Host.create();
    const root = host.spawn();
    const nobody = host.spawn({ uid: 65534, gid: 65534 });
    root.writeFile('/proc/sys/fs/pipe-user-pages-soft', '40');
    const a = nobody.pipe();
    const b = nobody.pipe();
    expect(host.kernel.pipeLimits.userPages(65534)).toBe(32);
    const c = nobody.pipe(); // 48 pages > 40: this one is cut to PIPE_MIN_DEF_BUFFERS
    expect(nobody.fcntl(c[0], F_GETPIPE_SZ)).toBe(8192);
    expect(host.kernel.pipeLimits.userPages(65534)).toBe(34);
    expectErrno(() => nobody.fcntl(c[0], F_SETPIPE_SZ, 65536), 'EPERM'); // 34 - 2 + 16 pages > 40
    expect(host.kernel.pipeLimits.userPages(65534)).toBe(34); // reverted
    // Shrinking is always allowed, and closing both ends gives the pages back.
    expect(nobody.fcntl(a[0], F_SETPIPE_SZ, 4096)).toBe(4096);
    nobody.close(a[0]);
    expect(host.kernel.pipeLimits.userPages(65534)).toBe(19);
    nobody.close(a[1]);
    expect(host.kernel.pipeLimits.userPages(65534)).toBe(18);
    // Root (CAP_SYS_ADMIN) is not limited, and its pages are its own.
    expect(root.fcntl(root.pipe()[0], F_GETPIPE_SZ)).toBe(65536);
    root.writeFile('/proc/sys/fs/pipe-user-pages-hard', '20');
    expectErrno(() => nobody.pipe(), 'ENFILE');
    expect(host.kernel.pipeLimits.userPages(65534)).toBe(18);
    nobody.close(b[0]);
    nobody.close(b[1]);
    nobody.close(c[0]);
    nobody.close(c[1]);
    expect(host.kernel.pipeLimits.userPages(65534)).toBe(0);
  });

  it('a pipe2 that fails for want of a second fd frees both ends (__do_pipe_flags)', () => {
    const host = Host.create();
    const p = host.spawn({ nofile: 6 });
    p.pipe(); // fds 3 and 4 (stdio is open): the next pipe gets its read end and no write end
    const before = host.kernel.pipeLimits.userPages(0);
    expectErrno(() => p.pipe(), 'EMFILE');
    expect(host.kernel.pipeLimits.userPages(0)).toBe(before);
    expectErrno(() => p.pipe(O_NOTIFICATION_PIPE), 'ENOPKG');
    expect(host.kernel.pipeLimits.userPages(0)).toBe(before);
  });
});
