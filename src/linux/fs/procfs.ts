// The per-process part of /proc (fs/proc/base.c, fs/proc/fd.c): /proc/self and /proc/<pid>/fd/<n>,
// whose links name the open file (`anon_inode:[eventfd]`, `/dev/vfio/7`), so tests can check for
// leaked fds the way one does with `ls -l /proc/self/fd`; /proc/<pid>/limits (proc_pid_limits). System-wide files (/proc/interrupts) are
// added to /proc by their subsystems.

import type { Kernel } from '../kernel.js';
import type { Process } from '../process.js';
import { RLIM_INFINITY, RLIM_NLIMITS } from '../../../include-ts/linux/resource.js';
import { RLIMIT_NAMES } from '../resource.js';
import { attr, dynamicDir, symlink, type Inode } from './vfs.js';

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

export function initProcfs(kernel: Kernel): void {
  const proc = kernel.vfs.mkdirp('/proc');
  proc.set('self', symlink((ctx) => String(ctx.proc.pid)));
  const pidDir = (pid: number): Inode | undefined => {
    const p = kernel.processes.get(pid);
    if (!p) return undefined;
    const fdDir = dynamicDir(
      () => p.fds.openFds().map(String),
      (name) => {
        const f = /^\d+$/.test(name) ? p.fds.get(Number(name)) : undefined;
        return f ? symlink(f.path) : undefined;
      },
      0o500,
    );
    const limits = attr('procfs', () => limitsText(p));
    return dynamicDir(() => ['fd', 'limits'], (name) => (name === 'fd' ? fdDir : name === 'limits' ? limits : undefined), 0o555);
  };
  proc.dynamic = {
    list: () => [...kernel.processes.keys()].map(String),
    lookup: (name) => (/^\d+$/.test(name) ? pidDir(Number(name)) : undefined),
  };
}
