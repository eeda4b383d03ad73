// The IOAS ioctls (drivers/iommu/iommufd/ioas.c, io_pagetable.c, pages.c, vfio_compat.c iommufd_vfio_ioas),
// each errno case with the function that returns it. No real-kernel oracle on this machine (no IOMMU, no
// /dev/iommu): the expectations are read from those sources.
import { describe, expect, it } from 'vitest';
import { Host } from '../../../../src/host.js';
import { O_RDWR } from '../../../../include-ts/linux/fcntl.js';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../../include-ts/linux/mman.js';
import { RLIMIT_MEMLOCK } from '../../../../include-ts/linux/resource.js';
import { CAP_IPC_LOCK, CAP_SYS_RESOURCE } from '../../../../include-ts/linux/capability.js';
import type { Process } from '../../../../src/linux/process.js';
import { expectErrno } from '../../../support/vfio.js';
import {
  FIXED, I, RW, U64_MAX, attach, bind, destroy, detach, ioasAlloc, ioasCopy, ioasMap, ioasUnmap, iovaRanges, openCdev, openIommufd,
} from './support.js';

const ALL_CAPS = (1n << 41n) - 1n;

function bare(opts: { caps?: bigint; memlock?: number } = {}) {
  const host = Host.create();
  const root = host.spawn();
  const p = host.spawn({
    ...(opts.caps !== undefined ? { capabilities: opts.caps } : {}),
    ...(opts.memlock !== undefined ? { rlimits: { [RLIMIT_MEMLOCK]: [opts.memlock, opts.memlock] } } : {}),
  });
  const fd = p.open('/dev/iommu', O_RDWR);
  const ioas = ioasAlloc(p, fd);
  const ram = p.mmap(null, 0x100000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as { addr: number; bytes: Uint8Array };
  return { host, root, p, fd, ioas, ram };
}

function mapRaw(p: Process, fd: number, f: Partial<{ flags: number; ioas_id: number; __reserved: number; user_va: number | bigint; length: number | bigint; iova: number | bigint }>) {
  return p.ioctl(fd, I.IOMMU_IOAS_MAP, I.iommu_ioas_map.encode({ size: I.iommu_ioas_map.size, flags: RW | FIXED, ...f }));
}

function option(p: Process, fd: number, option_id: number, op: number, object_id = 0, val64: bigint = 0n, reserved = 0): bigint {
  const b = I.iommu_option.encode({ size: 24, option_id, op, object_id, val64, __reserved: reserved });
  p.ioctl(fd, I.IOMMU_OPTION, b);
  return I.iommu_option.view(b).val64;
}

describe('IOMMU_IOAS_IOVA_RANGES (iommufd_ioas_iova_ranges)', () => {
  it('a fresh IOAS allows everything, alignment 1 (iopt_init_table: a software table)', () => {
    const { p, fd, ioas } = bare();
    expect(iovaRanges(p, fd, ioas)).toEqual({ ranges: [[0n, U64_MAX]], num: 1, align: 1n });
  });

  it('an attached VT-d device reserves the MSI window and everything past its 48-bit aperture: two ranges, 4 KiB alignment', () => {
    const o = openIommufd();
    expect(iovaRanges(o.p, o.iommufd, o.ioas)).toEqual({ ranges: [[0n, 0xfedfffffn], [0xfef00000n, 0xffffffffffffn]], num: 2, align: 4096n });
    // Detaching the last device lifts both reservations again (iopt_remove_reserved_iova, iopt_table_remove_domain).
    detach(o.p, o.dev);
    expect(iovaRanges(o.p, o.iommufd, o.ioas)).toEqual({ ranges: [[0n, U64_MAX]], num: 1, align: 1n });
  });

  it('num_iovas too small: EMSGSIZE, num_iovas set to the total, the ranges that fit copied', () => {
    const o = openIommufd();
    const buf = o.ram;
    buf.bytes.fill(0xee, 0, 32);
    const b = I.iommu_ioas_iova_ranges.encode({ size: 32, ioas_id: o.ioas, num_iovas: 1, allowed_iovas: buf.addr });
    expectErrno(() => o.p.ioctl(o.iommufd, I.IOMMU_IOAS_IOVA_RANGES, b), 'EMSGSIZE');
    const v = I.iommu_ioas_iova_ranges.view(b);
    expect(v.num_iovas).toBe(2);
    expect(v.out_iova_alignment).toBe(4096n);
    const dv = new DataView(buf.bytes.buffer, buf.bytes.byteOffset);
    expect(dv.getBigUint64(8, true)).toBe(0xfedfffffn);
    expect(buf.bytes[16]).toBe(0xee); // the second slot was not written
    // num_iovas 0 just counts.
    const c = I.iommu_ioas_iova_ranges.encode({ size: 32, ioas_id: o.ioas, num_iovas: 0 });
    expectErrno(() => o.p.ioctl(o.iommufd, I.IOMMU_IOAS_IOVA_RANGES, c), 'EMSGSIZE');
    expect(I.iommu_ioas_iova_ranges.view(c).num_iovas).toBe(2);
  });

  it('__reserved is EOPNOTSUPP, an unknown IOAS ENOENT, an unwritable array EFAULT', () => {
    const { p, fd, ioas } = bare();
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges.encode({ size: 32, ioas_id: ioas, __reserved: 1 })), 'EOPNOTSUPP');
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges.encode({ size: 32, ioas_id: 9 })), 'ENOENT');
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges.encode({ size: 32, ioas_id: ioas, num_iovas: 1, allowed_iovas: 0x1000 })), 'EFAULT');
  });
});

describe('IOMMU_IOAS_ALLOW_IOVAS (iommufd_ioas_load_iovas, iopt_set_allow_iova)', () => {
  function allow(p: Process, fd: number, ioas: number, mem: { addr: number; bytes: Uint8Array }, ranges: Array<[bigint, bigint]>) {
    const dv = new DataView(mem.bytes.buffer, mem.bytes.byteOffset);
    ranges.forEach(([s, l], i) => {
      dv.setBigUint64(i * 16, s, true);
      dv.setBigUint64(i * 16 + 8, l, true);
    });
    return p.ioctl(fd, I.IOMMU_IOAS_ALLOW_IOVAS, I.iommu_ioas_allow_iovas.encode({ size: 24, ioas_id: ioas, num_iovas: ranges.length, allowed_iovas: mem.addr }));
  }

  it('start >= last and overlapping ranges are EINVAL; an unreadable array EFAULT; __reserved EOPNOTSUPP', () => {
    const { p, fd, ioas, ram } = bare();
    const scratch = { addr: ram.addr + 0x80000, bytes: ram.bytes.subarray(0x80000) };
    expectErrno(() => allow(p, fd, ioas, scratch, [[0x1000n, 0x1000n]]), 'EINVAL');
    expectErrno(() => allow(p, fd, ioas, scratch, [[0x1000n, 0x4fffn], [0x4000n, 0x8fffn]]), 'EINVAL');
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_ALLOW_IOVAS, I.iommu_ioas_allow_iovas.encode({ size: 24, ioas_id: ioas, num_iovas: 1, allowed_iovas: 0x1000 })), 'EFAULT');
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_ALLOW_IOVAS, I.iommu_ioas_allow_iovas.encode({ size: 24, ioas_id: ioas, __reserved: 1 })), 'EOPNOTSUPP');
  });

  it('automatic IOVAs come from the allowed ranges; a reserved range inside one is EADDRINUSE (the old list stays)', () => {
    const o = openIommufd();
    const scratch = { addr: o.ram.addr + 0x300000, bytes: o.ram.bytes.subarray(0x300000) };
    allow(o.p, o.iommufd, o.ioas, scratch, [[0x4000_0000n, 0x7fff_ffffn]]);
    expect(ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x2000, 0, RW)).toBe(0x4000_0000n);
    expectErrno(() => allow(o.p, o.iommufd, o.ioas, scratch, [[0xfe00_0000n, 0xffff_ffffn]]), 'EADDRINUSE');
    expect(ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x2000, 0, RW)).toBe(0x4000_2000n);
  });

  it('an allowed range over the MSI window makes the attach fail with EADDRINUSE (iopt_reserve_iova)', () => {
    const o = openIommufd({ attach: false });
    const scratch = { addr: o.ram.addr, bytes: o.ram.bytes };
    allow(o.p, o.iommufd, o.ioas, scratch, [[0xfe00_0000n, 0xffff_ffffn]]);
    expectErrno(() => attach(o.p, o.dev, o.ioas), 'EADDRINUSE');
    allow(o.p, o.iommufd, o.ioas, scratch, []);
    expect(attach(o.p, o.dev, o.ioas)).toBe(3); // the failed attach's HWPT id was given back
  });
});

describe('IOMMU_IOAS_MAP (iommufd_ioas_map, iopt_map_user_pages)', () => {
  it('flag and field checks in order: EOPNOTSUPP, EOVERFLOW, EINVAL, ENOENT', () => {
    const { p, fd, ioas, ram } = bare();
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, flags: 8, user_va: ram.addr, length: 0x1000 }), 'EOPNOTSUPP');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, __reserved: 1, user_va: ram.addr, length: 0x1000 }), 'EOPNOTSUPP');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, user_va: ram.addr, length: U64_MAX }), 'EOVERFLOW');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, user_va: ram.addr, length: 0x1000, iova: U64_MAX }), 'EOVERFLOW');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, flags: FIXED, user_va: ram.addr, length: 0x1000 }), 'EINVAL');
    expectErrno(() => mapRaw(p, fd, { ioas_id: 7, user_va: ram.addr, length: 0x1000 }), 'ENOENT');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, user_va: ram.addr, length: 0 }), 'EINVAL');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, user_va: U64_MAX - 0xfffn, length: 0x2000 }), 'EOVERFLOW');
  });

  it('a length within a page of U64_MAX: user_va + length wrapping is EOVERFLOW before the size check, else EINVAL', () => {
    // pages.c iopt_alloc_user_pages() (6.13+, since MAP_FILE split it from iopt_alloc_pages()): the
    // check_add_overflow(uptr, length) comes first (EOVERFLOW), then iopt_alloc_pages()'s
    // length > SIZE_MAX - PAGE_SIZE (EINVAL).
    const { p, fd, ioas, ram } = bare();
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, user_va: ram.addr, length: U64_MAX - 1n }), 'EOVERFLOW');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, user_va: ram.addr, length: U64_MAX - 0x800n }), 'EOVERFLOW');
    expectErrno(() => mapRaw(p, fd, { ioas_id: ioas, user_va: 0, length: U64_MAX - 1n }), 'EINVAL');
  });

  it('FIXED_IOVA: an overlap is EEXIST, a reserved range EINVAL; after attach iova, length and the page offset need 4 KiB alignment', () => {
    const o = openIommufd();
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x2000, 0x100000);
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x101000), 'EEXIST');
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0xfee00000), 'EINVAL');
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x1_0000_0000_0000n), 'EINVAL');
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x200800), 'EINVAL');
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x800, 0x200000), 'EINVAL');
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr + 0x800, 0x1000, 0x200000), 'EINVAL');
  });

  it('without a domain any alignment and any u64 IOVA maps (nothing is pinned yet)', () => {
    const { p, fd, ioas, ram } = bare();
    expect(ioasMap(p, fd, ioas, ram.addr + 3, 5, 0xffff_ffff_0000_0001n)).toBe(0xffff_ffff_0000_0001n);
    expect(ioasUnmap(p, fd, ioas, 0xffff_ffff_0000_0001n, 5)).toBe(5n);
  });

  it('automatic IOVA: never 0, first fit from PAGE_SIZE, aligned to min(roundup_pow_of_two(length), the user address alignment)', () => {
    const { p, fd, ioas, ram } = bare();
    const a = ioasMap(p, fd, ioas, ram.addr, 0x3000, 0, RW);
    expect(a).toBe(0x4000n); // roundup_pow_of_two(0x3000) = 0x4000, the mmap address is 16 KiB aligned or better
    const b = ioasMap(p, fd, ioas, ram.addr + 0x1000, 0x1000, 0, RW);
    expect(b).toBe(0x1000n);
    const c = ioasMap(p, fd, ioas, ram.addr + 0x10, 0x10, 0, RW);
    expect(c).toBe(0x2010n); // keeps the page offset (| page_offset)
  });

  it('with a domain the user memory is pinned at once: unmapped memory is EFAULT and nothing stays mapped', () => {
    const o = openIommufd();
    o.p.munmap(o.ram.addr + 0x1000, 0x1000);
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x2000, 0x100000), 'EFAULT');
    expect(ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x100000)).toBe(0x100000n);
  });

  it('a writeable mapping of read-only memory is EFAULT (pin_user_pages FOLL_WRITE); a readable one maps', () => {
    const o = openIommufd();
    const ro = o.p.mmap(null, 0x1000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expectErrno(() => ioasMap(o.p, o.iommufd, o.ioas, ro.addr, 0x1000, 0x100000), 'EFAULT');
    ioasMap(o.p, o.iommufd, o.ioas, ro.addr, 0x1000, 0x100000, FIXED | I.IOMMU_IOAS_MAP_READABLE);
  });

  it('without a domain a bad user address maps, and the attach that would pin it fails with EFAULT (iopt_fill_domain)', () => {
    const o = openIommufd({ attach: false });
    ioasMap(o.p, o.iommufd, o.ioas, 0x1000_0000, 0x1000, 0x100000);
    expectErrno(() => attach(o.p, o.dev, o.ioas), 'EFAULT');
    expect(ioasUnmap(o.p, o.iommufd, o.ioas, 0x100000, 0x1000)).toBe(0x1000n);
    attach(o.p, o.dev, o.ioas);
  });
});

describe('pinned page accounting (pages.c do_update_pinned, IOMMU_OPTION_RLIMIT_MODE)', () => {
  const NO_IPC_LOCK = ALL_CAPS & ~(1n << BigInt(CAP_IPC_LOCK));

  function vmm(memlock: number, caps = NO_IPC_LOCK) {
    const host = Host.create();
    const root = host.spawn();
    const q = host.spawn({ capabilities: caps, rlimits: { [RLIMIT_MEMLOCK]: [memlock, memlock] } });
    const iommufd = q.open('/dev/iommu', O_RDWR);
    const dev = openCdev(root, undefined);
    root.close(dev);
    const qdev = q.open('/dev/vfio/devices/vfio0', O_RDWR);
    bind(q, qdev, iommufd);
    const ioas = ioasAlloc(q, iommufd);
    attach(q, qdev, ioas);
    const ram = q.mmap(null, 0x40000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return { host, q, iommufd, dev: qdev, ioas, ram, users: host.kernel.iommufd.userLockedVm };
  }

  it('by default pages are charged to the user (user->locked_vm), not the mm; past RLIMIT_MEMLOCK is ENOMEM with nothing charged', () => {
    const { q, iommufd, ioas, ram, users } = vmm(0x10000);
    ioasMap(q, iommufd, ioas, ram.addr, 0x8000, 0x100000);
    expect(users.get(0)).toBe(8);
    expect(q.mm.lockedVm).toBe(0);
    expectErrno(() => ioasMap(q, iommufd, ioas, ram.addr + 0x8000, 0x9000, 0x200000), 'ENOMEM');
    expect(users.get(0)).toBe(8);
    ioasMap(q, iommufd, ioas, ram.addr + 0x8000, 0x8000, 0x200000);
    expect(users.get(0)).toBe(16);
    expect(ioasUnmap(q, iommufd, ioas, 0, U64_MAX)).toBe(0x10000n);
    expect(users.get(0)).toBe(0);
  });

  it('a fault while pinning is EFAULT even past RLIMIT_MEMLOCK: an area is charged once all of it is pinned', () => {
    // pages.c iopt_area_fill_domains(): pfn_reader_next() pins the whole area (pfn_reader_user_pin() only
    // counts npinned) and fails on the first unpinnable page; do_update_pinned()'s RLIMIT_MEMLOCK check
    // comes after the loop (pfn_reader_update_pinned()), so a fault wins over the limit.
    const { q, iommufd, ioas, ram, users } = vmm(0x4000);
    q.munmap(ram.addr + 0x7000, 0x1000);
    expectErrno(() => ioasMap(q, iommufd, ioas, ram.addr, 0x8000, 0x100000), 'EFAULT');
    expect(users.get(0) ?? 0).toBe(0);
    // The limit alone is ENOMEM.
    expectErrno(() => ioasMap(q, iommufd, ioas, ram.addr, 0x7000, 0x100000), 'ENOMEM');
    expect(users.get(0) ?? 0).toBe(0);
  });

  it('IOAS_COPY shares the pages: pinned and charged once, released with the last area', () => {
    const { q, iommufd, ioas, ram, users } = vmm(0x10000);
    ioasMap(q, iommufd, ioas, ram.addr, 0x8000, 0x100000);
    ioasCopy(q, iommufd, ioas, ioas, 0x100000, 0x8000, 0x800000);
    expect(users.get(0)).toBe(8);
    ioasUnmap(q, iommufd, ioas, 0x100000, 0x8000);
    expect(users.get(0)).toBe(8);
    ioasUnmap(q, iommufd, ioas, 0x800000, 0x8000);
    expect(users.get(0)).toBe(0);
  });

  it('CAP_IPC_LOCK at map time: not charged (IOPT_PAGES_ACCOUNT_NONE)', () => {
    const { q, iommufd, ioas, ram, users } = vmm(0x1000, ALL_CAPS);
    ioasMap(q, iommufd, ioas, ram.addr, 0x8000, 0x100000);
    expect(users.get(0) ?? 0).toBe(0);
  });

  it('RLIMIT_MODE 1 charges mm->locked_vm instead (as VFIO type1 does); the mode changes only while the context is empty', () => {
    const host = Host.create();
    const p = host.spawn({ capabilities: NO_IPC_LOCK });
    const fd = p.open('/dev/iommu', O_RDWR);
    expect(option(p, fd, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_GET)).toBe(0n);
    option(p, fd, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_SET, 0, 1n);
    expect(option(p, fd, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_GET)).toBe(1n);
    const root = host.spawn();
    root.close(openCdev(root));
    const qdev = p.open('/dev/vfio/devices/vfio0', O_RDWR);
    bind(p, qdev, fd);
    expectErrno(() => option(p, fd, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_SET, 0, 0n), 'EBUSY');
    const ioas = ioasAlloc(p, fd);
    attach(p, qdev, ioas);
    const ram = p.mmap(null, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ioasMap(p, fd, ioas, ram.addr, 0x4000, 0x100000);
    expect(p.mm.lockedVm).toBe(4);
    expect(host.kernel.iommufd.userLockedVm.get(0) ?? 0).toBe(0);
  });

  it('RLIMIT_MODE: SET needs CAP_SYS_RESOURCE (EPERM), values 0/1 (EINVAL), object_id 0 and a known op (EOPNOTSUPP)', () => {
    const { p, fd } = bare({ caps: ALL_CAPS & ~(1n << BigInt(CAP_SYS_RESOURCE)) });
    destroy(p, fd, 1);
    expectErrno(() => option(p, fd, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_SET, 0, 1n), 'EPERM');
    const r = Host.create().spawn();
    const fd2 = r.open('/dev/iommu', O_RDWR);
    expectErrno(() => option(r, fd2, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_SET, 0, 2n), 'EINVAL');
    expectErrno(() => option(r, fd2, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_GET, 1), 'EOPNOTSUPP');
    expectErrno(() => option(r, fd2, I.IOMMU_OPTION_RLIMIT_MODE, 2), 'EOPNOTSUPP');
    expectErrno(() => option(r, fd2, 7, I.IOMMU_OPTION_OP_GET), 'EOPNOTSUPP');
    expectErrno(() => option(r, fd2, I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_OP_GET, 0, 0n, 1), 'EOPNOTSUPP');
  });
});

describe('IOMMU_OPTION_HUGE_PAGES (iommufd_ioas_option_huge_pages)', () => {
  it('GET is 1 by default; SET 0 makes the alignment PAGE_SIZE; an unaligned area makes it EADDRINUSE; an unknown IOAS ENOENT', () => {
    const { p, fd, ioas, ram } = bare();
    expect(option(p, fd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_GET, ioas)).toBe(1n);
    expectErrno(() => option(p, fd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_GET, 9), 'ENOENT');
    ioasMap(p, fd, ioas, ram.addr, 0x800, 0x100000);
    expectErrno(() => option(p, fd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_SET, ioas, 0n), 'EADDRINUSE');
    ioasUnmap(p, fd, ioas, 0, U64_MAX);
    option(p, fd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_SET, ioas, 0n);
    expect(option(p, fd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_GET, ioas)).toBe(0n);
    expect(iovaRanges(p, fd, ioas).align).toBe(4096n);
    expectErrno(() => option(p, fd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_SET, ioas, 2n), 'EINVAL');
    option(p, fd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_SET, ioas, 1n);
    expect(iovaRanges(p, fd, ioas).align).toBe(1n);
  });

  it('disabling with a domain that already has pages mapped is EINVAL (iopt_disable_large_pages)', () => {
    const o = openIommufd();
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x100000);
    expectErrno(() => option(o.p, o.iommufd, I.IOMMU_OPTION_HUGE_PAGES, I.IOMMU_OPTION_OP_SET, o.ioas, 0n), 'EINVAL');
  });
});

describe('IOMMU_IOAS_UNMAP (iommufd_ioas_unmap, iopt_unmap_iova_range)', () => {
  it('iova 0 + length U64_MAX unmaps everything (an empty IOAS too: 0 bytes); other U64_MAX values are EOVERFLOW; length 0 EINVAL', () => {
    const { p, fd, ioas, ram } = bare();
    expect(ioasUnmap(p, fd, ioas, 0, U64_MAX)).toBe(0n);
    ioasMap(p, fd, ioas, ram.addr, 0x1000, 0x1000);
    ioasMap(p, fd, ioas, ram.addr, 0x2000, 0x10000);
    expect(ioasUnmap(p, fd, ioas, 0, U64_MAX)).toBe(0x3000n);
    expectErrno(() => ioasUnmap(p, fd, ioas, 0x1000, U64_MAX), 'EOVERFLOW');
    expectErrno(() => ioasUnmap(p, fd, ioas, U64_MAX, 1), 'EOVERFLOW');
    expectErrno(() => ioasUnmap(p, fd, ioas, 0x1000, 0), 'EINVAL');
    expectErrno(() => ioasUnmap(p, fd, ioas, 0xffff_ffff_ffff_f000n, 0x2000), 'EOVERFLOW');
    expectErrno(() => ioasUnmap(p, fd, 5, 0, U64_MAX), 'ENOENT');
  });

  it('only whole areas: nothing in range or a cut mapping is ENOENT; a superset returns the bytes of the areas inside', () => {
    const { p, fd, ioas, ram } = bare();
    ioasMap(p, fd, ioas, ram.addr, 0x2000, 0x10000);
    ioasMap(p, fd, ioas, ram.addr, 0x2000, 0x20000);
    expectErrno(() => ioasUnmap(p, fd, ioas, 0x40000, 0x1000), 'ENOENT');
    expectErrno(() => ioasUnmap(p, fd, ioas, 0x11000, 0x1000), 'ENOENT');
    expect(ioasUnmap(p, fd, ioas, 0, 0x100000)).toBe(0x4000n);
  });

  it('a range whose later area is cut: the areas before it are already unmapped when ENOENT comes back (the kernel loop)', () => {
    const { p, fd, ioas, ram } = bare();
    ioasMap(p, fd, ioas, ram.addr, 0x2000, 0x10000);
    ioasMap(p, fd, ioas, ram.addr, 0x2000, 0x20000);
    const b = I.iommu_ioas_unmap.encode({ size: 24, ioas_id: ioas, iova: 0x10000, length: 0x11000 });
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_UNMAP, b), 'ENOENT');
    expect(I.iommu_ioas_unmap.view(b).length).toBe(0x11000n); // not written back
    expectErrno(() => ioasUnmap(p, fd, ioas, 0x10000, 0x2000), 'ENOENT');
    expect(ioasUnmap(p, fd, ioas, 0x20000, 0x2000)).toBe(0x2000n);
  });
});

describe('IOMMU_IOAS_COPY (iommufd_ioas_copy, iopt_get_pages)', () => {
  it('copies a contiguous source range (a sub-range of areas too) into another IOAS; gaps are ENOENT', () => {
    const o = openIommufd();
    const src = ioasAlloc(o.p, o.iommufd);
    ioasMap(o.p, o.iommufd, src, o.ram.addr, 0x2000, 0x10000);
    ioasMap(o.p, o.iommufd, src, o.ram.addr + 0x2000, 0x2000, 0x12000);
    ioasMap(o.p, o.iommufd, src, o.ram.addr, 0x1000, 0x20000);
    expect(ioasCopy(o.p, o.iommufd, o.ioas, src, 0x11000, 0x2000, 0x300000)).toBe(0x300000n);
    o.ram.bytes[0x1008] = 0x5a;
    o.ram.bytes[0x2008] = 0xa5;
    const buf = new Uint8Array(1);
    const edu = o.host.control.pci.edu();
    expect(edu.dmaRead(0x300008, buf)).toBe(true);
    expect(buf[0]).toBe(0x5a);
    expect(edu.dmaRead(0x301008, buf)).toBe(true);
    expect(buf[0]).toBe(0xa5);
    expectErrno(() => ioasCopy(o.p, o.iommufd, o.ioas, src, 0x13000, 0x2000, 0x400000), 'ENOENT');
    expectErrno(() => ioasCopy(o.p, o.iommufd, o.ioas, src, 0x8000, 0x1000, 0x400000), 'ENOENT');
  });

  it('a copy of pages the process dropped after they were pinned maps the pinned pages, not the process\'s new ones (pfn_reader_fill_span)', () => {
    const o = openIommufd();
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x10000);
    o.ram.bytes.fill(0xaa, 0, 0x1000);
    o.p.madvise(o.ram.addr, 0x1000, MADV_DONTNEED);
    o.ram.bytes[0] = 0x11;
    expect(ioasCopy(o.p, o.iommufd, o.ioas, o.ioas, 0x10000, 0x1000, 0x20000)).toBe(0x20000n);
    const edu = o.host.control.pci.edu();
    const buf = new Uint8Array(1);
    for (const iova of [0x10000, 0x20000]) {
      expect(edu.dmaRead(iova, buf)).toBe(true);
      expect(buf[0]).toBe(0xaa);
    }
  });

  it('flag checks (EOPNOTSUPP, EOVERFLOW, EINVAL), source then destination ENOENT, WRITEABLE over read-only pages EPERM', () => {
    const { p, fd, ioas, ram } = bare();
    const dst = ioasAlloc(p, fd);
    ioasMap(p, fd, ioas, ram.addr, 0x1000, 0x1000, FIXED | I.IOMMU_IOAS_MAP_READABLE);
    expectErrno(() => ioasCopy(p, fd, dst, ioas, 0x1000, 0x1000, 0, RW | 0x10), 'EOPNOTSUPP');
    expectErrno(() => ioasCopy(p, fd, dst, ioas, 0x1000, U64_MAX), 'EOVERFLOW');
    expectErrno(() => ioasCopy(p, fd, dst, ioas, 0x1000, 0x1000, 0, FIXED), 'EINVAL');
    expectErrno(() => ioasCopy(p, fd, dst, 9, 0x1000, 0x1000), 'ENOENT');
    expectErrno(() => ioasCopy(p, fd, 9, ioas, 0x1000, 0x1000), 'ENOENT');
    expectErrno(() => ioasCopy(p, fd, dst, ioas, 0x1000, 0x1000, 0x5000), 'EPERM');
    expect(ioasCopy(p, fd, dst, ioas, 0x1000, 0x1000, 0x5000, FIXED | I.IOMMU_IOAS_MAP_READABLE)).toBe(0x5000n);
  });
});

describe('IOMMU_VFIO_IOAS (vfio_compat.c iommufd_vfio_ioas)', () => {
  function vfioIoas(p: Process, fd: number, op: number, ioas_id = 0, reserved = 0): number {
    const b = I.iommu_vfio_ioas.encode({ size: 12, op, ioas_id, __reserved: reserved });
    p.ioctl(fd, I.IOMMU_VFIO_IOAS, b);
    return I.iommu_vfio_ioas.view(b).ioas_id;
  }

  it('GET without one is ENODEV; SET needs an IOAS (ENOENT); CLEAR; destroying the IOAS clears it; other ops EOPNOTSUPP', () => {
    const { p, fd, ioas } = bare();
    expectErrno(() => vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_GET), 'ENODEV');
    expectErrno(() => vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_SET, 5), 'ENOENT');
    vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_SET, ioas);
    expect(vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_GET)).toBe(ioas);
    vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_CLEAR);
    expectErrno(() => vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_GET), 'ENODEV');
    vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_SET, ioas);
    destroy(p, fd, ioas);
    expectErrno(() => vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_GET), 'ENODEV');
    expectErrno(() => vfioIoas(p, fd, 3), 'EOPNOTSUPP');
    expectErrno(() => vfioIoas(p, fd, I.IOMMU_VFIO_IOAS_CLEAR, 0, 1), 'EOPNOTSUPP');
  });
});
