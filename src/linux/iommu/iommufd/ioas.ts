// drivers/iommu/iommufd/ioas.c (+ vfio_compat.c's iommufd_vfio_ioas): the IOAS object and its ioctls,
// in the kernel's check order (each handler's comment names its function):
//  IOMMU_IOAS_ALLOC        flags -> EOPNOTSUPP
//  IOMMU_IOAS_IOVA_RANGES  __reserved -> EOPNOTSUPP; ioas -> ENOENT; copies ranges as space permits (EFAULT),
//                          responds, then EMSGSIZE when num_iovas was too small (num_iovas = the total)
//  IOMMU_IOAS_ALLOW_IOVAS  __reserved; ioas; each range: EFAULT, start >= last or overlap -> EINVAL;
//                          a reserved range inside -> EADDRINUSE; the old list stays on failure
//  IOMMU_IOAS_MAP          flags/__reserved -> EOPNOTSUPP; iova or length U64_MAX -> EOVERFLOW; neither
//                          READABLE nor WRITEABLE -> EINVAL; ioas -> ENOENT; then io_pagetable.ts
//  IOMMU_IOAS_COPY         flags; lengths/iovas U64_MAX -> EOVERFLOW; no R/W -> EINVAL; src ioas; the source
//                          range must be contiguously mapped (ENOENT, any sub-range of areas will do);
//                          dst ioas; WRITEABLE over pages mapped read-only -> EPERM
//  IOMMU_IOAS_UNMAP        ioas; iova 0 + length U64_MAX unmaps all (empty is fine); else U64_MAX ->
//                          EOVERFLOW, length 0 -> EINVAL, only whole areas (ENOENT); length = bytes unmapped
//  IOMMU_OPTION            __reserved; RLIMIT_MODE (object_id 0, SET needs CAP_SYS_RESOURCE and no objects:
//                          EPERM/EBUSY, values 0/1) or HUGE_PAGES (per IOAS); other ids/ops EOPNOTSUPP
//  IOMMU_VFIO_IOAS         __reserved; GET (ENODEV when none), SET (ENOENT), CLEAR; other ops EOPNOTSUPP

import { getU16, getU32, getU64, setU32, setU64 } from '../../../../abi/bytes.js';
import { kerr } from '../../errors.js';
import { copyFromUser, copyToUser } from '../../uaccess.js';
import { CAP_SYS_RESOURCE } from '../../../../include-ts/linux/capability.js';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET, IOMMU_OPTION_RLIMIT_MODE, IOMMU_VFIO_IOAS_CLEAR, IOMMU_VFIO_IOAS_GET, IOMMU_VFIO_IOAS_SET,
  iommu_ioas_alloc, iommu_ioas_copy, iommu_ioas_iova_ranges, iommu_ioas_map, iommu_ioas_unmap, iommu_vfio_ioas,
} from '../../../../include-ts/linux/iommufd.js';
import { IOMMU_READ, IOMMU_WRITE } from '../../../hw/iommu/domain.js';
import { IoPagetable, IoptPages, IOPT_PAGES_ACCOUNT_MM, IOPT_PAGES_ACCOUNT_USER, PAGE_SIZE, ULONG_MAX } from './io-pagetable.js';
import { respond, type IommufdCtx, type Ucmd } from './main.js';
import type { IommufdHwpt } from './device.js';

const MAP_FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** struct iommufd_ioas */
export class IommufdIoas {
  readonly type = 'ioas' as const;
  /** The xarray's reference plus one per HWPT on this IOAS. */
  users = 1;
  readonly iopt: IoPagetable;
  /** ioas->hwpt_list */
  readonly hwpts: IommufdHwpt[] = [];

  constructor(
    readonly id: number,
    ictx: IommufdCtx,
  ) {
    this.iopt = new IoPagetable(ictx.userLockedVm, ictx.kernel.pins);
  }

  /** iommufd_ioas_destroy(): unmaps (and unpins) everything. */
  destroy(): void {
    this.iopt.unmapAll();
    this.iopt.dispose();
  }
}

function getIoas(u: Ucmd, id: number): IommufdIoas {
  return u.ictx.get<IommufdIoas>(id, 'ioas', 'IOAS');
}

/** conv_iommu_prot() (IOMMU_CACHE is implied: every domain here is coherent). */
function convProt(flags: number): number {
  return (flags & IOMMU_IOAS_MAP_WRITEABLE ? IOMMU_WRITE : 0) | (flags & IOMMU_IOAS_MAP_READABLE ? IOMMU_READ : 0);
}

/** iommufd_ioas_alloc_ioctl() */
export function ioasAlloc(u: Ucmd): number {
  const flags = getU32(u.cmd, 4);
  if (flags) throw kerr('EOPNOTSUPP', `IOMMU_IOAS_ALLOC: flags 0x${flags.toString(16)} must be 0`);
  const id = u.ictx.allocId();
  setU32(u.cmd, iommu_ioas_alloc.offsetof('out_ioas_id'), id);
  respond(u, iommu_ioas_alloc.size);
  u.ictx.finalize(new IommufdIoas(id, u.ictx));
  return 0;
}

/** iommufd_ioas_iova_ranges() */
export function ioasIovaRanges(u: Ucmd): number {
  const L = iommu_ioas_iova_ranges;
  if (getU32(u.cmd, L.offsetof('__reserved'))) throw kerr('EOPNOTSUPP', 'IOMMU_IOAS_IOVA_RANGES: __reserved must be 0');
  const ioas = getIoas(u, getU32(u.cmd, L.offsetof('ioas_id')));
  const max = getU32(u.cmd, L.offsetof('num_iovas'));
  const ptr = Number(getU64(u.cmd, L.offsetof('allowed_iovas')));
  const ranges = ioas.iopt.iovaRanges();
  setU64(u.cmd, L.offsetof('out_iova_alignment'), ioas.iopt.iovaAlignment);
  let n = 0;
  for (const r of ranges) {
    if (n < max) {
      const elm = new Uint8Array(16);
      setU64(elm, 0, r.start);
      setU64(elm, 8, r.last);
      if (copyToUser(u.proc.mm, ptr + n * 16, elm)) throw kerr('EFAULT', `allowed_iovas[${n}] at ${hex(ptr + n * 16)} is not writable user memory`);
    }
    n++;
  }
  setU32(u.cmd, L.offsetof('num_iovas'), n);
  respond(u, L.size);
  if (n > max) throw kerr('EMSGSIZE', `the IOAS has ${n} IOVA ranges but num_iovas was ${max} (num_iovas now holds ${n})`);
  return 0;
}

/** iommufd_ioas_allow_iovas() + iommufd_ioas_load_iovas() */
export function ioasAllowIovas(u: Ucmd): number {
  if (getU32(u.cmd, 12)) throw kerr('EOPNOTSUPP', 'IOMMU_IOAS_ALLOW_IOVAS: __reserved must be 0');
  const ioas = getIoas(u, getU32(u.cmd, 4));
  const num = getU32(u.cmd, 8);
  const ptr = Number(getU64(u.cmd, 16));
  const list: Array<{ start: bigint; last: bigint }> = [];
  for (let i = 0; i < num; i++) {
    const b = new Uint8Array(16);
    if (copyFromUser(u.proc.mm, b, ptr + i * 16)) throw kerr('EFAULT', `allowed_iovas[${i}] at ${hex(ptr + i * 16)} is not readable user memory`);
    const start = getU64(b, 0);
    const last = getU64(b, 8);
    if (start >= last) throw kerr('EINVAL', `allowed_iovas[${i}]: start ${hex(start)} is not below last ${hex(last)}`);
    const o = list.find((x) => x.start <= last && start <= x.last);
    if (o) throw kerr('EINVAL', `allowed_iovas[${i}] [${hex(start)}, ${hex(last)}] overlaps [${hex(o.start)}, ${hex(o.last)}]`);
    list.push({ start, last });
  }
  ioas.iopt.setAllowed(list);
  return 0;
}

/** iommufd_ioas_map() + iopt_map_user_pages() */
export function ioasMap(u: Ucmd): number {
  const L = iommu_ioas_map;
  const flags = getU32(u.cmd, L.offsetof('flags'));
  if (flags & ~MAP_FLAGS || getU32(u.cmd, L.offsetof('__reserved'))) {
    throw kerr('EOPNOTSUPP', flags & ~MAP_FLAGS ? `IOMMU_IOAS_MAP: unknown flags 0x${(flags & ~MAP_FLAGS).toString(16)}` : 'IOMMU_IOAS_MAP: __reserved must be 0');
  }
  const uva = getU64(u.cmd, L.offsetof('user_va'));
  const length = getU64(u.cmd, L.offsetof('length'));
  const iova = getU64(u.cmd, L.offsetof('iova'));
  if (iova >= ULONG_MAX || length >= ULONG_MAX) throw kerr('EOVERFLOW', `iova ${hex(iova)} or length ${hex(length)} is U64_MAX`);
  if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) throw kerr('EINVAL', 'IOMMU_IOAS_MAP needs IOMMU_IOAS_MAP_READABLE and/or IOMMU_IOAS_MAP_WRITEABLE');
  const ioas = getIoas(u, getU32(u.cmd, L.offsetof('ioas_id')));
  // iopt_alloc_user_pages(): the end address first, then iopt_alloc_pages()'s size check.
  if (uva + length > ULONG_MAX) throw kerr('EOVERFLOW', `user_va ${hex(uva)} + length ${hex(length)} wraps past 2^64`);
  if (length > ULONG_MAX - PAGE_SIZE || length === 0n) throw kerr('EINVAL', length === 0n ? 'length is 0' : `length ${hex(length)} is too large`);
  const prot = convProt(flags);
  const pages = new IoptPages(uva, length, (prot & IOMMU_WRITE) !== 0, u.proc);
  if (u.ictx.accountMode === IOPT_PAGES_ACCOUNT_MM && pages.accountMode === IOPT_PAGES_ACCOUNT_USER) pages.accountMode = IOPT_PAGES_ACCOUNT_MM;
  const at = ioas.iopt.mapPages([{ pages, startByte: uva - pages.uptr, length }], length, iova, prot, !(flags & IOMMU_IOAS_MAP_FIXED_IOVA));
  setU64(u.cmd, L.offsetof('iova'), at);
  respond(u, L.size);
  return 0;
}

/** iommufd_ioas_copy() */
export function ioasCopy(u: Ucmd): number {
  const L = iommu_ioas_copy;
  const flags = getU32(u.cmd, L.offsetof('flags'));
  if (flags & ~MAP_FLAGS) throw kerr('EOPNOTSUPP', `IOMMU_IOAS_COPY: unknown flags 0x${(flags & ~MAP_FLAGS).toString(16)}`);
  const length = getU64(u.cmd, L.offsetof('length'));
  const dstIova = getU64(u.cmd, L.offsetof('dst_iova'));
  const srcIova = getU64(u.cmd, L.offsetof('src_iova'));
  if (length >= ULONG_MAX || srcIova >= ULONG_MAX || dstIova >= ULONG_MAX) throw kerr('EOVERFLOW', 'length, src_iova or dst_iova is U64_MAX');
  if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) throw kerr('EINVAL', 'IOMMU_IOAS_COPY needs IOMMU_IOAS_MAP_READABLE and/or IOMMU_IOAS_MAP_WRITEABLE');
  const src = u.ictx.get<IommufdIoas>(getU32(u.cmd, L.offsetof('src_ioas_id')), 'ioas', 'source IOAS');
  const slices = src.iopt.getPages(srcIova, length);
  const dst = u.ictx.get<IommufdIoas>(getU32(u.cmd, L.offsetof('dst_ioas_id')), 'ioas', 'destination IOAS');
  const at = dst.iopt.mapPages(slices, length, dstIova, convProt(flags), !(flags & IOMMU_IOAS_MAP_FIXED_IOVA));
  setU64(u.cmd, L.offsetof('dst_iova'), at);
  respond(u, L.size);
  return 0;
}

/** iommufd_ioas_unmap() + iopt_unmap_iova() / iopt_unmap_all() */
export function ioasUnmap(u: Ucmd): number {
  const L = iommu_ioas_unmap;
  const ioas = getIoas(u, getU32(u.cmd, L.offsetof('ioas_id')));
  const iova = getU64(u.cmd, L.offsetof('iova'));
  const length = getU64(u.cmd, L.offsetof('length'));
  let unmapped: bigint;
  if (iova === 0n && length === ULONG_MAX) {
    unmapped = ioas.iopt.unmapAll();
  } else {
    if (iova >= ULONG_MAX || length >= ULONG_MAX) throw kerr('EOVERFLOW', `iova ${hex(iova)} or length ${hex(length)} is U64_MAX (only iova 0 with length U64_MAX means everything)`);
    if (!length) throw kerr('EINVAL', 'length is 0');
    if (iova + length - 1n > ULONG_MAX) throw kerr('EOVERFLOW', `iova ${hex(iova)} + length ${hex(length)} wraps past 2^64`);
    unmapped = ioas.iopt.unmapRange(iova, iova + length - 1n);
  }
  setU64(u.cmd, L.offsetof('length'), unmapped);
  respond(u, L.size);
  return 0;
}

/** iommufd_option() with iommufd_option_rlimit_mode() and iommufd_ioas_option() */
export function iommufdOption(u: Ucmd): number {
  const option = getU32(u.cmd, 4);
  const opc = getU16(u.cmd, 8);
  const objectId = getU32(u.cmd, 12);
  const val = getU64(u.cmd, 16);
  if (getU16(u.cmd, 10)) throw kerr('EOPNOTSUPP', 'IOMMU_OPTION: __reserved must be 0');
  const ictx = u.ictx;
  let out = val;
  if (option === IOMMU_OPTION_RLIMIT_MODE) {
    if (objectId) throw kerr('EOPNOTSUPP', 'IOMMU_OPTION_RLIMIT_MODE is global: object_id must be 0');
    if (opc === IOMMU_OPTION_OP_GET) {
      out = ictx.accountMode === IOPT_PAGES_ACCOUNT_MM ? 1n : 0n;
    } else if (opc === IOMMU_OPTION_OP_SET) {
      if (!u.proc.capable(CAP_SYS_RESOURCE)) throw kerr('EPERM', 'changing IOMMU_OPTION_RLIMIT_MODE needs CAP_SYS_RESOURCE');
      if (ictx.objects.size) throw kerr('EBUSY', `IOMMU_OPTION_RLIMIT_MODE can only change while the iommufd has no objects (it has ${ictx.objects.size})`);
      if (val === 0n) ictx.accountMode = IOPT_PAGES_ACCOUNT_USER;
      else if (val === 1n) ictx.accountMode = IOPT_PAGES_ACCOUNT_MM;
      else throw kerr('EINVAL', `IOMMU_OPTION_RLIMIT_MODE: value ${val} is neither 0 (per user) nor 1 (per process)`);
    } else {
      throw kerr('EOPNOTSUPP', `IOMMU_OPTION: op ${opc} is neither IOMMU_OPTION_OP_SET nor IOMMU_OPTION_OP_GET`);
    }
  } else if (option === IOMMU_OPTION_HUGE_PAGES) {
    const ioas = getIoas(u, objectId);
    if (opc === IOMMU_OPTION_OP_GET) {
      out = ioas.iopt.disableLargePages ? 0n : 1n;
    } else if (opc === IOMMU_OPTION_OP_SET) {
      if (val !== 0n && val !== 1n) throw kerr('EINVAL', `IOMMU_OPTION_HUGE_PAGES: value ${val} is neither 0 nor 1`);
      ioas.iopt.setLargePages(val === 1n);
    } else {
      throw kerr('EOPNOTSUPP', `IOMMU_OPTION: op ${opc} is neither IOMMU_OPTION_OP_SET nor IOMMU_OPTION_OP_GET`);
    }
  } else {
    throw kerr('EOPNOTSUPP', `IOMMU_OPTION: unknown option_id ${option}`);
  }
  // Only val64 is copied back.
  if (u.userSize < 24) throw kerr('EFAULT', 'val64 is outside the user struct');
  setU64(u.user, 16, out);
  return 0;
}

/** iommufd_vfio_ioas() (vfio_compat.c) */
export function iommufdVfioIoas(u: Ucmd): number {
  const L = iommu_vfio_ioas;
  if (getU16(u.cmd, L.offsetof('__reserved'))) throw kerr('EOPNOTSUPP', 'IOMMU_VFIO_IOAS: __reserved must be 0');
  const opc = getU16(u.cmd, L.offsetof('op'));
  const ictx = u.ictx;
  switch (opc) {
    case IOMMU_VFIO_IOAS_GET:
      if (!ictx.vfioIoas) throw kerr('ENODEV', 'no IOAS is set for VFIO compatibility (IOMMU_VFIO_IOAS_SET first)');
      setU32(u.cmd, L.offsetof('ioas_id'), ictx.vfioIoas.id);
      respond(u, L.size);
      return 0;
    case IOMMU_VFIO_IOAS_SET:
      ictx.vfioIoas = getIoas(u, getU32(u.cmd, L.offsetof('ioas_id')));
      return 0;
    case IOMMU_VFIO_IOAS_CLEAR:
      ictx.vfioIoas = null;
      return 0;
    default:
      throw kerr('EOPNOTSUPP', `IOMMU_VFIO_IOAS: unknown op ${opc}`);
  }
}
