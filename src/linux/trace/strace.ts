// An strace-style formatter, a listener on the trace bus. It names ioctls by the *file type* of the fd
// (VFIO reuses request numbers across container, group and device fds) and prints struct arguments
// with field, flag and value names:
//   ioctl(4, VFIO_GROUP_GET_STATUS, {argsz=8, flags=VFIO_GROUP_FLAGS_VIABLE}) = 0
// Output-only structs print their state after the call, input structs their state before it, in/out
// structs `{in} => {changed fields}`; failures print `= -1 EINVAL (Invalid argument)` as strace does.

import * as FL from '../../../include-ts/linux/falloc.js';
import { formatUnknownIoctl } from '../../../abi/ioc.js';
import { getU32, getU64 } from '../../../abi/bytes.js';
import { errnoInfo } from '../../../abi/errno.js';
import { readBits, readScalar, type AnyRecord as RecordType, type Field, type FlexType, type MemberType } from '../../../abi/layout.js';
import type { SyscallEvent, TraceBus, TraceEvent } from '../../sim/trace.js';
import type { FlagSet, IoctlDesc, IoctlTable } from './ioctl-desc.js';
import { GENERIC_IOCTLS } from './decoders/generic.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from '../../../include-ts/linux/eventfd.js';
import * as F from '../../../include-ts/linux/fcntl.js';
import * as M from '../../../include-ts/linux/mman.js';
import * as MFD from '../../../include-ts/linux/memfd.js';
import * as P from '../../../include-ts/linux/poll.js';
import * as E from '../../../include-ts/linux/eventpoll.js';

/** memfd_create_flags (strace 6.3+ names MFD_NOEXEC_SEAL and MFD_EXEC; 6.1 prints them as hex). */
const MFD_FLAGS = flagSet([
  [MFD.MFD_CLOEXEC, 'MFD_CLOEXEC'], [MFD.MFD_ALLOW_SEALING, 'MFD_ALLOW_SEALING'], [MFD.MFD_HUGETLB, 'MFD_HUGETLB'],
  [MFD.MFD_NOEXEC_SEAL, 'MFD_NOEXEC_SEAL'], [MFD.MFD_EXEC, 'MFD_EXEC'],
]);
/** f_seals (F_SEAL_EXEC as strace 6.3+ names it). */
const SEAL_FLAGS = flagSet([
  [F.F_SEAL_SEAL, 'F_SEAL_SEAL'], [F.F_SEAL_SHRINK, 'F_SEAL_SHRINK'], [F.F_SEAL_GROW, 'F_SEAL_GROW'], [F.F_SEAL_WRITE, 'F_SEAL_WRITE'],
  [F.F_SEAL_FUTURE_WRITE, 'F_SEAL_FUTURE_WRITE'], [F.F_SEAL_EXEC, 'F_SEAL_EXEC'],
]);

/** printflags64(f_seals, arg): the names, then the rest (bits past 31 included) as one hex number. */
function sealsArg(v: number): string {
  const known = (v >>> 0) & (F.F_SEAL_SEAL | F.F_SEAL_SHRINK | F.F_SEAL_GROW | F.F_SEAL_WRITE | F.F_SEAL_FUTURE_WRITE | F.F_SEAL_EXEC);
  const rest = v - known;
  const names = known ? formatFlags(known, SEAL_FLAGS) : '';
  if (!rest) return names || '0';
  return names ? `${names}|0x${rest.toString(16)}` : `0x${rest.toString(16)} /* F_SEAL_??? */`;
}

/** strace's memfd_create decoder: the flags, then a huge page size in bits 26-31 as `N<<MFD_HUGE_SHIFT`. */
function memfdFlags(flags: number): string {
  const mask = (MFD.MFD_HUGE_MASK << MFD.MFD_HUGE_SHIFT) >>> 0;
  const huge = ((flags >>> 0) & mask) >>> 0;
  const low = ((flags >>> 0) & ~mask) >>> 0;
  const text = low || !huge ? flagsOrUnknown(low, MFD_FLAGS, 'MFD_???') : '';
  return huge ? `${text}${low ? '|' : ''}${huge >>> MFD.MFD_HUGE_SHIFT}<<MFD_HUGE_SHIFT` : text;
}

/** madvise_cmds (strace 6.1: no guard-region advice). */
const MADV_NAMES = new Map<number, string>(Object.entries(M).filter(([k]) => k.startsWith('MADV_') && !k.startsWith('MADV_GUARD')).map(([k, v]) => [v as number, k]));

/** mlockall_flags and mlock_flags. */
const MCL_FLAGS = flagSet([[M.MCL_CURRENT, 'MCL_CURRENT'], [M.MCL_FUTURE, 'MCL_FUTURE'], [M.MCL_ONFAULT, 'MCL_ONFAULT']]);
const MLOCK_FLAGS = flagSet([[M.MLOCK_ONFAULT, 'MLOCK_ONFAULT']]);

/** lseek's whence_codes. */
const WHENCE_NAMES: readonly string[] = ['SEEK_SET', 'SEEK_CUR', 'SEEK_END', 'SEEK_DATA', 'SEEK_HOLE'];

export function flagSet(entries: ReadonlyArray<readonly [number, string, number?]>): FlagSet {
  return { bits: entries };
}

/** `A|B|0x40`, or `0`. Multi-bit entries (with a mask) match exactly under their mask. */
export function formatFlags(v: number, set: FlagSet): string {
  const parts: string[] = [];
  let rest = v >>> 0;
  for (const [bit, name, mask] of set.bits) {
    if (mask !== undefined) {
      if ((v & mask) >>> 0 === bit >>> 0 && (rest & mask) !== 0) {
        parts.push(name);
        rest = (rest & ~mask) >>> 0;
      } else if (bit === 0 && (v & mask) === 0 && mask !== 0) {
        parts.push(name);
      }
      continue;
    }
    if (bit !== 0 && (rest & bit) === bit) {
      parts.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest) parts.push(`0x${rest.toString(16)}`);
  return parts.length ? parts.join('|') : '0';
}

const OPEN_FLAGS = flagSet([
  [F.O_RDONLY, 'O_RDONLY', F.O_ACCMODE],
  [F.O_WRONLY, 'O_WRONLY', F.O_ACCMODE],
  [F.O_RDWR, 'O_RDWR', F.O_ACCMODE],
  [F.O_ACCMODE, 'O_ACCMODE', F.O_ACCMODE],
  [F.O_CREAT, 'O_CREAT'],
  [F.O_EXCL, 'O_EXCL'],
  [F.O_NOCTTY, 'O_NOCTTY'],
  [F.O_TRUNC, 'O_TRUNC'],
  [F.O_APPEND, 'O_APPEND'],
  [F.O_NONBLOCK, 'O_NONBLOCK'],
  // strace's open_mode_flags order (O_SYNC before O_DSYNC, whose bit it includes).
  [F.O_SYNC, 'O_SYNC'],
  [F.O_DSYNC, 'O_DSYNC'],
  [F.O_DIRECT, 'O_DIRECT'],
  [F.O_LARGEFILE, 'O_LARGEFILE'],
  [F.O_NOFOLLOW, 'O_NOFOLLOW'],
  [F.O_NOATIME, 'O_NOATIME'],
  [F.O_CLOEXEC, 'O_CLOEXEC'],
  [F.O_PATH, 'O_PATH'],
  // O_TMPFILE (both of its bits) before O_DIRECTORY, as strace lists it; a lone __O_TMPFILE by its name.
  [F.O_TMPFILE, 'O_TMPFILE', F.O_TMPFILE],
  [F.__O_TMPFILE, '__O_TMPFILE'],
  [F.O_DIRECTORY, 'O_DIRECTORY'],
  [F.FASYNC, 'FASYNC'],
]);
const FD_FLAGS = flagSet([[F.FD_CLOEXEC, 'FD_CLOEXEC']]);
/** strace's fcntlcmds xlat, for the commands include-ts defines. */
const FCNTL_CMDS = new Map<number, string>([
  [F.F_DUPFD, 'F_DUPFD'], [F.F_GETFD, 'F_GETFD'], [F.F_SETFD, 'F_SETFD'], [F.F_GETFL, 'F_GETFL'], [F.F_SETFL, 'F_SETFL'],
  [F.F_DUPFD_QUERY, 'F_DUPFD_QUERY'], [F.F_CREATED_QUERY, 'F_CREATED_QUERY'], [F.F_DUPFD_CLOEXEC, 'F_DUPFD_CLOEXEC'],
  [F.F_SETPIPE_SZ, 'F_SETPIPE_SZ'], [F.F_GETPIPE_SZ, 'F_GETPIPE_SZ'], [F.F_ADD_SEALS, 'F_ADD_SEALS'], [F.F_GET_SEALS, 'F_GET_SEALS'],
]);
/** pipe2's flags, in strace's open_mode_flags order (O_EXCL is O_NOTIFICATION_PIPE). */
const PIPE_FLAGS = flagSet([[F.O_EXCL, 'O_EXCL'], [F.O_NONBLOCK, 'O_NONBLOCK'], [F.O_DIRECT, 'O_DIRECT'], [F.O_CLOEXEC, 'O_CLOEXEC']]);
/** efd_flags in strace's order. */
const EFD_FLAGS = flagSet([[EFD_SEMAPHORE, 'EFD_SEMAPHORE'], [EFD_CLOEXEC, 'EFD_CLOEXEC'], [EFD_NONBLOCK, 'EFD_NONBLOCK']]);
const FALLOC_FLAGS = flagSet([
  [FL.FALLOC_FL_KEEP_SIZE, 'FALLOC_FL_KEEP_SIZE'], [FL.FALLOC_FL_PUNCH_HOLE, 'FALLOC_FL_PUNCH_HOLE'], [FL.FALLOC_FL_NO_HIDE_STALE, 'FALLOC_FL_NO_HIDE_STALE'],
  [FL.FALLOC_FL_COLLAPSE_RANGE, 'FALLOC_FL_COLLAPSE_RANGE'], [FL.FALLOC_FL_ZERO_RANGE, 'FALLOC_FL_ZERO_RANGE'], [FL.FALLOC_FL_INSERT_RANGE, 'FALLOC_FL_INSERT_RANGE'],
  [FL.FALLOC_FL_UNSHARE_RANGE, 'FALLOC_FL_UNSHARE_RANGE'],
]);
const PROT_FLAGS = flagSet([[M.PROT_READ, 'PROT_READ'], [M.PROT_WRITE, 'PROT_WRITE'], [M.PROT_EXEC, 'PROT_EXEC']]);
/** mmap_flags past the type, in strace's x86 order. */
const MAP_FLAGS = flagSet([
  [M.MAP_FIXED, 'MAP_FIXED'], [M.MAP_ANONYMOUS, 'MAP_ANONYMOUS'], [0x40, 'MAP_32BIT'], [0x80, 'MAP_ABOVE4G'],
  [M.MAP_NORESERVE, 'MAP_NORESERVE'], [M.MAP_POPULATE, 'MAP_POPULATE'], [M.MAP_NONBLOCK, 'MAP_NONBLOCK'], [0x100, 'MAP_GROWSDOWN'],
  [0x800, 'MAP_DENYWRITE'], [0x1000, 'MAP_EXECUTABLE'], [M.MAP_LOCKED, 'MAP_LOCKED'], [M.MAP_STACK, 'MAP_STACK'],
  [M.MAP_HUGETLB, 'MAP_HUGETLB'], [M.MAP_SYNC, 'MAP_SYNC'], [0x4000000, 'MAP_UNINITIALIZED'], [M.MAP_FIXED_NOREPLACE, 'MAP_FIXED_NOREPLACE'],
]);
const MAP_TYPES = new Map<number, string>([
  [0, 'MAP_FILE'], [M.MAP_SHARED, 'MAP_SHARED'], [M.MAP_PRIVATE, 'MAP_PRIVATE'], [M.MAP_SHARED_VALIDATE, 'MAP_SHARED_VALIDATE'], [M.MAP_DROPPABLE, 'MAP_DROPPABLE'],
]);

/** print_mmap_flags(): the type (MAP_???), the flags, then a huge page size as `N<<MAP_HUGE_SHIFT`. */
function mmapFlags(flags: number): string {
  const type = flags & M.MAP_TYPE;
  let text = MAP_TYPES.get(type) ?? `${altHex(type)} /* MAP_??? */`;
  const mask = (M.MAP_HUGE_MASK << M.MAP_HUGE_SHIFT) >>> 0;
  const huge = ((flags >>> 0) & mask) >>> 0;
  const rest = ((flags >>> 0) & ~mask & ~M.MAP_TYPE) >>> 0;
  if (rest) text += `|${formatFlags(rest, MAP_FLAGS)}`;
  if (huge) text += `|${huge >>> M.MAP_HUGE_SHIFT}<<MAP_HUGE_SHIFT`;
  return text;
}
const POLL_FLAGS = flagSet([
  [P.POLLIN, 'POLLIN'], [P.POLLPRI, 'POLLPRI'], [P.POLLOUT, 'POLLOUT'], [P.POLLERR, 'POLLERR'], [P.POLLHUP, 'POLLHUP'],
  [P.POLLNVAL, 'POLLNVAL'], [P.POLLRDNORM, 'POLLRDNORM'], [P.POLLRDBAND, 'POLLRDBAND'], [P.POLLWRNORM, 'POLLWRNORM'], [P.POLLWRBAND, 'POLLWRBAND'],
]);

/** strace's epollevents xlat (strace 6.1 has no EPOLL_URING_WAKE: it prints that bit in hex). */
const EPOLL_EVENTS = flagSet([
  [E.EPOLLIN, 'EPOLLIN'], [E.EPOLLPRI, 'EPOLLPRI'], [E.EPOLLOUT, 'EPOLLOUT'], [E.EPOLLERR, 'EPOLLERR'], [E.EPOLLHUP, 'EPOLLHUP'],
  [E.EPOLLNVAL, 'EPOLLNVAL'], [E.EPOLLRDNORM, 'EPOLLRDNORM'], [E.EPOLLRDBAND, 'EPOLLRDBAND'], [E.EPOLLWRNORM, 'EPOLLWRNORM'],
  [E.EPOLLWRBAND, 'EPOLLWRBAND'], [E.EPOLLMSG, 'EPOLLMSG'], [E.EPOLLRDHUP, 'EPOLLRDHUP'], [E.EPOLLEXCLUSIVE, 'EPOLLEXCLUSIVE'],
  [E.EPOLLWAKEUP, 'EPOLLWAKEUP'], [E.EPOLLONESHOT, 'EPOLLONESHOT'], [E.EPOLLET | 0, 'EPOLLET'],
]);
const EPOLL_CREATE_FLAGS = flagSet([[E.EPOLL_CLOEXEC, 'EPOLL_CLOEXEC']]);
const EPOLL_CTL_OPS = new Map<number, string>([[E.EPOLL_CTL_ADD, 'EPOLL_CTL_ADD'], [E.EPOLL_CTL_DEL, 'EPOLL_CTL_DEL'], [E.EPOLL_CTL_MOD, 'EPOLL_CTL_MOD']]);
/** Signal names as strace prints them in a sigset (no SIG prefix; real-time signals as RT_n from SIGRTMIN = 32). */
const SIGNALS = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT',
  'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];

/** printflags() with strace's `0x1 /* NAME_??? *\/` when no name matched (and `0` for zero). */
function flagsOrUnknown(v: number, set: FlagSet, unknown: string): string {
  const text = formatFlags(v, set);
  return v !== 0 && text.startsWith('0x') ? `${text} /* ${unknown} */` : text;
}

const EPOLL_EVENT_EVENTS = E.epoll_event.offsetof('events');
const EPOLL_EVENT_DATA = E.epoll_event.offsetof('data');

/** One struct epoll_event (packed, at `off`), as strace's print_epoll_event() prints it. */
function formatEpollEvent(b: Uint8Array, off: number): string {
  const events = getU32(b, off + EPOLL_EVENT_EVENTS);
  return `{events=${flagsOrUnknown(events, EPOLL_EVENTS, 'EPOLL???')}, data={u32=${getU32(b, off + EPOLL_EVENT_DATA)}, u64=${getU64(b, off + EPOLL_EVENT_DATA)}}}`;
}

/** A pointer argument the model holds as bytes: NULL, or an address it does not have (printed 0x0, as read() does). */
function pointer(b: Uint8Array | null | undefined): string {
  return b === null ? 'NULL' : '0x0';
}

/** A sigset_t as strace's sprintsigmask_n() prints it: `[INT TERM]`, or `~[...]` listing the signals not in a mostly full set. */
function formatSigset(b: Uint8Array): string {
  const set: number[] = [];
  for (let sig = 1; sig <= 64; sig++) if (b[(sig - 1) >> 3]! & (1 << ((sig - 1) & 7))) set.push(sig);
  const inverted = set.length * 2 > 64;
  const list = inverted ? Array.from({ length: 64 }, (_, i) => i + 1).filter((n) => !set.includes(n)) : set;
  const names = list.map((n) => (n < 32 ? SIGNALS[n - 1]! : `RT_${n - 32}`));
  return `${inverted ? '~' : ''}[${names.join(' ')}]`;
}

/**
 * epoll_pwait2's timeout as strace decodes it (on exit, like the events): `{tv_sec=S, tv_nsec=N}`, NULL,
 * or the pointer when the call failed.
 */
function formatTimespecArg(ev: SyscallEvent, ts: Uint8Array | null): string {
  if (ts === null || ev.errno || ts.length < 16) return pointer(ts);
  return `{tv_sec=${BigInt.asIntN(64, getU64(ts, 0))}, tv_nsec=${BigInt.asIntN(64, getU64(ts, 8))}}`;
}

/** epoll_wait/epoll_pwait/epoll_pwait2: the events written (at most 32 printed, then `...`), or the pointer when the call failed. */
function formatEpollWait(ev: SyscallEvent): string {
  const [epfd, out, maxevents, timeoutArg, sigmask, sigsetsize] = ev.args as [number, Uint8Array | null, number, number | Uint8Array | null, Uint8Array | null | undefined, number | undefined];
  const timeout = ev.syscall === 'epoll_pwait2' ? formatTimespecArg(ev, timeoutArg as Uint8Array | null) : String(timeoutArg);
  let events: string;
  if (ev.errno || out === null) events = pointer(out);
  else {
    const n = Number(ev.ret);
    const items: string[] = [];
    for (let i = 0; i < Math.min(n, 32); i++) items.push(formatEpollEvent(out, i * E.epoll_event.size));
    if (n > 32) items.push('...');
    events = `[${items.join(', ')}]`;
  }
  let tail = '';
  if (ev.syscall !== 'epoll_wait') {
    const mask = sigmask === null || sigmask === undefined ? 'NULL' : ev.errno || sigmask.length < 8 ? '0x0' : formatSigset(sigmask);
    tail = `, ${mask}, ${sigsetsize}`;
  }
  return `${ev.syscall}(${epfd}, ${events}, ${maxevents}, ${timeout}${tail}) = ${result(ev, String(ev.ret))}`;
}

/** epoll_ctl: the op by name; the event struct, except for EPOLL_CTL_DEL, which strace prints as a pointer. */
function formatEpollCtl(ev: SyscallEvent): string {
  const [epfd, op, fd, event] = ev.args as [number, number, number, Uint8Array | null];
  const opName = EPOLL_CTL_OPS.get(op) ?? `${altHex(op)} /* EPOLL_CTL_??? */`;
  const arg = op === E.EPOLL_CTL_DEL || event === null || event.length < E.epoll_event.size ? pointer(event) : formatEpollEvent(event, 0);
  return `epoll_ctl(${epfd}, ${opName}, ${fd}, ${arg}) = ${result(ev, String(ev.ret))}`;
}

/** strace's escaping of a byte string, cut at `max` bytes. */
export function quoteBytes(b: Uint8Array, max = 32): string {
  let s = '"';
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    const next = i + 1 < n ? b[i + 1]! : -1;
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0d) s += '\\r';
    else if (c === 0x0b) s += '\\v';
    else if (c === 0x0c) s += '\\f';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else {
      const oct = c.toString(8);
      s += '\\' + (next >= 0x30 && next <= 0x37 ? oct.padStart(3, '0') : oct);
    }
  }
  s += '"';
  if (b.length > max) s += '...';
  return s;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
/** printf's `%#llx`, which strace's PRINT_VAL_X and RVAL_HEX use: zero prints as `0`. */
const altHex = (v: number): string => (v ? hex(v >>> 0) : '0');

function isHiddenPad(name: string): boolean {
  return /^(pad|padding|reserved|rsvd|__reserved|pad\d*)$/.test(name);
}

interface FieldCtx {
  readonly desc: IoctlDesc;
  readonly path: string;
}

function scalarText(v: number | bigint, name: string, fc: FieldCtx): string {
  const key = fc.path;
  const fs = fc.desc.flags?.[key];
  if (fs) return fs.unknown !== undefined ? flagsOrUnknown(Number(v), fs, fs.unknown) : formatFlags(Number(v), fs);
  const vn = fc.desc.values?.[key];
  if (vn) {
    const n = vn.get(Number(v));
    if (n) return n;
  }
  if (fc.desc.hex?.includes(key) || fc.desc.hex?.includes(name)) return Number(v) === 0 && fc.desc.altHex?.includes(key) ? '0' : hex(v);
  return v.toString();
}

function formatValue(t: MemberType, bytes: Uint8Array, off: number, name: string, fc: FieldCtx, limit: number): string {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (t.kind) {
    case 'scalar':
      if (off + t.size > bytes.length) return '?';
      return scalarText(readScalar(dv, off, t), name, fc);
    case 'array': case 'flex': {
      const n = t.kind === 'array' ? t.length : Math.max(0, Math.floor((Math.min(bytes.length, limit) - off) / t.elem.size));
      const items: string[] = [];
      for (let i = 0; i < Math.min(n, 16); i++) items.push(formatValue(t.elem, bytes, off + i * t.elem.size, name, fc, limit));
      if (n > 16) items.push('...');
      return `[${items.join(', ')}]`;
    }
    case 'struct': case 'union':
      return formatRecord(t, bytes, off, fc, limit);
    case 'anon':
      return formatRecord(t.record, bytes, off, fc, limit);
    case 'bits':
      return '?';
  }
}

function fieldAllZero(bytes: Uint8Array, off: number, size: number): boolean {
  for (let i = off; i < Math.min(bytes.length, off + size); i++) if (bytes[i] !== 0) return false;
  return true;
}

function memberSize(t: MemberType): number {
  return t.kind === 'flex' ? 0 : t.kind === 'bits' ? t.base.size : t.kind === 'anon' ? t.record.size : t.size;
}

function formatFields(rec: RecordType, bytes: Uint8Array, base: number, fc: FieldCtx, limit: number, out: string[]): void {
  const fields: readonly Field[] = rec.kind === 'union' ? rec.fields.slice(0, 1) : rec.fields;
  for (const f of fields) {
    if (f.unnamed) continue;
    const path = fc.path ? `${fc.path}.${f.name}` : f.name;
    const sub: FieldCtx = { desc: fc.desc, path: f.type.kind === 'anon' ? fc.path : path };
    if (f.type.kind === 'anon') {
      formatFields(f.type.record, bytes, base + f.offset, sub, limit, out);
      continue;
    }
    if (isHiddenPad(f.name) && fieldAllZero(bytes, base + f.offset, memberSize(f.type))) continue;
    if (f.type.kind === 'flex') {
      if (base + f.offset >= Math.min(bytes.length, limit)) continue;
      out.push(`${f.name}=${formatFlex(rec, f, bytes, base, sub, limit)}`);
      continue;
    }
    if (f.type.kind === 'bits') {
      out.push(`${f.name}=${scalarText(readBits(bytes, base * 8 + f.bitOffset, f.bitWidth), f.name, sub)}`);
      continue;
    }
    out.push(`${f.name}=${formatValue(f.type, bytes, base + f.offset, f.name, sub, limit)}`);
  }
}

/**
 * A flexible array member: the descriptor's formatTail, or its elements up to the count its struct
 * gives (`flex(elem, 'nmsrs')`, as the kernel reads them) and to the end of the bytes.
 */
function formatFlex(rec: RecordType, f: Field, bytes: Uint8Array, base: number, fc: FieldCtx, limit: number): string {
  const tail = fc.desc.formatTail?.(bytes.subarray(base, limit));
  if (tail !== undefined) return tail;
  const t = f.type as FlexType;
  const cf = t.countField === undefined ? undefined : rec.fields.find((x) => x.name === t.countField);
  if (cf !== undefined && cf.type.kind === 'scalar' && base + cf.offset + cf.type.size <= bytes.length) {
    const count = Number(readScalar(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), base + cf.offset, cf.type));
    limit = Math.min(limit, base + f.offset + count * t.elem.size);
  }
  return formatValue(t, bytes, base + f.offset, f.name, fc, limit);
}

function formatRecord(rec: RecordType, bytes: Uint8Array, off: number, fc: FieldCtx, limit = bytes.length): string {
  const out: string[] = [];
  formatFields(rec, bytes, off, fc, limit, out);
  return `{${out.join(', ')}}`;
}

/** Fields whose bytes differ between before and after, formatted from `after`. */
function formatChanged(rec: RecordType, before: Uint8Array, after: Uint8Array, fc: FieldCtx): string {
  const out: string[] = [];
  for (const f of rec.fields) {
    if (f.unnamed || f.type.kind === 'anon' || f.type.kind === 'bits') continue;
    // A flexible array (KVM_GET_MSRS entries, an MSR list) runs to the end of the bytes.
    const end = f.type.kind === 'flex' ? after.length : f.offset + memberSize(f.type);
    let changed = false;
    for (let i = f.offset; i < end; i++) if (before[i] !== after[i]) changed = true;
    if (!changed) continue;
    const sub: FieldCtx = { desc: fc.desc, path: f.name };
    out.push(`${f.name}=${f.type.kind === 'flex' ? formatFlex(rec, f, after, 0, sub, after.length) : formatValue(f.type, after, f.offset, f.name, sub, after.length)}`);
  }
  return `{${out.join(', ')}}`;
}

function ioctlArg(ev: SyscallEvent, desc: IoctlDesc | undefined): string {
  if (!desc) {
    // strace has no decoder: it prints the argument as %#lx (a pointer shows as its address).
    if (ev.argValue !== undefined) return Number(ev.argValue) === 0 ? '0' : `0x${BigInt.asUintN(64, BigInt(ev.argValue)).toString(16)}`;
    return ev.argIn ? `${quoteBytes(ev.argIn, 16)}` : '0';
  }
  if (desc.arg === 'ptr') return ioctlArg(ev, undefined);
  const failed = ev.errno !== 0;
  switch (desc.arg) {
    case 'none': case 'omitted':
      return ev.argValue !== undefined ? ev.argValue.toString() : '0';
    case 'value': {
      const v = ev.argValue ?? 0;
      // hex: ['arg']: an ioctl strace has no decoder for prints its argument as %#lx.
      if (desc.hex?.includes('arg')) return Number(v) === 0 ? '0' : `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
      const name = desc.valueNames?.get(Number(v));
      if (name !== undefined) return name;
      // printxval(): a value missing from the xlat prints as %#x with a `NAME_???` comment.
      return desc.valueUnknown !== undefined ? `${altHex(Number(v))} /* ${desc.valueUnknown} */` : v.toString();
    }
    case 'string': {
      if (!ev.argIn) return 'NULL';
      const nul = ev.argIn.indexOf(0);
      return quoteBytes(ev.argIn.subarray(0, nul < 0 ? ev.argIn.length : nul), 64);
    }
    case 'int-ptr': {
      const src = desc.out && !failed ? ev.argOut : ev.argIn;
      if (!src || src.length < 4) return ev.argValue !== undefined ? hex(ev.argValue) : 'NULL';
      const v = new DataView(src.buffer, src.byteOffset).getInt32(0, true);
      return `[${v}]`;
    }
    case 'struct': {
      const layout = desc.layout;
      if (!layout) return '?';
      const src = ev.argIn ?? ev.argOut;
      if (!src) return ev.argValue !== undefined ? hex(ev.argValue) : 'NULL';
      // A struct at a user address that is not all readable: strace's umove fails and it prints the address.
      if (ev.argValue !== undefined && !layout.flexField && src.length < layout.size) return hex(ev.argValue);
      const fc: FieldCtx = { desc, path: '' };
      const limit = structLimit(layout, src);
      if (failed || !desc.out || !ev.argOut) return formatRecord(layout, src, 0, fc, limit);
      if (desc.inout && ev.argIn) {
        const changed = formatChanged(layout, ev.argIn, ev.argOut, fc);
        const before = formatRecord(layout, ev.argIn, 0, fc, limit);
        return changed === '{}' ? before : `${before} => ${changed}`;
      }
      return formatRecord(layout, ev.argOut, 0, fc, structLimit(layout, ev.argOut));
    }
  }
}

/** How many bytes of the argument belong to the struct: argsz when it has one, else sizeof. */
function structLimit(layout: RecordType, bytes: Uint8Array): number {
  const f = layout.fields[0];
  if (layout.flexField && f && f.name === 'argsz' && bytes.length >= 4) {
    const argsz = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    return Math.min(bytes.length, Math.max(argsz, layout.size));
  }
  return Math.min(bytes.length, layout.flexField ? bytes.length : layout.size);
}

function result(ev: SyscallEvent, ok: string): string {
  if (ev.errno) {
    const info = errnoInfo(ev.errno);
    return `-1 ${info.code} (${info.message})`;
  }
  return ok;
}

/**
 * fcntl as strace's print_fcntl() (src/fcntl.c) prints it: the command by name, the third argument
 * only where the command takes one (decoded by its type), F_GETFD/F_GETFL results in hex with their
 * flags. Commands it has no case for (F_CREATED_QUERY among them) print the argument in hex.
 */
function formatFcntl(ev: SyscallEvent): string {
  const [fd, cmd, arg] = ev.args as [number, number, number];
  const name = FCNTL_CMDS.get(cmd) ?? `${altHex(cmd)} /* F_??? */`;
  const ret = Number(ev.ret);
  let third = '';
  let ok = String(ret);
  switch (cmd) {
    case F.F_SETFD: third = formatFlags(arg, FD_FLAGS); break;
    case F.F_SETFL: third = formatFlags(arg, OPEN_FLAGS); break;
    case F.F_DUPFD: case F.F_DUPFD_CLOEXEC: case F.F_DUPFD_QUERY: third = String(arg); break;
    case F.F_SETPIPE_SZ: third = String(arg >>> 0); break;
    case F.F_GETPIPE_SZ: break;
    case F.F_GETFD: if (ret) ok = `${altHex(ret)} (flags ${formatFlags(ret, FD_FLAGS)})`; break;
    case F.F_GETFL: ok = `${altHex(ret)} (flags ${formatFlags(ret, OPEN_FLAGS)})`; break;
    case F.F_ADD_SEALS: third = sealsArg(arg); break;
    case F.F_GET_SEALS: if (ret) ok = `${altHex(ret)} (seals ${formatFlags(ret, SEAL_FLAGS)})`; break;
    default: third = altHex(arg);
  }
  return `fcntl(${fd}, ${name}${third ? `, ${third}` : ''}) = ${result(ev, ok)}`;
}

/**
 * openat as strace's do_open() (src/open.c) prints it: the mode only when the flags can create a file
 * (O_CREAT or __O_TMPFILE), as print_numeric_umode_t() does: the 16-bit umode_t in `%#03o`.
 */
function formatOpenat(ev: SyscallEvent): string {
  const [dir, path, flags, mode] = ev.args as [string | number, string, number, number | undefined];
  let text = `openat(${dir}, ${JSON.stringify(path)}, ${formatFlags(flags, OPEN_FLAGS)}`;
  if (flags & (F.O_CREAT | F.__O_TMPFILE)) text += `, ${umode(mode ?? 0)}`;
  return `${text}) = ${result(ev, String(ev.ret))}`;
}

/** print_numeric_umode_t(): the 16-bit umode_t in `%#03o`. */
function umode(mode: number): string {
  const m = mode & 0xffff;
  return (m ? `0${m.toString(8)}` : '0').padStart(3, '0');
}

/** printuid(): a uid_t or gid_t, `-1` for (uid_t)-1. */
function printUid(id: number): string {
  return id === 0xffffffff ? '-1' : String(id);
}

/**
 * fchownat (print_dirfd(), the path, owner, group, at_flags) and fchmodat (print_dirfd(), the path, the
 * mode) as strace 6.1 prints them.
 */
function formatOwnerModeAt(ev: SyscallEvent): string {
  const [dir, path, a, b, flags] = ev.args as [string | number, string, number, number | undefined, number | undefined];
  const rest = b === undefined ? umode(a) : `${printUid(a)}, ${printUid(b)}, ${flagsOrUnknown(flags ?? 0, AT_FLAGS, 'AT_???')}`;
  return `${ev.syscall}(${dir}, ${JSON.stringify(path)}, ${rest}) = ${result(ev, String(ev.ret))}`;
}

/** chown/lchown/fchown (path or fd, owner, group) and chmod/fchmod (path or fd, mode) as strace prints them. */
function formatOwnerMode(ev: SyscallEvent): string {
  const [where, a, b] = ev.args as [string | number, number, number | undefined];
  const first = typeof where === 'string' ? JSON.stringify(where) : String(where);
  const rest = b === undefined ? umode(a) : `${printUid(a)}, ${printUid(b)}`;
  return `${ev.syscall}(${first}, ${rest}) = ${result(ev, String(ev.ret))}`;
}

/** strace's at_flags xlat (the bits newfstatat takes), in its order. */
const AT_FLAGS = flagSet([
  [F.AT_SYMLINK_NOFOLLOW, 'AT_SYMLINK_NOFOLLOW'],
  [F.AT_NO_AUTOMOUNT, 'AT_NO_AUTOMOUNT'],
  [F.AT_EMPTY_PATH, 'AT_EMPTY_PATH'],
  [0x2000, 'AT_STATX_FORCE_SYNC'],
  [0x4000, 'AT_STATX_DONT_SYNC'],
]);
const S_IFMT_NAMES = new Map<number, string>([
  [0o140000, 'S_IFSOCK'], [0o120000, 'S_IFLNK'], [0o100000, 'S_IFREG'], [0o060000, 'S_IFBLK'],
  [0o040000, 'S_IFDIR'], [0o020000, 'S_IFCHR'], [0o010000, 'S_IFIFO'],
]);

/** print_symbolic_mode_t(): `S_IFCHR|0600`, `S_IFDIR|S_ISVTX|0777`, or `0600` for no file type (the anon inode). */
export function symbolicMode(mode: number): string {
  const ifmt = S_IFMT_NAMES.get(mode & 0o170000);
  const parts = [...(ifmt ? [ifmt] : []), ...(mode & 0o4000 ? ['S_ISUID'] : []), ...(mode & 0o2000 ? ['S_ISGID'] : []), ...(mode & 0o1000 ? ['S_ISVTX'] : [])];
  return [...parts, umode(mode & 0o777)].join('|');
}

/**
 * newfstatat as strace 6.1 prints it (print_struct_stat() abbreviated): the mode, then st_rdev as
 * makedev() for a character or block device and st_size for anything else; a failed call's buffer as
 * its address.
 */
function formatNewfstatat(ev: SyscallEvent): string {
  const [dirfd, path, st, flags] = ev.args as [number, string, { st_mode: number; st_rdev: number; st_size: number } | 'addr' | null, number];
  let buf: string;
  if (st === null) buf = 'NULL';
  else if (st === 'addr') buf = '0x0';
  else {
    const type = st.st_mode & 0o170000;
    const rdev = st.st_rdev;
    const tail = type === 0o020000 || type === 0o060000
      ? `st_rdev=makedev(${altHex((rdev >>> 8) & 0xfff)}, ${altHex((rdev & 0xff) | ((rdev >>> 12) & ~0xff))})`
      : `st_size=${st.st_size}`;
    buf = `{st_mode=${symbolicMode(st.st_mode)}, ${tail}, ...}`;
  }
  const dir = dirfd === F.AT_FDCWD ? 'AT_FDCWD' : String(dirfd);
  return `newfstatat(${dir}, ${JSON.stringify(path)}, ${buf}, ${flagsOrUnknown(flags, AT_FLAGS, 'AT_???')}) = ${result(ev, String(ev.ret))}`;
}

/** strace's at_statx_sync_types, at_flags (without the sync bits), statx_masks and statx_attrs xlats, in its order. */
const STATX_SYNC = flagSet([
  [0, 'AT_STATX_SYNC_AS_STAT', 0x6000],
  [0x2000, 'AT_STATX_FORCE_SYNC'],
  [0x4000, 'AT_STATX_DONT_SYNC'],
]);
const STATX_AT_FLAGS = flagSet([
  [F.AT_SYMLINK_NOFOLLOW, 'AT_SYMLINK_NOFOLLOW'],
  [F.AT_NO_AUTOMOUNT, 'AT_NO_AUTOMOUNT'],
  [F.AT_EMPTY_PATH, 'AT_EMPTY_PATH'],
]);
const STATX_MASKS = flagSet([
  [0xfff, 'STATX_ALL'], [0x7ff, 'STATX_BASIC_STATS'], [0x1, 'STATX_TYPE'], [0x2, 'STATX_MODE'], [0x4, 'STATX_NLINK'],
  [0x8, 'STATX_UID'], [0x10, 'STATX_GID'], [0x20, 'STATX_ATIME'], [0x40, 'STATX_MTIME'], [0x80, 'STATX_CTIME'],
  [0x100, 'STATX_INO'], [0x200, 'STATX_SIZE'], [0x400, 'STATX_BLOCKS'], [0x800, 'STATX_BTIME'], [0x1000, 'STATX_MNT_ID'],
  [0x2000, 'STATX_DIOALIGN'],
]);
const STATX_ATTRS = flagSet([
  [0x4, 'STATX_ATTR_COMPRESSED'], [0x10, 'STATX_ATTR_IMMUTABLE'], [0x20, 'STATX_ATTR_APPEND'], [0x40, 'STATX_ATTR_NODUMP'],
  [0x800, 'STATX_ATTR_ENCRYPTED'], [0x1000, 'STATX_ATTR_AUTOMOUNT'], [0x2000, 'STATX_ATTR_MOUNT_ROOT'],
  [0x100000, 'STATX_ATTR_VERITY'], [0x200000, 'STATX_ATTR_DAX'],
]);

/**
 * statx as strace 6.1 prints it (src/statx.c): the sync type, then the other flags; the mask; the
 * struct abbreviated to its mask, attributes, mode and size; a failed call's buffer as its address.
 */
function formatStatx(ev: SyscallEvent): string {
  const [dir, path, flags, mask, sx] = ev.args as [string | number, string, number, number, { stx_mask: number; stx_attributes: number; stx_mode: number; stx_size: number } | 'addr' | null];
  const rest = flags & ~0x6000;
  const flagText = formatFlags(flags & 0x6000, STATX_SYNC) + (rest ? `|${formatFlags(rest, STATX_AT_FLAGS)}` : '');
  let buf: string;
  if (sx === null) buf = 'NULL';
  else if (sx === 'addr') buf = '0x0';
  else buf = `{stx_mask=${flagsOrUnknown(sx.stx_mask, STATX_MASKS, 'STATX_???')}, stx_attributes=${flagsOrUnknown(sx.stx_attributes, STATX_ATTRS, 'STATX_ATTR_???')}, stx_mode=${symbolicMode(sx.stx_mode)}, stx_size=${sx.stx_size}, ...}`;
  return `statx(${dir}, ${JSON.stringify(path)}, ${flagText}, ${flagsOrUnknown(mask, STATX_MASKS, 'STATX_???')}, ${buf}) = ${result(ev, String(ev.ret))}`;
}

/** A limit as strace's sprint_rlim64() (src/resource.c) prints it: multiples of 1024 as `N*1024`. */
function rlim64(v: bigint): string {
  if (v === 0xffff_ffff_ffff_ffffn) return 'RLIM64_INFINITY';
  return v > 1024n && v % 1024n === 0n ? `${v / 1024n}*1024` : String(v);
}

/** prlimit64 as strace prints it: the old limit only on success, a pointer it would not read as an address. */
function formatPrlimit(ev: SyscallEvent): string {
  const [pid, resource, next, old] = ev.args as [number, number, RlimitArg, RlimitArg];
  const lim = (x: RlimitArg): string => (x === null ? 'NULL' : x === 'addr' ? '0x0' : `{rlim_cur=${rlim64(x.cur)}, rlim_max=${rlim64(x.max)}}`);
  const name = RLIMIT_NAMES_C[resource] ?? `${altHex(resource >>> 0)} /* RLIMIT_??? */`;
  return `prlimit64(${pid}, ${name}, ${lim(next)}, ${lim(old)}) = ${result(ev, String(ev.ret))}`;
}
type RlimitArg = { cur: bigint; max: bigint } | 'addr' | null;
const RLIMIT_NAMES_C = ['RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS', 'RLIMIT_NPROC', 'RLIMIT_NOFILE', 'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME'];

/** One syscall event as strace prints it. */
export function formatSyscall(ev: SyscallEvent, tables: ReadonlyMap<string, IoctlTable>): string {
  const a = ev.args;
  const dec = (v: unknown): string => String(v);
  switch (ev.syscall) {
    case 'openat':
      return formatOpenat(ev);
    case 'close':
    case 'dup':
      return `${ev.syscall}(${a[0]}) = ${result(ev, dec(ev.ret))}`;
    case 'dup2':
      return `dup2(${a[0]}, ${a[1]}) = ${result(ev, dec(ev.ret))}`;
    case 'read': case 'write': case 'pread64': case 'pwrite64': {
      const data = ev.errno ? '0x0' : quoteBytes(a[1] as Uint8Array);
      const tail = a.length > 3 ? `, ${a[3]}` : '';
      return `${ev.syscall}(${a[0]}, ${ev.errno && ev.syscall.includes('read') ? '0x0' : data}, ${a[2]}${tail}) = ${result(ev, dec(ev.ret))}`;
    }
    case 'ioctl': {
      const req = ev.request ?? (a[1] as number);
      const desc = (ev.fileKind ? tables.get(ev.fileKind)?.get(req) : undefined) ?? GENERIC_IOCTLS.get(req);
      const name = desc?.straceName ?? desc?.name ?? formatUnknownIoctl(req);
      if (desc?.arg === 'omitted') return `ioctl(${ev.fd}, ${name}) = ${result(ev, dec(ev.ret))}`;
      return `ioctl(${ev.fd}, ${name}, ${ioctlArg(ev, desc)}) = ${result(ev, dec(ev.ret))}`;
    }
    case 'mmap': {
      const [addr, len, prot, flags, fd, off] = a as [number | null, number, number, number, number, number];
      const ret = typeof ev.ret === 'number' ? hex(ev.ret) : dec(ev.ret);
      return `mmap(${addr ? hex(addr) : 'NULL'}, ${len}, ${prot === 0 ? 'PROT_NONE' : flagsOrUnknown(prot, PROT_FLAGS, 'PROT_???')}, ${mmapFlags(flags)}, ${fd}, ${off ? hex(off) : '0'}) = ${result(ev, ret)}`;
    }
    case 'munmap':
      return `munmap(${hex(a[0] as number)}, ${a[1]}) = ${result(ev, dec(ev.ret))}`;
    case 'eventfd2':
      return `eventfd2(${a[0]}, ${flagsOrUnknown(a[1] as number, EFD_FLAGS, 'EFD_???')}) = ${result(ev, dec(ev.ret))}`;
    case 'pipe2':
      return `pipe2([${(a[0] as number[]).join(', ')}], ${formatFlags(a[1] as number, PIPE_FLAGS)}) = ${result(ev, dec(ev.ret))}`;
    case 'poll': {
      const fds = (a[0] as { fd: number; events: number }[]).map((p) => `{fd=${p.fd}, events=${formatFlags(p.events, POLL_FLAGS)}}`).join(', ');
      const rev = a[3] as { fd: number; revents: number }[] | undefined;
      const ready = rev && !ev.errno && Number(ev.ret) > 0
        ? ` ([${rev.filter((p) => p.revents).map((p) => `{fd=${p.fd}, revents=${formatFlags(p.revents, POLL_FLAGS)}}`).join(', ')}])`
        : Number(ev.ret) === 0 && !ev.errno ? ' (Timeout)' : '';
      return `poll([${fds}], ${a[1]}, ${a[2]}) = ${result(ev, dec(ev.ret))}${ready}`;
    }
    case 'readlink':
      return `readlink(${JSON.stringify(a[0])}, ${a[1] !== undefined ? JSON.stringify(a[1]) : '0x0'}, 4096) = ${result(ev, dec(ev.ret))}`;
    case 'readlinkat':
      return `readlinkat(${a[0]}, ${JSON.stringify(a[1])}, ${a[2] !== undefined ? JSON.stringify(a[2]) : '0x0'}, 4096) = ${result(ev, dec(ev.ret))}`;
    case 'chdir':
      return `chdir(${JSON.stringify(a[0])}) = ${result(ev, dec(ev.ret))}`;
    case 'fchdir':
      return `fchdir(${a[0]}) = ${result(ev, dec(ev.ret))}`;
    case 'getcwd':
      // print_getcwd(): the path the call wrote, or the buffer's address when it failed.
      return `getcwd(${ev.errno ? '0x0' : JSON.stringify(a[0])}, ${a[1]}) = ${result(ev, dec(ev.ret))}`;
    case 'getdents64':
      return `getdents64(${JSON.stringify(a[0])}) = ${result(ev, `${dec(ev.ret)} entries`)}`;
    case 'fcntl':
      return formatFcntl(ev);
    case 'mlock': case 'munlock':
      return `${ev.syscall}(${hex(a[0] as number)}, ${a[1]}) = ${result(ev, dec(ev.ret))}`;
    case 'mlock2':
      return `mlock2(${hex(a[0] as number)}, ${a[1]}, ${flagsOrUnknown(a[2] as number, MLOCK_FLAGS, 'MLOCK_???')}) = ${result(ev, dec(ev.ret))}`;
    case 'mlockall':
      return `mlockall(${flagsOrUnknown(a[0] as number, MCL_FLAGS, 'MCL_???')}) = ${result(ev, dec(ev.ret))}`;
    case 'lseek': {
      // printxval(whence_codes): a name, or the number with a SEEK_??? comment.
      const w = a[2] as number;
      const whence = WHENCE_NAMES[w] ?? `0x${(w >>> 0).toString(16)} /* SEEK_??? */`;
      return `lseek(${a[0]}, ${dec(a[1])}, ${whence}) = ${result(ev, dec(ev.ret))}`;
    }
    case 'madvise': {
      // printxval(madvise_cmds): a name, or the number with a MADV_??? comment.
      const adv = a[2] as number;
      const name = MADV_NAMES.get(adv) ?? `${altHex(adv)} /* MADV_??? */`;
      return `madvise(${a[0] ? hex(a[0] as number) : 'NULL'}, ${a[1]}, ${name}) = ${result(ev, dec(ev.ret))}`;
    }
    case 'memfd_create':
      return `memfd_create(${a[0] === null ? 'NULL' : quoteBytes(new TextEncoder().encode(a[0] as string))}, ${memfdFlags(a[1] as number)}) = ${result(ev, dec(ev.ret))}`;
    case 'ftruncate':
      // printllval(tcp, "%llu"): the length unsigned.
      return `ftruncate(${a[0]}, ${BigInt.asUintN(64, BigInt(a[1] as bigint))}) = ${result(ev, dec(ev.ret))}`;
    case 'fallocate':
      // printflags(falloc_flags): 0 as "0", unknown bits as hex after the names.
      return `fallocate(${a[0]}, ${(a[1] as number) === 0 ? '0' : formatFlags(a[1] as number, FALLOC_FLAGS)}, ${dec(a[2])}, ${dec(a[3])}) = ${result(ev, dec(ev.ret))}`;
    case 'prlimit64':
      return formatPrlimit(ev);
    case 'chown': case 'lchown': case 'fchown': case 'chmod': case 'fchmod':
      return formatOwnerMode(ev);
    case 'fchownat': case 'fchmodat':
      return formatOwnerModeAt(ev);
    case 'newfstatat':
      return formatNewfstatat(ev);
    case 'statx':
      return formatStatx(ev);
    case 'getgroups': case 'setgroups': {
      // print_groups(): the gids, or the address strace would not (or could not) read.
      const list = a[1] as readonly number[] | 'addr' | null;
      const shown = list === null ? 'NULL' : list === 'addr' || (ev.errno && ev.syscall === 'getgroups') ? '0x0' : `[${list.join(', ')}]`;
      return `${ev.syscall}(${a[0]}, ${shown}) = ${result(ev, dec(ev.ret))}`;
    }
    case 'epoll_create':
      return `epoll_create(${a[0]}) = ${result(ev, dec(ev.ret))}`;
    case 'epoll_create1':
      return `epoll_create1(${flagsOrUnknown(a[0] as number, EPOLL_CREATE_FLAGS, 'EPOLL_???')}) = ${result(ev, dec(ev.ret))}`;
    case 'epoll_ctl':
      return formatEpollCtl(ev);
    case 'epoll_wait': case 'epoll_pwait': case 'epoll_pwait2':
      return formatEpollWait(ev);
    default:
      return `${ev.syscall}(${a.map(dec).join(', ')}) = ${result(ev, dec(ev.ret))}`;
  }
}

export interface StraceOptions {
  /** Prefix each line with `[pid N]` (strace -f). */
  readonly pids?: boolean;
  /** Also print interrupt hops and log lines, as `--- irq ... ---` comment lines. */
  readonly irqs?: boolean;
}

/** Attaches an strace-style printer; returns the function that detaches it. */
export function attachStrace(
  trace: TraceBus,
  tables: ReadonlyMap<string, IoctlTable>,
  sink: (line: string) => void,
  opts: StraceOptions = {},
): () => void {
  return trace.on((ev: TraceEvent) => {
    if (ev.type === 'syscall') sink((opts.pids ? `[pid ${ev.pid}] ` : '') + formatSyscall(ev, tables));
    else if (opts.irqs && ev.type === 'irq') {
      const parts = [ev.hop, ev.at];
      if (ev.vector !== undefined) parts.push(`vector=${hex(ev.vector)}`);
      if (ev.gsi !== undefined) parts.push(`gsi=${ev.gsi}`);
      if (ev.vcpu !== undefined) parts.push(`vcpu=${ev.vcpu}`);
      if (ev.detail) parts.push(ev.detail);
      sink(`--- irq ${parts.join(' ')} ---`);
    } else if (opts.irqs && ev.type === 'log') sink(`--- log ${ev.text} ---`);
  });
}
