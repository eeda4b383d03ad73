// Helpers for VFIO tests: a host, a process, binding via sysfs the libvirt way, and the open sequence.
import { expect } from 'vitest';
import { Host } from '../../src/host.js';
import type { Process } from '../../src/linux/process.js';
import { SyscallError } from '../../src/linux/errors.js';
import * as V from '../../include-ts/linux/vfio.js';
// driver_override + unbind + drivers_probe, as libvirt's virPCIDeviceBindToStub does.
import { bindToVfioPci as bindVfio, openVfioDevice, type VfioDevice } from '../../examples/lib/vfio.js';

export { bindVfio };

export { V };

export const EDU = '0000:00:03.0';
export const GPU = '0000:01:00.0';
export const GPU_AUDIO = '0000:01:00.1';
export const NIC = '0000:06:00.0';
export const LEGACY = '0000:00:05.0';
export const PCH_AUDIO = '0000:00:1f.3';

export const GROUP = { edu: 2, legacy: 3, gpu: 1, pch: 6, bridge: 7, nic: 11, dual: 12 } as const;

export interface Opened extends VfioDevice {
  readonly host: Host;
  readonly p: Process;
}

/** The QEMU open sequence up to a device fd (container 3, group 4, device 5 in a fresh process). */
export function openDevice(bdf: string = EDU, groupId: number = GROUP.edu, type: number = V.VFIO_TYPE1v2_IOMMU, host: Host = Host.create()): Opened {
  const p = host.spawn();
  bindVfio(p, bdf);
  return { host, p, ...openVfioDevice(p, groupId, bdf, type) };
}

/** Runs `fn` and returns the SyscallError it throws (fails the test if it does not throw one). */
export function err(fn: () => unknown): SyscallError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyscallError) return e;
    throw e;
  }
  expect.fail('expected the call to fail');
}

export function expectErrno(fn: () => unknown, code: string): SyscallError {
  const e = err(fn);
  expect(e.code, e.message).toBe(code);
  return e;
}

export const REGION = (index: number) => index * 2 ** 40;
