// KVM_GET_REGS / KVM_SET_REGS and the kvm_run sync-register block (arch/x86/kvm/x86.c: __get_regs,
// __set_regs, sync_regs, store_regs) over the guest model's CPU: r0-r15 are rax, rbx, rcx, rdx, rsi,
// rdi, rsp, rbp, r8-r15 in kvm_regs order; rip is the guest program's instruction index; rflags holds
// IF (bit 9) and the always-one bit 1.

import { getU64n, setU64n } from '../../../abi/bytes.js';
import { kvm_regs } from '../../../include-ts/linux/kvm.js';
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
