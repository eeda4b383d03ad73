// The two memory-slot ioctls of a VM fd (virt/kvm/kvm_main.c: kvm_vm_ioctl's KVM_SET_USER_MEMORY_REGION
// and KVM_SET_USER_MEMORY_REGION2 cases, KVM_SET_USER_MEMORY_REGION_V1_FLAGS), in front of the shared
// slot rules (memslot.ts, kvm_vm_ioctl_set_memory_region).
//
// - v1 copies struct kvm_userspace_memory_region (32 bytes), v2 struct kvm_userspace_memory_region2
//   (160 bytes): fewer readable bytes -> EFAULT, before any other check [E].
// - v1 then refuses flags outside KVM_SET_USER_MEMORY_REGION_V1_FLAGS (those that need none of v2's
//   extra fields) -> EINVAL; v2 hands every flag to check_memory_region_flags.
// - v2's pad1/pad2 are not checked: non-zero padding is accepted [E]. guest_memfd and
//   guest_memfd_offset are read only with KVM_MEM_GUEST_MEMFD: the fd is looked up in the caller's
//   table by kvm_gmem_bind(), after every slot rule (guest-memfd.ts).

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64 } from '../../../abi/bytes.js';
import {
  KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, kvm_userspace_memory_region, kvm_userspace_memory_region2,
} from '../../../include-ts/linux/kvm.js';
import type { Kvm } from './vm.js';
import type { Process } from '../process.js';
import { gmemFileOf } from './guest-memfd.js';
import { KVM_MEM_GUEST_MEMFD } from '../../../include-ts/linux/kvm.js';

/**
 * The flags KVM_SET_USER_MEMORY_REGION (v1) may carry. 6.18 also lists KVM_MEM_ENABLE_CACHEABLE_PFNMAP
 * (bit 3), which x86 never accepts (kvm_arch_supports_cacheable_pfnmap is false): EINVAL either way.
 */
export const KVM_SET_USER_MEMORY_REGION_V1_FLAGS = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY;

/** KVM_SET_USER_MEMORY_REGION (v2 false) or KVM_SET_USER_MEMORY_REGION2 (v2 true). */
export function setUserMemoryRegion(kvm: Kvm, arg: UserArg, v2: boolean, proc: Process): number {
  const b = arg.user(v2 ? kvm_userspace_memory_region2.size : kvm_userspace_memory_region.size);
  const flags = getU32(b, 4);
  if (!v2 && flags & ~KVM_SET_USER_MEMORY_REGION_V1_FLAGS) {
    throw kerr('EINVAL', `flags 0x${flags.toString(16)}: KVM_SET_USER_MEMORY_REGION takes only KVM_MEM_LOG_DIRTY_PAGES|KVM_MEM_READONLY (the others need KVM_SET_USER_MEMORY_REGION2)`);
  }
  const gm = v2 && (flags & KVM_MEM_GUEST_MEMFD) !== 0;
  const offset = gm ? getU64(b, 32) : 0n;
  const fd = getU32(b, 40);
  return kvm.memslots.set({
    slot: getU32(b, 0),
    flags,
    guestPhysAddr: getU64(b, 8),
    memorySize: getU64(b, 16),
    userspaceAddr: getU64(b, 24),
    ...(gm
      ? {
        guestMemfdOffset: offset,
        // kvm_gmem_bind(): fget() of the caller's fd (an unsigned int: EBADF past the table).
        bindGmem: (slot) => {
          const f = gmemFileOf(fd > 0x7fffffff ? undefined : proc.fileOrNull(fd), fd);
          f.checkBind(kvm, offset, slot.npages);
          return f.bind(slot, offset);
        },
      }
      : {}),
  });
}
