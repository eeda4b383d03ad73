// Resource limits (kernel/sys.c: prlimit64, do_prlimit, check_prlimit_permission; the starting values
// from include/asm-generic/resource.h INIT_RLIMITS and kernel/fork.c fork_init; fs/proc/base.c
// proc_pid_limits for /proc/<pid>/limits; fs/file.c for RLIMIT_NOFILE's bounds), checked against this
// machine's kernel where it can be.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, SyscallError } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { getU64, setU64 } from '../../abi/bytes.js';
import { errnoInfo } from '../../abi/errno.js';
import { F_DUPFD } from '../../include-ts/linux/fcntl.js';
import {
  RLIM_INFINITY, RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_STACK, rlimit64,
} from '../../include-ts/linux/resource.js';
import { expectErrno } from '../support/vfio.js';
import { REAL_CAPS, STRACE, oracleSkip } from '../support/c-oracle.js';

const NOBODY = { uid: 65534, gid: 65534 };
const M = 1024 * 1024;

function lim(cur: bigint | number, max: bigint | number): Uint8Array {
  const b = new Uint8Array(rlimit64.size);
  setU64(b, 0, BigInt(cur));
  setU64(b, 8, BigInt(max));
  return b;
}

function get(p: Process, resource: number, pid = 0): [bigint, bigint] {
  const b = new Uint8Array(16);
  p.prlimit(pid, resource, null, b);
  return [getU64(b, 0), getU64(b, 8)];
}

describe('starting limits (INIT_RLIMITS; fork_init for NPROC on the model\'s 8 GiB machine)', () => {
  it('are init\'s: 8 MiB memlock both ways, 1024/4096 open files, 8 MiB stack soft, no core files', () => {
    const p = Host.create().spawn();
    expect(get(p, RLIMIT_MEMLOCK)).toEqual([8n * 1024n * 1024n, 8n * 1024n * 1024n]);
    expect(get(p, RLIMIT_NOFILE)).toEqual([1024n, 4096n]);
    expect(get(p, RLIMIT_STACK)).toEqual([8n * 1024n * 1024n, RLIM_INFINITY]);
    expect(get(p, RLIMIT_CORE)).toEqual([0n, RLIM_INFINITY]);
    // 8 GiB / (8 * THREAD_SIZE 16 KiB) / 2.
    expect(get(p, RLIMIT_NPROC)).toEqual([32768n, 32768n]);
  });

  it('spawn options set what a parent shell\'s ulimit would', () => {
    const p = Host.create().spawn({ nofile: 8192, rlimits: { [RLIMIT_MEMLOCK]: [64 * 1024, 64 * 1024] } });
    expect(get(p, RLIMIT_NOFILE)).toEqual([8192n, 8192n]);
    expect(get(p, RLIMIT_MEMLOCK)).toEqual([65536n, 65536n]);
  });
});

describe('prlimit64 (do_prlimit)', () => {
  it('checks the resource, then soft <= hard, then fs.nr_open, then CAP_SYS_RESOURCE for a higher hard limit', () => {
    const host = Host.create();
    const p = host.spawn(NOBODY);
    expectErrno(() => p.setrlimit(16, lim(1, 1)), 'EINVAL');
    expectErrno(() => p.setrlimit(RLIMIT_MEMLOCK, lim(2 * M, M)), 'EINVAL');
    expectErrno(() => p.setrlimit(RLIMIT_NOFILE, lim(1024, 1024 * 1024 + 1)), 'EPERM');
    expectErrno(() => host.spawn().setrlimit(RLIMIT_NOFILE, lim(1024, 1024 * 1024 + 1)), 'EPERM');
    const e = expectErrno(() => p.setrlimit(RLIMIT_MEMLOCK, lim(M, 16 * M)), 'EPERM');
    expect(e.message).toMatch(/CAP_SYS_RESOURCE/);
    // Lowering works, and then raising back is refused: the old hard limit is gone.
    p.setrlimit(RLIMIT_MEMLOCK, lim(M, 2 * M));
    expectErrno(() => p.setrlimit(RLIMIT_MEMLOCK, lim(M, 4 * M)), 'EPERM');
    expect(get(p, RLIMIT_MEMLOCK)).toEqual([BigInt(M), BigInt(2 * M)]);
    // The soft limit moves freely below the hard one.
    p.setrlimit(RLIMIT_MEMLOCK, lim(2 * M, 2 * M));
    expect(get(p, RLIMIT_MEMLOCK)).toEqual([BigInt(2 * M), BigInt(2 * M)]);
    // Without CAP_SYS_RESOURCE (a container's root) even uid 0 may not raise one.
    expectErrno(() => host.spawn({ capabilities: 0n }).setrlimit(RLIMIT_MEMLOCK, lim(M, 16 * M)), 'EPERM');
    // Root raises hard limits.
    const r = host.spawn();
    r.setrlimit(RLIMIT_MEMLOCK, lim(RLIM_INFINITY, RLIM_INFINITY));
    expect(get(r, RLIMIT_MEMLOCK)).toEqual([RLIM_INFINITY, RLIM_INFINITY]);
  });

  it('returns the old limit with the new one installed in one call; a failed call changes nothing', () => {
    const p = Host.create().spawn();
    const old = new Uint8Array(16);
    p.prlimit(0, RLIMIT_MEMLOCK, lim(4096, M), old);
    expect([getU64(old, 0), getU64(old, 8)]).toEqual([8n * BigInt(M), 8n * BigInt(M)]);
    expectErrno(() => p.prlimit(0, RLIMIT_MEMLOCK, lim(2 * M, M), old), 'EINVAL');
    expect(get(p, RLIMIT_MEMLOCK)).toEqual([4096n, BigInt(M)]);
  });

  it('another process: ESRCH if there is none, EPERM unless its uid and gid are ours or we have CAP_SYS_RESOURCE', () => {
    const host = Host.create();
    const root = host.spawn();
    const a = host.spawn(NOBODY);
    const b = host.spawn(NOBODY);
    expectErrno(() => a.prlimit(2147483647, RLIMIT_MEMLOCK, null, new Uint8Array(16)), 'ESRCH');
    expectErrno(() => a.prlimit(root.pid, RLIMIT_MEMLOCK, null, new Uint8Array(16)), 'EPERM');
    // Same uid, another gid: check_prlimit_permission compares both.
    expectErrno(() => a.prlimit(host.spawn({ uid: 65534, gid: 100 }).pid, RLIMIT_MEMLOCK, null, new Uint8Array(16)), 'EPERM');
    a.prlimit(b.pid, RLIMIT_MEMLOCK, lim(M, M), null);
    expect(get(b, RLIMIT_MEMLOCK)).toEqual([BigInt(M), BigInt(M)]);
    expect(get(root, RLIMIT_MEMLOCK, a.pid)).toEqual([BigInt(M) * 8n, BigInt(M) * 8n]);
  });

  it('faults: the new limit is read first (EFAULT before EINVAL); a fault writing the old one comes after the change', () => {
    const p = Host.create().spawn();
    expectErrno(() => p.prlimit(0, 99, new Uint8Array(8), null), 'EFAULT');
    expectErrno(() => p.prlimit(0, RLIMIT_MEMLOCK, lim(M, M), new Uint8Array(8)), 'EFAULT');
    expect(get(p, RLIMIT_MEMLOCK)).toEqual([BigInt(M), BigInt(M)]);
  });
});

describe('RLIMIT_NOFILE bounds new descriptors (fs/file.c alloc_fd, dup2, F_DUPFD)', () => {
  it('a lowered soft limit gives EMFILE for new fds while fds above it stay usable', () => {
    const p = Host.create().spawn();
    const fds = Array.from({ length: 5 }, () => p.eventfd(0, 0));
    p.setrlimit(RLIMIT_NOFILE, lim(4, 4096));
    expectErrno(() => p.eventfd(0, 0), 'EMFILE');
    expect(p.write(fds[4]!, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]))).toBe(8);
    expectErrno(() => p.dup2(fds[0]!, 4), 'EBADF');
    expectErrno(() => p.fcntl(fds[0]!, F_DUPFD, 4), 'EINVAL');
    p.setrlimit(RLIMIT_NOFILE, lim(4096, 4096));
    expect(p.eventfd(0, 0)).toBe(8);
  });
});

describe('/proc/<pid>/limits', () => {
  it('lists every limit with its soft and hard value, "unlimited" for RLIM_INFINITY', () => {
    const host = Host.create();
    const p = host.spawn({ rlimits: { [RLIMIT_MEMLOCK]: [65536, 131072] } });
    const text = host.spawn().readFile(`/proc/${p.pid}/limits`);
    const lines = text.split('\n');
    expect(lines).toHaveLength(18);
    expect(lines[0]).toBe('Limit                     Soft Limit           Hard Limit           Units     ');
    expect(lines[9]).toBe('Max locked memory         65536                131072               bytes     ');
    expect(lines[4]).toBe('Max stack size            8388608              unlimited            bytes     ');
    expect(lines[14]).toBe('Max nice priority         0                    0                    ');
  });
});

// The same prlimit64 calls on this machine's kernel and on the model. A C program sets the limits the
// calls touch to the model's starting values (as root), optionally becomes uid 65534, and makes each
// call with the raw syscall, printing the errno or the old limit; under the real strace its lines are
// compared with the model's strace (pointers strace prints as addresses normalized to 0x0). pid "1"
// stands for a root process (init there, a root process in the model), so only errnos are compared
// for it. It also renders /proc/self/limits with every limit set to the model's, for the format.
const ORACLE_C = `#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
static unsigned long long num(const char *s) { return strcmp(s, "inf") == 0 ? ~0ULL : strtoull(s, 0, 0); }
int main(int argc, char **argv) {
  int i = 1;
  struct rlimit64 { unsigned long long cur, max; } r;
  if (strcmp(argv[1], "--limits") == 0) {
    for (int k = 0; k < 16; k++) { r.cur = num(argv[2 + 2 * k]); r.max = num(argv[3 + 2 * k]); if (syscall(SYS_prlimit64, 0, k, &r, 0)) { perror("prlimit64"); return 3; } }
    FILE *f = fopen("/proc/self/limits", "r"); int c; while ((c = fgetc(f)) != EOF) putchar(c); return 0;
  }
  r.cur = 8 << 20; r.max = 8 << 20; syscall(SYS_prlimit64, 0, RLIMIT_MEMLOCK, &r, 0);
  r.cur = 1024; r.max = 4096; syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &r, 0);
  r.cur = 0; r.max = ~0ULL; syscall(SYS_prlimit64, 0, RLIMIT_CORE, &r, 0);
  if (strcmp(argv[1], "--nobody") == 0) { if (setgid(65534) || setuid(65534)) return 2; }
  for (i = 2; i + 4 < argc; i += 5) {
    struct rlimit64 n = { num(argv[i + 2]), num(argv[i + 3]) }, o = { 0, 0 };
    void *np = strcmp(argv[i + 2], "-") == 0 ? 0 : strcmp(argv[i + 2], "fault") == 0 ? (void *)1 : &n;
    void *op = strcmp(argv[i + 4], "0") == 0 ? 0 : strcmp(argv[i + 4], "fault") == 0 ? (void *)1 : &o;
    long ret = syscall(SYS_prlimit64, atoi(argv[i]), (unsigned)strtoul(argv[i + 1], 0, 0), np, op);
    if (ret) printf("%d\\n", errno);
    else if (op && op != (void *)1 && atoi(argv[i]) == 0) printf("OK %llu %llu\\n", o.cur, o.max);
    else printf("OK\\n");
  }
  return 0;
}
`;

/** pid, resource, new soft (- for NULL, fault for a bad pointer), new hard, old (0 NULL, 1 a buffer, fault). */
type Call = readonly [pid: number, resource: number, cur: string, max: string, old: '0' | '1' | 'fault'];
const CALLS: readonly Call[] = [
  [0, RLIMIT_MEMLOCK, '-', '-', '1'],
  [0, RLIMIT_MEMLOCK, '4096', String(8 * M), '1'],
  [0, RLIMIT_MEMLOCK, String(2 * M), String(M), '0'],
  [0, 16, '-', '-', '1'],
  [0, 0xffffffff, '1', '1', '0'],
  [0, RLIMIT_NOFILE, '1024', String(1024 * 1024 + 1), '0'],
  [0, RLIMIT_NOFILE, '1024', String(1024 * 1024), '1'],
  [0, RLIMIT_MEMLOCK, String(M), String(16 * M), '0'],
  [0, RLIMIT_MEMLOCK, String(M), String(M), '1'],
  [0, RLIMIT_MEMLOCK, String(M), String(2 * M), '0'],
  [0, RLIMIT_CORE, 'inf', 'inf', '1'],
  [0, RLIMIT_CORE, '2048', 'inf', '1'],
  [0, 99, 'fault', '-', '0'],
  [0, RLIMIT_MEMLOCK, '8192', String(M), 'fault'],
  [0, RLIMIT_MEMLOCK, '-', '-', '1'],
  [2147483647, 99, '-', '-', '1'],
  [1, 99, '-', '-', '1'],
  [1, RLIMIT_MEMLOCK, '-', '-', '1'],
];

const ORACLE_SKIP = oracleSkip('prlimit64', ['root'], true);

function modelCall(p: Process, initPid: number, [pid, resource, cur, max, old]: Call): string {
  const num = (s: string): bigint => (s === 'inf' ? RLIM_INFINITY : BigInt(s));
  const next = cur === '-' ? null : cur === 'fault' ? new Uint8Array(0) : lim(num(cur), num(max));
  const out = old === '0' ? null : old === 'fault' ? new Uint8Array(0) : new Uint8Array(16);
  try {
    p.prlimit(pid === 1 ? initPid : pid, resource, next, out);
    return out && old === '1' && pid === 0 ? `OK ${getU64(out, 0)} ${getU64(out, 8)}` : 'OK';
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    return String(e.errno);
  }
}

describe('prlimit64: the model against this machine\'s kernel', () => {
  it.skipIf(ORACLE_SKIP !== undefined)('every call gives the real result (root and uid 65534), strace prints it alike, and /proc/self/limits matches byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prlimit-oracle-'));
    try {
      writeFileSync(join(dir, 'oracle.c'), ORACLE_C);
      execFileSync('gcc', ['-O1', '-o', join(dir, 'oracle'), join(dir, 'oracle.c')]);
      const args = CALLS.flatMap((c) => c.map(String));
      for (const who of ['root', 'nobody'] as const) {
        const argv = [who === 'nobody' ? '--nobody' : '--root', ...args];
        const traceFile = join(dir, `${who}.strace`);
        const out = STRACE
          ? execFileSync(STRACE, ['-e', 'trace=prlimit64', '-o', traceFile, join(dir, 'oracle'), ...argv], { encoding: 'utf8' })
          : execFileSync(join(dir, 'oracle'), argv, { encoding: 'utf8' });
        const real = out.trim().split('\n');
        const host = Host.create();
        const init = host.spawn();
        const p = host.spawn(who === 'root' ? { capabilities: REAL_CAPS } : NOBODY);
        const modelLines: string[] = [];
        const stop = host.strace((l) => { if (l.startsWith('prlimit64(')) modelLines.push(l); });
        const model = CALLS.map((c) => modelCall(p, init.pid, c));
        stop();
        const named = (r: string): string => (/^\d+$/.test(r) ? errnoInfo(Number(r)).code : r);
        const show = (rs: string[]): string[] => rs.map((r, i) => `${who} prlimit64(${CALLS[i]!.join(', ')}): ${named(r)}`);
        expect(show(model)).toEqual(show(real));
        if (STRACE) {
          // The calls with pid 0 (the model's pid 1 is another number), pointers as 0x0.
          const realLines = readFileSync(traceFile, 'utf8').trim().split('\n').filter((l) => l.startsWith('prlimit64(')).slice(-CALLS.length)
            .map((l) => l.replace(/\s+= /, ' = ').replace(/(, )0x[0-9a-f]+(?=, |\))/g, '$10x0'));
          const mine = (ls: string[]): string[] => ls.filter((_, i) => CALLS[i]![0] === 0);
          expect(mine(modelLines)).toEqual(mine(realLines));
        }
      }
      // /proc/self/limits with every limit at the model's value.
      const host = Host.create();
      const p = host.spawn();
      const vals = Array.from({ length: 16 }, (_, r) => [p.rlimits.soft(r), p.rlimits.hard(r)].map((v) => (v === RLIM_INFINITY ? 'inf' : String(v)))).flat();
      const realLimits = execFileSync(join(dir, 'oracle'), ['--limits', ...vals], { encoding: 'utf8' });
      expect(p.readFile('/proc/self/limits')).toBe(realLimits);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
