// VFIO_DEVICE_RESET, GET_PCI_HOT_RESET_INFO, PCI_HOT_RESET (../shared/reference/vfio.md §5), IOEVENTFD
// (§1.6) and DEVICE_FEATURE (§1.6), following drivers/vfio/pci/vfio_pci_core.c (vfio_pci_ioctl_reset,
// vfio_pci_ioctl_get_pci_hot_reset_info, vfio_pci_ioctl_pci_hot_reset_groups, vfio_pci_dev_set_hot_reset,
// vfio_pci_ioctl_ioeventfd, vfio_pci_core_ioctl_feature), drivers/vfio/pci/vfio_pci_rdwr.c
// (vfio_pci_ioeventfd) and drivers/vfio/vfio_main.c (vfio_ioctl_device_feature, vfio_check_feature).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../../src/host.js';
import { getU32 } from '../../../../abi/bytes.js';
import { O_RDWR } from '../../../../include-ts/linux/fcntl.js';
import { GPU, GPU_AUDIO, GROUP, NIC, REGION, V, bindVfio, expectErrno, openDevice } from '../../../support/vfio.js';

function gpu(bindAudio = true) {
  const host = Host.create();
  if (bindAudio) bindVfio(host.spawn(), GPU_AUDIO);
  return openDevice(GPU, GROUP.gpu, V.VFIO_TYPE1v2_IOMMU, host);
}

describe('VFIO_DEVICE_RESET', () => {
  it('without a working function reset (reset_works false) → EINVAL', () => {
    const { p, device } = openDevice();
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_RESET), 'EINVAL');
    const g = gpu();
    expectErrno(() => g.p.ioctl(g.device, V.VFIO_DEVICE_RESET), 'EINVAL');
  });

  it('with FLR: resets the function, state saved and restored around it', () => {
    const { host, p, device } = openDevice(NIC, GROUP.nic);
    const hw = host.control.pci.device(NIC);
    const bar0 = hw.barAddress(0);
    const n = hw.resets;
    hw.barWrite(0, 0, 4, 0xabcd);
    p.ioctl(device, V.VFIO_DEVICE_RESET);
    expect(hw.resets).toBe(n + 1);
    expect(hw.barAddress(0)).toBe(bar0);
    expect(hw.barRead(0, 0, 4)).toBe(0);
  });
});

describe('VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', () => {
  it('argsz < 12 → EINVAL; a device on the root bus has no slot/bus reset → ENODEV', () => {
    const { p, device } = openDevice();
    const b = new Uint8Array(12);
    b[0] = 8;
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, b), 'EINVAL');
    b[0] = 12;
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, b), 'ENODEV');
  });

  it('ENOSPC protocol: argsz 12 on the 2-function GPU slot → ENOSPC with count = 2 written back; then the list', () => {
    const { p, device } = gpu();
    const b = new Uint8Array(12);
    b[0] = 12;
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, b), 'ENOSPC');
    expect(getU32(b, 8)).toBe(2);
    const full = new Uint8Array(12 + 16);
    full[0] = full.length;
    p.ioctl(device, V.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, full);
    const v = V.vfio_pci_hot_reset_info.view(full);
    expect(v.count).toBe(2);
    expect(v.devices.toArray().map((d) => V.vfio_pci_dependent_device.decode(d.bytes))).toEqual([
      { group_id: 1, segment: 0, bus: 1, devfn: 0 },
      { group_id: 1, segment: 0, bus: 1, devfn: 1 },
    ]);
  });
});

describe('VFIO_DEVICE_PCI_HOT_RESET (group fds)', () => {
  const req = (fds: number[], flags = 0, argsz?: number) => {
    const b = new Uint8Array(12 + 4 * fds.length);
    V.vfio_pci_hot_reset.encode({ argsz: argsz ?? b.length, flags, count: fds.length }, b);
    fds.forEach((fd, i) => new DataView(b.buffer).setInt32(12 + 4 * i, fd, true));
    return b;
  };

  it('flags ≠ 0, count 0, count above the affected devices → EINVAL; a closed fd → EBADF; a non-group fd → EINVAL', () => {
    const { p, device, group } = gpu();
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_PCI_HOT_RESET, req([group], 1)), 'EINVAL');
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_PCI_HOT_RESET, req([])), 'EINVAL');
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_PCI_HOT_RESET, req([group, group, group])), 'EINVAL');
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_PCI_HOT_RESET, req([77])), 'EBADF');
    const efd = p.eventfd(0, 0);
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_PCI_HOT_RESET, req([efd])), 'EINVAL');
  });

  it('every affected device must be on vfio-pci and in a passed group; then the secondary bus is reset', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, GPU_AUDIO);
    const o = openDevice(GPU, GROUP.gpu, V.VFIO_TYPE1v2_IOMMU, host);
    const port = host.control.pci.device('00:01.0') as unknown as { busResets: number };
    const before = port.busResets;
    o.p.ioctl(o.device, V.VFIO_DEVICE_PCI_HOT_RESET, req([o.group]));
    expect(port.busResets).toBe(before + 1);
    expect(host.control.pci.device(GPU).barAddress(1)).not.toBe(0);
    // with the audio function back on its normal driver the reset would hit a device the user does not own
    o.p.close(o.device);
    o.p.ioctl(o.group, V.VFIO_GROUP_UNSET_CONTAINER);
    const admin = host.spawn();
    admin.writeFile(`/sys/bus/pci/devices/${GPU_AUDIO}/driver_override`, '\n');
    admin.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', GPU_AUDIO);
    admin.writeFile('/sys/bus/pci/drivers/pci-stub/new_id', '10de 0fbc');
    o.p.ioctl(o.group, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([o.container]));
    o.p.ioctl(o.container, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    const d = o.p.ioctl(o.group, V.VFIO_GROUP_GET_DEVICE_FD, GPU);
    const e = expectErrno(() => o.p.ioctl(d, V.VFIO_DEVICE_PCI_HOT_RESET, req([o.group])), 'EINVAL');
    expect(e.reason).toContain('0000:01:00.1');
  });
});

describe('VFIO_DEVICE_IOEVENTFD', () => {
  const ioe = (o: ReturnType<typeof openDevice>, off: number, data: number, flags: number, fd: number, argsz = 32) =>
    o.p.ioctl(o.device, V.VFIO_DEVICE_IOEVENTFD, V.vfio_device_ioeventfd.encode({ argsz, flags, offset: off, data, fd }));

  it('validation: argsz, flags, one size bit, fd < -1, non-BAR region, past the BAR, 8 bytes → EINVAL', () => {
    const o = openDevice();
    const efd = o.p.eventfd(0, 0);
    expectErrno(() => ioe(o, 4, 1, 4, efd, 24), 'EINVAL');
    expectErrno(() => ioe(o, 4, 1, 0x14, efd), 'EINVAL');
    expectErrno(() => ioe(o, 4, 1, 6, efd), 'EINVAL');
    expectErrno(() => ioe(o, 4, 1, 0, efd), 'EINVAL');
    expectErrno(() => ioe(o, 4, 1, 4, -2), 'EINVAL');
    expectErrno(() => ioe(o, REGION(7) + 4, 1, 4, efd), 'EINVAL');
    expectErrno(() => ioe(o, 0x100000 - 2, 1, 4, efd), 'EINVAL');
    expectErrno(() => ioe(o, 0x80, 1, 8, efd), 'EINVAL');
  });

  it('the MSI-X table cannot be a target (EINVAL); a bad fd → EBADF; a non-eventfd → EINVAL', () => {
    const o = openDevice(NIC, GROUP.nic);
    const efd = o.p.eventfd(0, 0);
    expectErrno(() => ioe(o, REGION(3) + 12, 0, 4, efd), 'EINVAL');
    expectErrno(() => ioe(o, 0x10, 0, 4, 99), 'EBADF');
    const dir = o.p.open('/dev/vfio/vfio', O_RDWR);
    expectErrno(() => ioe(o, 0x10, 0, 4, dir), 'EINVAL');
  });

  it('signalling the eventfd performs the write (skipped while memory is off); duplicates EEXIST; fd -1 removes; no match ENODEV', () => {
    const o = openDevice();
    const edu = o.host.control.pci.edu();
    const efd = o.p.eventfd(0, 0);
    ioe(o, 0x04, 0x11223344, V.VFIO_DEVICE_IOEVENTFD_32, efd);
    expectErrno(() => ioe(o, 0x04, 0x11223344, V.VFIO_DEVICE_IOEVENTFD_32, efd), 'EEXIST');
    const one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
    o.p.write(efd, one);
    expect(edu.liveness).toBe(~0x11223344 >>> 0);
    edu.liveness = 0;
    const cmd = new Uint8Array(2);
    o.p.pread(o.device, cmd, REGION(7) + 4);
    o.p.pwrite(o.device, new Uint8Array([cmd[0]! & ~2, cmd[1]!]), REGION(7) + 4);
    o.p.write(efd, one);
    expect(edu.liveness).toBe(0);
    o.p.pwrite(o.device, cmd, REGION(7) + 4);
    ioe(o, 0x04, 0x11223344, V.VFIO_DEVICE_IOEVENTFD_32, -1);
    o.p.write(efd, one);
    expect(edu.liveness).toBe(0);
    expectErrno(() => ioe(o, 0x04, 0x11223344, V.VFIO_DEVICE_IOEVENTFD_32, -1), 'ENODEV');
  });

  it('at most 1000 per device → ENOSPC', () => {
    const o = openDevice();
    const efd = o.p.eventfd(0, 0);
    for (let i = 0; i < 1000; i++) ioe(o, 0x04, i, V.VFIO_DEVICE_IOEVENTFD_32, efd);
    expectErrno(() => ioe(o, 0x04, 1000, V.VFIO_DEVICE_IOEVENTFD_32, efd), 'ENOSPC');
  });
});

describe('VFIO_DEVICE_FEATURE', () => {
  const feat = (o: ReturnType<typeof openDevice>, flags: number, argsz = 8, extra = 0) => {
    const b = new Uint8Array(8 + extra);
    V.vfio_device_feature.encode({ argsz, flags }, b);
    return o.p.ioctl(o.device, V.VFIO_DEVICE_FEATURE, b);
  };
  it('argsz < 8, unknown flags, GET|SET without PROBE → EINVAL; migration and DMA logging → ENOTTY; unknown → ENOTTY', () => {
    const o = openDevice();
    expectErrno(() => feat(o, V.VFIO_DEVICE_FEATURE_PROBE, 4), 'EINVAL');
    expectErrno(() => feat(o, 1 << 20), 'EINVAL');
    expectErrno(() => feat(o, V.VFIO_DEVICE_FEATURE_GET | V.VFIO_DEVICE_FEATURE_SET | V.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY), 'EINVAL');
    expectErrno(() => feat(o, V.VFIO_DEVICE_FEATURE_GET | V.VFIO_DEVICE_FEATURE_MIGRATION), 'ENOTTY');
    expectErrno(() => feat(o, V.VFIO_DEVICE_FEATURE_SET | V.VFIO_DEVICE_FEATURE_DMA_LOGGING_START), 'ENOTTY');
    expectErrno(() => feat(o, V.VFIO_DEVICE_FEATURE_SET | V.VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, 24, 16), 'ENOTTY');
    expectErrno(() => feat(o, V.VFIO_DEVICE_FEATURE_GET | 99), 'ENOTTY');
  });

  it('LOW_POWER_ENTRY: PROBE of SET → 0; GET → EINVAL (vfio_check_feature); SET zaps mmaps until an access wakes it', () => {
    const o = openDevice();
    expect(feat(o, V.VFIO_DEVICE_FEATURE_PROBE | V.VFIO_DEVICE_FEATURE_SET | V.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY)).toBe(0);
    expectErrno(() => feat(o, V.VFIO_DEVICE_FEATURE_GET | V.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY), 'EINVAL');
    const m = o.p.mmap(null, 0x1000, 3, 1, o.device, 0);
    feat(o, V.VFIO_DEVICE_FEATURE_SET | V.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
    expect(() => m.read32(0)).toThrow(/SIGBUS/);
    feat(o, V.VFIO_DEVICE_FEATURE_SET | V.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT);
    expect(m.read32(0)).toBe(0x010000ed);
  });
});

describe('last close (vfio_pci_core_disable)', () => {
  it('restores the configuration saved at open, after a reset when one works, and stops bus mastering', () => {
    const { host, p, device } = openDevice(NIC, GROUP.nic);
    const hw = host.control.pci.device(NIC);
    const bar0 = hw.barAddress(0);
    const b = new Uint8Array(2);
    p.pread(device, b, REGION(7) + 4);
    p.pwrite(device, new Uint8Array([b[0]! | 4, b[1]!]), REGION(7) + 4); // bus master on
    hw.barWrite(0, 0, 4, 0x55);
    const resets = hw.resets;
    p.close(device);
    expect(hw.resets).toBe(resets + 1);
    expect(hw.barAddress(0)).toBe(bar0);
    expect(hw.command & 0x4).toBe(0);
    expect(hw.command & 0x2).toBe(0x2); // Memory Space as saved at open (pci_enable_device)
    expect(hw.barRead(0, 0, 4)).toBe(0);
  });
});
