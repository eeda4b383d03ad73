// Property: MSI-X, device side — every raise is delivered once or held in the PBA until unmasked, then
// delivered once; the PBA holds exactly the masked-and-undelivered vectors (issue 4; PCI 3.0 §6.8.2,
// reference kvm.md §6.2). Model-based over random sequences of vector raises, vector mask/unmask (the
// user's writes to Vector Control through its mmap of the table BAR, which vfio-pci allows with
// MSIX_MAPPABLE), Function Mask writes (in hardware), enable/disable and per-vector (re)binding through
// SET_IRQS (the kernel masks a vector in free_irq and unmasks it in request_irq, rewriting its message),
// and table rewrites (an entry's address/data clobbered, as a backdoor reset would; a rebind restores it).
//
// The reference model tracks, per vector, the mask bit, the PBA bit, whether a trigger is bound, whether
// the entry is clobbered and whether the host irq holds a pending edge (a message that reached an
// enabled but unbound vector: handle_edge_irq marks it IRQS_PENDING, request_irq replays it; a replay and
// a PBA flush of the same vector inside request_irq land in the local APIC's IRR once). A message the
// function sends is delivered to the bound eventfd, or dropped at the IOMMU when the entry was clobbered.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcParams } from '../../../support/runs.js';
import { Host } from '../../../../src/host.js';
import { defaultPreset } from '../../../../src/hw/presets/default.js';
import type { Process } from '../../../../src/linux/process.js';
import type { Mapping } from '../../../../src/linux/mm/address-space.js';
import type { EventFdFile } from '../../../../src/linux/eventfd.js';
import type { MsixNic } from '../../../../src/hw/devices/msix-nic.js';
import { SyscallError } from '../../../../src/linux/errors.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../../include-ts/linux/mman.js';
import { NIC, GROUP, V, openDevice } from '../../../support/vfio.js';
import { EVENTFD, MSIX, NONE, TRIGGER, efd, setIrqs, take } from '../../../support/irqs.js';

const N = 4;

interface Model {
  enabled: boolean;
  fm: boolean;
  vmask: boolean[];
  pba: boolean[];
  bound: boolean[];
  clobbered: boolean[];
  kernelPending: boolean[];
  sent: number[];
  delivered: number[];
}

interface Real {
  host: Host;
  p: Process;
  device: number;
  nic: MsixNic;
  table: Mapping;
  fds: number[];
  read: number[];
}

/** The function sends vector v's message. */
function send(m: Model, v: number): void {
  m.sent[v]!++;
  if (m.clobbered[v]) return;
  if (m.bound[v]) m.delivered[v]!++;
  else m.kernelPending[v] = true;
}

/** A vector became (maybe) unmasked: a pending bit is sent and cleared. */
function flush(m: Model, v: number): void {
  if (m.enabled && !m.fm && !m.vmask[v] && m.pba[v]) {
    m.pba[v] = false;
    send(m, v);
  }
}

/** vfio_msi_set_vector_signal(): free_irq (mask) then, for a fd, rewrite + request_irq (unmask, replay). */
function bind(m: Model, v: number, fd: boolean): void {
  if (m.bound[v]) {
    m.bound[v] = false;
    m.vmask[v] = true;
  }
  if (!fd) return;
  m.clobbered[v] = false;
  m.bound[v] = true;
  m.vmask[v] = false;
  let fired = false;
  if (!m.fm && m.pba[v]) {
    m.pba[v] = false;
    m.sent[v]!++;
    fired = true;
  }
  if (m.kernelPending[v]) {
    m.kernelPending[v] = false;
    fired = true;
  }
  if (fired) m.delivered[v]!++;
}

function check(m: Model, r: Real): void {
  const x = r.nic.msix!;
  expect(x.enabled).toBe(m.enabled);
  expect(x.functionMasked).toBe(m.fm);
  for (let v = 0; v < N; v++) {
    expect(x.pending(v), `PBA bit ${v}`).toBe(m.pba[v]);
    expect(x.vectorMasked(v), `mask bit ${v}`).toBe(m.vmask[v]);
    expect(x.sent[v], `messages sent by vector ${v}`).toBe(m.sent[v]);
    const c = (r.p.fileOrNull(r.fds[v]!) as EventFdFile).ctx.countNumber;
    expect(r.read[v]! + c, `eventfd of vector ${v}`).toBe(m.delivered[v]);
  }
}

type Cmd = fc.Command<Model, Real>;

class Raise implements Cmd {
  constructor(readonly v: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.host.control.pci.ring(this.v);
    if (m.enabled) {
      if (m.fm || m.vmask[this.v]) m.pba[this.v] = true;
      else send(m, this.v);
    }
    check(m, r);
  }
  toString = () => `NIC raises vector ${this.v}`;
}

class UserMask implements Cmd {
  constructor(
    readonly v: number,
    readonly on: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.table.write32(this.v * 16 + 12, this.on ? 1 : 0);
    r.host.kernel.point();
    m.vmask[this.v] = this.on;
    flush(m, this.v);
    check(m, r);
  }
  toString = () => `user ${this.on ? 'masks' : 'unmasks'} vector ${this.v} (mmap'ed table)`;
}

class FunctionMask implements Cmd {
  constructor(readonly on: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const x = r.nic.msix!;
    const ctrl = r.nic.configRead(x.offset + 2, 2);
    r.nic.configWrite(x.offset + 2, 2, this.on ? ctrl | 0x4000 : ctrl & ~0x4000);
    r.host.kernel.point();
    m.fm = this.on;
    for (let v = 0; v < N; v++) flush(m, v);
    check(m, r);
  }
  toString = () => `Function Mask = ${this.on ? 1 : 0}`;
}

class Enable implements Cmd {
  check = (m: Readonly<Model>) => !m.enabled;
  run(m: Model, r: Real): void {
    expect(setIrqs(r.p, r.device, MSIX, EVENTFD | TRIGGER, 0, N, r.fds)).toBe(0);
    // msix_capability_init: entries written, every entry masked, Function Mask cleared; then each bind.
    m.enabled = true;
    m.fm = false;
    for (let v = 0; v < N; v++) {
      m.clobbered[v] = false;
      m.vmask[v] = true;
    }
    for (let v = 0; v < N; v++) bind(m, v, true);
    check(m, r);
  }
  toString = () => `SET_IRQS MSI-X enable ${N} vectors`;
}

class Disable implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    let e: string | null = null;
    try {
      setIrqs(r.p, r.device, MSIX, NONE | TRIGGER, 0, 0);
    } catch (x) {
      if (!(x instanceof SyscallError)) throw x;
      e = x.code;
    }
    expect(e).toBe(m.enabled ? null : 'EINVAL');
    if (m.enabled) {
      m.enabled = false;
      for (let v = 0; v < N; v++) {
        m.bound[v] = false;
        m.vmask[v] = true;
        m.kernelPending[v] = false;
      }
    }
    check(m, r);
  }
  toString = () => 'SET_IRQS MSI-X disable (count 0)';
}

class Bind implements Cmd {
  constructor(
    readonly v: number,
    readonly fd: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.enabled;
  run(m: Model, r: Real): void {
    setIrqs(r.p, r.device, MSIX, EVENTFD | TRIGGER, this.v, 1, [this.fd ? r.fds[this.v]! : -1]);
    bind(m, this.v, this.fd);
    check(m, r);
  }
  toString = () => (this.fd ? `SET_IRQS bind vector ${this.v} to its eventfd` : `SET_IRQS unbind vector ${this.v} (fd -1)`);
}

class Clobber implements Cmd {
  constructor(readonly v: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const x = r.nic.msix!;
    x.tableWrite(this.v * 16, 4, 0);
    x.tableWrite(this.v * 16 + 8, 4, 0);
    m.clobbered[this.v] = true;
    check(m, r);
  }
  toString = () => `entry ${this.v}'s address/data clobbered (backdoor reset)`;
}

class Read implements Cmd {
  constructor(readonly v: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.read[this.v]! += take(r.p, r.fds[this.v]!);
    check(m, r);
  }
  toString = () => `read vector ${this.v}'s eventfd`;
}

const vec = fc.nat(N - 1);
const commands = [
  vec.map((v) => new Raise(v)),
  vec.map((v) => new Raise(v)),
  fc.tuple(vec, fc.boolean()).map(([v, on]) => new UserMask(v, on)),
  fc.boolean().map((on) => new FunctionMask(on)),
  fc.constant(new Enable()),
  fc.constant(new Disable()),
  fc.tuple(vec, fc.boolean()).map(([v, fd]) => new Bind(v, fd)),
  vec.map((v) => new Clobber(v)),
  vec.map((v) => new Read(v)),
];

function setup(): { model: Model; real: Real } {
  const host = Host.create({ preset: defaultPreset({ nicQueues: N }) });
  // Nothing else on the NIC's line: with MSI-X off, its doorbell falls back to INTx.
  host.spawn().writeFile('/sys/bus/pci/drivers/r8169/unbind', '0000:03:01.0');
  const o = openDevice(NIC, GROUP.nic, V.VFIO_TYPE1v2_IOMMU, host);
  const nic = host.control.pci.nic();
  const x = nic.msix!;
  const table = o.p.mmap(null, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, o.device, x.tableBar * 2 ** 40 + x.tableOffset);
  const fds = Array.from({ length: N }, () => efd(o.p));
  const f = () => new Array<boolean>(N).fill(false);
  const model: Model = { enabled: false, fm: false, vmask: new Array<boolean>(N).fill(true), pba: f(), bound: f(), clobbered: f(), kernelPending: f(), sent: new Array<number>(N).fill(0), delivered: new Array<number>(N).fill(0) };
  const real: Real = { host, p: o.p, device: o.device, nic, table, fds, read: new Array<number>(N).fill(0) };
  // Runs start with MSI-X enabled (the interesting state); Disable/Enable toggle it.
  new Enable().run(model, real);
  return { model, real };
}

describe('property: MSI-X raises are delivered once or held in the PBA until unmasked', () => {
  it('PBA = masked and undelivered; every eventfd count as the model says', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 60, size: '+1' }), (cmds) => {
        fc.modelRun(setup, cmds);
      }),
      fcParams(150),
    );
  });
});
