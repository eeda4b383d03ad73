// File permissions, path walks, chown and chmod: the model against this machine's kernel (6.18).
// test/linux/fs/perm-oracle.c runs a script of operations in a tmpfs directory (/dev/shm), each under
// the credentials the line names (uid, gid, supplementary groups, effective capabilities); the model
// runs the same script in a directory of its rootfs with processes spawned with those credentials.
// Every result line is compared, and the chown/fchown/chmod/fchmod/lchown calls as strace prints them.
// The rules under test: fs/namei.c generic_permission(), acl_permission_check(), may_lookup();
// fs/attr.c setattr_prepare(), chown_ok(), chgrp_ok(), setattr_copy(), notify_change()'s
// ATTR_KILL_SUID/SGID; fs/open.c chown_common(), chmod_common(); fs/inode.c inode_init_owner(),
// mode_strip_sgid(). `stat` lines read the model's inode directly (the model has no stat(2)).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, SyscallError } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { StaticDir } from '../../../src/linux/fs/vfs.js';
import { errnoInfo } from '../../../abi/errno.js';
import { O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_WRONLY } from '../../../include-ts/linux/fcntl.js';
import { REAL_CAPS, STRACE, oracleSkip } from '../../support/c-oracle.js';

const HERE = new URL('.', import.meta.url).pathname;
const SKIP = oracleSkip('permissions', ['root'], true);

// Credentials: uid:gid:supplementary groups:effective capabilities (hex).
const NOBODY = '65534:65534:-:0';
const U = '1000:1000:-:0'; // owns most files below, not in group 2000
const UG = '1000:1000:2000:0'; // the same user, in group 2000 as a supplementary group
const G = '1001:2000:-:0'; // primary group 2000
const O = '1002:1002:-:0'; // nobody in particular
const ROOT_NOCAPS = '0:0:-:0';
const ROOT_DAC = '0:0:-:2'; // CAP_DAC_OVERRIDE
const ROOT_SEARCH = '0:0:-:4'; // CAP_DAC_READ_SEARCH
const N_DAC = '65534:65534:-:2';
const N_SEARCH = '65534:65534:-:4';
const N_CHOWN = '65534:65534:-:1'; // CAP_CHOWN
const N_FOWNER = '65534:65534:-:8'; // CAP_FOWNER
const U_FSETID = '1000:1000:-:10'; // CAP_FSETID
const U_CHOWN = '1000:1000:-:1';
const CREDS = [NOBODY, U, UG, G, O, ROOT_NOCAPS, ROOT_DAC, ROOT_SEARCH, N_DAC, N_SEARCH];

/** Root makes `path` (a directory if it ends in /) with this owner and mode. */
function make(path: string, mode: string, uid: number, gid: number): string[] {
  const dir = path.endsWith('/');
  const p = dir ? path.slice(0, -1) : path;
  return [dir ? `root mkdir ${p}` : `root creat ${p} 0600`, `root chown ${p} ${uid} ${gid}`, `root chmod ${p} ${mode}`];
}

const FILES: readonly (readonly [string, string, number, number])[] = [
  ['pub/own', '0640', 1000, 2000],
  ['pub/grp', '0460', 1000, 2000],
  ['pub/oth', '0604', 1000, 2000],
  ['pub/none', '0000', 1000, 2000],
  ['pub/xonly', '0100', 1000, 1000],
  ['pub/gx', '0070', 0, 2000],
];

const SCRIPT: readonly string[] = [
  'root chmod . 0755',
  ...make('pub/', '0755', 1000, 1000),
  ...FILES.flatMap(([p, m, u, g]) => make(p, m, u, g)),
  ...make('d700/', '0700', 0, 0), ...make('d700/f', '0644', 0, 0),
  ...make('x711/', '0711', 0, 0), ...make('x711/f', '0644', 0, 0),
  ...make('r744/', '0744', 0, 0), ...make('r744/f', '0644', 0, 0),
  ...make('g750/', '0750', 0, 2000), ...make('g750/f', '0644', 0, 0),
  ...make('own700/', '0700', 1000, 1000), ...make('own700/f', '0644', 0, 0),
  // Opening: owner, group (primary or supplementary), other bits; the DAC capabilities.
  ...FILES.flatMap(([p]) => CREDS.flatMap((c) => ['r', 'w', 'rw'].map((f) => `${c} open ${p} ${f}`))),
  // Path walks: search (x) on every directory, . and .. included; reading a directory is its r bit.
  ...CREDS.flatMap((c) => [
    `${c} open d700/f r`, `${c} open x711/f r`, `${c} open x711 dir`, `${c} open r744/f r`, `${c} open r744 dir`,
    `${c} open g750/f r`, `${c} open own700/f r`, `${c} open d700/../pub/own r`, `${c} open d700/. dir`, `${c} open pub/../x711/f r`,
  ]),
  // chown: the owner may "change" to its own uid, and to its group or one it is in; CAP_CHOWN any.
  `${U} chown pub/own 1000 -1`, `${U} chown pub/own 1001 -1`, `${U} chown pub/own -1 2000`, `${U} chown pub/own -1 1000`,
  'root stat pub/own', `${U} chown pub/own -1 2000`, `${UG} chown pub/own -1 2000`, `${U} chown pub/own -1 3000`,
  `${O} chown pub/own -1 -1`, `${O} chown pub/own 1002 -1`, `${O} chown pub/own -1 1002`, `${N_CHOWN} chown pub/own 65534 65534`,
  'root stat pub/own', `${ROOT_NOCAPS} chown pub/own 0 0`, `root chown pub/own 1000 2000`, `${U_CHOWN} chown pub/own 7 7`, 'root stat pub/own',
  `root chown pub/own 1000 2000`, `${U} chown pub 1000 1000`, `${ROOT_NOCAPS} chown d700/f 5 -1`, `${ROOT_NOCAPS} chown d700/f 0 0`,
  `${U} lchown pub/own -1 1000`, 'root stat pub/own', `${U} chown pub/nosuch 1000 1000`, `${NOBODY} chown d700/f 0 0`,
  // chown drops S_ISUID whoever asks, and S_ISGID when group-execute is set or the caller may not keep it.
  ...make('pub/suid', '06755', 1000, 2000), ...make('pub/sgidnx', '02644', 1000, 2000), ...make('pub/sgidx', '02750', 1000, 1000),
  ...make('pub/suid2', '04755', 1000, 2000), ...make('sgdir/', '02775', 0, 2000), ...make('pub/sticky', '01644', 1000, 1000),
  `${O} chown pub/suid -1 -1`, `${N_CHOWN} chown pub/suid 65534 -1`, 'root stat pub/suid',
  `${U} chown pub/suid -1 -1`, 'root stat pub/suid', 'root chmod pub/suid 06755', 'root chown pub/suid 1000 2000', 'root stat pub/suid',
  `${U} chown pub/sgidnx 1000 -1`, 'root stat pub/sgidnx', 'root chmod pub/sgidnx 02644', `${UG} chown pub/sgidnx -1 -1`, 'root stat pub/sgidnx',
  `${U} chown pub/sgidx -1 1000`, 'root stat pub/sgidx', `${U} chown pub/suid2 -1 1000`, 'root stat pub/suid2',
  `root chown sgdir 0 2000`, 'root stat sgdir', `${U} chown pub/sticky -1 -1`, 'root stat pub/sticky',
  // chmod: the owner or CAP_FOWNER; S_ISGID silently dropped unless in the group or CAP_FSETID.
  `${U} chmod pub/own 0600`, 'root stat pub/own', `${O} chmod pub/own 0666`, `${N_FOWNER} chmod pub/own 0644`, 'root stat pub/own',
  `root chown pub/own 1000 2000`, `${U} chmod pub/own 02640`, 'root stat pub/own', `${UG} chmod pub/own 02640`, 'root stat pub/own',
  `${U_FSETID} chmod pub/own 02750`, 'root stat pub/own', `${U} chmod pub/own 04755`, 'root stat pub/own', `${U} chmod pub/own 0107777`, 'root stat pub/own',
  `${ROOT_NOCAPS} chmod pub/own 0644`, `${ROOT_NOCAPS} chmod d700/f 0600`, 'root stat d700/f', `${U} chmod pub 0775`, 'root stat pub',
  `${U} chmod pub 02775`, 'root stat pub', `${G} chmod sgdir 0777`, `${NOBODY} chmod d700/f 0777`,
  // fchown/fchmod: the open file's inode, the same rules.
  `${U} fchmod pub/own 0640`, 'root stat pub/own', `${NOBODY} fchmod pub/oth 0666`, `${NOBODY} fchown pub/oth 65534 -1`, `${NOBODY} fchown pub/oth -1 -1`,
  `${NOBODY} fchmod pub/none 0666`, `${U} fchown pub/oth -1 2000`, 'root stat pub/oth', `${UG} fchmod pub/oth 02604`, 'root stat pub/oth',
  // Created files: the creator's uid; the directory's group when it is set-group-ID, where S_ISGID on a
  // group-executable file goes unless the creator is in that group.
  'root chmod sgdir 02777', `${U} creat sgdir/a 02755`, 'root stat sgdir/a', `${UG} creat sgdir/b 02755`, 'root stat sgdir/b',
  `${U} creat sgdir/c 02644`, 'root stat sgdir/c', `${U} creat pub/d 02755`, 'root stat pub/d', `${U_FSETID} creat sgdir/e 02755`, 'root stat sgdir/e',
  `${NOBODY} creat pub/e 0644`, `${NOBODY} creat d700/e 0644`, `${ROOT_NOCAPS} creat pub/f 0644`, `${ROOT_DAC} creat pub/f 0644`, 'root stat pub/f',
  // procfs: /proc/<pid> entries belong to the task and refuse mode changes (proc_setattr); an owner
  // change passes and is undone at the next lookup (pid_revalidate); /proc/<pid>/fd is 0500 but open to
  // the task itself (proc_fd_permission). Other proc and sysfs files change like any inode
  // (proc_notify_change, kernfs_iop_setattr). Anonymous inodes refuse (anon_inode_setattr); a pipe's
  // pipefs inode belongs to its creator.
  `${NOBODY} chmod /proc/self/limits 0444`, `${NOBODY} chown /proc/self/fd 65534 -1`, `${NOBODY} chown /proc/self/fd 0 -1`,
  `${NOBODY} chown /proc/self -1 -1`, `${NOBODY} chmod /proc/self/fd 0500`, `${NOBODY} open /proc/self/fd dir`, `${U} chmod /proc/self 0555`,
  'root chown /proc/self/fd 5 5', 'root stat /proc/self/fd', 'root stat /proc/self/limits', 'root stat /proc/self',
  `${NOBODY} chmod /proc/interrupts 0444`, 'root chmod /proc/interrupts 0444', 'root stat /proc/interrupts',
  `${NOBODY} chmod /sys/bus/pci/drivers_probe 0200`, `${N_FOWNER} chmod /sys/bus/pci/drivers_probe 0200`, 'root stat /sys/bus/pci/drivers_probe',
  `${NOBODY} efd-fchmod - 0600`, 'root efd-fchown - 0 0', `${NOBODY} pipe-fchmod - 0644`, `${NOBODY} pipe-fchown - 0 -1`,
  `${NOBODY} pipe-fchown - 65534 65534`, `${U} pipe-fchown - -1 2000`, `${UG} pipe-fchown - -1 2000`,
  // Supplementary groups (kernel/groups.c): sorted, EINVAL for a short list, CAP_SETGID to set them,
  // and the new set decides group permission at once.
  '1000:1000:3000,2000,5,2000:0 getgroups -', '1000:1000:3000,2000,5:0 getgroups - 2', '1000:1000:3000,2000,5:0 getgroups - 3',
  `${U} setgroups - 2000`, '1000:1000:-:40 setgroups g750/f 2000', '1000:1000:2000:40 setgroups g750/f -', '1000:1000:2000:40 setgroups - 7,3,5',
  // groups_from_user(): a gid with no kgid ((gid_t)-1, unmapped in the initial user namespace) is EINVAL.
  '1000:1000:2000:40 setgroups - 7,-1,5', '1000:1000:2000:40 setgroups g750/f -1',
];

const CHANGES = /^(chown|lchown|fchown|chmod|fchmod)\(/;
const MODEL_BASE = '/oracle';

/** The script run in the model: results, and the strace lines of the owner/mode calls. */
function runModel(script: readonly string[]): { out: string[]; trace: string[] } {
  const host = Host.create();
  const root = host.spawn({ capabilities: REAL_CAPS, umask: 0, stdio: false });
  const base = host.kernel.vfs.mkdirp(MODEL_BASE);
  base.mode = 0o700; // mkdtemp()'s
  const spawnAs = (who: string): Process => {
    const [uid, gid, groups, caps] = who.split(':') as [string, string, string, string];
    return host.spawn({ uid: Number(uid), gid: Number(gid), groups: groups === '-' ? [] : groups.split(',').map(Number), capabilities: BigInt(`0x${caps}`), umask: 0, stdio: false });
  };
  const procs = new Map<string, Process>([['root', root]]);
  const proc = (who: string): Process => {
    let p = procs.get(who);
    if (!p) procs.set(who, (p = spawnAs(who)));
    return p;
  };
  const trace: string[] = [];
  const stop = host.strace((l) => { if (CHANGES.test(l)) trace.push(l); });
  const out = script.map((line) => {
    const [who, op, rel, a = '', b = ''] = line.split(' ') as [string, string, string, string?, string?];
    const p = proc(who);
    const path = rel.startsWith('/') ? rel : `${MODEL_BASE}/${rel}`;
    const id = (s: string): number => Number(s) >>> 0;
    const tryOp = (fn: () => unknown): string => {
      try {
        fn();
        return 'OK';
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        return String(e.errno);
      }
    };
    switch (op) {
      case 'mkdir': {
        // Root's mkdir(path, 0700) with umask 0 (the model has no mkdir(2)).
        const parent = host.kernel.vfs.resolve(path.slice(0, path.lastIndexOf('/')), root.context).node as StaticDir;
        parent.add(rel.slice(rel.lastIndexOf('/') + 1), new StaticDir(0o700, 0, 0));
        return 'OK';
      }
      case 'stat': {
        const n = host.kernel.vfs.resolve(path, root.context).node;
        return `${n.mode.toString(8).padStart(4, '0')} ${n.uid} ${n.gid}`;
      }
      case 'open': {
        const flags = { r: O_RDONLY, w: O_WRONLY, rw: O_RDWR, dir: O_RDONLY | O_DIRECTORY }[a]!;
        return tryOp(() => p.close(p.open(path, flags)));
      }
      case 'creat':
        return tryOp(() => p.close(p.open(path, O_WRONLY | O_CREAT, parseInt(a, 8))));
      case 'chown': return tryOp(() => p.chown(path, id(a), id(b)));
      case 'lchown': return tryOp(() => p.lchown(path, id(a), id(b)));
      case 'chmod': return tryOp(() => p.chmod(path, parseInt(a, 8)));
      case 'fchown': case 'fchmod': {
        let fd: number;
        try {
          fd = p.open(path, O_RDONLY);
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
          return `open:${e.errno}`;
        }
        const r = tryOp(() => (op === 'fchown' ? p.fchown(fd, id(a), id(b)) : p.fchmod(fd, parseInt(a, 8))));
        p.close(fd);
        return r;
      }
      case 'efd-fchown': case 'efd-fchmod': case 'pipe-fchown': case 'pipe-fchmod': {
        const [r, w] = op.startsWith('efd') ? [p.eventfd(0, 0), -1] : p.pipe();
        const res = tryOp(() => (op.endsWith('fchown') ? p.fchown(r, id(a), id(b)) : p.fchmod(r, parseInt(a, 8))));
        p.close(r);
        if (w >= 0) p.close(w);
        return res;
      }
      case 'getgroups': {
        const list = new Uint32Array(64);
        try {
          const n = p.getgroups(a === '' ? 64 : Number(a), list);
          return `${n}:${[...list.subarray(0, n)].map((g) => ` ${g}`).join('')}`;
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
          return String(e.errno);
        }
      }
      case 'setgroups': {
        // A process of its own: the C side changes only the child that runs this line.
        const q = spawnAs(who);
        const gids = a === '-' ? [] : a.split(',').map(Number);
        const r = tryOp(() => q.setgroups(gids.length, Uint32Array.from(gids)));
        return r !== 'OK' || rel === '-' ? r : `OK open:${tryOp(() => q.close(q.open(path, O_RDONLY)))}`;
      }
      default:
        throw new Error(`unknown op ${op}`);
    }
  });
  stop();
  return { out, trace };
}

/** A result with its errno named, after the script line. */
function show(script: readonly string[], results: readonly string[]): string[] {
  return results.map((r, i) => `${script[i]}: ${r.replace(/^(OK )?(open:)?(\d+)$/, (_, k: string | undefined, o: string | undefined, n: string) => `${k ?? ''}${o ?? ''}${errnoInfo(Number(n)).code}`)}`);
}

describe('permissions, path walks, chown and chmod: the model against this machine\'s kernel', () => {
  it.skipIf(SKIP !== undefined)('every script line gives the real result, and strace prints the chown/chmod calls alike', () => {
    const work = mkdtempSync(join(tmpdir(), 'perm-oracle-'));
    const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    const base = mkdtempSync(join(shm, 'perm-oracle-'));
    try {
      const exe = join(work, 'oracle');
      execFileSync('gcc', ['-O1', '-Wall', '-o', exe, join(HERE, 'perm-oracle.c')]);
      const traceFile = join(work, 'strace');
      const input = SCRIPT.join('\n') + '\n';
      const stdout = STRACE
        ? execFileSync(STRACE, ['-f', '-qq', '-e', 'trace=chown,lchown,fchown,chmod,fchmod', '-e', 'signal=none', '-o', traceFile, exe, base], { input, encoding: 'utf8' })
        : execFileSync(exe, [base], { input, encoding: 'utf8' });
      const real = stdout.trim().split('\n');
      const model = runModel(SCRIPT);
      expect(show(SCRIPT, model.out)).toEqual(show(SCRIPT, real));
      if (STRACE) {
        const realTrace = readFileSync(traceFile, 'utf8').trim().split('\n')
          .map((l) => l.replace(/^\d+\s+/, '').replace(/\s+= /, ' = ').replaceAll(base, 'BASE'))
          .filter((l) => CHANGES.test(l));
        expect(realTrace.length).toBeGreaterThan(100);
        const fdless = (l: string): string => l.replace(/^(fchown|fchmod)\(\d+,/, '$1(FD,');
        expect(model.trace.map((l) => fdless(l.replaceAll(MODEL_BASE, 'BASE')))).toEqual(realTrace.map(fdless));
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    }
  });
});
