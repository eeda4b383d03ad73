// The strace-style formatter: output shapes as strace prints them, ioctl names by file type,
// struct fields with flag names, in/out structs, errors with strerror text.
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { flagSet, formatFlags, formatSyscall, quoteBytes } from '../../src/linux/trace/strace.js';
import { ioctlTable } from '../../src/linux/trace/ioctl-desc.js';
import { struct, u32, u64 } from '../../abi/layout.js';
import type { SyscallEvent } from '../../src/sim/trace.js';
import { EFD_CLOEXEC, EFD_NONBLOCK } from '../../include-ts/linux/eventfd.js';
import { FIONBIO } from '../../include-ts/asm-generic/ioctls.js';
import { FASYNC, F_GETFL, O_ACCMODE, O_CLOEXEC, O_CREAT, O_EXCL, O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC, O_WRONLY, __O_TMPFILE } from '../../include-ts/linux/fcntl.js';

describe('strace formatter', () => {
  it('prints real calls the way strace does', () => {
    const host = Host.create();
    const lines: string[] = [];
    host.strace((l) => lines.push(l));
    const p = host.spawn();
    const fd = p.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p.write(fd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
    p.ioctl(fd, FIONBIO, Int32Array.of(0));
    try { p.read(fd, new Uint8Array(4)); } catch { /* EINVAL */ }
    p.close(fd);
    expect(lines).toEqual([
      'eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) = 3',
      'write(3, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8',
      'ioctl(3, FIONBIO, [0]) = 0',
      'read(3, 0x0, 4) = -1 EINVAL (Invalid argument)',
      'close(3) = 0',
    ]);
  });

  it('names an ioctl by the fd type and decodes struct fields with flag names', () => {
    const status = struct('vfio_group_status', { argsz: u32, flags: u32 });
    const unmap = struct('vfio_iommu_type1_dma_unmap', { argsz: u32, flags: u32, iova: u64, size: u64 });
    const tables = new Map([
      ['vfio-group', ioctlTable([[0x3b67, { name: 'VFIO_GROUP_GET_STATUS', arg: 'struct', layout: status, out: true, flags: { flags: flagSet([[1, 'VFIO_GROUP_FLAGS_VIABLE'], [2, 'VFIO_GROUP_FLAGS_CONTAINER_SET']]) } }]])],
      ['vfio-container', ioctlTable([[0x3b72, { name: 'VFIO_IOMMU_UNMAP_DMA', arg: 'struct', layout: unmap, out: true, inout: true, hex: ['iova', 'size'] }]])],
    ]);
    const before = status.encode({ argsz: 8 });
    const after = status.encode({ argsz: 8, flags: 1 });
    const ev: SyscallEvent = { type: 'syscall', t: 0, pid: 1, syscall: 'ioctl', fd: 4, fileKind: 'vfio-group', args: [4, 0x3b67], request: 0x3b67, argIn: before, argOut: after, ret: 0, errno: 0 };
    expect(formatSyscall(ev, tables)).toBe('ioctl(4, VFIO_GROUP_GET_STATUS, {argsz=8, flags=VFIO_GROUP_FLAGS_VIABLE}) = 0');
    // The same number on another kind of fd is another ioctl (or unknown).
    expect(formatSyscall({ ...ev, fileKind: 'eventfd' }, tables)).toBe('ioctl(4, _IOC(_IOC_NONE, 0x3b, 0x67, 0), "\\10\\0\\0\\0\\0\\0\\0\\0") = 0');
    const uIn = unmap.encode({ argsz: 24, iova: 0x100000, size: 0x2000 });
    const uOut = unmap.encode({ argsz: 24, iova: 0x100000, size: 0 });
    expect(formatSyscall({ ...ev, fd: 3, fileKind: 'vfio-container', request: 0x3b72, argIn: uIn, argOut: uOut }, tables)).toBe(
      'ioctl(3, VFIO_IOMMU_UNMAP_DMA, {argsz=24, flags=0, iova=0x100000, size=0x2000} => {size=0x0}) = 0',
    );
    expect(formatSyscall({ ...ev, argOut: before, errno: 1, ret: -1 }, tables)).toBe('ioctl(4, VFIO_GROUP_GET_STATUS, {argsz=8, flags=0}) = -1 EPERM (Operation not permitted)');
  });

  // strace 6.1 src/open.c: the mode argument is printed only when the flags can create a file (O_CREAT
  // or __O_TMPFILE), as a 16-bit umode_t in `%#03o`; O_TMPFILE (both bits) comes after O_PATH and a
  // lone __O_TMPFILE has its own name. Every expected line is what the real strace 6.1 printed on this
  // machine for the same arguments (a C program making raw openat calls; strace pads before ` = `,
  // which this formatter does not).
  it('openat: the mode only with O_CREAT or __O_TMPFILE, in strace\'s octal, and the O_TMPFILE names (real strace 6.1 output)', () => {
    const open = (path: string, flags: number, mode: number, ret: number, errno = 0): SyscallEvent =>
      ({ type: 'syscall', t: 0, pid: 1, syscall: 'openat', args: ['AT_FDCWD', path, flags, mode], ret, errno });
    const lines = [
      open('/dev/null', O_RDWR | O_CREAT | O_EXCL, 0o644, -1, 17),
      open('/dev/null', O_RDWR, 0o644, 7),
      open('/dev', O_RDWR | __O_TMPFILE, 0o600, -1, 22),
      open('/dev', O_RDWR | O_TMPFILE, 0o600, 3),
      open('/dev/ocreat_x', O_RDWR | O_CREAT, 0x12345, 4),
      open('/dev/ocreat_x', O_RDWR | O_CREAT, 0o7, 5),
      open('/dev/ocreat_x', O_RDWR | O_CREAT, 0o777777, 6),
      open('/dev/ocreat_new', O_RDONLY | O_CREAT, 0, 3),
      open('/nonexist', O_RDWR | O_CLOEXEC | O_PATH | __O_TMPFILE | FASYNC, 0o600, -1, 2),
      open('/nonexist', O_RDWR | O_CREAT | O_CLOEXEC | O_PATH | O_TMPFILE | FASYNC, 0o600, -1, 2),
      open('/nonexist', O_ACCMODE | O_CREAT, 0, 3),
    ].map((ev) => formatSyscall(ev, new Map()));
    expect(lines).toEqual([
      'openat(AT_FDCWD, "/dev/null", O_RDWR|O_CREAT|O_EXCL, 0644) = -1 EEXIST (File exists)',
      'openat(AT_FDCWD, "/dev/null", O_RDWR) = 7',
      'openat(AT_FDCWD, "/dev", O_RDWR|__O_TMPFILE, 0600) = -1 EINVAL (Invalid argument)',
      'openat(AT_FDCWD, "/dev", O_RDWR|O_TMPFILE, 0600) = 3',
      'openat(AT_FDCWD, "/dev/ocreat_x", O_RDWR|O_CREAT, 021505) = 4',
      'openat(AT_FDCWD, "/dev/ocreat_x", O_RDWR|O_CREAT, 007) = 5',
      'openat(AT_FDCWD, "/dev/ocreat_x", O_RDWR|O_CREAT, 0177777) = 6',
      'openat(AT_FDCWD, "/dev/ocreat_new", O_RDONLY|O_CREAT, 000) = 3',
      'openat(AT_FDCWD, "/nonexist", O_RDWR|O_CLOEXEC|O_PATH|__O_TMPFILE|FASYNC, 0600) = -1 ENOENT (No such file or directory)',
      'openat(AT_FDCWD, "/nonexist", O_RDWR|O_CREAT|O_CLOEXEC|O_PATH|O_TMPFILE|FASYNC, 0600) = -1 ENOENT (No such file or directory)',
      'openat(AT_FDCWD, "/nonexist", O_ACCMODE|O_CREAT, 000) = 3',
    ]);
    // F_GETFL of an O_TMPFILE open (real: `fcntl(3, F_GETFL) = 0x418002 (flags O_RDWR|O_LARGEFILE|O_TMPFILE)`).
    const getfl: SyscallEvent = { type: 'syscall', t: 0, pid: 1, syscall: 'fcntl', fd: 3, args: [3, F_GETFL, 0], ret: 0x418002, errno: 0 };
    expect(formatSyscall(getfl, new Map())).toBe('fcntl(3, F_GETFL) = 0x418002 (flags O_RDWR|O_LARGEFILE|O_TMPFILE)');
  });

  it('a process\'s open(O_CREAT) is traced with its mode', () => {
    const host = Host.create();
    const lines: string[] = [];
    host.strace((l) => lines.push(l));
    const p = host.spawn();
    p.open('/dev/null', O_WRONLY | O_CREAT | O_TRUNC, 0o666);
    p.open('/dev/null', O_RDONLY, 0o666);
    expect(lines).toEqual(['openat(AT_FDCWD, "/dev/null", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3', 'openat(AT_FDCWD, "/dev/null", O_RDONLY) = 4']);
  });

  it('formats flags with leftovers and multi-bit fields, and escapes bytes like strace', () => {
    const fs = flagSet([[0, 'MODE_A', 3], [1, 'MODE_B', 3], [4, 'BIT2']]);
    expect(formatFlags(0x4 | 1 | 0x80, fs)).toBe('MODE_B|BIT2|0x80');
    expect(formatFlags(0, flagSet([[1, 'X']]))).toBe('0');
    expect(quoteBytes(new Uint8Array([0x41, 0, 0x31, 10, 0xff]))).toBe('"A\\0001\\n\\377"');
  });

  // strace 6.1 print_symbolic_mode_t(): the type, then S_ISUID/S_ISGID/S_ISVTX, then the bits in %#03o.
  // The expected lines are this machine's strace output for a 07755 file (real: /tmp, the model: /dev).
  it('newfstatat: set-id and sticky bits by name, the size of a file (real strace 6.1 output)', () => {
    const host = Host.create();
    const p = host.spawn();
    const lines: string[] = [];
    const stop = host.strace((l) => lines.push(l));
    p.close(p.open('/dev/suid', O_CREAT | O_RDWR, 0o7755));
    p.stat('/dev/suid');
    stop();
    expect(lines.at(-1)).toBe('newfstatat(AT_FDCWD, "/dev/suid", {st_mode=S_IFREG|S_ISUID|S_ISGID|S_ISVTX|0755, st_size=0, ...}, 0) = 0');
    const sticky: SyscallEvent = { type: 'syscall', t: 0, pid: 1, syscall: 'newfstatat', args: [-100, '/tmp/sticky', { st_mode: 0o41777, st_rdev: 0, st_size: 4096 }, 0], ret: 0, errno: 0 };
    expect(formatSyscall(sticky, new Map()))
      .toBe('newfstatat(AT_FDCWD, "/tmp/sticky", {st_mode=S_IFDIR|S_ISVTX|0777, st_size=4096, ...}, 0) = 0');
  });
});
