// lseek(2) (fs/read_write.c ksys_lseek, vfs_llseek, vfs_setpos, generic_file_llseek_size, noop_llseek;
// fs/seq_file.c seq_lseek; fs/libfs.c dcache_dir_lseek; mm/shmem.c shmem_file_llseek; drivers/char/mem.c
// null_lseek). lseek-oracle.c seeks one file of each kind on this machine's kernel, under strace; the
// model does the same, and every result and every strace line (fds aside) must match. VFIO and iommufd
// fds cannot be opened here: the last test checks them against their file_operations (no ->llseek).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { O_CREAT, O_DIRECTORY, O_PATH, O_RDONLY, O_RDWR, O_TRUNC } from '../../../include-ts/linux/fcntl.js';
import * as K from '../../../include-ts/linux/kvm.js';
import { expectSameAsOracle, oracleSkip, resultCode } from '../../support/c-oracle.js';
import { openDevice } from '../../support/vfio.js';

const here = dirname(fileURLToPath(import.meta.url));
const SEEKS: ReadonlyArray<readonly [number, number]> = [[5, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [-1, 0], [100, 1], [0, -1]];
const HOLES: ReadonlyArray<readonly [number, number]> = [[0, 3], [0, 4], [4096, 3], [8192, 4], [8197, 3], [5000, 4], [-1, 2]];

function modelLines(p: Process): string[] {
  const out: string[] = [];
  const seq = (what: string, fd: number, seeks = SEEKS) => out.push(`${what}:${seeks.map(([o, w]) => ` ${resultCode(() => p.lseek(fd, o, w))}`).join('')}`);
  const kvm = p.open('/dev/kvm', O_RDWR);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  const vcpu = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  const stats = p.ioctl(vm, K.KVM_GET_STATS_FD, 0);
  p.read(stats, new Uint8Array(8));
  const [r] = p.pipe();
  const nul = p.open('/dev/null', O_RDWR);
  p.write(nul, new TextEncoder().encode('hello'));
  seq('eventfd', p.eventfd(0, 0));
  seq('epoll', p.epollCreate1(0));
  seq('pipe', r!);
  seq('/dev/kvm', kvm);
  seq('vm', vm);
  seq('vcpu', vcpu);
  seq('vm stats after an 8-byte read', stats);
  seq('/dev/null after a write', nul);
  seq('/dev/zero', p.open('/dev/zero', O_RDONLY));
  seq('sysfs attribute', p.open('/sys/bus/pci/devices/0000:00:00.0/vendor', O_RDONLY));
  seq('procfs file', p.open('/proc/self/limits', O_RDONLY));
  seq('devtmpfs directory', p.open('/dev', O_RDONLY | O_DIRECTORY));
  seq('sysfs directory', p.open('/sys/bus', O_RDONLY | O_DIRECTORY));
  seq('procfs directory', p.open('/proc/self', O_RDONLY | O_DIRECTORY));
  seq('O_PATH', p.open('/dev/null', O_PATH));
  seq('closed fd', 99);
  const t = p.open('/dev/vks-lseek-oracle', O_RDWR | O_CREAT | O_TRUNC, 0o600);
  p.write(t, new TextEncoder().encode('hello'));
  p.pwrite(t, new TextEncoder().encode('world'), 8192);
  seq('tmpfs file', t);
  seq('tmpfs holes', t, HOLES);
  return out;
}

/** lseek lines with the fd left out (the two processes number their fds differently). */
const anyFd = (l: string): string => l.replace(/^lseek\(\d+, /, 'lseek(FD, ').replace(/\s+= /, ' = ');

describe('lseek: the model against this machine\'s kernel', () => {
  const skip = oracleSkip('lseek-oracle', ['root', 'kvm'], true);
  it.skipIf(skip !== undefined)('each file kind answers every seek as the kernel does, and strace prints the calls alike', () => {
    const host = Host.create();
    const p = host.spawn();
    expectSameAsOracle(join(here, 'lseek-oracle.c'), host, () => modelLines(p), ['-e', 'trace=lseek'], (lines) => lines.filter((l) => l.startsWith('lseek(')).map(anyFd));
  });
});

describe('lseek: file types this machine cannot show', () => {
  it('VFIO container, group and device fds and /dev/iommu have no ->llseek: ESPIPE (vfio_fops, vfio_group_fops, vfio_device_fops, iommufd_fops)', () => {
    const { p, container, group, device } = openDevice();
    for (const fd of [container, group, device, p.open('/dev/iommu', O_RDWR)]) expect(resultCode(() => p.lseek(fd, 0, 0))).toBe('E29');
  });

  it('read/write on /dev/null and /dev/zero leave f_pos at 0, as fdinfo shows (measured: "pos:\t0" after writing 5 bytes, reading 7)', () => {
    const p = Host.create().spawn();
    const n = p.open('/dev/null', O_RDWR);
    p.write(n, new Uint8Array(5));
    const z = p.open('/dev/zero', O_RDWR);
    p.read(z, new Uint8Array(7));
    p.write(z, new Uint8Array(3));
    for (const fd of [n, z]) {
      const info = p.open(`/proc/self/fdinfo/${fd}`, O_RDONLY);
      const b = new Uint8Array(64);
      const got = p.read(info, b);
      expect(new TextDecoder().decode(b.subarray(0, got)).split('\n')[0]).toBe('pos:\t0');
    }
  });

  it('a seek moves the position read() continues from, on a tmpfs file and a sysfs attribute', () => {
    const p = Host.create().spawn();
    const t = p.open('/dev/x', O_RDWR | O_CREAT, 0o600);
    p.write(t, new TextEncoder().encode('abcdef'));
    expect(p.lseek(t, 2, 0)).toBe(2);
    const b = new Uint8Array(3);
    expect(p.read(t, b)).toBe(3);
    expect(new TextDecoder().decode(b)).toBe('cde');
    const v = p.open('/sys/bus/pci/devices/0000:00:03.0/vendor', O_RDONLY);
    expect(p.lseek(v, 2, 0)).toBe(2);
    const w = new Uint8Array(4);
    p.read(v, w);
    expect(new TextDecoder().decode(w)).toBe('1234');
  });
});
