// /dev/null and /dev/zero (drivers/char/mem.c). New processes get /dev/null on fds 0, 1 and 2, so the
// first fd a program opens is 3, as in a real process started from a shell.

import { KFile, type FileContext } from '../fs/file.js';

/** null_lseek() (also /dev/zero's): the position becomes 0, whatever is asked. */
function nullLseek(f: KFile): number {
  f.pos = 0;
  return 0;
}

export class NullFile extends KFile {
  readonly kind = 'other' as const;
  readonly path = '/dev/null';
  override readonly positional = true;
  override llseek(): number {
    return nullLseek(this);
  }
  /** read_null/write_null, read_iter_zero/write_iter_zero leave *ppos alone: f_pos stays 0 [E]. */
  override readonly movesPos = false;
  override read(): number {
    return 0;
  }
  override write(_ctx: FileContext, buf: Uint8Array): number {
    return buf.length;
  }
}

export class ZeroFile extends KFile {
  readonly kind = 'other' as const;
  readonly path = '/dev/zero';
  override readonly positional = true;
  override llseek(): number {
    return nullLseek(this);
  }
  /** read_null/write_null, read_iter_zero/write_iter_zero leave *ppos alone: f_pos stays 0 [E]. */
  override readonly movesPos = false;
  override read(_ctx: FileContext, buf: Uint8Array): number {
    buf.fill(0);
    return buf.length;
  }
  override write(_ctx: FileContext, buf: Uint8Array): number {
    return buf.length;
  }
}
