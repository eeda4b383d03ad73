// Identifiers the kernel hands out from its own counters: the inode numbers of pipes and tmpfs files
// (fs/inode.c get_next_ino, mm/shmem.c), of procfs and sysfs files (fs/proc/generic.c proc_alloc_inum, kernfs ids: see fs/fdinfo.ts), VFIO container numbers, dynamic
// character device majors and misc minors (fs/char-dev.ts); and from an IDA (lib/idr.c), which hands out
// the lowest free id and takes ids back: eventfd ids (fs/eventfd.c eventfd_ida).
// One set per kernel, because each Host is one machine: counters shared by the whole Node process would
// make a host's traces and messages depend on what other hosts did before it (design.md, determinism).

export type IdKind = 'pipe-ino' | 'shmem-ino' | 'vfio-container' | 'proc-ino' | 'sysfs-ino' | 'chrdev-major' | 'misc-minor';

/** struct ida: ida_alloc() returns the lowest id not in use (from 0), ida_free() makes it free again. */
export class Ida {
  private readonly used: boolean[] = [];
  /** A hint: no id below it is free. */
  private low = 0;

  alloc(): number {
    let id = this.low;
    while (this.used[id]) id++;
    this.used[id] = true;
    this.low = id + 1;
    return id;
  }

  free(id: number): void {
    if (!this.used[id]) throw new Error(`ida_free: id ${id} is not allocated`);
    this.used[id] = false;
    if (id < this.low) this.low = id;
  }

  /** Ids in use, ascending (inspection). */
  inUse(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.used.length; i++) if (this.used[i]) out.push(i);
    return out;
  }
}

export class KernelIds {
  /** fs/eventfd.c eventfd_ida. */
  readonly eventfd = new Ida();

  private readonly counters = new Map<IdKind, number>();

  /** The next identifier of `kind`, from 1. */
  next(kind: IdKind): number {
    const n = (this.counters.get(kind) ?? 0) + 1;
    this.counters.set(kind, n);
    return n;
  }
}
