// examples/epoll-loop.ts: an edge-triggered epoll loop over VFIO MSI-X eventfds sees every interrupt
// the NIC raised, once, with the vector as epoll data, and ends (EINTR) when nothing can ring any more.
import { describe, expect, it } from 'vitest';
import { epollLoop } from '../../examples/epoll-loop.js';

describe('examples/epoll-loop.ts', () => {
  it('counts every MSI-X interrupt per vector through epoll_wait, then stops', async () => {
    const lines: string[] = [];
    const r = await epollLoop((l) => lines.push(l), undefined, 4, [[1, 0], [0, 2], [4, 2], [4, 3], [0, 1], [2, 2]]);
    expect(r.counts).toEqual([1, 1, 3, 1]);
    expect(r.rounds).toBe(6);
    expect(lines.filter((l) => l.startsWith('epoll_ctl(')).length).toBe(4);
    expect(lines.filter((l) => l.startsWith('epoll_wait(')).at(-1)).toMatch(/= -1 EINTR/);
  });
});
