// KVM_GET_REGS / KVM_SET_REGS and the kvm_run sync-register block (arch/x86/kvm/x86.c: __get_regs,
// __set_regs, sync_regs, store_regs) over the guest model's CPU: r0-r15 are rax, rbx, rcx, rdx, rsi,
// rdi, rsp, rbp, r8-r15 in kvm_regs order; rip is the guest program's instruction index plus the
// vCPU's ripBias (0 once a program is loaded; RESET/INIT and SIPI set it so that the program's entry
// reads as 0xfff0 or 0, x86-reset.ts); rflags holds IF (bit 9) and the always-one bit 1.
//
// CR8 (x86.c: kvm_set_cr8, kvm_get_cr8; lapic.c: kvm_lapic_set_tpr, kvm_lapic_get_cr8): with an
// in-kernel LAPIC, CR8 is TPR[7:4] (setting it writes TPR = cr8 << 4, clearing TPR[3:0]); without one
// it is vcpu->arch.cr8, which userspace owns through kvm_run.cr8. Bits above 3 are reserved
// (CR8_RESERVED_BITS): kvm_set_cr8 refuses the value and changes nothing.
//
// IA32_APIC_BASE (lapic.c: kvm_lapic_reset, kvm_apic_set_base, __kvm_apic_set_base; x86.c:
// post_kvm_run_save, __get/__set_sregs_common): vcpu->arch.apic_base exists with or without an
// in-kernel LAPIC. kvm_vcpu_reset calls kvm_lapic_reset either way, which sets it to 0xfee00000 |
// ENABLE | BSP (vCPU 0); without a LAPIC it is only a value userspace sets (KVM_SET_SREGS) and reads
// back (KVM_GET_SREGS, kvm_run.apic_base). With a LAPIC, the LAPIC keeps it (src/hw/x86/lapic.ts).

import { getU64n, setU32, setU64n } from '../../../abi/bytes.js';
import { kvm_regs } from '../../../include-ts/linux/kvm.js';
import { APIC_TASKPRI, MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE } from '../../hw/x86/apicdef.js';
import type { KvmVcpu } from './vcpu.js';
import { X86_FEATURE_X2APIC } from './cpuid.js';

const RIP = kvm_regs.offsetof('rip');
const RFLAGS = kvm_regs.offsetof('rflags');
export const X86_EFLAGS_FIXED = 0x2;
export const X86_EFLAGS_IF = 0x200;

export function regsToBytes(v: KvmVcpu, out: Uint8Array): void {
  const cpu = v.cpu;
  for (let i = 0; i < 16; i++) setU64n(out, i * 8, Math.max(0, cpu.regs[i]!));
  setU64n(out, RIP, kvmRipRead(v));
  setU64n(out, RFLAGS, X86_EFLAGS_FIXED | (cpu.ifFlag ? X86_EFLAGS_IF : 0));
}

/** __set_regs() (KVM_SET_REGS and KVM_SYNC_X86_REGS). */
export function regsFromBytes(v: KvmVcpu, src: Uint8Array): void {
  const cpu = v.cpu;
  for (let i = 0; i < 16; i++) cpu.regs[i] = getU64n(src, i * 8);
  cpu.pc = getU64n(src, RIP) - v.ripBias;
  cpu.ifFlag = (getU64n(src, RFLAGS) & X86_EFLAGS_IF) !== 0;
  // A pending (not yet injected) exception is dropped; measured on 6.18 with a queued #MC (mce-oracle.c).
  v.excPending = false;
}

/** kvm_rip_read(): the architectural RIP (not below 0: a program may jump before the entry RIP mapped to). */
export function kvmRipRead(v: KvmVcpu): number {
  return Math.max(0, v.cpu.pc + v.ripBias);
}

/** X86_CR8_TPR: the only CR8 bits that exist; anything else is CR8_RESERVED_BITS. */
export const X86_CR8_TPR = 0xf;

/** kvm_get_cr8(). */
export function kvmGetCr8(v: KvmVcpu): number {
  const apic = v.lapic;
  return apic !== null ? (apic.tpr >> 4) & X86_CR8_TPR : v.cr8;
}

/** kvm_set_cr8(): false (nothing changed) if `cr8` sets a reserved bit. */
export function kvmSetCr8(v: KvmVcpu, cr8: number): boolean {
  // A number, not a bigint: any u64 above 0xf, however rounded, is still above 0xf.
  if (cr8 > X86_CR8_TPR) return false;
  const apic = v.lapic;
  if (apic !== null) apic.writeReg(APIC_TASKPRI, cr8 << 4);
  else v.cr8 = cr8;
  return true;
}

/** kvm_get_apic_base(): vcpu->arch.apic_base. */
export function kvmGetApicBase(v: KvmVcpu): number {
  const apic = v.lapic;
  return apic !== null ? apic.apicBase : v.apicBase;
}

/**
 * Stores IA32_APIC_BASE at `b[o]` as a u64 (post_kvm_run_save's kvm_run.apic_base, on every exit). The
 * value (0xfee00900 and up) is not a small integer: read into a variable and handed to a call V8 did
 * not inline, it is boxed as a heap number, 16 bytes per KVM_RUN. Only int32 halves leave this function.
 */
export function putApicBase(v: KvmVcpu, b: Uint8Array, o: number): void {
  const apic = v.lapic;
  if (apic !== null) {
    setU32(b, o, apic.apicBaseLo);
    setU32(b, o + 4, apic.apicBaseHi);
  } else {
    setU32(b, o, v.apicBase | 0);
    setU32(b, o + 4, (v.apicBase / 0x1_0000_0000) | 0);
  }
}

/** Bits 0-7 and 9: the 0x2ff of kvm_apic_set_base. */
const APIC_BASE_RESERVED_LOW = 0x2ffn;
const EXTD = BigInt(X2APIC_ENABLE);

/**
 * Why kvm_apic_set_base(vcpu, value, host_initiated = true) would refuse `value`, or null: for
 * KVM_SET_SREGS and KVM_SET_MSRS alike (a guest WRMSR adds the mode-transition checks, guest-msr.ts).
 * EXTD is reserved unless the guest CPUID has x2APIC; EXTD without the enable bit is LAPIC_MODE_INVALID.
 * The same value as now is always accepted, unchecked.
 */
export function apicBaseRefusal(v: KvmVcpu, value: bigint): string | null {
  if (value === BigInt(kvmGetApicBase(v))) return null;
  // kvm_vcpu_reserved_gpa_bits_raw(): from the guest CPUID's MAXPHYADDR up (36 without CPUID).
  const maxPhy = v.guestCpuid.maxPhyAddr;
  if (value >> maxPhy) return `bits ${maxPhy} and up are beyond MAXPHYADDR (${maxPhy})`;
  if (value & APIC_BASE_RESERVED_LOW) return 'bits 0-7 and 9 are reserved';
  if (value & EXTD) {
    if (!v.guestCpuid.has(X86_FEATURE_X2APIC)) return 'x2APIC enable (bit 10) is reserved: the guest CPUID has no x2APIC (leaf 1 ECX bit 21)';
    if ((value & BigInt(MSR_IA32_APICBASE_ENABLE)) === 0n) return 'x2APIC enable (bit 10) without the APIC enable bit (11) is an invalid LAPIC mode';
  }
  return null;
}

/** __kvm_apic_set_base() of a value apicBaseRefusal() accepted. */
export function kvmApicSetBase(v: KvmVcpu, value: bigint): void {
  const n = Number(value);
  const apic = v.lapic;
  if (apic !== null) apic.setApicBase(n);
  else v.apicBase = n;
}
