// The working directory and relative paths: fs/namei.c path_init() (a relative path starts at
// current->fs->pwd for AT_FDCWD, else at the dirfd's directory: EBADF, ENOTDIR; an absolute path ignores
// dirfd; nothing is checked about the start's ancestors, only may_lookup() on each directory walked),
// fs/open.c ksys_chdir() (LOOKUP_FOLLOW|LOOKUP_DIRECTORY, then MAY_EXEC on the target) and fchdir()
// (fdget_raw(), d_can_lookup(): ENOTDIR), fs/d_path.c getcwd (ERANGE when the path and its NUL do not
// fit; returns that length), and the *at() calls (openat, newfstatat, readlinkat, fchmodat, fchownat).
// cwd-oracle.c runs the same steps on this machine's kernel in a tree it builds under a temporary
// directory (which the test builds in the model too), then in /proc, /sys and /dev; the lines must be
// equal, and strace 6.1 must print the calls as the model's tracer does.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COracle, REAL_CAPS, STRACE, oracleSkip } from '../../support/c-oracle.js';
import { Host, SyscallError } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { symlink } from '../../../src/linux/fs/vfs.js';
import { STAT_SIZE, type Stat } from '../../../src/linux/fs/stat.js';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../../include-ts/linux/stat.js';
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_RDONLY, O_WRONLY,
} from '../../../include-ts/linux/fcntl.js';
import { expectErrno } from '../../support/vfio.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The tree cwd-oracle.c makes under `base` (root's, umask 022), made in the model. */
function buildTree(host: Host, base: string): void {
  const vfs = host.kernel.vfs;
  vfs.mkdirp('/tmp').mode = 0o1777;
  const b = vfs.mkdirp(base);
  b.dir('a').dir('b');
  b.dir('a').add('link', symlink('b'));
  b.dir('noexec').mode = 0o644;
  b.dir('locked').mode = 0o700;
  b.dir('locked').dir('in');
  const setup = host.spawn({ name: 'setup' });
  setup.close(setup.open(`${base}/a/b/f`, O_CREAT | O_WRONLY, 0o644));
  setup.close(setup.open(`${base}/locked/in/g`, O_CREAT | O_WRONLY, 0o644));
  setup.exit();
}

function typeOf(mode: number): string {
  switch (mode & S_IFMT) {
    case S_IFDIR: return 'dir';
    case S_IFREG: return 'reg';
    case S_IFLNK: return 'lnk';
    case S_IFCHR: return 'chr';
    default: return 'other';
  }
}

/** cwd-oracle.c's steps on the model (keep the two in step). */
function cwdSteps(host: Host, root: Process, base: string): string[] {
  let p = root;
  const out: string[] = [];
  const errOf = (e: unknown): string => {
    if (e instanceof SyscallError) return `errno=${e.code}`;
    throw e;
  };
  const showPath = (s: string): string => (s.startsWith(base) ? `$B${s.slice(base.length)}` : s.replace(/^\/proc\/\d+/, '/proc/PID'));
  const ret = (name: string, fn: () => void): void => {
    try {
      fn();
      out.push(`${name}: 0`);
    } catch (e) {
      out.push(`${name}: ${errOf(e)}`);
    }
  };
  const st = (name: string, dirfd: number, path: string, flags: number): void => {
    try {
      const s: Stat = p.fstatat(dirfd, path, new Uint8Array(STAT_SIZE), flags);
      out.push(`${name}: type=${typeOf(s.st_mode)} mode=${(s.st_mode & 0o7777).toString(8).padStart(4, '0')} owner=${s.st_uid}:${s.st_gid}`);
    } catch (e) {
      out.push(`${name}: ${errOf(e)}`);
    }
  };
  const cwd = (name: string, size: number, q: Process = p): void => {
    try {
      const s = q.getcwd(size);
      out.push(`${name}: ${showPath(s)}`);
      if (!s.startsWith('/proc/')) out.push(`${name}-ret: ${new TextEncoder().encode(s).length + 1}`);
    } catch (e) {
      out.push(`${name}: ${errOf(e)}`);
    }
  };
  const rl = (name: string, dirfd: number, path: string): void => {
    try {
      out.push(`${name}: ${p.readlinkat(dirfd, path)}`);
    } catch (e) {
      out.push(`${name}: ${errOf(e)}`);
    }
  };
  const opened = (name: string, fn: () => number): number => {
    try {
      const fd = fn();
      out.push(`${name}: fd ${fd}`);
      return fd;
    } catch (e) {
      out.push(`${name}: ${errOf(e)}`);
      return -1;
    }
  };

  ret('chdir-root', () => p.chdir('/'));
  cwd('cwd-root', 4096);
  st('rel-from-root', AT_FDCWD, `${base}/a`.slice(1), 0);
  ret('chdir-base', () => p.chdir(base));
  cwd('cwd-base', 4096);
  st('rel-file', AT_FDCWD, 'a/b/f', 0);
  st('rel-link', AT_FDCWD, 'a/link', 0);
  st('rel-link-nofollow', AT_FDCWD, 'a/link', AT_SYMLINK_NOFOLLOW);
  st('rel-dots', AT_FDCWD, './a/../a/b/.', 0);
  st('rel-empty-path', AT_FDCWD, '', AT_EMPTY_PATH);
  st('rel-missing', AT_FDCWD, 'a/missing', 0);
  st('rel-through-file', AT_FDCWD, 'a/b/f/x', 0);

  const d = opened('open-rel-dir', () => p.open('a', O_RDONLY | O_DIRECTORY));
  st('at-file', d, 'b/f', 0);
  st('at-absolute', d, '/dev/null', 0);
  st('at-dotdot', d, '../a/b', 0);
  st('at-missing', d, 'missing', 0);
  rl('readlinkat-link', d, 'link');
  rl('readlinkat-dir', d, 'b');
  rl('readlinkat-missing', d, 'missing');
  const f = opened('openat-rel', () => p.openat(d, 'b/f', O_RDONLY));
  opened('openat-not-dir', () => p.openat(f, 'x', O_RDONLY));
  opened('openat-bad-fd', () => p.openat(999, 'x', O_RDONLY));
  p.close(opened('openat-bad-fd-absolute', () => p.openat(999, '/dev/null', O_RDONLY)));
  st('fstatat-not-dir', f, 'x', 0);
  p.close(opened('openat-create', () => p.openat(d, 'new', O_CREAT | O_WRONLY, 0o600)));
  st('created', AT_FDCWD, 'a/new', 0);
  opened('openat-empty', () => p.openat(d, '', O_RDONLY));
  ret('fchmodat', () => p.fchmodat(d, 'b/f', 0o600));
  st('fchmodat-result', AT_FDCWD, 'a/b/f', 0);
  ret('fchmodat-bad-fd', () => p.fchmodat(999, 'a', 0o755));
  ret('fchmodat-not-dir', () => p.fchmodat(f, 'a', 0o755));
  ret('fchownat', () => p.fchownat(d, 'b/f', 65534, 65534, 0));
  st('fchownat-result', d, 'b/f', 0);
  ret('fchownat-nofollow', () => p.fchownat(d, 'link', 1, 1, AT_SYMLINK_NOFOLLOW));
  st('fchownat-nofollow-result', d, 'link', AT_SYMLINK_NOFOLLOW);
  st('fchownat-nofollow-target', d, 'b', 0);
  ret('fchownat-empty', () => p.fchownat(d, '', 2, 2, AT_EMPTY_PATH));
  st('fchownat-empty-result', AT_FDCWD, 'a', 0);
  ret('fchownat-empty-no-flag', () => p.fchownat(d, '', 2, 2, 0));
  ret('fchownat-bad-flags', () => p.fchownat(d, 'b', 0, 0, 0x1));
  ret('fchownat-restore', () => p.fchownat(AT_FDCWD, 'a', 0, 0, 0));

  ret('chdir-rel', () => p.chdir('a/b'));
  cwd('cwd-rel', 4096);
  ret('chdir-dotdot', () => p.chdir('..'));
  cwd('cwd-dotdot', 4096);
  ret('chdir-dot', () => p.chdir('.'));
  ret('chdir-link', () => p.chdir('link'));
  cwd('cwd-link', 4096);
  ret('chdir-file', () => p.chdir('f'));
  ret('chdir-file-slash', () => p.chdir('f/'));
  ret('chdir-missing', () => p.chdir('missing'));
  ret('chdir-empty', () => p.chdir(''));
  ret('chdir-too-long', () => p.chdir('x'.repeat(4096)));
  const len = new TextEncoder().encode(p.getcwd()).length + 1;
  cwd('getcwd-short', len - 1);
  cwd('getcwd-exact', len);
  cwd('getcwd-zero', 0);

  ret('fchdir', () => p.fchdir(d));
  cwd('cwd-fchdir', 4096);
  ret('fchdir-file', () => p.fchdir(f));
  ret('fchdir-bad-fd', () => p.fchdir(999));
  const op = p.open(`${base}/a/b`, O_PATH);
  ret('fchdir-o-path', () => p.fchdir(op));
  cwd('cwd-o-path', 4096);
  p.close(op);
  p.close(f);
  p.close(d);

  ret('chdir-proc-self', () => p.chdir('/proc/self'));
  cwd('cwd-proc-self', 4096);
  st('proc-fd', AT_FDCWD, 'fd', 0);
  st('proc-limits', AT_FDCWD, 'limits', 0);
  ret('chdir-sys', () => p.chdir('/sys/bus/pci'));
  st('sys-devices', AT_FDCWD, 'devices', 0);
  st('sys-probe', AT_FDCWD, 'drivers_probe', 0);
  st('sys-up', AT_FDCWD, '../../class/misc', 0);
  ret('chdir-dev', () => p.chdir('/dev'));
  st('dev-null', AT_FDCWD, 'null', 0);
  st('dev-dot-null', AT_FDCWD, './null', 0);
  ret('chdir-dev-null', () => p.chdir('null'));
  cwd('cwd-dev', 4096);

  ret('chdir-locked-in', () => p.chdir(`${base}/locked/in`));
  // fork() + setgid/setuid(65534): the child keeps the working directory, and loses every capability.
  const nobody = host.spawn({ uid: 65534, gid: 65534, cwd: `${base}/locked/in` });
  const q = p;
  p = nobody;
  cwd('nobody-cwd', 4096);
  st('nobody-rel', AT_FDCWD, 'g', 0);
  st('nobody-abs', AT_FDCWD, `${base}/locked/in/g`, 0);
  st('nobody-dotdot', AT_FDCWD, '..', 0);
  st('nobody-dotdot-in', AT_FDCWD, '../in/g', 0);
  ret('nobody-chdir-dotdot', () => p.chdir('..'));
  ret('nobody-chdir-noexec', () => p.chdir(`${base}/noexec`));
  ret('nobody-chdir-a', () => p.chdir(`${base}/a`));
  cwd('nobody-cwd-a', 4096);
  opened('nobody-open-rel', () => p.open('b/f', O_RDONLY));
  ret('nobody-chdir-locked', () => p.chdir(`${base}/locked`));
  p = q;
  return out;
}

/** A base of the length mkdtemp gives the oracle's (the getcwd lengths below depend on it). */
const BASE = '/tmp/cwd-oracle-abcdef';

/** What cwd-oracle.c printed on 6.18 (after `begin`), with a base of BASE's length. */
const MEASURED = `chdir-root: 0
cwd-root: /
cwd-root-ret: 2
rel-from-root: type=dir mode=0755 owner=0:0
chdir-base: 0
cwd-base: $B
cwd-base-ret: 23
rel-file: type=reg mode=0644 owner=0:0
rel-link: type=dir mode=0755 owner=0:0
rel-link-nofollow: type=lnk mode=0777 owner=0:0
rel-dots: type=dir mode=0755 owner=0:0
rel-empty-path: type=dir mode=0755 owner=0:0
rel-missing: errno=ENOENT
rel-through-file: errno=ENOTDIR
open-rel-dir: fd 3
at-file: type=reg mode=0644 owner=0:0
at-absolute: type=chr mode=0666 owner=0:0
at-dotdot: type=dir mode=0755 owner=0:0
at-missing: errno=ENOENT
readlinkat-link: b
readlinkat-dir: errno=EINVAL
readlinkat-missing: errno=ENOENT
openat-rel: fd 4
openat-not-dir: errno=ENOTDIR
openat-bad-fd: errno=EBADF
openat-bad-fd-absolute: fd 5
fstatat-not-dir: errno=ENOTDIR
openat-create: fd 5
created: type=reg mode=0600 owner=0:0
openat-empty: errno=ENOENT
fchmodat: 0
fchmodat-result: type=reg mode=0600 owner=0:0
fchmodat-bad-fd: errno=EBADF
fchmodat-not-dir: errno=ENOTDIR
fchownat: 0
fchownat-result: type=reg mode=0600 owner=65534:65534
fchownat-nofollow: 0
fchownat-nofollow-result: type=lnk mode=0777 owner=1:1
fchownat-nofollow-target: type=dir mode=0755 owner=0:0
fchownat-empty: 0
fchownat-empty-result: type=dir mode=0755 owner=2:2
fchownat-empty-no-flag: errno=ENOENT
fchownat-bad-flags: errno=EINVAL
fchownat-restore: 0
chdir-rel: 0
cwd-rel: $B/a/b
cwd-rel-ret: 27
chdir-dotdot: 0
cwd-dotdot: $B/a
cwd-dotdot-ret: 25
chdir-dot: 0
chdir-link: 0
cwd-link: $B/a/b
cwd-link-ret: 27
chdir-file: errno=ENOTDIR
chdir-file-slash: errno=ENOTDIR
chdir-missing: errno=ENOENT
chdir-empty: errno=ENOENT
chdir-too-long: errno=ENAMETOOLONG
getcwd-short: errno=ERANGE
getcwd-exact: $B/a/b
getcwd-exact-ret: 27
getcwd-zero: errno=ERANGE
fchdir: 0
cwd-fchdir: $B/a
cwd-fchdir-ret: 25
fchdir-file: errno=ENOTDIR
fchdir-bad-fd: errno=EBADF
fchdir-o-path: 0
cwd-o-path: $B/a/b
cwd-o-path-ret: 27
chdir-proc-self: 0
cwd-proc-self: /proc/PID
proc-fd: type=dir mode=0500 owner=0:0
proc-limits: type=reg mode=0444 owner=0:0
chdir-sys: 0
sys-devices: type=dir mode=0755 owner=0:0
sys-probe: type=reg mode=0200 owner=0:0
sys-up: type=dir mode=0755 owner=0:0
chdir-dev: 0
dev-null: type=chr mode=0666 owner=0:0
dev-dot-null: type=chr mode=0666 owner=0:0
chdir-dev-null: errno=ENOTDIR
cwd-dev: /dev
cwd-dev-ret: 5
chdir-locked-in: 0
nobody-cwd: $B/locked/in
nobody-cwd-ret: 33
nobody-rel: type=reg mode=0644 owner=0:0
nobody-abs: errno=EACCES
nobody-dotdot: type=dir mode=0700 owner=0:0
nobody-dotdot-in: errno=EACCES
nobody-chdir-dotdot: errno=EACCES
nobody-chdir-noexec: errno=EACCES
nobody-chdir-a: 0
nobody-cwd-a: $B/a
nobody-cwd-a-ret: 25
nobody-open-rel: fd 3
nobody-chdir-locked: errno=EACCES`;

/**
 * A trace line as both sides can agree on it: host addresses as 0x0; pids, and getcwd's length of a
 * /proc/<pid> path, as PID and LEN; a directory's st_size as N (ext4 blocks here, tmpfs entries in
 * the model).
 */
const normalise = (l: string): string =>
  l.replace(/(\(|, )0x[0-9a-f]{6,}(, |\))/, '$10x0$2')
    .replace(/\/proc\/\d+/g, '/proc/PID')
    .replace(/^(getcwd\("\/proc\/PID[^"]*", \d+\) = )\d+$/, '$1LEN')
    .replace(/(\{st_mode=S_IFDIR\|[0-7]+, st_size=)\d+/, '$1N');

describe('the working directory: the model against this machine\'s kernel', () => {
  it('cwd-oracle.c\'s steps give what 6.18 gave', () => {
    const host = Host.create();
    buildTree(host, BASE);
    const p = host.spawn({ capabilities: REAL_CAPS });
    expect(cwdSteps(host, p, BASE).join('\n')).toBe(MEASURED);
  });

  const skip = oracleSkip('cwd-oracle', ['root'], true);
  it.skipIf(skip !== undefined)('every step gives the real result, and strace prints the calls alike', () => {
    const oracle = new COracle(join(here, 'cwd-oracle.c'));
    const base = mkdtempSync('/tmp/cwd-oracle-');
    try {
      const real = oracle.run([base]).trim().split('\n');
      const host = Host.create();
      buildTree(host, base);
      const p = host.spawn({ capabilities: REAL_CAPS });
      const traced: string[] = [];
      const stop = host.strace((l: string) => { if (l.startsWith(`[pid ${p.pid}] `)) traced.push(l.slice(`[pid ${p.pid}] `.length)); }, { pids: true });
      const model = cwdSteps(host, p, base);
      stop();
      expect(model).toEqual(real.slice(real.indexOf('begin') + 1));
      if (!STRACE) return;
      // The traced run builds its tree again, in a fresh directory of the same name.
      rmSync(base, { recursive: true, force: true });
      mkdirSync(base, 0o700);
      const calls = 'chdir,fchdir,getcwd,openat,newfstatat,readlinkat,fchmodat,fchownat';
      const trace = oracle.strace(['-e', `trace=${calls}`, '-e', 'signal=none'], [base]).trace.split('\n');
      const begin = trace.findIndex((l) => l.includes('/cwd-oracle-begin'));
      // Lines with the 4096-byte path are left out (strace cuts it short).
      const keep = (l: string): boolean => l.length < 1000 && calls.split(',').includes(l.slice(0, l.indexOf('(')));
      const realCalls = trace.slice(begin + 1).filter(keep).map((l) => normalise(l.replace(/\)\s+= /, ') = ')));
      const modelCalls = traced.filter(keep).map(normalise);
      expect(modelCalls).toEqual(realCalls);
    } finally {
      rmSync(base, { recursive: true, force: true });
      oracle.dispose();
    }
  });
});

describe('the working directory: the kernel rules', () => {
  it('a process starts at "/" (init_fs), or where spawn puts it; getcwd returns the path', () => {
    const host = Host.create();
    expect(host.spawn().getcwd()).toBe('/');
    expect(host.spawn({ cwd: '/sys/bus/pci' }).getcwd()).toBe('/sys/bus/pci');
    const q = host.spawn({ cwd: '/proc/self/fd' });
    expect(q.getcwd()).toBe(`/proc/${q.pid}/fd`);
    expect(() => host.spawn({ cwd: '/dev/null' })).toThrow(/not a directory/);
    expect(() => host.spawn({ cwd: '/nonexistent' })).toThrow(/does not exist/);
  });

  it('chdir resolves symlinks: the working directory is the real path (d_path of the dentry reached)', () => {
    const p = Host.create().spawn();
    p.chdir('/proc/self/fdinfo');
    expect(p.getcwd()).toBe(`/proc/${p.pid}/fdinfo`);
  });

  it('a failed chdir leaves the working directory as it was', () => {
    const p = Host.create().spawn();
    p.chdir('/dev');
    expectErrno(() => p.chdir('null'), 'ENOTDIR');
    expectErrno(() => p.chdir('../nonexistent'), 'ENOENT');
    expect(p.getcwd()).toBe('/dev');
  });

  it('".." at "/" stays at "/" (follow_dotdot() at the root)', () => {
    const p = Host.create().spawn();
    p.chdir('../../..');
    expect(p.getcwd()).toBe('/');
    expect(p.stat('../dev/null').st_rdev).toBe(0x103);
  });

  it('a relative open(O_CREAT) creates in the working directory; O_TMPFILE names it relatively', () => {
    const host = Host.create();
    const p = host.spawn();
    p.chdir('/dev');
    p.close(p.open('made', O_CREAT | O_WRONLY, 0o600));
    expect(p.stat('/dev/made').st_mode & 0o7777).toBe(0o600);
    expect(p.stat('made').st_ino).toBe(p.stat('/dev/made').st_ino);
  });

  it('readlinkat with an empty path reads the link an O_PATH|O_NOFOLLOW fd holds; on anything else ENOENT (do_readlinkat, LOOKUP_EMPTY)', () => {
    const p = Host.create().spawn();
    const link = p.open('/proc/self', O_PATH | O_NOFOLLOW);
    expect(p.readlinkat(link, '')).toBe(String(p.pid));
    expectErrno(() => p.readlinkat(p.open('/dev', O_RDONLY | O_DIRECTORY), ''), 'ENOENT');
    expectErrno(() => p.readlinkat(AT_FDCWD, ''), 'ENOENT');
    expectErrno(() => p.readlink(''), 'ENOENT');
  });

  it('fchdir needs search permission on the directory (file_permission(MAY_EXEC | MAY_CHDIR)): EACCES, the working directory unchanged', () => {
    const host = Host.create();
    host.kernel.vfs.mkdirp('/dev/readonly').mode = 0o644;
    const p = host.spawn({ uid: 65534, cwd: '/dev' });
    const fd = p.open('/dev/readonly', O_RDONLY | O_DIRECTORY);
    expectErrno(() => p.fchdir(fd), 'EACCES');
    expectErrno(() => p.chdir('readonly'), 'EACCES');
    expect(p.getcwd()).toBe('/dev');
  });

  it('property: a relative path from the working directory names what the absolute path joined to it names', () => {
    // The tree (no symlinks): the reference model is plain path arithmetic on it.
    const DIRS = ['/', '/t', '/t/a', '/t/a/b', '/t/c'];
    const FILES = ['/t/a/f', '/t/c/g'];
    const RELS = ['.', '..', 'a', 'a/b', 'c', '../c', 'b/..', 'a/f', 'f', 'g', 'c/g', '../../t', 'missing', 'a/f/x', './a/./b/'];
    const norm = (cwd: string, rel: string): string => {
      const parts = cwd.split('/').filter(Boolean);
      for (const n of rel.split('/').filter(Boolean)) {
        if (n === '..') parts.pop();
        else if (n !== '.') parts.push(n);
      }
      return '/' + parts.join('/');
    };
    /** What the walk finds: the errno, or the kind; a name under a file is ENOTDIR, a trailing '/' needs a directory. */
    const lookup = (cwd: string, rel: string): string => {
      const parts = cwd.split('/').filter(Boolean);
      for (const n of rel.split('/').filter(Boolean)) {
        const here = '/' + parts.join('/');
        if (!DIRS.includes(here)) return 'ENOTDIR';
        if (n === '..') parts.pop();
        else if (n !== '.') parts.push(n);
        const at = '/' + parts.join('/');
        if (!DIRS.includes(at) && !FILES.includes(at)) return 'ENOENT';
      }
      const at = '/' + parts.join('/');
      if (rel.endsWith('/') && !DIRS.includes(at)) return 'ENOTDIR';
      return DIRS.includes(at) ? 'dir' : 'reg';
    };
    type M = { cwd: string };
    type R = { p: Process };
    const outcome = (fn: () => unknown): string => {
      try {
        fn();
        return 'ok';
      } catch (e) {
        if (e instanceof SyscallError) return e.code;
        throw e;
      }
    };
    class Chdir implements fc.Command<M, R> {
      constructor(readonly rel: string) {}
      check = () => true;
      run(m: M, r: R): void {
        const want = lookup(m.cwd, this.rel);
        expect(outcome(() => r.p.chdir(this.rel))).toBe(want === 'dir' ? 'ok' : want === 'reg' ? 'ENOTDIR' : want);
        if (want === 'dir') m.cwd = norm(m.cwd, this.rel);
        expect(r.p.getcwd()).toBe(m.cwd);
      }
      toString = () => `chdir(${JSON.stringify(this.rel)})`;
    }
    class Stat implements fc.Command<M, R> {
      constructor(readonly rel: string) {}
      check = () => true;
      run(m: M, r: R): void {
        const want = lookup(m.cwd, this.rel);
        let ino = 0;
        expect(outcome(() => (ino = r.p.stat(this.rel).st_ino))).toBe(want === 'dir' || want === 'reg' ? 'ok' : want);
        if (ino) expect(ino).toBe(r.p.stat(norm(m.cwd, this.rel)).st_ino);
      }
      toString = () => `stat(${JSON.stringify(this.rel)})`;
    }
    const rel = fc.constantFrom(...RELS);
    fc.assert(
      fc.property(fc.commands([rel.map((x) => new Chdir(x)), rel.map((x) => new Stat(x))], { maxCommands: 30 }), (cmds) => {
        const host = Host.create();
        host.kernel.vfs.mkdirp('/t/a/b');
        host.kernel.vfs.mkdirp('/t/c');
        const setup = host.spawn();
        setup.close(setup.open('/t/a/f', O_CREAT | O_WRONLY, 0o644));
        setup.close(setup.open('/t/c/g', O_CREAT | O_WRONLY, 0o644));
        fc.modelRun(() => ({ model: { cwd: '/' }, real: { p: host.spawn() } }), cmds);
      }),
      { numRuns: 50 },
    );
  });

  it('strace: chdir, fchdir, getcwd, openat with a dirfd, readlinkat, fchmodat and fchownat as strace 6.1 prints them', () => {
    const host = Host.create();
    const p = host.spawn();
    const lines: string[] = [];
    const stop = host.strace((l) => lines.push(l));
    p.chdir('/sys/bus');
    const d = p.open('pci', O_RDONLY | O_DIRECTORY);
    p.fchdir(d);
    p.getcwd(100);
    expectErrno(() => p.getcwd(3), 'ERANGE');
    p.close(p.openat(d, 'drivers_probe', O_WRONLY));
    expectErrno(() => p.readlinkat(d, 'devices'), 'EINVAL');
    p.chdir('/dev');
    p.close(p.open('f', O_CREAT | O_WRONLY, 0o600));
    p.fchmodat(AT_FDCWD, 'f', 0o640);
    p.fchownat(AT_FDCWD, 'f', 1, -1, AT_SYMLINK_NOFOLLOW);
    stop();
    expect(lines).toEqual([
      'chdir("/sys/bus") = 0',
      'openat(AT_FDCWD, "pci", O_RDONLY|O_DIRECTORY) = 3',
      'fchdir(3) = 0',
      'getcwd("/sys/bus/pci", 100) = 13',
      'getcwd(0x0, 3) = -1 ERANGE (Numerical result out of range)',
      'openat(3, "drivers_probe", O_WRONLY) = 4',
      'close(4) = 0',
      'readlinkat(3, "devices", 0x0, 4096) = -1 EINVAL (Invalid argument)',
      'chdir("/dev") = 0',
      'openat(AT_FDCWD, "f", O_WRONLY|O_CREAT, 0600) = 4',
      'close(4) = 0',
      'fchmodat(AT_FDCWD, "f", 0640) = 0',
      'fchownat(AT_FDCWD, "f", 1, -1, AT_SYMLINK_NOFOLLOW) = 0',
    ]);
  });
});
