// fs/eventpoll.c max_user_watches: ep_insert() fails with ENOSPC when the epoll's user (ep->user, set
// from the creator in ep_alloc()) already has max_user_watches items; every removal (__ep_remove())
// gives one back. The limit is sized in eventpoll_init() from low memory and is the sysctl
// /proc/sys/fs/epoll/max_user_watches (0644, proc_doulongvec_minmax, [0, LONG_MAX]: kernel/sysctl.c).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { Host } from '../../../src/index.js';
import { EP_ITEM_COST, defaultMaxUserWatches } from '../../../src/linux/fs/eventpoll.js';
import { EPOLLIN, EPOLL_CTL_ADD, EPOLL_CTL_DEL } from '../../../include-ts/linux/eventpoll.js';
import { O_RDONLY, O_WRONLY } from '../../../include-ts/linux/fcntl.js';
import { expectErrno } from '../../support/vfio.js';
import { epollEvent } from './epoll-script.js';

const SYSCTL = '/proc/sys/fs/epoll/max_user_watches';
const ev = (data = 0n): Uint8Array => epollEvent(EPOLLIN, data);

describe('max_user_watches: the default (eventpoll_init)', () => {
  it('is 4% of the modeled 8 GiB of low memory in EP_ITEM_COST units, and the sysctl reads it', () => {
    // (2097152 pages / 25) << 12 = 343597056 bytes; / 184 = 1867375.
    expect(defaultMaxUserWatches(8 * 1024 ** 3)).toBe(1867375);
    const host = Host.create();
    expect(host.spawn().readFile(SYSCTL)).toBe('1867375\n');
    expect(host.control.epoll.maxUserWatches).toBe(1867375);
  });

  it.skipIf(!existsSync(SYSCTL))('EP_ITEM_COST = 184 fits this machine: its value comes from a boot-time RAM a little below MemTotal', () => {
    const real = Number(readFileSync(SYSCTL, 'utf8'));
    const memTotalPages = Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) / 4;
    // The pages/25 that give `real` with this cost (the sysctl may have been changed: then say so).
    const fifth = Math.ceil((real * EP_ITEM_COST) / 4096);
    const bootPages = fifth * 25;
    expect(Math.floor((fifth * 4096) / EP_ITEM_COST), 'max_user_watches was changed on this machine').toBe(real);
    expect(bootPages).toBeLessThanOrEqual(memTotalPages + 25);
    expect(bootPages).toBeGreaterThan(memTotalPages * 0.97);
  });
});

describe('max_user_watches: ENOSPC per user (ep_insert)', () => {
  it('the creator\'s items count, every user for themselves; removal, close of the target and close of the epoll give them back', () => {
    const host = Host.create();
    host.control.epoll.setMaxUserWatches(3);
    const p = host.spawn({ uid: 1000, gid: 1000 });
    const q = host.spawn({ uid: 1001, gid: 1001 });
    const ep = p.epollCreate1(0);
    const efds = [0, 1, 2, 3].map(() => p.eventfd(0, 0));
    for (const e of efds.slice(0, 3)) p.epollCtl(ep, EPOLL_CTL_ADD, e, ev());
    expect(host.control.epoll.watches(1000)).toBe(3);
    const err = expectErrno(() => p.epollCtl(ep, EPOLL_CTL_ADD, efds[3]!, ev()), 'ENOSPC');
    expect(err.message).toContain('max_user_watches');
    // Validate before mutating: the failed add left nothing behind.
    expect(host.control.epoll.watches(1000)).toBe(3);
    expectErrno(() => p.epollCtl(ep, EPOLL_CTL_DEL, efds[3]!, null), 'ENOENT');
    // EEXIST is decided in do_epoll_ctl(), before ep_insert() looks at the count.
    expectErrno(() => p.epollCtl(ep, EPOLL_CTL_ADD, efds[0]!, ev()), 'EEXIST');
    // Another user has a count of their own.
    const qep = q.epollCreate1(0);
    const qe = q.eventfd(0, 0);
    q.epollCtl(qep, EPOLL_CTL_ADD, qe, ev());
    expect(host.control.epoll.watches(1001)).toBe(1);
    // A second epoll of the same user shares the user's count.
    const ep2 = p.epollCreate1(0);
    expectErrno(() => p.epollCtl(ep2, EPOLL_CTL_ADD, efds[3]!, ev()), 'ENOSPC');
    p.epollCtl(ep, EPOLL_CTL_DEL, efds[0]!, null);
    p.epollCtl(ep2, EPOLL_CTL_ADD, efds[3]!, ev());
    expectErrno(() => p.epollCtl(ep, EPOLL_CTL_ADD, efds[0]!, ev()), 'ENOSPC');
    // Closing a watched file removes its items (eventpoll_release_file).
    p.close(efds[1]!);
    expect(host.control.epoll.watches(1000)).toBe(2);
    // An epoll inside an epoll is an item like any other.
    p.epollCtl(ep, EPOLL_CTL_ADD, ep2, ev());
    expect(host.control.epoll.watches(1000)).toBe(3);
    // Closing an epoll drops all its items (ep_clear_and_put).
    p.close(ep);
    expect(host.control.epoll.watches(1000)).toBe(1);
    p.close(ep2);
    expect(host.control.epoll.watches(1000)).toBe(0);
    expect(host.control.epoll.watches(1001)).toBe(1);
  });

  it('a limit of 0 refuses every item; raising it (even below the count) takes effect at the next add', () => {
    const host = Host.create();
    const p = host.spawn();
    const ep = p.epollCreate1(0);
    const a = p.eventfd(0, 0);
    const b = p.eventfd(0, 0);
    p.epollCtl(ep, EPOLL_CTL_ADD, a, ev());
    p.writeFile(SYSCTL, '0\n');
    expect(p.readFile(SYSCTL)).toBe('0\n');
    expectErrno(() => p.epollCtl(ep, EPOLL_CTL_ADD, b, ev()), 'ENOSPC');
    // The item added before the limit fell stays.
    expect(host.control.epoll.watches(0)).toBe(1);
    p.writeFile(SYSCTL, '2');
    p.epollCtl(ep, EPOLL_CTL_ADD, b, ev());
    expect(host.control.epoll.watches(0)).toBe(2);
  });
});

describe('/proc/sys/fs/epoll/max_user_watches writes (proc_doulongvec_minmax)', () => {
  // Measured on this machine's 6.18 (each write alone, as root; the bytes write() returned or the errno).
  const V = '5491511';
  const MEASURED: readonly (readonly [string, number | 'EINVAL'])[] = [
    ['abc', 'EINVAL'], ['-1', 'EINVAL'], ['9223372036854775808', 'EINVAL'], ['9223372036854775807x', 'EINVAL'], ['+5491511', 'EINVAL'],
    ['', 0], [V, 7], [` ${V}\n`, 9], [`${V} abc`, 8], [`${V} 77`, 8], ['0x53cb37', 8], [`${V}\t`, 8],
  ];

  it('returns the bytes consumed or EINVAL, as measured; hex is base 0; the value lands when valid', () => {
    const p = Host.create().spawn();
    for (const [data, want] of MEASURED) {
      const fd = p.open(SYSCTL, O_WRONLY);
      if (want === 'EINVAL') expectErrno(() => p.write(fd, new TextEncoder().encode(data)), 'EINVAL');
      else expect(p.write(fd, new TextEncoder().encode(data)), JSON.stringify(data)).toBe(want);
      p.close(fd);
    }
    expect(p.readFile(SYSCTL)).toBe(`${V}\n`);
    p.writeFile(SYSCTL, '010');
    expect(p.readFile(SYSCTL)).toBe('8\n');
    expectErrno(() => p.writeFile(SYSCTL, '08'), 'EINVAL');
    expectErrno(() => p.writeFile(SYSCTL, '1234567890123456789012'), 'EINVAL');
    expect(p.readFile(SYSCTL)).toBe('8\n');
  });

  it('is 0644 root: others may read it, not write it', () => {
    const host = Host.create();
    const u = host.spawn({ uid: 1000, gid: 1000 });
    expect(u.readFile(SYSCTL)).toBe('1867375\n');
    expectErrno(() => u.open(SYSCTL, O_WRONLY), 'EACCES');
    u.close(u.open(SYSCTL, O_RDONLY));
  });
});
