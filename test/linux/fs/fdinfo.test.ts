// /proc/<pid>/fdinfo/<fd> (fs/proc/fd.c seq_show, proc_fdinfo_instantiate) and each file's
// ->show_fdinfo: fs/eventfd.c eventfd_show_fdinfo, fs/eventpoll.c ep_show_fdinfo, drivers/vfio/
// vfio_main.c vfio_device_show_fdinfo (v6.18). KVM's kvm_vm_fops / kvm_vcpu_fops, pipefifo_fops,
// shmem_file_operations and the VFIO container/group fops have none (measured here for KVM, pipes and
// tmpfs). fdinfo-oracle.c prints this machine's texts for a fixed sequence; the model must print the
// same bytes, except that mount ids, inode and device numbers and eventfd ids (boot- and system-
// dependent) are compared by which of them coincide, and epoll's item lines, which the kernel orders by
// struct file address, as a set.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COracle, oracleSkip } from '../../support/c-oracle.js';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { ANON_INODE_INO } from '../../../src/linux/fs/fdinfo.js';
import { EPOLLET, EPOLLEXCLUSIVE, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDHUP, EPOLL_CLOEXEC, EPOLL_CTL_ADD } from '../../../include-ts/linux/eventpoll.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from '../../../include-ts/linux/eventfd.js';
import { FD_CLOEXEC, F_SETFD, F_SETFL, O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_RDWR, O_TMPFILE } from '../../../include-ts/linux/fcntl.js';
import { KVM_CREATE_VCPU, KVM_CREATE_VM } from '../../../include-ts/linux/kvm.js';
import { EDU, GROUP, expectErrno, openDevice } from '../../support/vfio.js';
import { epollEvent } from './epoll-script.js';

const here = dirname(fileURLToPath(import.meta.url));
const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};
const fdinfo = (p: Process, fd: number): string => p.readFile(`/proc/self/fdinfo/${fd}`);

/** What fdinfo-oracle.c does, on the model; returns the same "== name" + fdinfo text. */
function fdinfoSequence(p: Process): string {
  const add = (ep: number, fd: number, events: number, data: bigint): void => p.epollCtl(ep, EPOLL_CTL_ADD, fd, epollEvent(events, data));
  const e1 = p.eventfd(0, 0);
  p.write(e1, u64(7n));
  const e2 = p.eventfd(5, EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK);
  const e3 = p.eventfd(0, EFD_NONBLOCK);
  p.write(e3, u64(0x123456789abcn));
  const [p0, p1] = p.pipe(O_CLOEXEC);
  p.write(p1, new TextEncoder().encode('abc'));
  const nul = p.open('/dev/null', O_RDWR | O_CLOEXEC);
  const ep = p.epollCreate1(EPOLL_CLOEXEC);
  add(ep, e1, EPOLLIN | EPOLLET, 0x1122334455667788n);
  add(ep, e2, EPOLLOUT | EPOLLONESHOT, 42n);
  add(ep, p0, EPOLLIN, BigInt(p0));
  const d = p.dup(e1);
  add(ep, d, EPOLLIN | EPOLLEXCLUSIVE, 0xffffffffffffffffn);
  add(ep, p1, EPOLLOUT | EPOLLRDHUP, 0n);
  p.epollWait(ep, new Uint8Array(96), 8, 0);
  const ep2 = p.epollCreate(1);
  add(ep2, ep, EPOLLIN, 0n);
  p.fcntl(e1, F_SETFD, FD_CLOEXEC);
  p.fcntl(nul, F_SETFD, 0);
  p.fcntl(e1, F_SETFL, O_NONBLOCK);
  const tmp = p.open('/dev', O_TMPFILE | O_RDWR, 0o600);
  p.write(tmp, new TextEncoder().encode('xyz'));
  const named: [string, number][] = [['e1', e1], ['e2', e2], ['e3', e3], ['p0', p0], ['p1', p1], ['nul', nul], ['ep', ep], ['d', d], ['ep2', ep2], ['tmp', tmp]];
  return named.map(([name, fd]) => `== ${name}\n${fdinfo(p, fd)}`).join('');
}

/**
 * Numbers that depend on the boot or on the rest of the system become labels by first appearance
 * (the same number on the same mount, the same label), and each epoll's item lines are sorted.
 */
function normalise(text: string): string[] {
  const maps = new Map<string, Map<string, string>>();
  const label = (kind: string, v: string): string => {
    let m = maps.get(kind);
    if (!m) maps.set(kind, (m = new Map()));
    if (!m.has(v)) m.set(v, `${kind}${m.size}`);
    return m.get(v)!;
  };
  // Sort each run of tfd lines (by fd: "tfd: %8d" sorts as text), then label.
  const raw = text.split('\n');
  const sorted: string[] = [];
  for (let i = 0; i < raw.length; ) {
    if (!raw[i]!.startsWith('tfd:')) {
      sorted.push(raw[i++]!);
      continue;
    }
    const run: string[] = [];
    while (i < raw.length && raw[i]!.startsWith('tfd:')) run.push(raw[i++]!);
    sorted.push(...run.sort());
  }
  let mnt = '';
  return sorted.map((l) =>
    l.replace(/^(mnt_id:\t)(\d+)$/, (_, k: string, v: string) => k + (mnt = label('M', v)))
      // Inode numbers are per filesystem: only the same number on the same mount is the same inode.
      .replace(/^(ino:\t)(\d+)$/, (_, k: string, v: string) => k + label('I', `${mnt}/${v}`))
      .replace(/^(eventfd-id: )(\d+)$/, (_, k: string, v: string) => k + label('E', v))
      .replace(/ ino:([0-9a-f]+) sdev:([0-9a-f]+)$/, (_, i: string, s: string) => ` ino:${label('J', `${s}/${i}`)} sdev:${label('D', s)}`));
}

const ORACLE_SKIP = oracleSkip('fdinfo', ['root']);

describe('/proc/<pid>/fdinfo: the model against this machine\'s kernel', () => {
  it.skipIf(ORACLE_SKIP !== undefined)('eventfds, pipes, epolls, /dev/null and a tmpfile print the same text', () => {
    const o = new COracle(join(here, 'fdinfo-oracle.c'));
    try {
      const real = o.run();
      const model = fdinfoSequence(Host.create().spawn());
      expect(normalise(model)).toEqual(normalise(real));
    } finally {
      o.dispose();
    }
  });
});

describe('/proc/<pid>/fdinfo rule by rule (fs/proc/fd.c)', () => {
  it('the directory is 0555, its entries 0444, named by the open fds (name_to_int: no leading zeros)', () => {
    const host = Host.create();
    const p = host.spawn();
    const e = p.eventfd(0, 0);
    expect(p.readdir('/proc/self/fdinfo')).toEqual(p.readdir('/proc/self/fd'));
    expect(p.readdir('/proc/self/fdinfo')).toContain(String(e));
    const v = host.kernel.vfs;
    const ctx = { proc: p, kernel: host.kernel, async: false };
    expect(v.resolve(`/proc/${p.pid}/fdinfo`, ctx).node.mode).toBe(0o555);
    expect(v.resolve(`/proc/${p.pid}/fdinfo/${e}`, ctx).node.mode).toBe(0o444);
    expectErrno(() => p.readFile(`/proc/self/fdinfo/0${e}`), 'ENOENT');
    expectErrno(() => p.readFile('/proc/self/fdinfo/99'), 'ENOENT');
    expect(p.readdir('/proc/self')).toEqual(['fd', 'fdinfo', 'limits', 'maps']);
  });

  it('seq_show fails with ENOENT once the fd is closed, even through an fdinfo file opened before', () => {
    const p = Host.create().spawn();
    const e = p.eventfd(0, 0);
    const info = p.open(`/proc/self/fdinfo/${e}`, O_RDONLY);
    p.close(e);
    expectErrno(() => p.read(info, new Uint8Array(256)), 'ENOENT');
  });

  it('flags: f_flags, O_CLOEXEC from the fd table (not the file), O_LARGEFILE only where open() added it', () => {
    const p = Host.create().spawn();
    const e = p.eventfd(0, EFD_CLOEXEC);
    const d = p.dup(e);
    expect(fdinfo(p, e)).toMatch(/^pos:\t0\nflags:\t02000002\n/);
    expect(fdinfo(p, d)).toMatch(/^pos:\t0\nflags:\t02\n/);
    const n = p.open('/dev/null', O_RDONLY);
    expect(fdinfo(p, n)).toMatch(/\nflags:\t0100000\n/);
  });

  it('pos: the file position of a positional file; ino: the tmpfs inode; anon files share one inode', () => {
    const p = Host.create().spawn();
    const t = p.open('/dev', O_TMPFILE | O_RDWR, 0o600);
    p.write(t, new Uint8Array(5));
    expect(fdinfo(p, t)).toMatch(/^pos:\t5\n/);
    const ino = Number(/\nino:\t(\d+)\n/.exec(fdinfo(p, t))![1]);
    expect(p.readlink(`/proc/self/fd/${t}`)).toBe(`/dev/#${ino} (deleted)`);
    const [r] = p.pipe(0);
    expect(p.readlink(`/proc/self/fd/${r}`)).toBe(`pipe:[${/\nino:\t(\d+)\n/.exec(fdinfo(p, r))![1]}]`);
    const ep = p.epollCreate1(0);
    expect(fdinfo(p, ep)).toBe(`pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t${ANON_INODE_INO}\n`);
    // The same path is the same inode every time it is asked.
    const a = p.open('/dev/null', O_RDONLY);
    const b = p.open('/dev/null', O_RDWR);
    expect(fdinfo(p, a).split('\n')[3]).toBe(fdinfo(p, b).split('\n')[3]);
  });

  it('eventfd: eventfd-count is %16llx, eventfd-semaphore 0 or 1', () => {
    const p = Host.create().spawn();
    const e = p.eventfd(1, EFD_SEMAPHORE);
    p.write(e, u64(0xfffffffffffffffdn));
    expect(fdinfo(p, e)).toMatch(/\neventfd-count: fffffffffffffffe\neventfd-id: \d+\neventfd-semaphore: 1\n$/);
  });

  it('epoll: items in rbtree order (by file, then fd), events as stored, the target\'s f_pos', () => {
    const p = Host.create().spawn();
    const ep = p.epollCreate1(0);
    const a = p.eventfd(0, 0);
    const b = p.eventfd(0, 0);
    const s = p.open('/sys/bus/pci/drivers_autoprobe', O_RDONLY);
    expect(p.read(s, new Uint8Array(1))).toBe(1);
    const a2 = p.dup(a);
    // Added newest file first and the dup before the original: the listing is by file, then fd.
    p.epollCtl(ep, EPOLL_CTL_ADD, b, epollEvent(EPOLLIN, 2n));
    p.epollCtl(ep, EPOLL_CTL_ADD, a2, epollEvent(EPOLLIN, 3n));
    p.epollCtl(ep, EPOLL_CTL_ADD, a, epollEvent(EPOLLOUT | EPOLLONESHOT, 1n));
    p.epollCtl(ep, EPOLL_CTL_ADD, s, epollEvent(0, 4n));
    expect(p.epollWait(ep, new Uint8Array(36), 3, 0)).toBe(1);
    const lines = fdinfo(p, ep).split('\n').filter((l) => l.startsWith('tfd:'));
    expect(lines.map((l) => Number(/^tfd: +(\d+)/.exec(l)![1]))).toEqual([a, a2, b, s]);
    expect(lines[0]).toBe(`tfd: ${String(a).padStart(8)} events: 40000000 data:                1  pos:0 ino:${ANON_INODE_INO.toString(16)} sdev:10`);
    // A sysfs attribute read 1 byte into: its f_pos, its kernfs inode, sysfs's device.
    expect(lines[3]).toMatch(new RegExp(`^tfd: +${s} events: +18 data: +4  pos:1 ino:[0-9a-f]+ sdev:16$`));
  });

  it('KVM VM and vCPU fds print only the common lines (kvm_vm_fops, kvm_vcpu_fops: no show_fdinfo)', () => {
    const p = Host.create().spawn();
    const kvm = p.open('/dev/kvm', O_RDWR | O_CLOEXEC);
    const vm = p.ioctl(kvm, KVM_CREATE_VM, 0);
    const vcpu = p.ioctl(vm, KVM_CREATE_VCPU, 0);
    expect(fdinfo(p, vm)).toBe(`pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t${ANON_INODE_INO}\n`);
    expect(fdinfo(p, vcpu)).toBe(`pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t${ANON_INODE_INO}\n`);
    expect(fdinfo(p, kvm)).toMatch(/^pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t\d+\n$/);
  });

  it('a group-obtained VFIO device fd prints vfio-device-syspath (vfio_device_fops is its f_op too); container and group fds print nothing more', () => {
    const o = openDevice(EDU, GROUP.edu);
    const text = fdinfo(o.p, o.device);
    expect(text).toMatch(new RegExp(`^pos:\\t0\\nflags:\\t02000002\\nmnt_id:\\t17\\nino:\\t${ANON_INODE_INO}\\nvfio-device-syspath: /sys/devices/pci0000:00/${EDU}\\n$`));
    const syspath = /vfio-device-syspath: (.*)\n/.exec(text)![1]!;
    expect(o.p.readdir(syspath)).toContain('vendor');
    expect(fdinfo(o.p, o.group)).toMatch(/^pos:\t0\nflags:\t0100002\nmnt_id:\t24\nino:\t\d+\n$/);
    expect(fdinfo(o.p, o.container)).toMatch(/^pos:\t0\nflags:\t0100002\nmnt_id:\t24\nino:\t\d+\n$/);
  });
});
