// The per-process part of /proc (fs/proc/base.c, fs/proc/fd.c): /proc/self and /proc/<pid>/fd/<n>,
// whose links name the open file (`anon_inode:[eventfd]`, `/dev/vfio/7`), so tests can check for
// leaked fds the way one does with `ls -l /proc/self/fd`; /proc/<pid>/fdinfo/<n> (fs/proc/fd.c seq_show,
// rendered by fs/fdinfo.ts); /proc/<pid>/limits (proc_pid_limits). System-wide files (/proc/interrupts)
// are added to /proc by their subsystems.

import { kerr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import type { Process } from '../process.js';
import { RLIM_INFINITY, RLIM_NLIMITS } from '../../../include-ts/linux/resource.js';
import { RLIMIT_NAMES } from '../resource.js';
import { attr, dynamicDir, symlink, type Inode } from './vfs.js';
import { fdinfoText } from './fdinfo.js';

/** proc_pid_limits(): `%-25s %-20s %-20s %-10s` rows, "unlimited" for RLIM_INFINITY, no unit column when there is none. */
function limitsText(p: Process): string {
  const val = (v: bigint): string => (v === RLIM_INFINITY ? 'unlimited' : String(v)).padEnd(20);
  let out = `${'Limit'.padEnd(25)} ${'Soft Limit'.padEnd(20)} ${'Hard Limit'.padEnd(20)} ${'Units'.padEnd(10)}\n`;
  for (let r = 0; r < RLIM_NLIMITS; r++) {
    const [name, unit] = RLIMIT_NAMES[r]!;
    out += `${name.padEnd(25)} ${val(p.rlimits.soft(r))} ${val(p.rlimits.hard(r))} ${unit ? `${unit.padEnd(10)}\n` : '\n'}`;
  }
  return out;
}

/** name_to_int(): a decimal fd number without leading zeros ("07" names nothing). */
const FD_NAME = /^(0|[1-9]\d{0,9})$/;

export function initProcfs(kernel: Kernel): void {
  const proc = kernel.vfs.mkdirp('/proc');
  proc.set('self', symlink((ctx) => String(ctx.proc.pid)));
  const pidDir = (pid: number): Inode | undefined => {
    const p = kernel.processes.get(pid);
    if (!p) return undefined;
    const fdDir = dynamicDir(
      () => p.fds.openFds().map(String),
      (name) => {
        const f = FD_NAME.test(name) ? p.fds.get(Number(name)) : undefined;
        return f ? symlink(f.path) : undefined;
      },
      0o500,
    );
    // proc_fdinfo_inode_operations: S_IFDIR|0555; each entry S_IFREG|0444, rendered at each read from
    // offset 0; seq_show() fails with ENOENT once the fd has been closed.
    const fdinfoDir = dynamicDir(
      () => p.fds.openFds().map(String),
      (name) => {
        const fd = Number(name);
        if (!FD_NAME.test(name) || p.fds.get(fd) === undefined) return undefined;
        return attr('procfs', () => {
          const f = p.fds.get(fd);
          if (f === undefined) throw kerr('ENOENT', `fd ${fd} of process ${p.pid} was closed after its fdinfo was opened`);
          return fdinfoText(kernel, p, fd, f);
        }, undefined, 0o444);
      },
      0o555,
    );
    const limits = attr('procfs', () => limitsText(p));
    const entries = new Map<string, Inode>([['fd', fdDir], ['fdinfo', fdinfoDir], ['limits', limits]]);
    return dynamicDir(() => [...entries.keys()], (name) => entries.get(name), 0o555);
  };
  proc.dynamic = {
    list: () => [...kernel.processes.keys()].map(String),
    lookup: (name) => (/^\d+$/.test(name) ? pidDir(Number(name)) : undefined),
  };
}
