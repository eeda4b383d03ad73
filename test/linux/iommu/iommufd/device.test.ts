// The VFIO device cdev and iommufd devices: drivers/vfio/device_cdev.c (vfio_device_fops_cdev_open,
// vfio_df_ioctl_bind_iommufd, vfio_df_ioctl_attach_pt/detach_pt, vfio_df_unbind_iommufd), vfio_main.c
// (vfio_device_fops_unl_ioctl's access_granted check, vfio_df_open), group.c (vfio_device_block_group,
// vfio_group_fops_open), drivers/iommu/iommufd/device.c (iommufd_device_bind/attach/replace/detach,
// iommufd_get_hw_info) and main.c (iommufd_ctx_from_fd). This machine has no IOMMU and no /dev/iommu, so
// there is no real-kernel oracle: each case cites the source it follows.
import { describe, expect, it } from 'vitest';
import { Host } from '../../../../src/host.js';
import { O_RDWR } from '../../../../include-ts/linux/fcntl.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../../include-ts/linux/mman.js';
import { EDU_DMA_BUF_START, EDU_DMA_DIR_TO_RAM, EDU_DMA_NS, EDU_DMA_RUN } from '../../../../src/hw/devices/edu.js';
import { setU32 } from '../../../../abi/bytes.js';
import { EDU, GPU, GPU_AUDIO, GROUP, NIC, REGION, bindVfio, expectErrno } from '../../../support/vfio.js';
import { openVfioDevice } from '../../../../examples/lib/vfio.js';
import { I, V, attach, bind, destroy, detach, ioasAlloc, ioasMap, ioasUnmap, openCdev, openIommufd } from './support.js';

describe('/dev/vfio/devices/vfioN (vfio_device_add, vfio_device_devnode)', () => {
  it('appears when vfio-pci binds a device, N from 0 in bind order (ida: lowest free), with a vfio-dev sysfs entry; goes on unbind', () => {
    const host = Host.create();
    const p = host.spawn();
    expect(p.readdir('/dev/vfio')).not.toContain('devices');
    bindVfio(p, EDU);
    bindVfio(p, NIC);
    expect(p.readdir('/dev/vfio/devices')).toEqual(['vfio0', 'vfio1']);
    expect(p.readdir(`/sys/bus/pci/devices/${EDU}/vfio-dev`)).toEqual(['vfio0']);
    expect(p.readdir(`/sys/bus/pci/devices/${NIC}/vfio-dev`)).toEqual(['vfio1']);
    p.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU);
    expect(p.readdir('/dev/vfio/devices')).toEqual(['vfio1']);
    expect(p.readdir(`/sys/bus/pci/devices/${EDU}`)).not.toContain('vfio-dev');
    bindVfio(p, EDU);
    expect(p.readdir('/dev/vfio/devices')).toEqual(['vfio0', 'vfio1']);
    const q = host.spawn({ uid: 1000, gid: 1000 });
    expectErrno(() => q.open('/dev/vfio/devices/vfio0', O_RDWR), 'EACCES'); // devtmpfs: root 0600
  });

  it('before VFIO_DEVICE_BIND_IOMMUFD every ioctl, read, write and mmap is EINVAL (access_granted)', () => {
    const host = Host.create();
    const p = host.spawn();
    const dev = openCdev(p);
    const info = V.vfio_device_info.encode({ argsz: 20 });
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_GET_INFO, info), 'EINVAL');
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, V.vfio_device_attach_iommufd_pt.encode({ argsz: 12 })), 'EINVAL');
    expectErrno(() => p.pread(dev, new Uint8Array(4), REGION(7)), 'EINVAL');
    expectErrno(() => p.pwrite(dev, new Uint8Array(4), REGION(0)), 'EINVAL');
    expectErrno(() => p.mmap(null, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0), 'EINVAL');
    // After the bind the device fd is an ordinary VFIO device fd.
    bind(p, dev, p.open('/dev/iommu', O_RDWR));
    p.ioctl(dev, V.VFIO_DEVICE_GET_INFO, info);
    expect(V.vfio_device_info.view(info).num_regions).toBe(9);
    expect(p.readlink(`/proc/self/fd/${dev}`)).toBe('/dev/vfio/devices/vfio0');
  });
});

describe('VFIO_DEVICE_BIND_IOMMUFD (vfio_df_ioctl_bind_iommufd)', () => {
  function setup() {
    const host = Host.create();
    const p = host.spawn();
    const dev = openCdev(p);
    const iommufd = p.open('/dev/iommu', O_RDWR);
    return { host, p, dev, iommufd };
  }
  const bindRaw = (f: Partial<{ argsz: number; flags: number; iommufd: number }>) => V.vfio_device_bind_iommufd.encode({ argsz: 16, ...f });

  it('argsz < 16, unknown flags and a negative iommufd are EINVAL; a short buffer EFAULT; E2BIG; the VF token', () => {
    const { p, dev, iommufd } = setup();
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ argsz: 12, iommufd })), 'EINVAL');
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ flags: 2, iommufd })), 'EINVAL');
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ iommufd: -1 })), 'EINVAL');
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, new Uint8Array(2)), 'EFAULT'); // get_user(argsz)
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ iommufd }).subarray(0, 8)), 'EFAULT');
    // copy_struct_from_user(): bytes past the 24-byte struct must be zero.
    const big = new Uint8Array(32);
    big.set(bindRaw({ argsz: 32, iommufd }));
    big[28] = 1;
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, big), 'E2BIG');
    // VFIO_DEVICE_BIND_FLAG_TOKEN (vfio_df_check_token): the UUID is read from token_uuid_ptr (0 in a 16-byte
    // struct: EFAULT), then refused: this device is no SR-IOV PF or VF (vfio_pci_core_match_token_uuid).
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ flags: V.VFIO_DEVICE_BIND_FLAG_TOKEN, iommufd })), 'EFAULT');
    const uuid = p.mmap(null, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const tok = V.vfio_device_bind_iommufd.encode({ argsz: 24, flags: V.VFIO_DEVICE_BIND_FLAG_TOKEN, iommufd, token_uuid_ptr: uuid.addr });
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, tok), 'EINVAL');
    expect(bind(p, dev, iommufd)).toBe(1); // nothing above changed anything
  });

  it('the iommufd: a closed fd is EBADF, another file EBADFD (iommufd_ctx_from_fd)', () => {
    const { p, dev } = setup();
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ iommufd: 99 })), 'EBADF');
    const other = p.open('/dev/vfio/vfio', O_RDWR);
    expectErrno(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ iommufd: other })), 'EBADFD');
  });

  it('a second bind of the fd is EINVAL; a second cdev fd of a bound device is EINVAL (vfio_df_open: open_count)', () => {
    const { p, dev, iommufd } = setup();
    expect(bind(p, dev, iommufd)).toBe(1);
    expectErrno(() => bind(p, dev, iommufd), 'EINVAL');
    const dev2 = p.open('/dev/vfio/devices/vfio0', O_RDWR);
    expectErrno(() => bind(p, dev2, iommufd), 'EINVAL');
    p.close(dev);
    expect(bind(p, dev2, iommufd)).toBe(1); // the devid is free again (the xarray's lowest)
  });

  it('on a group-obtained device fd it is EINVAL (df->group), after the same argument checks', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    const { device } = openVfioDevice(p, GROUP.edu, EDU);
    const iommufd = p.open('/dev/iommu', O_RDWR);
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ argsz: 8, iommufd })), 'EINVAL');
    expectErrno(() => p.ioctl(device, V.VFIO_DEVICE_BIND_IOMMUFD, bindRaw({ iommufd })), 'EINVAL');
  });

  it('DMA ownership is per device: a group with a device bound to a DMA-API driver is EPERM (iommu_device_claim_dma_owner)', () => {
    const host = Host.create();
    const p = host.spawn();
    const dev = openCdev(p, GPU); // its HDMI audio function (same group) stays on snd_hda_intel
    const iommufd = p.open('/dev/iommu', O_RDWR);
    const e = expectErrno(() => bind(p, dev, iommufd), 'EPERM');
    expect(e.message).toMatch(/snd_hda_intel/);
    // Nothing was allocated: with the audio function on vfio-pci too, the bind succeeds with devid 1.
    bindVfio(p, GPU_AUDIO);
    expect(bind(p, dev, iommufd)).toBe(1);
    // The group's other device: the same iommufd may claim it too; another iommufd is EPERM.
    const audio = p.open('/dev/vfio/devices/vfio1', O_RDWR);
    expectErrno(() => bind(p, audio, p.open('/dev/iommu', O_RDWR)), 'EPERM');
    expect(bind(p, audio, iommufd)).toBe(2);
    // Both attach to one IOAS through one HWPT (the group has one domain).
    const ioas = ioasAlloc(p, iommufd);
    expect(attach(p, dev, ioas)).toBe(4);
    expect(attach(p, audio, ioas)).toBe(4);
    const other = ioasAlloc(p, iommufd);
    p.ioctl(audio, V.VFIO_DEVICE_DETACH_IOMMUFD_PT, V.vfio_device_detach_iommufd_pt.encode({ argsz: 8 }));
    expectErrno(() => attach(p, audio, other), 'EINVAL'); // its group is on HWPT 4
  });
});

describe('IOMMU_HWPT_ALLOC: a paging HWPT on an IOAS, as QEMU 9.1+ makes one per device (hw_pagetable.c)', () => {
  type Alloc = Partial<{ size: number; flags: number; dev_id: number; pt_id: number; __reserved: number; data_type: number; data_len: number; fault_id: number }>;
  const alloc = (o: ReturnType<typeof openIommufd>, f: Alloc = {}): number => {
    const b = I.iommu_hwpt_alloc.encode({ size: I.iommu_hwpt_alloc.size, dev_id: o.devid, pt_id: o.ioas, ...f });
    o.p.ioctl(o.iommufd, I.IOMMU_HWPT_ALLOC, b);
    return I.iommu_hwpt_alloc.view(b).out_hwpt_id;
  };

  it('checks in the kernel order and allocates nothing on failure', () => {
    // iommufd_fops_ioctl: size < offsetofend(__reserved) EINVAL. iommufd_hwpt_alloc(): __reserved EOPNOTSUPP;
    // data_type NONE with data_len, or a type without data_len, EINVAL; dev_id ENOENT; a missing pt_id EINVAL.
    // iommufd_hwpt_paging_alloc(): unknown flags, DIRTY_TRACKING without IOMMU_CAP_DIRTY_TRACKING (no ECAP
    // SSADS), EOPNOTSUPP; intel_iommu_domain_alloc_paging_flags(): user data or NEST_PARENT without ECAP
    // NEST, EOPNOTSUPP. FAULT_ID_VALID: iommufd_get_fault() finds no fault object (ENOENT) and the new HWPT
    // is aborted. A HWPT as pt_id is a nested allocation: without data EOPNOTSUPP, on a parent that is
    // not a NEST_PARENT EINVAL. A device id as pt_id EINVAL.
    const o = openIommufd({ attach: false });
    expectErrno(() => alloc(o, { size: 16 }), 'EINVAL');
    expectErrno(() => alloc(o, { __reserved: 1 }), 'EOPNOTSUPP');
    expectErrno(() => alloc(o, { data_len: 8 }), 'EINVAL');
    expectErrno(() => alloc(o, { data_type: I.IOMMU_HWPT_DATA_VTD_S1 }), 'EINVAL');
    expectErrno(() => alloc(o, { dev_id: o.ioas }), 'ENOENT');
    expectErrno(() => alloc(o, { pt_id: 42 }), 'EINVAL');
    expectErrno(() => alloc(o, { pt_id: o.devid }), 'EINVAL');
    expectErrno(() => alloc(o, { flags: 1 << 4 }), 'EOPNOTSUPP');
    expectErrno(() => alloc(o, { flags: I.IOMMU_HWPT_ALLOC_DIRTY_TRACKING }), 'EOPNOTSUPP');
    expectErrno(() => alloc(o, { flags: I.IOMMU_HWPT_ALLOC_NEST_PARENT }), 'EOPNOTSUPP');
    expectErrno(() => alloc(o, { data_type: I.IOMMU_HWPT_DATA_VTD_S1, data_len: 8 }), 'EOPNOTSUPP');
    expectErrno(() => alloc(o, { flags: I.IOMMU_HWPT_FAULT_ID_VALID, fault_id: 9 }), 'ENOENT');
    const hwpt = alloc(o);
    expect(hwpt).toBe(3); // devid 1, ioas 2: every failed allocation gave its id back
    expectErrno(() => alloc(o, { pt_id: hwpt }), 'EOPNOTSUPP');
    expectErrno(() => alloc(o, { pt_id: hwpt, data_type: I.IOMMU_HWPT_DATA_VTD_S1, data_len: 8 }), 'EINVAL');
  });

  it("QEMU's sequence: HWPT_ALLOC, then ATTACH to the HWPT id; the HWPT outlives the detach and IOMMU_DESTROY frees it", () => {
    const o = openIommufd({ attach: false });
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x2000, 0x100000);
    const hwpt = alloc(o);
    expectErrno(() => destroy(o.p, o.iommufd, o.ioas), 'EBUSY'); // the HWPT holds its IOAS
    expect(attach(o.p, o.dev, hwpt)).toBe(hwpt);
    const edu = o.host.control.pci.edu();
    expect(edu.dmaRead(0x100000, new Uint8Array(4))).toBe(true);
    expectErrno(() => destroy(o.p, o.iommufd, hwpt), 'EBUSY');
    // An attach by IOAS id never picks a user-made HWPT (auto_domain only): the device moves to a new one.
    expect(attach(o.p, o.dev, o.ioas)).toBe(hwpt + 1);
    expect(attach(o.p, o.dev, hwpt)).toBe(hwpt); // the automatic HWPT went with its last device
    detach(o.p, o.dev);
    expect(edu.dmaRead(0x100000, new Uint8Array(4))).toBe(false);
    expect(destroy(o.p, o.iommufd, hwpt)).toBe(0);
    expect(destroy(o.p, o.iommufd, o.ioas)).toBe(0);
  });
});

describe('bus reset of devices opened through their cdev (vfio_pci_core.c, 6.5+)', () => {
  const info = (p: ReturnType<Host['spawn']>, dev: number) => {
    const b = new Uint8Array(12 + 16);
    b[0] = b.length;
    p.ioctl(dev, V.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, b);
    const v = V.vfio_pci_hot_reset_info.view(b);
    return { flags: v.flags, devices: v.devices.toArray().map((d) => V.vfio_pci_dependent_device.decode(d.bytes)) };
  };
  const reset = (p: ReturnType<Host['spawn']>, dev: number, fds: number[] = []) => {
    const b = new Uint8Array(12 + 4 * fds.length);
    V.vfio_pci_hot_reset.encode({ argsz: b.length, flags: 0, count: fds.length }, b);
    fds.forEach((fd, i) => new DataView(b.buffer).setInt32(12 + 4 * i, fd, true));
    return p.ioctl(dev, V.VFIO_DEVICE_PCI_HOT_RESET, b);
  };
  /** The GPU (vfio0) bound to a new iommufd as devid 1, its audio function (vfio1) on vfio-pci unbound. */
  const boundGpu = () => {
    const host = Host.create();
    const p = host.spawn();
    const gpu = openCdev(p, GPU);
    bindVfio(p, GPU_AUDIO);
    const iommufd = p.open('/dev/iommu', O_RDWR);
    expect(bind(p, gpu, iommufd)).toBe(1);
    return { host, p, gpu, iommufd };
  };

  it('GET_PCI_HOT_RESET_INFO gives FLAG_DEV_ID(_OWNED) and devids: one bound to this iommufd, DEVID_OWNED for an unbound device of an owned group', () => {
    // vfio_pci_ioctl_get_pci_hot_reset_info() + vfio_pci_fill_devs(): with vfio_device_cdev_opened() the
    // union holds devid from vfio_iommufd_get_dev_id() (the iommufd device id; -ENOENT when the group is
    // owned through iommufd_ctx_has_group(): VFIO_PCI_DEVID_OWNED).
    const { p, gpu, iommufd } = boundGpu();
    const FLAGS = V.VFIO_PCI_HOT_RESET_FLAG_DEV_ID | V.VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
    expect(info(p, gpu)).toEqual({ flags: FLAGS, devices: [
      { group_id: 1, segment: 0, bus: 1, devfn: 0 },
      { group_id: V.VFIO_PCI_DEVID_OWNED, segment: 0, bus: 1, devfn: 1 },
    ] });
    const audio = p.open('/dev/vfio/devices/vfio1', O_RDWR);
    expect(bind(p, audio, iommufd)).toBe(2);
    expect(info(p, audio).devices.map((d) => d.group_id)).toEqual([1, 2]);
  });

  it('PCI_HOT_RESET takes an empty group fd array (count 0) and needs every affected device owned through the iommufd', () => {
    // vfio_pci_ioctl_pci_hot_reset(): !!count == vfio_device_cdev_opened() is EINVAL (group fds are for the
    // group path); vfio_pci_dev_set_hot_reset(dev_set, NULL, ictx): every affected device a VFIO device,
    // each owned (devid > 0 or -ENOENT).
    const { host, p, gpu, iommufd } = boundGpu();
    const port = host.control.pci.device('00:01.0') as unknown as { busResets: number };
    const before = port.busResets;
    expectErrno(() => reset(p, gpu, [iommufd]), 'EINVAL');
    expect(reset(p, gpu)).toBe(0);
    expect(port.busResets).toBe(before + 1);
  });

  it('a device of the reset that is not a VFIO device is DEVID_NOT_OWNED (no FLAG_DEV_ID_OWNED) and makes the reset EINVAL', () => {
    const host = Host.create();
    const p = host.spawn();
    const admin = host.spawn();
    admin.writeFile(`/sys/bus/pci/devices/${GPU_AUDIO}/driver/unbind`, GPU_AUDIO);
    admin.writeFile('/sys/bus/pci/drivers/pci-stub/new_id', '10de 0fbc');
    const gpu = openCdev(p, GPU);
    const iommufd = p.open('/dev/iommu', O_RDWR);
    bind(p, gpu, iommufd);
    expect(info(p, gpu)).toEqual({ flags: V.VFIO_PCI_HOT_RESET_FLAG_DEV_ID, devices: [
      { group_id: 1, segment: 0, bus: 1, devfn: 0 },
      { group_id: V.VFIO_PCI_DEVID_NOT_OWNED >>> 0, segment: 0, bus: 1, devfn: 1 },
    ] });
    expectErrno(() => reset(p, gpu), 'EINVAL');
  });
});

describe('group path and cdev path exclude each other (vfio_device_block_group, vfio_group_fops_open)', () => {
  it('a bound cdev makes the group node EBUSY until the cdev fd closes', () => {
    const o = openIommufd();
    expectErrno(() => o.p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR), 'EBUSY');
    o.p.close(o.dev);
    const g = o.p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR);
    expect(g).toBeGreaterThan(0);
  });

  it('an open group fd makes the cdev bind EBUSY; opening the cdev itself is fine', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    const g = p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR);
    const dev = p.open('/dev/vfio/devices/vfio0', O_RDWR);
    const iommufd = p.open('/dev/iommu', O_RDWR);
    expectErrno(() => bind(p, dev, iommufd), 'EBUSY');
    p.close(g);
    expect(bind(p, dev, iommufd)).toBe(1);
  });

  it('unbinding the driver waits for every cdev fd, bound or not (the registration reference): EINTR for a synchronous writer', () => {
    const host = Host.create();
    const p = host.spawn();
    const dev = openCdev(p);
    expectErrno(() => host.spawn().writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU), 'EINTR');
    p.close(dev);
    host.spawn().writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU);
    expectErrno(() => p.open('/dev/vfio/devices/vfio0', O_RDWR), 'ENOENT');
  });
});

describe('VFIO_DEVICE_ATTACH/DETACH_IOMMUFD_PT and device DMA (iommufd_device_attach/replace/detach)', () => {
  it('argsz and flags: EINVAL; an unknown id ENOENT; a device id EINVAL; pt_id returns the HWPT id', () => {
    const o = openIommufd({ attach: false });
    const raw = (f: Partial<{ argsz: number; flags: number; pt_id: number }>) => V.vfio_device_attach_iommufd_pt.encode({ argsz: 12, ...f });
    expectErrno(() => o.p.ioctl(o.dev, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, raw({ argsz: 8, pt_id: o.ioas })), 'EINVAL');
    expectErrno(() => o.p.ioctl(o.dev, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, raw({ flags: 2, pt_id: o.ioas })), 'EINVAL');
    expectErrno(() => attach(o.p, o.dev, 42), 'ENOENT');
    expectErrno(() => attach(o.p, o.dev, o.devid), 'EINVAL');
    expect(attach(o.p, o.dev, o.ioas)).toBe(3);
    // Attaching again replaces: the same IOAS keeps the same HWPT; a HWPT id attaches to it directly.
    expect(attach(o.p, o.dev, o.ioas)).toBe(3);
    expect(attach(o.p, o.dev, 3)).toBe(3);
    expectErrno(() => o.p.ioctl(o.dev, V.VFIO_DEVICE_DETACH_IOMMUFD_PT, V.vfio_device_detach_iommufd_pt.encode({ argsz: 4 })), 'EINVAL');
    expectErrno(() => o.p.ioctl(o.dev, V.VFIO_DEVICE_DETACH_IOMMUFD_PT, V.vfio_device_detach_iommufd_pt.encode({ argsz: 8, flags: 4 })), 'EINVAL');
  });

  it('the PASID flags: vfio-pci has pasid_attach_ioas/pasid_detach_ioas (6.15+), so no EOPNOTSUPP; argsz must reach pasid', () => {
    // device_cdev.c vfio_df_ioctl_attach_pt()/detach_pt(): with the PASID flag, argsz < offsetofend(pasid)
    // is EINVAL and pasid is copied (EFAULT). iommufd.c vfio_iommufd_physical_pasid_attach_ioas():
    // ida_alloc_range(pasid, pasid) refuses a pasid that is negative as an int (ENOSPC), then
    // iommufd_device_attach(idev, pasid): the pt_id lookup (ENOENT), a device id EINVAL, and no HWPT here is
    // pasid_compat (none comes from IOMMU_HWPT_ALLOC with IOMMU_HWPT_ALLOC_PASID): iommufd_hwpt_pasid_compat()
    // EINVAL. vfio_iommufd_physical_pasid_detach_ioas() of a PASID never attached does nothing: 0.
    const o = openIommufd();
    const at = (f: Partial<{ argsz: number; pt_id: number; pasid: number }>) =>
      o.p.ioctl(o.dev, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, V.vfio_device_attach_iommufd_pt.encode({ argsz: 16, flags: V.VFIO_DEVICE_ATTACH_PASID, pt_id: o.ioas, pasid: 1, ...f }));
    expectErrno(() => at({ argsz: 12 }), 'EINVAL');
    expectErrno(() => o.p.ioctl(o.dev, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, new Uint8Array([16, 0, 0, 0, 1, 0, 0, 0, o.ioas, 0, 0, 0])), 'EFAULT');
    expectErrno(() => at({ pasid: 0x8000_0000 }), 'ENOSPC');
    expectErrno(() => at({ pt_id: 42 }), 'ENOENT');
    expectErrno(() => at({ pt_id: o.devid }), 'EINVAL');
    expectErrno(() => at({}), 'EINVAL');
    expectErrno(() => at({ pt_id: 3 }), 'EINVAL'); // the device's own HWPT
    const dt = (argsz: number) => o.p.ioctl(o.dev, V.VFIO_DEVICE_DETACH_IOMMUFD_PT, V.vfio_device_detach_iommufd_pt.encode({ argsz, flags: V.VFIO_DEVICE_DETACH_PASID, pasid: 1 }));
    expectErrno(() => dt(8), 'EINVAL');
    expect(dt(12)).toBe(0);
    // Nothing changed: the device is still attached to HWPT 3 (a replace with the same IOAS keeps it).
    expect(attach(o.p, o.dev, o.ioas)).toBe(3);
    expectErrno(() => destroy(o.p, o.iommufd, 3), 'EBUSY');
  });

  it('end to end: the edu DMA engine reads and writes the user pages through the IOAS; unmap and detach make it fault', () => {
    const o = openIommufd();
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x2000, 0x100000);
    o.ram.bytes.set([1, 2, 3, 4], 0x1000);
    const reg = (off: number, v: number) => {
      const b = new Uint8Array(4);
      setU32(b, 0, v);
      o.p.pwrite(o.dev, b, REGION(0) + off);
    };
    // RAM (IOVA 0x101000) -> the device's buffer, then the buffer -> RAM (IOVA 0x100010).
    reg(0x80, 0x101000);
    reg(0x88, EDU_DMA_BUF_START);
    reg(0x90, 4);
    reg(0x98, EDU_DMA_RUN);
    o.host.control.advance(EDU_DMA_NS);
    reg(0x80, EDU_DMA_BUF_START);
    reg(0x88, 0x100010);
    reg(0x90, 4);
    reg(0x98, EDU_DMA_RUN | EDU_DMA_DIR_TO_RAM);
    o.host.control.advance(EDU_DMA_NS);
    expect([...o.ram.bytes.subarray(0x10, 0x14)]).toEqual([1, 2, 3, 4]);
    expect(o.host.control.pci.dmaFaults()).toEqual([]);
    const edu = o.host.control.pci.edu();
    expect(ioasUnmap(o.p, o.iommufd, o.ioas, 0x100000, 0x2000)).toBe(0x2000n);
    expect(edu.dmaRead(0x100000, new Uint8Array(1))).toBe(false);
    expect(o.host.control.pci.dmaFaults().at(-1)).toMatchObject({ iova: 0x100000, reason: 'not-mapped' });
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x100000);
    expect(edu.dmaRead(0x100000, new Uint8Array(1))).toBe(true);
    detach(o.p, o.dev);
    expect(edu.dmaRead(0x100000, new Uint8Array(1))).toBe(false);
    expect(o.host.control.pci.dmaFaults().at(-1)).toMatchObject({ reason: 'no-context' }); // the blocking domain
    detach(o.p, o.dev); // not attached: a no-op (vfio_iommufd_physical_detach_ioas)
  });

  it('READABLE only: the device may read but not write', () => {
    const o = openIommufd();
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0, I.IOMMU_IOAS_MAP_FIXED_IOVA | I.IOMMU_IOAS_MAP_READABLE);
    const edu = o.host.control.pci.edu();
    expect(edu.dmaRead(0, new Uint8Array(1))).toBe(true);
    expect(edu.dmaWrite(0, new Uint8Array(1))).toBe(false);
  });

  it('mappings made before the attach are filled into the new domain; replacing with another IOAS moves the device', () => {
    const o = openIommufd({ attach: false });
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x100000);
    const other = ioasAlloc(o.p, o.iommufd);
    ioasMap(o.p, o.iommufd, other, o.ram.addr + 0x1000, 0x1000, 0x200000);
    const edu = o.host.control.pci.edu();
    expect(attach(o.p, o.dev, o.ioas)).toBe(4);
    expect(edu.dmaRead(0x100000, new Uint8Array(1))).toBe(true);
    expect(edu.dmaRead(0x200000, new Uint8Array(1))).toBe(false);
    // Replace (iommufd_device_do_replace): a new automatic HWPT on the other IOAS; the old one, unused, is destroyed.
    expect(attach(o.p, o.dev, other)).toBe(5);
    expect(edu.dmaRead(0x100000, new Uint8Array(1))).toBe(false);
    expect(edu.dmaRead(0x200000, new Uint8Array(1))).toBe(true);
    expectErrno(() => destroy(o.p, o.iommufd, 4), 'ENOENT');
    expect(destroy(o.p, o.iommufd, o.ioas)).toBe(0);
    expectErrno(() => destroy(o.p, o.iommufd, other), 'EBUSY');
  });

  it('closing the device fd detaches and unbinds: the group is back on its default domain and openable', () => {
    const o = openIommufd();
    ioasMap(o.p, o.iommufd, o.ioas, o.ram.addr, 0x1000, 0x100000);
    o.p.close(o.dev);
    expect(destroy(o.p, o.iommufd, o.ioas)).toBe(0); // no HWPT holds it any more
    expectErrno(() => destroy(o.p, o.iommufd, o.devid), 'ENOENT');
    expect(o.host.control.pci.edu().dmaRead(0x100000, new Uint8Array(1))).toBe(false);
  });
});

describe('IOMMU_GET_HW_INFO (iommufd_get_hw_info, intel_iommu_hw_info)', () => {
  function hwInfo(o: ReturnType<typeof openIommufd>, f: Partial<{ flags: number; dev_id: number; data_len: number; data_uptr: number | bigint; in_data_type: number }>) {
    const b = I.iommu_hw_info.encode({ size: I.iommu_hw_info.size, dev_id: o.devid, ...f });
    o.p.ioctl(o.iommufd, I.IOMMU_GET_HW_INFO, b);
    return I.iommu_hw_info.view(b);
  }

  it('reports the VT-d unit: type INTEL_VTD, struct iommu_hw_info_vtd with CAP/ECAP, data_len 24, a longer buffer zero-filled', () => {
    const o = openIommufd({ attach: false });
    o.ram.bytes.fill(0xff, 0, 32);
    const v = hwInfo(o, { data_len: 32, data_uptr: o.ram.addr });
    expect(v.out_data_type).toBe(I.IOMMU_HW_INFO_TYPE_INTEL_VTD);
    expect(v.data_len).toBe(24);
    expect(v.out_capabilities).toBe(0n);
    const vtd = I.iommu_hw_info_vtd.view(o.ram.bytes.subarray(0, 24));
    expect(vtd.flags).toBe(0);
    const unit = o.host.kernel.irq.platform.vtd.units[0]!;
    expect(vtd.cap_reg).toBe(unit.cap);
    expect(vtd.ecap_reg).toBe(unit.ecap);
    expect([...o.ram.bytes.subarray(24, 32)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // data_len 0 is allowed: just the type and the length.
    expect(hwInfo(o, { data_len: 0 }).data_len).toBe(24);
    // A short buffer gets the first bytes only.
    o.ram.bytes.fill(0xff, 0, 32);
    hwInfo(o, { data_len: 4, data_uptr: o.ram.addr });
    expect(o.ram.bytes[4]).toBe(0xff);
  });

  it('unknown flags or __reserved EOPNOTSUPP; a non-device id ENOENT; INPUT_TYPE of another IOMMU EOPNOTSUPP; a bad buffer EFAULT', () => {
    const o = openIommufd({ attach: false });
    expectErrno(() => hwInfo(o, { flags: 2 }), 'EOPNOTSUPP');
    const b = I.iommu_hw_info.encode({ size: I.iommu_hw_info.size, dev_id: o.devid });
    b[I.iommu_hw_info.offsetof('__reserved') + 1] = 1;
    expectErrno(() => o.p.ioctl(o.iommufd, I.IOMMU_GET_HW_INFO, b), 'EOPNOTSUPP');
    expectErrno(() => hwInfo(o, { dev_id: o.ioas }), 'ENOENT');
    expectErrno(() => hwInfo(o, { flags: I.IOMMU_HW_INFO_FLAG_INPUT_TYPE, in_data_type: I.IOMMU_HW_INFO_TYPE_ARM_SMMUV3 }), 'EOPNOTSUPP');
    expect(hwInfo(o, { flags: I.IOMMU_HW_INFO_FLAG_INPUT_TYPE, in_data_type: I.IOMMU_HW_INFO_TYPE_INTEL_VTD }).out_data_type).toBe(I.IOMMU_HW_INFO_TYPE_INTEL_VTD);
    // Without INPUT_TYPE any input type is taken as DEFAULT.
    expect(hwInfo(o, { in_data_type: 7 }).out_data_type).toBe(I.IOMMU_HW_INFO_TYPE_INTEL_VTD);
    expectErrno(() => hwInfo(o, { data_len: 24, data_uptr: 0x1000 }), 'EFAULT');
  });
});
