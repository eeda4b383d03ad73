// What every VMM example does the same way before and around the VFIO device fd: hand the device to
// vfio-pci as libvirt does, and build struct vfio_irq_set with its trailing data.
import { SyscallError, type Process } from 'vfio-kvm-shim';
import { O_RDWR } from 'vfio-kvm-shim/include-ts/linux/fcntl';
import { S_IFCHR, S_IFMT } from 'vfio-kvm-shim/include-ts/linux/stat';
import * as V from 'vfio-kvm-shim/include-ts/linux/vfio';
import * as K from 'vfio-kvm-shim/include-ts/linux/kvm';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from 'vfio-kvm-shim/include-ts/linux/mman';

/**
 * libvirt's virPCIDeviceBindToStub (src/util/virpci.c): nothing to do when the device's driver link
 * already points to vfio-pci; otherwise driver_override, unbind from the current driver (only when the
 * `driver` link exists: virPCIDeviceUnbind), drivers_probe. Returns the device's IOMMU group number (the
 * /dev/vfio/<group> to open).
 */
export function bindToVfioPci(p: Process, bdf: string): number {
  const dev = `/sys/bus/pci/devices/${bdf}`;
  const driver = currentDriver(p, dev);
  if (driver !== 'vfio-pci') {
    p.writeFile(`${dev}/driver_override`, 'vfio-pci');
    if (driver !== null) p.writeFile(`${dev}/driver/unbind`, bdf);
    p.writeFile('/sys/bus/pci/drivers_probe', bdf);
  }
  return Number(p.readlink(`${dev}/iommu_group`).split('/').pop());
}

/** virPCIDeviceGetCurrentDriverPathAndName: the name the `driver` link points to, null without one. */
function currentDriver(p: Process, dev: string): string | null {
  try {
    return p.readlink(`${dev}/driver`).split('/').pop()!;
  } catch (e) {
    if (e instanceof SyscallError && e.code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * struct vfio_irq_set followed by its data: one s32 eventfd per element with DATA_EVENTFD, one byte per
 * element with DATA_BOOL, nothing with DATA_NONE. argsz covers exactly the data given.
 */
export function irqSet(flags: number, index: number, start: number, count: number, data: readonly number[] = []): Uint8Array {
  const size = flags & V.VFIO_IRQ_SET_DATA_EVENTFD ? 4 : flags & V.VFIO_IRQ_SET_DATA_BOOL ? 1 : 0;
  const s = new Uint8Array(V.vfio_irq_set.size + size * data.length);
  const v = V.vfio_irq_set.view(s);
  v.argsz = s.length;
  v.flags = flags;
  v.index = index;
  v.start = start;
  v.count = count;
  const dv = new DataView(s.buffer);
  data.forEach((x, i) => {
    if (size === 4) dv.setInt32(V.vfio_irq_set.size + 4 * i, x, true);
    else s[V.vfio_irq_set.size + i] = x;
  });
  return s;
}

export interface VfioDevice {
  readonly container: number;
  readonly group: number;
  readonly device: number;
}

/**
 * QEMU's open sequence (hw/vfio/container.c, examples/vfio-open.ts explains each step): a container, the
 * group attached to it, the IOMMU model (Type1v2 unless told), then the device fd. With `kvm`, the group
 * is first added to the VM's kvm-vfio device as vfio_get_group() does (before the device is opened, so
 * the device takes the VM when it opens).
 */
export function openVfioDevice(p: Process, group: number, bdf: string, iommuType: number = V.VFIO_TYPE1v2_IOMMU, kvm?: KvmVfio): VfioDevice {
  const container = p.open('/dev/vfio/vfio', O_RDWR);
  const groupFd = p.open(`/dev/vfio/${group}`, O_RDWR);
  p.ioctl(groupFd, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([container]));
  p.ioctl(container, V.VFIO_SET_IOMMU, iommuType);
  kvm?.addFd(groupFd);
  return { container, group: groupFd, device: p.ioctl(groupFd, V.VFIO_GROUP_GET_DEVICE_FD, bdf) };
}

/**
 * QEMU's vfio_kvm_device_add_fd / vfio_kvm_device_del_fd (hw/vfio/helpers.c): one kvm-vfio device per VM,
 * created with KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO) the first time a VFIO group or device fd is added,
 * then KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_FILE, FILE_ADD / FILE_DEL) with a pointer to the fd.
 */
export class KvmVfio {
  /** The kvm-vfio device fd (vfio_kvm_device_fd), -1 until the first add. */
  fd = -1;
  /** QEMU's stack, where the structs and the fd the attribute points to live (so strace shows pointers). */
  private readonly stack: { addr: number; bytes: Uint8Array | null };

  constructor(
    private readonly p: Process,
    private readonly vm: number,
  ) {
    this.stack = p.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }

  addFd(fd: number): void {
    if (this.fd < 0) {
      const cd = K.kvm_create_device.alloc();
      cd.type = K.KVM_DEV_TYPE_VFIO;
      this.fd = K.kvm_create_device.view(this.call(this.vm, K.KVM_CREATE_DEVICE, cd.bytes, 0)).fd;
    }
    this.set(K.KVM_DEV_VFIO_FILE_ADD, fd);
  }

  delFd(fd: number): void {
    if (this.fd >= 0) this.set(K.KVM_DEV_VFIO_FILE_DEL, fd);
  }

  private set(attr: number, fd: number): void {
    const b = this.stack.bytes!;
    new DataView(b.buffer, b.byteOffset).setInt32(64, fd, true);
    const a = K.kvm_device_attr.alloc();
    a.group = K.KVM_DEV_VFIO_FILE;
    a.attr = BigInt(attr);
    a.addr = BigInt(this.stack.addr + 64);
    this.call(this.fd, K.KVM_SET_DEVICE_ATTR, a.bytes, 16);
  }

  /** The ioctl with its struct at `at` on the stack; returns the struct as the kernel left it. */
  private call(fd: number, req: number, struct: Uint8Array, at: number): Uint8Array {
    const b = this.stack.bytes!;
    b.set(struct, at);
    this.p.ioctl(fd, req, this.stack.addr + at);
    return b.slice(at, at + struct.length);
  }
}

/** glibc's makedev() for the numbers Linux hands out (major < 4096, minor < 2^20), as st_rdev holds them. */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/**
 * QEMU's open_cdev() (util/chardev_open.c): open the node O_RDWR, then fstat it: it must be a character
 * device whose st_rdev is `devt` (else close it and fail, -1). The /dev/char/M:m fallback (udev's links)
 * is not tried: the model's udev makes none.
 */
export function openCdev(p: Process, path: string, devt: number): number {
  let fd: number;
  try {
    fd = p.open(path, O_RDWR);
  } catch (e) {
    if (e instanceof SyscallError) return -1;
    throw e;
  }
  const st = p.fstat(fd);
  if ((st.st_mode & S_IFMT) !== S_IFCHR || (devt !== 0 && st.st_rdev !== devt)) {
    p.close(fd);
    return -1;
  }
  return fd;
}

/**
 * QEMU's iommufd_cdev_getfd() (hw/vfio/iommufd.c): the first `vfio*` entry of <sysfs>/vfio-dev, its
 * `dev` attribute parsed as "%d:%d", then open_cdev() of /dev/vfio/devices/<that name> with that number.
 * Throws QEMU's message where it fails.
 */
export function iommufdCdevGetfd(p: Process, sysfsPath: string): number {
  const dir = `${sysfsPath}/vfio-dev`;
  const name = p.readdir(dir).find((n) => n.startsWith('vfio'));
  if (name === undefined) throw new Error(`${dir}: failed to find vfio-dev/vfioX/dev`);
  const m = /^(-?\d+):(-?\d+)/.exec(p.readFile(`${dir}/${name}/dev`));
  if (!m) throw new Error(`${dir}: failed to get major:minor for "${dir}/${name}/dev"`);
  const fd = openCdev(p, `/dev/vfio/devices/${name}`, makedev(Number(m[1]), Number(m[2])));
  if (fd < 0) throw new Error(`${dir}: Failed to open /dev/vfio/devices/${name}`);
  return fd;
}
