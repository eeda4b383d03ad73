// mm/shmem.c: a tmpfs regular file, which is what open(O_CREAT) and O_TMPFILE make in /dev (devtmpfs
// is shmem when CONFIG_TMPFS, drivers/base/devtmpfs.c) and in the model's rootfs, and what
// memfd_create makes (mm/memfd.ts, on the internal shm mount). Reads stop at i_size; a write past it
// leaves a hole that reads as zeros. O_APPEND is applied by the syscall layer (generic_write_checks());
// O_DIRECT is accepted (shmem sets FMODE_CAN_ODIRECT). ftruncate (shmem_setattr), fallocate
// (shmem_fallocate: allocate or punch a hole), mmap (shmem_mmap) and the memfd seals
// (memfd_file_seals_ptr: every shmem inode has them, F_SEAL_SEAL unless memfd_create allowed sealing).
// - The contents are one buffer that grows and never moves (a resizable ArrayBuffer, at most 4 GiB: the
//   largest V8 allows), so a MAP_SHARED mapping is a view of the page cache itself: stores through it
//   are what read() returns, and KVM memory slots and VFIO DMA over it see plain RAM, as with a memfd
//   backing guest memory.
// - Allocated pages (i_blocks, SEEK_DATA/SEEK_HOLE) are those a write, fallocate or a store through a
//   shared mapping gave data: the model cannot see loads or zero stores through a mapping, which the
//   kernel's shmem_fault allocates pages for, so a page touched only that way is not counted.
// - A MAP_PRIVATE mapping is a copy of the pages when mapped: the kernel's copy-on-write would show
//   later writes to the file on pages the mapping has not stored to yet.
// - Accesses through a mapping past i_size read and write the buffer instead of raising SIGBUS.
// Not modeled: the mount's size limit (ENOSPC), huge pages.

import { KFile, FMODE_WRITE, openFmode, type FileContext, type MmapRequest } from './file.js';
import { genericLlseek, setPos } from './llseek.js';
import { SEEK_DATA, SEEK_HOLE } from '../../../include-ts/linux/fs.js';
import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { setU32 } from '../../../abi/bytes.js';
import { FIONREAD } from '../../../include-ts/asm-generic/ioctls.js';
import { F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, O_NOATIME } from '../../../include-ts/linux/fcntl.js';
import { FALLOC_FL_PUNCH_HOLE, FALLOC_FL_KEEP_SIZE } from '../../../include-ts/linux/falloc.js';
import { MAP_TYPE, MAP_PRIVATE, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { RamBacking, type Backing } from '../mm/backing.js';
import type { Cred } from '../cred.js';
import { ATTR_MODE, setattrCopy, setattrPrepare, type IAttr } from './attr.js';
import type { Pins } from '../mm/pins.js';
import type { MountName } from './fdinfo.js';

const PAGE = 4096;
/** The largest resizable ArrayBuffer V8 allows, and so the largest tmpfs file here. */
const MAX_BYTES = 2 ** 32;
/** MAX_LFS_FILESIZE on 64-bit: inode_newsize_ok()'s EFBIG above it. */
const MAX_LFS_FILESIZE = 2 ** 63 - 1;

/** A tmpfs inode (S_IFREG): owner, permission bits, contents and seals. */
export class ShmemInode {
  readonly type = 'reg' as const;
  /** i_size. */
  size = 0;
  /** The page cache: every byte the file has, zero where nothing was written. */
  private readonly buffer = new ArrayBuffer(0, { maxByteLength: MAX_BYTES });
  private readonly bytes = new Uint8Array(this.buffer);
  /** Pages allocated by write or fallocate (a page with data from a mapping counts too: see isPresent). */
  private readonly allocated = new Set<number>();
  /** Whether a shared mapping ever reached the page cache (only then can a page hold data unallocated). */
  private shared = false;
  /** info->seals (shmem_get_inode(): F_SEAL_SEAL; memfd_create may clear it). */
  seals = F_SEAL_SEAL;
  /** i_atime, i_mtime, i_ctime in virtual ns: creation time, then mtime and ctime move with each write. */
  atimeNs: number;
  mtimeNs: number;
  ctimeNs: number;
  /** i_crtime (shmem_get_inode()): the creation time statx reports as stx_btime. */
  readonly btimeNs: number;

  constructor(
    readonly ino: number,
    /** Permission bits (S_IALLUGO), already reduced by the creator's umask. */
    public mode: number,
    public uid: number,
    public gid: number,
    /** The virtual time of its creation (shmem_get_inode(): all three times). */
    now: number,
    /** Told when pages VFIO or iommufd may have pinned are truncated or punched away. */
    private readonly pins: Pins,
  ) {
    this.atimeNs = this.mtimeNs = this.ctimeNs = this.btimeNs = now;
  }

  /** Grows the page cache to hold `end` bytes (it never shrinks: mappings keep views of it). */
  private reserve(end: number): void {
    if (end > this.buffer.byteLength) this.buffer.resize(Math.min(MAX_BYTES, Math.ceil(end / PAGE) * PAGE));
  }

  /** Whether page `pg` is allocated: written, fallocated, or holding data stored through a mapping. */
  private isPresent(pg: number): boolean {
    if (this.allocated.has(pg)) return true;
    if (!this.shared || (pg + 1) * PAGE > this.buffer.byteLength) return false;
    const words = new Uint32Array(this.buffer, pg * PAGE, PAGE / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return true;
    return false;
  }

  /** i_blocks: the allocated pages, in 512-byte units (holes take none). */
  get blocks(): number {
    let n = 0;
    const pages = this.buffer.byteLength / PAGE;
    if (this.shared) {
      for (let pg = 0; pg < pages; pg++) if (this.isPresent(pg)) n++;
    } else n = this.allocated.size;
    return n * (PAGE / 512);
  }

  /** file_update_time() / inode_set_ctime_current() on a write or truncate. */
  touch(now: number): void {
    this.mtimeNs = this.ctimeNs = now;
  }

  /**
   * file_accessed() under relatime (devtmpfs and rootfs are mounted relatime): atime moves to `now` only
   * if it is not after mtime or ctime, or is a day old (relatime_need_update), and differs from now.
   */
  accessed(now: number): void {
    const a = this.atimeNs;
    if (a === now) return;
    if (this.mtimeNs >= a || this.ctimeNs >= a || now - a >= 86_400e9) this.atimeNs = now;
  }

  read(buf: Uint8Array, pos: number): number {
    const n = Math.max(0, Math.min(buf.length, this.size - pos));
    const have = Math.max(0, Math.min(n, this.bytes.length - pos));
    if (have > 0) buf.set(this.bytes.subarray(pos, pos + have));
    buf.fill(0, Math.max(0, have), n);
    return n;
  }

  /**
   * generic_perform_write() page by page, each through shmem_write_begin(): a write seal refuses the
   * first page, F_SEAL_GROW the first page whose part of the write would end past i_size (what came
   * before it stays written). EPERM if nothing was written; EFBIG past the largest file the model holds.
   */
  write(buf: Uint8Array, pos: number): number {
    if (buf.length === 0) return 0;
    if (this.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) throw kerr('EPERM', 'the file is sealed against writes (F_SEAL_WRITE or F_SEAL_FUTURE_WRITE)');
    let n = buf.length;
    if (this.seals & F_SEAL_GROW && pos + n > this.size) {
      n = 0;
      while (n < buf.length) {
        const chunk = Math.min(PAGE - ((pos + n) % PAGE), buf.length - n);
        if (pos + n + chunk > this.size) break;
        n += chunk;
      }
      if (n === 0) throw kerr('EPERM', `the file is sealed against growing (F_SEAL_GROW): a write at ${pos} would end past its size ${this.size}`);
    }
    if (pos + n > MAX_BYTES) throw kerr('EFBIG', `a write ending at ${pos + n} is past the ${MAX_BYTES}-byte tmpfs file the model can hold`);
    this.reserve(pos + n);
    this.bytes.set(buf.subarray(0, n), pos);
    for (let pg = Math.floor(pos / PAGE); pg * PAGE < pos + n; pg++) this.allocated.add(pg);
    this.size = Math.max(this.size, pos + n);
    return n;
  }

  /**
   * mapping_seek_hole_data() from `start` below i_size: the first byte of an allocated page (SEEK_DATA),
   * or of a hole, i_size counting as one (SEEK_HOLE); -1 when SEEK_DATA finds none.
   */
  seekHoleData(start: number, data: boolean): number {
    if (start >= this.size) return -1;
    for (let pg = Math.floor(start / PAGE); pg * PAGE < this.size; pg++) {
      if (this.isPresent(pg) === data) return Math.max(start, pg * PAGE);
    }
    return data ? -1 : this.size;
  }

  /** Zeroes [start, end) and frees the pages wholly inside it (shmem_truncate_range()). */
  private clear(start: number, end: number): void {
    const stop = Math.min(end, this.bytes.length);
    if (start < stop) {
      // Whole pages leave the page cache (a pinned one stays the device's); partial pages are zeroed in
      // place (truncate_inode_partial_folio()), pinned or not.
      const a = Math.ceil(start / PAGE) * PAGE;
      const b = Math.min(stop, Math.floor(end / PAGE) * PAGE);
      if (a < b) this.pins.release(this.bytes, a, b - a);
      this.bytes.fill(0, start, stop);
    }
    for (const pg of [...this.allocated]) if (pg * PAGE >= start && (pg + 1) * PAGE <= end) this.allocated.delete(pg);
  }

  /**
   * shmem_setattr() with ATTR_SIZE (ftruncate, O_TRUNC): the seals first (F_SEAL_SHRINK, F_SEAL_GROW:
   * EPERM), then inode_newsize_ok() (EFBIG); a smaller size frees and zeroes what is past it.
   */
  setSize(length: number, now: number): void {
    if (length < this.size && this.seals & F_SEAL_SHRINK) throw kerr('EPERM', `the file is sealed against shrinking (F_SEAL_SHRINK): ${this.size} -> ${length}`);
    if (length > this.size && this.seals & F_SEAL_GROW) throw kerr('EPERM', `the file is sealed against growing (F_SEAL_GROW): ${this.size} -> ${length}`);
    if (length > MAX_LFS_FILESIZE) throw kerr('EFBIG', `${length} is past MAX_LFS_FILESIZE`);
    if (length > MAX_BYTES) throw kerr('EFBIG', `${length} bytes is past the ${MAX_BYTES}-byte tmpfs file the model can hold`);
    if (length < this.size) this.clear(length, Infinity);
    this.size = length;
    this.touch(now);
  }

  /**
   * shmem_fallocate() after vfs_fallocate()'s checks: only allocation and PUNCH_HOLE|KEEP_SIZE
   * (EOPNOTSUPP); a hole needs no write seal (EPERM) and zeroes what it covers (partial pages keep
   * their page); allocation may not grow a F_SEAL_GROW file, even with KEEP_SIZE (EPERM).
   */
  fallocate(mode: number, offset: number, len: number, now: number): void {
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) throw kerr('EOPNOTSUPP', `tmpfs fallocate mode 0x${mode.toString(16)}: only allocation and FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE`);
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      if (this.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) throw kerr('EPERM', 'the file is sealed against writes: no hole can be punched');
      this.clear(offset, offset + len);
    } else {
      const end = offset + len;
      if (end > MAX_LFS_FILESIZE) throw kerr('EFBIG', `${end} is past MAX_LFS_FILESIZE`);
      if (this.seals & F_SEAL_GROW && end > this.size) throw kerr('EPERM', `the file is sealed against growing (F_SEAL_GROW): allocating to ${end} is past its size ${this.size}`);
      if (end > MAX_BYTES) throw kerr('EFBIG', `${end} bytes is past the ${MAX_BYTES}-byte tmpfs file the model can hold`);
      this.reserve(end);
      for (let pg = Math.floor(offset / PAGE); pg * PAGE < end; pg++) this.allocated.add(pg);
      if (!(mode & FALLOC_FL_KEEP_SIZE) && end > this.size) this.size = end;
    }
    // file_modified().
    this.touch(now);
  }

  /** A view of [offset, offset+length) of the page cache for a shared mapping. */
  mapShared(offset: number, length: number): Uint8Array {
    if (offset + length > MAX_BYTES) throw kerr('ENOMEM', `a mapping reaching ${offset + length} is past the ${MAX_BYTES}-byte tmpfs file the model can hold`);
    this.reserve(offset + length);
    this.shared = true;
    return new Uint8Array(this.buffer, offset, length);
  }

  /** A copy of [offset, offset+length) for a private mapping. */
  copy(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const have = Math.max(0, Math.min(length, this.bytes.length - offset));
    if (have > 0) out.set(this.bytes.subarray(offset, offset + have));
    return out;
  }

  /** shmem_setattr() without ATTR_SIZE: setattr_prepare(), then F_SEAL_EXEC refuses a change of the exec bits. */
  setattr(cred: Cred, attr: IAttr, path: string): void {
    setattrPrepare(cred, this, attr, path);
    if (attr.valid & ATTR_MODE && this.seals & F_SEAL_EXEC && (this.mode ^ attr.mode) & 0o111) {
      throw kerr('EPERM', `${path} is sealed with F_SEAL_EXEC: its exec bits cannot change`);
    }
    setattrCopy(cred, this, attr);
  }
}

/** An open tmpfs file. */
export class ShmemFile extends KFile {
  readonly kind = 'other' as const;
  override readonly positional = true;

  constructor(
    readonly inode: ShmemInode,
    readonly path: string,
    /** FMODE_CREATED: this open created the file (F_CREATED_QUERY reports it). */
    readonly created: boolean,
  ) {
    super();
  }

  override get ino(): number {
    return this.inode.ino;
  }

  /** The internal mount a memfd lives on (shm_mnt; hugetlbfs memfds have their own). */
  get memfdMount(): MountName {
    return 'shm';
  }

  /** st_blksize. */
  get blksize(): number {
    return PAGE;
  }

  /** ftruncate's ->setattr(ATTR_SIZE). */
  resize(length: number, now: number): void {
    this.inode.setSize(length, now);
  }

  /** shmem_file_read_iter(): the bytes, then file_accessed() unless the file is O_NOATIME (a read of 0 bytes too). */
  override read(ctx: FileContext, buf: Uint8Array, pos: number): number {
    const n = this.inode.read(buf, pos);
    if (!(this.flags & O_NOATIME)) this.inode.accessed(ctx.kernel.sched.now);
    return n;
  }

  override write(ctx: FileContext, buf: Uint8Array, pos: number): number {
    // generic_perform_write() via file_update_time(): a write of nothing changes no time.
    if (buf.length) this.inode.touch(ctx.kernel.sched.now);
    return this.inode.write(buf, pos);
  }

  /** shmem_file_llseek(): generic_file_llseek on i_size, with SEEK_DATA/SEEK_HOLE over the written pages. */
  override llseek(offset: number, whence: number): number {
    if (whence !== SEEK_DATA && whence !== SEEK_HOLE) return genericLlseek(this, offset, whence, this.inode.size);
    const at = offset < 0 ? -1 : this.inode.seekHoleData(offset, whence === SEEK_DATA);
    if (at < 0) throw kerr('ENXIO', `${whence === SEEK_DATA ? 'SEEK_DATA' : 'SEEK_HOLE'} from ${offset}: nothing at or after it below the size ${this.inode.size}`);
    return setPos(this, at);
  }

  /**
   * memfd_check_seals_mmap() (do_mmap(), before the file is touched): a write-sealed file cannot be
   * mapped shared and writable (EPERM), and a read-only shared mapping of it loses VM_MAYWRITE; then
   * shmem_mmap_prepare()'s file_accessed(). A shared
   * mapping is a view of the page cache; a private one a copy (see the header).
   */
  override mmap(ctx: FileContext, req: MmapRequest): Backing {
    const priv = (req.flags & MAP_TYPE) === MAP_PRIVATE;
    const sealed = (this.inode.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0;
    if (!priv && sealed && req.prot & PROT_WRITE) throw kerr('EPERM', `${this.path} is sealed against writes (F_SEAL_WRITE or F_SEAL_FUTURE_WRITE): no shared writable mapping`);
    this.inode.accessed(ctx.kernel.sched.now);
    if (priv) return new RamBacking(this.inode.copy(req.offset, req.length));
    const mayWrite = !sealed && (openFmode(this.flags) & FMODE_WRITE) !== 0;
    return new RamBacking(this.inode.mapShared(req.offset, req.length), { owner: this.inode, mayWrite });
  }

  /** shmem_fallocate() (ShmemInode.fallocate), after vfs_fallocate()'s checks. */
  override fallocate(ctx: FileContext, mode: number, offset: number, len: number): number {
    this.inode.fallocate(mode, offset, len, ctx.kernel.sched.now);
    return 0;
  }

  /** do_vfs_ioctl(): FIONREAD on a regular file is i_size - f_pos, as an int. */
  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    if (req !== FIONREAD) return super.ioctl(ctx, req, arg);
    setU32(arg.user(4), 0, this.inode.size - this.pos);
    return 0;
  }
}
