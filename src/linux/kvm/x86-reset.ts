// RESET and INIT of an x86 vCPU (arch/x86/kvm/x86.c: kvm_vcpu_reset, kvm_vcpu_deliver_sipi_vector;
// arch/x86/kvm/vmx/vmx.c: vmx_vcpu_reset, __vmx_vcpu_reset/init_vmcs; arch/x86/kvm/svm/svm.c:
// svm_vcpu_reset, init_vmcb; arch/x86/kvm/lapic.c: kvm_lapic_reset). One function serves both:
// KVM_CREATE_VCPU (kvm_arch_vcpu_create calls kvm_vcpu_reset(vcpu, false)) and an INIT the LAPIC
// accepted (kvm_apic_accept_events calls kvm_vcpu_reset(vcpu, true)).
//
// Both: the LAPIC (kvm_lapic_reset; IA32_APIC_BASE and the APIC ID only at RESET), no queued NMI or
// injected interrupt, GPRs zeroed but RDX = the guest CPUID leaf 1 EAX (0x600 without one: cpuid.ts), RIP 0xfff0, RFLAGS 0x2, CS 0xf000 base 0xffff0000, DS/ES/FS/GS/SS selector 0
// base 0 (so the FS/GS base MSRs read 0), all limits 0xffff, TR busy TSS, LDTR, GDTR/IDTR limit 0xffff,
// CR2/CR3/CR4/EFER 0, CR8 0 (vmx_vcpu_reset's kvm_set_cr8), DR0-3 0, DR6 0xffff0ff0, DR7 0x400. CR0 is ET | NW | CD at RESET; INIT keeps
// NW and CD as they were ("CR0.CD/NW are set on RESET, preserved on INIT") and clears the rest.
// Segment attributes are VMX's (vmx.c seg_setup, AR 0x93/0x9b, TR 0x8b, LDTR 0x82), which is what
// the kvm_pvm host the differential test runs on reports too; SVM's svm_get_segment reports CS type
// 0xa, SS type 2 and TR type 3 for the same reset.
// RESET only: IA32_MISC_ENABLE = PEBS_UNAVAIL | BTS_UNAVAIL (and VMX's init_vmcs zeroes SYSENTER_*,
// which a new vCPU already has). INIT keeps every other MSR: STAR/LSTAR/CSTAR/SFMASK, KERNEL_GS_BASE,
// SYSENTER_*, PAT, MISC_ENABLE, MTRRdefType, TSC and APIC_BASE; EFER and the FS/GS bases go with the
// registers above. mp_state is the caller's (kvm_apic_accept_events).
// FPU (fpu.ts): XCR0 = x87 at RESET only; INIT keeps the XSAVE state but for MPX/CET components
// (kvm_xstate_reset: none on the modelled host).
//
// The guest program is not x86 code: it starts at its entry point at RESET, INIT and SIPI alike, while
// KVM_GET_REGS shows the architectural RIP (KvmVcpu.ripBias maps one to the other).

import { getU64, setU16, setU32, setU64, setU64n } from '../../../abi/bytes.js';
import { kvm_sregs } from '../../../include-ts/linux/kvm.js';
import { X86_CR0_CD, X86_CR0_ET, X86_CR0_NW } from '../../../include-ts/asm/processor-flags.js';
import { MSR_IA32_MISC_ENABLE_BTS_UNAVAIL, MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL } from '../../hw/x86/msr-index.js';
import { apicBaseResetValue } from '../../hw/x86/apicdef.js';
import type { KvmVcpu } from './vcpu.js';
import { kvmPvReset } from './pv-msrs.js';
import { kvmApicSetVersion } from './cpuid.js';

/** KVM's Family/Model/Stepping in RDX after RESET/INIT when the guest CPUID has no leaf 1 (P6/Athlon). */
export const KVM_RESET_RDX = 0x600;
/** The RESET vector's RIP (with CS base 0xffff0000: linear 0xfffffff0). */
export const RESET_RIP = 0xfff0;
/** DR6_ACTIVE_LOW: the DR6 bits that read 1 when inactive (arch/x86/include/asm/debugreg.h). */
export const DR6_ACTIVE_LOW = 0xffff0ff0;
/** DR7_FIXED_1: DR7 bit 10, always 1. */
export const DR7_FIXED_1 = 0x400;
/** RDX in the guest CPU's register file (kvm_regs order: rax, rbx, rcx, rdx, ...). */
const REG_RDX = 3;

const SREGS_CR0 = kvm_sregs.offsetof('cr0');
const SREGS_CS = kvm_sregs.offsetof('cs');
const SEG = kvm_sregs.offsetof('ds') - SREGS_CS;
const SEG_BASE = 0;
const SEG_LIMIT = kvm_sregs.offsetof('cs.limit') - SREGS_CS;
const SEG_TYPE = kvm_sregs.offsetof('cs.type') - SREGS_CS;
const SEG_PRESENT = kvm_sregs.offsetof('cs.present') - SREGS_CS;
const SEG_S = kvm_sregs.offsetof('cs.s') - SREGS_CS;
/** kvm_sregs' segments in order: cs ds es fs gs ss tr ldt, then gdt and idt. */
const SREGS_TR = kvm_sregs.offsetof('tr');
const SREGS_LDT = kvm_sregs.offsetof('ldt');
const SREGS_GDT_LIMIT = kvm_sregs.offsetof('gdt.limit');
const SREGS_IDT_LIMIT = kvm_sregs.offsetof('idt.limit');
export const SREGS_CS_SELECTOR = kvm_sregs.offsetof('cs.selector');
export const SREGS_CS_BASE = kvm_sregs.offsetof('cs.base');
const CR0_KEPT_ON_INIT = BigInt(X86_CR0_NW | X86_CR0_CD);

/** One segment register as vmx.c seg_setup/vmx_vcpu_reset leave it: base 0, limit 0xffff, present. */
function segment(b: Uint8Array, at: number, type: number, s: number): void {
  setU64(b, at + SEG_BASE, 0n);
  setU32(b, at + SEG_LIMIT, 0xffff);
  b[at + SEG_TYPE] = type;
  b[at + SEG_PRESENT] = 1;
  b[at + SEG_S] = s;
}

/** kvm_vcpu_reset(vcpu, init_event) with the vendor vcpu_reset, for the state the model has. */
export function kvmVcpuReset(v: KvmVcpu, initEvent: boolean): void {
  // kvm_lapic_reset(): IA32_APIC_BASE (RESET only) exists without an in-kernel LAPIC too; its BSP bit
  // and the BSP's LINT0 = ExtINT follow kvm_vcpu_is_reset_bsp (the vCPU ID), not the current BSP bit.
  // kvm_lapic_reset() ends by recalculating the APIC map at once: at KVM_CREATE_VCPU the new vCPU is not
  // yet online, so the map leaves it out (interrupts to its APIC ID are dropped) until something changes it.
  const apic = v.lapic;
  if (apic !== null) {
    apic.reset(v.isBsp, initEvent);
    kvmApicSetVersion(v);
    v.kvm.apicMap.recalc(v.kvm.vcpus, v.kvm.x2apicFormat, true);
  } else if (!initEvent) v.apicBase = apicBaseResetValue(v.isBsp);
  // No NMI queued or pending (the LAPIC's count was cleared above), none injected; the interrupt and
  // exception queues cleared (kvm_clear_interrupt_queue/kvm_clear_exception_queue keep the vectors).
  v.nmiQueued = 0;
  // The interrupt/NMI-window exiting controls go with the rest of the VMCS/VMCB state (stats.ts).
  v.windowArmed = 0;
  v.nmiPending = 0;
  v.nmiInjected = false;
  v.injectedIrq = -1;
  v.excInjected = false;
  v.excPending = false;
  if (!initEvent) v.msrs.miscEnable = BigInt(MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL | MSR_IA32_MISC_ENABLE_BTS_UNAVAIL);
  // Async PF, steal time and the pvclock both times; PV EOI with the LAPIC (pv-msrs.ts).
  kvmPvReset(v);
  // An access the vCPU exited for is not completed into the reset CPU (complete_fast_pio_* skip it
  // once RIP moved).
  v.cancelUserspaceIo();
  v.fpu.reset(initEvent);
  // Debug registers: DR0-3 0, DR6 DR6_ACTIVE_LOW, DR7 DR7_FIXED_1.
  v.db.fill(0n);
  v.dr6 = BigInt(DR6_ACTIVE_LOW);
  v.dr7 = DR7_FIXED_1;
  // GPRs 0 but RDX, RFLAGS 0x2 (IF clear, no STI/NMI blocking: GUEST_INTERRUPTIBILITY_INFO 0), RIP 0xfff0.
  const cpu = v.cpu;
  cpu.reset();
  cpu.regs[REG_RDX] = v.guestCpuid.resetRdx();
  v.ripBias = RESET_RIP - cpu.pc;
  // Segments, descriptor tables and control registers.
  const b = v.sregs;
  const cr0 = initEvent ? (getU64(b, SREGS_CR0) & CR0_KEPT_ON_INIT) | BigInt(X86_CR0_ET) : BigInt(X86_CR0_ET | X86_CR0_NW | X86_CR0_CD);
  b.fill(0);
  segment(b, SREGS_CS, 0xb, 1);
  setU16(b, SREGS_CS_SELECTOR, 0xf000);
  setU64n(b, SREGS_CS_BASE, 0xffff0000);
  for (let i = 1; i < 6; i++) segment(b, SREGS_CS + i * SEG, 3, 1);
  segment(b, SREGS_TR, 0xb, 0);
  segment(b, SREGS_LDT, 2, 0);
  setU16(b, SREGS_GDT_LIMIT, 0xffff);
  setU16(b, SREGS_IDT_LIMIT, 0xffff);
  setU64(b, SREGS_CR0, cr0);
  // vmx_vcpu_reset: kvm_set_cr8(vcpu, 0) (with a LAPIC, its TPR, already 0).
  v.cr8 = 0;
}

/**
 * kvm_vcpu_deliver_sipi_vector(): CS selector = vector << 8, base = vector << 12 (the rest of CS as it
 * was), RIP 0. The guest program starts at its entry point, which KVM_GET_REGS shows as RIP 0. The
 * vector is a u8 there (kvm_apic_accept_events' sipi_vector), whatever KVM_SET_VCPU_EVENTS stored.
 */
export function kvmVcpuDeliverSipiVector(v: KvmVcpu, sipiVector: number): void {
  const vector = sipiVector & 0xff;
  const b = v.sregs;
  setU16(b, SREGS_CS_SELECTOR, vector << 8);
  setU64n(b, SREGS_CS_BASE, vector << 12);
  const cpu = v.cpu;
  cpu.pc = cpu.program !== null ? cpu.program.entry : 0;
  v.ripBias = -cpu.pc;
}
