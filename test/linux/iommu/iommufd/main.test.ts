// /dev/iommu and the iommufd dispatcher (drivers/iommu/iommufd/main.c: iommufd_fops_ioctl,
// copy_struct_from_user, iommufd_object_remove, iommufd_fops_release; misc device "iommu", mode 0660).
// This machine has no IOMMU (no /dev/iommu), so there is no real-kernel oracle here: every expectation
// cites the kernel source it comes from.
import { describe, expect, it } from 'vitest';
import { Host } from '../../../../src/host.js';
import { O_RDWR } from '../../../../include-ts/linux/fcntl.js';
import { _IOC, _IOC_WRITE } from '../../../../abi/ioc.js';
import { expectErrno } from '../../../support/vfio.js';
import { I, attach, destroy, ioasAlloc, ioasMap, openIommufd } from './support.js';

function fresh() {
  const host = Host.create();
  const p = host.spawn();
  return { host, p, fd: p.open('/dev/iommu', O_RDWR) };
}

describe('/dev/iommu (main.c iommu_misc_dev)', () => {
  it('is a root-owned 0660 character device; each open is a new, empty context', () => {
    const { host, p, fd } = fresh();
    expect(p.readdir('/dev')).toContain('iommu');
    const q = host.spawn({ uid: 1000, gid: 1000 });
    expectErrno(() => q.open('/dev/iommu', O_RDWR), 'EACCES');
    const fd2 = p.open('/dev/iommu', O_RDWR);
    expect(ioasAlloc(p, fd)).toBe(1);
    expect(ioasAlloc(p, fd2)).toBe(1); // ids are per context
  });
});

describe('iommufd_fops_ioctl: number and size rules', () => {
  it('a number below IOMMUFD_CMD_BASE goes to the VFIO compatibility layer (not modelled): ENOTTY', () => {
    const { p, fd } = fresh();
    expectErrno(() => p.ioctl(fd, 0x3b64, new Uint8Array(8)), 'ENOTTY');
  });

  it('the right _IOC_NR with other size/direction bits is ENOTTY (op->ioctl_num != cmd)', () => {
    const { p, fd } = fresh();
    expectErrno(() => p.ioctl(fd, _IOC(_IOC_WRITE, 0x3b, 0x81, 12), I.iommu_ioas_alloc.encode({ size: 12 })), 'ENOTTY');
  });

  it('size is read first: a NULL or short argument is EFAULT', () => {
    const { p, fd } = fresh();
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_ALLOC, new Uint8Array(2)), 'EFAULT');
  });

  it('size below offsetofend(last mandatory member) is EINVAL', () => {
    const { p, fd } = fresh();
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_ALLOC, I.iommu_ioas_alloc.encode({ size: 8 })), 'EINVAL');
    expectErrno(() => p.ioctl(fd, I.IOMMU_DESTROY, I.iommu_destroy.encode({ size: 4 })), 'EINVAL');
  });

  it('a larger struct must be zero beyond what the kernel knows (copy_struct_from_user: E2BIG), else it is accepted', () => {
    const { p, fd } = fresh();
    const b = new Uint8Array(32);
    b[0] = 32;
    b[20] = 1;
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_ALLOC, b), 'E2BIG');
    b[20] = 0;
    expect(p.ioctl(fd, I.IOMMU_IOAS_ALLOC, b)).toBe(0);
    expect(I.iommu_ioas_alloc.view(b).out_ioas_id).toBe(1);
    // iommufd_ucmd_respond copies min(size, sizeof) bytes: nothing past byte 12 is written.
    expect([...b.subarray(12)].every((x) => x === 0)).toBe(true);
  });

  it('the struct may be longer than size: only size bytes are read and written', () => {
    const { p, fd } = fresh();
    const b = new Uint8Array(16).fill(0xaa);
    b.set(I.iommu_ioas_alloc.encode({ size: 12 }));
    p.ioctl(fd, I.IOMMU_IOAS_ALLOC, b);
    expect([...b.subarray(12)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it('commands the model does not implement (IOMMU_HWPT_INVALIDATE...) are ENOTTY, numbers past the table too', () => {
    const { p, fd } = fresh();
    const inval = new Uint8Array(32);
    inval[0] = 32;
    expectErrno(() => p.ioctl(fd, I.IOMMU_HWPT_INVALIDATE, inval), 'ENOTTY');
    expectErrno(() => p.ioctl(fd, _IOC(0, 0x3b, 0xa0, 0), new Uint8Array(8)), 'ENOTTY');
  });
});

describe('objects and IOMMU_DESTROY (iommufd_object_remove)', () => {
  it('ids come from an xarray from 1: the lowest free id, reused after destroy', () => {
    const { p, fd } = fresh();
    expect([ioasAlloc(p, fd), ioasAlloc(p, fd), ioasAlloc(p, fd)]).toEqual([1, 2, 3]);
    destroy(p, fd, 2);
    expect(ioasAlloc(p, fd)).toBe(2);
    expect(ioasAlloc(p, fd)).toBe(4);
  });

  it('an unknown id is ENOENT; IOAS_ALLOC flags are EOPNOTSUPP and allocate nothing', () => {
    const { p, fd } = fresh();
    expectErrno(() => destroy(p, fd, 1), 'ENOENT');
    expectErrno(() => p.ioctl(fd, I.IOMMU_IOAS_ALLOC, I.iommu_ioas_alloc.encode({ size: 12, flags: 1 })), 'EOPNOTSUPP');
    expect(ioasAlloc(p, fd)).toBe(1);
  });

  it('an object something else holds is EBUSY: the IOAS under an attached HWPT, the HWPT, the bound device', () => {
    const o = openIommufd({ attach: false });
    const hwpt = attach(o.p, o.dev, o.ioas);
    expect(hwpt).toBe(3); // devid 1, ioas 2, then the automatic HWPT
    expectErrno(() => destroy(o.p, o.iommufd, o.ioas), 'EBUSY');
    expectErrno(() => destroy(o.p, o.iommufd, hwpt), 'EBUSY');
    expectErrno(() => destroy(o.p, o.iommufd, o.devid), 'EBUSY');
  });

  it('destroying an IOAS unmaps it and returns its pinned pages', () => {
    const o = openIommufd({ attach: false });
    const ioas2 = ioasAlloc(o.p, o.iommufd);
    ioasMap(o.p, o.iommufd, ioas2, o.ram.addr, 0x4000, 0x100000);
    expect(destroy(o.p, o.iommufd, ioas2)).toBe(0);
    expectErrno(() => destroy(o.p, o.iommufd, ioas2), 'ENOENT');
  });

  it('closing /dev/iommu while a device is bound keeps the context (iommufd_ctx_get) until the device fd closes', () => {
    const o = openIommufd();
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x2000, 0x100000);
    o.p.close(o.iommufd);
    const edu = o.host.control.pci.edu();
    expect(edu.dmaRead(0x100000, new Uint8Array(4))).toBe(true);
    o.p.close(o.dev);
    expect(edu.dmaRead(0x100000, new Uint8Array(4))).toBe(false);
  });
});
