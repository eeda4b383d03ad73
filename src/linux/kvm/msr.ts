// KVM's MSR interface (arch/x86/kvm/x86.c: kvm_arch_dev_ioctl KVM_GET_MSR_INDEX_LIST, msr_io, __msr_io,
// do_get_msr/do_set_msr, kvm_do_msr_access, __kvm_set_msr, kvm_get_msr_common/kvm_set_msr_common,
// set_efer; arch/x86/kvm/lapic.c kvm_apic_set_base, kvm_x2apic_msr_read/write,
// kvm_get/set_lapic_tscdeadline_msr; arch/x86/kvm/mtrr.c kvm_mtrr_valid). Every access here is
// host-initiated (KVM_GET_MSRS / KVM_SET_MSRS); guest RDMSR/WRMSR (guest-msr.ts) add their own checks
// and reuse these for the rest.
//
// - KVM_GET_MSRS / KVM_SET_MSRS: nmsrs >= MAX_IO_MSRS (256) -> E2BIG; otherwise the MSRs are processed in
//   order and the call returns how many succeeded, stopping at the first that fails (its position, not
//   an errno). GET writes the data of every processed entry and 0 into the failing one (kvm_do_msr_access
//   zeroes a failed read); entries after it, `pad` and `reserved` are left as the user wrote them.
// - Unknown MSRs fail (ignore_msrs=0). The model's MSRs and their rules:
//   TSC (0x10): host TSC + l1_tsc_offset; a write is kvm_synchronize_tsc() (tsc.ts: the host TSC, the
//     synchronisation of vCPUs, catch-up).
//   APIC_BASE (0x1b): kvm_apic_set_base(host_initiated) — the checks KVM_SET_SREGS makes (x86-regs.ts).
//   TSC_ADJUST (0x3b): stored when the guest CPUID has TSC_ADJUST (leaf 7 EBX bit 1), else the write is
//     dropped; reads give the stored value (0 until then).
//   TSC_DEADLINE (0x6e0): the APIC timer's deadline in TSC-deadline mode (tsc-deadline.ts); in any
//     other mode, or without an in-kernel LAPIC, writes are accepted and dropped and reads give 0.
//   EFER: bits outside efer_reserved_bits (SCE, LME, LMA, NX on a host without nested SVM) fail; a
//     host-initiated write skips the guest's LME/paging checks, and LMA keeps its current value.
//     EFER is sregs.efer (KVM_GET/SET_SREGS see the same value).
//   FS_BASE, GS_BASE (= sregs.fs.base / gs.base), KERNEL_GS_BASE, LSTAR, CSTAR: a non-canonical value
//     (48-bit virtual addresses: a host without LA57) fails. STAR, SYSCALL_MASK, SYSENTER_CS: any value.
//     SYSENTER_ESP/EIP: made canonical (sign-extended from bit 47), never refused.
//   PAT (0x277): kvm_pat_valid (each byte 0, 1, 4, 5, 6 or 7). MISC_ENABLE (0x1a0): any value
//     (host-initiated, KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT on by default); RESET value PEBS|BTS_UNAVAIL.
//   MTRRdefType (0x2ff): type 0, 1, 4, 5 or 6 and no bits but FE (10) and E (11) above the type.
//   x2APIC (0x800-0x8ff): the LAPIC's registers in x2APIC mode (kvm_x2apic_msr_read/write, lapic.ts);
//     fail without an in-kernel LAPIC or outside x2APIC mode. Not listed, as in the kernel.
//   MSR_KVM_* (kvmclock, async PF, steal time, PV EOI, poll control): pv-msrs.ts.
//   Machine check (P5_MC_*, MCG_*, MCi_*, MCi_CTL2) and HWCR: mce.ts.
// - KVM_GET_MSR_INDEX_LIST: the MSRs above that the kernel lists (msrs_to_save + emulated_msrs), in the
//   kernel's order. The real list depends on the host (40 entries on the machine the tests run on); the
//   model lists only what it implements. EFER, FS/GS_BASE, APIC_BASE and MTRRdefType are handled but not
//   listed, as in the kernel. KVM_GET_MSR_FEATURE_INDEX_LIST and KVM_GET_MSRS on /dev/kvm: feature-msrs.ts.

import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU32, getU64, setU32, setU64 } from '../../../abi/bytes.js';
import { kvm_sregs } from '../../../include-ts/linux/kvm.js';
import { kvm_msr_entry, kvm_msr_list, kvm_msrs } from '../../../include-ts/asm/kvm.js';
import {
  EFER_LMA, EFER_LME, EFER_NX, EFER_SCE, MSR_CSTAR, MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_APICBASE,
  MSR_IA32_CR_PAT, MSR_IA32_CR_PAT_DEFAULT, MSR_IA32_MISC_ENABLE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP, MSR_IA32_TSC,
  MSR_IA32_MCG_CTL, MSR_IA32_MCG_EXT_CTL, MSR_IA32_MCG_STATUS, MSR_IA32_TSC_ADJUST, MSR_IA32_TSC_DEADLINE, MSR_K7_HWCR, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_MTRRdefType, MSR_STAR, MSR_SYSCALL_MASK,
} from '../../hw/x86/msr-index.js';
import type { KvmVcpu } from './vcpu.js';
import { X86_FEATURE_TSC_ADJUST } from './cpuid.js';
import { apicBaseRefusal, kvmApicSetBase, kvmGetApicBase } from './x86-regs.js';
import { kvmReadL1Tsc, kvmSynchronizeTsc } from './tsc.js';
import { kvmGetLapicTscDeadline, kvmSetLapicTscDeadline } from './tsc-deadline.js';
import { isX2apicMsr } from './msr-filter.js';
import { kvmX2apicMsrRead, kvmX2apicMsrWrite } from './lapic.js';
import { isPvMsr, kvmPvHostGet, kvmPvHostSet } from './pv-msrs.js';
import { isMceMsr, mceGetMsr, mceSetMsr } from './mce.js';
import {
  MSR_KVM_ASYNC_PF_ACK, MSR_KVM_ASYNC_PF_EN, MSR_KVM_ASYNC_PF_INT, MSR_KVM_POLL_CONTROL, MSR_KVM_PV_EOI_EN, MSR_KVM_STEAL_TIME,
  MSR_KVM_SYSTEM_TIME, MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK, MSR_KVM_WALL_CLOCK_NEW,
} from '../../../include-ts/asm/kvm_para.js';


/** MAX_IO_MSRS: KVM_GET/SET_MSRS take fewer entries than this. */
export const MAX_IO_MSRS = 256;

/** KVM_GET_MSR_INDEX_LIST: the model's MSRs the kernel lists, in its order (msrs_to_save, emulated_msrs). */
export const KVM_MSR_INDEX_LIST: readonly number[] = [
  MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_STAR, MSR_CSTAR, MSR_KERNEL_GS_BASE,
  MSR_SYSCALL_MASK, MSR_LSTAR, MSR_IA32_TSC, MSR_IA32_CR_PAT,
  MSR_KVM_SYSTEM_TIME, MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_ASYNC_PF_EN,
  MSR_KVM_STEAL_TIME, MSR_KVM_PV_EOI_EN, MSR_KVM_ASYNC_PF_INT, MSR_KVM_ASYNC_PF_ACK,
  MSR_IA32_TSC_ADJUST, MSR_IA32_TSC_DEADLINE, MSR_IA32_MISC_ENABLE, MSR_IA32_MCG_STATUS, MSR_IA32_MCG_CTL, MSR_K7_HWCR,
  MSR_KVM_POLL_CONTROL,
];

/** efer_reserved_bits' complement on a host without nested SVM (no SVME, LMSLE, FFXSR, AUTOIBRS). */
export const EFER_SUPPORTED = BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX);
/** Virtual-address width of the canonical checks (max_host_virt_addr_bits: a host without LA57). */
const VIRT_ADDR_BITS = 48;

const SREGS_EFER = kvm_sregs.offsetof('efer');
const SREGS_FS_BASE = kvm_sregs.offsetof('fs.base');
const SREGS_GS_BASE = kvm_sregs.offsetof('gs.base');

/** The MSR state of a vCPU that KVM_GET/SET_SREGS do not already hold. */
export class VcpuMsrs {
  star = 0n;
  lstar = 0n;
  cstar = 0n;
  syscallMask = 0n;
  kernelGsBase = 0n;
  sysenterCs = 0n;
  sysenterEsp = 0n;
  sysenterEip = 0n;
  /** kvm_arch_vcpu_create(): MSR_IA32_CR_PAT_DEFAULT. */
  pat = MSR_IA32_CR_PAT_DEFAULT;
  /** Set at RESET (x86-reset.ts: PEBS/BTS unavailable), kept by INIT. */
  miscEnable = 0n;
  mtrrDefType = 0n;
}

/** __canonical_address(): sign-extended from bit 47. */
function canonicalize(v: bigint): bigint {
  return BigInt.asUintN(64, BigInt.asIntN(VIRT_ADDR_BITS, v));
}

/** is_noncanonical_msr_address(), negated: the value is its own canonical form. */
function isCanonical(v: bigint): boolean {
  return canonicalize(v) === v;
}

/** kvm_pat_valid(): every byte is 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB) or 7 (UC-). */
export function kvmPatValid(v: bigint): boolean {
  if (v & 0xf8f8f8f8f8f8f8f8n) return false;
  return (v | ((v & 0x0202020202020202n) << 1n)) === v;
}

/** kvm_mtrr_valid() for MTRRdefType: a valid memory type, and only FE/E besides it. */
function mtrrDefTypeValid(v: bigint): boolean {
  if (v & ~0xcffn) return false;
  const type = Number(v & 0xffn);
  return type === 0 || type === 1 || type === 4 || type === 5 || type === 6;
}

/** kvm_get_msr_common() and the vendor get_msr, host-initiated: the value, or null if the read fails. */
export function kvmGetMsr(v: KvmVcpu, index: number): bigint | null {
  const m = v.msrs;
  switch (index) {
    case MSR_IA32_TSC: return kvmReadL1Tsc(v);
    case MSR_IA32_APICBASE: return BigInt(kvmGetApicBase(v));
    case MSR_IA32_TSC_ADJUST: return v.tsc.tscAdjust;
    case MSR_IA32_TSC_DEADLINE: return kvmGetLapicTscDeadline(v);
    case MSR_EFER: return getU64(v.sregs, SREGS_EFER);
    case MSR_FS_BASE: return getU64(v.sregs, SREGS_FS_BASE);
    case MSR_GS_BASE: return getU64(v.sregs, SREGS_GS_BASE);
    case MSR_KERNEL_GS_BASE: return m.kernelGsBase;
    case MSR_STAR: return m.star;
    case MSR_LSTAR: return m.lstar;
    case MSR_CSTAR: return m.cstar;
    case MSR_SYSCALL_MASK: return m.syscallMask;
    case MSR_IA32_SYSENTER_CS: return m.sysenterCs;
    case MSR_IA32_SYSENTER_ESP: return m.sysenterEsp;
    case MSR_IA32_SYSENTER_EIP: return m.sysenterEip;
    case MSR_IA32_CR_PAT: return m.pat;
    case MSR_IA32_MISC_ENABLE: return m.miscEnable;
    case MSR_MTRRdefType: return m.mtrrDefType;
    default: {
      if (isPvMsr(index)) return kvmPvHostGet(v, index);
      if (isMceMsr(v, index)) {
        const r = mceGetMsr(v, index, true);
        return typeof r === 'bigint' ? r : null;
      }
      return isX2apicMsr(index) ? kvmX2apicMsrRead(v, index) : null;
    }
  }
}

/**
 * __kvm_set_msr() + kvm_set_msr_common() and the vendor set_msr, host-initiated: false (and nothing
 * changed) if the write fails.
 */
export function kvmSetMsr(v: KvmVcpu, index: number, data: bigint): boolean {
  const m = v.msrs;
  switch (index) {
    case MSR_IA32_TSC:
      kvmSynchronizeTsc(v, data);
      return true;
    case MSR_IA32_APICBASE:
      if (apicBaseRefusal(v, data) !== null) return false;
      kvmApicSetBase(v, data);
      return true;
    case MSR_IA32_TSC_ADJUST:
      // Host-initiated: only the stored value changes (a guest write would also move the offset).
      if (v.guestCpuid.has(X86_FEATURE_TSC_ADJUST)) v.tsc.tscAdjust = data;
      return true;
    case MSR_IA32_TSC_DEADLINE:
      kvmSetLapicTscDeadline(v, data);
      return true;
    case MSR_EFER: {
      // set_efer(): reserved bits fail; LMA is the CPU's to set, so it keeps its value.
      if (data & ~EFER_SUPPORTED) return false;
      const lma = getU64(v.sregs, SREGS_EFER) & BigInt(EFER_LMA);
      setU64(v.sregs, SREGS_EFER, (data & ~BigInt(EFER_LMA)) | lma);
      return true;
    }
    case MSR_FS_BASE:
    case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE:
    case MSR_LSTAR:
    case MSR_CSTAR:
      if (!isCanonical(data)) return false;
      if (index === MSR_FS_BASE) setU64(v.sregs, SREGS_FS_BASE, data);
      else if (index === MSR_GS_BASE) setU64(v.sregs, SREGS_GS_BASE, data);
      else if (index === MSR_KERNEL_GS_BASE) m.kernelGsBase = data;
      else if (index === MSR_LSTAR) m.lstar = data;
      else m.cstar = data;
      return true;
    case MSR_STAR: m.star = data; return true;
    case MSR_SYSCALL_MASK: m.syscallMask = data; return true;
    case MSR_IA32_SYSENTER_CS: m.sysenterCs = data; return true;
    case MSR_IA32_SYSENTER_ESP: m.sysenterEsp = canonicalize(data); return true;
    case MSR_IA32_SYSENTER_EIP: m.sysenterEip = canonicalize(data); return true;
    case MSR_IA32_CR_PAT:
      if (!kvmPatValid(data)) return false;
      m.pat = data;
      return true;
    case MSR_IA32_MISC_ENABLE: m.miscEnable = data; return true;
    case MSR_MTRRdefType:
      if (!mtrrDefTypeValid(data)) return false;
      m.mtrrDefType = data;
      return true;
    default:
      if (isPvMsr(index)) return kvmPvHostSet(v, index, data);
      if (isMceMsr(v, index)) return mceSetMsr(v, index, data, true) === 0;
      // Unknown MSRs fail (ignore_msrs=0).
      return isX2apicMsr(index) && kvmX2apicMsrWrite(v, index, data);
  }
}

const NMSRS = kvm_msrs.offsetof('nmsrs');
const ENTRIES = kvm_msrs.offsetof('entries');
const ENTRY = kvm_msr_entry.size;
const ENTRY_INDEX = kvm_msr_entry.offsetof('index');
const ENTRY_DATA = kvm_msr_entry.offsetof('data');
const LIST_NMSRS = kvm_msr_list.offsetof('nmsrs');
const LIST_INDICES = kvm_msr_list.offsetof('indices');

/** msr_io(): KVM_GET_MSRS (`set` false) and KVM_SET_MSRS on a vCPU. */
export function msrIo(v: KvmVcpu, arg: UserArg, set: boolean): number {
  return msrEntries(arg, (index, b, o) => {
    if (set) return kvmSetMsr(v, index, getU64(b, o));
    const d = kvmGetMsr(v, index);
    setU64(b, o, d ?? 0n);
    return d !== null;
  });
}

/**
 * msr_io() / __msr_io(): the kvm_msrs header (E2BIG at MAX_IO_MSRS), then `each` entry in order until
 * one fails; returns how many succeeded. `each` gets the entry's index and where its data is.
 */
export function msrEntries(arg: UserArg, each: (index: number, b: Uint8Array, dataOffset: number) => boolean): number {
  const n = getU32(arg.user(kvm_msrs.size), NMSRS);
  if (n >= MAX_IO_MSRS) throw kerr('E2BIG', `kvm_msrs.nmsrs ${n} is not below MAX_IO_MSRS (${MAX_IO_MSRS})`);
  const b = arg.user(ENTRIES + n * ENTRY);
  let i = 0;
  for (; i < n; i++) {
    const o = ENTRIES + i * ENTRY;
    if (!each(getU32(b, o + ENTRY_INDEX), b, o + ENTRY_DATA)) break;
  }
  return i;
}

/** The list on a VMX host's machine-check setting (mce.ts): MCG_EXT_CTL after MCG_CTL (svm_has_emulated_msr drops it). */
const KVM_MSR_INDEX_LIST_VMX_MCE: readonly number[] = KVM_MSR_INDEX_LIST.flatMap((i) => (i === MSR_IA32_MCG_CTL ? [i, MSR_IA32_MCG_EXT_CTL] : [i]));

/** KVM_GET_MSR_INDEX_LIST. */
export function msrIndexList(arg: UserArg, vmxMce = false): number {
  return writeMsrList(arg, vmxMce ? KVM_MSR_INDEX_LIST_VMX_MCE : KVM_MSR_INDEX_LIST);
}

/** kvm_get_msr_index_list()'s copy-out: the count is written back even when the user's array is too small (E2BIG). */
export function writeMsrList(arg: UserArg, list: readonly number[]): number {
  const hdr = arg.user(kvm_msr_list.size);
  const room = getU32(hdr, LIST_NMSRS);
  setU32(hdr, LIST_NMSRS, list.length);
  if (room < list.length) throw kerr('E2BIG', `kvm_msr_list.nmsrs ${room} is smaller than the ${list.length} MSRs of the list (nmsrs now says how many)`);
  const b = arg.user(LIST_INDICES + list.length * 4);
  for (let i = 0; i < list.length; i++) setU32(b, LIST_INDICES + i * 4, list[i]!);
  return 0;
}
