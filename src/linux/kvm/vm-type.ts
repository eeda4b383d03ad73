// KVM_CREATE_VM's type on x86 and what private memory the VM types offer (arch/x86/kvm/x86.c:
// kvm_arch_init_vm, kvm_is_vm_type_supported, kvm_caps.supported_vm_types and the KVM_CAP_VM_TYPES /
// KVM_CAP_MEMORY_ATTRIBUTES / KVM_CAP_GUEST_MEMFD cases of the check-extension functions).
//
// - supported_vm_types is BIT(KVM_X86_DEFAULT_VM) alone on this host: no SW_PROTECTED (needs
//   CONFIG_KVM_SW_PROTECTED_VM and TDP), no SEV/SEV-ES/SNP (SVM), no TDX (VMX). KVM_CAP_VM_TYPES
//   reports that mask (1) [E]; any other type, or one past bit 31, -> EINVAL from KVM_CREATE_VM [E].
// - A default VM has no private memory: KVM_CAP_MEMORY_ATTRIBUTES is 0 and KVM_SET_MEMORY_ATTRIBUTES
//   is not a VM ioctl (ENOTTY) on the host too [E].
// - guest_memfd: offered to default VMs as on the 6.18 host (KVM_CAP_GUEST_MEMFD 1, KVM_CAP_GUEST_MEMFD_FLAGS
//   3 = MMAP|INIT_SHARED: kvm_arch_supports_gmem_init_shared() holds for a VM without private memory),
//   KVM_CREATE_GUEST_MEMFD and KVM_MEM_GUEST_MEMFD slots: guest-memfd.ts [E]. Without private memory a
//   guest_memfd's pages reach the guest only through a gmem-only slot (one made with GUEST_MEMFD_FLAG_MMAP).

import { kerr } from '../errors.js';
import { KVM_X86_DEFAULT_VM } from '../../../include-ts/asm/kvm.js';

/** kvm_caps.supported_vm_types: KVM_CAP_VM_TYPES's value. */
export const KVM_SUPPORTED_VM_TYPES = 1 << KVM_X86_DEFAULT_VM;

/** kvm_arch_init_vm(): the type must be a supported one (the caller has already reserved the fd). */
export function checkVmType(type: bigint): void {
  if (type >= 32n || !(KVM_SUPPORTED_VM_TYPES & (1 << Number(type)))) {
    throw kerr('EINVAL', `VM type ${type} is not supported on this host (KVM_CAP_VM_TYPES is 0x${KVM_SUPPORTED_VM_TYPES.toString(16)}: only KVM_X86_DEFAULT_VM)`);
  }
}
