// memfd_create, file seals, ftruncate, fallocate and mappings of a memfd (mm/memfd.c, mm/shmem.c
// shmem_setattr/shmem_fallocate/shmem_mmap, fs/open.c do_ftruncate). memfd-oracle.c runs the same steps
// on this machine's kernel; the model must print the same lines, and strace the same calls. Left out of
// the oracle because the model differs (see src/linux/fs/shmem.ts): a load through a mapping
// allocating a page (so the oracle takes fstat before such loads), and a private mapping seeing later
// writes to the file on pages it has not stored to (the model's private mapping is a copy).
// memfd-hugetlb-oracle.c does the same for an MFD_HUGETLB memfd (fs/hugetlbfs/inode.c) on this machine,
// which has no huge pages reserved.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { F_ADD_SEALS, F_GETFD, F_GETFL, F_GET_SEALS, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, F_SEAL_EXEC, O_CREAT, O_PATH, O_RDONLY, O_RDWR, O_TRUNC } from '../../../include-ts/linux/fcntl.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE } from '../../../include-ts/linux/falloc.js';
import { SEEK_DATA, SEEK_END, SEEK_HOLE } from '../../../include-ts/linux/fs.js';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, MFD_HUGETLB, MFD_NOEXEC_SEAL } from '../../../include-ts/linux/memfd.js';
import { MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import * as K from '../../../include-ts/linux/kvm.js';
import { COracle, expectSameAsOracle, oracleSkip, resultCode } from '../../support/c-oracle.js';
import { EDU, GROUP, V, expectErrno, openDevice } from '../../support/vfio.js';

const here = dirname(fileURLToPath(import.meta.url));
const RW = PROT_READ | PROT_WRITE;

/** The oracle's steps on the model, printed as it prints them. */
function modelLines(p: Process): string[] {
  const out: string[] = [];
  const res = (w: string, f: () => number | void) => out.push(`${w}: ${resultCode(() => f() ?? 0)}`);
  const st = (w: string, fd: number) => {
    const s = p.fstat(fd);
    out.push(`${w}: mode 0${s.st_mode.toString(8)} size ${s.st_size} blocks ${s.st_blocks} nlink ${s.st_nlink}`);
  };
  const map = (len: number, prot: number, flags: number, fd: number, off = 0) => () => void p.mmap(null, len, prot, flags, fd, off);
  const byte = (fd: number, pos: number) => {
    const b = new Uint8Array(1);
    p.pread(fd, b, pos);
    return b[0]!;
  };
  res('memfd_create name of 249', () => p.memfdCreate('n'.repeat(249), MFD_CLOEXEC));
  res('memfd_create name of 250', () => p.memfdCreate('n'.repeat(250), MFD_CLOEXEC));
  res('memfd_create NULL name', () => p.memfdCreate(null, 0));
  res('memfd_create flags 0x40', () => p.memfdCreate('x', 0x40));
  res('memfd_create MFD_EXEC|MFD_NOEXEC_SEAL', () => p.memfdCreate('x', MFD_EXEC | MFD_NOEXEC_SEAL));
  res('memfd_create MFD_HUGETLB|0x40', () => p.memfdCreate('x', MFD_HUGETLB | 0x40));

  const fd = p.memfdCreate('vm-ram', MFD_CLOEXEC | MFD_ALLOW_SEALING);
  out.push('memfd_create vm-ram: ok');
  st('fstat new', fd);
  out.push(`readlink: ${p.readlink(`/proc/self/fd/${fd}`)}`);
  res('F_GETFD', () => p.fcntl(fd, F_GETFD));
  res('F_GETFL', () => p.fcntl(fd, F_GETFL));
  res('F_GET_SEALS', () => p.fcntl(fd, F_GET_SEALS));
  res('ftruncate 64 KiB', () => p.ftruncate(fd, 0x10000));
  st('fstat after ftruncate', fd);
  res('ftruncate -1', () => p.ftruncate(fd, -1));
  res('ftruncate bad fd', () => p.ftruncate(999, 0));
  res('ftruncate eventfd', () => p.ftruncate(p.eventfd(0, 0), 0));
  const ro = p.open(`/proc/self/fd/${fd}`, O_RDONLY);
  res('ftruncate read-only fd', () => p.ftruncate(ro, 0));
  res('F_ADD_SEALS read-only fd', () => p.fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK));
  res('F_GET_SEALS read-only fd', () => p.fcntl(ro, F_GET_SEALS));

  let m = p.mmap(null, 0x10000, RW, MAP_SHARED, fd, 0);
  out.push('mmap shared rw: 0');
  m.write8(0x1000, 0xab);
  res('pread after a store through the mapping', () => p.pread(fd, new Uint8Array(1), 0x1000));
  out.push(`byte read: 0x${byte(fd, 0x1000).toString(16)}`);
  res('pwrite', () => p.pwrite(fd, Uint8Array.of(0xcd), 0x2000));
  out.push(`byte seen through the mapping: 0x${m.read8(0x2000).toString(16)}`);
  st('fstat after touching 2 pages', fd);
  const pm = p.mmap(null, 0x2000, RW, MAP_PRIVATE, fd, 0x1000);
  out.push('mmap private: 0');
  out.push(`private sees 0x${pm.read8(0).toString(16)}`);
  pm.write8(0, 0x11);
  out.push(`shared after a private store: 0x${m.read8(0x1000).toString(16)}`);
  res('F_ADD_SEALS 0x40', () => p.fcntl(fd, F_ADD_SEALS, 0x40));
  res('F_ADD_SEALS F_SEAL_WRITE while mapped shared rw', () => p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  p.munmap(m.addr, 0x10000);
  m = p.mmap(null, 0x10000, PROT_READ, MAP_SHARED, fd, 0);
  out.push('mmap shared read-only: 0');
  res('F_ADD_SEALS F_SEAL_WRITE while mapped shared read-only', () => p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  p.munmap(m.addr, 0x10000);
  res('F_ADD_SEALS F_SEAL_WRITE unmapped (a private mapping stays)', () => p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  res('F_GET_SEALS', () => p.fcntl(fd, F_GET_SEALS));
  res('write sealed', () => p.write(fd, Uint8Array.of(1)));
  res('pwrite sealed', () => p.pwrite(fd, Uint8Array.of(1), 0));
  res('mmap shared rw sealed', map(0x1000, RW, MAP_SHARED, fd));
  res('mmap shared read-only sealed', map(0x1000, PROT_READ, MAP_SHARED, fd));
  res('mmap private rw sealed', map(0x1000, RW, MAP_PRIVATE, fd));
  res('fallocate punch sealed', () => p.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 0x1000));
  res('ftruncate smaller, write-sealed', () => p.ftruncate(fd, 0x8000));
  res('ftruncate larger, write-sealed', () => p.ftruncate(fd, 0x20000));
  res('F_ADD_SEALS F_SEAL_SEAL', () => p.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
  res('F_ADD_SEALS after F_SEAL_SEAL', () => p.fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
  res('F_ADD_SEALS nothing after F_SEAL_SEAL', () => p.fcntl(fd, F_ADD_SEALS, 0));

  const g = p.memfdCreate('grow', MFD_ALLOW_SEALING);
  const big = new Uint8Array(0x2000).fill(7);
  res('ftruncate 2 pages', () => p.ftruncate(g, 0x2000));
  res('F_ADD_SEALS F_SEAL_SHRINK|F_SEAL_GROW', () => p.fcntl(g, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
  res('ftruncate smaller, shrink-sealed', () => p.ftruncate(g, 0x1000));
  res('ftruncate larger, grow-sealed', () => p.ftruncate(g, 0x3000));
  res('ftruncate same size', () => p.ftruncate(g, 0x2000));
  res('pwrite inside', () => p.pwrite(g, big.subarray(0, 0x1000), 0x1000));
  res('pwrite across the end, grow-sealed', () => p.pwrite(g, big, 0x1000));
  res('pwrite across the end within a page', () => p.pwrite(g, big.subarray(0, 0x100), 0x1f80));
  res('pwrite at the end', () => p.pwrite(g, big.subarray(0, 1), 0x2000));
  res('fallocate to grow, grow-sealed', () => p.fallocate(g, 0, 0, 0x4000));
  res('fallocate KEEP_SIZE past the end, grow-sealed', () => p.fallocate(g, FALLOC_FL_KEEP_SIZE, 0, 0x4000));
  st('fstat', g);

  const f = p.memfdCreate('future', MFD_ALLOW_SEALING);
  p.ftruncate(f, 0x1000);
  const fm = p.mmap(null, 0x1000, RW, MAP_SHARED, f, 0);
  res('F_ADD_SEALS F_SEAL_FUTURE_WRITE while mapped rw', () => p.fcntl(f, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  fm.write8(0, 9);
  out.push(`a store through the older mapping lands: 0x${byte(f, 0).toString(16)}`);
  res('write future-sealed', () => p.write(f, Uint8Array.of(0)));
  res('mmap shared rw future-sealed', map(0x1000, RW, MAP_SHARED, f));
  res('mmap shared read-only future-sealed', map(0x1000, PROT_READ, MAP_SHARED, f));
  p.munmap(fm.addr, 0x1000);
  res('F_ADD_SEALS F_SEAL_WRITE with only a read-only mapping made after the seal', () => p.fcntl(f, F_ADD_SEALS, F_SEAL_WRITE));

  const n = p.memfdCreate('noseal', 0);
  res('F_GET_SEALS without MFD_ALLOW_SEALING', () => p.fcntl(n, F_GET_SEALS));
  res('F_ADD_SEALS without MFD_ALLOW_SEALING', () => p.fcntl(n, F_ADD_SEALS, F_SEAL_GROW));
  st('fstat without MFD_NOEXEC_SEAL', n);
  const x = p.memfdCreate('noexec', MFD_NOEXEC_SEAL);
  res('F_GET_SEALS with MFD_NOEXEC_SEAL', () => p.fcntl(x, F_GET_SEALS));
  st('fstat with MFD_NOEXEC_SEAL', x);
  res('fchmod 0755 with F_SEAL_EXEC', () => p.fchmod(x, 0o755));
  res('fchmod 0600 with F_SEAL_EXEC', () => p.fchmod(x, 0o600));
  const e = p.memfdCreate('exec', MFD_ALLOW_SEALING | MFD_EXEC);
  res('F_ADD_SEALS F_SEAL_EXEC on an executable memfd', () => p.fcntl(e, F_ADD_SEALS, F_SEAL_EXEC));
  res('F_GET_SEALS', () => p.fcntl(e, F_GET_SEALS));
  const e2 = p.memfdCreate('exec2', MFD_ALLOW_SEALING);
  p.fchmod(e2, 0o644);
  res('F_ADD_SEALS F_SEAL_EXEC after chmod 0644', () => p.fcntl(e2, F_ADD_SEALS, F_SEAL_EXEC));
  res('F_GET_SEALS', () => p.fcntl(e2, F_GET_SEALS));
  const ev = p.eventfd(0, 0);
  res('F_ADD_SEALS eventfd', () => p.fcntl(ev, F_ADD_SEALS, F_SEAL_GROW));
  res('F_GET_SEALS eventfd', () => p.fcntl(ev, F_GET_SEALS));
  res('F_ADD_SEALS upper bits', () => p.fcntl(g, F_ADD_SEALS, 0x100000001));
  res('F_GET_SEALS', () => p.fcntl(g, F_GET_SEALS));

  res('open O_TRUNC through /proc/self/fd, shrink-sealed', () => p.open(`/proc/self/fd/${g}`, O_RDWR | O_TRUNC));
  res('open O_RDONLY through /proc/self/fd', () => void p.open(`/proc/self/fd/${g}`, O_RDONLY));
  const t = p.open('/dev/vks-memfd-oracle', O_CREAT | O_RDWR, 0o600);
  res('F_GET_SEALS tmpfs file', () => p.fcntl(t, F_GET_SEALS));
  res('F_ADD_SEALS tmpfs file', () => p.fcntl(t, F_ADD_SEALS, F_SEAL_GROW));
  res('F_GET_SEALS /dev/null', () => p.fcntl(p.open('/dev/null', O_RDWR), F_GET_SEALS));

  res('F_ADD_SEALS bits past 31 only', () => p.fcntl(g, F_ADD_SEALS, 0x100000000));
  res('memfd_create with escapes in the name', () => void p.memfdCreate('caf\u00e9\t"q\u0001', 0));
  res('memfd_create 0x80000000', () => p.memfdCreate('x', 0x80000000));
  res('memfd_create MFD_HUGETLB|0x40|21<<MFD_HUGE_SHIFT', () => p.memfdCreate('x', MFD_HUGETLB | 0x40 | (21 << 26)));
  const w = p.memfdCreate('exec-mapped', MFD_ALLOW_SEALING);
  p.ftruncate(w, 0x1000);
  const wm = p.mmap(null, 0x1000, RW, MAP_SHARED, w, 0);
  res('F_ADD_SEALS F_SEAL_EXEC on an executable memfd mapped shared rw', () => p.fcntl(w, F_ADD_SEALS, F_SEAL_EXEC));
  res('F_GET_SEALS', () => p.fcntl(w, F_GET_SEALS));
  p.munmap(wm.addr, 0x1000);
  st('fstat of an O_PATH open through /proc/self/fd', p.open(`/proc/self/fd/${w}`, O_PATH));

  const h = p.memfdCreate('punch', 0);
  p.ftruncate(h, 0x3000);
  const hm = p.mmap(null, 0x3000, RW, MAP_SHARED, h, 0);
  hm.bytes!.fill(5);
  st('fstat after filling 3 pages', h);
  res('fallocate PUNCH_HOLE without KEEP_SIZE', () => p.fallocate(h, FALLOC_FL_PUNCH_HOLE, 0x1000, 0x1000));
  res('fallocate PUNCH_HOLE|KEEP_SIZE page 1', () => p.fallocate(h, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0x1000, 0x1000));
  res('fallocate PUNCH_HOLE|KEEP_SIZE 10 bytes', () => p.fallocate(h, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0x2000, 10));
  st('fstat after the punches', h);
  res('SEEK_HOLE', () => p.lseek(h, 0, SEEK_HOLE));
  res('SEEK_DATA from the hole', () => p.lseek(h, 0x1000, SEEK_DATA));
  res('fallocate mode 0 to 5 pages', () => p.fallocate(h, 0, 0x4000, 0x1000));
  st('fstat after fallocate', h);
  res('fallocate ZERO_RANGE', () => p.fallocate(h, FALLOC_FL_ZERO_RANGE, 0, 0x1000));
  out.push(`mapping after the punches: ${[0, 0x1000, 0x2009, 0x200a].map((o) => hm.read8(o).toString(16)).join(' ')}`);
  res('ftruncate to 1 page', () => p.ftruncate(h, 0x1000));
  res('ftruncate back to 3 pages', () => p.ftruncate(h, 0x3000));
  st('fstat', h);
  out.push(`mapping after truncation to 1 page and back: ${hm.read8(0).toString(16)} ${hm.read8(0x2000).toString(16)}`);
  return out;
}

const TRACED = /^(memfd_create|fcntl|ftruncate|fallocate)\(/;
/** strace 6.1 predates MFD_NOEXEC_SEAL, MFD_EXEC and F_SEAL_EXEC: their names as a newer strace prints them. */
function newerNames(l: string): string {
  return l
    .replace('0x8 /* MFD_??? */', 'MFD_NOEXEC_SEAL').replace('0x18 /* MFD_??? */', 'MFD_NOEXEC_SEAL|MFD_EXEC')
    .replace('MFD_ALLOW_SEALING|0x10', 'MFD_ALLOW_SEALING|MFD_EXEC')
    .replace('0x20 /* F_SEAL_??? */', 'F_SEAL_EXEC').replace(/(seals [^)]*)0x20\)/, '$1F_SEAL_EXEC)');
}
/** The traced calls from the first memfd_create on, fds and strace's column padding left out. */
function calls(lines: readonly string[]): string[] {
  const ours = lines.filter((l) => TRACED.test(l));
  return ours.slice(ours.findIndex((l) => l.startsWith('memfd_create(')))
    .map((l) => newerNames(l).replace(/^(fcntl|ftruncate|fallocate)\(\d+, /, '$1(FD, ').replace(/\s+= /, ' = '));
}

describe('memfd: the model against this machine\'s kernel', () => {
  const skip = oracleSkip('memfd-oracle', ['root'], true);
  it.skipIf(skip !== undefined)('every step returns and shows what the kernel does; strace prints the calls alike', () => {
    const host = Host.create();
    const p = host.spawn();
    expectSameAsOracle(join(here, 'memfd-oracle.c'), host, () => modelLines(p), ['-e', 'trace=memfd_create,fcntl,ftruncate,fallocate'], calls);
  });
});

describe('memfd: guest RAM for a VMM', () => {
  it('a shared mapping of a memfd is RAM to VFIO: device DMA lands in the file, and pinning charges locked_vm', () => {
    const o = openDevice(EDU, GROUP.edu);
    const { p, container } = o;
    const fd = p.memfdCreate('guest-ram', MFD_CLOEXEC | MFD_ALLOW_SEALING);
    p.ftruncate(fd, 0x10000);
    p.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    const ram = p.mmap(null, 0x10000, RW, MAP_SHARED, fd, 0);
    p.ioctl(container, V.VFIO_IOMMU_MAP_DMA, V.vfio_iommu_type1_dma_map.encode({ argsz: 32, flags: V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE, vaddr: ram.addr, iova: 0x100000, size: 0x10000 }));
    expect(p.mm.lockedVm).toBe(16);
    expect(o.host.control.pci.edu().dmaWrite(0x102000, Uint8Array.of(0xde, 0xad))).toBe(true);
    const b = new Uint8Array(2);
    p.pread(fd, b, 0x2000);
    expect([...b]).toEqual([0xde, 0xad]);
    expect(p.fstat(fd).st_blocks).toBe(8);
    // The same pages through a second mapping.
    const again = p.mmap(null, 0x10000, PROT_READ, MAP_SHARED, fd, 0);
    expect(again.read8(0x2001)).toBe(0xad);
    // A hole punched under the pin: the file (and both mappings) read zeros, the device keeps the
    // pinned page, and what it writes there next never reaches the file (src/linux/mm/pins.ts).
    p.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0x2000, 0x1000);
    expect(again.read8(0x2001)).toBe(0);
    const d = new Uint8Array(2);
    expect(o.host.control.pci.edu().dmaRead(0x102000, d)).toBe(true);
    expect([...d]).toEqual([0xde, 0xad]);
    expect(o.host.control.pci.edu().dmaWrite(0x102000, Uint8Array.of(7))).toBe(true);
    p.pread(fd, b, 0x2000);
    expect(b[0]).toBe(0);
    // The page next to it was not punched: still shared.
    expect(o.host.control.pci.edu().dmaWrite(0x103000, Uint8Array.of(9))).toBe(true);
    expect(again.read8(0x3000)).toBe(9);
  });

  it('KVM takes a memfd mapping as a memory slot; i_mmap_writable follows mappings split by munmap', () => {
    const host = Host.create();
    const p = host.spawn();
    const fd = p.memfdCreate('slot', MFD_ALLOW_SEALING);
    p.ftruncate(fd, 0x4000);
    const mem = p.mmap(null, 0x4000, RW, MAP_SHARED, fd, 0);
    const vm = p.ioctl(p.open('/dev/kvm', O_RDWR), K.KVM_CREATE_VM, 0);
    const region = K.kvm_userspace_memory_region.encode({ slot: 0, flags: 0, guest_phys_addr: 0, memory_size: 0x4000, userspace_addr: mem.addr });
    expect(p.ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, region)).toBe(0);
    // Cutting the middle out leaves two writable pieces; only when both go may F_SEAL_WRITE be added.
    p.munmap(mem.addr + 0x1000, 0x1000);
    expectErrno(() => p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 'EBUSY');
    p.munmap(mem.addr, 0x1000);
    expectErrno(() => p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 'EBUSY');
    p.munmap(mem.addr + 0x2000, 0x2000);
    expect(p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)).toBe(0);
  });

  it('/proc/self/fdinfo shows the shm mount (mnt_id 0) and the inode fstat reports', () => {
    const p = Host.create().spawn();
    const fd = p.memfdCreate('x', MFD_CLOEXEC);
    const info = p.readFile(`/proc/self/fdinfo/${fd}`);
    expect(info).toMatch(/^pos:\t0\nflags:\t02100002\nmnt_id:\t0\nino:\t(\d+)\n$/);
    expect(Number(/ino:\t(\d+)/.exec(info)![1])).toBe(p.fstat(fd).st_ino);
  });
});

describe('memfd_create(MFD_HUGETLB): the model against this machine\'s kernel (no huge pages reserved)', () => {
  const skip = oracleSkip('memfd-hugetlb-oracle', ['root']);
  it.skipIf(skip !== undefined)('a hugetlbfs memfd: huge-page sizes, no write, mmap ENOMEM (SIGBUS with MAP_NORESERVE), fallocate ENOSPC, its own mount', () => {
    const p = Host.create().spawn();
    const out: string[] = [];
    const r = (w: string, f: () => number | void) => out.push(`${w}: ${resultCode(() => f() ?? 0)}`);
    const st = (w: string, fd: number) => {
      const s = p.fstat(fd);
      const dev = Number(s.st_dev);
      out.push(`${w}: mode 0${s.st_mode.toString(8)} size ${s.st_size} blocks ${s.st_blocks} blksize ${s.st_blksize} nlink ${s.st_nlink} dev ${(dev >>> 8) & 0xfff}:${(dev & 0xff) | ((dev >>> 12) & 0xfff00)}`);
    };
    const mnt = (w: string, fd: number) => out.push(`${w} ${/mnt_id:\t\d+\n/.exec(p.readFile(`/proc/self/fdinfo/${fd}`))![0]}`.trimEnd());
    const M2 = 2 << 20;
    const map = (len: number, prot: number, flags: number, fd: number, off: number) => () => void p.mmap(null, len, prot, flags, fd, off);
    const fd = p.memfdCreate('h', MFD_HUGETLB | MFD_ALLOW_SEALING);
    out.push('create: 0');
    st('fstat', fd);
    mnt('2 MiB', fd);
    out.push(`link ${p.readlink(`/proc/self/fd/${fd}`)}`);
    r('F_GET_SEALS', () => p.fcntl(fd, F_GET_SEALS));
    r('ftruncate 4096', () => p.ftruncate(fd, 4096));
    r('ftruncate 2M', () => p.ftruncate(fd, M2));
    r('ftruncate 3M', () => p.ftruncate(fd, 3 << 20));
    st('fstat', fd);
    const b = new Uint8Array(16).fill(1);
    r('write', () => p.write(fd, b));
    r('pwrite', () => p.pwrite(fd, b, 0));
    r('read', () => p.read(fd, b));
    out.push(`byte read: ${b[0]}`);
    r('pread past the end', () => p.pread(fd, b, 4 << 20));
    r('lseek SEEK_END', () => p.lseek(fd, 0, SEEK_END));
    r('mmap shared', map(M2, RW, MAP_SHARED, fd, 0));
    r('mmap shared MAP_NORESERVE of 4096 bytes', map(4096, RW, MAP_SHARED | MAP_NORESERVE, fd, 0));
    r('mmap at an unaligned offset', map(4096, PROT_READ, MAP_SHARED, fd, 4096));
    r('mmap private', map(M2, PROT_READ, MAP_PRIVATE, fd, 0));
    r('fallocate', () => p.fallocate(fd, 0, 0, M2));
    r('fallocate KEEP_SIZE', () => p.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, M2));
    r('fallocate PUNCH_HOLE', () => p.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, M2));
    r('fallocate ZERO_RANGE', () => p.fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, M2));
    r('F_ADD_SEALS F_SEAL_GROW', () => p.fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    r('ftruncate 4M, grow-sealed', () => p.ftruncate(fd, 4 << 20));
    const g = p.memfdCreate('g', MFD_HUGETLB | (30 << 26));
    st('1 GiB fstat', g);
    mnt('1 GiB', g);
    r('1 GiB ftruncate 2M', () => p.ftruncate(g, M2));
    r('1 GiB ftruncate 1G', () => p.ftruncate(g, 1 << 30));
    r('create 2M explicit', () => void p.memfdCreate('x', MFD_HUGETLB | (21 << 26)));
    r('create 64K', () => p.memfdCreate('x', MFD_HUGETLB | (16 << 26)));
    r('create with MFD_NOEXEC_SEAL', () => void p.memfdCreate('x', MFD_HUGETLB | MFD_NOEXEC_SEAL));
    const real = new COracle(join(here, 'memfd-hugetlb-oracle.c'));
    try {
      expect(out).toEqual(real.run().trim().split('\n'));
    } finally {
      real.dispose();
    }
    // The MAP_NORESERVE mapping is a whole huge page, and touching it is SIGBUS.
    const m = p.mmap(null, 4096, RW, MAP_SHARED | MAP_NORESERVE, fd, 0);
    expect(m.length).toBe(M2);
    expect(() => m.read8(0)).toThrow(/SIGBUS/);
  });
});
