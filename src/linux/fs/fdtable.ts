// A process's file descriptor table (fs/file.c): fds are handed out lowest-free first, each slot
// holds one reference on its open file description, and close-on-exec is a per-slot flag.
// The process's RLIMIT_NOFILE soft limit bounds new fds (EMFILE past it); fds already open above a
// lowered limit stay usable, as the table itself does not shrink.

import { kerr } from '../errors.js';
import type { KFile } from './file.js';
import type { Kernel } from '../kernel.js';
import type { ResourceLimits } from '../resource.js';

export class FdTable {
  private readonly files: (KFile | undefined)[] = [];
  private readonly cloexec: boolean[] = [];

  constructor(
    private readonly kernel: Kernel,
    private readonly rlimits: ResourceLimits,
  ) {}

  /** rlimit(RLIMIT_NOFILE). */
  get limit(): number {
    return this.rlimits.nofile;
  }

  /** The lowest free fd at or above `min` (EMFILE if none below the limit). */
  private lowestFree(min: number): number {
    const limit = this.rlimits.nofile;
    for (let fd = min; fd < limit; fd++) if (this.files[fd] === undefined) return fd;
    throw kerr('EMFILE', `no free file descriptor below the limit of ${limit}`);
  }

  /** fd_install(): takes a new reference on `file`. */
  install(file: KFile, cloexec: boolean, min = 0): number {
    const fd = this.lowestFree(min);
    this.files[fd] = file.get();
    this.cloexec[fd] = cloexec;
    return fd;
  }

  /** Checks that a slot is free before doing work that must not be undone (EMFILE early, like get_unused_fd). */
  reserveCheck(): void {
    this.lowestFree(0);
  }

  get(fd: number): KFile | undefined {
    // Negative, fractional and out-of-range fds simply find no slot.
    return this.files[fd];
  }

  isCloexec(fd: number): boolean {
    return this.cloexec[fd] === true;
  }

  setCloexec(fd: number, on: boolean): void {
    this.cloexec[fd] = on;
  }

  close(fd: number): void {
    const f = this.get(fd);
    if (!f) throw kerr('EBADF', `fd ${fd} is not open`);
    this.files[fd] = undefined;
    this.cloexec[fd] = false;
    f.put(this.kernel);
  }

  /** dup2()/dup3(): installs `file` at `fd`, closing what was there. */
  installAt(fd: number, file: KFile, cloexec: boolean): void {
    if (fd < 0 || fd >= this.limit) throw kerr('EBADF', `fd ${fd} is out of range`);
    const old = this.files[fd];
    this.files[fd] = file.get();
    this.cloexec[fd] = cloexec;
    if (old) old.put(this.kernel);
  }

  /** Open fds in ascending order. */
  openFds(): number[] {
    const out: number[] = [];
    for (let fd = 0; fd < this.files.length; fd++) if (this.files[fd]) out.push(fd);
    return out;
  }

  closeAll(): void {
    for (const fd of this.openFds()) this.close(fd);
  }
}
