// drivers/vfio/vfio_main.c: VFIO devices and their fds. A driver (vfio-pci) registers a vfio_device
// for each device it binds (vfio_register_group_dev), which creates or joins the VFIO group of the
// device's IOMMU group (/dev/vfio/<N> appears); unregistering waits until userspace has closed every fd
// of the device (vfio_unregister_group_dev: it asks the driver to relay a request — vfio-pci's REQ
// eventfd — at once and again after every 10 s it keeps waiting), and removing the group's last device
// detaches its container and leaves any open group fd dead (ENODEV).
// The repeated requests run from a timer only while the unbinding caller waits asynchronously (a
// synchronous caller could never see userspace answer, and ends in EINTR after the first request);
// the model stops after VFIO_MAX_DEVICE_REQUESTS so that nothing waits forever.
// Device fds: first open calls the driver's open_device, last close its close_device; ioctls go to the
// driver except VFIO_DEVICE_FEATURE, whose common checks live here (vfio_ioctl_device_feature).

import { getS32, getU32, getU64 } from '../../../abi/bytes.js';
import { WouldBlock, kerr } from '../errors.js';
import { KFile, type FileContext, type MmapRequest } from '../fs/file.js';
import { chardev, dynamicDir, type CharDevNode, type StaticDir } from '../fs/vfs.js';
import { MKDEV, VFIO_MINOR, addClassDevice, allocChrdevMajor, miscRegister, removeClassDevice } from '../fs/char-dev.js';
import { chmodAttr, chownAttr, notifyChange } from '../fs/attr.js';
import { INIT_CRED } from '../cred.js';
import type { Kernel } from '../kernel.js';
import type { Backing } from '../mm/backing.js';
import type { UserArg } from '../uaccess.js';
import { WaitQueue } from '../waitqueue.js';
import { Timer, type Scheduler } from '../../sim/scheduler.js';
import type { PciDev } from '../pci/pci-dev.js';
import { devicePath } from '../pci/pci-sysfs.js';
import {
  VFIO_DEVICE_BIND_FLAG_TOKEN, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_FEATURE, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_MIGRATION,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
} from '../../../include-ts/linux/vfio.js';
import { VfioContainer, VfioContainerFile, type VfioIommuDriver } from './container.js';
import { VfioGroup, type VfioGroupFile, VfioGroupFile as GroupFile } from './group.js';
import type { IommufdDevice } from '../iommu/iommufd/device.js';

/** VFIO_DEVICE_FEATURE_MIG_DATA_SIZE (newer than the 6.1 header). */
export const VFIO_DEVICE_FEATURE_MIG_DATA_SIZE = 9;

/** struct vfio_device_ops */
export interface VfioDeviceOps {
  /** First open of the device (any fd). */
  openDevice(ctx: FileContext): void;
  /** Last close. */
  closeDevice(): void;
  ioctl(ctx: FileContext, req: number, arg: UserArg): number;
  read(ctx: FileContext, buf: Uint8Array, pos: number): number;
  write(ctx: FileContext, buf: Uint8Array, pos: number): number;
  mmap(ctx: FileContext, req: MmapRequest): Backing;
  /** VFIO_DEVICE_FEATURE for features the core does not handle (flags, data, data length). */
  deviceFeature(ctx: FileContext, flags: number, data: UserArg, argsz: number): number;
  /** 1 match, 0 no match; throws for a malformed name (vfio_pci_core_match). */
  match(buf: string): number;
  /** The host wants the device back while it is open (count-th request). */
  request(count: number): void;
}

/** The wait between two requests for the device (wait_for_completion_interruptible_timeout(HZ * 10)). */
export const VFIO_DEVICE_REQUEST_INTERVAL_NS = 10_000_000_000;
/** Requests the model makes before giving up on an unresponsive user (the kernel never stops). */
export const VFIO_MAX_DEVICE_REQUESTS = 100;

/** The KVM side of a VM as VFIO holds it (struct kvm: kvm_get_kvm_safe / kvm_put_kvm). */
export interface VfioKvm {
  get(): void;
  put(): void;
}

export class VfioDevice {
  group: VfioGroup | null = null;
  /**
   * device->kvm: the VM the group (group path) or device file (cdev path) was told about through the
   * kvm-vfio device when the device was first opened, referenced until the last close.
   */
  kvm: VfioKvm | null = null;
  openCount = 0;
  /** Woken when the last fd closes (device->comp). */
  readonly released = new WaitQueue();
  requests = 0;
  /** Asks again every 10 s while an unbind waits. */
  readonly requestTimer = new Timer('vfio_unregister_group_dev', () => this.requestAgain());
  sched: Scheduler | null = null;
  /** device->index: the N of /dev/vfio/devices/vfioN (ida, lowest free), -1 while unregistered. */
  index = -1;
  /** Open cdev files (each holds a registration reference: unregistering waits for them too). */
  cdevRefs = 0;
  /** The iommufd binding of the cdev path (device->iommufd_device) and whether it is attached. */
  iommufdDevice: IommufdDevice | null = null;
  iommufdAttached = false;

  constructor(
    /** dev_name(): the BDF for PCI. */
    readonly name: string,
    readonly ops: VfioDeviceOps,
    readonly pdev: PciDev,
  ) {}

  /** vfio_device_get_kvm_safe(): remember the VM and hold it while the device is open. */
  getKvm(kvm: VfioKvm | null): void {
    if (!kvm) return;
    kvm.get();
    this.kvm = kvm;
  }

  /** vfio_device_put_kvm(). */
  putKvm(): void {
    const kvm = this.kvm;
    if (!kvm) return;
    this.kvm = null;
    kvm.put();
  }

  private requestAgain(): void {
    if (this.openCount === 0 && this.cdevRefs === 0) return;
    this.ops.request(this.requests++);
    if (this.requests < VFIO_MAX_DEVICE_REQUESTS) this.sched?.armAfter(this.requestTimer, VFIO_DEVICE_REQUEST_INTERVAL_NS);
  }
}

/** vfio_check_feature() (include/linux/vfio.h): 1 to proceed, 0 for a successful PROBE; throws EINVAL. */
export function vfioCheckFeature(flags: number, argsz: number, supported: number, minsz: number): number {
  if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) & ~supported) {
    throw kerr('EINVAL', `the feature does not support ${flags & VFIO_DEVICE_FEATURE_GET ? 'GET' : 'SET'}`);
  }
  if (flags & VFIO_DEVICE_FEATURE_PROBE) return 0;
  if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET))) throw kerr('EINVAL', 'without PROBE, one of GET or SET is needed');
  if (argsz < minsz) throw kerr('EINVAL', `the feature needs ${minsz} bytes of data, got ${argsz}`);
  return 1;
}

export class VfioDeviceFile extends KFile {
  readonly kind = 'vfio-device' as const;

  get path(): string {
    return 'anon_inode:[vfio-device]';
  }

  constructor(
    readonly device: VfioDevice,
    /** df->group: null for a cdev file. */
    protected readonly groupFile: VfioGroupFile | null,
    protected readonly kernel: Kernel,
  ) {
    super();
  }

  override readonly positional = true;
  /** df->kvm: set by KVM_DEV_VFIO_FILE_ADD of this file (vfio_device_file_set_kvm); the cdev bind passes it on. */
  kvm: VfioKvm | null = null;

  /**
   * vfio_device_show_fdinfo() (v6.18): the device's sysfs path. vfio_device_fops is the f_op of group-
   * obtained device fds too (vfio_device_open_file()), so they print it as cdev fds do.
   */
  override showFdinfo(): string {
    return `vfio-device-syspath: ${devicePath(this.device.pdev)}\n`;
  }

  override ioctl(ctx: FileContext, req: number, arg: UserArg): number {
    if (req === VFIO_DEVICE_BIND_IOMMUFD) {
      bindHeader(arg);
      throw kerr('EINVAL', 'VFIO_DEVICE_BIND_IOMMUFD is only for device cdev fds (/dev/vfio/devices/vfioN), not group-obtained ones');
    }
    if (req === VFIO_DEVICE_FEATURE) return this.feature(ctx, arg);
    return this.device.ops.ioctl(ctx, req, arg);
  }

  /** vfio_ioctl_device_feature() */
  private feature(ctx: FileContext, arg: UserArg): number {
    const minsz = 8;
    const b = arg.user(minsz);
    const argsz = getU32(b, 0);
    const flags = getU32(b, 4);
    if (argsz < minsz) throw kerr('EINVAL', `argsz ${argsz} is smaller than sizeof(struct vfio_device_feature) = 8`);
    const known = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE;
    if (flags & ~known) throw kerr('EINVAL', `unknown flags 0x${(flags & ~known).toString(16)}`);
    if (!(flags & VFIO_DEVICE_FEATURE_PROBE) && flags & VFIO_DEVICE_FEATURE_SET && flags & VFIO_DEVICE_FEATURE_GET) {
      throw kerr('EINVAL', 'GET and SET together need PROBE');
    }
    switch (flags & VFIO_DEVICE_FEATURE_MASK) {
      case VFIO_DEVICE_FEATURE_MIGRATION:
      case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
      case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
        throw kerr('ENOTTY', `${this.device.name} does not support migration`);
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
        throw kerr('ENOTTY', `${this.device.name} does not support device DMA logging`);
      default:
        return this.device.ops.deviceFeature(ctx, flags, arg, argsz - minsz);
    }
  }

  override read(ctx: FileContext, buf: Uint8Array, pos: number): number {
    if (buf.length === 0) return 0;
    return this.device.ops.read(ctx, buf, pos);
  }

  override write(ctx: FileContext, buf: Uint8Array, pos: number): number {
    if (buf.length === 0) return 0;
    return this.device.ops.write(ctx, buf, pos);
  }

  override mmap(ctx: FileContext, req: MmapRequest): Backing {
    return this.device.ops.mmap(ctx, req);
  }

  override release(): void {
    this.kernel.vfio.closeDevice(this.device, this.groupFile!);
  }
}

/**
 * The checks vfio_df_ioctl_bind_iommufd() (6.17+) makes of struct vfio_device_bind_iommufd before anything
 * else: argsz is read first (EFAULT), below offsetofend(out_devid) is EINVAL, copy_struct_from_user() of the
 * whole struct (non-zero bytes past it: E2BIG; a 16-byte struct has token_uuid_ptr 0), then a negative
 * iommufd or an unknown flag is EINVAL. Returns the user's struct and its fields.
 */
export function bindHeader(arg: UserArg): { b: Uint8Array; flags: number; iommufd: number; tokenPtr: bigint } {
  const minsz = 16; // offsetofend(struct vfio_device_bind_iommufd, out_devid)
  const size = 24; // sizeof(struct vfio_device_bind_iommufd)
  const argsz = getU32(arg.user(4), 0);
  if (argsz < minsz) throw kerr('EINVAL', `argsz ${argsz} is smaller than ${minsz}`);
  const b = arg.user(argsz);
  for (let i = size; i < argsz; i++) if (b[i] !== 0) throw kerr('E2BIG', `argsz ${argsz} is larger than the ${size}-byte struct and byte ${i} is not zero`);
  const flags = getU32(b, 4);
  const iommufd = getS32(b, 8);
  if (iommufd < 0 || flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN) {
    throw kerr('EINVAL', iommufd < 0 ? `iommufd ${iommufd} is negative (no-IOMMU mode is not configured)` : `unknown flags 0x${(flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN).toString(16)}`);
  }
  const tokenPtr = argsz >= size ? getU64(b, 16) : 0n;
  return { b, flags, iommufd, tokenPtr };
}

export class VfioCore {
  readonly groups = new Map<number, VfioGroup>();
  readonly iommuDrivers: VfioIommuDriver[] = [];
  private readonly devDir: StaticDir;
  /** udev rules for /dev/vfio/<group> (OWNER=, GROUP=, MODE=), applied whenever the node appears. */
  private readonly nodeRules = new Map<number, { uid: number; gid: number; mode: number }>();
  /** The devtmpfs node of each group, which lives as long as the group (chown/chmod on it last that long). */
  private readonly nodes = new Map<number, CharDevNode>();

  /** vfio_device_fops_cdev_open (device-cdev.ts, set by init.ts: it extends VfioDeviceFile). */
  openCdev: ((ctx: FileContext, dev: VfioDevice) => KFile) | null = null;
  /** Registered devices by device->index: their cdev nodes /dev/vfio/devices/vfioN (devtmpfs, 0600). */
  private readonly cdevs = new Map<number, { dev: VfioDevice; node: CharDevNode }>();
  private readonly cdevDir = dynamicDir(
    () => [...this.cdevs.keys()].sort((a, b) => a - b).map((i) => `vfio${i}`),
    (name) => (/^vfio\d+$/.test(name) ? this.cdevs.get(Number(name.slice(4)))?.node : undefined),
  );

  /** vfio.group_devt's major ("vfio") and the cdevs' device_devt major ("vfio-dev"): src/linux/fs/char-dev.ts. */
  readonly groupMajor: number;
  readonly cdevMajor: number;
  /** vfio.group_ida: each group's minor (the lowest free when the group is made), by group id. */
  private readonly groupMinors = new Map<number, number>();

  constructor(private readonly kernel: Kernel) {
    // vfio_init(): vfio_group_init() (the container misc device, then the "vfio" region), then vfio_cdev_init().
    this.devDir = kernel.vfs.mkdirp('/dev/vfio');
    this.devDir.set('vfio', chardev(() => new VfioContainerFile(new VfioContainer(kernel)), 0o666, 0, 0, miscRegister(kernel, 'vfio', VFIO_MINOR)));
    this.groupMajor = allocChrdevMajor(kernel);
    this.cdevMajor = allocChrdevMajor(kernel);
    this.devDir.dynamic = {
      // devtmpfs creates /dev/vfio/devices with the first cdev node and removes it with the last.
      list: () => [...this.groups.keys()].map(String).concat(this.cdevs.size ? ['devices'] : []),
      lookup: (name) => {
        if (name === 'devices') return this.cdevs.size ? this.cdevDir : undefined;
        const g = this.groups.get(Number(name));
        return g && String(g.id) === name ? this.nodes.get(g.id) : undefined;
      },
    };
  }

  /**
   * A udev rule giving /dev/vfio/<group> an owner and mode: applied now if the node exists, and each
   * time it appears again.
   */
  setNodeOwner(group: number, uid: number, gid: number, mode: number): void {
    this.nodeRules.set(group, { uid, gid, mode: mode & 0o7777 });
    const node = this.nodes.get(group);
    if (node) this.udevApply(group, node);
  }

  /** What udev does for a matching rule: chown(OWNER, GROUP), then chmod(MODE), as root. */
  private udevApply(group: number, node: CharDevNode): void {
    const rule = this.nodeRules.get(group);
    if (!rule) return;
    const path = `/dev/vfio/${group}`;
    notifyChange(INIT_CRED, node, chownAttr(INIT_CRED, node, rule.uid, rule.gid), path);
    notifyChange(INIT_CRED, node, chmodAttr(rule.mode), path);
  }

  registerIommuDriver(d: VfioIommuDriver): void {
    this.iommuDrivers.push(d);
  }

  /** vfio_group_fops_open() */
  private openGroup(g: VfioGroup): KFile {
    if (g.devices.length === 0 || !g.iommuGroup) throw kerr('ENODEV', `group ${g.id} has no device bound to a VFIO driver`);
    if (g.cdevDeviceOpenCnt) throw kerr('EBUSY', `a device of group ${g.id} is bound to an iommufd through its cdev (/dev/vfio/devices/vfioN); the group path is closed until it is released`);
    if (g.openedFile) throw kerr('EBUSY', `/dev/vfio/${g.id} is already open (a group may be opened only once at a time)`);
    const f = new GroupFile(g);
    g.openedFile = f;
    return f;
  }

  /** vfio_register_group_dev(): joins (or creates) the VFIO group of the device's IOMMU group. */
  registerDevice(dev: VfioDevice): void {
    const ig = dev.pdev.group;
    if (!ig) throw kerr('EINVAL', `${dev.name} has no IOMMU group (no IOMMU translates its DMA)`);
    let g = this.groups.get(ig.id);
    if (!g) {
      g = new VfioGroup(ig.id, ig, this.kernel);
      this.groups.set(ig.id, g);
      // vfio_group's device node: devtmpfs makes it root-only (0600); udev then applies its rules.
      const group = g;
      // vfio_group_alloc(): the minor from vfio.group_ida, so /dev/vfio/<id> is MKDEV(vfio major, minor).
      const taken = new Set(this.groupMinors.values());
      let minor = 0;
      while (taken.has(minor)) minor++;
      this.groupMinors.set(g.id, minor);
      // The group's class device: /sys/devices/virtual/vfio/<id> (vfio class), dev = the node's number.
      const devt = MKDEV(this.groupMajor, minor);
      addClassDevice(this.kernel, 'vfio', String(g.id), '/sys/devices/virtual/vfio', devt);
      const node = chardev(() => this.openGroup(group), 0o600, 0, 0, devt);
      this.nodes.set(g.id, node);
      this.udevApply(g.id, node);
    }
    g.devices.push(dev);
    dev.group = g;
    // vfio_init_device(): device->index from an ida (the lowest free); vfio_device_add(): the cdev
    // /dev/vfio/devices/vfio<index> and /sys/.../<bdf>/vfio-dev/vfio<index>.
    let index = 0;
    while (this.cdevs.has(index)) index++;
    dev.index = index;
    // vfio_init_device_cdev(): devt = MKDEV(MAJOR(device_devt), device->index); the class device's
    // `dev` attribute (drivers/base/core.c dev_show()) prints it as QEMU's iommufd_cdev_getfd() reads it.
    const devt = MKDEV(this.cdevMajor, index);
    this.cdevs.set(index, { dev, node: chardev((ctx) => this.openCdev!(ctx, dev), 0o600, 0, 0, devt) });
    addClassDevice(this.kernel, 'vfio-dev', `vfio${index}`, `${devicePath(dev.pdev)}/vfio-dev`, devt);
  }

  /**
   * vfio_unregister_group_dev(): blocks while the device is open. The driver's request callback is
   * invoked each time (REQ IRQ relay, or a one-time "blocked until released" warning).
   */
  unregisterDevice(dev: VfioDevice, ctx: FileContext | null = null): void {
    if (dev.openCount > 0 || dev.cdevRefs > 0) {
      if (!dev.requestTimer.pending) {
        dev.ops.request(dev.requests++);
        if (ctx?.async) {
          dev.sched = this.kernel.sched;
          this.kernel.sched.armAfter(dev.requestTimer, VFIO_DEVICE_REQUEST_INTERVAL_NS);
        }
      }
      throw new WouldBlock(dev.released, `${dev.name} is in use by userspace (a VFIO device fd is open); unbinding waits until it is closed`);
    }
    this.kernel.sched.cancel(dev.requestTimer);
    this.cdevs.delete(dev.index);
    removeClassDevice(this.kernel, 'vfio-dev', `vfio${dev.index}`, `${devicePath(dev.pdev)}/vfio-dev`);
    this.kernel.vfs.mkdirp(devicePath(dev.pdev)).remove('vfio-dev');
    dev.index = -1;
    const g = dev.group!;
    g.devices.splice(g.devices.indexOf(dev), 1);
    dev.group = null;
    dev.requests = 0;
    if (g.devices.length === 0) {
      // vfio_device_remove_group(): revoke the group; an open group fd now sees ENODEV.
      if (g.container) g.detachContainer();
      g.iommuGroup = null;
      this.groups.delete(g.id);
      this.nodes.delete(g.id);
      this.groupMinors.delete(g.id);
      removeClassDevice(this.kernel, 'vfio', String(g.id), '/sys/devices/virtual/vfio');
    }
  }

  /** vfio_group_ioctl_get_device_fd() → vfio_device_open_file(): EINVAL until the container has an IOMMU. */
  openDeviceFd(ctx: FileContext, dev: VfioDevice, groupFile: VfioGroupFile): number {
    const g = groupFile.group;
    ctx.proc.fds.reserveCheck();
    g.useContainer();
    if (dev.openCount === 0) {
      // vfio_df_group_open(): the group's KVM, if any, is taken before the first open.
      dev.getKvm(g.kvm);
      try {
        dev.ops.openDevice(ctx);
      } catch (e) {
        dev.putKvm();
        g.unuseContainer();
        throw e;
      }
    }
    dev.openCount++;
    groupFile.get();
    const f = new VfioDeviceFile(dev, groupFile, this.kernel);
    f.flags = 2; // O_RDWR
    return ctx.proc.fds.install(f, true);
  }

  closeDevice(dev: VfioDevice, groupFile: VfioGroupFile): void {
    if (--dev.openCount === 0) {
      this.kernel.sched.cancel(dev.requestTimer);
      dev.ops.closeDevice();
      dev.putKvm();
      dev.released.wake(1);
    }
    groupFile.group.unuseContainer();
    groupFile.put(this.kernel);
  }
}
