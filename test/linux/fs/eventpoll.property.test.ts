// epoll against a reference model (fs/eventpoll.c semantics in a few lines): random EPOLL_CTL_ADD/MOD/
// DEL, dup and close, eventfd writes and reads, and epoll_wait with small maxevents. The reference
// keeps the interest list by (file, fd number) and the ready list as an array:
// - a write wakes the file: every armed item on it that is not on the ready list goes to its tail, the
//   most recently added first (add_wait_queue() puts each item's entry at the head of the file's queue);
//   ADD and MOD do the same for a file that is readable (a read wakes with EPOLLOUT only: no item);
// - epoll_wait takes items from the front: one whose file is not readable, or that ONESHOT disarmed,
//   drops out; a reported LT item goes back to the tail, ET and ONESHOT ones do not (ONESHOT disarms
//   until MOD); items not reached stay in front;
// - DEL, and the last close of a file (not of an fd: a dup keeps the file and its items), remove items;
// - ADD fails with ENOSPC once the set holds max_user_watches (lowered to LIMIT) items (ep_insert());
// - the epoll's fdinfo lists the items by file (creation order), then fd, with their stored events
//   (EPOLLERR|EPOLLHUP added; a fired ONESHOT item keeps only EPOLLONESHOT) and data (ep_show_fdinfo()).
// So LT reports while readable, ET once per wakeup, ONESHOT once until MOD, nothing for fds not in the
// set, in the reference's order. Failures print the seed and shrink to named commands.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { Host, SyscallError } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD } from '../../../include-ts/linux/eventpoll.js';
import { O_NONBLOCK } from '../../../include-ts/linux/fcntl.js';
import { fcParams } from '../../support/runs.js';
import { epollEvent } from './epoll-script.js';

type Mode = 'LT' | 'ET' | 'ONESHOT';
/** max_user_watches for the run: small enough for random sequences to reach it. */
const LIMIT = 4;
const MODE_BITS: Record<Mode, number> = { LT: EPOLLIN, ET: EPOLLIN | EPOLLET, ONESHOT: EPOLLIN | EPOLLONESHOT };

interface Item {
  readonly file: number;
  readonly fd: number;
  mode: Mode;
  data: number;
  armed: boolean;
}

class Model {
  /** fd number -> file id (fd 3 is the epoll). */
  readonly fds = new Map<number, number>();
  readonly counter = new Map<number, number>();
  readonly items = new Map<string, Item>();
  ready: string[] = [];
  private nextFile = 0;

  openFds(): number[] {
    return [...this.fds.keys()].sort((a, b) => a - b);
  }

  pick(k: number): number {
    const fds = this.openFds();
    return fds[k % fds.length]!;
  }

  lowestFree(): number {
    let fd = 4;
    while (this.fds.has(fd)) fd++;
    return fd;
  }

  create(): void {
    const f = this.nextFile++;
    this.fds.set(this.lowestFree(), f);
    this.counter.set(f, 0);
  }

  /** A wakeup of `file` with EPOLLIN, or an item made ready by ADD/MOD. */
  private queue(key: string): void {
    const it = this.items.get(key)!;
    if (it.armed && !this.ready.includes(key)) this.ready.push(key);
  }

  write(fd: number, n: number): void {
    const f = this.fds.get(fd)!;
    this.counter.set(f, this.counter.get(f)! + n);
    for (const [key, it] of [...this.items].reverse()) if (it.file === f) this.queue(key);
  }

  ctl(op: 'ADD' | 'MOD' | 'DEL', fd: number, mode: Mode, data: number): string {
    const f = this.fds.get(fd)!;
    const key = `${f}:${fd}`;
    const it = this.items.get(key);
    if (op === 'ADD') {
      if (it) return 'EEXIST';
      if (this.items.size >= LIMIT) return 'ENOSPC';
      this.items.set(key, { file: f, fd, mode, data, armed: true });
    } else if (!it) return 'ENOENT';
    else if (op === 'DEL') {
      this.items.delete(key);
      this.ready = this.ready.filter((k) => k !== key);
      return 'ok';
    } else Object.assign(it, { mode, data, armed: true });
    if (this.counter.get(f)! > 0) this.queue(key);
    return 'ok';
  }

  close(fd: number): void {
    const f = this.fds.get(fd)!;
    this.fds.delete(fd);
    if ([...this.fds.values()].includes(f)) return;
    for (const [key, it] of [...this.items]) if (it.file === f) this.items.delete(key);
    this.ready = this.ready.filter((k) => this.items.has(k));
  }

  /** ep_show_fdinfo()'s lines as `fd events data` (hex). */
  fdinfo(): string[] {
    const stored = (it: Item): number => (it.armed ? MODE_BITS[it.mode] | EPOLLERR | EPOLLHUP : EPOLLONESHOT);
    return [...this.items.values()].sort((a, b) => a.file - b.file || a.fd - b.fd).map((it) => `${it.fd} ${(stored(it) >>> 0).toString(16)} ${it.data.toString(16)}`);
  }

  wait(max: number): string[] {
    const out: string[] = [];
    const requeue: string[] = [];
    while (this.ready.length > 0 && out.length < max) {
      const key = this.ready.shift()!;
      const it = this.items.get(key)!;
      if (!it.armed || this.counter.get(it.file)! === 0) continue;
      out.push(`${it.data}:1`);
      if (it.mode === 'ONESHOT') it.armed = false;
      else if (it.mode === 'LT') requeue.push(key);
    }
    this.ready = [...this.ready, ...requeue];
    return out;
  }
}

interface Real {
  readonly p: Process;
  readonly ep: number;
}

const u64 = (b: Uint8Array): number => new DataView(b.buffer).getUint32(0, true);
function outcome(f: () => void): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
}
function same(what: string, model: unknown, real: unknown): void {
  if (JSON.stringify(model) !== JSON.stringify(real)) throw new Error(`${what}: reference ${JSON.stringify(model)}, epoll ${JSON.stringify(real)}`);
}

type Cmd = fc.Command<Model, Real>;
const cmd = (name: string, check: (m: Model) => boolean, run: (m: Model, r: Real) => void): Cmd => ({ check, run, toString: () => name });
const hasFd = (m: Model): boolean => m.fds.size > 0;

const commands = [
  fc.constant(cmd('eventfd()', (m) => m.fds.size < 6, (m, r) => {
    const want = m.lowestFree();
    m.create();
    same('eventfd fd', want, r.p.eventfd(0, O_NONBLOCK));
  })),
  fc.tuple(fc.constantFrom<'ADD' | 'MOD' | 'DEL'>('ADD', 'MOD', 'DEL'), fc.nat(5), fc.constantFrom<Mode>('LT', 'ET', 'ONESHOT'), fc.integer({ min: 1, max: 99 })).map(([op, k, mode, data]) =>
    cmd(`epoll_ctl(${op}, fd#${k}${op === 'DEL' ? '' : `, ${mode}, data=${data}`})`, hasFd, (m, r) => {
      const fd = m.pick(k);
      const want = m.ctl(op, fd, mode, data);
      const code = op === 'ADD' ? EPOLL_CTL_ADD : op === 'MOD' ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
      same(`epoll_ctl(${op}, ${fd})`, want, outcome(() => r.p.epollCtl(r.ep, code, fd, epollEvent(MODE_BITS[mode], BigInt(data)))));
    })),
  fc.tuple(fc.nat(5), fc.integer({ min: 0, max: 2 })).map(([k, n]) => cmd(`write(fd#${k}, ${n})`, hasFd, (m, r) => {
    const fd = m.pick(k);
    m.write(fd, n);
    const b = new Uint8Array(8);
    b[0] = n;
    r.p.write(fd, b);
  })),
  fc.nat(5).map((k) => cmd(`read(fd#${k})`, hasFd, (m, r) => {
    const fd = m.pick(k);
    const f = m.fds.get(fd)!;
    const want = m.counter.get(f)! > 0 ? String(m.counter.get(f)) : 'EAGAIN';
    m.counter.set(f, 0);
    const b = new Uint8Array(8);
    const got = outcome(() => r.p.read(fd, b));
    same(`read(${fd})`, want, got === 'ok' ? String(u64(b)) : got);
  })),
  fc.nat(5).map((k) => cmd(`dup(fd#${k})`, (m) => hasFd(m) && m.fds.size < 8, (m, r) => {
    const fd = m.pick(k);
    const want = m.lowestFree();
    m.fds.set(want, m.fds.get(fd)!);
    same(`dup(${fd})`, want, r.p.dup(fd));
  })),
  fc.nat(5).map((k) => cmd(`close(fd#${k})`, hasFd, (m, r) => {
    const fd = m.pick(k);
    m.close(fd);
    r.p.close(fd);
  })),
  fc.constant(cmd('cat /proc/self/fdinfo/3', () => true, (m, r) => {
    const got = r.p.readFile(`/proc/self/fdinfo/${r.ep}`).split('\n').filter((l) => l.startsWith('tfd:')).map((l) => {
      const f = /^tfd: +(\d+) events: +([0-9a-f]+) data: +([0-9a-f]+)  pos:0 /.exec(l);
      return f ? `${f[1]} ${f[2]} ${f[3]}` : l;
    });
    same('fdinfo', m.fdinfo(), got);
  })),
  fc.integer({ min: 1, max: 3 }).map((max) => cmd(`epoll_wait(maxevents=${max})`, () => true, (m, r) => {
    const want = m.wait(max);
    const buf = new Uint8Array(max * 12);
    const n = r.p.epollWait(r.ep, buf, max, 0);
    const dv = new DataView(buf.buffer);
    const got = Array.from({ length: n }, (_, i) => `${dv.getUint32(i * 12 + 4, true)}:${dv.getUint32(i * 12, true).toString(16)}`);
    same(`epoll_wait(${max})`, want, got);
  })),
];

describe('epoll against a reference model of its interest and ready lists', () => {
  it('random ADD/MOD/DEL, dup/close, eventfd writes and reads, epoll_wait with small maxevents, fdinfo, ENOSPC (property)', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 60, size: 'large' }), (cmds) => {
        fc.modelRun(() => {
          const host = Host.create();
          host.control.epoll.setMaxUserWatches(LIMIT);
          const p = host.spawn();
          const ep = p.epollCreate1(0);
          return { model: new Model(), real: { p, ep } };
        }, cmds);
      }),
      fcParams(150),
    );
  });
});
