// Guest RDMSR/WRMSR (arch/x86/kvm/x86.c: kvm_emulate_rdmsr/kvm_emulate_wrmsr, kvm_get/set_msr_with_filter,
// __kvm_set_msr and kvm_set_msr_common with host_initiated = false, set_efer/__kvm_valid_efer,
// kvm_msr_reason, kvm_msr_user_space, complete_fast_rdmsr/complete_fast_msr_access,
// kvm_complete_insn_gp; arch/x86/kvm/lapic.c kvm_apic_set_base) and KVM_CAP_X86_USER_SPACE_MSR.
//
// - The filter (msr-filter.ts) is checked first: a denied access fails with KVM_MSR_RET_FILTERED.
// - The KVM PV MSRs (MSR_KVM_*) have their own guest rules (pv-msrs.ts), as do the machine-check MSRs
//   and HWCR (mce.ts).
// - Reads are kvm_get_msr_common as for KVM_GET_MSRS (msr.ts). Writes differ where x86.c tests
//   host_initiated: a TSC write moves the TSC offset and TSC_ADJUST by (value - current guest TSC)
//   instead of synchronizing; a TSC_ADJUST write (guest CPUID TSC_ADJUST) moves the offset by the
//   change; APIC_BASE refuses x2APIC -> xAPIC and disabled -> x2APIC; EFER refuses LME/LMA without
//   CPUID LM, NX without CPUID NX, and an LME change while CR0.PG is set; MISC_ENABLE refuses a change
//   of the PMU read-only bits (BTS/PEBS unavailable) and keeps EMON (bit 7) as it was.
// - A failure is KVM_MSR_RET_UNSUPPORTED for an MSR KVM does not know, KVM_MSR_RET_FILTERED for a
//   filtered one, and 1 (invalid) otherwise (x2APIC registers outside x2APIC mode included). If its reason
//   (KVM_MSR_EXIT_REASON_UNKNOWN / _FILTER / _INVAL) is in the VM's user_space_msr_mask, KVM_RUN exits
//   with KVM_EXIT_X86_RDMSR/WRMSR: msr.error 0, pad zeroed, reason, index, data (the value written; 0
//   for a read). Else #GP(0) is queued and the instruction does not retire.
// - On the next KVM_RUN, before immediate_exit is looked at and whatever exit_reason now says, the
//   exit completes: msr.error non-zero queues #GP(0); else a read loads EDX:EAX from msr.data, and the
//   instruction retires.

import { KVM_MSR_RET_FILTERED, KVM_MSR_RET_UNSUPPORTED, MSR_RET_INVALID } from './msr-ret.js';
import { getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { KVM_EXIT_X86_RDMSR, KVM_EXIT_X86_WRMSR, KVM_MSR_EXIT_REASON_FILTER, KVM_MSR_EXIT_REASON_INVAL, KVM_MSR_EXIT_REASON_UNKNOWN, kvm_run, kvm_sregs } from '../../../include-ts/linux/kvm.js';
import { KVM_MSR_FILTER_READ, KVM_MSR_FILTER_WRITE } from '../../../include-ts/asm/kvm.js';
import { X86_CR0_PG } from '../../../include-ts/asm/processor-flags.js';
import {
  EFER_LMA, EFER_LME, EFER_NX, MSR_EFER, MSR_IA32_APICBASE, MSR_IA32_MISC_ENABLE, MSR_IA32_MISC_ENABLE_BTS_UNAVAIL, MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL,
  MSR_IA32_TSC, MSR_IA32_TSC_ADJUST,
} from '../../hw/x86/msr-index.js';
import { MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE } from '../../hw/x86/apicdef.js';
import { GUEST_IO_EXIT, GUEST_MSR_GP } from '../../guest/cpu.js';
import { EFER_SUPPORTED, kvmGetMsr, kvmSetMsr } from './msr.js';
import { isX2apicMsr, kvmMsrAllowed } from './msr-filter.js';
import { kvmReadL1Tsc } from './tsc.js';
import { isPvMsr, kvmPvGetMsr, kvmPvSetMsr } from './pv-msrs.js';
import { isMceMsr, mceGetMsr, mceSetMsr } from './mce.js';
import { kvmGetApicBase } from './x86-regs.js';
import type { KvmVcpu } from './vcpu.js';
import { X86_FEATURE_LM, X86_FEATURE_NX, X86_FEATURE_TSC_ADJUST } from './cpuid.js';

/** KVM_MSR_EXIT_REASON_INVAL | _UNKNOWN | _FILTER: what KVM_CAP_X86_USER_SPACE_MSR accepts. */
export const KVM_MSR_EXIT_REASON_VALID_MASK = KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER;


const GP_VECTOR = 13;
const MSR_IA32_MISC_ENABLE_EMON = 1n << 7n;
const MISC_ENABLE_PMU_RO_MASK = BigInt(MSR_IA32_MISC_ENABLE_BTS_UNAVAIL | MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL);

const SREGS_EFER = kvm_sregs.offsetof('efer');
const SREGS_CR0 = kvm_sregs.offsetof('cr0');
const MSR_ERROR = kvm_run.offsetof('msr.error');
const MSR_PAD = kvm_run.offsetof('msr.pad');
const MSR_REASON = kvm_run.offsetof('msr.reason');
const MSR_INDEX = kvm_run.offsetof('msr.index');
const MSR_DATA = kvm_run.offsetof('msr.data');
const EXIT_REASON = kvm_run.offsetof('exit_reason');

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** The result of a refused access whose MSR the read side does not know. */
function failure(v: KvmVcpu, index: number): number {
  return isX2apicMsr(index) || kvmGetMsr(v, index) !== null ? MSR_RET_INVALID : KVM_MSR_RET_UNSUPPORTED;
}

/** LAPIC mode bits of IA32_APIC_BASE: enable (11) and x2APIC (10). */
function apicMode(base: bigint): bigint {
  return base & BigInt(MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE);
}

/** adjust_tsc_offset_guest(). */
function adjustTscOffsetGuest(v: KvmVcpu, adj: bigint): void {
  v.tsc.l1TscOffset = U64(v.tsc.l1TscOffset + adj);
}

/** kvm_set_msr_with_filter()'s write with host_initiated = false: 0 or a KVM_MSR_RET_* / 1. */
export function kvmSetMsrGuest(v: KvmVcpu, index: number, data: bigint): number {
  if (!kvmMsrAllowed(v.kvm.msrFilter, index, KVM_MSR_FILTER_WRITE)) return KVM_MSR_RET_FILTERED;
  if (isPvMsr(index)) return kvmPvSetMsr(v, index, data, false);
  if (isMceMsr(v, index)) return mceSetMsr(v, index, data, false);
  switch (index) {
    case MSR_IA32_TSC: {
      // kvm_compute_l1_tsc_offset(data) - l1_tsc_offset: the guest TSC reads `data` from now on.
      const adj = U64(data - kvmReadL1Tsc(v));
      adjustTscOffsetGuest(v, adj);
      v.tsc.tscAdjust = U64(v.tsc.tscAdjust + adj);
      return 0;
    }
    case MSR_IA32_TSC_ADJUST:
      if (v.guestCpuid.has(X86_FEATURE_TSC_ADJUST)) {
        adjustTscOffsetGuest(v, U64(data - v.tsc.tscAdjust));
        v.tsc.tscAdjust = data;
      }
      return 0;
    case MSR_IA32_APICBASE: {
      // kvm_apic_set_base(host_initiated = false): no x2APIC -> xAPIC, no disabled -> x2APIC.
      const old = apicMode(BigInt(kvmGetApicBase(v)));
      const nu = apicMode(data);
      const x2 = BigInt(MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE);
      if (old === x2 && nu === BigInt(MSR_IA32_APICBASE_ENABLE)) return MSR_RET_INVALID;
      if (old === 0n && nu === x2) return MSR_RET_INVALID;
      break;
    }
    case MSR_EFER: {
      if (data & ~EFER_SUPPORTED) return MSR_RET_INVALID;
      const cpuid = v.guestCpuid;
      if (data & BigInt(EFER_LME | EFER_LMA) && !cpuid.has(X86_FEATURE_LM)) return MSR_RET_INVALID;
      if (data & BigInt(EFER_NX) && !cpuid.has(X86_FEATURE_NX)) return MSR_RET_INVALID;
      const paging = (getU64(v.sregs, SREGS_CR0) & BigInt(X86_CR0_PG)) !== 0n;
      if (paging && ((getU64(v.sregs, SREGS_EFER) ^ data) & BigInt(EFER_LME))) return MSR_RET_INVALID;
      break;
    }
    case MSR_IA32_MISC_ENABLE: {
      const old = v.msrs.miscEnable;
      if ((old ^ data) & MISC_ENABLE_PMU_RO_MASK) return MSR_RET_INVALID;
      // EMON is read-only: writes to it are ignored, without a fault.
      v.msrs.miscEnable = (data & ~MSR_IA32_MISC_ENABLE_EMON) | (old & MSR_IA32_MISC_ENABLE_EMON);
      return 0;
    }
  }
  return kvmSetMsr(v, index, data) ? 0 : failure(v, index);
}

/** kvm_get_msr_with_filter() with host_initiated = false: the value, or a KVM_MSR_RET_* / 1 as a number. */
export function kvmGetMsrGuest(v: KvmVcpu, index: number): bigint | number {
  if (!kvmMsrAllowed(v.kvm.msrFilter, index, KVM_MSR_FILTER_READ)) return KVM_MSR_RET_FILTERED;
  if (isPvMsr(index)) return kvmPvGetMsr(v, index);
  if (isMceMsr(v, index)) return mceGetMsr(v, index, false);
  return kvmGetMsr(v, index) ?? failure(v, index);
}

/** kvm_msr_reason(). */
function msrReason(r: number): number {
  return r === KVM_MSR_RET_UNSUPPORTED ? KVM_MSR_EXIT_REASON_UNKNOWN : r === KVM_MSR_RET_FILTERED ? KVM_MSR_EXIT_REASON_FILTER : KVM_MSR_EXIT_REASON_INVAL;
}

/** kvm_msr_user_space(): fills the exit if userspace asked for this reason. */
function msrUserSpace(v: KvmVcpu, index: number, exitReason: number, data: bigint, r: number): boolean {
  const reason = msrReason(r);
  if ((v.kvm.userSpaceMsrMask & reason) === 0) return false;
  const run = v.run;
  setU32(run, EXIT_REASON, exitReason);
  run[MSR_ERROR] = 0;
  run.fill(0, MSR_PAD, MSR_PAD + 7);
  setU32(run, MSR_REASON, reason);
  setU32(run, MSR_INDEX, index);
  setU64(run, MSR_DATA, data);
  return true;
}

/**
 * kvm_queue_exception(_e) as the model needs it: `nr` pending, replacing whatever was pending (no
 * #DF/triple-fault merging: its callers queue #GP from an instruction and #MC from KVM_X86_SET_MCE).
 */
export function kvmQueueException(v: KvmVcpu, nr: number, hasErrorCode: boolean, errorCode = 0): void {
  v.excPending = true;
  v.excInjected = false;
  v.excNr = nr;
  v.excHasErrorCode = hasErrorCode;
  v.excErrorCode = errorCode;
  v.excHasPayload = false;
  v.excPayload = 0n;
}

/** kvm_inject_gp(vcpu, 0): #GP with error code 0, pending. */
export function kvmInjectGp(v: KvmVcpu): void {
  kvmQueueException(v, GP_VECTOR, true);
}

/** EDX:EAX = data (kvm_rax_write/kvm_rdx_write of its halves). */
function writeEdxEax(v: KvmVcpu, data: bigint): void {
  v.cpu.regs[0] = Number(data & 0xffff_ffffn);
  v.cpu.regs[3] = Number((data >> 32n) & 0xffff_ffffn);
}

/** kvm_emulate_rdmsr(): 0 (done), GUEST_IO_EXIT (KVM_EXIT_X86_RDMSR) or GUEST_MSR_GP. */
export function kvmEmulateRdmsr(v: KvmVcpu, index: number): number {
  const r = kvmGetMsrGuest(v, index);
  if (typeof r === 'bigint') {
    writeEdxEax(v, r);
    return 0;
  }
  if (msrUserSpace(v, index, KVM_EXIT_X86_RDMSR, 0n, r)) return GUEST_IO_EXIT;
  kvmInjectGp(v);
  return GUEST_MSR_GP;
}

/** kvm_emulate_wrmsr(): as kvmEmulateRdmsr, with KVM_EXIT_X86_WRMSR carrying the value. */
export function kvmEmulateWrmsr(v: KvmVcpu, index: number, lo: number, hi: number): number {
  const data = (BigInt(hi) << 32n) | BigInt(lo);
  const r = kvmSetMsrGuest(v, index, data);
  if (r === 0) return 0;
  if (msrUserSpace(v, index, KVM_EXIT_X86_WRMSR, data, r)) return GUEST_IO_EXIT;
  kvmInjectGp(v);
  return GUEST_MSR_GP;
}

/** complete_fast_rdmsr / complete_fast_msr_access on re-entry: false if the instruction faulted. */
export function completeUserspaceMsr(v: KvmVcpu, isWrite: boolean): boolean {
  const run = v.run;
  if (run[MSR_ERROR] !== 0) {
    kvmInjectGp(v);
    return false;
  }
  if (!isWrite) writeEdxEax(v, getU64(run, MSR_DATA));
  return true;
}
