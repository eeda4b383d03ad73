// examples/lib/vfio.ts: libvirt's virPCIDeviceBindToStub (src/util/virpci.c) as every example and the
// VFIO tests bind a device: driver_override, unbind only when a driver is bound, drivers_probe; and
// nothing at all when the `driver` link already points to vfio-pci (libvirt returns early, so a device
// a VMM holds open is not unbound under it).
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import type { SyscallEvent } from '../../src/sim/trace.js';
import { bindToVfioPci, openVfioDevice } from '../../examples/lib/vfio.js';
import { EDU, GPU, GROUP } from '../support/vfio.js';

describe('examples/lib/vfio bindToVfioPci', () => {
  const writes = (host: Host, fn: () => void): string[] => {
    const seen: string[] = [];
    const off = host.kernel.trace.on((ev) => {
      if (ev.type === 'syscall' && (ev as SyscallEvent).syscall === 'openat') seen.push(String((ev as SyscallEvent).args[1]));
    });
    try {
      fn();
    } finally {
      off();
    }
    return seen.filter((path) => path.startsWith('/sys/'));
  };

  it('unbinds from the host driver only when the device has one, then probes with the override', () => {
    const host = Host.create();
    const p = host.spawn();
    const sys = (bdf: string) => `/sys/bus/pci/devices/${bdf}`;
    expect(p.readlink(`${sys(GPU)}/driver`)).toMatch(/\/nouveau$/);
    let group = -1;
    expect(writes(host, () => { group = bindToVfioPci(p, GPU); })).toEqual([`${sys(GPU)}/driver_override`, `${sys(GPU)}/driver/unbind`, '/sys/bus/pci/drivers_probe']);
    expect(group).toBe(GROUP.gpu);
    expect(p.readlink(`${sys(GPU)}/driver`)).toMatch(/\/vfio-pci$/);
    // The edu device has no driver: no `driver` link, so nothing to unbind.
    expect(writes(host, () => { group = bindToVfioPci(p, EDU); })).toEqual([`${sys(EDU)}/driver_override`, '/sys/bus/pci/drivers_probe']);
    expect(group).toBe(GROUP.edu);
    expect(p.readlink(`${sys(EDU)}/driver`)).toMatch(/\/vfio-pci$/);
  });

  it('leaves a device already on vfio-pci alone, even while a VMM holds it open', () => {
    const host = Host.create();
    const p = host.spawn();
    const fds = openVfioDevice(p, bindToVfioPci(p, EDU), EDU);
    let group = -1;
    expect(writes(host, () => { group = bindToVfioPci(p, EDU); })).toEqual([]);
    expect(group).toBe(GROUP.edu);
    expect(p.fcntl(fds.device, 1)).toBeGreaterThanOrEqual(0); // the device fd is still open and usable
  });
});
