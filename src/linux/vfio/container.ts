// drivers/vfio/container.c: the container fd (/dev/vfio/vfio, mode 0666; every open is a new, empty
// container). GET_API_VERSION, CHECK_EXTENSION (asks every registered IOMMU backend until one answers
// positively, or only the chosen one once SET_IOMMU happened), SET_IOMMU (needs a group attached, not
// already set; a backend that does not know the type leaves ENODEV), and every other ioctl passed to the
// backend (EINVAL while there is none). Groups hold references on the container: closing its fd while
// groups are attached leaves it alive; detaching the last group releases the backend (all DMA mappings)
// and returns the container to the "no IOMMU" state.

import { kerr } from '../errors.js';
import { KFile, type FileContext } from '../fs/file.js';
import type { Kernel } from '../kernel.js';
import type { UserArg } from '../uaccess.js';
import { VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_SET_IOMMU } from '../../../include-ts/linux/vfio.js';
import type { VfioGroup } from './group.js';

/** An IOMMU backend instance (vfio_iommu_driver_ops' iommu_data). */
export interface VfioIommuData {
  ioctl(ctx: FileContext, req: number, arg: UserArg): number;
  checkExtension(arg: number): number;
  attachGroup(group: VfioGroup): void;
  detachGroup(group: VfioGroup): void;
  release(): void;
}

/** struct vfio_iommu_driver_ops */
export interface VfioIommuDriver {
  readonly name: string;
  /** CHECK_EXTENSION without an instance. */
  checkExtension(arg: number): number;
  /** Throws (e.g. EINVAL for an extension id that is not an IOMMU type). */
  open(arg: number): VfioIommuData;
}

export class VfioContainer {
  readonly id: number;
  readonly groups: VfioGroup[] = [];
  driver: VfioIommuDriver | null = null;
  data: VfioIommuData | null = null;
  /** References: the container file plus each attached group. */
  refs = 0;

  constructor(private readonly kernel: Kernel) {
    this.id = kernel.ids.next('vfio-container');
  }

  get name(): string {
    return `container #${this.id}`;
  }

  checkExtension(arg: number): number {
    if (this.data) return this.data.checkExtension(arg);
    for (const d of this.kernel.vfio.iommuDrivers) {
      const r = d.checkExtension(arg);
      if (r > 0) return r;
    }
    return 0;
  }

  setIommu(arg: number): void {
    if (this.groups.length === 0) throw kerr('EINVAL', `${this.name} has no group attached: VFIO_GROUP_SET_CONTAINER a group first`);
    if (this.driver) throw kerr('EINVAL', `${this.name} already has an IOMMU model (${this.driver.name}); remove every group to reset it`);
    let err = kerr('ENODEV', `no IOMMU backend supports type ${arg} on this (x86) host`);
    for (const drv of this.kernel.vfio.iommuDrivers) {
      if (drv.checkExtension(arg) <= 0) continue;
      let data: VfioIommuData;
      try {
        data = drv.open(arg);
      } catch (e) {
        err = e as typeof err;
        continue;
      }
      const done: VfioGroup[] = [];
      try {
        for (const g of this.groups) {
          data.attachGroup(g);
          done.push(g);
        }
      } catch (e) {
        for (const g of done) data.detachGroup(g);
        data.release();
        err = e as typeof err;
        continue;
      }
      this.driver = drv;
      this.data = data;
      return;
    }
    throw err;
  }

  /** vfio_container_attach_group(): the DMA ownership claim, then the backend (if set). */
  attachGroup(group: VfioGroup): void {
    const ig = group.iommuGroup!;
    ig.claimDmaOwner(group);
    if (this.data) {
      try {
        this.data.attachGroup(group);
      } catch (e) {
        ig.releaseDmaOwner();
        throw e;
      }
    }
    this.groups.push(group);
    this.refs++;
  }

  /** vfio_group_detach_container() */
  detachGroup(group: VfioGroup): void {
    if (this.data) this.data.detachGroup(group);
    group.iommuGroup?.releaseDmaOwner();
    this.groups.splice(this.groups.indexOf(group), 1);
    if (this.groups.length === 0 && this.data) {
      this.data.release();
      this.data = null;
      this.driver = null;
    }
    this.put();
  }

  put(): void {
    this.refs--;
  }
}

export class VfioContainerFile extends KFile {
  readonly kind = 'vfio-container' as const;
  readonly path = '/dev/vfio/vfio';

  constructor(readonly container: VfioContainer) {
    super();
    container.refs++;
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    const c = this.container;
    switch (req) {
      case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
      case VFIO_CHECK_EXTENSION:
        return c.checkExtension(arg.value());
      case VFIO_SET_IOMMU:
        c.setIommu(arg.value());
        return 0;
      default:
        if (!c.data) throw kerr('EINVAL', `${c.name} has no IOMMU model yet (VFIO_SET_IOMMU), so ioctl 0x${req.toString(16)} cannot be handled`);
        return c.data.ioctl(ctx, req, arg);
    }
  }

  override release(): void {
    this.container.put();
  }
}
