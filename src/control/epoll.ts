// host.control.epoll: fs/eventpoll.c's per-user limit without a root write to
// /proc/sys/fs/epoll/max_user_watches (tests lower it to reach ENOSPC in a few items), and the counts.

import type { Kernel } from '../linux/kernel.js';

export class EpollControl {
  constructor(private readonly kernel: Kernel) {}

  /** max_user_watches (what the sysctl reads). */
  get maxUserWatches(): number {
    return this.kernel.epoll.max;
  }

  /** Sets max_user_watches, as a root write of the sysctl would (items already added stay). */
  setMaxUserWatches(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`max_user_watches must be an integer >= 0, not ${n}`);
    this.kernel.epoll.max = n;
  }

  /** How many epoll items the epolls created by `uid` hold (user_struct's epoll_watches). */
  watches(uid: number): number {
    return this.kernel.epoll.count(uid);
  }
}
