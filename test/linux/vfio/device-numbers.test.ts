// VFIO's device numbers as userspace finds them: the cdev /dev/vfio/devices/vfioN is MKDEV(the
// "vfio-dev" region's major, device->index) (drivers/vfio/device_cdev.c vfio_init_device_cdev()), a
// group node /dev/vfio/N is MKDEV(the "vfio" region's major, a minor from vfio.group_ida)
// (drivers/vfio/group.c vfio_group_alloc()), and each class device's `dev` attribute prints the same
// number (drivers/base/core.c dev_show()). QEMU's iommufd backend relies on that: iommufd_cdev_getfd()
// (hw/vfio/iommufd.c) reads <sysfs>/vfio-dev/vfioN/dev and open_cdev() (util/chardev_open.c) refuses a
// node whose fstat() st_rdev differs.
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/index.js';
import { S_IFCHR, S_IFMT } from '../../../include-ts/linux/stat.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { iommufdCdevGetfd, makedev, openCdev } from '../../../examples/lib/vfio.js';
import { EDU, GROUP, NIC, bindVfio } from '../../support/vfio.js';

const sysfs = (bdf: string): string => `/sys/bus/pci/devices/${bdf}`;

describe('VFIO device numbers', () => {
  it('QEMU\'s iommufd_cdev_getfd(): the vfio-dev/vfioN/dev number is the st_rdev of the node it opens, for each device', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    bindVfio(p, NIC);
    for (const [bdf, index] of [[EDU, 0], [NIC, 1]] as const) {
      expect(p.readFile(`${sysfs(bdf)}/vfio-dev/vfio${index}/dev`)).toBe(`243:${index}\n`);
      const fd = iommufdCdevGetfd(p, sysfs(bdf));
      const st = p.fstat(fd);
      expect(st.st_mode & S_IFMT).toBe(S_IFCHR);
      expect(st.st_rdev).toBe(makedev(243, index));
      // The class link udev walks leads to the same attribute.
      expect(p.readFile(`/sys/class/vfio-dev/vfio${index}/dev`)).toBe(`243:${index}\n`);
      expect(p.stat(`/dev/vfio/devices/vfio${index}`)).toEqual(st);
    }
  });

  it('open_cdev() closes a node whose number is not the one asked for (and opens nothing else)', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    const before = p.readdir('/proc/self/fd');
    expect(openCdev(p, '/dev/vfio/devices/vfio0', makedev(243, 1))).toBe(-1);
    expect(openCdev(p, `/dev/vfio/${GROUP.edu}`, makedev(243, 0))).toBe(-1);
    expect(openCdev(p, '/dev/vfio/devices/vfio9', makedev(243, 9))).toBe(-1);
    expect(p.readdir('/proc/self/fd')).toEqual(before);
    expect(openCdev(p, '/dev/vfio/devices/vfio0', makedev(243, 0))).toBeGreaterThan(2);
  });

  it('an unbound device\'s index and its group\'s minor are free again (idas: lowest free); the numbers follow', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    bindVfio(p, NIC);
    expect(p.readFile(`/sys/class/vfio/${GROUP.edu}/dev`)).toBe('244:0\n');
    expect(p.readFile(`/sys/class/vfio/${GROUP.nic}/dev`)).toBe('244:1\n');
    expect(p.stat(`/dev/vfio/${GROUP.nic}`).st_rdev).toBe(makedev(244, 1));
    p.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU);
    expect(p.readdir('/sys/class/vfio-dev')).toEqual(['vfio1']);
    expect(p.readdir('/sys/class/vfio')).toEqual([String(GROUP.nic)]);
    bindVfio(p, EDU);
    expect(p.readFile(`${sysfs(EDU)}/vfio-dev/vfio0/dev`)).toBe('243:0\n');
    expect(p.stat(`/dev/vfio/${GROUP.edu}`).st_rdev).toBe(makedev(244, 0));
    const fd = iommufdCdevGetfd(p, sysfs(EDU));
    expect(p.fstat(fd).st_rdev).toBe(makedev(243, 0));
    p.close(fd);
    expect(() => p.open('/dev/vfio/devices/vfio0', O_RDWR)).not.toThrow();
  });

  it('a device without a vfio-dev directory (not bound to vfio-pci) fails as QEMU does: ENOENT from the directory', () => {
    const host = Host.create();
    const p = host.spawn();
    expect(() => iommufdCdevGetfd(p, sysfs(EDU))).toThrow(/vfio-dev.*ENOENT/);
  });
});
