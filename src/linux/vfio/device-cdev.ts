// drivers/vfio/device_cdev.c (+ vfio_main.c's cdev paths, iommufd.c's vfio_iommufd_physical_*): the device
// character device /dev/vfio/devices/vfioN. Opening it (ENODEV once the device is unregistered) gives a
// device file that can do nothing but VFIO_DEVICE_BIND_IOMMUFD: every other ioctl, read, write and mmap is
// EINVAL until the bind succeeded (df->access_granted, vfio_device_fops_unl_ioctl).
// BIND_IOMMUFD (vfio_df_ioctl_bind_iommufd, 6.17): argsz (EFAULT, < 16 EINVAL, non-zero past the struct
// E2BIG), flags/iommufd < 0 -> EINVAL; then the group path is
// blocked (vfio_device_block_group: EBUSY while the group fd is open; while a device is bound through its
// cdev the group cannot be opened, EBUSY); a second bind -> EINVAL; a VF token (EFAULT, else EINVAL: no
// device here is an SR-IOV PF or VF); the iommufd fd: EBADF, or EBADFD when
// it is not /dev/iommu; a device already opened (another cdev fd) -> EINVAL (vfio_df_open); then
// iommufd_device_bind() and the driver's open_device; out_devid is the iommufd device id.
// ATTACH_IOMMUFD_PT / DETACH_IOMMUFD_PT (vfio_df_ioctl_attach_pt/detach_pt): argsz, flags (with the PASID
// flag argsz must reach pasid; iommufd refuses every PASID attach here, a PASID detach does nothing), then
// iommufd_device_attach (or replace when attached; pt_id returns the HWPT id) / iommufd_device_detach (a
// no-op when not attached).
// Closing the last reference: the driver's close_device, detach, unbind, the iommufd reference, the group.

import { getU32, setU32 } from '../../../abi/bytes.js';
import { kerr } from '../errors.js';
import type { FileContext, MmapRequest } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import type { Backing } from '../mm/backing.js';
import { copyFromUser, type UserArg } from '../uaccess.js';
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_ATTACH_PASID, VFIO_DEVICE_BIND_FLAG_TOKEN, VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_PASID, vfio_device_attach_iommufd_pt, vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
} from '../../../include-ts/linux/vfio.js';
import {
  iommufdDeviceAttach, iommufdDeviceAttachPasid, iommufdDeviceBind, iommufdDeviceDetach, iommufdDeviceReplace,
  iommufdDeviceUnbind,
} from '../iommu/iommufd/device.js';
import type { IommufdCtx } from '../iommu/iommufd/main.js';
import { bindHeader, VfioDeviceFile, type VfioDevice } from './vfio-main.js';

export class VfioDeviceCdevFile extends VfioDeviceFile {
  /** df->access_granted */
  accessGranted = false;
  /** df->iommufd */
  ictx: IommufdCtx | null = null;

  /** vfio_device_fops_cdev_open(): ENODEV once the device is no longer registered. */
  static open(_ctx: FileContext, dev: VfioDevice, kernel: Kernel): VfioDeviceCdevFile {
    if (dev.index < 0 || !dev.group) throw kerr('ENODEV', `${dev.name} is no longer registered with VFIO`);
    dev.cdevRefs++;
    const f = new VfioDeviceCdevFile(dev, null, kernel);
    f.cdevPath = `/dev/vfio/devices/vfio${dev.index}`;
    return f;
  }

  private cdevPath = '';

  override get path(): string {
    return this.cdevPath;
  }

  private denied(what: string): never {
    throw kerr('EINVAL', `${what}: the device fd ${this.cdevPath} is not bound to an iommufd yet (VFIO_DEVICE_BIND_IOMMUFD first)`);
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    if (req === VFIO_DEVICE_BIND_IOMMUFD) return this.bind(ctx, arg);
    if (!this.accessGranted) this.denied('ioctl');
    if (req === VFIO_DEVICE_ATTACH_IOMMUFD_PT) return this.attachPt(arg);
    if (req === VFIO_DEVICE_DETACH_IOMMUFD_PT) return this.detachPt(arg);
    return super.ioctl(ctx, req, arg);
  }

  /** vfio_df_ioctl_bind_iommufd() */
  private bind(ctx: FileContext, arg: UserArg): number {
    const { b, flags, iommufd, tokenPtr } = bindHeader(arg);
    const dev = this.device;
    const group = dev.group;
    if (!group) throw kerr('ENODEV', `${dev.name} is no longer registered with VFIO`);
    // vfio_device_block_group()
    if (group.openedFile) throw kerr('EBUSY', `/dev/vfio/${group.id} is open: ${dev.name} is in use through the group path`);
    if (this.accessGranted) throw kerr('EINVAL', `${this.cdevPath} is already bound to an iommufd`);
    // vfio_df_check_token() -> vfio_pci_core_match_token_uuid(): no device of this host is an SR-IOV PF or VF,
    // so no token is needed and one given is refused, once it has been read.
    if (flags & VFIO_DEVICE_BIND_FLAG_TOKEN) {
      if (copyFromUser(ctx.proc.mm, new Uint8Array(16), Number(BigInt.asUintN(64, tokenPtr)))) {
        throw kerr('EFAULT', `token_uuid_ptr 0x${tokenPtr.toString(16)} is not a readable 16-byte UUID`);
      }
      throw kerr('EINVAL', `${dev.name}: VF token incorrectly provided, not a PF or VF`);
    }
    const ictx = this.kernel.iommufd.ctxFromFd(ctx.proc, iommufd);
    // vfio_df_open(): only the group path may open a device more than once.
    if (dev.openCount !== 0) throw kerr('EINVAL', `${dev.name} is already open through another file (one cdev fd at a time may be bound)`);
    // vfio_df_device_first_open() -> vfio_df_iommufd_bind() -> vfio_iommufd_physical_bind()
    const idev = iommufdDeviceBind(ictx, dev.pdev);
    // vfio_df_get_kvm_safe(): the KVM this file was given (KVM_DEV_VFIO_FILE_ADD), held until unbind.
    dev.getKvm(this.kvm);
    try {
      dev.ops.openDevice(ctx);
    } catch (e) {
      dev.putKvm();
      iommufdDeviceUnbind(idev);
      throw e;
    }
    dev.openCount++;
    dev.iommufdDevice = idev;
    group.cdevDeviceOpenCnt++;
    this.ictx = ictx;
    this.accessGranted = true;
    setU32(b, vfio_device_bind_iommufd.offsetof('out_devid'), idev.id);
    return 0;
  }

  /**
   * The header both vfio_df_ioctl_attach_pt() and vfio_df_ioctl_detach_pt() check: argsz, flags (only the
   * PASID flag is known); with the PASID flag argsz must reach `pasid` (EINVAL) and it is read (EFAULT).
   * vfio-pci has pasid_attach_ioas/pasid_detach_ioas (6.15+), so the flag is never EOPNOTSUPP.
   */
  private ptHeader(arg: UserArg, minsz: number, pasidFlag: number): { b: Uint8Array; pasid: number | null } {
    const b = arg.user(minsz);
    const argsz = getU32(b, 0);
    const flags = getU32(b, 4);
    if (argsz < minsz) throw kerr('EINVAL', `argsz ${argsz} is smaller than ${minsz}`);
    if (flags & ~pasidFlag) throw kerr('EINVAL', `unknown flags 0x${(flags & ~pasidFlag).toString(16)}`);
    if (!(flags & pasidFlag)) return { b, pasid: null };
    const xend = minsz + 4; // offsetofend(..., pasid): pasid follows the fields of minsz
    if (argsz < xend) throw kerr('EINVAL', `argsz ${argsz} is smaller than ${xend}, the size with the PASID flag`);
    const x = arg.user(xend);
    return { b: x, pasid: getU32(x, minsz) };
  }

  /** vfio_df_ioctl_attach_pt() + vfio_iommufd_physical_attach_ioas() / _pasid_attach_ioas() */
  private attachPt(arg: UserArg): number {
    const L = vfio_device_attach_iommufd_pt;
    const { b, pasid } = this.ptHeader(arg, L.offsetofend('pt_id'), VFIO_DEVICE_ATTACH_PASID);
    const dev = this.device;
    const ptId = getU32(b, L.offsetof('pt_id'));
    const idev = dev.iommufdDevice!;
    if (pasid !== null) {
      // ida_alloc_range(&vdev->pasids, pasid, pasid): a pasid negative as an int is ENOSPC.
      if (pasid >= 0x8000_0000) throw kerr('ENOSPC', `PASID 0x${pasid.toString(16)} is outside the range the device's PASID ida allocates (0..INT_MAX)`);
      iommufdDeviceAttachPasid(idev, ptId, pasid);
    }
    const hwptId = dev.iommufdAttached ? iommufdDeviceReplace(idev, ptId) : iommufdDeviceAttach(idev, ptId);
    dev.iommufdAttached = true;
    setU32(b, L.offsetof('pt_id'), hwptId);
    return 0;
  }

  /**
   * vfio_df_ioctl_detach_pt() + vfio_iommufd_physical_detach_ioas() / _pasid_detach_ioas() (a PASID that
   * was never attached, as every PASID here: nothing to do).
   */
  private detachPt(arg: UserArg): number {
    const { pasid } = this.ptHeader(arg, vfio_device_detach_iommufd_pt.offsetofend('flags'), VFIO_DEVICE_DETACH_PASID);
    if (pasid === null) this.detach();
    return 0;
  }

  private detach(): void {
    const dev = this.device;
    if (!dev.iommufdAttached) return;
    iommufdDeviceDetach(dev.iommufdDevice!);
    dev.iommufdAttached = false;
  }

  override read(ctx: FileContext, buf: Uint8Array, pos: number): number {
    if (!this.accessGranted) this.denied('read');
    return super.read(ctx, buf, pos);
  }

  override write(ctx: FileContext, buf: Uint8Array, pos: number): number {
    if (!this.accessGranted) this.denied('write');
    return super.write(ctx, buf, pos);
  }

  override mmap(ctx: FileContext, req: MmapRequest): Backing {
    if (!this.accessGranted) this.denied('mmap');
    return super.mmap(ctx, req);
  }

  /** vfio_device_fops_release() -> vfio_df_unbind_iommufd() */
  override release(): void {
    const dev = this.device;
    if (this.accessGranted) {
      // vfio_df_close() -> vfio_df_device_last_close(): the driver first, then the iommufd binding.
      dev.openCount--;
      dev.ops.closeDevice();
      this.detach();
      iommufdDeviceUnbind(dev.iommufdDevice!);
      dev.iommufdDevice = null;
      dev.putKvm();
      this.ictx = null;
      if (dev.group) dev.group.cdevDeviceOpenCnt--;
      this.accessGranted = false;
    }
    dev.cdevRefs--;
    if (dev.openCount === 0 && dev.cdevRefs === 0) {
      this.kernel.sched.cancel(dev.requestTimer);
      dev.released.wake(1);
    }
  }
}
