// mm/shmem.c: a tmpfs regular file, which is what open(O_CREAT) and O_TMPFILE make in /dev (devtmpfs
// is shmem when CONFIG_TMPFS, drivers/base/devtmpfs.c) and in the model's rootfs. The contents are
// sparse pages: reads stop at i_size, a write past it leaves a hole that reads as zeros. O_APPEND is
// applied by the syscall layer (generic_write_checks()); O_DIRECT is accepted (shmem sets
// FMODE_CAN_ODIRECT). Not modeled: mmap (the KFile default, ENODEV, where tmpfs would map the page
// cache), ftruncate and fallocate (no such syscalls in the model), and the mount's size limit (ENOSPC).

import { KFile, type FileContext } from './file.js';
import { genericLlseek, setPos } from './llseek.js';
import { SEEK_DATA, SEEK_HOLE } from '../../../include-ts/linux/fs.js';
import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { setU32 } from '../../../abi/bytes.js';
import { FIONREAD } from '../../../include-ts/asm-generic/ioctls.js';
import { O_NOATIME } from '../../../include-ts/linux/fcntl.js';

const PAGE = 4096;

/** A tmpfs inode (S_IFREG): owner, permission bits and contents. */
export class ShmemInode {
  readonly type = 'reg' as const;
  /** i_size. */
  size = 0;
  private readonly pages = new Map<number, Uint8Array>();
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
    now = 0,
  ) {
    this.atimeNs = this.mtimeNs = this.ctimeNs = this.btimeNs = now;
  }

  /** i_blocks: the pages written so far, in 512-byte units (holes take none). */
  get blocks(): number {
    return this.pages.size * (PAGE / 512);
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
    for (let done = 0; done < n; ) {
      const off = (pos + done) % PAGE;
      const len = Math.min(PAGE - off, n - done);
      const page = this.pages.get(Math.floor((pos + done) / PAGE));
      if (page) buf.set(page.subarray(off, off + len), done);
      else buf.fill(0, done, done + len);
      done += len;
    }
    return n;
  }

  write(buf: Uint8Array, pos: number): number {
    for (let done = 0; done < buf.length; ) {
      const index = Math.floor((pos + done) / PAGE);
      const off = (pos + done) % PAGE;
      const len = Math.min(PAGE - off, buf.length - done);
      let page = this.pages.get(index);
      if (!page) this.pages.set(index, (page = new Uint8Array(PAGE)));
      page.set(buf.subarray(done, done + len), off);
      done += len;
    }
    if (buf.length) this.size = Math.max(this.size, pos + buf.length);
    return buf.length;
  }

  /**
   * mapping_seek_hole_data() from `start` below i_size: the first byte of a written page (SEEK_DATA),
   * or of a hole, i_size counting as one (SEEK_HOLE); -1 when SEEK_DATA finds none.
   */
  seekHoleData(start: number, data: boolean): number {
    if (start >= this.size) return -1;
    for (let pg = Math.floor(start / PAGE); pg * PAGE < this.size; pg++) {
      if (this.pages.has(pg) === data) return Math.max(start, pg * PAGE);
    }
    return data ? -1 : this.size;
  }

  /** O_TRUNC (handle_truncate()): i_size 0, every page freed. */
  truncate(): void {
    this.size = 0;
    this.pages.clear();
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

  /** shmem_file_read_iter(): the bytes, then file_accessed() unless the file is O_NOATIME. */
  override read(ctx: FileContext, buf: Uint8Array, pos: number): number {
    const n = this.inode.read(buf, pos);
    // vfs_read() returns before ->read_iter for a zero count.
    if (buf.length && !(this.flags & O_NOATIME)) this.inode.accessed(ctx.kernel.sched.now);
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

  /** do_vfs_ioctl(): FIONREAD on a regular file is i_size - f_pos, as an int. */
  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    if (req !== FIONREAD) return super.ioctl(ctx, req, arg);
    setU32(arg.user(4), 0, this.inode.size - this.pos);
    return 0;
  }
}
