// open(2)'s path walk and creation rules (fs/open.c build_open_flags(), fs/namei.c path_openat(),
// link_path_walk(), lookup_last(), open_last_lookups(), lookup_open(), do_open(), may_open()).
// Every failing case asserts the errno and that nothing changed: no fd installed, no driver open, no
// name added to the directory. The errnos were measured on this machine (Linux 6.18, as root and as
// uid 65534, with a C program calling open(2) on /dev (devtmpfs), /sys (sysfs) and /proc (procfs)).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, SyscallError } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { StaticDir, chardev, symlink, type CharDevNode } from '../../src/linux/fs/vfs.js';
import { F_CREATED_QUERY, F_GETFL, F_SETFL, O_NOATIME, O_NONBLOCK, O_ACCMODE, O_APPEND, O_TMPFILE, __O_TMPFILE, O_TRUNC, O_CREAT, O_DIRECT, O_DIRECTORY, O_EXCL, O_LARGEFILE, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_WRONLY } from '../../include-ts/linux/fcntl.js';
import { FIONREAD } from '../../include-ts/asm-generic/ioctls.js';
import { errnoInfo } from '../../abi/errno.js';

const NOBODY = { uid: 65534, gid: 65534 };
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

interface World {
  readonly host: Host;
  /** Driver opens of /dev/null and /dev/kvm (f_op->open calls). */
  readonly opens: Record<string, number>;
}

/** A host whose /dev/null and /dev/kvm count their driver opens. */
function world(): World {
  const host = Host.create();
  const opens: Record<string, number> = { null: 0, kvm: 0 };
  const dev = host.kernel.vfs.mkdirp('/dev');
  const ctx = host.spawn({ stdio: false }).context;
  for (const name of ['null', 'kvm']) {
    const node = dev.lookup(name, ctx) as CharDevNode;
    dev.set(name, chardev((c, f, p) => (opens[name]!++, node.open(c, f, p)), node.mode, node.uid, node.gid));
  }
  return { host, opens };
}

/** What a failed open must leave as it was. */
function state(w: World, p: Process): unknown {
  return { fds: p.fds.openFds(), root: p.readdir('/'), dev: p.readdir('/dev'), vfio: p.readdir('/dev/vfio'), opens: { ...w.opens } };
}

/** open() fails with `code` and changes nothing. */
function refuses(w: World, p: Process, path: string, flags: number, code: string, mode = 0o644): SyscallError {
  const before = state(w, p);
  let e: unknown;
  try {
    p.open(path, flags, mode);
  } catch (x) {
    e = x;
  }
  if (!(e instanceof SyscallError)) throw new Error(`open("${path}", 0${flags.toString(8)}) did not fail`);
  expect(e.code, `open("${path}", 0${flags.toString(8)}): ${e.message}`).toBe(code);
  expect(state(w, p), `open("${path}") changed state`).toEqual(before);
  return e;
}

describe('open(): the path walk (link_path_walk, lookup_last)', () => {
  // link_path_walk(): every component before the last must be a directory, '.' and '..' included
  // (`if (unlikely(!d_can_lookup(nd->path.dentry))) return -ENOTDIR`). Measured: ENOTDIR for both.
  it("'.' or '..' after a file is ENOTDIR (link_path_walk)", () => {
    const w = world();
    const p = w.host.spawn();
    refuses(w, p, '/dev/null/.', O_RDONLY, 'ENOTDIR');
    refuses(w, p, '/dev/null/..', O_RDONLY, 'ENOTDIR');
    refuses(w, p, '/dev/kvm/../null', O_RDONLY, 'ENOTDIR');
  });

  // lookup_last() / open_last_lookups(): a trailing slash after the last name sets LOOKUP_FOLLOW |
  // LOOKUP_DIRECTORY, so the result must be a directory (ENOTDIR, O_NOFOLLOW or not) and a final
  // symlink is followed even with O_NOFOLLOW. Measured: "/dev/null/" ENOTDIR with and without
  // O_NOFOLLOW; "/proc/self/" with O_NOFOLLOW opens the process's directory.
  it('a trailing slash: ENOTDIR on a file, and a final symlink is followed despite O_NOFOLLOW (lookup_last)', () => {
    const w = world();
    const p = w.host.spawn();
    refuses(w, p, '/dev/null/', O_RDONLY, 'ENOTDIR');
    refuses(w, p, '/dev/null/', O_RDONLY | O_NOFOLLOW, 'ENOTDIR');
    refuses(w, p, '/dev/null//', O_PATH, 'ENOTDIR');
    const fd = p.open('/proc/self/', O_RDONLY | O_NOFOLLOW);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe(`/proc/${p.pid}`);
    expect(p.readdir('/proc/self/')).toContain('fd');
  });

  // do_open(): `if ((nd->flags & LOOKUP_DIRECTORY) && !d_can_lookup(nd->path.dentry)) return -ENOTDIR;`
  // comes before may_open(), whose S_IFLNK case is ELOOP. Measured: open("/proc/self",
  // O_NOFOLLOW|O_DIRECTORY) is ENOTDIR.
  it('O_DIRECTORY|O_NOFOLLOW on a symlink is ENOTDIR, not ELOOP (do_open checks LOOKUP_DIRECTORY before may_open)', () => {
    const w = world();
    const p = w.host.spawn();
    refuses(w, p, '/proc/self', O_RDONLY | O_NOFOLLOW | O_DIRECTORY, 'ENOTDIR');
    refuses(w, p, '/proc/self', O_RDONLY | O_NOFOLLOW, 'ELOOP');
  });
});

// fs/open.c build_open_flags() (6.18): `if ((flags & (O_DIRECTORY | O_CREAT)) == (O_DIRECTORY | O_CREAT))
// return -EINVAL;` (since 6.4), before do_sys_openat2() looks at the name or takes an fd (EMFILE);
// build_open_how() keeps only O_PATH_FLAGS with O_PATH, so O_PATH|O_CREAT|O_DIRECTORY is no error.
// Measured: EINVAL on /dev/null, on a missing name and under a missing directory, as root and as
// uid 65534; O_PATH|O_CREAT|O_DIRECTORY on a missing name is ENOENT.
describe('open(O_CREAT): flag rules (build_open_flags)', () => {
  it('O_CREAT|O_DIRECTORY is EINVAL before the name is looked up and before EMFILE', () => {
    const w = world();
    for (const p of [w.host.spawn(), w.host.spawn(NOBODY)]) {
      for (const path of ['/dev/null', '/dev/ocreat_none', '/nonexistent_ocreat/x', '/dev']) refuses(w, p, path, O_RDWR | O_CREAT | O_DIRECTORY, 'EINVAL');
    }
    const full = w.host.spawn({ nofile: 3 });
    refuses(w, full, '/dev/null', O_RDONLY, 'EMFILE');
    refuses(w, full, '/dev/null', O_RDONLY | O_CREAT | O_DIRECTORY, 'EINVAL');
    const p = w.host.spawn();
    refuses(w, p, '/dev/ocreat_none', O_PATH | O_CREAT | O_DIRECTORY, 'ENOENT');
    expect(p.open('/dev', O_PATH | O_CREAT | O_DIRECTORY)).toBe(3);
  });
});

// fs/namei.c do_open() on a name that exists: `if ((open_flag & O_EXCL) && !(file->f_mode &
// FMODE_CREATED)) return -EEXIST; if (d_is_dir(nd->path.dentry)) return -EISDIR;`, before may_open()
// and before any driver open. lookup_open() returns an existing dentry before may_o_create(), so a
// user who may not write the directory (nor open the file) still gets EEXIST. O_CREAT|O_EXCL implies
// O_NOFOLLOW (build_open_flags()), so a symlink is the existing name; O_CREAT alone follows it.
// Measured: EEXIST for /dev/kvm, /dev/null, /sys/bus/pci, /dev, /, /dev/., /dev/./, /dev/.. and
// /proc/self with O_CREAT|O_EXCL; EISDIR for the directories (and /proc/self) with O_CREAT; ELOOP for
// /proc/self with O_CREAT|O_NOFOLLOW; the same as root and as uid 65534.
describe('open(O_CREAT) on an existing name (do_open)', () => {
  it('O_CREAT|O_EXCL on /dev/kvm is EEXIST, and the driver is never opened (root or not)', () => {
    const w = world();
    for (const p of [w.host.spawn(), w.host.spawn(NOBODY), w.host.spawn({ uid: 1000, groups: [36] })]) {
      refuses(w, p, '/dev/kvm', O_RDWR | O_CREAT | O_EXCL, 'EEXIST');
      refuses(w, p, '/dev/null', O_RDWR | O_CREAT | O_EXCL, 'EEXIST');
    }
    expect(w.opens).toEqual({ null: 0, kvm: 0 });
    // Without O_EXCL, an existing name opens as without O_CREAT: the driver opens, nothing is created,
    // and may_open()'s permission check still applies (0660 root:kvm is not for uid 65534).
    const p = w.host.spawn();
    const fd = p.open('/dev/null', O_WRONLY | O_CREAT, 0o600);
    expect(w.opens).toEqual({ null: 1, kvm: 0 });
    expect(p.fcntl(fd, F_GETFL)).toBe(O_WRONLY | O_LARGEFILE); // do_dentry_open() drops O_CREAT
    expect(p.fcntl(fd, F_CREATED_QUERY)).toBe(0);
    refuses(w, w.host.spawn(NOBODY), '/dev/kvm', O_RDWR | O_CREAT, 'EACCES');
  });

  it('O_CREAT on a directory is EISDIR, O_CREAT|O_EXCL EEXIST, whatever the directory', () => {
    const w = world();
    for (const p of [w.host.spawn(), w.host.spawn(NOBODY)]) {
      for (const dir of ['/sys/bus/pci', '/dev', '/', '/dev/.', '/dev/./', '/dev/..', '/proc/self/fd']) {
        refuses(w, p, dir, O_RDONLY | O_CREAT, 'EISDIR');
        refuses(w, p, dir, O_RDONLY | O_CREAT | O_EXCL, 'EEXIST');
      }
    }
  });

  it('a final symlink: EEXIST with O_CREAT|O_EXCL (not followed), followed with O_CREAT, ELOOP with O_NOFOLLOW', () => {
    const w = world();
    const p = w.host.spawn();
    refuses(w, p, '/proc/self', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST');
    refuses(w, p, '/proc/self', O_RDONLY | O_CREAT, 'EISDIR');
    refuses(w, p, '/proc/self', O_RDONLY | O_CREAT | O_NOFOLLOW, 'ELOOP');
  });
});

// fs/namei.c open_last_lookups(): with O_CREAT, `if (unlikely(nd->last.name[nd->last.len])) return
// ERR_PTR(-EISDIR);` before the last name is looked up; the walk before it (link_path_walk()) fails
// first on a missing (ENOENT) or non-directory (ENOTDIR) component. '.' and '..' are not names
// (LAST_DOT), so '/dev/./' gets do_open()'s checks. Measured: EISDIR for /dev/null/,
// /dev/ocreat_none/ (with and without O_EXCL), /sys/ocreat_none/ and /dev/; ENOTDIR for /dev/null/x.
describe('open(O_CREAT) and a trailing slash (open_last_lookups)', () => {
  it('a name followed by / is EISDIR whether it exists or not; the walk before it fails first', () => {
    const w = world();
    for (const p of [w.host.spawn(), w.host.spawn(NOBODY)]) {
      for (const path of ['/dev/null/', '/dev/ocreat_none/', '/sys/ocreat_none/', '/dev/', '/proc/ocreat_none/']) {
        refuses(w, p, path, O_WRONLY | O_CREAT, 'EISDIR');
        refuses(w, p, path, O_WRONLY | O_CREAT | O_EXCL, 'EISDIR');
      }
      refuses(w, p, '/nonexistent_ocreat/x/', O_WRONLY | O_CREAT, 'ENOENT');
      refuses(w, p, '/dev/null/x', O_WRONLY | O_CREAT, 'ENOTDIR');
      refuses(w, p, '/dev/null/x/', O_WRONLY | O_CREAT, 'ENOTDIR');
    }
  });
});

// fs/namei.c lookup_open() on a missing name: may_o_create() needs MAY_WRITE|MAY_EXEC on the directory
// (EACCES; root passes by CAP_DAC_OVERRIDE); procfs's ->lookup fails with ENOENT instead of giving a
// negative dentry (proc_root_lookup(), proc_pident_lookup(), proc_lookupfd_common()), which wins over
// that EACCES; then a directory without ->create is EACCES (kernfs: sysfs). A missing directory on
// the way is link_path_walk()'s ENOENT, before any of it. Measured, as root and as uid 65534: EACCES
// for /sys/bus/pci/nonexistent and /sys/kernel/ocreat (with or without O_EXCL); ENOENT for
// /proc/ocreat_none, /proc/self/ocreat_none, /proc/self/fd/99, /proc/99999999/x,
// /sys/bus/nonexistent/x and /nonexistent_ocreat/x; as uid 65534, EACCES for a new name in /dev
// (0755 root) and through a dangling symlink into /dev or /sys.
describe('open(O_CREAT) on a missing name (lookup_open, may_o_create)', () => {
  it('sysfs: EACCES, for root too (no ->create); procfs: ENOENT (its lookup fails); a missing directory on the way: ENOENT before either', () => {
    const w = world();
    for (const p of [w.host.spawn(), w.host.spawn(NOBODY)]) {
      for (const path of ['/sys/bus/pci/nonexistent', '/sys/kernel/ocreat', '/sys/bus/pci/devices/nonexistent']) {
        refuses(w, p, path, O_WRONLY | O_CREAT, 'EACCES');
        refuses(w, p, path, O_WRONLY | O_CREAT | O_EXCL, 'EACCES');
      }
      for (const path of ['/proc/ocreat_none', '/proc/self/ocreat_none', '/proc/self/fd/99', '/proc/99999999/x']) refuses(w, p, path, O_WRONLY | O_CREAT, 'ENOENT');
      for (const path of ['/sys/bus/nonexistent/x', '/nonexistent_ocreat/x', '/dev/ocreat_none/x']) {
        refuses(w, p, path, O_WRONLY | O_CREAT, 'ENOENT');
        refuses(w, p, path, O_WRONLY | O_CREAT | O_EXCL, 'ENOENT');
      }
    }
  });

  it('devtmpfs: EACCES for a user without write permission on the directory (may_o_create)', () => {
    const w = world();
    const dev = w.host.kernel.vfs.mkdirp('/dev');
    dev.set('ocreat_dangling', symlink('/dev/ocreat_target'));
    dev.set('ocreat_dangling_sys', symlink('/sys/ocreat_none'));
    const p = w.host.spawn(NOBODY);
    for (const path of ['/dev/ocreat_new', '/dev/vfio/ocreat_new', '/ocreat_new', '/dev/ocreat_dangling']) refuses(w, p, path, O_RDWR | O_CREAT, 'EACCES');
    refuses(w, p, '/dev/ocreat_dangling_sys', O_WRONLY | O_CREAT, 'EACCES');
    refuses(w, w.host.spawn(), '/dev/ocreat_dangling_sys', O_WRONLY | O_CREAT, 'EACCES');
    // O_CREAT|O_EXCL does not follow it: the symlink is the name that exists.
    refuses(w, w.host.spawn(), '/dev/ocreat_dangling', O_WRONLY | O_CREAT | O_EXCL, 'EEXIST');
  });
});

// What devtmpfs (shmem) does on open(O_CREAT) of a missing name by a user who may write the directory:
// lookup_open() sets FMODE_CREATED and calls ->create (a regular file owned by the caller, mode &
// S_IALLUGO & ~umask: vfs_prepare_mode()); do_open() then skips may_open()'s permission check
// (acc_mode 0), so the creator may open it even with mode 0. f_created_query() (fs/fcntl.c) reports
// FMODE_CREATED: 1 on the creating open file description (and its dups), 0 on any other open. A
// symlink whose target is missing is followed and the target created. Measured: created=1 and mode
// 0644 from 0666 (umask 022), mode 0 opened O_RDONLY by its creator, 0666 with umask 0, EEXIST on a
// second O_CREAT|O_EXCL, created=1 through a dangling symlink and 0 on a reopen, O_DIRECT accepted
// (F_GETFL 0140002, and by F_SETFL), a write past the end leaving zeros, reads at the end returning 0.
describe('open(O_CREAT) creates a file where the filesystem can (devtmpfs, rootfs)', () => {
  it('root creates /dev/ocreat_a: FMODE_CREATED on that open only, a listed name, a file that keeps what is written', () => {
    const w = world();
    const p = w.host.spawn();
    const fd = p.open('/dev/ocreat_a', O_RDWR | O_CREAT, 0o666);
    expect(p.fcntl(fd, F_CREATED_QUERY)).toBe(1);
    expect(p.fcntl(p.dup(fd), F_CREATED_QUERY)).toBe(1);
    expect(p.fcntl(fd, F_GETFL)).toBe(O_RDWR | O_LARGEFILE);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe('/dev/ocreat_a');
    expect(p.readdir('/dev')).toContain('ocreat_a');
    expect(p.write(fd, bytes('hello'))).toBe(5);
    const again = p.open('/dev/ocreat_a', O_RDWR | O_CREAT, 0o666);
    expect(p.fcntl(again, F_CREATED_QUERY)).toBe(0);
    const b = new Uint8Array(16);
    expect(p.read(again, b)).toBe(5);
    expect(Buffer.from(b.subarray(0, 5)).toString()).toBe('hello');
    expect(p.read(again, b)).toBe(0);
    refuses(w, p, '/dev/ocreat_a', O_RDWR | O_CREAT | O_EXCL, 'EEXIST');
    expect(w.opens).toEqual({ null: 0, kvm: 0 });
  });

  it("the new file's mode is mode & ~umask, its owner the creator; its creator opens it whatever the mode", () => {
    const w = world();
    const root = w.host.spawn();
    const nobody = w.host.spawn(NOBODY);
    root.open('/dev/ocreat_u', O_WRONLY | O_CREAT, 0o666);
    refuses(w, nobody, '/dev/ocreat_u', O_RDWR, 'EACCES'); // 0644
    expect(nobody.open('/dev/ocreat_u', O_RDONLY)).toBe(3);
    w.host.spawn({ umask: 0 }).open('/dev/ocreat_u0', O_WRONLY | O_CREAT, 0o666);
    expect(nobody.open('/dev/ocreat_u0', O_RDWR)).toBe(4); // 0666
    // Only the permission bits count (S_IALLUGO), and mode 0 still opens for its creator (acc_mode 0).
    const fd = root.open('/dev/ocreat_0', O_RDWR | O_CREAT, 0o170000);
    expect(root.fcntl(fd, F_CREATED_QUERY)).toBe(1);
    refuses(w, nobody, '/dev/ocreat_0', O_RDONLY, 'EACCES');
    // A directory the user may write: the user owns what it creates there.
    w.host.kernel.vfs.mkdirp('/dev').set('ocreat_home', new StaticDir(0o700, NOBODY.uid, NOBODY.gid));
    const own = nobody.open('/dev/ocreat_home/f', O_WRONLY | O_CREAT, 0o600);
    expect(nobody.fcntl(own, F_CREATED_QUERY)).toBe(1);
    expect(nobody.open('/dev/ocreat_home/f', O_RDWR)).toBeGreaterThan(own);
    refuses(w, w.host.spawn({ uid: 1000 }), '/dev/ocreat_home/g', O_WRONLY | O_CREAT, 'EACCES');
  });

  it('a dangling symlink is followed and its target created (O_CREAT without O_EXCL)', () => {
    const w = world();
    w.host.kernel.vfs.mkdirp('/dev').set('ocreat_dangling', symlink('/dev/ocreat_target'));
    const p = w.host.spawn();
    const fd = p.open('/dev/ocreat_dangling', O_WRONLY | O_CREAT, 0o600);
    expect(p.fcntl(fd, F_CREATED_QUERY)).toBe(1);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toBe('/dev/ocreat_target');
    expect(p.fcntl(p.open('/dev/ocreat_target', O_WRONLY | O_CREAT, 0o600), F_CREATED_QUERY)).toBe(0);
  });

  it('in the root directory and in /dev subdirectories too (rootfs and devtmpfs create; sysfs and procfs do not)', () => {
    const w = world();
    const p = w.host.spawn();
    expect(p.fcntl(p.open('/ocreat_root', O_RDWR | O_CREAT, 0o644), F_CREATED_QUERY)).toBe(1);
    expect(p.readdir('/')).toContain('ocreat_root');
    expect(p.fcntl(p.open('/dev/vfio/ocreat_v', O_RDWR | O_CREAT, 0o644), F_CREATED_QUERY)).toBe(1);
    expect(p.readdir('/dev/vfio')).toContain('ocreat_v');
  });

  it('contents: holes read as zeros, reads stop at the end, pread/pwrite, FIONREAD, O_DIRECT accepted', () => {
    const w = world();
    const p = w.host.spawn();
    const fd = p.open('/dev/ocreat_s', O_RDWR | O_CREAT | O_DIRECT, 0o644);
    expect(p.fcntl(fd, F_GETFL)).toBe(O_RDWR | O_DIRECT | O_LARGEFILE);
    expect(p.pwrite(fd, bytes('q'), 4)).toBe(1);
    const b = new Uint8Array(16).fill(0x55);
    expect(p.read(fd, b)).toBe(5);
    expect([...b.subarray(0, 6)]).toEqual([0, 0, 0, 0, 0x71, 0x55]);
    expect(p.read(fd, b)).toBe(0);
    expect(p.pread(fd, b, 100)).toBe(0);
    // A write across a page boundary, read back whole.
    const big = new Uint8Array(5000).map((_, i) => i & 0xff);
    expect(p.pwrite(fd, big, 4000)).toBe(5000);
    const back = new Uint8Array(5000);
    expect(p.pread(fd, back, 4000)).toBe(5000);
    expect(back).toEqual(big);
    // setfl(): O_DIRECT needs FMODE_CAN_ODIRECT, which tmpfs files have and /dev/null has not
    // (measured: F_SETFL O_DIRECT 0 with F_GETFL 0140002 on a /dev file, EINVAL on /dev/null).
    const plain = p.open('/dev/ocreat_s', O_RDWR);
    expect(p.fcntl(plain, F_SETFL, O_DIRECT)).toBe(0);
    expect(p.fcntl(plain, F_GETFL)).toBe(O_RDWR | O_DIRECT | O_LARGEFILE);
    expect(() => p.fcntl(p.open('/dev/null', O_RDWR), F_SETFL, O_DIRECT)).toThrow(/EINVAL/);
    // setfl(): setting O_NOATIME needs the inode's owner or CAP_FOWNER. Measured as uid 65534: EPERM on
    // its own eventfd (the anonymous inode is root's) and on a root-made pipe, 0 on a file it owns; root
    // may set it anywhere; a refused F_SETFL changes no flag.
    const nobody = w.host.spawn({ uid: 65534, gid: 65534 });
    const efd = nobody.eventfd(0, 0);
    expect(() => nobody.fcntl(efd, F_SETFL, O_NOATIME | O_NONBLOCK)).toThrow(/EPERM/);
    expect(nobody.fcntl(efd, F_GETFL)).toBe(O_RDWR);
    p.close(p.open('/dev/ocreat_nobody', O_RDWR | O_CREAT, 0o600));
    p.chown('/dev/ocreat_nobody', 65534, 65534);
    const own = nobody.open('/dev/ocreat_nobody', O_RDWR);
    expect(nobody.fcntl(own, F_SETFL, O_NOATIME | O_NONBLOCK)).toBe(0);
    expect(nobody.fcntl(own, F_GETFL)).toBe(O_RDWR | O_NOATIME | O_NONBLOCK | O_LARGEFILE);
    const rootEfd = p.eventfd(0, 0);
    expect(p.fcntl(rootEfd, F_SETFL, O_NOATIME)).toBe(0);
    expect(p.fcntl(rootEfd, F_GETFL)).toBe(O_RDWR | O_NOATIME);
    const n = new Int32Array(1);
    const r = p.open('/dev/ocreat_s', O_RDONLY);
    p.read(r, new Uint8Array(1000));
    p.ioctl(r, FIONREAD, n);
    expect(n[0]).toBe(9000 - 1000); // do_vfs_ioctl(): i_size - f_pos
  });
});

// fs/open.c build_open_flags(): `if (flags & O_TRUNC) acc_mode |= MAY_WRITE;`, so O_RDONLY|O_TRUNC
// needs write permission (may_open(): EISDIR on a directory, EACCES without it); do_open() truncates
// an existing regular file once it is open (handle_truncate()), never one it created. mm/filemap.c
// generic_write_checks(): an O_APPEND write starts at i_size, pwrite()'s too, and write() leaves f_pos
// after it. Measured (a C program on /dev): EISDIR for /dev O_RDONLY|O_TRUNC (with O_DIRECTORY too),
// EACCES for /proc/interrupts O_RDONLY|O_TRUNC as uid 65534 (it opens as root); with O_APPEND, f_pos
// 5 after writing "hello", still 5 after pwrite("Z", 0), 8 on a second fd that wrote "ab" then set
// O_APPEND and wrote "cd", 10 after "XY"; contents "ablloZcdXY"; then an O_RDONLY|O_TRUNC open leaves
// the first fd reading 0 bytes at f_pos 10.
describe('open(O_TRUNC) and O_APPEND', () => {
  it('O_TRUNC asks for write permission: EISDIR on a directory, EACCES on a file the user may only read', () => {
    const w = world();
    for (const p of [w.host.spawn(), w.host.spawn(NOBODY)]) {
      refuses(w, p, '/dev', O_RDONLY | O_TRUNC, 'EISDIR');
      refuses(w, p, '/dev', O_RDONLY | O_DIRECTORY | O_TRUNC, 'EISDIR');
    }
    refuses(w, w.host.spawn(NOBODY), '/proc/interrupts', O_RDONLY | O_TRUNC, 'EACCES');
    expect(w.host.spawn().open('/proc/interrupts', O_RDONLY | O_TRUNC)).toBe(3);
  });

  it('O_APPEND writes go to the end (pwrite too), and O_TRUNC empties an existing file', () => {
    const w = world();
    const p = w.host.spawn();
    const fd = p.open('/dev/ocreat_app', O_RDWR | O_CREAT | O_APPEND, 0o644);
    const pos = (f: number): number => p.fileOrNull(f)!.pos;
    p.write(fd, bytes('hello'));
    expect(pos(fd)).toBe(5);
    p.pwrite(fd, bytes('Z'), 0);
    expect(pos(fd)).toBe(5);
    const fd2 = p.open('/dev/ocreat_app', O_RDWR);
    p.write(fd2, bytes('ab'));
    p.fcntl(fd2, F_SETFL, O_APPEND);
    p.write(fd2, bytes('cd'));
    expect(pos(fd2)).toBe(8);
    p.write(fd, bytes('XY'));
    expect(pos(fd)).toBe(10);
    const b = new Uint8Array(32);
    expect(Buffer.from(b.subarray(0, p.pread(fd, b, 0))).toString()).toBe('ablloZcdXY');
    p.open('/dev/ocreat_app', O_RDONLY | O_TRUNC);
    expect(p.read(fd, b)).toBe(0);
    expect(pos(fd)).toBe(10);
    expect(p.pread(fd, b, 0)).toBe(0);
    // creat(): O_CREAT|O_WRONLY|O_TRUNC on the existing name empties it too, without creating.
    p.write(fd, bytes('again'));
    const c = p.open('/dev/ocreat_app', O_WRONLY | O_CREAT | O_TRUNC, 0o644);
    expect(p.fcntl(c, F_CREATED_QUERY)).toBe(0);
    expect(p.pread(fd, b, 0)).toBe(0);
  });
});

// fs/open.c build_open_flags(): __O_TMPFILE needs O_DIRECTORY (EINVAL) and an access mode with
// MAY_WRITE (EINVAL); O_CREAT with it is the O_CREAT|O_DIRECTORY EINVAL; O_PATH drops it. fs/namei.c
// do_tmpfile(): the directory is looked up with LOOKUP_DIRECTORY (ENOENT, ENOTDIR), then vfs_tmpfile()
// needs MAY_WRITE|MAY_EXEC on it (EACCES) before asking for ->tmpfile (EOPNOTSUPP: sysfs, procfs), and
// sets no FMODE_CREATED. Measured, as root: an fd with F_GETFL 0x418002 (O_RDWR|O_LARGEFILE|O_TMPFILE),
// 0x418003 with access mode 3, F_CREATED_QUERY 0, /proc/self/fd naming "/dev/#138 (deleted)", / works
// too; EINVAL for O_RDONLY, for __O_TMPFILE alone and with O_CREAT; EOPNOTSUPP for /sys and /proc;
// ENOTDIR for /dev/null and for /proc/self with O_NOFOLLOW; ENOENT for /dev/ocreat_none; O_PATH gives
// an O_PATH|O_DIRECTORY fd. As uid 65534: EACCES for /dev, /sys and /proc, the EINVALs unchanged.
describe('open(O_TMPFILE)', () => {
  it('root gets an unnamed file in /dev and /: written and read back, not FMODE_CREATED, never listed', () => {
    const w = world();
    const p = w.host.spawn();
    const listed = p.readdir('/dev');
    const fd = p.open('/dev', O_RDWR | O_TMPFILE, 0o600);
    expect(p.fcntl(fd, F_GETFL)).toBe(0x418002);
    expect(p.fcntl(fd, F_CREATED_QUERY)).toBe(0);
    expect(p.readlink(`/proc/self/fd/${fd}`)).toMatch(/^\/dev\/#\d+ \(deleted\)$/);
    p.write(fd, bytes('tmp'));
    const b = new Uint8Array(8);
    expect(p.pread(fd, b, 0)).toBe(3);
    expect(p.fcntl(p.open('/', O_ACCMODE | O_TMPFILE | O_EXCL, 0o600), F_GETFL)).toBe(0x418003);
    expect(p.readlink('/proc/self/fd/4')).toMatch(/^\/#\d+ \(deleted\)$/);
    expect(p.readdir('/dev')).toEqual(listed);
    expect(p.readdir('/')).toEqual(['dev', 'proc', 'sys']);
    // O_PATH drops __O_TMPFILE (build_open_how()): an O_PATH open of the directory.
    expect(p.fcntl(p.open('/dev', O_PATH | O_TMPFILE), F_GETFL)).toBe(O_PATH | O_DIRECTORY);
  });

  it('EINVAL for its flag rules, then ENOENT/ENOTDIR for the directory, EACCES without write permission, EOPNOTSUPP where the filesystem cannot', () => {
    const w = world();
    for (const p of [w.host.spawn(), w.host.spawn(NOBODY)]) {
      refuses(w, p, '/dev', O_RDONLY | O_TMPFILE, 'EINVAL');
      refuses(w, p, '/dev', O_RDWR | __O_TMPFILE, 'EINVAL');
      refuses(w, p, '/dev', O_RDWR | O_CREAT | O_TMPFILE, 'EINVAL');
      refuses(w, p, '/nonexistent_ocreat', O_RDONLY | O_TMPFILE, 'EINVAL');
      refuses(w, p, '/dev/null', O_RDWR | O_TMPFILE, 'ENOTDIR');
      refuses(w, p, '/proc/self', O_RDWR | O_TMPFILE | O_NOFOLLOW, 'ENOTDIR');
      refuses(w, p, '/dev/ocreat_none', O_RDWR | O_TMPFILE, 'ENOENT');
    }
    const root = w.host.spawn();
    refuses(w, root, '/sys', O_RDWR | O_TMPFILE, 'EOPNOTSUPP');
    refuses(w, root, '/proc', O_RDWR | O_TMPFILE, 'EOPNOTSUPP');
    refuses(w, root, '/sys/bus/pci', O_WRONLY | O_TMPFILE, 'EOPNOTSUPP');
    const nobody = w.host.spawn(NOBODY);
    for (const dir of ['/dev', '/sys', '/proc', '/']) refuses(w, nobody, dir, O_RDWR | O_TMPFILE, 'EACCES');
  });
});

// The same calls on this machine's kernel and on the model, compared: a C program makes each openat
// (the raw syscall, so the flags are exactly these) as root and as uid 65534 and prints the errno, or
// F_GETFL for an fd it got; under the real strace, its openat lines are compared with the model's
// strace. Only calls that create nothing on the real system are made (the program would unlink what
// F_CREATED_QUERY says it created, and the test would fail). Needs root (for uid 65534 and for the
// permissions the model gives root), gcc, a 6.12+ kernel (F_CREATED_QUERY; the model is 6.18), and
// strace for the strace half.
const ORACLE_C = `#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  int i = 1;
  if (argc > 1 && strcmp(argv[1], "--nobody") == 0) {
    if (setgid(65534) || setuid(65534)) return 2;
    i = 2;
  }
  for (; i + 2 < argc; i += 3) {
    long fd = syscall(SYS_openat, AT_FDCWD, argv[i + 2], (int)strtol(argv[i], 0, 0), (int)strtol(argv[i + 1], 0, 0));
    if (fd < 0) { printf("%d\\n", errno); continue; }
    if (fcntl(fd, 1028, 0) == 1) { unlink(argv[i + 2]); printf("CREATED\\n"); }
    else printf("OK %d\\n", fcntl(fd, F_GETFL));
    close(fd);
  }
  return 0;
}
`;

const [kmajor, kminor] = release().split('.').map(Number) as [number, number];
const ORACLE_SKIP =
  process.getuid?.() !== 0 ? 'not running as root' :
  !['/usr/bin/gcc', '/bin/gcc'].some(existsSync) ? 'gcc is not installed' :
  kmajor < 6 || (kmajor === 6 && kminor < 12) ? `kernel ${release()} is older than 6.12` : undefined;
if (ORACLE_SKIP) console.warn(`open(): the real-kernel oracle test is skipped: ${ORACLE_SKIP}`);
const STRACE = ['/usr/bin/strace', '/bin/strace'].find(existsSync);
if (!ORACLE_SKIP && !STRACE) console.warn('open(): strace is not installed: the oracle test compares errnos only');

/** Calls that create nothing on a real system (names the test checks are absent there). */
const ORACLE_CALLS: ReadonlyArray<readonly [string, number, number?]> = [
  ['/dev/null', O_RDWR | O_CREAT | O_EXCL, 0o644], ['/dev/null', O_RDWR | O_CREAT, 0o644], ['/dev/kvm', O_RDWR | O_CREAT | O_EXCL, 0o644],
  ['/sys/bus/pci/nonexistent', O_WRONLY | O_CREAT, 0o644], ['/sys/bus/pci/nonexistent', O_WRONLY | O_CREAT | O_EXCL, 0o644],
  ['/sys/kernel/ocreat_none', O_RDONLY | O_CREAT, 0o644], ['/sys/bus/pci', O_RDONLY | O_CREAT, 0o644], ['/sys/bus/pci', O_RDONLY | O_CREAT | O_EXCL, 0o644],
  ['/sys/bus/ocreat_none/x', O_RDONLY | O_CREAT, 0o644], ['/ocreat_none/x', O_WRONLY | O_CREAT | O_EXCL, 0o644],
  ['/dev/null/', O_WRONLY | O_CREAT, 0o644], ['/dev/null/', O_RDONLY], ['/dev/null/', O_RDONLY | O_NOFOLLOW], ['/dev/null/x', O_WRONLY | O_CREAT, 0o644],
  ['/dev/ocreat_none/', O_WRONLY | O_CREAT, 0o644], ['/dev/ocreat_none/', O_WRONLY | O_CREAT | O_EXCL, 0o644], ['/sys/ocreat_none/', O_WRONLY | O_CREAT, 0o644],
  ['/dev/', O_RDONLY | O_CREAT, 0o644], ['/dev/null', O_RDWR | O_CREAT | O_DIRECTORY, 0o644], ['/dev/ocreat_none', O_RDWR | O_CREAT | O_DIRECTORY, 0o644],
  ['/ocreat_none/x', O_RDWR | O_CREAT | O_DIRECTORY, 0o644], ['/dev', O_RDONLY | O_CREAT, 0o644], ['/dev', O_RDONLY | O_CREAT | O_EXCL, 0o644],
  ['/', O_RDONLY | O_CREAT, 0o644], ['/', O_RDONLY | O_CREAT | O_EXCL, 0o644], ['/dev/.', O_RDONLY | O_CREAT, 0o644], ['/dev/./', O_RDONLY | O_CREAT | O_EXCL, 0o644],
  ['/dev/..', O_RDONLY | O_CREAT | O_EXCL, 0o644], ['/proc/self', O_RDONLY | O_CREAT | O_EXCL, 0o644], ['/proc/self', O_RDONLY | O_CREAT, 0o644],
  ['/proc/self', O_RDONLY | O_CREAT | O_NOFOLLOW, 0o644], ['/proc/self', O_RDONLY | O_NOFOLLOW | O_DIRECTORY], ['/proc/self/', O_RDONLY | O_NOFOLLOW],
  ['/proc/ocreat_none', O_WRONLY | O_CREAT, 0o644], ['/proc/self/ocreat_none', O_WRONLY | O_CREAT, 0o644], ['/proc/self/fd/99', O_WRONLY | O_CREAT, 0o644],
  ['/proc/99999999/x', O_WRONLY | O_CREAT, 0o644], ['/proc/interrupts', O_RDONLY | O_CREAT, 0o644], ['/proc/interrupts', O_RDONLY | O_TRUNC],
  ['/dev', O_RDONLY | O_TRUNC], ['/dev/null/.', O_RDONLY], ['/dev/null/..', O_RDONLY],
  ['/dev', O_RDWR | O_TMPFILE, 0o600], ['/dev', O_RDONLY | O_TMPFILE, 0o600], ['/dev', O_RDWR | __O_TMPFILE, 0o600], ['/dev', O_RDWR | O_CREAT | O_TMPFILE, 0o600],
  ['/sys', O_RDWR | O_TMPFILE, 0o600], ['/proc', O_RDWR | O_TMPFILE, 0o600], ['/dev/null', O_RDWR | O_TMPFILE, 0o600], ['/dev/ocreat_none', O_RDWR | O_TMPFILE, 0o600],
  ['/dev', O_RDONLY | O_PATH | O_TMPFILE, 0o600], ['/dev/ocreat_none', O_RDONLY | O_PATH | O_CREAT, 0o600],
];

describe('open(): the model against this machine\'s kernel', () => {
  it.skipIf(ORACLE_SKIP !== undefined)('every O_CREAT/O_EXCL/O_TMPFILE/trailing-slash call gives the real errno (root and uid 65534), and strace prints it alike', () => {
    for (const name of ['/dev/ocreat_none', '/sys/ocreat_none', '/sys/kernel/ocreat_none', '/sys/bus/ocreat_none', '/ocreat_none', '/proc/ocreat_none']) {
      expect(existsSync(name), `${name} must not exist on this machine`).toBe(false);
    }
    const calls = ORACLE_CALLS.filter(([path]) => !path.startsWith('/dev/kvm') || existsSync('/dev/kvm')).filter(([path]) => !path.startsWith('/sys/bus/pci') || existsSync('/sys/bus/pci'));
    const dir = mkdtempSync(join(tmpdir(), 'open-oracle-'));
    try {
      writeFileSync(join(dir, 'oracle.c'), ORACLE_C);
      execFileSync('gcc', ['-O1', '-o', join(dir, 'oracle'), join(dir, 'oracle.c')]);
      const args = calls.flatMap(([path, flags, mode]) => [String(flags), String(mode ?? 0), path]);
      for (const who of ['root', 'nobody'] as const) {
        const argv = who === 'nobody' ? ['--nobody', ...args] : args;
        const traceFile = join(dir, `${who}.strace`);
        const out = STRACE
          ? execFileSync(STRACE, ['-e', 'trace=openat', '-o', traceFile, join(dir, 'oracle'), ...argv], { encoding: 'utf8' })
          : execFileSync(join(dir, 'oracle'), argv, { encoding: 'utf8' });
        const real = out.trim().split('\n');
        expect(real).toHaveLength(calls.length);
        const w = world();
        const p = w.host.spawn(who === 'root' ? {} : NOBODY);
        const modelLines: string[] = [];
        const stop = w.host.strace((l) => { if (l.startsWith('openat(')) modelLines.push(l); });
        const model = calls.map(([path, flags, mode]) => {
          try {
            const fd = p.open(path, flags, mode ?? 0);
            const fl = p.fcntl(fd, F_GETFL);
            p.close(fd);
            return `OK ${fl}`;
          } catch (e) {
            if (!(e instanceof SyscallError)) throw e;
            return String(e.errno);
          }
        });
        stop();
        const named = (r: string): string => (/^\d+$/.test(r) ? errnoInfo(Number(r)).code : r);
        const show = (rs: string[]): string[] => rs.map((r, i) => `${who} open("${calls[i]![0]}", 0${calls[i]![1].toString(8)}): ${named(r)}`);
        expect(show(model)).toEqual(show(real));
        if (STRACE) {
          const realLines = readFileSync(traceFile, 'utf8').trim().split('\n').filter((l) => l.startsWith('openat(')).slice(-calls.length).map((l) => l.replace(/\s+= /, ' = '));
          expect(modelLines).toEqual(realLines);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
