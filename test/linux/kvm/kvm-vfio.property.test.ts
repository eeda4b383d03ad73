// Property: the kvm-vfio device's file list against a reference model (virt/kvm/vfio.c kvm_vfio_file_add,
// kvm_vfio_file_del, kvm_vfio_release, kvm_vfio_create; drivers/vfio/vfio_main.c vfio_file_is_valid,
// vfio_file_set_kvm; drivers/vfio/group.c: one open group file at a time). Random sequences of opening
// the VFIO group (/dev/vfio/2), its device cdev and eventfds, dup and close of fds, FILE_ADD and FILE_DEL
// of any fd (open or not), closing the kvm-vfio device and creating it again. After every step: each
// call's errno is the model's (EBADF, EINVAL for a non-VFIO file, EEXIST for an open file already listed,
// ENOENT for one not listed; EBUSY for a second device or for the group while its one open file lives,
// which includes the device's reference to it), the device lists the same open files in the same order,
// and the group knows the VM exactly while its file is listed.
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { resultCode } from '../../support/c-oracle.js';
import { fcParams } from '../../support/runs.js';
import { bindVfio, EDU, GROUP } from '../../support/vfio.js';
import { K } from './helpers.js';
import type { KvmVmFile } from '../../../src/linux/kvm/kvm-main.js';

type Kind = 'group' | 'cdev' | 'eventfd';
const PATH: Record<Kind, string> = { group: `/dev/vfio/${GROUP.edu}`, cdev: '/dev/vfio/devices/vfio0', eventfd: 'anon_inode:[eventfd]' };
const VALID: Record<Kind, boolean> = { group: true, cdev: true, eventfd: false };

/** An open file description in the reference model. */
interface RFile {
  readonly kind: Kind;
  fds: number;
}

/** The reference model: which fd names which file, the device's list, whether the device exists. */
class Model {
  readonly fds = new Map<number, RFile>();
  listed: RFile[] = [];
  device = true;

  /** Lowest free fd: 0-2 are the process's, 3 /dev/kvm, 4 the VM; the device's fd is tracked too. */
  deviceFd = 5;
  lowestFree(): number {
    for (let fd = 3; ; fd++) if (fd !== 3 && fd !== 4 && fd !== this.deviceFd && !this.fds.has(fd)) return fd;
  }

  open(kind: Kind): number {
    const fd = this.lowestFree();
    this.fds.set(fd, { kind, fds: 1 });
    return fd;
  }

  /** The group's one open file is alive while an fd or the device's list holds it. */
  groupBusy(): boolean {
    return [...this.fds.values()].some((f) => f.kind === 'group') || this.listed.some((f) => f.kind === 'group');
  }

  /** The fd `pick` names: one of the open fds (pick modulo their number), or -1: an fd that is not open. */
  fdOf(pick: number): number {
    const open = [...this.fds.keys()].sort((a, b) => a - b);
    return pick >= 0 && open.length ? open[pick % open.length]! : 100;
  }
}

/** The model under test: a process with a VM and its kvm-vfio device; EDU bound to vfio-pci. */
class Real {
  readonly host = Host.create();
  readonly p: Process;
  readonly vm: number;
  dev: number;
  private readonly scratch: { addr: number; bytes: Uint8Array | null };

  constructor() {
    const p = (this.p = this.host.spawn());
    bindVfio(p, EDU);
    p.open('/dev/kvm', O_RDWR);
    this.vm = p.ioctl(3, K.KVM_CREATE_VM, 0);
    this.scratch = p.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    this.dev = this.create();
  }

  private view(): DataView {
    return new DataView(this.scratch.bytes!.buffer, this.scratch.bytes!.byteOffset);
  }

  create(): number {
    const dv = this.view();
    dv.setUint32(0, K.KVM_DEV_TYPE_VFIO, true);
    dv.setUint32(8, 0, true);
    this.p.ioctl(this.vm, K.KVM_CREATE_DEVICE, this.scratch.addr);
    return dv.getUint32(4, true);
  }

  set(attr: number, fd: number): number {
    const dv = this.view();
    dv.setInt32(64, fd, true);
    dv.setUint32(16, 0, true);
    dv.setUint32(20, K.KVM_DEV_VFIO_FILE, true);
    dv.setBigUint64(24, BigInt(attr), true);
    dv.setBigUint64(32, BigInt(this.scratch.addr + 64), true);
    return this.p.ioctl(this.dev, K.KVM_SET_DEVICE_ATTR, this.scratch.addr + 16);
  }
}

function expectEq<T>(what: string, real: T, model: T): void {
  if (JSON.stringify(real) !== JSON.stringify(model)) throw new Error(`${what}: the kernel model gives ${JSON.stringify(real)}, the reference ${JSON.stringify(model)}`);
}

/** The checks every command ends with: the device's list, and the group's VM. */
function checkState(m: Model, r: Real): void {
  const c = r.host.control.kvm.vm(r.p, r.vm);
  expectEq('listed files', c.kvmVfioFiles(), m.listed.map((f) => PATH[f.kind]));
  expectEq('devices', c.devices(), m.device ? ['kvm-vfio'] : []);
  const group = r.host.kernel.vfio.groups.get(GROUP.edu)!;
  const kvm = (r.p.fileOrNull(r.vm) as KvmVmFile).kvm;
  expectEq('group->kvm set', group.kvm === kvm, m.listed.some((f) => f.kind === 'group'));
  expectEq('group file open', group.openedFile !== null, m.groupBusy());
}

type Cmd = fc.Command<Model, Real>;

class Open implements Cmd {
  constructor(readonly kind: Kind) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const expect = this.kind === 'group' && m.groupBusy() ? 'E16' : String(m.lowestFree());
    const got = resultCode(() => (this.kind === 'eventfd' ? r.p.eventfd(0, 0) : r.p.open(PATH[this.kind], O_RDWR)));
    expectEq(`open ${this.kind}`, got, expect);
    if (expect !== 'E16') m.open(this.kind);
    checkState(m, r);
  }
  toString(): string {
    return `open(${this.kind})`;
  }
}

class Dup implements Cmd {
  constructor(readonly pick: number) {}
  check(m: Model): boolean {
    return m.fds.size > 0;
  }
  run(m: Model, r: Real): void {
    const fd = m.fdOf(this.pick);
    const f = m.fds.get(fd)!;
    const nfd = m.lowestFree();
    expectEq(`dup(${fd})`, r.p.dup(fd), nfd);
    f.fds++;
    m.fds.set(nfd, f);
    checkState(m, r);
  }
  toString(): string {
    return `dup(#${this.pick})`;
  }
}

class Close implements Cmd {
  constructor(readonly pick: number) {}
  check(m: Model): boolean {
    return m.fds.size > 0;
  }
  run(m: Model, r: Real): void {
    const fd = m.fdOf(this.pick);
    r.p.close(fd);
    m.fds.get(fd)!.fds--;
    m.fds.delete(fd);
    checkState(m, r);
  }
  toString(): string {
    return `close(#${this.pick})`;
  }
}

class Attr implements Cmd {
  constructor(
    readonly add: boolean,
    readonly pick: number,
  ) {}
  check(m: Model): boolean {
    return m.device;
  }
  run(m: Model, r: Real): void {
    const fd = m.fdOf(this.pick);
    const f = m.fds.get(fd);
    let expect = '0';
    if (!f) expect = 'E9';
    else if (this.add) {
      if (!VALID[f.kind]) expect = 'E22';
      else if (m.listed.includes(f)) expect = 'E17';
      else m.listed.push(f);
    } else if (!m.listed.includes(f)) expect = 'E2';
    else m.listed.splice(m.listed.indexOf(f), 1);
    expectEq(`${this.add ? 'FILE_ADD' : 'FILE_DEL'}(${fd})`, resultCode(() => r.set(this.add ? K.KVM_DEV_VFIO_FILE_ADD : K.KVM_DEV_VFIO_FILE_DEL, fd)), expect);
    checkState(m, r);
  }
  toString(): string {
    return `${this.add ? 'add' : 'del'}(${this.pick < 0 ? 'closed fd' : `#${this.pick}`})`;
  }
}

class CloseDevice implements Cmd {
  check(m: Model): boolean {
    return m.device;
  }
  run(m: Model, r: Real): void {
    r.p.close(r.dev);
    m.device = false;
    m.listed = [];
    m.deviceFd = -1;
    checkState(m, r);
  }
  toString(): string {
    return 'closeDevice';
  }
}

class CreateDevice implements Cmd {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    if (m.device) {
      expectEq('second KVM_CREATE_DEVICE', resultCode(() => r.create()), 'E16');
    } else {
      const fd = m.lowestFree();
      r.dev = r.create();
      expectEq('KVM_CREATE_DEVICE fd', r.dev, fd);
      m.device = true;
      m.deviceFd = fd;
    }
    checkState(m, r);
  }
  toString(): string {
    return 'createDevice';
  }
}

const pick = fc.nat({ max: 6 });
/** Mostly an open fd, sometimes one that is not. */
const attrPick = fc.oneof({ arbitrary: pick, weight: 9 }, { arbitrary: fc.constant(-1), weight: 1 });
const commands = [
  fc.constantFrom<Kind>('group', 'cdev', 'eventfd').map((k) => new Open(k)),
  pick.map((i) => new Dup(i)),
  pick.map((i) => new Close(i)),
  fc.tuple(fc.boolean(), attrPick).map(([a, i]) => new Attr(a, i)),
  fc.tuple(fc.boolean(), attrPick).map(([a, i]) => new Attr(a, i)),
  fc.constant(new CloseDevice()),
  fc.constant(new CreateDevice()),
];

describe('kvm-vfio file list: model-based (virt/kvm/vfio.c)', () => {
  it('ADD/DEL/dup/close/device close and re-create agree with the reference model', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40, size: '+1' }), (cmds) => {
        fc.modelRun(() => ({ model: new Model(), real: new Real() }), cmds);
      }),
      fcParams(150),
    );
  });
});
