// fs/hugetlbfs/inode.c as memfd_create(MFD_HUGETLB) reaches it (hugetlb_file_setup() on the internal
// hugetlbfs mount of the page size asked for), on a machine with no huge pages reserved: this one has
// vm.nr_hugepages 0 and the 2 MiB and 1 GiB page sizes (measured). The file is a memfd in every other
// respect (mm/memfd.ts: name, mode, seals), with hugetlbfs's rules:
// - its size moves in whole huge pages (hugetlbfs_setattr(): EINVAL otherwise), seals first;
// - no write(2) (no ->write_iter: EINVAL); reads see zeros up to i_size (no page was ever allocated);
// - mmap rounds the length up to a huge page (ksys_mmap_pgoff()), needs a huge-page-aligned offset
//   (EINVAL), and reserves the pages (hugetlb_reserve_pages(): ENOMEM, shared or private) unless
//   MAP_NORESERVE, whose mapping then takes SIGBUS at the first touch;
// - fallocate allocates nothing (ENOSPC) and punches holes (EOPNOTSUPP for other modes);
// - st_blksize is the huge page size; st_dev and mnt_id are that hugetlbfs mount's.

import { kerr } from '../errors.js';
import { ShmemFile, ShmemInode } from './shmem.js';
import type { FileContext, MmapRequest } from './file.js';
import { IoBacking, type Backing } from '../mm/backing.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../../include-ts/linux/falloc.js';
import { F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_WRITE } from '../../../include-ts/linux/fcntl.js';
import { MAP_NORESERVE } from '../../../include-ts/linux/mman.js';
import type { MountName } from './fdinfo.js';

/** hstate_sizelog(): the huge page sizes this machine has, by log2 (0: the default, 2 MiB). */
const HSTATES: ReadonlyMap<number, number> = new Map([[0, 21], [21, 21], [30, 30]]);

/** The page shift of an MFD_HUGETLB size field, or ENODEV when this machine has no such huge pages. */
export function hugePageShift(sizeLog: number): number {
  const shift = HSTATES.get(sizeLog);
  if (shift === undefined) throw kerr('ENODEV', `no hugetlbfs mount for 2^${sizeLog}-byte pages (this machine has 2 MiB and 1 GiB)`);
  return shift;
}

/** A hugetlbfs memfd. */
export class HugetlbFile extends ShmemFile {
  readonly hpage: number;

  constructor(inode: ShmemInode, path: string, shift: number) {
    super(inode, path, false);
    this.hpage = 2 ** shift;
  }

  override get memfdMount(): MountName {
    return this.hpage === 2 ** 21 ? 'hugetlbfs2M' : 'hugetlbfs1G';
  }

  override get blksize(): number {
    return this.hpage;
  }

  /** hugetlbfs_setattr(): whole huge pages only, then the seals. */
  override resize(length: number, now: number): void {
    if (length % this.hpage) throw kerr('EINVAL', `a hugetlbfs file's size moves in ${this.hpage}-byte pages; ${length} is not a multiple`);
    super.resize(length, now);
  }

  override write(): number {
    throw kerr('EINVAL', 'hugetlbfs files have no write(): map them');
  }

  /** hugetlbfs_file_mmap(): the offset, then the reservation no huge page can satisfy. */
  override mmap(_ctx: FileContext, req: MmapRequest): Backing {
    if (req.offset % this.hpage) throw kerr('EINVAL', `offset 0x${req.offset.toString(16)} is not a multiple of the ${this.hpage}-byte huge page`);
    if (!(req.flags & MAP_NORESERVE)) throw kerr('ENOMEM', 'no huge pages to reserve (vm.nr_hugepages is 0)');
    const why = (): string => 'no huge page to fault in (vm.nr_hugepages is 0; the mapping was made with MAP_NORESERVE)';
    const never = (): never => {
      throw new Error('unreachable: the gate faults first');
    };
    return new IoBacking({ read: never, write: never }, req.offset, req.length, why);
  }

  /** hugetlbfs_fallocate(): only allocation and PUNCH_HOLE|KEEP_SIZE; allocation finds no free huge page. */
  override fallocate(ctx: FileContext, mode: number, offset: number, len: number): number {
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) throw kerr('EOPNOTSUPP', `hugetlbfs fallocate mode 0x${mode.toString(16)}`);
    const seals = this.inode.seals;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) throw kerr('EPERM', 'the file is sealed against writes: no hole can be punched');
      this.inode.touch(ctx.kernel.sched.now);
      return 0;
    }
    if (seals & F_SEAL_GROW && offset + len > this.inode.size) throw kerr('EPERM', 'the file is sealed against growing (F_SEAL_GROW)');
    throw kerr('ENOSPC', 'no free huge page to allocate (vm.nr_hugepages is 0)');
  }
}

/** ksys_mmap_pgoff(): a hugetlbfs file's mapping length is rounded up to its huge page. */
export function hugetlbLength(file: unknown, len: number): number {
  return file instanceof HugetlbFile ? Math.ceil(len / file.hpage) * file.hpage : len;
}
