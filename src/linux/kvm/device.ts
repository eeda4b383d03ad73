// The KVM device framework (virt/kvm/kvm_main.c: kvm_ioctl_create_device, kvm_device_ioctl,
// kvm_device_ioctl_attr, kvm_device_release, kvm_device_mmap, kvm_device_fops, kvm_device_ops_table;
// include/linux/kvm_host.h struct kvm_device / kvm_device_ops).
//
// KVM_CREATE_DEVICE on a VM fd copies struct kvm_create_device (EFAULT), refuses a type at or above
// KVM_DEV_TYPE_MAX or without registered ops (ENODEV; on x86 only KVM_DEV_TYPE_VFIO is registered), and
// with KVM_CREATE_DEVICE_TEST stops there (0, the struct copied back unchanged); other flag bits are not
// looked at. Otherwise the type's create() runs under kvm->lock (kvm-vfio: EBUSY for a second one), the
// device joins kvm->devices, takes a VM reference, and anon_inode_getfd(ops->name, O_RDWR | O_CLOEXEC)
// gives the fd written to cd.fd; when no fd is left (EMFILE) all of that is undone (the VM reference
// dropped, the device released), so the failed call leaves no device behind.
//
// The device fd: EIO from a process other than the VM's; KVM_SET/GET/HAS_DEVICE_ATTR go to the type's
// set_attr/get_attr/has_attr, EPERM when the type has none (before the struct is read), else EFAULT
// when struct kvm_device_attr cannot be read; any other ioctl is the type's ioctl() or ENOTTY; no
// read/write (EINVAL), mmap is the type's or ENODEV. Closing it runs the type's release() (the device
// leaves kvm->devices) and drops the VM reference, so the VM outlives its VM fd while a device fd is open.
// Checked against this machine's /dev/kvm by test/linux/kvm/kvm-vfio.test.ts (kvm-vfio-oracle.c).

import { kerr } from '../errors.js';
import { KFile, type FileContext, type MmapRequest } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import type { Backing } from '../mm/backing.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64, setU32 } from '../../../abi/bytes.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import {
  KVM_CREATE_DEVICE_TEST, KVM_DEV_TYPE_MAX, KVM_DEV_TYPE_VFIO, KVM_GET_DEVICE_ATTR, KVM_HAS_DEVICE_ATTR, KVM_SET_DEVICE_ATTR,
  kvm_create_device, kvm_device_attr,
} from '../../../include-ts/linux/kvm.js';
import type { Kvm } from './vm.js';
import { kvmVfioOps } from './vfio-device.js';

/** struct kvm_device_attr as the kernel copied it. */
export interface KvmDeviceAttr {
  readonly flags: number;
  readonly group: number;
  /** u64: the kernel's `long attr` switch compares all 64 bits. */
  readonly attr: bigint;
  /** A user pointer (u64_to_user_ptr). */
  readonly addr: bigint;
}

/** struct kvm_device_ops: what a device type implements (an absent accessor is EPERM, absent ioctl ENOTTY). */
export interface KvmDeviceOps {
  /** The anon inode's name: the device fd reads as anon_inode:<name>. */
  readonly name: string;
  /** Called under kvm->lock before the device is on kvm->devices; throws to refuse. */
  create(dev: KvmDevice, type: number): void;
  /** After the device joined kvm->devices, before its fd exists. */
  init?(dev: KvmDevice): void;
  /** Device fd close (or the failed fd install); the device has left kvm->devices. */
  release?(dev: KvmDevice, kernel: Kernel): void;
  /** VM teardown for devices without release (none on x86). */
  destroy?(dev: KvmDevice): void;
  setAttr?(dev: KvmDevice, ctx: FileContext, attr: KvmDeviceAttr): number;
  getAttr?(dev: KvmDevice, ctx: FileContext, attr: KvmDeviceAttr): number;
  hasAttr?(dev: KvmDevice, ctx: FileContext, attr: KvmDeviceAttr): number;
  ioctl?(dev: KvmDevice, ctx: FileContext, req: number, arg: UserArg): number;
  mmap?(dev: KvmDevice, ctx: FileContext, req: MmapRequest): Backing;
}

/** struct kvm_device. */
export class KvmDevice {
  /** dev->private: the type's state. */
  private_: unknown = null;

  constructor(
    readonly ops: KvmDeviceOps,
    readonly kvm: Kvm,
  ) {}
}

/**
 * kvm_device_ops_table[KVM_DEV_TYPE_MAX] as x86 fills it: kvm_vfio_ops_init() registers KVM_DEV_TYPE_VFIO
 * (CONFIG_KVM_VFIO, selected by KVM on x86); the other types are other architectures'.
 */
const KVM_DEVICE_OPS_TABLE: ReadonlyMap<number, KvmDeviceOps> = new Map([[KVM_DEV_TYPE_VFIO, kvmVfioOps]]);

/** kvm_vm_ioctl(KVM_CREATE_DEVICE) -> kvm_ioctl_create_device(). */
export function kvmIoctlCreateDevice(ctx: FileContext, kvm: Kvm, arg: UserArg): number {
  const cd = arg.user(kvm_create_device.size);
  const type = getU32(cd, kvm_create_device.offsetof('type'));
  const flags = getU32(cd, kvm_create_device.offsetof('flags'));
  const ops = type < KVM_DEV_TYPE_MAX ? KVM_DEVICE_OPS_TABLE.get(type) : undefined;
  if (!ops) throw kerr('ENODEV', `device type ${type} is not available on this host (x86 KVM registers only KVM_DEV_TYPE_VFIO, ${KVM_DEV_TYPE_VFIO})`);
  if (flags & KVM_CREATE_DEVICE_TEST) return 0;
  const dev = new KvmDevice(ops, kvm);
  ops.create(dev, type);
  kvm.devices.unshift(dev);
  ops.init?.(dev);
  kvm.get();
  const f = new KvmDeviceFile(dev);
  f.flags = O_RDWR;
  let fd: number;
  try {
    fd = ctx.proc.fds.install(f, true);
  } catch (e) {
    // anon_inode_getfd failed: kvm_put_kvm_no_destroy, off kvm->devices, release, destroy.
    kvm.put();
    removeDevice(dev);
    ops.release?.(dev, ctx.kernel);
    ops.destroy?.(dev);
    throw e;
  }
  setU32(cd, kvm_create_device.offsetof('fd'), fd);
  return 0;
}

function removeDevice(dev: KvmDevice): void {
  const list = dev.kvm.devices;
  const i = list.indexOf(dev);
  if (i >= 0) list.splice(i, 1);
}

/** A KVM device fd (anon_inode:<ops->name>, kvm_device_fops). */
export class KvmDeviceFile extends KFile {
  readonly kind = 'kvm-device' as const;
  readonly path: string;

  constructor(readonly dev: KvmDevice) {
    super();
    this.path = `anon_inode:${dev.ops.name}`;
  }

  /** kvm_device_ioctl(). */
  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    const dev = this.dev;
    if (ctx.proc.mm !== dev.kvm.proc.mm) throw kerr('EIO', `the ${dev.ops.name} device belongs to process ${dev.kvm.proc.pid}'s VM; its fd cannot be used from process ${ctx.proc.pid}`);
    switch (req) {
      case KVM_SET_DEVICE_ATTR:
        return this.attr(ctx, arg, dev.ops.setAttr, 'KVM_SET_DEVICE_ATTR');
      case KVM_GET_DEVICE_ATTR:
        return this.attr(ctx, arg, dev.ops.getAttr, 'KVM_GET_DEVICE_ATTR');
      case KVM_HAS_DEVICE_ATTR:
        return this.attr(ctx, arg, dev.ops.hasAttr, 'KVM_HAS_DEVICE_ATTR');
      default:
        if (dev.ops.ioctl) return dev.ops.ioctl(dev, ctx, req, arg);
        throw kerr('ENOTTY', `ioctl 0x${(req >>> 0).toString(16)} is not an ioctl of the ${dev.ops.name} device`);
    }
  }

  /** kvm_device_ioctl_attr(): no accessor is EPERM before the struct is read. */
  private attr(
    ctx: FileContext,
    arg: UserArg,
    accessor: ((dev: KvmDevice, ctx: FileContext, attr: KvmDeviceAttr) => number) | undefined,
    what: string,
  ): number {
    if (!accessor) throw kerr('EPERM', `the ${this.dev.ops.name} device has no ${what} operation`);
    const L = kvm_device_attr;
    const b = arg.user(L.size);
    const attr: KvmDeviceAttr = {
      flags: getU32(b, L.offsetof('flags')),
      group: getU32(b, L.offsetof('group')),
      attr: getU64(b, L.offsetof('attr')),
      addr: getU64(b, L.offsetof('addr')),
    };
    return accessor(this.dev, ctx, attr);
  }

  /** kvm_device_mmap(). */
  override mmap(ctx: FileContext, req: MmapRequest): Backing {
    const dev = this.dev;
    if (dev.ops.mmap) return dev.ops.mmap(dev, ctx, req);
    throw kerr('ENODEV', `the ${dev.ops.name} device cannot be memory-mapped`);
  }

  /** kvm_device_release(). */
  override release(kernel: Kernel): void {
    const dev = this.dev;
    if (dev.ops.release) {
      removeDevice(dev);
      dev.ops.release(dev, kernel);
    }
    dev.kvm.put();
  }
}
