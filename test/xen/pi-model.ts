// The model-based test of Xen's posted-interrupt path (reference xen.md 4.6 and 7): random command
// sequences of hardware posts, guest behaviour, scheduling events, CPU offlining, (re)binding and device
// assignment, with the scheduler interleaving CPUs, handlers and hardware between hypervisor steps
// (policy 'interleave', seeded). The reference model is the set of vectors owed to each vCPU; the
// oracle: after a bounded settle, every owed vector was handled by the guest or sits in its vIRR while
// the guest cannot take it, and no PIR bit is left behind; the 4.2 invariants hold after every command.
import fc from 'fast-check';
import { expect } from 'vitest';
import { APIC_IRR } from '../../src/hw/x86/apicdef.js';
import type { StepTask } from '../../src/sim/scheduler.js';
import { handledBy } from '../../src/xen/control.js';
import type { Vcpu } from '../../src/xen/domain.js';
import type { Xen, XenMode } from '../../src/xen/xen.js';
import { xc_assign_device, xc_deassign_device } from '../../src/xen/libxc.js';
import { bindMsi, NIC_SBDF, rig, unbindMsi, type Rig, type Target } from './helpers.js';

export const GVEC = [0x40, 0x41] as const;
const NCPUS = 3;

export interface Model {
  assigned: boolean;
  bindings: (Target | null)[];
  /** `${vcpu}:${vector}` -> handled count when first owed. */
  owed: Map<string, number>;
  offline: number;
}

export interface Real {
  readonly r: Rig;
  readonly xen: Xen;
  readonly tasks: StepTask[];
}

export type Cmd = fc.Command<Model, Real>;

function vcpuOf(real: Real, id: number): Vcpu {
  return real.xen.domains.get(real.r.dom)!.vcpus[id]!;
}

function recipients(t: Target, vector: number): number[] {
  if (t.kind === 'vcpu') return [t.vcpu];
  if (t.kind === 'multicast') return [0, 1];
  return [vector % 2]; // vector hashing: S = [v0, v1] (both match logical 0x3), S[gvec % |S|]
}

const targetName = (t: Target) => (t.kind === 'vcpu' ? `vcpu${t.vcpu}` : t.kind);

// ---- invariants ------------------------------------------------------------------------------------------

/** 4.2: list bookkeeping, on list(X) and blocked => NDST = apicid(X), in guest => NV posted, SN 0, NDST here, off lists. */
export function checkInvariants(real: Real): void {
  const xen = real.xen;
  expect(xen.assertFailures, 'a Xen ASSERT() would have fired').toEqual([]);
  const seen = new Map<Vcpu, number>();
  for (const c of xen.cpus) {
    for (const v of c.piBlocked) {
      expect(seen.has(v), `${v.label} is on two blocked lists`).toBe(false);
      expect(v.piBlockingLock, `${v.label} is on cpu${c.id}'s list but its lock points elsewhere`).toBe(c);
      seen.set(v, c.id);
    }
  }
  for (const d of xen.domains.values()) {
    if (!d.isHvm) continue;
    for (const v of d.vcpus) {
      if (v.piBlockingLock !== null) expect(seen.get(v), `${v.label}: pi_blocking.lock names cpu${v.piBlockingLock.id} but it is not on that list`).toBe(v.piBlockingLock.id);
      if (v.piBlockingLock !== null && v.blocked && !v.isRunning) {
        expect(v.piDesc.ndst, `${v.label} is blocked on cpu${v.piBlockingLock.id}'s list with NDST elsewhere`).toBe(xen.ndstOf(v.piBlockingLock));
      }
      const c = xen.cpus.find((x) => x.curr === v && x.hw.nonRoot);
      if (c && xen.intpost && d.piFlags !== 0) {
        expect(v.piDesc.nv, `${v.label} runs in guest mode with NV != posted_intr_vector`).toBe(xen.postedIntrVector);
        expect(v.piDesc.sn, `${v.label} runs in guest mode with SN=1`).toBe(false);
        expect(v.piDesc.ndst, `${v.label} runs on cpu${c.id} with NDST elsewhere`).toBe(xen.ndstOf(c));
        expect(v.piBlockingLock, `${v.label} runs in guest mode but is on a blocked list`).toBe(null);
      }
    }
  }
}

/** At quiescence, with the block hook installed: blocked => on a list with NV = wakeup, SN = 0; else on none. */
export function checkQuiescent(real: Real): void {
  const xen = real.xen;
  for (const d of xen.domains.values()) {
    if (!d.isHvm || !d.piVcpuBlock) continue;
    for (const v of d.vcpus) {
      if (v.runstate === 'blocked') {
        expect(v.piBlockingLock, `${v.label} is blocked but on no blocked list (NV=0x${v.piDesc.nv.toString(16)})`).not.toBe(null);
        expect(v.piDesc.nv, `${v.label} is blocked with NV != pi_wakeup_vector`).toBe(xen.piWakeupVector);
        expect(v.piDesc.sn, `${v.label} is blocked with SN=1`).toBe(false);
      } else if (v.runstate === 'running') {
        expect(v.piBlockingLock, `${v.label} runs but is still on a blocked list`).toBe(null);
      }
    }
  }
}

/** The liveness oracle after a bounded settle. */
export function checkLiveness(m: Model, real: Real): void {
  const c = real.r.host.control;
  const quiet = c.settle(64);
  const xen = real.xen;
  for (const v of xen.domains.get(real.r.dom)!.vcpus) {
    const pir = v.piDesc.pirVectors();
    expect(pir, `${v.label}: PIR ${pir.map((x) => '0x' + x.toString(16)).join(',')} stuck with ON=${v.piDesc.on ? 1 : 0} SN=${v.piDesc.sn ? 1 : 0} (${v.runstate}, onList=${v.piBlockingLock?.id ?? 'none'}, NV=0x${v.piDesc.nv.toString(16)})`).toEqual([]);
  }
  for (const [key, before] of m.owed) {
    const [vs, vecs] = key.split(':');
    const v = vcpuOf(real, Number(vs));
    const vec = Number(vecs);
    if (handledBy(v, vec) > before) continue;
    const inIrr = v.vlapic.testVector(APIC_IRR, vec);
    const cannot = (v.vlapic.tpr & 0xf0) >= (vec & 0xf0) || (v.runstate !== 'blocked' && !v.guest.ifFlag);
    expect(inIrr && cannot, `${v.label}: vector 0x${vec.toString(16)} posted but neither handled nor pending in vIRR behind TPR/IF (${v.runstate}, onList=${v.piBlockingLock?.id ?? 'none'}, NV=0x${v.piDesc.nv.toString(16)}, ON=${v.piDesc.on ? 1 : 0})`).toBe(true);
  }
  m.owed.clear();
  expect(quiet, 'the system did not quiesce within 64 rounds').toBe(true);
  checkQuiescent(real);
}

/**
 * Which hazard a failing state shows (reference xen.md 4.6): H2, a blocked vCPU of a domain with the
 * block hook on no list with NV = posted_intr_vector (it blocked before the first device came); H1, a
 * vector left in PIR with ON=0 and SN=0 (posted while SN=1; clearing SN did not recompute ON).
 */
export function diagnose(real: Real): ('H1' | 'H2')[] {
  const out = new Set<'H1' | 'H2'>();
  const xen = real.xen;
  for (const d of xen.domains.values()) {
    if (!d.isHvm) continue;
    for (const v of d.vcpus) {
      if (d.piVcpuBlock && v.runstate === 'blocked' && v.piBlockingLock === null && v.piDesc.nv === xen.postedIntrVector) out.add('H2');
      if (!v.piDesc.pirEmpty() && !v.piDesc.on && !v.piDesc.sn) out.add('H1');
    }
  }
  return [...out];
}

// ---- commands ----------------------------------------------------------------------------------------------

function forgive(m: Model, vector: number): void {
  for (const k of [...m.owed.keys()]) if (k.endsWith(`:${vector}`)) m.owed.delete(k);
}

abstract class Base implements Cmd {
  abstract check(m: Readonly<Model>): boolean;
  abstract act(m: Model, real: Real): void;
  abstract toString(): string;
  run(m: Model, real: Real): void {
    this.act(m, real);
    checkInvariants(real);
  }
}

class Raise extends Base {
  constructor(readonly entry: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.bindings[this.entry] !== null;
  }
  act(m: Model, real: Real) {
    const vec = GVEC[this.entry]!;
    for (const id of recipients(m.bindings[this.entry]!, vec)) {
      const k = `${id}:${vec}`;
      if (!m.owed.has(k)) m.owed.set(k, handledBy(vcpuOf(real, id), vec));
    }
    real.r.host.control.raise(this.entry);
  }
  toString() {
    return `raise(entry ${this.entry})`;
  }
}

class Step extends Base {
  constructor(readonly n: number) {
    super();
  }
  check() {
    return true;
  }
  act(_m: Model, real: Real) {
    real.r.host.control.step(this.n);
  }
  toString() {
    return `step(${this.n})`;
  }
}

class Busy extends Base {
  constructor(readonly vcpu: number, readonly busy: boolean) {
    super();
  }
  check() {
    return true;
  }
  act(_m: Model, real: Real) {
    real.r.host.control.guestDo(real.r.dom, this.vcpu, (b) => (b.busy = this.busy));
  }
  toString() {
    return `guest(vcpu${this.vcpu}).${this.busy ? 'busy' : 'idle'}`;
  }
}

class Tpr extends Base {
  constructor(readonly vcpu: number, readonly tpr: number) {
    super();
  }
  check() {
    return true;
  }
  act(_m: Model, real: Real) {
    real.r.host.control.guestDo(real.r.dom, this.vcpu, (b) => (b.tpr = this.tpr));
  }
  toString() {
    return `guest(vcpu${this.vcpu}).tpr(0x${this.tpr.toString(16)})`;
  }
}

class Tick extends Base {
  constructor(readonly cpu: number) {
    super();
  }
  check() {
    return true;
  }
  act(_m: Model, real: Real) {
    if (real.xen.cpus[this.cpu]!.online) real.r.host.control.tick(this.cpu);
  }
  toString() {
    return `tick(cpu${this.cpu})`;
  }
}

class Migrate extends Base {
  constructor(readonly vcpu: number, readonly cpu: number) {
    super();
  }
  check() {
    return true;
  }
  act(_m: Model, real: Real) {
    if (real.xen.cpus[this.cpu]!.schedulable) real.r.host.control.migrate(real.r.dom, this.vcpu, this.cpu);
  }
  toString() {
    return `migrate(vcpu${this.vcpu} -> cpu${this.cpu})`;
  }
}

class CpuDown extends Base {
  constructor(readonly cpu: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.offline === 0;
  }
  act(m: Model, real: Real) {
    const cpus = real.xen.cpus;
    if (!cpus[this.cpu]!.schedulable || !cpus.some((c) => c.schedulable && c.id !== this.cpu)) return;
    m.offline++;
    real.tasks.push(real.r.host.control.beginCpuDown(this.cpu));
  }
  toString() {
    return `cpu_down(cpu${this.cpu})`;
  }
}

class Bind extends Base {
  constructor(readonly entry: number, readonly target: Target) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.assigned;
  }
  act(m: Model, real: Real) {
    bindMsi(real.r, this.entry, GVEC[this.entry]!, this.target);
    // A re-bind while a remapped interrupt waits in the dpci softirq delivers it to the new target.
    if (m.bindings[this.entry] !== null) forgive(m, GVEC[this.entry]!);
    m.bindings[this.entry] = this.target;
  }
  toString() {
    return `bind(entry ${this.entry} -> ${targetName(this.target)})`;
  }
}

class Unbind extends Base {
  constructor(readonly entry: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.bindings[this.entry] !== null;
  }
  act(m: Model, real: Real) {
    unbindMsi(real.r, this.entry, GVEC[this.entry]!, m.bindings[this.entry]!);
    // pt_irq_destroy_bind -> pt_pirq_softirq_reset drops a remapped interrupt still in the dpci softirq
    // (the guest disabled the MSI); posted ones stay in PIR and the PIR check still covers them.
    forgive(m, GVEC[this.entry]!);
    m.bindings[this.entry] = null;
  }
  toString() {
    return `unbind(entry ${this.entry})`;
  }
}

class Assign extends Base {
  check(m: Readonly<Model>) {
    return !m.assigned;
  }
  act(m: Model, real: Real) {
    xc_assign_device(real.r.xch, real.r.dom, NIC_SBDF);
    m.assigned = true;
  }
  toString() {
    return 'assign_device';
  }
}

class Deassign extends Base {
  check(m: Readonly<Model>) {
    return m.assigned && m.bindings.every((b) => b === null);
  }
  act(m: Model, real: Real) {
    xc_deassign_device(real.r.xch, real.r.dom, NIC_SBDF);
    m.assigned = false;
  }
  toString() {
    return 'deassign_device';
  }
}

class Settle extends Base {
  check() {
    return true;
  }
  act(m: Model, real: Real) {
    checkLiveness(m, real);
  }
  toString() {
    return 'settle';
  }
}

const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 1 }).map((v): Target => ({ kind: 'vcpu', vcpu: v })) },
  { weight: 1, arbitrary: fc.constantFrom<Target>({ kind: 'multicast' }, { kind: 'lowest' }) },
);

const raise = fc.integer({ min: 0, max: 1 }).map((e): Cmd => new Raise(e));
const step = fc.integer({ min: 1, max: 6 }).map((n): Cmd => new Step(n));

/** Everything but taking a CPU offline (isolates the preemption form of H1). */
export const commandsWithoutCpuDown = (): fc.Arbitrary<Cmd>[] => commands.filter((_, i) => i !== CPU_DOWN_INDEX);
const CPU_DOWN_INDEX = 10;

/** Posts and interleaving points dominate; every other event appears too. */
export const commands: fc.Arbitrary<Cmd>[] = [
  raise,
  raise,
  raise,
  step,
  step,
  step,
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.boolean()).map(([v, b]) => new Busy(v, b)),
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.constantFrom(0, 0x50)).map(([v, t]) => new Tpr(v, t)),
  fc.integer({ min: 0, max: NCPUS - 1 }).map((c) => new Tick(c)),
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: NCPUS - 1 })).map(([v, c]) => new Migrate(v, c)),
  fc.integer({ min: 0, max: NCPUS - 1 }).map((c) => new CpuDown(c)),
  fc.tuple(fc.integer({ min: 0, max: 1 }), target).map(([e, t]) => new Bind(e, t)),
  fc.integer({ min: 0, max: 1 }).map((e) => new Unbind(e)),
  fc.constant(new Assign()),
  fc.constant(new Deassign()),
  fc.constant(new Settle()),
];

export type Start = 'assigned' | 'hotplug';

/**
 * One case: a host (3 CPUs, a 2-vCPU guest, scheduler seed `seed`, policy 'interleave'), the commands,
 * then the final liveness check. `assigned` starts with the device assigned before the guest boots and
 * both entries bound (entry 0 -> vCPU 0, entry 1 -> vCPU 1); `hotplug` starts with no device assigned.
 * Returns the final state; throws the first violated check with the state attached as `real`.
 */
export function runCase(mode: XenMode, start: Start, seed: number, cmds: Iterable<Cmd>): Real {
  const r = rig({ mode, seed, policy: 'interleave', assign: start === 'assigned' ? 'before-start' : 'none', hardware: { cpus: NCPUS } });
  const real: Real = { r, xen: r.host.xen, tasks: [] };
  const m: Model = { assigned: start === 'assigned', bindings: [null, null], owed: new Map(), offline: 0 };
  if (start === 'assigned') {
    bindMsi(r, 0, GVEC[0], { kind: 'vcpu', vcpu: 0 });
    bindMsi(r, 1, GVEC[1], { kind: 'vcpu', vcpu: 1 });
    m.bindings = [{ kind: 'vcpu', vcpu: 0 }, { kind: 'vcpu', vcpu: 1 }];
    r.host.control.settle();
  }
  try {
    fc.modelRun(() => ({ model: m, real }), cmds);
    checkLiveness(m, real);
  } catch (e) {
    // Not enumerable: a test runner serializing the error would print the whole machine.
    if (typeof e === 'object' && e !== null) Object.defineProperty(e, 'real', { value: real, enumerable: false });
    throw e;
  }
  return real;
}

export function piProperty(mode: XenMode, start: Start, maxCommands = 30, cmdSet: fc.Arbitrary<Cmd>[] = commands) {
  return fc.property(fc.integer({ min: 1, max: 0x7fffffff }), fc.commands(cmdSet, { maxCommands }), (seed, cmds) => {
    runCase(mode, start, seed, cmds);
  });
}

/** Searches for a counterexample and returns it shrunk, with its state and the hazards it shows. */
export function hunt(mode: XenMode, start: Start, cmdSet: fc.Arbitrary<Cmd>[], numRuns: number, seed: number): { trace: string; message: string; hazards: ('H1' | 'H2')[]; real: Real } | null {
  const res = fc.check(piProperty(mode, start, 30, cmdSet), { numRuns, seed });
  if (!res.failed || !res.counterexample) return null;
  const [caseSeed, cmds] = res.counterexample;
  try {
    runCase(mode, start, caseSeed, cmds);
  } catch (e) {
    const real = (e as { real?: Real }).real!;
    return { trace: `seed ${caseSeed}: ${String(cmds).replace(/ \/\*replayPath=.*\*\//, '')}`, message: (e as Error).message.split('\n')[0]!, hazards: diagnose(real), real };
  }
  throw new Error('the shrunk counterexample did not fail again');
}
