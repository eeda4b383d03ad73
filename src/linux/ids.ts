// Identifiers the kernel hands out from its own counters: eventfd ids (fs/eventfd.c eventfd_ida), the
// inode numbers of pipes and tmpfs files (fs/inode.c get_next_ino, mm/shmem.c), of procfs and sysfs files
// (fs/proc/generic.c proc_alloc_inum, kernfs ids: see fs/fdinfo.ts), VFIO container numbers, dynamic
// character device majors and misc minors (fs/char-dev.ts).
// One set per kernel, because each Host is one machine: counters shared by the whole Node process would
// make a host's traces and messages depend on what other hosts did before it (design.md, determinism).

export type IdKind = 'eventfd' | 'pipe-ino' | 'shmem-ino' | 'vfio-container' | 'proc-ino' | 'sysfs-ino' | 'chrdev-major' | 'misc-minor';

export class KernelIds {
  private readonly counters = new Map<IdKind, number>();

  /** The next identifier of `kind`, from 1. */
  next(kind: IdKind): number {
    const n = (this.counters.get(kind) ?? 0) + 1;
    this.counters.set(kind, n);
    return n;
  }
}
