// stat, lstat, fstat, newfstatat (fs/stat.c vfs_fstatat, vfs_statx, cp_new_stat) over the model's
// inodes (src/linux/fs/stat.ts), device numbers (include/linux/kdev_t.h, drivers/char/misc.c,
// fs/char_dev.c: src/linux/fs/char-dev.ts) and the sysfs `dev` attributes (drivers/base/core.c).
// stat-oracle.c runs the same steps on this machine's kernel and prints only what does not depend on
// the host; the model must print the same lines, and strace 6.1 must print its newfstatat calls as
// the model's tracer does.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COracle, REAL_CAPS, STRACE, oracleSkip } from '../../support/c-oracle.js';
import { Host, SyscallError } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { STAT_SIZE, readStat, type Stat } from '../../../src/linux/fs/stat.js';
import { MAJOR, MINOR, MKDEV, newEncodeDev } from '../../../src/linux/fs/char-dev.js';
import { ANON_INODE_INO } from '../../../src/linux/fs/fdinfo.js';
import { stat as statLayout } from '../../../include-ts/asm/stat.js';
import { S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from '../../../include-ts/linux/stat.js';
import {
  AT_EMPTY_PATH, AT_FDCWD, F_SETFL, O_NOATIME, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_DIRECTORY, O_PATH, O_RDONLY, O_RDWR, O_TMPFILE,
} from '../../../include-ts/linux/fcntl.js';
import { KVM_CREATE_VM } from '../../../include-ts/linux/kvm.js';
import { EDU, bindVfio, expectErrno } from '../../support/vfio.js';

const here = dirname(fileURLToPath(import.meta.url));

/** glibc's major()/minor() on an st_rdev (new_decode_dev() for the 32-bit encodings the kernel makes). */
const major = (rdev: number): number => (rdev >>> 8) & 0xfff;
const minor = (rdev: number): number => (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);

function typeOf(mode: number): string {
  switch (mode & S_IFMT) {
    case S_IFCHR: return 'chr';
    case S_IFDIR: return 'dir';
    case S_IFREG: return 'reg';
    case S_IFLNK: return 'lnk';
    case S_IFIFO: return 'fifo';
    case 0: return 'none';
    default: return 'other';
  }
}

/** show() of stat-oracle.c: the type and the fields `what` names, or the errno. */
function line(name: string, call: () => Stat, what: string): string {
  let st: Stat;
  try {
    st = call();
  } catch (e) {
    if (e instanceof SyscallError) return `${name}: errno=${e.code}`;
    throw e;
  }
  let s = `${name}: type=${typeOf(st.st_mode)}`;
  if (what.includes('m')) s += ` mode=${(st.st_mode & 0o7777).toString(8).padStart(4, '0')}`;
  if ((st.st_mode & S_IFMT) === S_IFCHR) s += ` rdev=${major(st.st_rdev)}:${minor(st.st_rdev)}`;
  if (what.includes('n')) s += ` nlink=${st.st_nlink}`;
  if (what.includes('s')) s += ` size=${st.st_size}`;
  if (what.includes('b')) s += ` blksize=${st.st_blksize}`;
  if (what.includes('k')) s += ` blocks=${st.st_blocks}`;
  if (what.includes('u')) s += ` owner=${st.st_uid}:${st.st_gid}`;
  return s;
}

/** stat-oracle.c's steps on the model (keep the two in step). */
function statSteps(host: Host, p: Process): string[] {
  const out: string[] = [];
  const buf = new Uint8Array(STAT_SIZE);
  const at = (name: string, dirfd: number, path: string, flags: number, what: string): void => {
    out.push(line(name, () => p.fstatat(dirfd, path, buf, flags), what));
  };
  const file = (name: string, path: string): void => {
    try {
      out.push(`${name}: ${p.readFile(path).trimEnd()}`);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      out.push(`${name}: errno=${e.code}`);
    }
  };
  at('kvm', AT_FDCWD, '/dev/kvm', 0, 'nsb');
  at('null', AT_FDCWD, '/dev/null', 0, 'mnsbku');
  at('zero', AT_FDCWD, '/dev/zero', 0, 'mnsbku');
  at('vfio', AT_FDCWD, '/dev/vfio/vfio', 0, 'mnsb');
  at('limits', AT_FDCWD, '/proc/self/limits', 0, 'mnsbk');
  at('self-link', AT_FDCWD, '/proc/self', AT_SYMLINK_NOFOLLOW, 'mnsb');
  at('self-dir', AT_FDCWD, '/proc/self', 0, 'msb');
  at('fdinfo-dir', AT_FDCWD, '/proc/self/fdinfo', 0, 'mnsb');
  at('pci-devices', AT_FDCWD, '/sys/bus/pci/devices', 0, 'mnsbk');
  at('drivers-probe', AT_FDCWD, '/sys/bus/pci/drivers_probe', 0, 'mnsbk');
  at('drivers-autoprobe', AT_FDCWD, '/sys/bus/pci/drivers_autoprobe', 0, 'mnsb');
  at('misc-kvm-link', AT_FDCWD, '/sys/class/misc/kvm', AT_SYMLINK_NOFOLLOW, 'mnsb');
  at('misc-kvm-dir', AT_FDCWD, '/sys/class/misc/kvm', 0, 'msb');
  at('misc-kvm-dev', AT_FDCWD, '/sys/class/misc/kvm/dev', 0, 'mnsb');
  file('misc-kvm-dev-text', '/sys/class/misc/kvm/dev');
  file('mem-null-dev-text', '/sys/class/mem/null/dev');

  const efd = p.eventfd(0, 0);
  at('eventfd', efd, '', AT_EMPTY_PATH, 'mnsbku');
  const [r, w] = p.pipe();
  at('pipe-r', r, '', AT_EMPTY_PATH, 'mnsbk');
  at('pipe-w', w, '', AT_EMPTY_PATH, 'mnsbk');
  const ep = p.epollCreate1(0);
  at('epoll', ep, '', AT_EMPTY_PATH, 'mnsbu');
  const kvm = p.open('/dev/kvm', O_RDWR | O_CLOEXEC);
  at('kvm-fd', kvm, '', AT_EMPTY_PATH, 'nsb');
  const vm = p.ioctl(kvm, KVM_CREATE_VM, 0);
  at('kvm-vm', vm, '', AT_EMPTY_PATH, 'mnsbu');
  const opath = p.open('/dev/null', O_PATH);
  at('o-path', opath, '', AT_EMPTY_PATH, 'mnsb');
  at('fd-dir', AT_FDCWD, '/proc/self/fd', 0, 'mnsb');
  at('fd-link-r', AT_FDCWD, `/proc/self/fd/${r}`, AT_SYMLINK_NOFOLLOW, 'mnsu');
  at('fd-link-w', AT_FDCWD, `/proc/self/fd/${w}`, AT_SYMLINK_NOFOLLOW, 'mns');
  at('fd-link-rw', AT_FDCWD, `/proc/self/fd/${efd}`, AT_SYMLINK_NOFOLLOW, 'mns');
  at('fd-link-path', AT_FDCWD, `/proc/self/fd/${opath}`, AT_SYMLINK_NOFOLLOW, 'mns');
  at('fd-follow', AT_FDCWD, `/proc/self/fd/${efd}`, 0, 'mnsb');
  const dev = p.open('/dev', O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  at('dirfd-null', dev, 'null', 0, 'mnsb');
  at('dirfd-self', dev, '', AT_EMPTY_PATH, 'm');
  at('dirfd-not-dir', efd, 'null', 0, '');
  at('bad-fd', 999, '', AT_EMPTY_PATH, '');
  at('bad-dirfd', 999, 'null', 0, '');
  at('missing', AT_FDCWD, '/nonexistent', 0, '');
  at('through-file', AT_FDCWD, '/dev/null/x', 0, '');
  at('empty-path', AT_FDCWD, '', 0, '');
  at('bad-flags', AT_FDCWD, '/dev/null', 0x1, '');
  at('empty-path-bad-flags', efd, '', AT_EMPTY_PATH | 0x1, 'm');
  out.push(line('null-buffer', () => p.fstatat(AT_FDCWD, '/dev/null', null, 0), ''));
  const tmp = p.open('/dev', O_TMPFILE | O_RDWR | O_CLOEXEC, 0o640);
  p.write(tmp, new TextEncoder().encode('xyz'));
  at('tmpfile', tmp, '', AT_EMPTY_PATH, 'mnsbku');
  const nobody = host.spawn({ uid: 65534 });
  out.push(line('eacces', () => nobody.stat(`/proc/${p.pid}/fd/0`), ''));
  return out;
}

/** A newfstatat line with the host's buffer address (failed calls) as the model prints it. */
const normaliseTrace = (l: string): string => l.replace(/, 0x[0-9a-f]{6,}, /, ', 0x0, ');

/**
 * Lines that depend on this host's setup, not on the kernel: udev gives /dev/kvm 0600 here (the
 * model's rule makes it 0660 root:kvm, as Fedora's does), and this machine has no VFIO loaded.
 */
const HOST_SETUP = (l: string): boolean => l.includes('makedev(0xa, 0xe8)') || l.includes('/dev/vfio/');

describe('newfstatat: the model against this machine\'s kernel', () => {
  const skip = oracleSkip('stat-oracle', ['root', 'kvm'], true);
  it.skipIf(skip !== undefined)('every step gives the real type, mode, device number, nlink, size, blksize, blocks, owner or errno, and strace prints the calls alike', () => {
    const oracle = new COracle(join(here, 'stat-oracle.c'));
    try {
      const real = oracle.run().trim().split('\n');
      const host = Host.create();
      const p = host.spawn({ capabilities: REAL_CAPS });
      const traced: string[] = [];
      // Only p's calls: strace without -f does not follow the oracle's forked uid-65534 child either.
      const stop = host.strace((l: string) => { if (l.startsWith(`[pid ${p.pid}] `)) traced.push(l.slice(`[pid ${p.pid}] `.length)); }, { pids: true });
      const model = statSteps(host, p);
      stop();
      // /dev/vfio/vfio only where VFIO is loaded; the model always has it.
      const vfio = real.find((l) => l.startsWith('vfio:'));
      const keep = (l: string): boolean => !(vfio === 'vfio: errno=ENOENT' && l.startsWith('vfio:'));
      expect(model.filter(keep)).toEqual(real.filter(keep));
      expect(model.find((l) => l.startsWith('vfio:'))).toBe('vfio: type=chr mode=0666 rdev=10:196 nlink=1 size=0 blksize=4096');
      if (!STRACE) return;
      const trace = oracle.strace(['-e', 'trace=newfstatat']).trace.split('\n');
      const begin = trace.findIndex((l) => l.includes('/stat-oracle-begin'));
      const realCalls = trace.slice(begin + 1).filter((l) => l.startsWith('newfstatat(')).map(normaliseTrace).filter((l) => !HOST_SETUP(l));
      const modelCalls = traced.filter((l) => l.startsWith('newfstatat(')).filter((l) => !HOST_SETUP(l));
      // The model's walk of /dev (dirfd-self) has fewer entries than this machine's /dev: its size differs.
      const devSize = (l: string): string => l.replace(/^(newfstatat\(\d+, "", \{st_mode=S_IFDIR\|0755, st_size=)\d+/, '$1N');
      expect(modelCalls.map(devSize)).toEqual(realCalls.map(devSize));
    } finally {
      oracle.dispose();
    }
  });
});

describe('stat: the kernel rules (fs/stat.c)', () => {
  it('cp_new_stat() fills the x86-64 struct stat: 144 bytes, st_rdev new_encode_dev()d, the rest zeroed', () => {
    const host = Host.create();
    const p = host.spawn();
    const buf = new Uint8Array(STAT_SIZE + 8).fill(0xee);
    const st = p.stat('/dev/kvm', buf);
    expect(STAT_SIZE).toBe(144);
    expect(readStat(buf)).toEqual(st);
    expect(st.st_rdev).toBe(0xae8); // makedev(10, 232)
    expect(buf.subarray(statLayout.offsetof('__pad0'), statLayout.offsetof('__pad0') + 4)).toEqual(new Uint8Array(4));
    expect(buf.subarray(statLayout.offsetof('__unused'), STAT_SIZE)).toEqual(new Uint8Array(24));
    expect(buf.subarray(STAT_SIZE)).toEqual(new Uint8Array(8).fill(0xee)); // copy_to_user() of sizeof(struct stat) only
    expect(st.st_mode).toBe(S_IFCHR | 0o660);
    expect([st.st_uid, st.st_gid]).toEqual([0, 36]);
  });

  it('new_encode_dev(): minors above 255 keep their high bits at bit 20 (include/linux/kdev_t.h)', () => {
    expect(newEncodeDev(MKDEV(10, 260))).toBe(0x100a04);
    expect(newEncodeDev(MKDEV(244, 0))).toBe(0xf400);
    expect(major(newEncodeDev(MKDEV(243, 0x12345)))).toBe(243);
    expect(minor(newEncodeDev(MKDEV(243, 0x12345)))).toBe(0x12345);
    expect([MAJOR(MKDEV(1, 3)), MINOR(MKDEV(1, 3))]).toEqual([1, 3]);
  });

  it('the dynamic numbers: /dev/iommu takes the first free misc minor (260), VFIO the majors 244 (groups) and 243 (cdevs)', () => {
    const host = Host.create();
    const p = host.spawn();
    const iommu = p.stat('/dev/iommu');
    expect([major(iommu.st_rdev), minor(iommu.st_rdev)]).toEqual([10, 260]);
    expect(p.readFile('/sys/class/misc/iommu/dev')).toBe('10:260\n');
    expect(p.readFile('/sys/class/misc/vfio/dev')).toBe('10:196\n');
    bindVfio(p, EDU);
    const g = p.stat('/dev/vfio/2');
    expect([major(g.st_rdev), minor(g.st_rdev)]).toEqual([244, 0]);
    expect(p.readFile('/sys/class/vfio/2/dev')).toBe('244:0\n');
    const c = p.stat('/dev/vfio/devices/vfio0');
    expect([major(c.st_rdev), minor(c.st_rdev)]).toEqual([243, 0]);
    expect(p.readlink('/sys/class/vfio-dev/vfio0')).toBe('../../devices/pci0000:00/0000:00:03.0/vfio-dev/vfio0');
  });

  it('vfs_fstatat(): AT_EMPTY_PATH with "" is vfs_fstat(), which checks no flag; otherwise unknown flags are EINVAL before the walk', () => {
    const host = Host.create();
    const p = host.spawn();
    const efd = p.eventfd(0, 0);
    expect(p.fstatat(efd, '', new Uint8Array(STAT_SIZE), AT_EMPTY_PATH | 0x8_0000).st_ino).toBe(ANON_INODE_INO);
    expectErrno(() => p.fstatat(AT_FDCWD, '/nonexistent', new Uint8Array(STAT_SIZE), 0x1), 'EINVAL');
    expectErrno(() => p.fstatat(AT_FDCWD, '', new Uint8Array(STAT_SIZE), 0x1), 'EINVAL');
    expectErrno(() => p.fstatat(AT_FDCWD, '', new Uint8Array(STAT_SIZE), 0), 'ENOENT');
  });

  it('getname_flags() (fs/namei.c): a path of PATH_MAX (4096) bytes or more is ENAMETOOLONG, after the flag check, before the walk (as on this machine)', () => {
    const host = Host.create();
    const p = host.spawn();
    const buf = new Uint8Array(STAT_SIZE);
    // 4095 bytes and the NUL fit: '/' followed by slashes is the root.
    expect(p.fstatat(AT_FDCWD, '/'.repeat(4095), buf, 0).st_mode & S_IFMT).toBe(S_IFDIR);
    expectErrno(() => p.fstatat(AT_FDCWD, '/'.repeat(4096), buf, 0), 'ENAMETOOLONG');
    expectErrno(() => p.stat('/nonexistent/' + 'a'.repeat(5000)), 'ENAMETOOLONG');
    // Bytes, not UTF-16 units: 2048 two-byte characters are 4096 bytes.
    expectErrno(() => p.stat('/' + '\u00e9'.repeat(2048)), 'ENAMETOOLONG');
    expectErrno(() => p.fstatat(AT_FDCWD, 'a'.repeat(5000), buf, 0x4), 'EINVAL');
    expectErrno(() => p.fstatat(p.eventfd(0, 0), 'a'.repeat(5000), buf, AT_EMPTY_PATH), 'ENAMETOOLONG');
  });

  it('a name of more than NAME_MAX (255) bytes is ENAMETOOLONG on tmpfs (simple_lookup(), fs/libfs.c) but just missing on sysfs and procfs, as on this machine', () => {
    const host = Host.create();
    const p = host.spawn();
    const b = (n: number) => 'b'.repeat(n);
    expectErrno(() => p.stat(`/dev/${b(255)}`), 'ENOENT');
    expectErrno(() => p.stat(`/dev/${b(256)}`), 'ENAMETOOLONG');
    expectErrno(() => p.stat(`/dev/${b(256)}/x`), 'ENAMETOOLONG');
    expectErrno(() => p.stat(`/${b(256)}`), 'ENAMETOOLONG');
    expectErrno(() => p.stat(`/dev/${'\u00e9'.repeat(128)}`), 'ENAMETOOLONG'); // 256 bytes
    expectErrno(() => p.stat(`/sys/${b(256)}`), 'ENOENT');
    expectErrno(() => p.stat(`/proc/${b(256)}`), 'ENOENT');
    expectErrno(() => p.stat(`/nonexistent/${b(256)}`), 'ENOENT');
  });

  it('the lookup fails before the copy: ENOENT with a short buffer, EFAULT only once the file was found', () => {
    const host = Host.create();
    const p = host.spawn();
    expectErrno(() => p.fstatat(AT_FDCWD, '/nonexistent', new Uint8Array(8), 0), 'ENOENT');
    expectErrno(() => p.fstatat(AT_FDCWD, '/dev/null', new Uint8Array(STAT_SIZE - 1), 0), 'EFAULT');
  });

  it('a /proc/<pid>/fd link followed by "/" or more names jumps to the open file (nd_jump_link()); a non-directory there is ENOTDIR (fs/namei.c), as on this machine', () => {
    const host = Host.create();
    const p = host.spawn();
    const efd = p.eventfd(0, 0);
    const dev = p.open('/dev', O_RDONLY | O_DIRECTORY);
    expectErrno(() => p.stat(`/proc/self/fd/${efd}/`), 'ENOTDIR');
    expectErrno(() => p.lstat(`/proc/self/fd/${efd}/`), 'ENOTDIR');
    expectErrno(() => p.stat(`/proc/self/fd/${efd}/.`), 'ENOTDIR');
    expectErrno(() => p.stat(`/proc/self/fd/${efd}/x`), 'ENOTDIR');
    expect(p.stat(`/proc/self/fd/${dev}/`).st_mode & S_IFMT).toBe(S_IFDIR);
    expect(p.stat(`/proc/self/fd/${dev}/null`).st_mode & S_IFMT).toBe(S_IFCHR);
  });

  it('search permission: a walk through a directory the caller may not search is EACCES (may_lookup())', () => {
    const host = Host.create();
    const root = host.spawn();
    const user = host.spawn({ uid: 1000 });
    expect(user.stat(`/proc/${user.pid}/fd/0`).st_rdev).toBe(0x103); // its own fds: proc_fd_permission()
    expectErrno(() => user.stat(`/proc/${root.pid}/fd/0`), 'EACCES');
    expectErrno(() => user.lstat(`/proc/${root.pid}/fd/0`), 'EACCES');
  });

  it('lstat does not follow a final symlink; stat does, and a /proc/<pid>/fd link leads to the open file itself', () => {
    const host = Host.create();
    const p = host.spawn();
    expect(p.lstat('/proc/self').st_mode).toBe(S_IFLNK | 0o777);
    expect(p.stat('/proc/self').st_mode).toBe(S_IFDIR | 0o555);
    const [r] = p.pipe();
    const pipe = p.fstat(r);
    const viaLink = p.stat(`/proc/self/fd/${r}`);
    expect(viaLink).toEqual(pipe);
    expect(p.lstat(`/proc/self/fd/${r}`).st_mode).toBe(S_IFLNK | 0o500);
  });

  it('st_ino is the number /proc/<pid>/fdinfo shows for the same file (fs/proc/fd.c seq_show)', () => {
    const host = Host.create();
    const p = host.spawn();
    const ino = (fd: number): number => Number(/^ino:\t(\d+)$/m.exec(p.readFile(`/proc/self/fdinfo/${fd}`))![1]);
    const kvm = p.open('/dev/kvm', O_RDWR);
    const byPath = p.stat('/dev/kvm').st_ino;
    expect(p.fstat(kvm).st_ino).toBe(byPath);
    expect(ino(kvm)).toBe(byPath);
    const [r] = p.pipe();
    expect(p.fstat(r).st_ino).toBe(ino(r));
    const efd = p.eventfd(0, 0);
    expect(p.fstat(efd).st_ino).toBe(ino(efd));
    const limits = p.open('/proc/self/limits', O_RDONLY);
    expect(p.fstat(limits).st_ino).toBe(ino(limits));
    expect(p.fstat(limits).st_dev).not.toBe(p.fstat(kvm).st_dev); // procfs vs devtmpfs
  });

  it('nlink: 2 + subdirectories for kernfs and tmpfs directories; a tmpfs directory\'s size counts its entries (BOGO_DIRENT_SIZE)', () => {
    const host = Host.create();
    const p = host.spawn();
    const names = p.readdir('/dev/vfio');
    const st = p.stat('/dev/vfio');
    expect(st.st_nlink).toBe(2 + names.filter((n) => (p.lstat(`/dev/vfio/${n}`).st_mode & S_IFMT) === S_IFDIR).length);
    expect(st.st_size).toBe(40 + 20 * names.length);
    bindVfio(p, EDU);
    expect(p.stat('/dev/vfio').st_nlink).toBe(3); // /dev/vfio/devices appeared
    const edu = p.stat(`/sys/bus/pci/devices/${EDU}`);
    const subdirs = p.readdir(`/sys/bus/pci/devices/${EDU}`).filter((n) => (p.lstat(`/sys/bus/pci/devices/${EDU}/${n}`).st_mode & S_IFMT) === S_IFDIR);
    expect(subdirs).toContain('vfio-dev');
    expect(edu.st_nlink).toBe(2 + subdirs.length);
  });

  it('a tmpfs file: i_size, blocks per page written, times from the virtual clock (creation, then each write)', () => {
    const host = Host.create();
    const p = host.spawn();
    const fd = p.open('/dev', O_TMPFILE | O_RDWR, 0o600);
    const t0 = p.fstat(fd);
    expect([t0.st_size, t0.st_blocks, t0.st_nlink]).toEqual([0, 0, 0]);
    host.kernel.sched.advance(2_500_000_000);
    p.pwrite(fd, new Uint8Array(10), 8192);
    const t1 = p.fstat(fd);
    expect([t1.st_size, t1.st_blocks]).toEqual([8202, 8]);
    expect([t1.st_mtime - t0.st_mtime, t1.st_mtime_nsec - t0.st_mtime_nsec]).toEqual([2, 500_000_000]);
    expect(t1.st_ctime).toBe(t1.st_mtime);
    expect(t1.st_atime).toBe(t0.st_atime);
  });

  it('a tmpfs file\'s atime under relatime (file_accessed, relatime_need_update) and ctime on chmod/chown (notify_change\'s ATTR_CTIME)', () => {
    const host = Host.create();
    const p = host.spawn();
    const fd = p.open('/dev', O_TMPFILE | O_RDWR, 0o600);
    const ns = (t: { st_atime: number; st_atime_nsec: number }) => t.st_atime * 1e9 + t.st_atime_nsec;
    const cns = (t: { st_ctime: number; st_ctime_nsec: number }) => t.st_ctime * 1e9 + t.st_ctime_nsec;
    const t0 = p.fstat(fd);
    host.kernel.sched.advance(1e9);
    p.pread(fd, new Uint8Array(4), 0);
    // atime was not after mtime: it moves (even for a read at the end of the file).
    expect(ns(p.fstat(fd))).toBe(ns(t0) + 1e9);
    host.kernel.sched.advance(1e9);
    p.pread(fd, new Uint8Array(4), 0);
    // Now it is after mtime and ctime, and less than a day old: it stays.
    expect(ns(p.fstat(fd))).toBe(ns(t0) + 1e9);
    host.kernel.sched.advance(1e9);
    p.pwrite(fd, new Uint8Array(1), 0);
    host.kernel.sched.advance(1e9);
    // An O_NOATIME read does not touch atime; a read of 0 bytes does (vfs_read() has no shortcut and
    // shmem_file_read_iter() ends in file_accessed(); measured on this machine's 6.18).
    p.fcntl(fd, F_SETFL, O_NOATIME);
    p.pread(fd, new Uint8Array(1), 0);
    expect(ns(p.fstat(fd))).toBe(ns(t0) + 1e9);
    p.fcntl(fd, F_SETFL, 0);
    p.pread(fd, new Uint8Array(0), 0);
    expect(ns(p.fstat(fd))).toBe(ns(t0) + 4e9);
    // A day later the next read moves it again.
    host.kernel.sched.advance(86_400e9);
    p.pread(fd, new Uint8Array(1), 0);
    expect(ns(p.fstat(fd))).toBe(ns(t0) + 4e9 + 86_400e9);
    // chmod and chown move ctime, to the same mode and owner too; mtime stays.
    const before = p.fstat(fd);
    host.kernel.sched.advance(1e9);
    p.fchmod(fd, 0o600);
    expect(cns(p.fstat(fd))).toBe(host.kernel.sched.now);
    host.kernel.sched.advance(1e9);
    p.fchown(fd, 0, 0);
    const after = p.fstat(fd);
    expect(cns(after)).toBe(host.kernel.sched.now);
    expect(cns(after)).toBeGreaterThan(cns(before));
    expect([after.st_mtime, after.st_mtime_nsec]).toEqual([before.st_mtime, before.st_mtime_nsec]);
  });

  it('fstat works on an O_PATH fd (fdget_raw()), where fchmod is EBADF', () => {
    const host = Host.create();
    const p = host.spawn();
    const fd = p.open('/dev/null', O_PATH);
    expect(p.fstat(fd).st_rdev).toBe(0x103);
    expectErrno(() => p.fchmod(fd, 0o600), 'EBADF');
  });

  it('a relative path needs a directory fd: ENOTDIR for another file, EBADF for a closed one; with AT_FDCWD it starts at the working directory ("/" at first)', () => {
    const host = Host.create();
    const p = host.spawn();
    const dev = p.open('/dev', O_RDONLY | O_DIRECTORY);
    expect(p.fstatat(dev, 'zero', new Uint8Array(STAT_SIZE), 0).st_rdev).toBe(0x105);
    expect(p.fstatat(dev, '/dev/null', new Uint8Array(STAT_SIZE), 0).st_rdev).toBe(0x103); // absolute: dirfd ignored
    expectErrno(() => p.fstatat(p.eventfd(0, 0), 'zero', new Uint8Array(STAT_SIZE), 0), 'ENOTDIR');
    expectErrno(() => p.fstatat(99, 'zero', new Uint8Array(STAT_SIZE), 0), 'EBADF');
    expect(p.fstatat(AT_FDCWD, 'dev/null', new Uint8Array(STAT_SIZE), 0).st_rdev).toBe(0x103);
  });
});
