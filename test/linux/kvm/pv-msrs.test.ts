// The KVM paravirtual MSRs (arch/x86/kvm/x86.c: kvm_set_msr_common / kvm_get_msr_common MSR_KVM_*,
// kvm_write_wall_clock, kvm_write_system_time, kvm_guest_time_update, kvm_setup_guest_pvclock,
// record_steal_time, kvm_pv_enable_async_pf(_int), kvm_do_msr_access, emulated_msrs_all,
// kvm_vcpu_ioctl_enable_cap KVM_CAP_ENFORCE_PV_FEATURE_CPUID, kvm_vcpu_reset; cpuid.h guest_pv_has;
// cpuid.c kvm_update_pv_runtime; lapic.c kvm_lapic_set_pv_eoi, kvm_lapic_reset; asm/pvclock-abi.h,
// uapi asm/kvm_para.h).
//
// pv-msrs-oracle.c runs a fixed sequence on this machine's /dev/kvm (in-kernel irqchip, 64 KiB of RAM, a
// flat 32-bit guest doing rdmsr/wrmsr then `out 0x80`, #GP -> `out 0x8d`) and prints only host-independent
// values: results, MSR values, parities and flags of what KVM wrote into guest memory, and comparisons
// (system_time <= KVM_GET_CLOCK, monotonic; the wall clock's epoch within 2 s of the host's realtime minus
// kvmclock). The model runs the same steps and the lines must be equal. No line differs on this host:
// - the pvclock's flags are PVCLOCK_TSC_STABLE_BIT here because the VM uses the master clock once a vCPU
//   has run (this host's clocksource is the TSC and the single vCPU is "matched"); the model follows
//   pvclock_update_vm_gtod_copy's rule for that (pv-msrs.ts useMasterClock);
// - tsc_to_system_mul/shift come from the host TSC rate, not KVM_SET_TSC_KHZ (no TSC scaling on this
//   host: kvm_guest_time_update scales only with kvm_caps.has_tsc_control); the oracle checks both.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestAsm, r0, r1, r3 } from '../../../src/guest/program.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { kvm_msr_entry, kvm_msr_list, kvm_msrs } from '../../../include-ts/asm/kvm.js';
import { addRam, enableCap, K, vmm, type Vmm } from './helpers.js';
import { oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';
import type { Mapping } from '../../../src/linux/mm/address-space.js';
import { KVM_MSR_INDEX_LIST } from '../../../src/linux/kvm/msr.js';
import { HOST_REALTIME_AT_BOOT_NS } from '../../../src/linux/kvm/kvmclock.js';
import { HOST_TSC_KHZ, kvmGetTimeScale } from '../../../src/linux/kvm/tsc.js';
import { kvmVcpuReset } from '../../../src/linux/kvm/x86-reset.js';
import type { KvmVcpu } from '../../../src/linux/kvm/vcpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('KVM PV MSRs', ['kvm']);

const R = (p: string) => K.kvm_run.offsetof(p);
const G = (p: string) => K.kvm_regs.offsetof(p);

const PV = [0x11, 0x12, 0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d05, 0x4b564d06, 0x4b564d07];
const KNOWN = new Set([0x174, 0x175, 0x176, 0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082, 0x10, 0x277, 0x3b, 0x6e0, 0x1a0, ...PV]);

function program(): GuestAsm {
  const a = new GuestAsm('pv-msrs');
  a.label('rd').rdmsr().out(0x80, 0, 1).hlt();
  a.label('wr').wrmsr().out(0x80, 0, 1).hlt();
  // wrmsr; mov eax, [ebx]; mov edx, [ebx + 0x18]: the guest reads its pvclock's version and multiplier.
  a.label('clk').wrmsr().load(r0, r1).load(r3, [r1, 0x18]).out(0x80, 0, 1).hlt();
  a.label('gp').handler(13, 'gp').out(0x8d, 0, 1).hlt();
  return a;
}

/** The model half of pv-msrs-oracle.c, its helpers line for line. */
class Steps {
  readonly out: string[] = [];
  readonly prog = program().build();
  v!: Vmm;
  fd = 0;
  run!: Mapping;
  mem!: Mapping;
  lastSystemTime = 0n;

  newvm(): void {
    this.v = vmm({ irqchip: 'kernel' });
    this.fd = this.v.vcpus[0]!;
    this.run = this.v.runs[0]!;
    this.mem = addRam(this.v.p, this.v.vm, 0, 0, 0x10000);
    this.v.host.control.kvm.loadGuest(this.v.p, this.fd, this.prog);
  }
  get p() {
    return this.v.p;
  }
  get vcpu(): KvmVcpu {
    return this.v.host.control.kvm.vcpu(this.p, this.fd).vcpu;
  }
  res(what: string, f: () => number): void {
    this.out.push(`${what}: ${resultCode(f)}`);
  }
  msr(set: boolean, index: number, data: bigint): { r: string; data: bigint } {
    const b = new Uint8Array(kvm_msrs.size + kvm_msr_entry.size);
    setU32(b, 0, 1);
    setU32(b, kvm_msrs.size, index);
    setU64(b, kvm_msrs.size + 8, data);
    const r = resultCode(() => this.p.ioctl(this.fd, set ? K.KVM_SET_MSRS : K.KVM_GET_MSRS, b));
    return { r, data: getU64(b, kvm_msrs.size + 8) };
  }
  hostmsr(what: string, set: boolean, index: number, data: bigint): void {
    const { r, data: d } = this.msr(set, index, data);
    this.out.push(r.startsWith('E') ? `${what}: ${r}` : `${what}: ${r} ${d.toString(16)}`);
  }
  rd32(gpa: number): number {
    return this.mem.read32(gpa) >>> 0;
  }
  rd64(gpa: number): bigint {
    return (BigInt(this.rd32(gpa + 4)) << 32n) | BigInt(this.rd32(gpa));
  }
  acc(what: string, label: string, index: number, lo: number, hi: number, ebx: number): void {
    const b = new Uint8Array(K.kvm_regs.size);
    setU64(b, G('rip'), BigInt(this.prog.at(label)));
    setU64(b, G('rsp'), 0x8000n);
    setU64(b, G('rflags'), 2n);
    setU64(b, G('rcx'), BigInt(index));
    setU64(b, G('rax'), BigInt(lo));
    setU64(b, G('rdx'), BigInt(hi));
    setU64(b, G('rbx'), BigInt(ebx));
    this.p.ioctl(this.fd, K.KVM_SET_REGS, b);
    const code = resultCode(() => this.p.ioctl(this.fd, K.KVM_RUN));
    let line = code !== '0' ? `${what}: ${code}` : `${what}: exit=${this.run.read32(R('exit_reason'))}`;
    if (code === '0' && this.run.read32(R('exit_reason')) === K.KVM_EXIT_IO) line += ` io=${this.run.read16(R('io.port')).toString(16)}`;
    this.p.ioctl(this.fd, K.KVM_GET_REGS, b);
    this.out.push(`${line} eax=${getU32(b, G('rax')).toString(16)} edx=${getU32(b, G('rdx')).toString(16)}`);
  }
  rd(what: string, index: number): void {
    this.acc(what, 'rd', index, 0, 0, 0);
  }
  wr(what: string, index: number, v: bigint): void {
    this.acc(what, 'wr', index, Number(v & 0xffff_ffffn), Number(v >> 32n), 0);
  }
  clockflags(what: string): void {
    const c = new Uint8Array(K.kvm_clock_data.size);
    const r = resultCode(() => this.p.ioctl(this.v.vm, K.KVM_GET_CLOCK, c));
    const f = (o: string) => getU64(c, K.kvm_clock_data.offsetof(o)) !== 0n ? 1 : 0;
    this.out.push(`${what}: ${r} flags=${getU32(c, K.kvm_clock_data.offsetof('flags'))} realtime=${f('realtime')}`);
  }
  kvmclock(): bigint {
    const c = new Uint8Array(K.kvm_clock_data.size);
    this.p.ioctl(this.v.vm, K.KVM_GET_CLOCK, c);
    return getU64(c, 0);
  }
  /** time(NULL) on the modelled host. */
  now(): number {
    return Number((HOST_REALTIME_AT_BOOT_NS + BigInt(this.v.host.sched.now)) / 1_000_000_000n);
  }
  wallclock(what: string, gpa: number): void {
    const clock = this.kvmclock();
    const d = this.rd32(gpa + 4) + Number(clock / 1_000_000_000n) - this.now();
    this.out.push(`${what}: version=${this.rd32(gpa)} epoch_ok=${d >= -2 && d <= 2 ? 1 : 0} nsec_ok=${this.rd32(gpa + 8) < 1e9 ? 1 : 0}`);
  }
  pvclock(what: string, gpa: number): void {
    const version = this.rd32(gpa);
    const tsc = this.rd64(gpa + 8);
    const msrTsc = this.msr(false, 0x10, 0n).data;
    const st = this.rd64(gpa + 16);
    const mul = this.rd32(gpa + 24);
    const shift = (this.mem.read8(gpa + 28) << 24) >> 24;
    const flags = this.mem.read8(gpa + 29);
    const clock = this.kvmclock();
    const pad = this.rd32(gpa + 4) | this.mem.read8(gpa + 30) | this.mem.read8(gpa + 31);
    const b = (x: boolean) => (x ? 1 : 0);
    this.out.push(
      `${what}: version_even=${b(version % 2 === 0)} written=${b(version !== 0)} mul=${mul.toString(16)} shift=${shift} flags=${flags.toString(16)} ` +
        `tsc_le_msr=${b(tsc <= msrTsc)} st_le_clock=${b(st <= clock)} st_monotonic=${b(st >= this.lastSystemTime)} pad=${pad.toString(16)}`,
    );
    if (version) this.lastSystemTime = st;
  }
  steal(what: string, gpa: number): void {
    const ver = this.rd32(gpa + 8);
    this.out.push(`${what}: version_even=${ver % 2 === 0 ? 1 : 0} written=${ver !== 0 ? 1 : 0} preempted=${this.mem.read8(gpa + 16)}`);
  }
  enforce(what: string, on: bigint, flags: number): void {
    this.res(what, () => enableCap(this.p, this.fd, K.KVM_CAP_ENFORCE_PV_FEATURE_CPUID, on, flags));
  }
  /** KVM_SET_CPUID2 with the KVM signature leaf at `base` and the features leaf after it. */
  pvcpuid(what: string, features: number, base = 0x40000000): void {
    const b = new Uint8Array(8 + 2 * 40);
    setU32(b, 0, 2);
    const e = (i: number, regs: number[]) => regs.forEach((x, k) => setU32(b, 8 + i * 40 + (k === 0 ? 0 : 8 + k * 4), x));
    e(0, [base, base + 1, 0x4b4d564b, 0x564b4d56, 0x4d]);
    e(1, [base + 1, features, 0, 0, 0]);
    this.res(what, () => this.p.ioctl(this.fd, K.KVM_SET_CPUID2, b));
  }
}

/** The model half of pv-msrs-oracle.c. */
function modelLines(): string[] {
  const s = new Steps();
  const h = (what: string, set: boolean, index: number, data: number | bigint) => s.hostmsr(what, set, index, BigInt(data));
  s.newvm();
  const { p } = s.v;
  s.out.push(`cap enforce pv feature cpuid: ${p.ioctl(s.v.kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_ENFORCE_PV_FEATURE_CPUID)}`);
  s.out.push(`cap kvmclock ctrl: ${p.ioctl(s.v.kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_KVMCLOCK_CTRL)}`);
  {
    const l = new Uint8Array(kvm_msr_list.size + 4 * 1024);
    setU32(l, 0, 1024);
    p.ioctl(s.v.kvm, K.KVM_GET_MSR_INDEX_LIST, l);
    const list: string[] = [];
    for (let i = 0; i < getU32(l, 0); i++) if (KNOWN.has(getU32(l, 4 + i * 4))) list.push(getU32(l, 4 + i * 4).toString(16));
    s.out.push(`index list: ${list.join(' ')}`);
  }
  for (const i of PV) h(`get ${i.toString(16)}`, false, i, 0);
  h('set wall clock', true, 0x11, 0x3000);
  s.wallclock('wall clock', 0x3000);
  h('set wall clock again', true, 0x11, 0x3000);
  s.wallclock('wall clock again', 0x3000);
  for (let i = 0; i < 16; i++) s.mem.write8(0x3000 + i, 0);
  s.mem.write8(0x3000, 7);
  h('set wall clock odd junk', true, 0x4b564d00, 0x3000);
  s.wallclock('wall clock odd junk', 0x3000);
  h('get wall clock', false, 0x11, 0);
  h('get wall clock new', false, 0x4b564d00, 0);
  h('set wall clock unmapped', true, 0x11, 0x100000);
  h('get wall clock unmapped', false, 0x4b564d00, 0);
  h('set wall clock 0', true, 0x11, 0);

  s.res('kvmclock ctrl before kvmclock', () => p.ioctl(s.fd, K.KVM_KVMCLOCK_CTRL, 0));
  h('set system time new', true, 0x4b564d01, 0x4001);
  h('get system time new', false, 0x4b564d01, 0);
  h('get system time', false, 0x12, 0);
  s.pvclock('pvclock before run', 0x4000);
  s.clockflags('get_clock before any guest entry');
  s.rd('run', 0x277);
  s.pvclock('pvclock after run', 0x4000);
  s.clockflags('get_clock after a guest entry');
  s.rd('run', 0x277);
  s.pvclock('pvclock after 2nd run', 0x4000);
  s.res('kvmclock ctrl', () => p.ioctl(s.fd, K.KVM_KVMCLOCK_CTRL, 0));
  s.rd('run', 0x277);
  s.pvclock('pvclock after kvmclock ctrl', 0x4000);
  s.mem.write8(0x401d, s.mem.read8(0x401d) & ~2);
  s.rd('run', 0x277);
  s.pvclock('pvclock after the guest cleared it', 0x4000);
  h('set khz-independent', true, 0x4b564d01, 0x4001);
  s.res('set tsc khz', () => p.ioctl(s.fd, K.KVM_SET_TSC_KHZ, 3000000));
  s.rd('run after tsc khz', 0x277);
  s.pvclock('pvclock after tsc khz', 0x4000);
  h('set system time crossing a page', true, 0x12, 0x4ff1);
  s.rd('run', 0x277);
  s.out.push(`crossing a page: written=${s.rd32(0x4ff0) !== 0 ? 1 : 0}`);
  h('set system time disabled', true, 0x12, 0x5000);
  s.rd('run', 0x277);
  s.out.push(`disabled: written=${s.rd32(0x5000) !== 0 ? 1 : 0}`);
  h('set system time unmapped', true, 0x12, 0x100001);
  s.rd('run', 0x277);
  h('set system time odd address', true, 0x12, 0x5105);
  h('get system time odd address', false, 0x12, 0);
  s.rd('run', 0x277);
  s.out.push(`odd address: written=${s.rd32(0x5104) !== 0 ? 1 : 0}`);
  h('set system time 0', true, 0x12, 0);

  h('set async pf reserved 0x10', true, 0x4b564d02, 0x6011);
  h('set async pf reserved 0x20', true, 0x4b564d02, 0x6021);
  h('set async pf enabled', true, 0x4b564d02, 0x6001);
  h('set async pf all flags', true, 0x4b564d02, 0x600f);
  h('get async pf', false, 0x4b564d02, 0);
  h('set async pf unmapped', true, 0x4b564d02, 0x100009);
  h('get async pf after failure', false, 0x4b564d02, 0);
  h('set async pf unmapped, no int', true, 0x4b564d02, 0x100001);
  h('set async pf low bits of address', true, 0x4b564d02, 0x6041);
  h('set async pf 0', true, 0x4b564d02, 0);
  h('set async pf int vector 0xec', true, 0x4b564d06, 0xec);
  h('set async pf with int delivery', true, 0x4b564d02, 0x6009);
  s.rd('run with async pf', 0x277);
  {
    const ls = new Uint8Array(K.kvm_lapic_state.size);
    p.ioctl(s.fd, K.KVM_GET_LAPIC, ls);
    const irr7 = getU32(ls, 0x200 + 0x70);
    s.out.push(`async pf page ready: token=${s.rd32(0x6004).toString(16)} reason=${s.rd32(0x6000).toString(16)} irr 0xec=${(irr7 >>> 12) & 1}`);
  }
  s.rd('run again', 0x277);
  s.out.push(`async pf again: token=${s.rd32(0x6004).toString(16)}`);
  h('set async pf ack', true, 0x4b564d07, 1);
  h('set async pf 0', true, 0x4b564d02, 0);
  h('set async pf int 0x1ec', true, 0x4b564d06, 0x1ec);
  h('set async pf int 0xec', true, 0x4b564d06, 0xec);
  h('set async pf int 0', true, 0x4b564d06, 0);
  h('get async pf int', false, 0x4b564d06, 0);
  h('set async pf ack 1', true, 0x4b564d07, 1);
  h('set async pf ack 2', true, 0x4b564d07, 2);
  h('get async pf ack', false, 0x4b564d07, 0);

  h('set steal time reserved 2', true, 0x4b564d03, 0x7003);
  h('set steal time reserved 0x20', true, 0x4b564d03, 0x7021);
  h('set steal time', true, 0x4b564d03, 0x7001);
  h('get steal time', false, 0x4b564d03, 0);
  s.rd('run', 0x277);
  s.steal('steal time', 0x7000);
  h('set steal time disabled', true, 0x4b564d03, 0x7040);
  s.rd('run', 0x277);
  s.steal('steal time disabled', 0x7040);
  h('set steal time 0', true, 0x4b564d03, 0);

  h('set pv eoi', true, 0x4b564d04, 0x8001);
  h('set pv eoi misaligned', true, 0x4b564d04, 0x8003);
  h('set pv eoi misaligned disabled', true, 0x4b564d04, 0x8002);
  h('set pv eoi unmapped', true, 0x4b564d04, 0x100001);
  h('set pv eoi unmapped disabled', true, 0x4b564d04, 0x100000);
  h('get pv eoi', false, 0x4b564d04, 0);
  h('set pv eoi 0', true, 0x4b564d04, 0);

  h('set poll control 2', true, 0x4b564d05, 2);
  h('set poll control 0', true, 0x4b564d05, 0);
  h('get poll control', false, 0x4b564d05, 0);
  h('set poll control 1', true, 0x4b564d05, 1);

  s.rd('rd wall clock', 0x11);
  s.rd('rd poll control', 0x4b564d05);
  s.wr('wr poll control 2', 0x4b564d05, 2n);
  s.wr('wr steal time reserved', 0x4b564d03, 0x7003n);
  s.wr('wr pv eoi misaligned', 0x4b564d04, 0x8003n);
  s.wr('wr async pf int 0x1ec', 0x4b564d06, 0x1ecn);
  s.rd('rd async pf ack', 0x4b564d07);
  for (let i = 0; i < 16; i++) s.mem.write8(0x3800 + i, 0);
  s.wr('wr wall clock new', 0x4b564d00, 0x3800n);
  s.wallclock('guest wall clock', 0x3800);
  for (let i = 0; i < 32; i++) s.mem.write8(0x4800 + i, 0);
  s.acc('guest enables kvmclock', 'clk', 0x4b564d01, 0x4801, 0, 0x4800);
  s.pvclock('guest pvclock', 0x4800);
  s.rd('rd system time new', 0x4b564d01);
  s.wr('wr system time 0', 0x4b564d01, 0n);

  s.newvm();
  s.enforce('enforce, flags 1', 1n, 1);
  s.enforce('enforce', 1n, 0);
  h('enforced, no cpuid: get system time new', false, 0x4b564d01, 0);
  h('enforced, no cpuid: set system time new 0', true, 0x4b564d01, 0);
  h('enforced, no cpuid: set system time new', true, 0x4b564d01, 0x4001);
  h('enforced, no cpuid: get poll control', false, 0x4b564d05, 0);
  s.pvcpuid('cpuid clocksource2|async pf|poll control', (1 << 3) | (1 << 4) | (1 << 12));
  h('enforced: set system time new', true, 0x4b564d01, 0x4001);
  h('enforced: set system time', true, 0x12, 0x4001);
  h('enforced: get wall clock', false, 0x11, 0);
  h('enforced: set async pf with int delivery', true, 0x4b564d02, 0x6009);
  h('enforced: set async pf with vmexit delivery', true, 0x4b564d02, 0x6005);
  h('enforced: set async pf', true, 0x4b564d02, 0x6003);
  h('enforced: get async pf', false, 0x4b564d02, 0);
  h('enforced: set async pf 0', true, 0x4b564d02, 0);
  h('enforced: get async pf int', false, 0x4b564d06, 0);
  h('enforced: get async pf ack', false, 0x4b564d07, 0);
  h('enforced: get steal time', false, 0x4b564d03, 0);
  h('enforced: get pv eoi', false, 0x4b564d04, 0);
  h('enforced: get poll control', false, 0x4b564d05, 0);
  s.rd('enforced: rd system time new', 0x4b564d01);
  s.rd('enforced: rd system time', 0x12);
  s.rd('enforced: rd async pf ack', 0x4b564d07);
  s.rd('enforced: rd async pf', 0x4b564d02);
  s.wr('enforced: wr steal time', 0x4b564d03, 0n);
  s.res('user space msr all', () => enableCap(s.p, s.v.vm, K.KVM_CAP_X86_USER_SPACE_MSR, 7));
  s.rd('enforced: rd system time, user space msr', 0x12);
  s.out.push(`exit reason: ${s.run.read32(R('msr.reason'))} index=${s.run.read32(R('msr.index')).toString(16)}`);
  s.run.write8(R('msr.error'), 1);
  s.res('refused', () => s.p.ioctl(s.fd, K.KVM_RUN));
  s.out.push(`refused: exit=${s.run.read32(R('exit_reason'))} io=${s.run.read16(R('io.port')).toString(16)}`);
  s.enforce('enforce off', 0n, 0);
  h('not enforced: get system time', false, 0x12, 0);
  s.rd('not enforced: rd steal time', 0x4b564d03);
  return s.out;
}

const label = (l: string) => l.slice(0, l.indexOf(':'));

describe('KVM PV MSRs against the real kernel', () => {
  it.skipIf(SKIP !== undefined)('prints what pv-msrs-oracle.c prints on /dev/kvm', () => {
    const real = runCOracle(join(here, 'pv-msrs-oracle.c'));
    const model = modelLines();
    expect(model.map(label)).toEqual(real.map(label));
    expect(model).toEqual(real);
  });
});

/** A fresh model step helper with RAM and the program. */
function model(): Steps {
  const s = new Steps();
  s.newvm();
  return s;
}
const last = (s: Steps) => s.out[s.out.length - 1]!;

describe('KVM_GET_MSR_INDEX_LIST lists the PV MSRs in emulated_msrs_all order (x86.c)', () => {
  it('SYSTEM_TIME, WALL_CLOCK, *_NEW, ASYNC_PF_EN, STEAL_TIME, PV_EOI_EN, ASYNC_PF_INT, ASYNC_PF_ACK before TSC_ADJUST; POLL_CONTROL last', () => {
    const i = KVM_MSR_INDEX_LIST.indexOf(0x12);
    expect(KVM_MSR_INDEX_LIST.slice(i, i + 10)).toEqual([0x12, 0x11, 0x4b564d01, 0x4b564d00, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d06, 0x4b564d07, 0x3b]);
    expect(KVM_MSR_INDEX_LIST[KVM_MSR_INDEX_LIST.length - 1]).toBe(0x4b564d05);
  });
});

describe('kvmclock (x86.c kvm_write_wall_clock, kvm_write_system_time, kvm_guest_time_update, kvm_setup_guest_pvclock)', () => {
  it('the wall clock is the host realtime at kvmclock 0: sec/nsec of HOST_REALTIME - KVM_GET_CLOCK, version even', () => {
    const s = model();
    s.hostmsr('wc', true, 0x11, 0x3000n);
    const clock = s.kvmclock();
    const epoch = HOST_REALTIME_AT_BOOT_NS + BigInt(s.v.host.sched.now) - clock;
    expect(s.rd32(0x3000)).toBe(2);
    expect(s.rd32(0x3004)).toBe(Number(epoch / 1_000_000_000n));
    expect(s.rd32(0x3008)).toBe(Number(epoch % 1_000_000_000n));
    // KVM_SET_CLOCK moves kvmclock, so the epoch moves the other way at the next write.
    const c = new Uint8Array(K.kvm_clock_data.size);
    setU64(c, 0, clock + 5_000_000_000n);
    s.p.ioctl(s.v.vm, K.KVM_SET_CLOCK, c);
    s.hostmsr('wc', true, 0x11, 0x3000n);
    expect(s.rd32(0x3000)).toBe(4);
    expect(s.rd32(0x3004)).toBe(Number(epoch / 1_000_000_000n) - 5);
  });

  it('the pvclock is written at the next entry only: version (old + 1) | 1, then + 1; the fields as kvm_guest_time_update computes them', () => {
    const s = model();
    s.mem.write32(0x4000, 5); // junk version
    s.hostmsr('st', true, 0x4b564d01, 0x4001n);
    expect(s.rd32(0x4000)).toBe(5);
    s.rd('run', 0x277);
    expect(s.rd32(0x4000)).toBe(8); // ((5 + 1) | 1) + 1
    const { mult, shift } = kvmGetTimeScale(1_000_000_000n, BigInt(HOST_TSC_KHZ) * 1000n);
    expect(s.rd32(0x4018)).toBe(mult);
    expect((s.mem.read8(0x401c) << 24) >> 24).toBe(shift);
    expect(s.mem.read8(0x401d)).toBe(1); // PVCLOCK_TSC_STABLE_BIT: a single, matched vCPU uses the master clock
    const st = s.rd64(0x4010);
    const tsc = s.rd64(0x4008);
    // system_time is kvmclock, tsc_timestamp the guest TSC, at the same instant.
    const now = s.msr(false, 0x10, 0n).data;
    const kclock = s.kvmclock();
    expect(kclock >= st).toBe(true);
    expect(now >= tsc).toBe(true);
    // The pvclock formula turns the TSC delta into the kvmclock delta (to within rounding).
    const d = now - tsc;
    const scaled = ((shift < 0 ? d >> BigInt(-shift) : d << BigInt(shift)) * BigInt(mult)) >> 32n;
    expect(Number(kclock - (st + scaled))).toBeLessThan(2);
    expect(Number(kclock - (st + scaled))).toBeGreaterThan(-2);
  });

  it('in TSC catch-up mode every guest entry rewrites the pvclock (vcpu_enter_guest: tsc_always_catchup requests KVM_REQ_CLOCK_UPDATE at each exit)', () => {
    const s = model();
    s.hostmsr('st', true, 0x4b564d01, 0x4001n);
    s.rd('run', 0x277);
    expect(s.rd32(0x4000)).toBe(2);
    s.rd('run', 0x277);
    expect(s.rd32(0x4000)).toBe(2); // no request pending: not rewritten
    // Above the host rate and its tolerance: kvm_set_tsc_khz() turns on always-catchup.
    expect(s.p.ioctl(s.fd, K.KVM_SET_TSC_KHZ, 3_000_000)).toBe(0);
    expect(s.vcpu.tsc.tscAlwaysCatchup).toBe(true);
    s.rd('run', 0x277);
    const v = s.rd32(0x4000);
    s.rd('run', 0x277);
    expect(s.rd32(0x4000)).toBe(v + 2);
    s.rd('run', 0x277);
    expect(s.rd32(0x4000)).toBe(v + 4);
  });

  it('PVCLOCK_GUEST_STOPPED in the guest copy is kept; a second vCPU in another TSC generation clears the stable bit once it enters (kvm_track_tsc_matching asks that vCPU for KVM_REQ_MASTERCLOCK_UPDATE)', () => {
    const s = model();
    s.mem.write8(0x401d, 2);
    s.hostmsr('st', true, 0x12, 0x4001n);
    s.rd('run', 0x277);
    expect(s.mem.read8(0x401d)).toBe(3);
    // vCPU 1 created, then given a TSC far from vCPU 0's: a new generation, vCPUs no longer matched.
    const fd1 = s.p.ioctl(s.v.vm, K.KVM_CREATE_VCPU, 1);
    const b = new Uint8Array(kvm_msrs.size + kvm_msr_entry.size);
    setU32(b, 0, 1);
    setU32(b, kvm_msrs.size, 0x10);
    setU64(b, kvm_msrs.size + 8, 1n << 50n);
    s.p.ioctl(fd1, K.KVM_SET_MSRS, b);
    // The request sits on vCPU 1: vCPU 0's next pvclock still says stable.
    s.mem.write8(0x401d, 0);
    s.hostmsr('st', true, 0x12, 0x4001n);
    s.rd('run', 0x277);
    expect(s.mem.read8(0x401d)).toBe(1);
    // vCPU 1 enters: the master clock is recomputed (off) and every vCPU's pvclock refreshed.
    const a = new GuestAsm('ap');
    a.out(0x80, 0, 1).hlt();
    s.v.host.control.kvm.loadGuest(s.p, fd1, a.build());
    const mp = new Uint8Array(4);
    setU32(mp, 0, K.KVM_MP_STATE_RUNNABLE);
    s.p.ioctl(fd1, K.KVM_SET_MP_STATE, mp);
    s.p.ioctl(fd1, K.KVM_RUN);
    s.rd('run', 0x277);
    expect(s.mem.read8(0x401d)).toBe(0);
  });

  it('a guest write from vCPU 0 to the old MSR_KVM_SYSTEM_TIME turns the master clock off (boot_vcpu_runs_old_kvmclock)', () => {
    const s = model();
    s.acc('old', 'clk', 0x12, 0x4801, 0, 0x4800);
    expect(s.mem.read8(0x481d)).toBe(0);
    s.acc('new', 'clk', 0x4b564d01, 0x4801, 0, 0x4800);
    expect(s.mem.read8(0x481d)).toBe(1);
  });

  it('no page crossing, no write without the enable bit, no write to read-only or missing memory; the MSR keeps the value', () => {
    const s = model();
    for (const [gpa, where] of [[0x4ff1n, 0x4ff0], [0x5000n, 0x5000], [0x100001n, 0]] as const) {
      s.hostmsr('st', true, 0x12, gpa);
      s.rd('run', 0x277);
      if (where) expect(s.rd32(where)).toBe(0);
      s.hostmsr('get', false, 0x12, 0n);
      expect(last(s)).toBe(`get: 1 ${gpa.toString(16)}`);
    }
  });

  it('KVM_SET_CLOCK asks every vCPU for a clock update (kvm_end_pvclock_update)', () => {
    const s = model();
    s.hostmsr('st', true, 0x12, 0x4001n);
    s.rd('run', 0x277);
    s.rd('run', 0x277);
    expect(s.rd32(0x4000)).toBe(2); // no request, no update
    const c = new Uint8Array(K.kvm_clock_data.size);
    s.p.ioctl(s.v.vm, K.KVM_SET_CLOCK, c);
    s.rd('run', 0x277);
    expect(s.rd32(0x4000)).toBe(4);
  });
});

describe('KVM_KVMCLOCK_CTRL (x86.c kvm_set_guest_paused, kvm_guest_time_update)', () => {
  it('is EINVAL until the guest enabled kvmclock; then the next pvclock carries PVCLOCK_GUEST_STOPPED, and only that one', () => {
    const lines = modelLines();
    const get = (k: string) => lines.find((l) => l.startsWith(`${k}: `));
    expect(get('cap kvmclock ctrl')).toBe('cap kvmclock ctrl: 1');
    expect(get('kvmclock ctrl before kvmclock')).toBe('kvmclock ctrl before kvmclock: E22');
    expect(get('kvmclock ctrl')).toBe('kvmclock ctrl: 0');
    expect(get('pvclock after kvmclock ctrl')).toMatch(/ flags=3 /);
    expect(get('pvclock after the guest cleared it')).toMatch(/ flags=1 /);
  });
});

describe('async PF, steal time, PV EOI, poll control (x86.c, lapic.c kvm_lapic_set_pv_eoi)', () => {
  it('without an in-kernel LAPIC: ASYNC_PF_EN takes only 0, ASYNC_PF_INT nothing (lapic_in_kernel)', () => {
    const s = new Steps();
    s.v = vmm({ irqchip: 'none' });
    s.fd = s.v.vcpus[0]!;
    s.hostmsr('en', true, 0x4b564d02, 0x6001n);
    expect(last(s)).toBe('en: 0 6001');
    s.hostmsr('en0', true, 0x4b564d02, 0n);
    expect(last(s)).toBe('en0: 1 0');
    s.hostmsr('int', true, 0x4b564d06, 0xecn);
    expect(last(s)).toBe('int: 0 ec');
    // PV EOI needs no LAPIC for the MSR itself.
    s.hostmsr('eoi', true, 0x4b564d04, 0n);
    expect(last(s)).toBe('eoi: 1 0');
  });

  it('DELIVERY_AS_PF_VMEXIT needs KVM_FEATURE_ASYNC_PF_VMEXIT and DELIVERY_AS_INT KVM_FEATURE_ASYNC_PF_INT when enforced', () => {
    const s = model();
    s.enforce('on', 1n, 0);
    s.pvcpuid('cpuid', (1 << 4) | (1 << 10) | (1 << 14));
    s.hostmsr('int', true, 0x4b564d02, 0x6009n);
    expect(last(s)).toBe('int: 1 6009');
    s.hostmsr('vmexit', true, 0x4b564d02, 0x6005n);
    expect(last(s)).toBe('vmexit: 1 6005');
  });

  it('steal time: version goes up by 2 at each entry, steal and the flags stay; nothing without the enable bit', () => {
    const s = model();
    s.mem.write32(0x7000, 123);
    s.mem.write8(0x7010, 1);
    s.hostmsr('st', true, 0x4b564d03, 0x7001n);
    s.rd('run', 0x277);
    expect(s.rd32(0x7008)).toBe(2);
    s.rd('run', 0x277);
    expect(s.rd32(0x7008)).toBe(4);
    expect(s.rd32(0x7000)).toBe(123);
    expect(s.mem.read8(0x7010)).toBe(0);
  });

  it('steal time is recorded at each entry without touching the bigint MSR value (record_steal_time is per-entry: no allocation)', () => {
    const s = model();
    s.hostmsr('st', true, 0x4b564d03, 0x7041n);
    // From here on, reading the u64 MSR value on the entry path fails the test.
    Object.defineProperty(s.vcpu.pv, 'stMsrVal', { get: () => { throw new Error('the guest entry read st.msr_val as a bigint'); }, configurable: true });
    s.rd('run', 0x277);
    s.rd('run', 0x277);
    expect(s.rd32(0x7048)).toBe(4);
  });
});

describe('RESET and INIT (x86.c kvm_vcpu_reset, lapic.c kvm_lapic_reset)', () => {
  for (const init of [false, true]) {
    it(`${init ? 'INIT' : 'RESET'} clears async PF, steal time, the system time and PV EOI, keeps poll control and the wall clock`, () => {
      const s = model();
      const set: [number, bigint][] = [[0x4b564d01, 0x4001n], [0x4b564d02, 0x6001n], [0x4b564d06, 0xecn], [0x4b564d03, 0x7001n], [0x4b564d04, 0x8001n], [0x4b564d05, 0n], [0x4b564d00, 0x3000n]];
      for (const [i, d] of set) s.hostmsr('set', true, i, d);
      kvmVcpuReset(s.vcpu, init);
      const got = set.map(([i]) => s.msr(false, i, 0n).data);
      expect(got).toEqual([0n, 0n, 0n, 0n, 0n, 0n, 0x3000n]);
    });
  }
});

describe('KVM_CAP_ENFORCE_PV_FEATURE_CPUID (x86.c kvm_vcpu_ioctl_enable_cap, cpuid.c kvm_update_pv_runtime)', () => {
  it('is 1 on /dev/kvm; unknown vCPU capabilities and non-zero flags are EINVAL', () => {
    const s = model();
    expect(s.p.ioctl(s.v.kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_ENFORCE_PV_FEATURE_CPUID)).toBe(1);
    s.res('other', () => enableCap(s.p, s.fd, K.KVM_CAP_X86_USER_SPACE_MSR, 1));
    expect(last(s)).toBe('other: E22');
    s.enforce('flags', 1n, 2);
    expect(last(s)).toBe('flags: E22');
  });

  it('the KVM leaves are found at any 0x100 step from 0x40000000; a later table without them keeps the features', () => {
    const s = model();
    s.enforce('on', 1n, 0);
    s.pvcpuid('cpuid', 1 << 12, 0x40000100);
    expect(last(s)).toBe('cpuid: 0');
    s.hostmsr('poll', true, 0x4b564d05, 0n);
    expect(last(s)).toBe('poll: 1 0');
    s.hostmsr('poll', true, 0x4b564d05, 1n);
    expect(last(s)).toBe('poll: 1 1');
    const none = new Uint8Array(8);
    s.p.ioctl(s.fd, K.KVM_SET_CPUID2, none);
    s.hostmsr('poll', true, 0x4b564d05, 0n);
    s.hostmsr('poll', false, 0x4b564d05, 0n);
    expect(last(s)).toBe('poll: 1 0');
    s.hostmsr('st', true, 0x4b564d01, 1n);
    expect(last(s)).toBe('st: 0 1');
  });
});
