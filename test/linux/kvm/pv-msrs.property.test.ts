// Property: random sequences of host KVM_SET_MSRS / KVM_GET_MSRS, guest WRMSR / RDMSR of the KVM PV MSRs,
// KVM_ENABLE_CAP(KVM_CAP_ENFORCE_PV_FEATURE_CPUID) and KVM_SET_CPUID2 (KVM features leaf) agree with a
// reference table of arch/x86/kvm/x86.c's rules (kvm_set_msr_common / kvm_get_msr_common MSR_KVM_*,
// kvm_pv_enable_async_pf(_int), lapic.c kvm_lapic_set_pv_eoi, cpuid.h guest_pv_has, kvm_do_msr_access's
// "advertised MSR: reads give 0, writes of 0 succeed" for KVM_MSR_RET_UNSUPPORTED): which accesses fail
// (for the guest: #GP), what every MSR reads back, and that a failed write changes nothing but the one
// case where the kernel stores first (async PF enabled with interrupt delivery at an address without RAM).
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { GuestAsm } from '../../../src/guest/program.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { kvm_msr_entry, kvm_msrs } from '../../../include-ts/asm/kvm.js';
import { fcParams } from '../../support/runs.js';
import { addRam, enableCap, errno, K, vmm, type Vmm } from './helpers.js';
import { checkedCommands } from '../../support/commands.js';

const RAM = 0x10000;
/** index -> the KVM_FEATURE_* bit guest_pv_has() checks. */
const FEATURE = new Map<number, number>([
  [0x11, 0], [0x12, 0], [0x4b564d00, 3], [0x4b564d01, 3], [0x4b564d02, 4], [0x4b564d03, 5], [0x4b564d04, 6],
  [0x4b564d05, 12], [0x4b564d06, 14], [0x4b564d07, 14],
]);
const INDICES = [...FEATURE.keys()];
const VALUES = [0n, 1n, 2n, 3n, 0x3000n, 0x3001n, 0x3003n, 0x3005n, 0x3009n, 0x300fn, 0x3011n, 0x3021n, 0x3041n, 0xecn, 0x1ecn, 0x4ff1n, 0xfff9n, 0x100000n, 0x100001n, 0x100009n, (1n << 40n) | 1n];
const FEATURE_SETS = [0, 1 << 3, (1 << 4) | (1 << 14), (1 << 4) | (1 << 10), 0x01007efb, (1 << 5) | (1 << 6) | (1 << 12)];

/** The reference: x86.c's rules as a table. */
class Model {
  enforce = false;
  features = 0;
  hasRun = false;
  readonly val = new Map<number, bigint>(INDICES.map((i) => [i, i === 0x4b564d05 ? 1n : 0n]));

  has(i: number): boolean {
    return !this.enforce || (this.features & (1 << FEATURE.get(i)!)) !== 0;
  }
  private ram(gpa: bigint, len: number): boolean {
    return gpa + BigInt(len) <= BigInt(RAM);
  }
  /** The write itself, guest_pv_has() passed: true if it succeeds. */
  private write(i: number, d: bigint): boolean {
    switch (i) {
      case 0x11: case 0x4b564d00: this.val.set(0x11, d).set(0x4b564d00, d); return true;
      case 0x12: case 0x4b564d01: this.val.set(0x12, d).set(0x4b564d01, d); return true;
      case 0x4b564d02:
        if (d & 0x30n) return false;
        if (d & 4n && !this.has2(10)) return false;
        if (d & 8n && !this.has2(14)) return false;
        this.val.set(i, d); // stored before the address check
        return (d & 9n) !== 9n || this.ram(d & ~0x3fn, 8);
      case 0x4b564d06: if (d >> 8n) return false; this.val.set(i, d); return true;
      case 0x4b564d07: return true;
      case 0x4b564d03: if (d & 0x3en) return false; this.val.set(i, d); return true;
      case 0x4b564d04:
        if (d & 2n) return false;
        if (d & 1n && !this.ram(d & ~1n, 1)) return false;
        this.val.set(i, d);
        return true;
      default: if (d & ~1n) return false; this.val.set(i, d); return true;
    }
  }
  private has2(bit: number): boolean {
    return !this.enforce || (this.features & (1 << bit)) !== 0;
  }
  hostSet(i: number, d: bigint): boolean {
    if (!this.has(i)) return d === 0n;
    return this.write(i, d);
  }
  hostGet(i: number): bigint {
    return this.has(i) && i !== 0x4b564d07 ? this.val.get(i)! : 0n;
  }
  guestWr(i: number, d: bigint): boolean {
    this.hasRun = true;
    return this.has(i) && this.write(i, d);
  }
  guestRd(i: number): bigint | null {
    this.hasRun = true;
    return this.has(i) ? this.hostGet(i) : null;
  }
}

class Real {
  readonly v: Vmm = vmm({ irqchip: 'kernel' });
  readonly fd = this.v.vcpus[0]!;
  readonly prog = (() => {
    const a = new GuestAsm('pv-msrs-property');
    a.label('rd').rdmsr().out(0x80, 0, 1).hlt();
    a.label('wr').wrmsr().out(0x80, 0, 1).hlt();
    a.label('gp').handler(13, 'gp').out(0x8d, 0, 1).hlt();
    return a.build();
  })();
  constructor() {
    addRam(this.v.p, this.v.vm, 0, 0, RAM);
    this.v.host.control.kvm.loadGuest(this.v.p, this.fd, this.prog);
  }
  msr(set: boolean, i: number, d: bigint): { n: number; d: bigint } {
    const b = new Uint8Array(kvm_msrs.size + kvm_msr_entry.size);
    setU32(b, 0, 1);
    setU32(b, kvm_msrs.size, i);
    setU64(b, kvm_msrs.size + 8, d);
    const n = this.v.p.ioctl(this.fd, set ? K.KVM_SET_MSRS : K.KVM_GET_MSRS, b);
    return { n, d: getU64(b, kvm_msrs.size + 8) };
  }
  /** A guest access: null for #GP, else EDX:EAX after it. */
  guest(wr: boolean, i: number, d: bigint): bigint | null {
    const b = new Uint8Array(K.kvm_regs.size);
    const G = (p: string) => K.kvm_regs.offsetof(p);
    setU64(b, G('rip'), BigInt(this.prog.at(wr ? 'wr' : 'rd')));
    setU64(b, G('rflags'), 2n);
    setU64(b, G('rcx'), BigInt(i));
    setU64(b, G('rax'), d & 0xffff_ffffn);
    setU64(b, G('rdx'), d >> 32n);
    this.v.p.ioctl(this.fd, K.KVM_SET_REGS, b);
    this.v.p.ioctl(this.fd, K.KVM_RUN);
    const port = this.v.runs[0]!.read16(K.kvm_run.offsetof('io.port'));
    if (port === 0x8d) return null;
    this.v.p.ioctl(this.fd, K.KVM_GET_REGS, b);
    return (BigInt(getU32(b, G('rdx'))) << 32n) | BigInt(getU32(b, G('rax')));
  }
}


/** Every MSR reads back what the model says. */
function check(m: Model, r: Real): void {
  for (const i of INDICES) {
    const got = r.msr(false, i, 0xdeadn);
    const want = m.hostGet(i);
    if (got.n !== 1 || got.d !== want) throw new Error(`KVM_GET_MSRS 0x${i.toString(16)}: model 0x${want.toString(16)}, KVM ${got.n} 0x${got.d.toString(16)}`);
  }
}

const cmd = checkedCommands<Model, Real>(check);
const hex = (x: bigint | number) => `0x${x.toString(16)}`;
const index = fc.constantFrom(...INDICES);
/** Per MSR, the values on either side of its rules, plus the common pool. */
const EDGES = new Map<number, bigint[]>([
  [0x4b564d02, [0x3009n, 0x3005n, 0x3011n, 0x3021n, 0x300fn, 0xfffc9n, 0xfff09n]],
  [0x4b564d06, [0xecn, 0xffn, 0x100n, 0x1ecn]],
  [0x4b564d03, [0x3001n, 0x3003n, 0x3021n, 0x3041n, 0x3040n]],
  [0x4b564d04, [0xfffdn, 0xfffcn, 0xffffn, 0x10001n, 0x10000n, 0x3002n]],
  [0x4b564d05, [0n, 1n, 2n, 3n]],
]);
const access = index.chain((i) => fc.tuple(fc.constant(i), fc.constantFrom(...(EDGES.get(i) ?? []), ...VALUES)));

const commands = [
  access.map(([i, d]) => cmd(`KVM_SET_MSRS(${hex(i)}, ${hex(d)})`, () => true, (m, r) => {
    const want = m.hostSet(i, d) ? 1 : 0;
    const got = r.msr(true, i, d).n;
    if (got !== want) throw new Error(`KVM_SET_MSRS ${hex(i)}=${hex(d)}: model ${want}, KVM ${got}`);
  })),
  access.map(([i, d]) => cmd(`guest WRMSR(${hex(i)}, ${hex(d)})`, () => true, (m, r) => {
    const want = m.guestWr(i, d);
    const got = r.guest(true, i, d) !== null;
    if (got !== want) throw new Error(`guest WRMSR ${hex(i)}=${hex(d)}: model ${want ? 'ok' : '#GP'}, KVM ${got ? 'ok' : '#GP'}`);
  })),
  index.map((i) => cmd(`guest RDMSR(${hex(i)})`, () => true, (m, r) => {
    const want = m.guestRd(i);
    const got = r.guest(false, i, 0n);
    if (got !== want) throw new Error(`guest RDMSR ${hex(i)}: model ${want === null ? '#GP' : hex(want)}, KVM ${got === null ? '#GP' : hex(got)}`);
  })),
  fc.boolean().map((on) => cmd(`KVM_ENABLE_CAP(ENFORCE_PV_FEATURE_CPUID, ${on ? 1 : 0})`, () => true, (m, r) => {
    m.enforce = on;
    enableCap(r.v.p, r.fd, K.KVM_CAP_ENFORCE_PV_FEATURE_CPUID, on ? 1 : 0);
  })),
  fc.constantFrom(...FEATURE_SETS).map((f) => cmd(`KVM_SET_CPUID2(KVM features ${hex(f)})`, (m) => !m.hasRun, (m, r) => {
    m.features = f;
    const b = new Uint8Array(8 + 2 * 40);
    setU32(b, 0, 2);
    for (const [k, regs] of [[0, [0x40000000, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d]], [1, [0x40000001, f, 0, 0, 0]]] as const) {
      regs.forEach((x, n) => setU32(b, 8 + k * 40 + (n === 0 ? 0 : 8 + n * 4), x));
    }
    const e = errno(() => r.v.p.ioctl(r.fd, K.KVM_SET_CPUID2, b));
    if (e !== 0) throw new Error(`KVM_SET_CPUID2: ${e}`);
  })),
];

describe('KVM PV MSRs against a table of x86.c rules', () => {
  it('random host/guest accesses, enforcement and KVM feature leaves (property)', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 40, size: 'large' }), (cmds) => {
        fc.modelRun(() => ({ model: new Model(), real: new Real() }), cmds);
      }),
      fcParams(150),
    );
  });
});
