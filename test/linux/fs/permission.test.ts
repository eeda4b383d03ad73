// File permission rules one at a time (the same rules are compared with this machine's kernel in
// permission-oracle.test.ts): fs/namei.c generic_permission(), acl_permission_check(), may_lookup();
// fs/attr.c setattr_prepare(), chown_ok(), chgrp_ok(), setattr_copy(), notify_change(); fs/open.c
// chown_common(), chmod_common(); fs/proc/base.c proc_setattr(), fs/proc/fd.c proc_fd_permission();
// fs/anon_inodes.c anon_inode_setattr(); drivers/vfio/group.c's node under devtmpfs and udev.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { StaticDir } from '../../../src/linux/fs/vfs.js';
import { genericPermission, MAY_EXEC, MAY_READ, MAY_WRITE, type InodeAttrs } from '../../../src/linux/fs/namei.js';
import type { Cred } from '../../../src/linux/cred.js';
import { O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from '../../../include-ts/linux/fcntl.js';
import { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_SETGID } from '../../../include-ts/linux/capability.js';
import { EDU, GROUP, bindVfio, expectErrno } from '../../support/vfio.js';

const cap = (...caps: number[]): bigint => caps.reduce((s, c) => s | (1n << BigInt(c)), 0n);
const cred = (uid: number, gid: number, caps: bigint = 0n, groups: number[] = []): Cred => ({
  uid, gid, groups, capable: (c) => ((caps >> BigInt(c)) & 1n) === 1n,
});
const file = (mode: number, uid = 1000, gid = 2000): InodeAttrs => ({ type: 'reg', mode, uid, gid });
const dir = (mode: number, uid = 1000, gid = 2000): InodeAttrs => ({ type: 'dir', mode, uid, gid });

describe('generic_permission (fs/namei.c)', () => {
  it('the owner gets the owner\'s bits only, even when group or others have more', () => {
    expect(genericPermission(cred(1000, 1), file(0o077), MAY_READ)).toBe(false);
    expect(genericPermission(cred(1000, 1), file(0o400), MAY_READ)).toBe(true);
    expect(genericPermission(cred(1000, 1), file(0o400), MAY_READ | MAY_WRITE)).toBe(false);
  });

  it('a member of the group (fsgid or supplementary) gets the group\'s bits, others the others\'', () => {
    expect(genericPermission(cred(1, 2000), file(0o604), MAY_READ)).toBe(false);
    expect(genericPermission(cred(1, 5, 0n, [2000]), file(0o060), MAY_WRITE)).toBe(true);
    expect(genericPermission(cred(1, 5), file(0o064), MAY_READ)).toBe(true);
    expect(genericPermission(cred(1, 5), file(0o064), MAY_WRITE)).toBe(false);
  });

  it('CAP_DAC_OVERRIDE: read and write anything; execute a file only if some x bit is set; anything on a directory', () => {
    const c = cred(0, 0, cap(CAP_DAC_OVERRIDE));
    expect(genericPermission(c, file(0o000), MAY_READ | MAY_WRITE)).toBe(true);
    expect(genericPermission(c, file(0o600), MAY_EXEC)).toBe(false);
    expect(genericPermission(c, file(0o001), MAY_EXEC)).toBe(true);
    expect(genericPermission(c, dir(0o000), MAY_WRITE | MAY_EXEC)).toBe(true);
  });

  it('CAP_DAC_READ_SEARCH: read a file (not write it); read and search a directory (not write it)', () => {
    const c = cred(65534, 65534, cap(CAP_DAC_READ_SEARCH));
    expect(genericPermission(c, file(0o000), MAY_READ)).toBe(true);
    expect(genericPermission(c, file(0o000), MAY_READ | MAY_WRITE)).toBe(false);
    expect(genericPermission(c, file(0o000), MAY_EXEC)).toBe(false);
    expect(genericPermission(c, dir(0o000), MAY_READ | MAY_EXEC)).toBe(true);
    expect(genericPermission(c, dir(0o000), MAY_WRITE | MAY_EXEC)).toBe(false);
  });

  it('uid 0 without capabilities is an ordinary owner or other', () => {
    expect(genericPermission(cred(0, 0), file(0o600, 1000, 1000), MAY_READ)).toBe(false);
    expect(genericPermission(cred(0, 0), file(0o600, 0, 0), MAY_READ)).toBe(true);
  });
});

/** A host with /t (0755 root) holding a 0700 directory of uid 1000 with a 0644 file in it. */
function tree(): { host: Host; root: Process } {
  const host = Host.create();
  const root = host.spawn({ umask: 0 });
  const t = host.kernel.vfs.mkdirp('/t');
  t.add('priv', new StaticDir(0o700, 1000, 1000));
  root.close(root.open('/t/priv/f', O_WRONLY | O_CREAT, 0o644));
  return { host, root };
}

describe('path walks need search permission on every directory (fs/namei.c may_lookup)', () => {
  it('EACCES for a name under a directory the caller may not search, even a readable file; no fd is installed', () => {
    const { host } = tree();
    const p = host.spawn({ uid: 65534, gid: 65534 });
    const before = p.fds.openFds().length;
    const e = expectErrno(() => p.open('/t/priv/f', O_RDONLY), 'EACCES');
    expect(e.message).toMatch(/search permission on \/t\/priv/);
    expect(p.fds.openFds()).toHaveLength(before);
    // ".." is looked up in the directory too.
    expectErrno(() => p.open('/t/priv/../priv', O_RDONLY), 'EACCES');
    // The owner and CAP_DAC_READ_SEARCH pass.
    host.spawn({ uid: 1000, gid: 1000 }).open('/t/priv/f', O_RDONLY);
    host.spawn({ uid: 65534, gid: 65534, capabilities: cap(CAP_DAC_READ_SEARCH) }).open('/t/priv/f', O_RDONLY);
  });

  it('/proc/<pid>/fd is 0500 and the task\'s: others are refused, the task itself always passes (proc_fd_permission)', () => {
    const host = Host.create();
    const a = host.spawn({ uid: 1000, gid: 1000 });
    const b = host.spawn({ uid: 1001, gid: 1001 });
    const fdDir = host.kernel.vfs.resolve(`/proc/${a.pid}/fd`, a.context).node;
    expect([fdDir.mode, fdDir.uid, fdDir.gid]).toEqual([0o500, 1000, 1000]);
    expect(a.readdir(`/proc/${a.pid}/fd`)).toContain('0');
    expectErrno(() => b.readlink(`/proc/${a.pid}/fd/0`), 'EACCES');
    expectErrno(() => b.readdir(`/proc/${a.pid}/fd`), 'EACCES');
    expect(host.spawn().readlink(`/proc/${a.pid}/fd/0`)).toBe('/dev/null');
    // proc_fd_permission: the task itself even after the directory's owner changed to someone else.
    const root = host.spawn();
    root.chown(`/proc/${a.pid}/fd`, 5, 5);
    expect(a.readdir(`/proc/${a.pid}/fd`)).toContain('0');
  });
});

describe('chown and chmod (fs/open.c, fs/attr.c)', () => {
  it('-1 leaves an id unchanged; the owner may chgrp to a group it is in, only CAP_CHOWN gives a file away', () => {
    const { host, root } = tree();
    root.chown('/t/priv/f', 1000, 1000);
    const u = host.spawn({ uid: 1000, gid: 1000, groups: [2000] });
    u.chown('/t/priv/f', -1, 2000);
    expectErrno(() => u.chown('/t/priv/f', -1, 3000), 'EPERM');
    expectErrno(() => u.chown('/t/priv/f', 1001, -1), 'EPERM');
    const node = host.kernel.vfs.resolve('/t/priv/f', root.context).node;
    expect([node.uid, node.gid]).toEqual([1000, 2000]);
    host.spawn({ uid: 1000, gid: 1000, capabilities: cap(CAP_CHOWN) }).chown('/t/priv/f', 7, -1);
    expect([node.uid, node.gid]).toEqual([7, 2000]);
  });

  it('chown drops S_ISUID whoever asks, and then needs the owner or CAP_FOWNER for that mode change', () => {
    const { host, root } = tree();
    root.chown('/t/priv/f', 1000, 1000);
    root.chmod('/t/priv/f', 0o4755);
    const node = host.kernel.vfs.resolve('/t/priv/f', root.context).node;
    // Root with CAP_CHOWN alone may not: the S_ISUID drop is a mode change of someone else's file.
    expectErrno(() => host.spawn({ capabilities: cap(CAP_CHOWN, CAP_DAC_READ_SEARCH) }).chown('/t/priv/f', 0, -1), 'EPERM');
    expect(node.mode).toBe(0o4755);
    root.chown('/t/priv/f', -1, -1);
    expect(node.mode).toBe(0o755);
  });

  it('chmod needs the owner or CAP_FOWNER; S_ISGID silently goes unless in the group or CAP_FSETID', () => {
    const { host, root } = tree();
    root.chown('/t/priv/f', 1000, 2000);
    const node = host.kernel.vfs.resolve('/t/priv/f', root.context).node;
    expectErrno(() => host.spawn({ uid: 1001, gid: 1001, capabilities: cap(CAP_DAC_READ_SEARCH) }).chmod('/t/priv/f', 0o666), 'EPERM');
    expect(node.mode).toBe(0o644);
    const u = host.spawn({ uid: 1000, gid: 1000 });
    u.chmod('/t/priv/f', 0o2750);
    expect(node.mode).toBe(0o750);
    host.spawn({ uid: 1000, gid: 1000, capabilities: cap(CAP_FSETID) }).chmod('/t/priv/f', 0o2750);
    expect(node.mode).toBe(0o2750);
    host.spawn({ uid: 1, gid: 1, capabilities: cap(CAP_FOWNER, CAP_DAC_READ_SEARCH) }).chmod('/t/priv/f', 0o600);
    expect(node.mode).toBe(0o600);
    // The file type bits of the argument are ignored (chmod_common: mode & S_IALLUGO).
    u.chmod('/t/priv/f', 0o100640);
    expect(node.mode).toBe(0o640);
  });

  it('fchown/fchmod: the open file\'s inode; EBADF for an O_PATH fd, EOPNOTSUPP for anonymous files, a pipe is its creator\'s', () => {
    const { host, root } = tree();
    const fd = root.open('/t/priv/f', O_RDWR);
    root.fchmod(fd, 0o600);
    root.fchown(fd, 1000, -1);
    const node = host.kernel.vfs.resolve('/t/priv/f', root.context).node;
    expect([node.mode, node.uid]).toEqual([0o600, 1000]);
    expectErrno(() => root.fchmod(root.open('/t/priv/f', 0o10000000 /* O_PATH */), 0o600), 'EBADF');
    expectErrno(() => root.fchmod(root.eventfd(0, 0), 0o600), 'EOPNOTSUPP');
    const u = host.spawn({ uid: 1000, gid: 1000 });
    const [r] = u.pipe();
    u.fchmod(r, 0o644);
    expectErrno(() => u.fchown(r, 0, -1), 'EPERM');
  });

  it('/proc/<pid> entries: no mode change (EPERM), an owner change is undone at the next lookup', () => {
    const host = Host.create();
    const root = host.spawn();
    const p = host.spawn({ uid: 1000, gid: 1000 });
    expectErrno(() => root.chmod(`/proc/${p.pid}/limits`, 0o400), 'EPERM');
    expectErrno(() => p.chmod(`/proc/${p.pid}`, 0o500), 'EPERM');
    root.chown(`/proc/${p.pid}/fd`, 5, 5);
    const fdDir = host.kernel.vfs.resolve(`/proc/${p.pid}/fd`, root.context).node;
    expect([fdDir.uid, fdDir.gid]).toEqual([1000, 1000]);
    // A system-wide proc file keeps its change (proc_notify_change).
    root.chmod('/proc/interrupts', 0o400);
    expect(host.kernel.vfs.resolve('/proc/interrupts', root.context).node.mode).toBe(0o400);
    expectErrno(() => p.open('/proc/interrupts', O_RDONLY), 'EACCES');
  });

  it('a failed chown or chmod changes nothing (random owners, modes, callers and requests)', () => {
    const id = fc.constantFrom(0, 1000, 2000, -1);
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0o7777 }), id, id, fc.constantFrom(0, 1000), fc.constantFrom(0, 1000, 2000), fc.bigInt({ min: 0n, max: 31n }),
      fc.oneof(fc.tuple(fc.constant('chown' as const), id, id), fc.tuple(fc.constant('chmod' as const), fc.integer({ min: 0, max: 0o7777 }), fc.constant(0))),
      (mode, fuid, fgid, uid, gid, caps, [op, a, b]) => {
        const host = Host.create();
        const root = host.spawn({ umask: 0 });
        root.close(root.open('/f', O_WRONLY | O_CREAT, mode));
        root.chown('/f', fuid, fgid);
        const node = host.kernel.vfs.resolve('/f', root.context).node;
        const before = [node.mode, node.uid, node.gid];
        const p = host.spawn({ uid, gid, capabilities: caps });
        try {
          if (op === 'chown') p.chown('/f', a, b);
          else p.chmod('/f', a);
        } catch {
          expect([node.mode, node.uid, node.gid]).toEqual(before);
        }
      },
    ), { numRuns: 200 });
  });
});

describe('/dev/vfio/<group>: a devtmpfs node (0600 root) that udev or an administrator chowns', () => {
  it('chown by root lets the user open it; the node goes with the group and comes back as devtmpfs makes it', () => {
    const host = Host.create();
    const root = host.spawn();
    bindVfio(root, EDU);
    const path = `/dev/vfio/${GROUP.edu}`;
    const q = host.spawn({ uid: 107, gid: 107 });
    expectErrno(() => q.open(path, O_RDWR), 'EACCES');
    root.chown(path, 107, 107);
    q.close(q.open(path, O_RDWR));
    // Unbinding removes the group and its node; a new bind makes a fresh root-only one.
    root.writeFile(`/sys/bus/pci/devices/${EDU}/driver/unbind`, EDU);
    bindVfio(root, EDU);
    expectErrno(() => q.open(path, O_RDWR), 'EACCES');
    // A udev rule (the control API) applies now and whenever the node appears again.
    host.control.pci.vfioGroupNode(GROUP.edu, 107, 107, 0o660);
    q.close(q.open(path, O_RDWR));
    const node = host.kernel.vfs.resolve(path, root.context).node;
    expect([node.mode, node.uid, node.gid]).toEqual([0o660, 107, 107]);
    root.writeFile(`/sys/bus/pci/devices/${EDU}/driver/unbind`, EDU);
    bindVfio(root, EDU);
    q.close(q.open(path, O_RDWR));
  });
});

describe('strace lines (strace 6.1 on this machine prints these calls so: permission-oracle.test.ts compares them)', () => {
  it('ids as unsigned with -1 for "unchanged", modes as %#03o of the 16-bit umode_t, errors with their errno', () => {
    const { host, root } = tree();
    const lines: string[] = [];
    const stop = host.strace((l) => lines.push(l));
    root.chown('/t/priv/f', -1, 4294967294);
    root.lchown('/t/priv/f', 0, -1);
    root.chmod('/t/priv/f', 0o104755);
    root.chmod('/t/priv/f', 0);
    const p = host.spawn({ uid: 1, gid: 1 });
    const fd = p.eventfd(0, 0);
    expectErrno(() => p.fchmod(fd, 0o600), 'EOPNOTSUPP');
    expectErrno(() => p.fchown(fd, 1, 1), 'EOPNOTSUPP');
    expectErrno(() => p.chmod('/t/priv/f', 0o644), 'EACCES');
    stop();
    expect(lines.filter((l) => /^[fl]?ch(own|mod)\(/.test(l))).toEqual([
      'chown("/t/priv/f", -1, 4294967294) = 0',
      'lchown("/t/priv/f", 0, -1) = 0',
      'chmod("/t/priv/f", 0104755) = 0',
      'chmod("/t/priv/f", 000) = 0',
      `fchmod(${fd}, 0600) = -1 EOPNOTSUPP (Operation not supported)`,
      `fchown(${fd}, 1, 1) = -1 EOPNOTSUPP (Operation not supported)`,
      'chmod("/t/priv/f", 0644) = -1 EACCES (Permission denied)',
    ]);
  });
});

describe('supplementary groups (kernel/groups.c getgroups, setgroups)', () => {
  it('sorted; EPERM without CAP_SETGID before EINVAL; EINVAL above NGROUPS_MAX or for a short list; EFAULT; traced as strace 6.1 prints them', () => {
    const host = Host.create();
    const p = host.spawn({ uid: 1000, gid: 1000, capabilities: cap(CAP_SETGID) });
    const lines: string[] = [];
    const stop = host.strace((l) => lines.push(l));
    p.setgroups(4, Uint32Array.of(2000, 5, 1000, 5));
    expect(p.getgroups(0, null)).toBe(4);
    const out = new Uint32Array(8);
    expect(p.getgroups(8, out)).toBe(4);
    expect([...out.subarray(0, 4)]).toEqual([5, 5, 1000, 2000]);
    expectErrno(() => p.getgroups(2, out), 'EINVAL');
    expectErrno(() => p.setgroups(70000, out), 'EINVAL');
    expectErrno(() => p.setgroups(2, new Uint32Array(1)), 'EFAULT');
    expect(p.groups).toEqual([5, 5, 1000, 2000]);
    p.setgroups(0, null);
    const q = host.spawn({ uid: 5, gid: 5 });
    expectErrno(() => q.setgroups(70000, out), 'EPERM');
    stop();
    // The same calls under strace on this machine (addresses as 0x0).
    expect(lines).toEqual([
      'setgroups(4, [2000, 5, 1000, 5]) = 0',
      'getgroups(0, NULL) = 4',
      'getgroups(8, [5, 5, 1000, 2000]) = 4',
      'getgroups(2, 0x0) = -1 EINVAL (Invalid argument)',
      'setgroups(70000, 0x0) = -1 EINVAL (Invalid argument)',
      'setgroups(2, 0x0) = -1 EFAULT (Bad address)',
      'setgroups(0, NULL) = 0',
      'setgroups(70000, 0x0) = -1 EPERM (Operation not permitted)',
    ]);
  });

  it('a gid of (gid_t)-1 is EINVAL, read in list order before a short list faults, and the groups stay (groups_from_user: gid_valid)', () => {
    const host = Host.create();
    const p = host.spawn({ uid: 1000, gid: 1000, capabilities: cap(CAP_SETGID) });
    p.setgroups(1, Uint32Array.of(2000));
    expectErrno(() => p.setgroups(3, Uint32Array.of(7, 0xffffffff, 5)), 'EINVAL');
    expectErrno(() => p.setgroups(3, Uint32Array.of(0xffffffff)), 'EINVAL');
    expectErrno(() => p.setgroups(3, Uint32Array.of(7)), 'EFAULT');
    expect(p.groups).toEqual([2000]);
    // 0xfffffffe is a group like any other.
    p.setgroups(1, Uint32Array.of(0xfffffffe));
    expect(p.groups).toEqual([0xfffffffe]);
  });

  it('the new set decides group permission at once', () => {
    const { host, root } = tree();
    root.chown('/t/priv', 0, 2000);
    root.chmod('/t/priv', 0o750);
    const p = host.spawn({ uid: 1000, gid: 1000, capabilities: cap(CAP_SETGID) });
    expectErrno(() => p.open('/t/priv/f', O_RDONLY), 'EACCES');
    p.setgroups(1, Uint32Array.of(2000));
    p.close(p.open('/t/priv/f', O_RDONLY));
  });
});
