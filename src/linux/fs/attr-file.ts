// An open sysfs or procfs attribute (fs/kernfs/file.c, fs/seq_file.c): a read at offset 0 renders the
// content afresh (that is how `cat` sees current state), later reads continue from the position; each
// write() is handed whole to the attribute's store method, which may fail with the kernel's errno.

import { kerr } from '../errors.js';
import { KFile, type FileContext } from './file.js';
import type { AttrNode } from './vfs.js';

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
   * be polled (DEFAULT_POLLMASK, the KFile default; sysfs_notify() is not modelled).
   */
  override readonly canPoll = true;

  override read(ctx: FileContext, buf: Uint8Array, pos: number): number {
    if (!this.node.show) throw kerr('EIO', `${this.path} cannot be read`);
    if (pos === 0 || this.content === null) {
      const c = this.node.show(ctx);
      this.content = typeof c === 'string' ? encoder.encode(c) : c;
    }
    if (pos >= this.content.length) return 0;
    const n = Math.min(buf.length, this.content.length - pos);
    buf.set(this.content.subarray(pos, pos + n));
    return n;
  }

  override write(ctx: FileContext, buf: Uint8Array, _pos: number): number {
    if (!this.node.store) throw kerr('EIO', `${this.path} cannot be written`);
    this.node.store(ctx, decoder.decode(buf));
    return buf.length;
  }
}
