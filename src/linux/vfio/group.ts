// drivers/vfio/group.c: the VFIO group (one per IOMMU group that has a device bound to a VFIO driver)
// and its character device /dev/vfio/<N>, which exists while the group does. One open file at a time
// (EBUSY). GET_STATUS reports VIABLE (no DMA-API driver in the group) and CONTAINER_SET;
// SET_CONTAINER takes a pointer to a container fd (EBADF not open, EINVAL already set, EBADFD not a
// container, EPERM not viable); UNSET_CONTAINER (EINVAL not set, EBUSY while device fds are open);
// GET_DEVICE_FD looks the name up (ENODEV), then needs the container's IOMMU set (EINVAL). Each device
// fd holds a reference on the group file, so the group is released only after its devices are closed.

import { getS32, setU32 } from '../../../abi/bytes.js';
import { kerr } from '../errors.js';
import { KFile, type FileContext } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import type { UserArg } from '../uaccess.js';
import type { IommuGroup } from '../iommu/iommu-group.js';
import {
  VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER, vfio_group_status,
} from '../../../include-ts/linux/vfio.js';
import { VfioContainerFile, type VfioContainer } from './container.js';
import type { VfioDevice, VfioKvm } from './vfio-main.js';

const PAGE_SIZE = 4096;

export class VfioGroup {
  readonly devices: VfioDevice[] = [];
  /** NULL once the last device left (vfio_device_remove_group): the open file then sees ENODEV. */
  iommuGroup: IommuGroup | null;
  openedFile: VfioGroupFile | null = null;
  container: VfioContainer | null = null;
  containerUsers = 0;
  /** group->kvm: set through the kvm-vfio device (vfio_group_set_kvm); devices opened later take it. */
  kvm: VfioKvm | null = null;
  /** group->cdev_device_open_cnt: devices bound through their cdev (vfio_device_block_group). */
  cdevDeviceOpenCnt = 0;

  constructor(
    readonly id: number,
    iommuGroup: IommuGroup,
    private readonly kernel: Kernel,
  ) {
    this.iommuGroup = iommuGroup;
  }

  /** The DMA owner name used in messages. */
  get ownerName(): string {
    return `VFIO group ${this.id}`;
  }

  get hasIommu(): boolean {
    return this.container !== null;
  }

  detachContainer(): void {
    const c = this.container!;
    this.container = null;
    this.containerUsers = 0;
    c.detachGroup(this);
  }

  /** vfio_group_use_container(): a device fd is being opened. */
  useContainer(): void {
    if (!this.container) throw kerr('EINVAL', `group ${this.id} is not attached to a container (VFIO_GROUP_SET_CONTAINER first)`);
    if (!this.container.driver) throw kerr('EINVAL', `${this.container.name} of group ${this.id} has no IOMMU model yet (VFIO_SET_IOMMU first)`);
    this.containerUsers++;
  }

  unuseContainer(): void {
    if (this.containerUsers > 0) this.containerUsers--;
  }

  get kernelRef(): Kernel {
    return this.kernel;
  }
}

export class VfioGroupFile extends KFile {
  readonly kind = 'vfio-group' as const;

  constructor(readonly group: VfioGroup) {
    super();
  }

  get path(): string {
    return `/dev/vfio/${this.group.id}`;
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    switch (req) {
      case VFIO_GROUP_GET_STATUS: return this.getStatus(arg);
      case VFIO_GROUP_SET_CONTAINER: return this.setContainer(ctx, arg);
      case VFIO_GROUP_UNSET_CONTAINER: return this.unsetContainer();
      case VFIO_GROUP_GET_DEVICE_FD: return this.getDeviceFd(ctx, arg);
      default: throw kerr('ENOTTY', `ioctl 0x${req.toString(16)} is not a VFIO group ioctl`);
    }
  }

  private getStatus(arg: UserArg): number {
    const minsz = vfio_group_status.offsetofend('flags');
    const b = arg.user(minsz);
    const argsz = b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
    if (argsz >>> 0 < minsz) throw kerr('EINVAL', `argsz ${argsz >>> 0} is smaller than sizeof(struct vfio_group_status) = ${minsz}`);
    const g = this.group;
    if (!g.iommuGroup) throw kerr('ENODEV', `group ${g.id} no longer has devices bound to VFIO`);
    let flags = 0;
    if (g.hasIommu) flags = VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
    else if (!g.iommuGroup.dmaOwnerClaimed) flags = VFIO_GROUP_FLAGS_VIABLE;
    setU32(b, 4, flags);
    return 0;
  }

  private setContainer(ctx: FileContext, arg: UserArg): number {
    const fd = getS32(arg.user(4), 0);
    const f = ctx.proc.fileOrNull(fd);
    if (!f) throw kerr('EBADF', `fd ${fd} is not an open file descriptor`);
    const g = this.group;
    if (g.hasIommu) throw kerr('EINVAL', `group ${g.id} is already attached to ${g.container!.name}`);
    if (!g.iommuGroup) throw kerr('ENODEV', `group ${g.id} no longer has devices bound to VFIO`);
    if (!(f instanceof VfioContainerFile)) throw kerr('EBADFD', `fd ${fd} (${f.path}) is not a VFIO container`);
    const c = f.container;
    c.attachGroup(g);
    g.container = c;
    g.containerUsers = 1;
    return 0;
  }

  private unsetContainer(): number {
    const g = this.group;
    if (!g.hasIommu) throw kerr('EINVAL', `group ${g.id} is not attached to a container`);
    if (g.containerUsers !== 1) throw kerr('EBUSY', `group ${g.id} has ${g.containerUsers - 1} device fd(s) open; close them first`);
    g.detachContainer();
    return 0;
  }

  private getDeviceFd(ctx: FileContext, arg: UserArg): number {
    const name = arg.string(PAGE_SIZE);
    const g = this.group;
    let dev: VfioDevice | undefined;
    for (const d of g.devices) {
      const m = d.ops.match(name);
      if (m === 1) {
        dev = d;
        break;
      }
    }
    if (!dev) throw kerr('ENODEV', `no device named "${name}" in group ${g.id} (it has ${g.devices.map((d) => d.name).join(', ') || 'none'})`);
    return g.kernelRef.vfio.openDeviceFd(ctx, dev, this);
  }

  override release(): void {
    const g = this.group;
    if (g.container) g.detachContainer();
    g.openedFile = null;
  }
}
