// KVM machine-check emulation (arch/x86/kvm/x86.c: kvm_vm_ioctl_check_extension KVM_CAP_MCE,
// kvm_arch_dev_ioctl KVM_X86_GET_MCE_CAP_SUPPORTED, kvm_vcpu_ioctl_x86_setup_mce,
// kvm_vcpu_ioctl_x86_set_mce, is_ucna, kvm_vcpu_x86_set_ucna, set_msr_mce, get_msr_mce, can_set_mci_status,
// kvm_set/get_msr_common MSR_K7_HWCR, kvm_arch_vcpu_create; arch/x86/kvm/lapic.c
// kvm_apic_after_set_mcg_cap, kvm_apic_local_deliver(APIC_LVTCMCI); vmx.c vmx_get/set_msr
// MSR_IA32_MCG_EXT_CTL, hardware_setup; arch/x86/include/asm/mce.h for the bits).
//
// - State per vCPU (vcpu->arch): mcg_cap, which kvm_arch_vcpu_create sets to KVM_MAX_MCE_BANKS (32 banks,
//   no capability bits: every bank MSR exists before KVM_X86_SETUP_MCE), mcg_status, mcg_ctl,
//   mcg_ext_ctl, mce_banks[32 * 4] (CTL, STATUS, ADDR, MISC), mci_ctl2_banks[32], msr_hwcr. RESET and
//   INIT (kvm_vcpu_reset) touch none of it: only KVM_CREATE_VCPU gives the values above.
// - KVM_CAP_MCE = KVM_MAX_MCE_BANKS. KVM_X86_GET_MCE_CAP_SUPPORTED: kvm_caps.supported_mce_cap, MCG_CTL_P |
//   MCG_SER_P on this machine (SVM adds nothing; vmx.c adds MCG_LMCE_P | MCG_CMCI_P, which
//   host.control.kvm.setVmxMce(true) models).
// - KVM_X86_SETUP_MCE (u64 mcg_cap): EINVAL for a bank count (bits 7:0) of 0 or above 32 and for bits
//   outside supported_mce_cap | 0xff | 0xff0000; then MCG_CTL (with MCG_CTL_P) and every MCi_CTL of the
//   new banks all ones, MCi_CTL2 0 with MCG_CMCI_P; STATUS/ADDR/MISC are kept. The LAPIC gets its LVT
//   CMCI entry (masked) with MCG_CMCI_P, or loses it without (kvm_apic_after_set_mcg_cap: 7 or 6 LVTs,
//   the version register follows).
// - KVM_X86_SET_MCE (struct kvm_x86_mce): EINVAL for bank >= the bank count or STATUS without VAL.
//   A UCNA (UC and VAL, no PCC/S/AR, mcg_status 0) is written to the bank and MCG_STATUS, and with
//   MCG_CMCI_P and the bank's MCi_CTL2.CMCI_EN delivered through LVT CMCI. Other uncorrected errors are
//   dropped while MCG_CTL (with MCG_CTL_P) or the bank's MCi_CTL is not all ones; with MCG_STATUS.MCIP
//   set or CR4.MCE clear they are a triple fault (KVM_REQ_TRIPLE_FAULT: KVM_EXIT_SHUTDOWN at the next
//   KVM_RUN), nothing written; else OVER is added if the bank held a valid error, ADDR, MISC,
//   MCG_STATUS and STATUS are written and #MC (vector 18) is queued (kvm_queue_exception: pending,
//   replacing any pending or injected exception but #DF, over which it is a triple fault). A corrected error is written (OVER if the bank
//   held a valid one) unless the bank holds a valid uncorrected error, which only gains OVER.
// - MSRs (host-initiated through KVM_GET/SET_MSRS, or guest RDMSR/WRMSR): P5_MC_ADDR/TYPE read 0;
//   MCG_CAP reads mcg_cap and is not writable (unknown to kvm_set_msr_common); MCG_STATUS any value;
//   MCG_CTL needs MCG_CTL_P, but the host may write 0 without it, and takes only 0 or all ones;
//   MCi_CTL/STATUS/ADDR/MISC of banks below the count; MCi_CTL takes 0, or all ones with any of bit 10
//   (AMD K8 GART quirk) and bit 0 (UnixWare) clear; a guest's non-zero MCi_STATUS write needs an AMD
//   guest CPUID and HWCR.McStatusWrEn (bit 18); MCi_CTL2 of banks below the count, CMCI_EN | threshold
//   only, needing MCG_CMCI_P (the host may read it, and write 0, without); HWCR ignores bits 3, 6, 8 and
//   takes only McStatusWrEn and TscFreqSel (24); MCG_EXT_CTL on a VMX host only (LMCE_EN; a guest needs
//   FEATURE_CONTROL.LMCE, which the model has no MSR for: #GP), unknown on this SVM host.
//   KVM_GET_MSR_INDEX_LIST has MCG_STATUS, MCG_CTL (after MISC_ENABLE) and HWCR (msr.ts); on a VMX host
//   also MCG_EXT_CTL after MCG_CTL.

import { KVM_MSR_RET_UNSUPPORTED, MSR_RET_INVALID } from './msr-ret.js';
import { kerr } from '../errors.js';
import type { UserArg } from '../uaccess.js';
import { getU64, setU64 } from '../../../abi/bytes.js';
import { kvm_sregs, kvm_x86_mce } from '../../../include-ts/linux/kvm.js';
import { X86_CR4_MCE } from '../../../include-ts/asm/processor-flags.js';
import {
  MSR_IA32_MC0_CTL, MSR_IA32_MC0_CTL2, MSR_IA32_MC0_STATUS, MSR_IA32_MCG_CAP, MSR_IA32_MCG_CTL, MSR_IA32_MCG_EXT_CTL, MSR_IA32_MCG_STATUS,
  MSR_IA32_P5_MC_ADDR, MSR_IA32_P5_MC_TYPE, MSR_K7_HWCR,
} from '../../hw/x86/msr-index.js';
import { APIC_LVTCMCI } from '../../hw/x86/apicdef.js';
import type { KvmVcpu } from './vcpu.js';
import type { KvmModule } from './vm.js';
import { kvmQueueException } from './guest-msr.js';

/** KVM_MAX_MCE_BANKS: KVM_CAP_MCE, the largest bank count, mcg_cap at vCPU creation. */
export const KVM_MAX_MCE_BANKS = 32;

/** IA32_MCG_CAP bits (asm/mce.h). */
export const MCG_BANKCNT_MASK = 0xffn;
export const MCG_CTL_P = 1n << 8n;
export const MCG_EXT_P = 1n << 9n;
export const MCG_CMCI_P = 1n << 10n;
export const MCG_TES_P = 1n << 11n;
export const MCG_EXT_CNT_MASK = 0xff0000n;
export const MCG_SER_P = 1n << 24n;
export const MCG_LMCE_P = 1n << 27n;
/** IA32_MCG_STATUS bits. */
export const MCG_STATUS_RIPV = 1n << 0n;
export const MCG_STATUS_EIPV = 1n << 1n;
export const MCG_STATUS_MCIP = 1n << 2n;
/** IA32_MCi_STATUS bits. */
export const MCI_STATUS_VAL = 1n << 63n;
export const MCI_STATUS_OVER = 1n << 62n;
export const MCI_STATUS_UC = 1n << 61n;
export const MCI_STATUS_EN = 1n << 60n;
export const MCI_STATUS_PCC = 1n << 57n;
export const MCI_STATUS_S = 1n << 56n;
export const MCI_STATUS_AR = 1n << 55n;
/** IA32_MCi_CTL2 bits. */
export const MCI_CTL2_CMCI_EN = 1n << 30n;
export const MCI_CTL2_CMCI_THRESHOLD_MASK = 0x7fffn;
/** IA32_MCG_EXT_CTL. */
export const MCG_EXT_CTL_LMCE_EN = 1n << 0n;
/** HWCR.McStatusWrEn and TscFreqSel, the bits KVM stores. */
export const HWCR_MC_STATUS_WR_EN = 1n << 18n;
const HWCR_TSC_FREQ_SEL = 1n << 24n;
/** HWCR bits a write may set and KVM drops: TLB cache disable (3), flush filter disable (6), IGNNE emulation (8). */
const HWCR_IGNORED = 0x148n;

/** kvm_caps.supported_mce_cap from kvm_x86_vendor_init (this machine, SVM, measured: 0x1000100). */
export const KVM_MCE_CAP_SUPPORTED = MCG_CTL_P | MCG_SER_P;
/** ... plus what vmx.c hardware_setup adds on a VMX host. */
export const KVM_MCE_CAP_SUPPORTED_VMX = KVM_MCE_CAP_SUPPORTED | MCG_LMCE_P | MCG_CMCI_P;

const ALL_ONES = 0xffff_ffff_ffff_ffffn;
const MC_VECTOR = 18;
const DF_VECTOR = 8;
/** LVT entries of KVM's LAPIC: KVM_APIC_MAX_NR_LVT_ENTRIES with CMCI, one fewer without. */
const KVM_APIC_MAX_NR_LVT_ENTRIES = 7;

const MSR_MCx_CTL_END = MSR_IA32_MC0_CTL + 4 * KVM_MAX_MCE_BANKS;
const MSR_MCx_CTL2_END = MSR_IA32_MC0_CTL2 + KVM_MAX_MCE_BANKS;

const SREGS_CR4 = kvm_sregs.offsetof('cr4');
const MCE_STATUS = kvm_x86_mce.offsetof('status');
const MCE_ADDR = kvm_x86_mce.offsetof('addr');
const MCE_MISC = kvm_x86_mce.offsetof('misc');
const MCE_MCG_STATUS = kvm_x86_mce.offsetof('mcg_status');
const MCE_BANK = kvm_x86_mce.offsetof('bank');

/** A vCPU's machine-check state (vcpu->arch.mcg_* , mce_banks, mci_ctl2_banks, msr_hwcr). */
export class VcpuMce {
  /** kvm_arch_vcpu_create(): KVM_MAX_MCE_BANKS banks, no capability bits. */
  mcgCap = BigInt(KVM_MAX_MCE_BANKS);
  mcgStatus = 0n;
  mcgCtl = 0n;
  mcgExtCtl = 0n;
  /** CTL, STATUS, ADDR, MISC of each bank, as the MSRs 0x400 + 4 * bank + i. */
  readonly banks = new BigUint64Array(KVM_MAX_MCE_BANKS * 4);
  readonly ctl2 = new BigUint64Array(KVM_MAX_MCE_BANKS);
  hwcr = 0n;

  get bankNum(): number {
    return Number(this.mcgCap & MCG_BANKCNT_MASK);
  }
}

/** kvm_caps.supported_mce_cap of the modelled host. */
export function supportedMceCap(module: KvmModule): bigint {
  return module.vmxMce ? KVM_MCE_CAP_SUPPORTED_VMX : KVM_MCE_CAP_SUPPORTED;
}

/** KVM_X86_GET_MCE_CAP_SUPPORTED on /dev/kvm: the u64 written to the user's pointer. */
export function devGetMceCapSupported(module: KvmModule, arg: UserArg): number {
  setU64(arg.user(8), 0, supportedMceCap(module));
  return 0;
}

/** kvm_apic_after_set_mcg_cap(): LVT CMCI exists with MCG_CMCI_P (a new entry starts masked). */
function apicAfterSetMcgCap(v: KvmVcpu): void {
  v.lapic?.setNrLvtEntries(KVM_APIC_MAX_NR_LVT_ENTRIES - (v.mce.mcgCap & MCG_CMCI_P ? 0 : 1));
}

/** kvm_vcpu_ioctl_x86_setup_mce(). */
export function vcpuSetupMce(v: KvmVcpu, arg: UserArg): number {
  const cap = getU64(arg.user(8), 0);
  const n = Number(cap & MCG_BANKCNT_MASK);
  const hex = `0x${cap.toString(16)}`;
  if (n === 0 || n > KVM_MAX_MCE_BANKS) throw kerr('EINVAL', `mcg_cap ${hex} asks for ${n} MCE banks; KVM offers 1 to ${KVM_MAX_MCE_BANKS}`);
  const supported = supportedMceCap(v.kvm.module);
  const extra = cap & ~(supported | MCG_BANKCNT_MASK | MCG_EXT_CNT_MASK);
  if (extra) throw kerr('EINVAL', `mcg_cap ${hex} has bits 0x${extra.toString(16)} that KVM_X86_GET_MCE_CAP_SUPPORTED (0x${supported.toString(16)}) does not offer`);
  const m = v.mce;
  m.mcgCap = cap;
  if (cap & MCG_CTL_P) m.mcgCtl = ALL_ONES;
  for (let b = 0; b < n; b++) {
    m.banks[b * 4] = ALL_ONES;
    if (cap & MCG_CMCI_P) m.ctl2[b] = 0n;
  }
  apicAfterSetMcgCap(v);
  return 0;
}

/** is_ucna(): uncorrected, no action required: no MCG_STATUS, none of PCC/S/AR, VAL and UC. */
function isUcna(status: bigint, mcgStatus: bigint): boolean {
  return mcgStatus === 0n && (status & (MCI_STATUS_PCC | MCI_STATUS_S | MCI_STATUS_AR)) === 0n && (status & MCI_STATUS_VAL) !== 0n && (status & MCI_STATUS_UC) !== 0n;
}

/** kvm_vcpu_ioctl_x86_set_mce() (and kvm_vcpu_x86_set_ucna). */
export function vcpuSetMce(v: KvmVcpu, arg: UserArg): number {
  const b = arg.user(kvm_x86_mce.size);
  let status = getU64(b, MCE_STATUS);
  const addr = getU64(b, MCE_ADDR);
  const misc = getU64(b, MCE_MISC);
  const mcgStatus = getU64(b, MCE_MCG_STATUS);
  const bank = b[MCE_BANK]!;
  const m = v.mce;
  if (bank >= m.bankNum) throw kerr('EINVAL', `kvm_x86_mce.bank ${bank} is not below the vCPU's ${m.bankNum} MCE banks (KVM_X86_SETUP_MCE)`);
  if (!(status & MCI_STATUS_VAL)) throw kerr('EINVAL', `kvm_x86_mce.status 0x${status.toString(16)} has no MCI_STATUS_VAL (bit 63)`);
  const at = bank * 4;
  const banks = m.banks;
  if (isUcna(status, mcgStatus)) {
    banks[at + 1] = status;
    banks[at + 2] = addr;
    banks[at + 3] = misc;
    m.mcgStatus = mcgStatus;
    if (m.mcgCap & MCG_CMCI_P && m.ctl2[bank]! & MCI_CTL2_CMCI_EN) v.lapic?.localDeliver(APIC_LVTCMCI);
    return 0;
  }
  const uc = (status & MCI_STATUS_UC) !== 0n;
  // MCG_CTL (when it exists) or the bank's MCi_CTL not all ones: uncorrected errors are not reported.
  if (uc && m.mcgCap & MCG_CTL_P && m.mcgCtl !== ALL_ONES) return 0;
  if (uc && banks[at] !== ALL_ONES) return 0;
  const valid = (banks[at + 1]! & MCI_STATUS_VAL) !== 0n;
  if (uc) {
    // A machine check while one is in progress, or with machine checks disabled, shuts the CPU down.
    if (m.mcgStatus & MCG_STATUS_MCIP || !(getU64(v.sregs, SREGS_CR4) & BigInt(X86_CR4_MCE))) {
      v.tripleFault = true;
      return 0;
    }
    if (valid) status |= MCI_STATUS_OVER;
    banks[at + 2] = addr;
    banks[at + 3] = misc;
    m.mcgStatus = mcgStatus;
    banks[at + 1] = status;
    // kvm_queue_exception(vcpu, MC_VECTOR): over a pending or injected #DF a triple fault (kvm_multiple_exception);
    // otherwise #MC, benign-class, replaces what was there.
    if ((v.excPending || v.excInjected) && v.excNr === DF_VECTOR) v.tripleFault = true;
    else kvmQueueException(v, MC_VECTOR, false);
  } else if (!valid || !(banks[at + 1]! & MCI_STATUS_UC)) {
    if (valid) status |= MCI_STATUS_OVER;
    banks[at + 2] = addr;
    banks[at + 3] = misc;
    banks[at + 1] = status;
  } else {
    banks[at + 1] = banks[at + 1]! | MCI_STATUS_OVER;
  }
  return 0;
}

/** The MSRs this file handles (MCG_EXT_CTL only on a VMX host). */
export function isMceMsr(v: KvmVcpu, index: number): boolean {
  return (
    index === MSR_IA32_P5_MC_ADDR || index === MSR_IA32_P5_MC_TYPE || index === MSR_K7_HWCR ||
    (index >= MSR_IA32_MCG_CAP && index <= MSR_IA32_MCG_CTL) ||
    (index >= MSR_IA32_MC0_CTL && index < MSR_MCx_CTL_END) ||
    (index >= MSR_IA32_MC0_CTL2 && index < MSR_MCx_CTL2_END) ||
    (index === MSR_IA32_MCG_EXT_CTL && v.kvm.module.vmxMce)
  );
}

/** get_msr_mce(), HWCR, vmx_get_msr(MCG_EXT_CTL): the value, or 1 (invalid) for an isMceMsr() index. */
export function mceGetMsr(v: KvmVcpu, index: number, host: boolean): bigint | number {
  const m = v.mce;
  switch (index) {
    case MSR_IA32_P5_MC_ADDR:
    case MSR_IA32_P5_MC_TYPE:
      return 0n;
    case MSR_IA32_MCG_CAP:
      return m.mcgCap;
    case MSR_IA32_MCG_STATUS:
      return m.mcgStatus;
    case MSR_IA32_MCG_CTL:
      return !(m.mcgCap & MCG_CTL_P) && !host ? MSR_RET_INVALID : m.mcgCtl;
    case MSR_K7_HWCR:
      return m.hwcr;
    case MSR_IA32_MCG_EXT_CTL:
      // The guest needs FEATURE_CONTROL.LMCE_ENABLED, which the model never sets.
      return host ? m.mcgExtCtl : MSR_RET_INVALID;
  }
  if (index < MSR_IA32_MC0_CTL) {
    if (index - MSR_IA32_MC0_CTL2 >= m.bankNum) return MSR_RET_INVALID;
    if (!(m.mcgCap & MCG_CMCI_P) && !host) return MSR_RET_INVALID;
    return m.ctl2[index - MSR_IA32_MC0_CTL2]!;
  }
  if (index - MSR_IA32_MC0_CTL >= 4 * m.bankNum) return MSR_RET_INVALID;
  return m.banks[index - MSR_IA32_MC0_CTL]!;
}

/** can_set_mci_status(): an AMD(-compatible) guest with HWCR.McStatusWrEn. */
function canSetMciStatus(v: KvmVcpu): boolean {
  return v.guestCpuid.isAmdCompatible() && (v.mce.hwcr & HWCR_MC_STATUS_WR_EN) !== 0n;
}

/** set_msr_mce(), HWCR, vmx_set_msr(MCG_EXT_CTL): 0, 1 (invalid) or KVM_MSR_RET_UNSUPPORTED; nothing changes unless 0. */
export function mceSetMsr(v: KvmVcpu, index: number, data: bigint, host: boolean): number {
  const m = v.mce;
  switch (index) {
    case MSR_IA32_P5_MC_ADDR:
    case MSR_IA32_P5_MC_TYPE:
    case MSR_IA32_MCG_CAP:
      // Read-only: kvm_set_msr_common does not know them.
      return KVM_MSR_RET_UNSUPPORTED;
    case MSR_IA32_MCG_STATUS:
      m.mcgStatus = data;
      return 0;
    case MSR_IA32_MCG_CTL:
      if (!(m.mcgCap & MCG_CTL_P) && (data !== 0n || !host)) return MSR_RET_INVALID;
      if (data !== 0n && data !== ALL_ONES) return MSR_RET_INVALID;
      m.mcgCtl = data;
      return 0;
    case MSR_K7_HWCR: {
      const d = data & ~HWCR_IGNORED;
      if (d & ~(HWCR_MC_STATUS_WR_EN | HWCR_TSC_FREQ_SEL)) return MSR_RET_INVALID;
      m.hwcr = d;
      return 0;
    }
    case MSR_IA32_MCG_EXT_CTL:
      if (!host || data & ~MCG_EXT_CTL_LMCE_EN) return MSR_RET_INVALID;
      m.mcgExtCtl = data;
      return 0;
  }
  if (index < MSR_IA32_MC0_CTL) {
    const bank = index - MSR_IA32_MC0_CTL2;
    if (bank >= m.bankNum) return MSR_RET_INVALID;
    if (!(m.mcgCap & MCG_CMCI_P) && (data !== 0n || !host)) return MSR_RET_INVALID;
    // A 1 in a reserved bit is #GP.
    if (data & ~(MCI_CTL2_CMCI_EN | MCI_CTL2_CMCI_THRESHOLD_MASK)) return MSR_RET_INVALID;
    m.ctl2[bank] = data;
    return 0;
  }
  const off = index - MSR_IA32_MC0_CTL;
  if (off >= 4 * m.bankNum) return MSR_RET_INVALID;
  // MCi_CTL: 0 or all ones; Linux clears bit 10 of bank 4 on AMD K8 (GART TLB), UnixWare bit 0 of bank 1.
  if (off % 4 === 0 && data !== 0n && (data | (1n << 10n) | 1n) !== ALL_ONES) return MSR_RET_INVALID;
  // MCi_STATUS: every CPU takes 0; AMD takes other values with HWCR.McStatusWrEn.
  if (!host && index % 4 === MSR_IA32_MC0_STATUS % 4 && data !== 0n && !canSetMciStatus(v)) return MSR_RET_INVALID;
  m.banks[off] = data;
  return 0;
}
