// Module init for KVM (virt/kvm/kvm_main.c: kvm_init, the /dev/kvm misc device): registers /dev/kvm
// (crw-rw---- root:kvm, as udev's rule sets it), the strace tables for /dev/kvm, VM and vCPU fds, and
// the module state on the kernel.

import type { Kernel } from '../kernel.js';
import { chardev } from '../fs/vfs.js';
import { KVM_MINOR, miscRegister } from '../fs/char-dev.js';
import type { IoctlTable } from '../trace/ioctl-desc.js';
import { KVM_SYSTEM_IOCTLS, KVM_VCPU_IOCTLS } from '../trace/decoders/kvm.js';
import { KVM_VM_IOCTLS_WITH_MSIX_TABLE } from '../trace/decoders/kvm-msix-table.js';
import { KvmDevFile } from './kvm-main.js';
import { KvmModule } from './vm.js';
import { declareHaltPollParams } from './halt-poll.js';

/** The `kvm` group that owns /dev/kvm (gid 36 as on Fedora/RHEL). */
export const KVM_GID = 36;

export function initKvm(kernel: Kernel): void {
  const module = new KvmModule(kernel, declareHaltPollParams(kernel));
  kernel.kvm = module;
  kernel.vfs.mkdirp('/dev').set('kvm', chardev(() => new KvmDevFile(module), 0o660, 0, KVM_GID, miscRegister(kernel, 'kvm', KVM_MINOR)));
  kernel.ioctlTables.set('kvm', KVM_SYSTEM_IOCTLS);
  // The VM fd's ioctls include the proposed in-kernel MSI-X table family (numbers disjoint from the real ones).
  kernel.ioctlTables.set('kvm-vm', KVM_VM_IOCTLS_WITH_MSIX_TABLE);
  kernel.ioctlTables.set('kvm-vcpu', KVM_VCPU_IOCTLS);
  // strace names KVM ioctls by number whatever the fd: on a stats fd (all ENOTTY) any of them.
  const anyKvm: IoctlTable = new Map([...KVM_SYSTEM_IOCTLS, ...KVM_VM_IOCTLS_WITH_MSIX_TABLE, ...KVM_VCPU_IOCTLS]);
  kernel.ioctlTables.set('kvm-vm-stats', anyKvm);
  kernel.ioctlTables.set('kvm-vcpu-stats', anyKvm);
  // A KVM_CREATE_DEVICE fd (device.ts): its attribute ioctls and any other KVM number.
  kernel.ioctlTables.set('kvm-device', anyKvm);
}
