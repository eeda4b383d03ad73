// Wait queues (kernel/sched/wait.c): add_wait_queue_priority_exclusive() refuses a second priority
// waiter with -EBUSY (the head entry already has WQ_FLAG_PRIORITY) and leaves the queue as it was;
// __wake_up_common() calls the priority waiter first and stops when it consumed the event (an
// exclusive waiter returning 1 uses up nr_exclusive = 1), otherwise goes on to the other waiters.
import { describe, expect, it } from 'vitest';
import { WaitQueue, type WaitEntry } from '../../src/linux/waitqueue.js';

const POLL_IN = 0x1;

describe('wait queue (kernel/sched/wait.c)', () => {
  const entry = (log: string[], name: string, consumes = false): WaitEntry => ({
    wake: (mask: number) => {
      log.push(`${name}:${mask}`);
      return consumes;
    },
  });

  it('holds at most one priority waiter: a second add fails (the kernel\'s -EBUSY) and changes nothing', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    const a = entry(log, 'a', true);
    const b = entry(log, 'b', true);
    q.addTail(entry(log, 'plain'));
    expect(q.addPriority(a)).toBe(true);
    expect(q.size).toBe(2);
    expect(q.addPriority(b)).toBe(false);
    expect(q.size).toBe(2);
    q.wake(POLL_IN);
    expect(log).toEqual(['a:1']);
    // Removing the waiter frees the slot; removing an entry that is not queued changes nothing.
    q.remove(a);
    q.remove(a);
    expect(q.size).toBe(1);
    expect(q.addPriority(b)).toBe(true);
    expect(q.size).toBe(2);
  });

  it('wakes the priority waiter first; when it does not consume the event every other waiter is woken', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    q.addTail(entry(log, 'x'));
    q.addTail(entry(log, 'y'));
    q.addPriority(entry(log, 'p', false));
    q.wake(POLL_IN);
    expect(log).toEqual(['p:1', 'x:1', 'y:1']);
  });

  it('entries may remove themselves while being woken, and the count stays exact', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    const once: WaitEntry = {
      wake: (m) => {
        log.push(`once:${m}`);
        q.remove(once);
        return false;
      },
    };
    const prio: WaitEntry = {
      wake: (m) => {
        log.push(`prio:${m}`);
        q.remove(prio);
        return false;
      },
    };
    q.addTail(once);
    q.addTail(entry(log, 'after'));
    q.addPriority(prio);
    q.wake(POLL_IN);
    expect(log).toEqual(['prio:1', 'once:1', 'after:1']);
    expect(q.size).toBe(1);
    q.wake(POLL_IN);
    expect(log.slice(3)).toEqual(['after:1']);
  });

  // kernel/sched/wait.c __wake_up_common walks with list_for_each_entry_safe_from(curr, next, ...):
  // `next` is taken before curr->func runs, so only the next entry is cached, not a copy of the list.
  it('a callback that removes itself and an earlier entry does not make the walk skip the entry after it', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    const a = entry(log, 'a');
    const b: WaitEntry = {
      wake: (m) => {
        log.push(`b:${m}`);
        q.remove(b);
        q.remove(a);
        return false;
      },
    };
    q.addTail(a);
    q.addTail(b);
    q.addTail(entry(log, 'c'));
    q.addTail(entry(log, 'd'));
    q.wake(POLL_IN);
    expect(log).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
    expect(q.size).toBe(2);
  });

  it('an entry added by the last entry\'s callback is not woken by that wakeup (its next was the list head)', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    const late = entry(log, 'late');
    q.addTail(entry(log, 'a'));
    let added = false;
    q.addTail({
      wake: (m) => {
        log.push(`adder:${m}`);
        if (!added) q.addTail(late);
        added = true;
        return false;
      },
    });
    q.wake(POLL_IN);
    expect(log).toEqual(['a:1', 'adder:1']);
    q.wake(POLL_IN);
    expect(log.slice(2)).toEqual(['a:1', 'adder:1', 'late:1']);
  });

  // include/linux/wait.h __add_wait_queue(): add_wait_queue() (poll's __pollwait, vfio's virqfd) links
  // the entry at the head, after any WQ_FLAG_PRIORITY entries; __add_wait_queue_entry_tail() (the
  // wait_event*() sleepers: do_wait_intr, prepare_to_wait_exclusive) links it at the tail.
  it('add_wait_queue() queues at the head behind the priority entry; a wait_event sleeper at the tail', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    q.addTail(entry(log, 'sleeper1'));
    q.add(entry(log, 'poll1'));
    q.addPriority(entry(log, 'prio'));
    q.add(entry(log, 'poll2'));
    q.addTail(entry(log, 'sleeper2'));
    q.wake(POLL_IN);
    expect(log).toEqual(['prio:1', 'poll2:1', 'poll1:1', 'sleeper1:1', 'sleeper2:1']);
  });

  it('an entry add()ed at the head during a wakeup is behind the walk: woken by the next wakeup only', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    const early = entry(log, 'early');
    let added = false;
    q.addTail({
      wake: (m) => {
        log.push(`adder:${m}`);
        if (!added) q.add(early);
        added = true;
        return false;
      },
    });
    q.addTail(entry(log, 'b'));
    q.addTail(entry(log, 'c'));
    q.wake(POLL_IN);
    expect(log).toEqual(['adder:1', 'b:1', 'c:1']);
    expect(q.size).toBe(4);
    q.wake(POLL_IN);
    expect(log.slice(3)).toEqual(['early:1', 'adder:1', 'b:1', 'c:1']);
  });

  // kernel/sched/wait.c __wake_up_common(): `if (ret && (flags & WQ_FLAG_EXCLUSIVE) && !--nr_exclusive)
  // break;` with nr_exclusive = 1 for wake_up_poll(); add_wait_queue_exclusive() queues at the tail.
  it('add_wait_queue_exclusive(): queued at the tail; the first exclusive entry returning true ends the wakeup', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    const x1 = entry(log, 'x1', false);
    const x2 = entry(log, 'x2', true);
    const x3 = entry(log, 'x3', true);
    q.addExclusive(x1);
    q.addExclusive(x2);
    q.addExclusive(x3);
    q.add(entry(log, 'head', true)); // a plain entry's return value ends nothing
    q.wake(POLL_IN);
    expect(log).toEqual(['head:1', 'x1:1', 'x2:1']);
    q.remove(x2);
    expect(q.size).toBe(3);
    log.length = 0;
    q.wake(POLL_IN);
    expect(log).toEqual(['head:1', 'x1:1', 'x3:1']);
  });

  // include/linux/wait.h __add_wait_queue_exclusive() (ep_poll()'s sleeper): list_add() at the head,
  // with WQ_FLAG_EXCLUSIVE: the newest such entry is woken first, and alone when it reports it woke.
  it('__add_wait_queue_exclusive(): queued at the head; the newest exclusive sleeper alone is woken', () => {
    const q = new WaitQueue();
    const log: string[] = [];
    const s1 = entry(log, 's1', true);
    q.addExclusiveHead(s1);
    q.addExclusiveHead(entry(log, 's2', true));
    q.wake(POLL_IN);
    expect(log).toEqual(['s2:1']);
    expect(q.size).toBe(2);
    q.remove(s1);
    q.addTail(entry(log, 'tail', true)); // not exclusive: its return value ends nothing
    q.addExclusiveHead(entry(log, 's3', false)); // woke nobody: the walk goes on
    log.length = 0;
    q.wake(POLL_IN);
    expect(log).toEqual(['s3:1', 's2:1']);
  });
});
