// How the tracer prints iommufd and VFIO cdev ioctls, compared with this machine's strace 6.1: it knows no
// iommufd ioctl (iommufd is newer), so they print as unknown ioctls, `_IOC(_IOC_NONE, 0x3b, 0x80, 0)`
// (each field %#x: 0, not 0x0), and it names the cdev ioctls 0x3b76-0x3b78 after the SPAPR container ioctls
// that share their numbers, printing the pointer. A C program issues each number on a closed fd; only the
// request part is compared (the argument is an address in C and the struct's bytes in the model).
import { describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COracle, STRACE, oracleSkip } from '../../../support/c-oracle.js';
import { formatSyscall } from '../../../../src/linux/trace/strace.js';
import type { SyscallEvent } from '../../../../src/sim/trace.js';
import { VFIO_DEVICE_IOCTLS } from '../../../../src/linux/trace/decoders/vfio.js';
import { IOMMUFD_IOCTLS } from '../../../../src/linux/trace/decoders/iommufd.js';
import { Host } from '../../../../src/host.js';
import { I, V, attach, ioasAlloc, openCdev, bind } from './support.js';
import { O_RDWR } from '../../../../include-ts/linux/fcntl.js';

const REQUESTS: Array<[kind: string, req: number]> = [
  ['iommufd', I.IOMMU_DESTROY],
  ['iommufd', I.IOMMU_IOAS_ALLOC],
  ['iommufd', I.IOMMU_IOAS_ALLOW_IOVAS],
  ['iommufd', I.IOMMU_IOAS_COPY],
  ['iommufd', I.IOMMU_IOAS_IOVA_RANGES],
  ['iommufd', I.IOMMU_IOAS_MAP],
  ['iommufd', I.IOMMU_IOAS_UNMAP],
  ['iommufd', I.IOMMU_OPTION],
  ['iommufd', I.IOMMU_VFIO_IOAS],
  ['iommufd', I.IOMMU_GET_HW_INFO],
  ['vfio-device', V.VFIO_DEVICE_BIND_IOMMUFD],
  ['vfio-device', V.VFIO_DEVICE_ATTACH_IOMMUFD_PT],
  ['vfio-device', V.VFIO_DEVICE_DETACH_IOMMUFD_PT],
];

function modelLine(kind: string, req: number): string {
  const ev: SyscallEvent = { type: 'syscall', t: 0, pid: 1, syscall: 'ioctl', fd: 99, fileKind: kind, args: [99, req], request: req, argValue: 0x7ffc0000, ret: -1, errno: 9 };
  return formatSyscall(ev, new Map([['vfio-device', VFIO_DEVICE_IOCTLS], ['iommufd', IOMMUFD_IOCTLS]]));
}

describe('strace output for the iommufd and VFIO cdev ioctls', () => {
  it('names as the model prints them', () => {
    expect(modelLine('iommufd', I.IOMMU_IOAS_MAP)).toMatch(/^ioctl\(99, _IOC\(_IOC_NONE, 0x3b, 0x85, 0\), 0x7ffc0000\) = -1 EBADF/);
    expect(modelLine('vfio-device', V.VFIO_DEVICE_BIND_IOMMUFD)).toMatch(/^ioctl\(99, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, 0x7ffc0000\)/);
  });

  it('the request names match this machine\'s strace 6.1', () => {
    if (oracleSkip('iommufd strace names', [], true) || !STRACE) return;
    const src = `#include <sys/ioctl.h>\nint main(void) { char b[64] = {0};\n${REQUESTS.map(([, r]) => `  ioctl(99, 0x${r.toString(16)}u, b);`).join('\n')}\n  return 0; }\n`;
    const path = writeSource(src);
    const tmp = new COracle(path);
    rmSync(path);
    try {
      const lines = tmp.strace(['-e', 'trace=ioctl']).trace.trim().split('\n').filter((l) => l.startsWith('ioctl(99'));
      expect(lines.length).toBe(REQUESTS.length);
      REQUESTS.forEach(([kind, req], i) => {
        const name = (l: string) => l.slice(0, l.lastIndexOf(', 0x'));
        expect(name(modelLine(kind, req))).toBe(name(lines[i]!));
      });
    } finally {
      tmp.dispose();
    }
  });

  it('a traced QEMU-style sequence prints the cdev and iommufd calls', () => {
    const host = Host.create();
    const lines: string[] = [];
    const p = host.spawn();
    const dev = openCdev(p);
    host.strace((l) => lines.push(l));
    const fd = p.open('/dev/iommu', O_RDWR);
    bind(p, dev, fd);
    const ioas = ioasAlloc(p, fd);
    attach(p, dev, ioas);
    expect(lines.some((l) => /^ioctl\(\d+, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, .*\) = 0$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ioctl\(\d+, _IOC\(_IOC_NONE, 0x3b, 0x81, 0\), .*\) = 0$/.test(l))).toBe(true);
  });

  it('error messages use the C names', () => {
    const host = Host.create();
    const p = host.spawn();
    const dev = openCdev(p);
    const fd = p.open('/dev/iommu', O_RDWR);
    expect(() => p.ioctl(fd, I.IOMMU_IOAS_MAP, new Uint8Array(8))).toThrow(/^IOMMU_IOAS_MAP: EINVAL: /);
    expect(() => p.ioctl(dev, V.VFIO_DEVICE_BIND_IOMMUFD, new Uint8Array(16))).toThrow(/^VFIO_DEVICE_BIND_IOMMUFD: EINVAL: /);
  });
});

let n = 0;
function writeSource(src: string): string {
  const path = join(process.env['TMPDIR'] ?? '/tmp', `iommufd-strace-${process.pid}-${n++}.c`);
  writeFileSync(path, src);
  return path;
}
