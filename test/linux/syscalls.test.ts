// The syscall layer's common rules: EBADF for a bad fd on every call (fs/file.c fdget), access-mode
// checks (fs/read_write.c), ESPIPE, mmap validation (mm/mmap.c do_mmap), poll (fs/select.c), VFS
// permissions (fs/namei.c may_open), errors that say why, and atomicity of failed calls.
import { describe, expect, it } from 'vitest';
import { Host, SyscallError, type PollFd } from '../../src/index.js';
import { MemoryFault } from '../../src/index.js';
import type { Process } from '../../src/linux/process.js';
import { EventFdFile } from '../../src/linux/eventfd.js';
import { EFD_NONBLOCK } from '../../include-ts/linux/eventfd.js';
import { FASYNC, O_APPEND, O_DIRECT, O_EXCL, O_LARGEFILE, O_NOATIME, O_NOCTTY, O_SYNC, O_TRUNC, F_CREATED_QUERY, F_DUPFD, F_DUPFD_CLOEXEC, F_DUPFD_QUERY, F_GETFD, F_GETFL, F_GETPIPE_SZ, F_SETFD, F_SETPIPE_SZ, F_SETFL, FD_CLOEXEC, O_ACCMODE, O_CREAT, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_WRONLY } from '../../include-ts/linux/fcntl.js';
import { VFIO_API_VERSION, VFIO_GET_API_VERSION } from '../../include-ts/linux/vfio.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from '../../include-ts/linux/mman.js';
import { POLLHUP, POLLIN, POLLNVAL, POLLOUT } from '../../include-ts/linux/poll.js';
import { FIONREAD } from '../../include-ts/asm-generic/ioctls.js';
import { chardev, attr, symlink } from '../../src/linux/fs/vfs.js';
import { NullFile } from '../../src/linux/drivers/mem.js';
import { KernelError } from '../../src/linux/errors.js';
import { RamBacking } from '../../src/linux/mm/backing.js';

const err = (f: () => unknown): SyscallError => {
  try {
    f();
  } catch (e) {
    if (e instanceof SyscallError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
};

describe('syscalls: common rules', () => {
  it('every fd-taking call fails with EBADF on a closed fd', () => {
    const p = Host.create().spawn();
    const b = new Uint8Array(8);
    const calls: [string, () => unknown][] = [
      ['close', () => p.close(42)],
      ['dup', () => p.dup(42)],
      ['dup2', () => p.dup2(42, 50)],
      ['fcntl', () => p.fcntl(42, 1)],
      ['read', () => p.read(42, b)],
      ['write', () => p.write(42, b)],
      ['pread64', () => p.pread(42, b, 0)],
      ['pwrite64', () => p.pwrite(42, b, 0)],
      ['ioctl', () => p.ioctl(42, 0x5421, Int32Array.of(1))],
      ['mmap', () => p.mmap(null, 4096, PROT_READ, MAP_SHARED, 42, 0)],
      ['negative fd', () => p.read(-1, b)],
    ];
    for (const [name, f] of calls) expect(err(f).code, name).toBe('EBADF');
    const pfd: PollFd[] = [{ fd: 42, events: POLLIN }];
    expect(p.poll(pfd, 0)).toBe(1);
    expect(pfd[0]!.revents).toBe(POLLNVAL);
  });

  it('errors name the call and say why', () => {
    const p = Host.create().spawn();
    const e = err(() => p.close(42));
    expect(e.errno).toBe(9);
    expect(e.syscall).toBe('close');
    expect(e.message).toBe('close(42): EBADF: fd 42 is not open');
    expect(e.strerror).toBe('Bad file descriptor');
    const o = err(() => p.open('/dev/nonexistent', O_RDWR));
    expect(o.code).toBe('ENOENT');
    expect(o.path).toBe('/dev/nonexistent');
    expect(o.message).toContain('/dev/nonexistent does not exist');
  });

  it('checks the access mode: read on O_WRONLY and write on O_RDONLY are EBADF', () => {
    const p = Host.create().spawn();
    const w = p.open('/dev/null', O_WRONLY);
    const r = p.open('/dev/null', O_RDONLY);
    expect(err(() => p.read(w, new Uint8Array(1))).code).toBe('EBADF');
    expect(err(() => p.write(r, new Uint8Array(1))).code).toBe('EBADF');
    const [pr, pw] = p.pipe();
    expect(err(() => p.write(pr, new Uint8Array(1))).code).toBe('EBADF');
    expect(err(() => p.read(pw, new Uint8Array(1))).code).toBe('EBADF');
  });

  // fs/open.c build_open_flags: acc_mode = ACC_MODE(flags) = "\004\002\006\006"[flags & O_ACCMODE], so
  // access mode 3 needs MAY_READ|MAY_WRITE; do_dentry_open: f_mode = OPEN_FMODE(flags) = (flags + 1) &
  // O_ACCMODE = 0, neither FMODE_READ nor FMODE_WRITE (include/linux/fs.h). vfs_read/vfs_write then
  // fail EBADF and do_mmap EACCES; ioctl needs neither bit (the "ioctl-only" open).
  it('open with access mode 3 (O_ACCMODE): both permissions checked, the file gets neither FMODE bit: read/write EBADF, mmap EACCES', () => {
    const host = Host.create();
    host.kernel.vfs.mkdirp('/dev').set('ro', chardev(() => new NullFile(), 0o444, 1000));
    host.kernel.vfs.mkdirp('/dev').set('rw', chardev(() => new NullFile(), 0o600, 1000));
    const p = host.spawn();
    const lines: string[] = [];
    const stop = host.strace((l) => lines.push(l));
    const fd = p.open('/dev/null', O_ACCMODE);
    stop();
    expect(lines[0]).toContain('"/dev/null", O_ACCMODE)'); // strace names access mode 3 O_ACCMODE
    expect(p.fcntl(fd, F_GETFL) & O_ACCMODE).toBe(O_ACCMODE);
    const b = new Uint8Array(8);
    expect(err(() => p.read(fd, b)).code).toBe('EBADF');
    expect(err(() => p.write(fd, b)).code).toBe('EBADF');
    expect(err(() => p.pread(fd, b, 0)).code).toBe('EBADF');
    expect(err(() => p.pwrite(fd, b, 0)).code).toBe('EBADF');
    expect(err(() => p.mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0)).code).toBe('EACCES');
    expect(err(() => p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)).code).toBe('EACCES');
    expect(p.ioctl(p.open('/dev/vfio/vfio', O_ACCMODE), VFIO_GET_API_VERSION)).toBe(VFIO_API_VERSION);
    // may_open: MAY_READ|MAY_WRITE, so a file its owner may only read cannot be opened this way.
    const owner = host.spawn({ uid: 1000 });
    expect(err(() => owner.open('/dev/ro', O_ACCMODE)).code).toBe('EACCES');
    expect(owner.open('/dev/ro', O_RDONLY)).toBeGreaterThanOrEqual(0);
    expect(owner.open('/dev/rw', O_ACCMODE)).toBeGreaterThanOrEqual(0);
    expect(err(() => owner.open('/dev', O_ACCMODE)).code).toBe('EISDIR');
  });

  // f_flags as F_GETFL reports them (fs/open.c): open()/openat() add O_LARGEFILE on 64-bit
  // (force_o_largefile()), build_open_how() drops bits outside VALID_OPEN_FLAGS, build_open_flags()
  // drops O_CLOEXEC, do_dentry_open() drops O_CREAT|O_EXCL|O_NOCTTY|O_TRUNC and, after f_op->open,
  // refuses O_DIRECT without FMODE_CAN_ODIRECT (EINVAL; the driver's release runs); may_open() refuses
  // O_NOATIME to anyone but the owner or CAP_FOWNER (EPERM). The expected values are what a real x86-64
  // kernel returned for /dev/null.
  it('open() f_flags: O_LARGEFILE added, open-time flags dropped, O_DIRECT EINVAL (open and F_SETFL), O_NOATIME owner only', () => {
    const host = Host.create();
    let opens = 0;
    let releases = 0;
    class Counted extends NullFile {
      override release() {
        releases++;
      }
    }
    host.kernel.vfs.mkdirp('/dev').set('null2', chardev(() => (opens++, new Counted()), 0o666));
    const p = host.spawn();
    const getfl = (flags: number) => {
      const fd = p.open('/dev/null2', flags);
      const fl = p.fcntl(fd, F_GETFL);
      p.close(fd);
      return fl;
    };
    expect(getfl(O_RDWR)).toBe(0x8002);
    expect(getfl(O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_CREAT)).toBe(0x28002);
    expect(getfl(O_RDWR | O_TRUNC | O_NOCTTY | O_EXCL)).toBe(0x8002);
    expect(getfl(O_RDONLY | O_NOATIME)).toBe(0x48000);
    expect(getfl(O_RDWR | O_SYNC)).toBe(0x109002);
    expect(getfl(O_RDWR | FASYNC)).toBe(0xa002);
    expect(getfl(O_RDWR | 0x40000000)).toBe(0x8002);
    expect(getfl(O_ACCMODE)).toBe(0x8003);
    expect(getfl(O_RDWR | O_APPEND | O_NONBLOCK)).toBe(0x8c02);
    const before = { opens, releases, fds: p.fds.openFds().length };
    expect(err(() => p.open('/dev/null2', O_RDWR | O_DIRECT)).code).toBe('EINVAL');
    expect({ opens, releases, fds: p.fds.openFds().length }).toEqual({ opens: before.opens + 1, releases: before.releases + 1, fds: before.fds });
    // fs/fcntl.c setfl(): O_DIRECT without FMODE_CAN_ODIRECT is EINVAL and changes nothing (a real
    // kernel: fcntl(F_SETFL, O_NONBLOCK|O_DIRECT) on /dev/null); a pipe takes it (packet mode).
    const fd = p.open('/dev/null2', O_RDWR | FASYNC);
    expect(err(() => p.fcntl(fd, F_SETFL, O_NONBLOCK | O_DIRECT)).code).toBe('EINVAL');
    expect(p.fcntl(fd, F_GETFL)).toBe(0xa002);
    expect(p.fcntl(fd, F_SETFL, O_NONBLOCK)).toBe(0);
    expect(p.fcntl(fd, F_GETFL)).toBe(0xa802);
    const [r] = p.pipe();
    expect(p.fcntl(r!, F_SETFL, O_DIRECT)).toBe(0);
    expect(p.fcntl(r!, F_GETFL)).toBe(O_DIRECT);
    const other = host.spawn({ uid: 1000 });
    expect(err(() => other.open('/dev/null2', O_RDONLY | O_NOATIME)).code).toBe('EPERM');
    expect(other.fcntl(other.open('/dev/null2', O_RDONLY), F_GETFL)).toBe(O_LARGEFILE);
  });

  // fs/open.c build_open_flags(): with O_PATH only O_DIRECTORY|O_NOFOLLOW|O_PATH stay in f_flags and
  // acc_mode is 0 (no may_open(): no permission check, no EISDIR); do_dentry_open() sets FMODE_PATH and
  // returns before f_op->open, so no driver sees the open. fdget() skips FMODE_PATH files (fs/file.c),
  // so read/write/pread/ioctl/mmap are EBADF and poll reports POLLNVAL (fs/select.c); dup uses
  // fget_raw and fcntl allows only F_DUPFD*, F_GETFD, F_SETFD, F_GETFL and the two queries (fs/fcntl.c
  // check_fcntl_cmd; the queries are tested below).
  it('open with O_PATH: no permission check and no driver open; only close, dup and a few fcntls work on the fd', () => {
    const host = Host.create();
    let opens = 0;
    host.kernel.vfs.mkdirp('/dev').set('secret', chardev(() => (opens++, new NullFile()), 0o600));
    host.kernel.vfs.mkdirp('/dev').set('alias', symlink('/dev/secret'));
    const p = host.spawn({ uid: 1000 });
    const fd = p.open('/dev/secret', O_PATH | O_RDWR | O_NONBLOCK | O_CLOEXEC);
    expect(opens).toBe(0);
    expect(p.fcntl(fd, F_GETFL)).toBe(O_PATH);
    expect(p.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
    const b = new Uint8Array(8);
    expect(err(() => p.read(fd, b)).code).toBe('EBADF');
    expect(err(() => p.write(fd, b)).code).toBe('EBADF');
    expect(err(() => p.pread(fd, b, 0)).code).toBe('EBADF');
    expect(err(() => p.ioctl(fd, FIONREAD, new Int32Array(1))).code).toBe('EBADF');
    expect(err(() => p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)).code).toBe('EBADF');
    expect(err(() => p.fcntl(fd, F_SETFL, O_NONBLOCK)).code).toBe('EBADF');
    const pfd: PollFd[] = [{ fd, events: POLLIN }];
    expect(p.poll(pfd, 0)).toBe(1);
    expect(pfd[0]!.revents).toBe(POLLNVAL);
    const d = p.dup(fd);
    expect(p.fcntl(d, F_GETFL)).toBe(O_PATH);
    p.close(d);
    p.close(fd);
    // A directory with an access mode that would be EISDIR, and a symlink itself with O_NOFOLLOW.
    expect(p.open('/dev', O_PATH | O_RDWR)).toBeGreaterThanOrEqual(0);
    const l = p.open('/dev/alias', O_PATH | O_NOFOLLOW);
    expect(p.fcntl(l, F_GETFL)).toBe(O_PATH | O_NOFOLLOW);
    expect(err(() => p.open('/dev/alias', O_NOFOLLOW)).code).toBe('ELOOP');
    expect(err(() => p.open('/dev/secret', O_PATH | O_DIRECTORY)).code).toBe('ENOTDIR');
    expect(opens).toBe(0);
    // A kernel fdget() (an eventfd argument) does not see it either.
    expect(p.fileOrNull(p.open('/dev/secret', O_PATH))).toBeUndefined();
  });

  it('pread/pwrite check the offset before the fd, then ESPIPE, then the access mode (fs/read_write.c ksys_pread64, vfs_read)', () => {
    // ksys_pread64()/ksys_pwrite64(): `if (pos < 0) return -EINVAL;` comes before fdget(), and
    // FMODE_PREAD (ESPIPE) before vfs_read()'s FMODE_READ (EBADF).
    const p = Host.create().spawn();
    const b = new Uint8Array(4);
    expect(err(() => p.pread(42, b, -1)).code).toBe('EINVAL');
    expect(err(() => p.pwrite(42, b, -1n)).code).toBe('EINVAL');
    const [r, w] = p.pipe();
    expect(err(() => p.pread(r, b, -1)).code).toBe('EINVAL');
    expect(err(() => p.pwrite(r, b, 0)).code).toBe('ESPIPE');
    expect(err(() => p.pread(w, b, 0)).code).toBe('ESPIPE');
    const wo = p.open('/dev/null', O_WRONLY);
    expect(err(() => p.pread(wo, b, 0)).code).toBe('EBADF');
    expect(err(() => p.pread(wo, b, -1)).code).toBe('EINVAL');
    p.exit();
    expect(err(() => p.pread(wo, b, -1)).code).toBe('ESRCH');
  });

  it('read()/write()\'s straight-line path fails, waits and traces exactly as the checked path does', () => {
    // read()/write() skip rw() for the common case; every outcome must be the one rw() (fs/read_write.c
    // order: fdget EBADF, FMODE_READ/WRITE EBADF, MAX_RW_COUNT, then the file's EAGAIN or a wait) gives.
    // MAX_RW_COUNT without allocating 2 GiB: a buffer that claims to be longer than it is.
    class Huge extends Uint8Array {
      static get [Symbol.species](): Uint8ArrayConstructor {
        return Uint8Array; // the truncated view is an ordinary (honest) array
      }
      override get length(): number {
        return 0x7ffff000 + 1;
      }
    }
    type Slow = { rw(kind: string, isRead: boolean, explicitPos: boolean, fd: number, buf: Uint8Array, pos: number): number };
    const scenarios: [string, (p: Process) => [number, Uint8Array, boolean]][] = [
      ['bad fd', () => [42, new Uint8Array(8), true]],
      ['read on O_WRONLY', (p) => [p.open('/dev/null', O_WRONLY), new Uint8Array(8), true]],
      ['write on O_RDONLY', (p) => [p.open('/dev/null', O_RDONLY), new Uint8Array(8), false]],
      ['read on access mode 3', (p) => [p.open('/dev/null', O_ACCMODE), new Uint8Array(8), true]],
      ['write on access mode 3', (p) => [p.open('/dev/null', O_ACCMODE), new Uint8Array(8), false]],
      ['empty eventfd, O_NONBLOCK', (p) => [p.eventfd(0, EFD_NONBLOCK), new Uint8Array(8), true]],
      ['empty eventfd, blocking', (p) => [p.eventfd(0, 0), new Uint8Array(8), true]],
      ['eventfd write that would overflow, blocking', (p) => {
        const fd = p.eventfd(0, 0);
        p.write(fd, new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
        return [fd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), false];
      }],
      ['eventfd read, short buffer', (p) => [p.eventfd(1, 0), new Uint8Array(4), true]],
      ['eventfd read', (p) => [p.eventfd(5, 0), new Uint8Array(8), true]],
      ['eventfd write', (p) => [p.eventfd(5, 0), new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]), false]],
      ['/dev/null write beyond MAX_RW_COUNT', (p) => [p.open('/dev/null', O_WRONLY), new Huge(8), false]],
      ['exited process', (p) => {
        const fd = p.eventfd(1, 0);
        p.exit();
        return [fd, new Uint8Array(8), true];
      }],
    ];
    const run = (name: string, setup: (p: Process) => [number, Uint8Array, boolean], fast: boolean) => {
      const host = Host.create();
      const p = host.spawn();
      const [fd, buf, isRead] = setup(p);
      const events: unknown[] = [];
      host.kernel.trace.on((ev) => events.push(ev));
      let out: unknown;
      try {
        if (fast) out = isRead ? p.read(fd, buf) : p.write(fd, buf);
        else out = (p as unknown as Slow).rw(isRead ? 'read' : 'write', isRead, false, fd, buf, 0);
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        out = e.message;
      }
      const after = p.exited ? 'exited' : p.fds.get(fd) instanceof EventFdFile ? (p.fds.get(fd) as EventFdFile).ctx.count : 'n/a';
      return { name, out, events, after };
    };
    for (const [name, setup] of scenarios) expect(run(name, setup, true), name).toEqual(run(name, setup, false));
    expect(run('bad fd', scenarios[0]![1], true).out).toContain('EBADF');
    expect(run('exited', scenarios.at(-1)![1], true).out).toContain('ESRCH');
    expect(run('huge', scenarios[11]![1], true).out).toBe(8); // /dev/null took the truncated view
    expect(run('mode 3', scenarios[3]![1], true).out).toContain('EBADF');
  });

  it('pipes: FIONREAD, EOF after the last writer, EPIPE without readers, ESPIPE on pread', () => {
    const p = Host.create().spawn();
    const [r, w] = p.pipe();
    p.write(w, new Uint8Array([1, 2, 3]));
    const n = new Int32Array(1);
    p.ioctl(r, FIONREAD, n);
    expect(n[0]).toBe(3);
    expect(err(() => p.pread(r, new Uint8Array(3), 0)).code).toBe('ESPIPE');
    const out = new Uint8Array(8);
    expect(p.read(r, out)).toBe(3);
    p.close(w);
    expect(p.read(r, out)).toBe(0);
    const [r2, w2] = p.pipe();
    p.close(r2);
    expect(err(() => p.write(w2, new Uint8Array(1))).code).toBe('EPIPE');
    const pfd: PollFd[] = [{ fd: r, events: POLLIN }];
    p.poll(pfd, 0);
    expect(pfd[0]!.revents).toBe(POLLHUP);
  });

  it('mmap validates like do_mmap and places mappings top-down, page aligned', () => {
    const p = Host.create().spawn();
    expect(err(() => p.mmap(null, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)).code).toBe('EINVAL');
    expect(err(() => p.mmap(null, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0)).code).toBe('EINVAL');
    expect(err(() => p.mmap(null, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 100)).code).toBe('EINVAL');
    expect(err(() => p.mmap(0x1001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)).code).toBe('EINVAL');
    const dn = p.open('/dev/null', O_RDWR);
    expect(err(() => p.mmap(null, 4096, PROT_READ, MAP_SHARED, dn, 0)).code).toBe('ENODEV');
    const a = p.mmap(null, 5000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const b = p.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(a.length).toBe(8192);
    expect(a.addr % 4096).toBe(0);
    expect(b.addr).toBe(a.addr - 4096);
    a.write32(100, 0xdeadbeef);
    expect(a.bytes![100]).toBe(0xef);
    expect(p.mm.ram(a.addr + 100, 4)[3]).toBe(0xde);
    p.munmap(a.addr, 4096);
    expect(() => a.read32(0)).toThrow(MemoryFault);
    expect(err(() => p.munmap(a.addr + 1, 4096)).code).toBe('EINVAL');
  });

  it('mmap checks in do_mmap\'s order: the offset, the fd (EBADF), the length, the address, then the mapping type; unknown prot bits are ignored', () => {
    // Measured on this machine's 6.18: a bad fd wins over a zero length and a missing type; the
    // offset's alignment wins over a bad fd; PROT_SEM (0x8) and other unknown bits map fine.
    const p = Host.create().spawn();
    expect(err(() => p.mmap(null, 0, PROT_READ, MAP_PRIVATE, 99, 0)).code).toBe('EBADF');
    expect(err(() => p.mmap(null, 4096, PROT_READ, 0, 99, 0)).code).toBe('EBADF');
    expect(err(() => p.mmap(null, 4096, PROT_READ, MAP_PRIVATE, 99, 1)).code).toBe('EINVAL');
    expect(err(() => p.mmap(0x10001, 4096, PROT_READ, MAP_ANONYMOUS | MAP_FIXED, -1, 0)).code).toBe('EINVAL');
    expect(err(() => p.mmap(null, 2 ** 47, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)).code).toBe('ENOMEM');
    expect(p.mmap(null, 4096, PROT_READ | 0x10 | 0x1000000, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).length).toBe(4096);
  });

  it('a Mapping faults as the MMU would: a store needs PROT_WRITE, any load needs the page mapped at all (x86 has no write-only or exec-only pages)', () => {
    const p = Host.create().spawn();
    const ro = p.mmap(null, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(ro.read32(0)).toBe(0);
    expect(() => ro.write8(0, 1)).toThrow(/SIGSEGV .*without PROT_WRITE/);
    const none = p.mmap(null, 4096, 0, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(() => none.read8(0)).toThrow(/SIGSEGV .*PROT_NONE/);
    const wo = p.mmap(null, 4096, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wo.write8(0, 7);
    expect(wo.read8(0)).toBe(7);
  });

  it('PROT_EXEC on a file of a noexec superblock (anon_inodefs, pipefs, sysfs, procfs) is EPERM, before the file\'s ->mmap is asked (mm/mmap.c do_mmap path_noexec)', () => {
    // Measured on this machine's 6.18: an eventfd (no ->mmap: ENODEV without PROT_EXEC) and a KVM vCPU
    // fd both give EPERM with PROT_EXEC; devtmpfs is not noexec, so /dev/null stays ENODEV.
    const p = Host.create().spawn();
    const efd = p.eventfd(0, 0);
    expect(err(() => p.mmap(null, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, efd, 0)).code).toBe('EPERM');
    expect(err(() => p.mmap(null, 4096, PROT_READ, MAP_SHARED, efd, 0)).code).toBe('ENODEV');
    const [r] = p.pipe();
    expect(err(() => p.mmap(null, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, r!, 0)).code).toBe('EPERM');
    const dn = p.open('/dev/null', O_RDWR);
    expect(err(() => p.mmap(null, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, dn, 0)).code).toBe('ENODEV');
    // kernfs and procfs are SB_I_NOEXEC too (measured: a PCI device's vendor attribute, /proc/self/status; the model has /proc/self/limits).
    const vendor = p.open('/sys/bus/pci/devices/0000:00:00.0/vendor', O_RDONLY);
    expect(err(() => p.mmap(null, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, vendor, 0)).code).toBe('EPERM');
    expect(err(() => p.mmap(null, 4096, PROT_READ, MAP_SHARED, vendor, 0)).code).toBe('ENODEV');
    const status = p.open('/proc/self/limits', O_RDONLY);
    expect(err(() => p.mmap(null, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, status, 0)).code).toBe('EPERM');
  });

  it('poll waits in virtual time and times out', () => {
    const host = Host.create();
    const p = host.spawn();
    const fd = p.eventfd(0, 0);
    const t0 = host.control.now;
    expect(p.poll([{ fd, events: POLLIN }], 50)).toBe(0);
    expect(host.control.now - t0).toBe(50e6);
    expect(err(() => p.poll([{ fd, events: POLLIN }], -1)).code).toBe('EINTR');
    const pfd: PollFd[] = [{ fd, events: POLLIN | POLLOUT }];
    expect(p.poll(pfd, -1)).toBe(1);
    expect(pfd[0]!.revents).toBe(POLLOUT);
  });

  it('pollAsync resolves when another part of the program makes an fd ready', async () => {
    const p = Host.create().spawn();
    const fd = p.eventfd(0, 0);
    const pfd: PollFd[] = [{ fd, events: POLLIN }];
    const done = p.pollAsync(pfd, -1);
    setImmediate(() => p.write(fd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])));
    expect(await done).toBe(1);
    expect(pfd[0]!.revents).toBe(POLLIN);
  });

  it('may_open: permission bits for non-root users, EISDIR, ENOTDIR, O_NOFOLLOW', () => {
    const host = Host.create();
    host.kernel.vfs.mkdirp('/dev').set('secret', chardev(() => new NullFile(), 0o600));
    host.kernel.vfs.mkdirp('/dev').set('shared', chardev(() => new NullFile(), 0o660, 0, 36));
    const user = host.spawn({ uid: 1000 });
    const kvmUser = host.spawn({ uid: 1001, groups: [36] });
    expect(err(() => user.open('/dev/secret', O_RDWR)).code).toBe('EACCES');
    expect(err(() => user.open('/dev/shared', O_RDWR)).code).toBe('EACCES');
    expect(kvmUser.open('/dev/shared', O_RDWR)).toBe(3);
    expect(host.spawn().open('/dev/secret', O_RDWR)).toBe(3);
    expect(err(() => user.open('/dev', O_RDWR)).code).toBe('EISDIR');
    expect(err(() => user.open('/dev/null', O_RDONLY | O_DIRECTORY)).code).toBe('ENOTDIR');
    expect(err(() => user.open('/proc/self', O_RDONLY | O_NOFOLLOW)).code).toBe('ELOOP');
  });

  it('sysfs attributes: show on read, store on write, EACCES for a missing method, errno from store', () => {
    const host = Host.create();
    let value = 'a';
    const dir = host.kernel.vfs.mkdirp('/sys/test');
    dir.set('rw', attr('sysfs', () => `${value}\n`, (_c, d) => { if (d.trim() === 'bad') throw new KernelError(22, 'bad value'); value = d.trim(); }, 0o644));
    dir.set('ro', attr('sysfs', () => 'x\n'));
    const p = host.spawn();
    expect(p.readFile('/sys/test/rw')).toBe('a\n');
    p.writeFile('/sys/test/rw', 'b\n');
    expect(p.readFile('/sys/test/rw')).toBe('b\n');
    expect(err(() => p.open('/sys/test/ro', O_WRONLY)).code).toBe('EACCES');
    // kernfs_fop_open checks f_mode: access mode 3 has neither bit, so even a read-only attribute opens.
    expect(p.open('/sys/test/ro', O_ACCMODE)).toBeGreaterThanOrEqual(0);
    expect(err(() => p.writeFile('/sys/test/rw', 'bad')).code).toBe('EINVAL');
    expect(value).toBe('b');
    expect(p.readdir('/sys/test')).toEqual(['ro', 'rw']);
  });

  it('module parameters come from the command line and appear in /sys/module', () => {
    const host = Host.create({ cmdline: 'vfio-pci.nointxmask=1 foo.bar=7' });
    host.kernel.params.declare('vfio_pci', 'nointxmask', 'bool', false, true);
    host.kernel.params.declare('foo', 'bar', 'uint', 3);
    const p = host.spawn();
    expect(host.kernel.params.bool('vfio-pci', 'nointxmask')).toBe(true);
    expect(p.readFile('/sys/module/vfio_pci/parameters/nointxmask')).toBe('Y\n');
    expect(host.kernel.params.num('foo', 'bar')).toBe(7);
    p.writeFile('/sys/module/vfio_pci/parameters/nointxmask', 'N');
    expect(host.kernel.params.bool('vfio_pci', 'nointxmask')).toBe(false);
    expect(err(() => p.open('/sys/module/foo/parameters/bar', O_WRONLY)).code).toBe('EACCES');
  });

  it('a mapping keeps its file open after close(fd), and exit() releases everything', () => {
    const host = Host.create();
    let released = 0;
    class Mappable extends NullFile {
      override mmap() {
        return new RamBacking(new Uint8Array(4096));
      }
      override release() {
        released++;
      }
    }
    host.kernel.vfs.mkdirp('/dev').set('m', chardev(() => new Mappable(), 0o666));
    const p = host.spawn();
    const fd = p.open('/dev/m', O_RDWR | O_CLOEXEC);
    p.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.close(fd);
    expect(released).toBe(0);
    p.exit();
    expect(released).toBe(1);
    expect(host.kernel.processes.has(p.pid)).toBe(false);
  });

  it('readlink and /proc/self/fd name open files', () => {
    const p = Host.create().spawn();
    const e = p.eventfd(0, 0);
    const [r] = p.pipe();
    expect(p.readlink(`/proc/self/fd/${e}`)).toBe('anon_inode:[eventfd]');
    expect(p.readlink(`/proc/${p.pid}/fd/${r}`)).toMatch(/^pipe:\[\d+\]$/);
    expect(p.readlink('/proc/self')).toBe(String(p.pid));
    expect(err(() => p.readlink('/dev/null')).code).toBe('EINVAL');
  });
});

// fs/fcntl.c (6.18): f_dupfd_query() looks `arg` up with fdget_raw() (O_PATH fds count), returns -EBADF
// when it is not open, else whether both fds hold the same struct file; f_created_query() returns
// FMODE_CREATED, which only lookup_open()/atomic_open() (fs/namei.c) set, when O_CREAT created the
// name. check_fcntl_cmd() lets both through on an O_PATH (FMODE_PATH) file, and SYSCALL(fcntl) looks
// `fd` up first: a closed `fd` is EBADF before anything else.
describe('fcntl F_DUPFD_QUERY and F_CREATED_QUERY', () => {
  it('F_DUPFD_QUERY: 1 for the fd itself and every dup of it, 0 for another open of the same path', () => {
    const p = Host.create().spawn();
    const fd = p.open('/dev/null', O_RDWR);
    const dups = [p.dup(fd), p.fcntl(fd, F_DUPFD, 10), p.fcntl(fd, F_DUPFD_CLOEXEC, 20), p.dup2(fd, 30)];
    for (const d of [fd, ...dups]) {
      expect(p.fcntl(fd, F_DUPFD_QUERY, d)).toBe(1);
      expect(p.fcntl(d, F_DUPFD_QUERY, fd)).toBe(1);
    }
    const again = p.open('/dev/null', O_RDWR);
    expect(p.fcntl(fd, F_DUPFD_QUERY, again)).toBe(0);
    expect(p.fcntl(again, F_DUPFD_QUERY, dups[0])).toBe(0);
    // Not the same inode either: the two ends of one pipe are two open file descriptions.
    const [r, w] = p.pipe();
    expect(p.fcntl(r, F_DUPFD_QUERY, w)).toBe(0);
    // The dups outlive the fd they came from.
    p.close(fd);
    expect(p.fcntl(dups[0]!, F_DUPFD_QUERY, dups[3]!)).toBe(1);
  });

  it('F_DUPFD_QUERY: EBADF when either fd is not open, changing nothing', () => {
    const p = Host.create().spawn();
    const fd = p.open('/dev/null', O_RDWR | O_CLOEXEC);
    const closed = p.dup(fd);
    p.close(closed);
    const before = { fds: p.readdir('/proc/self/fd'), flags: p.fcntl(fd, F_GETFL), fdflags: p.fcntl(fd, F_GETFD) };
    for (const arg of [closed, 42, -1, 5000]) {
      const e = err(() => p.fcntl(fd, F_DUPFD_QUERY, arg));
      expect(e.code).toBe('EBADF');
      expect(e.message).toContain(`fd ${arg} (the fd to compare with ${fd}) is not an open file descriptor`);
    }
    expect(err(() => p.fcntl(closed, F_DUPFD_QUERY, fd)).message).toContain(`fd ${closed} is not an open file descriptor`);
    expect({ fds: p.readdir('/proc/self/fd'), flags: p.fcntl(fd, F_GETFL), fdflags: p.fcntl(fd, F_GETFD) }).toEqual(before);
  });

  it('both queries work on O_PATH fds (check_fcntl_cmd), and F_DUPFD_QUERY sees O_PATH fds as its argument (fdget_raw)', () => {
    const p = Host.create().spawn();
    const path = p.open('/dev/null', O_PATH);
    const pathDup = p.dup(path);
    const normal = p.open('/dev/null', O_RDWR);
    expect(p.fcntl(path, F_DUPFD_QUERY, pathDup)).toBe(1);
    expect(p.fcntl(path, F_DUPFD_QUERY, normal)).toBe(0);
    expect(p.fcntl(normal, F_DUPFD_QUERY, path)).toBe(0);
    expect(p.fcntl(pathDup, F_DUPFD_QUERY, path)).toBe(1);
    expect(p.fcntl(path, F_CREATED_QUERY)).toBe(0); // O_PATH keeps no O_CREAT (build_open_flags)
  });

  it('the O_PATH allow-list is exactly check_fcntl_cmd(): every other command is EBADF on an O_PATH fd, whatever it is', () => {
    const p = Host.create().spawn();
    const allowed = [F_CREATED_QUERY, F_DUPFD, F_DUPFD_CLOEXEC, F_DUPFD_QUERY, F_GETFD, F_SETFD, F_GETFL];
    const normal = p.open('/dev/null', O_RDWR);
    const codeOf = (f: () => unknown): string => {
      try {
        f();
        return 'OK';
      } catch (e) {
        return (e as SyscallError).code;
      }
    };
    for (let cmd = 0; cmd <= 1040; cmd++) {
      const path = p.open('/dev/null', O_PATH);
      expect(codeOf(() => p.fcntl(path, cmd, normal)), `command ${cmd}`).toBe(allowed.includes(cmd) ? 'OK' : 'EBADF');
      // On an ordinary file every command gets past that check (to EINVAL for those the model lacks),
      // but the pipe commands are EBADF on anything but a pipe (pipe_fcntl()).
      const notPipe = cmd === F_SETPIPE_SZ || cmd === F_GETPIPE_SZ;
      expect(codeOf(() => p.fcntl(normal, cmd, normal)) === 'EBADF', `command ${cmd}`).toBe(notPipe);
      for (const fd of p.readdir('/proc/self/fd').map(Number)) if (fd > normal) p.close(fd);
    }
  });

  it('F_CREATED_QUERY: 0 for every open that did not create its file, whatever the flags and the argument (the creating open: test/linux/open.test.ts)', () => {
    const p = Host.create().spawn();
    // O_CREAT on an existing name opens it without creating it: no FMODE_CREATED.
    const existing = p.open('/dev/null', O_RDWR | O_CREAT);
    expect(p.fcntl(existing, F_CREATED_QUERY)).toBe(0);
    expect(p.fcntl(existing, F_CREATED_QUERY, 1)).toBe(0);
    expect(p.fcntl(p.eventfd(0, EFD_NONBLOCK), F_CREATED_QUERY)).toBe(0);
    expect(p.fcntl(p.pipe()[1], F_CREATED_QUERY)).toBe(0);
    expect(p.fcntl(p.dup(existing), F_CREATED_QUERY)).toBe(0);
    expect(err(() => p.fcntl(99, F_CREATED_QUERY)).code).toBe('EBADF');
  });

  it('strace names the commands and prints their arguments and results as strace does', () => {
    const host = Host.create();
    const p = host.spawn();
    const fd = p.open('/dev/null', O_RDWR);
    const path = p.open('/dev/null', O_PATH);
    const lines: string[] = [];
    const stop = host.strace((l) => lines.push(l));
    p.fcntl(fd, F_DUPFD_QUERY, fd);
    p.fcntl(fd, F_DUPFD_QUERY, path);
    err(() => p.fcntl(fd, F_DUPFD_QUERY, 42));
    p.fcntl(path, F_CREATED_QUERY);
    p.fcntl(fd, F_SETFD, FD_CLOEXEC);
    p.fcntl(fd, F_GETFD);
    p.fcntl(fd, F_SETFL, O_NONBLOCK);
    p.fcntl(fd, F_GETFL);
    p.fcntl(fd, F_DUPFD_CLOEXEC, 10);
    err(() => p.fcntl(fd, 1029));
    stop();
    expect(lines).toEqual([
      `fcntl(${fd}, F_DUPFD_QUERY, ${fd}) = 1`,
      `fcntl(${fd}, F_DUPFD_QUERY, ${path}) = 0`,
      `fcntl(${fd}, F_DUPFD_QUERY, 42) = -1 EBADF (Bad file descriptor)`,
      `fcntl(${path}, F_CREATED_QUERY, 0) = 0`,
      `fcntl(${fd}, F_SETFD, FD_CLOEXEC) = 0`,
      `fcntl(${fd}, F_GETFD) = 0x1 (flags FD_CLOEXEC)`,
      `fcntl(${fd}, F_SETFL, O_RDONLY|O_NONBLOCK) = 0`,
      `fcntl(${fd}, F_GETFL) = 0x8802 (flags O_RDWR|O_NONBLOCK|O_LARGEFILE)`,
      `fcntl(${fd}, F_DUPFD_CLOEXEC, 10) = 10`,
      `fcntl(${fd}, 0x405 /* F_??? */, 0) = -1 EINVAL (Invalid argument)`,
    ]);
  });
});

// From a review of the generic file syscalls against fs/read_write.c, fs/file.c, fs/kernfs/file.c and
// mm/shmem.c; each case was measured on this machine's 6.18 kernel.
describe('read/write/dup2 edge cases (measured)', () => {
  it('a zero-length write on an O_APPEND fd leaves f_pos where it was (the position is stored only for a positive result)', () => {
    const p = Host.create().spawn();
    const fd = p.open('/dev/vks-append', O_CREAT | O_RDWR | O_APPEND, 0o600);
    p.pwrite(fd, new TextEncoder().encode('seven..'), 0);
    expect(p.write(fd, new Uint8Array(0))).toBe(0);
    expect(p.lseek(fd, 0, 1)).toBe(0);
    expect(p.write(fd, Uint8Array.of(1))).toBe(1);
    expect(p.lseek(fd, 0, 1)).toBe(8);
  });

  it('dup2(fd, fd) only looks the fd up: it works above a lowered RLIMIT_NOFILE (ksys_dup2)', () => {
    const p = Host.create().spawn();
    const fd = p.dup2(p.open('/dev/null', O_RDONLY), 19);
    const lim = new Uint8Array(16);
    lim[0] = 10;
    lim[8] = 10;
    p.setrlimit(7, lim);
    expect(p.dup2(fd, fd)).toBe(19);
    expect(() => p.dup2(fd, 12)).toThrow(/EBADF/);
  });

  it('sysfs: a zero-length write never reaches ->store, a long one is cut to a page, a zero-length read renders nothing', () => {
    const p = Host.create().spawn();
    const probe = p.open('/sys/bus/pci/drivers_probe', O_WRONLY);
    expect(p.write(probe, new Uint8Array(0))).toBe(0);
    expect(() => p.write(probe, new TextEncoder().encode('nonexistent'))).toThrow(/ENODEV/);
    const auto = p.open('/sys/bus/pci/drivers_autoprobe', O_RDWR);
    // An attribute not yet read polls POLLERR|POLLPRI (kernfs_generic_poll); reading nothing keeps it so.
    const revents = () => {
      const fds: PollFd[] = [{ fd: auto, events: POLLIN }];
      p.poll(fds, 0);
      return fds[0]!.revents!;
    };
    const before = revents();
    expect(before & 0x8).toBe(0x8);
    expect(p.read(auto, new Uint8Array(0))).toBe(0);
    expect(revents()).toBe(before);
    p.read(auto, new Uint8Array(8));
    expect(revents() & 0x8).toBe(0);
    const long = new TextEncoder().encode('1'.padEnd(5000, '\n'));
    expect(p.pwrite(auto, long, 0)).toBe(4096);
  });

  it('a zero-length read of a tmpfs file still updates atime (shmem_file_read_iter calls file_accessed)', () => {
    const host = Host.create();
    const p = host.spawn();
    const fd = p.open('/dev/vks-atime', O_CREAT | O_RDWR, 0o600);
    p.write(fd, Uint8Array.of(1));
    host.control.advance(5e9);
    const st = () => p.fstat(fd);
    const before = st().st_atime;
    p.pread(fd, new Uint8Array(0), 0);
    expect(st().st_atime).toBeGreaterThan(before);
  });
});
