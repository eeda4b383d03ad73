// An open sysfs or procfs attribute (fs/kernfs/file.c, fs/seq_file.c): a read at offset 0 renders the
// content afresh (that is how `cat` sees current state), later reads continue from the position; each
// write() is handed whole to the attribute's store method, which may fail with the kernel's errno.

import { kerr } from '../errors.js';
import { DEFAULT_POLLMASK, KFile, type FileContext } from './file.js';
import { POLLERR, POLLPRI } from '../../../include-ts/linux/poll.js';
import type { AttrNode } from './vfs.js';
import { genericLlseek, setCurLlseek } from './llseek.js';

/** kernfs_init_inode(): a text attribute's i_size is PAGE_SIZE. */
const ATTR_I_SIZE = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class AttrFile extends KFile {
  private content: Uint8Array | null = null;

  constructor(
    private readonly node: AttrNode,
    readonly path: string,
  ) {
    super();
  }

  get kind(): 'sysfs' | 'procfs' {
    return this.node.kind;
  }

  override readonly positional = true;
  /**
   * kernfs_file_fops.poll = kernfs_fop_poll and proc_reg_file_ops.poll = proc_reg_poll: attributes can
   * be polled. procfs files report DEFAULT_POLLMASK (the KFile default). A sysfs attribute also reports
   * EPOLLERR|EPOLLPRI until this open file first renders it (kernfs_generic_poll: of->event, 0 at open
   * and set by kernfs_seq_show, differs from the node's event count, which starts at 1), so a file
   * opened write-only always does. sysfs_notify(), which would raise it again, is not modelled.
   */
  override readonly canPoll = true;
  /** Whether a read has rendered the attribute through this open file (of->event caught up). */
  private shown = false;

  override poll(): number {
    return this.node.kind === 'sysfs' && !this.shown ? DEFAULT_POLLMASK | POLLERR | POLLPRI : DEFAULT_POLLMASK;
  }

  override read(ctx: FileContext, buf: Uint8Array, pos: number): number {
    if (!this.node.show) throw kerr('EIO', `${this.path} cannot be read`);
    // seq_read_iter(): nothing asked, nothing rendered.
    if (buf.length === 0) return 0;
    if (pos === 0 || this.content === null) {
      this.shown = true;
      const c = this.node.show(ctx);
      this.content = typeof c === 'string' ? encoder.encode(c) : c;
    }
    if (pos >= this.content.length) return 0;
    const n = Math.min(buf.length, this.content.length - pos);
    buf.set(this.content.subarray(pos, pos + n));
    return n;
  }

  /**
   * kernfs_fop_llseek() -> generic_file_llseek() on the attribute's i_size (a page: what stat shows),
   * or seq_lseek() for a procfs file.
   */
  override llseek(offset: number, whence: number): number {
    return this.node.kind === 'sysfs' ? genericLlseek(this, offset, whence, ATTR_I_SIZE) : setCurLlseek(this, offset, whence, 'a procfs file');
  }

  override write(ctx: FileContext, buf: Uint8Array, _pos: number): number {
    if (!this.node.store) throw kerr('EIO', `${this.path} cannot be written`);
    let data = buf;
    if (this.node.kind === 'sysfs') {
      // kernfs_fop_write_iter(): at most a page reaches ->store; sysfs_kf_write(): nothing for 0 bytes.
      if (data.length > 4096) data = data.subarray(0, 4096);
      if (data.length === 0) return 0;
    }
    const n = this.node.store(ctx, decoder.decode(data));
    return typeof n === 'number' ? n : data.length;
  }
}
