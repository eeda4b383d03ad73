// fs/eventpoll.c: epoll. An epoll file (struct eventpoll behind an anon inode "[eventpoll]") keeps an
// interest list of items keyed by (struct file, fd) — struct epoll_filefd, the rbtree key — and a
// ready list. Each item hangs an ordinary wait-queue entry on its file's wait queue (ep_poll_callback,
// queued by ep_ptable_queue_proc), so readiness arrives with the file's wakeups instead of being
// rescanned; when events are harvested (ep_send_events) every item taken off the ready list is polled
// again, reported if it still has events, and put back at the tail unless it is EPOLLET or
// EPOLLONESHOT (which disarms it until EPOLL_CTL_MOD). The epoll file is pollable itself and can be
// watched by another epoll, within ep_loop_check()'s limits (no cycles, EP_MAX_NESTS levels) and
// reverse_path_check()'s limits on wakeup paths. Closing the last reference to a file takes it out
// of every set (eventpoll_release(), from KFile.put); a dup'd fd keeps the file, and so the item, alive.
//
// Each item is charged to the user who created the epoll (ep->user, struct user_struct's
// epoll_watches): EPOLL_CTL_ADD fails with ENOSPC once that user has max_user_watches items, the
// /proc/sys/fs/epoll/max_user_watches sysctl sized at boot from low memory (eventpoll_init()). The
// epoll's fdinfo lists its items (ep_show_fdinfo(), via src/linux/fs/fdinfo.ts).
//
// Not modelled: ep->ovflist (events that arrive while ep_send_events() copies to userspace: no wakeup
// can run during a harvest here), wakeup sources (EPOLLWAKEUP is kept or dropped, nothing more), busy
// polling and the EPIOC[GS]PARAMS ioctls.

import { CAP_BLOCK_SUSPEND } from '../../../include-ts/linux/capability.js';
import { kerr } from '../errors.js';
import { KFile, type EpollLink } from './file.js';
import { noopLlseek } from './llseek.js';
import type { Kernel } from '../kernel.js';
import { WaitQueue, type WaitEntry } from '../waitqueue.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import {
  EPOLLERR, EPOLLEXCLUSIVE, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDNORM, EPOLLWAKEUP,
  EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, epoll_event,
} from '../../../include-ts/linux/eventpoll.js';
import { setU32 } from '../../../abi/bytes.js';
import { MODEL_FREE_RAM } from '../resource.js';
import { attr } from './vfs.js';
import { parseUlongSysctl } from './sysctl.js';

/** Maximum nesting of epoll sets (ep_loop_check(), reverse_path_check()). */
export const EP_MAX_NESTS = 4;
/** sizeof(struct epoll_event) on x86-64 (packed: 12). */
export const EPOLL_EVENT_SIZE = epoll_event.size;
/** offsetof(struct epoll_event, events) and offsetof(struct epoll_event, data) (4: packed). */
export const EPOLL_EVENTS_OFF = epoll_event.offsetof('events');
export const EPOLL_DATA_OFF = epoll_event.offsetof('data');
/** EP_MAX_EVENTS = INT_MAX / sizeof(struct epoll_event). */
export const EP_MAX_EVENTS = Math.floor(0x7fff_ffff / EPOLL_EVENT_SIZE);

// int32 copies (EPOLLET is bit 31): every mask below is compared with `!== 0`.
const ET = EPOLLET | 0;
const ONESHOT = EPOLLONESHOT;
const EXCLUSIVE = EPOLLEXCLUSIVE;
/** EP_PRIVATE_BITS: the bits that are no event. */
export const EP_PRIVATE_BITS = (EPOLLWAKEUP | EPOLLONESHOT | ET | EPOLLEXCLUSIVE) | 0;
const EPOLLINOUT_BITS = EPOLLIN | EPOLLOUT;
/** EPOLLEXCLUSIVE_OK_BITS: what may come with EPOLLEXCLUSIVE. */
export const EPOLLEXCLUSIVE_OK_BITS = (EPOLLINOUT_BITS | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | ET | EPOLLEXCLUSIVE) | 0;
/** reverse_path_check(): how many wakeup paths of each length (1..4) may lead to one file. */
const PATH_LIMITS = [1000, 500, 100, 50, 10] as const;

/** A ready list (ep->rdllist, or the private txlist of a harvest): items linked through their own fields. */
class ReadyList {
  head: EpItem | null = null;
  tail: EpItem | null = null;

  get empty(): boolean {
    return this.head === null;
  }

  addTail(e: EpItem): void {
    e.list = this;
    e.prev = this.tail;
    e.next = null;
    if (this.tail !== null) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  addHead(e: EpItem): void {
    e.list = this;
    e.prev = null;
    e.next = this.head;
    if (this.head !== null) this.head.prev = e;
    else this.tail = e;
    this.head = e;
  }

  /** list_del_init(). */
  remove(e: EpItem): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
    e.list = null;
  }

  /** list_splice(this, to): this list's items go before `to`'s; this list ends empty. */
  spliceToHead(to: ReadyList): void {
    if (this.head === null) return;
    for (let e: EpItem | null = this.head; e !== null; e = e.next) e.list = to;
    this.tail!.next = to.head;
    if (to.head !== null) to.head.prev = this.tail;
    else to.tail = this.tail;
    to.head = this.head;
    this.head = this.tail = null;
  }
}

/**
 * struct epitem with its eppoll_entry: one (file, fd) in one epoll set. It is itself the wait-queue
 * entry on the file's queue, so a wakeup reaches ep_poll_callback() with no allocation.
 */
export class EpItem implements WaitEntry, EpollLink {
  /** epi->event.events (int32: EPOLLET is the sign bit). */
  events: number;
  /** epi->event.data as two u32 halves. */
  dataLo: number;
  dataHi: number;
  /** The wait queue the item's entry is on (eppoll_entry.whead), if the file has one. */
  whead: WaitQueue | null = null;
  // Ready-list links (epi->rdllink): `list` is non-null exactly when ep_is_linked().
  list: ReadyList | null = null;
  prev: EpItem | null = null;
  next: EpItem | null = null;

  constructor(
    readonly ep: EpollFile,
    readonly file: KFile,
    readonly fd: number,
    events: number,
    dataLo: number,
    dataHi: number,
  ) {
    this.events = events | 0;
    this.dataLo = dataLo;
    this.dataHi = dataHi;
  }

  /** ep_poll_callback(). */
  wake(mask: number): boolean {
    return this.ep.pollCallback(this, mask);
  }

  unlink(): void {
    this.ep.remove(this);
  }

  /** ep_item_poll(): the file's current events that this item is interested in. */
  poll(): number {
    return this.file.poll() & this.events;
  }
}

/** State of one ep_loop_check() walk (loop_check_gen, inserting_into, tfile_check_list). */
interface LoopCheck {
  readonly into: EpollFile;
  readonly files: Set<KFile>;
}

/** EP_ITEM_COST: sizeof(struct epitem) + sizeof(struct eppoll_entry) on x86-64 in 6.18 (120 + 64). */
export const EP_ITEM_COST = 184;
const PAGE_SHIFT = 12;
/** LONG_MAX: the sysctl's upper bound (extra2 = &long_max). */
const LONG_MAX = (1n << 63n) - 1n;

/**
 * eventpoll_init(): "allows top 4% of lomem to be allocated for epoll watches (per user)":
 * ((totalram_pages - totalhigh_pages) / 25 << PAGE_SHIFT) / EP_ITEM_COST.
 */
export function defaultMaxUserWatches(ramBytes: number): number {
  const lowPages = Math.floor(ramBytes / 2 ** PAGE_SHIFT);
  return Math.floor((Math.floor(lowPages / 25) * 2 ** PAGE_SHIFT) / EP_ITEM_COST);
}

/** One user's epoll_watches counter (struct user_struct, by uid). */
export interface EpollUser {
  readonly uid: number;
  watches: number;
}

/** max_user_watches and every user's epoll_watches count. */
export class EpollWatches {
  /** /proc/sys/fs/epoll/max_user_watches (a long in the kernel; kept below 2^53 here). */
  max: number;
  private readonly users = new Map<number, EpollUser>();

  constructor(ramBytes: number) {
    this.max = defaultMaxUserWatches(ramBytes);
  }

  /** get_current_user(): the uid's counter, made on first use. */
  user(uid: number): EpollUser {
    let u = this.users.get(uid);
    if (u === undefined) this.users.set(uid, (u = { uid, watches: 0 }));
    return u;
  }

  /** How many epoll items the uid's epolls hold. */
  count(uid: number): number {
    return this.users.get(uid)?.watches ?? 0;
  }
}

/** eventpoll_init() and epoll_sysctls_init(): the limit, and /proc/sys/fs/epoll/max_user_watches (0644, proc_doulongvec_minmax in [0, LONG_MAX]). */
export function initEpoll(kernel: Kernel): void {
  const w = (kernel.epoll = new EpollWatches(MODEL_FREE_RAM));
  kernel.vfs.mkdirp('/proc/sys/fs/epoll').set('max_user_watches', attr('procfs', () => `${w.max}\n`, (_ctx, data) => {
    const { value, consumed } = parseUlongSysctl('max_user_watches', data, 0n, LONG_MAX);
    // The model keeps the limit as a number: past 2^53 it is as good as unlimited.
    if (value !== null) w.max = value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
    return consumed;
  }, 0o644));
}

/** An epoll file: struct eventpoll. */
export class EpollFile extends KFile {
  readonly kind = 'epoll' as const;
  readonly path = 'anon_inode:[eventpoll]';
  /** eventpoll_fops.poll = ep_eventpoll_poll. */
  override readonly canPoll = true;
  /** ->llseek = noop_llseek. */
  override llseek(): number {
    return noopLlseek(this);
  }
  /** ep->wq: tasks sleeping in epoll_wait(). */
  readonly wq = new WaitQueue();
  /** ep->poll_wait: pollers of the epoll file itself (poll(2), an outer epoll's items). */
  readonly pollWait = new WaitQueue();
  /** ep->rdllist. */
  readonly rdllist = new ReadyList();
  /** The txlist of ep_send_events() and ep_eventpoll_poll() (kept to allocate nothing per harvest). */
  private readonly txlist = new ReadyList();
  /** ep->rbr: the interest list by (file, fd). */
  private readonly rbr = new Map<KFile, Map<number, EpItem>>();
  private count = 0;
  /** ep->gen and ep->loop_check_depth: the ep_loop_check() walk that visited this ep last, and what it found. */
  private gen: LoopCheck | null = null;
  private loopCheckDepth = 0;

  /** ep->user: the creator's counter, charged for every item of this epoll. */
  readonly user: EpollUser;

  constructor(private readonly watches: EpollWatches, uid: number) {
    super();
    // anon_inode_getfile("[eventpoll]", ..., O_RDWR | (flags & O_CLOEXEC)) keeps O_ACCMODE | O_NONBLOCK.
    this.flags = O_RDWR;
    this.user = watches.user(uid);
  }

  override get waitQueue(): WaitQueue {
    return this.pollWait;
  }

  /** The items, for inspection (rbtree order is by file address in the kernel; here, insertion order). */
  items(): EpItem[] {
    const out: EpItem[] = [];
    for (const m of this.rbr.values()) for (const e of m.values()) out.push(e);
    return out;
  }

  get size(): number {
    return this.count;
  }

  /** ep_find(). */
  find(file: KFile, fd: number): EpItem | undefined {
    return this.rbr.get(file)?.get(fd);
  }

  /** ep_events_available(). */
  get eventsAvailable(): boolean {
    return this.rdllist.head !== null;
  }

  // ---------------------------------------------------------------------------------------------
  // Wakeups

  /** ep_poll_callback(): returns `ewake`, which ends an exclusive wakeup. */
  pollCallback(epi: EpItem, mask: number): boolean {
    let ewake = false;
    // No poll event in the mask: the item is disabled (EPOLLONESHOT fired, no EPOLL_CTL_MOD since).
    // A wakeup with a key must share a bit with the item's events.
    if ((epi.events & ~EP_PRIVATE_BITS) !== 0 && (mask === 0 || (mask & epi.events) !== 0)) {
      if (epi.list === null) this.rdllist.addTail(epi);
      if (this.wq.size !== 0) {
        if ((epi.events & EXCLUSIVE) !== 0) {
          const io = mask & EPOLLINOUT_BITS;
          ewake = io === EPOLLIN ? (epi.events & EPOLLIN) !== 0 : io === EPOLLOUT ? (epi.events & EPOLLOUT) !== 0 : io === 0;
        }
        this.wq.wake(mask);
      }
      if (this.pollWait.size !== 0) this.safewake();
    }
    return (epi.events & EXCLUSIVE) === 0 ? true : ewake;
  }

  /** ep_poll_safewake(): an outer epoll (or a poll(2) caller) watching this one hears EPOLLIN. */
  private safewake(): void {
    this.pollWait.wake(EPOLLIN);
  }

  /** An item became ready outside a wakeup (insert, modify): ready list, then the waiters. */
  private queueReady(epi: EpItem): void {
    if (epi.list !== null) return;
    this.rdllist.addTail(epi);
    if (this.wq.size !== 0) this.wq.wake(0);
    if (this.pollWait.size !== 0) this.safewake();
  }

  // ---------------------------------------------------------------------------------------------
  // epoll_ctl

  /**
   * ep_insert(). `check` is set for a full check (the epoll is itself watched, or the target is an
   * epoll): its files get reverse_path_check(), EINVAL when the new item makes too many or too long
   * wakeup paths (the item is removed again, as ep_remove_safe() does, before it was ever polled).
   */
  insert(file: KFile, fd: number, events: number, dataLo: number, dataHi: number, check: LoopCheck | null): void {
    // percpu_counter_compare(&ep->user->epoll_watches, max_user_watches) >= 0: the first check.
    if (this.user.watches >= this.watches.max) {
      throw kerr('ENOSPC', `uid ${this.user.uid} already has ${this.user.watches} epoll items, the limit of /proc/sys/fs/epoll/max_user_watches (${this.watches.max})`);
    }
    this.user.watches++;
    const epi = new EpItem(this, file, fd, events, dataLo, dataHi);
    // attach_epitem(): hlist_add_head on file->f_ep.
    (file.fEp ??= []).unshift(epi);
    if (check !== null && !(file instanceof EpollFile)) check.files.add(file);
    let byFd = this.rbr.get(file);
    if (byFd === undefined) this.rbr.set(file, (byFd = new Map()));
    byFd.set(fd, epi);
    this.count++;
    if (check !== null) {
      const bad = reversePathCheck(check.files);
      if (bad !== null) {
        this.remove(epi);
        throw kerr('EINVAL', `adding fd ${fd} would make ${bad}`);
      }
    }
    // ep_item_poll() with ep_ptable_queue_proc(): hook the item on the file's wait queue.
    const wq = file.waitQueue;
    if (wq !== null) {
      if ((epi.events & EXCLUSIVE) !== 0) wq.addExclusive(epi);
      else wq.add(epi);
      epi.whead = wq;
    }
    if (epi.poll() !== 0) this.queueReady(epi);
  }

  /** ep_modify(): new events and data, then a poll; a ready item goes on the ready list. */
  modify(epi: EpItem, events: number, dataLo: number, dataHi: number): void {
    epi.events = events | 0;
    epi.dataLo = dataLo;
    epi.dataHi = dataHi;
    if (epi.poll() !== 0) this.queueReady(epi);
  }

  /** ep_remove(): off the file's wait queue, the file's f_ep, the interest list and the ready list. */
  remove(epi: EpItem): void {
    if (epi.whead !== null) {
      epi.whead.remove(epi);
      epi.whead = null;
    }
    const fEp = epi.file.fEp;
    if (fEp !== null) {
      const i = fEp.indexOf(epi);
      if (i >= 0) fEp.splice(i, 1);
      if (fEp.length === 0) epi.file.fEp = null;
    }
    const byFd = this.rbr.get(epi.file);
    if (byFd?.get(epi.fd) === epi) {
      byFd.delete(epi.fd);
      if (byFd.size === 0) this.rbr.delete(epi.file);
      this.count--;
      this.user.watches--;
    }
    if (epi.list !== null) epi.list.remove(epi);
  }

  /**
   * ep_loop_check(): adding epoll `to` to this one must not close a cycle, and the chain through it
   * (how deep `to` goes, plus one, plus how deeply this epoll is nested) must stay within
   * EP_MAX_NESTS. Returns the walk's state (the files found below `to`, for reverse_path_check()).
   */
  loopCheck(to: EpollFile): LoopCheck {
    const check: LoopCheck = { into: this, files: new Set() };
    const depth = to.loopCheckDown(check, 0);
    if (depth > EP_MAX_NESTS) {
      throw kerr('ELOOP', `the epoll being added contains this epoll, or nests more than ${EP_MAX_NESTS} deep`);
    }
    const up = this.loopCheckUp(check);
    if (depth + 1 + up > EP_MAX_NESTS) {
      throw kerr('ELOOP', `the chain of nested epolls would be ${depth + 1 + up} deep (this epoll is nested ${up} deep, the one added ${depth} deep); the limit is EP_MAX_NESTS = ${EP_MAX_NESTS}`);
    }
    return check;
  }

  /** A full check's state when the target is no epoll (do_epoll_ctl: the epoll is itself watched). */
  static pathCheck(into: EpollFile): LoopCheck {
    return { into, files: new Set() };
  }

  /** ep_loop_check_proc(): how deep epolls nest below this one (> EP_MAX_NESTS: a loop, or too deep). */
  private loopCheckDown(check: LoopCheck, depth: number): number {
    if (this.gen === check) return this.loopCheckDepth;
    this.gen = check;
    let result = 0;
    for (const byFd of this.rbr.values()) {
      for (const epi of byFd.values()) {
        const f = epi.file;
        if (f instanceof EpollFile) {
          if (f === check.into || depth > EP_MAX_NESTS) result = EP_MAX_NESTS + 1;
          else result = Math.max(result, f.loopCheckDown(check, depth + 1) + 1);
          if (result > EP_MAX_NESTS) break;
        } else check.files.add(f);
      }
      if (result > EP_MAX_NESTS) break;
    }
    this.loopCheckDepth = result;
    return result;
  }

  /** ep_get_upwards_depth_proc(): how deeply epolls watch this one. */
  private loopCheckUp(check: LoopCheck): number {
    if (this.gen === check) return this.loopCheckDepth;
    let result = 0;
    for (const link of this.fEp ?? []) result = Math.max(result, (link as EpItem).ep.loopCheckUp(check) + 1);
    this.gen = check;
    this.loopCheckDepth = result;
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Harvest

  /**
   * ep_send_events(): takes items off the ready list in order, polls each again, writes the ones with
   * events to `out` (12-byte packed epoll_events; null is a NULL pointer) and re-queues level-triggered
   * ones at the tail; EPOLLONESHOT disarms (events &= EP_PRIVATE_BITS). An event that does not fit in
   * `out` faults like epoll_put_uevent(): the events word is written if it fits, the item goes back,
   * and the call returns what it wrote so far, or EFAULT if nothing.
   */
  sendEvents(out: Uint8Array | null, maxevents: number): number {
    const tx = this.txlist;
    this.rdllist.spliceToHead(tx); // ep_start_scan()
    let res = 0;
    let fault = false;
    for (let epi = tx.head; epi !== null && res < maxevents; epi = tx.head) {
      tx.remove(epi);
      const revents = epi.poll();
      if (revents === 0) continue;
      const off = res * EPOLL_EVENT_SIZE;
      const room = out === null ? 0 : out.length - off;
      if (room >= EPOLL_EVENTS_OFF + 4) setU32(out!, off + EPOLL_EVENTS_OFF, revents); // __put_user(revents) came first
      if (room < EPOLL_EVENT_SIZE) {
        tx.addHead(epi);
        fault = true;
        break;
      }
      setU32(out!, off + EPOLL_DATA_OFF, epi.dataLo);
      setU32(out!, off + EPOLL_DATA_OFF + 4, epi.dataHi);
      res++;
      if ((epi.events & ONESHOT) !== 0) epi.events &= EP_PRIVATE_BITS;
      else if ((epi.events & ET) === 0) this.rdllist.addTail(epi);
    }
    tx.spliceToHead(this.rdllist); // ep_done_scan(): what was not harvested goes back in front
    this.wakeNextWaiter();
    if (fault && res === 0) throw kerr('EFAULT', `the events buffer (${out === null ? 'NULL' : `${out.length} bytes`}) has no room for an epoll_event (${EPOLL_EVENT_SIZE} bytes) at offset 0`);
    return res;
  }

  /**
   * ep_eventpoll_poll(): EPOLLIN|EPOLLRDNORM when an item on the ready list still polls ready. Items
   * that do not are dropped from the ready list on the way, as the kernel does.
   */
  override poll(): number {
    let res = 0;
    for (let epi = this.rdllist.head; epi !== null; ) {
      const next = epi.next;
      if (epi.poll() !== 0) {
        res = EPOLLIN | EPOLLRDNORM;
        break;
      }
      this.rdllist.remove(epi);
      epi = next;
    }
    this.wakeNextWaiter();
    return res;
  }

  /**
   * The end of ep_done_scan(): items still ready wake ep->wq, whose epoll_wait sleepers are woken one
   * at a time (the harvester itself left the queue when it was woken), so the next one gets the
   * level-triggered events the previous harvest put back.
   */
  private wakeNextWaiter(): void {
    if (this.rdllist.head !== null && this.wq.size !== 0) this.wq.wake(0);
  }

  /**
   * ep_show_fdinfo(): one line per item in rbtree order (ep_cmp_ffd(): by struct file, then fd; the
   * file's creation order stands in for its address), with the item's events as stored (EPOLLERR|
   * EPOLLHUP added, disarmed to the private bits after an EPOLLONESHOT fired), its data, and the
   * target file's f_pos, inode number and superblock device.
   */
  override showFdinfo(kernel: Kernel): string {
    const items = this.items().sort((a, b) => a.file.serial - b.file.serial || a.fd - b.fd);
    let out = '';
    for (const epi of items) {
      const { ino, dev } = kernel.inodes.of(epi.file);
      const data = ((BigInt(epi.dataHi) << 32n) | BigInt(epi.dataLo)).toString(16);
      out += `tfd: ${String(epi.fd).padStart(8)} events: ${(epi.events >>> 0).toString(16).padStart(8)} data: ${data.padStart(16)}  pos:${epi.file.pos} ino:${ino.toString(16)} sdev:${dev.toString(16)}\n`;
    }
    return out;
  }

  /** ep_eventpoll_release() -> ep_clear_and_put(): wake the pollers, then drop every item. */
  override release(_kernel: Kernel): void {
    if (this.pollWait.size !== 0) this.safewake();
    for (const epi of this.items()) this.remove(epi);
  }
}

/**
 * reverse_path_check(): for each file the check found, count the wakeup paths that lead up from it
 * through nested epolls, by length; more than PATH_LIMITS[n] paths of length n (or a path longer than
 * EP_MAX_NESTS) is refused. Returns what was exceeded, or null.
 */
function reversePathCheck(files: Set<KFile>): string | null {
  for (const f of files) {
    const counts = [0, 0, 0, 0, 0];
    const r = reversePathProc(f.fEp, 0, counts);
    if (r !== null) return `${r} from ${f.path}`;
  }
  return null;
}

function reversePathProc(refs: EpollLink[] | null, depth: number, counts: number[]): string | null {
  if (depth > EP_MAX_NESTS) return `a wakeup path longer than EP_MAX_NESTS = ${EP_MAX_NESTS}`;
  for (const link of refs ?? []) {
    const up = (link as EpItem).ep.fEp;
    let r: string | null = null;
    if (up === null) {
      if (depth !== 0 && ++counts[depth]! > PATH_LIMITS[depth]!) r = `more than ${PATH_LIMITS[depth]} wakeup paths of length ${depth}`;
    } else r = reversePathProc(up, depth + 1, counts);
    if (r !== null) return r;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The system calls' kernel halves (the byte boundary, blocking and tracing are in process.ts)

/** Who is calling: the fd lookup (fdget(), which skips O_PATH files) and the credentials. */
export interface EpollCaller {
  capable(cap: number): boolean;
  fileOrNull(fd: number): KFile | undefined;
}

/**
 * do_epoll_ctl(), in the kernel's order: EBADF (epfd, then fd), EPERM (no ->poll), EPOLLWAKEUP
 * dropped without CAP_BLOCK_SUSPEND, EINVAL (epfd == fd's file, epfd no epoll, EPOLLEXCLUSIVE with
 * MOD or with bits outside EPOLLEXCLUSIVE_OK_BITS or on an epoll), ELOOP (ep_loop_check), then the
 * lookup: EEXIST, ENOENT, EINVAL (an unknown op, MOD of an EPOLLEXCLUSIVE item). `events` is
 * what the caller's struct epoll_event holds (ignored for EPOLL_CTL_DEL).
 */
export function doEpollCtl(caller: EpollCaller, epfd: number, op: number, fd: number, events: number, dataLo: number, dataHi: number): void {
  const f = caller.fileOrNull(epfd);
  if (f === undefined) throw kerr('EBADF', `epfd ${epfd} is not an open file descriptor`);
  const tf = caller.fileOrNull(fd);
  if (tf === undefined) throw kerr('EBADF', `fd ${fd} is not an open file descriptor`);
  if (!tf.canPoll) throw kerr('EPERM', `fd ${fd} (${tf.path}) cannot be polled: its file has no poll operation`);
  const hasEvent = op !== EPOLL_CTL_DEL;
  // ep_take_care_of_epollwakeup(): EPOLLWAKEUP needs CAP_BLOCK_SUSPEND, else it is silently dropped.
  if (hasEvent && (events & EPOLLWAKEUP) !== 0 && !caller.capable(CAP_BLOCK_SUSPEND)) events &= ~EPOLLWAKEUP;
  if (f === tf) throw kerr('EINVAL', `fd ${fd} is the epoll itself (an epoll cannot watch itself)`);
  if (!(f instanceof EpollFile)) throw kerr('EINVAL', `epfd ${epfd} is not an epoll file descriptor (it is ${f.path})`);
  if (hasEvent && (events & EXCLUSIVE) !== 0) {
    if (op === EPOLL_CTL_MOD) throw kerr('EINVAL', 'EPOLLEXCLUSIVE with EPOLL_CTL_MOD (exclusive wakeups are chosen at EPOLL_CTL_ADD only)');
    if (op === EPOLL_CTL_ADD && tf instanceof EpollFile) throw kerr('EINVAL', `EPOLLEXCLUSIVE on fd ${fd}, an epoll (nested exclusive wakeups are not supported)`);
    if (op === EPOLL_CTL_ADD && (events & ~EPOLLEXCLUSIVE_OK_BITS) !== 0) {
      throw kerr('EINVAL', `EPOLLEXCLUSIVE allows only EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLWAKEUP and EPOLLET (got 0x${((events & ~EPOLLEXCLUSIVE_OK_BITS) >>> 0).toString(16)} more)`);
    }
  }
  const ep = f;
  let check: LoopCheck | null = null;
  if (op === EPOLL_CTL_ADD && (ep.fEp !== null || tf instanceof EpollFile)) {
    check = tf instanceof EpollFile ? ep.loopCheck(tf) : EpollFile.pathCheck(ep);
  }
  const epi = ep.find(tf, fd);
  switch (op) {
    case EPOLL_CTL_ADD:
      if (epi !== undefined) throw kerr('EEXIST', `fd ${fd} (${tf.path}) is already in epoll ${epfd}`);
      ep.insert(tf, fd, events | EPOLLERR | EPOLLHUP, dataLo, dataHi, check);
      return;
    case EPOLL_CTL_DEL:
      if (epi === undefined) throw notIn(epfd, fd, tf);
      ep.remove(epi);
      return;
    case EPOLL_CTL_MOD:
      if (epi === undefined) throw notIn(epfd, fd, tf);
      if ((epi.events & EXCLUSIVE) !== 0) throw kerr('EINVAL', `fd ${fd} was added with EPOLLEXCLUSIVE, which EPOLL_CTL_MOD cannot change`);
      ep.modify(epi, events | EPOLLERR | EPOLLHUP, dataLo, dataHi);
      return;
    default:
      throw kerr('EINVAL', `unknown epoll_ctl operation ${op} (EPOLL_CTL_ADD, EPOLL_CTL_DEL or EPOLL_CTL_MOD)`);
  }
}

function notIn(epfd: number, fd: number, tf: KFile): Error {
  return kerr('ENOENT', `fd ${fd} (${tf.path}) is not in epoll ${epfd} (items are keyed by file and fd number)`);
}

/**
 * do_epoll_wait() as of 6.15 (the checks moved into ep_check_params() for io_uring): EBADF first, then
 * EINVAL for maxevents, then (access_ok) nothing the model can check, then EINVAL for a file that is no
 * epoll. Measured on 6.18: epoll_wait(99, buf, 0, 0) is EBADF.
 */
export function epollWaitTarget(caller: EpollCaller, epfd: number, maxevents: number): EpollFile {
  const f = caller.fileOrNull(epfd);
  if (f === undefined) throw kerr('EBADF', `epfd ${epfd} is not an open file descriptor`);
  if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) throw kerr('EINVAL', `maxevents ${maxevents} must be between 1 and EP_MAX_EVENTS (${EP_MAX_EVENTS})`);
  if (!(f instanceof EpollFile)) throw kerr('EINVAL', `epfd ${epfd} is not an epoll file descriptor (it is ${f.path})`);
  return f;
}
