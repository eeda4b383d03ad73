// Wait queues (include/linux/wait.h, kernel/sched/wait.c): the one wakeup mechanism kernel parts hook
// into. An entry's `wake(mask)` is called with the poll mask of the event (EPOLLIN, EPOLLHUP, ...).
// The priority entry (add_wait_queue_priority, used by KVM's irqfd since v5.11; exclusive since v6.17,
// add_wait_queue_priority_exclusive: a queue holds at most one) is called first, and when it reports it
// consumed the event the wakeup ends: that is why an eventfd bound to an irqfd never looks readable to
// poll(). With at most one, it is held in a field rather than a list (one object less per wakeup).
// The other entries keep the kernel's list order, which decides who is woken first: add_wait_queue()
// (poll's __pollwait, vfio's virqfd) puts an entry at the head (after the priority entry), while the
// wait_event*() sleepers of a blocking read or write (do_wait_intr, prepare_to_wait_exclusive) go to
// the tail. WQ_FLAG_EXCLUSIVE is modelled only for the entries add_wait_queue_exclusive() queues (epoll's
// EPOLLEXCLUSIVE items) and __add_wait_queue_exclusive() (epoll_wait's sleeper, at the head): the walk
// stops after the first of them that reports it woke someone. The other plain entries' return value is
// ignored, so every one of them is woken (the model's blocked callers, exclusive sleepers in the kernel,
// retry and block again instead).

export interface WaitEntry {
  /** Returns true when a priority entry consumed the event (stops the wakeup). */
  wake(mask: number): boolean | void;
}

export class WaitQueue {
  private priority: WaitEntry | null = null;
  private readonly entries: WaitEntry[] = [];
  /** Entries queued by addExclusive() (WQ_FLAG_EXCLUSIVE); null until the first, so most queues never allocate it. */
  private exclusive: Set<WaitEntry> | null = null;
  /** Entries of both kinds (read first on every wakeup: an empty queue touches nothing else). */
  private n = 0;

  /** add_wait_queue() / __add_wait_queue(): at the head of the list, behind the priority entry. */
  add(e: WaitEntry): void {
    this.entries.unshift(e);
    this.n++;
  }

  /** __add_wait_queue_entry_tail(): where wait_event*() puts a sleeper (do_wait_intr, prepare_to_wait_exclusive). */
  addTail(e: WaitEntry): void {
    this.entries.push(e);
    this.n++;
  }

  /**
   * add_wait_queue_exclusive(): at the tail, with WQ_FLAG_EXCLUSIVE: a wakeup (nr_exclusive = 1) ends
   * after the first exclusive entry whose callback returns true.
   */
  addExclusive(e: WaitEntry): void {
    (this.exclusive ??= new Set()).add(e);
    this.entries.push(e);
    this.n++;
  }

  /** __add_wait_queue_exclusive(): at the head, with WQ_FLAG_EXCLUSIVE (ep_poll()'s sleeper: wake-one, newest first). */
  addExclusiveHead(e: WaitEntry): void {
    (this.exclusive ??= new Set()).add(e);
    this.entries.unshift(e);
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
      const ex = this.exclusive;
      if (ex !== null && ex.delete(e) && ex.size === 0) this.exclusive = null;
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
   * current one. A callback may remove itself and other entries (the walk goes on with the entry it had
   * taken, wherever the array now holds it), an entry add()ed at the head during the walk is behind it
   * and not visited, and entries added while the last one runs are not visited (its next was the list
   * head). The taken entry is looked up again only when the array changed around it. A callback that
   * removes the taken entry itself would make the kernel follow a poisoned list pointer; the model ends
   * the walk there.
   */
  private wakeEntries(mask: number): void {
    const p = this.priority;
    if (p !== null && p.wake(mask) === true) return;
    const ex = this.exclusive;
    const q = this.entries;
    let i = 0;
    let curr = q[0];
    while (curr !== undefined) {
      const next = q[i + 1];
      // `ret && (flags & WQ_FLAG_EXCLUSIVE) && !--nr_exclusive`: the flag is read before the call.
      if (ex !== null && ex.has(curr)) {
        if (curr.wake(mask) === true) return;
      } else curr.wake(mask);
      if (next === undefined) return;
      i++;
      if (q[i] !== next) {
        i = q.indexOf(next);
        if (i < 0) return;
      }
      curr = next;
    }
  }
}
