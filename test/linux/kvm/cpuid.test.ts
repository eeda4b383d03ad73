// KVM's CPUID ioctls (arch/x86/kvm/cpuid.c: kvm_dev_ioctl_get_cpuid, sanity_check_entries,
// kvm_vcpu_ioctl_set_cpuid/_set_cpuid2/_get_cpuid2, kvm_set_cpuid, kvm_check_cpuid,
// kvm_cpuid_check_equal, kvm_update_cpuid_runtime, cpuid_query_maxphyaddr; x86.h __cr4_reserved_bits)
// and KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR (x86.c kvm_arch_vm_ioctl).
//
// cpuid-oracle.c runs a fixed sequence of these ioctls on this machine's /dev/kvm; the same sequence
// runs on the model below, and the printed lines (no host-dependent values: the supported table's
// length is T) must be equal. What depends on a vCPU having run, and on the guest CPUID's effects, is
// checked on the model against the source: this machine's kvm_pvm rewrites parts of the guest CPUID on
// KVM_SET_CPUID2 (it puts host feature bits into leaves 1, 7 and 0xD), which VMX and SVM do not.
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host } from '../../../src/index.js';
import type { Process } from '../../../src/linux/process.js';
import { getU32, setU32 } from '../../../abi/bytes.js';
import { O_RDWR } from '../../../include-ts/linux/fcntl.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../include-ts/linux/mman.js';
import { X86_CR4_OSXSAVE, X86_CR4_UMIP } from '../../../include-ts/asm/processor-flags.js';
import { oracleSkip, resultCode, runCOracle } from '../../support/c-oracle.js';
import { enableCap, errno, K, oneMsr, run, signalMsi, vmm } from './helpers.js';
import { GuestAsm } from '../../../src/guest/program.js';
import { enableLapic } from '../../../src/guest/x86.js';
import { APIC_DEFAULT_PHYS_BASE, APIC_LVTT } from '../../../src/hw/x86/apicdef.js';

const here = dirname(fileURLToPath(import.meta.url));
const E2 = 40;

const SKIP = oracleSkip('KVM CPUID', ['kvm']);

/** The model half of cpuid-oracle.c, line for line. */
function modelLines(): string[] {
  const out: string[] = [];
  const host = Host.create();
  const p: Process = host.spawn();
  const b = new Uint8Array(8 + 1024 * E2);
  const b1 = new Uint8Array(8 + 4 * 24);
  const code = resultCode;
  const res = (what: string, f: () => number) => out.push(`${what}: ${code(f)}`);
  const kvm = p.open('/dev/kvm', O_RDWR);
  setU32(b, 0, 1024);
  p.ioctl(kvm, K.KVM_GET_SUPPORTED_CPUID, b);
  const T = getU32(b, 0);
  for (let i = 0; i < T; i++) {
    const o = 8 + i * E2;
    if (getU32(b, o) === 0x40000000) out.push(`signature: ${[12, 16, 20, 24].map((k) => getU32(b, o + k).toString(16).padStart(8, '0')).join(' ')}`);
  }
  const sup = (what: string, fd: number, req: number, nent: number) => {
    setU32(b, 0, nent);
    const r = code(() => p.ioctl(fd, req, b));
    const n = getU32(b, 0);
    out.push(r.startsWith('E') ? `${what}: ${r} nent ${n === nent ? 'unchanged' : 'changed'}` : `${what}: ${r} n=${n === T ? 'T' : n === 3 ? '3' : '?'}`);
  };
  const one = (fn: number, flags: number, eax: number, pad1: number) => {
    b.fill(0);
    setU32(b, 0, 1);
    setU32(b, 8, fn);
    setU32(b, 16, flags);
    setU32(b, 20, eax);
    setU32(b, 8 + 32, pad1);
  };
  sup('supported nent 0', kvm, K.KVM_GET_SUPPORTED_CPUID, 0);
  sup('supported nent 1', kvm, K.KVM_GET_SUPPORTED_CPUID, 1);
  sup('supported nent T-1', kvm, K.KVM_GET_SUPPORTED_CPUID, T - 1);
  sup('supported nent T', kvm, K.KVM_GET_SUPPORTED_CPUID, T);
  sup('supported nent 1000', kvm, K.KVM_GET_SUPPORTED_CPUID, 1000);
  b.fill(0);
  setU32(b, 8 + E2 + 36, 1);
  sup('emulated, dirty padding', kvm, K.KVM_GET_EMULATED_CPUID, 3);
  b.fill(0);
  setU32(b, 8 + 5 * E2 + 28, 1);
  sup('emulated nent 3, dirty padding past nent', kvm, K.KVM_GET_EMULATED_CPUID, 3);
  b.fill(0);
  sup('emulated nent 4', kvm, K.KVM_GET_EMULATED_CPUID, 4);
  out.push(`emulated leaf 0 eax, leaf 1 ecx MOVBE, leaf 7 flags: ${getU32(b, 8 + 12).toString(16)} ${(getU32(b, 8 + E2 + 20) & (1 << 22)).toString(16)} ${getU32(b, 8 + 2 * E2 + 8).toString(16)}`);
  const vm = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  sup('VM fd KVM_GET_SUPPORTED_CPUID', vm, K.KVM_GET_SUPPORTED_CPUID, 1000);
  res('tss 0xfffbd000', () => p.ioctl(vm, K.KVM_SET_TSS_ADDR, 0xfffbd000));
  res('tss 0xfffffffd', () => p.ioctl(vm, K.KVM_SET_TSS_ADDR, 0xfffffffd));
  res('tss 0xffffd000', () => p.ioctl(vm, K.KVM_SET_TSS_ADDR, 0xffffd000));
  res('tss 0xffffd001', () => p.ioctl(vm, K.KVM_SET_TSS_ADDR, 0xffffd001));
  res('tss 1<<32', () => p.ioctl(vm, K.KVM_SET_TSS_ADDR, 2 ** 32));
  const ident = new Uint8Array(8);
  setU32(ident, 0, 0xfeffc000);
  res('identity map', () => p.ioctl(vm, K.KVM_SET_IDENTITY_MAP_ADDR, ident));
  res('identity map NULL', () => p.ioctl(vm, K.KVM_SET_IDENTITY_MAP_ADDR, 0));
  const vcpu = p.ioctl(vm, K.KVM_CREATE_VCPU, 0);
  res('identity map after a vCPU', () => p.ioctl(vm, K.KVM_SET_IDENTITY_MAP_ADDR, ident));
  res('identity map NULL after a vCPU', () => p.ioctl(vm, K.KVM_SET_IDENTITY_MAP_ADDR, 0));
  sup('vCPU fd KVM_GET_SUPPORTED_CPUID', vcpu, K.KVM_GET_SUPPORTED_CPUID, 1000);
  b.fill(0);
  res('get_cpuid2 nent 0, none set', () => p.ioctl(vcpu, K.KVM_GET_CPUID2, b));
  out.push(`  nent ${getU32(b, 0)}`);
  setU32(b, 0, 257);
  res('set_cpuid2 nent 257', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  one(0xd, 1, 1 << 18, 0);
  res('set_cpuid2 0xD XTILE_DATA', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  one(0xd, 1, 1 << 17, 0);
  res('set_cpuid2 0xD XTILE_CFG', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  one(0x80000008, 0, 0x2830, 0);
  res('set_cpuid2 vaddr 40', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  one(0x80000008, 0, 0x3930, 0);
  res('set_cpuid2 vaddr 57', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  one(0x80000008, 0, 0x0030, 0);
  res('set_cpuid2 vaddr 0', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  one(0x80000008, 0, 0x3030, 9);
  res('set_cpuid2 vaddr 48, padding 9', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  setU32(b, 0, 0);
  res('get_cpuid2 nent 0', () => p.ioctl(vcpu, K.KVM_GET_CPUID2, b));
  out.push(`  nent ${getU32(b, 0)}`);
  b.fill(0);
  setU32(b, 0, 4);
  res('get_cpuid2 nent 4', () => p.ioctl(vcpu, K.KVM_GET_CPUID2, b));
  out.push(`  nent ${getU32(b, 0)}: ${getU32(b, 8).toString(16)}.${getU32(b, 12)} flags ${getU32(b, 16)} eax ${getU32(b, 20).toString(16)} padding ${getU32(b, 40)}`);
  b1.fill(0);
  setU32(b1, 0, 1);
  setU32(b1, 8, 0x4000ff00);
  setU32(b1, 16, 0x5a);
  res('set_cpuid (legacy)', () => p.ioctl(vcpu, K.KVM_SET_CPUID, b1));
  b.fill(0);
  setU32(b, 0, 4);
  res('get_cpuid2 after set_cpuid', () => p.ioctl(vcpu, K.KVM_GET_CPUID2, b));
  out.push(`  nent ${getU32(b, 0)}: ${getU32(b, 8).toString(16)}.${getU32(b, 12)} flags ${getU32(b, 16)} ebx ${getU32(b, 24).toString(16)}`);
  setU32(b1, 0, 257);
  res('set_cpuid nent 257', () => p.ioctl(vcpu, K.KVM_SET_CPUID, b1));
  setU32(b, 0, 0);
  res('set_cpuid2 nent 0', () => p.ioctl(vcpu, K.KVM_SET_CPUID2, b));
  setU32(b, 0, 4);
  res('get_cpuid2 after nent 0', () => p.ioctl(vcpu, K.KVM_GET_CPUID2, b));
  out.push(`  nent ${getU32(b, 0)}`);
  res('cap EXT_CPUID', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_EXT_CPUID));
  res('cap EXT_EMUL_CPUID', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_EXT_EMUL_CPUID));
  res('cap SET_TSS_ADDR', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_SET_TSS_ADDR));
  res('cap SET_IDENTITY_MAP_ADDR', () => p.ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_SET_IDENTITY_MAP_ADDR));

  // kvm_vcpu_after_set_cpuid() on a split-irqchip VM: kvm_apic_set_version only with a leaf 1; the PV
  // features (kvm_apply_cpuid_pv_features_quirk) 0 for a table without KVM leaves.
  const vm2 = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('split irqchip', () => enableCap(p, vm2, K.KVM_CAP_SPLIT_IRQCHIP, 24));
  const v2 = p.ioctl(vm2, K.KVM_CREATE_VCPU, 0);
  const lapic = K.kvm_lapic_state.alloc();
  const lvr = () => out.push(`  LVR directed EOI ${(getU32(lapic.bytes, 0x30) >>> 24) & 1}`);
  one(1, 0, 0, 0);
  setU32(b, 8 + 20, 1 << 21);
  res('split: set_cpuid2 leaf 1 with X2APIC', () => p.ioctl(v2, K.KVM_SET_CPUID2, b));
  res('split: get_lapic', () => p.ioctl(v2, K.KVM_GET_LAPIC, lapic));
  lvr();
  one(0x80000000, 0, 0x80000000, 0);
  res('split: set_cpuid2 without leaf 1', () => p.ioctl(v2, K.KVM_SET_CPUID2, b));
  res('split: get_lapic', () => p.ioctl(v2, K.KVM_GET_LAPIC, lapic));
  lvr();
  res('enforce pv feature cpuid', () => enableCap(p, v2, K.KVM_CAP_ENFORCE_PV_FEATURE_CPUID, 1));
  const msr = (what: string) => out.push(`${what}: ${oneMsr(p, v2, true, 0x4b564d01, 0x4001n).r}`);
  msr('set MSR_KVM_SYSTEM_TIME_NEW, no KVM leaves');
  b.set(cpuid2([[0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d], [0x40000001, 0, 0, 1 << 3, 0, 0, 0]]));
  res('set_cpuid2 KVM leaves with CLOCKSOURCE2', () => p.ioctl(v2, K.KVM_SET_CPUID2, b));
  msr('set MSR_KVM_SYSTEM_TIME_NEW');
  one(1, 0, 0, 0);
  res('set_cpuid2 without KVM leaves', () => p.ioctl(v2, K.KVM_SET_CPUID2, b));
  msr('set MSR_KVM_SYSTEM_TIME_NEW');

  // kvm_vcpu_has_run() counts guest entries: KVM_RUNs that leave before one do not freeze the CPUID.
  const vm3 = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('triple fault event', () => enableCap(p, vm3, K.KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1));
  const v3 = p.ioctl(vm3, K.KVM_CREATE_VCPU, 0);
  const run3 = p.mmap(null, p.ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, v3, 0);
  const g = new GuestAsm('hlt').label('start');
  host.control.kvm.loadGuest(p, v3, g.hlt().build()); // never entered: the machine's vCPU has no memory
  one(0x80000008, 0, 0x3030, 0);
  res('set_cpuid2 A', () => p.ioctl(v3, K.KVM_SET_CPUID2, b));
  const ev = K.kvm_vcpu_events.alloc();
  ev.flags = K.KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
  ev.triple_fault.pending = 1;
  res('set_vcpu_events triple fault', () => p.ioctl(v3, K.KVM_SET_VCPU_EVENTS, ev));
  res('run', () => p.ioctl(v3, K.KVM_RUN));
  out.push(`  exit ${run3.read32(8)}`);
  one(0x80000008, 0, 0x3028, 0);
  res('set_cpuid2 B after the SHUTDOWN', () => p.ioctl(v3, K.KVM_SET_CPUID2, b));
  run3.write8(1, 1);
  res('run, immediate_exit', () => p.ioctl(v3, K.KVM_RUN));
  one(0x80000008, 0, 0x3030, 0);
  res('set_cpuid2 A after immediate_exit', () => p.ioctl(v3, K.KVM_SET_CPUID2, b));

  // kvm_apic_set_version() again in KVM_SET_LAPIC and INIT, with the VM's suppress-EOI-broadcast mode then.
  const vm4 = p.ioctl(kvm, K.KVM_CREATE_VM, 0);
  res('lvr: split irqchip', () => enableCap(p, vm4, K.KVM_CAP_SPLIT_IRQCHIP, 24));
  const va = p.ioctl(vm4, K.KVM_CREATE_VCPU, 0);
  const vb = p.ioctl(vm4, K.KVM_CREATE_VCPU, 1);
  one(1, 0, 0, 0);
  setU32(b, 8 + 20, 1 << 21);
  res('lvr: set_cpuid2 X2APIC, vCPU 0', () => p.ioctl(va, K.KVM_SET_CPUID2, b));
  res('lvr: set_cpuid2 X2APIC, vCPU 1', () => p.ioctl(vb, K.KVM_SET_CPUID2, b));
  const eoi = (prefix: string) => out.push(`  ${prefix}LVR directed EOI ${(getU32(lapic.bytes, 0x30) >>> 24) & 1}`);
  p.ioctl(va, K.KVM_GET_LAPIC, lapic);
  setU32(lapic.bytes, 0xf0, 0x1ff);
  res('lvr: vCPU 0 set_lapic SPIV', () => p.ioctl(va, K.KVM_SET_LAPIC, lapic));
  eoi('');
  res('lvr: x2apic api DISABLE_SUPPRESS_EOI_BROADCAST', () => enableCap(p, vm4, K.KVM_CAP_X2APIC_API, 1 << 3));
  p.ioctl(va, K.KVM_GET_LAPIC, lapic);
  eoi('vCPU 0 ');
  p.ioctl(vb, K.KVM_GET_LAPIC, lapic);
  res('lvr: vCPU 1 set_lapic', () => p.ioctl(vb, K.KVM_SET_LAPIC, lapic));
  p.ioctl(vb, K.KVM_GET_LAPIC, lapic);
  eoi('vCPU 1 ');
  res('lvr: INIT to APIC 0', () => signalMsi(p, vm4, 0xfee00000, 0x500));
  const mp = new Uint8Array(4);
  res('lvr: vCPU 0 get_mp_state', () => p.ioctl(va, K.KVM_GET_MP_STATE, mp));
  p.ioctl(va, K.KVM_GET_LAPIC, lapic);
  eoi('vCPU 0 ');
  return out;
}

describe('KVM CPUID, TSS and identity-map ioctls against this machine\'s /dev/kvm', () => {
  it.skipIf(SKIP !== undefined)('the fixed sequence gives the same line for every call', () => {
    expect(modelLines()).toEqual(runCOracle(join(here, 'cpuid-oracle.c')));
  });
});

/** The supported table, as KVM_GET_SUPPORTED_CPUID returns it. */
function supported(v: ReturnType<typeof vmm>): Uint8Array {
  const b = new Uint8Array(8 + 256 * E2);
  setU32(b, 0, 256);
  v.p.ioctl(v.kvm, K.KVM_GET_SUPPORTED_CPUID, b);
  return b.slice(0, 8 + getU32(b, 0) * E2);
}
/** Entry offset of function `fn` (index `idx`) in a kvm_cpuid2 buffer. */
function entry(b: Uint8Array, fn: number, idx = 0): number {
  for (let o = 8; o < 8 + getU32(b, 0) * E2; o += E2) if (getU32(b, o) === fn && getU32(b, o + 4) === idx) return o;
  throw new Error(`no leaf ${fn.toString(16)}.${idx}`);
}
function cpuid2(entries: readonly [fn: number, idx: number, flags: number, eax: number, ebx: number, ecx: number, edx: number][]): Uint8Array {
  const b = new Uint8Array(8 + entries.length * E2);
  setU32(b, 0, entries.length);
  entries.forEach((e, i) => e.forEach((x, k) => setU32(b, 8 + i * E2 + k * 4, x >>> 0)));
  return b;
}
function getCpuid(v: ReturnType<typeof vmm>): Uint8Array {
  const b = new Uint8Array(8 + 256 * E2);
  setU32(b, 0, 256);
  v.p.ioctl(v.vcpus[0]!, K.KVM_GET_CPUID2, b);
  return b;
}
const setApicBase = (v: ReturnType<typeof vmm>, base: bigint): number | string => errno(() => {
  const s = K.kvm_sregs.alloc();
  v.p.ioctl(v.vcpus[0]!, K.KVM_GET_SREGS, s);
  s.apic_base = base;
  return v.p.ioctl(v.vcpus[0]!, K.KVM_SET_SREGS, s);
});
const setCr4 = (v: ReturnType<typeof vmm>, cr4: bigint): number | string => errno(() => {
  const s = K.kvm_sregs.alloc();
  v.p.ioctl(v.vcpus[0]!, K.KVM_GET_SREGS, s);
  s.cr4 = cr4;
  return v.p.ioctl(v.vcpus[0]!, K.KVM_SET_SREGS, s);
});

describe('what the guest CPUID changes (cpuid.c kvm_vcpu_after_set_cpuid, x86.h __cr4_reserved_bits)', () => {
  it('MAXPHYADDR comes from leaf 0x80000008 only when leaf 0x80000000 reaches it (cpuid_query_maxphyaddr), else 36', () => {
    const v = vmm({ irqchip: 'none' });
    const above36 = 0xfee00900n | (1n << 40n);
    expect(setApicBase(v, above36)).toBe('EINVAL');
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, cpuid2([[0x80000008, 0, 0, 0x3030, 0, 0, 0]]));
    expect(setApicBase(v, above36)).toBe('EINVAL'); // no 0x80000000 leaf: still 36
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, cpuid2([[0x80000000, 0, 0, 0x80000008, 0, 0, 0], [0x80000008, 0, 0, 0x3030, 0, 0, 0]]));
    expect(setApicBase(v, above36)).toBe(0);
    expect(setApicBase(v, 0xfee00900n | (1n << 48n))).toBe('EINVAL');
  });

  it('CR4 bits of features the guest CPUID lacks become reserved; UMIP stays allowed when leaf 7 offers it', () => {
    const v = vmm({ irqchip: 'none' });
    expect(setCr4(v, BigInt(X86_CR4_OSXSAVE))).toBe(0); // no CPUID yet: cr4_guest_rsvd_bits is empty
    expect(setCr4(v, 0n)).toBe(0);
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, supported(v));
    // The modelled host's KVM does not offer XSAVE in leaf 1, so OSXSAVE is reserved; UMIP it offers.
    expect(setCr4(v, BigInt(X86_CR4_OSXSAVE))).toBe('EINVAL');
    expect(setCr4(v, BigInt(X86_CR4_UMIP))).toBe(0);
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, cpuid2([[1, 0, 0, 0, 0, 0, 0]]));
    expect(setCr4(v, BigInt(X86_CR4_UMIP))).toBe('EINVAL');
  });

  it('KVM keeps some bits itself (kvm_update_cpuid_runtime): APIC follows APIC_BASE.EN, OSXSAVE follows CR4, 0xD EBX the XSAVE size', () => {
    const v = vmm({ irqchip: 'none' });
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, cpuid2([[1, 0, 0, 0, 0, 0, 0], [0xd, 0, 1, 3, 0x12345, 0, 0], [0xd, 1, 1, 0x2, 0x777, 0, 0]]));
    let c = getCpuid(v);
    expect(getU32(c, entry(c, 1) + 24) & (1 << 9)).toBe(1 << 9); // the BSP's APIC is enabled at reset
    expect(getU32(c, entry(c, 0xd) + 16)).toBe(576);
    expect(getU32(c, entry(c, 0xd, 1) + 16)).toBe(576); // XSAVEC: the compacted size
    expect(setApicBase(v, 0xfee00100n)).toBe(0); // disabled
    c = getCpuid(v);
    expect(getU32(c, entry(c, 1) + 24) & (1 << 9)).toBe(0);
    expect(getU32(c, entry(c, 1) + 20) & (1 << 27)).toBe(0);
  });

  it('after the first KVM_RUN only the same table is accepted (kvm_cpuid_check_equal), and a refused table changes nothing', () => {
    const v = vmm();
    const table = supported(v);
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, table)).toBe(0);
    const g = new GuestAsm('hlt');
    g.label('start');
    g.hlt();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, g.build());
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_RUN))).toBe('EINTR');
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, table)).toBe(0); // QEMU's hotplug path: identical is fine
    // Runtime bits are KVM's: a copy with APIC cleared in leaf 1 still counts as identical.
    const noApic = table.slice();
    setU32(noApic, entry(noApic, 1) + 24, getU32(noApic, entry(noApic, 1) + 24) & ~(1 << 9));
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, noApic)).toBe(0);
    const other = table.slice();
    setU32(other, entry(other, 0x80000008) + 12, 0x3028);
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, other))).toBe('EINVAL');
    const shorter = table.slice(0, table.length - E2);
    setU32(shorter, 0, getU32(table, 0) - 1);
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, shorter))).toBe('EINVAL');
    const now = getCpuid(v);
    expect(getU32(now, 0)).toBe(getU32(table, 0));
    expect(getU32(now, entry(now, 0x80000008) + 12)).toBe(0x3030);
  });

  it('RESET and INIT put leaf 1 EAX in RDX (kvm_vcpu_reset: 0x600 without a leaf 1)', () => {
    const v = vmm();
    const rdx = () => {
      const r = K.kvm_regs.alloc();
      v.p.ioctl(v.vcpus[0]!, K.KVM_GET_REGS, r);
      return r.rdx;
    };
    expect(rdx()).toBe(0x600n);
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, supported(v));
    expect(rdx()).toBe(0x600n); // set after the RESET: RDX is what the reset left
    const s = K.kvm_lapic_state.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_LAPIC, s);
    new DataView(s.bytes.buffer, s.bytes.byteOffset).setUint32(0xf0, 0x1ff, true); // SPIV: software-enabled
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_LAPIC, s);
    expect(signalMsi(v.p, v.vm, 0xfee00000, 0x500)).toBe(1); // INIT to APIC ID 0
    const mp = new Uint8Array(4);
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MP_STATE, mp); // accepts the INIT (kvm_apic_accept_events)
    expect(rdx()).toBe(0xa10f11n);
  });

  it('the LAPIC timer keeps the periodic mode bit, and TSC-deadline only when leaf 1 offers it (timer_mode_mask)', () => {
    const lvtt = (leaf1Ecx: number | null): number => {
      const v = vmm();
      if (leaf1Ecx !== null) v.p.ioctl(v.vcpus[0]!, K.KVM_SET_CPUID2, cpuid2([[1, 0, 0, 0, 0, leaf1Ecx, 0]]));
      const a = new GuestAsm('lvtt').label('start');
      enableLapic(a);
      a.store32(APIC_DEFAULT_PHYS_BASE + APIC_LVTT, 0x600ef).out(0x80, 0, 1).hlt();
      v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, a.build());
      expect(run(v)).toBe(K.KVM_EXIT_IO);
      const s = K.kvm_lapic_state.alloc();
      v.p.ioctl(v.vcpus[0]!, K.KVM_GET_LAPIC, s);
      return new DataView(s.bytes.buffer, s.bytes.byteOffset).getUint32(APIC_LVTT, true);
    };
    expect(lvtt(null)).toBe(0xef);
    expect(lvtt(0)).toBe(0x200ef);
    expect(lvtt(1 << 24)).toBe(0x600ef);
  });
});
