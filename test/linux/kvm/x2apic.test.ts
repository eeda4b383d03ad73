// x2APIC mode of KVM's in-kernel LAPIC (arch/x86/kvm/lapic.c: kvm_apic_set_base, __kvm_apic_set_base,
// kvm_apic_set_x2apic_id, kvm_x2apic_msr_read/write, kvm_lapic_msr_read/write, kvm_lapic_reg_read/write,
// kvm_lapic_readable_reg_mask, __kvm_x2apic_icr_write, kvm_apic_state_fixup, kvm_apic_set_state,
// kvm_recalculate_phys_map/logical_map, kvm_apic_map_get_logical_dest, kvm_apic_is_broadcast_dest,
// kvm_apic_mda, kvm_apic_match_physical_addr, kvm_apic_set_version, kvm_lapic_reset; x86.c
// kvm_get/set_msr_common for 0x800-0x8ff and KVM_CAP_X2APIC_API).
//
// x2apic-oracle.c runs a fixed sequence on this machine's /dev/kvm — two VMs (full irqchip, legacy ID
// format; split irqchip with KVM_X2APIC_API_USE_32BIT_IDS | DISABLE_BROADCAST_QUIRK), each with vCPU 2
// taken to x2APIC mode and another vCPU left in xAPIC mode: host KVM_GET/SET_MSRS of IA32_APIC_BASE and
// the x2APIC MSRs, KVM_GET/SET_LAPIC, IPIs through the x2APIC ICR, KVM_SIGNAL_MSI, and a flat 32-bit
// guest doing RDMSR/WRMSR and an xAPIC MMIO read; then three split-irqchip VMs with each suppress-EOI-broadcast
// setting, whose guest turns on directed EOI and EOIs a level-triggered MSI a routed GSI makes KVM watch.
// The model runs the same steps with a GuestAsm program and every printed line must match, but one kind:
//  - "run to the eoi": this kvm_pvm host never exits with KVM_EXIT_IOAPIC_EOI there (also without x2APIC,
//    with an MMIO EOI, measured; it delivers interrupts as if with auto-EOI, so the guest's EOI finds no
//    ISR bit: see differential.test.ts), while lapic.c kvm_ioapic_send_eoi + x86.c vcpu_enter_guest exit for a
//    vector a level MSI route put in ioapic_handled_vectors (kvm_scan_ioapic_routes) unless the guest set
//    directed EOI and userspace enabled the suppression. The model follows the source; the unit test below
//    checks the three modes.
// Everything else behaves as lapic.c says (its ICR is not split, as on VMX).
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestAsm, r0, r1 } from '../../../src/guest/program.js';
import { enableX2apic, ioapicRoute, maskPic, x2apicEoi } from '../../../src/guest/x86.js';
import { getU32, setU32, setU64 } from '../../../abi/bytes.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import type { Mapping } from '../../../src/linux/mm/address-space.js';
import { enableCap, K, leaf1Cpuid, lineStatus, oneMsr, setRoutes, signalMsi } from './helpers.js';
import { oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = oracleSkip('KVM x2APIC', ['kvm']);

const G = (f: string) => K.kvm_regs.offsetof(f);
const LAPIC = 0x400;
const hex = (x: number | bigint) => x.toString(16);

function program(): GuestAsm {
  const a = new GuestAsm('x2apic');
  a.label('rd').rdmsr().out(0x80, 0, 1).hlt();
  a.label('wr').wrmsr().out(0x80, 0, 1).hlt();
  a.label('mmio').load32(r0, 0xfee00030).out(0x80, 0, 1).hlt();
  a.label('gp').handler(13, 'gp').out(0x8d, 0, 1).hlt();
  return a;
}

/** The model half of x2apic-oracle.c: the same helpers, the same lines. */
class Steps {
  readonly out: string[] = [];
  readonly prog = program().build();
  constructor(
    readonly p: Process,
    readonly host: Host,
  ) {}
  res(what: string, f: () => number): void {
    this.out.push(`${what}: ${resultCode(f)}`);
  }
  msr(what: string, fd: number, set: boolean, index: number, data: bigint): void {
    const { r, data: d } = oneMsr(this.p, fd, set, index, data);
    this.out.push(r.startsWith('E') || set ? `${what}: ${r}` : `${what}: ${r} ${hex(d)}`);
  }
  lapic(what: string, fd: number): void {
    const s = new Uint8Array(LAPIC);
    const r = resultCode(() => this.p.ioctl(fd, K.KVM_GET_LAPIC, s));
    if (r !== '0') {
      this.out.push(`${what}: ${r}`);
      return;
    }
    const g = (o: number) => hex(getU32(s, o));
    this.out.push(`${what}: id=${g(0x20)} lvr=${g(0x30)} tpr=${g(0x80)} ldr=${g(0xd0)} dfr=${g(0xe0)} spiv=${g(0xf0)} icr=${g(0x300)} icr+4=${g(0x304)} icr2=${g(0x310)} irr2=${g(0x220)}`);
  }
  setlapic(what: string, fd: number, id: number, spiv: number, icr: number, icr2: number): void {
    const s = new Uint8Array(LAPIC);
    this.p.ioctl(fd, K.KVM_GET_LAPIC, s);
    if (id >= 0) setU32(s, 0x20, id);
    if (spiv >= 0) setU32(s, 0xf0, spiv);
    if (icr >= 0) setU32(s, 0x300, icr);
    if (icr2 >= 0) setU32(s, 0x310, icr2);
    this.res(what, () => this.p.ioctl(fd, K.KVM_SET_LAPIC, s));
  }
  cpuid(what: string, fd: number, x2apic: boolean): void {
    this.res(what, () => this.p.ioctl(fd, K.KVM_SET_CPUID2, leaf1Cpuid(x2apic)));
  }
  guest(what: string, fd: number, run: Mapping, label: string, ecx: number, eax: number, edx: number): void {
    const b = new Uint8Array(K.kvm_regs.size);
    setU64(b, G('rip'), BigInt(this.prog.at(label)));
    setU64(b, G('rsp'), 0x8000n);
    setU64(b, G('rflags'), 2n);
    setU64(b, G('rcx'), BigInt(ecx));
    setU64(b, G('rax'), BigInt(eax));
    setU64(b, G('rdx'), BigInt(edx));
    this.p.ioctl(fd, K.KVM_SET_REGS, b);
    const r = resultCode(() => this.p.ioctl(fd, K.KVM_RUN));
    let line = r === '0' ? `${what}: exit=${run.read32(K.kvm_run.offsetof('exit_reason'))}` : `${what}: ${r}`;
    if (r === '0' && run.read32(K.kvm_run.offsetof('exit_reason')) === K.KVM_EXIT_IO) line += ` io=${hex(run.read16(K.kvm_run.offsetof('io.port')))}`;
    this.p.ioctl(fd, K.KVM_GET_REGS, b);
    this.out.push(`${line} eax=${hex(getU32(b, G('rax')))}`);
  }

  vmRun(name: string, kvm: number, split: boolean, api: number, other: number): void {
    const p = this.p;
    const W = (s: string) => `${name} ${s}`;
    const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
    if (split) this.res(W('split irqchip'), () => enableCap(p, vm, K.KVM_CAP_SPLIT_IRQCHIP, 24));
    else this.res(W('create irqchip'), () => p.ioctl(vm, K.KVM_CREATE_IRQCHIP));
    if (api) this.res(W('x2apic api'), () => enableCap(p, vm, K.KVM_CAP_X2APIC_API, api));
    const vfd = p.ioctl(vm, K.KVM_CREATE_VCPU, 2);
    const v1 = p.ioctl(vm, K.KVM_CREATE_VCPU, other);
    const run = p.mmap(null, p.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, vfd, 0);

    this.msr(W('apic base x2apic, no cpuid'), vfd, true, 0x1b, 0xfee00c00n);
    this.cpuid(W('cpuid without x2apic'), vfd, false);
    this.msr(W('apic base x2apic, cpuid lacks it'), vfd, true, 0x1b, 0xfee00c00n);
    this.lapic(W('lapic, cpuid lacks x2apic'), vfd);
    this.cpuid(W('cpuid with x2apic'), vfd, true);
    this.lapic(W('lapic, xapic'), vfd);
    this.msr(W('rd x2apic id in xapic mode'), vfd, false, 0x802, 0n);
    this.msr(W('wr x2apic tpr in xapic mode'), vfd, true, 0x808, 0x10n);
    this.msr(W('apic base extd without enable'), vfd, true, 0x1b, 0xfee00400n);
    this.msr(W('apic base x2apic'), vfd, true, 0x1b, 0xfee00c00n);
    this.msr(W('rd apic base'), vfd, false, 0x1b, 0n);
    this.lapic(W('lapic, x2apic'), vfd);
    const rd: [string, number][] = [
      ['rd id', 0x802], ['rd lvr', 0x803], ['rd tpr', 0x808], ['rd arbpri', 0x809], ['rd ppr', 0x80a],
      ['rd eoi', 0x80b], ['rd ldr', 0x80d], ['rd dfr', 0x80e], ['rd spiv', 0x80f], ['rd esr', 0x828],
      ['rd icr', 0x830], ['rd icr2', 0x831], ['rd lvt0', 0x835], ['rd tmcct', 0x839], ['rd tdcr', 0x83e],
      ['rd self ipi', 0x83f], ['rd 0x8ff', 0x8ff],
    ];
    for (const [n, i] of rd) this.msr(W(n), vfd, false, i, 0n);
    const o = BigInt(other);
    const wr: [string, number, bigint][] = [
      ['wr id', 0x802, 0n], ['wr lvr', 0x803, 0n], ['wr tpr', 0x808, 0x20n], ['wr tpr high bits', 0x808, 1n << 32n],
      ['wr ldr', 0x80d, 1n], ['wr dfr', 0x80e, 0xffffffffn], ['wr spiv', 0x80f, 0x1ffn], ['wr esr 0', 0x828, 0n],
      ['wr esr 1', 0x828, 1n], ['wr icr2', 0x831, 0n], ['wr icr reserved bit 13', 0x830, 1n << 13n],
      ['wr icr reserved bit 20', 0x830, 1n << 20n], ['wr icr busy', 0x830, (1n << 32n) | 0x1000n | 0x45n],
      ['wr icr to other', 0x830, (o << 32n) | 0x46n], ['wr self ipi', 0x83f, 0x41n],
      ['wr self ipi reserved', 0x83f, 0x141n], ['wr eoi', 0x80b, 0n], ['wr eoi nonzero', 0x80b, 5n],
      ['wr tmcct', 0x839, 1n], ['wr ppr', 0x80a, 0n], ['wr isr', 0x810, 0n], ['wr tmict', 0x838, 0n],
    ];
    for (const [n, i, d] of wr) this.msr(W(n), vfd, true, i, d);
    this.lapic(W('lapic after writes'), vfd);
    this.lapic(W('other vcpu, sw-disabled'), v1);
    this.setlapic(W('other vcpu sw enable'), v1, -1, 0x1ff, -1, -1);
    this.msr(W('wr icr to other again'), vfd, true, 0x830, (o << 32n) | 0x47n);
    this.lapic(W('other vcpu lapic'), v1);
    this.msr(W('wr icr broadcast'), vfd, true, 0x830, (0xffffffffn << 32n) | 0x48n);
    this.msr(W('wr icr xapic broadcast'), vfd, true, 0x830, (0xffn << 32n) | 0x49n);
    this.lapic(W('other vcpu after broadcasts'), v1);
    this.lapic(W('self after broadcasts'), vfd);
    this.msr(W('wr icr logical cluster 0 bit other'), vfd, true, 0x830, ((1n << o) << 32n) | 0x800n | 0x4an);
    this.lapic(W('other vcpu after logical'), v1);
    this.setlapic(W('set lapic id 7'), vfd, 7, 0x1fe, 0x12345, 0xabc);
    this.lapic(W('lapic after set id 7'), vfd);
    this.setlapic(W('set lapic id 2'), vfd, 2, 0x1ff, 0x50, 0x9);
    this.lapic(W('lapic after set id 2'), vfd);
    this.setlapic(W('set lapic legacy id format'), vfd, 0x2000000, 0x1fd, -1, -1);
    this.lapic(W('lapic after legacy id'), vfd);

    this.res(W('signal msi to 2'), () => signalMsi(p, vm, 0xfee00000 | (2 << 12), 0x4b));
    this.res(W('signal msi to 0xff'), () => signalMsi(p, vm, 0xfee00000 | (0xff << 12), 0x4c));
    this.res(W('signal msi address_hi 0x100'), () => signalMsi(p, vm, 0xfee00000 | (2 << 12), 0x4d, 0x100));
    this.lapic(W('lapic after msis'), vfd);
    this.lapic(W('other vcpu after msis'), v1);

    const mp = new Uint8Array(4);
    setU32(mp, 0, K.KVM_MP_STATE_RUNNABLE);
    this.res(W('mp state runnable'), () => p.ioctl(vfd, K.KVM_SET_MP_STATE, mp));
    this.host.control.kvm.loadGuest(p, vfd, this.prog);
    const g = (n: string, label: string, ecx: number, eax: number, edx = 0) => this.guest(W(n), vfd, run, label, ecx, eax, edx);
    g('guest rd id', 'rd', 0x802, 0);
    g('guest rd ldr', 'rd', 0x80d, 0);
    g('guest rd icr2', 'rd', 0x831, 0);
    g('guest wr ldr', 'wr', 0x80d, 1);
    g('guest wr tpr', 'wr', 0x808, 0x30);
    g('guest rd tpr', 'rd', 0x808, 0);
    g('guest wr tpr high', 'wr', 0x808, 0x30, 1);
    g('guest mmio lvr in x2apic mode', 'mmio', 0, 0);
    g('guest wr apic base to xapic', 'wr', 0x1b, 0xfee00800);
    g('guest wr apic base disabled', 'wr', 0x1b, 0xfee00000);
    g('guest wr apic base disabled to x2apic', 'wr', 0x1b, 0xfee00c00);
    g('guest wr apic base enabled', 'wr', 0x1b, 0xfee00800);
    g('guest mmio lvr in xapic mode', 'mmio', 0, 0);
    this.lapic(W('lapic after guest to xapic'), vfd);
    g('guest wr apic base x2apic', 'wr', 0x1b, 0xfee00c00);
    this.lapic(W('lapic after guest to x2apic'), vfd);

    this.msr(W('host apic base x2apic to xapic'), vfd, true, 0x1b, 0xfee00800n);
    this.lapic(W('lapic after host to xapic'), vfd);
    this.msr(W('host apic base disabled'), vfd, true, 0x1b, 0xfee00000n);
    this.msr(W('host apic base disabled to x2apic'), vfd, true, 0x1b, 0xfee00c00n);
    this.lapic(W('lapic after host disabled to x2apic'), vfd);

    this.setlapic(W('other vcpu xapic id 2'), v1, 0x2000000, -1, -1, -1);
    this.res(W('signal msi to 2, aliased'), () => signalMsi(p, vm, 0xfee00000 | (2 << 12), 0x4e));
  }
}

/** The model half of eoi_run() in x2apic-oracle.c. */
function eoiLines(s: Steps, name: string, kvm: number, api: number): void {
  const p = s.p;
  const W = (x: string) => `${name} ${x}`;
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  enableCap(p, vm, K.KVM_CAP_SPLIT_IRQCHIP, 24);
  s.res(W('x2apic api'), () => enableCap(p, vm, K.KVM_CAP_X2APIC_API, api));
  const fd = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  const run = p.mmap(null, p.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  s.cpuid(W('cpuid with x2apic'), fd, true);
  s.msr(W('apic base x2apic'), fd, true, 0x1b, 0xfee00d00n);
  s.msr(W('spiv enabled, directed eoi'), fd, true, 0x80f, 0x11ffn);
  s.msr(W('rd spiv'), fd, false, 0x80f, 0n);
  s.msr(W('rd lvr'), fd, false, 0x803, 0n);
  s.res(W('route gsi 5: level msi vector 0x50'), () => setRoutes(p, vm, [{ gsi: 5, msi: { lo: 0xfee00000, data: 0x8050 } }]));
  const a = new GuestAsm('eoi');
  a.label('idle').sti().hlt().jmp('idle');
  a.handler(0x50, 'isr');
  a.label('isr').wrmsr().out(0x81, 0, 1).hlt();
  s.host.control.kvm.loadGuest(p, fd, a.build());
  const b = new Uint8Array(K.kvm_regs.size);
  p.ioctl(fd, K.KVM_GET_REGS, b);
  setU64(b, K.kvm_regs.offsetof('rcx'), 0x80bn);
  p.ioctl(fd, K.KVM_SET_REGS, b);
  s.res(W('signal level msi 0x50'), () => signalMsi(p, vm, 0xfee00000, 0xc050));
  const r = resultCode(() => p.ioctl(fd, K.KVM_RUN));
  const reason = run.read32(K.kvm_run.offsetof('exit_reason'));
  if (r !== '0') s.out.push(`${W('run to the eoi')}: ${r}`);
  else if (reason === K.KVM_EXIT_IOAPIC_EOI) s.out.push(`${W('run to the eoi')}: exit=${reason} vector=${hex(run.read8(K.kvm_run.offsetof('eoi.vector')))}`);
  else s.out.push(`${W('run to the eoi')}: exit=${reason} io=${reason === K.KVM_EXIT_IO ? hex(run.read16(K.kvm_run.offsetof('io.port'))) : 0}`);
}

function modelLines(): string[] {
  const host = Host.create();
  const p = host.spawn();
  const s = new Steps(p, host);
  const kvm = p.open('/dev/kvm', O_RDWR);
  s.out.push(`cap x2apic api: ${p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_X2APIC_API)}`);
  s.vmRun('A', kvm, false, 0, 1);
  s.vmRun('B', kvm, true, 3, 5);
  eoiLines(s, 'C legacy', kvm, 0);
  eoiLines(s, 'C enable', kvm, 4);
  eoiLines(s, 'C disable', kvm, 8);
  return s.out;
}

describe('x2APIC mode against the real kernel', () => {
  it.skipIf(SKIP !== undefined)('every line of x2apic-oracle.c matches the model', () => {
    const hostSpecific = (l: string) => l.includes(' run to the eoi: ');
    const real = runCOracle(join(here, 'x2apic-oracle.c')).filter((l) => !hostSpecific(l));
    const model = modelLines().filter((l) => !hostSpecific(l));
    expect(model.length).toBe(real.length);
    for (let i = 0; i < real.length; i++) expect(`${i}: ${model[i]}`).toBe(`${i}: ${real[i]}`);
  });
});

describe('x2APIC mode in the model', () => {
  const lines = new Map(modelLines().map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));

  it('EXTD needs the guest CPUID X2APIC bit and the enable bit (kvm_apic_set_base: reserved_bits, LAPIC_MODE_INVALID)', () => {
    expect(lines.get('A apic base x2apic, cpuid lacks it')).toBe('0');
    expect(lines.get('A apic base extd without enable')).toBe('0');
    expect(lines.get('A apic base x2apic')).toBe('1');
  });

  it('sets the x2APIC ID and derives LDR; the legacy KVM_GET_LAPIC format shows the ID in bits 31:24 (kvm_apic_state_fixup)', () => {
    expect(lines.get('A rd id')).toBe('1 2');
    expect(lines.get('A rd ldr')).toBe('1 4');
    expect(lines.get('A lapic, x2apic')).toMatch(/^id=2000000 .* ldr=4 /);
    expect(lines.get('B lapic after writes')).toMatch(/^id=2 /);
  });

  it('refuses what x2APIC mode does not have: DFR, ICR2, ARBPRI, EOI and SELF IPI reads; ID/LDR writes; reserved ICR bits', () => {
    for (const k of ['rd dfr', 'rd icr2', 'rd arbpri', 'rd eoi', 'rd self ipi']) expect(lines.get(`A ${k}`)).toBe('0 0');
    for (const k of ['wr id', 'wr ldr', 'wr dfr', 'wr icr2', 'wr icr reserved bit 13', 'wr esr 1', 'wr tpr high bits', 'wr self ipi reserved']) expect(lines.get(`A ${k}`)).toBe('0');
    expect(lines.get('A wr eoi nonzero')).toBe('1');
  });

  it('keeps the 64-bit ICR in ICR and the word after it, and shows the high half as ICR2 in KVM_GET_LAPIC', () => {
    expect(lines.get('A lapic after writes')).toMatch(/icr=46 icr\+4=1 icr2=1 /);
    expect(lines.get('A lapic after set id 7')).toMatch(/icr=12345 icr\+4=abc icr2=abc /);
  });

  it('with USE_32BIT_IDS a mismatched ID is EINVAL after SPIV was stored; without, the ID is ignored', () => {
    expect(lines.get('B set lapic id 7')).toBe('E22');
    expect(lines.get('B lapic after set id 7')).toMatch(/spiv=1fe /);
    expect(lines.get('A set lapic id 7')).toBe('0');
  });

  it('the x2APIC logical map is the physical map by cluster, xAPIC-mode vCPUs included (kvm_apic_map_get_logical_dest)', () => {
    expect(lines.get('A other vcpu after logical')).toMatch(/irr2=480$/);
    expect(lines.get('B other vcpu after logical')).toMatch(/irr2=480$/);
  });

  it('the broadcast quirk: an MSI to 0xFF reaches x2APIC vCPUs unless disabled; address_hi carries ID bits only with USE_32BIT_IDS', () => {
    expect(lines.get('A signal msi to 0xff')).toBe('2');
    expect(lines.get('B signal msi to 0xff')).toBe('0');
    expect(lines.get('A signal msi address_hi 0x100')).toBe('1');
    expect(lines.get('B signal msi address_hi 0x100')).toBe('0');
  });

  it('an aliased physical ID disables the map without USE_32BIT_IDS (both accept) and resolves to the x2APIC vCPU with it', () => {
    expect(lines.get('A signal msi to 2, aliased')).toBe('2');
    expect(lines.get('B signal msi to 2, aliased')).toBe('1');
  });

  it('the guest may not leave x2APIC mode for xAPIC, nor enter it from disabled (kvm_apic_set_base, !host_initiated); the host may', () => {
    expect(lines.get('A guest wr apic base to xapic')).toMatch(/io=8d /);
    expect(lines.get('A guest wr apic base disabled to x2apic')).toMatch(/io=8d /);
    expect(lines.get('A host apic base x2apic to xapic')).toBe('1');
    expect(lines.get('A lapic after host to xapic')).toMatch(/^id=2000000 .* ldr=4 /);
  });

  it('directed EOI is advertised with x2APIC in the guest CPUID and no in-kernel IOAPIC (kvm_apic_set_version)', () => {
    expect(lines.get('B lapic, xapic')).toMatch(/lvr=1050014 /);
    expect(lines.get('A lapic, xapic')).toMatch(/lvr=50014 /);
  });

  it('suppress EOI broadcast: DISABLE stops advertising it (SPIV drops the bit); only ENABLE honours the guest bit and skips the EOI exit (kvm_lapic_advertise/ignore_suppress_eoi_broadcast, kvm_ioapic_send_eoi)', () => {
    expect(lines.get('C disable rd lvr')).toBe('1 50014');
    expect(lines.get('C disable rd spiv')).toBe('1 1ff');
    expect(lines.get('C legacy rd spiv')).toBe('1 11ff');
    expect(lines.get('C legacy run to the eoi')).toBe('exit=26 vector=50');
    expect(lines.get('C enable run to the eoi')).toBe('exit=2 io=81');
    expect(lines.get('C disable run to the eoi')).toBe('exit=26 vector=50');
  });
});

describe('x2APIC mode end to end', () => {
  /** A VM with the full irqchip and one vCPU whose CPUID has x2APIC. */
  function x2vm(vcpus = 1) {
    const host = Host.create();
    const p = host.spawn();
    const kvm = p.open('/dev/kvm', O_RDWR);
    const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
    p.ioctl(vm, K.KVM_CREATE_IRQCHIP);
    const fds: number[] = [];
    const runs: Mapping[] = [];
    for (let i = 0; i < vcpus; i++) {
      const fd = p.ioctl(vm, K.KVM_CREATE_VCPU, i);
      p.ioctl(fd, K.KVM_SET_CPUID2, leaf1Cpuid(true));
      fds.push(fd);
      runs.push(p.mmap(null, p.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    }
    return { host, p, vm, fds, runs };
  }
  const msrs = (p: Process, fd: number, set: boolean, index: number, data = 0n): bigint | number => {
    const { r, data: d } = oneMsr(p, fd, set, index, data);
    return set ? Number(r) : r === '1' ? d : -1;
  };

  it('a guest that enables x2APIC itself takes a level-triggered IOAPIC interrupt and its x2APIC EOI clears remote IRR (lapic.c apic_set_eoi -> kvm_ioapic_send_eoi)', () => {
    const { host, p, vm, fds, runs } = x2vm();
    const fd = fds[0]!;
    const a = new GuestAsm('x2apic-ioapic');
    maskPic(a);
    enableX2apic(a);
    ioapicRoute(a, 10, { vector: 0x51, level: true, dest: 0 });
    a.sti();
    a.label('idle').hlt().jmp('idle');
    // The handler asks the VMM (port 0x90) to quiet the device, then EOIs through the x2APIC MSR.
    a.handler(0x51, 'isr');
    a.label('isr').add(r1, 1).out(0x90, 0, 1);
    x2apicEoi(a);
    a.iret();
    host.control.kvm.loadGuest(p, fd, a.build());
    const pin = () => host.control.kvm.vm(p, vm).ioapicPin(10);
    const handled = () => host.control.kvm.vcpu(p, fd).guest().regs[1];
    expect(resultCode(() => p.ioctl(fd, K.KVM_RUN))).toBe('E4');
    expect(msrs(p, fd, false, 0x1b)).toBe(0xfee00d00n);
    expect(lineStatus(p, vm, 10, 1)).toBe(1);
    expect(p.ioctl(fd, K.KVM_RUN)).toBe(0);
    expect(runs[0]!.read16(K.kvm_run.offsetof('io.port'))).toBe(0x90);
    expect(pin().remoteIrr).toBe(true);
    lineStatus(p, vm, 10, 0);
    expect(resultCode(() => p.ioctl(fd, K.KVM_RUN))).toBe('E4');
    expect(handled()).toBe(1);
    expect(pin().remoteIrr).toBe(false);
    // A second assertion is delivered again: the EOI really completed the first.
    expect(lineStatus(p, vm, 10, 1)).toBe(1);
    expect(p.ioctl(fd, K.KVM_RUN)).toBe(0);
    expect(handled()).toBe(2);
  });

  it('INIT keeps x2APIC mode and LDR and zeroes the 64-bit ICR (kvm_lapic_reset with init_event)', () => {
    const { p, fds } = x2vm(2);
    for (const fd of fds) expect(msrs(p, fd, true, 0x1b, fd === fds[0] ? 0xfee00d00n : 0xfee00c00n)).toBe(1);
    expect(msrs(p, fds[1]!, true, 0x80f, 0x1ffn)).toBe(1);
    expect(msrs(p, fds[1]!, true, 0x830, (7n << 32n) | 0x30n)).toBe(1);
    // vCPU 0 sends INIT (level assert) to x2APIC ID 1.
    expect(msrs(p, fds[0]!, true, 0x830, (1n << 32n) | 0x4500n)).toBe(1);
    // vCPU 1, an AP waiting for INIT/SIPI, accepts the INIT in KVM_RUN and returns EAGAIN (INIT_RECEIVED).
    expect(resultCode(() => p.ioctl(fds[1]!, K.KVM_RUN))).toBe('E11');
    const s = new Uint8Array(LAPIC);
    p.ioctl(fds[1]!, K.KVM_GET_LAPIC, s);
    expect(hex(getU32(s, 0xd0))).toBe('2');
    expect([getU32(s, 0x300), getU32(s, 0x304), getU32(s, 0x310)]).toEqual([0, 0, 0]);
    expect(msrs(p, fds[1]!, false, 0x1b)).toBe(0xfee00c00n);
    expect(msrs(p, fds[1]!, false, 0x802)).toBe(1n);
  });

  it('a guest RDMSR of an x2APIC register outside x2APIC mode is #GP', () => {
    const { host, p, fds, runs } = x2vm();
    const a = new GuestAsm('x2apic-gp');
    a.mov(r0, 0).label('rd').rdmsr().out(0x80, 0, 1).hlt();
    a.handler(13, 'gp').label('gp').out(0x8d, 0, 1).hlt();
    host.control.kvm.loadGuest(p, fds[0]!, a.build());
    const b = new Uint8Array(K.kvm_regs.size);
    p.ioctl(fds[0]!, K.KVM_GET_REGS, b);
    setU64(b, G('rcx'), 0x802n);
    p.ioctl(fds[0]!, K.KVM_SET_REGS, b);
    expect(p.ioctl(fds[0]!, K.KVM_RUN)).toBe(0);
    expect(runs[0]!.read16(K.kvm_run.offsetof('io.port'))).toBe(0x8d);
  });
});
