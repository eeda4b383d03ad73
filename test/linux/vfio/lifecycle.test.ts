// Container / group / device lifecycle and errno (../shared/reference/vfio.md §2.1, §2.2, §8 items 1-5),
// following drivers/vfio/container.c, drivers/vfio/group.c, drivers/vfio/vfio_main.c and
// drivers/iommu/iommu.c (iommu_group_claim_dma_owner).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/host.js';
import { F_GETFL, O_ACCMODE, O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { EDU, GPU, GPU_AUDIO, GROUP, NIC, PCH_AUDIO, V, bindVfio, expectErrno, openDevice } from '../../support/vfio.js';

function status(p: ReturnType<Host['spawn']>, g: number): number {
  const st = V.vfio_group_status.alloc();
  st.argsz = 8;
  p.ioctl(g, V.VFIO_GROUP_GET_STATUS, st);
  return st.flags;
}

function setup(bdf = EDU, gid: number = GROUP.edu) {
  const host = Host.create();
  const p = host.spawn();
  bindVfio(p, bdf);
  const c = p.open('/dev/vfio/vfio', O_RDWR);
  const g = p.open(`/dev/vfio/${gid}`, O_RDWR);
  return { host, p, c, g };
}

describe('container fd (container.c)', () => {
  it('GET_API_VERSION is 0; CHECK_EXTENSION answers from the registered backends (unknown ids → 0)', () => {
    const { p, c } = setup();
    expect(p.ioctl(c, V.VFIO_GET_API_VERSION)).toBe(0);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_TYPE1v2_IOMMU)).toBe(1);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_TYPE1_IOMMU)).toBe(1);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_UNMAP_ALL)).toBe(1);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_UPDATE_VADDR)).toBe(0);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_DMA_CC_IOMMU)).toBe(0);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_SPAPR_TCE_IOMMU)).toBe(0);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_NOIOMMU_IOMMU)).toBe(0);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, 999)).toBe(0);
  });

  it('§8.2: SET_IOMMU with no group → EINVAL; twice → EINVAL; SPAPR (2) on x86 → ENODEV; UNMAP_ALL (9) → EINVAL', () => {
    const { p, c, g } = setup();
    expectErrno(() => p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU), 'EINVAL');
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    expectErrno(() => p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_SPAPR_TCE_IOMMU), 'ENODEV');
    expectErrno(() => p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_UNMAP_ALL), 'EINVAL');
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    expectErrno(() => p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU), 'EINVAL');
  });

  it('after SET_IOMMU, CHECK_EXTENSION asks only the chosen backend (UPDATE_VADDR and DMA_CC_IOMMU → 1)', () => {
    const { p, c, g } = setup();
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_UPDATE_VADDR)).toBe(1);
    expect(p.ioctl(c, V.VFIO_CHECK_EXTENSION, V.VFIO_DMA_CC_IOMMU)).toBe(1);
  });

  it('any other ioctl before SET_IOMMU → EINVAL; an unknown one after it → ENOTTY', () => {
    const { p, c, g } = setup();
    const info = new Uint8Array(24);
    info[0] = 24;
    expectErrno(() => p.ioctl(c, V.VFIO_IOMMU_GET_INFO, info), 'EINVAL');
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    expectErrno(() => p.ioctl(c, V.VFIO_IOMMU_ENABLE), 'ENOTTY');
  });

  it('removing the last group releases the backend and its mappings; SET_IOMMU is allowed again', () => {
    const { host, p, c, g } = setup();
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    const m = p.mmap(null, 0x1000, 3, 0x22, -1, 0);
    p.ioctl(c, V.VFIO_IOMMU_MAP_DMA, V.vfio_iommu_type1_dma_map.encode({ argsz: 32, flags: 3, vaddr: m.addr, iova: 0, size: 0x1000 }));
    const rid = host.control.pci.device(EDU).rid;
    const containerDomain = host.kernel.machine.iommu.context(rid);
    p.ioctl(g, V.VFIO_GROUP_UNSET_CONTAINER);
    // Back on the kernel's default (DMA API) domain, which holds none of the user's mappings.
    expect(host.kernel.machine.iommu.context(rid)).not.toBe(containerDomain);
    expect(host.kernel.machine.iommu.context(rid)).toBe(host.control.pci.group(GROUP.edu).defaultDomain);
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1_IOMMU);
    const un = V.vfio_iommu_type1_dma_unmap.encode({ argsz: 24, iova: 0, size: 0x1000 });
    p.ioctl(c, V.VFIO_IOMMU_UNMAP_DMA, un);
    expect(V.vfio_iommu_type1_dma_unmap.view(un).size).toBe(0n);
  });

  it('closing the container fd while a group is attached leaves the container alive', () => {
    const { p, c, g } = setup();
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    p.close(c);
    expect(status(p, g)).toBe(V.VFIO_GROUP_FLAGS_VIABLE | V.VFIO_GROUP_FLAGS_CONTAINER_SET);
    const d = p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, EDU);
    expect(d).toBeGreaterThan(0);
  });
});

describe('group fd (group.c)', () => {
  it('§8.1: a second open while the first is open → EBUSY; after close it opens again', () => {
    const { host, p, g } = setup();
    expectErrno(() => p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR), 'EBUSY');
    expectErrno(() => host.spawn().open(`/dev/vfio/${GROUP.edu}`, O_RDWR), 'EBUSY');
    p.close(g);
    expect(p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR)).toBeGreaterThan(0);
  });

  // fs/open.c + include/linux/fs.h OPEN_FMODE: access mode 3 opens with neither FMODE_READ nor FMODE_WRITE,
  // which the container and group fds never look at (ioctl only). drivers/vfio/group.c
  // vfio_device_open_file: the device fd is anon_inode_getfile(..., O_RDWR) whatever the group's mode.
  it('container and group opened with access mode 3 (ioctl only) work; read is EBADF; the device fd is O_RDWR', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    const c = p.open('/dev/vfio/vfio', O_ACCMODE);
    const g = p.open(`/dev/vfio/${GROUP.edu}`, O_ACCMODE);
    expectErrno(() => p.read(c, new Uint8Array(8)), 'EBADF');
    expectErrno(() => p.read(g, new Uint8Array(8)), 'EBADF');
    expect(p.ioctl(c, V.VFIO_GET_API_VERSION)).toBe(V.VFIO_API_VERSION);
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    expect(status(p, g)).toBe(V.VFIO_GROUP_FLAGS_VIABLE | V.VFIO_GROUP_FLAGS_CONTAINER_SET);
    const d = p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, EDU);
    expect(p.fcntl(d, F_GETFL) & O_ACCMODE).toBe(O_RDWR);
    const cfg = V.vfio_region_info.alloc();
    cfg.argsz = V.vfio_region_info.size;
    cfg.index = V.VFIO_PCI_CONFIG_REGION_INDEX;
    p.ioctl(d, V.VFIO_DEVICE_GET_REGION_INFO, cfg);
    const id = new Uint8Array(2);
    expect(p.pread(d, id, Number(cfg.offset))).toBe(2);
    expect(id[0] | (id[1]! << 8)).toBe(0x1234); // the edu device's vendor ID
  });

  it('/dev/vfio/N exists only for groups with a device bound to vfio-pci (ENOENT otherwise)', () => {
    const p = Host.create().spawn();
    expectErrno(() => p.open(`/dev/vfio/${GROUP.nic}`, O_RDWR), 'ENOENT');
  });

  it('GET_STATUS: argsz < 8 → EINVAL; VIABLE when no DMA-API driver; CONTAINER_SET|VIABLE once attached', () => {
    const { p, c, g } = setup();
    const st = V.vfio_group_status.alloc();
    st.argsz = 4;
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_STATUS, st), 'EINVAL');
    expect(status(p, g)).toBe(V.VFIO_GROUP_FLAGS_VIABLE);
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    expect(status(p, g)).toBe(V.VFIO_GROUP_FLAGS_VIABLE | V.VFIO_GROUP_FLAGS_CONTAINER_SET);
  });

  it('§8.3: a group with a member on a normal driver is not viable: flags 0, SET_CONTAINER → EPERM saying why', () => {
    const { p, c, g } = setup(GPU, GROUP.gpu);
    expect(status(p, g)).toBe(0);
    const e = expectErrno(() => p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c])), 'EPERM');
    expect(e.message).toBe('VFIO_GROUP_SET_CONTAINER: EPERM: group 1 is not viable: 0000:01:00.1 is bound to snd_hda_intel');
    // pcieport (the root port in the group) is driver_managed_dma: binding the audio function to vfio-pci is enough.
    bindVfio(p, GPU_AUDIO);
    expect(status(p, g)).toBe(V.VFIO_GROUP_FLAGS_VIABLE);
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
  });

  it('the PCH group: "group 6 is not viable" names every DMA-API driver', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, PCH_AUDIO);
    const c = p.open('/dev/vfio/vfio', O_RDWR);
    const g = p.open(`/dev/vfio/${GROUP.pch}`, O_RDWR);
    const e = expectErrno(() => p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c])), 'EPERM');
    expect(e.reason).toBe('group 6 is not viable: 0000:00:1f.0 is bound to lpc_ich, 0000:00:1f.6 is bound to e1000e');
  });

  it('§8.3: SET_CONTAINER twice → EINVAL; a non-container fd → EBADFD; a closed fd → EBADF', () => {
    const { p, c, g } = setup();
    const efd = p.eventfd(0, 0);
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([efd])), 'EBADFD');
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([99])), 'EBADF');
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c])), 'EINVAL');
  });

  it('§8.4: GET_DEVICE_FD before SET_CONTAINER → EINVAL; before SET_IOMMU → EINVAL; a name not in the group → ENODEV', () => {
    const { p, c, g } = setup();
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, EDU), 'EINVAL');
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, EDU), 'EINVAL');
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, '0000:ff:1f.7'), 'ENODEV');
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, '0000:ff:1f.7'), 'ENODEV');
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, `${EDU} vf_token=00000000-0000-0000-0000-000000000000`), 'EINVAL');
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, `${EDU} bogus`), 'EINVAL');
  });

  it('GET_DEVICE_FD with a name of PAGE_SIZE bytes or more → EINVAL (strndup_user); an unterminated buffer → EFAULT', () => {
    const { p, group } = openDevice();
    expectErrno(() => p.ioctl(group, V.VFIO_GROUP_GET_DEVICE_FD, 'x'.repeat(5000)), 'EINVAL');
    expectErrno(() => p.ioctl(group, V.VFIO_GROUP_GET_DEVICE_FD, new Uint8Array([0x30, 0x30])), 'EFAULT');
  });

  it('GET_DEVICE_FD twice gives two fds on one opened device', () => {
    const { p, device, group, host } = openDevice();
    const d2 = p.ioctl(group, V.VFIO_GROUP_GET_DEVICE_FD, EDU);
    expect(d2).not.toBe(device);
    expect(host.kernel.vfio.groups.get(GROUP.edu)!.devices[0]!.openCount).toBe(2);
  });

  it('§8.5: UNSET_CONTAINER with a device fd open → EBUSY; when not attached → EINVAL', () => {
    const { p, group, device } = openDevice();
    expectErrno(() => p.ioctl(group, V.VFIO_GROUP_UNSET_CONTAINER), 'EBUSY');
    p.close(device);
    p.ioctl(group, V.VFIO_GROUP_UNSET_CONTAINER);
    expectErrno(() => p.ioctl(group, V.VFIO_GROUP_UNSET_CONTAINER), 'EINVAL');
  });

  it('unknown group ioctl → ENOTTY; unknown device ioctl → ENOTTY; BIND_IOMMUFD on a group-obtained fd → EINVAL', () => {
    const { p, group, device } = openDevice();
    expectErrno(() => p.ioctl(group, V.VFIO_GET_API_VERSION), 'ENOTTY');
    expectErrno(() => p.ioctl(device, V.VFIO_GROUP_GET_STATUS), 'ENOTTY');
    expectErrno(() => p.ioctl(device, 0x3b76, new Uint8Array(24)), 'EINVAL');
  });

  it('closing order: device fds keep the group (and its container) alive after the group fd is closed', () => {
    const { host, p, group, device, container } = openDevice();
    p.close(group);
    p.close(container);
    const g = host.kernel.vfio.groups.get(GROUP.edu)!;
    expect(g.container).not.toBeNull();
    expectErrno(() => host.spawn().open(`/dev/vfio/${GROUP.edu}`, O_RDWR), 'EBUSY');
    p.close(device);
    expect(g.container).toBeNull();
    expect(g.iommuGroup!.owner).toBeNull();
    expect(host.spawn().open(`/dev/vfio/${GROUP.edu}`, O_RDWR)).toBeGreaterThan(0);
  });

  it('one container shared by several groups: both attach, SET_IOMMU covers both, the mapping serves both', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    bindVfio(p, NIC);
    const c = p.open('/dev/vfio/vfio', O_RDWR);
    const g1 = p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR);
    const g2 = p.open(`/dev/vfio/${GROUP.nic}`, O_RDWR);
    p.ioctl(g1, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    p.ioctl(g2, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    const iommu = host.machine.iommu;
    const ctxEdu = iommu.context(host.control.pci.device(EDU).rid);
    expect(ctxEdu).toBeDefined();
    expect(iommu.context(host.control.pci.device(NIC).rid)).toBe(ctxEdu);
    p.ioctl(g1, V.VFIO_GROUP_UNSET_CONTAINER);
    expect(iommu.context(host.control.pci.device(EDU).rid)).toBe(host.control.pci.group(GROUP.edu).defaultDomain);
    expect(iommu.context(host.control.pci.device(NIC).rid)).toBe(ctxEdu);
  });
});
