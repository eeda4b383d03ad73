// Device numbers: include/linux/kdev_t.h (MKDEV, MAJOR, MINOR, new_encode_dev), include/uapi/linux/major.h
// and include/linux/miscdevice.h (the fixed numbers), fs/char_dev.c (alloc_chrdev_region()'s dynamic
// major) and drivers/char/misc.c (misc_register()'s dynamic minor).
//
// The fixed numbers are the kernel's: /dev/null 1:3 and /dev/zero 1:5 (drivers/char/mem.c devlist),
// /dev/kvm 10:232 (KVM_MINOR), /dev/vfio/vfio 10:196 (VFIO_MINOR). The dynamic ones are what this
// machine's 6.18 kernel would hand out when the modules load after boot, deterministically:
// - find_dynamic_major() takes the highest free major from 254 down; this machine's boot took 254 down
//   to 245 (ndctl ... hidraw in /proc/devices), so the first region a module allocates gets 244, the
//   next 243. vfio_init() allocates "vfio" (the group nodes /dev/vfio/N) in vfio_group_init() before
//   "vfio-dev" (the cdevs /dev/vfio/devices/vfioN) in vfio_cdev_init(): 244 and 243.
// - misc_register() with MISC_DYNAMIC_MINOR takes the lowest free minor above 255 (misc_minor_alloc():
//   an ida from MISC_DYNAMIC_MINOR + 1); this machine's boot gave 256-259 (vga_arbiter, userfaultfd,
//   vsock, cpu_dma_latency in /proc/misc), so the misc devices the model registers without a fixed
//   minor (/dev/iommu, /dev/xen/privcmd) get 260, 261... in the model's boot order.
// The minor inside a region is the driver's: a VFIO group's from vfio.group_ida, a cdev's device->index.
// A device with a number gets the sysfs `dev` attribute udev and QEMU read (drivers/base/core.c
// device_add(): dev_attr_dev, "major:minor\n", 0444) and a /sys/class/<class>/<name> link to its
// directory (device_add_class_symlinks()).

import type { Kernel } from '../kernel.js';
import { attr, symlink } from './vfs.js';
import { relative } from '../pci/pci-sysfs.js';

export const MINORBITS = 20;
const MINOR_SPAN = 2 ** MINORBITS;

/** The kernel's dev_t: major << 20 | minor (kept below 2^32, so a plain number). */
export function MKDEV(major: number, minor: number): number {
  return major * MINOR_SPAN + minor;
}

export function MAJOR(dev: number): number {
  return Math.floor(dev / MINOR_SPAN);
}

export function MINOR(dev: number): number {
  return dev % MINOR_SPAN;
}

/**
 * new_encode_dev(): the st_dev/st_rdev encoding of struct stat on 64-bit, which glibc's major()/minor()
 * decode: minor bits 0-7, major bits 8-19, minor bits 8-19 at bits 20-31.
 */
export function newEncodeDev(dev: number): number {
  const major = MAJOR(dev);
  const minor = MINOR(dev);
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** `major:minor`, as print_dev_t() writes the sysfs `dev` attribute (drivers/base/core.c dev_show()). */
export function devText(dev: number): string {
  return `${MAJOR(dev)}:${MINOR(dev)}`;
}

/** include/uapi/linux/major.h */
export const MEM_MAJOR = 1;
export const MISC_MAJOR = 10;
/** include/linux/miscdevice.h */
export const VFIO_MINOR = 196;
export const KVM_MINOR = 232;
export const MISC_DYNAMIC_MINOR = 255;
/** drivers/char/mem.c devlist: the minors of the memory devices. */
export const NULL_MINOR = 3;
export const ZERO_MINOR = 5;

/** The highest major this machine's boot left free (find_dynamic_major() searches from 254 down). */
const FIRST_FREE_DYNAMIC_MAJOR = 244;
/** The lowest misc minor this machine's boot left free (256-259 were taken). */
const FIRST_FREE_MISC_MINOR = 260;

/** alloc_chrdev_region(): the next dynamic major, as this machine's kernel would give it. */
export function allocChrdevMajor(kernel: Kernel): number {
  return FIRST_FREE_DYNAMIC_MAJOR + 1 - kernel.ids.next('chrdev-major');
}

/**
 * misc_register(): MKDEV(MISC_MAJOR, minor), a MISC_DYNAMIC_MINOR replaced by the next free dynamic
 * minor, and the class device /sys/devices/virtual/misc/<name> (a '/' in the node name becomes '!' in
 * sysfs, as for "xen/privcmd").
 */
export function miscRegister(kernel: Kernel, name: string, minor: number): number {
  const m = minor === MISC_DYNAMIC_MINOR ? FIRST_FREE_MISC_MINOR - 1 + kernel.ids.next('misc-minor') : minor;
  const dev = MKDEV(MISC_MAJOR, m);
  addClassDevice(kernel, 'misc', name.replaceAll('/', '!'), '/sys/devices/virtual/misc', dev);
  return dev;
}

/**
 * device_add() of a class device with a number: `<parent>/<name>/dev` and the /sys/class/<cls>/<name>
 * link to the directory. Returns the directory's path.
 */
export function addClassDevice(kernel: Kernel, cls: string, name: string, parent: string, dev: number): string {
  const path = `${parent}/${name}`;
  kernel.vfs.mkdirp(path).set('dev', attr('sysfs', () => `${devText(dev)}\n`));
  kernel.vfs.mkdirp(`/sys/class/${cls}`).set(name, symlink(relative(`/sys/class/${cls}`, path)));
  return path;
}

/** device_del(): the class link and the device's directory go. */
export function removeClassDevice(kernel: Kernel, cls: string, name: string, parent: string): void {
  kernel.vfs.mkdirp(`/sys/class/${cls}`).remove(name);
  kernel.vfs.mkdirp(parent).remove(name);
}
