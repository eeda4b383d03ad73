// KVM's MSR ioctls (arch/x86/kvm/x86.c: kvm_arch_dev_ioctl KVM_GET_MSR_INDEX_LIST, msr_io, __msr_io,
// kvm_do_msr_access, __kvm_set_msr, kvm_get/set_msr_common, set_efer; lapic.c kvm_apic_set_base,
// kvm_x2apic_msr_read/write; mtrr.c kvm_mtrr_valid) and KVM_SET_SREGS validation (x86.c
// kvm_is_valid_sregs, __set_sregs, __set_sregs_common). The same rules are checked against this machine's
// /dev/kvm by differential.test.ts.
import { describe, expect, it } from 'vitest';
import * as A from '../../../include-ts/asm/kvm.js';
import {
  EFER_LMA, EFER_LME, EFER_NX, EFER_SCE, EFER_SVME, MSR_CSTAR, MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_APICBASE,
  MSR_IA32_CR_PAT, MSR_IA32_MISC_ENABLE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP, MSR_IA32_TSC,
  MSR_IA32_TSC_ADJUST, MSR_IA32_TSC_DEADLINE, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_MTRRdefType, MSR_STAR, MSR_SYSCALL_MASK,
} from '../../../src/hw/x86/msr-index.js';
import { X86_CR0_PE, X86_CR0_PG, X86_CR4_LA57, X86_CR4_PAE, X86_CR4_PCIDE, X86_CR4_VMXE } from '../../../include-ts/asm/processor-flags.js';
import { KVM_MSR_INDEX_LIST, kvmPatValid, MAX_IO_MSRS } from '../../../src/linux/kvm/msr.js';
import { GuestAsm } from '../../../src/guest/program.js';
import { errno, K, signalMsi, vmm, type Vmm } from './helpers.js';

function msrs(entries: readonly (readonly [number, bigint?])[]): ReturnType<typeof A.kvm_msrs.alloc> {
  const m = A.kvm_msrs.alloc(entries.length);
  m.nmsrs = entries.length;
  entries.forEach(([index, data], i) => {
    const e = m.entries.get(i);
    e.index = index;
    e.data = data ?? 0x5a5a5a5a5a5a5a5an;
  });
  return m;
}
const setMsrs = (v: Vmm, ...entries: [number, bigint][]): number | string => errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_SET_MSRS, msrs(entries)));
const setMsr = (v: Vmm, index: number, data: bigint): boolean => setMsrs(v, [index, data]) === 1;
function getMsr(v: Vmm, index: number): bigint | null {
  const m = msrs([[index]]);
  return v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MSRS, m) === 1 ? m.entries.get(0).data : null;
}
function sregs(v: Vmm): ReturnType<typeof K.kvm_sregs.alloc> {
  const s = K.kvm_sregs.alloc();
  v.p.ioctl(v.vcpus[0]!, K.KVM_GET_SREGS, s);
  return s;
}
function setSregs(v: Vmm, change: (s: ReturnType<typeof K.kvm_sregs.alloc>) => void): number | string {
  const s = sregs(v);
  change(s);
  return errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_SET_SREGS, s));
}

describe('KVM_GET_MSR_INDEX_LIST (x86.c kvm_arch_dev_ioctl)', () => {
  it('too small an array: nmsrs is set to the count and the call fails E2BIG; then the list', () => {
    const v = vmm();
    const l = A.kvm_msr_list.alloc(0);
    expect(errno(() => v.p.ioctl(v.kvm, K.KVM_GET_MSR_INDEX_LIST, l))).toBe('E2BIG');
    expect(l.nmsrs).toBe(KVM_MSR_INDEX_LIST.length);
    const full = A.kvm_msr_list.alloc(64);
    full.nmsrs = 64;
    expect(v.p.ioctl(v.kvm, K.KVM_GET_MSR_INDEX_LIST, full)).toBe(0);
    expect(Array.from({ length: full.nmsrs }, (_, i) => full.indices.get(i))).toEqual(KVM_MSR_INDEX_LIST);
  });
  it('lists what the model implements from msrs_to_save/emulated_msrs; EFER and APIC_BASE are handled but not listed', () => {
    expect(KVM_MSR_INDEX_LIST).toContain(MSR_IA32_TSC);
    expect(KVM_MSR_INDEX_LIST).toContain(MSR_IA32_MISC_ENABLE);
    expect(KVM_MSR_INDEX_LIST).not.toContain(MSR_EFER);
    expect(KVM_MSR_INDEX_LIST).not.toContain(MSR_IA32_APICBASE);
  });
  it('the feature MSRs have a list of their own (feature-msrs.ts), none of them in the vCPU list', () => {
    const v = vmm();
    const l = A.kvm_msr_list.alloc(8);
    l.nmsrs = 8;
    expect(v.p.ioctl(v.kvm, K.KVM_GET_MSR_FEATURE_INDEX_LIST, l)).toBe(0);
    const features = Array.from({ length: l.nmsrs }, (_, i) => l.indices.get(i));
    expect(features).toEqual([0x8b, 0x10a, 0x345, 0xce]);
    for (const f of features) expect(KVM_MSR_INDEX_LIST).not.toContain(f);
  });
  it('on a VM fd it is not an ioctl (ENOTTY)', () => {
    const v = vmm();
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_GET_MSR_INDEX_LIST, A.kvm_msr_list.alloc(64)))).toBe('ENOTTY');
  });
});

describe('KVM_GET_MSRS / KVM_SET_MSRS (x86.c msr_io, __msr_io)', () => {
  it(`nmsrs >= MAX_IO_MSRS (${MAX_IO_MSRS}) is E2BIG; ${MAX_IO_MSRS - 1} entries are processed; 0 entries return 0`, () => {
    const v = vmm();
    const big = A.kvm_msrs.alloc(MAX_IO_MSRS);
    big.nmsrs = MAX_IO_MSRS;
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MSRS, big))).toBe('E2BIG');
    const ok = msrs(Array.from({ length: MAX_IO_MSRS - 1 }, () => [MSR_IA32_SYSENTER_CS] as const));
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MSRS, ok)).toBe(MAX_IO_MSRS - 1);
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_SET_MSRS, msrs([]))).toBe(0);
  });
  it('the entries must be readable: a short buffer is EFAULT', () => {
    const v = vmm();
    const hdr = new Uint8Array(8);
    hdr[0] = 2;
    expect(errno(() => v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MSRS, hdr))).toBe('EFAULT');
  });
  it('SET returns how many MSRs were written, stopping at the first that fails; the ones before it stay written', () => {
    const v = vmm();
    expect(setMsrs(v, [MSR_IA32_SYSENTER_CS, 9n], [0x12345, 1n], [MSR_IA32_SYSENTER_ESP, 2n])).toBe(1);
    expect(getMsr(v, MSR_IA32_SYSENTER_CS)).toBe(9n);
    expect(getMsr(v, MSR_IA32_SYSENTER_ESP)).toBe(0n);
  });
  it('GET writes the processed entries, zeroes the failing one (kvm_do_msr_access) and leaves the rest, pad and reserved alone', () => {
    const v = vmm();
    setMsr(v, MSR_IA32_SYSENTER_CS, 9n);
    const m = msrs([[MSR_IA32_SYSENTER_CS], [0xdeadbeef], [MSR_IA32_SYSENTER_ESP, 0x77n]]);
    m.pad = 7;
    m.entries.get(0).reserved = 5;
    expect(v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MSRS, m)).toBe(1);
    expect([m.entries.get(0).data, m.entries.get(1).data, m.entries.get(2).data]).toEqual([9n, 0n, 0x77n]);
    expect([m.pad, m.entries.get(0).reserved]).toEqual([7, 5]);
  });
  it('unknown MSRs fail both ways (ignore_msrs=0), on a vCPU fd only', () => {
    const v = vmm();
    expect(getMsr(v, 0x12345)).toBeNull();
    expect(setMsr(v, 0x12345, 0n)).toBe(false);
    expect(errno(() => v.p.ioctl(v.vm, K.KVM_GET_MSRS, msrs([])))).toBe('ENOTTY');
  });
  it('MSR writes are host-initiated, so the same rules hold after the vCPU ran', () => {
    const v = vmm();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, new GuestAsm('out').label('start').out(0x10, 0, 1).hlt().build());
    v.p.ioctl(v.vcpus[0]!, K.KVM_RUN);
    expect(v.runs[0]!.read32(K.kvm_run.offsetof('exit_reason'))).toBe(K.KVM_EXIT_IO);
    expect(setMsr(v, MSR_STAR, 0x1234n)).toBe(true);
    expect(setMsr(v, MSR_LSTAR, 0x800000000000n)).toBe(false);
  });
});

describe('the rules of each MSR (host-initiated)', () => {
  it('FS/GS/KERNEL_GS_BASE, LSTAR, CSTAR: a non-canonical value fails (__kvm_set_msr, 48-bit host)', () => {
    const v = vmm();
    for (const msr of [MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_CSTAR]) {
      expect(setMsr(v, msr, 0x7fffffffffffn), msr.toString(16)).toBe(true);
      expect(setMsr(v, msr, 0xffff800000000000n), msr.toString(16)).toBe(true);
      expect(setMsr(v, msr, 0x800000000000n), msr.toString(16)).toBe(false);
      expect(getMsr(v, msr), msr.toString(16)).toBe(0xffff800000000000n);
    }
  });
  it('SYSENTER_ESP/EIP are made canonical, never refused; SYSENTER_CS, STAR and SYSCALL_MASK keep any value', () => {
    const v = vmm();
    expect(setMsr(v, MSR_IA32_SYSENTER_ESP, 0x800000000000n)).toBe(true);
    expect(getMsr(v, MSR_IA32_SYSENTER_ESP)).toBe(0xffff800000000000n);
    expect(setMsr(v, MSR_IA32_SYSENTER_EIP, 0x0007040600070406n)).toBe(true);
    expect(getMsr(v, MSR_IA32_SYSENTER_EIP)).toBe(0x0000040600070406n);
    for (const msr of [MSR_IA32_SYSENTER_CS, MSR_STAR, MSR_SYSCALL_MASK]) {
      expect(setMsr(v, msr, 0xffffffffffffffffn)).toBe(true);
      expect(getMsr(v, msr)).toBe(0xffffffffffffffffn);
    }
  });
  it('EFER: only SCE, LME, LMA, NX (efer_reserved_bits without nested SVM); LMA keeps its value (set_efer)', () => {
    const v = vmm();
    expect(setMsr(v, MSR_EFER, BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))).toBe(true);
    expect(getMsr(v, MSR_EFER)).toBe(BigInt(EFER_SCE | EFER_LME | EFER_NX));
    expect(setMsr(v, MSR_EFER, BigInt(EFER_SVME))).toBe(false);
    expect(setMsr(v, MSR_EFER, 2n)).toBe(false);
    expect(getMsr(v, MSR_EFER)).toBe(BigInt(EFER_SCE | EFER_LME | EFER_NX));
    // In long mode a host write may clear LME (no paging check for host writes); LMA stays.
    expect(setSregs(v, (s) => { s.efer = BigInt(EFER_LME | EFER_LMA); s.cr0 = BigInt(X86_CR0_PG) | BigInt(X86_CR0_PE); s.cr4 = BigInt(X86_CR4_PAE); })).toBe(0);
    expect(setMsr(v, MSR_EFER, 0n)).toBe(true);
    expect(sregs(v).efer).toBe(BigInt(EFER_LMA));
  });
  it('EFER and FS/GS_BASE are the sregs fields; APIC_BASE is sregs.apic_base and kvm_run.apic_base', () => {
    const v = vmm({ irqchip: 'none' });
    setMsrs(v, [MSR_EFER, 0x901n], [MSR_FS_BASE, 0x1234n], [MSR_GS_BASE, 0xffff800000000000n], [MSR_IA32_APICBASE, 0xfee00800n]);
    const s = sregs(v);
    expect([s.efer, s.fs.base, s.gs.base, s.apic_base]).toEqual([0x901n, 0x1234n, 0xffff800000000000n, 0xfee00800n]);
    expect(setSregs(v, (x) => { x.efer = 2n; x.fs.base = 0x800000000000n; })).toBe(0);
    expect([getMsr(v, MSR_EFER), getMsr(v, MSR_FS_BASE)]).toEqual([2n, 0x800000000000n]);
  });
  it('APIC_BASE: the kvm_apic_set_base checks of KVM_SET_SREGS (reserved bits, x2APIC without CPUID), with and without a LAPIC', () => {
    for (const irqchip of ['kernel', 'none'] as const) {
      const v = vmm({ irqchip });
      expect(setMsr(v, MSR_IA32_APICBASE, 0xfee00901n)).toBe(false);
      expect(setMsr(v, MSR_IA32_APICBASE, 0xfee00d00n)).toBe(false);
      expect(setMsr(v, MSR_IA32_APICBASE, 0x1000000000n)).toBe(false);
      expect(setMsr(v, MSR_IA32_APICBASE, 0xfec00800n)).toBe(true);
      expect(getMsr(v, MSR_IA32_APICBASE)).toBe(0xfec00800n);
    }
  });
  it('PAT: kvm_pat_valid (every byte 0, 1, 4, 5, 6 or 7); RESET value 0x0007040600070406', () => {
    const v = vmm();
    expect(getMsr(v, MSR_IA32_CR_PAT)).toBe(0x0007040600070406n);
    expect(kvmPatValid(0x0706050401000706n)).toBe(true);
    for (const bad of [0x2n, 0x3n, 0x8n, 0x0200000000000000n]) expect(setMsr(v, MSR_IA32_CR_PAT, bad)).toBe(false);
    expect(setMsr(v, MSR_IA32_CR_PAT, 0x0706050401000706n)).toBe(true);
    expect(getMsr(v, MSR_IA32_CR_PAT)).toBe(0x0706050401000706n);
  });
  it('MISC_ENABLE: RESET value PEBS|BTS_UNAVAIL (kvm_vcpu_reset); host writes keep any value', () => {
    const v = vmm();
    expect(getMsr(v, MSR_IA32_MISC_ENABLE)).toBe(0x1800n);
    expect(setMsr(v, MSR_IA32_MISC_ENABLE, 0xffffffffffffffffn)).toBe(true);
    expect(getMsr(v, MSR_IA32_MISC_ENABLE)).toBe(0xffffffffffffffffn);
  });
  it('MTRRdefType: type 0, 1, 4, 5, 6 with FE/E only (mtrr.c kvm_mtrr_valid)', () => {
    const v = vmm();
    for (const [val, ok] of [[0xc06n, true], [0x805n, true], [2n, false], [3n, false], [7n, false], [0x100n, false], [0x1000n, false]] as const) {
      expect(setMsr(v, MSR_MTRRdefType, val), val.toString(16)).toBe(ok);
    }
    expect(getMsr(v, MSR_MTRRdefType)).toBe(0x805n);
  });
  it('TSC_ADJUST and TSC_DEADLINE: no CPUID bit / no TSC-deadline timer mode, so writes are dropped and reads give 0', () => {
    for (const irqchip of ['kernel', 'none'] as const) {
      const v = vmm({ irqchip });
      expect(setMsrs(v, [MSR_IA32_TSC_ADJUST, 77n], [MSR_IA32_TSC_DEADLINE, 0x1234n])).toBe(2);
      expect([getMsr(v, MSR_IA32_TSC_ADJUST), getMsr(v, MSR_IA32_TSC_DEADLINE)]).toEqual([0n, 0n]);
    }
  });
  it('TSC: a host write sets it; it then counts at the host TSC rate (2596130 kHz; tsc.ts)', () => {
    const v = vmm();
    expect(getMsr(v, MSR_IA32_TSC)).toBe(0n);
    expect(setMsr(v, MSR_IA32_TSC, 1_000_000n)).toBe(true);
    v.host.control.advance(1_000_000);
    expect(getMsr(v, MSR_IA32_TSC)).toBe(1_000_000n + 2_596_130n);
  });
  it('x2APIC MSRs (0x800-0x8ff) fail: the LAPIC is never in x2APIC mode (lapic.c kvm_x2apic_msr_read/write)', () => {
    for (const irqchip of ['kernel', 'none'] as const) {
      const v = vmm({ irqchip });
      for (const msr of [0x800, 0x802, 0x808, 0x830, 0x8ff]) {
        expect(getMsr(v, msr)).toBeNull();
        expect(setMsr(v, msr, 0n)).toBe(false);
      }
    }
  });
});

describe('KVM_SET_SREGS validation (x86.c kvm_is_valid_sregs, __set_sregs_common)', () => {
  const refused: [string, (s: ReturnType<typeof K.kvm_sregs.alloc>) => void][] = [
    ['CR0.NW without CD', (s) => { s.cr0 = 0x20000000n; }],
    ['CR0.PG without PE', (s) => { s.cr0 = 0x80000000n; }],
    ['CR0 bits above 31', (s) => { s.cr0 = 0x100000010n; }],
    ['CR4 reserved bit 15', (s) => { s.cr4 = 0x8000n; }],
    ['CR4.LA57 (host without 5-level paging)', (s) => { s.cr4 = BigInt(X86_CR4_LA57); }],
    ['CR4.VMXE (no nested VMX)', (s) => { s.cr4 = BigInt(X86_CR4_VMXE); }],
    ['CR4.PCIDE (refused by the modelled host)', (s) => { s.cr4 = BigInt(X86_CR4_PCIDE); }],
    ['EFER.LMA outside long mode', (s) => { s.efer = BigInt(EFER_LMA); }],
    ['cs.l outside long mode', (s) => { s.efer = BigInt(EFER_LME); s.cs.l = 1; }],
    ['long mode without EFER.LMA', (s) => { s.efer = BigInt(EFER_LME); s.cr0 = 0x80000011n; s.cr4 = 0x20n; }],
    ['long mode without CR4.PAE', (s) => { s.efer = BigInt(EFER_LME | EFER_LMA); s.cr0 = 0x80000011n; s.cr4 = 0n; }],
    ['long mode with CR3 at MAXPHYADDR (36)', (s) => { s.efer = BigInt(EFER_LME | EFER_LMA); s.cr0 = 0x80000011n; s.cr4 = 0x20n; s.cr3 = 1n << 36n; }],
    ['a refused apic_base', (s) => { s.apic_base = 0xfee00d00n; }],
  ];
  it.each(refused)('%s: EINVAL, and nothing changes (cr8, interrupt_bitmap, segments)', (_name, change) => {
    const v = vmm();
    const before = sregs(v).bytes.slice();
    expect(setSregs(v, (s) => { change(s); s.cr8 = 5n; s.interrupt_bitmap.set(1, 1n); s.fs.base = 0x1234n; })).toBe('EINVAL');
    expect(sregs(v).bytes).toEqual(before);
  });
  it('valid: long mode (LME|LMA, PG|PE, PAE, CR3 below 2^36, cs.l), any CR0 bits 0-30 but NW alone, EFER with any bits', () => {
    const v = vmm();
    expect(setSregs(v, (s) => { s.efer = 0x500n; s.cr0 = 0x80000011n; s.cr4 = 0x20n; s.cr3 = 0xffffff000n; s.cs.l = 1; })).toBe(0);
    expect(setSregs(v, (s) => { s.efer = 0xfff00000000bffn; s.cr0 = 0x1ffeffffn; s.cr4 = 0x7ffn; s.cs.l = 0; s.cr3 = 1n << 40n; })).toBe(0);
    const s = sregs(v);
    expect([s.efer, s.cr0, s.cr4, s.cr3]).toEqual([0xfff00000000bffn, 0x1ffeffffn, 0x7ffn, 1n << 40n]);
  });
  it('interrupt_bitmap: the first set vector is queued and reported; an empty bitmap keeps it; KVM_RUN injects it whatever IF says', () => {
    const v = vmm();
    expect(setSregs(v, (s) => { s.interrupt_bitmap.set(1, 0b101n); s.interrupt_bitmap.set(3, 1n << 63n); })).toBe(0);
    expect(sregs(v).interrupt_bitmap.get(1)).toBe(1n);
    expect([0, 2, 3].map((i) => sregs(v).interrupt_bitmap.get(i))).toEqual([0n, 0n, 0n]);
    expect(setSregs(v, () => {})).toBe(0);
    expect(sregs(v).interrupt_bitmap.get(1)).toBe(1n);
    const prog = new GuestAsm('irq').label('start').hlt().label('h64').out(0x10, 0, 1).iret().handler(64, 'h64').build();
    v.host.control.kvm.loadGuest(v.p, v.vcpus[0]!, prog);
    v.p.ioctl(v.vcpus[0]!, K.KVM_RUN);
    expect(v.runs[0]!.read32(K.kvm_run.offsetof('exit_reason'))).toBe(K.KVM_EXIT_IO);
    expect(v.runs[0]!.read16(K.kvm_run.offsetof('io.port'))).toBe(0x10);
    expect(sregs(v).interrupt_bitmap.get(1)).toBe(0n);
  });
  it('INIT drops the interrupt interrupt_bitmap queued (x86.c kvm_vcpu_reset -> kvm_clear_interrupt_queue), seen after KVM_GET_MP_STATE accepts it', () => {
    const v = vmm();
    const lapic = K.kvm_lapic_state.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_LAPIC, lapic);
    new DataView(lapic.bytes.buffer, lapic.bytes.byteOffset).setUint32(0xf0, 0x1ff, true);
    v.p.ioctl(v.vcpus[0]!, K.KVM_SET_LAPIC, lapic);
    expect(setSregs(v, (s) => { s.interrupt_bitmap.set(1, 1n); })).toBe(0);
    expect(signalMsi(v.p, v.vm, 0xfee00000, 0x500)).toBe(1);
    expect(sregs(v).interrupt_bitmap.get(1)).toBe(1n);
    const mp = K.kvm_mp_state.alloc();
    v.p.ioctl(v.vcpus[0]!, K.KVM_GET_MP_STATE, mp);
    expect(mp.mp_state).toBe(K.KVM_MP_STATE_RUNNABLE);
    expect(sregs(v).interrupt_bitmap.get(1)).toBe(0n);
  });
  it('a halted BSP at the RESET vector (rip 0xfff0, cs 0xf000/0xffff0000, PE clear) becomes RUNNABLE; not with PE or without BSP', () => {
    const v = vmm({ vcpus: 2 });
    const mp = K.kvm_mp_state.alloc();
    const rg = K.kvm_regs.alloc();
    const state = (i: number): number => (v.p.ioctl(v.vcpus[i]!, K.KVM_GET_MP_STATE, mp), mp.mp_state);
    const halt = (i: number): void => { mp.mp_state = K.KVM_MP_STATE_HALTED; v.p.ioctl(v.vcpus[i]!, K.KVM_SET_MP_STATE, mp); };
    for (const i of [0, 1]) {
      v.p.ioctl(v.vcpus[i]!, K.KVM_GET_REGS, rg);
      rg.rip = 0xfff0n;
      v.p.ioctl(v.vcpus[i]!, K.KVM_SET_REGS, rg);
    }
    const set = (i: number, change: (s: ReturnType<typeof K.kvm_sregs.alloc>) => void): void => {
      const s = K.kvm_sregs.alloc();
      v.p.ioctl(v.vcpus[i]!, K.KVM_GET_SREGS, s);
      change(s);
      v.p.ioctl(v.vcpus[i]!, K.KVM_SET_SREGS, s);
    };
    halt(0);
    set(0, (s) => { s.cr0 = 0x60000011n; });
    expect(state(0)).toBe(K.KVM_MP_STATE_HALTED);
    set(0, (s) => { s.cr0 = 0x60000010n; });
    expect(state(0)).toBe(K.KVM_MP_STATE_RUNNABLE);
    halt(1);
    set(1, () => {});
    expect(state(1)).toBe(K.KVM_MP_STATE_HALTED);
  });
});

describe('strace of the MSR ioctls (src/linux/trace/decoders/kvm.ts)', () => {
  it('shows nmsrs entries as {index, data}, what KVM_GET_MSRS filled in after =>, and the list KVM_GET_MSR_INDEX_LIST wrote', () => {
    const v = vmm();
    const lines: string[] = [];
    v.host.strace((l) => lines.push(l));
    const fd = v.vcpus[0]!;
    v.p.ioctl(fd, K.KVM_SET_MSRS, msrs([[MSR_IA32_APICBASE, 0xfee00900n], [MSR_IA32_SYSENTER_CS, 5n]]));
    v.p.ioctl(fd, K.KVM_GET_MSRS, msrs([[MSR_IA32_SYSENTER_CS, 0n], [0x12345, 7n]]));
    const l = A.kvm_msr_list.alloc(32);
    l.nmsrs = 32;
    v.p.ioctl(v.kvm, K.KVM_GET_MSR_INDEX_LIST, l);
    expect(lines[0]).toBe(`ioctl(${fd}, KVM_SET_MSRS, {nmsrs=2, entries=[{index=0x1b, data=0xfee00900}, {index=0x174, data=0x5}]}) = 2`);
    expect(lines[1]).toBe(`ioctl(${fd}, KVM_GET_MSRS, {nmsrs=2, entries=[{index=0x174, data=0x0}, {index=0x12345, data=0x7}]} => {entries=[{index=0x174, data=0x5}, {index=0x12345, data=0x0}]}) = 1`);
    expect(lines[2]).toContain(`=> {nmsrs=${KVM_MSR_INDEX_LIST.length}, indices=[0x174, 0x175, 0x176, 0xc0000081,`);
  });
});
