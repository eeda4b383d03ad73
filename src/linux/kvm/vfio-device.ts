// The kvm-vfio pseudo device (virt/kvm/vfio.c): KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO) gives a VM one
// device (a second: EBUSY, kvm_vfio_create) through which userspace names the VFIO files (group fds and
// device fds) the VM uses, as QEMU does for each (hw/vfio: vfio_kvm_device_add_fd / _del_fd).
//
// KVM_SET_DEVICE_ATTR, group KVM_DEV_VFIO_FILE (= KVM_DEV_VFIO_GROUP), addr pointing to an int32 fd:
//   KVM_DEV_VFIO_FILE_ADD (= GROUP_ADD): the fd read (EFAULT), fget (EBADF), vfio_file_is_valid (EINVAL for
//     anything but a VFIO group or device file), already on the list (EEXIST: the same open file, so a dup
//     of an added fd is EEXIST too); then the file is referenced and listed, told its VM
//     (vfio_file_set_kvm) and the VM's non-coherent DMA registration recomputed (kvm_vfio_update_coherency).
//   KVM_DEV_VFIO_FILE_DEL (= GROUP_DEL): the fd read (EFAULT), fget (EBADF), not on the list (ENOENT: any
//     other file, VFIO or not); the file is unlisted, its VM cleared and its reference dropped; the
//     coherency recomputed even when nothing was removed.
//   any other attribute, KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE included (CONFIG_SPAPR_TCE_IOMMU is POWER only),
//   or any other group: ENXIO. The attribute is compared as a 64-bit value (1 << 32 | 1 is not ADD).
// KVM_HAS_DEVICE_ATTR: 0 for FILE_ADD / FILE_DEL, ENXIO otherwise. KVM_GET_DEVICE_ATTR: no get_attr, EPERM.
// Closing the device fd (kvm_vfio_release) clears every listed file's VM and drops its reference.
//
// kvm_vfio_update_coherency: while any listed file's DMA is not enforced coherent the device holds one
// kvm_arch_register_noncoherent_dma (Kvm.noncoherentDmaCount); the model's VT-d has Snoop Control, so
// its files are coherent and the count stays 0 unless a device has no DMAR unit.
// Older kernels (6.12 among them) also counted assigned devices here (kvm_arch_start/end_assignment);
// the current vfio.c does not (x86 counts them where IRQ bypass producers connect), nor does the model.
// Checked against this machine (test/linux/kvm/kvm-vfio-oracle.c, no VFIO files there); the VFIO-file
// cases are unit tests in test/linux/kvm/kvm-vfio.test.ts.

import { kerr } from '../errors.js';
import type { FileContext, KFile } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import { copyFromUser } from '../uaccess.js';
import { getS32 } from '../../../abi/bytes.js';
import { KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, KVM_DEV_VFIO_FILE_DEL } from '../../../include-ts/linux/kvm.js';
import { vfioFileEnforcedCoherent, vfioFileIsValid, vfioFileSetKvm } from '../vfio/file-kvm.js';
import type { KvmDevice, KvmDeviceAttr, KvmDeviceOps } from './device.js';

/** struct kvm_vfio: the listed files (kvm_vfio_file), and whether the VM is registered non-coherent. */
export class KvmVfio {
  readonly files: KFile[] = [];
  noncoherent = false;
}

function state(dev: KvmDevice): KvmVfio {
  return dev.private_ as KvmVfio;
}

/** kvm_vfio_update_coherency(). */
function updateCoherency(dev: KvmDevice, kernel: Kernel): void {
  const kv = state(dev);
  const noncoherent = kv.files.some((f) => !vfioFileEnforcedCoherent(kernel, f));
  if (noncoherent === kv.noncoherent) return;
  kv.noncoherent = noncoherent;
  // kvm_arch_register_noncoherent_dma / kvm_arch_unregister_noncoherent_dma.
  dev.kvm.noncoherentDmaCount += noncoherent ? 1 : -1;
}

/** get_user(fd, (int32_t __user *)addr). */
function readFd(ctx: FileContext, addr: bigint): number {
  const b = new Uint8Array(4);
  if (addr >= 1n << 53n || copyFromUser(ctx.proc.mm, b, Number(addr))) throw kerr('EFAULT', `attr.addr 0x${addr.toString(16)} does not point to a readable int (the fd)`);
  return getS32(b, 0);
}

/** fget(fd). */
function fget(ctx: FileContext, fd: number): KFile {
  const f = ctx.proc.fileOrNull(fd);
  if (!f) throw kerr('EBADF', `fd ${fd} is not an open file descriptor`);
  return f;
}

/** kvm_vfio_file_add(). */
function fileAdd(dev: KvmDevice, ctx: FileContext, fd: number): number {
  const kv = state(dev);
  const f = fget(ctx, fd);
  if (!vfioFileIsValid(f)) throw kerr('EINVAL', `fd ${fd} (${f.path}) is not a VFIO group or device file`);
  if (kv.files.includes(f)) throw kerr('EEXIST', `fd ${fd} (${f.path}) is already added to the kvm-vfio device`);
  kv.files.push(f.get());
  vfioFileSetKvm(f, dev.kvm);
  updateCoherency(dev, ctx.kernel);
  return 0;
}

/** kvm_vfio_file_del(). */
function fileDel(dev: KvmDevice, ctx: FileContext, fd: number): number {
  const kv = state(dev);
  const f = fget(ctx, fd);
  const i = kv.files.indexOf(f);
  if (i >= 0) {
    kv.files.splice(i, 1);
    vfioFileSetKvm(f, null);
    f.put(ctx.kernel);
  }
  updateCoherency(dev, ctx.kernel);
  if (i < 0) throw kerr('ENOENT', `fd ${fd} (${f.path}) was not added to the kvm-vfio device`);
  return 0;
}

/** Whether `attr` (a u64) is `v`. */
const is = (attr: bigint, v: number): boolean => attr === BigInt(v);

export const kvmVfioOps: KvmDeviceOps = {
  name: 'kvm-vfio',

  /** kvm_vfio_create(): only one per VM. */
  create(dev: KvmDevice): void {
    if (dev.kvm.devices.some((d) => d.ops === kvmVfioOps)) throw kerr('EBUSY', `VM ${dev.kvm.id} already has a kvm-vfio device (only one per VM)`);
    dev.private_ = new KvmVfio();
  },

  /** kvm_vfio_set_attr() -> kvm_vfio_set_file(). */
  setAttr(dev: KvmDevice, ctx: FileContext, a: KvmDeviceAttr): number {
    if (a.group === KVM_DEV_VFIO_FILE) {
      if (is(a.attr, KVM_DEV_VFIO_FILE_ADD)) return fileAdd(dev, ctx, readFd(ctx, a.addr));
      if (is(a.attr, KVM_DEV_VFIO_FILE_DEL)) return fileDel(dev, ctx, readFd(ctx, a.addr));
      throw kerr('ENXIO', `attribute ${a.attr} of KVM_DEV_VFIO_FILE is not FILE_ADD (1) or FILE_DEL (2) (SET_SPAPR_TCE exists only on POWER)`);
    }
    throw kerr('ENXIO', `group ${a.group} is not a kvm-vfio attribute group (KVM_DEV_VFIO_FILE is 1)`);
  },

  /** kvm_vfio_has_attr(). */
  hasAttr(_dev: KvmDevice, _ctx: FileContext, a: KvmDeviceAttr): number {
    if (a.group === KVM_DEV_VFIO_FILE && (is(a.attr, KVM_DEV_VFIO_FILE_ADD) || is(a.attr, KVM_DEV_VFIO_FILE_DEL))) return 0;
    throw kerr('ENXIO', `the kvm-vfio device has no attribute ${a.attr} in group ${a.group}`);
  },

  /** kvm_vfio_release(): every file forgets the VM and is dropped. */
  release(dev: KvmDevice, kernel: Kernel): void {
    const kv = state(dev);
    for (const f of kv.files.splice(0)) {
      vfioFileSetKvm(f, null);
      f.put(kernel);
    }
    updateCoherency(dev, kernel);
  },
};
