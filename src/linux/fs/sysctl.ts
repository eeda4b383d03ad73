// kernel/sysctl.c: the write side of proc_doulongvec_minmax() for a one-value table entry, as
// /proc/sys files parse what is written to them: leading spaces skipped, one number in base 0
// (proc_get_long(): 0x hex, 0 octal, else decimal; at most 21 characters, followed by space, tab,
// newline or the end), EINVAL if negative or outside [min, max], then the spaces after it; the write
// returns how many bytes that consumed (the rest, a second number included, is left unread). A write
// of nothing but spaces changes nothing and consumes everything.

import { kerr } from '../errors.js';

/** isspace(). */
const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);
/** proc_wspace_sep: what may follow a number. */
const AFTER_NUMBER = new Set([' ', '\t', '\n']);
/** TMPBUFLEN - 1: the longest token proc_get_long() copies (a number that long is refused). */
const TOKEN_MAX = 21;
const ULONG_MAX = (1n << 64n) - 1n;

/** The result of one write: the value to store (null: nothing written) and the bytes consumed. */
export interface UlongWrite {
  readonly value: bigint | null;
  readonly consumed: number;
}

export function parseUlongSysctl(name: string, data: string, min: bigint, max: bigint): UlongWrite {
  let i = 0;
  while (i < data.length && SPACE.has(data[i]!)) i++;
  if (i === data.length) return { value: null, consumed: data.length };
  const tok = data.slice(i, i + TOKEN_MAX);
  const bad = (why: string): Error => kerr('EINVAL', `${name}: "${data.trim()}" ${why}`);
  const neg = tok[0] === '-' && data.length - i > 1;
  let k = neg ? 1 : 0;
  if (!/[0-9]/.test(tok[k] ?? '')) throw bad('is not a number');
  // _parse_integer_fixup_radix(): base 0.
  let base = 10;
  if (tok[k] === '0') {
    if ((tok[k + 1] === 'x' || tok[k + 1] === 'X') && /[0-9a-fA-F]/.test(tok[k + 2] ?? '')) {
      base = 16;
      k += 2;
    } else base = 8;
  }
  let value = 0n;
  for (; k < tok.length; k++) {
    const d = parseInt(tok[k]!, base);
    if (Number.isNaN(d)) break;
    value = value * BigInt(base) + BigInt(d);
    if (value > ULONG_MAX) throw bad('does not fit in an unsigned long');
  }
  if (k === TOKEN_MAX) throw bad(`is longer than ${TOKEN_MAX - 1} characters`);
  if (i + k < data.length && !AFTER_NUMBER.has(data[i + k]!)) throw bad('has something other than a space after the number');
  if (neg) throw bad('is negative');
  if (value < min || value > max) throw bad(`is outside [${min}, ${max}]`);
  let j = i + k;
  while (j < data.length && SPACE.has(data[j]!)) j++;
  return { value, consumed: j };
}
