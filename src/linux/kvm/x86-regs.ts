// KVM_GET_REGS / KVM_SET_REGS and the kvm_run sync-register block (arch/x86/kvm/x86.c: __get_regs,
// __set_regs, sync_regs, store_regs) over the guest model's CPU: r0-r15 are rax, rbx, rcx, rdx, rsi,
// rdi, rsp, rbp, r8-r15 in kvm_regs order; rip is the guest program's instruction index; rflags holds
// IF (bit 9) and the always-one bit 1.
//
// CR8 (x86.c: kvm_set_cr8, kvm_get_cr8; lapic.c: kvm_lapic_set_tpr, kvm_lapic_get_cr8): with an
// in-kernel LAPIC, CR8 is TPR[7:4] (setting it writes TPR = cr8 << 4, clearing TPR[3:0]); without one
// it is vcpu->arch.cr8, which userspace owns through kvm_run.cr8. Bits above 3 are reserved
// (CR8_RESERVED_BITS): kvm_set_cr8 refuses the value and changes nothing.

import { getU64n, setU64n } from '../../../abi/bytes.js';
import { kvm_regs } from '../../../include-ts/linux/kvm.js';
import { APIC_TASKPRI } from '../../hw/x86/apicdef.js';
import type { KvmVcpu } from './vcpu.js';

const RIP = kvm_regs.offsetof('rip');
const RFLAGS = kvm_regs.offsetof('rflags');
export const X86_EFLAGS_FIXED = 0x2;
export const X86_EFLAGS_IF = 0x200;

export function regsToBytes(v: KvmVcpu, out: Uint8Array): void {
  const cpu = v.cpu;
  for (let i = 0; i < 16; i++) setU64n(out, i * 8, Math.max(0, cpu.regs[i]!));
  setU64n(out, RIP, cpu.pc);
  setU64n(out, RFLAGS, X86_EFLAGS_FIXED | (cpu.ifFlag ? X86_EFLAGS_IF : 0));
}

export function regsFromBytes(v: KvmVcpu, src: Uint8Array): void {
  const cpu = v.cpu;
  for (let i = 0; i < 16; i++) cpu.regs[i] = getU64n(src, i * 8);
  cpu.pc = getU64n(src, RIP);
  cpu.ifFlag = (getU64n(src, RFLAGS) & X86_EFLAGS_IF) !== 0;
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
