// KVM_X86_SET_MSR_FILTER and the check every guest MSR access makes against it (arch/x86/kvm/x86.c:
// kvm_vm_ioctl_set_msr_filter, kvm_add_msr_filter, kvm_msr_allowed).
//
// - flags other than KVM_MSR_FILTER_DEFAULT_DENY -> EINVAL; DEFAULT_DENY with every range empty -> EINVAL.
// - Ranges are taken in order; one with nmsrs 0 is skipped whatever else it says. Otherwise flags must be
//   READ and/or WRITE (0 or other bits -> EINVAL), the bitmap (nmsrs bits rounded up to longs) must fit
//   KVM_MSR_FILTER_MAX_BITMAP_SIZE (EINVAL) and be readable user memory (EFAULT). Nothing changes on error.
// - The new filter replaces the old one whole; flags 0 with no ranges is "allow everything".
// - kvm_msr_allowed(): x2APIC MSRs (0x800-0x8ff) are never filtered; the first range of the access's
//   type containing the MSR decides (bit set = allowed); else the default. Only guest RDMSR/WRMSR are
//   filtered, never KVM_GET/SET_MSRS.

import { kerr } from '../errors.js';
import type { Process } from '../process.js';
import { copyFromUser, type UserArg } from '../uaccess.js';
import { getU32, getU64 } from '../../../abi/bytes.js';
import {
  KVM_MSR_FILTER_DEFAULT_DENY, KVM_MSR_FILTER_MAX_BITMAP_SIZE, KVM_MSR_FILTER_MAX_RANGES, KVM_MSR_FILTER_READ, KVM_MSR_FILTER_WRITE,
  kvm_msr_filter, kvm_msr_filter_range,
} from '../../../include-ts/asm/kvm.js';

const KVM_MSR_FILTER_VALID_MASK = KVM_MSR_FILTER_DEFAULT_DENY;
const KVM_MSR_FILTER_RANGE_VALID_MASK = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;

interface MsrRange {
  readonly flags: number;
  readonly base: number;
  readonly nmsrs: number;
  readonly bitmap: Uint8Array;
}

/** struct kvm_x86_msr_filter. */
export class MsrFilter {
  constructor(
    readonly defaultAllow: boolean,
    readonly ranges: readonly MsrRange[],
  ) {}
}

/** x2APIC MSRs do not support filtering. */
export function isX2apicMsr(index: number): boolean {
  return index >= 0x800 && index <= 0x8ff;
}

/** kvm_msr_allowed(): `type` is KVM_MSR_FILTER_READ or KVM_MSR_FILTER_WRITE. */
export function kvmMsrAllowed(filter: MsrFilter | null, index: number, type: number): boolean {
  if (isX2apicMsr(index) || filter === null) return true;
  for (const r of filter.ranges) {
    // end = base + nmsrs in u32 arithmetic, as the kernel computes it.
    const end = (r.base + r.nmsrs) >>> 0;
    if (index >= r.base && index < end && r.flags & type) {
      const bit = index - r.base;
      return (r.bitmap[bit >> 3]! >> (bit & 7) & 1) === 1;
    }
  }
  return filter.defaultAllow;
}

const RANGES = kvm_msr_filter.offsetof('ranges');
const RANGE = kvm_msr_filter_range.size;
const R_FLAGS = kvm_msr_filter_range.offsetof('flags');
const R_NMSRS = kvm_msr_filter_range.offsetof('nmsrs');
const R_BASE = kvm_msr_filter_range.offsetof('base');
const R_BITMAP = kvm_msr_filter_range.offsetof('bitmap');

/** KVM_X86_SET_MSR_FILTER on a VM: the filter to install (the caller swaps it in). */
export function parseMsrFilter(proc: Process, arg: UserArg): MsrFilter {
  const b = arg.user(kvm_msr_filter.size);
  const flags = getU32(b, 0);
  if (flags & ~KVM_MSR_FILTER_VALID_MASK) throw kerr('EINVAL', `kvm_msr_filter.flags 0x${flags.toString(16)} has bits other than KVM_MSR_FILTER_DEFAULT_DENY`);
  let empty = true;
  for (let i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) if (getU32(b, RANGES + i * RANGE + R_NMSRS) !== 0) empty = false;
  const defaultAllow = (flags & KVM_MSR_FILTER_DEFAULT_DENY) === 0;
  if (empty && !defaultAllow) throw kerr('EINVAL', 'KVM_MSR_FILTER_DEFAULT_DENY with no range allowing anything (every nmsrs is 0)');
  const ranges: MsrRange[] = [];
  for (let i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
    const o = RANGES + i * RANGE;
    const nmsrs = getU32(b, o + R_NMSRS);
    if (nmsrs === 0) continue;
    const rflags = getU32(b, o + R_FLAGS);
    if (rflags & ~KVM_MSR_FILTER_RANGE_VALID_MASK || rflags === 0) throw kerr('EINVAL', `ranges[${i}].flags 0x${rflags.toString(16)} is not KVM_MSR_FILTER_READ and/or KVM_MSR_FILTER_WRITE`);
    // BITS_TO_LONGS(nmsrs) * sizeof(long).
    const size = Math.ceil(nmsrs / 64) * 8;
    if (size > KVM_MSR_FILTER_MAX_BITMAP_SIZE) throw kerr('EINVAL', `ranges[${i}].nmsrs ${nmsrs} needs a ${size}-byte bitmap, above KVM_MSR_FILTER_MAX_BITMAP_SIZE (${KVM_MSR_FILTER_MAX_BITMAP_SIZE})`);
    const bitmap = new Uint8Array(size);
    const ptr = getU64(b, o + R_BITMAP);
    if (ptr > BigInt(Number.MAX_SAFE_INTEGER) || copyFromUser(proc.mm, bitmap, Number(ptr)) !== 0) {
      throw kerr('EFAULT', `ranges[${i}].bitmap 0x${ptr.toString(16)} is not ${size} bytes of readable user memory`);
    }
    ranges.push({ flags: rflags, base: getU32(b, o + R_BASE), nmsrs, bitmap });
  }
  return new MsrFilter(defaultAllow, ranges);
}
