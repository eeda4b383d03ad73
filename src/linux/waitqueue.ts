// Wait queues (include/linux/wait.h, kernel/sched/wait.c): the one wakeup mechanism kernel parts hook
// into. An entry's `wake(mask)` is called with the poll mask of the event (EPOLLIN, EPOLLHUP, ...).
// The priority entry (add_wait_queue_priority, used by KVM's irqfd since v5.11; exclusive since v6.17,
// add_wait_queue_priority_exclusive: a queue holds at most one) is called first, and when it reports it
// consumed the event the wakeup ends: that is why an eventfd bound to an irqfd never looks readable to
// poll(). With at most one, it is held in a field rather than a list (one object less per wakeup).

export interface WaitEntry {
  /** Returns true when a priority entry consumed the event (stops the wakeup). */
  wake(mask: number): boolean | void;
}

export class WaitQueue {
  private priority: WaitEntry | null = null;
  private readonly entries: WaitEntry[] = [];
  /** Entries of both kinds (read first on every wakeup: an empty queue touches nothing else). */
  private n = 0;

  add(e: WaitEntry): void {
    this.entries.push(e);
    this.n++;
  }

  /** add_wait_queue_priority_exclusive(): false (the kernel's -EBUSY) when the queue already has one. */
  addPriority(e: WaitEntry): boolean {
    if (this.priority !== null) return false;
    this.priority = e;
    this.n++;
    return true;
  }

  remove(e: WaitEntry): void {
    if (this.priority === e) {
      this.priority = null;
      this.n--;
      return;
    }
    const i = this.entries.indexOf(e);
    if (i >= 0) {
      this.entries.splice(i, 1);
      this.n--;
    }
  }

  get size(): number {
    return this.n;
  }

  /** wake_up_poll(): calls every entry. Entries may remove themselves while being woken. */
  wake(mask: number): void {
    // Small enough to be inlined everywhere: an empty queue (the common case) costs one compare.
    if (this.n !== 0) this.wakeEntries(mask);
  }

  /**
   * __wake_up_common(): list_for_each_entry_safe_from, which takes the next entry before calling the
   * current one. A callback may remove itself and entries before it (the walk goes on with the entry it
   * had taken), and entries added while the last one runs are not visited (its next was the list head).
   * Removals only shift the taken entry towards the front, so it is found again at or before i + 1 with
   * no copy of the array. A callback that removes the taken entry itself would make the kernel follow a
   * poisoned list pointer; the model ends the walk there.
   */
  private wakeEntries(mask: number): void {
    const p = this.priority;
    if (p !== null && p.wake(mask) === true) return;
    const q = this.entries;
    let i = 0;
    let curr = q[0];
    while (curr !== undefined) {
      const next = q[i + 1];
      curr.wake(mask);
      if (next === undefined) return;
      i++;
      if (q[i] !== next) {
        if (i >= q.length) i = q.length - 1;
        while (i >= 0 && q[i] !== next) i--;
        if (i < 0) return;
      }
      curr = next;
    }
  }
}
