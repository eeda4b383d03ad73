// Property (model-based): the proposed in-kernel MSI-X table against a reference model of the PCI
// MSI-X rules (PCI 3.0 §6.8.2, ../shared/reference/kvm.md §6.2) and the proposal's choices
// (docs/proposals/kvm-msix-table.md). For random sequences of guest mask/unmask writes, table and PBA
// reads (flushes), the Linux mask-then-read pattern, address/data rewrites (each followed by the VMM's
// re-route on KVM_EXIT_MSIX_ENTRY_UPDATED), QWORD rewrite+unmask, device raises through irqfds, irqfd
// moves between GSIs, function mask/enable from config space, pending get/clear from userspace and a
// migration save/restore of the table (state out, table removed and defined again, state in), under a
// seeded interleaving scheduler so accepted messages stay in flight across commands. Raises come from
// eventfd writes, or from the NIC's real MSI-X vectors through VFIO (doorbell -> MSI -> interrupt
// remapping -> host IRQ -> vfio-pci's handler -> eventfd -> irqfd -> the entry), bound with
// VFIO_DEVICE_SET_IRQS exactly as a VMM does:
//   - every raise is delivered once or kept pending until unmask: for each entry, messages that
//     reached the LAPIC + messages in flight = messages the model accepted;
//   - after a mask write followed by a read, nothing more reaches the guest for that entry until it is
//     unmasked, and the read left nothing of the table in flight;
//   - the PBA equals the model's set of masked entries with undelivered raises, and only masked
//     (blocked) entries are pending;
//   - every delivery uses one of the entry's vectors (its GSI's route), and no message is accepted
//     while the entry's route disagrees with its data (the hold until the VMM handled the exit);
//   - with VFIO, masking stays virtual: the NIC's own vectors are never masked, its PBA stays empty.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { efd, irqfd, setRoutes, signal, vmm, type Route, type Vmm } from '../helpers.js';
import { CMD, bindGsi, defineTable, enableApic, getState, msiAddress, msiData, MsixDriver, msixGuest, P, pendingBits, removeTable, setCtrl, setEntry, setState } from './helpers.js';
import type { IrqEvent } from '../../../../src/sim/trace.js';
import { fcParams } from '../../../support/runs.js';
import { GROUP, NIC, V, bindVfio } from '../../../support/vfio.js';
import type { Process } from '../../../../src/linux/process.js';
import { O_RDWR } from '../../../../include-ts/linux/fcntl.js';
import { EVENTFD, MSIX, TRIGGER, setIrqs } from '../../../support/irqs.js';

type Source = 'eventfd' | 'vfio';

/** The QEMU open sequence in `p` (the VMM's own process: its eventfds go to VFIO and to KVM). */
function openIn(p: Process, bdf: string, group: number): number {
  bindVfio(p, bdf);
  const container = p.open('/dev/vfio/vfio', O_RDWR);
  const g = p.open(`/dev/vfio/${group}`, O_RDWR);
  p.ioctl(g, V.VFIO_GROUP_SET_CONTAINER, new Int32Array([container]));
  p.ioctl(container, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU);
  return p.ioctl(g, V.VFIO_GROUP_GET_DEVICE_FD, bdf);
}

const NR = 3;
const GSI0 = 40;
const vecA = (e: number) => 0x50 + e;
const vecB = (e: number) => 0x60 + e;
const VECTORS = [0, 1, 2].flatMap((e) => [vecA(e), vecB(e)]);

class Model {
  readonly masked = [true, true, true];
  readonly pending = [false, false, false];
  readonly accepted = [0, 0, 0];
  /** The vector the entry's data names (the VMM keeps the GSI route equal to it). */
  readonly vec = [0, 1, 2].map(vecA);
  /** Which entry each eventfd feeds. */
  readonly fdEntry = [0, 1, 2];
  enabled = true;
  maskall = false;
  /** LAPIC arrivals of the entry when its mask write was flushed by a read (-1: not flushed-masked). */
  readonly flushedAt = [-1, -1, -1];

  blocked(e: number): boolean {
    return !this.enabled || this.maskall || this.masked[e]!;
  }

  raise(e: number): void {
    if (this.blocked(e)) this.pending[e] = true;
    else this.accepted[e]!++;
  }

  unblockCheck(e: number): void {
    if (this.pending[e] && !this.blocked(e)) {
      this.pending[e] = false;
      this.accepted[e]!++;
    }
  }

  unmask(e: number): void {
    this.masked[e] = false;
    this.flushedAt[e] = -1;
    this.unblockCheck(e);
  }
}

class Real {
  readonly v: Vmm;
  readonly drv: MsixDriver;
  readonly fds: number[] = [];
  readonly fdGsi = [GSI0, GSI0 + 1, GSI0 + 2];
  readonly routes: Route[] = [];
  /** LAPIC acceptances per vector (trace 'lapic-irr'). */
  readonly arrivals = new Uint32Array(256);
  /** Deliveries with a vector that is not one of the entry's. */
  readonly strays: number[] = [];
  /** Messages accepted while the entry's route was stale (the VMM had not handled the exit yet). */
  readonly stale: string[] = [];

  constructor(seed: number, lazy: number, readonly source: Source) {
    this.v = vmm({ host: { seed, policy: 'interleave', preset: source === 'vfio' ? 'default' : 'empty' } });
    const v = this.v;
    // A busy host: at a scheduling point the interleaving scheduler runs nothing with probability
    // `lazy` (else its seeded choice), so accepted messages stay in flight across guest instructions,
    // syscalls and commands until a read, an ioctl on the table or settling flushes them.
    const rng = v.host.sched.rng;
    const pick = rng.int.bind(rng);
    let x = seed >>> 0 || 1;
    rng.int = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32 < lazy ? 0 : pick(n);
    };
    enableApic(v);
    defineTable(v.p, v.vm, { nr: NR, flags: P.KVM_MSIX_CTRL_ENABLE });
    for (let e = 0; e < NR; e++) {
      setEntry(v.p, v.vm, 1, e, { lo: msiAddress(0), data: msiData(vecA(e)), ctrl: 1 });
      this.routes.push({ gsi: GSI0 + e, msi: { lo: msiAddress(0), data: msiData(vecA(e)) } });
    }
    setRoutes(v.p, v.vm, this.routes);
    for (let e = 0; e < NR; e++) this.fds.push(efd(v.p));
    if (source === 'vfio') {
      // The NIC's first NR MSI-X vectors, enabled through VFIO with these eventfds as triggers.
      setIrqs(v.p, openIn(v.p, NIC, GROUP.nic), MSIX, EVENTFD | TRIGGER, 0, NR, this.fds);
    }
    for (let e = 0; e < NR; e++) {
      irqfd(v.p, v.vm, this.fds[e]!, GSI0 + e);
      bindGsi(v.p, v.vm, 1, e, GSI0 + e);
    }
    v.host.trace.on((ev) => {
      if (ev.type !== 'irq') return;
      const irq = ev as IrqEvent;
      if (irq.hop === 'msi-send' && irq.at.includes('msix table')) {
        // A message is accepted only while the entry's GSI route says what the entry says.
        const e = Number(irq.at.match(/entry (\d+)/)![1]);
        const routed = this.routes[e]!.msi!.data & 0xff;
        const data = this.table.entry(e).data & 0xff;
        if (routed !== data) this.stale.push(`entry ${e}: accepted with data vector 0x${data.toString(16)} while its route says 0x${routed.toString(16)}`);
      }
      if (irq.hop !== 'lapic-irr') return;
      const vec = irq.vector!;
      this.arrivals[vec]!++;
      if (!VECTORS.includes(vec)) this.strays.push(vec);
    });
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, msixGuest(VECTORS));
    this.drv = new MsixDriver(v);
    // The VMM's half of the proposal: an entry's address/data changed, re-route its GSI.
    this.drv.onUpdate = (u) => {
      this.routes[u.entryId] = { gsi: GSI0 + u.entryId, msi: { lo: u.lo, hi: u.hi, data: u.data } };
      setRoutes(v.p, v.vm, this.routes);
    };
  }

  get table() {
    return this.v.host.control.kvm.vm(this.v.p, this.v.vm).msixTable(1);
  }

  arrived(e: number): number {
    return this.arrivals[vecA(e)]! + this.arrivals[vecB(e)]!;
  }
}

function check(m: Model, r: Real, what: string): void {
  const t = r.table;
  expect(r.strays, `${what}: deliveries on vectors no entry names`).toEqual([]);
  // Masking is virtual: the physical vectors stay unmasked and nothing waits in the device's PBA.
  if (r.source === 'vfio') expect(r.v.host.control.irq.pba(NIC), `${what}: the NIC's own PBA`).toEqual([]);
  expect(r.stale, `${what}: messages sent through a route the VMM had not updated`).toEqual([]);
  for (let e = 0; e < NR; e++) {
    const x = t.entry(e);
    expect(r.arrived(e) + x.inflight, `${what}: entry ${e}: arrived ${r.arrived(e)} + in flight ${x.inflight} vs accepted ${m.accepted[e]}`).toBe(m.accepted[e]);
    expect(x.pending, `${what}: entry ${e} pending bit`).toBe(m.pending[e]);
    expect(x.masked, `${what}: entry ${e} mask bit`).toBe(m.masked[e]);
    if (m.pending[e]) expect(m.blocked(e), `${what}: entry ${e} pending but not masked`).toBe(true);
    if (m.flushedAt[e] >= 0) expect(r.arrived(e), `${what}: entry ${e} received a message after its mask write was flushed by a read`).toBe(m.flushedAt[e]);
    expect(x.data & 0xff, `${what}: entry ${e} data`).toBe(m.vec[e]);
  }
}

type Cmd = fc.Command<Model, Real>;

abstract class Base implements Cmd {
  abstract toString(): string;
  check(_m: Readonly<Model>): boolean {
    return true;
  }
  abstract apply(m: Model, r: Real): void;
  run(m: Model, r: Real): void {
    this.apply(m, r);
    check(m, r, this.toString());
  }
}

class Raise extends Base {
  constructor(readonly fd: number) {
    super();
  }
  apply(m: Model, r: Real): void {
    m.raise(m.fdEntry[this.fd]!);
    // The device raises vector `fd`: a VFIO MSI-X vector (doorbell -> MSI -> host IRQ -> vfio-pci's
    // handler -> eventfd), or a write to the eventfd.
    if (r.source === 'vfio') r.v.host.control.pci.ring(this.fd);
    else signal(r.v.p, r.fds[this.fd]!);
  }
  toString(): string {
    return `raise(fd${this.fd})`;
  }
}

class GuestMask extends Base {
  constructor(readonly e: number, readonly masked: boolean) {
    super();
  }
  apply(m: Model, r: Real): void {
    if (this.masked) m.masked[this.e] = true;
    else m.unmask(this.e);
    r.drv.exec(this.masked ? CMD.MASK : CMD.UNMASK, this.e);
  }
  toString(): string {
    return `guest.${this.masked ? 'mask' : 'unmask'}(${this.e})`;
  }
}

/** A table read (READ), Linux's mask-then-read (MASK_READ), or a PBA read: each flushes the table. */
class GuestRead extends Base {
  constructor(readonly e: number, readonly kind: 'read' | 'mask+read' | 'pba') {
    super();
  }
  apply(m: Model, r: Real): void {
    if (this.kind === 'mask+read') m.masked[this.e] = true;
    r.drv.exec(this.kind === 'read' ? CMD.READ : this.kind === 'pba' ? CMD.READ_PBA : CMD.MASK_READ, this.kind === 'pba' ? 0 : this.e);
    // The read flushed everything the table had in flight.
    expect(r.table.inflight, `${this}: in flight after a read`).toBe(0);
    for (let e = 0; e < NR; e++) if (m.masked[e] && m.flushedAt[e] < 0) m.flushedAt[e] = r.arrived(e);
    if (this.kind === 'pba') expect(r.drv.lastRead, `${this}: PBA dword`).toBe(m.pending.reduce((a, p, i) => a | (p ? 1 << i : 0), 0));
    if (this.kind !== 'pba') expect(r.drv.lastRead, `${this}: vector control read back`).toBe(m.masked[this.e] ? 1 : 0);
  }
  toString(): string {
    return `guest.${this.kind}(${this.e})`;
  }
}

/** The guest rewrites an entry's data (vector A or B); with `unmask`, as one QWORD that also unmasks. */
class GuestData extends Base {
  constructor(readonly e: number, readonly b: boolean, readonly unmask: boolean) {
    super();
  }
  apply(m: Model, r: Real): void {
    const vec = this.b ? vecB(this.e) : vecA(this.e);
    const before = r.drv.updates.length;
    m.vec[this.e] = vec;
    if (this.unmask) m.unmask(this.e);
    const changed = r.table.entry(this.e).data !== msiData(vec);
    r.drv.exec(this.unmask ? CMD.DATA_UNMASK_QWORD : CMD.WRITE_DATA, this.e, msiData(vec));
    expect(r.drv.updates.length - before, `${this}: KVM_EXIT_MSIX_ENTRY_UPDATED exits`).toBe(changed ? 1 : 0);
  }
  toString(): string {
    return `guest.${this.unmask ? 'data+unmask' : 'data'}(${this.e}, ${this.b ? 'B' : 'A'})`;
  }
}

class Window extends Base {
  apply(_m: Model, r: Real): void {
    r.drv.exec(CMD.WINDOW);
  }
  toString(): string {
    return 'guest.window()';
  }
}

/** The VMM moves irqfd `fd` to the GSI bound to entry `e` (KVM_IRQFD deassign + assign). */
class MoveIrqfd extends Base {
  constructor(readonly fd: number, readonly e: number) {
    super();
  }
  apply(m: Model, r: Real): void {
    m.fdEntry[this.fd] = this.e;
    irqfd(r.v.p, r.v.vm, r.fds[this.fd]!, r.fdGsi[this.fd]!, 1 /* KVM_IRQFD_FLAG_DEASSIGN */);
    r.fdGsi[this.fd] = GSI0 + this.e;
    irqfd(r.v.p, r.v.vm, r.fds[this.fd]!, GSI0 + this.e);
  }
  toString(): string {
    return `vmm.moveIrqfd(fd${this.fd} -> entry ${this.e})`;
  }
}

/** The guest wrote Message Control; the VMM tells the kernel (control-only KVM_SET_MSIX_TABLE_STATE). */
class FunctionCtrl extends Base {
  constructor(readonly enabled: boolean, readonly maskall: boolean) {
    super();
  }
  apply(m: Model, r: Real): void {
    m.enabled = this.enabled;
    m.maskall = this.maskall;
    for (let e = 0; e < NR; e++) m.unblockCheck(e);
    setCtrl(r.v.p, r.v.vm, 1, (this.enabled ? P.KVM_MSIX_CTRL_ENABLE : 0) | (this.maskall ? P.KVM_MSIX_CTRL_MASKALL : 0));
  }
  toString(): string {
    return `vmm.msgctrl(${this.enabled ? 'ENABLE' : '0'}${this.maskall ? '|MASKALL' : ''})`;
  }
}

/** Userspace in polling mode clears an entry's pending bit (KVM_GET_MSIX_PENDING with CLEAR). */
class ClearPending extends Base {
  constructor(readonly e: number) {
    super();
  }
  apply(m: Model, r: Real): void {
    const before = m.pending.flatMap((p, i) => (p ? [i] : []));
    m.pending[this.e] = false;
    expect(pendingBits(r.v.p, r.v.vm, 1, [this.e])).toEqual(before);
  }
  toString(): string {
    return `vmm.clearPending(${this.e})`;
  }
}

/** Live migration of the table: state out, unbind, remove, define, state in, rebind. */
class Migrate extends Base {
  apply(m: Model, r: Real): void {
    const { p, vm } = r.v;
    const st = getState(p, vm, 1, NR);
    for (let e = 0; e < NR; e++) bindGsi(p, vm, 1, e, null);
    removeTable(p, vm, 1);
    defineTable(p, vm, { nr: NR, flags: 0 });
    setState(p, vm, 1, st, P.KVM_MSIX_STATE_ENTRIES | (m.enabled ? P.KVM_MSIX_CTRL_ENABLE : 0) | (m.maskall ? P.KVM_MSIX_CTRL_MASKALL : 0));
    for (let e = 0; e < NR; e++) bindGsi(p, vm, 1, e, GSI0 + e);
    expect(st.flags & ~P.KVM_MSIX_STATE_ENTRIES).toBe((m.enabled ? P.KVM_MSIX_CTRL_ENABLE : 0) | (m.maskall ? P.KVM_MSIX_CTRL_MASKALL : 0));
  }
  toString(): string {
    return 'vmm.migrate()';
  }
}

/** Deferred work runs (the host gets around to the delivery work). */
class Settle extends Base {
  apply(_m: Model, r: Real): void {
    r.v.host.control.flush();
  }
  toString(): string {
    return 'host.settle()';
  }
}

const entry = fc.integer({ min: 0, max: NR - 1 });
/** Command arbitraries, each repeated by its weight (fc.commands picks uniformly among them). */
const commands = [
  { weight: 6, arbitrary: fc.integer({ min: 0, max: NR - 1 }).map((f) => new Raise(f)) },
  { weight: 3, arbitrary: entry.map((e) => new GuestMask(e, true)) },
  { weight: 4, arbitrary: entry.map((e) => new GuestMask(e, false)) },
  { weight: 3, arbitrary: fc.tuple(entry, fc.constantFrom<'read' | 'mask+read' | 'pba'>('read', 'mask+read', 'mask+read', 'pba')).map(([e, k]) => new GuestRead(e, k)) },
  { weight: 2, arbitrary: fc.tuple(entry, fc.boolean(), fc.boolean()).map(([e, b, u]) => new GuestData(e, b, u)) },
  { weight: 2, arbitrary: fc.constant(new Window()) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: NR - 1 }), entry).map(([f, e]) => new MoveIrqfd(f, e)) },
  { weight: 1, arbitrary: fc.constantFrom<[boolean, boolean]>([true, false], [true, true], [false, false], [true, false]).map(([en, ma]) => new FunctionCtrl(en, ma)) },
  { weight: 1, arbitrary: entry.map((e) => new ClearPending(e)) },
  { weight: 1, arbitrary: fc.constant(new Migrate()) },
  { weight: 1, arbitrary: fc.constant(new Settle()) },
].flatMap((c) => new Array<fc.Arbitrary<Cmd>>(c.weight).fill(c.arbitrary as fc.Arbitrary<Cmd>));

describe.each([
  ['eventfd writes', 'eventfd', 150],
  ['VFIO MSI-X vectors of the NIC', 'vfio', 60],
] as const)('in-kernel MSI-X table against the PCI model, raised by %s (property)', (_name, source, runs) => {
  it('raises are delivered once or kept pending; a flushed mask holds; PBA = masked entries with undelivered raises', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(0, 0.9, 0.99), fc.commands(commands, { maxCommands: 40 }), (seed, lazy, cmds) => {
        const model = new Model();
        const real = new Real(seed, lazy, source);
        fc.modelRun(() => ({ model, real }), cmds);
        // Once the host settles, every accepted message has arrived and nothing else did.
        real.v.host.control.flush();
        for (let e = 0; e < NR; e++) expect(real.arrived(e), `entry ${e} after settling`).toBe(model.accepted[e]);
      }),
      fcParams(runs),
    );
  });
});
