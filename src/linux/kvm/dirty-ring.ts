// The dirty ring (virt/kvm/dirty_ring.c; virt/kvm/kvm_main.c: kvm_vm_ioctl_enable_dirty_log_ring,
// kvm_vm_ioctl_reset_dirty_pages, kvm_page_in_dirty_ring, kvm_vcpu_mmap, mark_page_dirty_in_slot;
// arch/x86/kvm/x86.c vcpu_enter_guest's kvm_dirty_ring_check_request; arch/x86/kvm/mmu for when a guest
// write is logged). KVM_CAP_DIRTY_LOG_RING(_ACQ_REL) gives each vCPU a ring of struct kvm_dirty_gfn that
// userspace maps at page KVM_DIRTY_LOG_PAGE_OFFSET of the vCPU fd, instead of the slots' bitmaps:
// - Enabling takes args[0] as a u32 byte size: a power of two, at least a page and the reserved entries
//   (EINVAL), at most KVM_DIRTY_RING_MAX_ENTRIES entries (E2BIG), once (EINVAL), before any vCPU
//   (EINVAL). kvm_vm_ioctl_enable_cap_generic checks no flags for it [E].
// - A guest write through a slot with KVM_MEM_LOG_DIRTY_PAGES pushes (slot, page offset) to the writing
//   vCPU's ring: a hardware write only when it faults, i.e. the first write to a page after logging
//   started or after its entry was harvested and reset (the fault makes the SPTE writable); a write KVM
//   emulates or makes itself (kvm_write_guest: pvclock, steal time) every time.
// - Reaching the soft limit (size - KVM_DIRTY_RING_RSVD_ENTRIES) raises KVM_REQ_DIRTY_RING_SOFT_FULL:
//   the next entry exits with KVM_EXIT_DIRTY_RING_FULL, and keeps doing so until a reset brings the
//   ring under the limit. A hardware write whose fault filled the ring runs again after that exit
//   (the fault handler returns to vcpu_enter_guest before the instruction completes).
// - Userspace collects an entry by setting KVM_DIRTY_GFN_F_RESET in its flags; KVM_RESET_DIRTY_RINGS
//   walks each ring from its reset index while entries are collected, zeroes their flags, write-protects
//   their pages again (batched per slot, as kvm_dirty_ring_reset does; slot and offset are read back from
//   the shared page, so what userspace wrote there is what is reset), and returns the count.
// - With a ring (x86 has no KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP) new logging slots get no bitmap, and
//   KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG fail with ENXIO before any other check [E].
// This machine's kvm_pvm logs every write to a logged page and never exits at the soft limit in the
// middle of a run (measured); the model follows the source (see dirty-ring.test.ts).

import { kerr } from '../errors.js';
import { getU32, getU64, setU32 } from '../../../abi/bytes.js';
import { KVM_DIRTY_GFN_F_DIRTY, KVM_DIRTY_GFN_F_RESET, kvm_dirty_gfn } from '../../../include-ts/linux/kvm.js';
import { KVM_DIRTY_LOG_PAGE_OFFSET } from '../../../include-ts/asm/kvm.js';
import { KVM_USER_MEM_SLOTS, PAGE_SIZE } from './kvm-host.js';
import { flushRemoteTlbs } from './dirty-log.js';
import type { MemSlot } from './memslot.js';
import type { Kvm } from './vm.js';

/** KVM_DIRTY_RING_RSVD_ENTRIES: room kept past the soft limit for writes made before the vCPU exits. */
export const KVM_DIRTY_RING_RSVD_ENTRIES = 64;
/** KVM_DIRTY_RING_MAX_ENTRIES. */
export const KVM_DIRTY_RING_MAX_ENTRIES = 65536;
/**
 * kvm_cpu_dirty_log_size(): the PML buffer's entries on VMX; 0 on SVM, which the model's host is (this
 * machine accepts a 4096-byte ring, so it reserves no more than 256 entries).
 */
const CPU_DIRTY_LOG_SIZE = 0;
const GFN_SIZE = kvm_dirty_gfn.size;
const SLOT = kvm_dirty_gfn.offsetof('slot');
const OFFSET = kvm_dirty_gfn.offsetof('offset');
/** What KVM_CAP_DIRTY_LOG_RING and _ACQ_REL report on x86: the largest ring in bytes. */
export const KVM_DIRTY_RING_MAX_BYTES = KVM_DIRTY_RING_MAX_ENTRIES * GFN_SIZE;

/** kvm_dirty_ring_get_rsvd_entries(). */
const rsvdEntries = (): number => KVM_DIRTY_RING_RSVD_ENTRIES + CPU_DIRTY_LOG_SIZE;

/** struct kvm_dirty_ring: one vCPU's ring; `bytes` is what the vCPU mmap shows at the ring's pages. */
export class DirtyRing {
  readonly bytes: Uint8Array;
  /** Entries (a power of two). */
  readonly size: number;
  readonly softLimit: number;
  dirtyIndex = 0;
  resetIndex = 0;
  /** KVM_REQ_DIRTY_RING_SOFT_FULL. */
  softFullRequest = false;

  constructor(bytes: number) {
    this.bytes = new Uint8Array(bytes);
    this.size = bytes / GFN_SIZE;
    this.softLimit = this.size - rsvdEntries();
  }

  /** kvm_dirty_ring_used(): u32 indices, so the difference wraps as the kernel's does. */
  used(): number {
    return (this.dirtyIndex - this.resetIndex) >>> 0;
  }

  /** kvm_dirty_ring_push(): a full ring is overwritten (the kernel only warns). */
  push(slot: number, offset: number): void {
    const b = this.bytes;
    const at = (this.dirtyIndex & (this.size - 1)) * GFN_SIZE;
    setU32(b, at + SLOT, slot);
    setU32(b, at + OFFSET, offset >>> 0);
    setU32(b, at + OFFSET + 4, Math.floor(offset / 2 ** 32));
    setU32(b, at, KVM_DIRTY_GFN_F_DIRTY);
    this.dirtyIndex = (this.dirtyIndex + 1) >>> 0;
    if (this.used() >= this.softLimit) this.softFullRequest = true;
  }

  /**
   * mark_page_dirty_in_slot() for pages `first`..`last` of `slot`, written by this ring's vCPU. A
   * hardware write (`hw`) is logged by the fault on a write-protected page, so only for pages not yet
   * writable; it returns true when that fault filled the ring to its soft limit: the write waits.
   */
  logPages(slot: MemSlot, first: number, last: number, hw: boolean): boolean {
    const w = slot.ringWritable!;
    let pushed = false;
    for (let pg = first; pg <= last; pg++) {
      if (hw) {
        const bit = 1 << (pg & 7);
        if (w[pg >> 3]! & bit) continue;
        w[pg >> 3]! |= bit;
      }
      this.push(slot.id, pg);
      pushed = true;
    }
    return hw && pushed && this.softFullRequest;
  }

  /**
   * kvm_dirty_ring_reset(): collected entries from the reset index on, their pages write-protected in
   * batches of one slot and 64 pages (kvm_reset_dirty_gfn); returns how many were reset.
   */
  reset(kvm: Kvm): number {
    const b = this.bytes;
    let count = 0;
    let curSlot = 0;
    let curOffset = 0n;
    let mask = 0n;
    for (;;) {
      const at = (this.resetIndex & (this.size - 1)) * GFN_SIZE;
      if (!(getU32(b, at) & KVM_DIRTY_GFN_F_RESET)) break;
      const nextSlot = getU32(b, at + SLOT);
      const nextOffset = getU64(b, at + OFFSET);
      setU32(b, at, 0);
      this.resetIndex = (this.resetIndex + 1) >>> 0;
      count++;
      if (mask !== 0n) {
        if (nextSlot === curSlot) {
          const delta = BigInt.asIntN(64, nextOffset - curOffset);
          if (delta >= 0n && delta < 64n) {
            mask |= 1n << delta;
            continue;
          }
          // Backwards, while the batch still fits in 64 pages.
          if (delta > -64n && delta < 0n && BigInt.asUintN(64, mask << -delta) >> -delta === mask) {
            curOffset = nextOffset;
            mask = BigInt.asUintN(64, mask << -delta) | 1n;
            continue;
          }
        }
        resetDirtyGfn(kvm, curSlot, curOffset, mask);
      }
      curSlot = nextSlot;
      curOffset = nextOffset;
      mask = 1n;
    }
    if (mask !== 0n) resetDirtyGfn(kvm, curSlot, curOffset, mask);
    return count;
  }
}

/** kvm_reset_dirty_gfn(): write-protect the batch's pages again, unless the slot or range is gone. */
function resetDirtyGfn(kvm: Kvm, slotArg: number, offset: bigint, mask: bigint): void {
  const id = slotArg & 0xffff;
  if (slotArg >>> 16 >= 1 || id >= KVM_USER_MEM_SLOTS) return;
  const slot = kvm.memslots.byIdOrNull(id);
  if (slot === null || offset + BigInt(mask.toString(2).length - 1) >= BigInt(slot.npages)) return;
  const w = slot.ringWritable;
  if (w === null) return;
  for (let i = 0; mask >> BigInt(i) !== 0n; i++) {
    if (((mask >> BigInt(i)) & 1n) === 0n) continue;
    const pg = Number(offset) + i;
    w[pg >> 3]! &= ~(1 << (pg & 7));
  }
}

/** KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING or _ACQ_REL): kvm_vm_ioctl_enable_dirty_log_ring(kvm, (u32)args[0]). */
export function enableDirtyLogRing(kvm: Kvm, args0: bigint): number {
  const size = Number(args0 & 0xffff_ffffn);
  if (size === 0 || (size & (size - 1)) !== 0) throw kerr('EINVAL', `ring size ${size} (args[0] as a u32) is not a power of two`);
  if (size < rsvdEntries() * GFN_SIZE || size < PAGE_SIZE) throw kerr('EINVAL', `ring size ${size} is smaller than a page (or than the ${rsvdEntries()} reserved entries)`);
  if (size > KVM_DIRTY_RING_MAX_BYTES) throw kerr('E2BIG', `ring size ${size} is more than KVM_DIRTY_RING_MAX_ENTRIES (${KVM_DIRTY_RING_MAX_ENTRIES}) entries of 16 bytes`);
  if (kvm.dirtyRingSize !== 0) throw kerr('EINVAL', `the dirty ring is already enabled (${kvm.dirtyRingSize} bytes); it is set once`);
  if (kvm.createdVcpus !== 0) throw kerr('EINVAL', 'the VM already has vCPUs; the dirty ring must be enabled before KVM_CREATE_VCPU');
  kvm.dirtyRingSize = size;
  kvm.memslots.dirtyRing = true;
  return 0;
}

/** KVM_RESET_DIRTY_RINGS: kvm_vm_ioctl_reset_dirty_pages(). */
export function resetDirtyRings(kvm: Kvm): number {
  if (kvm.dirtyRingSize === 0) throw kerr('EINVAL', 'the VM has no dirty ring (KVM_CAP_DIRTY_LOG_RING is not enabled)');
  let cleared = 0;
  for (const v of kvm.vcpus) cleared += v.dirtyRing!.reset(kvm);
  if (cleared) flushRemoteTlbs(kvm);
  return cleared;
}

/**
 * kvm_dirty_ring_check_request(), for a vCPU whose ring raised the request: true (the request stays)
 * while the ring is at its soft limit, and the entry must exit with KVM_EXIT_DIRTY_RING_FULL.
 */
export function dirtyRingFull(r: DirtyRing): boolean {
  if (r.used() >= r.softLimit) return true;
  r.softFullRequest = false;
  return false;
}

/** kvm_page_in_dirty_ring(): whether vCPU mmap page `pgoff` is one of the ring's. */
export function pageInDirtyRing(kvm: Kvm, pgoff: number): boolean {
  return pgoff >= KVM_DIRTY_LOG_PAGE_OFFSET && pgoff < KVM_DIRTY_LOG_PAGE_OFFSET + kvm.dirtyRingSize / PAGE_SIZE;
}

/** Where the ring starts in the vCPU mmap (bytes). */
export const DIRTY_RING_MMAP_OFFSET = KVM_DIRTY_LOG_PAGE_OFFSET * PAGE_SIZE;
