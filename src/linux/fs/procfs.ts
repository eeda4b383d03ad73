// The per-process part of /proc (fs/proc/base.c, fs/proc/fd.c): /proc/self and /proc/<pid>/fd/<n>,
// whose links name the open file (`anon_inode:[eventfd]`, `/dev/vfio/7`), so tests can check for
// leaked fds the way one does with `ls -l /proc/self/fd`; /proc/<pid>/fdinfo/<n> (fs/proc/fd.c seq_show,
// rendered by fs/fdinfo.ts); /proc/<pid>/limits (proc_pid_limits); /proc/<pid>/maps (fs/proc-maps.ts).
// /proc/<pid> and its entries belong to the task's uid and gid; /proc/<pid>/fd is 0500 and open to the
// task itself whatever its mode (proc_fd_permission); their mode cannot change (proc_setattr). Not
// modelled: the ptrace_may_access() check of reading /proc/<pid>/fd (the links and the listing), which
// a caller with another uid passes only with CAP_SYS_PTRACE. System-wide files (/proc/interrupts) are
// added to /proc by their subsystems.

import { kerr } from '../errors.js';
import type { Kernel } from '../kernel.js';
import type { Process } from '../process.js';
import { RLIM_INFINITY, RLIM_NLIMITS } from '../../../include-ts/linux/resource.js';
import { RLIMIT_NAMES } from '../resource.js';
import { attr, dynamicDir, symlink, type Inode } from './vfs.js';
import type { Cred } from '../cred.js';
import { genericPermission, type InodeAttrs } from './namei.js';
import { ATTR_MODE, simpleSetattr, type IAttr } from './attr.js';
import { fdinfoText } from './fdinfo.js';
import { mapsText } from './proc-maps.js';
import { FMODE_READ, FMODE_WRITE, openFmode } from './file.js';
import { O_PATH } from '../../../include-ts/linux/fcntl.js';

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

/**
 * proc_setattr(), the ->setattr of /proc/<pid> and its entries: no mode change (EPERM, before any
 * other check); an owner change passes setattr_prepare() but lasts only until the next lookup, when
 * pid_revalidate() gives the entry the task's owner again (here: the nodes are made afresh).
 */
function procSetattr(cred: Cred, attr: IAttr, path: string, node: InodeAttrs): void {
  if (attr.valid & ATTR_MODE) throw kerr('EPERM', `${path} is a /proc/<pid> entry, whose mode cannot change`);
  simpleSetattr(cred, node, attr, path);
}

/** name_to_int(): a decimal fd number without leading zeros ("07" names nothing). */
const FD_NAME = /^(0|[1-9]\d{0,9})$/;

export function initProcfs(kernel: Kernel): void {
  const proc = kernel.vfs.mkdirp('/proc');
  proc.set('self', symlink((ctx) => String(ctx.proc.pid)));
  const pidDir = (pid: number): Inode | undefined => {
    const p = kernel.processes.get(pid);
    if (!p) return undefined;
    // proc_pid_make_inode() / pid_update_inode(): owned by the task's euid and egid (task_dump_owner()
    // of a dumpable task, which every process of the model is).
    const owned = <T extends InodeAttrs>(node: T): T => {
      node.uid = p.uid;
      node.gid = p.gid;
      node.setattr = (cred, attr, path) => procSetattr(cred, attr, path, node);
      return node;
    };
    const fdDir = owned(dynamicDir(
      () => p.fds.openFds().map(String),
      (name) => {
        const f = FD_NAME.test(name) ? p.fds.get(Number(name)) : undefined;
        if (!f) return undefined;
        // tid_fd_update_inode(): the link's mode shows the file's f_mode (r-x for FMODE_READ, -wx for
        // FMODE_WRITE; an O_PATH file has neither), its owner is the task's.
        const fmode = f.flags & O_PATH ? 0 : openFmode(f.flags);
        const link = owned(symlink(f.path));
        link.file = f;
        link.mode = (fmode & FMODE_READ ? 0o500 : 0) | (fmode & FMODE_WRITE ? 0o300 : 0);
        return link;
      },
      0o500,
    ));
    // proc_fd_permission(): the mode bits, or the task itself (same_thread_group()) whatever they say.
    fdDir.permission = (cred, mask) => genericPermission(cred, fdDir, mask) || cred === p;
    // proc_fdinfo_inode_operations: S_IFDIR|0555; each entry S_IFREG|0444, rendered at each read from
    // offset 0; seq_show() fails with ENOENT once the fd has been closed.
    const fdinfoDir = owned(dynamicDir(
      () => p.fds.openFds().map(String),
      (name) => {
        const fd = Number(name);
        if (!FD_NAME.test(name) || p.fds.get(fd) === undefined) return undefined;
        return owned(attr('procfs', () => {
          const f = p.fds.get(fd);
          if (f === undefined) throw kerr('ENOENT', `fd ${fd} of process ${p.pid} was closed after its fdinfo was opened`);
          return fdinfoText(kernel, p, fd, f);
        }, undefined, 0o444));
      },
      0o555,
    ));
    const limits = owned(attr('procfs', () => limitsText(p)));
    // proc_pid_maps_operations: S_IRUGO, rendered at each read.
    const maps = owned(attr('procfs', () => mapsText(kernel, p), undefined, 0o444));
    const entries = new Map<string, Inode>([['fd', fdDir], ['fdinfo', fdinfoDir], ['limits', limits], ['maps', maps]]);
    return owned(dynamicDir(() => [...entries.keys()], (name) => entries.get(name), 0o555));
  };
  proc.dynamic = {
    list: () => [...kernel.processes.keys()].map(String),
    lookup: (name) => (/^\d+$/.test(name) ? pidDir(Number(name)) : undefined),
  };
}
