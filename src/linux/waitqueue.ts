// Wait queues (include/linux/wait.h, kernel/sched/wait.c): the one wakeup mechanism kernel parts hook
// into. An entry's `wake(mask)` is called with the poll mask of the event (EPOLLIN, EPOLLHUP, ...).
// Priority entries (add_wait_queue_priority, used by KVM's irqfd since v5.19 and made exclusive in
// v6.17) are called first, and one that reports it consumed the event ends the wakeup: that is why an
// eventfd bound to an irqfd never looks readable to poll().

export interface WaitEntry {
  /** Returns true when a priority entry consumed the event (stops the wakeup). */
  wake(mask: number): boolean | void;
}

export class WaitQueue {
  private readonly priority: WaitEntry[] = [];
  private readonly entries: WaitEntry[] = [];
  /** Entries of both kinds (read first on every wakeup: an empty queue touches nothing else). */
  private n = 0;

  add(e: WaitEntry): void {
    this.entries.push(e);
    this.n++;
  }

  addPriority(e: WaitEntry): void {
    this.priority.push(e);
    this.n++;
  }

  remove(e: WaitEntry): void {
    let i = this.entries.indexOf(e);
    if (i >= 0) {
      this.entries.splice(i, 1);
      this.n--;
      return;
    }
    i = this.priority.indexOf(e);
    if (i >= 0) {
      this.priority.splice(i, 1);
      this.n--;
    }
  }

  get hasPriorityWaiter(): boolean {
    return this.priority.length > 0;
  }

  get size(): number {
    return this.n;
  }

  /** wake_up_poll(): calls every entry. Entries may remove themselves while being woken. */
  wake(mask: number): void {
    // Small enough to be inlined everywhere: an empty queue (the common case) costs one compare.
    if (this.n !== 0) this.wakeEntries(mask);
  }

  private wakeEntries(mask: number): void {
    const p = this.priority;
    for (let i = 0; i < p.length; i++) {
      const e = p[i]!;
      if (e.wake(mask) === true) return;
      if (p[i] !== e) i--; // the entry removed itself
    }
    const q = this.entries;
    for (let i = 0; i < q.length; i++) {
      const e = q[i]!;
      e.wake(mask);
      if (q[i] !== e) i--;
    }
  }
}
