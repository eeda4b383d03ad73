// Dirty page logging (virt/kvm/kvm_main.c: kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect,
// kvm_vm_ioctl_enable_cap_generic's KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): what a VMM reads to migrate
// guest memory. A slot with KVM_MEM_LOG_DIRTY_PAGES has a bitmap (memslot.ts) that every guest write
// through the slot marks; writes the VMM makes itself are not logged.
// - KVM_GET_DIRTY_LOG copies the bitmap (ALIGN(npages, 64) / 8 bytes) to the user's pointer. Without
//   manual protect it also clears it (the kernel swaps in a second bitmap and write-protects the pages
//   again); with KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE the bits stay until KVM_CLEAR_DIRTY_LOG.
// - KVM_CLEAR_DIRTY_LOG clears the bits set in the user's bitmap for [first_page, first_page +
//   num_pages): first_page must be a multiple of 64 and num_pages too unless the range runs to the end.
// - Errors in the kernel's order: EINVAL for an address space or slot id out of range, ENOENT for a
//   slot that does not exist or does not log, EFAULT for the user bitmap [E].
// With the dirty ring enabled (dirty-ring.ts) both ioctls fail with ENXIO first (kvm_use_dirty_bitmap()).

import { kerr } from '../errors.js';
import { copyFromUser, copyToUser, type UserArg } from '../uaccess.js';
import type { Process } from '../process.js';
import { getU32, getU64 } from '../../../abi/bytes.js';
import { KVM_DIRTY_LOG_INITIALLY_SET, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, kvm_clear_dirty_log, kvm_dirty_log } from '../../../include-ts/linux/kvm.js';
import { KVM_USER_MEM_SLOTS } from './kvm-host.js';
import type { MemSlot } from './memslot.js';
import type { Kvm } from './vm.js';

/** KVM_DIRTY_LOG_MANUAL_CAPS: what KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 reports and accepts. */
export const KVM_DIRTY_LOG_MANUAL_CAPS = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;

/**
 * kvm_flush_remote_tlbs() (x86 has no ranged flush without Hyper-V): a request, counted in
 * remote_tlb_flush_requests; remote_tlb_flush counts only flushes that had to IPI a vCPU in guest mode,
 * and no vCPU is in guest mode while a VM ioctl runs in the model.
 */
export function flushRemoteTlbs(kvm: Kvm): void {
  kvm.stat.remote_tlb_flush_requests++;
}

/** kvm_use_dirty_bitmap(), checked first by both ioctls: x86 has no ring-with-bitmap mode. */
function useDirtyBitmap(kvm: Kvm): void {
  if (kvm.dirtyRingSize !== 0) throw kerr('ENXIO', 'the VM logs dirty pages in its vCPUs\' dirty rings (KVM_CAP_DIRTY_LOG_RING), not in bitmaps');
}

/** The slot's bitmap, after the id checks every dirty-log ioctl makes. */
function loggingSlot(kvm: Kvm, slotArg: number): MemSlot & { dirty: Uint8Array } {
  const as = slotArg >>> 16;
  const id = slotArg & 0xffff;
  if (as >= 1 || id >= KVM_USER_MEM_SLOTS) throw kerr('EINVAL', as >= 1 ? `address space ${as} does not exist (this VM has one: no SMM)` : `slot ${id} is not below KVM_USER_MEM_SLOTS (${KVM_USER_MEM_SLOTS})`);
  const slot = kvm.memslots.byIdOrNull(id);
  if (slot === null || slot.dirty === null) throw kerr('ENOENT', slot === null ? `slot ${id} does not exist` : `slot ${id} does not log dirty pages (KVM_MEM_LOG_DIRTY_PAGES is not set)`);
  return slot as MemSlot & { dirty: Uint8Array };
}

/** KVM_GET_DIRTY_LOG. */
export function getDirtyLog(kvm: Kvm, proc: Process, arg: UserArg): number {
  const b = arg.user(kvm_dirty_log.size);
  useDirtyBitmap(kvm);
  const slot = loggingSlot(kvm, getU32(b, 0));
  const d = slot.dirty;
  const bits = d.slice();
  // Without manual protect the bits are taken (xchg into the second bitmap) before the copy, so a
  // faulting copy loses them, as in the kernel.
  if (!(kvm.memslots.manualDirtyLogProtect & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
    // Pages taken from the log are write-protected again: kvm_flush_remote_tlbs_memslot() if any were.
    if (bits.some((x) => x !== 0)) flushRemoteTlbs(kvm);
    d.fill(0);
  }
  if (copyToUser(proc.mm, Number(getU64(b, 8)), bits) !== 0) throw kerr('EFAULT', 'dirty_bitmap is not writable user memory for the whole bitmap');
  return 0;
}

/** KVM_CLEAR_DIRTY_LOG. */
export function clearDirtyLog(kvm: Kvm, proc: Process, arg: UserArg): number {
  const b = arg.user(kvm_clear_dirty_log.size);
  useDirtyBitmap(kvm);
  const numPages = getU32(b, 4);
  const first = getU64(b, 8);
  if (first & 63n) throw kerr('EINVAL', `first_page ${first} is not a multiple of 64`);
  const slot = loggingSlot(kvm, getU32(b, 0));
  const npages = BigInt(slot.npages);
  if (first > npages || BigInt(numPages) > npages - first || (BigInt(numPages) < npages - first && numPages & 63)) {
    throw kerr('EINVAL', `pages ${first}+${numPages} are not inside slot ${slot.id}'s ${npages} pages, or num_pages is not a multiple of 64 short of its end`);
  }
  const words = Math.ceil(numPages / 64);
  const user = new Uint8Array(words * 8);
  if (copyFromUser(proc.mm, user, Number(getU64(b, 16))) !== 0) throw kerr('EFAULT', 'dirty_bitmap is not readable user memory for the pages asked');
  const d = slot.dirty;
  const base = Number(first) / 8;
  let cleared = false;
  for (let i = 0; i < words * 8; i++) {
    cleared ||= (d[base + i]! & user[i]!) !== 0;
    d[base + i]! &= ~user[i]!;
  }
  // Only bits that were set and are now clear re-protect pages (and ask for a flush).
  if (cleared) flushRemoteTlbs(kvm);
  return 0;
}

/** KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): INITIALLY_SET only together with PROTECT_ENABLE. */
export function enableManualDirtyLogProtect(kvm: Kvm, args0: bigint): number {
  const allowed = args0 & BigInt(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) ? KVM_DIRTY_LOG_MANUAL_CAPS : KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
  if (args0 & ~BigInt(allowed)) throw kerr('EINVAL', `args[0] 0x${args0.toString(16)} has bits other than 0x${allowed.toString(16)} (KVM_DIRTY_LOG_INITIALLY_SET needs KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)`);
  kvm.memslots.manualDirtyLogProtect = Number(args0);
  return 0;
}
