// The per-process part of /proc (fs/proc/base.c, fs/proc/fd.c): /proc/self and /proc/<pid>/fd/<n>,
// whose links name the open file (`anon_inode:[eventfd]`, `/dev/vfio/7`), so tests can check for
// leaked fds the way one does with `ls -l /proc/self/fd`. System-wide files (/proc/interrupts) are
// added to /proc by their subsystems.

import type { Kernel } from '../kernel.js';
import { dynamicDir, symlink, type Inode } from './vfs.js';

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
    return dynamicDir(() => ['fd'], (name) => (name === 'fd' ? fdDir : undefined), 0o555);
  };
  proc.dynamic = {
    list: () => [...kernel.processes.keys()].map(String),
    lookup: (name) => (/^\d+$/.test(name) ? pidDir(Number(name)) : undefined),
  };
}
