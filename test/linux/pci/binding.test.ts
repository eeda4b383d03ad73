// Driver binding through sysfs, the way libvirt does it (drivers/pci/pci-sysfs.c driver_override,
// drivers/base/driver.c driver_set_override, drivers/base/bus.c bind_store/unbind_store/drivers_probe,
// drivers/base/dd.c really_probe, drivers/pci/pci-driver.c pci_match_device/new_id_store,
// drivers/vfio/pci/vfio_pci_core.c vfio_pci_core_register_device, drivers/vfio/vfio_main.c
// vfio_unregister_group_dev, drivers/iommu/iommu.c iommu_device_use_default_domain).
import { describe, expect, it } from 'vitest';
import { Host } from '../../../src/host.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { EDU, GPU, GPU_AUDIO, GROUP, V, bindVfio, expectErrno } from '../../support/vfio.js';

describe('driver_override (driver_set_override)', () => {
  it('reads (null) when unset; a write sets it up to the newline; "\\n" clears it', () => {
    const p = Host.create().spawn();
    const f = `/sys/bus/pci/devices/${EDU}/driver_override`;
    expect(p.readFile(f)).toBe('(null)\n');
    p.writeFile(f, 'vfio-pci\n');
    expect(p.readFile(f)).toBe('vfio-pci\n');
    p.writeFile(f, '\n');
    expect(p.readFile(f)).toBe('(null)\n');
  });

  it('a value of PAGE_SIZE - 1 bytes or more is EINVAL', () => {
    const p = Host.create().spawn();
    expectErrno(() => p.writeFile(`/sys/bus/pci/devices/${EDU}/driver_override`, 'x'.repeat(4095)), 'EINVAL');
  });

  it('with an override set, only the named driver may bind (bind to another → ENODEV)', () => {
    const p = Host.create().spawn();
    p.writeFile(`/sys/bus/pci/devices/${EDU}/driver_override`, 'pci-stub');
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', EDU), 'ENODEV');
    p.writeFile('/sys/bus/pci/drivers/pci-stub/bind', EDU);
    expect(p.readlink(`/sys/bus/pci/devices/${EDU}/driver`)).toBe('../../../bus/pci/drivers/pci-stub');
  });
});

describe('bind / unbind / drivers_probe (bus.c)', () => {
  it('vfio-pci matches nothing without an override or new_id: bind → ENODEV', () => {
    const p = Host.create().spawn();
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', EDU), 'ENODEV');
  });

  it('bind of an unknown device name → ENODEV; drivers_probe of one → ENODEV', () => {
    const p = Host.create().spawn();
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', '0000:ff:1f.7'), 'ENODEV');
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers_probe', '0000:ff:1f.7'), 'ENODEV');
  });

  it('binding a device that already has a driver → EBUSY (__driver_probe_device)', () => {
    const p = Host.create().spawn();
    p.writeFile(`/sys/bus/pci/devices/${GPU}/driver_override`, 'vfio-pci');
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', GPU), 'EBUSY');
  });

  it('unbind of a device not bound to that driver → ENODEV', () => {
    const p = Host.create().spawn();
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', GPU), 'ENODEV');
  });

  it('vfio-pci refuses bridges: EINVAL from vfio_pci_core_register_device', () => {
    const p = Host.create().spawn();
    p.writeFile('/sys/bus/pci/devices/0000:00:01.0/driver_override', 'vfio-pci');
    p.writeFile('/sys/bus/pci/drivers/pcieport/unbind', '0000:00:01.0');
    const e = expectErrno(() => p.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:01.0'), 'EINVAL');
    expect(e.reason).toContain('bridge');
  });

  it('new_id adds a dynamic id and binds the unbound devices it matches; an id already matched → EEXIST', () => {
    const p = Host.create().spawn();
    p.writeFile('/sys/bus/pci/drivers/pci-stub/new_id', '1234 11e8');
    expect(p.readlink(`/sys/bus/pci/devices/${EDU}/driver`)).toContain('pci-stub');
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers/pci-stub/new_id', '1234 11e8'), 'EEXIST');
    expectErrno(() => p.writeFile('/sys/bus/pci/drivers/pci-stub/new_id', '1234'), 'EINVAL');
  });

  it('libvirt sequence: override, unbind, drivers_probe → vfio-pci, and /dev/vfio/<group> (and the device cdev dir, 6.6+) appears', () => {
    const p = Host.create().spawn();
    expect(p.readdir('/dev/vfio')).toEqual(['vfio']);
    bindVfio(p, EDU);
    expect(p.readlink(`/sys/bus/pci/devices/${EDU}/driver`)).toBe('../../../bus/pci/drivers/vfio-pci');
    expect(p.readdir('/dev/vfio')).toEqual([String(GROUP.edu), 'devices', 'vfio']);
    expect(p.readdir('/sys/bus/pci/drivers/vfio-pci')).toContain(EDU);
    p.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU);
    expect(p.readdir('/dev/vfio')).toEqual(['vfio']);
    expectErrno(() => p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR), 'ENOENT');
  });
});

describe('DMA ownership across binding (iommu.c)', () => {
  it('while userspace owns the group, a DMA-API driver cannot bind into it: EBUSY', () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, GPU);
    bindVfio(p, GPU_AUDIO);
    const c = p.open('/dev/vfio/vfio', O_RDWR);
    const g = p.open(`/dev/vfio/${GROUP.gpu}`, O_RDWR);
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.writeFile(`/sys/bus/pci/devices/${GPU_AUDIO}/driver_override`, '\n');
    p.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', GPU_AUDIO);
    const e = expectErrno(() => p.writeFile('/sys/bus/pci/drivers/snd_hda_intel/bind', GPU_AUDIO), 'EBUSY');
    expect(e.reason).toContain('group 1');
    // drivers_probe swallows probe errors: success, and the device stays unbound.
    p.writeFile('/sys/bus/pci/drivers_probe', GPU_AUDIO);
    expect(host.control.pci.driver(GPU_AUDIO)).toBeNull();
  });
});

describe('unbinding a device whose fd is open (vfio_unregister_group_dev without a REQ eventfd)', () => {
  it('blocks until userspace closes the device: the sync write fails EINTR, the async one completes after close', async () => {
    const host = Host.create();
    const p = host.spawn();
    bindVfio(p, EDU);
    const c = p.open('/dev/vfio/vfio', O_RDWR);
    const g = p.open(`/dev/vfio/${GROUP.edu}`, O_RDWR);
    p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([c]));
    p.ioctl(c, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
    const d = p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, EDU);
    const admin = host.spawn();
    const e = expectErrno(() => admin.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', EDU), 'EINTR');
    expect(e.reason).toContain('in use by userspace');
    expect(host.control.dmesg().some((l) => l.includes('No device request channel registered, blocked until released by user'))).toBe(true);
    expect(host.control.pci.driver(EDU)).toBe('vfio-pci');
    const fd = admin.open('/sys/bus/pci/drivers/vfio-pci/unbind', 1);
    const pending = admin.writeAsync(fd, new TextEncoder().encode(EDU));
    await new Promise((r) => setImmediate(r));
    expect(host.control.pci.driver(EDU)).toBe('vfio-pci');
    p.close(d);
    await pending;
    expect(host.control.pci.driver(EDU)).toBeNull();
    // The group is gone: the still-open group fd sees ENODEV (vfio_device_remove_group).
    const st = V.vfio_group_status.alloc();
    st.argsz = 8;
    expectErrno(() => p.ioctl(g, V.VFIO_GROUP_GET_STATUS, st), 'ENODEV');
  });
});
