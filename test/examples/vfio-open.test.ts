// examples/vfio-open.ts: QEMU's open sequence after libvirt's sysfs binding, traced strace-style.
import { describe, expect, it } from 'vitest';
import { vfioOpen } from '../../examples/vfio-open.js';

describe('examples/vfio-open', () => {
  it('prints the group status line with fds as in a fresh process (container 3, group 4, device 5)', () => {
    const lines = vfioOpen(() => {});
    expect(lines).toContain('ioctl(4, VFIO_GROUP_GET_STATUS, {argsz=8, flags=VFIO_GROUP_FLAGS_VIABLE}) = 0');
    expect(lines).toContain('openat(AT_FDCWD, "/dev/vfio/vfio", O_RDWR) = 3');
    expect(lines).toContain('ioctl(4, VFIO_GROUP_SET_CONTAINER, [3]) = 0');
    expect(lines).toContain('ioctl(4, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0") = 5');
    expect(lines.some((l) => l.startsWith('ioctl(3, VFIO_IOMMU_MAP_DMA, {argsz=32, flags=VFIO_DMA_MAP_FLAG_READ|VFIO_DMA_MAP_FLAG_WRITE,') && l.endsWith('= 0'))).toBe(true);
  });
});
