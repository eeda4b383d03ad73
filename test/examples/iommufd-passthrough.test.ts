// examples/iommufd-passthrough.ts: QEMU's iommufd open sequence, edu DMA through the IOAS and an MSI.
import { describe, expect, it } from 'vitest';
import { iommufdPassthrough } from '../../examples/iommufd-passthrough.js';

describe('examples/iommufd-passthrough', () => {
  it('opens /dev/iommu and the cdev, binds, attaches, maps guest RAM; the device DMAs through it and signals MSI', () => {
    const lines = iommufdPassthrough(() => {});
    expect(lines).toContain('openat(AT_FDCWD, "/dev/iommu", O_RDWR) = 3');
    expect(lines).toContain('openat(AT_FDCWD, "/dev/vfio/devices/vfio0", O_RDWR) = 4');
    // iommufd_cdev_getfd() -> open_cdev(): the cdev's number checked against vfio-dev/vfio0/dev (243:0).
    expect(lines).toContain('newfstatat(4, "", {st_mode=S_IFCHR|0600, st_rdev=makedev(0xf3, 0), ...}, AT_EMPTY_PATH) = 0');
    expect(lines.some((l) => l.startsWith('ioctl(4, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, ') && l.endsWith(') = 0'))).toBe(true);
    expect(lines.some((l) => l.startsWith('ioctl(3, _IOC(_IOC_NONE, 0x3b, 0x85, 0), ') && l.endsWith(') = 0'))).toBe(true);
    expect(lines).toContain('# IOVA range 0: 0x0-0xfedfffff');
    expect(lines).toContain('# IOVA range 1: 0xfef00000-0xffffffffffff');
    expect(lines).toContain('# guest RAM at 0x2000 now reads "hello, iommufd!"');
    expect(lines).toContain('# eventfd count 1');
  });
});
