// The user side of an ioctl argument (arch/x86/include/asm/uaccess.h: copy_from_user/copy_to_user).
// An argument is either an immediate integer or a pointer. A pointer is given as the struct's bytes
// (a Uint8Array, any typed array, or a view with `.bytes`), read and written in place, or as a
// numeric address in the process's memory (from mmap), resolved like a real user pointer.
// A string is sugar for its NUL-terminated UTF-8 bytes.

import { kerr } from './errors.js';
import type { Process } from './process.js';
import { TASK_SIZE, type AddressSpace } from './mm/address-space.js';
import { PROT_READ, PROT_WRITE } from '../../include-ts/linux/mman.js';

export type IoctlArgument = number | bigint | string | ArrayBufferView | { readonly bytes: Uint8Array } | undefined;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function isPointerLike(raw: IoctlArgument): raw is ArrayBufferView | { readonly bytes: Uint8Array } | string {
  return typeof raw === 'string' || ArrayBuffer.isView(raw) || (typeof raw === 'object' && raw !== null && 'bytes' in raw);
}

export function userBytesOf(raw: ArrayBufferView | { readonly bytes: Uint8Array } | string): Uint8Array {
  if (typeof raw === 'string') {
    const b = encoder.encode(raw);
    const out = new Uint8Array(b.length + 1);
    out.set(b);
    return out;
  }
  if (raw instanceof Uint8Array) return raw;
  if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  return raw.bytes;
}

/** One ioctl argument as the kernel sees it. Reused by each process across calls (no allocation per call). */
export class UserArg {
  private raw: IoctlArgument = undefined;
  private buf: Uint8Array | null = null;
  private proc!: Process;

  reset(raw: IoctlArgument, proc: Process): this {
    // A VMM passes the same struct on every call (an Int32Array for FIONREAD, a layout view): keep the
    // byte view made for it last time instead of allocating one per call. Strings are copied afresh,
    // since the kernel may write into the copy.
    if (raw !== this.raw || typeof raw === 'string') this.buf = isPointerLike(raw) ? userBytesOf(raw) : null;
    this.raw = raw;
    this.proc = proc;
    return this;
  }

  get rawArg(): IoctlArgument {
    return this.raw;
  }

  /** True when the caller passed bytes (not a number). */
  get isBuffer(): boolean {
    return this.buf !== null;
  }

  /** The argument as an integer, for ioctls that take a value (`unsigned long arg`). */
  value(): number {
    const r = this.raw;
    if (r === undefined) return 0;
    if (typeof r === 'number') {
      if (!Number.isInteger(r)) throw new TypeError(`ioctl argument ${r} is not an integer`);
      return r;
    }
    if (typeof r === 'bigint') return Number(BigInt.asIntN(64, r));
    throw new TypeError('this ioctl takes an integer argument, not a pointer to bytes');
  }

  /** The user address a numeric pointer argument holds. */
  private address(): number {
    const r = this.raw;
    if (typeof r === 'bigint') return Number(BigInt.asUintN(64, r));
    if (typeof r === 'number') return r;
    return 0;
  }

  /**
   * The first `len` bytes the pointer points to, in place. EFAULT when the buffer is shorter (the
   * kernel's copy would run off the end of the user's object) or the address is not mapped memory.
   */
  user(len: number): Uint8Array {
    if (this.buf) {
      if (this.buf.length < len) {
        throw kerr('EFAULT', `the argument buffer has ${this.buf.length} bytes but the kernel must access ${len}`);
      }
      return this.buf.length === len ? this.buf : this.buf.subarray(0, len);
    }
    const addr = this.address();
    if (addr === 0) throw kerr('EFAULT', 'the argument is a NULL pointer (pass the struct bytes, or a mapped address)');
    return this.proc.mm.ram(addr, len);
  }

  /** How many bytes are accessible behind the pointer (bounded to `max`). */
  available(max: number): number {
    if (this.buf) return Math.min(this.buf.length, max);
    const addr = this.address();
    const vma = addr ? this.proc.mm.find(addr) : undefined;
    return vma ? Math.min(vma.end - addr, max) : 0;
  }

  /** A NUL-terminated string argument of at most `max` bytes including the NUL (strndup_user). */
  string(max: number): string {
    const n = this.available(max);
    if (n === 0) throw kerr('EFAULT', 'the string argument is not readable');
    const b = this.user(n);
    const nul = b.indexOf(0);
    if (nul < 0) {
      if (n >= max) throw kerr('EINVAL', `the string argument is longer than ${max - 1} bytes`);
      throw kerr('EFAULT', 'the string argument has no terminating NUL inside its buffer');
    }
    return decoder.decode(b.subarray(0, nul));
  }

  /** A copy of the bytes behind the pointer (for traces), at most `max`. */
  snapshot(max: number): Uint8Array | undefined {
    try {
      const n = this.available(max);
      return n > 0 ? this.user(n).slice() : undefined;
    } catch {
      return undefined;
    }
  }
}

/** USER_PTR_MAX (arch/x86/kernel/cpu/common.c): TASK_SIZE_MAX with 4-level paging and no LAM. */
export const USER_PTR_MAX = TASK_SIZE;

/**
 * access_ok() for a size not known at compile time (arch/x86/include/asm/uaccess_64.h __access_ok):
 * addr + size must not wrap and must stay at or below USER_PTR_MAX. Nothing is looked up: an unmapped
 * range passes and faults later, in the copy.
 */
export function accessOk(addr: bigint, size: bigint): boolean {
  const sum = BigInt.asUintN(64, addr + size);
  return sum <= BigInt(USER_PTR_MAX) && sum >= addr;
}

/**
 * Walks [addr, addr+len) of `mm` VMA by VMA, handing each accessible RAM piece to `fn`; stops at the first
 * byte that is unmapped, MMIO, or lacks `prot`. Returns the bytes not reached (0: all of them).
 */
function walkUser(mm: AddressSpace, addr: number, len: number, prot: number, fn: (ram: Uint8Array, done: number) => void): number {
  let done = 0;
  while (done < len) {
    const a = addr + done;
    const vma = mm.find(a);
    if (!vma || (vma.prot & prot) !== prot || !vma.backing.ram) break;
    const n = Math.min(len - done, vma.end - a);
    const off = a - vma.start;
    fn(vma.backing.ram.subarray(off, off + n), done);
    done += n;
  }
  return len - done;
}

/**
 * copy_to_user(): writes `src` at user address `addr` of `mm`; returns the bytes NOT copied. As on x86,
 * every byte before the first one that faults (unmapped, not writable, not RAM) is written.
 */
export function copyToUser(mm: AddressSpace, addr: number, src: Uint8Array): number {
  return walkUser(mm, addr, src.length, PROT_WRITE, (ram, done) => ram.set(src.subarray(done, done + ram.length)));
}

/** copy_from_user(): reads `dst.length` bytes at `addr` of `mm`; returns the bytes NOT copied. */
export function copyFromUser(mm: AddressSpace, dst: Uint8Array, addr: number): number {
  return walkUser(mm, addr, dst.length, PROT_READ, (ram, done) => dst.set(ram, done));
}
